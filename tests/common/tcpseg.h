/* Test helper (tests/common): TCP segments as the peer of a stack sees
 * them. A segment template with field overrides is built into a raw
 * Ethernet/IPv4/TCP or Ethernet/IPv6/TCP frame (independently of lib/wire)
 * and sent from the netfix raw port; the stack's replies are parsed back,
 * checksums checked. */
#ifndef TCPSEG_H
#define TCPSEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netfix.h"

#define TSEG_FIN 0x01
#define TSEG_SYN 0x02
#define TSEG_RST 0x04
#define TSEG_PSH 0x08
#define TSEG_ACK 0x10

struct tseg {
	uint16_t src_port, dst_port;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	bool has_mss;
	uint16_t mss;
	bool has_ws;
	uint8_t ws;
	bool sack_perm;
	bool has_ts;
	uint32_t tsval, tsecr;
	uint8_t n_sack;
	uint32_t sack[4][2]; /* [left, right) */
	const uint8_t *payload; /* sending */
	uint32_t len;
	bool bad_csum; /* sending: corrupt the TCP checksum */
	/* Over IPv6: sending, from src6 (NULL: netfix6_raw_ip) to
	 * netfix6_stack_ip; receiving, it came over IPv6 (src_ip6, dst_ip6). */
	bool v6;
	const uint8_t *src6;
	/* receiving */
	uint8_t data[9000];
	bool csum_ok;
	uint32_t src_ip, dst_ip;
	uint8_t src_ip6[16], dst_ip6[16];
};

/* Writes the whole frame (raw port -> stack); returns its length. */
size_t tseg_build(uint8_t *frame, const struct tseg *s, uint32_t src_ip, uint32_t dst_ip);
/* Parses an Ethernet/IPv4/TCP or Ethernet/IPv6/TCP frame (no extension
 * headers); false if it is neither. */
bool tseg_parse(const uint8_t *frame, size_t len, struct tseg *out);
/* Sends s from the raw port (NETFIX_RAW_IP -> NETFIX_STACK_IP) and lets
 * the stack process it (no virtual time passes). */
void tseg_send(struct netfix *f, const struct tseg *s);
/* Puts s on the link from the raw port without letting the stack run:
 * segments queued back to back reach it in one RX burst (up to
 * USN_RX_BURST of them) at the next tseg_advance. */
void tseg_queue(struct netfix *f, const struct tseg *s);
/* The next TCP frame the stack sent to the raw port (ARP requests and
 * neighbour solicitations for the raw port's addresses are answered on the
 * way); false if none is waiting. */
bool tseg_recv(struct netfix *f, struct tseg *out);
/* Teaches the stack the raw port's MAC (an ARP request from it) and drains. */
void tseg_seed_arp(struct netfix *f);
/* Teaches the stack the raw port's MAC for netfix6_raw_ip (a neighbour
 * solicitation from it, RFC 4861 7.2.3) and drains. */
void tseg_seed_nd(struct netfix *f);
/* Advances the virtual clock by us, polling at every event. */
void tseg_advance(struct netfix *f, uint64_t us);

#endif
