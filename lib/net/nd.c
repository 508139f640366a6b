/* libusnet Neighbour Discovery (lib/net, RFC 4861) and duplicate address
 * detection (RFC 4862 5.4): the IPv6 twin of arp.c, with its structure: a
 * fixed-size neighbour cache per worker (open addressing, linear probing,
 * deletion by backward shift), resolution with a bounded queue of waiting
 * frames and timed retries, unicast probes of stale entries in use, entries
 * learned from the wire posted to the other workers; plus answers to
 * solicitations for our addresses, validated as RFC 4861 7.1 says. Sized
 * and timed by the arp_* settings of the stack's configuration. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"

#define USN_ND_HOP_LIMIT 255 /* RFC 4861: every ND message, so it cannot come from off the link */
#define USN_ND_FRAME_LEN (USN_L4_OFF6 + USN_ND_LEN + USN_ND_LLA_LEN)

/* An entry's life is ARP's (arp.c): reachable for reachable_us after the
 * last confirmation, then stale and probed on first use, gone after
 * arp_retries unanswered probes or lifetime_us unused. */
struct usn_nd_entry {
	uint64_t confirmed_us;
	uint8_t ip[16];
	uint32_t probe; /* 1 + its slot in probes[]; 0: not probed */
	uint8_t mac[6];
	bool used;
};

struct usn_nd_pending {
	struct usn_timer timer; /* first member: the retry timer leads back here */
	uint8_t ip[16];
	bool used;
	uint32_t tries;
};

struct usn_nd_cache {
	struct usn_nd_entry *tab;
	uint32_t cap, shift, n, max;
	struct usn_nd_pending *pend; /* resolutions */
	uint32_t pend_cap;
	struct usn_nd_pending *probes; /* probes: as many as entries */
	uint32_t probes_cap, probe_hint;
	uint64_t reachable_us, lifetime_us;
	/* Frames waiting for resolution, in order, through buf->link;
	 * buf->stack_u64 holds 1 + the slot of their resolution in pend[]. */
	struct usn_buf *q_head, *q_tail;
	uint32_t q_n, q_cap;
	struct usn_timer dad_timer; /* worker 0: the end of duplicate address detection */
};

static const uint8_t usn_nd_all_nodes[16] = {0xff, 0x02, [15] = 0x01};

/* ---- the table ---- */

static uint32_t usn_nd_home(const struct usn_nd_cache *c, const uint8_t ip[16])
{
	uint32_t h = usn_load_be32(ip) ^ usn_load_be32(ip + 4) ^ usn_load_be32(ip + 8) ^ usn_load_be32(ip + 12);
	return (uint32_t)(h * 2654435761u) >> c->shift;
}

static struct usn_nd_entry *usn_nd_find(struct usn_nd_cache *c, const uint8_t ip[16])
{
	uint32_t mask = c->cap - 1;
	for (uint32_t i = usn_nd_home(c, ip);; i = (i + 1) & mask) {
		struct usn_nd_entry *e = &c->tab[i];
		if (!e->used)
			return NULL;
		if (memcmp(e->ip, ip, 16) == 0)
			return e;
	}
}

static void usn_nd_probe_end(struct usn_worker *w, struct usn_nd_cache *c, struct usn_nd_entry *e)
{
	if (!e->probe)
		return;
	struct usn_nd_pending *p = &c->probes[e->probe - 1];
	usn_timer_cancel(&w->wheel, &p->timer);
	p->used = false;
	e->probe = 0;
}

static bool usn_nd_expired(const struct usn_worker *w, const struct usn_nd_cache *c, const struct usn_nd_entry *e)
{
	return !e->probe && e->confirmed_us + c->lifetime_us <= w->now_us;
}

/* Backward-shift deletion, as arp.c's (Knuth 6.4, algorithm R). */
static void usn_nd_remove(struct usn_worker *w, struct usn_nd_cache *c, struct usn_nd_entry *e)
{
	usn_nd_probe_end(w, c, e);
	uint32_t mask = c->cap - 1;
	uint32_t i = (uint32_t)(e - c->tab);
	for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
		struct usn_nd_entry *f = &c->tab[j];
		if (!f->used)
			break;
		uint32_t h = usn_nd_home(c, f->ip);
		bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
		if (!stays) {
			c->tab[i] = *f;
			i = j;
		}
	}
	c->tab[i].used = false;
	c->n--;
}

static void usn_nd_sweep_expired(struct usn_worker *w, struct usn_nd_cache *c)
{
	for (uint32_t i = 0; i < c->cap; i++) {
		while (c->tab[i].used && usn_nd_expired(w, c, &c->tab[i])) {
			usn_nd_remove(w, c, &c->tab[i]);
			w->stats.nd_expired++;
		}
	}
}

/* Inserts or confirms ip; true if the entry is new. At most `max` entries. */
static bool usn_nd_insert(struct usn_worker *w, struct usn_nd_cache *c, const uint8_t ip[16], const uint8_t mac[6])
{
	struct usn_nd_entry *e = usn_nd_find(c, ip);
	if (e) {
		memcpy(e->mac, mac, 6);
		e->confirmed_us = w->now_us;
		usn_nd_probe_end(w, c, e);
		return false;
	}
	if (c->n >= c->max)
		usn_nd_sweep_expired(w, c);
	uint32_t mask = c->cap - 1;
	if (c->n >= c->max) {
		uint32_t i = usn_nd_home(c, ip);
		while (!c->tab[i].used)
			i = (i + 1) & mask;
		usn_nd_remove(w, c, &c->tab[i]);
	}
	uint32_t i = usn_nd_home(c, ip);
	while (c->tab[i].used)
		i = (i + 1) & mask;
	struct usn_nd_entry *n = &c->tab[i];
	memcpy(n->ip, ip, 16);
	memcpy(n->mac, mac, 6);
	n->confirmed_us = w->now_us;
	n->probe = 0;
	n->used = true;
	c->n++;
	return true;
}

static struct usn_nd_entry *usn_nd_get(struct usn_worker *w, struct usn_nd_cache *c, const uint8_t ip[16])
{
	struct usn_nd_entry *e = usn_nd_find(c, ip);
	if (e && usn_nd_expired(w, c, e)) {
		usn_nd_remove(w, c, e);
		w->stats.nd_expired++;
		return NULL;
	}
	return e;
}

bool usn_nd_lookup(struct usn_worker *w, const uint8_t ip[16], uint8_t mac[6])
{
	if (!w->nd)
		return false;
	struct usn_nd_entry *e = usn_nd_get(w, w->nd, ip);
	if (!e)
		return false;
	memcpy(mac, e->mac, 6);
	return true;
}

/* ---- frames ---- */

static void usn_nd_write_eth(struct usn_worker *w, uint8_t *p, const uint8_t dst[6])
{
	struct usn_eth_repr eth = {.ethertype = USN_ETHERTYPE_IPV6, .hdr_len = USN_ETH_HDR_LEN};
	memcpy(eth.dst, dst, 6);
	memcpy(eth.src, w->stack->mac, 6);
	usn_eth_emit(&eth, p);
}

/* Writes a whole ND frame into b's first buffer and queues it. */
static void usn_nd_emit_frame(struct usn_worker *w, struct usn_buf *b, const uint8_t eth_dst[6],
			      const uint8_t src[16], const uint8_t dst[16], const struct usn_nd_repr *r)
{
	uint8_t *p = b->data;
	uint16_t len = usn_nd_emit(r, p + USN_L4_OFF6, src, dst);
	struct usn_ipv6_repr ip = {.payload_len = len, .next_header = USN_IPPROTO_ICMPV6, .hop_limit = USN_ND_HOP_LIMIT};
	memcpy(ip.src, src, 16);
	memcpy(ip.dst, dst, 16);
	usn_ipv6_emit(&ip, p + USN_L3_OFF);
	usn_nd_write_eth(w, p, eth_dst);
	b->len = (uint16_t)(USN_L4_OFF6 + len);
	b->frame_len = b->len;
	b->flags = 0;
	b->link = NULL;
	usn_worker_tx(w, b);
}

/* A solicitation for target: multicast to its solicited-node group, or
 * unicast to eth_dst (a probe, RFC 4861 7.3.3). With dad, from the
 * unspecified address and without our link-layer address (RFC 4862 5.4.2). */
static bool usn_nd_send_ns(struct usn_worker *w, const uint8_t target[16], const uint8_t *eth_dst, bool dad)
{
	uint8_t src[16] = {0}, dst[16], mac[6];
	if (!dad && usn_ipv6_src_select(w, target, src) != 0)
		return false; /* nothing of ours usable yet */
	if (eth_dst) {
		memcpy(dst, target, 16);
		memcpy(mac, eth_dst, 6);
	} else {
		usn_ipv6_solicited_node(target, dst);
		usn_ipv6_mcast_mac(dst, mac);
	}
	struct usn_buf *b = usn_worker_buf_alloc_ctl(w);
	if (!b)
		return false;
	struct usn_nd_repr r = {.type = USN_ICMP6_ND_NS, .has_lla = !dad};
	memcpy(r.target, target, 16);
	memcpy(r.lla, w->stack->mac, 6);
	usn_nd_emit_frame(w, b, mac, src, dst, &r);
	if (dad)
		w->stats.nd_dad_ns_tx++;
	else
		w->stats.nd_ns_tx++;
	return true;
}

/* An advertisement of our address target, with our link-layer address, in
 * b if given (a received frame's buffer) or a new one. */
static void usn_nd_send_na(struct usn_worker *w, struct usn_buf *b, const uint8_t target[16], const uint8_t dst[16],
			   const uint8_t eth_dst[6], uint8_t flags)
{
	if (b && (b->next || b->room < USN_ND_FRAME_LEN)) {
		usn_worker_buf_free(w, b);
		b = NULL;
	}
	if (!b && !(b = usn_worker_buf_alloc_ctl(w)))
		return;
	struct usn_nd_repr r = {.type = USN_ICMP6_ND_NA, .flags = flags, .has_lla = true};
	memcpy(r.target, target, 16);
	memcpy(r.lla, w->stack->mac, 6);
	usn_nd_emit_frame(w, b, eth_dst, target, dst, &r);
	w->stats.nd_na_tx++;
}

/* An unsolicited advertisement of slot's address to all nodes (RFC 4861
 * 7.2.6), Override set, so neighbours update what they cached. */
static void usn_nd_announce(struct usn_worker *w, int slot)
{
	uint8_t mac[6];
	usn_ipv6_mcast_mac(usn_nd_all_nodes, mac);
	usn_nd_send_na(w, NULL, w->stack->ip6[slot].addr, usn_nd_all_nodes, mac, USN_ND_NA_OVERRIDE);
	w->stats.nd_unsolicited_na_tx++;
}

static void usn_nd_send_resolved(struct usn_worker *w, struct usn_buf *frame, const uint8_t mac[6])
{
	usn_nd_write_eth(w, frame->data, mac);
	frame->l2_len = USN_ETH_HDR_LEN;
	usn_worker_tx(w, frame);
}

/* ---- resolution ---- */

static struct usn_nd_pending *usn_nd_pending_find(struct usn_nd_cache *c, const uint8_t ip[16])
{
	for (uint32_t i = 0; i < c->pend_cap; i++)
		if (c->pend[i].used && memcmp(c->pend[i].ip, ip, 16) == 0)
			return &c->pend[i];
	return NULL;
}

static struct usn_nd_pending *usn_nd_pending_free(struct usn_nd_cache *c)
{
	for (uint32_t i = 0; i < c->pend_cap; i++)
		if (!c->pend[i].used)
			return &c->pend[i];
	return NULL;
}

/* Takes every frame waiting on resolution p off the queue: sends them to
 * mac, or drops them when mac is NULL. Ends p. */
static void usn_nd_release_waiting(struct usn_worker *w, struct usn_nd_cache *c, struct usn_nd_pending *p,
				   const uint8_t *mac)
{
	uint64_t tag = (uint64_t)(p - c->pend) + 1u;
	p->used = false;
	struct usn_buf **pp = &c->q_head, *prev = NULL;
	while (*pp) {
		struct usn_buf *b = *pp;
		if (b->stack_u64 != tag) {
			prev = b;
			pp = &b->link;
			continue;
		}
		*pp = b->link;
		if (c->q_tail == b)
			c->q_tail = prev;
		c->q_n--;
		b->link = NULL;
		b->stack_u64 = 0;
		if (mac) {
			usn_nd_send_resolved(w, b, mac);
		} else {
			w->stats.drop_nd_unresolved++;
			usn_worker_buf_free(w, b);
		}
	}
}

static void usn_nd_retry(struct usn_timer *t, void *ctx)
{
	struct usn_worker *w = ctx;
	struct usn_nd_cache *c = w->nd;
	struct usn_nd_pending *p = (struct usn_nd_pending *)(void *)((char *)t - offsetof(struct usn_nd_pending, timer));
	const struct usn_stack_config *cfg = &w->stack->cfg;
	if (p->tries >= cfg->arp_retries) {
		w->stats.nd_failed++;
		usn_nd_release_waiting(w, c, p, NULL);
		return;
	}
	p->tries++;
	(void)usn_nd_send_ns(w, p->ip, NULL, false);
	usn_timer_arm(&w->wheel, &p->timer, w->now_us + (uint64_t)cfg->arp_retry_ms * 1000u);
}

static void usn_nd_resolved(struct usn_worker *w, struct usn_nd_cache *c, const uint8_t ip[16], const uint8_t mac[6])
{
	struct usn_nd_pending *p = usn_nd_pending_find(c, ip);
	if (!p)
		return;
	usn_timer_cancel(&w->wheel, &p->timer);
	usn_nd_release_waiting(w, c, p, mac);
}

/* ---- probes of stale entries (RFC 4861 7.3.3, PROBE) ---- */

static void usn_nd_probe_retry(struct usn_timer *t, void *ctx)
{
	struct usn_worker *w = ctx;
	struct usn_nd_cache *c = w->nd;
	struct usn_nd_pending *p = (struct usn_nd_pending *)(void *)((char *)t - offsetof(struct usn_nd_pending, timer));
	const struct usn_stack_config *cfg = &w->stack->cfg;
	struct usn_nd_entry *e = usn_nd_find(c, p->ip);
	if (!e || e->probe != (uint32_t)(p - c->probes) + 1) {
		p->used = false; /* not reached: removal and confirmation end the probe */
		return;
	}
	if (p->tries >= cfg->arp_retries) {
		w->stats.nd_failed++;
		usn_nd_remove(w, c, e);
		return;
	}
	p->tries++;
	(void)usn_nd_send_ns(w, e->ip, e->mac, false);
	usn_timer_arm(&w->wheel, &p->timer, w->now_us + (uint64_t)cfg->arp_retry_ms * 1000u);
}

static void usn_nd_probe_start(struct usn_worker *w, struct usn_nd_cache *c, struct usn_nd_entry *e)
{
	uint32_t i = c->probe_hint;
	for (uint32_t k = 0; c->probes[i].used; k++) {
		if (k == c->probes_cap)
			return;
		i = i + 1 == c->probes_cap ? 0 : i + 1;
	}
	c->probe_hint = i + 1 == c->probes_cap ? 0 : i + 1;
	struct usn_nd_pending *p = &c->probes[i];
	memcpy(p->ip, e->ip, 16);
	p->used = true;
	p->tries = 1;
	e->probe = i + 1;
	(void)usn_nd_send_ns(w, e->ip, e->mac, false);
	usn_timer_arm(&w->wheel, &p->timer, w->now_us + (uint64_t)w->stack->cfg.arp_retry_ms * 1000u);
}

void usn_nd_send(struct usn_worker *w, struct usn_buf *frame, const uint8_t next_hop[16])
{
	struct usn_nd_cache *c = w->nd;
	struct usn_nd_entry *e = usn_nd_get(w, c, next_hop);
	if (e) {
		usn_nd_send_resolved(w, frame, e->mac);
		if (!e->probe && e->confirmed_us + c->reachable_us <= w->now_us)
			usn_nd_probe_start(w, c, e);
		return;
	}
	struct usn_nd_pending *p = usn_nd_pending_find(c, next_hop);
	bool fresh = !p;
	if (c->q_n >= c->q_cap || (!p && !(p = usn_nd_pending_free(c)))) {
		w->stats.drop_nd_queue_full++;
		usn_worker_buf_free(w, frame);
		return;
	}
	frame->link = NULL;
	frame->stack_u64 = (uint64_t)(p - c->pend) + 1u;
	if (c->q_tail)
		c->q_tail->link = frame;
	else
		c->q_head = frame;
	c->q_tail = frame;
	c->q_n++;
	if (fresh) {
		memcpy(p->ip, next_hop, 16);
		p->used = true;
		p->tries = 1;
		(void)usn_nd_send_ns(w, next_hop, NULL, false);
		usn_timer_arm(&w->wheel, &p->timer, w->now_us + (uint64_t)w->stack->cfg.arp_retry_ms * 1000u);
	}
}

bool usn_nd_can_send(struct usn_worker *w, const uint8_t next_hop[16])
{
	struct usn_nd_cache *c = w->nd;
	if (!c)
		return false;
	if (usn_nd_get(w, c, next_hop))
		return true;
	if (c->q_n >= c->q_cap)
		return false;
	return usn_nd_pending_find(c, next_hop) || usn_nd_pending_free(c);
}

/* ---- learning ---- */

static void usn_nd_learn_wire(struct usn_worker *w, const uint8_t ip[16], const uint8_t mac[6])
{
	struct usn_nd_cache *c = w->nd;
	if (usn_nd_insert(w, c, ip, mac))
		w->stats.nd_learned++;
	usn_nd_resolved(w, c, ip, mac);
	struct usn_msg m = {.type = USN_MSG_ND};
	memcpy(m.mac, mac, 6);
	memcpy(m.ip6, ip, 16);
	for (uint16_t i = 0; i < w->stack->n_workers; i++)
		if (i != w->id)
			(void)usn_worker_post(w, i, &m);
}

void usn_nd_adv_msg(struct usn_worker *w, const uint8_t ip[16], const uint8_t mac[6])
{
	if (w->nd && usn_nd_pending_find(w->nd, ip))
		usn_nd_learn_wire(w, ip, mac);
}

void usn_nd_learn_msg(struct usn_worker *w, const uint8_t ip[16], const uint8_t mac[6])
{
	if (!w->nd)
		return;
	(void)usn_nd_insert(w, w->nd, ip, mac);
	usn_nd_resolved(w, w->nd, ip, mac);
}

/* ---- duplicate address detection (RFC 4862 5.4) ---- */

/* Text of an IPv6 address, every group written (lib/ has no inet_ntop). */
static void usn_nd_addr_text(const uint8_t a[16], char *out, size_t len)
{
	size_t k = 0;
	for (int i = 0; i < 16 && k < len; i += 2)
		k += (size_t)snprintf(out + k, len - k, i ? ":%x" : "%x", (unsigned)usn_load_be16(a + i));
}

/* slot's address is in use by another node: never ours (RFC 4862 5.4.5). */
static void usn_nd_dad_conflict(struct usn_worker *w, int slot)
{
	uint8_t want = USN_IPV6_TENTATIVE;
	if (!atomic_compare_exchange_strong(&w->stack->ip6[slot].state, &want, (uint8_t)USN_IPV6_DUPLICATE))
		return;
	w->stats.nd_dad_conflicts++;
	/* Once per address in the stack's life, not per packet. */
	char text[48];
	usn_nd_addr_text(w->stack->ip6[slot].addr, text, sizeof text);
	fprintf(stderr, "usnet: IPv6 address %s is already in use on the link (duplicate address detection): "
			"not used\n", text);
}

static void usn_nd_dad_done(struct usn_timer *t, void *ctx)
{
	struct usn_worker *w = ctx;
	(void)t;
	for (int i = 0; i < w->stack->n_ip6; i++) {
		uint8_t want = USN_IPV6_TENTATIVE;
		if (atomic_compare_exchange_strong(&w->stack->ip6[i].state, &want, (uint8_t)USN_IPV6_PREFERRED))
			usn_nd_announce(w, i);
	}
}

void usn_nd_start(struct usn_worker *w)
{
	struct usn_stack *s = w->stack;
	bool dad = false;
	for (int i = 0; i < s->n_ip6; i++) {
		if (usn_ipv6_state(s, i) == USN_IPV6_TENTATIVE) {
			(void)usn_nd_send_ns(w, s->ip6[i].addr, NULL, true);
			dad = true;
		} else if (usn_ipv6_state(s, i) == USN_IPV6_PREFERRED) {
			usn_nd_announce(w, i);
		}
	}
	/* DupAddrDetectTransmits 1, RetransTimer (RFC 4861 10): one
	 * solicitation, then arp_retry_ms [1000] of silence. */
	if (dad)
		usn_timer_arm(&w->wheel, &w->nd->dad_timer, w->now_us + (uint64_t)s->cfg.arp_retry_ms * 1000u);
}

/* ---- input ---- */

static bool usn_nd_mac_ok(const uint8_t mac[6])
{
	return !(mac[0] & 1u) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) != 0;
}

static void usn_nd_ns_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth,
			    const struct usn_ipv6_repr *ip, const struct usn_nd_repr *r)
{
	struct usn_stack *s = w->stack;
	bool from_dad = usn_ipv6_is_unspecified(ip->src);
	uint8_t sn[16];
	usn_ipv6_solicited_node(r->target, sn);
	/* RFC 4861 7.1.1: from the unspecified address only to a
	 * solicited-node group and without a source link-layer option. */
	if (from_dad && (memcmp(ip->dst, sn, 16) != 0 || r->has_lla)) {
		w->stats.drop_nd_invalid++;
		goto drop;
	}
	/* A neighbour's address on this link; never ours, nor our own frame
	 * come back through a reflecting link. */
	if ((!from_dad && !usn_ipv6_on_link(s, ip->src)) || memcmp(eth->src, s->mac, 6) == 0) {
		w->stats.drop_nd_src++;
		goto drop;
	}
	int slot = usn_ipv6_addr_find(s, r->target);
	if (slot < 0) {
		w->stats.drop_nd_not_for_us++;
		goto drop;
	}
	w->stats.nd_ns_rx++;
	uint8_t state = usn_ipv6_state(s, slot);
	if (state != USN_IPV6_PREFERRED) {
		/* RFC 4862 5.4.3: another node's DAD for our tentative
		 * address makes it a duplicate; anything else for it is
		 * not answered. */
		if (state == USN_IPV6_TENTATIVE && from_dad)
			usn_nd_dad_conflict(w, slot);
		goto drop;
	}
	if (from_dad) {
		/* RFC 4861 7.2.4: to all nodes, not solicited. */
		uint8_t mac[6];
		usn_ipv6_mcast_mac(usn_nd_all_nodes, mac);
		usn_nd_send_na(w, frame, r->target, usn_nd_all_nodes, mac, USN_ND_NA_OVERRIDE);
		return;
	}
	/* RFC 4861 7.2.3: the source link-layer option creates or updates
	 * the sender's entry; without it, the answer goes to a cached
	 * address, else to the frame's source. */
	uint8_t mac[6];
	if (r->has_lla)
		usn_nd_learn_wire(w, ip->src, r->lla);
	if (r->has_lla)
		memcpy(mac, r->lla, 6);
	else if (!usn_nd_lookup(w, ip->src, mac))
		memcpy(mac, eth->src, 6);
	usn_nd_send_na(w, frame, r->target, ip->src, mac, USN_ND_NA_SOLICITED | USN_ND_NA_OVERRIDE);
	return;
drop:
	usn_worker_buf_free(w, frame);
}

static void usn_nd_na_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth,
			    const struct usn_ipv6_repr *ip, const struct usn_nd_repr *r)
{
	struct usn_stack *s = w->stack;
	struct usn_nd_cache *c = w->nd;
	/* RFC 4861 7.1.2: Solicited is never set towards a group. */
	if (usn_ipv6_is_multicast(ip->dst) && (r->flags & USN_ND_NA_SOLICITED)) {
		w->stats.drop_nd_invalid++;
		goto drop;
	}
	if (memcmp(eth->src, s->mac, 6) == 0) {
		w->stats.drop_nd_src++;
		goto drop;
	}
	w->stats.nd_na_rx++;
	int slot = usn_ipv6_addr_find(s, r->target);
	if (slot >= 0) {
		/* RFC 4862 5.4.4: an answer for our tentative address is a
		 * duplicate; for one in use, nobody else's to claim. */
		if (usn_ipv6_state(s, slot) == USN_IPV6_TENTATIVE)
			usn_nd_dad_conflict(w, slot);
		else
			w->stats.drop_nd_src++;
		goto drop;
	}
	/* The sender's own address must be on this link, as for a
	 * solicitation: RFC 4861 7.1.2 does not ask it, but an advertiser
	 * answers from an address of the link (link-local or our prefix), and
	 * one that claims another's entry from elsewhere is lying. Checked
	 * after our own targets: a node defending our tentative address
	 * answers from that address (RFC 4862 5.4.4). */
	if (!usn_ipv6_on_link(s, ip->src)) {
		w->stats.drop_nd_src++;
		goto drop;
	}
	/* RFC 4861 7.2.5: only for a neighbour we cache or are resolving. */
	struct usn_nd_entry *e = usn_nd_find(c, r->target);
	if (!e) {
		if (r->has_lla && usn_nd_pending_find(c, r->target)) {
			usn_nd_learn_wire(w, r->target, r->lla);
		} else if (r->has_lla && (r->flags & USN_ND_NA_SOLICITED)) {
			/* The answer to a solicitation another worker sent: a
			 * port with RSS may hand it to any worker. Each learns
			 * it only if it is resolving the target. */
			struct usn_msg m = {.type = USN_MSG_ND_ADV};
			memcpy(m.mac, r->lla, 6);
			memcpy(m.ip6, r->target, 16);
			for (uint16_t i = 0; i < s->n_workers; i++)
				if (i != w->id)
					(void)usn_worker_post(w, i, &m);
		}
		goto drop;
	}
	bool changed = r->has_lla && memcmp(r->lla, e->mac, 6) != 0;
	if (changed && (r->flags & USN_ND_NA_OVERRIDE))
		usn_nd_learn_wire(w, r->target, r->lla);
	else if (!changed && (r->flags & USN_ND_NA_SOLICITED))
		usn_nd_learn_wire(w, r->target, e->mac); /* reachability confirmed */
drop:
	usn_worker_buf_free(w, frame);
}

void usn_nd_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth,
		  const struct usn_ipv6_repr *ip, const struct usn_icmp6_repr *icmp, struct usn_cursor l4)
{
	struct usn_nd_repr r;
	if (!w->nd)
		goto invalid;
	/* RFC 4861 7.1: hop limit 255 (nobody off the link), code 0, a
	 * well-formed message, a unicast target, a sane link-layer address. */
	if (ip->hop_limit != USN_ND_HOP_LIMIT) {
		w->stats.drop_nd_hop_limit++;
		goto drop;
	}
	if (icmp->code != 0 || usn_nd_parse(l4, &r) != USN_WIRE_OK || usn_ipv6_is_multicast(r.target) ||
	    (r.has_lla && !usn_nd_mac_ok(r.lla)))
		goto invalid;
	if (r.type == USN_ICMP6_ND_NS)
		usn_nd_ns_input(w, frame, eth, ip, &r);
	else
		usn_nd_na_input(w, frame, eth, ip, &r);
	return;
invalid:
	w->stats.drop_nd_invalid++;
drop:
	usn_worker_buf_free(w, frame);
}

/* ---- life cycle ---- */

struct usn_nd_cache *usn_nd_create(struct usn_worker *w)
{
	const struct usn_stack_config *cfg = &w->stack->cfg;
	struct usn_nd_cache *c = usn_worker_mem_alloc(w, sizeof(*c));
	if (!c)
		return NULL;
	uint32_t bits = 3;
	while ((1u << bits) < 2u * cfg->arp_entries)
		bits++;
	c->cap = 1u << bits;
	c->shift = 32 - bits;
	c->max = cfg->arp_entries;
	c->q_cap = cfg->arp_queue_len;
	c->pend_cap = cfg->arp_queue_len ? cfg->arp_queue_len : 1;
	c->probes_cap = c->max;
	c->lifetime_us = (uint64_t)cfg->arp_timeout_ms * 1000u;
	c->reachable_us = (uint64_t)cfg->arp_timeout_ms * 750u;
	c->tab = usn_worker_mem_alloc(w, sizeof(*c->tab) * c->cap);
	c->pend = usn_worker_mem_alloc(w, sizeof(*c->pend) * c->pend_cap);
	c->probes = usn_worker_mem_alloc(w, sizeof(*c->probes) * c->probes_cap);
	usn_timer_init(&c->dad_timer, usn_nd_dad_done);
	if (!c->tab || !c->pend || !c->probes) {
		usn_nd_destroy(w, c);
		return NULL;
	}
	for (uint32_t i = 0; i < c->pend_cap; i++)
		usn_timer_init(&c->pend[i].timer, usn_nd_retry);
	for (uint32_t i = 0; i < c->probes_cap; i++)
		usn_timer_init(&c->probes[i].timer, usn_nd_probe_retry);
	return c;
}

void usn_nd_destroy(struct usn_worker *w, struct usn_nd_cache *c)
{
	if (!c)
		return;
	while (c->q_head) {
		struct usn_buf *b = c->q_head;
		c->q_head = b->link;
		b->link = NULL;
		usn_worker_buf_free(w, b);
	}
	usn_timer_cancel(&w->wheel, &c->dad_timer);
	if (c->pend)
		for (uint32_t i = 0; i < c->pend_cap; i++)
			usn_timer_cancel(&w->wheel, &c->pend[i].timer);
	if (c->probes)
		for (uint32_t i = 0; i < c->probes_cap; i++)
			usn_timer_cancel(&w->wheel, &c->probes[i].timer);
	usn_worker_mem_free(w, c->probes, sizeof(*c->probes) * c->probes_cap);
	usn_worker_mem_free(w, c->pend, sizeof(*c->pend) * c->pend_cap);
	usn_worker_mem_free(w, c->tab, sizeof(*c->tab) * c->cap);
	usn_worker_mem_free(w, c, sizeof(*c));
}
