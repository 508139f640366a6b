/* Unit tests of TCP with large segments (lib/tcp), in the style of the
 * tests over tests/common/tcpfx.h: a stack on the simulated link and a raw
 * peer port. Input: segments longer than the MSS (a jumbo-capable port, or
 * coalesced by the port's LRO), in order, out of order with SACK, beyond
 * the window, spread over buffer chains, with FIN, in each state that
 * takes data. Output: the large segments a TSO port is handed (sizes,
 * flags, seg_size, the checksum convention), checked both as handed over
 * (a TX tap) and as cut on the wire, with retransmission, SACK recovery,
 * RTO and the zero-window probe. */
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
#define SEQ_LT_T(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)

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

/* A coalesced frame of tiny segments past a hole: one duplicate ACK per
 * segment, but at most 64 (not an ACK storm for one frame). */
static void test_coalesced_dupacks_capped(void **state)
{
	(void)state;
	struct fx *x = fx_new(1500, 2048, USN_HAL_OFF_RX_LRO | USN_HAL_OFF_RX_CSUM);
	fx_open(x, true);
	uint32_t b = x->pnxt;
	for (uint32_t i = 1; i <= 100; i++) {
		struct tseg s = data_seg(x, b, i, 1, TSEG_ACK);
		s.tsval = x->tsval;
		queue_big(x, &s);
	}
	tseg_advance(&x->nf, 0);
	struct usn_sim_port_stats ps;
	usn_sim_port_stats(x->nf.host->port, &ps);
	assert_int_equal(ps.lro_frames, 1);
	unsigned acks = 0;
	struct tseg o;
	while (tseg_recv(&x->nf, &o)) {
		assert_int_equal(o.ack, b);
		assert_int_equal(o.n_sack, 1);
		acks++;
	}
	assert_int_equal(acks, 64);
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


/* ---- output: large segments for a TSO port ---- */

#define TSO_OFF (USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_MULTISEG | USN_HAL_OFF_TX_TSO)

/* What the stack handed its port, frame by frame (the sim's TX tap). */
struct taprec {
	uint32_t frame_len, seq, src, dst;
	uint16_t flags, seg_size, sum_field, ip_tot, ip_id;
	uint8_t l2, l3, l4, tcp_flags, thl;
	bool ip_sum_ok; /* the IPv4 header's sum field is the header's sum */
	unsigned bufs;
};
static struct taprec taps[512];
static unsigned n_taps;

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

static void tap_fn(void *arg, const struct usn_buf *f)
{
	(void)arg;
	uint8_t h[128];
	size_t n = 0;
	unsigned bufs = 0;
	for (const struct usn_buf *b = f; b; b = b->next, bufs++)
		for (uint16_t i = 0; i < b->len && n < sizeof h; i++)
			h[n++] = b->data[i];
	if (n < 54 || be16(h + 12) != 0x0800 || h[23] != 6 || n_taps == 512)
		return;
	struct taprec *t = &taps[n_taps++];
	t->frame_len = f->frame_len;
	t->flags = f->flags;
	t->seg_size = f->seg_size;
	t->l2 = f->l2_len;
	t->l3 = f->l3_len;
	t->l4 = f->l4_len;
	t->bufs = bufs;
	t->ip_tot = be16(h + 16);
	t->ip_id = be16(h + 18);
	t->src = be32(h + 26);
	t->dst = be32(h + 30);
	t->seq = be32(h + 38);
	t->thl = (uint8_t)((h[46] >> 4) * 4);
	t->tcp_flags = h[47];
	t->sum_field = be16(h + 50);
	uint32_t sum = 0;
	for (int i = 14; i < 34; i += 2)
		sum += be16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	t->ip_sum_ok = sum == 0xffff;
}

/* The pseudo-header sum, folded, not complemented (the TSO convention). */
static uint16_t pseudo16(uint32_t src, uint32_t dst, uint32_t l4_len)
{
	uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + l4_len;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static struct fx *fx_tso(uint32_t extra_offloads)
{
	struct fx *x = fx_new(1500, 2048, TSO_OFF | extra_offloads);
	n_taps = 0;
	usn_sim_port_set_tx_tap(x->nf.host->port, tap_fn, NULL);
	return x;
}

/* A large segment as the contract (hal.h) wants it: the flags, the header
 * lengths, the IPv4 length of the whole, the pseudo-header sum of the
 * whole in the TCP field, pieces of seg_size. */
static void check_tso(const struct taprec *t, uint32_t seq, uint32_t len, uint16_t seg, uint8_t thl, uint8_t fl)
{
	assert_int_equal(t->flags & (USN_BUF_TX_TCP_SEG | USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_CSUM),
			 USN_BUF_TX_TCP_SEG | USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_CSUM);
	assert_int_equal(t->l2, 14);
	assert_int_equal(t->l3, 20);
	assert_int_equal(t->l4, thl);
	assert_int_equal(t->thl, thl);
	assert_int_equal(t->seg_size, seg);
	assert_int_equal(t->seq, seq);
	assert_int_equal(t->ip_tot, 20 + thl + len);
	assert_int_equal(t->frame_len, 14 + 20 + thl + len);
	assert_int_equal(t->tcp_flags, fl);
	assert_int_equal(t->sum_field, pseudo16(t->src, t->dst, thl + len));
	assert_true(t->bufs > 1); /* chained over the port's 2048-byte buffers */
}

/* The pieces on the wire: seg bytes each from seq on (the last shorter),
 * sums good (recv_seg checks), FIN and PSH on the last only. */
static void expect_pieces(struct fx *x, uint32_t seq, uint32_t len, uint16_t seg, uint8_t last_flags, uint32_t data_off)
{
	uint32_t off = 0;
	while (off < len) {
		uint32_t n = len - off < seg ? len - off : seg;
		struct tseg *o = recv_seg(x);
		assert_int_equal(o->seq, seq + off);
		assert_int_equal(o->len, n);
		assert_int_equal(o->flags, off + n == len ? last_flags : TSEG_ACK);
		assert_memory_equal(o->data, payload + data_off + off, n);
		off += n;
	}
}

/* The peer's ACK of everything up to ack, with a window. */
static void peer_ack(struct fx *x, uint32_t ack, uint16_t window)
{
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, ack);
	s.window = window;
	tseg_send(&x->nf, &s);
}

/* The initial window goes out as one large segment of ten pieces; after
 * its ACK (byte counting: cwnd doubles) the next one carries twice that. */
static void test_tso_initial_window_and_growth(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	fx_open(x, true);
	uint32_t s0 = x->siss + 1;
	n_taps = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 100000, NULL), 0);
	tseg_advance(&x->nf, 0);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0, 14480, 1448, 32, TSEG_ACK);
	expect_pieces(x, s0, 14480, 1448, TSEG_ACK, 0);
	expect_none(x);
	assert_int_equal(st(x)->tcp_tso_frames, 1);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.snd_nxt, s0 + 14480);

	uint16_t id0 = taps[0].ip_id;
	n_taps = 0;
	peer_ack(x, s0 + 14480, 2000); /* window scaled by 7: 256000 */
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0 + 14480, 28960, 1448, 32, TSEG_ACK);
	/* The port gave the first segment's ten pieces ids id0..id0 + 9: the
	 * next packet's id follows them. */
	assert_int_equal(taps[0].ip_id, (uint16_t)(id0 + 10));
	expect_pieces(x, s0 + 14480, 28960, 1448, TSEG_ACK, 14480);
	expect_none(x);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.cwnd, 28960);
	assert_int_equal(x->sent, 14480);

	/* The rest (56560 bytes) fits one segment, all that is left: PSH,
	 * its last piece short. */
	n_taps = 0;
	peer_ack(x, s0 + 43440, 2000);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0 + 43440, 56560, 1448, 32, TSEG_ACK | TSEG_PSH);
	expect_pieces(x, s0 + 43440, 56560, 1448, TSEG_ACK | TSEG_PSH, 43440);
	/* IP ids: one per piece, so the next packet's follows the 40 pieces. */
	peer_ack(x, s0 + 100000, 2000);
	assert_int_equal(x->sent, 100000);
	fx_free(x);
}

/* A port that cuts large segments and fills the pieces' TCP sums but not
 * the IPv4 header sum (the Linux packet port: the kernel's GSO recomputes
 * each piece's header sum anyway): the stack still uses TSO and writes a
 * valid IPv4 sum in the large header itself. It required TX_IP_CSUM too,
 * so the packet port got no large segments at all. */
static void test_tso_without_ip_csum_offload(void **state)
{
	(void)state;
	struct fx *x = fx_new(1500, 2048, USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_MULTISEG | USN_HAL_OFF_TX_TSO);
	n_taps = 0;
	usn_sim_port_set_tx_tap(x->nf.host->port, tap_fn, NULL);
	fx_open(x, true);
	uint32_t s0 = x->siss + 1;
	n_taps = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 100000, NULL), 0);
	tseg_advance(&x->nf, 0);
	assert_int_equal(n_taps, 1);
	assert_int_equal(taps[0].flags & (USN_BUF_TX_TCP_SEG | USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_CSUM),
			 USN_BUF_TX_TCP_SEG | USN_BUF_TX_TCP_CSUM);
	assert_true(taps[0].ip_sum_ok);
	assert_int_equal(taps[0].ip_tot, 20 + 32 + 14480);
	assert_int_equal(taps[0].seg_size, 1448);
	expect_pieces(x, s0, 14480, 1448, TSEG_ACK, 0);
	expect_none(x);
	assert_int_equal(st(x)->tcp_tso_frames, 1);
	fx_free(x);
}

/* Sender SWS avoidance over the whole: a window that is not a multiple of
 * the MSS gets whole pieces only while more waits; the remainder goes when
 * the window opens. Close: FIN and PSH on the large segment, the port puts
 * them on its last piece. */
static void test_tso_window_sws_and_fin(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	x->peer_mss = 1460;
	fx_open(x, false);
	/* The handshake's ACK offers 5000 bytes (scale 7: 39 units = 4992). */
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 39;
	tseg_send(&x->nf, &s);
	uint32_t s0 = x->siss + 1;
	n_taps = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 9000, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	tseg_advance(&x->nf, 0);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0, 3 * 1448, 1448, 32, TSEG_ACK); /* not 4992 */
	expect_pieces(x, s0, 3 * 1448, 1448, TSEG_ACK, 0);
	expect_none(x);
	/* All acked, the window opens: the remaining 4656 bytes and the FIN
	 * in one segment. */
	n_taps = 0;
	peer_ack(x, s0 + 3 * 1448, 2000);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0 + 4344, 4656, 1448, 32, TSEG_ACK | TSEG_PSH | TSEG_FIN);
	expect_pieces(x, s0 + 4344, 4656, 1448, TSEG_ACK | TSEG_PSH | TSEG_FIN, 4344);
	expect_none(x);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.state, USN_TCP_FIN_WAIT_1);
	assert_int_equal(i.snd_nxt, s0 + 9000 + 1);
	fx_free(x);
}

/* SACK blocks in the header shorten every piece: seg_size is the MSS
 * less the options actually sent, and the segment whole pieces of it. */
static void test_tso_sack_blocks_shorten_pieces(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	fx_open(x, true);
	/* The peer sends data with a hole: the stack holds a block out of
	 * order, so its segments carry one SACK block (12 bytes). */
	struct tseg d = data_seg(x, x->pnxt, 1000, 500, TSEG_ACK);
	tseg_send(&x->nf, &d);
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->n_sack, 1);
	uint32_t s0 = x->siss + 1;
	n_taps = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 20000, NULL), 0);
	tseg_advance(&x->nf, 0);
	assert_int_equal(n_taps, 1);
	uint16_t piece = 1448 - 12;
	check_tso(&taps[0], s0, 10 * piece, piece, 44, TSEG_ACK);
	for (uint32_t k = 0; k < 10; k++) {
		o = recv_seg(x);
		assert_int_equal(o->len, piece);
		assert_int_equal(o->n_sack, 1); /* every piece carries the header's options */
		assert_int_equal(o->seq, s0 + k * piece);
	}
	expect_none(x);
	fx_free(x);
}

/* SWS avoidance counts a piece shortened by SACK blocks as full: with
 * data in flight and room for one such piece (not two), it goes, as the
 * same segment goes without TSO (send_seg cuts an MSS to fit the options). */
static void test_tso_sws_piece_with_sack_is_full(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	fx_open(x, false);
	/* 33 units of 128: 4224 bytes of window */
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 33;
	tseg_send(&x->nf, &s);
	struct tseg d = data_seg(x, x->pnxt, 1000, 500, TSEG_ACK); /* a hole: one SACK block */
	d.window = 33;
	tseg_send(&x->nf, &d);
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->n_sack, 1);
	uint32_t s0 = x->siss + 1;
	uint16_t piece = 1448 - 12;
	n_taps = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 20000, NULL), 0);
	tseg_advance(&x->nf, 0);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0, 2 * piece, piece, 44, TSEG_ACK);
	expect_pieces(x, s0, 2 * piece, piece, TSEG_ACK, 0);
	expect_none(x);
	/* The first piece acked: 2788 bytes of room, one piece in flight. */
	n_taps = 0;
	s = seg(x, TSEG_ACK, x->pnxt, s0 + piece);
	s.window = 33;
	tseg_send(&x->nf, &s);
	assert_int_equal(n_taps, 1);
	o = recv_seg(x);
	assert_int_equal(o->seq, s0 + 2 * piece);
	assert_int_equal(o->len, piece);
	fx_free(x);
}

/* A long (or slow-to-answer) path: the window goes as one segment all the
 * same. The stack does not pace, so smaller segments would leave back to
 * back anyway, only more of them (sized by the SRTT, as Linux's
 * tcp_tso_autosize, they were 2 pieces here, and a busy worker's receive
 * ring, whose wait counts in every RTT sample, made them so on a veth). */
static void test_tso_long_rtt_one_segment(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	fx_open(x, false);
	tseg_advance(&x->nf, 100 * MS); /* the handshake's RTT: 100 ms */
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	tseg_send(&x->nf, &s);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_true(i.srtt_us >= 100000);
	uint32_t s0 = x->siss + 1;
	n_taps = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 14480, NULL), 0);
	tseg_advance(&x->nf, 0);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0, 14480, 1448, 32, TSEG_ACK | TSEG_PSH);
	expect_pieces(x, s0, 14480, 1448, TSEG_ACK | TSEG_PSH, 0);
	fx_free(x);
}

/* Loss: the RTO retransmits one MSS (cwnd 1), then the lost range goes
 * again in large segments as the window grows, counted as retransmitted
 * pieces; Karn: no RTT sample from them (timestamps: stale echoes). */
static void test_tso_rto_then_large_retransmission(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	fx_open(x, true);
	uint32_t s0 = x->siss + 1;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 14480, NULL), 0);
	tseg_advance(&x->nf, 0);
	for (int k = 0; k < 10; k++)
		recv_seg(x); /* all lost */
	n_taps = 0;
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	tseg_advance(&x->nf, i.rto_ms * MS);
	assert_int_equal(st(x)->tcp_rto_fired, 1);
	assert_int_equal(n_taps, 1);
	assert_int_equal(taps[0].flags & USN_BUF_TX_TCP_SEG, 0); /* one MSS */
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->seq, s0);
	assert_int_equal(o->len, 1448);
	expect_none(x);
	uint64_t rtx0 = st(x)->tcp_retrans_segs;
	/* Its ACK: cwnd 2 MSS, the next two pieces again as one segment. */
	n_taps = 0;
	peer_ack(x, s0 + 1448, 2000);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0 + 1448, 2896, 1448, 32, TSEG_ACK);
	expect_pieces(x, s0 + 1448, 2896, 1448, TSEG_ACK, 1448);
	assert_int_equal(st(x)->tcp_retrans_segs - rtx0, 2);
	n_taps = 0;
	peer_ack(x, s0 + 4344, 2000);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0 + 4344, 5792, 1448, 32, TSEG_ACK);
	expect_pieces(x, s0 + 4344, 5792, 1448, TSEG_ACK, 4344);
	peer_ack(x, s0 + 10136, 2000);
	expect_pieces(x, s0 + 10136, 4344, 1448, TSEG_ACK | TSEG_PSH, 10136);
	peer_ack(x, s0 + 14480, 2000);
	assert_int_equal(x->sent, 14480);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.retransmits, 10);
	fx_free(x);
}

/* SACK recovery: three duplicate ACKs SACKing the pieces after a lost one
 * retransmit exactly that piece (one MSS, not a large segment), and a
 * retransmission after an RTO stops where SACKed data starts. */
static void test_tso_sack_recovery(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	fx_open(x, true);
	uint32_t s0 = x->siss + 1;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 14480, NULL), 0);
	tseg_advance(&x->nf, 0);
	for (int k = 0; k < 10; k++)
		recv_seg(x);
	/* piece 2 lost: 0 and 1 ACKed, then pieces 3, 4, 5 arrive: three
	 * duplicate ACKs */
	peer_ack(x, s0 + 2 * 1448, 2000);
	n_taps = 0;
	for (uint32_t k = 3; k <= 5; k++) {
		struct tseg s = seg(x, TSEG_ACK, x->pnxt, s0 + 2 * 1448);
		s.window = 2000;
		s.n_sack = 1;
		s.sack[0][0] = s0 + 3 * 1448;
		s.sack[0][1] = s0 + (k + 1) * 1448;
		tseg_send(&x->nf, &s);
	}
	assert_int_equal(st(x)->tcp_fast_retrans, 1);
	assert_true(n_taps >= 1);
	assert_int_equal(taps[0].flags & USN_BUF_TX_TCP_SEG, 0);
	struct tseg *o = recv_seg(x);
	assert_int_equal(o->seq, s0 + 2 * 1448);
	assert_int_equal(o->len, 1448);
	/* everything after it arrives */
	peer_ack(x, s0 + 14480, 2000);
	assert_int_equal(x->sent, 14480);
	while (tseg_recv(&x->nf, o))
		;

	fx_free(x);
}

/* After an RTO the lost range goes again in large segments as the window
 * grows, and each stops where the data the peer SACKed starts: 40 pieces
 * out, the peer holds 20..29 and ACKs nothing else; no byte of 20..29 is
 * sent again. */
static void test_tso_rto_skips_sacked(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	fx_open(x, true);
	uint32_t s0 = x->siss + 1;
	struct tseg o;
	/* Open cwnd to 40 pieces: 10, then 20, each ACKed. */
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 30 * 1448, NULL), 0);
	tseg_advance(&x->nf, 0);
	peer_ack(x, s0 + 10 * 1448, 2000);
	peer_ack(x, s0 + 30 * 1448, 2000);
	while (tseg_recv(&x->nf, &o))
		;
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.cwnd, 40 * 1448);
	uint32_t s1 = s0 + 30 * 1448;
	n_taps = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, payload + 30 * 1448, 40 * 1448, NULL), 0);
	tseg_advance(&x->nf, 0);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s1, 40 * 1448, 1448, 32, TSEG_ACK | TSEG_PSH);
	while (tseg_recv(&x->nf, &o))
		;
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, s1);
	s.window = 2000;
	s.n_sack = 1;
	s.sack[0][0] = s1 + 20 * 1448;
	s.sack[0][1] = s1 + 30 * 1448;
	tseg_send(&x->nf, &s);
	usn_tcp_info(x->c, &i);
	tseg_advance(&x->nf, i.rto_ms * MS);
	assert_int_equal(st(x)->tcp_rto_fired, 1);
	assert_true(tseg_recv(&x->nf, &o));
	assert_int_equal(o.seq, s1);
	assert_int_equal(o.len, 1448);
	x->stack_ts = o.tsval;
	/* ACK what came, SACKing 20..29 again, until the hole is filled. */
	uint32_t acked = s1 + 1448;
	unsigned large = 0;
	for (int round = 0; round < 20 && SEQ_LT_T(acked, s1 + 20 * 1448); round++) {
		n_taps = 0;
		s = seg(x, TSEG_ACK, x->pnxt, acked);
		s.window = 2000;
		s.n_sack = 1;
		s.sack[0][0] = s1 + 20 * 1448;
		s.sack[0][1] = s1 + 30 * 1448;
		tseg_send(&x->nf, &s);
		for (unsigned k = 0; k < n_taps; k++)
			large += (taps[k].flags & USN_BUF_TX_TCP_SEG) != 0;
		while (tseg_recv(&x->nf, &o)) {
			x->stack_ts = o.tsval; /* echo the latest: not a spurious RTO (Eifel) */
			assert_true(o.seq + o.len <= s1 + 20 * 1448 || SEQ_LT_T(o.seq, s1 + 30 * 1448) == 0);
			if (SEQ_LT_T(acked, o.seq + o.len) && SEQ_LT_T(o.seq, s1 + 20 * 1448))
				acked = o.seq + o.len;
		}
	}
	assert_int_equal(acked, s1 + 20 * 1448);
	assert_true(large >= 2); /* the lost range went again in large segments */
	fx_free(x);
}

/* The zero-window probe stays a bare segment below SND.UNA; when the
 * window opens, the data goes in a large segment. */
static void test_tso_zero_window_probe(void **state)
{
	(void)state;
	struct fx *x = fx_tso(0);
	fx_open(x, false);
	struct tseg s = seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.window = 0;
	tseg_send(&x->nf, &s);
	uint32_t s0 = x->siss + 1;
	n_taps = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 30000, NULL), 0);
	tseg_advance(&x->nf, 0);
	expect_none(x);
	tseg_advance(&x->nf, 1100 * MS);
	assert_true(st(x)->tcp_zero_window_probes >= 1);
	assert_true(n_taps >= 1);
	for (unsigned k = 0; k < n_taps; k++)
		assert_int_equal(taps[k].flags & USN_BUF_TX_TCP_SEG, 0);
	unsigned probes = 0;
	struct tseg o;
	while (tseg_recv(&x->nf, &o)) {
		assert_int_equal(o.seq, s0 - 1);
		assert_int_equal(o.len, 0);
		probes++;
	}
	assert_int_equal(probes, st(x)->tcp_zero_window_probes);
	n_taps = 0;
	peer_ack(x, s0, 2000);
	assert_int_equal(n_taps, 1);
	check_tso(&taps[0], s0, 14480, 1448, 32, TSEG_ACK);
	expect_pieces(x, s0, 14480, 1448, TSEG_ACK, 0);
	fx_free(x);
}

/* Without timestamps: the timed segment is the large one (RTT from its
 * first byte's ACK), pieces of 1460. tcp_no_tso: MSS frames, as before. */
static void test_tso_no_timestamps_and_off(void **state)
{
	(void)state;
	for (int off = 0; off < 2; off++) {
		struct fx *x = fx_tso(0);
		if (off) {
			netfix_teardown(&x->nf);
			x->cfg.tcp_no_tso = true;
			netfix_setup(&x->nf, &x->cfg, &x->pc);
			netfix_drain(&x->nf);
			tseg_seed_arp(&x->nf);
			assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);
			usn_sim_port_set_tx_tap(x->nf.host->port, tap_fn, NULL);
		}
		struct tseg sy;
		memset(&sy, 0, sizeof sy);
		sy.src_port = PEER;
		sy.dst_port = SRV;
		sy.flags = TSEG_SYN;
		sy.seq = PISS;
		sy.window = 65535;
		sy.has_mss = true;
		sy.mss = 1460;
		tseg_send(&x->nf, &sy);
		struct tseg *o = recv_seg(x);
		x->siss = o->seq;
		x->pnxt = PISS + 1;
		sy.flags = TSEG_ACK;
		sy.seq = x->pnxt;
		sy.ack = x->siss + 1;
		sy.has_mss = false;
		tseg_send(&x->nf, &sy);
		uint32_t s0 = x->siss + 1;
		n_taps = 0;
		assert_int_equal(usn_tcp_send_ref(x->c, payload, 14600, NULL), 0);
		tseg_advance(&x->nf, 0);
		if (off) {
			assert_int_equal(n_taps, 10);
			for (unsigned k = 0; k < 10; k++) {
				assert_int_equal(taps[k].flags & USN_BUF_TX_TCP_SEG, 0);
				assert_int_equal(taps[k].ip_tot, 1500);
			}
			assert_int_equal(st(x)->tcp_tso_frames, 0);
		} else {
			assert_int_equal(n_taps, 1);
			check_tso(&taps[0], s0, 14600, 1460, 20, TSEG_ACK | TSEG_PSH);
		}
		expect_pieces(x, s0, 14600, 1460, TSEG_ACK | TSEG_PSH, 0);
		tseg_advance(&x->nf, 5 * MS);
		sy.ack = s0 + 14600;
		tseg_send(&x->nf, &sy);
		struct usn_tcp_info i;
		usn_tcp_info(x->c, &i);
		/* SRTT 1 us from the handshake, then 5000 us: 1 + 5000 / 8 */
		assert_int_equal(i.srtt_us, 626);
		assert_int_equal(x->sent, 14600);
		fx_free(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_long_segment_in_order),
	    cmocka_unit_test(test_long_segment_out_of_order),
	    cmocka_unit_test(test_coalesced_out_of_order),
	    cmocka_unit_test(test_coalesced_dupacks_capped),
	    cmocka_unit_test(test_long_segment_beyond_window),
	    cmocka_unit_test(test_long_segment_handshake_and_finwait),
	    cmocka_unit_test(test_tso_initial_window_and_growth),
	    cmocka_unit_test(test_tso_without_ip_csum_offload),
	    cmocka_unit_test(test_tso_window_sws_and_fin),
	    cmocka_unit_test(test_tso_sack_blocks_shorten_pieces),
	    cmocka_unit_test(test_tso_sws_piece_with_sack_is_full),
	    cmocka_unit_test(test_tso_long_rtt_one_segment),
	    cmocka_unit_test(test_tso_rto_then_large_retransmission),
	    cmocka_unit_test(test_tso_sack_recovery),
	    cmocka_unit_test(test_tso_rto_skips_sacked),
	    cmocka_unit_test(test_tso_zero_window_probe),
	    cmocka_unit_test(test_tso_no_timestamps_and_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
