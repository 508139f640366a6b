/* Unit tests for lib/core/rss.c: the Toeplitz core against the Microsoft RSS
 * verification vectors, usn_rss_hash against the core for random keys, the
 * symmetry both directions of a flow rely on, the key check, and that ports
 * started with different keys steer flows differently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdbool.h>

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

/* Random acceptable keys, as a port draws them at start. */
static uint16_t next_key(uint32_t *seed)
{
	uint64_t r = (uint64_t)bufchain_rand(seed) << 32 | bufchain_rand(seed);
	return usn_rss_key_from(r);
}

static void test_rss_hash_is_toeplitz_with_symmetric_key(void **state)
{
	(void)state;
	uint32_t seed = 31337;
	for (int k = 0; k < 40; k++) {
		/* the classic 0x6d5a first, then random periods, good or not */
		uint16_t key = k == 0 ? 0x6d5a : (uint16_t)bufchain_rand(&seed);
		uint8_t kb[40];
		usn_rss_key_expand(key, kb, sizeof(kb));
		assert_int_equal(kb[0], key >> 8);
		assert_int_equal(kb[39], key & 0xff);
		for (int i = 0; i < 2000; i++) {
			uint32_t a = bufchain_rand(&seed), b = bufchain_rand(&seed);
			uint16_t pa = (uint16_t)bufchain_rand(&seed), pb = (uint16_t)bufchain_rand(&seed);
			uint8_t in[12];
			put_tuple(in, a, b, pa, pb);
			assert_int_equal(usn_rss_hash(key, a, b, pa, pb), usn_toeplitz(kb, sizeof(kb), in, 12));
		}
		/* every single input bit */
		for (int bit = 0; bit < 96; bit++) {
			uint8_t in[12] = {0};
			in[bit / 8] = (uint8_t)(0x80 >> (bit % 8));
			uint32_t a =
			    ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3];
			uint32_t b =
			    ((uint32_t)in[4] << 24) | ((uint32_t)in[5] << 16) | ((uint32_t)in[6] << 8) | in[7];
			uint16_t pa = (uint16_t)((in[8] << 8) | in[9]), pb = (uint16_t)((in[10] << 8) | in[11]);
			assert_int_equal(usn_rss_hash(key, a, b, pa, pb), usn_toeplitz(kb, sizeof(kb), in, 12));
		}
		assert_int_equal(usn_rss_hash(key, 0, 0, 0, 0), 0);
	}
}

static void test_rss_symmetric_for_random_keys(void **state)
{
	(void)state;
	uint32_t seed = 4711;
	for (int k = 0; k < 64; k++) {
		uint16_t key = next_key(&seed);
		unsigned differ = 0;
		uint32_t prev = 0;
		for (int i = 0; i < 5000; i++) {
			uint32_t a = bufchain_rand(&seed), b = bufchain_rand(&seed);
			uint16_t pa = (uint16_t)bufchain_rand(&seed), pb = (uint16_t)bufchain_rand(&seed);
			uint32_t h = usn_rss_hash(key, a, b, pa, pb);
			assert_int_equal(h, usn_rss_hash(key, b, a, pb, pa));
			differ += h != prev;
			prev = h;
		}
		assert_true(differ > 4900); /* not a constant */
	}
}

/* One client, one server, ports 1024..2047: every queue of 4 gets exactly
 * its share under every acceptable key; 128 consecutive ports reach at
 * least 64 table entries; the 128 clients of a /25 on one port spread
 * evenly over 8 queues. */
static void test_rss_spreads_ports(void **state)
{
	(void)state;
	uint32_t seed = 99;
	for (int k = 0; k < 200; k++) {
		uint16_t key = k == 0 ? 0x6d5a : next_key(&seed);
		assert_true(usn_rss_key_ok(key));
		unsigned per_queue[4] = {0};
		for (uint16_t p = 1024; p < 2048; p++)
			per_queue[usn_rss_queue(usn_rss_hash(key, IP4(198, 18, 0, 1), IP4(198, 18, 0, 2), p, 80), 4)]++;
		for (int q = 0; q < 4; q++)
			assert_int_equal(per_queue[q], 256);
		bool seen[128] = {false};
		unsigned distinct = 0;
		for (uint16_t p = 40000; p < 40128; p++) {
			uint32_t e = usn_rss_hash(key, IP4(198, 18, 0, 1), IP4(198, 18, 0, 2), p, 80) & 127u;
			distinct += !seen[e];
			seen[e] = true;
		}
		assert_true(distinct >= 64);
		unsigned per8[8] = {0};
		for (uint32_t h = 0; h < 128; h++)
			per8[usn_rss_queue(usn_rss_hash(key, IP4(198, 18, 1, 128 + h), IP4(198, 18, 0, 2), 5555, 80), 8)]++;
		for (int q = 0; q < 8; q++)
			assert_int_equal(per8[q], 16);
	}
}

/* The check rejects keys that lose bits or ignore the low bits ports vary
 * in, and accepts 13% of the 65,536 periods (the entropy a start draws
 * from: log2(8,515) = 13.1 bits). */
static void test_rss_key_check(void **state)
{
	(void)state;
	assert_false(usn_rss_key_ok(0x0000));
	assert_false(usn_rss_key_ok(0xffff));
	assert_false(usn_rss_key_ok(0x0001)); /* low port bits to high hash bits */
	assert_false(usn_rss_key_ok(0x6d5b)); /* even weight */
	assert_true(usn_rss_key_ok(0x6d5a));
	unsigned n = 0;
	for (uint32_t k = 0; k < 65536; k++)
		n += usn_rss_key_ok((uint16_t)k);
	assert_int_equal(n, 8515);
	/* usn_rss_key_from always answers an acceptable key, and many of them */
	uint32_t seed = 5;
	static bool seen[65536];
	unsigned distinct = 0;
	for (int i = 0; i < 2000; i++) {
		uint16_t key = next_key(&seed);
		assert_true(usn_rss_key_ok(key));
		distinct += !seen[key];
		seen[key] = true;
	}
	assert_true(distinct > 1700); /* 2000 draws from 8,515 keys: about 1,790 distinct */
}

/* Two ports started with different keys steer a given flow to the same
 * queue (of 4) only by chance: about a quarter of the flows for a typical
 * pair of keys, never most of them. With one fixed key, as before, every
 * flow went to the same queue on every start. */
static void test_rss_keys_steer_differently(void **state)
{
	(void)state;
	uint32_t seed = 2024;
	unsigned pairs = 0, same_total = 0, flows_total = 0;
	for (int k = 0; k < 100; k++) {
		uint16_t k1 = next_key(&seed), k2 = next_key(&seed);
		if (k1 == k2)
			continue;
		pairs++;
		unsigned same = 0;
		for (int i = 0; i < 1000; i++) {
			uint32_t a = bufchain_rand(&seed);
			uint16_t pa = (uint16_t)bufchain_rand(&seed);
			same += usn_rss_queue(usn_rss_hash(k1, a, IP4(198, 18, 0, 2), pa, 80), 4) ==
				usn_rss_queue(usn_rss_hash(k2, a, IP4(198, 18, 0, 2), pa, 80), 4);
		}
		assert_true(same < 600); /* at most half, by linearity, plus noise */
		same_total += same;
		flows_total += 1000;
	}
	assert_true(pairs > 90);
	assert_true(same_total * 100 < flows_total * 32); /* about 25% on average */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_toeplitz_ms_vectors),
	    cmocka_unit_test(test_rss_hash_is_toeplitz_with_symmetric_key),
	    cmocka_unit_test(test_rss_symmetric_for_random_keys),
	    cmocka_unit_test(test_rss_spreads_ports),
	    cmocka_unit_test(test_rss_key_check),
	    cmocka_unit_test(test_rss_keys_steer_differently),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
