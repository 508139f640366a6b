/* libusnet simulated link, private: the link, port and frame-store structures
 * shared by arch/sim/sim_link.c (clock, faults, delivery, pcap),
 * sim_port.c (buffer pool, HAL operations) and sim_offload.c (sums, RSS). */
#ifndef USN_SIM_PRIV_H
#define USN_SIM_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "usn_sim.h"

#define SIM_MAX_QUEUES 16
#define SIM_HELD_MAX 4		     /* frames a port may hold back for reordering */
#define SIM_REORDER_TIMEOUT_US 1000u /* a held frame goes out after 1 ms at most */
#define SIM_META_BYTES 64u	     /* struct usn_buf, rounded to a cache line */
#define SIM_ETH_HLEN 14u
#define SIM_START_US 1000000u
#define SIM_REGIONS_MAX 16 /* zero-copy TX regions (ops->tx_region) a port takes */

/* The owner word in usn_buf.backend_u16: where a pool buffer is. */
#define SIM_BUF_FREE 0xf5eeu
#define SIM_BUF_OUT 0xa110u

/* A frame waiting in a receiver's store: in flight (an event in the link's
 * heap names it) or delivered (its index sits in an RX queue). */
struct sim_frame_meta {
	uint32_t len;
	uint32_t rss_hash;
	uint16_t queue;
	bool has_hash;
};

struct sim_rxq {
	uint32_t *slots; /* store indices, a ring of cfg.rx_ring */
	uint32_t head, count;
};

/* A frame the sender holds back (reorder fault) until its next frame or
 * until SIM_REORDER_TIMEOUT_US after it would have arrived. */
struct sim_held {
	uint64_t natural_us; /* when it would have arrived, not held */
	uint32_t len;
	uint8_t copies; /* 2 when also duplicated */
	uint8_t *bytes;
};

struct usn_sim_port {
	struct usn_hal hal;
	struct usn_sim_link *link;
	uint16_t index; /* in link->ports */
	struct usn_sim_port_config cfg;
	struct usn_sim_faults faults;
	uint64_t rng;	    /* this port's fault stream, from the link seed */
	uint64_t key_rng;   /* its RSS key and random source, another stream of the seed */
	uint64_t owner_tag; /* usn_buf.backend of this pool's buffers */

	/* Buffer pool: n_bufs slots of stride bytes, a stack of free ones. */
	uint8_t *pool_mem;
	size_t stride;
	struct usn_buf **free_stack;
	uint32_t n_free;

	/* Frame store, preallocated: in-flight and delivered frames. */
	uint32_t max_frame; /* largest frame this port sends or accepts */
	uint32_t n_store;
	uint8_t *store;
	struct sim_frame_meta *store_meta;
	uint32_t *store_free;
	uint32_t store_n_free;
	struct sim_rxq rxq[SIM_MAX_QUEUES];

	/* Sender side. */
	uint8_t *scratch;	   /* the frame being sent, linear (tso_max + headers with TX_TSO) */
	uint32_t scratch_cap;
	usn_sim_tx_tap_fn tap;
	void *tap_arg;
	uint64_t tx_busy_until_ns; /* serialisation queue (rate fault) */
	struct sim_held held[SIM_HELD_MAX];
	uint32_t n_held;
	/* Application memory it reads in place (USN_BUF_TX_EXT). */
	struct {
		uintptr_t base, end;
	} region[SIM_REGIONS_MAX];
	uint8_t n_regions;

	struct usn_sim_port_stats st;
};

/* A delivery: frame `slot` of port `port` reaches its RX queue at at_us. */
struct sim_event {
	uint64_t at_us;
	uint64_t seq; /* ties break in send order */
	uint32_t slot;
	uint16_t port;
};

struct usn_sim_link {
	uint64_t seed;
	uint64_t now_us;
	uint64_t seq;
	struct usn_sim_port **ports;
	uint16_t n_ports;
	struct sim_event *heap; /* min-heap on (at_us, seq) */
	uint32_t heap_n, heap_cap;
	FILE *pcap;
	bool pcap_dirty;
};

/* sim_link.c */
uint64_t sim_rng_next(uint64_t *state);
/* Puts the frame b (len bytes; the faults may flip a bit in it) on the
 * link: MTU check, faults, pcap, scheduling. No allocation. */
void sim_transmit(struct usn_sim_port *p, uint8_t *b, uint32_t len);
/* Moves every frame due by now into its RX queue, in time order. */
void sim_pump(struct usn_sim_link *l);
/* Pushes buffered pcap records to the file, if any. */
void sim_pcap_flush(struct usn_sim_link *l);
void sim_store_put(struct usn_sim_port *p, uint32_t slot);
/* Takes the oldest delivered frame of queue q: its store index, or -1. */
int64_t sim_rxq_peek(const struct usn_sim_port *p, uint16_t q);
/* The store index of the k-th delivered frame of queue q (0: the oldest), or -1. */
int64_t sim_rxq_peek_at(const struct usn_sim_port *p, uint16_t q, uint32_t k);
void sim_rxq_pop(struct usn_sim_port *p, uint16_t q);
static inline uint8_t *sim_store_bytes(const struct usn_sim_port *p, uint32_t slot)
{
	return p->store + (size_t)slot * p->max_frame;
}

/* sim_port.c */
void sim_port_free(struct usn_sim_port *p);

/* sim_offload.c */
/* Fills the IPv4 header and/or TCP sums the sender asked the port for. */
void sim_offload_tx(uint8_t *frame, uint32_t len, uint16_t buf_flags, uint32_t offloads, uint8_t l2_len,
		    uint8_t l3_len);
/* USN_BUF_RX_* checksum flags for a received frame. */
uint16_t sim_offload_rx_flags(const uint8_t *frame, uint32_t len);
/* The RSS hash of an IPv4/TCP frame under the port's key; false when it
 * has no 4-tuple. */
bool sim_offload_rss(const uint8_t *frame, uint32_t len, uint16_t key, uint32_t *hash);

/* An IPv4/TCP frame as TSO and LRO see it (offsets into the frame). */
struct sim_tcp {
	uint32_t l3, ihl, tot; /* IPv4 header offset, its length, total length */
	uint32_t l4, thl;      /* TCP header offset and length */
	uint32_t pay, pay_len; /* payload offset and length */
	uint32_t src, dst, seq, ack;
	uint16_t sport, dport, id, window;
	uint8_t flags, ttl, tos;
	bool df, ts; /* DF set; the options are exactly NOP NOP TS */
	uint32_t tsval, tsecr;
};
/* Parses an untagged IPv4/TCP frame (not a fragment, no IP options, the
 * packet filling the frame); false for anything else. */
bool sim_tcp_parse(const uint8_t *frame, uint32_t len, struct sim_tcp *t);
/* Whether a TSO port accepts this frame as the contract says (hal.h
 * USN_BUF_TX_TCP_SEG): headers where l2/l3/l4_len say, the TCP sum field
 * holding the pseudo-header sum of the whole packet, at most tso_max. */
bool sim_tso_valid(const uint8_t *frame, uint32_t len, uint8_t l2, uint8_t l3, uint8_t l4, uint16_t seg_size,
		   uint32_t tso_max, struct sim_tcp *t);
/* Builds segment i of the TSO frame in place (its headers, from hdr, the
 * frame's first t->pay bytes as sent, over the end of segment i - 1): seg_size
 * payload bytes or what is left, IPv4 total length, id + i and both sums;
 * FIN and PSH on the last only, CWR on the first only, as Linux's
 * tcp_gso_segment. *out is where it starts; returns its length. Segments
 * go in order, each on the link before the next is built. */
uint32_t sim_tso_segment(uint8_t *frame, const struct sim_tcp *t, const uint8_t *hdr, uint16_t seg_size,
			 uint32_t i, uint8_t **out);
/* LRO: whether next may be appended to a coalesced frame whose first
 * segment is first and whose latest is last (in-order, same flow and
 * flags, ACK not going back, timestamps consistent), within max_ip bytes. */
bool sim_lro_follows(const struct sim_tcp *first, const struct sim_tcp *last, const struct sim_tcp *next,
		     uint32_t merged_ip, uint32_t max_ip);
/* Rewrites the first segment's headers for the coalesced frame: IPv4
 * total length and sum, the latest ACK and window, PSH if any had it. */
void sim_lro_fix_headers(uint8_t *frame, const struct sim_tcp *first, const struct sim_tcp *last,
			 uint32_t total_ip);
/* Whether both sums of a TCP frame check out. */
bool sim_tcp_sums_good(const uint8_t *frame, const struct sim_tcp *t);

#endif
