/* libusnet DPDK backend: the HAL operations (include/usnet/hal.h) over one
 * ethdev port. Frames cross as mbufs whose private area holds the usn_buf;
 * RX fills the usn_buf from the mbuf, TX writes the usn_buf back. */
/* _GNU_SOURCE comes from arch/x86/x86.mk (before rte_config.h is included). */
/* rte_dev_dma_map (zero-copy regions on a NIC) is still experimental in 22.11. */
#define ALLOW_EXPERIMENTAL_API

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_tcp.h>

#include "usn_dpdk.h"

/* Bursts larger than this are split: the mbuf pointers are staged in a
 * stack array rather than cast in place (usn_buf ** and rte_mbuf ** may not
 * alias). */
#define USN_DPDK_STAGE 64

static struct usn_dpdk_backend *backend_of(struct usn_hal *hal)
{
	return (struct usn_dpdk_backend *)hal; /* hal is the first member */
}

/* One received segment: describe it to the stack. */
static void buf_from_seg(struct rte_mbuf *m, struct usn_buf *b)
{
	b->data = rte_pktmbuf_mtod(m, uint8_t *);
	b->len = m->data_len;
	b->room = (uint16_t)(m->buf_len - m->data_off);
	b->headroom = m->data_off;
	b->next = m->next ? usn_dpdk_buf(m->next) : NULL;
	b->link = NULL;
	b->flags = 0;
	b->l2_len = 0;
	b->l3_len = 0;
	b->l4_len = 0;
	b->seg_size = 0;
}

static uint16_t rx_flags(const struct usn_dpdk_backend *be, uint64_t ol)
{
	uint16_t f = 0;

	/* A hash by another key would steer flows differently from
	 * usn_rss_hash (and active open), so only ours is passed on. */
	if (be->rx_hash && (ol & RTE_MBUF_F_RX_RSS_HASH))
		f |= USN_BUF_RX_HASH;
	if (!be->rx_csum)
		return f;
	/* UNKNOWN and NONE leave the stack to verify the sum itself. */
	if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		f |= USN_BUF_RX_IP_CSUM_GOOD;
	else if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		f |= USN_BUF_RX_CSUM_BAD;
	if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		f |= USN_BUF_RX_L4_CSUM_GOOD;
	else if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		f |= USN_BUF_RX_CSUM_BAD;
	return f;
}

/* --usn-memif-tso (the receiving end): the peer is libusnet with the same
 * option, whose TCP sums are partial (it "offloads" them) and whose large
 * segments cross whole. Its TCP frames are taken on trust, as Linux takes
 * CHECKSUM_PARTIAL frames between veth peers or on loopback, and a frame
 * beyond the MTU is a coalesced one (hal.h), cut where the peer's MSS
 * would cut it: our MTU less the frame's own headers. Only the first
 * mbuf's headers are read (memif puts 2 KB or more there). */
static void memif_rx_mark(const struct usn_dpdk_backend *be, const struct rte_mbuf *m, struct usn_buf *head)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t ihl, thl, tot;

	if (m->data_len < RTE_ETHER_HDR_LEN + 40 || p[12] != 0x08 || p[13] != 0x00 || (p[14] >> 4) != 4 ||
	    p[14 + 9] != IPPROTO_TCP)
		return;
	ihl = (p[14] & 0x0fu) * 4u;
	if (ihl < 20 || m->data_len < RTE_ETHER_HDR_LEN + ihl + 20)
		return;
	head->flags |= USN_BUF_RX_L4_CSUM_GOOD;
	tot = (uint32_t)p[16] << 8 | p[17];
	thl = (uint32_t)(p[RTE_ETHER_HDR_LEN + ihl + 12] >> 4) * 4u;
	if (tot > be->hal.mtu && be->hal.mtu > ihl + thl) {
		head->flags |= USN_BUF_RX_COALESCED;
		head->seg_size = (uint16_t)(be->hal.mtu - ihl - thl);
	}
}

static uint16_t rx_queue(struct usn_dpdk_backend *be, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct rte_mbuf *mb[USN_DPDK_STAGE];
	uint16_t got = 0;

	while (got < n) {
		uint16_t want = (uint16_t)RTE_MIN(n - got, USN_DPDK_STAGE);
		uint16_t k = rte_eth_rx_burst(be->port, queue, mb, want);

		for (uint16_t i = 0; i < k; i++) {
			struct rte_mbuf *m = mb[i];
			struct usn_buf *head = usn_dpdk_buf(m);

			for (struct rte_mbuf *s = m; s; s = s->next)
				buf_from_seg(s, usn_dpdk_buf(s));
			head->frame_len = m->pkt_len;
			head->flags = rx_flags(be, m->ol_flags);
			head->rss_hash = (head->flags & USN_BUF_RX_HASH) ? m->hash.rss : 0;
			/* LRO: tso_segsz is the size of the segments merged
			 * (rte_mbuf_core.h RTE_MBUF_F_RX_LRO); the sums are as
			 * the device reported them (rx_flags). */
			if (be->rx_lro && (m->ol_flags & RTE_MBUF_F_RX_LRO)) {
				head->flags |= USN_BUF_RX_COALESCED;
				head->seg_size = m->tso_segsz;
			}
			if (be->memif_tso)
				memif_rx_mark(be, m, head);
			head->backend_u16 = queue;
			bufs[got + i] = head;
		}
		got = (uint16_t)(got + k);
		if (k < want)
			break;
	}
	if (got)
		usn_dpdk_bufs_sample(be, queue); /* the driver refilled its ring */
	return got;
}

static uint16_t dpdk_rx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_dpdk_backend *be = backend_of(hal);
	uint16_t got = 0;

	if (!be->rx_drain_all) {
		got = rx_queue(be, queue, bufs, n);
	} else if (queue == 0) {
		/* Round-robin over the queues so none starves behind a busy one. */
		for (uint16_t i = 0; i < be->n_queues && got < n; i++) {
			uint16_t q = be->rx_next;

			be->rx_next = (uint16_t)((q + 1u) % be->n_queues);
			got = (uint16_t)(got + rx_queue(be, q, bufs + got, (uint16_t)(n - got)));
		}
	}
	if (unlikely(be->pcap != NULL) && got)
		usn_dpdk_pcap_rx(be->pcap, queue, bufs, got);
	return got;
}

/* A buffer the stack lent to application memory (hal.h USN_BUF_TX_EXT):
 * the mbuf's data becomes that memory, as an external buffer with the
 * region's shared info for this queue, whose refcount counts it until the
 * mbuf is freed (by the driver once sent, or by free_bulk). The region
 * itself outlives every such mbuf (it is released only at close), so the
 * free callback never runs while the port does: a retransmitted copy of
 * acknowledged bytes still in the TX ring reads memory that is still
 * there. A frame the ring refused comes back attached and is not attached
 * again. */
static void ext_attach(struct usn_dpdk_backend *be, uint16_t queue, struct usn_buf *b, struct rte_mbuf *s)
{
	struct usn_dpdk_region *r = &be->region[b->region];
	struct rte_mbuf_ext_shared_info *sh = &r->shinfo[queue].sh;

	if (RTE_MBUF_HAS_EXTBUF(s))
		return;
	rte_mbuf_ext_refcnt_update(sh, 1);
	rte_pktmbuf_attach_extbuf(s, b->data, r->iova + (rte_iova_t)(b->data - r->base), b->len, sh);
	be->tx_ext[queue]++;
}

/* DPDK's TSO (rte_mbuf_core.h RTE_MBUF_F_TX_TCP_SEG): the flags (with the
 * IPv4 sum, which DPDK asks for with IPv4 TSO), the header lengths, the
 * piece size, and the TCP sum field holding the pseudo-header sum without
 * the length, where the stack wrote it with the length (hal.h). The
 * stack's frames hold every header in their first buffer. */
static void tso_sync(const struct usn_dpdk_backend *be, const struct usn_buf *head, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, head->l2_len);
	struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)((uint8_t *)ip + head->l3_len);
	uint32_t hdrs = (uint32_t)head->l2_len + head->l3_len + head->l4_len;
	uint16_t seg = head->seg_size;

	m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	m->l2_len = head->l2_len;
	m->l3_len = head->l3_len;
	m->l4_len = head->l4_len;
	if (be->tso_piece_max && seg + hdrs > be->tso_piece_max && be->tso_piece_max > hdrs)
		seg = (uint16_t)(be->tso_piece_max - hdrs); /* net_tap: port_setup */
	m->tso_segsz = seg;
	tcp->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
}

/* Writes the stack's view of a frame back into its mbufs. The chain is
 * rebuilt from usn_buf.next: the stack may have trimmed, extended or
 * re-linked it since it was received or allocated. */
static struct rte_mbuf *mbuf_sync(struct usn_dpdk_backend *be, uint16_t queue, struct usn_buf *head)
{
	struct rte_mbuf *m = usn_dpdk_mbuf(head);
	uint16_t segs = 0;
	uint32_t total = 0;

	for (struct usn_buf *b = head; b; b = b->next) {
		struct rte_mbuf *s = usn_dpdk_mbuf(b);

		if (b->flags & USN_BUF_TX_EXT)
			ext_attach(be, queue, b, s);
		s->data_off = (uint16_t)(b->data - (uint8_t *)s->buf_addr);
		s->data_len = b->len;
		s->next = b->next ? usn_dpdk_mbuf(b->next) : NULL;
		total += b->len;
		segs++;
	}
	m->nb_segs = segs;
	m->pkt_len = total;
	/* A received buffer may be sent back (an ICMP reply built in place):
	 * none of its RX metadata may reach the TX path. */
	m->ol_flags = 0;
	m->tx_offload = 0;
	m->packet_type = 0;
	if ((head->flags & USN_BUF_TX_IP_CSUM) && be->tx_ol_ip)
		m->ol_flags |= be->tx_ol_ip;
	if ((head->flags & USN_BUF_TX_TCP_CSUM) && be->tx_ol_tcp)
		m->ol_flags |= be->tx_ol_tcp;
	if (m->ol_flags) {
		m->l2_len = head->l2_len;
		m->l3_len = head->l3_len;
	}
	if ((head->flags & USN_BUF_TX_TCP_SEG) && be->tx_tso)
		tso_sync(be, head, m);
	return m;
}

static uint16_t dpdk_tx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_dpdk_backend *be = backend_of(hal);
	struct rte_mbuf *mb[USN_DPDK_STAGE];
	uint16_t sent = 0;

	while (sent < n) {
		uint16_t want = (uint16_t)RTE_MIN(n - sent, USN_DPDK_STAGE);
		uint16_t ok, k;

		for (uint16_t i = 0; i < want; i++)
			mb[i] = mbuf_sync(be, queue, bufs[sent + i]);
		/* The driver's own checks and fix-ups (the pseudo-header sum as
		 * its checksum offload wants it, segment limits); a no-op for
		 * drivers without them. */
		ok = rte_eth_tx_prepare(be->port, queue, mb, want);
		/* --pcap: copied as the driver gets them (dpdk_pcap.c). */
		if (unlikely(be->pcap != NULL) && ok)
			usn_dpdk_pcap_tx(be->pcap, queue, mb, ok);
		k = ok ? rte_eth_tx_burst(be->port, queue, mb, ok) : 0;
		if (unlikely(be->pcap != NULL) && ok)
			usn_dpdk_pcap_tx_done(be->pcap, queue, k);
		sent = (uint16_t)(sent + k);
		if (k < ok)
			break; /* the ring is full: the rest waits with the caller */
		if (ok < want) {
			/* The driver refuses mb[ok] whatever we do: returned to
			 * the caller it would head the next batch and be refused
			 * for ever, holding every frame behind it. Take it, free
			 * it and count it. */
			rte_pktmbuf_free(mb[ok]);
			be->tx_prep_drop[queue]++;
			sent++;
		}
	}
	return sent;
}

static void buf_init_empty(struct rte_mbuf *m, uint16_t queue)
{
	struct usn_buf *b = usn_dpdk_buf(m);

	b->next = NULL;
	b->link = NULL;
	b->data = rte_pktmbuf_mtod(m, uint8_t *);
	b->frame_len = 0;
	b->len = 0;
	b->room = (uint16_t)(m->buf_len - m->data_off);
	b->headroom = m->data_off;
	b->flags = 0;
	b->rss_hash = 0;
	b->l2_len = 0;
	b->l3_len = 0;
	b->backend_u16 = queue;
	b->backend = 0;
	b->stack_u64 = 0;
}

static uint16_t dpdk_alloc_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_dpdk_backend *be = backend_of(hal);
	struct rte_mempool *mp = be->pool[queue];
	struct rte_mbuf *mb[USN_DPDK_STAGE];
	uint16_t got = 0;

	while (got < n) {
		uint16_t want = (uint16_t)RTE_MIN(n - got, USN_DPDK_STAGE);
		uint16_t k = want;

		/* rte_pktmbuf_alloc_bulk is all or nothing: when the pool runs
		 * low, take what is left one by one. */
		if (rte_pktmbuf_alloc_bulk(mp, mb, want) != 0) {
			for (k = 0; k < want; k++) {
				mb[k] = rte_pktmbuf_alloc(mp);
				if (!mb[k])
					break;
			}
		}
		for (uint16_t i = 0; i < k; i++) {
			buf_init_empty(mb[i], queue);
			bufs[got + i] = usn_dpdk_buf(mb[i]);
		}
		got = (uint16_t)(got + k);
		if (k < want)
			break;
	}
	usn_dpdk_bufs_sample(be, queue);
	return got;
}

static void dpdk_free_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct rte_mbuf *mb[USN_DPDK_STAGE];

	(void)hal;
	(void)queue;
	while (n > 0) {
		uint16_t k = (uint16_t)RTE_MIN(n, USN_DPDK_STAGE);

		for (uint16_t i = 0; i < k; i++) {
			/* The chain as the stack owns it (usn_buf.next) decides
			 * which segments go back to their pools. */
			struct rte_mbuf *m = usn_dpdk_mbuf(bufs[i]);
			uint16_t segs = 0;

			for (struct usn_buf *b = bufs[i]; b; b = b->next) {
				usn_dpdk_mbuf(b)->next = b->next ? usn_dpdk_mbuf(b->next) : NULL;
				segs++;
			}
			m->nb_segs = segs;
			mb[i] = m;
		}
		rte_pktmbuf_free_bulk(mb, k);
		bufs += k;
		n = (uint16_t)(n - k);
	}
}

static uint64_t dpdk_clock_cycles(struct usn_hal *hal)
{
	(void)hal;
	return rte_rdtsc();
}

static void *dpdk_mem_alloc(struct usn_hal *hal, uint16_t queue, size_t size)
{
	struct usn_dpdk_backend *be = backend_of(hal);
	int socket = queue < be->n_queues ? be->socket[queue] : SOCKET_ID_ANY;
	void *p = rte_zmalloc_socket("usnet", size, RTE_CACHE_LINE_SIZE, socket);

	/* --no-huge gives memory on one socket only: fall back to any. */
	if (!p && socket != SOCKET_ID_ANY)
		p = rte_zmalloc_socket("usnet", size, RTE_CACHE_LINE_SIZE, SOCKET_ID_ANY);
	return p;
}

static void dpdk_mem_free(struct usn_hal *hal, uint16_t queue, void *p, size_t size)
{
	(void)hal;
	(void)queue;
	(void)size;
	rte_free(p);
}

int usn_dpdk_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int dpdk_random(struct usn_hal *hal, void *buf, size_t len)
{
	(void)hal;
	return usn_dpdk_random(buf, len);
}

/* Never called while the port runs: each shared info keeps the backend's
 * own reference until usn_dpdk_regions_release. */
static void ext_free_cb(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque;
}

/* hal ops->tx_region: zero-copy TX from len bytes at base. On a NIC the
 * pages are registered with the EAL and mapped for the device's DMA at
 * their virtual addresses (IOVA as VA, checked at start); a virtual device
 * reads them through the CPU and needs neither. Before the workers run. */
static int dpdk_tx_region(struct usn_hal *hal, const void *base, size_t len)
{
	struct usn_dpdk_backend *be = backend_of(hal);
	struct usn_dpdk_region *r;

	if (!be->zcopy)
		return -EOPNOTSUPP;
	if (be->n_regions == USN_DPDK_MAX_REGIONS)
		return -ENOSPC;
	r = &be->region[be->n_regions];
	memset(r, 0, sizeof(*r));
	r->base = (uint8_t *)(uintptr_t)base;
	r->len = len;
	r->iova = (rte_iova_t)(uintptr_t)base;
	if (be->zcopy_dma) {
		const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
		uintptr_t lo = (uintptr_t)base & ~(pg - 1), hi = ((uintptr_t)base + len + pg - 1) & ~(pg - 1);

		if (rte_extmem_register((void *)lo, hi - lo, NULL, 0, pg) != 0)
			return -rte_errno;
		if (rte_dev_dma_map(be->dev, (void *)lo, lo, hi - lo) != 0) {
			int e = rte_errno;

			(void)rte_extmem_unregister((void *)lo, hi - lo);
			return -e;
		}
		r->mapped = true;
	}
	r->shinfo = rte_zmalloc("usnet_ext", (size_t)be->n_queues * sizeof(*r->shinfo), RTE_CACHE_LINE_SIZE);
	if (!r->shinfo) {
		if (r->mapped) {
			const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
			uintptr_t lo = (uintptr_t)base & ~(pg - 1),
				  hi = ((uintptr_t)base + len + pg - 1) & ~(pg - 1);

			(void)rte_dev_dma_unmap(be->dev, (void *)lo, lo, hi - lo);
			(void)rte_extmem_unregister((void *)lo, hi - lo);
		}
		return -ENOMEM;
	}
	for (uint16_t q = 0; q < be->n_queues; q++) {
		r->shinfo[q].sh.free_cb = ext_free_cb;
		r->shinfo[q].sh.fcb_opaque = r;
		rte_mbuf_ext_refcnt_set(&r->shinfo[q].sh, 1); /* the backend's own */
	}
	return be->n_regions++;
}

unsigned usn_dpdk_ext_held(const struct usn_dpdk_backend *b)
{
	unsigned held = 0;

	for (uint16_t i = 0; i < b->n_regions; i++)
		for (uint16_t q = 0; q < b->n_queues; q++)
			held += rte_mbuf_ext_refcnt_read(&b->region[i].shinfo[q].sh) - 1u;
	return held;
}

void usn_dpdk_regions_release(struct usn_dpdk_backend *b)
{
	unsigned held = usn_dpdk_ext_held(b);
	uint64_t attached = 0;

	for (uint16_t q = 0; q < b->n_queues; q++)
		attached += b->tx_ext[q];
	if (held)
		RTE_LOG(WARNING, USER1,
			"usnet: port %u: %u external buffers still attached at close (a driver kept their "
			"mbufs); "
			"their memory must stay mapped\n",
			b->port, held);
	else if (b->n_regions)
		RTE_LOG(NOTICE, USER1,
			"usnet: port %u: zero-copy: %" PRIu64 " external buffers attached, all returned\n",
			b->port, attached);
	for (uint16_t i = 0; i < b->n_regions; i++) {
		struct usn_dpdk_region *r = &b->region[i];

		if (r->mapped && !held) {
			const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
			uintptr_t lo = (uintptr_t)r->base & ~(pg - 1),
				  hi = ((uintptr_t)r->base + r->len + pg - 1) & ~(pg - 1);

			(void)rte_dev_dma_unmap(b->dev, (void *)lo, lo, hi - lo);
			(void)rte_extmem_unregister((void *)lo, hi - lo);
		}
		/* Still held: the shared info must outlive those mbufs too. */
		if (!held)
			rte_free(r->shinfo);
	}
	b->n_regions = 0;
}

/* IPv6's groups: all multicast, the one switch every ethdev has (an exact
 * list would replace the port's whole list at each call). A virtual device
 * that has no such switch (net_af_packet, net_af_xdp) takes what its
 * kernel interface passes, group frames included. */
static int dpdk_mcast_add(struct usn_hal *hal, const uint8_t mac[6])
{
	struct usn_dpdk_backend *b = backend_of(hal);
	int rc;

	(void)mac;
	rc = rte_eth_allmulticast_enable(b->port);
	return rc == -ENOTSUP ? 0 : rc;
}

const struct usn_hal_ops usn_dpdk_hal_ops = {
    .rx_burst = dpdk_rx_burst,
    .tx_burst = dpdk_tx_burst,
    .alloc_bulk = dpdk_alloc_bulk,
    .free_bulk = dpdk_free_bulk,
    .clock_cycles = dpdk_clock_cycles,
    .mem_alloc = dpdk_mem_alloc,
    .mem_free = dpdk_mem_free,
    .random = dpdk_random,
    .tx_region = dpdk_tx_region,
    .mcast_add = dpdk_mcast_add,
};
