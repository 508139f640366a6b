/* libusnet HAL on TILE-Gx mPIPE (gxio), as the Rusty stack used it: one
 * NotifRing + iqueue per worker, eDMA rings shared round-robin when there
 * are more workers than the card has rings, a NotifGroup of 128 buckets in
 * static flow affinity (bucket = flow hash & 127, ring = bucket % workers:
 * the usn_rss_queue table), one classifier rule for the link, buffer stacks
 * in pages registered with mPIPE and hashed over the tiles, worker memory
 * homed on the worker's tile, the cycle counter as clock.
 *
 * Buffer layout: every mPIPE buffer is preceded by 128 bytes that hold its
 * struct usn_buf. mPIPE never writes there (it only DMAs into the buffer), so
 * a descriptor's va gives the metadata in O(1): (va & ~127) - 128. The
 * buffer's own headroom cannot hold it: the only headroom mPIPE leaves is
 * 8 + headroom < 128 bytes in a chain's first buffer, and 8 in the others.
 *
 * Limits of the card this follows (gxio_subset.h says where each is from):
 * 24 eDMA rings for every user of the mPIPE, 16 registered pages per buffer
 * stack, NotifRings and eDMA rings in one physically contiguous page, a
 * fence before an edesc is posted, and the default snf size of 1536 bytes
 * for egress. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpipe.h"
#ifdef USN_GX_EMU
#include "emu/gxio_emu.h"
#endif

_Static_assert(sizeof(struct usn_buf) <= USN_GX_META_BYTES, "usn_buf fits the slot before each buffer");

#define GX_BUCKETS 128 /* = usn_rss_queue's indirection table */
#define GX_MAX_STACKS 8
#define GX_MAX_SEGS (16384 / 128)
#define GX_STD_FRAME_CLASS 1664 /* the largest class a standard frame needs; TX buffers' */

struct gx_stack {
	unsigned idx; /* mPIPE's stack index */
	gxio_mpipe_buffer_size_enum_t kind;
	size_t buf_bytes;
	uint32_t bufs;
	uint8_t *mem;
	size_t mem_size;
};

/* An eDMA ring: gxio's equeue is thread-safe (its reserve is an atomic
 * add, no lock), so workers that share a ring share this. */
struct gx_ering {
	gxio_mpipe_equeue_t eq;
	void *mem;
	size_t size;
};

struct gx_worker {
	gxio_mpipe_iqueue_t iq;
	gxio_mpipe_equeue_t *eq; /* the ring it shares */
	unsigned ering;          /* index into usn_gx_port.er */
	void *iq_mem;
	size_t iq_size;
	int cpu;
	struct usn_gx_port_stats st;
};

struct usn_gx_port {
	struct usn_hal hal; /* first: the HAL ops get it back by a cast */
	gxio_mpipe_context_t ctx;
	gxio_mpipe_link_t link;
	bool ctx_ok, link_ok;
	gxio_mpipe_rules_t rules;
	struct usn_gx_plan plan;
	int channel;
	unsigned first_ring, first_bucket, group, first_ering;
	struct gx_stack stack[GX_MAX_STACKS];
	unsigned n_stacks;
	unsigned alloc_stack;      /* hardware index alloc_bulk pops from */
	uint8_t kind_of[32];       /* hardware stack index -> size class */
	size_t bytes_of[32];       /* hardware stack index -> buffer bytes */
	struct gx_ering er[HV_MPIPE_NUM_EDMA_RINGS];
	unsigned n_erings;
	uint16_t n_workers;
	struct gx_worker w[USN_GX_MAX_WORKERS];
};

static int gx_fail(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static inline struct usn_gx_port *gx_port(struct usn_hal *hal)
{
	return (struct usn_gx_port *)hal;
}

static inline struct usn_buf *gx_meta(uintptr_t base)
{
	return (struct usn_buf *)(base - USN_GX_META_BYTES);
}

/* ---- the data path: no allocation, lock or system call below ---- */

/* Returns a hardware chain that never became usn_bufs (a descriptor with
 * an error bit, or the tail of a malformed chain) to its stacks. */
static void gx_push_hw_chain(struct usn_gx_port *p, gxio_mpipe_edesc_t b)
{
	for (unsigned hops = 0; hops < GX_MAX_SEGS; hops++) {
		uintptr_t base = (uintptr_t)(intptr_t)b.va & ~(uintptr_t)127;
		bool chained = b.c == MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED;
		gxio_mpipe_edesc_t next;

		if (!chained && b.c != MPIPE_EDMA_DESC_WORD1__C_VAL_UNCHAINED)
			return; /* "invalid" or "not ready": no buffer */
		if (chained)
			memcpy(&next.words[1], (const void *)base, 8); /* before mPIPE may reuse it */
		gxio_mpipe_push_buffer(&p->ctx, (unsigned)b.stack_idx, (void *)base);
		if (!chained)
			return;
		b.words[1] = next.words[1];
	}
}

static void gx_free_chain(struct usn_gx_port *p, struct usn_buf *b)
{
	while (b) {
		struct usn_buf *next = b->next; /* read before mPIPE may reuse it */
		gxio_mpipe_push_buffer(&p->ctx, b->backend_u16, (void *)(uintptr_t)b->backend);
		b = next;
	}
}

/* Builds the usn_buf chain of one ingress descriptor. NULL if the
 * descriptor is malformed (its buffers are then back on their stacks). */
static struct usn_buf *gx_rx_frame(struct usn_gx_port *p, struct gx_worker *w, gxio_mpipe_idesc_t *d)
{
	gxio_mpipe_edesc_t b;
	struct usn_buf *head = NULL, *tail = NULL;
	size_t left = gxio_mpipe_idesc_get_xfer_size(d);
	unsigned skip = gxio_mpipe_idesc_get_l2_offset(d);

	b.words[1] = d->words[7];
	for (unsigned hops = 0; left > 0; hops++) {
		uintptr_t va = (uintptr_t)(intptr_t)b.va, base = va & ~(uintptr_t)127, off = va & 127u;
		size_t cap = gxio_mpipe_buffer_size_enum_to_buffer_size((gxio_mpipe_buffer_size_enum_t)b.size) - off;
		size_t take = left < cap ? left : cap;
		bool chained = b.c == MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED;
		struct usn_buf *m;

		if (hops == GX_MAX_SEGS || (!chained && b.c != MPIPE_EDMA_DESC_WORD1__C_VAL_UNCHAINED))
			goto bad;
		m = gx_meta(base);
		m->next = NULL;
		m->link = NULL;
		m->data = (uint8_t *)va;
		m->len = (uint16_t)take;
		m->room = (uint16_t)cap;
		m->headroom = (uint16_t)off;
		m->flags = 0;
		m->backend_u16 = (uint16_t)b.stack_idx;
		m->backend = (uint64_t)base;
		if (tail)
			tail->next = m;
		else
			head = m;
		tail = m;
		left -= take;
		if (!chained) {
			if (left > 0)
				goto bad_tail_done;
			break;
		}
		/* The next buffer's descriptor is in this buffer's first 8 bytes. */
		memcpy(&b.words[1], (const void *)base, 8);
		if (left == 0 && b.c == MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED)
			goto bad; /* more buffers than bytes */
		if (left > 0 && b.c != MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED)
			goto bad; /* the chain ends before the bytes do */
	}
	if (!head || skip >= head->len)
		goto bad_tail_done;
	/* A custom header before L2: the frame starts l2_offset bytes in. */
	head->data += skip;
	head->len = (uint16_t)(head->len - skip);
	head->room = (uint16_t)(head->room - skip);
	head->headroom = (uint16_t)(head->headroom + skip);
	head->frame_len = gxio_mpipe_idesc_get_xfer_size(d) - skip;
	head->rss_hash = gxio_mpipe_idesc_get_flow_hash(d);
	head->flags = USN_BUF_RX_HASH;
	return head;

bad:
	gx_push_hw_chain(p, b);
bad_tail_done:
	gx_free_chain(p, head);
	w->st.rx_bad_chain++;
	return NULL;
}

static uint16_t gx_rx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_gx_port *p = gx_port(hal);
	struct gx_worker *w = &p->w[queue];
	unsigned consumed = 0;
	uint16_t got = 0;

	while (got < n) {
		gxio_mpipe_idesc_t *d;
		int avail = gxio_mpipe_iqueue_try_peek(&w->iq, &d), k;

		if (avail <= 0)
			break;
		for (k = 0; k < avail && got < n; k++, d++) {
			struct usn_buf *f;

			if (d->be) {
				/* A buffer error: no buffer holds the frame and
				 * the descriptor's buffer fields are stale, so
				 * nothing goes back (as the MDE's iqueue_drop,
				 * Linux's driver and DPDK's PMD do). */
				w->st.rx_buf_err++;
			} else if (d->me || d->tr || d->ce) {
				/* The frame is in buffers that are ours: every
				 * one of them goes back. */
				gxio_mpipe_edesc_t b;
				b.words[1] = d->words[7];
				gx_push_hw_chain(p, b);
				w->st.rx_err_desc++;
			} else if ((f = gx_rx_frame(p, w, d)) != NULL) {
				bufs[got++] = f;
				w->st.rx_frames++;
				w->st.rx_bytes += f->frame_len;
			}
		}
		gxio_mpipe_iqueue_advance(&w->iq, k);
		consumed += (unsigned)k;
	}
	/* One MMIO store returns the burst's ring credits. Bucket credits only
	 * steer dynamic flow affinity; with static affinity none are owed (as
	 * DPDK's PMD does). */
	if (consumed)
		gxio_mpipe_credit(&p->ctx, (int)w->iq.ring, -1, consumed);
	return got;
}

static uint16_t gx_tx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_gx_port *p = gx_port(hal);
	struct gx_worker *w = &p->w[queue];
	struct usn_buf *seg[GX_MAX_SEGS];
	uint16_t i;

	if (n == 0)
		return 0;
	/* The stack wrote these frames before this call: one fence makes all
	 * of their bytes visible to mPIPE before the first edesc is posted
	 * (the MDE requires it before put_at; once per burst amortises it). */
	usn_gx_fence(&p->ctx);
	for (i = 0; i < n; i++) {
		struct usn_buf *f = bufs[i], *b;
		unsigned nseg = 0, k = 0;
		bool ok = true;
		int64_t slot;

		/* Gather: one edesc per non-empty buffer, bound on the last;
		 * each with hwb, so mPIPE pushes it back to its stack once sent.
		 * hwb returns va & ~127: data must start in the buffer's first
		 * 128 bytes (it does: headroom is 32, l2 offsets are small). */
		for (b = f; b; b = b->next) {
			uintptr_t off = (uintptr_t)b->data - (uintptr_t)b->backend;
			if (b->len == 0)
				continue;
			if (nseg == GX_MAX_SEGS || off >= 128 || off + b->len > p->bytes_of[b->backend_u16 & 31])
				ok = false;
			else
				seg[nseg++] = b;
		}
		if (!ok || nseg == 0) {
			w->st.tx_bad_buf += !ok;
			gx_free_chain(p, f);
			continue; /* consumed: dropped and counted */
		}
		slot = gxio_mpipe_equeue_try_reserve_fast(w->eq, nseg);
		if (slot < 0) {
			w->st.tx_no_slot++;
			break;
		}
		w->st.tx_frames++;
		w->st.tx_bytes += f->frame_len;
		/* Empty buffers carry no descriptor: back to their stack now. */
		for (b = f; b;) {
			struct usn_buf *next = b->next;
			if (b->len == 0)
				gxio_mpipe_push_buffer(&p->ctx, b->backend_u16, (void *)(uintptr_t)b->backend);
			b = next;
		}
		for (k = 0; k < nseg; k++) {
			gxio_mpipe_edesc_t e;
			unsigned stack = seg[k]->backend_u16 & 31u;

			memset(&e, 0, sizeof(e));
			e.bound = k + 1 == nseg;
			e.xfer_size = seg[k]->len;
			e.va = (int64_t)(intptr_t)seg[k]->data;
			e.stack_idx = stack;
			e.inst = (unsigned)p->ctx.instance & 3u;
			e.hwb = 1;
			e.size = p->kind_of[stack];
			e.c = MPIPE_EDMA_DESC_WORD1__C_VAL_UNCHAINED;
			gxio_mpipe_equeue_put_at(w->eq, e, (unsigned long)slot + k);
		}
	}
	return i;
}

static uint16_t gx_alloc_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_gx_port *p = gx_port(hal);
	size_t bytes = p->bytes_of[p->alloc_stack];
	uint16_t i;

	for (i = 0; i < n; i++) {
		uint8_t *v = gxio_mpipe_pop_buffer(&p->ctx, p->alloc_stack);
		struct usn_buf *m;

		if (!v) {
			p->w[queue].st.alloc_fail++;
			break;
		}
		m = gx_meta((uintptr_t)v);
		memset(m, 0, sizeof(*m));
		m->data = v + USN_GX_HEADROOM;
		m->room = (uint16_t)(bytes - USN_GX_HEADROOM);
		m->headroom = USN_GX_HEADROOM;
		m->backend_u16 = (uint16_t)p->alloc_stack;
		m->backend = (uint64_t)(uintptr_t)v;
		bufs[i] = m;
	}
	return i;
}

static void gx_free_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	(void)queue;
	for (uint16_t i = 0; i < n; i++)
		gx_free_chain(gx_port(hal), bufs[i]);
}

static uint64_t gx_clock(struct usn_hal *hal)
{
	return usn_gx_cycles(&gx_port(hal)->ctx);
}

/* Worker tables: pages homed on the worker's tile (its L2 is their home). */
static void *gx_mem_alloc(struct usn_hal *hal, uint16_t queue, size_t size)
{
	struct usn_gx_port *p = gx_port(hal);
	tmc_alloc_t a = TMC_ALLOC_INIT;

	tmc_alloc_set_home(&a, p->w[queue < p->n_workers ? queue : 0].cpu);
	return tmc_alloc_map(&a, size);
}

static void gx_mem_free(struct usn_hal *hal, uint16_t queue, void *ptr, size_t size)
{
	(void)hal;
	(void)queue;
	if (ptr)
		tmc_alloc_unmap(ptr, size);
}

/* The platform's random source. /dev/urandom rather than getrandom(): the
 * MDE's kernel and C library may predate it. */
static int gx_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			close(fd);
			return -e;
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return 0;
}

static int gx_random(struct usn_hal *hal, void *buf, size_t len)
{
	(void)hal;
	return gx_random_bytes(buf, len);
}

static const struct usn_hal_ops gx_ops = {
	.rx_burst = gx_rx_burst,
	.tx_burst = gx_tx_burst,
	.alloc_bulk = gx_alloc_bulk,
	.free_bulk = gx_free_bulk,
	.clock_cycles = gx_clock,
	.mem_alloc = gx_mem_alloc,
	.mem_free = gx_mem_free,
	.random = gx_random,
};

/* ---- the plan: what a configuration needs, before anything is mapped ---- */

static bool gx_entries_ok(uint32_t n, const uint32_t *allowed)
{
	for (int i = 0; i < 4; i++) {
		if (n == allowed[i])
			return true;
	}
	return false;
}

/* The largest page size the OS offers (16 MB on a stock TILE-Gx Linux;
 * larger only when booted with hugepagesz=). */
static size_t gx_largest_page(void)
{
	unsigned long mask = tmc_alloc_get_pagesizes();
	size_t ps = (size_t)64 << 10;

	for (unsigned b = 0; b < sizeof(mask) * 8; b++) {
		if (mask & (1ul << b))
			ps = (size_t)1 << b;
	}
	return ps;
}

/* The smallest page size the OS offers that holds `bytes`, 0 if none. */
static size_t gx_page_for(size_t bytes)
{
	tmc_alloc_t a = TMC_ALLOC_INIT;

	return tmc_alloc_set_pagesize(&a, bytes) ? tmc_alloc_get_pagesize(&a) : 0;
}

/* A stack's memory: its words (rounded so the first slot is 128-byte
 * aligned), then 128 bytes of metadata and the buffer, per buffer. */
static size_t gx_stack_words(uint32_t bufs)
{
	return (gxio_mpipe_calc_buffer_stack_bytes(bufs) + 127u) & ~(size_t)127u;
}

static size_t gx_stack_bytes(uint32_t bufs, size_t buf_bytes)
{
	return gx_stack_words(bufs) + (size_t)bufs * (USN_GX_META_BYTES + buf_bytes);
}

uint32_t usn_gx_stack_cap(size_t buf_bytes)
{
	size_t limit = USN_GX_MAX_STACK_PAGES * gx_largest_page();
	uint64_t b = limit / (USN_GX_META_BYTES + buf_bytes);

	if (b > UINT32_MAX)
		b = UINT32_MAX;
	while (b > 0 && gx_stack_bytes((uint32_t)b, buf_bytes) > limit)
		b--;
	return (uint32_t)b;
}

static unsigned gx_div_up(size_t a, size_t b)
{
	return (unsigned)((a + b - 1) / b);
}

static void gx_plan_pages(struct usn_gx_plan *pl, size_t size, unsigned long count)
{
	unsigned i;

	for (i = 0; i < pl->n_page_sizes && pl->pages[i].size != size; i++)
		;
	if (i == pl->n_page_sizes) {
		if (i == sizeof(pl->pages) / sizeof(pl->pages[0]))
			return;
		/* Largest first. */
		while (i > 0 && pl->pages[i - 1].size < size) {
			pl->pages[i] = pl->pages[i - 1];
			i--;
		}
		pl->pages[i].size = size;
		pl->pages[i].count = 0;
		pl->n_page_sizes++;
	}
	pl->pages[i].count += count;
	pl->total_bytes += size * count;
}

int usn_gx_plan(const struct usn_gx_config *cfg, struct usn_gx_plan *pl, char *msg, size_t msg_len)
{
	static const uint32_t iq_ok[4] = {128, 512, 2048, 65536}, eq_ok[4] = {512, 2048, 8192, 65536};
	/* Without chains: every class up to the first that holds a whole
	 * frame, but never 10368 bytes: Linux's driver avoids it because it
	 * "can induce false chaining on cut-through jumbo packets"
	 * (drivers/net/ethernet/tile/tilegx.c) and uses 16384 for jumbo
	 * frames, as this does. */
	static const gxio_mpipe_buffer_size_enum_t plain[] = {
		GXIO_MPIPE_BUFFER_SIZE_128,  GXIO_MPIPE_BUFFER_SIZE_256,  GXIO_MPIPE_BUFFER_SIZE_512,
		GXIO_MPIPE_BUFFER_SIZE_1024, GXIO_MPIPE_BUFFER_SIZE_1664, GXIO_MPIPE_BUFFER_SIZE_4096,
		GXIO_MPIPE_BUFFER_SIZE_16384};
	uint16_t nw = cfg->n_workers ? cfg->n_workers : 1, mtu = cfg->mtu ? cfg->mtu : 1500;
	uint32_t iqn = cfg->iqueue_entries ? cfg->iqueue_entries : USN_GX_IQUEUE_DEFAULT;
	uint32_t eqn = cfg->equeue_entries ? cfg->equeue_entries : USN_GX_EQUEUE_DEFAULT;
	size_t frame = (size_t)mtu + 14 + USN_GX_HEADROOM;
	gxio_mpipe_buffer_size_enum_t kinds[GX_MAX_STACKS];
	unsigned n_kinds = 0;

	memset(pl, 0, sizeof(*pl));
	if (nw > USN_GX_MAX_WORKERS)
		return gx_fail(msg, msg_len, "%u workers: at most %u", nw, USN_GX_MAX_WORKERS);
	if (mtu < 68 || mtu > 9000)
		return gx_fail(msg, msg_len, "MTU %u out of 68..9000", mtu);
	if (!gx_entries_ok(iqn, iq_ok) || !gx_entries_ok(eqn, eq_ok))
		return gx_fail(msg, msg_len, "ring sizes: iqueue 128/512/2048/65536, equeue 512/2048/8192/65536");
	if (cfg->chain_buf_size) {
		unsigned k = 0;
		while (k < 5 && gxio_mpipe_buffer_size_enum_to_buffer_size((gxio_mpipe_buffer_size_enum_t)k) !=
					cfg->chain_buf_size)
			k++;
		if (k == 5)
			return gx_fail(msg, msg_len, "chain buffer size %u: 128, 256, 512, 1024 or 1664",
				       cfg->chain_buf_size);
		kinds[n_kinds++] = (gxio_mpipe_buffer_size_enum_t)k;
		/* The stack builds its headers in one buffer of at least 128
		 * bytes: with 128-byte chains, TX buffers come from a 256-byte
		 * stack that no classifier rule names. */
		if (cfg->chain_buf_size - USN_GX_HEADROOM < 128)
			kinds[n_kinds++] = GXIO_MPIPE_BUFFER_SIZE_256;
		pl->tx_stack = n_kinds - 1;
	} else {
		for (unsigned k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
			size_t bytes = gxio_mpipe_buffer_size_enum_to_buffer_size(plain[k]);
			/* TX buffers: the largest standard class; jumbo
			 * frames go out chained from it, so the jumbo stack
			 * is for ingress only. */
			if (bytes <= GX_STD_FRAME_CLASS)
				pl->tx_stack = n_kinds;
			kinds[n_kinds++] = plain[k];
			if (bytes >= frame)
				break;
		}
	}
	pl->n_workers = nw;
	pl->mtu = mtu;
	pl->chain_buf_size = cfg->chain_buf_size;
	pl->iqueue_entries = iqn;
	pl->equeue_entries = eqn;
	pl->n_stacks = n_kinds;

	for (unsigned i = 0; i < n_kinds; i++) {
		struct usn_gx_plan_stack *st = &pl->stack[i];
		size_t bytes = gxio_mpipe_buffer_size_enum_to_buffer_size(kinds[i]);
		uint32_t cap = usn_gx_stack_cap(bytes);
		/* Enough for every worker's NotifRing full of the largest
		 * frames plus USN_GX_BUFS_EXTRA more (TX, frames the stack
		 * holds); a chain stack counts the buffers a frame takes. */
		uint64_t per_frame = cfg->chain_buf_size && i == 0 ? gx_div_up(frame, bytes - 8) : 1;
		uint64_t dflt = (uint64_t)nw * (iqn + USN_GX_BUFS_EXTRA) * per_frame;

		st->buf_bytes = (uint32_t)bytes;
		if (cfg->bufs_per_stack) {
			st->bufs = cfg->bufs_per_stack;
			if (st->bufs > cap)
				return gx_fail(msg, msg_len,
					       "%u buffers of %zu bytes need %zu MiB, more than %u pages of %zu MiB "
					       "hold: use at most %u",
					       st->bufs, bytes, gx_stack_bytes(st->bufs, bytes) >> 20,
					       USN_GX_MAX_STACK_PAGES, gx_largest_page() >> 20, cap);
		} else {
			st->bufs = dflt < cap ? (uint32_t)dflt : cap;
			st->capped = dflt > cap;
		}
		if (st->bufs < 64)
			return gx_fail(msg, msg_len, "buffer stack of %zu-byte buffers: %u buffers, at least 64",
				       bytes, st->bufs);
		st->bytes = gx_stack_bytes(st->bufs, bytes);
		/* The smallest page that fits the stack in 16 pages and holds
		 * its words in one (they must be physically contiguous). */
		{
			size_t want = gx_div_up(st->bytes, USN_GX_MAX_STACK_PAGES);
			if (want < gx_stack_words(st->bufs))
				want = gx_stack_words(st->bufs);
			st->page = gx_page_for(want);
		}
		if (!st->page)
			return gx_fail(msg, msg_len, "no page size holds the stack of %zu-byte buffers", bytes);
		st->pages = gx_div_up(st->bytes, st->page);
		gx_plan_pages(pl, st->page, st->pages);
	}

	/* Rings: each in one page (physically contiguous). */
	pl->iq_bytes = (size_t)iqn * sizeof(gxio_mpipe_idesc_t);
	pl->eq_bytes = (size_t)eqn * sizeof(gxio_mpipe_edesc_t);
	pl->iq_page = gx_page_for(pl->iq_bytes);
	pl->eq_page = gx_page_for(pl->eq_bytes);
	if (!pl->iq_page || !pl->eq_page)
		return gx_fail(msg, msg_len, "no page size holds a ring");
	pl->n_erings = nw < HV_MPIPE_NUM_EDMA_RINGS ? nw : HV_MPIPE_NUM_EDMA_RINGS;
	gx_plan_pages(pl, pl->iq_page, nw);
	gx_plan_pages(pl, pl->eq_page, pl->n_erings);
	/* Frames longer than a ring's default snf size (1536) risk underruns
	 * unless the ring stores them whole before sending. */
	if ((size_t)mtu + 14 > 1536)
		pl->snf_bytes = (uint32_t)mtu + 14;
	return 0;
}

static void gx_print_size(FILE *out, size_t b)
{
	if (b >= ((size_t)1 << 20))
		fprintf(out, "%.1f MiB", (double)b / (1 << 20));
	else
		fprintf(out, "%zu KiB", b >> 10);
}

void usn_gx_plan_print(const struct usn_gx_plan *pl, FILE *out)
{
	fprintf(out, "mpipe: %u worker%s, MTU %u, ", pl->n_workers, pl->n_workers == 1 ? "" : "s", pl->mtu);
	if (pl->chain_buf_size)
		fprintf(out, "chains of %u-byte buffers", pl->chain_buf_size);
	else
		fprintf(out, "unchained buffers");
	fprintf(out, "; memory it needs:\n");
	for (unsigned i = 0; i < pl->n_stacks; i++) {
		const struct usn_gx_plan_stack *st = &pl->stack[i];
		fprintf(out, "  buffer stack %5u B: %u buffers%s%s, ", st->buf_bytes, st->bufs,
			st->capped ? " (all 16 pages of the largest size hold)" : "", i == pl->tx_stack ? ", TX" : "");
		gx_print_size(out, st->bytes);
		fprintf(out, " in %u page%s of ", st->pages, st->pages == 1 ? "" : "s");
		gx_print_size(out, st->page);
		fputc('\n', out);
	}
	fprintf(out, "  NotifRings: %u x %u entries, ", pl->n_workers, pl->iqueue_entries);
	gx_print_size(out, pl->iq_bytes);
	fprintf(out, " each in a page of ");
	gx_print_size(out, pl->iq_page);
	fprintf(out, "\n  eDMA rings: up to %u (of the mPIPE's %u) x %u entries, ", pl->n_erings, HV_MPIPE_NUM_EDMA_RINGS,
		pl->equeue_entries);
	gx_print_size(out, pl->eq_bytes);
	fprintf(out, " each in a page of ");
	gx_print_size(out, pl->eq_page);
	if (pl->snf_bytes)
		fprintf(out, "; snf size %u B", pl->snf_bytes);
	fprintf(out, "\n  pages:");
	for (unsigned i = 0; i < pl->n_page_sizes; i++) {
		fprintf(out, "%s %lu of ", i ? "," : "", pl->pages[i].count);
		gx_print_size(out, pl->pages[i].size);
	}
	fprintf(out, "; ");
	gx_print_size(out, pl->total_bytes);
	fprintf(out, " in all\n");
}

/* ---- set-up ---- */

/* One buffer stack: [stack words][slot: 128 B usn_buf | buffer] x n, in
 * pages hashed over all tiles (every worker touches buffers), registered
 * with mPIPE (at most 16 per stack: the plan chose the page size). */
static int gx_stack_setup(struct usn_gx_port *p, struct gx_stack *s, unsigned idx, gxio_mpipe_buffer_size_enum_t kind,
			  const struct usn_gx_plan_stack *ps, char *msg, size_t msg_len)
{
	size_t bytes = gxio_mpipe_buffer_size_enum_to_buffer_size(kind);
	size_t words = gx_stack_words(ps->bufs);
	tmc_alloc_t a = TMC_ALLOC_INIT;
	int rc;

	tmc_alloc_set_home(&a, TMC_ALLOC_HOME_HASH);
	if (!tmc_alloc_set_pagesize(&a, ps->page) || tmc_alloc_get_pagesize(&a) != ps->page)
		return gx_fail(msg, msg_len, "no pages of %zu bytes for buffer stack %u", ps->page, idx);
	s->idx = idx;
	s->kind = kind;
	s->buf_bytes = bytes;
	s->bufs = ps->bufs;
	s->mem_size = ps->bytes;
	s->mem = tmc_alloc_map(&a, ps->bytes);
	if (!s->mem)
		return gx_fail(msg, msg_len, "cannot map %zu bytes in pages of %zu KiB for buffer stack %u%s", ps->bytes,
			       ps->page >> 10, idx, ps->page > ((size_t)64 << 10) ? " (are the huge pages reserved?)" : "");
	rc = gxio_mpipe_init_buffer_stack(&p->ctx, idx, kind, s->mem, words, 0);
	if (rc < 0)
		return gx_fail(msg, msg_len, "gxio_mpipe_init_buffer_stack(%u): %d", idx, rc);
	for (size_t off = 0; off < ps->bytes; off += ps->page) {
		rc = gxio_mpipe_register_page(&p->ctx, idx, s->mem + off, ps->page, 0);
		if (rc < 0)
			return gx_fail(msg, msg_len, "gxio_mpipe_register_page(%u): %d", idx, rc);
	}
	for (uint32_t i = 0; i < ps->bufs; i++) {
		uint8_t *slot = s->mem + words + (size_t)i * (USN_GX_META_BYTES + bytes);
		gxio_mpipe_push_buffer(&p->ctx, idx, slot + USN_GX_META_BYTES);
	}
	p->kind_of[idx & 31] = (uint8_t)kind;
	p->bytes_of[idx & 31] = bytes;
	return 0;
}

/* Maps `bytes` of ring memory in one page homed on `cpu`. */
static void *gx_ring_map(int cpu, size_t bytes)
{
	tmc_alloc_t a = TMC_ALLOC_INIT;

	tmc_alloc_set_home(&a, cpu);
	return tmc_alloc_set_pagesize(&a, bytes) ? tmc_alloc_map(&a, bytes) : NULL;
}

struct usn_gx_port *usn_gx_port_create(const struct usn_gx_config *cfg, char *msg, size_t msg_len)
{
	struct usn_gx_plan plan;
	gxio_mpipe_buffer_size_enum_t kinds[GX_MAX_STACKS];
	struct usn_gx_port *p;
	uint16_t nw;
	cpu_set_t dp;
	int64_t mac;
	int rc;

	if (!cfg->link)
		return gx_fail(msg, msg_len, "no mPIPE link named (e.g. xgbe1)"), NULL;
	if (usn_gx_plan(cfg, &plan, msg, msg_len) < 0)
		return NULL;
	nw = plan.n_workers;
	for (unsigned i = 0; i < plan.n_stacks; i++)
		kinds[i] = gxio_mpipe_buffer_size_to_buffer_size_enum(plan.stack[i].buf_bytes);

	p = calloc(1, sizeof(*p));
	if (!p)
		return gx_fail(msg, msg_len, "out of memory"), NULL;
	p->n_workers = nw;
	p->plan = plan;

#ifdef USN_GX_EMU
	if (!cfg->emu) {
		gx_fail(msg, msg_len, "no TILE-Gx here: the x86 emulation needs a board (usn_gxemu_create)");
		goto fail;
	}
	usn_gxemu_bind(&p->ctx, cfg->emu);
#endif
	rc = gxio_mpipe_link_instance(cfg->link);
	if (rc < 0) {
		gx_fail(msg, msg_len, "link %s does not exist: %d", cfg->link, rc);
		goto fail;
	}
	rc = gxio_mpipe_init(&p->ctx, (unsigned)rc);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_init: %d", rc);
		goto fail;
	}
	p->ctx_ok = true;
	/* The default flags: shared data, stats and control permission, and
	 * AUTO_UPDOWN: the open brings the link up if it is down, and it goes
	 * down only when its last user (Linux's driver, another program)
	 * closes it or exits. */
	rc = gxio_mpipe_link_open(&p->link, &p->ctx, cfg->link, 0);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_link_open(%s): %d", cfg->link, rc);
		goto fail;
	}
	p->link_ok = true;
	p->channel = gxio_mpipe_link_channel(&p->link);

	/* Workers on dataplane tiles. */
	rc = tmc_cpus_get_dataplane_cpus(&dp);
	if (rc < 0) {
		gx_fail(msg, msg_len, "tmc_cpus_get_dataplane_cpus: %d", rc);
		goto fail;
	}
	for (unsigned i = 0; i < nw; i++) {
		int cpu = cfg->cpus ? cfg->cpus[i] : tmc_cpus_find_nth_cpu(&dp, i);
		if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &dp)) {
			gx_fail(msg, msg_len, "worker %u: no dataplane CPU (%d of %d)", i, cpu, tmc_cpus_count(&dp));
			goto fail;
		}
		p->w[i].cpu = cpu;
	}

	/* Ingress: a NotifRing per worker in one page homed on its tile, one
	 * group and 128 buckets in static flow affinity. */
	rc = gxio_mpipe_alloc_notif_rings(&p->ctx, nw, 0, 0);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_alloc_notif_rings(%u): %d", nw, rc);
		goto fail;
	}
	p->first_ring = (unsigned)rc;
	for (unsigned i = 0; i < nw; i++) {
		struct gx_worker *w = &p->w[i];

		w->iq_size = plan.iq_bytes;
		if (!(w->iq_mem = gx_ring_map(w->cpu, w->iq_size))) {
			gx_fail(msg, msg_len, "cannot map a %zu-byte NotifRing", w->iq_size);
			goto fail;
		}
		rc = gxio_mpipe_iqueue_init(&w->iq, &p->ctx, p->first_ring + i, w->iq_mem, w->iq_size, 0);
		if (rc < 0) {
			gx_fail(msg, msg_len, "gxio_mpipe_iqueue_init: %d", rc);
			goto fail;
		}
	}
	rc = gxio_mpipe_alloc_notif_groups(&p->ctx, 1, 0, 0);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_alloc_notif_groups: %d", rc);
		goto fail;
	}
	p->group = (unsigned)rc;
	rc = gxio_mpipe_alloc_buckets(&p->ctx, GX_BUCKETS, 0, 0);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_alloc_buckets: %d", rc);
		goto fail;
	}
	p->first_bucket = (unsigned)rc;
	rc = gxio_mpipe_init_notif_group_and_buckets(&p->ctx, p->group, p->first_ring, nw, p->first_bucket, GX_BUCKETS,
						     GXIO_MPIPE_BUCKET_STATIC_FLOW_AFFINITY);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_init_notif_group_and_buckets: %d", rc);
		goto fail;
	}

	/* Egress: one eDMA ring per worker while the mPIPE's 24 last (fewer
	 * when other users, Linux's driver among them, hold some); beyond
	 * that, workers share rings round-robin, as Linux's driver shares one
	 * per link among all CPUs. With frames longer than 1536 bytes each
	 * ring needs a larger snf size from a pool all rings share: rings
	 * the pool cannot serve are left out. */
	for (rc = -1; plan.n_erings > 0; plan.n_erings--) {
		rc = gxio_mpipe_alloc_edma_rings(&p->ctx, plan.n_erings, 0, 0);
		if (rc >= 0)
			break;
	}
	if (rc < 0) {
		gx_fail(msg, msg_len, "no eDMA ring free: other users of the mPIPE hold all %u", HV_MPIPE_NUM_EDMA_RINGS);
		goto fail;
	}
	p->first_ering = (unsigned)rc;
	for (unsigned i = 0; i < plan.n_erings; i++) {
		struct gx_ering *r = &p->er[i];

		r->size = plan.eq_bytes;
		if (!(r->mem = gx_ring_map(p->w[i].cpu, r->size))) {
			gx_fail(msg, msg_len, "cannot map a %zu-byte eDMA ring", r->size);
			goto fail;
		}
		rc = gxio_mpipe_equeue_init(&r->eq, &p->ctx, p->first_ering + i, (unsigned)p->channel, r->mem,
					    (unsigned)r->size, 0);
		if (rc < 0) {
			gx_fail(msg, msg_len, "gxio_mpipe_equeue_init: %d", rc);
			goto fail;
		}
		if (plan.snf_bytes && (rc = gxio_mpipe_equeue_set_snf_size(&r->eq, plan.snf_bytes)) < 0) {
			if (i == 0) {
				gx_fail(msg, msg_len, "an eDMA ring cannot send %u-byte frames whole: %d",
					plan.snf_bytes, rc);
				goto fail;
			}
			break;
		}
		p->n_erings = i + 1;
	}
	for (unsigned i = 0; i < nw; i++) {
		p->w[i].ering = i % p->n_erings;
		p->w[i].eq = &p->er[p->w[i].ering].eq;
	}

	/* Buffer stacks. */
	rc = gxio_mpipe_alloc_buffer_stacks(&p->ctx, plan.n_stacks, 0, 0);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_alloc_buffer_stacks(%u): %d", plan.n_stacks, rc);
		goto fail;
	}
	for (unsigned i = 0; i < plan.n_stacks; i++) {
		if (gx_stack_setup(p, &p->stack[i], (unsigned)rc + i, kinds[i], &plan.stack[i], msg, msg_len) < 0)
			goto fail;
		p->n_stacks++;
	}
	p->alloc_stack = p->stack[plan.tx_stack].idx;

	/* The classifier rule: every packet of the link, hashed over the
	 * buckets; without chains the smallest stack that holds it (NULL
	 * table), with chains the one small-buffer stack for every size. */
	gxio_mpipe_rules_init(&p->rules, &p->ctx);
	if (cfg->chain_buf_size) {
		gxio_mpipe_rules_stacks_t st;
		memset(st.stacks, (int)p->stack[0].idx, sizeof(st.stacks));
		rc = gxio_mpipe_rules_begin(&p->rules, p->first_bucket, GX_BUCKETS, &st);
	} else {
		rc = gxio_mpipe_rules_begin(&p->rules, p->first_bucket, GX_BUCKETS, NULL);
	}
	if (rc >= 0)
		rc = gxio_mpipe_rules_add_channel(&p->rules, (unsigned)p->channel);
	if (rc >= 0)
		rc = gxio_mpipe_rules_set_headroom(&p->rules, USN_GX_HEADROOM);
	if (rc >= 0)
		rc = gxio_mpipe_rules_commit(&p->rules);
	if (rc < 0) {
		gx_fail(msg, msg_len, "classifier rules: %d", rc);
		goto fail;
	}

	/* Jumbo reception is a property of the link: it stays on after we
	 * close, for any other user that needs it. */
	if (plan.mtu > 1500 && (rc = gxio_mpipe_link_set_attr(&p->link, GXIO_MPIPE_LINK_RECEIVE_JUMBO, 1)) < 0) {
		gx_fail(msg, msg_len, "jumbo frames on %s: %d", cfg->link, rc);
		goto fail;
	}
	mac = gxio_mpipe_link_get_attr(&p->link, GXIO_MPIPE_LINK_MAC);
	if (mac < 0) {
		gx_fail(msg, msg_len, "reading the MAC of %s: %lld", cfg->link, (long long)mac);
		goto fail;
	}
	for (int i = 0; i < 6; i++)
		p->hal.mac[i] = (uint8_t)((uint64_t)mac >> (40 - 8 * i));

	p->hal.ops = &gx_ops;
	p->hal.cycles_per_sec = usn_gx_cycles_per_sec(&p->ctx);
	/* RSS: the load balancer spreads flows by bucket = hash & 127, ring =
	 * bucket % workers, which is usn_rss_queue; the hash must be
	 * usn_rss_hash with the key chosen here, new at every start (the
	 * emulated classifier is loaded with it; see README for hardware). */
	uint64_t seed;
	rc = gx_random_bytes(&seed, sizeof(seed));
	if (rc < 0) {
		gx_fail(msg, msg_len, "cannot read /dev/urandom for the RSS key: %s", strerror(-rc));
		goto fail;
	}
	p->hal.rss_key = usn_rss_key_from(seed);
#ifdef USN_GX_EMU
	usn_gxemu_set_flow_key(cfg->emu, p->hal.rss_key);
#endif
	p->hal.offloads = USN_HAL_OFF_RSS | USN_HAL_OFF_TX_MULTISEG;
	p->hal.n_queues = nw;
	p->hal.mtu = plan.mtu;
	p->hal.buf_size = (uint16_t)(p->bytes_of[p->alloc_stack] - USN_GX_HEADROOM);
	p->hal.n_bufs = plan.stack[plan.tx_stack].bufs / nw; /* the workers share each stack */
	return p;

fail:
	usn_gx_port_destroy(p);
	return NULL;
}

void usn_gx_port_destroy(struct usn_gx_port *p)
{
	if (!p)
		return;
	/* Close, never force the link down: another user may be on it. */
	if (p->link_ok)
		gxio_mpipe_link_close(&p->link);
	if (p->ctx_ok)
		gxio_mpipe_destroy(&p->ctx);
	for (unsigned i = 0; i < p->n_workers; i++) {
		if (p->w[i].iq_mem)
			tmc_alloc_unmap(p->w[i].iq_mem, p->w[i].iq_size);
	}
	for (unsigned i = 0; i < HV_MPIPE_NUM_EDMA_RINGS; i++) {
		if (p->er[i].mem)
			tmc_alloc_unmap(p->er[i].mem, p->er[i].size);
	}
	for (unsigned i = 0; i < GX_MAX_STACKS; i++) {
		if (p->stack[i].mem)
			tmc_alloc_unmap(p->stack[i].mem, p->stack[i].mem_size);
	}
	free(p);
}

struct usn_hal *usn_gx_port_hal(struct usn_gx_port *p)
{
	return &p->hal;
}

int usn_gx_port_worker_cpu(const struct usn_gx_port *p, uint16_t worker)
{
	return worker < p->n_workers ? p->w[worker].cpu : -1;
}

void usn_gx_port_stats(const struct usn_gx_port *p, struct usn_gx_port_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < p->n_workers; i++) {
		const struct usn_gx_port_stats *s = &p->w[i].st;
		out->rx_frames += s->rx_frames;
		out->rx_bytes += s->rx_bytes;
		out->rx_err_desc += s->rx_err_desc;
		out->rx_buf_err += s->rx_buf_err;
		out->rx_bad_chain += s->rx_bad_chain;
		out->tx_frames += s->tx_frames;
		out->tx_bytes += s->tx_bytes;
		out->tx_no_slot += s->tx_no_slot;
		out->tx_bad_buf += s->tx_bad_buf;
		out->alloc_fail += s->alloc_fail;
	}
}

gxio_mpipe_context_t *usn_gx_port_context(struct usn_gx_port *p)
{
	return &p->ctx;
}

unsigned usn_gx_port_stacks(const struct usn_gx_port *p, unsigned *idx, unsigned max)
{
	unsigned i;

	for (i = 0; i < p->n_stacks && i < max; i++)
		idx[i] = p->stack[i].idx;
	return p->n_stacks;
}

uint32_t usn_gx_port_stack_bufs(const struct usn_gx_port *p, unsigned idx)
{
	for (unsigned i = 0; i < p->n_stacks; i++) {
		if (p->stack[i].idx == idx)
			return p->stack[i].bufs;
	}
	return 0;
}

unsigned usn_gx_port_erings(const struct usn_gx_port *p)
{
	return p->n_erings;
}

unsigned usn_gx_port_worker_ering(const struct usn_gx_port *p, uint16_t worker)
{
	return worker < p->n_workers ? p->w[worker].ering : 0;
}

const struct usn_gx_plan *usn_gx_port_plan(const struct usn_gx_port *p)
{
	return &p->plan;
}
