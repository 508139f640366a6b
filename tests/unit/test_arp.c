/* Unit tests for lib/net/arp.c: one stack and a raw port on a simulated
 * link; frames injected and captured byte for byte, counters exact, retry
 * timing on the virtual clock. */
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

static const uint8_t zero_mac[6];
static const uint8_t other_mac[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x77};

static void expect_arp(const struct netfix *f, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6],
		       uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	uint8_t want[60];
	size_t n = netfix_eth(want, eth_dst, sha, 0x0806);
	n += netfix_arp(want + n, op, sha, spa, tha, tpa);
	memset(want + n, 0, sizeof(want) - n);
	assert_int_equal(f->cap_len, 60);
	assert_memory_equal(f->cap, want, 60);
}

/* An ICMP echo request built by the stack itself, sent to dst through IPv4
 * output (so it goes through ARP resolution). */
static int send_ping(struct usn_worker *w, uint32_t dst, uint16_t seq)
{
	struct usn_buf *b = usn_worker_buf_alloc(w);
	assert_non_null(b);
	size_t l4 = netfix_icmp_echo(b->data + USN_L4_OFF, 8, 0x77, seq, "abcd", 4);
	b->len = (uint16_t)(USN_L4_OFF + l4);
	b->frame_len = b->len;
	return usn_ipv4_output(w, b, dst, USN_IPPROTO_ICMP, (uint16_t)l4);
}

static void test_announce_at_start(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_bcast, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_STACK_IP);
	assert_int_equal(netfix_capture(&f), 0);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->arp_gratuitous_tx, 1);
	assert_int_equal(st->arp_requests_tx, 0);
	assert_int_equal(st->tx_frames, 1);
	assert_int_equal(st->tx_bytes, 60);
	netfix_teardown(&f);
}

static void test_request_for_us_is_answered_and_learned(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[60];
	size_t n = netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, n);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_raw_mac, 2, netfix_stack_mac, NETFIX_STACK_IP, netfix_raw_mac, NETFIX_RAW_IP);
	/* Eth src of the reply is ours, dst the requester. */
	assert_memory_equal(f.cap + 6, netfix_stack_mac, 6);

	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->arp_requests_rx, 1);
	assert_int_equal(st->arp_replies_tx, 1);
	assert_int_equal(st->arp_learned, 1);
	assert_int_equal(st->rx_frames, 1);
	assert_int_equal(st->rx_bytes, 60);
	uint8_t mac[6];
	assert_true(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	assert_memory_equal(mac, netfix_raw_mac, 6);
	netfix_teardown(&f);
}

static void test_request_not_for_us(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[60];
	size_t n = netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, SIMNET_IP(0, 9));
	netfix_inject(&f, fr, n);
	assert_int_equal(netfix_capture(&f), 0);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->arp_requests_rx, 1);
	assert_int_equal(st->drop_arp_not_for_us, 1);
	assert_int_equal(st->arp_replies_tx, 0);
	assert_int_equal(st->arp_learned, 0);
	uint8_t mac[6];
	assert_false(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	netfix_teardown(&f);
}

static void test_malformed(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[60];
	/* 1: truncated (14 + 20 bytes). */
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 34);
	/* 2: hardware type 6. */
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	fr[15] = 6;
	netfix_inject(&f, fr, 60);
	/* 3: protocol type IPv6. */
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	fr[16] = 0x86;
	fr[17] = 0xdd;
	netfix_inject(&f, fr, 60);
	/* 4: opcode 3 (RARP). */
	netfix_arp_frame(fr, netfix_bcast, 3, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	/* 5: hardware length 8. */
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	fr[18] = 8;
	netfix_inject(&f, fr, 60);

	assert_int_equal(netfix_capture(&f), 0);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->drop_arp_malformed, 5);
	assert_int_equal(st->arp_requests_rx, 0);
	assert_int_equal(st->arp_learned, 0);
	assert_int_equal(st->rx_frames, 5);
	netfix_teardown(&f);
}

static void test_resolution_success(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 1), 0);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 2), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	/* One request for both frames. */
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_bcast, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_RAW_IP);
	assert_int_equal(netfix_capture(&f), 0);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->arp_requests_tx, 1);

	uint8_t fr[60];
	size_t n = netfix_arp_frame(fr, netfix_stack_mac, 2, netfix_raw_mac, NETFIX_RAW_IP, netfix_stack_mac,
				    NETFIX_STACK_IP);
	netfix_inject(&f, fr, n);
	/* Both waiting frames leave, in order, to the resolved MAC. */
	for (uint16_t seq = 1; seq <= 2; seq++) {
		assert_int_equal(netfix_capture(&f), 14 + 20 + 12);
		assert_memory_equal(f.cap, netfix_raw_mac, 6);
		assert_memory_equal(f.cap + 6, netfix_stack_mac, 6);
		assert_int_equal(f.cap[12], 0x08);
		assert_int_equal(f.cap[13], 0x00);
		assert_int_equal(f.cap[34 + 6] << 8 | f.cap[34 + 7], seq);
	}
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(st->arp_replies_rx, 1);
	assert_int_equal(st->arp_learned, 1);
	assert_int_equal(st->drop_arp_unresolved, 0);
	/* Resolved now: a third frame goes straight out, no request. */
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 3), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 46);
	assert_int_equal(st->arp_requests_tx, 1);
	netfix_teardown(&f);
}

static void test_retry_timing_and_failure(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 15);
	cfg.arp_retry_ms = 500;
	cfg.arp_retries = 3;
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	uint64_t t0 = simnet_now_us(&f.net);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 1), 0);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 2), 0);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 3), 0);
	/* Requests at t0, t0 + 500 ms, t0 + 1000 ms. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(netfix_wait_frame(&f, 2000000), 60);
		expect_arp(&f, netfix_bcast, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_RAW_IP);
		assert_int_equal(simnet_now_us(&f.net), t0 + (uint64_t)i * 500000u);
	}
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->arp_requests_tx, 3);
	assert_int_equal(st->arp_failed, 0);
	/* Just before t0 + 1500 ms the frames still wait; at it they go. */
	simnet_run_for(&f.net, t0 + 1499000u - simnet_now_us(&f.net));
	assert_int_equal(st->drop_arp_unresolved, 0);
	simnet_run_for(&f.net, 1000);
	assert_int_equal(simnet_now_us(&f.net), t0 + 1500000u);
	assert_int_equal(st->drop_arp_unresolved, 3);
	assert_int_equal(st->arp_failed, 1);
	/* No fourth request, ever. */
	assert_int_equal(netfix_wait_frame(&f, 5000000), 0);
	assert_int_equal(st->arp_requests_tx, 3);
	netfix_teardown(&f);
}

static void test_queue_bound(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 15);
	cfg.arp_queue_len = 4;
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	for (uint16_t i = 0; i < 6; i++)
		assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, i), 0);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->drop_arp_queue_full, 2);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 60);
	uint8_t fr[60];
	netfix_arp_frame(fr, netfix_stack_mac, 2, netfix_raw_mac, NETFIX_RAW_IP, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	assert_int_equal(netfix_drain(&f), 4);
	netfix_teardown(&f);
}

static void test_no_route(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	/* Off-link (outside 198.18.0.0/15), no gateway. */
	assert_int_equal(send_ping(f.w, 0x0a000001u, 1), -EHOSTUNREACH);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(usn_worker_stats(f.w)->arp_requests_tx, 0);
	netfix_teardown(&f);
}

static void test_gateway_is_resolved_for_off_link(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 15);
	cfg.gateway = SIMNET_IP(0, 254);
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	assert_int_equal(usn_ipv4_next_hop(f.w, 0x0a000001u), SIMNET_IP(0, 254));
	assert_int_equal(usn_ipv4_next_hop(f.w, SIMNET_IP(1, 7)), SIMNET_IP(1, 7));
	assert_int_equal(send_ping(f.w, 0x0a000001u, 1), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_bcast, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, SIMNET_IP(0, 254));
	netfix_teardown(&f);
}

static void test_expiry(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 15);
	cfg.arp_timeout_ms = 2000;
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	uint8_t fr[60];
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	netfix_drain(&f);
	uint8_t mac[6];
	simnet_run_for(&f.net, 1999000);
	assert_true(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	simnet_run_for(&f.net, 1000);
	assert_false(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	assert_int_equal(usn_worker_stats(f.w)->arp_expired, 1);
	/* A send after expiry resolves again. */
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 1), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_bcast, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_RAW_IP);
	netfix_teardown(&f);
}

static void test_merge_updates_known_sender(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[60], mac[6];
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	netfix_drain(&f);
	/* Gratuitous ARP from the peer with a new MAC (not for us: RFC 826
	 * still updates the sender we know). */
	netfix_arp_frame(fr, netfix_bcast, 1, other_mac, NETFIX_RAW_IP, zero_mac, NETFIX_RAW_IP);
	netfix_inject(&f, fr, 60);
	assert_true(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	assert_memory_equal(mac, other_mac, 6);
	/* An unknown sender talking to someone else is not added. */
	netfix_arp_frame(fr, netfix_bcast, 1, other_mac, SIMNET_IP(0, 50), zero_mac, SIMNET_IP(0, 51));
	netfix_inject(&f, fr, 60);
	assert_false(usn_arp_lookup(f.w, SIMNET_IP(0, 50), mac));
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->drop_arp_not_for_us, 2);
	assert_int_equal(st->arp_learned, 1);
	assert_int_equal(netfix_capture(&f), 0);
	netfix_teardown(&f);
}

static void test_probe_is_answered_not_learned(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[60], mac[6];
	/* RFC 5227 probe: sender address 0. We defend ours. */
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, 0, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_raw_mac, 2, netfix_stack_mac, NETFIX_STACK_IP, netfix_raw_mac, 0);
	assert_false(usn_arp_lookup(f.w, 0, mac));
	assert_int_equal(usn_worker_stats(f.w)->arp_learned, 0);
	netfix_teardown(&f);
}

static void test_table_is_bounded(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 15);
	cfg.arp_entries = 4;
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	uint8_t fr[60], mac[6];
	for (uint32_t i = 0; i < 10; i++) {
		uint8_t sha[6] = {0x02, 0, 0, 0, 1, (uint8_t)i};
		netfix_arp_frame(fr, netfix_bcast, 1, sha, SIMNET_IP(1, 10 + i), zero_mac, NETFIX_STACK_IP);
		netfix_inject(&f, fr, 60);
	}
	netfix_drain(&f);
	unsigned found = 0;
	for (uint32_t i = 0; i < 10; i++) {
		if (usn_arp_lookup(f.w, SIMNET_IP(1, 10 + i), mac)) {
			found++;
			assert_int_equal(mac[5], i);
		}
	}
	assert_int_equal(found, 4);
	/* The newest is always present. */
	assert_true(usn_arp_lookup(f.w, SIMNET_IP(1, 19), mac));
	assert_int_equal(usn_worker_stats(f.w)->arp_learned, 10);
	netfix_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announce_at_start),
		cmocka_unit_test(test_request_for_us_is_answered_and_learned),
		cmocka_unit_test(test_request_not_for_us),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_resolution_success),
		cmocka_unit_test(test_retry_timing_and_failure),
		cmocka_unit_test(test_queue_bound),
		cmocka_unit_test(test_no_route),
		cmocka_unit_test(test_gateway_is_resolved_for_off_link),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_merge_updates_known_sender),
		cmocka_unit_test(test_probe_is_answered_not_learned),
		cmocka_unit_test(test_table_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
