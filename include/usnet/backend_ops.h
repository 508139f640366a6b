/* libusnet backend SDK: what a hardware backend gives the selector that
 * implements include/usnet/backend.h, so that one program carries several
 * backends (DPDK, the Linux packet port) and its first argument picks one.
 * Programs never include this header; backends and the selector do. */
#ifndef USNET_BACKEND_OPS_H
#define USNET_BACKEND_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "usnet/backend.h"
#include "usnet/hal.h"
#include "usnet/stack.h"

/* One backend. Each operation is the backend.h function of the same name,
 * for an object this backend opened. */
struct usn_backend_ops {
	const char *name; /* "dpdk", "packet" */
	/* Whether the command line asks for this backend (by its first
	 * argument); the selector asks each backend in turn, the default one
	 * (claims NULL) last. */
	bool (*claims)(int argc, char **argv);
	/* usn_backend_args: where the program's own arguments start. */
	int (*args)(int argc, char **argv);
	/* The lines --help prints about giving this backend its port. */
	const char *help;
	/* usn_backend_open; on success (*out)->ops is this table. */
	int (*open)(int argc, char **argv, uint16_t n_queues, struct usn_backend **out, char *msg,
		    size_t msg_len);
	struct usn_hal *(*hal)(struct usn_backend *b);
	void (*attach)(struct usn_backend *b, struct usn_stack *s);
	int (*run)(struct usn_backend *b, int (*fn)(void *arg, uint16_t worker), void *arg);
	void (*print_stats)(struct usn_backend *b, FILE *out);
	void (*close)(struct usn_backend *b);
	/* Optional (NULL: -ENOTSUP): usn_backend_bufs, usn_backend_pcap,
	 * usn_backend_app_counter. A backend that has no capture of its own
	 * still gives pcap, to say in its message what captures its port. */
	int (*bufs)(struct usn_backend *b, struct usn_backend_bufs *out);
	int (*pcap)(struct usn_backend *b, const char *path, uint64_t max_bytes, char *msg, size_t msg_len);
	int (*app_counter)(struct usn_backend *b, const char *name, uint64_t (*read)(void *arg), void *arg);
};

/* What the selector sees of an open backend: every backend's own object
 * embeds this (and finds itself again from it with container_of). */
struct usn_backend {
	const struct usn_backend_ops *ops;
};

/* The backends there are (each defined only where it is built). */
extern const struct usn_backend_ops usn_dpdk_backend_ops;  /* arch/x86 */
extern const struct usn_backend_ops usn_pport_backend_ops; /* arch/linux */

#endif
