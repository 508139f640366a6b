/* libusnet Linux packet port: the HAL operations (include/usnet/hal.h) over
 * one AF_PACKET socket per worker. RX copies each frame out of the
 * TPACKET_V3 ring into the queue's own buffers (chained past one buffer) and
 * gives each block back once read (or, with --pkt-ring=v2, each TPACKET_V2
 * slot, a frame larger than a slot read off the socket's queue by recvmsg);
 * TX hands a burst to one sendmmsg, each frame a virtio-net header and its
 * buffers as an iovec, so the kernel copies once and the buffers are free
 * again at once. No system call but that sendmmsg per burst (and v2's
 * recvmsg per large frame, and a poll when the worker is idle and asked to
 * sleep); nothing allocated. */

#include <errno.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "pport.h"

static uint8_t *slot_data(struct usn_buf *b)
{
	return (uint8_t *)b + USN_PPORT_DATA_OFF;
}

/* A free buffer made ready for the stack: one empty buffer, the headroom
 * reserved. backend_u16 keeps the queue whose pool it belongs to. */
static void buf_reset(struct usn_buf *b)
{
	b->next = NULL;
	b->link = NULL;
	b->data = slot_data(b);
	b->frame_len = 0;
	b->len = 0;
	b->room = USN_PPORT_ROOM;
	b->headroom = USN_PPORT_HEADROOM;
	b->flags = 0;
	b->rss_hash = 0;
	b->l2_len = 0;
	b->l3_len = 0;
	b->l4_len = 0;
	b->seg_size = 0;
	b->stack_u64 = 0;
}

void usn_pport_pool_fill(struct usn_pport_queue *q)
{
	q->free_n = 0;
	for (uint32_t i = q->n_bufs; i-- > 0;) {
		struct usn_buf *b = (struct usn_buf *)(q->pool + (size_t)i * USN_PPORT_SLOT);

		b->backend_u16 = q->id;
		b->backend = 0;
		q->free[q->free_n++] = b;
	}
	atomic_store_explicit(&q->returned, NULL, memory_order_relaxed);
	atomic_store_explicit(&q->returned_n, 0, memory_order_relaxed);
	atomic_store_explicit(&q->bufs_free, q->free_n, memory_order_relaxed);
	atomic_store_explicit(&q->bufs_low, q->free_n, memory_order_relaxed);
}

/* Takes back what other workers freed into this pool. */
static void pool_reclaim(struct usn_pport_queue *q)
{
	struct usn_buf *b = atomic_exchange_explicit(&q->returned, NULL, memory_order_acquire);
	uint32_t n = 0;

	while (b) {
		struct usn_buf *nx = b->link;

		q->free[q->free_n++] = b;
		b = nx;
		n++;
	}
	if (n)
		atomic_fetch_sub_explicit(&q->returned_n, n, memory_order_relaxed);
}

/* The level other threads read, and its low-water mark (this queue's
 * worker: a store and a compare per allocation burst). */
static void pool_level(struct usn_pport_queue *q)
{
	uint32_t lvl = q->free_n + atomic_load_explicit(&q->returned_n, memory_order_relaxed);

	atomic_store_explicit(&q->bufs_free, q->free_n, memory_order_relaxed);
	usn_pport_bufs_low(q, lvl);
}

/* Up to n single buffers from q's pool. */
static uint32_t pool_get(struct usn_pport_queue *q, struct usn_buf **bufs, uint32_t n)
{
	if (q->free_n < n)
		pool_reclaim(q);
	if (n > q->free_n)
		n = q->free_n;
	for (uint32_t i = 0; i < n; i++) {
		struct usn_buf *b = q->free[--q->free_n];

		buf_reset(b);
		bufs[i] = b;
	}
	pool_level(q);
	return n;
}

/* Frees whole chains on behalf of queue `self`: its own buffers onto its
 * stack, other pools' buffers onto their `returned` lists, one
 * compare-and-swap per pool and call. */
static void pool_put_chains(struct usn_pport *p, uint16_t self, struct usn_buf **frames, uint16_t n)
{
	struct usn_pport_queue *me = p->q[self];
	struct usn_buf *head[USN_PPORT_MAX_QUEUES] = {0}, *tail[USN_PPORT_MAX_QUEUES] = {0};
	uint32_t count[USN_PPORT_MAX_QUEUES];
	bool foreign = false;

	for (uint16_t i = 0; i < n; i++) {
		for (struct usn_buf *b = frames[i], *nx; b; b = nx) {
			uint16_t owner = b->backend_u16;

			nx = b->next;
			if (owner == self || owner >= p->n_queues) {
				/* (an owner out of range cannot happen; keeping
				 * the buffer here loses nothing) */
				me->free[me->free_n++] = b;
				continue;
			}
			if (!head[owner])
				count[owner] = 0;
			b->link = head[owner];
			head[owner] = b;
			if (!tail[owner])
				tail[owner] = b;
			count[owner]++;
			foreign = true;
		}
	}
	atomic_store_explicit(&me->bufs_free, me->free_n, memory_order_relaxed);
	if (!foreign)
		return;
	for (uint16_t o = 0; o < p->n_queues; o++) {
		struct usn_buf *old;

		if (!head[o])
			continue;
		/* Counted first: the owner may take them as soon as they are
		 * pushed, and the count must not go below zero. */
		atomic_fetch_add_explicit(&p->q[o]->returned_n, count[o], memory_order_relaxed);
		old = atomic_load_explicit(&p->q[o]->returned, memory_order_relaxed);
		do {
			tail[o]->link = old;
		} while (!atomic_compare_exchange_weak_explicit(&p->q[o]->returned, &old, head[o],
								memory_order_release, memory_order_relaxed));
	}
}

/* ---- receive ---- */

static struct tpacket_block_desc *block_at(struct usn_pport_queue *q, uint32_t i)
{
	return (struct tpacket_block_desc *)(q->ring + (size_t)i * q->block_size);
}

static void block_release(struct usn_pport_queue *q)
{
	struct tpacket_block_desc *d = block_at(q, q->block);

	__atomic_store_n(&d->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	q->block = (q->block + 1) % q->n_blocks;
	q->reading = false;
}

void usn_pport_ring_flush(struct usn_pport_queue *q)
{
	if (q->v2) {
		uint8_t scratch[1];

		/* In ring order from where the reader is, as the kernel fills
		 * it: the two stay at the same slot. */
		for (uint32_t i = 0; i < q->n_frames; i++) {
			struct tpacket2_hdr *h =
			    (struct tpacket2_hdr *)(q->ring + (size_t)q->frame * q->frame_size);
			uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

			if (!(st & TP_STATUS_USER))
				break;
			if (st & TP_STATUS_COPY)
				(void)recv(q->fd, scratch, sizeof(scratch), MSG_DONTWAIT | MSG_TRUNC);
			__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			q->frame = q->frame + 1 == q->n_frames ? 0 : q->frame + 1;
		}
		return;
	}
	if (q->reading)
		block_release(q);
	for (uint32_t i = 0; i < q->n_blocks; i++) {
		struct tpacket_block_desc *d = block_at(q, q->block);

		if (!(__atomic_load_n(&d->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		block_release(q);
	}
}

/* One frame as a ring slot describes it: `frame` holds snaplen bytes of
 * its wire_len (all of them unless `fetch`), the virtio-net header before
 * them. */
struct rx_desc {
	uint8_t *frame;
	uint32_t snaplen, wire_len, status;
	uint8_t pkttype;
	bool fetch; /* (TPACKET_V2) the whole frame waits on the socket's queue */
};

static void rx_count(struct usn_pport_queue *q, struct usn_buf *head, bool partial, bool sw)
{
	q->st.rx_frames++;
	q->st.rx_bytes += head->frame_len;
	q->st.rx_coalesced += (head->flags & USN_BUF_RX_COALESCED) != 0;
	q->st.rx_csum_partial += partial;
	q->st.rx_csum_sw += sw;
}

/* Takes the frame at the head of the socket's receive queue (a
 * TP_STATUS_COPY slot's) straight into `need` buffers (bufs NULL: throws it
 * away). Returns its length, or 0. */
static uint32_t rx_fetch(struct usn_pport *p, struct usn_pport_queue *q, struct usn_buf **bufs, uint32_t need)
{
	uint8_t vnet[USN_PPORT_VNET_LEN];
	struct msghdr m;
	unsigned k = 0;
	ssize_t n;

	if (p->vnet)
		q->rx_iov[k++] = (struct iovec){.iov_base = vnet, .iov_len = sizeof(vnet)};
	for (uint32_t i = 0; bufs && i < need; i++)
		q->rx_iov[k++] = (struct iovec){.iov_base = bufs[i]->data, .iov_len = USN_PPORT_ROOM};
	memset(&m, 0, sizeof(m));
	m.msg_iov = q->rx_iov;
	m.msg_iovlen = k;
	/* Not a wait: the kernel queued it before it marked the slot. */
	n = recvmsg(q->fd, &m, MSG_DONTWAIT | MSG_TRUNC);
	if (n <= (ssize_t)(p->vnet ? USN_PPORT_VNET_LEN : 0) || (m.msg_flags & MSG_TRUNC))
		return 0;
	return (uint32_t)n - (p->vnet ? USN_PPORT_VNET_LEN : 0);
}

/* One frame out of the ring (or the socket's queue) into buffers of pool
 * `pq`, or NULL (counted). */
static struct usn_buf *rx_frame(struct usn_pport *p, struct usn_pport_queue *q, struct usn_pport_queue *pq,
				const struct rx_desc *d)
{
	struct usn_buf *bufs[65536 / USN_PPORT_ROOM + 2];
	uint32_t len = d->wire_len, need, got, off = 0;
	uint16_t flags, seg;
	bool partial, sw;
	const char *drop = NULL;

	if (d->pkttype == PACKET_OUTGOING) {
		q->st.rx_outgoing++;
		drop = "outgoing";
	} else if (d->status & TP_STATUS_VLAN_VALID) {
		q->st.rx_vlan++;
		drop = "vlan";
	} else if ((d->snaplen < d->wire_len && !d->fetch) || len == 0) {
		q->st.rx_truncated++;
		drop = "truncated";
	} else if (!usn_pport_rx_meta(p->vnet ? d->frame - USN_PPORT_VNET_LEN : NULL, d->status, d->frame,
				      len, !d->fetch, &flags, &seg, &partial, &sw)) {
		q->st.rx_bad_vnet++;
		drop = "header";
	}
	need = (len + USN_PPORT_ROOM - 1) / USN_PPORT_ROOM;
	if (!drop && need > sizeof(bufs) / sizeof(bufs[0])) {
		q->st.rx_truncated++;
		drop = "too long";
	}
	if (!drop) {
		got = pool_get(pq, bufs, need);
		if (got < need) {
			pool_put_chains(p, pq->id, bufs, (uint16_t)got); /* single buffers: chains of one */
			q->st.rx_no_buf++;
			drop = "no buffer";
		}
	}
	if (drop) {
		if (d->fetch)
			(void)rx_fetch(p, q, NULL, 0); /* off the socket's queue too */
		return NULL;
	}
	/* Without virtio-net headers a large frame still arrives whole (the
	 * sender's GSO packet); the segment size is unknown. */
	if (!p->vnet && len > (uint32_t)p->hal.mtu + 18u)
		flags |= USN_BUF_RX_COALESCED;
	if (d->fetch) {
		if (rx_fetch(p, q, bufs, need) != len) {
			pool_put_chains(p, pq->id, bufs, (uint16_t)need);
			q->st.rx_truncated++;
			return NULL;
		}
		q->st.rx_fetched++;
	}
	for (uint32_t i = 0; i < need; i++) {
		uint32_t k = len - off < USN_PPORT_ROOM ? len - off : USN_PPORT_ROOM;

		if (!d->fetch)
			memcpy(bufs[i]->data, d->frame + off, k);
		bufs[i]->len = (uint16_t)k;
		bufs[i]->next = i + 1 < need ? bufs[i + 1] : NULL;
		off += k;
	}
	bufs[0]->frame_len = len;
	bufs[0]->flags = flags;
	bufs[0]->seg_size = seg;
	rx_count(q, bufs[0], partial, sw);
	return bufs[0];
}

/* Up to n frames from q's TPACKET_V2 ring into pool pq's buffers: each
 * slot is the kernel's again as soon as it is read. */
static uint16_t rx_ring_v2(struct usn_pport *p, struct usn_pport_queue *q, struct usn_pport_queue *pq,
			   struct usn_buf **bufs, uint16_t n)
{
	uint16_t got = 0;

	while (got < n) {
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)(q->ring + (size_t)q->frame * q->frame_size);
		uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		const struct sockaddr_ll *sll;

		if (!(st & TP_STATUS_USER))
			break;
		sll = (const struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof(struct tpacket2_hdr)));
		struct rx_desc d = {.frame = (uint8_t *)h + h->tp_mac,
				    .snaplen = h->tp_snaplen,
				    .wire_len = h->tp_len,
				    .status = st,
				    .pkttype = sll->sll_pkttype,
				    .fetch = (st & TP_STATUS_COPY) != 0};
		struct usn_buf *b = rx_frame(p, q, pq, &d);

		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		q->frame = q->frame + 1 == q->n_frames ? 0 : q->frame + 1;
		if (b)
			bufs[got++] = b;
	}
	return got;
}

/* Up to n frames from q's ring into pool pq's buffers. */
static uint16_t rx_ring(struct usn_pport *p, struct usn_pport_queue *q, struct usn_pport_queue *pq,
			struct usn_buf **bufs, uint16_t n)
{
	uint16_t got = 0;

	if (q->v2)
		return rx_ring_v2(p, q, pq, bufs, n);

	while (got < n) {
		struct tpacket3_hdr *h;

		if (!q->reading) {
			struct tpacket_block_desc *d = block_at(q, q->block);

			if (!(__atomic_load_n(&d->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
				break;
			q->reading = true;
			q->pkt = (uint8_t *)d + d->hdr.bh1.offset_to_first_pkt;
			q->pkt_left = d->hdr.bh1.num_pkts;
			q->st.rx_blocks++;
			if (q->pkt_left == 0) {
				block_release(q);
				continue;
			}
		}
		h = (struct tpacket3_hdr *)q->pkt;
		q->pkt += h->tp_next_offset;
		const struct sockaddr_ll *sll =
		    (const struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));
		struct rx_desc d = {.frame = (uint8_t *)h + h->tp_mac,
				    .snaplen = h->tp_snaplen,
				    .wire_len = h->tp_len,
				    .status = h->tp_status,
				    .pkttype = sll->sll_pkttype};
		struct usn_buf *b = rx_frame(p, q, pq, &d);
		if (b)
			bufs[got++] = b;
		/* Every frame copied: the block goes back to the kernel now,
		 * not at the next call. */
		if (--q->pkt_left == 0)
			block_release(q);
	}
	return got;
}

static uint16_t pport_rx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_pport *p = usn_pport_of_hal(hal);
	uint16_t got = 0;

	if (!p->rx_drain_all)
		return rx_ring(p, p->q[queue], p->q[queue], bufs, n);
	if (queue != 0)
		return 0;
	/* PACKET_FANOUT_HASH: worker 0 reads every ring, round robin so that
	 * none starves behind a busy one; the stack steers. */
	for (uint16_t i = 0; i < p->n_queues && got < n; i++) {
		uint16_t r = p->rx_next;

		p->rx_next = (uint16_t)((r + 1u) % p->n_queues);
		got = (uint16_t)(got + rx_ring(p, p->q[r], p->q[0], bufs + got, (uint16_t)(n - got)));
	}
	return got;
}

/* Waits up to max_us for the kernel to hand queue `queue` frames: poll()
 * on its socket, which the kernel wakes when it retires a TPACKET_V3 block
 * (or fills a V2 slot), and which returns at once if one is already
 * waiting. With PACKET_FANOUT_HASH worker 0 waits on every socket, and the
 * others, whose frames reach them through worker 0, only sleep. One system
 * call per idle round, none while frames come. */
static void pport_rx_wait(struct usn_hal *hal, uint16_t queue, uint32_t max_us)
{
	struct usn_pport *p = usn_pport_of_hal(hal);
	struct pollfd fds[USN_PPORT_MAX_QUEUES];
	struct timespec ts = {.tv_sec = (time_t)(max_us / 1000000u), .tv_nsec = (long)(max_us % 1000000u) * 1000L};
	nfds_t n = 0;

	if (max_us == 0)
		return;
	if (!p->rx_drain_all)
		fds[n++] = (struct pollfd){.fd = p->q[queue]->fd, .events = POLLIN};
	else if (queue == 0)
		for (uint16_t i = 0; i < p->n_queues; i++)
			fds[n++] = (struct pollfd){.fd = p->q[i]->fd, .events = POLLIN};
	p->q[queue]->st.rx_waits++;
	(void)ppoll(n ? fds : NULL, n, &ts, NULL);
}

/* ---- transmit ---- */

/* Stages frame f as message m: the virtio-net header (if any), then its
 * buffers. false if it has too many buffers. */
static bool tx_stage(struct usn_pport *p, struct usn_pport_queue *q, unsigned m, struct usn_buf *f)
{
	struct iovec *iov = q->iov[m];
	unsigned k = 0;

	if (p->vnet) {
		usn_pport_tx_vnet(f, q->vnet[m]);
		iov[k++] = (struct iovec){.iov_base = q->vnet[m], .iov_len = USN_PPORT_VNET_LEN};
	}
	for (struct usn_buf *b = f; b; b = b->next) {
		if (k == USN_PPORT_MAX_IOV)
			return false;
		if (b->len)
			iov[k++] = (struct iovec){.iov_base = b->data, .iov_len = b->len};
	}
	memset(&q->msgs[m], 0, sizeof(q->msgs[m]));
	q->msgs[m].msg_hdr.msg_iov = iov;
	q->msgs[m].msg_hdr.msg_iovlen = k;
	return true;
}

static uint16_t pport_tx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_pport *p = usn_pport_of_hal(hal);
	struct usn_pport_queue *q = p->q[queue];
	uint16_t done = 0;

	while (done < n) {
		unsigned m = 0;
		int k;

		while (m < USN_PPORT_TX_BATCH && done + m < n) {
			if (tx_stage(p, q, m, bufs[done + m])) {
				m++;
				continue;
			}
			/* Cannot be handed over: taken and dropped here, or
			 * it would block the queue for good. Only at the
			 * front of the batch, so the order stays. */
			if (m > 0)
				break;
			q->st.tx_too_long++;
			pool_put_chains(p, queue, &bufs[done], 1);
			done++;
		}
		if (m == 0)
			continue;
		k = sendmmsg(q->fd, q->msgs, m, MSG_DONTWAIT);
		q->st.tx_calls++;
		if (k < 0) {
			if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
				/* The socket's send buffer or the device is
				 * full: the rest waits for the next round. */
				q->st.tx_busy++;
				break;
			}
			/* The kernel refused the first frame (malformed):
			 * drop it, go on with the others. */
			q->st.tx_errors++;
			pool_put_chains(p, queue, &bufs[done], 1);
			done++;
			continue;
		}
		for (int i = 0; i < k; i++) {
			struct usn_buf *f = bufs[done + (unsigned)i];

			q->st.tx_frames++;
			q->st.tx_bytes += f->frame_len;
			q->st.tx_tso += q->vnet[i][1] != 0 && p->vnet;
		}
		pool_put_chains(p, queue, &bufs[done], (uint16_t)k);
		done = (uint16_t)(done + k);
		if ((unsigned)k < m) {
			/* Stopped short: the next call reports why (a full
			 * buffer, or a bad frame dropped above). */
			continue;
		}
	}
	return done;
}

/* ---- buffers, clock ---- */

static uint16_t pport_alloc_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct usn_pport *p = usn_pport_of_hal(hal);

	return (uint16_t)pool_get(p->q[queue], bufs, n);
}

static void pport_free_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	pool_put_chains(usn_pport_of_hal(hal), queue, bufs, n);
}

/* Nanoseconds of CLOCK_MONOTONIC (the vDSO: no system call). */
static uint64_t pport_clock(struct usn_hal *hal)
{
	struct timespec ts;

	(void)hal;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int usn_pport_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
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

static int pport_random(struct usn_hal *hal, void *buf, size_t len)
{
	(void)hal;
	return usn_pport_random(buf, len);
}

/* A group address joined on the interface (PACKET_ADD_MEMBERSHIP): a NIC
 * filtering by address then passes it up; the membership lasts as long as
 * the socket. */
static int pport_mcast_add(struct usn_hal *hal, const uint8_t mac[6])
{
	struct usn_pport *p = usn_pport_of_hal(hal);
	struct packet_mreq mr;

	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = p->ifindex;
	mr.mr_type = PACKET_MR_MULTICAST;
	mr.mr_alen = 6;
	memcpy(mr.mr_address, mac, 6);
	if (setsockopt(p->q[0]->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0)
		return -errno;
	return 0;
}

const struct usn_hal_ops usn_pport_hal_ops = {
    .rx_burst = pport_rx_burst,
    .tx_burst = pport_tx_burst,
    .alloc_bulk = pport_alloc_bulk,
    .free_bulk = pport_free_bulk,
    .clock_cycles = pport_clock,
    .mem_alloc = NULL,
    .mem_free = NULL,
    .random = pport_random,
    .rx_wait = pport_rx_wait,
    .mcast_add = pport_mcast_add,
};
