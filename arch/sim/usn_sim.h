/* libusnet simulated link: a HAL backend in memory, for tests and in-process
 * benchmarks. Ports on one link see each other's frames (unicast by
 * destination MAC, broadcast to all). Deterministic: a seed drives every
 * fault, each port's RSS key and its "random" source (so a stack's keys
 * too: the sim is for tests, never a real port), and the clock is virtual,
 * moved only by usn_sim_link_advance. */
#ifndef USN_SIM_H
#define USN_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usnet/hal.h"

struct usn_sim_link;
struct usn_sim_port;

/* Faults applied to the frames a port sends (one direction). Rates are
 * probabilities 0..1 per frame. */
struct usn_sim_faults {
	double loss;
	double duplicate;
	double reorder;  /* the frame is held back behind the next one(s) */
	double corrupt;  /* one random bit flipped */
	uint32_t delay_us;  /* one-way latency */
	uint32_t jitter_us; /* uniform extra latency, 0..jitter_us */
	uint64_t rate_bps;  /* serialisation rate, 0: infinite */
	uint16_t mtu;       /* frames with an IPv4 packet larger than this are dropped; 0: none */
};

struct usn_sim_port_config {
	uint8_t mac[6];
	uint16_t n_queues;   /* [1]; with more, RSS spreads flows by usn_rss_hash */
	uint16_t rss_key;    /* the port's RSS key (hal.h); 0: drawn from the link's seed */
	uint16_t buf_size;   /* data bytes per buffer [2048]; small values make chains */
	uint16_t headroom;   /* [128] */
	uint32_t n_bufs;     /* buffers in this port's pool [4096] */
	uint16_t mtu;        /* [1500] */
	uint32_t offloads;   /* USN_HAL_OFF_* to advertise (RX_CSUM, TX_*, RSS, TX_TSO, RX_LRO emulated;
			      * without TX_MULTISEG a chained TX frame is refused, tx_chain_refused;
			      * TX_EXT reads external buffers in their regions, and stops the test on
			      * one outside them, at a frame's head or without the offload) */
	uint32_t rx_ring;    /* frames waiting per RX queue before tail drop [1024] */
	uint32_t tso_max;    /* with TX_TSO or RX_LRO: largest IPv4 packet cut or coalesced [65535] */
	uint16_t tso_max_segs; /* with TX_TSO: most pieces it cuts a frame into (more stops a test) */
	uint16_t rss_other_queue; /* with RSS: the queue of the frames it does not hash (all but
				   * IPv4/TCP: ARP, IPv6...) [0]; another one stands for a classifier
				   * that places them elsewhere, as the TILE-Gx emulation's MAC hash */
};

struct usn_sim_link *usn_sim_link_create(uint64_t seed);
/* Destroys the link and its ports. */
void usn_sim_link_destroy(struct usn_sim_link *l);

struct usn_sim_port *usn_sim_port_create(struct usn_sim_link *l, const struct usn_sim_port_config *cfg);
struct usn_hal *usn_sim_port_hal(struct usn_sim_port *p);
void usn_sim_port_set_faults(struct usn_sim_port *p, const struct usn_sim_faults *f);

/* The virtual clock, microseconds; starts at 1 s. */
uint64_t usn_sim_link_now_us(const struct usn_sim_link *l);
void usn_sim_link_advance(struct usn_sim_link *l, uint64_t us);
/* Time of the next frame still in flight, UINT64_MAX if none. */
uint64_t usn_sim_link_next_delivery_us(const struct usn_sim_link *l);

/* Writes every frame that crosses the link to a pcap file (tcpdump can
 * read it). Returns 0 or -errno. */
int usn_sim_link_pcap_open(struct usn_sim_link *l, const char *path);

/* Test access: put raw bytes on the link as if `from` sent them (faults
 * apply), and take the next raw frame delivered to `p` when nobody polls it
 * through the HAL (a capture port: returns its length, 0 if none). */
int usn_sim_port_send_raw(struct usn_sim_port *from, const void *frame, size_t len);
size_t usn_sim_port_recv_raw(struct usn_sim_port *p, void *frame, size_t cap);

/* Test access: fn sees every frame handed to the port's tx_burst (whole
 * chain, metadata as the stack set it), before offloads, TSO and faults.
 * NULL removes it. */
typedef void (*usn_sim_tx_tap_fn)(void *arg, const struct usn_buf *frame);
void usn_sim_port_set_tx_tap(struct usn_sim_port *p, usn_sim_tx_tap_fn fn, void *arg);

struct usn_sim_port_stats {
	uint64_t tx_frames, rx_frames, lost, duplicated, reordered, corrupted, rx_ring_full, mtu_dropped;
	uint64_t tx_chain_refused; /* chained frames sent to a port without USN_HAL_OFF_TX_MULTISEG */
	/* TX_TSO: large frames cut, and the frames they became; RX_LRO:
	 * coalesced frames delivered, and the frames merged into them. */
	uint64_t tso_frames, tso_segs, lro_frames, lro_merged;
	uint64_t tx_ext_bufs, tx_ext_bytes; /* TX_EXT: external buffers sent, and their bytes */
	uint32_t tx_max_ip; /* largest frame put on the wire (after TSO), bytes after the Ethernet header */
	uint32_t bufs_free; /* buffers back in this port's pool */
	uint32_t bufs_total;
};
void usn_sim_port_stats(const struct usn_sim_port *p, struct usn_sim_port_stats *out);

#endif
