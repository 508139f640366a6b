/* Test helper (tests/common): IPv6, ICMPv6 and Neighbour Discovery frames
 * built independently of lib/wire (a second implementation to check the
 * library against), for the netfix fixture's raw port. Addresses from the
 * benchmarking prefix 2001:2::/48 (RFC 5180). */
#ifndef NETFIX6_H
#define NETFIX6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usnet/stack.h"

/* The stack's global address 2001:2::1/64, the raw port's 2001:2::2, and
 * the link-local addresses their MACs make (fe80::c6:12ff:fe12:1 and :2's
 * modified EUI-64). */
extern const uint8_t netfix6_stack_ip[16];
extern const uint8_t netfix6_raw_ip[16];
extern const uint8_t netfix6_stack_ll[16];
extern const uint8_t netfix6_raw_ll[16];
extern const uint8_t netfix6_all_nodes[16];

/* A configuration with IPv6 on and netfix6_stack_ip/64; DAD as asked. */
void netfix6_config(struct usn_stack_config *cfg, bool dad);

/* The solicited-node group of a, and a group's MAC. */
void netfix6_snm(const uint8_t a[16], uint8_t out[16]);
void netfix6_group_mac(const uint8_t g[16], uint8_t mac[6]);

/* Writes the 40-byte fixed header; returns 40. */
size_t netfix6_ip(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint8_t nh, uint16_t plen,
		  uint8_t hop);
/* Fills the ICMPv6 checksum of msg[0..len) (bytes 2-3) for src and dst. */
void netfix6_icmp_csum(uint8_t *msg, size_t len, const uint8_t src[16], const uint8_t dst[16]);

/* An NS or NA message (24 bytes, plus an 8-byte link-layer option if lla):
 * type 135 or 136, flags for NA; checksum filled. Returns its length. */
size_t netfix6_nd(uint8_t *p, uint8_t type, uint8_t flags, const uint8_t target[16], const uint8_t *lla,
		  const uint8_t src[16], const uint8_t dst[16]);
/* A whole ND frame: Ethernet (eth_src -> eth_dst), IPv6 with hop limit
 * hop, the message. Returns its length. */
size_t netfix6_nd_frame(uint8_t *p, const uint8_t eth_dst[6], const uint8_t eth_src[6], const uint8_t src[16],
			const uint8_t dst[16], uint8_t hop, uint8_t type, uint8_t flags, const uint8_t target[16],
			const uint8_t *lla);
/* A whole echo frame (type 128 or 129) from eth_src to eth_dst. */
size_t netfix6_echo_frame(uint8_t *p, const uint8_t eth_dst[6], const uint8_t eth_src[6], const uint8_t src[16],
			  const uint8_t dst[16], uint8_t type, uint16_t ident, uint16_t seq, const void *data,
			  size_t len);

/* The checksum of an upper-layer message msg[0..len) with next header nh
 * from src to dst (RFC 8200 8.1), folded and complemented (0 stays 0). */
uint16_t netfix6_l4_sum(const uint8_t *msg, size_t len, const uint8_t src[16], const uint8_t dst[16], uint8_t nh);
/* A UDP datagram (8 bytes + data) from src to dst with its checksum (a
 * computed 0 sent as 0xffff); returns its length. */
size_t netfix6_udp(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint16_t sp, uint16_t dp,
		   const void *data, size_t len);
/* A whole UDP frame from eth_src to eth_dst. */
size_t netfix6_udp_frame(uint8_t *p, const uint8_t eth_dst[6], const uint8_t eth_src[6], const uint8_t src[16],
			 const uint8_t dst[16], uint16_t sp, uint16_t dp, const void *data, size_t len);
/* An ICMPv6 error (type, code, the word after the checksum) quoting
 * quote[0..qlen), from src to dst, checksum filled; returns its length. */
size_t netfix6_icmp_err(uint8_t *p, uint8_t type, uint8_t code, uint32_t rest, const void *quote, size_t qlen,
			const uint8_t src[16], const uint8_t dst[16]);

#endif
