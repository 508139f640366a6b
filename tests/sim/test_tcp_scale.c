/* Simulation test: TCP at scale on one worker. A server holds 100,000
 * established connections at once, each with data in flight, then every one
 * exchanges and closes, every byte checked and every TCB back in its pool;
 * and at the limit, a server whose pool is full answers a new client with a
 * SYN cookie and serves it once a TCB frees, the established connections
 * untouched. Both cases run over IPv4 and again over IPv6 (the name then
 * ends in _v6); each host has one worker, so RSS does not come into it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "simnet.h"
#include "usnet/tcp.h"

#define PAT_LEN (64u * 1024u)
#define BASE_PORT 80
#define N_PORTS 7 /* 7 x 16,384 client ports: room for 114,688 4-tuples */
#define EPH_LO 49152u
#define EPH_N 16384u

static uint8_t pattern[PAT_LEN];

/* The family a case runs over: its prestate (cmocka_unit_test_prestate). */
static const bool fam_v4 = false, fam_v6 = true;
#define FAM(st) (*(const bool *)*(st))
/* A case twice: over IPv4 under its name, over IPv6 as name_v6. */
#define BOTH_FAMILIES(f) {#f, f, NULL, NULL, (void *)&fam_v4}, {#f "_v6", f, NULL, NULL, (void *)&fam_v6}

/* Host n's IPv6 address, 2001:2::n (RFC 5180's benchmarking prefix). */
static void scale_ip6(uint8_t n, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[15] = n;
}

/* IPv6 on beside IPv4 with address 2001:2::n, if v6. */
static void scale_ipv6_on(struct usn_stack_config *c, bool v6, uint8_t n)
{
	if (!v6)
		return;
	c->ipv6 = true;
	c->ipv6_no_dad = true;
	c->n_ip6 = 1;
	c->ip6[0].prefix_len = 64;
	scale_ip6(n, c->ip6[0].addr);
}

/* Host h, host number n of the test, in the case's family. */
static struct usn_addr scale_addr(const struct simnet_host *h, bool v6, uint8_t n)
{
	struct usn_addr a = usn_addr_ipv4(h->ip);
	if (v6) {
		a.family = USN_AF_INET6;
		scale_ip6(n, a.u.v6);
	}
	return a;
}

/* Every segment a stack received came over the case's family. */
static void check_family(const struct usn_stats *s, bool v6)
{
	assert_true(s->tcp_rx_segs > 0);
	assert_int_equal(s->tcp6_rx_segs, v6 ? s->tcp_rx_segs : 0);
	assert_int_equal(s->tcp6_tx_segs, v6 ? s->tcp_tx_segs : 0);
}

static void pattern_init(void)
{
	uint32_t x = 0x9e3779b9u;
	for (uint32_t i = 0; i < PAT_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pattern[i] = (uint8_t)x;
	}
}

/* What connection i sends each way, and where in the pattern it starts. */
static uint32_t req_len(uint32_t i)
{
	return 50u + i % 151u;
}
static uint32_t resp_len(uint32_t i)
{
	return 1000u + (i * 7u) % 2000u;
}
static uint32_t req_off(uint32_t i)
{
	return (i * 13u) % (PAT_LEN - 4096u);
}
static uint32_t resp_off(uint32_t i)
{
	return (i * 29u + 7u) % (PAT_LEN - 4096u);
}

struct scale;

struct cconn { /* a client's end */
	struct scale *sc;
	struct usn_tcp_conn *c;
	uint32_t idx, rx, rx_bad;
	uint8_t connected, closed, why;
};

struct sconn { /* a server's end */
	struct usn_tcp_conn *c;
	uint32_t idx, rx, rx_bad;
	uint8_t closed, why;
};

struct scale {
	struct simnet net;
	struct simnet_host *cli, *srv;
	uint32_t n;
	struct cconn *cc;
	struct sconn *sc;
	uint32_t sc_n;
	uint32_t *by_tuple; /* (client port - EPH_LO) * N_PORTS + server port offset -> idx + 1 */
	uint32_t cli_connected, cli_closed, srv_connected, srv_closed;
	uint32_t srv_open, srv_open_max;
	uint32_t bad;
};

static struct scale *the_scale; /* for s_closed, whose user pointer is a connection's */

/* ---- client ---- */

static void c_connected(struct usn_tcp_conn *c, void *user)
{
	(void)c;
	struct cconn *k = user;
	k->connected = 1;
	k->sc->cli_connected++;
}

static void c_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	struct cconn *k = user;
	uint8_t buf[2048];
	uint32_t off = resp_off(k->idx);
	while (usn_cursor_size(d)) {
		size_t n = usn_cursor_read(d, buf, sizeof buf);
		for (size_t j = 0; j < n; j++)
			k->rx_bad += k->rx + j >= resp_len(k->idx) || buf[j] != pattern[off + k->rx + j];
		k->rx += (uint32_t)n;
		d = usn_cursor_drop(d, (uint32_t)n);
	}
}

static void c_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	usn_tcp_close(c);
}

static void c_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct cconn *k = user;
	k->closed++;
	k->why = (uint8_t)why;
	k->sc->cli_closed++;
}

static const struct usn_tcp_handlers cli_h = {
	.connected_fn = c_connected,
	.recv_fn = c_recv,
	.remote_closed_fn = c_remote_closed,
	.closed_fn = c_closed,
};

/* ---- server: the answer once the whole request is in, then close ---- */

static void s_connected(struct usn_tcp_conn *c, void *user)
{
	struct scale *sc = user;
	struct usn_tcp_info inf;
	usn_tcp_info(c, &inf);
	uint32_t key = (uint32_t)(inf.remote_port - EPH_LO) * N_PORTS + (uint32_t)(inf.local_port - BASE_PORT);
	if (inf.remote_port < EPH_LO || inf.local_port < BASE_PORT || inf.local_port >= BASE_PORT + N_PORTS ||
	    !sc->by_tuple[key] || sc->sc_n >= sc->n) {
		sc->bad++;
		usn_tcp_abort(c);
		return;
	}
	struct sconn *k = &sc->sc[sc->sc_n++];
	memset(k, 0, sizeof *k);
	k->c = c;
	k->idx = sc->by_tuple[key] - 1;
	usn_tcp_set_user(c, k);
	sc->srv_connected++;
	if (++sc->srv_open > sc->srv_open_max)
		sc->srv_open_max = sc->srv_open;
}

static void s_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	struct sconn *k = user;
	uint8_t buf[512];
	uint32_t off = req_off(k->idx), want = req_len(k->idx);
	while (usn_cursor_size(d)) {
		size_t n = usn_cursor_read(d, buf, sizeof buf);
		for (size_t j = 0; j < n; j++)
			k->rx_bad += k->rx + j >= want || buf[j] != pattern[off + k->rx + j];
		k->rx += (uint32_t)n;
		d = usn_cursor_drop(d, (uint32_t)n);
	}
	if (k->rx == want) {
		if (usn_tcp_send_ref(c, pattern + resp_off(k->idx), resp_len(k->idx), NULL) != 0)
			k->rx_bad++;
		usn_tcp_close(c);
	}
}

static void s_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct scale *sc = the_scale;
	if (user == sc) { /* aborted before it had a slot */
		return;
	}
	struct sconn *k = user;
	k->closed++;
	k->why = (uint8_t)why;
	sc->srv_closed++;
	sc->srv_open--;
}

static const struct usn_tcp_handlers srv_h = {
	.connected_fn = s_connected,
	.recv_fn = s_recv,
	.closed_fn = s_closed,
};

static uint32_t env_u32(const char *name, uint32_t def)
{
	const char *v = getenv(name);
	return v && *v ? (uint32_t)strtoul(v, NULL, 0) : def;
}

static void stats_dump(const char *tag, struct simnet_host *h)
{
	struct usn_stats s;
	usn_stack_stats(h->stack, &s);
	for (size_t i = 0; i < usn_stats_count(); i++)
		if (usn_stats_value(&s, i))
			fprintf(stderr, "  %s %s %llu\n", tag, usn_stats_name(i), (unsigned long long)usn_stats_value(&s, i));
}

static bool all_connected(void *arg)
{
	struct scale *sc = arg;
	return sc->cli_connected == sc->n && sc->srv_connected == sc->n;
}

static bool all_closed(void *arg)
{
	struct scale *sc = arg;
	return sc->cli_closed == sc->n && sc->srv_closed == sc->n;
}

/* USN_SCALE_CONNS (default 100000) connections from one client stack to one
 * server stack, one worker each: all opened and held at once; then every
 * client sends its request while the client's frames are lost, so at one
 * instant every connection has its request in flight (sent, unacknowledged,
 * an RTO armed: 100,000 timers); then the link heals, the retransmissions
 * arrive, each server end answers and closes first (TIME-WAIT on the
 * server, all of them held, tcp_max_timewait = tcp_max_conns), every byte
 * is checked, and once TIME-WAIT ends every TCB is back. */
static void test_hold_many_connections(void **st)
{
	const bool v6 = FAM(st);
	uint32_t n = env_u32("USN_SCALE_CONNS", 100000);
	assert_true(n > 0 && n <= EPH_N * N_PORTS);
	struct scale *sc = calloc(1, sizeof *sc);
	assert_non_null(sc);
	the_scale = sc;
	sc->n = n;
	sc->cc = calloc(n, sizeof *sc->cc);
	sc->sc = calloc(n, sizeof *sc->sc);
	sc->by_tuple = calloc((size_t)EPH_N * N_PORTS, sizeof *sc->by_tuple);
	assert_true(sc->cc && sc->sc && sc->by_tuple);

	simnet_init(&sc->net, 41);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 15);
	cfg.tcp_max_conns = n + n / 8 + 64;
	cfg.tcp_max_timewait = cfg.tcp_max_conns;
	cfg.tcp_timewait_ms = 2000;
	cfg.tcp_cookie_secret[0] = 41;
	cfg.arp_timeout_ms = 24u * 3600 * 1000;
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.n_queues = 1; /* one worker holds them all, whatever the backend mode */
	pc.rx_ring = 16384;
	scale_ipv6_on(&cfg, v6, 1);
	sc->cli = simnet_add_host(&sc->net, SIMNET_IP(0, 1), &cfg, &pc);
	cfg.tcp_cookie_secret[1] = 0x5;
	scale_ipv6_on(&cfg, v6, 2);
	sc->srv = simnet_add_host(&sc->net, SIMNET_IP(0, 2), &cfg, &pc);
	assert_non_null(sc->cli);
	assert_non_null(sc->srv);
	assert_int_equal(usn_stack_workers(sc->cli->stack), 1);
	assert_int_equal(usn_stack_workers(sc->srv->stack), 1);
	struct usn_worker *wc = usn_stack_worker(sc->cli->stack, 0);
	struct usn_worker *ws = usn_stack_worker(sc->srv->stack, 0);
	for (int p = 0; p < N_PORTS; p++)
		assert_int_equal(usn_tcp_listen(sc->srv->stack, (uint16_t)(BASE_PORT + p), &srv_h, sc), 0);
	struct usn_sim_faults f;
	memset(&f, 0, sizeof f);
	f.delay_us = 100;
	f.rate_bps = 10000000000ull; /* 10 Gbit/s: a burst arrives spread, as on a wire */
	usn_sim_port_set_faults(sc->cli->port, &f);
	usn_sim_port_set_faults(sc->srv->port, &f);
	uint32_t cli_free0 = usn_tcp_free_tcbs(wc), srv_free0 = usn_tcp_free_tcbs(ws);
	const struct usn_addr srv_addr = scale_addr(sc->srv, v6, 2);
	assert_int_equal(srv_free0, cfg.tcp_max_conns);

	/* 1. Open them all, at most 256 handshakes at a time (below the SYN
	 * backlog: no cookies; within a TILE-Gx NotifRing's 512 entries), and
	 * hold them. */
	uint32_t started = 0;
	while (started < n) {
		uint32_t room = 256u - (started - sc->cli_connected);
		for (uint32_t k = 0; k < room && started < n; k++, started++) {
			struct cconn *q = &sc->cc[started];
			q->sc = sc;
			q->idx = started;
			q->c = usn_tcp_connect_addr(wc, &srv_addr, (uint16_t)(BASE_PORT + started % N_PORTS), &cli_h, q);
			if (!q->c) {
				fprintf(stderr, "connect %u failed\n", started);
				fail();
			}
			struct usn_tcp_info inf;
			usn_tcp_info(q->c, &inf);
			sc->by_tuple[(inf.local_port - EPH_LO) * N_PORTS + (inf.remote_port - BASE_PORT)] = started + 1;
		}
		simnet_run_for(&sc->net, 300);
	}
	bool ok = simnet_run_until(&sc->net, all_connected, sc, 10000000ull);
	if (!ok) {
		fprintf(stderr, "connected: client %u server %u of %u\n", sc->cli_connected, sc->srv_connected, n);
		stats_dump("cli", sc->cli);
		stats_dump("srv", sc->srv);
	}
	assert_true(ok);
	assert_int_equal(sc->bad, 0);
	assert_int_equal(sc->srv_open, n);
	assert_int_equal(usn_tcp_free_tcbs(ws), srv_free0 - n);
	assert_int_equal(usn_tcp_free_tcbs(wc), cli_free0 - n);

	/* 2. Every client sends its request while its frames are lost, 256
	 * every millisecond (so the retransmissions and answers come back in
	 * bursts a receive ring takes): then every connection has data in
	 * flight at once (the first ones retransmitted, and lost, again). */
	f.loss = 1.0;
	usn_sim_port_set_faults(sc->cli->port, &f);
	for (uint32_t i = 0; i < n;) {
		for (uint32_t k = 0; k < 256 && i < n; k++, i++)
			assert_int_equal(usn_tcp_send_ref(sc->cc[i].c, pattern + req_off(i), req_len(i), NULL), 0);
		simnet_run_for(&sc->net, 1000);
	}
	uint32_t in_flight = 0, srv_idle = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct usn_tcp_info inf;
		usn_tcp_info(sc->cc[i].c, &inf);
		in_flight += inf.state == USN_TCP_ESTABLISHED && inf.snd_nxt - inf.snd_una == req_len(i) &&
			     inf.bytes_queued == req_len(i);
		usn_tcp_info(sc->sc[i].c, &inf);
		srv_idle += inf.state == USN_TCP_ESTABLISHED && sc->sc[i].rx == 0;
	}
	assert_int_equal(in_flight, n);
	assert_int_equal(srv_idle, n);
	assert_int_equal(sc->srv_open, n);

	/* 3. The link heals: every request is retransmitted, answered, and
	 * every connection closed, the server first. */
	f.loss = 0;
	usn_sim_port_set_faults(sc->cli->port, &f);
	ok = simnet_run_until(&sc->net, all_closed, sc, 120000000ull);
	struct usn_stats a, b;
	usn_stack_stats(sc->cli->stack, &a);
	usn_stack_stats(sc->srv->stack, &b);
	if (!ok || getenv("SCALE_DEBUG")) {
		fprintf(stderr, "closed: client %u server %u of %u; %.3f s virtual; most open on the server at once %u\n",
			sc->cli_closed, sc->srv_closed, n, (double)simnet_now_us(&sc->net) / 1e6, sc->srv_open_max);
		stats_dump("cli", sc->cli);
		stats_dump("srv", sc->srv);
		struct usn_sim_port_stats pa, pb;
		usn_sim_port_stats(sc->cli->port, &pa);
		usn_sim_port_stats(sc->srv->port, &pb);
		fprintf(stderr, "ports: cli rx_ring_full %llu lost %llu bufs %u/%u; srv rx_ring_full %llu bufs %u/%u\n",
			(unsigned long long)pa.rx_ring_full, (unsigned long long)pa.lost, pa.bufs_free, pa.bufs_total,
			(unsigned long long)pb.rx_ring_full, pb.bufs_free, pb.bufs_total);
		for (uint32_t i = 0, shown = 0; i < n && shown < 5; i++)
			if (!sc->cc[i].closed) {
				struct usn_tcp_info inf;
				usn_tcp_info(sc->cc[i].c, &inf);
				fprintf(stderr, " cli %u %s una %u nxt %u rx %u rto %u ms\n", i, usn_tcp_state_name(inf.state),
					inf.snd_una, inf.snd_nxt, sc->cc[i].rx, inf.rto_ms);
				usn_tcp_info(sc->sc[i].c, &inf);
				fprintf(stderr, " srv %s rx %u una %u nxt %u\n", usn_tcp_state_name(inf.state), sc->sc[i].rx,
					inf.snd_una, inf.snd_nxt);
				shown++;
			}
		if (!ok)
			simnet_destroy(&sc->net); /* a test backend prints its own counters (USN_TILEGX_DEBUG) */
	}
	assert_true(ok);
	uint32_t bad_bytes = 0, bad_close = 0, short_rx = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct cconn *q = &sc->cc[i];
		const struct sconn *s = &sc->sc[i];
		bad_bytes += q->rx_bad + s->rx_bad;
		short_rx += q->rx != resp_len(q->idx);
		short_rx += s->rx != req_len(s->idx);
		bad_close += q->closed != 1 || q->why != USN_TCP_CLOSE_NORMAL;
		bad_close += s->closed != 1 || s->why != USN_TCP_CLOSE_NORMAL;
	}
	assert_int_equal(bad_bytes, 0);
	assert_int_equal(short_rx, 0);
	assert_int_equal(bad_close, 0);
	assert_int_equal(sc->srv_open_max, n);
	assert_int_equal(b.tcp_passive_opens, n);
	assert_int_equal(a.tcp_active_opens, n);
	assert_int_equal(b.tcp_syncookies_sent, 0);
	assert_int_equal(a.tcp_pool_empty + b.tcp_pool_empty, 0);
	assert_int_equal(a.tcp_rst_rx + a.tcp_rst_tx + b.tcp_rst_rx + b.tcp_rst_tx, 0);
	assert_true(a.tcp_retrans_segs >= n); /* every request went twice */
	assert_int_equal(b.tcp_timewait_overflow, 0);
	check_family(&a, v6);
	check_family(&b, v6);

	/* 4. TIME-WAIT ends: every TCB is back in both pools. */
	simnet_run_for(&sc->net, (uint64_t)(cfg.tcp_timewait_ms + 1000u) * 1000u);
	assert_int_equal(usn_tcp_free_tcbs(ws), srv_free0);
	assert_int_equal(usn_tcp_free_tcbs(wc), cli_free0);
	simnet_destroy(&sc->net);
	free(sc->by_tuple);
	free(sc->sc);
	free(sc->cc);
	free(sc);
}

/* ---- at the limit: a full pool, a cookie, a TCB freed ---- */

#define FULL_CONNS 64
#define FULL_REQ 300u
#define FULL_RESP 2000u

struct fconn {
	struct usn_tcp_conn *c;
	uint32_t rx, rx_bad, idx;
	int connected, closed, remote_closed;
	enum usn_tcp_close_reason why;
};

struct fsrv {
	int n, closed, bad; /* first: the struct's address is not its first connection's */
	struct fconn conns[FULL_CONNS + 8];
};

static void fc_connected(struct usn_tcp_conn *c, void *user)
{
	(void)c;
	struct fconn *k = user;
	k->connected++;
}

static void fc_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	struct fconn *k = user;
	uint8_t buf[2048];
	while (usn_cursor_size(d)) {
		size_t n = usn_cursor_read(d, buf, sizeof buf);
		for (size_t j = 0; j < n; j++)
			k->rx_bad += buf[j] != pattern[resp_off(k->idx) + (k->rx + j) % FULL_RESP];
		k->rx += (uint32_t)n;
		d = usn_cursor_drop(d, (uint32_t)n);
	}
}

static void fc_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)c;
	struct fconn *k = user;
	k->remote_closed++;
}

static void fc_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct fconn *k = user;
	k->closed++;
	k->why = why;
}

static const struct usn_tcp_handlers fcli_h = {
	.connected_fn = fc_connected,
	.recv_fn = fc_recv,
	.remote_closed_fn = fc_remote_closed,
	.closed_fn = fc_closed,
};

/* The server answers each request of FULL_REQ bytes with FULL_RESP bytes
 * and keeps the connection open (a keep-alive server); it closes when the
 * client does. The request carries the client's index in its first byte. */
static void fs_connected(struct usn_tcp_conn *c, void *user)
{
	struct fsrv *s = user;
	if (s->n >= (int)(sizeof s->conns / sizeof s->conns[0])) {
		s->bad++;
		usn_tcp_abort(c);
		return;
	}
	struct fconn *k = &s->conns[s->n++];
	memset(k, 0, sizeof *k);
	k->c = c;
	k->idx = UINT32_MAX;
	usn_tcp_set_user(c, k);
}

static void fs_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	struct fconn *k = user;
	uint8_t buf[FULL_REQ];
	while (usn_cursor_size(d)) {
		size_t n = usn_cursor_read(d, buf, sizeof buf);
		for (size_t j = 0; j < n; j++) {
			uint32_t at = (k->rx + (uint32_t)j) % FULL_REQ;
			if (at == 0)
				k->idx = buf[j];
			else
				k->rx_bad += buf[j] != pattern[req_off(k->idx) + at];
		}
		k->rx += (uint32_t)n;
		d = usn_cursor_drop(d, (uint32_t)n);
	}
	if (k->rx % FULL_REQ == 0 && k->rx && usn_tcp_send_ref(c, pattern + resp_off(k->idx), FULL_RESP, NULL) != 0)
		k->rx_bad++;
}

static void fs_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	usn_tcp_close(c);
}

static struct fsrv *the_fsrv;

static void fs_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	if (user == the_fsrv)
		return;
	struct fconn *k = user;
	k->closed++;
	k->why = why;
	the_fsrv->closed++;
}

static const struct usn_tcp_handlers fsrv_h = {
	.connected_fn = fs_connected,
	.recv_fn = fs_recv,
	.remote_closed_fn = fs_remote_closed,
	.closed_fn = fs_closed,
};

static uint8_t freq[FULL_CONNS + 1][FULL_REQ];

static void f_request(struct fconn *k, uint32_t idx)
{
	k->idx = idx;
	memcpy(freq[idx], pattern + req_off(idx), FULL_REQ);
	freq[idx][0] = (uint8_t)idx;
	assert_int_equal(usn_tcp_send_ref(k->c, freq[idx], FULL_REQ, NULL), 0);
}

struct fwait {
	struct fconn *k;
	uint32_t rx;
};

static bool f_got(void *arg)
{
	struct fwait *w = arg;
	return w->k->rx >= w->rx;
}

static bool f_all_got(void *arg)
{
	struct fconn *k = arg;
	for (int i = 0; i < FULL_CONNS; i++)
		if (k[i].rx < 2 * FULL_RESP)
			return false;
	return true;
}

/* A server with FULL_CONNS TCBs, all held by established keep-alive
 * clients. A new client's SYN finds no TCB and no TIME-WAIT to recycle:
 * it is answered with a SYN cookie; its ACK and request are dropped and
 * counted while the pool stays full (no RST: the client retransmits).
 * Meanwhile every established connection still exchanges. One client then
 * closes; its TCB frees; the new client's next retransmission is a valid
 * cookie and becomes a connection, answered byte for byte. */
static void test_pool_full_cookie_then_served(void **st)
{
	const bool v6 = FAM(st);
	static struct fsrv srv;
	memset(&srv, 0, sizeof srv);
	the_fsrv = &srv;
	static struct fconn cli[FULL_CONNS + 1];
	memset(cli, 0, sizeof cli);
	struct simnet net;
	simnet_init(&net, 43);
	struct usn_stack_config cc, scfg;
	usn_stack_config_init(&cc, 0, 15);
	cc.tcp_cookie_secret[0] = 43;
	cc.arp_timeout_ms = 24u * 3600 * 1000;
	scfg = cc;
	scfg.tcp_cookie_secret[1] = 7;
	scfg.tcp_max_conns = FULL_CONNS;
	scale_ipv6_on(&cc, v6, 1);
	scale_ipv6_on(&scfg, v6, 2);
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.n_queues = 1;
	struct simnet_host *a = simnet_add_host(&net, SIMNET_IP(0, 1), &cc, &pc);
	struct simnet_host *b = simnet_add_host(&net, SIMNET_IP(0, 2), &scfg, &pc);
	assert_non_null(a);
	assert_non_null(b);
	struct usn_worker *wa = usn_stack_worker(a->stack, 0), *wb = usn_stack_worker(b->stack, 0);
	const struct usn_addr b_addr = scale_addr(b, v6, 2);
	assert_int_equal(usn_tcp_listen(b->stack, 80, &fsrv_h, &srv), 0);
	struct usn_sim_faults f;
	memset(&f, 0, sizeof f);
	f.delay_us = 100;
	usn_sim_port_set_faults(a->port, &f);
	usn_sim_port_set_faults(b->port, &f);

	/* FULL_CONNS clients fill the pool; each exchanges once */
	for (uint32_t i = 0; i < FULL_CONNS; i++) {
		cli[i].c = usn_tcp_connect_addr(wa, &b_addr, 80, &fcli_h, &cli[i]);
		assert_non_null(cli[i].c);
		cli[i].idx = i;
	}
	simnet_run_for(&net, 10000);
	for (uint32_t i = 0; i < FULL_CONNS; i++) {
		assert_int_equal(cli[i].connected, 1);
		f_request(&cli[i], i);
	}
	simnet_run_for(&net, 10000);
	assert_int_equal(srv.n, FULL_CONNS);
	assert_int_equal(usn_tcp_free_tcbs(wb), 0);
	for (uint32_t i = 0; i < FULL_CONNS; i++)
		assert_int_equal(cli[i].rx, FULL_RESP);

	/* the new client: a cookie, then its ACK and request dropped */
	struct fconn *nc = &cli[FULL_CONNS];
	nc->c = usn_tcp_connect_addr(wa, &b_addr, 80, &fcli_h, nc);
	assert_non_null(nc->c);
	simnet_run_for(&net, 10000);
	assert_int_equal(nc->connected, 1); /* it believes so: the cookie's SYN,ACK came */
	f_request(nc, FULL_CONNS);
	simnet_run_for(&net, 100000);
	const struct usn_stats *sb = usn_worker_stats(wb);
	assert_int_equal(sb->tcp_syncookies_pool_full, 1);
	assert_int_equal(sb->tcp_syncookies_backlog_full, 0);
	assert_int_equal(sb->tcp_syncookies_sent, 1);
	assert_true(sb->drop_tcp_cookie_pool_full >= 2); /* its ACK and its request */
	assert_int_equal(sb->tcp_syncookies_ok, 0);
	assert_int_equal(sb->tcp_rst_tx, 0);
	assert_int_equal(nc->rx, 0);
	assert_int_equal(srv.n, FULL_CONNS);

	/* the established ones are untouched: a second exchange each */
	for (uint32_t i = 0; i < FULL_CONNS; i++)
		f_request(&cli[i], i);
	assert_true(simnet_run_until(&net, f_all_got, cli, 1000000));
	assert_int_equal(nc->rx, 0);

	/* one client leaves: its TCB frees (the server ends in LAST-ACK, then
	 * CLOSED; TIME-WAIT is the client's) */
	usn_tcp_close(cli[0].c);
	simnet_run_for(&net, 10000);
	assert_int_equal(srv.closed, 1);
	assert_int_equal(usn_tcp_free_tcbs(wb), 1);

	/* the new client's retransmission now makes the connection */
	struct fwait w = {nc, FULL_RESP};
	assert_true(simnet_run_until(&net, f_got, &w, 30000000));
	assert_int_equal(nc->rx, FULL_RESP);
	assert_int_equal(nc->rx_bad, 0);
	assert_int_equal(sb->tcp_syncookies_ok, 1);
	assert_int_equal(srv.n, FULL_CONNS + 1);
	assert_int_equal(srv.conns[FULL_CONNS].rx, FULL_REQ);
	assert_int_equal(srv.conns[FULL_CONNS].rx_bad, 0);
	assert_int_equal(usn_tcp_free_tcbs(wb), 0);

	/* nothing was harmed: every connection still open but the one that
	 * left, every byte right, no reset either way */
	for (uint32_t i = 0; i < FULL_CONNS; i++) {
		assert_int_equal(cli[i].rx, 2 * FULL_RESP);
		assert_int_equal(cli[i].rx_bad, 0);
		assert_int_equal(cli[i].closed, i == 0);
		assert_int_equal(srv.conns[i].rx_bad, 0);
		assert_int_equal(srv.conns[i].closed, i == 0);
	}
	assert_int_equal(cli[0].why, USN_TCP_CLOSE_NORMAL);
	assert_int_equal(nc->closed, 0);
	assert_int_equal(srv.bad, 0);
	const struct usn_stats *sa = usn_worker_stats(wa);
	assert_int_equal(sa->tcp_rst_rx + sa->tcp_rst_tx + sb->tcp_rst_rx + sb->tcp_rst_tx, 0);
	check_family(sa, v6);
	check_family(sb, v6);
	simnet_destroy(&net);
}

int main(void)
{
	pattern_init();
	const struct CMUnitTest tests[] = {
		BOTH_FAMILIES(test_hold_many_connections),
		BOTH_FAMILIES(test_pool_full_cookie_then_served),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
