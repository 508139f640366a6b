/* Test helper (tests/common): a temporary tree of pages on disk for the
 * tests that load apps/http's page store or usn_load's corpus from a
 * directory: files of given sizes with seeded pseudo-random bytes, kept in
 * memory too for byte comparisons, and the tree removed again. */
#ifndef PAGETREE_H
#define PAGETREE_H

#include <stddef.h>
#include <stdint.h>

struct pagetree_file {
	const char *path; /* under the root, "a.html" or "/d/c.html" */
	size_t len;
	uint8_t *data; /* the contents (len bytes, malloc'd), set by pagetree_create */
};

/* Makes root = "/tmp/<name>.XXXXXX" (mkdtemp; root_size bytes at root) and
 * writes files[0..n) into it, their directories made as needed, the bytes
 * from one linear congruential stream seeded with seed (file after file, so
 * a test's corpus is the same every run). A failure fails the test. */
void pagetree_create(char *root, size_t root_size, const char *name, struct pagetree_file *files, size_t n,
		     uint32_t seed);

/* Removes the tree under root and frees (and clears) each file's data. */
void pagetree_remove(const char *root, struct pagetree_file *files, size_t n);

#endif
