/* libusnet Ethernet input (lib/net): parse the header, keep frames for our
 * address, broadcast or an IPv6 group, and hand ARP, IPv4 and IPv6 to
 * their layers; a TCP segment comes back to the caller (net.h). */
#include <string.h>

#include "net/net.h"

static const uint8_t usn_eth_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

enum usn_net_verdict usn_net_input(struct usn_worker *w, struct usn_buf *frame, struct usn_net_l4 *out)
{
	struct usn_cursor c = usn_cursor_of_frame(frame);
	struct usn_eth_repr eth;

	if (usn_eth_parse(c, &eth) != USN_WIRE_OK) {
		w->stats.drop_eth_short++;
		goto drop;
	}
	/* Multicast other than broadcast is joined only by IPv6 (33:33:...,
	 * RFC 2464 7), which checks the group itself. */
	bool ip6_group = w->stack->n_ip6 && eth.dst[0] == 0x33 && eth.dst[1] == 0x33 &&
			 eth.ethertype == USN_ETHERTYPE_IPV6;
	if (memcmp(eth.dst, w->stack->mac, 6) != 0 && memcmp(eth.dst, usn_eth_broadcast, 6) != 0 && !ip6_group) {
		w->stats.drop_eth_not_for_us++;
		goto drop;
	}
	struct usn_cursor l3 = usn_cursor_drop(c, eth.hdr_len);
	switch (eth.ethertype) {
	case USN_ETHERTYPE_ARP:
		usn_arp_input(w, frame, &eth, l3);
		return USN_NET_DONE;
	case USN_ETHERTYPE_IPV4:
		return usn_ipv4_input(w, frame, l3, out);
	case USN_ETHERTYPE_IPV6:
		return usn_ipv6_input(w, frame, &eth, l3, out);
	default:
		w->stats.drop_eth_type++;
		goto drop;
	}
drop:
	usn_worker_buf_free(w, frame);
	return USN_NET_DONE;
}
