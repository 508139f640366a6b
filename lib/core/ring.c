/* libusnet SPSC ring (lib/core/ring.h): the producer alone writes head, the
 * consumer alone writes tail; a release store publishes a slot and the
 * matching acquire load sees it. Each side keeps a cached copy of the other
 * side's index on its own cache line so it rarely touches the shared one. */
#include "core/ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#define RING_LINE 64

struct usn_ring {
	/* producer's line */
	alignas(RING_LINE) _Atomic uint32_t head; /* next slot to fill */
	uint32_t tail_cache;			  /* producer's last view of tail */
	/* consumer's line */
	alignas(RING_LINE) _Atomic uint32_t tail; /* next slot to drain */
	uint32_t head_cache;			  /* consumer's last view of head */
	/* read-only after init */
	alignas(RING_LINE) uint32_t mask;
	uint32_t cap;
	size_t elem_size;
	alignas(RING_LINE) uint8_t slots[];
};

size_t usn_ring_mem_size(uint32_t cap, size_t elem_size)
{
	/* RING_LINE spare bytes let init align a caller's malloc'd block. */
	return RING_LINE + sizeof(struct usn_ring) + (size_t)cap * elem_size;
}

struct usn_ring *usn_ring_init(void *mem, uint32_t cap, size_t elem_size)
{
	/* Indices run free modulo 2^32; a power-of-two cap up to 2^31 keeps
	 * head - tail exact across the wrap. */
	if (!mem || cap == 0 || (cap & (cap - 1)) != 0 || cap > (1u << 31) || elem_size == 0)
		return NULL;
	uintptr_t a = ((uintptr_t)mem + RING_LINE - 1) & ~(uintptr_t)(RING_LINE - 1);
	struct usn_ring *r = (struct usn_ring *)a;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->tail_cache = 0;
	r->head_cache = 0;
	r->mask = cap - 1;
	r->cap = cap;
	r->elem_size = elem_size;
	return r;
}

bool usn_ring_push(struct usn_ring *r, const void *elem)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (h - r->tail_cache == r->cap) {
		/* Acquire: the consumer's copy out of the slot happened before. */
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (h - r->tail_cache == r->cap)
			return false;
	}
	memcpy(r->slots + (size_t)(h & r->mask) * r->elem_size, elem, r->elem_size);
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

bool usn_ring_pop(struct usn_ring *r, void *elem)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (t == r->head_cache) {
		/* Acquire: the producer's copy into the slot is visible. */
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		if (t == r->head_cache)
			return false;
	}
	memcpy(elem, r->slots + (size_t)(t & r->mask) * r->elem_size, r->elem_size);
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}
