/* libusnet simulated link: the virtual clock, per-port faults, delivery by
 * destination MAC through a time-ordered heap into preallocated frame
 * stores, and the pcap trace. Single-threaded, like every sim user. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_priv.h"

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit state per stream,
 * good enough for fault decisions and trivially reproducible. */
uint64_t sim_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double sim_rng_unit(uint64_t *state)
{
	return (double)(sim_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static bool sim_rng_hit(uint64_t *state, double p)
{
	return p > 0.0 && sim_rng_unit(state) < p;
}

struct usn_sim_link *usn_sim_link_create(uint64_t seed)
{
	struct usn_sim_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->seed = seed;
	l->now_us = SIM_START_US;
	return l;
}

void usn_sim_link_destroy(struct usn_sim_link *l)
{
	if (!l)
		return;
	if (l->pcap)
		fclose(l->pcap);
	for (uint16_t i = 0; i < l->n_ports; i++)
		sim_port_free(l->ports[i]);
	free(l->ports);
	free(l->heap);
	free(l);
}

uint64_t usn_sim_link_now_us(const struct usn_sim_link *l)
{
	return l->now_us;
}

/* ---- the delivery heap ---- */

static bool sim_ev_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

static void sim_heap_push(struct usn_sim_link *l, struct sim_event ev)
{
	/* Capacity is the sum of every port's store (an event owns a store
	 * slot), reserved when the port was created. */
	uint32_t i = l->heap_n++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!sim_ev_before(&ev, &l->heap[parent]))
			break;
		l->heap[i] = l->heap[parent];
		i = parent;
	}
	l->heap[i] = ev;
}

static struct sim_event sim_heap_pop(struct usn_sim_link *l)
{
	struct sim_event top = l->heap[0];
	struct sim_event last = l->heap[--l->heap_n];
	uint32_t i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= l->heap_n)
			break;
		if (c + 1 < l->heap_n && sim_ev_before(&l->heap[c + 1], &l->heap[c]))
			c++;
		if (!sim_ev_before(&l->heap[c], &last))
			break;
		l->heap[i] = l->heap[c];
		i = c;
	}
	if (l->heap_n)
		l->heap[i] = last;
	return top;
}

/* ---- frame stores and RX queues ---- */

void sim_store_put(struct usn_sim_port *p, uint32_t slot)
{
	p->store_free[p->store_n_free++] = slot;
}

int64_t sim_rxq_peek(const struct usn_sim_port *p, uint16_t q)
{
	const struct sim_rxq *r = &p->rxq[q];
	return r->count ? (int64_t)r->slots[r->head] : -1;
}

int64_t sim_rxq_peek_at(const struct usn_sim_port *p, uint16_t q, uint32_t k)
{
	const struct sim_rxq *r = &p->rxq[q];
	return k < r->count ? (int64_t)r->slots[(r->head + k) % p->cfg.rx_ring] : -1;
}

void sim_rxq_pop(struct usn_sim_port *p, uint16_t q)
{
	struct sim_rxq *r = &p->rxq[q];
	r->head = (r->head + 1) % p->cfg.rx_ring;
	r->count--;
}

/* Copies a frame into d's store and schedules its arrival. */
static void sim_enqueue(struct usn_sim_port *d, const uint8_t *bytes, uint32_t len, uint64_t at_us)
{
	struct usn_sim_link *l = d->link;
	if (len > d->max_frame) {
		d->st.mtu_dropped++;
		return;
	}
	if (!d->store_n_free) {
		/* More frames in flight and queued than the receiver can hold. */
		d->st.rx_ring_full++;
		return;
	}
	uint32_t slot = d->store_free[--d->store_n_free];
	memcpy(sim_store_bytes(d, slot), bytes, len);
	struct sim_frame_meta *m = &d->store_meta[slot];
	m->len = len;
	m->queue = (d->hal.offloads & USN_HAL_OFF_RSS) ? d->cfg.rss_other_queue : 0;
	m->has_hash = false;
	m->rss_hash = 0;
	if ((d->hal.offloads & USN_HAL_OFF_RSS) && sim_offload_rss(bytes, len, d->hal.rss_key, &m->rss_hash)) {
		m->has_hash = true;
		m->queue = usn_rss_queue(m->rss_hash, d->hal.n_queues);
	}
	sim_heap_push(l, (struct sim_event){.at_us = at_us, .seq = l->seq++, .slot = slot, .port = d->index});
}

/* Unicast to the port(s) owning the destination MAC, group addresses to
 * every port but the sender. */
static void sim_deliver(struct usn_sim_port *from, const uint8_t *bytes, uint32_t len, uint64_t at_us,
			unsigned copies)
{
	struct usn_sim_link *l = from->link;
	bool group = bytes[0] & 1u;
	for (uint16_t i = 0; i < l->n_ports; i++) {
		struct usn_sim_port *d = l->ports[i];
		if (d == from || (!group && memcmp(d->cfg.mac, bytes, 6) != 0))
			continue;
		for (unsigned c = 0; c < copies; c++)
			sim_enqueue(d, bytes, len, at_us);
	}
}

static void sim_held_release(struct usn_sim_port *p, uint32_t i, uint64_t at_us)
{
	struct sim_held h = p->held[i];
	sim_deliver(p, h.bytes, h.len, at_us, h.copies);
	/* Keep the held frames in send order; the array is tiny. */
	for (uint32_t k = i; k + 1 < p->n_held; k++)
		p->held[k] = p->held[k + 1];
	p->held[p->n_held - 1] = h; /* keep its buffer */
	p->n_held--;
}

void sim_pump(struct usn_sim_link *l)
{
	for (;;) {
		uint64_t t_heap = l->heap_n ? l->heap[0].at_us : UINT64_MAX;
		uint64_t t_held = UINT64_MAX;
		struct usn_sim_port *hp = NULL;
		uint32_t hi = 0;
		for (uint16_t i = 0; i < l->n_ports; i++) {
			struct usn_sim_port *p = l->ports[i];
			for (uint32_t k = 0; k < p->n_held; k++) {
				uint64_t t = p->held[k].natural_us + SIM_REORDER_TIMEOUT_US;
				if (t < t_held) {
					t_held = t;
					hp = p;
					hi = k;
				}
			}
		}
		if (t_heap > l->now_us && t_held > l->now_us)
			return;
		if (t_held <= t_heap) {
			/* No later frame came to overtake it: it goes out late. */
			sim_held_release(hp, hi, t_held);
			continue;
		}
		struct sim_event ev = sim_heap_pop(l);
		struct usn_sim_port *d = l->ports[ev.port];
		uint16_t q = d->store_meta[ev.slot].queue;
		struct sim_rxq *r = &d->rxq[q];
		if (r->count >= d->cfg.rx_ring) {
			d->st.rx_ring_full++;
			sim_store_put(d, ev.slot);
			continue;
		}
		r->slots[(r->head + r->count) % d->cfg.rx_ring] = ev.slot;
		r->count++;
	}
}

void usn_sim_link_advance(struct usn_sim_link *l, uint64_t us)
{
	l->now_us += us;
	sim_pump(l);
	sim_pcap_flush(l);
}

uint64_t usn_sim_link_next_delivery_us(const struct usn_sim_link *l)
{
	uint64_t t = l->heap_n ? l->heap[0].at_us : UINT64_MAX;
	for (uint16_t i = 0; i < l->n_ports; i++) {
		const struct usn_sim_port *p = l->ports[i];
		for (uint32_t k = 0; k < p->n_held; k++)
			if (p->held[k].natural_us + SIM_REORDER_TIMEOUT_US < t)
				t = p->held[k].natural_us + SIM_REORDER_TIMEOUT_US;
	}
	return t;
}

/* ---- pcap (libpcap file format, microsecond timestamps, host order) ---- */

static bool sim_put32(FILE *f, uint32_t v)
{
	return fwrite(&v, sizeof(v), 1, f) == 1;
}

static bool sim_put16(FILE *f, uint16_t v)
{
	return fwrite(&v, sizeof(v), 1, f) == 1;
}

int usn_sim_link_pcap_open(struct usn_sim_link *l, const char *path)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return errno ? -errno : -EIO;
	bool ok = sim_put32(f, 0xa1b2c3d4u) && sim_put16(f, 2) && sim_put16(f, 4) &&
		  sim_put32(f, 0)					  /* thiszone */
		  && sim_put32(f, 0) /* sigfigs */ && sim_put32(f, 65535) /* snaplen */
		  && sim_put32(f, 1) /* LINKTYPE_ETHERNET */ && fflush(f) == 0;
	if (!ok) {
		fclose(f);
		return -EIO;
	}
	if (l->pcap)
		fclose(l->pcap);
	l->pcap = f;
	l->pcap_dirty = false;
	return 0;
}

/* Once per burst, not per frame, so a test that aborts right after a send
 * still leaves a complete trace. */
void sim_pcap_flush(struct usn_sim_link *l)
{
	if (l->pcap && l->pcap_dirty) {
		fflush(l->pcap);
		l->pcap_dirty = false;
	}
}

static void sim_pcap_write(struct usn_sim_link *l, const uint8_t *bytes, uint32_t len)
{
	/* stdio buffers this; a trace is a test aid, not the fast path. */
	uint32_t incl = len < 65535 ? len : 65535;
	sim_put32(l->pcap, (uint32_t)(l->now_us / 1000000u));
	sim_put32(l->pcap, (uint32_t)(l->now_us % 1000000u));
	sim_put32(l->pcap, incl);
	sim_put32(l->pcap, len);
	fwrite(bytes, 1, incl, l->pcap);
	l->pcap_dirty = true;
}

/* ---- sending ---- */

void sim_transmit(struct usn_sim_port *p, uint8_t *b, uint32_t len)
{
	struct usn_sim_link *l = p->link;
	const struct usn_sim_faults *f = &p->faults;

	p->st.tx_frames++;
	if (len < SIM_ETH_HLEN) {
		p->st.lost++; /* a runt: no destination to deliver it to */
		return;
	}
	if (len - SIM_ETH_HLEN > p->st.tx_max_ip)
		p->st.tx_max_ip = len - SIM_ETH_HLEN;
	if (len > p->max_frame || (f->mtu && len - SIM_ETH_HLEN > f->mtu)) {
		p->st.mtu_dropped++;
		return;
	}

	/* Serialisation: the frame leaves when the wire is free, in send
	 * order; nanoseconds so small frames at high rates do not round up. */
	uint64_t now_ns = l->now_us * 1000u;
	uint64_t start_ns = p->tx_busy_until_ns > now_ns ? p->tx_busy_until_ns : now_ns;
	uint64_t ser_ns =
	    f->rate_bps ? ((uint64_t)len * 8u * 1000000000u + f->rate_bps - 1) / f->rate_bps : 0;
	p->tx_busy_until_ns = start_ns + ser_ns;
	uint64_t at_us = (p->tx_busy_until_ns + 999u) / 1000u + f->delay_us;
	if (f->jitter_us)
		at_us += sim_rng_next(&p->rng) % ((uint64_t)f->jitter_us + 1u);

	if (sim_rng_hit(&p->rng, f->loss)) {
		p->st.lost++;
		return;
	}
	if (len > SIM_ETH_HLEN && sim_rng_hit(&p->rng, f->corrupt)) {
		/* Past the Ethernet header: an error there is caught by the FCS
		 * and looks like loss; this one is for the IP/TCP sums to find. */
		uint64_t bit = sim_rng_next(&p->rng) % ((uint64_t)(len - SIM_ETH_HLEN) * 8u);
		b[SIM_ETH_HLEN + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		p->st.corrupted++;
	}
	unsigned copies = 1;
	if (sim_rng_hit(&p->rng, f->duplicate)) {
		copies = 2;
		p->st.duplicated++;
	}
	if (l->pcap)
		for (unsigned c = 0; c < copies; c++)
			sim_pcap_write(l, b, len);

	if (sim_rng_hit(&p->rng, f->reorder)) {
		if (p->n_held == SIM_HELD_MAX)
			sim_held_release(p, 0, at_us);
		struct sim_held *h = &p->held[p->n_held++];
		memcpy(h->bytes, b, len);
		h->len = len;
		h->copies = (uint8_t)copies;
		h->natural_us = at_us;
		p->st.reordered++;
		return;
	}
	sim_deliver(p, b, len, at_us, copies);
	/* Held frames go out right behind this one (later sequence numbers). */
	while (p->n_held) {
		uint64_t t = p->held[0].natural_us > at_us ? p->held[0].natural_us : at_us;
		sim_held_release(p, 0, t);
	}
}
