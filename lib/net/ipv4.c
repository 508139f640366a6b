/* libusnet IPv4 (lib/net, RFC 791, RFC 1122 3.2.1): validate and dispatch
 * received packets, and build the header of packets we send, routing them
 * to the on-link destination or the gateway. No fragmentation: fragments
 * are counted and dropped (TCP sizes its segments to the MTU). */
#include <errno.h>

#include "net/net.h"

#define USN_IPV4_TTL 64 /* RFC 1700's recommended default */

enum usn_net_verdict usn_ipv4_input(struct usn_worker *w, struct usn_buf *frame, struct usn_cursor l3,
				    struct usn_net_l4 *out)
{
	struct usn_ipv4_repr ip;
	/* A port that verified the header sum says so; trust it (and only it). */
	bool csum_ok = (frame->flags & (USN_BUF_RX_IP_CSUM_GOOD | USN_BUF_RX_CSUM_BAD)) == USN_BUF_RX_IP_CSUM_GOOD;

	switch (usn_ipv4_parse(l3, &ip, csum_ok)) {
	case USN_WIRE_OK:
		break;
	case USN_WIRE_SHORT:
		w->stats.drop_ip_short++;
		goto drop;
	case USN_WIRE_VERSION:
		w->stats.drop_ip_version++;
		goto drop;
	case USN_WIRE_HDRLEN:
		w->stats.drop_ip_ihl++;
		goto drop;
	case USN_WIRE_CSUM:
		w->stats.drop_ip_csum++;
		goto drop;
	case USN_WIRE_LEN:
	case USN_WIRE_BADOPT:
	case USN_WIRE_MALFORMED:
		w->stats.drop_ip_len++;
		goto drop;
	}
	/* A host takes only its own address (RFC 1122 3.2.1.3); nothing here
	 * listens on broadcast or multicast. */
	if (ip.dst != w->stack->cfg.ip) {
		w->stats.drop_ip_not_for_us++;
		goto drop;
	}
	if (ip.ttl == 0) {
		w->stats.drop_ip_ttl++;
		goto drop;
	}
	if (usn_ipv4_is_fragment(&ip)) {
		w->stats.drop_ip_fragment++;
		goto drop;
	}
	/* The payload ends at total_len: Ethernet padding is not data. */
	struct usn_cursor l4 = usn_cursor_take(usn_cursor_drop(l3, ip.hdr_len), (uint32_t)(ip.total_len - ip.hdr_len));
	switch (ip.proto) {
	case USN_IPPROTO_ICMP:
		return usn_icmp_input(w, frame, &ip, l4, out);
	case USN_IPPROTO_TCP:
		out->ip = ip;
		out->data = l4;
		return USN_NET_TCP;
	case USN_IPPROTO_UDP:
		out->ip = ip;
		out->data = l4;
		out->l3 = usn_cursor_take(l3, ip.total_len);
		return USN_NET_UDP;
	default:
		w->stats.drop_ip_proto++;
		goto drop;
	}
drop:
	usn_worker_buf_free(w, frame);
	return USN_NET_DONE;
}

uint32_t usn_ipv4_next_hop(const struct usn_worker *w, uint32_t dst_ip)
{
	const struct usn_stack_config *cfg = &w->stack->cfg;
	uint32_t mask = cfg->prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> cfg->prefix_len);
	if (dst_ip == 0 || dst_ip == cfg->ip || dst_ip == 0xffffffffu || (dst_ip >> 28) == 14)
		return 0; /* no loopback, broadcast or multicast output */
	if (((dst_ip ^ cfg->ip) & mask) == 0)
		return dst_ip;
	return cfg->gateway;
}

int usn_ipv4_output(struct usn_worker *w, struct usn_buf *frame, uint32_t dst_ip, uint8_t proto, uint16_t l4_len)
{
	uint32_t next_hop = usn_ipv4_next_hop(w, dst_ip);
	if (next_hop == 0) {
		usn_worker_buf_free(w, frame);
		return -EHOSTUNREACH;
	}
	usn_prof_enter(w, USN_PROF_NET);
	bool hw_csum = (w->hal->offloads & USN_HAL_OFF_TX_IP_CSUM) != 0;
	struct usn_ipv4_repr ip = {
		.src = w->stack->cfg.ip,
		.dst = dst_ip,
		.total_len = (uint16_t)(USN_IPV4_HDR_LEN + l4_len),
		/* RFC 6864: with DF set the id only has to be unique per
		 * source; a per-worker counter needs no shared state. */
		.id = w->ip_id++,
		.frag = USN_IPV4_DF,
		.hdr_len = USN_IPV4_HDR_LEN,
		.ttl = USN_IPV4_TTL,
		.proto = proto,
	};
	usn_ipv4_emit(&ip, frame->data + USN_L3_OFF, !hw_csum);
	/* A large segment the port cuts takes one id per piece (counting up
	 * from this one, hal.h): the next packet starts after them, as
	 * Linux's TSO does. */
	if ((frame->flags & USN_BUF_TX_TCP_SEG) && frame->seg_size && l4_len > frame->l4_len)
		w->ip_id = (uint16_t)(w->ip_id + (l4_len - frame->l4_len - 1u) / frame->seg_size);
	frame->l2_len = USN_ETH_HDR_LEN;
	frame->l3_len = USN_IPV4_HDR_LEN;
	if (hw_csum)
		frame->flags |= USN_BUF_TX_IP_CSUM;
	usn_arp_send(w, frame, next_hop);
	usn_prof_leave(w);
	return 0;
}
