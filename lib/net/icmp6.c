/* libusnet ICMPv6 (lib/net, RFC 4443): checks every message's checksum,
 * hands Neighbour Discovery to nd.c, answers echo requests to our usable
 * unicast addresses (in the request's own buffer when it can, as ICMP for
 * IPv4 does), hands errors about our TCP segments (destination
 * unreachable, packet too big, time exceeded) back to the caller for TCP
 * (RFC 4443 2.4 d, RFC 8201, RFC 5927), and counts the other types. */
#include <string.h>

#include "net/net.h"
#include "usnet/csum.h"

/* A frame of total bytes: one buffer, or a chain when the port transmits
 * chains. NULL (counted as drop_no_buf) if neither. */
static struct usn_buf *usn_icmp6_alloc_frame(struct usn_worker *w, uint32_t total)
{
	struct usn_buf *head = usn_worker_buf_alloc(w);
	if (!head)
		return NULL;
	head->frame_len = total;
	if (total <= head->room) {
		head->len = (uint16_t)total;
		return head;
	}
	if (!(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG) || head->room < USN_L4_OFF6 + USN_ICMP6_HDR_LEN) {
		w->stats.drop_no_buf++;
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

static void usn_icmp6_echo(struct usn_worker *w, struct usn_buf *frame, const struct usn_ipv6_repr *ip,
			   struct usn_cursor l4)
{
	const struct usn_stack *s = w->stack;
	int slot = usn_ipv6_addr_find(s, ip->dst);
	/* To a group, or to an address not (yet) ours to use: no answer. */
	if (slot < 0 || usn_ipv6_state(s, slot) != USN_IPV6_PREFERRED) {
		w->stats.drop_icmp6_type++;
		goto drop;
	}
	w->stats.icmp6_echo_rx++;
	uint32_t l4_len = usn_cursor_size(l4);
	uint32_t total = USN_L4_OFF6 + l4_len;
	struct usn_buf *reply;
	if (!frame->next && l4.buf == frame && l4.off == USN_L4_OFF6) {
		/* In place: output writes an untagged Ethernet header and the
		 * fixed IPv6 header where the request's were. The pseudo-header
		 * sums the same with the addresses swapped, so only the type
		 * word changes (RFC 1624). */
		reply = frame;
		uint8_t *p = frame->data + USN_L4_OFF6;
		uint16_t old_word = usn_load_be16(p);
		p[0] = USN_ICMP6_ECHO_REPLY;
		uint16_t check = usn_csum_update16(usn_load_be16(p + 2), old_word, usn_load_be16(p));
		usn_store_be16(p + 2, check ? check : 0xffff);
		reply->len = (uint16_t)total;
		reply->frame_len = total;
	} else {
		/* Chained, VLAN-tagged or with extension headers: copy. */
		reply = usn_icmp6_alloc_frame(w, total);
		if (!reply)
			goto drop;
		struct usn_cursor dst = usn_cursor_drop(usn_cursor_of_frame(reply), USN_L4_OFF6);
		uint8_t bounce[256];
		for (uint32_t off = 0; off < l4_len;) {
			size_t n = usn_cursor_read(usn_cursor_drop(l4, off), bounce, sizeof(bounce));
			usn_cursor_write(usn_cursor_drop(dst, off), bounce, n);
			off += (uint32_t)n;
		}
		uint8_t *p = reply->data + USN_L4_OFF6;
		p[0] = USN_ICMP6_ECHO_REPLY;
		usn_store_be16(p + 2, 0);
		uint32_t sum = usn_csum_add(usn_cursor_csum(dst),
					    usn_csum_pseudo6(ip->dst, ip->src, USN_IPPROTO_ICMPV6, l4_len));
		usn_store_be16(p + 2, usn_csum_finish(sum));
		usn_worker_buf_free(w, frame);
	}
	reply->link = NULL;
	reply->flags = 0;
	if (usn_ipv6_output(w, reply, ip->dst, ip->src, USN_IPPROTO_ICMPV6, (uint16_t)l4_len) == 0)
		w->stats.icmp6_echo_tx++;
	return;
drop:
	usn_worker_buf_free(w, frame);
}

/* An error message: the quoted packet must be a TCP segment from one of
 * our addresses (RFC 4443 2.4 d: the error goes to the transport by the
 * quoted header). Everything else is counted and dropped. */
static enum usn_net_verdict usn_icmp6_error(struct usn_worker *w, struct usn_buf *frame, struct usn_cursor l4,
					    uint8_t type, struct usn_net_l4 *out)
{
	switch (type) {
	case USN_ICMP6_DEST_UNREACH:
		w->stats.icmp6_unreach_rx++;
		break;
	case USN_ICMP6_PACKET_TOO_BIG:
		w->stats.icmp6_pkt_too_big_rx++;
		break;
	default:
		w->stats.icmp6_time_exceeded_rx++;
		break;
	}
	if (usn_icmp6_err_parse(l4, &out->err) != USN_WIRE_OK || usn_ipv6_addr_find(w->stack, out->err.src6) < 0) {
		w->stats.drop_icmp6_err_quote++;
		usn_worker_buf_free(w, frame);
		return USN_NET_DONE;
	}
	return USN_NET_ICMP_ERR;
}

enum usn_net_verdict usn_icmp6_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth,
				     const struct usn_ipv6_repr *ip, struct usn_cursor l4, struct usn_net_l4 *out)
{
	struct usn_icmp6_repr r;
	switch (usn_icmp6_parse(l4, ip->src, ip->dst, &r)) {
	case USN_WIRE_OK:
		break;
	case USN_WIRE_CSUM:
		w->stats.drop_icmp6_csum++;
		goto drop;
	case USN_WIRE_SHORT:
	case USN_WIRE_VERSION:
	case USN_WIRE_HDRLEN:
	case USN_WIRE_LEN:
	case USN_WIRE_BADOPT:
	case USN_WIRE_MALFORMED:
		w->stats.drop_icmp6_malformed++;
		goto drop;
	}
	switch (r.type) {
	case USN_ICMP6_ND_NS:
	case USN_ICMP6_ND_NA:
		usn_nd_input(w, frame, eth, ip, &r, l4);
		return USN_NET_DONE;
	case USN_ICMP6_ECHO_REQUEST:
		if (r.code == 0) {
			usn_icmp6_echo(w, frame, ip, l4);
			return USN_NET_DONE;
		}
		break;
	case USN_ICMP6_DEST_UNREACH:
	case USN_ICMP6_PACKET_TOO_BIG:
	case USN_ICMP6_TIME_EXCEEDED:
		return usn_icmp6_error(w, frame, l4, r.type, out);
	default:
		break;
	}
	/* Parameter problems, router and multicast-listener messages,
	 * replies: counted. */
	w->stats.drop_icmp6_type++;
drop:
	usn_worker_buf_free(w, frame);
	return USN_NET_DONE;
}
