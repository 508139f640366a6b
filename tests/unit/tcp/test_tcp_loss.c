/* Unit tests for the TCP engine (lib/tcp), loss and recovery: the
 * retransmission timeout and its back-off, RTT samples around
 * retransmissions (Karn, timestamps), spurious timeouts (Eifel, F-RTO),
 * congestion control by bytes, fast retransmit, limited transmit, early
 * retransmit and SACK-based recovery. A stack on the simulated link and a
 * raw peer port (tests/common/tcpfx.h): each test feeds segments built
 * from a template and asserts the stack's replies field by field, with
 * timers checked exactly on the virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcpfx.h"

static void test_send_rto_backoff(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 100, NULL), 0);
	tseg_advance(&x->nf, 0);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, x->siss + 1, PISS + 1, 0, 100);
	/* the handshake RTT was 0: RTO = rto_min (200 ms), then doubling */
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.rto_ms, 200);
	uint64_t rto = 200 * MS;
	for (int k = 0; k < 4; k++) {
		tseg_advance(&x->nf, rto - 1);
		EXPECT_NONE(x);
		tseg_advance(&x->nf, 1);
		EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, x->siss + 1, PISS + 1, 0, 100);
		rto *= 2;
	}
	assert_int_equal(st(x)->tcp_rto_fired, 4);
	/* the ACK stops it; sent_fn reports the bytes */
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 101);
	assert_int_equal(x->sent, 100);
	tseg_advance(&x->nf, 10000 * MS);
	EXPECT_NONE(x);
	fx_free(x);
}

static void test_retries_exhausted(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	usn_tcp_send_ref(x->c, fx_payload, 10, NULL);
	tseg_advance(&x->nf, 0);
	RECV(x);
	/* 200 ms doubling to the 60 s ceiling: 12 retransmissions, then the
	 * 13th expiry gives up (342.2 s) */
	tseg_advance(&x->nf, 342199 * MS);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1 * MS);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	assert_int_equal(st(x)->tcp_rto_fired, 12);
	fx_free(x);
}

/* Karn's rule for timestamps: an ACK echoing a TSval older than the latest
 * retransmission (a peer that held the data answers the repeat with the
 * original's TS.Recent, RFC 7323 4.3) gives no RTT sample; the next fresh
 * echo does. Taking it made the outage the "RTT" and held the RTO at the
 * 60 s ceiling for the rest of a lossy transfer. */
static void test_no_rtt_from_echo_older_than_retransmit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	uint32_t srtt0 = i.srtt_us;
	assert_int_equal(i.rto_ms, 200);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 200, NULL), 0);
	tseg_advance(&x->nf, 0);
	struct tseg *o = EXPECT(x, TSEG_ACK | TSEG_PSH, x->siss + 1, PISS + 1);
	uint32_t t_orig = o->tsval;
	tseg_advance(&x->nf, 200 * MS);
	o = EXPECT(x, TSEG_ACK | TSEG_PSH, x->siss + 1, PISS + 1);
	assert_int_equal(o->tsval, t_orig + 200);
	tseg_advance(&x->nf, 50 * MS);
	/* the first 100 bytes acked, echoing the original transmission */
	struct tseg s = SEG(x, TSEG_ACK, x->pnxt, x->siss + 101);
	s.tsecr = t_orig;
	SEND_SEG(x, &s);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, srtt0);
	assert_int_equal(i.rto_ms, 400); /* still backed off */
	/* the rest, echoing the retransmission: 50 ms */
	s = SEG(x, TSEG_ACK, x->pnxt, x->siss + 201);
	s.tsecr = t_orig + 200;
	SEND_SEG(x, &s);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, srtt0 - srtt0 / 8 + 50000 / 8);
	assert_int_equal(x->sent, 200);
	fx_free(x);
}

/* After an RTO has rewound SND.NXT to SND.UNA, the stack's pure ACKs still
 * carry SND.MAX (as BSD's tcp_output). The peer already holds everything up
 * to there, so an ACK with an older sequence number is unacceptable to it
 * (RFC 9293 3.10.7.4) and dropped with its acknowledgment: when both ends
 * of a lossy bulk transfer were in that state, neither ACK was ever
 * processed and both gave up after their retries (issue 3). */
static void test_ack_after_rto_carries_snd_max(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	PEER_DATA(x, 100, 0);
	tseg_advance(&x->nf, 40 * MS);
	EXPECT(x, TSEG_ACK, x->siss + 1, PISS + 101);
	fx_send_segments(x, 3);
	uint32_t s0 = x->siss + 1;
	/* the peer got all three, but its ACK is lost: the RTO resends one */
	tseg_advance(&x->nf, 200 * MS);
	EXPECT_LEN(x, TSEG_ACK, s0, PISS + 101, 1460);
	EXPECT_NONE(x);
	/* the peer's own retransmission of the 100 bytes (its ACK lost too) */
	SEND_DATA(x, TSEG_ACK | TSEG_PSH, PISS + 1, s0, 0, 100);
	EXPECT_LEN(x, TSEG_ACK, s0 + 3 * 1460, PISS + 101, 0);
	EXPECT_NONE(x);
	assert_int_equal(x->rx_len, 100);
	/* which the peer accepts, and answers with nothing; its ACK of the
	 * three segments ends the retransmissions */
	SEND(x, TSEG_ACK, PISS + 101, s0 + 3 * 1460);
	assert_int_equal(x->sent, 3 * 1460);
	tseg_advance(&x->nf, 10000 * MS);
	EXPECT_NONE(x);
	fx_free(x);
}

/* Sends n bytes and receives the first k full segments of maxseg bytes. */
static uint32_t flight_out(struct fx *x, uint32_t n, int k, uint32_t maxseg)
{
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, n, NULL), 0);
	tseg_advance(&x->nf, 0);
	uint32_t ts0 = 0;
	for (int j = 0; j < k; j++) {
		struct tseg *o = RECV(x);
		assert_int_equal(o->seq, x->siss + 1 + (uint32_t)j * maxseg);
		assert_int_equal(o->len, maxseg);
		if (j == 0)
			ts0 = o->tsval;
	}
	EXPECT_NONE(x);
	return ts0;
}

/* The RTO (200 ms after the flight) resends the first segment only. */
static struct tseg *rto_fires(struct fx *x, uint32_t maxseg)
{
	tseg_advance(&x->nf, 200 * MS - 1);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 1);
	struct tseg *o = EXPECT_DATA(x, TSEG_ACK, x->siss + 1, PISS + 1, 0, maxseg);
	EXPECT_NONE(x); /* cwnd 1 MSS */
	assert_int_equal(st(x)->tcp_rto_fired, 1);
	return o;
}

/* Eifel detection (RFC 3522): the ACKs were late, not lost. The first ACK
 * of new data after the RTO echoes the original flight's TSval, older than
 * the retransmission's: the timeout was spurious. RFC 4015: cwnd and
 * ssthresh as before, nothing more resent (SND.NXT = SND.MAX), and the RTT
 * estimator restarts from the next sample (300 ms: RTO 900 ms, where the
 * 1/8 step of RFC 6298 would give 37.5 ms and the next late ACK a timeout
 * again). Each spurious RTO sent the flight twice and started the
 * connection over in slow start (the rig: 7475 RTOs, all spurious). */
static void test_spurious_rto_timestamps(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	struct usn_tcp_info i0, i;
	usn_tcp_info(x->c, &i0);
	assert_int_equal(i0.cwnd, 10 * 1448);
	uint32_t s0 = x->siss + 1;
	uint32_t t0 = flight_out(x, 20 * 1448, 10, 1448);
	struct tseg *o = rto_fires(x, 1448);
	assert_int_equal(o->tsval, t0 + 200);
	/* 100 ms later the ACK of the whole original flight */
	tseg_advance(&x->nf, 100 * MS);
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0 + 10 * 1448);
	a.tsecr = t0;
	SEND_SEG(x, &a);
	assert_int_equal(st(x)->tcp_spurious_rto, 1);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.cwnd, i0.cwnd);
	assert_int_equal(i.ssthresh, i0.ssthresh);
	assert_int_equal(i.srtt_us, i0.srtt_us); /* no sample from the old echo */
	assert_int_equal(i.rto_ms, 400);          /* still backed off */
	/* new data from SND.MAX, a full window of it; nothing resent */
	for (uint32_t k = 10; k < 20; k++) {
		o = EXPECT_DATA(x, k == 19 ? TSEG_ACK | TSEG_PSH : TSEG_ACK, s0 + k * 1448, PISS + 1, k * 1448, 1448);
		assert_int_equal(o->tsval, t0 + 300);
	}
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_retrans_segs, 1);
	assert_int_equal(x->sent, 10 * 1448);
	/* the next sample (300 ms) re-initialises the estimator (RFC 4015):
	 * SRTT = max(SRTT_prev + 2G, 300 ms), RTTVAR = max(RTTVAR_prev, 150 ms) */
	tseg_advance(&x->nf, 300 * MS);
	SEND(x, TSEG_ACK, x->pnxt, s0 + 20 * 1448);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, 300000);
	assert_int_equal(i.rttvar_us, 150000);
	assert_int_equal(i.rto_ms, 900);
	assert_int_equal(x->sent, 20 * 1448);
	tseg_advance(&x->nf, 10000 * MS);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_rto_fired, 1);
	assert_int_equal(st(x)->tcp_spurious_rto, 1);
	fx_free(x);
}

/* A genuine loss, its back-off undone by the ACK that ends it: the first
 * of two segments is lost three times (RTO backed off to 1.6 s), and the
 * ACK of its retransmission echoes an older retransmission than the
 * latest, so it gives no RTT sample (Karn, for echoes). The rest of the
 * flight goes at once; its timer is twice the estimator's RTO (400 ms),
 * not the backed-off 1.6 s: kept, every later loss cost up to the 60 s
 * ceiling, and under heavy loss a peer in FIN-WAIT-2 gave up (120 s) and
 * the connection ended in a reset. */
static void test_ack_after_timeouts_collapses_backoff(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	uint32_t s0 = x->siss + 1;
	uint32_t t0 = flight_out(x, 2 * 1448, 2, 1448);
	uint64_t rto = 200 * MS;
	for (int k = 0; k < 3; k++) {
		tseg_advance(&x->nf, rto);
		EXPECT_DATA(x, TSEG_ACK, s0, PISS + 1, 0, 1448);
		EXPECT_NONE(x);
		rto *= 2;
	}
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.rto_ms, 1600);
	uint32_t srtt0 = i.srtt_us;
	/* the ACK of the first segment, echoing the second retransmission */
	tseg_advance(&x->nf, 50 * MS);
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0 + 1448);
	a.tsecr = t0 + 600;
	SEND_SEG(x, &a);
	assert_int_equal(st(x)->tcp_spurious_rto, 0);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, srtt0); /* no sample */
	assert_int_equal(i.rto_ms, 400);
	/* the second segment at once (go-back-N), then lost: 400 ms later */
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s0 + 1448, PISS + 1, 1448, 1448);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 400 * MS - 1);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 1);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s0 + 1448, PISS + 1, 1448, 1448);
	assert_int_equal(st(x)->tcp_rto_fired, 4);
	fx_free(x);
}

/* A spurious timeout undoes its back-off too, all but one step: the
 * flight's first ACK comes after four timeouts (RTO backed off to 3.2 s)
 * and echoes the original TSval, so the first timeout was spurious and is
 * undone, but half of the flight is still unacknowledged. Its timer runs
 * at twice the estimator's RTO (400 ms), not at the backed-off value:
 * with the back-off kept whole, the rest of a flight waited up to the
 * 60 s ceiling per loss, and under heavy loss a peer in FIN-WAIT-2 gave
 * up (120 s) and reset the connection. Nothing is resent at once: the ACK
 * shows the original flight arriving, only late. */
static void test_spurious_rto_undoes_backoff(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	uint32_t s0 = x->siss + 1;
	uint32_t t0 = flight_out(x, 10 * 1448, 10, 1448);
	uint64_t rto = 200 * MS;
	for (int k = 0; k < 4; k++) {
		tseg_advance(&x->nf, rto - 1);
		EXPECT_NONE(x);
		tseg_advance(&x->nf, 1);
		EXPECT_DATA(x, TSEG_ACK, s0, PISS + 1, 0, 1448);
		EXPECT_NONE(x);
		rto *= 2;
	}
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.rto_ms, 3200);
	uint32_t srtt0 = i.srtt_us;
	/* 100 ms later, the ACK of the first half, echoing the original */
	tseg_advance(&x->nf, 100 * MS);
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0 + 5 * 1448);
	a.tsecr = t0;
	SEND_SEG(x, &a);
	assert_int_equal(st(x)->tcp_spurious_rto, 1);
	assert_int_equal(x->sent, 5 * 1448);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, srtt0); /* no sample from the old echo */
	assert_int_equal(i.rto_ms, 400);
	EXPECT_NONE(x);
	/* the rest of the flight is lost: 400 ms later it is resent from
	 * SND.UNA, one segment (cwnd after a timeout) */
	tseg_advance(&x->nf, 400 * MS - 1);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 1);
	EXPECT_DATA(x, TSEG_ACK, s0 + 5 * 1448, PISS + 1, 5 * 1448, 1448);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_rto_fired, 5);
	/* which a real loss proves: the ACK echoes this retransmission */
	tseg_advance(&x->nf, 10 * MS);
	SEND(x, TSEG_ACK, x->pnxt, s0 + 6 * 1448);
	assert_int_equal(st(x)->tcp_spurious_rto, 1);
	fx_free(x);
}

/* Karn's rule still holds after an undo: when the path has grown slower
 * than even twice the estimator's RTO (1 s here, against 200 ms), data
 * sent after the first undo times out too before its ACK can give the
 * sample that would re-initialise the estimator; that second spurious
 * timeout is undone with its back-off kept, so the next data is answered
 * in time and the estimator learns the new RTT (each time it was short
 * the back-off doubles again, as RFC 6298 5.5). Undoing every back-off
 * there would time out every flight, and no echo would ever be fresh. */
static void test_spurious_rto_twice_keeps_backoff(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	uint32_t s0 = x->siss + 1;
	uint32_t t0 = flight_out(x, 4 * 1448, 4, 1448);
	/* timeouts at 200 and 600 ms; the flight's ACK at 1000 ms */
	tseg_advance(&x->nf, 200 * MS);
	EXPECT_DATA(x, TSEG_ACK, s0, PISS + 1, 0, 1448);
	tseg_advance(&x->nf, 400 * MS);
	EXPECT_DATA(x, TSEG_ACK, s0, PISS + 1, 0, 1448);
	tseg_advance(&x->nf, 400 * MS);
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0 + 4 * 1448);
	a.tsecr = t0;
	SEND_SEG(x, &a);
	assert_int_equal(st(x)->tcp_spurious_rto, 1);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.rto_ms, 400);
	/* new data: its timer fires at 400 ms, before the 1 s ACK */
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload + 4 * 1448, 1448, NULL), 0);
	tseg_advance(&x->nf, 0);
	struct tseg *o = EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s0 + 4 * 1448, PISS + 1, 4 * 1448, 1448);
	uint32_t t1 = o->tsval;
	tseg_advance(&x->nf, 400 * MS);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s0 + 4 * 1448, PISS + 1, 4 * 1448, 1448);
	assert_int_equal(st(x)->tcp_rto_fired, 3);
	tseg_advance(&x->nf, 600 * MS);
	a = SEG(x, TSEG_ACK, x->pnxt, s0 + 5 * 1448);
	a.tsecr = t1;
	SEND_SEG(x, &a);
	assert_int_equal(st(x)->tcp_spurious_rto, 2);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.rto_ms, 800); /* the back-off kept */
	/* the path is still that slow: the next data times out at 800 ms,
	 * and its undo keeps the back-off again (1.6 s) */
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload + 5 * 1448, 1448, NULL), 0);
	tseg_advance(&x->nf, 0);
	o = EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s0 + 5 * 1448, PISS + 1, 5 * 1448, 1448);
	uint32_t t2 = o->tsval;
	tseg_advance(&x->nf, 800 * MS);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s0 + 5 * 1448, PISS + 1, 5 * 1448, 1448);
	tseg_advance(&x->nf, 200 * MS);
	a = SEG(x, TSEG_ACK, x->pnxt, s0 + 6 * 1448);
	a.tsecr = t2;
	SEND_SEG(x, &a);
	assert_int_equal(st(x)->tcp_spurious_rto, 3);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.rto_ms, 1600);
	/* and the next is answered (1 s) before its timer: that fresh sample
	 * re-initialises the estimator (RFC 4015): SRTT 1 s, RTTVAR 0.5 s */
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload + 6 * 1448, 1448, NULL), 0);
	tseg_advance(&x->nf, 0);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s0 + 6 * 1448, PISS + 1, 6 * 1448, 1448);
	tseg_advance(&x->nf, 1000 * MS);
	EXPECT_NONE(x);
	SEND(x, TSEG_ACK, x->pnxt, s0 + 7 * 1448);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, 1000000);
	assert_int_equal(i.rttvar_us, 500000);
	assert_int_equal(i.rto_ms, 3000);
	assert_int_equal(st(x)->tcp_rto_fired, 4);
	assert_int_equal(st(x)->tcp_spurious_rto, 3);
	fx_free(x);
}

/* A genuine loss: the ACK echoes the retransmission's TSval. Nothing is
 * undone: ssthresh half the flight, slow start from 1 MSS, and going back
 * N resends the rest of the flight. */
static void test_rto_genuine_loss_timestamps(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	uint32_t s0 = x->siss + 1;
	uint32_t t0 = flight_out(x, 20 * 1448, 10, 1448);
	rto_fires(x, 1448);
	tseg_advance(&x->nf, 50 * MS);
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0 + 1448);
	assert_int_equal(a.tsecr, t0 + 200);
	SEND_SEG(x, &a);
	assert_int_equal(st(x)->tcp_spurious_rto, 0);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.cwnd, 2 * 1448);
	assert_int_equal(i.ssthresh, 5 * 1448);
	assert_int_equal(i.srtt_us, 1 + 50000 / 8); /* RFC 6298 2.3, not re-initialised */
	EXPECT_LEN(x, TSEG_ACK, s0 + 1448, PISS + 1, 1448);
	EXPECT_DATA(x, TSEG_ACK, s0 + 2 * 1448, PISS + 1, 2 * 1448, 1448);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_retrans_segs, 3);
	fx_free(x);
}

/* F-RTO (RFC 5682 2.1) without timestamps: the first ACK after the RTO
 * retransmission acknowledges more than it, so two new segments go out
 * instead of going back; the second ACK acknowledges data that was never
 * retransmitted: spurious, and the response of RFC 4015 follows (cwnd =
 * FlightSize + min(bytes acked, IW), ssthresh as before, from SND.MAX). */
static void test_spurious_rto_frto(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	struct usn_tcp_info i0, i;
	usn_tcp_info(x->c, &i0);
	uint32_t s0 = x->siss + 1;
	flight_out(x, 30 * 1460, 10, 1460);
	rto_fires(x, 1460);
	tseg_advance(&x->nf, 100 * MS);
	SEND(x, TSEG_ACK, x->pnxt, s0 + 5 * 1460);
	EXPECT_DATA(x, TSEG_ACK, s0 + 10 * 1460, PISS + 1, 10 * 1460, 1460);
	EXPECT_LEN(x, TSEG_ACK, s0 + 11 * 1460, PISS + 1, 1460);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_spurious_rto, 0);
	SEND(x, TSEG_ACK, x->pnxt, s0 + 10 * 1460);
	assert_int_equal(st(x)->tcp_spurious_rto, 1);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.cwnd, 2 * 1460 + 5 * 1460);
	assert_int_equal(i.ssthresh, i0.ssthresh);
	for (uint32_t k = 12; k < 17; k++) {
		EXPECT_DATA(x, TSEG_ACK, s0 + k * 1460, PISS + 1, k * 1460, 1460);
	}
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_retrans_segs, 1);
	assert_int_equal(x->sent, 10 * 1460);
	fx_free(x);
}

/* F-RTO with a genuine loss: the first ACK covers the retransmission only,
 * two new segments go out, and the duplicate ACK they raise sends the
 * connection back to the conventional recovery (RFC 5682 2.1 step 3a):
 * the next hole is resent, nothing is undone. */
static void test_rto_genuine_loss_frto(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s0 = x->siss + 1;
	flight_out(x, 30 * 1460, 10, 1460);
	rto_fires(x, 1460);
	tseg_advance(&x->nf, 1 * MS);
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0 + 1460);
	SEND_SEG(x, &a);
	EXPECT(x, TSEG_ACK, s0 + 10 * 1460, PISS + 1);
	EXPECT(x, TSEG_ACK, s0 + 11 * 1460, PISS + 1);
	EXPECT_NONE(x);
	SEND_SEG(x, &a); /* duplicate */
	EXPECT_DATA(x, TSEG_ACK, s0 + 1460, PISS + 1, 1460, 1460);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_spurious_rto, 0);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.ssthresh, 5 * 1460);
	/* the hole filled: slow start goes on going back */
	SEND(x, TSEG_ACK, x->pnxt, s0 + 2 * 1460);
	EXPECT(x, TSEG_ACK, s0 + 2 * 1460, PISS + 1);
	EXPECT(x, TSEG_ACK, s0 + 3 * 1460, PISS + 1);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_spurious_rto, 0);
	fx_free(x);
}

/* The peer ACKs up to ack; returns how many segments the stack sent in
 * answer, each checked to be the next one (maxseg bytes) from *nxt. */
static int ack_and_count(struct fx *x, uint32_t ack, uint32_t *nxt, uint32_t maxseg)
{
	SEND(x, TSEG_ACK, x->pnxt, ack);
	int n = 0;
	struct tseg o;
	while (tseg_recv(&x->nf, &o)) {
		assert_true(o.csum_ok);
		if (o.has_ts)
			x->stack_ts = o.tsval;
		assert_int_equal(o.seq, *nxt);
		assert_int_equal(o.len, maxseg);
		*nxt += maxseg;
		n++;
	}
	return n;
}

/* Slow start counts the bytes a stretch ACK covers (RFC 3465 2.2, as
 * Linux), not one SMSS per ACK: one ACK for the initial window of 10
 * segments doubles cwnd, as ten ACKs would. */
static void test_slow_start_stretch_ack(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s0 = x->siss + 1;
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 40 * 1460, NULL), 0);
	tseg_advance(&x->nf, 0);
	for (int k = 0; k < 10; k++)
		RECV(x);
	EXPECT_NONE(x);
	assert_int_equal(cwnd_of(x), 10 * 1460);
	uint32_t nxt = s0 + 10 * 1460;
	assert_int_equal(ack_and_count(x, s0 + 10 * 1460, &nxt, 1460), 20);
	assert_int_equal(cwnd_of(x), 20 * 1460);
	fx_free(x);
}

/* Slow start stops at ssthresh within one stretch ACK; the rest of its
 * bytes count toward congestion avoidance, which then grows cwnd by one
 * SMSS per cwnd of bytes acked (RFC 3465 2.1), whether one ACK covers
 * them or one ACK per segment. */
static void test_cwnd_byte_counting_ssthresh_and_ca(void **state)
{
	(void)state;
	const uint32_t m = 1448; /* with timestamps */
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	uint32_t s0 = x->siss + 1;
	flight_out(x, 40 * m, 10, m);
	rto_fires(x, m); /* ssthresh 5 segments, cwnd 1 */
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.ssthresh, 5 * m);
	assert_int_equal(i.cwnd, m);
	/* segments 0..8 acked at once (the retransmission's echo: genuine):
	 * slow start 1 -> 5 (4 of them), the other 5 reach cwnd: 6 */
	uint32_t nxt = s0 + 9 * m;
	assert_int_equal(ack_and_count(x, s0 + 9 * m, &nxt, m), 6); /* 9 again, 10..14 */
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.ssthresh, 5 * m);
	assert_int_equal(i.cwnd, 6 * m);
	/* one stretch ACK of the whole window (6 segments): one SMSS more */
	assert_int_equal(ack_and_count(x, s0 + 15 * m, &nxt, m), 7);
	assert_int_equal(cwnd_of(x), 7 * m);
	/* the next window, one ACK per segment: six leave cwnd alone, the
	 * seventh completes 7 segments' worth and adds one */
	uint32_t una = s0 + 15 * m;
	for (int k = 1; k <= 6; k++) {
		una += m;
		assert_int_equal(ack_and_count(x, una, &nxt, m), 1);
		assert_int_equal(cwnd_of(x), 7 * m);
	}
	una += m;
	assert_int_equal(ack_and_count(x, una, &nxt, m), 2);
	assert_int_equal(cwnd_of(x), 8 * m);
	assert_int_equal(st(x)->tcp_spurious_rto, 0);
	assert_int_equal(st(x)->tcp_fast_retrans, 0);
	fx_free(x);
}

static void test_fast_retransmit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	fx_send_segments(x, 5);
	uint32_t s0 = x->siss + 1;
	for (int k = 0; k < 2; k++)
		SEND(x, TSEG_ACK, x->pnxt, s0 + 1460);
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0 + 1460);
	SEND_SEG(x, &a);
	EXPECT_NONE(x);
	SEND_SEG(x, &a);
	SEND_SEG(x, &a);
	/* third duplicate: retransmit the first unacknowledged segment */
	EXPECT_DATA(x, TSEG_ACK, s0 + 1460, PISS + 1, 1460, 1460);
	assert_int_equal(st(x)->tcp_fast_retrans, 1);
	fx_free(x);
}

/* RFC 6675 2: with SACK, an ACK that SACKs new bytes is a duplicate even
 * when it carries data. When both ends send, the peer's ACKs ride on its
 * data; none counted, and every loss waited for the RTO. */
static void test_sack_dupack_on_data(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->sack = true;
	fx_established(x);
	fx_send_segments(x, 5);
	uint32_t s0 = x->siss + 1;
	/* segment 0 lost; the peer's data segments SACK 1, 1..2, 1..3 */
	for (int k = 1; k <= 3; k++) {
		struct tseg a = SEG(x, TSEG_ACK | TSEG_PSH, x->pnxt, s0);
		a.payload = fx_payload;
		a.len = 100;
		a.n_sack = 1;
		a.sack[0][0] = s0 + 1460;
		a.sack[0][1] = s0 + (uint32_t)(k + 1) * 1460;
		SEND_SEG(x, &a);
		x->pnxt += 100;
		if (k < 3)
			EXPECT_NONE(x); /* its data: a delayed ACK */
	}
	/* the ACK is processed before the data it rides with */
	EXPECT_DATA(x, TSEG_ACK, s0, x->pnxt - 100, 0, 1460);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_fast_retrans, 1);
	assert_int_equal(x->rx_len, 300);
	tseg_advance(&x->nf, 40 * MS);
	EXPECT(x, TSEG_ACK, s0 + 5 * 1460, x->pnxt);
	fx_free(x);
}

/* A duplicate ACK from the peer, SACKing [s0 + from * 1460, s0 + to * 1460). */
static void dupack_sack(struct fx *x, uint32_t s0, uint32_t from, uint32_t to)
{
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0);
	a.n_sack = 1;
	a.sack[0][0] = s0 + from * 1460;
	a.sack[0][1] = s0 + to * 1460;
	SEND_SEG(x, &a);
}

/* RFC 3042 limited transmit: each of the first two duplicates lets one new
 * segment out past cwnd, so a small window still gets its third. */
static void test_limited_transmit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->sack = true;
	fx_established(x);
	uint32_t s0 = x->siss + 1;
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 20 * 1460, NULL), 0);
	tseg_advance(&x->nf, 0);
	for (int k = 0; k < 10; k++)
		RECV(x);
	EXPECT_NONE(x); /* the initial window */
	dupack_sack(x, s0, 1, 2);
	EXPECT_LEN(x, TSEG_ACK, s0 + 10 * 1460, PISS + 1, 1460);
	EXPECT_NONE(x);
	dupack_sack(x, s0, 1, 3);
	EXPECT_LEN(x, TSEG_ACK, s0 + 11 * 1460, PISS + 1, 1460);
	EXPECT_NONE(x);
	dupack_sack(x, s0, 1, 4);
	struct tseg *o = EXPECT(x, TSEG_ACK, s0, PISS + 1); /* the third: fast retransmit */
	assert_int_equal(o->len, 1460);
	assert_int_equal(st(x)->tcp_fast_retrans, 1);
	fx_free(x);
}

/* RFC 5827 early retransmit: three segments out, nothing more to send,
 * the first lost: two duplicates are all there can be. */
static void test_early_retransmit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->sack = true;
	fx_established(x);
	fx_send_segments(x, 3);
	uint32_t s0 = x->siss + 1;
	dupack_sack(x, s0, 1, 2);
	EXPECT_NONE(x);
	dupack_sack(x, s0, 1, 3);
	EXPECT_DATA(x, TSEG_ACK, s0, PISS + 1, 0, 1460);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_fast_retrans, 1);
	assert_int_equal(st(x)->tcp_rto_fired, 0);
	fx_free(x);
}

/* Going back after an RTO resends the holes only, not what the peer's ACKs
 * SACK (RFC 6675 5.1), nor counts that as in flight: half a lossy window
 * was sent twice. */
static void test_rto_skips_sacked(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->sack = true;
	fx_established(x);
	fx_send_segments(x, 6);
	uint32_t s0 = x->siss + 1;
	/* 0 and 1 lost, 2..4 SACKed, 5 lost: one duplicate, then silence */
	dupack_sack(x, s0, 2, 5);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 200 * MS);
	EXPECT_LEN(x, TSEG_ACK, s0, PISS + 1, 1460);
	EXPECT_NONE(x); /* cwnd 1 */
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0 + 1460);
	a.n_sack = 1;
	a.sack[0][0] = s0 + 2 * 1460;
	a.sack[0][1] = s0 + 5 * 1460;
	SEND_SEG(x, &a);
	/* segment 1, then 5: 2..4 are skipped (and not counted in flight) */
	EXPECT_LEN(x, TSEG_ACK, s0 + 1460, PISS + 1, 1460);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s0 + 5 * 1460, PISS + 1, 5 * 1460, 1460);
	EXPECT_NONE(x);
	fx_free(x);
}

static void test_sack_skips_sacked(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->sack = true;
	fx_established(x);
	fx_send_segments(x, 6);
	uint32_t s0 = x->siss + 1;
	/* segment 0 and 4 lost: the peer SACKs 1..3 and 5 */
	struct tseg a = SEG(x, TSEG_ACK, x->pnxt, s0);
	a.n_sack = 2;
	a.sack[0][0] = s0 + 5 * 1460;
	a.sack[0][1] = s0 + 6 * 1460;
	a.sack[1][0] = s0 + 1460;
	a.sack[1][1] = s0 + 4 * 1460;
	for (int k = 0; k < 3; k++)
		SEND_SEG(x, &a);
	EXPECT_LEN(x, TSEG_ACK, s0, PISS + 1, 1460);
	EXPECT_NONE(x);
	/* partial ACK of segment 0: the next hole is segment 4, not 1 */
	a.ack = s0 + 1460;
	SEND_SEG(x, &a);
	EXPECT_DATA(x, TSEG_ACK, s0 + 4 * 1460, PISS + 1, 4 * 1460, 1460);
	EXPECT_NONE(x);
	fx_free(x);
}

/* SACK blocks come out of a segment's fx_payload (RFC 2018 3): the last data
 * and the FIN, short of a full segment without them, no longer fit. The
 * FIN goes with the remainder; the header of the shortened segment carried
 * it, the peer accepted it 4 bytes early and lost those bytes (a lossy
 * pair test, then a reset). */
static void test_fin_not_on_sack_shortened_segment(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->sack = true;
	fx_established(x);
	uint32_t base = x->pnxt;
	/* a hole in the peer's data: our segments carry one SACK block */
	x->pnxt = base + 100;
	PEER_DATA(x, 100, 0);
	struct tseg *o = EXPECT(x, TSEG_ACK, x->siss + 1, base);
	assert_int_equal(o->n_sack, 1);
	/* 1452 bytes and the FIN fit 1460; with the block (12 bytes), 1448 */
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 1452, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	tseg_advance(&x->nf, 0);
	o = EXPECT_LEN(x, TSEG_ACK | TSEG_PSH, x->siss + 1, base, 1448);
	assert_int_equal(o->n_sack, 1);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH | TSEG_FIN, x->siss + 1 + 1448, base, 1448, 4);
	EXPECT_NONE(x);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_rto_backoff),
		cmocka_unit_test(test_retries_exhausted),
		cmocka_unit_test(test_no_rtt_from_echo_older_than_retransmit),
		cmocka_unit_test(test_spurious_rto_timestamps),
		cmocka_unit_test(test_spurious_rto_undoes_backoff),
		cmocka_unit_test(test_spurious_rto_twice_keeps_backoff),
		cmocka_unit_test(test_ack_after_timeouts_collapses_backoff),
		cmocka_unit_test(test_rto_genuine_loss_timestamps),
		cmocka_unit_test(test_spurious_rto_frto),
		cmocka_unit_test(test_rto_genuine_loss_frto),
		cmocka_unit_test(test_ack_after_rto_carries_snd_max),
		cmocka_unit_test(test_slow_start_stretch_ack),
		cmocka_unit_test(test_cwnd_byte_counting_ssthresh_and_ca),
		cmocka_unit_test(test_fast_retransmit),
		cmocka_unit_test(test_sack_skips_sacked),
		cmocka_unit_test(test_fin_not_on_sack_shortened_segment),
		cmocka_unit_test(test_sack_dupack_on_data),
		cmocka_unit_test(test_limited_transmit),
		cmocka_unit_test(test_early_retransmit),
		cmocka_unit_test(test_rto_skips_sacked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
