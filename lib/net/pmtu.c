/* libusnet path MTU cache (lib/net, RFC 1191 6.3, RFC 8201 4): per
 * worker, what ICMP "fragmentation needed" and ICMPv6 "packet too big"
 * taught about each destination, for a limited time. Fixed tables sized at
 * start, one per family: sets of four entries chosen by the destination's
 * hash, the oldest replaced when a set is full. No allocation after start. */
#include <string.h>

#include "net/net.h"

#define USN_PMTU_WAYS 4u

struct usn_pmtu_entry {
	uint32_t dst; /* 0: free */
	uint16_t mtu;
	uint64_t expires_us;
};

struct usn_pmtu_entry6 {
	uint8_t dst[16];
	bool used;
	uint16_t mtu;
	uint64_t expires_us;
};

struct usn_pmtu_cache {
	struct usn_pmtu_entry *tab;
	struct usn_pmtu_entry6 *tab6; /* the same number of sets */
	uint16_t floor6;              /* 1280, or pmtu_min if higher */
	uint32_t n_sets; /* a power of two */
	/* Entries in use in each table (expired or not): while one is 0,
	 * a lookup answers the interface's MTU without hashing, which is
	 * every lookup on a path that never sent "fragmentation needed". */
	uint32_t used4, used6;
	uint64_t lifetime_us;
	uint16_t if_mtu;
};

struct usn_pmtu_cache *usn_pmtu_create(struct usn_worker *w)
{
	const struct usn_stack_config *cfg = &w->stack->cfg;
	struct usn_pmtu_cache *p = usn_worker_mem_alloc(w, sizeof(*p));
	if (!p)
		return NULL;
	uint32_t want = (cfg->pmtu_entries + USN_PMTU_WAYS - 1) / USN_PMTU_WAYS;
	p->n_sets = 1;
	while (p->n_sets < want)
		p->n_sets <<= 1;
	p->lifetime_us = (uint64_t)cfg->pmtu_expire_ms * 1000u;
	p->if_mtu = cfg->mtu ? cfg->mtu : w->hal->mtu;
	p->floor6 = cfg->pmtu_min > USN_IPV6_MIN_MTU ? cfg->pmtu_min : USN_IPV6_MIN_MTU;
	p->tab = usn_worker_mem_alloc(w, sizeof(*p->tab) * p->n_sets * USN_PMTU_WAYS);
	p->tab6 = usn_worker_mem_alloc(w, sizeof(*p->tab6) * p->n_sets * USN_PMTU_WAYS);
	if (!p->tab || !p->tab6) {
		usn_pmtu_destroy(w, p);
		return NULL;
	}
	return p;
}

void usn_pmtu_destroy(struct usn_worker *w, struct usn_pmtu_cache *p)
{
	if (!p)
		return;
	if (p->tab)
		usn_worker_mem_free(w, p->tab, sizeof(*p->tab) * p->n_sets * USN_PMTU_WAYS);
	if (p->tab6)
		usn_worker_mem_free(w, p->tab6, sizeof(*p->tab6) * p->n_sets * USN_PMTU_WAYS);
	usn_worker_mem_free(w, p, sizeof(*p));
}

/* The destination's set (Fibonacci hashing: only accepted errors, whose
 * quoted sequence number was in flight, ever write an entry). */
static struct usn_pmtu_entry *usn_pmtu_set(struct usn_pmtu_cache *p, uint32_t dst)
{
	uint32_t h = (dst * 2654435769u) >> 16;
	return &p->tab[(h & (p->n_sets - 1)) * USN_PMTU_WAYS];
}

/* The live entry for dst, or NULL; an expired one is freed on the way. */
static struct usn_pmtu_entry *usn_pmtu_find(struct usn_worker *w, uint32_t dst)
{
	struct usn_pmtu_entry *set = usn_pmtu_set(w->pmtu, dst);
	for (uint32_t i = 0; i < USN_PMTU_WAYS; i++) {
		struct usn_pmtu_entry *e = &set[i];
		if (e->dst != dst)
			continue;
		if (w->now_us >= e->expires_us) {
			/* RFC 1191 6.3: the estimate ages out and the
			 * interface's MTU is tried again. */
			e->dst = 0;
			w->pmtu->used4--;
			w->stats.pmtu_expired++;
			return NULL;
		}
		return e;
	}
	return NULL;
}

uint16_t usn_pmtu_get(struct usn_worker *w, uint32_t dst)
{
	if (w->pmtu->used4 == 0)
		return w->pmtu->if_mtu;
	struct usn_pmtu_entry *e = usn_pmtu_find(w, dst);
	return e ? e->mtu : w->pmtu->if_mtu;
}

void usn_pmtu_update(struct usn_worker *w, uint32_t dst, uint16_t mtu)
{
	struct usn_pmtu_cache *p = w->pmtu;
	if (dst == 0 || mtu >= p->if_mtu)
		return;
	struct usn_pmtu_entry *e = usn_pmtu_find(w, dst);
	if (e && e->mtu <= mtu)
		return; /* never raised by an error message (RFC 1191 6.3) */
	if (!e) {
		struct usn_pmtu_entry *set = usn_pmtu_set(p, dst);
		e = &set[0];
		for (uint32_t i = 0; i < USN_PMTU_WAYS; i++) {
			struct usn_pmtu_entry *c = &set[i];
			if (c->dst == 0 || w->now_us >= c->expires_us) {
				e = c;
				break;
			}
			if (c->expires_us < e->expires_us)
				e = c;
		}
		if (e->dst != 0) {
			if (w->now_us >= e->expires_us)
				w->stats.pmtu_expired++;
			else
				w->stats.pmtu_evicted++;
		} else {
			p->used4++;
		}
		e->dst = dst;
	}
	e->mtu = mtu;
	e->expires_us = w->now_us + p->lifetime_us;
	w->stats.pmtu_updates++;
}

/* ---- IPv6 (RFC 8201) ---- */

static struct usn_pmtu_entry6 *usn_pmtu_set6(struct usn_pmtu_cache *p, const uint8_t dst[16])
{
	uint32_t h = 0;
	for (int i = 0; i < 16; i += 4)
		h = (h ^ usn_load_be32(dst + i)) * 2654435769u;
	return &p->tab6[((h >> 16) & (p->n_sets - 1)) * USN_PMTU_WAYS];
}

static struct usn_pmtu_entry6 *usn_pmtu_find6(struct usn_worker *w, const uint8_t dst[16])
{
	struct usn_pmtu_entry6 *set = usn_pmtu_set6(w->pmtu, dst);
	for (uint32_t i = 0; i < USN_PMTU_WAYS; i++) {
		struct usn_pmtu_entry6 *e = &set[i];
		if (!e->used || memcmp(e->dst, dst, 16) != 0)
			continue;
		if (w->now_us >= e->expires_us) {
			/* RFC 8201 4: the estimate ages out, the link's MTU is tried again. */
			e->used = false;
			w->pmtu->used6--;
			w->stats.pmtu_expired++;
			return NULL;
		}
		return e;
	}
	return NULL;
}

uint16_t usn_pmtu_get6(struct usn_worker *w, const uint8_t dst[16])
{
	if (w->pmtu->used6 == 0)
		return w->pmtu->if_mtu;
	struct usn_pmtu_entry6 *e = usn_pmtu_find6(w, dst);
	return e ? e->mtu : w->pmtu->if_mtu;
}

void usn_pmtu_update6(struct usn_worker *w, const uint8_t dst[16], uint16_t mtu)
{
	struct usn_pmtu_cache *p = w->pmtu;
	/* RFC 8201 4: never below the IPv6 minimum link MTU; a smaller
	 * report means 1280 (a translator on the path fragments for us). */
	if (mtu < p->floor6)
		mtu = p->floor6;
	if (usn_ipv6_is_unspecified(dst) || usn_ipv6_is_multicast(dst) || mtu >= p->if_mtu)
		return;
	struct usn_pmtu_entry6 *e = usn_pmtu_find6(w, dst);
	if (e && e->mtu <= mtu)
		return; /* only ever lowered by a packet too big (RFC 8201 4) */
	if (!e) {
		struct usn_pmtu_entry6 *set = usn_pmtu_set6(p, dst);
		e = &set[0];
		for (uint32_t i = 0; i < USN_PMTU_WAYS; i++) {
			struct usn_pmtu_entry6 *c = &set[i];
			if (!c->used || w->now_us >= c->expires_us) {
				e = c;
				break;
			}
			if (c->expires_us < e->expires_us)
				e = c;
		}
		if (e->used) {
			if (w->now_us >= e->expires_us)
				w->stats.pmtu_expired++;
			else
				w->stats.pmtu_evicted++;
		} else {
			p->used6++;
		}
		memcpy(e->dst, dst, 16);
		e->used = true;
	}
	e->mtu = mtu;
	e->expires_us = w->now_us + p->lifetime_us;
	w->stats.pmtu_updates++;
}
