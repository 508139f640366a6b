/* Unit tests for TCP input (lib/tcp) on segments longer than the MSS, as a
 * port that coalesces (LRO, the Linux packet port's GSO frames) delivers
 * them: a stack announcing an MSS of 1,460 on a port that carries 9,000-byte
 * frames takes a 8,760-byte segment whole, in order, out of order, partly
 * old and partly beyond its window, and acknowledges what it took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcpseg.h"
#include "usnet/stats.h"
#include "usnet/tcp.h"

#define SRV 80
#define PEER 41000
#define PISS 5000u
#define BIG 8760u /* six segments of 1,460 */

struct fx {
	struct netfix nf;
	struct usn_tcp_conn *c;
	uint8_t rx[65536];
	size_t rx_len;
	uint32_t siss, pnxt;
};

static uint8_t payload[65536];

static void h_connected(struct usn_tcp_conn *c, void *user)
{
	((struct fx *)user)->c = c;
}

static void h_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	struct fx *x = user;
	(void)c;
	x->rx_len += usn_cursor_read(d, x->rx + x->rx_len, sizeof x->rx - x->rx_len);
}

static const struct usn_tcp_handlers H = {.connected_fn = h_connected, .recv_fn = h_recv};

/* netfix's stack and raw port, both on ports that carry 9,000-byte IPv4
 * packets, the stack told to use an MTU of 1,500 (its MSS 1,460). */
static struct fx *fx_new(uint32_t rcv_wnd)
{
	struct fx *x = calloc(1, sizeof *x);
	struct usn_stack_config cfg;
	struct usn_sim_port_config rc, pc;

	assert_non_null(x);
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 13 + (i >> 9));
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	cfg.mtu = 1500;
	if (rcv_wnd)
		cfg.tcp_rcv_wnd = rcv_wnd;
	memset(&rc, 0, sizeof rc);
	memcpy(rc.mac, netfix_raw_mac, 6);
	rc.mtu = 9000;
	memset(&pc, 0, sizeof pc);
	pc.mtu = 9000;
	simnet_init(&x->nf.net, 1);
	x->nf.raw = usn_sim_port_create(x->nf.net.link, &rc);
	assert_non_null(x->nf.raw);
	x->nf.host = simnet_add_host(&x->nf.net, NETFIX_STACK_IP, &cfg, &pc);
	assert_non_null(x->nf.host);
	x->nf.w = usn_stack_worker(x->nf.host->stack, 0);
	simnet_run_until(&x->nf.net, NULL, NULL, 0);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);

	/* Handshake, no options but the MSS (no window scaling). */
	struct tseg s, o;
	memset(&s, 0, sizeof s);
	s.src_port = PEER;
	s.dst_port = SRV;
	s.flags = TSEG_SYN;
	s.seq = PISS;
	s.window = 65535;
	s.has_mss = true;
	s.mss = 8960;
	tseg_send(&x->nf, &s);
	assert_true(tseg_recv(&x->nf, &o));
	assert_int_equal(o.flags, TSEG_SYN | TSEG_ACK);
	assert_true(o.has_mss);
	assert_int_equal(o.mss, 1460);
	x->siss = o.seq;
	x->pnxt = PISS + 1;
	s.flags = TSEG_ACK;
	s.seq = x->pnxt;
	s.ack = x->siss + 1;
	s.has_mss = false;
	tseg_send(&x->nf, &s);
	assert_non_null(x->c);
	return x;
}

static void fx_free(struct fx *x)
{
	simnet_destroy(&x->nf.net);
	free(x);
}

/* The peer's data [off, off+len) of its stream (offset 0 at PISS + 1). */
static void peer_send(struct fx *x, uint32_t off, uint32_t len)
{
	struct tseg s;
	memset(&s, 0, sizeof s);
	s.src_port = PEER;
	s.dst_port = SRV;
	s.flags = TSEG_ACK | TSEG_PSH;
	s.seq = PISS + 1 + off;
	s.ack = x->siss + 1;
	s.window = 65535;
	s.payload = payload + off;
	s.len = len;
	tseg_send(&x->nf, &s);
}

/* The last ACK the stack sent (after the round's flush), or 0. */
static uint32_t last_ack(struct fx *x)
{
	struct tseg o;
	uint32_t ack = 0;
	while (tseg_recv(&x->nf, &o))
		if (o.flags & TSEG_ACK)
			ack = o.ack;
	return ack;
}

static void test_one_large_segment(void **state)
{
	struct fx *x = fx_new(0);
	(void)state;
	uint64_t drops = usn_worker_stats(x->nf.w)->drop_tcp_not_acceptable;
	peer_send(x, 0, BIG);
	assert_int_equal(x->rx_len, BIG);
	assert_memory_equal(x->rx, payload, BIG);
	/* Six segments' worth: acknowledged at once, all of it. */
	assert_int_equal(last_ack(x), PISS + 1 + BIG);
	assert_int_equal(usn_worker_stats(x->nf.w)->drop_tcp_not_acceptable, drops);
	/* And the next one after it. */
	peer_send(x, BIG, BIG);
	assert_int_equal(x->rx_len, 2 * BIG);
	assert_memory_equal(x->rx, payload, 2 * BIG);
	assert_int_equal(last_ack(x), PISS + 1 + 2 * BIG);
	fx_free(x);
}

static void test_large_segment_out_of_order(void **state)
{
	struct fx *x = fx_new(0);
	(void)state;
	peer_send(x, BIG, BIG); /* the second one first */
	assert_int_equal(x->rx_len, 0);
	assert_int_equal(last_ack(x), PISS + 1); /* a duplicate ACK, at once */
	peer_send(x, 0, BIG);
	assert_int_equal(x->rx_len, 2 * BIG);
	assert_memory_equal(x->rx, payload, 2 * BIG);
	assert_int_equal(last_ack(x), PISS + 1 + 2 * BIG);
	fx_free(x);
}

/* A coalesced retransmission: its first half was taken already. */
static void test_large_segment_partly_old(void **state)
{
	struct fx *x = fx_new(0);
	(void)state;
	peer_send(x, 0, 2920);
	assert_int_equal(x->rx_len, 2920);
	peer_send(x, 1460, BIG);
	assert_int_equal(x->rx_len, 1460 + BIG);
	assert_memory_equal(x->rx, payload, 1460 + BIG);
	assert_int_equal(last_ack(x), PISS + 1 + 1460 + BIG);
	fx_free(x);
}

/* Longer than the window the stack advertised: the part inside is taken,
 * the rest left for the peer to send again. */
static void test_large_segment_beyond_window(void **state)
{
	struct fx *x = fx_new(4096);
	(void)state;
	peer_send(x, 0, BIG);
	assert_int_equal(x->rx_len, 4096);
	assert_memory_equal(x->rx, payload, 4096);
	assert_int_equal(last_ack(x), PISS + 1 + 4096);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_large_segment),
	    cmocka_unit_test(test_large_segment_out_of_order),
	    cmocka_unit_test(test_large_segment_partly_old),
	    cmocka_unit_test(test_large_segment_beyond_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
