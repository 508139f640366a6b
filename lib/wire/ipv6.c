/* libusnet IPv6 header (RFC 8200): validation of the fixed header, a walk of
 * the extension-header chain within fixed limits, emit of the fixed header,
 * and the address helpers (solicited-node group, its Ethernet address). */
#include <string.h>

#include "wire/wire.h"

/* Extension headers a host must understand to go past (RFC 8200 4.1, RFC
 * 8200 4 and the IANA list): those not walked here end the walk with
 * USN_IPV6_EXT_UNKNOWN rather than being taken for an upper layer. */
static bool usn_ipv6_ext_unwalked(uint8_t nh)
{
	switch (nh) {
	case 50:  /* ESP */
	case 51:  /* AH */
	case 135: /* Mobility */
	case 139: /* HIP */
	case 140: /* Shim6 */
	case 253: /* experimental */
	case 254:
		return true;
	default:
		return false;
	}
}

/* The options of a hop-by-hop or destination-options header, q[2..len).
 * RFC 8200 4.2: the two high bits of an unknown option's type say what to
 * do; only 00 (skip) lets the packet through. */
static enum usn_ipv6_err usn_ipv6_walk_options(const uint8_t *q, uint32_t len)
{
	for (uint32_t i = 2; i < len;) {
		uint8_t type = q[i];
		if (type == 0) { /* Pad1 */
			i++;
			continue;
		}
		if (i + 2 > len || i + 2u + q[i + 1] > len)
			return USN_IPV6_EXT_MALFORMED;
		if (type != 1 && (type >> 6) != 0) /* PadN, or an option to skip */
			return USN_IPV6_EXT_UNKNOWN;
		i += 2u + q[i + 1];
	}
	return USN_IPV6_OK;
}

enum usn_ipv6_err usn_ipv6_parse(struct usn_cursor c, struct usn_ipv6_repr *r)
{
	uint8_t scratch[USN_IPV6_MAX_EXT_BYTES];
	const uint8_t *p = usn_cursor_read_with(c, USN_IPV6_HDR_LEN, scratch);
	if (!p)
		return USN_IPV6_SHORT;
	if ((p[0] >> 4) != 6)
		return USN_IPV6_VERSION;
	r->tclass = (uint8_t)((p[0] << 4) | (p[1] >> 4));
	r->flow_label = ((uint32_t)(p[1] & 0x0f) << 16) | ((uint32_t)p[2] << 8) | p[3];
	r->payload_len = usn_load_be16(p + 4);
	/* The frame may carry Ethernet padding after the payload, never less. */
	if (USN_IPV6_HDR_LEN + (uint32_t)r->payload_len > usn_cursor_size(c))
		return USN_IPV6_LEN;
	uint8_t next = p[6];
	r->hop_limit = p[7];
	memcpy(r->src, p + 8, 16);
	memcpy(r->dst, p + 24, 16);
	r->fragment = false;

	struct usn_cursor pl = usn_cursor_take(usn_cursor_drop(c, USN_IPV6_HDR_LEN), r->payload_len);
	uint32_t off = 0, n = 0;
	for (;;) {
		switch (next) {
		case USN_IPPROTO_HOPOPTS:
			if (n != 0) /* RFC 8200 4.1: only right after the fixed header */
				return USN_IPV6_EXT_MALFORMED;
			break;
		case USN_IPPROTO_DSTOPTS:
		case USN_IPPROTO_ROUTING:
		case USN_IPPROTO_FRAGMENT:
			break;
		default:
			if (usn_ipv6_ext_unwalked(next))
				return USN_IPV6_EXT_UNKNOWN;
			goto upper;
		}
		if (n == USN_IPV6_MAX_EXT_HDRS)
			return USN_IPV6_EXT_LIMIT;
		uint8_t h8[8];
		const uint8_t *h = usn_cursor_read_with(usn_cursor_drop(pl, off), 8, h8);
		if (!h)
			return USN_IPV6_EXT_MALFORMED;
		uint32_t len = next == USN_IPPROTO_FRAGMENT ? 8u : ((uint32_t)h[1] + 1u) * 8u;
		if (off + len > USN_IPV6_MAX_EXT_BYTES)
			return USN_IPV6_EXT_LIMIT;
		if (off + len > r->payload_len)
			return USN_IPV6_EXT_MALFORMED;
		switch (next) {
		case USN_IPPROTO_HOPOPTS:
		case USN_IPPROTO_DSTOPTS: {
			const uint8_t *q = usn_cursor_read_with(usn_cursor_drop(pl, off), len, scratch);
			enum usn_ipv6_err e = usn_ipv6_walk_options(q, len); /* len <= payload: q is there */
			if (e != USN_IPV6_OK)
				return e;
			break;
		}
		case USN_IPPROTO_ROUTING:
			/* RFC 8200 4.4: with no segments left the header is ignored;
			 * with some, a host would have to forward. */
			if (h[3] != 0)
				return USN_IPV6_EXT_UNKNOWN;
			break;
		case USN_IPPROTO_FRAGMENT:
			/* An atomic fragment (offset 0, no more) is a whole packet
			 * (RFC 6946); a real one ends the walk. */
			if ((usn_load_be16(h + 2) & 0xfff9u) != 0) {
				r->fragment = true;
				next = h[0];
				off += len;
				n++;
				goto upper;
			}
			break;
		default:
			break;
		}
		next = h[0];
		off += len;
		n++;
	}
upper:
	r->next_header = next;
	r->hdr_len = (uint16_t)(USN_IPV6_HDR_LEN + off);
	r->n_ext = (uint8_t)n;
	return USN_IPV6_OK;
}

void usn_ipv6_emit(const struct usn_ipv6_repr *r, uint8_t *p)
{
	usn_store_be32(p, (6u << 28) | ((uint32_t)r->tclass << 20) | (r->flow_label & 0xfffffu));
	usn_store_be16(p + 4, r->payload_len);
	p[6] = r->next_header;
	p[7] = r->hop_limit;
	memcpy(p + 8, r->src, 16);
	memcpy(p + 24, r->dst, 16);
}

void usn_ipv6_solicited_node(const uint8_t a[16], uint8_t out[16])
{
	static const uint8_t pfx[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
	memcpy(out, pfx, 13);
	memcpy(out + 13, a + 13, 3);
}

void usn_ipv6_mcast_mac(const uint8_t a[16], uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, a + 12, 4);
}

bool usn_ipv6_prefix_eq(const uint8_t a[16], const uint8_t b[16], uint8_t prefix_len)
{
	unsigned bytes = prefix_len / 8u, bits = prefix_len % 8u;
	if (prefix_len > 128)
		return false;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8u - bits));
	return ((a[bytes] ^ b[bytes]) & mask) == 0;
}
