/* Unit tests for the Linux packet port (arch/linux) without a packet socket:
 * the virtio-net header both ways (pport_vnet.c), the fanout program
 * (pport_fanout.c) run by a small classic-BPF interpreter against
 * usn_rss_queue(usn_rss_hash()), and the HAL operations (pport_hal.c) on a
 * TPACKET_V3 ring built in memory and a datagram socket pair standing in for
 * the packet socket: copies and chains, drops and their counters, blocks
 * given back, buffers returned across workers, sendmmsg staging, and no
 * allocation on any of it (malloc and friends wrapped at link time). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "pport.h"
#include "usnet/csum.h"
#include "usnet/hal.h"

/* ---- allocation counting (arch/linux/linux.mk: -Wl,--wrap=...) ---- */

static volatile int counting;
static volatile unsigned long n_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
	n_allocs += counting != 0;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
	n_allocs += counting != 0;
	return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
	n_allocs += counting != 0;
	return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n)
{
	n_allocs += counting != 0;
	return __real_aligned_alloc(align, n);
}

/* ---- frames ---- */

/* Ethernet (optionally one VLAN tag) + IPv4 (ihl words) + TCP or UDP +
 * payload, sums complete; returns the frame length. */
static uint32_t frame_make(uint8_t *f, bool vlan, uint8_t ihl, uint8_t proto, uint32_t src, uint32_t dst,
			   uint16_t sport, uint16_t dport, uint32_t payload)
{
	uint32_t l2 = vlan ? 18 : 14, l4 = proto == 6 ? 20 : 8, ip_len = ihl * 4u + l4 + payload;
	uint8_t *ip = f + l2, *th = ip + ihl * 4u;

	memset(f, 0, l2 + ip_len);
	memset(f, 0x02, 12);
	if (vlan) {
		f[12] = 0x81;
		f[14] = 0x00;
		f[15] = 7;
	}
	f[l2 - 2] = 0x08;
	ip[0] = (uint8_t)(0x40 | ihl);
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = proto;
	for (int i = 0; i < 4; i++) {
		ip[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		ip[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	for (uint32_t i = 20; i < ihl * 4u; i++)
		ip[i] = 1; /* NOP options */
	uint16_t s = usn_csum_finish(usn_csum_partial(ip, ihl * 4u, 0));
	ip[10] = (uint8_t)(s >> 8);
	ip[11] = (uint8_t)s;
	th[0] = (uint8_t)(sport >> 8);
	th[1] = (uint8_t)sport;
	th[2] = (uint8_t)(dport >> 8);
	th[3] = (uint8_t)dport;
	if (proto == 6)
		th[12] = 5 << 4;
	else {
		th[4] = (uint8_t)((l4 + payload) >> 8);
		th[5] = (uint8_t)(l4 + payload);
	}
	for (uint32_t i = 0; i < payload; i++)
		th[l4 + i] = (uint8_t)(i * 31u + 7u);
	uint32_t sum = usn_csum_add(usn_csum_pseudo(src, dst, proto, (uint16_t)(l4 + payload)),
				    usn_csum_partial(th, l4 + payload, 0));
	s = usn_csum_finish(sum);
	th[proto == 6 ? 16 : 6] = (uint8_t)(s >> 8);
	th[proto == 6 ? 17 : 7] = (uint8_t)s;
	return l2 + ip_len;
}

/* Whether the L4 sum of a frame made above verifies. */
static bool l4_sum_ok(const uint8_t *f, bool vlan)
{
	const uint8_t *ip = f + (vlan ? 18 : 14);
	uint32_t ihl = (ip[0] & 15u) * 4u, ip_len = (uint32_t)(ip[2] << 8 | ip[3]);
	uint32_t src = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
	uint32_t dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
	uint32_t sum = usn_csum_add(usn_csum_pseudo(src, dst, ip[9], (uint16_t)(ip_len - ihl)),
				    usn_csum_partial(ip + ihl, ip_len - ihl, 0));
	return usn_csum_fold(sum) == 0xffff;
}

/* Replaces the L4 sum field by the pseudo-header sum (CHECKSUM_PARTIAL). */
static void make_partial(uint8_t *f, bool vlan, uint32_t off)
{
	const uint8_t *ip = f + (vlan ? 18 : 14);
	uint32_t ihl = (ip[0] & 15u) * 4u, ip_len = (uint32_t)(ip[2] << 8 | ip[3]);
	uint32_t src = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
	uint32_t dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
	uint16_t ps = usn_csum_fold(usn_csum_pseudo(src, dst, ip[9], (uint16_t)(ip_len - ihl)));
	uint8_t *field = f + (vlan ? 18 : 14) + ihl + off;
	field[0] = (uint8_t)(ps >> 8);
	field[1] = (uint8_t)ps;
}

static void vnet_set(uint8_t v[10], uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
		     uint16_t csum_start, uint16_t csum_off)
{
	/* Host order (legacy virtio on a packet socket). */
	v[0] = flags;
	v[1] = gso;
	memcpy(v + 2, &hdr_len, 2);
	memcpy(v + 4, &gso_size, 2);
	memcpy(v + 6, &csum_start, 2);
	memcpy(v + 8, &csum_off, 2);
}

/* ---- virtio-net header, receive ---- */

static void test_rx_data_valid(void **state)
{
	uint8_t f[2048], v[10];
	uint16_t flags, seg;
	bool partial, sw;
	uint32_t len = frame_make(f, false, 5, 6, 0xc6120001, 0xc6120002, 1000, 80, 100);

	(void)state;
	vnet_set(v, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	assert_true(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
	/* The TCP sum only: the IPv4 header sum is the stack's to check. */
	assert_int_equal(flags, USN_BUF_RX_L4_CSUM_GOOD);
	assert_int_equal(seg, 0);
	assert_false(partial);
	assert_false(sw);
	/* Nothing said: nothing claimed. */
	vnet_set(v, 0, 0, 0, 0, 0, 0);
	assert_true(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
	assert_int_equal(flags, 0);
}

static void test_rx_needs_csum_tcp(void **state)
{
	uint8_t f[2048], v[10];
	uint16_t flags, seg;
	bool partial, sw;

	(void)state;
	for (int vlan = 0; vlan < 2; vlan++) {
		for (uint8_t ihl = 5; ihl <= 7; ihl++) {
			uint32_t len = frame_make(f, vlan, ihl, 6, 0xc6120001, 0xc6120002, 1000, 80, 300);
			uint16_t start = (uint16_t)((vlan ? 18 : 14) + ihl * 4);

			make_partial(f, vlan, 16);
			vnet_set(v, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, start, 16);
			assert_true(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
			assert_int_equal(flags, USN_BUF_RX_L4_CSUM_GOOD);
			assert_true(partial);
			assert_false(sw);
			/* The frame is left as it came (the stack does not
			 * look at a sum it was told is good). */
			assert_false(l4_sum_ok(f, vlan));
			/* The same offsets one byte off are not the TCP sum:
			 * finished in software instead, never trusted. */
			vnet_set(v, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)(start + 2), 14);
			assert_true(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
			assert_int_equal(flags, 0);
			assert_true(sw);
		}
	}
}

static void test_rx_needs_csum_other(void **state)
{
	uint8_t f[2048], v[10];
	uint16_t flags, seg;
	bool partial, sw;
	uint32_t len = frame_make(f, false, 5, 17, 0xc6120001, 0xc6120002, 53, 5353, 201);

	(void)state;
	/* UDP with a partial sum: finished here, then it verifies. */
	make_partial(f, false, 6);
	assert_false(l4_sum_ok(f, false));
	vnet_set(v, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 6);
	assert_true(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
	assert_int_equal(flags, 0); /* the stack checks it like any other */
	assert_true(sw);
	assert_false(partial);
	assert_true(l4_sum_ok(f, false));
	/* Offsets past the frame: the header is refused. */
	vnet_set(v, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)(len - 2), 1);
	assert_false(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
	vnet_set(v, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 60000, 16);
	assert_false(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
}

static void test_rx_gso(void **state)
{
	static uint8_t f[70000];
	uint8_t v[10];
	uint16_t flags, seg;
	bool partial, sw;
	uint32_t len = frame_make(f, false, 5, 6, 0xc6120001, 0xc6120002, 1000, 80, 14480);

	(void)state;
	make_partial(f, false, 16);
	vnet_set(v, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
	assert_true(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
	assert_int_equal(flags, USN_BUF_RX_COALESCED | USN_BUF_RX_L4_CSUM_GOOD);
	assert_int_equal(seg, 1448);
	/* With ECN marked, still a coalesced TCP frame. */
	vnet_set(v, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 54, 1000,
		 34, 16);
	assert_true(usn_pport_rx_meta(v, 0, f, len, true, &flags, &seg, &partial, &sw));
	assert_true(flags & USN_BUF_RX_COALESCED);
	assert_int_equal(seg, 1000);
}

static void test_rx_plain(void **state)
{
	uint8_t f[2048];
	uint16_t flags, seg;
	bool partial, sw;
	uint32_t len = frame_make(f, false, 5, 6, 0xc6120001, 0xc6120002, 1000, 80, 100);

	(void)state;
	assert_true(usn_pport_rx_meta(NULL, TP_STATUS_USER | TP_STATUS_CSUM_VALID, f, len, true, &flags, &seg,
				      &partial, &sw));
	assert_int_equal(flags, USN_BUF_RX_L4_CSUM_GOOD);
	assert_true(usn_pport_rx_meta(NULL, TP_STATUS_USER | TP_STATUS_CSUMNOTREADY, f, len, true, &flags,
				      &seg, &partial, &sw));
	assert_int_equal(flags, USN_BUF_RX_L4_CSUM_GOOD);
	assert_true(partial);
	assert_true(usn_pport_rx_meta(NULL, TP_STATUS_USER, f, len, true, &flags, &seg, &partial, &sw));
	assert_int_equal(flags, 0);
	/* A partial UDP sum: a local sender's, taken as TCP's is (the stack
	 * would find the unfinished sum wrong and drop every datagram). */
	len = frame_make(f, false, 5, 17, 0xc6120001, 0xc6120002, 53, 53, 10);
	assert_true(usn_pport_rx_meta(NULL, TP_STATUS_USER | TP_STATUS_CSUMNOTREADY, f, len, true, &flags,
				      &seg, &partial, &sw));
	assert_int_equal(flags, USN_BUF_RX_L4_CSUM_GOOD);
	assert_true(partial);
	/* Any other protocol's is not claimed. */
	len = frame_make(f, false, 5, 1, 0xc6120001, 0xc6120002, 53, 53, 10);
	assert_true(usn_pport_rx_meta(NULL, TP_STATUS_USER | TP_STATUS_CSUMNOTREADY, f, len, true, &flags,
				      &seg, &partial, &sw));
	assert_int_equal(flags, 0);
	/* Too short to hold an IPv4 header. */
	assert_true(
	    usn_pport_rx_meta(NULL, TP_STATUS_CSUMNOTREADY, f, 20, true, &flags, &seg, &partial, &sw));
	assert_int_equal(flags, 0);
	/* IPv6: a partial UDP or TCP sum, the next header right after the
	 * fixed header; not ICMPv6's, not a frame too short for the header. */
	static const uint8_t nhs[] = {17, 6, 58};
	for (size_t i = 0; i < sizeof(nhs); i++) {
		memset(f, 0, 14 + 40 + 20);
		f[12] = 0x86;
		f[13] = 0xdd;
		f[14] = 0x60;
		f[14 + 5] = 20;
		f[14 + 6] = nhs[i];
		assert_true(usn_pport_rx_meta(NULL, TP_STATUS_USER | TP_STATUS_CSUMNOTREADY, f, 14 + 40 + 20, true,
					      &flags, &seg, &partial, &sw));
		assert_int_equal(flags, nhs[i] == 58 ? 0 : USN_BUF_RX_L4_CSUM_GOOD);
		assert_int_equal(partial, nhs[i] != 58);
		assert_true(usn_pport_rx_meta(NULL, TP_STATUS_USER | TP_STATUS_CSUMNOTREADY, f, 14 + 40 + 7, true,
					      &flags, &seg, &partial, &sw));
		assert_int_equal(flags, 0);
	}
}

/* ---- virtio-net header, transmit ---- */

static void test_tx_vnet(void **state)
{
	struct usn_buf b;
	uint8_t v[10], want[10];

	(void)state;
	memset(&b, 0, sizeof(b));
	b.frame_len = 1514;
	usn_pport_tx_vnet(&b, v);
	memset(want, 0, sizeof(want));
	assert_memory_equal(v, want, 10);

	b.flags = USN_BUF_TX_TCP_CSUM | USN_BUF_TX_IP_CSUM;
	b.l2_len = 14;
	b.l3_len = 24;
	usn_pport_tx_vnet(&b, v);
	vnet_set(want, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 38, 16);
	assert_memory_equal(v, want, 10);

	b.flags = USN_BUF_TX_TCP_CSUM | USN_BUF_TX_IP_CSUM | USN_BUF_TX_TCP_SEG;
	b.l3_len = 20;
	b.l4_len = 32;
	b.seg_size = 1448;
	b.frame_len = 14 + 20 + 32 + 60000;
	usn_pport_tx_vnet(&b, v);
	vnet_set(want, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 34, 16);
	assert_memory_equal(v, want, 10);

	/* One segment's worth: nothing to cut, the sum still offloaded. */
	b.frame_len = 14 + 20 + 32 + 1448;
	usn_pport_tx_vnet(&b, v);
	vnet_set(want, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16);
	assert_memory_equal(v, want, 10);
}

/* ---- the fanout program ---- */

/* Runs a classic BPF program over an IPv4 packet (the network header at
 * pkt[0]) whose frame protocol is `proto`, as the kernel's fanout does for
 * the instructions pport_fanout.c uses; -1 on anything else (a load out of
 * the packet ends the program with 0, as in the kernel). */
static long bpf_run(const struct sock_filter *p, size_t n, const uint8_t *pkt, uint32_t len, uint16_t proto)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {0};

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &p[pc];
		uint32_t k = i->k, off;

		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k != (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL))
				return -1;
			A = proto;
			break;
		case BPF_LD | BPF_B | BPF_ABS:
		case BPF_LD | BPF_H | BPF_ABS:
		case BPF_LD | BPF_B | BPF_IND:
			off = k - (uint32_t)SKF_NET_OFF + (BPF_MODE(i->code) == BPF_IND ? X : 0);
			if (k < (uint32_t)SKF_NET_OFF || off >= 0x100000)
				return -1;
			if (BPF_SIZE(i->code) == BPF_H) {
				if (off + 2 > len)
					return 0;
				A = (uint32_t)(pkt[off] << 8 | pkt[off + 1]);
			} else {
				if (off + 1 > len)
					return 0;
				A = pkt[off];
			}
			break;
		case BPF_LD | BPF_IMM:
			A = k;
			break;
		case BPF_LD | BPF_MEM:
			A = M[k];
			break;
		case BPF_ST:
			M[k] = A;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			A &= k;
			break;
		case BPF_ALU | BPF_LSH | BPF_K:
			A <<= k;
			break;
		case BPF_ALU | BPF_XOR | BPF_K:
			A ^= k;
			break;
		case BPF_ALU | BPF_MOD | BPF_K:
			A %= k;
			break;
		case BPF_MISC | BPF_TAX:
			X = A;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += A == k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += A >= k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (A & k) ? i->jt : i->jf;
			break;
		case BPF_RET | BPF_K:
			return k;
		case BPF_RET | BPF_A:
			return A;
		default:
			return -1;
		}
	}
	return -1; /* fell off the end */
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static void test_fanout_prog_is_rss_queue(void **state)
{
	static const uint16_t queues[] = {1, 2, 3, 4, 7, 8, 64};
	struct sock_filter prog[USN_PPORT_PROG_MAX];
	uint8_t f[256];

	(void)state;
	for (size_t qi = 0; qi < sizeof(queues) / sizeof(queues[0]); qi++) {
		uint16_t nq = queues[qi];
		/* A new RSS key for each queue count, as each start draws one. */
		uint16_t key = usn_rss_key_from((uint64_t)rnd() << 32 | rnd());
		size_t n = usn_pport_rss_prog(prog, USN_PPORT_PROG_MAX, key, nq);
		unsigned seen[64] = {0};

		assert_true(n > 0 && n <= USN_PPORT_PROG_MAX);
		/* The jumps stay inside the program. */
		for (size_t pc = 0; pc < n; pc++)
			if (BPF_CLASS(prog[pc].code) == BPF_JMP)
				assert_true(pc + 1 + prog[pc].jt < n && pc + 1 + prog[pc].jf < n);
		assert_true(BPF_CLASS(prog[n - 1].code) == BPF_RET);
		for (int t = 0; t < 4000; t++) {
			uint32_t src = rnd(), dst = rnd();
			uint16_t sp = (uint16_t)rnd(), dp = (uint16_t)rnd();
			uint8_t ihl = (uint8_t)(5 + t % 3);
			/* TCP and UDP alike: both are steered by their 4-tuple. */
			uint32_t len = frame_make(f, false, ihl, t % 2 ? 17 : 6, src, dst, sp, dp, t % 17);
			long q = bpf_run(prog, n, f + 14, len - 14, 0x0800);

			assert_int_equal(q, usn_rss_queue(usn_rss_hash(key, src, dst, sp, dp), nq));
			seen[q]++;
		}
		/* Every worker gets flows. */
		for (uint16_t i = 0; i < nq; i++)
			assert_true(seen[i] > 0);
		n = usn_pport_rss_prog(prog, USN_PPORT_PROG_MAX, key, nq);
		/* Everything else to worker 0: ICMP, not IPv4 (ARP), fragments,
		 * a bad header length, a packet cut short. */
		uint32_t len = frame_make(f, false, 5, 1, 1, 2, 3, 4, 10);
		assert_int_equal(bpf_run(prog, n, f + 14, len - 14, 0x0800), 0);
		len = frame_make(f, false, 5, 6, 0x01020304, 0x05060708, 999, 80, 10);
		assert_int_equal(bpf_run(prog, n, f + 14, len - 14, 0x0806), 0);
		f[14 + 6] = 0x20; /* more fragments */
		assert_int_equal(bpf_run(prog, n, f + 14, len - 14, 0x0800), 0);
		f[14 + 6] = 0;
		f[14 + 7] = 0x10; /* an offset */
		assert_int_equal(bpf_run(prog, n, f + 14, len - 14, 0x0800), 0);
		f[14 + 7] = 0;
		f[14] = 0x44;
		assert_int_equal(bpf_run(prog, n, f + 14, len - 14, 0x0800), 0);
		f[14] = 0x45;
		assert_int_equal(bpf_run(prog, n, f + 14, 21, 0x0800), 0);
	}
	assert_int_equal(usn_pport_rss_prog(prog, 100, 0x6d5a, 4), 0); /* too small a buffer */
}

/* ---- the HAL on an in-memory ring ---- */

#define T_BUFS 64u
#define T_BLOCK 65536u
#define T_BLOCKS 4u

struct fixture {
	struct usn_pport p;
	int peer[USN_PPORT_MAX_QUEUES]; /* the other end of each queue's socket pair */
};

static struct fixture *fx_new(uint16_t nq, bool vnet)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->p.hal.ops = &usn_pport_hal_ops;
	fx->p.hal.n_queues = nq;
	fx->p.hal.mtu = 1500;
	fx->p.hal.buf_size = USN_PPORT_ROOM;
	fx->p.n_queues = nq;
	fx->p.vnet = vnet;
	for (uint16_t i = 0; i < nq; i++) {
		struct usn_pport_queue *q = aligned_alloc(64, (sizeof(*q) + 63) & ~(size_t)63);
		int sv[2];

		assert_non_null(q);
		memset(q, 0, sizeof(*q));
		q->id = i;
		q->n_bufs = T_BUFS;
		q->pool = aligned_alloc(4096, (size_t)T_BUFS * USN_PPORT_SLOT);
		q->free = calloc(T_BUFS, sizeof(*q->free));
		q->block_size = T_BLOCK;
		q->n_blocks = T_BLOCKS;
		q->ring = aligned_alloc(4096, (size_t)T_BLOCK * T_BLOCKS);
		assert_non_null(q->pool);
		assert_non_null(q->free);
		assert_non_null(q->ring);
		memset(q->ring, 0, (size_t)T_BLOCK * T_BLOCKS);
		usn_pport_pool_fill(q);
		assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
		q->fd = sv[0];
		fx->peer[i] = sv[1];
		fx->p.q[i] = q;
	}
	return fx;
}

static void fx_free(struct fixture *fx)
{
	for (uint16_t i = 0; i < fx->p.n_queues; i++) {
		struct usn_pport_queue *q = fx->p.q[i];
		free(q->pool);
		free(q->free);
		free(q->ring);
		close(q->fd);
		close(fx->peer[i]);
		free(q);
	}
	free(fx);
}

static uint32_t free_count(struct usn_pport_queue *q)
{
	uint32_t n = q->free_n;
	for (struct usn_buf *b = atomic_load(&q->returned); b; b = b->link)
		n++;
	return n;
}

/* Appends frames to block `blk` of queue q's ring (the kernel's layout,
 * with the virtio-net header before the Ethernet header) and marks the
 * block ready. */
struct ring_frame {
	const uint8_t *data;
	uint32_t len, wire_len; /* wire_len > len: truncated */
	uint8_t pkttype;
	uint32_t status;
	const uint8_t *vnet;
};

static void ring_put(struct usn_pport_queue *q, uint32_t blk, const struct ring_frame *fr, uint32_t n)
{
	uint8_t *base = q->ring + (size_t)blk * q->block_size;
	struct tpacket_block_desc *d = (struct tpacket_block_desc *)base;
	uint32_t off = 64, mac_off = 96;
	struct tpacket3_hdr *prev = NULL;

	memset(base, 0, q->block_size);
	d->version = TPACKET_V3;
	d->hdr.bh1.offset_to_first_pkt = off;
	d->hdr.bh1.num_pkts = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tpacket3_hdr *h = (struct tpacket3_hdr *)(base + off);
		struct sockaddr_ll *sll = (struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));

		h->tp_snaplen = fr[i].len;
		h->tp_len = fr[i].wire_len ? fr[i].wire_len : fr[i].len;
		h->tp_mac = (uint16_t)mac_off;
		h->tp_status = TP_STATUS_USER | fr[i].status;
		sll->sll_pkttype = fr[i].pkttype;
		if (fr[i].vnet)
			memcpy((uint8_t *)h + mac_off - 10, fr[i].vnet, 10);
		memcpy((uint8_t *)h + mac_off, fr[i].data, fr[i].len);
		if (prev)
			prev->tp_next_offset = (uint32_t)((uint8_t *)h - (uint8_t *)prev);
		prev = h;
		off += (mac_off + fr[i].len + 15) & ~15u;
		assert_true(off < q->block_size);
	}
	d->hdr.bh1.block_status = TP_STATUS_USER;
}

static uint32_t block_status(struct usn_pport_queue *q, uint32_t blk)
{
	return ((struct tpacket_block_desc *)(q->ring + (size_t)blk * q->block_size))->hdr.bh1.block_status;
}

static bool chain_equals(const struct usn_buf *b, const uint8_t *data, uint32_t len)
{
	uint32_t off = 0;

	if (b->frame_len != len)
		return false;
	for (; b; b = b->next) {
		if (off + b->len > len || memcmp(b->data, data + off, b->len) != 0)
			return false;
		if (b->next && b->len != USN_PPORT_ROOM)
			return false; /* every buffer but the last is full */
		off += b->len;
	}
	return off == len;
}

static void test_hal_rx(void **state)
{
	struct fixture *fx = fx_new(1, true);
	struct usn_hal *hal = &fx->p.hal;
	struct usn_pport_queue *q = fx->p.q[0];
	static uint8_t small[200], big[10000], trunc[300];
	uint8_t v_valid[10], v_gso[10], v_bad[10];
	struct usn_buf *rx[8];

	(void)state;
	uint32_t ls = frame_make(small, false, 5, 6, 1, 2, 3, 4, 100);
	uint32_t lb = frame_make(big, false, 5, 6, 1, 2, 3, 4, 9000);
	make_partial(big, false, 16);
	vnet_set(v_valid, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	vnet_set(v_gso, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
	vnet_set(v_bad, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 9000, 16);
	const struct ring_frame frames[] = {
	    {.data = small, .len = ls, .pkttype = PACKET_HOST, .vnet = v_valid},
	    {.data = small, .len = ls, .pkttype = PACKET_OUTGOING, .vnet = v_valid},
	    {.data = trunc, .len = 300, .wire_len = 70000, .pkttype = PACKET_HOST, .vnet = v_valid},
	    {.data = small,
	     .len = ls,
	     .pkttype = PACKET_HOST,
	     .status = TP_STATUS_VLAN_VALID,
	     .vnet = v_valid},
	    {.data = small, .len = ls, .pkttype = PACKET_HOST, .vnet = v_bad},
	    {.data = big, .len = lb, .pkttype = PACKET_HOST, .vnet = v_gso},
	};
	ring_put(q, 0, frames, 6);
	/* Two at a time: the block is read across calls and given back
	 * after its last frame. */
	assert_int_equal(hal->ops->rx_burst(hal, 0, rx, 1), 1);
	assert_true(chain_equals(rx[0], small, ls));
	assert_int_equal(rx[0]->flags, USN_BUF_RX_L4_CSUM_GOOD);
	assert_int_equal(block_status(q, 0), TP_STATUS_USER);
	assert_int_equal(hal->ops->rx_burst(hal, 0, rx + 1, 1), 1);
	assert_true(chain_equals(rx[1], big, lb));
	assert_int_equal(rx[1]->flags, USN_BUF_RX_COALESCED | USN_BUF_RX_L4_CSUM_GOOD);
	assert_int_equal(rx[1]->seg_size, 1448);
	assert_int_equal(block_status(q, 0), TP_STATUS_KERNEL);
	assert_int_equal(hal->ops->rx_burst(hal, 0, rx + 2, 8), 0);
	assert_int_equal(q->st.rx_outgoing, 1);
	assert_int_equal(q->st.rx_truncated, 1);
	assert_int_equal(q->st.rx_vlan, 1);
	assert_int_equal(q->st.rx_bad_vnet, 1);
	assert_int_equal(q->st.rx_frames, 2);
	assert_int_equal(q->st.rx_coalesced, 1);
	assert_int_equal(q->st.rx_csum_partial, 1);
	/* 10 KB took three buffers; all come back. */
	assert_int_equal(free_count(q), T_BUFS - 4);
	hal->ops->free_bulk(hal, 0, rx, 2);
	assert_int_equal(free_count(q), T_BUFS);

	/* Blocks are read in ring order, wrapping. */
	for (uint32_t i = 1; i < T_BLOCKS + 2; i++) {
		ring_put(q, i % T_BLOCKS, frames, 1);
		assert_int_equal(hal->ops->rx_burst(hal, 0, rx, 8), 1);
		assert_int_equal(block_status(q, i % T_BLOCKS), TP_STATUS_KERNEL);
		hal->ops->free_bulk(hal, 0, rx, 1);
	}
	fx_free(fx);
}

static void test_hal_rx_no_buffers(void **state)
{
	struct fixture *fx = fx_new(1, true);
	struct usn_hal *hal = &fx->p.hal;
	struct usn_pport_queue *q = fx->p.q[0];
	static struct usn_buf *all[T_BUFS];
	static uint8_t big[10000];
	uint8_t v[10];
	struct usn_buf *rx[4];

	(void)state;
	uint32_t lb = frame_make(big, false, 5, 6, 1, 2, 3, 4, 9000);
	vnet_set(v, 0, 0, 0, 0, 0, 0);
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, all, T_BUFS), T_BUFS);
	hal->ops->free_bulk(hal, 0, all, 2); /* two left: the frame needs three */
	const struct ring_frame fr = {.data = big, .len = lb, .pkttype = PACKET_HOST, .vnet = v};
	ring_put(q, 0, &fr, 1);
	assert_int_equal(hal->ops->rx_burst(hal, 0, rx, 4), 0);
	assert_int_equal(q->st.rx_no_buf, 1);
	assert_int_equal(block_status(q, 0), TP_STATUS_KERNEL); /* dropped, not stuck */
	assert_int_equal(free_count(q), 2);
	hal->ops->free_bulk(hal, 0, all + 2, T_BUFS - 2);
	assert_int_equal(free_count(q), T_BUFS);
	fx_free(fx);
}

/* Worker 0 drains every ring into its own pool (PACKET_FANOUT_HASH); the
 * buffers it steers to worker 1 come back to pool 0 when worker 1 frees
 * them. */
static void test_hal_drain_all_and_return(void **state)
{
	struct fixture *fx = fx_new(2, true);
	struct usn_hal *hal = &fx->p.hal;
	static uint8_t small[200];
	uint8_t v[10];
	struct usn_buf *rx[8];

	(void)state;
	fx->p.rx_drain_all = true;
	uint32_t ls = frame_make(small, false, 5, 6, 1, 2, 3, 4, 100);
	vnet_set(v, 0, 0, 0, 0, 0, 0);
	const struct ring_frame fr[2] = {{.data = small, .len = ls, .pkttype = PACKET_HOST, .vnet = v},
					 {.data = small, .len = ls, .pkttype = PACKET_HOST, .vnet = v}};
	ring_put(fx->p.q[0], 0, fr, 2);
	ring_put(fx->p.q[1], 0, fr, 2);
	assert_int_equal(hal->ops->rx_burst(hal, 1, rx, 8), 0);
	assert_int_equal(hal->ops->rx_burst(hal, 0, rx, 8), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rx[i]->backend_u16, 0);
	assert_int_equal(free_count(fx->p.q[0]), T_BUFS - 4);
	assert_int_equal(free_count(fx->p.q[1]), T_BUFS);
	/* Worker 1 frees two of them: they wait on pool 0's returned list. */
	hal->ops->free_bulk(hal, 1, rx, 2);
	assert_int_equal(fx->p.q[0]->free_n, T_BUFS - 4);
	assert_int_equal(free_count(fx->p.q[0]), T_BUFS - 2);
	assert_int_equal(fx->p.q[1]->free_n, T_BUFS);
	/* Pool 0 takes them back when it runs low. */
	static struct usn_buf *all[T_BUFS];
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, all, T_BUFS), T_BUFS - 2);
	assert_null(atomic_load(&fx->p.q[0]->returned));
	hal->ops->free_bulk(hal, 1, all, T_BUFS - 2);
	hal->ops->free_bulk(hal, 0, rx + 2, 2);
	assert_int_equal(free_count(fx->p.q[0]), T_BUFS);
	fx_free(fx);
}

static void test_hal_tx(void **state)
{
	struct fixture *fx = fx_new(1, true);
	struct usn_hal *hal = &fx->p.hal;
	struct usn_pport_queue *q = fx->p.q[0];
	static uint8_t big[20000], got[20000];
	struct usn_buf *f[3];

	(void)state;
	/* A frame of three buffers asking for TSO, and a plain one. */
	uint32_t lb = frame_make(big, false, 5, 6, 1, 2, 3, 4, 9000);
	struct usn_buf *c[3];
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, c, 3), 3);
	for (uint32_t i = 0, off = 0; i < 3; i++) {
		uint32_t k = i < 2 ? 3000 : lb - 6000;
		memcpy(c[i]->data, big + off, k);
		c[i]->len = (uint16_t)k;
		c[i]->next = i < 2 ? c[i + 1] : NULL;
		off += k;
	}
	c[0]->frame_len = lb;
	c[0]->flags = USN_BUF_TX_TCP_CSUM | USN_BUF_TX_TCP_SEG;
	c[0]->l2_len = 14;
	c[0]->l3_len = 20;
	c[0]->l4_len = 20;
	c[0]->seg_size = 1448;
	f[0] = c[0];
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, &f[1], 1), 1);
	memcpy(f[1]->data, big, 60);
	f[1]->len = 60;
	f[1]->frame_len = 60;
	assert_int_equal(hal->ops->tx_burst(hal, 0, f, 2), 2);
	assert_int_equal(free_count(q), T_BUFS); /* handed over: free again */
	assert_int_equal(q->st.tx_frames, 2);
	assert_int_equal(q->st.tx_tso, 1);

	uint8_t want[10];
	ssize_t n = recv(fx->peer[0], got, sizeof(got), 0);
	assert_int_equal(n, 10 + lb);
	vnet_set(want, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
	assert_memory_equal(got, want, 10);
	assert_memory_equal(got + 10, big, lb);
	n = recv(fx->peer[0], got, sizeof(got), 0);
	assert_int_equal(n, 10 + 60);
	memset(want, 0, 10);
	assert_memory_equal(got, want, 10);

	/* Plain frames (no virtio-net headers): the bytes alone. */
	fx->p.vnet = false;
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, f, 1), 1);
	memcpy(f[0]->data, big, 60);
	f[0]->len = 60;
	f[0]->frame_len = 60;
	assert_int_equal(hal->ops->tx_burst(hal, 0, f, 1), 1);
	assert_int_equal(recv(fx->peer[0], got, sizeof(got), 0), 60);
	fx_free(fx);
}

/* A full socket keeps the rest with the caller; a chain too long to hand
 * over is dropped, not retried forever. */
static void test_hal_tx_full_and_too_long(void **state)
{
	struct fixture *fx = fx_new(1, true);
	struct usn_hal *hal = &fx->p.hal;
	struct usn_pport_queue *q = fx->p.q[0];
	struct usn_buf *f[64];
	int small = 4096;

	(void)state;
	assert_int_equal(setsockopt(q->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, f, 64), 64);
	for (int i = 0; i < 64; i++) {
		memset(f[i]->data, i, 1000);
		f[i]->len = 1000;
		f[i]->frame_len = 1000;
	}
	uint16_t sent = hal->ops->tx_burst(hal, 0, f, 64);
	assert_true(sent > 0 && sent < 64);
	assert_true(q->st.tx_busy >= 1);
	assert_int_equal(free_count(q), sent); /* only what was taken */
	hal->ops->free_bulk(hal, 0, f + sent, (uint16_t)(64 - sent));
	assert_int_equal(free_count(q), T_BUFS);

	/* 64 one-byte buffers plus the header: more pieces than an iovec
	 * takes. */
	uint8_t drain[2048];
	while (recv(fx->peer[0], drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, f, 64), 64);
	for (int i = 0; i < 64; i++) {
		f[i]->len = 1;
		f[i]->next = i < 63 ? f[i + 1] : NULL;
	}
	f[0]->frame_len = 64;
	struct usn_buf *ok;
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, &ok, 1), 0); /* the pool is empty now */
	assert_int_equal(hal->ops->tx_burst(hal, 0, f, 1), 1);
	assert_int_equal(q->st.tx_too_long, 1);
	assert_int_equal(free_count(q), T_BUFS);
	fx_free(fx);
}

/* TPACKET_V2 (--pkt-ring=v2): a slot per frame, given back as soon as it is
 * read; a frame larger than a slot (TP_STATUS_COPY) read whole from the
 * socket's queue, and thrown off that queue even when it is dropped. */
#define V2_SLOT 2048u

static void v2_put(struct usn_pport_queue *q, uint32_t slot, const struct ring_frame *fr, bool copy, int peer)
{
	struct tpacket2_hdr *h = (struct tpacket2_hdr *)(q->ring + (size_t)slot * V2_SLOT);
	struct sockaddr_ll *sll = (struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
	uint32_t mac_off = 96, room = V2_SLOT - mac_off;

	memset(h, 0, V2_SLOT);
	h->tp_len = fr->len;
	h->tp_snaplen = fr->len < room ? fr->len : room;
	h->tp_mac = (uint16_t)mac_off;
	sll->sll_pkttype = fr->pkttype;
	memcpy((uint8_t *)h + mac_off - 10, fr->vnet, 10);
	memcpy((uint8_t *)h + mac_off, fr->data, h->tp_snaplen);
	if (copy) {
		/* The whole frame, its header first, on the socket's queue. */
		static uint8_t dgram[70000];
		memcpy(dgram, fr->vnet, 10);
		memcpy(dgram + 10, fr->data, fr->len);
		assert_int_equal(send(peer, dgram, 10 + fr->len, 0), 10 + fr->len);
	}
	h->tp_status = TP_STATUS_USER | (copy ? TP_STATUS_COPY : 0);
}

static void test_hal_rx_v2(void **state)
{
	struct fixture *fx = fx_new(1, true);
	struct usn_hal *hal = &fx->p.hal;
	struct usn_pport_queue *q = fx->p.q[0];
	static uint8_t small[200], big[30000], big2[5000];
	uint8_t v[10], vg[10];
	struct usn_buf *rx[8];

	(void)state;
	q->v2 = true;
	q->frame_size = V2_SLOT;
	q->n_frames = T_BLOCK * T_BLOCKS / V2_SLOT;
	q->frame = q->n_frames - 2; /* the reader wraps */
	uint32_t ls = frame_make(small, false, 5, 6, 1, 2, 3, 4, 100);
	uint32_t lb = frame_make(big, false, 5, 6, 1, 2, 3, 4, 29000);
	uint32_t lb2 = frame_make(big2, false, 5, 6, 1, 2, 3, 4, 4000);
	make_partial(big, false, 16);
	vnet_set(v, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	vnet_set(vg, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
	const struct ring_frame f_small = {.data = small, .len = ls, .pkttype = PACKET_HOST, .vnet = v};
	const struct ring_frame f_big = {.data = big, .len = lb, .pkttype = PACKET_HOST, .vnet = vg};
	const struct ring_frame f_out = {.data = big2, .len = lb2, .pkttype = PACKET_OUTGOING, .vnet = v};
	const struct ring_frame f_big2 = {.data = big2, .len = lb2, .pkttype = PACKET_HOST, .vnet = v};
	uint32_t s0 = q->frame;
	v2_put(q, s0, &f_small, false, fx->peer[0]);
	v2_put(q, s0 + 1, &f_big, true, fx->peer[0]);
	v2_put(q, 0, &f_out, true, fx->peer[0]);
	v2_put(q, 1, &f_big2, true, fx->peer[0]);
	assert_int_equal(hal->ops->rx_burst(hal, 0, rx, 8), 3);
	assert_true(chain_equals(rx[0], small, ls));
	assert_int_equal(rx[0]->flags, USN_BUF_RX_L4_CSUM_GOOD);
	assert_true(chain_equals(rx[1], big, lb));
	assert_int_equal(rx[1]->flags, USN_BUF_RX_COALESCED | USN_BUF_RX_L4_CSUM_GOOD);
	assert_int_equal(rx[1]->seg_size, 1448);
	/* The outgoing frame's copy was thrown away: the next is big2's. */
	assert_true(chain_equals(rx[2], big2, lb2));
	assert_int_equal(q->st.rx_fetched, 2);
	assert_int_equal(q->st.rx_outgoing, 1);
	assert_int_equal(q->frame, 2);
	for (uint32_t i = 0; i < 2; i++) {
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)(q->ring + (size_t)((s0 + i) % q->n_frames) * V2_SLOT);
		assert_int_equal(h->tp_status, TP_STATUS_KERNEL);
	}
	uint8_t scratch[16];
	assert_true(recv(q->fd, scratch, sizeof scratch, MSG_DONTWAIT) < 0); /* nothing left queued */
	hal->ops->free_bulk(hal, 0, rx, 3);

	/* No buffers for a large frame: dropped, its copy off the queue too. */
	static struct usn_buf *all[T_BUFS];
	assert_int_equal(hal->ops->alloc_bulk(hal, 0, all, T_BUFS), T_BUFS);
	v2_put(q, 2, &f_big2, true, fx->peer[0]);
	assert_int_equal(hal->ops->rx_burst(hal, 0, rx, 8), 0);
	assert_int_equal(q->st.rx_no_buf, 1);
	assert_true(recv(q->fd, scratch, sizeof scratch, MSG_DONTWAIT) < 0);
	hal->ops->free_bulk(hal, 0, all, T_BUFS);
	assert_int_equal(free_count(q), T_BUFS);
	fx_free(fx);
}

/* Receive, transmit, allocate, free, return across workers: nothing is
 * allocated once the port is set up. */
static void test_hal_no_malloc(void **state)
{
	struct fixture *fx = fx_new(2, true);
	struct usn_hal *hal = &fx->p.hal;
	static uint8_t small[200], big[10000], got[20000];
	uint8_t v[10];
	struct usn_buf *rx[8], *f[4];

	(void)state;
	uint32_t ls = frame_make(small, false, 5, 6, 1, 2, 3, 4, 100);
	uint32_t lb = frame_make(big, false, 5, 6, 1, 2, 3, 4, 9000);
	vnet_set(v, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	const struct ring_frame fr[2] = {{.data = small, .len = ls, .pkttype = PACKET_HOST, .vnet = v},
					 {.data = big, .len = lb, .pkttype = PACKET_HOST, .vnet = v}};
	counting = 1;
	n_allocs = 0;
	for (uint32_t round = 0; round < 3 * T_BLOCKS; round++) {
		fx->p.rx_drain_all = round & 1;
		ring_put(fx->p.q[0], round % T_BLOCKS, fr, 2);
		assert_int_equal(hal->ops->rx_burst(hal, 0, rx, 8), 2);
		/* Echo them back out on worker 1, which frees worker 0's
		 * buffers into its returned list. */
		assert_int_equal(hal->ops->tx_burst(hal, 1, rx, 2), 2);
		assert_int_equal(recv(fx->peer[1], got, sizeof got, 0), 10 + ls);
		assert_int_equal(recv(fx->peer[1], got, sizeof got, 0), 10 + lb);
		assert_int_equal(hal->ops->alloc_bulk(hal, 0, f, 4), 4);
		hal->ops->free_bulk(hal, 1, f, 4);
	}
	counting = 0;
	assert_int_equal(n_allocs, 0);
	assert_int_equal(free_count(fx->p.q[0]), T_BUFS);
	assert_int_equal(free_count(fx->p.q[1]), T_BUFS);
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rx_data_valid),
	    cmocka_unit_test(test_rx_needs_csum_tcp),
	    cmocka_unit_test(test_rx_needs_csum_other),
	    cmocka_unit_test(test_rx_gso),
	    cmocka_unit_test(test_rx_plain),
	    cmocka_unit_test(test_tx_vnet),
	    cmocka_unit_test(test_fanout_prog_is_rss_queue),
	    cmocka_unit_test(test_hal_rx),
	    cmocka_unit_test(test_hal_rx_no_buffers),
	    cmocka_unit_test(test_hal_drain_all_and_return),
	    cmocka_unit_test(test_hal_tx),
	    cmocka_unit_test(test_hal_tx_full_and_too_long),
	    cmocka_unit_test(test_hal_rx_v2),
	    cmocka_unit_test(test_hal_no_malloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
