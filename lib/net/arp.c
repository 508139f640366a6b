/* libusnet ARP (lib/net, RFC 826): a fixed-size cache per worker (open
 * addressing, linear probing), resolution with a bounded queue of waiting
 * frames and timed retries, unicast probes of stale entries that stay in use
 * (RFC 1122 2.3.2.1), and answers for our address. Entries learned from the
 * wire are posted to the other workers, so each worker has the whole table
 * without a shared, locked one (unlike Rusty, whose ARP table was static
 * with more than one core). */
#include <stddef.h>
#include <string.h>

#include "net/net.h"

/* Ethernet frames are at least 60 bytes before the FCS (IEEE 802.3). */
#define USN_ETH_MIN_FRAME 60

/* An entry's life (RFC 1122 2.3.2.1, after Linux's REACHABLE, STALE and
 * PROBE): reachable for reachable_us after the last ARP packet from the
 * neighbour; then stale, still used, and the first use starts a probe
 * (unicast requests to the cached MAC) during which it stays in use however
 * old it is; a reply makes it reachable again, no reply to arp_retries
 * requests removes it. A stale entry nobody uses is gone lifetime_us after
 * its last confirmation (arp_timeout_ms), as before. Peers that keep
 * sending us TCP never send ARP, so without probes a busy entry expired
 * hard and the frames of the next burst overflowed the resolution queue. */
struct usn_arp_entry {
	uint64_t confirmed_us; /* last ARP packet from ip (here or posted) */
	uint32_t ip;           /* 0: free slot */
	uint32_t probe;        /* 1 + its slot in probes[]; 0: not probed */
	uint8_t mac[6];
};

/* A timed exchange with one neighbour: a resolution (broadcast requests,
 * frames waiting; one per next hop) or a probe of a stale entry (unicast
 * requests, nothing waiting; one per entry). */
struct usn_arp_pending {
	struct usn_timer timer; /* first member: the retry timer leads back here */
	uint32_t ip;            /* 0: free */
	uint32_t tries;         /* requests sent */
};

struct usn_arp_cache {
	struct usn_arp_entry *tab;
	uint32_t cap, shift; /* cap = 1 << (32 - shift), at least twice max */
	uint32_t n, max;
	struct usn_arp_pending *pend; /* resolutions */
	uint32_t pend_cap;
	struct usn_arp_pending *probes; /* probes: as many as entries, so never short */
	uint32_t probes_cap, probe_hint;
	uint64_t reachable_us, lifetime_us;
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
	if (ip == 0)
		return NULL; /* 0 marks a free slot, never an entry */
	uint32_t mask = a->cap - 1;
	for (uint32_t i = usn_arp_home(a, ip);; i = (i + 1) & mask) {
		struct usn_arp_entry *e = &a->tab[i];
		if (e->ip == ip)
			return e;
		if (e->ip == 0)
			return NULL;
	}
}

/* Ends e's probe, if any (answered, or the entry goes). */
static void usn_arp_probe_end(struct usn_worker *w, struct usn_arp_cache *a, struct usn_arp_entry *e)
{
	if (!e->probe)
		return;
	struct usn_arp_pending *p = &a->probes[e->probe - 1];
	usn_timer_cancel(&w->wheel, &p->timer);
	p->ip = 0;
	e->probe = 0;
}

/* An entry nobody probes expires lifetime_us after its confirmation. */
static bool usn_arp_expired(const struct usn_worker *w, const struct usn_arp_cache *a, const struct usn_arp_entry *e)
{
	return !e->probe && e->confirmed_us + a->lifetime_us <= w->now_us;
}

/* Deletion with backward shift (Knuth 6.4, algorithm R): no tombstones, so
 * probe chains stay short however long the stack runs. Entries move, so a
 * probe finds its entry by address, never by pointer. */
static void usn_arp_remove(struct usn_worker *w, struct usn_arp_cache *a, struct usn_arp_entry *e)
{
	usn_arp_probe_end(w, a, e);
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
		while (a->tab[i].ip && usn_arp_expired(w, a, &a->tab[i])) {
			usn_arp_remove(w, a, &a->tab[i]);
			w->stats.arp_expired++;
		}
	}
}

/* Inserts or confirms ip (reachable again, any probe answered). Returns
 * true if the entry is new. The table never holds more than `max` entries:
 * when full, expired ones go first, then the entry nearest ip's home slot. */
static bool usn_arp_insert(struct usn_worker *w, struct usn_arp_cache *a, uint32_t ip, const uint8_t mac[6])
{
	struct usn_arp_entry *e = usn_arp_find(a, ip);
	if (e) {
		memcpy(e->mac, mac, 6);
		e->confirmed_us = w->now_us;
		usn_arp_probe_end(w, a, e);
		return false;
	}
	if (a->n >= a->max)
		usn_arp_sweep_expired(w, a);
	if (a->n >= a->max) {
		uint32_t mask = a->cap - 1, i = usn_arp_home(a, ip);
		while (a->tab[i].ip == 0)
			i = (i + 1) & mask;
		usn_arp_remove(w, a, &a->tab[i]);
	}
	uint32_t mask = a->cap - 1, i = usn_arp_home(a, ip);
	while (a->tab[i].ip != 0)
		i = (i + 1) & mask;
	a->tab[i].ip = ip;
	memcpy(a->tab[i].mac, mac, 6);
	a->tab[i].confirmed_us = w->now_us;
	a->tab[i].probe = 0;
	a->n++;
	return true;
}

/* ip's entry if it may be used (reachable, stale or being probed); an
 * expired one is removed and counted. */
static inline struct usn_arp_entry *usn_arp_get(struct usn_worker *w, struct usn_arp_cache *a, uint32_t ip)
{
	struct usn_arp_entry *e = usn_arp_find(a, ip);
	if (e && usn_arp_expired(w, a, e)) {
		usn_arp_remove(w, a, e);
		w->stats.arp_expired++;
		return NULL;
	}
	return e;
}

bool usn_arp_lookup(struct usn_worker *w, uint32_t ip, uint8_t mac[6])
{
	struct usn_arp_entry *e = usn_arp_get(w, w->arp, ip);
	if (!e)
		return false;
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

/* A request for tpa, broadcast, or to eth_dst (a probe; target hardware
 * address zero, as Linux's). */
static bool usn_arp_send_request(struct usn_worker *w, uint32_t tpa, const uint8_t *eth_dst)
{
	struct usn_buf *b = usn_worker_buf_alloc(w);
	if (!b)
		return false;
	struct usn_arp_repr r = {.op = USN_ARP_REQUEST, .spa = w->stack->cfg.ip, .tpa = tpa};
	memcpy(r.sha, w->stack->mac, 6);
	usn_arp_emit_frame(w, b, eth_dst ? eth_dst : usn_mac_broadcast, &r);
	return true;
}

void usn_arp_announce(struct usn_worker *w)
{
	/* RFC 5227 2.3: an announcement is a request with sender and target
	 * both our address, so every neighbour updates its cache. */
	uint32_t ip = w->stack->cfg.ip;
	if (usn_arp_send_request(w, ip, NULL))
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
	if (usn_arp_send_request(w, p->ip, NULL))
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

/* ---- probes of stale entries (RFC 1122 2.3.2.1, "unicast poll") ---- */

static void usn_arp_probe_retry(struct usn_timer *t, void *ctx)
{
	struct usn_worker *w = ctx;
	struct usn_arp_cache *a = w->arp;
	struct usn_arp_pending *p = (struct usn_arp_pending *)(void *)((char *)t - offsetof(struct usn_arp_pending, timer));
	const struct usn_stack_config *cfg = &w->stack->cfg;
	struct usn_arp_entry *e = usn_arp_find(a, p->ip);
	if (!e || e->probe != (uint32_t)(p - a->probes) + 1) {
		p->ip = 0; /* not reached: removal and confirmation end the probe */
		return;
	}
	if (p->tries >= cfg->arp_retries) {
		/* No reply to arp_retries polls: the neighbour is gone or has
		 * another address; the next frame resolves it afresh. */
		w->stats.arp_failed++;
		usn_arp_remove(w, a, e);
		return;
	}
	p->tries++;
	if (usn_arp_send_request(w, e->ip, e->mac))
		w->stats.arp_requests_tx++;
	usn_timer_arm(&w->wheel, &p->timer, w->now_us + (uint64_t)cfg->arp_retry_ms * 1000u);
}

static void usn_arp_probe_start(struct usn_worker *w, struct usn_arp_cache *a, struct usn_arp_entry *e)
{
	/* probes_cap >= entries, so the scan finds a slot; it runs once per
	 * probe, at most once per entry per reachable time. */
	uint32_t i = a->probe_hint;
	for (uint32_t k = 0; a->probes[i].ip != 0; k++) {
		if (k == a->probes_cap)
			return;
		i = i + 1 == a->probes_cap ? 0 : i + 1;
	}
	a->probe_hint = i + 1 == a->probes_cap ? 0 : i + 1;
	struct usn_arp_pending *p = &a->probes[i];
	p->ip = e->ip;
	p->tries = 1;
	e->probe = i + 1;
	if (usn_arp_send_request(w, e->ip, e->mac))
		w->stats.arp_requests_tx++;
	usn_timer_arm(&w->wheel, &p->timer, w->now_us + (uint64_t)w->stack->cfg.arp_retry_ms * 1000u);
}

void usn_arp_send(struct usn_worker *w, struct usn_buf *frame, uint32_t next_hop)
{
	struct usn_arp_cache *a = w->arp;
	struct usn_arp_entry *e = usn_arp_get(w, a, next_hop);
	if (e) {
		/* Stale or not, the frame goes to the cached MAC now: queueing it
		 * behind a fresh resolution is what dropped the bursts. */
		usn_arp_send_resolved(w, frame, e->mac);
		if (!e->probe && e->confirmed_us + a->reachable_us <= w->now_us)
			usn_arp_probe_start(w, a, e);
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
		if (usn_arp_send_request(w, next_hop, NULL))
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

/* An address a neighbour may have. spa 0 is an RFC 5227 probe; our own
 * address (from another MAC) is a conflict, never an entry (RFC 5227 2.4);
 * broadcast, multicast and class E are nobody's. */
static bool usn_arp_sender_ip_usable(const struct usn_worker *w, uint32_t spa)
{
	return spa != 0 && spa != w->stack->cfg.ip && spa < 0xe0000000u;
}

/* ARP carries no checksum (only the FCS, which a NIC or a switch that
 * corrupts in its memory does not cover), so nothing but these checks
 * stands between one damaged reply and a poisoned entry. The sender
 * hardware address must be the frame's own source, and neither a group
 * address nor zero (never a neighbour's; answering it would send to a
 * group). */
static bool usn_arp_sender_mac_ok(const struct usn_eth_repr *eth, const struct usn_arp_repr *r)
{
	return memcmp(r->sha, eth->src, 6) == 0 && !(r->sha[0] & 1) && memcmp(r->sha, usn_mac_zero, 6) != 0;
}

void usn_arp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth, struct usn_cursor l3)
{
	struct usn_arp_repr r;
	if (usn_arp_parse(l3, &r) != USN_WIRE_OK || (r.op != USN_ARP_REQUEST && r.op != USN_ARP_REPLY) ||
	    !usn_arp_sender_mac_ok(eth, &r)) {
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
	if (!usn_arp_sender_ip_usable(w, r.spa))
		w->stats.arp_sender_refused++;
	else if (for_us || usn_arp_find(w->arp, r.spa))
		usn_arp_learn_wire(w, r.spa, r.sha);
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
	a->probes_cap = a->max;
	/* In microseconds, so a short timeout still has a reachable time. */
	a->lifetime_us = (uint64_t)cfg->arp_timeout_ms * 1000u;
	a->reachable_us = (uint64_t)cfg->arp_timeout_ms * 750u;
	a->tab = usn_worker_mem_alloc(w, sizeof(*a->tab) * a->cap);
	a->pend = usn_worker_mem_alloc(w, sizeof(*a->pend) * (a->pend_cap ? a->pend_cap : 1));
	a->probes = usn_worker_mem_alloc(w, sizeof(*a->probes) * a->probes_cap);
	if (!a->tab || !a->pend || !a->probes) {
		usn_arp_destroy(w, a);
		return NULL;
	}
	for (uint32_t i = 0; i < a->pend_cap; i++)
		usn_timer_init(&a->pend[i].timer, usn_arp_retry);
	for (uint32_t i = 0; i < a->probes_cap; i++)
		usn_timer_init(&a->probes[i].timer, usn_arp_probe_retry);
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
	if (a->probes)
		for (uint32_t i = 0; i < a->probes_cap; i++)
			usn_timer_cancel(&w->wheel, &a->probes[i].timer);
	usn_worker_mem_free(w, a->probes, sizeof(*a->probes) * a->probes_cap);
	usn_worker_mem_free(w, a->pend, sizeof(*a->pend) * (a->pend_cap ? a->pend_cap : 1));
	usn_worker_mem_free(w, a->tab, sizeof(*a->tab) * a->cap);
	usn_worker_mem_free(w, a, sizeof(*a));
}

bool usn_arp_can_send(struct usn_worker *w, uint32_t next_hop)
{
	struct usn_arp_cache *a = w->arp;
	if (usn_arp_get(w, a, next_hop))
		return true;
	if (a->q_n >= a->q_cap)
		return false;
	return usn_arp_pending_find(a, next_hop) || usn_arp_pending_find(a, 0);
}
