/* pport_tx: what one transmitted frame and one 64 KB TSO segment cost on an
 * AF_PACKET socket with virtio-net headers and PACKET_QDISC_BYPASS, by the
 * two ways the Linux packet port (arch/linux) could send: batched sendmmsg
 * (the kernel copies from the caller's buffers) against PACKET_TX_RING (the
 * caller copies into the ring, the kernel attaches the ring's pages).
 * Prints CPU and wall time per frame for each; run by bench/pport_tx.sh on
 * a veth pair whose peer drops the frames at its IP layer.
 * Usage: pport_tx IFACE [FRAMES]   (root) */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define SEG_BYTES 65000u /* IPv4 total length of a TSO segment */
#define FRAME_BYTES 1500u
#define MSS 1448u
#define PIECE 3968u /* the packet port's buffer data room: a chain's pieces */
#define RING_FRAME (1u << 17)
#define RING_FRAMES 64u

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint16_t csum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* An Ethernet + IPv4 + TCP frame of ip_len IPv4 bytes, TCP sum field
 * holding the pseudo-header sum (what NEEDS_CSUM wants). */
static void build(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint32_t ip_len)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint32_t s;

	memset(f, 0, 14 + 40);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){198, 18, 0, 2}, 4);
	memcpy(ip + 16, (uint8_t[]){198, 18, 0, 9}, 4); /* no one's: the peer drops it */
	s = csum16(ip, 20);
	ip[10] = (uint8_t)(s >> 8);
	ip[11] = (uint8_t)s;
	tcp[1] = 80;
	tcp[3] = 80;
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;
	tcp[14] = 0xff;
	s = ((198u << 8 | 18u) * 2) + (0u << 8 | 2u) + (0u << 8 | 9u) + 6u + (ip_len - 20);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	tcp[16] = (uint8_t)(s >> 8);
	tcp[17] = (uint8_t)s;
}

static void vnet_fill(struct virtio_net_hdr *v, uint32_t ip_len)
{
	memset(v, 0, sizeof(*v));
	v->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	v->csum_start = 14 + 20;
	v->csum_offset = 16;
	if (ip_len > FRAME_BYTES) {
		v->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		v->gso_size = MSS;
		v->hdr_len = 14 + 40;
	}
}

static int open_sock(int ifindex, int ring)
{
	int fd = socket(AF_PACKET, SOCK_RAW, 0), one = 1, v2 = TPACKET_V2;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = ifindex};

	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		return -1;
	if (ring) {
		struct tpacket_req req = {.tp_block_size = RING_FRAME,
					  .tp_block_nr = RING_FRAMES,
					  .tp_frame_size = RING_FRAME,
					  .tp_frame_nr = RING_FRAMES};
		if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) ||
		    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)))
			return -1;
	}
	/* Protocol 0: bound for sending only, receives nothing. */
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		return -1;
	return fd;
}

struct result {
	double cpu_us, wall_us;
};

/* sendmmsg: BATCH messages per call, each the vnet header plus the frame in
 * PIECE-byte pieces (as a buffer chain would be handed over). */
static int run_mmsg(int fd, uint8_t *frame, uint32_t ip_len, long n, struct result *r)
{
	struct virtio_net_hdr vh;
	struct iovec iov[BATCH][1 + 65536 / PIECE + 1];
	struct mmsghdr m[BATCH];
	uint32_t len = 14 + ip_len;
	int niov = 1;

	vnet_fill(&vh, ip_len);
	iov[0][0] = (struct iovec){&vh, sizeof(vh)};
	for (uint32_t off = 0; off < len; off += PIECE)
		iov[0][niov++] = (struct iovec){frame + off, len - off < PIECE ? len - off : PIECE};
	for (int i = 0; i < BATCH; i++) {
		memcpy(iov[i], iov[0], sizeof(iov[0]));
		memset(&m[i], 0, sizeof(m[i]));
		m[i].msg_hdr.msg_iov = iov[i];
		m[i].msg_hdr.msg_iovlen = (size_t)niov;
	}
	double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
	for (long sent = 0; sent < n;) {
		int k = sendmmsg(fd, m, (unsigned)(n - sent < BATCH ? n - sent : BATCH), 0);
		if (k < 0) {
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			perror("sendmmsg");
			return -1;
		}
		sent += k;
	}
	r->cpu_us = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6 / (double)n;
	r->wall_us = (now_s(CLOCK_MONOTONIC) - w0) * 1e6 / (double)n;
	return 0;
}

/* PACKET_TX_RING (TPACKET_V2): copy the frame into a free slot, BATCH
 * slots per send(). */
static int run_ring(int fd, uint8_t *frame, uint32_t ip_len, long n, struct result *r)
{
	size_t size = (size_t)RING_FRAME * RING_FRAMES;
	uint8_t *ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	const size_t data_off = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
	uint32_t len = 14 + ip_len;
	unsigned head = 0;

	if (ring == MAP_FAILED) {
		perror("mmap");
		return -1;
	}
	double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
	for (long sent = 0; sent < n;) {
		int queued = 0;
		while (queued < BATCH && sent + queued < n) {
			struct tpacket2_hdr *h = (struct tpacket2_hdr *)(ring + (size_t)head * RING_FRAME);
			if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE)
				break;
			vnet_fill((struct virtio_net_hdr *)((uint8_t *)h + data_off), ip_len);
			memcpy((uint8_t *)h + data_off + sizeof(struct virtio_net_hdr), frame, len);
			h->tp_len = len + (uint32_t)sizeof(struct virtio_net_hdr);
			__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
			head = (head + 1) % RING_FRAMES;
			queued++;
		}
		if (send(fd, NULL, 0, 0) < 0 && errno != ENOBUFS && errno != EAGAIN) {
			perror("send");
			return -1;
		}
		sent += queued;
	}
	/* Wait for the last slots to come back (bounded). */
	for (int i = 0; i < 1000; i++) {
		struct tpacket2_hdr *h =
		    (struct tpacket2_hdr *)(ring +
					    (size_t)((head + RING_FRAMES - 1) % RING_FRAMES) * RING_FRAME);
		if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) == TP_STATUS_AVAILABLE)
			break;
		usleep(1000);
	}
	r->cpu_us = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6 / (double)n;
	r->wall_us = (now_s(CLOCK_MONOTONIC) - w0) * 1e6 / (double)n;
	munmap(ring, size);
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t frame[14 + 65536];
	uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x09}, src[6] = {0x02, 0, 0, 0, 0, 0x02};
	long n = argc > 2 ? atol(argv[2]) : 200000;
	int ifindex = argc > 1 ? (int)if_nametoindex(argv[1]) : 0;

	if (!ifindex || n <= 0) {
		fprintf(stderr, "usage: pport_tx IFACE [FRAMES]\n");
		return 2;
	}
	/* The peer's MAC (so the frames reach its IP layer): from sysfs of the
	 * peer, given as a third argument aa:bb:... if known. */
	if (argc > 3 && sscanf(argv[3], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dst[0], &dst[1], &dst[2], &dst[3],
			       &dst[4], &dst[5]) != 6) {
		fprintf(stderr, "pport_tx: bad MAC %s\n", argv[3]);
		return 2;
	}
	printf("%-10s %-8s %10s %10s %10s\n", "method", "size", "frames", "cpu_us", "wall_us");
	for (int seg = 0; seg < 2; seg++) {
		uint32_t ip_len = seg ? SEG_BYTES : FRAME_BYTES;
		long count = seg ? n / 10 : n;
		build(frame, dst, src, ip_len);
		for (int ring = 0; ring < 2; ring++) {
			struct result r;
			int fd = open_sock(ifindex, ring);
			if (fd < 0) {
				perror("socket set-up");
				return 1;
			}
			if ((ring ? run_ring : run_mmsg)(fd, frame, ip_len, count, &r) != 0)
				return 1;
			printf("%-10s %-8s %10ld %10.2f %10.2f\n", ring ? "tx_ring" : "sendmmsg",
			       seg ? "64KB-TSO" : "1514B", count, r.cpu_us, r.wall_us);
			close(fd);
		}
	}
	return 0;
}
