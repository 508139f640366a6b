/* Test helper: weak stand-ins for the TCP hooks the link/IP layer and the
 * worker loop call, so tests linked before lib/tcp existed. They compile
 * only while lib/tcp/tcp_int.h is absent: with lib/tcp present, nothing here
 * is defined, and stack.o (usn_tcp_worker_create/destroy/shared_destroy),
 * worker.o (usn_tcp_worker_flush) and ipv4.o (usn_tcp_input) pull the real
 * objects out of libusnet.a. (Weak definitions on the command line would
 * otherwise satisfy those references, so the linker would pull a TCP member
 * only when a test names some other symbol in it: a binary could mix real
 * and stand-in hooks.) */
#if defined(__has_include)
#if __has_include("tcp/tcp_int.h")
#define USN_TEST_HAVE_TCP 1
#endif
#endif

#ifndef USN_TEST_HAVE_TCP
#include <stdint.h>

#include "core/worker.h"
#include "net/net.h"

/* Each worker needs a non-NULL handle; nothing dereferences it. */
static char usn_tcp_weak_token;

__attribute__((weak)) void usn_tcp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip,
					  const struct usn_ipv6_repr *ip6, struct usn_cursor l4)
{
	(void)ip;
	(void)ip6;
	(void)l4;
	w->stats.drop_ip_proto++; /* no TCP: as if the protocol were unknown */
	usn_worker_buf_free(w, frame);
}

__attribute__((weak)) struct usn_tcp_worker *usn_tcp_worker_create(struct usn_worker *w)
{
	(void)w;
	return (struct usn_tcp_worker *)(void *)&usn_tcp_weak_token;
}

__attribute__((weak)) void usn_tcp_worker_destroy(struct usn_worker *w, struct usn_tcp_worker *t)
{
	(void)w;
	(void)t;
}

__attribute__((weak)) void usn_tcp_shared_destroy(struct usn_stack *s)
{
	(void)s;
}

__attribute__((weak)) void usn_tcp_worker_flush(struct usn_worker *w)
{
	(void)w;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int usn_tcp_weak_unused;
#endif
