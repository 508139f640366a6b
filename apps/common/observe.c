/* apps/common/observe.c: --stats-interval and --pcap for the libusnet
 * programs (observe.h). The live line is built by a thread that sleeps
 * between intervals and reads what the workers publish (usn_stack_stats:
 * each worker's seqlock snapshot, at most a millisecond old), the port's
 * buffer level (usn_backend_bufs) and the program's own counter; it takes
 * nothing from a worker's path. */
#define _GNU_SOURCE

#include "observe.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "usnet/stats.h"

struct observe {
	struct usn_backend *b;
	struct usn_stack *s;
	struct observe_app app;
	bool have_app;
	uint32_t interval_ms;
	pthread_t tid;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	/* The last line's figures, and when it was taken. */
	struct usn_stats prev;
	uint64_t prev_req;
	uint64_t t0_ns, prev_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- options ---- */

int observe_parse(int argc, char **argv, int *i, struct observe_opts *o, char *msg, size_t msg_len)
{
	static const char *const names[] = {"--stats-interval", "--pcap", "--pcap-max-mb"};
	const char *a = argv[*i], *val = NULL, *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	int which = -1;
	uint64_t v;

	for (int k = 0; k < 3; k++)
		if (strlen(names[k]) == n && strncmp(a, names[k], n) == 0)
			which = k;
	if (which < 0)
		return 0;
	if (eq) {
		val = eq + 1;
	} else if (*i + 1 < argc) {
		val = argv[++*i];
	} else {
		snprintf(msg, msg_len, "option %s needs a value", names[which]);
		return -1;
	}
	switch (which) {
	case 0: {
		/* Seconds, with up to three decimals: 0.1 .. 3600. */
		char *end;
		double s;

		errno = 0;
		s = strtod(val, &end);
		if (errno || end == val || *end || !(s >= 0.1 && s <= 3600)) {
			snprintf(msg, msg_len, "bad --stats-interval %s (seconds, 0.1..3600)", val);
			return -1;
		}
		o->interval_ms = (uint32_t)(s * 1000.0 + 0.5);
		break;
	}
	case 1:
		if (!*val) {
			snprintf(msg, msg_len, "bad --pcap: empty file name");
			return -1;
		}
		o->pcap = val;
		break;
	default:
		if (!cli_parse_u64(val, 1u << 20, &v) || v == 0) {
			snprintf(msg, msg_len, "bad --pcap-max-mb %s (MiB, 1..1048576)", val);
			return -1;
		}
		o->pcap_max_mb = v;
		break;
	}
	return 1;
}

/* ---- the live line ---- */

/* bytes/s with a decimal unit, as "1.23MB/s". */
static void fmt_rate(char *out, size_t cap, double bps)
{
	static const char *const unit[] = {"B/s", "kB/s", "MB/s", "GB/s"};
	int u = 0;

	while (bps >= 1000.0 && u < 3) {
		bps /= 1000.0;
		u++;
	}
	snprintf(out, cap, u ? "%.2f%s" : "%.0f%s", bps, unit[u]);
}

static bool is_drop(const char *name)
{
	return strncmp(name, "drop_", 5) == 0 || strcmp(name, "tx_full") == 0;
}

/* One line from cur (taken now_ns) against the previous one. */
static void line_print(struct observe *ob, const struct usn_stats *cur, uint64_t req, uint64_t t_ns)
{
	const struct usn_stats *p = &ob->prev;
	double dt = (double)(t_ns - ob->prev_ns) / 1e9;
	char buf[2048], in[32], out[32];
	size_t n = 0;
	uint64_t drops = 0;
	struct usn_backend_bufs bb;

	if (dt <= 0)
		dt = 1e-9;
	fmt_rate(in, sizeof(in), (double)(cur->rx_bytes - p->rx_bytes) / dt);
	fmt_rate(out, sizeof(out), (double)(cur->tx_bytes - p->tx_bytes) / dt);
	n += (size_t)snprintf(
	    buf + n, sizeof(buf) - n,
	    "stats t=%.2f est=%" PRIu64 " opening=%" PRIu64 " closing=%" PRIu64 " time_wait=%" PRIu64 " new/s=%.0f",
	    (double)(t_ns - ob->t0_ns) / 1e9, cur->conns_established, cur->conns_syn_sent + cur->conns_syn_received,
	    cur->conns_close_wait + cur->conns_close_pending + cur->conns_close_pending_rcvd_fin +
		cur->conns_fin_wait_1 + cur->conns_closing + cur->conns_last_ack + cur->conns_fin_wait_2,
	    cur->conns_time_wait, (double)(cur->tcp_established - p->tcp_established) / dt);
	if (ob->have_app)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s/s=%.0f %s=%" PRIu64, ob->app.name,
				      (double)(req - ob->prev_req) / dt, ob->app.name, req);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " in=%s out=%s", in, out);
	if (usn_backend_bufs(ob->b, &bb) == 0)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " bufs=%" PRIu64 "/%" PRIu64 " bufs_low=%" PRIu64,
				      bb.free, bb.size, bb.free_low);
	/* Drops by reason: only the counters that moved in the interval. */
	for (size_t i = 0; i < usn_stats_count(); i++)
		if (is_drop(usn_stats_name(i)))
			drops += usn_stats_value(cur, i) - usn_stats_value(p, i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " drops=%" PRIu64, drops);
	for (size_t i = 0; i < usn_stats_count() && drops && n < sizeof(buf); i++) {
		uint64_t d = usn_stats_value(cur, i) - usn_stats_value(p, i);

		if (d && is_drop(usn_stats_name(i)))
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s=%" PRIu64, usn_stats_name(i), d);
	}
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	buf[n] = '\0';
	/* One call, so the line is never split by another thread's output. */
	printf("%s\n", buf);
	ob->prev = *cur;
	ob->prev_req = req;
	ob->prev_ns = t_ns;
}

static uint64_t app_read(const struct observe *ob)
{
	return ob->have_app ? ob->app.read(ob->app.arg) : 0;
}

static void *live_main(void *arg)
{
	struct observe *ob = arg;
	uint64_t next = ob->t0_ns;

	pthread_mutex_lock(&ob->mu);
	for (;;) {
		struct timespec ts;
		struct usn_stats cur;
		uint64_t t;

		/* Deadlines on a fixed grid: the lines do not drift. */
		next += (uint64_t)ob->interval_ms * 1000000u;
		ts.tv_sec = (time_t)(next / 1000000000u);
		ts.tv_nsec = (long)(next % 1000000000u);
		while (!ob->stop && pthread_cond_timedwait(&ob->cv, &ob->mu, &ts) != ETIMEDOUT)
			;
		if (ob->stop)
			break;
		pthread_mutex_unlock(&ob->mu);
		t = now_ns();
		usn_stack_stats(ob->s, &cur);
		line_print(ob, &cur, app_read(ob), t);
		pthread_mutex_lock(&ob->mu);
	}
	pthread_mutex_unlock(&ob->mu);
	return NULL;
}

int observe_start(struct observe **out, const struct observe_opts *o, struct usn_backend *b, struct usn_stack *s,
		  const struct observe_app *app, char *msg, size_t msg_len)
{
	struct observe *ob;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (o->pcap) {
		uint64_t mb = o->pcap_max_mb ? o->pcap_max_mb : OBSERVE_PCAP_MAX_MB;

		rc = usn_backend_pcap(b, o->pcap, mb << 20, msg, msg_len);
		if (rc != 0)
			return rc;
		printf("capturing to %s (pcapng, at most %" PRIu64 " MiB)\n", o->pcap, mb);
	}
	/* Published where the backend publishes counters (DPDK telemetry);
	 * a backend without that simply declines. */
	if (app && app->read)
		(void)usn_backend_app_counter(b, app->name, app->read, app->arg);
	if (!o->interval_ms)
		return 0;
	ob = calloc(1, sizeof(*ob));
	if (!ob) {
		snprintf(msg, msg_len, "out of memory");
		return -ENOMEM;
	}
	ob->b = b;
	ob->s = s;
	ob->interval_ms = o->interval_ms;
	if (app && app->read) {
		ob->app = *app;
		ob->have_app = true;
	}
	pthread_mutex_init(&ob->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ob->cv, &ca);
	pthread_condattr_destroy(&ca);
	ob->t0_ns = ob->prev_ns = now_ns();
	usn_stack_stats(s, &ob->prev);
	ob->prev_req = app_read(ob);
	rc = pthread_create(&ob->tid, NULL, live_main, ob);
	if (rc != 0) {
		snprintf(msg, msg_len, "cannot start the --stats-interval thread: %s", strerror(rc));
		pthread_cond_destroy(&ob->cv);
		pthread_mutex_destroy(&ob->mu);
		free(ob);
		return -rc;
	}
	ob->started = true;
	*out = ob;
	return 0;
}

void observe_stop(struct observe *ob)
{
	struct usn_stats cur, one;

	if (!ob)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->stop = true;
	pthread_cond_signal(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
	pthread_join(ob->tid, NULL);
	/* The workers have returned: their own counters are exact now. */
	memset(&cur, 0, sizeof(cur));
	for (uint16_t i = 0; i < usn_stack_workers(ob->s); i++) {
		one = *usn_worker_stats(usn_stack_worker(ob->s, i));
		usn_stats_add(&cur, &one);
	}
	line_print(ob, &cur, app_read(ob), now_ns());
	pthread_cond_destroy(&ob->cv);
	pthread_mutex_destroy(&ob->mu);
	free(ob);
}
