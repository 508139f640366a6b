/* libusnet single-producer single-consumer ring (private): the only way
 * workers talk (software RSS, ARP entries learned). Lock-free: C11 acquire
 * and release on the two indices, each written by one side only. */
#ifndef USN_RING_H
#define USN_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct usn_ring;

/* A ring of `cap` (a power of two) slots of elem_size bytes, in one block of
 * usn_ring_mem_size bytes that the caller provides. */
size_t usn_ring_mem_size(uint32_t cap, size_t elem_size);
struct usn_ring *usn_ring_init(void *mem, uint32_t cap, size_t elem_size);
/* Producer side: false if full. */
bool usn_ring_push(struct usn_ring *r, const void *elem);
/* Consumer side: false if empty. */
bool usn_ring_pop(struct usn_ring *r, void *elem);

#endif
