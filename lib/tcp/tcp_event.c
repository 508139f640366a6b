/* libusnet TCP events (lib/tcp): what happened to a connection, recorded as
 * the engine works (connected, data, sent, remote closed, closed), and the
 * one place that calls the application's handlers: once the engine has
 * finished its work on the segment, timer or call that caused them
 * (usn_tcp_events_run ends every entry into lib/tcp). So no engine code
 * runs with a handler below it on the stack, and a handler may close or
 * abort any connection, or open one, freely: what that causes is told
 * after it returns, never nested. A connection the engine closed stays
 * readable, in state CLOSED, until its events are told; then its TCB goes
 * back to the pool (as lwIP's and smoltcp's do not have to: lwIP returns
 * ERR_ABRT up every path, smoltcp polls). */
#include <string.h>

#include "tcp/tcp_int.h"

#define USN_EV_PENDING \
	(USN_EV_CONNECTED | USN_EV_SENT | USN_EV_RECV | USN_EV_REMOTE_CLOSED | USN_EV_CLOSED)

/* Puts c on the worker's event list (once). */
static void ev_list(struct usn_tcp_conn *c)
{
	if (c->ev & USN_EV_LISTED)
		return;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	uint32_t me = usn_tcp_idx(t, c);
	c->ev |= USN_EV_LISTED;
	c->ev_next = USN_TCP_NIL;
	if (t->ev_tail != USN_TCP_NIL)
		usn_tcp_at(t, t->ev_tail)->ev_next = me;
	else
		t->ev_head = me;
	t->ev_tail = me;
}

void usn_tcp_ev_post(struct usn_tcp_conn *c, uint8_t ev)
{
	c->ev |= ev;
	ev_list(c);
}

void usn_tcp_ev_sent(struct usn_tcp_conn *c, uint32_t bytes)
{
	c->ev_sent += bytes;
	usn_tcp_ev_post(c, USN_EV_SENT);
}

void usn_tcp_ev_recv(struct usn_tcp_conn *c, struct usn_cursor data)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	t->rx_conn = c;
	t->rx_data = data;
	usn_tcp_ev_post(c, USN_EV_RECV);
}

void usn_tcp_ev_recv_rec(struct usn_tcp_conn *c, struct usn_tcp_ooo_rec *r)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	if (t->rx_conn != c) {
		t->rx_conn = c;
		t->rx_data.len = 0;
	}
	r->next = NULL;
	*t->rx_last = r;
	t->rx_last = &r->next;
	usn_tcp_ev_post(c, USN_EV_RECV);
}

void usn_tcp_ev_closed(struct usn_tcp_conn *c, enum usn_tcp_close_reason why)
{
	c->ev_why = (uint8_t)why;
	usn_tcp_ev_post(c, USN_EV_CLOSED);
}

void usn_tcp_ev_release(struct usn_tcp_conn *c)
{
	ev_list(c);
}

void usn_tcp_ev_cancel(struct usn_tcp_conn *c)
{
	c->ev |= USN_EV_CANCELLED;
}

/* The data of this segment for c, piece by piece, while the application
 * has not ended the connection (a piece's recv_fn may abort it). */
static void tell_recv(struct usn_tcp_worker *t, struct usn_tcp_conn *c)
{
	if (t->rx_conn != c || !c->h.recv_fn)
		return;
	if (t->rx_data.len)
		c->h.recv_fn(c, c->user, t->rx_data);
	for (struct usn_tcp_ooo_rec *r = t->rx_recs; r && !(c->ev & USN_EV_CANCELLED); r = r->next)
		c->h.recv_fn(c, c->user, usn_tcp_ooo_data(r));
}

/* What the segment's data held, given back once it was told. */
static void rx_release(struct usn_tcp_worker *t, struct usn_tcp_conn *c)
{
	if (t->rx_conn != c)
		return;
	struct usn_tcp_ooo_rec *r = t->rx_recs;
	while (r) {
		struct usn_tcp_ooo_rec *next = r->next;
		usn_tcp_ooo_release(c, r);
		r = next;
	}
	t->rx_conn = NULL;
	t->rx_data.len = 0;
	t->rx_recs = NULL;
	t->rx_last = &t->rx_recs;
}

/* Everything c's handlers are owed, in order: connected, sent, recv,
 * remote_closed, closed; the earliest still owed first, looked at again
 * after each handler, so events a handler causes on c join the loop, and
 * once the application has ended c (USN_EV_CANCELLED) only closed_fn is
 * left. Tests in order, not a switch on the lowest bit: most connections
 * owe one or two events a segment, and this runs for every one. */
static void tell(struct usn_tcp_worker *t, struct usn_tcp_conn *c)
{
	for (;;) {
		uint8_t ev = c->ev & ((c->ev & USN_EV_CANCELLED) ? USN_EV_CLOSED : USN_EV_PENDING);
		if (!ev)
			break;
		usn_prof_enter(c->w, USN_PROF_APP);
		if (ev & USN_EV_CONNECTED) {
			c->ev &= (uint8_t)~USN_EV_CONNECTED;
			if (c->h.connected_fn)
				c->h.connected_fn(c, c->user);
		} else if (ev & USN_EV_SENT) {
			uint32_t bytes = c->ev_sent;
			c->ev_sent = 0;
			c->ev &= (uint8_t)~USN_EV_SENT;
			if (c->h.sent_fn)
				c->h.sent_fn(c, c->user, bytes);
		} else if (ev & USN_EV_RECV) {
			c->ev &= (uint8_t)~USN_EV_RECV;
			tell_recv(t, c);
		} else if (ev & USN_EV_REMOTE_CLOSED) {
			c->ev &= (uint8_t)~USN_EV_REMOTE_CLOSED;
			if (c->h.remote_closed_fn)
				c->h.remote_closed_fn(c, c->user);
		} else {
			c->ev &= (uint8_t)~USN_EV_CLOSED;
			if (c->h.closed_fn)
				c->h.closed_fn(c, c->user, (enum usn_tcp_close_reason)c->ev_why);
			/* The handle is the application's no more: nothing is
			 * told again (a TIME-WAIT TCB lives on, anonymous). */
			memset(&c->h, 0, sizeof c->h);
			c->user = NULL;
		}
		usn_prof_leave(c->w);
	}
	rx_release(t, c);
}

void usn_tcp_events_dispatch(struct usn_tcp_worker *t)
{
	t->dispatching = true;
	while (t->ev_head != USN_TCP_NIL) {
		/* c stays first on the list (and listed) while it is told, so
		 * that events a handler causes on it join this round. */
		struct usn_tcp_conn *c = usn_tcp_at(t, t->ev_head);
		tell(t, c);
		t->ev_head = c->ev_next;
		if (t->ev_head == USN_TCP_NIL)
			t->ev_tail = USN_TCP_NIL;
		c->ev = 0;
		if (c->state == USN_TCP_CLOSED) {
			c->flags = 0;
			usn_pool_put(&t->tcbs, c);
		}
	}
	t->dispatching = false;
}
