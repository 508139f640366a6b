/* libusnet TCP (private): what lib/tcp offers the stack layer above it,
 * which makes and frees each worker's TCP state, hands it the TCP segments
 * IPv4 and IPv6 input found, and flushes it once per poll round. The application's
 * side is include/usnet/tcp.h. */
#ifndef USN_TCP_H
#define USN_TCP_H

#include "core/worker.h"
#include "wire/wire.h"

struct usn_tcp_worker *usn_tcp_worker_create(struct usn_worker *w);
void usn_tcp_worker_destroy(struct usn_worker *w, struct usn_tcp_worker *t);
/* The listeners every worker shares (usn_tcp_listen). */
void usn_tcp_shared_destroy(struct usn_stack *s);
/* One received segment (usn_net_input's USN_NET_TCP or USN_NET_TCP6): the
 * frame, its IPv4 header (ip) or its IPv6 header (ip6: our unicast address,
 * extension headers walked), the other NULL, and its payload. One entry
 * for both families, so the IPv4 path stays one piece of code. Consumes
 * the frame. */
void usn_tcp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip,
		   const struct usn_ipv6_repr *ip6, struct usn_cursor l4);
/* An ICMP error quoting one of this worker's connections (usn_net_input's
 * USN_NET_ICMP_ERR): checked against the connection (RFC 5927), then path
 * MTU (RFC 1191), a hard error in SYN-SENT, or a soft error recorded. */
void usn_tcp_icmp_error(struct usn_worker *w, const struct usn_icmp_err_repr *e);
/* Called once per poll round after input and timers, before the TX flush
 * (sends what the windows now allow, delayed work). */
void usn_tcp_worker_flush(struct usn_worker *w);

#endif
