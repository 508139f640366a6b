/* Unit tests for lib/wire/ipv6.c and lib/wire/icmp6.c: the fixed header,
 * the extension-header walk at and beyond its limits, fragments, lengths,
 * ICMPv6 checksums over the pseudo-header, ND options, and the IPv6 RSS
 * hash. Packets are built here by hand (netfix6), parsed flat and split
 * over buffer chains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bufchain.h"
#include "core/rss.h"
#include "netfix.h"
#include "netfix6.h"
#include "usnet/csum.h"
#include "wire/wire.h"

static uint8_t pkt[4096];

/* Parses pkt[0..len) whole and split into 7-byte buffers: both must agree. */
static enum usn_ipv6_err parse(size_t len, struct usn_ipv6_repr *r)
{
	struct usn_buf *flat = bufchain_new(pkt, len, NULL, 0);
	enum usn_ipv6_err e = usn_ipv6_parse(usn_cursor_of_frame(flat), r);
	bufchain_free(flat);
	size_t sizes[] = {7};
	struct usn_buf *ch = bufchain_new(pkt, len, sizes, 1);
	struct usn_ipv6_repr r2;
	enum usn_ipv6_err e2 = usn_ipv6_parse(usn_cursor_of_frame(ch), &r2);
	bufchain_free(ch);
	assert_int_equal(e, e2);
	if (e == USN_IPV6_OK) {
		assert_int_equal(r->hdr_len, r2.hdr_len);
		assert_int_equal(r->next_header, r2.next_header);
		assert_int_equal(r->fragment, r2.fragment);
	}
	return e;
}

/* An extension header of 8 * (units + 1) bytes at p: next header nh, then
 * PadN filling the rest. Returns its length. */
static size_t ext_opts(uint8_t *p, uint8_t nh, uint8_t units)
{
	size_t len = 8u * (units + 1u);
	memset(p, 0, len);
	p[0] = nh;
	p[1] = units;
	p[2] = 1; /* PadN */
	p[3] = (uint8_t)(len - 4);
	return len;
}

/* A packet: fixed header (next header first_nh), ext bytes already at
 * pkt + 40 (ext_len of them), then 20 bytes of upper layer. */
static size_t finish(uint8_t first_nh, size_t ext_len)
{
	memset(pkt + 40 + ext_len, 0xab, 20);
	netfix6_ip(pkt, netfix6_raw_ip, netfix6_stack_ip, first_nh, (uint16_t)(ext_len + 20), 64);
	return 40 + ext_len + 20;
}

static void test_fixed_header(void **state)
{
	(void)state;
	struct usn_ipv6_repr r;
	size_t len = finish(6, 0);
	pkt[1] = 0xa5; /* traffic class low nibble 0xa, flow label 0x5.... */
	pkt[2] = 0x43;
	pkt[3] = 0x21;
	assert_int_equal(parse(len, &r), USN_IPV6_OK);
	assert_int_equal(r.next_header, 6);
	assert_int_equal(r.hdr_len, 40);
	assert_int_equal(r.payload_len, 20);
	assert_int_equal(r.hop_limit, 64);
	assert_int_equal(r.flow_label, 0x54321);
	assert_int_equal(r.tclass, 0x0a);
	assert_int_equal(r.n_ext, 0);
	assert_false(r.fragment);
	assert_memory_equal(r.src, netfix6_raw_ip, 16);
	assert_memory_equal(r.dst, netfix6_stack_ip, 16);
	/* Emit writes the same header back. */
	uint8_t out[40];
	usn_ipv6_emit(&r, out);
	assert_memory_equal(out, pkt, 40);
}

static void test_lengths(void **state)
{
	(void)state;
	struct usn_ipv6_repr r;
	size_t len = finish(6, 0);
	assert_int_equal(parse(39, &r), USN_IPV6_SHORT);
	/* Payload length one past the bytes present. */
	pkt[5] = 21;
	assert_int_equal(parse(len, &r), USN_IPV6_LEN);
	/* Ethernet padding after the payload is fine. */
	pkt[5] = 10;
	assert_int_equal(parse(len, &r), USN_IPV6_OK);
	assert_int_equal(r.payload_len, 10);
	pkt[0] = 0x40;
	assert_int_equal(parse(len, &r), USN_IPV6_VERSION);
}

static void test_chain_walked(void **state)
{
	(void)state;
	struct usn_ipv6_repr r;
	/* Hop-by-hop, destination options, routing (no segments left), an
	 * atomic fragment, then TCP. */
	size_t off = 40;
	off += ext_opts(pkt + off, 60, 0);
	off += ext_opts(pkt + off, 43, 1);
	memset(pkt + off, 0, 8);
	pkt[off] = 44; /* routing type 4, segments left 0 */
	pkt[off + 2] = 4;
	off += 8;
	memset(pkt + off, 0, 8);
	pkt[off] = 6; /* fragment: offset 0, M 0 */
	off += 8;
	size_t len = finish(0, off - 40);
	assert_int_equal(parse(len, &r), USN_IPV6_OK);
	assert_int_equal(r.next_header, 6);
	assert_int_equal(r.n_ext, 4);
	assert_int_equal(r.hdr_len, off);
	assert_false(r.fragment);
}

static void test_chain_count_limit(void **state)
{
	(void)state;
	struct usn_ipv6_repr r;
	for (unsigned n = 1; n <= 9; n++) {
		size_t off = 40;
		for (unsigned i = 0; i < n; i++)
			off += ext_opts(pkt + off, i + 1 == n ? 6 : 60, 0);
		size_t len = finish(60, off - 40);
		if (n <= 8) { /* the limit, USN_IPV6_MAX_EXT_HDRS */
			assert_int_equal(parse(len, &r), USN_IPV6_OK);
			assert_int_equal(r.n_ext, n);
			assert_int_equal(r.hdr_len, off);
		} else {
			assert_int_equal(parse(len, &r), USN_IPV6_EXT_LIMIT);
		}
	}
}

static void test_chain_byte_limit(void **state)
{
	(void)state;
	struct usn_ipv6_repr r;
	/* 504 + 8 = 512 bytes of extension headers: at the limit. */
	size_t off = 40;
	off += ext_opts(pkt + off, 60, 62);
	off += ext_opts(pkt + off, 6, 0);
	assert_int_equal(off - 40, USN_IPV6_MAX_EXT_BYTES);
	assert_int_equal(parse(finish(0, off - 40), &r), USN_IPV6_OK);
	assert_int_equal(r.hdr_len, 40 + USN_IPV6_MAX_EXT_BYTES);
	/* Eight bytes more: beyond it. */
	off = 40;
	off += ext_opts(pkt + off, 60, 62);
	off += ext_opts(pkt + off, 6, 1);
	assert_int_equal(parse(finish(0, off - 40), &r), USN_IPV6_EXT_LIMIT);
	/* One header of 2048 bytes (length 255). */
	off = 40 + ext_opts(pkt + 40, 6, 255);
	assert_int_equal(parse(finish(0, off - 40), &r), USN_IPV6_EXT_LIMIT);
}

static void test_chain_malformed(void **state)
{
	(void)state;
	struct usn_ipv6_repr r;
	/* Hop-by-hop after another header. */
	size_t off = 40;
	off += ext_opts(pkt + off, 0, 0);
	off += ext_opts(pkt + off, 6, 0);
	assert_int_equal(parse(finish(60, off - 40), &r), USN_IPV6_EXT_MALFORMED);
	/* A header longer than the payload. */
	off = 40 + ext_opts(pkt + 40, 6, 4); /* 40 bytes */
	size_t len = finish(60, off - 40);
	pkt[5] = 32; /* payload 32: the header runs past it */
	assert_int_equal(parse(len, &r), USN_IPV6_EXT_MALFORMED);
	/* Payload shorter than a header's first 8 bytes. */
	len = finish(60, 0);
	pkt[5] = 4;
	assert_int_equal(parse(len, &r), USN_IPV6_EXT_MALFORMED);
	/* An option running past its header. */
	off = 40 + ext_opts(pkt + 40, 6, 0);
	pkt[40 + 3] = 5; /* PadN of 2 + 5 bytes in 6 */
	assert_int_equal(parse(finish(60, off - 40), &r), USN_IPV6_EXT_MALFORMED);
}

static void test_options_and_unwalked(void **state)
{
	(void)state;
	struct usn_ipv6_repr r;
	/* An unknown option whose type says skip (00xxxxxx) passes; one that
	 * says discard (01, 10, 11) ends the packet. */
	static const uint8_t types[] = {0x1e, 0x5e, 0x9e, 0xde, 0xc2 /* jumbo */};
	for (size_t i = 0; i < sizeof types; i++) {
		size_t off = 40 + ext_opts(pkt + 40, 6, 0);
		pkt[42] = types[i];
		assert_int_equal(parse(finish(0, off - 40), &r), i == 0 ? USN_IPV6_OK : USN_IPV6_EXT_UNKNOWN);
	}
	/* Pad1 runs. */
	size_t off = 40 + ext_opts(pkt + 40, 6, 0);
	memset(pkt + 42, 0, 6);
	assert_int_equal(parse(finish(60, off - 40), &r), USN_IPV6_OK);
	/* A routing header with segments left: a host does not forward. */
	memset(pkt + 40, 0, 8);
	pkt[40] = 6;
	pkt[43] = 1;
	assert_int_equal(parse(finish(43, 8), &r), USN_IPV6_EXT_UNKNOWN);
	/* AH and ESP are not walked (nor taken for an upper layer). */
	assert_int_equal(parse(finish(51, 0), &r), USN_IPV6_EXT_UNKNOWN);
	assert_int_equal(parse(finish(50, 0), &r), USN_IPV6_EXT_UNKNOWN);
	/* An upper layer nobody serves parses: the caller drops it. */
	assert_int_equal(parse(finish(17, 0), &r), USN_IPV6_OK);
	assert_int_equal(r.next_header, 17);
}

static void test_fragments(void **state)
{
	(void)state;
	struct usn_ipv6_repr r;
	/* First fragment (offset 0, M), a middle one, the last one. */
	static const uint16_t offm[] = {0x0001, 0x00b9, 0x0170};
	for (size_t i = 0; i < 3; i++) {
		memset(pkt + 40, 0, 8);
		pkt[40] = 58;
		pkt[42] = (uint8_t)(offm[i] >> 8);
		pkt[43] = (uint8_t)offm[i];
		assert_int_equal(parse(finish(44, 8), &r), USN_IPV6_OK);
		assert_true(r.fragment);
		assert_int_equal(r.next_header, 58);
		assert_int_equal(r.hdr_len, 48);
	}
}

static void test_icmp6_checksum(void **state)
{
	(void)state;
	uint8_t m[64];
	memset(m, 0, sizeof m);
	m[0] = 128;
	m[4] = 0x12;
	m[5] = 0x34;
	m[7] = 9;
	memcpy(m + 8, "hello v6", 8);
	netfix6_icmp_csum(m, 16, netfix6_raw_ip, netfix6_stack_ip);
	struct usn_buf *b = bufchain_new(m, 16, NULL, 0);
	struct usn_icmp6_repr r;
	assert_int_equal(usn_icmp6_parse(usn_cursor_of_frame(b), netfix6_raw_ip, netfix6_stack_ip, &r), USN_WIRE_OK);
	assert_int_equal(r.type, 128);
	assert_int_equal(r.ident, 0x1234);
	assert_int_equal(r.seq, 9);
	/* The pseudo-header counts: other addresses, a bad sum. */
	assert_int_equal(usn_icmp6_parse(usn_cursor_of_frame(b), netfix6_raw_ip, netfix6_stack_ll, &r),
			 USN_WIRE_CSUM);
	bufchain_free(b);
	/* Echo emit agrees with the independent sum. */
	uint8_t out[16];
	memcpy(out, m, 16);
	struct usn_icmp6_repr er = {.type = 128, .ident = 0x1234, .seq = 9};
	usn_icmp6_echo_emit(&er, out, netfix6_raw_ip, netfix6_stack_ip, 16, usn_csum_partial(m + 8, 8, 0));
	assert_memory_equal(out, m, 16);
	/* Too short for echo. */
	b = bufchain_new(m, 6, NULL, 0);
	assert_int_not_equal(usn_icmp6_parse(usn_cursor_of_frame(b), netfix6_raw_ip, netfix6_stack_ip, &r),
			     USN_WIRE_OK);
	bufchain_free(b);
}

static enum usn_wire_err nd_parse(const uint8_t *m, size_t len, struct usn_nd_repr *r)
{
	size_t sizes[] = {5};
	struct usn_buf *b = bufchain_new(m, len, sizes, 1);
	enum usn_wire_err e = usn_nd_parse(usn_cursor_of_frame(b), r);
	bufchain_free(b);
	return e;
}

static void test_nd_options(void **state)
{
	(void)state;
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 9};
	uint8_t m[64];
	struct usn_nd_repr r;
	size_t n = netfix6_nd(m, 135, 0, netfix6_stack_ip, mac, netfix6_raw_ip, netfix6_stack_ip);
	assert_int_equal(nd_parse(m, n, &r), USN_WIRE_OK);
	assert_true(r.has_lla);
	assert_memory_equal(r.lla, mac, 6);
	assert_memory_equal(r.target, netfix6_stack_ip, 16);
	/* Emit writes the same message. */
	uint8_t out[64];
	assert_int_equal(usn_nd_emit(&r, out, netfix6_raw_ip, netfix6_stack_ip), n);
	assert_memory_equal(out, m, n);
	/* A target option in an NS is ignored, not taken. */
	m[24] = 2;
	assert_int_equal(nd_parse(m, n, &r), USN_WIRE_OK);
	assert_false(r.has_lla);
	m[24] = 1;
	/* Length 0 (RFC 4861 4.6: invalid). */
	m[25] = 0;
	assert_int_equal(nd_parse(m, n, &r), USN_WIRE_BADOPT);
	/* Past the end. */
	m[25] = 2;
	assert_int_equal(nd_parse(m, n, &r), USN_WIRE_BADOPT);
	/* A link-layer option of 16 bytes is not Ethernet's. */
	memset(m + n, 0, 8);
	assert_int_equal(nd_parse(m, n + 8, &r), USN_WIRE_BADOPT);
	/* Short. */
	assert_int_equal(nd_parse(m, 23, &r), USN_WIRE_SHORT);
	/* NA flags. */
	n = netfix6_nd(m, 136, 0xe0, netfix6_raw_ip, mac, netfix6_raw_ip, netfix6_stack_ip);
	assert_int_equal(nd_parse(m, n, &r), USN_WIRE_OK);
	assert_int_equal(r.flags, 0xe0);
	assert_true(r.has_lla);
}

static void test_addresses(void **state)
{
	(void)state;
	uint8_t sn[16], want[16], mac[6];
	usn_ipv6_solicited_node(netfix6_stack_ll, sn);
	netfix6_snm(netfix6_stack_ll, want);
	assert_memory_equal(sn, want, 16);
	usn_ipv6_mcast_mac(sn, mac);
	static const uint8_t want_mac[6] = {0x33, 0x33, 0xff, 0x12, 0x00, 0x01};
	assert_memory_equal(mac, want_mac, 6);
	assert_true(usn_ipv6_prefix_eq(netfix6_stack_ip, netfix6_raw_ip, 64));
	assert_true(usn_ipv6_prefix_eq(netfix6_stack_ip, netfix6_raw_ip, 126));
	assert_false(usn_ipv6_prefix_eq(netfix6_stack_ip, netfix6_raw_ip, 127));
	assert_true(usn_ipv6_is_link_local(netfix6_raw_ll));
	assert_false(usn_ipv6_is_link_local(netfix6_raw_ip));
	/* The pseudo-header sum against the independent one. */
	uint8_t m[8] = {128, 0, 0, 0, 0, 1, 0, 1};
	netfix6_icmp_csum(m, 8, netfix6_raw_ip, netfix6_stack_ip);
	uint32_t s = usn_csum_add(usn_csum_partial(m, 8, 0), usn_csum_pseudo6(netfix6_raw_ip, netfix6_stack_ip, 58, 8));
	assert_int_equal(usn_csum_fold(s), 0xffff);
}

static void test_rss_hash6(void **state)
{
	(void)state;
	/* The Toeplitz hash of the 36-byte tuple under the expanded key, and
	 * symmetric in the two endpoints, for several keys. */
	static const uint16_t keys[] = {0x6d5a, 0x1234, 0xbeef};
	uint8_t key[40], in[36];
	for (size_t k = 0; k < 3; k++) {
		usn_rss_key_expand(keys[k], key, sizeof key);
		memcpy(in, netfix6_raw_ip, 16);
		memcpy(in + 16, netfix6_stack_ll, 16);
		in[32] = 0xc3;
		in[33] = 0x50;
		in[34] = 0x00;
		in[35] = 0x50;
		uint32_t want = usn_toeplitz(key, sizeof key, in, sizeof in);
		assert_int_equal(usn_rss_hash6(keys[k], netfix6_raw_ip, netfix6_stack_ll, 0xc350, 80), want);
		assert_int_equal(usn_rss_hash6(keys[k], netfix6_stack_ll, netfix6_raw_ip, 80, 0xc350), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_header),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_chain_walked),
		cmocka_unit_test(test_chain_count_limit),
		cmocka_unit_test(test_chain_byte_limit),
		cmocka_unit_test(test_chain_malformed),
		cmocka_unit_test(test_options_and_unwalked),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_icmp6_checksum),
		cmocka_unit_test(test_nd_options),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_rss_hash6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
