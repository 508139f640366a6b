/* libusnet ARP for IPv4 over Ethernet (RFC 826): parse and emit of the
 * 28-byte packet; the cache and its policy live in lib/net. */
#include <string.h>

#include "wire/wire.h"

#define ARP_HTYPE_ETHER 1

enum usn_wire_err usn_arp_parse(struct usn_cursor c, struct usn_arp_repr *r)
{
	uint8_t scratch[USN_ARP_LEN];
	const uint8_t *p = usn_cursor_read_with(c, USN_ARP_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	/* RFC 826 "Packet Reception": only Ethernet hardware, IPv4 protocol,
	 * with their address lengths, is ours to understand. */
	if (usn_load_be16(p) != ARP_HTYPE_ETHER || usn_load_be16(p + 2) != USN_ETHERTYPE_IPV4 || p[4] != 6 ||
	    p[5] != 4)
		return USN_WIRE_MALFORMED;
	r->op = usn_load_be16(p + 6);
	if (r->op != USN_ARP_REQUEST && r->op != USN_ARP_REPLY)
		return USN_WIRE_MALFORMED;
	memcpy(r->sha, p + 8, 6);
	r->spa = usn_load_be32(p + 14);
	memcpy(r->tha, p + 18, 6);
	r->tpa = usn_load_be32(p + 24);
	return USN_WIRE_OK;
}

void usn_arp_emit(const struct usn_arp_repr *r, uint8_t *p)
{
	usn_store_be16(p, ARP_HTYPE_ETHER);
	usn_store_be16(p + 2, USN_ETHERTYPE_IPV4);
	p[4] = 6;
	p[5] = 4;
	usn_store_be16(p + 6, r->op);
	memcpy(p + 8, r->sha, 6);
	usn_store_be32(p + 14, r->spa);
	memcpy(p + 18, r->tha, 6);
	usn_store_be32(p + 24, r->tpa);
}
