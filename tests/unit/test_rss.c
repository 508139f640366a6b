/* Unit tests for lib/core/rss.c: the Toeplitz core against the Microsoft RSS
 * verification vectors, the table-driven usn_rss_hash against the core, and
 * the symmetry both directions of a flow rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bufchain.h"
#include "core/rss.h"
#include "usnet/hal.h"

static const uint8_t MS_KEY[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
				   0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
				   0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
				   0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

static void put_tuple(uint8_t *in, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	const uint32_t w[2] = {src, dst};
	for (int i = 0; i < 2; i++) {
		in[4 * i] = (uint8_t)(w[i] >> 24);
		in[4 * i + 1] = (uint8_t)(w[i] >> 16);
		in[4 * i + 2] = (uint8_t)(w[i] >> 8);
		in[4 * i + 3] = (uint8_t)w[i];
	}
	in[8] = (uint8_t)(sport >> 8);
	in[9] = (uint8_t)sport;
	in[10] = (uint8_t)(dport >> 8);
	in[11] = (uint8_t)dport;
}

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static void test_toeplitz_ms_vectors(void **state)
{
	(void)state;
	/* Microsoft "Verifying the RSS Hash Calculation": IPv4 and IPv4/TCP. */
	static const struct {
		uint32_t src, dst;
		uint16_t sport, dport;
		uint32_t ip_only, with_tcp;
	} v[] = {
	    {IP4(66, 9, 149, 187), IP4(161, 142, 100, 80), 2794, 1766, 0x323e8fc2, 0x51ccc178},
	    {IP4(199, 92, 111, 2), IP4(65, 69, 140, 83), 14230, 4739, 0xd718262a, 0xc626b0ea},
	    {IP4(24, 19, 198, 95), IP4(12, 22, 207, 184), 12898, 38024, 0xd2d0a5de, 0x5c2b394a},
	    {IP4(38, 27, 205, 30), IP4(209, 142, 163, 6), 48228, 2217, 0x82989176, 0xafc7327f},
	    {IP4(153, 39, 163, 191), IP4(202, 188, 127, 2), 44251, 1303, 0x5d1809c5, 0x10e828a2},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t in[12];
		put_tuple(in, v[i].src, v[i].dst, v[i].sport, v[i].dport);
		assert_int_equal(usn_toeplitz(MS_KEY, sizeof(MS_KEY), in, 8), v[i].ip_only);
		assert_int_equal(usn_toeplitz(MS_KEY, sizeof(MS_KEY), in, 12), v[i].with_tcp);
	}
}

static void test_rss_hash_is_toeplitz_with_symmetric_key(void **state)
{
	(void)state;
	uint8_t key[40];
	for (int i = 0; i < 40; i += 2) {
		key[i] = 0x6d;
		key[i + 1] = 0x5a;
	}
	uint32_t seed = 31337;
	for (int i = 0; i < 20000; i++) {
		uint32_t a = bufchain_rand(&seed), b = bufchain_rand(&seed);
		uint16_t pa = (uint16_t)bufchain_rand(&seed), pb = (uint16_t)bufchain_rand(&seed);
		uint8_t in[12];
		put_tuple(in, a, b, pa, pb);
		assert_int_equal(usn_rss_hash(a, b, pa, pb), usn_toeplitz(key, sizeof(key), in, 12));
	}
	/* every single input bit, so each table entry is reached */
	for (int bit = 0; bit < 96; bit++) {
		uint8_t in[12] = {0};
		in[bit / 8] = (uint8_t)(0x80 >> (bit % 8));
		uint32_t a =
		    ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3];
		uint32_t b =
		    ((uint32_t)in[4] << 24) | ((uint32_t)in[5] << 16) | ((uint32_t)in[6] << 8) | in[7];
		uint16_t pa = (uint16_t)((in[8] << 8) | in[9]), pb = (uint16_t)((in[10] << 8) | in[11]);
		assert_int_equal(usn_rss_hash(a, b, pa, pb), usn_toeplitz(key, sizeof(key), in, 12));
	}
	assert_int_equal(usn_rss_hash(0, 0, 0, 0), 0);
}

static void test_rss_symmetric(void **state)
{
	(void)state;
	uint32_t seed = 4711;
	unsigned differ = 0;
	uint32_t prev = 0;
	for (int i = 0; i < 100000; i++) {
		uint32_t a = bufchain_rand(&seed), b = bufchain_rand(&seed);
		uint16_t pa = (uint16_t)bufchain_rand(&seed), pb = (uint16_t)bufchain_rand(&seed);
		uint32_t h = usn_rss_hash(a, b, pa, pb);
		assert_int_equal(h, usn_rss_hash(b, a, pb, pa));
		differ += h != prev;
		prev = h;
	}
	assert_true(differ > 99000); /* not a constant */
}

static void test_rss_spreads_ports(void **state)
{
	(void)state;
	/* One client, one server, ports 1024..2047: every queue of 4 gets some. */
	unsigned per_queue[4] = {0};
	for (uint16_t p = 1024; p < 2048; p++)
		per_queue[usn_rss_queue(usn_rss_hash(IP4(198, 18, 0, 1), IP4(198, 18, 0, 2), p, 80), 4)]++;
	for (int q = 0; q < 4; q++)
		assert_true(per_queue[q] > 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_toeplitz_ms_vectors),
	    cmocka_unit_test(test_rss_hash_is_toeplitz_with_symmetric_key),
	    cmocka_unit_test(test_rss_symmetric),
	    cmocka_unit_test(test_rss_spreads_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
