/* libusnet backend entry points (include/usnet/backend.h) on TILE-Gx:
 * argument parsing (link, dataplane CPUs via tmc_cpus, buffer mode),
 * workers pinned one per dataplane tile, counters printed at exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpipe.h"
#include "usnet/backend.h"

struct usn_backend {
	struct usn_gx_port *port;
	struct usn_stack *stack;
	uint16_t n_workers;
	int cpus[USN_GX_MAX_WORKERS];
};

static int bk_fail(char *msg, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int bk_number(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "1-3,7" -> 1 2 3 7; returns how many, or -EINVAL. */
static int bk_cpu_list(const char *s, int *cpus, int max)
{
	int n = 0;

	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0 || a >= CPU_SETSIZE)
			return -EINVAL;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a || b >= CPU_SETSIZE)
				return -EINVAL;
			s = end;
		}
		for (long c = a; c <= b; c++) {
			if (n == max)
				return -EINVAL;
			cpus[n++] = (int)c;
		}
		if (*s == ',')
			s++;
		else if (*s)
			return -EINVAL;
	}
	return n;
}

int usn_gx_args_parse(int argc, char **argv, uint16_t n_queues, struct usn_gx_config *cfg, int *cpus, char *msg,
		      size_t msg_len)
{
	int dashdash = argc, n_cpus = 0;
	long v;

	memset(cfg, 0, sizeof(*cfg));
	cfg->link = "xgbe1";
	cfg->n_workers = n_queues;
	if (n_queues == 0 || n_queues > USN_GX_MAX_WORKERS)
		return bk_fail(msg, msg_len, -EINVAL, "unsupported worker count %u (1..%u)", n_queues,
			       USN_GX_MAX_WORKERS);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			dashdash = i;
			break;
		}
	}
	for (int i = 1; i < dashdash; i++) {
		const char *opt = argv[i], *val = i + 1 < dashdash ? argv[i + 1] : NULL;

		if (!val)
			return bk_fail(msg, msg_len, -EINVAL, "%s needs a value", opt);
		if (strcmp(opt, "--link") == 0) {
			cfg->link = val;
		} else if (strcmp(opt, "--cpus") == 0) {
			n_cpus = bk_cpu_list(val, cpus, USN_GX_MAX_WORKERS);
			if (n_cpus < 0)
				return bk_fail(msg, msg_len, -EINVAL, "--cpus %s: not a CPU list (e.g. 1-35)", val);
		} else if (strcmp(opt, "--chain") == 0) {
			if (bk_number(val, 0, 1664, &v) < 0)
				return bk_fail(msg, msg_len, -EINVAL, "--chain %s: 0 or 128..1664", val);
			cfg->chain_buf_size = (uint16_t)v;
		} else if (strcmp(opt, "--bufs") == 0) {
			if (bk_number(val, 64, 1 << 24, &v) < 0)
				return bk_fail(msg, msg_len, -EINVAL, "--bufs %s: 64..16777216", val);
			cfg->bufs_per_stack = (uint32_t)v;
		} else if (strcmp(opt, "--mtu") == 0) {
			if (bk_number(val, 68, 9000, &v) < 0)
				return bk_fail(msg, msg_len, -EINVAL, "--mtu %s: 68..9000", val);
			cfg->mtu = (uint16_t)v;
		} else {
			return bk_fail(msg, msg_len, -EINVAL, "unknown backend option %s", opt);
		}
		i++;
	}
	if (n_cpus) {
		if (n_cpus < n_queues)
			return bk_fail(msg, msg_len, -EINVAL, "--cpus names %d CPUs for %u workers", n_cpus, n_queues);
		cfg->cpus = cpus;
	}
	return dashdash < argc ? dashdash + 1 : argc;
}

/* The backend's options come before "--", the program's after it. */
int usn_backend_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
	return 1;
}

const char *usn_backend_help(void)
{
	return "port: [--link NAME] [--cpus LIST] [--chain N] [--bufs N] [--mtu N] --  the mPIPE link (default xgbe1)\n";
}

int usn_backend_open(int argc, char **argv, uint16_t n_queues, struct usn_backend **out, char *msg, size_t msg_len)
{
	struct usn_gx_config cfg;
	struct usn_backend *b;
	int consumed;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return bk_fail(msg, msg_len, -ENOMEM, "out of memory");
	consumed = usn_gx_args_parse(argc, argv, n_queues, &cfg, b->cpus, msg, msg_len);
	if (consumed < 0) {
		free(b);
		return consumed;
	}
	b->port = usn_gx_port_create(&cfg, msg, msg_len);
	if (!b->port) {
		free(b);
		return -ENODEV;
	}
	/* What the card must have: the huge pages to reserve at boot. */
	usn_gx_plan_print(usn_gx_port_plan(b->port), stderr);
	fprintf(stderr, "mpipe: %u eDMA rings in use\n", usn_gx_port_erings(b->port));
	b->n_workers = n_queues;
	for (uint16_t i = 0; i < n_queues; i++)
		b->cpus[i] = usn_gx_port_worker_cpu(b->port, i);
	*out = b;
	return consumed;
}

struct usn_hal *usn_backend_hal(struct usn_backend *b)
{
	return usn_gx_port_hal(b->port);
}

void usn_backend_attach(struct usn_backend *b, struct usn_stack *s)
{
	b->stack = s;
}

struct bk_thread {
	struct usn_backend *b;
	int (*fn)(void *arg, uint16_t worker);
	void *arg;
	uint16_t worker;
	int rc;
	pthread_t tid;
};

static void *bk_thread_main(void *p)
{
	struct bk_thread *t = p;
	int rc = tmc_cpus_set_my_cpu(t->b->cpus[t->worker]);

	t->rc = rc < 0 ? rc : t->fn(t->arg, t->worker);
	return NULL;
}

int usn_backend_run(struct usn_backend *b, int (*fn)(void *arg, uint16_t worker), void *arg)
{
	struct bk_thread t[USN_GX_MAX_WORKERS];
	uint16_t started = 1;
	int rc = 0;

	for (uint16_t i = 0; i < b->n_workers; i++)
		t[i] = (struct bk_thread){.b = b, .fn = fn, .arg = arg, .worker = i};
	for (uint16_t i = 1; i < b->n_workers; i++, started++) {
		if (pthread_create(&t[i].tid, NULL, bk_thread_main, &t[i]) != 0) {
			rc = -EAGAIN;
			break;
		}
	}
	if (rc == 0)
		bk_thread_main(&t[0]);
	for (uint16_t i = 1; i < started; i++)
		pthread_join(t[i].tid, NULL);
	for (uint16_t i = 0; i < b->n_workers && rc == 0; i++)
		rc = t[i].rc;
	return rc;
}

void usn_backend_print_stats(struct usn_backend *b, FILE *out)
{
	struct usn_gx_port_stats ps;

	usn_gx_port_stats(b->port, &ps);
	fprintf(out,
		"mpipe: rx %llu frames %llu bytes, %llu error descriptors, %llu buffer errors, %llu bad chains; "
		"tx %llu frames %llu bytes, %llu without eDMA slot, %llu bad buffers; %llu allocation failures\n",
		(unsigned long long)ps.rx_frames, (unsigned long long)ps.rx_bytes, (unsigned long long)ps.rx_err_desc,
		(unsigned long long)ps.rx_buf_err, (unsigned long long)ps.rx_bad_chain, (unsigned long long)ps.tx_frames, (unsigned long long)ps.tx_bytes,
		(unsigned long long)ps.tx_no_slot, (unsigned long long)ps.tx_bad_buf,
		(unsigned long long)ps.alloc_fail);
	if (!b->stack)
		return;
	for (uint16_t i = 0; i < usn_stack_workers(b->stack); i++) {
		struct usn_stats s;
		usn_worker_stats_snapshot(usn_stack_worker(b->stack, i), &s);
		fprintf(out, "worker %u (cpu %d):", i, b->cpus[i]);
		for (size_t k = 0; k < usn_stats_count(); k++) {
			uint64_t v = usn_stats_value(&s, k);
			if (v)
				fprintf(out, " %s=%llu", usn_stats_name(k), (unsigned long long)v);
		}
		fputc('\n', out);
	}
}

void usn_backend_close(struct usn_backend *b)
{
	if (!b)
		return;
	usn_gx_port_destroy(b->port);
	free(b);
}

/* Not on the mPIPE backend (yet): its buffer stacks have no cheap level
 * for another thread, it has no capture and no telemetry. */
int usn_backend_bufs(struct usn_backend *b, struct usn_backend_bufs *out)
{
	(void)b;
	(void)out;
	return -ENOTSUP;
}

int usn_backend_pcap(struct usn_backend *b, const char *path, uint64_t max_bytes, char *msg, size_t msg_len)
{
	(void)b;
	(void)path;
	(void)max_bytes;
	return bk_fail(msg, msg_len, -ENOTSUP, "--pcap: the mPIPE backend cannot capture");
}

int usn_backend_app_counter(struct usn_backend *b, const char *name, uint64_t (*read)(void *arg), void *arg)
{
	(void)b;
	(void)name;
	(void)read;
	(void)arg;
	return -ENOTSUP;
}
