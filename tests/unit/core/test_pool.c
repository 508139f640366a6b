/* Unit tests for lib/core/pool.c: exhaustion, reuse, indices, layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pool.h"

static void test_exhaustion_and_indices(void **state)
{
	(void)state;
	enum { CAP = 37, SZ = 24 };
	void *mem = malloc(usn_pool_mem_size(SZ, CAP));
	assert_non_null(mem);
	struct usn_pool p;
	usn_pool_init(&p, mem, SZ, CAP);
	assert_int_equal(p.n_free, CAP);
	void *objs[CAP];
	for (uint32_t i = 0; i < CAP; i++) {
		objs[i] = usn_pool_get(&p);
		assert_non_null(objs[i]);
		assert_int_equal(usn_pool_index(&p, objs[i]), i); /* handed out in order */
		assert_ptr_equal(usn_pool_at(&p, i), objs[i]);
		memset(objs[i], (int)i, SZ); /* the whole object is ours */
		assert_int_equal(p.n_free, CAP - 1 - i);
	}
	assert_null(usn_pool_get(&p));
	assert_null(usn_pool_get(&p));
	assert_int_equal(p.n_free, 0);
	for (uint32_t i = 0; i < CAP; i++) {
		const uint8_t *b = objs[i];
		for (int k = 0; k < SZ; k++)
			assert_int_equal(b[k], (uint8_t)i);
	}
	assert_null(usn_pool_at(&p, CAP));
	/* reuse: the last put is the next get */
	usn_pool_put(&p, objs[5]);
	usn_pool_put(&p, objs[30]);
	assert_int_equal(p.n_free, 2);
	assert_ptr_equal(usn_pool_get(&p), objs[30]);
	assert_ptr_equal(usn_pool_get(&p), objs[5]);
	assert_null(usn_pool_get(&p));
	/* all back, all out again, each exactly once */
	for (uint32_t i = 0; i < CAP; i++)
		usn_pool_put(&p, objs[i]);
	assert_int_equal(p.n_free, CAP);
	uint8_t seen[CAP] = {0};
	for (uint32_t i = 0; i < CAP; i++) {
		void *o = usn_pool_get(&p);
		assert_non_null(o);
		uint32_t idx = usn_pool_index(&p, o);
		assert_true(idx < CAP);
		assert_int_equal(seen[idx], 0);
		seen[idx] = 1;
	}
	assert_null(usn_pool_get(&p));
	free(mem);
}

static void test_small_objects_rounded(void **state)
{
	(void)state;
	/* 1- and 9-byte objects still hold the free-list link and stay aligned. */
	assert_int_equal(usn_pool_mem_size(1, 10), 10 * sizeof(void *));
	assert_int_equal(usn_pool_mem_size(sizeof(void *) + 1, 4), 4 * 2 * sizeof(void *));
	void *mem = malloc(usn_pool_mem_size(1, 10));
	struct usn_pool p;
	usn_pool_init(&p, mem, 1, 10);
	assert_int_equal(p.obj_size, sizeof(void *));
	for (uint32_t i = 0; i < 10; i++) {
		void *o = usn_pool_get(&p);
		assert_int_equal((uintptr_t)o % sizeof(void *), 0);
		assert_int_equal(usn_pool_index(&p, o), i);
	}
	assert_null(usn_pool_get(&p));
	free(mem);
}

static void test_empty_pool(void **state)
{
	(void)state;
	struct usn_pool p;
	usn_pool_init(&p, NULL, 16, 0);
	assert_null(usn_pool_get(&p));
	assert_int_equal(p.n_free, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exhaustion_and_indices),
	    cmocka_unit_test(test_small_objects_rounded),
	    cmocka_unit_test(test_empty_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
