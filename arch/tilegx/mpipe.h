/* libusnet TILE-Gx backend: the HAL (include/usnet/hal.h) on one mPIPE
 * link through gxio. Private to arch/tilegx and its tests; programs use
 * include/usnet/backend.h. Built against the MDE on TILE-Gx, or against the
 * x86 emulation in arch/tilegx/emu/ for tests. */
#ifndef USN_TILEGX_MPIPE_H
#define USN_TILEGX_MPIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gxio_subset.h"
#include "usnet/hal.h"

#define USN_GX_MAX_WORKERS 36 /* one per tile of a TILE-Gx36 */
#define USN_GX_HEADROOM 32    /* bytes before data in every buffer (< 120: a chained
				 packet's first offset, 8 + headroom, must fit 7 bits) */
#define USN_GX_META_BYTES 128 /* the usn_buf of each buffer sits this far before it */
#define USN_GX_MAX_STACK_PAGES 16 /* pages one buffer stack can register */
#define USN_GX_IQUEUE_DEFAULT 512  /* 32 KB: a NotifRing in one 64 KB base page */
#define USN_GX_EQUEUE_DEFAULT 2048 /* 32 KB: an eDMA ring in one 64 KB base page */
#define USN_GX_BUFS_EXTRA 512      /* per worker, beyond its NotifRing: TX and held frames */

struct usn_gxemu;

struct usn_gx_config {
	const char *link;        /* mPIPE link name, e.g. "xgbe1" (required) */
	uint16_t n_workers;      /* queues: one NotifRing + iqueue each; eDMA rings shared
				    when there are more workers than rings [1] */
	const int *cpus;         /* each worker's dataplane CPU; NULL: the nth dataplane CPU */
	uint16_t mtu;            /* IPv4 MTU, 68..9000 [1500] */
	/* 0: no chains: buffer stacks of 128..1664 B, 4096 B and 16384 B as
	 * the MTU needs (never 10368 B: see mpipe.c), and the classifier picks
	 * the smallest that holds the whole frame; TX buffers come from the
	 * 1664 B stack (chained for jumbo frames). 128, 256, 512, 1024 or
	 * 1664: one stack of that class takes every frame, chained across as
	 * many buffers as it needs; TX may chain too (TX buffers of 128-byte
	 * chains come from a 256-byte stack: the stack's headers need 128
	 * bytes in the first buffer). */
	uint16_t chain_buf_size;
	/* Buffers in each stack. 0: n_workers * (iqueue_entries + 512), cut
	 * to what 16 pages of the largest page size hold (the jumbo stack at
	 * many workers); an explicit count that does not fit is an error. */
	uint32_t bufs_per_stack;
	uint32_t iqueue_entries; /* 128, 512, 2048 or 65536 [512] */
	uint32_t equeue_entries; /* 512, 2048, 8192 or 65536 [2048] */
	struct usn_gxemu *emu;   /* the emulated board (x86 only; ignored on TILE-Gx) */
};

/* The memory a configuration needs, computed before anything is mapped
 * (usn_gx_plan) and printed at start (usn_gx_plan_print). */
struct usn_gx_plan_stack {
	uint32_t buf_bytes; /* the size class */
	uint32_t bufs;
	bool capped;        /* fewer than the default: 16 pages of the largest size are full */
	size_t bytes;       /* stack words + (128 B metadata + buffer) per buffer */
	size_t page;        /* page size it is mapped and registered in */
	unsigned pages;
};

struct usn_gx_plan {
	uint16_t n_workers, mtu, chain_buf_size;
	unsigned n_stacks, tx_stack; /* stack[tx_stack] gives TX buffers */
	struct usn_gx_plan_stack stack[8];
	uint32_t iqueue_entries, equeue_entries;
	size_t iq_bytes, iq_page, eq_bytes, eq_page;
	unsigned n_erings;  /* eDMA rings wanted: min(workers, 24) */
	uint32_t snf_bytes; /* 0: the rings' default (1536) */
	struct {
		size_t size;
		unsigned long count;
	} pages[4]; /* pages of each size, largest first */
	unsigned n_page_sizes;
	size_t total_bytes;
};

/* The most buffers of buf_bytes one stack can hold: 16 pages of the
 * largest page size the OS offers. */
uint32_t usn_gx_stack_cap(size_t buf_bytes);
/* Checks cfg and fills plan. 0, or -1 with a one-line reason in msg. */
int usn_gx_plan(const struct usn_gx_config *cfg, struct usn_gx_plan *plan, char *msg, size_t msg_len);
void usn_gx_plan_print(const struct usn_gx_plan *plan, FILE *out);

struct usn_gx_port_stats {
	uint64_t rx_frames, rx_bytes, rx_err_desc, rx_buf_err, rx_bad_chain;
	uint64_t tx_frames, tx_bytes, tx_no_slot, tx_bad_buf;
	uint64_t alloc_fail;
};

struct usn_gx_port;

/* Opens the link and sets up mPIPE as described in mpipe.c. NULL on
 * failure, with a one-line reason in msg. The plan it follows is
 * usn_gx_port_plan's. */
struct usn_gx_port *usn_gx_port_create(const struct usn_gx_config *cfg, char *msg, size_t msg_len);
/* Closes the link (without forcing it down: it goes down only if nobody
 * else has it open) and frees everything; buffers the stack still holds
 * are lost. */
void usn_gx_port_destroy(struct usn_gx_port *p);
struct usn_hal *usn_gx_port_hal(struct usn_gx_port *p);
/* The dataplane CPU worker i runs on. */
int usn_gx_port_worker_cpu(const struct usn_gx_port *p, uint16_t worker);
/* Summed over workers (each worker's counters are its own). */
void usn_gx_port_stats(const struct usn_gx_port *p, struct usn_gx_port_stats *out);
/* For tests: the mPIPE context and the buffer stacks' indices. */
gxio_mpipe_context_t *usn_gx_port_context(struct usn_gx_port *p);
unsigned usn_gx_port_stacks(const struct usn_gx_port *p, unsigned *idx, unsigned max);
/* Buffers stack idx (an mPIPE index from usn_gx_port_stacks) was filled with. */
uint32_t usn_gx_port_stack_bufs(const struct usn_gx_port *p, unsigned idx);
/* eDMA rings in use (workers share them round-robin) and worker i's. */
unsigned usn_gx_port_erings(const struct usn_gx_port *p);
unsigned usn_gx_port_worker_ering(const struct usn_gx_port *p, uint16_t worker);
const struct usn_gx_plan *usn_gx_port_plan(const struct usn_gx_port *p);

/* Backend arguments (include/usnet/backend.h), those before "--":
 *   --link NAME     mPIPE link [xgbe1]
 *   --cpus LIST     dataplane CPUs for the workers, e.g. "1-35" or "2,4,6-9"
 *   --chain BYTES   chained buffers of that class (128..1664); 0: none [0]
 *   --bufs N        buffers per stack [workers * (NotifRing + 512), within 16 pages]
 *   --mtu N         IPv4 MTU [1500]
 * Fills cfg (cfg->cpus points into cpus, USN_GX_MAX_WORKERS entries) and
 * returns how many arguments were consumed ("--" included), or -errno
 * with a one-line message. The link string points into argv. */
int usn_gx_args_parse(int argc, char **argv, uint16_t n_queues, struct usn_gx_config *cfg, int *cpus, char *msg,
		      size_t msg_len);

#endif
