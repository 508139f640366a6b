/* apps/common/observe.h: what a running libusnet program shows of itself,
 * shared by minimal_ws, usn_load and usn_echo: --stats-interval (one line of
 * live counters per interval, printed by a thread of its own from the
 * snapshots the workers publish, never on a worker's path) and --pcap (the
 * port's packet capture, include/usnet/backend.h). */
#ifndef USN_APPS_OBSERVE_H
#define USN_APPS_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "usnet/backend.h"
#include "usnet/stack.h"

#define OBSERVE_PCAP_MAX_MB 100u

/* The --help lines of the options below. */
#define OBSERVE_USAGE                                                                                      \
	"  --stats-interval S   print a line of live counters every S seconds, 0.1..3600 (default: none)\n"     \
	"  --pcap FILE          write every frame the workers receive and send to FILE as pcapng; DPDK ports "   \
	"only, on the Linux packet port use tcpdump (default: none)\n"                                           \
	"  --pcap-max-mb N      stop writing the capture once it holds N MiB, 1..1048576 (default 100)\n"

struct observe_opts {
	uint32_t interval_ms; /* --stats-interval; 0: no live line */
	const char *pcap;     /* --pcap FILE; NULL: no capture */
	uint64_t pcap_max_mb; /* --pcap-max-mb; 0: the default */
};

/* If argv[*i] is one of the options above ("--name VALUE" or
 * "--name=VALUE"), stores its value, leaves *i at the last word it took
 * (a loop's i++ then moves past it) and returns 1; 0 if it is not one of
 * them; -1 with a one-line message in msg if its value is bad or missing. */
int observe_parse(int argc, char **argv, int *i, struct observe_opts *o, char *msg, size_t msg_len);

/* The program's own counter for the live line and telemetry (minimal_ws:
 * requests answered); read from any thread. */
struct observe_app {
	const char *name; /* "requests" */
	uint64_t (*read)(void *arg);
	void *arg;
};

struct observe;

/* After usn_backend_attach, before usn_backend_run: starts the capture (if
 * --pcap), registers the program's counter with the backend and starts the
 * live line's thread (if --stats-interval). app may be NULL. Returns 0 (and
 * *out, NULL when there is nothing to do) or -errno with a one-line message
 * in msg (a capture the port refuses: -ENOTSUP). */
int observe_start(struct observe **out, const struct observe_opts *o, struct usn_backend *b, struct usn_stack *s,
		  const struct observe_app *app, char *msg, size_t msg_len);

/* After usn_backend_run has returned: one last line for the time since the
 * last one (from the workers' own, exact, counters), then the thread ends.
 * NULL does nothing. */
void observe_stop(struct observe *ob);

#endif
