/* libusnet UDP (lib/udp, RFC 768, RFC 1122 4.1, RFC 8200 8.1): the
 * per-worker table of bound ports, datagram input to their handlers (port
 * unreachable for the rest), and output by reference or by writer, never
 * fragmented, over IPv4 and IPv6. Sits beside lib/tcp: IP input hands it
 * datagrams through the stack layer, and it calls lib/net for output and
 * ICMP errors. */
#include <errno.h>
#include <string.h>

#include "udp/udp.h"
#include "usnet/udp.h"

/* A bound port. port 0 marks a free slot. */
struct usn_udp_bound {
	uint16_t port;
	usn_udp_recv_fn fn;
	void *user;
};

/* Open addressing with linear probing over a power-of-two table at least
 * twice max, so a lookup is one or two probes; deletion shifts back
 * (no tombstones), as the ARP cache. Written only while no worker polls. */
struct usn_udp_worker {
	struct usn_udp_bound *tab;
	uint32_t cap, n, max;
};

static uint32_t usn_udp_home(const struct usn_udp_worker *u, uint16_t port)
{
	return ((uint32_t)port * 2654435761u) & (u->cap - 1); /* Knuth's multiplicative hash */
}

static struct usn_udp_bound *usn_udp_find(const struct usn_udp_worker *u, uint16_t port)
{
	uint32_t mask = u->cap - 1;
	if (port == 0)
		return NULL; /* 0 marks a free slot, never a bound port: a datagram to port 0 finds none */
	for (uint32_t i = usn_udp_home(u, port);; i = (i + 1) & mask) {
		struct usn_udp_bound *b = &u->tab[i];
		if (b->port == port)
			return b;
		if (b->port == 0)
			return NULL;
	}
}

struct usn_udp_worker *usn_udp_worker_create(struct usn_worker *w)
{
	struct usn_udp_worker *u = usn_worker_mem_alloc(w, sizeof(*u));
	if (!u)
		return NULL;
	u->max = w->stack->cfg.udp_max_ports;
	u->cap = 4;
	while (u->cap < 2 * u->max)
		u->cap <<= 1;
	u->tab = usn_worker_mem_alloc(w, sizeof(*u->tab) * u->cap);
	if (!u->tab) {
		usn_worker_mem_free(w, u, sizeof(*u));
		return NULL;
	}
	return u;
}

void usn_udp_worker_destroy(struct usn_worker *w, struct usn_udp_worker *u)
{
	usn_worker_mem_free(w, u->tab, sizeof(*u->tab) * u->cap);
	usn_worker_mem_free(w, u, sizeof(*u));
}

static void usn_udp_insert(struct usn_udp_worker *u, uint16_t port, usn_udp_recv_fn fn, void *user)
{
	uint32_t mask = u->cap - 1;
	uint32_t i = usn_udp_home(u, port);
	while (u->tab[i].port != 0)
		i = (i + 1) & mask;
	u->tab[i] = (struct usn_udp_bound){.port = port, .fn = fn, .user = user};
	u->n++;
}

/* Knuth 6.4 algorithm R: later entries of the run move up into the gap
 * unless their home lies cyclically in (gap, them]. */
static void usn_udp_remove(struct usn_udp_worker *u, struct usn_udp_bound *b)
{
	uint32_t mask = u->cap - 1;
	uint32_t i = (uint32_t)(b - u->tab);
	for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
		struct usn_udp_bound *f = &u->tab[j];
		if (f->port == 0)
			break;
		uint32_t h = usn_udp_home(u, f->port);
		bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
		if (!stays) {
			u->tab[i] = *f;
			i = j;
		}
	}
	u->tab[i] = (struct usn_udp_bound){0};
	u->n--;
}

int usn_udp_bind(struct usn_stack *s, uint16_t port, usn_udp_recv_fn fn, void *user)
{
	if (!s || port == 0 || !fn)
		return -EINVAL;
	/* Every worker holds the same ports: the first answers for all. */
	struct usn_udp_worker *u0 = s->workers[0]->udp;
	if (usn_udp_find(u0, port))
		return -EADDRINUSE;
	if (u0->n >= u0->max)
		return -ENOSPC;
	for (uint16_t i = 0; i < s->n_workers; i++)
		usn_udp_insert(s->workers[i]->udp, port, fn, user);
	return 0;
}

int usn_udp_unbind(struct usn_stack *s, uint16_t port)
{
	if (!s || port == 0 || !usn_udp_find(s->workers[0]->udp, port))
		return -ENOENT;
	for (uint16_t i = 0; i < s->n_workers; i++) {
		struct usn_udp_worker *u = s->workers[i]->udp;
		usn_udp_remove(u, usn_udp_find(u, port));
	}
	return 0;
}

/* ---- input ---- */

/* A parsed datagram: to the bound port's handler, or (none bound) port
 * unreachable through the family's error generator. Frees the frame. */
static void usn_udp_deliver(struct usn_worker *w, struct usn_buf *frame, const struct usn_net_l4 *l4,
			    const struct usn_udp_repr *r, const struct usn_addr *peer)
{
	const struct usn_udp_bound *b = usn_udp_find(w->udp, r->dst_port);
	if (!b) {
		/* RFC 1122 4.1.3.1, RFC 4443 3.1: SHOULD answer port
		 * unreachable; the generator applies the rules against it and
		 * the rate limit. */
		w->stats.drop_udp_no_port++;
		if (peer->family == USN_AF_INET6)
			usn_icmp6_error_send(w, frame, &l4->ip6, l4->l3, USN_ICMP6_DEST_UNREACH, USN_ICMP6_UNREACH_PORT,
					     0);
		else
			usn_icmp_error_send(w, frame, &l4->ip, l4->l3, USN_ICMP_DEST_UNREACH, USN_ICMP_UNREACH_PORT,
					    0);
		goto drop;
	}
	uint32_t n = (uint32_t)r->len - USN_UDP_HDR_LEN;
	w->stats.udp_rx_dgrams++;
	w->stats.udp_rx_bytes += n;
	usn_udp_recv_fn fn = b->fn;
	void *user = b->user;
	usn_prof_enter(w, USN_PROF_APP);
	fn(w, user, peer, r->src_port, r->dst_port, usn_cursor_take(usn_cursor_drop(l4->data, USN_UDP_HDR_LEN), n));
	usn_prof_leave(w);
drop:
	usn_worker_buf_free(w, frame);
}

/* A port that verified the sum says so; trust it (and only it). */
static bool usn_udp_csum_ok(const struct usn_buf *frame)
{
	return (frame->flags & (USN_BUF_RX_L4_CSUM_GOOD | USN_BUF_RX_CSUM_BAD)) == USN_BUF_RX_L4_CSUM_GOOD;
}

void usn_udp_input(struct usn_worker *w, struct usn_buf *frame, const struct usn_net_l4 *l4)
{
	struct usn_udp_repr r;
	switch (usn_udp_parse_ipv4(l4->data, l4->ip.src, l4->ip.dst, usn_udp_csum_ok(frame), &r)) {
	case USN_WIRE_OK:
		break;
	case USN_WIRE_CSUM:
		w->stats.drop_udp_csum++;
		goto drop;
	case USN_WIRE_LEN:
		w->stats.drop_udp_len++;
		goto drop;
	case USN_WIRE_SHORT:
	case USN_WIRE_VERSION:
	case USN_WIRE_HDRLEN:
	case USN_WIRE_BADOPT:
	case USN_WIRE_MALFORMED:
		w->stats.drop_udp_short++;
		goto drop;
	}
	struct usn_addr peer = usn_addr_ipv4(l4->ip.src);
	usn_udp_deliver(w, frame, l4, &r, &peer);
	return;
drop:
	usn_worker_buf_free(w, frame);
}

void usn_udp_input6(struct usn_worker *w, struct usn_buf *frame, const struct usn_net_l4 *l4)
{
	struct usn_udp_repr r;
	switch (usn_udp_parse_ipv6(l4->data, l4->ip6.src, l4->ip6.dst, usn_udp_csum_ok(frame), &r)) {
	case USN_WIRE_OK:
		break;
	case USN_WIRE_CSUM:
		w->stats.drop_udp_csum++;
		goto drop;
	case USN_WIRE_LEN:
		w->stats.drop_udp_len++;
		goto drop;
	case USN_WIRE_MALFORMED:
		w->stats.drop_udp6_zero_csum++; /* RFC 8200 8.1 */
		goto drop;
	case USN_WIRE_SHORT:
	case USN_WIRE_VERSION:
	case USN_WIRE_HDRLEN:
	case USN_WIRE_BADOPT:
		w->stats.drop_udp_short++;
		goto drop;
	}
	struct usn_addr peer = {.family = USN_AF_INET6};
	memcpy(peer.u.v6, l4->ip6.src, 16);
	usn_udp_deliver(w, frame, l4, &r, &peer);
	return;
drop:
	usn_worker_buf_free(w, frame);
}

/* ---- output ---- */

uint32_t usn_udp_max_payload(const struct usn_worker *w, uint8_t family)
{
	uint32_t l3 = family == USN_AF_INET6 ? USN_IPV6_HDR_LEN : family == USN_AF_INET ? USN_IPV4_HDR_LEN : 0;
	uint32_t mtu = w->stack->cfg.mtu;
	if (l3 == 0 || mtu < l3 + USN_UDP_HDR_LEN)
		return 0;
	uint32_t max = mtu - l3 - USN_UDP_HDR_LEN;
	if (!(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG)) {
		uint32_t hdrs = USN_ETH_HDR_LEN + l3 + USN_UDP_HDR_LEN;
		uint32_t one = w->hal->buf_size > hdrs ? (uint32_t)w->hal->buf_size - hdrs : 0;
		if (one < max)
			max = one;
	}
	return max;
}

/* A frame of `total` bytes, chained where the port takes chains, with the
 * headers (hdrs bytes) in the first buffer. NULL and *rc set if not. */
static struct usn_buf *usn_udp_frame_alloc(struct usn_worker *w, uint32_t total, uint32_t hdrs, int *rc)
{
	struct usn_buf *head = usn_worker_buf_alloc(w);
	*rc = -ENOBUFS;
	if (!head)
		return NULL;
	head->frame_len = total;
	if (total <= head->room) {
		head->len = (uint16_t)total;
		return head;
	}
	if (!(w->hal->offloads & USN_HAL_OFF_TX_MULTISEG) || head->room < hdrs) {
		*rc = -EMSGSIZE; /* this port's buffers cannot carry it */
		goto fail;
	}
	head->len = head->room;
	struct usn_buf *tail = head;
	for (uint32_t left = total - head->room; left;) {
		struct usn_buf *b = usn_worker_buf_alloc(w);
		if (!b || b->room == 0) {
			usn_worker_buf_free(w, b);
			goto fail;
		}
		b->len = (uint16_t)(left < b->room ? left : b->room);
		left -= b->len;
		tail->next = b;
		tail = b;
	}
	return head;
fail:
	usn_worker_buf_free(w, head);
	return NULL;
}

/* Where the datagram goes (dst of a family the stack carries): IPv4's
 * next hop, or IPv6's with our source address for it. 0, or the send's
 * error. */
struct usn_udp_route {
	bool v6;
	uint8_t src6[16];
};

static int usn_udp_route(struct usn_worker *w, const struct usn_addr *dst, struct usn_udp_route *rt)
{
	if (dst->family == USN_AF_INET) {
		uint32_t next_hop = usn_ipv4_next_hop(w, dst->u.v4);
		if (next_hop == 0)
			return -EHOSTUNREACH;
		/* Refuse now rather than lose the datagram after the call said 0. */
		if (!usn_worker_tx_make_room(w) || !usn_arp_can_send(w, next_hop))
			return -EAGAIN;
		rt->v6 = false;
		return 0;
	}
	uint8_t hop[16];
	if (!usn_ipv6_next_hop(w, dst->u.v6, hop))
		return -EHOSTUNREACH;
	if (usn_ipv6_src_select(w, dst->u.v6, rt->src6) != 0)
		return -EADDRNOTAVAIL;
	if (!usn_worker_tx_make_room(w) || !usn_nd_can_send(w, hop))
		return -EAGAIN;
	rt->v6 = true;
	return 0;
}

static int usn_udp_send(struct usn_worker *w, uint16_t src_port, const struct usn_addr *dst, uint16_t dst_port,
			uint32_t len, const void *data, const struct usn_csum_table *csum, usn_udp_write_fn fn,
			void *arg)
{
	if (!w || !dst || src_port == 0 || dst_port == 0)
		return -EINVAL;
	if (dst->family != USN_AF_INET && (dst->family != USN_AF_INET6 || w->stack->n_ip6 == 0))
		return -EAFNOSUPPORT;
	if (len > usn_udp_max_payload(w, dst->family))
		return -EMSGSIZE; /* no fragmentation (RFC 8900) */
	struct usn_udp_route rt;
	int rc = usn_udp_route(w, dst, &rt);
	if (rc != 0)
		return rc;
	uint32_t l4_off = rt.v6 ? USN_L4_OFF6 : USN_L4_OFF;
	uint32_t l4_len = USN_UDP_HDR_LEN + len;
	struct usn_buf *frame = usn_udp_frame_alloc(w, l4_off + l4_len, l4_off + USN_UDP_HDR_LEN, &rc);
	if (!frame)
		return rc;
	struct usn_cursor payload = usn_cursor_drop(usn_cursor_of_frame(frame), l4_off + USN_UDP_HDR_LEN);
	uint32_t sum;
	usn_prof_enter(w, USN_PROF_COPY);
	if (fn) {
		fn(arg, payload);
		sum = usn_cursor_csum(payload);
	} else if (len) {
		usn_cursor_write(payload, data, len);
		sum = csum ? usn_csum_table_range(csum, 0, len) : usn_csum_partial(data, len, 0);
	} else {
		sum = 0; /* an empty datagram; data may be NULL */
	}
	usn_prof_leave(w);
	struct usn_udp_repr r = {.src_port = src_port, .dst_port = dst_port, .len = (uint16_t)l4_len};
	if (rt.v6) {
		usn_udp_emit_ipv6(&r, rt.src6, dst->u.v6, frame->data + l4_off, sum);
		rc = usn_ipv6_output(w, frame, rt.src6, dst->u.v6, USN_IPPROTO_UDP, (uint16_t)l4_len);
	} else {
		usn_udp_emit_ipv4(&r, w->stack->cfg.ip, dst->u.v4, frame->data + l4_off, sum);
		rc = usn_ipv4_output(w, frame, dst->u.v4, USN_IPPROTO_UDP, (uint16_t)l4_len);
	}
	if (rc == 0) {
		w->stats.udp_tx_dgrams++;
		w->stats.udp_tx_bytes += len;
	}
	return rc;
}

int usn_udp_send_ref(struct usn_worker *w, uint16_t src_port, const struct usn_addr *dst, uint16_t dst_port,
		     const void *data, uint32_t len, const struct usn_csum_table *csum)
{
	if (!data && len)
		return -EINVAL;
	if (csum && csum->len != len)
		return -EINVAL;
	return usn_udp_send(w, src_port, dst, dst_port, len, data, csum, NULL, NULL);
}

int usn_udp_send_writer(struct usn_worker *w, uint16_t src_port, const struct usn_addr *dst, uint16_t dst_port,
			uint32_t len, usn_udp_write_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	return usn_udp_send(w, src_port, dst, dst_port, len, NULL, NULL, fn, arg);
}
