/* Unit tests for lib/core/ring.c: full, empty, wrap, element sizes, and a
 * two-thread producer/consumer run of a million items in order. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ring.h"

static void test_rejects_bad_capacity(void **state)
{
	(void)state;
	uint8_t *mem = malloc(usn_ring_mem_size(16, 8));
	assert_null(usn_ring_init(mem, 0, 8));
	assert_null(usn_ring_init(mem, 3, 8));
	assert_null(usn_ring_init(mem, 12, 8));
	assert_null(usn_ring_init(mem, 16, 0));
	assert_null(usn_ring_init(NULL, 16, 8));
	assert_non_null(usn_ring_init(mem, 16, 8));
	assert_non_null(usn_ring_init(mem, 1, 8));
	free(mem);
}

static void test_full_empty_wrap(void **state)
{
	(void)state;
	enum { CAP = 8 };
	uint8_t *mem = malloc(usn_ring_mem_size(CAP, sizeof(uint32_t)));
	struct usn_ring *r = usn_ring_init(mem, CAP, sizeof(uint32_t));
	assert_non_null(r);
	uint32_t v = 0;
	assert_false(usn_ring_pop(r, &v));
	for (uint32_t i = 0; i < CAP; i++)
		assert_true(usn_ring_push(r, &i));
	uint32_t x = 99;
	assert_false(usn_ring_push(r, &x)); /* full at exactly cap */
	for (uint32_t i = 0; i < CAP; i++) {
		assert_true(usn_ring_pop(r, &v));
		assert_int_equal(v, i);
	}
	assert_false(usn_ring_pop(r, &v));
	/* wrap many times with a partly filled ring */
	uint32_t next_in = 1000, next_out = 1000;
	for (int round = 0; round < 5000; round++) {
		unsigned n_push = (unsigned)(round % 5) + 1, n_pop = (unsigned)((round * 7) % 6);
		for (unsigned k = 0; k < n_push; k++) {
			if (next_in - next_out == CAP) {
				assert_false(usn_ring_push(r, &next_in));
				break;
			}
			assert_true(usn_ring_push(r, &next_in));
			next_in++;
		}
		for (unsigned k = 0; k < n_pop; k++) {
			if (next_in == next_out) {
				assert_false(usn_ring_pop(r, &v));
				break;
			}
			assert_true(usn_ring_pop(r, &v));
			assert_int_equal(v, next_out);
			next_out++;
		}
	}
	assert_true(next_in > 10000);
	free(mem);
}

static void test_odd_element_size_and_misaligned_memory(void **state)
{
	(void)state;
	enum { CAP = 4, SZ = 3 };
	uint8_t *mem = malloc(usn_ring_mem_size(CAP, SZ) + 1);
	struct usn_ring *r = usn_ring_init(mem + 1, CAP, SZ); /* not aligned */
	assert_non_null(r);
	for (int round = 0; round < 10; round++) {
		for (uint8_t i = 0; i < CAP; i++) {
			uint8_t e[SZ] = {i, (uint8_t)(i + 1), (uint8_t)round};
			assert_true(usn_ring_push(r, e));
		}
		uint8_t e[SZ] = {0};
		assert_false(usn_ring_push(r, e));
		for (uint8_t i = 0; i < CAP; i++) {
			uint8_t got[SZ + 1];
			got[SZ] = 0xee;
			assert_true(usn_ring_pop(r, got));
			assert_int_equal(got[0], i);
			assert_int_equal(got[1], i + 1);
			assert_int_equal(got[2], round);
			assert_int_equal(got[SZ], 0xee); /* exactly elem_size copied */
		}
	}
	free(mem);
}

enum { ITEMS = 1000000 };

struct msg {
	uint64_t seq;
	uint64_t check;
};

static void *producer(void *arg)
{
	struct usn_ring *r = arg;
	for (uint64_t i = 0; i < ITEMS; i++) {
		struct msg m = {i, i * 0x9e3779b97f4a7c15ull};
		while (!usn_ring_push(r, &m))
			sched_yield();
	}
	return NULL;
}

static void test_two_threads_in_order(void **state)
{
	(void)state;
	enum { CAP = 256 };
	uint8_t *mem = malloc(usn_ring_mem_size(CAP, sizeof(struct msg)));
	struct usn_ring *r = usn_ring_init(mem, CAP, sizeof(struct msg));
	assert_non_null(r);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, producer, r), 0);
	uint64_t expect = 0, bad = 0;
	while (expect < ITEMS) {
		struct msg m;
		if (!usn_ring_pop(r, &m)) {
			sched_yield();
			continue;
		}
		/* count instead of asserting here: cmocka must not longjmp away
		 * while the producer still runs */
		bad += m.seq != expect || m.check != expect * 0x9e3779b97f4a7c15ull;
		expect++;
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(bad, 0);
	struct msg m;
	assert_false(usn_ring_pop(r, &m));
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rejects_bad_capacity),
	    cmocka_unit_test(test_full_empty_wrap),
	    cmocka_unit_test(test_odd_element_size_and_misaligned_memory),
	    cmocka_unit_test(test_two_threads_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
