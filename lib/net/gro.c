/* libusnet receive burst and software GRO (lib/net): before Ethernet input,
 * the in-order TCP segments of one flow that arrive in one receive burst are
 * merged into one frame, as Linux's GRO (tcp_gro_receive) does, so TCP
 * input runs once per flow and burst instead of once per frame. Frames the
 * port already coalesced (LRO) go through as they are. */
#include <string.h>

#include "core/buf.h"
#include "usnet/csum.h"
#include "net/net.h"
#include "wire/csum_fixed.h"

/* Flows a burst may have open at once (Linux keeps 8 per GRO bucket). */
#define GRO_MAX_FLOWS 8
#define GRO_MAX_IP 65535u /* an IPv4 packet's length field */

/* A received IPv4/TCP frame as GRO reads it; offsets into the head buffer,
 * where the headers must lie whole. */
struct gro_seg {
	uint32_t src, dst, seq, ack, tsval, tsecr;
	uint16_t sport, dport, window, id, tot, pay_len;
	uint8_t thl, flags, tos, ttl;
	bool df, ts;
	bool cand; /* may merge: data, ACK (PSH, FIN) only, NOP NOP TS or no options, sums good */
};

/* An open merge: the frame at frames[idx] and what the next segment must be. */
struct gro_flow {
	uint16_t idx;
	uint16_t n;	  /* segments in it */
	uint16_t seg;	  /* the first segment's payload: none after may be longer */
	uint16_t last_len;
	uint32_t next_seq, ip_len;
	struct usn_buf *tail; /* the chain's last buffer */
	struct gro_seg last;  /* the latest segment merged */
	uint8_t more_flags;   /* PSH and FIN of the later segments */
};


/* Reads the headers of an untagged option-less IPv4 packet carrying TCP
 * that fills its frame exactly; false for anything else (it then goes
 * through unmerged). Sets cand, checking the sums of a candidate. */
static bool gro_parse(struct usn_worker *w, struct usn_buf *f, struct gro_seg *g)
{
	const uint8_t *p = f->data;
	if (f->len < USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN + USN_TCP_HDR_LEN || usn_load_be16(p + 12) != USN_ETHERTYPE_IPV4)
		return false;
	const uint8_t *ip = p + USN_ETH_HDR_LEN;
	uint16_t frag = usn_load_be16(ip + 6);
	if (ip[0] != 0x45 || ip[9] != USN_IPPROTO_TCP || (frag & (USN_IPV4_MF | USN_IPV4_OFFMASK)))
		return false;
	const uint8_t *th = ip + USN_IPV4_HDR_LEN;
	g->tot = usn_load_be16(ip + 2);
	g->thl = (uint8_t)((th[12] >> 4) * 4);
	g->src = usn_load_be32(ip + 12);
	g->dst = usn_load_be32(ip + 16);
	g->sport = usn_load_be16(th);
	g->dport = usn_load_be16(th + 2);
	g->cand = false;
	/* The key is enough to keep the flow's order; the rest only for a
	 * segment that may merge. */
	if (g->thl < USN_TCP_HDR_LEN || g->tot < USN_IPV4_HDR_LEN + g->thl ||
	    USN_ETH_HDR_LEN + (uint32_t)g->tot != f->frame_len || f->len < USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN + g->thl)
		return true;
	g->flags = th[13];
	g->pay_len = (uint16_t)(g->tot - USN_IPV4_HDR_LEN - g->thl);
	g->ts = g->thl == USN_TCP_HDR_LEN + 12 && usn_load_be32(th + 20) == 0x0101080au;
	if ((g->flags & (uint8_t)~(USN_TCP_PSH | USN_TCP_FIN)) != USN_TCP_ACK || g->pay_len == 0 ||
	    (g->thl != USN_TCP_HDR_LEN && !g->ts) || (f->flags & (USN_BUF_RX_COALESCED | USN_BUF_RX_CSUM_BAD)))
		return true;
	g->seq = usn_load_be32(th + 4);
	g->ack = usn_load_be32(th + 8);
	g->window = usn_load_be16(th + 14);
	g->id = usn_load_be16(ip + 4);
	g->df = (frag & USN_IPV4_DF) != 0;
	g->tos = ip[1];
	g->ttl = ip[8];
	g->tsval = g->ts ? usn_load_be32(th + 24) : 0;
	g->tsecr = g->ts ? usn_load_be32(th + 28) : 0;
	/* Sums first (a merged frame's are not redone): a port's word, else
	 * ours, once; a good frame is flagged so later layers do not sum it
	 * again, a bad TCP sum is flagged for TCP input to count. */
	if (!(f->flags & USN_BUF_RX_IP_CSUM_GOOD)) {
		if (usn_csum_ipv4_hdr20(ip) != 0xffff)
			return true;
		f->flags |= USN_BUF_RX_IP_CSUM_GOOD;
	}
	if (!(f->flags & USN_BUF_RX_L4_CSUM_GOOD)) {
		struct usn_cursor l4 = usn_cursor_drop(usn_cursor_of_frame(f), USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN);
		usn_prof_enter(w, USN_PROF_CSUM);
		uint32_t sum = usn_csum_add(usn_cursor_csum(l4), usn_csum_pseudo(g->src, g->dst, USN_IPPROTO_TCP,
									       (uint16_t)(g->tot - USN_IPV4_HDR_LEN)));
		usn_prof_leave(w);
		if (usn_csum_fold(sum) != 0xffff) {
			f->flags |= USN_BUF_RX_CSUM_BAD;
			return true;
		}
		f->flags |= USN_BUF_RX_L4_CSUM_GOOD;
	}
	g->cand = true;
	return true;
}

static bool gro_same_flow(const struct gro_seg *a, const struct gro_seg *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport;
}

/* Linux's tcp_gro_receive and inet_gro_receive rules, with an ACK that may
 * move on (the merged header carries the latest) and a TSval that may grow
 * (it carries the first: RFC 7323 4.3 echoes the earliest). */
static bool gro_follows(const struct gro_flow *fl, const struct usn_buf *head, const struct usn_buf *f,
			const struct gro_seg *g)
{
	const struct gro_seg *l = &fl->last;
	if (!g->cand || (l->flags & (USN_TCP_PSH | USN_TCP_FIN)) || fl->last_len < fl->seg || g->pay_len > fl->seg)
		return false;
	if (g->seq != fl->next_seq || (int32_t)(g->ack - l->ack) < 0 || g->thl != l->thl || g->tos != l->tos ||
	    g->ttl != l->ttl || g->df != l->df || (!g->df && g->id != (uint16_t)(l->id + 1u)))
		return false;
	if (g->ts && ((int32_t)(g->tsval - l->tsval) < 0 || g->tsecr != l->tsecr))
		return false;
	if (fl->ip_len + g->pay_len > GRO_MAX_IP)
		return false;
	/* The same link header (addresses, type). */
	return memcmp(head->data, f->data, USN_ETH_HDR_LEN) == 0;
}

/* Appends segment f (its headers dropped) to the flow's frame. */
static void gro_append(struct gro_flow *fl, struct usn_buf *head, struct usn_buf *f, const struct gro_seg *g)
{
	usn_buf_drop_front(f, USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN + g->thl);
	fl->tail->next = f;
	struct usn_buf *t = f;
	while (t->next)
		t = t->next;
	fl->tail = t;
	head->frame_len += g->pay_len;
	fl->n++;
	fl->next_seq += g->pay_len;
	fl->ip_len += g->pay_len;
	fl->last_len = g->pay_len;
	fl->more_flags |= g->flags & (USN_TCP_PSH | USN_TCP_FIN);
	fl->last = *g;
}

/* Ends a merge: the first segment's header describes the whole (IPv4
 * length and sum; the latest ACK and window; PSH and FIN if a later one
 * had them); the TCP sum is not redone (the frame says it is good, as a
 * port's coalesced frame does, hal.h). */
static void gro_close(struct usn_worker *w, struct gro_flow *fl, struct usn_buf *head)
{
	if (fl->n < 2)
		return;
	uint8_t *ip = head->data + USN_ETH_HDR_LEN, *th = ip + USN_IPV4_HDR_LEN;
	usn_store_be16(ip + 2, (uint16_t)fl->ip_len);
	usn_store_be16(ip + 10, 0);
	usn_store_be16(ip + 10, (uint16_t)~usn_csum_ipv4_hdr20(ip));
	usn_store_be32(th + 8, fl->last.ack);
	usn_store_be16(th + 14, fl->last.window);
	th[13] = (uint8_t)(th[13] | fl->more_flags);
	head->flags |= USN_BUF_RX_COALESCED | USN_BUF_RX_IP_CSUM_GOOD | USN_BUF_RX_L4_CSUM_GOOD;
	head->seg_size = fl->seg;
	w->stats.gro_frames++;
	w->stats.gro_segs += fl->n - 1u;
}

/* Merges in place: frames merged into an earlier one become NULL. The
 * order within a flow is kept: a frame of an open flow that cannot join it
 * (a pure ACK, a gap, ...) closes it, so nothing later joins a frame that
 * came before it. */
static void gro_burst(struct usn_worker *w, struct usn_buf **frames, uint16_t n)
{
	struct gro_flow flows[GRO_MAX_FLOWS];
	unsigned n_flows = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct usn_buf *f = frames[i];
		struct gro_seg g;
		if (!gro_parse(w, f, &g))
			continue;
		unsigned k = 0;
		while (k < n_flows && !gro_same_flow(&flows[k].last, &g))
			k++;
		if (k < n_flows) {
			struct gro_flow *fl = &flows[k];
			if (gro_follows(fl, frames[fl->idx], f, &g)) {
				gro_append(fl, frames[fl->idx], f, &g);
				frames[i] = NULL;
				continue;
			}
			gro_close(w, fl, frames[fl->idx]);
			flows[k] = flows[--n_flows];
		}
		/* A segment that may take followers opens a flow. */
		if (!g.cand || (g.flags & (USN_TCP_PSH | USN_TCP_FIN)))
			continue;
		if (n_flows == GRO_MAX_FLOWS) {
			gro_close(w, &flows[0], frames[flows[0].idx]);
			flows[0] = flows[--n_flows];
		}
		struct gro_flow *fl = &flows[n_flows++];
		fl->idx = i;
		fl->n = 1;
		fl->seg = g.pay_len;
		fl->last_len = g.pay_len;
		fl->next_seq = g.seq + g.pay_len;
		fl->ip_len = g.tot;
		fl->more_flags = 0;
		fl->last = g;
		struct usn_buf *t = f;
		while (t->next)
			t = t->next;
		fl->tail = t;
	}
	for (unsigned k = 0; k < n_flows; k++)
		gro_close(w, &flows[k], frames[flows[k].idx]);
}

void usn_net_input_burst(struct usn_worker *w, struct usn_buf **frames, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		if (frames[i]->flags & USN_BUF_RX_COALESCED)
			w->stats.rx_coalesced++;
	if (n > 1 && !w->stack->cfg.no_gro)
		gro_burst(w, frames, n);
	for (uint16_t i = 0; i < n; i++)
		if (frames[i])
			usn_eth_input(w, frames[i]);
}
