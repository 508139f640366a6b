/* Test helper: weak stand-ins for the TCP hooks the link/IP layer and the
 * worker loop call, so tests link before lib/tcp exists. A strong definition
 * in libusnet.a wins whenever its object is pulled into the link (lib/core
 * /stack.c references usn_tcp_worker_create, which pulls it). */
#include <stdint.h>

#include "core/worker.h"
#include "net/net.h"

/* Each worker needs a non-NULL handle; one byte of static storage is
 * enough since nothing dereferences it. */
static char usn_tcp_weak_token;

__attribute__((weak)) void usn_tcp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip,
					  struct usn_cursor l4)
{
	(void)ip;
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
