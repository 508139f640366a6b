/* libusnet simulated link: the offloads a NIC would do, emulated on linear
 * frames: IPv4 and TCP checksum fill on TX, checksum verification on RX
 * (RFC 1071 sums, written here so the sim checks the stack's own), RSS,
 * TCP segmentation (TSO) and receive coalescing (LRO). */
#include <string.h>

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

/* RFC 1071 sum of big-endian 16-bit words from p (its first byte a high
 * byte), added to s. The bulk is summed as native 32-bit words in four
 * 64-bit accumulators (no carry is lost below 2^32 words), folded, and
 * byte-swapped on a little-endian host: RFC 1071 2(B), the sum in either
 * byte order is the other's swapped. The sim's TSO and LRO sum every byte
 * the stacks send, so this runs at memory speed. */
static uint64_t sim_sum(const uint8_t *p, uint32_t len, uint64_t s)
{
	uint64_t l0 = 0, l1 = 0, l2 = 0, l3 = 0;
	/* 32 bytes a round into four independent lanes, no carry chain and a
	 * size_t count: GCC vectorises it at -O2. */
	size_t blocks = len / 32u;
	const uint8_t *q = p;
	for (size_t k = 0; k < blocks; k++, q += 32) {
		uint32_t a, b, c, d, e, f, g, h;
		memcpy(&a, q, 4);
		memcpy(&b, q + 4, 4);
		memcpy(&c, q + 8, 4);
		memcpy(&d, q + 12, 4);
		memcpy(&e, q + 16, 4);
		memcpy(&f, q + 20, 4);
		memcpy(&g, q + 24, 4);
		memcpy(&h, q + 28, 4);
		l0 += (uint64_t)a + e;
		l1 += (uint64_t)b + f;
		l2 += (uint64_t)c + g;
		l3 += (uint64_t)d + h;
	}
	uint32_t i = (uint32_t)(blocks * 32u);
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		memcpy(&w, p + i, 4);
		l0 += w;
	}
	uint64_t n = l0 + l1 + l2 + l3;
	n = (n & 0xffffffffu) + (n >> 32);
	n = (n & 0xffffu) + (n >> 16);
	n = (n & 0xffffu) + (n >> 16);
	n = (n & 0xffffu) + (n >> 16);
	uint16_t f = (uint16_t)n;
	const uint16_t one = 1;
	uint8_t lsb_first;
	memcpy(&lsb_first, &one, 1);
	if (lsb_first)
		f = (uint16_t)(f << 8 | f >> 8);
	s += f;
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

/* ---- TSO and LRO ---- */

static void sim_put32(uint8_t *p, uint32_t v)
{
	sim_put16(p, (uint16_t)(v >> 16));
	sim_put16(p + 2, (uint16_t)v);
}

#define SIM_TCP_FIN 0x01u
#define SIM_TCP_SYN 0x02u
#define SIM_TCP_RST 0x04u
#define SIM_TCP_PSH 0x08u
#define SIM_TCP_ACK 0x10u
#define SIM_TCP_CWR 0x80u

bool sim_tcp_parse(const uint8_t *frame, uint32_t len, struct sim_tcp *t)
{
	struct sim_ip ip;
	if (!sim_ip_parse(frame, len, SIM_ETH_HLEN, &ip) || ip.proto != 6 || ip.frag || ip.ihl != 20u ||
	    SIM_ETH_HLEN + ip.tot != len || ip.tot < 40u)
		return false;
	const uint8_t *h = frame + ip.l3, *th = h + 20;
	uint32_t thl = (uint32_t)(th[12] >> 4) * 4u;
	if (thl < 20u || 20u + thl > ip.tot)
		return false;
	t->l3 = ip.l3;
	t->ihl = 20;
	t->tot = ip.tot;
	t->l4 = ip.l3 + 20;
	t->thl = thl;
	t->pay = t->l4 + thl;
	t->pay_len = ip.tot - 20 - thl;
	t->src = ip.src;
	t->dst = ip.dst;
	t->id = (uint16_t)sim_be16(h + 4);
	t->df = (sim_be16(h + 6) & 0x4000u) != 0;
	t->ttl = h[8];
	t->tos = h[1];
	t->sport = (uint16_t)sim_be16(th);
	t->dport = (uint16_t)sim_be16(th + 2);
	t->seq = sim_be32(th + 4);
	t->ack = sim_be32(th + 8);
	t->flags = th[13];
	t->window = (uint16_t)sim_be16(th + 14);
	t->ts = thl == 32u && sim_be32(th + 20) == 0x0101080au;
	t->tsval = t->ts ? sim_be32(th + 24) : 0;
	t->tsecr = t->ts ? sim_be32(th + 28) : 0;
	return true;
}

bool sim_tso_valid(const uint8_t *frame, uint32_t len, uint8_t l2, uint8_t l3, uint8_t l4, uint16_t seg_size,
		   uint32_t tso_max, struct sim_tcp *t)
{
	if (!sim_tcp_parse(frame, len, t) || l2 != SIM_ETH_HLEN || l3 != t->ihl || l4 != t->thl || seg_size == 0 ||
	    t->tot > tso_max)
		return false;
	/* The field holds the pseudo-header sum (folded, not complemented)
	 * of the whole packet, as for USN_BUF_TX_TCP_CSUM. */
	return sim_be16(frame + t->l4 + 16) == sim_fold(sim_pseudo(&(struct sim_ip){.src = t->src, .dst = t->dst, .proto = 6},
								       t->tot - t->ihl));
}

uint32_t sim_tso_segment(uint8_t *frame, const struct sim_tcp *t, const uint8_t *hdr, uint16_t seg_size,
			 uint32_t i, uint8_t **out)
{
	uint32_t off = i * seg_size;
	uint32_t n = t->pay_len - off < seg_size ? t->pay_len - off : seg_size;
	bool last = off + n >= t->pay_len;
	/* In place: the headers go right before the piece's payload, over the
	 * tail of the piece before it, which is on the link already. */
	uint8_t *o = frame + off;
	memcpy(o, hdr, t->pay);
	uint8_t *h = o + t->l3, *th = o + t->l4;
	uint32_t tot = t->ihl + t->thl + n;
	sim_put16(h + 2, (uint16_t)tot);
	sim_put16(h + 4, (uint16_t)(t->id + i));
	sim_put16(h + 10, 0);
	sim_put16(h + 10, (uint16_t)~sim_fold(sim_sum(h, t->ihl, 0)));
	sim_put32(th + 4, t->seq + off);
	uint8_t fl = t->flags;
	if (!last)
		fl &= (uint8_t)~(SIM_TCP_FIN | SIM_TCP_PSH);
	if (i)
		fl &= (uint8_t)~SIM_TCP_CWR;
	th[13] = fl;
	sim_put16(th + 16, 0);
	struct sim_ip ip = {.src = t->src, .dst = t->dst, .proto = 6};
	uint64_t sum = sim_sum(th, t->thl + n, sim_pseudo(&ip, t->thl + n));
	sim_put16(th + 16, (uint16_t)~sim_fold(sum));
	*out = o;
	return t->pay + n;
}

static bool sim_seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

bool sim_lro_follows(const struct sim_tcp *first, const struct sim_tcp *last, const struct sim_tcp *next,
		     uint32_t merged_ip, uint32_t max_ip)
{
	const uint8_t plain = SIM_TCP_ACK;
	/* What an LRO engine keeps merging: ACK (and PSH, which ends the
	 * frame) only, data in every segment, none longer than the first. */
	if ((last->flags & SIM_TCP_PSH) || (next->flags & (uint8_t)~SIM_TCP_PSH) != plain || next->pay_len == 0 ||
	    next->pay_len > first->pay_len || last->pay_len < first->pay_len)
		return false;
	if (next->src != first->src || next->dst != first->dst || next->sport != first->sport ||
	    next->dport != first->dport || next->tos != first->tos || next->ttl != first->ttl ||
	    next->df != first->df || next->thl != first->thl)
		return false;
	if (!first->df && next->id != (uint16_t)(last->id + 1u))
		return false;
	if (next->seq != last->seq + last->pay_len || !sim_seq_geq(next->ack, last->ack))
		return false;
	/* Options: none, or the timestamps alone, TSval not going back and
	 * the same echo. */
	if (next->thl != 20u && !(next->ts && first->ts))
		return false;
	if (next->ts && (!sim_seq_geq(next->tsval, last->tsval) || next->tsecr != last->tsecr))
		return false;
	return merged_ip + next->pay_len <= max_ip;
}

void sim_lro_fix_headers(uint8_t *frame, const struct sim_tcp *first, const struct sim_tcp *last,
			 uint32_t total_ip)
{
	uint8_t *h = frame + first->l3, *th = frame + first->l4;
	sim_put16(h + 2, (uint16_t)total_ip);
	sim_put16(h + 10, 0);
	sim_put16(h + 10, (uint16_t)~sim_fold(sim_sum(h, first->ihl, 0)));
	/* The latest ACK and window (the TSval stays the first's: RFC 7323
	 * 4.3 echoes the earliest); the TCP sum is not redone: the frame
	 * comes with USN_BUF_RX_L4_CSUM_GOOD. */
	sim_put32(th + 8, last->ack);
	sim_put16(th + 14, last->window);
	th[13] = (uint8_t)(th[13] | (last->flags & SIM_TCP_PSH));
}

bool sim_tcp_sums_good(const uint8_t *frame, const struct sim_tcp *t)
{
	const uint8_t *h = frame + t->l3;
	if (sim_fold(sim_sum(h, t->ihl, 0)) != 0xffffu)
		return false;
	struct sim_ip ip = {.src = t->src, .dst = t->dst, .proto = 6};
	uint32_t l4_len = t->tot - t->ihl;
	return sim_fold(sim_sum(frame + t->l4, l4_len, sim_pseudo(&ip, l4_len))) == 0xffffu;
}
