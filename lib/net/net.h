/* libusnet link and IP layer (private): Ethernet dispatch, ARP cache and
 * resolution, IPv4 and IPv6 input and output, ICMP and ICMPv6 echo and
 * errors, Neighbour Discovery, the path MTU caches, GRO over a receive burst.
 * Sits between the wire formats below and TCP above; it calls neither TCP
 * nor the stack layer: input hands a TCP segment back to its caller
 * (lib/stack), which gives it to lib/tcp. */
#ifndef USN_NET_H
#define USN_NET_H

#include <stdatomic.h>
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

/* What input leaves for the transport above it. */
enum usn_net_verdict {
	USN_NET_DONE = 0, /* the frame was consumed: ARP, ICMP, or dropped and counted */
	USN_NET_TCP,      /* an IPv4 TCP segment for us, in *out: the caller owns the frame */
	USN_NET_ICMP_ERR, /* an ICMP error about a TCP segment we sent, in out->err: the caller owns the frame */
	USN_NET_UDP,      /* an IPv4 UDP datagram for us, in *out: the caller owns the frame */
	USN_NET_UDP6,     /* an IPv6 UDP datagram for us, in out->ip6, data, l3: the caller owns the frame */
	USN_NET_TCP6,     /* an IPv6 TCP segment for us: out->ip6, out->data; the caller owns the frame */
};
struct usn_net_l4 {
	struct usn_ipv4_repr ip;
	struct usn_cursor data; /* the IPv4 (IPv6) payload (Ethernet padding cut) */
	struct usn_icmp_err_repr err; /* USN_NET_ICMP_ERR: what it says and quotes (err.family: which IP) */
	struct usn_cursor l3;   /* UDP: the IPv4 packet, header to total_len (an ICMP error quotes it);
				 * UDP6: the IPv6 packet, fixed header to the payload's end */
	struct usn_ipv6_repr ip6; /* UDP6, TCP6 */
};

/* One received frame: Ethernet, then ARP (answered, learned) or IPv4, then
 * ICMP (echo answered) or a TCP segment handed back in *out. */
enum usn_net_verdict usn_net_input(struct usn_worker *w, struct usn_buf *frame, struct usn_net_l4 *out);
/* Before usn_net_input, once per receive burst: the in-order TCP segments
 * of each flow merged into one frame (GRO); frames merged into an earlier
 * one become NULL in the array. Counts the port's coalesced frames. */
void usn_net_gro_burst(struct usn_worker *w, struct usn_buf **frames, uint16_t n);

/* Input handlers inside the layer; each consumes frame, but for IPv4's
 * TCP verdict. `l3` and `l4` are cursors over the frame's ARP or IPv4
 * packet and its payload; `eth` is the frame's Ethernet header (ARP checks
 * its source). */
void usn_arp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth, struct usn_cursor l3);
enum usn_net_verdict usn_ipv4_input(struct usn_worker *w, struct usn_buf *frame, struct usn_cursor l3,
				    struct usn_net_l4 *out);
/* ICMP: echo answered (USN_NET_DONE), or an error about a TCP segment of
 * ours handed back in out->err (USN_NET_ICMP_ERR, the frame the caller's). */
enum usn_net_verdict usn_icmp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip,
				    struct usn_cursor l4, struct usn_net_l4 *out);

/* ARP cache lookup: true and the MAC if ip has a usable entry (reachable,
 * stale or being probed; unlike usn_arp_send, a lookup starts no probe). */
bool usn_arp_lookup(struct usn_worker *w, uint32_t ip, uint8_t mac[6]);
/* Sends frame (Ethernet header not yet written) to next_hop, resolving it
 * first if needed (see usn_ipv4_output). Takes ownership. */
void usn_arp_send(struct usn_worker *w, struct usn_buf *frame, uint32_t next_hop);

/* The path MTU cache (RFC 1191), one per worker: what "fragmentation
 * needed" taught about a destination, for pmtu_expire_ms. */
struct usn_pmtu_cache;
struct usn_pmtu_cache *usn_pmtu_create(struct usn_worker *w);
void usn_pmtu_destroy(struct usn_worker *w, struct usn_pmtu_cache *p);
/* The path MTU to dst: a live cached value, else the interface's (an
 * expired entry is dropped, pmtu_expired). */
uint16_t usn_pmtu_get(struct usn_worker *w, uint32_t dst);
/* Records that the path to dst carries at most mtu (only ever lowers a
 * live entry; a full cache replaces its oldest entry, pmtu_evicted). */
void usn_pmtu_update(struct usn_worker *w, uint32_t dst, uint16_t mtu);
/* The same for IPv6 (RFC 8201), keyed by the 16-byte destination, sized
 * and timed by the same settings; never below the IPv6 minimum MTU 1280
 * (nor pmtu_min): a lower report is recorded as 1280 (RFC 8201 4). The
 * counters are shared with IPv4's (pmtu_updates, _expired, _evicted). */
uint16_t usn_pmtu_get6(struct usn_worker *w, const uint8_t dst[16]);
void usn_pmtu_update6(struct usn_worker *w, const uint8_t dst[16], uint16_t mtu);
/* Whether usn_arp_send would take a frame for next_hop now rather than
 * drop it: the entry is usable, or the resolution queue has room. For a
 * sender that can refuse (UDP: -EAGAIN) instead of losing the frame. */
bool usn_arp_can_send(struct usn_worker *w, uint32_t next_hop);

/* ICMP errors (RFC 792, RFC 1122 3.2.2, RFC 1812 4.3.2), for any layer
 * that must report one: an error of `type` and `code` (`rest`, the word
 * after the checksum: 0, or the next-hop MTU for fragmentation needed)
 * about the received packet `l3` (its IPv4 header to total_len, parsed in
 * *ip) that arrived in `frame` (read for its Ethernet destination; not
 * taken: the caller still owns and frees it). The quote is the packet's
 * header and as much of its data as keeps the error within 576 bytes
 * (RFC 1812 4.3.2.3; at least the 8 bytes RFC 792 asks for). Nothing is
 * sent about an ICMP error, a packet to a broadcast or multicast address
 * (IP or link layer), a fragment other than the first, or a packet whose
 * source is not one host (RFC 1122 3.2.2); -EPERM then. A per-worker token
 * bucket (icmp_error_rate per second, icmp_error_burst) limits them:
 * -EAGAIN, counted in icmp_errors_suppressed. -ENOBUFS without a buffer;
 * else usn_ipv4_output's return (0: sent, counted in icmp_errors_tx). */
int usn_icmp_error_send(struct usn_worker *w, const struct usn_buf *frame, const struct usn_ipv4_repr *ip,
			struct usn_cursor l3, uint8_t type, uint8_t code, uint32_t rest);
/* The per-worker token bucket both families' errors draw on: true and one
 * token taken, or false (the caller counts icmp_errors_suppressed). */
bool usn_icmp_error_token_take(struct usn_worker *w);
/* ICMPv6 errors (RFC 4443 2.4), as usn_icmp_error_send: an error of `type`
 * and `code` (`rest`: the word after the checksum) about the received
 * packet `l3` (its IPv6 header to the payload's end, parsed in *ip) that
 * arrived in `frame` (not taken). The quote is as much of the packet as
 * keeps the error within the IPv6 minimum MTU, 1280 bytes (and within one
 * buffer). Nothing is sent (-EPERM) about an ICMPv6 error or a redirect,
 * a packet to a multicast address or in a link-layer group frame (but a
 * packet too big, RFC 4443 2.4 e.3), or a packet whose source is not one
 * node's (unspecified, multicast, loopback, ours). The same token bucket
 * as IPv4's: -EAGAIN, counted in icmp_errors_suppressed. -EADDRNOTAVAIL
 * without a usable source address, -ENOBUFS without a buffer; else
 * usn_ipv6_output's return (0: sent, counted in icmp_errors_tx). */
int usn_icmp6_error_send(struct usn_worker *w, const struct usn_buf *frame, const struct usn_ipv6_repr *ip,
			 struct usn_cursor l3, uint8_t type, uint8_t code, uint32_t rest);
/* ---- IPv6 (ipv6.c, icmp6.c, nd.c) ---- */

/* IPv6 frames the stack builds: an untagged Ethernet header, the fixed
 * IPv6 header (no extension headers), then L4. */
#define USN_L4_OFF6 (USN_ETH_HDR_LEN + USN_IPV6_HDR_LEN)

/* Sends an IPv6 packet whose L4 bytes (l4_len) are written from
 * USN_L4_OFF6 on, frame_len = USN_L4_OFF6 + l4_len, from src (one of our
 * addresses, usn_ipv6_src_select) to dst. Writes the IPv6 and Ethernet
 * headers; a multicast dst goes to its group MAC, a unicast one to its next
 * hop (on-link: itself; else gateway6), resolved by Neighbour Discovery,
 * the frame waiting in the bounded queue meanwhile (dropped and counted
 * when full or when resolution fails). Takes ownership of frame in every
 * case. Returns 0, or -EHOSTUNREACH (no route). */
int usn_ipv6_output(struct usn_worker *w, struct usn_buf *frame, const uint8_t src[16], const uint8_t dst[16],
		    uint8_t proto, uint16_t l4_len);
/* Our source address for dst (RFC 6724 in short): the link-local one for
 * link-scope destinations, else a usable global address, one on dst's
 * prefix first. 0, or -EADDRNOTAVAIL if none is usable (yet). */
int usn_ipv6_src_select(const struct usn_worker *w, const uint8_t dst[16], uint8_t src[16]);
/* The next hop for a unicast dst: dst on-link, else gateway6; false if none. */
bool usn_ipv6_next_hop(const struct usn_worker *w, const uint8_t dst[16], uint8_t hop[16]);
/* The slot of our address a in w->stack->ip6[] (any state), or -1. */
int usn_ipv6_addr_find(const struct usn_stack *s, const uint8_t a[16]);
/* An address of a neighbour on the link: link-local, or on one of our
 * prefixes, and not ours. */
bool usn_ipv6_on_link(const struct usn_stack *s, const uint8_t a[16]);
static inline uint8_t usn_ipv6_state(const struct usn_stack *s, int slot)
{
	return atomic_load_explicit(&((struct usn_stack *)(uintptr_t)s)->ip6[slot].state, memory_order_relaxed);
}

enum usn_net_verdict usn_ipv6_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth,
				    struct usn_cursor l3, struct usn_net_l4 *out);
/* ICMPv6: ND and echo answered (USN_NET_DONE), or an error about a TCP
 * segment of ours handed back in out->err (USN_NET_ICMP_ERR, family
 * USN_AF_INET6, the frame the caller's). */
enum usn_net_verdict usn_icmp6_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth,
				     const struct usn_ipv6_repr *ip, struct usn_cursor l4, struct usn_net_l4 *out);
/* A neighbour solicitation or advertisement (icmp its checked header). */
void usn_nd_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth,
		  const struct usn_ipv6_repr *ip, const struct usn_icmp6_repr *icmp, struct usn_cursor l4);
/* Neighbour cache lookup (as usn_arp_lookup). */
bool usn_nd_lookup(struct usn_worker *w, const uint8_t ip[16], uint8_t mac[6]);
/* Sends frame (IPv6 header written, Ethernet not) to next_hop, resolving
 * it first if needed. Takes ownership. */
void usn_nd_send(struct usn_worker *w, struct usn_buf *frame, const uint8_t next_hop[16]);
/* Whether usn_nd_send would take a frame for next_hop now rather than drop
 * it (as usn_arp_can_send). */
bool usn_nd_can_send(struct usn_worker *w, const uint8_t next_hop[16]);
struct usn_nd_cache *usn_nd_create(struct usn_worker *w);
void usn_nd_destroy(struct usn_worker *w, struct usn_nd_cache *nd);
/* Worker 0, at start: duplicate address detection for every tentative
 * address, then (after arp_retry_ms with no conflict) an unsolicited
 * advertisement of each; at once when DAD is off. */
void usn_nd_start(struct usn_worker *w);
/* A neighbour another worker learned (its USN_MSG_ND message). */
void usn_nd_learn_msg(struct usn_worker *w, const uint8_t ip[16], const uint8_t mac[6]);
/* A solicited advertisement that reached another worker (its USN_MSG_ND_ADV
 * message): learned here only if this worker is resolving ip. */
void usn_nd_adv_msg(struct usn_worker *w, const uint8_t ip[16], const uint8_t mac[6]);

/* ARP's per-worker state, made and freed by the stack layer. */
struct usn_arp_cache *usn_arp_create(struct usn_worker *w);
void usn_arp_destroy(struct usn_worker *w, struct usn_arp_cache *a);
/* A gratuitous ARP (worker 0, at start). */
void usn_arp_announce(struct usn_worker *w);
/* An entry another worker learned (its USN_MSG_ARP message). */
void usn_arp_learn_msg(struct usn_worker *w, uint32_t ip, const uint8_t mac[6]);

#endif
