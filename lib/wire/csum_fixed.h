/* libusnet fixed-length checksum fast paths (private to lib/wire): the
 * option-less 20-byte IPv4 header, summed with five loads instead of the
 * general usn_csum_partial loop. Options-bearing headers keep the general path. */
#ifndef USN_WIRE_CSUM_FIXED_H
#define USN_WIRE_CSUM_FIXED_H

#include <stdint.h>
#include <string.h>

/* The folded, uncomplemented sum of the 20 bytes at p (any alignment), in
 * host order: equal to usn_csum_fold(usn_csum_partial(p, 20, 0)) for every
 * input, 0 only for all-zero bytes. A parse checks for 0xffff, an emit
 * stores the complement. Inline because it runs twice per frame. */
static inline uint16_t usn_csum_ipv4_hdr20(const uint8_t *p)
{
	/* Five native-order 32-bit words: their plain sum fits in 35 bits, so
	 * no carry is lost before the fold (RFC 1071 2(C): fold the carries in
	 * at the end). memcpy keeps unaligned loads legal and is one load. */
	uint32_t w0, w1, w2, w3, w4;
	memcpy(&w0, p, 4);
	memcpy(&w1, p + 4, 4);
	memcpy(&w2, p + 8, 4);
	memcpy(&w3, p + 12, 4);
	memcpy(&w4, p + 16, 4);
	uint64_t s = (uint64_t)w0 + w1 + w2 + w3 + w4;
	s = (s & 0xffffffffu) + (s >> 32); /* <= 2^32 + 3 */
	s = (s & 0xffffu) + (s >> 16);	   /* <= 0x1fffe (0x10003 if above 2^32) */
	s = (s & 0xffffu) + (s >> 16);	   /* <= 0xffff */
	/* The sum of native-order words is the big-endian sum up to a byte
	 * swap (RFC 1071 2(B)); reading the folded lanes back as bytes undoes
	 * it on either byte order (a rotate on little-endian, nothing on big). */
	uint16_t n = (uint16_t)s;
	uint8_t b[2];
	memcpy(b, &n, 2);
	return (uint16_t)((b[0] << 8) | b[1]);
}

#endif
