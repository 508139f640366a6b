/* Simulation test: minimal_ws's server logic (apps/minimal_ws/mws.c) on one
 * simulated host, a small libusnet HTTP client on another; pages must arrive
 * byte-identical (also over a lossy link), and HEAD and errors as specified.
 * Every case runs over IPv4 and again over IPv6 (its name then ends in _v6). */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../apps/http/page_store.h"
#include "../../apps/minimal_ws/mws.h"
#include "pagetree.h"
#include "simnet.h"
#include "usnet/csum.h"
#include "usnet/tcp.h"

#define SERVER_IP SIMNET_IP(0, 1)
#define CLIENT_IP SIMNET_IP(0, 2)
#define PORT 80
#define MAX_VIRTUAL_US (120u * 1000000u)

/* ---- the corpus ---- */

static struct pagetree_file files[] = {
    {"index.html", 60, NULL},	    {"style.css", 777, NULL},	{"dir/index.html", 1, NULL},
    {"dir/page.html", 70001, NULL}, {"big.bin", 1200000, NULL}, {"empty.txt", 0, NULL},
};
#define N_FILES (sizeof(files) / sizeof(files[0]))

struct fixture {
	char root[64];
	struct http_store *store;
	struct simnet net;
	struct simnet_host *server, *client;
	struct mws *mws;
	bool v6; /* the client connects over IPv6 (2001:2::2 to 2001:2::1) */
};

/* The family a case runs over: its prestate, which the setup reads
 * before it puts the fixture in its place. */
static const bool fam_v4 = false, fam_v6 = true;
/* A case twice: over IPv4 under its name, over IPv6 as name_v6. */
#define BOTH_FAMILIES(f, su, td) {#f, f, su, td, (void *)&fam_v4}, {#f "_v6", f, su, td, (void *)&fam_v6}

/* Host n's IPv6 address, 2001:2::n (RFC 5180's benchmarking prefix):
 * the server is 1, the client 2, as in SERVER_IP and CLIENT_IP. */
static void http_ip6(uint8_t n, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[15] = n;
}

/* The defaults for a host with IPv4 address ip, and IPv6 beside it (host
 * n's address) if v6: IPv4 stays configured, the connections choose. */
static void host_cfg(struct usn_stack_config *c, uint32_t ip, bool v6, uint8_t n)
{
	usn_stack_config_init(c, ip, 15);
	if (!v6)
		return;
	c->ipv6 = true;
	c->ipv6_no_dad = true;
	c->n_ip6 = 1;
	c->ip6[0].prefix_len = 64;
	http_ip6(n, c->ip6[0].addr);
}

static bool state_v6(void **state)
{
	return *state && *(const bool *)*state;
}

/* A connection from the client's worker to the server's PORT over the
 * fixture's family. */
static struct usn_tcp_conn *connect_server(const struct fixture *f, const struct usn_tcp_handlers *h, void *user)
{
	struct usn_addr dst = usn_addr_ipv4(SERVER_IP);
	if (f->v6) {
		dst.family = USN_AF_INET6;
		http_ip6(1, dst.u.v6);
	}
	return usn_tcp_connect_addr(usn_stack_worker(f->client->stack, 0), &dst, PORT, h, user);
}

static const struct pagetree_file *file_named(const char *rel)
{
	for (size_t i = 0; i < N_FILES; i++)
		if (strcmp(files[i].path, rel) == 0)
			return &files[i];
	fail_msg("no file %s", rel);
	return NULL;
}

static int setup_mode(void **state, bool keepalive, const struct usn_sim_faults *faults, uint32_t idle_ms,
		      uint32_t header_ms)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->v6 = state_v6(state);
	pagetree_create(f->root, sizeof(f->root), "test_http_sim", files, N_FILES, 12345);
	struct http_store_opts so = {.csum_build = usn_csum_table_build, .csum_free = usn_csum_table_free};
	char msg[256];
	f->store = http_store_open(f->root, &so, msg, sizeof(msg));
	if (!f->store)
		fail_msg("store: %s", msg);
	simnet_init(&f->net, 7);
	struct usn_stack_config sc, cc;
	host_cfg(&sc, SERVER_IP, f->v6, 1);
	host_cfg(&cc, CLIENT_IP, f->v6, 2);
	f->server = simnet_add_host(&f->net, SERVER_IP, &sc, NULL);
	f->client = simnet_add_host(&f->net, CLIENT_IP, &cc, NULL);
	assert_non_null(f->server);
	assert_non_null(f->client);
	if (faults) {
		usn_sim_port_set_faults(f->server->port, faults);
		usn_sim_port_set_faults(f->client->port, faults);
	}
	struct mws_opts mo = {
	    .port = PORT, .keepalive = keepalive, .idle_timeout_ms = idle_ms, .header_timeout_ms = header_ms};
	int err = 0;
	f->mws = mws_init(f->server->stack, f->store, &mo, &err);
	if (!f->mws)
		fail_msg("mws_init: %d", err);
	*state = f;
	return 0;
}

static int setup_close(void **state)
{
	return setup_mode(state, false, NULL, 0, 0);
}

static int setup_keepalive(void **state)
{
	return setup_mode(state, true, NULL, 0, 0);
}

static int setup_lossy(void **state)
{
	struct usn_sim_faults fl = {
	    .loss = 0.02, .duplicate = 0.01, .reorder = 0.02, .delay_us = 200, .jitter_us = 100};
	return setup_mode(state, false, &fl, 0, 0);
}

#define IDLE_MS 2000u

static int setup_idle(void **state)
{
	return setup_mode(state, false, NULL, IDLE_MS, 0);
}

#define HEADER_MS 5000u

static int setup_header(void **state)
{
	return setup_mode(state, false, NULL, IDLE_MS, HEADER_MS);
}

/* The header deadline alone (no idle timeout). */
static int setup_header_only(void **state)
{
	return setup_mode(state, false, NULL, 0, HEADER_MS);
}

#define KA_HEADER_MS 2000u

static int setup_keepalive_header(void **state)
{
	return setup_mode(state, true, NULL, 0, KA_HEADER_MS);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	/* Every segment either stack received came over the case's family. */
	int rc = 0;
	struct simnet_host *hosts[2] = {f->server, f->client};
	for (int i = 0; i < 2; i++) {
		struct usn_stats st;
		usn_stack_stats(hosts[i]->stack, &st);
		if (st.tcp_rx_segs == 0 || st.tcp6_rx_segs != (f->v6 ? st.tcp_rx_segs : 0)) {
			fprintf(stderr, "%s: %llu TCP segments received, %llu over IPv6 (the case runs over IPv%d)\n",
				i ? "client" : "server", (unsigned long long)st.tcp_rx_segs,
				(unsigned long long)st.tcp6_rx_segs, f->v6 ? 6 : 4);
			rc = -1;
		}
	}
	mws_destroy(f->mws);
	simnet_destroy(&f->net);
	http_store_close(f->store);
	pagetree_remove(f->root, files, N_FILES);
	free(f);
	return rc;
}

/* ---- the client ---- */

struct client {
	const uint8_t *req;
	size_t req_len;
	size_t step; /* bytes per send_ref; 0: the whole request at once */
	bool close_after_send;
	uint8_t *resp;
	size_t len, cap;
	bool connected, remote_closed, closed;
	enum usn_tcp_close_reason why;
	bool hold; /* read nothing (usn_tcp_recv_hold): the window closes */
	struct usn_tcp_conn *c;
};

static void cl_connected(struct usn_tcp_conn *c, void *user)
{
	struct client *cl = user;
	cl->connected = true;
	cl->c = c;
	if (cl->hold)
		usn_tcp_recv_hold(c, 1u << 30);
	size_t step = cl->step ? cl->step : cl->req_len;
	for (size_t off = 0; off < cl->req_len; off += step) {
		size_t n = cl->req_len - off < step ? cl->req_len - off : step;
		assert_int_equal(usn_tcp_send_ref(c, cl->req + off, (uint32_t)n, NULL), 0);
	}
	if (cl->close_after_send)
		assert_int_equal(usn_tcp_close(c), 0);
}

static void cl_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor data)
{
	(void)c;
	struct client *cl = user;
	uint32_t n = usn_cursor_size(data);
	if (cl->len + n > cl->cap) {
		size_t cap = (cl->len + n) * 2;
		uint8_t *p = realloc(cl->resp, cap);
		assert_non_null(p);
		cl->resp = p;
		cl->cap = cap;
	}
	assert_int_equal(usn_cursor_read(data, cl->resp + cl->len, n), n);
	cl->len += n;
}

static void cl_remote_closed(struct usn_tcp_conn *c, void *user)
{
	struct client *cl = user;
	cl->remote_closed = true;
	if (!cl->close_after_send)
		usn_tcp_close(c);
}

static void cl_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct client *cl = user;
	cl->closed = true;
	cl->why = why;
}

static const struct usn_tcp_handlers client_handlers = {
    .connected_fn = cl_connected,
    .recv_fn = cl_recv,
    .remote_closed_fn = cl_remote_closed,
    .closed_fn = cl_closed,
};

static bool client_done(void *arg)
{
	return ((struct client *)arg)->closed;
}

/* Runs one connection carrying req; the response lands in cl. */
static void exchange(struct fixture *f, struct client *cl, const char *req, size_t req_len, size_t step)
{
	memset(cl, 0, sizeof(*cl));
	cl->req = (const uint8_t *)req;
	cl->req_len = req_len;
	cl->step = step;
	struct usn_tcp_conn *c =
	    connect_server(f, &client_handlers, cl);
	assert_non_null(c);
	if (!simnet_run_until(&f->net, client_done, cl, MAX_VIRTUAL_US))
		fail_msg("connection did not close (connected %d, %zu bytes received)", cl->connected,
			 cl->len);
}

static void exchange_str(struct fixture *f, struct client *cl, const char *req)
{
	exchange(f, cl, req, strlen(req), 0);
}

/* The exact bytes the server must send for a page. */
static size_t expected(const struct pagetree_file *fl, const char *type, bool head, bool ka, uint8_t **out)
{
	char hdr[256];
	int hl =
	    snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
		     type, fl->len, ka ? "keep-alive" : "close");
	size_t n = (size_t)hl + (head ? 0 : fl->len);
	*out = malloc(n + 1);
	assert_non_null(*out);
	memcpy(*out, hdr, (size_t)hl);
	if (!head && fl->len)
		memcpy(*out + hl, fl->data, fl->len);
	return n;
}

static void expect_page(const struct client *cl, const char *rel, const char *type, bool head)
{
	uint8_t *want;
	size_t n = expected(file_named(rel), type, head, false, &want);
	assert_int_equal(cl->len, n);
	assert_memory_equal(cl->resp, want, n);
	assert_true(cl->remote_closed);
	assert_int_equal(cl->why, USN_TCP_CLOSE_NORMAL);
	free(want);
}

static void expect_status_line(const struct client *cl, const char *line)
{
	size_t n = strlen(line);
	assert_true(cl->len >= n);
	assert_memory_equal(cl->resp, line, n);
	assert_true(cl->remote_closed);
}

/* The server's counters over all its workers: which worker a connection
 * lands on depends on the port's RSS key, new at every start. */
static void server_stats(const struct fixture *f, struct mws_worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (uint16_t w = 0; w < usn_stack_workers(f->server->stack); w++) {
		struct mws_worker_stats one;
		mws_worker_stats(f->mws, w, &one);
		uint64_t *d = (uint64_t *)(void *)out;
		const uint64_t *o = (const uint64_t *)(const void *)&one;
		for (size_t i = 0; i < sizeof(one) / sizeof(uint64_t); i++)
			d[i] += o[i];
	}
}

static uint64_t server_idle_timeouts(const struct fixture *f)
{
	uint64_t n = 0;
	for (uint16_t w = 0; w < usn_stack_workers(f->server->stack); w++)
		n += usn_worker_stats(usn_stack_worker(f->server->stack, w))->tcp_idle_timeouts;
	return n;
}

/* ---- tests ---- */

static void test_pages_byte_identical(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *url, *rel, *type;
	} cases[] = {
	    {"/index.html", "index.html", "text/html"},
	    {"/", "index.html", "text/html"},
	    {"/style.css", "style.css", "text/css"},
	    {"/dir/", "dir/index.html", "text/html"},
	    {"/dir/page.html", "dir/page.html", "text/html"},
	    {"/big.bin", "big.bin", "application/octet-stream"},
	    {"/empty.txt", "empty.txt", "text/plain"},
	};
	struct client cl;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char req[256];
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: sim\r\n\r\n", cases[i].url);
		exchange_str(f, &cl, req);
		expect_page(&cl, cases[i].rel, cases[i].type, false);
		free(cl.resp);
	}
	struct mws_worker_stats st;
	server_stats(f, &st);
	assert_int_equal(st.requests, 7);
	assert_int_equal(st.st200, 7);
	/* The 1.2 MB page went in large segments in the offload mode
	 * (USN_SIM_OFFLOADS=tso,lro), none above the MTU on the wire. */
	struct usn_stats ss;
	struct usn_sim_port_stats sp;
	usn_stack_stats(f->server->stack, &ss);
	usn_sim_port_stats(f->server->port, &sp);
	assert_true(sp.tx_max_ip <= usn_stack_config(f->server->stack)->mtu);
	bool tso = (simnet_env_offloads() & USN_HAL_OFF_TX_TSO) != 0;
	if (f->v6) {
		/* Over IPv6 the server cuts and sums every segment itself (the
		 * port's TSO contract is IPv4's): a TSO offer is declined,
		 * counted (stats.h). */
		assert_int_equal(ss.tcp_tso_frames, 0);
		assert_int_equal(ss.tcp6_tso_skipped > 0, tso);
	} else {
		assert_int_equal(ss.tcp_tso_frames > 0, tso);
	}
}

static void test_head(void **state)
{
	struct fixture *f = *state;
	struct client cl;
	exchange_str(f, &cl, "HEAD /big.bin HTTP/1.0\r\n\r\n");
	expect_page(&cl, "big.bin", "application/octet-stream", true);
	free(cl.resp);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *req, *line;
	} cases[] = {
	    {"GET /missing HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"},
	    {"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n"},
	    {"GET /../etc/passwd HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
	    {"\x16\x03\x01garbage", "HTTP/1.1 400 Bad Request\r\n"},
	    {"GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
	};
	struct client cl;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		exchange_str(f, &cl, cases[i].req);
		expect_status_line(&cl, cases[i].line);
		/* the whole error response, exactly: header + "NNN Reason\n" body */
		const uint8_t *end = NULL;
		for (size_t k = 0; k + 4 <= cl.len; k++)
			if (memcmp(cl.resp + k, "\r\n\r\n", 4) == 0) {
				end = cl.resp + k + 4;
				break;
			}
		assert_non_null(end);
		assert_memory_equal(end, cases[i].line + 9, strlen(cases[i].line) - 11);
		free(cl.resp);
	}
	/* 414 and 431: large requests */
	size_t n = 20000;
	char *big = malloc(n + 64);
	assert_non_null(big);
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', 9000);
	strcpy(big + 9005, " HTTP/1.1\r\n\r\n");
	exchange_str(f, &cl, big);
	expect_status_line(&cl, "HTTP/1.1 414 URI Too Long\r\n");
	free(cl.resp);
	strcpy(big, "GET / HTTP/1.1\r\nX-Pad: ");
	memset(big + strlen(big), 'b', 17000);
	strcpy(big + 23 + 17000, "\r\n\r\n");
	exchange_str(f, &cl, big);
	expect_status_line(&cl, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
	free(cl.resp);
	free(big);
}

static void test_one_byte_segments(void **state)
{
	struct fixture *f = *state;
	const char *req = "GET /dir/page.html HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n";
	struct client cl;
	exchange(f, &cl, req, strlen(req), 1);
	expect_page(&cl, "dir/page.html", "text/html", false);
	free(cl.resp);
}

static void test_half_request_then_close(void **state)
{
	struct fixture *f = *state;
	struct client cl;
	memset(&cl, 0, sizeof(cl));
	cl.req = (const uint8_t *)"GET /index.ht";
	cl.req_len = 13;
	cl.close_after_send = true;
	assert_non_null(
	    connect_server(f, &client_handlers, &cl));
	assert_true(simnet_run_until(&f->net, client_done, &cl, MAX_VIRTUAL_US));
	assert_int_equal(cl.len, 0); /* no answer to an unfinished request */
	assert_int_equal(cl.why, USN_TCP_CLOSE_NORMAL);
	free(cl.resp);
	/* and the server goes on serving */
	exchange_str(f, &cl, "GET /style.css HTTP/1.1\r\n\r\n");
	expect_page(&cl, "style.css", "text/css", false);
	free(cl.resp);
}

static void test_lossy_link(void **state)
{
	struct fixture *f = *state;
	struct client cl;
	exchange_str(f, &cl, "GET /big.bin HTTP/1.1\r\n\r\n");
	expect_page(&cl, "big.bin", "application/octet-stream", false);
	free(cl.resp);
	exchange_str(f, &cl, "GET /dir/page.html HTTP/1.1\r\n\r\n");
	expect_page(&cl, "dir/page.html", "text/html", false);
	free(cl.resp);
	/* the faults did happen */
	struct usn_sim_port_stats ps;
	usn_sim_port_stats(f->server->port, &ps);
	assert_true(ps.lost > 0);
	assert_true(ps.reordered > 0);
}

static void test_keepalive_pipelined(void **state)
{
	struct fixture *f = *state;
	const char *req = "GET /style.css HTTP/1.1\r\n\r\n"
			  "HEAD /dir/page.html HTTP/1.1\r\n\r\n"
			  "GET /nope HTTP/1.1\r\n\r\n"
			  "GET /dir/page.html HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct client cl;
	exchange_str(f, &cl, req);
	uint8_t *a, *b, *d;
	size_t na = expected(file_named("style.css"), "text/css", false, true, &a);
	size_t nb = expected(file_named("dir/page.html"), "text/html", true, true, &b);
	const char *e404 = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
			   "Connection: keep-alive\r\n\r\n404 Not Found\n";
	size_t nd = expected(file_named("dir/page.html"), "text/html", false, false, &d);
	assert_int_equal(cl.len, na + nb + strlen(e404) + nd);
	assert_memory_equal(cl.resp, a, na);
	assert_memory_equal(cl.resp + na, b, nb);
	assert_memory_equal(cl.resp + na + nb, e404, strlen(e404));
	assert_memory_equal(cl.resp + na + nb + strlen(e404), d, nd);
	assert_true(cl.remote_closed);
	free(a);
	free(b);
	free(d);
	free(cl.resp);
}

static void test_no_leak_after_timewait(void **state)
{
	struct fixture *f = *state;
	struct client cl;
	for (int i = 0; i < 5; i++) {
		exchange_str(f, &cl, "GET /index.html HTTP/1.1\r\n\r\n");
		expect_page(&cl, "index.html", "text/html", false);
		free(cl.resp);
	}
	/* the server closed first: its TCBs sit in TIME-WAIT, then return */
	simnet_run_for(&f->net, 2u * 60u * 1000000u);
	for (uint16_t i = 0; i < usn_stack_workers(f->server->stack); i++)
		assert_int_equal(usn_tcp_free_tcbs(usn_stack_worker(f->server->stack, i)),
				 usn_stack_config(f->server->stack)->tcp_max_conns);
	struct mws_worker_stats st;
	server_stats(f, &st);
	assert_int_equal(st.conns, 5);
	assert_int_equal(st.closed_ok, 5);
	assert_int_equal(st.closed_bad, 0);
}

/* Slowloris: a client that sends part of a request and stalls is reset
 * exactly IDLE_MS after its last byte arrived, while other clients are
 * served before and after; its per-connection state returns. */
struct staller {
	struct simnet *net;
	bool closed;
	enum usn_tcp_close_reason why;
	uint64_t closed_us;
};

static void st_connected(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	assert_int_equal(usn_tcp_send_ref(c, "GET /index.ht", 13, NULL), 0);
}

static void st_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct staller *s = user;
	s->closed = true;
	s->why = why;
	s->closed_us = simnet_now_us(s->net);
}

static const struct usn_tcp_handlers staller_handlers = {.connected_fn = st_connected, .closed_fn = st_closed};

static bool staller_done(void *arg)
{
	return ((struct staller *)arg)->closed;
}

static void test_idle_timeout_frees_stalled(void **state)
{
	struct fixture *f = *state;
	struct staller sl = {.net = &f->net};
	uint64_t t0 = simnet_now_us(&f->net);
	struct usn_tcp_conn *c = connect_server(f, &staller_handlers, &sl);
	assert_non_null(c);
	/* the partial request is in (acknowledged) well before the timeout */
	simnet_run_for(&f->net, 100000);
	struct usn_tcp_info ti;
	usn_tcp_info(c, &ti);
	assert_int_equal(ti.state, USN_TCP_ESTABLISHED);
	assert_int_equal(ti.snd_una, ti.snd_nxt);
	struct mws_worker_stats st;
	server_stats(f, &st);
	assert_int_equal(st.conns, 1);
	assert_int_equal(st.requests, 0);
	/* others are served meanwhile */
	struct client cl;
	exchange_str(f, &cl, "GET /style.css HTTP/1.1\r\n\r\n");
	expect_page(&cl, "style.css", "text/css", false);
	free(cl.resp);
	assert_false(sl.closed);
	/* the staller is reset at the timeout, not before */
	uint64_t t_before = simnet_now_us(&f->net);
	assert_true(simnet_run_until(&f->net, staller_done, &sl, 10u * IDLE_MS * 1000u));
	assert_int_equal(sl.why, USN_TCP_CLOSE_RESET);
	assert_true(sl.closed_us >= t0 + IDLE_MS * 1000u);
	assert_true(sl.closed_us <= t0 + IDLE_MS * 1000u + 10000u); /* handshake and request: < 10 ms */
	assert_true(sl.closed_us > t_before);
	server_stats(f, &st);
	assert_int_equal(st.conns, 2);
	assert_int_equal(st.timed_out, 1);
	assert_int_equal(st.closed_bad, 1);
	assert_int_equal(st.closed_ok, 1);
	assert_int_equal(server_idle_timeouts(f), 1);
	/* and the server goes on serving */
	exchange_str(f, &cl, "GET /index.html HTTP/1.1\r\n\r\n");
	expect_page(&cl, "index.html", "text/html", false);
	free(cl.resp);
}

/* A slowloris that trickles a byte every second (half the idle timeout,
 * which therefore never fires) is reset by the header deadline: at the
 * first byte after HEADER_MS, while others are still served. */
static void test_header_timeout_frees_trickler(void **state)
{
	struct fixture *f = *state;
	struct staller sl = {.net = &f->net};
	uint64_t t0 = simnet_now_us(&f->net);
	struct usn_tcp_conn *c = connect_server(f, &staller_handlers, &sl);
	assert_non_null(c);
	static const char more[] = "ml HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	int sent = 0;
	while (!sl.closed && sent < (int)sizeof more - 1) {
		simnet_run_for(&f->net, IDLE_MS * 1000u / 2u);
		if (sl.closed)
			break;
		assert_int_equal(usn_tcp_send_ref(c, more + sent, 1, NULL), 0);
		sent++;
	}
	simnet_run_for(&f->net, 100000);
	assert_true(sl.closed);
	assert_int_equal(sl.why, USN_TCP_CLOSE_RESET);
	assert_true(sl.closed_us >= t0 + HEADER_MS * 1000u);
	assert_true(sl.closed_us <= t0 + HEADER_MS * 1000u + IDLE_MS * 1000u / 2u + 10000u);
	struct mws_worker_stats st;
	server_stats(f, &st);
	assert_int_equal(st.header_timeouts, 1);
	assert_int_equal(st.timed_out, 0); /* not the idle timeout */
	assert_int_equal(st.closed_bad, 1);
	assert_int_equal(server_idle_timeouts(f), 0);
	/* the server goes on serving */
	struct client cl;
	exchange_str(f, &cl, "GET /index.html HTTP/1.1\r\n\r\n");
	expect_page(&cl, "index.html", "text/html", false);
	free(cl.resp);
}

/* The header deadline runs on a timer of its own: a client that sends half
 * a request and then nothing (no idle timeout configured) is reset exactly
 * HEADER_MS after it connected. It was checked only as bytes reached
 * recv_fn, so a client that sent nothing more (or nothing deliverable) was
 * never reset. */
static void test_header_deadline_without_bytes(void **state)
{
	struct fixture *f = *state;
	struct staller sl = {.net = &f->net};
	uint64_t t0 = simnet_now_us(&f->net);
	struct usn_tcp_conn *c = connect_server(f, &staller_handlers, &sl);
	assert_non_null(c);
	simnet_run_for(&f->net, HEADER_MS * 1000u - 20000u);
	assert_false(sl.closed);
	assert_true(simnet_run_until(&f->net, staller_done, &sl, 10u * HEADER_MS * 1000u));
	assert_int_equal(sl.why, USN_TCP_CLOSE_RESET);
	assert_true(sl.closed_us >= t0 + HEADER_MS * 1000u);
	assert_true(sl.closed_us <= t0 + HEADER_MS * 1000u + 10000u); /* connected within 10 ms of t0 */
	struct mws_worker_stats st;
	server_stats(f, &st);
	assert_int_equal(st.header_timeouts, 1);
	assert_int_equal(st.timed_out, 0);
	assert_int_equal(st.closed_bad, 1);
	uint64_t deadline_timeouts = 0;
	for (uint16_t i = 0; i < usn_stack_workers(f->server->stack); i++)
		deadline_timeouts += usn_worker_stats(usn_stack_worker(f->server->stack, i))->tcp_deadline_timeouts;
	assert_int_equal(deadline_timeouts, 1);
	struct client cl;
	exchange_str(f, &cl, "GET /index.html HTTP/1.1\r\n\r\n");
	expect_page(&cl, "index.html", "text/html", false);
	free(cl.resp);
}

/* With keepalive, the next request's header clock starts when the answer
 * has been acknowledged, not when it was queued: a client that reads a
 * large page slowly (its window closed for longer than the header timeout)
 * and then asks for another is served twice. Counting from the queued
 * answer reset it (at the second request, or at the deadline). */
struct slow_reader {
	struct client cl;
	struct usn_tcp_conn *c;
	uint32_t held;
	bool hold;
	size_t want; /* sr_has: this many bytes in, or closed */
};

static void sr_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor data)
{
	struct slow_reader *r = user;
	cl_recv(c, &r->cl, data);
	if (r->hold) {
		usn_tcp_recv_hold(c, usn_cursor_size(data));
		r->held += usn_cursor_size(data);
	}
}

static void sr_connected(struct usn_tcp_conn *c, void *user)
{
	struct slow_reader *r = user;
	r->c = c;
	cl_connected(c, &r->cl);
}

static void sr_remote_closed(struct usn_tcp_conn *c, void *user)
{
	cl_remote_closed(c, &((struct slow_reader *)user)->cl);
}

static void sr_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	cl_closed(c, &((struct slow_reader *)user)->cl, why);
}

static const struct usn_tcp_handlers slow_reader_handlers = {
    .connected_fn = sr_connected,
    .recv_fn = sr_recv,
    .remote_closed_fn = sr_remote_closed,
    .closed_fn = sr_closed,
};

static bool sr_has(void *arg)
{
	struct slow_reader *r = arg;
	return r->cl.closed || r->cl.len >= r->want;
}

static void test_keepalive_header_clock_after_answer(void **state)
{
	struct fixture *f = *state;
	static const char req1[] = "GET /big.bin HTTP/1.1\r\n\r\n";
	static const char req2[] = "GET /style.css HTTP/1.1\r\nConnection: close\r\n\r\n";
	uint8_t *w1, *w2;
	size_t n1 = expected(file_named("big.bin"), "application/octet-stream", false, true, &w1);
	size_t n2 = expected(file_named("style.css"), "text/css", false, false, &w2);
	struct slow_reader *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->cl.req = (const uint8_t *)req1;
	r->cl.req_len = strlen(req1);
	r->hold = true;
	r->want = n1;
	assert_non_null(
	    connect_server(f, &slow_reader_handlers, r));
	/* the window closes (262144 bytes held) long before the page is in;
	 * then the client reads nothing for longer than the header timeout */
	simnet_run_for(&f->net, 200000);
	assert_true(r->held > 0 && r->cl.len < n1);
	simnet_run_for(&f->net, KA_HEADER_MS * 1000u + 500000u);
	assert_false(r->cl.closed);
	r->hold = false;
	usn_tcp_recv_done(r->c, r->held);
	assert_true(simnet_run_until(&f->net, sr_has, r, MAX_VIRTUAL_US));
	assert_false(r->cl.closed);
	assert_int_equal(r->cl.len, n1);
	assert_memory_equal(r->cl.resp, w1, n1);
	/* the next request, at once */
	assert_int_equal(usn_tcp_send_ref(r->c, req2, (uint32_t)strlen(req2), NULL), 0);
	assert_true(simnet_run_until(&f->net, client_done, &r->cl, MAX_VIRTUAL_US));
	assert_int_equal(r->cl.why, USN_TCP_CLOSE_NORMAL);
	assert_int_equal(r->cl.len, n1 + n2);
	assert_memory_equal(r->cl.resp + n1, w2, n2);
	struct mws_worker_stats st;
	server_stats(f, &st);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.header_timeouts, 0);
	assert_int_equal(st.closed_bad, 0);
	free(w1);
	free(w2);
	free(r->cl.resp);
	free(r);
}

/* A server whose connections may each hold 6 send descriptors (3
 * answers), out of 64 for 16 connections (a share of 2 each). */
static int setup_few_descriptors(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->v6 = state_v6(state);
	pagetree_create(f->root, sizeof(f->root), "test_http_sim", files, N_FILES, 12345);
	struct http_store_opts so = {.csum_build = usn_csum_table_build, .csum_free = usn_csum_table_free};
	char msg[256];
	f->store = http_store_open(f->root, &so, msg, sizeof(msg));
	if (!f->store)
		fail_msg("store: %s", msg);
	simnet_init(&f->net, 7);
	struct usn_stack_config cfg, cc;
	host_cfg(&cfg, SERVER_IP, f->v6, 1);
	cfg.tcp_max_conns = 16;
	cfg.tcp_sendq_max = 64;
	cfg.tcp_sendq_per_conn = 6;
	host_cfg(&cc, CLIENT_IP, f->v6, 2);
	f->server = simnet_add_host(&f->net, SERVER_IP, &cfg, NULL);
	f->client = simnet_add_host(&f->net, CLIENT_IP, &cc, NULL);
	assert_non_null(f->server);
	assert_non_null(f->client);
	struct mws_opts mo = {.port = PORT, .keepalive = true};
	int err = 0;
	f->mws = mws_init(f->server->stack, f->store, &mo, &err);
	if (!f->mws)
		fail_msg("mws_init: %d", err);
	*state = f;
	return 0;
}

/* A client pipelines 32 requests for a 1.2 MB page and reads nothing: its
 * window closes and every answer queued holds its send descriptors. It
 * gets the answers that fit its connection's descriptors (3), whole, then
 * a FIN once it reads; another client is served meanwhile. Before, the
 * hog took all 64 descriptors and the other client was reset (minimal_ws
 * gave up a connection whose send failed), and over a per-connection cap
 * the hog itself was reset mid-answer. */
static void test_pipelined_zero_window_capped(void **state)
{
	struct fixture *f = *state;
	static const char one[] = "GET /big.bin HTTP/1.1\r\n\r\n";
	char req[32 * sizeof one];
	size_t n = 0;
	for (int i = 0; i < 32; i++) {
		memcpy(req + n, one, sizeof one - 1);
		n += sizeof one - 1;
	}
	struct client hog;
	memset(&hog, 0, sizeof hog);
	hog.req = (const uint8_t *)req;
	hog.req_len = n;
	hog.hold = true;
	assert_non_null(connect_server(f, &client_handlers, &hog));
	simnet_run_for(&f->net, 500000);
	assert_true(hog.connected);
	assert_false(hog.closed);
	/* meanwhile: a keep-alive answer (two descriptors) and a last one */
	struct client cl;
	exchange_str(f, &cl, "GET /index.html HTTP/1.1\r\n\r\nGET /style.css HTTP/1.1\r\nConnection: close\r\n\r\n");
	uint8_t *w1, *w2;
	size_t n1 = expected(file_named("index.html"), "text/html", false, true, &w1);
	size_t n2 = expected(file_named("style.css"), "text/css", false, false, &w2);
	assert_int_equal(cl.len, n1 + n2);
	assert_memory_equal(cl.resp, w1, n1);
	assert_memory_equal(cl.resp + n1, w2, n2);
	assert_int_equal(cl.why, USN_TCP_CLOSE_NORMAL);
	free(w1);
	free(w2);
	free(cl.resp);
	struct mws_worker_stats st;
	server_stats(f, &st);
	assert_int_equal(st.send_full, 1);
	/* the hog reads: three whole answers, then the server's FIN */
	usn_tcp_recv_done(hog.c, 1u << 30);
	if (!simnet_run_until(&f->net, client_done, &hog, MAX_VIRTUAL_US))
		fail_msg("hog not closed (%zu bytes)", hog.len);
	uint8_t *a;
	size_t na = expected(file_named("big.bin"), "application/octet-stream", false, true, &a);
	assert_int_equal(hog.len, 3 * na);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(hog.resp + (size_t)i * na, a, na);
	assert_true(hog.remote_closed);
	assert_int_equal(hog.why, USN_TCP_CLOSE_NORMAL);
	server_stats(f, &st);
	assert_int_equal(st.requests, 3 + 2);
	assert_int_equal(st.send_full, 1);
	assert_int_equal(st.send_failed, 0);
	assert_int_equal(st.closed_bad, 0);
	free(a);
	free(hog.resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH_FAMILIES(test_pages_byte_identical, setup_close, teardown),
	    BOTH_FAMILIES(test_head, setup_close, teardown),
	    BOTH_FAMILIES(test_errors, setup_close, teardown),
	    BOTH_FAMILIES(test_one_byte_segments, setup_close, teardown),
	    BOTH_FAMILIES(test_half_request_then_close, setup_close, teardown),
	    BOTH_FAMILIES(test_lossy_link, setup_lossy, teardown),
	    BOTH_FAMILIES(test_keepalive_pipelined, setup_keepalive, teardown),
	    BOTH_FAMILIES(test_no_leak_after_timewait, setup_close, teardown),
	    BOTH_FAMILIES(test_idle_timeout_frees_stalled, setup_idle, teardown),
	    BOTH_FAMILIES(test_header_timeout_frees_trickler, setup_header, teardown),
	    BOTH_FAMILIES(test_header_deadline_without_bytes, setup_header_only, teardown),
	    BOTH_FAMILIES(test_keepalive_header_clock_after_answer, setup_keepalive_header, teardown),
	    BOTH_FAMILIES(test_pipelined_zero_window_capped, setup_few_descriptors, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
