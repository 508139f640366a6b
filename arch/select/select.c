/* libusnet backend selector: include/usnet/backend.h over the backends this
 * build carries (include/usnet/backend_ops.h), chosen by the command line's
 * first argument. Built with USN_WITH_PPORT and/or USN_WITH_DPDK defined
 * (arch/select/select.mk); the packet port claims "--iface", DPDK takes
 * anything else. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "usnet/backend_ops.h"

/* In the order they are asked; the one with no `claims` is the default. */
static const struct usn_backend_ops *const backends[] = {
#ifdef USN_WITH_PPORT
    &usn_pport_backend_ops,
#endif
#ifdef USN_WITH_DPDK
    &usn_dpdk_backend_ops,
#endif
    NULL,
};

static const struct usn_backend_ops *pick(int argc, char **argv)
{
	const struct usn_backend_ops *dflt = NULL;

	for (size_t i = 0; backends[i]; i++) {
		if (!backends[i]->claims)
			dflt = backends[i];
		else if (backends[i]->claims(argc, argv))
			return backends[i];
	}
	return dflt;
}

int usn_backend_args(int argc, char **argv)
{
	const struct usn_backend_ops *o = pick(argc, argv);

	/* Without a default backend, a command line that names none has only
	 * program arguments (open then says what is missing). */
	return o ? o->args(argc, argv) : 1;
}

const char *usn_backend_help(void)
{
	/* Every backend's lines whole (1 KB cut the DPDK lines short after
	 * the packet port's). */
	static char text[4096];

	if (!text[0]) {
		size_t n = 0;

		for (size_t i = 0; backends[i] && n < sizeof(text); i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", backends[i]->help);
	}
	return text;
}

int usn_backend_open(int argc, char **argv, uint16_t n_queues, struct usn_backend **out, char *msg,
		     size_t msg_len)
{
	const struct usn_backend_ops *o = pick(argc, argv);

	*out = NULL;
	if (!o) {
		snprintf(msg, msg_len,
			 "no port given: start with --iface IF (the Linux packet port on interface IF%s)",
			 backends[0] ? "" : "; this build has no backend");
		return -EINVAL;
	}
	return o->open(argc, argv, n_queues, out, msg, msg_len);
}

struct usn_hal *usn_backend_hal(struct usn_backend *b)
{
	return b->ops->hal(b);
}

void usn_backend_attach(struct usn_backend *b, struct usn_stack *s)
{
	b->ops->attach(b, s);
}

int usn_backend_run(struct usn_backend *b, int (*fn)(void *arg, uint16_t worker), void *arg)
{
	return b->ops->run(b, fn, arg);
}

void usn_backend_print_stats(struct usn_backend *b, FILE *out)
{
	b->ops->print_stats(b, out);
}

void usn_backend_close(struct usn_backend *b)
{
	if (b)
		b->ops->close(b);
}

int usn_backend_bufs(struct usn_backend *b, struct usn_backend_bufs *out)
{
	return b->ops->bufs ? b->ops->bufs(b, out) : -ENOTSUP;
}

int usn_backend_pcap(struct usn_backend *b, const char *path, uint64_t max_bytes, char *msg, size_t msg_len)
{
	if (b->ops->pcap)
		return b->ops->pcap(b, path, max_bytes, msg, msg_len);
	snprintf(msg, msg_len, "--pcap: the %s backend cannot capture", b->ops->name);
	return -ENOTSUP;
}

int usn_backend_app_counter(struct usn_backend *b, const char *name, uint64_t (*read)(void *arg), void *arg)
{
	return b->ops->app_counter ? b->ops->app_counter(b, name, read, arg) : -ENOTSUP;
}
