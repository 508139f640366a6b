/* libusnet worker and stack internals (private, the ground floor): the
 * worker and stack objects every layer reads, and the worker's buffer
 * cache, TX batch, inter-worker messages, memory and clock. A worker owns
 * one queue pair, a buffer cache, a TX batch, a timing wheel, its ARP cache
 * and TCP tables, and its counters; nothing in it is touched by another
 * thread except the published statistics snapshot and the inbound rings.
 * The layers above fill these objects in (lib/stack assembles them, lib/net
 * and lib/tcp hang their state on them); nothing here calls up into them. */
#ifndef USN_WORKER_H
#define USN_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/prof.h"
#include "core/ring.h"
#include "core/timer.h"
#include "usnet/hal.h"
#include "usnet/stack.h"
#include "usnet/stats.h"

#define USN_RX_BURST 32
#define USN_TX_BATCH 64
#define USN_FREE_BATCH 64

struct usn_arp_cache;    /* lib/net/arp.c: opaque here */
struct usn_pmtu_cache;   /* lib/net/pmtu.c: opaque here */
struct usn_nd_cache;     /* lib/net/nd.c: opaque here */
struct usn_tcp_worker;   /* lib/tcp/: opaque here */
struct usn_tcp_shared;   /* lib/tcp/: listeners, read-only once workers run */
struct usn_udp_worker;   /* lib/udp/: the bound ports, opaque here */

struct usn_worker {
	struct usn_stack *stack;
	struct usn_hal *hal;
	uint16_t id;     /* also the HAL queue */
	uint64_t now_us; /* the clock as of this poll round */
	uint64_t now_cycles;

	/* Frame buffers: a local cache refilled and drained in bulk, so the
	 * per-packet path makes no indirect call into the HAL. */
	struct usn_buf **cache;
	uint32_t cache_n, cache_cap;
	uint32_t cache_reserve; /* the last buffers of the cache: control frames only */
	struct usn_buf *tx[USN_TX_BATCH];
	uint16_t tx_n;
	struct usn_buf *to_free[USN_FREE_BATCH];
	uint16_t to_free_n;

	struct usn_wheel wheel;
	struct usn_arp_cache *arp;
	struct usn_pmtu_cache *pmtu;
	struct usn_nd_cache *nd; /* NULL without IPv6 */
	struct usn_tcp_worker *tcp;
	struct usn_udp_worker *udp;
	struct usn_stats stats;
	uint16_t ip_id; /* IPv4 identification, per worker (lib/net/ipv4.c) */
	/* ICMP errors' token bucket (lib/net/icmp_error.c): credit in
	 * millionths of a message, refilled from the clock. */
	uint64_t icmp_err_credit;
	uint64_t icmp_err_last_us;

	/* Inter-worker messages (software RSS, ARP learned); inbox[i] is
	 * written only by worker i. NULL entries when there is one worker. */
	struct usn_ring **inbox;

	/* Statistics published for other threads: seqlock (odd while writing). */
	_Atomic uint32_t pub_seq;
	struct usn_stats pub;
	uint64_t pub_last_us;

	void *user;
#ifdef USN_PROFILE
	struct usn_prof prof; /* cost centres (core/prof.h) */
#endif
};

/* One of the stack's IPv6 addresses (entry 0: the link-local one). The
 * state (enum usn_ipv6_state) is the only field written once workers run:
 * worker 0's duplicate address detection makes it PREFERRED, any worker
 * that sees the address in use elsewhere DUPLICATE, each by one atomic
 * compare-and-swap from TENTATIVE; readers load it relaxed. */
#define USN_IP6_SLOTS (1 + USN_IPV6_ADDRS_MAX)
struct usn_ip6_if {
	uint8_t addr[16];
	uint8_t prefix_len;
	_Atomic uint8_t state;
};

/* Application memory the port reads in place (usn_stack_tx_region). */
#define USN_TX_REGIONS_MAX 8
#define USN_TX_REGION_NONE 0xffu
struct usn_tx_region {
	uintptr_t base, end;
	uint8_t id; /* the port's number (hal ops->tx_region) */
};

struct usn_stack {
	struct usn_hal *hal;
	struct usn_stack_config cfg; /* defaults filled in */
	uint8_t mac[6];
	uint16_t n_workers;
	bool software_rss; /* more than one worker and the port has no RSS */
	/* More than one worker, IPv6 on, and the port spreads frames by its
	 * own RSS, which this stack reads as IPv4's only: every IPv6 flow is
	 * worker 0's (usn_stack_flow_worker6), so the others hand it the IPv6
	 * frames the port gives them. */
	bool ipv6_to_worker0;
	/* The stack's secret (cfg.tcp_cookie_secret, or the port's random
	 * source at start) and, derived from it, software steering's key. */
	uint64_t secret[2];
	uint64_t steer_key[2];
	struct usn_worker **workers;
	struct usn_tcp_shared *tcp;
	/* IPv6: on when n_ip6 > 0 (the link-local address at least). */
	struct usn_ip6_if ip6[USN_IP6_SLOTS];
	uint8_t n_ip6;
	/* Read-only once the workers run. */
	struct usn_tx_region tx_regions[USN_TX_REGIONS_MAX];
	uint8_t n_tx_regions;
};

/* The port's number of the region holding all of [p, p + len), or
 * USN_TX_REGION_NONE. Once per send_ref call, never per packet. */
static inline uint8_t usn_stack_tx_region_of(const struct usn_stack *s, const void *p, uint32_t len)
{
	uintptr_t a = (uintptr_t)p;
	for (uint8_t i = 0; i < s->n_tx_regions; i++)
		if (a >= s->tx_regions[i].base && a + len <= s->tx_regions[i].end && a + len >= a)
			return s->tx_regions[i].id;
	return USN_TX_REGION_NONE;
}

/* ---- cost centres (USN_PROFILE builds; nothing otherwise) ---- */

/* Charges the time from here to the matching leave to category c (minus
 * what nested enters take). Pairs nest; outside a poll round they do
 * nothing. */
static inline void usn_prof_enter(struct usn_worker *w, enum usn_prof_cat c)
{
#ifdef USN_PROFILE
	usn_prof_push(&w->prof, w->hal, c);
#else
	(void)w;
	(void)c;
#endif
}

static inline void usn_prof_leave(struct usn_worker *w)
{
#ifdef USN_PROFILE
	usn_prof_pop(&w->prof, w->hal);
#else
	(void)w;
#endif
}

/* ---- buffers and transmission (the worker's thread only) ---- */

/* A single-buffer frame with len 0, or NULL (counted as drop_no_buf).
 * The last cache_reserve buffers of the cache are left for
 * usn_worker_buf_alloc_ctl: with the pool nearly dry, data and queued
 * segments stop first, and the worker can still answer. */
struct usn_buf *usn_worker_buf_alloc(struct usn_worker *w);
/* The same for a control frame (a pure ACK, SYN-ACK, RST, challenge ACK):
 * it may take the reserve too. */
struct usn_buf *usn_worker_buf_alloc_ctl(struct usn_worker *w);
/* Releases a whole chain; returned to the HAL in bulk. */
void usn_worker_buf_free(struct usn_worker *w, struct usn_buf *frame);
/* Returns the buffers waiting in the free batch to the HAL (end of a round). */
void usn_worker_free_flush(struct usn_worker *w);
/* Queues a complete frame (frame_len set) for transmission; the batch goes
 * out when full and at the end of the poll round. Takes ownership. If the
 * batch is full and the port still refuses it, the frame is dropped and
 * counted (tx_full). */
void usn_worker_tx(struct usn_worker *w, struct usn_buf *frame);
/* Sends the TX batch now; frames the port refuses (its ring is full) stay
 * in the batch, in order, for the next round. */
void usn_worker_flush(struct usn_worker *w);
/* Frames usn_worker_tx can still take without a drop: a sender that can
 * wait (TCP data) stops when this reaches 0 and goes on next round. */
static inline uint16_t usn_worker_tx_room(const struct usn_worker *w)
{
	return (uint16_t)(USN_TX_BATCH - w->tx_n);
}
/* Whether a frame can be queued now: the batch has room (inline: asked
 * before every segment), or gets it from one flush. false: the port
 * refuses the batch; wait for the next round. */
bool usn_worker_tx_flush_room(struct usn_worker *w);
static inline bool usn_worker_tx_make_room(struct usn_worker *w)
{
	return w->tx_n < USN_TX_BATCH || usn_worker_tx_flush_room(w);
}

/* ---- inter-worker messages ---- */
enum usn_msg_type {
	USN_MSG_FRAME = 1, /* a steered frame: ptr is the usn_buf */
	USN_MSG_ARP,       /* an ARP entry learned: ip, mac */
	USN_MSG_ND,        /* a neighbour (IPv6) learned: ip6, mac */
	USN_MSG_ND_ADV,    /* a solicited advertisement another worker may be waiting for: ip6, mac */
};
struct usn_msg {
	uint8_t type;
	uint8_t mac[6];
	union {
		struct {
			uint32_t ip;
			void *ptr;
		};
		uint8_t ip6[16];
	};
};
/* Posts a message to worker dst; false if its ring is full. */
bool usn_worker_post(struct usn_worker *w, uint16_t dst, const struct usn_msg *m);

/* ---- memory (start-up only) ---- */
/* Zeroed memory for queue q's tables through the HAL (on the queue's NUMA
 * node), or malloc where the port has no allocator. */
void *usn_queue_mem_alloc(struct usn_hal *hal, uint16_t q, size_t size);
void usn_queue_mem_free(struct usn_hal *hal, uint16_t q, void *p, size_t size);
void *usn_worker_mem_alloc(struct usn_worker *w, size_t size);
void usn_worker_mem_free(struct usn_worker *w, void *p, size_t size);

/* ---- clock ---- */
/* The port's clock in microseconds (and its cycles in *cycles if not NULL). */
uint64_t usn_hal_clock_us(struct usn_hal *hal, uint64_t *cycles);
/* Reads the clock into w->now_us and w->now_cycles (once per poll round). */
void usn_worker_read_clock(struct usn_worker *w);

#endif
