/* Test helper (tests/common): raw TCP segment builder and parser for the
 * peer side of TCP unit tests (see tcpseg.h). */
#include "tcpseg.h"

#include <assert.h>
#include <string.h>

#include "netfix6.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Ones'-complement sum of the pseudo-header and segment, folded. */
static uint16_t tcp_sum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
	uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)len;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(seg[i] << 8 | seg[i + 1]);
	if (len & 1)
		sum += (uint32_t)seg[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The same over IPv6's pseudo-header (RFC 8200 8.1). */
static uint16_t tcp_sum6(const uint8_t src[16], const uint8_t dst[16], const uint8_t *seg, size_t len)
{
	uint32_t sum = 6 + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
	for (int i = 0; i < 16; i += 2)
		sum += (uint32_t)(src[i] << 8 | src[i + 1]) + (uint32_t)(dst[i] << 8 | dst[i + 1]);
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(seg[i] << 8 | seg[i + 1]);
	if (len & 1)
		sum += (uint32_t)seg[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

size_t tseg_build(uint8_t *frame, const struct tseg *s, uint32_t src_ip, uint32_t dst_ip)
{
	uint8_t opt[40];
	size_t ol = 0;
	if (s->has_mss) {
		opt[ol++] = 2;
		opt[ol++] = 4;
		put16(opt + ol, s->mss);
		ol += 2;
	}
	if (s->has_ws) {
		opt[ol++] = 1;
		opt[ol++] = 3;
		opt[ol++] = 3;
		opt[ol++] = s->ws;
	}
	if (s->sack_perm) {
		opt[ol++] = 1;
		opt[ol++] = 1;
		opt[ol++] = 4;
		opt[ol++] = 2;
	}
	if (s->has_ts) {
		opt[ol++] = 1;
		opt[ol++] = 1;
		opt[ol++] = 8;
		opt[ol++] = 10;
		put32(opt + ol, s->tsval);
		put32(opt + ol + 4, s->tsecr);
		ol += 8;
	}
	if (s->n_sack) {
		opt[ol++] = 1;
		opt[ol++] = 1;
		opt[ol++] = 5;
		opt[ol++] = (uint8_t)(2 + 8 * s->n_sack);
		for (unsigned i = 0; i < s->n_sack; i++) {
			put32(opt + ol, s->sack[i][0]);
			put32(opt + ol + 4, s->sack[i][1]);
			ol += 8;
		}
	}
	while (ol % 4)
		opt[ol++] = 0;
	assert(ol <= 40);
	size_t hl = 20 + ol;
	const uint8_t *src6 = s->src6 ? s->src6 : netfix6_raw_ip;
	size_t n = netfix_eth(frame, netfix_stack_mac, netfix_raw_mac, s->v6 ? 0x86dd : 0x0800);
	if (s->v6)
		n += netfix6_ip(frame + n, src6, netfix6_stack_ip, 6, (uint16_t)(hl + s->len), 64);
	else
		n += netfix_ipv4(frame + n, src_ip, dst_ip, 6, (uint16_t)(hl + s->len), 64, 1, 0x4000);
	uint8_t *t = frame + n;
	put16(t, s->src_port);
	put16(t + 2, s->dst_port);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = s->flags;
	put16(t + 14, s->window);
	put16(t + 16, 0);
	put16(t + 18, 0);
	memcpy(t + 20, opt, ol);
	if (s->len)
		memcpy(t + hl, s->payload, s->len);
	uint16_t c = (uint16_t)~(s->v6 ? tcp_sum6(src6, netfix6_stack_ip, t, hl + s->len)
				       : tcp_sum(src_ip, dst_ip, t, hl + s->len));
	if (s->bad_csum)
		c ^= 0x0101;
	put16(t + 16, c);
	n += hl + s->len;
	while (n < 60)
		frame[n++] = 0;
	return n;
}

bool tseg_parse(const uint8_t *f, size_t len, struct tseg *o)
{
	memset(o, 0, sizeof *o);
	if (len < 14 + 20 + 20)
		return false;
	const uint8_t *ip = f + 14;
	const uint8_t *t;
	size_t tl;
	if (get16(f + 12) == 0x86dd) {
		size_t plen = get16(ip + 4);
		if (len < 14 + 40 + 20 || (ip[0] >> 4) != 6 || ip[6] != 6 || plen > len - 14 - 40)
			return false;
		o->v6 = true;
		memcpy(o->src_ip6, ip + 8, 16);
		memcpy(o->dst_ip6, ip + 24, 16);
		t = ip + 40;
		tl = plen;
	} else {
		if (get16(f + 12) != 0x0800)
			return false;
		size_t ihl = (size_t)(ip[0] & 15) * 4;
		size_t tot = get16(ip + 2);
		if ((ip[0] >> 4) != 4 || ip[9] != 6 || tot > len - 14 || ihl < 20 || tot < ihl)
			return false;
		o->src_ip = get32(ip + 12);
		o->dst_ip = get32(ip + 16);
		t = ip + ihl;
		tl = tot - ihl;
	}
	if (tl < 20)
		return false;
	size_t hl = (size_t)(t[12] >> 4) * 4;
	if (hl < 20 || hl > tl)
		return false;
	o->csum_ok = (o->v6 ? tcp_sum6(o->src_ip6, o->dst_ip6, t, tl) : tcp_sum(o->src_ip, o->dst_ip, t, tl)) == 0xffff;
	o->src_port = get16(t);
	o->dst_port = get16(t + 2);
	o->seq = get32(t + 4);
	o->ack = get32(t + 8);
	o->flags = t[13];
	o->window = get16(t + 14);
	for (size_t i = 20; i < hl;) {
		uint8_t k = t[i];
		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hl || t[i + 1] < 2 || i + t[i + 1] > hl)
			return false;
		uint8_t l = t[i + 1];
		if (k == 2 && l == 4) {
			o->has_mss = true;
			o->mss = get16(t + i + 2);
		} else if (k == 3 && l == 3) {
			o->has_ws = true;
			o->ws = t[i + 2];
		} else if (k == 4 && l == 2) {
			o->sack_perm = true;
		} else if (k == 8 && l == 10) {
			o->has_ts = true;
			o->tsval = get32(t + i + 2);
			o->tsecr = get32(t + i + 6);
		} else if (k == 5 && (l - 2) % 8 == 0) {
			o->n_sack = (uint8_t)((l - 2) / 8);
			for (unsigned j = 0; j < o->n_sack && j < 4; j++) {
				o->sack[j][0] = get32(t + i + 2 + 8 * j);
				o->sack[j][1] = get32(t + i + 6 + 8 * j);
			}
		}
		i += l;
	}
	o->len = (uint32_t)(tl - hl);
	if (o->len > sizeof o->data)
		return false;
	memcpy(o->data, t + hl, o->len);
	return true;
}

void tseg_send(struct netfix *f, const struct tseg *s)
{
	uint8_t frame[9100];
	size_t n = tseg_build(frame, s, NETFIX_RAW_IP, NETFIX_STACK_IP);
	netfix_inject(f, frame, n);
}

void tseg_queue(struct netfix *f, const struct tseg *s)
{
	uint8_t frame[9100];
	size_t n = tseg_build(frame, s, NETFIX_RAW_IP, NETFIX_STACK_IP);
	int rc = usn_sim_port_send_raw(f->raw, frame, n);
	assert(rc == 0);
	(void)rc;
}

bool tseg_recv(struct netfix *f, struct tseg *out)
{
	while (netfix_capture(f) > 0) {
		const uint8_t *p = f->cap;
		if (f->cap_len >= 42 && get16(p + 12) == 0x0806) {
			/* ARP request for the raw port: answer it. */
			if (get16(p + 20) == 1 && get32(p + 38) == NETFIX_RAW_IP) {
				uint8_t r[60];
				size_t n = netfix_arp_frame(r, p + 6, 2, netfix_raw_mac, NETFIX_RAW_IP, p + 22, get32(p + 28));
				netfix_inject(f, r, n);
			}
			continue;
		}
		if (f->cap_len >= 14 + 40 + 24 && get16(p + 12) == 0x86dd && p[14 + 6] == 58 && p[14 + 40] == 135 &&
		    memcmp(p + 14 + 40 + 8, netfix6_raw_ip, 16) == 0) {
			/* Neighbour solicitation for the raw port: advertise
			 * it (solicited, override; RFC 4861 7.2.4). */
			uint8_t r[128];
			size_t n = netfix6_nd_frame(r, p + 6, netfix_raw_mac, netfix6_raw_ip, p + 14 + 8, 255, 136, 0x60,
						    netfix6_raw_ip, netfix_raw_mac);
			netfix_inject(f, r, n);
			continue;
		}
		if (tseg_parse(f->cap, f->cap_len, out))
			return true;
	}
	return false;
}

void tseg_seed_arp(struct netfix *f)
{
	uint8_t r[60];
	static const uint8_t zero[6];
	size_t n = netfix_arp_frame(r, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero, NETFIX_STACK_IP);
	netfix_inject(f, r, n);
	netfix_drain(f);
}

void tseg_seed_nd(struct netfix *f)
{
	uint8_t r[128], sn[16], gm[6];
	netfix6_snm(netfix6_stack_ip, sn);
	netfix6_group_mac(sn, gm);
	size_t n = netfix6_nd_frame(r, gm, netfix_raw_mac, netfix6_raw_ip, sn, 255, 135, 0, netfix6_stack_ip,
				    netfix_raw_mac);
	netfix_inject(f, r, n);
	netfix_drain(f);
}

void tseg_advance(struct netfix *f, uint64_t us)
{
	simnet_run_for(&f->net, us);
}
