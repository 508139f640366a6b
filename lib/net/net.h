/* libusnet link and IP layer (private): Ethernet dispatch, ARP cache and
 * resolution, IPv4 input and output, ICMP echo. Sits between the wire
 * formats below and TCP above. */
#ifndef USN_NET_H
#define USN_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/worker.h"
#include "wire/wire.h"

/* Frames the stack builds have fixed offsets in their first buffer: an
 * untagged Ethernet header, an IPv4 header without options, then L4. */
#define USN_L3_OFF USN_ETH_HDR_LEN
#define USN_L4_OFF (USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN)

/* Sends an IPv4 packet whose L4 bytes (l4_len of them) are already written
 * from USN_L4_OFF on, with frame_len = USN_L4_OFF + l4_len. Writes the IPv4
 * and Ethernet headers, finds the next hop (on-link or the gateway) and its
 * MAC; if ARP has not resolved it yet, the frame waits in a bounded queue
 * (dropped and counted when full or when resolution fails). Takes ownership
 * of frame in every case. Returns 0, or -EHOSTUNREACH (no route). */
int usn_ipv4_output(struct usn_worker *w, struct usn_buf *frame, uint32_t dst_ip, uint8_t proto, uint16_t l4_len);

/* The next hop for dst: dst itself on-link, else the gateway; 0 if none. */
uint32_t usn_ipv4_next_hop(const struct usn_worker *w, uint32_t dst_ip);

/* Input handlers, called by the layer below; each consumes frame. `l3` and
 * `l4` are cursors over the frame's ARP or IPv4 packet and its payload;
 * `eth` is the frame's Ethernet header (ARP checks its source). */
void usn_arp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth, struct usn_cursor l3);
void usn_ipv4_input(struct usn_worker *w, struct usn_buf *frame, struct usn_cursor l3);
void usn_icmp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip, struct usn_cursor l4);
void usn_tcp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip, struct usn_cursor l4);

/* ARP cache lookup: true and the MAC if ip has a usable entry (reachable,
 * stale or being probed; unlike usn_arp_send, a lookup starts no probe). */
bool usn_arp_lookup(struct usn_worker *w, uint32_t ip, uint8_t mac[6]);
/* Sends frame (Ethernet header not yet written) to next_hop, resolving it
 * first if needed (see usn_ipv4_output). Takes ownership. */
void usn_arp_send(struct usn_worker *w, struct usn_buf *frame, uint32_t next_hop);

#endif
