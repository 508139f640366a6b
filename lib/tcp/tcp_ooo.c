/* libusnet TCP out-of-order queue (lib/tcp): the peer's data that arrived
 * ahead of RCV.NXT, kept in frame buffers (packed when small) within a
 * per-connection and a per-worker bound, until the gap before it fills. */
#include <string.h>

#include "tcp/tcp_int.h"

/* ---- out-of-order queue (struct usn_tcp_ooo_rec, tcp_int.h) ----
 *
 * Every queued byte sits in a frame buffer, and frame buffers are what the
 * port receives and sends with. When each segment kept its whole frame, a
 * few hundred peers sending scattered 1-byte segments pinned one buffer per
 * byte and drained the pool: the worker could then neither receive nor
 * answer anything. So a queued segment costs buffers in proportion to its
 * bytes:
 * - a small one (its record at most half a buffer) is copied into the
 *   connection's pack buffer, after the records already there; a new pack
 *   buffer is begun only for a record the current one cannot take, so
 *   every pack buffer but the newest is more than half full (records,
 *   their 32-byte headers included);
 * - a large one keeps the frame it came in, which then holds more than
 *   half a buffer of payload.
 * And all the queues of a worker together hold at most tcp_ooo_max_bufs
 * buffers (a share of the port's, sized at start).
 *
 * Over that budget the newest arrival is dropped and counted
 * (drop_tcp_ooo_budget), as Linux drops a segment it cannot charge to
 * tcp_mem. Linux also prunes a connection's own queue from its highest
 * sequence number down (tcp_prune_ofo_queue) when that connection exceeds
 * its receive buffer; here the per-connection bounds are the window and
 * tcp_ooo_max_segs, past which the newest is dropped too. Pruning other
 * connections' queues to make room was rejected: the arrival rate is the
 * attacker's to choose, so evicting queued data on arrival would let one
 * peer keep flushing every legitimate connection's reassembly queue, a
 * retransmission for each of their losses, for as long as it sends;
 * refusing the newest instead costs only the segments that arrive out of
 * order while the budget is full, in-order data never needs the budget,
 * and the sender still holds what we refused (RFC 2018 8: SACKed data is
 * not acknowledged until it is cumulatively ACKed). */

#define OOO_REC_SIZE ((uint32_t)sizeof(struct usn_tcp_ooo_rec))

static inline uint8_t *ooo_align(uint8_t *p)
{
	return (uint8_t *)(((uintptr_t)p + 7u) & ~(uintptr_t)7u);
}

/* Offset of the cursor's first byte from the start of its frame. */
static uint32_t frame_offset(const struct usn_buf *frame, struct usn_cursor c)
{
	uint32_t off = 0;
	for (const struct usn_buf *b = frame; b && b != c.buf; b = b->next)
		off += b->len;
	return off + c.off;
}

/* Gives back what a record holds: its frame, or its share of a pack buffer
 * (freed with its last record). r itself is gone afterwards. */
void usn_tcp_ooo_release(struct usn_tcp_conn *c, struct usn_tcp_ooo_rec *r)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	struct usn_buf *b = r->buf;
	if (r->nbufs) {
		t->ooo_bufs -= r->nbufs;
		usn_worker_buf_free(c->w, b);
		return;
	}
	if (--b->stack_u64 != 0)
		return;
	if (c->ooo_pack == b)
		c->ooo_pack = NULL;
	t->ooo_bufs--;
	usn_worker_buf_free(c->w, b);
}

static void ooo_unlink_free(struct usn_tcp_conn *c, struct usn_tcp_ooo_rec **pp)
{
	struct usn_tcp_ooo_rec *q = *pp;
	*pp = q->next;
	c->ooo_n--;
	c->ooo_bytes -= q->len;
	usn_tcp_ooo_release(c, q);
}

/* A record holding the len bytes at `data` of the segment in *frame:
 * packed, or in the frame (which the queue then owns: *frame becomes NULL). NULL when the worker's budget is
 * spent (drop_tcp_ooo_budget) or no buffer is free (drop_no_buf). */
static struct usn_tcp_ooo_rec *ooo_store(struct usn_tcp_conn *c, struct usn_buf **frame, uint32_t len,
					 struct usn_cursor data)
{
	struct usn_worker *w = c->w;
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	struct usn_tcp_ooo_rec *r;
	if (OOO_REC_SIZE + len + 7u <= w->hal->buf_size / 2u) {
		struct usn_buf *p = c->ooo_pack;
		uint8_t *at = p ? ooo_align(p->data + p->len) : NULL;
		if (!p || (size_t)(at - p->data) + OOO_REC_SIZE + len > p->room) {
			if (t->ooo_bufs >= t->ooo_max_bufs) {
				w->stats.drop_tcp_ooo_budget++;
				return NULL;
			}
			p = usn_worker_buf_alloc(w);
			if (!p)
				return NULL;
			at = ooo_align(p->data);
			if ((size_t)(at - p->data) + OOO_REC_SIZE + len > p->room) {
				w->stats.drop_no_buf++; /* a buffer smaller than the port said */
				usn_worker_buf_free(w, p);
				return NULL;
			}
			t->ooo_bufs++;
			p->stack_u64 = 0;
			c->ooo_pack = p;
		}
		r = (struct usn_tcp_ooo_rec *)(void *)at;
		usn_cursor_read(data, r + 1, len);
		p->len = (uint16_t)((size_t)(at - p->data) + OOO_REC_SIZE + len);
		p->frame_len = p->len;
		p->stack_u64++;
		r->buf = p;
		r->nbufs = 0;
		r->off = 0;
		r->skip = 0;
		return r;
	}
	/* Keep the frame; the record goes over its Ethernet header (an IPv4
	 * segment has at least 54 bytes of headers before its payload). */
	struct usn_buf *f = *frame;
	uint32_t off = frame_offset(f, data);
	uint8_t *at = ooo_align(f->data);
	size_t head = (size_t)(at - f->data) + OOO_REC_SIZE;
	if (off > 0xffff || head > off || head > f->len) {
		w->stats.drop_tcp_ooo_full++; /* no room for the record: not an IPv4 frame we know */
		return NULL;
	}
	uint32_t n = 0;
	for (const struct usn_buf *b = f; b; b = b->next)
		n++;
	if (t->ooo_bufs + n > t->ooo_max_bufs) {
		w->stats.drop_tcp_ooo_budget++;
		return NULL;
	}
	*frame = NULL;
	t->ooo_bufs += n;
	r = (struct usn_tcp_ooo_rec *)(void *)at;
	r->buf = f;
	r->nbufs = (uint16_t)n;
	r->off = (uint16_t)off;
	r->skip = 0;
	return r;
}

void usn_tcp_ooo_insert(struct usn_tcp_conn *c, struct usn_buf **frame, uint32_t seq, uint32_t len, bool fin,
			struct usn_cursor data)
{
	struct usn_worker *w = c->w;
	uint32_t cap = usn_tcp_tw(w)->cfg->tcp_ooo_max_segs;
	if (len > 0xffff)
		return; /* an IPv4 segment carries less */
	uint32_t e = seq + len;
	struct usn_tcp_ooo_rec **pp = &c->ooo;
	while (*pp && SEQ_LEQ((*pp)->seq + (*pp)->len, seq) && !((*pp)->len == 0 && (*pp)->seq == seq))
		pp = &(*pp)->next;
	/* trim the front against a record that starts at or before us */
	if (*pp && SEQ_LEQ((*pp)->seq, seq)) {
		uint32_t qe = (*pp)->seq + (*pp)->len;
		if (SEQ_GEQ(qe, e) && (!fin || (*pp)->fin))
			return; /* nothing new */
		if (SEQ_GT(qe, seq)) {
			uint32_t d = qe - seq;
			if (d > len)
				d = len;
			seq += d;
			data = usn_cursor_drop(data, d);
			len -= d;
		}
		pp = &(*pp)->next;
	}
	/* drop queued records we cover entirely */
	while (*pp && SEQ_GEQ((*pp)->seq, seq) && SEQ_LEQ((*pp)->seq + (*pp)->len, e) && !((*pp)->fin && !fin))
		ooo_unlink_free(c, pp);
	/* trim the tail against the next one */
	if (*pp && SEQ_LT((*pp)->seq, e)) {
		len = (*pp)->seq - seq;
		data = usn_cursor_take(data, len);
		fin = false;
	}
	if (len == 0 && !fin)
		return;
	if (c->ooo_n >= cap) {
		w->stats.drop_tcp_ooo_full++;
		return;
	}
	struct usn_tcp_ooo_rec *r = ooo_store(c, frame, len, data);
	if (!r)
		return;
	r->seq = seq;
	r->len = (uint16_t)len;
	r->fin = fin;
	r->next = *pp;
	*pp = r;
	c->ooo_n++;
	c->ooo_bytes += len;
	c->ooo_last = seq;
	w->stats.tcp_ooo_segs++;
}

void usn_tcp_ooo_free(struct usn_tcp_conn *c)
{
	while (c->ooo)
		ooo_unlink_free(c, &c->ooo);
	c->ooo_bytes = 0;
	c->ooo_n = 0;
	c->ooo_pack = NULL; /* a record still to be told (tcp_event.c) frees it with itself */
}
