/* x86 emulation of the mPIPE subset in gxio_subset.h: buffer stacks with
 * registered pages, the classifier (rules, flow hash, buckets, headroom,
 * custom header / l2 offset), the load balancer (bucket -> NotifRing, with
 * credits), ingress DMA into one or chained buffers, and the eDMA engine
 * (gen bits, gather, hwb buffer return, snf size). Its wire is a
 * simulated-link port. It refuses what the card would refuse or get wrong
 * (see gxio_emu.h) and counts it in usn_gxemu_stats. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gxio_emu.h"

#define EMU_LINKS 8
#define EMU_PAGES 16 /* registered pages per buffer stack (gxio/mpipe.h) */
#define EMU_MAX_FRAME 16384
#define EMU_CUSTOM_BYTE 0xc5
/* The MAC's limits with and without RECEIVE_JUMBO (drv_mpipe_intf.h: "up
 * to 10240 bytes", "up to 1544 bytes"). Whether they count the 4-byte FCS
 * is not said; the emulation counts it, the stricter reading. */
#define EMU_FRAME_MAX_JUMBO 10240
#define EMU_FRAME_MAX_STD 1544
#define EMU_FCS 4
/* eDMA blocks of 128 bytes: a ring's default snf size is 1536 bytes, i.e.
 * 12 blocks to start sending and 13 held (gxio_mpipe_equeue_set_snf_size's
 * arithmetic). The MDE says the shared pool "cannot support all 24 equeues
 * each requesting an snf size of 8K" (65 blocks each), so it holds fewer than
 * 1560; its real size is not in anything we could read. 1024 is this
 * emulation's assumption. */
#define EMU_EDMA_BLOCKS 1024
#define EMU_SNF_DEFAULT 1536
/* A buffer stack's memory holds 12 buffers per 64-byte cache line
 * (Linux's gxio_mpipe_calc_buffer_stack_bytes). */
#define EMU_BUFS_PER_LINE 12
#define EMU_LINE 64
/* Buffer states, one word per 128 bytes of registered memory: 0 never
 * seen, EMU_ON_STACK, or the emulation clock when software got it. */
#define EMU_ON_STACK (1ull << 63)
/* Owner of resources Linux's driver holds (usn_gxemu_hold_erings). */
#define EMU_HELD_BY_LINUX ((gxio_mpipe_context_t *)(uintptr_t)1)

struct emu_link {
	char name[16];
	struct usn_sim_port *port;
	uint8_t mac[6];
	unsigned users;      /* opens, all contexts */
	unsigned data_users; /* of which with data permission */
	bool excl_data;
	int64_t desired;
	bool jumbo;
};

struct usn_gxemu {
	struct usn_sim_link *link;
	struct emu_link links[EMU_LINKS];
	int n_links;
	/* One mPIPE's resources, shared by every context on the board. */
	gxio_mpipe_context_t *stack_owner[HV_MPIPE_NUM_BUFFER_STACKS];
	gxio_mpipe_context_t *ring_owner[HV_MPIPE_NUM_NOTIF_RINGS];
	gxio_mpipe_context_t *group_owner[HV_MPIPE_NUM_NOTIF_GROUPS];
	gxio_mpipe_context_t *bucket_owner[HV_MPIPE_NUM_BUCKETS];
	gxio_mpipe_context_t *ering_owner[HV_MPIPE_NUM_EDMA_RINGS];
	unsigned edma_blocks; /* held by initialised rings */
	uint8_t custom_hdr;
	uint16_t flow_key; /* the classifier's RSS key (usn_rss_hash) */
	enum usn_gxemu_fault fault;
	unsigned inject[3]; /* frames still to receive each enum usn_gxemu_inject */
	struct usn_gxemu_stats st;
};

struct emu_page {
	uintptr_t lo, hi;
	uint64_t *state; /* state[(a - lo) >> 7] */
};

struct emu_stack {
	bool init;
	unsigned size_enum;
	size_t buf_bytes;
	uintptr_t *slot; /* the emulation's own copy of the stack */
	size_t cap, n;
	struct emu_page page[EMU_PAGES];
	unsigned n_pages;
	uintptr_t last_pop; /* what a stale `be` descriptor names */
};

struct emu_ring {
	bool init;
	gxio_mpipe_idesc_t *mem;
	uint32_t entries;
	uint64_t tail, credited;
};

struct emu_bucket {
	bool init;
	uint16_t ring;
};

struct emu_ering {
	bool init;
	gxio_mpipe_edesc_t *mem;
	uint32_t entries, log2;
	uint64_t done; /* descriptors the engine has processed */
	unsigned channel;
	unsigned blks, snf; /* eDMA blocks held; snf size in bytes */
	uint8_t *frame;     /* the packet being gathered */
	size_t frame_len;
	bool frame_bad;
};

struct usn_gxemu_mpipe {
	struct emu_stack stack[HV_MPIPE_NUM_BUFFER_STACKS];
	struct emu_ring ring[HV_MPIPE_NUM_NOTIF_RINGS];
	struct emu_bucket bucket[HV_MPIPE_NUM_BUCKETS];
	struct emu_ering ering[HV_MPIPE_NUM_EDMA_RINGS];
	struct {
		unsigned opens;
		unsigned long flags;
	} link[EMU_LINKS];
	gxio_mpipe_rules_t rules; /* the committed list */
	uint64_t sqn;
	/* Fences: a clock that ticks at every hand-out of a buffer to software
	 * and at every fence; an edesc's buffer must have been handed out
	 * before the last fence. */
	uint64_t clock, fenced_at, last_handout;
	uint8_t rx[EMU_MAX_FRAME + 64];
};

static const size_t emu_class_bytes[8] = {128, 256, 512, 1024, 1664, 4096, 10368, 16384};

/* ---- the board ---- */

struct usn_gxemu *usn_gxemu_create(struct usn_sim_link *link)
{
	struct usn_gxemu *e = calloc(1, sizeof(*e));

	if (e) {
		e->link = link;
		e->flow_key = 0x6d5a; /* until a backend loads its own */
	}
	return e;
}

void usn_gxemu_destroy(struct usn_gxemu *e)
{
	free(e);
}

int usn_gxemu_add_link(struct usn_gxemu *e, const char *name, struct usn_sim_port *port, const uint8_t mac[6])
{
	struct emu_link *l;

	if (e->n_links == EMU_LINKS || strlen(name) >= sizeof(l->name))
		return -ENOSPC;
	l = &e->links[e->n_links++];
	strcpy(l->name, name);
	l->port = port;
	memcpy(l->mac, mac, 6);
	return 0;
}

void usn_gxemu_bind(gxio_mpipe_context_t *ctx, struct usn_gxemu *e)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->board = e;
}

void usn_gxemu_set_flow_key(struct usn_gxemu *e, uint16_t key)
{
	e->flow_key = key;
}

int usn_gxemu_hold_erings(struct usn_gxemu *e, unsigned n)
{
	for (unsigned i = 0; i < HV_MPIPE_NUM_EDMA_RINGS && n > 0; i++) {
		if (!e->ering_owner[i]) {
			e->ering_owner[i] = EMU_HELD_BY_LINUX;
			n--;
		}
	}
	return n ? -ENOSPC : 0;
}

void usn_gxemu_set_custom_header(struct usn_gxemu *e, uint8_t bytes)
{
	e->custom_hdr = bytes < 64 ? bytes : 63;
}

void usn_gxemu_set_fault(struct usn_gxemu *e, enum usn_gxemu_fault f)
{
	e->fault = f;
}

void usn_gxemu_inject(struct usn_gxemu *e, enum usn_gxemu_inject what, unsigned frames)
{
	if ((unsigned)what < 3)
		e->inject[what] = frames;
}

void usn_gxemu_stats(const struct usn_gxemu *e, struct usn_gxemu_stats *out)
{
	*out = e->st;
}

long usn_gxemu_stack_count(gxio_mpipe_context_t *ctx, unsigned stack)
{
	if (!ctx->mpipe || stack >= HV_MPIPE_NUM_BUFFER_STACKS || !ctx->mpipe->stack[stack].init)
		return -1;
	return (long)ctx->mpipe->stack[stack].n;
}

unsigned usn_gxemu_ering_snf(gxio_mpipe_context_t *ctx, unsigned ering)
{
	if (!ctx->mpipe || ering >= HV_MPIPE_NUM_EDMA_RINGS || !ctx->mpipe->ering[ering].init)
		return 0;
	return ctx->mpipe->ering[ering].snf;
}

uint64_t usn_gxemu_cycles(gxio_mpipe_context_t *ctx)
{
	return usn_sim_link_now_us(ctx->board->link) * (tmc_perf_get_cpu_speed() / 1000000u);
}

void usn_gxemu_fence(gxio_mpipe_context_t *ctx)
{
	ctx->mpipe->fenced_at = ++ctx->mpipe->clock;
	ctx->board->st.fences++;
}

/* Memory the card can DMA to as one block lies in one page. Memory not
 * from tmc_alloc_map is taken to be in 64 KB base pages. */
static bool emu_contiguous(const void *mem, size_t size)
{
	uintptr_t a = (uintptr_t)mem;
	size_t ps = usn_tmc_emu_mapping_pagesize(mem, size);

	if (!ps)
		ps = (size_t)64 << 10;
	return size > 0 && a / ps == (a + size - 1) / ps;
}

/* First fit of count consecutive free entries; the index of the first. */
static int emu_alloc(gxio_mpipe_context_t **owner, unsigned total, gxio_mpipe_context_t *ctx, unsigned count,
		     int err)
{
	if (count == 0)
		return 0; /* "the return value is NOT interesting if count is zero" */
	for (unsigned s = 0; s + count <= total; s++) {
		unsigned k = 0;
		while (k < count && !owner[s + k])
			k++;
		if (k == count) {
			for (k = 0; k < count; k++)
				owner[s + k] = ctx;
			return (int)s;
		}
		s += k;
	}
	return err;
}

static void emu_release(gxio_mpipe_context_t **owner, unsigned total, gxio_mpipe_context_t *ctx)
{
	for (unsigned i = 0; i < total; i++) {
		if (owner[i] == ctx)
			owner[i] = NULL;
	}
}

/* ---- context and links ---- */

int gxio_mpipe_init(gxio_mpipe_context_t *context, unsigned int mpipe_instance)
{
	/* TILE-Gx36 has one mPIPE. */
	if (!context->board || mpipe_instance != 0)
		return GXIO_ERR_NO_DEVICE;
	context->mpipe = calloc(1, sizeof(*context->mpipe));
	if (!context->mpipe)
		return GXIO_ERR_NO_MEMORY;
	context->instance = (int)mpipe_instance;
	return 0;
}

static void emu_link_drop(struct usn_gxemu *e, struct usn_gxemu_mpipe *m, unsigned i)
{
	struct emu_link *l = &e->links[i];
	unsigned long f = m->link[i].flags;

	m->link[i].opens--;
	l->users--;
	if (!(f & GXIO_MPIPE_LINK_NO_DATA)) {
		l->data_users--;
		if (f & GXIO_MPIPE_LINK_EXCL_DATA)
			l->excl_data = false;
	}
	/* AUTO_UPDOWN (the default) and AUTO_DOWN: the last user to close
	 * takes the link down; nobody else's close does. */
	if (l->users == 0 && !(f & (GXIO_MPIPE_LINK_AUTO_UP | GXIO_MPIPE_LINK_AUTO_NONE)))
		l->desired = 0;
}

int gxio_mpipe_destroy(gxio_mpipe_context_t *context)
{
	struct usn_gxemu_mpipe *m = context->mpipe;
	struct usn_gxemu *e = context->board;

	if (!m)
		return GXIO_ERR_INVAL;
	/* As a process exit: its links close, its resources go back. */
	for (int i = 0; i < e->n_links; i++) {
		while (m->link[i].opens > 0)
			emu_link_drop(e, m, (unsigned)i);
	}
	for (unsigned i = 0; i < HV_MPIPE_NUM_EDMA_RINGS; i++) {
		if (m->ering[i].init)
			e->edma_blocks -= m->ering[i].blks;
		free(m->ering[i].frame);
	}
	for (unsigned i = 0; i < HV_MPIPE_NUM_BUFFER_STACKS; i++) {
		free(m->stack[i].slot);
		for (unsigned k = 0; k < m->stack[i].n_pages; k++)
			free(m->stack[i].page[k].state);
	}
	emu_release(e->stack_owner, HV_MPIPE_NUM_BUFFER_STACKS, context);
	emu_release(e->ring_owner, HV_MPIPE_NUM_NOTIF_RINGS, context);
	emu_release(e->group_owner, HV_MPIPE_NUM_NOTIF_GROUPS, context);
	emu_release(e->bucket_owner, HV_MPIPE_NUM_BUCKETS, context);
	emu_release(e->ering_owner, HV_MPIPE_NUM_EDMA_RINGS, context);
	free(m);
	context->mpipe = NULL;
	return 0;
}

int gxio_mpipe_link_instance(const char *link_name)
{
	(void)link_name;
	return 0;
}

int gxio_mpipe_link_open(gxio_mpipe_link_t *link, gxio_mpipe_context_t *context, const char *link_name,
			 unsigned int flags)
{
	struct usn_gxemu *e = context->board;
	unsigned long f = flags;

	if (!context->mpipe)
		return GXIO_ERR_INVAL;
	if (!(f & (GXIO_MPIPE_LINK_AUTO_UP | GXIO_MPIPE_LINK_AUTO_UPDOWN | GXIO_MPIPE_LINK_AUTO_DOWN |
		   GXIO_MPIPE_LINK_AUTO_NONE)))
		f |= GXIO_MPIPE_LINK_AUTO_UPDOWN;
	for (int i = 0; e && i < e->n_links; i++) {
		struct emu_link *l = &e->links[i];

		if (strcmp(l->name, link_name) != 0)
			continue;
		if (!(f & GXIO_MPIPE_LINK_NO_DATA)) {
			/* Data permission is shared unless someone asks for it
			 * exclusively. */
			if (l->excl_data || ((f & GXIO_MPIPE_LINK_EXCL_DATA) && l->data_users > 0))
				return GXIO_MPIPE_ERR_BAD_LINK;
			l->data_users++;
			l->excl_data = (f & GXIO_MPIPE_LINK_EXCL_DATA) != 0;
		}
		l->users++;
		context->mpipe->link[i].opens++;
		context->mpipe->link[i].flags = f;
		/* AUTO_UP and AUTO_UPDOWN bring a down link up at any speed;
		 * a link already up keeps its desired state. */
		if ((f & (GXIO_MPIPE_LINK_AUTO_UP | GXIO_MPIPE_LINK_AUTO_UPDOWN)) &&
		    !(l->desired & (int64_t)GXIO_MPIPE_LINK_SPEED_MASK))
			l->desired = (int64_t)GXIO_MPIPE_LINK_ANYSPEED;
		link->context = context;
		link->channel = (uint8_t)i;
		link->mac = (uint8_t)i;
		return 0;
	}
	return GXIO_ERR_NO_DEVICE;
}

static bool emu_link_open_by(gxio_mpipe_link_t *link)
{
	return link->context && link->context->mpipe && link->channel < EMU_LINKS &&
	       link->context->mpipe->link[link->channel].opens > 0;
}

int gxio_mpipe_link_close(gxio_mpipe_link_t *link)
{
	if (!emu_link_open_by(link))
		return GXIO_MPIPE_ERR_BAD_LINK;
	emu_link_drop(link->context->board, link->context->mpipe, link->channel);
	return 0;
}

int gxio_mpipe_link_channel(gxio_mpipe_link_t *link)
{
	return link->channel;
}

int64_t gxio_mpipe_link_get_attr(gxio_mpipe_link_t *link, uint32_t attr)
{
	struct emu_link *l;
	int64_t mac = 0;

	if (!emu_link_open_by(link))
		return GXIO_MPIPE_ERR_BAD_LINK;
	l = &link->context->board->links[link->channel];
	switch (attr) {
	case GXIO_MPIPE_LINK_MAC:
		for (int i = 0; i < 6; i++)
			mac = (mac << 8) | l->mac[i];
		return mac;
	case GXIO_MPIPE_LINK_CURRENT_STATE:
		/* The emulated link is a 10G one, up whenever it is wanted
		 * up at a speed it can run. */
		return (l->desired & (int64_t)(GXIO_MPIPE_LINK_10G | GXIO_MPIPE_LINK_ANYSPEED))
			       ? (int64_t)GXIO_MPIPE_LINK_10G
			       : 0;
	case GXIO_MPIPE_LINK_DESIRED_STATE:
		return l->desired;
	case GXIO_MPIPE_LINK_POSSIBLE_STATE:
		return (int64_t)(GXIO_MPIPE_LINK_1G | GXIO_MPIPE_LINK_10G);
	case GXIO_MPIPE_LINK_RECEIVE_JUMBO:
		return l->jumbo;
	default:
		return GXIO_ERR_INVAL;
	}
}

int gxio_mpipe_link_set_attr(gxio_mpipe_link_t *link, uint32_t attr, int64_t val)
{
	struct emu_link *l;

	if (!emu_link_open_by(link))
		return GXIO_MPIPE_ERR_BAD_LINK;
	if (link->context->mpipe->link[link->channel].flags & GXIO_MPIPE_LINK_NO_CTL)
		return GXIO_MPIPE_ERR_BAD_LINK;
	l = &link->context->board->links[link->channel];
	switch (attr) {
	case GXIO_MPIPE_LINK_DESIRED_STATE:
		l->desired = val;
		return 0;
	case GXIO_MPIPE_LINK_RECEIVE_JUMBO:
		l->jumbo = val != 0;
		return 0;
	default:
		return GXIO_ERR_INVAL; /* MAC, POSSIBLE and CURRENT are read-only */
	}
}

/* ---- buffer stacks ---- */

static bool emu_owns(gxio_mpipe_context_t *const *owner, unsigned total, unsigned idx, gxio_mpipe_context_t *ctx)
{
	return idx < total && owner[idx] == ctx;
}

int gxio_mpipe_alloc_buffer_stacks(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				   unsigned int flags)
{
	(void)first;
	(void)flags;
	return emu_alloc(context->board->stack_owner, HV_MPIPE_NUM_BUFFER_STACKS, context, count,
			 GXIO_MPIPE_ERR_NO_BUFFER_STACK);
}

size_t gxio_mpipe_buffer_size_enum_to_buffer_size(gxio_mpipe_buffer_size_enum_t e)
{
	return emu_class_bytes[(unsigned)e & 7u];
}

/* The smallest class that holds `size` bytes (16384 if none). */
gxio_mpipe_buffer_size_enum_t gxio_mpipe_buffer_size_to_buffer_size_enum(size_t size)
{
	unsigned k = 0;

	while (k < 7 && emu_class_bytes[k] < size)
		k++;
	return (gxio_mpipe_buffer_size_enum_t)k;
}

/* 12 buffers per 64-byte cache line, as Linux's gxio computes it. */
size_t gxio_mpipe_calc_buffer_stack_bytes(unsigned long buffers)
{
	return ((size_t)buffers + EMU_BUFS_PER_LINE - 1) / EMU_BUFS_PER_LINE * EMU_LINE;
}

int gxio_mpipe_init_buffer_stack(gxio_mpipe_context_t *context, unsigned int stack,
				 gxio_mpipe_buffer_size_enum_t buffer_size_enum, void *mem, size_t mem_size,
				 unsigned int mem_flags)
{
	struct emu_stack *s;
	size_t cap = mem_size / EMU_LINE * EMU_BUFS_PER_LINE;

	(void)mem_flags;
	if (!emu_owns(context->board->stack_owner, HV_MPIPE_NUM_BUFFER_STACKS, stack, context))
		return GXIO_MPIPE_ERR_BAD_BUFFER_STACK;
	if ((unsigned)buffer_size_enum > 7)
		return GXIO_MPIPE_ERR_INVAL_BUFFER_SIZE;
	/* Physically contiguous and 64 KB aligned. */
	if (((uintptr_t)mem & 0xffffu) != 0)
		return GXIO_ERR_ALIGNMENT;
	if (cap == 0 || !emu_contiguous(mem, mem_size))
		return GXIO_ERR_INVAL_MEMORY_SIZE;
	s = &context->mpipe->stack[stack];
	free(s->slot);
	for (unsigned k = 0; k < s->n_pages; k++)
		free(s->page[k].state);
	memset(s, 0, sizeof(*s));
	s->slot = calloc(cap, sizeof(*s->slot));
	if (!s->slot)
		return GXIO_ERR_NO_MEMORY;
	memset(mem, 0, mem_size); /* from now on the card's */
	s->init = true;
	s->size_enum = (unsigned)buffer_size_enum;
	s->buf_bytes = emu_class_bytes[buffer_size_enum];
	s->cap = cap;
	return 0;
}

/* Registers one whole page of a size the OS offers, aligned to it and
 * mapped with pages at least that large; at most 16 per stack. */
int gxio_mpipe_register_page(gxio_mpipe_context_t *context, unsigned int stack, void *page, size_t page_size,
			     unsigned int page_flags)
{
	struct emu_stack *s;
	size_t mapped;

	(void)page_flags;
	if (!emu_owns(context->board->stack_owner, HV_MPIPE_NUM_BUFFER_STACKS, stack, context) ||
	    !context->mpipe->stack[stack].init)
		return GXIO_MPIPE_ERR_BAD_BUFFER_STACK;
	s = &context->mpipe->stack[stack];
	if (s->n_pages == EMU_PAGES)
		return GXIO_ERR_IOTLB_ENTRY;
	mapped = usn_tmc_emu_mapping_pagesize(page, page_size);
	if (!mapped)
		mapped = (size_t)64 << 10;
	if ((page_size & (page_size - 1)) != 0 || !(tmc_alloc_get_pagesizes() & page_size) || mapped < page_size ||
	    ((uintptr_t)page & (page_size - 1)) != 0 || (uintptr_t)page + page_size > ((uintptr_t)1 << 41))
		return GXIO_ERR_INVAL;
	s->page[s->n_pages].state = calloc(page_size / 128, sizeof(uint64_t));
	if (!s->page[s->n_pages].state)
		return GXIO_ERR_NO_MEMORY;
	s->page[s->n_pages].lo = (uintptr_t)page;
	s->page[s->n_pages].hi = (uintptr_t)page + page_size;
	s->n_pages++;
	return 0;
}

static uint64_t *emu_state(struct emu_stack *s, uintptr_t a)
{
	for (unsigned i = 0; i < s->n_pages; i++) {
		if (a >= s->page[i].lo && a < s->page[i].hi)
			return &s->page[i].state[(a - s->page[i].lo) >> 7];
	}
	return NULL;
}

/* A buffer may straddle two registered pages (buffers sit back to back
 * in the app's pages), never leave them. */
static bool emu_buffer_registered(struct emu_stack *s, uintptr_t va)
{
	return emu_state(s, va) && emu_state(s, va + s->buf_bytes - 1);
}

static struct emu_stack *emu_stack_of(gxio_mpipe_context_t *ctx, unsigned stack)
{
	if (!emu_owns(ctx->board->stack_owner, HV_MPIPE_NUM_BUFFER_STACKS, stack, ctx) || !ctx->mpipe->stack[stack].init)
		return NULL;
	return &ctx->mpipe->stack[stack];
}

/* A push, by software or by hwb. A buffer already on a stack, or outside
 * the registered pages, is refused and counted: on the card the first
 * makes two owners of one buffer, the second a DMA to unmapped memory. */
static void emu_push(gxio_mpipe_context_t *ctx, unsigned stack, uintptr_t va)
{
	struct emu_stack *s = emu_stack_of(ctx, stack);
	uint64_t *st;

	va &= ~(uintptr_t)127; /* the low seven bits are ignored */
	if (!s || !emu_buffer_registered(s, va) || s->n == s->cap) {
		ctx->board->st.bad_push++;
		return;
	}
	st = emu_state(s, va);
	if (*st & EMU_ON_STACK) {
		ctx->board->st.bad_push++;
		return;
	}
	*st = EMU_ON_STACK;
	s->slot[s->n++] = va;
}

/* Hands the top buffer to software (or to the ingress DMA, for software). */
static uintptr_t emu_pop(struct usn_gxemu_mpipe *m, struct emu_stack *s)
{
	uintptr_t va = s->slot[--s->n];

	*emu_state(s, va) = ++m->clock;
	m->last_handout = m->clock;
	s->last_pop = va;
	return va;
}

void gxio_mpipe_push_buffer(gxio_mpipe_context_t *context, unsigned int stack, void *buffer)
{
	emu_push(context, stack, (uintptr_t)buffer);
}

void *gxio_mpipe_pop_buffer(gxio_mpipe_context_t *context, unsigned int stack)
{
	struct emu_stack *s = emu_stack_of(context, stack);

	if (!s || s->n == 0)
		return NULL;
	return (void *)emu_pop(context->mpipe, s);
}

/* ---- NotifRings, groups, buckets ---- */

int gxio_mpipe_alloc_notif_rings(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				 unsigned int flags)
{
	(void)first;
	(void)flags;
	return emu_alloc(context->board->ring_owner, HV_MPIPE_NUM_NOTIF_RINGS, context, count,
			 GXIO_MPIPE_ERR_NO_NOTIF_RING);
}

int gxio_mpipe_alloc_notif_groups(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				  unsigned int flags)
{
	(void)first;
	(void)flags;
	return emu_alloc(context->board->group_owner, HV_MPIPE_NUM_NOTIF_GROUPS, context, count,
			 GXIO_MPIPE_ERR_NO_NOTIF_GROUP);
}

int gxio_mpipe_alloc_buckets(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
			     unsigned int flags)
{
	(void)first;
	(void)flags;
	return emu_alloc(context->board->bucket_owner, HV_MPIPE_NUM_BUCKETS, context, count, GXIO_MPIPE_ERR_NO_BUCKET);
}

/* Each bucket gets a ring chosen round-robin from the given ones: bucket
 * i -> ring + i % num_rings. With static flow affinity it never moves. */
int gxio_mpipe_init_notif_group_and_buckets(gxio_mpipe_context_t *context, unsigned int group, unsigned int ring,
					    unsigned int num_rings, unsigned int bucket, unsigned int num_buckets,
					    gxio_mpipe_bucket_mode_t mode)
{
	struct usn_gxemu *e = context->board;
	struct usn_gxemu_mpipe *m = context->mpipe;

	if (!emu_owns(e->group_owner, HV_MPIPE_NUM_NOTIF_GROUPS, group, context))
		return GXIO_MPIPE_ERR_BAD_NOTIF_GROUP;
	if (num_rings == 0 || ring + num_rings > HV_MPIPE_NUM_NOTIF_RINGS)
		return GXIO_MPIPE_ERR_BAD_NOTIF_RING;
	for (unsigned i = 0; i < num_rings; i++) {
		if (!emu_owns(e->ring_owner, HV_MPIPE_NUM_NOTIF_RINGS, ring + i, context))
			return GXIO_MPIPE_ERR_BAD_NOTIF_RING;
	}
	if (num_buckets == 0 || bucket + num_buckets > HV_MPIPE_NUM_BUCKETS)
		return GXIO_MPIPE_ERR_BAD_BUCKET;
	/* Only the mode the backend uses is emulated. */
	if (mode != GXIO_MPIPE_BUCKET_STATIC_FLOW_AFFINITY)
		return GXIO_ERR_INVAL;
	for (unsigned i = 0; i < num_buckets; i++) {
		if (!emu_owns(e->bucket_owner, HV_MPIPE_NUM_BUCKETS, bucket + i, context))
			return GXIO_MPIPE_ERR_BAD_BUCKET;
		m->bucket[bucket + i].init = true;
		m->bucket[bucket + i].ring = (uint16_t)(ring + i % num_rings);
	}
	return 0;
}

/* One MMIO store. Credits beyond the descriptors the ring has received
 * would let mPIPE overwrite ones software has not read yet. */
void gxio_mpipe_credit(gxio_mpipe_context_t *context, int ring, int bucket, unsigned int count)
{
	struct usn_gxemu *e = context->board;

	e->st.credit_writes++;
	if (ring >= 0) {
		struct emu_ring *r = &context->mpipe->ring[ring < HV_MPIPE_NUM_NOTIF_RINGS ? ring : 0];
		if (!emu_owns(e->ring_owner, HV_MPIPE_NUM_NOTIF_RINGS, (unsigned)ring, context) || !r->init) {
			e->st.bad_credit++;
		} else {
			r->credited += count;
			if (r->credited > r->tail) {
				e->st.bad_credit++;
				r->credited = r->tail;
			}
		}
	}
	/* Bucket credits matter only to dynamic flow affinity; the bucket
	 * must still be the context's. */
	if (bucket >= 0 && !emu_owns(e->bucket_owner, HV_MPIPE_NUM_BUCKETS, (unsigned)bucket, context))
		e->st.bad_credit++;
}

/* ---- the classifier and ingress DMA ---- */

static uint32_t emu_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t emu_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The flow hash: the same symmetric hash the stack and the simulated link
 * use (usn_rss_hash, with the key the backend loaded) over IPv4 addresses
 * and TCP/UDP ports; other frames hash their two MAC addresses. */
static uint32_t emu_flow_hash(uint16_t key, const uint8_t *f, size_t len)
{
	if (len >= 34 && emu_be16(f + 12) == 0x0800 && (f[14] >> 4) == 4) {
		size_t ihl = (size_t)(f[14] & 15u) * 4u;
		uint32_t src = emu_be32(f + 26), dst = emu_be32(f + 30);
		uint8_t proto = f[23];
		bool first_frag = (emu_be16(f + 20) & 0x1fffu) == 0;

		if ((proto == 6 || proto == 17) && first_frag && ihl >= 20 && len >= 14 + ihl + 4)
			return usn_rss_hash(key, src, dst, emu_be16(f + 14 + ihl), emu_be16(f + 14 + ihl + 2));
		return usn_rss_hash(key, src, dst, 0, 0);
	}
	if (len >= 12) {
		uint32_t h = 2166136261u;
		for (int i = 0; i < 6; i++)
			h = (h ^ (uint32_t)(f[i] ^ f[6 + i])) * 16777619u;
		return h;
	}
	return 0;
}

static int emu_rule_for(const gxio_mpipe_rules_t *r, unsigned channel)
{
	for (int i = 0; i < r->n; i++) {
		if (r->rule[i].channel_mask == 0 || (r->rule[i].channel_mask & (1u << channel)))
			return i;
	}
	return -1;
}

/* Puts back buffers the ingress DMA took but will not deliver (a chain cut
 * short by an empty stack: see USN_GXEMU_INJECT_CHAIN_BE). */
static void emu_unpop(struct emu_stack *s, const uintptr_t *buf, size_t n)
{
	while (n-- > 0) {
		*emu_state(s, buf[n]) = EMU_ON_STACK;
		s->slot[s->n++] = buf[n];
	}
}

static void emu_deliver(struct usn_gxemu *e, struct emu_ring *ring, const gxio_mpipe_idesc_t *d)
{
	ring->mem[ring->tail & (ring->entries - 1)] = *d;
	ring->tail++;
	if (d->be || d->me || d->tr || d->ce)
		e->st.rx_errors++;
	else
		e->st.rx_frames++;
}

static void emu_ingress(gxio_mpipe_context_t *ctx, unsigned channel, const uint8_t *frame, size_t len)
{
	struct usn_gxemu *e = ctx->board;
	struct usn_gxemu_mpipe *m = ctx->mpipe;
	const gxio_mpipe_rules_t *rules = &m->rules;
	uint8_t *pkt = m->rx;
	size_t hdr = e->custom_hdr, size = hdr + len, pos = 0, first_cap, nb, filled;
	size_t frame_max = e->links[channel].jumbo ? EMU_FRAME_MAX_JUMBO : EMU_FRAME_MAX_STD;
	uintptr_t buf[EMU_MAX_FRAME / 128 + 2];
	unsigned order[EMU_MAX_FRAME / 128 + 2];
	struct emu_stack *s = NULL;
	struct emu_ring *ring;
	gxio_mpipe_idesc_t d;
	uint32_t hash;
	unsigned bucket, headroom, stack = 0;
	bool chained, cut_short;
	int ri;

	ri = emu_rule_for(rules, channel);
	if (!(e->links[channel].desired & (int64_t)GXIO_MPIPE_LINK_SPEED_MASK) || ri < 0 ||
	    size > EMU_MAX_FRAME - 1 || len + EMU_FCS > frame_max) {
		e->st.rx_no_rule++;
		return;
	}
	hash = emu_flow_hash(e->flow_key, frame, len);
	bucket = rules->rule[ri].bucket + (hash & (rules->rule[ri].num_buckets - 1));
	if (bucket >= HV_MPIPE_NUM_BUCKETS || !m->bucket[bucket].init) {
		e->st.rx_no_rule++;
		return;
	}
	ring = &m->ring[m->bucket[bucket].ring];
	if (!ring->init || ring->tail - ring->credited >= ring->entries) {
		e->st.rx_ring_full++;
		return;
	}
	headroom = rules->rule[ri].headroom;

	/* Buffer stack: with no stack table, the smallest stack that holds the
	 * packet without chaining; with one, the entry for the packet's size
	 * class (255: drop), chaining when the buffer is too small. */
	if (!rules->rule[ri].stacks_given) {
		for (unsigned i = 0; i < HV_MPIPE_NUM_BUFFER_STACKS; i++) {
			struct emu_stack *c = &m->stack[i];
			if (c->init && c->buf_bytes >= size + headroom && (!s || c->buf_bytes < s->buf_bytes)) {
				s = c;
				stack = i;
			}
		}
	} else {
		unsigned k = 0;
		while (k < 7 && emu_class_bytes[k] < size)
			k++;
		stack = rules->rule[ri].stacks.stacks[k];
		if (stack < HV_MPIPE_NUM_BUFFER_STACKS && m->stack[stack].init)
			s = &m->stack[stack];
	}
	if (!s) {
		e->st.rx_no_stack++;
		return;
	}
	chained = size + headroom > s->buf_bytes;
	if (chained && 8 + headroom >= 128) {
		e->st.rx_no_stack++; /* the offset must fit the va's low 7 bits */
		return;
	}
	first_cap = s->buf_bytes - (chained ? 8 + headroom : headroom);
	nb = chained ? 1 + (size - first_cap + s->buf_bytes - 9) / (s->buf_bytes - 8) : 1;

	memset(&d, 0, sizeof(d));
	d.notif_ring = (uint64_t)(ring - m->ring);
	d.channel = channel;
	d.l2_size = size;
	d.bucket_id = bucket;
	d.custom0 = hash;
	d.custom1 = (uint64_t)(e->fault == USN_GXEMU_FAULT_L2_OFFSET ? 0 : hdr) << 32 | 0xffffu |
		    (uint64_t)(len >= 14 ? emu_be16(frame + 12) : 0) << 16;
	d.packet_sqn = ++m->sqn & ((1ull << 48) - 1);
	d.stack_idx = stack;
	d.hwb = 1;
	d.size = s->size_enum;
	d.c = chained ? MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED : MPIPE_EDMA_DESC_WORD1__C_VAL_UNCHAINED;

	/* A buffer error: no buffer holds the frame. The descriptor still
	 * names one, stale: on the card "va" "may be misleading if be is set";
	 * here it is a buffer still on the stack (or, the stack being empty,
	 * the one software got last), with a chain status that looks valid. */
	if (e->inject[USN_GXEMU_INJECT_BE] > 0 || s->n < nb) {
		if (s->n < nb)
			e->st.rx_no_buffer++;
		else
			e->inject[USN_GXEMU_INJECT_BE]--;
		d.be = 1;
		d.va = (int64_t)((s->n ? s->slot[s->n - 1] : s->last_pop) + (chained ? 8 + headroom : headroom));
		emu_deliver(e, ring, &d);
		return;
	}
	cut_short = chained && e->inject[USN_GXEMU_INJECT_CHAIN_BE] > 0;
	filled = cut_short ? nb / 2 : nb; /* nb >= 2 when chained: filled >= 1 */
	buf[0] = 0;
	for (size_t i = 0; i < filled; i++)
		buf[i] = emu_pop(m, s);

	/* DMA: the custom header (if any), then the frame, buffer by buffer. */
	memmove(pkt + hdr, frame, len); /* frame may already sit in pkt */
	memset(pkt, EMU_CUSTOM_BYTE, hdr);
	for (size_t i = 0; i < filled; i++) {
		size_t off = chained ? (i == 0 ? 8 + headroom : 8) : headroom;
		size_t take = s->buf_bytes - off < size - pos ? s->buf_bytes - off : size - pos;
		memcpy((uint8_t *)buf[i] + off, pkt + pos, take);
		pos += take;
	}
	/* Chain links: each buffer's first 8 bytes describe the next one. */
	if (chained) {
		for (size_t i = 0; i < filled; i++)
			order[i] = (unsigned)i;
		if (e->fault == USN_GXEMU_FAULT_CHAIN_ORDER) {
			for (size_t i = 1; i < filled; i++)
				order[i] = (unsigned)(filled - i);
		}
		for (size_t j = 0; j < filled; j++) {
			gxio_mpipe_edesc_t next;
			memset(&next, 0, sizeof(next));
			if (j + 1 < filled) {
				next.va = (int64_t)(buf[order[j + 1]] + 8);
				next.stack_idx = stack;
				next.hwb = 1;
				next.size = s->size_enum;
				next.c = MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED;
			} else {
				next.c = MPIPE_EDMA_DESC_WORD1__C_VAL_INVALID;
			}
			memcpy((void *)buf[order[j]], &next.words[1], 8);
		}
	}
	d.va = (int64_t)(buf[0] + (chained ? 8 + headroom : headroom));
	if (cut_short) {
		/* The stack ran dry mid-chain: be, and (the emulation's
		 * assumption) the filled buffers go back to the stack. */
		e->inject[USN_GXEMU_INJECT_CHAIN_BE]--;
		e->st.rx_no_buffer++;
		d.be = 1;
		emu_unpop(s, buf, filled);
	} else if (chained && e->inject[USN_GXEMU_INJECT_CHAIN_CE] > 0) {
		e->inject[USN_GXEMU_INJECT_CHAIN_CE]--;
		d.ce = 1; /* bad CRC, found after the chain was written */
	}
	emu_deliver(e, ring, &d);
	if (chained && !d.be && !d.ce)
		e->st.rx_chained++;
}

/* Moves what the wire delivered to this context's links into its rings. */
static void emu_ingress_pump(gxio_mpipe_context_t *ctx)
{
	struct usn_gxemu *e = ctx->board;
	struct usn_gxemu_mpipe *m = ctx->mpipe;

	for (int i = 0; i < e->n_links; i++) {
		size_t len;
		if (m->link[i].opens == 0 || (m->link[i].flags & GXIO_MPIPE_LINK_NO_DATA))
			continue;
		/* Bounded: at most a ring's worth per call. */
		for (int k = 0; k < 2048; k++) {
			len = usn_sim_port_recv_raw(e->links[i].port, m->rx + 64, EMU_MAX_FRAME - 64);
			if (len == 0)
				break;
			emu_ingress(ctx, (unsigned)i, m->rx + 64, len);
		}
	}
}

/* NotifRing memory: physically contiguous and 4 KB aligned. */
int gxio_mpipe_iqueue_init(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_context_t *context, unsigned int ring,
			   void *mem, size_t mem_size, unsigned int mem_flags)
{
	size_t n = mem_size / sizeof(gxio_mpipe_idesc_t);
	struct emu_ring *r;

	(void)mem_flags;
	if (!emu_owns(context->board->ring_owner, HV_MPIPE_NUM_NOTIF_RINGS, ring, context))
		return GXIO_MPIPE_ERR_BAD_NOTIF_RING;
	if (n * sizeof(gxio_mpipe_idesc_t) != mem_size || (n != 128 && n != 512 && n != 2048 && n != 65536))
		return GXIO_ERR_INVAL_MEMORY_SIZE;
	if (((uintptr_t)mem & 4095u) != 0)
		return GXIO_ERR_ALIGNMENT;
	if (!emu_contiguous(mem, mem_size))
		return GXIO_ERR_INVAL_MEMORY_SIZE;
	r = &context->mpipe->ring[ring];
	memset(mem, 0, mem_size);
	r->mem = mem;
	r->entries = (uint32_t)n;
	r->tail = r->credited = 0;
	r->init = true;
	memset(iqueue, 0, sizeof(*iqueue));
	iqueue->context = context;
	iqueue->idescs = mem;
	iqueue->num_entries = n;
	iqueue->mask_num_entries = n - 1;
	while ((1ul << iqueue->log2_num_entries) < n)
		iqueue->log2_num_entries++;
	iqueue->ring = ring;
	return 0;
}

int gxio_mpipe_iqueue_try_peek(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t **idesc_ref)
{
	struct emu_ring *r = &iqueue->context->mpipe->ring[iqueue->ring];
	uint64_t avail, idx;

	emu_ingress_pump(iqueue->context);
	avail = r->tail - iqueue->head;
	idx = iqueue->head & iqueue->mask_num_entries;
	if (avail > iqueue->num_entries - idx)
		avail = iqueue->num_entries - idx; /* contiguous only */
	if (avail == 0) {
		*idesc_ref = NULL;
		return GXIO_MPIPE_ERR_IQUEUE_EMPTY;
	}
	*idesc_ref = &iqueue->idescs[idx];
	return (int)avail;
}

void gxio_mpipe_iqueue_advance(gxio_mpipe_iqueue_t *iqueue, int count)
{
	struct emu_ring *r = &iqueue->context->mpipe->ring[iqueue->ring];

	iqueue->head += (uint64_t)count;
	if (count < 0 || iqueue->head > r->tail) {
		iqueue->context->board->st.bad_credit++;
		iqueue->head = r->tail;
	}
}

void gxio_mpipe_iqueue_consume(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc)
{
	gxio_mpipe_iqueue_advance(iqueue, 1);
	gxio_mpipe_credit(iqueue->context, (int)iqueue->ring, (int)idesc->bucket_id, 1);
}

int gxio_mpipe_iqueue_try_get(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc)
{
	gxio_mpipe_idesc_t *d;
	int rc = gxio_mpipe_iqueue_try_peek(iqueue, &d);

	if (rc < 0)
		return rc;
	*idesc = *d;
	gxio_mpipe_iqueue_consume(iqueue, d);
	return 0;
}

/* ---- eDMA ---- */

int gxio_mpipe_alloc_edma_rings(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				unsigned int flags)
{
	(void)first;
	(void)flags;
	return emu_alloc(context->board->ering_owner, HV_MPIPE_NUM_EDMA_RINGS, context, count,
			 GXIO_MPIPE_ERR_NO_EDMA_RING);
}

/* eDMA ring memory: physically contiguous and 1 KB aligned; the channel
 * one of a link the context opened with data permission. */
int gxio_mpipe_equeue_init(gxio_mpipe_equeue_t *equeue, gxio_mpipe_context_t *context, unsigned int ering,
			   unsigned int channel, void *mem, unsigned int mem_size, unsigned int mem_flags)
{
	struct usn_gxemu *e = context->board;
	size_t n = mem_size / sizeof(gxio_mpipe_edesc_t);
	unsigned blks = EMU_SNF_DEFAULT / 128 + 1;
	struct emu_ering *r;

	(void)mem_flags;
	if (!emu_owns(e->ering_owner, HV_MPIPE_NUM_EDMA_RINGS, ering, context))
		return GXIO_MPIPE_ERR_BAD_EDMA_RING;
	if (n * sizeof(gxio_mpipe_edesc_t) != mem_size || (n != 512 && n != 2048 && n != 8192 && n != 65536))
		return GXIO_ERR_INVAL_MEMORY_SIZE;
	if (((uintptr_t)mem & 1023u) != 0)
		return GXIO_ERR_ALIGNMENT;
	if (!emu_contiguous(mem, mem_size))
		return GXIO_ERR_INVAL_MEMORY_SIZE;
	if ((int)channel >= e->n_links || context->mpipe->link[channel].opens == 0 ||
	    (context->mpipe->link[channel].flags & GXIO_MPIPE_LINK_NO_DATA))
		return GXIO_MPIPE_ERR_BAD_LINK;
	r = &context->mpipe->ering[ering];
	if (r->init)
		e->edma_blocks -= r->blks;
	if (e->edma_blocks + blks > EMU_EDMA_BLOCKS)
		return GXIO_ERR_NO_MEMORY;
	if (!r->frame && !(r->frame = malloc(EMU_MAX_FRAME)))
		return GXIO_ERR_NO_MEMORY;
	e->edma_blocks += blks;
	memset(mem, 0, mem_size);
	r->mem = mem;
	r->entries = (uint32_t)n;
	r->log2 = 0;
	while ((1u << r->log2) < n)
		r->log2++;
	r->done = 0;
	r->channel = channel;
	r->blks = blks;
	r->snf = EMU_SNF_DEFAULT;
	r->frame_len = 0;
	r->frame_bad = false;
	r->init = true;
	memset(equeue, 0, sizeof(*equeue));
	equeue->context = context;
	equeue->edescs = mem;
	equeue->num_entries = n;
	equeue->mask_num_entries = n - 1;
	equeue->log2_num_entries = r->log2;
	equeue->ering = ering;
	equeue->channel = channel;
	return 0;
}

/* Blocks come from one pool for all rings (EMU_EDMA_BLOCKS, an
 * assumption); only before the ring's first egress. */
int gxio_mpipe_config_edma_ring_blks(gxio_mpipe_context_t *context, unsigned int ering, unsigned int max_blks,
				     unsigned int min_snf_blks, unsigned int db)
{
	struct usn_gxemu *e = context->board;
	struct emu_ering *r;

	(void)db;
	if (!emu_owns(e->ering_owner, HV_MPIPE_NUM_EDMA_RINGS, ering, context) || !context->mpipe->ering[ering].init)
		return GXIO_MPIPE_ERR_BAD_EDMA_RING;
	r = &context->mpipe->ering[ering];
	if (r->done != 0 || max_blks <= min_snf_blks)
		return GXIO_ERR_INVAL;
	if (e->edma_blocks - r->blks + max_blks > EMU_EDMA_BLOCKS)
		return GXIO_ERR_NO_MEMORY;
	e->edma_blocks = e->edma_blocks - r->blks + max_blks;
	r->blks = max_blks;
	r->snf = min_snf_blks * 128;
	return 0;
}

int64_t gxio_mpipe_equeue_try_reserve_fast(gxio_mpipe_equeue_t *equeue, unsigned int num)
{
	struct emu_ering *r = &equeue->context->mpipe->ering[equeue->ering];
	uint64_t slot = equeue->reserved;

	if (num == 0 || equeue->reserved + num - r->done > equeue->num_entries)
		return GXIO_ERR_DMA_CREDITS;
	equeue->reserved += num;
	return (int64_t)(slot & 0xffffff);
}

/* Copies the bytes one buffer descriptor moves; for a chained descriptor,
 * follows the next-buffer words stored in each buffer. */
static void emu_gather(struct usn_gxemu *e, struct emu_ering *r, gxio_mpipe_edesc_t d)
{
	size_t left = d.xfer_size;
	unsigned hops = 0;

	for (;;) {
		uintptr_t va = (uintptr_t)(intptr_t)d.va, off = va & 127u;
		size_t cap = d.c == MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED || d.hwb ? emu_class_bytes[d.size] - off : left;
		size_t take = left < cap ? left : cap;
		if (r->frame_len + take > EMU_MAX_FRAME) {
			r->frame_bad = true;
			e->st.bad_desc++;
			return;
		}
		memcpy(r->frame + r->frame_len, (const void *)va, take);
		r->frame_len += take;
		left -= take;
		if (left == 0)
			return;
		if (d.c != MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED || ++hops > EMU_MAX_FRAME / 128) {
			r->frame_bad = true; /* more bytes than the buffer holds */
			e->st.bad_desc++;
			return;
		}
		memcpy(&d.words[1], (const void *)(va - off), 8);
		if (d.c != MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED) {
			r->frame_bad = true;
			e->st.bad_desc++;
			return;
		}
	}
}

/* The memory an edesc sends must have been software's before the last
 * fence (usn_gx_fence): a buffer since it was popped or delivered, any
 * other memory since the last buffer was handed out. The emulation cannot
 * see stores, so this is the nearest check it can make; without any fence
 * on the TX path it fails at once. A buffer still on its free stack is a
 * use after free. */
static void emu_check_fenced(gxio_mpipe_context_t *ctx, struct emu_ering *r, gxio_mpipe_edesc_t d)
{
	struct usn_gxemu_mpipe *m = ctx->mpipe;
	struct emu_stack *s = emu_stack_of(ctx, d.stack_idx);
	uint64_t *st = s ? emu_state(s, (uintptr_t)(intptr_t)d.va & ~(uintptr_t)127) : NULL;
	uint64_t since = m->last_handout;

	if (st && (*st & EMU_ON_STACK)) {
		ctx->board->st.bad_desc++;
		r->frame_bad = true;
		return;
	}
	if (st && *st)
		since = *st;
	if (m->fenced_at <= since) {
		ctx->board->st.tx_unfenced++;
		r->frame_bad = true;
	}
}

static void emu_hwb_return(gxio_mpipe_context_t *ctx, gxio_mpipe_edesc_t d)
{
	struct usn_gxemu *e = ctx->board;

	for (unsigned hops = 0; hops <= EMU_MAX_FRAME / 128; hops++) {
		uintptr_t va = (uintptr_t)(intptr_t)d.va & ~(uintptr_t)127;
		struct emu_stack *s = emu_stack_of(ctx, d.stack_idx);
		bool more = d.c == MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED;
		gxio_mpipe_edesc_t next;

		if (more)
			memcpy(&next.words[1], (const void *)va, 8);
		if (!s) {
			e->st.bad_desc++;
		} else if (s->size_enum != d.size) {
			e->st.bad_size++;
		} else {
			emu_push(ctx, d.stack_idx, va);
			e->st.tx_hwb_returns++;
		}
		if (!more || next.c != MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED)
			return;
		d.words[1] = next.words[1];
	}
}

static void emu_edma_run(gxio_mpipe_context_t *ctx, struct emu_ering *r)
{
	struct usn_gxemu *e = ctx->board;
	struct emu_link *l = &e->links[r->channel];

	for (;;) {
		gxio_mpipe_edesc_t d = r->mem[r->done & (r->entries - 1)];
		unsigned want_gen = !((r->done >> r->log2) & 1);

		if (d.gen != want_gen)
			return; /* not written yet */
		if (!d.ns && d.xfer_size > 0) {
			emu_check_fenced(ctx, r, d);
			emu_gather(e, r, d);
		}
		if (d.csum) {
			r->frame_bad = true; /* checksum offload is not emulated */
			e->st.bad_desc++;
		}
		if (d.hwb)
			emu_hwb_return(ctx, d);
		if (d.bound) {
			if (r->frame_len > r->snf) {
				e->st.tx_snf_over++; /* may underrun on the card: dropped */
			} else if (!r->frame_bad && r->frame_len > 0 &&
				   (l->desired & (int64_t)GXIO_MPIPE_LINK_SPEED_MASK)) {
				/* (A link that is down discards: DISCARD_IF_DOWN's default.) */
				usn_sim_port_send_raw(l->port, r->frame, r->frame_len);
				e->st.tx_frames++;
			}
			r->frame_len = 0;
			r->frame_bad = false;
		}
		e->st.tx_descs++;
		r->done++;
	}
}

void gxio_mpipe_equeue_put_at(gxio_mpipe_equeue_t *equeue, gxio_mpipe_edesc_t edesc, unsigned long slot)
{
	struct emu_ering *r = &equeue->context->mpipe->ering[equeue->ering];
	gxio_mpipe_edesc_t *p = &equeue->edescs[slot & equeue->mask_num_entries];

	/* The gen bit flips each time the ring wraps; word 1 is written first
	 * so the engine never sees a valid word 0 with a stale buffer. */
	edesc.gen = !((slot >> equeue->log2_num_entries) & 1);
	p->words[1] = edesc.words[1];
	p->words[0] = edesc.words[0];
	emu_edma_run(equeue->context, r);
}

/* ---- classifier rules ---- */

void gxio_mpipe_rules_init(gxio_mpipe_rules_t *rules, gxio_mpipe_context_t *context)
{
	memset(rules, 0, sizeof(*rules));
	rules->context = context;
}

int gxio_mpipe_rules_begin(gxio_mpipe_rules_t *rules, unsigned int bucket, unsigned int num_buckets,
			   gxio_mpipe_rules_stacks_t *stacks)
{
	if (rules->n == USN_GXEMU_MAX_RULES)
		return GXIO_MPIPE_ERR_RULES_FULL;
	if (num_buckets == 0 || (num_buckets & (num_buckets - 1)) != 0)
		return GXIO_MPIPE_ERR_RULES_INVALID;
	rules->rule[rules->n].bucket = bucket;
	rules->rule[rules->n].num_buckets = num_buckets;
	rules->rule[rules->n].stacks_given = stacks != NULL;
	if (stacks)
		rules->rule[rules->n].stacks = *stacks;
	/* gxio's default, so the IP header after 14 bytes of Ethernet is
	 * 4-byte aligned. */
	rules->rule[rules->n].headroom = 2;
	rules->rule[rules->n].channel_mask = 0;
	rules->n++;
	return 0;
}

int gxio_mpipe_rules_add_channel(gxio_mpipe_rules_t *rules, unsigned int channel)
{
	if (rules->n == 0)
		return GXIO_MPIPE_ERR_RULES_EMPTY;
	if (channel >= 32)
		return GXIO_MPIPE_ERR_RULES_INVALID;
	rules->rule[rules->n - 1].channel_mask |= 1u << channel;
	return 0;
}

int gxio_mpipe_rules_set_headroom(gxio_mpipe_rules_t *rules, uint8_t headroom)
{
	if (rules->n == 0)
		return GXIO_MPIPE_ERR_RULES_EMPTY;
	rules->rule[rules->n - 1].headroom = headroom;
	return 0;
}

/* Buckets and stacks must be the context's; channels those of links it
 * opened with data permission. */
int gxio_mpipe_rules_commit(gxio_mpipe_rules_t *rules)
{
	gxio_mpipe_context_t *ctx = rules->context;
	struct usn_gxemu *e = ctx->board;
	struct usn_gxemu_mpipe *m = ctx->mpipe;

	for (int i = 0; i < rules->n; i++) {
		unsigned b = rules->rule[i].bucket, nb = rules->rule[i].num_buckets;
		uint32_t mask = rules->rule[i].channel_mask;
		if (b + nb > HV_MPIPE_NUM_BUCKETS || !emu_owns(e->bucket_owner, HV_MPIPE_NUM_BUCKETS, b, ctx) ||
		    !emu_owns(e->bucket_owner, HV_MPIPE_NUM_BUCKETS, b + nb - 1, ctx))
			return GXIO_MPIPE_ERR_RULES_INVALID;
		for (unsigned c = 0; c < 32; c++) {
			if ((mask & (1u << c)) &&
			    (c >= EMU_LINKS || m->link[c].opens == 0 || (m->link[c].flags & GXIO_MPIPE_LINK_NO_DATA)))
				return GXIO_MPIPE_ERR_RULES_INVALID;
		}
		for (unsigned k = 0; rules->rule[i].stacks_given && k < 8; k++) {
			unsigned st = rules->rule[i].stacks.stacks[k];
			if (st != 255 && !emu_stack_of(ctx, st))
				return GXIO_MPIPE_ERR_RULES_INVALID;
		}
	}
	m->rules = *rules;
	return 0;
}
