/* usn_load's body hash (load.h): 4 lanes of the xxHash64 round over
 * 32-byte blocks, fed incrementally. */
#include "load.h"

#include <string.h>

#define H_P1 0x9E3779B185EBCA87ull
#define H_P2 0xC2B2AE3D27D4EB4Full
#define H_P3 0x165667B19E3779F9ull
#define H_P4 0x85EBCA77C2B2AE63ull

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64u - r));
}

static inline uint64_t h_round(uint64_t acc, uint64_t w)
{
	acc += w * H_P2;
	acc = rotl64(acc, 31);
	return acc * H_P1;
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

void load_hash_init(struct load_hash *h)
{
	h->lane[0] = H_P1 + H_P2;
	h->lane[1] = H_P2;
	h->lane[2] = 0;
	h->lane[3] = 0 - H_P1;
	h->len = 0;
	h->tail_n = 0;
}

static inline void h_block(uint64_t lane[4], const uint8_t *p)
{
	lane[0] = h_round(lane[0], ld64(p));
	lane[1] = h_round(lane[1], ld64(p + 8));
	lane[2] = h_round(lane[2], ld64(p + 16));
	lane[3] = h_round(lane[3], ld64(p + 24));
}

void load_hash_update(struct load_hash *h, const void *data, size_t n)
{
	const uint8_t *p = data;
	h->len += n;
	if (h->tail_n) {
		size_t k = 32u - h->tail_n;
		if (k > n)
			k = n;
		memcpy(h->tail + h->tail_n, p, k);
		h->tail_n += (uint32_t)k;
		p += k;
		n -= k;
		if (h->tail_n < 32)
			return;
		h_block(h->lane, h->tail);
		h->tail_n = 0;
	}
	uint64_t l0 = h->lane[0], l1 = h->lane[1], l2 = h->lane[2], l3 = h->lane[3];
	while (n >= 32) {
		l0 = h_round(l0, ld64(p));
		l1 = h_round(l1, ld64(p + 8));
		l2 = h_round(l2, ld64(p + 16));
		l3 = h_round(l3, ld64(p + 24));
		p += 32;
		n -= 32;
	}
	h->lane[0] = l0;
	h->lane[1] = l1;
	h->lane[2] = l2;
	h->lane[3] = l3;
	if (n) {
		memcpy(h->tail, p, n);
		h->tail_n = (uint32_t)n;
	}
}

uint64_t load_hash_final(const struct load_hash *h)
{
	uint64_t a =
	    rotl64(h->lane[0], 1) + rotl64(h->lane[1], 7) + rotl64(h->lane[2], 12) + rotl64(h->lane[3], 18);
	a ^= h->len * H_P3;
	for (uint32_t i = 0; i < h->tail_n; i++)
		a = rotl64(a ^ (h->tail[i] * H_P4), 11) * H_P1;
	a ^= a >> 33;
	a *= H_P2;
	a ^= a >> 29;
	a *= H_P3;
	a ^= a >> 32;
	return a;
}

uint64_t load_hash_of(const void *p, size_t n)
{
	struct load_hash h;
	load_hash_init(&h);
	load_hash_update(&h, p, n);
	return load_hash_final(&h);
}
