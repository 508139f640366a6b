/* libusnet DPDK backend: the HAL operations (include/usnet/hal.h) over one
 * ethdev port. Frames cross as mbufs whose private area holds the usn_buf;
 * RX fills the usn_buf from the mbuf, TX writes the usn_buf back. */
/* _GNU_SOURCE comes from arch/x86/x86.mk (before rte_config.h is included). */

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

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

/* Writes the stack's view of a frame back into its mbufs. The chain is
 * rebuilt from usn_buf.next: the stack may have trimmed, extended or
 * re-linked it since it was received or allocated. */
static struct rte_mbuf *mbuf_sync(const struct usn_dpdk_backend *be, struct usn_buf *head)
{
	struct rte_mbuf *m = usn_dpdk_mbuf(head);
	uint16_t segs = 0;
	uint32_t total = 0;

	for (struct usn_buf *b = head; b; b = b->next) {
		struct rte_mbuf *s = usn_dpdk_mbuf(b);

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
			mb[i] = mbuf_sync(be, bufs[sent + i]);
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

const struct usn_hal_ops usn_dpdk_hal_ops = {
    .rx_burst = dpdk_rx_burst,
    .tx_burst = dpdk_tx_burst,
    .alloc_bulk = dpdk_alloc_bulk,
    .free_bulk = dpdk_free_bulk,
    .clock_cycles = dpdk_clock_cycles,
    .mem_alloc = dpdk_mem_alloc,
    .mem_free = dpdk_mem_free,
    .random = dpdk_random,
};
