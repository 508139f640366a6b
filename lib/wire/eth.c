/* libusnet Ethernet II framing (IEEE 802.3), tolerating one 802.1Q tag:
 * parse and emit of the link header (lib/wire/wire.h). */
#include <string.h>

#include "wire/wire.h"

enum usn_wire_err usn_eth_parse(struct usn_cursor c, struct usn_eth_repr *r)
{
	uint8_t scratch[USN_ETH_HDR_LEN + 4];
	const uint8_t *p = usn_cursor_read_with(c, USN_ETH_HDR_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	memcpy(r->dst, p, 6);
	memcpy(r->src, p + 6, 6);
	r->ethertype = usn_load_be16(p + 12);
	r->vlan_tci = 0;
	r->hdr_len = USN_ETH_HDR_LEN;
	if (r->ethertype == USN_ETHERTYPE_VLAN) {
		/* 802.1Q: TPID 0x8100, then TCI and the real ethertype. */
		p = usn_cursor_read_with(c, USN_ETH_HDR_LEN + 4, scratch);
		if (!p)
			return USN_WIRE_SHORT;
		r->vlan_tci = usn_load_be16(p + 14);
		r->ethertype = usn_load_be16(p + 16);
		r->hdr_len = USN_ETH_HDR_LEN + 4;
	}
	return USN_WIRE_OK;
}

void usn_eth_emit(const struct usn_eth_repr *r, uint8_t *p)
{
	memcpy(p, r->dst, 6);
	memcpy(p + 6, r->src, 6);
	usn_store_be16(p + 12, r->ethertype);
}
