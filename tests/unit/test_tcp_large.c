/* Unit tests of TCP with large segments (lib/tcp), in test_tcp.c's style: a
 * stack on the simulated link and a raw peer port. Input: segments longer
 * than the MSS (a jumbo-capable port, or coalesced by the port's LRO), in
 * order, out of order with SACK, beyond the window, spread over buffer
 * chains, with FIN, in each state that takes data. Output: the large
 * segments a TSO port is handed (sizes, flags, seg_size, the checksum
 * convention), checked both as handed over (a TX tap) and as cut on the
 * wire, with retransmission, SACK recovery, RTO and the zero-window probe. */
#include <errno.h>
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
#define PEER 40000
#define PISS 1000u
#define MS 1000u
#define PAY (256u * 1024u)

struct fx {
	struct netfix nf;
	struct usn_stack_config cfg;
	struct usn_sim_port_config pc;
	struct usn_tcp_conn *c;
	int connected, closed, remote_closed, recv_calls;
	enum usn_tcp_close_reason why;
	uint8_t *rx;
	size_t rx_len;
	uint64_t sent;
	uint32_t siss, pnxt, tsval, stack_ts;
	uint16_t peer_mss;
};

static uint8_t payload[PAY];

static void h_connected(struct usn_tcp_conn *c, void *user)
{
	struct fx *x = user;
	x->c = c;
	x->connected++;
}
static void h_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	struct fx *x = user;
	x->recv_calls++;
	x->rx_len += usn_cursor_read(d, x->rx + x->rx_len, PAY - x->rx_len);
}
static void h_sent(struct usn_tcp_conn *c, void *user, uint32_t n)
{
	(void)c;
	struct fx *x = user;
	x->sent += n;
}
static void h_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)c;
	struct fx *x = user;
	x->remote_closed++;
}
static void h_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct fx *x = user;
	x->closed++;
	x->why = why;
}
static const struct usn_tcp_handlers H = {h_connected, h_recv, h_sent, h_remote_closed, h_closed};

/* A stack whose IPv4 MTU is 1500 (MSS 1460) on a port of port_mtu bytes
 * with buffers of buf_size (chains below a frame) and the given offloads. */
static struct fx *fx_new(uint16_t port_mtu, uint16_t buf_size, uint32_t offloads)
{
	struct fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	x->rx = malloc(PAY);
	assert_non_null(x->rx);
	usn_stack_config_init(&x->cfg, NETFIX_STACK_IP, 15);
	x->cfg.tcp_timewait_ms = 1000;
	x->cfg.mtu = 1500;
	x->pc.mtu = port_mtu;
	x->pc.buf_size = buf_size;
	x->pc.offloads = offloads;
	x->pc.rx_ring = 256;
	x->pc.n_bufs = 8192;
	netfix_setup(&x->nf, &x->cfg, &x->pc);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 31 + (i >> 8) + (i >> 16));
	x->peer_mss = 1460;
	return x;
}

static void fx_free(struct fx *x)
{
	netfix_teardown(&x->nf);
	free(x->rx);
	free(x);
}

static const struct usn_stats *st(struct fx *x)
{
	return usn_worker_stats(x->nf.w);
}

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
	s.has_ts = true;
	s.tsval = ++x->tsval;
	s.tsecr = x->stack_ts;
	return s;
}

/* Data from the peer: bytes [off, off + len) of payload at seq pnxt0 + off. */
static struct tseg data_seg(struct fx *x, uint32_t base, uint32_t off, uint32_t len, uint8_t flags)
{
	struct tseg s = seg(x, flags, base + off, x->siss + 1);
	s.payload = payload + off;
	s.len = len;
	return s;
}

/* Sends one frame of any size (up to the raw port's MTU) and lets the stack run. */
static void send_big(struct fx *x, const struct tseg *s)
{
	static uint8_t frame[70000];
	size_t n = tseg_build(frame, s, NETFIX_RAW_IP, NETFIX_STACK_IP);
	netfix_inject(&x->nf, frame, n);
}

/* Puts a frame on the link without letting the stack run. */
static void queue_big(struct fx *x, const struct tseg *s)
{
	static uint8_t frame[70000];
	size_t n = tseg_build(frame, s, NETFIX_RAW_IP, NETFIX_STACK_IP);
	assert_int_equal(usn_sim_port_send_raw(x->nf.raw, frame, n), 0);
}

static struct tseg *recv_seg(struct fx *x)
{
	static struct tseg o;
	assert_true(tseg_recv(&x->nf, &o));
	assert_true(o.csum_ok);
	if (o.has_ts)
		x->stack_ts = o.tsval;
	return &o;
}

static void expect_none(struct fx *x)
{
	struct tseg o;
	assert_false(tseg_recv(&x->nf, &o));
}

static enum usn_tcp_state state_of(struct fx *x)
{
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	return i.state;
}

/* Handshake: the peer's SYN (MSS peer_mss, TS, SACK-permitted, wscale 7),
 * the stack's SYN,ACK, and, if ack_too, the peer's ACK. */
static void fx_open(struct fx *x, bool ack_too)
{
	struct tseg s = seg(x, TSEG_SYN, PISS, 0);
	s.has_mss = true;
	s.mss = x->peer_mss;
	s.sack_perm = true;
	s.has_ws = true;
	s.ws = 7;
	tseg_send(&x->nf, &s);
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->mss, 1460);
	x->siss = o->seq;
	x->pnxt = PISS + 1;
	if (!ack_too)
		return;
	s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	tseg_send(&x->nf, &s);
	assert_int_equal(x->connected, 1);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	expect_none(x);
}

/* The ACK the stack sends once the round ends (a stretch ACK). */
static struct tseg *expect_ack(struct fx *x, uint32_t ack)
{
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->flags, TSEG_ACK);
	assert_int_equal(o->ack, ack);
	assert_int_equal(o->len, 0);
	return o;
}

/* ---- input: segments longer than the MSS ---- */

/* One 8000-byte segment (five MSS) on a jumbo-capable port: delivered
 * whole, in a chain of 512-byte buffers, ACKed once. */
static void test_long_segment_in_order(void **state)
{
	(void)state;
	struct fx *x = fx_new(9000, 512, 0);
	fx_open(x, true);
	struct tseg s = data_seg(x, x->pnxt, 0, 8000, TSEG_ACK | TSEG_PSH);
	send_big(x, &s);
	assert_int_equal(x->rx_len, 8000);
	assert_memory_equal(x->rx, payload, 8000);
	assert_int_equal(x->recv_calls, 1);
	expect_ack(x, x->pnxt + 8000);
	expect_none(x);
	/* A second one right behind, ending with FIN: CLOSE-WAIT. */
	s = data_seg(x, x->pnxt, 8000, 9000 - 20 - 32, TSEG_ACK | TSEG_FIN); /* the port's largest */
	send_big(x, &s);
	assert_int_equal(x->rx_len, 8000 + s.len);
	assert_memory_equal(x->rx, payload, x->rx_len);
	assert_int_equal(x->remote_closed, 1);
	assert_int_equal(state_of(x), USN_TCP_CLOSE_WAIT);
	expect_ack(x, x->pnxt + 8000 + s.len + 1);
	assert_int_equal(st(x)->drop_tcp_malformed + st(x)->drop_tcp_csum + st(x)->drop_ip_len, 0);
	fx_free(x);
}

/* Out of order: a long segment beyond a hole is kept (SACK block), a long
 * one filling the hole and overlapping it delivers everything. */
static void test_long_segment_out_of_order(void **state)
{
	(void)state;
	struct fx *x = fx_new(9000, 512, 0);
	fx_open(x, true);
	uint32_t b = x->pnxt;
	struct tseg s = data_seg(x, b, 3000, 6000, TSEG_ACK);
	send_big(x, &s);
	assert_int_equal(x->rx_len, 0);
	struct tseg *o = expect_ack(x, b);
	assert_int_equal(o->n_sack, 1);
	assert_int_equal(o->sack[0][0], b + 3000);
	assert_int_equal(o->sack[0][1], b + 9000);
	/* Another block further on, then the hole filled by a segment that
	 * overlaps the first block by 1000 bytes. */
	s = data_seg(x, b, 10000, 5000, TSEG_ACK);
	send_big(x, &s);
	o = expect_ack(x, b);
	assert_int_equal(o->n_sack, 2);
	assert_int_equal(o->sack[0][0], b + 10000); /* the latest first (RFC 2018 4) */
	assert_int_equal(o->sack[0][1], b + 15000);
	assert_int_equal(o->sack[1][0], b + 3000);
	s = data_seg(x, b, 0, 4000, TSEG_ACK);
	send_big(x, &s);
	assert_int_equal(x->rx_len, 9000);
	assert_memory_equal(x->rx, payload, 9000);
	o = expect_ack(x, b + 9000);
	assert_int_equal(o->n_sack, 1);
	assert_int_equal(o->sack[0][0], b + 10000);
	/* The rest: overlaps the second block on both sides' edges. */
	s = data_seg(x, b, 8000, 8500, TSEG_ACK);
	send_big(x, &s);
	assert_int_equal(x->rx_len, 16500);
	assert_memory_equal(x->rx, payload, 16500);
	o = expect_ack(x, b + 16500);
	assert_int_equal(o->n_sack, 0);
	fx_free(x);
}

/* Out of order beyond 32 KB (the old queue's limit): LRO coalesces the
 * peer's MSS segments into frames of about 45 KB; the one after a hole is
 * kept whole, not dropped. */
static void test_coalesced_out_of_order(void **state)
{
	(void)state;
	struct fx *x = fx_new(1500, 2048, USN_HAL_OFF_RX_LRO | USN_HAL_OFF_RX_CSUM);
	fx_open(x, true);
	uint32_t b = x->pnxt, mss = 1448;
	/* 31 segments after a one-segment hole, in one burst */
	for (uint32_t i = 1; i < 32; i++) {
		struct tseg s = data_seg(x, b, i * mss, mss, TSEG_ACK);
		s.tsval = x->tsval; /* the same TSval: coalescable */
		queue_big(x, &s);
	}
	tseg_advance(&x->nf, 0);
	assert_int_equal(x->rx_len, 0);
	assert_true(st(x)->tcp_ooo_segs >= 1);
	/* One duplicate ACK per segment the frame stands for, as if they had
	 * come one by one (a NewReno sender counts them). */
	for (int k = 0; k < 31; k++) {
		struct tseg *o = expect_ack(x, b);
		assert_int_equal(o->n_sack, 1);
		assert_int_equal(o->sack[0][0], b + mss);
		assert_int_equal(o->sack[0][1], b + 32 * mss);
	}
	expect_none(x);
	struct usn_sim_port_stats ps;
	usn_sim_port_stats(x->nf.host->port, &ps);
	assert_int_equal(ps.lro_frames, 1);
	assert_int_equal(ps.lro_merged, 30);
	struct tseg s = data_seg(x, b, 0, mss, TSEG_ACK);
	send_big(x, &s);
	assert_int_equal(x->rx_len, 32 * mss);
	assert_memory_equal(x->rx, payload, 32 * mss);
	expect_ack(x, b + 32 * mss);
	fx_free(x);
}

/* A long segment that runs past the advertised window is cut at its
 * edge: the part inside is taken, the rest is not. */
static void test_long_segment_beyond_window(void **state)
{
	(void)state;
	struct fx *x = fx_new(9000, 0, 0);
	x->cfg.tcp_rcv_wnd = 5000;
	netfix_teardown(&x->nf);
	netfix_setup(&x->nf, &x->cfg, &x->pc);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);
	fx_open(x, true);
	uint32_t b = x->pnxt;
	/* 5000 bytes of window offered: 8000 sent, 5000 taken. */
	struct tseg s = data_seg(x, b, 0, 8000, TSEG_ACK | TSEG_FIN);
	send_big(x, &s);
	assert_int_equal(x->rx_len, 5000);
	assert_memory_equal(x->rx, payload, 5000);
	assert_int_equal(x->remote_closed, 0); /* the FIN lay beyond the window */
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->ack, b + 5000);
	expect_none(x);
	/* The rest again, from where the window now starts. */
	s = data_seg(x, b, 5000, 3000, TSEG_ACK | TSEG_FIN);
	send_big(x, &s);
	assert_int_equal(x->rx_len, 8000);
	assert_memory_equal(x->rx, payload, 8000);
	assert_int_equal(x->remote_closed, 1);
	fx_free(x);
}

/* Data on the ACK that completes the handshake, as one long segment, and a
 * long segment in FIN-WAIT-2 after our close. */
static void test_long_segment_handshake_and_finwait(void **state)
{
	(void)state;
	struct fx *x = fx_new(9000, 1024, 0);
	fx_open(x, false);
	uint32_t b = x->pnxt;
	struct tseg s = data_seg(x, b, 0, 7000, TSEG_ACK | TSEG_PSH);
	send_big(x, &s);
	assert_int_equal(x->connected, 1);
	assert_int_equal(x->rx_len, 7000);
	assert_memory_equal(x->rx, payload, 7000);
	expect_ack(x, b + 7000);
	usn_tcp_close(x->c);
	tseg_advance(&x->nf, 0);
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->flags, TSEG_ACK | TSEG_FIN);
	uint32_t fin = o->seq;
	s = seg(x, TSEG_ACK, b + 7000, fin + 1);
	tseg_send(&x->nf, &s);
	assert_int_equal(state_of(x), USN_TCP_FIN_WAIT_2);
	s = data_seg(x, b, 7000, 8000, TSEG_ACK | TSEG_FIN);
	s.ack = fin + 1;
	send_big(x, &s);
	assert_int_equal(x->rx_len, 15000);
	assert_memory_equal(x->rx, payload, 15000);
	expect_ack(x, b + 15001);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_long_segment_in_order),
	    cmocka_unit_test(test_long_segment_out_of_order),
	    cmocka_unit_test(test_coalesced_out_of_order),
	    cmocka_unit_test(test_long_segment_beyond_window),
	    cmocka_unit_test(test_long_segment_handshake_and_finwait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
