/* libusnet flow hash: the Toeplitz hash of the Microsoft RSS spec (as DPDK's
 * rte_softrss) over the IPv4/TCP 4-tuple with a symmetric key, a 16-bit
 * period the port chose at start, so both directions of a flow land on the
 * same worker (hal.h); the test that rejects keys that spread badly; and
 * the flow-to-worker map, through the port's RSS or software steering. */
#include "core/rss.h"

#include <stdbool.h>
#include <string.h>

#include "core/siphash.h"
#include "core/worker.h"
#include "usnet/hal.h"
#include "usnet/stack.h"

uint32_t usn_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *input, size_t len)
{
	/* For every set bit i of the input (MSB first), XOR in the 32 key bits
	 * starting at bit i. The key must hold len * 8 + 32 bits. */
	uint32_t hash = 0;
	if (keylen < 4)
		return 0;
	uint32_t window =
	    ((uint32_t)key[0] << 24) | ((uint32_t)key[1] << 16) | ((uint32_t)key[2] << 8) | key[3];
	for (size_t j = 0; j < len; j++) {
		uint8_t next = j + 4 < keylen ? key[j + 4] : 0;
		for (int b = 7; b >= 0; b--) {
			if (input[j] & (1u << b))
				hash ^= window;
			window = (window << 1) | ((next >> b) & 1u);
		}
	}
	return hash;
}

static inline uint16_t rotl16(uint16_t x, unsigned s)
{
	s &= 15u;
	return s ? (uint16_t)((x << s) | (x >> (16u - s))) : x;
}

/* With a key whose bits repeat every 16, the 32 key bits that input bit i
 * XORs in depend only on i mod 16: the two halves of the window are both
 * rotl16(key, i mod 16). Bit b of a 16-bit word of the input sits at
 * i mod 16 = 15 - b whatever the word, so the hash is the same linear map
 * applied to the XOR of the six 16-bit words (the fold), and swapping the
 * two addresses and the two ports leaves the fold, hence the hash, as it
 * was. The price: flows with equal folds share a worker under every key. */
static uint16_t rss_fold_hash(uint16_t key, uint16_t fold)
{
	uint16_t h = 0, r = key; /* r: the window of input bit b = 15 */
	for (int b = 15; b >= 0; b--) {
		h ^= (uint16_t)(r & (uint16_t)-(int)((fold >> b) & 1u));
		r = rotl16(r, 1);
	}
	return h;
}

static uint16_t rss_fold(uint32_t ip_a, uint32_t ip_b, uint16_t port_a, uint16_t port_b)
{
	return (uint16_t)((ip_a >> 16) ^ ip_a ^ (ip_b >> 16) ^ ip_b ^ port_a ^ port_b);
}

uint32_t usn_rss_hash(uint16_t key, uint32_t ip_a, uint32_t ip_b, uint16_t port_a, uint16_t port_b)
{
	uint32_t h = rss_fold_hash(key, rss_fold(ip_a, ip_b, port_a, port_b));
	return h << 16 | h;
}

uint32_t usn_rss_hash6(uint16_t key, const uint8_t ip_a[16], const uint8_t ip_b[16], uint16_t port_a,
		       uint16_t port_b)
{
	/* The input is 36 bytes: every 16-bit word sits at an even bit offset
	 * of 16, so the fold argument above holds word for word. */
	uint16_t fold = (uint16_t)(port_a ^ port_b);
	for (int i = 0; i < 16; i += 2)
		fold ^= (uint16_t)(((ip_a[i] ^ ip_b[i]) << 8) | (ip_a[i + 1] ^ ip_b[i + 1]));
	uint32_t h = rss_fold_hash(key, fold);
	return h << 16 | h;
}

/* Rank over GF(2) of up to 16 vectors of 16 bits. */
static unsigned gf2_rank(uint16_t *v, unsigned n)
{
	unsigned r = 0;
	for (unsigned bit = 0; bit < 16 && r < n; bit++) {
		unsigned piv = r;
		while (piv < n && !((v[piv] >> bit) & 1u))
			piv++;
		if (piv == n)
			continue;
		uint16_t t = v[piv];
		v[piv] = v[r];
		v[r] = t;
		for (unsigned i = 0; i < n; i++)
			if (i != r && ((v[i] >> bit) & 1u))
				v[i] ^= v[r];
		r++;
	}
	return r;
}

bool usn_rss_key_ok(uint16_t key)
{
	/* Odd weight: the map from fold to hash is then a bijection (the key
	 * as a polynomial is prime to x^16 + 1 = (x + 1)^16); even weight
	 * (0x0000, 0xffff, ...) loses at least one bit for every flow. */
	unsigned w = 0;
	for (uint16_t k = key; k; k &= (uint16_t)(k - 1))
		w++;
	if (!(w & 1u))
		return false;
	/* usn_rss_queue reads the hash's low 7 bits. Flows that differ only in
	 * 7 consecutive bits of the fold (one client's ports, a block of
	 * addresses) must spread evenly over any 2, 4, ... 64 queues and reach
	 * at least 64 of the 128 entries: the map from those 7 fold bits onto
	 * the hash's low 6 bits must have rank 6 (then onto the low m bits it
	 * has rank m). 0x0001, for one, sends the low bits of every port to
	 * the high bits of the hash, which no queue choice reads. */
	for (unsigned lo = 0; lo + 7 <= 16; lo++) {
		uint16_t v[7];
		for (unsigned j = 0; j < 7; j++)
			v[j] = (uint16_t)(rss_fold_hash(key, (uint16_t)(1u << (lo + j))) & 63u);
		if (gf2_rank(v, 7) < 6)
			return false;
	}
	return true;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint16_t usn_rss_key_from(uint64_t seed)
{
	/* Rejection sampling, so every acceptable key is equally likely. About
	 * 13% of the 65,536 periods pass (8,515): a few draws. */
	for (unsigned i = 0; i < 4096; i++) {
		uint64_t x = splitmix64(&seed);
		for (unsigned j = 0; j < 4; j++, x >>= 16)
			if (usn_rss_key_ok((uint16_t)x))
				return (uint16_t)x;
	}
	return 0x6d5a; /* the classic symmetric key; not reached (0.87^16384) */
}

void usn_rss_key_expand(uint16_t key, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (i & 1u) ? (uint8_t)key : (uint8_t)(key >> 8);
}

/* The worker a flow belongs to (include/usnet/stack.h): here on the ground
 * floor, since both the stack layer (software steering) and TCP (active
 * open's source port) ask it. */
uint16_t usn_stack_flow_worker(const struct usn_stack *s, uint32_t ip_a, uint16_t port_a, uint32_t ip_b,
			       uint16_t port_b)
{
	if (s->n_workers < 2)
		return 0;
	if (!s->software_rss)
		return usn_rss_queue(usn_rss_hash(s->hal->rss_key, ip_a, ip_b, port_a, port_b), s->n_workers);
	/* Software steering: no NIC has to agree, so a keyed hash of the
	 * 4-tuple in a fixed order (the lower endpoint first) replaces the
	 * Toeplitz one, whose 16-bit key and XOR fold a remote host can work
	 * around. One SipHash per frame worker 0 steers. */
	uint8_t b[12];
	bool swap = ip_a > ip_b || (ip_a == ip_b && port_a > port_b);
	uint32_t ip_lo = swap ? ip_b : ip_a, ip_hi = swap ? ip_a : ip_b;
	uint16_t port_lo = swap ? port_b : port_a, port_hi = swap ? port_a : port_b;
	for (int i = 0; i < 4; i++) {
		b[i] = (uint8_t)(ip_lo >> (24 - 8 * i));
		b[4 + i] = (uint8_t)(ip_hi >> (24 - 8 * i));
	}
	b[8] = (uint8_t)(port_lo >> 8);
	b[9] = (uint8_t)port_lo;
	b[10] = (uint8_t)(port_hi >> 8);
	b[11] = (uint8_t)port_hi;
	return usn_rss_queue((uint32_t)usn_siphash24(s->steer_key, b, sizeof b), s->n_workers);
}

uint16_t usn_stack_flow_worker6(const struct usn_stack *s, const uint8_t ip_a[16], uint16_t port_a,
				const uint8_t ip_b[16], uint16_t port_b)
{
	if (s->n_workers < 2)
		return 0;
	/* A port that spreads flows itself does it for IPv4 only here (DPDK's
	 * hash types, the packet port's fanout program, the simulated port):
	 * its IPv6 frames all reach queue 0, so their flows are worker 0's.
	 * (usn_rss_hash6 is what a port hashing IPv6/TCP would compute.) */
	if (!s->software_rss)
		return 0;
	/* As for IPv4: the lower endpoint first, then one SipHash. */
	uint8_t b[36];
	int cmp = memcmp(ip_a, ip_b, 16);
	bool swap = cmp > 0 || (cmp == 0 && port_a > port_b);
	memcpy(b, swap ? ip_b : ip_a, 16);
	memcpy(b + 16, swap ? ip_a : ip_b, 16);
	uint16_t port_lo = swap ? port_b : port_a, port_hi = swap ? port_a : port_b;
	b[32] = (uint8_t)(port_lo >> 8);
	b[33] = (uint8_t)port_lo;
	b[34] = (uint8_t)(port_hi >> 8);
	b[35] = (uint8_t)port_hi;
	return usn_rss_queue((uint32_t)usn_siphash24(s->steer_key, b, sizeof b), s->n_workers);
}
