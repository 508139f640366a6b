/* libusnet TCP connection table: a fixed array of buckets holding TCB
 * indices, chained through usn_tcp_conn.hnext. Sized at worker creation
 * (a power of two >= tcp_max_conns); no allocation afterwards. */
#include <string.h>

#include "tcp/tcp_int.h"

uint32_t usn_tcp_table_hash(const struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
	/* The buckets need spread, not secrecy: the key only keeps remote
	 * hosts from aiming many flows at one chain. A multiply-xorshift mix. */
	uint64_t x = ((uint64_t)rip << 32 | (uint64_t)rport << 16 | lport) ^ t->key_isn[1];
	x ^= (uint64_t)lip * 0x9e3779b97f4a7c15ull;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x & t->bucket_mask;
}

struct usn_tcp_conn *usn_tcp_table_lookup(struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
	uint32_t i = t->bucket[usn_tcp_table_hash(t, lip, lport, rip, rport)];
	while (i != USN_TCP_NIL) {
		struct usn_tcp_conn *c = usn_tcp_at(t, i);
		if (c->remote_ip == rip && c->remote_port == rport && c->local_port == lport && c->local_ip == lip)
			return c;
		i = c->hnext;
	}
	return NULL;
}

struct usn_tcp_conn *usn_tcp_table_lookup6(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport,
					   uint16_t rport)
{
	uint32_t i = t->bucket6[usn_tcp_table_hash(t, e->lip, lport, e->rip, rport)];
	while (i != USN_TCP_NIL) {
		struct usn_tcp_conn *c = usn_tcp_at(t, i);
		/* Two pairs may share folds: the addresses decide. */
		if (c->remote_ip == e->rip && c->remote_port == rport && c->local_port == lport && c->local_ip == e->lip &&
		    memcmp(usn_tcp_a6(t, c), e->v6, sizeof *e->v6) == 0)
			return c;
		i = c->hnext;
	}
	return NULL;
}

/* The chain c belongs in: IPv6 connections have buckets of their own. */
static uint32_t *table_chain(struct usn_tcp_worker *t, const struct usn_tcp_conn *c)
{
	uint32_t h = usn_tcp_table_hash(t, c->local_ip, c->local_port, c->remote_ip, c->remote_port);
	return (c->flags & USN_TF_V6) ? &t->bucket6[h] : &t->bucket[h];
}

void usn_tcp_table_insert(struct usn_tcp_worker *t, struct usn_tcp_conn *c)
{
	uint32_t *b = table_chain(t, c);
	c->hnext = *b;
	*b = usn_tcp_idx(t, c);
}

void usn_tcp_table_remove(struct usn_tcp_worker *t, struct usn_tcp_conn *c)
{
	uint32_t me = usn_tcp_idx(t, c);
	uint32_t *p = table_chain(t, c);
	while (*p != USN_TCP_NIL) {
		if (*p == me) {
			*p = c->hnext;
			c->hnext = USN_TCP_NIL;
			return;
		}
		p = &usn_tcp_at(t, *p)->hnext;
	}
}

/* ---- listeners (shared by every worker, read-only once they run) ---- */

/* ---- listeners (shared, read-only once workers run) ---- */

const struct usn_tcp_listener *usn_tcp_listener_find(const struct usn_stack *s, uint16_t port)
{
	const struct usn_tcp_shared *sh = s->tcp;
	if (!sh)
		return NULL;
	for (uint32_t i = 0; i < sh->n; i++)
		if (sh->l[i].port == port)
			return &sh->l[i];
	return NULL;
}
