/* libusnet ICMP (lib/net, RFC 792, RFC 1122 3.2.2.6): answers echo
 * requests, in the request's own buffer when it is a single one (type
 * changed, checksum updated per RFC 1624), else in a new one. */
#include <string.h>

#include "net/net.h"
#include "usnet/csum.h"

void usn_icmp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv4_repr *ip, struct usn_cursor l4)
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
	if (r.type != USN_ICMP_ECHO_REQUEST || r.code != 0) {
		w->stats.drop_icmp_type++;
		goto drop;
	}
	w->stats.icmp_echo_rx++;

	uint32_t l4_len = usn_cursor_size(l4);
	struct usn_buf *reply;
	if (!frame->next && l4.buf == frame && l4.off == USN_L4_OFF) {
		/* In place: our output writes an untagged Ethernet header and a
		 * 20-byte IPv4 header, exactly where the request's were. Only
		 * the type word changes (0x0800 -> 0x0000). */
		reply = frame;
		uint8_t *p = frame->data + USN_L4_OFF;
		uint16_t old_word = usn_load_be16(p);
		p[0] = USN_ICMP_ECHO_REPLY;
		usn_store_be16(p + 2, usn_csum_update16(usn_load_be16(p + 2), old_word, usn_load_be16(p)));
	} else {
		/* Chained, tagged or with IP options: copy the message into a
		 * fresh buffer and sum it again. */
		reply = usn_worker_buf_alloc(w);
		if (!reply)
			goto drop;
		if ((uint32_t)reply->room < USN_L4_OFF + l4_len) {
			w->stats.drop_icmp_malformed++;
			usn_worker_buf_free(w, reply);
			goto drop;
		}
		uint8_t *p = reply->data + USN_L4_OFF;
		usn_cursor_read(l4, p, l4_len);
		struct usn_icmp_repr out = {.type = USN_ICMP_ECHO_REPLY, .code = 0, .ident = r.ident, .seq = r.seq};
		usn_icmp_emit(&out, p, usn_csum_partial(p + 8, l4_len - 8, 0));
		usn_worker_buf_free(w, frame);
	}
	reply->next = NULL;
	reply->link = NULL;
	reply->flags = 0;
	reply->len = (uint16_t)(USN_L4_OFF + l4_len);
	reply->frame_len = USN_L4_OFF + l4_len;
	if (usn_ipv4_output(w, reply, ip->src, USN_IPPROTO_ICMP, (uint16_t)l4_len) == 0)
		w->stats.icmp_echo_tx++;
	return;
drop:
	usn_worker_buf_free(w, frame);
}
