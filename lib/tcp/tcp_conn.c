/* libusnet TCP connection lifecycle (lib/tcp): a TCB from the pool and its
 * first state, the one state-transition function, the application's
 * close as state changes, the end of a connection (closed or TIME-WAIT:
 * what the application is owed goes to tcp_event.c, which frees the TCB
 * once told), and the pending-output list the flush walks. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"
#include "tcp/tcp_int.h"

static_assert(sizeof(struct usn_tcp_conn) <= 512, "TCB larger than 512 bytes");

/* ---- states ---- */

static const char *const state_names[USN_TCP_N_STATES] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "CLOSE_PENDING",
	"CLOSE_PENDING_RCVD_FIN", "FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT",
};

const char *usn_tcp_state_name(enum usn_tcp_state s)
{
	return (unsigned)s < USN_TCP_N_STATES ? state_names[s] : "?";
}

/* ---- TCB life cycle ---- */

/* The gauge counting a worker's connections in state s (usnet/stats.h);
 * NULL for the states that are no connection. Read once per state, into
 * the worker's table (usn_tcp_gauges_init). */
static uint64_t *state_gauge(struct usn_stats *st, enum usn_tcp_state s)
{
	switch (s) {
	case USN_TCP_CLOSED:
	case USN_TCP_LISTEN:
	case USN_TCP_N_STATES:
		return NULL;
	case USN_TCP_SYN_SENT:
		return &st->conns_syn_sent;
	case USN_TCP_SYN_RECEIVED:
		return &st->conns_syn_received;
	case USN_TCP_ESTABLISHED:
		return &st->conns_established;
	case USN_TCP_CLOSE_WAIT:
		return &st->conns_close_wait;
	case USN_TCP_CLOSE_PENDING:
		return &st->conns_close_pending;
	case USN_TCP_CLOSE_PENDING_RCVD_FIN:
		return &st->conns_close_pending_rcvd_fin;
	case USN_TCP_FIN_WAIT_1:
		return &st->conns_fin_wait_1;
	case USN_TCP_CLOSING:
		return &st->conns_closing;
	case USN_TCP_LAST_ACK:
		return &st->conns_last_ack;
	case USN_TCP_FIN_WAIT_2:
		return &st->conns_fin_wait_2;
	case USN_TCP_TIME_WAIT:
		return &st->conns_time_wait;
	}
	return NULL;
}

void usn_tcp_gauges_init(struct usn_tcp_worker *t)
{
	for (int s = 0; s < USN_TCP_N_STATES; s++) {
		uint64_t *g = state_gauge(&t->w->stats, (enum usn_tcp_state)s);
		t->gauge[s] = g ? g : &t->gauge_none;
	}
}

void usn_tcp_set_state(struct usn_tcp_conn *c, enum usn_tcp_state s)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	enum usn_tcp_state old = (enum usn_tcp_state)c->state;
	if (old == s)
		return;
#ifdef USN_TCP_TRACE
	fprintf(stderr, "tcp w%u %08x:%u-%08x:%u %s -> %s\n", c->w->id, c->local_ip, c->local_port, c->remote_ip,
		c->remote_port, usn_tcp_state_name(old), usn_tcp_state_name(s));
#endif
	if (c->flags & USN_TF_HALF_OPEN) {
		c->flags &= (uint16_t)~USN_TF_HALF_OPEN;
		t->half_open--;
	}
	if (s == USN_TCP_SYN_RECEIVED && (c->flags & USN_TF_PASSIVE)) {
		c->flags |= USN_TF_HALF_OPEN;
		t->half_open++;
	}
	if (c->flags & USN_TF_IN_TW_LIST) {
		c->flags &= (uint16_t)~USN_TF_IN_TW_LIST;
		if (c->tw_prev != USN_TCP_NIL)
			usn_tcp_at(t, c->tw_prev)->tw_next = c->tw_next;
		else
			t->tw_head = c->tw_next;
		if (c->tw_next != USN_TCP_NIL)
			usn_tcp_at(t, c->tw_next)->tw_prev = c->tw_prev;
		else
			t->tw_tail = c->tw_prev;
		t->tw_n--;
	}
	/* Connections by state, for live statistics: two additions. */
	(*t->gauge[old])--;
	(*t->gauge[s])++;
	if (s == USN_TCP_ESTABLISHED)
		c->w->stats.tcp_established++;
	if (s == USN_TCP_CLOSED)
		c->w->stats.tcp_closed++;
	c->state = (uint8_t)s;
}

/* Takes c off the pending-output list, if it is on it. */
static void pending_remove(struct usn_tcp_worker *t, struct usn_tcp_conn *c)
{
	if (!(c->flags & USN_TF_PENDING))
		return;
	c->flags &= (uint16_t)~USN_TF_PENDING;
	if (c->pend_prev != USN_TCP_NIL)
		usn_tcp_at(t, c->pend_prev)->pend_next = c->pend_next;
	else
		t->pend_head = c->pend_next;
	if (c->pend_next != USN_TCP_NIL)
		usn_tcp_at(t, c->pend_next)->pend_prev = c->pend_prev;
	else
		t->pend_tail = c->pend_prev;
}

/* What every end of a connection does: no timer, no queue, no table or
 * list keeps it, and its state is CLOSED. */
static void teardown(struct usn_tcp_worker *t, struct usn_tcp_conn *c)
{
	usn_timer_cancel(&c->w->wheel, &c->timer);
	usn_timer_cancel(&c->w->wheel, &c->delack);
	usn_timer_cancel(&c->w->wheel, &c->deadline);
	usn_tcp_table_remove(t, c);
	usn_tcp_sq_free_all(c);
	usn_tcp_ooo_free(c);
	pending_remove(t, c);
	if (t->ack_conn == usn_tcp_idx(t, c))
		t->ack_conn = USN_TCP_NIL;
	usn_tcp_set_state(c, USN_TCP_CLOSED);
}

/* The oldest TIME-WAIT TCB, for reuse now: with the pool empty, a new
 * connection is worth more than 2 MSL of protection for an old one
 * (tcp_max_timewait may allow TIME-WAIT the whole pool; SYNs were
 * dropped). One whose closed_fn is still to be told is skipped. */
static struct usn_tcp_conn *timewait_take(struct usn_tcp_worker *t)
{
	uint32_t i = t->tw_head;
	for (int n = 0; i != USN_TCP_NIL && n < 16; n++) {
		struct usn_tcp_conn *c = usn_tcp_at(t, i);
		if (!(c->ev & USN_EV_LISTED)) {
			teardown(t, c); /* anonymous: nothing to tell */
			return c;
		}
		i = c->tw_next;
	}
	return NULL;
}

struct usn_tcp_conn *usn_tcp_conn_alloc(struct usn_worker *w)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	struct usn_tcp_conn *c = usn_pool_get(&t->tcbs);
	if (!c && (c = timewait_take(t)) != NULL)
		w->stats.tcp_timewait_overflow++;
	if (!c) {
		w->stats.tcp_pool_empty++;
		return NULL;
	}
	memset(c, 0, sizeof *c);
	c->idx = (uint32_t)((size_t)((const uint8_t *)c - t->tcbs.base) / sizeof *c);
	c->w = w;
	c->hnext = c->pend_next = c->pend_prev = c->tw_prev = c->tw_next = c->ev_next = USN_TCP_NIL;
	c->sq_head = c->sq_tail = c->sq_cache_idx = USN_TCP_NIL;
	usn_timer_init(&c->timer, t->on_timer);
	usn_timer_init(&c->delack, t->on_delack);
	usn_timer_init(&c->deadline, t->on_deadline);
	return c;
}

uint16_t usn_tcp_path_mss(struct usn_tcp_conn *c)
{
	if (c->flags & USN_TF_V6) {
		struct usn_tcp_worker *t = usn_tcp_tw(c->w);
		uint16_t m6 = t->smss_max[1];
		uint16_t pmtu6 = usn_pmtu_get6(c->w, usn_tcp_a6(t, c)->remote);
		if (pmtu6 > USN_IPV6_HDR_LEN + USN_TCP_HDR_LEN && pmtu6 - USN_IPV6_HDR_LEN - USN_TCP_HDR_LEN < m6)
			m6 = (uint16_t)(pmtu6 - USN_IPV6_HDR_LEN - USN_TCP_HDR_LEN);
		return m6;
	}
	uint16_t m = usn_tcp_tw(c->w)->smss_max[0];
	uint16_t pmtu = usn_pmtu_get(c->w, c->remote_ip);
	if (pmtu > USN_IPV4_HDR_LEN + USN_TCP_HDR_LEN && pmtu - USN_IPV4_HDR_LEN - USN_TCP_HDR_LEN < m)
		m = (uint16_t)(pmtu - USN_IPV4_HDR_LEN - USN_TCP_HDR_LEN);
	return m;
}

void usn_tcp_conn_init(struct usn_tcp_conn *c, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	c->local_ip = e->lip;
	c->local_port = lport;
	c->remote_ip = e->rip;
	c->remote_port = rport;
	if (e->v6) {
		c->flags |= USN_TF_V6;
		*usn_tcp_a6(t, c) = *e->v6;
	}
	c->iss = usn_tcp_isn_ts(t, e, lport, rport, &c->ts_offset);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->recover = c->iss;
	c->rto_ms = t->cfg->tcp_rto_init_ms;
	c->smss = usn_tcp_path_mss(c);
	if (c->smss < t->smss_max[usn_tcp_fam(c)])
		c->w->stats.tcp_pmtu_cached_opens++;
	c->last_rx_us = c->last_progress_us = c->w->now_us;
	usn_tcp_cong_init(c);
}

void usn_tcp_conn_close(struct usn_tcp_conn *c, enum usn_tcp_close_reason why)
{
	if (c->state == USN_TCP_CLOSED)
		return;
	teardown(usn_tcp_tw(c->w), c);
	if (c->flags & USN_TF_ANNOUNCED) {
		c->flags &= (uint16_t)~USN_TF_ANNOUNCED;
		usn_tcp_ev_closed(c, why);
	} else {
		usn_tcp_ev_release(c);
	}
}

void usn_tcp_enter_timewait(struct usn_tcp_conn *c)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	if (t->cfg->tcp_max_timewait == 0) {
		usn_tcp_conn_close(c, USN_TCP_CLOSE_NORMAL);
		return;
	}
	usn_tcp_set_state(c, USN_TCP_TIME_WAIT);
	usn_tcp_sq_free_all(c);
	usn_tcp_ooo_free(c);
	usn_timer_cancel(&c->w->wheel, &c->deadline); /* the application is done with it */
	usn_tcp_timer_arm(c, USN_TK_TIMEWAIT, t->cfg->tcp_timewait_ms);
	/* FIFO, oldest first: all TIME-WAITs last the same time. */
	uint32_t me = usn_tcp_idx(t, c);
	c->tw_next = USN_TCP_NIL;
	c->tw_prev = t->tw_tail;
	if (t->tw_tail != USN_TCP_NIL)
		usn_tcp_at(t, t->tw_tail)->tw_next = me;
	else
		t->tw_head = me;
	t->tw_tail = me;
	t->tw_n++;
	c->flags |= USN_TF_IN_TW_LIST;
	/* The application is done with it: closed_fn is owed, and once told
	 * the TCB is anonymous (tcp_event.c) until 2 MSL end. */
	if (c->flags & USN_TF_ANNOUNCED) {
		c->flags &= (uint16_t)~USN_TF_ANNOUNCED;
		usn_tcp_ev_closed(c, USN_TCP_CLOSE_NORMAL);
	} else {
		memset(&c->h, 0, sizeof c->h);
		c->user = NULL;
	}
	if (t->tw_n > t->cfg->tcp_max_timewait) {
		struct usn_tcp_conn *old = usn_tcp_at(t, t->tw_head);
		c->w->stats.tcp_timewait_overflow++;
		usn_tcp_conn_close(old, USN_TCP_CLOSE_NORMAL);
	}
}

void usn_tcp_pending_add(struct usn_tcp_conn *c)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	uint32_t me = usn_tcp_idx(t, c);
	c->flags |= USN_TF_PENDING;
	c->pend_next = USN_TCP_NIL;
	c->pend_prev = t->pend_tail;
	if (t->pend_tail != USN_TCP_NIL)
		usn_tcp_at(t, t->pend_tail)->pend_next = me;
	else
		t->pend_head = me;
	t->pend_tail = me;
}

struct usn_tcp_conn *usn_tcp_pending_pop(struct usn_tcp_worker *t)
{
	if (t->pend_head == USN_TCP_NIL)
		return NULL;
	/* The head: nothing before it to relink. */
	struct usn_tcp_conn *c = usn_tcp_at(t, t->pend_head);
	c->flags &= (uint16_t)~USN_TF_PENDING;
	t->pend_head = c->pend_next;
	if (c->pend_next != USN_TCP_NIL)
		usn_tcp_at(t, c->pend_next)->pend_prev = USN_TCP_NIL;
	else
		t->pend_tail = USN_TCP_NIL;
	return c;
}

/* The application's close (RFC 9293 3.10.4) as a state change; the FIN
 * goes out after everything queued. */
int usn_tcp_conn_shutdown(struct usn_tcp_conn *c)
{
	bool unsent = SEQ_LT(c->snd_nxt, usn_tcp_data_end(c));
	int rc = 0;
	switch ((enum usn_tcp_state)c->state) {
	case USN_TCP_SYN_SENT:
		/* RFC 9293 3.10.4: delete the TCB. */
		usn_tcp_conn_close(c, USN_TCP_CLOSE_ABORTED);
		break;
	case USN_TCP_SYN_RECEIVED:
		/* queue the close until ESTABLISHED (3.10.4) */
		if (c->flags & USN_TF_CLOSE_REQ)
			rc = -ENOTCONN;
		c->flags |= USN_TF_CLOSE_REQ;
		break;
	case USN_TCP_ESTABLISHED:
		/* FIN after everything queued: CLOSE_PENDING until it goes. */
		usn_tcp_set_state(c, unsent ? USN_TCP_CLOSE_PENDING : USN_TCP_FIN_WAIT_1);
		usn_tcp_pending(c);
		break;
	case USN_TCP_CLOSE_WAIT:
		usn_tcp_set_state(c, unsent ? USN_TCP_CLOSE_PENDING_RCVD_FIN : USN_TCP_LAST_ACK);
		usn_tcp_pending(c);
		break;
	case USN_TCP_CLOSE_PENDING:
	case USN_TCP_CLOSE_PENDING_RCVD_FIN:
	case USN_TCP_FIN_WAIT_1:
	case USN_TCP_FIN_WAIT_2:
	case USN_TCP_CLOSING:
	case USN_TCP_LAST_ACK:
	case USN_TCP_TIME_WAIT:
	case USN_TCP_CLOSED:
	case USN_TCP_LISTEN:
	case USN_TCP_N_STATES:
		rc = -ENOTCONN;
		break;
	}
	return rc;
}
