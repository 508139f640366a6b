/* Test helper: builds and frees usn_buf chains split at given sizes
 * (tests/common/bufchain.h). Test code only: allocates freely. */
#include "bufchain.h"

#include <stdlib.h>
#include <string.h>

uint32_t bufchain_rand(uint32_t *seed)
{
	uint32_t x = *seed ? *seed : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return x;
}

static struct usn_buf *buf_new(const uint8_t *bytes, size_t len)
{
	struct usn_buf *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->data = malloc(len ? len : 1);
	if (!b->data) {
		free(b);
		return NULL;
	}
	if (len)
		memcpy(b->data, bytes, len);
	b->len = (uint16_t)len;
	b->room = (uint16_t)len;
	return b;
}

/* sizes_at(i) gives the size of buffer i. */
static struct usn_buf *build(const void *bytes, size_t len, size_t (*size_at)(void *, size_t), void *arg)
{
	const uint8_t *p = bytes;
	struct usn_buf *head = NULL, **tail = &head;
	size_t done = 0, i = 0;
	do {
		size_t n = size_at(arg, i++);
		if (n > len - done)
			n = len - done;
		if (n > UINT16_MAX)
			n = UINT16_MAX;
		struct usn_buf *b = buf_new(p + done, n);
		if (!b) {
			bufchain_free(head);
			return NULL;
		}
		*tail = b;
		tail = &b->next;
		done += n;
	} while (done < len);
	head->frame_len = (uint32_t)len;
	return head;
}

struct size_list {
	const size_t *sizes;
	size_t n;
};

static size_t list_size_at(void *arg, size_t i)
{
	struct size_list *l = arg;
	return l->sizes[i % l->n];
}

static size_t whole_size_at(void *arg, size_t i)
{
	(void)i;
	return *(size_t *)arg;
}

struct usn_buf *bufchain_new(const void *bytes, size_t len, const size_t *sizes, size_t n_sizes)
{
	size_t any = 0;
	for (size_t i = 0; i < n_sizes; i++)
		any |= sizes[i];
	if (!any) {
		size_t whole = len > UINT16_MAX ? UINT16_MAX : len;
		return build(bytes, len, whole_size_at, &whole);
	}
	struct size_list l = {sizes, n_sizes};
	return build(bytes, len, list_size_at, &l);
}

struct rand_sizes {
	size_t max;
	uint32_t *seed;
};

static size_t rand_size_at(void *arg, size_t i)
{
	struct rand_sizes *r = arg;
	/* Every 4th buffer at least 1 byte, so the chain always ends. */
	size_t n = bufchain_rand(r->seed) % (r->max + 1);
	return (i % 4 == 3 && n == 0) ? 1 : n;
}

struct usn_buf *bufchain_new_random(const void *bytes, size_t len, size_t max_size, uint32_t *seed)
{
	struct rand_sizes r = {max_size ? max_size : 1, seed};
	return build(bytes, len, rand_size_at, &r);
}

void bufchain_free(struct usn_buf *head)
{
	while (head) {
		struct usn_buf *next = head->next;
		free(head->data);
		free(head);
		head = next;
	}
}

size_t bufchain_flatten(const struct usn_buf *head, uint8_t *out, size_t cap)
{
	size_t total = 0;
	for (const struct usn_buf *b = head; b; b = b->next) {
		for (size_t i = 0; i < b->len; i++, total++)
			if (total < cap)
				out[total] = b->data[i];
	}
	return total;
}

size_t bufchain_count(const struct usn_buf *head)
{
	size_t n = 0;
	for (; head; head = head->next)
		n++;
	return n;
}
