/* Unit tests for usn_siphash24 (lib/core/siphash.c): the reference
 * vectors of Aumasson and Bernstein, and equality with a byte-at-a-time
 * reference over random keys and lengths, so the word-load version keeps
 * every SYN cookie and ISN the stack ever made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bufchain.h"
#include "tcp/tcp_int.h"

static uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static void round2(uint64_t v[4], int n)
{
	for (int i = 0; i < n; i++) {
		v[0] += v[1];
		v[1] = rotl(v[1], 13);
		v[1] ^= v[0];
		v[0] = rotl(v[0], 32);
		v[2] += v[3];
		v[3] = rotl(v[3], 16);
		v[3] ^= v[2];
		v[0] += v[3];
		v[3] = rotl(v[3], 21);
		v[3] ^= v[0];
		v[2] += v[1];
		v[1] = rotl(v[1], 17);
		v[1] ^= v[2];
		v[2] = rotl(v[2], 32);
	}
}

/* SipHash-2-4 as the paper writes it: little-endian words read byte by byte. */
static uint64_t ref_siphash24(const uint64_t key[2], const uint8_t *in, size_t len)
{
	uint64_t v[4] = {0x736f6d6570736575ull ^ key[0], 0x646f72616e646f6dull ^ key[1],
			 0x6c7967656e657261ull ^ key[0], 0x7465646279746573ull ^ key[1]};
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t m = 0;
		for (int j = 7; j >= 0; j--)
			m = (m << 8) | in[i + (size_t)j];
		v[3] ^= m;
		round2(v, 2);
		v[0] ^= m;
	}
	uint64_t b = (uint64_t)(len & 0xff) << 56;
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v[3] ^= b;
	round2(v, 2);
	v[0] ^= b;
	v[2] ^= 0xff;
	round2(v, 4);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static void test_reference_vectors(void **state)
{
	(void)state;
	/* veorq/SipHash vectors.h: key 00..0f, message 00..(len-1), the
	 * output read as a little-endian word. Every tail length, and a full
	 * block with the longest tail. */
	static const struct {
		size_t len;
		uint64_t want;
	} v[] = {
	    {0, 0x726fdb47dd0e0e31ull},	 {1, 0x74f839c593dc67fdull}, {2, 0x0d6c8009d9a94f5aull},
	    {3, 0x85676696d7fb7e2dull},	 {4, 0xcf2794e0277187b7ull}, {5, 0x18765564cd99a68dull},
	    {6, 0xcbc9466e58fee3ceull},	 {7, 0xab0200f58b01d137ull}, {8, 0x93f5f5799a932462ull},
	    {15, 0xa129ca6149be45e5ull},
	};
	const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	uint8_t msg[16];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)i;
	for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
		assert_int_equal(usn_siphash24(key, msg, v[k].len), v[k].want);
		assert_int_equal(ref_siphash24(key, msg, v[k].len), v[k].want);
	}
}

static void test_equals_bytewise_reference(void **state)
{
	(void)state;
	/* Lengths 0..300 (the cookie's 20 bytes, the connection secret's 12,
	 * the key label's 13 and 14 among them) at every alignment. */
	uint8_t buf[300 + 8];
	uint32_t seed = 6528;
	for (int n = 0; n < 20000; n++) {
		uint64_t key[2];
		key[0] = (uint64_t)bufchain_rand(&seed) << 32 | bufchain_rand(&seed);
		key[1] = (uint64_t)bufchain_rand(&seed) << 32 | bufchain_rand(&seed);
		size_t len = n < 301 ? (size_t)n : bufchain_rand(&seed) % 41;
		size_t off = (size_t)n % 8;
		for (size_t i = 0; i < len; i++)
			buf[off + i] = (uint8_t)bufchain_rand(&seed);
		assert_int_equal(usn_siphash24(key, buf + off, len), ref_siphash24(key, buf + off, len));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_vectors),
	    cmocka_unit_test(test_equals_bytewise_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
