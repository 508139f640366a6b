/* libusnet UDP (private): what lib/udp offers the stack layer above it,
 * which makes and frees each worker's port table and hands it the UDP
 * datagrams IPv4 and IPv6 input found. The application's side is
 * include/usnet/udp.h. */
#ifndef USN_UDP_H
#define USN_UDP_H

#include "core/worker.h"
#include "net/net.h"

struct usn_udp_worker *usn_udp_worker_create(struct usn_worker *w);
void usn_udp_worker_destroy(struct usn_worker *w, struct usn_udp_worker *u);
/* One received datagram (usn_net_input's USN_NET_UDP). Consumes the frame:
 * to the bound port's handler, else answered with port unreachable. */
void usn_udp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_net_l4 *l4);
/* The same for an IPv6 datagram (USN_NET_UDP6): a zero checksum is
 * dropped (RFC 8200 8.1), port unreachable is ICMPv6's. */
void usn_udp_input6(struct usn_worker *w, struct usn_buf *frame, const struct usn_net_l4 *l4);

#endif
