/* libusnet TCP API and per-worker set-up: listen, connect, send by
 * reference or writer, close and abort; the TCB life cycle (allocation,
 * state changes, TIME-WAIT, deferred freeing) and the pending-output list. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "tcp/tcp_int.h"

static_assert(sizeof(struct usn_tcp_conn) <= 512, "TCB larger than 512 bytes");

static const char *const state_names[USN_TCP_N_STATES] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "CLOSE_PENDING",
	"CLOSE_PENDING_RCVD_FIN", "FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT",
};

const char *usn_tcp_state_name(enum usn_tcp_state s)
{
	return (unsigned)s < USN_TCP_N_STATES ? state_names[s] : "?";
}

size_t usn_tcp_tcb_size(void)
{
	return sizeof(struct usn_tcp_conn);
}

uint32_t usn_tcp_free_tcbs(const struct usn_worker *w)
{
	return w->tcp ? w->tcp->tcbs.n_free : 0;
}

/* ---- per-worker tables ---- */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* Every key of the worker from the stack's secret (configured, or read from
 * the port's random source when the stack was created). */
static void derive_keys(struct usn_worker *w, struct usn_tcp_worker *t)
{
	t->key_cookie[0] = w->stack->secret[0];
	t->key_cookie[1] = w->stack->secret[1];
	static const char isn_label[] = "usnet isn key";
	t->key_isn[0] = usn_siphash24(t->key_cookie, isn_label, sizeof isn_label);
	t->key_isn[1] = usn_siphash24(t->key_cookie, isn_label, sizeof isn_label - 1);
}

/* Large segments for the port to cut (TSO) when it offers them with the
 * checksum offloads they need, up to its limit, within one buffer if it
 * takes no chains; 0 when that is no more than the MTU. */
static uint32_t tso_limit(const struct usn_hal *hal, const struct usn_stack_config *cfg, uint16_t mtu)
{
	/* The pieces' TCP sums are the port's to fill; the IPv4 header sum is
	 * ours unless the port offers it too (the port recomputes each piece's
	 * anyway, as Linux's GSO does for the packet port). */
	const uint32_t need = USN_HAL_OFF_TX_TSO | USN_HAL_OFF_TX_TCP_CSUM;
	if ((hal->offloads & need) != need || cfg->tcp_no_tso)
		return 0;
	uint32_t m = hal->tso_max && hal->tso_max < 65535u ? hal->tso_max : 65535u;
	if (!(hal->offloads & USN_HAL_OFF_TX_MULTISEG) && hal->buf_size > USN_ETH_HDR_LEN &&
	    m > (uint32_t)hal->buf_size - USN_ETH_HDR_LEN)
		m = (uint32_t)hal->buf_size - USN_ETH_HDR_LEN;
	return m > mtu ? m : 0;
}

struct usn_tcp_worker *usn_tcp_worker_create(struct usn_worker *w)
{
	const struct usn_stack_config *cfg = &w->stack->cfg;
	struct usn_tcp_worker *t = usn_worker_mem_alloc(w, sizeof *t);
	if (!t)
		return NULL;
	memset(t, 0, sizeof *t);
	t->w = w;
	t->cfg = cfg;
	uint32_t n = cfg->tcp_max_conns ? cfg->tcp_max_conns : 4096;
	t->tcb_mem_size = usn_pool_mem_size(sizeof(struct usn_tcp_conn), n);
	t->tcb_mem = usn_worker_mem_alloc(w, t->tcb_mem_size);
	uint32_t nb = pow2_at_least(n);
	t->bucket = usn_worker_mem_alloc(w, nb * sizeof(uint32_t));
	uint32_t nsd = cfg->tcp_sendq_max ? cfg->tcp_sendq_max : n * 4;
	t->sd_mem_size = usn_pool_mem_size(sizeof(struct usn_tcp_sdesc), nsd);
	t->sd_mem = usn_worker_mem_alloc(w, t->sd_mem_size);
	if (!t->tcb_mem || !t->bucket || !t->sd_mem) {
		usn_tcp_worker_destroy(w, t);
		return NULL;
	}
	memset(t->tcb_mem, 0, t->tcb_mem_size); /* state CLOSED everywhere: destroy scans it */
	usn_pool_init(&t->tcbs, t->tcb_mem, sizeof(struct usn_tcp_conn), n);
	usn_pool_init(&t->sds, t->sd_mem, sizeof(struct usn_tcp_sdesc), nsd);
	/* Half the descriptors are every connection's share, the other half
	 * shared (tcp_sendq_per_conn in usnet/stack.h). */
	t->sd_share = nsd / (2u * n);
	t->sd_surplus = nsd - t->sd_share * n;
	t->sd_conn_max = cfg->tcp_sendq_per_conn ? cfg->tcp_sendq_per_conn : 64;
	t->ooo_max_bufs = cfg->tcp_ooo_max_bufs ? cfg->tcp_ooo_max_bufs : 1024;
	t->bucket_mask = nb - 1;
	for (uint32_t i = 0; i < nb; i++)
		t->bucket[i] = USN_TCP_NIL;
	t->tw_head = t->tw_tail = USN_TCP_NIL;
	t->pend_head = t->pend_tail = USN_TCP_NIL;
	t->zombie_head = USN_TCP_NIL;
	uint16_t mtu = cfg->mtu ? cfg->mtu : w->hal->mtu;
	t->mss_local = (uint16_t)(mtu > 40 + 64 ? mtu - 40 : 64);
	/* A port without chained TX takes a frame of one buffer: a full segment
	 * (20 bytes of TCP header beyond the MSS's options) must fit in it.
	 * Chained anyway, the frame was the port's to mangle or refuse. */
	t->smss_max = t->mss_local;
	if (!(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG) && w->hal->buf_size < USN_L4_OFF + 20u + t->smss_max)
		t->smss_max = (uint16_t)(w->hal->buf_size > USN_L4_OFF + 20u + 64u ? w->hal->buf_size - USN_L4_OFF - 20u : 64u);
	t->tso_max = tso_limit(w->hal, cfg, mtu);
	t->tso_max_segs = w->hal->tso_max_segs;
	derive_keys(w, t);
	t->port_cursor = (uint16_t)(USN_TCP_EPH_LO + (t->key_isn[0] % (USN_TCP_EPH_HI - USN_TCP_EPH_LO + 1)));
	return t;
}

void usn_tcp_worker_destroy(struct usn_worker *w, struct usn_tcp_worker *t)
{
	if (!t)
		return;
	if (t->tcb_mem) {
		/* Return every frame a live TCB still holds (OOO queues). */
		for (uint32_t i = 0; i < t->tcbs.cap; i++) {
			struct usn_tcp_conn *c = usn_pool_at(&t->tcbs, i);
			if (c->state != USN_TCP_CLOSED && c->w == w)
				usn_tcp_ooo_free(c);
		}
		usn_worker_mem_free(w, t->tcb_mem, t->tcb_mem_size);
	}
	if (t->bucket)
		usn_worker_mem_free(w, t->bucket, (size_t)(t->bucket_mask + 1) * sizeof(uint32_t));
	if (t->sd_mem)
		usn_worker_mem_free(w, t->sd_mem, t->sd_mem_size);
	usn_worker_mem_free(w, t, sizeof *t);
	if (w->tcp == t)
		w->tcp = NULL;
}

void usn_tcp_shared_destroy(struct usn_stack *s)
{
	free(s->tcp);
	s->tcp = NULL;
}

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

/* ---- TCB life cycle ---- */

/* The gauge counting a worker's connections in state s (usnet/stats.h);
 * NULL for the states that are no connection. */
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
	uint64_t *g = state_gauge(&c->w->stats, old);
	if (g)
		(*g)--;
	g = state_gauge(&c->w->stats, s);
	if (g)
		(*g)++;
	if (s == USN_TCP_ESTABLISHED)
		c->w->stats.tcp_established++;
	if (s == USN_TCP_CLOSED)
		c->w->stats.tcp_closed++;
	c->state = (uint8_t)s;
}

/* The oldest TIME-WAIT TCB, closed and off the zombie list, for reuse now:
 * with the pool empty, a new connection is worth more than 2 MSL of
 * protection for an old one (tcp_max_timewait may allow TIME-WAIT the whole
 * pool; SYNs were dropped). One on the pending-output list is skipped. */
static struct usn_tcp_conn *timewait_take(struct usn_tcp_worker *t)
{
	uint32_t i = t->tw_head;
	for (int n = 0; i != USN_TCP_NIL && n < 16; n++) {
		struct usn_tcp_conn *c = usn_tcp_at(t, i);
		if (!(c->flags & USN_TF_PENDING)) {
			usn_tcp_conn_close(c, USN_TCP_CLOSE_NORMAL); /* anonymous: no handler */
			t->zombie_head = c->hnext;                    /* it was pushed first */
			c->flags = 0;
			usn_pool_put(&t->tcbs, c);
			return usn_pool_get(&t->tcbs);
		}
		i = c->tw_next;
	}
	return NULL;
}

struct usn_tcp_conn *usn_tcp_conn_alloc(struct usn_worker *w)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	usn_tcp_reap(t);
	struct usn_tcp_conn *c = usn_pool_get(&t->tcbs);
	if (!c && (c = timewait_take(t)) != NULL)
		w->stats.tcp_timewait_overflow++;
	if (!c) {
		w->stats.tcp_pool_empty++;
		return NULL;
	}
	memset(c, 0, sizeof *c);
	c->w = w;
	c->hnext = c->pend_next = c->tw_prev = c->tw_next = USN_TCP_NIL;
	c->sq_head = c->sq_tail = c->sq_cache_idx = USN_TCP_NIL;
	usn_timer_init(&c->timer, usn_tcp_timer_fn);
	usn_timer_init(&c->delack, usn_tcp_delack_fn);
	usn_timer_init(&c->deadline, usn_tcp_deadline_fn);
	return c;
}

void usn_tcp_conn_init(struct usn_tcp_conn *c, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	c->local_ip = lip;
	c->local_port = lport;
	c->remote_ip = rip;
	c->remote_port = rport;
	c->iss = usn_tcp_isn_ts(t, lip, lport, rip, rport, &c->ts_offset);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->recover = c->iss;
	c->rto_ms = t->cfg->tcp_rto_init_ms;
	c->smss = t->smss_max;
	c->last_rx_us = c->last_progress_us = c->w->now_us;
	usn_tcp_cong_init(c);
}

void usn_tcp_reap(struct usn_tcp_worker *t)
{
	if (t->depth)
		return;
	uint32_t *p = &t->zombie_head;
	while (*p != USN_TCP_NIL) {
		struct usn_tcp_conn *c = usn_tcp_at(t, *p);
		if (c->flags & USN_TF_PENDING) {
			p = &c->hnext;
			continue;
		}
		*p = c->hnext;
		c->flags = 0;
		c->state = USN_TCP_CLOSED;
		usn_pool_put(&t->tcbs, c);
	}
}

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

void usn_tcp_conn_close(struct usn_tcp_conn *c, enum usn_tcp_close_reason why)
{
	if (!usn_tcp_alive(c))
		return;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	usn_timer_cancel(&c->w->wheel, &c->timer);
	usn_timer_cancel(&c->w->wheel, &c->delack);
	usn_timer_cancel(&c->w->wheel, &c->deadline);
	usn_tcp_table_remove(t, c);
	usn_tcp_sq_free_all(c);
	usn_tcp_ooo_free(c);
	usn_tcp_set_state(c, USN_TCP_CLOSED);
	c->flags |= USN_TF_DEAD | USN_TF_ZOMBIE;
	c->hnext = t->zombie_head;
	t->zombie_head = usn_tcp_idx(t, c);
	if (c->flags & USN_TF_ANNOUNCED) {
		c->flags &= (uint16_t)~USN_TF_ANNOUNCED;
		if (c->h.closed_fn) {
			t->depth++;
			usn_prof_enter(c->w, USN_PROF_APP);
			c->h.closed_fn(c, c->user, why);
			usn_prof_leave(c->w);
			t->depth--;
		}
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
	/* The application is done with it: announce, then keep it anonymous. */
	if (c->flags & USN_TF_ANNOUNCED) {
		c->flags &= (uint16_t)~USN_TF_ANNOUNCED;
		if (c->h.closed_fn) {
			t->depth++;
			usn_prof_enter(c->w, USN_PROF_APP);
			c->h.closed_fn(c, c->user, USN_TCP_CLOSE_NORMAL);
			usn_prof_leave(c->w);
			t->depth--;
		}
	}
	memset(&c->h, 0, sizeof c->h);
	c->user = NULL;
	if (t->tw_n > t->cfg->tcp_max_timewait) {
		struct usn_tcp_conn *old = usn_tcp_at(t, t->tw_head);
		c->w->stats.tcp_timewait_overflow++;
		usn_tcp_conn_close(old, USN_TCP_CLOSE_NORMAL);
	}
}

void usn_tcp_pending(struct usn_tcp_conn *c)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	if (c->flags & USN_TF_PENDING)
		return;
	c->flags |= USN_TF_PENDING;
	c->pend_next = USN_TCP_NIL;
	uint32_t me = usn_tcp_idx(t, c);
	if (t->pend_tail != USN_TCP_NIL)
		usn_tcp_at(t, t->pend_tail)->pend_next = me;
	else
		t->pend_head = me;
	t->pend_tail = me;
}

void usn_tcp_worker_flush(struct usn_worker *w)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	if (!t)
		return;
	t->depth++;
	while (t->pend_head != USN_TCP_NIL) {
		/* Backpressure: with the TX batch full and the port refusing
		 * it, the rest stay pending for the next poll round. */
		if (!usn_worker_tx_make_room(w))
			break;
		struct usn_tcp_conn *c = usn_tcp_at(t, t->pend_head);
		t->pend_head = c->pend_next;
		if (t->pend_head == USN_TCP_NIL)
			t->pend_tail = USN_TCP_NIL;
		c->flags &= (uint16_t)~USN_TF_PENDING;
		/* The ACK process_data deferred to the end of the RX burst is
		 * due now: on the data that goes out, else a pure ACK. */
		if (c->ack_soon)
			c->flags |= USN_TF_ACK_NOW;
		usn_tcp_output(c);
	}
	t->depth--;
	usn_tcp_reap(t);
}

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

/* ---- the public API ---- */

struct usn_tcp_conn *usn_tcp_connect(struct usn_worker *w, uint32_t dst_ip, uint16_t dst_port,
				     const struct usn_tcp_handlers *h, void *user)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	if (!t || dst_port == 0)
		return NULL;
	const struct usn_stack_config *cfg = t->cfg;
	uint32_t lip = cfg->ip;
	uint32_t range = USN_TCP_EPH_HI - USN_TCP_EPH_LO + 1;
	uint16_t port = 0;
	/* A source port whose flow lands on this worker (so the replies come
	 * back here: the port's RSS with its key, or software steering) and
	 * whose 4-tuple is free; in order from a cursor. */
	for (uint32_t i = 0; i < range; i++) {
		uint16_t p = t->port_cursor;
		t->port_cursor = p == USN_TCP_EPH_HI ? USN_TCP_EPH_LO : (uint16_t)(p + 1);
		if (usn_stack_flow_worker(w->stack, lip, p, dst_ip, dst_port) != w->id)
			continue;
		if (usn_tcp_table_lookup(t, lip, p, dst_ip, dst_port))
			continue;
		port = p;
		break;
	}
	if (!port)
		return NULL;
	struct usn_tcp_conn *c = usn_tcp_conn_alloc(w);
	if (!c)
		return NULL;
	usn_tcp_conn_init(c, lip, port, dst_ip, dst_port);
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
	if (!c || !usn_tcp_alive(c))
		return -ENOTCONN;
	int rc = send_state_check(c);
	if (rc)
		return rc;
	if (len == 0)
		return 0;
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
	if (!c || !usn_tcp_alive(c) || send_state_check(c) != 0)
		return 0;
	const struct usn_tcp_worker *t = c->w->tcp;
	if (c->sd_n >= t->sd_conn_max)
		return 0;
	uint32_t room = c->sd_n < t->sd_share ? t->sd_share - c->sd_n : 0;
	room += t->sd_surplus - t->sd_surplus_used;
	if (room > t->sd_conn_max - c->sd_n)
		room = t->sd_conn_max - c->sd_n;
	return room < t->sds.n_free ? room : t->sds.n_free;
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
	if (!c || !usn_tcp_alive(c))
		return -ENOTCONN;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	bool unsent = SEQ_LT(c->snd_nxt, usn_tcp_data_end(c));
	int rc = 0;
	t->depth++;
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
	t->depth--;
	usn_tcp_reap(t);
	return rc;
}

void usn_tcp_reset_close(struct usn_tcp_conn *c, enum usn_tcp_close_reason why)
{
	/* RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST> in the synchronized states. */
	if (c->state >= USN_TCP_SYN_RECEIVED && c->state != USN_TCP_TIME_WAIT)
		(void)usn_tcp_send_seg(c, c->snd_max, 0, USN_TCP_RST | USN_TCP_ACK);
	usn_tcp_conn_close(c, why);
}

void usn_tcp_abort(struct usn_tcp_conn *c)
{
	if (!c || !usn_tcp_alive(c))
		return;
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	t->depth++;
	usn_tcp_reset_close(c, USN_TCP_CLOSE_ABORTED);
	t->depth--;
	usn_tcp_reap(t);
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
	if (!c || !usn_tcp_alive(c))
		return;
	c->rcv_held = bytes > UINT32_MAX - c->rcv_held ? UINT32_MAX : c->rcv_held + bytes;
}

void usn_tcp_recv_done(struct usn_tcp_conn *c, uint32_t bytes)
{
	if (!c || !usn_tcp_alive(c))
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
	uint32_t mss = usn_tcp_tw(c->w)->mss_local;
	uint32_t step = half < mss ? half : mss;
	if (usn_tcp_rcv_window(c) >= before + step) {
		c->flags |= USN_TF_ACK_NOW;
		usn_tcp_pending(c);
	}
}

void usn_tcp_set_keepalive(struct usn_tcp_conn *c, uint32_t idle_ms)
{
	if (!c || !usn_tcp_alive(c))
		return;
	c->keepalive_ms = idle_ms;
	c->probes_out = 0;
	if (c->tkind == USN_TK_KEEPALIVE)
		usn_tcp_timer_stop(c);
	usn_tcp_timer_update(c, false);
}

void usn_tcp_set_idle_timeout(struct usn_tcp_conn *c, uint32_t ms)
{
	if (!c || !usn_tcp_alive(c))
		return;
	c->idle_ms = ms;
	c->last_progress_us = c->w->now_us; /* the idle clock starts now */
	if (c->tkind == USN_TK_KEEPALIVE)
		usn_tcp_timer_stop(c);
	usn_tcp_timer_update(c, false);
}

void usn_tcp_set_deadline(struct usn_tcp_conn *c, uint32_t ms)
{
	if (!c || !usn_tcp_alive(c) || c->state == USN_TCP_TIME_WAIT)
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
	o->local_ip = c->local_ip;
	o->remote_ip = c->remote_ip;
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
