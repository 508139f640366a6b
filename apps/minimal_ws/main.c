/* minimal_ws: the preloaded-page web server on libusnet (Rusty's "Minimal
 * WS"). Opens its port through backend.h (the Linux packet port with
 * --iface, else DPDK), builds one stack, and runs mws on every worker until
 * SIGINT/SIGTERM. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/observe.h"
#include "../http/page_store.h"
#include "mws.h"
#include "usnet/backend.h"
#include "usnet/csum.h"
#include "usnet/stack.h"
#include "usnet/stats.h"

struct args {
	const char *root;
	uint32_t ip, gw; /* host order */
	uint8_t prefix;
	bool have_ip6;    /* a second --ip, IPv6 */
	uint8_t ip6[16], prefix6, gw6[16];
	uint16_t port, workers, mtu;
	uint8_t mac[6];
	bool have_mac, keepalive, allow_dotfiles;
	uint32_t idle_backoff_us, idle_timeout_ms, header_timeout_ms;
	uint32_t max_conns, probe_retries, orphan_probe_retries; /* 0: the stack's default */
	struct observe_opts obs; /* --stats-interval, --pcap */
};

/* One line per flag; apps/minimal_ws/README.md carries the same table. The
 * backends' lines (usn_backend_help) follow it in --help. */
static const char usage[] =
    "usage: minimal_ws PORT --root DIR --ip ADDR/PREFIX [options]\n"
    "PORT says which network port to use (see \"port:\" below), e.g.\n"
    "  minimal_ws --iface veth0 --root DIR --ip 198.18.0.2/24\n"
    "  --root DIR           directory of pages, all preloaded at start (required)\n"
    "  --ip ADDR/PREFIX     interface address and on-link prefix, e.g. 198.18.0.2/24 (required); given\n"
    "                       a second time with an IPv6 address (e.g. 2001:2::2/64), the stack also has\n"
    "                       that address and a link-local one, and answers ping and neighbour\n"
    "                       discovery on both and serves the pages over both families\n"
    "  --gw ADDR            next hop for off-link clients, one per family (default: none)\n"
    "  --port N             TCP port to serve (default 80)\n"
    "  --workers N          workers, one per queue and core (default 1; with DPDK, EAL -l must list N lcores)\n"
    "  --mac MAC            the stack's Ethernet address, aa:bb:cc:dd:ee:ff (default: the port's)\n"
    "  --mtu N              IPv4 MTU, 68 up to the port's (default: the port's)\n"
    "  --idle-backoff-us N  sleep up to N us when idle instead of spinning (default 0: spin)\n"
    "  --idle-timeout-ms N  reset a connection that sends no new bytes for N ms while its request is awaited (slowloris; repeated or out-of-window bytes do not count); 0: never (default 10000)\n"
    "  --header-timeout-ms N  reset a connection whose request is not complete N ms after it opened, or with --keepalive after the previous answer was acknowledged, whatever it sends meanwhile (byte-trickling slowloris); 0: never (default 30000)\n"
    "  --max-conns N        TCBs (connections, TIME-WAIT included) per worker, 1..1000000; each costs about 1.8 KB at start (default 65536)\n"
    "  --probe-retries N    zero-window probes a client may leave unanswered before it is reset, 1..255 (default 12)\n"
    "  --orphan-probe-retries N  zero-window probes, answered or not, before a connection the server has closed is reset while the client's window stays 0, 1..255 (default 8)\n"
    "  --keepalive          several requests per connection (default: one, Connection: close)\n"
    "  --allow-dotfiles     also serve files and directories whose name begins with a dot (default: not loaded)\n"
    OBSERVE_USAGE
    "  -h, --help           print this help and exit\n";

static const char prog[] = "minimal_ws";

/* Program options: argv[first..argc), after the port's. Written by hand,
 * not getopt: the EAL uses getopt on the same argv. */
static void parse_args(int argc, char **argv, int first, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->port = 80;
	a->workers = 1;
	a->idle_timeout_ms = 10000;
	a->header_timeout_ms = 30000;
	a->max_conns = 65536; /* a server's share of connections, not the library's small default */
	uint64_t v;
	bool have_ip = false;
	for (int i = first; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--root") == 0) {
			a->root = cli_need(prog, argc, argv, &i);
		} else if (strcmp(o, "--ip") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (cli_is_ip6(s)) {
				if (a->have_ip6)
					cli_fail(prog, "--ip %s: an IPv6 address was already given (one per family)", s);
				if (!cli_parse_ip6_prefix(s, a->ip6, &a->prefix6))
					cli_fail(prog, "bad --ip %s (IPv6 ADDR/PREFIX, prefix 1..128)", s);
				a->have_ip6 = true;
				continue;
			}
			if (have_ip)
				cli_fail(prog, "--ip %s: an IPv4 address was already given (one per family)", s);
			if (!cli_parse_addr_num(s, '/', &a->ip, 32, &v, true))
				cli_fail(prog, "bad --ip %s (ADDR/PREFIX)", s);
			a->prefix = (uint8_t)v;
			have_ip = true;
		} else if (strcmp(o, "--gw") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (cli_is_ip6(s) ? !cli_parse_ip6(s, a->gw6) : !cli_parse_ip(s, &a->gw))
				cli_fail(prog, "bad --gw %s", s);
		} else if (strcmp(o, "--port") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 65535, &v) || v == 0)
				cli_fail(prog, "bad --port %s", s);
			a->port = (uint16_t)v;
		} else if (strcmp(o, "--workers") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 1024, &v) || v == 0)
				cli_fail(prog, "bad --workers %s", s);
			a->workers = (uint16_t)v;
		} else if (strcmp(o, "--mac") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_mac(s, a->mac))
				cli_fail(prog, "bad --mac %s (aa:bb:cc:dd:ee:ff)", s);
			a->have_mac = true;
		} else if (strcmp(o, "--mtu") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 65535, &v) || v < 68)
				cli_fail(prog, "bad --mtu %s", s);
			a->mtu = (uint16_t)v;
		} else if (strcmp(o, "--idle-backoff-us") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, UINT32_MAX, &v))
				cli_fail(prog, "bad --idle-backoff-us %s", s);
			a->idle_backoff_us = (uint32_t)v;
		} else if (strcmp(o, "--idle-timeout-ms") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, UINT32_MAX, &v))
				cli_fail(prog, "bad --idle-timeout-ms %s", s);
			a->idle_timeout_ms = (uint32_t)v;
		} else if (strcmp(o, "--header-timeout-ms") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, UINT32_MAX, &v))
				cli_fail(prog, "bad --header-timeout-ms %s", s);
			a->header_timeout_ms = (uint32_t)v;
		} else if (strcmp(o, "--max-conns") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 1000000, &v) || v == 0)
				cli_fail(prog, "bad --max-conns %s (1..1000000)", s);
			a->max_conns = (uint32_t)v;
		} else if (strcmp(o, "--probe-retries") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 255, &v) || v == 0)
				cli_fail(prog, "bad --probe-retries %s (1..255)", s);
			a->probe_retries = (uint32_t)v;
		} else if (strcmp(o, "--orphan-probe-retries") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 255, &v) || v == 0)
				cli_fail(prog, "bad --orphan-probe-retries %s (1..255)", s);
			a->orphan_probe_retries = (uint32_t)v;
		} else if (strcmp(o, "--keepalive") == 0) {
			a->keepalive = true;
		} else if (strcmp(o, "--allow-dotfiles") == 0) {
			a->allow_dotfiles = true;
		} else {
			char msg[160];
			int r = observe_parse(argc, argv, &i, &a->obs, msg, sizeof(msg));
			if (r < 0)
				cli_fail(prog, "%s", msg);
			if (r == 0)
				cli_fail(prog, "unknown option %s", o);
		}
	}
	if (!a->root)
		cli_fail(prog, "%s", "--root is required");
	if (!have_ip)
		cli_fail(prog, "%s", "--ip with an IPv4 address is required (IPv6 comes as a second --ip)");
}

/* The cost centres of a USN_PROFILE build (nothing otherwise), summed over
 * the workers: cycles, share of the loop, cycles per request. bench.py
 * reads these lines. */
static void print_profile(struct usn_stack *s, uint64_t requests)
{
	enum { MAXC = 32 };
	uint64_t sum[MAXC] = {0}, c[MAXC], total = 0;
	size_t n = usn_prof_count() < MAXC ? usn_prof_count() : MAXC;
	for (uint16_t i = 0; i < usn_stack_workers(s); i++) {
		if (usn_worker_prof(usn_stack_worker(s, i), c, n) < 0)
			return;
		for (size_t k = 0; k < n; k++)
			sum[k] += c[k];
	}
	for (size_t k = 0; k < n; k++)
		total += sum[k];
	printf("cost centres: %u worker%s, %" PRIu64 " requests\n", usn_stack_workers(s),
	       usn_stack_workers(s) == 1 ? "" : "s", requests);
	printf("  %-8s %16s %8s %14s\n", "category", "cycles", "share", "cycles/req");
	for (size_t k = 0; k <= n; k++) {
		uint64_t v = k < n ? sum[k] : total;
		printf("  %-8s %16" PRIu64 " %7.2f%% %14.0f\n", k < n ? usn_prof_name(k) : "total", v,
		       total ? 100.0 * (double)v / (double)total : 0.0, requests ? (double)v / (double)requests : 0.0);
	}
}

struct run_ctx {
	struct usn_stack *stack;
};

/* The live line's and telemetry's request counter (any thread). */
static uint64_t requests_read(void *arg)
{
	return mws_requests(arg);
}

static int worker_fn(void *arg, uint16_t i)
{
	struct run_ctx *ctx = arg;
	struct usn_worker *w = usn_stack_worker(ctx->stack, i);
	usn_worker_start(w);
	usn_worker_run(w, cli_stop_flag());
	return 0;
}

int main(int argc, char **argv)
{
	/* --help anywhere, before any port is opened. */
	if (cli_help_asked(argc, argv)) {
		printf("%s%s", usage, usn_backend_help());
		return 0;
	}
	/* The port's arguments come first ("--iface IF", or EAL options and
	 * "--"), ours after them. */
	int first = usn_backend_args(argc, argv);
	struct args a;
	parse_args(argc, argv, first, &a);
	setvbuf(stdout, NULL, _IOLBF, 0);

	char msg[512];
	struct http_store_opts so = {
	    .csum_build = usn_csum_table_build,
	    .csum_free = usn_csum_table_free,
	    .log = stderr,
	    .allow_dotfiles = a.allow_dotfiles};
	struct http_store *store = http_store_open(a.root, &so, msg, sizeof(msg));
	if (!store) {
		fprintf(stderr, "minimal_ws: %s\n", msg);
		return 2;
	}
	printf("loaded %" PRIu32 " pages, %" PRIu64 " bytes\n", http_store_pages(store),
	       http_store_bytes(store));

	struct usn_backend *b = NULL;
	int rc = usn_backend_open(first, argv, a.workers, &b, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "minimal_ws: %s\n", msg);
		http_store_close(store);
		return 1;
	}
	struct usn_hal *hal = usn_backend_hal(b);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, a.ip, a.prefix);
	cfg.gateway = a.gw;
	cfg.n_workers = a.workers;
	cfg.mtu = a.mtu;
	cfg.idle_backoff_us = a.idle_backoff_us;
	cfg.tcp_max_conns = a.max_conns;
	cfg.tcp_probe_retries = a.probe_retries;
	cfg.tcp_orphan_probe_retries = a.orphan_probe_retries;
	if (a.have_ip6) {
		cfg.ipv6 = true;
		cfg.n_ip6 = 1;
		memcpy(cfg.ip6[0].addr, a.ip6, 16);
		cfg.ip6[0].prefix_len = a.prefix6;
		memcpy(cfg.gateway6, a.gw6, 16);
	}
	if (a.have_mac)
		memcpy(cfg.mac, a.mac, 6);
	if (usn_stack_config_check(&cfg, hal, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "minimal_ws: %s\n", msg);
		usn_backend_close(b);
		http_store_close(store);
		return 2;
	}
	struct usn_stack *s = usn_stack_create(hal, &cfg);
	if (!s) {
		fprintf(stderr, "minimal_ws: cannot create the stack: no memory for %u connections per worker? (lower --max-conns; with DPDK, raise the EAL's -m)\n",
			a.max_conns);
		usn_backend_close(b);
		http_store_close(store);
		return 1;
	}
	int err = 0;
	struct mws_opts mo = {.port = a.port, .keepalive = a.keepalive, .idle_timeout_ms = a.idle_timeout_ms,
			       .header_timeout_ms = a.header_timeout_ms};
	struct mws *m = mws_init(s, store, &mo, &err);
	if (!m) {
		fprintf(stderr, "minimal_ws: cannot listen on port %u: %s\n", a.port, strerror(-err));
		usn_stack_destroy(s);
		usn_backend_close(b);
		http_store_close(store);
		return 1;
	}
	usn_backend_attach(b, s);
	struct observe *ob = NULL;
	struct observe_app app = {.name = "requests", .read = requests_read, .arg = m};
	rc = observe_start(&ob, &a.obs, b, s, &app, msg, sizeof(msg));
	if (rc != 0) {
		/* The flag's fault (a port without capture, a file that
		 * cannot be written): exit 2. */
		fprintf(stderr, "minimal_ws: %s\n", msg);
		usn_backend_attach(b, NULL);
		mws_destroy(m);
		usn_stack_destroy(s);
		usn_backend_close(b);
		http_store_close(store);
		return 2;
	}

	cli_stop_on_signals();

	char ipbuf[INET_ADDRSTRLEN];
	struct in_addr ia = {.s_addr = htonl(a.ip)};
	inet_ntop(AF_INET, &ia, ipbuf, sizeof(ipbuf));
	int zc = mws_zero_copy(m);
	printf("listening on %s:%u with %u worker%s%s, zero-copy TX %s%s%s\n", ipbuf, a.port, a.workers,
	       a.workers == 1 ? "" : "s", a.keepalive ? ", keep-alive" : "", zc == 0 ? "on" : "off",
	       zc == 0 || zc == -EOPNOTSUPP ? "" : ": ", zc == 0 || zc == -EOPNOTSUPP ? "" : strerror(-zc));
	if (a.have_ip6) {
		struct usn_ipv6_addr v6[2];
		char t0[INET6_ADDRSTRLEN], t1[INET6_ADDRSTRLEN];
		usn_stack_ipv6_addrs(s, v6, NULL, 2);
		printf("IPv6: %s/%u and %s answer ping and neighbour discovery; pages on port %u over IPv6 too\n",
		       cli_ip6_text(v6[1].addr, t1, sizeof t1), v6[1].prefix_len, cli_ip6_text(v6[0].addr, t0, sizeof t0),
		       a.port);
	}

	struct run_ctx ctx = {.stack = s};
	rc = usn_backend_run(b, worker_fn, &ctx);
	if (rc != 0)
		fprintf(stderr, "minimal_ws: backend run: %s\n", strerror(-rc));
	observe_stop(ob);

	uint64_t total = 0;
	for (uint16_t i = 0; i < usn_stack_workers(s); i++) {
		struct mws_worker_stats st;
		mws_worker_stats(m, i, &st);
		printf("worker %u: %" PRIu64 " requests (200: %" PRIu64 ", 404: %" PRIu64 ", other: %" PRIu64
		       "), %" PRIu64 " connections (%" PRIu64 " closed, %" PRIu64 " reset/timed out, %" PRIu64
		       " timed out, %" PRIu64 " request incomplete at --header-timeout-ms)\n",
		       i, st.requests, st.st200, st.st404, st.st_other, st.conns, st.closed_ok,
		       st.closed_bad, st.timed_out, st.header_timeouts);
		total += st.requests;
	}
	usn_backend_print_stats(b, stdout);
	print_profile(s, total);
	printf("stopped: %" PRIu64 " requests\n", total);
	/* Telemetry (another thread) reads the stack and the request counter
	 * until the backend lets them go: before either is freed. */
	usn_backend_attach(b, NULL);
	mws_destroy(m);
	usn_stack_destroy(s);
	usn_backend_close(b);
	http_store_close(store);
	return rc ? 1 : 0;
}
