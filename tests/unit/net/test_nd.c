/* Segment-level tests for IPv6 on the simulated link (lib/net/ipv6.c,
 * nd.c, icmp6.c): one stack and a raw port; Neighbour Discovery frames and
 * echo requests injected, answers captured and compared byte for byte with
 * frames built independently (netfix6), counters exact, timing on the
 * virtual clock. */
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

static const uint8_t mac_all_nodes[6] = {0x33, 0x33, 0, 0, 0, 1};
static const uint8_t other_mac[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x77};

static uint8_t fr[2048], want[2048];

static void setup6(struct netfix *f, bool dad, void (*tweak)(struct usn_stack_config *))
{
	struct usn_stack_config cfg;
	netfix6_config(&cfg, dad);
	if (tweak)
		tweak(&cfg);
	netfix_setup(f, &cfg, NULL);
}

/* Reads the start-up frames (ARP, ND) off the raw port. */
static void drain(struct netfix *f)
{
	netfix_drain(f);
}

static void expect_frame(const struct netfix *f, const uint8_t *w, size_t n)
{
	assert_int_equal(f->cap_len, n);
	assert_memory_equal(f->cap, w, n);
}

static const struct usn_stats *stats(const struct netfix *f)
{
	return usn_worker_stats(f->w);
}

static uint8_t addr_state(struct netfix *f, unsigned i)
{
	enum usn_ipv6_state st[USN_IPV6_ADDRS_MAX + 1];
	unsigned n = usn_stack_ipv6_addrs(f->host->stack, NULL, st, USN_IPV6_ADDRS_MAX + 1);
	assert_true(i < n);
	return (uint8_t)st[i];
}

/* An NS for target from the raw port (its global address, SLLAO). */
static size_t ns_frame(uint8_t *p, const uint8_t target[16], uint8_t hop)
{
	uint8_t sn[16], mac[6];
	netfix6_snm(target, sn);
	netfix6_group_mac(sn, mac);
	return netfix6_nd_frame(p, mac, netfix_raw_mac, netfix6_raw_ip, sn, hop, 135, 0, target, netfix_raw_mac);
}

/* An echo request (ICMPv6) built by the stack itself through IPv6 output. */
static int send_echo(struct usn_worker *w, const uint8_t dst[16], uint16_t seq)
{
	struct usn_buf *b = usn_worker_buf_alloc(w);
	assert_non_null(b);
	uint8_t src[16];
	assert_int_equal(usn_ipv6_src_select(w, dst, src), 0);
	uint8_t *m = b->data + USN_L4_OFF6;
	memset(m, 0, 12);
	m[0] = 128;
	m[7] = (uint8_t)seq;
	netfix6_icmp_csum(m, 12, src, dst);
	b->len = (uint16_t)(USN_L4_OFF6 + 12);
	b->frame_len = b->len;
	return usn_ipv6_output(w, b, src, dst, 58, 12);
}

static void test_start_announces(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, false, NULL);
	assert_int_equal(netfix_capture(&f), 60); /* gratuitous ARP */
	/* One unsolicited NA per address to all nodes: Override, not
	 * Solicited, our MAC as target link-layer address. */
	size_t n = netfix6_nd_frame(want, mac_all_nodes, netfix_stack_mac, netfix6_stack_ll, netfix6_all_nodes, 255,
				    136, 0x20, netfix6_stack_ll, netfix_stack_mac);
	assert_int_equal(netfix_capture(&f), n);
	expect_frame(&f, want, n);
	n = netfix6_nd_frame(want, mac_all_nodes, netfix_stack_mac, netfix6_stack_ip, netfix6_all_nodes, 255, 136,
			     0x20, netfix6_stack_ip, netfix_stack_mac);
	assert_int_equal(netfix_capture(&f), n);
	expect_frame(&f, want, n);
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->nd_unsolicited_na_tx, 2);
	assert_int_equal(addr_state(&f, 0), USN_IPV6_PREFERRED);
	assert_int_equal(addr_state(&f, 1), USN_IPV6_PREFERRED);
	netfix_teardown(&f);
}

static void test_ns_answered_and_learned(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, false, NULL);
	drain(&f);
	netfix_inject(&f, fr, ns_frame(fr, netfix6_stack_ip, 255));
	size_t n = netfix6_nd_frame(want, netfix_raw_mac, netfix_stack_mac, netfix6_stack_ip, netfix6_raw_ip, 255, 136,
				    0x60, netfix6_stack_ip, netfix_stack_mac);
	assert_int_equal(netfix_capture(&f), n);
	expect_frame(&f, want, n);
	assert_int_equal(stats(&f)->nd_ns_rx, 1);
	assert_int_equal(stats(&f)->nd_na_tx, 3);
	assert_int_equal(stats(&f)->nd_learned, 1);
	uint8_t mac[6];
	assert_true(usn_nd_lookup(f.w, netfix6_raw_ip, mac));
	assert_memory_equal(mac, netfix_raw_mac, 6);
	/* For the link-local address too, from a link-local source. */
	uint8_t sn[16], gm[6];
	netfix6_snm(netfix6_stack_ll, sn);
	netfix6_group_mac(sn, gm);
	netfix_inject(&f, fr, netfix6_nd_frame(fr, gm, netfix_raw_mac, netfix6_raw_ll, sn, 255, 135, 0,
					       netfix6_stack_ll, netfix_raw_mac));
	n = netfix6_nd_frame(want, netfix_raw_mac, netfix_stack_mac, netfix6_stack_ll, netfix6_raw_ll, 255, 136, 0x60,
			     netfix6_stack_ll, netfix_stack_mac);
	assert_int_equal(netfix_capture(&f), n);
	expect_frame(&f, want, n);
	netfix_teardown(&f);
}

static void test_ns_invalid_dropped(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, false, NULL);
	drain(&f);
	uint8_t sn[16], gm[6];
	netfix6_snm(netfix6_stack_ip, sn);
	netfix6_group_mac(sn, gm);
	/* Hop limit 254: from off the link (RFC 4861 7.1.1). */
	netfix_inject(&f, fr, ns_frame(fr, netfix6_stack_ip, 254));
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->drop_nd_hop_limit, 1);
	assert_int_equal(stats(&f)->nd_learned, 0);
	/* A source off our prefix (2001:2:0:1::2) and not link-local. */
	uint8_t off_link[16];
	memcpy(off_link, netfix6_raw_ip, 16);
	off_link[7] = 1;
	netfix_inject(&f, fr, netfix6_nd_frame(fr, gm, netfix_raw_mac, off_link, sn, 255, 135, 0, netfix6_stack_ip,
					       netfix_raw_mac));
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->drop_nd_src, 1);
	/* Our own address as the source. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, gm, netfix_raw_mac, netfix6_stack_ip, sn, 255, 135, 0,
					       netfix6_stack_ip, netfix_raw_mac));
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->drop_nd_src, 2);
	/* From the unspecified address with a source link-layer option. */
	static const uint8_t unspec[16];
	netfix_inject(&f, fr, netfix6_nd_frame(fr, gm, netfix_raw_mac, unspec, sn, 255, 135, 0, netfix6_stack_ip,
					       netfix_raw_mac));
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->drop_nd_invalid, 1);
	/* From the unspecified address to a unicast destination. */
	uint8_t ucast[6];
	memcpy(ucast, netfix_stack_mac, 6);
	netfix_inject(&f, fr, netfix6_nd_frame(fr, ucast, netfix_raw_mac, unspec, netfix6_stack_ip, 255, 135, 0,
					       netfix6_stack_ip, NULL));
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->drop_nd_invalid, 2);
	/* A multicast target. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, gm, netfix_raw_mac, netfix6_raw_ip, sn, 255, 135, 0,
					       netfix6_all_nodes, netfix_raw_mac));
	assert_int_equal(stats(&f)->drop_nd_invalid, 3);
	/* Code 1. */
	size_t n = ns_frame(fr, netfix6_stack_ip, 255);
	fr[54 + 1] = 1;
	netfix6_icmp_csum(fr + 54, n - 54, netfix6_raw_ip, sn);
	netfix_inject(&f, fr, n);
	assert_int_equal(stats(&f)->drop_nd_invalid, 4);
	/* A bad checksum. */
	n = ns_frame(fr, netfix6_stack_ip, 255);
	fr[n - 1] ^= 1;
	netfix_inject(&f, fr, n);
	assert_int_equal(stats(&f)->drop_icmp6_csum, 1);
	/* A target that is not ours. */
	netfix_inject(&f, fr, ns_frame(fr, netfix6_raw_ll, 255));
	assert_int_equal(netfix_capture(&f), 0);
	/* (sent to the other group: not joined, not for us) */
	assert_int_equal(stats(&f)->drop_ip6_not_for_us, 1);
	assert_int_equal(stats(&f)->nd_ns_rx, 0);
	assert_int_equal(stats(&f)->nd_learned, 0);
	assert_int_equal(netfix_capture(&f), 0);
	netfix_teardown(&f);
}

static void small_queue(struct usn_stack_config *cfg)
{
	cfg->arp_queue_len = 4;
	cfg->arp_retries = 3;
	cfg->arp_retry_ms = 1000;
	cfg->arp_timeout_ms = 10000;
}

static void test_resolution_and_na_learned(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, false, small_queue);
	drain(&f);
	assert_int_equal(send_echo(f.w, netfix6_raw_ip, 1), 0);
	usn_worker_flush(f.w);
	/* A multicast NS to the raw address's solicited-node group, with our
	 * link-layer address. */
	uint8_t sn[16], gm[6];
	netfix6_snm(netfix6_raw_ip, sn);
	netfix6_group_mac(sn, gm);
	size_t n = netfix6_nd_frame(want, gm, netfix_stack_mac, netfix6_stack_ip, sn, 255, 135, 0, netfix6_raw_ip,
				    netfix_stack_mac);
	assert_int_equal(netfix_wait_frame(&f, 0), n);
	expect_frame(&f, want, n);
	/* An unsolicited NA for a neighbour nobody asked about: not learned. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, mac_all_nodes, other_mac, netfix6_raw_ll, netfix6_all_nodes, 255,
					       136, 0x20, netfix6_raw_ll, other_mac));
	assert_int_equal(stats(&f)->nd_learned, 0);
	/* A solicited NA from the raw port: learned, the echo goes out. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip, netfix6_stack_ip,
					       255, 136, 0x60, netfix6_raw_ip, netfix_raw_mac));
	assert_int_equal(stats(&f)->nd_na_rx, 2);
	assert_int_equal(stats(&f)->nd_learned, 1);
	assert_int_equal(netfix_capture(&f), 14 + 40 + 12);
	assert_memory_equal(f.cap, netfix_raw_mac, 6);
	assert_int_equal(f.cap[14 + 40], 128);
	/* An NA with hop limit 64 changes nothing. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, netfix_stack_mac, other_mac, netfix6_raw_ip, netfix6_stack_ip, 64,
					       136, 0x20, netfix6_raw_ip, other_mac));
	assert_int_equal(stats(&f)->drop_nd_hop_limit, 1);
	uint8_t mac[6];
	assert_true(usn_nd_lookup(f.w, netfix6_raw_ip, mac));
	assert_memory_equal(mac, netfix_raw_mac, 6);
	/* Solicited towards a group: invalid (RFC 4861 7.1.2). */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, mac_all_nodes, other_mac, netfix6_raw_ip, netfix6_all_nodes, 255,
					       136, 0x60, netfix6_raw_ip, other_mac));
	assert_int_equal(stats(&f)->drop_nd_invalid, 1);
	/* Override from a source off the link (2001:2:0:1::2): the entry
	 * stays where it is. */
	uint8_t off_link[16];
	memcpy(off_link, netfix6_raw_ip, 16);
	off_link[7] = 1;
	netfix_inject(&f, fr, netfix6_nd_frame(fr, netfix_stack_mac, other_mac, off_link, netfix6_stack_ip, 255, 136,
					       0x60, netfix6_raw_ip, other_mac));
	assert_int_equal(stats(&f)->drop_nd_src, 1);
	assert_true(usn_nd_lookup(f.w, netfix6_raw_ip, mac));
	assert_memory_equal(mac, netfix_raw_mac, 6);
	/* Override without Solicited from another MAC: the entry moves. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, mac_all_nodes, other_mac, netfix6_raw_ip, netfix6_all_nodes, 255,
					       136, 0x20, netfix6_raw_ip, other_mac));
	assert_true(usn_nd_lookup(f.w, netfix6_raw_ip, mac));
	assert_memory_equal(mac, other_mac, 6);
	netfix_teardown(&f);
}

static void test_wait_queue_bound_and_failure(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, false, small_queue);
	drain(&f);
	for (uint16_t i = 0; i < 6; i++)
		assert_int_equal(send_echo(f.w, netfix6_raw_ip, i), 0);
	usn_worker_flush(f.w);
	assert_int_equal(stats(&f)->drop_nd_queue_full, 2);
	assert_int_equal(stats(&f)->nd_ns_tx, 1);
	/* No answer: two more solicitations a second apart, then failure
	 * drops the four waiting frames. */
	simnet_run_for(&f.net, 3500000);
	assert_int_equal(netfix_drain(&f), 3);
	assert_int_equal(stats(&f)->nd_ns_tx, 3);
	assert_int_equal(stats(&f)->nd_failed, 1);
	assert_int_equal(stats(&f)->drop_nd_unresolved, 4);
	/* Off-link without a gateway: no route. */
	uint8_t far[16];
	memcpy(far, netfix6_raw_ip, 16);
	far[5] = 9;
	assert_int_equal(send_echo(f.w, far, 9), -EHOSTUNREACH);
	netfix_teardown(&f);
}

static void test_probe_and_expiry(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, false, small_queue);
	drain(&f);
	netfix_inject(&f, fr, ns_frame(fr, netfix6_stack_ip, 255));
	assert_int_equal(stats(&f)->nd_learned, 1);
	netfix_drain(&f);
	/* Past the reachable time (7.5 s of 10): the frame still goes to the
	 * cached MAC, and a unicast probe follows. */
	simnet_run_for(&f.net, 8000000);
	assert_int_equal(send_echo(f.w, netfix6_raw_ip, 1), 0);
	usn_worker_flush(f.w);
	assert_int_equal(netfix_capture(&f), 14 + 40 + 12);
	assert_memory_equal(f.cap, netfix_raw_mac, 6);
	size_t n = netfix6_nd_frame(want, netfix_raw_mac, netfix_stack_mac, netfix6_stack_ip, netfix6_raw_ip, 255, 135,
				    0, netfix6_raw_ip, netfix_stack_mac);
	assert_int_equal(netfix_capture(&f), n);
	expect_frame(&f, want, n);
	/* Unanswered probes remove the entry. */
	simnet_run_for(&f.net, 3500000);
	assert_int_equal(netfix_drain(&f), 2);
	assert_int_equal(stats(&f)->nd_failed, 1);
	uint8_t mac[6];
	assert_false(usn_nd_lookup(f.w, netfix6_raw_ip, mac));
	/* An entry nobody uses expires after its lifetime. */
	netfix_inject(&f, fr, ns_frame(fr, netfix6_stack_ip, 255));
	netfix_drain(&f);
	assert_true(usn_nd_lookup(f.w, netfix6_raw_ip, mac));
	simnet_run_for(&f.net, 10000000);
	assert_false(usn_nd_lookup(f.w, netfix6_raw_ip, mac));
	assert_int_equal(stats(&f)->nd_expired, 1);
	netfix_teardown(&f);
}

static void test_dad_clean(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, true, NULL);
	assert_int_equal(netfix_capture(&f), 60);
	/* RFC 4862 5.4.2: from ::, to the solicited-node group, no option. */
	static const uint8_t unspec[16];
	uint8_t sn[16], gm[6];
	netfix6_snm(netfix6_stack_ll, sn);
	netfix6_group_mac(sn, gm);
	size_t n = netfix6_nd_frame(want, gm, netfix_stack_mac, unspec, sn, 255, 135, 0, netfix6_stack_ll, NULL);
	assert_int_equal(netfix_capture(&f), n);
	expect_frame(&f, want, n);
	netfix6_snm(netfix6_stack_ip, sn);
	netfix6_group_mac(sn, gm);
	n = netfix6_nd_frame(want, gm, netfix_stack_mac, unspec, sn, 255, 135, 0, netfix6_stack_ip, NULL);
	assert_int_equal(netfix_capture(&f), n);
	expect_frame(&f, want, n);
	assert_int_equal(addr_state(&f, 1), USN_IPV6_TENTATIVE);
	/* Tentative: an NS for it is not answered, an echo to it neither. */
	netfix_inject(&f, fr, ns_frame(fr, netfix6_stack_ip, 255));
	netfix_inject(&f, fr, netfix6_echo_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip,
						 netfix6_stack_ip, 128, 1, 1, "x", 1));
	assert_int_equal(netfix_capture(&f), 0);
	/* A second later both are ours, and announced. */
	simnet_run_for(&f.net, 1000000);
	assert_int_equal(addr_state(&f, 0), USN_IPV6_PREFERRED);
	assert_int_equal(addr_state(&f, 1), USN_IPV6_PREFERRED);
	assert_int_equal(netfix_drain(&f), 2);
	assert_int_equal(stats(&f)->nd_unsolicited_na_tx, 2);
	assert_int_equal(stats(&f)->nd_dad_ns_tx, 2);
	netfix_teardown(&f);
}

static void test_dad_conflict(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, true, NULL);
	drain(&f);
	/* Someone answers for our tentative global address. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, mac_all_nodes, other_mac, netfix6_stack_ip, netfix6_all_nodes, 255,
					       136, 0x20, netfix6_stack_ip, other_mac));
	assert_int_equal(addr_state(&f, 1), USN_IPV6_DUPLICATE);
	assert_int_equal(stats(&f)->nd_dad_conflicts, 1);
	/* Someone else runs DAD for our tentative link-local address. */
	static const uint8_t unspec[16];
	uint8_t sn[16], gm[6];
	netfix6_snm(netfix6_stack_ll, sn);
	netfix6_group_mac(sn, gm);
	netfix_inject(&f, fr, netfix6_nd_frame(fr, gm, other_mac, unspec, sn, 255, 135, 0, netfix6_stack_ll, NULL));
	assert_int_equal(addr_state(&f, 0), USN_IPV6_DUPLICATE);
	assert_int_equal(stats(&f)->nd_dad_conflicts, 2);
	/* Neither becomes usable, nor is announced, nor answers. */
	simnet_run_for(&f.net, 2000000);
	assert_int_equal(addr_state(&f, 0), USN_IPV6_DUPLICATE);
	assert_int_equal(addr_state(&f, 1), USN_IPV6_DUPLICATE);
	assert_int_equal(stats(&f)->nd_unsolicited_na_tx, 0);
	netfix_inject(&f, fr, ns_frame(fr, netfix6_stack_ip, 255));
	netfix_inject(&f, fr, netfix6_echo_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip,
						 netfix6_stack_ip, 128, 1, 1, "x", 1));
	assert_int_equal(netfix_capture(&f), 0);
	uint8_t src[16];
	assert_int_equal(usn_ipv6_src_select(f.w, netfix6_raw_ip, src), -EADDRNOTAVAIL);
	netfix_teardown(&f);
}

static void test_echo_reply(void **state)
{
	(void)state;
	struct netfix f;
	setup6(&f, false, NULL);
	drain(&f);
	/* The raw port is known first, so the reply needs no resolution. */
	netfix_inject(&f, fr, ns_frame(fr, netfix6_stack_ip, 255));
	netfix_drain(&f);
	static const char data[] = "0123456789abcdefghij";
	size_t n = netfix6_echo_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip, netfix6_stack_ip, 128,
				      0x4242, 7, data, 20);
	netfix_inject(&f, fr, n);
	size_t m = netfix6_echo_frame(want, netfix_raw_mac, netfix_stack_mac, netfix6_stack_ip, netfix6_raw_ip, 129,
				      0x4242, 7, data, 20);
	assert_int_equal(netfix_capture(&f), m);
	expect_frame(&f, want, m);
	assert_int_equal(stats(&f)->icmp6_echo_rx, 1);
	assert_int_equal(stats(&f)->icmp6_echo_tx, 1);
	/* With a destination-options header before ICMPv6: copied, same reply. */
	memmove(fr + 62, fr + 54, n - 54);
	memset(fr + 54, 0, 8);
	fr[54] = 58;
	fr[56] = 1; /* PadN of 4 */
	fr[57] = 4;
	fr[20] = 60;
	fr[19] = (uint8_t)(fr[19] + 8);
	netfix_inject(&f, fr, n + 8);
	assert_int_equal(netfix_capture(&f), m);
	expect_frame(&f, want, m);
	/* A bad checksum: dropped and counted. */
	n = netfix6_echo_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip, netfix6_stack_ip, 128, 1, 1, data,
			       20);
	fr[n - 1] ^= 0x40;
	netfix_inject(&f, fr, n);
	assert_int_equal(stats(&f)->drop_icmp6_csum, 1);
	/* Another type: counted. */
	n = netfix6_echo_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip, netfix6_stack_ip, 129, 1, 1, data,
			       20);
	netfix_inject(&f, fr, n);
	assert_int_equal(stats(&f)->drop_icmp6_type, 1);
	/* A fragment: counted and dropped. */
	n = netfix6_echo_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip, netfix6_stack_ip, 128, 1, 1, data,
			       20);
	memmove(fr + 62, fr + 54, n - 54);
	memset(fr + 54, 0, 8);
	fr[54] = 58;
	fr[57] = 1; /* M */
	fr[20] = 44;
	fr[19] = (uint8_t)(fr[19] + 8);
	netfix_inject(&f, fr, n + 8);
	assert_int_equal(stats(&f)->drop_ip6_fragment, 1);
	/* To the link-local address from a link-local source. */
	netfix_inject(&f, fr, netfix6_nd_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ll, netfix6_stack_ll,
					       255, 135, 0, netfix6_stack_ll, netfix_raw_mac));
	netfix_drain(&f);
	n = netfix6_echo_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ll, netfix6_stack_ll, 128, 2, 3, data,
			       4);
	netfix_inject(&f, fr, n);
	m = netfix6_echo_frame(want, netfix_raw_mac, netfix_stack_mac, netfix6_stack_ll, netfix6_raw_ll, 129, 2, 3, data,
			       4);
	assert_int_equal(netfix_capture(&f), m);
	expect_frame(&f, want, m);
	assert_int_equal(stats(&f)->icmp6_echo_tx, 3);
	assert_int_equal(netfix_capture(&f), 0);
	netfix_teardown(&f);
}

static void test_ipv6_off_by_default(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	assert_int_equal(netfix_drain(&f), 1); /* ARP only */
	netfix_inject(&f, fr, ns_frame(fr, netfix6_stack_ip, 255));
	assert_int_equal(netfix_capture(&f), 0);
	/* As before IPv6: a group address nobody joined. */
	assert_int_equal(stats(&f)->drop_eth_not_for_us, 1);
	/* An IPv6 frame to the stack's own MAC: an ethertype it does not take. */
	netfix_inject(&f, fr, netfix6_echo_frame(fr, netfix_stack_mac, netfix_raw_mac, netfix6_raw_ip,
						 netfix6_stack_ip, 128, 1, 1, "x", 1));
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(stats(&f)->drop_eth_type, 1);
	netfix_teardown(&f);
}

static void test_config_check(void **state)
{
	(void)state;
	struct netfix f;
	netfix_setup(&f, NULL, NULL);
	struct usn_hal *hal = usn_sim_port_hal(f.host->port);
	struct usn_stack_config cfg;
	char msg[160];
	netfix6_config(&cfg, true);
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof msg), 0);
	cfg.ip6[0].addr[0] = 0xff;
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof msg), -EINVAL);
	assert_string_equal(msg, "ip6[0]: a multicast address");
	cfg.ip6[0].addr[0] = 0xfe;
	cfg.ip6[0].addr[1] = 0x80;
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof msg), -EINVAL);
	netfix6_config(&cfg, true);
	cfg.ip6[0].prefix_len = 129;
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof msg), -EINVAL);
	assert_string_equal(msg, "ip6[0]: prefix length 129 is not in 1..128");
	netfix6_config(&cfg, true);
	cfg.n_ip6 = 2;
	memcpy(cfg.ip6[1].addr, cfg.ip6[0].addr, 16);
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof msg), -EINVAL);
	assert_string_equal(msg, "ip6[1]: the same address as ip6[0]");
	netfix_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_announces),
		cmocka_unit_test(test_ns_answered_and_learned),
		cmocka_unit_test(test_ns_invalid_dropped),
		cmocka_unit_test(test_resolution_and_na_learned),
		cmocka_unit_test(test_wait_queue_bound_and_failure),
		cmocka_unit_test(test_probe_and_expiry),
		cmocka_unit_test(test_dad_clean),
		cmocka_unit_test(test_dad_conflict),
		cmocka_unit_test(test_echo_reply),
		cmocka_unit_test(test_ipv6_off_by_default),
		cmocka_unit_test(test_config_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
