/* Unit tests of the simulated link (arch/sim) through the HAL operations and
 * usn_sim.h only, with no stack: pools, delivery, chains, faults, clock,
 * RSS, pcap and checksum offloads. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "usn_sim.h"
#include "usnet/hal.h"

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t MAC_C[6] = {0x02, 0, 0, 0, 0, 0x0c};
static const uint8_t MAC_BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#define IP_A 0xc6120001u /* 198.18.0.1 */
#define IP_B 0xc6120002u

/* ---- helpers ---- */

static struct usn_sim_port *port_new(struct usn_sim_link *l, const uint8_t mac[6], uint16_t buf_size,
				     uint32_t n_bufs, uint32_t offloads)
{
	struct usn_sim_port_config c = {.buf_size = buf_size, .n_bufs = n_bufs, .offloads = offloads};
	memcpy(c.mac, mac, 6);
	struct usn_sim_port *p = usn_sim_port_create(l, &c);
	assert_non_null(p);
	return p;
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

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* A plain Ethernet frame (ethertype 0x88b5, local experimental) whose
 * payload is a 32-bit sequence number then a byte pattern. */
static size_t frame_plain(uint8_t *f, size_t len, const uint8_t dst[6], const uint8_t src[6], uint32_t seq)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, 0x88b5);
	put32(f + 14, seq);
	for (size_t i = 18; i < len; i++)
		f[i] = (uint8_t)(i * 7u + seq);
	return len;
}

/* Reference RFC 1071 sum, independent of the one under test. */
static uint16_t ref_fold(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i < len; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

/* Ethernet + IPv4 (20 bytes) + TCP (20 bytes) + payload; sums correct. */
static size_t frame_tcp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t sip, uint32_t dip,
			uint16_t sport, uint16_t dport, size_t payload)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(40 + payload));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, sip);
	put32(ip + 16, dip);
	put16(ip + 10, (uint16_t)~ref_fold(ip, 20, 0));
	uint8_t *t = ip + 20;
	memset(t, 0, 20);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, 1000);
	put32(t + 8, 2000);
	t[12] = 5 << 4;
	t[13] = 0x18; /* PSH ACK */
	put16(t + 14, 65535);
	for (size_t i = 0; i < payload; i++)
		t[20 + i] = (uint8_t)(i * 13u + 1u);
	uint16_t l4 = (uint16_t)(20 + payload);
	put16(t + 16, (uint16_t)~ref_fold(t, l4, ref_pseudo(sip, dip, 6, l4)));
	return 14 + 40 + payload;
}

/* Sends one linear frame through tx_burst in buffers of the port's size. */
static void hal_send(struct usn_hal *h, const uint8_t *f, size_t len, uint16_t flags)
{
	struct usn_buf *head = NULL, *tail = NULL;
	size_t off = 0;
	do {
		struct usn_buf *b;
		assert_int_equal(h->ops->alloc_bulk(h, 0, &b, 1), 1);
		size_t chunk = len - off < b->room ? len - off : b->room;
		memcpy(b->data, f + off, chunk);
		b->len = (uint16_t)chunk;
		if (tail)
			tail->next = b;
		else
			head = b;
		tail = b;
		off += chunk;
	} while (off < len);
	head->frame_len = (uint32_t)len;
	head->flags = flags;
	head->l2_len = 14;
	head->l3_len = 20;
	assert_int_equal(h->ops->tx_burst(h, 0, &head, 1), 1);
}

/* Receives one frame from queue q into f, checking the chain invariant;
 * returns its length, 0 if none. Frees the buffers. */
static size_t hal_recv(struct usn_hal *h, uint16_t q, uint8_t *f, size_t cap, uint16_t *flags, uint32_t *hash)
{
	struct usn_buf *b;
	if (h->ops->rx_burst(h, q, &b, 1) == 0)
		return 0;
	size_t total = 0;
	for (struct usn_buf *c = b; c; c = c->next) {
		assert_true(c->len <= c->room);
		assert_true(c->room <= h->buf_size);
		assert_true(c->len > 0);
		assert_true(total + c->len <= cap);
		memcpy(f + total, c->data, c->len);
		total += c->len;
	}
	assert_int_equal(total, b->frame_len);
	if (flags)
		*flags = b->flags;
	if (hash)
		*hash = b->rss_hash;
	h->ops->free_bulk(h, q, &b, 1);
	return total;
}

static struct usn_sim_port_stats stats_of(struct usn_sim_port *p)
{
	struct usn_sim_port_stats s;
	usn_sim_port_stats(p, &s);
	return s;
}

/* ---- pools and HAL fields ---- */

static void test_hal_fields_and_clock(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port_config c = {.n_queues = 4, .mtu = 9000, .offloads = USN_HAL_OFF_RSS};
	memcpy(c.mac, MAC_A, 6);
	struct usn_sim_port *p = usn_sim_port_create(l, &c);
	assert_non_null(p);
	struct usn_hal *h = usn_sim_port_hal(p);
	assert_non_null(h->ops->rx_burst);
	assert_null(h->ops->mem_alloc);
	assert_null(h->ops->mem_free);
	assert_int_equal(h->cycles_per_sec, 1000000000u);
	assert_int_equal(h->offloads, USN_HAL_OFF_RSS);
	assert_int_equal(h->n_queues, 4);
	assert_int_equal(h->mtu, 9000);
	assert_int_equal(h->buf_size, 2048);
	assert_memory_equal(h->mac, MAC_A, 6);

	assert_int_equal(usn_sim_link_now_us(l), 1000000u);
	assert_int_equal(h->ops->clock_cycles(h), 1000000000ull);
	usn_sim_link_advance(l, 1234);
	assert_int_equal(usn_sim_link_now_us(l), 1001234u);
	assert_int_equal(h->ops->clock_cycles(h), 1001234000ull);
	assert_int_equal(usn_sim_link_next_delivery_us(l), UINT64_MAX);

	c.n_queues = 17;
	assert_null(usn_sim_port_create(l, &c));
	usn_sim_link_destroy(l);
}

static void test_pool_alloc_free(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port_config c = {.buf_size = 256, .headroom = 64, .n_bufs = 40};
	struct usn_sim_port *p = usn_sim_port_create(l, &c);
	struct usn_hal *h = usn_sim_port_hal(p);
	struct usn_buf *b[64];

	assert_int_equal(stats_of(p).bufs_total, 40);
	assert_int_equal(stats_of(p).bufs_free, 40);
	assert_int_equal(h->ops->alloc_bulk(h, 0, b, 30), 30);
	assert_int_equal(h->ops->alloc_bulk(h, 0, b + 30, 30), 10); /* only what is left */
	assert_int_equal(h->ops->alloc_bulk(h, 0, b + 40, 1), 0);
	assert_int_equal(stats_of(p).bufs_free, 0);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(b[i]->len, 0);
		assert_int_equal(b[i]->room, 256);
		assert_int_equal(b[i]->headroom, 64);
		assert_int_equal(b[i]->frame_len, 0);
		assert_int_equal(b[i]->flags, 0);
		assert_null(b[i]->next);
		assert_null(b[i]->link);
		/* data sits headroom bytes into the buffer, after the metadata */
		assert_true(b[i]->data >= (uint8_t *)(b[i] + 1) + 64);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(b[i], b[j]);
	}
	/* Write every byte of headroom and room: ASan checks the bounds. */
	memset(b[0]->data - 64, 0xab, 64 + 256);
	/* Chains are freed whole. */
	b[0]->next = b[1];
	b[1]->next = b[2];
	h->ops->free_bulk(h, 0, b, 1);
	assert_int_equal(stats_of(p).bufs_free, 3);
	h->ops->free_bulk(h, 0, b + 3, 37);
	assert_int_equal(stats_of(p).bufs_free, 40);

	/* A reused buffer comes back clean. */
	assert_int_equal(h->ops->alloc_bulk(h, 0, b, 1), 1);
	b[0]->len = 10;
	b[0]->flags = USN_BUF_TX_IP_CSUM;
	b[0]->data += 4;
	h->ops->free_bulk(h, 0, b, 1);
	assert_int_equal(h->ops->alloc_bulk(h, 0, b, 1), 1);
	assert_int_equal(b[0]->len, 0);
	assert_int_equal(b[0]->flags, 0);
	assert_int_equal(b[0]->headroom, 64);
	h->ops->free_bulk(h, 0, b, 1);
	usn_sim_link_destroy(l);
}

/* Runs fn in a child and expects it to abort (a programming error). */
static void expect_abort(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *devnull = freopen("/dev/null", "w", stderr);
		(void)devnull;
		fn();
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
}

static void double_free_child(void)
{
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port_config c = {.n_bufs = 8};
	struct usn_hal *h = usn_sim_port_hal(usn_sim_port_create(l, &c));
	struct usn_buf *b;
	h->ops->alloc_bulk(h, 0, &b, 1);
	h->ops->free_bulk(h, 0, &b, 1);
	h->ops->free_bulk(h, 0, &b, 1);
}

static void foreign_free_child(void)
{
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port_config c = {.n_bufs = 8};
	struct usn_hal *ha = usn_sim_port_hal(usn_sim_port_create(l, &c));
	struct usn_hal *hb = usn_sim_port_hal(usn_sim_port_create(l, &c));
	struct usn_buf *b;
	ha->ops->alloc_bulk(ha, 0, &b, 1);
	hb->ops->free_bulk(hb, 0, &b, 1);
}

static void bad_chain_child(void)
{
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port_config c = {.n_bufs = 8};
	struct usn_hal *h = usn_sim_port_hal(usn_sim_port_create(l, &c));
	struct usn_buf *b;
	h->ops->alloc_bulk(h, 0, &b, 1);
	b->len = 60;
	b->frame_len = 61;
	h->ops->tx_burst(h, 0, &b, 1);
}

static void test_misuse_aborts(void **state)
{
	(void)state;
	expect_abort(double_free_child);
	expect_abort(foreign_free_child);
	expect_abort(bad_chain_child);
}

/* ---- delivery ---- */

static void test_unicast_chained_identical(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(7);
	struct usn_sim_port *a = port_new(l, MAC_A, 64, 64, USN_HAL_OFF_TX_MULTISEG);
	struct usn_sim_port *b = port_new(l, MAC_B, 64, 64, 0);
	struct usn_sim_port *c = port_new(l, MAC_C, 64, 64, 0);
	struct usn_hal *ha = usn_sim_port_hal(a), *hb = usn_sim_port_hal(b), *hc = usn_sim_port_hal(c);
	uint8_t f[1514], g[1514];

	size_t len = frame_plain(f, 1514, MAC_B, MAC_A, 1);
	/* A port that does not take chains refuses one, and counts it. */
	hal_send(hc, f, len, 0);
	assert_int_equal(stats_of(c).tx_chain_refused, 1);
	assert_int_equal(stats_of(c).bufs_free, 64);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 0);

	hal_send(ha, f, len, 0); /* 24 buffers of 64 bytes */
	assert_int_equal(stats_of(a).bufs_free, 64);
	assert_int_equal(stats_of(a).tx_frames, 1);
	assert_int_equal(stats_of(a).tx_chain_refused, 0);

	struct usn_buf *rx;
	assert_int_equal(hb->ops->rx_burst(hb, 0, &rx, 1), 1);
	assert_int_equal(rx->frame_len, 1514);
	size_t total = 0, n = 0;
	for (struct usn_buf *x = rx; x; x = x->next, n++) {
		assert_int_equal(x->room, 64);
		assert_true(x->len == 64 || (x->next == NULL && x->len == 1514 % 64));
		assert_memory_equal(x->data, f + total, x->len);
		total += x->len;
	}
	assert_int_equal(total, 1514);
	assert_int_equal(n, (1514 + 63) / 64);
	assert_int_equal(rx->flags, 0); /* no offloads advertised */
	assert_int_equal(stats_of(b).bufs_free, 64 - n);
	hb->ops->free_bulk(hb, 0, &rx, 1);
	assert_int_equal(stats_of(b).bufs_free, 64);
	assert_int_equal(stats_of(b).rx_frames, 1);

	/* Only B's MAC: C and A see nothing. */
	assert_int_equal(hal_recv(hc, 0, g, sizeof(g), NULL, NULL), 0);
	assert_int_equal(hal_recv(ha, 0, g, sizeof(g), NULL, NULL), 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 0);

	/* A MAC nobody has: delivered nowhere. */
	uint8_t nobody[6] = {0x02, 9, 9, 9, 9, 9};
	len = frame_plain(f, 60, nobody, MAC_A, 2);
	hal_send(ha, f, len, 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 0);
	assert_int_equal(hal_recv(hc, 0, g, sizeof(g), NULL, NULL), 0);
	usn_sim_link_destroy(l);
}

static void test_broadcast_multicast(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(7);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_port *c = port_new(l, MAC_C, 0, 0, 0);
	uint8_t f[100], g[100];

	size_t len = frame_plain(f, 60, MAC_BCAST, MAC_A, 5);
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 60);
	assert_memory_equal(f, g, 60);
	assert_int_equal(usn_sim_port_recv_raw(c, g, sizeof(g)), 60);
	assert_memory_equal(f, g, 60);
	assert_int_equal(usn_sim_port_recv_raw(a, g, sizeof(g)), 0); /* not back to the sender */
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 0);

	const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
	len = frame_plain(f, 64, mcast, MAC_C, 6);
	assert_int_equal(usn_sim_port_send_raw(c, f, len), 0);
	assert_int_equal(usn_sim_port_recv_raw(a, g, sizeof(g)), 64);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 64);
	assert_int_equal(usn_sim_port_recv_raw(c, g, sizeof(g)), 0);

	/* recv_raw copies at most cap bytes. */
	len = frame_plain(f, 80, MAC_B, MAC_A, 7);
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(usn_sim_port_recv_raw(b, g, 20), 20);
	assert_memory_equal(f, g, 20);

	assert_int_equal(usn_sim_port_send_raw(a, f, 13), -EINVAL);
	usn_sim_link_destroy(l);
}

static void test_jumbo(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(3);
	struct usn_sim_port_config c = {.mtu = 9000, .offloads = USN_HAL_OFF_TX_MULTISEG};
	memcpy(c.mac, MAC_A, 6);
	struct usn_hal *ha = usn_sim_port_hal(usn_sim_port_create(l, &c));
	memcpy(c.mac, MAC_B, 6);
	struct usn_sim_port *b = usn_sim_port_create(l, &c);
	struct usn_hal *hb = usn_sim_port_hal(b);
	memcpy(c.mac, MAC_C, 6);
	c.mtu = 1500;
	struct usn_sim_port *small = usn_sim_port_create(l, &c);
	static uint8_t f[9018], g[9018];

	size_t len = frame_plain(f, 9014, MAC_B, MAC_A, 1);
	hal_send(ha, f, len, 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 9014);
	assert_memory_equal(f, g, 9014);

	/* A 1500-MTU receiver drops it and counts it. */
	len = frame_plain(f, 9014, MAC_C, MAC_A, 2);
	hal_send(ha, f, len, 0);
	assert_int_equal(usn_sim_port_recv_raw(small, g, sizeof(g)), 0);
	assert_int_equal(stats_of(small).mtu_dropped, 1);
	/* And cannot send one. */
	assert_int_equal(usn_sim_port_send_raw(small, f, 9014), -EMSGSIZE);
	(void)b;
	usn_sim_link_destroy(l);
}

static void test_pool_dry_and_ring_full(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(3);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port_config c = {.n_bufs = 2, .rx_ring = 2, .buf_size = 64};
	memcpy(c.mac, MAC_B, 6);
	struct usn_sim_port *b = usn_sim_port_create(l, &c);
	struct usn_hal *hb = usn_sim_port_hal(b);
	uint8_t f[200];
	struct usn_buf *held[2], *rx[4];

	/* With B's pool dry the frame waits in its queue. */
	assert_int_equal(hb->ops->alloc_bulk(hb, 0, held, 2), 2);
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 100, MAC_B, MAC_A, 1)), 0);
	assert_int_equal(hb->ops->rx_burst(hb, 0, rx, 4), 0);
	hb->ops->free_bulk(hb, 0, held, 1);
	assert_int_equal(hb->ops->rx_burst(hb, 0, rx, 4), 0); /* 100 bytes need 2 buffers of 64 */
	hb->ops->free_bulk(hb, 0, held + 1, 1);
	assert_int_equal(hb->ops->rx_burst(hb, 0, rx, 4), 1);
	assert_int_equal(rx[0]->frame_len, 100);
	hb->ops->free_bulk(hb, 0, rx, 1);

	/* Two fit in the ring, the third is tail-dropped and counted. */
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, 10 + i)), 0);
	assert_int_equal(hb->ops->rx_burst(hb, 0, rx, 1), 1);
	assert_int_equal(get32(rx[0]->data + 14), 10);
	hb->ops->free_bulk(hb, 0, rx, 1);
	assert_int_equal(hb->ops->rx_burst(hb, 0, rx, 1), 1);
	assert_int_equal(get32(rx[0]->data + 14), 11);
	hb->ops->free_bulk(hb, 0, rx, 1);
	assert_int_equal(hb->ops->rx_burst(hb, 0, rx, 1), 0);
	assert_int_equal(stats_of(b).rx_ring_full, 1);
	assert_int_equal(stats_of(b).bufs_free, 2);
	usn_sim_link_destroy(l);
}

/* ---- faults ---- */

static void test_loss_all(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(11);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_faults fl = {.loss = 1.0};
	usn_sim_port_set_faults(a, &fl);
	uint8_t f[64];
	for (uint32_t i = 0; i < 100; i++)
		assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, i)), 0);
	usn_sim_link_advance(l, 1000000);
	assert_int_equal(usn_sim_port_recv_raw(b, f, sizeof(f)), 0);
	assert_int_equal(stats_of(a).lost, 100);
	assert_int_equal(stats_of(a).tx_frames, 100);
	/* The other direction has no faults. */
	assert_int_equal(usn_sim_port_send_raw(b, f, frame_plain(f, 60, MAC_A, MAC_B, 0)), 0);
	assert_int_equal(usn_sim_port_recv_raw(a, f, sizeof(f)), 60);
	usn_sim_link_destroy(l);
}

/* Sends n frames with loss p and records which arrived. Returns how many. */
static uint32_t loss_run(uint64_t seed, double p, uint32_t n, uint8_t *arrived)
{
	struct usn_sim_link *l = usn_sim_link_create(seed);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_faults fl = {.loss = p};
	usn_sim_port_set_faults(a, &fl);
	uint8_t f[64];
	uint32_t got = 0;
	memset(arrived, 0, n);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, i)), 0);
		while (usn_sim_port_recv_raw(b, f, sizeof(f)) == 60) {
			uint32_t seq = get32(f + 14);
			assert_true(seq < n);
			assert_int_equal(arrived[seq], 0);
			arrived[seq] = 1;
			got++;
		}
	}
	assert_int_equal(stats_of(a).lost, n - got);
	assert_int_equal(stats_of(b).rx_frames, got);
	usn_sim_link_destroy(l);
	return got;
}

static void test_loss_rate_deterministic(void **state)
{
	(void)state;
	enum { N = 10000 };
	static uint8_t r1[N], r2[N], r3[N];
	uint32_t g1 = loss_run(42, 0.2, N, r1);
	uint32_t g2 = loss_run(42, 0.2, N, r2);
	uint32_t g3 = loss_run(43, 0.2, N, r3);
	/* 2000 expected lost, sd 40: a band of +-5 sd. */
	assert_in_range(N - g1, 1800, 2200);
	assert_in_range(N - g3, 1800, 2200);
	assert_int_equal(g1, g2);
	assert_memory_equal(r1, r2, N);
	assert_memory_not_equal(r1, r3, N);
}

static void test_duplicate(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(5);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_faults fl = {.duplicate = 1.0};
	usn_sim_port_set_faults(a, &fl);
	uint8_t f[64], g[64];
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, i)), 0);
	for (uint32_t i = 0; i < 6; i++) {
		assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 60);
		assert_int_equal(get32(g + 14), i / 2);
	}
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 0);
	assert_int_equal(stats_of(a).duplicated, 3);
	usn_sim_link_destroy(l);
}

static void test_reorder(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(5);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_faults hold = {.reorder = 1.0}, none = {0};
	uint8_t f[64], g[64];

	/* Held frame 1 comes out right behind frame 2. */
	usn_sim_port_set_faults(a, &hold);
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, 1)), 0);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 0);
	usn_sim_port_set_faults(a, &none);
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, 2)), 0);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 60);
	assert_int_equal(get32(g + 14), 2);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 60);
	assert_int_equal(get32(g + 14), 1);
	assert_int_equal(stats_of(a).reordered, 1);

	/* With no next frame it goes out 1 ms late. */
	usn_sim_port_set_faults(a, &hold);
	uint64_t t0 = usn_sim_link_now_us(l);
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, 3)), 0);
	assert_int_equal(usn_sim_link_next_delivery_us(l), t0 + 1000);
	usn_sim_link_advance(l, 999);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 0);
	usn_sim_link_advance(l, 1);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 60);
	assert_int_equal(get32(g + 14), 3);
	assert_int_equal(usn_sim_link_next_delivery_us(l), UINT64_MAX);

	/* reorder 0.3 over 200 frames: every frame arrives exactly once, some
	 * out of order, the same way for the same seed. */
	struct usn_sim_faults some = {.reorder = 0.3};
	usn_sim_port_set_faults(a, &some);
	uint8_t seen[200] = {0};
	uint32_t got = 0, inversions = 0, last = 0;
	for (uint32_t i = 0; i < 200; i++) {
		assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, 100 + i)), 0);
		usn_sim_link_advance(l, 10);
		while (usn_sim_port_recv_raw(b, g, sizeof(g)) == 60) {
			uint32_t s = get32(g + 14) - 100;
			assert_true(s < 200);
			assert_int_equal(seen[s], 0);
			seen[s] = 1;
			inversions += got && s < last;
			last = s;
			got++;
		}
	}
	usn_sim_link_advance(l, 2000);
	while (usn_sim_port_recv_raw(b, g, sizeof(g)) == 60)
		got++;
	assert_int_equal(got, 200);
	assert_in_range(inversions, 20, 100);
	assert_in_range(stats_of(a).reordered - 2, 30, 90);
	usn_sim_link_destroy(l);
}

static void test_corrupt_one_bit(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(9);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_faults fl = {.corrupt = 1.0};
	usn_sim_port_set_faults(a, &fl);
	uint8_t f[600], g[600];
	for (uint32_t i = 0; i < 50; i++) {
		size_t len = frame_plain(f, 60 + i * 10, MAC_B, MAC_A, i);
		assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
		assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), len);
		unsigned bits = 0;
		for (size_t k = 0; k < len; k++)
			bits += (unsigned)__builtin_popcount((unsigned)(f[k] ^ g[k]));
		assert_int_equal(bits, 1);
		assert_memory_equal(f, g, 14); /* the Ethernet header is intact */
	}
	assert_int_equal(stats_of(a).corrupted, 50);
	usn_sim_link_destroy(l);
}

static void test_delay_jitter(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(13);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_hal *hb = usn_sim_port_hal(b);
	struct usn_sim_faults fl = {.delay_us = 500};
	usn_sim_port_set_faults(a, &fl);
	uint8_t f[64], g[64];

	uint64_t t0 = usn_sim_link_now_us(l);
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, 1)), 0);
	assert_int_equal(usn_sim_link_next_delivery_us(l), t0 + 500);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 0);
	usn_sim_link_advance(l, 499);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 0);
	usn_sim_link_advance(l, 1);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 60);
	assert_int_equal(usn_sim_link_next_delivery_us(l), UINT64_MAX);

	/* Jitter: each frame lands in [now + 500, now + 600]; not all alike. */
	fl.jitter_us = 100;
	usn_sim_port_set_faults(a, &fl);
	uint64_t min = UINT64_MAX, max = 0;
	for (uint32_t i = 0; i < 100; i++) {
		t0 = usn_sim_link_now_us(l);
		assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, i)), 0);
		uint64_t t = usn_sim_link_next_delivery_us(l);
		assert_in_range(t, t0 + 500, t0 + 600);
		min = t - t0 < min ? t - t0 : min;
		max = t - t0 > max ? t - t0 : max;
		usn_sim_link_advance(l, t - t0 - 1);
		assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 0);
		usn_sim_link_advance(l, 1);
		assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), 60);
	}
	assert_true(max - min >= 50);
	usn_sim_link_destroy(l);
}

static void test_rate(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(13);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_faults fl = {.rate_bps = 1000000, .delay_us = 100};
	usn_sim_port_set_faults(a, &fl);
	uint8_t f[200], g[200];

	/* 125 bytes at 1 Mbit/s: 1000 us each, queued back to back. */
	uint64_t t0 = usn_sim_link_now_us(l);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 125, MAC_B, MAC_A, i)), 0);
	for (uint32_t i = 0; i < 3; i++) {
		uint64_t due = t0 + 1000 * (i + 1) + 100;
		assert_int_equal(usn_sim_link_next_delivery_us(l), due);
		usn_sim_link_advance(l, due - 1 - usn_sim_link_now_us(l));
		assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 0);
		usn_sim_link_advance(l, 1);
		assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 125);
		assert_int_equal(get32(g + 14), i);
	}
	/* After an idle gap the wire is free again: no stale backlog. */
	usn_sim_link_advance(l, 10000);
	t0 = usn_sim_link_now_us(l);
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 125, MAC_B, MAC_A, 9)), 0);
	assert_int_equal(usn_sim_link_next_delivery_us(l), t0 + 1100);
	usn_sim_link_destroy(l);
}

static void test_mtu_fault(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_faults fl = {.mtu = 100};
	usn_sim_port_set_faults(a, &fl);
	uint8_t f[200], g[200];
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 114, MAC_B, MAC_A, 1)), 0);
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 115, MAC_B, MAC_A, 2)), 0);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 114);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 0);
	assert_int_equal(stats_of(a).mtu_dropped, 1);
	usn_sim_link_destroy(l);
}

/* ---- RSS ---- */

static void test_rss_spread_symmetric(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	/* Both ends with one key, so "the same queue index" holds both ways. */
	struct usn_sim_port_config c = {.n_queues = 4, .offloads = USN_HAL_OFF_RSS, .rss_key = usn_rss_key_from(77)};
	memcpy(c.mac, MAC_A, 6);
	struct usn_sim_port *a = usn_sim_port_create(l, &c);
	memcpy(c.mac, MAC_B, 6);
	struct usn_sim_port *b = usn_sim_port_create(l, &c);
	struct usn_hal *ha = usn_sim_port_hal(a), *hb = usn_sim_port_hal(b);
	assert_int_equal(hb->rss_key, c.rss_key);
	uint8_t f[200], g[200];
	unsigned per_q[4] = {0};

	for (uint16_t k = 0; k < 256; k++) {
		uint16_t sport = (uint16_t)(40000 + k * 7), dport = 80;
		uint32_t expect = usn_rss_hash(c.rss_key, IP_A, IP_B, sport, dport);
		uint16_t eq = usn_rss_queue(expect, 4);
		size_t len = frame_tcp(f, MAC_B, MAC_A, IP_A, IP_B, sport, dport, 10);
		assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
		uint16_t flags = 0;
		uint32_t hash = 0;
		for (uint16_t q = 0; q < 4; q++)
			if (q != eq)
				assert_int_equal(hal_recv(hb, q, g, sizeof(g), NULL, NULL), 0);
		assert_int_equal(hal_recv(hb, eq, g, sizeof(g), &flags, &hash), len);
		assert_true(flags & USN_BUF_RX_HASH);
		assert_int_equal(hash, expect);
		per_q[eq]++;

		/* The reply lands on the same queue index at A. */
		len = frame_tcp(f, MAC_A, MAC_B, IP_B, IP_A, dport, sport, 0);
		assert_int_equal(usn_sim_port_send_raw(b, f, len), 0);
		assert_int_equal(hal_recv(ha, eq, g, sizeof(g), &flags, &hash), len);
		assert_int_equal(hash, expect);
	}
	for (int q = 0; q < 4; q++)
		assert_in_range(per_q[q], 32, 96);

	/* Not TCP (ARP-like): queue 0, no hash. */
	size_t len = frame_plain(f, 60, MAC_BCAST, MAC_A, 1);
	put16(f + 12, 0x0806);
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	uint16_t flags = 0xffff;
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), &flags, NULL), 60);
	assert_int_equal(flags & USN_BUF_RX_HASH, 0);
	usn_sim_link_destroy(l);
}

/* Each port draws its own key from the link's seed (or takes the one its
 * configuration names): ports started with different keys put a given
 * flow on the same queue (of 4) for only about a quarter of the flows, and
 * the same seed gives the same key again. */
static void test_rss_key_per_port(void **state)
{
	(void)state;
	uint16_t keys[8];
	for (int i = 0; i < 8; i++) {
		struct usn_sim_link *l = usn_sim_link_create(1000 + (uint64_t)i);
		struct usn_sim_port_config c = {.n_queues = 4, .offloads = USN_HAL_OFF_RSS};
		memcpy(c.mac, MAC_A, 6);
		struct usn_sim_port *a = usn_sim_port_create(l, &c);
		memcpy(c.mac, MAC_B, 6);
		struct usn_sim_port *b = usn_sim_port_create(l, &c);
		keys[i] = usn_sim_port_hal(b)->rss_key;
		assert_true(usn_rss_key_ok(keys[i]));
		assert_int_not_equal(usn_sim_port_hal(a)->rss_key, keys[i]); /* ports differ too */
		/* the port's RSS uses its key: frames land where usn_rss_hash says */
		uint8_t f[200], g[200];
		for (uint16_t k = 0; k < 32; k++) {
			uint16_t sport = (uint16_t)(20000 + k * 11);
			size_t len = frame_tcp(f, MAC_B, MAC_A, IP_A, IP_B, sport, 80, 0);
			assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
			uint16_t q = usn_rss_queue(usn_rss_hash(keys[i], IP_B, IP_A, 80, sport), 4);
			assert_int_equal(hal_recv(usn_sim_port_hal(b), q, g, sizeof(g), NULL, NULL), len);
		}
		usn_sim_link_destroy(l);
	}
	struct usn_sim_link *l = usn_sim_link_create(1000);
	struct usn_sim_port_config c = {.n_queues = 4, .offloads = USN_HAL_OFF_RSS};
	usn_sim_port_create(l, &c);
	assert_int_equal(usn_sim_port_hal(usn_sim_port_create(l, &c))->rss_key, keys[0]);
	usn_sim_link_destroy(l);

	unsigned same = 0, flows = 0, distinct_pairs = 0;
	for (int i = 0; i < 8; i++)
		for (int j = i + 1; j < 8; j++) {
			if (keys[i] == keys[j])
				continue;
			distinct_pairs++;
			for (uint32_t k = 0; k < 500; k++) {
				uint32_t ip = IP_A + k * 2654435761u % 65536u;
				uint16_t sport = (uint16_t)(1024 + k * 7919u % 60000u);
				same += usn_rss_queue(usn_rss_hash(keys[i], ip, IP_B, sport, 80), 4) ==
					usn_rss_queue(usn_rss_hash(keys[j], ip, IP_B, sport, 80), 4);
				flows++;
			}
		}
	assert_true(distinct_pairs >= 27);
	assert_true(same * 100 < flows * 35);
}

/* ---- pcap ---- */

static void test_pcap(void **state)
{
	(void)state;
	char path[64];
	snprintf(path, sizeof(path), "/tmp/usn_test_sim_%ld.pcap", (long)getpid());
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	assert_int_equal(usn_sim_link_pcap_open(l, path), 0);
	uint8_t f[300], g[300];
	size_t lens[3] = {60, 200, 77};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(usn_sim_port_send_raw(i == 1 ? b : a, f,
						       frame_plain(f, lens[i], i == 1 ? MAC_A : MAC_B,
								   i == 1 ? MAC_B : MAC_A, (uint32_t)i)),
				 0);
		usn_sim_link_advance(l, 250);
	}
	/* A lost frame never crossed the link: not in the trace. */
	struct usn_sim_faults fl = {.loss = 1.0};
	usn_sim_port_set_faults(a, &fl);
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60, MAC_B, MAC_A, 9)), 0);
	(void)g;

	/* Read while the link is still open: every send is already flushed. */
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	uint8_t buf[2048];
	size_t n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	unlink(path);
	assert_true(n >= 24);
	uint32_t magic, linktype, snaplen;
	uint16_t vmaj, vmin;
	memcpy(&magic, buf, 4);
	memcpy(&vmaj, buf + 4, 2);
	memcpy(&vmin, buf + 6, 2);
	memcpy(&snaplen, buf + 16, 4);
	memcpy(&linktype, buf + 20, 4);
	assert_int_equal(magic, 0xa1b2c3d4u);
	assert_int_equal(vmaj, 2);
	assert_int_equal(vmin, 4);
	assert_int_equal(snaplen, 65535);
	assert_int_equal(linktype, 1);
	size_t off = 24;
	int records = 0;
	while (off + 16 <= n) {
		uint32_t sec, usec, incl, orig;
		memcpy(&sec, buf + off, 4);
		memcpy(&usec, buf + off + 4, 4);
		memcpy(&incl, buf + off + 8, 4);
		memcpy(&orig, buf + off + 12, 4);
		assert_true(records < 3);
		assert_int_equal(sec, 1);
		assert_int_equal(usec, 250 * records);
		assert_int_equal(incl, lens[records]);
		assert_int_equal(orig, lens[records]);
		assert_int_equal(get32(buf + off + 16 + 14), (uint32_t)records);
		off += 16 + incl;
		records++;
	}
	assert_int_equal(off, n);
	assert_int_equal(records, 3);
	usn_sim_link_destroy(l);
}

/* ---- checksum offloads ---- */

static void test_tx_csum_offload(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(
	    l, MAC_A, 128, 0, USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_MULTISEG);
	struct usn_sim_port *plain = port_new(l, MAC_C, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_hal *ha = usn_sim_port_hal(a), *hc = usn_sim_port_hal(plain), *hb = usn_sim_port_hal(b);
	uint8_t f[1600], ref[1600], g[1600];

	for (size_t payload = 0; payload < 1400; payload += 333) { /* odd and even lengths */
		size_t len = frame_tcp(ref, MAC_B, MAC_A, IP_A, IP_B, 1234, 80, payload);
		memcpy(f, ref, len);
		/* What a stack asking for offload writes: IP sum 0, TCP field =
		 * the pseudo-header sum, folded, not complemented. */
		put16(f + 14 + 10, 0);
		uint16_t l4 = (uint16_t)(20 + payload);
		put16(f + 34 + 16, ref_fold(NULL, 0, ref_pseudo(IP_A, IP_B, 6, l4)));
		hal_send(ha, f, len,
			 USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_CSUM); /* chained: 128-byte buffers */
		assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), len);
		assert_memory_equal(g, ref, len);
		assert_int_not_equal(get16(g + 24), 0);
	}

	/* Only the IP sum asked for: the TCP field is left as it was. */
	size_t len = frame_tcp(ref, MAC_B, MAC_A, IP_A, IP_B, 1234, 80, 10);
	memcpy(f, ref, len);
	put16(f + 24, 0);
	put16(f + 50, 0xbeef);
	hal_send(ha, f, len, USN_BUF_TX_IP_CSUM);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), len);
	assert_int_equal(get16(g + 24), get16(ref + 24));
	assert_int_equal(get16(g + 50), 0xbeef);

	/* A port that does not advertise offload leaves the sums alone. */
	memcpy(f, ref, len);
	put16(f + 24, 0);
	put16(f + 50, 0x1111);
	hal_send(hc, f, len, USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_CSUM);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), NULL, NULL), len);
	assert_memory_equal(g, f, len);
	usn_sim_link_destroy(l);
}

static size_t frame_icmp(uint8_t *f, size_t payload)
{
	size_t len = frame_tcp(f, MAC_B, MAC_A, IP_A, IP_B, 0, 0, payload);
	uint8_t *ip = f + 14;
	ip[9] = 1;
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~ref_fold(ip, 20, 0));
	uint8_t *m = ip + 20;
	memset(m, 0, 8);
	m[0] = 8; /* echo request */
	put16(m + 4, 0x77);
	put16(m + 6, 1);
	put16(m + 2, (uint16_t)~ref_fold(m, 20 + payload, 0));
	return len;
}

static void test_rx_csum_flags(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, USN_HAL_OFF_RX_CSUM);
	struct usn_sim_port *c = port_new(l, MAC_C, 0, 0, 0);
	struct usn_hal *hb = usn_sim_port_hal(b), *hc = usn_sim_port_hal(c);
	uint8_t f[200], g[200];
	uint16_t flags;
	const uint16_t good = USN_BUF_RX_IP_CSUM_GOOD | USN_BUF_RX_L4_CSUM_GOOD;

	size_t len = frame_tcp(f, MAC_B, MAC_A, IP_A, IP_B, 1, 2, 33);
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), &flags, NULL), len);
	assert_int_equal(flags, good);

	f[60] ^= 0x10; /* a payload bit */
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), &flags, NULL), len);
	assert_int_equal(flags, USN_BUF_RX_IP_CSUM_GOOD | USN_BUF_RX_CSUM_BAD);
	f[60] ^= 0x10;

	f[14 + 8] ^= 1; /* TTL: the IP header sum breaks */
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), &flags, NULL), len);
	assert_int_equal(flags, USN_BUF_RX_CSUM_BAD);
	f[14 + 8] ^= 1;

	/* Trailing Ethernet padding is not part of the sum. */
	memset(f + len, 0xee, 10);
	assert_int_equal(usn_sim_port_send_raw(a, f, len + 10), 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), &flags, NULL), len + 10);
	assert_int_equal(flags, good);

	len = frame_icmp(f, 31);
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), &flags, NULL), len);
	assert_int_equal(flags, good);
	f[50] ^= 4;
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), &flags, NULL), len);
	assert_int_equal(flags, USN_BUF_RX_IP_CSUM_GOOD | USN_BUF_RX_CSUM_BAD);

	/* Not IPv4: no flags. And a port without RX_CSUM sets none. */
	len = frame_plain(f, 60, MAC_B, MAC_A, 1);
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(hal_recv(hb, 0, g, sizeof(g), &flags, NULL), len);
	assert_int_equal(flags, 0);
	len = frame_tcp(f, MAC_C, MAC_A, IP_A, IP_B, 1, 2, 33);
	assert_int_equal(usn_sim_port_send_raw(a, f, len), 0);
	assert_int_equal(hal_recv(hc, 0, g, sizeof(g), &flags, NULL), len);
	assert_int_equal(flags, 0);
	usn_sim_link_destroy(l);
}


/* ---- TSO and LRO ---- */

/* An Ethernet/IPv4/TCP segment with NOP NOP TS when ts, payload bytes
 * pat(seq + i); sums correct (or the TSO convention when tso_whole: IP
 * sum 0, TCP field = the pseudo-header sum of the whole packet). */
struct tcpf {
	uint32_t seq, ack, tsval, tsecr;
	uint8_t flags;
	uint16_t id, window;
	bool ts, tso_whole;
	uint16_t sport;
};

static uint8_t pat(uint32_t seq)
{
	return (uint8_t)(seq * 7u + (seq >> 9));
}

static size_t frame_seg(uint8_t *f, const uint8_t dst[6], const struct tcpf *t, size_t payload)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, MAC_A, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	uint32_t thl = t->ts ? 32 : 20;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + thl + payload));
	put16(ip + 4, t->id);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, IP_A);
	put32(ip + 16, IP_B);
	if (!t->tso_whole)
		put16(ip + 10, (uint16_t)~ref_fold(ip, 20, 0));
	uint8_t *th = ip + 20;
	memset(th, 0, thl);
	put16(th, t->sport ? t->sport : 1234);
	put16(th + 2, 80);
	put32(th + 4, t->seq);
	put32(th + 8, t->ack);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = t->flags;
	put16(th + 14, t->window ? t->window : 1000);
	if (t->ts) {
		put32(th + 20, 0x0101080a);
		put32(th + 24, t->tsval);
		put32(th + 28, t->tsecr);
	}
	for (size_t i = 0; i < payload; i++)
		th[thl + i] = pat(t->seq + (uint32_t)i);
	uint16_t l4 = (uint16_t)(thl + payload);
	if (t->tso_whole)
		put16(th + 16, ref_fold(NULL, 0, ref_pseudo(IP_A, IP_B, 6, l4)));
	else
		put16(th + 16, (uint16_t)~ref_fold(th, l4, ref_pseudo(IP_A, IP_B, 6, l4)));
	return 14 + 20 + thl + payload;
}

/* Sends one TSO frame through tx_burst (chained in the port's buffers). */
static void hal_send_tso(struct usn_hal *h, const uint8_t *f, size_t len, uint8_t l4, uint16_t seg)
{
	struct usn_buf *head = NULL, *tail = NULL;
	size_t off = 0;
	do {
		struct usn_buf *b;
		assert_int_equal(h->ops->alloc_bulk(h, 0, &b, 1), 1);
		size_t chunk = len - off < b->room ? len - off : b->room;
		memcpy(b->data, f + off, chunk);
		b->len = (uint16_t)chunk;
		if (tail)
			tail->next = b;
		else
			head = b;
		tail = b;
		off += chunk;
	} while (off < len);
	head->frame_len = (uint32_t)len;
	head->flags = USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_CSUM | USN_BUF_TX_TCP_SEG;
	head->l2_len = 14;
	head->l3_len = 20;
	head->l4_len = l4;
	head->seg_size = seg;
	assert_int_equal(h->ops->tx_burst(h, 0, &head, 1), 1);
}

#define TSO_OFF (USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_MULTISEG | USN_HAL_OFF_TX_TSO)

static void test_tso_cut(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, TSO_OFF);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_hal *ha = usn_sim_port_hal(a);
	assert_int_equal(ha->tso_max, 65535);
	static uint8_t f[70000], g[2048];
	const uint16_t seg = 1448;
	/* 10 full segments and a short one; FIN and PSH on the whole. */
	const size_t pay = 10 * seg + 333;
	struct tcpf t = {.seq = 0xfffff000u, .ack = 77, .flags = 0x19, .id = 0xfffe, .ts = true, .tsval = 5,
			 .tsecr = 6, .tso_whole = true};
	size_t len = frame_seg(f, MAC_B, &t, pay);
	hal_send_tso(ha, f, len, 32, seg);
	for (uint32_t i = 0; i < 11; i++) {
		size_t n = usn_sim_port_recv_raw(b, g, sizeof(g));
		size_t want = i < 10 ? seg : 333;
		assert_int_equal(n, 14 + 20 + 32 + want);
		assert_true(n - 14 <= 1500);
		assert_int_equal(get16(g + 16), 20 + 32 + want);           /* IPv4 total length */
		assert_int_equal(get16(g + 18), (uint16_t)(0xfffe + i));   /* ids count up (and wrap) */
		assert_int_equal(ref_fold(g + 14, 20, 0), 0xffff);         /* IPv4 sum */
		uint8_t *th = g + 34;
		assert_int_equal(get32(th + 4), t.seq + i * seg);          /* wraps through 2^32 */
		assert_int_equal(get32(th + 8), 77);
		assert_int_equal(th[13], i < 10 ? 0x10 : 0x19);           /* FIN, PSH on the last only */
		assert_int_equal(get32(th + 24), 5);
		assert_int_equal(ref_fold(th, (uint32_t)(32 + want), ref_pseudo(IP_A, IP_B, 6, (uint16_t)(32 + want))),
				 0xffff);
		for (size_t k = 0; k < want; k++)
			assert_int_equal(th[32 + k], pat(t.seq + i * seg + (uint32_t)k));
	}
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 0);
	struct usn_sim_port_stats st = stats_of(a);
	assert_int_equal(st.tso_frames, 1);
	assert_int_equal(st.tso_segs, 11);
	assert_int_equal(st.tx_frames, 11);
	assert_int_equal(st.tx_max_ip, 20 + 32 + seg);

	/* Exactly a multiple of seg_size; and the largest frame the port takes. */
	t.flags = 0x18;
	len = frame_seg(f, MAC_B, &t, 3 * 1000);
	hal_send_tso(ha, f, len, 32, 1000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 14 + 52 + 1000);
		assert_int_equal(g[34 + 13], i < 2 ? 0x10 : 0x18);
	}
	t.ts = false;
	len = frame_seg(f, MAC_B, &t, 65535 - 40);
	hal_send_tso(ha, f, len, 20, 1460);
	unsigned pieces = 0;
	size_t bytes = 0, n;
	while ((n = usn_sim_port_recv_raw(b, g, sizeof(g))) > 0) {
		pieces++;
		bytes += n - 54;
	}
	assert_int_equal(pieces, (65535 - 40 + 1459) / 1460);
	assert_int_equal(bytes, 65535 - 40);

	/* Faults and the MTU check apply to each piece: a seg_size beyond
	 * the wire's MTU loses every piece, nothing larger goes out. */
	struct usn_sim_faults fl = {.mtu = 1500};
	usn_sim_port_set_faults(a, &fl);
	t.ts = true;
	len = frame_seg(f, MAC_B, &t, 4000);
	hal_send_tso(ha, f, len, 32, 2000);
	assert_int_equal(usn_sim_port_recv_raw(b, g, sizeof(g)), 0);
	assert_int_equal(stats_of(a).mtu_dropped, 2);
	usn_sim_link_destroy(l);
}

static void tso_bad_sum_child(void)
{
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, TSO_OFF);
	port_new(l, MAC_B, 0, 0, 0);
	static uint8_t f[8000];
	struct tcpf t = {.seq = 1, .flags = 0x10, .ts = true, .tso_whole = true};
	size_t len = frame_seg(f, MAC_B, &t, 5000);
	put16(f + 34 + 16, (uint16_t)(get16(f + 34 + 16) + 1)); /* not the pseudo-header sum */
	hal_send_tso(usn_sim_port_hal(a), f, len, 32, 1448);
}

static void tso_no_offload_child(void)
{
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM);
	port_new(l, MAC_B, 0, 0, 0);
	static uint8_t f[2000];
	struct tcpf t = {.seq = 1, .flags = 0x10, .ts = true, .tso_whole = true};
	hal_send_tso(usn_sim_port_hal(a), f, frame_seg(f, MAC_B, &t, 1000), 32, 500);
}

static void tso_bad_l4_child(void)
{
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, TSO_OFF);
	port_new(l, MAC_B, 0, 0, 0);
	static uint8_t f[4000];
	struct tcpf t = {.seq = 1, .flags = 0x10, .ts = true, .tso_whole = true};
	hal_send_tso(usn_sim_port_hal(a), f, frame_seg(f, MAC_B, &t, 3000), 20, 1000); /* the header is 32 */
}

static void test_tso_contract(void **state)
{
	(void)state;
	expect_abort(tso_bad_sum_child);
	expect_abort(tso_no_offload_child);
	expect_abort(tso_bad_l4_child);
}

/* Frames cross the wire from a and wait at b; one rx_burst of b takes them. */
static void lro_send(struct usn_sim_port *a, const struct tcpf *t, size_t payload)
{
	uint8_t f[2048];
	assert_int_equal(usn_sim_port_send_raw(a, f, frame_seg(f, MAC_B, t, payload)), 0);
}

/* One frame from b's rx_burst, linearised: its length, flags, seg_size. */
static size_t lro_recv(struct usn_hal *hb, uint8_t *g, size_t cap, uint16_t *flags, uint16_t *seg, unsigned *bufs)
{
	struct usn_buf *b;
	if (hb->ops->rx_burst(hb, 0, &b, 1) == 0)
		return 0;
	size_t total = 0;
	*bufs = 0;
	for (struct usn_buf *c = b; c; c = c->next) {
		assert_true(total + c->len <= cap);
		memcpy(g + total, c->data, c->len);
		total += c->len;
		(*bufs)++;
	}
	assert_int_equal(total, b->frame_len);
	*flags = b->flags;
	*seg = b->seg_size;
	hb->ops->free_bulk(hb, 0, &b, 1);
	return total;
}

static void test_lro(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 512, 0, USN_HAL_OFF_RX_LRO);
	struct usn_hal *hb = usn_sim_port_hal(b);
	static uint8_t g[70000];
	uint16_t flags, seg;
	unsigned nb;
	const uint16_t good = USN_BUF_RX_IP_CSUM_GOOD | USN_BUF_RX_L4_CSUM_GOOD;

	/* Five in-order segments, the ACK and TSval moving on, the last short
	 * with PSH: one frame, the first's header with the latest ACK, window
	 * and PSH, the first's TSval. */
	struct tcpf t = {.seq = 100, .ack = 9, .flags = 0x10, .ts = true, .tsval = 50, .tsecr = 7, .window = 400};
	for (int i = 0; i < 5; i++) {
		t.flags = i == 4 ? 0x18 : 0x10;
		lro_send(a, &t, i == 4 ? 300 : 1000);
		t.seq += 1000;
		t.ack += 10;
		t.tsval += i & 1;
		t.window = (uint16_t)(t.window + 1);
	}
	size_t n = lro_recv(hb, g, sizeof(g), &flags, &seg, &nb);
	assert_int_equal(n, 14 + 52 + 4300);
	assert_int_equal(flags, USN_BUF_RX_COALESCED | good);
	assert_int_equal(seg, 1000);
	assert_true(nb > 1);                            /* chained: 512-byte buffers */
	assert_int_equal(get16(g + 16), 52 + 4300);     /* IPv4 total length */
	assert_int_equal(ref_fold(g + 14, 20, 0), 0xffff);
	assert_int_equal(get32(g + 34 + 4), 100);
	assert_int_equal(get32(g + 34 + 8), 9 + 40);    /* the latest ACK */
	assert_int_equal(get16(g + 34 + 14), 404);      /* and window */
	assert_int_equal(g[34 + 13], 0x18);
	assert_int_equal(get32(g + 34 + 24), 50);       /* the first TSval */
	for (uint32_t k = 0; k < 4300; k++)
		assert_int_equal(g[66 + k], pat(100 + k));
	assert_int_equal(lro_recv(hb, g, sizeof(g), &flags, &seg, &nb), 0);
	assert_int_equal(stats_of(b).lro_frames, 1);
	assert_int_equal(stats_of(b).lro_merged, 4);
	assert_int_equal(stats_of(b).rx_frames, 5);

	/* What it refuses: a gap, a flag change, TSval going back, another
	 * TSecr, a bad sum, another flow, a longer segment, data after PSH. */
	for (int c = 0; c < 8; c++) {
		struct tcpf u = {.seq = 5000, .ack = 1, .flags = 0x10, .ts = true, .tsval = 10, .tsecr = 3};
		lro_send(a, &u, 1000);
		u.seq += 1000;
		size_t len2 = 1000;
		uint8_t f[2048];
		switch (c) {
		case 0:
			u.seq += 1; /* a gap */
			break;
		case 1:
			u.flags = 0x11; /* FIN */
			break;
		case 2:
			u.tsval = 9;
			break;
		case 3:
			u.tsecr = 4;
			break;
		case 4:
			break; /* bad sum, below */
		case 5:
			u.sport = 999;
			break;
		case 6:
			len2 = 1001;
			break;
		case 7:
			break; /* the first had PSH: below */
		}
		size_t flen = frame_seg(f, MAC_B, &u, len2);
		if (c == 4)
			f[70] ^= 1;
		if (c == 7) {
			/* resend: the first with PSH, then an in-order follower */
			assert_int_equal(lro_recv(hb, g, sizeof(g), &flags, &seg, &nb), 14 + 52 + 1000);
			struct tcpf p1 = {.seq = 5000, .ack = 1, .flags = 0x18, .ts = true, .tsval = 10, .tsecr = 3};
			lro_send(a, &p1, 1000);
		}
		assert_int_equal(usn_sim_port_send_raw(a, f, flen), 0);
		assert_int_equal(lro_recv(hb, g, sizeof(g), &flags, &seg, &nb), 14 + 52 + 1000);
		assert_int_equal(flags & USN_BUF_RX_COALESCED, 0);
		assert_int_equal(lro_recv(hb, g, sizeof(g), &flags, &seg, &nb), flen);
		assert_int_equal(flags & USN_BUF_RX_COALESCED, 0);
		assert_int_equal(lro_recv(hb, g, sizeof(g), &flags, &seg, &nb), 0);
	}
	assert_int_equal(stats_of(b).lro_frames, 1);

	/* Up to tso_max: 70 segments of 1000 bytes become two frames. */
	struct tcpf v = {.seq = 1, .ack = 1, .flags = 0x10};
	for (int i = 0; i < 70; i++) {
		lro_send(a, &v, 1000);
		v.seq += 1000;
	}
	size_t n1 = lro_recv(hb, g, sizeof(g), &flags, &seg, &nb);
	assert_int_equal(flags & USN_BUF_RX_COALESCED, USN_BUF_RX_COALESCED);
	assert_true(n1 - 14 <= 65535);
	assert_int_equal(n1, 14 + 40 + 65 * 1000);
	size_t n2 = lro_recv(hb, g, sizeof(g), &flags, &seg, &nb);
	assert_int_equal(n2, 14 + 40 + 5 * 1000);
	usn_sim_link_destroy(l);
}

static unsigned tap_seen;
static uint32_t tap_len;
static void tap_fn(void *arg, const struct usn_buf *frame)
{
	(void)arg;
	tap_seen++;
	tap_len = frame->frame_len;
}

static void test_tx_tap(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, TSO_OFF);
	port_new(l, MAC_B, 0, 0, 0);
	static uint8_t f[8000];
	struct tcpf t = {.seq = 1, .flags = 0x10, .ts = true, .tso_whole = true};
	usn_sim_port_set_tx_tap(a, tap_fn, NULL);
	size_t len = frame_seg(f, MAC_B, &t, 5000);
	hal_send_tso(usn_sim_port_hal(a), f, len, 32, 1448);
	assert_int_equal(tap_seen, 1);
	assert_int_equal(tap_len, len);
	usn_sim_port_set_tx_tap(a, NULL, NULL);
	hal_send_tso(usn_sim_port_hal(a), f, len, 32, 1448);
	assert_int_equal(tap_seen, 1);
	usn_sim_link_destroy(l);
}

/* ---- determinism of a whole faulty run ---- */

static uint64_t faulty_run(uint64_t seed)
{
	struct usn_sim_link *l = usn_sim_link_create(seed);
	struct usn_sim_port *a = port_new(l, MAC_A, 0, 0, 0);
	struct usn_sim_port *b = port_new(l, MAC_B, 0, 0, 0);
	struct usn_sim_faults fl = {
	    .loss = 0.1, .duplicate = 0.1, .reorder = 0.1, .corrupt = 0.1, .delay_us = 50, .jitter_us = 40};
	usn_sim_port_set_faults(a, &fl);
	uint8_t f[200], g[200];
	uint64_t h = 1469598103934665603ull; /* FNV-1a over arrivals and times */
	for (uint32_t i = 0; i < 500; i++) {
		assert_int_equal(usn_sim_port_send_raw(a, f, frame_plain(f, 60 + i % 100, MAC_B, MAC_A, i)),
				 0);
		usn_sim_link_advance(l, 7);
		size_t n;
		while ((n = usn_sim_port_recv_raw(b, g, sizeof(g))) > 0) {
			uint64_t t = usn_sim_link_now_us(l);
			for (size_t k = 0; k < n; k++)
				h = (h ^ g[k]) * 1099511628211ull;
			h = (h ^ t) * 1099511628211ull;
		}
	}
	usn_sim_link_destroy(l);
	return h;
}

static void test_deterministic(void **state)
{
	(void)state;
	assert_int_equal(faulty_run(99), faulty_run(99));
	assert_int_not_equal(faulty_run(99), faulty_run(100));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hal_fields_and_clock),
	    cmocka_unit_test(test_pool_alloc_free),
	    cmocka_unit_test(test_misuse_aborts),
	    cmocka_unit_test(test_unicast_chained_identical),
	    cmocka_unit_test(test_broadcast_multicast),
	    cmocka_unit_test(test_jumbo),
	    cmocka_unit_test(test_pool_dry_and_ring_full),
	    cmocka_unit_test(test_loss_all),
	    cmocka_unit_test(test_loss_rate_deterministic),
	    cmocka_unit_test(test_duplicate),
	    cmocka_unit_test(test_reorder),
	    cmocka_unit_test(test_corrupt_one_bit),
	    cmocka_unit_test(test_delay_jitter),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_mtu_fault),
	    cmocka_unit_test(test_rss_spread_symmetric),
	    cmocka_unit_test(test_rss_key_per_port),
	    cmocka_unit_test(test_pcap),
	    cmocka_unit_test(test_tx_csum_offload),
	    cmocka_unit_test(test_rx_csum_flags),
	    cmocka_unit_test(test_tso_cut),
	    cmocka_unit_test(test_tso_contract),
	    cmocka_unit_test(test_lro),
	    cmocka_unit_test(test_tx_tap),
	    cmocka_unit_test(test_deterministic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
