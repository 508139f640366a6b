/* Test helper: IPv6 frames for the netfix fixture (netfix6.h). */
#include "netfix6.h"

#include <string.h>

#include "netfix.h"

const uint8_t netfix6_stack_ip[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x01};
const uint8_t netfix6_raw_ip[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x02};
const uint8_t netfix6_stack_ll[16] = {0xfe, 0x80, [8] = 0x00, 0x00, 0xc6, 0xff, 0xfe, 0x12, 0x00, 0x01};
const uint8_t netfix6_raw_ll[16] = {0xfe, 0x80, [8] = 0x00, 0x00, 0xc6, 0xff, 0xfe, 0x12, 0x00, 0x02};
const uint8_t netfix6_all_nodes[16] = {0xff, 0x02, [15] = 0x01};

void netfix6_config(struct usn_stack_config *cfg, bool dad)
{
	usn_stack_config_init(cfg, NETFIX_STACK_IP, 24);
	cfg->ipv6 = true;
	cfg->ipv6_no_dad = !dad;
	cfg->n_ip6 = 1;
	memcpy(cfg->ip6[0].addr, netfix6_stack_ip, 16);
	cfg->ip6[0].prefix_len = 64;
}

void netfix6_snm(const uint8_t a[16], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xff;
	out[1] = 0x02;
	out[11] = 0x01;
	out[12] = 0xff;
	out[13] = a[13];
	out[14] = a[14];
	out[15] = a[15];
}

void netfix6_group_mac(const uint8_t g[16], uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	mac[2] = g[12];
	mac[3] = g[13];
	mac[4] = g[14];
	mac[5] = g[15];
}

size_t netfix6_ip(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint8_t nh, uint16_t plen,
		  uint8_t hop)
{
	p[0] = 0x60;
	p[1] = p[2] = p[3] = 0;
	p[4] = (uint8_t)(plen >> 8);
	p[5] = (uint8_t)plen;
	p[6] = nh;
	p[7] = hop;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return 40;
}

void netfix6_icmp_csum(uint8_t *msg, size_t len, const uint8_t src[16], const uint8_t dst[16])
{
	/* RFC 8200 8.1: the pseudo-header laid out in front, summed whole. */
	uint8_t buf[2048 + 40];
	memcpy(buf, src, 16);
	memcpy(buf + 16, dst, 16);
	buf[32] = (uint8_t)(len >> 24);
	buf[33] = (uint8_t)(len >> 16);
	buf[34] = (uint8_t)(len >> 8);
	buf[35] = (uint8_t)len;
	buf[36] = buf[37] = buf[38] = 0;
	buf[39] = 58;
	msg[2] = msg[3] = 0;
	memcpy(buf + 40, msg, len);
	uint16_t c = netfix_csum(buf, 40 + len);
	msg[2] = (uint8_t)(c >> 8);
	msg[3] = (uint8_t)c;
}

size_t netfix6_nd(uint8_t *p, uint8_t type, uint8_t flags, const uint8_t target[16], const uint8_t *lla,
		  const uint8_t src[16], const uint8_t dst[16])
{
	size_t n = 24;
	memset(p, 0, 24);
	p[0] = type;
	p[4] = flags;
	memcpy(p + 8, target, 16);
	if (lla) {
		p[24] = type == 135 ? 1 : 2;
		p[25] = 1;
		memcpy(p + 26, lla, 6);
		n += 8;
	}
	netfix6_icmp_csum(p, n, src, dst);
	return n;
}

size_t netfix6_nd_frame(uint8_t *p, const uint8_t eth_dst[6], const uint8_t eth_src[6], const uint8_t src[16],
			const uint8_t dst[16], uint8_t hop, uint8_t type, uint8_t flags, const uint8_t target[16],
			const uint8_t *lla)
{
	size_t n = netfix_eth(p, eth_dst, eth_src, 0x86dd);
	size_t m = netfix6_nd(p + n + 40, type, flags, target, lla, src, dst);
	n += netfix6_ip(p + n, src, dst, 58, (uint16_t)m, hop);
	return n + m;
}

size_t netfix6_echo_frame(uint8_t *p, const uint8_t eth_dst[6], const uint8_t eth_src[6], const uint8_t src[16],
			  const uint8_t dst[16], uint8_t type, uint16_t ident, uint16_t seq, const void *data,
			  size_t len)
{
	size_t n = netfix_eth(p, eth_dst, eth_src, 0x86dd);
	uint8_t *m = p + n + 40;
	m[0] = type;
	m[1] = 0;
	m[4] = (uint8_t)(ident >> 8);
	m[5] = (uint8_t)ident;
	m[6] = (uint8_t)(seq >> 8);
	m[7] = (uint8_t)seq;
	memcpy(m + 8, data, len);
	netfix6_icmp_csum(m, 8 + len, src, dst);
	n += netfix6_ip(p + n, src, dst, 58, (uint16_t)(8 + len), 64);
	return n + 8 + len;
}

uint16_t netfix6_l4_sum(const uint8_t *msg, size_t len, const uint8_t src[16], const uint8_t dst[16], uint8_t nh)
{
	static uint8_t buf[70000 + 40];
	memcpy(buf, src, 16);
	memcpy(buf + 16, dst, 16);
	buf[32] = (uint8_t)(len >> 24);
	buf[33] = (uint8_t)(len >> 16);
	buf[34] = (uint8_t)(len >> 8);
	buf[35] = (uint8_t)len;
	buf[36] = buf[37] = buf[38] = 0;
	buf[39] = nh;
	memcpy(buf + 40, msg, len);
	return netfix_csum(buf, 40 + len);
}

size_t netfix6_udp(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint16_t sp, uint16_t dp,
		   const void *data, size_t len)
{
	size_t n = 8 + len;
	p[0] = (uint8_t)(sp >> 8);
	p[1] = (uint8_t)sp;
	p[2] = (uint8_t)(dp >> 8);
	p[3] = (uint8_t)dp;
	p[4] = (uint8_t)(n >> 8);
	p[5] = (uint8_t)n;
	p[6] = p[7] = 0;
	if (len)
		memmove(p + 8, data, len);
	uint16_t c = netfix6_l4_sum(p, n, src, dst, 17);
	if (c == 0)
		c = 0xffff;
	p[6] = (uint8_t)(c >> 8);
	p[7] = (uint8_t)c;
	return n;
}

size_t netfix6_udp_frame(uint8_t *p, const uint8_t eth_dst[6], const uint8_t eth_src[6], const uint8_t src[16],
			 const uint8_t dst[16], uint16_t sp, uint16_t dp, const void *data, size_t len)
{
	size_t n = netfix_eth(p, eth_dst, eth_src, 0x86dd);
	size_t m = netfix6_udp(p + n + 40, src, dst, sp, dp, data, len);
	n += netfix6_ip(p + n, src, dst, 17, (uint16_t)m, 64);
	return n + m;
}

size_t netfix6_icmp_err(uint8_t *p, uint8_t type, uint8_t code, uint32_t rest, const void *quote, size_t qlen,
			const uint8_t src[16], const uint8_t dst[16])
{
	p[0] = type;
	p[1] = code;
	p[2] = p[3] = 0;
	p[4] = (uint8_t)(rest >> 24);
	p[5] = (uint8_t)(rest >> 16);
	p[6] = (uint8_t)(rest >> 8);
	p[7] = (uint8_t)rest;
	memmove(p + 8, quote, qlen);
	uint16_t c = netfix6_l4_sum(p, 8 + qlen, src, dst, 58);
	p[2] = (uint8_t)(c >> 8);
	p[3] = (uint8_t)c;
	return 8 + qlen;
}
