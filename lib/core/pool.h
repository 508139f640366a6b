/* libusnet fixed pool (private): objects of one size in one block sized at
 * start, handed out and taken back through an intrusive free list. O(1),
 * no allocation after usn_pool_init. */
#ifndef USN_POOL_H
#define USN_POOL_H

#include <stddef.h>
#include <stdint.h>

struct usn_pool {
	uint8_t *base;
	size_t obj_size; /* rounded up to the alignment of a pointer */
	uint32_t cap;
	uint32_t n_free;
	void *free_list;
};

/* Lays a pool of cap objects of obj_size bytes over mem, which holds at
 * least usn_pool_mem_size(obj_size, cap) bytes. */
size_t usn_pool_mem_size(size_t obj_size, uint32_t cap);
void usn_pool_init(struct usn_pool *p, void *mem, size_t obj_size, uint32_t cap);
/* Before mem is freed or reused: under AddressSanitizer, the free objects
 * are poisoned until then. */
void usn_pool_fini(struct usn_pool *p);
/* An object (contents unspecified), or NULL when the pool is empty. */
void *usn_pool_get(struct usn_pool *p);
void usn_pool_put(struct usn_pool *p, void *obj);
/* The index of obj in the pool (for handles and hashing), and back. */
uint32_t usn_pool_index(const struct usn_pool *p, const void *obj);
void *usn_pool_at(const struct usn_pool *p, uint32_t i);

#endif
