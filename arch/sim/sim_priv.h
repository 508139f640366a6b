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
	uint8_t *scratch;	   /* the frame being sent, linear */
	uint64_t tx_busy_until_ns; /* serialisation queue (rate fault) */
	struct sim_held held[SIM_HELD_MAX];
	uint32_t n_held;

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
/* Puts the frame in p->scratch (len bytes) on the link: MTU check, faults,
 * pcap, scheduling. No allocation. */
void sim_transmit(struct usn_sim_port *p, uint32_t len);
/* Moves every frame due by now into its RX queue, in time order. */
void sim_pump(struct usn_sim_link *l);
/* Pushes buffered pcap records to the file, if any. */
void sim_pcap_flush(struct usn_sim_link *l);
void sim_store_put(struct usn_sim_port *p, uint32_t slot);
/* Takes the oldest delivered frame of queue q: its store index, or -1. */
int64_t sim_rxq_peek(const struct usn_sim_port *p, uint16_t q);
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

#endif
