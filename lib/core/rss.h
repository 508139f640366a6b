/* libusnet RSS internals (private): the Toeplitz core behind usn_rss_hash,
 * exposed so tests can check it against the Microsoft RSS vectors. */
#ifndef USN_CORE_RSS_H
#define USN_CORE_RSS_H

#include <stddef.h>
#include <stdint.h>

/* The Toeplitz hash of input[0..len) under key[0..keylen); keylen must be
 * at least len + 4 for every input bit to see a full 32-bit key window. */
uint32_t usn_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *input, size_t len);

#endif
