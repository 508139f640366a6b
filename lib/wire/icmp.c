/* libusnet ICMP (RFC 792), echo only: parse with the checksum over the whole
 * message, emit of the 8-byte header over a precomputed data sum. */
#include "usnet/csum.h"
#include "wire/wire.h"

#define ICMP_HDR_LEN 8

enum usn_wire_err usn_icmp_parse(struct usn_cursor c, struct usn_icmp_repr *r)
{
	uint8_t scratch[ICMP_HDR_LEN];
	const uint8_t *p = usn_cursor_read_with(c, ICMP_HDR_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	if (usn_csum_fold(usn_cursor_csum(c)) != 0xffff)
		return USN_WIRE_CSUM;
	r->type = p[0];
	r->code = p[1];
	r->ident = usn_load_be16(p + 4);
	r->seq = usn_load_be16(p + 6);
	return USN_WIRE_OK;
}

void usn_icmp_emit(const struct usn_icmp_repr *r, uint8_t *p, uint32_t data_sum)
{
	p[0] = r->type;
	p[1] = r->code;
	usn_store_be16(p + 2, 0);
	usn_store_be16(p + 4, r->ident);
	usn_store_be16(p + 6, r->seq);
	usn_store_be16(p + 2, usn_csum_finish(usn_csum_partial(p, ICMP_HDR_LEN, data_sum)));
}
