/* libusnet IPv4 header (RFC 791): validation and parse of a received
 * header, emit of an option-less one. Fragments parse; the caller drops. */
#include "usnet/csum.h"
#include "wire/csum_fixed.h"
#include "wire/wire.h"

enum usn_wire_err usn_ipv4_parse(struct usn_cursor c, struct usn_ipv4_repr *r, bool csum_ok)
{
	uint8_t scratch[60];
	const uint8_t *p = usn_cursor_read_with(c, USN_IPV4_HDR_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	if ((p[0] >> 4) != 4)
		return USN_WIRE_VERSION;
	uint32_t hdr_len = (uint32_t)(p[0] & 0x0f) * 4;
	if (hdr_len < USN_IPV4_HDR_LEN || hdr_len > usn_cursor_size(c))
		return USN_WIRE_HDRLEN;
	/* RFC 1122 3.2.1.2/3.2.1.8: total length covers header and data; the
	 * frame may carry Ethernet padding after it, never less. */
	uint16_t total_len = usn_load_be16(p + 2);
	if (total_len < hdr_len || total_len > usn_cursor_size(c))
		return USN_WIRE_LEN;
	if (hdr_len > USN_IPV4_HDR_LEN) {
		p = usn_cursor_read_with(c, hdr_len, scratch);
		if (!p)
			return USN_WIRE_HDRLEN;
	}
	if (!csum_ok) {
		/* Nearly every header is option-less: the fixed 20-byte sum. */
		uint16_t sum = hdr_len == USN_IPV4_HDR_LEN ? usn_csum_ipv4_hdr20(p)
							   : usn_csum_fold(usn_csum_partial(p, hdr_len, 0));
		if (sum != 0xffff)
			return USN_WIRE_CSUM;
	}
	r->hdr_len = (uint8_t)hdr_len;
	r->tos = p[1];
	r->total_len = total_len;
	r->id = usn_load_be16(p + 4);
	r->frag = usn_load_be16(p + 6);
	r->ttl = p[8];
	r->proto = p[9];
	r->src = usn_load_be32(p + 12);
	r->dst = usn_load_be32(p + 16);
	return USN_WIRE_OK;
}

void usn_ipv4_emit(const struct usn_ipv4_repr *r, uint8_t *p, bool fill_csum)
{
	p[0] = 0x45;
	p[1] = r->tos;
	usn_store_be16(p + 2, r->total_len);
	usn_store_be16(p + 4, r->id);
	usn_store_be16(p + 6, r->frag);
	p[8] = r->ttl;
	p[9] = r->proto;
	usn_store_be16(p + 10, 0);
	usn_store_be32(p + 12, r->src);
	usn_store_be32(p + 16, r->dst);
	if (fill_csum)
		usn_store_be16(p + 10, (uint16_t)~usn_csum_ipv4_hdr20(p));
}
