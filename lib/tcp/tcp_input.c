/* libusnet TCP input: parse and verify a segment, find its connection (or
 * listener), then RFC 9293 3.10.7: LISTEN and SYN-SENT processing, and for
 * the other states the acceptability check (3.10.7.4) followed by one switch
 * on the state. RFC 5961 hardening, RFC 7323 PAWS, RFC 2018 SACK and the
 * bounded out-of-order queue live here too. */
#include <errno.h>
#include <string.h>

#include "core/buf.h"
#include "net/net.h"
#include "tcp/tcp_int.h"

/* One received segment. */
struct seg {
	struct usn_tcp_repr r;
	struct usn_tcp_ends e;	   /* its addresses (e.v6: a6 below, for IPv6) */
	struct usn_tcp_addr6 a6;
	struct usn_cursor data; /* payload */
	uint32_t len;           /* payload bytes */
	struct usn_buf *frame;  /* NULL once the OOO queue keeps it */
	bool text_dropped;      /* our window was zero: payload (and FIN) not taken */
	uint16_t segs;          /* segments it stands for (a coalesced one: several) */
	uint16_t dupacks;       /* duplicate ACKs owed: one per segment out of order */
};

static inline uint32_t seg_len(const struct seg *s)
{
	return s->len + ((s->r.flags & USN_TCP_SYN) ? 1 : 0) + ((s->r.flags & USN_TCP_FIN) ? 1 : 0);
}

/* ---- option negotiation ---- */

static uint8_t rcv_wscale_for(const struct usn_stack_config *cfg)
{
	uint8_t s = 0;
	while ((cfg->tcp_rcv_wnd >> s) > 65535u && s < USN_TCP_MAX_WSCALE)
		s++;
	return s;
}

/* The send MSS: the peer's, within the path's (usn_tcp_conn_init set
 * c->smss from it; an ICMP error since may only have lowered it). */
static void set_smss(struct usn_tcp_conn *c, uint16_t peer_mss)
{
	uint16_t m = c->smss;
	if (peer_mss < m)
		m = peer_mss;
	if (m < 64)
		m = 64; /* a tiny MSS would make every byte a frame */
	c->smss = m;
}

/* Options from the peer's SYN, as far as our configuration agrees; in
 * SYN-SENT the flags already say what we offered. */
static void opts_from_syn(struct usn_tcp_conn *c, const struct usn_tcp_repr *r)
{
	const struct usn_stack_config *cfg = usn_tcp_tw(c->w)->cfg;
	set_smss(c, r->has_mss ? r->mss : 536); /* RFC 9293 3.7.1 default */
	if (r->has_ts && !cfg->tcp_no_timestamps && (c->flags & USN_TF_TS)) {
		c->ts_recent = r->ts_val;
		c->ts_recent_us = c->w->now_us;
	} else {
		c->flags &= (uint16_t)~USN_TF_TS;
	}
	if (!(r->sack_permitted && !cfg->tcp_no_sack))
		c->flags &= (uint16_t)~USN_TF_SACK;
	if (r->has_wscale && !cfg->tcp_no_wscale && (c->flags & USN_TF_WSCALE)) {
		c->snd_wscale = r->wscale > USN_TCP_MAX_WSCALE ? USN_TCP_MAX_WSCALE : r->wscale;
		c->rcv_wscale = rcv_wscale_for(cfg);
	} else {
		c->flags &= (uint16_t)~USN_TF_WSCALE;
		c->snd_wscale = c->rcv_wscale = 0;
	}
}

/* In-order data taken: RCV.NXT moves on now; the application gets it once
 * the segment is done (tcp_event.c). */
static void take(struct usn_tcp_conn *c, uint32_t len)
{
	c->rcv_nxt += len;
	c->last_progress_us = c->w->now_us; /* new in-order data: progress */
	c->bytes_received += len;
	c->w->stats.tcp_rx_bytes += len;
}

/* RFC 9293 3.10.7.4 seventh and eighth: text and FIN. Returns true when
 * the FIN was reached in order. */
static bool process_data(struct usn_tcp_conn *c, struct seg *s)
{
	uint32_t seq = s->r.seq, len = s->len;
	bool fin = (s->r.flags & USN_TCP_FIN) != 0;
	struct usn_cursor d = s->data;
	if (len == 0 && !fin)
		return false;
	if (s->text_dropped) {
		c->flags |= USN_TF_ACK_NOW; /* tell the peer the window is still 0 */
		return false;
	}
	if (c->flags & USN_TF_FIN_RCVD) {
		c->flags |= USN_TF_ACK_NOW; /* a retransmitted FIN: ACK it again */
		return false;
	}
	if (SEQ_LT(seq, c->rcv_nxt)) {
		uint32_t dup = c->rcv_nxt - seq;
		if (dup > len) {
			/* all old, FIN included (it was never accepted, so fin here
			 * means the segment ended before rcv_nxt) */
			c->flags |= USN_TF_ACK_NOW;
			return false;
		}
		d = usn_cursor_drop(d, dup);
		len -= dup;
		seq = c->rcv_nxt;
		if (len == 0 && !fin) {
			c->flags |= USN_TF_ACK_NOW;
			return false;
		}
	}
	if (SEQ_GT(seq + len, c->rcv_adv)) {
		len = SEQ_GT(c->rcv_adv, seq) ? c->rcv_adv - seq : 0;
		d = usn_cursor_take(d, len);
		fin = false;
	}
	if (seq != c->rcv_nxt) {
		/* RFC 5681 4.2 / RFC 2018: out of order, ACK at once with SACK:
		 * one duplicate ACK per segment, a coalesced one's too (its
		 * sender may count duplicate ACKs, not SACKed segments). */
		usn_tcp_ooo_insert(c, &s->frame, seq, len, fin, d);
		c->flags |= USN_TF_ACK_NOW;
		s->dupacks = s->segs;
		return false;
	}
	bool had_ooo = c->ooo != NULL;
	if (len) {
		take(c, len);
		usn_tcp_ev_recv(c, d);
	}
	while (!fin && c->ooo && SEQ_LEQ(c->ooo->seq, c->rcv_nxt)) {
		/* Now contiguous: off the queue, to the application after the
		 * segment's own bytes (from what they overlap on), then freed. */
		struct usn_tcp_ooo_rec *q = c->ooo;
		uint32_t qs = q->seq, ql = q->len;
		bool qfin = q->fin;
		c->ooo = q->next;
		c->ooo_n--;
		c->ooo_bytes -= ql;
		if (SEQ_GT(qs + ql, c->rcv_nxt)) {
			uint16_t skip = (uint16_t)(c->rcv_nxt - qs);
			q->seq += skip;
			q->len = (uint16_t)(q->len - skip);
			q->skip = (uint16_t)(q->skip + skip);
			take(c, q->len);
			usn_tcp_ev_recv_rec(c, q);
		} else {
			usn_tcp_ooo_release(c, q);
		}
		if (qfin && qs + ql == c->rcv_nxt)
			fin = true;
	}
	if (fin) {
		c->rcv_nxt++;
		c->last_progress_us = c->w->now_us;
		c->flags |= USN_TF_FIN_RCVD;
		usn_tcp_ooo_free(c);
	}
	/* RFC 5681 4.2 / RFC 9293 3.8.6.3: at once when a gap was filled or on
	 * FIN; after two full-size segments, at the end of this poll round;
	 * else delayed.
	 * The "ACK at least every second full-sized segment" of RFC 5681 4.2
	 * is a SHOULD. In-order data that reaches two full-size segments is
	 * ACKed once, at the flush after the RX burst (usn_tcp_worker_flush),
	 * with all the burst brought: on our data if any goes out, else as a
	 * pure ACK. A stretch ACK, as Linux sends after GRO/LRO aggregation. Each ACK frame costs both ends a frame's
	 * work (over a veth with AF_XDP, about a fifth of each side's core for
	 * an ACK per two segments); the delay is bounded by one poll round
	 * (USN_RX_BURST frames), so the ACK clock and RTT samples (which echo
	 * the first segment's TSval, RFC 7323 4.3) barely change. Senders count
	 * the bytes a stretch ACK covers (RFC 3465, usn_tcp_cong_ack).
	 * Anything that must not wait or merge (out-of-order, gap filled, FIN,
	 * duplicates) is USN_TF_ACK_NOW, sent before the next segment. */
	uint32_t full = usn_tcp_tw(c->w)->mss_local[usn_tcp_fam(c)] - ((c->flags & USN_TF_TS) ? 12u : 0u);
	if (had_ooo || fin) {
		c->flags |= USN_TF_ACK_NOW;
	} else if (c->rcv_nxt - c->last_ack_sent >= 2 * full) {
		c->ack_soon = true;
		usn_tcp_pending(c);
	} else if (!usn_timer_armed(&c->delack)) {
		usn_timer_arm(&c->w->wheel, &c->delack, c->w->now_us + (uint64_t)usn_tcp_tw(c->w)->cfg->tcp_delack_ms * 1000u);
	}
	return fin;
}

/* A segment that passed every check (PAWS, sequence number, RST, SYN and
 * the ACK): the only kind that may move TS.Recent, and the only kind that
 * shows the peer alive (keepalive). RFC 7323 4.3 updates TS.Recent from a
 * segment covering Last.ACK.sent; doing it before the ACK is validated
 * (as Linux did until 2013) let one in-window segment with an unacceptable
 * ACK and a far-future TSval make every later genuine segment fail PAWS. */
static void seg_accepted(struct usn_tcp_conn *c, const struct seg *s)
{
	const struct usn_tcp_repr *r = &s->r;
	if ((c->flags & USN_TF_TS) && r->has_ts && SEQ_LEQ(r->seq, c->last_ack_sent) && SEQ_GEQ(r->ts_val, c->ts_recent)) {
		c->ts_recent = r->ts_val;
		c->ts_recent_us = c->w->now_us;
	}
	c->last_rx_us = c->w->now_us;
	c->probes_out = 0;
}

/* ---- ACK processing (RFC 9293 3.10.7.4 fifth; RFC 5961 5; RFC 5681) ---- */

enum ack_result { ACK_DROP, ACK_OK };

/* An RTT sample; `fresh`: it times a segment sent after a spurious RTO was
 * undone, and re-initialises the estimator (RFC 4015 step (5)). */
static void rtt_take(struct usn_tcp_conn *c, uint32_t rtt_us, bool fresh)
{
	if (c->undo == USN_UNDO_RTT && fresh)
		usn_tcp_rtt_reinit(c, rtt_us);
	else
		usn_tcp_rtt_sample(c, rtt_us);
}

/* Whether this ACK of new data proves the last RTO spurious: Eifel (RFC
 * 3522 step (4)): it echoes a TSval older than the first retransmission's,
 * so the original transmission got through and only its ACK was late;
 * F-RTO (RFC 5682 2.1): the second ACK after the retransmission advances
 * the window past what was retransmitted. The first F-RTO ACK (step 2)
 * returns false and leaves USN_UNDO_FRTO1 for frto_step2; anything else
 * ends the episode as a genuine loss (today's recovery goes on). */
static bool rto_spurious(struct usn_tcp_conn *c, const struct usn_tcp_repr *r)
{
	switch ((enum usn_tcp_undo)c->undo) {
	case USN_UNDO_EIFEL:
		if (r->has_ts && r->ts_ecr && SEQ_LT(r->ts_ecr, c->undo_ts))
			return true;
		c->undo = USN_UNDO_NONE;
		return false;
	case USN_UNDO_FRTO1:
		/* 2a: short of the retransmission's end, or all of the flight
		 * (ambiguous: the retransmission may have filled the only hole) */
		if (SEQ_LT(r->ack, c->undo_end) || SEQ_GEQ(r->ack, c->recover))
			c->undo = USN_UNDO_NONE;
		return false;
	case USN_UNDO_FRTO2:
		return true; /* 3b */
	case USN_UNDO_NONE:
	case USN_UNDO_RTT:
		break;
	}
	return false;
}

/* F-RTO step 2b (RFC 5682 2.1): the first ACK after the RTO retransmission
 * acknowledged it and more, but not all: two new segments instead of going
 * back, whose ACK (or duplicate) decides. Without new data to send, or
 * window for it, the conventional recovery goes on. */
static void frto_step2(struct usn_tcp_conn *c)
{
	uint32_t flight = usn_tcp_flight(c);
	if (SEQ_LT(c->snd_max, usn_tcp_data_end(c)) && c->snd_wnd > flight) {
		c->snd_nxt = c->snd_max;
		c->cwnd = flight + 2 * usn_tcp_maxseg(c);
		c->undo = USN_UNDO_FRTO2;
	} else {
		c->undo = USN_UNDO_NONE;
	}
}

/* F-RTO and a duplicate ACK (RFC 5682 2.1 steps 2a and 3a): the timeout
 * was genuine. After step 2 the two new segments stand in for the ACK
 * clock: go back from SND.UNA with 1 MSS (the RFC allows up to 3, two of
 * which they hold). */
static void frto_dupack(struct usn_tcp_conn *c)
{
	if (c->undo == USN_UNDO_FRTO2) {
		c->snd_nxt = c->snd_una;
		c->cwnd = usn_tcp_maxseg(c);
	}
	if (c->undo == USN_UNDO_FRTO1 || c->undo == USN_UNDO_FRTO2)
		c->undo = USN_UNDO_NONE;
}

/* The peer's window from this segment, if it is newer than the one held:
 * RFC 9293 3.10.7.4's test (SND.WL1 < SEG.SEQ, or = and SND.WL2 =<
 * SEG.ACK), or the segment acknowledged new data (acked_new), as Linux's
 * tcp_may_update_window. SND.WND counts from SND.UNA: a segment that
 * moved SND.UNA and kept the old window would move the peer's right edge
 * by what it acked. That happens when the peer's retransmission (SEG.SEQ
 * below SND.WL1, which its pure ACK at its SND.MAX set) carries a newer
 * ACK: we sent past what the peer offered, it dropped those bytes, and
 * our ACKs at SND.MAX outside its window with them; with both ends in
 * that state neither took the other's ACKs until their retransmissions
 * gave up. Its window is the peer's offer as of its own ACK field, and a
 * receiver's edge never moves left: taking it never overshoots. */
static void update_window(struct usn_tcp_conn *c, const struct seg *s, bool acked_new)
{
	const struct usn_tcp_repr *r = &s->r;
	if (acked_new || SEQ_LT(c->snd_wl1, r->seq) || (c->snd_wl1 == r->seq && SEQ_LEQ(c->snd_wl2, r->ack))) {
		uint32_t nw = (uint32_t)r->window << c->snd_wscale;
		bool opened = c->snd_wnd == 0 && nw > 0;
		c->snd_wnd = nw;
		if (nw > c->max_snd_wnd)
			c->max_snd_wnd = nw;
		c->snd_wl1 = r->seq;
		c->snd_wl2 = r->ack;
		if (opened) {
			c->rtx_count = 0;
			if (c->tkind == USN_TK_PERSIST)
				usn_tcp_timer_stop(c);
			c->flags |= USN_TF_WND_ZERO; /* tells process_ack to announce it */
		}
	}
}

static enum ack_result process_ack(struct usn_tcp_conn *c, struct seg *s, bool *fin_acked)
{
	const struct usn_tcp_repr *r = &s->r;
	struct usn_worker *w = c->w;
	*fin_acked = false;
	/* RFC 5961 5.2: acceptable if SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT
	 * (SND.MAX here: after a timeout snd_nxt went back). */
	if (SEQ_GT(r->ack, c->snd_max)) {
		w->stats.drop_tcp_not_acceptable++;
		usn_tcp_challenge_ack(c);
		return ACK_DROP;
	}
	if (SEQ_LT(r->ack, c->snd_una - c->max_snd_wnd)) {
		w->stats.drop_tcp_not_acceptable++;
		usn_tcp_challenge_ack(c);
		return ACK_DROP;
	}
	seg_accepted(c, s);
	uint32_t old_wnd = c->snd_wnd;
	bool sacked_more = usn_tcp_sack_update(c, r);
	if (SEQ_LEQ(r->ack, c->snd_una)) {
		/* RFC 5681 2: a duplicate ACK carries no data, no SYN/FIN, the
		 * same window, and arrives while data is outstanding; RFC 6675 2:
		 * with SACK, so does one that SACKs new bytes, data or not (the
		 * peer's ACKs ride on its data when both ends send, and none
		 * counted: every loss waited for the RTO). */
		bool dup = r->ack == c->snd_una && c->snd_max != c->snd_una &&
			   ((s->len == 0 && !(r->flags & (USN_TCP_SYN | USN_TCP_FIN)) &&
			     ((uint32_t)r->window << c->snd_wscale) == old_wnd) ||
			    sacked_more);
		update_window(c, s, false);
		uint32_t from;
		if (dup) {
			frto_dupack(c);
			if (usn_tcp_cong_dupack(c, &from))
				usn_tcp_rexmit(c, from);
		}
		else if (r->ack == c->snd_una && !(c->flags & USN_TF_RECOVERY))
			c->dupacks = 0;
		if (c->flags & USN_TF_WND_ZERO) {
			c->flags &= (uint16_t)~USN_TF_WND_ZERO;
			usn_tcp_ev_sent(c, 0); /* the window opened: sent_fn(0) */
		}
		return ACK_OK;
	}
	/* New data acknowledged. */
	uint32_t acked = r->ack - c->snd_una;
	uint32_t data_acked = acked < c->sq_bytes ? acked : c->sq_bytes;
	bool fin_sent = (c->state == USN_TCP_FIN_WAIT_1 || c->state == USN_TCP_CLOSING || c->state == USN_TCP_LAST_ACK);
	if (fin_sent && acked > c->sq_bytes)
		*fin_acked = true;
	bool spurious = rto_spurious(c, r);
	/* RTT (RFC 7323 4.1 with timestamps, else the timed segment; Karn).
	 * An echo older than our latest retransmission (rtt_start_us) is not
	 * taken: a peer that already held the data answers the repeat with
	 * the TS.Recent of the original (RFC 7323 4.3), and the "RTT" would be
	 * the whole outage (an 18 s sample after lost ACKs kept the RTO at the
	 * 60 s ceiling); Karn's rule, applied to the echo. */
	if ((c->flags & USN_TF_TS) && r->has_ts && r->ts_ecr) {
		uint32_t ms = usn_tcp_ts_now(c) - r->ts_ecr;
		uint32_t rtx_tsval = (uint32_t)(c->rtt_start_us / 1000u) + c->ts_offset;
		bool stale = w->now_us - c->rtt_start_us < 600000000u && SEQ_LT(r->ts_ecr, rtx_tsval);
		if (ms < 600000u && !stale)
			rtt_take(c, ms * 1000u, SEQ_GEQ(r->ts_ecr, c->undo_ts));
	} else if ((c->flags & USN_TF_RTT_TIMING) && SEQ_GT(r->ack, c->rtt_seq)) {
		c->flags &= (uint16_t)~USN_TF_RTT_TIMING;
		rtt_take(c, (uint32_t)(w->now_us - c->rtt_start_us), true);
	}
	/* The send queue is addressed from snd_una: release in the same step. */
	c->snd_una = r->ack;
	c->last_progress_us = w->now_us; /* new data (or FIN) of ours acked */
	c->flags &= (uint16_t)~USN_TF_SOFT_ERR; /* the path works again (as Linux clears sk_err_soft) */
	if (data_acked)
		usn_tcp_sq_release(c, data_acked);
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	bool timed_out = c->rtx_count != 0;
	c->rtx_count = 0;
	usn_tcp_sack_prune(c);
	if (spurious) {
		usn_tcp_undo_rto(c, acked); /* RFC 4015 */
	} else {
		if (timed_out)
			usn_tcp_rto_collapse(c); /* a retransmission got through */
		if (c->flags & USN_TF_RECOVERY) {
			uint32_t from;
			if (usn_tcp_cong_recovery_ack(c, acked, &from))
				usn_tcp_rexmit(c, from);
		} else {
			c->dupacks = 0;
			usn_tcp_cong_ack(c, acked);
		}
	}
	update_window(c, s, true);
	if (c->undo == USN_UNDO_FRTO1)
		frto_step2(c);
	c->flags &= (uint16_t)~USN_TF_WND_ZERO;
	usn_tcp_timer_update(c, true);
	if (data_acked) {
		c->bytes_acked += data_acked;
		usn_tcp_ev_sent(c, data_acked);
	}
	return ACK_OK;
}

/* ---- connection set-up ---- */

static void establish(struct usn_tcp_conn *c)
{
	usn_tcp_cong_init(c);
	usn_tcp_set_state(c, USN_TCP_ESTABLISHED);
	c->flags |= USN_TF_ANNOUNCED;
	usn_tcp_ev_post(c, USN_EV_CONNECTED);
	if (c->flags & USN_TF_CLOSE_REQ) {
		c->flags &= (uint16_t)~USN_TF_CLOSE_REQ;
		(void)usn_tcp_conn_shutdown(c);
	}
}

static struct usn_tcp_conn *new_passive(struct usn_worker *w, const struct usn_tcp_listener *l, const struct seg *s)
{
	struct usn_tcp_conn *c = usn_tcp_conn_alloc(w);
	if (!c)
		return NULL;
	usn_tcp_conn_init(c, &s->e, s->r.dst_port, s->r.src_port);
	c->h = l->h;
	c->user = l->user;
	c->flags |= USN_TF_PASSIVE;
	c->irs = s->r.seq;
	c->rcv_nxt = s->r.seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->last_ack_sent = c->rcv_nxt;
	c->snd_wl1 = s->r.seq;
	usn_tcp_table_insert(usn_tcp_tw(w), c);
	return c;
}

/* A SYN-ACK whose ISN is a SYN cookie (RFC 4987 3.6): nothing is kept until
 * the ACK comes back with it. Sent when the half-open table is full (the
 * RFC's case), and also when no TCB is free: a SYN then costs no state, and
 * the connection is made from the ACK if a TCB has come free by then. Both
 * move cookie_last_us, which opens the ACK check for as long as a cookie
 * can be valid (the minute it was made and the next, so 120 s covers
 * every live cookie whichever reason sent it). */
static void send_cookie_synack(struct usn_worker *w, struct seg *s)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	const struct usn_stack_config *cfg = t->cfg;
	const struct usn_tcp_repr *r = &s->r;
	struct usn_tcp_repr o;
	uint16_t mss;
	memset(&o, 0, sizeof o);
	o.src_port = r->dst_port;
	o.dst_port = r->src_port;
	o.seq = usn_tcp_cookie_make(t, &s->e, r->dst_port, r->src_port, r->seq, r->has_mss ? r->mss : 536, &mss);
	o.ack = r->seq + 1;
	o.flags = USN_TCP_SYN | USN_TCP_ACK;
	o.window = (uint16_t)(cfg->tcp_rcv_wnd > 65535 ? 65535 : cfg->tcp_rcv_wnd);
	o.has_mss = true;
	o.mss = t->mss_local[s->e.v6 != NULL];
	if (r->has_ts && !cfg->tcp_no_timestamps) {
		/* Without timestamps there is nowhere to keep wscale and
		 * SACK-permitted, so they are not offered (as Linux). */
		bool ws = r->has_wscale && !cfg->tcp_no_wscale;
		bool sack = r->sack_permitted && !cfg->tcp_no_sack;
		uint8_t pws = r->wscale > USN_TCP_MAX_WSCALE ? USN_TCP_MAX_WSCALE : r->wscale;
		uint32_t now = (uint32_t)(w->now_us / 1000u) + usn_tcp_ts_offset(t, &s->e, r->dst_port, r->src_port);
		o.has_ts = true;
		o.ts_val = usn_tcp_cookie_ts(now, ws ? pws : 15, sack);
		o.ts_ecr = r->ts_val;
		o.has_wscale = ws;
		o.wscale = rcv_wscale_for(cfg);
		o.sack_permitted = sack;
	}
	t->cookie_last_us = w->now_us ? w->now_us : 1;
	w->stats.tcp_syncookies_sent++;
	(void)usn_tcp_send_raw(w, &s->e, &o);
}

/* RFC 9293 3.10.7.2 LISTEN, with SYN cookies (RFC 4987) past the backlog
 * and when the TCB pool is empty. */
static void input_listen(struct usn_worker *w, const struct usn_tcp_listener *l, struct seg *s)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	const struct usn_tcp_repr *r = &s->r;
	if (r->flags & USN_TCP_RST) {
		w->stats.drop_tcp_no_conn++;
		return;
	}
	if (r->flags & USN_TCP_ACK) {
		uint16_t mss;
		if (!(r->flags & USN_TCP_SYN) && t->cookie_last_us && w->now_us - t->cookie_last_us < 120000000u) {
			if (usn_tcp_cookie_check(t, &s->e, r->dst_port, r->src_port, r->seq - 1, r->ack - 1, &mss)) {
				struct usn_tcp_conn *c = new_passive(w, l, s);
				if (!c) {
					/* Still no TCB (TIME-WAIT recycled first, by
					 * usn_tcp_conn_alloc): drop without an answer.
					 * The client believes it is connected and
					 * retransmits its data (or this ACK, with its
					 * first data), each a valid cookie again;
					 * nothing established is touched. */
					w->stats.drop_tcp_cookie_pool_full++;
					return;
				}
				w->stats.tcp_syncookies_ok++;
				w->stats.tcp_passive_opens++;
				const struct usn_stack_config *cfg = t->cfg;
				c->irs = r->seq - 1;
				c->rcv_nxt = c->rcv_adv = c->last_ack_sent = r->seq;
				c->iss = r->ack - 1;
				c->snd_una = c->snd_nxt = c->snd_max = r->ack;
				c->recover = c->snd_una;
				set_smss(c, mss);
				c->flags &= (uint16_t)~(USN_TF_TS | USN_TF_SACK | USN_TF_WSCALE);
				c->snd_wscale = c->rcv_wscale = 0;
				if (r->has_ts && !cfg->tcp_no_timestamps) {
					bool ws, sack;
					uint8_t wsv;
					usn_tcp_cookie_ts_opts(r->ts_ecr, &wsv, &ws, &sack);
					c->flags |= USN_TF_TS;
					c->ts_recent = r->ts_val;
					c->ts_recent_us = w->now_us;
					if (sack && !cfg->tcp_no_sack)
						c->flags |= USN_TF_SACK;
					if (ws && !cfg->tcp_no_wscale) {
						c->flags |= USN_TF_WSCALE;
						c->snd_wscale = wsv;
						c->rcv_wscale = rcv_wscale_for(cfg);
					}
				}
				c->rcv_adv = c->rcv_nxt + (cfg->tcp_rcv_wnd > 65535 ? 65535 : cfg->tcp_rcv_wnd);
				c->snd_wnd = (uint32_t)r->window << c->snd_wscale;
				c->max_snd_wnd = c->snd_wnd;
				c->snd_wl1 = r->seq;
				c->snd_wl2 = r->ack;
				establish(c);
				if ((s->len || (r->flags & USN_TCP_FIN)) && process_data(c, s)) {
					usn_tcp_set_state(c, USN_TCP_CLOSE_WAIT);
					usn_tcp_ev_post(c, USN_EV_REMOTE_CLOSED);
				}
				usn_tcp_pending(c);
				return;
			}
			w->stats.tcp_syncookies_bad++;
		}
		w->stats.drop_tcp_no_conn++;
		usn_tcp_send_rst_for(w, &s->e, r, seg_len(s));
		return;
	}
	if (!(r->flags & USN_TCP_SYN)) {
		w->stats.drop_tcp_no_conn++;
		return;
	}
	const struct usn_stack_config *cfg = t->cfg;
	if (t->half_open >= cfg->tcp_syn_backlog) {
		w->stats.tcp_syncookies_backlog_full++;
		send_cookie_synack(w, s);
		return;
	}
	struct usn_tcp_conn *c = new_passive(w, l, s);
	if (!c) {
		/* No TCB free, TIME-WAIT's recycled included: answer with a
		 * cookie rather than drop the SYN (the client would wait a
		 * whole SYN timeout, 1 s, to try again). */
		w->stats.tcp_syncookies_pool_full++;
		send_cookie_synack(w, s);
		return;
	}
	c->flags |= USN_TF_TS | USN_TF_SACK | USN_TF_WSCALE;
	opts_from_syn(c, r);
	c->snd_wnd = r->window; /* RFC 7323 2.2: a SYN's window is not scaled */
	c->max_snd_wnd = c->snd_wnd;
	c->rcv_adv = c->rcv_nxt + (cfg->tcp_rcv_wnd > 65535 ? 65535 : cfg->tcp_rcv_wnd);
	usn_tcp_set_state(c, USN_TCP_SYN_RECEIVED);
	w->stats.tcp_passive_opens++;
	usn_tcp_pending(c);
}

/* The RTT from the ACK of our SYN or SYN,ACK. An echoed timestamp names
 * the transmission it answers, so it counts after a retransmission too
 * (RFC 7323 4.1; Karn's rule is for the timed segment), if it echoes the
 * latest one (rtt_start_us): an echo of an earlier one, from a peer whose
 * TS.Recent a repeat did not update, would be a timeout, not an RTT, and
 * would hold the RTO up for the whole of a short connection. Without a
 * sample after a retransmission, RFC 6298 5.7: 3 s. */
static void handshake_rtt(struct usn_tcp_conn *c, const struct usn_tcp_repr *r)
{
	uint32_t last_tsval = (uint32_t)(c->rtt_start_us / 1000u) + c->ts_offset;
	if ((c->flags & USN_TF_RTT_TIMING) && c->rtx_count == 0)
		usn_tcp_rtt_sample(c, (uint32_t)(c->w->now_us - c->rtt_start_us));
	else if ((c->flags & USN_TF_TS) && r->has_ts && r->ts_ecr && SEQ_GEQ(r->ts_ecr, last_tsval) &&
		 usn_tcp_ts_now(c) - r->ts_ecr < 600000u)
		usn_tcp_rtt_sample(c, (usn_tcp_ts_now(c) - r->ts_ecr) * 1000u);
	else if (c->rtx_count)
		c->rto_ms = 3000;
	c->flags &= (uint16_t)~USN_TF_RTT_TIMING;
}

/* RFC 9293 3.10.7.3 SYN-SENT. */
static void input_syn_sent(struct usn_tcp_conn *c, struct seg *s)
{
	const struct usn_tcp_repr *r = &s->r;
	struct usn_worker *w = c->w;
	bool ack_ok = false;
	if (r->flags & USN_TCP_ACK) {
		if (SEQ_LEQ(r->ack, c->iss) || SEQ_GT(r->ack, c->snd_max)) {
			w->stats.drop_tcp_not_acceptable++;
			usn_tcp_send_rst_for(w, &s->e, r, seg_len(s));
			return;
		}
		ack_ok = true;
	}
	if (r->flags & USN_TCP_RST) {
		if (ack_ok) {
			w->stats.tcp_rst_rx++;
			usn_tcp_conn_close(c, USN_TCP_CLOSE_REFUSED);
		} else {
			w->stats.drop_tcp_not_acceptable++;
		}
		return;
	}
	if (!(r->flags & USN_TCP_SYN)) {
		w->stats.drop_tcp_not_acceptable++;
		return;
	}
	c->irs = r->seq;
	c->rcv_nxt = r->seq + 1;
	c->last_ack_sent = c->rcv_nxt;
	opts_from_syn(c, r);
	c->rcv_adv = c->rcv_nxt;
	c->rcv_adv = c->rcv_nxt + usn_tcp_rcv_window(c);
	c->snd_wnd = r->window;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = r->seq;
	c->snd_wl2 = r->ack;
	seg_accepted(c, s);
	if (ack_ok) {
		handshake_rtt(c, r);
		c->snd_una = r->ack;
		if (SEQ_LT(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		c->rtx_count = 0;
		usn_tcp_timer_stop(c);
		/* The ACK goes after connected_fn (usn_tcp_input), with
		 * whatever the application queues there. */
		c->flags |= USN_TF_ACK_NOW;
		establish(c);
		return;
	}
	/* Simultaneous open: SYN-RECEIVED, answer <SEQ=ISS><ACK=RCV.NXT><SYN,ACK>. */
	usn_tcp_set_state(c, USN_TCP_SYN_RECEIVED);
	c->snd_nxt = c->iss;
	usn_tcp_output(c);
}

/* RFC 6191-style TIME-WAIT reuse (as Linux's tcp_timewait_state_process):
 * a new SYN is welcome when its timestamp is newer, or, its timestamp not
 * older (PAWS) or absent, when its ISN is beyond rcv_nxt. A SYN with the
 * same 1 ms timestamp was refused: a challenge ACK, the client's RST, and
 * its SYN again a second later. */
static bool timewait_reusable(const struct usn_tcp_conn *c, const struct seg *s)
{
	if ((c->flags & USN_TF_TS) && s->r.has_ts) {
		if (SEQ_GT(s->r.ts_val, c->ts_recent))
			return true;
		if (SEQ_LT(s->r.ts_val, c->ts_recent))
			return false;
	}
	return SEQ_GT(s->r.seq, c->rcv_nxt);
}

/* Whether to answer a segment dropped as out of the window or by PAWS. A
 * bare one (no data, SYN or FIN) is answered at most once per 500 ms, as
 * Linux's tcp_invalid_ratelimit: two ends that disagree about the sequence
 * space would otherwise trade ACKs at line rate. */
static bool oow_ack_allowed(struct usn_tcp_conn *c, uint32_t slen)
{
	return slen || usn_tcp_oow_ack_take(c);
}

/* RFC 9293 3.10.7.4: every state past SYN-SENT. */
static void input_sync(struct usn_tcp_conn *c, struct seg *s)
{
	struct usn_worker *w = c->w;
	const struct usn_tcp_repr *r = &s->r;
	uint32_t slen = seg_len(s);

	/* RFC 7323 5.3 R1: PAWS. */
	if ((c->flags & USN_TF_TS) && r->has_ts && !(r->flags & USN_TCP_RST) && SEQ_LT(r->ts_val, c->ts_recent)) {
		if (w->now_us - c->ts_recent_us > (uint64_t)USN_TCP_PAWS_IDLE_MS * 1000u) {
			c->ts_recent = r->ts_val; /* R3: idle more than 24 days */
		} else {
			w->stats.drop_tcp_paws++;
			if (oow_ack_allowed(c, slen))
				c->flags |= USN_TF_ACK_NOW;
			return;
		}
	}
	/* A retransmitted SYN in SYN-RECEIVED: send the SYN,ACK again. */
	if (c->state == USN_TCP_SYN_RECEIVED && (r->flags & USN_TCP_SYN) && !(r->flags & (USN_TCP_ACK | USN_TCP_RST)) &&
	    r->seq == c->irs) {
		/* RFC 7323 4.3 (SEG.SEQ =< Last.ACK.sent, PAWS passed): echo the
		 * repeat's timestamp, so the peer's RTT sample is not a timeout. */
		if ((c->flags & USN_TF_TS) && r->has_ts) {
			c->ts_recent = r->ts_val;
			c->ts_recent_us = w->now_us;
		}
		c->snd_nxt = c->iss;
		usn_tcp_pending(c);
		return;
	}

	/* First: sequence number acceptability (3.10.7.4 table). */
	uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	bool ok;
	if (slen == 0)
		ok = wnd == 0 ? r->seq == c->rcv_nxt : (SEQ_GEQ(r->seq, c->rcv_nxt) && SEQ_LT(r->seq, c->rcv_nxt + wnd));
	else
		ok = wnd != 0 && ((SEQ_GEQ(r->seq, c->rcv_nxt) && SEQ_LT(r->seq, c->rcv_nxt + wnd)) ||
				  (SEQ_GEQ(r->seq + slen - 1, c->rcv_nxt) && SEQ_LT(r->seq + slen - 1, c->rcv_nxt + wnd)));
	if (!ok && wnd == 0 && r->seq == c->rcv_nxt) {
		/* RFC 9293 3.10.7.4: with RCV.WND zero no segment is acceptable,
		 * "but special allowance should be made to accept valid ACKs,
		 * URGs, and RSTs". The peer's own zero-window probe carries a
		 * byte at RCV.NXT, and its ACK and window update were lost with
		 * it, so both ends could wait on each other. Its text (and a FIN
		 * after it) is dropped and ACKed; the rest is processed as for an
		 * empty segment. A bare FIN takes no room and is taken. */
		if (s->len) {
			s->text_dropped = true;
			w->stats.drop_tcp_zero_window++;
		}
		ok = true;
	}
	if (!ok) {
		w->stats.drop_tcp_not_acceptable++;
		if (r->flags & USN_TCP_RST)
			return;
		if (r->flags & USN_TCP_SYN) {
			usn_tcp_challenge_ack(c); /* RFC 5961 4.2 */
			return;
		}
		/* TIME-WAIT: a retransmission of the peer's FIN (it ends at
		 * RCV.NXT) restarts 2 MSL; any other FIN is junk and does not. */
		if (c->state == USN_TCP_TIME_WAIT && (r->flags & USN_TCP_FIN) && r->seq + slen == c->rcv_nxt)
			usn_tcp_timer_arm(c, USN_TK_TIMEWAIT, usn_tcp_tw(w)->cfg->tcp_timewait_ms);
		if (oow_ack_allowed(c, slen))
			c->flags |= USN_TF_ACK_NOW;
		return;
	}
	/* Second: RST (RFC 5961 3.2): exactly RCV.NXT resets, else challenge. */
	if (r->flags & USN_TCP_RST) {
		if (c->state == USN_TCP_TIME_WAIT) {
			/* RFC 1337 (TIME-WAIT assassination): an RST must not end
			 * TIME-WAIT early, or an old duplicate of this connection
			 * may be taken into its next incarnation. */
			w->stats.tcp_timewait_rst_ignored++;
			return;
		}
		if (r->seq != c->rcv_nxt) {
			w->stats.drop_tcp_not_acceptable++;
			usn_tcp_challenge_ack(c);
			return;
		}
		w->stats.tcp_rst_rx++;
		if (c->state == USN_TCP_SYN_RECEIVED && (c->flags & USN_TF_PASSIVE)) {
			usn_tcp_conn_close(c, USN_TCP_CLOSE_RESET); /* back to LISTEN: never announced */
		} else if (c->state == USN_TCP_SYN_RECEIVED) {
			usn_tcp_conn_close(c, USN_TCP_CLOSE_REFUSED);
		} else {
			w->stats.tcp_resets++;
			usn_tcp_conn_close(c, USN_TCP_CLOSE_RESET);
		}
		return;
	}
	/* Fourth: SYN in a synchronized state -> challenge ACK (RFC 5961 4.2). */
	if (r->flags & USN_TCP_SYN) {
		w->stats.drop_tcp_not_acceptable++;
		usn_tcp_challenge_ack(c);
		return;
	}
	/* Fifth: no ACK, drop. */
	if (!(r->flags & USN_TCP_ACK)) {
		w->stats.drop_tcp_not_acceptable++;
		return;
	}
	/* TS.Recent moves once the ACK is validated too (seg_accepted). */

	bool fin_acked = false;
	switch ((enum usn_tcp_state)c->state) {
	case USN_TCP_CLOSED:
	case USN_TCP_LISTEN:
	case USN_TCP_SYN_SENT:
	case USN_TCP_N_STATES:
		/* handled before the acceptability check */
		return;
	case USN_TCP_SYN_RECEIVED:
		/* 3.10.7.4 fifth, SYN-RECEIVED: an acceptable ACK establishes,
		 * anything else earns <SEQ=SEG.ACK><CTL=RST>. */
		if (!(SEQ_GT(r->ack, c->snd_una) && SEQ_LEQ(r->ack, c->snd_max))) {
			w->stats.drop_tcp_not_acceptable++;
			usn_tcp_send_rst_for(w, &s->e, r, slen);
			return;
		}
		seg_accepted(c, s);
		handshake_rtt(c, r);
		c->snd_una = r->ack;
		if (SEQ_LT(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una; /* a SYN,ACK repeat was still due */
		c->rtx_count = 0;
		c->snd_wnd = (uint32_t)r->window << c->snd_wscale;
		c->max_snd_wnd = c->snd_wnd;
		c->snd_wl1 = r->seq;
		c->snd_wl2 = r->ack;
		usn_tcp_timer_stop(c);
		establish(c);
		if (c->state != USN_TCP_ESTABLISHED) /* a close was asked for in SYN-RECEIVED */
			goto fin_wait_data;
		/* fall through: the rest of the segment as in ESTABLISHED */
		/* FALLTHROUGH */
	case USN_TCP_ESTABLISHED:
	case USN_TCP_CLOSE_PENDING:
		/* 3.10.7.4 fifth (ESTABLISHED), seventh, eighth */
		if (process_ack(c, s, &fin_acked) == ACK_DROP)
			return;
		if (process_data(c, s)) {
			usn_tcp_set_state(c, c->state == USN_TCP_CLOSE_PENDING ? USN_TCP_CLOSE_PENDING_RCVD_FIN : USN_TCP_CLOSE_WAIT);
			usn_tcp_ev_post(c, USN_EV_REMOTE_CLOSED);
		}
		return;
	case USN_TCP_CLOSE_WAIT:
	case USN_TCP_CLOSE_PENDING_RCVD_FIN:
		/* The peer's FIN is in: data cannot arrive, a FIN repeat is ACKed. */
		if (process_ack(c, s, &fin_acked) == ACK_DROP)
			return;
		if (slen)
			c->flags |= USN_TF_ACK_NOW;
		return;
	case USN_TCP_FIN_WAIT_1:
		/* fifth, FIN-WAIT-1: our FIN acked -> FIN-WAIT-2; eighth: their
		 * FIN -> TIME-WAIT if ours is acked, else CLOSING. */
		if (process_ack(c, s, &fin_acked) == ACK_DROP)
			return;
		if (fin_acked)
			usn_tcp_set_state(c, USN_TCP_FIN_WAIT_2);
	fin_wait_data:
		if (process_data(c, s)) {
			usn_tcp_ev_post(c, USN_EV_REMOTE_CLOSED);
			if (c->state == USN_TCP_FIN_WAIT_2)
				usn_tcp_enter_timewait(c);
			else if (c->state == USN_TCP_FIN_WAIT_1)
				usn_tcp_set_state(c, USN_TCP_CLOSING);
			else if (c->state == USN_TCP_CLOSE_PENDING)
				usn_tcp_set_state(c, USN_TCP_CLOSE_PENDING_RCVD_FIN);
		}
		return;
	case USN_TCP_FIN_WAIT_2:
		/* fifth, FIN-WAIT-2; eighth: FIN -> TIME-WAIT */
		if (process_ack(c, s, &fin_acked) == ACK_DROP)
			return;
		goto fin_wait_data;
	case USN_TCP_CLOSING:
		/* fifth, CLOSING: our FIN acked -> TIME-WAIT */
		if (process_ack(c, s, &fin_acked) == ACK_DROP)
			return;
		if (slen)
			c->flags |= USN_TF_ACK_NOW;
		if (fin_acked)
			usn_tcp_enter_timewait(c);
		return;
	case USN_TCP_LAST_ACK:
		/* fifth, LAST-ACK: our FIN acked -> CLOSED */
		if (process_ack(c, s, &fin_acked) == ACK_DROP)
			return;
		if (fin_acked)
			usn_tcp_conn_close(c, USN_TCP_CLOSE_NORMAL);
		else if (slen)
			c->flags |= USN_TF_ACK_NOW;
		return;
	case USN_TCP_TIME_WAIT:
		/* fifth/eighth, TIME-WAIT: a retransmitted FIN is ACKed and the
		 * 2 MSL timeout restarted. It ends at RCV.NXT, so it comes
		 * through the unacceptable branch above; a FIN in the window is
		 * no retransmission (the peer's FIN is behind RCV.NXT): ACKed,
		 * without restarting 2 MSL. */
		if (r->flags & USN_TCP_FIN)
			c->flags |= USN_TF_ACK_NOW;
		return;
	}
}

/* The segment's work: its connection's state, its data taken, what it owes
 * the peer (an ACK now, or output at the flush). Events are recorded, not
 * told: usn_tcp_input tells them once this returns. */
static void input_segment(struct usn_worker *w, struct seg *s)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	const struct usn_tcp_repr *r = &s->r;
	struct usn_tcp_conn *c = usn_tcp_table_find(t, &s->e, r->dst_port, r->src_port);
	if (c && c->state == USN_TCP_TIME_WAIT && (r->flags & USN_TCP_SYN) && !(r->flags & (USN_TCP_ACK | USN_TCP_RST)) &&
	    timewait_reusable(c, s) && usn_tcp_listener_find(w->stack, r->dst_port)) {
		w->stats.tcp_timewait_reused++;
		usn_tcp_conn_close(c, USN_TCP_CLOSE_NORMAL);
		c = NULL;
	}
	if (!c) {
		const struct usn_tcp_listener *l = usn_tcp_listener_find(w->stack, r->dst_port);
		if (l) {
			input_listen(w, l, s);
			return;
		}
		/* RFC 9293 3.10.7.1: CLOSED. */
		w->stats.drop_tcp_no_conn++;
		usn_tcp_send_rst_for(w, &s->e, r, seg_len(s));
		return;
	}
	/* The clocks a peer could otherwise keep running with junk (keepalive,
	 * idle timeout, FIN-WAIT-2) move only for segments that pass every
	 * check: seg_accepted, take, process_ack. */
	if (c->state == USN_TCP_SYN_SENT)
		input_syn_sent(c, s);
	else
		input_sync(c, s);
	if (c->state == USN_TCP_CLOSED)
		return; /* it ended here (RST, the last ACK, ...): nothing to send */
	if (c->flags & USN_TF_ACK_NOW) {
		/* Answered at once, once the application has seen the segment
		 * (its reply and close may ride on the ACK). */
		t->ack_conn = usn_tcp_idx(t, c);
		t->ack_dups = s->dupacks;
	} else {
		usn_tcp_pending(c);
	}
}

/* The ACK a segment owes now, after its events: duplicate ACKs must not
 * merge. The connection's end (an abort in a handler) takes it off. */
static void ack_now(struct usn_tcp_worker *t)
{
	if (t->ack_conn == USN_TCP_NIL)
		return;
	struct usn_tcp_conn *c = usn_tcp_at(t, t->ack_conn);
	uint16_t dups = t->ack_dups;
	t->ack_conn = USN_TCP_NIL;
	usn_tcp_output(c);
	for (uint16_t k = 1; k < dups && c->state != USN_TCP_CLOSED; k++)
		usn_tcp_send_ack(c);
}

/* An IPv6 segment's own checks (s->r parsed): its sum over the IPv6
 * pseudo-header (RFC 8200 8.1: never optional, the length 32 bits), its
 * ports and addresses; then its ends in s. false: counted, to be dropped. */
static bool input_check6(struct usn_worker *w, struct usn_tcp_worker *t, const struct usn_buf *frame,
			 struct usn_cursor l4, const struct usn_ipv6_repr *ip6, struct seg *s)
{
	if (!t->a6)
		return false; /* no IPv6 address: IPv6 input let nothing through */
	if (!(frame->flags & USN_BUF_RX_L4_CSUM_GOOD)) {
		usn_prof_enter(w, USN_PROF_CSUM);
		uint32_t sum = usn_csum_add(usn_cursor_csum(l4), usn_csum_pseudo6(ip6->src, ip6->dst, USN_IPPROTO_TCP, l4.len));
		usn_prof_leave(w);
		if (usn_csum_fold(sum) != 0xffff) {
			w->stats.drop_tcp_csum++;
			return false;
		}
	}
	/* Never from or to port 0; only between two unicast addresses (IPv6
	 * input let only ours through, and no multicast source). */
	if (s->r.src_port == 0 || s->r.dst_port == 0 || usn_ipv6_is_multicast(ip6->dst) ||
	    usn_ipv6_is_unspecified(ip6->src) || (s->r.flags & USN_TCP_SYN && s->r.flags & USN_TCP_RST)) {
		w->stats.drop_tcp_malformed++;
		return false;
	}
	w->stats.tcp6_rx_segs++;
	memcpy(s->a6.local, ip6->dst, 16);
	memcpy(s->a6.remote, ip6->src, 16);
	s->e.lip = usn_tcp_fold6(t, ip6->dst);
	s->e.rip = usn_tcp_fold6(t, ip6->src);
	s->e.v6 = &s->a6;
	return true;
}

void usn_tcp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip,
		   const struct usn_ipv6_repr *ip6, struct usn_cursor l4)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	struct seg s;
	if (!t) {
		usn_worker_buf_free(w, frame);
		return;
	}
	enum usn_wire_err e = usn_tcp_parse(l4, &s.r);
	if (e != USN_WIRE_OK) {
		if (e == USN_WIRE_BADOPT)
			w->stats.drop_tcp_opts++;
		else
			w->stats.drop_tcp_malformed++;
		goto free;
	}
	if (frame->flags & USN_BUF_RX_CSUM_BAD) {
		w->stats.drop_tcp_csum++;
		goto free;
	}
	if (ip6) {
		if (!input_check6(w, t, frame, l4, ip6, &s))
			goto free;
	} else {
		if (!(frame->flags & USN_BUF_RX_L4_CSUM_GOOD)) {
			usn_prof_enter(w, USN_PROF_CSUM);
			uint32_t sum = usn_csum_add(usn_cursor_csum(l4),
						    usn_csum_pseudo(ip->src, ip->dst, USN_IPPROTO_TCP, (uint16_t)l4.len));
			usn_prof_leave(w);
			if (usn_csum_fold(sum) != 0xffff) {
				w->stats.drop_tcp_csum++;
				goto free;
			}
		}
		/* Never from or to port 0, never from broadcast/multicast (RFC
		 * 9293 3.10.7.2 / RFC 1122 4.2.3.10). */
		if (s.r.src_port == 0 || s.r.dst_port == 0 || ip->src == 0xffffffffu || (ip->src >> 28) == 0xe ||
		    (s.r.flags & USN_TCP_SYN && s.r.flags & USN_TCP_RST)) {
			w->stats.drop_tcp_malformed++;
			goto free;
		}
		s.e.lip = ip->dst;
		s.e.rip = ip->src;
		s.e.v6 = NULL;
	}
	w->stats.tcp_rx_segs++;
	s.data = usn_cursor_drop(l4, s.r.hdr_len);
	s.len = usn_cursor_size(s.data);
	s.frame = frame;
	s.text_dropped = false;
	s.segs = 1;
	s.dupacks = 0;
	if ((frame->flags & USN_BUF_RX_COALESCED) && frame->seg_size && s.len > frame->seg_size) {
		/* A 64 KB segment of MSS-sized ones holds 45; a port's tiny
		 * seg_size must not turn one frame into an ACK storm. */
		uint32_t n = (s.len + frame->seg_size - 1u) / frame->seg_size;
		s.segs = (uint16_t)(n < USN_TCP_DUPACKS_MAX ? n : USN_TCP_DUPACKS_MAX);
	}
	input_segment(w, &s);
	usn_tcp_events_run(t); /* the handlers, the segment done (its data in s.frame) */
	ack_now(t);
	usn_tcp_events_run(t); /* a connection the ACK found unreachable */
	if (s.frame)
		usn_worker_buf_free(w, s.frame);
	return;
free:
	usn_worker_buf_free(w, frame);
}
