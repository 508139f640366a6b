/* Unit tests of the software GRO step (lib/net/gro.c): frames put on the
 * link back to back reach the stack in one receive burst; what GRO merged
 * shows in its counters (gro_frames, gro_segs), in TCP input's (one
 * segment per merged frame) and in what the application and the peer get.
 * It merges in-order data of one flow; it refuses gaps, flag changes,
 * timestamps going back, bad sums, other flows, non-TCP frames, IP options,
 * longer segments and anything after PSH; frames a port coalesced pass. */
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
#define MSS 1448u

struct fx {
	struct netfix nf;
	struct usn_stack_config cfg;
	int connected[2], recv_calls;
	struct usn_tcp_conn *c[2];
	uint8_t rx[2][65536];
	size_t rx_len[2];
	uint32_t siss[2], base[2], tsval, stack_ts;
};

static uint8_t payload[65536];

static int conn_of(struct fx *x, struct usn_tcp_conn *c)
{
	return c == x->c[1] ? 1 : 0;
}
static void h_connected(struct usn_tcp_conn *c, void *user)
{
	struct fx *x = user;
	int i = x->c[0] ? 1 : 0;
	x->c[i] = c;
	x->connected[i]++;
}
static void h_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	struct fx *x = user;
	int i = conn_of(x, c);
	x->recv_calls++;
	x->rx_len[i] += usn_cursor_read(d, x->rx[i] + x->rx_len[i], sizeof x->rx[i] - x->rx_len[i]);
}
static const struct usn_tcp_handlers H = {.connected_fn = h_connected, .recv_fn = h_recv};

static struct fx *fx_new(bool gro_off, uint32_t offloads)
{
	struct fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	usn_stack_config_init(&x->cfg, NETFIX_STACK_IP, 15);
	x->cfg.no_gro = gro_off;
	struct usn_sim_port_config pc = {.offloads = offloads};
	netfix_setup(&x->nf, &x->cfg, &pc);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 31 + (i >> 8));
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

static struct tseg seg(struct fx *x, int conn, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tseg s;
	memset(&s, 0, sizeof s);
	s.src_port = (uint16_t)(PEER + conn);
	s.dst_port = SRV;
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.window = 65535;
	s.has_ts = true;
	s.tsval = x->tsval;
	s.tsecr = x->stack_ts;
	return s;
}

/* Connection `conn` from port PEER + conn, established with timestamps. */
static void fx_open(struct fx *x, int conn)
{
	struct tseg s = seg(x, conn, TSEG_SYN, PISS, 0);
	s.has_mss = true;
	s.mss = 1460;
	tseg_send(&x->nf, &s);
	struct tseg o;
	assert_true(tseg_recv(&x->nf, &o));
	assert_int_equal(o.flags, TSEG_SYN | TSEG_ACK);
	x->stack_ts = o.tsval;
	x->siss[conn] = o.seq;
	x->base[conn] = PISS + 1;
	s = seg(x, conn, TSEG_ACK, PISS + 1, o.seq + 1);
	tseg_send(&x->nf, &s);
	assert_int_equal(x->connected[conn], 1);
	assert_false(tseg_recv(&x->nf, &o));
}

/* Data bytes [off, off + len) of connection conn's stream. */
static struct tseg data(struct fx *x, int conn, uint32_t off, uint32_t len)
{
	struct tseg s = seg(x, conn, TSEG_ACK, x->base[conn] + off, x->siss[conn] + 1);
	s.payload = payload + off;
	s.len = len;
	return s;
}

static size_t build(uint8_t *f, const struct tseg *s)
{
	return tseg_build(f, s, NETFIX_RAW_IP, NETFIX_STACK_IP);
}

static void put_raw(struct fx *x, const uint8_t *f, size_t n)
{
	assert_int_equal(usn_sim_port_send_raw(x->nf.raw, f, n), 0);
}

static void queue(struct fx *x, const struct tseg *s)
{
	uint8_t f[2048];
	put_raw(x, f, build(f, s));
}

/* Lets the stack take what waits, in one burst. */
static void run(struct fx *x)
{
	tseg_advance(&x->nf, 0);
}

/* The IPv4 header sum again after an edit of the header at f + 14. */
static void ip_resum(uint8_t *f)
{
	f[24] = f[25] = 0;
	uint16_t c = netfix_csum(f + 14, (size_t)(f[14] & 15) * 4);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
}

static uint32_t acks_seen(struct fx *x, uint32_t *last_ack)
{
	struct tseg o;
	uint32_t n = 0;
	while (tseg_recv(&x->nf, &o)) {
		assert_true(o.csum_ok);
		*last_ack = o.ack;
		n++;
	}
	return n;
}

/* ---- merges ---- */

static void test_merges_in_order(void **state)
{
	(void)state;
	struct fx *x = fx_new(false, 0);
	fx_open(x, 0);
	uint64_t segs0 = st(x)->tcp_rx_segs;
	/* Eight segments, the TSval moving on and the ACK the same; the last
	 * short, with PSH. */
	for (uint32_t i = 0; i < 8; i++) {
		struct tseg s = data(x, 0, i * MSS, i == 7 ? 500 : MSS);
		if (i == 7)
			s.flags |= TSEG_PSH;
		s.tsval = x->tsval + i / 3;
		queue(x, &s);
	}
	run(x);
	assert_int_equal(st(x)->gro_frames, 1);
	assert_int_equal(st(x)->gro_segs, 7);
	assert_int_equal(st(x)->tcp_rx_segs - segs0, 1);
	assert_int_equal(x->recv_calls, 1);
	assert_int_equal(x->rx_len[0], 7 * MSS + 500);
	assert_memory_equal(x->rx[0], payload, 7 * MSS + 500);
	uint32_t ack = 0;
	assert_int_equal(acks_seen(x, &ack), 1);
	assert_int_equal(ack, x->base[0] + 7 * MSS + 500);
	assert_int_equal(st(x)->drop_tcp_csum + st(x)->drop_ip_csum, 0);
	fx_free(x);
}

/* Two flows interleaved in one burst: each merged on its own. A ping and
 * an ARP frame between them change nothing. */
static void test_two_flows_and_other_protocols(void **state)
{
	(void)state;
	struct fx *x = fx_new(false, 0);
	fx_open(x, 0);
	fx_open(x, 1);
	uint8_t f[2048];
	for (uint32_t i = 0; i < 5; i++) {
		struct tseg a = data(x, 0, i * MSS, MSS), b = data(x, 1, i * 1000, 1000);
		queue(x, &a);
		if (i == 2)
			put_raw(x, f, netfix_ping_frame(f, 7, 1, "ping", 4));
		queue(x, &b);
	}
	run(x);
	assert_int_equal(st(x)->gro_frames, 2);
	assert_int_equal(st(x)->gro_segs, 8);
	assert_int_equal(st(x)->icmp_echo_rx, 1);
	assert_int_equal(x->rx_len[0], 5 * MSS);
	assert_memory_equal(x->rx[0], payload, 5 * MSS);
	assert_int_equal(x->rx_len[1], 5000);
	assert_memory_equal(x->rx[1], payload, 5000);
	fx_free(x);
}

/* The ACK may move on (the merged header carries the latest ACK and
 * window); TSecr must stay, TSval must not go back. */
static void test_ack_moves_ts_rules(void **state)
{
	(void)state;
	struct fx *x = fx_new(false, 0);
	fx_open(x, 0);
	/* the stack sends data so the peer's ACK can move */
	static const uint8_t hello[3000];
	assert_int_equal(usn_tcp_send_ref(x->c[0], hello, sizeof hello, NULL), 0);
	run(x);
	struct tseg o;
	assert_true(tseg_recv(&x->nf, &o));
	assert_true(tseg_recv(&x->nf, &o));
	for (uint32_t i = 0; i < 3; i++) {
		struct tseg s = data(x, 0, i * MSS, MSS);
		s.ack = x->siss[0] + 1 + 1000 * i;
		queue(x, &s);
	}
	run(x);
	assert_int_equal(st(x)->gro_frames, 1);
	assert_int_equal(st(x)->gro_segs, 2);
	struct usn_tcp_info info;
	usn_tcp_info(x->c[0], &info);
	assert_int_equal(info.bytes_acked, 2000); /* the latest ACK counted */

	/* TSval going back, then TSecr changing: three frames. */
	uint32_t off = 3 * MSS;
	struct tseg s = data(x, 0, off, MSS);
	s.ack = x->siss[0] + 1 + 2000;
	s.tsval = x->tsval + 5;
	queue(x, &s);
	s = data(x, 0, off + MSS, MSS);
	s.ack = x->siss[0] + 1 + 2000;
	s.tsval = x->tsval + 4;
	queue(x, &s);
	s = data(x, 0, off + 2 * MSS, MSS);
	s.ack = x->siss[0] + 1 + 2000;
	s.tsval = x->tsval + 5;
	s.tsecr = x->stack_ts + 1;
	queue(x, &s);
	run(x);
	/* None merged: the first goes in, PAWS drops the one that went back
	 * (TS.Recent came from the first), the third waits out of order. */
	assert_int_equal(st(x)->gro_frames, 1);
	assert_int_equal(st(x)->drop_tcp_paws, 1);
	assert_int_equal(x->rx_len[0], 4 * MSS);
	s = data(x, 0, off + MSS, MSS);
	s.ack = x->siss[0] + 1 + 2000;
	s.tsval = x->tsval + 6;
	queue(x, &s);
	run(x);
	assert_int_equal(x->rx_len[0], 6 * MSS);
	assert_memory_equal(x->rx[0], payload, 6 * MSS);
	fx_free(x);
}

/* ---- refusals ---- */

/* A gap: the segments after it merge among themselves, not across it. */
static void test_gap(void **state)
{
	(void)state;
	struct fx *x = fx_new(false, 0);
	fx_open(x, 0);
	struct tseg s;
	for (uint32_t i = 0; i < 6; i++) {
		if (i == 2)
			continue;
		s = data(x, 0, i * MSS, MSS);
		queue(x, &s);
	}
	run(x);
	assert_int_equal(st(x)->gro_frames, 2); /* 0-1 and 3-5 */
	assert_int_equal(st(x)->gro_segs, 3);
	assert_int_equal(x->rx_len[0], 2 * MSS);
	s = data(x, 0, 2 * MSS, MSS);
	queue(x, &s);
	run(x);
	assert_int_equal(x->rx_len[0], 6 * MSS);
	assert_memory_equal(x->rx[0], payload, 6 * MSS);
	fx_free(x);
}

/* What ends or prevents a merge: PSH (the next starts afresh), a pure ACK
 * between, a segment longer than the first, URG, and a short segment (the
 * next starts afresh). */
static void test_flags_and_sizes(void **state)
{
	(void)state;
	struct fx *x = fx_new(false, 0);
	fx_open(x, 0);
	uint32_t off = 0;
	struct tseg s;
	/* [MSS, MSS+PSH] [MSS] -- pure ACK -- [MSS, 1000] [1000, MSS(longer)] [URG] */
	s = data(x, 0, off, MSS);
	queue(x, &s);
	off += MSS;
	s = data(x, 0, off, MSS);
	s.flags |= TSEG_PSH;
	queue(x, &s);
	off += MSS;
	s = data(x, 0, off, MSS);
	queue(x, &s);
	off += MSS;
	s = seg(x, 0, TSEG_ACK, x->base[0] + off, x->siss[0] + 1);
	queue(x, &s);
	s = data(x, 0, off, MSS);
	queue(x, &s);
	off += MSS;
	s = data(x, 0, off, 1000);
	queue(x, &s);
	off += 1000;
	s = data(x, 0, off, 1000);
	queue(x, &s);
	off += 1000;
	s = data(x, 0, off, 1200);
	queue(x, &s);
	off += 1200;
	s = data(x, 0, off, 100);
	s.flags |= 0x20; /* URG */
	queue(x, &s);
	off += 100;
	run(x);
	/* merged: 0+1, 3+4; 5 alone (after a short one); 6 alone (longer) */
	assert_int_equal(st(x)->gro_frames, 2);
	assert_int_equal(st(x)->gro_segs, 2);
	assert_int_equal(x->rx_len[0], off);
	assert_memory_equal(x->rx[0], payload, off);
	/* Options other than NOP NOP TS (here a SACK block): not merged. */
	for (int i = 0; i < 2; i++) {
		s = data(x, 0, off, 1000);
		s.n_sack = 1;
		s.sack[0][0] = x->siss[0] - 100;
		s.sack[0][1] = x->siss[0] - 50;
		queue(x, &s);
		off += 1000;
	}
	run(x);
	assert_int_equal(st(x)->gro_frames, 2);
	assert_int_equal(x->rx_len[0], off);
	assert_memory_equal(x->rx[0], payload, off);
	fx_free(x);
}

/* Bad TCP sum: not merged, dropped and counted by TCP input; the frames
 * around it merge on either side of it. Bad IPv4 sum: the same at IP. */
static void test_bad_sums(void **state)
{
	(void)state;
	struct fx *x = fx_new(false, 0);
	fx_open(x, 0);
	for (uint32_t i = 0; i < 6; i++) {
		struct tseg s = data(x, 0, i * MSS, MSS);
		s.bad_csum = i == 2;
		queue(x, &s);
	}
	run(x);
	assert_int_equal(st(x)->drop_tcp_csum, 1);
	assert_int_equal(st(x)->gro_frames, 2);
	assert_int_equal(x->rx_len[0], 2 * MSS);
	uint8_t f[2048];
	struct tseg s = data(x, 0, 2 * MSS, MSS);
	size_t n = build(f, &s);
	f[14 + 8] ^= 1; /* TTL: the IPv4 sum breaks */
	put_raw(x, f, n);
	s = data(x, 0, 2 * MSS, MSS);
	queue(x, &s);
	run(x);
	assert_int_equal(st(x)->drop_ip_csum, 1);
	assert_int_equal(x->rx_len[0], 6 * MSS);
	assert_memory_equal(x->rx[0], payload, 6 * MSS);
	fx_free(x);
}

/* IPv4: options or no DF with IDs that do not count up are not merged;
 * without DF, counting IDs are. */
static void test_ip_rules(void **state)
{
	(void)state;
	struct fx *x = fx_new(false, 0);
	fx_open(x, 0);
	uint8_t f[2048];
	for (uint32_t i = 0; i < 2; i++) {
		struct tseg s = data(x, 0, i * MSS, MSS);
		size_t n = build(f, &s);
		/* four bytes of IP options (NOPs, then EOL) */
		memmove(f + 38, f + 34, n - 34);
		memset(f + 34, 1, 3);
		f[37] = 0;
		f[14] = 0x46;
		f[16] = (uint8_t)((n + 4 - 14) >> 8);
		f[17] = (uint8_t)(n + 4 - 14);
		ip_resum(f);
		put_raw(x, f, n + 4);
	}
	run(x);
	assert_int_equal(st(x)->gro_frames, 0);
	assert_int_equal(x->rx_len[0], 2 * MSS);
	/* no DF: ids 7, 8 merge, 20 does not */
	uint16_t ids[3] = {7, 8, 20};
	for (uint32_t i = 0; i < 3; i++) {
		struct tseg s = data(x, 0, (2 + i) * MSS, MSS);
		size_t n = build(f, &s);
		f[18] = (uint8_t)(ids[i] >> 8);
		f[19] = (uint8_t)ids[i];
		f[20] = 0;
		ip_resum(f);
		put_raw(x, f, n);
	}
	run(x);
	assert_int_equal(st(x)->gro_frames, 1);
	assert_int_equal(st(x)->gro_segs, 1);
	assert_int_equal(x->rx_len[0], 5 * MSS);
	assert_memory_equal(x->rx[0], payload, 5 * MSS);
	fx_free(x);
}

/* GRO off: each segment goes to TCP input by itself. */
static void test_gro_off(void **state)
{
	(void)state;
	struct fx *x = fx_new(true, 0);
	fx_open(x, 0);
	uint64_t segs0 = st(x)->tcp_rx_segs;
	for (uint32_t i = 0; i < 4; i++) {
		struct tseg s = data(x, 0, i * MSS, MSS);
		queue(x, &s);
	}
	run(x);
	assert_int_equal(st(x)->gro_frames, 0);
	assert_int_equal(st(x)->tcp_rx_segs - segs0, 4);
	assert_int_equal(x->rx_len[0], 4 * MSS);
	fx_free(x);
}

/* A port that coalesces (LRO): its frames pass as they are and are
 * counted; GRO does not touch them. With the port's checksum word, GRO
 * does not sum frames again. */
static void test_port_coalesced_pass(void **state)
{
	(void)state;
	struct fx *x = fx_new(false, USN_HAL_OFF_RX_LRO | USN_HAL_OFF_RX_CSUM);
	fx_open(x, 0);
	for (uint32_t i = 0; i < 6; i++) {
		struct tseg s = data(x, 0, i * MSS, MSS);
		queue(x, &s);
	}
	run(x);
	assert_int_equal(st(x)->rx_coalesced, 1);
	assert_int_equal(st(x)->gro_frames, 0);
	assert_int_equal(x->rx_len[0], 6 * MSS);
	assert_memory_equal(x->rx[0], payload, 6 * MSS);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merges_in_order),
	    cmocka_unit_test(test_two_flows_and_other_protocols),
	    cmocka_unit_test(test_ack_moves_ts_rules),
	    cmocka_unit_test(test_gap),
	    cmocka_unit_test(test_flags_and_sizes),
	    cmocka_unit_test(test_bad_sums),
	    cmocka_unit_test(test_ip_rules),
	    cmocka_unit_test(test_gro_off),
	    cmocka_unit_test(test_port_coalesced_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
