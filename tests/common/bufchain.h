/* Test helper: usn_buf chains built from flat bytes split at chosen buffer
 * sizes (zero-length buffers allowed), for cursor and parser tests. Every
 * buffer's data is its own malloc of exactly its length, so ASan catches a
 * read past a buffer. */
#ifndef USN_TEST_BUFCHAIN_H
#define USN_TEST_BUFCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "usnet/hal.h"

/* A chain holding bytes[0..len), buffer i sized sizes[i % n_sizes] (the last
 * one takes what is left). A size list of zeros only is treated as {len}.
 * Returns NULL only if malloc fails. len 0 gives one empty buffer. */
struct usn_buf *bufchain_new(const void *bytes, size_t len, const size_t *sizes, size_t n_sizes);
/* Buffer sizes drawn at random in [0, max_size] from *seed (rand_r style). */
struct usn_buf *bufchain_new_random(const void *bytes, size_t len, size_t max_size, uint32_t *seed);
/* Frees every buffer of the chain and its data. */
void bufchain_free(struct usn_buf *head);
/* Copies the chain's bytes out (at most cap); returns the chain's length. */
size_t bufchain_flatten(const struct usn_buf *head, uint8_t *out, size_t cap);
/* Number of buffers in the chain. */
size_t bufchain_count(const struct usn_buf *head);
/* A small deterministic PRNG for tests (xorshift32; seed must be non-zero). */
uint32_t bufchain_rand(uint32_t *seed);

#endif
