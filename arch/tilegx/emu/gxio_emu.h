/* Control of the x86 emulation of the TILE-Gx mPIPE subset (gxio_subset.h):
 * a "board" whose mPIPE links are ports on a simulated link (usn_sim.h), so
 * a stack on the tilegx backend talks to stacks on the sim backend. Test
 * and emulation code only; nothing here exists on a real TILE-Gx. */
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

struct usn_gxemu_stats {
	uint64_t rx_frames;      /* descriptors written to NotifRings */
	uint64_t rx_chained;     /* of which chained */
	uint64_t rx_no_rule;     /* frames dropped: link down or no rule for the channel */
	uint64_t rx_no_stack;    /* frames dropped: no stack for the size, or 255 */
	uint64_t rx_no_buffer;   /* frames dropped: buffer stack empty */
	uint64_t rx_ring_full;   /* frames dropped: NotifRing without credits */
	uint64_t tx_frames;      /* frames put on the wire */
	uint64_t tx_descs;       /* edescs processed */
	uint64_t tx_hwb_returns; /* buffers pushed back by hwb */
	uint64_t bad_push;       /* pushes of a buffer outside the stack's registered pages */
	uint64_t bad_size;       /* hwb returns whose size class differs from the stack's */
	uint64_t bad_desc;       /* malformed edescs (xfer beyond a buffer, bad stack) */
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
/* The classifier writes `bytes` (< 64) of custom header before each
 * frame and reports them as the l2 offset, as a custom classifier may. */
void usn_gxemu_set_custom_header(struct usn_gxemu *e, uint8_t bytes);
void usn_gxemu_set_fault(struct usn_gxemu *e, enum usn_gxemu_fault f);
void usn_gxemu_stats(const struct usn_gxemu *e, struct usn_gxemu_stats *out);
/* Buffers currently on emulated stack `stack` of context `ctx`, -1 if none. */
long usn_gxemu_stack_count(gxio_mpipe_context_t *ctx, unsigned stack);

#endif
