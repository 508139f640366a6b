/* Unit tests for lib/net/ipv4.c: every malformed or unwanted packet is
 * dropped under its own counter; output writes the exact header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/worker.h"
#include "net/net.h"
#include "netfix.h"

static const uint8_t zero_mac[6];

/* A valid ping (4 data bytes) from the raw port: 14 + 20 + 12 bytes. */
static size_t ping(uint8_t *fr)
{
	return netfix_ping_frame(fr, 0x55, 1, "wxyz", 4);
}

static void fix_ip_csum(uint8_t *fr)
{
	uint8_t ihl = (uint8_t)((fr[14] & 15) * 4);
	fr[24] = fr[25] = 0;
	uint16_t c = netfix_csum(fr + 14, ihl);
	fr[24] = (uint8_t)(c >> 8);
	fr[25] = (uint8_t)c;
}

/* Every drop counter of the IPv4 layer, so each test can assert that only
 * the expected one moved. */
static uint64_t ip_drops(const struct usn_stats *st)
{
	return st->drop_ip_short + st->drop_ip_version + st->drop_ip_ihl + st->drop_ip_len + st->drop_ip_csum +
	       st->drop_ip_ttl + st->drop_ip_fragment + st->drop_ip_not_for_us + st->drop_ip_proto;
}

static void inject_expect_drop(struct netfix *f, const uint8_t *fr, size_t len, const uint64_t *counter)
{
	const struct usn_stats *st = usn_worker_stats(f->w);
	uint64_t before = *counter, all = ip_drops(st), echo = st->icmp_echo_rx;
	netfix_inject(f, fr, len);
	assert_int_equal(*counter, before + 1);
	assert_int_equal(ip_drops(st), all + 1);
	assert_int_equal(st->icmp_echo_rx, echo);
	assert_int_equal(netfix_capture(f), 0);
}

static void setup_resolved(struct netfix *f, const struct usn_stack_config *cfg, const struct usn_sim_port_config *pcfg)
{
	netfix_setup(f, cfg, pcfg);
	uint8_t fr[60];
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(f, fr, 60);
	netfix_drain(f);
}

static void test_malformed_drops(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL, NULL);
	const struct usn_stats *st = usn_worker_stats(f.w);
	uint8_t fr[128];
	size_t n;

	n = ping(fr);
	inject_expect_drop(&f, fr, 14 + 19, &st->drop_ip_short);

	n = ping(fr);
	fr[14] = 0x65;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_version);

	n = ping(fr);
	fr[14] = 0x44;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_ihl);

	n = ping(fr); /* IHL 15: 60 bytes of header in a 32-byte packet */
	fr[14] = 0x4f;
	inject_expect_drop(&f, fr, n, &st->drop_ip_ihl);

	n = ping(fr); /* total length past the frame */
	fr[16] = 0;
	fr[17] = 200;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_len);

	n = ping(fr); /* total length shorter than the header */
	fr[16] = 0;
	fr[17] = 16;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_len);

	n = ping(fr);
	fr[25] ^= 0x01;
	inject_expect_drop(&f, fr, n, &st->drop_ip_csum);

	n = ping(fr); /* another host's address */
	fr[33] = 9;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_not_for_us);

	n = ping(fr); /* limited broadcast */
	memset(fr + 30, 0xff, 4);
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_not_for_us);

	n = ping(fr);
	fr[22] = 0;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_ttl);

	n = ping(fr); /* first fragment: MF */
	fr[20] = 0x20;
	fr[21] = 0;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_fragment);

	n = ping(fr); /* last fragment: offset, no MF */
	fr[20] = 0x00;
	fr[21] = 0x10;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_fragment);

	n = ping(fr); /* SCTP: no transport here for it (UDP has lib/udp) */
	fr[23] = 132;
	fix_ip_csum(fr);
	inject_expect_drop(&f, fr, n, &st->drop_ip_proto);

	assert_int_equal(st->drop_ip_short, 1);
	assert_int_equal(st->drop_ip_version, 1);
	assert_int_equal(st->drop_ip_ihl, 2);
	assert_int_equal(st->drop_ip_len, 2);
	assert_int_equal(st->drop_ip_csum, 1);
	assert_int_equal(st->drop_ip_not_for_us, 2);
	assert_int_equal(st->drop_ip_ttl, 1);
	assert_int_equal(st->drop_ip_fragment, 2);
	assert_int_equal(st->drop_ip_proto, 1);
	assert_int_equal(st->icmp_echo_rx, 0);
	netfix_teardown(&f);
}

static void test_valid_with_padding_and_options(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL, NULL);
	const struct usn_stats *st = usn_worker_stats(f.w);
	uint8_t fr[128];
	/* Ethernet padding after the packet is ignored. */
	size_t n = ping(fr);
	memset(fr + n, 0xee, 60 - n);
	netfix_inject(&f, fr, 60);
	assert_int_equal(st->icmp_echo_rx, 1);
	assert_int_equal(netfix_capture(&f), n);

	/* A 4-byte option (NOP x4): skipped, the payload starts after it. */
	uint8_t data[4] = {'w', 'x', 'y', 'z'};
	size_t k = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
	netfix_ipv4(fr + k, NETFIX_RAW_IP, NETFIX_STACK_IP, 1, 4 + 12, 64, 7, 0);
	fr[k] = 0x46;
	memset(fr + k + 20, 1, 4);
	fix_ip_csum(fr);
	size_t m = k + 24 + netfix_icmp_echo(fr + k + 24, 8, 0x55, 2, data, 4);
	netfix_inject(&f, fr, m);
	assert_int_equal(st->icmp_echo_rx, 2);
	assert_int_equal(ip_drops(st), 0);
	assert_int_equal(netfix_capture(&f), 14 + 20 + 12);
	netfix_teardown(&f);
}

static int send_ping(struct usn_worker *w, uint32_t dst, uint16_t seq)
{
	struct usn_buf *b = usn_worker_buf_alloc(w);
	assert_non_null(b);
	size_t l4 = netfix_icmp_echo(b->data + USN_L4_OFF, 8, 0x99, seq, "ab", 2);
	b->len = (uint16_t)(USN_L4_OFF + l4);
	b->frame_len = b->len;
	return usn_ipv4_output(w, b, dst, USN_IPPROTO_ICMP, (uint16_t)l4);
}

static void check_output_header(const struct netfix *f, uint16_t *id)
{
	const uint8_t *ip = f->cap + 14;
	assert_int_equal(f->cap_len, 14 + 20 + 10);
	assert_memory_equal(f->cap, netfix_raw_mac, 6);
	assert_memory_equal(f->cap + 6, netfix_stack_mac, 6);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[1], 0);
	assert_int_equal(ip[2] << 8 | ip[3], 30);
	*id = (uint16_t)(ip[4] << 8 | ip[5]);
	assert_int_equal(ip[6], 0x40); /* DF */
	assert_int_equal(ip[7], 0);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 1);
	assert_int_equal(netfix_csum(ip, 20), 0);
	uint8_t addrs[8] = {198, 18, 0, 1, 198, 18, 0, 2};
	assert_memory_equal(ip + 12, addrs, 8);
}

static void output_test(const struct usn_sim_port_config *pcfg)
{
	struct netfix f;
	setup_resolved(&f, NULL, pcfg);
	uint16_t id1, id2;
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 1), 0);
	assert_int_equal(send_ping(f.w, NETFIX_RAW_IP, 2), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 44);
	check_output_header(&f, &id1);
	assert_int_equal(netfix_capture(&f), 44);
	check_output_header(&f, &id2);
	assert_int_equal((uint16_t)(id1 + 1), id2);
	netfix_teardown(&f);
}

static void test_output_header(void **state)
{
	(void)state;
	output_test(NULL);
}

static void test_output_header_with_tx_csum_offload(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.offloads = USN_HAL_OFF_TX_IP_CSUM;
	output_test(&pc);
}

static void test_rx_csum_offload_flags(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.offloads = USN_HAL_OFF_RX_CSUM;
	struct netfix f;
	setup_resolved(&f, NULL, &pc);
	const struct usn_stats *st = usn_worker_stats(f.w);
	uint8_t fr[64];
	size_t n = ping(fr);
	netfix_inject(&f, fr, n);
	assert_int_equal(st->icmp_echo_rx, 1);
	n = ping(fr);
	fr[24] ^= 0x10; /* the port flags it bad; the stack must not accept it */
	netfix_inject(&f, fr, n);
	assert_int_equal(st->drop_ip_csum, 1);
	assert_int_equal(st->icmp_echo_rx, 1);
	netfix_teardown(&f);
}

static void test_next_hop(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	assert_int_equal(usn_ipv4_next_hop(f.w, SIMNET_IP(1, 200)), SIMNET_IP(1, 200)); /* in the /15 */
	assert_int_equal(usn_ipv4_next_hop(f.w, (198u << 24) | (20u << 16) | 1u), 0);    /* outside, no gateway */
	assert_int_equal(usn_ipv4_next_hop(f.w, NETFIX_STACK_IP), 0);                      /* ourselves */
	assert_int_equal(usn_ipv4_next_hop(f.w, 0), 0);
	assert_int_equal(usn_ipv4_next_hop(f.w, 0xe0000001u), 0); /* multicast */
	netfix_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_drops),
		cmocka_unit_test(test_valid_with_padding_and_options),
		cmocka_unit_test(test_output_header),
		cmocka_unit_test(test_output_header_with_tx_csum_offload),
		cmocka_unit_test(test_rx_csum_offload_flags),
		cmocka_unit_test(test_next_hop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
