/* Unit tests of received ICMP errors and path MTU discovery (lib/net ICMP,
 * lib/net/pmtu.c, lib/tcp/tcp_icmp.c): "fragmentation needed" with the
 * quoted sequence number in flight lowers the MSS and retransmits at once
 * (RFC 1191), outside it is ignored (RFC 5927); the plateau table for a
 * next-hop MTU of 0; the pmtu_min floor; destination unreachable aborting
 * an active open; soft errors told when the connection times out; the
 * per-destination cache and its expiry; TSO segments cut at the new MSS.
 * A stack on the simulated link and a raw peer port (tests/common/tcpfx.h)
 * that also plays the router sending the ICMP errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcpfx.h"
#include "usnet/hal.h"

#define ROUTER_IP SIMNET_IP(0, 9) /* the ICMP error's source: any router on the path */

/* An ICMP error frame, raw port -> stack, built independently of
 * lib/wire: type, code, the next-hop MTU (type 3 code 4), then the quoted
 * IPv4 header of a segment from the stack (quoted_len its total length)
 * and quote_tcp bytes of its TCP header (ports, sequence number, then
 * zeros). Returns its length. */
static size_t icmp_err_frame(uint8_t *f, uint8_t type, uint8_t code, uint16_t mtu, uint16_t sport, uint16_t dport,
			     uint32_t seq, uint16_t quoted_len, size_t quote_tcp)
{
	uint8_t icmp[8 + 20 + 20];
	memset(icmp, 0, sizeof icmp);
	icmp[0] = type;
	icmp[1] = code;
	icmp[6] = (uint8_t)(mtu >> 8);
	icmp[7] = (uint8_t)mtu;
	netfix_ipv4(icmp + 8, NETFIX_STACK_IP, NETFIX_RAW_IP, 6, (uint16_t)(quoted_len - 20), 64, 7, 0x4000);
	uint8_t *t = icmp + 28;
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8);
	t[3] = (uint8_t)dport;
	t[4] = (uint8_t)(seq >> 24);
	t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	size_t len = 28 + quote_tcp;
	uint16_t sum = netfix_csum(icmp, len);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	size_t n = netfix_eth(f, netfix_stack_mac, netfix_raw_mac, 0x0800);
	n += netfix_ipv4(f + n, ROUTER_IP, NETFIX_STACK_IP, 1, (uint16_t)len, 64, 1, 0);
	memcpy(f + n, icmp, len);
	return n + len;
}

/* "Fragmentation needed" for the stack's segment at seq on the fixture's
 * connection (the stack's SRV to the peer's port). */
static void send_frag_needed(struct fx *x, uint16_t mtu, uint32_t seq)
{
	uint8_t f[128];
	size_t n = icmp_err_frame(f, 3, 4, mtu, SRV, x->pport, seq, 1500, 8);
	netfix_inject(&x->nf, f, n);
}

/* The stack's segments now waiting, each at most max bytes, covering
 * [from, to) in order; returns how many. */
static unsigned expect_cover(struct fx *x, uint32_t from, uint32_t to, uint32_t max, uint32_t full)
{
	unsigned k = 0;
	for (uint32_t seq = from; seq != to; k++) {
		struct tseg *o = RECV(x);
		assert_int_equal(o->seq, seq);
		assert_true(o->len <= max);
		if (to - seq > full)
			assert_int_equal(o->len, full);
		assert_memory_equal(o->data, fx_payload + (seq - x->siss - 1), o->len);
		seq += o->len;
	}
	return k;
}

/* In flight: four segments; a router's "fragmentation needed" (MTU 1280)
 * for the second lowers the MSS to 1240 and everything from SND.UNA goes
 * again at once at the new size, cwnd unchanged; new data too. */
static void test_frag_needed_lowers_mss_and_retransmits(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	fx_send_segments(x, 4);
	uint32_t cwnd = cwnd_of(x);
	send_frag_needed(x, 1280, x->siss + 1 + 1460);
	assert_int_equal(st(x)->icmp_unreach_rx, 1);
	assert_int_equal(st(x)->tcp_pmtu_lowered, 1);
	/* no time passed: sent at once, not on the RTO */
	assert_int_equal(expect_cover(x, x->siss + 1, x->siss + 1 + 4 * 1460, 1240, 1240), 5);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->tcp_retrans_segs, 5);
	assert_int_equal(cwnd_of(x), cwnd);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.mss, 1240);
	/* the peer acknowledges all; new data is cut at 1240 */
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1 + 4 * 1460);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload + 4 * 1460, 3000, NULL), 0);
	tseg_advance(&x->nf, 0);
	expect_cover(x, x->siss + 1 + 4 * 1460, x->siss + 1 + 4 * 1460 + 3000, 1240, 1240);
	EXPECT_NONE(x);
	/* a larger MTU later never raises it */
	send_frag_needed(x, 1400, x->siss + 1 + 4 * 1460);
	assert_int_equal(st(x)->tcp_pmtu_ignored, 1);
	EXPECT_NONE(x);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.mss, 1240);
	fx_free(x);
}

/* RFC 5927: a quoted sequence number below SND.UNA or at or beyond
 * SND.NXT is ignored and counted; nothing changes, nothing is sent. */
static void test_frag_needed_seq_outside_ignored(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	fx_send_segments(x, 2);
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1 + 1460);
	send_frag_needed(x, 1280, x->siss + 1);            /* acknowledged already */
	send_frag_needed(x, 1280, x->siss + 1 + 2 * 1460); /* SND.NXT: not sent yet */
	send_frag_needed(x, 1280, x->siss + 1 + 0x40000000u);
	assert_int_equal(st(x)->icmp_err_bad_seq, 3);
	assert_int_equal(st(x)->tcp_pmtu_lowered, 0);
	EXPECT_NONE(x);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.mss, 1460);
	/* and nothing was cached for a new connection either */
	assert_int_equal(st(x)->pmtu_updates, 0);
	fx_free(x);
}

/* A quoted tuple with no connection: counted, nothing else. */
static void test_icmp_err_no_conn(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	uint8_t f[128];
	size_t n = icmp_err_frame(f, 3, 4, 1280, SRV, (uint16_t)(x->pport + 1), x->siss + 1, 1500, 8);
	netfix_inject(&x->nf, f, n);
	n = icmp_err_frame(f, 3, 3, 0, 4444, x->pport, x->siss + 1, 1500, 8);
	netfix_inject(&x->nf, f, n);
	assert_int_equal(st(x)->icmp_err_no_conn, 2);
	assert_int_equal(st(x)->pmtu_updates, 0);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	EXPECT_NONE(x);
	fx_free(x);
}

/* Malformed quotes are counted and dropped: too short for 8 bytes of TCP,
 * an IHL below 5, a quoted protocol other than TCP, from another source. */
static void test_icmp_err_malformed(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	fx_send_segments(x, 1);
	uint8_t f[128];
	size_t n = icmp_err_frame(f, 3, 4, 1280, SRV, x->pport, x->siss + 1, 1500, 4);
	netfix_inject(&x->nf, f, n);
	/* IHL 4: patch the quoted header, fix the ICMP sum */
	uint8_t *icmp = f + 34;
	n = icmp_err_frame(f, 3, 4, 1280, SRV, x->pport, x->siss + 1, 1500, 8);
	icmp[8] = 0x44;
	icmp[2] = icmp[3] = 0;
	uint16_t s = netfix_csum(icmp, n - 34);
	icmp[2] = (uint8_t)(s >> 8);
	icmp[3] = (uint8_t)s;
	netfix_inject(&x->nf, f, n);
	/* quoted protocol UDP */
	n = icmp_err_frame(f, 3, 4, 1280, SRV, x->pport, x->siss + 1, 1500, 8);
	icmp[8 + 9] = 17;
	icmp[2] = icmp[3] = 0;
	s = netfix_csum(icmp, n - 34);
	icmp[2] = (uint8_t)(s >> 8);
	icmp[3] = (uint8_t)s;
	netfix_inject(&x->nf, f, n);
	/* quoted source not ours */
	n = icmp_err_frame(f, 3, 4, 1280, SRV, x->pport, x->siss + 1, 1500, 8);
	icmp[8 + 15] ^= 1;
	icmp[2] = icmp[3] = 0;
	s = netfix_csum(icmp, n - 34);
	icmp[2] = (uint8_t)(s >> 8);
	icmp[3] = (uint8_t)s;
	netfix_inject(&x->nf, f, n);
	assert_int_equal(st(x)->icmp_unreach_rx, 4);
	assert_int_equal(st(x)->drop_icmp_err_quote, 4);
	assert_int_equal(st(x)->tcp_pmtu_lowered, 0);
	EXPECT_NONE(x);
	/* a bad ICMP checksum stays the checksum's drop */
	n = icmp_err_frame(f, 3, 4, 1280, SRV, x->pport, x->siss + 1, 1500, 8);
	icmp[2] ^= 0x10;
	netfix_inject(&x->nf, f, n);
	assert_int_equal(st(x)->drop_icmp_csum, 1);
	assert_int_equal(st(x)->tcp_pmtu_lowered, 0);
	fx_free(x);
}

/* A router that reports no next-hop MTU (0, pre-RFC 1191): the plateau
 * below the quoted length, 1500 -> 1492 (RFC 1191 table 7-1). */
static void test_frag_needed_mtu0_plateau(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	fx_send_segments(x, 2);
	send_frag_needed(x, 0, x->siss + 1);
	assert_int_equal(st(x)->tcp_pmtu_lowered, 1);
	expect_cover(x, x->siss + 1, x->siss + 1 + 2 * 1460, 1452, 1452);
	EXPECT_NONE(x);
	fx_free(x);
}

static void floor_1000(struct usn_stack_config *c)
{
	c->pmtu_min = 1000;
}

/* An MTU below the floor is taken as the floor: 300 -> pmtu_min 552 (MSS
 * 512) by default, 1000 (MSS 960) when configured so. */
static void test_frag_needed_floor(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	fx_established(x);
	fx_send_segments(x, 1);
	send_frag_needed(x, 300, x->siss + 1);
	expect_cover(x, x->siss + 1, x->siss + 1 + 1460, 512, 512);
	EXPECT_NONE(x);
	fx_free(x);

	x = fx_new(floor_1000);
	fx_established(x);
	fx_send_segments(x, 1);
	send_frag_needed(x, 300, x->siss + 1);
	expect_cover(x, x->siss + 1, x->siss + 1 + 1460, 960, 960);
	EXPECT_NONE(x);
	fx_free(x);
}

/* SYN-SENT: a destination unreachable quoting our SYN aborts the open,
 * told to the application: port unreachable as refused, host unreachable
 * as unreachable. A quoted sequence number other than the SYN's is
 * ignored. */
static void test_syn_sent_hard_error(void **state)
{
	(void)state;
	static const struct {
		uint8_t code;
		enum usn_tcp_close_reason why;
	} cases[] = {{3, USN_TCP_CLOSE_REFUSED}, {2, USN_TCP_CLOSE_REFUSED}, {1, USN_TCP_CLOSE_UNREACHABLE}, {0, USN_TCP_CLOSE_UNREACHABLE}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct fx *x = fx_new(NULL);
		struct tseg *syn;
		fx_connect(x, &syn);
		uint16_t sport = syn->src_port;
		uint8_t f[128];
		size_t n = icmp_err_frame(f, 3, cases[k].code, 0, sport, 8080, x->siss + 1, 60, 8);
		netfix_inject(&x->nf, f, n);
		assert_int_equal(st(x)->icmp_err_bad_seq, 1);
		assert_int_equal(x->closed, 0);
		n = icmp_err_frame(f, 3, cases[k].code, 0, sport, 8080, x->siss, 60, 8);
		netfix_inject(&x->nf, f, n);
		assert_int_equal(x->closed, 1);
		assert_int_equal(x->why, cases[k].why);
		assert_int_equal(st(x)->tcp_icmp_hard, 1);
		/* no more SYNs */
		tseg_advance(&x->nf, 5000 * MS);
		EXPECT_NONE(x);
		fx_free(x);
	}
}

static void few_retries(struct usn_stack_config *c)
{
	c->tcp_max_retries = 2;
	c->tcp_syn_retries = 1;
}

/* Established: host unreachable and time exceeded are soft errors (RFC
 * 1122 4.2.3.9): the connection goes on, and when it then times out the
 * reason says unreachable. Without them, a timeout is a timeout. A
 * time-exceeded in SYN-SENT is soft too. */
static void test_soft_errors_then_timeout(void **state)
{
	(void)state;
	for (int soft = 0; soft < 2; soft++) {
		struct fx *x = fx_new(few_retries);
		fx_established(x);
		fx_send_segments(x, 1);
		if (soft) {
			uint8_t f[128];
			size_t n = icmp_err_frame(f, 3, 1, 0, SRV, x->pport, x->siss + 1, 1500, 8);
			netfix_inject(&x->nf, f, n);
			n = icmp_err_frame(f, 11, 0, 0, SRV, x->pport, x->siss + 1, 1500, 8);
			netfix_inject(&x->nf, f, n);
			assert_int_equal(st(x)->tcp_icmp_soft, 2);
			assert_int_equal(st(x)->icmp_time_exceeded_rx, 1);
			assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
			EXPECT_NONE(x);
		}
		tseg_advance(&x->nf, 120000 * MS);
		assert_int_equal(x->closed, 1);
		assert_int_equal(x->why, soft ? USN_TCP_CLOSE_UNREACHABLE : USN_TCP_CLOSE_TIMEOUT);
		fx_free(x);
	}
	struct fx *x = fx_new(few_retries);
	struct tseg *syn;
	fx_connect(x, &syn);
	uint8_t f[128];
	size_t n = icmp_err_frame(f, 11, 0, 0, syn->src_port, 8080, x->siss, 60, 8);
	netfix_inject(&x->nf, f, n);
	assert_int_equal(x->closed, 0);
	assert_int_equal(st(x)->tcp_icmp_soft, 1);
	tseg_advance(&x->nf, 120000 * MS);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_UNREACHABLE);
	fx_free(x);
}

/* A soft error is forgotten once data is acknowledged again. */
static void test_soft_error_cleared_by_ack(void **state)
{
	(void)state;
	struct fx *x = fx_new(few_retries);
	fx_established(x);
	fx_send_segments(x, 2);
	uint8_t f[128];
	size_t n = icmp_err_frame(f, 3, 0, 0, SRV, x->pport, x->siss + 1, 1500, 8);
	netfix_inject(&x->nf, f, n);
	assert_int_equal(st(x)->tcp_icmp_soft, 1);
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1 + 1460);
	tseg_advance(&x->nf, 120000 * MS);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_TIMEOUT);
	fx_free(x);
}

static void expire_1s(struct usn_stack_config *c)
{
	c->pmtu_expire_ms = 1000;
}

/* The cache: after a "fragmentation needed" for the peer, a new
 * connection to it starts with the smaller MSS (though the peer offers
 * 1460); after pmtu_expire_ms, a new one starts at the interface's MTU. */
static void test_pmtu_cache_and_expiry(void **state)
{
	(void)state;
	struct fx *x = fx_new(expire_1s);
	fx_established(x);
	fx_send_segments(x, 1);
	send_frag_needed(x, 1280, x->siss + 1);
	expect_cover(x, x->siss + 1, x->siss + 1 + 1460, 1240, 1240);
	assert_int_equal(st(x)->pmtu_updates, 1);
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1 + 1460);

	/* a second connection from the same host */
	x->pport = PEER + 1;
	x->connected = 0;
	fx_established(x);
	assert_int_equal(st(x)->tcp_pmtu_cached_opens, 1);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.mss, 1240);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 2000, NULL), 0);
	tseg_advance(&x->nf, 0);
	expect_cover(x, x->siss + 1, x->siss + 1 + 2000, 1240, 1240);
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1 + 2000);
	EXPECT_NONE(x);

	/* the entry expires: back to the interface MTU */
	tseg_advance(&x->nf, 1000 * MS);
	netfix_drain(&x->nf);
	x->pport = PEER + 2;
	x->connected = 0;
	fx_established(x);
	assert_int_equal(st(x)->pmtu_expired, 1);
	assert_int_equal(st(x)->tcp_pmtu_cached_opens, 1);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.mss, 1460);
	fx_send_segments(x, 2);
	fx_free(x);
}

/* The cache also lowers an active open's MSS before the SYN-ACK (whose
 * MSS option is 1460): a "fragmentation needed" for the SYN. */
static void test_frag_needed_in_syn_sent(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct tseg *syn;
	fx_connect(x, &syn);
	struct tseg s0 = *syn;
	uint8_t f[128];
	size_t n = icmp_err_frame(f, 3, 4, 1280, s0.src_port, 8080, x->siss, 60, 8);
	netfix_inject(&x->nf, f, n);
	assert_int_equal(st(x)->tcp_pmtu_lowered, 1);
	EXPECT_NONE(x);
	struct tseg sa = fx_seg_to(x, &s0, TSEG_SYN | TSEG_ACK, 5000, x->siss + 1);
	sa.has_mss = true;
	sa.mss = 1460;
	SEND_SEG(x, &sa);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	RECV(x); /* the ACK */
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.mss, 1240);
	fx_free(x);
}

#define TSO_OFF (USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_MULTISEG | USN_HAL_OFF_TX_TSO)

static unsigned n_tso;
static uint16_t tso_seg[64];
static void tap_fn(void *arg, const struct usn_buf *f)
{
	(void)arg;
	if ((f->flags & USN_BUF_TX_TCP_SEG) && n_tso < 64)
		tso_seg[n_tso++] = f->seg_size;
}

/* With TSO (and LRO) on the port: the large segments handed to the port
 * are cut at 1460, and after "fragmentation needed" at 1240, the
 * retransmission too; on the wire every piece fits. */
static void test_frag_needed_tso(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.offloads = TSO_OFF | USN_HAL_OFF_RX_CSUM | USN_HAL_OFF_RX_LRO;
	struct fx *x = fx_new_port(&pc);
	usn_sim_port_set_tx_tap(x->nf.host->port, tap_fn, NULL);
	fx_established(x);
	n_tso = 0;
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 8 * 1460, NULL), 0);
	tseg_advance(&x->nf, 0);
	assert_true(n_tso >= 1);
	assert_int_equal(tso_seg[0], 1460);
	expect_cover(x, x->siss + 1, x->siss + 1 + 8 * 1460, 1460, 1460);
	n_tso = 0;
	send_frag_needed(x, 1280, x->siss + 1 + 3 * 1460);
	assert_true(n_tso >= 1);
	for (unsigned k = 0; k < n_tso; k++)
		assert_int_equal(tso_seg[k], 1240);
	expect_cover(x, x->siss + 1, x->siss + 1 + 8 * 1460, 1240, 1240);
	EXPECT_NONE(x);
	fx_free(x);
}

/* Two workers: the ICMP error reaches worker 0 (the port hashes only TCP
 * to its flow's queue; with software steering worker 0 receives all), the
 * connection lives on worker 1, which must get the error and act on it.
 * With the port's RSS and with software steering. */
static void test_icmp_err_to_owning_worker(void **state)
{
	(void)state;
	for (int rss = 0; rss < 2; rss++) {
		struct usn_sim_port_config pc;
		memset(&pc, 0, sizeof pc);
		pc.n_queues = 2;
		pc.offloads = rss ? USN_HAL_OFF_RSS : 0;
		struct fx *x = fx_new_port(&pc);
		struct usn_stack *s = x->nf.host->stack;
		assert_int_equal(usn_stack_workers(s), 2);
		while (usn_stack_flow_worker(s, NETFIX_RAW_IP, x->pport, NETFIX_STACK_IP, SRV) != 1)
			x->pport++;
		fx_established(x);
		assert_int_equal(usn_worker_id(usn_tcp_worker(x->c)), 1);
		fx_send_segments(x, 2);
		send_frag_needed(x, 1280, x->siss + 1);
		tseg_advance(&x->nf, 0);
		const struct usn_stats *w1 = usn_worker_stats(usn_stack_worker(s, 1));
		assert_int_equal(st(x)->icmp_unreach_rx, 1); /* worker 0 received it */
		assert_int_equal(st(x)->icmp_err_no_conn, 0);
		assert_int_equal(w1->tcp_pmtu_lowered, 1);
		assert_int_equal(w1->icmp_err_no_conn, 0);
		expect_cover(x, x->siss + 1, x->siss + 1 + 2 * 1460, 1240, 1240);
		EXPECT_NONE(x);
		fx_free(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frag_needed_lowers_mss_and_retransmits),
		cmocka_unit_test(test_frag_needed_seq_outside_ignored),
		cmocka_unit_test(test_icmp_err_no_conn),
		cmocka_unit_test(test_icmp_err_malformed),
		cmocka_unit_test(test_frag_needed_mtu0_plateau),
		cmocka_unit_test(test_frag_needed_floor),
		cmocka_unit_test(test_syn_sent_hard_error),
		cmocka_unit_test(test_soft_errors_then_timeout),
		cmocka_unit_test(test_soft_error_cleared_by_ack),
		cmocka_unit_test(test_pmtu_cache_and_expiry),
		cmocka_unit_test(test_frag_needed_in_syn_sent),
		cmocka_unit_test(test_frag_needed_tso),
		cmocka_unit_test(test_icmp_err_to_owning_worker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
