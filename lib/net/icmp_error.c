/* libusnet ICMP error generation (lib/net, RFC 1122 3.2.2, RFC 1812
 * 4.3.2): the one function every layer reports an error with (UDP's port
 * unreachable today), the rules that forbid one, and the per-worker token
 * bucket that limits them, so a flood of datagrams to closed ports cannot
 * turn the stack into a reflector. */
#include <errno.h>

#include "net/net.h"
#include "usnet/csum.h"

/* RFC 1812 4.3.2.3: an error carries as much of the packet as keeps the
 * whole IP datagram within 576 bytes, the minimum reassembly size. */
#define USN_ICMP_ERR_MAX_IP 576u
#define USN_ICMP_ERR_HDR_LEN 8u
/* A token is 1,000,000 credit units: the bucket gains `rate` units per
 * microsecond, so a rate per second needs no division on the hot path. */
#define USN_ICMP_TOKEN 1000000u

/* RFC 1122 3.2.2 and 3.3.6: an address that is not one host's. */
static bool usn_icmp_src_ok(const struct usn_stack_config *cfg, uint32_t src)
{
	uint32_t mask = cfg->prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> cfg->prefix_len);
	if (src == 0 || (src >> 24) == 127 || (src >> 28) >= 14)
		return false; /* this host, loopback, multicast, class E and limited broadcast */
	if (cfg->prefix_len < 31 && ((src ^ cfg->ip) & mask) == 0 && (src & ~mask) == ~mask)
		return false; /* the directed broadcast of our subnet */
	return true;
}

/* Takes one token, if the bucket has one (refilled by the time since the
 * last call). IPv6's errors draw on it too (icmp6_error.c). */
bool usn_icmp_error_token_take(struct usn_worker *w)
{
	const struct usn_stack_config *cfg = &w->stack->cfg;
	uint64_t cap = (uint64_t)cfg->icmp_error_burst * USN_ICMP_TOKEN;
	uint64_t elapsed = w->now_us - w->icmp_err_last_us;
	w->icmp_err_last_us = w->now_us;
	if (elapsed >= cap / cfg->icmp_error_rate)
		w->icmp_err_credit = cap;
	else if (w->icmp_err_credit + elapsed * cfg->icmp_error_rate >= cap)
		w->icmp_err_credit = cap;
	else
		w->icmp_err_credit += elapsed * cfg->icmp_error_rate;
	if (w->icmp_err_credit < USN_ICMP_TOKEN)
		return false;
	w->icmp_err_credit -= USN_ICMP_TOKEN;
	return true;
}

int usn_icmp_error_send(struct usn_worker *w, const struct usn_buf *frame, const struct usn_ipv4_repr *ip,
			struct usn_cursor l3, uint8_t type, uint8_t code, uint32_t rest)
{
	const struct usn_stack_config *cfg = &w->stack->cfg;
	/* Not for a link-layer broadcast or multicast (the group bit of the
	 * Ethernet destination), an IP one, or another host's address. */
	if (frame->len < 1 || (frame->data[0] & 1u) || ip->dst != cfg->ip)
		return -EPERM;
	if (!usn_icmp_src_ok(cfg, ip->src))
		return -EPERM;
	if ((ip->frag & USN_IPV4_OFFMASK) != 0)
		return -EPERM; /* only the first fragment is reported */
	if (ip->proto == USN_IPPROTO_ICMP) {
		uint8_t t;
		if (usn_cursor_read(usn_cursor_drop(l3, ip->hdr_len), &t, 1) != 1 || usn_icmp_type_is_error(t))
			return -EPERM;
	}
	if (!usn_icmp_error_token_take(w)) {
		w->stats.icmp_errors_suppressed++;
		return -EAGAIN;
	}
	/* A control frame: it may draw on the reserve. The error fits in one
	 * buffer: the quote is cut to what the first buffer holds (at least
	 * 128 bytes, config check), never below the header and 8 bytes. */
	struct usn_buf *b = usn_worker_buf_alloc_ctl(w);
	if (!b)
		return -ENOBUFS;
	uint32_t quote = usn_cursor_size(l3);
	uint32_t max = USN_ICMP_ERR_MAX_IP - USN_IPV4_HDR_LEN - USN_ICMP_ERR_HDR_LEN;
	if (cfg->mtu < USN_ICMP_ERR_MAX_IP)
		max = cfg->mtu - USN_IPV4_HDR_LEN - USN_ICMP_ERR_HDR_LEN;
	if (b->room < USN_L4_OFF + USN_ICMP_ERR_HDR_LEN + max)
		max = b->room - USN_L4_OFF - USN_ICMP_ERR_HDR_LEN;
	if (quote > max)
		quote = max;
	uint8_t *p = b->data + USN_L4_OFF;
	usn_cursor_read(l3, p + USN_ICMP_ERR_HDR_LEN, quote);
	usn_icmp_error_emit(type, code, rest, p, usn_csum_partial(p + USN_ICMP_ERR_HDR_LEN, quote, 0));
	uint32_t l4_len = USN_ICMP_ERR_HDR_LEN + quote;
	b->len = (uint16_t)(USN_L4_OFF + l4_len);
	b->frame_len = b->len;
	int rc = usn_ipv4_output(w, b, ip->src, USN_IPPROTO_ICMP, (uint16_t)l4_len);
	if (rc == 0)
		w->stats.icmp_errors_tx++;
	return rc;
}
