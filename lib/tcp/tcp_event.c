/* libusnet TCP events (lib/tcp): the calls into the application's
 * handlers, in one place. */
#include "tcp/tcp_int.h"

/* ---- events: handlers may call back into the API; depth defers frees ---- */

void usn_tcp_ev_connected(struct usn_tcp_conn *c)
{
	if (!c->h.connected_fn)
		return;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	t->depth++;
	usn_prof_enter(c->w, USN_PROF_APP);
	c->h.connected_fn(c, c->user);
	usn_prof_leave(c->w);
	t->depth--;
}

void usn_tcp_ev_recv(struct usn_tcp_conn *c, struct usn_cursor data)
{
	if (!c->h.recv_fn)
		return;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	t->depth++;
	usn_prof_enter(c->w, USN_PROF_APP);
	c->h.recv_fn(c, c->user, data);
	usn_prof_leave(c->w);
	t->depth--;
}

void usn_tcp_ev_sent(struct usn_tcp_conn *c, uint32_t bytes)
{
	if (!c->h.sent_fn)
		return;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	t->depth++;
	usn_prof_enter(c->w, USN_PROF_APP);
	c->h.sent_fn(c, c->user, bytes);
	usn_prof_leave(c->w);
	t->depth--;
}

void usn_tcp_ev_remote_closed(struct usn_tcp_conn *c)
{
	if (!c->h.remote_closed_fn)
		return;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	t->depth++;
	usn_prof_enter(c->w, USN_PROF_APP);
	c->h.remote_closed_fn(c, c->user);
	usn_prof_leave(c->w);
	t->depth--;
}

void usn_tcp_ev_closed(struct usn_tcp_conn *c, enum usn_tcp_close_reason why)
{
	if (!c->h.closed_fn)
		return;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	t->depth++;
	usn_prof_enter(c->w, USN_PROF_APP);
	c->h.closed_fn(c, c->user, why);
	usn_prof_leave(c->w);
	t->depth--;
}
