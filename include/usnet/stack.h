/* libusnet stack and workers: one stack per port, one worker per core/queue.
 * A worker polls its queue and runs everything (protocols, timers, the
 * application's handlers) to completion on its own core; workers share no
 * mutable state, and talk only through single-producer rings. */
#ifndef USNET_STACK_H
#define USNET_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usnet/hal.h"
#include "usnet/stats.h"

struct usn_stack;
struct usn_worker;

/* An IPv6 address with its on-link prefix (network order, 16 bytes). */
#define USN_IPV6_ADDRS_MAX 4
struct usn_ipv6_addr {
	uint8_t addr[16];
	uint8_t prefix_len; /* 1..128 [64] */
};

/* Configuration. Zero in any sizing field means its default (in brackets).
 * Addresses are in host order. */
struct usn_stack_config {
	uint32_t ip;          /* the interface address (required) */
	uint8_t prefix_len;   /* on-link prefix, 1..32 [24] */
	uint32_t gateway;     /* next hop off-link; 0: none (off-link is unreachable) */
	uint8_t mac[6];       /* all zero: the port's address */
	uint16_t n_workers;   /* 1..hal->n_queues [hal->n_queues] */
	uint16_t mtu;         /* IPv4 MTU, 68..hal->mtu [hal->mtu] */

	/* IPv6 (RFC 8200), off unless ipv6 is set or a global address given:
	 * then the stack also has a link-local address made from its MAC
	 * (modified EUI-64, RFC 4291 2.5.1), runs duplicate address detection
	 * on every address at start (RFC 4862 5.4; an address found in use is
	 * never used, and one line on stderr says so), advertises them (an
	 * unsolicited neighbour advertisement), answers neighbour
	 * solicitations and echo requests, and carries UDP (usnet/udp.h) and
	 * TCP (usnet/tcp.h). The neighbour cache is sized and timed by the
	 * arp_* fields below. */
	bool ipv6;
	bool ipv6_no_dad; /* addresses usable at once (tests; links known to be private) */
	uint8_t n_ip6;    /* global addresses in ip6[] */
	struct usn_ipv6_addr ip6[USN_IPV6_ADDRS_MAX];
	uint8_t gateway6[16]; /* IPv6 next hop off-link (a router's link-local address, say); zero: none */

	/* TCBs per worker, TIME-WAIT included [4096], at most 16777216. Every
	 * table that scales with connections follows it: send descriptors
	 * (tcp_sendq_max), TIME-WAIT (tcp_max_timewait), the connection
	 * table's buckets (a power of two at least this), the timers (in the
	 * TCB). A slot costs 620 bytes of the worker's memory (a 488-byte TCB,
	 * four 32-byte send descriptors, a 4-byte bucket), allocated and
	 * written at start so no page fault or allocation waits on the packet
	 * path: 2.4 MiB at the default, 39 MiB at 65536. The default suits a
	 * small or embedded user; a server sizes it for its load (minimal_ws,
	 * usn_echo and usn_load default to 65536). When no TCB is free, the
	 * oldest TIME-WAIT's is taken, else a SYN is answered with a SYN
	 * cookie (no state) and the connection made from its ACK if a TCB has
	 * come free by then (usnet/stats.h: tcp_syncookies_pool_full,
	 * drop_tcp_cookie_pool_full). */
	uint32_t tcp_max_conns;
	uint32_t tcp_max_listen;   /* listening ports [16] */
	uint32_t tcp_syn_backlog;  /* half-open connections per worker before SYN cookies [1024] */
	uint32_t tcp_max_timewait; /* TIME-WAIT TCBs per worker before the oldest is reused [tcp_max_conns / 4] */
	uint32_t tcp_ooo_max_segs; /* out-of-order segments kept per connection [64] */
	/* Frame buffers the out-of-order queues of one worker may hold together
	 * (small segments are packed several to a buffer; over the budget the
	 * newest is dropped, drop_tcp_ooo_budget) [hal->n_bufs / 4, or 1024
	 * when the port does not say]; at most hal->n_bufs. It follows the
	 * port's buffers, not tcp_max_conns: queued segments sit in frame
	 * buffers, of which a worker has as many whatever its connections. */
	uint32_t tcp_ooo_max_bufs;
	uint32_t tcp_timewait_ms;  /* TIME-WAIT duration (2 MSL) [60000] */
	uint32_t tcp_rcv_wnd;      /* advertised receive window, bytes [262144] */
	uint32_t tcp_delack_ms;    /* delayed-ACK timeout, at most 500 (RFC 9293) [40] */
	uint32_t tcp_rto_min_ms;   /* RFC 6298 floor [200] (RFC says 1000; Linux uses 200) */
	uint32_t tcp_rto_init_ms;  /* RFC 6298 2.1 [1000] */
	uint32_t tcp_rto_max_ms;   /* back-off ceiling [60000] */
	uint32_t tcp_syn_retries;  /* SYN retransmissions before giving up [5] */
	uint32_t tcp_max_retries;  /* data retransmissions before giving up [12] */
	/* Zero-window probes (RFC 9293 3.8.6.1), bounded as Linux bounds them.
	 * A peer that answers them, even with a zero window, is alive (RFC
	 * 1122 4.2.2.17) and is probed for as long as the application keeps
	 * the connection open; one that leaves this many unanswered in a row
	 * is aborted (RST, closed_fn(TIMEOUT)), as Linux's tcp_retries2
	 * [tcp_max_retries, 12: about 6 minutes at the default RTO limits].
	 * Up to 255. */
	uint32_t tcp_probe_retries;
	/* Once the application has closed (usn_tcp_close) with data or its FIN
	 * still waiting for the window, nobody waits on the peer any more: after
	 * this many probes, answered or not, with the window still zero, the
	 * connection is aborted. Otherwise a peer answering with window 0 would
	 * hold the TCB for ever for a few bytes a minute (Linux kills such
	 * orphans too, after tcp_orphan_retries) [8: about 100 s]. Up to 255. */
	uint32_t tcp_orphan_probe_retries;
	uint32_t tcp_sendq_max;    /* send descriptors (send_ref / send_writer) per worker [tcp_max_conns * 4] */
	/* Challenge ACKs (RFC 5961) per worker per second, on average: after
	 * the limit of one per connection per 500 ms, each second's budget is
	 * drawn at random from [limit / 2, limit * 3 / 2), so an attacker
	 * cannot read other connections' use of it (CVE-2016-5696) [1000]. */
	uint32_t tcp_challenge_ack_limit;
	/* Send descriptors one connection may hold [64], at most 65535. Each
	 * connection is sure of tcp_sendq_max / (2 * tcp_max_conns) of them (2
	 * by default); beyond that it draws on the rest, shared, so neither one
	 * connection nor many can leave another without its share. */
	uint32_t tcp_sendq_per_conn;
	bool tcp_no_timestamps;    /* do not offer RFC 7323 timestamps */
	bool tcp_no_sack;          /* do not offer SACK */
	bool tcp_no_wscale;        /* do not offer window scale */
	bool tcp_no_tso;           /* do not hand the port large segments even if it offers TSO */
	bool no_gro;               /* do not merge received TCP segments in software (GRO) */
	/* The stack's secret, from which every key is derived: TCP ISNs, SYN
	 * cookies, timestamp offsets, the connection table's hash, software
	 * steering. All zero: 16 bytes from the port's random source at
	 * start (hal->ops->random). Set it only for reproducible tests. */
	uint32_t tcp_cookie_secret[4];

	/* UDP ports that may be bound at once (usn_udp_bind), each on every
	 * worker: a table per worker made at start [16], at most 65535. */
	uint32_t udp_max_ports;
	/* ICMP and ICMPv6 errors (port unreachable) a worker sends, both
	 * families together, per second, on average [1000], after a burst of
	 * up to icmp_error_burst [50] (Linux's icmp_msgs_per_sec and
	 * icmp_msgs_burst); beyond it they are counted
	 * (icmp_errors_suppressed) and not sent. At most 1000000 each. */
	uint32_t icmp_error_rate;
	uint32_t icmp_error_burst;

	uint32_t arp_entries;      /* ARP cache entries per worker [256] */
	uint32_t arp_timeout_ms;   /* entry lifetime [60000] */
	uint32_t arp_retry_ms;     /* request retry interval [1000] */
	uint32_t arp_retries;      /* requests before resolution fails [3] */
	uint32_t arp_queue_len;    /* frames waiting on resolution, per worker [64] */

	/* Path MTU discovery (RFC 1191): an ICMP "fragmentation needed" whose
	 * quoted segment is in flight lowers the connection's MSS, never below
	 * pmtu_min; each worker remembers the lower MTU per destination for
	 * pmtu_expire_ms, so new connections to it start there. IPv6 has a
	 * cache of its own with the same size and lifetime, never below 1280
	 * (RFC 8201), for TCP over IPv6 to fill. */
	uint32_t pmtu_entries;     /* destinations cached per worker [256] */
	uint32_t pmtu_expire_ms;   /* entry lifetime, then the interface MTU again [600000] */
	uint16_t pmtu_min;         /* the lowest path MTU believed, 68..65535 [552, Linux's min_pmtu] */

	uint32_t bufs_per_worker;  /* frame buffers a worker keeps cached [256] */
	uint32_t idle_backoff_us;  /* usn_worker_run: sleep up to this long when idle (a port with
				    * rx_wait is woken by arriving frames); 0: spin [0] */
	uint32_t timer_hz;         /* timing-wheel ticks per second [1000] */
};

/* Fills `cfg` with zeros (all defaults) and the given address. */
void usn_stack_config_init(struct usn_stack_config *cfg, uint32_t ip, uint8_t prefix_len);

/* Checks cfg against the port; on error returns -EINVAL and writes a
 * one-line message naming the problem into msg. */
int usn_stack_config_check(const struct usn_stack_config *cfg, const struct usn_hal *hal, char *msg, size_t msg_len);

/* Creates the stack and its workers' tables (memory from hal->ops->mem_alloc
 * on each worker's node). All allocation happens here: after it returns, the
 * workers never call malloc. NULL if cfg is invalid, memory is short, or the
 * port's random source fails (then with one line on stderr saying so). */
struct usn_stack *usn_stack_create(struct usn_hal *hal, const struct usn_stack_config *cfg);
/* Frees everything; the workers must have stopped. Buffers still held are
 * returned to the HAL. */
void usn_stack_destroy(struct usn_stack *s);

/* Zero-copy transmission. Declares len bytes at base as application memory
 * that stays mapped and unchanged until the port is closed (after
 * usn_stack_destroy), such as a server's preloaded pages: bytes sent from
 * it by usn_tcp_send_ref may then leave without a copy, the port reading
 * them in place (a NIC by DMA), where the port offers it
 * (USN_HAL_OFF_TX_EXT) and the pieces are large enough (hal.h). The port
 * may read them after sent_fn has reported them acknowledged (a
 * retransmitted copy still queued, a frame in a software link's queue), so
 * the acknowledgement does not free such memory; closing the port does.
 * Call before the workers run. Returns 0; -EOPNOTSUPP if the port copies
 * anyway (not an error: everything still works, with a copy); -ENOSPC
 * beyond USN_TX_REGIONS_MAX (8) regions; -EINVAL; or the port's error (the
 * memory cannot be mapped for it). */
int usn_stack_tx_region(struct usn_stack *s, const void *base, size_t len);

uint16_t usn_stack_workers(const struct usn_stack *s);
/* The worker an IPv4/TCP flow belongs to, either direction (symmetric):
 * the port's RSS (usn_rss_hash with hal->rss_key) where it spreads flows;
 * otherwise worker 0 steers by a SipHash of the 4-tuple keyed with the
 * stack's secret, which no remote host can aim. Host order. */
uint16_t usn_stack_flow_worker(const struct usn_stack *s, uint32_t ip_a, uint16_t port_a, uint32_t ip_b,
			       uint16_t port_b);
/* The same for an IPv6 flow (addresses in network order): the stack's
 * SipHash under software steering; worker 0 on a port with RSS, whose
 * hashing (every backend's here) spreads IPv4 flows only, so IPv6 frames
 * reach queue 0, or are handed to worker 0 by the worker they reach (an
 * IPv6 active open from another worker finds no port and returns NULL). */
uint16_t usn_stack_flow_worker6(const struct usn_stack *s, const uint8_t ip_a[16], uint16_t port_a,
				const uint8_t ip_b[16], uint16_t port_b);
/* The stack's IPv6 addresses: writes up to max of them (link-local first)
 * with their state and returns how many it has. A state is
 * USN_IPV6_TENTATIVE while duplicate address detection runs, then
 * USN_IPV6_PREFERRED (usable) or USN_IPV6_DUPLICATE (in use elsewhere:
 * never used). Any thread. */
enum usn_ipv6_state { USN_IPV6_TENTATIVE = 1, USN_IPV6_PREFERRED, USN_IPV6_DUPLICATE };
unsigned usn_stack_ipv6_addrs(const struct usn_stack *s, struct usn_ipv6_addr *out, enum usn_ipv6_state *state,
			      unsigned max);
struct usn_worker *usn_stack_worker(struct usn_stack *s, uint16_t i);
const struct usn_stack_config *usn_stack_config(const struct usn_stack *s);
/* Sum of every worker's published statistics. Any thread. */
void usn_stack_stats(const struct usn_stack *s, struct usn_stats *out);

uint16_t usn_worker_id(const struct usn_worker *w);
struct usn_stack *usn_worker_stack(struct usn_worker *w);
void usn_worker_set_user(struct usn_worker *w, void *user);
void *usn_worker_user(const struct usn_worker *w);

/* Announces the worker (gratuitous ARP; worker 0 only). Call once, on the
 * worker's thread, before the first poll. */
void usn_worker_start(struct usn_worker *w);
/* One round: read the clock, receive a burst, process every frame to
 * completion, run expired timers, flush transmissions. Returns the frames
 * received. The worker's thread only. */
unsigned usn_worker_poll(struct usn_worker *w);
/* Polls until *stop becomes non-zero, backing off when idle as configured. */
void usn_worker_run(struct usn_worker *w, const volatile int *stop);
/* The worker's clock as of its last poll, microseconds. */
uint64_t usn_worker_now_us(const struct usn_worker *w);
/* Absolute time of the next timer, microseconds; UINT64_MAX if none. */
uint64_t usn_worker_next_deadline_us(const struct usn_worker *w);
/* The worker's own counters: exact, on the worker's thread only. */
const struct usn_stats *usn_worker_stats(const struct usn_worker *w);
/* A copy of the counters the worker last published (every poll round that
 * did work, and when idle). Any thread. */
void usn_worker_stats_snapshot(const struct usn_worker *w, struct usn_stats *out);

#endif
