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

/* An ARP frame from Ethernet source eth_src (netfix_arp_frame's is always
 * the raw port's MAC), padded to 60 bytes. */
static size_t arp_frame_from(uint8_t *p, const uint8_t eth_src[6], const uint8_t eth_dst[6], uint16_t op,
			     const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	size_t n = netfix_eth(p, eth_dst, eth_src, 0x0806);
	n += netfix_arp(p + n, op, sha, spa, tha, tpa);
	memset(p + n, 0, 60 - n);
	return 60;
}

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
	arp_frame_from(fr, other_mac, netfix_bcast, 1, other_mac, NETFIX_RAW_IP, zero_mac, NETFIX_RAW_IP);
	netfix_inject(&f, fr, 60);
	assert_true(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	assert_memory_equal(mac, other_mac, 6);
	/* An unknown sender talking to someone else is not added. */
	arp_frame_from(fr, other_mac, netfix_bcast, 1, other_mac, SIMNET_IP(0, 50), zero_mac, SIMNET_IP(0, 51));
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
	assert_int_equal(usn_worker_stats(f.w)->arp_sender_refused, 1);
	assert_int_equal(usn_worker_stats(f.w)->drop_arp_malformed, 0);
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
	/* 0 marks a free slot: looking it up finds nothing and must not
	 * disturb the table (it once "removed" a free slot, the count wrapped
	 * and every insert evicted). */
	for (int i = 0; i < 3; i++)
		assert_false(usn_arp_lookup(f.w, 0, mac));
	for (uint32_t i = 0; i < 10; i++) {
		uint8_t sha[6] = {0x02, 0, 0, 0, 1, (uint8_t)i};
		arp_frame_from(fr, sha, netfix_bcast, 1, sha, SIMNET_IP(1, 10 + i), zero_mac, NETFIX_STACK_IP);
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

/* ---- stale entries: used while a unicast probe checks them (RFC 1122 2.3.2.1) ---- */

/* The peer asks for us at the current time: learned, the reply drained. */
static void learn_raw(struct netfix *f)
{
	uint8_t fr[60];
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(f, fr, 60);
	assert_int_equal(netfix_drain(f), 1);
}

/* The peer's answer to a probe. */
static void reply_raw(struct netfix *f)
{
	uint8_t fr[60];
	netfix_arp_frame(fr, netfix_stack_mac, 2, netfix_raw_mac, NETFIX_RAW_IP, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(f, fr, 60);
}

/* A ping of ours left at once for the cached MAC. */
static void expect_ping(struct netfix *f, uint16_t seq)
{
	assert_int_equal(netfix_capture(f), 14 + 20 + 12);
	assert_memory_equal(f->cap, netfix_raw_mac, 6);
	assert_memory_equal(f->cap + 6, netfix_stack_mac, 6);
	assert_int_equal(f->cap[34 + 6] << 8 | f->cap[34 + 7], seq);
}

static void probe_cfg(struct usn_stack_config *cfg)
{
	usn_stack_config_init(cfg, 0, 15);
	cfg->arp_timeout_ms = 2000; /* reachable for 1500 ms after a reply */
	cfg->arp_retry_ms = 500;
	cfg->arp_retries = 3;
}

static void test_stale_entry_is_used_while_probed(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	probe_cfg(&cfg);
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	learn_raw(&f);
	uint64_t t0 = simnet_now_us(&f.net);
	const struct usn_stats *st = usn_worker_stats(f.w);

	/* Reachable: no probe. */
	simnet_run_for(&f.net, 1499000);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 1), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	expect_ping(&f, 1);
	assert_int_equal(netfix_capture(&f), 0);

	/* Stale at t0 + 1500 ms: the frame still goes to the cached MAC at
	 * once (nothing queued), and a unicast request follows it. */
	simnet_run_for(&f.net, 1000);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 2), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	expect_ping(&f, 2);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_raw_mac, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_RAW_IP);
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(st->arp_requests_tx, 1);

	/* While the probe is out, frames go straight out; one probe only. */
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 3), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	expect_ping(&f, 3);
	assert_int_equal(netfix_capture(&f), 0);

	/* The reply confirms the entry: no retry, and it is reachable for
	 * another 1500 ms, past the 2000 ms lifetime it was learned with. */
	reply_raw(&f);
	assert_int_equal(netfix_wait_frame(&f, 1499000), 0);
	assert_int_equal(simnet_now_us(&f.net), t0 + 2999000u);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 4), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	expect_ping(&f, 4);
	assert_int_equal(netfix_capture(&f), 0);

	assert_int_equal(st->arp_requests_tx, 1);
	assert_int_equal(st->arp_replies_rx, 1);
	assert_int_equal(st->arp_learned, 1);
	assert_int_equal(st->arp_failed, 0);
	assert_int_equal(st->arp_expired, 0);
	assert_int_equal(st->drop_arp_queue_full, 0);
	assert_int_equal(st->drop_arp_unresolved, 0);
	netfix_teardown(&f);
}

static void test_probe_failure_invalidates_entry(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	probe_cfg(&cfg);
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	learn_raw(&f);
	uint64_t t0 = simnet_now_us(&f.net);
	const struct usn_stats *st = usn_worker_stats(f.w);
	uint8_t mac[6];

	simnet_run_for(&f.net, 1500000);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 1), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	expect_ping(&f, 1);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_raw_mac, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_RAW_IP);
	/* Unicast retries every arp_retry_ms, arp_retries requests in all. */
	for (int i = 1; i < 3; i++) {
		assert_int_equal(netfix_wait_frame(&f, 2000000), 60);
		expect_arp(&f, netfix_raw_mac, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_RAW_IP);
		assert_int_equal(simnet_now_us(&f.net), t0 + 1500000u + (uint64_t)i * 500000u);
		/* Past the 2000 ms lifetime the probed entry is still used. */
		assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, (uint16_t)(1 + i)), 0);
		simnet_run_until(&f.net, NULL, NULL, 0);
		expect_ping(&f, (uint16_t)(1 + i));
		assert_int_equal(netfix_capture(&f), 0);
	}
	assert_int_equal(st->arp_requests_tx, 3);
	/* No answer arp_retry_ms after the last request: the entry is invalid. */
	simnet_run_for(&f.net, t0 + 2999000u - simnet_now_us(&f.net));
	assert_true(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	assert_int_equal(st->arp_failed, 0);
	simnet_run_for(&f.net, 1000);
	assert_int_equal(st->arp_failed, 1);
	assert_false(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	assert_int_equal(netfix_capture(&f), 0);

	/* Then resolution starts over: a broadcast request, the frame waits. */
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 9), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_bcast, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_RAW_IP);
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(st->arp_requests_tx, 4);
	assert_int_equal(st->arp_expired, 0);
	assert_int_equal(st->drop_arp_queue_full, 0);
	netfix_teardown(&f);
}

/* Two workers; ARP arrives on queue 0. Worker 1 probes, worker 0 hears the
 * reply and posts it: worker 1's probe ends there (no retry, no failure). */
static void test_probe_answered_on_another_worker(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	probe_cfg(&cfg);
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.n_queues = 2;
	struct netfix f;
	netfix_setup(&f, &cfg, &pc);
	struct usn_worker *w1 = usn_stack_worker(f.host->stack, 1);
	netfix_drain(&f);
	learn_raw(&f);
	uint64_t t0 = simnet_now_us(&f.net);
	uint8_t mac[6];
	assert_true(usn_arp_lookup(w1, NETFIX_RAW_IP, mac)); /* posted by worker 0 */

	simnet_run_for(&f.net, 1500000);
	assert_int_equal(send_ping(w1, NETFIX_RAW_IP, 1), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	expect_ping(&f, 1);
	assert_int_equal(netfix_capture(&f), 60);
	expect_arp(&f, netfix_raw_mac, 1, netfix_stack_mac, NETFIX_STACK_IP, zero_mac, NETFIX_RAW_IP);
	reply_raw(&f);
	assert_int_equal(usn_worker_stats(f.w)->arp_replies_rx, 1);

	/* Beyond the time a failed probe would have ended (t0 + 3000 ms). */
	assert_int_equal(netfix_wait_frame(&f, 1600000), 0);
	assert_int_equal(simnet_now_us(&f.net), t0 + 3100000u);
	assert_true(usn_arp_lookup(w1, NETFIX_RAW_IP, mac));
	assert_memory_equal(mac, netfix_raw_mac, 6);
	const struct usn_stats *s1 = usn_worker_stats(w1);
	assert_int_equal(s1->arp_requests_tx, 1);
	assert_int_equal(s1->arp_failed, 0);
	assert_int_equal(usn_worker_stats(f.w)->arp_requests_tx, 0);
	netfix_teardown(&f);
}

/* ---- sender checks: ARP has no checksum ---- */

/* One corrupted byte in a reply's sender MAC used to replace a good entry
 * for its whole lifetime. */
static void test_sender_mac_must_match_eth_source(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	learn_raw(&f);
	uint8_t fr[60], mac[6];
	uint8_t bad[6];
	memcpy(bad, netfix_raw_mac, 6);
	bad[5] ^= 0x10;
	/* A reply for us, and a request for us, each with a damaged sha. */
	netfix_arp_frame(fr, netfix_stack_mac, 2, bad, NETFIX_RAW_IP, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	netfix_arp_frame(fr, netfix_bcast, 1, bad, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	assert_int_equal(netfix_capture(&f), 0); /* the request is not answered */
	assert_true(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	assert_memory_equal(mac, netfix_raw_mac, 6);
	/* An unknown address behind a mismatched sender is not learned. */
	netfix_arp_frame(fr, netfix_bcast, 1, other_mac, SIMNET_IP(0, 60), zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	assert_int_equal(netfix_capture(&f), 0);
	assert_false(usn_arp_lookup(f.w, SIMNET_IP(0, 60), mac));

	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->drop_arp_malformed, 3);
	assert_int_equal(st->arp_requests_rx, 1); /* learn_raw's */
	assert_int_equal(st->arp_replies_rx, 0);
	assert_int_equal(st->arp_replies_tx, 1);
	assert_int_equal(st->arp_learned, 1);
	assert_int_equal(st->arp_sender_refused, 0);
	netfix_teardown(&f);
}

/* A pending resolution is not completed by a damaged reply; the frames
 * still wait for the real one. */
static void test_damaged_reply_does_not_resolve(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 1), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_drain(&f), 1);
	uint8_t fr[60];
	arp_frame_from(fr, netfix_raw_mac, netfix_stack_mac, 2, other_mac, NETFIX_RAW_IP, netfix_stack_mac,
		       NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	assert_int_equal(netfix_capture(&f), 0);
	reply_raw(&f);
	expect_ping(&f, 1);
	assert_int_equal(usn_worker_stats(f.w)->drop_arp_malformed, 1);
	assert_int_equal(usn_worker_stats(f.w)->arp_replies_rx, 1);
	netfix_teardown(&f);
}

/* Group and zero sender MACs are never a neighbour (even when the Ethernet
 * source agrees); the frame is dropped and not answered. */
static void test_group_sender_mac_dropped(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	const uint8_t *senders[] = {netfix_bcast, mcast, zero_mac};
	uint8_t fr[60], mac[6];
	for (int i = 0; i < 3; i++) {
		arp_frame_from(fr, senders[i], netfix_bcast, 1, senders[i], NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
		netfix_inject(&f, fr, 60);
		arp_frame_from(fr, senders[i], netfix_stack_mac, 2, senders[i], NETFIX_RAW_IP, netfix_stack_mac,
			       NETFIX_STACK_IP);
		netfix_inject(&f, fr, 60);
	}
	assert_int_equal(netfix_capture(&f), 0);
	assert_false(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->drop_arp_malformed, 6);
	assert_int_equal(st->arp_requests_rx, 0);
	assert_int_equal(st->arp_replies_rx, 0);
	assert_int_equal(st->arp_replies_tx, 0);
	assert_int_equal(st->arp_learned, 0);
	netfix_teardown(&f);
}

/* Sender addresses that are no neighbour's: 0.0.0.0 (an RFC 5227 probe,
 * answered above), our own (a conflict, RFC 5227 2.4), broadcast and
 * multicast. Never learned, never refreshing an entry; counted. */
static void test_unusable_sender_ip_refused(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	learn_raw(&f);
	uint8_t fr[60], mac[6];
	/* Our own address claimed by the peer's MAC, in a reply to us. */
	netfix_arp_frame(fr, netfix_stack_mac, 2, netfix_raw_mac, NETFIX_STACK_IP, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	/* A reply from 0.0.0.0, from 255.255.255.255, from 224.0.0.1. */
	netfix_arp_frame(fr, netfix_stack_mac, 2, netfix_raw_mac, 0, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	netfix_arp_frame(fr, netfix_stack_mac, 2, netfix_raw_mac, 0xffffffffu, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	netfix_arp_frame(fr, netfix_stack_mac, 2, netfix_raw_mac, 0xe0000001u, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	assert_int_equal(netfix_capture(&f), 0);
	assert_false(usn_arp_lookup(f.w, NETFIX_STACK_IP, mac));
	assert_false(usn_arp_lookup(f.w, 0xffffffffu, mac));
	assert_false(usn_arp_lookup(f.w, 0xe0000001u, mac));
	assert_true(usn_arp_lookup(f.w, NETFIX_RAW_IP, mac));
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->arp_sender_refused, 4);
	assert_int_equal(st->arp_replies_rx, 4);
	assert_int_equal(st->arp_learned, 1);
	assert_int_equal(st->drop_arp_malformed, 0);
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
		cmocka_unit_test(test_stale_entry_is_used_while_probed),
		cmocka_unit_test(test_probe_failure_invalidates_entry),
		cmocka_unit_test(test_probe_answered_on_another_worker),
		cmocka_unit_test(test_sender_mac_must_match_eth_source),
		cmocka_unit_test(test_damaged_reply_does_not_resolve),
		cmocka_unit_test(test_group_sender_mac_dropped),
		cmocka_unit_test(test_unusable_sender_ip_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
