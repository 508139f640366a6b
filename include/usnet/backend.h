/* libusnet backend entry points for programs: implemented once by each
 * hardware backend (arch/x86 on DPDK, arch/tilegx on mPIPE), so an
 * application such as minimal_ws names no driver and builds for either. */
#ifndef USNET_BACKEND_H
#define USNET_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "usnet/hal.h"
#include "usnet/stack.h"

struct usn_backend;

/* Initialises the backend from the program's arguments (DPDK: the EAL
 * options before "--") and opens its port with n_queues queue pairs.
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

#endif
