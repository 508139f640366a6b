/* Rig test of the Linux packet port's HAL (arch/linux) against the Linux
 * kernel, run by tests/rig/run_pport_hal.sh in the port's namespace: the
 * offloads advertised, buffer accounting, then a TCP connection made by hand
 * to a kernel listener behind a router namespace: the handshake, one 60,000
 * byte segment sent with USN_BUF_TX_TCP_SEG (TSO) that the kernel must
 * acknowledge whole, then the kernel's reply, whose large frames must arrive
 * with USN_BUF_RX_COALESCED and a checksum flag. The script checks the
 * counters on the other side (one packet crossed the veth for the segment,
 * the router cut it into MSS frames with sums the receiver verified).
 *
 * Usage: pport_hal_test IFACE NEXT_HOP_MAC SRC_IP DST_IP DST_PORT [plain|v2]
 *   plain: the port with --pkt-no-vnet (no offloads; the segment is then
 *   sent as MSS frames and large received frames have no segment size);
 *   v2: with --pkt-ring=v2 (large frames read off the socket's queue).
 * Prints "PASS name" / "FAIL name: why" and "tx_frames N" (frames sent). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pport.h"
#include "usnet/csum.h"

#define SEG_BYTES 60000u
#define REPLY_BYTES 100000u
#define WINDOW 65535u

static int fails;
static unsigned long tx_frames;

#define CHECK(name, cond, ...)                                                                               \
	do {                                                                                                 \
		if (cond) {                                                                                  \
			printf("PASS %s\n", name);                                                           \
		} else {                                                                                     \
			printf("FAIL %s: ", name);                                                           \
			printf(__VA_ARGS__);                                                                 \
			printf("\n");                                                                        \
			fails++;                                                                             \
		}                                                                                            \
	} while (0)

struct conn {
	struct usn_hal *hal;
	uint8_t src_mac[6], dst_mac[6];
	uint32_t src_ip, dst_ip; /* host order */
	uint16_t sport, dport;
	uint32_t snd_nxt, rcv_nxt;
	uint16_t peer_mss;
	uint16_t ip_id;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, (uint16_t)(v >> 16));
	be16(p + 2, (uint16_t)v);
}

static uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)ld16(p) << 16 | ld16(p + 2);
}

/* Payload byte i of the stream we send (and the listener checks). */
static uint8_t pattern(uint32_t i)
{
	return (uint8_t)(i * 7u % 251u);
}

/* Builds a TCP segment of `len` payload bytes (pattern from stream offset
 * `off`) into a chain of buffers. With `seg`, the frame asks for TSO and
 * checksum offload; otherwise the sums are complete. */
static struct usn_buf *build(struct conn *c, uint8_t flags, uint32_t off, uint32_t len, bool seg,
			     bool mss_opt)
{
	struct usn_buf *bufs[32];
	uint32_t hl = mss_opt ? 24 : 20, total = 14 + 20 + hl + len, need;
	uint8_t hdr[14 + 20 + 24];
	uint8_t *ip = hdr + 14, *tcp = ip + 20;

	need = (total + c->hal->buf_size - 1) / c->hal->buf_size;
	if (need > 32 || c->hal->ops->alloc_bulk(c->hal, 0, bufs, (uint16_t)need) != need)
		return NULL;
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, c->dst_mac, 6);
	memcpy(hdr + 6, c->src_mac, 6);
	be16(hdr + 12, 0x0800);
	ip[0] = 0x45;
	be16(ip + 2, (uint16_t)(20 + hl + len));
	be16(ip + 4, c->ip_id++);
	ip[8] = 64;
	ip[9] = 6;
	be32(ip + 12, c->src_ip);
	be32(ip + 16, c->dst_ip);
	be16(ip + 10, usn_csum_finish(usn_csum_partial(ip, 20, 0)));
	be16(tcp, c->sport);
	be16(tcp + 2, c->dport);
	be32(tcp + 4, c->snd_nxt);
	be32(tcp + 8, c->rcv_nxt);
	tcp[12] = (uint8_t)((hl / 4) << 4);
	tcp[13] = flags;
	be16(tcp + 14, WINDOW);
	if (mss_opt) {
		tcp[20] = 2;
		tcp[21] = 4;
		be16(tcp + 22, 1460);
	}
	/* Header, then payload, across the chain. */
	uint32_t pos = 0;
	uint32_t sum = usn_csum_pseudo(c->src_ip, c->dst_ip, 6, (uint16_t)(hl + len));
	for (uint32_t i = 0; i < need; i++) {
		struct usn_buf *b = bufs[i];
		uint32_t k = total - pos < b->room ? total - pos : b->room;

		for (uint32_t j = 0; j < k; j++, pos++)
			b->data[j] = pos < 14 + 20 + hl ? hdr[pos] : pattern(off + pos - (14 + 20 + hl));
		b->len = (uint16_t)k;
		b->next = i + 1 < need ? bufs[i + 1] : NULL;
	}
	bufs[0]->frame_len = total;
	if (seg) {
		bufs[0]->flags = USN_BUF_TX_TCP_CSUM | USN_BUF_TX_TCP_SEG;
		bufs[0]->l2_len = 14;
		bufs[0]->l3_len = 20;
		bufs[0]->l4_len = (uint8_t)hl;
		bufs[0]->seg_size = c->peer_mss;
		/* The pseudo-header sum of the whole frame, not complemented. */
		be16(bufs[0]->data + 14 + 20 + 16, usn_csum_fold(sum));
	} else {
		/* Full sum over the header and the payload (by bytes: the chain
		 * cuts anywhere). */
		uint32_t s = sum, i = 0;
		uint8_t pair[2];
		for (struct usn_buf *b = bufs[0]; b; b = b->next)
			for (uint32_t j = 0; j < b->len; j++, i++) {
				if (i < 14 + 20)
					continue;
				pair[(i - 34) & 1] = b->data[j];
				if ((i - 34) & 1)
					s = usn_csum_partial(pair, 2, s);
			}
		if ((i - 34) & 1) {
			pair[1] = 0;
			s = usn_csum_partial(pair, 2, s);
		}
		uint16_t v = usn_csum_finish(s);
		bufs[0]->data[14 + 20 + 16] = (uint8_t)(v >> 8);
		bufs[0]->data[14 + 20 + 17] = (uint8_t)v;
	}
	return bufs[0];
}

static bool send_frame(struct conn *c, struct usn_buf *f)
{
	for (int i = 0; i < 1000 && f; i++) {
		if (c->hal->ops->tx_burst(c->hal, 0, &f, 1) == 1) {
			tx_frames++;
			return true;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (f)
		c->hal->ops->free_bulk(c->hal, 0, &f, 1);
	return false;
}

/* The next received frame of our connection (others are freed), within
 * `timeout` seconds; NULL if none. */
static struct usn_buf *recv_frame(struct conn *c, double timeout)
{
	double end = now_s() + timeout;

	while (now_s() < end) {
		struct usn_buf *b;

		if (c->hal->ops->rx_burst(c->hal, 0, &b, 1) != 1)
			continue;
		uint8_t h[14 + 20 + 4];
		uint32_t k = 0;
		for (struct usn_buf *p = b; p && k < sizeof(h); p = p->next)
			for (uint32_t j = 0; j < p->len && k < sizeof(h); j++)
				h[k++] = p->data[j];
		if (k == sizeof(h) && ld16(h + 12) == 0x0800 && h[14 + 9] == 6 &&
		    ld32(h + 14 + 12) == c->dst_ip && (h[14] & 15) == 5 && ld16(h + 34) == c->dport &&
		    ld16(h + 36) == c->sport)
			return b;
		c->hal->ops->free_bulk(c->hal, 0, &b, 1);
	}
	return NULL;
}

/* Copies frame bytes [off, off+n) out of a chain. */
static void frame_read(const struct usn_buf *b, uint32_t off, uint8_t *out, uint32_t n)
{
	uint32_t pos = 0;

	for (; b && n; b = b->next) {
		for (uint32_t j = 0; j < b->len && n; j++, pos++)
			if (pos >= off) {
				*out++ = b->data[j];
				n--;
			}
	}
}

static void test_offloads(struct usn_hal *hal, bool plain)
{
	uint32_t want = USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_TSO | USN_HAL_OFF_RX_CSUM |
			USN_HAL_OFF_RX_LRO | USN_HAL_OFF_TX_MULTISEG;

	if (plain) {
		CHECK("plain frames: no offload but multi-segment TX",
		      hal->offloads == USN_HAL_OFF_TX_MULTISEG, "offloads 0x%x", hal->offloads);
		return;
	}
	CHECK("offloads: TCP sum, TSO, RX sums, LRO, chains; not the IPv4 sum (the stack writes it)",
	      hal->offloads == want, "offloads 0x%x, wanted 0x%x", hal->offloads, want);
	CHECK("tso_max: a 64 KB IPv4 packet", hal->tso_max > 60000 && hal->tso_max <= 65535, "tso_max %u",
	      hal->tso_max);
}

static void test_buffers(struct usn_hal *hal)
{
	static struct usn_buf *all[1 << 16];
	uint32_t n = hal->n_bufs < (1u << 16) ? hal->n_bufs : (1u << 16), got = 0;
	uint16_t k;

	while (got < n &&
	       (k = hal->ops->alloc_bulk(hal, 0, all + got, (uint16_t)(n - got > 512 ? 512 : n - got))) > 0)
		got += k;
	k = 0;
	struct usn_buf *extra;
	if (got == hal->n_bufs)
		k = hal->ops->alloc_bulk(hal, 0, &extra, 1);
	CHECK("buffers: n_bufs can be taken, not one more", got == hal->n_bufs && k == 0,
	      "took %u of %u, then %u more", got, hal->n_bufs, k);
	bool fresh = got > 0;
	for (uint32_t i = 0; i < got && fresh; i++)
		fresh = all[i]->len == 0 && all[i]->next == NULL && all[i]->room == hal->buf_size &&
			all[i]->headroom >= 64 && all[i]->flags == 0;
	CHECK("buffers: empty, one each, buf_size bytes of room after the headroom", fresh,
	      "a buffer was not");
	for (uint32_t i = 0; i < got; i += 512)
		hal->ops->free_bulk(hal, 0, all + i, (uint16_t)(got - i > 512 ? 512 : got - i));
	got = hal->ops->alloc_bulk(hal, 0, all, 512);
	CHECK("buffers: freed ones come back", got == 512, "got %u", got);
	hal->ops->free_bulk(hal, 0, all, (uint16_t)got);
}

static int parse_mac(const char *s, uint8_t m[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6 ? 0
													 : -1;
}

int main(int argc, char **argv)
{
	struct in_addr a;
	struct conn c;
	struct usn_backend *b;
	char msg[512];
	bool plain = argc > 6 && strcmp(argv[6], "plain") == 0;
	bool v2 = argc > 6 && strcmp(argv[6], "v2") == 0;
	char *oargv[] = {argv[0], "--iface", argv[1], plain ? "--pkt-no-vnet" : v2 ? "--pkt-ring=v2" : NULL, NULL};
	int oargc = plain || v2 ? 4 : 3;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&c, 0, sizeof(c));
	if (argc < 6 || parse_mac(argv[2], c.dst_mac) != 0) {
		fprintf(stderr, "usage: pport_hal_test IFACE NEXT_HOP_MAC SRC_IP DST_IP DST_PORT [plain|v2]\n");
		return 2;
	}
	inet_pton(AF_INET, argv[3], &a);
	c.src_ip = ntohl(a.s_addr);
	inet_pton(AF_INET, argv[4], &a);
	c.dst_ip = ntohl(a.s_addr);
	c.dport = (uint16_t)atoi(argv[5]);
	c.sport = 40000 + (uint16_t)(getpid() % 20000);
	c.snd_nxt = 0x12345678u;

	int rc = usn_pport_backend_ops.open(oargc, oargv, 1, &b, msg, sizeof(msg));
	if (rc < 0) {
		printf("FAIL open: %s\n", msg);
		return 1;
	}
	CHECK("open: consumed --iface IF and its options", rc == oargc, "returned %d", rc);
	c.hal = usn_pport_backend_ops.hal(b);
	memcpy(c.src_mac, c.hal->mac, 6);
	test_offloads(c.hal, plain);
	test_buffers(c.hal);

	/* ---- handshake ---- */
	struct usn_buf *f = NULL;
	for (int attempt = 0; attempt < 5 && !f; attempt++) {
		send_frame(&c, build(&c, 0x02, 0, 0, false, true));
		f = recv_frame(&c, 1.0);
	}
	uint8_t h[14 + 20 + 24];
	if (f)
		frame_read(f, 0, h, sizeof(h));
	CHECK("handshake: SYN-ACK from the kernel",
	      f && (h[34 + 13] & 0x12) == 0x12 && ld32(h + 34 + 8) == c.snd_nxt + 1, "%s",
	      f ? "not a SYN-ACK of our SYN" : "nothing within 5 s");
	if (!f)
		goto out;
	c.rcv_nxt = ld32(h + 34 + 4) + 1;
	c.snd_nxt++;
	c.peer_mss = 536;
	if ((h[34 + 12] >> 4) * 4 >= 24 && h[34 + 20] == 2)
		c.peer_mss = ld16(h + 34 + 22);
	c.hal->ops->free_bulk(c.hal, 0, &f, 1);
	send_frame(&c, build(&c, 0x10, 0, 0, false, false));

	/* ---- one 60,000-byte segment ---- */
	double t0 = now_s();
	if (plain) {
		/* No TSO: the same bytes as MSS frames. */
		for (uint32_t off = 0; off < SEG_BYTES; off += c.peer_mss) {
			uint32_t n = SEG_BYTES - off < c.peer_mss ? SEG_BYTES - off : c.peer_mss;
			send_frame(&c, build(&c, 0x18, off, n, false, false));
			c.snd_nxt += n;
		}
	} else {
		f = build(&c, 0x18, 0, SEG_BYTES, true, false);
		unsigned long before = tx_frames;
		bool ok = f && send_frame(&c, f);
		CHECK("tso: the 60,000-byte segment handed to the kernel in one send",
		      ok && tx_frames == before + 1, "%s", f ? "tx_burst refused it" : "no buffers");
		c.snd_nxt += SEG_BYTES;
	}
	/* The kernel acknowledges every byte (several ACKs may come). */
	uint32_t acked = 0;
	while (now_s() - t0 < 5 && acked != c.snd_nxt) {
		f = recv_frame(&c, 0.5);
		if (!f)
			continue;
		frame_read(f, 0, h, 14 + 20 + 20);
		if (h[34 + 13] & 0x10)
			acked = ld32(h + 34 + 8);
		c.hal->ops->free_bulk(c.hal, 0, &f, 1);
	}
	CHECK("tso: the kernel acknowledged all 60,000 bytes", acked == c.snd_nxt, "acknowledged up to %+d",
	      (int)(acked - c.snd_nxt));

	/* ---- the reply: large frames from the kernel's TSO ---- */
	uint32_t got = 0, big = 0, coalesced = 0, seg_ok = 0, csum_flag = 0, bad_bytes = 0, frames = 0;
	t0 = now_s();
	while (now_s() - t0 < 10 && got < REPLY_BYTES) {
		f = recv_frame(&c, 0.5);
		if (!f) {
			/* Nothing new: ACK again what we have (a lost ACK). */
			send_frame(&c, build(&c, 0x10, 0, 0, false, false));
			continue;
		}
		frame_read(f, 0, h, 14 + 20 + 20);
		uint32_t seq = ld32(h + 34 + 4), ip_len = ld16(h + 16),
			 thl = (uint32_t)(h[34 + 12] >> 4) * 4u;
		uint32_t len = ip_len - 20 - thl;
		if (len && seq == c.rcv_nxt) {
			static uint8_t data[65536];
			frames++;
			frame_read(f, 14 + 20 + thl, data, len);
			for (uint32_t i = 0; i < len; i++)
				bad_bytes += data[i] != (uint8_t)((got + i) * 13u % 251u);
			if (f->frame_len > 14u + c.hal->mtu) {
				big++;
				coalesced += (f->flags & USN_BUF_RX_COALESCED) != 0;
				seg_ok +=
				    plain ? f->seg_size == 0 : (f->seg_size > 0 && f->seg_size <= c.peer_mss);
			}
			csum_flag += (f->flags & USN_BUF_RX_L4_CSUM_GOOD) != 0;
			got += len;
			c.rcv_nxt += len;
			send_frame(&c, build(&c, 0x10, 0, 0, false, false));
		}
		c.hal->ops->free_bulk(c.hal, 0, &f, 1);
	}
	CHECK("rx: the kernel's 100,000-byte reply arrived whole and in order",
	      got == REPLY_BYTES && bad_bytes == 0, "%u bytes, %u wrong", got, bad_bytes);
	CHECK("rx: some frames larger than the MTU (the sender's TSO segments, whole)", big > 0,
	      "%u frames, none above %u bytes", frames, 14u + c.hal->mtu);
	CHECK("rx: each large frame flagged RX_COALESCED", big > 0 && coalesced == big, "%u of %u", coalesced,
	      big);
	CHECK(plain ? "rx: no segment size without virtio-net headers"
		    : "rx: each with the sender's segment size",
	      big > 0 && seg_ok == big, "%u of %u", seg_ok, big);
	CHECK(plain ? "rx: partial sums taken as verified" : "rx: every frame's TCP sum flagged verified",
	      frames > 0 && csum_flag == frames, "%u of %u frames", csum_flag, frames);
	printf("rx: %u frames, %u above the MTU\n", frames, big);

	/* ---- close: a RST, nothing left behind ---- */
	send_frame(&c, build(&c, 0x04, 0, 0, false, false));
out:
	printf("tx_frames %lu\n", tx_frames);
	usn_pport_backend_ops.print_stats(b, stdout);
	usn_pport_backend_ops.close(b);
	return fails ? 1 : 0;
}
