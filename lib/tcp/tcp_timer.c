/* libusnet TCP timers (lib/tcp): which of the connection's timers runs
 * when. One wheel node per TCB for retransmission (RFC 6298), persist
 * (zero-window probes, RFC 9293 3.8.6.1), keepalive (RFC 1122 4.2.3.6) and
 * the idle timeout, FIN-WAIT-2 and TIME-WAIT; what each does when it fires
 * is tcp_timeout.c's. */
#include "tcp/tcp_int.h"

void usn_tcp_timer_arm(struct usn_tcp_conn *c, enum usn_tcp_tkind k, uint32_t ms)
{
	c->tkind = (uint8_t)k;
	usn_timer_arm(&c->w->wheel, &c->timer, c->w->now_us + (uint64_t)ms * 1000u);
}

void usn_tcp_timer_stop(struct usn_tcp_conn *c)
{
	c->tkind = USN_TK_NONE;
	usn_timer_cancel(&c->w->wheel, &c->timer);
}

uint32_t usn_tcp_finwait2_ms(const struct usn_tcp_conn *c)
{
	/* Twice the back-off ceiling: a peer retransmitting its data at the
	 * ceiling is silent that long, plus a round trip, without being gone
	 * (exactly the ceiling lost that race at 10% loss), and Linux's
	 * ceiling (120 s) is twice our default. */
	const struct usn_stack_config *cfg = usn_tcp_tw(c->w)->cfg;
	uint32_t rto2 = cfg->tcp_rto_max_ms > UINT32_MAX / 2 ? UINT32_MAX : 2 * cfg->tcp_rto_max_ms;
	return cfg->tcp_timewait_ms > rto2 ? cfg->tcp_timewait_ms : rto2;
}

uint32_t usn_tcp_backoff_ms(const struct usn_tcp_conn *c, uint32_t base)
{
	const struct usn_stack_config *cfg = usn_tcp_tw(c->w)->cfg;
	uint64_t v = (uint64_t)base << (c->rtx_count > 16 ? 16 : c->rtx_count);
	if (v < cfg->tcp_rto_min_ms)
		v = cfg->tcp_rto_min_ms;
	return v > cfg->tcp_rto_max_ms ? cfg->tcp_rto_max_ms : (uint32_t)v;
}

/* The idle timeout (usn_tcp_set_idle_timeout) shares the keepalive slot of
 * the main timer: it applies in ESTABLISHED and CLOSE_WAIT (nothing closing
 * from our side), when the RTO and persist timers are not running (their
 * own limits govern while data of ours is outstanding). UINT64_MAX: none. */
uint64_t usn_tcp_idle_deadline(const struct usn_tcp_conn *c)
{
	if (!c->idle_ms || (c->state != USN_TCP_ESTABLISHED && c->state != USN_TCP_CLOSE_WAIT))
		return UINT64_MAX;
	return c->last_progress_us + (uint64_t)c->idle_ms * 1000u;
}

/* Arms the keepalive slot at `at` or at the idle deadline, the earlier. */
void usn_tcp_keepalive_arm(struct usn_tcp_conn *c, uint64_t at)
{
	uint64_t idle = usn_tcp_idle_deadline(c);
	c->tkind = USN_TK_KEEPALIVE;
	usn_timer_arm(&c->w->wheel, &c->timer, idle < at ? idle : at);
}

void usn_tcp_timer_update(struct usn_tcp_conn *c, bool restart_rto)
{
	if (c->state == USN_TCP_CLOSED || c->state == USN_TCP_TIME_WAIT)
		return;
	bool armed = usn_timer_armed(&c->timer);
	if (c->snd_max != c->snd_una) {
		/* RFC 6298 5.1 and 5.3 */
		if (restart_rto || c->tkind != USN_TK_RTO || !armed)
			usn_tcp_timer_arm(c, USN_TK_RTO, c->rto_ms);
		return;
	}
	if (c->state >= USN_TCP_ESTABLISHED && c->snd_wnd == 0 && SEQ_LT(c->snd_nxt, usn_tcp_data_end(c) + (usn_tcp_fin_wanted(c) ? 1 : 0))) {
		if (c->tkind != USN_TK_PERSIST || !armed)
			usn_tcp_timer_arm(c, USN_TK_PERSIST, usn_tcp_backoff_ms(c, c->rto_ms));
		return;
	}
	if (c->state == USN_TCP_FIN_WAIT_2) {
		if (c->tkind != USN_TK_FINWAIT2 || !armed)
			usn_tcp_timer_arm(c, USN_TK_FINWAIT2, usn_tcp_finwait2_ms(c));
		return;
	}
	if ((c->keepalive_ms && c->state >= USN_TCP_ESTABLISHED) || usn_tcp_idle_deadline(c) != UINT64_MAX) {
		if (c->tkind != USN_TK_KEEPALIVE || !armed)
			usn_tcp_keepalive_arm(c, c->keepalive_ms ? c->last_rx_us + (uint64_t)c->keepalive_ms * 1000u : UINT64_MAX);
		return;
	}
	if (armed)
		usn_tcp_timer_stop(c);
}
