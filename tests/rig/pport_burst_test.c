/* Rig test of the Linux packet port's receive ring (arch/linux), run by
 * tests/rig/run_pport_burst.sh in the port's namespace: the port is opened
 * with the given options and then not read, as a worker that the scheduler
 * has set aside on a busy machine, while the script sends it a burst from
 * the other end of the veth; the script creates GO_FILE when the burst is
 * sent. Then the test drains the ring and counts the burst's frames
 * (ethertype 0x88b5): every one must arrive, and the kernel must report no
 * frame dropped for want of room in the ring.
 *
 * Usage: pport_burst_test IFACE GO_FILE EXPECT [PORT OPTIONS...]
 * Prints "ready" when the port is open (the script then sends), then
 * "received N of EXPECT ..." with the kernel's counters, and PASS/FAIL.
 * Waits at most 60 s for GO_FILE. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pport.h"

#define BURST_ETHERTYPE 0x88b5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char *oargv[64];
	int oargc = 0;
	struct usn_backend *b;
	char msg[512];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4 || argc > 60) {
		fprintf(stderr, "usage: pport_burst_test IFACE GO_FILE EXPECT [PORT OPTIONS...]\n");
		return 2;
	}
	const char *go = argv[2];
	long expect = atol(argv[3]);
	oargv[oargc++] = argv[0];
	oargv[oargc++] = "--iface";
	oargv[oargc++] = argv[1];
	for (int i = 4; i < argc; i++)
		oargv[oargc++] = argv[i];
	oargv[oargc] = NULL;
	if (usn_pport_backend_ops.open(oargc, oargv, 1, &b, msg, sizeof(msg)) < 0) {
		printf("FAIL open: %s\n", msg);
		return 1;
	}
	struct usn_hal *hal = usn_pport_backend_ops.hal(b);
	struct usn_pport_queue *q = usn_pport_of_hal(hal)->q[0];
	(void)usn_pport_kernel_stats(q); /* what came before the burst */
	q->k_packets = q->k_drops = q->k_freezes = 0;
	printf("ready\n");

	/* Not reading: the ring alone holds what arrives. */
	double stall_end = now_s() + 60.0;
	while (access(go, F_OK) != 0 && now_s() < stall_end) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10000000L};
		nanosleep(&ts, NULL);
	}

	long got = 0, others = 0;
	double end = now_s() + 3.0;
	while (got < expect && now_s() < end) {
		struct usn_buf *bufs[32];
		uint16_t n = hal->ops->rx_burst(hal, 0, bufs, 32);

		for (uint16_t i = 0; i < n; i++) {
			const uint8_t *d = bufs[i]->data;

			if (bufs[i]->len >= 14 && ((d[12] << 8) | d[13]) == BURST_ETHERTYPE)
				got++;
			else
				others++;
		}
		if (n)
			hal->ops->free_bulk(hal, 0, bufs, n);
	}
	bool kst = usn_pport_kernel_stats(q);
	printf("received %ld of %ld (and %ld other frames); kernel: %llu frames, %llu drops, %llu ring freezes; "
	       "%llu blocks\n",
	       got, expect, others, (unsigned long long)q->k_packets, (unsigned long long)q->k_drops,
	       (unsigned long long)q->k_freezes, (unsigned long long)q->st.rx_blocks);
	int fails = 0;
	if (got == expect) {
		printf("PASS every frame of the burst received\n");
	} else {
		printf("FAIL burst: %ld of %ld frames received\n", got, expect);
		fails++;
	}
	if (kst && q->k_drops == 0) {
		printf("PASS the kernel dropped nothing at the ring\n");
	} else {
		printf("FAIL kernel drops: %llu frames dropped, %llu ring freezes%s\n", (unsigned long long)q->k_drops,
		       (unsigned long long)q->k_freezes, kst ? "" : " (PACKET_STATISTICS unreadable)");
		fails++;
	}
	usn_pport_backend_ops.close(b);
	return fails ? 1 : 0;
}
