/* libusnet worker ground floor (lib/core): the buffer cache, the TX batch,
 * inter-worker messages, start-up memory and the clock. The poll round
 * that drives them is the stack layer's (lib/stack/worker.c). */
#include <stdlib.h>
#include <string.h>

#include "core/worker.h"

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

void usn_worker_free_flush(struct usn_worker *w)
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

bool usn_worker_tx_flush_room(struct usn_worker *w)
{
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

/* ---- memory ---- */

void *usn_queue_mem_alloc(struct usn_hal *hal, uint16_t q, size_t size)
{
	void *p = hal->ops->mem_alloc ? hal->ops->mem_alloc(hal, q, size) : malloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void usn_queue_mem_free(struct usn_hal *hal, uint16_t q, void *p, size_t size)
{
	if (!p)
		return;
	if (hal->ops->mem_free)
		hal->ops->mem_free(hal, q, p, size);
	else if (!hal->ops->mem_alloc)
		free(p);
}

void *usn_worker_mem_alloc(struct usn_worker *w, size_t size)
{
	return usn_queue_mem_alloc(w->hal, w->id, size);
}

void usn_worker_mem_free(struct usn_worker *w, void *p, size_t size)
{
	usn_queue_mem_free(w->hal, w->id, p, size);
}

/* ---- clock ---- */

uint64_t usn_hal_clock_us(struct usn_hal *hal, uint64_t *cycles)
{
	uint64_t c = hal->ops->clock_cycles(hal);
	uint64_t hz = hal->cycles_per_sec ? hal->cycles_per_sec : 1;
	if (cycles)
		*cycles = c;
	return (c / hz) * 1000000u + (c % hz) * 1000000u / hz;
}

void usn_worker_read_clock(struct usn_worker *w)
{
	w->now_us = usn_hal_clock_us(w->hal, &w->now_cycles);
}
