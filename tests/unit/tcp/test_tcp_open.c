/* Unit tests for the TCP engine (lib/tcp), the opening of connections: the
 * passive open (SYN, SYN,ACK and its retransmission, the completing ACK
 * and the RTT it gives, RST and bad ACKs in SYN-RECEIVED), closed ports,
 * bad checksums, and the active open (SYN-SENT, refusal, timeout,
 * simultaneous open, the source port that lands a flow on the calling
 * worker, an unreachable peer). A stack on the simulated link and a raw
 * peer port (tests/common/tcpfx.h): each test feeds segments built from a
 * template and asserts the stack's replies field by field, with timers
 * checked exactly on the virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcpfx.h"

static void test_listen_syn_ack(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_syn_received(x);
	assert_int_equal(st(x)->tcp_passive_opens, 1);
	/* a retransmitted SYN gets the same SYN,ACK */
	SEND_SYN(x, PISS, 1460);
	EXPECT(x, TSEG_SYN | TSEG_ACK, x->siss, PISS + 1);
	fx_free(x);
}

/* A repeated SYN (its SYN,ACK lost) is answered with its own timestamp
 * echoed (RFC 7323 4.3): echoing the first would hand the peer a sample as
 * long as its SYN timeout. */
static void test_syn_repeat_echoes_its_timestamp(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_syn_received(x); /* TSval 101 */
	tseg_advance(&x->nf, 900 * MS);
	struct tseg s = SEG(x, TSEG_SYN, PISS, 0); /* TSval 102 */
	s.has_mss = true;
	s.mss = 1460;
	SEND_SEG(x, &s);
	struct tseg *o = EXPECT(x, TSEG_SYN | TSEG_ACK, x->siss, PISS + 1);
	assert_true(o->has_ts);
	assert_int_equal(o->tsecr, 102);
	EXPECT_NONE(x);
	fx_free(x);
}

static void test_syn_ack_retransmit_then_give_up(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	fx_syn_received(x);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0 - 1);
	/* RFC 6298: 1 s, then 2, 4, 8, 16 s; after 5 retries the TCB goes */
	uint64_t rto = 1000 * MS;
	for (int i = 0; i < 5; i++) {
		tseg_advance(&x->nf, rto - MS);
		EXPECT_NONE(x);
		tseg_advance(&x->nf, MS);
		EXPECT(x, TSEG_SYN | TSEG_ACK, x->siss, PISS + 1);
		rto *= 2;
	}
	tseg_advance(&x->nf, rto);
	EXPECT_NONE(x);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0);
	assert_int_equal(x->connected, 0);
	assert_int_equal(x->closed, 0);
	fx_free(x);
}

/* RFC 7323 4.1 / RFC 6298 3: the echoed timestamp names the transmission
 * an ACK answers, so the ACK completing a handshake whose SYN,ACK was
 * retransmitted still gives an RTT sample (Karn's rule is for the timed
 * segment). Without one the backed-off 2 s RTO stayed, a lost ACK of the
 * data then waited past the peer's TIME-WAIT and ended in a RST. */
static void test_rtt_from_timestamp_after_syn_ack_retransmit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_syn_received(x);
	tseg_advance(&x->nf, 1000 * MS);
	struct tseg *o = EXPECT(x, TSEG_SYN | TSEG_ACK, x->siss, PISS + 1);
	assert_true(o->has_ts);
	tseg_advance(&x->nf, 1 * MS);
	struct tseg s = SEG(x, TSEG_ACK, x->pnxt, x->siss + 1); /* echoes the repeat */
	SEND_SEG(x, &s);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, 1000);
	assert_int_equal(i.rto_ms, 200);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 100, NULL), 0);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_PSH, x->siss + 1, PISS + 1);
	tseg_advance(&x->nf, 200 * MS);
	EXPECT_LEN(x, TSEG_ACK | TSEG_PSH, x->siss + 1, PISS + 1, 100);
	fx_free(x);
}

/* ...but an ACK echoing the first SYN,ACK (the peer's TS.Recent was not
 * updated by the repeat) measures the timeout, not the path: no sample,
 * RFC 6298 5.7's 3 s, and the first data ACK sets the RTO. A 2 s sample
 * here held the RTO at seconds for the whole of a short connection. */
static void test_no_rtt_from_stale_echo_after_syn_ack_retransmit(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->ts = true;
	x->tsval = 100;
	fx_syn_received(x);
	uint32_t first = x->stack_ts;
	tseg_advance(&x->nf, 1000 * MS);
	EXPECT(x, TSEG_SYN | TSEG_ACK, x->siss, PISS + 1);
	tseg_advance(&x->nf, 1 * MS);
	struct tseg s = SEG(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.tsecr = first;
	SEND_SEG(x, &s);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, 0);
	assert_int_equal(i.rto_ms, 3000);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 100, NULL), 0);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK | TSEG_PSH, x->siss + 1, PISS + 1);
	tseg_advance(&x->nf, 2 * MS);
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 101);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.srtt_us, 2000);
	assert_int_equal(i.rto_ms, 200);
	fx_free(x);
}

static void test_handshake(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.snd_una, x->siss + 1);
	assert_int_equal(i.rcv_nxt, PISS + 1);
	assert_int_equal(i.mss, 1460);
	assert_int_equal(i.local_port, SRV);
	assert_int_equal(i.remote_port, PEER);
	assert_false(i.ts_ok);
	assert_false(i.sack_ok);
	fx_free(x);
}

static void test_syn_received_bad_ack_rst(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_syn_received(x);
	/* RFC 9293 3.10.7.4 fifth, SYN-RECEIVED: unacceptable ACK -> RST */
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 100);
	EXPECT(x, TSEG_RST, x->siss + 100, 0);
	assert_int_equal(x->connected, 0);
	fx_free(x);
}

static void test_syn_received_rst(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	fx_syn_received(x);
	SEND(x, TSEG_RST, x->pnxt, 0);
	EXPECT_NONE(x);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0); /* back to LISTEN */
	assert_int_equal(x->closed, 0);
	fx_free(x);
}

static void test_closed_port_rst(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct tseg s = SEG(x, TSEG_SYN, 5000, 0);
	s.dst_port = 81;
	SEND_SEG(x, &s);
	struct tseg *o = EXPECT(x, TSEG_RST | TSEG_ACK, 0, 5001);
	assert_int_equal(o->src_port, 81);
	assert_int_equal(o->dst_port, PEER);
	s = SEG(x, TSEG_ACK, 5000, 777);
	s.dst_port = 81;
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_RST, 777, 0);
	/* never a RST for a RST */
	s = SEG(x, TSEG_RST, 5000, 0);
	s.dst_port = 81;
	SEND_SEG(x, &s);
	EXPECT_NONE(x);
	/* an ACK to a listener without a connection: RST too */
	SEND(x, TSEG_ACK, 5000, 4242);
	EXPECT(x, TSEG_RST, 4242, 0);
	assert_true(st(x)->drop_tcp_no_conn >= 3);
	fx_free(x);
}

static void test_bad_checksum_dropped(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct tseg s = SEG(x, TSEG_SYN, PISS, 0);
	s.bad_csum = true;
	SEND_SEG(x, &s);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->drop_tcp_csum, 1);
	fx_free(x);
}

static void test_active_open(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct tseg *syn;
	fx_connect(x, &syn);
	struct tseg keep = *syn;
	struct tseg s = fx_seg_to(x, &keep, TSEG_SYN | TSEG_ACK, 9000, x->siss + 1);
	s.has_mss = true;
	s.mss = 1000;
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_ACK, x->siss + 1, 9001);
	assert_int_equal(x->connected, 1);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	assert_int_equal(i.mss, 1000);
	assert_false(i.ts_ok); /* the peer did not answer with them */
	assert_int_equal(i.rcv_wscale, 0);
	assert_int_equal(st(x)->tcp_active_opens, 1);
	fx_free(x);
}

static void test_active_open_refused(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct tseg *syn;
	fx_connect(x, &syn);
	struct tseg keep = *syn;
	/* a bad ACK gets a RST, the connection stays */
	struct tseg s = fx_seg_to(x, &keep, TSEG_ACK, 5, x->siss + 10);
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_RST, x->siss + 10, 0);
	assert_int_equal(x->closed, 0);
	s = fx_seg_to(x, &keep, TSEG_RST | TSEG_ACK, 0, x->siss + 1);
	SEND_SEG(x, &s);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_REFUSED);
	fx_free(x);
}

static void test_syn_sent_timeout(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct tseg *syn;
	fx_connect(x, &syn);
	uint64_t rto = 1000 * MS;
	for (int k = 0; k < 5; k++) {
		tseg_advance(&x->nf, rto - 1);
		EXPECT_NONE(x);
		tseg_advance(&x->nf, 1);
		EXPECT(x, TSEG_SYN, x->siss, 0);
		rto *= 2;
	}
	tseg_advance(&x->nf, rto);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	fx_free(x);
}

static void test_simultaneous_open(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct tseg *syn;
	fx_connect(x, &syn);
	struct tseg keep = *syn;
	struct tseg s = fx_seg_to(x, &keep, TSEG_SYN, 9000, 0);
	s.has_mss = true;
	s.mss = 1460;
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_SYN | TSEG_ACK, x->siss, 9001);
	assert_int_equal(state_of(x), USN_TCP_SYN_RECEIVED);
	s = fx_seg_to(x, &keep, TSEG_ACK, 9001, x->siss + 1);
	SEND_SEG(x, &s);
	assert_int_equal(x->connected, 1);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	fx_free(x);
}

/* Active open from each worker of a 4-queue port: the source port chosen
 * makes the flow land on the calling worker, by the port's RSS under its
 * key (rss: true; key 0: the sim draws one from its seed) or by the stack's
 * software steering (rss: false), and a handshake on worker 3 completes
 * there. */
static void connect_lands_on_worker(bool rss, uint16_t key)
{
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.n_queues = 4;
	pc.offloads = rss ? USN_HAL_OFF_RSS : 0;
	pc.rss_key = key;
	struct fx *x = fx_new_port(&pc);
	struct usn_stack *stk = x->nf.host->stack;
	const struct usn_hal *hal = usn_sim_port_hal(x->nf.host->port);
	assert_int_equal(usn_stack_workers(stk), 4);
	if (key)
		assert_int_equal(hal->rss_key, key);
	for (uint16_t wid = 0; wid < 4; wid++) {
		struct usn_worker *w = usn_stack_worker(stk, wid);
		for (int k = 0; k < 3; k++) {
			struct usn_tcp_conn *c = usn_tcp_connect(w, NETFIX_RAW_IP, 8080, &fx_handlers, x);
			assert_non_null(c);
			struct usn_tcp_info i;
			usn_tcp_info(c, &i);
			if (rss) /* what the port computes, not what the stack does */
				assert_int_equal(
				    usn_rss_queue(usn_rss_hash(hal->rss_key, NETFIX_RAW_IP, NETFIX_STACK_IP, 8080, i.local_port), 4),
				    wid);
			assert_int_equal(usn_stack_flow_worker(stk, NETFIX_RAW_IP, 8080, NETFIX_STACK_IP, i.local_port), wid);
			assert_true(usn_tcp_worker(c) == w);
		}
	}
	/* a handshake on worker 3 completes there */
	struct usn_worker *w3 = usn_stack_worker(stk, 3);
	tseg_advance(&x->nf, 0);
	netfix_drain(&x->nf);
	x->closed = 0;
	struct usn_tcp_conn *c = usn_tcp_connect(w3, NETFIX_RAW_IP, 9090, &fx_handlers, x);
	tseg_advance(&x->nf, 0);
	struct tseg *o = RECV(x);
	while (o->dst_port != 9090)
		o = RECV(x);
	struct tseg s = SEG(x, TSEG_SYN | TSEG_ACK, 555, o->seq + 1);
	s.src_port = 9090;
	s.dst_port = o->src_port;
	SEND_SEG(x, &s);
	struct usn_tcp_info i;
	usn_tcp_info(c, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	fx_free(x);
}

static void test_connect_port_lands_on_worker(void **state)
{
	(void)state;
	connect_lands_on_worker(true, 0);
	/* random keys, each a new start of the port */
	uint64_t seed = 0x5eedc0ffee;
	for (int k = 0; k < 8; k++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		connect_lands_on_worker(true, usn_rss_key_from(seed));
	}
	connect_lands_on_worker(false, 0);
}

static void test_syn_retransmitted_then_data(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct tseg *syn;
	fx_connect(x, &syn);
	struct tseg keep = *syn;
	tseg_advance(&x->nf, 1000 * MS);
	EXPECT(x, TSEG_SYN, x->siss, 0);
	x->ts = true;
	x->tsval = 9999;
	x->stack_ts = keep.tsval;
	struct tseg s = fx_seg_to(x, &keep, TSEG_SYN | TSEG_ACK, 9000, x->siss + 1);
	s.has_mss = true;
	s.mss = 1460;
	s.has_ws = true;
	s.ws = 3;
	s.sack_perm = true;
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_ACK, x->siss + 1, 9001);
	assert_int_equal(x->connected, 1);
	usn_tcp_send_ref(x->c, fx_payload, 766, NULL);
	usn_tcp_close(x->c);
	tseg_advance(&x->nf, 0);
	EXPECT_LEN(x, TSEG_ACK | TSEG_PSH | TSEG_FIN, x->siss + 1, 9001, 766);
	s = fx_seg_to(x, &keep, TSEG_ACK, 9001, x->siss + 768);
	SEND_SEG(x, &s);
	EXPECT_NONE(x);
	assert_int_equal(state_of(x), USN_TCP_FIN_WAIT_2);
	fx_free(x);
}

/* Regression: a repeated SYN and the completing ACK (with data and FIN) in
 * one burst left snd_nxt behind snd_una, and nothing was ever sent. */
static void test_dup_syn_and_ack_in_one_burst(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_syn_received(x);
	uint8_t f1[200], f2[400];
	struct tseg a = SEG(x, TSEG_SYN, PISS, 0);
	a.has_mss = true;
	a.mss = 1460;
	size_t n1 = tseg_build(f1, &a, NETFIX_RAW_IP, NETFIX_STACK_IP);
	struct tseg b = SEG(x, TSEG_ACK | TSEG_PSH | TSEG_FIN, x->pnxt, x->siss + 1);
	b.payload = fx_payload;
	b.len = 100;
	size_t n2 = tseg_build(f2, &b, NETFIX_RAW_IP, NETFIX_STACK_IP);
	assert_int_equal(usn_sim_port_send_raw(x->nf.raw, f1, n1), 0);
	assert_int_equal(usn_sim_port_send_raw(x->nf.raw, f2, n2), 0);
	tseg_advance(&x->nf, 0);
	x->pnxt += 101;
	assert_int_equal(x->connected, 1);
	assert_int_equal(x->remote_closed, 1);
	usn_tcp_send_ref(x->c, fx_payload, 10, NULL);
	tseg_advance(&x->nf, 0);
	struct tseg *o = RECV(x);
	while (o->len == 0)
		o = RECV(x);
	assert_int_equal(o->seq, x->siss + 1);
	assert_int_equal(o->ack, x->pnxt);
	assert_int_equal(o->len, 10);
	fx_free(x);
}

static void test_connect_unreachable(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	uint32_t f = usn_tcp_free_tcbs(x->nf.w);
	/* off-link, no gateway: the first output finds no route */
	struct usn_tcp_conn *c = usn_tcp_connect(x->nf.w, (10u << 24) | 1u, 80, &fx_handlers, x);
	assert_non_null(c);
	tseg_advance(&x->nf, 0);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_UNREACHABLE);
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), f);
	/* and port 0 is refused outright */
	assert_null(usn_tcp_connect(x->nf.w, NETFIX_RAW_IP, 0, &fx_handlers, x));
	fx_free(x);
}

static void test_tcb_size(void **state)
{
	(void)state;
	assert_true(usn_tcp_tcb_size() <= 512);
	assert_string_equal(usn_tcp_state_name(USN_TCP_CLOSE_PENDING_RCVD_FIN), "CLOSE_PENDING_RCVD_FIN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcb_size),
		cmocka_unit_test(test_listen_syn_ack),
		cmocka_unit_test(test_syn_ack_retransmit_then_give_up),
		cmocka_unit_test(test_syn_repeat_echoes_its_timestamp),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_rtt_from_timestamp_after_syn_ack_retransmit),
		cmocka_unit_test(test_no_rtt_from_stale_echo_after_syn_ack_retransmit),
		cmocka_unit_test(test_syn_received_bad_ack_rst),
		cmocka_unit_test(test_syn_received_rst),
		cmocka_unit_test(test_closed_port_rst),
		cmocka_unit_test(test_bad_checksum_dropped),
		cmocka_unit_test(test_active_open),
		cmocka_unit_test(test_active_open_refused),
		cmocka_unit_test(test_syn_sent_timeout),
		cmocka_unit_test(test_simultaneous_open),
		cmocka_unit_test(test_connect_port_lands_on_worker),
		cmocka_unit_test(test_syn_retransmitted_then_data),
		cmocka_unit_test(test_dup_syn_and_ack_in_one_burst),
		cmocka_unit_test(test_connect_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
