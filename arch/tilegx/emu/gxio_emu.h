/* Control of the x86 emulation of the TILE-Gx mPIPE subset (gxio_subset.h):
 * a "board" whose mPIPE links are ports on a simulated link (usn_sim.h), so
 * a stack on the tilegx backend talks to stacks on the sim backend. Test
 * and emulation code only; nothing here exists on a real TILE-Gx.
 *
 * The emulation is meant to refuse what the card refuses: one mPIPE's 24
 * eDMA rings, 32 buffer stacks and 256 NotifRings shared by every context
 * on the board; 16 registered pages per buffer stack, each a whole page of
 * a size the OS offers; ring and stack memory physically contiguous (in one
 * page) and aligned; an edesc's memory fenced before put_at; a buffer never
 * pushed twice. What it cannot know, it says so beside the code. */
#ifndef USN_GXIO_EMU_H
#define USN_GXIO_EMU_H

#include <stdint.h>

#include "../gxio_subset.h"
#include "usn_sim.h"

/* Deliberately broken descriptor handling, for tests that check the backend
 * (and the suites above it) notice. */
enum usn_gxemu_fault {
	USN_GXEMU_FAULT_NONE = 0,
	/* Chained ingress: the buffers are linked in the wrong order (first,
	 * then the rest reversed), as if the DMA engine mislinked them. */
	USN_GXEMU_FAULT_CHAIN_ORDER,
	/* The classifier writes a custom header before L2 but reports an l2
	 * offset of 0 (needs usn_gxemu_set_custom_header > 0). */
	USN_GXEMU_FAULT_L2_OFFSET,
};

/* Ingress errors the card produces, injected into the next frames that
 * arrive (usn_gxemu_inject). */
enum usn_gxemu_inject {
	/* A buffer error: the descriptor has `be` set, no buffer holds the
	 * frame, and its buffer fields are stale (they name a buffer that is
	 * still on its stack, with a chain status that looks valid). The MDE,
	 * Linux and DPDK push nothing back for such a descriptor. */
	USN_GXEMU_INJECT_BE,
	/* The stack runs dry in the middle of a chained frame: `be` is set and
	 * the descriptor names the chain's first buffer. What mPIPE does with
	 * the buffers it already filled is not documented; the emulation puts
	 * them back on their stack itself, so software that pushes nothing on
	 * `be` neither leaks nor pushes twice. Applies to the next chained frame. */
	USN_GXEMU_INJECT_CHAIN_BE,
	/* A chained frame whose CRC turns out bad after the whole chain was
	 * written (cut-through): `ce` is set, the chain is complete and valid,
	 * and every buffer of it is the software's to push back, once. */
	USN_GXEMU_INJECT_CHAIN_CE,
};

struct usn_gxemu_stats {
	uint64_t rx_frames;      /* descriptors written to NotifRings without an error bit */
	uint64_t rx_chained;     /* of which chained */
	uint64_t rx_errors;      /* descriptors written with be, me, tr or ce */
	uint64_t rx_no_rule;     /* frames dropped: link down, too long, or no rule for the channel */
	uint64_t rx_no_stack;    /* frames dropped: no stack for the size, or 255 */
	uint64_t rx_no_buffer;   /* frames lost to an empty stack (a `be` descriptor) */
	uint64_t rx_ring_full;   /* frames dropped: NotifRing without credits */
	uint64_t credit_writes;  /* gxio_mpipe_credit calls (one MMIO store each) */
	uint64_t tx_frames;      /* frames put on the wire */
	uint64_t tx_descs;       /* edescs processed */
	uint64_t tx_hwb_returns; /* buffers pushed back by hwb */
	uint64_t fences;         /* usn_gx_fence (__insn_mf) calls */
	/* What the card would get wrong (the tests want them all 0): */
	uint64_t bad_push;       /* pushes of a buffer already on a stack, or outside the registered pages */
	uint64_t bad_size;       /* hwb returns whose size class differs from the stack's */
	uint64_t bad_desc;       /* malformed edescs (xfer beyond a buffer, bad stack, buffer on a stack) */
	uint64_t bad_credit;     /* credits or advances beyond the descriptors delivered */
	uint64_t tx_unfenced;    /* edescs whose memory was handed out after the last fence (dropped) */
	uint64_t tx_snf_over;    /* frames longer than their ring's snf size (dropped: underrun risk) */
};

/* A board on simulated link `link` (its clock drives the cycle counter). */
struct usn_gxemu *usn_gxemu_create(struct usn_sim_link *link);
void usn_gxemu_destroy(struct usn_gxemu *e);
/* Wires link `name` (e.g. "xgbe1") to sim port `port`, used as a capture
 * port (send_raw / recv_raw), with the MAC the link reports. 0 or -errno. */
int usn_gxemu_add_link(struct usn_gxemu *e, const char *name, struct usn_sim_port *port, const uint8_t mac[6]);
/* Makes `ctx` an emulated context of this board; call before gxio_mpipe_init. */
void usn_gxemu_bind(gxio_mpipe_context_t *ctx, struct usn_gxemu *e);
/* Loads the classifier with RSS key `key` (usn_rss_hash), as a custom
 * classifier built with that key would be; the backend does at start. */
void usn_gxemu_set_flow_key(struct usn_gxemu *e, uint16_t key);
/* Holds n of the board's eDMA rings, as Linux's own driver does for its
 * links, so fewer than 24 are left. 0 or -ENOSPC. */
int usn_gxemu_hold_erings(struct usn_gxemu *e, unsigned n);
/* The classifier writes `bytes` (< 64) of custom header before each
 * frame and reports them as the l2 offset, as a custom classifier may. */
void usn_gxemu_set_custom_header(struct usn_gxemu *e, uint8_t bytes);
void usn_gxemu_set_fault(struct usn_gxemu *e, enum usn_gxemu_fault f);
/* The next `frames` frames (chained ones for the CHAIN kinds) arrive with
 * this error. */
void usn_gxemu_inject(struct usn_gxemu *e, enum usn_gxemu_inject what, unsigned frames);
void usn_gxemu_stats(const struct usn_gxemu *e, struct usn_gxemu_stats *out);
/* Buffers currently on emulated stack `stack` of context `ctx`, -1 if none. */
long usn_gxemu_stack_count(gxio_mpipe_context_t *ctx, unsigned stack);
/* The snf size (bytes) of eDMA ring `ering`, 0 if it is not initialised. */
unsigned usn_gxemu_ering_snf(gxio_mpipe_context_t *ctx, unsigned ering);

/* The emulated OS (tmc_emu.c): mappings made by tmc_alloc_map, by page size. */
/* The page size of the tmc mapping holding [p, p + len), 0 if none does. */
size_t usn_tmc_emu_mapping_pagesize(const void *p, size_t len);
/* Pages of `pagesize` bytes mapped now by tmc_alloc_map (all callers). */
unsigned long usn_tmc_emu_pages_mapped(size_t pagesize);

#endif
