/* libusnet TCP output: builds segments straight from the send descriptors
 * (reference or writer) into frame buffers, chained when the payload
 * exceeds a buffer, with the checksum from prefix tables, software or the
 * port; decides what the send and congestion windows allow (RFC 9293 3.8,
 * RFC 5681). No allocation here beyond frame buffers from the worker cache. */
#include <errno.h>
#include <string.h>

#include "net/net.h"
#include "tcp/tcp_int.h"

uint32_t usn_tcp_rcv_window(struct usn_tcp_conn *c)
{
	const struct usn_stack_config *cfg = usn_tcp_tw(c->w)->cfg;
	uint32_t W = cfg->tcp_rcv_wnd;
	uint32_t maxw = (c->flags & USN_TF_WSCALE) ? (65535u << c->rcv_wscale) : 65535u;
	if (W > maxw)
		W = maxw;
	/* What occupies the buffer: out-of-order data, and what the
	 * application said it holds (usn_tcp_recv_hold; by default it consumes
	 * in recv_fn). RFC 9293 3.8.6.2.2: the right edge never moves left. */
	uint32_t used = c->ooo_bytes + c->rcv_held;
	uint32_t wnd = W > used ? W - used : 0;
	if (SEQ_LT(c->rcv_nxt + wnd, c->rcv_adv))
		wnd = c->rcv_adv - c->rcv_nxt;
	/* Round up to the scale unit so the advertised edge is what we accept. */
	uint32_t unit = (1u << c->rcv_wscale) - 1;
	wnd = (wnd + unit) & ~unit;
	if (wnd > maxw)
		wnd = maxw & ~unit;
	return wnd;
}

/* Where queued data byte `seq` lives: descriptor index and offset in it. */
static struct usn_tcp_sdesc *sq_find(struct usn_tcp_conn *c, uint32_t seq, uint32_t *doff)
{
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	uint32_t data_una = (c->state == USN_TCP_SYN_SENT || c->state == USN_TCP_SYN_RECEIVED) ? c->iss + 1 : c->snd_una;
	uint32_t idx, dseq;
	if (c->sq_cache_idx != USN_TCP_NIL && SEQ_LEQ(c->sq_cache_seq, seq)) {
		idx = c->sq_cache_idx;
		dseq = c->sq_cache_seq;
	} else {
		idx = c->sq_head;
		dseq = data_una - c->sq_head_off;
	}
	while (idx != USN_TCP_NIL) {
		struct usn_tcp_sdesc *d = usn_pool_at(&t->sds, idx);
		if (SEQ_LT(seq, dseq + d->len)) {
			c->sq_cache_idx = idx;
			c->sq_cache_seq = dseq;
			*doff = seq - dseq;
			return d;
		}
		dseq += d->len;
		idx = d->next;
	}
	return NULL;
}

/* Copies len queued bytes from seq into dst; returns their partial sum as
 * if the first byte sat at an even offset (0 when not needed). */
static uint32_t write_payload(struct usn_tcp_conn *c, uint32_t seq, uint32_t len, struct usn_cursor dst, bool want_sum)
{
	uint32_t sum = 0, pos = 0;
	while (pos < len) {
		uint32_t doff;
		struct usn_tcp_sdesc *d = sq_find(c, seq + pos, &doff);
		if (!d)
			break; /* cannot happen: callers stay within sq_bytes */
		uint32_t n = d->len - doff;
		if (n > len - pos)
			n = len - pos;
		struct usn_cursor piece = usn_cursor_take(usn_cursor_drop(dst, pos), n);
		uint32_t s = 0;
		usn_prof_enter(c->w, USN_PROF_COPY);
		if (d->kind == USN_SD_REF)
			usn_cursor_write(piece, d->u.ref.data + doff, n);
		else
			d->u.wr.fn(d->u.wr.arg, doff, n, piece);
		usn_prof_leave(c->w);
		usn_prof_enter(c->w, USN_PROF_CSUM);
		if (want_sum && d->kind == USN_SD_REF)
			s = d->u.ref.csum ? usn_csum_table_range(d->u.ref.csum, doff, n)
					  : usn_csum_partial(d->u.ref.data + doff, n, 0);
		else if (want_sum)
			s = usn_cursor_csum(piece);
		usn_prof_leave(c->w);
		if (want_sum)
			sum = usn_csum_add(sum, (pos & 1) ? usn_csum_swap(s) : s);
		pos += n;
	}
	return sum;
}

/* Our SACK blocks from the OOO queue (RFC 2018 4): the block holding the
 * latest arrival first, then the others from the highest down. Records
 * that touch make one block. However many blocks the queue holds (a peer
 * may scatter 64 one-byte segments), the latest arrival's is found: kept
 * aside as the walk passes it, with a ring of the highest others. */
static uint8_t sack_blocks(struct usn_tcp_conn *c, struct usn_tcp_sack_block *out, uint8_t max)
{
	struct usn_tcp_sack_block cur = {0, 0}, ring[USN_TCP_MAX_SACK];
	bool have_cur = false, have_first = false;
	unsigned n_ring = 0;
	if (max > USN_TCP_MAX_SACK)
		max = USN_TCP_MAX_SACK;
	if (max == 0)
		return 0;
	for (const struct usn_tcp_ooo_rec *q = c->ooo;; q = q->next) {
		if (q && have_cur && cur.right == q->seq) {
			cur.right = q->seq + q->len;
			continue;
		}
		if (have_cur && cur.left != cur.right) {
			if (!have_first && SEQ_LEQ(cur.left, c->ooo_last) && SEQ_LT(c->ooo_last, cur.right)) {
				out[0] = cur;
				have_first = true;
			} else {
				ring[n_ring++ % max] = cur;
			}
		}
		if (!q)
			break;
		cur.left = q->seq;
		cur.right = q->seq + q->len;
		have_cur = true;
	}
	uint8_t k = have_first ? 1 : 0;
	for (unsigned i = 0; i < n_ring && k < max; i++)
		out[k++] = ring[(n_ring - 1 - i) % max];
	return k;
}

/* Where the TCP header starts in the frames we build for ends e (or
 * connection c): after IPv4's 20-byte header or IPv6's 40. */
static inline uint32_t l4_off(bool v6)
{
	return v6 ? USN_L4_OFF6 : USN_L4_OFF;
}

/* Builds a frame of l4 + hdr + len bytes (l4: l4_off; chained as needed, only
 * where the port takes chains: send_seg keeps len within one buffer
 * otherwise), writes hdr, then returns the cursor for the payload in *pay.
 * A segment without payload is a control segment (ACK, SYN-ACK, RST): it
 * may use the buffers the worker keeps for answers. */
static struct usn_buf *frame_build(struct usn_worker *w, uint32_t l4, const uint8_t *hdr, uint32_t hl, uint32_t len,
				   struct usn_cursor *pay)
{
	struct usn_buf *head = len ? usn_worker_buf_alloc(w) : usn_worker_buf_alloc_ctl(w);
	if (!head)
		return NULL;
	uint32_t need = l4 + hl + len;
	if (head->room < l4 + hl ||
	    (need > head->room && !(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG))) {
		w->stats.drop_no_buf++; /* no buffer that size */
		usn_worker_buf_free(w, head);
		return NULL;
	}
	head->len = (uint16_t)(need < head->room ? need : head->room);
	head->next = NULL;
	uint32_t have = head->len;
	struct usn_buf *tail = head;
	while (have < need) {
		struct usn_buf *b = usn_worker_buf_alloc(w);
		if (!b || b->room == 0) {
			if (b)
				usn_worker_buf_free(w, b);
			head->frame_len = have;
			usn_worker_buf_free(w, head);
			return NULL;
		}
		b->len = (uint16_t)(need - have < b->room ? need - have : b->room);
		b->next = NULL;
		tail->next = b;
		tail = b;
		have += b->len;
	}
	head->frame_len = need;
	/* The room check above keeps the whole TCP header in head: a plain
	 * copy, not a cursor walk (frame_csum relies on it too). */
	memcpy(head->data + l4, hdr, hl);
	struct usn_cursor f = usn_cursor_of_frame(head);
	*pay = usn_cursor_take(usn_cursor_drop(f, l4 + hl), len);
	return head;
}

/* Whether n bytes of d from some offset go out in place: bytes sent by
 * reference from a registered region, at least a buffer's worth (hal.h),
 * within one buffer's length field. */
static bool ext_piece(const struct usn_tcp_sdesc *d, uint32_t n)
{
	return d->kind == USN_SD_REF && d->region != USN_TX_REGION_NONE && n >= USN_HAL_TX_EXT_MIN &&
	       n <= UINT16_MAX;
}

/* Extends the chain ending at *tail by n bytes (the rest of a copy buffer
 * first, then fresh buffers) and gives the view of them in *v; false when
 * a buffer is short (the caller frees the chain). */
static bool chain_extend(struct usn_worker *w, struct usn_buf **tail, uint32_t n, struct usn_cursor *v)
{
	struct usn_buf *t = *tail;
	*v = (struct usn_cursor){.buf = NULL, .off = 0, .len = n};
	if (!(t->flags & USN_BUF_TX_EXT) && t->len < t->room) {
		uint32_t left = (uint32_t)t->room - t->len, k = left < n ? left : n;
		*v = (struct usn_cursor){.buf = t, .off = t->len, .len = v->len};
		t->len = (uint16_t)(t->len + k);
		n -= k;
	}
	while (n) {
		struct usn_buf *b = usn_worker_buf_alloc(w);
		if (!b || b->room == 0) {
			if (b)
				usn_worker_buf_free(w, b);
			*tail = t;
			return false;
		}
		b->len = (uint16_t)(n < b->room ? n : b->room);
		b->next = NULL;
		t->next = b;
		t = b;
		if (!v->buf)
			v->buf = b;
		n -= b->len;
	}
	*tail = t;
	return true;
}

/* A data frame whose payload may lie in registered regions (zero-copy TX,
 * USN_HAL_OFF_TX_EXT): the headers in a buffer as frame_build puts them,
 * then each range of a descriptor in turn, either lent to the port as an
 * external buffer (ext_piece, at most USN_HAL_TX_EXT_MAX of them) or copied
 * after what came before. Returns the head, with the payload's sum in *psum
 * when want_sum, or NULL (no buffer). */
static struct usn_buf *frame_build_ext(struct usn_tcp_conn *c, uint32_t l4, const uint8_t *hdr, uint32_t hl,
				       uint32_t seq, uint32_t len, bool want_sum, uint32_t *psum)
{
	struct usn_worker *w = c->w;
	struct usn_buf *head = usn_worker_buf_alloc(w);
	if (!head)
		return NULL;
	if (head->room < l4 + hl) {
		w->stats.drop_no_buf++;
		usn_worker_buf_free(w, head);
		return NULL;
	}
	head->len = (uint16_t)(l4 + hl);
	head->next = NULL;
	memcpy(head->data + l4, hdr, hl);
	struct usn_buf *tail = head;
	uint32_t pos = 0, sum = 0, n_ext = 0, zc = 0;
	while (pos < len) {
		uint32_t doff, s = 0;
		struct usn_tcp_sdesc *d = sq_find(c, seq + pos, &doff);
		if (!d)
			break; /* cannot happen: callers stay within sq_bytes */
		uint32_t n = d->len - doff < len - pos ? d->len - doff : len - pos;
		if (n_ext < USN_HAL_TX_EXT_MAX && ext_piece(d, n)) {
			struct usn_buf *b = usn_worker_buf_alloc(w);
			if (!b)
				goto fail;
			b->data = (uint8_t *)(uintptr_t)(d->u.ref.data + doff); /* read-only: hal.h */
			b->len = (uint16_t)n;
			b->room = 0;
			b->headroom = 0;
			b->flags = USN_BUF_TX_EXT;
			b->region = d->region;
			b->next = NULL;
			tail->next = b;
			tail = b;
			n_ext++;
			zc += n;
			if (want_sum) {
				usn_prof_enter(w, USN_PROF_CSUM);
				s = d->u.ref.csum ? usn_csum_table_range(d->u.ref.csum, doff, n)
						  : usn_csum_partial(d->u.ref.data + doff, n, 0);
				usn_prof_leave(w);
			}
		} else {
			struct usn_cursor v;
			if (!chain_extend(w, &tail, n, &v))
				goto fail;
			s = write_payload(c, seq + pos, n, v, want_sum);
		}
		if (want_sum)
			sum = usn_csum_add(sum, (pos & 1) ? usn_csum_swap(s) : s);
		pos += n;
	}
	head->frame_len = l4 + hl + len;
	w->stats.tcp_zcopy_bytes += zc;
	*psum = sum;
	return head;
fail:
	head->frame_len = l4 + hl + pos; /* about what it holds: it is freed whole */
	usn_worker_buf_free(w, head);
	return NULL;
}

/* Writes the checksum into the frame's TCP header (or asks the port), over
 * the pseudo-header of ends e's family (RFC 9293 3.1, RFC 8200 8.1). */
static inline void frame_csum(struct usn_worker *w, struct usn_buf *head, uint32_t lip, uint32_t rip,
		       const struct usn_tcp_addr6 *a6, const uint8_t *hdr, uint32_t hl, uint32_t l4_len, uint32_t pay_sum)
{
	usn_prof_enter(w, USN_PROF_CSUM);
	uint32_t ph, l4 = USN_L4_OFF;
	uint16_t v;
	head->l2_len = USN_ETH_HDR_LEN;
	if (a6) {
		ph = usn_csum_pseudo6(a6->local, a6->remote, USN_IPPROTO_TCP, l4_len);
		head->l3_len = USN_IPV6_HDR_LEN;
		l4 = USN_L4_OFF6;
	} else {
		ph = usn_csum_pseudo(lip, rip, USN_IPPROTO_TCP, (uint16_t)l4_len);
		head->l3_len = USN_IPV4_HDR_LEN;
	}
	/* The ports' checksum offload (hal.h USN_BUF_TX_TCP_CSUM) is IPv4's
	 * contract, as TSO's is: IPv6 segments are summed here. */
	if ((w->hal->offloads & USN_HAL_OFF_TX_TCP_CSUM) && !a6) {
		head->flags |= USN_BUF_TX_TCP_CSUM;
		v = usn_csum_fold(ph);
	} else {
		v = usn_csum_finish(usn_csum_add(ph, usn_csum_add(usn_csum_partial(hdr, hl, 0), pay_sum)));
	}
	/* frame_build put the whole header in head. */
	usn_store_be16(head->data + l4 + 16, v);
	usn_prof_leave(w);
}

/* Hands a built segment to the IP layer of its family (a6: IPv6's). */
static inline int ip_output(struct usn_worker *w, struct usn_buf *f, uint32_t rip, const struct usn_tcp_addr6 *a6,
			    uint32_t l4_len)
{
	if (a6) {
		w->stats.tcp6_tx_segs++; /* one: no TSO over IPv6 (tso_fits) */
		return usn_ipv6_output(w, f, a6->local, a6->remote, USN_IPPROTO_TCP, (uint16_t)l4_len);
	}
	return usn_ipv4_output(w, f, rip, USN_IPPROTO_TCP, (uint16_t)l4_len);
}

int usn_tcp_send_raw(struct usn_worker *w, const struct usn_tcp_ends *e, const struct usn_tcp_repr *r)
{
	uint8_t hdr[USN_TCP_MAX_HDR_LEN];
	usn_prof_enter(w, USN_PROF_TCP_OUT);
	uint32_t hl = usn_tcp_emit(r, hdr);
	struct usn_cursor pay;
	struct usn_buf *f = frame_build(w, l4_off(e->v6 != NULL), hdr, hl, 0, &pay);
	if (!f) {
		usn_prof_leave(w);
		return -ENOBUFS;
	}
	frame_csum(w, f, e->lip, e->rip, e->v6, hdr, hl, hl, 0);
	w->stats.tcp_tx_segs++;
	if (r->flags & USN_TCP_RST)
		w->stats.tcp_rst_tx++;
	int rc = ip_output(w, f, e->rip, e->v6, hl);
	usn_prof_leave(w);
	return rc;
}

void usn_tcp_send_rst_for(struct usn_worker *w, const struct usn_tcp_ends *e, const struct usn_tcp_repr *in,
			  uint32_t seg_len)
{
	/* RFC 9293 3.10.7.1: never answer a RST; if the segment had an ACK,
	 * <SEQ=SEG.ACK><CTL=RST>, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
	if (in->flags & USN_TCP_RST)
		return;
	struct usn_tcp_repr r;
	memset(&r, 0, sizeof r);
	r.src_port = in->dst_port;
	r.dst_port = in->src_port;
	if (in->flags & USN_TCP_ACK) {
		r.seq = in->ack;
		r.flags = USN_TCP_RST;
	} else {
		r.ack = in->seq + seg_len;
		r.flags = USN_TCP_RST | USN_TCP_ACK;
	}
	(void)usn_tcp_send_raw(w, e, &r);
}

/* Whether len bytes go out as one large segment (TSO) in pieces of `piece`
 * bytes: the port offers it, the caller meant more than one segment
 * (output_data sizes it; others send at most an MSS, which SACK blocks may
 * shorten: cut as before), and it fits the port's limits with this header. */
static bool tso_fits(const struct usn_tcp_conn *c, uint32_t len, uint32_t hl, uint32_t piece, uint8_t flags)
{
	const struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	if (!t->tso_max || (flags & (USN_TCP_SYN | USN_TCP_RST)) || len <= usn_tcp_maxseg(c))
		return false;
	/* The ports' TSO contract (hal.h USN_BUF_TX_TCP_SEG) is IPv4's
	 * (output_data sizes no large segment for IPv6). */
	if (c->flags & USN_TF_V6)
		return false;
	return USN_IPV4_HDR_LEN + hl + len <= t->tso_max &&
	       (!t->tso_max_segs || (len + piece - 1) / piece <= t->tso_max_segs);
}

/* The cost centre tcp_out (core/prof.h) wraps the whole of it. */
/* One segment; a6: the connection's IPv6 addresses, or NULL for IPv4.
 * Inlined twice below, once per family, so that IPv4's copy has nothing
 * of IPv6's to test (a6 is a constant there). */
static inline __attribute__((always_inline)) int send_seg(struct usn_tcp_conn *c, uint32_t seq, uint32_t len,
							  uint8_t flags, struct usn_tcp_sent *sent,
							  const struct usn_tcp_addr6 *a6);

int usn_tcp_send_seg(struct usn_tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags, struct usn_tcp_sent *sent)
{
	usn_prof_enter(c->w, USN_PROF_TCP_OUT);
	int rc = (c->flags & USN_TF_V6) ? send_seg(c, seq, len, flags, sent, usn_tcp_a6(usn_tcp_tw(c->w), c))
				       : send_seg(c, seq, len, flags, sent, NULL);
	usn_prof_leave(c->w);
	return rc;
}

static inline __attribute__((always_inline)) int send_seg(struct usn_tcp_conn *c, uint32_t seq, uint32_t len,
							  uint8_t flags, struct usn_tcp_sent *sent,
							  const struct usn_tcp_addr6 *a6)
{
	struct usn_worker *w = c->w;
	const uint32_t l4 = l4_off(a6 != NULL); /* where TCP starts in the frame */
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	const struct usn_stack_config *cfg = t->cfg;
	struct usn_tcp_repr r;
	memset(&r, 0, sizeof r);
	r.src_port = c->local_port;
	r.dst_port = c->remote_port;
	r.seq = seq;
	r.flags = flags;
	if (flags & USN_TCP_ACK)
		r.ack = c->rcv_nxt;
	uint32_t wnd = 0;
	if (flags & USN_TCP_SYN) {
		/* RFC 7323 2.2: the window in a SYN is never scaled. */
		wnd = cfg->tcp_rcv_wnd > 65535 ? 65535 : cfg->tcp_rcv_wnd;
		r.has_mss = true;
		r.mss = t->mss_local[a6 != NULL];
		if (c->flags & USN_TF_WSCALE) {
			r.has_wscale = true;
			r.wscale = c->rcv_wscale;
		}
		r.sack_permitted = (c->flags & USN_TF_SACK) != 0;
	} else if (!(flags & USN_TCP_RST)) {
		wnd = usn_tcp_rcv_window(c);
		r.window = (uint16_t)(wnd >> c->rcv_wscale > 65535 ? 65535 : wnd >> c->rcv_wscale);
	}
	if (flags & USN_TCP_SYN)
		r.window = (uint16_t)wnd;
	if ((c->flags & USN_TF_TS) && !(flags & USN_TCP_RST)) {
		r.has_ts = true;
		r.ts_val = usn_tcp_ts_now(c);
		r.ts_ecr = (flags & USN_TCP_ACK) ? c->ts_recent : 0;
	}
	if ((c->flags & USN_TF_SACK) && c->ooo && (flags & USN_TCP_ACK) && !(flags & (USN_TCP_SYN | USN_TCP_RST)))
		r.n_sack = sack_blocks(c, r.sack, (c->flags & USN_TF_TS) ? 3 : 4);
	uint8_t hl = usn_tcp_hdr_len(&r);
	/* Options beyond timestamps (SACK blocks) come out of the payload. */
	uint32_t room = c->smss + 20 - hl;
	/* Without chained TX the frame is one buffer (smss_max sees to it;
	 * this holds whatever the MSS). */
	if (!(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG)) {
		uint32_t fit = w->hal->buf_size > l4 + hl ? w->hal->buf_size - l4 - hl : 0;
		if (room > fit)
			room = fit;
	}
	uint32_t pieces = 1;
	if (len > room && !tso_fits(c, len, hl, room, flags)) {
		len = room;
		/* The FIN follows the last byte: off the header too, or the peer
		 * takes it here and loses the bytes after (rx 4 bytes short in a
		 * lossy pair test, the connection then reset). */
		flags &= (uint8_t)~USN_TCP_FIN;
		r.flags = flags;
	} else if (len > room) {
		/* One large segment for the port to cut into pieces of room
		 * bytes (hal.h USN_BUF_TX_TCP_SEG); PSH and FIN stay in the
		 * header: the port keeps them on the last piece. */
		pieces = (len + room - 1) / room;
	}

	uint8_t hdr[USN_TCP_MAX_HDR_LEN];
	usn_tcp_emit(&r, hdr);
	bool sw = !(w->hal->offloads & USN_HAL_OFF_TX_TCP_CSUM) || a6;
	uint32_t psum = 0;
	struct usn_buf *f;
	if (len >= USN_HAL_TX_EXT_MIN && w->stack->n_tx_regions) {
		/* Registered memory, and a port that reads it in place. */
		f = frame_build_ext(c, l4, hdr, hl, seq, len, sw, &psum);
	} else {
		struct usn_cursor pay;
		f = frame_build(w, l4, hdr, hl, len, &pay);
		if (f && len)
			psum = write_payload(c, seq, len, pay, sw);
	}
	if (!f)
		return -ENOBUFS;
	frame_csum(w, f, c->local_ip, c->remote_ip, a6, hdr, hl, hl + len, psum);
	if (pieces > 1) {
		f->flags |= USN_BUF_TX_TCP_SEG;
		f->l4_len = hl;
		f->seg_size = (uint16_t)room;
		w->stats.tcp_tso_frames++;
	}

	uint32_t end = seq + len + ((flags & USN_TCP_SYN) ? 1 : 0) + ((flags & USN_TCP_FIN) ? 1 : 0);
	/* Segments count as the wire will carry them (Linux's tcp_skb_pcount). */
	w->stats.tcp_tx_segs += pieces;
	if (flags & USN_TCP_RST)
		w->stats.tcp_rst_tx++;
	if (end != seq) {
		if (SEQ_LT(seq, c->snd_max)) {
			c->retransmits += pieces;
			w->stats.tcp_retrans_segs += pieces;
			if (c->flags & USN_TF_TS)
				c->rtt_start_us = w->now_us; /* echoes older than this are stale */
			if (SEQ_LEQ(c->rtt_seq, end) && SEQ_GEQ(c->rtt_seq, seq))
				c->flags &= (uint16_t)~USN_TF_RTT_TIMING; /* Karn */
		} else if (!(c->flags & USN_TF_RTT_TIMING) && !(c->flags & USN_TF_TS)) {
			c->flags |= USN_TF_RTT_TIMING;
			c->rtt_seq = seq;
			c->rtt_start_us = w->now_us;
		}
		if (flags & USN_TCP_SYN)
			c->rtt_start_us = w->now_us; /* the latest SYN's TSval (handshake_rtt) */
		if (SEQ_GT(end, c->snd_max)) {
			uint32_t fresh = end - (SEQ_GT(seq, c->snd_max) ? seq : c->snd_max);
			c->bytes_sent += fresh > len ? len : fresh;
			w->stats.tcp_tx_bytes += fresh > len ? len : fresh;
			c->snd_max = end;
		}
		if (c->tkind != USN_TK_RTO || !usn_timer_armed(&c->timer))
			usn_tcp_timer_arm(c, USN_TK_RTO, c->rto_ms);
	}
	if (flags & USN_TCP_ACK) {
		c->last_ack_sent = c->rcv_nxt;
		if (!(flags & USN_TCP_SYN) && SEQ_GT(c->rcv_nxt + wnd, c->rcv_adv))
			c->rcv_adv = c->rcv_nxt + wnd;
		if ((flags & USN_TCP_SYN) && c->state == USN_TCP_SYN_RECEIVED)
			c->rcv_adv = c->rcv_nxt + wnd;
		c->flags &= (uint16_t)~USN_TF_ACK_NOW;
		c->ack_soon = false; /* this segment carries the ACK that was due */
		usn_timer_cancel(&w->wheel, &c->delack);
	}
	int rc = ip_output(w, f, c->remote_ip, a6, hl + len);
	if (rc != 0)
		return rc; /* -EHOSTUNREACH */
	if (sent) {
		sent->len = len;
		sent->fin = (flags & USN_TCP_FIN) != 0;
	}
	return 0;
}

void usn_tcp_send_ack(struct usn_tcp_conn *c)
{
	/* Backpressure, as for data: with the TX batch full and the port
	 * refusing it, the ACK stays due for the next round instead of being
	 * built and dropped (tx_full), which left the peer to retransmit on its
	 * timer. Duplicate ACKs that wait this way merge into one. */
	if (!usn_worker_tx_make_room(c->w)) {
		c->flags |= USN_TF_ACK_NOW;
		usn_tcp_pending(c);
		return;
	}
	/* SND.MAX, not SND.NXT (BSD tcp_output does the same): after an RTO
	 * has rewound SND.NXT, the peer may hold everything up to SND.MAX and
	 * would find an older sequence number unacceptable (RFC 9293
	 * 3.10.7.4), dropping the acknowledgment with it. */
	(void)usn_tcp_send_seg(c, c->snd_max, 0, USN_TCP_ACK, NULL);
}

bool usn_tcp_oow_ack_take(struct usn_tcp_conn *c)
{
	uint64_t now = c->w->now_us;
	if (c->oow_ack_us && now - c->oow_ack_us < (uint64_t)USN_TCP_OOW_ACK_MS * 1000u)
		return false;
	c->oow_ack_us = now ? now : 1;
	return true;
}

void usn_tcp_challenge_ack(struct usn_tcp_conn *c)
{
	/* RFC 5961 7 asks for a limit, so that we are no ACK amplifier. One
	 * budget shared by every connection is a side channel (CVE-2016-5696):
	 * an off-path attacker exhausts it from a connection of its own, sends
	 * a guess (RST or SYN) at another connection, and counts the
	 * challenge ACKs it still gets to learn whether the guess drew one,
	 * which reveals the 4-tuple and then the sequence numbers. As Linux
	 * since 4.7: first one per connection per USN_TCP_OOW_ACK_MS (the
	 * clock of the out-of-window answers, tcp_invalid_ratelimit), then a
	 * per-worker budget whose size is drawn afresh each second from
	 * [limit / 2, limit * 3 / 2), so what is left of it tells nothing.
	 * The draw is a keyed hash of the second (one per second, off the
	 * per-packet path). */
	struct usn_tcp_worker *t = usn_tcp_tw(c->w);
	struct usn_worker *w = c->w;
	if (!usn_tcp_oow_ack_take(c)) {
		w->stats.tcp_challenge_acks_skipped++;
		return;
	}
	uint64_t sec = w->now_us / 1000000u + 1;
	if (sec != t->chal_sec) {
		uint64_t in[2] = {sec, 0x6368616c6c656e67u /* "challeng": a domain of its own for the ISN key */};
		uint32_t limit = t->cfg->tcp_challenge_ack_limit ? t->cfg->tcp_challenge_ack_limit : 1000;
		t->chal_sec = sec;
		t->chal_left = (limit + 1) / 2 + (uint32_t)(usn_siphash24(t->key_isn, in, sizeof in) % limit);
	}
	if (t->chal_left == 0) {
		w->stats.tcp_challenge_acks_skipped++;
		return;
	}
	t->chal_left--;
	w->stats.tcp_challenge_acks++;
	usn_tcp_send_ack(c);
}

/* Payload bytes in each piece of the next segment: the MSS less the SACK
 * blocks its header will carry (what send_seg calls room). */
static uint32_t mss_now(struct usn_tcp_conn *c, uint32_t maxseg)
{
	if (!((c->flags & USN_TF_SACK) && c->ooo))
		return maxseg;
	struct usn_tcp_sack_block b[USN_TCP_MAX_SACK];
	uint8_t n = sack_blocks(c, b, (c->flags & USN_TF_TS) ? 3 : 4);
	return n ? maxseg - 4u - 8u * n : maxseg;
}

/* How many bytes one large segment may carry: all the port takes, in
 * whole pieces, within its limit on pieces (as Linux's gso_max_segs).
 * Linux sizes its segments to about a millisecond of the connection's
 * rate (tcp_tso_autosize) because it also paces them; this stack does not
 * pace, so a flight leaves back to back whatever its segments, and smaller
 * ones only multiply the per-packet work at both ends and the peer's ACKs.
 * Worse, sized by the SRTT, they shrank to two pieces whenever frames
 * waited in a busy worker's receive ring (the wait counts in every RTT
 * sample): six to eight times the packets per page, which kept the worker
 * busy (the packet port on a veth: 48 packets to the client per request
 * against 7, 1.75 times fewer requests a second). */
static uint32_t tso_goal(const struct usn_tcp_conn *c, uint32_t piece, uint32_t max_pay)
{
	uint32_t n = max_pay / piece, segs = usn_tcp_tw(c->w)->tso_max_segs;
	if (segs && n > segs)
		n = segs;
	return (n ? n : 1) * piece;
}

/* Data and FIN transmission in the synchronized states. */
static int output_data(struct usn_tcp_conn *c)
{
	uint32_t maxseg = usn_tcp_maxseg(c);
	uint32_t tso_max = usn_tcp_tw(c->w)->tso_max;
	/* The ports' TSO contract is IPv4's: an IPv6 connection sends MSS
	 * by MSS, each segment that would have gone in a large one counted. */
	bool tso_v6 = tso_max && (c->flags & USN_TF_V6);
	if (tso_v6)
		tso_max = 0;
	int sent = 0;
	for (int guard = 0; guard < 1024; guard++) {
		uint32_t data_end = usn_tcp_data_end(c);
		uint32_t sacked = 0;
		if (c->n_sacked && SEQ_LT(c->snd_nxt, c->snd_max)) {
			/* Going back after an RTO: not what the peer SACKed, and
			 * that is not in flight either (RFC 6675 5.1, "pipe"). */
			uint32_t nxt = usn_tcp_sack_skip(c, c->snd_nxt, &sacked);
			if (SEQ_LEQ(nxt, data_end))
				c->snd_nxt = nxt;
		}
		uint32_t unsent = SEQ_LT(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
		/* RFC 3042 limited transmit: a new segment for each of the first
		 * two duplicate ACKs, so a small window still gets to three. */
		uint32_t cw = c->cwnd;
		if (c->dupacks && c->dupacks < 3 && !(c->flags & USN_TF_RECOVERY) && c->snd_nxt == c->snd_max)
			cw += c->dupacks * maxseg;
		uint32_t wnd = c->snd_wnd < cw ? c->snd_wnd : cw;
		uint32_t inflight = c->snd_nxt - c->snd_una - sacked;
		uint32_t usable = wnd > inflight ? wnd - inflight : 0;
		uint32_t len = unsent < usable ? unsent : usable;
		uint32_t full = maxseg; /* a full-sized segment, for SWS avoidance */
		bool hole = false;
		if (tso_max && len > maxseg) {
			/* One large segment (the port cuts it), sized like Linux's. */
			uint32_t piece = mss_now(c, maxseg);
			full = piece; /* the MSS less the options sent (RFC 9293 3.7.1 Eff.snd.MSS) */
			uint32_t hl = USN_TCP_HDR_LEN + (maxseg < c->smss ? c->smss - maxseg : 0) + (maxseg - piece);
			uint32_t goal = tso_goal(c, piece, tso_max - USN_IPV4_HDR_LEN - hl);
			if (len > goal)
				len = goal;
			/* Sender SWS avoidance applies to every piece: all full,
			 * but for a last one that carries all that is left. */
			if (len < unsent)
				len -= len % piece;
			/* A retransmission stops where the peer's SACKed data
			 * starts: segment by segment, the sack_skip above steps
			 * over it; one large segment would carry it again. */
			uint32_t hole_end;
			if (c->n_sacked && SEQ_LT(c->snd_nxt, c->snd_max) &&
			    usn_tcp_sack_next_hole(c, c->snd_nxt, &hole_end) == c->snd_nxt && SEQ_LT(hole_end, c->snd_max) &&
			    hole_end - c->snd_nxt < len) {
				len = hole_end - c->snd_nxt;
				hole = true;
			}
		} else if (len > maxseg) {
			len = maxseg;
			if (tso_v6)
				c->w->stats.tcp6_tso_skipped++;
		}
		/* RFC 9293 3.8.6.2.1 sender SWS avoidance: a short segment only if
		 * it carries all that is left, or half the largest window seen. */
		if (len && len < full && len < unsent && len < c->max_snd_wnd / 2 && inflight && !hole)
			len = 0;
		bool fin = usn_tcp_fin_wanted(c) && c->snd_nxt + len == data_end && SEQ_LEQ(c->snd_nxt, data_end);
		if (len == 0 && !fin)
			break;
		if (!usn_worker_tx_make_room(c->w)) {
			/* The port's ring is full: go on next round rather than
			 * build frames it would drop (each one a retransmission
			 * later). */
			usn_tcp_pending(c);
			break;
		}
		uint8_t flags = USN_TCP_ACK;
		if (len && len == unsent)
			flags |= USN_TCP_PSH;
		if (fin)
			flags |= USN_TCP_FIN;
		struct usn_tcp_sent out;
		int rc = usn_tcp_send_seg(c, c->snd_nxt, len, flags, &out);
		if (rc == -ENOBUFS)
			break;
		if (rc == -EHOSTUNREACH)
			return rc;
		len = out.len;
		fin = out.fin;
		c->snd_nxt += len + (fin ? 1 : 0);
		sent++;
		if (fin) {
			if (c->state == USN_TCP_CLOSE_PENDING)
				usn_tcp_set_state(c, USN_TCP_FIN_WAIT_1);
			else if (c->state == USN_TCP_CLOSE_PENDING_RCVD_FIN)
				usn_tcp_set_state(c, USN_TCP_LAST_ACK);
			break;
		}
	}
	return sent;
}

void usn_tcp_output(struct usn_tcp_conn *c)
{
	int rc = 0;
	switch ((enum usn_tcp_state)c->state) {
	case USN_TCP_SYN_SENT:
		if (c->snd_nxt == c->iss) {
			rc = usn_tcp_send_seg(c, c->iss, 0, USN_TCP_SYN, NULL);
			if (rc == 0)
				c->snd_nxt = c->iss + 1;
		}
		break;
	case USN_TCP_SYN_RECEIVED:
		if (c->snd_nxt == c->iss) {
			rc = usn_tcp_send_seg(c, c->iss, 0, USN_TCP_SYN | USN_TCP_ACK, NULL);
			if (rc == 0)
				c->snd_nxt = c->iss + 1;
		}
		break;
	case USN_TCP_ESTABLISHED:
	case USN_TCP_CLOSE_WAIT:
	case USN_TCP_CLOSE_PENDING:
	case USN_TCP_CLOSE_PENDING_RCVD_FIN:
	case USN_TCP_FIN_WAIT_1:
	case USN_TCP_CLOSING:
	case USN_TCP_LAST_ACK:
		rc = output_data(c);
		if (rc > 0)
			rc = 0;
		break;
	case USN_TCP_FIN_WAIT_2:
	case USN_TCP_TIME_WAIT:
	case USN_TCP_CLOSED:
	case USN_TCP_LISTEN:
	case USN_TCP_N_STATES:
		break;
	}
	if (rc == -EHOSTUNREACH) {
		usn_tcp_conn_close(c, USN_TCP_CLOSE_UNREACHABLE);
		return;
	}
	if ((c->flags & USN_TF_ACK_NOW) && c->state != USN_TCP_SYN_SENT && c->state != USN_TCP_CLOSED)
		usn_tcp_send_ack(c);
	usn_tcp_timer_update(c, false);
}

/* ---- loss recovery (what tcp_cong.c asks for) ---- */

/* Retransmits the first hole at or after `from` that lies below the
 * highest byte sent; returns the end of what was sent (or from). */
static uint32_t retransmit_hole(struct usn_tcp_conn *c, uint32_t from)
{
	uint32_t end;
	uint32_t seq = usn_tcp_sack_next_hole(c, from, &end);
	uint32_t data_end = usn_tcp_data_end(c);
	if (SEQ_GEQ(seq, c->snd_max))
		return from;
	uint32_t len = end - seq;
	uint32_t mss = usn_tcp_maxseg(c);
	if (len > mss)
		len = mss;
	uint8_t flags = USN_TCP_ACK;
	if (SEQ_GEQ(seq, data_end)) {
		len = 0; /* only the FIN is outstanding */
		flags |= USN_TCP_FIN;
	} else if (SEQ_GT(seq + len, data_end)) {
		len = data_end - seq;
	}
	if (usn_tcp_fin_wanted(c) && seq + len == data_end && SEQ_GT(c->snd_max, data_end))
		flags |= USN_TCP_FIN;
	struct usn_tcp_sent sent;
	if (usn_tcp_send_seg(c, seq, len, flags, &sent) != 0)
		return from;
	return seq + sent.len + (sent.fin ? 1 : 0);
}

void usn_tcp_rexmit(struct usn_tcp_conn *c, uint32_t from)
{
	uint32_t end = retransmit_hole(c, from);
	if (SEQ_GT(end, c->snd_rxt))
		c->snd_rxt = end;
}

/* ---- the stack's own aborts ---- */

void usn_tcp_reset_close(struct usn_tcp_conn *c, enum usn_tcp_close_reason why)
{
	/* RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST> in the synchronized states. */
	if (c->state >= USN_TCP_SYN_RECEIVED && c->state != USN_TCP_TIME_WAIT)
		(void)usn_tcp_send_seg(c, c->snd_max, 0, USN_TCP_RST | USN_TCP_ACK, NULL);
	usn_tcp_conn_close(c, why);
}
