/* libusnet UDP API (RFC 768), over IPv4 and, when the stack has IPv6
 * addresses, over IPv6 (RFC 8200 8.1: the checksum is always sent, and a
 * datagram without one is dropped). A port is bound on every worker at once
 * and for both families, so
 * a datagram is handled by whichever worker the port's RSS (or software
 * steering) gave it, and that worker can answer. The receive handler runs
 * on that worker, to completion, after the stack has finished with the
 * datagram; it may send from that worker. Nothing here blocks or
 * allocates, and a datagram is never fragmented: one larger than the MTU
 * is refused. A datagram to a port nobody bound is answered with an ICMP
 * (ICMPv6) port unreachable, rate-limited (usnet/stack.h: icmp_error_rate,
 * one budget for both families). */
#ifndef USNET_UDP_H
#define USNET_UDP_H

#include <stdint.h>

#include "usnet/addr.h"
#include "usnet/csum.h"
#include "usnet/cursor.h"
#include "usnet/stack.h"

/* A datagram for a bound port: `peer` (USN_AF_INET or USN_AF_INET6, the
 * family it came over) and `peer_port` sent it to `local_port` (on any of
 * our addresses, or a group we joined: IPv6's all-nodes); `data` is its payload (the bytes the length field covers),
 * valid only during the call: the frame is freed when the handler returns
 * (copy what must be kept). `user` is the bind's. */
typedef void (*usn_udp_recv_fn)(struct usn_worker *w, void *user, const struct usn_addr *peer,
				uint16_t peer_port, uint16_t local_port, struct usn_cursor data);

/* A writer: fill dst (exactly the payload's bytes, maybe over chained
 * buffers) with the datagram's payload. Called once, during the send. */
typedef void (*usn_udp_write_fn)(void *arg, struct usn_cursor dst);

/* Bind `port` on every worker of the stack: datagrams to it go to fn.
 * Returns 0, -EINVAL (port 0 or fn NULL), -EADDRINUSE, or -ENOSPC
 * (udp_max_ports ports bound). The workers' tables are their own memory,
 * made at start: call it while no worker polls (before they run, or with
 * them stopped), as usn_tcp_listen. */
int usn_udp_bind(struct usn_stack *s, uint16_t port, usn_udp_recv_fn fn, void *user);
/* Unbind `port` on every worker: later datagrams to it are answered with
 * port unreachable. 0 or -ENOENT. Same calling rule as usn_udp_bind. */
int usn_udp_unbind(struct usn_stack *s, uint16_t port);

/* Send `len` bytes at `data` as one datagram from worker w, from
 * `src_port` (any, bound or not, but not 0) to dst:dst_port. The bytes are
 * read during the call (copied into the frame), so the memory may be
 * reused when it returns; `csum`, if not NULL, is a prefix-sum table over
 * exactly these bytes, so they are not summed again. An IPv6 datagram
 * goes from the source address usn_ipv6_src_select would pick (the
 * link-local one for a link-local dst). Returns 0 (the datagram is queued
 * for the port, or waits in the ARP or neighbour queue for the next hop to
 * resolve: if that fails it is dropped and counted, drop_arp_unresolved or
 * drop_nd_unresolved), -EINVAL (a port 0, data NULL with len),
 * -EAFNOSUPPORT (neither IPv4 nor IPv6, or IPv6 on a stack without it),
 * -EMSGSIZE (len exceeds usn_udp_max_payload for dst's family),
 * -EHOSTUNREACH (no route: off-link without a gateway, a broadcast,
 * multicast, unspecified or our own address), -EADDRNOTAVAIL (IPv6: no
 * usable source address yet, duplicate address detection still running),
 * -EAGAIN (the port's TX is full, or the ARP or neighbour queue is: try on
 * a later round) or -ENOBUFS (no frame buffer now). Nothing is sent on
 * error. */
int usn_udp_send_ref(struct usn_worker *w, uint16_t src_port, const struct usn_addr *dst, uint16_t dst_port,
		     const void *data, uint32_t len, const struct usn_csum_table *csum);
/* The same with the payload written by fn(arg, dst) into the frame. */
int usn_udp_send_writer(struct usn_worker *w, uint16_t src_port, const struct usn_addr *dst, uint16_t dst_port,
			uint32_t len, usn_udp_write_fn fn, void *arg);
/* The largest payload one datagram of `family` (USN_AF_INET or
 * USN_AF_INET6) can carry on this stack: the MTU less the IPv4 (IPv6) and
 * UDP headers, within what the port's buffers carry; 0 for another family. */
uint32_t usn_udp_max_payload(const struct usn_worker *w, uint8_t family);

#endif
