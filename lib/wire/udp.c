/* libusnet UDP header (RFC 768) over IPv4 and IPv6 (RFC 8200 8.1): parse
 * with the length field and the pseudo-header checksum checked, emit with
 * the checksum computed from a precomputed data sum (a prefix-sum table's
 * range, or the writer's). */
#include "usnet/csum.h"
#include "wire/wire.h"

enum usn_wire_err usn_udp_ports_parse(struct usn_cursor c, uint16_t *src_port, uint16_t *dst_port)
{
	uint8_t scratch[4];
	const uint8_t *p = usn_cursor_read_with(c, 4, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	*src_port = usn_load_be16(p);
	*dst_port = usn_load_be16(p + 2);
	return USN_WIRE_OK;
}

enum usn_wire_err usn_udp_parse_ipv4(struct usn_cursor c, uint32_t src, uint32_t dst, bool csum_ok,
				     struct usn_udp_repr *r)
{
	uint8_t scratch[USN_UDP_HDR_LEN];
	const uint8_t *p = usn_cursor_read_with(c, USN_UDP_HDR_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	uint16_t len = usn_load_be16(p + 4);
	if (len < USN_UDP_HDR_LEN)
		return USN_WIRE_SHORT;
	if (len > usn_cursor_size(c))
		return USN_WIRE_LEN;
	/* RFC 768: an all-zero field means no checksum was computed. */
	if (!csum_ok && usn_load_be16(p + 6) != 0) {
		uint32_t sum = usn_csum_add(usn_csum_pseudo(src, dst, USN_IPPROTO_UDP, len),
					    usn_cursor_csum(usn_cursor_take(c, len)));
		if (usn_csum_fold(sum) != 0xffff)
			return USN_WIRE_CSUM;
	}
	r->src_port = usn_load_be16(p);
	r->dst_port = usn_load_be16(p + 2);
	r->len = len;
	return USN_WIRE_OK;
}

void usn_udp_emit_ipv4(const struct usn_udp_repr *r, uint32_t src, uint32_t dst, uint8_t *p, uint32_t data_sum)
{
	usn_store_be16(p, r->src_port);
	usn_store_be16(p + 2, r->dst_port);
	usn_store_be16(p + 4, r->len);
	usn_store_be16(p + 6, 0);
	uint32_t sum = usn_csum_partial(p, USN_UDP_HDR_LEN,
					usn_csum_add(usn_csum_pseudo(src, dst, USN_IPPROTO_UDP, r->len), data_sum));
	uint16_t check = usn_csum_finish(sum);
	/* A computed zero goes out as all ones: zero means "none" (RFC 768). */
	usn_store_be16(p + 6, check ? check : 0xffff);
}

enum usn_wire_err usn_udp_parse_ipv6(struct usn_cursor c, const uint8_t src[16], const uint8_t dst[16],
				     bool csum_ok, struct usn_udp_repr *r)
{
	uint8_t scratch[USN_UDP_HDR_LEN];
	const uint8_t *p = usn_cursor_read_with(c, USN_UDP_HDR_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	uint16_t len = usn_load_be16(p + 4);
	if (len < USN_UDP_HDR_LEN)
		return USN_WIRE_SHORT;
	if (len > usn_cursor_size(c))
		return USN_WIRE_LEN;
	/* RFC 8200 8.1: the checksum is not optional over IPv6; a zero
	 * field is discarded whatever the port verified. */
	if (usn_load_be16(p + 6) == 0)
		return USN_WIRE_MALFORMED;
	if (!csum_ok) {
		uint32_t sum = usn_csum_add(usn_csum_pseudo6(src, dst, USN_IPPROTO_UDP, len),
					    usn_cursor_csum(usn_cursor_take(c, len)));
		if (usn_csum_fold(sum) != 0xffff)
			return USN_WIRE_CSUM;
	}
	r->src_port = usn_load_be16(p);
	r->dst_port = usn_load_be16(p + 2);
	r->len = len;
	return USN_WIRE_OK;
}

void usn_udp_emit_ipv6(const struct usn_udp_repr *r, const uint8_t src[16], const uint8_t dst[16], uint8_t *p,
		       uint32_t data_sum)
{
	usn_store_be16(p, r->src_port);
	usn_store_be16(p + 2, r->dst_port);
	usn_store_be16(p + 4, r->len);
	usn_store_be16(p + 6, 0);
	uint32_t sum = usn_csum_partial(p, USN_UDP_HDR_LEN,
					usn_csum_add(usn_csum_pseudo6(src, dst, USN_IPPROTO_UDP, r->len), data_sum));
	uint16_t check = usn_csum_finish(sum);
	usn_store_be16(p + 6, check ? check : 0xffff);
}
