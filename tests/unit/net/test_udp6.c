/* Unit tests for UDP over IPv6 and ICMPv6 errors on a simulated link
 * (lib/udp, lib/net/ipv6.c, icmp6.c, icmp6_error.c, pmtu.c): receive and
 * echo at the global and link-local addresses, send by reference and by
 * writer with every refusal, the neighbour queue, each drop counted (a
 * zero checksum among them), port unreachable quoting at most what keeps
 * it within 1280 bytes and sharing IPv4's rate limit, the errors never
 * sent, ICMPv6 errors received and handed on, and the IPv6 path MTU cache.
 * Frames are built and checked with netfix6, written apart from lib/wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/worker.h"
#include "net/net.h"
#include "netfix.h"
#include "netfix6.h"
#include "usnet/udp.h"
#include "wire/wire.h"

static const uint8_t zero_mac[6];
static const uint8_t mac_all_nodes[6] = {0x33, 0x33, 0, 0, 0, 1};
static uint8_t fr[4096], want[4096];

static const struct usn_stats *stats(const struct netfix *f)
{
	return usn_worker_stats(f->w);
}

/* The stack with IPv6 (no DAD), the raw port's MAC learned for both
 * families (an NS from its global address, an ARP request), start-up
 * frames drained. */
static void setup6(struct netfix *f, void (*tweak)(struct usn_stack_config *))
{
	struct usn_stack_config cfg;
	netfix6_config(&cfg, false);
	if (tweak)
		tweak(&cfg);
	netfix_setup(f, &cfg, NULL);
	uint8_t sn[16], gm[6];
	netfix6_snm(netfix6_stack_ip, sn);
	netfix6_group_mac(sn, gm);
	netfix_inject(f, fr, netfix6_nd_frame(fr, gm, netfix_raw_mac, netfix6_raw_ip, sn, 255, 135, 0,
					      netfix6_stack_ip, netfix_raw_mac));
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(f, fr, 60);
	netfix_drain(f);
}

/* A datagram from the raw port's global address to the stack's. */
static size_t dgram(uint8_t *p, uint16_t sp, uint16_t dp, const void *data, size_t len)
{
	return netfix6_udp_frame(p, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip, netfix6_stack_ip, sp, dp, data,
				 len);
}

/* Checks f->cap is exactly a datagram from the stack (src) to the raw
 * port (dst). */
static void expect_dgram(const struct netfix *f, const uint8_t src[16], const uint8_t dst[16], uint16_t sp,
			 uint16_t dp, const void *data, size_t len)
{
	size_t n = netfix6_udp_frame(want, netfix_raw_mac, netfix_stack_mac, src, dst, sp, dp, data, len);
	assert_int_equal(f->cap_len, n);
	assert_memory_equal(f->cap, want, n);
}

/* Checks f->cap is a port unreachable from the stack's global address
 * quoting exactly quote_len bytes of the IPv6 packet at pkt. */
static void expect_unreach(const struct netfix *f, const uint8_t *pkt, size_t quote_len)
{
	size_t n = netfix_eth(want, netfix_raw_mac, netfix_stack_mac, 0x86dd);
	size_t m = netfix6_icmp_err(want + n + 40, 1, 4, 0, pkt, quote_len, netfix6_stack_ip, netfix6_raw_ip);
	n += netfix6_ip(want + n, netfix6_stack_ip, netfix6_raw_ip, 58, (uint16_t)m, 64);
	assert_int_equal(f->cap_len, n + m);
	assert_memory_equal(f->cap, want, n + m);
}

struct rx_log {
	unsigned calls;
	struct usn_addr peer;
	uint16_t peer_port, local_port;
	uint8_t data[2048];
	size_t len;
	bool echo;
	int echo_rc;
};

static void copy_writer(void *arg, struct usn_cursor dst)
{
	const struct usn_cursor *src = arg;
	uint8_t bounce[256];
	for (uint32_t off = 0; off < usn_cursor_size(*src);) {
		size_t n = usn_cursor_read(usn_cursor_drop(*src, off), bounce, sizeof(bounce));
		usn_cursor_write(usn_cursor_drop(dst, off), bounce, n);
		off += (uint32_t)n;
	}
}

static void on_recv(struct usn_worker *w, void *user, const struct usn_addr *peer, uint16_t peer_port,
		    uint16_t local_port, struct usn_cursor data)
{
	struct rx_log *log = user;
	log->calls++;
	log->peer = *peer;
	log->peer_port = peer_port;
	log->local_port = local_port;
	log->len = usn_cursor_read(data, log->data, sizeof(log->data));
	if (log->echo)
		log->echo_rc = usn_udp_send_writer(w, local_port, peer, peer_port, usn_cursor_size(data), copy_writer,
						   &data);
}

static void test_receive_and_echo(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, NULL);
	struct rx_log log;
	memset(&log, 0, sizeof(log));
	log.echo = true;
	assert_int_equal(usn_udp_bind(f.host->stack, 7, on_recv, &log), 0);
	static uint8_t data[1452];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 29 + 5);
	/* Empty, odd, even, and the largest one 1500-byte MTU carries. */
	static const size_t lens[] = {0, 1, 5, 64, 1000, 1452};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		netfix_inject(&f, fr, dgram(fr, (uint16_t)(50000 + i), 7, data, lens[i]));
		assert_int_equal(log.calls, i + 1);
		assert_int_equal(log.peer.family, USN_AF_INET6);
		assert_memory_equal(log.peer.u.v6, netfix6_raw_ip, 16);
		assert_int_equal(log.peer_port, 50000 + i);
		assert_int_equal(log.local_port, 7);
		assert_int_equal(log.len, lens[i]);
		assert_memory_equal(log.data, data, lens[i]);
		assert_int_equal(log.echo_rc, 0);
		assert_true(netfix_capture(&f) > 0);
		expect_dgram(&f, netfix6_stack_ip, netfix6_raw_ip, 7, (uint16_t)(50000 + i), data, lens[i]);
	}
	/* At the link-local address, from a link-local one: answered from
	 * the link-local address (the neighbour learned from its NS). */
	uint8_t sn[16], gm[6];
	netfix6_snm(netfix6_stack_ll, sn);
	netfix6_group_mac(sn, gm);
	netfix_inject(&f, fr, netfix6_nd_frame(fr, gm, netfix_raw_mac, netfix6_raw_ll, sn, 255, 135, 0,
					       netfix6_stack_ll, netfix_raw_mac));
	netfix_drain(&f);
	netfix_inject(&f, fr, netfix6_udp_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ll, netfix6_stack_ll,
						 1234, 7, "ll", 2));
	assert_int_equal(log.calls, 7);
	assert_memory_equal(log.peer.u.v6, netfix6_raw_ll, 16);
	assert_true(netfix_capture(&f) > 0);
	expect_dgram(&f, netfix6_stack_ll, netfix6_raw_ll, 7, 1234, "ll", 2);
	/* IPv4 still served by the same binding. */
	assert_int_equal(stats(&f)->udp_rx_dgrams, 7);
	assert_int_equal(stats(&f)->udp_tx_dgrams, 7);
	assert_int_equal(stats(&f)->udp_rx_bytes, 0 + 1 + 5 + 64 + 1000 + 1452 + 2);
	assert_int_equal(stats(&f)->drop_ip6_proto, 0);
	netfix_teardown(&f);
}

struct gen {
	uint32_t len;
	unsigned calls;
};

static void gen_writer(void *arg, struct usn_cursor dst)
{
	struct gen *g = arg;
	g->calls++;
	for (uint32_t i = 0; i < g->len; i++) {
		uint8_t b = (uint8_t)(i * 3 + 11);
		usn_cursor_write(usn_cursor_drop(dst, i), &b, 1);
	}
}

static void no_gw(struct usn_stack_config *cfg)
{
	(void)cfg;
}

static void test_send_and_refusals(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, no_gw);
	struct usn_addr peer = usn_addr_ipv6(netfix6_raw_ip);
	static uint8_t page[1500];
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 3 + 11);
	/* By reference, with and without a prefix-sum table; by writer. */
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, page, 333, NULL), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_true(netfix_capture(&f) > 0);
	expect_dgram(&f, netfix6_stack_ip, netfix6_raw_ip, 5000, 6000, page, 333);
	struct usn_csum_table t;
	assert_int_equal(usn_csum_table_build(&t, page, 1001), 0);
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, page, 1001, &t), 0);
	usn_csum_table_free(&t);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_true(netfix_capture(&f) > 0);
	expect_dgram(&f, netfix6_stack_ip, netfix6_raw_ip, 5000, 6000, page, 1001);
	struct gen g = {.len = 1452};
	assert_int_equal(usn_udp_send_writer(f.w, 5001, &peer, 6001, g.len, gen_writer, &g), 0);
	assert_int_equal(g.calls, 1);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_true(netfix_capture(&f) > 0);
	expect_dgram(&f, netfix6_stack_ip, netfix6_raw_ip, 5001, 6001, page, 1452);
	/* The MTU less 48: one more byte is refused, nothing sent. */
	assert_int_equal(usn_udp_max_payload(f.w, USN_AF_INET6), 1500 - 48);
	assert_int_equal(usn_udp_max_payload(f.w, USN_AF_INET), 1500 - 28);
	assert_int_equal(usn_udp_max_payload(f.w, 0), 0);
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, page, 1453, NULL), -EMSGSIZE);
	/* No route: multicast, unspecified, ours, off-link without gateway6. */
	static const uint8_t off_link[16] = {0x20, 0x01, 0x00, 0x02, 0x00, 0x09, [15] = 1};
	struct usn_addr bad[] = {usn_addr_ipv6(netfix6_all_nodes), {.family = USN_AF_INET6},
				 usn_addr_ipv6(netfix6_stack_ip), usn_addr_ipv6(netfix6_stack_ll),
				 usn_addr_ipv6(off_link)};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(usn_udp_send_ref(f.w, 5000, &bad[i], 6000, page, 10, NULL), -EHOSTUNREACH);
	struct usn_addr other = {.family = 5};
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &other, 6000, page, 10, NULL), -EAFNOSUPPORT);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->udp_tx_dgrams, 3);
	netfix_teardown(&f);

	/* A stack without IPv6 refuses the family. */
	netfix_setup(&f, NULL, NULL);
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, page, 10, NULL), -EAFNOSUPPORT);
	netfix_teardown(&f);

	/* While duplicate address detection runs, no source is usable. */
	struct usn_stack_config cfg;
	netfix6_config(&cfg, true);
	netfix_setup(&f, &cfg, NULL);
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, page, 10, NULL), -EADDRNOTAVAIL);
	netfix_teardown(&f);
}

static void queue4(struct usn_stack_config *cfg)
{
	cfg->arp_queue_len = 4;
}

static void test_neighbour_queue(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	netfix6_config(&cfg, false);
	queue4(&cfg);
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	struct usn_addr peer = usn_addr_ipv6(netfix6_raw_ip);
	/* Unresolved: four wait for Neighbour Discovery, the fifth is
	 * refused with -EAGAIN rather than lost. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, "abc", 3, NULL), 0);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, "abc", 3, NULL), -EAGAIN);
	assert_int_equal(stats(&f)->drop_nd_queue_full, 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_true(netfix_capture(&f) > 0); /* the solicitation */
	assert_int_equal(f.cap[20], 58);
	assert_int_equal(f.cap[54], 135);
	assert_int_equal(netfix_capture(&f), 0);
	/* The advertisement releases them, in order. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip, netfix6_stack_ip,
					       255, 136, 0x60, netfix6_raw_ip, netfix_raw_mac));
	for (int i = 0; i < 4; i++) {
		assert_true(netfix_capture(&f) > 0);
		expect_dgram(&f, netfix6_stack_ip, netfix6_raw_ip, 1, 2, "abc", 3);
	}
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->udp_tx_dgrams, 4);
	netfix_teardown(&f);
}

static void test_drops_counted(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, NULL);
	struct rx_log log;
	memset(&log, 0, sizeof(log));
	assert_int_equal(usn_udp_bind(f.host->stack, 7, on_recv, &log), 0);
	const struct usn_stats *st = stats(&f);
	/* RFC 8200 8.1: a zero checksum is no checksum, not allowed. */
	size_t n = dgram(fr, 1000, 7, "abcdef", 6);
	fr[54 + 6] = fr[54 + 7] = 0;
	netfix_inject(&f, fr, n);
	assert_int_equal(st->drop_udp6_zero_csum, 1);
	/* A bad checksum. */
	n = dgram(fr, 1000, 7, "abcdef", 6);
	fr[n - 1] ^= 0x10;
	netfix_inject(&f, fr, n);
	assert_int_equal(st->drop_udp_csum, 1);
	/* Six bytes of UDP: short. */
	n = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x86dd);
	n += netfix6_ip(fr + n, netfix6_raw_ip, netfix6_stack_ip, 17, 6, 64);
	memset(fr + n, 0, 6);
	netfix_inject(&f, fr, n + 6);
	assert_int_equal(st->drop_udp_short, 1);
	/* A length field beyond the payload. */
	n = dgram(fr, 1000, 7, "abcdef", 6);
	fr[54 + 5] = 15;
	netfix_inject(&f, fr, n);
	assert_int_equal(st->drop_udp_len, 1);
	assert_int_equal(log.calls, 0);
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(st->icmp_errors_tx, 0);
	/* Ethernet padding after a short datagram is not data. */
	n = dgram(fr, 1000, 7, "a", 1);
	memset(fr + n, 0xee, 80 - n);
	netfix_inject(&f, fr, 80);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.len, 1);
	netfix_teardown(&f);
}

static void test_port_unreachable(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, NULL);
	const struct usn_stats *st = stats(&f);
	static uint8_t data[1452];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i + 3);
	/* A small datagram is quoted whole. */
	size_t n = dgram(fr, 4444, 9999, data, 20);
	netfix_inject(&f, fr, n);
	assert_true(netfix_capture(&f) > 0);
	expect_unreach(&f, fr + 14, n - 14);
	assert_int_equal(netfix_capture(&f), 0);
	/* A large one: the error stays within 1280 bytes (RFC 4443 2.4 c),
	 * so 1232 bytes of the packet are quoted. */
	n = dgram(fr, 4444, 9999, data, sizeof(data));
	netfix_inject(&f, fr, n);
	assert_true(netfix_capture(&f) > 0);
	assert_int_equal(f.cap_len, 14 + 1280);
	expect_unreach(&f, fr + 14, 1232);
	/* Exactly at the bound, and one byte under it. */
	n = dgram(fr, 4444, 9999, data, 1232 - 48);
	netfix_inject(&f, fr, n);
	assert_true(netfix_capture(&f) > 0);
	assert_int_equal(f.cap_len, 14 + 1280);
	expect_unreach(&f, fr + 14, 1232);
	n = dgram(fr, 4444, 9999, data, 1232 - 49);
	netfix_inject(&f, fr, n);
	assert_true(netfix_capture(&f) > 0);
	expect_unreach(&f, fr + 14, 1231);
	assert_int_equal(st->drop_udp_no_port, 4);
	assert_int_equal(st->icmp_errors_tx, 4);
	netfix_teardown(&f);
}

static void test_no_error_sent(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, NULL);
	const struct usn_stats *st = stats(&f);
	/* To the all-nodes group (on its group MAC): no port unreachable
	 * (RFC 4443 2.4 e.3). */
	size_t n = netfix6_udp_frame(fr, mac_all_nodes, netfix_raw_mac, netfix6_raw_ip, netfix6_all_nodes, 1, 9999,
				     "m", 1);
	netfix_inject(&f, fr, n);
	/* From a source that is no single node: unspecified, loopback. */
	static const uint8_t unspec[16], loop[16] = {[15] = 1};
	netfix_inject(&f, fr, netfix6_udp_frame(fr, netfix_stack_mac, netfix_raw_mac, unspec, netfix6_stack_ip, 1,
						 9999, "u", 1));
	netfix_inject(&f, fr, netfix6_udp_frame(fr, netfix_stack_mac, netfix_raw_mac, loop, netfix6_stack_ip, 1,
						 9999, "l", 1));
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(st->drop_udp_no_port, 3);
	assert_int_equal(st->icmp_errors_tx, 0);
	assert_int_equal(st->icmp_errors_suppressed, 0);

	/* The generator itself, on packets no transport would report: never
	 * about an ICMPv6 error or a redirect (e.1), about an echo request it
	 * would be allowed. */
	static const struct {
		uint8_t type;
		int rc;
	} cases[] = {{1, -EPERM}, {2, -EPERM}, {127, -EPERM}, {137, -EPERM}, {128, 0}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x86dd);
		uint8_t *m = fr + n + 40;
		memset(m, 0, 8);
		m[0] = cases[i].type;
		netfix6_icmp_csum(m, 8, netfix6_raw_ip, netfix6_stack_ip);
		n += netfix6_ip(fr + n, netfix6_raw_ip, netfix6_stack_ip, 58, 8, 64);
		n += 8;
		struct usn_buf *b = usn_worker_buf_alloc(f.w);
		assert_non_null(b);
		memcpy(b->data, fr, n);
		b->len = (uint16_t)n;
		b->frame_len = (uint32_t)n;
		struct usn_cursor l3 = usn_cursor_drop(usn_cursor_of_frame(b), 14);
		struct usn_ipv6_repr ip;
		assert_int_equal(usn_ipv6_parse(l3, &ip), USN_IPV6_OK);
		assert_int_equal(usn_icmp6_error_send(f.w, b, &ip, l3, 1, 4, 0), cases[i].rc);
		/* A group destination, but for packet too big (e.3's exception). */
		if (cases[i].rc == 0) {
			netfix_drain(&f);
			ip.dst[0] = 0xff;
			assert_int_equal(usn_icmp6_error_send(f.w, b, &ip, l3, 1, 4, 0), -EPERM);
			assert_int_equal(usn_icmp6_error_send(f.w, b, &ip, l3, 2, 0, 1280), 0);
			b->data[0] |= 1; /* and a link-layer group frame */
			assert_int_equal(usn_icmp6_error_send(f.w, b, &ip, l3, 3, 0, 0), -EPERM);
		}
		usn_worker_buf_free(f.w, b);
	}
	netfix_teardown(&f);
}

static void rate(struct usn_stack_config *cfg)
{
	cfg->icmp_error_rate = 100; /* one per 10 ms */
	cfg->icmp_error_burst = 10;
	cfg->bufs_per_worker = 1024;
}

/* IPv6's errors draw on IPv4's bucket: together they make the burst. */
static void test_rate_limit_shared(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, rate);
	const struct usn_stats *st = stats(&f);
	/* Four IPv4 port unreachables, then 100 IPv6 ones: six go out. */
	for (int i = 0; i < 4; i++) {
		size_t n = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
		n += netfix_ipv4(fr + n, NETFIX_RAW_IP, NETFIX_STACK_IP, 17, 8, 64, 1, 0);
		memset(fr + n, 0, 8);
		fr[n + 1] = 1;
		fr[n + 3] = 9; /* port 9, length 8, no checksum */
		fr[n + 5] = 8;
		netfix_inject(&f, fr, n + 8);
	}
	for (int i = 0; i < 100; i++)
		netfix_inject(&f, fr, dgram(fr, (uint16_t)(1000 + i), 9, "q", 1));
	assert_int_equal(netfix_drain(&f), 10);
	assert_int_equal(st->icmp_errors_tx, 10);
	assert_int_equal(st->icmp_errors_suppressed, 94);
	/* 30 ms later, three tokens. */
	simnet_run_for(&f.net, 30000);
	for (int i = 0; i < 20; i++)
		netfix_inject(&f, fr, dgram(fr, (uint16_t)(2000 + i), 9, "q", 1));
	assert_int_equal(netfix_drain(&f), 3);
	assert_int_equal(st->icmp_errors_tx, 13);
	assert_int_equal(st->drop_udp_no_port, 124);
	netfix_teardown(&f);
}

/* An ICMPv6 error frame from the raw port quoting a TCP segment from
 * qsrc:40000 to the raw port's :80. */
static size_t err_frame(uint8_t *p, uint8_t type, uint8_t code, uint32_t rest, const uint8_t qsrc[16], uint8_t qnh)
{
	uint8_t q[48];
	netfix6_ip(q, qsrc, netfix6_raw_ip, qnh, 1440, 64);
	static const uint8_t tcp[8] = {0x9c, 0x40, 0x00, 0x50, 0xde, 0xad, 0xbe, 0xef};
	memcpy(q + 40, tcp, 8);
	size_t n = netfix_eth(p, netfix_stack_mac, netfix_raw_mac, 0x86dd);
	size_t m = netfix6_icmp_err(p + n + 40, type, code, rest, q, sizeof(q), netfix6_raw_ip, netfix6_stack_ip);
	n += netfix6_ip(p + n, netfix6_raw_ip, netfix6_stack_ip, 58, (uint16_t)m, 64);
	return n + m;
}

static void test_errors_received(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, NULL);
	const struct usn_stats *st = stats(&f);
	/* The verdict and what it carries, read straight from lib/net. */
	size_t n = err_frame(fr, 2, 0, 1400, netfix6_stack_ip, 6);
	struct usn_buf *b = usn_worker_buf_alloc(f.w);
	memcpy(b->data, fr, n);
	b->len = (uint16_t)n;
	b->frame_len = (uint32_t)n;
	struct usn_net_l4 l4;
	memset(&l4, 0, sizeof(l4));
	assert_int_equal(usn_net_input(f.w, b, &l4), USN_NET_ICMP_ERR);
	assert_int_equal(l4.err.family, USN_AF_INET6);
	assert_int_equal(l4.err.type, USN_ICMP6_PACKET_TOO_BIG);
	assert_int_equal(l4.err.next_hop_mtu, 1400);
	assert_memory_equal(l4.err.src6, netfix6_stack_ip, 16);
	assert_memory_equal(l4.err.dst6, netfix6_raw_ip, 16);
	assert_int_equal(l4.err.src_port, 40000);
	assert_int_equal(l4.err.dst_port, 80);
	assert_int_equal(l4.err.seq, 0xdeadbeef);
	usn_worker_buf_free(f.w, b);
	assert_int_equal(st->icmp6_pkt_too_big_rx, 1);

	/* Through the worker: each type counted, handed to TCP's seam (no
	 * connection over IPv6 yet), the link-local address ours too. */
	netfix_inject(&f, fr, err_frame(fr, 2, 0, 1280, netfix6_stack_ip, 6));
	netfix_inject(&f, fr, err_frame(fr, 1, 4, 0, netfix6_stack_ll, 6));
	netfix_inject(&f, fr, err_frame(fr, 3, 0, 0, netfix6_stack_ip, 6));
	assert_int_equal(st->icmp6_pkt_too_big_rx, 2);
	assert_int_equal(st->icmp6_unreach_rx, 1);
	assert_int_equal(st->icmp6_time_exceeded_rx, 1);
	assert_int_equal(st->icmp_err_no_conn, 3);
	assert_int_equal(st->drop_icmp6_err_quote, 0);
	/* Not from us, not TCP, short: dropped with their reason. */
	static const uint8_t other[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x09};
	netfix_inject(&f, fr, err_frame(fr, 2, 0, 1280, other, 6));
	netfix_inject(&f, fr, err_frame(fr, 1, 4, 0, netfix6_stack_ip, 17));
	n = err_frame(fr, 3, 0, 0, netfix6_stack_ip, 6);
	fr[19] = (uint8_t)(fr[19] - 4); /* the payload length: 4 TCP bytes quoted */
	netfix6_icmp_csum(fr + 54, n - 54 - 4, netfix6_raw_ip, netfix6_stack_ip);
	netfix_inject(&f, fr, n - 4);
	assert_int_equal(st->drop_icmp6_err_quote, 3);
	assert_int_equal(st->icmp_err_no_conn, 3);
	assert_int_equal(st->drop_icmp6_type, 0);
	/* A parameter problem is counted as a type not handled. */
	netfix_inject(&f, fr, err_frame(fr, 4, 0, 0, netfix6_stack_ip, 6));
	assert_int_equal(st->drop_icmp6_type, 1);
	assert_int_equal(netfix_capture(&f), 0);
	netfix_teardown(&f);
}

static void pmtu_small(struct usn_stack_config *cfg)
{
	cfg->pmtu_entries = 4; /* one set of four */
	cfg->pmtu_expire_ms = 1000;
}

static void test_pmtu6_cache(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, pmtu_small);
	const struct usn_stats *st = stats(&f);
	uint8_t d[6][16];
	for (int i = 0; i < 6; i++) {
		memcpy(d[i], netfix6_raw_ip, 16);
		d[i][15] = (uint8_t)(0x10 + i);
	}
	/* Unknown: the interface MTU. */
	assert_int_equal(usn_pmtu_get6(f.w, d[0]), 1500);
	/* Lowered, never raised by a later report. */
	usn_pmtu_update6(f.w, d[0], 1400);
	assert_int_equal(usn_pmtu_get6(f.w, d[0]), 1400);
	usn_pmtu_update6(f.w, d[0], 1450);
	assert_int_equal(usn_pmtu_get6(f.w, d[0]), 1400);
	usn_pmtu_update6(f.w, d[0], 1300);
	assert_int_equal(usn_pmtu_get6(f.w, d[0]), 1300);
	/* Never below 1280 (RFC 8201 4): a smaller report means 1280. */
	usn_pmtu_update6(f.w, d[0], 576);
	assert_int_equal(usn_pmtu_get6(f.w, d[0]), 1280);
	usn_pmtu_update6(f.w, d[1], 68);
	assert_int_equal(usn_pmtu_get6(f.w, d[1]), 1280);
	/* The interface's own MTU or more: nothing to remember; nor a group. */
	usn_pmtu_update6(f.w, d[2], 1500);
	usn_pmtu_update6(f.w, netfix6_all_nodes, 1300);
	assert_int_equal(usn_pmtu_get6(f.w, netfix6_all_nodes), 1500);
	assert_int_equal(st->pmtu_updates, 4);
	/* IPv4's cache is apart. */
	assert_int_equal(usn_pmtu_get(f.w, NETFIX_RAW_IP), 1500);
	/* Expiry: back to the interface MTU. */
	simnet_run_for(&f.net, 1000u * 1000u);
	assert_int_equal(usn_pmtu_get6(f.w, d[0]), 1500);
	assert_int_equal(st->pmtu_expired, 1);
	/* Eviction: four live entries fill the set; a fifth replaces the
	 * oldest. */
	for (int i = 1; i <= 4; i++) {
		usn_pmtu_update6(f.w, d[i], (uint16_t)(1400 + i));
		simnet_run_for(&f.net, 1000);
	}
	assert_int_equal(st->pmtu_evicted, 0);
	usn_pmtu_update6(f.w, d[5], 1300);
	assert_int_equal(st->pmtu_evicted, 1);
	assert_int_equal(usn_pmtu_get6(f.w, d[5]), 1300);
	assert_int_equal(usn_pmtu_get6(f.w, d[1]), 1500); /* the oldest, gone */
	for (int i = 2; i <= 4; i++)
		assert_int_equal(usn_pmtu_get6(f.w, d[i]), 1400 + i);
	netfix_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_receive_and_echo),
	    cmocka_unit_test(test_send_and_refusals),
	    cmocka_unit_test(test_neighbour_queue),
	    cmocka_unit_test(test_drops_counted),
	    cmocka_unit_test(test_port_unreachable),
	    cmocka_unit_test(test_no_error_sent),
	    cmocka_unit_test(test_rate_limit_shared),
	    cmocka_unit_test(test_errors_received),
	    cmocka_unit_test(test_pmtu6_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
