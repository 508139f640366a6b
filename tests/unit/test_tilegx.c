/* Unit tests of the TILE-Gx mPIPE backend (arch/tilegx) through its HAL
 * ops, over the x86 emulation of gxio: frames in and out byte for byte,
 * with and without chained buffers, buffers back on their stacks, the load
 * balancer's flow-to-worker mapping, and broken descriptor handling caught. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../arch/tilegx/emu/gxio_emu.h"
#include "../../arch/tilegx/mpipe.h"
#include "usn_sim.h"
#include "usnet/backend.h"
#include "usnet/cursor.h"

static const uint8_t GX_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x0a, 0x01};
static const uint8_t PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x0b, 0x02};
#define IP_GX 0xc6120001u   /* 198.18.0.1 */
#define IP_PEER 0xc6120002u /* 198.18.0.2 */

struct fix {
	struct usn_sim_link *link;
	struct usn_sim_port *wire, *peer;
	struct usn_gxemu *emu;
	struct usn_gx_port *gx;
	struct usn_hal *hal;
};

static void fix_up(struct fix *f, uint16_t chain, uint16_t workers, uint32_t iq_entries)
{
	struct usn_sim_port_config pc;
	struct usn_gx_config cfg;
	char msg[160] = "";

	memset(f, 0, sizeof(*f));
	f->link = usn_sim_link_create(7);
	assert_non_null(f->link);
	memset(&pc, 0, sizeof(pc));
	memcpy(pc.mac, GX_MAC, 6);
	f->wire = usn_sim_port_create(f->link, &pc);
	memcpy(pc.mac, PEER_MAC, 6);
	f->peer = usn_sim_port_create(f->link, &pc);
	assert_non_null(f->wire);
	assert_non_null(f->peer);
	f->emu = usn_gxemu_create(f->link);
	assert_non_null(f->emu);
	assert_int_equal(usn_gxemu_add_link(f->emu, "xgbe1", f->wire, GX_MAC), 0);

	memset(&cfg, 0, sizeof(cfg));
	cfg.link = "xgbe1";
	cfg.n_workers = workers;
	cfg.chain_buf_size = chain;
	cfg.bufs_per_stack = 512;
	cfg.iqueue_entries = iq_entries;
	cfg.emu = f->emu;
	f->gx = usn_gx_port_create(&cfg, msg, sizeof(msg));
	if (!f->gx)
		fail_msg("usn_gx_port_create: %s", msg);
	f->hal = usn_gx_port_hal(f->gx);
}

/* Every stack holds every buffer again. */
static void assert_all_buffers_home(struct fix *f)
{
	unsigned idx[8], n = usn_gx_port_stacks(f->gx, idx, 8);

	for (unsigned i = 0; i < n; i++)
		assert_int_equal(usn_gxemu_stack_count(usn_gx_port_context(f->gx), idx[i]),
				 (long)usn_gx_port_bufs_per_stack(f->gx));
}

static void fix_down(struct fix *f)
{
	struct usn_gxemu_stats st;

	usn_gxemu_stats(f->emu, &st);
	assert_int_equal(st.bad_push, 0);
	assert_int_equal(st.bad_size, 0);
	assert_int_equal(st.bad_desc, 0);
	usn_gx_port_destroy(f->gx);
	usn_gxemu_destroy(f->emu);
	usn_sim_link_destroy(f->link);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* An Ethernet + IPv4 + TCP frame of `len` bytes (>= 54), payload patterned. */
static size_t tcp_frame(uint8_t *b, size_t len, const uint8_t *dst, const uint8_t *src, uint32_t sip, uint32_t dip,
			uint16_t sport, uint16_t dport, uint8_t seed)
{
	memset(b, 0, 54);
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, 0x0800);
	b[14] = 0x45;
	put16(b + 16, (uint16_t)(len - 14));
	b[22] = 64;
	b[23] = 6;
	put32(b + 26, sip);
	put32(b + 30, dip);
	put16(b + 34, sport);
	put16(b + 36, dport);
	b[46] = 0x50;
	for (size_t i = 54; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7);
	return len;
}

/* Receives one frame on `queue`, polling all queues a few times. */
static struct usn_buf *rx_one(struct fix *f, uint16_t queue)
{
	struct usn_buf *b[4];

	for (int tries = 0; tries < 4; tries++) {
		uint16_t n = f->hal->ops->rx_burst(f->hal, queue, b, 1);
		if (n == 1)
			return b[0];
	}
	return NULL;
}

static void assert_frame_is(struct usn_buf *head, const uint8_t *want, size_t len)
{
	uint8_t got[16384];

	assert_int_equal(head->frame_len, len);
	assert_int_equal(usn_cursor_read(usn_cursor_of_frame(head), got, sizeof(got)), len);
	assert_memory_equal(got, want, len);
}

static unsigned chain_len(const struct usn_buf *b)
{
	unsigned n = 0;
	for (; b; b = b->next)
		n++;
	return n;
}

/* Without chains, every frame lands whole in the smallest buffer class that
 * holds it plus the 32-byte headroom, and comes out byte for byte. */
static void test_rx_nochain_sizes(void **state)
{
	static const size_t sizes[] = {60, 96, 97, 200, 600, 1514};
	static const size_t want_class[] = {128, 128, 256, 256, 1024, 1664};
	uint8_t fr[2048];
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 0);
	assert_int_equal(f.hal->n_queues, 1);
	assert_memory_equal(f.hal->mac, GX_MAC, 6);
	assert_int_equal(f.hal->buf_size, 1664 - USN_GX_HEADROOM);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = tcp_frame(fr, sizes[i], GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1000, 80, (uint8_t)i);
		struct usn_buf *b;

		assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
		b = rx_one(&f, 0);
		assert_non_null(b);
		assert_frame_is(b, fr, len);
		assert_null(b->next);
		assert_int_equal(b->len, len);
		assert_int_equal(b->headroom, USN_GX_HEADROOM);
		assert_int_equal(b->room + b->headroom, want_class[i]);
		assert_true(b->flags & USN_BUF_RX_HASH);
		assert_int_equal(b->rss_hash, usn_rss_hash(f.hal->rss_key, IP_PEER, IP_GX, 1000, 80));
		f.hal->ops->free_bulk(f.hal, 0, &b, 1);
	}
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* With 128-byte chains, a full frame spans 13 buffers: 88 bytes in the
 * first (128 - 8 for the next-buffer word - 32 headroom), 120 in the others. */
static void test_rx_chained_128(void **state)
{
	uint8_t fr[2048];
	struct usn_gxemu_stats st;
	struct usn_buf *b, *c;
	size_t len;
	struct fix f;

	(void)state;
	fix_up(&f, 128, 1, 0);
	assert_int_equal(f.hal->buf_size, 256 - USN_GX_HEADROOM); /* TX from a 256 B stack */
	len = tcp_frame(fr, 1514, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1001, 80, 3);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	b = rx_one(&f, 0);
	assert_non_null(b);
	assert_frame_is(b, fr, len);
	assert_int_equal(chain_len(b), 1 + (1514 - 88 + 119) / 120);
	assert_int_equal(b->len, 88);
	assert_int_equal(b->headroom, 40);
	for (c = b->next; c->next; c = c->next) {
		assert_int_equal(c->len, 120);
		assert_int_equal(c->headroom, 8);
	}
	assert_int_equal(c->len, (1514 - 88) % 120);
	usn_gxemu_stats(f.emu, &st);
	assert_int_equal(st.rx_chained, 1);
	f.hal->ops->free_bulk(f.hal, 0, &b, 1);

	/* A frame that fits one buffer is not chained. */
	len = tcp_frame(fr, 60, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1001, 80, 4);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	b = rx_one(&f, 0);
	assert_non_null(b);
	assert_frame_is(b, fr, len);
	assert_null(b->next);
	assert_int_equal(b->headroom, USN_GX_HEADROOM);
	f.hal->ops->free_bulk(f.hal, 0, &b, 1);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* Chains of every class up to 1664 bytes carry a full-size frame. */
static void test_rx_chained_classes(void **state)
{
	static const uint16_t classes[] = {256, 512, 1024, 1664};
	uint8_t fr[2048];

	(void)state;
	for (size_t k = 0; k < sizeof(classes) / sizeof(classes[0]); k++) {
		struct fix f;
		struct usn_buf *b;
		size_t len;

		fix_up(&f, classes[k], 1, 0);
		len = tcp_frame(fr, 1514, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1002, 80, (uint8_t)k);
		assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
		b = rx_one(&f, 0);
		assert_non_null(b);
		assert_frame_is(b, fr, len);
		if (classes[k] >= 1514 + USN_GX_HEADROOM) {
			assert_null(b->next); /* it fits: no chain */
		} else {
			assert_int_equal(b->len, classes[k] - 40);
			assert_non_null(b->next);
		}
		f.hal->ops->free_bulk(f.hal, 0, &b, 1);
		assert_all_buffers_home(&f);
		fix_down(&f);
	}
}

/* TX: a frame built in allocated buffers (one, or a chain of four) leaves
 * byte for byte, and hwb puts every buffer back on its stack. */
static void test_tx_single_and_chain(void **state)
{
	uint8_t fr[2048], got[2048];
	struct usn_buf *b[4];
	size_t len, off = 0;
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 0);
	len = tcp_frame(fr, 1000, PEER_MAC, GX_MAC, IP_GX, IP_PEER, 80, 1003, 5);
	assert_int_equal(f.hal->ops->alloc_bulk(f.hal, 0, b, 1), 1);
	assert_int_equal(b[0]->len, 0);
	assert_int_equal(b[0]->headroom, USN_GX_HEADROOM);
	assert_true(b[0]->room >= 1514);
	memcpy(b[0]->data, fr, len);
	b[0]->len = (uint16_t)len;
	b[0]->frame_len = (uint32_t)len;
	assert_int_equal(f.hal->ops->tx_burst(f.hal, 0, b, 1), 1);
	assert_int_equal(usn_sim_port_recv_raw(f.peer, got, sizeof(got)), len);
	assert_memory_equal(got, fr, len);

	/* Four buffers: 14 + 300 + 0 (empty) + the rest. */
	assert_int_equal(f.hal->ops->alloc_bulk(f.hal, 0, b, 4), 4);
	static const uint16_t part[4] = {14, 300, 0, 686};
	for (int i = 0; i < 4; i++) {
		memcpy(b[i]->data, fr + off, part[i]);
		b[i]->len = part[i];
		off += part[i];
		b[i]->next = i < 3 ? b[i + 1] : NULL;
	}
	b[0]->frame_len = (uint32_t)len;
	assert_int_equal(f.hal->ops->tx_burst(f.hal, 0, b, 1), 1);
	assert_int_equal(usn_sim_port_recv_raw(f.peer, got, sizeof(got)), len);
	assert_memory_equal(got, fr, len);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* A received chained frame can be sent on as it is (the stack may reply in
 * place): every segment becomes one edesc and every buffer comes home. */
static void test_rx_chain_forwarded(void **state)
{
	uint8_t fr[2048], got[2048];
	struct usn_buf *b;
	size_t len;
	struct fix f;

	(void)state;
	fix_up(&f, 128, 1, 0);
	len = tcp_frame(fr, 1400, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1004, 80, 6);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	b = rx_one(&f, 0);
	assert_non_null(b);
	memcpy(b->data, PEER_MAC, 6); /* turn it round */
	memcpy(b->data + 6, GX_MAC, 6);
	memcpy(fr, PEER_MAC, 6);
	memcpy(fr + 6, GX_MAC, 6);
	assert_int_equal(f.hal->ops->tx_burst(f.hal, 0, &b, 1), 1);
	assert_int_equal(usn_sim_port_recv_raw(f.peer, got, sizeof(got)), len);
	assert_memory_equal(got, fr, len);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* Two workers: each flow's frames, in both directions of the flow, reach
 * the worker usn_rss_queue picks, through bucket = hash & 127 and ring =
 * bucket % 2; the other worker sees nothing. */
static void test_load_balancer_two_workers(void **state)
{
	uint8_t fr[256];
	unsigned per_queue[2] = {0, 0};
	struct fix f;

	(void)state;
	fix_up(&f, 0, 2, 0);
	assert_int_equal(f.hal->n_queues, 2);
	assert_true(f.hal->offloads & USN_HAL_OFF_RSS);
	for (uint16_t port = 2000; port < 2064; port++) {
		uint16_t q = usn_rss_queue(usn_rss_hash(f.hal->rss_key, IP_PEER, IP_GX, port, 80), 2);
		struct usn_buf *b, *none;

		for (int dir = 0; dir < 2; dir++) {
			/* Both directions of the flow (the second as if the
			 * link carried our own traffic back, as a mirror would). */
			size_t len = dir == 0 ? tcp_frame(fr, 120, GX_MAC, PEER_MAC, IP_PEER, IP_GX, port, 80, 1)
					      : tcp_frame(fr, 120, GX_MAC, PEER_MAC, IP_GX, IP_PEER, 80, port, 2);
			assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
			assert_int_equal(f.hal->ops->rx_burst(f.hal, (uint16_t)(1 - q), &none, 1), 0);
			b = rx_one(&f, q);
			assert_non_null(b);
			assert_frame_is(b, fr, len);
			assert_int_equal(b->rss_hash, usn_rss_hash(f.hal->rss_key, IP_PEER, IP_GX, port, 80));
			f.hal->ops->free_bulk(f.hal, q, &b, 1);
		}
		per_queue[q]++;
	}
	/* 64 flows are not all on one worker. */
	assert_true(per_queue[0] > 8 && per_queue[1] > 8);
	assert_true(usn_gx_port_worker_cpu(f.gx, 0) >= 0);
	assert_true(usn_gx_port_worker_cpu(f.gx, 1) >= 0);
	assert_int_not_equal(usn_gx_port_worker_cpu(f.gx, 0), usn_gx_port_worker_cpu(f.gx, 1));
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* A NotifRing of 128 entries takes 128 frames; the rest are dropped for
 * want of credits, and consuming returns the credits. */
static void test_notif_ring_credits(void **state)
{
	uint8_t fr[256];
	struct usn_buf *b[32];
	struct usn_gxemu_stats st;
	unsigned got = 0;
	uint16_t n;
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 128);
	for (int i = 0; i < 150; i++) {
		size_t len = tcp_frame(fr, 80, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 3000, 80, (uint8_t)i);
		assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	}
	/* The emulated mPIPE moves frames into the ring when it is polled. */
	n = f.hal->ops->rx_burst(f.hal, 0, b, 32);
	assert_int_equal(n, 32);
	f.hal->ops->free_bulk(f.hal, 0, b, n);
	got += n;
	usn_gxemu_stats(f.emu, &st);
	assert_int_equal(st.rx_frames, 128);
	assert_int_equal(st.rx_ring_full, 150 - 128);
	while ((n = f.hal->ops->rx_burst(f.hal, 0, b, 32)) > 0) {
		f.hal->ops->free_bulk(f.hal, 0, b, n);
		got += n;
	}
	assert_int_equal(got, 128);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* A classifier that writes a custom header: the backend starts the frame
 * at the descriptor's l2 offset. */
static void test_l2_offset_honoured(void **state)
{
	uint8_t fr[2048];
	struct usn_buf *b;
	size_t len;
	struct fix f;

	(void)state;
	for (int chain = 0; chain < 2; chain++) {
		fix_up(&f, chain ? 128 : 0, 1, 0);
		usn_gxemu_set_custom_header(f.emu, 6);
		len = tcp_frame(fr, 700, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1005, 80, 8);
		assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
		b = rx_one(&f, 0);
		assert_non_null(b);
		assert_frame_is(b, fr, len);
		assert_int_equal(b->headroom, (chain ? 40 : USN_GX_HEADROOM) + 6);
		f.hal->ops->free_bulk(f.hal, 0, &b, 1);
		assert_all_buffers_home(&f);
		fix_down(&f);
	}
}

/* Broken descriptor handling in the emulation is caught: the same
 * byte-for-byte check that passes above fails on what arrives. */
static void test_broken_l2_offset_is_caught(void **state)
{
	uint8_t fr[2048], got[2048];
	struct usn_buf *b;
	size_t len;
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 0);
	usn_gxemu_set_custom_header(f.emu, 6);
	usn_gxemu_set_fault(f.emu, USN_GXEMU_FAULT_L2_OFFSET);
	len = tcp_frame(fr, 700, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1006, 80, 9);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	b = rx_one(&f, 0);
	assert_non_null(b);
	assert_int_not_equal(b->frame_len, len);
	usn_cursor_read(usn_cursor_of_frame(b), got, sizeof(got));
	assert_int_equal(got[0], 0xc5); /* the custom header, taken for L2 */
	assert_true(memcmp(got, fr, len) != 0);
	f.hal->ops->free_bulk(f.hal, 0, &b, 1);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

static void test_broken_chain_order_is_caught(void **state)
{
	uint8_t fr[2048], got[2048];
	struct usn_buf *b;
	size_t len;
	struct fix f;

	(void)state;
	fix_up(&f, 128, 1, 0);
	usn_gxemu_set_fault(f.emu, USN_GXEMU_FAULT_CHAIN_ORDER);
	len = tcp_frame(fr, 1000, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1007, 80, 10);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	b = rx_one(&f, 0);
	assert_non_null(b);
	assert_int_equal(b->frame_len, len); /* the length still adds up */
	assert_int_equal(usn_cursor_read(usn_cursor_of_frame(b), got, sizeof(got)), len);
	assert_memory_equal(got, fr, 88);     /* the first buffer is right */
	assert_true(memcmp(got, fr, len) != 0); /* the rest is not */
	f.hal->ops->free_bulk(f.hal, 0, &b, 1);
	assert_all_buffers_home(&f); /* every buffer still comes home */
	fix_down(&f);
}

/* The clock is the cycle counter: 1.2 GHz, following the link's virtual time. */
static void test_clock_follows_virtual_time(void **state)
{
	struct fix f;
	uint64_t c0, c1;

	(void)state;
	fix_up(&f, 0, 1, 0);
	assert_int_equal(f.hal->cycles_per_sec, 1200000000u);
	c0 = f.hal->ops->clock_cycles(f.hal);
	usn_sim_link_advance(f.link, 2500);
	c1 = f.hal->ops->clock_cycles(f.hal);
	assert_int_equal(c1 - c0, 2500u * 1200u);
	fix_down(&f);
}

/* Worker memory comes from pages homed on the worker's tile. */
static void test_mem_alloc(void **state)
{
	struct fix f;
	void *p;

	(void)state;
	fix_up(&f, 0, 2, 0);
	p = f.hal->ops->mem_alloc(f.hal, 1, 100000);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p & 0xffff, 0);
	memset(p, 1, 100000);
	f.hal->ops->mem_free(f.hal, 1, p, 100000);
	fix_down(&f);
}

/* Alloc until the stack is empty: the count is the stack's, then failures
 * are counted; freeing puts them all back. */
static void test_alloc_exhaustion(void **state)
{
	static struct usn_buf *b[600];
	struct usn_gx_port_stats ps;
	unsigned n = 0;
	uint16_t got;
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 0);
	while ((got = f.hal->ops->alloc_bulk(f.hal, 0, b + n, 64)) > 0 && n < 512)
		n += got;
	assert_int_equal(n, 512);
	usn_gx_port_stats(f.gx, &ps);
	assert_true(ps.alloc_fail >= 1);
	for (unsigned i = 0; i < n; i += 64)
		f.hal->ops->free_bulk(f.hal, 0, b + i, 64);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

static void test_config_errors(void **state)
{
	struct usn_gx_config cfg;
	char msg[160];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.link = "xgbe1";
	msg[0] = 0;
	assert_null(usn_gx_port_create(&cfg, msg, sizeof(msg))); /* no board on x86 */
	assert_non_null(strstr(msg, "emulation"));
	cfg.chain_buf_size = 300;
	assert_null(usn_gx_port_create(&cfg, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "chain buffer size"));
	cfg.chain_buf_size = 0;
	cfg.iqueue_entries = 1000;
	assert_null(usn_gx_port_create(&cfg, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "ring sizes"));
}

static void test_backend_args(void **state)
{
	char a0[] = "ws", a1[] = "--link", a2[] = "xgbe3", a3[] = "--cpus", a4[] = "2,5-6", a5[] = "--chain",
	     a6[] = "256", a7[] = "--", a8[] = "pages";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL};
	struct usn_gx_config cfg;
	struct usn_backend *b = (struct usn_backend *)1;
	int cpus[USN_GX_MAX_WORKERS];
	char msg[160];

	(void)state;
	assert_int_equal(usn_gx_args_parse(9, argv, 3, &cfg, cpus, msg, sizeof(msg)), 8);
	assert_string_equal(cfg.link, "xgbe3");
	assert_int_equal(cfg.n_workers, 3);
	assert_int_equal(cfg.chain_buf_size, 256);
	assert_ptr_equal(cfg.cpus, cpus);
	assert_int_equal(cpus[0], 2);
	assert_int_equal(cpus[1], 5);
	assert_int_equal(cpus[2], 6);
	/* Too few CPUs for the workers. */
	assert_int_equal(usn_gx_args_parse(9, argv, 4, &cfg, cpus, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "3 CPUs for 4 workers"));
	/* No "--": everything is the backend's. */
	assert_int_equal(usn_gx_args_parse(3, argv, 1, &cfg, cpus, msg, sizeof(msg)), 3);
	argv[1] = a8;
	assert_int_equal(usn_gx_args_parse(9, argv, 1, &cfg, cpus, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "unknown backend option"));
	argv[1] = a1;
	/* On x86 there is no mPIPE to open. */
	assert_int_equal(usn_backend_open(9, argv, 1, &b, msg, sizeof(msg)), -ENODEV);
	assert_null(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rx_nochain_sizes),
		cmocka_unit_test(test_rx_chained_128),
		cmocka_unit_test(test_rx_chained_classes),
		cmocka_unit_test(test_tx_single_and_chain),
		cmocka_unit_test(test_rx_chain_forwarded),
		cmocka_unit_test(test_load_balancer_two_workers),
		cmocka_unit_test(test_notif_ring_credits),
		cmocka_unit_test(test_l2_offset_honoured),
		cmocka_unit_test(test_broken_l2_offset_is_caught),
		cmocka_unit_test(test_broken_chain_order_is_caught),
		cmocka_unit_test(test_clock_follows_virtual_time),
		cmocka_unit_test(test_mem_alloc),
		cmocka_unit_test(test_alloc_exhaustion),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_backend_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
