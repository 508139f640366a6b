/* libusnet TCP send queue (lib/tcp): the connection's send descriptors
 * (bytes by reference or by writer) from the worker's pool, each kept
 * until its bytes are acknowledged, within the connection's share. */
#include <errno.h>

#include "tcp/tcp_int.h"

/* A descriptor leaves connection c: from the shared surplus if c holds
 * more than its share. */
static void sd_put(struct usn_tcp_worker *t, struct usn_tcp_conn *c, struct usn_tcp_sdesc *d)
{
	if (c->sd_n > t->sd_share)
		t->sd_surplus_used--;
	c->sd_n--;
	usn_pool_put(&t->sds, d);
}

void usn_tcp_sq_release(struct usn_tcp_conn *c, uint32_t bytes)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	c->sq_bytes -= bytes;
	while (bytes && c->sq_head != USN_TCP_NIL) {
		struct usn_tcp_sdesc *d = usn_pool_at(&t->sds, c->sq_head);
		uint32_t left = d->len - c->sq_head_off;
		if (bytes < left) {
			c->sq_head_off += bytes;
			return;
		}
		bytes -= left;
		uint32_t idx = c->sq_head;
		c->sq_head = d->next;
		c->sq_head_off = 0;
		if (c->sq_cache_idx == idx)
			c->sq_cache_idx = USN_TCP_NIL;
		sd_put(t, c, d);
	}
	if (c->sq_head == USN_TCP_NIL)
		c->sq_tail = USN_TCP_NIL;
}

void usn_tcp_sq_free_all(struct usn_tcp_conn *c)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	while (c->sq_head != USN_TCP_NIL) {
		struct usn_tcp_sdesc *d = usn_pool_at(&t->sds, c->sq_head);
		c->sq_head = d->next;
		sd_put(t, c, d);
	}
	c->sq_tail = c->sq_cache_idx = USN_TCP_NIL;
	c->sq_bytes = 0;
	c->sq_head_off = 0;
}

int usn_tcp_sq_push(struct usn_tcp_conn *c, uint32_t len, const struct usn_tcp_sdesc *tmpl)
{
	if (c->sq_bytes + len < c->sq_bytes)
		return -ENOBUFS;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	/* One connection holds at most sd_conn_max descriptors (a client
	 * pipelining requests against a zero window took them all), and past
	 * its share only while the shared surplus lasts: the share of every
	 * other connection stays free whatever this one does. */
	if (c->sd_n >= t->sd_conn_max) {
		c->w->stats.tcp_send_conn_cap++;
		return -EAGAIN;
	}
	bool extra = c->sd_n >= t->sd_share;
	struct usn_tcp_sdesc *d = extra && t->sd_surplus_used >= t->sd_surplus ? NULL : usn_pool_get(&t->sds);
	if (!d) {
		c->w->stats.tcp_send_no_desc++;
		return -ENOBUFS;
	}
	if (extra)
		t->sd_surplus_used++;
	c->sd_n++;
	*d = *tmpl;
	d->next = USN_TCP_NIL;
	d->len = len;
	uint32_t idx = usn_pool_index(&t->sds, d);
	if (c->sq_tail != USN_TCP_NIL)
		((struct usn_tcp_sdesc *)usn_pool_at(&t->sds, c->sq_tail))->next = idx;
	else
		c->sq_head = idx;
	c->sq_tail = idx;
	c->sq_bytes += len;
	return 0;
}

uint32_t usn_tcp_sq_room(const struct usn_tcp_conn *c)
{
	const struct usn_tcp_worker *t = c->w->tcp;
	if (c->sd_n >= t->sd_conn_max)
		return 0;
	uint32_t room = c->sd_n < t->sd_share ? t->sd_share - c->sd_n : 0;
	room += t->sd_surplus - t->sd_surplus_used;
	if (room > t->sd_conn_max - c->sd_n)
		room = t->sd_conn_max - c->sd_n;
	return room < t->sds.n_free ? room : t->sds.n_free;
}
