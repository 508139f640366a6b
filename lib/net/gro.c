/* libusnet software GRO over a receive burst (lib/net): before Ethernet input,
 * the in-order TCP segments of one flow that arrive in one receive burst are
 * merged into one frame, as Linux's GRO (tcp_gro_receive) does, so TCP
 * input runs once per flow and burst instead of once per frame. Frames the
 * port already coalesced (LRO) go through as they are. */
#include <string.h>

#include "core/buf.h"
#include "net/net.h"
#include "usnet/csum.h"
#include "wire/csum_fixed.h"

/* Flows a burst may have open at once (Linux keeps 8 per GRO bucket). */
#define GRO_MAX_FLOWS 8
#define GRO_MAX_IP 65535u /* an IPv4 packet's length field */
#define GRO_L4_OFF (USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN)

/* A received IPv4/TCP frame as GRO reads it, from its head buffer, where
 * the headers must lie whole. The first part (gro_peek) is all most frames
 * cost; the rest (gro_detail) is read, and the sums checked, only for a
 * segment that may join another. */
struct gro_seg {
	uint32_t src, dst, ports; /* the flow */
	uint16_t tot, pay_len;
	uint8_t thl, flags;
	bool cand; /* data, ACK (PSH, FIN) only, no IP options, NOP NOP TS or no TCP options */
	/* gro_detail */
	uint32_t seq, ack, tsval, tsecr;
	uint16_t window, id;
	uint8_t tos, ttl;
	bool df, ts;
};

/* An open merge: the frame at frames[idx], its first and latest segment. */
struct gro_flow {
	uint16_t idx;
	uint16_t n;	  /* segments in it */
	bool detailed;	  /* last holds gro_detail's fields, the head's sums are checked */
	uint8_t more_flags; /* PSH and FIN of the later segments */
	uint16_t seg;	  /* the first segment's payload: none after may be longer */
	uint32_t ip_len;
	struct usn_buf *tail; /* the chain's last buffer */
	struct gro_seg last;
};

/* Reads the flow and the shape of an untagged IPv4 packet carrying TCP;
 * false for anything else (it then goes through unmerged and closes no
 * flow). cand says whether it may merge at all. */
static bool gro_peek(const struct usn_buf *f, struct gro_seg *g)
{
	const uint8_t *p = f->data;
	if (f->len < GRO_L4_OFF + USN_TCP_HDR_LEN || usn_load_be16(p + 12) != USN_ETHERTYPE_IPV4)
		return false;
	const uint8_t *ip = p + USN_ETH_HDR_LEN, *th = p + GRO_L4_OFF;
	uint32_t ihl = (uint32_t)(ip[0] & 15u) * 4u;
	if ((ip[0] >> 4) != 4 || ip[9] != USN_IPPROTO_TCP || ihl < USN_IPV4_HDR_LEN ||
	    f->len < USN_ETH_HDR_LEN + ihl + 4u)
		return false;
	g->src = usn_load_be32(ip + 12);
	g->dst = usn_load_be32(ip + 16);
	g->ports = usn_load_be32(ip + ihl); /* the flow, whatever its IPv4 options */
	g->tot = usn_load_be16(ip + 2);
	g->thl = (uint8_t)((th[12] >> 4) * 4);
	g->flags = th[13];
	g->pay_len = (uint16_t)(g->tot - USN_IPV4_HDR_LEN - g->thl);
	/* The packet fills the frame exactly (no padding to strip), its
	 * headers lie in the head buffer, and the options are none or the
	 * timestamps alone in RFC 7323's layout. */
	g->cand = ip[0] == 0x45 && !(usn_load_be16(ip + 6) & (USN_IPV4_MF | USN_IPV4_OFFMASK)) &&
		  (g->flags & (uint8_t)~(USN_TCP_PSH | USN_TCP_FIN)) == USN_TCP_ACK &&
		  g->tot > USN_IPV4_HDR_LEN + g->thl && USN_ETH_HDR_LEN + (uint32_t)g->tot == f->frame_len &&
		  f->len >= GRO_L4_OFF + g->thl && !(f->flags & (USN_BUF_RX_COALESCED | USN_BUF_RX_CSUM_BAD)) &&
		  (g->thl == USN_TCP_HDR_LEN || (g->thl == USN_TCP_HDR_LEN + 12 && usn_load_be32(th + 20) == 0x0101080au));
	return true;
}

/* The rest of a candidate's fields, and its sums: a port's word, else
 * ours, once. A good frame is flagged so later layers do not sum it again;
 * a bad TCP sum is flagged for TCP input to count; false if it is bad. */
static bool gro_detail(struct usn_worker *w, struct usn_buf *f, struct gro_seg *g)
{
	const uint8_t *ip = f->data + USN_ETH_HDR_LEN, *th = f->data + GRO_L4_OFF;
	if (!(f->flags & USN_BUF_RX_IP_CSUM_GOOD)) {
		if (usn_csum_ipv4_hdr20(ip) != 0xffff)
			return false;
		f->flags |= USN_BUF_RX_IP_CSUM_GOOD;
	}
	if (!(f->flags & USN_BUF_RX_L4_CSUM_GOOD)) {
		struct usn_cursor l4 = usn_cursor_drop(usn_cursor_of_frame(f), GRO_L4_OFF);
		usn_prof_enter(w, USN_PROF_CSUM);
		uint32_t sum = usn_csum_add(usn_cursor_csum(l4), usn_csum_pseudo(g->src, g->dst, USN_IPPROTO_TCP,
									       (uint16_t)(g->tot - USN_IPV4_HDR_LEN)));
		usn_prof_leave(w);
		if (usn_csum_fold(sum) != 0xffff) {
			f->flags |= USN_BUF_RX_CSUM_BAD;
			return false;
		}
		f->flags |= USN_BUF_RX_L4_CSUM_GOOD;
	}
	g->seq = usn_load_be32(th + 4);
	g->ack = usn_load_be32(th + 8);
	g->window = usn_load_be16(th + 14);
	g->id = usn_load_be16(ip + 4);
	g->df = (usn_load_be16(ip + 6) & USN_IPV4_DF) != 0;
	g->tos = ip[1];
	g->ttl = ip[8];
	g->ts = g->thl != USN_TCP_HDR_LEN;
	g->tsval = g->ts ? usn_load_be32(th + 24) : 0;
	g->tsecr = g->ts ? usn_load_be32(th + 28) : 0;
	return true;
}

/* Linux's tcp_gro_receive and inet_gro_receive rules, with an ACK that may
 * move on (the merged header carries the latest) and a TSval that may grow
 * (it carries the first: RFC 7323 4.3 echoes the earliest). g is detailed. */
static bool gro_follows(const struct gro_flow *fl, const struct usn_buf *head, const struct usn_buf *f,
			const struct gro_seg *g)
{
	const struct gro_seg *l = &fl->last;
	if ((l->flags & (USN_TCP_PSH | USN_TCP_FIN)) || l->pay_len < fl->seg || g->pay_len > fl->seg)
		return false;
	if (g->seq != l->seq + l->pay_len || (int32_t)(g->ack - l->ack) < 0 || g->thl != l->thl || g->tos != l->tos ||
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
	usn_buf_drop_front(f, GRO_L4_OFF + g->thl);
	if (!fl->tail) {
		fl->tail = head;
		while (fl->tail->next)
			fl->tail = fl->tail->next;
	}
	fl->tail->next = f;
	struct usn_buf *t = f;
	while (t->next)
		t = t->next;
	fl->tail = t;
	head->frame_len += g->pay_len;
	fl->n++;
	fl->ip_len += g->pay_len;
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
	uint8_t *ip = head->data + USN_ETH_HDR_LEN, *th = head->data + GRO_L4_OFF;
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

static void gro_open(struct gro_flow *fl, uint16_t idx, const struct gro_seg *g)
{
	fl->idx = idx;
	fl->n = 1;
	fl->detailed = false;
	fl->more_flags = 0;
	fl->seg = g->pay_len;
	fl->ip_len = g->tot;
	fl->tail = NULL;
	fl->last = *g;
}

/* Merges in place: frames merged into an earlier one become NULL. The
 * order within a flow is kept: a frame of an open flow that cannot join it
 * (a pure ACK, a gap, ...) closes it, so nothing later joins a frame that
 * came before it. Most frames cost a look at their headers: the rest of a
 * segment is read, and its sums checked, only when it may join another. */
static void gro_burst(struct usn_worker *w, struct usn_buf **frames, uint16_t n)
{
	struct gro_flow flows[GRO_MAX_FLOWS];
	unsigned n_flows = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct usn_buf *f = frames[i];
		struct gro_seg g;
		/* With no flow open, only data can matter: a look at the frame's
		 * length and TCP flags (where an option-less IPv4 header puts
		 * them) passes over handshakes and pure ACKs. */
		if (n_flows == 0 && (f->frame_len <= GRO_L4_OFF + USN_TCP_HDR_LEN || f->len <= GRO_L4_OFF + 13 ||
				     (f->data[GRO_L4_OFF + 13] & (uint8_t)~(USN_TCP_PSH | USN_TCP_FIN)) != USN_TCP_ACK))
			continue;
		if (!gro_peek(f, &g))
			continue;
		unsigned k = 0;
		while (k < n_flows && (flows[k].last.ports != g.ports || flows[k].last.src != g.src ||
				       flows[k].last.dst != g.dst))
			k++;
		int good = 0; /* g's sums: 1 checked good, -1 bad, 0 not yet checked */
		if (k < n_flows) {
			struct gro_flow *fl = &flows[k];
			struct usn_buf *head = frames[fl->idx];
			if (g.cand && !fl->detailed)
				fl->detailed = gro_detail(w, head, &fl->last);
			if (g.cand && fl->detailed) {
				good = gro_detail(w, f, &g) ? 1 : -1;
				if (good > 0 && gro_follows(fl, head, f, &g)) {
					gro_append(fl, head, f, &g);
					frames[i] = NULL;
					continue;
				}
			}
			gro_close(w, fl, head);
			flows[k] = flows[--n_flows];
		}
		/* A segment that may take followers opens a flow. */
		if (!g.cand || good < 0 || (g.flags & (USN_TCP_PSH | USN_TCP_FIN)))
			continue;
		if (n_flows == GRO_MAX_FLOWS) {
			gro_close(w, &flows[0], frames[flows[0].idx]);
			flows[0] = flows[--n_flows];
		}
		gro_open(&flows[n_flows], i, &g);
		flows[n_flows++].detailed = good > 0;
	}
	for (unsigned k = 0; k < n_flows; k++)
		gro_close(w, &flows[k], frames[flows[k].idx]);
}

void usn_net_gro_burst(struct usn_worker *w, struct usn_buf **frames, uint16_t n)
{
	if (w->hal->offloads & USN_HAL_OFF_RX_LRO)
		for (uint16_t i = 0; i < n; i++)
			w->stats.rx_coalesced += (frames[i]->flags & USN_BUF_RX_COALESCED) != 0;
	if (n > 1 && !w->stack->cfg.no_gro)
		gro_burst(w, frames, n);
}
