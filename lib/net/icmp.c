/* libusnet ICMP (lib/net, RFC 792, RFC 1122 3.2.2.6): answers echo
 * requests, in the request's own buffer when it is a single one (type
 * changed, checksum updated per RFC 1624), else in a new one; hands errors
 * about our TCP segments (destination unreachable, time exceeded) back to
 * the caller for TCP, which judges them (RFC 5927). */
#include <string.h>

#include "net/net.h"
#include "usnet/csum.h"

/* A frame of total bytes for the reply: one buffer, or a chain when it
 * does not fit and the port transmits chains. NULL (counted as
 * drop_no_buf) if neither. */
static struct usn_buf *usn_icmp_alloc_frame(struct usn_worker *w, uint32_t total)
{
	struct usn_buf *head = usn_worker_buf_alloc(w);
	if (!head)
		return NULL;
	head->frame_len = total;
	if (total <= head->room) {
		head->len = (uint16_t)total;
		return head;
	}
	if (!(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG) || head->room < USN_L4_OFF + 8) {
		w->stats.drop_no_buf++; /* no buffer of that size */
		goto fail;
	}
	head->len = head->room;
	struct usn_buf *tail = head;
	for (uint32_t left = total - head->room; left;) {
		struct usn_buf *b = usn_worker_buf_alloc(w);
		if (!b || b->room == 0) {
			usn_worker_buf_free(w, b);
			goto fail;
		}
		b->len = (uint16_t)(left < b->room ? left : b->room);
		left -= b->len;
		tail->next = b;
		tail = b;
	}
	return head;
fail:
	usn_worker_buf_free(w, head);
	return NULL;
}

/* An error message: the quoted packet must be a TCP segment from our
 * address (RFC 1122 3.2.2.1: the error goes to the transport by the
 * quoted header). Everything else is counted and dropped. */
static enum usn_net_verdict usn_icmp_error(struct usn_worker *w, struct usn_buf *frame, struct usn_cursor l4,
					   uint8_t type, struct usn_net_l4 *out)
{
	if (type == USN_ICMP_DEST_UNREACH)
		w->stats.icmp_unreach_rx++;
	else
		w->stats.icmp_time_exceeded_rx++;
	if (usn_icmp_err_parse(l4, &out->err) != USN_WIRE_OK || out->err.src != w->stack->cfg.ip) {
		w->stats.drop_icmp_err_quote++;
		usn_worker_buf_free(w, frame);
		return USN_NET_DONE;
	}
	return USN_NET_ICMP_ERR;
}

enum usn_net_verdict usn_icmp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip,
				    struct usn_cursor l4, struct usn_net_l4 *out)
{
	struct usn_icmp_repr r;
	switch (usn_icmp_parse(l4, &r)) {
	case USN_WIRE_OK:
		break;
	case USN_WIRE_CSUM:
		w->stats.drop_icmp_csum++;
		goto drop;
	case USN_WIRE_SHORT:
	case USN_WIRE_VERSION:
	case USN_WIRE_HDRLEN:
	case USN_WIRE_LEN:
	case USN_WIRE_BADOPT:
	case USN_WIRE_MALFORMED:
		w->stats.drop_icmp_malformed++;
		goto drop;
	}
	if (r.type == USN_ICMP_DEST_UNREACH || r.type == USN_ICMP_TIME_EXCEEDED)
		return usn_icmp_error(w, frame, l4, r.type, out);
	if (r.type != USN_ICMP_ECHO_REQUEST || r.code != 0) {
		w->stats.drop_icmp_type++;
		goto drop;
	}
	w->stats.icmp_echo_rx++;

	uint32_t l4_len = usn_cursor_size(l4);
	uint32_t total = USN_L4_OFF + l4_len;
	struct usn_buf *reply;
	if (!frame->next && l4.buf == frame && l4.off == USN_L4_OFF) {
		/* In place: our output writes an untagged Ethernet header and a
		 * 20-byte IPv4 header exactly where the request's were. Only
		 * the type word changes (RFC 1624 update). */
		reply = frame;
		uint8_t *p = frame->data + USN_L4_OFF;
		uint16_t old_word = usn_load_be16(p);
		p[0] = USN_ICMP_ECHO_REPLY;
		uint16_t check = usn_csum_update16(usn_load_be16(p + 2), old_word, usn_load_be16(p));
		/* Eqn. 3 gives 0x0000 when the rest of the message sums to +0
		 * (all zero: ident 0, seq 0, no data), which a receiver reads
		 * as a bad sum; 0xffff (-0) is right then and valid always. */
		usn_store_be16(p + 2, check ? check : 0xffff);
		reply->len = (uint16_t)total; /* Ethernet padding is not ours to echo */
		reply->frame_len = total;
	} else {
		/* Chained, VLAN-tagged or with IP options: copy the message into
		 * a new frame, then sum it whole. */
		reply = usn_icmp_alloc_frame(w, total);
		if (!reply)
			goto drop; /* counted as drop_no_buf */
		struct usn_cursor dst = usn_cursor_drop(usn_cursor_of_frame(reply), USN_L4_OFF);
		uint8_t bounce[256];
		for (uint32_t off = 0; off < l4_len;) {
			size_t n = usn_cursor_read(usn_cursor_drop(l4, off), bounce, sizeof(bounce));
			usn_cursor_write(usn_cursor_drop(dst, off), bounce, n);
			off += (uint32_t)n;
		}
		uint8_t *p = reply->data + USN_L4_OFF; /* the 8-byte header is in the first buffer */
		p[0] = USN_ICMP_ECHO_REPLY;
		usn_store_be16(p + 2, 0);
		usn_store_be16(p + 2, usn_csum_finish(usn_cursor_csum(dst)));
		usn_worker_buf_free(w, frame);
	}
	reply->link = NULL;
	reply->flags = 0;
	if (usn_ipv4_output(w, reply, ip->src, USN_IPPROTO_ICMP, (uint16_t)l4_len) == 0)
		w->stats.icmp_echo_tx++;
	return USN_NET_DONE;
drop:
	usn_worker_buf_free(w, frame);
	return USN_NET_DONE;
}
