/* libusnet fuzz target fuzz_wire (tests/fuzz): every parser of lib/wire on
 * arbitrary bytes laid over a random usn_buf chain (each buffer its own
 * exact-size malloc, so ASan sees a read past any buffer), checked against
 * the same bytes in one buffer, then parse(emit(parse(x))) consistency.
 *
 * Input: [0] largest buffer of the chain - 1 (mod 48), [1] bytes of garbage
 * before the view (mod 16), [2..5] chain seed, then the bytes parsed. */
#include <string.h>

#include "bufchain.h"
#include "fuzz_targets.h"
#include "usnet/csum.h"
#include "usnet/cursor.h"
#include "wire/wire.h"

#define WIRE_MAX 2048 /* parsers never look further; longer inputs are cut */

/* The bytes twice: flat in one buffer, and chained with a garbage prefix
 * that the view starts after. */
struct wire_views {
	struct usn_buf *flat, *chain;
	struct usn_cursor cf, cc;
};

static void views_make(struct wire_views *v, const uint8_t *p, size_t len, size_t max_buf, size_t pre,
		       uint32_t seed)
{
	static const size_t whole[1] = {0};
	uint8_t tmp[WIRE_MAX + 16];
	memset(tmp, 0xa5, pre);
	memcpy(tmp + pre, p, len);
	v->flat = bufchain_new(p, len, whole, 1);
	v->chain = bufchain_new_random(tmp, pre + len, max_buf, &seed);
	FUZZ_CHECK(v->flat && v->chain);
	v->cf = usn_cursor_of_frame(v->flat);
	v->cc = usn_cursor_drop(usn_cursor_of_frame(v->chain), (uint32_t)pre);
	FUZZ_CHECK(usn_cursor_size(v->cf) == len && usn_cursor_size(v->cc) == len);
}

static void views_free(struct wire_views *v)
{
	bufchain_free(v->flat);
	bufchain_free(v->chain);
}

/* Cursor operations agree with the flat bytes wherever the view is cut. */
static void check_cursor(const struct wire_views *v, const uint8_t *p, size_t len, uint32_t a, uint32_t b)
{
	uint8_t out[WIRE_MAX], scratch[WIRE_MAX];
	FUZZ_CHECK(usn_cursor_read(v->cc, out, len) == len);
	FUZZ_CHECK(memcmp(out, p, len) == 0);
	FUZZ_CHECK(usn_csum_fold(usn_cursor_csum(v->cc)) == usn_csum_fold(usn_csum_partial(p, len, 0)));
	uint32_t off = len ? a % (uint32_t)(len + 1) : 0;
	uint32_t n = (uint32_t)(len - off) ? b % (uint32_t)(len - off + 1) : 0;
	struct usn_cursor sub = usn_cursor_take(usn_cursor_drop(v->cc, off), n);
	FUZZ_CHECK(usn_cursor_size(sub) == n);
	const uint8_t *q = usn_cursor_read_with(sub, n, scratch);
	FUZZ_CHECK(q && memcmp(q, p + off, n) == 0);
	FUZZ_CHECK(usn_cursor_read_with(sub, n + 1, scratch) == NULL);
	/* An odd start puts every byte in the other checksum lane. */
	FUZZ_CHECK(usn_csum_fold(usn_cursor_csum(sub)) == usn_csum_fold(usn_csum_partial(p + off, n, 0)));
}

static void fuzz_eth(const struct wire_views *v, size_t len)
{
	struct usn_eth_repr rf, rc;
	memset(&rf, 0, sizeof(rf));
	memset(&rc, 0, sizeof(rc));
	enum usn_wire_err ef = usn_eth_parse(v->cf, &rf), ec = usn_eth_parse(v->cc, &rc);
	FUZZ_CHECK(ef == ec);
	if (ef != USN_WIRE_OK)
		return;
	FUZZ_CHECK(memcmp(&rf, &rc, sizeof(rf)) == 0);
	FUZZ_CHECK(rf.hdr_len == USN_ETH_HDR_LEN || rf.hdr_len == USN_ETH_HDR_LEN + 4);
	FUZZ_CHECK(rf.hdr_len <= len);
	if (rf.ethertype == USN_ETHERTYPE_VLAN)
		return; /* a second tag: the untagged re-emit would parse as a tag */
	uint8_t out[USN_ETH_HDR_LEN];
	usn_eth_emit(&rf, out);
	static const size_t whole[1] = {0};
	struct usn_buf *b = bufchain_new(out, sizeof(out), whole, 1);
	FUZZ_CHECK(b);
	struct usn_eth_repr r2;
	memset(&r2, 0, sizeof(r2));
	FUZZ_CHECK(usn_eth_parse(usn_cursor_of_frame(b), &r2) == USN_WIRE_OK);
	FUZZ_CHECK(memcmp(r2.dst, rf.dst, 6) == 0 && memcmp(r2.src, rf.src, 6) == 0);
	FUZZ_CHECK(r2.ethertype == rf.ethertype && r2.vlan_tci == 0 && r2.hdr_len == USN_ETH_HDR_LEN);
	bufchain_free(b);
}

static void fuzz_arp(const struct wire_views *v)
{
	struct usn_arp_repr rf, rc, r2;
	memset(&rf, 0, sizeof(rf));
	memset(&rc, 0, sizeof(rc));
	memset(&r2, 0, sizeof(r2));
	enum usn_wire_err ef = usn_arp_parse(v->cf, &rf), ec = usn_arp_parse(v->cc, &rc);
	FUZZ_CHECK(ef == ec);
	if (ef != USN_WIRE_OK)
		return;
	FUZZ_CHECK(memcmp(&rf, &rc, sizeof(rf)) == 0);
	FUZZ_CHECK(rf.op == USN_ARP_REQUEST || rf.op == USN_ARP_REPLY);
	uint8_t out[USN_ARP_LEN];
	usn_arp_emit(&rf, out);
	static const size_t sizes[2] = {5, 3};
	struct usn_buf *b = bufchain_new(out, sizeof(out), sizes, 2);
	FUZZ_CHECK(b);
	FUZZ_CHECK(usn_arp_parse(usn_cursor_of_frame(b), &r2) == USN_WIRE_OK);
	FUZZ_CHECK(memcmp(&rf, &r2, sizeof(rf)) == 0);
	bufchain_free(b);
}

static void fuzz_ipv4(const struct wire_views *v, const uint8_t *p, size_t len)
{
	for (int csum_ok = 0; csum_ok < 2; csum_ok++) {
		struct usn_ipv4_repr rf, rc, r2;
		memset(&rf, 0, sizeof(rf));
		memset(&rc, 0, sizeof(rc));
		memset(&r2, 0, sizeof(r2));
		enum usn_wire_err ef = usn_ipv4_parse(v->cf, &rf, csum_ok), ec = usn_ipv4_parse(v->cc, &rc, csum_ok);
		FUZZ_CHECK(ef == ec);
		if (ef != USN_WIRE_OK)
			continue;
		FUZZ_CHECK(memcmp(&rf, &rc, sizeof(rf)) == 0);
		FUZZ_CHECK(rf.hdr_len >= USN_IPV4_HDR_LEN && rf.hdr_len <= 60 && rf.hdr_len % 4 == 0);
		FUZZ_CHECK(rf.hdr_len <= rf.total_len && rf.total_len <= len);
		FUZZ_CHECK((p[0] >> 4) == 4);

		/* Re-emit without options over the same payload. */
		uint16_t pay = (uint16_t)(rf.total_len - rf.hdr_len);
		uint8_t out[WIRE_MAX + 20];
		struct usn_ipv4_repr re = rf;
		re.total_len = (uint16_t)(USN_IPV4_HDR_LEN + pay);
		for (int fill = 0; fill < 2; fill++) {
			usn_ipv4_emit(&re, out, fill);
			memcpy(out + USN_IPV4_HDR_LEN, p + rf.hdr_len, pay);
			size_t sizes[1] = {7};
			struct usn_buf *b = bufchain_new(out, USN_IPV4_HDR_LEN + pay, sizes, 1);
			FUZZ_CHECK(b);
			memset(&r2, 0, sizeof(r2));
			FUZZ_CHECK(usn_ipv4_parse(usn_cursor_of_frame(b), &r2, !fill) == USN_WIRE_OK);
			FUZZ_CHECK(r2.hdr_len == USN_IPV4_HDR_LEN && r2.total_len == USN_IPV4_HDR_LEN + pay);
			FUZZ_CHECK(r2.src == rf.src && r2.dst == rf.dst && r2.id == rf.id && r2.frag == rf.frag);
			FUZZ_CHECK(r2.tos == rf.tos && r2.ttl == rf.ttl && r2.proto == rf.proto);
			FUZZ_CHECK(usn_ipv4_is_fragment(&r2) == usn_ipv4_is_fragment(&rf));
			bufchain_free(b);
		}
	}
}

static void fuzz_icmp(const struct wire_views *v, const uint8_t *p, size_t len)
{
	struct usn_icmp_repr rf, rc, r2;
	memset(&rf, 0, sizeof(rf));
	memset(&rc, 0, sizeof(rc));
	memset(&r2, 0, sizeof(r2));
	enum usn_wire_err ef = usn_icmp_parse(v->cf, &rf), ec = usn_icmp_parse(v->cc, &rc);
	FUZZ_CHECK(ef == ec);
	if (ef == USN_WIRE_OK)
		FUZZ_CHECK(memcmp(&rf, &rc, sizeof(rf)) == 0);
	/* The quoted packet of an error message: flat and chained agree. */
	struct usn_icmp_err_repr qf, qc;
	memset(&qf, 0, sizeof(qf));
	memset(&qc, 0, sizeof(qc));
	enum usn_wire_err qef = usn_icmp_err_parse(v->cf, &qf), qec = usn_icmp_err_parse(v->cc, &qc);
	FUZZ_CHECK(qef == qec);
	if (qef == USN_WIRE_OK)
		FUZZ_CHECK(memcmp(&qf, &qc, sizeof(qf)) == 0);
	if (len < 8)
		return;
	/* Whatever the sum said, a header emitted over this data must verify
	 * (including the all-zero data and -0 corners, RFC 1624). */
	if (ef != USN_WIRE_OK) {
		rf.type = p[0];
		rf.code = p[1];
		rf.ident = usn_load_be16(p + 4);
		rf.seq = usn_load_be16(p + 6);
	}
	uint8_t out[WIRE_MAX];
	memcpy(out, p, len);
	usn_icmp_emit(&rf, out, usn_cursor_csum(usn_cursor_drop(v->cc, 8)));
	size_t sizes[2] = {3, 1};
	struct usn_buf *b = bufchain_new(out, len, sizes, 2);
	FUZZ_CHECK(b);
	FUZZ_CHECK(usn_icmp_parse(usn_cursor_of_frame(b), &r2) == USN_WIRE_OK);
	FUZZ_CHECK(memcmp(&rf, &r2, sizeof(rf)) == 0);
	bufchain_free(b);
}

/* IPv6: the chain walk agrees on flat and chained bytes and stays within
 * its limits; a re-emitted fixed header parses to the same fields; ICMPv6
 * (errors and their quote too), UDP and ND parsers agree too, and NS/NA
 * re-emit consistently. */
static void fuzz_ipv6(const struct wire_views *v, const uint8_t *p, size_t len)
{
	struct usn_ipv6_repr rf, rc;
	memset(&rf, 0, sizeof(rf));
	memset(&rc, 0, sizeof(rc));
	enum usn_ipv6_err ef = usn_ipv6_parse(v->cf, &rf), ec = usn_ipv6_parse(v->cc, &rc);
	FUZZ_CHECK(ef == ec);
	if (ef != USN_IPV6_OK)
		return;
	FUZZ_CHECK(memcmp(&rf, &rc, sizeof(rf)) == 0);
	FUZZ_CHECK(rf.n_ext <= USN_IPV6_MAX_EXT_HDRS);
	FUZZ_CHECK(rf.hdr_len >= USN_IPV6_HDR_LEN && rf.hdr_len <= (size_t)USN_IPV6_HDR_LEN + USN_IPV6_MAX_EXT_BYTES);
	FUZZ_CHECK(rf.hdr_len <= USN_IPV6_HDR_LEN + (size_t)rf.payload_len && (size_t)USN_IPV6_HDR_LEN + rf.payload_len <= len);
	uint8_t out[USN_IPV6_HDR_LEN];
	usn_ipv6_emit(&rf, out);
	FUZZ_CHECK(memcmp(out + 4, p + 4, 36) == 0 || rf.n_ext > 0);
	/* The upper layer as ICMPv6, then as ND. */
	struct usn_cursor uf = usn_cursor_take(usn_cursor_drop(v->cf, rf.hdr_len),
					       USN_IPV6_HDR_LEN + (uint32_t)rf.payload_len - rf.hdr_len);
	struct usn_cursor uc = usn_cursor_take(usn_cursor_drop(v->cc, rf.hdr_len),
					       USN_IPV6_HDR_LEN + (uint32_t)rf.payload_len - rf.hdr_len);
	struct usn_icmp6_repr i1, i2;
	memset(&i1, 0, sizeof(i1));
	memset(&i2, 0, sizeof(i2));
	FUZZ_CHECK(usn_icmp6_parse(uf, rf.src, rf.dst, &i1) == usn_icmp6_parse(uc, rf.src, rf.dst, &i2));
	FUZZ_CHECK(memcmp(&i1, &i2, sizeof(i1)) == 0);
	/* As an ICMPv6 error's quote, and as UDP (a zero sum never OK). */
	struct usn_icmp_err_repr q1, q2;
	memset(&q1, 0, sizeof(q1));
	memset(&q2, 0, sizeof(q2));
	enum usn_wire_err qe = usn_icmp6_err_parse(uf, &q1);
	FUZZ_CHECK(qe == usn_icmp6_err_parse(uc, &q2));
	FUZZ_CHECK(qe != USN_WIRE_OK || (memcmp(&q1, &q2, sizeof(q1)) == 0 && q1.family == USN_AF_INET6));
	struct usn_udp_repr u1, u2;
	memset(&u1, 0, sizeof(u1));
	memset(&u2, 0, sizeof(u2));
	enum usn_wire_err ue = usn_udp_parse_ipv6(uf, rf.src, rf.dst, false, &u1);
	FUZZ_CHECK(ue == usn_udp_parse_ipv6(uc, rf.src, rf.dst, false, &u2));
	FUZZ_CHECK(ue != USN_WIRE_OK || (memcmp(&u1, &u2, sizeof(u1)) == 0 && u1.len <= usn_cursor_size(uf)));
	struct usn_nd_repr n1, n2, n3;
	memset(&n1, 0, sizeof(n1));
	memset(&n2, 0, sizeof(n2));
	enum usn_wire_err e1 = usn_nd_parse(uf, &n1), e2 = usn_nd_parse(uc, &n2);
	FUZZ_CHECK(e1 == e2);
	if (e1 != USN_WIRE_OK)
		return;
	FUZZ_CHECK(memcmp(&n1, &n2, sizeof(n1)) == 0);
	if (n1.type != USN_ICMP6_ND_NS && n1.type != USN_ICMP6_ND_NA)
		return;
	uint8_t nd[USN_ND_LEN + USN_ND_LLA_LEN];
	uint16_t nl = usn_nd_emit(&n1, nd, rf.src, rf.dst);
	struct usn_buf *b = bufchain_new(nd, nl, NULL, 0);
	FUZZ_CHECK(b);
	memset(&n3, 0, sizeof(n3));
	FUZZ_CHECK(usn_nd_parse(usn_cursor_of_frame(b), &n3) == USN_WIRE_OK);
	FUZZ_CHECK(memcmp(&n1, &n3, sizeof(n1)) == 0);
	struct usn_icmp6_repr i3;
	FUZZ_CHECK(usn_icmp6_parse(usn_cursor_of_frame(b), rf.src, rf.dst, &i3) == USN_WIRE_OK);
	bufchain_free(b);
}

static bool tcp_same_fields(const struct usn_tcp_repr *a, const struct usn_tcp_repr *b)
{
	if (a->src_port != b->src_port || a->dst_port != b->dst_port || a->seq != b->seq || a->ack != b->ack ||
	    a->flags != b->flags || a->window != b->window || a->urgent != b->urgent)
		return false;
	if (a->has_mss != b->has_mss || a->has_wscale != b->has_wscale || a->sack_permitted != b->sack_permitted ||
	    a->has_ts != b->has_ts)
		return false;
	if ((a->has_mss && a->mss != b->mss) || (a->has_wscale && a->wscale != b->wscale))
		return false;
	if (a->has_ts && (a->ts_val != b->ts_val || a->ts_ecr != b->ts_ecr))
		return false;
	return true;
}

static void fuzz_tcp(const struct wire_views *v, size_t len)
{
	struct usn_tcp_repr rf, rc, r2;
	memset(&rf, 0, sizeof(rf));
	memset(&rc, 0, sizeof(rc));
	enum usn_wire_err ef = usn_tcp_parse(v->cf, &rf), ec = usn_tcp_parse(v->cc, &rc);
	FUZZ_CHECK(ef == ec);
	if (ef != USN_WIRE_OK)
		return;
	FUZZ_CHECK(memcmp(&rf, &rc, sizeof(rf)) == 0);
	FUZZ_CHECK(rf.hdr_len >= USN_TCP_HDR_LEN && rf.hdr_len <= USN_TCP_MAX_HDR_LEN && rf.hdr_len % 4 == 0);
	FUZZ_CHECK(rf.hdr_len <= len);
	FUZZ_CHECK(rf.n_sack <= USN_TCP_MAX_SACK);

	/* emit: its length is what usn_tcp_hdr_len promised and fits 60. */
	uint8_t out[2][USN_TCP_MAX_HDR_LEN + 8];
	memset(out, 0xee, sizeof(out));
	uint8_t n1 = usn_tcp_emit(&rf, out[0]);
	FUZZ_CHECK(n1 == usn_tcp_hdr_len(&rf) && n1 <= USN_TCP_MAX_HDR_LEN && n1 % 4 == 0);
	FUZZ_CHECK(out[0][USN_TCP_MAX_HDR_LEN] == 0xee); /* nothing written past 60 */
	size_t sizes[1] = {1};
	struct usn_buf *b = bufchain_new(out[0], n1, sizes, 1);
	FUZZ_CHECK(b);
	memset(&r2, 0, sizeof(r2));
	FUZZ_CHECK(usn_tcp_parse(usn_cursor_of_frame(b), &r2) == USN_WIRE_OK);
	bufchain_free(b);
	FUZZ_CHECK(r2.hdr_len == n1);
	FUZZ_CHECK(tcp_same_fields(&rf, &r2));
	/* SACK blocks are clamped to the room left, never reordered. */
	FUZZ_CHECK(r2.n_sack <= rf.n_sack);
	for (uint8_t k = 0; k < r2.n_sack; k++)
		FUZZ_CHECK(r2.sack[k].left == rf.sack[k].left && r2.sack[k].right == rf.sack[k].right);
	if (r2.n_sack < rf.n_sack)
		FUZZ_CHECK(n1 + 8 > USN_TCP_MAX_HDR_LEN); /* no room for one more */
	/* emit is a fixed point from there on. */
	uint8_t n2 = usn_tcp_emit(&r2, out[1]);
	FUZZ_CHECK(n2 == n1 && memcmp(out[0], out[1], n1) == 0);
}

/* UDP over IPv4 with the fixture's addresses: the same verdict on both
 * views, the length field within the bytes; a header emitted over the
 * data verifies and parses back to the same fields. */
static void fuzz_udp(const struct wire_views *v, const uint8_t *p, size_t len)
{
	const uint32_t src = 0xc6120002, dst = 0xc6120001;
	struct usn_udp_repr rf, rc, r2;
	memset(&rf, 0, sizeof(rf));
	memset(&rc, 0, sizeof(rc));
	enum usn_wire_err ef = usn_udp_parse_ipv4(v->cf, src, dst, false, &rf);
	enum usn_wire_err ec = usn_udp_parse_ipv4(v->cc, src, dst, false, &rc);
	FUZZ_CHECK(ef == ec);
	if (ef == USN_WIRE_OK) {
		FUZZ_CHECK(memcmp(&rf, &rc, sizeof(rf)) == 0);
		FUZZ_CHECK(rf.len >= USN_UDP_HDR_LEN && rf.len <= len);
	}
	if (len < USN_UDP_HDR_LEN)
		return;
	struct usn_udp_repr w = {.src_port = usn_load_be16(p), .dst_port = usn_load_be16(p + 2),
				 .len = (uint16_t)len};
	uint8_t out[WIRE_MAX];
	memcpy(out, p, len);
	usn_udp_emit_ipv4(&w, src, dst, out, usn_cursor_csum(usn_cursor_drop(v->cc, USN_UDP_HDR_LEN)));
	FUZZ_CHECK(usn_load_be16(out + 6) != 0);
	size_t sizes[2] = {5, 2};
	struct usn_buf *b = bufchain_new(out, len, sizes, 2);
	FUZZ_CHECK(b);
	memset(&r2, 0, sizeof(r2));
	FUZZ_CHECK(usn_udp_parse_ipv4(usn_cursor_of_frame(b), src, dst, false, &r2) == USN_WIRE_OK);
	FUZZ_CHECK(r2.src_port == w.src_port && r2.dst_port == w.dst_port && r2.len == w.len);
	bufchain_free(b);
}

int fuzz_wire_one(const uint8_t *data, size_t size)
{
	size_t max_buf = size > 0 ? (size_t)(data[0] % 48) + 1 : 1;
	size_t pre = size > 1 ? (size_t)(data[1] % 16) : 0;
	uint32_t seed = size > 5 ? usn_load_be32(data + 2) : 1;
	if (!seed)
		seed = 1;
	const uint8_t *p = size > 6 ? data + 6 : data + size;
	size_t len = size > 6 ? size - 6 : 0;
	if (len > WIRE_MAX)
		len = WIRE_MAX;

	struct wire_views v;
	views_make(&v, p, len, max_buf, pre, seed);
	check_cursor(&v, p, len, size > 2 ? data[2] * 7u : 0, size > 3 ? data[3] * 13u : 0);
	fuzz_eth(&v, len);
	fuzz_arp(&v);
	fuzz_ipv4(&v, p, len);
	fuzz_ipv6(&v, p, len);
	fuzz_icmp(&v, p, len);
	fuzz_tcp(&v, len);
	if (len <= 0xffff)
		fuzz_udp(&v, p, len);
	/* The same parsers on what follows an Ethernet header, as the stack does. */
	if (len > USN_ETH_HDR_LEN) {
		struct wire_views v2;
		views_make(&v2, p + USN_ETH_HDR_LEN, len - USN_ETH_HDR_LEN, max_buf, (pre + 3) % 16, seed ^ 0x5a5a);
		fuzz_arp(&v2);
		fuzz_ipv4(&v2, p + USN_ETH_HDR_LEN, len - USN_ETH_HDR_LEN);
		fuzz_ipv6(&v2, p + USN_ETH_HDR_LEN, len - USN_ETH_HDR_LEN);
		views_free(&v2);
	}
	/* And UDP on what follows an option-less IPv4 header. */
	size_t l4 = USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN;
	if (len > l4) {
		struct wire_views v3;
		views_make(&v3, p + l4, len - l4, max_buf, (pre + 5) % 16, seed ^ 0x1717);
		fuzz_udp(&v3, p + l4, len - l4);
		views_free(&v3);
	}
	views_free(&v);
	return 0;
}
