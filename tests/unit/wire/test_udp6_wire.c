/* Unit tests for UDP over IPv6 and ICMPv6 errors on the wire
 * (lib/wire/udp.c, lib/wire/icmp6.c): emit checked against a builder
 * written apart from lib/wire (netfix6), parse of every bad input with its
 * own result (a zero checksum, a bad one, short, a length beyond the
 * payload), errors quoting a TCP segment parsed field by field, flat and
 * split over buffer chains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bufchain.h"
#include "netfix.h"
#include "netfix6.h"
#include "usnet/csum.h"
#include "wire/wire.h"

static const uint8_t a6[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x02};
static const uint8_t b6[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x01};
static const uint8_t c6[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x03};

/* Parses d[0..n) flat and split into 3-byte buffers: both must agree. */
static enum usn_wire_err parse6(const uint8_t *d, size_t n, const uint8_t *src, const uint8_t *dst, bool csum_ok,
				struct usn_udp_repr *r)
{
	struct usn_buf *flat = bufchain_new(d, n, NULL, 0);
	enum usn_wire_err e = usn_udp_parse_ipv6(usn_cursor_of_frame(flat), src, dst, csum_ok, r);
	bufchain_free(flat);
	size_t sizes[] = {3};
	struct usn_buf *ch = bufchain_new(d, n, sizes, 1);
	struct usn_udp_repr r2;
	assert_int_equal(usn_udp_parse_ipv6(usn_cursor_of_frame(ch), src, dst, csum_ok, &r2), e);
	bufchain_free(ch);
	return e;
}

static void test_udp6_emit_matches_builder(void **state)
{
	(void)state;
	uint8_t data[200], mine[208], want[208];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(data); len += 13) {
		struct usn_udp_repr r = {.src_port = 7, .dst_port = 40000, .len = (uint16_t)(8 + len)};
		memcpy(mine + 8, data, len);
		usn_udp_emit_ipv6(&r, b6, a6, mine, usn_csum_partial(data, len, 0));
		size_t n = netfix6_udp(want, b6, a6, 7, 40000, data, len);
		assert_int_equal(n, 8 + len);
		assert_memory_equal(mine, want, n);
		/* And back, over random buffer splits. */
		uint32_t seed = (uint32_t)len + 5;
		struct usn_buf *ch = bufchain_new_random(want, n, 11, &seed);
		struct usn_udp_repr p;
		memset(&p, 0, sizeof(p));
		assert_int_equal(usn_udp_parse_ipv6(usn_cursor_of_frame(ch), b6, a6, false, &p), USN_WIRE_OK);
		assert_int_equal(p.src_port, 7);
		assert_int_equal(p.dst_port, 40000);
		assert_int_equal(p.len, 8 + len);
		bufchain_free(ch);
	}
}

static void test_udp6_zero_checksum_dropped(void **state)
{
	(void)state;
	uint8_t d[64];
	struct usn_udp_repr r;
	size_t n = netfix6_udp(d, a6, b6, 1000, 7, "hello", 5);
	assert_int_equal(parse6(d, n, a6, b6, false, &r), USN_WIRE_OK);
	/* RFC 8200 8.1: zero is no checksum, which IPv6 does not allow;
	 * refused even when the port says it verified the sum. */
	d[6] = d[7] = 0;
	assert_int_equal(parse6(d, n, a6, b6, false, &r), USN_WIRE_MALFORMED);
	assert_int_equal(parse6(d, n, a6, b6, true, &r), USN_WIRE_MALFORMED);
	/* A computed zero goes out as 0xffff and parses (found by search). */
	uint8_t p[10];
	struct usn_udp_repr w = {.src_port = 1, .dst_port = 2, .len = 10};
	int found = 0;
	for (uint32_t v = 0; v <= 0xffff; v++) {
		uint8_t data[2] = {(uint8_t)(v >> 8), (uint8_t)v};
		memcpy(p + 8, data, 2);
		usn_udp_emit_ipv6(&w, a6, b6, p, usn_csum_partial(data, 2, 0));
		assert_false(p[6] == 0 && p[7] == 0);
		if (p[6] == 0xff && p[7] == 0xff && !found) {
			found = 1;
			assert_int_equal(parse6(p, 10, a6, b6, false, &r), USN_WIRE_OK);
		}
	}
	assert_true(found);
}

static void test_udp6_bad_inputs(void **state)
{
	(void)state;
	uint8_t d[64], e[80];
	struct usn_udp_repr r;
	size_t n = netfix6_udp(d, a6, b6, 1000, 2000, "abcdefg", 7);
	/* Shorter than a header. */
	for (size_t k = 0; k < 8; k++)
		assert_int_equal(parse6(d, k, a6, b6, false, &r), USN_WIRE_SHORT);
	/* A length field under 8. */
	memcpy(e, d, n);
	e[4] = 0;
	e[5] = 7;
	assert_int_equal(parse6(e, n, a6, b6, true, &r), USN_WIRE_SHORT);
	/* A length field beyond the payload. */
	memcpy(e, d, n);
	e[5] = (uint8_t)(n + 1);
	assert_int_equal(parse6(e, n, a6, b6, true, &r), USN_WIRE_LEN);
	/* Every bit flipped: a wrong sum (the length bytes have their own
	 * errors; a checksum flipped to zero is the zero case). */
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(e, d, n);
		e[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (bit / 8 == 4 || bit / 8 == 5 || (e[6] | e[7]) == 0)
			continue;
		assert_int_equal(parse6(e, n, a6, b6, false, &r), USN_WIRE_CSUM);
		assert_int_equal(parse6(e, n, a6, b6, true, &r), USN_WIRE_OK);
	}
	/* The pseudo-header: the sum of other addresses is wrong. */
	assert_int_equal(parse6(d, n, a6, c6, false, &r), USN_WIRE_CSUM);
	assert_int_equal(parse6(d, n, c6, b6, false, &r), USN_WIRE_CSUM);
	/* Trailing bytes beyond the length field are not the datagram's. */
	memcpy(e, d, n);
	memset(e + n, 0x5a, 9);
	assert_int_equal(parse6(e, n + 9, a6, b6, false, &r), USN_WIRE_OK);
	assert_int_equal(r.len, n);
}

/* A quoted IPv6 packet: fixed header (next header nh, payload plen) and
 * the first bytes of a TCP header (ports, sequence number). Returns 48. */
static size_t quote_tcp(uint8_t *q, uint8_t nh, uint16_t plen)
{
	netfix6_ip(q, b6, a6, nh, plen, 64);
	static const uint8_t tcp[8] = {0x9c, 0x40, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78};
	memcpy(q + 40, tcp, 8);
	return 48;
}

static enum usn_wire_err err_parse(const uint8_t *d, size_t n, struct usn_icmp_err_repr *r)
{
	struct usn_buf *flat = bufchain_new(d, n, NULL, 0);
	enum usn_wire_err e = usn_icmp6_err_parse(usn_cursor_of_frame(flat), r);
	bufchain_free(flat);
	size_t sizes[] = {5};
	struct usn_buf *ch = bufchain_new(d, n, sizes, 1);
	struct usn_icmp_err_repr r2 = *r; /* the same padding bytes */
	assert_int_equal(usn_icmp6_err_parse(usn_cursor_of_frame(ch), &r2), e);
	if (e == USN_WIRE_OK)
		assert_memory_equal(r, &r2, sizeof(r2));
	bufchain_free(ch);
	return e;
}

static void test_icmp6_err_parse(void **state)
{
	(void)state;
	uint8_t q[128], m[256];
	struct usn_icmp_err_repr r;
	size_t ql = quote_tcp(q, 6, 1400);
	/* Packet too big: the MTU word, the quoted addresses, ports, seq. */
	size_t n = netfix6_icmp_err(m, 2, 0, 1400, q, ql, c6, b6);
	memset(&r, 0xee, sizeof(r));
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_OK);
	assert_int_equal(r.family, USN_AF_INET6);
	assert_int_equal(r.type, USN_ICMP6_PACKET_TOO_BIG);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.next_hop_mtu, 1400);
	assert_memory_equal(r.src6, b6, 16);
	assert_memory_equal(r.dst6, a6, 16);
	assert_int_equal(r.src_port, 40000);
	assert_int_equal(r.dst_port, 80);
	assert_int_equal(r.seq, 0x12345678);
	assert_int_equal(r.total_len, 1440);
	/* An MTU beyond 16 bits is clamped (a jumbogram path). */
	n = netfix6_icmp_err(m, 2, 0, 100000, q, ql, c6, b6);
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_OK);
	assert_int_equal(r.next_hop_mtu, 65535);
	/* Destination unreachable and time exceeded carry no MTU. */
	n = netfix6_icmp_err(m, 1, 4, 0x5555, q, ql, c6, b6);
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_OK);
	assert_int_equal(r.type, USN_ICMP6_DEST_UNREACH);
	assert_int_equal(r.code, 4);
	assert_int_equal(r.next_hop_mtu, 0);
	n = netfix6_icmp_err(m, 3, 0, 0, q, ql, c6, b6);
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_OK);
	assert_int_equal(r.type, USN_ICMP6_TIME_EXCEEDED);
	/* Another type: not an error this parser reads. */
	n = netfix6_icmp_err(m, 4, 0, 0, q, ql, c6, b6);
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_MALFORMED);
	/* A quote that is not IPv6, or not TCP (UDP, an extension header). */
	q[0] = 0x45;
	n = netfix6_icmp_err(m, 2, 0, 1280, q, ql, c6, b6);
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_VERSION);
	quote_tcp(q, 17, 100);
	n = netfix6_icmp_err(m, 2, 0, 1280, q, ql, c6, b6);
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_MALFORMED);
	quote_tcp(q, 0, 100);
	n = netfix6_icmp_err(m, 2, 0, 1280, q, ql, c6, b6);
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_MALFORMED);
	/* Short: every length below header, quoted header and 8 TCP bytes. */
	quote_tcp(q, 6, 100);
	n = netfix6_icmp_err(m, 2, 0, 1280, q, ql, c6, b6);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(err_parse(m, k, &r), USN_WIRE_SHORT);
	assert_int_equal(err_parse(m, n, &r), USN_WIRE_OK);
}

static void test_icmp6_error_emit(void **state)
{
	(void)state;
	uint8_t q[48], mine[56], want[56];
	size_t ql = quote_tcp(q, 17, 8);
	memcpy(mine + 8, q, ql);
	usn_icmp6_error_emit(1, 4, 0, mine, b6, a6, (uint32_t)(8 + ql), usn_csum_partial(q, ql, 0));
	size_t n = netfix6_icmp_err(want, 1, 4, 0, q, ql, b6, a6);
	assert_int_equal(n, 8 + ql);
	assert_memory_equal(mine, want, n);
	/* The word after the checksum (a packet too big's MTU). */
	usn_icmp6_error_emit(2, 0, 1280, mine, b6, a6, (uint32_t)(8 + ql), usn_csum_partial(q, ql, 0));
	netfix6_icmp_err(want, 2, 0, 1280, q, ql, b6, a6);
	assert_memory_equal(mine, want, n);
	/* And it checks as ICMPv6. */
	struct usn_buf *b = bufchain_new(mine, n, NULL, 0);
	struct usn_icmp6_repr r;
	assert_int_equal(usn_icmp6_parse(usn_cursor_of_frame(b), b6, a6, &r), USN_WIRE_OK);
	bufchain_free(b);
	/* Errors are the types under 128 (RFC 4443 2.1). */
	assert_true(usn_icmp6_type_is_error(1));
	assert_true(usn_icmp6_type_is_error(127));
	assert_false(usn_icmp6_type_is_error(128));
	assert_false(usn_icmp6_type_is_error(136));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_udp6_emit_matches_builder),
	    cmocka_unit_test(test_udp6_zero_checksum_dropped),
	    cmocka_unit_test(test_udp6_bad_inputs),
	    cmocka_unit_test(test_icmp6_err_parse),
	    cmocka_unit_test(test_icmp6_error_emit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
