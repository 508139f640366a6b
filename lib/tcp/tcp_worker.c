/* libusnet TCP per-worker state (lib/tcp): the tables made at start (TCB
 * and descriptor pools, connection buckets, keys, MSS and TSO limits) and
 * freed at the end, and the flush the poll round calls once per round. The
 * entry of the stack layer's calls (tcp/tcp.h). */
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "tcp/tcp_int.h"

/* ---- per-worker tables ---- */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* Every key of the worker from the stack's secret (configured, or read from
 * the port's random source when the stack was created). */
static void derive_keys(struct usn_worker *w, struct usn_tcp_worker *t)
{
	t->key_cookie[0] = w->stack->secret[0];
	t->key_cookie[1] = w->stack->secret[1];
	static const char isn_label[] = "usnet isn key";
	t->key_isn[0] = usn_siphash24(t->key_cookie, isn_label, sizeof isn_label);
	t->key_isn[1] = usn_siphash24(t->key_cookie, isn_label, sizeof isn_label - 1);
}

/* Large segments for the port to cut (TSO) when it offers them with the
 * checksum offloads they need, up to its limit, within one buffer if it
 * takes no chains; 0 when that is no more than the MTU. */
static uint32_t tso_limit(const struct usn_hal *hal, const struct usn_stack_config *cfg, uint16_t mtu)
{
	/* The pieces' TCP sums are the port's to fill; the IPv4 header sum is
	 * ours unless the port offers it too (the port recomputes each piece's
	 * anyway, as Linux's GSO does for the packet port). */
	const uint32_t need = USN_HAL_OFF_TX_TSO | USN_HAL_OFF_TX_TCP_CSUM;
	if ((hal->offloads & need) != need || cfg->tcp_no_tso)
		return 0;
	uint32_t m = hal->tso_max && hal->tso_max < 65535u ? hal->tso_max : 65535u;
	if (!(hal->offloads & USN_HAL_OFF_TX_MULTISEG) && hal->buf_size > USN_ETH_HDR_LEN &&
	    m > (uint32_t)hal->buf_size - USN_ETH_HDR_LEN)
		m = (uint32_t)hal->buf_size - USN_ETH_HDR_LEN;
	return m > mtu ? m : 0;
}

struct usn_tcp_worker *usn_tcp_worker_create(struct usn_worker *w)
{
	const struct usn_stack_config *cfg = &w->stack->cfg;
	struct usn_tcp_worker *t = usn_worker_mem_alloc(w, sizeof *t);
	if (!t)
		return NULL;
	memset(t, 0, sizeof *t);
	t->w = w;
	t->cfg = cfg;
	uint32_t n = cfg->tcp_max_conns ? cfg->tcp_max_conns : 4096;
	t->tcb_mem_size = usn_pool_mem_size(sizeof(struct usn_tcp_conn), n);
	t->tcb_mem = usn_worker_mem_alloc(w, t->tcb_mem_size);
	uint32_t nb = pow2_at_least(n);
	t->bucket = usn_worker_mem_alloc(w, nb * sizeof(uint32_t));
	uint32_t nsd = cfg->tcp_sendq_max ? cfg->tcp_sendq_max : n * 4;
	t->sd_mem_size = usn_pool_mem_size(sizeof(struct usn_tcp_sdesc), nsd);
	t->sd_mem = usn_worker_mem_alloc(w, t->sd_mem_size);
	/* IPv6 connections' addresses, beside the TCBs (tcp_int.h). */
	if (w->stack->n_ip6) {
		t->a6_mem_size = (size_t)n * sizeof *t->a6;
		t->a6 = usn_worker_mem_alloc(w, t->a6_mem_size);
		t->bucket6 = usn_worker_mem_alloc(w, nb * sizeof(uint32_t));
	}
	if (!t->tcb_mem || !t->bucket || !t->sd_mem || (w->stack->n_ip6 && (!t->a6 || !t->bucket6))) {
		usn_tcp_worker_destroy(w, t);
		return NULL;
	}
	usn_pool_init(&t->tcbs, t->tcb_mem, sizeof(struct usn_tcp_conn), n);
	usn_pool_init(&t->sds, t->sd_mem, sizeof(struct usn_tcp_sdesc), nsd);
	/* Half the descriptors are every connection's share, the other half
	 * shared (tcp_sendq_per_conn in usnet/stack.h). */
	t->sd_share = nsd / (2u * n);
	t->sd_surplus = nsd - t->sd_share * n;
	t->sd_conn_max = cfg->tcp_sendq_per_conn ? cfg->tcp_sendq_per_conn : 64;
	t->ooo_max_bufs = cfg->tcp_ooo_max_bufs ? cfg->tcp_ooo_max_bufs : 1024;
	t->bucket_mask = nb - 1;
	for (uint32_t i = 0; i < nb; i++) {
		t->bucket[i] = USN_TCP_NIL;
		if (t->bucket6)
			t->bucket6[i] = USN_TCP_NIL;
	}
	t->tw_head = t->tw_tail = USN_TCP_NIL;
	t->pend_head = t->pend_tail = USN_TCP_NIL;
	t->ev_head = t->ev_tail = USN_TCP_NIL;
	usn_tcp_gauges_init(t);
	t->ack_conn = USN_TCP_NIL;
	t->rx_last = &t->rx_recs;
	uint16_t mtu = cfg->mtu ? cfg->mtu : w->hal->mtu;
	t->mss_local[0] = (uint16_t)(mtu > 40 + 64 ? mtu - 40 : 64);
	/* A port without chained TX takes a frame of one buffer: a full segment
	 * (20 bytes of TCP header beyond the MSS's options) must fit in it.
	 * Chained anyway, the frame was the port's to mangle or refuse. */
	t->smss_max[0] = t->mss_local[0];
	if (!(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG) && w->hal->buf_size < USN_L4_OFF + 20u + t->smss_max[0])
		t->smss_max[0] = (uint16_t)(w->hal->buf_size > USN_L4_OFF + 20u + 64u ? w->hal->buf_size - USN_L4_OFF - 20u : 64u);
	/* IPv6: 20 bytes more of IP header (RFC 8200: MSS = MTU - 60). */
	t->mss_local[1] = (uint16_t)(mtu > 60 + 64 ? mtu - 60 : 64);
	t->smss_max[1] = t->mss_local[1];
	if (!(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG) && w->hal->buf_size < USN_L4_OFF6 + 20u + t->smss_max[1])
		t->smss_max[1] = (uint16_t)(w->hal->buf_size > USN_L4_OFF6 + 20u + 64u ? w->hal->buf_size - USN_L4_OFF6 - 20u : 64u);
	t->tso_max = tso_limit(w->hal, cfg, mtu);
	t->tso_max_segs = w->hal->tso_max_segs;
	derive_keys(w, t);
	/* What each timer of a TCB calls when it fires (tcp_timeout.c):
	 * wired here, at the top, so the lifecycle below need not name it. */
	t->on_timer = usn_tcp_timer_fn;
	t->on_delack = usn_tcp_delack_fn;
	t->on_deadline = usn_tcp_deadline_fn;
	t->port_cursor = (uint16_t)(USN_TCP_EPH_LO + (t->key_isn[0] % (USN_TCP_EPH_HI - USN_TCP_EPH_LO + 1)));
	return t;
}

/* Worker teardown: what the TCBs of one table chain hold. */
static void release_chain(struct usn_worker *w, struct usn_tcp_worker *t, uint32_t i)
{
	for (; i != USN_TCP_NIL; i = usn_tcp_at(t, i)->hnext) {
		struct usn_tcp_conn *c = usn_tcp_at(t, i);
		usn_tcp_ooo_free(c);
		usn_timer_cancel(&w->wheel, &c->timer);
		usn_timer_cancel(&w->wheel, &c->delack);
		usn_timer_cancel(&w->wheel, &c->deadline);
	}
}

void usn_tcp_worker_destroy(struct usn_worker *w, struct usn_tcp_worker *t)
{
	if (!t)
		return;
	if (t->tcbs.base) {
		/* Every live TCB is in a table (TIME-WAIT included; free ones
		 * are not to be read): return the frames its OOO queue holds,
		 * and take its timers off the wheel, which the worker keeps
		 * after this memory is gone (ARP's and ND's teardown cancel
		 * theirs later, unlinking neighbours that may be these). */
		for (uint32_t b = 0; b <= t->bucket_mask; b++) {
			release_chain(w, t, t->bucket[b]);
			if (t->bucket6)
				release_chain(w, t, t->bucket6[b]);
		}
	}
	usn_pool_fini(&t->tcbs);
	usn_pool_fini(&t->sds);
	if (t->tcb_mem)
		usn_worker_mem_free(w, t->tcb_mem, t->tcb_mem_size);
	if (t->bucket)
		usn_worker_mem_free(w, t->bucket, (size_t)(t->bucket_mask + 1) * sizeof(uint32_t));
	if (t->sd_mem)
		usn_worker_mem_free(w, t->sd_mem, t->sd_mem_size);
	if (t->a6)
		usn_worker_mem_free(w, t->a6, t->a6_mem_size);
	if (t->bucket6)
		usn_worker_mem_free(w, t->bucket6, (size_t)(t->bucket_mask + 1) * sizeof(uint32_t));
	usn_worker_mem_free(w, t, sizeof *t);
	if (w->tcp == t)
		w->tcp = NULL;
}

void usn_tcp_shared_destroy(struct usn_stack *s)
{
	free(s->tcp);
	s->tcp = NULL;
}

void usn_tcp_worker_flush(struct usn_worker *w)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	if (!t)
		return;
	/* Backpressure: with the TX batch full and the port refusing it, the
	 * rest stay pending for the next poll round. */
	while (t->pend_head != USN_TCP_NIL && usn_worker_tx_make_room(w)) {
		struct usn_tcp_conn *c = usn_tcp_pending_pop(t);
		/* The ACK process_data deferred to the end of the RX burst is
		 * due now: on the data that goes out, else a pure ACK. */
		if (c->ack_soon)
			c->flags |= USN_TF_ACK_NOW;
		usn_tcp_output(c);
	}
	usn_tcp_events_run(t); /* a connection output found unreachable */
}
