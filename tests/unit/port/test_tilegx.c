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

#include "../../../arch/tilegx/emu/gxio_emu.h"
#include "../../../arch/tilegx/mpipe.h"
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

/* A simulated link with the board's wire port and a peer (both jumbo
 * capable), and an emulated board with link xgbe1 on the wire. */
static void fix_board(struct fix *f)
{
	struct usn_sim_port_config pc;

	memset(f, 0, sizeof(*f));
	f->link = usn_sim_link_create(7);
	assert_non_null(f->link);
	memset(&pc, 0, sizeof(pc));
	pc.mtu = 9000;
	memcpy(pc.mac, GX_MAC, 6);
	f->wire = usn_sim_port_create(f->link, &pc);
	memcpy(pc.mac, PEER_MAC, 6);
	f->peer = usn_sim_port_create(f->link, &pc);
	assert_non_null(f->wire);
	assert_non_null(f->peer);
	f->emu = usn_gxemu_create(f->link);
	assert_non_null(f->emu);
	assert_int_equal(usn_gxemu_add_link(f->emu, "xgbe1", f->wire, GX_MAC), 0);
}

static void fix_port(struct fix *f, struct usn_gx_config *cfg)
{
	char msg[160] = "";

	cfg->link = "xgbe1";
	cfg->emu = f->emu;
	f->gx = usn_gx_port_create(cfg, msg, sizeof(msg));
	if (!f->gx)
		fail_msg("usn_gx_port_create: %s", msg);
	f->hal = usn_gx_port_hal(f->gx);
}

static void fix_up(struct fix *f, uint16_t chain, uint16_t workers, uint32_t iq_entries)
{
	struct usn_gx_config cfg;

	fix_board(f);
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_workers = workers;
	cfg.chain_buf_size = chain;
	cfg.bufs_per_stack = 512;
	cfg.iqueue_entries = iq_entries;
	fix_port(f, &cfg);
}

/* Every stack holds every buffer again. */
static void assert_all_buffers_home(struct fix *f)
{
	unsigned idx[8], n = usn_gx_port_stacks(f->gx, idx, 8);

	for (unsigned i = 0; i < n; i++)
		assert_int_equal(usn_gxemu_stack_count(usn_gx_port_context(f->gx), idx[i]),
				 (long)usn_gx_port_stack_bufs(f->gx, idx[i]));
}

static void fix_down(struct fix *f)
{
	struct usn_gxemu_stats st;

	usn_gxemu_stats(f->emu, &st);
	assert_int_equal(st.bad_push, 0);
	assert_int_equal(st.bad_size, 0);
	assert_int_equal(st.bad_desc, 0);
	assert_int_equal(st.bad_credit, 0);
	assert_int_equal(st.tx_unfenced, 0);
	assert_int_equal(st.tx_snf_over, 0);
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
	/* 128 flows whose source ports differ in their low 7 bits only: under
	 * any key usn_rss_key_ok accepts (the port draws one at random) they
	 * split exactly in half over two queues. */
	for (uint16_t port = 2048; port < 2048 + 128; port++) {
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
	assert_int_equal(per_queue[0], 64);
	assert_int_equal(per_queue[1], 64);
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

/* ---- what a real card would refuse: the backend within its limits ---- */

/* Sends `len` bytes of frame `fr` on worker q, in one buffer or chained in
 * buffers of at most `part` bytes. */
static void tx_frame(struct fix *f, uint16_t q, const uint8_t *fr, size_t len, size_t part)
{
	struct usn_buf *head = NULL, *tail = NULL, *b;
	size_t off = 0;

	while (off < len) {
		size_t take = len - off < part ? len - off : part;
		assert_int_equal(f->hal->ops->alloc_bulk(f->hal, q, &b, 1), 1);
		assert_true(take <= b->room);
		memcpy(b->data, fr + off, take);
		b->len = (uint16_t)take;
		if (tail)
			tail->next = b;
		else
			head = b;
		tail = b;
		off += take;
	}
	head->frame_len = (uint32_t)len;
	assert_int_equal(f->hal->ops->tx_burst(f->hal, q, &head, 1), 1);
}

static void assert_peer_got(struct fix *f, const uint8_t *fr, size_t len)
{
	static uint8_t got[16384];

	assert_int_equal(usn_sim_port_recv_raw(f->peer, got, sizeof(got)), len);
	assert_memory_equal(got, fr, len);
}

/* 35 workers start although the mPIPE has 24 eDMA rings: they share them
 * round-robin, and every worker's frames leave. With rings held by Linux's
 * driver, fewer are shared; with none free, a clear error. */
static void test_35_workers_share_erings(void **state)
{
	uint8_t fr[256];
	struct usn_gx_config cfg;
	struct fix f;
	char msg[160] = "";

	(void)state;
	fix_board(&f);
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_workers = 35;
	cfg.bufs_per_stack = 35 * 64;
	fix_port(&f, &cfg);
	assert_int_equal(f.hal->n_queues, 35);
	assert_int_equal(usn_gx_port_erings(f.gx), 24);
	for (uint16_t q = 0; q < 35; q++) {
		size_t len = tcp_frame(fr, 100, PEER_MAC, GX_MAC, IP_GX, IP_PEER, 80, (uint16_t)(2000 + q), (uint8_t)q);
		assert_int_equal(usn_gx_port_worker_ering(f.gx, q), q % 24);
		tx_frame(&f, q, fr, len, len);
		assert_peer_got(&f, fr, len);
	}
	assert_all_buffers_home(&f);
	fix_down(&f);

	/* Linux's driver holds 4 rings: 20 are left to share. */
	fix_board(&f);
	assert_int_equal(usn_gxemu_hold_erings(f.emu, 4), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_workers = 35;
	cfg.bufs_per_stack = 35 * 64;
	fix_port(&f, &cfg);
	assert_int_equal(usn_gx_port_erings(f.gx), 20);
	assert_int_equal(usn_gx_port_worker_ering(f.gx, 34), 34 % 20);
	fix_down(&f);

	/* All 24 held: no port, and the reason. */
	fix_board(&f);
	assert_int_equal(usn_gxemu_hold_erings(f.emu, 24), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.link = "xgbe1";
	cfg.emu = f.emu;
	cfg.n_workers = 2;
	cfg.bufs_per_stack = 512;
	assert_null(usn_gx_port_create(&cfg, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "no eDMA ring free"));
	usn_gxemu_destroy(f.emu);
	usn_sim_link_destroy(f.link);
}

/* One fence per TX burst, before its first edesc, however many frames. */
static void test_tx_fence_once_per_burst(void **state)
{
	uint8_t fr[8][200];
	struct usn_buf *b[8];
	struct usn_gxemu_stats st0, st1;
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 0);
	assert_int_equal(f.hal->ops->alloc_bulk(f.hal, 0, b, 8), 8);
	for (int i = 0; i < 8; i++) {
		size_t len = tcp_frame(fr[i], 200, PEER_MAC, GX_MAC, IP_GX, IP_PEER, 80, 3000, (uint8_t)i);
		memcpy(b[i]->data, fr[i], len);
		b[i]->len = (uint16_t)len;
		b[i]->frame_len = (uint32_t)len;
	}
	usn_gxemu_stats(f.emu, &st0);
	assert_int_equal(f.hal->ops->tx_burst(f.hal, 0, b, 8), 8);
	usn_gxemu_stats(f.emu, &st1);
	assert_int_equal(st1.fences - st0.fences, 1);
	assert_int_equal(st1.tx_frames - st0.tx_frames, 8);
	for (int i = 0; i < 8; i++)
		assert_peer_got(&f, fr[i], 200);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* The emulation's fence check can fail: an edesc posted for a buffer
 * written after the last fence is counted and its frame dropped. */
static void test_unfenced_put_is_caught(void **state)
{
	uint8_t fr[200], got[256];
	gxio_mpipe_context_t *ctx;
	gxio_mpipe_equeue_t eq;
	struct usn_gxemu_stats st;
	unsigned idx[8];
	void *mem;
	tmc_alloc_t a = TMC_ALLOC_INIT;
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 0);
	ctx = usn_gx_port_context(f.gx);
	usn_gx_port_stacks(f.gx, idx, 8);
	/* A ring of our own on the same context, to post by hand. */
	int ering = gxio_mpipe_alloc_edma_rings(ctx, 1, 0, 0);
	assert_true(ering >= 0);
	mem = tmc_alloc_map(&a, 512 * sizeof(gxio_mpipe_edesc_t));
	assert_non_null(mem);
	assert_int_equal(gxio_mpipe_equeue_init(&eq, ctx, (unsigned)ering, 0, mem, 512 * sizeof(gxio_mpipe_edesc_t), 0), 0);
	for (int fenced = 0; fenced < 2; fenced++) {
		uint8_t *buf = gxio_mpipe_pop_buffer(ctx, idx[0]);
		gxio_mpipe_edesc_t e;
		int64_t slot;
		assert_non_null(buf);
		size_t len = tcp_frame(fr, 100, PEER_MAC, GX_MAC, IP_GX, IP_PEER, 80, 3001, (uint8_t)fenced);
		memcpy(buf, fr, len);
		if (fenced)
			usn_gx_fence(ctx);
		memset(&e, 0, sizeof(e));
		e.bound = 1;
		e.xfer_size = (uint16_t)len;
		e.va = (int64_t)(intptr_t)buf;
		e.stack_idx = idx[0];
		e.hwb = 1;
		e.size = GXIO_MPIPE_BUFFER_SIZE_128;
		slot = gxio_mpipe_equeue_try_reserve_fast(&eq, 1);
		assert_true(slot >= 0);
		gxio_mpipe_equeue_put_at(&eq, e, (unsigned long)slot);
		usn_gxemu_stats(f.emu, &st);
		assert_int_equal(st.tx_unfenced, 1); /* the first post only */
		if (fenced)
			assert_peer_got(&f, fr, len);
		else
			assert_int_equal(usn_sim_port_recv_raw(f.peer, got, sizeof(got)), 0);
	}
	assert_all_buffers_home(&f);
	tmc_alloc_unmap(mem, 512 * sizeof(gxio_mpipe_edesc_t));
	usn_gx_port_destroy(f.gx);
	usn_gxemu_destroy(f.emu);
	usn_sim_link_destroy(f.link);
}

/* The defaults keep each ring in one 64 KB base page (no huge page per
 * worker) and every buffer stack within 16 pages, for 35 workers at MTU
 * 1500 and 9000; the plan says so. */
static void test_default_sizing_fits(void **state)
{
	static const uint16_t mtus[] = {1500, 9000};
	struct usn_gx_config cfg;

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		struct usn_gx_plan pl;
		char msg[160];

		memset(&cfg, 0, sizeof(cfg));
		cfg.n_workers = 35;
		cfg.mtu = mtus[m];
		assert_int_equal(usn_gx_plan(&cfg, &pl, msg, sizeof(msg)), 0);
		assert_int_equal(pl.iqueue_entries, 512);
		assert_int_equal(pl.iq_bytes, 32768);
		assert_int_equal(pl.iq_page, 65536);
		assert_int_equal(pl.eq_page, 65536);
		assert_int_equal(pl.n_erings, 24);
		for (unsigned i = 0; i < pl.n_stacks; i++) {
			assert_true(pl.stack[i].pages <= 16);
			assert_true(pl.stack[i].page <= ((size_t)16 << 20));
			assert_true(pl.stack[i].bufs >= 35u * 64u);
		}
	}
}

/* 35 workers at MTU 9000 with the default sizing start, and a jumbo frame
 * reaches its worker whole. */
static void test_35_workers_jumbo_start(void **state)
{
	static uint8_t fr[9014];
	struct usn_gx_config cfg;
	struct usn_buf *b;
	struct fix f;

	(void)state;
	fix_board(&f);
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_workers = 35;
	cfg.mtu = 9000;
	fix_port(&f, &cfg);
	const struct usn_gx_plan *pl = usn_gx_port_plan(f.gx);
	assert_int_equal(pl->stack[pl->n_stacks - 1].buf_bytes, 16384);
	assert_true(pl->stack[pl->n_stacks - 1].capped);
	/* Rings whose snf size the shared pool cannot raise are left out. */
	assert_true(usn_gx_port_erings(f.gx) >= 1 && usn_gx_port_erings(f.gx) <= 24);
	for (uint16_t q = 0; q < 35; q++) {
		unsigned r = usn_gx_port_worker_ering(f.gx, q);
		assert_true(r < usn_gx_port_erings(f.gx));
		assert_true(usn_gxemu_ering_snf(usn_gx_port_context(f.gx), r) >= 9014);
	}
	size_t len = tcp_frame(fr, sizeof(fr), GX_MAC, PEER_MAC, IP_PEER, IP_GX, 4000, 80, 1);
	uint16_t q = usn_rss_queue(usn_rss_hash(f.hal->rss_key, IP_PEER, IP_GX, 4000, 80), 35);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	b = rx_one(&f, q);
	assert_non_null(b);
	assert_null(b->next);
	assert_frame_is(b, fr, len);
	f.hal->ops->free_bulk(f.hal, q, &b, 1);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* What does not fit is refused with the figure to use; the plan is printed
 * with the page arithmetic. */
static void test_sizing_errors_and_print(void **state)
{
	struct usn_gx_config cfg;
	struct usn_gx_plan pl;
	char msg[200], out[4096];
	FILE *mf;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_workers = 35;
	cfg.mtu = 9000;
	cfg.bufs_per_stack = 20000;
	assert_int_equal(usn_gx_plan(&cfg, &pl, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "use at most 16251"));
	cfg.bufs_per_stack = 0;
	assert_int_equal(usn_gx_plan(&cfg, &pl, msg, sizeof(msg)), 0);
	memset(out, 0, sizeof(out));
	mf = fmemopen(out, sizeof(out) - 1, "w");
	assert_non_null(mf);
	usn_gx_plan_print(&pl, mf);
	fclose(mf);
	assert_non_null(strstr(out, "35 workers, MTU 9000"));
	assert_non_null(strstr(out, "buffer stack 16384 B: 16251 buffers"));
	assert_non_null(strstr(out, "in 16 pages of 16.0 MiB"));
	assert_non_null(strstr(out, "up to 24 (of the mPIPE's 24) x 2048 entries"));
	assert_non_null(strstr(out, "snf size 9014 B"));
	assert_null(strstr(out, "10368"));
}

/* Jumbo MTU without chains: 16384-byte buffers for long frames (never
 * 10368, as Linux), 4096 for middling ones; TX chains 1664-byte buffers
 * and its rings store a whole frame before sending (snf). */
static void test_jumbo_buffers(void **state)
{
	static uint8_t fr[9014];
	static const size_t want[] = {128, 256, 512, 1024, 1664, 4096, 16384};
	struct usn_gx_config cfg;
	unsigned idx[8], n;
	struct usn_buf *b;
	size_t len;
	struct fix f;

	(void)state;
	fix_board(&f);
	memset(&cfg, 0, sizeof(cfg));
	cfg.mtu = 9000;
	cfg.bufs_per_stack = 256;
	fix_port(&f, &cfg);
	n = usn_gx_port_stacks(f.gx, idx, 8);
	assert_int_equal(n, 7);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(usn_gx_port_plan(f.gx)->stack[i].buf_bytes, want[i]);
	assert_int_equal(f.hal->mtu, 9000);
	assert_int_equal(f.hal->buf_size, 1664 - USN_GX_HEADROOM);
	assert_true(usn_gxemu_ering_snf(usn_gx_port_context(f.gx), 0) >= 9014);

	len = tcp_frame(fr, 9014, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 4001, 80, 2);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	b = rx_one(&f, 0);
	assert_non_null(b);
	assert_null(b->next);
	assert_int_equal(b->room + b->headroom, 16384);
	assert_frame_is(b, fr, len);
	f.hal->ops->free_bulk(f.hal, 0, &b, 1);
	len = tcp_frame(fr, 3000, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 4001, 80, 3);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	b = rx_one(&f, 0);
	assert_non_null(b);
	assert_int_equal(b->room + b->headroom, 4096);
	f.hal->ops->free_bulk(f.hal, 0, &b, 1);

	/* TX: a 9014-byte frame in six 1632-byte buffers leaves whole. */
	len = tcp_frame(fr, 9014, PEER_MAC, GX_MAC, IP_GX, IP_PEER, 80, 4001, 4);
	tx_frame(&f, 0, fr, len, f.hal->buf_size);
	assert_peer_got(&f, fr, len);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* A buffer error: nothing goes back (the descriptor's buffer is stale and
 * still on its stack), the frame is counted, every buffer stays home once. */
static void test_be_pushes_nothing(void **state)
{
	uint8_t fr[2048];
	struct usn_gx_port_stats ps;
	struct usn_buf *b[4];
	struct fix f;

	(void)state;
	for (int chain = 0; chain < 2; chain++) {
		fix_up(&f, chain ? 128 : 0, 1, 0);
		usn_gxemu_inject(f.emu, chain ? USN_GXEMU_INJECT_CHAIN_BE : USN_GXEMU_INJECT_BE, 1);
		size_t len = tcp_frame(fr, 1000, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1010, 80, 5);
		assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
		assert_int_equal(f.hal->ops->rx_burst(f.hal, 0, b, 4), 0);
		usn_gx_port_stats(f.gx, &ps);
		assert_int_equal(ps.rx_buf_err, 1);
		assert_int_equal(ps.rx_frames, 0);
		/* The next frame is fine. */
		assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
		assert_int_equal(f.hal->ops->rx_burst(f.hal, 0, b, 4), 1);
		assert_frame_is(b[0], fr, len);
		f.hal->ops->free_bulk(f.hal, 0, b, 1);
		assert_all_buffers_home(&f);
		fix_down(&f);
	}
}

/* A chained frame with a CRC error found after the chain was written:
 * every buffer of the chain goes back, once. */
static void test_chain_error_returns_every_buffer(void **state)
{
	uint8_t fr[2048];
	struct usn_gx_port_stats ps;
	struct usn_buf *b[4];
	struct fix f;

	(void)state;
	fix_up(&f, 128, 1, 0);
	usn_gxemu_inject(f.emu, USN_GXEMU_INJECT_CHAIN_CE, 1);
	size_t len = tcp_frame(fr, 1400, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1011, 80, 6);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	assert_int_equal(f.hal->ops->rx_burst(f.hal, 0, b, 4), 0);
	usn_gx_port_stats(f.gx, &ps);
	assert_int_equal(ps.rx_err_desc, 1);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* One credit store per RX burst, not one per frame. */
static void test_credits_once_per_burst(void **state)
{
	uint8_t fr[256];
	struct usn_buf *b[32];
	struct usn_gxemu_stats st0, st1;
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 0);
	for (int i = 0; i < 32; i++) {
		size_t len = tcp_frame(fr, 80, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 3002, 80, (uint8_t)i);
		assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	}
	usn_gxemu_stats(f.emu, &st0);
	assert_int_equal(f.hal->ops->rx_burst(f.hal, 0, b, 32), 32);
	usn_gxemu_stats(f.emu, &st1);
	assert_int_equal(st1.credit_writes - st0.credit_writes, 1);
	f.hal->ops->free_bulk(f.hal, 0, b, 32);
	assert_all_buffers_home(&f);
	fix_down(&f);
}

/* Closing the port does not take the link down under another user (here
 * a monitor that opened it without data permission); the last user's
 * close does. */
static void test_close_leaves_link_up_for_others(void **state)
{
	gxio_mpipe_context_t other;
	gxio_mpipe_link_t l;
	struct fix f;

	(void)state;
	fix_up(&f, 0, 1, 0);
	usn_gxemu_bind(&other, f.emu);
	assert_int_equal(gxio_mpipe_init(&other, 0), 0);
	assert_int_equal(gxio_mpipe_link_open(&l, &other, "xgbe1", GXIO_MPIPE_LINK_NO_DATA), 0);
	assert_int_equal(gxio_mpipe_link_get_attr(&l, GXIO_MPIPE_LINK_CURRENT_STATE) & GXIO_MPIPE_LINK_SPEED_MASK,
			 GXIO_MPIPE_LINK_10G);
	usn_gx_port_destroy(f.gx);
	assert_int_equal(gxio_mpipe_link_get_attr(&l, GXIO_MPIPE_LINK_DESIRED_STATE), GXIO_MPIPE_LINK_ANYSPEED);
	assert_int_equal(gxio_mpipe_link_get_attr(&l, GXIO_MPIPE_LINK_CURRENT_STATE) & GXIO_MPIPE_LINK_SPEED_MASK,
			 GXIO_MPIPE_LINK_10G);
	assert_int_equal(gxio_mpipe_link_close(&l), 0);
	/* Reopened without bringing it up: the last close took it down. */
	assert_int_equal(gxio_mpipe_link_open(&l, &other, "xgbe1", GXIO_MPIPE_LINK_AUTO_NONE), 0);
	assert_int_equal(gxio_mpipe_link_get_attr(&l, GXIO_MPIPE_LINK_DESIRED_STATE), 0);
	assert_int_equal(gxio_mpipe_destroy(&other), 0);
	usn_gxemu_destroy(f.emu);
	usn_sim_link_destroy(f.link);
}

/* ---- the emulation refuses what the card refuses ---- */

static void test_emu_refuses_like_the_card(void **state)
{
	gxio_mpipe_context_t ctx;
	gxio_mpipe_link_t l;
	gxio_mpipe_iqueue_t iq;
	gxio_mpipe_equeue_t eq;
	struct usn_gxemu_stats st;
	tmc_alloc_t a = TMC_ALLOC_INIT, big = TMC_ALLOC_INIT;
	uint8_t *small, *huge;
	int rc, stack;
	struct fix f;

	(void)state;
	fix_board(&f);
	usn_gxemu_bind(&ctx, f.emu);
	assert_int_equal(gxio_mpipe_init(&ctx, 0), 0);
	assert_int_equal(gxio_mpipe_link_open(&l, &ctx, "xgbe1", 0), 0);
	/* The real link attribute values. */
	assert_int_equal(GXIO_MPIPE_LINK_MAC, 0x040000);
	assert_int_equal(gxio_mpipe_link_get_attr(&l, GXIO_MPIPE_LINK_MAC), 0x020000000a01ll);
	assert_int_equal(gxio_mpipe_link_get_attr(&l, GXIO_MPIPE_LINK_DESIRED_STATE), 0x800);
	assert_int_equal(gxio_mpipe_link_get_attr(&l, GXIO_MPIPE_LINK_CURRENT_STATE), 0x8);

	/* 24 eDMA rings, not 25. */
	assert_int_equal(gxio_mpipe_alloc_edma_rings(&ctx, 24, 0, 0), 0);
	assert_int_equal(gxio_mpipe_alloc_edma_rings(&ctx, 1, 0, 0), GXIO_MPIPE_ERR_NO_EDMA_RING);

	/* Page sizes: 64 KB, 1 MB, 16 MB, nothing larger. */
	assert_int_equal(tmc_alloc_get_pagesizes(), (1ul << 16) | (1ul << 20) | (1ul << 24));
	assert_null(tmc_alloc_set_pagesize(&big, ((size_t)16 << 20) + 1));
	small = tmc_alloc_map(&a, (size_t)256 << 10); /* four 64 KB pages */
	assert_non_null(small);
	assert_non_null(tmc_alloc_set_pagesize(&big, (size_t)1 << 20));
	huge = tmc_alloc_map(&big, (size_t)17 << 20);
	assert_non_null(huge);

	/* Rings: aligned, and in one page. */
	rc = gxio_mpipe_alloc_notif_rings(&ctx, 2, 0, 0);
	assert_true(rc >= 0);
	assert_int_equal(gxio_mpipe_iqueue_init(&iq, &ctx, (unsigned)rc, small + 64, 128 * 64, 0), GXIO_ERR_ALIGNMENT);
	assert_int_equal(gxio_mpipe_iqueue_init(&iq, &ctx, (unsigned)rc, small, 2048 * 64, 0),
			 GXIO_ERR_INVAL_MEMORY_SIZE); /* 128 KB over two 64 KB pages */
	assert_int_equal(gxio_mpipe_iqueue_init(&iq, &ctx, (unsigned)rc, huge, 2048 * 64, 0), 0);
	assert_int_equal(gxio_mpipe_equeue_init(&eq, &ctx, 0, 0, small + 512, 512 * 16, 0), GXIO_ERR_ALIGNMENT);
	assert_int_equal(gxio_mpipe_equeue_init(&eq, &ctx, 0, 0, small + 1024, 512 * 16, 0), 0);

	/* Buffer stacks: 64 KB-aligned words, 16 whole pages at most. */
	stack = gxio_mpipe_alloc_buffer_stacks(&ctx, 1, 0, 0);
	assert_true(stack >= 0);
	assert_int_equal(gxio_mpipe_init_buffer_stack(&ctx, (unsigned)stack, GXIO_MPIPE_BUFFER_SIZE_128, small + 4096,
						      4096, 0),
			 GXIO_ERR_ALIGNMENT);
	assert_int_equal(
	    gxio_mpipe_init_buffer_stack(&ctx, (unsigned)stack, GXIO_MPIPE_BUFFER_SIZE_128, small, 4096, 0), 0);
	assert_int_equal(gxio_mpipe_register_page(&ctx, (unsigned)stack, small, (size_t)128 << 10, 0),
			 GXIO_ERR_INVAL); /* no 128 KB pages */
	assert_int_equal(gxio_mpipe_register_page(&ctx, (unsigned)stack, huge + 4096, (size_t)1 << 20, 0),
			 GXIO_ERR_INVAL); /* not page aligned */
	assert_int_equal(gxio_mpipe_register_page(&ctx, (unsigned)stack, small, (size_t)1 << 20, 0),
			 GXIO_ERR_INVAL); /* not a 1 MB page */
	for (int i = 0; i < 16; i++)
		assert_int_equal(gxio_mpipe_register_page(&ctx, (unsigned)stack, huge + ((size_t)i << 20), (size_t)1 << 20, 0),
				 0);
	assert_int_equal(gxio_mpipe_register_page(&ctx, (unsigned)stack, huge + ((size_t)16 << 20), (size_t)1 << 20, 0),
			 GXIO_ERR_IOTLB_ENTRY);

	/* A buffer pushed twice is counted, not stacked twice. */
	gxio_mpipe_push_buffer(&ctx, (unsigned)stack, huge + 128);
	gxio_mpipe_push_buffer(&ctx, (unsigned)stack, huge + 128);
	usn_gxemu_stats(f.emu, &st);
	assert_int_equal(st.bad_push, 1);
	assert_int_equal(usn_gxemu_stack_count(&ctx, (unsigned)stack), 1);

	assert_int_equal(gxio_mpipe_destroy(&ctx), 0);
	tmc_alloc_unmap(small, (size_t)256 << 10);
	tmc_alloc_unmap(huge, (size_t)17 << 20);
	usn_gxemu_destroy(f.emu);
	usn_sim_link_destroy(f.link);
}

/* A rule's headroom is 2 unless set: the frame starts 2 bytes in. */
static void test_emu_default_headroom(void **state)
{
	gxio_mpipe_context_t ctx;
	gxio_mpipe_link_t l;
	gxio_mpipe_iqueue_t iq;
	gxio_mpipe_rules_t rules;
	gxio_mpipe_idesc_t *d;
	tmc_alloc_t a = TMC_ALLOC_INIT;
	uint8_t fr[128], *ring, *bufs;
	int ringi, group, bucket, stack;
	struct fix f;

	(void)state;
	fix_board(&f);
	usn_gxemu_bind(&ctx, f.emu);
	assert_int_equal(gxio_mpipe_init(&ctx, 0), 0);
	assert_int_equal(gxio_mpipe_link_open(&l, &ctx, "xgbe1", 0), 0);
	ring = tmc_alloc_map(&a, 128 * 64);
	bufs = tmc_alloc_map(&a, (size_t)64 << 10);
	ringi = gxio_mpipe_alloc_notif_rings(&ctx, 1, 0, 0);
	group = gxio_mpipe_alloc_notif_groups(&ctx, 1, 0, 0);
	bucket = gxio_mpipe_alloc_buckets(&ctx, 1, 0, 0);
	stack = gxio_mpipe_alloc_buffer_stacks(&ctx, 1, 0, 0);
	assert_true(ringi >= 0 && group >= 0 && bucket >= 0 && stack >= 0);
	assert_int_equal(gxio_mpipe_iqueue_init(&iq, &ctx, (unsigned)ringi, ring, 128 * 64, 0), 0);
	assert_int_equal(gxio_mpipe_init_notif_group_and_buckets(&ctx, (unsigned)group, (unsigned)ringi, 1,
								 (unsigned)bucket, 1,
								 GXIO_MPIPE_BUCKET_STATIC_FLOW_AFFINITY),
			 0);
	assert_int_equal(gxio_mpipe_init_buffer_stack(&ctx, (unsigned)stack, GXIO_MPIPE_BUFFER_SIZE_256, bufs, 128, 0),
			 0);
	assert_int_equal(gxio_mpipe_register_page(&ctx, (unsigned)stack, bufs, (size_t)64 << 10, 0), 0);
	gxio_mpipe_push_buffer(&ctx, (unsigned)stack, bufs + 4096);
	gxio_mpipe_rules_init(&rules, &ctx);
	assert_int_equal(gxio_mpipe_rules_begin(&rules, (unsigned)bucket, 1, NULL), 0);
	assert_int_equal(gxio_mpipe_rules_commit(&rules), 0);
	size_t len = tcp_frame(fr, 100, GX_MAC, PEER_MAC, IP_PEER, IP_GX, 1, 2, 7);
	assert_int_equal(usn_sim_port_send_raw(f.peer, fr, len), 0);
	assert_int_equal(gxio_mpipe_iqueue_try_peek(&iq, &d), 1);
	assert_ptr_equal(gxio_mpipe_idesc_get_va(d), bufs + 4096 + 2);
	assert_memory_equal(gxio_mpipe_idesc_get_va(d), fr, len);
	assert_int_equal(gxio_mpipe_destroy(&ctx), 0);
	tmc_alloc_unmap(ring, 128 * 64);
	tmc_alloc_unmap(bufs, (size_t)64 << 10);
	usn_gxemu_destroy(f.emu);
	usn_sim_link_destroy(f.link);
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
		cmocka_unit_test(test_35_workers_share_erings),
		cmocka_unit_test(test_tx_fence_once_per_burst),
		cmocka_unit_test(test_unfenced_put_is_caught),
		cmocka_unit_test(test_default_sizing_fits),
		cmocka_unit_test(test_35_workers_jumbo_start),
		cmocka_unit_test(test_sizing_errors_and_print),
		cmocka_unit_test(test_jumbo_buffers),
		cmocka_unit_test(test_be_pushes_nothing),
		cmocka_unit_test(test_chain_error_returns_every_buffer),
		cmocka_unit_test(test_credits_once_per_burst),
		cmocka_unit_test(test_close_leaves_link_up_for_others),
		cmocka_unit_test(test_emu_refuses_like_the_card),
		cmocka_unit_test(test_emu_default_headroom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
