/* usn_echo: a TCP and UDP echo server (RFC 862) on libusnet, on the port
 * backend.h opens (the Linux packet port with --iface, else DPDK). Each
 * TCP connection copies what it receives into a preallocated ring and
 * sends it back by reference; each UDP datagram (IPv4, or IPv6 with a
 * second --ip) goes straight back, its payload copied into the answer by
 * a writer. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../common/cli.h"
#include "../common/observe.h"
#include "usnet/backend.h"
#include "usnet/stack.h"
#include "usnet/tcp.h"
#include "usnet/udp.h"

/* Per-connection ring: what arrived and is not yet acknowledged by the
 * peer. The receive window is half of it, less what the ring holds
 * (usn_tcp_recv_hold until the echo is acknowledged): a peer can never have
 * more than the window unacknowledged, and one that stops reading meets a
 * zero window. The abort on overflow is a guard that cannot fire. */
#define ECHO_RING 65536u
#define ECHO_RCV_WND (ECHO_RING / 2u)
/* Connections per worker (--max-conns). Their rings are address space
 * reserved at start (mmap, MAP_NORESERVE: 4 GiB a worker at the default),
 * backed by memory only where a connection has carried data, and a closed
 * connection's slot is the next one taken; so memory follows the
 * connections in use, and nothing is allocated once the workers run. */
#define ECHO_DEFAULT_CONNS 65536u
#define ECHO_MAX_CONNS 1000000u

/* One line per flag; apps/echo/README.md carries the same table. */
static const char usage[] =
    "usage: usn_echo PORT --ip ADDR/PREFIX [options]\n"
    "PORT says which network port to use (see \"port:\" below)\n"
    "  --ip ADDR/PREFIX     interface address and on-link prefix, e.g. 198.18.0.2/24 (required); given\n"
    "                       a second time with an IPv6 address (e.g. 2001:2::2/64), the stack also has\n"
    "                       that address and a link-local one, answers ping and neighbour discovery on\n"
    "                       both, and echoes TCP and UDP over both\n"
    "  --gw ADDR            next hop for off-link peers, one per family (default: none)\n"
    "  --port N             TCP and UDP port to echo on, 1..65535 (default 7)\n"
    "  --no-udp             echo on TCP only: datagrams to the port get ICMP (ICMPv6) port unreachable (default: UDP too)\n"
    "  --workers N          workers, one per queue and core, 1..64 (default 1; with DPDK, EAL -l must list N lcores)\n"
    "  --idle-backoff-us N  sleep up to N us when idle instead of spinning, 0..1000000 (default 0: spin)\n"
    "  --max-conns N        connections per worker, 1..1000000; each reserves a 64 KiB ring, backed once it carries data (default 65536)\n"
    OBSERVE_USAGE
    "  -h, --help           print this help and exit\n"
    "examples: usn_echo --iface veth0 --ip 198.18.0.2/24\n"
    "          usn_echo --no-huge -m 512 -l 0 --vdev=net_af_packet0,iface=veth0 -- --ip 198.18.0.2/24\n";

struct echo_opts {
	uint32_t ip, gw;
	uint8_t prefix;
	bool have_ip6;
	uint8_t ip6[16], prefix6, gw6[16];
	uint16_t port, workers;
	uint32_t idle_backoff_us;
	uint32_t max_conns;
	bool no_udp;
	struct observe_opts obs; /* --stats-interval, --pcap */
};

struct echo_worker;

struct echo_conn {
	struct usn_tcp_conn *c;
	struct echo_worker *ew;
	struct echo_conn *next_free;
	uint8_t *ring;
	/* Stream offsets: acked <= queued <= filled, filled - acked <= ECHO_RING. */
	uint64_t acked;	 /* acknowledged by the peer: ring space free again */
	uint64_t queued; /* handed to usn_tcp_send_ref */
	uint64_t filled; /* received and copied into the ring */
	bool peer_closed;
	bool closing;
};

struct echo_worker {
	uint16_t id;
	struct echo_conn *conns;
	uint8_t *rings;
	struct echo_conn *free;
	uint64_t accepted, closed, reset, bytes, overflow, no_slot;
	uint64_t udp_dgrams, udp_bytes, udp_not_sent;
};

struct echo_app {
	struct usn_stack *stack;
	struct echo_worker *workers;
	uint16_t n_workers;
	uint32_t max_conns;
};

/* Set by SIGINT/SIGTERM, read by every worker's poll loop: the one global
 * a signal handler leaves no way around (int is glibc's sig_atomic_t). */
/* ---- connection handlers (run on the worker that owns the connection) ---- */

static void echo_flush(struct echo_conn *ec)
{
	while (ec->queued < ec->filled) {
		uint32_t off = (uint32_t)(ec->queued % ECHO_RING);
		uint32_t len = (uint32_t)(ec->filled - ec->queued);
		int rc;

		if (len > ECHO_RING - off)
			len = ECHO_RING - off; /* up to the wrap; the rest next turn */
		rc = usn_tcp_send_ref(ec->c, ec->ring + off, len, NULL);
		if (rc != 0)
			return; /* -ENOBUFS: retried from sent_fn; others: closing anyway */
		ec->queued += len;
	}
	if (ec->peer_closed && !ec->closing) {
		ec->closing = true;
		(void)usn_tcp_close(ec->c);
	}
}

static void echo_connected(struct usn_tcp_conn *c, void *user)
{
	struct echo_worker *ew = usn_worker_user(usn_tcp_worker(c));
	struct echo_conn *ec = ew->free;

	(void)user;
	if (!ec) {
		ew->no_slot++;
		usn_tcp_abort(c); /* closed_fn sees user NULL */
		return;
	}
	ew->free = ec->next_free;
	ec->c = c;
	ec->acked = ec->queued = ec->filled = 0;
	ec->peer_closed = ec->closing = false;
	ew->accepted++;
	usn_tcp_set_user(c, ec);
}

static void echo_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor data)
{
	struct echo_conn *ec = user;
	uint32_t n = usn_cursor_size(data);
	uint32_t off, first;

	if (!ec)
		return;
	if (ec->filled - ec->acked + n > ECHO_RING) {
		/* The peer sends but does not read its echo: no room left. */
		ec->ew->overflow++;
		usn_tcp_abort(c);
		return;
	}
	off = (uint32_t)(ec->filled % ECHO_RING);
	first = n < ECHO_RING - off ? n : ECHO_RING - off;
	usn_cursor_read(data, ec->ring + off, first);
	usn_cursor_read(usn_cursor_drop(data, first), ec->ring, n - first);
	ec->filled += n;
	ec->ew->bytes += n;
	/* Held until the peer acknowledges its echo: the window then never
	 * lets a reading peer have more than ECHO_RCV_WND unacknowledged. */
	usn_tcp_recv_hold(c, n);
	echo_flush(ec);
}

static void echo_sent(struct usn_tcp_conn *c, void *user, uint32_t bytes)
{
	struct echo_conn *ec = user;

	if (!ec)
		return;
	ec->acked += bytes;
	if (ec->acked > ec->queued)
		ec->acked = ec->queued;
	usn_tcp_recv_done(c, bytes);
	echo_flush(ec);
}

static void echo_remote_closed(struct usn_tcp_conn *c, void *user)
{
	struct echo_conn *ec = user;

	(void)c;
	if (!ec)
		return;
	ec->peer_closed = true;
	echo_flush(ec);
}

static void echo_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	struct echo_conn *ec = user;
	struct echo_worker *ew;

	(void)c;
	if (!ec)
		return;
	ew = ec->ew;
	ew->closed++;
	if (why != USN_TCP_CLOSE_NORMAL)
		ew->reset++;
	ec->c = NULL;
	ec->next_free = ew->free;
	ew->free = ec;
}

static const struct usn_tcp_handlers echo_handlers = {
    .connected_fn = echo_connected,
    .recv_fn = echo_recv,
    .sent_fn = echo_sent,
    .remote_closed_fn = echo_remote_closed,
    .closed_fn = echo_closed,
};

static int echo_worker_main(void *arg, uint16_t id)
{
	struct echo_app *app = arg;
	struct usn_worker *w = usn_stack_worker(app->stack, id);

	usn_worker_start(w);
	usn_worker_run(w, cli_stop_flag());
	return 0;
}

/* ---- UDP echo (runs on the worker that received the datagram) ---- */

/* The answer's payload: the received one, read through its cursor (which
 * may span chained buffers) while the handler still holds it. */
static void echo_udp_write(void *arg, struct usn_cursor dst)
{
	const struct usn_cursor *src = arg;
	uint8_t bounce[512];

	for (uint32_t off = 0; off < usn_cursor_size(*src);) {
		size_t n = usn_cursor_read(usn_cursor_drop(*src, off), bounce, sizeof(bounce));

		usn_cursor_write(usn_cursor_drop(dst, off), bounce, n);
		off += (uint32_t)n;
	}
}

static void echo_udp_recv(struct usn_worker *w, void *user, const struct usn_addr *peer, uint16_t peer_port,
			  uint16_t local_port, struct usn_cursor data)
{
	struct echo_worker *ew = usn_worker_user(w);

	(void)user;
	/* A datagram that cannot go back now (TX, ARP or neighbour queue
	 * full, no buffer) is dropped, as UDP may: counted, never waited for.
	 * peer is either family: the answer goes back over the same one. */
	if (usn_udp_send_writer(w, local_port, peer, peer_port, usn_cursor_size(data), echo_udp_write, &data) == 0) {
		ew->udp_dgrams++;
		ew->udp_bytes += usn_cursor_size(data);
	} else {
		ew->udp_not_sent++;
	}
}

/* ---- set-up ---- */

/* A number in lo..hi (cli_parse_u64's syntax). */
static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t v;

	if (!cli_parse_u64(s, hi, &v) || v < lo)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Parses the program's options (those after the port's); on error writes
 * a one-line message. */
static int parse_opts(int argc, char **argv, struct echo_opts *o, char *msg, size_t msg_len)
{
	bool have_ip = false;

	*o = (struct echo_opts){.port = 7, .workers = 1, .max_conns = ECHO_DEFAULT_CONNS};
	for (int i = 0; i < argc; i++) {
		char *name = argv[i], *val = NULL, *eq;
		char buf[64];
		uint32_t v;

		if (strncmp(name, "--", 2) != 0) {
			snprintf(msg, msg_len,
				 "unexpected argument \"%s\" (options start with --; see --help)", name);
			return -1;
		}
		switch (observe_parse(argc, argv, &i, &o->obs, msg, msg_len)) {
		case 1:
			continue;
		case -1:
			return -1;
		default:
			break;
		}
		if (strcmp(name, "--no-udp") == 0) {
			o->no_udp = true;
			continue;
		}
		if (strncmp(name, "--no-udp=", 9) == 0) {
			snprintf(msg, msg_len, "--no-udp takes no value (see --help)");
			return -1;
		}
		eq = strchr(name, '=');
		if (eq) {
			snprintf(buf, sizeof(buf), "%.*s", (int)(eq - name), name);
			name = buf;
			val = eq + 1;
		}
		if (strcmp(name, "--ip") && strcmp(name, "--gw") && strcmp(name, "--port") &&
		    strcmp(name, "--workers") && strcmp(name, "--idle-backoff-us") && strcmp(name, "--max-conns")) {
			snprintf(msg, msg_len, "unknown option %s (see --help)", name);
			return -1;
		}
		if (!val) {
			if (i + 1 >= argc) {
				snprintf(msg, msg_len, "option %s needs a value (see --help)", name);
				return -1;
			}
			val = argv[++i];
		}
		if (strcmp(name, "--ip") == 0 && cli_is_ip6(val)) {
			if (o->have_ip6) {
				snprintf(msg, msg_len, "--ip %s: an IPv6 address was already given (one per family)", val);
				return -1;
			}
			if (!cli_parse_ip6_prefix(val, o->ip6, &o->prefix6)) {
				snprintf(msg, msg_len, "--ip %s: expected IPv6 ADDR/PREFIX, e.g. 2001:2::2/64", val);
				return -1;
			}
			o->have_ip6 = true;
		} else if (strcmp(name, "--ip") == 0) {
			char addr[64], *slash = strchr(val, '/');

			if (have_ip) {
				snprintf(msg, msg_len, "--ip %s: an IPv4 address was already given (one per family)", val);
				return -1;
			}

			if (!slash || slash - val >= (long)sizeof(addr)) {
				snprintf(msg, msg_len, "--ip %s: expected ADDR/PREFIX, e.g. 198.18.0.2/24",
					 val);
				return -1;
			}
			snprintf(addr, sizeof(addr), "%.*s", (int)(slash - val), val);
			if (!cli_parse_ip(addr, &o->ip)) {
				snprintf(msg, msg_len, "--ip %s: \"%s\" is not an IPv4 address", val, addr);
				return -1;
			}
			if (parse_u32(slash + 1, 1, 32, &v) != 0) {
				snprintf(msg, msg_len, "--ip %s: prefix \"%s\" is not in 1..32", val,
					 slash + 1);
				return -1;
			}
			o->prefix = (uint8_t)v;
			have_ip = true;
		} else if (strcmp(name, "--gw") == 0 && cli_is_ip6(val)) {
			if (!cli_parse_ip6(val, o->gw6)) {
				snprintf(msg, msg_len, "--gw %s: not an IPv6 address", val);
				return -1;
			}
		} else if (strcmp(name, "--gw") == 0) {
			if (!cli_parse_ip(val, &o->gw)) {
				snprintf(msg, msg_len, "--gw %s: not an IPv4 address", val);
				return -1;
			}
		} else if (strcmp(name, "--port") == 0) {
			if (parse_u32(val, 1, 65535, &v) != 0) {
				snprintf(msg, msg_len, "--port %s: not a port number in 1..65535", val);
				return -1;
			}
			o->port = (uint16_t)v;
		} else if (strcmp(name, "--workers") == 0) {
			if (parse_u32(val, 1, 64, &v) != 0) {
				snprintf(msg, msg_len, "--workers %s: not a number in 1..64", val);
				return -1;
			}
			o->workers = (uint16_t)v;
		} else if (strcmp(name, "--max-conns") == 0) {
			if (parse_u32(val, 1, ECHO_MAX_CONNS, &v) != 0) {
				snprintf(msg, msg_len, "--max-conns %s: not a number in 1..%u", val, ECHO_MAX_CONNS);
				return -1;
			}
			o->max_conns = v;
		} else {
			if (parse_u32(val, 0, 1000000, &v) != 0) {
				snprintf(msg, msg_len, "--idle-backoff-us %s: not a number in 0..1000000",
					 val);
				return -1;
			}
			o->idle_backoff_us = v;
		}
	}
	if (!have_ip) {
		snprintf(msg, msg_len,
			 "missing --ip ADDR/PREFIX with an IPv4 address (see --help)");
		return -1;
	}
	return 0;
}

static int workers_create(struct echo_app *app)
{
	app->workers = calloc(app->n_workers, sizeof(*app->workers));
	if (!app->workers)
		return -ENOMEM;
	for (uint16_t i = 0; i < app->n_workers; i++) {
		struct echo_worker *ew = &app->workers[i];

		ew->id = i;
		ew->conns = calloc(app->max_conns, sizeof(*ew->conns));
		if (!ew->conns)
			return -ENOMEM;
		void *rings = mmap(NULL, (size_t)app->max_conns * ECHO_RING, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (rings == MAP_FAILED)
			return -ENOMEM;
		ew->rings = rings;
		for (uint32_t k = app->max_conns; k-- > 0;) {
			ew->conns[k].ew = ew;
			ew->conns[k].ring = ew->rings + (size_t)k * ECHO_RING;
			ew->conns[k].next_free = ew->free;
			ew->free = &ew->conns[k];
		}
		usn_worker_set_user(usn_stack_worker(app->stack, i), ew);
	}
	return 0;
}

static void workers_destroy(struct echo_app *app)
{
	if (!app->workers)
		return;
	for (uint16_t i = 0; i < app->n_workers; i++) {
		free(app->workers[i].conns);
		if (app->workers[i].rings)
			munmap(app->workers[i].rings, (size_t)app->max_conns * ECHO_RING);
	}
	free(app->workers);
}

int main(int argc, char **argv)
{
	struct echo_app app = {0};
	struct echo_opts o;
	struct usn_stack_config cfg;
	struct usn_backend *b = NULL;
	struct observe *ob = NULL;
	struct usn_hal *hal;
	char msg[256] = "";
	int first, rc, status = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* --help anywhere, with or without "--", before any port is opened
	 * (the EAL would print its own usage for --help and exit). */
	if (cli_help_asked(argc, argv)) {
		printf("%s%s", usage, usn_backend_help());
		return 0;
	}
	/* The program's options come after the port's ("--iface IF", or EAL
	 * options and "--"); check them before the port opens, so a typo
	 * costs no start-up and needs no privileges. */
	first = usn_backend_args(argc, argv);
	rc = parse_opts(argc - first, argv + first, &o, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "usn_echo: %s\n", msg);
		return 2;
	}

	rc = usn_backend_open(first, argv, o.workers, &b, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "usn_echo: %s\n", msg);
		return 1;
	}
	hal = usn_backend_hal(b);

	usn_stack_config_init(&cfg, o.ip, o.prefix);
	cfg.gateway = o.gw;
	cfg.n_workers = o.workers;
	cfg.idle_backoff_us = o.idle_backoff_us;
	cfg.tcp_rcv_wnd = ECHO_RCV_WND;
	cfg.tcp_max_conns = o.max_conns;
	if (o.have_ip6) {
		cfg.ipv6 = true;
		cfg.n_ip6 = 1;
		memcpy(cfg.ip6[0].addr, o.ip6, 16);
		cfg.ip6[0].prefix_len = o.prefix6;
		memcpy(cfg.gateway6, o.gw6, 16);
	}
	if (usn_stack_config_check(&cfg, hal, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "usn_echo: %s\n", msg);
		goto out_backend;
	}
	app.stack = usn_stack_create(hal, &cfg);
	if (!app.stack) {
		fprintf(stderr, "usn_echo: cannot create the stack: no memory for %u connections per worker? (lower --max-conns; with DPDK, raise the EAL's -m)\n",
			o.max_conns);
		goto out_backend;
	}
	app.n_workers = o.workers;
	app.max_conns = o.max_conns;
	if (workers_create(&app) != 0) {
		fprintf(stderr, "usn_echo: out of memory for %u connections per worker (%u MiB of rings each; lower --max-conns)\n",
			o.max_conns, (unsigned)((uint64_t)o.max_conns * ECHO_RING >> 20));
		goto out_stack;
	}
	rc = usn_tcp_listen(app.stack, o.port, &echo_handlers, NULL);
	if (rc != 0) {
		fprintf(stderr, "usn_echo: cannot listen on port %u: %s\n", o.port, strerror(-rc));
		goto out_stack;
	}
	if (!o.no_udp) {
		rc = usn_udp_bind(app.stack, o.port, echo_udp_recv, NULL);
		if (rc != 0) {
			fprintf(stderr, "usn_echo: cannot bind UDP port %u: %s\n", o.port, strerror(-rc));
			goto out_stack;
		}
	}
	usn_backend_attach(b, app.stack);
	rc = observe_start(&ob, &o.obs, b, app.stack, NULL, msg, sizeof(msg));
	if (rc != 0) {
		fprintf(stderr, "usn_echo: %s\n", msg);
		usn_backend_attach(b, NULL);
		status = 2;
		goto out_stack;
	}

	cli_stop_on_signals();

	{
		struct in_addr a = {.s_addr = htonl(o.ip)};
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		printf(
		    "usn_echo: listening on %s/%u port %u (%s), mac %02x:%02x:%02x:%02x:%02x:%02x, %u worker%s, "
		    "mtu %u, offloads 0x%x\n",
		    ip, o.prefix, o.port, o.no_udp ? "tcp" : "tcp, udp", hal->mac[0], hal->mac[1], hal->mac[2], hal->mac[3], hal->mac[4],
		    hal->mac[5], o.workers, o.workers == 1 ? "" : "s", hal->mtu, hal->offloads);
		if (o.have_ip6) {
			struct usn_ipv6_addr v6[2];
			char t0[INET6_ADDRSTRLEN], t1[INET6_ADDRSTRLEN];

			usn_stack_ipv6_addrs(app.stack, v6, NULL, 2);
			printf("usn_echo: IPv6 %s/%u and %s answer ping and neighbour discovery and echo TCP%s\n",
			       cli_ip6_text(v6[1].addr, t1, sizeof t1), v6[1].prefix_len,
			       cli_ip6_text(v6[0].addr, t0, sizeof t0), o.no_udp ? "" : " and UDP");
		}
	}
	rc = usn_backend_run(b, echo_worker_main, &app);
	observe_stop(ob);
	if (rc != 0)
		fprintf(stderr, "usn_echo: workers failed to run: %s\n", strerror(-rc));
	else
		status = 0;

	printf("usn_echo: stopped\n");
	usn_backend_print_stats(b, stdout);
	for (uint16_t i = 0; i < app.n_workers; i++) {
		const struct echo_worker *ew = &app.workers[i];

		printf("echo worker %u: connections=%" PRIu64 " closed=%" PRIu64 " not_normal=%" PRIu64
		       " bytes=%" PRIu64 " overflow_aborts=%" PRIu64 " no_slot=%" PRIu64 "\n",
		       i, ew->accepted, ew->closed, ew->reset, ew->bytes, ew->overflow, ew->no_slot);
		if (!o.no_udp)
			printf("echo worker %u: udp_datagrams=%" PRIu64 " udp_bytes=%" PRIu64 " udp_not_sent=%" PRIu64
			       "\n",
			       i, ew->udp_dgrams, ew->udp_bytes, ew->udp_not_sent);
	}
	usn_backend_attach(b, NULL);
out_stack:
	usn_stack_destroy(app.stack);
	workers_destroy(&app);
out_backend:
	usn_backend_close(b);
	return status;
}
