/* Unit tests for the TCP engine (lib/tcp), data in and out on an
 * established connection: delayed and per-burst ACKs, receive flow
 * control, out-of-order reassembly with SACK and its bound, the initial
 * window, the send forms (references with a checksum table, writers) and
 * checksum offloads. A stack on the simulated link and a raw peer port
 * (tests/common/tcpfx.h): each test feeds segments built from a template
 * and asserts the stack's replies field by field, with timers checked
 * exactly on the virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcpfx.h"

static void test_recv_delayed_ack(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	PEER_DATA(x, 100, 0);
	assert_int_equal(x->rx_len, 100);
	assert_memory_equal(x->rx, fx_payload, 100);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 40 * MS - 1);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 1);
	EXPECT_LEN(x, TSEG_ACK, x->siss + 1, PISS + 101, 0);
	fx_free(x);
}

static void test_ack_every_second_segment(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	PEER_DATA(x, 1460, 0);
	EXPECT_NONE(x);
	PEER_DATA(x, 1460, 0);
	EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	assert_int_equal(x->rx_len, 2920);
	assert_memory_equal(x->rx, fx_payload, 2920);
	fx_free(x);
}

/* Receive flow control (usn_tcp_recv_hold/done): what the application
 * holds comes off the advertised window; released bytes reopen it, and the
 * reopened window is announced by itself once it has grown by an MSS (RFC
 * 9293 3.8.6.2.2), not for less. */
static void test_recv_hold_and_done(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL); /* no window scaling: 65535 */
	fx_established(x);
	PEER_DATA(x, 1460, 0);
	PEER_DATA(x, 1460, 0);
	struct tseg *o = EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	assert_int_equal(o->window, 65535);
	usn_tcp_recv_hold(x->c, 2920); /* the application keeps both segments */
	tseg_advance(&x->nf, 0);
	EXPECT_NONE(x); /* holding announces nothing */
	PEER_DATA(x, 1460, 0);
	PEER_DATA(x, 1460, 0);
	o = EXPECT(x, TSEG_ACK, x->siss + 1, x->pnxt);
	assert_int_equal(o->window, 65535 - 2920); /* the right edge did not move */
	usn_tcp_recv_done(x->c, 1000);
	tseg_advance(&x->nf, 0);
	EXPECT_NONE(x); /* 1000 bytes more: less than an MSS, no update */
	usn_tcp_recv_done(x->c, 1920);
	tseg_advance(&x->nf, 0);
	o = EXPECT_LEN(x, TSEG_ACK, x->siss + 1, x->pnxt, 0);
	assert_int_equal(o->window, 65535); /* the window update */
	EXPECT_NONE(x);
	assert_int_equal(x->rx_len, 4 * 1460);
	fx_free(x);
}

/* GRO-style ACK coalescing: in-order full-size segments that arrive in one
 * RX burst are acknowledged once, at the end of the poll round (a stretch
 * ACK), not every second segment as they are processed. */
static void test_ack_once_per_burst(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t base = x->pnxt;
	for (int k = 0; k < 8; k++)
		PEER_DATA_QUEUE(x, 1460);
	tseg_advance(&x->nf, 0);
	EXPECT_LEN(x, TSEG_ACK, x->siss + 1, base + 8 * 1460, 0);
	EXPECT_NONE(x);
	assert_int_equal(x->rx_len, 8 * 1460);
	assert_memory_equal(x->rx, fx_payload, 8 * 1460);
	/* nothing left for the delayed-ACK timer */
	tseg_advance(&x->nf, 100 * MS);
	EXPECT_NONE(x);
	/* the next burst: its own single ACK */
	for (int k = 0; k < 3; k++)
		PEER_DATA_QUEUE(x, 1460);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK, x->siss + 1, base + 11 * 1460);
	EXPECT_NONE(x);
	fx_free(x);
}

/* A burst that starts in order and goes on out of order: the segments past
 * the hole each get their duplicate ACK with SACK at once (RFC 5681 4.2,
 * RFC 2018; dup ACKs must not merge, the sender counts them), and the one
 * for the first carries the in-order part, so no ACK is left for the end of
 * the round. The segment that fills the hole is ACKed at once too. */
static void no_gro(struct usn_stack_config *c)
{
	c->no_gro = true; /* each segment on its own, as the peer sent it */
}

static void test_ack_burst_ooo_dupacks_stay(void **state)
{
	(void)state;
	struct fx *x = fx_new(no_gro);
	x->sack = true;
	fx_established(x);
	uint32_t base = x->pnxt;
	PEER_DATA_QUEUE(x, 1460);
	PEER_DATA_QUEUE(x, 1460);
	x->pnxt = base + 3 * 1460; /* segment 2 lost */
	PEER_DATA_QUEUE(x, 1460);
	PEER_DATA_QUEUE(x, 1460);
	tseg_advance(&x->nf, 0);
	struct tseg *o = EXPECT(x, TSEG_ACK, x->siss + 1, base + 2 * 1460);
	EXPECT_SACK(o, 1, base + 3 * 1460, base + 4 * 1460);
	o = EXPECT(x, TSEG_ACK, x->siss + 1, base + 2 * 1460);
	EXPECT_SACK(o, 1, base + 3 * 1460, base + 5 * 1460);
	EXPECT_NONE(x);
	assert_int_equal(x->rx_len, 2 * 1460);
	/* the retransmission of segment 2 fills the hole: ACK at once */
	x->pnxt = base + 2 * 1460;
	PEER_DATA(x, 1460, 0);
	o = EXPECT(x, TSEG_ACK, x->siss + 1, base + 5 * 1460);
	assert_int_equal(o->n_sack, 0);
	EXPECT_NONE(x);
	assert_int_equal(x->rx_len, 5 * 1460);
	assert_memory_equal(x->rx, fx_payload, 5 * 1460);
	fx_free(x);
}

/* The same burst with GRO (the default): segments 0-1 and 3-4 arrive
 * merged, and the stack still owes one duplicate ACK per segment past the
 * hole, each SACKing all it holds. */
static void test_ack_burst_ooo_dupacks_gro(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	x->sack = true;
	fx_established(x);
	uint32_t base = x->pnxt;
	PEER_DATA_QUEUE(x, 1460);
	PEER_DATA_QUEUE(x, 1460);
	x->pnxt = base + 3 * 1460; /* segment 2 lost */
	PEER_DATA_QUEUE(x, 1460);
	PEER_DATA_QUEUE(x, 1460);
	tseg_advance(&x->nf, 0);
	assert_int_equal(st(x)->gro_frames, 2);
	assert_int_equal(st(x)->gro_segs, 2);
	for (int k = 0; k < 2; k++) {
		struct tseg *o = EXPECT(x, TSEG_ACK, x->siss + 1, base + 2 * 1460);
		EXPECT_SACK(o, 1, base + 3 * 1460, base + 5 * 1460);
	}
	EXPECT_NONE(x);
	assert_int_equal(x->rx_len, 2 * 1460);
	x->pnxt = base + 2 * 1460;
	PEER_DATA(x, 1460, 0);
	struct tseg *o = EXPECT(x, TSEG_ACK, x->siss + 1, base + 5 * 1460);
	assert_int_equal(o->n_sack, 0);
	EXPECT_NONE(x);
	assert_int_equal(x->rx_len, 5 * 1460);
	assert_memory_equal(x->rx, fx_payload, 5 * 1460);
	fx_free(x);
}

/* An odd burst is ACKed whole at its end (not two, then the third by the
 * timer); a single full-size segment after it still waits for the delayed
 * ACK (RFC 5681 4.2, 40 ms here). */
static void test_ack_odd_burst_then_delayed(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t base = x->pnxt;
	for (int k = 0; k < 3; k++)
		PEER_DATA_QUEUE(x, 1460);
	tseg_advance(&x->nf, 0);
	EXPECT(x, TSEG_ACK, x->siss + 1, base + 3 * 1460);
	EXPECT_NONE(x);
	PEER_DATA_QUEUE(x, 1460);
	tseg_advance(&x->nf, 0);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 40 * MS - 1);
	EXPECT_NONE(x);
	tseg_advance(&x->nf, 1);
	EXPECT(x, TSEG_ACK, x->siss + 1, base + 4 * 1460);
	EXPECT_NONE(x);
	assert_int_equal(x->rx_len, 4 * 1460);
	fx_free(x);
}

static void sack_on(struct usn_stack_config *c)
{
	(void)c;
}

static void test_ooo_sack_and_reassembly(void **state)
{
	(void)state;
	struct fx *x = fx_new(sack_on);
	x->sack = true;
	fx_established(x);
	uint32_t base = x->pnxt;
	/* segment 2 first: immediate duplicate ACK with a SACK block */
	x->pnxt = base + 500;
	PEER_DATA(x, 500, 0);
	struct tseg *o = EXPECT(x, TSEG_ACK, x->siss + 1, base);
	EXPECT_SACK(o, 1, base + 500, base + 1000);
	assert_int_equal(x->rx_len, 0);
	/* segment 4 (another hole): the newest block first (RFC 2018 4) */
	x->pnxt = base + 1500;
	PEER_DATA(x, 500, 0);
	o = EXPECT(x, TSEG_ACK, x->siss + 1, base);
	EXPECT_SACK(o, 2, base + 1500, base + 2000, base + 500, base + 1000);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.rcv_nxt, base);
	/* overlapping retransmission of 1..3 fills both holes partly */
	x->pnxt = base;
	PEER_DATA(x, 1200, 0);
	o = EXPECT(x, TSEG_ACK, x->siss + 1, base + 1200);
	assert_int_equal(o->n_sack, 1);
	x->pnxt = base + 1200;
	PEER_DATA(x, 300, 0);
	o = EXPECT(x, TSEG_ACK, x->siss + 1, base + 2000);
	assert_int_equal(o->n_sack, 0);
	assert_int_equal(x->rx_len, 2000);
	assert_memory_equal(x->rx, fx_payload, 2000);
	assert_int_equal(st(x)->tcp_ooo_segs, 2);
	fx_free(x);
}

static void small_ooo(struct usn_stack_config *c)
{
	c->tcp_ooo_max_segs = 2;
}

static void test_ooo_bounded(void **state)
{
	(void)state;
	struct fx *x = fx_new(small_ooo);
	fx_established(x);
	uint32_t base = x->pnxt;
	for (int k = 1; k <= 3; k++) {
		x->pnxt = base + (uint32_t)k * 200;
		PEER_DATA(x, 100, 0);
		EXPECT(x, TSEG_ACK, x->siss + 1, base);
	}
	assert_int_equal(st(x)->drop_tcp_ooo_full, 1);
	x->pnxt = base;
	PEER_DATA(x, 200, 0);
	EXPECT(x, TSEG_ACK, x->siss + 1, base + 300);
	assert_int_equal(x->rx_len, 300);
	fx_free(x);
}

static void test_initial_window_10(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 20 * 1460, NULL), 0);
	tseg_advance(&x->nf, 0);
	for (int k = 0; k < 10; k++)
		assert_int_equal(RECV(x)->seq, x->siss + 1 + (uint32_t)k * 1460);
	EXPECT_NONE(x); /* RFC 6928: IW = min(10 MSS, max(2 MSS, 14600)) */
	fx_free(x);
}

static void offload_none(struct usn_stack_config *c)
{
	(void)c;
}

static void test_send_ref_csum_table(void **state)
{
	(void)state;
	struct fx *x = fx_new(offload_none);
	fx_established(x);
	struct usn_csum_table t;
	assert_int_equal(usn_csum_table_build(&t, fx_payload + 1, 3001), 0);
	/* one odd byte first, so the table's range lands at an odd offset */
	usn_tcp_send_ref(x->c, fx_payload, 1, NULL);
	usn_tcp_send_ref(x->c, fx_payload + 1, 3001, &t);
	tseg_advance(&x->nf, 0);
	struct tseg a = *RECV(x), b = *RECV(x), c = *RECV(x);
	assert_int_equal(a.len + b.len + c.len, 3002);
	assert_memory_equal(a.data, fx_payload, a.len);
	assert_memory_equal(b.data, fx_payload + a.len, b.len);
	assert_memory_equal(c.data, fx_payload + a.len + b.len, c.len);
	/* the retransmission is byte for byte the same segment */
	tseg_advance(&x->nf, 200 * MS);
	struct tseg *r = RECV(x);
	assert_int_equal(r->seq, a.seq);
	assert_int_equal(r->len, a.len);
	assert_memory_equal(r->data, a.data, a.len);
	usn_csum_table_free(&t);
	fx_free(x);
}

static void pat_writer(void *arg, uint32_t off, uint32_t len, struct usn_cursor dst)
{
	usn_cursor_write(dst, (const uint8_t *)arg + off, len);
}

static void test_send_writer(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	assert_int_equal(usn_tcp_send_writer(x->c, 2000, pat_writer, fx_payload + 7), 0);
	tseg_advance(&x->nf, 0);
	struct tseg a = *RECV(x), b = *RECV(x);
	assert_int_equal(a.len, 1460);
	assert_int_equal(b.len, 540);
	assert_memory_equal(a.data, fx_payload + 7, 1460);
	assert_memory_equal(b.data, fx_payload + 7 + 1460, 540);
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1461);
	assert_int_equal(x->sent, 1460);
	fx_free(x);
}

static void test_offloads(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.offloads = USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_RX_CSUM;
	struct fx *x = fx_new_port(&pc);
	fx_established(x); /* replies checked: the port completed our sums */
	struct usn_csum_table t;
	assert_int_equal(usn_csum_table_build(&t, fx_payload, 3000), 0);
	usn_tcp_send_ref(x->c, fx_payload, 3000, &t);
	tseg_advance(&x->nf, 0);
	assert_int_equal(RECV(x)->len, 1460);
	assert_int_equal(RECV(x)->len, 1460);
	assert_int_equal(RECV(x)->len, 80);
	/* a bad sum flagged by the port is dropped */
	struct tseg s = SEG(x, TSEG_ACK | TSEG_PSH, x->pnxt, x->siss + 1);
	s.payload = fx_payload;
	s.len = 10;
	s.bad_csum = true;
	SEND_SEG(x, &s);
	assert_int_equal(st(x)->drop_tcp_csum, 1);
	assert_int_equal(x->rx_len, 0);
	usn_csum_table_free(&t);
	fx_free(x);
}

/* SND.WND counts from SND.UNA: a segment that acknowledges new data
 * brings the window the peer offers from that acknowledgment, even when
 * its sequence number is below SND.WL1 (the peer's retransmission, sent
 * after its pure ACK at its SND.MAX). Keeping the older window and moving
 * SND.UNA slid the peer's right edge by what was acked: we sent past it. */
static void test_acking_segment_brings_its_window(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	/* the peer's ACK at its SND.MAX, 3000 bytes beyond what arrived:
	 * window 4380 (three segments) from s1 */
	SEND_WIN(x, TSEG_ACK, x->pnxt + 3000, s1, 4380);
	struct tseg o;
	while (tseg_recv(&x->nf, &o))
		assert_int_equal(o.len, 0);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 10000, NULL), 0);
	tseg_advance(&x->nf, 0);
	uint32_t end = s1;
	while (tseg_recv(&x->nf, &o)) {
		assert_int_equal(o.seq, end);
		end += o.len;
	}
	assert_int_equal(end, s1 + 4380);
	/* its retransmission of the first 1000 bytes acknowledges 2920 of
	 * ours; its right edge has not moved (1460 left from that ACK) */
	fx_send(x, TSEG_ACK, x->pnxt, s1 + 2920, 0, 1000, 1460);
	tseg_advance(&x->nf, 0);
	while (tseg_recv(&x->nf, &o))
		assert_true((int32_t)(o.seq + o.len - (s1 + 4380)) <= 0);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.snd_una, s1 + 2920);
	assert_int_equal(i.snd_wnd, 1460);
	/* its next pure ACK at its SND.MAX opens the window again */
	SEND_WIN(x, TSEG_ACK, x->pnxt + 3000, s1 + 2920, 4380);
	tseg_advance(&x->nf, 0);
	end = s1 + 4380;
	while (tseg_recv(&x->nf, &o))
		if (o.len) {
			assert_int_equal(o.seq, end);
			end += o.len;
		}
	assert_int_equal(end, s1 + 2920 + 4380);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recv_delayed_ack),
		cmocka_unit_test(test_acking_segment_brings_its_window),
		cmocka_unit_test(test_ack_every_second_segment),
		cmocka_unit_test(test_ack_once_per_burst),
		cmocka_unit_test(test_recv_hold_and_done),
		cmocka_unit_test(test_ack_burst_ooo_dupacks_stay),
		cmocka_unit_test(test_ack_burst_ooo_dupacks_gro),
		cmocka_unit_test(test_ack_odd_burst_then_delayed),
		cmocka_unit_test(test_ooo_sack_and_reassembly),
		cmocka_unit_test(test_ooo_bounded),
		cmocka_unit_test(test_initial_window_10),
		cmocka_unit_test(test_send_ref_csum_table),
		cmocka_unit_test(test_send_writer),
		cmocka_unit_test(test_offloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
