/* libusnet cursor: an immutable view of a byte range over a chain of
 * usn_buf. The stack reads and writes frames only through it, so a header
 * that straddles two buffers (mPIPE chains 128 B buffers) costs no special case. */
#ifndef USNET_CURSOR_H
#define USNET_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usnet/hal.h"

/* A view of `len` bytes starting `off` bytes into `buf` and continuing along
 * buf->next. Values, not handles: every operation returns a new cursor and
 * leaves its argument unchanged. A cursor does not own its buffers. */
struct usn_cursor {
	struct usn_buf *buf;
	uint32_t off; /* offset into buf's data; always < buf->len unless len == 0 */
	uint32_t len; /* bytes in the view */
};

/* The whole frame that starts at `head`. */
struct usn_cursor usn_cursor_of_frame(struct usn_buf *head);

static inline uint32_t usn_cursor_size(struct usn_cursor c)
{
	return c.len;
}

/* The view without its first n bytes (n is clamped to the size). */
struct usn_cursor usn_cursor_drop(struct usn_cursor c, uint32_t n);
/* The first n bytes of the view (n is clamped to the size). */
struct usn_cursor usn_cursor_take(struct usn_cursor c, uint32_t n);

/* Copy min(n, size) bytes out; returns how many were copied. */
size_t usn_cursor_read(struct usn_cursor c, void *dst, size_t n);
/* Copy min(n, size) bytes in; returns how many were written. */
size_t usn_cursor_write(struct usn_cursor c, const void *src, size_t n);

/* Zero-copy read: a pointer to the first n contiguous bytes of the view. If
 * they lie in one buffer, that pointer is into the buffer; if they straddle,
 * they are copied to `scratch` (n bytes) and `scratch` is returned. NULL if
 * the view holds fewer than n bytes. */
const void *usn_cursor_read_with(struct usn_cursor c, uint32_t n, void *scratch);

/* Zero-copy write, in two steps: write_begin gives a pointer where n bytes
 * may be written (into the buffer if contiguous, else `scratch`); write_end
 * copies scratch back when needed. NULL if the view holds fewer than n. */
void *usn_cursor_write_begin(struct usn_cursor c, uint32_t n, void *scratch);
void usn_cursor_write_end(struct usn_cursor c, uint32_t n, void *scratch, void *p);

/* The ones'-complement sum (RFC 1071, unfolded 32-bit) of the view as if it
 * started at an even offset. */
uint32_t usn_cursor_csum(struct usn_cursor c);

#endif
