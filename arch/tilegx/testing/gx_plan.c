/* Prints, on any host, the memory the TILE-Gx backend would need on a
 * stock card for a worker count and backend options: the same plan
 * minimal_ws_tilegx prints at start (mpipe.c's usn_gx_plan, with the page
 * sizes of a stock TILE-Gx Linux as the emulation offers them).
 *   gx_plan WORKERS [--mtu N] [--chain BYTES] [--bufs N]      (make tilegx-plan) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mpipe.h"

int main(int argc, char **argv)
{
	struct usn_gx_config cfg;
	struct usn_gx_plan plan;
	int cpus[USN_GX_MAX_WORKERS];
	char msg[200], *end;
	long workers;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(stderr, "usage: %s WORKERS [--mtu N] [--chain BYTES] [--bufs N]\n", argv[0]);
		return argc < 2 ? 2 : 0;
	}
	workers = strtol(argv[1], &end, 10);
	if (*end || workers < 1 || workers > USN_GX_MAX_WORKERS) {
		fprintf(stderr, "%s: workers %s: 1..%d\n", argv[0], argv[1], USN_GX_MAX_WORKERS);
		return 2;
	}
	/* argv[1] stands where the program name would: the options follow. */
	if (usn_gx_args_parse(argc - 1, argv + 1, (uint16_t)workers, &cfg, cpus, msg, sizeof(msg)) < 0 ||
	    usn_gx_plan(&cfg, &plan, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], msg);
		return 2;
	}
	usn_gx_plan_print(&plan, stdout);
	return 0;
}
