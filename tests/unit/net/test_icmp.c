/* Unit tests for lib/net/icmp.c: echo replies byte for byte (in place, and
 * rebuilt for IP options and chained frames), and each drop reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/worker.h"
#include "netfix.h"

static const uint8_t zero_mac[6];

static void setup_resolved(struct netfix *f, const struct usn_sim_port_config *pcfg)
{
	netfix_setup(f, NULL, pcfg);
	uint8_t fr[60];
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(f, fr, 60);
	netfix_drain(f);
}

/* The reply the stack must send for an echo request with this payload:
 * everything but the IP id (the stack's own counter) is known exactly. */
static void expect_reply(const struct netfix *f, uint16_t ident, uint16_t seq, const uint8_t *data, size_t len)
{
	uint8_t want[2048];
	size_t n = netfix_eth(want, netfix_raw_mac, netfix_stack_mac, 0x0800);
	uint16_t id = (uint16_t)(f->cap[18] << 8 | f->cap[19]);
	n += netfix_ipv4(want + n, NETFIX_STACK_IP, NETFIX_RAW_IP, 1, (uint16_t)(8 + len), 64, id, 0x4000);
	n += netfix_icmp_echo(want + n, 0, ident, seq, data, len);
	assert_int_equal(f->cap_len, n);
	assert_memory_equal(f->cap, want, n);
}

static void test_echo_reply_in_place(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL);
	uint8_t fr[256], data[64];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	/* Even and odd payload lengths, and an ident/seq whose sum lands the
	 * request's checksum near 0x0000/0xffff. */
	static const struct { uint16_t ident, seq; size_t len; } cases[] = {
		{0x1234, 1, 56}, {0xbeef, 2, 5}, {0x0000, 0, 0}, {0xf7ff, 0xffff, 0}, {0x0800, 0xffff, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = netfix_ping_frame(fr, cases[i].ident, cases[i].seq, data, cases[i].len);
		netfix_inject(&f, fr, n);
		assert_int_equal(netfix_capture(&f) > 0, 1);
		expect_reply(&f, cases[i].ident, cases[i].seq, data, cases[i].len);
	}
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->icmp_echo_rx, 5);
	assert_int_equal(st->icmp_echo_tx, 5);
	netfix_teardown(&f);
}

static void test_echo_reply_rebuilt_for_ip_options(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL);
	uint8_t fr[256];
	size_t k = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
	netfix_ipv4(fr + k, NETFIX_RAW_IP, NETFIX_STACK_IP, 1, 8 + 8 + 3, 64, 9, 0);
	fr[k] = 0x47; /* 8 bytes of options: NOPs */
	memset(fr + k + 20, 1, 8);
	fr[k + 10] = fr[k + 11] = 0;
	uint16_t c = netfix_csum(fr + k, 28);
	fr[k + 10] = (uint8_t)(c >> 8);
	fr[k + 11] = (uint8_t)c;
	size_t n = k + 28 + netfix_icmp_echo(fr + k + 28, 8, 0x4242, 7, "xyz", 3);
	netfix_inject(&f, fr, n);
	assert_true(netfix_capture(&f) > 0);
	expect_reply(&f, 0x4242, 7, (const uint8_t *)"xyz", 3);
	netfix_teardown(&f);
}

static void test_echo_reply_for_chained_request(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.buf_size = 256; /* a 1000-byte ping arrives as a 4-buffer chain */
	pc.offloads = USN_HAL_OFF_TX_MULTISEG;
	struct netfix f;
	setup_resolved(&f, &pc);
	static uint8_t fr[1200], data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ (i >> 8));
	size_t n = netfix_ping_frame(fr, 0x0101, 3, data, sizeof(data));
	netfix_inject(&f, fr, n);
	assert_true(netfix_capture(&f) > 0);
	expect_reply(&f, 0x0101, 3, data, sizeof(data));
	netfix_teardown(&f);
}

static void test_chained_request_without_multiseg_is_dropped(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.buf_size = 256;
	struct netfix f;
	setup_resolved(&f, &pc);
	static uint8_t fr[1200], data[1000];
	size_t n = netfix_ping_frame(fr, 0x0101, 3, data, sizeof(data));
	netfix_inject(&f, fr, n);
	assert_int_equal(netfix_capture(&f), 0);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->icmp_echo_rx, 1);
	assert_int_equal(st->icmp_echo_tx, 0);
	assert_int_equal(st->drop_no_buf, 1);
	netfix_teardown(&f);
}

static void test_drops(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL);
	const struct usn_stats *st = usn_worker_stats(f.w);
	uint8_t fr[128];
	size_t n;

	n = netfix_ping_frame(fr, 1, 1, "abcd", 4);
	fr[n - 1] ^= 0x40;
	netfix_inject(&f, fr, n);
	assert_int_equal(st->drop_icmp_csum, 1);

	/* 4 bytes of ICMP: shorter than an echo header. */
	size_t k = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
	k += netfix_ipv4(fr + k, NETFIX_RAW_IP, NETFIX_STACK_IP, 1, 4, 64, 1, 0);
	fr[k] = 8;
	fr[k + 1] = 0;
	fr[k + 2] = 0xf7;
	fr[k + 3] = 0xff;
	netfix_inject(&f, fr, k + 4);
	assert_int_equal(st->drop_icmp_malformed, 1);

	/* An echo reply and a timestamp request: not answered. */
	k = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
	k += netfix_ipv4(fr + k, NETFIX_RAW_IP, NETFIX_STACK_IP, 1, 8, 64, 1, 0);
	netfix_icmp_echo(fr + k, 0, 1, 1, NULL, 0);
	netfix_inject(&f, fr, k + 8);
	netfix_icmp_echo(fr + k, 13, 1, 1, NULL, 0);
	netfix_inject(&f, fr, k + 8);
	/* Echo request with code 1. */
	netfix_icmp_echo(fr + k, 8, 1, 1, NULL, 0);
	fr[k + 1] = 1;
	fr[k + 2] = fr[k + 3] = 0;
	uint16_t c = netfix_csum(fr + k, 8);
	fr[k + 2] = (uint8_t)(c >> 8);
	fr[k + 3] = (uint8_t)c;
	netfix_inject(&f, fr, k + 8);
	assert_int_equal(st->drop_icmp_type, 3);

	assert_int_equal(st->icmp_echo_rx, 0);
	assert_int_equal(st->icmp_echo_tx, 0);
	assert_int_equal(netfix_capture(&f), 0);
	netfix_teardown(&f);
}

static void test_reply_waits_for_arp(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[128];
	size_t n = netfix_ping_frame(fr, 5, 6, "hi", 2);
	netfix_inject(&f, fr, n);
	/* The requester is unknown: a request for it first. */
	assert_int_equal(netfix_capture(&f), 60);
	assert_int_equal(f.cap[12] << 8 | f.cap[13], 0x0806);
	assert_int_equal(netfix_capture(&f), 0);
	uint8_t arp[60];
	netfix_arp_frame(arp, netfix_stack_mac, 2, netfix_raw_mac, NETFIX_RAW_IP, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(&f, arp, 60);
	assert_true(netfix_capture(&f) > 0);
	expect_reply(&f, 5, 6, (const uint8_t *)"hi", 2);
	netfix_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_reply_in_place),
		cmocka_unit_test(test_echo_reply_rebuilt_for_ip_options),
		cmocka_unit_test(test_echo_reply_for_chained_request),
		cmocka_unit_test(test_chained_request_without_multiseg_is_dropped),
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_reply_waits_for_arp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
