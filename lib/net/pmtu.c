/* libusnet path MTU cache (lib/net, RFC 1191 6.3): per worker, what ICMP
 * "fragmentation needed" taught about each destination, for a limited
 * time. A fixed table sized at start: sets of four entries chosen by the
 * destination's hash, the oldest replaced when a set is full. No
 * allocation after start. */
#include "net/net.h"

#define USN_PMTU_WAYS 4u

struct usn_pmtu_entry {
	uint32_t dst; /* 0: free */
	uint16_t mtu;
	uint64_t expires_us;
};

struct usn_pmtu_cache {
	struct usn_pmtu_entry *tab;
	uint32_t n_sets; /* a power of two */
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
	p->tab = usn_worker_mem_alloc(w, sizeof(*p->tab) * p->n_sets * USN_PMTU_WAYS);
	if (!p->tab) {
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
			w->stats.pmtu_expired++;
			return NULL;
		}
		return e;
	}
	return NULL;
}

uint16_t usn_pmtu_get(struct usn_worker *w, uint32_t dst)
{
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
		}
		e->dst = dst;
	}
	e->mtu = mtu;
	e->expires_us = w->now_us + p->lifetime_us;
	w->stats.pmtu_updates++;
}
