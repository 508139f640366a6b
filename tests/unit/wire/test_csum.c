/* Unit tests for lib/wire/csum.c: the 64-bit accumulator, RFC 1624 update,
 * pseudo-header sum and prefix-sum tables against a byte-pair reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bufchain.h"
#include "usnet/csum.h"
#include "wire/csum_fixed.h"

/* RFC 1071 reference: big-endian byte pairs, odd tail padded, folded. */
static uint16_t ref_sum(const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	for (size_t i = 0; i < len; i += 2)
		s += ((uint32_t)p[i] << 8) | (i + 1 < len ? p[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)bufchain_rand(&seed);
}

static void test_partial_every_length_and_alignment(void **state)
{
	(void)state;
	enum { MAX = 2048, PAD = 16 };
	uint8_t *buf = malloc(MAX + PAD);
	assert_non_null(buf);
	fill_random(buf, MAX + PAD, 12345);
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= MAX; len++) {
			/* The unfolded return itself: with sum 0 it is the
			 * folded 16 bits, 0 only over all-zero bytes. */
			uint16_t want = ref_sum(buf + off, len);
			assert_int_equal(usn_csum_partial(buf + off, len, 0), want);
		}
	}
	free(buf);
}

static void test_partial_all_ones_carries(void **state)
{
	(void)state;
	/* 0xff everywhere drives every 64-bit add into the carry path. */
	enum { MAX = 2048 };
	uint8_t *buf = malloc(MAX + 8);
	assert_non_null(buf);
	memset(buf, 0xff, MAX + 8);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= MAX; len++)
			assert_int_equal(usn_csum_partial(buf + off, len, 0), ref_sum(buf, len));
	free(buf);
}

/* The +0/-0 corner at every length and alignment: all-zero bytes sum to 0,
 * non-zero bytes whose sum is 0 mod 0xffff to 0xffff, never to 0. */
static void test_partial_zero_and_negative_zero(void **state)
{
	(void)state;
	enum { MAX = 2048 };
	uint8_t *buf = calloc(1, MAX + 8);
	assert_non_null(buf);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= MAX; len++)
			assert_int_equal(usn_csum_partial(buf + off, len, 0), 0);
	/* Random words, the last even-aligned pair set so the total is
	 * 0xffff: a sum that is zero in ones' complement but not all zero. */
	uint32_t seed = 31337;
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 2; len <= MAX; len += 2 + (len > 300 ? 38 : 0)) {
			uint8_t *p = buf + off;
			fill_random(p, len, seed++);
			p[len - 2] = p[len - 1] = 0;
			uint16_t fix = (uint16_t)~ref_sum(p, len);
			p[len - 2] = (uint8_t)(fix >> 8);
			p[len - 1] = (uint8_t)fix;
			assert_int_equal(ref_sum(p, len), 0xffff);
			assert_int_equal(usn_csum_partial(p, len, 0), 0xffff);
		}
	free(buf);
}

/* Long ranges (many rounds of the bulk loop, up to 1 MiB) of random, all-ones
 * and sparse bytes, at odd and even addresses and lengths, against the
 * byte-pair reference; and the initial sum added on top of a long range. */
static void test_partial_long_ranges(void **state)
{
	(void)state;
	enum { MAX = 1 << 20 };
	static const size_t lens[] = {191,  192,  193,	223,   255,   1447,  1448,
				      1449, 1500, 4095, 65535, 65536, 65537, MAX - 1};
	uint8_t *buf = malloc(MAX + 8);
	assert_non_null(buf);
	for (int kind = 0; kind < 3; kind++) {
		if (kind == 0)
			fill_random(buf, MAX + 8, 99);
		else if (kind == 1)
			memset(buf, 0xff, MAX + 8);
		else
			for (size_t i = 0; i < MAX + 8; i++)
				buf[i] = i % 97 == 3 ? 0xff : (i % 1031 == 5 ? 0x80 : 0);
		for (size_t off = 0; off < 8; off += 3)
			for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
				assert_int_equal(usn_csum_partial(buf + off, lens[k], 0),
						 ref_sum(buf + off, lens[k]));
	}
	fill_random(buf, MAX + 8, 4);
	uint32_t seed = 8;
	for (int i = 0; i < 200; i++) {
		uint32_t init = bufchain_rand(&seed) * 2654435761u;
		size_t off = bufchain_rand(&seed) % 8, len = bufchain_rand(&seed) % 3000;
		assert_int_equal(usn_csum_partial(buf + off, len, init),
				 usn_csum_add(init, ref_sum(buf + off, len)));
	}
	free(buf);
}

static void test_partial_adds_initial_sum(void **state)
{
	(void)state;
	uint8_t buf[100];
	fill_random(buf, sizeof(buf), 7);
	uint32_t init = 0xfffff123u;
	uint32_t s = usn_csum_partial(buf, 77, init);
	uint64_t want = (uint64_t)ref_sum(buf, 77) + init;
	while (want >> 16)
		want = (want & 0xffff) + (want >> 16);
	assert_int_equal(usn_csum_fold(s), want);
	/* Chaining two even-length pieces equals one pass. */
	assert_int_equal(usn_csum_fold(usn_csum_partial(buf + 40, 60, usn_csum_partial(buf, 40, 0))),
			 ref_sum(buf, 100));
}

static void test_zero_data_sums_to_zero(void **state)
{
	(void)state;
	uint8_t z[64] = {0};
	assert_int_equal(usn_csum_fold(usn_csum_partial(z, 64, 0)), 0);
	assert_int_equal(usn_csum_finish(0), 0xffff);
}

static void test_rfc1071_example(void **state)
{
	(void)state;
	/* RFC 1071 1(4) numerical example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
	const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal(usn_csum_fold(usn_csum_partial(b, sizeof(b), 0)), 0xddf2);
	/* Odd offset: the same bytes one lane over equal the swapped sum. */
	uint8_t shifted[9] = {0};
	memcpy(shifted + 1, b, sizeof(b));
	assert_int_equal(usn_csum_fold(usn_csum_partial(shifted, sizeof(shifted), 0)),
			 usn_csum_fold(usn_csum_swap(0xddf2)));
}

static void test_known_ipv4_header(void **state)
{
	(void)state;
	/* The Wikipedia "IPv4 header checksum" example: checksum b861. */
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	assert_int_equal(usn_csum_finish(usn_csum_partial(h, 20, 0)), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	assert_int_equal(usn_csum_fold(usn_csum_partial(h, 20, 0)), 0xffff);
	assert_int_equal(usn_csum_finish(usn_csum_partial(h, 20, 0)), 0);
}

/* The 20-byte fast path against the general loop: equal folded sums. */
static void check_hdr20(const uint8_t *h)
{
	assert_int_equal(usn_csum_ipv4_hdr20(h), usn_csum_fold(usn_csum_partial(h, 20, 0)));
	assert_int_equal(usn_csum_ipv4_hdr20(h), ref_sum(h, 20));
}

static void test_ipv4_hdr20_matches_partial(void **state)
{
	(void)state;
	uint8_t buf[20 + 8];
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	assert_int_equal((uint16_t)~usn_csum_ipv4_hdr20(h), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	assert_int_equal(usn_csum_ipv4_hdr20(h), 0xffff);

	/* All zero (the only input summing to 0), all ones (0xffff, the -0). */
	memset(h, 0, sizeof(h));
	check_hdr20(h);
	assert_int_equal(usn_csum_ipv4_hdr20(h), 0);
	memset(h, 0xff, sizeof(h));
	check_hdr20(h);
	assert_int_equal(usn_csum_ipv4_hdr20(h), 0xffff);

	/* Every mix of all-zero and all-ones 16-bit words (2^10), and each
	 * single word set to 0x0001, 0x8000, 0xfffe over zeros and over ones:
	 * the carry cases of every fold step. */
	for (uint32_t mask = 0; mask < (1u << 10); mask++) {
		for (int i = 0; i < 10; i++)
			h[2 * i] = h[2 * i + 1] = (mask >> i) & 1 ? 0xff : 0x00;
		check_hdr20(h);
	}
	static const uint16_t odd[] = {0x0001, 0x0100, 0x8000, 0x00ff, 0xff00, 0xfffe, 0x7fff, 0x8001};
	for (int base = 0; base < 2; base++)
		for (int i = 0; i < 10; i++)
			for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
				memset(h, base ? 0xff : 0x00, sizeof(h));
				h[2 * i] = (uint8_t)(odd[k] >> 8);
				h[2 * i + 1] = (uint8_t)odd[k];
				check_hdr20(h);
			}

	/* Random headers at every alignment, and random ones made valid by
	 * the complement in the checksum field (parse's 0xffff case). */
	uint32_t seed = 2024;
	for (int n = 0; n < 200000; n++) {
		size_t off = (size_t)n % 8;
		uint8_t *p = buf + off;
		for (size_t i = 0; i < 20; i++)
			p[i] = (uint8_t)bufchain_rand(&seed);
		if (n % 5 == 1) /* sparse: mostly 0x00 and 0xff bytes */
			for (size_t i = 0; i < 20; i++)
				p[i] = p[i] & 1 ? 0xff : (p[i] & 2 ? p[i] : 0x00);
		check_hdr20(p);
		p[10] = p[11] = 0;
		uint16_t c = (uint16_t)~usn_csum_ipv4_hdr20(p);
		assert_int_equal(c, usn_csum_finish(usn_csum_partial(p, 20, 0)));
		p[10] = (uint8_t)(c >> 8);
		p[11] = (uint8_t)c;
		check_hdr20(p);
		assert_int_equal(usn_csum_ipv4_hdr20(p), 0xffff);
	}
}

static void test_add_fold_swap(void **state)
{
	(void)state;
	assert_int_equal(usn_csum_fold(0x0001ffffu), 0x0001);
	assert_int_equal(usn_csum_fold(0xffffffffu), 0xffff);
	assert_int_equal(usn_csum_fold(0), 0);
	assert_int_equal(usn_csum_fold(usn_csum_add(0xffffffffu, 1)), usn_csum_fold(0xffffu + 1u));
	assert_int_equal(usn_csum_add(0xfffffffeu, 3), 2); /* end-around carry */
	assert_int_equal(usn_csum_swap(0x1234), 0x3412);
	assert_int_equal(usn_csum_swap(0x00011234u), 0x3512);
	assert_int_equal(usn_csum_finish(0x1234), 0xedcb);
}

static void test_update16_equals_recompute(void **state)
{
	(void)state;
	uint32_t seed = 99;
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t h[20];
		for (int i = 0; i < 20; i++)
			h[i] = (uint8_t)bufchain_rand(&seed);
		h[0] = 0x45; /* never an all-zero header (RFC 1624 4: -0 case) */
		h[10] = h[11] = 0;
		uint16_t check = usn_csum_finish(usn_csum_partial(h, 20, 0));
		int w = (int)(bufchain_rand(&seed) % 9); /* any word but the checksum's */
		if (w >= 5)
			w++;
		uint16_t old = (uint16_t)((h[2 * w] << 8) | h[2 * w + 1]);
		uint16_t neu = (uint16_t)bufchain_rand(&seed);
		if (iter % 7 == 0)
			neu = 0; /* the edge RFC 1624 was written for */
		if (iter % 11 == 0)
			neu = 0xffff;
		h[2 * w] = (uint8_t)(neu >> 8);
		h[2 * w + 1] = (uint8_t)neu;
		uint16_t want = usn_csum_finish(usn_csum_partial(h, 20, 0));
		assert_int_equal(usn_csum_update16(check, old, neu), want);
	}
	/* RFC 1624 section 4 example: HC 0xdd2f, m 0x5555 -> 0x3285 gives 0x0000. */
	assert_int_equal(usn_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

static void test_pseudo_header(void **state)
{
	(void)state;
	uint32_t src = 0xc6120001u, dst = 0xc61200feu; /* 198.18.0.1 -> 198.18.0.254 */
	uint8_t ph[12] = {0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0xfe, 0x00, 6, 0x05, 0xdc};
	assert_int_equal(usn_csum_fold(usn_csum_pseudo(src, dst, 6, 1500)), ref_sum(ph, 12));
	uint32_t a = 0xffffffffu, b = 0xffffffffu;
	uint8_t ph2[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 6, 0xff, 0xff};
	assert_int_equal(usn_csum_fold(usn_csum_pseudo(a, b, 6, 0xffff)), ref_sum(ph2, 12));
}

static void check_table_all(const uint8_t *data, size_t n)
{
	struct usn_csum_table t;
	assert_int_equal(usn_csum_table_build(&t, data, n), 0);
	for (size_t k = 0; k <= n / 2; k++)
		assert_int_equal(t.prefix[k], ref_sum(data, 2 * k));
	for (size_t off = 0; off <= n; off++)
		for (size_t len = 0; off + len <= n; len++)
			assert_int_equal(usn_csum_fold(usn_csum_table_range(&t, off, len)),
					 ref_sum(data + off, len));
	usn_csum_table_free(&t);
	assert_null(t.prefix);
}

static void test_table_exhaustive_small(void **state)
{
	(void)state;
	uint8_t d[67];
	fill_random(d, sizeof(d), 4242);
	check_table_all(d, sizeof(d));
	check_table_all(d, 66);
	check_table_all(d, 0);
	check_table_all(d, 1);
}

static void test_table_zero_runs_exact(void **state)
{
	(void)state;
	/* Zero runs longer than a block and pairs of ff ff (a sum of 0xffff):
	 * the difference of two prefixes cannot tell them apart, the table must. */
	uint8_t d[300];
	memset(d, 0, sizeof(d));
	d[5] = 0xff;
	d[6] = 0xff;
	d[140] = 0x01;
	for (size_t i = 200; i < 210; i++)
		d[i] = 0xff;
	d[299] = 0x80;
	check_table_all(d, sizeof(d));
	memset(d, 0, sizeof(d));
	check_table_all(d, sizeof(d));
}

static void test_table_random_ranges(void **state)
{
	(void)state;
	enum { N = 70001 };
	uint8_t *d = malloc(N);
	assert_non_null(d);
	fill_random(d, N, 77);
	memset(d + 1000, 0, 500); /* a zero stretch for the -0 case */
	struct usn_csum_table t;
	assert_int_equal(usn_csum_table_build(&t, d, N), 0);
	uint32_t seed = 5;
	for (int i = 0; i < 100000; i++) {
		size_t off = bufchain_rand(&seed) % N;
		size_t len = bufchain_rand(&seed) % (i % 2 ? 3000 : (N - off + 1));
		if (off + len > N)
			len = N - off;
		if (i % 4 == 1)
			off |= 1; /* force odd offsets and lengths */
		if (i % 4 == 2)
			len |= 1;
		if (off + len > N)
			len = off < N ? N - off : 0;
		if (off > N)
			off = N;
		assert_int_equal(usn_csum_fold(usn_csum_table_range(&t, off, len)), ref_sum(d + off, len));
	}
	for (size_t off = 990; off < 1520; off += 3)
		for (size_t len = 0; len < 40; len++)
			assert_int_equal(usn_csum_fold(usn_csum_table_range(&t, off, len)),
					 ref_sum(d + off, len));
	usn_csum_table_free(&t);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_partial_every_length_and_alignment),
	    cmocka_unit_test(test_partial_all_ones_carries),
	    cmocka_unit_test(test_partial_zero_and_negative_zero),
	    cmocka_unit_test(test_partial_long_ranges),
	    cmocka_unit_test(test_partial_adds_initial_sum),
	    cmocka_unit_test(test_zero_data_sums_to_zero),
	    cmocka_unit_test(test_rfc1071_example),
	    cmocka_unit_test(test_known_ipv4_header),
	    cmocka_unit_test(test_ipv4_hdr20_matches_partial),
	    cmocka_unit_test(test_add_fold_swap),
	    cmocka_unit_test(test_update16_equals_recompute),
	    cmocka_unit_test(test_pseudo_header),
	    cmocka_unit_test(test_table_exhaustive_small),
	    cmocka_unit_test(test_table_zero_runs_exact),
	    cmocka_unit_test(test_table_random_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
