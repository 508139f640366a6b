/* usn_load: an HTTP/1.0 load generator on libusnet. Opens its port through
 * backend.h (the Linux packet port with --iface, else DPDK), one stack with
 * a worker per core, and runs
 * load.c's client on every worker until its limits; prints and writes JSON. */
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
#include <time.h>

#include "../common/cli.h"
#include "../common/observe.h"
#include "load.h"
#include "usnet/backend.h"
#include "usnet/stack.h"

struct args {
	const char *pages, *json, *label;
	uint32_t ip, gw, server; /* host order */
	uint8_t prefix;
	bool have_ip6, server6; /* a second --ip, IPv6; --server is IPv6 */
	uint8_t ip6[16], prefix6, gw6[16], server_ip6[16];
	uint16_t port, workers, mtu;
	uint32_t connections;
	uint32_t max_conns; /* 0: the default below */
	uint64_t requests;
	double duration_s, rate, timeout_s;
	uint64_t seed;
	bool quiet;
	struct observe_opts obs; /* --stats-interval, --pcap */
};

/* One line per flag; apps/usn_load/README.md carries the same table. The
 * backends' lines (usn_backend_help) follow it in --help. */
static const char usage[] =
    "usage: usn_load PORT --ip ADDR/PREFIX --server ADDR[:PORT] --pages LIST_OR_DIR [options]\n"
    "PORT says which network port to use (see \"port:\" below), e.g.\n"
    "  usn_load --iface veth1 --ip 198.18.0.1/24 --server 198.18.0.2 --pages DIR\n"
    "  --ip ADDR/PREFIX      the client's address and on-link prefix, e.g. 198.18.0.2/24 (required); given\n"
    "                        a second time with an IPv6 address (e.g. 2001:2::1/64), the stack also has it\n"
    "                        and an IPv6 --server can be reached\n"
    "  --gw ADDR             next hop for an off-link server, one per family (default: none)\n"
    "  --server ADDR[:PORT]  the HTTP server, IPv4, or IPv6 as ADDR6 or [ADDR6]:PORT (required; port\n"
    "                        default 80); over IPv6 on a port with RSS only --workers 1 (IPv6 flows are\n"
    "                        worker 0's there)\n"
    "  --pages LIST_OR_DIR   pages to request: a \"/path [bytes]\" list file or a directory (required)\n"
    "  --connections N       concurrent connections over all workers; with --rate, the cap (default 100)\n"
    "  --duration S          stop after S seconds (default 10 when --requests is not given)\n"
    "  --requests N          stop after N requests (default: no limit)\n"
    "  --rate R              fixed rate, R requests/s over all workers (default: closed loop)\n"
    "  --workers N           workers, one per queue and core (default 1; with DPDK, EAL -l must list N lcores)\n"
    "  --max-conns N         TCBs per worker, at least its share of --connections, up to 1000000 (default 65536, or twice the share if more)\n"
    "  --seed N              seed of the page choice (default 1)\n"
    "  --timeout S           per-request timeout in seconds (default 5)\n"
    "  --mtu N               IPv4 MTU, 68 up to the port's (default: the port's)\n"
    "  --json FILE           also write the results as JSON to FILE (- for stdout) (default: none)\n"
    "  --label TEXT          label of the run in the JSON (default usn_load)\n"
    "  --quiet               do not print the port's and workers' counters (default: print them)\n"
    OBSERVE_USAGE
    "  -h, --help            print this help and exit\n";

static const char prog[] = "usn_load";

static bool parse_pos_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e12)
		return false;
	*out = v;
	return true;
}

/* --server: ADDR[:PORT] (IPv4), ADDR6, or [ADDR6]:PORT; *port untouched
 * when none is given. */
static bool parse_server(const char *s, struct args *a, uint64_t *port)
{
	if (s[0] != '[' && !cli_is_ip6(s)) {
		a->server6 = false;
		return cli_parse_addr_num(s, ':', &a->server, 65535, port, false);
	}
	char buf[64];
	const char *p = s;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || (size_t)(end - s - 1) >= sizeof(buf))
			return false;
		memcpy(buf, s + 1, (size_t)(end - s - 1));
		buf[end - s - 1] = '\0';
		p = buf;
		if (end[1] == ':') {
			if (!cli_parse_u64(end + 2, 65535, port) || *port == 0)
				return false;
		} else if (end[1]) {
			return false;
		}
	}
	if (!cli_parse_ip6(p, a->server_ip6))
		return false;
	a->server6 = true;
	return true;
}

static void parse_args(int argc, char **argv, int first, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->port = 80;
	a->workers = 1;
	a->connections = 100;
	a->seed = 1;
	a->timeout_s = 5;
	uint64_t v;
	bool have_ip = false, have_server = false;
	for (int i = first; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--ip") == 0) {
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
		} else if (strcmp(o, "--server") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			v = 80;
			if (!parse_server(s, a, &v))
				cli_fail(prog, "bad --server %s (ADDR[:PORT], ADDR6 or [ADDR6]:PORT)", s);
			a->port = (uint16_t)v;
			have_server = true;
		} else if (strcmp(o, "--pages") == 0) {
			a->pages = cli_need(prog, argc, argv, &i);
		} else if (strcmp(o, "--connections") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 1000000, &v) || v == 0)
				cli_fail(prog, "bad --connections %s", s);
			a->connections = (uint32_t)v;
		} else if (strcmp(o, "--max-conns") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 1000000, &v) || v == 0)
				cli_fail(prog, "bad --max-conns %s (1..1000000)", s);
			a->max_conns = (uint32_t)v;
		} else if (strcmp(o, "--duration") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!parse_pos_double(s, &a->duration_s))
				cli_fail(prog, "bad --duration %s (seconds)", s);
		} else if (strcmp(o, "--requests") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, UINT64_MAX / 2, &a->requests) || a->requests == 0)
				cli_fail(prog, "bad --requests %s", s);
		} else if (strcmp(o, "--rate") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!parse_pos_double(s, &a->rate))
				cli_fail(prog, "bad --rate %s (requests/s)", s);
		} else if (strcmp(o, "--workers") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 1024, &v) || v == 0)
				cli_fail(prog, "bad --workers %s", s);
			a->workers = (uint16_t)v;
		} else if (strcmp(o, "--seed") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, UINT64_MAX, &a->seed))
				cli_fail(prog, "bad --seed %s", s);
		} else if (strcmp(o, "--timeout") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!parse_pos_double(s, &a->timeout_s))
				cli_fail(prog, "bad --timeout %s (seconds)", s);
		} else if (strcmp(o, "--mtu") == 0) {
			const char *s = cli_need(prog, argc, argv, &i);
			if (!cli_parse_u64(s, 65535, &v) || v < 68)
				cli_fail(prog, "bad --mtu %s", s);
			a->mtu = (uint16_t)v;
		} else if (strcmp(o, "--json") == 0) {
			a->json = cli_need(prog, argc, argv, &i);
		} else if (strcmp(o, "--label") == 0) {
			a->label = cli_need(prog, argc, argv, &i);
		} else if (strcmp(o, "--quiet") == 0) {
			a->quiet = true;
		} else {
			char msg[160];
			int r = observe_parse(argc, argv, &i, &a->obs, msg, sizeof(msg));
			if (r < 0)
				cli_fail(prog, "%s", msg);
			if (r == 0)
				cli_fail(prog, "unknown option %s", o);
		}
	}
	if (!have_ip)
		cli_fail(prog, "%s", "--ip with an IPv4 address is required (IPv6 comes as a second --ip)");
	if (!have_server)
		cli_fail(prog, "%s", "--server is required");
	if (!a->pages)
		cli_fail(prog, "%s", "--pages is required");
	if (a->server6 && !a->have_ip6)
		cli_fail(prog, "%s", "an IPv6 --server needs an IPv6 address of our own (a second --ip)");
	if (!a->duration_s && !a->requests)
		a->duration_s = 10; /* always stops by itself */
	if (a->max_conns && a->max_conns < a->connections / a->workers + 1)
		cli_fail(prog, "--max-conns %u is below the %u connections each worker keeps open", a->max_conns,
			 a->connections / a->workers + 1);
}

static uint64_t mono_ns(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct run_ctx {
	struct usn_stack *stack;
	struct load *load;
};

static int worker_fn(void *arg, uint16_t i)
{
	struct run_ctx *ctx = arg;
	usn_worker_start(usn_stack_worker(ctx->stack, i));
	return load_worker_run(ctx->load, i, cli_stop_flag());
}

/* s as a JSON string (quotes included) into out. */
static void json_str(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	if (cap < 3)
		return;
	out[n++] = '"';
	for (; *s && n + 8 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			out[n++] = '\\';
		if (ch < 0x20)
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
		else
			out[n++] = (char)ch;
	}
	out[n++] = '"';
	out[n] = '\0';
}

int main(int argc, char **argv)
{
	/* --help anywhere, with or without "--", before any port is opened. */
	if (cli_help_asked(argc, argv)) {
		printf("%s%s", usage, usn_backend_help());
		return 0;
	}
	/* The port's arguments first ("--iface IF", or EAL options and "--"). */
	int first = usn_backend_args(argc, argv);
	struct args a;
	parse_args(argc, argv, first, &a);
	setvbuf(stdout, NULL, _IOLBF, 0);

	char msg[512];
	struct load_corpus *corpus = load_corpus_open(a.pages, msg, sizeof(msg));
	if (!corpus) {
		fprintf(stderr, "usn_load: %s\n", msg);
		return 2;
	}
	printf("corpus: %" PRIu32 " pages, %" PRIu64 " bytes\n", corpus->n, corpus->total_bytes);

	struct usn_backend *b = NULL;
	int rc = usn_backend_open(first, argv, a.workers, &b, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "usn_load: %s\n", msg);
		load_corpus_close(corpus);
		return 1;
	}
	struct usn_hal *hal = usn_backend_hal(b);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, a.ip, a.prefix);
	cfg.gateway = a.gw;
	cfg.n_workers = a.workers;
	cfg.mtu = a.mtu;
	if (a.have_ip6) {
		cfg.ipv6 = true;
		cfg.n_ip6 = 1;
		memcpy(cfg.ip6[0].addr, a.ip6, 16);
		cfg.ip6[0].prefix_len = a.prefix6;
		memcpy(cfg.gateway6, a.gw6, 16);
	}
	/* A port with RSS spreads IPv4 flows only (usn_stack_flow_worker6):
	 * every IPv6 flow is worker 0's, and an open from another worker
	 * would find no source port. */
	if (a.server6 && a.workers > 1 && (hal->offloads & USN_HAL_OFF_RSS)) {
		fprintf(stderr, "usn_load: an IPv6 --server takes --workers 1 on this port: it spreads IPv4 flows only, so every IPv6 flow is worker 0's\n");
		usn_backend_close(b);
		load_corpus_close(corpus);
		return 2;
	}
	/* One TCB per slot, and room for the ones still closing. */
	uint32_t per = a.connections / a.workers + 1;
	cfg.tcp_max_conns = a.max_conns ? a.max_conns : per * 2 < 65536 ? 65536 : per * 2;
	if (usn_stack_config_check(&cfg, hal, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "usn_load: %s\n", msg);
		usn_backend_close(b);
		load_corpus_close(corpus);
		return 2;
	}
	struct usn_stack *s = usn_stack_create(hal, &cfg);
	if (!s) {
		fprintf(stderr, "usn_load: cannot create the stack: no memory for %u connections per worker? (lower --max-conns; with DPDK, raise the EAL's -m)\n",
			cfg.tcp_max_conns);
		usn_backend_close(b);
		load_corpus_close(corpus);
		return 1;
	}
	struct load_opts lo = {
	    .server_ip = a.server,
	    .server = a.server6 ? usn_addr_ipv6(a.server_ip6) : usn_addr_ipv4(a.server),
	    .port = a.port,
	    .connections = a.connections,
	    .requests = a.requests,
	    .duration_ns = (uint64_t)(a.duration_s * 1e9),
	    .rate = a.rate,
	    .timeout_ns = (uint64_t)(a.timeout_s * 1e9),
	    .seed = a.seed,
	    .clock_ns = mono_ns,
	};
	int err = 0;
	struct load *l = load_create(s, corpus, &lo, &err);
	if (!l) {
		fprintf(stderr, "usn_load: cannot set up the load: %s\n", strerror(-err));
		usn_stack_destroy(s);
		usn_backend_close(b);
		load_corpus_close(corpus);
		return 1;
	}
	usn_backend_attach(b, s);
	struct observe *ob = NULL;
	rc = observe_start(&ob, &a.obs, b, s, NULL, msg, sizeof(msg));
	if (rc != 0) {
		fprintf(stderr, "usn_load: %s\n", msg);
		usn_backend_attach(b, NULL);
		load_destroy(l);
		usn_stack_destroy(s);
		usn_backend_close(b);
		load_corpus_close(corpus);
		return 2;
	}

	cli_stop_on_signals();

	printf("usn_load: %u connections on %u worker%s, %s", a.connections, a.workers,
	       a.workers == 1 ? "" : "s", a.rate > 0 ? "fixed rate" : "closed loop");
	if (a.rate > 0)
		printf(" %.0f/s", a.rate);
	if (a.duration_s)
		printf(", %.1f s", a.duration_s);
	if (a.requests)
		printf(", %" PRIu64 " requests", a.requests);
	printf("\n");

	struct run_ctx ctx = {.stack = s, .load = l};
	struct timespec cpu0, cpu1;
	uint64_t wall0 = mono_ns(NULL);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
	rc = usn_backend_run(b, worker_fn, &ctx);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
	observe_stop(ob);
	/* The run's own CPU and wall time (port start-up excluded): a bench
	 * divides them for the cores this client kept busy. */
	double cpu_s = (double)(cpu1.tv_sec - cpu0.tv_sec) + (double)(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
	double wall_s = (double)(mono_ns(NULL) - wall0) / 1e9;
	if (rc != 0)
		fprintf(stderr, "usn_load: backend run: %s\n", strerror(-rc));

	struct load_stats *st = malloc(sizeof(*st));
	if (!st) {
		fprintf(stderr, "usn_load: out of memory\n");
		return 1;
	}
	load_stats_sum(l, st);
	load_print(stdout, st);
	if (!a.quiet)
		usn_backend_print_stats(b, stdout);
	int status = rc ? 1 : 0;
	if (a.json) {
		FILE *f = strcmp(a.json, "-") == 0 ? stdout : fopen(a.json, "w");
		if (!f) {
			fprintf(stderr, "usn_load: %s: %s\n", a.json, strerror(errno));
			status = 1;
		} else {
			char ip[INET6_ADDRSTRLEN + 2];
			if (a.server6) {
				char t[INET6_ADDRSTRLEN];
				snprintf(ip, sizeof(ip), "[%s]", cli_ip6_text(a.server_ip6, t, sizeof(t)));
			} else {
				struct in_addr ia = {.s_addr = htonl(a.server)};
				inet_ntop(AF_INET, &ia, ip, sizeof(ip));
			}
			char label[256], extra[768];
			json_str(label, sizeof(label), a.label ? a.label : "usn_load");
			snprintf(extra, sizeof(extra),
				 "\"label\": %s, \"tool\": \"usn_load\", \"server\": \"%s:%u\", "
				 "\"connections\": %u, \"workers\": %u, "
				 "\"mode\": \"%s\", \"rate\": %.1f, \"pages\": %" PRIu32
				 ", \"cpu_s\": %.4f, \"wall_s\": %.4f",
				 label, ip, a.port, a.connections, a.workers,
				 a.rate > 0 ? "fixed-rate" : "closed-loop", a.rate, corpus->n, cpu_s, wall_s);
			load_json(f, st, extra);
			fprintf(f, "\n");
			if (f != stdout)
				fclose(f);
		}
	}
	free(st);
	usn_backend_attach(b, NULL); /* telemetry lets the stack go first */
	load_destroy(l);
	usn_stack_destroy(s);
	usn_backend_close(b);
	load_corpus_close(corpus);
	return status;
}
