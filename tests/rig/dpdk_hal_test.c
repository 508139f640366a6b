/* Rig test of the DPDK HAL (arch/x86) on net_ring, whose queues loop every
 * transmitted mbuf back to the same queue's receive side: usn_buf <-> mbuf
 * mapping, RX fill and TX sync of single and chained frames, offload flags
 * only where advertised, RX of every queue by worker 0 without RSS, pool
 * exhaustion and accounting, a frame the driver's tx_prepare refuses (dropped
 * and counted, not retried for ever), the random source and RSS key.
 * Prints "PASS name" / "FAIL name: why". */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

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
	test_random_and_key(hal);
	usn_dpdk_backend_ops.close(b);
	return fails ? 1 : 0;
}
