/* Unit tests for the TCP engine (lib/tcp), options, windows and guards:
 * window scaling, the zero window and its probes, timestamps and PAWS, SYN
 * cookies (a full backlog, a full pool), RFC 5961 and the rate limits on
 * challenge and out-of-window ACKs, keepalive, and random segments. A
 * stack on the simulated link and a raw peer port (tests/common/tcpfx.h):
 * each test feeds segments built from a template and asserts the stack's
 * replies field by field, with timers checked exactly on the virtual
 * clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcpfx.h"

static void test_zero_window_probe(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	SEND_WIN(x, TSEG_ACK, x->pnxt, x->siss + 1, 0);
	usn_tcp_send_ref(x->c, fx_payload, 3000, NULL);
	tseg_advance(&x->nf, 0);
	EXPECT_NONE(x);
	/* persist: RTO (200 ms) then doubling; probes carry an old sequence */
	uint64_t t = 200 * MS;
	for (int k = 0; k < 3; k++) {
		tseg_advance(&x->nf, t - 1);
		EXPECT_NONE(x);
		tseg_advance(&x->nf, 1);
		EXPECT_LEN(x, TSEG_ACK, x->siss, PISS + 1, 0);
		t *= 2;
	}
	assert_int_equal(st(x)->tcp_zero_window_probes, 3);
	/* the window opens: data flows */
	SEND_WIN(x, TSEG_ACK, x->pnxt, x->siss + 1, 2000);
	EXPECT_LEN(x, TSEG_ACK, x->siss + 1, PISS + 1, 1460);
	EXPECT_NONE(x); /* 540 would fit; SWS avoidance waits for the ACK */
	SEND_WIN(x, TSEG_ACK, x->pnxt, x->siss + 1461, 4000);
	EXPECT_LEN(x, TSEG_ACK, x->siss + 1461, PISS + 1, 1460);
	EXPECT_LEN(x, TSEG_ACK | TSEG_PSH, x->siss + 2921, PISS + 1, 80);
	fx_free(x);
}

static void test_window_scale(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ws = true;
	fx_syn_received(x);
	/* our SYN,ACK: ws 3 (262144 >> 3 fits 16 bits), window unscaled */
	struct tseg s = SEG(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 1000; /* << 2 = 4000 */
	SEND_SEG(x, &s);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.snd_wscale, 2);
	assert_int_equal(i.rcv_wscale, 3);
	assert_int_equal(i.snd_wnd, 4000);
	/* sending honours the scaled peer window */
	usn_tcp_send_ref(x->c, fx_payload, 10000, NULL);
	tseg_advance(&x->nf, 0);
	assert_int_equal(RECV(x)->len, 1460);
	assert_int_equal(RECV(x)->len, 1460);
	EXPECT_NONE(x); /* 1080 more would fit: sender SWS avoidance waits */
	/* our window goes out scaled by 3 */
	s = SEG(x, TSEG_ACK | TSEG_PSH, x->pnxt, x->siss + 1);
	s.window = 1000;
	s.payload = fx_payload;
	s.len = 1460;
	SEND_SEG(x, &s);
	s.seq += 1460;
	SEND_SEG(x, &s);
	x->pnxt += 2920;
	struct tseg *o = EXPECT(x, TSEG_ACK, x->siss + 1 + 2920, x->pnxt);
	assert_int_equal(o->window, 262144 >> 3);
	fx_free(x);
}

static void test_timestamps_paws(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 5000;
	fx_established(x);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_true(i.ts_ok);
	assert_int_equal(i.mss, 1460);
	PEER_DATA(x, 100, TSEG_FIN); /* FIN: ACKed at once */
	struct tseg *o = EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	assert_true(o->has_ts);
	assert_int_equal(o->tsecr, x->tsval);
	/* an old timestamp: PAWS drops it, with an ACK */
	struct tseg s = SEG(x, TSEG_ACK | TSEG_PSH, x->pnxt, x->siss + 1);
	s.tsval = 4000;
	s.payload = fx_payload;
	s.len = 10;
	SEND_SEG(x, &s);
	o = EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	assert_int_equal(o->tsecr, x->tsval - 1); /* still TS.Recent */
	assert_int_equal(st(x)->drop_tcp_paws, 1);
	assert_int_equal(x->rx_len, 100);
	fx_free(x);
}

static void backlog1(struct usn_stack_config *c)
{
	c->tcp_syn_backlog = 1;
}

static void test_syn_cookies(void **state)
{
	(void)state;
	struct fx *x = fx_new(backlog1);
	fx_syn_received(x); /* fills the half-open table */
	uint32_t free1 = usn_tcp_free_tcbs(x->nf.w);
	x->pport = PEER + 1;
	x->ts = true;
	x->tsval = 100;
	struct tseg s = SEG(x, TSEG_SYN, 7000, 0);
	s.has_mss = true;
	s.mss = 1400;
	s.has_ws = true;
	s.ws = 5;
	s.sack_perm = true;
	SEND_SEG(x, &s);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->ack, 7001);
	uint32_t cookie = o->seq;
	assert_true(o->has_ts);
	uint32_t cookie_tsval = o->tsval;
	assert_true(o->has_ws);
	assert_true(o->sack_perm);
	assert_int_equal(o->tsecr, x->tsval);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free1); /* no state */
	assert_int_equal(st(x)->tcp_syncookies_sent, 1);
	/* a forged ACK fails */
	SEND(x, TSEG_ACK, 7001, cookie + 2);
	EXPECT(x, TSEG_RST, cookie + 2, 0);
	assert_int_equal(st(x)->tcp_syncookies_bad, 1);
	/* the real one establishes with the options recovered */
	SEND(x, TSEG_ACK, 7001, cookie + 1);
	assert_int_equal(x->connected, 1);
	assert_int_equal(st(x)->tcp_syncookies_ok, 1);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	assert_int_equal(i.mss, 1400);
	assert_true(i.ts_ok);
	assert_true(i.sack_ok);
	assert_int_equal(i.snd_wscale, 5);
	assert_int_equal(i.snd_una, cookie + 1);
	/* The connection's timestamp clock is the one the cookie's TSval came
	 * from (same per-4-tuple offset): at the same virtual time its TSval is
	 * the cookie's with the 5 option bits restored, never behind it. */
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 100, NULL), 0);
	tseg_advance(&x->nf, 0);
	o = EXPECT(x, TSEG_ACK | TSEG_PSH, cookie + 1, 7001);
	assert_true(o->has_ts);
	assert_true(o->tsval - cookie_tsval < 0x20u);
	fx_free(x);
}

static void test_rfc5961(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	/* RST in window, not exact: challenge ACK */
	SEND(x, TSEG_RST, x->pnxt + 10, 0);
	EXPECT(x, TSEG_ACK, s1, x->pnxt);
	assert_int_equal(x->closed, 0);
	/* SYN on a synchronized connection: challenge ACK (one per
	 * connection per 500 ms) */
	tseg_advance(&x->nf, 500 * MS);
	SEND(x, TSEG_SYN, x->pnxt + 5000, 0);
	EXPECT(x, TSEG_ACK, s1, x->pnxt);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	/* ACK of data never sent: ACK and drop */
	tseg_advance(&x->nf, 500 * MS);
	SEND_DATA(x, TSEG_ACK | TSEG_PSH, x->pnxt, s1 + 5000, 0, 10);
	EXPECT(x, TSEG_ACK, s1, x->pnxt);
	assert_int_equal(x->rx_len, 0);
	assert_int_equal(st(x)->tcp_challenge_acks, 3);
	/* RST outside the window: silently dropped */
	SEND(x, TSEG_RST, x->pnxt + 1000000, 0);
	EXPECT_NONE(x);
	/* RST exactly at RCV.NXT resets */
	SEND(x, TSEG_RST, x->pnxt, 0);
	EXPECT_NONE(x);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_RESET);
	fx_free(x);
}

static void pool_of_one(struct usn_stack_config *c)
{
	c->tcp_max_conns = 1;
}

/* No TCB free and no TIME-WAIT to recycle: a SYN is answered with a SYN
 * cookie (it was dropped, and the client waited a SYN timeout); the
 * cookie's ACK is dropped without an answer while the pool is still full
 * (no RST: the client believes it is connected and retransmits); once a
 * TCB frees, the retransmitted data makes the connection. The established
 * connection meanwhile is untouched. */
static void test_syn_cookie_when_pool_full(void **state)
{
	(void)state;
	struct fx *x = fx_new(pool_of_one);
	fx_established(x); /* A: the pool's only TCB */
	struct usn_tcp_conn *a = x->c;
	uint32_t a_s1 = x->siss + 1, a_pnxt = x->pnxt;
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), 0);

	/* B's SYN: a cookie, no state */
	x->pport = PEER + 1;
	SEND_SYN(x, 7000, 1460);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->ack, 7001);
	uint32_t cookie = o->seq;
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_syncookies_sent, 1);
	assert_int_equal(st(x)->tcp_syncookies_pool_full, 1);
	assert_int_equal(st(x)->tcp_syncookies_backlog_full, 0);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), 0);

	/* B's ACK, and its first data: dropped, counted, no answer */
	SEND(x, TSEG_ACK, 7001, cookie + 1);
	SEND_DATA(x, TSEG_ACK | TSEG_PSH, 7001, cookie + 1, 0, 10);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->drop_tcp_cookie_pool_full, 2);
	assert_int_equal(st(x)->tcp_syncookies_ok, 0);
	assert_int_equal(st(x)->tcp_rst_tx, 0);
	assert_int_equal(x->connected, 1);

	/* A is untouched: data both ways */
	x->pport = PEER;
	x->pnxt = a_pnxt;
	x->siss = a_s1 - 1;
	PEER_DATA(x, 100, 0);
	assert_int_equal(x->rx_len, 100);
	assert_int_equal(usn_tcp_send_ref(a, fx_payload, 20, NULL), 0);
	tseg_advance(&x->nf, 0);
	EXPECT_LEN(x, TSEG_ACK | TSEG_PSH, a_s1, x->pnxt, 20);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);

	/* A ends (the peer closes first): its TCB is free again */
	SEND(x, TSEG_ACK | TSEG_FIN, x->pnxt, a_s1 + 20);
	x->pnxt++;
	EXPECT(x, TSEG_ACK, a_s1 + 20, x->pnxt);
	usn_tcp_close(a);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, a_s1 + 20, x->pnxt);
	SEND(x, TSEG_ACK, x->pnxt, a_s1 + 21);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_NORMAL);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), 1);

	/* B retransmits its data: the cookie is still good, and now a TCB is */
	x->pport = PEER + 1;
	SEND_DATA(x, TSEG_ACK | TSEG_PSH, 7001, cookie + 1, 0, 10);
	assert_int_equal(x->connected, 2);
	assert_int_equal(st(x)->tcp_syncookies_ok, 1);
	assert_int_equal(st(x)->drop_tcp_cookie_pool_full, 2);
	assert_int_equal(x->rx_len, 110);
	assert_memory_equal(x->rx + 100, fx_payload, 10);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), 0);
	fx_free(x);
}

/* A bare ACK out of the window is answered once per 500 ms (Linux's
 * tcp_invalid_ratelimit); data always is. Unlimited, two ends that
 * disagreed about the sequence space (as an RTO-rewound SND.NXT once made
 * them) traded ACKs for as long as the connection lived. */
static void test_out_of_window_ack_rate_limit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	struct tseg s = SEG(x, TSEG_ACK, x->pnxt + 300000, x->siss + 1);
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	SEND_SEG(x, &s);
	SEND_SEG(x, &s);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->drop_tcp_not_acceptable, 3);
	/* old data is answered regardless */
	SEND_DATA(x, TSEG_ACK | TSEG_PSH, x->pnxt - 10, x->siss + 1, 0, 5);
	EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	tseg_advance(&x->nf, 499 * MS);
	SEND_SEG(x, &s);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 1 * MS);
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	assert_int_equal(x->closed, 0);
	fx_free(x);
}

/* RFC 5961 7 with CVE-2016-5696 in mind: at most one challenge ACK per
 * connection per 500 ms (as Linux's tcp_invalid_ratelimit), whatever the
 * worker's budget; 1,010 RSTs in the window drew 1,000 (the whole budget
 * of the worker, shared by every connection: the side channel). */
static void test_challenge_ack_rate_limit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	for (int k = 0; k < 1010; k++)
		SEND(x, TSEG_RST, x->pnxt + 1, 0);
	int n = 0;
	struct tseg o;
	while (tseg_recv(&x->nf, &o))
		n++;
	assert_int_equal(n, 1);
	assert_int_equal(st(x)->tcp_challenge_acks, 1);
	assert_int_equal(st(x)->tcp_challenge_acks_skipped, 1009);
	tseg_advance(&x->nf, 499 * MS);
	struct tseg s = SEG(x, TSEG_SYN, x->pnxt + 1, 0);
	SEND_SEG(x, &s);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 1 * MS);
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	assert_int_equal(x->closed, 0);
	assert_int_equal(st(x)->tcp_challenge_acks, 2);
	fx_free(x);
}

static void test_keepalive(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	usn_tcp_set_keepalive(x->c, 5000);
	tseg_advance(&x->nf, 5000 * MS - 1);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 1);
	EXPECT(x, TSEG_ACK, x->siss, PISS + 1);
	/* an answer resets the idle clock */
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 5000 * MS);
	EXPECT(x, TSEG_ACK, x->siss, PISS + 1);
	/* silence: 9 probes, then the connection times out */
	for (int k = 1; k < 9; k++) {
		tseg_advance(&x->nf, 5000 * MS);
		EXPECT(x, TSEG_ACK, x->siss, PISS + 1);
	}
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 5000 * MS);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	fx_free(x);
}

/* Malformed and random segments: counted and dropped, never a crash; the
 * connection and the listener still work afterwards. */
static void test_random_segments(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->sack = true;
	fx_established(x);
	uint32_t rng = 12345;
	for (int k = 0; k < 3000; k++) {
		rng = rng * 1103515245u + 12345u;
		uint32_t r2 = rng * 2654435761u;
		struct tseg s = SEG(x, (uint8_t)(rng >> 8), x->pnxt + ((rng >> 16) % 3 == 0 ? 0 : r2 % 200000 - 100000),
				    x->siss + 1 + (r2 >> 20) % 5000 - 2500);
		s.src_port = (k % 7 == 0) ? (uint16_t)(r2 >> 3) : x->pport;
		s.window = (uint16_t)r2;
		s.has_ts = (r2 & 1) != 0;
		s.tsval = r2;
		s.n_sack = (uint8_t)((r2 >> 5) % 4);
		for (int j = 0; j < s.n_sack; j++) {
			s.sack[j][0] = x->siss + (r2 >> (j + 3)) % 9000;
			s.sack[j][1] = s.sack[j][0] + (rng >> 20) % 3000;
		}
		s.payload = fx_payload;
		s.len = (rng >> 24) % 3 == 0 ? (r2 >> 7) % 1400 : 0;
		s.bad_csum = (k % 11) == 0;
		SEND_SEG(x, &s);
		struct tseg o;
		while (tseg_recv(&x->nf, &o))
			assert_true(o.csum_ok);
		if (x->closed)
			break;
	}
	tseg_advance(&x->nf, 120000 * MS);
	netfix_drain(&x->nf);
	/* a new connection still completes */
	x->pport = 1234;
	x->sack = false;
	x->c = NULL;
	x->connected = 0;
	fx_established(x);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_window_probe),
		cmocka_unit_test(test_window_scale),
		cmocka_unit_test(test_timestamps_paws),
		cmocka_unit_test(test_syn_cookies),
		cmocka_unit_test(test_rfc5961),
		cmocka_unit_test(test_syn_cookie_when_pool_full),
		cmocka_unit_test(test_challenge_ack_rate_limit),
		cmocka_unit_test(test_out_of_window_ack_rate_limit),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_random_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
