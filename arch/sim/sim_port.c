/* libusnet simulated link: a port's buffer pool and its HAL operations
 * (rx/tx burst, alloc/free bulk, virtual clock), raw test access and
 * counters. Everything is allocated in usn_sim_port_create. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_priv.h"

#define SIM_DEF_BUF_SIZE 2048u
#define SIM_DEF_HEADROOM 128u
#define SIM_DEF_N_BUFS 4096u
#define SIM_DEF_MTU 1500u
#define SIM_DEF_RX_RING 1024u
#define SIM_OWNER_MAGIC 0x5153494d42554655ull /* "USIMBUFU"-ish */

static struct usn_sim_port *sim_port_of(struct usn_hal *hal)
{
	return (struct usn_sim_port *)(void *)((char *)hal - offsetof(struct usn_sim_port, hal));
}

/* A buffer handed back that is not ours, or not out, is a bug in the
 * caller (never packet content): stop at once with a message. */
static void sim_die(const struct usn_sim_port *p, const struct usn_buf *b, const char *what)
{
	fprintf(stderr, "usn_sim: port %u: %s (buffer %p)\n", (unsigned)p->index, what, (const void *)b);
	abort();
}

static uint8_t *sim_slot_data(const struct usn_sim_port *p, const struct usn_buf *b)
{
	return (uint8_t *)b + SIM_META_BYTES + p->cfg.headroom;
}

static void sim_buf_check(const struct usn_sim_port *p, const struct usn_buf *b, const char *op)
{
	uintptr_t base = (uintptr_t)p->pool_mem, at = (uintptr_t)b;
	if (at < base || at >= base + p->stride * p->cfg.n_bufs || (at - base) % p->stride != 0)
		sim_die(p, b,
			op[0] == 't' ? "tx of a buffer not from this port's pool"
				     : "free of a buffer not from this port's pool");
	if (b->backend != p->owner_tag)
		sim_die(p, b, "buffer owner word overwritten");
	if (b->backend_u16 != SIM_BUF_OUT)
		sim_die(p, b, op[0] == 't' ? "tx of a free buffer (use after free)" : "double free");
	if (b->flags & USN_BUF_TX_EXT) {
		/* A buffer lent to application memory (hal.h): only where the
		 * port offers it, inside a region it was given, nothing
		 * writable. */
		uintptr_t d = (uintptr_t)b->data;
		if (!(p->hal.offloads & USN_HAL_OFF_TX_EXT))
			sim_die(p, b, "external buffer on a port without USN_HAL_OFF_TX_EXT");
		if (b->region >= p->n_regions || d < p->region[b->region].base ||
		    d + b->len > p->region[b->region].end || b->room != 0)
			sim_die(p, b, "external buffer outside its region (or with room)");
		return;
	}
	uintptr_t lo = at + SIM_META_BYTES, hi = at + SIM_META_BYTES + p->cfg.headroom + p->cfg.buf_size;
	if ((uintptr_t)b->data < lo || (uintptr_t)b->data + b->len > hi)
		sim_die(p, b, "data/len outside the buffer");
}

static void sim_buf_put(struct usn_sim_port *p, struct usn_buf *b)
{
	b->backend_u16 = SIM_BUF_FREE;
	p->free_stack[p->n_free++] = b;
}

static void sim_free_chain(struct usn_sim_port *p, struct usn_buf *b, const char *op)
{
	while (b) {
		struct usn_buf *next = b->next;
		sim_buf_check(p, b, op);
		sim_buf_put(p, b);
		b = next;
	}
}

static struct usn_buf *sim_buf_get(struct usn_sim_port *p)
{
	struct usn_buf *b = p->free_stack[--p->n_free];
	b->next = NULL;
	b->link = NULL;
	b->data = sim_slot_data(p, b);
	b->frame_len = 0;
	b->len = 0;
	b->room = p->cfg.buf_size;
	b->headroom = p->cfg.headroom;
	b->flags = 0;
	b->rss_hash = 0;
	b->l2_len = 0;
	b->l3_len = 0;
	b->l4_len = 0;
	b->seg_size = 0;
	b->stack_u64 = 0;
	b->backend = p->owner_tag;
	b->backend_u16 = SIM_BUF_OUT;
	return b;
}

/* ---- HAL operations ---- */

static uint16_t sim_alloc_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_sim_port *p = sim_port_of(hal);
	(void)queue; /* one pool per port, shared by its queues (single-threaded) */
	uint16_t k = n < p->n_free ? n : (uint16_t)p->n_free;
	for (uint16_t i = 0; i < k; i++)
		bufs[i] = sim_buf_get(p);
	return k;
}

static void sim_free_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_sim_port *p = sim_port_of(hal);
	(void)queue;
	for (uint16_t i = 0; i < n; i++)
		sim_free_chain(p, bufs[i], "free");
}

/* Copies len bytes after the chain's tail, filling it and then fresh
 * buffers (the caller counted them); returns the new tail. */
static struct usn_buf *sim_chain_append(struct usn_sim_port *p, struct usn_buf *tail, const uint8_t *src,
					uint32_t len)
{
	uint32_t bs = p->cfg.buf_size;
	while (len) {
		if (tail->len == bs) {
			struct usn_buf *b = sim_buf_get(p);
			tail->next = b;
			tail = b;
		}
		uint32_t chunk = bs - tail->len < len ? bs - tail->len : len;
		memcpy(tail->data + tail->len, src, chunk);
		tail->len = (uint16_t)(tail->len + chunk);
		src += chunk;
		len -= chunk;
	}
	return tail;
}

/* RX_LRO: how many of the frames after the oldest one of queue q join it
 * (0: it goes alone), as an LRO engine would coalesce them: in-order data
 * of one flow with good sums, within tso_max and the free buffers. *first
 * and *last describe the first and the latest segment merged; *total is
 * the coalesced frame's length. */
static uint32_t sim_lro_run(struct usn_sim_port *p, uint16_t q, const uint8_t *src, uint32_t len,
			    struct sim_tcp *first, struct sim_tcp *last, uint32_t *total)
{
	uint32_t bs = p->cfg.buf_size, n = 0, ip_len;
	*total = len;
	if (!sim_tcp_parse(src, len, first) || (first->flags & (uint8_t)~0x08u) != 0x10u || first->pay_len == 0 ||
	    !sim_tcp_sums_good(src, first))
		return 0;
	*last = *first;
	ip_len = first->tot;
	for (;;) {
		int64_t s = sim_rxq_peek_at(p, q, n + 1);
		struct sim_tcp nx;
		if (s < 0)
			break;
		const uint8_t *nb = sim_store_bytes(p, (uint32_t)s);
		uint32_t nlen = p->store_meta[s].len;
		if (!sim_tcp_parse(nb, nlen, &nx) || !sim_lro_follows(first, last, &nx, ip_len, p->hal.tso_max) ||
		    !sim_tcp_sums_good(nb, &nx) || (*total + nx.pay_len + bs - 1) / bs > p->n_free)
			break;
		*total += nx.pay_len;
		ip_len += nx.pay_len;
		*last = nx;
		n++;
	}
	return n;
}

static uint16_t sim_rx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_sim_port *p = sim_port_of(hal);
	if (queue >= p->hal.n_queues)
		sim_die(p, NULL, "rx_burst on a queue the port does not have");
	sim_pump(p->link);
	uint16_t got = 0;
	uint32_t bs = p->cfg.buf_size;
	bool lro = (p->hal.offloads & USN_HAL_OFF_RX_LRO) != 0;
	while (got < n) {
		int64_t s = sim_rxq_peek(p, queue);
		if (s < 0)
			break;
		uint32_t slot = (uint32_t)s;
		const struct sim_frame_meta *m = &p->store_meta[slot];
		uint32_t need = (m->len + bs - 1) / bs;
		if (need > p->n_free)
			break; /* pool dry: the frame waits in its queue */
		uint8_t *src = sim_store_bytes(p, slot);
		struct sim_tcp first, last;
		uint32_t total = m->len;
		uint32_t merge = lro ? sim_lro_run(p, queue, src, m->len, &first, &last, &total) : 0;
		if (merge)
			sim_lro_fix_headers(src, &first, &last, total - SIM_ETH_HLEN);
		struct usn_buf *head = NULL, *tail = NULL;
		for (uint32_t off = 0; off < m->len; off += bs) {
			struct usn_buf *b = sim_buf_get(p);
			uint32_t chunk = m->len - off < bs ? m->len - off : bs;
			memcpy(b->data, src + off, chunk);
			b->len = (uint16_t)chunk;
			if (tail)
				tail->next = b;
			else
				head = b;
			tail = b;
		}
		head->frame_len = total;
		if (m->has_hash) {
			head->rss_hash = m->rss_hash;
			head->flags |= USN_BUF_RX_HASH;
		}
		if (merge) {
			/* Every merged segment's sums were checked; the merged
			 * header's TCP sum is not redone (hal.h). */
			head->flags |= USN_BUF_RX_COALESCED | USN_BUF_RX_IP_CSUM_GOOD | USN_BUF_RX_L4_CSUM_GOOD;
			head->seg_size = (uint16_t)first.pay_len;
			p->st.lro_frames++;
			p->st.lro_merged += merge;
		} else if (p->hal.offloads & USN_HAL_OFF_RX_CSUM) {
			head->flags |= sim_offload_rx_flags(src, m->len);
		}
		sim_rxq_pop(p, queue);
		sim_store_put(p, slot);
		p->st.rx_frames++;
		for (uint32_t k = 0; k < merge; k++) {
			uint32_t ms = (uint32_t)sim_rxq_peek(p, queue);
			const uint8_t *mb = sim_store_bytes(p, ms);
			struct sim_tcp t;
			(void)sim_tcp_parse(mb, p->store_meta[ms].len, &t); /* checked by sim_lro_run */
			tail = sim_chain_append(p, tail, mb + t.pay, t.pay_len);
			sim_rxq_pop(p, queue);
			sim_store_put(p, ms);
			p->st.rx_frames++;
		}
		bufs[got++] = head;
	}
	return got;
}

/* TX_TSO: cuts the large frame in p->scratch into segments, each put on
 * the link (faults and the MTU check apply to each, as on a wire). */
static void sim_tso_send(struct usn_sim_port *p, uint32_t len, uint8_t l2, uint8_t l3, uint8_t l4, uint16_t seg)
{
	struct sim_tcp t;
	if (!(p->hal.offloads & USN_HAL_OFF_TX_TSO))
		sim_die(p, NULL, "tx of a TSO frame on a port without TX_TSO");
	if (len > p->scratch_cap || !sim_tso_valid(p->scratch, len, l2, l3, l4, seg, p->hal.tso_max, &t))
		sim_die(p, NULL, "a TSO frame that breaks the contract (hal.h USN_BUF_TX_TCP_SEG)");
	uint32_t nseg = t.pay_len ? (t.pay_len + seg - 1u) / seg : 1u;
	if (p->hal.tso_max_segs && nseg > p->hal.tso_max_segs)
		sim_die(p, NULL, "a TSO frame of more pieces than the port's tso_max_segs");
	uint8_t hdr[SIM_ETH_HLEN + 60u + 60u];
	memcpy(hdr, p->scratch, t.pay);
	p->st.tso_frames++;
	p->st.tso_segs += nseg;
	for (uint32_t i = 0; i < nseg; i++) {
		uint8_t *piece;
		uint32_t n = sim_tso_segment(p->scratch, &t, hdr, seg, i, &piece);
		sim_transmit(p, piece, n);
	}
}

static uint16_t sim_tx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_sim_port *p = sim_port_of(hal);
	(void)queue;
	for (uint16_t i = 0; i < n; i++) {
		struct usn_buf *head = bufs[i];
		uint32_t total = 0;
		bool fits = true;
		if (p->tap)
			p->tap(p->tap_arg, head);
		if (head->flags & USN_BUF_TX_EXT)
			sim_die(p, head, "external buffer at the head of a frame");
		for (struct usn_buf *c = head; c; c = c->next) {
			sim_buf_check(p, c, "tx");
			if (c->flags & USN_BUF_TX_EXT) {
				p->st.tx_ext_bufs++;
				p->st.tx_ext_bytes += c->len;
			}
			if (total + c->len <= p->scratch_cap)
				memcpy(p->scratch + total, c->data, c->len);
			else
				fits = false;
			total += c->len;
		}
		if (total != head->frame_len)
			sim_die(p, head, "tx chain: frame_len is not the sum of len over the chain");
		uint16_t flags = head->flags, seg = head->seg_size;
		uint8_t l2 = head->l2_len, l3 = head->l3_len, l4 = head->l4_len;
		bool chained = head->next != NULL;
		sim_free_chain(p, head, "tx");
		if (chained && !(p->hal.offloads & USN_HAL_OFF_TX_MULTISEG)) {
			/* A port without the capability cannot send a chain: as a
			 * NIC's TX prepare would, refuse it (counted). */
			p->st.tx_frames++;
			p->st.tx_chain_refused++;
			continue;
		}
		if (flags & USN_BUF_TX_TCP_SEG) {
			sim_tso_send(p, fits ? total : UINT32_MAX, l2, l3, l4, seg);
			continue;
		}
		if (!fits || total > p->max_frame) {
			p->st.tx_frames++;
			p->st.mtu_dropped++;
			continue;
		}
		if (flags & (USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_CSUM))
			sim_offload_tx(p->scratch, total, flags, p->hal.offloads, l2, l3);
		sim_transmit(p, p->scratch, total);
	}
	sim_pcap_flush(p->link);
	return n;
}

static uint64_t sim_clock_cycles(struct usn_hal *hal)
{
	return sim_port_of(hal)->link->now_us * 1000u; /* ns */
}

/* Deterministic bytes from the link's seed: a simulated port stands in for
 * the platform's random source so that a run replays from its seed. */
static int sim_random(struct usn_hal *hal, void *buf, size_t len)
{
	struct usn_sim_port *p = sim_port_of(hal);
	uint8_t *out = buf;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t x = sim_rng_next(&p->key_rng);
		size_t n = len - i < 8 ? len - i : 8;
		memcpy(out + i, &x, n);
	}
	return 0;
}

/* Zero-copy TX: the port reads these bytes where they are (its tx_burst
 * copies them onto the wire as it copies its own buffers). */
static int sim_tx_region(struct usn_hal *hal, const void *base, size_t len)
{
	struct usn_sim_port *p = sim_port_of(hal);
	if (!(p->hal.offloads & USN_HAL_OFF_TX_EXT))
		return -EOPNOTSUPP;
	if (p->n_regions == SIM_REGIONS_MAX)
		return -ENOSPC;
	p->region[p->n_regions].base = (uintptr_t)base;
	p->region[p->n_regions].end = (uintptr_t)base + len;
	return p->n_regions++;
}

static const struct usn_hal_ops sim_ops = {
    .rx_burst = sim_rx_burst,
    .tx_burst = sim_tx_burst,
    .alloc_bulk = sim_alloc_bulk,
    .free_bulk = sim_free_bulk,
    .clock_cycles = sim_clock_cycles,
    .mem_alloc = NULL,
    .mem_free = NULL,
    .random = sim_random,
    .tx_region = sim_tx_region,
};

/* ---- create / destroy ---- */

void sim_port_free(struct usn_sim_port *p)
{
	if (!p)
		return;
	free(p->pool_mem);
	free(p->free_stack);
	free(p->store);
	free(p->store_meta);
	free(p->store_free);
	for (unsigned q = 0; q < SIM_MAX_QUEUES; q++)
		free(p->rxq[q].slots);
	free(p->scratch);
	for (unsigned k = 0; k < SIM_HELD_MAX; k++)
		free(p->held[k].bytes);
	free(p);
}

struct usn_sim_port *usn_sim_port_create(struct usn_sim_link *l, const struct usn_sim_port_config *cfg)
{
	if (!l || !cfg || cfg->n_queues > SIM_MAX_QUEUES || l->n_ports == UINT16_MAX)
		return NULL;
	struct usn_sim_port *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->link = l;
	p->cfg = *cfg;
	struct usn_sim_port_config *c = &p->cfg;
	if (!c->n_queues)
		c->n_queues = 1;
	if (c->rss_other_queue >= c->n_queues) {
		free(p);
		return NULL;
	}
	if (!c->buf_size)
		c->buf_size = SIM_DEF_BUF_SIZE;
	if (!c->headroom)
		c->headroom = SIM_DEF_HEADROOM;
	if (!c->n_bufs)
		c->n_bufs = SIM_DEF_N_BUFS;
	if (!c->mtu)
		c->mtu = SIM_DEF_MTU;
	if (!c->rx_ring)
		c->rx_ring = SIM_DEF_RX_RING;

	p->index = l->n_ports;
	p->rng = l->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(p->index + 1u));
	sim_rng_next(&p->rng);
	p->key_rng = ~l->seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(p->index + 1u));
	sim_rng_next(&p->key_rng);
	p->owner_tag = SIM_OWNER_MAGIC ^ (uint64_t)(uintptr_t)p;

	/* Frames up to the MTU plus an Ethernet header and one VLAN tag. */
	p->max_frame = (uint32_t)c->mtu + SIM_ETH_HLEN + 4u;
	/* In flight plus delivered: every RX queue full and as much again on
	 * the wire before the receiver tail-drops. */
	p->n_store = c->rx_ring * ((uint32_t)c->n_queues + 1u);
	p->stride = (SIM_META_BYTES + c->headroom + c->buf_size + 63u) & ~(size_t)63u;

	p->pool_mem = calloc(c->n_bufs, p->stride);
	p->free_stack = malloc(sizeof(*p->free_stack) * c->n_bufs);
	p->store = malloc((size_t)p->n_store * p->max_frame);
	p->store_meta = calloc(p->n_store, sizeof(*p->store_meta));
	p->store_free = malloc(sizeof(*p->store_free) * p->n_store);
	/* A TSO port takes frames up to tso_max and cuts them in place. */
	uint32_t tso_max = c->tso_max && c->tso_max < 65535u ? c->tso_max : 65535u;
	bool tso = (c->offloads & USN_HAL_OFF_TX_TSO) != 0;
	p->scratch_cap = tso && tso_max + SIM_ETH_HLEN + 4u > p->max_frame ? tso_max + SIM_ETH_HLEN + 4u : p->max_frame;
	p->scratch = malloc(p->scratch_cap);
	bool ok = p->pool_mem && p->free_stack && p->store && p->store_meta && p->store_free && p->scratch;
	for (unsigned q = 0; ok && q < c->n_queues; q++)
		ok = (p->rxq[q].slots = malloc(sizeof(uint32_t) * c->rx_ring)) != NULL;
	for (unsigned k = 0; ok && k < SIM_HELD_MAX; k++)
		ok = (p->held[k].bytes = malloc(p->max_frame)) != NULL;
	struct usn_sim_port **ports = NULL;
	struct sim_event *heap = NULL;
	if (ok && (ports = realloc(l->ports, sizeof(*ports) * (l->n_ports + 1u))) != NULL)
		l->ports = ports;
	if (ok && ports &&
	    (heap = realloc(l->heap, sizeof(*heap) * (l->heap_cap + (size_t)p->n_store))) != NULL)
		l->heap = heap;
	if (!ok || !ports || !heap) {
		sim_port_free(p);
		return NULL;
	}
	l->heap_cap += p->n_store;

	/* Free in reverse so the first allocations come out in address order.
	 * A slot's metadata is written when it is first handed out, so pool
	 * pages nobody uses are never touched (calloc'd memory reads zero:
	 * a bogus free of such a slot fails the owner check). */
	for (uint32_t i = c->n_bufs; i-- > 0;)
		p->free_stack[p->n_free++] = (struct usn_buf *)(void *)(p->pool_mem + p->stride * i);
	for (uint32_t i = p->n_store; i-- > 0;)
		sim_store_put(p, i);

	p->hal.ops = &sim_ops;
	p->hal.cycles_per_sec = 1000000000u;
	p->hal.offloads = c->offloads;
	p->hal.n_queues = c->n_queues;
	p->hal.mtu = c->mtu;
	p->hal.buf_size = c->buf_size;
	p->hal.n_bufs = c->n_bufs / c->n_queues;
	p->hal.rss_key = c->rss_key ? c->rss_key : usn_rss_key_from(sim_rng_next(&p->key_rng));
	p->hal.tso_max = (c->offloads & (USN_HAL_OFF_TX_TSO | USN_HAL_OFF_RX_LRO)) ? tso_max : 0;
	p->hal.tso_max_segs = (c->offloads & USN_HAL_OFF_TX_TSO) ? c->tso_max_segs : 0;
	memcpy(p->hal.mac, c->mac, 6);
	p->st.bufs_total = c->n_bufs;

	l->ports[l->n_ports++] = p;
	return p;
}

struct usn_hal *usn_sim_port_hal(struct usn_sim_port *p)
{
	return &p->hal;
}

void usn_sim_port_set_faults(struct usn_sim_port *p, const struct usn_sim_faults *f)
{
	if (f)
		p->faults = *f;
	else
		memset(&p->faults, 0, sizeof(p->faults));
}

/* ---- raw test access ---- */

void usn_sim_port_set_tx_tap(struct usn_sim_port *p, usn_sim_tx_tap_fn fn, void *arg)
{
	p->tap = fn;
	p->tap_arg = arg;
}

int usn_sim_port_send_raw(struct usn_sim_port *from, const void *frame, size_t len)
{
	if (len < SIM_ETH_HLEN)
		return -EINVAL;
	if (len > from->max_frame)
		return -EMSGSIZE;
	memcpy(from->scratch, frame, len);
	sim_transmit(from, from->scratch, (uint32_t)len);
	sim_pcap_flush(from->link);
	return 0;
}

/* Copies at most cap bytes of the next delivered frame (lowest queue
 * first) and returns how many it copied. */
size_t usn_sim_port_recv_raw(struct usn_sim_port *p, void *frame, size_t cap)
{
	sim_pump(p->link);
	for (uint16_t q = 0; q < p->hal.n_queues; q++) {
		int64_t s = sim_rxq_peek(p, q);
		if (s < 0)
			continue;
		uint32_t slot = (uint32_t)s;
		size_t len = p->store_meta[slot].len;
		if (len > cap)
			len = cap;
		memcpy(frame, sim_store_bytes(p, slot), len);
		sim_rxq_pop(p, q);
		sim_store_put(p, slot);
		p->st.rx_frames++;
		return len;
	}
	return 0;
}

void usn_sim_port_stats(const struct usn_sim_port *p, struct usn_sim_port_stats *out)
{
	*out = p->st;
	out->bufs_free = p->n_free;
	out->bufs_total = p->cfg.n_bufs;
}
