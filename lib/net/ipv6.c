/* libusnet IPv6 (lib/net, RFC 8200, RFC 4291): validate and dispatch
 * received packets (our addresses, the all-nodes group and our
 * solicited-node groups), choose source addresses and next hops, and build
 * the fixed header of packets we send. No fragmentation: fragments are
 * counted and dropped, as for IPv4. */
#include <errno.h>
#include <string.h>

#include "net/net.h"

#define USN_IPV6_HOP_LIMIT 64 /* RFC 4861 6.3.2's default CurHopLimit, as Linux */

static const uint8_t usn_ip6_all_nodes[16] = {0xff, 0x02, [15] = 0x01};

int usn_ipv6_addr_find(const struct usn_stack *s, const uint8_t a[16])
{
	for (int i = 0; i < s->n_ip6; i++)
		if (memcmp(s->ip6[i].addr, a, 16) == 0)
			return i;
	return -1;
}

bool usn_ipv6_on_link(const struct usn_stack *s, const uint8_t a[16])
{
	if (usn_ipv6_is_multicast(a) || usn_ipv6_is_unspecified(a) || usn_ipv6_addr_find(s, a) >= 0)
		return false;
	if (usn_ipv6_is_link_local(a))
		return true;
	for (int i = 1; i < s->n_ip6; i++)
		if (usn_ipv6_prefix_eq(a, s->ip6[i].addr, s->ip6[i].prefix_len))
			return true;
	return false;
}

/* The groups a host joins (RFC 4291 2.8): all-nodes, and the solicited-node
 * group of each of its addresses (tentative ones too, RFC 4862 5.4.2). */
static bool usn_ipv6_group_joined(const struct usn_stack *s, const uint8_t g[16])
{
	if (memcmp(g, usn_ip6_all_nodes, 16) == 0)
		return true;
	for (int i = 0; i < s->n_ip6; i++) {
		uint8_t sn[16];
		usn_ipv6_solicited_node(s->ip6[i].addr, sn);
		if (memcmp(g, sn, 16) == 0)
			return true;
	}
	return false;
}

enum usn_net_verdict usn_ipv6_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_eth_repr *eth,
				    struct usn_cursor l3, struct usn_net_l4 *out)
{
	const struct usn_stack *s = w->stack;
	struct usn_ipv6_repr ip;
	if (s->n_ip6 == 0) {
		w->stats.drop_eth_type++; /* IPv6 off: as any other ethertype */
		goto drop;
	}
	switch (usn_ipv6_parse(l3, &ip)) {
	case USN_IPV6_OK:
		break;
	case USN_IPV6_SHORT:
		w->stats.drop_ip6_short++;
		goto drop;
	case USN_IPV6_VERSION:
		w->stats.drop_ip6_version++;
		goto drop;
	case USN_IPV6_LEN:
		w->stats.drop_ip6_len++;
		goto drop;
	case USN_IPV6_EXT_MALFORMED:
		w->stats.drop_ip6_ext_malformed++;
		goto drop;
	case USN_IPV6_EXT_LIMIT:
		w->stats.drop_ip6_ext_limit++;
		goto drop;
	case USN_IPV6_EXT_UNKNOWN:
		w->stats.drop_ip6_ext_unknown++;
		goto drop;
	}
	/* A group destination must come on its own group MAC (RFC 2464 7), a
	 * unicast one on ours: nothing is taken from a frame sent to another
	 * link address. */
	if (usn_ipv6_is_multicast(ip.dst)) {
		uint8_t mac[6];
		usn_ipv6_mcast_mac(ip.dst, mac);
		if (memcmp(eth->dst, mac, 6) != 0 || !usn_ipv6_group_joined(s, ip.dst)) {
			w->stats.drop_ip6_not_for_us++;
			goto drop;
		}
	} else {
		int slot = usn_ipv6_addr_find(s, ip.dst);
		/* A tentative address takes only Neighbour Discovery (RFC 4862
		 * 5.4), a duplicate one nothing; icmp6 checks the rest. */
		if ((eth->dst[0] & 1u) || slot < 0 || usn_ipv6_state(s, slot) == USN_IPV6_DUPLICATE ||
		    (usn_ipv6_state(s, slot) == USN_IPV6_TENTATIVE && ip.next_header != USN_IPPROTO_ICMPV6)) {
			w->stats.drop_ip6_not_for_us++;
			goto drop;
		}
	}
	/* RFC 4291 2.7: a multicast address is never a source. */
	if (usn_ipv6_is_multicast(ip.src)) {
		w->stats.drop_ip6_src++;
		goto drop;
	}
	if (ip.fragment) {
		w->stats.drop_ip6_fragment++;
		goto drop;
	}
	/* The payload ends at payload_len: Ethernet padding is not data. */
	struct usn_cursor l4 = usn_cursor_take(usn_cursor_drop(l3, ip.hdr_len),
					       (uint32_t)USN_IPV6_HDR_LEN + ip.payload_len - ip.hdr_len);
	switch (ip.next_header) {
	case USN_IPPROTO_ICMPV6:
		return usn_icmp6_input(w, frame, eth, &ip, l4, out);
	case USN_IPPROTO_UDP:
		out->ip6 = ip;
		out->data = l4;
		out->l3 = usn_cursor_take(l3, (uint32_t)USN_IPV6_HDR_LEN + ip.payload_len);
		return USN_NET_UDP6;
	case USN_IPPROTO_TCP:
		out->ip6 = ip;
		out->data = l4;
		return USN_NET_TCP6;
	default:
		w->stats.drop_ip6_proto++;
		goto drop;
	}
drop:
	usn_worker_buf_free(w, frame);
	return USN_NET_DONE;
}

bool usn_ipv6_next_hop(const struct usn_worker *w, const uint8_t dst[16], uint8_t hop[16])
{
	const struct usn_stack *s = w->stack;
	if (usn_ipv6_is_unspecified(dst) || usn_ipv6_is_multicast(dst) || usn_ipv6_addr_find(s, dst) >= 0)
		return false; /* nothing to resolve, and no loopback */
	if (usn_ipv6_on_link(s, dst)) {
		memcpy(hop, dst, 16);
		return true;
	}
	if (usn_ipv6_is_unspecified(s->cfg.gateway6))
		return false;
	memcpy(hop, s->cfg.gateway6, 16);
	return true;
}

int usn_ipv6_src_select(const struct usn_worker *w, const uint8_t dst[16], uint8_t src[16])
{
	const struct usn_stack *s = w->stack;
	int pick = -1;
	if (s->n_ip6 == 0)
		return -EADDRNOTAVAIL;
	/* Link scope (fe80::/10, ff02::/16): the link-local address only. */
	if (usn_ipv6_is_link_local(dst) || (dst[0] == 0xff && (dst[1] & 0x0f) == 0x02)) {
		pick = usn_ipv6_state(s, 0) == USN_IPV6_PREFERRED ? 0 : -1;
	} else {
		for (int i = 1; i < s->n_ip6; i++) {
			if (usn_ipv6_state(s, i) != USN_IPV6_PREFERRED)
				continue;
			if (usn_ipv6_prefix_eq(dst, s->ip6[i].addr, s->ip6[i].prefix_len)) {
				pick = i;
				break;
			}
			if (pick < 0)
				pick = i;
		}
	}
	if (pick < 0)
		return -EADDRNOTAVAIL;
	memcpy(src, s->ip6[pick].addr, 16);
	return 0;
}

int usn_ipv6_output(struct usn_worker *w, struct usn_buf *frame, const uint8_t src[16], const uint8_t dst[16],
		    uint8_t proto, uint16_t l4_len)
{
	uint8_t hop[16];
	bool group = usn_ipv6_is_multicast(dst);
	if (!group && !usn_ipv6_next_hop(w, dst, hop)) {
		usn_worker_buf_free(w, frame);
		return -EHOSTUNREACH;
	}
	usn_prof_enter(w, USN_PROF_NET);
	struct usn_ipv6_repr ip = {
		.payload_len = l4_len,
		.next_header = proto,
		.hop_limit = USN_IPV6_HOP_LIMIT,
	};
	memcpy(ip.src, src, 16);
	memcpy(ip.dst, dst, 16);
	usn_ipv6_emit(&ip, frame->data + USN_L3_OFF);
	frame->l2_len = USN_ETH_HDR_LEN;
	frame->l3_len = USN_IPV6_HDR_LEN;
	if (group) {
		struct usn_eth_repr eth = {.ethertype = USN_ETHERTYPE_IPV6, .hdr_len = USN_ETH_HDR_LEN};
		usn_ipv6_mcast_mac(dst, eth.dst);
		memcpy(eth.src, w->stack->mac, 6);
		usn_eth_emit(&eth, frame->data);
		usn_worker_tx(w, frame);
	} else {
		usn_nd_send(w, frame, hop);
	}
	usn_prof_leave(w);
	return 0;
}
