/* libusnet ARP (lib/net, RFC 826): a fixed-size cache per worker (open
 * addressing, linear probing, entries expire), resolution with a bounded
 * queue of waiting frames and timed retries, and answers for our address.
 * Entries learned from the wire are posted to the other workers, so each
 * worker has the whole table without a shared, locked one (unlike Rusty,
 * whose ARP table was static with more than one core). */
#include <stddef.h>
#include <string.h>

#include "net/net.h"

/* Ethernet frames are at least 60 bytes before the FCS (IEEE 802.3). */
#define USN_ETH_MIN_FRAME 60

struct usn_arp_entry {
	uint64_t expires_us;
	uint32_t ip; /* 0: free slot */
	uint8_t mac[6];
};

/* A resolution in progress: one per next hop with frames waiting. */
struct usn_arp_pending {
	struct usn_timer timer; /* first member: the retry timer leads back here */
	uint32_t ip;            /* 0: free */
	uint32_t tries;         /* requests sent */
};

struct usn_arp_cache {
	struct usn_arp_entry *tab;
	uint32_t cap, shift; /* cap = 1 << (32 - shift), at least twice max */
	uint32_t n, max;
	struct usn_arp_pending *pend;
	uint32_t pend_cap;
	/* Frames waiting for resolution, in order, linked through buf->link;
	 * buf->stack_u64 holds the next hop. */
	struct usn_buf *q_head, *q_tail;
	uint32_t q_n, q_cap;
};

static const uint8_t usn_mac_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t usn_mac_zero[6];

/* ---- the table ---- */

static uint32_t usn_arp_home(const struct usn_arp_cache *a, uint32_t ip)
{
	return (uint32_t)(ip * 2654435761u) >> a->shift; /* Fibonacci hashing */
}

static struct usn_arp_entry *usn_arp_find(struct usn_arp_cache *a, uint32_t ip)
{
	uint32_t mask = a->cap - 1;
	for (uint32_t i = usn_arp_home(a, ip);; i = (i + 1) & mask) {
		struct usn_arp_entry *e = &a->tab[i];
		if (e->ip == ip)
			return e;
		if (e->ip == 0)
			return NULL;
	}
}

/* Deletion with backward shift (Knuth 6.4, algorithm R): no tombstones, so
 * probe chains stay short however long the stack runs. */
static void usn_arp_remove(struct usn_arp_cache *a, struct usn_arp_entry *e)
{
	uint32_t mask = a->cap - 1;
	uint32_t i = (uint32_t)(e - a->tab);
	for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
		struct usn_arp_entry *f = &a->tab[j];
		if (f->ip == 0)
			break;
		uint32_t h = usn_arp_home(a, f->ip);
		/* f may move to i if its home is not cyclically in (i, j]. */
		bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
		if (!stays) {
			a->tab[i] = *f;
			i = j;
		}
	}
	a->tab[i].ip = 0;
	a->n--;
}

static void usn_arp_sweep_expired(struct usn_worker *w, struct usn_arp_cache *a)
{
	for (uint32_t i = 0; i < a->cap; i++) {
		while (a->tab[i].ip && a->tab[i].expires_us <= w->now_us) {
			usn_arp_remove(a, &a->tab[i]);
			w->stats.arp_expired++;
		}
	}
}

/* Inserts or refreshes ip. Returns true if the entry is new. The table never
 * holds more than `max` entries: when full, expired ones go first, then the
 * entry nearest ip's home slot. */
static bool usn_arp_insert(struct usn_worker *w, struct usn_arp_cache *a, uint32_t ip, const uint8_t mac[6])
{
	uint64_t expires = w->now_us + (uint64_t)w->stack->cfg.arp_timeout_ms * 1000u;
	struct usn_arp_entry *e = usn_arp_find(a, ip);
	if (e) {
		memcpy(e->mac, mac, 6);
		e->expires_us = expires;
		return false;
	}
	if (a->n >= a->max)
		usn_arp_sweep_expired(w, a);
	if (a->n >= a->max) {
		uint32_t mask = a->cap - 1, i = usn_arp_home(a, ip);
		while (a->tab[i].ip == 0)
			i = (i + 1) & mask;
		usn_arp_remove(a, &a->tab[i]);
	}
	uint32_t mask = a->cap - 1, i = usn_arp_home(a, ip);
	while (a->tab[i].ip != 0)
		i = (i + 1) & mask;
	a->tab[i].ip = ip;
	memcpy(a->tab[i].mac, mac, 6);
	a->tab[i].expires_us = expires;
	a->n++;
	return true;
}

bool usn_arp_lookup(struct usn_worker *w, uint32_t ip, uint8_t mac[6])
{
	struct usn_arp_cache *a = w->arp;
	struct usn_arp_entry *e = usn_arp_find(a, ip);
	if (!e)
		return false;
	if (e->expires_us <= w->now_us) {
		usn_arp_remove(a, e);
		w->stats.arp_expired++;
		return false;
	}
	memcpy(mac, e->mac, 6);
	return true;
}

/* ---- frames ---- */

static void usn_arp_write_eth(struct usn_worker *w, uint8_t *p, const uint8_t dst[6], uint16_t type)
{
	struct usn_eth_repr eth = {.ethertype = type, .hdr_len = USN_ETH_HDR_LEN};
	memcpy(eth.dst, dst, 6);
	memcpy(eth.src, w->stack->mac, 6);
	usn_eth_emit(&eth, p);
}

/* Writes a padded ARP frame into b's first buffer and queues it. */
static void usn_arp_emit_frame(struct usn_worker *w, struct usn_buf *b, const uint8_t eth_dst[6],
			       const struct usn_arp_repr *r)
{
	uint8_t *p = b->data;
	usn_arp_write_eth(w, p, eth_dst, USN_ETHERTYPE_ARP);
	usn_arp_emit(r, p + USN_ETH_HDR_LEN);
	memset(p + USN_ETH_HDR_LEN + USN_ARP_LEN, 0, USN_ETH_MIN_FRAME - USN_ETH_HDR_LEN - USN_ARP_LEN);
	b->len = USN_ETH_MIN_FRAME;
	b->frame_len = USN_ETH_MIN_FRAME;
	b->flags = 0;
	usn_worker_tx(w, b);
}

static bool usn_arp_send_request(struct usn_worker *w, uint32_t tpa)
{
	struct usn_buf *b = usn_worker_buf_alloc(w);
	if (!b)
		return false;
	struct usn_arp_repr r = {.op = USN_ARP_REQUEST, .spa = w->stack->cfg.ip, .tpa = tpa};
	memcpy(r.sha, w->stack->mac, 6);
	usn_arp_emit_frame(w, b, usn_mac_broadcast, &r);
	return true;
}

void usn_arp_announce(struct usn_worker *w)
{
	/* RFC 5227 2.3: an announcement is a request with sender and target
	 * both our address, so every neighbour updates its cache. */
	uint32_t ip = w->stack->cfg.ip;
	if (usn_arp_send_request(w, ip))
		w->stats.arp_gratuitous_tx++;
}

/* Sends a frame whose next hop has a known MAC: Ethernet header, TX batch. */
static void usn_arp_send_resolved(struct usn_worker *w, struct usn_buf *frame, const uint8_t mac[6])
{
	usn_arp_write_eth(w, frame->data, mac, USN_ETHERTYPE_IPV4);
	frame->l2_len = USN_ETH_HDR_LEN;
	usn_worker_tx(w, frame);
}

/* ---- resolution ---- */

static struct usn_arp_pending *usn_arp_pending_find(struct usn_arp_cache *a, uint32_t ip)
{
	for (uint32_t i = 0; i < a->pend_cap; i++)
		if (a->pend[i].ip == ip)
			return &a->pend[i];
	return NULL;
}

/* Takes every waiting frame for ip off the queue: sends them to mac, or
 * drops them when mac is NULL (resolution failed). */
static void usn_arp_release_waiting(struct usn_worker *w, struct usn_arp_cache *a, uint32_t ip, const uint8_t *mac)
{
	struct usn_buf **pp = &a->q_head, *prev = NULL;
	while (*pp) {
		struct usn_buf *b = *pp;
		if (b->stack_u64 != ip) {
			prev = b;
			pp = &b->link;
			continue;
		}
		*pp = b->link;
		if (a->q_tail == b)
			a->q_tail = prev;
		a->q_n--;
		b->link = NULL;
		b->stack_u64 = 0;
		if (mac) {
			usn_arp_send_resolved(w, b, mac);
		} else {
			w->stats.drop_arp_unresolved++;
			usn_worker_buf_free(w, b);
		}
	}
}

static void usn_arp_retry(struct usn_timer *t, void *ctx)
{
	struct usn_worker *w = ctx;
	struct usn_arp_cache *a = w->arp;
	struct usn_arp_pending *p = (struct usn_arp_pending *)(void *)((char *)t - offsetof(struct usn_arp_pending, timer));
	const struct usn_stack_config *cfg = &w->stack->cfg;
	if (p->tries >= cfg->arp_retries) {
		uint32_t ip = p->ip;
		p->ip = 0;
		w->stats.arp_failed++;
		usn_arp_release_waiting(w, a, ip, NULL);
		return;
	}
	p->tries++;
	if (usn_arp_send_request(w, p->ip))
		w->stats.arp_requests_tx++;
	usn_timer_arm(&w->wheel, &p->timer, w->now_us + (uint64_t)cfg->arp_retry_ms * 1000u);
}

/* ip is now known (learned here or posted by another worker). */
static void usn_arp_resolved(struct usn_worker *w, struct usn_arp_cache *a, uint32_t ip, const uint8_t mac[6])
{
	struct usn_arp_pending *p = usn_arp_pending_find(a, ip);
	if (!p)
		return;
	usn_timer_cancel(&w->wheel, &p->timer);
	p->ip = 0;
	usn_arp_release_waiting(w, a, ip, mac);
}

void usn_arp_send(struct usn_worker *w, struct usn_buf *frame, uint32_t next_hop)
{
	struct usn_arp_cache *a = w->arp;
	uint8_t mac[6];
	if (usn_arp_lookup(w, next_hop, mac)) {
		usn_arp_send_resolved(w, frame, mac);
		return;
	}
	struct usn_arp_pending *p = usn_arp_pending_find(a, next_hop);
	if (a->q_n >= a->q_cap || (!p && !(p = usn_arp_pending_find(a, 0)))) {
		w->stats.drop_arp_queue_full++;
		usn_worker_buf_free(w, frame);
		return;
	}
	frame->link = NULL;
	frame->stack_u64 = next_hop;
	if (a->q_tail)
		a->q_tail->link = frame;
	else
		a->q_head = frame;
	a->q_tail = frame;
	a->q_n++;
	if (p->ip == 0) {
		const struct usn_stack_config *cfg = &w->stack->cfg;
		p->ip = next_hop;
		p->tries = 1;
		if (usn_arp_send_request(w, next_hop))
			w->stats.arp_requests_tx++;
		usn_timer_arm(&w->wheel, &p->timer, w->now_us + (uint64_t)cfg->arp_retry_ms * 1000u);
	}
}

/* ---- learning ---- */

static void usn_arp_learn_wire(struct usn_worker *w, uint32_t ip, const uint8_t mac[6])
{
	struct usn_arp_cache *a = w->arp;
	if (usn_arp_insert(w, a, ip, mac))
		w->stats.arp_learned++;
	usn_arp_resolved(w, a, ip, mac);
	/* Tell the other workers (new entry or refresh alike, so their copies
	 * expire together with ours). A full ring only costs them a request. */
	struct usn_msg m = {.type = USN_MSG_ARP, .ip = ip};
	memcpy(m.mac, mac, 6);
	for (uint16_t i = 0; i < w->stack->n_workers; i++)
		if (i != w->id)
			(void)usn_worker_post(w, i, &m);
}

void usn_arp_learn_msg(struct usn_worker *w, uint32_t ip, const uint8_t mac[6])
{
	struct usn_arp_cache *a = w->arp;
	(void)usn_arp_insert(w, a, ip, mac);
	usn_arp_resolved(w, a, ip, mac);
}

static bool usn_arp_sender_usable(const struct usn_worker *w, const struct usn_arp_repr *r)
{
	/* spa 0 is an RFC 5227 probe; our own address from another MAC is a
	 * conflict, never an entry; a group MAC is never a neighbour. */
	return r->spa != 0 && r->spa != w->stack->cfg.ip && r->spa != 0xffffffffu && !(r->sha[0] & 1) &&
	       memcmp(r->sha, usn_mac_zero, 6) != 0;
}

void usn_arp_input(struct usn_worker *w, struct usn_buf *frame, struct usn_cursor l3)
{
	struct usn_arp_repr r;
	if (usn_arp_parse(l3, &r) != USN_WIRE_OK || (r.op != USN_ARP_REQUEST && r.op != USN_ARP_REPLY)) {
		w->stats.drop_arp_malformed++;
		goto drop;
	}
	if (r.op == USN_ARP_REQUEST)
		w->stats.arp_requests_rx++;
	else
		w->stats.arp_replies_rx++;

	bool for_us = r.tpa == w->stack->cfg.ip;
	/* RFC 826 "merge": refresh a sender we already know whoever the
	 * packet is for; add it only when the packet is for us. */
	if (usn_arp_sender_usable(w, &r)) {
		if (for_us || usn_arp_find(w->arp, r.spa))
			usn_arp_learn_wire(w, r.spa, r.sha);
	}
	if (!for_us) {
		w->stats.drop_arp_not_for_us++;
		goto drop;
	}
	if (r.op != USN_ARP_REQUEST)
		goto done;

	/* Answer in the request's own buffer when it can hold the reply. */
	struct usn_buf *b = frame;
	if (frame->next || frame->room < USN_ETH_MIN_FRAME) {
		b = usn_worker_buf_alloc(w);
		if (!b)
			goto drop;
		usn_worker_buf_free(w, frame);
	}
	struct usn_arp_repr rep = {.op = USN_ARP_REPLY, .spa = w->stack->cfg.ip, .tpa = r.spa};
	memcpy(rep.sha, w->stack->mac, 6);
	memcpy(rep.tha, r.sha, 6);
	usn_arp_emit_frame(w, b, r.sha, &rep);
	w->stats.arp_replies_tx++;
	return;
done:
drop:
	usn_worker_buf_free(w, frame);
}

/* ---- life cycle ---- */

struct usn_arp_cache *usn_arp_create(struct usn_worker *w)
{
	const struct usn_stack_config *cfg = &w->stack->cfg;
	struct usn_arp_cache *a = usn_worker_mem_alloc(w, sizeof(*a));
	if (!a)
		return NULL;
	uint32_t bits = 3;
	while ((1u << bits) < 2u * cfg->arp_entries)
		bits++;
	a->cap = 1u << bits;
	a->shift = 32 - bits;
	a->max = cfg->arp_entries;
	a->q_cap = cfg->arp_queue_len;
	a->pend_cap = cfg->arp_queue_len; /* each resolution holds at least one frame */
	a->tab = usn_worker_mem_alloc(w, sizeof(*a->tab) * a->cap);
	a->pend = usn_worker_mem_alloc(w, sizeof(*a->pend) * (a->pend_cap ? a->pend_cap : 1));
	if (!a->tab || !a->pend) {
		usn_arp_destroy(w, a);
		return NULL;
	}
	for (uint32_t i = 0; i < a->pend_cap; i++)
		usn_timer_init(&a->pend[i].timer, usn_arp_retry);
	return a;
}

void usn_arp_destroy(struct usn_worker *w, struct usn_arp_cache *a)
{
	if (!a)
		return;
	while (a->q_head) {
		struct usn_buf *b = a->q_head;
		a->q_head = b->link;
		b->link = NULL;
		usn_worker_buf_free(w, b);
	}
	if (a->pend)
		for (uint32_t i = 0; i < a->pend_cap; i++)
			usn_timer_cancel(&w->wheel, &a->pend[i].timer);
	usn_worker_mem_free(w, a->pend, sizeof(*a->pend) * (a->pend_cap ? a->pend_cap : 1));
	usn_worker_mem_free(w, a->tab, sizeof(*a->tab) * a->cap);
	usn_worker_mem_free(w, a, sizeof(*a));
}
