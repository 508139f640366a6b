/* Unit tests for UDP: the wire parser and emitter (lib/wire/udp.c, every
 * bad input with its own error, headers straddling buffers), and the UDP
 * layer on a simulated link (lib/udp, lib/net/icmp_error.c): bind, receive,
 * echo, send by reference and by writer, each drop counted, port
 * unreachable with its quote, its rate limit, the MTU, ARP. Frames are
 * built and checked with builders written apart from lib/wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "bufchain.h"
#include "core/worker.h"
#include "netfix.h"
#include "usnet/udp.h"
#include "wire/wire.h"

static const uint8_t zero_mac[6];

/* ---- an independent UDP builder ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The datagram sent from src to dst (header + data) with a correct
 * checksum (0 if zero_csum); returns its length. */
static size_t udp_build(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, const void *data,
			size_t len, int zero_csum)
{
	static uint8_t tmp[12 + 70000];
	put16(p, sp);
	put16(p + 2, dp);
	put16(p + 4, (uint16_t)(8 + len));
	put16(p + 6, 0);
	if (len)
		memcpy(p + 8, data, len);
	if (zero_csum)
		return 8 + len;
	/* Pseudo-header (RFC 768): source, destination, zero, protocol, length. */
	for (int i = 0; i < 4; i++) {
		tmp[i] = (uint8_t)(src >> (24 - 8 * i));
		tmp[4 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	tmp[8] = 0;
	tmp[9] = 17;
	put16(tmp + 10, (uint16_t)(8 + len));
	memcpy(tmp + 12, p, 8 + len);
	uint16_t c = netfix_csum(tmp, 12 + 8 + len);
	put16(p + 6, c ? c : 0xffff);
	return 8 + len;
}

/* A whole frame from the raw port to the stack. */
static size_t udp_frame(uint8_t *p, uint16_t sp, uint16_t dp, const void *data, size_t len)
{
	size_t n = netfix_eth(p, netfix_stack_mac, netfix_raw_mac, 0x0800);
	n += netfix_ipv4(p + n, NETFIX_RAW_IP, NETFIX_STACK_IP, 17, (uint16_t)(8 + len), 64, 0x4321, 0x4000);
	n += udp_build(p + n, NETFIX_RAW_IP, NETFIX_STACK_IP, sp, dp, data, len, 0);
	return n;
}

/* Checks f->cap is exactly the datagram the stack must send to the raw
 * host (the IP id is the stack's own counter, taken from the capture). */
static void expect_udp(const struct netfix *f, uint16_t sp, uint16_t dp, const void *data, size_t len)
{
	static uint8_t want[70000];
	size_t n = netfix_eth(want, netfix_raw_mac, netfix_stack_mac, 0x0800);
	uint16_t id = (uint16_t)(f->cap[18] << 8 | f->cap[19]);
	n += netfix_ipv4(want + n, NETFIX_STACK_IP, NETFIX_RAW_IP, 17, (uint16_t)(8 + len), 64, id, 0x4000);
	n += udp_build(want + n, NETFIX_STACK_IP, NETFIX_RAW_IP, sp, dp, data, len, 0);
	assert_int_equal(f->cap_len, n);
	assert_memory_equal(f->cap, want, n);
}

/* Checks f->cap is a port unreachable quoting exactly quote_len bytes of
 * the IP packet at ip_pkt. */
static void expect_port_unreachable(const struct netfix *f, const uint8_t *ip_pkt, size_t quote_len)
{
	static uint8_t want[2048];
	size_t n = netfix_eth(want, netfix_raw_mac, netfix_stack_mac, 0x0800);
	uint16_t id = (uint16_t)(f->cap[18] << 8 | f->cap[19]);
	n += netfix_ipv4(want + n, NETFIX_STACK_IP, NETFIX_RAW_IP, 1, (uint16_t)(8 + quote_len), 64, id, 0x4000);
	uint8_t *icmp = want + n;
	icmp[0] = 3;
	icmp[1] = 3;
	memset(icmp + 2, 0, 6);
	memcpy(icmp + 8, ip_pkt, quote_len);
	put16(icmp + 2, netfix_csum(icmp, 8 + quote_len));
	n += 8 + quote_len;
	assert_int_equal(f->cap_len, n);
	assert_memory_equal(f->cap, want, n);
}

/* ---- the wire format ---- */

static void test_wire_parse_round_trip(void **state)
{
	(void)state;
	uint8_t d[64 + 8], data[64];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 1);
	const uint32_t src = 0xc6120002, dst = 0xc6120001;
	for (size_t len = 0; len <= 64; len += 7) {
		/* Our emit, checked by the independent builder. */
		uint8_t mine[72];
		struct usn_udp_repr r = {.src_port = 5353, .dst_port = 7, .len = (uint16_t)(8 + len)};
		memcpy(mine + 8, data, len);
		usn_udp_emit_ipv4(&r, src, dst, mine, usn_csum_partial(data, len, 0));
		size_t n = udp_build(d, src, dst, 5353, 7, data, len, 0);
		assert_int_equal(n, 8 + len);
		assert_memory_equal(mine, d, n);
		/* And parsed back, over random buffer splits. */
		uint32_t seed = (uint32_t)len + 1;
		struct usn_buf *b = bufchain_new_random(d, n, 9, &seed);
		struct usn_udp_repr p;
		memset(&p, 0, sizeof(p));
		assert_int_equal(usn_udp_parse_ipv4(usn_cursor_of_frame(b), src, dst, false, &p), USN_WIRE_OK);
		assert_int_equal(p.src_port, 5353);
		assert_int_equal(p.dst_port, 7);
		assert_int_equal(p.len, 8 + len);
		uint16_t sp = 0, dp = 0;
		assert_int_equal(usn_udp_ports_parse(usn_cursor_of_frame(b), &sp, &dp), USN_WIRE_OK);
		assert_int_equal(sp, 5353);
		assert_int_equal(dp, 7);
		bufchain_free(b);
	}
}

static enum usn_wire_err parse_flat(const uint8_t *d, size_t n, struct usn_udp_repr *r, bool csum_ok)
{
	size_t sizes[1] = {0};
	struct usn_buf *b = bufchain_new(d, n, sizes, 1);
	enum usn_wire_err e = usn_udp_parse_ipv4(usn_cursor_of_frame(b), 1, 2, csum_ok, r);
	bufchain_free(b);
	return e;
}

static void test_wire_bad_inputs(void **state)
{
	(void)state;
	uint8_t d[64];
	struct usn_udp_repr r;
	size_t n = udp_build(d, 1, 2, 1000, 2000, "hello", 5, 0);

	/* Shorter than a header. */
	for (size_t k = 0; k < 8; k++)
		assert_int_equal(parse_flat(d, k, &r, false), USN_WIRE_SHORT);
	/* A length field under 8. */
	uint8_t e[64];
	memcpy(e, d, n);
	put16(e + 4, 7);
	assert_int_equal(parse_flat(e, n, &r, true), USN_WIRE_SHORT);
	/* A length field beyond the payload. */
	memcpy(e, d, n);
	put16(e + 4, (uint16_t)(n + 1));
	assert_int_equal(parse_flat(e, n, &r, true), USN_WIRE_LEN);
	/* A bad checksum, every bit of the datagram in turn; unless the
	 * port verified it. */
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(e, d, n);
		e[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (bit / 8 == 4 || bit / 8 == 5)
			continue; /* the length field: its own errors above */
		if ((e[6] | e[7]) == 0)
			continue; /* flipped into "no checksum" */
		assert_int_equal(parse_flat(e, n, &r, false), USN_WIRE_CSUM);
		assert_int_equal(parse_flat(e, n, &r, true), USN_WIRE_OK);
	}
	/* The checksum of the wrong addresses (pseudo-header). */
	size_t sizes[1] = {0};
	struct usn_buf *b = bufchain_new(d, n, sizes, 1);
	assert_int_equal(usn_udp_parse_ipv4(usn_cursor_of_frame(b), 1, 3, false, &r), USN_WIRE_CSUM);
	bufchain_free(b);
	/* The right one, as a check of the above. */
	assert_int_equal(parse_flat(d, n, &r, false), USN_WIRE_OK);
}

static void test_wire_zero_checksum_and_trim(void **state)
{
	(void)state;
	uint8_t d[64];
	struct usn_udp_repr r;
	/* RFC 768: zero means none; accepted even with the data garbled. */
	size_t n = udp_build(d, 1, 2, 1000, 2000, "hello", 5, 1);
	d[9] ^= 0xff;
	assert_int_equal(parse_flat(d, n, &r, false), USN_WIRE_OK);
	assert_int_equal(r.len, 13);
	/* A payload longer than the length field (trailing bytes): the
	 * datagram is the field's, its sum over those bytes only. */
	n = udp_build(d, 1, 2, 1000, 2000, "hello", 5, 0);
	memset(d + n, 0xa5, 10);
	assert_int_equal(parse_flat(d, n + 10, &r, false), USN_WIRE_OK);
	assert_int_equal(r.len, 13);
	/* A computed zero goes out as 0xffff: data whose sum makes the
	 * checksum 0 (found by search over one 16-bit word). */
	uint8_t p[10];
	struct usn_udp_repr w = {.src_port = 1, .dst_port = 2, .len = 10};
	int found = 0;
	for (uint32_t v = 0; v <= 0xffff && !found; v++) {
		uint8_t data[2] = {(uint8_t)(v >> 8), (uint8_t)v};
		memcpy(p + 8, data, 2);
		usn_udp_emit_ipv4(&w, 1, 2, p, usn_csum_partial(data, 2, 0));
		if (p[6] == 0xff && p[7] == 0xff) {
			found = 1;
			assert_int_equal(parse_flat(p, 10, &r, false), USN_WIRE_OK);
		}
		assert_false(p[6] == 0 && p[7] == 0);
	}
	assert_true(found);
}

/* ---- the layer on a simulated link ---- */

struct rx_log {
	unsigned calls;
	struct usn_addr peer;
	uint16_t peer_port, local_port;
	uint8_t data[4096];
	size_t len;
	int echo;      /* answer with the payload, by writer */
	int echo_rc;   /* the answer's return */
	void *user_seen;
};

static void copy_writer(void *arg, struct usn_cursor dst)
{
	const struct usn_cursor *src = arg;
	uint8_t bounce[256];
	for (uint32_t off = 0; off < usn_cursor_size(*src);) {
		size_t n = usn_cursor_read(usn_cursor_drop(*src, off), bounce, sizeof(bounce));
		usn_cursor_write(usn_cursor_drop(dst, off), bounce, n);
		off += (uint32_t)n;
	}
}

static void on_recv(struct usn_worker *w, void *user, const struct usn_addr *peer, uint16_t peer_port,
		    uint16_t local_port, struct usn_cursor data)
{
	struct rx_log *log = user;
	log->calls++;
	log->user_seen = user;
	log->peer = *peer;
	log->peer_port = peer_port;
	log->local_port = local_port;
	log->len = usn_cursor_read(data, log->data, sizeof(log->data));
	assert_int_equal(log->len, usn_cursor_size(data));
	if (log->echo)
		log->echo_rc = usn_udp_send_writer(w, local_port, peer, peer_port, usn_cursor_size(data), copy_writer,
						   &data);
}

static void setup_resolved(struct netfix *f, const struct usn_stack_config *cfg,
			   const struct usn_sim_port_config *pcfg)
{
	netfix_setup(f, cfg, pcfg);
	uint8_t fr[60];
	netfix_arp_frame(fr, netfix_bcast, 1, netfix_raw_mac, NETFIX_RAW_IP, zero_mac, NETFIX_STACK_IP);
	netfix_inject(f, fr, 60);
	netfix_drain(f);
}

static void test_bind_receive_and_echo(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL, NULL);
	struct rx_log log;
	memset(&log, 0, sizeof(log));
	log.echo = 1;
	assert_int_equal(usn_udp_bind(f.host->stack, 7, on_recv, &log), 0);
	uint8_t fr[2048], data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
	/* Even, odd and empty payloads, up to the largest one frame holds. */
	static const size_t lens[] = {5, 64, 0, 1, 999, 1000};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = udp_frame(fr, (uint16_t)(40000 + i), 7, data, lens[i]);
		netfix_inject(&f, fr, n);
		assert_int_equal(log.calls, i + 1);
		assert_ptr_equal(log.user_seen, &log);
		assert_int_equal(log.peer.family, USN_AF_INET);
		assert_int_equal(log.peer.u.v4, NETFIX_RAW_IP);
		assert_int_equal(log.peer_port, 40000 + i);
		assert_int_equal(log.local_port, 7);
		assert_int_equal(log.len, lens[i]);
		assert_memory_equal(log.data, data, lens[i]);
		assert_int_equal(log.echo_rc, 0);
		assert_true(netfix_capture(&f) > 0);
		expect_udp(&f, 7, (uint16_t)(40000 + i), data, lens[i]);
	}
	/* The largest datagram: 1500 - 28 bytes. */
	static uint8_t big[1472];
	memset(big, 0x5a, sizeof(big));
	size_t n = udp_frame(fr, 1234, 7, big, sizeof(big));
	netfix_inject(&f, fr, n);
	assert_int_equal(log.len, sizeof(big));
	assert_true(netfix_capture(&f) > 0);
	expect_udp(&f, 7, 1234, big, sizeof(big));
	const struct usn_stats *st = usn_worker_stats(f.w);
	assert_int_equal(st->udp_rx_dgrams, 7);
	assert_int_equal(st->udp_tx_dgrams, 7);
	assert_int_equal(st->udp_rx_bytes, 5 + 64 + 0 + 1 + 999 + 1000 + 1472);
	assert_int_equal(st->udp_tx_bytes, st->udp_rx_bytes);
	assert_int_equal(st->drop_udp_no_port, 0);
	netfix_teardown(&f);
}

/* A chained datagram arrives (256-byte buffers) and its echo goes out
 * chained too. */
static void test_chained_echo(void **state)
{
	(void)state;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.buf_size = 256;
	pc.offloads = USN_HAL_OFF_TX_MULTISEG;
	struct netfix f;
	setup_resolved(&f, NULL, &pc);
	struct rx_log log;
	memset(&log, 0, sizeof(log));
	log.echo = 1;
	assert_int_equal(usn_udp_bind(f.host->stack, 9, on_recv, &log), 0);
	static uint8_t fr[2048], data[1400];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ (i >> 8));
	size_t n = udp_frame(fr, 777, 9, data, sizeof(data));
	netfix_inject(&f, fr, n);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.len, sizeof(data));
	assert_memory_equal(log.data, data, sizeof(data));
	assert_int_equal(log.echo_rc, 0);
	assert_true(netfix_capture(&f) > 0);
	expect_udp(&f, 9, 777, data, sizeof(data));
	netfix_teardown(&f);
}

struct gen {
	uint32_t len;
	unsigned calls;
};

static void gen_writer(void *arg, struct usn_cursor dst)
{
	struct gen *g = arg;
	g->calls++;
	assert_int_equal(usn_cursor_size(dst), g->len);
	for (uint32_t i = 0; i < g->len; i++) {
		uint8_t b = (uint8_t)(i * 3 + 11);
		usn_cursor_write(usn_cursor_drop(dst, i), &b, 1);
	}
}

static void test_send_ref_and_writer(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL, NULL);
	struct usn_addr peer = usn_addr_ipv4(NETFIX_RAW_IP);
	static uint8_t page[1200];
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 3 + 11);
	/* By reference, without and with a prefix-sum table. */
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, page, 333, NULL), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_true(netfix_capture(&f) > 0);
	expect_udp(&f, 5000, 6000, page, 333);
	struct usn_csum_table t;
	assert_int_equal(usn_csum_table_build(&t, page, 1001), 0);
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, page, 1001, &t), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_true(netfix_capture(&f) > 0);
	expect_udp(&f, 5000, 6000, page, 1001);
	/* A table of other bytes is refused. */
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, page, 1000, &t), -EINVAL);
	usn_csum_table_free(&t);
	/* By writer: the same bytes, generated. */
	struct gen g = {.len = 1200};
	assert_int_equal(usn_udp_send_writer(f.w, 5001, &peer, 6001, 1200, gen_writer, &g), 0);
	assert_int_equal(g.calls, 1);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_true(netfix_capture(&f) > 0);
	expect_udp(&f, 5001, 6001, page, 1200);
	/* Bad arguments, each refused with nothing sent. */
	struct usn_addr v6 = {.family = USN_AF_INET6};
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &v6, 6000, page, 10, NULL), -EAFNOSUPPORT);
	assert_int_equal(usn_udp_send_ref(f.w, 0, &peer, 6000, page, 10, NULL), -EINVAL);
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 0, page, 10, NULL), -EINVAL);
	assert_int_equal(usn_udp_send_ref(f.w, 5000, &peer, 6000, NULL, 10, NULL), -EINVAL);
	assert_int_equal(usn_udp_send_writer(f.w, 5000, &peer, 6000, 10, NULL, NULL), -EINVAL);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 0);
	/* An empty datagram, no data pointer needed. */
	assert_int_equal(usn_udp_send_ref(f.w, 5002, &peer, 6002, NULL, 0, NULL), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_true(netfix_capture(&f) > 0);
	expect_udp(&f, 5002, 6002, NULL, 0);
	assert_int_equal(usn_worker_stats(f.w)->udp_tx_dgrams, 4);
	netfix_teardown(&f);
}

static void test_mtu(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 0);
	cfg.mtu = 576;
	struct netfix f;
	setup_resolved(&f, &cfg, NULL);
	struct usn_addr peer = usn_addr_ipv4(NETFIX_RAW_IP);
	static uint8_t page[2000];
	assert_int_equal(usn_udp_max_payload(f.w, USN_AF_INET), 576 - 28);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, page, 576 - 28 + 1, NULL), -EMSGSIZE);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, page, 2000, NULL), -EMSGSIZE);
	struct gen g = {.len = 576 - 27};
	assert_int_equal(usn_udp_send_writer(f.w, 1, &peer, 2, g.len, gen_writer, &g), -EMSGSIZE);
	assert_int_equal(g.calls, 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, page, 576 - 28, NULL), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 14 + 576);
	netfix_teardown(&f);

	/* Buffers smaller than the MTU, and a port that takes no chains: the
	 * buffer is the limit. */
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.buf_size = 512;
	setup_resolved(&f, NULL, &pc);
	assert_int_equal(usn_udp_max_payload(f.w, USN_AF_INET), 512 - 42);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, page, 512 - 41, NULL), -EMSGSIZE);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, page, 512 - 42, NULL), 0);
	netfix_teardown(&f);
}

static void test_arp_paths(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 0);
	cfg.arp_queue_len = 4;
	struct netfix f;
	netfix_setup(&f, &cfg, NULL);
	netfix_drain(&f);
	const struct usn_stats *st = usn_worker_stats(f.w);
	uint8_t data[16] = {1, 2, 3};
	/* Off-link with no gateway, broadcast, multicast, our own address: no route. */
	struct usn_addr off = usn_addr_ipv4(0x0a000001);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &off, 2, data, 3, NULL), -EHOSTUNREACH);
	struct usn_addr bc = usn_addr_ipv4(0xffffffff);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &bc, 2, data, 3, NULL), -EHOSTUNREACH);
	struct usn_addr mc = usn_addr_ipv4(0xe0000001);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &mc, 2, data, 3, NULL), -EHOSTUNREACH);
	struct usn_addr self = usn_addr_ipv4(NETFIX_STACK_IP);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &self, 2, data, 3, NULL), -EHOSTUNREACH);
	/* An unresolved neighbour: the datagrams wait for ARP, up to the
	 * queue's length; then -EAGAIN, nothing lost silently. */
	struct usn_addr peer = usn_addr_ipv4(NETFIX_RAW_IP);
	for (int i = 0; i < 4; i++)
		assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, data, 3, NULL), 0);
	assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, data, 3, NULL), -EAGAIN);
	assert_int_equal(st->drop_arp_queue_full, 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 60); /* the request */
	assert_int_equal(f.cap[12] << 8 | f.cap[13], 0x0806);
	assert_int_equal(netfix_capture(&f), 0);
	/* Nobody answers: after the retries the four are dropped and counted. */
	simnet_run_for(&f.net, 5u * 1000u * 1000u);
	netfix_drain(&f);
	assert_int_equal(st->arp_failed, 1);
	assert_int_equal(st->drop_arp_unresolved, 4);
	/* Later the neighbour answers: a new datagram waits, then goes. */
	assert_int_equal(usn_udp_send_ref(f.w, 1, &peer, 2, data, 3, NULL), 0);
	simnet_run_until(&f.net, NULL, NULL, 0);
	assert_int_equal(netfix_capture(&f), 60);
	uint8_t arp[60];
	netfix_arp_frame(arp, netfix_stack_mac, 2, netfix_raw_mac, NETFIX_RAW_IP, netfix_stack_mac, NETFIX_STACK_IP);
	netfix_inject(&f, arp, 60);
	assert_true(netfix_capture(&f) > 0);
	expect_udp(&f, 1, 2, data, 3);
	netfix_teardown(&f);
}

static void test_bind_errors_and_unbind(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 0);
	cfg.udp_max_ports = 2;
	struct netfix f;
	setup_resolved(&f, &cfg, NULL);
	struct usn_stack *s = f.host->stack;
	struct rx_log a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(usn_udp_bind(s, 0, on_recv, &a), -EINVAL);
	assert_int_equal(usn_udp_bind(s, 53, NULL, &a), -EINVAL);
	assert_int_equal(usn_udp_bind(s, 53, on_recv, &a), 0);
	assert_int_equal(usn_udp_bind(s, 53, on_recv, &b), -EADDRINUSE);
	assert_int_equal(usn_udp_bind(s, 54, on_recv, &b), 0);
	assert_int_equal(usn_udp_bind(s, 55, on_recv, &b), -ENOSPC);
	uint8_t fr[128];
	size_t n = udp_frame(fr, 1, 54, "x", 1);
	netfix_inject(&f, fr, n);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.calls, 0);
	/* Unbound: the next datagram gets port unreachable. */
	assert_int_equal(usn_udp_unbind(s, 54), 0);
	assert_int_equal(usn_udp_unbind(s, 54), -ENOENT);
	assert_int_equal(usn_udp_unbind(s, 0), -ENOENT);
	netfix_inject(&f, fr, n);
	assert_int_equal(b.calls, 1);
	assert_true(netfix_capture(&f) > 0);
	expect_port_unreachable(&f, fr + 14, n - 14);
	/* 53 is still bound; a freed slot takes a new port. */
	n = udp_frame(fr, 1, 53, "y", 1);
	netfix_inject(&f, fr, n);
	assert_int_equal(a.calls, 1);
	assert_int_equal(usn_udp_bind(s, 55, on_recv, &b), 0);
	n = udp_frame(fr, 1, 55, "z", 1);
	netfix_inject(&f, fr, n);
	assert_int_equal(b.calls, 2);
	assert_int_equal(b.data[0], 'z');
	netfix_teardown(&f);
}

static void test_drops_counted(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL, NULL);
	struct rx_log log;
	memset(&log, 0, sizeof(log));
	assert_int_equal(usn_udp_bind(f.host->stack, 7, on_recv, &log), 0);
	const struct usn_stats *st = usn_worker_stats(f.w);
	uint8_t fr[256];
	size_t n;

	/* A bad checksum. */
	n = udp_frame(fr, 1000, 7, "abcdef", 6);
	fr[n - 1] ^= 0x01;
	netfix_inject(&f, fr, n);
	assert_int_equal(st->drop_udp_csum, 1);
	/* Fewer than 8 bytes of UDP. */
	size_t k = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
	k += netfix_ipv4(fr + k, NETFIX_RAW_IP, NETFIX_STACK_IP, 17, 6, 64, 1, 0);
	memset(fr + k, 0, 6);
	netfix_inject(&f, fr, k + 6);
	assert_int_equal(st->drop_udp_short, 1);
	/* A length field under 8. */
	n = udp_frame(fr, 1000, 7, "abcdef", 6);
	put16(fr + 34 + 4, 4);
	put16(fr + 34 + 6, 0);
	netfix_inject(&f, fr, n);
	assert_int_equal(st->drop_udp_short, 2);
	/* A length field past the IP payload. */
	n = udp_frame(fr, 1000, 7, "abcdef", 6);
	put16(fr + 34 + 4, 15);
	put16(fr + 34 + 6, 0);
	netfix_inject(&f, fr, n);
	assert_int_equal(st->drop_udp_len, 1);
	assert_int_equal(log.calls, 0);
	assert_int_equal(netfix_capture(&f), 0);

	/* A length field shorter than the IP payload: the datagram is the
	 * field's bytes (trailing ones cut), with its checksum over them. */
	size_t d = udp_build(fr + 34, NETFIX_RAW_IP, NETFIX_STACK_IP, 1000, 7, "abc", 3, 0);
	memset(fr + 34 + d, 0xee, 5);
	netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
	netfix_ipv4(fr + 14, NETFIX_RAW_IP, NETFIX_STACK_IP, 17, (uint16_t)(d + 5), 64, 1, 0);
	netfix_inject(&f, fr, 34 + d + 5);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.len, 3);
	assert_memory_equal(log.data, "abc", 3);
	/* A zero checksum: accepted. */
	n = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
	n += netfix_ipv4(fr + n, NETFIX_RAW_IP, NETFIX_STACK_IP, 17, 8 + 2, 64, 1, 0);
	n += udp_build(fr + n, NETFIX_RAW_IP, NETFIX_STACK_IP, 1000, 7, "hi", 2, 1);
	netfix_inject(&f, fr, n);
	assert_int_equal(log.calls, 2);
	assert_int_equal(st->udp_rx_dgrams, 2);
	assert_int_equal(st->drop_udp_no_port, 0);
	assert_int_equal(st->icmp_errors_tx, 0);
	netfix_teardown(&f);
}

static void test_port_unreachable_quote(void **state)
{
	(void)state;
	struct netfix f;
	setup_resolved(&f, NULL, NULL);
	const struct usn_stats *st = usn_worker_stats(f.w);
	static uint8_t fr[2048], data[1400];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i + 1);
	/* A small datagram is quoted whole. */
	size_t n = udp_frame(fr, 4444, 9999, data, 20);
	netfix_inject(&f, fr, n);
	assert_true(netfix_capture(&f) > 0);
	expect_port_unreachable(&f, fr + 14, n - 14);
	assert_int_equal(netfix_capture(&f), 0); /* exactly one */
	/* A large one: the error stays within 576 bytes (RFC 1812 4.3.2.3),
	 * so 548 bytes of it: the IP header, the UDP header and 520 of data. */
	n = udp_frame(fr, 4444, 9999, data, sizeof(data));
	netfix_inject(&f, fr, n);
	assert_true(netfix_capture(&f) > 0);
	assert_int_equal(f.cap_len, 14 + 576);
	expect_port_unreachable(&f, fr + 14, 548);
	/* Ethernet padding after a short datagram is not quoted. */
	n = udp_frame(fr, 4444, 9999, data, 2);
	memset(fr + n, 0xcc, 60 - n);
	netfix_inject(&f, fr, 60);
	assert_true(netfix_capture(&f) > 0);
	expect_port_unreachable(&f, fr + 14, n - 14);
	assert_int_equal(st->drop_udp_no_port, 3);
	assert_int_equal(st->icmp_errors_tx, 3);

	/* Never for a link-layer broadcast, or a source that is no single
	 * host (broadcast, multicast, zero, loopback, our subnet's broadcast). */
	n = udp_frame(fr, 4444, 9999, data, 4);
	memcpy(fr, netfix_bcast, 6);
	netfix_inject(&f, fr, n);
	static const uint32_t bad_src[] = {0xffffffff, 0xe0000005, 0, 0x7f000001, SIMNET_IP(0, 0) | 0x1ffff};
	for (size_t i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
		n = netfix_eth(fr, netfix_stack_mac, netfix_raw_mac, 0x0800);
		n += netfix_ipv4(fr + n, bad_src[i], NETFIX_STACK_IP, 17, 8 + 4, 64, 1, 0);
		n += udp_build(fr + n, bad_src[i], NETFIX_STACK_IP, 1, 9999, data, 4, 0);
		netfix_inject(&f, fr, n);
	}
	assert_int_equal(netfix_capture(&f), 0);
	assert_int_equal(st->drop_udp_no_port, 3 + 6);
	assert_int_equal(st->icmp_errors_tx, 3);
	assert_int_equal(st->icmp_errors_suppressed, 0);
	netfix_teardown(&f);
}

static void test_port_unreachable_rate_limit(void **state)
{
	(void)state;
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 0);
	cfg.icmp_error_rate = 100; /* one per 10 ms */
	cfg.icmp_error_burst = 20;
	cfg.bufs_per_worker = 1024;
	struct netfix f;
	setup_resolved(&f, &cfg, NULL);
	const struct usn_stats *st = usn_worker_stats(f.w);
	uint8_t fr[128];
	/* A burst of 300 at one instant: the bucket's 20 go out, no more. */
	for (int i = 0; i < 300; i++) {
		size_t n = udp_frame(fr, (uint16_t)(1000 + i), 9, "q", 1);
		netfix_inject(&f, fr, n);
	}
	assert_int_equal(netfix_drain(&f), 20);
	assert_int_equal(st->icmp_errors_tx, 20);
	assert_int_equal(st->icmp_errors_suppressed, 280);
	assert_int_equal(st->drop_udp_no_port, 300);
	/* 50 ms later, 5 tokens: 5 of the next 30 are answered. */
	simnet_run_for(&f.net, 50000);
	for (int i = 0; i < 30; i++) {
		size_t n = udp_frame(fr, (uint16_t)(2000 + i), 9, "q", 1);
		netfix_inject(&f, fr, n);
	}
	assert_int_equal(netfix_drain(&f), 5);
	assert_int_equal(st->icmp_errors_tx, 25);
	/* A long pause refills the bucket to its burst, not beyond. */
	simnet_run_for(&f.net, 10u * 1000u * 1000u);
	for (int i = 0; i < 60; i++) {
		size_t n = udp_frame(fr, (uint16_t)(3000 + i), 9, "q", 1);
		netfix_inject(&f, fr, n);
	}
	assert_int_equal(netfix_drain(&f), 20);
	assert_int_equal(st->icmp_errors_tx, 45);
	assert_int_equal(st->icmp_errors_suppressed, 280 + 25 + 40);
	netfix_teardown(&f);
}

static void test_config_checks(void **state)
{
	(void)state;
	struct usn_sim_link *l = usn_sim_link_create(1);
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.mac[0] = 2;
	pc.mac[5] = 1;
	struct usn_sim_port *p = usn_sim_port_create(l, &pc);
	struct usn_hal *hal = usn_sim_port_hal(p);
	struct usn_stack_config cfg;
	char msg[200];
	usn_stack_config_init(&cfg, SIMNET_IP(0, 1), 24);
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof(msg)), 0);
	cfg.udp_max_ports = 65536;
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "udp_max_ports"));
	cfg.udp_max_ports = 0;
	cfg.icmp_error_rate = 1000001;
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "icmp_error_rate"));
	cfg.icmp_error_rate = 0;
	cfg.icmp_error_burst = 1000001;
	assert_int_equal(usn_stack_config_check(&cfg, hal, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "icmp_error_burst"));
	usn_sim_link_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_parse_round_trip),
	    cmocka_unit_test(test_wire_bad_inputs),
	    cmocka_unit_test(test_wire_zero_checksum_and_trim),
	    cmocka_unit_test(test_bind_receive_and_echo),
	    cmocka_unit_test(test_chained_echo),
	    cmocka_unit_test(test_send_ref_and_writer),
	    cmocka_unit_test(test_mtu),
	    cmocka_unit_test(test_arp_paths),
	    cmocka_unit_test(test_bind_errors_and_unbind),
	    cmocka_unit_test(test_drops_counted),
	    cmocka_unit_test(test_port_unreachable_quote),
	    cmocka_unit_test(test_port_unreachable_rate_limit),
	    cmocka_unit_test(test_config_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
