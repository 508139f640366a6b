/* libusnet TCP header (RFC 9293 3.1) and its options: MSS, window scale and
 * timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018). Parse of a
 * received header; emit in the order Linux writes options. */
#include <string.h>

#include "wire/wire.h"

enum {
	OPT_EOL = 0,
	OPT_NOP = 1,
	OPT_MSS = 2,
	OPT_WS = 3,
	OPT_SACK_PERM = 4,
	OPT_SACK = 5,
	OPT_TS = 8,
};

#define OPT_SPACE (USN_TCP_MAX_HDR_LEN - USN_TCP_HDR_LEN)

/* Options between p[USN_TCP_HDR_LEN] and p[hdr_len]. */
static enum usn_wire_err parse_options(const uint8_t *p, uint32_t hdr_len, struct usn_tcp_repr *r)
{
	uint32_t i = USN_TCP_HDR_LEN;
	while (i < hdr_len) {
		uint8_t kind = p[i];
		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		/* Every other kind has a length byte covering kind and length
		 * (RFC 9293 3.2); trust it only inside the header. */
		if (i + 1 >= hdr_len)
			return USN_WIRE_BADOPT;
		uint8_t len = p[i + 1];
		if (len < 2 || i + len > hdr_len)
			return USN_WIRE_BADOPT;
		const uint8_t *o = p + i + 2;
		switch (kind) {
		case OPT_MSS:
			if (len != 4)
				return USN_WIRE_BADOPT;
			r->has_mss = true;
			r->mss = usn_load_be16(o);
			break;
		case OPT_WS:
			if (len != 3)
				return USN_WIRE_BADOPT;
			r->has_wscale = true;
			r->wscale = o[0];
			break;
		case OPT_SACK_PERM:
			if (len != 2)
				return USN_WIRE_BADOPT;
			r->sack_permitted = true;
			break;
		case OPT_SACK: {
			uint32_t n = (uint32_t)(len - 2) / 8;
			if ((len - 2) % 8 != 0 || n < 1 || n > USN_TCP_MAX_SACK)
				return USN_WIRE_BADOPT;
			r->n_sack = (uint8_t)n;
			for (uint32_t k = 0; k < n; k++) {
				r->sack[k].left = usn_load_be32(o + 8 * k);
				r->sack[k].right = usn_load_be32(o + 8 * k + 4);
			}
			break;
		}
		case OPT_TS:
			if (len != 10)
				return USN_WIRE_BADOPT;
			r->has_ts = true;
			r->ts_val = usn_load_be32(o);
			r->ts_ecr = usn_load_be32(o + 4);
			break;
		default:
			break; /* unknown kind: skipped by its length */
		}
		i += len;
	}
	return USN_WIRE_OK;
}

enum usn_wire_err usn_tcp_ports_parse(struct usn_cursor c, uint16_t *src_port, uint16_t *dst_port)
{
	uint8_t scratch[4];
	const uint8_t *p = usn_cursor_read_with(c, 4, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	*src_port = usn_load_be16(p);
	*dst_port = usn_load_be16(p + 2);
	return USN_WIRE_OK;
}

enum usn_wire_err usn_tcp_parse(struct usn_cursor c, struct usn_tcp_repr *r)
{
	uint8_t scratch[USN_TCP_MAX_HDR_LEN];
	const uint8_t *p = usn_cursor_read_with(c, USN_TCP_HDR_LEN, scratch);
	if (!p)
		return USN_WIRE_SHORT;
	uint32_t hdr_len = (uint32_t)(p[12] >> 4) * 4;
	if (hdr_len < USN_TCP_HDR_LEN || hdr_len > usn_cursor_size(c))
		return USN_WIRE_HDRLEN;
	if (hdr_len > USN_TCP_HDR_LEN) {
		p = usn_cursor_read_with(c, hdr_len, scratch);
		if (!p)
			return USN_WIRE_HDRLEN;
	}
	memset(r, 0, sizeof(*r));
	r->src_port = usn_load_be16(p);
	r->dst_port = usn_load_be16(p + 2);
	r->seq = usn_load_be32(p + 4);
	r->ack = usn_load_be32(p + 8);
	r->hdr_len = (uint8_t)hdr_len;
	r->flags = p[13];
	r->window = usn_load_be16(p + 14);
	r->urgent = usn_load_be16(p + 18);
	/* Nearly every segment after the handshake carries timestamps alone in
	 * the layout RFC 7323 Appendix A recommends (NOP, NOP, TS): read them
	 * without the option loop, which would find exactly this. */
	if (hdr_len == USN_TCP_HDR_LEN + 12 && usn_load_be32(p + 20) == 0x0101080au) {
		r->has_ts = true;
		r->ts_val = usn_load_be32(p + 24);
		r->ts_ecr = usn_load_be32(p + 28);
		return USN_WIRE_OK;
	}
	return parse_options(p, hdr_len, r);
}

/* Bytes of options before the SACK blocks, as emit lays them out. */
static uint32_t fixed_opt_len(const struct usn_tcp_repr *r)
{
	uint32_t n = 0;
	if (r->has_mss)
		n += 4;
	if (r->has_ts)
		n += 12; /* SACK-permitted rides in the two pad bytes */
	else if (r->sack_permitted)
		n += 4;
	if (r->has_wscale)
		n += 4;
	return n;
}

/* SACK blocks that fit in the 40 option bytes left (3 with timestamps). */
static uint32_t sack_blocks_fit(const struct usn_tcp_repr *r)
{
	uint32_t n = r->n_sack > USN_TCP_MAX_SACK ? USN_TCP_MAX_SACK : r->n_sack;
	uint32_t used = fixed_opt_len(r);
	if (used + 4 + 8 > OPT_SPACE)
		return 0;
	uint32_t room = (OPT_SPACE - used - 4) / 8;
	return n < room ? n : room;
}

uint8_t usn_tcp_hdr_len(const struct usn_tcp_repr *r)
{
	uint32_t n = sack_blocks_fit(r);
	/* At most 20 fixed bytes (MSS, TS, WS), SACK clamped to the rest. */
	uint32_t opt = fixed_opt_len(r) + (n ? 4 + 8 * n : 0);
	return (uint8_t)(USN_TCP_HDR_LEN + opt);
}

static uint8_t *put4(uint8_t *q, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	q[0] = a;
	q[1] = b;
	q[2] = c;
	q[3] = d;
	return q + 4;
}

uint8_t usn_tcp_emit(const struct usn_tcp_repr *r, uint8_t *p)
{
	uint8_t hdr_len = usn_tcp_hdr_len(r);
	usn_store_be16(p, r->src_port);
	usn_store_be16(p + 2, r->dst_port);
	usn_store_be32(p + 4, r->seq);
	usn_store_be32(p + 8, r->ack);
	p[12] = (uint8_t)((hdr_len / 4) << 4);
	p[13] = r->flags;
	usn_store_be16(p + 14, r->window);
	usn_store_be16(p + 16, 0);
	usn_store_be16(p + 18, r->urgent);

	/* Linux's tcp_options_write order, every option 4-byte aligned:
	 * MSS; SACK-perm (or NOP NOP) + TS; NOP NOP SACK-perm; NOP WS;
	 * NOP NOP SACK blocks. */
	uint8_t *q = p + USN_TCP_HDR_LEN;
	if (r->has_mss) {
		q = put4(q, OPT_MSS, 4, 0, 0);
		usn_store_be16(q - 2, r->mss);
	}
	if (r->has_ts) {
		if (r->sack_permitted)
			q = put4(q, OPT_SACK_PERM, 2, OPT_TS, 10);
		else
			q = put4(q, OPT_NOP, OPT_NOP, OPT_TS, 10);
		usn_store_be32(q, r->ts_val);
		usn_store_be32(q + 4, r->ts_ecr);
		q += 8;
	} else if (r->sack_permitted) {
		q = put4(q, OPT_NOP, OPT_NOP, OPT_SACK_PERM, 2);
	}
	if (r->has_wscale)
		q = put4(q, OPT_NOP, OPT_WS, 3, r->wscale);
	uint32_t n = sack_blocks_fit(r);
	if (n) {
		q = put4(q, OPT_NOP, OPT_NOP, OPT_SACK, (uint8_t)(2 + 8 * n));
		for (uint32_t k = 0; k < n; k++) {
			usn_store_be32(q, r->sack[k].left);
			usn_store_be32(q + 4, r->sack[k].right);
			q += 8;
		}
	}
	return hdr_len;
}
