/* Unit tests for usn_load's pieces that need no network
 * (apps/usn_load/load_hash.c): the incremental body hash agrees with the
 * one-shot hash however the body is split, and changes with any bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../apps/usn_load/load.h"

static void test_hash_incremental(void **state)
{
	(void)state;
	uint8_t buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t n = 0; n <= sizeof(buf); n += 37) {
		uint64_t whole = load_hash_of(buf, n);
		for (size_t step = 1; step < 70; step += 13) {
			struct load_hash h;
			load_hash_init(&h);
			for (size_t off = 0; off < n; off += step)
				load_hash_update(&h, buf + off, n - off < step ? n - off : step);
			assert_true(load_hash_final(&h) == whole);
		}
	}
	/* one bit anywhere, or a byte more, changes it */
	uint64_t base = load_hash_of(buf, 999);
	buf[500] ^= 0x10;
	assert_true(load_hash_of(buf, 999) != base);
	buf[500] ^= 0x10;
	assert_true(load_hash_of(buf, 1000) != base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_incremental),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
