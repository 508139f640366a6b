/* libusnet ICMPv6 error generation (lib/net, RFC 4443 2.4): the IPv6 twin
 * of icmp_error.c, for UDP's port unreachable today. The same rules in
 * their IPv6 form, a quote bounded by the IPv6 minimum MTU, and the same
 * per-worker token bucket as IPv4's errors, so the two families together
 * cannot exceed icmp_error_rate. */
#include <errno.h>
#include <string.h>

#include "net/net.h"
#include "usnet/csum.h"

/* RFC 4443 2.4 c: as much of the invoking packet as fits without the
 * error exceeding the minimum IPv6 MTU. */
#define USN_ICMP6_ERR_MAX_IP USN_IPV6_MIN_MTU

/* RFC 4443 2.4 e.6: a source that does not identify one node. Anycast
 * addresses cannot be told from the address alone (RFC 4291 2.6). */
static bool usn_icmp6_src_ok(const struct usn_stack *s, const uint8_t src[16])
{
	static const uint8_t loopback[16] = {[15] = 1};
	if (usn_ipv6_is_unspecified(src) || usn_ipv6_is_multicast(src) || memcmp(src, loopback, 16) == 0)
		return false;
	return usn_ipv6_addr_find(s, src) < 0; /* not from ourselves */
}

int usn_icmp6_error_send(struct usn_worker *w, const struct usn_buf *frame, const struct usn_ipv6_repr *ip,
			 struct usn_cursor l3, uint8_t type, uint8_t code, uint32_t rest)
{
	const struct usn_stack *s = w->stack;
	/* e.2, e.3: not for a packet to a group (IP or link layer), but for a
	 * packet too big (path MTU discovery works for multicast too) and a
	 * parameter problem about an unknown option that asks for one. */
	bool group_ok = type == USN_ICMP6_PACKET_TOO_BIG || (type == USN_ICMP6_PARAM_PROBLEM && code == 2);
	if (frame->len < 1)
		return -EPERM;
	if (!group_ok && ((frame->data[0] & 1u) || usn_ipv6_is_multicast(ip->dst)))
		return -EPERM;
	if (!usn_icmp6_src_ok(s, ip->src))
		return -EPERM;
	/* e.1: never about an ICMPv6 error, nor about a redirect. */
	if (ip->next_header == USN_IPPROTO_ICMPV6) {
		uint8_t t;
		if (usn_cursor_read(usn_cursor_drop(l3, ip->hdr_len), &t, 1) != 1 || usn_icmp6_type_is_error(t) ||
		    t == USN_ICMP6_ND_REDIRECT)
			return -EPERM;
	}
	/* The error comes from the address the packet was sent to, when it
	 * is ours to use; else from the one we would use to reach its source. */
	uint8_t src[16];
	int slot = usn_ipv6_addr_find(s, ip->dst);
	if (slot >= 0 && usn_ipv6_state(s, slot) == USN_IPV6_PREFERRED)
		memcpy(src, ip->dst, 16);
	else if (usn_ipv6_src_select(w, ip->src, src) != 0)
		return -EADDRNOTAVAIL;
	if (!usn_icmp_error_token_take(w)) {
		w->stats.icmp_errors_suppressed++;
		return -EAGAIN;
	}
	/* A control frame: it may draw on the reserve. One buffer: the quote
	 * is cut to what it holds. */
	struct usn_buf *b = usn_worker_buf_alloc_ctl(w);
	if (!b)
		return -ENOBUFS;
	uint32_t quote = usn_cursor_size(l3);
	uint32_t mtu = s->cfg.mtu < USN_ICMP6_ERR_MAX_IP ? s->cfg.mtu : USN_ICMP6_ERR_MAX_IP;
	uint32_t max = mtu > USN_IPV6_HDR_LEN + USN_ICMP6_HDR_LEN ? mtu - USN_IPV6_HDR_LEN - USN_ICMP6_HDR_LEN : 0;
	uint32_t room = b->room > USN_L4_OFF6 + USN_ICMP6_HDR_LEN ? b->room - USN_L4_OFF6 - USN_ICMP6_HDR_LEN : 0;
	if (room < max)
		max = room;
	if (quote > max)
		quote = max;
	uint8_t *p = b->data + USN_L4_OFF6;
	usn_cursor_read(l3, p + USN_ICMP6_HDR_LEN, quote);
	uint32_t l4_len = USN_ICMP6_HDR_LEN + quote;
	usn_icmp6_error_emit(type, code, rest, p, src, ip->src, l4_len,
			     usn_csum_partial(p + USN_ICMP6_HDR_LEN, quote, 0));
	b->len = (uint16_t)(USN_L4_OFF6 + l4_len);
	b->frame_len = b->len;
	int rc = usn_ipv6_output(w, b, src, ip->src, USN_IPPROTO_ICMPV6, (uint16_t)l4_len);
	if (rc == 0)
		w->stats.icmp_errors_tx++;
	return rc;
}
