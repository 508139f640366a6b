/* libusnet TCP congestion control and RTT: NewReno (RFC 5681, RFC 6582),
 * initial window 10 (RFC 6928), the RTO estimator (RFC 6298), and the SACK
 * scoreboard (RFC 2018) that recovery uses to skip data the peer holds.
 * Arithmetic on the TCB only: what loss recovery wants sent again, the
 * caller sends (usn_tcp_rexmit, tcp_output.c). */
#include "tcp/tcp_int.h"

/* RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)). */
static uint32_t initial_window(const struct usn_tcp_conn *c)
{
	uint32_t mss = usn_tcp_maxseg(c);
	uint32_t iw = 2 * mss > 14600 ? 2 * mss : 14600;
	return iw > 10 * mss ? 10 * mss : iw;
}

void usn_tcp_cong_init(struct usn_tcp_conn *c)
{
	c->cwnd = initial_window(c);
	c->ssthresh = UINT32_MAX / 2;
	c->ca_acked = 0;
	c->dupacks = 0;
	c->recover = c->snd_una;
}

/* Appropriate byte counting (RFC 3465) without its per-ACK limit L, as
 * Linux's tcp_slow_start and tcp_cong_avoid_ai: what counts is the bytes
 * acknowledged, not the ACKs. Receivers that ACK once per aggregated batch
 * (GRO/LRO, and ours once per RX burst, process_data) send stretch ACKs;
 * counting at most 1 SMSS per ACK (RFC 5681 eq. 2) or mss*mss/cwnd per ACK
 * (eq. 3) would slow both phases by the stretch factor. */
void usn_tcp_cong_ack(struct usn_tcp_conn *c, uint32_t acked)
{
	uint32_t mss = usn_tcp_maxseg(c);
	if (c->cwnd < c->ssthresh) {
		/* Slow start (RFC 3465 2.2): cwnd += bytes acked, up to ssthresh;
		 * the rest of this ACK counts toward congestion avoidance. */
		uint32_t room = c->ssthresh - c->cwnd;
		uint32_t inc = acked < room ? acked : room;
		c->cwnd += inc;
		acked -= inc;
		c->ca_acked = 0;
	}
	if (acked) {
		/* Congestion avoidance (RFC 3465 2.1): one SMSS each time the
		 * bytes acked reach cwnd, about one per RTT however many ACKs
		 * carry them. */
		uint32_t w = c->cwnd ? c->cwnd : 1;
		c->ca_acked += acked;
		if (c->ca_acked >= w) {
			uint32_t n = c->ca_acked / w;
			c->ca_acked -= n * w;
			c->cwnd += n * mss;
		}
	}
	if (c->cwnd > (1u << 30))
		c->cwnd = 1u << 30;
}

bool usn_tcp_cong_dupack(struct usn_tcp_conn *c, uint32_t *rexmit_from)
{
	uint32_t mss = usn_tcp_maxseg(c);
	c->w->stats.tcp_dup_acks++;
	if (c->flags & USN_TF_RECOVERY) {
		/* RFC 6582 3.2 step 4: inflate; with SACK, also fill the next
		 * hole below the highest SACKed byte (one per dup ACK). */
		c->cwnd += mss;
		if (c->n_sacked && SEQ_LT(c->snd_rxt, c->sacked[c->n_sacked - 1].left)) {
			*rexmit_from = SEQ_MAX(c->snd_rxt, c->snd_una);
			return true;
		}
		return false;
	}
	/* RFC 5827 early retransmit: with fewer than four segments out and
	 * nothing new to send, fewer than three duplicates can ever come; the
	 * threshold is one less than the segments out (else the RTO). */
	uint32_t thresh = 3, flight = usn_tcp_flight(c);
	if (flight < 4 * mss && !SEQ_LT(c->snd_max, usn_tcp_data_end(c))) {
		uint32_t oseg = (flight + mss - 1) / mss;
		thresh = oseg > 2 ? oseg - 1 : 1;
	}
	if (++c->dupacks < thresh)
		return false;
	/* RFC 6582 3.2 step 2: only if the ACK covers more than recover
	 * (avoids a second reduction for one window of losses). */
	if (SEQ_LT(c->snd_una, c->recover))
		return false;
	c->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss; /* RFC 5681 eq. 4 */
	c->recover = c->snd_max;
	c->flags |= USN_TF_RECOVERY;
	c->w->stats.tcp_fast_retrans++;
	c->cwnd = c->ssthresh + 3 * mss;
	c->ca_acked = 0; /* bytes acked before the loss do not count after it */
	/* Fast retransmit: the first hole from SND.UNA on. */
	c->snd_rxt = c->snd_una;
	*rexmit_from = c->snd_una;
	return true;
}

bool usn_tcp_cong_recovery_ack(struct usn_tcp_conn *c, uint32_t acked, uint32_t *rexmit_from)
{
	uint32_t mss = usn_tcp_maxseg(c);
	if (SEQ_GEQ(c->snd_una, c->recover)) {
		/* RFC 6582 3.2 step 3, full ACK: deflate (option 1). */
		uint32_t flight = usn_tcp_flight(c);
		c->cwnd = c->ssthresh < flight + mss ? c->ssthresh : flight + mss;
		c->ca_acked = 0;
		c->flags &= (uint16_t)~USN_TF_RECOVERY;
		c->dupacks = 0;
		return false;
	}
	/* Partial ACK: retransmit the first unacknowledged (and unSACKed)
	 * segment, deflate by the amount acked, add back one SMSS. */
	if (SEQ_LT(c->snd_rxt, c->snd_una))
		c->snd_rxt = c->snd_una;
	c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
	if (acked >= mss)
		c->cwnd += mss;
	if (c->cwnd < mss)
		c->cwnd = mss;
	*rexmit_from = c->snd_una;
	return true;
}

void usn_tcp_cong_timeout(struct usn_tcp_conn *c)
{
	/* RFC 5681 3.1 eq. 4 and the loss window; RFC 6582 4: recover = highest
	 * sent; RFC 2018 8: forget SACK state after a timeout (the next ACKs
	 * bring it back, and going back then skips what they SACK). */
	uint32_t mss = usn_tcp_maxseg(c);
	uint32_t flight = usn_tcp_flight(c);
	if (c->rtx_count <= 1)
		c->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
	c->cwnd = mss;
	c->ca_acked = 0;
	c->recover = c->snd_max;
	c->flags &= (uint16_t)~(USN_TF_RECOVERY | USN_TF_RTT_TIMING);
	c->dupacks = 0;
	c->n_sacked = 0;
}

void usn_tcp_undo_save(struct usn_tcp_conn *c)
{
	/* RFC 4015 3.1 step (0): pipe_prev = max(FlightSize, ssthresh),
	 * SRTT_prev = SRTT + 2G (G, the 1 ms clock), RTTVAR_prev = RTTVAR. */
	uint32_t flight = usn_tcp_flight(c);
	c->undo_pipe = flight > c->ssthresh ? flight : c->ssthresh;
	c->undo_srtt_us = c->srtt_us ? c->srtt_us + 2000u : 0;
	c->undo_rttvar_us = c->rttvar_us;
}

static void rto_update(struct usn_tcp_conn *c);

void usn_tcp_rto_collapse(struct usn_tcp_conn *c)
{
	/* RFC 6298 5.5 keeps the backed-off RTO until a new RTT sample, and a
	 * sample is rare after timeouts here (an echo older than the latest
	 * retransmission is not taken: tcp_input.c). Kept whole, the back-off
	 * cost every later loss up to the 60 s ceiling once new data was
	 * acknowledged again, and under heavy loss a peer in FIN-WAIT-2 gave
	 * up first (120 s). The ACK shows the path delivering, so the RTO
	 * comes back to at most twice the estimator's (as lwIP resets it on
	 * every new ACK; Linux and BSD do it through the echo's sample). One
	 * step is kept so that data sent from here on is answered before its
	 * timer when the path has only grown slower, and its sample then
	 * re-initialises the estimator (RFC 4015 step (5)). If even that was
	 * short (this episode began before that sample, undo_est_short), the
	 * back-off stays whole until a sample comes (Karn). */
	if (c->undo_est_short)
		return;
	uint32_t bo = c->rto_ms;
	if (c->srtt_us)
		rto_update(c);
	else
		c->rto_ms = usn_tcp_tw(c->w)->cfg->tcp_rto_init_ms; /* no sample yet: RFC 6298 2.1 */
	c->rto_ms = c->rto_ms <= bo / 2 ? 2 * c->rto_ms : bo;
}

void usn_tcp_undo_rto(struct usn_tcp_conn *c, uint32_t acked)
{
	/* RFC 4015 3.1 steps (3) and (4): resume with unsent data (what the
	 * ACKs have not covered yet arrived, they are only late: nothing is
	 * sent again), and restore the congestion state without a burst:
	 * cwnd = FlightSize + min(bytes_acked, IW), ssthresh = pipe_prev, so
	 * slow start brings cwnd back to where it was within a round trip.
	 * At least 1 MSS: a short flight would leave a window no segment fits. */
	uint32_t mss = usn_tcp_maxseg(c), iw = initial_window(c);
	uint32_t cw = usn_tcp_flight(c) + (acked < iw ? acked : iw);
	c->cwnd = cw > mss ? cw : mss;
	c->ca_acked = 0;
	c->ssthresh = c->undo_pipe;
	c->snd_nxt = c->snd_max;
	/* The reduction is undone, so RFC 6582's guard against a second one
	 * for the same window is not due: a real loss fast-retransmits. */
	c->recover = c->snd_una;
	c->dupacks = 0;
	/* Step (5): the estimator restarts from the next sample of a segment
	 * sent from here on (TSval at least this). */
	c->undo = USN_UNDO_RTT;
	c->undo_ts = usn_tcp_ts_now(c);
	/* The back-off goes with the timeout it answered (all but one step:
	 * usn_tcp_rto_collapse), and the caller restarts the timer with it
	 * (RFC 6298 5.3). Nothing unacknowledged is resent at once: the ACK
	 * shows the original flight arriving, only late (step (4)); a real
	 * loss among it goes by that timer or fast retransmit. */
	usn_tcp_rto_collapse(c);
	c->w->stats.tcp_spurious_rto++;
}

uint32_t usn_tcp_sack_skip(const struct usn_tcp_conn *c, uint32_t seq, uint32_t *sacked_below)
{
	uint32_t below = 0;
	for (unsigned i = 0; i < c->n_sacked; i++) {
		const struct usn_tcp_sack_block *b = &c->sacked[i];
		if (SEQ_LEQ(b->left, seq) && SEQ_LT(seq, b->right))
			seq = b->right;
		if (SEQ_LEQ(b->right, seq))
			below += b->right - SEQ_MAX(b->left, c->snd_una);
	}
	*sacked_below = below;
	return seq;
}

/* RTO = SRTT + max(G, 4 * RTTVAR) (RFC 6298 2.3); G is the 1 ms clock. */
static void rto_update(struct usn_tcp_conn *c)
{
	const struct usn_stack_config *cfg = usn_tcp_tw(c->w)->cfg;
	uint32_t k = 4 * c->rttvar_us;
	if (k < 1000)
		k = 1000;
	uint64_t rto = ((uint64_t)c->srtt_us + k + 999) / 1000;
	if (rto < cfg->tcp_rto_min_ms)
		rto = cfg->tcp_rto_min_ms;
	if (rto > cfg->tcp_rto_max_ms)
		rto = cfg->tcp_rto_max_ms;
	c->rto_ms = (uint32_t)rto;
}

void usn_tcp_rtt_sample(struct usn_tcp_conn *c, uint32_t r)
{
	if (r == 0)
		r = 1;
	if (c->srtt_us == 0) {
		/* RFC 6298 2.2 */
		c->srtt_us = r;
		c->rttvar_us = r / 2;
	} else {
		/* 2.3, beta = 1/4, alpha = 1/8 */
		uint32_t d = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
		c->rttvar_us = c->rttvar_us - c->rttvar_us / 4 + d / 4;
		c->srtt_us = c->srtt_us - c->srtt_us / 8 + r / 8;
	}
	rto_update(c);
}

void usn_tcp_rtt_reinit(struct usn_tcp_conn *c, uint32_t r)
{
	c->undo = USN_UNDO_NONE;
	if (c->undo_srtt_us == 0) {
		usn_tcp_rtt_sample(c, r); /* no estimate before the timeout */
		return;
	}
	/* RFC 4015 3.1 step (5): a late peer is now the norm, and waiting for
	 * the 1/8 steps of RFC 6298 to learn it would time out again. */
	c->srtt_us = r > c->undo_srtt_us ? r : c->undo_srtt_us;
	c->rttvar_us = r / 2 > c->undo_rttvar_us ? r / 2 : c->undo_rttvar_us;
	rto_update(c);
}

/* ---- SACK scoreboard (RFC 2018 / RFC 6675 "SACKed" bytes) ---- */

static void sb_insert(struct usn_tcp_conn *c, uint32_t l, uint32_t r)
{
	struct usn_tcp_sack_block *s = c->sacked;
	unsigned n = c->n_sacked, i = 0;
	/* find the first block ending at or after l */
	while (i < n && SEQ_LT(s[i].right, l))
		i++;
	unsigned j = i;
	while (j < n && SEQ_LEQ(s[j].left, r)) {
		l = SEQ_MIN(l, s[j].left);
		r = SEQ_MAX(r, s[j].right);
		j++;
	}
	/* blocks i..j-1 merge into one */
	unsigned removed = j - i;
	if (removed == 0) {
		if (n == USN_TCP_SACK_SB) {
			if (i == n)
				return; /* keep the lower holes' information */
			n--;        /* drop the highest block */
		}
		for (unsigned k = n; k > i; k--)
			s[k] = s[k - 1];
		n++;
	} else {
		for (unsigned k = i + 1; k + removed - 1 < n; k++)
			s[k] = s[k + removed - 1];
		n -= removed - 1;
	}
	s[i].left = l;
	s[i].right = r;
	c->n_sacked = (uint8_t)n;
}

static uint32_t sb_bytes(const struct usn_tcp_conn *c)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < c->n_sacked; i++)
		n += c->sacked[i].right - c->sacked[i].left;
	return n;
}

bool usn_tcp_sack_update(struct usn_tcp_conn *c, const struct usn_tcp_repr *r)
{
	if (!(c->flags & USN_TF_SACK) || r->n_sack == 0)
		return false;
	uint32_t before = sb_bytes(c);
	for (unsigned i = 0; i < r->n_sack; i++) {
		uint32_t l = r->sack[i].left, rr = r->sack[i].right;
		/* ignore D-SACKs and anything outside what is outstanding */
		if (!SEQ_LT(l, rr) || SEQ_LEQ(l, c->snd_una) || SEQ_GT(rr, c->snd_max))
			continue;
		sb_insert(c, l, rr);
	}
	return sb_bytes(c) > before;
}

void usn_tcp_sack_prune(struct usn_tcp_conn *c)
{
	unsigned k = 0;
	for (unsigned i = 0; i < c->n_sacked; i++) {
		if (SEQ_LEQ(c->sacked[i].right, c->snd_una))
			continue;
		c->sacked[k] = c->sacked[i];
		if (SEQ_LT(c->sacked[k].left, c->snd_una))
			c->sacked[k].left = c->snd_una;
		k++;
	}
	c->n_sacked = (uint8_t)k;
}

uint32_t usn_tcp_sack_next_hole(const struct usn_tcp_conn *c, uint32_t from, uint32_t *hole_end)
{
	uint32_t seq = from;
	for (unsigned i = 0; i < c->n_sacked; i++) {
		const struct usn_tcp_sack_block *b = &c->sacked[i];
		if (SEQ_LEQ(b->right, seq))
			continue;
		if (SEQ_LEQ(b->left, seq)) {
			seq = b->right;
			continue;
		}
		*hole_end = b->left;
		return seq;
	}
	*hole_end = c->snd_max;
	return seq;
}
