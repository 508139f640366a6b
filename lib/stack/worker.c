/* libusnet worker loop (lib/stack): the poll round (clock, RX burst,
 * software RSS, GRO, protocol input, inter-worker messages, timers, TCP
 * flush, TX flush), the idle back-off, and the published statistics. The
 * one place where the layers meet: frames go down to lib/net, the TCP
 * segments it finds to lib/tcp, messages to ARP. */
#define _POSIX_C_SOURCE 200809L

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/worker.h"
#include "net/net.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "wire/wire.h"

/* Statistics are published at most this often while busy (worker time). */
#define USN_PUB_INTERVAL_US 1000u
/* Messages taken from each inbound ring per round, so a busy peer cannot
 * starve this worker's own queue. */
#define USN_INBOX_BURST 128u

/* ---- input ---- */

/* An ICMP error about one of our TCP segments goes to the worker that owns
 * the quoted connection (the port's RSS or worker 0 placed it by its own
 * addresses, not the connection's), which reads it again from the start;
 * on that worker, to TCP. Consumes the frame. */
static void usn_worker_icmp_err(struct usn_worker *w, struct usn_buf *frame, const struct usn_icmp_err_repr *e)
{
	bool v6 = e->family == USN_AF_INET6;
	uint16_t owner = v6 ? usn_stack_flow_worker6(w->stack, e->src6, e->src_port, e->dst6, e->dst_port)
			    : usn_stack_flow_worker(w->stack, e->src, e->src_port, e->dst, e->dst_port);
	if (owner != w->id) {
		struct usn_msg m = {.type = USN_MSG_FRAME, .ptr = frame};
		if (usn_worker_post(w, owner, &m)) {
			w->stats.steer_tx++;
		} else {
			w->stats.drop_steer_full++;
			usn_worker_buf_free(w, frame);
		}
		return;
	}
	usn_prof_enter(w, USN_PROF_TCP_IN);
	usn_tcp_icmp_error(w, e);
	usn_prof_leave(w);
	usn_worker_buf_free(w, frame);
}

/* The frames of one burst this worker handles: GRO across the burst, then
 * each frame through Ethernet, ARP/IPv4 and ICMP (lib/net), the TCP
 * segments among them to lib/tcp, the UDP datagrams to lib/udp. Consumes
 * them all. */
static void usn_worker_input(struct usn_worker *w, struct usn_buf **frames, uint16_t n)
{
	usn_prof_enter(w, USN_PROF_NET);
	usn_net_gro_burst(w, frames, n);
	for (uint16_t i = 0; i < n; i++) {
		struct usn_net_l4 l4;
		if (!frames[i])
			continue;
		switch (usn_net_input(w, frames[i], &l4)) {
		case USN_NET_DONE:
			break;
		case USN_NET_TCP:
			usn_prof_enter(w, USN_PROF_TCP_IN);
			usn_tcp_input(w, frames[i], &l4.ip, NULL, l4.data);
			usn_prof_leave(w);
			break;
		case USN_NET_ICMP_ERR:
			usn_worker_icmp_err(w, frames[i], &l4.err);
			break;
		case USN_NET_UDP:
			usn_udp_input(w, frames[i], &l4);
			break;
		case USN_NET_UDP6:
			usn_udp_input6(w, frames[i], &l4);
			break;
		case USN_NET_TCP6:
			usn_prof_enter(w, USN_PROF_TCP_IN);
			usn_tcp_input(w, frames[i], NULL, &l4.ip6, l4.data);
			usn_prof_leave(w);
			break;
		}
	}
	usn_prof_leave(w);
}

/* Steered frames go to the protocol layers in bursts, as received ones do. */
static void usn_worker_input_steered(struct usn_worker *w, struct usn_buf **frames, uint16_t *n)
{
	if (*n == 0)
		return;
	usn_worker_input(w, frames, *n);
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
			case USN_MSG_ND:
				usn_worker_input_steered(w, frames, &n);
				usn_nd_learn_msg(w, m.ip6, m.mac);
				break;
			case USN_MSG_ND_ADV:
				usn_worker_input_steered(w, frames, &n);
				usn_nd_adv_msg(w, m.ip6, m.mac);
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

void usn_worker_start(struct usn_worker *w)
{
	usn_worker_read_clock(w);
	if (w->id == 0)
		usn_arp_announce(w);
	if (w->id == 0 && w->nd)
		usn_nd_start(w);
	usn_worker_flush(w);
	usn_worker_free_flush(w);
	usn_worker_publish(w);
}

/* Software RSS (worker 0 on a port without RSS): the worker an IPv4/TCP
 * or IPv4/UDP frame belongs to, by usn_stack_flow_worker over its 4-tuple
 * (as active open chooses; a UDP port is bound on every worker, so any
 * worker answers its datagrams); 0
 * for everything else (ARP, ICMP, fragments and malformed frames stay with
 * worker 0, whose input counts and drops what it must). The headers are
 * read with the wire parsers; the IPv4 sum is left to the worker that
 * takes the frame. A hash the port may have reported is not that
 * function, so it is not used. */
/* The same for an IPv6/TCP or IPv6/UDP frame by usn_stack_flow_worker6
 * (extension headers walked by the parser; ND, ICMPv6, fragments and
 * malformed frames stay with worker 0). */
static uint16_t usn_worker_steer_target6(const struct usn_worker *w, struct usn_cursor l3)
{
	struct usn_ipv6_repr ip;
	uint16_t sport, dport;
	if (usn_ipv6_parse(l3, &ip) != USN_IPV6_OK ||
	    (ip.next_header != USN_IPPROTO_TCP && ip.next_header != USN_IPPROTO_UDP) || ip.fragment)
		return 0;
	struct usn_cursor l4 = usn_cursor_drop(usn_cursor_take(l3, USN_IPV6_HDR_LEN + (uint32_t)ip.payload_len), ip.hdr_len);
	if (usn_tcp_ports_parse(l4, &sport, &dport) != USN_WIRE_OK)
		return 0;
	return usn_stack_flow_worker6(w->stack, ip.src, sport, ip.dst, dport);
}

static uint16_t usn_worker_steer_target(const struct usn_worker *w, struct usn_buf *b)
{
	struct usn_cursor c = usn_cursor_of_frame(b);
	struct usn_eth_repr eth;
	struct usn_ipv4_repr ip;
	uint16_t sport, dport;
	if (usn_eth_parse(c, &eth) != USN_WIRE_OK)
		return 0;
	struct usn_cursor l3 = usn_cursor_drop(c, eth.hdr_len);
	if (eth.ethertype == USN_ETHERTYPE_IPV6 && w->stack->n_ip6)
		return usn_worker_steer_target6(w, l3);
	if (eth.ethertype != USN_ETHERTYPE_IPV4)
		return 0;
	if (usn_ipv4_parse(l3, &ip, true) != USN_WIRE_OK ||
	    (ip.proto != USN_IPPROTO_TCP && ip.proto != USN_IPPROTO_UDP) || usn_ipv4_is_fragment(&ip))
		return 0;
	/* UDP's ports sit where TCP's do: the first four bytes. */
	if (usn_tcp_ports_parse(usn_cursor_drop(usn_cursor_take(l3, ip.total_len), ip.hdr_len), &sport, &dport) !=
	    USN_WIRE_OK)
		return 0;
	return usn_stack_flow_worker(w->stack, ip.src, sport, ip.dst, dport);
}

/* On a port with RSS, an IPv6 flow is worker 0's (usn_stack_flow_worker6):
 * the ports here hash IPv4 only. Most put the rest on queue 0, but a
 * classifier may place IPv6 frames elsewhere (the TILE-Gx emulation hashes
 * non-IPv4 frames by their MAC addresses): another worker hands each IPv6
 * frame it receives to worker 0 (ipv6_to_worker0). Worker 0 for an IPv6
 * frame, this worker for the rest. */
static uint16_t usn_worker_ipv6_home(const struct usn_worker *w, struct usn_buf *b)
{
	struct usn_eth_repr eth;
	if (usn_eth_parse(usn_cursor_of_frame(b), &eth) == USN_WIRE_OK && eth.ethertype == USN_ETHERTYPE_IPV6)
		return 0;
	return w->id;
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
	bool v6_home = w->stack->ipv6_to_worker0 && w->id != 0;
	uint16_t mine = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct usn_buf *b = rx[i];
		if (i + 1 < n)
			__builtin_prefetch(rx[i + 1]->data);
		w->stats.rx_bytes += b->frame_len;
		if (steer || v6_home) {
			uint16_t dst = steer ? usn_worker_steer_target(w, b) : usn_worker_ipv6_home(w, b);
			if (dst != w->id) {
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
	if (mine)
		usn_worker_input(w, rx, mine);
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
