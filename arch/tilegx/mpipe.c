/* libusnet HAL on TILE-Gx mPIPE (gxio), as the Rusty stack used it: one
 * NotifRing + iqueue and one eDMA ring + equeue per worker, a NotifGroup of
 * 128 buckets in static flow affinity (bucket = flow hash & 127, ring =
 * bucket % workers: the usn_rss_queue table), one classifier rule for the
 * link, buffer stacks in pages registered with mPIPE and hashed over the
 * tiles, worker memory homed on the worker's tile, the cycle counter as clock.
 *
 * Buffer layout: every mPIPE buffer is preceded by 128 bytes that hold its
 * struct usn_buf. mPIPE never writes there (it only DMAs into the buffer), so
 * a descriptor's va gives the metadata in O(1): (va & ~127) - 128. The
 * buffer's own headroom cannot hold it: the only headroom mPIPE leaves is
 * 8 + headroom < 128 bytes in a chain's first buffer, and 8 in the others. */
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

struct gx_stack {
	unsigned idx; /* mPIPE's stack index */
	gxio_mpipe_buffer_size_enum_t kind;
	size_t buf_bytes;
	uint8_t *mem;
	size_t mem_size;
};

struct gx_worker {
	gxio_mpipe_iqueue_t iq;
	gxio_mpipe_equeue_t eq;
	void *iq_mem, *eq_mem;
	size_t iq_size, eq_size;
	int cpu;
	struct usn_gx_port_stats st;
};

struct usn_gx_port {
	struct usn_hal hal; /* first: the HAL ops get it back by a cast */
	gxio_mpipe_context_t ctx;
	gxio_mpipe_link_t link;
	bool ctx_ok, link_ok;
	gxio_mpipe_rules_t rules;
	int channel;
	unsigned first_ring, first_bucket, group, first_ering;
	struct gx_stack stack[GX_MAX_STACKS];
	unsigned n_stacks;
	unsigned alloc_stack;      /* hardware index alloc_bulk pops from */
	uint8_t kind_of[32];       /* hardware stack index -> size class */
	size_t bytes_of[32];       /* hardware stack index -> buffer bytes */
	uint32_t bufs_per_stack;
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
	uint16_t got = 0;

	while (got < n) {
		gxio_mpipe_idesc_t *d;
		int avail = gxio_mpipe_iqueue_try_peek(&w->iq, &d);

		if (avail <= 0)
			break;
		for (int i = 0; i < avail && got < n; i++, d++) {
			struct usn_buf *f;

			if (d->be || d->me || d->tr || d->ce) {
				/* Still return every buffer the descriptor holds. */
				gxio_mpipe_edesc_t b;
				b.words[1] = d->words[7];
				gx_push_hw_chain(p, b);
				w->st.rx_err_desc++;
			} else if ((f = gx_rx_frame(p, w, d)) != NULL) {
				bufs[got++] = f;
				w->st.rx_frames++;
				w->st.rx_bytes += f->frame_len;
			}
			gxio_mpipe_iqueue_consume(&w->iq, d);
		}
	}
	return got;
}

static uint16_t gx_tx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_gx_port *p = gx_port(hal);
	struct gx_worker *w = &p->w[queue];
	struct usn_buf *seg[GX_MAX_SEGS];
	uint16_t i;

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
		slot = gxio_mpipe_equeue_try_reserve_fast(&w->eq, nseg);
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
			gxio_mpipe_equeue_put_at(&w->eq, e, (unsigned long)slot + k);
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

/* ---- set-up ---- */

/* One buffer stack: [stack words][slot: 128 B usn_buf | buffer] x n, in
 * pages hashed over all tiles (every worker touches buffers), registered
 * with mPIPE (at most 16 per stack, so the page grows with the stack). */
static int gx_stack_setup(struct usn_gx_port *p, struct gx_stack *s, unsigned idx, gxio_mpipe_buffer_size_enum_t kind,
			  char *msg, size_t msg_len)
{
	size_t bytes = gxio_mpipe_buffer_size_enum_to_buffer_size(kind);
	size_t stack_bytes = (gxio_mpipe_calc_buffer_stack_bytes(p->bufs_per_stack) + 127u) & ~(size_t)127u;
	size_t total = stack_bytes + (size_t)p->bufs_per_stack * (USN_GX_META_BYTES + bytes);
	size_t want = (total + 15) / 16, page;
	tmc_alloc_t a = TMC_ALLOC_INIT;
	int rc;

	if (want < ((size_t)64 << 10))
		want = (size_t)64 << 10;
	if (want < stack_bytes)
		want = stack_bytes;
	tmc_alloc_set_home(&a, TMC_ALLOC_HOME_HASH);
	if (!tmc_alloc_set_pagesize(&a, want))
		return gx_fail(msg, msg_len, "no page size of %zu bytes for buffer stack %u", want, idx);
	page = tmc_alloc_get_pagesize(&a);
	s->idx = idx;
	s->kind = kind;
	s->buf_bytes = bytes;
	s->mem_size = total;
	s->mem = tmc_alloc_map(&a, total);
	if (!s->mem)
		return gx_fail(msg, msg_len, "cannot map %zu bytes for buffer stack %u", total, idx);
	rc = gxio_mpipe_init_buffer_stack(&p->ctx, idx, kind, s->mem, stack_bytes, 0);
	if (rc < 0)
		return gx_fail(msg, msg_len, "gxio_mpipe_init_buffer_stack(%u): %d", idx, rc);
	for (size_t off = 0; off < total; off += page) {
		rc = gxio_mpipe_register_page(&p->ctx, idx, s->mem + off, page, 0);
		if (rc < 0)
			return gx_fail(msg, msg_len, "gxio_mpipe_register_page(%u): %d", idx, rc);
	}
	for (uint32_t i = 0; i < p->bufs_per_stack; i++) {
		uint8_t *slot = s->mem + stack_bytes + (size_t)i * (USN_GX_META_BYTES + bytes);
		gxio_mpipe_push_buffer(&p->ctx, idx, slot + USN_GX_META_BYTES);
	}
	p->kind_of[idx & 31] = (uint8_t)kind;
	p->bytes_of[idx & 31] = bytes;
	return 0;
}

static bool gx_entries_ok(uint32_t n, const uint32_t *allowed)
{
	for (int i = 0; i < 4; i++) {
		if (n == allowed[i])
			return true;
	}
	return false;
}

struct usn_gx_port *usn_gx_port_create(const struct usn_gx_config *cfg, char *msg, size_t msg_len)
{
	static const uint32_t iq_ok[4] = {128, 512, 2048, 65536}, eq_ok[4] = {512, 2048, 8192, 65536};
	static const gxio_mpipe_buffer_size_enum_t plain[] = {
		GXIO_MPIPE_BUFFER_SIZE_128,  GXIO_MPIPE_BUFFER_SIZE_256,  GXIO_MPIPE_BUFFER_SIZE_512,
		GXIO_MPIPE_BUFFER_SIZE_1024, GXIO_MPIPE_BUFFER_SIZE_1664, GXIO_MPIPE_BUFFER_SIZE_4096,
		GXIO_MPIPE_BUFFER_SIZE_10368};
	uint16_t nw = cfg->n_workers ? cfg->n_workers : 1, mtu = cfg->mtu ? cfg->mtu : 1500;
	uint32_t iqn = cfg->iqueue_entries ? cfg->iqueue_entries : 2048;
	uint32_t eqn = cfg->equeue_entries ? cfg->equeue_entries : 2048;
	size_t frame = (size_t)mtu + 14 + USN_GX_HEADROOM;
	gxio_mpipe_buffer_size_enum_t kinds[GX_MAX_STACKS];
	unsigned n_kinds = 0;
	struct usn_gx_port *p;
	cpu_set_t dp;
	int64_t mac;
	int rc;

	if (!cfg->link)
		return gx_fail(msg, msg_len, "no mPIPE link named (e.g. xgbe1)"), NULL;
	if (nw > USN_GX_MAX_WORKERS)
		return gx_fail(msg, msg_len, "%u workers: at most %u", nw, USN_GX_MAX_WORKERS), NULL;
	if (mtu < 68 || mtu > 9000)
		return gx_fail(msg, msg_len, "MTU %u out of 68..9000", mtu), NULL;
	if (!gx_entries_ok(iqn, iq_ok) || !gx_entries_ok(eqn, eq_ok))
		return gx_fail(msg, msg_len, "ring sizes: iqueue 128/512/2048/65536, equeue 512/2048/8192/65536"), NULL;
	if (cfg->chain_buf_size) {
		unsigned k = 0;
		while (k < 5 && gxio_mpipe_buffer_size_enum_to_buffer_size((gxio_mpipe_buffer_size_enum_t)k) !=
					cfg->chain_buf_size)
			k++;
		if (k == 5)
			return gx_fail(msg, msg_len, "chain buffer size %u: 128, 256, 512, 1024 or 1664",
				       cfg->chain_buf_size),
			       NULL;
		kinds[n_kinds++] = (gxio_mpipe_buffer_size_enum_t)k;
		/* The stack builds its headers in one buffer of at least 128
		 * bytes: with 128-byte chains, TX buffers come from a 256-byte
		 * stack that no classifier rule names. */
		if (cfg->chain_buf_size - USN_GX_HEADROOM < 128)
			kinds[n_kinds++] = GXIO_MPIPE_BUFFER_SIZE_256;
	} else {
		/* Every class up to the first that holds a whole frame. */
		for (unsigned k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
			kinds[n_kinds++] = plain[k];
			if (gxio_mpipe_buffer_size_enum_to_buffer_size(plain[k]) >= frame)
				break;
		}
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		return gx_fail(msg, msg_len, "out of memory"), NULL;
	p->n_workers = nw;
	p->bufs_per_stack = cfg->bufs_per_stack ? cfg->bufs_per_stack : 2048u * nw;

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

	/* Ingress: a NotifRing per worker, homed on its tile, one group and
	 * 128 buckets in static flow affinity. */
	rc = gxio_mpipe_alloc_notif_rings(&p->ctx, nw, 0, 0);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_alloc_notif_rings(%u): %d", nw, rc);
		goto fail;
	}
	p->first_ring = (unsigned)rc;
	for (unsigned i = 0; i < nw; i++) {
		tmc_alloc_t a = TMC_ALLOC_INIT;
		struct gx_worker *w = &p->w[i];

		w->iq_size = iqn * sizeof(gxio_mpipe_idesc_t);
		tmc_alloc_set_home(&a, w->cpu);
		/* Physically contiguous: one page at least as large as the ring. */
		if (!tmc_alloc_set_pagesize(&a, w->iq_size) || !(w->iq_mem = tmc_alloc_map(&a, w->iq_size))) {
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

	/* Egress: an eDMA ring per worker, so workers never share a queue. */
	rc = gxio_mpipe_alloc_edma_rings(&p->ctx, nw, 0, 0);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_alloc_edma_rings(%u): %d", nw, rc);
		goto fail;
	}
	p->first_ering = (unsigned)rc;
	for (unsigned i = 0; i < nw; i++) {
		tmc_alloc_t a = TMC_ALLOC_INIT;
		struct gx_worker *w = &p->w[i];

		w->eq_size = eqn * sizeof(gxio_mpipe_edesc_t);
		tmc_alloc_set_home(&a, w->cpu);
		if (!tmc_alloc_set_pagesize(&a, w->eq_size) || !(w->eq_mem = tmc_alloc_map(&a, w->eq_size))) {
			gx_fail(msg, msg_len, "cannot map a %zu-byte eDMA ring", w->eq_size);
			goto fail;
		}
		rc = gxio_mpipe_equeue_init(&w->eq, &p->ctx, p->first_ering + i, (unsigned)p->channel, w->eq_mem,
					    (unsigned)w->eq_size, 0);
		if (rc < 0) {
			gx_fail(msg, msg_len, "gxio_mpipe_equeue_init: %d", rc);
			goto fail;
		}
	}

	/* Buffer stacks. */
	rc = gxio_mpipe_alloc_buffer_stacks(&p->ctx, n_kinds, 0, 0);
	if (rc < 0) {
		gx_fail(msg, msg_len, "gxio_mpipe_alloc_buffer_stacks(%u): %d", n_kinds, rc);
		goto fail;
	}
	for (unsigned i = 0; i < n_kinds; i++) {
		if (gx_stack_setup(p, &p->stack[i], (unsigned)rc + i, kinds[i], msg, msg_len) < 0)
			goto fail;
		p->n_stacks++;
	}
	/* Frames the stack builds come from the last stack: the one that
	 * holds a whole frame, the chain stack, or the TX stack for 128 B chains. */
	p->alloc_stack = p->stack[p->n_stacks - 1].idx;

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

	if (mtu > 1500)
		gxio_mpipe_link_set_attr(&p->link, GXIO_MPIPE_LINK_RECEIVE_JUMBO, 1);
	rc = gxio_mpipe_link_set_attr(&p->link, GXIO_MPIPE_LINK_DESIRED_STATE, GXIO_MPIPE_LINK_ANYSPEED);
	if (rc < 0) {
		gx_fail(msg, msg_len, "bringing link %s up: %d", cfg->link, rc);
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
	p->hal.mtu = mtu;
	p->hal.buf_size = (uint16_t)(p->bytes_of[p->alloc_stack] - USN_GX_HEADROOM);
	p->hal.n_bufs = p->bufs_per_stack / nw; /* the workers share each stack */
	return p;

fail:
	usn_gx_port_destroy(p);
	return NULL;
}

void usn_gx_port_destroy(struct usn_gx_port *p)
{
	if (!p)
		return;
	if (p->link_ok) {
		gxio_mpipe_link_set_attr(&p->link, GXIO_MPIPE_LINK_DESIRED_STATE, 0);
		gxio_mpipe_link_close(&p->link);
	}
	if (p->ctx_ok)
		gxio_mpipe_destroy(&p->ctx);
	for (unsigned i = 0; i < p->n_workers; i++) {
		if (p->w[i].iq_mem)
			tmc_alloc_unmap(p->w[i].iq_mem, p->w[i].iq_size);
		if (p->w[i].eq_mem)
			tmc_alloc_unmap(p->w[i].eq_mem, p->w[i].eq_size);
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

uint32_t usn_gx_port_bufs_per_stack(const struct usn_gx_port *p)
{
	return p->bufs_per_stack;
}
