/* libusnet worker loop (lib/core): the poll round (clock, RX burst, software
 * RSS, protocol input, timers, TX flush), the buffer cache, the TX batch,
 * inter-worker messages and the statistics seqlock. */
#define _POSIX_C_SOURCE 200809L

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/worker.h"
#include "wire/wire.h"

/* Statistics are published at most this often while busy (worker time). */
#define USN_PUB_INTERVAL_US 1000u
/* Messages taken from each inbound ring per round, so a busy peer cannot
 * starve this worker's own queue. */
#define USN_INBOX_BURST 128u

/* ---- buffers ---- */

/* Refills the cache from the pool, half its size at a time: the other
 * half is room for bursts of frees to come back without a call either. */
static void usn_worker_cache_refill(struct usn_worker *w)
{
	uint32_t want = w->cache_cap / 2 ? w->cache_cap / 2 : w->cache_cap;
	if (want > w->cache_cap - w->cache_n)
		want = w->cache_cap - w->cache_n;
	if (want > UINT16_MAX)
		want = UINT16_MAX;
	if (want == 0)
		return;
	usn_prof_enter(w, USN_PROF_DRIVER);
	w->cache_n += w->hal->ops->alloc_bulk(w->hal, w->id, w->cache + w->cache_n, (uint16_t)want);
	usn_prof_leave(w);
}

/* A buffer from the cache, leaving it at least `keep`. */
static struct usn_buf *usn_worker_buf_take(struct usn_worker *w, uint32_t keep)
{
	if (w->cache_n <= keep) {
		usn_worker_cache_refill(w);
		if (w->cache_n <= keep) {
			w->stats.drop_no_buf++;
			return NULL;
		}
	}
	struct usn_buf *b = w->cache[--w->cache_n];
	b->next = NULL;
	b->link = NULL;
	b->len = 0;
	b->frame_len = 0;
	b->flags = 0;
	b->l2_len = 0;
	b->l3_len = 0;
	b->l4_len = 0;
	b->seg_size = 0;
	b->stack_u64 = 0;
	return b;
}

struct usn_buf *usn_worker_buf_alloc(struct usn_worker *w)
{
	return usn_worker_buf_take(w, w->cache_reserve);
}

struct usn_buf *usn_worker_buf_alloc_ctl(struct usn_worker *w)
{
	return usn_worker_buf_take(w, 0);
}

void usn_worker_buf_free(struct usn_worker *w, struct usn_buf *frame)
{
	if (!frame)
		return;
	if (w->to_free_n == USN_FREE_BATCH) {
		usn_prof_enter(w, USN_PROF_DRIVER);
		w->hal->ops->free_bulk(w->hal, w->id, w->to_free, w->to_free_n);
		usn_prof_leave(w);
		w->to_free_n = 0;
	}
	w->to_free[w->to_free_n++] = frame;
}

static void usn_worker_free_flush(struct usn_worker *w)
{
	if (w->to_free_n) {
		usn_prof_enter(w, USN_PROF_DRIVER);
		w->hal->ops->free_bulk(w->hal, w->id, w->to_free, w->to_free_n);
		usn_prof_leave(w);
		w->to_free_n = 0;
	}
}

/* ---- transmission ---- */

void usn_worker_tx(struct usn_worker *w, struct usn_buf *frame)
{
	if (w->tx_n == USN_TX_BATCH) {
		usn_worker_flush(w);
		if (w->tx_n == USN_TX_BATCH) {
			/* The port refused the whole batch again: this frame is
			 * the one lost (TCP retransmits it). Senders that check
			 * usn_worker_tx_room() never get here. */
			w->stats.tx_full++;
			usn_worker_buf_free(w, frame);
			return;
		}
	}
	w->tx[w->tx_n++] = frame;
}

void usn_worker_flush(struct usn_worker *w)
{
	uint16_t n = w->tx_n;
	if (n == 0)
		return;
	/* Lengths are read before the burst: what the port takes is no longer ours. */
	uint32_t lens[USN_TX_BATCH];
	for (uint16_t i = 0; i < n; i++)
		lens[i] = w->tx[i]->frame_len;
	usn_prof_enter(w, USN_PROF_DRIVER);
	uint16_t sent = w->hal->ops->tx_burst(w->hal, w->id, w->tx, n);
	usn_prof_leave(w);
	if (sent > n)
		sent = n;
	for (uint16_t i = 0; i < sent; i++)
		w->stats.tx_bytes += lens[i];
	w->stats.tx_frames += sent;
	/* The port's ring is full: keep the rest, in order, for the next
	 * round. Dropping them turned every full ring into losses and
	 * retransmission timeouts for the initial windows of many new
	 * connections at once (memif, AF_XDP on veth). */
	if (sent < n)
		memmove(&w->tx[0], &w->tx[sent], (size_t)(n - sent) * sizeof(w->tx[0]));
	w->tx_n = (uint16_t)(n - sent);
}

uint16_t usn_worker_tx_room(const struct usn_worker *w)
{
	return (uint16_t)(USN_TX_BATCH - w->tx_n);
}

bool usn_worker_tx_make_room(struct usn_worker *w)
{
	if (usn_worker_tx_room(w))
		return true;
	usn_worker_flush(w);
	return usn_worker_tx_room(w) != 0;
}

/* ---- inter-worker messages ---- */

bool usn_worker_post(struct usn_worker *w, uint16_t dst, const struct usn_msg *m)
{
	struct usn_stack *s = w->stack;
	if (dst >= s->n_workers || dst == w->id)
		return false;
	struct usn_worker *d = s->workers[dst];
	if (!d->inbox || !d->inbox[w->id])
		return false;
	return usn_ring_push(d->inbox[w->id], m);
}

/* Steered frames go to the protocol layers in bursts, as received ones do. */
static void usn_worker_input_steered(struct usn_worker *w, struct usn_buf **frames, uint16_t *n)
{
	if (*n == 0)
		return;
	usn_prof_enter(w, USN_PROF_NET);
	usn_net_input_burst(w, frames, *n);
	usn_prof_leave(w);
	*n = 0;
}

static unsigned usn_worker_drain_inbox(struct usn_worker *w)
{
	unsigned handled = 0;
	struct usn_buf *frames[USN_RX_BURST];
	uint16_t n = 0;
	if (!w->inbox)
		return 0;
	for (uint16_t i = 0; i < w->stack->n_workers; i++) {
		struct usn_ring *r = w->inbox[i];
		struct usn_msg m;
		for (unsigned k = 0; r && k < USN_INBOX_BURST && usn_ring_pop(r, &m); k++) {
			handled++;
			switch ((enum usn_msg_type)m.type) {
			case USN_MSG_FRAME:
				w->stats.steer_rx++;
				frames[n++] = m.ptr;
				if (n == USN_RX_BURST)
					usn_worker_input_steered(w, frames, &n);
				break;
			case USN_MSG_ARP:
				usn_worker_input_steered(w, frames, &n); /* in order */
				usn_arp_learn_msg(w, m.ip, m.mac);
				break;
			}
		}
		usn_worker_input_steered(w, frames, &n);
	}
	return handled;
}

/* ---- statistics ---- */

/* Seqlock writer: the counter is odd while the copy is being written. */
static void usn_worker_publish(struct usn_worker *w)
{
	uint32_t seq = atomic_load_explicit(&w->pub_seq, memory_order_relaxed);
	atomic_store_explicit(&w->pub_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(&w->pub, &w->stats, sizeof(w->pub));
	atomic_store_explicit(&w->pub_seq, seq + 2, memory_order_release);
	w->pub_last_us = w->now_us;
}

void usn_worker_stats_snapshot(const struct usn_worker *w, struct usn_stats *out)
{
	struct usn_worker *mw = (struct usn_worker *)(uintptr_t)w; /* atomics take non-const */
	for (;;) {
		uint32_t s1 = atomic_load_explicit(&mw->pub_seq, memory_order_acquire);
		if (s1 & 1u)
			continue;
		memcpy(out, &w->pub, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		uint32_t s2 = atomic_load_explicit(&mw->pub_seq, memory_order_relaxed);
		if (s1 == s2)
			return;
	}
}

const struct usn_stats *usn_worker_stats(const struct usn_worker *w)
{
	return &w->stats;
}

/* ---- accessors ---- */

uint16_t usn_worker_id(const struct usn_worker *w)
{
	return w->id;
}

struct usn_stack *usn_worker_stack(struct usn_worker *w)
{
	return w->stack;
}

void usn_worker_set_user(struct usn_worker *w, void *user)
{
	w->user = user;
}

void *usn_worker_user(const struct usn_worker *w)
{
	return w->user;
}

uint64_t usn_worker_now_us(const struct usn_worker *w)
{
	return w->now_us;
}

uint64_t usn_worker_next_deadline_us(const struct usn_worker *w)
{
	return usn_wheel_next_us(&w->wheel);
}

/* ---- the poll round ---- */

static void usn_worker_read_clock(struct usn_worker *w)
{
	uint64_t c = w->hal->ops->clock_cycles(w->hal);
	uint64_t hz = w->hal->cycles_per_sec ? w->hal->cycles_per_sec : 1;
	w->now_cycles = c;
	w->now_us = (c / hz) * 1000000u + (c % hz) * 1000000u / hz;
}

void usn_worker_start(struct usn_worker *w)
{
	usn_worker_read_clock(w);
	if (w->id == 0)
		usn_arp_announce(w);
	usn_worker_flush(w);
	usn_worker_free_flush(w);
	usn_worker_publish(w);
}

/* Software RSS (worker 0 on a port without RSS): the worker an IPv4/TCP
 * frame belongs to, by usn_stack_flow_worker, as active open chooses; 0
 * for everything else (ARP, ICMP, malformed frames stay with worker 0).
 * A hash the port may have reported is not that function, so it is not
 * used. */
static uint16_t usn_worker_steer_target(const struct usn_worker *w, struct usn_buf *b)
{
	uint8_t scratch[USN_IPV4_HDR_LEN + 4 + 4];
	struct usn_cursor c = usn_cursor_of_frame(b);
	const uint8_t *p = usn_cursor_read_with(c, USN_ETH_HDR_LEN, scratch);
	if (!p)
		return 0;
	uint16_t type = usn_load_be16(p + 12);
	uint32_t l2 = USN_ETH_HDR_LEN;
	if (type == USN_ETHERTYPE_VLAN) {
		p = usn_cursor_read_with(c, USN_ETH_HDR_LEN + 4, scratch);
		if (!p)
			return 0;
		type = usn_load_be16(p + 16);
		l2 += 4;
	}
	if (type != USN_ETHERTYPE_IPV4)
		return 0;
	struct usn_cursor l3 = usn_cursor_drop(c, l2);
	const uint8_t *ip = usn_cursor_read_with(l3, USN_IPV4_HDR_LEN, scratch);
	if (!ip || (ip[0] >> 4) != 4 || ip[9] != USN_IPPROTO_TCP)
		return 0;
	uint32_t ihl = (uint32_t)(ip[0] & 15u) * 4u;
	if (usn_load_be16(ip + 6) & (USN_IPV4_MF | USN_IPV4_OFFMASK))
		return 0; /* fragments are dropped by worker 0's IPv4 input */
	uint32_t src = usn_load_be32(ip + 12), dst = usn_load_be32(ip + 16);
	const uint8_t *ports = usn_cursor_read_with(usn_cursor_drop(l3, ihl), 4, scratch);
	if (ihl < USN_IPV4_HDR_LEN || !ports)
		return 0;
	return usn_stack_flow_worker(w->stack, src, usn_load_be16(ports), dst, usn_load_be16(ports + 2));
}

unsigned usn_worker_poll(struct usn_worker *w)
{
	struct usn_buf *rx[USN_RX_BURST];

#ifdef USN_PROFILE
	usn_prof_round_begin(&w->prof, w->hal);
#endif
	usn_worker_read_clock(w);
	usn_prof_enter(w, USN_PROF_DRIVER);
	uint16_t n = w->hal->ops->rx_burst(w->hal, w->id, rx, USN_RX_BURST);
	usn_prof_leave(w);
	if (n > USN_RX_BURST)
		n = USN_RX_BURST;
	if (n) {
		w->stats.rx_bursts++;
		w->stats.rx_frames += n;
	}
	bool steer = w->stack->software_rss && w->id == 0;
	uint16_t mine = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct usn_buf *b = rx[i];
		if (i + 1 < n)
			__builtin_prefetch(rx[i + 1]->data);
		w->stats.rx_bytes += b->frame_len;
		if (steer) {
			uint16_t dst = usn_worker_steer_target(w, b);
			if (dst != 0) {
				struct usn_msg m = {.type = USN_MSG_FRAME, .ptr = b};
				if (usn_worker_post(w, dst, &m)) {
					w->stats.steer_tx++;
				} else {
					w->stats.drop_steer_full++;
					usn_worker_buf_free(w, b);
				}
				continue;
			}
		}
		rx[mine++] = b;
	}
	/* The protocol layers take the burst whole (GRO merges across it). */
	if (mine) {
		usn_prof_enter(w, USN_PROF_NET);
		usn_net_input_burst(w, rx, mine);
		usn_prof_leave(w);
	}
	unsigned msgs = usn_worker_drain_inbox(w);
	usn_prof_enter(w, USN_PROF_TIMERS);
	unsigned fired = usn_wheel_advance(&w->wheel, w->now_us, w);
	usn_prof_leave(w);
	w->stats.timers_fired += fired;
	usn_prof_enter(w, USN_PROF_TCP_OUT);
	usn_tcp_worker_flush(w);
	usn_prof_leave(w);
	usn_worker_flush(w);
	usn_worker_free_flush(w);

	bool idle = n == 0 && msgs == 0;
	if (idle)
		w->stats.idle_polls++;
	if (idle || w->now_us - w->pub_last_us >= USN_PUB_INTERVAL_US)
		usn_worker_publish(w);
#ifdef USN_PROFILE
	/* Idle for the profile: no work at all, timers included. */
	usn_prof_round_end(&w->prof, w->hal, idle && fired == 0);
#endif
	return n + msgs;
}

void usn_worker_run(struct usn_worker *w, const volatile int *stop)
{
	uint32_t max_us = w->stack->cfg.idle_backoff_us;
	uint32_t backoff_us = 0;
#ifdef USN_PROFILE
	w->prof.in_run = true;
#endif
	while (!*stop) {
		if (usn_worker_poll(w) != 0 || max_us == 0) {
			backoff_us = 0;
			continue;
		}
		/* Idle: sleep, doubling up to the configured ceiling, but never
		 * past the next timer. Not the per-packet path: nothing arrived.
		 * A port that can wait for its frames is woken by them, so it
		 * waits the whole ceiling at once. */
		backoff_us = backoff_us ? backoff_us * 2 : 1;
		if (backoff_us > max_us || w->hal->ops->rx_wait)
			backoff_us = max_us;
		uint64_t sleep_us = backoff_us;
		uint64_t next = usn_worker_next_deadline_us(w);
		if (next != UINT64_MAX) {
			if (next <= w->now_us)
				continue;
			if (next - w->now_us < sleep_us)
				sleep_us = next - w->now_us;
		}
		if (w->hal->ops->rx_wait) {
			w->hal->ops->rx_wait(w->hal, w->id, (uint32_t)sleep_us);
			continue;
		}
		struct timespec ts = {.tv_sec = (time_t)(sleep_us / 1000000u),
				      .tv_nsec = (long)(sleep_us % 1000000u) * 1000L};
		nanosleep(&ts, NULL);
	}
#ifdef USN_PROFILE
	w->prof.in_run = false;
#endif
}
