/* libusnet addresses: an IPv4 or IPv6 address tagged with its family. */
#ifndef USNET_ADDR_H
#define USNET_ADDR_H

#include <stdint.h>

/* An IP address tagged with its family, for the APIs that take either
 * (UDP; TCP's usn_tcp_connect_addr and usn_tcp_info). Where a call does
 * not carry IPv6 (or the stack has no IPv6 address) it refuses a
 * USN_AF_INET6 address with -EAFNOSUPPORT, and says so. */
enum usn_addr_family {
	USN_AF_INET = 4,
	USN_AF_INET6 = 6,
};
struct usn_addr {
	uint8_t family; /* enum usn_addr_family */
	union {
		uint32_t v4;    /* host order */
		uint8_t v6[16]; /* network order */
	} u;
};
/* An IPv4 address, host order. */
static inline struct usn_addr usn_addr_ipv4(uint32_t ip)
{
	struct usn_addr a = {.family = USN_AF_INET, .u = {.v4 = ip}};
	return a;
}
/* An IPv6 address, 16 bytes in network order. */
static inline struct usn_addr usn_addr_ipv6(const uint8_t ip6[16])
{
	struct usn_addr a = {.family = USN_AF_INET6};
	for (int i = 0; i < 16; i++)
		a.u.v6[i] = ip6[i];
	return a;
}

#endif
