/* Unit tests for what bounds a peer's hold on a worker's resources: the
 * out-of-order queue's buffers (small segments packed, a per-worker
 * budget), the buffers kept for control segments, the send descriptors per
 * connection, and segments kept to one buffer on a port without chained
 * TX. A stack on the simulated link and a raw peer port driving many
 * connections at once (tests/common/tcpseg.h); the port's buffer pool
 * shows what the stack holds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/worker.h"
#include "tcp/tcp_int.h"
#include "tcpseg.h"
#include "usnet/tcp.h"

#define SRV 80
#define PORT0 30000
#define PISS 7000u
#define MAXP 64

struct peer {
	uint16_t port;
	uint32_t siss, pnxt; /* the stack's ISS; the peer's next sequence number */
	struct usn_tcp_conn *c;
	uint32_t rx;
	int closed;
	enum usn_tcp_close_reason why;
};

struct fx {
	struct netfix nf;
	struct usn_stack_config cfg;
	struct usn_sim_port_config pcfg;
	struct peer p[MAXP];
	int np;
	uint8_t rx0[65536]; /* what peer 0's connection delivered */
	uint32_t answers;   /* TCP segments the stack sent, drained by fx_drain */
};

static uint8_t payload[65536];

static struct peer *peer_of(struct fx *x, struct usn_tcp_conn *c)
{
	struct usn_tcp_info i;
	usn_tcp_info(c, &i);
	for (int k = 0; k < x->np; k++)
		if (x->p[k].port == i.remote_port)
			return &x->p[k];
	fail_msg("no peer for port %u", (unsigned)i.remote_port);
	return NULL;
}

static void h_connected(struct usn_tcp_conn *c, void *user)
{
	peer_of(user, c)->c = c;
}
static void h_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	struct fx *x = user;
	struct peer *p = peer_of(x, c);
	uint32_t n = usn_cursor_size(d);
	if (p == &x->p[0] && p->rx + n <= sizeof x->rx0)
		usn_cursor_read(d, x->rx0 + p->rx, n);
	p->rx += n;
}
static void h_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	struct peer *p = peer_of(user, c);
	p->closed++;
	p->why = why;
	p->c = NULL;
}
static const struct usn_tcp_handlers H = {h_connected, h_recv, NULL, NULL, h_closed};

/* cfg/pcfg tweaks before the stack is made; then a listener on SRV. */
static struct fx *fx_new(void (*tweak)(struct fx *))
{
	struct fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	usn_stack_config_init(&x->cfg, NETFIX_STACK_IP, 15);
	x->cfg.tcp_timewait_ms = 1000;
	if (tweak)
		tweak(x);
	netfix_setup(&x->nf, &x->cfg, &x->pcfg);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 13 + (i >> 9));
	return x;
}

static void fx_free(struct fx *x)
{
	netfix_teardown(&x->nf);
	free(x);
}

static const struct usn_stats *st(struct fx *x)
{
	return usn_worker_stats(x->nf.w);
}

static struct usn_sim_port_stats port_stats(struct fx *x)
{
	struct usn_sim_port_stats ps;
	usn_sim_port_stats(x->nf.host->port, &ps);
	return ps;
}

/* Buffers neither in the port's pool nor in the worker's own cache: what
 * the stack holds in its queues (and frames in its TX or free batch,
 * which go back at the end of every poll round). */
static uint32_t held(struct fx *x)
{
	struct usn_sim_port_stats ps = port_stats(x);
	return ps.bufs_total - ps.bufs_free - x->nf.w->cache_n;
}

static struct tseg seg(const struct peer *p, uint8_t flags, uint32_t seq)
{
	struct tseg s;
	memset(&s, 0, sizeof s);
	s.src_port = p->port;
	s.dst_port = SRV;
	s.flags = flags;
	s.seq = seq;
	s.ack = p->siss + 1;
	s.window = 65535;
	return s;
}

/* The stack's next TCP segment (to any peer); false if none. */
static bool next_seg(struct fx *x, struct tseg *o)
{
	if (!tseg_recv(&x->nf, o))
		return false;
	assert_true(o->csum_ok);
	return true;
}

/* Drains and counts what the stack sent. */
static void fx_drain(struct fx *x)
{
	struct tseg o;
	while (next_seg(x, &o))
		x->answers++;
}

/* Opens connection k (SACK-permitted, MSS 1460, no timestamps). */
static struct peer *fx_open(struct fx *x)
{
	assert_true(x->np < MAXP);
	struct peer *p = &x->p[x->np++];
	p->port = (uint16_t)(PORT0 + x->np - 1);
	struct tseg s = seg(p, TSEG_SYN, PISS);
	s.ack = 0;
	s.has_mss = true;
	s.mss = 1460;
	s.sack_perm = true;
	tseg_send(&x->nf, &s);
	struct tseg o;
	assert_true(next_seg(x, &o));
	assert_int_equal(o.flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o.dst_port, p->port);
	p->siss = o.seq;
	p->pnxt = PISS + 1;
	s = seg(p, TSEG_ACK, p->pnxt);
	tseg_send(&x->nf, &s);
	assert_non_null(p->c);
	return p;
}

/* n bytes of payload from the peer's stream, at offset off past its next
 * sequence number (0: in order). */
static void peer_data_at(struct fx *x, struct peer *p, uint32_t off, uint32_t n)
{
	struct tseg s = seg(p, TSEG_ACK, p->pnxt + off);
	s.payload = payload + (p->pnxt + off - PISS - 1);
	s.len = n;
	tseg_send(&x->nf, &s);
}

/* The stack's answer to a data segment of peer p: an ACK of `ack`. */
static struct tseg *expect_ack(struct fx *x, struct peer *p, uint32_t ack)
{
	static struct tseg o;
	assert_true(next_seg(x, &o));
	assert_int_equal(o.dst_port, p->port);
	assert_true(o.flags & TSEG_ACK);
	assert_int_equal(o.ack, ack);
	return &o;
}

/* ---- the out-of-order queue ---- */

static void small_pool(struct fx *x)
{
	x->pcfg.n_bufs = 1024; /* budget 256, cache 256 */
}

/* The audit's flood, scaled to the simulated pool: 40 connections each
 * send 64 one-byte segments with a gap before each, all in the window and
 * none deliverable. Each used to pin a whole buffer (2,560 of 1,024: the
 * worker then could neither receive nor answer); packed, a connection's 64
 * take two buffers, every segment is answered with its SACK, a new
 * connection is served, and the pool comes back whole. */
static void test_ooo_flood_packs_small_segments(void **state)
{
	(void)state;
	struct fx *x = fx_new(small_pool);
	uint32_t base_held = held(x);
	for (int k = 0; k < 40; k++) {
		struct peer *p = fx_open(x);
		for (uint32_t i = 1; i <= 64; i++) {
			peer_data_at(x, p, 2 * i, 1);
			struct tseg *o = expect_ack(x, p, p->pnxt);
			/* RFC 2018 4: the block of the latest arrival first */
			assert_true(o->n_sack >= 1);
			assert_int_equal(o->sack[0][0], p->pnxt + 2 * i);
			assert_int_equal(o->sack[0][1], p->pnxt + 2 * i + 1);
			if (i > 1) {
				assert_true(o->n_sack >= 2);
				assert_int_equal(o->sack[1][0], p->pnxt + 2 * i - 2);
			}
		}
	}
	assert_int_equal(st(x)->tcp_ooo_segs, 40 * 64);
	assert_int_equal(st(x)->drop_tcp_ooo_budget, 0);
	assert_int_equal(st(x)->drop_no_buf, 0);
	/* 64 records of 40 bytes: two 2 KB pack buffers per connection */
	assert_true(held(x) - base_held <= 40 * 2);
	assert_int_equal(x->nf.w->tcp->ooo_bufs, held(x) - base_held);

	/* a new connection is served, in order, meanwhile */
	struct peer *n = fx_open(x);
	peer_data_at(x, n, 0, 1000);
	n->pnxt += 1000;
	tseg_advance(&x->nf, 100 * 1000);
	assert_int_equal(n->rx, 1000);
	fx_drain(x);

	/* the holes of connection 0 filled: 129 bytes come out whole, from
	 * the pack buffers and the filling segments */
	struct peer *p0 = &x->p[0];
	peer_data_at(x, p0, 0, 2);
	for (uint32_t off = 3; off < 128; off += 2)
		peer_data_at(x, p0, off, 1);
	fx_drain(x);
	assert_int_equal(p0->rx, 129);
	assert_memory_equal(x->rx0, payload + (p0->pnxt - PISS - 1), 129);

	/* every connection reset: the pool comes back whole */
	for (int k = 0; k < x->np; k++) {
		struct peer *p = &x->p[k];
		struct usn_tcp_info i;
		usn_tcp_info(p->c, &i);
		struct tseg s = seg(p, TSEG_RST, i.rcv_nxt);
		tseg_send(&x->nf, &s);
		assert_int_equal(p->closed, 1);
	}
	tseg_advance(&x->nf, 1000);
	assert_int_equal(x->nf.w->tcp->ooo_bufs, 0);
	assert_int_equal(held(x), base_held);
	fx_free(x);
}

static void tiny_budget(struct fx *x)
{
	x->pcfg.n_bufs = 1024;
	x->cfg.tcp_ooo_max_bufs = 20;
}

/* Over the worker's budget the newest segment is dropped and counted,
 * still answered; in-order data needs no budget; what was dropped comes
 * again and the stream is whole. */
static void test_ooo_budget_drops_newest(void **state)
{
	(void)state;
	struct fx *x = fx_new(tiny_budget);
	uint32_t base_held = held(x);
	/* 1,100 bytes: more than half a 2 KB buffer, so the frame is kept */
	for (int k = 0; k < 4; k++) {
		struct peer *p = fx_open(x);
		for (uint32_t i = 1; i <= 8; i++) {
			peer_data_at(x, p, 2200 * i, 1100);
			expect_ack(x, p, p->pnxt);
		}
	}
	assert_int_equal(st(x)->tcp_ooo_segs, 20);
	assert_int_equal(st(x)->drop_tcp_ooo_budget, 32 - 20);
	assert_int_equal(x->nf.w->tcp->ooo_bufs, 20);
	assert_int_equal(held(x) - base_held, 20);
	/* small segments need a pack buffer: over the budget too */
	peer_data_at(x, &x->p[3], 40000, 10);
	expect_ack(x, &x->p[3], x->p[3].pnxt);
	assert_int_equal(st(x)->drop_tcp_ooo_budget, 32 - 20 + 1);
	/* in order: delivered */
	struct peer *n = fx_open(x);
	peer_data_at(x, n, 0, 1100);
	n->pnxt += 1100;
	tseg_advance(&x->nf, 100 * 1000);
	assert_int_equal(n->rx, 1100);
	/* connection 0 (all 8 of its segments queued) gets the rest in order */
	struct peer *p0 = &x->p[0];
	for (uint32_t off = 0; off < 2200 * 9; off += 1100)
		peer_data_at(x, p0, off, 1100);
	fx_drain(x);
	assert_int_equal(p0->rx, 2200 * 9);
	assert_memory_equal(x->rx0, payload + (p0->pnxt - PISS - 1), 2200 * 9);
	/* connection 3 (nothing queued: over the budget) likewise */
	struct peer *p3 = &x->p[3];
	for (uint32_t off = 0; off < 2200 * 9; off += 1100)
		peer_data_at(x, p3, off, 1100);
	fx_drain(x);
	assert_int_equal(p3->rx, 2200 * 9);
	assert_true(x->nf.w->tcp->ooo_bufs <= 20);
	fx_free(x);
}

/* Packed and kept records mixed, overlapping, repeated, in random order:
 * the stream comes out whole and every SACK block covers bytes sent. */
static void test_ooo_mixed_random_reassembly(void **state)
{
	(void)state;
	struct fx *x = fx_new(small_pool);
	struct peer *p = fx_open(x);
	const uint32_t total = 30000;
	uint8_t have[30000];
	memset(have, 0, sizeof have);
	uint64_t rng = 12345;
	for (int k = 0; k < 600 && p->rx < total; k++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t off = (uint32_t)(rng >> 33) % total;
		uint32_t len = 1 + (uint32_t)(rng >> 20) % ((rng >> 60) < 10 ? 120 : 1400);
		if (k % 20 == 19)
			off = p->rx; /* now and then the next in-order bytes */
		if (off + len > total)
			len = total - off;
		peer_data_at(x, p, off, len);
		for (uint32_t i = off; i < off + len; i++)
			have[i] = 1;
		struct tseg o;
		while (next_seg(x, &o)) {
			assert_int_equal(o.ack, p->pnxt + p->rx);
			for (unsigned b = 0; b < o.n_sack && b < 4; b++) {
				uint32_t l = o.sack[b][0] - p->pnxt, r = o.sack[b][1] - p->pnxt;
				assert_true(l > p->rx && l < r && r <= total);
				for (uint32_t i = l; i < r; i++)
					assert_true(have[i]);
			}
		}
	}
	/* then everything once, in order */
	for (uint32_t off = p->rx; off < total; off += 1000)
		peer_data_at(x, p, off, total - off < 1000 ? total - off : 1000);
	fx_drain(x);
	assert_int_equal(p->rx, total);
	assert_memory_equal(x->rx0, payload + (p->pnxt - PISS - 1), total);
	assert_int_equal(x->nf.w->tcp->ooo_bufs, 0);
	assert_true(st(x)->tcp_ooo_segs > 100);
	fx_free(x);
}

/* ---- buffers for control segments ---- */

static void no_budget_small_cache(struct fx *x)
{
	x->pcfg.n_bufs = 300;
	x->cfg.tcp_ooo_max_bufs = 300; /* no protection: the pool can drain */
	x->cfg.bufs_per_worker = 64;   /* 8 of them kept for control segments */
}

/* With the pool drained (the OOO budget set to the whole pool), data and
 * queued segments stop at the worker's reserve, and every segment that
 * arrives is still answered: its duplicate ACK, or the RST for a closed
 * port. Without the reserve the last buffers went to the queue and the
 * answers were lost (drop_no_buf). */
static void test_control_segments_answered_when_pool_dry(void **state)
{
	(void)state;
	struct fx *x = fx_new(no_budget_small_cache);
	int k = 0;
	/* 400-byte segments, packed four to a buffer: until the pool is dry
	 * (48 a connection, so that more may still be queued) */
	while (port_stats(x).bufs_free > 2 && k < 60) {
		struct peer *p = fx_open(x);
		for (uint32_t i = 1; i <= 48; i++) {
			peer_data_at(x, p, 800 * i, 400);
			fx_drain(x);
		}
		k++;
	}
	assert_true(port_stats(x).bufs_free <= 2);
	assert_true(x->nf.w->cache_n <= x->nf.w->cache_reserve);
	/* now: duplicate ACKs for more out-of-order data, RSTs for a closed port */
	uint64_t no_buf = st(x)->drop_no_buf;
	for (int i = 0; i < 20; i++) {
		struct peer *p = &x->p[i % x->np];
		peer_data_at(x, p, 60000, 400);
		expect_ack(x, p, p->pnxt);
		struct tseg s;
		memset(&s, 0, sizeof s);
		s.src_port = (uint16_t)(5000 + i);
		s.dst_port = 81;
		s.flags = TSEG_SYN;
		s.seq = 42;
		s.window = 1000;
		tseg_send(&x->nf, &s);
		struct tseg o;
		assert_true(next_seg(x, &o));
		assert_int_equal(o.flags, TSEG_RST | TSEG_ACK);
		assert_int_equal(o.ack, 43);
	}
	/* what was refused was queued data, never an answer */
	assert_true(st(x)->drop_no_buf > no_buf);
	fx_free(x);
}

/* ---- send descriptors ---- */

static void few_descriptors(struct fx *x)
{
	x->cfg.tcp_max_conns = 8;
	x->cfg.tcp_sendq_max = 32;    /* a share of 32 / 16 = 2 each, 16 shared */
	x->cfg.tcp_sendq_per_conn = 10;
}

/* A connection holds at most tcp_sendq_per_conn descriptors (-EAGAIN),
 * and past its share only from the shared ones (-ENOBUFS when they are
 * gone); every other connection keeps its share. Before, one connection
 * whose peer acknowledged nothing took all 32 and the others got
 * -ENOBUFS. */
static void test_send_descriptors_per_connection(void **state)
{
	(void)state;
	struct fx *x = fx_new(few_descriptors);
	struct peer *a = fx_open(x), *b = fx_open(x), *c = fx_open(x), *d = fx_open(x);
	int n = 0, rc;
	while ((rc = usn_tcp_send_ref(a->c, payload + n, 1, NULL)) == 0 && n < 100)
		n++;
	assert_int_equal(n, 10);
	assert_int_equal(rc, -EAGAIN);
	assert_int_equal(usn_tcp_send_room(a->c), 0);
	assert_int_equal(usn_tcp_send_room(b->c), 10);
	assert_int_equal(st(x)->tcp_send_conn_cap, 1);
	/* b: its share and the 8 shared ones left */
	for (int i = 0; i < 10; i++)
		assert_int_equal(usn_tcp_send_ref(b->c, payload + i, 1, NULL), 0);
	/* c: its share, then nothing shared is left */
	assert_int_equal(usn_tcp_send_room(c->c), 2);
	assert_int_equal(usn_tcp_send_ref(c->c, payload, 1, NULL), 0);
	assert_int_equal(usn_tcp_send_ref(c->c, payload, 1, NULL), 0);
	assert_int_equal(usn_tcp_send_ref(c->c, payload, 1, NULL), -ENOBUFS);
	assert_int_equal(st(x)->tcp_send_no_desc, 1);
	/* d still has its share */
	assert_int_equal(usn_tcp_send_room(d->c), 2);
	assert_int_equal(usn_tcp_send_ref(d->c, payload, 1, NULL), 0);
	assert_int_equal(usn_tcp_send_ref(d->c, payload, 1, NULL), 0);
	tseg_advance(&x->nf, 1000);
	fx_drain(x);
	/* a's peer acknowledges all 10 bytes: its descriptors go back, the
	 * shared ones with them, and c can take more */
	struct tseg s = seg(a, TSEG_ACK, a->pnxt);
	s.ack = a->siss + 1 + 10;
	tseg_send(&x->nf, &s);
	assert_int_equal(usn_tcp_send_room(a->c), 10);
	assert_int_equal(usn_tcp_send_room(c->c), 8);
	assert_int_equal(usn_tcp_send_ref(c->c, payload, 1, NULL), 0);
	/* a closed connection gives everything back */
	usn_tcp_abort(b->c);
	assert_int_equal(usn_tcp_send_room(c->c), 10 - 3);
	fx_free(x);
}

/* ---- one buffer per frame without chained TX ---- */

static void small_bufs_no_chains(struct fx *x)
{
	x->pcfg.buf_size = 512; /* a 1,514-byte frame would take three */
}

/* A port without USN_HAL_OFF_TX_MULTISEG gets frames of one buffer: the
 * send MSS is cut to what a buffer holds, and data goes out whole in
 * segments that fit. Before, full-size segments went out as three-buffer
 * chains the port cannot send (the simulated port refuses them, as a
 * NIC's TX prepare would). */
static void test_no_chains_without_multiseg(void **state)
{
	(void)state;
	struct fx *x = fx_new(small_bufs_no_chains);
	struct peer *p = fx_open(x);
	assert_int_equal(usn_tcp_send_ref(p->c, payload, 5000, NULL), 0);
	uint32_t got = 0;
	for (int round = 0; round < 50 && got < 5000; round++) {
		tseg_advance(&x->nf, 1000);
		struct tseg o;
		while (next_seg(x, &o)) {
			assert_true(14 + 20 + 20 + o.len <= 512);
			if (o.len && o.seq == p->siss + 1 + got) {
				assert_memory_equal(o.data, payload + got, o.len);
				got += o.len;
			}
		}
		struct tseg a = seg(p, TSEG_ACK, p->pnxt);
		a.ack = p->siss + 1 + got;
		tseg_send(&x->nf, &a);
	}
	assert_int_equal(got, 5000);
	assert_int_equal(port_stats(x).tx_chain_refused, 0);
	struct usn_tcp_info i;
	usn_tcp_info(p->c, &i);
	assert_int_equal(i.mss, 512 - 14 - 20 - 20);
	fx_free(x);
}

static void small_bufs_chains(struct fx *x)
{
	x->pcfg.buf_size = 512;
	x->pcfg.offloads = USN_HAL_OFF_TX_MULTISEG;
}

/* With the capability, full-size segments go out as chains. */
static void test_chains_with_multiseg(void **state)
{
	(void)state;
	struct fx *x = fx_new(small_bufs_chains);
	struct peer *p = fx_open(x);
	struct usn_tcp_info i;
	usn_tcp_info(p->c, &i);
	assert_int_equal(i.mss, 1460);
	assert_int_equal(usn_tcp_send_ref(p->c, payload, 3000, NULL), 0);
	tseg_advance(&x->nf, 1000);
	struct tseg o;
	assert_true(next_seg(x, &o));
	assert_int_equal(o.len, 1460);
	assert_memory_equal(o.data, payload, 1460);
	assert_int_equal(port_stats(x).tx_chain_refused, 0);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ooo_flood_packs_small_segments),
		cmocka_unit_test(test_ooo_budget_drops_newest),
		cmocka_unit_test(test_ooo_mixed_random_reassembly),
		cmocka_unit_test(test_control_segments_answered_when_pool_dry),
		cmocka_unit_test(test_send_descriptors_per_connection),
		cmocka_unit_test(test_no_chains_without_multiseg),
		cmocka_unit_test(test_chains_with_multiseg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
