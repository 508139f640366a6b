/* Simulation test of what a large-segment port may ask of the sender:
 * zero-copy transmission (hal.h USN_BUF_TX_EXT, usn_stack_tx_region) and a
 * limit on the pieces of one TSO frame (hal.tso_max_segs). A sender whose port offers TSO and external
 * buffers sends a mix of pieces by reference from a read-only region, by reference from elsewhere and by
 * writer, clean and with loss and reordering. Every byte is checked at the receiver; every frame handed to
 * the port is checked against the contract (external buffers never first, at most USN_HAL_TX_EXT_MAX per
 * frame, each at least USN_HAL_TX_EXT_MIN bytes and inside the region, the chain within the bound hal.h
 * gives); every buffer is back in its pool at the end; the region is unchanged. The transfers run over
 * IPv4 and again over IPv6 (a case's name then ends in _v6), where no segment is large enough to lend:
 * the stack cuts IPv6 segments to the MSS itself (no TSO there), 1440 bytes, under USN_HAL_TX_EXT_MIN. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "simnet.h"
#include "usnet/tcp.h"

#define PORT 5101
#define REGION_LEN (1u << 20)
#define OUTSIDE_LEN 8192u
#define STREAM_MAX (2u << 20)
#define BUF_SIZE 2048u

static uint8_t *region;		     /* mmap'd, read-only once filled */
static uint8_t outside[OUTSIDE_LEN]; /* sent by reference, not registered */
static uint8_t *expect;		     /* the stream as the receiver must see it */
static uint32_t expect_len;

struct piece {
	enum { REF_IN, REF_OUT, WRITER } kind;
	uint32_t off, len;
};

/* Small and large, touching and not: a copy run between two lent ranges, a
 * piece straddling many segments, 1-byte pieces, a writer between. */
static const struct piece script[] = {
    {REF_IN, 0, 100},	      {REF_IN, 100, 3000},	{REF_IN, 3100, 70000},	{REF_OUT, 0, 5000},
    {WRITER, 17, 10000},      {REF_IN, 80000, 1},	{REF_IN, 80001, 1},	{REF_IN, 80002, 2047},
    {REF_IN, 90000, 2048},    {REF_IN, 100000, 300000}, {REF_OUT, 100, 8000},	{REF_IN, 400000, 65536},
    {REF_IN, 500000, 131072}, {WRITER, 0, 70000},	{REF_IN, 700000, 4000}, {REF_IN, 704000, 4000},
    {REF_IN, 708000, 4000},   {REF_IN, 712000, 100000},
};
#define N_PIECES (sizeof(script) / sizeof(script[0]))

static void writer_fn(void *arg, uint32_t off, uint32_t len, struct usn_cursor dst)
{
	const struct piece *p = arg;
	uint8_t buf[512];
	while (len) {
		uint32_t n = len < sizeof buf ? len : (uint32_t)sizeof buf;
		for (uint32_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((p->off + off + i) * 7u + 3u);
		usn_cursor_write(dst, buf, n);
		dst = usn_cursor_drop(dst, n);
		off += n;
		len -= n;
	}
}

struct side {
	struct usn_tcp_conn *c;
	uint32_t next; /* next script piece to queue */
	uint64_t rx, rx_bad, acked;
	int closed;
	enum usn_tcp_close_reason why;
};

struct frame_check {
	uint64_t frames, ext_frames, ext_bufs, bad;
	uint64_t ext_retrans; /* frames with external buffers that resent bytes */
	uint32_t seq_max;     /* highest sequence number sent so far, + 1 */
	bool seq_any;
	char why[160];
};

static struct side snd, rcv;
static struct frame_check fc;
static uint64_t tso_frames; /* the sender's port cut this many in the last transfer */
static uint64_t tso_skipped; /* IPv6 segments the sender cut itself for want of TSO (last transfer) */

/* The family a case runs over: its prestate (cmocka_unit_test_prestate). */
static const bool fam_v4 = false, fam_v6 = true;
#define FAM(st) (*(const bool *)*(st))
/* A case twice: over IPv4 under its name, over IPv6 as name_v6. */
#define BOTH_FAMILIES(f) {#f, f, NULL, NULL, (void *)&fam_v4}, {#f "_v6", f, NULL, NULL, (void *)&fam_v6}

/* Host n's IPv6 address, 2001:2::n (RFC 5180's benchmarking prefix). */
static void zc_ip6(uint8_t n, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[15] = n;
}

static void pump(struct side *s)
{
	while (s->next < N_PIECES) {
		const struct piece *p = &script[s->next];
		int rc;
		if (p->kind == REF_IN)
			rc = usn_tcp_send_ref(s->c, region + p->off, p->len, NULL);
		else if (p->kind == REF_OUT)
			rc = usn_tcp_send_ref(s->c, outside + p->off, p->len, NULL);
		else
			rc = usn_tcp_send_writer(s->c, p->len, writer_fn, (void *)p);
		if (rc != 0)
			return;
		s->next++;
	}
	usn_tcp_close(s->c);
	s->next++; /* closed once */
}

static void on_connected(struct usn_tcp_conn *c, void *user)
{
	struct side *s = user ? user : &rcv;
	s->c = c;
	usn_tcp_set_user(c, s);
	if (s == &snd)
		pump(s);
}

static void on_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	struct side *s = user;
	uint8_t buf[2048];
	while (usn_cursor_size(d)) {
		size_t n = usn_cursor_read(d, buf, sizeof buf);
		for (size_t i = 0; i < n; i++)
			if (s->rx + i >= expect_len || buf[i] != expect[s->rx + i])
				s->rx_bad++;
		s->rx += n;
		d = usn_cursor_drop(d, (uint32_t)n);
	}
}

static void on_sent(struct usn_tcp_conn *c, void *user, uint32_t bytes)
{
	(void)c;
	struct side *s = user;
	s->acked += bytes;
	if (s == &snd && s->next < N_PIECES + 1)
		pump(s);
}

static void on_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	usn_tcp_close(c);
}

static void on_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct side *s = user;
	s->closed++;
	s->why = why;
}

static const struct usn_tcp_handlers handlers = {
    .connected_fn = on_connected,
    .recv_fn = on_recv,
    .sent_fn = on_sent,
    .remote_closed_fn = on_remote_closed,
    .closed_fn = on_closed,
};

static void bad(const char *fmt, unsigned long long a, unsigned long long b)
{
	if (!fc.bad++)
		snprintf(fc.why, sizeof fc.why, fmt, a, b);
}

/* Every frame the sender's stack hands its port, against hal.h. */
static void tap(void *arg, const struct usn_buf *f)
{
	(void)arg;
	uint32_t n_ext = 0, n_bufs = 0, total = 0;
	fc.frames++;
	if (f->flags & USN_BUF_TX_EXT)
		bad("frame %llu (of %llu bytes) begins with an external buffer", fc.frames, f->frame_len);
	for (const struct usn_buf *b = f; b; b = b->next) {
		n_bufs++;
		total += b->len;
		if (!(b->flags & USN_BUF_TX_EXT))
			continue;
		n_ext++;
		if (b->len < USN_HAL_TX_EXT_MIN)
			bad("external buffer of %llu bytes (min %llu)", b->len, USN_HAL_TX_EXT_MIN);
		if (b->data < region || b->data + b->len > region + REGION_LEN)
			bad("external buffer outside the region (%llu bytes at offset %llu)", b->len,
			    (unsigned long long)(b->data - region));
		if (b->room != 0 || b->headroom != 0)
			bad("external buffer with room %llu headroom %llu", b->room, b->headroom);
	}
	if (n_ext > USN_HAL_TX_EXT_MAX)
		bad("%llu external buffers in one frame (max %llu)", n_ext, USN_HAL_TX_EXT_MAX);
	/* hal.h: at most 2 * USN_HAL_TX_EXT_MAX buffers more than the frame copied. */
	uint32_t copied = (total + BUF_SIZE - 1) / BUF_SIZE;
	if (n_bufs > copied + 2u * USN_HAL_TX_EXT_MAX)
		bad("%llu buffers for a frame that copied takes %llu", n_bufs, copied);
	if (total != f->frame_len)
		bad("frame_len %llu, chain holds %llu", f->frame_len, total);
	fc.ext_bufs += n_ext;
	fc.ext_frames += n_ext > 0;
	/* The TCP header follows 14 + 20 bytes in the first buffer (IPv4
	 * without options), or 14 + 40 (IPv6, no extension headers). */
	uint32_t l4 = 0;
	if (f->len >= 34 && f->data[12] == 0x08 && f->data[13] == 0x00 && f->data[23] == 6)
		l4 = 34;
	else if (f->len >= 54 && f->data[12] == 0x86 && f->data[13] == 0xdd && f->data[20] == 6)
		l4 = 54;
	if (l4 && f->len >= l4 + 20) {
		const uint8_t *t = f->data + l4;
		uint32_t seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
		uint32_t end = seq + f->frame_len - l4 - (uint32_t)(t[12] >> 4) * 4u;
		if (n_ext && fc.seq_any && (int32_t)(seq - fc.seq_max) < 0)
			fc.ext_retrans++;
		if (!fc.seq_any || (int32_t)(end - fc.seq_max) > 0)
			fc.seq_max = end;
		fc.seq_any = true;
	}
}

static void build_expect(void)
{
	expect_len = 0;
	for (size_t i = 0; i < N_PIECES; i++) {
		const struct piece *p = &script[i];
		uint8_t *to = expect + expect_len;
		if (p->kind == REF_IN)
			memcpy(to, region + p->off, p->len);
		else if (p->kind == REF_OUT)
			memcpy(to, outside + p->off, p->len);
		else
			for (uint32_t k = 0; k < p->len; k++)
				to[k] = (uint8_t)((p->off + k) * 7u + 3u);
		expect_len += p->len;
	}
}

static int setup(void **st)
{
	(void)st;
	long page = sysconf(_SC_PAGESIZE);
	region = mmap(NULL, REGION_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect = malloc(STREAM_MAX);
	if (region == MAP_FAILED || !expect || REGION_LEN % (size_t)page)
		return -1;
	uint32_t x = 0x2545f491u;
	for (uint32_t i = 0; i < REGION_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		region[i] = (uint8_t)x;
	}
	for (uint32_t i = 0; i < OUTSIDE_LEN; i++)
		outside[i] = (uint8_t)(i * 13u + 1u);
	/* Read-only from here: a stack writing into memory it was lent
	 * faults at once. */
	if (mprotect(region, REGION_LEN, PROT_READ) != 0)
		return -1;
	build_expect();
	return expect_len <= STREAM_MAX ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	munmap(region, REGION_LEN);
	free(expect);
	return 0;
}

static bool done(void *arg)
{
	(void)arg;
	return snd.closed && rcv.closed;
}

/* One transfer of the script from a zero-copy sender; returns its stack's
 * zero-copy byte count. */
static uint64_t transfer(bool v6, uint64_t seed, double loss, double reorder, uint32_t extra_offloads,
			 bool do_register, uint16_t tso_max_segs)
{
	struct simnet net;
	simnet_init(&net, seed);
	memset(&snd, 0, sizeof snd);
	memset(&rcv, 0, sizeof rcv);
	memset(&fc, 0, sizeof fc);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 15);
	cfg.tcp_timewait_ms = 1000;
	cfg.arp_timeout_ms = 24u * 3600 * 1000;
	cfg.tcp_cookie_secret[0] = (uint32_t)seed;
	if (v6) {
		/* IPv4 stays configured (ARP and all): the connection chooses. */
		cfg.ipv6 = true;
		cfg.ipv6_no_dad = true;
		cfg.n_ip6 = 1;
		cfg.ip6[0].prefix_len = 64;
		zc_ip6(1, cfg.ip6[0].addr);
	}
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.buf_size = BUF_SIZE;
	pc.offloads = USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_MULTISEG |
		      USN_HAL_OFF_TX_TSO | extra_offloads;
	pc.tso_max_segs = tso_max_segs; /* the sim stops the test on a frame of more */
	struct simnet_host *a = simnet_add_host(&net, SIMNET_IP(0, 1), &cfg, &pc);
	memset(&pc, 0, sizeof pc);
	cfg.tcp_cookie_secret[1] = 2;
	zc_ip6(2, cfg.ip6[0].addr);
	struct simnet_host *b = simnet_add_host(&net, SIMNET_IP(0, 2), &cfg, &pc);
	assert_non_null(a);
	assert_non_null(b);
	if (do_register)
		assert_int_equal(
		    usn_stack_tx_region(a->stack, region, REGION_LEN),
		    ((extra_offloads | simnet_env_offloads()) & USN_HAL_OFF_TX_EXT) ? 0 : -EOPNOTSUPP);
	usn_sim_port_set_tx_tap(a->port, tap, NULL);
	struct usn_sim_faults f;
	memset(&f, 0, sizeof f);
	f.loss = loss;
	f.reorder = reorder;
	f.delay_us = 100;
	f.mtu = 1500;
	usn_sim_port_set_faults(a->port, &f);
	usn_sim_port_set_faults(b->port, &f);
	assert_int_equal(usn_tcp_listen(b->stack, PORT, &handlers, NULL), 0);
	struct usn_addr dst = usn_addr_ipv4(b->ip);
	if (v6) {
		dst.family = USN_AF_INET6;
		zc_ip6(2, dst.u.v6);
	}
	snd.c = usn_tcp_connect_addr(usn_stack_worker(a->stack, 0), &dst, PORT, &handlers, &snd);
	assert_non_null(snd.c);
	assert_true(simnet_run_until(&net, done, NULL, 600000000ull));
	struct usn_sim_port_stats ps;
	usn_sim_port_stats(a->port, &ps);
	tso_frames = ps.tso_frames;
	if (fc.bad)
		fail_msg("%s", fc.why);
	assert_int_equal(snd.why, USN_TCP_CLOSE_NORMAL);
	assert_int_equal(rcv.why, USN_TCP_CLOSE_NORMAL);
	assert_int_equal(rcv.rx, expect_len);
	assert_int_equal(rcv.rx_bad, 0);
	assert_int_equal(snd.acked, expect_len);

	struct usn_stats sa;
	struct usn_sim_port_stats pa, pb;
	usn_stack_stats(a->stack, &sa);
	usn_sim_port_stats(a->port, &pa);
	tso_skipped = sa.tcp6_tso_skipped;
	/* Every segment went over the transfer's family. */
	assert_true(sa.tcp_rx_segs > 0);
	assert_int_equal(sa.tcp6_rx_segs, v6 ? sa.tcp_rx_segs : 0);
	assert_int_equal(sa.tcp6_tx_segs, v6 ? sa.tcp_tx_segs : 0);
	if (v6) {
		/* Over IPv6 the sender cuts every segment to the MSS itself
		 * (the port's TSO contract is IPv4's): the port cut nothing,
		 * and no segment (1440 bytes at most at this MTU) holds a piece
		 * of USN_HAL_TX_EXT_MIN to lend: every byte was copied. */
		assert_int_equal(usn_stack_config(a->stack)->mtu, 1500);
		assert_int_equal(tso_frames, 0);
		assert_true(tso_skipped > 0);
		assert_int_equal(sa.tcp_zcopy_bytes, 0);
		assert_int_equal(fc.ext_bufs, 0);
	}
	assert_int_equal(pa.mtu_dropped, 0);
	assert_int_equal(pa.tx_ext_bufs, fc.ext_bufs);
	assert_true(pa.tx_ext_bytes <= sa.tcp_zcopy_bytes);
	/* TIME-WAIT over, every stack gone: every buffer is back in its pool,
	 * the external ones too. */
	simnet_run_for(&net, 2000000);
	for (int i = 0; i < net.n; i++) {
		usn_stack_destroy(net.host[i].stack);
		net.host[i].stack = NULL;
	}
	usn_sim_port_stats(a->port, &pa);
	usn_sim_port_stats(b->port, &pb);
	assert_int_equal(pa.bufs_free, pa.bufs_total);
	assert_int_equal(pb.bufs_free, pb.bufs_total);
	simnet_destroy(&net);
	return sa.tcp_zcopy_bytes;
}

/* Which pieces can go out in place: those from the region, at least
 * USN_HAL_TX_EXT_MIN bytes long within one segment. */
static void test_clean(void **st)
{
	uint64_t zc = transfer(FAM(st), 1, 0, 0, USN_HAL_OFF_TX_EXT, true, 0);
	if (FAM(st))
		return; /* nothing lent over IPv6 (transfer checked that) */
	assert_true(fc.ext_frames > 0);
	/* Most of the region's bytes (about 700 KB of the 790 KB sent from
	 * it, the 300 KB and 128 KB pieces whole) left in place. */
	assert_true(zc > 600000);
}

static void test_loss_reorder(void **st)
{
	uint64_t retrans = 0;
	for (uint64_t seed = 2; seed < 6; seed++) {
		uint64_t zc = transfer(FAM(st), seed, 0.05, 0.05, USN_HAL_OFF_TX_EXT, true, 0);
		if (FAM(st))
			continue; /* every byte right, nothing lent over IPv6 (transfer checked both) */
		assert_true(zc > 300000); /* shorter segments under loss, still most in place */
		retrans += fc.ext_retrans;
	}
	assert_true(FAM(st) || retrans > 0); /* retransmissions lent the bytes again */
}

/* The same script where the port copies (no USN_HAL_OFF_TX_EXT: the
 * stack refuses the region) or nothing was declared: no external buffer
 * at all, every byte still right. */
static void test_port_copies(void **st)
{
	if (!(simnet_env_offloads() & USN_HAL_OFF_TX_EXT)) { /* else every port lends */
		assert_int_equal(transfer(FAM(st), 7, 0, 0, 0, true, 0), 0);
		assert_int_equal(fc.ext_bufs, 0);
	}
	assert_int_equal(transfer(FAM(st), 8, 0.03, 0, USN_HAL_OFF_TX_EXT, false, 0), 0);
	assert_int_equal(fc.ext_bufs, 0);
}

/* A port that cuts a frame into at most 4 pieces (net_tap's GSO takes 64):
 * every large segment stays within it (the sim stops the test on one that
 * does not), the transfer still uses them, every byte arrives. Over IPv6
 * the port cuts nothing (transfer checks it): the same transfers, every
 * byte right, each segment the sender's own cut. */
static void test_tso_max_segs(void **st)
{
	transfer(FAM(st), 10, 0, 0, USN_HAL_OFF_TX_EXT, true, 4);
	assert_true(FAM(st) ? tso_skipped > 10 : tso_frames > 10);
	transfer(FAM(st), 11, 0.05, 0.05, 0, false, 3);
	assert_true(FAM(st) ? tso_skipped > 10 : tso_frames > 10);
}

/* usn_stack_tx_region's refusals. */
static void test_region_errors(void **st)
{
	(void)st;
	struct simnet net;
	simnet_init(&net, 9);
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.offloads = USN_HAL_OFF_TX_MULTISEG | USN_HAL_OFF_TX_EXT;
	struct simnet_host *a = simnet_add_host(&net, SIMNET_IP(0, 1), NULL, &pc);
	assert_non_null(a);
	assert_int_equal(usn_stack_tx_region(a->stack, NULL, 10), -EINVAL);
	assert_int_equal(usn_stack_tx_region(a->stack, region, 0), -EINVAL);
	assert_int_equal(usn_stack_tx_region(a->stack, (void *)(uintptr_t)(UINTPTR_MAX - 10), 100), -EINVAL);
	for (int i = 0; i < 8; i++)
		assert_int_equal(usn_stack_tx_region(a->stack, region + i * 4096, 4096), 0);
	assert_int_equal(usn_stack_tx_region(a->stack, region, 10), -ENOSPC);
	simnet_destroy(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH_FAMILIES(test_clean),	     BOTH_FAMILIES(test_loss_reorder), BOTH_FAMILIES(test_port_copies),
	    BOTH_FAMILIES(test_tso_max_segs), cmocka_unit_test(test_region_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
