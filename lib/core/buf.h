/* libusnet frame-buffer chain helpers (private, lib/core): small edits of a
 * usn_buf chain the stack owns, for the layers that trim or join frames
 * (TCP's out-of-order queue, GRO). */
#ifndef USN_BUF_H
#define USN_BUF_H

#include <stdint.h>

#include "usnet/hal.h"

/* Drops the first n bytes of the frame at head (at most its length).
 * Buffers it empties stay in the chain with len 0 (cursors skip them, and
 * free_bulk takes the chain as it is), so head stays the head. */
static inline void usn_buf_drop_front(struct usn_buf *head, uint32_t n)
{
	head->frame_len = head->frame_len > n ? head->frame_len - n : 0;
	for (struct usn_buf *b = head; b && n; b = b->next) {
		uint32_t k = b->len < n ? b->len : n;
		b->data += k;
		b->len = (uint16_t)(b->len - k);
		b->room = (uint16_t)(b->room - k);
		b->headroom = (uint16_t)(b->headroom + k);
		n -= k;
	}
}

#endif
