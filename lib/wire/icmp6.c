/* libusnet ICMPv6 (RFC 4443) and Neighbour Discovery messages (RFC 4861):
 * parse with the checksum over the pseudo-header, NS and NA with their
 * link-layer address options, errors with the TCP header they quote; emit
 * of echo and error headers and NS/NA. */
#include <string.h>

#include "usnet/csum.h"
#include "wire/wire.h"

enum usn_wire_err usn_icmp6_parse(struct usn_cursor c, const uint8_t src[16], const uint8_t dst[16],
				  struct usn_icmp6_repr *r)
{
	uint8_t scratch[USN_ICMP6_HDR_LEN];
	uint32_t len = usn_cursor_size(c);
	const uint8_t *p = usn_cursor_read_with(c, 4, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	uint32_t sum = usn_csum_add(usn_cursor_csum(c), usn_csum_pseudo6(src, dst, USN_IPPROTO_ICMPV6, len));
	if (usn_csum_fold(sum) != 0xffff)
		return USN_WIRE_CSUM;
	r->type = p[0];
	r->code = p[1];
	r->ident = 0;
	r->seq = 0;
	if (r->type == USN_ICMP6_ECHO_REQUEST || r->type == USN_ICMP6_ECHO_REPLY) {
		p = usn_cursor_read_with(c, USN_ICMP6_HDR_LEN, scratch);
		if (!p)
			return USN_WIRE_SHORT;
		r->ident = usn_load_be16(p + 4);
		r->seq = usn_load_be16(p + 6);
	}
	return USN_WIRE_OK;
}

void usn_icmp6_echo_emit(const struct usn_icmp6_repr *r, uint8_t *p, const uint8_t src[16], const uint8_t dst[16],
			 uint16_t len, uint32_t data_sum)
{
	p[0] = r->type;
	p[1] = r->code;
	usn_store_be16(p + 2, 0);
	usn_store_be16(p + 4, r->ident);
	usn_store_be16(p + 6, r->seq);
	uint32_t sum = usn_csum_add(data_sum, usn_csum_pseudo6(src, dst, USN_IPPROTO_ICMPV6, len));
	usn_store_be16(p + 2, usn_csum_finish(usn_csum_partial(p, USN_ICMP6_HDR_LEN, sum)));
}

enum usn_wire_err usn_icmp6_err_parse(struct usn_cursor c, struct usn_icmp_err_repr *r)
{
	uint8_t scratch[USN_ICMP6_HDR_LEN + USN_IPV6_HDR_LEN];
	const uint8_t *p = usn_cursor_read_with(c, USN_ICMP6_HDR_LEN + USN_IPV6_HDR_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	r->type = p[0];
	r->code = p[1];
	if (r->type != USN_ICMP6_DEST_UNREACH && r->type != USN_ICMP6_PACKET_TOO_BIG &&
	    r->type != USN_ICMP6_TIME_EXCEEDED)
		return USN_WIRE_MALFORMED;
	uint32_t mtu = r->type == USN_ICMP6_PACKET_TOO_BIG ? usn_load_be32(p + 4) : 0;
	r->next_hop_mtu = (uint16_t)(mtu > 0xffff ? 0xffff : mtu);
	const uint8_t *q = p + USN_ICMP6_HDR_LEN;
	if ((q[0] >> 4) != 6)
		return USN_WIRE_VERSION;
	if (q[6] != USN_IPPROTO_TCP)
		return USN_WIRE_MALFORMED;
	uint32_t total = USN_IPV6_HDR_LEN + (uint32_t)usn_load_be16(q + 4);
	r->total_len = (uint16_t)(total > 0xffff ? 0xffff : total);
	memcpy(r->src6, q + 8, 16);
	memcpy(r->dst6, q + 24, 16);
	r->src = r->dst = 0;
	uint8_t tscratch[8];
	const uint8_t *t = usn_cursor_read_with(usn_cursor_drop(c, USN_ICMP6_HDR_LEN + USN_IPV6_HDR_LEN), 8, tscratch);
	if (!t)
		return USN_WIRE_SHORT;
	r->src_port = usn_load_be16(t);
	r->dst_port = usn_load_be16(t + 2);
	r->seq = usn_load_be32(t + 4);
	r->family = USN_AF_INET6;
	return USN_WIRE_OK;
}

void usn_icmp6_error_emit(uint8_t type, uint8_t code, uint32_t rest, uint8_t *p, const uint8_t src[16],
			  const uint8_t dst[16], uint32_t len, uint32_t data_sum)
{
	p[0] = type;
	p[1] = code;
	usn_store_be16(p + 2, 0);
	usn_store_be32(p + 4, rest);
	uint32_t sum = usn_csum_add(data_sum, usn_csum_pseudo6(src, dst, USN_IPPROTO_ICMPV6, len));
	usn_store_be16(p + 2, usn_csum_finish(usn_csum_partial(p, USN_ICMP6_HDR_LEN, sum)));
}

enum usn_wire_err usn_nd_parse(struct usn_cursor c, struct usn_nd_repr *r)
{
	uint8_t scratch[USN_ND_LEN];
	uint32_t len = usn_cursor_size(c);
	const uint8_t *p = usn_cursor_read_with(c, USN_ND_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	r->type = p[0];
	r->flags = r->type == USN_ICMP6_ND_NA ? (uint8_t)(p[4] & 0xe0u) : 0;
	memcpy(r->target, p + 8, 16);
	r->has_lla = false;
	uint8_t want = r->type == USN_ICMP6_ND_NS ? USN_ND_OPT_SLLA : USN_ND_OPT_TLLA;
	/* Every option is at least 8 bytes, so the walk is bounded by the
	 * message (RFC 4861 4.6: length 0 is invalid and ends it). */
	for (uint32_t off = USN_ND_LEN; off < len;) {
		uint8_t o8[USN_ND_LLA_LEN];
		const uint8_t *o = usn_cursor_read_with(usn_cursor_drop(c, off), 2, o8);
		if (!o || o[1] == 0)
			return USN_WIRE_BADOPT;
		uint32_t olen = (uint32_t)o[1] * 8u;
		if (off + olen > len)
			return USN_WIRE_BADOPT;
		if (o[0] == want) {
			/* Ethernet's link-layer option is 8 bytes (RFC 2464 8). */
			if (olen != USN_ND_LLA_LEN)
				return USN_WIRE_BADOPT;
			if (!r->has_lla) {
				o = usn_cursor_read_with(usn_cursor_drop(c, off), USN_ND_LLA_LEN, o8);
				memcpy(r->lla, o + 2, 6);
				r->has_lla = true;
			}
		}
		off += olen;
	}
	return USN_WIRE_OK;
}

uint16_t usn_nd_emit(const struct usn_nd_repr *r, uint8_t *p, const uint8_t src[16], const uint8_t dst[16])
{
	uint16_t len = USN_ND_LEN;
	memset(p, 0, USN_ND_LEN);
	p[0] = r->type;
	if (r->type == USN_ICMP6_ND_NA)
		p[4] = r->flags;
	memcpy(p + 8, r->target, 16);
	if (r->has_lla) {
		p[len] = r->type == USN_ICMP6_ND_NS ? USN_ND_OPT_SLLA : USN_ND_OPT_TLLA;
		p[len + 1] = 1;
		memcpy(p + len + 2, r->lla, 6);
		len += USN_ND_LLA_LEN;
	}
	uint32_t sum = usn_csum_pseudo6(src, dst, USN_IPPROTO_ICMPV6, len);
	usn_store_be16(p + 2, usn_csum_finish(usn_csum_partial(p, len, sum)));
	return len;
}
