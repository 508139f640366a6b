/* libusnet simulated link: the offloads a NIC would do, emulated on linear
 * frames: IPv4 and TCP checksum fill on TX, checksum verification on RX
 * (RFC 1071 sums, written here so the sim checks the stack's own), RSS. */
#include "sim_priv.h"

struct sim_ip {
	uint32_t l3; /* offset of the IPv4 header */
	uint32_t ihl;
	uint32_t tot; /* total length */
	uint32_t src, dst;
	uint8_t proto;
	bool frag; /* a fragment: L4 header or sum not checkable */
};

static uint32_t sim_be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t sim_be32(const uint8_t *p)
{
	return sim_be16(p) << 16 | sim_be16(p + 2);
}

static uint64_t sim_sum(const uint8_t *p, uint32_t len, uint64_t s)
{
	uint32_t i = 0;
	for (; i + 1 < len; i += 2)
		s += sim_be16(p + i);
	if (i < len)
		s += (uint32_t)p[i] << 8;
	return s;
}

static uint16_t sim_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

static uint64_t sim_pseudo(const struct sim_ip *ip, uint32_t l4_len)
{
	return (ip->src >> 16) + (ip->src & 0xffffu) + (ip->dst >> 16) + (ip->dst & 0xffffu) + ip->proto +
	       l4_len;
}

/* Checks lengths once; the header at l3 must be whole and the packet
 * within the frame. */
static bool sim_ip_parse(const uint8_t *f, uint32_t len, uint32_t l3, struct sim_ip *ip)
{
	if (l3 < SIM_ETH_HLEN || len < l3 + 20u || sim_be16(f + 12) != 0x0800u)
		return false;
	const uint8_t *h = f + l3;
	if (h[0] >> 4 != 4)
		return false;
	ip->l3 = l3;
	ip->ihl = (h[0] & 0xfu) * 4u;
	ip->tot = sim_be16(h + 2);
	if (ip->ihl < 20u || ip->tot < ip->ihl || l3 + ip->tot > len)
		return false;
	ip->proto = h[9];
	ip->frag = (sim_be16(h + 6) & 0x3fffu) != 0; /* MF or an offset */
	ip->src = sim_be32(h + 12);
	ip->dst = sim_be32(h + 16);
	return true;
}

static void sim_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void sim_offload_tx(uint8_t *frame, uint32_t len, uint16_t buf_flags, uint32_t offloads, uint8_t l2_len,
		    uint8_t l3_len)
{
	/* Like a NIC, trust the sender's l2_len/l3_len; zero means "parse". */
	struct sim_ip ip;
	if (!sim_ip_parse(frame, len, l2_len ? l2_len : SIM_ETH_HLEN, &ip))
		return;
	uint32_t hl = l3_len ? l3_len : ip.ihl;
	if (ip.l3 + hl > len || hl > ip.tot)
		return;
	uint8_t *h = frame + ip.l3;
	if ((buf_flags & USN_BUF_TX_IP_CSUM) && (offloads & USN_HAL_OFF_TX_IP_CSUM)) {
		sim_put16(h + 10, 0);
		sim_put16(h + 10, (uint16_t)~sim_fold(sim_sum(h, hl, 0)));
	}
	if ((buf_flags & USN_BUF_TX_TCP_CSUM) && (offloads & USN_HAL_OFF_TX_TCP_CSUM) && ip.proto == 6) {
		/* DPDK's convention: the field already holds the pseudo-header
		 * sum; the port adds the segment and complements. */
		uint32_t l4_len = ip.tot - hl;
		if (l4_len < 20u)
			return;
		uint8_t *t = h + hl;
		sim_put16(t + 16, (uint16_t)~sim_fold(sim_sum(t, l4_len, 0)));
	}
}

uint16_t sim_offload_rx_flags(const uint8_t *frame, uint32_t len)
{
	struct sim_ip ip;
	if (!sim_ip_parse(frame, len, SIM_ETH_HLEN, &ip))
		return 0;
	const uint8_t *h = frame + ip.l3;
	if (sim_fold(sim_sum(h, ip.ihl, 0)) != 0xffffu)
		return USN_BUF_RX_CSUM_BAD;
	uint16_t flags = USN_BUF_RX_IP_CSUM_GOOD;
	if (ip.frag)
		return flags;
	const uint8_t *l4 = h + ip.ihl;
	uint32_t l4_len = ip.tot - ip.ihl;
	uint64_t s;
	switch (ip.proto) {
	case 6: /* TCP */
		if (l4_len < 20u)
			return flags;
		s = sim_sum(l4, l4_len, sim_pseudo(&ip, l4_len));
		break;
	case 17: /* UDP; a zero field means the sender sent no sum */
		if (l4_len < 8u || sim_be16(l4 + 6) == 0)
			return flags;
		s = sim_sum(l4, l4_len, sim_pseudo(&ip, l4_len));
		break;
	case 1: /* ICMP: the sum covers the message only */
		if (l4_len < 4u)
			return flags;
		s = sim_sum(l4, l4_len, 0);
		break;
	default:
		return flags;
	}
	return (uint16_t)(flags | (sim_fold(s) == 0xffffu ? USN_BUF_RX_L4_CSUM_GOOD : USN_BUF_RX_CSUM_BAD));
}

bool sim_offload_rss(const uint8_t *frame, uint32_t len, uint16_t key, uint32_t *hash)
{
	struct sim_ip ip;
	if (!sim_ip_parse(frame, len, SIM_ETH_HLEN, &ip) || ip.proto != 6 || ip.frag || ip.tot < ip.ihl + 4u)
		return false;
	const uint8_t *t = frame + ip.l3 + ip.ihl;
	*hash = usn_rss_hash(key, ip.src, ip.dst, (uint16_t)sim_be16(t), (uint16_t)sim_be16(t + 2));
	return true;
}
