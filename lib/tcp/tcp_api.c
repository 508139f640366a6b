/* libusnet TCP API (include/usnet/tcp.h): listen, connect, send by
 * reference or writer, close and abort, the per-connection settings and
 * information. The entry of the application's calls; the work is done by
 * the lifecycle (tcp_conn.c), output and timers below. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "tcp/tcp_int.h"

size_t usn_tcp_tcb_size(void)
{
	return sizeof(struct usn_tcp_conn);
}

uint32_t usn_tcp_free_tcbs(const struct usn_worker *w)
{
	return w->tcp ? w->tcp->tcbs.n_free : 0;
}

int usn_tcp_listen(struct usn_stack *s, uint16_t port, const struct usn_tcp_handlers *h, void *user)
{
	if (!s || port == 0)
		return -EINVAL;
	if (!s->tcp) {
		uint32_t cap = s->cfg.tcp_max_listen ? s->cfg.tcp_max_listen : 16;
		s->tcp = calloc(1, sizeof(struct usn_tcp_shared) + cap * sizeof(struct usn_tcp_listener));
		if (!s->tcp)
			return -ENOMEM;
		s->tcp->cap = cap;
	}
	if (usn_tcp_listener_find(s, port))
		return -EADDRINUSE;
	if (s->tcp->n >= s->tcp->cap)
		return -ENOSPC;
	struct usn_tcp_listener *l = &s->tcp->l[s->tcp->n++];
	l->port = port;
	memset(&l->h, 0, sizeof l->h);
	if (h)
		l->h = *h;
	l->user = user;
	return 0;
}

/* ---- the public API ---- */

/* Whether the flow from our port p lands on worker w (so the replies come
 * back here: the port's RSS with its key, or software steering). */
static bool flow_is_ours(struct usn_worker *w, const struct usn_tcp_ends *e, uint16_t p, uint16_t dst_port)
{
	if (e->v6)
		return usn_stack_flow_worker6(w->stack, e->v6->local, p, e->v6->remote, dst_port) == w->id;
	return usn_stack_flow_worker(w->stack, e->lip, p, e->rip, dst_port) == w->id;
}

struct usn_tcp_conn *usn_tcp_connect_addr(struct usn_worker *w, const struct usn_addr *dst, uint16_t dst_port,
					  const struct usn_tcp_handlers *h, void *user)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	if (!t || !dst || dst_port == 0)
		return NULL;
	const struct usn_stack_config *cfg = t->cfg;
	struct usn_tcp_addr6 a6;
	struct usn_tcp_ends e = {cfg->ip, 0, NULL};
	if (dst->family == USN_AF_INET) {
		e.rip = dst->u.v4;
	} else if (dst->family == USN_AF_INET6 && t->a6) {
		/* Our source for it (RFC 6724 in short); none usable yet (DAD
		 * still running, or no address of that scope): no connection. */
		if (usn_ipv6_is_multicast(dst->u.v6) || usn_ipv6_is_unspecified(dst->u.v6) ||
		    usn_ipv6_src_select(w, dst->u.v6, a6.local) != 0)
			return NULL;
		memcpy(a6.remote, dst->u.v6, 16);
		e.lip = usn_tcp_fold6(t, a6.local);
		e.rip = usn_tcp_fold6(t, a6.remote);
		e.v6 = &a6;
	} else {
		return NULL;
	}
	uint32_t range = USN_TCP_EPH_HI - USN_TCP_EPH_LO + 1;
	uint16_t port = 0;
	/* A source port whose flow lands on this worker and whose 4-tuple is
	 * free; in order from a cursor. */
	for (uint32_t i = 0; i < range; i++) {
		uint16_t p = t->port_cursor;
		t->port_cursor = p == USN_TCP_EPH_HI ? USN_TCP_EPH_LO : (uint16_t)(p + 1);
		if (!flow_is_ours(w, &e, p, dst_port))
			continue;
		if (usn_tcp_table_find(t, &e, p, dst_port))
			continue;
		port = p;
		break;
	}
	if (!port)
		return NULL;
	struct usn_tcp_conn *c = usn_tcp_conn_alloc(w);
	if (!c)
		return NULL;
	usn_tcp_conn_init(c, &e, port, dst_port);
	if (h)
		c->h = *h;
	c->user = user;
	if (!cfg->tcp_no_timestamps)
		c->flags |= USN_TF_TS;
	if (!cfg->tcp_no_sack)
		c->flags |= USN_TF_SACK;
	if (!cfg->tcp_no_wscale) {
		c->flags |= USN_TF_WSCALE;
		uint8_t s = 0;
		while ((cfg->tcp_rcv_wnd >> s) > 65535u && s < USN_TCP_MAX_WSCALE)
			s++;
		c->rcv_wscale = s;
	}
	c->flags |= USN_TF_ANNOUNCED;
	usn_tcp_table_insert(t, c);
	usn_tcp_set_state(c, USN_TCP_SYN_SENT);
	w->stats.tcp_active_opens++;
	usn_tcp_pending(c);
	return c;
}

struct usn_tcp_conn *usn_tcp_connect(struct usn_worker *w, uint32_t dst_ip, uint16_t dst_port,
				     const struct usn_tcp_handlers *h, void *user)
{
	struct usn_addr a = usn_addr_ipv4(dst_ip);
	return usn_tcp_connect_addr(w, &a, dst_port, h, user);
}

static int send_state_check(const struct usn_tcp_conn *c)
{
	switch ((enum usn_tcp_state)c->state) {
	case USN_TCP_SYN_SENT:
	case USN_TCP_SYN_RECEIVED:
	case USN_TCP_ESTABLISHED:
	case USN_TCP_CLOSE_WAIT:
		return (c->flags & USN_TF_CLOSE_REQ) ? -EPIPE : 0;
	case USN_TCP_CLOSE_PENDING:
	case USN_TCP_CLOSE_PENDING_RCVD_FIN:
	case USN_TCP_FIN_WAIT_1:
	case USN_TCP_FIN_WAIT_2:
	case USN_TCP_CLOSING:
	case USN_TCP_LAST_ACK:
		return -EPIPE;
	case USN_TCP_CLOSED:
	case USN_TCP_LISTEN:
	case USN_TCP_TIME_WAIT:
	case USN_TCP_N_STATES:
		break;
	}
	return -ENOTCONN;
}

static int sq_append(struct usn_tcp_conn *c, uint32_t len, const struct usn_tcp_sdesc *tmpl)
{
	if (!c)
		return -ENOTCONN;
	int rc = send_state_check(c);
	if (rc)
		return rc;
	if (len == 0)
		return 0;
	rc = usn_tcp_sq_push(c, len, tmpl);
	if (rc)
		return rc;
	usn_tcp_pending(c);
	return 0;
}

int usn_tcp_send_ref(struct usn_tcp_conn *c, const void *data, uint32_t len, const struct usn_csum_table *csum)
{
	struct usn_tcp_sdesc d;
	memset(&d, 0, sizeof d);
	d.kind = USN_SD_REF;
	d.region = USN_TX_REGION_NONE;
	if (c && c->w->stack->n_tx_regions)
		d.region = usn_stack_tx_region_of(c->w->stack, data, len);
	d.u.ref.data = data;
	d.u.ref.csum = csum;
	return sq_append(c, len, &d);
}

uint32_t usn_tcp_send_room(const struct usn_tcp_conn *c)
{
	if (!c || send_state_check(c) != 0)
		return 0;
	return usn_tcp_sq_room(c);
}

int usn_tcp_send_writer(struct usn_tcp_conn *c, uint32_t len, usn_tcp_write_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	struct usn_tcp_sdesc d;
	memset(&d, 0, sizeof d);
	d.kind = USN_SD_WRITER;
	d.region = USN_TX_REGION_NONE;
	d.u.wr.fn = fn;
	d.u.wr.arg = arg;
	return sq_append(c, len, &d);
}

int usn_tcp_close(struct usn_tcp_conn *c)
{
	if (!c)
		return -ENOTCONN;
	bool open = c->state != USN_TCP_CLOSED;
	int rc = usn_tcp_conn_shutdown(c);
	if (open && c->state == USN_TCP_CLOSED)
		usn_tcp_ev_cancel(c); /* SYN-SENT: deleted, closed_fn(ABORTED) alone is left */
	usn_tcp_events_run(usn_tcp_tw(c->w));
	return rc;
}

void usn_tcp_abort(struct usn_tcp_conn *c)
{
	/* In TIME-WAIT the application has its closed_fn(NORMAL) coming (it
	 * may call this from remote_closed_fn): nothing to abort. */
	if (!c || c->state == USN_TCP_CLOSED || c->state == USN_TCP_TIME_WAIT)
		return;
	usn_tcp_reset_close(c, USN_TCP_CLOSE_ABORTED);
	usn_tcp_ev_cancel(c);
	usn_tcp_events_run(usn_tcp_tw(c->w));
}

void usn_tcp_set_user(struct usn_tcp_conn *c, void *user)
{
	c->user = user;
}

void *usn_tcp_user(const struct usn_tcp_conn *c)
{
	return c->user;
}

struct usn_worker *usn_tcp_worker(const struct usn_tcp_conn *c)
{
	return c->w;
}

void usn_tcp_recv_hold(struct usn_tcp_conn *c, uint32_t bytes)
{
	if (!c || c->state == USN_TCP_CLOSED)
		return;
	c->rcv_held = bytes > UINT32_MAX - c->rcv_held ? UINT32_MAX : c->rcv_held + bytes;
}

void usn_tcp_recv_done(struct usn_tcp_conn *c, uint32_t bytes)
{
	if (!c || c->state == USN_TCP_CLOSED)
		return;
	uint32_t before = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	c->rcv_held = bytes > c->rcv_held ? 0 : c->rcv_held - bytes;
	/* Nothing more will arrive after the peer's FIN, and before the
	 * handshake completes the window has not been announced. */
	if ((c->flags & USN_TF_FIN_RCVD) || c->state == USN_TCP_SYN_SENT || c->state == USN_TCP_SYN_RECEIVED)
		return;
	/* RFC 9293 3.8.6.2.2: announce the reopened window once it has grown
	 * by min(half the configured window, one MSS). */
	uint32_t half = usn_tcp_tw(c->w)->cfg->tcp_rcv_wnd / 2;
	uint32_t mss = usn_tcp_tw(c->w)->mss_local[usn_tcp_fam(c)];
	uint32_t step = half < mss ? half : mss;
	if (usn_tcp_rcv_window(c) >= before + step) {
		c->flags |= USN_TF_ACK_NOW;
		usn_tcp_pending(c);
	}
}

void usn_tcp_set_keepalive(struct usn_tcp_conn *c, uint32_t idle_ms)
{
	if (!c || c->state == USN_TCP_CLOSED)
		return;
	c->keepalive_ms = idle_ms;
	c->probes_out = 0;
	if (c->tkind == USN_TK_KEEPALIVE)
		usn_tcp_timer_stop(c);
	usn_tcp_timer_update(c, false);
}

void usn_tcp_set_idle_timeout(struct usn_tcp_conn *c, uint32_t ms)
{
	if (!c || c->state == USN_TCP_CLOSED)
		return;
	c->idle_ms = ms;
	c->last_progress_us = c->w->now_us; /* the idle clock starts now */
	if (c->tkind == USN_TK_KEEPALIVE)
		usn_tcp_timer_stop(c);
	usn_tcp_timer_update(c, false);
}

void usn_tcp_set_deadline(struct usn_tcp_conn *c, uint32_t ms)
{
	if (!c || c->state == USN_TCP_CLOSED || c->state == USN_TCP_TIME_WAIT)
		return;
	if (ms == 0)
		usn_timer_cancel(&c->w->wheel, &c->deadline);
	else
		usn_timer_arm(&c->w->wheel, &c->deadline, c->w->now_us + (uint64_t)ms * 1000u);
}

void usn_tcp_info(const struct usn_tcp_conn *c, struct usn_tcp_info *o)
{
	memset(o, 0, sizeof *o);
	o->state = (enum usn_tcp_state)c->state;
	if (c->flags & USN_TF_V6) {
		const struct usn_tcp_addr6 *a = usn_tcp_a6(usn_tcp_tw(c->w), c);
		o->local.family = o->remote.family = USN_AF_INET6;
		memcpy(o->local.u.v6, a->local, 16);
		memcpy(o->remote.u.v6, a->remote, 16);
	} else {
		o->local_ip = c->local_ip;
		o->remote_ip = c->remote_ip;
		o->local = usn_addr_ipv4(c->local_ip);
		o->remote = usn_addr_ipv4(c->remote_ip);
	}
	o->local_port = c->local_port;
	o->remote_port = c->remote_port;
	o->snd_una = c->snd_una;
	o->snd_nxt = c->snd_nxt;
	o->snd_wnd = c->snd_wnd;
	o->rcv_nxt = c->rcv_nxt;
	o->rcv_wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	o->cwnd = c->cwnd;
	o->ssthresh = c->ssthresh;
	o->mss = c->smss;
	o->srtt_us = c->srtt_us;
	o->rttvar_us = c->rttvar_us;
	o->rto_ms = c->rto_ms;
	o->bytes_queued = c->sq_bytes;
	o->bytes_sent = c->bytes_sent;
	o->bytes_acked = c->bytes_acked;
	o->bytes_received = c->bytes_received;
	o->retransmits = c->retransmits;
	o->ts_ok = (c->flags & USN_TF_TS) != 0;
	o->sack_ok = (c->flags & USN_TF_SACK) != 0;
	o->snd_wscale = c->snd_wscale;
	o->rcv_wscale = c->rcv_wscale;
}
