/* bsd_ws: minimal_ws's twin on the Linux stack, the baseline bench/ compares
 * against (Rusty's "Minimal WS" on BSD sockets): pinned workers, one
 * SO_REUSEPORT listening socket per address family and one epoll each,
 * preloaded pages. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../common/cli.h"
#include "../http/http_parse.h"
#include "../http/page_store.h"

#define MAX_WORKERS 256
#define MAX_EVENTS 256
#define ACCEPT_BATCH 64	     /* accepts per listener wake-up, then serve the rest */
#define DRAIN_MAX (1u << 20) /* bytes discarded after a response before giving up */

/* One listening address per family: --addr given once or twice. */
#define MAX_ADDRS 2

struct opts {
	const char *root;
	const char *addr[MAX_ADDRS]; /* as given, one per family */
	unsigned n_addr;
	uint16_t port;
	unsigned workers;
	int cpus[CPU_SETSIZE];
	unsigned n_cpus;
	bool keepalive;
	bool allow_dotfiles;
	uint32_t idle_ms;
};

enum conn_state {
	C_READ,	 /* parsing a request */
	C_WRITE, /* a response is partly written */
	C_DRAIN, /* response done, write side shut: read to EOF, then close */
};

struct conn {
	int fd;
	enum conn_state state;
	struct conn *prev, *next; /* the worker's list, oldest activity first */
	uint64_t last_ms;
	uint32_t drained;
	struct http_reply rep;
	unsigned piece;	     /* piece being written */
	uint32_t off;	     /* bytes of that piece written */
	uint32_t rpos, rlen; /* unparsed bytes in rbuf (pipelined requests) */
	struct http_parser p;
	uint8_t rbuf[4096];
};

struct worker {
	unsigned id;
	int cpu;
	int lfd[MAX_ADDRS]; /* one per --addr, in its order */
	int ep, evfd;
	pthread_t th;
	const struct http_store *store;
	const struct opts *o;
	struct conn *head, *tail; /* open connections, LRU order */
	struct conn *free_list;	  /* recycled through ->next */
	uint64_t requests, accepted, st200, st404, st_other, timeouts;
	int err; /* the thread's failure, 0 if none */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* vDSO, no system call */
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void list_unlink(struct worker *w, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct worker *w, struct conn *c)
{
	c->prev = w->tail;
	c->next = NULL;
	if (w->tail)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
}

static void touch(struct worker *w, struct conn *c, uint64_t now)
{
	c->last_ms = now;
	if (w->tail != c) {
		list_unlink(w, c);
		list_append(w, c);
	}
}

static void conn_close(struct worker *w, struct conn *c)
{
	close(c->fd); /* also removes it from the epoll set */
	list_unlink(w, c);
	c->next = w->free_list;
	w->free_list = c;
}

static void start_reply(struct worker *w, struct conn *c)
{
	http_reply_for(w->store, &c->p, w->o->keepalive, &c->rep);
	c->piece = 0;
	c->off = 0;
	c->state = C_WRITE;
	w->requests++;
	if (c->rep.status == 200)
		w->st200++;
	else if (c->rep.status == 404)
		w->st404++;
	else
		w->st_other++;
}

/* Writes what is left of the reply: 1 done, 0 would block, -1 error. */
static int flush_reply(struct conn *c)
{
	while (c->piece < c->rep.n) {
		struct iovec iov[2];
		int n = 0;
		for (unsigned i = c->piece; i < c->rep.n; i++) {
			uint32_t skip = i == c->piece ? c->off : 0;
			iov[n].iov_base = (void *)(c->rep.piece[i].data + skip);
			iov[n].iov_len = c->rep.piece[i].len - skip;
			n++;
		}
		ssize_t k = writev(c->fd, iov, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
		}
		size_t left = (size_t)k;
		while (left && c->piece < c->rep.n) {
			uint32_t room = c->rep.piece[c->piece].len - c->off;
			if (left >= room) {
				left -= room;
				c->piece++;
				c->off = 0;
			} else {
				c->off += (uint32_t)left;
				left = 0;
			}
		}
	}
	return 1;
}

/* Runs the connection's state machine until it would block or ends.
 * Edge-triggered: every state reads or writes until EAGAIN before it
 * returns, so no readiness edge is ever lost. */
static void conn_run(struct worker *w, struct conn *c)
{
	for (;;) {
		switch (c->state) {
		case C_WRITE: {
			int r = flush_reply(c);
			if (r < 0)
				goto close;
			if (r == 0)
				return; /* EPOLLOUT will bring us back */
			if (c->rep.close) {
				/* Half-close, then read to EOF: closing with
				 * unread bytes would make the kernel send RST,
				 * and the client could lose the response. */
				shutdown(c->fd, SHUT_WR);
				c->state = C_DRAIN;
				c->drained = 0;
			} else {
				http_parser_init(&c->p);
				c->state = C_READ;
			}
			break;
		}
		case C_READ:
			if (c->rpos < c->rlen) {
				size_t used;
				enum http_parse_result r =
				    http_parse(&c->p, c->rbuf + c->rpos, c->rlen - c->rpos, &used);
				c->rpos += (uint32_t)used;
				if (r == HTTP_PARSE_DONE) {
					start_reply(w, c);
					break;
				}
			}
			c->rpos = c->rlen = 0;
			for (;;) {
				ssize_t n = read(c->fd, c->rbuf, sizeof(c->rbuf));
				if (n > 0) {
					c->rlen = (uint32_t)n;
					break;
				}
				if (n == 0)
					goto close; /* the client left before a full request */
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				goto close;
			}
			break;
		case C_DRAIN:
			for (;;) {
				ssize_t n = read(c->fd, c->rbuf, sizeof(c->rbuf));
				if (n > 0) {
					c->drained += (uint32_t)n;
					if (c->drained > DRAIN_MAX)
						goto close;
					continue;
				}
				if (n == 0)
					goto close;
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				goto close;
			}
		}
	}
close:
	conn_close(w, c);
}

static void accept_some(struct worker *w, int lfd, uint64_t now)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or EMFILE/ENOBUFS: the listener stays readable */
		}
		struct conn *c = w->free_list;
		if (c) {
			w->free_list = c->next;
		} else {
			c = malloc(sizeof(*c));
			if (!c) {
				close(fd);
				continue;
			}
		}
		c->fd = fd;
		c->state = C_READ;
		c->rpos = c->rlen = 0;
		c->prev = c->next = NULL;
		http_parser_init(&c->p);
		/* Registered once for both directions, edge-triggered: no
		 * epoll_ctl(MOD) when a write blocks or completes, which is one
		 * system call per large response saved. */
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			c->next = w->free_list;
			w->free_list = c;
			continue;
		}
		w->accepted++;
		list_append(w, c);
		c->last_ms = now;
		conn_run(w, c); /* the request is often already there */
	}
}

static void expire_idle(struct worker *w, uint64_t now)
{
	while (w->head && now - w->head->last_ms >= w->o->idle_ms) {
		w->timeouts++;
		conn_close(w, w->head);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			fprintf(stderr, "bsd_ws: worker %u: cannot pin to cpu %d\n", w->id, w->cpu);
	}
	struct epoll_event evs[MAX_EVENTS];
	bool stop = false;
	while (!stop) {
		int timeout = -1;
		if (w->o->idle_ms && w->head) {
			uint64_t due = w->head->last_ms + w->o->idle_ms, now = now_ms();
			timeout = due > now ? (int)(due - now) : 0;
		}
		int n = epoll_wait(w->ep, evs, MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			w->err = errno;
			break;
		}
		uint64_t now = now_ms();
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &w->lfd[0] || p == &w->lfd[1]) {
				accept_some(w, *(int *)p, now);
			} else if (p == &w->evfd) {
				stop = true;
			} else {
				struct conn *c = p;
				if (evs[i].events & EPOLLERR) {
					conn_close(w, c);
					continue;
				}
				touch(w, c, now);
				conn_run(w, c);
			}
		}
		if (w->o->idle_ms)
			expire_idle(w, now);
	}
	while (w->head)
		conn_close(w, w->head);
	while (w->free_list) {
		struct conn *c = w->free_list;
		w->free_list = c->next;
		free(c);
	}
	return NULL;
}

/* A listening socket on addr (either family). An IPv6 one is IPV6_V6ONLY:
 * each family has a socket of its own rather than one dual-stack socket,
 * because a dual-stack socket takes IPv4 only when bound to "::" (and
 * then as v4-mapped addresses on every interface), so it cannot listen on
 * one IPv4 and one IPv6 address; the IPv4 socket stays what it was
 * without --addr for IPv6, and net.ipv6.bindv6only decides nothing. */
static int listen_socket(const char *addr, uint16_t port, char *msg, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	bool v6 = cli_is_ip6(addr);
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &a6->sin6_addr) != 1) {
			snprintf(msg, len, "bad --addr %s (an IPv4 or IPv6 address)", addr);
			return -1;
		}
		sl = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &a4->sin_addr) != 1) {
			snprintf(msg, len, "bad --addr %s (an IPv4 or IPv6 address)", addr);
			return -1;
		}
		sl = sizeof(*a4);
	}
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, len, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	/* Accepted sockets inherit TCP_NODELAY from the listener: no per-
	 * connection setsockopt, and a keep-alive response's tail is not held
	 * back by Nagle. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 4096) != 0) {
		snprintf(msg, len, v6 ? "cannot listen on [%s]:%u: %s" : "cannot listen on %s:%u: %s", addr,
			 port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* One line per flag; apps/bsd_ws/README.md carries the same table. */
static const char usage[] =
    "usage: bsd_ws --root DIR --addr ADDR [--addr ADDR6] [options]\n"
    "  --root DIR           directory of pages, all preloaded at start (required)\n"
    "  --addr ADDR          address to listen on, IPv4 or IPv6 (required); given twice, one of each\n"
    "                       family (e.g. --addr 198.18.0.1 --addr 2001:2::1): each worker then has an\n"
    "                       IPv4 socket and an IPv6-only one\n"
    "  --port N             TCP port to serve (default 80)\n"
    "  --workers N          threads, each with its own SO_REUSEPORT socket and epoll, 1..256 (default 1)\n"
    "  --cpus LIST          CPUs the workers are pinned to in turn, e.g. 0,2-3 (default: those we may run on)\n"
    "  --keepalive          several requests per connection (default: one, Connection: close)\n"
    "  --idle-timeout-ms N  close a connection with no activity for N ms; 0: never (default 10000)\n"
    "  --allow-dotfiles     also serve files and directories whose name begins with a dot (default: not loaded)\n"
    "  -h, --help           print this help and exit\n";

static const char prog[] = "bsd_ws";

/* "0,2,4-7" */
static bool parse_cpus(const char *s, struct opts *o)
{
	o->n_cpus = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		long a = strtol(p, &end, 10), b;
		if (end == p || errno || a < 0 || a >= CPU_SETSIZE)
			return false;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || errno || b < a || b >= CPU_SETSIZE)
				return false;
			p = end;
		}
		for (long c = a; c <= b; c++) {
			if (o->n_cpus >= CPU_SETSIZE)
				return false;
			o->cpus[o->n_cpus++] = (int)c;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return false;
	}
	return o->n_cpus > 0;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"addr", required_argument, NULL, 'a'},
	    {"port", required_argument, NULL, 'p'},
	    {"workers", required_argument, NULL, 'w'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"keepalive", no_argument, NULL, 'k'},
	    {"idle-timeout-ms", required_argument, NULL, 'i'},
	    {"allow-dotfiles", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->port = 80;
	o->workers = 1;
	o->idle_ms = 10000;
	opterr = 0;
	int ch;
	uint64_t v;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o->root = optarg;
			break;
		case 'a': {
			/* One address per family; a third is always a repeat. */
			const char *fam = cli_is_ip6(optarg) ? "IPv6" : "IPv4";
			for (unsigned k = 0; k < o->n_addr; k++)
				if (cli_is_ip6(o->addr[k]) == cli_is_ip6(optarg))
					cli_fail(prog, "--addr %s: an %s address was already given (one per family)",
						 optarg, fam);
			o->addr[o->n_addr++] = optarg;
			break;
		}
		case 'p':
			if (!cli_parse_u64(optarg, 65535, &v) || v == 0)
				cli_fail(prog, "bad --port %s", optarg);
			o->port = (uint16_t)v;
			break;
		case 'w':
			if (!cli_parse_u64(optarg, MAX_WORKERS, &v) || v == 0)
				cli_fail(prog, "bad --workers %s (1..256)", optarg);
			o->workers = (unsigned)v;
			break;
		case 'c':
			if (!parse_cpus(optarg, o))
				cli_fail(prog, "bad --cpus %s (a list like 0,2-3)", optarg);
			break;
		case 'k':
			o->keepalive = true;
			break;
		case 'd':
			o->allow_dotfiles = true;
			break;
		case 'i':
			if (!cli_parse_u64(optarg, INT_MAX, &v))
				cli_fail(prog, "bad --idle-timeout-ms %s", optarg);
			o->idle_ms = (uint32_t)v;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case ':':
			cli_fail(prog, "option %s needs a value", argv[optind - 1]);
			break;
		default:
			cli_fail(prog, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_fail(prog, "unexpected argument %s", argv[optind]);
	if (!o->root)
		cli_fail(prog, "%s", "--root is required");
	if (o->n_addr == 0)
		cli_fail(prog, "%s", "--addr is required");
	if (o->n_cpus == 0) {
		/* default: the CPUs we may run on, in order */
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			for (int c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &set))
					o->cpus[o->n_cpus++] = c;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);

	char msg[512];
	struct http_store_opts so = {
	    .csum_build = NULL, .csum_free = NULL, .log = stderr, .allow_dotfiles = o.allow_dotfiles};
	struct http_store *store = http_store_open(o.root, &so, msg, sizeof(msg));
	if (!store) {
		fprintf(stderr, "bsd_ws: %s\n", msg);
		return 2;
	}
	printf("loaded %" PRIu32 " pages, %" PRIu64 " bytes\n", http_store_pages(store),
	       http_store_bytes(store));

	/* Signals go to main only (sigwait), never into a worker's epoll_wait. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct worker *ws = calloc(o.workers, sizeof(*ws));
	if (!ws) {
		fprintf(stderr, "bsd_ws: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < o.workers; i++) {
		struct worker *w = &ws[i];
		w->id = i;
		w->cpu = o.n_cpus ? o.cpus[i % o.n_cpus] : -1;
		w->store = store;
		w->o = &o;
		w->lfd[0] = w->lfd[1] = -1;
		for (unsigned k = 0; k < o.n_addr; k++) {
			w->lfd[k] = listen_socket(o.addr[k], o.port, msg, sizeof(msg));
			if (w->lfd[k] < 0) {
				fprintf(stderr, "bsd_ws: %s\n", msg);
				return 1;
			}
		}
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->ep < 0 || w->evfd < 0) {
			fprintf(stderr, "bsd_ws: epoll/eventfd: %s\n", strerror(errno));
			return 1;
		}
		/* The listener is level-triggered: a wake-up accepts at most
		 * ACCEPT_BATCH connections, and what is left is reported again,
		 * so accepting cannot starve the open connections. */
		for (unsigned k = 0; k < o.n_addr; k++) {
			struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &w->lfd[k]};
			if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd[k], &lev) != 0) {
				fprintf(stderr, "bsd_ws: epoll_ctl: %s\n", strerror(errno));
				return 1;
			}
		}
		struct epoll_event eev = {.events = EPOLLIN, .data.ptr = &w->evfd};
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &eev) != 0) {
			fprintf(stderr, "bsd_ws: epoll_ctl: %s\n", strerror(errno));
			return 1;
		}
	}
	for (unsigned i = 0; i < o.workers; i++) {
		int rc = pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
		if (rc != 0) {
			fprintf(stderr, "bsd_ws: cannot start worker %u: %s\n", i, strerror(rc));
			return 1;
		}
	}
	printf("listening on ");
	for (unsigned k = 0; k < o.n_addr; k++)
		printf(cli_is_ip6(o.addr[k]) ? "%s[%s]:%u" : "%s%s:%u", k ? " and " : "", o.addr[k], o.port);
	printf(" with %u worker%s%s\n", o.workers, o.workers == 1 ? "" : "s",
	       o.keepalive ? ", keep-alive" : "");

	int sig = 0;
	sigwait(&sigs, &sig);
	for (unsigned i = 0; i < o.workers; i++) {
		uint64_t one = 1;
		if (write(ws[i].evfd, &one, sizeof(one)) < 0)
			fprintf(stderr, "bsd_ws: cannot wake worker %u\n", i);
	}
	uint64_t total = 0;
	int rc = 0;
	for (unsigned i = 0; i < o.workers; i++) {
		struct worker *w = &ws[i];
		pthread_join(w->th, NULL);
		printf("worker %u (cpu %d): %" PRIu64 " requests (200: %" PRIu64 ", 404: %" PRIu64
		       ", other: %" PRIu64 "), %" PRIu64 " connections, %" PRIu64 " idle timeouts\n",
		       w->id, w->cpu, w->requests, w->st200, w->st404, w->st_other, w->accepted, w->timeouts);
		if (w->err) {
			fprintf(stderr, "bsd_ws: worker %u: epoll_wait: %s\n", i, strerror(w->err));
			rc = 1;
		}
		total += w->requests;
		for (unsigned k = 0; k < o.n_addr; k++)
			close(w->lfd[k]);
		close(w->ep);
		close(w->evfd);
	}
	printf("stopped by %s: %" PRIu64 " requests\n", sig == SIGINT ? "SIGINT" : "SIGTERM", total);
	free(ws);
	http_store_close(store);
	return rc;
}
