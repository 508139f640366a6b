/* Unit tests for lib/wire/{eth,arp,ipv4,icmp,tcp}.c: round trips, every
 * malformed case with its own error, headers straddling buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bufchain.h"
#include "usnet/csum.h"
#include "wire/wire.h"

/* Splits every parse is tried with: whole, 1-byte, 3-byte, 7-byte buffers,
 * and empty buffers sprinkled in. */
static const size_t SPLIT_WHOLE[] = {0};
static const size_t SPLIT_1[] = {1};
static const size_t SPLIT_3[] = {3};
static const size_t SPLIT_7[] = {7};
static const size_t SPLIT_Z[] = {0, 5, 0, 0, 2};
static const struct {
	const size_t *s;
	size_t n;
} SPLITS[] = {{SPLIT_WHOLE, 1}, {SPLIT_1, 1}, {SPLIT_3, 1}, {SPLIT_7, 1}, {SPLIT_Z, 5}};
#define N_SPLITS (sizeof(SPLITS) / sizeof(SPLITS[0]))

typedef enum usn_wire_err (*parse_fn)(struct usn_cursor c, void *repr, void *arg);

/* Parses bytes under every split; all must agree on the error and the repr
 * (compared with cmp over repr_size bytes after a memset, so padding is 0). */
static enum usn_wire_err parse_all(const uint8_t *bytes, size_t len, parse_fn fn, void *repr,
				   size_t repr_size, void *arg)
{
	enum usn_wire_err first = USN_WIRE_OK;
	uint8_t *keep = malloc(repr_size), *cur = malloc(repr_size);
	assert_non_null(keep);
	assert_non_null(cur);
	for (size_t i = 0; i < N_SPLITS; i++) {
		struct usn_buf *h = bufchain_new(bytes, len, SPLITS[i].s, SPLITS[i].n);
		assert_non_null(h);
		memset(cur, 0, repr_size);
		enum usn_wire_err e = fn(usn_cursor_of_frame(h), cur, arg);
		if (i == 0) {
			first = e;
			memcpy(keep, cur, repr_size);
		} else {
			assert_int_equal(e, first);
			if (e == USN_WIRE_OK)
				assert_memory_equal(cur, keep, repr_size);
		}
		bufchain_free(h);
	}
	memcpy(repr, keep, repr_size);
	free(keep);
	free(cur);
	return first;
}

static enum usn_wire_err p_eth(struct usn_cursor c, void *r, void *a)
{
	(void)a;
	return usn_eth_parse(c, r);
}
static enum usn_wire_err p_arp(struct usn_cursor c, void *r, void *a)
{
	(void)a;
	return usn_arp_parse(c, r);
}
static enum usn_wire_err p_ipv4(struct usn_cursor c, void *r, void *a)
{
	return usn_ipv4_parse(c, r, a != NULL);
}
static enum usn_wire_err p_icmp(struct usn_cursor c, void *r, void *a)
{
	(void)a;
	return usn_icmp_parse(c, r);
}
static enum usn_wire_err p_tcp(struct usn_cursor c, void *r, void *a)
{
	(void)a;
	return usn_tcp_parse(c, r);
}

/* ---- Ethernet ---- */

static void test_eth_round_trip(void **state)
{
	(void)state;
	struct usn_eth_repr r = {
	    {1, 2, 3, 4, 5, 6}, {0xa, 0xb, 0xc, 0xd, 0xe, 0xf}, USN_ETHERTYPE_IPV4, 0, 14};
	uint8_t b[60] = {0};
	usn_eth_emit(&r, b);
	const uint8_t want[14] = {1, 2, 3, 4, 5, 6, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x08, 0x00};
	assert_memory_equal(b, want, 14);
	struct usn_eth_repr got;
	assert_int_equal(parse_all(b, sizeof(b), p_eth, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_memory_equal(got.dst, r.dst, 6);
	assert_memory_equal(got.src, r.src, 6);
	assert_int_equal(got.ethertype, USN_ETHERTYPE_IPV4);
	assert_int_equal(got.vlan_tci, 0);
	assert_int_equal(got.hdr_len, 14);
}

static void test_eth_vlan_tolerated(void **state)
{
	(void)state;
	uint8_t b[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x20, 0x07, 0x08, 0x06};
	struct usn_eth_repr got;
	assert_int_equal(parse_all(b, sizeof(b), p_eth, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_int_equal(got.ethertype, USN_ETHERTYPE_ARP);
	assert_int_equal(got.vlan_tci, 0x2007);
	assert_int_equal(got.hdr_len, 18);
	for (size_t len = 14; len < 18; len++)
		assert_int_equal(parse_all(b, len, p_eth, &got, sizeof(got), NULL), USN_WIRE_SHORT);
}

static void test_eth_short(void **state)
{
	(void)state;
	uint8_t b[14] = {0};
	struct usn_eth_repr got;
	for (size_t len = 0; len < 14; len++)
		assert_int_equal(parse_all(b, len, p_eth, &got, sizeof(got), NULL), USN_WIRE_SHORT);
	assert_int_equal(parse_all(b, 14, p_eth, &got, sizeof(got), NULL), USN_WIRE_OK);
}

/* ---- ARP ---- */

static const struct usn_arp_repr ARP = {
    USN_ARP_REPLY, {0x02, 0, 0, 0, 0, 1}, 0xc6120001u, {0x02, 0, 0, 0, 0, 2}, 0xc6120002u};

static void test_arp_round_trip(void **state)
{
	(void)state;
	uint8_t b[USN_ARP_LEN + 18];
	memset(b, 0, sizeof(b));
	usn_arp_emit(&ARP, b);
	const uint8_t want[USN_ARP_LEN] = {0,	1,  8, 0, 6, 4, 0, 2, 2, 0, 0,	 0,  0, 1,
					   198, 18, 0, 1, 2, 0, 0, 0, 0, 2, 198, 18, 0, 2};
	assert_memory_equal(b, want, USN_ARP_LEN);
	struct usn_arp_repr got;
	assert_int_equal(parse_all(b, sizeof(b), p_arp, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_int_equal(got.op, ARP.op);
	assert_memory_equal(got.sha, ARP.sha, 6);
	assert_memory_equal(got.tha, ARP.tha, 6);
	assert_int_equal(got.spa, ARP.spa);
	assert_int_equal(got.tpa, ARP.tpa);
}

static void test_arp_malformed(void **state)
{
	(void)state;
	uint8_t b[USN_ARP_LEN];
	struct usn_arp_repr got;
	usn_arp_emit(&ARP, b);
	for (size_t len = 0; len < USN_ARP_LEN; len++)
		assert_int_equal(parse_all(b, len, p_arp, &got, sizeof(got), NULL), USN_WIRE_SHORT);
	/* hardware type, protocol type, their lengths, the opcode */
	const struct {
		size_t at;
		uint8_t v;
	} bad[] = {{1, 6}, {2, 0x86}, {4, 8}, {5, 16}, {7, 3}, {7, 0}, {6, 1}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		usn_arp_emit(&ARP, b);
		b[bad[i].at] = bad[i].v;
		assert_int_equal(parse_all(b, sizeof(b), p_arp, &got, sizeof(got), NULL), USN_WIRE_MALFORMED);
	}
}

/* ---- IPv4 ---- */

static const struct usn_ipv4_repr IP = {0xc6120001u, 0xc61200feu, 40, 0x1234,	      USN_IPV4_DF,
					20,	     0x10,	  64, USN_IPPROTO_TCP};

static void ip_fix_csum(uint8_t *b, size_t hdr_len)
{
	b[10] = b[11] = 0;
	usn_store_be16(b + 10, usn_csum_finish(usn_csum_partial(b, hdr_len, 0)));
}

static void test_ipv4_round_trip(void **state)
{
	(void)state;
	uint8_t b[64];
	memset(b, 0xaa, sizeof(b));
	usn_ipv4_emit(&IP, b, true);
	assert_int_equal(b[0], 0x45);
	assert_int_equal(usn_csum_fold(usn_csum_partial(b, 20, 0)), 0xffff);
	struct usn_ipv4_repr got;
	/* frame longer than total_len (Ethernet padding) is fine */
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_int_equal(got.src, IP.src);
	assert_int_equal(got.dst, IP.dst);
	assert_int_equal(got.total_len, IP.total_len);
	assert_int_equal(got.id, IP.id);
	assert_int_equal(got.frag, IP.frag);
	assert_int_equal(got.hdr_len, 20);
	assert_int_equal(got.tos, IP.tos);
	assert_int_equal(got.ttl, IP.ttl);
	assert_int_equal(got.proto, IP.proto);
	assert_false(usn_ipv4_is_fragment(&got));
	/* exactly total_len bytes */
	assert_int_equal(parse_all(b, 40, p_ipv4, &got, sizeof(got), NULL), USN_WIRE_OK);
	/* no checksum asked: the field stays 0 */
	usn_ipv4_emit(&IP, b, false);
	assert_int_equal(b[10], 0);
	assert_int_equal(b[11], 0);
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_CSUM);
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), (void *)1), USN_WIRE_OK);
}

static void test_ipv4_fragment_parses(void **state)
{
	(void)state;
	struct usn_ipv4_repr r = IP, got;
	r.frag = USN_IPV4_MF;
	uint8_t b[40] = {0};
	usn_ipv4_emit(&r, b, true);
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_true(usn_ipv4_is_fragment(&got));
	r.frag = 5;
	usn_ipv4_emit(&r, b, true);
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_true(usn_ipv4_is_fragment(&got));
}

static void test_ipv4_options_skipped(void **state)
{
	(void)state;
	uint8_t b[48] = {0};
	usn_ipv4_emit(&IP, b, false);
	b[0] = 0x46; /* IHL 6: one word of options (NOP NOP NOP EOL) */
	b[20] = b[21] = b[22] = 1;
	usn_store_be16(b + 2, 44);
	ip_fix_csum(b, 24);
	struct usn_ipv4_repr got;
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_int_equal(got.hdr_len, 24);
	assert_int_equal(got.total_len, 44);
	/* the checksum covers the options too */
	b[21] = 0x44;
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_CSUM);
}

static void test_ipv4_malformed(void **state)
{
	(void)state;
	uint8_t b[40];
	struct usn_ipv4_repr got;
	usn_ipv4_emit(&IP, b, true);
	for (size_t len = 0; len < 20; len++)
		assert_int_equal(parse_all(b, len, p_ipv4, &got, sizeof(got), NULL), USN_WIRE_SHORT);
	/* version */
	b[0] = 0x65;
	ip_fix_csum(b, 20);
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_VERSION);
	/* IHL below 5 */
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		usn_ipv4_emit(&IP, b, false);
		b[0] = (uint8_t)(0x40 | ihl);
		ip_fix_csum(b, 20);
		assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_HDRLEN);
	}
	/* IHL past the end of the frame: 15 words = 60 bytes > 40 */
	usn_ipv4_emit(&IP, b, false);
	b[0] = 0x4f;
	ip_fix_csum(b, 20);
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_HDRLEN);
	/* IHL 6 in a 22-byte frame */
	b[0] = 0x46;
	assert_int_equal(parse_all(b, 22, p_ipv4, &got, sizeof(got), NULL), USN_WIRE_HDRLEN);
	/* total length below the header, and past the frame */
	const uint16_t bad_total[] = {0, 1, 19, 41, 0xffff};
	for (size_t i = 0; i < sizeof(bad_total) / sizeof(bad_total[0]); i++) {
		struct usn_ipv4_repr r = IP;
		r.total_len = bad_total[i];
		usn_ipv4_emit(&r, b, true);
		assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_LEN);
	}
	/* total length below IHL with options: 24-byte header, total 22 */
	usn_ipv4_emit(&IP, b, false);
	b[0] = 0x46;
	usn_store_be16(b + 2, 22);
	ip_fix_csum(b, 24);
	assert_int_equal(parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL), USN_WIRE_LEN);
	/* each single bit flipped in the header breaks the checksum */
	for (size_t bit = 0; bit < 160; bit++) {
		usn_ipv4_emit(&IP, b, true);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		enum usn_wire_err e = parse_all(b, sizeof(b), p_ipv4, &got, sizeof(got), NULL);
		assert_int_not_equal(e, USN_WIRE_OK);
		if (bit >= 8 * 4) /* past version/IHL/total length */
			assert_int_equal(e, USN_WIRE_CSUM);
	}
}

/* ---- ICMP ---- */

static void test_icmp_round_trip(void **state)
{
	(void)state;
	for (size_t dlen = 0; dlen < 40; dlen++) {
		uint8_t b[8 + 40];
		for (size_t i = 0; i < dlen; i++)
			b[8 + i] = (uint8_t)(0x30 + i * 3);
		struct usn_icmp_repr r = {USN_ICMP_ECHO_REPLY, 0, 0xbeef, (uint16_t)(dlen * 1000 + 1)}, got;
		usn_icmp_emit(&r, b, usn_csum_partial(b + 8, dlen, 0));
		assert_int_equal(usn_csum_fold(usn_csum_partial(b, 8 + dlen, 0)), 0xffff);
		assert_int_equal(parse_all(b, 8 + dlen, p_icmp, &got, sizeof(got), NULL), USN_WIRE_OK);
		assert_int_equal(got.type, r.type);
		assert_int_equal(got.code, r.code);
		assert_int_equal(got.ident, r.ident);
		assert_int_equal(got.seq, r.seq);
		if (dlen) {
			b[8 + dlen - 1] ^= 0x01; /* any data byte counts, odd tails too */
			assert_int_equal(parse_all(b, 8 + dlen, p_icmp, &got, sizeof(got), NULL),
					 USN_WIRE_CSUM);
		}
	}
}

static void test_icmp_short(void **state)
{
	(void)state;
	uint8_t b[8];
	struct usn_icmp_repr r = {USN_ICMP_ECHO_REQUEST, 0, 1, 2}, got;
	usn_icmp_emit(&r, b, 0);
	for (size_t len = 0; len < 8; len++)
		assert_int_equal(parse_all(b, len, p_icmp, &got, sizeof(got), NULL), USN_WIRE_SHORT);
	assert_int_equal(parse_all(b, 8, p_icmp, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_int_equal(got.type, USN_ICMP_ECHO_REQUEST);
}

/* ---- TCP ---- */

static void tcp_assert_equal(const struct usn_tcp_repr *a, const struct usn_tcp_repr *b)
{
	assert_int_equal(a->src_port, b->src_port);
	assert_int_equal(a->dst_port, b->dst_port);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->ack, b->ack);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->hdr_len, b->hdr_len);
	assert_int_equal(a->window, b->window);
	assert_int_equal(a->urgent, b->urgent);
	assert_int_equal(a->has_mss, b->has_mss);
	if (a->has_mss)
		assert_int_equal(a->mss, b->mss);
	assert_int_equal(a->has_wscale, b->has_wscale);
	if (a->has_wscale)
		assert_int_equal(a->wscale, b->wscale);
	assert_int_equal(a->sack_permitted, b->sack_permitted);
	assert_int_equal(a->has_ts, b->has_ts);
	if (a->has_ts) {
		assert_int_equal(a->ts_val, b->ts_val);
		assert_int_equal(a->ts_ecr, b->ts_ecr);
	}
	assert_int_equal(a->n_sack, b->n_sack);
	for (unsigned i = 0; i < a->n_sack; i++) {
		assert_int_equal(a->sack[i].left, b->sack[i].left);
		assert_int_equal(a->sack[i].right, b->sack[i].right);
	}
}

static struct usn_tcp_repr tcp_base(void)
{
	struct usn_tcp_repr r;
	memset(&r, 0, sizeof(r));
	r.src_port = 80;
	r.dst_port = 40000;
	r.seq = 0xfedcba98u;
	r.ack = 0x01234567u;
	r.flags = USN_TCP_ACK | USN_TCP_PSH;
	r.window = 0xfff0;
	r.urgent = 0;
	r.hdr_len = 20;
	return r;
}

static void tcp_round_trip(struct usn_tcp_repr r, uint8_t want_hdr_len)
{
	uint8_t b[USN_TCP_MAX_HDR_LEN + 10];
	memset(b, 0xcc, sizeof(b));
	assert_int_equal(usn_tcp_hdr_len(&r), want_hdr_len);
	assert_int_equal(usn_tcp_emit(&r, b), want_hdr_len);
	assert_int_equal(b[12] >> 4, want_hdr_len / 4);
	assert_int_equal(b[16], 0);
	assert_int_equal(b[17], 0);
	assert_int_equal(b[want_hdr_len], 0xcc); /* nothing written past the header */
	r.hdr_len = want_hdr_len;
	struct usn_tcp_repr got;
	/* with payload after it, and exactly the header */
	assert_int_equal(parse_all(b, sizeof(b), p_tcp, &got, sizeof(got), NULL), USN_WIRE_OK);
	tcp_assert_equal(&got, &r);
	assert_int_equal(parse_all(b, want_hdr_len, p_tcp, &got, sizeof(got), NULL), USN_WIRE_OK);
	tcp_assert_equal(&got, &r);
}

static void test_tcp_round_trip_no_options(void **state)
{
	(void)state;
	struct usn_tcp_repr r = tcp_base();
	tcp_round_trip(r, 20);
	r.flags = 0xff;
	r.urgent = 0x1234;
	tcp_round_trip(r, 20);
}

static void test_tcp_round_trip_options(void **state)
{
	(void)state;
	struct usn_tcp_repr r = tcp_base();
	r.flags = USN_TCP_SYN;
	r.has_mss = true;
	r.mss = 1460;
	tcp_round_trip(r, 24);
	r.has_wscale = true;
	r.wscale = 14;
	tcp_round_trip(r, 28);
	r.sack_permitted = true;
	tcp_round_trip(r, 32);
	r.has_ts = true;
	r.ts_val = 0x11223344;
	r.ts_ecr = 0;
	tcp_round_trip(r, 40); /* MSS, SACK-perm+TS, NOP WS */

	r = tcp_base();
	r.has_ts = true;
	r.ts_val = 7;
	r.ts_ecr = 0xffffffffu;
	tcp_round_trip(r, 32);
	for (uint8_t n = 1; n <= 3; n++) {
		r.n_sack = n;
		for (unsigned i = 0; i < n; i++) {
			r.sack[i].left = 1000u * (i + 1);
			r.sack[i].right = 1000u * (i + 1) + 500;
		}
		tcp_round_trip(r, (uint8_t)(32 + 4 + 8 * n));
	}
	r = tcp_base();
	r.n_sack = 4; /* four blocks fit without timestamps */
	for (unsigned i = 0; i < 4; i++) {
		r.sack[i].left = 0xfffffff0u + i;
		r.sack[i].right = i;
	}
	tcp_round_trip(r, 56);
	r = tcp_base();
	r.sack_permitted = true;
	tcp_round_trip(r, 24);
}

static void test_tcp_sack_clamped_to_space(void **state)
{
	(void)state;
	/* TS takes 12 of the 40 option bytes: at most 3 SACK blocks follow. */
	struct usn_tcp_repr r = tcp_base(), got;
	r.has_ts = true;
	r.n_sack = 4;
	for (unsigned i = 0; i < 4; i++) {
		r.sack[i].left = 10 * i;
		r.sack[i].right = 10 * i + 5;
	}
	uint8_t b[64];
	assert_int_equal(usn_tcp_hdr_len(&r), 60);
	assert_int_equal(usn_tcp_emit(&r, b), 60);
	assert_int_equal(parse_all(b, 60, p_tcp, &got, sizeof(got), NULL), USN_WIRE_OK);
	assert_int_equal(got.n_sack, 3);
	assert_int_equal(got.sack[2].left, 20);
	assert_int_equal(got.sack[2].right, 25);
}

static void test_tcp_linux_option_bytes(void **state)
{
	(void)state;
	/* A Linux SYN: mss 1460, sackOK, TS, nop, wscale 7. */
	struct usn_tcp_repr r = tcp_base();
	r.flags = USN_TCP_SYN;
	r.has_mss = true;
	r.mss = 1460;
	r.sack_permitted = true;
	r.has_ts = true;
	r.ts_val = 0x01020304;
	r.ts_ecr = 0;
	r.has_wscale = true;
	r.wscale = 7;
	uint8_t b[60];
	assert_int_equal(usn_tcp_emit(&r, b), 40);
	const uint8_t syn[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7};
	assert_memory_equal(b + 20, syn, 20);
	assert_int_equal(b[12], 0xa0);
	assert_int_equal(b[13], USN_TCP_SYN);
	/* Without SACK-perm: NOP NOP TS. */
	r.sack_permitted = false;
	usn_tcp_emit(&r, b);
	const uint8_t syn2[20] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7};
	assert_memory_equal(b + 20, syn2, 20);
	/* Established with SACK: NOP NOP TS, NOP NOP SACK. */
	r = tcp_base();
	r.has_ts = true;
	r.ts_val = 5;
	r.ts_ecr = 6;
	r.n_sack = 1;
	r.sack[0].left = 0x10;
	r.sack[0].right = 0x20;
	assert_int_equal(usn_tcp_emit(&r, b), 44);
	const uint8_t est[24] = {1, 1, 8, 10, 0, 0, 0, 5,    0, 0, 0, 6,
				 1, 1, 5, 10, 0, 0, 0, 0x10, 0, 0, 0, 0x20};
	assert_memory_equal(b + 20, est, 24);
	/* SACK-perm alone: NOP NOP SACK-perm. */
	r = tcp_base();
	r.sack_permitted = true;
	usn_tcp_emit(&r, b);
	const uint8_t sp[4] = {1, 1, 4, 2};
	assert_memory_equal(b + 20, sp, 4);
}

/* A header of 20 + sizeof(opts) bytes (padded with EOL to a word). */
static size_t tcp_with_opts(uint8_t *b, const uint8_t *opts, size_t n)
{
	struct usn_tcp_repr r = tcp_base();
	usn_tcp_emit(&r, b);
	size_t hl = 20 + (n + 3) / 4 * 4;
	memset(b + 20, 0, hl - 20);
	memcpy(b + 20, opts, n);
	b[12] = (uint8_t)((hl / 4) << 4);
	return hl;
}

static enum usn_wire_err tcp_opts_parse(const uint8_t *opts, size_t n, struct usn_tcp_repr *got)
{
	uint8_t b[80];
	size_t hl = tcp_with_opts(b, opts, n);
	return parse_all(b, hl + 4, p_tcp, got, sizeof(*got), NULL);
}

static void test_tcp_options_lenient(void **state)
{
	(void)state;
	struct usn_tcp_repr got;
	/* unknown kind 30 skipped by length; NOPs; MSS after */
	const uint8_t a[] = {30, 6, 9, 9, 9, 9, 1, 1, 2, 4, 0x12, 0x34};
	assert_int_equal(tcp_opts_parse(a, sizeof(a), &got), USN_WIRE_OK);
	assert_true(got.has_mss);
	assert_int_equal(got.mss, 0x1234);
	assert_int_equal(got.hdr_len, 32);
	/* EOL ends the list: what follows is not read */
	const uint8_t e[] = {3, 3, 5, 0, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(tcp_opts_parse(e, sizeof(e), &got), USN_WIRE_OK);
	assert_true(got.has_wscale);
	assert_int_equal(got.wscale, 5);
	assert_false(got.has_mss);
	/* an option ending exactly at the header end */
	const uint8_t x[] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
	assert_int_equal(tcp_opts_parse(x, sizeof(x), &got), USN_WIRE_OK);
	assert_true(got.has_ts);
	assert_int_equal(got.ts_val, 1);
	assert_int_equal(got.ts_ecr, 2);
	/* the same NOP NOP TS (parse's fast path at 32 bytes) with an option
	 * after it: the longer header still reads every option */
	const uint8_t y[] = {1, 1, 8, 10, 0, 0, 0, 3, 0, 0, 0, 4, 2, 4, 0x05, 0xb4};
	assert_int_equal(tcp_opts_parse(y, sizeof(y), &got), USN_WIRE_OK);
	assert_int_equal(got.hdr_len, 36);
	assert_true(got.has_ts);
	assert_int_equal(got.ts_val, 3);
	assert_int_equal(got.ts_ecr, 4);
	assert_true(got.has_mss);
	assert_int_equal(got.mss, 1460);
}

static void test_tcp_bad_options(void **state)
{
	(void)state;
	struct usn_tcp_repr got;
	static const struct {
		uint8_t b[16];
		size_t n;
	} bad[] = {
	    {{2, 3, 5, 0}, 4},				 /* MSS len 3 */
	    {{2, 5, 5, 0, 0, 1, 1, 1}, 8},		 /* MSS len 5 */
	    {{2, 2, 1, 1}, 4},				 /* MSS len 2 */
	    {{3, 2, 1, 1}, 4},				 /* WS len 2 */
	    {{3, 4, 7, 0}, 4},				 /* WS len 4 */
	    {{4, 3, 0, 1}, 4},				 /* SACK-perm len 3 */
	    {{4, 4, 0, 0}, 4},				 /* SACK-perm len 4 */
	    {{5, 2, 1, 1}, 4},				 /* SACK with no block */
	    {{5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, 12},	 /* SACK len 9 */
	    {{5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, 12}, /* SACK len 11 */
	    {{8, 9, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, 12},	 /* TS len 9 */
	    {{8, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, 12}, /* TS len 11 */
	    {{30, 0, 1, 1}, 4},				 /* unknown, len 0 */
	    {{30, 1, 1, 1}, 4},				 /* unknown, len 1 */
	    {{30, 5, 1, 1}, 4},				 /* unknown, runs past the header */
	    {{1, 1, 8, 10, 0, 0, 0, 1}, 8},		 /* TS runs past the header */
	    {{1, 1, 1, 2}, 4},				 /* kind in the last byte, no length */
	    {{2, 4, 5, 0xb4, 1, 1, 1, 30}, 8},		 /* the same after a good MSS */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum usn_wire_err e = tcp_opts_parse(bad[i].b, bad[i].n, &got);
		if (e != USN_WIRE_BADOPT)
			fail_msg("bad option case %zu parsed as %d", i, (int)e);
	}
	/* SACK with 5 blocks (len 42) cannot fit: it runs past the header */
	uint8_t s5[40] = {5, 42};
	assert_int_equal(tcp_opts_parse(s5, sizeof(s5), &got), USN_WIRE_BADOPT);
}

static void test_tcp_header_length_lies(void **state)
{
	(void)state;
	uint8_t b[80];
	struct usn_tcp_repr r = tcp_base(), got;
	usn_tcp_emit(&r, b);
	for (size_t len = 0; len < 20; len++)
		assert_int_equal(parse_all(b, len, p_tcp, &got, sizeof(got), NULL), USN_WIRE_SHORT);
	for (uint8_t doff = 0; doff < 5; doff++) {
		b[12] = (uint8_t)(doff << 4);
		assert_int_equal(parse_all(b, 40, p_tcp, &got, sizeof(got), NULL), USN_WIRE_HDRLEN);
	}
	memset(b + 20, 1, 40); /* NOPs */
	for (uint8_t doff = 6; doff <= 15; doff++) {
		b[12] = (uint8_t)(doff << 4);
		/* one byte short of the claimed header */
		assert_int_equal(parse_all(b, doff * 4u - 1, p_tcp, &got, sizeof(got), NULL),
				 USN_WIRE_HDRLEN);
		assert_int_equal(parse_all(b, doff * 4u, p_tcp, &got, sizeof(got), NULL), USN_WIRE_OK);
		assert_int_equal(got.hdr_len, doff * 4u);
	}
}

static void test_tcp_random_round_trips(void **state)
{
	(void)state;
	uint32_t seed = 2024;
	for (int i = 0; i < 2000; i++) {
		struct usn_tcp_repr r = tcp_base();
		r.src_port = (uint16_t)bufchain_rand(&seed);
		r.dst_port = (uint16_t)bufchain_rand(&seed);
		r.seq = bufchain_rand(&seed);
		r.ack = bufchain_rand(&seed);
		r.flags = (uint8_t)bufchain_rand(&seed);
		r.window = (uint16_t)bufchain_rand(&seed);
		r.urgent = (uint16_t)bufchain_rand(&seed);
		uint32_t o = bufchain_rand(&seed);
		r.has_mss = o & 1;
		r.mss = (uint16_t)(o >> 16);
		r.has_wscale = (o >> 1) & 1;
		r.wscale = (uint8_t)(o >> 8) % 15;
		r.sack_permitted = (o >> 2) & 1;
		r.has_ts = (o >> 3) & 1;
		r.ts_val = bufchain_rand(&seed);
		r.ts_ecr = bufchain_rand(&seed);
		r.n_sack = (uint8_t)((o >> 4) % 5);
		for (unsigned k = 0; k < 4; k++) {
			r.sack[k].left = bufchain_rand(&seed);
			r.sack[k].right = bufchain_rand(&seed);
		}
		uint8_t hl = usn_tcp_hdr_len(&r);
		assert_true(hl % 4 == 0 && hl >= 20 && hl <= 60);
		unsigned fixed = (r.has_mss ? 4u : 0u) + (r.has_ts ? 12u : (r.sack_permitted ? 4u : 0u)) +
				 (r.has_wscale ? 4u : 0u);
		unsigned room = (40 - fixed) >= 12 ? (40 - fixed - 4) / 8 : 0;
		if (r.n_sack > room)
			r.n_sack = (uint8_t)room;
		tcp_round_trip(r, (uint8_t)(20 + fixed + (r.n_sack ? 4 + 8 * r.n_sack : 0)));
	}
}

static void test_headers_straddle_random_splits(void **state)
{
	(void)state;
	/* An Ethernet + IPv4 + TCP frame split at random: every parse agrees
	 * with the flat one. */
	uint8_t f[14 + 20 + 52 + 8];
	struct usn_eth_repr er = {{1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1}, USN_ETHERTYPE_IPV4, 0, 14};
	usn_eth_emit(&er, f);
	struct usn_ipv4_repr ir = IP;
	ir.total_len = 70;
	usn_ipv4_emit(&ir, f + 14, true);
	struct usn_tcp_repr tr = tcp_base();
	tr.has_ts = true;
	tr.n_sack = 2;
	tr.ts_val = 3;
	tr.sack[0].left = 1;
	tr.sack[1].right = 2;
	uint8_t thl = usn_tcp_emit(&tr, f + 34);
	assert_int_equal(thl, 52);
	memset(f + 34 + thl, 0x5a, sizeof(f) - 34 - thl);
	tr.hdr_len = thl;
	for (uint32_t s = 1; s < 200; s++) {
		uint32_t seed = s;
		struct usn_buf *h = bufchain_new_random(f, sizeof(f), 1 + s % 23, &seed);
		struct usn_cursor c = usn_cursor_of_frame(h);
		struct usn_eth_repr e;
		struct usn_ipv4_repr ip;
		struct usn_tcp_repr t;
		assert_int_equal(usn_eth_parse(c, &e), USN_WIRE_OK);
		c = usn_cursor_drop(c, e.hdr_len);
		assert_int_equal(usn_ipv4_parse(c, &ip, false), USN_WIRE_OK);
		assert_int_equal(ip.total_len, 70);
		c = usn_cursor_drop(usn_cursor_take(c, ip.total_len), ip.hdr_len);
		assert_int_equal(usn_cursor_size(c), 50);
		assert_int_equal(usn_tcp_parse(c, &t), USN_WIRE_HDRLEN); /* 52-byte header in 50 */
		c = usn_cursor_drop(usn_cursor_of_frame(h), 34);
		assert_int_equal(usn_tcp_parse(c, &t), USN_WIRE_OK);
		tcp_assert_equal(&t, &tr);
		bufchain_free(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eth_round_trip),
	    cmocka_unit_test(test_eth_vlan_tolerated),
	    cmocka_unit_test(test_eth_short),
	    cmocka_unit_test(test_arp_round_trip),
	    cmocka_unit_test(test_arp_malformed),
	    cmocka_unit_test(test_ipv4_round_trip),
	    cmocka_unit_test(test_ipv4_fragment_parses),
	    cmocka_unit_test(test_ipv4_options_skipped),
	    cmocka_unit_test(test_ipv4_malformed),
	    cmocka_unit_test(test_icmp_round_trip),
	    cmocka_unit_test(test_icmp_short),
	    cmocka_unit_test(test_tcp_round_trip_no_options),
	    cmocka_unit_test(test_tcp_round_trip_options),
	    cmocka_unit_test(test_tcp_sack_clamped_to_space),
	    cmocka_unit_test(test_tcp_linux_option_bytes),
	    cmocka_unit_test(test_tcp_options_lenient),
	    cmocka_unit_test(test_tcp_bad_options),
	    cmocka_unit_test(test_tcp_header_length_lies),
	    cmocka_unit_test(test_tcp_random_round_trips),
	    cmocka_unit_test(test_headers_straddle_random_splits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
