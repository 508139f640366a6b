/* Unit tests for the TCP engine (lib/tcp), closing: the active, passive
 * and simultaneous close, the close-pending states, closing and aborting
 * from a handler, FIN-WAIT-2's limit, the connection-state gauges,
 * TIME-WAIT (its length, reuse by timestamp or ISN, its bound, a SYN
 * taking its TCB when the pool is full). A stack on the simulated link
 * and a raw peer port (tests/common/tcpfx.h): each test feeds segments
 * built from a template and asserts the stack's replies field by field,
 * with timers checked exactly on the virtual clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcpfx.h"

static void test_active_close_time_wait(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	assert_int_equal(usn_tcp_close(x->c), 0);
	assert_int_equal(state_of(x), USN_TCP_FIN_WAIT_1);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 1);
	assert_int_equal(state_of(x), USN_TCP_FIN_WAIT_2);
	/* half-close: data still arrives in FIN-WAIT-2 */
	PEER_DATA(x, 50, TSEG_FIN);
	assert_int_equal(x->rx_len, 50);
	assert_int_equal(x->remote_closed, 1);
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	assert_int_equal(x->closed, 1); /* announced on entering TIME-WAIT */
	assert_int_equal(x->why, USN_TCP_CLOSE_NORMAL);
	/* a retransmitted FIN in TIME-WAIT is ACKed */
	x->pnxt--;
	PEER_DATA(x, 0, TSEG_FIN);
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	tseg_advance(&x->nf, 1000 * MS);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0);
	assert_int_equal(x->closed, 1);
	fx_free(x);
}

/* The connection-state gauges (conns_* in usnet/stats.h) follow every
 * transition: one connection is counted in exactly one state, and in none
 * once it is gone, whichever way it went (RST in SYN-RECEIVED, TIME-WAIT
 * expiry). */
static uint64_t gauges_sum(struct fx *x)
{
	uint64_t n = 0;
	for (size_t i = 0; i < usn_stats_count(); i++)
		if (usn_stats_is_gauge(i))
			n += usn_stats_value(st(x), i);
	return n;
}

static void test_state_gauges(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	assert_int_equal(gauges_sum(x), 0);
	/* SYN-RECEIVED, then reset by the peer: gone */
	fx_syn_received(x);
	assert_int_equal(st(x)->conns_syn_received, 1);
	assert_int_equal(gauges_sum(x), 1);
	SEND(x, TSEG_RST, x->pnxt, 0);
	assert_int_equal(gauges_sum(x), 0);
	/* a new one through every state of an active close */
	x->pport++;
	fx_established(x);
	assert_int_equal(st(x)->conns_established, 1);
	assert_int_equal(st(x)->conns_syn_received, 0);
	assert_int_equal(gauges_sum(x), 1);
	uint32_t s1 = x->siss + 1;
	assert_int_equal(usn_tcp_close(x->c), 0);
	assert_int_equal(st(x)->conns_fin_wait_1, 1);
	assert_int_equal(st(x)->conns_established, 0);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 1);
	assert_int_equal(st(x)->conns_fin_wait_2, 1);
	assert_int_equal(st(x)->conns_fin_wait_1, 0);
	PEER_DATA(x, 0, TSEG_FIN);
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	assert_int_equal(st(x)->conns_time_wait, 1);
	assert_int_equal(gauges_sum(x), 1);
	tseg_advance(&x->nf, 1000 * MS);
	assert_int_equal(st(x)->conns_time_wait, 0);
	assert_int_equal(gauges_sum(x), 0);
	fx_free(x);
}

/* FIN-WAIT-2 is an idle limit of twice the back-off ceiling: a peer whose
 * RTO has reached the ceiling (60 s) retransmits its last data a little
 * after 60 s of silence, and must still find the connection there. */
static void test_fin_wait_2_outlasts_peer_backoff(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	assert_int_equal(usn_tcp_close(x->c), 0);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 1);
	assert_int_equal(state_of(x), USN_TCP_FIN_WAIT_2);
	tseg_advance(&x->nf, 60001 * MS);
	assert_int_equal(x->closed, 0);
	PEER_DATA(x, 50, 0);
	assert_int_equal(x->rx_len, 50);
	tseg_advance(&x->nf, 40 * MS);
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	/* then 120 s of silence ends it */
	tseg_advance(&x->nf, 119959 * MS);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1 * MS);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	EXPECT_NONE(x);
	fx_free(x);
}

static void test_passive_close(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	PEER_DATA(x, 0, TSEG_FIN);
	EXPECT(x, TSEG_ACK, s1, x->pnxt);
	assert_int_equal(x->remote_closed, 1);
	assert_int_equal(state_of(x), USN_TCP_CLOSE_WAIT);
	usn_tcp_send_ref(x->c, fx_payload, 10, NULL);
	usn_tcp_close(x->c);
	assert_int_equal(state_of(x), USN_TCP_CLOSE_PENDING_RCVD_FIN);
	tseg_advance(&x->nf, 0);
	EXPECT_LEN(x, TSEG_ACK | TSEG_PSH | TSEG_FIN, s1, x->pnxt, 10);
	assert_int_equal(state_of(x), USN_TCP_LAST_ACK);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 11);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_NORMAL);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0);
	fx_free(x);
}

static void test_simultaneous_close(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	usn_tcp_close(x->c);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
	/* the peer's FIN crosses ours (does not ACK it): CLOSING */
	SEND(x, TSEG_ACK | TSEG_FIN, x->pnxt, s1);
	x->pnxt++;
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	assert_int_equal(state_of(x), USN_TCP_CLOSING);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 1);
	assert_int_equal(x->closed, 1); /* TIME-WAIT */
	assert_int_equal(st(x)->tcp_closed, 0);
	tseg_advance(&x->nf, 1000 * MS);
	assert_int_equal(st(x)->tcp_closed, 1);
	fx_free(x);
}

static void test_close_pending(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	SEND_WIN(x, TSEG_ACK, x->pnxt, s1, 0);
	usn_tcp_send_ref(x->c, fx_payload, 100, NULL);
	assert_int_equal(usn_tcp_close(x->c), 0);
	assert_int_equal(state_of(x), USN_TCP_CLOSE_PENDING);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 1, NULL), -EPIPE);
	tseg_advance(&x->nf, 0);
	EXPECT_NONE(x); /* no FIN before the data */
	/* the peer's FIN: CLOSE_PENDING_RCVD_FIN */
	SEND_WIN(x, TSEG_ACK | TSEG_FIN, x->pnxt, s1, 0);
	x->pnxt++;
	EXPECT(x, TSEG_ACK, s1, x->pnxt);
	assert_int_equal(state_of(x), USN_TCP_CLOSE_PENDING_RCVD_FIN);
	/* the window opens: data + FIN, LAST_ACK */
	SEND(x, TSEG_ACK, x->pnxt, s1);
	EXPECT_LEN(x, TSEG_ACK | TSEG_PSH | TSEG_FIN, s1, x->pnxt, 100);
	assert_int_equal(state_of(x), USN_TCP_LAST_ACK);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 101);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->sent, 100);
	fx_free(x);
}

static void test_close_pending_to_fin_wait(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	SEND_WIN(x, TSEG_ACK, x->pnxt, s1, 1000);
	usn_tcp_send_ref(x->c, fx_payload, 1500, NULL);
	usn_tcp_close(x->c);
	assert_int_equal(state_of(x), USN_TCP_CLOSE_PENDING);
	tseg_advance(&x->nf, 0);
	assert_int_equal(EXPECT(x, TSEG_ACK, s1, PISS + 1)->len, 1000);
	EXPECT_NONE(x);
	assert_int_equal(state_of(x), USN_TCP_CLOSE_PENDING);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 1000);
	assert_int_equal(EXPECT(x, TSEG_ACK | TSEG_PSH | TSEG_FIN, s1 + 1000, PISS + 1)->len, 500);
	assert_int_equal(state_of(x), USN_TCP_FIN_WAIT_1);
	fx_free(x);
}

static void test_close_and_abort_in_handler(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	x->abort_in_recv = true;
	PEER_DATA(x, 10, 0);
	EXPECT(x, TSEG_RST | TSEG_ACK, x->siss + 1, x->pnxt);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_ABORTED);
	fx_free(x);
	x = fx_new(NULL);
	fx_established(x);
	x->close_in_recv = true;
	PEER_DATA(x, 10, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, x->siss + 1, x->pnxt);
	assert_int_equal(state_of(x), USN_TCP_FIN_WAIT_1);
	fx_free(x);
}

static void test_time_wait_reuse(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	usn_tcp_close(x->c);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
	SEND(x, TSEG_ACK | TSEG_FIN, x->pnxt, s1 + 1);
	x->pnxt++;
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	assert_int_equal(x->closed, 1);
	/* an old timestamp: the TIME-WAIT stays (challenge ACK) */
	struct tseg s = SEG(x, TSEG_SYN, x->pnxt + 100000, 0);
	s.tsval = 50;
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	assert_int_equal(st(x)->tcp_timewait_reused, 0);
	/* a newer one opens a new connection */
	SEND_SYN(x, x->pnxt + 100000, 1460);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->ack, x->pnxt + 100001);
	assert_int_equal(st(x)->tcp_timewait_reused, 1);
	fx_free(x);
}

/* The same timestamp (the same millisecond at the client): the ISN decides,
 * as in Linux; refused, the client waited a second for its next SYN. */
static void test_time_wait_reuse_same_timestamp(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	usn_tcp_close(x->c);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
	SEND(x, TSEG_ACK | TSEG_FIN, x->pnxt, s1 + 1);
	uint32_t ts_fin = x->tsval; /* the FIN's TSval */
	x->pnxt++;
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	/* same TSval, an ISN not beyond rcv_nxt: the TIME-WAIT stays */
	struct tseg s = SEG(x, TSEG_SYN, x->pnxt - 10, 0);
	s.tsval = ts_fin;
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	assert_int_equal(st(x)->tcp_timewait_reused, 0);
	/* same TSval, a newer ISN: a new connection */
	s = SEG(x, TSEG_SYN, x->pnxt + 100000, 0);
	s.tsval = ts_fin;
	s.has_mss = true;
	s.mss = 1460;
	SEND_SEG(x, &s);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->ack, x->pnxt + 100001);
	assert_int_equal(st(x)->tcp_timewait_reused, 1);
	fx_free(x);
}

static void tw_small(struct usn_stack_config *c)
{
	c->tcp_max_timewait = 1;
}

static void test_time_wait_bounded(void **state)
{
	(void)state;
	struct fx *x = fx_new(tw_small);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	for (int k = 0; k < 2; k++) {
		x->pport = (uint16_t)(PEER + k);
		x->c = NULL;
		x->connected = 0;
		fx_established(x);
		uint32_t s1 = x->siss + 1;
		usn_tcp_close(x->c);
		tseg_advance(&x->nf, 0);
		EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
		SEND(x, TSEG_ACK | TSEG_FIN, x->pnxt, s1 + 1);
		EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt + 1);
	}
	assert_int_equal(st(x)->tcp_timewait_overflow, 1);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0 - 1);
	fx_free(x);
}

static void tw_fills_pool(struct usn_stack_config *c)
{
	c->tcp_max_conns = 2;
	c->tcp_max_timewait = 2;
}

/* tcp_max_timewait may let TIME-WAIT hold the whole pool: a new SYN then
 * takes the oldest TIME-WAIT's TCB instead of being dropped (it was, and
 * the client waited for its SYN timeout). */
static void test_syn_takes_time_wait_tcb_when_pool_full(void **state)
{
	(void)state;
	struct fx *x = fx_new(tw_fills_pool);
	uint32_t s1[2];
	for (int k = 0; k < 2; k++) {
		x->pport = (uint16_t)(PEER + k);
		x->c = NULL;
		x->connected = 0;
		fx_established(x);
		s1[k] = x->siss + 1;
		usn_tcp_close(x->c);
		tseg_advance(&x->nf, 0);
		EXPECT(x, TSEG_ACK | TSEG_FIN, s1[k], PISS + 1);
		SEND(x, TSEG_ACK | TSEG_FIN, x->pnxt, s1[k] + 1);
		EXPECT(x, TSEG_ACK, s1[k] + 1, x->pnxt + 1);
	}
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), 0);
	/* a third peer: SYN,ACK at once */
	x->pport = PEER + 2;
	x->c = NULL;
	x->connected = 0;
	fx_established(x);
	assert_int_equal(st(x)->tcp_timewait_overflow, 1);
	assert_int_equal(st(x)->tcp_pool_empty, 0);
	assert_int_equal(st(x)->tcp_syncookies_sent, 0); /* a TCB, not a cookie */
	/* the newer TIME-WAIT is still there: a repeated FIN is ACKed; the
	 * older one is gone: RST */
	x->pport = PEER + 1;
	SEND(x, TSEG_ACK | TSEG_FIN, PISS + 1, s1[1] + 1);
	EXPECT(x, TSEG_ACK, s1[1] + 1, PISS + 2);
	x->pport = PEER;
	SEND(x, TSEG_ACK | TSEG_FIN, PISS + 1, s1[0] + 1);
	EXPECT(x, TSEG_RST, s1[0] + 1, 0);
	EXPECT_NONE(x);
	fx_free(x);
}

static void test_fin_wait_1_to_time_wait(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	usn_tcp_close(x->c);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
	/* FIN and the ACK of ours in one segment: straight to TIME-WAIT */
	SEND(x, TSEG_ACK | TSEG_FIN, x->pnxt, s1 + 1);
	x->pnxt++;
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_NORMAL);
	assert_int_equal(x->remote_closed, 1);
	/* 2 MSL exactly (tcp_timewait_ms = 1000) */
	uint32_t f = usn_tcp_free_tcbs(x->nf.w);
	tseg_advance(&x->nf, 1000 * MS - 1);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), f);
	tseg_advance(&x->nf, 1);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), f + 1);
	fx_free(x);
}

static void test_syn_sent_close(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	uint32_t f = usn_tcp_free_tcbs(x->nf.w);
	struct tseg *syn;
	fx_connect(x, &syn);
	assert_int_equal(usn_tcp_close(x->c), 0);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_ABORTED);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), f);
	tseg_advance(&x->nf, 5000 * MS);
	EXPECT_NONE(x);
	fx_free(x);
}

static void test_time_wait_reuse_by_isn(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	usn_tcp_close(x->c);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_FIN, s1, PISS + 1);
	SEND(x, TSEG_ACK | TSEG_FIN, x->pnxt, s1 + 1);
	x->pnxt++;
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	/* without timestamps: an ISN at or below rcv_nxt keeps the TIME-WAIT */
	SEND(x, TSEG_SYN, x->pnxt - 10, 0);
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	SEND(x, TSEG_SYN, x->pnxt + 5, 0);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->ack, x->pnxt + 6);
	assert_int_equal(st(x)->tcp_timewait_reused, 1);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_active_close_time_wait),
		cmocka_unit_test(test_state_gauges),
		cmocka_unit_test(test_fin_wait_2_outlasts_peer_backoff),
		cmocka_unit_test(test_passive_close),
		cmocka_unit_test(test_simultaneous_close),
		cmocka_unit_test(test_close_pending),
		cmocka_unit_test(test_close_pending_to_fin_wait),
		cmocka_unit_test(test_close_and_abort_in_handler),
		cmocka_unit_test(test_time_wait_reuse),
		cmocka_unit_test(test_time_wait_reuse_same_timestamp),
		cmocka_unit_test(test_time_wait_bounded),
		cmocka_unit_test(test_syn_takes_time_wait_tcb_when_pool_full),
		cmocka_unit_test(test_fin_wait_1_to_time_wait),
		cmocka_unit_test(test_syn_sent_close),
		cmocka_unit_test(test_time_wait_reuse_by_isn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
