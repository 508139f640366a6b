/* Simulation test: TCP backpressure from a full TX ring. The sending host's
 * port is a simulated port behind a HAL that takes at most K frames per poll
 * round, like a small NIC ring, and refuses the rest; TCP must wait for room
 * (lib/tcp/tcp_output.c output_data, lib/tcp/tcp_api.c usn_tcp_worker_flush)
 * instead of queueing frames the worker drops (tx_full) and resends later.
 * Every case runs over IPv4 and again over IPv6 (its name then ends in _v6). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "simnet.h"
#include "usnet/tcp.h"

#define PAT_LEN (1u << 20)
#define CHUNK (64u * 1024u)
#define PORT 5001
#define RING_K 8         /* frames the sender's port takes per poll round */
#define HELD_MAX 256     /* more than the worker's TX batch ever holds */
#define MAX_CONNS 512
#define TIMEWAIT_MS 2000 /* virtual time; the test only waits it out once */
#define N_SHORT 200
#define BULK_BYTES (6u << 20)

static uint8_t pattern[PAT_LEN];

static void pattern_init(void)
{
	uint32_t x = 0x9e3779b9u;
	for (uint32_t i = 0; i < PAT_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pattern[i] = (uint8_t)x;
	}
}

/* ---- the ring: a HAL over a simulated port, K frames per poll round ---- */

struct held_frame {
	struct usn_buf *buf;
	uint32_t sum; /* the frame's bytes when first refused */
};

struct ring_hal {
	struct usn_hal hal; /* the stack's view (first: ring_of) */
	struct usn_hal *inner;
	uint16_t k;      /* 0: no limit */
	uint32_t budget; /* what this round may still take */
	uint64_t rounds;
	uint64_t accepted;     /* frames taken (and passed to the simulated port) */
	uint64_t refused;      /* distinct frames refused at least once */
	uint64_t refusals;     /* refusals counted per burst (a frame may be refused again) */
	uint64_t resent;       /* refused frames taken later */
	uint64_t order_errors; /* a burst that did not start with the refused frames, in order */
	uint64_t content_errors;
	uint16_t held_n, held_max;
	struct held_frame held[HELD_MAX];
};

static struct ring_hal *ring_of(struct usn_hal *hal)
{
	return (struct ring_hal *)((char *)hal - offsetof(struct ring_hal, hal));
}

static uint32_t frame_sum(const struct usn_buf *f)
{
	uint32_t h = 2166136261u; /* FNV-1a over the chain */
	for (const struct usn_buf *b = f; b; b = b->next)
		for (uint16_t i = 0; i < b->len; i++)
			h = (h ^ b->data[i]) * 16777619u;
	return h ^ f->frame_len;
}

/* Every poll round starts with one rx_burst (one queue): the ring drains. */
static uint16_t ring_rx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct ring_hal *r = ring_of(hal);
	r->rounds++;
	r->budget = r->k ? r->k : UINT32_MAX;
	return r->inner->ops->rx_burst(r->inner, queue, bufs, n);
}

static uint16_t ring_tx_burst(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct ring_hal *r = ring_of(hal);
	/* The frames refused before come first, in order, and unchanged. */
	uint16_t prev = 0;
	while (prev < r->held_n && prev < n && bufs[prev] == r->held[prev].buf)
		prev++;
	if (prev < r->held_n)
		r->order_errors++;
	uint16_t take = n < r->budget ? n : (uint16_t)r->budget;
	for (uint16_t i = 0; i < take && i < prev; i++) {
		if (frame_sum(bufs[i]) != r->held[i].sum)
			r->content_errors++;
		r->resent++;
	}
	/* The refused tail stays the caller's: record it before the port
	 * takes (and frees) the head. */
	struct held_frame next[HELD_MAX];
	uint16_t next_n = (uint16_t)(n - take);
	if (next_n > HELD_MAX) {
		r->order_errors++; /* cannot track it: fail rather than guess */
		next_n = HELD_MAX;
	}
	for (uint16_t j = 0; j < next_n; j++) {
		uint16_t i = (uint16_t)(take + j);
		if (i < prev) {
			next[j] = r->held[i];
		} else {
			next[j].buf = bufs[i];
			next[j].sum = frame_sum(bufs[i]);
			r->refused++;
		}
	}
	uint16_t sent = take ? r->inner->ops->tx_burst(r->inner, queue, bufs, take) : 0;
	if (sent != take)
		r->order_errors++; /* the simulated port takes everything */
	r->budget -= sent;
	r->accepted += sent;
	r->refusals += (uint64_t)(n - sent);
	memcpy(r->held, next, next_n * sizeof next[0]);
	r->held_n = next_n;
	if (next_n > r->held_max)
		r->held_max = next_n;
	return sent;
}

static uint16_t ring_alloc_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct ring_hal *r = ring_of(hal);
	return r->inner->ops->alloc_bulk(r->inner, queue, bufs, n);
}

static void ring_free_bulk(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n)
{
	struct ring_hal *r = ring_of(hal);
	r->inner->ops->free_bulk(r->inner, queue, bufs, n);
}

static uint64_t ring_clock_cycles(struct usn_hal *hal)
{
	struct ring_hal *r = ring_of(hal);
	return r->inner->ops->clock_cycles(r->inner);
}

static const struct usn_hal_ops ring_ops = {
    .rx_burst = ring_rx_burst,
    .tx_burst = ring_tx_burst,
    .alloc_bulk = ring_alloc_bulk,
    .free_bulk = ring_free_bulk,
    .clock_cycles = ring_clock_cycles,
    .mem_alloc = NULL, /* the simulated port has none either: malloc */
    .mem_free = NULL,
};

static void ring_init(struct ring_hal *r, struct usn_hal *inner, uint16_t k)
{
	memset(r, 0, sizeof *r);
	r->hal = *inner;
	r->hal.ops = &ring_ops;
	r->inner = inner;
	r->k = k;
	r->budget = k ? k : UINT32_MAX; /* usn_worker_start sends before any round */
}

/* ---- two hosts on one link, each stack on its ring ---- */

struct rig {
	struct simnet net;
	struct ring_hal ring[2]; /* [0] host A, the sender; [1] host B */
	bool v6;		 /* the connections go over IPv6 (2001:2::2 to 2001:2::1) */
};

/* The family a case runs over: its prestate (cmocka_unit_test_prestate). */
static const bool fam_v4 = false, fam_v6 = true;
#define FAM(st) (*(const bool *)*(st))
/* A case twice: over IPv4 under its name, over IPv6 as name_v6. */
#define BOTH_FAMILIES(f) {#f, f, NULL, NULL, (void *)&fam_v4}, {#f "_v6", f, NULL, NULL, (void *)&fam_v6}

/* Host n's IPv6 address, 2001:2::n (RFC 5180's benchmarking prefix). */
static void rig_ip6(uint8_t n, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[15] = n;
}

/* Host idx's address in the rig's family: SIMNET_IP(0, idx + 1) or
 * 2001:2::(idx + 1). */
static struct usn_addr rig_addr(const struct rig *g, int idx)
{
	struct usn_addr a = usn_addr_ipv4(g->net.host[idx].ip);
	if (g->v6) {
		a.family = USN_AF_INET6;
		rig_ip6((uint8_t)(idx + 1), a.u.v6);
	}
	return a;
}

/* As simnet_add_host, but the stack runs on the ring over the port (the
 * simnet_host_hal hook is not overridden: the tilegx build of the sim
 * suites links its own). */
static struct simnet_host *rig_add_host(struct rig *g, int idx, uint32_t ip, uint16_t k)
{
	struct simnet *n = &g->net;
	assert_int_equal(n->n, idx);
	struct simnet_host *h = &n->host[idx];
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	uint8_t mac[6] = {0x02, 0x00, 0xc6, 0x12, (uint8_t)(ip >> 8), (uint8_t)ip};
	memcpy(pc.mac, mac, 6);
	pc.offloads = simnet_env_offloads();
	h->port = usn_sim_port_create(n->link, &pc);
	assert_non_null(h->port);
	ring_init(&g->ring[idx], usn_sim_port_hal(h->port), k);

	struct usn_stack_config c;
	usn_stack_config_init(&c, ip, 15);
	memcpy(c.mac, mac, 6);
	c.tcp_max_conns = MAX_CONNS;
	c.tcp_max_timewait = MAX_CONNS;
	c.tcp_timewait_ms = TIMEWAIT_MS;
	c.tcp_cookie_secret[0] = 0x5eed;
	c.tcp_cookie_secret[1] = (uint32_t)idx + 1; /* fixed ISNs: the run replays */
	if (g->v6) {
		/* IPv4 stays configured (ARP and all): the connections choose. */
		c.ipv6 = true;
		c.ipv6_no_dad = true;
		c.n_ip6 = 1;
		c.ip6[0].prefix_len = 64;
		rig_ip6((uint8_t)(idx + 1), c.ip6[0].addr);
	}
	char msg[160];
	if (usn_stack_config_check(&c, &g->ring[idx].hal, msg, sizeof msg) != 0)
		fail_msg("config: %s", msg);
	h->stack = usn_stack_create(&g->ring[idx].hal, &c);
	assert_non_null(h->stack);
	h->ip = ip;
	n->n++;
	return h;
}

static void on_probe_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	*(int *)user = (int)why + 1;
}

static bool probe_done(void *arg)
{
	return *(int *)arg != 0;
}

/* Host A behind a ring of k_a frames per round, host B behind k_b (0: no
 * limit); 100 us each way; the connections over IPv6 if v6. */
static void rig_init_k(struct rig *g, bool v6, uint64_t seed, uint16_t k_a, uint16_t k_b)
{
	memset(g, 0, sizeof *g);
	g->v6 = v6;
	simnet_init(&g->net, seed);
	rig_add_host(g, 0, SIMNET_IP(0, 1), k_a);
	rig_add_host(g, 1, SIMNET_IP(0, 2), k_b);
	struct usn_sim_faults f;
	memset(&f, 0, sizeof f);
	f.delay_us = 100;
	usn_sim_port_set_faults(g->net.host[0].port, &f);
	usn_sim_port_set_faults(g->net.host[1].port, &f);
	/* Both ports exist before either announces itself: every frame a
	 * ring takes reaches the other host. */
	for (int i = 0; i < 2; i++)
		usn_worker_start(usn_stack_worker(g->net.host[i].stack, 0));
	/* ARP (or Neighbour Discovery) resolved both ways first (a connection
	 * refused by RST): B holds at most arp_queue_len frames while it
	 * resolves A, and 200 SYNs at once would lose the rest there. */
	static const struct usn_tcp_handlers probe = {.closed_fn = on_probe_closed};
	int why = 0;
	struct usn_addr a = rig_addr(g, 0);
	assert_non_null(usn_tcp_connect_addr(usn_stack_worker(g->net.host[1].stack, 0), &a, PORT + 1, &probe, &why));
	assert_true(simnet_run_until(&g->net, probe_done, &why, 1000000));
	assert_int_equal(why, USN_TCP_CLOSE_REFUSED + 1);
}

/* Host A (the sender) behind a K-frame ring, host B behind an unlimited
 * one (the receiver's ACKs are not what is tested). */
static void rig_init(struct rig *g, bool v6, uint64_t seed)
{
	rig_init_k(g, v6, seed, RING_K, 0);
}

/* What an initial window holds (RFC 6928: 10 segments of the MSS less the
 * timestamp option): the MSS is the MTU less 40 over IPv4 (1460), less 60
 * over IPv6 (1440). */
static uint32_t iw_bytes(const struct rig *g)
{
	uint32_t mss = usn_stack_config(g->net.host[0].stack)->mtu - (g->v6 ? 60u : 40u);
	return 10u * (mss - 12u);
}

/* ---- the application: A sends, B receives and checks every byte ---- */

struct conn {
	struct usn_tcp_conn *c;
	uint32_t pat_off; /* where in the pattern this connection's stream starts */
	uint64_t to_send, queued, acked;
	uint64_t rx, rx_bad;
	int connected, closed;
	bool closing;
	enum usn_tcp_close_reason why;
};

struct side {
	struct conn conns[N_SHORT];
	int n;
	uint64_t send; /* what each accepted connection sends; 0: IW (10 segments) */
};

/* The stream offset a connection's data starts at, from the client's port:
 * both ends agree, and connections do not share a stream. */
static uint32_t stream_off(uint16_t client_port)
{
	return ((uint32_t)client_port * 7919u) % (PAT_LEN - CHUNK);
}

static void pat_writer(void *arg, uint32_t off, uint32_t len, struct usn_cursor dst)
{
	const uint8_t *base = arg;
	usn_cursor_write(dst, base + off, len);
}

/* Queues up to four chunks ahead of the acknowledgments, alternating
 * send_ref and the writer; closes after the last byte. */
static void conn_pump(struct conn *a)
{
	while (a->queued < a->to_send && a->queued - a->acked < 4 * CHUNK) {
		uint32_t pos = (uint32_t)((a->pat_off + a->queued) % PAT_LEN);
		uint32_t n = CHUNK;
		if (a->to_send - a->queued < n)
			n = (uint32_t)(a->to_send - a->queued);
		if (PAT_LEN - pos < n)
			n = PAT_LEN - pos;
		int rc = (a->queued / CHUNK) % 2 ? usn_tcp_send_writer(a->c, n, pat_writer, pattern + pos)
						 : usn_tcp_send_ref(a->c, pattern + pos, n, NULL);
		assert_int_equal(rc, 0);
		a->queued += n;
	}
	if (!a->closing && a->queued == a->to_send) {
		a->closing = true;
		assert_int_equal(usn_tcp_close(a->c), 0);
	}
}

static void on_cli_connected(struct usn_tcp_conn *c, void *user)
{
	(void)c;
	struct conn *a = user;
	a->connected++;
}

/* Server side: a slot for the accepted connection, and its data queued. */
static void on_srv_connected(struct usn_tcp_conn *c, void *user)
{
	struct side *s = user;
	assert_true(s->n < N_SHORT);
	struct conn *a = &s->conns[s->n++];
	memset(a, 0, sizeof *a);
	a->c = c;
	a->connected = 1;
	struct usn_tcp_info i;
	usn_tcp_info(c, &i);
	a->pat_off = stream_off(i.remote_port);
	/* The initial window exactly (RFC 6928: 10 segments of the MSS less
	 * the timestamp option), all of it sendable at once. */
	a->to_send = s->send ? s->send : 10u * (i.mss - (i.ts_ok ? 12u : 0u));
	usn_tcp_set_user(c, a);
	conn_pump(a);
}

static void on_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	struct conn *a = user;
	uint8_t buf[2048];
	while (usn_cursor_size(d)) {
		size_t n = usn_cursor_read(d, buf, sizeof buf);
		for (size_t i = 0; i < n; i++)
			if (buf[i] != pattern[(a->pat_off + a->rx + i) % PAT_LEN])
				a->rx_bad++;
		a->rx += n;
		d = usn_cursor_drop(d, (uint32_t)n);
	}
}

static void on_sent(struct usn_tcp_conn *c, void *user, uint32_t bytes)
{
	(void)c;
	struct conn *a = user;
	a->acked += bytes;
	conn_pump(a);
}

static void on_remote_closed(struct usn_tcp_conn *c, void *user)
{
	struct conn *a = user;
	if (!a->closing) {
		a->closing = true;
		assert_int_equal(usn_tcp_close(c), 0);
	}
}

static void on_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct conn *a = user;
	a->closed++;
	a->why = why;
}

static const struct usn_tcp_handlers srv_handlers = {
	.connected_fn = on_srv_connected,
	.recv_fn = on_recv,
	.sent_fn = on_sent,
	.remote_closed_fn = on_remote_closed,
	.closed_fn = on_closed,
};

static const struct usn_tcp_handlers cli_handlers = {
	.connected_fn = on_cli_connected,
	.recv_fn = on_recv,
	.sent_fn = on_sent,
	.remote_closed_fn = on_remote_closed,
	.closed_fn = on_closed,
};

struct done {
	struct conn *cli;
	int n;
	struct side *srv;
};

static bool all_closed(void *arg)
{
	struct done *d = arg;
	if (d->srv->n < d->n)
		return false;
	for (int i = 0; i < d->n; i++)
		if (!d->cli[i].closed || !d->srv->conns[i].closed)
			return false;
	return true;
}

/* Client connections from host B to host A; each learns its stream offset
 * from its own port. */
static void clients_open(struct rig *g, struct conn *cli, int n, struct side *srv)
{
	struct usn_worker *wb = usn_stack_worker(g->net.host[1].stack, 0);
	struct usn_addr dst = rig_addr(g, 0);
	for (int i = 0; i < n; i++) {
		struct conn *a = &cli[i];
		memset(a, 0, sizeof *a);
		a->c = usn_tcp_connect_addr(wb, &dst, PORT, &cli_handlers, a);
		assert_non_null(a->c);
		struct usn_tcp_info inf;
		usn_tcp_info(a->c, &inf);
		a->pat_off = stream_off(inf.local_port);
	}
	struct done d = {cli, n, srv};
	bool ok = simnet_run_until(&g->net, all_closed, &d, 60000000ull);
	if (!ok || getenv("BP_DEBUG")) {
		const struct usn_stats *sa = usn_worker_stats(usn_stack_worker(g->net.host[0].stack, 0));
		const struct ring_hal *r = &g->ring[0];
		fprintf(stderr,
			"%s at %.3f s: srv.n %d; A tx_full %llu retrans %llu rto %llu tx_frames %llu; ring rounds %llu "
			"accepted %llu refused %llu refusals %llu resent %llu held max %u order %llu content %llu\n",
			ok ? "done" : "stuck", (double)simnet_now_us(&g->net) / 1e6, srv->n,
			(unsigned long long)sa->tx_full, (unsigned long long)sa->tcp_retrans_segs,
			(unsigned long long)sa->tcp_rto_fired, (unsigned long long)sa->tx_frames,
			(unsigned long long)r->rounds, (unsigned long long)r->accepted, (unsigned long long)r->refused,
			(unsigned long long)r->refusals, (unsigned long long)r->resent, r->held_max,
			(unsigned long long)r->order_errors, (unsigned long long)r->content_errors);
	}
	assert_true(ok);
}

/* What both scenarios must show: every byte arrived intact, nothing was
 * dropped at the ring (tx_full) or sent twice, and the ring did refuse
 * frames, which went out later, in order, unchanged. */
static void rig_check_and_destroy(struct rig *g, struct conn *cli, int n, struct side *srv)
{
	assert_int_equal(srv->n, n);
	for (int i = 0; i < n; i++) {
		struct conn *a = &cli[i], *s = &srv->conns[i];
		assert_int_equal(a->closed, 1);
		assert_int_equal(a->why, USN_TCP_CLOSE_NORMAL);
		assert_int_equal(s->closed, 1);
		assert_int_equal(s->why, USN_TCP_CLOSE_NORMAL);
		assert_int_equal(s->acked, s->to_send);
		assert_int_equal(s->rx, 0);
		assert_int_equal(a->rx_bad, 0);
	}
	uint64_t want = 0, got = 0;
	for (int i = 0; i < n; i++) {
		want += srv->conns[i].to_send;
		got += cli[i].rx; /* accept order is not connect order */
	}
	assert_int_equal(got, want);

	/* TIME-WAIT ends: every TCB back, and nothing left in flight. */
	simnet_run_for(&g->net, (TIMEWAIT_MS + 1000) * 1000ull);
	struct usn_worker *wa = usn_stack_worker(g->net.host[0].stack, 0);
	struct usn_worker *wb = usn_stack_worker(g->net.host[1].stack, 0);
	assert_int_equal(usn_tcp_free_tcbs(wa), MAX_CONNS);
	assert_int_equal(usn_tcp_free_tcbs(wb), MAX_CONNS);

	const struct usn_stats *sa = usn_worker_stats(wa);
	const struct usn_stats *sb = usn_worker_stats(wb);
	assert_int_equal(sa->tx_full, 0);
	assert_int_equal(sa->tcp_retrans_segs, 0);
	assert_int_equal(sa->tcp_rto_fired, 0);
	assert_int_equal(sb->tx_full, 0);
	assert_int_equal(sb->tcp_retrans_segs, 0);
	/* Every segment went over the rig's family. */
	assert_true(sa->tcp_rx_segs > 0 && sb->tcp_rx_segs > 0);
	assert_int_equal(sa->tcp6_rx_segs, g->v6 ? sa->tcp_rx_segs : 0);
	assert_int_equal(sb->tcp6_rx_segs, g->v6 ? sb->tcp_rx_segs : 0);

	const struct ring_hal *r = &g->ring[0];
	assert_true(r->refused > 0);
	assert_int_equal(r->order_errors, 0);
	assert_int_equal(r->content_errors, 0);
	assert_int_equal(r->held_n, 0);
	assert_int_equal(r->resent, r->refused); /* every refused frame went out later */
	assert_int_equal(g->ring[1].refused, 0);
	/* Delivered == accepted: what the ring took reached the simulated
	 * port, and the other host received every one of those frames (a
	 * large segment, USN_SIM_OFFLOADS=tso, as the frames it was cut into). */
	struct usn_sim_port_stats pa, pb;
	usn_sim_port_stats(g->net.host[0].port, &pa);
	usn_sim_port_stats(g->net.host[1].port, &pb);
	if (g->v6) {
		/* Over IPv6 the stack cuts and sums every segment itself (the
		 * port's TSO contract is IPv4's): the port cut nothing, and a
		 * TSO port's offer was declined, counted (stats.h). */
		assert_int_equal(pa.tso_frames, 0);
		assert_true(!(simnet_env_offloads() & USN_HAL_OFF_TX_TSO) || sa->tcp6_tso_skipped > 0);
	}
	uint64_t wire = r->accepted - pa.tso_frames + pa.tso_segs;
	assert_int_equal(pa.tso_frames, sa->tcp_tso_frames);
	assert_int_equal(sa->tx_frames, r->accepted);
	assert_int_equal(pa.tx_frames, wire);
	assert_int_equal(pb.rx_frames, wire);
	assert_int_equal(pb.rx_ring_full, 0);
	assert_int_equal(pa.tx_frames + pb.tx_frames, pa.rx_frames + pb.rx_frames);
	simnet_destroy(&g->net);
}

/* One connection, 6 MiB from A: slow start soon wants far more than K
 * frames a round, the batch fills, and output must wait for the ring. */
static void test_bulk_through_small_ring(void **st)
{
	struct rig *g = calloc(1, sizeof *g);
	struct side *srv = calloc(1, sizeof *srv);
	struct conn *cli = calloc(1, sizeof *cli);
	assert_non_null(g);
	assert_non_null(srv);
	assert_non_null(cli);
	/* With TSO a round wants a few large segments, not a window of
	 * frames: a ring of two is as tight. Over IPv6 the segments are the
	 * MSS whatever the port offers (no TSO there): the ring of K. */
	bool v6 = FAM(st);
	uint16_t k = (simnet_env_offloads() & USN_HAL_OFF_TX_TSO) && !v6 ? 2 : RING_K;
	rig_init_k(g, v6, 1, k, 0);
	srv->send = BULK_BYTES;
	assert_int_equal(usn_tcp_listen(g->net.host[0].stack, PORT, &srv_handlers, srv), 0);
	clients_open(g, cli, 1, srv);
	assert_int_equal(cli[0].rx, BULK_BYTES);
	/* A batch's worth waited in the worker at some point. */
	assert_true(g->ring[0].held_max > k);
	rig_check_and_destroy(g, cli, 1, srv);
	free(cli);
	free(srv);
	free(g);
}

/* 200 connections at once, each answered with a full initial window (10
 * segments) and a FIN: 2000 frames want out of an 8-frame ring together. */
static void test_many_initial_windows_through_small_ring(void **st)
{
	struct rig *g = calloc(1, sizeof *g);
	struct side *srv = calloc(1, sizeof *srv);
	struct conn *cli = calloc(N_SHORT, sizeof *cli);
	assert_non_null(g);
	assert_non_null(srv);
	assert_non_null(cli);
	rig_init(g, FAM(st), 2);
	assert_int_equal(usn_tcp_listen(g->net.host[0].stack, PORT, &srv_handlers, srv), 0);
	clients_open(g, cli, N_SHORT, srv);
	for (int i = 0; i < N_SHORT; i++)
		assert_int_equal(cli[i].rx, iw_bytes(g)); /* 10 * (1460 - 12) over IPv4: timestamps on */
	rig_check_and_destroy(g, cli, N_SHORT, srv);
	free(cli);
	free(srv);
	free(g);
}

/* The receiver's side: host B opens 200 connections and A answers each
 * with a full initial window at once, so B owes about 1,000 pure ACKs
 * while its own port takes 2 frames a round. An ACK that finds no room
 * waits for the next round (still due) instead of being built and dropped
 * (tx_full), which would leave A to retransmit on its timer. */
static void test_pure_acks_wait_for_room(void **st)
{
	struct rig *g = calloc(1, sizeof *g);
	struct side *srv = calloc(1, sizeof *srv);
	struct conn *cli = calloc(N_SHORT, sizeof *cli);
	assert_non_null(g);
	assert_non_null(srv);
	assert_non_null(cli);
	rig_init_k(g, FAM(st), 3, 0, 2);
	assert_int_equal(usn_tcp_listen(g->net.host[0].stack, PORT, &srv_handlers, srv), 0);
	clients_open(g, cli, N_SHORT, srv);
	uint64_t got = 0;
	const uint32_t iw = iw_bytes(g);
	for (int i = 0; i < N_SHORT; i++) {
		assert_int_equal(cli[i].rx, iw);
		assert_int_equal(cli[i].rx_bad, 0);
		assert_int_equal(cli[i].why, USN_TCP_CLOSE_NORMAL);
		got += cli[i].rx;
	}
	assert_int_equal(got, (uint64_t)N_SHORT * iw);
	const struct usn_stats *sa = usn_worker_stats(usn_stack_worker(g->net.host[0].stack, 0));
	const struct usn_stats *sb = usn_worker_stats(usn_stack_worker(g->net.host[1].stack, 0));
	const struct ring_hal *r = &g->ring[1];
	assert_true(r->refused > 0); /* B's ring did push back */
	assert_int_equal(r->order_errors, 0);
	assert_int_equal(r->content_errors, 0);
	assert_int_equal(sb->tx_full, 0);
	assert_int_equal(sa->tcp_rto_fired, 0);
	assert_int_equal(sa->tcp_retrans_segs, 0);
	assert_int_equal(sb->tcp6_rx_segs, g->v6 ? sb->tcp_rx_segs : 0);
	simnet_destroy(&g->net);
	free(cli);
	free(srv);
	free(g);
}

int main(void)
{
	/* A hang guard, not a speed check (the run takes well under a second
	 * of wall time): with output_data's wait but not the flush loop's, the
	 * loop re-queues the same connection forever at one instant. */
	alarm(30);
	pattern_init();
	const struct CMUnitTest tests[] = {
		BOTH_FAMILIES(test_bulk_through_small_ring),
		BOTH_FAMILIES(test_many_initial_windows_through_small_ring),
		BOTH_FAMILIES(test_pure_acks_wait_for_room),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
