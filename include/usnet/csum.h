/* libusnet Internet checksum (RFC 1071): a 64-bit accumulator, incremental
 * update (RFC 1624), and prefix-sum tables for preloaded data, so the sum of
 * any byte range of a page costs two lookups (the Rusty design). */
#ifndef USNET_CSUM_H
#define USNET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Partial sums are uint32_t values holding an unfolded ones'-complement sum
 * of big-endian 16-bit words; fold them with usn_csum_fold. */

/* Sum of len bytes as if they started at an even offset; `sum` is added in. */
uint32_t usn_csum_partial(const void *data, size_t len, uint32_t sum);
/* Add two partial sums. */
uint32_t usn_csum_add(uint32_t a, uint32_t b);
/* The partial sum of a block that sits at an odd offset of a larger sum
 * (its bytes swap lanes). */
uint32_t usn_csum_swap(uint32_t sum);
/* Fold to 16 bits, not complemented. */
uint16_t usn_csum_fold(uint32_t sum);
/* The checksum field value: ~fold(sum), in host order. */
uint16_t usn_csum_finish(uint32_t sum);
/* RFC 1624 eqn. 3: the new checksum field after one 16-bit word changed
 * from old_word to new_word (all in host order). */
uint16_t usn_csum_update16(uint16_t check, uint16_t old_word, uint16_t new_word);
/* The TCP/UDP pseudo-header sum (RFC 9293 3.1); addresses in host order. */
uint32_t usn_csum_pseudo(uint32_t src_ip, uint32_t dst_ip, uint8_t proto, uint16_t l4_len);
/* The IPv6 pseudo-header sum (RFC 8200 8.1): source, destination (16 bytes
 * each, network order), the upper-layer length and next header; combine it
 * with a data sum (usn_csum_add), a table's range sum included. */
uint32_t usn_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t l4_len);

/* A prefix-sum table over immutable bytes: entry k is the folded sum of the
 * first 2k bytes. Build once (at page load), then ask for any range. */
struct usn_csum_table {
	const uint8_t *data;
	size_t len;
	uint16_t *prefix; /* len / 2 + 1 entries */
};

/* Fills `t` for data[0..len); the table memory comes from malloc (start-up
 * only). Returns 0 or -ENOMEM. */
int usn_csum_table_build(struct usn_csum_table *t, const void *data, size_t len);
void usn_csum_table_free(struct usn_csum_table *t);
/* Partial sum of data[off..off+len) as if it started at an even offset,
 * equal to usn_csum_partial(data + off, len, 0) after folding; O(1). */
uint32_t usn_csum_table_range(const struct usn_csum_table *t, size_t off, size_t len);

#endif
