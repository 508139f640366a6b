/* x86 emulation of the mPIPE subset in gxio_subset.h: buffer stacks with
 * registered pages, the classifier (rules, flow hash, buckets, headroom,
 * custom header / l2 offset), the load balancer (bucket -> NotifRing, with
 * credits), ingress DMA into one or chained buffers, and the eDMA engine
 * (gen bits, gather, hwb buffer return). Its wire is a simulated-link port. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gxio_emu.h"

#define EMU_LINKS 8
#define EMU_STACKS 32   /* stack_idx is 5 bits */
#define EMU_PAGES 16    /* registered pages per stack */
#define EMU_RINGS 256   /* notif_ring is 8 bits */
#define EMU_GROUPS 32
#define EMU_BUCKETS 4096
#define EMU_ERINGS 32   /* an assumption: the emulation's count, not a datasheet's */
#define EMU_MAX_FRAME 16384
#define EMU_CUSTOM_BYTE 0xc5

struct emu_link {
	char name[16];
	struct usn_sim_port *port;
	uint8_t mac[6];
	gxio_mpipe_context_t *owner;
	int64_t desired;
	bool jumbo;
};

struct usn_gxemu {
	struct usn_sim_link *link;
	struct emu_link links[EMU_LINKS];
	int n_links;
	uint8_t custom_hdr;
	uint16_t flow_key; /* the classifier's RSS key (usn_rss_hash) */
	enum usn_gxemu_fault fault;
	struct usn_gxemu_stats st;
};

struct emu_stack {
	bool alloc, init;
	unsigned size_enum;
	size_t buf_bytes;
	uint64_t *slot; /* the stack lives in the memory the app gave */
	size_t cap, n;
	struct {
		uintptr_t lo, hi;
	} page[EMU_PAGES];
	unsigned n_pages;
};

struct emu_ring {
	bool alloc, init;
	gxio_mpipe_idesc_t *mem;
	uint32_t entries;
	uint64_t tail, credited;
};

struct emu_bucket {
	bool alloc, init;
	uint16_t ring;
};

struct emu_ering {
	bool alloc, init;
	gxio_mpipe_edesc_t *mem;
	uint32_t entries, log2;
	uint64_t done; /* descriptors the engine has processed */
	unsigned channel;
	uint8_t *frame; /* the packet being gathered */
	size_t frame_len;
	bool frame_bad;
};

struct usn_gxemu_mpipe {
	struct emu_stack stack[EMU_STACKS];
	unsigned next_stack;
	struct emu_ring ring[EMU_RINGS];
	unsigned next_ring;
	bool group[EMU_GROUPS];
	unsigned next_group;
	struct emu_bucket bucket[EMU_BUCKETS];
	unsigned next_bucket;
	struct emu_ering ering[EMU_ERINGS];
	unsigned next_ering;
	gxio_mpipe_rules_t rules; /* the committed list */
	uint64_t sqn;
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

void usn_gxemu_set_custom_header(struct usn_gxemu *e, uint8_t bytes)
{
	e->custom_hdr = bytes < 64 ? bytes : 63;
}

void usn_gxemu_set_fault(struct usn_gxemu *e, enum usn_gxemu_fault f)
{
	e->fault = f;
}

void usn_gxemu_stats(const struct usn_gxemu *e, struct usn_gxemu_stats *out)
{
	*out = e->st;
}

long usn_gxemu_stack_count(gxio_mpipe_context_t *ctx, unsigned stack)
{
	if (!ctx->mpipe || stack >= EMU_STACKS || !ctx->mpipe->stack[stack].init)
		return -1;
	return (long)ctx->mpipe->stack[stack].n;
}

uint64_t usn_gxemu_cycles(gxio_mpipe_context_t *ctx)
{
	return usn_sim_link_now_us(ctx->board->link) * (tmc_perf_get_cpu_speed() / 1000000u);
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

int gxio_mpipe_destroy(gxio_mpipe_context_t *context)
{
	struct usn_gxemu_mpipe *m = context->mpipe;

	if (!m)
		return GXIO_ERR_INVAL;
	for (int i = 0; i < context->board->n_links; i++) {
		if (context->board->links[i].owner == context) {
			context->board->links[i].owner = NULL;
			context->board->links[i].desired = 0;
		}
	}
	for (unsigned i = 0; i < EMU_ERINGS; i++)
		free(m->ering[i].frame);
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

	(void)flags;
	for (int i = 0; e && i < e->n_links; i++) {
		if (strcmp(e->links[i].name, link_name) != 0)
			continue;
		if (e->links[i].owner && e->links[i].owner != context)
			return GXIO_MPIPE_ERR_BAD_LINK; /* data permission held elsewhere */
		e->links[i].owner = context;
		/* The default open flags bring the link up. */
		e->links[i].desired = GXIO_MPIPE_LINK_ANYSPEED;
		link->context = context;
		link->channel = (uint8_t)i;
		link->mac = (uint8_t)i;
		return 0;
	}
	return GXIO_ERR_NO_DEVICE;
}

int gxio_mpipe_link_close(gxio_mpipe_link_t *link)
{
	struct emu_link *l = &link->context->board->links[link->channel];

	l->owner = NULL;
	l->desired = 0;
	return 0;
}

int gxio_mpipe_link_channel(gxio_mpipe_link_t *link)
{
	return link->channel;
}

int64_t gxio_mpipe_link_get_attr(gxio_mpipe_link_t *link, uint32_t attr)
{
	struct emu_link *l = &link->context->board->links[link->channel];
	int64_t mac = 0;

	switch (attr) {
	case GXIO_MPIPE_LINK_MAC:
		for (int i = 0; i < 6; i++)
			mac = (mac << 8) | l->mac[i];
		return mac;
	case GXIO_MPIPE_LINK_CURRENT_STATE:
		return l->desired ? GXIO_MPIPE_LINK_10G : 0;
	case GXIO_MPIPE_LINK_DESIRED_STATE:
		return l->desired;
	case GXIO_MPIPE_LINK_POSSIBLE_STATE:
		return GXIO_MPIPE_LINK_1G | GXIO_MPIPE_LINK_10G;
	case GXIO_MPIPE_LINK_RECEIVE_JUMBO:
		return l->jumbo;
	default:
		return GXIO_ERR_INVAL;
	}
}

int gxio_mpipe_link_set_attr(gxio_mpipe_link_t *link, uint32_t attr, int64_t val)
{
	struct emu_link *l = &link->context->board->links[link->channel];

	switch (attr) {
	case GXIO_MPIPE_LINK_DESIRED_STATE:
		l->desired = val;
		return 0;
	case GXIO_MPIPE_LINK_RECEIVE_JUMBO:
		l->jumbo = val != 0;
		return 0;
	default:
		return GXIO_ERR_INVAL;
	}
}

/* ---- buffer stacks ---- */

int gxio_mpipe_alloc_buffer_stacks(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				   unsigned int flags)
{
	struct usn_gxemu_mpipe *m = context->mpipe;
	unsigned start = m->next_stack;

	(void)first;
	(void)flags;
	if (count == 0 || start + count > EMU_STACKS)
		return GXIO_MPIPE_ERR_NO_BUFFER_STACK;
	for (unsigned i = 0; i < count; i++)
		m->stack[start + i].alloc = true;
	m->next_stack += count;
	return (int)start;
}

size_t gxio_mpipe_buffer_size_enum_to_buffer_size(gxio_mpipe_buffer_size_enum_t e)
{
	return emu_class_bytes[(unsigned)e & 7u];
}

/* The largest class that is no larger than `size` (128 if none). */
gxio_mpipe_buffer_size_enum_t gxio_mpipe_buffer_size_to_buffer_size_enum(size_t size)
{
	unsigned k = 0;

	while (k < 7 && emu_class_bytes[k + 1] <= size)
		k++;
	return (gxio_mpipe_buffer_size_enum_t)k;
}

/* The emulation keeps one 8-byte word per buffer. */
size_t gxio_mpipe_calc_buffer_stack_bytes(unsigned long buffers)
{
	return ((size_t)buffers * 8u + 127u) & ~(size_t)127u;
}

int gxio_mpipe_init_buffer_stack(gxio_mpipe_context_t *context, unsigned int stack,
				 gxio_mpipe_buffer_size_enum_t buffer_size_enum, void *mem, size_t mem_size,
				 unsigned int mem_flags)
{
	struct emu_stack *s;

	(void)mem_flags;
	if (stack >= EMU_STACKS || !context->mpipe->stack[stack].alloc)
		return GXIO_MPIPE_ERR_BAD_BUFFER_STACK;
	if ((unsigned)buffer_size_enum > 7)
		return GXIO_MPIPE_ERR_INVAL_BUFFER_SIZE;
	/* The stack memory must be 64 KB aligned. */
	if (((uintptr_t)mem & 0xffffu) != 0 || mem_size < 8)
		return GXIO_ERR_INVAL;
	s = &context->mpipe->stack[stack];
	s->init = true;
	s->size_enum = (unsigned)buffer_size_enum;
	s->buf_bytes = emu_class_bytes[buffer_size_enum];
	s->slot = mem;
	s->cap = mem_size / 8;
	s->n = 0;
	return 0;
}

int gxio_mpipe_register_page(gxio_mpipe_context_t *context, unsigned int stack, void *page, size_t page_size,
			     unsigned int page_flags)
{
	struct emu_stack *s;

	(void)page_flags;
	if (stack >= EMU_STACKS || !context->mpipe->stack[stack].init)
		return GXIO_MPIPE_ERR_BAD_BUFFER_STACK;
	s = &context->mpipe->stack[stack];
	/* Pages are naturally aligned; at most 16 per stack; addresses must fit
	 * the descriptors' 42-bit sign-extended va. */
	if (s->n_pages == EMU_PAGES || page_size < 4096 || ((uintptr_t)page & (page_size - 1)) != 0 ||
	    (uintptr_t)page + page_size > ((uintptr_t)1 << 41))
		return GXIO_ERR_INVAL;
	s->page[s->n_pages].lo = (uintptr_t)page;
	s->page[s->n_pages].hi = (uintptr_t)page + page_size;
	s->n_pages++;
	return 0;
}

static bool emu_in_pages(const struct emu_stack *s, uintptr_t a)
{
	for (unsigned i = 0; i < s->n_pages; i++) {
		if (a >= s->page[i].lo && a < s->page[i].hi)
			return true;
	}
	return false;
}

/* A buffer may straddle two registered pages (buffers sit back to back
 * in the app's pages, as Rusty laid them), never leave them. */
static bool emu_buffer_registered(const struct emu_stack *s, uintptr_t va)
{
	return emu_in_pages(s, va) && emu_in_pages(s, va + s->buf_bytes - 1);
}

static void emu_push(struct usn_gxemu *e, struct usn_gxemu_mpipe *m, unsigned stack, uintptr_t va)
{
	struct emu_stack *s = &m->stack[stack & (EMU_STACKS - 1)];

	va &= ~(uintptr_t)127; /* the low seven bits are ignored */
	if (!s->init || s->n == s->cap || !emu_buffer_registered(s, va)) {
		/* The hardware would later DMA into memory it cannot map. */
		e->st.bad_push++;
		return;
	}
	s->slot[s->n++] = (uint64_t)va;
}

void gxio_mpipe_push_buffer(gxio_mpipe_context_t *context, unsigned int stack, void *buffer)
{
	emu_push(context->board, context->mpipe, stack, (uintptr_t)buffer);
}

void *gxio_mpipe_pop_buffer(gxio_mpipe_context_t *context, unsigned int stack)
{
	struct emu_stack *s = &context->mpipe->stack[stack & (EMU_STACKS - 1)];

	if (!s->init || s->n == 0)
		return NULL;
	return (void *)(uintptr_t)s->slot[--s->n];
}

/* ---- NotifRings, groups, buckets ---- */

int gxio_mpipe_alloc_notif_rings(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				 unsigned int flags)
{
	struct usn_gxemu_mpipe *m = context->mpipe;
	unsigned start = m->next_ring;

	(void)first;
	(void)flags;
	if (count == 0 || start + count > EMU_RINGS)
		return GXIO_MPIPE_ERR_NO_NOTIF_RING;
	for (unsigned i = 0; i < count; i++)
		m->ring[start + i].alloc = true;
	m->next_ring += count;
	return (int)start;
}

int gxio_mpipe_alloc_notif_groups(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				  unsigned int flags)
{
	struct usn_gxemu_mpipe *m = context->mpipe;
	unsigned start = m->next_group;

	(void)first;
	(void)flags;
	if (count == 0 || start + count > EMU_GROUPS)
		return GXIO_MPIPE_ERR_NO_NOTIF_GROUP;
	for (unsigned i = 0; i < count; i++)
		m->group[start + i] = true;
	m->next_group += count;
	return (int)start;
}

int gxio_mpipe_alloc_buckets(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
			     unsigned int flags)
{
	struct usn_gxemu_mpipe *m = context->mpipe;
	unsigned start = m->next_bucket;

	(void)first;
	(void)flags;
	if (count == 0 || start + count > EMU_BUCKETS)
		return GXIO_MPIPE_ERR_NO_BUCKET;
	for (unsigned i = 0; i < count; i++)
		m->bucket[start + i].alloc = true;
	m->next_bucket += count;
	return (int)start;
}

/* Each bucket gets a ring chosen round-robin from the given ones: bucket
 * i -> ring + i % num_rings. With static flow affinity it never moves. */
int gxio_mpipe_init_notif_group_and_buckets(gxio_mpipe_context_t *context, unsigned int group, unsigned int ring,
					    unsigned int num_rings, unsigned int bucket, unsigned int num_buckets,
					    gxio_mpipe_bucket_mode_t mode)
{
	struct usn_gxemu_mpipe *m = context->mpipe;

	if (group >= EMU_GROUPS || !m->group[group])
		return GXIO_MPIPE_ERR_BAD_NOTIF_GROUP;
	if (num_rings == 0 || ring + num_rings > EMU_RINGS)
		return GXIO_MPIPE_ERR_BAD_NOTIF_RING;
	for (unsigned i = 0; i < num_rings; i++) {
		if (!m->ring[ring + i].alloc)
			return GXIO_MPIPE_ERR_BAD_NOTIF_RING;
	}
	if (num_buckets == 0 || bucket + num_buckets > EMU_BUCKETS)
		return GXIO_MPIPE_ERR_BAD_BUCKET;
	/* Only the mode the backend uses is emulated. */
	if (mode != GXIO_MPIPE_BUCKET_STATIC_FLOW_AFFINITY)
		return GXIO_ERR_INVAL;
	for (unsigned i = 0; i < num_buckets; i++) {
		if (!m->bucket[bucket + i].alloc)
			return GXIO_MPIPE_ERR_BAD_BUCKET;
		m->bucket[bucket + i].init = true;
		m->bucket[bucket + i].ring = (uint16_t)(ring + i % num_rings);
	}
	return 0;
}

void gxio_mpipe_credit(gxio_mpipe_context_t *context, int ring, int bucket, unsigned int count)
{
	(void)bucket; /* bucket credits matter only to dynamic flow affinity */
	if (ring >= 0 && ring < EMU_RINGS)
		context->mpipe->ring[ring].credited += count;
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

static void emu_ingress(gxio_mpipe_context_t *ctx, unsigned channel, const uint8_t *frame, size_t len)
{
	struct usn_gxemu *e = ctx->board;
	struct usn_gxemu_mpipe *m = ctx->mpipe;
	const gxio_mpipe_rules_t *rules = &m->rules;
	uint8_t *pkt = m->rx;
	size_t hdr = e->custom_hdr, size = hdr + len, pos = 0, first_cap, nb;
	uintptr_t buf[EMU_MAX_FRAME / 128 + 2];
	unsigned order[EMU_MAX_FRAME / 128 + 2];
	struct emu_stack *s = NULL;
	struct emu_ring *ring;
	gxio_mpipe_idesc_t d;
	uint32_t hash;
	unsigned bucket, headroom, stack = 0;
	bool chained;
	int ri;

	ri = emu_rule_for(rules, channel);
	if (!e->links[channel].desired || ri < 0 || size > EMU_MAX_FRAME - 1 ||
	    (len > 1518 && !e->links[channel].jumbo)) {
		e->st.rx_no_rule++;
		return;
	}
	hash = emu_flow_hash(e->flow_key, frame, len);
	bucket = rules->rule[ri].bucket + (hash & (rules->rule[ri].num_buckets - 1));
	if (bucket >= EMU_BUCKETS || !m->bucket[bucket].init) {
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
		for (unsigned i = 0; i < EMU_STACKS; i++) {
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
		if (stack < EMU_STACKS && m->stack[stack].init)
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
	if (s->n < nb) {
		e->st.rx_no_buffer++;
		return;
	}
	for (size_t i = 0; i < nb; i++)
		buf[i] = (uintptr_t)s->slot[--s->n];

	/* DMA: the custom header (if any), then the frame, buffer by buffer. */
	memmove(pkt + hdr, frame, len); /* frame may already sit in pkt */
	memset(pkt, EMU_CUSTOM_BYTE, hdr);
	for (size_t i = 0; i < nb; i++) {
		size_t off = chained ? (i == 0 ? 8 + headroom : 8) : headroom;
		size_t take = s->buf_bytes - off < size - pos ? s->buf_bytes - off : size - pos;
		memcpy((uint8_t *)buf[i] + off, pkt + pos, take);
		pos += take;
	}
	/* Chain links: each buffer's first 8 bytes describe the next one. */
	if (chained) {
		for (size_t i = 0; i < nb; i++)
			order[i] = (unsigned)i;
		if (e->fault == USN_GXEMU_FAULT_CHAIN_ORDER) {
			for (size_t i = 1; i < nb; i++)
				order[i] = (unsigned)(nb - i);
		}
		for (size_t j = 0; j < nb; j++) {
			gxio_mpipe_edesc_t next;
			memset(&next, 0, sizeof(next));
			if (j + 1 < nb) {
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

	memset(&d, 0, sizeof(d));
	d.notif_ring = (uint64_t)(ring - m->ring);
	d.channel = channel;
	d.l2_size = size;
	d.bucket_id = bucket;
	d.custom0 = hash;
	d.custom1 = (uint64_t)(e->fault == USN_GXEMU_FAULT_L2_OFFSET ? 0 : hdr) << 32 | 0xffffu |
		    (uint64_t)(len >= 14 ? emu_be16(frame + 12) : 0) << 16;
	d.packet_sqn = ++m->sqn & ((1ull << 48) - 1);
	d.va = (int64_t)(buf[0] + (chained ? 8 + headroom : headroom));
	d.stack_idx = stack;
	d.hwb = 1;
	d.size = s->size_enum;
	d.c = chained ? MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED : MPIPE_EDMA_DESC_WORD1__C_VAL_UNCHAINED;
	ring->mem[ring->tail & (ring->entries - 1)] = d;
	ring->tail++;
	e->st.rx_frames++;
	if (chained)
		e->st.rx_chained++;
}

/* Moves what the wire delivered to this context's links into its rings. */
static void emu_ingress_pump(gxio_mpipe_context_t *ctx)
{
	struct usn_gxemu *e = ctx->board;

	for (int i = 0; i < e->n_links; i++) {
		size_t len;
		if (e->links[i].owner != ctx)
			continue;
		/* Bounded: at most a ring's worth per call. */
		for (int k = 0; k < 2048; k++) {
			len = usn_sim_port_recv_raw(e->links[i].port, ctx->mpipe->rx + 64, EMU_MAX_FRAME - 64);
			if (len == 0)
				break;
			emu_ingress(ctx, (unsigned)i, ctx->mpipe->rx + 64, len);
		}
	}
}

int gxio_mpipe_iqueue_init(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_context_t *context, unsigned int ring,
			   void *mem, size_t mem_size, unsigned int mem_flags)
{
	size_t n = mem_size / sizeof(gxio_mpipe_idesc_t);
	struct emu_ring *r;

	(void)mem_flags;
	if (ring >= EMU_RINGS || !context->mpipe->ring[ring].alloc)
		return GXIO_MPIPE_ERR_BAD_NOTIF_RING;
	if (n != 128 && n != 512 && n != 2048 && n != 65536)
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

void gxio_mpipe_iqueue_consume(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc)
{
	iqueue->head++;
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
	struct usn_gxemu_mpipe *m = context->mpipe;
	unsigned start = m->next_ering;

	(void)first;
	(void)flags;
	if (count == 0 || start + count > EMU_ERINGS)
		return GXIO_MPIPE_ERR_NO_EDMA_RING;
	for (unsigned i = 0; i < count; i++)
		m->ering[start + i].alloc = true;
	m->next_ering += count;
	return (int)start;
}

int gxio_mpipe_equeue_init(gxio_mpipe_equeue_t *equeue, gxio_mpipe_context_t *context, unsigned int ering,
			   unsigned int channel, void *mem, unsigned int mem_size, unsigned int mem_flags)
{
	size_t n = mem_size / sizeof(gxio_mpipe_edesc_t);
	struct emu_ering *r;

	(void)mem_flags;
	if (ering >= EMU_ERINGS || !context->mpipe->ering[ering].alloc)
		return GXIO_MPIPE_ERR_BAD_EDMA_RING;
	if (n != 512 && n != 2048 && n != 8192 && n != 65536)
		return GXIO_ERR_INVAL_MEMORY_SIZE;
	if ((int)channel >= context->board->n_links || context->board->links[channel].owner != context)
		return GXIO_MPIPE_ERR_BAD_LINK;
	r = &context->mpipe->ering[ering];
	if (!r->frame && !(r->frame = malloc(EMU_MAX_FRAME)))
		return GXIO_ERR_NO_MEMORY;
	memset(mem, 0, mem_size);
	r->mem = mem;
	r->entries = (uint32_t)n;
	r->log2 = 0;
	while ((1u << r->log2) < n)
		r->log2++;
	r->done = 0;
	r->channel = channel;
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

static void emu_hwb_return(struct usn_gxemu *e, struct usn_gxemu_mpipe *m, gxio_mpipe_edesc_t d)
{
	for (unsigned hops = 0; hops <= EMU_MAX_FRAME / 128; hops++) {
		uintptr_t va = (uintptr_t)(intptr_t)d.va & ~(uintptr_t)127;
		bool more = d.c == MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED;
		gxio_mpipe_edesc_t next;

		if (more)
			memcpy(&next.words[1], (const void *)va, 8);
		if (!m->stack[d.stack_idx].init) {
			e->st.bad_desc++;
		} else if (m->stack[d.stack_idx].size_enum != d.size) {
			e->st.bad_size++;
		} else {
			emu_push(e, m, d.stack_idx, va);
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

	for (;;) {
		gxio_mpipe_edesc_t d = r->mem[r->done & (r->entries - 1)];
		unsigned want_gen = !((r->done >> r->log2) & 1);

		if (d.gen != want_gen)
			return; /* not written yet */
		if (!d.ns && d.xfer_size > 0)
			emu_gather(e, r, d);
		if (d.csum) {
			r->frame_bad = true; /* checksum offload is not emulated */
			e->st.bad_desc++;
		}
		if (d.hwb)
			emu_hwb_return(e, ctx->mpipe, d);
		if (d.bound) {
			if (!r->frame_bad && r->frame_len > 0) {
				usn_sim_port_send_raw(e->links[r->channel].port, r->frame, r->frame_len);
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
	rules->rule[rules->n].headroom = 0;
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
	if (headroom >= 128)
		return GXIO_MPIPE_ERR_RULES_INVALID;
	rules->rule[rules->n - 1].headroom = headroom;
	return 0;
}

int gxio_mpipe_rules_commit(gxio_mpipe_rules_t *rules)
{
	struct usn_gxemu_mpipe *m = rules->context->mpipe;

	for (int i = 0; i < rules->n; i++) {
		unsigned b = rules->rule[i].bucket, nb = rules->rule[i].num_buckets;
		if (b + nb > EMU_BUCKETS || !m->bucket[b].alloc || !m->bucket[b + nb - 1].alloc)
			return GXIO_MPIPE_ERR_RULES_INVALID;
	}
	m->rules = *rules;
	return 0;
}
