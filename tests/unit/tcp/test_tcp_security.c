/* Unit tests for the TCP engine against a hostile peer: a stack on the
 * simulated link and a raw peer port (tests/common/tcpseg.h), each test an
 * attack at segment level and the exact reply, timer or counter that shows
 * the stack holding: clocks a peer cannot keep running with junk, TS.Recent
 * moved only by validated segments, application deadlines, RFC 1337,
 * zero-window probes in both directions, challenge-ACK limits. */
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
#define PEER 40002
#define PISS 7000u
#define MS 1000u

struct fx {
	struct netfix nf;
	struct usn_stack_config cfg;
	struct usn_tcp_conn *c;
	int connected, closed;
	enum usn_tcp_close_reason why;
	size_t rx_len;
	uint64_t sent;
	bool hold; /* recv_fn keeps what it gets (usn_tcp_recv_hold) */
	uint32_t siss, pnxt;
	bool ts;
	uint32_t tsval, stack_ts;
};

static void h_connected(struct usn_tcp_conn *c, void *user)
{
	struct fx *x = user;
	x->c = c;
	x->connected++;
}
static void h_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	struct fx *x = user;
	x->rx_len += usn_cursor_size(d);
	if (x->hold)
		usn_tcp_recv_hold(c, usn_cursor_size(d));
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

static const uint8_t payload[8192];

static struct fx *fx_new(void (*tweak)(struct usn_stack_config *))
{
	struct fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	usn_stack_config_init(&x->cfg, NETFIX_STACK_IP, 15);
	x->cfg.tcp_timewait_ms = 1000;
	if (tweak)
		tweak(&x->cfg);
	netfix_setup(&x->nf, &x->cfg, NULL);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);
	return x;
}

static void fx_free(struct fx *x)
{
	netfix_teardown(&x->nf);
	free(x);
}

static const struct usn_stats *st(struct fx *x)
{
	return usn_worker_stats(x->nf.w);
}

/* A segment from the peer; with timestamps, the next TSval. */
static struct tseg seg(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tseg s;
	memset(&s, 0, sizeof s);
	s.src_port = PEER;
	s.dst_port = SRV;
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.window = 65535;
	if (x->ts) {
		s.has_ts = true;
		s.tsval = ++x->tsval;
		s.tsecr = x->stack_ts;
	}
	return s;
}

static struct tseg *recv_seg(struct fx *x)
{
	static struct tseg o;
	assert_true(tseg_recv(&x->nf, &o));
	assert_true(o.csum_ok);
	assert_int_equal(o.src_port, SRV);
	assert_int_equal(o.dst_port, PEER);
	if (o.has_ts)
		x->stack_ts = o.tsval;
	return &o;
}

/* A segment of any of the stack's connections. */
static struct tseg *recv_seg_any(struct fx *x)
{
	static struct tseg o;
	assert_true(tseg_recv(&x->nf, &o));
	assert_true(o.csum_ok);
	return &o;
}

static struct tseg *expect_seg(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->flags, flags);
	assert_int_equal(o->seq, seq);
	if (flags & TSEG_ACK)
		assert_int_equal(o->ack, ack);
	assert_int_equal(o->len, len);
	return o;
}

static void expect_none(struct fx *x)
{
	struct tseg o;
	assert_false(tseg_recv(&x->nf, &o));
}

static void drain(struct fx *x)
{
	struct tseg o;
	while (tseg_recv(&x->nf, &o))
		;
}

static enum usn_tcp_state state_of(struct fx *x)
{
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	return i.state;
}

/* Handshake (MSS 1460, no window scale or SACK; timestamps if x->ts);
 * the peer's next sequence is PISS + 1. */
static void fx_established(struct fx *x)
{
	struct tseg s = seg(x, TSEG_SYN, PISS, 0);
	s.has_mss = true;
	s.mss = 1460;
	tseg_send(&x->nf, &s);
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->has_ts, x->ts);
	x->siss = o->seq;
	x->pnxt = PISS + 1;
	s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	tseg_send(&x->nf, &s);
	assert_int_equal(x->connected, 1);
	expect_none(x);
}

/* n bytes of new data from the peer, acknowledging what we sent. */
static void peer_data(struct fx *x, uint32_t n, uint8_t extra)
{
	struct tseg s = seg(x, (uint8_t)(TSEG_ACK | TSEG_PSH | extra), x->pnxt, x->siss + 1 + (uint32_t)x->sent);
	s.payload = payload;
	s.len = n;
	tseg_send(&x->nf, &s);
	x->pnxt += n + ((extra & TSEG_FIN) ? 1 : 0);
}

/* The byte before pnxt again: already delivered and acknowledged. */
static void peer_dup_byte(struct fx *x)
{
	struct tseg s = seg(x, TSEG_ACK | TSEG_PSH, x->pnxt - 1, x->siss + 1 + (uint32_t)x->sent);
	s.payload = payload;
	s.len = 1;
	tseg_send(&x->nf, &s);
}

/* ---- TS.Recent (RFC 7323 4.3) ---- */

/* An in-window segment whose ACK is unacceptable (data never sent) and
 * whose TSval is far ahead must not become TS.Recent: it is answered with a
 * challenge ACK echoing the old TS.Recent, and the peer's next genuine
 * segment passes PAWS. Before, TS.Recent was taken before the ACK check,
 * and every genuine segment after it was dropped as old. */
static void test_ts_recent_only_after_ack_check(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 5000;
	fx_established(x);
	uint32_t recent = x->tsval;
	struct tseg s = seg(x, TSEG_ACK | TSEG_PSH, x->pnxt, x->siss + 1 + 100000);
	s.tsval = x->tsval + (1u << 30);
	s.payload = payload;
	s.len = 10;
	tseg_send(&x->nf, &s);
	struct tseg *o = expect_seg(x, TSEG_ACK, x->siss + 1, x->pnxt, 0);
	assert_int_equal(o->tsecr, recent);
	assert_int_equal(x->rx_len, 0);
	assert_int_equal(st(x)->tcp_challenge_acks, 1);
	/* the genuine next segment is taken, and echoed */
	peer_data(x, 10, TSEG_FIN);
	assert_int_equal(x->rx_len, 10);
	assert_int_equal(st(x)->drop_tcp_paws, 0);
	o = expect_seg(x, TSEG_ACK, x->siss + 1, x->pnxt, 0);
	assert_int_equal(o->tsecr, x->tsval);
	fx_free(x);
}

/* ---- clocks a peer cannot keep running with junk ---- */

/* The idle timeout counts only new in-order data (or new data of ours
 * acknowledged). A peer that re-sends an already-acknowledged byte every
 * second, or sends bytes outside the window, or bytes PAWS rejects, is
 * answered (an ACK) but stays idle: RST exactly IDLE after its last new
 * byte. Before, any segment that matched the connection restarted it. */
static void test_idle_not_restarted_by_junk(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_established(x);
	usn_tcp_set_idle_timeout(x->c, 3000);
	peer_data(x, 10, 0); /* half a request, at t0 */
	assert_int_equal(x->rx_len, 10);
	for (int k = 0; k < 5; k++) {
		tseg_advance(&x->nf, 500 * MS);
		drain(x);
		struct tseg s;
		switch (k % 3) {
		case 0:
			peer_dup_byte(x);
			break;
		case 1: /* beyond the window */
			s = seg(x, TSEG_ACK | TSEG_PSH, x->pnxt + 1000000, x->siss + 1);
			s.payload = payload;
			s.len = 5;
			tseg_send(&x->nf, &s);
			break;
		default: /* new bytes, but an old timestamp: PAWS */
			s = seg(x, TSEG_ACK | TSEG_PSH, x->pnxt, x->siss + 1);
			s.tsval = 50;
			s.payload = payload;
			s.len = 5;
			tseg_send(&x->nf, &s);
			break;
		}
		expect_seg(x, TSEG_ACK, x->siss + 1, x->pnxt, 0); /* each answered */
	}
	assert_int_equal(x->rx_len, 10);
	assert_int_equal(st(x)->drop_tcp_paws, 1);
	/* 2500 ms after the data; the deadline is 3000 */
	tseg_advance(&x->nf, 500 * MS - 1);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	expect_seg(x, TSEG_RST | TSEG_ACK, x->siss + 1, x->pnxt, 0);
	assert_int_equal(st(x)->tcp_idle_timeouts, 1);
	fx_free(x);
}

/* Keepalive: only an acceptable segment shows the peer alive; junk outside
 * the window does not put the probe off. */
static void test_keepalive_not_fed_by_junk(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	usn_tcp_set_keepalive(x->c, 5000);
	for (int k = 0; k < 2; k++) {
		tseg_advance(&x->nf, 2000 * MS);
		struct tseg s = seg(x, TSEG_ACK, x->pnxt + 1000000, x->siss + 1);
		tseg_send(&x->nf, &s);
		drain(x);
	}
	tseg_advance(&x->nf, 1000 * MS - 1);
	expect_none(x);
	tseg_advance(&x->nf, 1);
	expect_seg(x, TSEG_ACK, x->siss, x->pnxt, 0); /* the first probe, at 5000 ms */
	fx_free(x);
}

/* FIN-WAIT-2 ends after its idle limit (2 x tcp_rto_max_ms = 120 s)
 * without new data, however often the peer repeats old bytes. */
static void test_fin_wait_2_not_extended_by_duplicates(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	peer_data(x, 20, 0);
	tseg_advance(&x->nf, 100 * MS);
	drain(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	tseg_advance(&x->nf, 0);
	expect_seg(x, TSEG_ACK | TSEG_FIN, x->siss + 1, x->pnxt, 0);
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 2);
	tseg_send(&x->nf, &s); /* our FIN acked: FIN-WAIT-2 from here */
	assert_int_equal(state_of(x), USN_TCP_FIN_WAIT_2);
	for (int k = 0; k < 3; k++) {
		tseg_advance(&x->nf, 30000 * MS);
		peer_dup_byte(x);
		expect_seg(x, TSEG_ACK, x->siss + 2, x->pnxt, 0);
	}
	tseg_advance(&x->nf, 30000 * MS - 1);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	fx_free(x);
}

/* ---- the application's deadline (usn_tcp_set_deadline) ---- */

/* It fires at its time whatever the peer sends (new data included), with
 * a RST and closed_fn(TIMEOUT); setting it again re-arms it from then, 0
 * clears it, and it never outlives closed_fn (TIME-WAIT). */
static void test_deadline(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	usn_tcp_set_deadline(x->c, 1000);
	tseg_advance(&x->nf, 600 * MS);
	usn_tcp_set_deadline(x->c, 1000); /* re-armed: now due at 1600 ms */
	for (int k = 0; k < 4; k++) {
		tseg_advance(&x->nf, 200 * MS);
		peer_data(x, 5, 0);
		tseg_advance(&x->nf, 0);
		drain(x);
	}
	assert_int_equal(x->rx_len, 20);
	tseg_advance(&x->nf, 200 * MS - 1);
	drain(x); /* the delayed ACK of the last bytes */
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	expect_seg(x, TSEG_RST | TSEG_ACK, x->siss + 1, x->pnxt, 0);
	expect_none(x);
	assert_int_equal(st(x)->tcp_deadline_timeouts, 1);
	fx_free(x);

	/* cleared: nothing happens */
	x = fx_new(NULL);
	fx_established(x);
	usn_tcp_set_deadline(x->c, 1000);
	usn_tcp_set_deadline(x->c, 0);
	tseg_advance(&x->nf, 5000 * MS);
	assert_int_equal(x->closed, 0);
	expect_none(x);
	assert_int_equal(usn_worker_next_deadline_us(x->nf.w), UINT64_MAX);
	fx_free(x);

	/* the connection closes normally first: into TIME-WAIT, no abort */
	x = fx_new(NULL);
	fx_established(x);
	usn_tcp_set_deadline(x->c, 1000);
	assert_int_equal(usn_tcp_close(x->c), 0);
	tseg_advance(&x->nf, 0);
	expect_seg(x, TSEG_ACK | TSEG_FIN, x->siss + 1, x->pnxt, 0);
	struct tseg s = seg(x, TSEG_ACK | TSEG_FIN, x->pnxt, x->siss + 2); /* acks our FIN too */
	tseg_send(&x->nf, &s);
	x->pnxt++;
	expect_seg(x, TSEG_ACK, x->siss + 2, x->pnxt, 0);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_NORMAL);
	tseg_advance(&x->nf, 2000 * MS);
	expect_none(x);
	assert_int_equal(x->closed, 1);
	assert_int_equal(st(x)->tcp_deadline_timeouts, 0);
	fx_free(x);
}

/* ---- zero windows ---- */

static void small_rcv_wnd(struct usn_stack_config *c)
{
	c->tcp_rcv_wnd = 2000;
}

/* Our window is zero (the application holds everything) and so is the
 * peer's, with our data waiting. The peer's zero-window probe carries a
 * byte at RCV.NXT and a window update (and later an ACK of our data):
 * RFC 9293 3.10.7.4 processes its ACK and window although its text is
 * not taken. It was dropped whole, so each side waited for the other. */
static void test_zero_window_probe_ack_processed(void **state)
{
	(void)state;
	struct fx *x = fx_new(small_rcv_wnd);
	x->hold = true;
	fx_established(x);
	peer_data(x, 1460, 0);
	peer_data(x, 540, 0);
	assert_int_equal(x->rx_len, 2000);
	tseg_advance(&x->nf, 40 * MS);
	struct tseg *o = expect_seg(x, TSEG_ACK, x->siss + 1, x->pnxt, 0);
	assert_int_equal(o->window, 0);
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 0;
	tseg_send(&x->nf, &s);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 500, NULL), 0);
	tseg_advance(&x->nf, 0);
	expect_none(x); /* the peer's window is zero */
	/* the peer's probe: one byte, and its window opens */
	s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 4000;
	s.payload = payload;
	s.len = 1;
	tseg_send(&x->nf, &s);
	o = expect_seg(x, TSEG_ACK | TSEG_PSH, x->siss + 1, x->pnxt, 500); /* the byte not taken */
	assert_int_equal(o->window, 0);
	assert_int_equal(x->rx_len, 2000);
	assert_int_equal(st(x)->drop_tcp_zero_window, 1);
	/* the next probe acknowledges our data: sent_fn hears of it */
	s = seg(x, TSEG_ACK, x->pnxt, x->siss + 501);
	s.window = 4000;
	s.payload = payload;
	s.len = 1;
	tseg_send(&x->nf, &s);
	assert_int_equal(x->sent, 500);
	expect_seg(x, TSEG_ACK, x->siss + 501, x->pnxt, 0);
	assert_int_equal(st(x)->drop_tcp_zero_window, 2);
	/* the window reopens: the byte is taken when sent again */
	x->hold = false;
	usn_tcp_recv_done(x->c, 2000);
	tseg_advance(&x->nf, 0);
	o = expect_seg(x, TSEG_ACK, x->siss + 501, x->pnxt, 0);
	assert_int_equal(o->window, 2000);
	peer_data(x, 1, 0);
	assert_int_equal(x->rx_len, 2001);
	fx_free(x);
}

/* Our data waits on the peer's zero window: the ACK that closes it. */
static void peer_window_zero(struct fx *x)
{
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 0;
	tseg_send(&x->nf, &s);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 3000, NULL), 0);
	tseg_advance(&x->nf, 0);
	expect_none(x);
}

/* The persist timer: RTO (200 ms here) doubled per probe, at most
 * tcp_rto_max_ms (60 s). Expects the k-th probe (0-based) exactly on time. */
static void expect_probe(struct fx *x, int k)
{
	uint64_t t = (uint64_t)200 << (k < 16 ? k : 16);
	if (t > 60000)
		t = 60000;
	tseg_advance(&x->nf, t * MS - 1);
	expect_none(x);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1);
	expect_seg(x, TSEG_ACK, x->siss, x->pnxt, 0);
}

static void expect_probe_abort(struct fx *x, int k)
{
	uint64_t t = (uint64_t)200 << (k < 16 ? k : 16);
	if (t > 60000)
		t = 60000;
	tseg_advance(&x->nf, t * MS - 1);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 1);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	expect_seg(x, TSEG_RST | TSEG_ACK, x->siss + 1, x->pnxt, 0);
	expect_none(x);
	assert_int_equal(st(x)->tcp_probe_timeouts, 1);
}

/* The peer answers a probe with its window still zero. */
static void peer_answers_zero(struct fx *x)
{
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 0;
	tseg_send(&x->nf, &s);
	expect_none(x);
}

static void probe_retries_5(struct usn_stack_config *c)
{
	c->tcp_probe_retries = 5;
}

/* A peer that closes its window and falls silent: after tcp_probe_retries
 * unanswered probes the connection is aborted. Probing went on for ever:
 * the idle timeout does not apply while data of ours waits, so 4,096 such
 * peers filled a worker. */
static void test_zero_window_silent_peer_aborted(void **state)
{
	(void)state;
	struct fx *x = fx_new(probe_retries_5);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	fx_established(x);
	peer_window_zero(x);
	/* an answer resets the count: two probes, an answer, then silence */
	expect_probe(x, 0);
	expect_probe(x, 1);
	peer_answers_zero(x);
	for (int k = 2; k < 7; k++)
		expect_probe(x, k);
	expect_probe_abort(x, 7);
	assert_int_equal(st(x)->tcp_zero_window_probes, 7);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0);
	fx_free(x);
}

/* The same with the defaults: tcp_max_retries (12) unanswered probes, about
 * 6 minutes. */
static void test_zero_window_silent_peer_default_limit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	peer_window_zero(x);
	for (int k = 0; k < 12; k++)
		expect_probe(x, k);
	expect_probe_abort(x, 12);
	fx_free(x);
}

/* A peer that answers every probe with a zero window is alive (RFC 1122
 * 4.2.2.17): an open connection is probed for as long as the application
 * keeps it, and its data flows when the window opens. */
static void test_zero_window_answered_open_connection_kept(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	peer_window_zero(x);
	for (int k = 0; k < 20; k++) {
		expect_probe(x, k);
		peer_answers_zero(x);
	}
	assert_int_equal(x->closed, 0);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 4000;
	tseg_send(&x->nf, &s);
	struct tseg *o = expect_seg(x, TSEG_ACK, x->siss + 1, x->pnxt, 1460);
	(void)o;
	fx_free(x);
}

/* Once the application has closed (here: a reply queued, then close, as
 * minimal_ws does), answers no longer keep it: after
 * tcp_orphan_probe_retries (8) probes with the window still zero, about
 * 100 s, the connection is aborted. It was kept for ever in CLOSE_PENDING. */
static void test_zero_window_orphan_aborted_even_if_answered(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	fx_established(x);
	peer_window_zero(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	assert_int_equal(state_of(x), USN_TCP_CLOSE_PENDING);
	for (int k = 0; k < 8; k++) {
		expect_probe(x, k);
		peer_answers_zero(x);
	}
	expect_probe_abort(x, 8);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0);
	fx_free(x);
}

/* ---- challenge ACKs (RFC 5961 7, CVE-2016-5696) ---- */

static void challenge_limit_10(struct usn_stack_config *c)
{
	c->tcp_challenge_ack_limit = 10;
}

#define N_CHAL 40

/* The worker's budget of challenge ACKs (after the per-connection limit)
 * is drawn at random for each second from [limit / 2, limit * 3 / 2): here
 * 5..14 of 40 connections that each receive an RST in their window get
 * one, and the number changes from second to second. A fixed budget (it
 * was 1,000 a second) lets an off-path attacker read how much of it other
 * connections used (CVE-2016-5696). */
static void test_challenge_ack_budget_random(void **state)
{
	(void)state;
	struct fx *x = fx_new(challenge_limit_10);
	uint32_t pnxt[N_CHAL];
	for (int i = 0; i < N_CHAL; i++) {
		struct tseg s = seg(x, TSEG_SYN, PISS, 0);
		s.src_port = (uint16_t)(PEER + 1 + i);
		tseg_send(&x->nf, &s);
		struct tseg *o = recv_seg_any(x);
		assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
		uint32_t siss = o->seq;
		s = seg(x, TSEG_ACK, PISS + 1, siss + 1);
		s.src_port = (uint16_t)(PEER + 1 + i);
		tseg_send(&x->nf, &s);
		pnxt[i] = PISS + 1;
	}
	assert_int_equal(x->connected, N_CHAL);
	int counts[4], distinct = 0;
	for (int r = 0; r < 4; r++) {
		tseg_advance(&x->nf, 1000 * MS);
		drain(x);
		for (int i = 0; i < N_CHAL; i++) {
			struct tseg s = seg(x, TSEG_RST, pnxt[i] + 100, 0);
			s.src_port = (uint16_t)(PEER + 1 + i);
			tseg_send(&x->nf, &s);
		}
		int n = 0;
		struct tseg o;
		while (tseg_recv(&x->nf, &o)) {
			assert_int_equal(o.flags, TSEG_ACK);
			n++;
		}
		assert_true(n >= 5 && n <= 14);
		counts[r] = n;
		bool seen = false;
		for (int q = 0; q < r; q++)
			seen = seen || counts[q] == n;
		distinct += !seen;
	}
	assert_true(distinct >= 2);
	assert_int_equal(x->closed, 0);
	assert_int_equal(st(x)->tcp_challenge_acks + st(x)->tcp_challenge_acks_skipped, 4 * N_CHAL);
	fx_free(x);
}

/* ---- TIME-WAIT (RFC 1337) ---- */

/* Our close, then the peer's FIN: TIME-WAIT (tcp_timewait_ms 1000 here). */
static void fx_time_wait(struct fx *x)
{
	fx_established(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	tseg_advance(&x->nf, 0);
	expect_seg(x, TSEG_ACK | TSEG_FIN, x->siss + 1, x->pnxt, 0);
	struct tseg s = seg(x, TSEG_ACK | TSEG_FIN, x->pnxt, x->siss + 2);
	tseg_send(&x->nf, &s);
	x->pnxt++;
	expect_seg(x, TSEG_ACK, x->siss + 2, x->pnxt, 0);
	assert_int_equal(x->closed, 1); /* announced on entering TIME-WAIT */
}

/* RFC 1337: an RST, even one exactly at RCV.NXT, does not end TIME-WAIT
 * (it did: the TCB went back to the pool at once). The connection still
 * ACKs a retransmitted FIN afterwards, and ends at its 2 MSL. Junk FINs
 * (in or outside the window) are ACKed without restarting 2 MSL. */
static void test_timewait_ignores_rst(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	fx_time_wait(x);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0 - 1);
	tseg_advance(&x->nf, 100 * MS);
	struct tseg s = seg(x, TSEG_RST, x->pnxt, 0);
	tseg_send(&x->nf, &s);
	s = seg(x, TSEG_RST | TSEG_ACK, x->pnxt + 10, x->siss + 2);
	tseg_send(&x->nf, &s);
	expect_none(x);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0 - 1);
	assert_int_equal(st(x)->tcp_timewait_rst_ignored, 2);
	assert_int_equal(st(x)->tcp_rst_rx, 0);
	/* still there: the peer's FIN again is ACKed (and restarts 2 MSL) */
	tseg_advance(&x->nf, 200 * MS);
	s = seg(x, TSEG_ACK | TSEG_FIN, x->pnxt - 1, x->siss + 2);
	tseg_send(&x->nf, &s);
	expect_seg(x, TSEG_ACK, x->siss + 2, x->pnxt, 0);
	/* junk FINs: ACKed, 2 MSL not restarted */
	tseg_advance(&x->nf, 500 * MS);
	s = seg(x, TSEG_ACK | TSEG_FIN, x->pnxt + 100, x->siss + 2);
	tseg_send(&x->nf, &s);
	expect_seg(x, TSEG_ACK, x->siss + 2, x->pnxt, 0);
	s = seg(x, TSEG_ACK | TSEG_FIN, x->pnxt + 3000000, x->siss + 2);
	tseg_send(&x->nf, &s);
	drain(x);
	tseg_advance(&x->nf, 500 * MS - 1); /* 1000 ms after the FIN repeat */
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0 - 1);
	tseg_advance(&x->nf, 1);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0);
	assert_int_equal(x->closed, 1);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_recent_only_after_ack_check),
	    cmocka_unit_test(test_idle_not_restarted_by_junk),
	    cmocka_unit_test(test_keepalive_not_fed_by_junk),
	    cmocka_unit_test(test_fin_wait_2_not_extended_by_duplicates),
	    cmocka_unit_test(test_deadline),
	    cmocka_unit_test(test_zero_window_probe_ack_processed),
	    cmocka_unit_test(test_zero_window_silent_peer_aborted),
	    cmocka_unit_test(test_zero_window_silent_peer_default_limit),
	    cmocka_unit_test(test_zero_window_answered_open_connection_kept),
	    cmocka_unit_test(test_zero_window_orphan_aborted_even_if_answered),
	    cmocka_unit_test(test_challenge_ack_budget_random),
	    cmocka_unit_test(test_timewait_ignores_rst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
