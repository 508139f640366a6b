/* Test helper (tests/common): raw frame builders and the one-stack plus
 * capture-port fixture (see netfix.h). */
#include "netfix.h"

#include <assert.h>
#include <string.h>

const uint8_t netfix_stack_mac[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x01};
const uint8_t netfix_raw_mac[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x02};
const uint8_t netfix_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

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

uint16_t netfix_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t netfix_eth(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	put16(p + 12, type);
	return 14;
}

size_t netfix_arp(uint8_t *p, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	put16(p, 1);
	put16(p + 2, 0x0800);
	p[4] = 6;
	p[5] = 4;
	put16(p + 6, op);
	memcpy(p + 8, sha, 6);
	put32(p + 14, spa);
	memcpy(p + 18, tha, 6);
	put32(p + 24, tpa);
	return 28;
}

size_t netfix_ipv4(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, uint16_t payload_len, uint8_t ttl,
		   uint16_t id, uint16_t frag)
{
	p[0] = 0x45;
	p[1] = 0;
	put16(p + 2, (uint16_t)(20 + payload_len));
	put16(p + 4, id);
	put16(p + 6, frag);
	p[8] = ttl;
	p[9] = proto;
	put16(p + 10, 0);
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, netfix_csum(p, 20));
	return 20;
}

size_t netfix_icmp_echo(uint8_t *p, uint8_t type, uint16_t ident, uint16_t seq, const void *data, size_t len)
{
	p[0] = type;
	p[1] = 0;
	put16(p + 2, 0);
	put16(p + 4, ident);
	put16(p + 6, seq);
	if (len)
		memcpy(p + 8, data, len);
	put16(p + 2, netfix_csum(p, 8 + len));
	return 8 + len;
}

size_t netfix_ping_frame(uint8_t *p, uint16_t ident, uint16_t seq, const void *data, size_t len)
{
	size_t n = netfix_eth(p, netfix_stack_mac, netfix_raw_mac, 0x0800);
	n += netfix_ipv4(p + n, NETFIX_RAW_IP, NETFIX_STACK_IP, 1, (uint16_t)(8 + len), 64, 0x1234, 0x4000);
	n += netfix_icmp_echo(p + n, 8, ident, seq, data, len);
	return n;
}

size_t netfix_arp_frame(uint8_t *p, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6], uint32_t spa,
			const uint8_t tha[6], uint32_t tpa)
{
	size_t n = netfix_eth(p, eth_dst, netfix_raw_mac, 0x0806);
	n += netfix_arp(p + n, op, sha, spa, tha, tpa);
	memset(p + n, 0, 60 - n);
	return 60;
}

void netfix_setup(struct netfix *f, const struct usn_stack_config *cfg, const struct usn_sim_port_config *pcfg)
{
	memset(f, 0, sizeof(*f));
	simnet_init(&f->net, 1);
	/* The raw port first, so it hears the stack's announcement. */
	struct usn_sim_port_config rc;
	memset(&rc, 0, sizeof(rc));
	memcpy(rc.mac, netfix_raw_mac, 6);
	/* The peer carries what the stack's port carries (jumbo frames). */
	rc.mtu = pcfg ? pcfg->mtu : 0;
	rc.rx_ring = pcfg ? pcfg->rx_ring : 0;
	f->raw = usn_sim_port_create(f->net.link, &rc);
	assert(f->raw);
	f->host = simnet_add_host(&f->net, NETFIX_STACK_IP, cfg, pcfg);
	assert(f->host);
	f->w = usn_stack_worker(f->host->stack, 0);
	/* Flush the worker's start-up output onto the link. */
	simnet_run_until(&f->net, NULL, NULL, 0);
}

void netfix_teardown(struct netfix *f)
{
	simnet_destroy(&f->net);
}

void netfix_inject(struct netfix *f, const void *frame, size_t len)
{
	int rc = usn_sim_port_send_raw(f->raw, frame, len);
	assert(rc == 0);
	(void)rc;
	simnet_run_until(&f->net, NULL, NULL, 0);
}

size_t netfix_capture(struct netfix *f)
{
	f->cap_len = usn_sim_port_recv_raw(f->raw, f->cap, sizeof(f->cap));
	return f->cap_len;
}

static bool netfix_captured(void *arg)
{
	return netfix_capture(arg) > 0;
}

size_t netfix_wait_frame(struct netfix *f, uint64_t max_us)
{
	f->cap_len = 0;
	if (!simnet_run_until(&f->net, netfix_captured, f, max_us))
		return 0;
	return f->cap_len;
}

unsigned netfix_drain(struct netfix *f)
{
	unsigned n = 0;
	while (netfix_capture(f) > 0)
		n++;
	return n;
}
