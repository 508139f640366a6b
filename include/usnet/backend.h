/* libusnet backend entry points for programs, so an application such as
 * minimal_ws names no driver. On Linux a selector (arch/select) implements
 * them over the backends built in (arch/x86 on DPDK, arch/linux the packet
 * port; include/usnet/backend_ops.h) and the command line's first argument
 * picks one: "--iface IF" the packet port, anything else DPDK's EAL
 * options. arch/tilegx (mPIPE) implements them directly. */
#ifndef USNET_BACKEND_H
#define USNET_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "usnet/hal.h"
#include "usnet/stack.h"

struct usn_backend;

/* Where the program's own arguments start: argv[ret] is the first, after
 * the backend's (the packet port: "--iface IF" and its --pkt-* options, an
 * optional "--" after them; DPDK: the EAL options up to "--", none without
 * one). Looks at the arguments only: nothing is opened. */
int usn_backend_args(int argc, char **argv);
/* Lines for --help saying how to give the port (the backends built in). */
const char *usn_backend_help(void);

/* Initialises the backend from the program's arguments (DPDK: the EAL
 * options before "--"; the packet port: "--iface IF ...") and opens its port
 * with n_queues queue pairs.
 * Returns how many arguments it consumed (argv[ret] is the first program
 * argument, "--" excluded), or -errno with a one-line message in msg. */
int usn_backend_open(int argc, char **argv, uint16_t n_queues, struct usn_backend **out, char *msg, size_t msg_len);
struct usn_hal *usn_backend_hal(struct usn_backend *b);
/* Lets the backend publish the stack's statistics (DPDK telemetry). */
void usn_backend_attach(struct usn_backend *b, struct usn_stack *s);
/* Runs fn(arg, i) for each worker i on its own pinned core and returns when
 * all have returned. Worker 0 runs on the calling thread. Returns 0 or -errno. */
int usn_backend_run(struct usn_backend *b, int (*fn)(void *arg, uint16_t worker), void *arg);
/* Prints the port's counters and each worker's. */
void usn_backend_print_stats(struct usn_backend *b, FILE *out);
/* Stops and closes the port and releases the backend. */
void usn_backend_close(struct usn_backend *b);

/* ---- operating a running program ---- */

/* The port's frame buffers, summed over its queues: how many there are,
 * how many are free now, and the low-water mark, the fewest that were free
 * at once since the port opened (each queue's, summed). The mark is kept by
 * the workers as they take buffers (a compare per bulk allocation or
 * receive burst); the DPDK backend counts mbufs cached by other cores as
 * taken, so its mark may read a little low. */
struct usn_backend_bufs {
	uint64_t size;
	uint64_t free;
	uint64_t free_low;
};
/* Any thread, while the workers run. 0, or -ENOTSUP where the backend
 * cannot say. */
int usn_backend_bufs(struct usn_backend *b, struct usn_backend_bufs *out);

/* Packet capture: from now until the workers return from usn_backend_run,
 * every frame the workers receive and send is written to `path` as pcapng,
 * each worker with an interface block of its own, until max_bytes of
 * packets are written (0: no limit; past it the capture stops and says so
 * on stderr). Call after usn_backend_open, before usn_backend_run. Returns
 * 0, or -errno with a one-line message in msg: -ENOTSUP where the port
 * captures nothing itself (the Linux packet port: the message names
 * tcpdump, which sees its interface). */
int usn_backend_pcap(struct usn_backend *b, const char *path, uint64_t max_bytes, char *msg, size_t msg_len);

/* A counter of the program's own (minimal_ws's requests), published beside
 * the stack's counters where the backend publishes them (DPDK telemetry:
 * /usnet/app). read(arg) is called from any thread, so it reads something
 * the workers keep readable (an atomic). At most 8, registered before
 * usn_backend_run. 0, -ENOSPC, or -ENOTSUP where the backend publishes
 * nothing. */
int usn_backend_app_counter(struct usn_backend *b, const char *name, uint64_t (*read)(void *arg), void *arg);

#endif
