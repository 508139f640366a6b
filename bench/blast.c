/* bench/blast.c: a frame blaster that measures the bench link's own ceiling.
 * Sends one fixed Ethernet frame as fast as it can through an AF_PACKET socket
 * (sendmmsg, qdisc bypassed) for a bounded time; bench.py counts what arrives. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* IEEE 802 local experimental ethertype: no protocol handler takes it, so the
 * receiving kernel counts the frame on the interface and drops it at once:
 * the figure is the link's, not a protocol's. */
#define BLAST_ETHERTYPE 0x88b5
#define BLAST_BATCH 256
#define BLAST_MAX_FRAME 9018
#define BLAST_MAX_SECONDS 120.0

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: blast IFACE DST_MAC FRAME_BYTES SECONDS\n"
			"  FRAME_BYTES 60..%d (without FCS: 60 is a 64-byte frame on the wire)\n"
			"  SECONDS 0.1..%.0f; prints one JSON line\n",
		BLAST_MAX_FRAME, BLAST_MAX_SECONDS);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		usage();
		return 2;
	}
	const char *ifname = argv[1];
	uint8_t dst[6];
	long frame_len = strtol(argv[3], NULL, 10);
	double seconds = strtod(argv[4], NULL);
	if (parse_mac(argv[2], dst) != 0 || frame_len < 60 || frame_len > BLAST_MAX_FRAME ||
	    !(seconds >= 0.1 && seconds <= BLAST_MAX_SECONDS)) {
		usage();
		return 2;
	}
	unsigned ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		perror("blast: if_nametoindex");
		return 1;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, receive nothing */
	if (fd < 0) {
		perror("blast: socket");
		return 1;
	}
	int one = 1;
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0)
		perror("blast: PACKET_QDISC_BYPASS (continuing through the qdisc)");
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(BLAST_ETHERTYPE);
	sll.sll_ifindex = (int)ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dst, 6);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		perror("blast: bind");
		return 1;
	}

	static uint8_t frame[BLAST_MAX_FRAME];
	memcpy(frame, dst, 6);
	/* Source: a locally administered address; the receiver ignores it. */
	const uint8_t src[6] = { 0x02, 0x00, 0xc6, 0x12, 0x00, 0x02 };
	memcpy(frame + 6, src, 6);
	frame[12] = BLAST_ETHERTYPE >> 8;
	frame[13] = BLAST_ETHERTYPE & 0xff;
	for (long i = 14; i < frame_len; i++)
		frame[i] = (uint8_t)i;

	static struct iovec iov[BLAST_BATCH];
	static struct mmsghdr msgs[BLAST_BATCH];
	for (int i = 0; i < BLAST_BATCH; i++) {
		iov[i].iov_base = frame;
		iov[i].iov_len = (size_t)frame_len;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	unsigned long long sent = 0, full = 0, calls = 0;
	int last_errno = 0;
	double start = now_s(), end = start + seconds, t = start;
	while (t < end) {
		int n = sendmmsg(fd, msgs, BLAST_BATCH, 0);
		calls++;
		if (n > 0) {
			sent += (unsigned long long)n;
		} else if (errno == ENOBUFS || errno == EAGAIN) {
			full++; /* the peer's backlog is full: that is the ceiling */
		} else if (errno != EINTR) {
			last_errno = errno;
			perror("blast: sendmmsg");
			break;
		}
		t = now_s();
	}
	double elapsed = now_s() - start;
	close(fd);
	printf("{\"iface\":\"%s\",\"frame_bytes\":%ld,\"seconds\":%.6f,\"sent\":%llu,"
	       "\"calls\":%llu,\"full\":%llu,\"errno\":%d}\n",
		ifname, frame_len, elapsed, sent, calls, full, last_errno);
	return last_errno ? 1 : 0;
}
