/* libusnet SipHash-2-4 (private): a 64-bit keyed hash of len bytes,
 * equal to the reference implementation's output for every key and input. */
#ifndef USN_CORE_SIPHASH_H
#define USN_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t usn_siphash24(const uint64_t key[2], const void *data, size_t len);

#endif
