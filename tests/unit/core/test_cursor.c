/* Unit tests for lib/core/cursor.c: every cursor operation over chains split
 * many ways (1, 2, 3, 7, 128-byte buffers, zero-length ones, random splits),
 * compared with the same operation on a flat reference array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bufchain.h"
#include "usnet/csum.h"
#include "usnet/cursor.h"

enum { N = 200 };

static uint16_t ref_sum(const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	for (size_t i = 0; i < len; i += 2)
		s += ((uint32_t)p[i] << 8) | (i + 1 < len ? p[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static const size_t LENS[] = {0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 63, 64, 65, 127, 128, 129, 200};

static int buf_contains(const struct usn_buf *head, const void *p)
{
	for (const struct usn_buf *b = head; b; b = b->next)
		if ((const uint8_t *)p >= b->data && (const uint8_t *)p < b->data + b->len)
			return 1;
	return 0;
}

/* Every read-side operation on every (off, len) view of this chain. */
static void check_reads(struct usn_buf *head, const uint8_t *ref)
{
	struct usn_cursor f = usn_cursor_of_frame(head);
	assert_int_equal(usn_cursor_size(f), N);
	uint8_t out[N + 8], scratch[N + 8];
	for (size_t off = 0; off <= N; off++) {
		struct usn_cursor d = usn_cursor_drop(f, (uint32_t)off);
		assert_int_equal(usn_cursor_size(d), N - off);
		for (size_t li = 0; li < sizeof(LENS) / sizeof(LENS[0]); li++) {
			size_t len = LENS[li];
			struct usn_cursor v = usn_cursor_take(d, (uint32_t)len);
			size_t want = len < N - off ? len : N - off;
			assert_int_equal(usn_cursor_size(v), want);
			/* read: asks for more than the view holds */
			memset(out, 0xee, sizeof(out));
			assert_int_equal(usn_cursor_read(v, out, want + 5), want);
			assert_memory_equal(out, ref + off, want);
			assert_int_equal(out[want], 0xee); /* nothing past the view */
			/* read_with: every n up to the size, and one past it */
			for (size_t n = 0; n <= want; n += (want > 20 ? 7 : 1)) {
				const uint8_t *p = usn_cursor_read_with(v, (uint32_t)n, scratch);
				assert_non_null(p);
				if (n)
					assert_memory_equal(p, ref + off, n);
				if (p != scratch && n)
					assert_true(buf_contains(head, p));
			}
			assert_null(usn_cursor_read_with(v, (uint32_t)want + 1, scratch));
			/* csum, including odd starts and odd buffer lengths */
			assert_int_equal(usn_csum_fold(usn_cursor_csum(v)), ref_sum(ref + off, want));
			/* drop in two steps equals one */
			for (size_t a = 0; a <= want; a += 3) {
				struct usn_cursor x = usn_cursor_drop(usn_cursor_drop(v, (uint32_t)a), 1);
				size_t xs = want - a ? want - a - 1 : 0;
				assert_int_equal(usn_cursor_size(x), xs);
				assert_int_equal(usn_cursor_read(x, out, sizeof(out)), xs);
				assert_memory_equal(out, ref + off + (want - a ? a + 1 : a), xs);
			}
		}
	}
	/* n past the size clamps */
	assert_int_equal(usn_cursor_size(usn_cursor_drop(f, N + 100)), 0);
	assert_int_equal(usn_cursor_size(usn_cursor_take(f, N + 100)), N);
	assert_int_equal(usn_cursor_size(usn_cursor_take(f, 0)), 0);
	assert_int_equal(usn_cursor_read(usn_cursor_drop(f, N), out, 10), 0);
	assert_int_equal(usn_csum_fold(usn_cursor_csum(usn_cursor_drop(f, N))), 0);
}

/* Writes through every (off, len) view, checking the chain afterwards
 * against the flat model: only the view's bytes change. */
static void check_writes(struct usn_buf *head, uint8_t *model)
{
	struct usn_cursor f = usn_cursor_of_frame(head);
	uint8_t src[N + 8], flat[N], scratch[N];
	uint8_t tag = 1;
	for (size_t off = 0; off <= N; off += 3) {
		for (size_t li = 0; li < sizeof(LENS) / sizeof(LENS[0]); li++, tag++) {
			size_t len = LENS[li];
			struct usn_cursor v =
			    usn_cursor_take(usn_cursor_drop(f, (uint32_t)off), (uint32_t)len);
			size_t want = usn_cursor_size(v);
			for (size_t i = 0; i < sizeof(src); i++)
				src[i] = (uint8_t)(tag * 31 + i);
			assert_int_equal(usn_cursor_write(v, src, want + 8), want);
			memcpy(model + off, src, want);
			assert_int_equal(bufchain_flatten(head, flat, N), N);
			assert_memory_equal(flat, model, N);

			/* write_begin/end over the same view, n bytes at a time */
			size_t n = want;
			uint8_t *p = usn_cursor_write_begin(v, (uint32_t)n, scratch);
			assert_non_null(p);
			for (size_t i = 0; i < n; i++)
				p[i] = (uint8_t)(tag ^ (i * 7));
			usn_cursor_write_end(v, (uint32_t)n, scratch, p);
			for (size_t i = 0; i < n; i++)
				model[off + i] = (uint8_t)(tag ^ (i * 7));
			bufchain_flatten(head, flat, N);
			assert_memory_equal(flat, model, N);
			assert_null(usn_cursor_write_begin(v, (uint32_t)want + 1, scratch));
		}
	}
}

static void check_chain(struct usn_buf *head, const uint8_t *ref)
{
	uint8_t model[N];
	check_reads(head, ref);
	memcpy(model, ref, N);
	check_writes(head, model);
}

static void make_ref(uint8_t *ref, uint32_t seed)
{
	for (size_t i = 0; i < N; i++)
		ref[i] = (uint8_t)bufchain_rand(&seed);
}

static void run_sizes(const size_t *sizes, size_t n)
{
	uint8_t ref[N];
	make_ref(ref, 1234);
	struct usn_buf *h = bufchain_new(ref, N, sizes, n);
	assert_non_null(h);
	check_chain(h, ref);
	bufchain_free(h);
}

static void test_one_byte_buffers(void **state)
{
	(void)state;
	run_sizes((const size_t[]){1}, 1);
}

static void test_two_byte_buffers(void **state)
{
	(void)state;
	run_sizes((const size_t[]){2}, 1);
}

static void test_three_byte_buffers(void **state)
{
	(void)state;
	run_sizes((const size_t[]){3}, 1);
}

static void test_seven_byte_buffers(void **state)
{
	(void)state;
	run_sizes((const size_t[]){7}, 1);
}

static void test_128_byte_buffers(void **state)
{
	(void)state;
	run_sizes((const size_t[]){128}, 1);
}

static void test_single_buffer(void **state)
{
	(void)state;
	run_sizes((const size_t[]){N}, 1);
}

static void test_zero_length_buffers(void **state)
{
	(void)state;
	/* empty buffers first, in the middle (several in a row) and last */
	run_sizes((const size_t[]){0, 0, 3, 0, 1, 0, 0, 0, 5}, 9);
	uint8_t ref[N];
	make_ref(ref, 1234);
	struct usn_buf *h = bufchain_new(ref, N, (const size_t[]){N}, 1);
	struct usn_buf *tail = calloc(1, sizeof(*tail));
	assert_non_null(tail);
	tail->data = malloc(1);
	h->next = tail; /* an empty buffer at the end of the frame */
	check_chain(h, ref);
	bufchain_free(h);
}

static void test_random_splits(void **state)
{
	(void)state;
	uint8_t ref[N];
	for (uint32_t s = 1; s <= 12; s++) {
		make_ref(ref, s * 77);
		uint32_t seed = s;
		struct usn_buf *h = bufchain_new_random(ref, N, s < 6 ? 4 : 40, &seed);
		assert_non_null(h);
		check_chain(h, ref);
		bufchain_free(h);
	}
}

static void test_frame_len_bounds_view(void **state)
{
	(void)state;
	uint8_t ref[N];
	make_ref(ref, 9);
	struct usn_buf *h = bufchain_new(ref, N, (const size_t[]){7}, 1);
	h->frame_len = 50; /* the frame ends before the chain does */
	struct usn_cursor f = usn_cursor_of_frame(h);
	assert_int_equal(usn_cursor_size(f), 50);
	h->frame_len = N + 10; /* a lie past the chain is cut to the chain */
	f = usn_cursor_of_frame(h);
	assert_int_equal(usn_cursor_size(f), N);
	uint8_t out[N];
	assert_int_equal(usn_cursor_read(f, out, sizeof(out)), N);
	assert_memory_equal(out, ref, N);
	bufchain_free(h);
}

static void test_read_with_zero_copy_when_contiguous(void **state)
{
	(void)state;
	uint8_t ref[N], scratch[64];
	make_ref(ref, 3);
	struct usn_buf *h = bufchain_new(ref, N, (const size_t[]){128}, 1);
	struct usn_cursor f = usn_cursor_of_frame(h);
	/* inside the first buffer: a pointer into it */
	const uint8_t *p = usn_cursor_read_with(usn_cursor_drop(f, 10), 20, scratch);
	assert_ptr_equal(p, h->data + 10);
	/* straddling: scratch */
	p = usn_cursor_read_with(usn_cursor_drop(f, 120), 20, scratch);
	assert_ptr_equal(p, scratch);
	assert_memory_equal(p, ref + 120, 20);
	/* starting exactly at the second buffer: a pointer into it */
	p = usn_cursor_read_with(usn_cursor_drop(f, 128), 20, scratch);
	assert_ptr_equal(p, h->next->data);
	uint8_t *w = usn_cursor_write_begin(usn_cursor_drop(f, 5), 4, scratch);
	assert_ptr_equal(w, h->data + 5);
	bufchain_free(h);
}

static void test_values_not_handles(void **state)
{
	(void)state;
	uint8_t ref[N];
	make_ref(ref, 4);
	struct usn_buf *h = bufchain_new(ref, N, (const size_t[]){3}, 1);
	struct usn_cursor f = usn_cursor_of_frame(h);
	struct usn_cursor before = f;
	(void)usn_cursor_drop(f, 50);
	(void)usn_cursor_take(f, 50);
	assert_ptr_equal(f.buf, before.buf);
	assert_int_equal(f.off, before.off);
	assert_int_equal(f.len, before.len);
	bufchain_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_byte_buffers),
	    cmocka_unit_test(test_two_byte_buffers),
	    cmocka_unit_test(test_three_byte_buffers),
	    cmocka_unit_test(test_seven_byte_buffers),
	    cmocka_unit_test(test_128_byte_buffers),
	    cmocka_unit_test(test_single_buffer),
	    cmocka_unit_test(test_zero_length_buffers),
	    cmocka_unit_test(test_random_splits),
	    cmocka_unit_test(test_frame_len_bounds_view),
	    cmocka_unit_test(test_read_with_zero_copy_when_contiguous),
	    cmocka_unit_test(test_values_not_handles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
