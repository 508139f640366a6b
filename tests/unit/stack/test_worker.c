/* Unit tests for lib/stack/{stack,worker}.c and lib/core/{worker,stats}.c
 * on a fake HAL that counts every call: the buffer cache (bulk refill and
 * drain, nothing leaked), the TX batch and a port that refuses part of it,
 * the statistics seqlock, the idle back-off (and the wait on a port that
 * offers one), configuration checks, and software RSS over two workers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/worker.h"
#include "net/net.h"
#include "tcp/tcp_int.h"
#include "netfix.h"
#include "netfix6.h"
#include "usnet/udp.h"

#define FAKE_BUFS 256
#define FAKE_BUF_SIZE 512
#define FAKE_HEADROOM 64
#define FAKE_RXQ 64

struct fake_rx {
	uint8_t bytes[FAKE_BUF_SIZE];
	uint16_t len;
};

struct fake {
	struct usn_hal hal; /* first: the ops get it back by a cast */
	struct usn_buf bufs[FAKE_BUFS];
	uint8_t mem[FAKE_BUFS][FAKE_HEADROOM + FAKE_BUF_SIZE];
	struct usn_buf *free_stack[FAKE_BUFS];
	uint32_t n_free;
	unsigned alloc_calls, free_calls, tx_calls, rx_calls;
	unsigned tx_accept; /* frames tx_burst takes per call */
	unsigned n_sent;
	uint16_t sent_len[512];
	uint64_t clock_ns;
	struct fake_rx rxq[2][FAKE_RXQ];
	unsigned rx_head[2], rx_n[2];
	unsigned stop_after_rx; /* usn_worker_run: set *stop after this many rx calls */
	volatile int *stop;
	uint8_t rand_byte;  /* the random source yields rand_byte, rand_byte + 1, ... */
	int rand_err;	    /* the random source fails with this (-errno), or 0 */
	unsigned rand_calls;
	size_t rand_bytes;  /* asked for in all */
};

static struct fake *fake_of(struct usn_hal *h)
{
	return (struct fake *)(void *)h;
}

static struct usn_buf *fake_get(struct fake *f)
{
	struct usn_buf *b = f->free_stack[--f->n_free];
	size_t i = (size_t)(b - f->bufs);
	memset(b, 0, sizeof(*b));
	b->data = f->mem[i] + FAKE_HEADROOM;
	b->room = FAKE_BUF_SIZE;
	b->headroom = FAKE_HEADROOM;
	return b;
}

static uint16_t fake_alloc_bulk(struct usn_hal *h, uint16_t q, struct usn_buf **bufs, uint16_t n)
{
	(void)q;
	struct fake *f = fake_of(h);
	f->alloc_calls++;
	uint16_t k = n < f->n_free ? n : (uint16_t)f->n_free;
	for (uint16_t i = 0; i < k; i++)
		bufs[i] = fake_get(f);
	return k;
}

static void fake_free_bulk(struct usn_hal *h, uint16_t q, struct usn_buf **bufs, uint16_t n)
{
	(void)q;
	struct fake *f = fake_of(h);
	f->free_calls++;
	for (uint16_t i = 0; i < n; i++)
		for (struct usn_buf *b = bufs[i], *nx; b; b = nx) {
			nx = b->next;
			assert_true(f->n_free < FAKE_BUFS);
			f->free_stack[f->n_free++] = b;
		}
}

static uint16_t fake_tx_burst(struct usn_hal *h, uint16_t q, struct usn_buf **bufs, uint16_t n)
{
	(void)q;
	struct fake *f = fake_of(h);
	f->tx_calls++;
	uint16_t k = n < f->tx_accept ? n : (uint16_t)f->tx_accept;
	for (uint16_t i = 0; i < k; i++) {
		f->sent_len[f->n_sent++ % 512] = (uint16_t)bufs[i]->frame_len;
		fake_free_bulk(h, q, &bufs[i], 1);
		f->free_calls--; /* not the stack's call */
	}
	return k;
}

static uint16_t fake_rx_burst(struct usn_hal *h, uint16_t q, struct usn_buf **bufs, uint16_t n)
{
	struct fake *f = fake_of(h);
	f->rx_calls++;
	if (f->stop && f->rx_calls >= f->stop_after_rx)
		*f->stop = 1;
	uint16_t k = 0;
	while (k < n && f->rx_n[q] && f->n_free) {
		struct fake_rx *r = &f->rxq[q][f->rx_head[q]];
		f->rx_head[q] = (f->rx_head[q] + 1) % FAKE_RXQ;
		f->rx_n[q]--;
		struct usn_buf *b = fake_get(f);
		memcpy(b->data, r->bytes, r->len);
		b->len = r->len;
		b->frame_len = r->len;
		bufs[k++] = b;
	}
	return k;
}

static uint64_t fake_clock(struct usn_hal *h)
{
	return fake_of(h)->clock_ns;
}

static int fake_random(struct usn_hal *h, void *buf, size_t len)
{
	struct fake *f = fake_of(h);
	f->rand_calls++;
	f->rand_bytes += len;
	if (f->rand_err)
		return f->rand_err;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(f->rand_byte + i);
	return 0;
}

static const struct usn_hal_ops fake_ops = {
	.rx_burst = fake_rx_burst,
	.tx_burst = fake_tx_burst,
	.alloc_bulk = fake_alloc_bulk,
	.free_bulk = fake_free_bulk,
	.clock_cycles = fake_clock,
	.random = fake_random,
};

/* The same port without a random source. */
static const struct usn_hal_ops fake_ops_norandom = {
	.rx_burst = fake_rx_burst,
	.tx_burst = fake_tx_burst,
	.alloc_bulk = fake_alloc_bulk,
	.free_bulk = fake_free_bulk,
	.clock_cycles = fake_clock,
};

/* A port that can wait for its frames: each wait is recorded. */
static unsigned wait_calls;
static uint32_t wait_max_us[16];

static void fake_rx_wait(struct usn_hal *h, uint16_t q, uint32_t max_us)
{
	(void)h;
	(void)q;
	wait_max_us[wait_calls++ % 16] = max_us;
}

static const struct usn_hal_ops fake_ops_wait = {
	.rx_burst = fake_rx_burst,
	.tx_burst = fake_tx_burst,
	.alloc_bulk = fake_alloc_bulk,
	.free_bulk = fake_free_bulk,
	.clock_cycles = fake_clock,
	.random = fake_random,
	.rx_wait = fake_rx_wait,
};

static struct fake *fake_new(uint16_t n_queues)
{
	struct fake *f = test_calloc(1, sizeof(*f));
	f->hal.ops = &fake_ops;
	f->hal.cycles_per_sec = 1000000000u;
	f->hal.n_queues = n_queues;
	f->hal.mtu = 1500;
	f->hal.buf_size = FAKE_BUF_SIZE;
	memcpy(f->hal.mac, netfix_stack_mac, 6);
	for (uint32_t i = 0; i < FAKE_BUFS; i++)
		f->free_stack[f->n_free++] = &f->bufs[FAKE_BUFS - 1 - i];
	f->tx_accept = 1000;
	f->clock_ns = 5000000000ull;
	return f;
}

static void fake_push_rx(struct fake *f, uint16_t q, const void *bytes, size_t len)
{
	assert_true(f->rx_n[q] < FAKE_RXQ);
	struct fake_rx *r = &f->rxq[q][(f->rx_head[q] + f->rx_n[q]) % FAKE_RXQ];
	memcpy(r->bytes, bytes, len);
	r->len = (uint16_t)len;
	f->rx_n[q]++;
}

static struct usn_stack *stack_on(struct fake *f, uint32_t bufs_per_worker)
{
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	cfg.bufs_per_worker = bufs_per_worker;
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	return s;
}

static void test_buffer_cache_bulk_and_no_leak(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack *s = stack_on(f, 16);
	struct usn_worker *w = usn_stack_worker(s, 0);
	assert_int_equal(f->n_free, FAKE_BUFS); /* nothing taken before use */

	struct usn_buf *b[20];
	b[0] = usn_worker_buf_alloc(w);
	assert_non_null(b[0]);
	assert_int_equal(f->alloc_calls, 1);
	assert_int_equal(f->n_free, FAKE_BUFS - 8); /* half the cache at once */
	for (int i = 1; i < 6; i++)
		b[i] = usn_worker_buf_alloc(w);
	assert_int_equal(f->alloc_calls, 1);
	/* Down to the control reserve (16 / 8 = 2 buffers): refilled before
	 * an ordinary allocation may take it. */
	for (int i = 6; i < 8; i++)
		b[i] = usn_worker_buf_alloc(w);
	assert_int_equal(f->alloc_calls, 2);
	for (int i = 8; i < 20; i++)
		b[i] = usn_worker_buf_alloc(w);
	assert_int_equal(f->alloc_calls, 3);
	for (int i = 0; i < 20; i++) {
		assert_non_null(b[i]);
		assert_int_equal(b[i]->len, 0);
		assert_null(b[i]->next);
	}
	/* A chain is freed whole. */
	b[0]->next = b[1];
	usn_worker_buf_free(w, b[0]);
	for (int i = 2; i < 20; i++)
		usn_worker_buf_free(w, b[i]);
	assert_int_equal(f->free_calls, 0); /* batched until the round ends */
	usn_worker_poll(w);
	assert_int_equal(f->free_calls, 1);
	assert_int_equal(f->n_free, FAKE_BUFS - 4); /* 4 still in the cache */
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

static void test_pool_dry_counts_drop_no_buf(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack *s = stack_on(f, 16);
	struct usn_worker *w = usn_stack_worker(s, 0);
	uint32_t keep = f->n_free;
	f->n_free = 0; /* dry */
	assert_null(usn_worker_buf_alloc(w));
	assert_int_equal(usn_worker_stats(w)->drop_no_buf, 1);
	f->n_free = keep;
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

/* The last eighth of the cache is for control frames: with the pool dry,
 * ordinary allocations stop there, and the worker can still send the ACK,
 * SYN-ACK or RST that answers what arrives. */
static void test_cache_reserve_for_control_frames(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack *s = stack_on(f, 64); /* reserve 8 */
	struct usn_worker *w = usn_stack_worker(s, 0);
	struct usn_buf *b[64];
	unsigned n = 0;
	b[n++] = usn_worker_buf_alloc(w); /* fills half the cache: 32 */
	uint32_t keep = f->n_free;
	f->n_free = 0; /* then the pool runs dry */
	while (n < 64 && (b[n] = usn_worker_buf_alloc(w)) != NULL)
		n++;
	assert_int_equal(n, 32 - 8); /* ordinary allocations leave the reserve */
	assert_int_equal(usn_worker_stats(w)->drop_no_buf, 1);
	for (int i = 0; i < 8; i++) {
		b[n] = usn_worker_buf_alloc_ctl(w);
		assert_non_null(b[n]);
		n++;
	}
	assert_null(usn_worker_buf_alloc_ctl(w)); /* and then nothing is left */
	assert_int_equal(usn_worker_stats(w)->drop_no_buf, 2);
	f->n_free = keep;
	/* The pool back: the reserve fills before ordinary allocations go on. */
	struct usn_buf *x = usn_worker_buf_alloc(w);
	assert_non_null(x);
	assert_true(w->cache_n >= w->cache_reserve);
	usn_worker_buf_free(w, x);
	for (unsigned i = 0; i < n; i++)
		usn_worker_buf_free(w, b[i]);
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

static struct usn_buf *frame_of(struct usn_worker *w, uint16_t len)
{
	struct usn_buf *b = usn_worker_buf_alloc(w);
	assert_non_null(b);
	b->len = len;
	b->frame_len = len;
	return b;
}

static void test_tx_batch(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack *s = stack_on(f, 128);
	struct usn_worker *w = usn_stack_worker(s, 0);
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < USN_TX_BATCH; i++) {
		usn_worker_tx(w, frame_of(w, (uint16_t)(60 + i)));
		bytes += 60 + i;
	}
	assert_int_equal(f->tx_calls, 0);
	usn_worker_tx(w, frame_of(w, 100)); /* the 65th sends the full batch first */
	bytes += 100;
	assert_int_equal(f->tx_calls, 1);
	assert_int_equal(f->n_sent, USN_TX_BATCH);
	for (int i = 0; i < 5; i++) {
		usn_worker_tx(w, frame_of(w, 70));
		bytes += 70;
	}
	usn_worker_flush(w);
	assert_int_equal(f->tx_calls, 2);
	assert_int_equal(f->n_sent, USN_TX_BATCH + 6);
	assert_int_equal(f->sent_len[0], 60);
	assert_int_equal(f->sent_len[USN_TX_BATCH], 100);
	const struct usn_stats *st = usn_worker_stats(w);
	assert_int_equal(st->tx_frames, USN_TX_BATCH + 6);
	assert_int_equal(st->tx_bytes, bytes);
	assert_int_equal(st->tx_full, 0);
	usn_worker_flush(w); /* empty: no call */
	assert_int_equal(f->tx_calls, 2);
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

static void test_tx_partial_burst(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack *s = stack_on(f, 16);
	struct usn_worker *w = usn_stack_worker(s, 0);
	f->tx_accept = 3;
	for (int i = 0; i < 5; i++)
		usn_worker_tx(w, frame_of(w, 80));
	usn_worker_flush(w);
	const struct usn_stats *st = usn_worker_stats(w);
	assert_int_equal(st->tx_frames, 3);
	assert_int_equal(st->tx_bytes, 240);
	/* The refused two are held, not dropped, and go out next time. */
	assert_int_equal(st->tx_full, 0);
	assert_int_equal(usn_worker_tx_room(w), USN_TX_BATCH - 2);
	f->tx_accept = 1000;
	usn_worker_flush(w);
	assert_int_equal(st->tx_frames, 5);
	assert_int_equal(st->tx_bytes, 400);
	assert_int_equal(usn_worker_tx_room(w), USN_TX_BATCH);
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

static void test_tx_ring_full_holds_then_drops(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack *s = stack_on(f, 16);
	struct usn_worker *w = usn_stack_worker(s, 0);
	f->tx_accept = 0;
	for (int i = 0; i < USN_TX_BATCH; i++)
		usn_worker_tx(w, frame_of(w, 80));
	assert_int_equal(usn_worker_tx_room(w), 0);
	usn_worker_tx(w, frame_of(w, 80)); /* batch full, port still refuses: dropped */
	const struct usn_stats *st = usn_worker_stats(w);
	assert_int_equal(st->tx_full, 1);
	assert_int_equal(st->tx_frames, 0);
	usn_stack_destroy(s); /* frees the held batch */
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

static void test_stats_snapshot(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack *s = stack_on(f, 16);
	struct usn_worker *w = usn_stack_worker(s, 0);
	usn_worker_start(w);
	struct usn_stats snap, sum;
	uint8_t fr[60];
	memset(fr, 0, sizeof(fr));
	netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x88cc);

	usn_worker_poll(w); /* idle: published */
	fake_push_rx(f, 0, fr, 60);
	f->clock_ns += 100000; /* 0.1 ms later */
	assert_int_equal(usn_worker_poll(w), 1);
	usn_worker_stats_snapshot(w, &snap);
	assert_int_equal(usn_worker_stats(w)->rx_frames, 1);
	assert_int_equal(snap.rx_frames, 0); /* busy, and under 1 ms since the last */
	fake_push_rx(f, 0, fr, 60);
	f->clock_ns += 1000000; /* 1 ms of worker time later: published while busy */
	assert_int_equal(usn_worker_poll(w), 1);
	usn_worker_stats_snapshot(w, &snap);
	assert_int_equal(snap.rx_frames, 2);
	assert_int_equal(snap.drop_eth_type, 2);
	assert_int_equal(usn_worker_poll(w), 0); /* idle: published */
	usn_worker_stats_snapshot(w, &snap);
	assert_memory_equal(&snap, usn_worker_stats(w), sizeof(snap));
	usn_stack_stats(s, &sum);
	assert_memory_equal(&sum, &snap, sizeof(sum));
	assert_int_equal(snap.idle_polls, 2);
	assert_int_equal(snap.rx_bursts, 2);
	assert_int_equal(snap.arp_gratuitous_tx, 1);
	assert_int_equal(usn_worker_now_us(w), f->clock_ns / 1000);
	usn_stack_destroy(s);
	test_free(f);
}

static void test_stats_names(void **state)
{
	(void)state;
	assert_int_equal(usn_stats_count() * sizeof(uint64_t), sizeof(struct usn_stats));
	assert_string_equal(usn_stats_name(0), "rx_frames");
	assert_string_equal(usn_stats_name(usn_stats_count() - 1), "conns_time_wait");
	assert_null(usn_stats_name(usn_stats_count()));
	/* the gauges are the conns_* entries, and only they */
	for (size_t i = 0; i <= usn_stats_count(); i++)
		assert_int_equal(usn_stats_is_gauge(i), i < usn_stats_count() && strncmp(usn_stats_name(i), "conns_", 6) == 0);
	struct usn_stats a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.arp_failed = 3;
	b.arp_failed = 4;
	b.tx_full = 1;
	usn_stats_add(&a, &b);
	for (size_t i = 0; i < usn_stats_count(); i++) {
		if (strcmp(usn_stats_name(i), "arp_failed") == 0)
			assert_int_equal(usn_stats_value(&a, i), 7);
		else if (strcmp(usn_stats_name(i), "tx_full") == 0)
			assert_int_equal(usn_stats_value(&a, i), 1);
		else
			assert_int_equal(usn_stats_value(&a, i), 0);
	}
}

static void test_run_idle_backoff_and_stop(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	cfg.idle_backoff_us = 50;
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	struct usn_worker *w = usn_stack_worker(s, 0);
	volatile int stop = 0;
	f->stop = &stop;
	f->stop_after_rx = 12;
	usn_worker_run(w, &stop);
	assert_int_equal(f->rx_calls, 12);
	assert_int_equal(usn_worker_stats(w)->idle_polls, 12);
	usn_stack_destroy(s);
	test_free(f);
}

static void nop_timer(struct usn_timer *t, void *ctx)
{
	(void)t;
	(void)ctx;
}

/* A port with rx_wait: an idle worker waits on it instead of sleeping, the
 * whole ceiling at once (arriving frames end the wait, so nothing is gained
 * by starting short), never past the next timer. */
static void test_run_idle_waits_on_port(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	f->hal.ops = &fake_ops_wait;
	f->clock_ns = 1000000000u;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	cfg.idle_backoff_us = 5000;
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	struct usn_worker *w = usn_stack_worker(s, 0);
	volatile int stop = 0;
	f->stop = &stop;
	f->stop_after_rx = 4;
	wait_calls = 0;
	usn_worker_run(w, &stop);
	assert_int_equal(f->rx_calls, 4);
	assert_int_equal(wait_calls, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(wait_max_us[i], 5000);

	/* A timer 3 ms ahead bounds the wait (the clock stands still). */
	struct usn_timer t;
	usn_timer_init(&t, nop_timer);
	usn_timer_arm(&w->wheel, &t, usn_worker_now_us(w) + 3000);
	stop = 0;
	f->rx_calls = 0;
	wait_calls = 0;
	usn_worker_run(w, &stop);
	assert_int_equal(wait_calls, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_in_range(wait_max_us[i], 2000, 3000);
	usn_timer_cancel(&w->wheel, &t);
	usn_stack_destroy(s);
	test_free(f);
}

static void expect_config_error(const struct usn_stack_config *cfg, const struct usn_hal *hal, const char *field)
{
	char msg[128];
	assert_int_equal(usn_stack_config_check(cfg, hal, msg, sizeof(msg)), -22 /* EINVAL */);
	assert_non_null(strstr(msg, field));
	assert_null(strchr(msg, '\n'));
	assert_null(usn_stack_create((struct usn_hal *)(uintptr_t)hal, cfg));
}

static void test_config_check_and_defaults(void **state)
{
	(void)state;
	struct fake *f = fake_new(2);
	struct usn_stack_config cfg;
	char msg[128];

	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 0);
	assert_int_equal(usn_stack_config_check(&cfg, &f->hal, msg, sizeof(msg)), 0);

	usn_stack_config_init(&cfg, 0, 24);
	expect_config_error(&cfg, &f->hal, "ip");
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 33);
	expect_config_error(&cfg, &f->hal, "prefix_len");
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 24);
	cfg.n_workers = 3;
	expect_config_error(&cfg, &f->hal, "n_workers");
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 24);
	cfg.mtu = 67;
	expect_config_error(&cfg, &f->hal, "mtu");
	cfg.mtu = 1501;
	expect_config_error(&cfg, &f->hal, "mtu");
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 24);
	cfg.gateway = 0x0a000001u;
	expect_config_error(&cfg, &f->hal, "gateway");
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 24);
	cfg.tcp_delack_ms = 501;
	expect_config_error(&cfg, &f->hal, "tcp_delack_ms");
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 24);
	cfg.mac[0] = 0x01;
	expect_config_error(&cfg, &f->hal, "mac");

	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 0);
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	const struct usn_stack_config *c = usn_stack_config(s);
	assert_int_equal(c->prefix_len, 24);
	assert_int_equal(c->n_workers, 2);
	assert_int_equal(usn_stack_workers(s), 2);
	assert_int_equal(c->mtu, 1500);
	assert_int_equal(c->tcp_max_conns, 4096);
	assert_int_equal(c->tcp_max_timewait, 1024);
	assert_int_equal(c->tcp_sendq_max, 4096 * 4);
	assert_int_equal(c->tcp_delack_ms, 40);
	assert_int_equal(c->arp_entries, 256);
	assert_int_equal(c->arp_timeout_ms, 60000);
	assert_int_equal(c->arp_retry_ms, 1000);
	assert_int_equal(c->arp_retries, 3);
	assert_int_equal(c->arp_queue_len, 64);
	assert_int_equal(c->bufs_per_worker, 256);
	assert_int_equal(c->timer_hz, 1000);
	assert_memory_equal(c->mac, netfix_stack_mac, 6);
	assert_int_equal(usn_worker_id(usn_stack_worker(s, 1)), 1);
	assert_ptr_equal(usn_worker_stack(usn_stack_worker(s, 1)), s);
	assert_null(usn_stack_worker(s, 2));
	int u;
	usn_worker_set_user(usn_stack_worker(s, 1), &u);
	assert_ptr_equal(usn_worker_user(usn_stack_worker(s, 1)), &u);
	usn_stack_destroy(s);
	test_free(f);
}

/* A TCP segment (bad IP header sum, so the receiving worker drops it
 * without involving TCP) from ip_a:port_a to us:port_b. */
static size_t tcp_frame(uint8_t *fr, uint32_t src, uint16_t sport, uint16_t dport)
{
	size_t n = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
	n += netfix_ipv4(fr + n, src, NETFIX_STACK_IP, 6, 20, 64, 1, 0x4000);
	fr[14 + 10] ^= 0xff; /* break the header sum */
	memset(fr + n, 0, 20);
	fr[n] = (uint8_t)(sport >> 8);
	fr[n + 1] = (uint8_t)sport;
	fr[n + 2] = (uint8_t)(dport >> 8);
	fr[n + 3] = (uint8_t)dport;
	fr[n + 12] = 0x50;
	fr[n + 13] = 0x02;
	return n + 20;
}

/* An IPv6 TCP segment from src:sport to our global address, behind a
 * destination-options header when ext (steering walks the chain). */
static size_t tcp6_frame(uint8_t *fr, const uint8_t src[16], uint16_t sport, uint16_t dport, bool ext)
{
	size_t n = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x86dd);
	size_t e = ext ? 8 : 0;
	n += netfix6_ip(fr + n, src, netfix6_stack_ip, ext ? 60 : 6, (uint16_t)(e + 20), 64);
	if (ext) {
		memset(fr + n, 0, 8);
		fr[n] = 6;
		fr[n + 2] = 1; /* PadN of 4 */
		fr[n + 3] = 4;
		n += 8;
	}
	memset(fr + n, 0, 20);
	fr[n] = (uint8_t)(sport >> 8);
	fr[n + 1] = (uint8_t)sport;
	fr[n + 2] = (uint8_t)(dport >> 8);
	fr[n + 3] = (uint8_t)dport;
	fr[n + 12] = 0x50;
	fr[n + 13] = 0x02;
	/* The TCP sum over IPv6's pseudo-header (RFC 8200 8.1): TCP takes it. */
	uint8_t ph[40 + 20] = {0};
	memcpy(ph, src, 16);
	memcpy(ph + 16, netfix6_stack_ip, 16);
	ph[35] = 20;
	ph[39] = 6;
	memcpy(ph + 40, fr + n, 20);
	uint16_t c = netfix_csum(ph, sizeof ph);
	fr[n + 16] = (uint8_t)(c >> 8);
	fr[n + 17] = (uint8_t)c;
	return n + 20;
}

/* Software steering of IPv6: each TCP flow to the worker
 * usn_stack_flow_worker6 names (there answered with RST, no listener
 * being on the port), ND kept on worker 0, which posts what it learned. */
static void test_software_rss_ipv6(void **state)
{
	(void)state;
	struct fake *f = fake_new(2);
	struct usn_stack_config cfg;
	netfix6_config(&cfg, false);
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	struct usn_worker *w0 = usn_stack_worker(s, 0), *w1 = usn_stack_worker(s, 1);
	unsigned expect[2] = {0, 0};
	uint8_t fr[160];
	for (uint16_t i = 0; i < 30; i++) {
		uint8_t src[16];
		memcpy(src, netfix6_raw_ip, 16);
		src[14] = (uint8_t)i;
		uint16_t sport = (uint16_t)(40000 + i * 7);
		fake_push_rx(f, 0, fr, tcp6_frame(fr, src, sport, 80, i % 2));
		expect[usn_stack_flow_worker6(s, src, sport, netfix6_stack_ip, 80)]++;
		/* Symmetric: the reply direction names the same worker. */
		assert_int_equal(usn_stack_flow_worker6(s, netfix6_stack_ip, 80, src, sport),
				 usn_stack_flow_worker6(s, src, sport, netfix6_stack_ip, 80));
	}
	assert_true(expect[0] > 0 && expect[1] > 0);
	uint8_t sn[16], gm[6];
	netfix6_snm(netfix6_stack_ip, sn);
	netfix6_group_mac(sn, gm);
	size_t n = netfix6_nd_frame(fr, gm, netfix_raw_mac, netfix6_raw_ip, sn, 255, 135, 0, netfix6_stack_ip,
				    netfix_raw_mac);
	fake_push_rx(f, 0, fr, n);

	assert_int_equal(usn_worker_poll(w0), 31);
	assert_int_equal(usn_worker_poll(w1), expect[1] + 1); /* frames + the ND message */
	const struct usn_stats *s0 = usn_worker_stats(w0), *s1 = usn_worker_stats(w1);
	assert_int_equal(s0->steer_tx, expect[1]);
	assert_int_equal(s1->steer_rx, expect[1]);
	assert_int_equal(s0->drop_tcp_no_conn, expect[0]);
	assert_int_equal(s1->drop_tcp_no_conn, expect[1]);
	assert_int_equal(s0->tcp6_rx_segs, expect[0]);
	assert_int_equal(s1->tcp6_rx_segs, expect[1]);
	assert_int_equal(s0->nd_ns_rx, 1);
	assert_int_equal(s0->nd_learned, 1);
	uint8_t mac[6];
	assert_true(usn_nd_lookup(w1, netfix6_raw_ip, mac));
	assert_memory_equal(mac, netfix_raw_mac, 6);
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

/* Which worker each IPv6 datagram reached. */
static void count_worker(struct usn_worker *w, void *user, const struct usn_addr *peer, uint16_t peer_port,
			 uint16_t local_port, struct usn_cursor data)
{
	unsigned *seen = user;
	(void)peer;
	(void)peer_port;
	(void)local_port;
	(void)data;
	seen[usn_worker_id(w)]++;
}

/* Software steering of IPv6 UDP by its 4-tuple (usn_stack_flow_worker6),
 * and an ICMPv6 error about a TCP segment of ours handed by worker 0 to
 * the worker that owns the quoted flow, which counts it at TCP's seam. */
static void test_software_rss_udp6(void **state)
{
	(void)state;
	struct fake *f = fake_new(2);
	struct usn_stack_config cfg;
	netfix6_config(&cfg, false);
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	struct usn_worker *w0 = usn_stack_worker(s, 0), *w1 = usn_stack_worker(s, 1);
	unsigned seen[2] = {0, 0}, expect[2] = {0, 0};
	assert_int_equal(usn_udp_bind(s, 7, count_worker, seen), 0);
	uint8_t fr[200];
	for (uint16_t i = 0; i < 30; i++) {
		uint8_t src[16];
		memcpy(src, netfix6_raw_ip, 16);
		src[14] = (uint8_t)i;
		uint16_t sport = (uint16_t)(40000 + i * 7);
		fake_push_rx(f, 0, fr, netfix6_udp_frame(fr, netfix_stack_mac, netfix_raw_mac, src, netfix6_stack_ip,
							 sport, 7, "x", 1));
		expect[usn_stack_flow_worker6(s, src, sport, netfix6_stack_ip, 7)]++;
	}
	assert_true(expect[0] > 0 && expect[1] > 0);
	/* Errors quoting our segments of 10 flows: each to its owner. */
	unsigned owner[2] = {0, 0};
	for (uint16_t i = 0; i < 10; i++) {
		uint8_t q[48];
		uint16_t sport = (uint16_t)(30000 + i * 11);
		netfix6_ip(q, netfix6_stack_ip, netfix6_raw_ip, 6, 1440, 64);
		memset(q + 40, 0, 8);
		q[40] = (uint8_t)(sport >> 8);
		q[41] = (uint8_t)sport;
		q[43] = 80;
		size_t n = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x86dd);
		size_t m = netfix6_icmp_err(fr + n + 40, 2, 0, 1280, q, sizeof(q), netfix6_raw_ip, netfix6_stack_ip);
		n += netfix6_ip(fr + n, netfix6_raw_ip, netfix6_stack_ip, 58, (uint16_t)m, 64);
		fake_push_rx(f, 0, fr, n + m);
		owner[usn_stack_flow_worker6(s, netfix6_stack_ip, sport, netfix6_raw_ip, 80)]++;
	}
	/* 40 frames: two receive bursts on worker 0, then worker 1's inbox. */
	usn_worker_poll(w0);
	usn_worker_poll(w0);
	usn_worker_poll(w1);
	assert_int_equal(seen[0], expect[0]);
	assert_int_equal(seen[1], expect[1]);
	const struct usn_stats *s0 = usn_worker_stats(w0), *s1 = usn_worker_stats(w1);
	assert_int_equal(s0->steer_tx, expect[1] + owner[1]);
	assert_int_equal(s1->steer_rx, expect[1] + owner[1]);
	assert_int_equal(s0->icmp_err_no_conn, owner[0]);
	assert_int_equal(s1->icmp_err_no_conn, owner[1]);
	assert_int_equal(s0->icmp6_pkt_too_big_rx, 10);
	assert_int_equal(s1->icmp6_pkt_too_big_rx, owner[1]); /* read again by its owner */
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

static void test_software_rss_two_workers(void **state)
{
	(void)state;
	struct fake *f = fake_new(2);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	struct usn_worker *w0 = usn_stack_worker(s, 0), *w1 = usn_stack_worker(s, 1);
	unsigned expect[2] = {0, 0};
	uint8_t fr[128];
	for (uint16_t i = 0; i < 40; i++) {
		uint32_t src = SIMNET_IP(1, i + 1);
		uint16_t sport = (uint16_t)(40000 + i * 13), dport = 80;
		size_t n = tcp_frame(fr, src, sport, dport);
		fake_push_rx(f, 0, fr, n);
		expect[usn_stack_flow_worker(s, src, sport, NETFIX_STACK_IP, dport)]++;
	}
	assert_true(expect[0] > 0 && expect[1] > 0); /* the test means something */
	/* An ARP request for us too: worker 0 learns it and tells worker 1. */
	static const uint8_t zero_mac[6];
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	fake_push_rx(f, 0, fr, 60);

	assert_int_equal(usn_worker_poll(w0), 32);
	assert_int_equal(usn_worker_poll(w0), 9);
	assert_int_equal(usn_worker_poll(w1), expect[1] + 1); /* frames + the ARP message */
	const struct usn_stats *s0 = usn_worker_stats(w0), *s1 = usn_worker_stats(w1);
	assert_int_equal(s0->rx_frames, 41);
	assert_int_equal(s0->steer_tx, expect[1]);
	assert_int_equal(s1->steer_rx, expect[1]);
	assert_int_equal(s0->drop_ip_csum, expect[0]);
	assert_int_equal(s1->drop_ip_csum, expect[1]);
	assert_int_equal(s1->rx_frames, 0); /* counted once, where the port delivered it */
	assert_int_equal(s0->arp_learned, 1);
	uint8_t mac[6];
	assert_true(usn_arp_lookup(w1, NETFIX_RAW_IP, mac));
	assert_memory_equal(mac, netfix_raw_mac, 6);
	/* Poll until idle so the snapshot is published, then the stack sum. */
	usn_worker_poll(w0);
	usn_worker_poll(w1);
	struct usn_stats sum;
	usn_stack_stats(s, &sum);
	assert_int_equal(sum.rx_frames, 41);
	assert_int_equal(sum.drop_ip_csum, 40);
	assert_int_equal(sum.steer_tx, sum.steer_rx);
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

static void test_destroy_frees_frames_in_inbox(void **state)
{
	(void)state;
	/* Worker 1 never polls: steered frames wait in its ring, and
	 * destroy still returns every one of them to the port. */
	struct fake *f = fake_new(2);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	cfg.bufs_per_worker = 32;
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	struct usn_worker *w0 = usn_stack_worker(s, 0);
	uint8_t fr[128];
	unsigned to1 = 0;
	for (uint32_t i = 0; to1 < 40 && i < 1000; i++) {
		uint32_t src = SIMNET_IP(2, i);
		if (usn_stack_flow_worker(s, src, 1234, NETFIX_STACK_IP, 80) != 1)
			continue;
		fake_push_rx(f, 0, fr, tcp_frame(fr, src, 1234, 80));
		to1++;
		if (f->rx_n[0] == FAKE_RXQ - 1)
			while (usn_worker_poll(w0))
				;
	}
	while (usn_worker_poll(w0))
		;
	assert_int_equal(usn_worker_stats(w0)->steer_tx, to1);
	assert_int_equal(usn_worker_stats(w0)->drop_steer_full, 0);
	assert_true(f->n_free < FAKE_BUFS - to1 + 1);
	usn_stack_destroy(s);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

/* The stack's keys come from the port's random source, read once at
 * creation: two stacks given the same random bytes derive the same keys
 * whatever their clocks and addresses (the timestamp offset, a keyed hash
 * of the 4-tuple, shows the ISN key); other bytes, other keys. They used to
 * come from the start-up clock and heap addresses. */
static void test_keys_from_random_source(void **state)
{
	(void)state;
	struct fake *f1 = fake_new(1), *f2 = fake_new(1), *f3 = fake_new(1);
	f1->rand_byte = 7;
	f2->rand_byte = 7;
	f3->rand_byte = 8;
	f1->clock_ns = 5000000000ull;
	f2->clock_ns = 987654321987ull;
	f3->clock_ns = f1->clock_ns;
	struct usn_stack *s1 = stack_on(f1, 16), *s2 = stack_on(f2, 16), *s3 = stack_on(f3, 16);
	assert_int_equal(f1->rand_calls, 1);
	assert_int_equal(f1->rand_bytes, 16);
	unsigned same12 = 0, same13 = 0;
	const struct usn_tcp_ends ends = {NETFIX_STACK_IP, NETFIX_RAW_IP, NULL};
	for (uint16_t p = 1000; p < 1064; p++) {
		uint32_t o1 = usn_tcp_ts_offset(usn_stack_worker(s1, 0)->tcp, &ends, 80, p);
		uint32_t o2 = usn_tcp_ts_offset(usn_stack_worker(s2, 0)->tcp, &ends, 80, p);
		uint32_t o3 = usn_tcp_ts_offset(usn_stack_worker(s3, 0)->tcp, &ends, 80, p);
		same12 += o1 == o2;
		same13 += o1 == o3;
	}
	assert_int_equal(same12, 64);
	assert_true(same13 < 2);
	usn_stack_destroy(s1);
	usn_stack_destroy(s2);
	usn_stack_destroy(s3);

	/* An explicit secret is used as given: the random source is not read. */
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	cfg.tcp_cookie_secret[0] = 42;
	f1->rand_calls = 0;
	f1->rand_byte = 99;
	s1 = usn_stack_create(&f1->hal, &cfg);
	f2->rand_byte = 1;
	s2 = usn_stack_create(&f2->hal, &cfg);
	assert_non_null(s1);
	assert_non_null(s2);
	assert_int_equal(f1->rand_calls, 0);
	assert_int_equal(usn_tcp_ts_offset(usn_stack_worker(s1, 0)->tcp, &ends, 80, 5),
			 usn_tcp_ts_offset(usn_stack_worker(s2, 0)->tcp, &ends, 80, 5));
	usn_stack_destroy(s1);
	usn_stack_destroy(s2);
	test_free(f1);
	test_free(f2);
	test_free(f3);
}

/* No random source and no secret: the configuration is refused with one
 * line naming it; a random source that fails stops usn_stack_create. */
static void test_keys_need_a_random_source(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	f->hal.ops = &fake_ops_norandom;
	expect_config_error(&cfg, &f->hal, "random source");
	cfg.tcp_cookie_secret[3] = 1; /* a test's fixed secret needs none */
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	usn_stack_destroy(s);

	f->hal.ops = &fake_ops;
	f->rand_err = -ENOSYS;
	cfg.tcp_cookie_secret[3] = 0;
	char msg[128];
	assert_int_equal(usn_stack_config_check(&cfg, &f->hal, msg, sizeof(msg)), 0);
	assert_null(usn_stack_create(&f->hal, &cfg));
	assert_int_equal(f->rand_calls, 1);
	assert_int_equal(f->n_free, FAKE_BUFS);
	test_free(f);
}

/* A port with RSS must bring a key that spreads flows. */
static void test_config_refuses_degenerate_rss_key(void **state)
{
	(void)state;
	struct fake *f = fake_new(2);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, NETFIX_STACK_IP, 15);
	f->hal.offloads = USN_HAL_OFF_RSS;
	f->hal.rss_key = 0; /* a backend that forgot to choose one */
	expect_config_error(&cfg, &f->hal, "rss_key");
	f->hal.rss_key = 0xffff;
	expect_config_error(&cfg, &f->hal, "rss_key");
	f->hal.rss_key = usn_rss_key_from(1);
	struct usn_stack *s = usn_stack_create(&f->hal, &cfg);
	assert_non_null(s);
	usn_stack_destroy(s);
	test_free(f);
}

/* Software steering is keyed by the stack's secret: two stacks with
 * different secrets send a given flow to different workers about half the
 * time (4 workers: 3/4), and both directions of a flow to one worker. */
static void test_software_steering_keyed(void **state)
{
	(void)state;
	struct fake *f1 = fake_new(2), *f2 = fake_new(2);
	f1->hal.n_queues = f2->hal.n_queues = 4; /* fake_new's rx queues serve 0 and 1 only; not polled here */
	f1->rand_byte = 3;
	f2->rand_byte = 200;
	struct usn_stack *s1 = stack_on(f1, 16), *s2 = stack_on(f2, 16);
	uint32_t seed = 99;
	unsigned differ = 0, per[4] = {0};
	for (int i = 0; i < 4000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t src = SIMNET_IP((seed >> 24) & 0xff, (seed >> 16) & 0xff);
		uint16_t sport = (uint16_t)(seed >> 3), dport = 80;
		uint16_t a = usn_stack_flow_worker(s1, src, sport, NETFIX_STACK_IP, dport);
		assert_int_equal(a, usn_stack_flow_worker(s1, NETFIX_STACK_IP, dport, src, sport));
		differ += a != usn_stack_flow_worker(s2, src, sport, NETFIX_STACK_IP, dport);
		per[a]++;
	}
	assert_true(differ > 2700 && differ < 3300);
	for (int q = 0; q < 4; q++)
		assert_true(per[q] > 800);
	usn_stack_destroy(s1);
	usn_stack_destroy(s2);
	test_free(f1);
	test_free(f2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffer_cache_bulk_and_no_leak),
		cmocka_unit_test(test_pool_dry_counts_drop_no_buf),
		cmocka_unit_test(test_cache_reserve_for_control_frames),
		cmocka_unit_test(test_tx_batch),
		cmocka_unit_test(test_tx_partial_burst),
		cmocka_unit_test(test_tx_ring_full_holds_then_drops),
		cmocka_unit_test(test_stats_snapshot),
		cmocka_unit_test(test_stats_names),
		cmocka_unit_test(test_run_idle_backoff_and_stop),
		cmocka_unit_test(test_run_idle_waits_on_port),
		cmocka_unit_test(test_config_check_and_defaults),
		cmocka_unit_test(test_software_rss_two_workers),
		cmocka_unit_test(test_destroy_frees_frames_in_inbox),
		cmocka_unit_test(test_keys_from_random_source),
		cmocka_unit_test(test_keys_need_a_random_source),
		cmocka_unit_test(test_config_refuses_degenerate_rss_key),
		cmocka_unit_test(test_software_steering_keyed),
		cmocka_unit_test(test_software_rss_ipv6),
		cmocka_unit_test(test_software_rss_udp6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
