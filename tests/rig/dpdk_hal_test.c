/* Rig test of the DPDK HAL (arch/x86) on net_ring, whose queues loop every
 * transmitted mbuf back to the same queue's receive side: usn_buf <-> mbuf
 * mapping, RX fill and TX sync of single and chained frames, offload flags
 * only where advertised, RX of every queue by worker 0 without RSS, pool
 * exhaustion and accounting, a frame the driver's tx_prepare refuses (dropped
 * and counted, not retried for ever), the random source and RSS key; and,
 * with the backend set up as for a port that offers them (net_ring offers
 * none), the large-segment translations: TSO flags, lengths and the
 * pseudo-header sum DPDK wants, LRO frames passed on coalesced, the memif
 * large-segment receiver's marks, and zero-copy external buffers (attached
 * once, pointing at the region, every reference returned).
 * Prints "PASS name" / "FAIL name: why". */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "usn_dpdk.h"

static int fails;

#define CHECK(name, cond, ...)                                                                               \
	do {                                                                                                 \
		if (cond) {                                                                                  \
			printf("PASS %s\n", name);                                                           \
		} else {                                                                                     \
			printf("FAIL %s: ", name);                                                           \
			printf(__VA_ARGS__);                                                                 \
			printf("\n");                                                                        \
			fails++;                                                                             \
		}                                                                                            \
	} while (0)

static unsigned pool_avail(struct usn_dpdk_backend *be, uint16_t q)
{
	return rte_mempool_avail_count(be->pool[q]);
}

static void fill(struct usn_buf *b, uint16_t len, uint8_t seed)
{
	for (uint16_t i = 0; i < len; i++)
		b->data[i] = (uint8_t)(seed + i);
	b->len = len;
}

static bool same_bytes(const struct usn_buf *b, uint16_t len, uint8_t seed)
{
	for (uint16_t i = 0; i < len; i++)
		if (b->data[i] != (uint8_t)(seed + i))
			return false;
	return true;
}

static void test_alloc(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	struct usn_buf *b[3];
	uint16_t n = hal->ops->alloc_bulk(hal, 0, b, 3);
	bool ok = n == 3;

	for (uint16_t i = 0; ok && i < n; i++) {
		struct rte_mbuf *m = usn_dpdk_mbuf(b[i]);

		ok = usn_dpdk_buf(m) == b[i] && (void *)(m + 1) == (void *)b[i] && b[i]->len == 0 &&
		     b[i]->next == NULL && b[i]->headroom == RTE_PKTMBUF_HEADROOM &&
		     b[i]->room == m->buf_len - RTE_PKTMBUF_HEADROOM && b[i]->room >= hal->buf_size &&
		     b[i]->data == (uint8_t *)m->buf_addr + RTE_PKTMBUF_HEADROOM && m->pool == be->pool[0];
	}
	CHECK("alloc_bulk: empty single buffers, usn_buf in the mbuf private area", ok,
	      "n=%u len=%u room=%u headroom=%u", n, n ? b[0]->len : 0, n ? b[0]->room : 0,
	      n ? b[0]->headroom : 0);
	hal->ops->free_bulk(hal, 0, b, n);
}

static void test_single(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	unsigned before = pool_avail(be, 0);
	struct usn_buf *b, *r = NULL;
	uint16_t rx;

	hal->ops->alloc_bulk(hal, 0, &b, 1);
	/* The stack may move data into the headroom (prepending headers). */
	b->data -= 14;
	b->headroom -= 14;
	fill(b, 100, 7);
	b->frame_len = 100;
	b->flags = USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_CSUM;
	b->l2_len = 14;
	b->l3_len = 20;
	CHECK("tx_burst: one frame accepted", hal->ops->tx_burst(hal, 0, &b, 1) == 1, "refused");
	rx = hal->ops->rx_burst(hal, 0, &r, 1);
	CHECK("rx_burst: the frame comes back, data_off/data_len/pkt_len synced",
	      rx == 1 && r == b && r->len == 100 && r->frame_len == 100 && r->next == NULL &&
		  r->headroom == RTE_PKTMBUF_HEADROOM - 14 && same_bytes(r, 100, 7),
	      "rx=%u len=%u frame_len=%u headroom=%u", rx, rx ? r->len : 0, rx ? r->frame_len : 0,
	      rx ? r->headroom : 0);
	if (rx == 1) {
		struct rte_mbuf *m = usn_dpdk_mbuf(r);
		uint64_t want = ((hal->offloads & USN_HAL_OFF_TX_IP_CSUM) ? be->tx_ol_ip : 0) |
				((hal->offloads & USN_HAL_OFF_TX_TCP_CSUM) ? be->tx_ol_tcp : 0);

		CHECK("tx_burst: checksum offload flags only where advertised", m->ol_flags == want,
		      "ol_flags 0x%llx, want 0x%llx (offloads 0x%x)", (unsigned long long)m->ol_flags,
		      (unsigned long long)want, hal->offloads);
		CHECK("rx_burst: no RX hash flag without our RSS", !(r->flags & USN_BUF_RX_HASH),
		      "flags 0x%x", r->flags);
		hal->ops->free_bulk(hal, 0, &r, 1);
	}
	CHECK("free_bulk: pool back to its count", pool_avail(be, 0) == before, "%u != %u", pool_avail(be, 0),
	      before);
}

static void test_chain(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	unsigned before = pool_avail(be, 0);
	struct usn_buf *b[3], *r = NULL, *tail;
	uint16_t rx;

	hal->ops->alloc_bulk(hal, 0, b, 3);
	fill(b[0], 60, 1);
	fill(b[1], 40, 61);
	fill(b[2], 1500, 101);
	b[0]->next = b[1];
	b[1]->next = b[2];
	b[0]->frame_len = 1600;
	CHECK("tx_burst: chained frame accepted", hal->ops->tx_burst(hal, 0, b, 1) == 1, "refused");
	CHECK("tx_burst: mbuf chain rebuilt (nb_segs 3, pkt_len 1600)",
	      usn_dpdk_mbuf(b[0])->nb_segs == 3 && usn_dpdk_mbuf(b[0])->pkt_len == 1600 &&
		  usn_dpdk_mbuf(b[0])->next == usn_dpdk_mbuf(b[1]) && usn_dpdk_mbuf(b[2])->next == NULL,
	      "nb_segs=%u pkt_len=%u", usn_dpdk_mbuf(b[0])->nb_segs, usn_dpdk_mbuf(b[0])->pkt_len);
	rx = hal->ops->rx_burst(hal, 0, &r, 1);
	CHECK("rx_burst: chained frame described segment by segment",
	      rx == 1 && r == b[0] && r->frame_len == 1600 && r->len == 60 && r->next == b[1] &&
		  b[1]->len == 40 && b[1]->next == b[2] && b[2]->len == 1500 && b[2]->next == NULL &&
		  same_bytes(b[0], 60, 1) && same_bytes(b[1], 40, 61) && same_bytes(b[2], 1500, 101),
	      "rx=%u frame_len=%u", rx, rx ? r->frame_len : 0);
	/* The stack unlinks the tail segment and frees the two parts apart:
	 * the usn_buf chain, not the stale mbuf chain, decides. */
	tail = b[2];
	b[1]->next = NULL;
	hal->ops->free_bulk(hal, 0, &r, 1);
	CHECK("free_bulk: frees the chain as the stack owns it", pool_avail(be, 0) == before - 1, "%u != %u",
	      pool_avail(be, 0), before - 1);
	hal->ops->free_bulk(hal, 0, &tail, 1);
	CHECK("free_bulk: every segment returned", pool_avail(be, 0) == before, "%u != %u", pool_avail(be, 0),
	      before);
}

static void test_drain_all(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	struct usn_buf *b = NULL, *r[4];
	uint16_t rx1, rx0;

	if (hal->n_queues < 2 || (hal->offloads & USN_HAL_OFF_RSS)) {
		printf("SKIP worker 0 drains every queue: needs 2 queues without RSS\n");
		return;
	}
	hal->ops->alloc_bulk(hal, 1, &b, 1);
	fill(b, 64, 3);
	b->frame_len = 64;
	hal->ops->tx_burst(hal, 1, &b, 1); /* net_ring: lands on RX queue 1 */
	rx1 = hal->ops->rx_burst(hal, 1, r, 4);
	rx0 = hal->ops->rx_burst(hal, 0, r, 4);
	CHECK("rx_burst without RSS: queue 1 yields nothing, worker 0 receives queue 1's frame",
	      rx1 == 0 && rx0 == 1 && r[0] == b && r[0]->backend_u16 == 1 &&
		  usn_dpdk_mbuf(b)->pool == be->pool[1],
	      "rx1=%u rx0=%u", rx1, rx0);
	if (rx0)
		hal->ops->free_bulk(hal, 0, r, rx0);
}

static void test_exhaust(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	static struct usn_buf *all[1 << 16];
	unsigned avail = pool_avail(be, 0), total = 0;
	uint16_t got;

	do {
		got = hal->ops->alloc_bulk(hal, 0, all + total, 48);
		total += got;
	} while (got == 48 && total + 48 <= sizeof(all) / sizeof(all[0]));
	CHECK("alloc_bulk: partial bursts down to an empty pool", total == avail && got < 48,
	      "got %u of %u available", total, avail);
	got = hal->ops->alloc_bulk(hal, 0, all + total, 1);
	CHECK("alloc_bulk: empty pool gives 0", got == 0, "got %u", got);
	for (unsigned i = 0; i < total; i += 64)
		hal->ops->free_bulk(hal, 0, all + i, (uint16_t)(total - i < 64 ? total - i : 64));
	CHECK("free_bulk: pool full again", pool_avail(be, 0) == avail, "%u != %u", pool_avail(be, 0), avail);
}

static void test_misc(struct usn_hal *hal)
{
	uint8_t *p = hal->ops->mem_alloc(hal, 0, 4096);
	bool zero = p != NULL;
	uint64_t t0 = hal->ops->clock_cycles(hal), t1 = hal->ops->clock_cycles(hal);

	for (unsigned i = 0; zero && i < 4096; i++)
		zero = p[i] == 0;
	CHECK("mem_alloc: zeroed memory on the queue's socket", zero, "NULL or not zeroed");
	hal->ops->mem_free(hal, 0, p, 4096);
	CHECK("clock: TSC, rate known", t1 >= t0 && hal->cycles_per_sec > 1000000, "t0=%llu t1=%llu hz=%llu",
	      (unsigned long long)t0, (unsigned long long)t1, (unsigned long long)hal->cycles_per_sec);
	CHECK("hal: mtu and buffer size", hal->mtu >= 1500 && hal->buf_size >= 2048, "mtu=%u buf_size=%u",
	      hal->mtu, hal->buf_size);
}

struct span {
	uintptr_t base, end;
	unsigned outside;
};

static void obj_in_span(struct rte_mempool *mp, void *arg, void *obj, unsigned idx)
{
	struct span *s = arg;
	uintptr_t start = (uintptr_t)obj - mp->header_size;

	(void)idx;
	if (start < s->base || start + rte_mempool_calc_obj_size(mp->elt_size, mp->flags, NULL) > s->end)
		s->outside++;
}

/* net_af_xdp (DPDK 22.11) registers a pool as its UMEM from the page of the
 * first memory chunk, populated_size objects of rte_mempool_calc_obj_size()
 * each: every mbuf must lie in that span, or the kernel refuses it as an
 * invalid descriptor. Without hugepages the pool used to put each 2.4 KB
 * object on a page of its own, and 40% of the mbufs fell outside. */
static void test_umem_span(struct usn_dpdk_backend *be)
{
	for (uint16_t q = 0; q < 2; q++) {
		struct rte_mempool *mp = be->pool[q];
		struct rte_mempool_memhdr *h = STAILQ_FIRST(&mp->mem_list);
		uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
		struct span s = {.base = (uintptr_t)h->addr & ~(page - 1)};

		s.end = (uintptr_t)h->addr + (uintptr_t)mp->populated_size *
						 rte_mempool_calc_obj_size(mp->elt_size, mp->flags, NULL);
		rte_mempool_obj_iter(mp, obj_in_span, &s);
		CHECK(q ? "pool: every mbuf inside the UMEM span (queue 1)" : "pool: every mbuf inside the UMEM span",
		      s.outside == 0 && mp->populated_size > 0, "%u of %u objects outside (%u chunks)", s.outside,
		      mp->populated_size, mp->nb_mem_chunks);
	}
	CHECK("pool: data room fills the page without hugepages",
	      rte_eal_has_hugepages() || rte_pktmbuf_data_room_size(be->pool[0]) > RTE_MBUF_DEFAULT_BUF_SIZE,
	      "data room %u", rte_pktmbuf_data_room_size(be->pool[0]));
}

/* A driver's tx_prepare that refuses frames whose first byte is 0xee, as
 * one refuses an offload it cannot do or too many segments: it stops at
 * the first such frame and returns its index with rte_errno set. net_ring
 * has no tx_prepare of its own (rte_eth_tx_prepare passes everything), so
 * the test puts this one in the port's fast-path ops. */
static unsigned prep_calls;

static uint16_t prep_refuse_marked(void *txq, struct rte_mbuf **pkts, uint16_t n)
{
	(void)txq;
	prep_calls++;
	for (uint16_t i = 0; i < n; i++) {
		if (rte_pktmbuf_mtod(pkts[i], uint8_t *)[0] == 0xee) {
			rte_errno = ENOTSUP;
			return i;
		}
	}
	return n;
}

static void test_tx_prepare_refused(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	struct rte_eth_fp_ops saved = rte_eth_fp_ops[be->port];
	uint64_t saved_ol = be->tx_ol_ip;
	unsigned before = pool_avail(be, 0);
	struct usn_buf *b[3], *r[8];
	uint16_t tx, rx, again = 0;
	uint64_t drops0 = be->tx_prep_drop[0];
	bool order = true;

	rte_eth_fp_ops[be->port].tx_pkt_prepare = prep_refuse_marked;
	/* As on a port with checksum offload: the backend used to call
	 * tx_prepare only then. */
	be->tx_ol_ip = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	hal->ops->alloc_bulk(hal, 0, b, 3);
	for (int i = 0; i < 3; i++) {
		fill(b[i], 80, (uint8_t)(0x10 * (i + 1)));
		b[i]->frame_len = 80;
	}
	b[1]->data[0] = 0xee;
	tx = hal->ops->tx_burst(hal, 0, b, 3);
	if (tx < 3) /* the old way: the refused frame heads the next batch */
		again = hal->ops->tx_burst(hal, 0, b + tx, (uint16_t)(3 - tx));
	rx = hal->ops->rx_burst(hal, 0, r, 8);
	for (uint16_t i = 0; i < rx; i++)
		order = order && r[i]->data[0] != 0xee;
	CHECK("tx_burst: a frame tx_prepare refuses is taken (dropped), the frames around it are sent",
	      tx == 3 && rx == 2 && order && r[0] == b[0] && r[1] == b[2] && prep_calls > 0,
	      "tx=%u then %u, rx=%u, prepare called %u times", tx, again, rx, prep_calls);
	CHECK("tx_burst: the refused frame is counted", be->tx_prep_drop[0] == drops0 + 1, "tx_prep_drop %llu",
	      (unsigned long long)be->tx_prep_drop[0]);
	hal->ops->free_bulk(hal, 0, r, rx);
	if (tx + again < 3) /* still ours under the old handling */
		hal->ops->free_bulk(hal, 0, b + tx + again, (uint16_t)(3 - tx - again));
	/* A batch that starts with a refused frame: nothing stays behind. */
	hal->ops->alloc_bulk(hal, 0, b, 2);
	fill(b[0], 60, 1);
	fill(b[1], 60, 2);
	b[0]->frame_len = b[1]->frame_len = 60;
	b[0]->data[0] = 0xee;
	tx = hal->ops->tx_burst(hal, 0, b, 2);
	rx = hal->ops->rx_burst(hal, 0, r, 8);
	CHECK("tx_burst: a refused frame at the head does not hold the batch", tx == 2 && rx == 1 && r[0] == b[1],
	      "tx=%u rx=%u", tx, rx);
	hal->ops->free_bulk(hal, 0, r, rx);
	if (tx < 2)
		hal->ops->free_bulk(hal, 0, b + tx, (uint16_t)(2 - tx));
	CHECK("tx_burst: refused frames go back to the pool", pool_avail(be, 0) == before, "%u != %u",
	      pool_avail(be, 0), before);
	rte_eth_fp_ops[be->port] = saved;
	be->tx_ol_ip = saved_ol;
}

/* An Ethernet + IPv4 + TCP frame of `ip_len` IPv4 bytes (TCP header of
 * thl bytes), headers in a first buffer of hdr_room bytes and the payload
 * chained behind it in buffers of `piece` bytes, as the stack builds a
 * large segment; the TCP sum field holds the pseudo-header sum with the
 * length (hal.h). Returns the head, or NULL. */
static struct usn_buf *tcp_frame(struct usn_hal *hal, uint16_t q, uint16_t ip_len, uint8_t thl,
				 uint16_t piece, uint8_t proto)
{
	struct usn_buf *b[40];
	uint32_t hdr = 14u + 20u + thl, pay = (uint32_t)ip_len - 20u - thl;
	uint16_t nb = (uint16_t)(1 + (pay + piece - 1) / piece);
	struct rte_ipv4_hdr *ip;

	if (nb > 40 || hal->ops->alloc_bulk(hal, q, b, nb) != nb)
		return NULL;
	memset(b[0]->data, 0, hdr);
	b[0]->data[12] = 0x08;
	ip = (struct rte_ipv4_hdr *)(b[0]->data + 14);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(ip_len);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = rte_cpu_to_be_32(0xc6120001);
	ip->dst_addr = rte_cpu_to_be_32(0xc6120002);
	b[0]->data[14 + 20 + 12] = (uint8_t)(thl / 4 << 4);
	((struct rte_tcp_hdr *)(b[0]->data + 34))->cksum = rte_ipv4_phdr_cksum(ip, 0);
	b[0]->len = (uint16_t)hdr;
	for (uint16_t i = 1; i < nb; i++) {
		uint32_t n =
		    pay - (uint32_t)(i - 1) * piece < piece ? pay - (uint32_t)(i - 1) * piece : piece;
		fill(b[i], (uint16_t)n, (uint8_t)i);
		b[i - 1]->next = b[i];
	}
	b[0]->frame_len = 14u + ip_len;
	b[0]->l2_len = 14;
	b[0]->l3_len = 20;
	return b[0];
}

/* TSO as the backend sets it up for a port that offers it (net_tap, a
 * NIC): the flags DPDK's TSO wants, the lengths, the piece size (cut to
 * net_tap's MTU check where it applies) and the pseudo-header sum without
 * the length. */
static void test_tso(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	const uint64_t ol_ip = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	const uint64_t ol_tcp = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
	uint64_t s_ip = be->tx_ol_ip, s_tcp = be->tx_ol_tcp;
	bool s_tso = be->tx_tso;
	unsigned before = pool_avail(be, 0);

	be->tx_ol_ip = ol_ip;
	be->tx_ol_tcp = ol_tcp;
	be->tx_tso = true;
	for (int pass = 0; pass < 2; pass++) {
		struct usn_buf *f = tcp_frame(hal, 0, 20000, 32, 3000, IPPROTO_TCP), *r = NULL;
		uint16_t rx;

		if (!f) {
			CHECK("tso: frame built", false, "no buffers");
			break;
		}
		be->tso_piece_max = pass ? 1500 : 0; /* net_tap's check */
		f->flags = USN_BUF_TX_TCP_SEG | USN_BUF_TX_TCP_CSUM | USN_BUF_TX_IP_CSUM;
		f->l4_len = 32;
		f->seg_size = 1448;
		hal->ops->tx_burst(hal, 0, &f, 1);
		rx = hal->ops->rx_burst(hal, 0, &r, 1);
		if (rx != 1) {
			CHECK("tso: the frame comes back", false, "rx=%u", rx);
			break;
		}
		struct rte_mbuf *m = usn_dpdk_mbuf(r);
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
		uint16_t sum = ((struct rte_tcp_hdr *)((uint8_t *)ip + 20))->cksum;
		uint64_t want = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;

		CHECK(pass ? "tso (net_tap): flags, lengths, pieces cut to its MTU check (1500 - 66)"
			   : "tso: RTE_MBUF_F_TX_TCP_SEG | IPV4 | IP_CKSUM, l2/l3/l4_len, tso_segsz",
		      (m->ol_flags & want) == want && m->l2_len == 14 && m->l3_len == 20 && m->l4_len == 32 &&
			  m->tso_segsz == (pass ? 1434 : 1448) && m->nb_segs == 8 && m->pkt_len == 20014,
		      "ol_flags 0x%llx l2 %u l3 %u l4 %u tso_segsz %u nb_segs %u pkt_len %u",
		      (unsigned long long)m->ol_flags, m->l2_len, m->l3_len, m->l4_len, m->tso_segsz,
		      m->nb_segs, m->pkt_len);
		if (!pass)
			CHECK("tso: the TCP sum field holds the pseudo-header sum without the length (DPDK's "
			      "TSO)",
			      sum == rte_ipv4_phdr_cksum(ip, RTE_MBUF_F_TX_TCP_SEG) &&
				  sum != rte_ipv4_phdr_cksum(ip, 0),
			      "field 0x%04x, without length 0x%04x, with 0x%04x", sum,
			      rte_ipv4_phdr_cksum(ip, RTE_MBUF_F_TX_TCP_SEG), rte_ipv4_phdr_cksum(ip, 0));
		hal->ops->free_bulk(hal, 0, &r, 1);
	}
	/* A plain frame on the same port: no TSO flag, the sum as it was. */
	struct usn_buf *f = tcp_frame(hal, 0, 1000, 20, 2000, IPPROTO_TCP), *r = NULL;
	if (f) {
		f->flags = USN_BUF_TX_TCP_CSUM | USN_BUF_TX_IP_CSUM;
		hal->ops->tx_burst(hal, 0, &f, 1);
		if (hal->ops->rx_burst(hal, 0, &r, 1) == 1) {
			struct rte_mbuf *m = usn_dpdk_mbuf(r);
			struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);

			CHECK("tso: a plain frame keeps the checksum flags only, and the pseudo sum with the "
			      "length",
			      !(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) && m->tso_segsz == 0 &&
				  ((struct rte_tcp_hdr *)((uint8_t *)ip + 20))->cksum ==
				      rte_ipv4_phdr_cksum(ip, 0),
			      "ol_flags 0x%llx tso_segsz %u", (unsigned long long)m->ol_flags, m->tso_segsz);
			hal->ops->free_bulk(hal, 0, &r, 1);
		}
	}
	be->tx_ol_ip = s_ip;
	be->tx_ol_tcp = s_tcp;
	be->tx_tso = s_tso;
	be->tso_piece_max = 0;
	CHECK("tso: every buffer back", pool_avail(be, 0) == before, "%u != %u", pool_avail(be, 0), before);
}

/* Puts mbufs on the ring as a device would deliver them (RX flags set),
 * bypassing the HAL's TX. */
static bool ring_inject(struct usn_dpdk_backend *be, struct usn_buf *f, uint64_t ol, uint16_t tso_segsz)
{
	struct rte_mbuf *m = usn_dpdk_mbuf(f);
	uint16_t segs = 0;
	uint32_t total = 0;

	for (struct usn_buf *b = f; b; b = b->next) {
		struct rte_mbuf *s = usn_dpdk_mbuf(b);

		s->data_off = (uint16_t)(b->data - (uint8_t *)s->buf_addr);
		s->data_len = b->len;
		s->next = b->next ? usn_dpdk_mbuf(b->next) : NULL;
		total += b->len;
		segs++;
	}
	m->nb_segs = segs;
	m->pkt_len = total;
	m->ol_flags = ol;
	m->tso_segsz = tso_segsz;
	return rte_eth_tx_burst(be->port, 0, &m, 1) == 1;
}

/* LRO: a frame the device coalesced (RTE_MBUF_F_RX_LRO, tso_segsz) is
 * passed on coalesced with the segments' size and the sums as the device
 * reported them; one it did not is not, whatever its buffer held before. */
static void test_lro(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	bool s_lro = be->rx_lro, s_csum = be->rx_csum;
	struct usn_buf *f, *r = NULL;

	be->rx_lro = true;
	be->rx_csum = true;
	f = tcp_frame(hal, 0, 9000, 32, 3000, IPPROTO_TCP);
	if (f &&
	    ring_inject(be, f, RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD,
			1448) &&
	    hal->ops->rx_burst(hal, 0, &r, 1) == 1) {
		uint16_t want = USN_BUF_RX_COALESCED | USN_BUF_RX_IP_CSUM_GOOD | USN_BUF_RX_L4_CSUM_GOOD;
		CHECK("lro: RTE_MBUF_F_RX_LRO -> USN_BUF_RX_COALESCED, seg_size from tso_segsz, sums as "
		      "reported",
		      (r->flags & want) == want && r->seg_size == 1448 && r->frame_len == 9014,
		      "flags 0x%x seg_size %u frame_len %u", r->flags, r->seg_size, r->frame_len);
		r->seg_size = 999; /* as a stale value the next user of the buffer must not see */
		hal->ops->free_bulk(hal, 0, &r, 1);
	} else {
		CHECK("lro: injected frame received", false, "no frame");
	}
	f = tcp_frame(hal, 0, 1000, 20, 3000, IPPROTO_TCP);
	if (f && ring_inject(be, f, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD, 0) &&
	    hal->ops->rx_burst(hal, 0, &r, 1) == 1) {
		CHECK("lro: a frame the device did not merge is not marked coalesced",
		      !(r->flags & USN_BUF_RX_COALESCED) && r->seg_size == 0, "flags 0x%x seg_size %u",
		      r->flags, r->seg_size);
		hal->ops->free_bulk(hal, 0, &r, 1);
	}
	be->rx_lro = false;
	f = tcp_frame(hal, 0, 9000, 32, 3000, IPPROTO_TCP);
	if (f && ring_inject(be, f, RTE_MBUF_F_RX_LRO, 1448) && hal->ops->rx_burst(hal, 0, &r, 1) == 1) {
		CHECK("lro: not passed on where LRO was not enabled", !(r->flags & USN_BUF_RX_COALESCED),
		      "flags 0x%x", r->flags);
		hal->ops->free_bulk(hal, 0, &r, 1);
	}
	be->rx_lro = s_lro;
	be->rx_csum = s_csum;
}

/* --usn-memif-tso's receiving end: TCP frames taken on trust, those beyond
 * the MTU coalesced in pieces of the MTU less their headers; anything else
 * untouched. */
static void test_memif_marks(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	struct {
		const char *name;
		uint16_t ip_len;
		uint8_t thl, proto;
		uint16_t want_flags, want_seg;
	} c[] = {
	    {"memif-tso: a 64 KB TCP frame is coalesced (seg_size = MTU - 20 - 32), its TCP sum trusted",
	     60000, 32, IPPROTO_TCP, USN_BUF_RX_COALESCED | USN_BUF_RX_L4_CSUM_GOOD, 0},
	    {"memif-tso: an MTU-sized TCP frame: sum trusted, not coalesced", 1500, 20, IPPROTO_TCP,
	     USN_BUF_RX_L4_CSUM_GOOD, 0},
	    {"memif-tso: an ICMP frame is left alone", 84, 20, IPPROTO_ICMP, 0, 0},
	};
	bool s_memif = be->memif_tso;

	c[0].want_seg = (uint16_t)(hal->mtu - 20 - 32);
	be->memif_tso = true;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct usn_buf *f = tcp_frame(hal, 0, c[i].ip_len, c[i].thl, 3000, c[i].proto), *r = NULL;

		if (!f || !ring_inject(be, f, 0, 0) || hal->ops->rx_burst(hal, 0, &r, 1) != 1) {
			CHECK(c[i].name, false, "frame not received");
			continue;
		}
		CHECK(c[i].name, r->flags == c[i].want_flags && r->seg_size == c[i].want_seg,
		      "flags 0x%x seg_size %u, wanted 0x%x %u", r->flags, r->seg_size, c[i].want_flags,
		      c[i].want_seg);
		hal->ops->free_bulk(hal, 0, &r, 1);
	}
	be->memif_tso = s_memif;
}

static uint16_t tx_none(void *txq, struct rte_mbuf **pkts, uint16_t n)
{
	(void)txq;
	(void)pkts;
	(void)n;
	return 0; /* a full ring */
}

/* Zero-copy TX as on a port where it is on: an external buffer is attached
 * to the region's bytes themselves (no copy: the receiver's data pointer is
 * the region's), once even when a full ring hands the frame back, and every
 * reference returns when the mbufs are freed, sent or not. */
static void test_zero_copy(struct usn_dpdk_backend *be, struct usn_hal *hal)
{
	static uint8_t region[64 * 1024];
	struct rte_eth_fp_ops saved = rte_eth_fp_ops[be->port];
	bool s_zc = be->zcopy;
	uint32_t s_off = hal->offloads;
	unsigned before = pool_avail(be, 0);
	uint64_t attached0 = be->tx_ext[0];
	struct usn_buf *b[2], *r = NULL;
	int id;

	for (size_t i = 0; i < sizeof(region); i++)
		region[i] = (uint8_t)(i * 31u + 7u);
	CHECK("zero-copy: tx_region refused where the port copies",
	      hal->ops->tx_region(hal, region, sizeof(region)) == -EOPNOTSUPP, "port %s", be->driver);
	be->zcopy = true;
	hal->offloads |= USN_HAL_OFF_TX_EXT;
	id = hal->ops->tx_region(hal, region, sizeof(region));
	CHECK("zero-copy: tx_region gives region 0", id == 0 && be->n_regions == 1, "id %d", id);
	if (id != 0)
		goto out;

	for (int round = 0; round < 3; round++) {
		hal->ops->alloc_bulk(hal, 0, b, 2);
		fill(b[0], 60, 9);
		b[1]->data = region + 1000 + round;
		b[1]->len = 5000;
		b[1]->room = 0;
		b[1]->headroom = 0;
		b[1]->flags = USN_BUF_TX_EXT;
		b[1]->region = 0;
		b[0]->next = b[1];
		b[0]->frame_len = 5060;
		if (round == 1) {
			/* A full ring: the frame comes back attached, then goes. */
			uint16_t n;

			rte_eth_fp_ops[be->port].tx_pkt_burst = tx_none;
			n = hal->ops->tx_burst(hal, 0, b, 1);
			rte_eth_fp_ops[be->port] = saved;
			CHECK("zero-copy: a frame the full ring refused comes back attached, one reference",
			      n == 0 && RTE_MBUF_HAS_EXTBUF(usn_dpdk_mbuf(b[1])) &&
				  usn_dpdk_ext_held(be) == 1,
			      "tx %u, ext %d, held %u", n, RTE_MBUF_HAS_EXTBUF(usn_dpdk_mbuf(b[1])) != 0,
			      usn_dpdk_ext_held(be));
		}
		if (round == 2) {
			/* The stack frees a frame it never sent. */
			hal->ops->free_bulk(hal, 0, b, 1);
			CHECK("zero-copy: a frame freed unsent returns its buffers",
			      usn_dpdk_ext_held(be) == 0 && pool_avail(be, 0) == before,
			      "held %u, pool %u of %u", usn_dpdk_ext_held(be), pool_avail(be, 0), before);
			break;
		}
		hal->ops->tx_burst(hal, 0, b, 1);
		if (hal->ops->rx_burst(hal, 0, &r, 1) != 1) {
			CHECK("zero-copy: frame received", false, "round %d", round);
			break;
		}
		struct rte_mbuf *e = usn_dpdk_mbuf(r->next);
		CHECK(round ? "zero-copy: retried after the full ring: still one reference, bytes in place"
			    : "zero-copy: the external buffer carries the region's bytes in place (no copy), "
			      "one reference",
		      r->next && r->next->data == region + 1000 + round && r->next->len == 5000 &&
			  RTE_MBUF_HAS_EXTBUF(e) && e->buf_addr == region + 1000 + round &&
			  usn_dpdk_mbuf(r)->pkt_len == 5060 && usn_dpdk_ext_held(be) == 1 &&
			  same_bytes(r, 60, 9),
		      "data %p (region %p), held %u", r->next ? (void *)r->next->data : NULL, (void *)region,
		      usn_dpdk_ext_held(be));
		hal->ops->free_bulk(hal, 0, &r, 1);
		CHECK(round ? "zero-copy: freed after the retry: no reference left, pool whole"
			    : "zero-copy: freed: no reference left, pool whole",
		      usn_dpdk_ext_held(be) == 0 && pool_avail(be, 0) == before, "held %u, pool %u of %u",
		      usn_dpdk_ext_held(be), pool_avail(be, 0), before);
	}
	CHECK("zero-copy: two attachments counted", be->tx_ext[0] == attached0 + 2, "%llu",
	      (unsigned long long)(be->tx_ext[0] - attached0));
	/* Freed mbufs come back from the pool as plain ones again. */
	hal->ops->alloc_bulk(hal, 0, b, 2);
	CHECK("zero-copy: a recycled mbuf is direct again, its data in its own room",
	      !RTE_MBUF_HAS_EXTBUF(usn_dpdk_mbuf(b[0])) && !RTE_MBUF_HAS_EXTBUF(usn_dpdk_mbuf(b[1])) &&
		  b[1]->data == (uint8_t *)usn_dpdk_mbuf(b[1])->buf_addr + RTE_PKTMBUF_HEADROOM,
	      "still external");
	hal->ops->free_bulk(hal, 0, b, 2);
out:
	be->zcopy = s_zc;
	hal->offloads = s_off;
}

static void test_random_and_key(struct usn_hal *hal)
{
	uint8_t a[32], z[32] = {0};
	int rc = hal->ops->random ? hal->ops->random(hal, a, sizeof(a)) : -1;

	CHECK("random: 32 bytes from getrandom", rc == 0 && memcmp(a, z, sizeof(a)) != 0, "rc=%d", rc);
	CHECK("rss_key: chosen at open and acceptable", usn_rss_key_ok(hal->rss_key), "key 0x%04x",
	      hal->rss_key);
}

int main(int argc, char **argv)
{
	struct usn_backend *b;
	struct usn_dpdk_backend *be;
	struct usn_hal *hal;
	char msg[256];
	int rc = usn_dpdk_backend_ops.open(argc, argv, 2, &b, msg, sizeof(msg));

	if (rc < 0) {
		printf("FAIL open: %s\n", msg);
		return 1;
	}
	be = usn_dpdk_of(b);
	CHECK("open: consumed the EAL arguments and \"--\"", rc == argc, "returned %d of %d", rc, argc);
	hal = usn_dpdk_backend_ops.hal(b);
	CHECK("open: two queue pairs, a pool per queue", hal->n_queues == 2 && be->pool[0] && be->pool[1],
	      "n_queues=%u", hal->n_queues);
	test_alloc(be, hal);
	test_single(be, hal);
	test_chain(be, hal);
	test_drain_all(be, hal);
	test_exhaust(be, hal);
	test_misc(hal);
	test_umem_span(be);
	test_tx_prepare_refused(be, hal);
	test_tso(be, hal);
	test_lro(be, hal);
	test_memif_marks(be, hal);
	test_zero_copy(be, hal);
	test_random_and_key(hal);
	usn_dpdk_backend_ops.close(b);
	return fails ? 1 : 0;
}
