/* Test helper (tests/common): builders for raw Ethernet/ARP/IPv4/ICMP frames
 * written independently of lib/wire (so tests check the library against a
 * second implementation), and a fixture of one stack plus a raw capture
 * port on a simulated link. */
#ifndef NETFIX_H
#define NETFIX_H

#include <stddef.h>
#include <stdint.h>

#include "simnet.h"

#define NETFIX_STACK_IP SIMNET_IP(0, 1)
#define NETFIX_RAW_IP SIMNET_IP(0, 2)

extern const uint8_t netfix_stack_mac[6]; /* 02:00:c6:12:00:01 */
extern const uint8_t netfix_raw_mac[6];   /* 02:00:c6:12:00:02 */
extern const uint8_t netfix_bcast[6];

/* RFC 1071 checksum of len bytes, folded and complemented. */
uint16_t netfix_csum(const void *p, size_t len);
/* Writes a 14-byte Ethernet header; returns 14. */
size_t netfix_eth(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t type);
/* Writes 28 bytes of ARP; returns 28. */
size_t netfix_arp(uint8_t *p, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa);
/* Writes a 20-byte IPv4 header with a correct checksum; returns 20. */
size_t netfix_ipv4(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, uint16_t payload_len, uint8_t ttl,
		   uint16_t id, uint16_t frag);
/* Writes an ICMP echo (8 bytes + data) with a correct checksum; returns its length. */
size_t netfix_icmp_echo(uint8_t *p, uint8_t type, uint16_t ident, uint16_t seq, const void *data, size_t len);
/* A whole frame: Ethernet (raw -> stack) + IPv4 + ICMP echo request. */
size_t netfix_ping_frame(uint8_t *p, uint16_t ident, uint16_t seq, const void *data, size_t len);
/* A whole ARP frame from the raw port, padded to 60 bytes. */
size_t netfix_arp_frame(uint8_t *p, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6], uint32_t spa,
			const uint8_t tha[6], uint32_t tpa);

/* One stack (NETFIX_STACK_IP) and one raw port (NETFIX_RAW_IP's MAC) that
 * the test drives by hand. */
struct netfix {
	struct simnet net;
	struct simnet_host *host;
	struct usn_worker *w;
	struct usn_sim_port *raw;
	uint8_t cap[2048]; /* the last frame captured */
	size_t cap_len;
};

/* cfg/pcfg may be NULL; leaves the stack's gratuitous ARP unread. */
void netfix_setup(struct netfix *f, const struct usn_stack_config *cfg, const struct usn_sim_port_config *pcfg);
void netfix_teardown(struct netfix *f);
/* Sends bytes from the raw port and lets the stack handle them (no time passes). */
void netfix_inject(struct netfix *f, const void *frame, size_t len);
/* Takes the next frame delivered to the raw port into f->cap; returns its length (0: none). */
size_t netfix_capture(struct netfix *f);
/* Runs the link until the raw port receives a frame (captured into f->cap)
 * or max_us passes; returns the frame's length (0: none). */
size_t netfix_wait_frame(struct netfix *f, uint64_t max_us);
/* Drains every frame waiting at the raw port; returns how many. */
unsigned netfix_drain(struct netfix *f);

#endif
