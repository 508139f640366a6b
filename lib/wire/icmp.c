/* libusnet ICMP (RFC 792): parse with the checksum over the whole message,
 * emit of the 8-byte header over a precomputed data sum, and the quoted
 * packet of an error message (destination unreachable, time exceeded). */
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

/* The quoted IPv4 header and 8 bytes of TCP (RFC 792): nothing of it is
 * trusted but its lengths, which are checked against what is there. The
 * quoted header's checksum is not checked: routers may rewrite the header
 * (TTL) before quoting it, and the sequence-number check (RFC 5927) is
 * what guards against forgery. */
enum usn_wire_err usn_icmp_err_parse(struct usn_cursor c, struct usn_icmp_err_repr *r)
{
	uint8_t scratch[ICMP_HDR_LEN + USN_IPV4_HDR_LEN];
	const uint8_t *p = usn_cursor_read_with(c, ICMP_HDR_LEN + USN_IPV4_HDR_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	r->type = p[0];
	r->code = p[1];
	r->next_hop_mtu = (r->type == USN_ICMP_DEST_UNREACH && r->code == USN_ICMP_UNREACH_FRAG_NEEDED)
				  ? usn_load_be16(p + 6)
				  : 0;
	const uint8_t *q = p + ICMP_HDR_LEN;
	if ((q[0] >> 4) != 4)
		return USN_WIRE_VERSION;
	uint32_t ihl = (uint32_t)(q[0] & 0x0f) * 4u;
	if (ihl < USN_IPV4_HDR_LEN)
		return USN_WIRE_HDRLEN;
	r->total_len = usn_load_be16(q + 2);
	uint16_t frag = usn_load_be16(q + 6);
	if (q[9] != USN_IPPROTO_TCP || (frag & USN_IPV4_OFFMASK) != 0 || r->total_len < ihl + 8u)
		return USN_WIRE_MALFORMED;
	r->src = usn_load_be32(q + 12);
	r->dst = usn_load_be32(q + 16);
	uint8_t tscratch[8];
	const uint8_t *t = usn_cursor_read_with(usn_cursor_drop(c, ICMP_HDR_LEN + ihl), 8, tscratch);
	if (!t)
		return USN_WIRE_SHORT;
	r->src_port = usn_load_be16(t);
	r->dst_port = usn_load_be16(t + 2);
	r->seq = usn_load_be32(t + 4);
	r->family = USN_AF_INET;
	return USN_WIRE_OK;
}
