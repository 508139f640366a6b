/* libusnet cursor: immutable views over usn_buf chains (include/usnet/cursor.h).
 * Every operation tolerates views that start or end mid-buffer, zero-length
 * buffers anywhere in the chain and counts larger than the view. */
#include "usnet/cursor.h"

#include <stdbool.h>
#include <string.h>

/* Moves the view's start past exhausted and zero-length buffers so that
 * off < buf->len whenever len > 0. A chain shorter than the view is a caller
 * bug; the view is then cut where the chain ends instead of running off it. */
static struct usn_cursor normalize(struct usn_cursor c)
{
	while (c.len && c.buf && c.off >= c.buf->len) {
		c.off -= c.buf->len;
		c.buf = c.buf->next;
	}
	if (!c.buf) {
		c.off = 0;
		c.len = 0;
	}
	return c;
}

struct usn_cursor usn_cursor_of_frame(struct usn_buf *head)
{
	struct usn_cursor c = {head, 0, 0};
	if (!head)
		return c;
	/* frame_len is the backend's word; the chain is the truth. Chains are
	 * one or two buffers, so the walk costs little. */
	uint32_t sum = 0;
	for (const struct usn_buf *b = head; b; b = b->next)
		sum += b->len;
	c.len = head->frame_len < sum ? head->frame_len : sum;
	return normalize(c);
}

struct usn_cursor usn_cursor_drop(struct usn_cursor c, uint32_t n)
{
	if (n > c.len)
		n = c.len;
	c = normalize(c);
	uint32_t left = c.len - n;
	c.off += n;
	c.len = left;
	if (!left)
		return c; /* may rest at the end of its buffer; allowed at len 0 */
	return normalize(c);
}

struct usn_cursor usn_cursor_take(struct usn_cursor c, uint32_t n)
{
	if (n < c.len)
		c.len = n;
	return normalize(c);
}

/* Contiguous pieces of a view, in order, skipping empty buffers. */
struct piece_iter {
	struct usn_buf *buf;
	uint32_t off;
	size_t left;
};

static struct piece_iter pieces_of(struct usn_cursor c, size_t n)
{
	c = normalize(c);
	struct piece_iter it = {c.buf, c.off, n < c.len ? n : c.len};
	return it;
}

static bool piece_next(struct piece_iter *it, uint8_t **p, size_t *len)
{
	while (it->left && it->buf) {
		struct usn_buf *b = it->buf;
		uint32_t off = it->off;
		it->buf = b->next;
		it->off = 0;
		if (off >= b->len)
			continue;
		size_t n = b->len - off;
		if (n > it->left)
			n = it->left;
		it->left -= n;
		*p = b->data + off;
		*len = n;
		return true;
	}
	return false;
}

size_t usn_cursor_read(struct usn_cursor c, void *dst, size_t n)
{
	struct piece_iter it = pieces_of(c, n);
	uint8_t *out = dst, *p;
	size_t len, done = 0;
	while (piece_next(&it, &p, &len)) {
		memcpy(out + done, p, len);
		done += len;
	}
	return done;
}

size_t usn_cursor_write(struct usn_cursor c, const void *src, size_t n)
{
	struct piece_iter it = pieces_of(c, n);
	const uint8_t *in = src;
	uint8_t *p;
	size_t len, done = 0;
	while (piece_next(&it, &p, &len)) {
		memcpy(p, in + done, len);
		done += len;
	}
	return done;
}

const void *usn_cursor_read_with(struct usn_cursor c, uint32_t n, void *scratch)
{
	if (n > c.len)
		return NULL;
	c = normalize(c);
	if (c.buf && c.off + n <= c.buf->len)
		return c.buf->data + c.off;
	usn_cursor_read(c, scratch, n);
	return scratch;
}

void *usn_cursor_write_begin(struct usn_cursor c, uint32_t n, void *scratch)
{
	if (n > c.len)
		return NULL;
	c = normalize(c);
	if (c.buf && c.off + n <= c.buf->len)
		return c.buf->data + c.off;
	return scratch;
}

void usn_cursor_write_end(struct usn_cursor c, uint32_t n, void *scratch, void *p)
{
	if (p && p == scratch)
		usn_cursor_write(c, scratch, n);
}
