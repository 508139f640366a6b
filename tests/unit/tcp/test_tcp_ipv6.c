/* Unit tests for the TCP engine (lib/tcp) over IPv6: the same engine and
 * TCB as IPv4, the addresses kept beside the TCB. Passive and active open,
 * data both ways, RST for no connection, SYN cookies (their hash covers
 * the IPv6 addresses), TIME-WAIT reuse, RFC 5961 challenge ACKs, a wrong
 * checksum (the IPv6 pseudo-header), the MSS from the MTU (MTU - 60),
 * ICMPv6 packet too big and destination unreachable (RFC 8201, 4443), and
 * an IPv4 and an IPv6 connection on the same ports side by side. The peer
 * is the raw port of tests/common/tcpfx.h talking IPv6 (fx_new6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netfix6.h"
#include "tcpfx.h"

static void assert_v6_peer(const struct usn_tcp_info *i)
{
	assert_int_equal(i->local.family, USN_AF_INET6);
	assert_int_equal(i->remote.family, USN_AF_INET6);
	assert_memory_equal(i->local.u.v6, netfix6_stack_ip, 16);
	assert_memory_equal(i->remote.u.v6, netfix6_raw_ip, 16);
	assert_int_equal(i->local_ip, 0); /* IPv4's fields stay empty */
	assert_int_equal(i->remote_ip, 0);
}

/* Passive open over IPv6, then data each way: the SYN,ACK announces MTU -
 * 60, the segments carry at most min(peer's 1460, 1440). */
static void test_passive_open_and_data(void **state)
{
	(void)state;
	struct fx *x = fx_new6(NULL);
	fx_established(x); /* checks the SYN,ACK's MSS 1440 and its addresses */
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_v6_peer(&i);
	assert_int_equal(i.local_port, SRV);
	assert_int_equal(i.remote_port, PEER);
	assert_int_equal(i.mss, 1440);
	PEER_DATA(x, 100, 0);
	assert_int_equal(x->rx_len, 100);
	assert_memory_equal(x->rx, fx_payload, 100);
	uint32_t s1 = x->siss + 1;
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 3000, NULL), 0);
	tseg_advance(&x->nf, 0);
	EXPECT_DATA(x, TSEG_ACK, s1, x->pnxt, 0, 1440);
	EXPECT_DATA(x, TSEG_ACK, s1 + 1440, x->pnxt, 1440, 1440);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s1 + 2880, x->pnxt, 2880, 120);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 3000);
	assert_int_equal(x->sent, 3000);
	assert_int_equal(st(x)->tcp_passive_opens, 1);
	assert_true(st(x)->tcp6_rx_segs >= 3);
	assert_true(st(x)->tcp6_tx_segs >= 4);
	fx_free(x);
}

/* Active open to an IPv6 address (usn_tcp_connect_addr), then data each
 * way and a close. */
static void test_active_open_and_data(void **state)
{
	(void)state;
	struct fx *x = fx_new6(NULL);
	x->ts = true;
	x->tsval = 500;
	struct tseg *syn;
	fx_connect(x, &syn); /* the SYN over IPv6, MSS 1440 */
	struct tseg s = fx_seg_to(x, syn, TSEG_SYN | TSEG_ACK, 9000, x->siss + 1);
	s.has_mss = true;
	s.mss = 1460;
	s.has_ws = true;
	s.ws = 1;
	s.sack_perm = true;
	SEND_SEG(x, &s);
	assert_int_equal(x->connected, 1);
	uint16_t lport = syn->src_port;
	EXPECT(x, TSEG_ACK, x->siss + 1, 9001);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	assert_v6_peer(&i);
	assert_int_equal(i.local_port, lport);
	assert_int_equal(i.mss, 1440);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 200, NULL), 0);
	tseg_advance(&x->nf, 0);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, x->siss + 1, 9001, 0, 200);
	s = fx_seg_to(x, syn, TSEG_ACK | TSEG_PSH, 9001, x->siss + 201);
	s.payload = fx_payload + 7;
	s.len = 50;
	SEND_SEG(x, &s);
	assert_int_equal(x->sent, 200);
	assert_int_equal(x->rx_len, 50);
	assert_memory_equal(x->rx, fx_payload + 7, 50);
	usn_tcp_close(x->c);
	tseg_advance(&x->nf, 0);
	/* the delayed ACK of the 50 bytes rides on the FIN */
	EXPECT(x, TSEG_ACK | TSEG_FIN, x->siss + 201, 9051);
	assert_int_equal(st(x)->tcp_active_opens, 1);
	fx_free(x);
}

/* RFC 9293 3.10.7.1 over IPv6: a segment for no connection is answered
 * with a RST, from the address it was sent to. */
static void test_rst_for_no_connection(void **state)
{
	(void)state;
	struct fx *x = fx_new6(NULL);
	struct tseg s = SEG(x, TSEG_SYN, PISS, 0);
	s.dst_port = SRV + 1;
	SEND_SEG(x, &s);
	struct tseg *o = EXPECT(x, TSEG_RST | TSEG_ACK, 0, PISS + 1);
	assert_int_equal(o->src_port, SRV + 1);
	s = SEG(x, TSEG_ACK, PISS, 4242);
	s.dst_port = SRV + 1;
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_RST, 4242, 0);
	assert_int_equal(st(x)->drop_tcp_no_conn, 2);
	assert_int_equal(st(x)->tcp_rst_tx, 2);
	fx_free(x);
}

static void backlog1(struct usn_stack_config *c)
{
	c->tcp_syn_backlog = 1;
}

/* SYN cookies over IPv6: the cookie's MSS stays within ours (1440, so a
 * peer's 1460 is coded as 1440, where IPv4 keeps 1460), and its hash
 * covers both IPv6 addresses:
 * the same cookie returned from another source address of the same /64
 * (which shares the low bits of no fold) fails. */
static void test_syn_cookie(void **state)
{
	(void)state;
	struct fx *x = fx_new6(backlog1);
	fx_syn_received(x); /* fills the half-open table */
	x->pport = PEER + 1;
	x->ts = true;
	x->tsval = 100;
	struct tseg s = SEG(x, TSEG_SYN, 7000, 0);
	s.has_mss = true;
	s.mss = 1460;
	s.sack_perm = true;
	SEND_SEG(x, &s);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->ack, 7001);
	assert_int_equal(o->mss, 1440);
	uint32_t cookie = o->seq;
	assert_int_equal(st(x)->tcp_syncookies_sent, 1);
	/* the right cookie from another address: no connection */
	uint8_t other[16];
	memcpy(other, netfix6_raw_ip, 16);
	other[15] = 3;
	s = SEG(x, TSEG_ACK, 7001, cookie + 1);
	s.src6 = other;
	SEND_SEG(x, &s);
	assert_int_equal(st(x)->tcp_syncookies_bad, 1);
	assert_int_equal(x->connected, 0);
	/* the right one establishes */
	SEND(x, TSEG_ACK, 7001, cookie + 1);
	assert_int_equal(x->connected, 1);
	assert_int_equal(st(x)->tcp_syncookies_ok, 1);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	assert_v6_peer(&i);
	assert_int_equal(i.mss, 1440);
	assert_true(i.ts_ok);
	assert_true(i.sack_ok);
	fx_free(x);
}

/* TIME-WAIT over IPv6: an old timestamp keeps it, a newer SYN reuses it. */
static void test_time_wait_reuse(void **state)
{
	(void)state;
	struct fx *x = fx_new6(NULL);
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
	assert_int_equal(st(x)->conns_time_wait, 1);
	struct tseg s = SEG(x, TSEG_SYN, x->pnxt + 100000, 0);
	s.tsval = 50;
	SEND_SEG(x, &s);
	EXPECT(x, TSEG_ACK, s1 + 1, x->pnxt);
	assert_int_equal(st(x)->tcp_timewait_reused, 0);
	SEND_SYN(x, x->pnxt + 100000, 1460);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->ack, x->pnxt + 100001);
	assert_int_equal(st(x)->tcp_timewait_reused, 1);
	/* and without reuse the TIME-WAIT ends after 2 MSL (1 s here) */
	fx_free(x);
}

/* RFC 5961 over IPv6: an in-window RST that is not exact, and a SYN in
 * ESTABLISHED, get a challenge ACK; the exact RST resets. */
static void test_challenge_ack(void **state)
{
	(void)state;
	struct fx *x = fx_new6(NULL);
	fx_established(x);
	uint32_t s1 = x->siss + 1;
	SEND(x, TSEG_RST, x->pnxt + 10, 0);
	EXPECT(x, TSEG_ACK, s1, x->pnxt);
	assert_int_equal(x->closed, 0);
	tseg_advance(&x->nf, 600 * MS); /* past the per-connection limit */
	SEND(x, TSEG_SYN, x->pnxt + 5, 0);
	EXPECT(x, TSEG_ACK, s1, x->pnxt);
	assert_int_equal(st(x)->tcp_challenge_acks, 2);
	assert_int_equal(x->closed, 0);
	SEND(x, TSEG_RST, x->pnxt, 0);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->why, USN_TCP_CLOSE_RESET);
	EXPECT_NONE(x);
	fx_free(x);
}

/* A segment whose sum is wrong over the IPv6 pseudo-header is dropped and
 * counted, and so is one summed over IPv4's (the same bytes). */
static void test_bad_checksum(void **state)
{
	(void)state;
	struct fx *x = fx_new6(NULL);
	struct tseg s = SEG(x, TSEG_SYN, PISS, 0);
	s.bad_csum = true;
	SEND_SEG(x, &s);
	EXPECT_NONE(x);
	assert_int_equal(st(x)->drop_tcp_csum, 1);
	assert_int_equal(st(x)->tcp_passive_opens, 0);
	/* the same SYN with its sum right opens */
	fx_syn_received(x);
	assert_int_equal(st(x)->drop_tcp_csum, 1);
	fx_free(x);
}

static void mtu1280(struct usn_stack_config *c)
{
	c->mtu = 1280; /* IPv6's minimum link MTU (RFC 8200 5) */
}

/* The MSS from the MTU over IPv6 is MTU - 60 (40 of IPv6, 20 of TCP), and
 * the segments sent keep to it; IPv4 on the same stack keeps MTU - 40. */
static void test_mss_from_mtu(void **state)
{
	(void)state;
	struct fx *x = fx_new6(mtu1280);
	SEND_SYN(x, PISS, 1460);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_true(o->has_mss);
	assert_int_equal(o->mss, 1220);
	x->siss = o->seq;
	x->pnxt = PISS + 1;
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1);
	assert_int_equal(x->connected, 1);
	uint32_t s1 = x->siss + 1;
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 2000, NULL), 0);
	tseg_advance(&x->nf, 0);
	EXPECT_DATA(x, TSEG_ACK, s1, x->pnxt, 0, 1220);
	EXPECT_DATA(x, TSEG_ACK | TSEG_PSH, s1 + 1220, x->pnxt, 1220, 780);
	EXPECT_NONE(x);
	/* IPv4 on the same stack: MTU - 40 */
	x->v6 = false;
	x->pport = PEER + 1;
	SEND_SYN(x, 5000, 1460);
	o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->mss, 1240);
	fx_free(x);
}

/* An IPv4 and an IPv6 connection between the same ports are two
 * connections: each finds its own TCB. */
static void test_both_families_same_ports(void **state)
{
	(void)state;
	struct fx *x = fx_new6(NULL);
	fx_established(x);
	struct usn_tcp_conn *c6 = x->c;
	uint32_t siss6 = x->siss, pnxt6 = x->pnxt;
	x->v6 = false;
	x->connected = 0;
	fx_established(x); /* the same peer port, over IPv4: MSS 1460 */
	struct usn_tcp_conn *c4 = x->c;
	assert_ptr_not_equal(c4, c6);
	struct usn_tcp_info i;
	usn_tcp_info(c4, &i);
	assert_int_equal(i.local.family, USN_AF_INET);
	assert_int_equal(i.remote.family, USN_AF_INET);
	assert_int_equal(i.remote.u.v4, NETFIX_RAW_IP);
	assert_int_equal(i.remote_ip, NETFIX_RAW_IP);
	assert_int_equal(i.local_ip, NETFIX_STACK_IP);
	usn_tcp_info(c6, &i);
	assert_v6_peer(&i);
	assert_int_equal(st(x)->conns_established, 2);
	PEER_DATA(x, 10, 0);
	assert_int_equal(x->rx_len, 10);
	x->v6 = true;
	x->siss = siss6;
	x->pnxt = pnxt6;
	PEER_DATA(x, 20, TSEG_FIN);
	assert_int_equal(x->rx_len, 30);
	assert_int_equal(x->remote_closed, 1);
	usn_tcp_info(c6, &i);
	assert_int_equal(i.state, USN_TCP_CLOSE_WAIT);
	usn_tcp_info(c4, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	fx_free(x);
}

/* usn_tcp_connect_addr refuses what it cannot open, taking nothing: IPv6
 * on a stack without it, a multicast or unspecified destination, an
 * unknown family. */
static void test_connect_addr_refused(void **state)
{
	(void)state;
	struct fx *x = fx_new(NULL);
	struct usn_addr a = {.family = USN_AF_INET6};
	memcpy(a.u.v6, netfix6_raw_ip, 16);
	uint32_t free0 = usn_tcp_free_tcbs(x->nf.w);
	assert_null(usn_tcp_connect_addr(x->nf.w, &a, 8080, &fx_handlers, x));
	fx_free(x);
	x = fx_new6(NULL);
	memset(a.u.v6, 0, 16);
	assert_null(usn_tcp_connect_addr(x->nf.w, &a, 8080, &fx_handlers, x));
	a.u.v6[0] = 0xff;
	a.u.v6[1] = 0x02;
	a.u.v6[15] = 1;
	assert_null(usn_tcp_connect_addr(x->nf.w, &a, 8080, &fx_handlers, x));
	memcpy(a.u.v6, netfix6_raw_ip, 16);
	a.family = 5;
	assert_null(usn_tcp_connect_addr(x->nf.w, &a, 8080, &fx_handlers, x));
	assert_null(usn_tcp_connect_addr(x->nf.w, NULL, 8080, &fx_handlers, x));
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), free0);
	tseg_advance(&x->nf, 0);
	EXPECT_NONE(x);
	fx_free(x);
}

/* Active open over IPv6 from each worker of a 4-queue port without RSS:
 * the source port chosen makes the flow's hash (usn_stack_flow_worker6,
 * symmetric) name the calling worker, so worker 0's software steering
 * hands the replies to it, and a handshake on worker 3 completes there. */
static void test_connect_port_lands_on_worker(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.n_queues = 4;
	struct fx *x = fx_new6_port(&pc);
	struct usn_stack *stk = x->nf.host->stack;
	assert_int_equal(usn_stack_workers(stk), 4);
	tseg_advance(&x->nf, 0); /* the neighbour worker 0 learned, posted to the others */
	struct usn_addr dst = {.family = USN_AF_INET6};
	memcpy(dst.u.v6, netfix6_raw_ip, 16);
	for (uint16_t wid = 0; wid < 4; wid++) {
		struct usn_worker *w = usn_stack_worker(stk, wid);
		for (int k = 0; k < 3; k++) {
			struct usn_tcp_conn *c = usn_tcp_connect_addr(w, &dst, 8080, &fx_handlers, x);
			assert_non_null(c);
			struct usn_tcp_info i;
			usn_tcp_info(c, &i);
			assert_int_equal(usn_stack_flow_worker6(stk, netfix6_raw_ip, 8080, netfix6_stack_ip, i.local_port), wid);
			assert_int_equal(usn_stack_flow_worker6(stk, netfix6_stack_ip, i.local_port, netfix6_raw_ip, 8080), wid);
			assert_true(usn_tcp_worker(c) == w);
		}
	}
	tseg_advance(&x->nf, 0);
	netfix_drain(&x->nf);
	struct usn_worker *w3 = usn_stack_worker(stk, 3);
	struct usn_tcp_conn *c = usn_tcp_connect_addr(w3, &dst, 9090, &fx_handlers, x);
	assert_non_null(c);
	tseg_advance(&x->nf, 0);
	struct tseg *o = RECV(x);
	while (o->dst_port != 9090)
		o = RECV(x);
	struct tseg s = SEG(x, TSEG_SYN | TSEG_ACK, 555, o->seq + 1);
	s.src_port = 9090;
	s.dst_port = o->src_port;
	SEND_SEG(x, &s);
	tseg_advance(&x->nf, 0);
	struct usn_tcp_info i;
	usn_tcp_info(c, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	assert_true(usn_worker_stats(w3)->tcp6_rx_segs >= 1);
	assert_true(usn_worker_stats(usn_stack_worker(stk, 0))->steer_tx >= 1);
	fx_free(x);
}

/* On a port with RSS, which spreads IPv4 flows only (the simulated one, as
 * every backend here), IPv6 frames reach queue 0: an IPv6 flow is worker
 * 0's. An active open from worker 0 completes; from another worker it
 * finds no source port and returns NULL, rather than a connection whose
 * replies would reach worker 0 and be reset. */
static void test_connect_on_rss_port(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.n_queues = 4;
	pc.offloads = USN_HAL_OFF_RSS;
	struct fx *x = fx_new6_port(&pc);
	struct usn_stack *stk = x->nf.host->stack;
	tseg_advance(&x->nf, 0);
	struct usn_addr dst = {.family = USN_AF_INET6};
	memcpy(dst.u.v6, netfix6_raw_ip, 16);
	uint32_t free1 = usn_tcp_free_tcbs(usn_stack_worker(stk, 1));
	assert_null(usn_tcp_connect_addr(usn_stack_worker(stk, 1), &dst, 8080, &fx_handlers, x));
	assert_int_equal(usn_tcp_free_tcbs(usn_stack_worker(stk, 1)), free1);
	struct usn_tcp_conn *c = usn_tcp_connect_addr(usn_stack_worker(stk, 0), &dst, 8080, &fx_handlers, x);
	assert_non_null(c);
	tseg_advance(&x->nf, 0);
	struct tseg *o = RECV(x);
	struct tseg s = SEG(x, TSEG_SYN | TSEG_ACK, 555, o->seq + 1);
	s.src_port = 8080;
	s.dst_port = o->src_port;
	SEND_SEG(x, &s);
	tseg_advance(&x->nf, 0);
	struct usn_tcp_info i;
	usn_tcp_info(c, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	assert_int_equal(st(x)->tcp_rst_tx, 0);
	fx_free(x);
}

/* A port with RSS whose classifier places IPv6 frames on a queue other
 * than 0 (the TILE-Gx emulation hashes non-IPv4 frames by their MAC
 * addresses; here the simulated port puts every frame it does not hash on
 * queue 2): the flows are still worker 0's, so worker 2 hands them over.
 * Before, worker 2 took the neighbour advertisement and the SYN,ACK itself:
 * the advertisement answered no solicitation of its own and was dropped,
 * so worker 0 never resolved the peer and its SYN never left (the pair
 * and HTTP simulations over IPv6 in the 35-worker TILE-Gx mode). */
static void test_rss_port_ipv6_on_another_queue(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.n_queues = 4;
	pc.offloads = USN_HAL_OFF_RSS;
	pc.rss_other_queue = 2;
	struct fx *x = fx_new6_port(&pc);
	struct usn_stack *stk = x->nf.host->stack;
	tseg_advance(&x->nf, 0);
	struct usn_addr dst = {.family = USN_AF_INET6};
	memcpy(dst.u.v6, netfix6_raw_ip, 16);
	struct usn_tcp_conn *c = usn_tcp_connect_addr(usn_stack_worker(stk, 0), &dst, 8080, &fx_handlers, x);
	assert_non_null(c);
	tseg_advance(&x->nf, 0);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN);
	struct tseg s = SEG(x, TSEG_SYN | TSEG_ACK, 555, o->seq + 1);
	s.src_port = 8080;
	s.dst_port = o->src_port;
	SEND_SEG(x, &s);
	tseg_advance(&x->nf, 0);
	struct usn_tcp_info i;
	usn_tcp_info(c, &i);
	assert_int_equal(i.state, USN_TCP_ESTABLISHED);
	o = RECV(x);
	assert_int_equal(o->flags, TSEG_ACK);
	const struct usn_stats *w0 = usn_worker_stats(usn_stack_worker(stk, 0));
	const struct usn_stats *w2 = usn_worker_stats(usn_stack_worker(stk, 2));
	assert_true(w2->steer_tx >= 1); /* the SYN,ACK at least */
	assert_int_equal(w0->steer_rx, w2->steer_tx);
	assert_int_equal(w2->tcp_rx_segs, 0);
	assert_int_equal(w0->tcp6_rx_segs, 1);
	assert_int_equal(st(x)->tcp_rst_tx, 0);
	fx_free(x);
}

/* An ICMPv6 error from a router on the path (built here, not by
 * lib/wire): type, code, the word after the checksum (packet too big: the
 * MTU), quoting the fixed header of a stack segment sport -> dport and 8
 * bytes of its TCP header (ports, sequence number). */
static size_t icmp6_err_frame(uint8_t *p, uint8_t type, uint8_t code, uint32_t rest, uint16_t sport, uint16_t dport,
			      uint32_t seq)
{
	static const uint8_t router[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x09};
	uint8_t q[48];
	netfix6_ip(q, netfix6_stack_ip, netfix6_raw_ip, 6, 1460, 64);
	q[40] = (uint8_t)(sport >> 8);
	q[41] = (uint8_t)sport;
	q[42] = (uint8_t)(dport >> 8);
	q[43] = (uint8_t)dport;
	q[44] = (uint8_t)(seq >> 24);
	q[45] = (uint8_t)(seq >> 16);
	q[46] = (uint8_t)(seq >> 8);
	q[47] = (uint8_t)seq;
	size_t n = netfix_eth(p, netfix_stack_mac, netfix_raw_mac, 0x86dd);
	size_t m = netfix6_icmp_err(p + n + 40, type, code, rest, q, sizeof q, router, netfix6_stack_ip);
	n += netfix6_ip(p + n, router, netfix6_stack_ip, 58, (uint16_t)m, 64);
	return n + m;
}

/* RFC 8201 over the same engine: four segments in flight, a packet too
 * big (MTU 1280) for the second lowers the MSS to 1220 and everything
 * from SND.UNA goes again at once at that size; one quoting a sequence
 * number outside the flight is ignored (RFC 5927), one below 1280 is
 * read as 1280; the next connection to that host starts at 1220 (the
 * IPv6 path MTU cache). */
static void test_packet_too_big(void **state)
{
	(void)state;
	uint8_t f[256];
	struct fx *x = fx_new6(NULL);
	fx_established(x);
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, 4 * 1440, NULL), 0);
	tseg_advance(&x->nf, 0);
	for (int k = 0; k < 4; k++)
		assert_int_equal(RECV(x)->len, 1440);
	EXPECT_NONE(x);
	uint32_t s1 = x->siss + 1;
	netfix_inject(&x->nf, f, icmp6_err_frame(f, 2, 0, 1280, SRV, x->pport, s1 + 4 * 1440));
	assert_int_equal(st(x)->icmp_err_bad_seq, 1);
	assert_int_equal(st(x)->tcp_pmtu_lowered, 0);
	EXPECT_NONE(x);
	netfix_inject(&x->nf, f, icmp6_err_frame(f, 2, 0, 1280, SRV, x->pport, s1 + 1440));
	assert_int_equal(st(x)->icmp6_pkt_too_big_rx, 2);
	assert_int_equal(st(x)->tcp_pmtu_lowered, 1);
	for (uint32_t seq = s1; seq != s1 + 4 * 1440;) {
		struct tseg *o = RECV(x);
		assert_int_equal(o->seq, seq);
		assert_int_equal(o->len, s1 + 4 * 1440 - seq < 1220 ? s1 + 4 * 1440 - seq : 1220);
		assert_memory_equal(o->data, fx_payload + (seq - s1), o->len);
		seq += o->len;
	}
	EXPECT_NONE(x);
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.mss, 1220);
	/* below IPv6's minimum: read as 1280, which lowers nothing more */
	netfix_inject(&x->nf, f, icmp6_err_frame(f, 2, 0, 600, SRV, x->pport, s1));
	assert_int_equal(st(x)->tcp_pmtu_ignored, 1);
	EXPECT_NONE(x);
	SEND(x, TSEG_ACK, x->pnxt, s1 + 4 * 1440);

	/* a second connection from the same host starts at the cached size */
	x->pport = PEER + 1;
	x->connected = 0;
	fx_established(x);
	assert_int_equal(st(x)->tcp_pmtu_cached_opens, 1);
	usn_tcp_info(x->c, &i);
	assert_int_equal(i.mss, 1220);
	fx_free(x);
}

/* A destination unreachable over IPv6 ends an active open: port
 * unreachable (code 4) as refused, no route (code 0) as unreachable. */
static void test_unreachable_in_syn_sent(void **state)
{
	(void)state;
	static const struct {
		uint8_t code;
		enum usn_tcp_close_reason why;
	} cases[] = {{4, USN_TCP_CLOSE_REFUSED}, {0, USN_TCP_CLOSE_UNREACHABLE}, {3, USN_TCP_CLOSE_UNREACHABLE}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		uint8_t f[256];
		struct fx *x = fx_new6(NULL);
		struct tseg *syn;
		fx_connect(x, &syn);
		uint16_t sport = syn->src_port;
		netfix_inject(&x->nf, f, icmp6_err_frame(f, 1, cases[k].code, 0, sport, 8080, x->siss));
		assert_int_equal(x->closed, 1);
		assert_int_equal(x->why, cases[k].why);
		assert_int_equal(st(x)->tcp_icmp_hard, 1);
		tseg_advance(&x->nf, 5000 * MS);
		EXPECT_NONE(x);
		fx_free(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passive_open_and_data),
		cmocka_unit_test(test_active_open_and_data),
		cmocka_unit_test(test_rst_for_no_connection),
		cmocka_unit_test(test_syn_cookie),
		cmocka_unit_test(test_time_wait_reuse),
		cmocka_unit_test(test_challenge_ack),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_mss_from_mtu),
		cmocka_unit_test(test_both_families_same_ports),
		cmocka_unit_test(test_connect_addr_refused),
		cmocka_unit_test(test_connect_port_lands_on_worker),
		cmocka_unit_test(test_connect_on_rss_port),
		cmocka_unit_test(test_rss_port_ipv6_on_another_queue),
		cmocka_unit_test(test_packet_too_big),
		cmocka_unit_test(test_unreachable_in_syn_sent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
