/* libusnet fixed pool (lib/core/pool.h): one block laid out at start, an
 * intrusive free list threaded through the free objects. O(1) get and put,
 * no allocation after init (the per-packet path must not malloc). */
#include "core/pool.h"

#include <string.h>

/* Under AddressSanitizer a free object is poisoned, so that a handle used
 * after its object went back to the pool (a TCB after closed_fn) is caught
 * where it is used; the pool unpoisons what it hands out. Nothing in other
 * builds. */
#if defined(__SANITIZE_ADDRESS__)
#define USN_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USN_POOL_ASAN 1
#endif
#endif
#ifdef USN_POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static size_t pool_stride(size_t obj_size)
{
	const size_t a = sizeof(void *);
	if (obj_size < a)
		obj_size = a; /* a free object holds the list link */
	return (obj_size + a - 1) / a * a;
}

size_t usn_pool_mem_size(size_t obj_size, uint32_t cap)
{
	return pool_stride(obj_size) * cap;
}

void usn_pool_init(struct usn_pool *p, void *mem, size_t obj_size, uint32_t cap)
{
	p->base = mem;
	p->obj_size = pool_stride(obj_size);
	p->cap = cap;
	p->n_free = cap;
	p->free_list = NULL;
	/* Thread back to front so gets hand out index 0, 1, 2... first. */
	for (uint32_t i = cap; i-- > 0;) {
		void *obj = p->base + (size_t)i * p->obj_size;
		memcpy(obj, &p->free_list, sizeof(void *));
		p->free_list = obj;
		POISON(obj, p->obj_size);
	}
}

void usn_pool_fini(struct usn_pool *p)
{
	if (p->base)
		UNPOISON(p->base, p->obj_size * p->cap);
}

void *usn_pool_get(struct usn_pool *p)
{
	void *obj = p->free_list;
	if (!obj)
		return NULL;
	UNPOISON(obj, p->obj_size);
	memcpy(&p->free_list, obj, sizeof(void *));
	p->n_free--;
	return obj;
}

void usn_pool_put(struct usn_pool *p, void *obj)
{
	if (!obj)
		return;
	memcpy(obj, &p->free_list, sizeof(void *));
	p->free_list = obj;
	p->n_free++;
	POISON(obj, p->obj_size);
}

uint32_t usn_pool_index(const struct usn_pool *p, const void *obj)
{
	return (uint32_t)((size_t)((const uint8_t *)obj - p->base) / p->obj_size);
}

void *usn_pool_at(const struct usn_pool *p, uint32_t i)
{
	if (i >= p->cap)
		return NULL;
	return p->base + (size_t)i * p->obj_size;
}
