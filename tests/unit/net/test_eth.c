/* Unit tests for lib/net/eth.c: which frames the stack keeps (our MAC,
 * broadcast, one VLAN tag) and the counter for each one it drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/worker.h"
#include "netfix.h"

static const uint8_t zero_mac[6];

static void test_short_frame(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	/* The link carries nothing under 14 bytes: a VLAN tag with no room
	 * for the inner type (14 and 17 bytes) is the short frame. */
	uint8_t fr[60];
	memset(fr, 0, sizeof(fr));
	netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x8100);
	netfix_inject(&f, fr, 14);
	netfix_inject(&f, fr, 17);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->drop_eth_short, 2);
	assert_int_equal(st->rx_frames, 2);
	assert_int_equal(st->rx_bytes, 31);
	assert_int_equal(st->arp_requests_rx, 0);
	assert_int_equal(netfix_capture(&f), 0);
	netfix_teardown(&f);
}

static void test_other_unicast_and_multicast_dropped(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[60];
	static const uint8_t other[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x01 ^ 0x80};
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	netfix_arp_frame(fr, other, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	netfix_arp_frame(fr, mcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	const struct usn_stats *st = usn_worker_stats(f.w);
	/* The link delivers unicast by MAC, so only the multicast frame
	 * reaches the port; the stack has joined no group. */
	assert_int_equal(st->rx_frames, 1);
	assert_int_equal(st->drop_eth_not_for_us, 1);
	assert_int_equal(st->arp_requests_rx, 0);
	assert_int_equal(netfix_capture(&f), 0);
	netfix_teardown(&f);
}

static void test_unknown_ethertype(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[60];
	memset(fr, 0, sizeof(fr));
	netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x86dd);
	netfix_inject(&f, fr, 60);
	netfix_eth(fr, netfix_bcast, netfix_raw_mac, 0x88cc); /* LLDP */
	netfix_inject(&f, fr, 60);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->drop_eth_type, 2);
	assert_int_equal(st->rx_frames, 2);
	assert_int_equal(netfix_capture(&f), 0);
	netfix_teardown(&f);
}

static void test_broadcast_and_unicast_accepted(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[60];
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	netfix_arp_frame(fr, netfix_stack_mac, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 60);
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->arp_requests_rx, 2);
	assert_int_equal(st->arp_replies_tx, 2);
	assert_int_equal(st->drop_eth_not_for_us + st->drop_eth_short + st->drop_eth_type, 0);
	assert_int_equal(netfix_drain(&f), 2);
	netfix_teardown(&f);
}

static void test_vlan_tagged_request_answered_untagged(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	netfix_drain(&f);
	uint8_t fr[64];
	memset(fr, 0, sizeof(fr));
	size_t n = netfix_eth(fr, netfix_bcast, netfix_raw_mac, 0x8100);
	fr[n++] = 0x00;
	fr[n++] = 0x05; /* VID 5 */
	fr[n++] = 0x08;
	fr[n++] = 0x06;
	netfix_arp(fr + n, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(&f, fr, 64);
	assert_int_equal(netfix_capture(&f), 60);
	assert_int_equal(f.cap[12], 0x08);
	assert_int_equal(f.cap[13], 0x06);
	assert_int_equal(f.cap[14 + 7], 2); /* reply */
	assert_int_equal(usn_worker_stats(f.w)->arp_requests_rx, 1);
	netfix_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_frame),
		cmocka_unit_test(test_other_unicast_and_multicast_dropped),
		cmocka_unit_test(test_unknown_ethertype),
		cmocka_unit_test(test_broadcast_and_unicast_accepted),
		cmocka_unit_test(test_vlan_tagged_request_answered_untagged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
