/* Unit tests for the TCP idle timeout (usn_tcp_set_idle_timeout, the
 * slowloris defence): a stack on the simulated link and a raw peer port
 * (tests/common/tcpseg.h); the RST and closed_fn(TIMEOUT) are asserted at
 * the exact virtual microsecond, and what restarts the idle clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcpseg.h"
#include "usnet/tcp.h"

#define SRV 80
#define PEER 40001
#define PISS 5000u
#define MS 1000u
#define IDLE_MS 3000u

struct fx {
	struct netfix nf;
	struct usn_stack_config cfg;
	struct usn_tcp_conn *c;
	int connected, closed;
	enum usn_tcp_close_reason why;
	uint32_t idle_in_connected; /* set the timeout from connected_fn (as minimal_ws) */
	size_t rx_len;
	uint64_t sent;
	uint32_t siss, pnxt;
};

static void h_connected(struct usn_tcp_conn *c, void *user)
{
	struct fx *x = user;
	x->c = c;
	x->connected++;
	if (x->idle_in_connected)
		usn_tcp_set_idle_timeout(c, x->idle_in_connected);
}
static void h_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	struct fx *x = user;
	x->rx_len += usn_cursor_size(d);
}
static void h_sent(struct usn_tcp_conn *c, void *user, uint32_t n)
{
	(void)c;
	struct fx *x = user;
	x->sent += n;
}
static void h_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct fx *x = user;
	x->closed++;
	x->why = why;
}
static const struct usn_tcp_handlers H = {h_connected, h_recv, h_sent, NULL, h_closed};

static const uint8_t payload[4000];

static struct fx *fx_new(uint32_t idle_in_connected)
{
	struct fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	usn_stack_config_init(&x->cfg, NETFIX_STACK_IP, 15);
	x->cfg.tcp_timewait_ms = 1000;
	netfix_setup(&x->nf, &x->cfg, NULL);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	x->idle_in_connected = idle_in_connected;
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);
	return x;
}

static void fx_free(struct fx *x)
{
	netfix_teardown(&x->nf);
	free(x);
}

static struct tseg seg(uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tseg s;
	memset(&s, 0, sizeof s);
	s.src_port = PEER;
	s.dst_port = SRV;
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.window = 65535;
	return s;
}

static struct tseg *recv_seg(struct fx *x)
{
	static struct tseg o;
	assert_true(tseg_recv(&x->nf, &o));
	assert_true(o.csum_ok);
	assert_int_equal(o.src_port, SRV);
	assert_int_equal(o.dst_port, PEER);
	return &o;
}

static void expect_seg(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->flags, flags);
	assert_int_equal(o->seq, seq);
	if (flags & TSEG_ACK)
		assert_int_equal(o->ack, ack);
	assert_int_equal(o->len, len);
}

static void expect_none(struct fx *x)
{
	struct tseg o;
	assert_false(tseg_recv(&x->nf, &o));
}

/* Handshake without options; the peer's next sequence is PISS + 1. */
static void fx_established(struct fx *x)
{
	struct tseg s = seg(TSEG_SYN, PISS, 0);
	s.has_mss = true;
	s.mss = 1460;
	tseg_send(&x->nf, &s);
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	x->siss = o->seq;
	x->pnxt = PISS + 1;
	s = seg(TSEG_ACK, x->pnxt, x->siss + 1);
	tseg_send(&x->nf, &s);
	assert_int_equal(x->connected, 1);
	expect_none(x);
}

/* Sends n bytes of data from the peer (acknowledging everything of ours). */
static void peer_data(struct fx *x, uint32_t n, uint8_t extra_flags)
{
	struct tseg s = seg((uint8_t)(TSEG_ACK | TSEG_PSH | extra_flags), x->pnxt, x->siss + 1 + (uint32_t)x->sent);
	s.payload = payload;
	s.len = n;
	tseg_send(&x->nf, &s);
	x->pnxt += n + ((extra_flags & TSEG_FIN) ? 1 : 0);
}

static void expect_idle_rst(struct fx *x, uint32_t snd_max)
{
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	expect_seg(x, TSEG_RST | TSEG_ACK, snd_max, x->pnxt, 0);
	expect_none(x);
	assert_int_equal(usn_worker_stats(x->nf.w)->tcp_idle_timeouts, 1);
}

/* Set from connected_fn: nothing arrives, RST at exactly IDLE_MS. */
static void test_idle_exact(void **state)
{
	(void)state;
	struct fx *x = fx_new(IDLE_MS);
	uint32_t f = usn_tcp_free_tcbs(x->nf.w);
	fx_established(x);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), f - 1);
	tseg_advance(&x->nf, IDLE_MS * MS - 1);
	assert_int_equal(x->closed, 0);
	expect_none(x);
	tseg_advance(&x->nf, 1);
	expect_idle_rst(x, x->siss + 1);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), f);
	fx_free(x);
}

/* A partial request (data) restarts the clock; then the peer stalls. */
static void test_idle_restarted_by_data(void **state)
{
	(void)state;
	struct fx *x = fx_new(IDLE_MS);
	fx_established(x);
	tseg_advance(&x->nf, 2000 * MS);
	peer_data(x, 10, 0);
	assert_int_equal(x->rx_len, 10);
	tseg_advance(&x->nf, 2000 * MS); /* past the first deadline (3000 ms) */
	assert_int_equal(x->closed, 0);
	expect_seg(x, TSEG_ACK, x->siss + 1, x->pnxt, 0); /* the delayed ACK of the 10 bytes */
	expect_none(x);
	/* 2000 + 3000: exactly IDLE_MS after the data */
	tseg_advance(&x->nf, 1000 * MS - 1);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1);
	expect_idle_rst(x, x->siss + 1);
	fx_free(x);
}

/* A pure ACK (no data, nothing of ours acknowledged) does not count. */
static void test_idle_pure_ack_is_idle(void **state)
{
	(void)state;
	struct fx *x = fx_new(IDLE_MS);
	fx_established(x);
	tseg_advance(&x->nf, 1500 * MS);
	struct tseg s = seg(TSEG_ACK, x->pnxt, x->siss + 1);
	tseg_send(&x->nf, &s);
	expect_none(x);
	tseg_advance(&x->nf, 1500 * MS - 1);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1);
	expect_idle_rst(x, x->siss + 1);
	fx_free(x);
}

/* Our data acknowledged is progress; the clock runs from the last ACK of
 * new data, and not at all while data of ours is outstanding. */
static void test_idle_our_data_acked(void **state)
{
	(void)state;
	struct fx *x = fx_new(IDLE_MS);
	fx_established(x);
	tseg_advance(&x->nf, 2500 * MS);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 1000, NULL), 0);
	tseg_advance(&x->nf, 0);
	struct tseg *d = recv_seg(x);
	assert_int_equal(d->seq, x->siss + 1);
	assert_int_equal(d->len, 1000);
	/* unacknowledged past the idle deadline: the RTO governs (its
	 * retransmissions are not checked here) */
	tseg_advance(&x->nf, 1000 * MS);
	struct tseg o;
	int rtx = 0;
	while (tseg_recv(&x->nf, &o)) {
		assert_int_equal(o.seq, x->siss + 1);
		assert_int_equal(o.len, 1000);
		rtx++;
	}
	assert_true(rtx >= 1);
	assert_int_equal(x->closed, 0);
	struct tseg s = seg(TSEG_ACK, x->pnxt, x->siss + 1 + 1000);
	tseg_send(&x->nf, &s); /* at 3500 ms */
	x->sent = 1000;
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, IDLE_MS * MS - 1);
	assert_int_equal(x->closed, 0);
	expect_none(x);
	tseg_advance(&x->nf, 1);
	expect_idle_rst(x, x->siss + 1 + 1000);
	fx_free(x);
}

/* Keepalive and the idle timeout share the timer: probes at their time,
 * the idle abort at its own. */
static void test_idle_with_keepalive(void **state)
{
	(void)state;
	struct fx *x = fx_new(0);
	fx_established(x);
	usn_tcp_set_keepalive(x->c, 1000);
	usn_tcp_set_idle_timeout(x->c, 2500);
	tseg_advance(&x->nf, 1000 * MS);
	expect_seg(x, TSEG_ACK, x->siss, x->pnxt, 0); /* probe 1 */
	struct tseg s = seg(TSEG_ACK, x->pnxt, x->siss + 1);
	tseg_send(&x->nf, &s); /* answered: keepalive happy, still idle */
	tseg_advance(&x->nf, 1000 * MS);
	expect_seg(x, TSEG_ACK, x->siss, x->pnxt, 0); /* probe 2 at 2000 ms */
	tseg_advance(&x->nf, 500 * MS - 1);
	assert_int_equal(x->closed, 0);
	expect_none(x);
	tseg_advance(&x->nf, 1);
	expect_idle_rst(x, x->siss + 1);
	fx_free(x);
}

/* Not once we close: FIN-WAIT states have their own limits; and CLOSE_WAIT
 * still counts (the application has not closed). 0 disables. */
static void test_idle_states_and_off(void **state)
{
	(void)state;
	/* our close: FIN-WAIT-1 then FIN-WAIT-2, no idle abort */
	struct fx *x = fx_new(IDLE_MS);
	fx_established(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	tseg_advance(&x->nf, 0);
	expect_seg(x, TSEG_ACK | TSEG_FIN, x->siss + 1, x->pnxt, 0);
	struct tseg s = seg(TSEG_ACK, x->pnxt, x->siss + 2);
	tseg_send(&x->nf, &s);
	tseg_advance(&x->nf, 2 * IDLE_MS * MS);
	assert_int_equal(x->closed, 0);
	expect_none(x);
	assert_int_equal(usn_worker_stats(x->nf.w)->tcp_idle_timeouts, 0);
	fx_free(x);

	/* the peer's FIN (CLOSE_WAIT) restarts the clock, then it runs */
	x = fx_new(IDLE_MS);
	fx_established(x);
	tseg_advance(&x->nf, 1000 * MS);
	peer_data(x, 0, TSEG_FIN);
	expect_seg(x, TSEG_ACK, x->siss + 1, x->pnxt, 0);
	tseg_advance(&x->nf, IDLE_MS * MS - 1);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1);
	expect_idle_rst(x, x->siss + 1);
	fx_free(x);

	/* 0: off */
	x = fx_new(IDLE_MS);
	fx_established(x);
	usn_tcp_set_idle_timeout(x->c, 0);
	tseg_advance(&x->nf, 10 * IDLE_MS * MS);
	assert_int_equal(x->closed, 0);
	expect_none(x);
	assert_int_equal(usn_worker_next_deadline_us(x->nf.w), UINT64_MAX);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_idle_exact),
	    cmocka_unit_test(test_idle_restarted_by_data),
	    cmocka_unit_test(test_idle_pure_ack_is_idle),
	    cmocka_unit_test(test_idle_our_data_acked),
	    cmocka_unit_test(test_idle_with_keepalive),
	    cmocka_unit_test(test_idle_states_and_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
