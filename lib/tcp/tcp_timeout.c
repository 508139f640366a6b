/* libusnet TCP timeouts (lib/tcp): what each timer does when it fires
 * (the wheel's calls): retransmission and back-off (RFC 6298), zero-window
 * probes, keepalive and the idle timeout, FIN-WAIT-2 and TIME-WAIT, the
 * delayed ACK and the application's deadline. A timer of a closed TCB
 * never fires (closing cancels all three); the application hears what a
 * timeout did once it is done (usn_tcp_events_run). */
#include <stddef.h>

#include "tcp/tcp_int.h"

#define CONN_OF(tm, field) ((struct usn_tcp_conn *)(void *)((char *)(tm)-offsetof(struct usn_tcp_conn, field)))

static void on_rto(struct usn_tcp_conn *c)
{
	const struct usn_stack_config *cfg = usn_tcp_tw(c->w)->cfg;
	bool syn = c->state == USN_TCP_SYN_SENT || c->state == USN_TCP_SYN_RECEIVED;
	uint32_t limit = syn ? cfg->tcp_syn_retries : cfg->tcp_max_retries;
	if (c->rtx_count >= limit) {
		/* After ICMP soft errors, say what the network said (RFC 1122
		 * 4.2.3.9: report them to the application). */
		usn_tcp_conn_close(c, (c->flags & USN_TF_SOFT_ERR) ? USN_TCP_CLOSE_UNREACHABLE : USN_TCP_CLOSE_TIMEOUT);
		return;
	}
	c->rtx_count++;
	c->w->stats.tcp_rto_fired++;
	/* The first timeout of an episode may prove spurious (a late ACK, not
	 * a loss): keep what undoing it restores (RFC 4015 step (0)). A later
	 * one keeps Eifel's RetransmitTS, the first retransmission's (RFC
	 * 3522), and ends F-RTO (RFC 5682 2.1: conventional recovery). */
	bool first = c->rtx_count == 1 && !syn;
	if (first) {
		c->undo_est_short = c->undo == USN_UNDO_RTT;
		usn_tcp_undo_save(c);
	}
	else if (c->undo != USN_UNDO_EIFEL)
		c->undo = USN_UNDO_NONE;
	/* RFC 6298 5.5: back off. */
	c->rto_ms = c->rto_ms * 2 > cfg->tcp_rto_max_ms ? cfg->tcp_rto_max_ms : c->rto_ms * 2;
	usn_tcp_cong_timeout(c);
	/* Go back N from the oldest unacknowledged byte (5.4). */
	c->snd_nxt = syn ? c->iss : c->snd_una;
	usn_tcp_timer_arm(c, USN_TK_RTO, c->rto_ms);
	uint32_t rtx_tsval = usn_tcp_ts_now(c);
	usn_tcp_output(c);
	if (!first || c->state == USN_TCP_CLOSED) /* output found no route */
		return;
	if (c->flags & USN_TF_TS) {
		c->undo = USN_UNDO_EIFEL; /* RFC 3522 step (1): RetransmitTS */
		c->undo_ts = rtx_tsval;
	} else if (SEQ_GT(c->snd_nxt, c->snd_una)) {
		c->undo = USN_UNDO_FRTO1; /* RFC 5682 2.1 step 1 */
		c->undo_end = c->snd_nxt;
	} else {
		c->undo = USN_UNDO_NONE;
	}
}

static void send_probe(struct usn_tcp_conn *c)
{
	/* An old sequence number the peer must answer with an ACK carrying
	 * its window (RFC 9293 3.8.6.1, RFC 1122 4.2.3.6). */
	(void)usn_tcp_send_seg(c, c->snd_una - 1, 0, USN_TCP_ACK, NULL);
}

/* Zero-window probing, bounded as Linux's tcp_probe_timer: probes_out
 * counts the probes not answered (any acceptable segment answers,
 * seg_accepted), rtx_count every probe since the window closed (only an
 * opening window or new data acknowledged resets it). A connection the
 * application has closed (usn_tcp_fin_wanted: data or FIN still to go) is
 * an orphan: nobody waits on the peer, so answers do not keep it. */
static void on_persist(struct usn_tcp_conn *c)
{
	const struct usn_stack_config *cfg = usn_tcp_tw(c->w)->cfg;
	bool orphan = usn_tcp_fin_wanted(c);
	if (c->probes_out >= cfg->tcp_probe_retries || (orphan && c->rtx_count >= cfg->tcp_orphan_probe_retries)) {
		c->w->stats.tcp_probe_timeouts++;
		usn_tcp_reset_close(c, USN_TCP_CLOSE_TIMEOUT);
		return;
	}
	send_probe(c);
	c->w->stats.tcp_zero_window_probes++;
	if (c->probes_out < UINT8_MAX)
		c->probes_out++;
	if (c->rtx_count < UINT8_MAX)
		c->rtx_count++;
	usn_tcp_timer_arm(c, USN_TK_PERSIST, usn_tcp_backoff_ms(c, c->rto_ms));
}

static void on_keepalive(struct usn_tcp_conn *c)
{
	if (c->w->now_us >= usn_tcp_idle_deadline(c)) {
		/* Idle timeout (slowloris): RST, as usn_tcp_abort, then TIMEOUT. */
		c->w->stats.tcp_idle_timeouts++;
		usn_tcp_reset_close(c, USN_TCP_CLOSE_TIMEOUT);
		return;
	}
	if (!c->keepalive_ms) {
		usn_tcp_timer_update(c, false); /* early: data came in meanwhile */
		return;
	}
	uint64_t idle_until = c->last_rx_us + (uint64_t)c->keepalive_ms * 1000u;
	if (c->w->now_us < idle_until) {
		c->probes_out = 0;
		usn_tcp_keepalive_arm(c, idle_until);
		return;
	}
	if (c->probes_out >= USN_TCP_KEEPALIVE_PROBES) {
		usn_tcp_conn_close(c, USN_TCP_CLOSE_TIMEOUT);
		return;
	}
	c->probes_out++;
	send_probe(c);
	uint32_t intvl = c->keepalive_ms < 75000 ? c->keepalive_ms : 75000;
	usn_tcp_keepalive_arm(c, c->w->now_us + (uint64_t)intvl * 1000u);
}

void usn_tcp_timer_fn(struct usn_timer *tm, void *ctx)
{
	(void)ctx;
	struct usn_tcp_conn *c = CONN_OF(tm, timer);
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	enum usn_tcp_tkind k = (enum usn_tcp_tkind)c->tkind;
	c->tkind = USN_TK_NONE;
	switch (k) {
	case USN_TK_RTO:
		on_rto(c);
		break;
	case USN_TK_PERSIST:
		on_persist(c);
		break;
	case USN_TK_KEEPALIVE:
		on_keepalive(c);
		break;
	case USN_TK_TIMEWAIT:
		usn_tcp_conn_close(c, USN_TCP_CLOSE_NORMAL);
		break;
	case USN_TK_FINWAIT2: {
		/* An idle limit, not a deadline: the peer may still be sending
		 * (our close is a half-close). Only new data restarts it, not
		 * duplicates or junk (last_progress_us). */
		uint64_t until = c->last_progress_us + (uint64_t)usn_tcp_finwait2_ms(c) * 1000u;
		if (c->w->now_us < until) {
			c->tkind = USN_TK_FINWAIT2;
			usn_timer_arm(&c->w->wheel, &c->timer, until);
		} else {
			usn_tcp_conn_close(c, USN_TCP_CLOSE_TIMEOUT);
		}
		break;
	}
	case USN_TK_NONE:
		break;
	}
	usn_tcp_events_run(t);
}

void usn_tcp_delack_fn(struct usn_timer *tm, void *ctx)
{
	(void)ctx;
	struct usn_tcp_conn *c = CONN_OF(tm, delack);
	c->flags |= USN_TF_ACK_NOW;
	usn_tcp_output(c);
	usn_tcp_events_run(usn_tcp_tw(c->w));
}

void usn_tcp_deadline_fn(struct usn_timer *tm, void *ctx)
{
	(void)ctx;
	struct usn_tcp_conn *c = CONN_OF(tm, deadline);
	/* The application's deadline (usn_tcp_set_deadline): whatever the
	 * peer sent meanwhile, RST and TIMEOUT, as the idle timeout. */
	c->w->stats.tcp_deadline_timeouts++;
	usn_tcp_reset_close(c, USN_TCP_CLOSE_TIMEOUT);
	usn_tcp_events_run(usn_tcp_tw(c->w));
}
