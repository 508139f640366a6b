/* Simulation test: connection churn as minimal_ws sees it under load.
 * One client stack keeps `concurrent` HTTP/1.0-like exchanges open against
 * a server stack over a clean link (request, response, the server closes
 * first, so TIME-WAIT sits on the server) until `total` have run; no SYN
 * may be dropped and no segment retransmitted, whatever TIME-WAIT holds.
 * Every case runs over IPv4 and again over IPv6 (its name ending in _v6:
 * 2001:2::1 to 2001:2::2, Neighbour Discovery in ARP's place). */
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

#define PORT 80
#define REQ_LEN 100u
#define RESP_LEN 3000u
#define MAX_CONCURRENT 1000

static uint8_t req[REQ_LEN], resp[RESP_LEN];

struct churn;

struct slot {
	struct churn *ch;
	struct usn_tcp_conn *c;
	uint32_t rx;
	bool used;
};

struct churn {
	struct simnet net;
	struct simnet_host *cli, *srv;
	struct slot slots[MAX_CONCURRENT];
	int concurrent, total;
	int started, done, bad, connect_failed;
	int srv_closed, srv_bad;
	char responded; /* a server connection's user pointer once it answered */
	bool v6;	/* the exchanges go over IPv6 */
};

/* The family a case runs over: its prestate. */
static const bool fam_v4 = false, fam_v6 = true;
#define FAM(st) (*(const bool *)*(st))
/* A case twice: over IPv4 under its name, over IPv6 as name_v6. */
#define BOTH_FAMILIES(f) {#f, f, NULL, NULL, (void *)&fam_v4}, {#f "_v6", f, NULL, NULL, (void *)&fam_v6}

/* Host n's IPv6 address, 2001:2::n (RFC 5180's benchmarking prefix). */
static void churn_ip6(uint8_t n, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[15] = n;
}

static void churn_ipv6_on(struct usn_stack_config *c, uint8_t n)
{
	c->ipv6 = true;
	c->ipv6_no_dad = true;
	c->n_ip6 = 1;
	c->ip6[0].prefix_len = 64;
	churn_ip6(n, c->ip6[0].addr);
}

/* ---- client: request, then close when the server has closed ---- */

static void cli_connected(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	assert_int_equal(usn_tcp_send_ref(c, req, REQ_LEN, NULL), 0);
}

static void cli_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	struct slot *s = user;
	s->rx += usn_cursor_size(d);
}

static void cli_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	usn_tcp_close(c);
}

static void cli_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct slot *s = user;
	if (why != USN_TCP_CLOSE_NORMAL || s->rx != RESP_LEN) {
		s->ch->bad++;
		fprintf(stderr, "client connection: why %d rx %u\n", (int)why, s->rx);
	}
	s->ch->done++;
	s->used = false;
}

static const struct usn_tcp_handlers cli_h = {
	.connected_fn = cli_connected,
	.recv_fn = cli_recv,
	.remote_closed_fn = cli_remote_closed,
	.closed_fn = cli_closed,
};

/* ---- server: the response after the request, then close first ---- */

static void srv_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)d;
	struct churn *ch = user;
	if (user == &ch->responded)
		return;
	assert_int_equal(usn_tcp_send_ref(c, resp, RESP_LEN, NULL), 0);
	assert_int_equal(usn_tcp_close(c), 0);
	usn_tcp_set_user(c, &ch->responded);
}

static void srv_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why);

static struct churn *the_churn; /* for srv_closed: the user pointer may be the marker */

static void srv_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct churn *ch = the_churn;
	ch->srv_closed++;
	if (why != USN_TCP_CLOSE_NORMAL || user != &ch->responded)
		ch->srv_bad++;
}

static const struct usn_tcp_handlers srv_h = {
	.recv_fn = srv_recv,
	.closed_fn = srv_closed,
};

/* Tops the client up to `concurrent` open exchanges (between polls). */
static bool churn_step(void *arg)
{
	struct churn *ch = arg;
	struct usn_worker *w = usn_stack_worker(ch->cli->stack, 0);
	int started0 = ch->started;
	for (int i = 0; i < ch->concurrent && ch->started < ch->total; i++) {
		struct slot *s = &ch->slots[i];
		if (s->used)
			continue;
		memset(s, 0, sizeof *s);
		s->ch = ch;
		struct usn_addr dst = usn_addr_ipv4(ch->srv->ip);
		if (ch->v6) {
			dst.family = USN_AF_INET6;
			churn_ip6(2, dst.u.v6);
		}
		s->c = usn_tcp_connect_addr(w, &dst, PORT, &cli_h, s);
		if (!s->c) {
			ch->connect_failed++;
			return true; /* fails the test below */
		}
		s->used = true;
		ch->started++;
	}
	/* The SYNs leave at the worker's next flush: poll once, so the run
	 * sees their timers and deliveries before it moves the clock. */
	if (ch->started != started0)
		simnet_poll(&ch->net);
	return ch->done == ch->total;
}

static void stats_of(struct simnet_host *h, struct usn_stats *st)
{
	usn_stack_stats(h->stack, st);
}

/* Runs the churn and checks every counter that a dropped SYN, a
 * retransmission or a reset would move. */
static void churn(bool v6, uint64_t seed, int concurrent, int total, const struct usn_stack_config *srv_cfg, bool ts,
		  struct usn_stats *srv_out)
{
	struct churn *ch = calloc(1, sizeof *ch);
	assert_non_null(ch);
	the_churn = ch;
	ch->v6 = v6;
	ch->concurrent = concurrent;
	ch->total = total;
	simnet_init(&ch->net, seed);
	struct usn_stack_config cc;
	usn_stack_config_init(&cc, 0, 15);
	cc.tcp_no_timestamps = !ts;
	cc.tcp_cookie_secret[0] = (uint32_t)seed;
	cc.tcp_cookie_secret[1] = 0xc;
	struct usn_stack_config sc = *srv_cfg;
	cc.arp_timeout_ms = sc.arp_timeout_ms; /* the server's ARP lifetime, both stacks (0: default) */
	/* CHURN_ARP_TIMEOUT_MS: ARP entries expiring under load (both stacks). */
	if (getenv("CHURN_ARP_TIMEOUT_MS"))
		cc.arp_timeout_ms = sc.arp_timeout_ms = (uint32_t)strtoul(getenv("CHURN_ARP_TIMEOUT_MS"), NULL, 0);
	sc.tcp_cookie_secret[0] = (uint32_t)seed;
	sc.tcp_cookie_secret[1] = 0x5;
	if (v6) {
		churn_ipv6_on(&cc, 1);
		churn_ipv6_on(&sc, 2);
	}
	/* 1000 responses leave in one burst: room for them on the wire, as a
	 * NIC's rings plus the link's pacing would give (the sim's receive
	 * store also holds what is still being serialised). */
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof pc);
	pc.rx_ring = 16384;
	/* One queue, asked for explicitly: the exact TIME-WAIT counts below
	 * follow from one worker's port space (a backend mode with more
	 * workers by default honours this). */
	pc.n_queues = 1;
	ch->cli = simnet_add_host(&ch->net, SIMNET_IP(0, 1), &cc, &pc);
	ch->srv = simnet_add_host(&ch->net, SIMNET_IP(0, 2), &sc, &pc);
	assert_non_null(ch->cli);
	assert_non_null(ch->srv);
	if (getenv("PAIR_PCAP"))
		usn_sim_link_pcap_open(ch->net.link, getenv("PAIR_PCAP"));
	struct usn_sim_faults f;
	memset(&f, 0, sizeof f);
	f.delay_us = 100;
	f.rate_bps = 10000000000ull; /* 10 Gbit/s: bursts arrive spread, as on a wire */
	usn_sim_port_set_faults(ch->cli->port, &f);
	usn_sim_port_set_faults(ch->srv->port, &f);
	assert_int_equal(usn_tcp_listen(ch->srv->stack, PORT, &srv_h, ch), 0);
	uint32_t cli_free0 = usn_tcp_free_tcbs(usn_stack_worker(ch->cli->stack, 0));
	uint32_t srv_free0 = usn_tcp_free_tcbs(usn_stack_worker(ch->srv->stack, 0));

	/* One exchange first: ARP is resolved (a burst queued behind an ARP
	 * request beyond arp_queue_len is dropped, a question for lib/net). */
	ch->concurrent = 1;
	ch->total = 1;
	assert_true(simnet_run_until(&ch->net, churn_step, ch, 10000000ull));
	ch->concurrent = concurrent;
	ch->total = total + 1;
	total++;
	bool ok = simnet_run_until(&ch->net, churn_step, ch, 600000000ull);
	struct usn_stats a, b;
	stats_of(ch->cli, &a);
	stats_of(ch->srv, &b);
	if (getenv("PAIR_DEBUG") || !ok || ch->bad || a.tcp_retrans_segs || b.tcp_retrans_segs)
		fprintf(stderr,
			"churn %d/%d (started %d): %.3f s virtual; done %d bad %d connect_failed %d | srv: passive %llu cookie_pool_full %llu "
			"pool_empty %llu cookies %llu tw_reused %llu tw_overflow %llu no_conn %llu not_acc %llu paws %llu "
			"chal %llu rst_tx %llu retrans %llu | cli: pool_empty %llu rst_rx %llu rst_tx %llu retrans %llu "
			"rto %llu not_acc %llu\n",
			ch->done, total, ch->started, (double)simnet_now_us(&ch->net) / 1e6 - 1.0, ch->done, ch->bad, ch->connect_failed,
			(unsigned long long)b.tcp_passive_opens, (unsigned long long)b.drop_tcp_cookie_pool_full,
			(unsigned long long)b.tcp_pool_empty, (unsigned long long)b.tcp_syncookies_sent,
			(unsigned long long)b.tcp_timewait_reused, (unsigned long long)b.tcp_timewait_overflow,
			(unsigned long long)b.drop_tcp_no_conn, (unsigned long long)b.drop_tcp_not_acceptable,
			(unsigned long long)b.drop_tcp_paws, (unsigned long long)b.tcp_challenge_acks,
			(unsigned long long)b.tcp_rst_tx, (unsigned long long)b.tcp_retrans_segs,
			(unsigned long long)a.tcp_pool_empty, (unsigned long long)a.tcp_rst_rx, (unsigned long long)a.tcp_rst_tx,
			(unsigned long long)a.tcp_retrans_segs, (unsigned long long)a.tcp_rto_fired,
			(unsigned long long)a.drop_tcp_not_acceptable);
	if (!ok || getenv("PAIR_DEBUG")) {
		struct usn_sim_port_stats pa, pb;
		usn_sim_port_stats(ch->cli->port, &pa);
		usn_sim_port_stats(ch->srv->port, &pb);
		fprintf(stderr, "  ports: cli rx_ring_full %llu bufs %u/%u; srv rx_ring_full %llu bufs %u/%u\n",
			(unsigned long long)pa.rx_ring_full, pa.bufs_free, pa.bufs_total, (unsigned long long)pb.rx_ring_full,
			pb.bufs_free, pb.bufs_total);
		for (size_t i = 0; i < usn_stats_count(); i++)
			if (usn_stats_value(&a, i) || usn_stats_value(&b, i))
				fprintf(stderr, "  %s: cli %llu srv %llu\n", usn_stats_name(i), (unsigned long long)usn_stats_value(&a, i),
					(unsigned long long)usn_stats_value(&b, i));
	}
	assert_true(ok);
	assert_int_equal(ch->connect_failed, 0);
	assert_int_equal(ch->done, total);
	assert_int_equal(ch->bad, 0);
	/* every SYN became a connection at once: none dropped, none answered
	 * by a cookie, none needing a retransmission (a clean link) */
	assert_int_equal(b.tcp_passive_opens, (uint64_t)total);
	assert_int_equal(a.tcp_active_opens, (uint64_t)total);
	assert_int_equal(b.drop_tcp_cookie_pool_full, 0);
	assert_int_equal(b.tcp_pool_empty, 0);
	assert_int_equal(a.tcp_pool_empty, 0);
	assert_int_equal(b.tcp_syncookies_sent, 0);
	assert_int_equal(a.tcp_retrans_segs, 0);
	assert_int_equal(b.tcp_retrans_segs, 0);
	assert_int_equal(a.tcp_rto_fired, 0);
	assert_int_equal(a.tcp_rst_rx, 0);
	assert_int_equal(a.tcp_rst_tx, 0);
	assert_int_equal(b.tcp_rst_rx, 0);
	assert_int_equal(b.tcp_rst_tx, 0);
	assert_int_equal(b.drop_tcp_no_conn, 0);
	assert_int_equal(a.drop_tcp_no_conn, 0);
	assert_int_equal(b.tcp_challenge_acks, 0);
	assert_int_equal(a.tcp_challenge_acks, 0);
	/* nothing waited on ARP beyond its queue or for a neighbour lost */
	assert_int_equal(a.drop_arp_queue_full, 0);
	assert_int_equal(b.drop_arp_queue_full, 0);
	assert_int_equal(a.drop_arp_unresolved, 0);
	assert_int_equal(b.drop_arp_unresolved, 0);
	assert_int_equal(a.arp_failed, 0);
	assert_int_equal(b.arp_failed, 0);
	assert_int_equal(a.drop_nd_queue_full + b.drop_nd_queue_full, 0);
	assert_int_equal(a.drop_nd_unresolved + b.drop_nd_unresolved, 0);
	assert_int_equal(a.nd_failed + b.nd_failed, 0);
	/* every segment went over the case's family */
	assert_int_equal(b.tcp6_rx_segs, v6 ? b.tcp_rx_segs : 0);
	assert_int_equal(a.tcp6_rx_segs, v6 ? a.tcp_rx_segs : 0);
	/* the server's side: every connection closed NORMAL after answering */
	simnet_run_for(&ch->net, ((uint64_t)sc.tcp_timewait_ms + 1000u) * 1000u);
	assert_int_equal(ch->srv_closed, total);
	assert_int_equal(ch->srv_bad, 0);
	assert_int_equal(usn_tcp_free_tcbs(usn_stack_worker(ch->cli->stack, 0)), cli_free0);
	assert_int_equal(usn_tcp_free_tcbs(usn_stack_worker(ch->srv->stack, 0)), srv_free0);
	/* ... and no connection is left counted in any state (the conns_*
	 * gauges), whichever way each went: TIME-WAIT expired or reused, the
	 * pool full of TIME-WAITs */
	for (size_t i = 0; i < usn_stats_count(); i++) {
		if (!usn_stats_is_gauge(i))
			continue;
		if (usn_stats_value(usn_worker_stats(usn_stack_worker(ch->cli->stack, 0)), i) ||
		    usn_stats_value(usn_worker_stats(usn_stack_worker(ch->srv->stack, 0)), i))
			fprintf(stderr, "gauge %s not 0\n", usn_stats_name(i));
		assert_int_equal(usn_stats_value(usn_worker_stats(usn_stack_worker(ch->cli->stack, 0)), i), 0);
		assert_int_equal(usn_stats_value(usn_worker_stats(usn_stack_worker(ch->srv->stack, 0)), i), 0);
	}
	if (srv_out)
		*srv_out = b;
	simnet_destroy(&ch->net);
	free(ch);
}

static void srv_defaults(struct usn_stack_config *c)
{
	usn_stack_config_init(c, 0, 15);
	c->tcp_timewait_ms = 60000;
}

/* minimal_ws's configuration (4096 TCBs, 1024 TIME-WAITs): 20000
 * exchanges, 1000 at a time. */
static void test_churn_defaults(void **st)
{
	struct usn_stack_config sc;
	srv_defaults(&sc);
	struct usn_stats b;
	churn(FAM(st), 1, 1000, 20000, &sc, true, &b);
	assert_int_equal(b.tcp_timewait_overflow, 20001 - 1024);
}

/* TIME-WAIT longer than the client's port cycle (16384 ports): the last
 * 3617 SYNs each land on a TIME-WAIT 4-tuple and must be accepted (RFC
 * 6191: newer timestamp), with and without timestamps (newer ISN). */
static void tw_big(struct usn_stack_config *c)
{
	srv_defaults(c);
	c->tcp_max_conns = 24576;
	c->tcp_max_timewait = 20000;
}

static void test_churn_syn_on_time_wait(void **st)
{
	struct usn_stack_config sc;
	tw_big(&sc);
	struct usn_stats b;
	churn(FAM(st), 2, 1000, 20000, &sc, true, &b);
	assert_int_equal(b.tcp_timewait_reused, 20001 - 16384);
	assert_int_equal(b.tcp_timewait_overflow, 0);
}

static void test_churn_syn_on_time_wait_no_ts(void **st)
{
	struct usn_stack_config sc;
	tw_big(&sc);
	struct usn_stats b;
	churn(FAM(st), 3, 1000, 20000, &sc, false, &b);
	assert_int_equal(b.tcp_timewait_reused, 20001 - 16384);
}

/* TIME-WAIT allowed to fill the whole pool (tcp_max_timewait =
 * tcp_max_conns): a new SYN still finds a TCB, the oldest TIME-WAIT's. */
static void test_churn_time_wait_fills_pool(void **st)
{
	struct usn_stack_config sc;
	srv_defaults(&sc);
	sc.tcp_max_conns = 2048;
	sc.tcp_max_timewait = 2048;
	churn(FAM(st), 4, 1000, 20000, &sc, true, NULL);
}

/* ARP entries that age during the run (a 5 ms lifetime, a dozen reachable
 * times in its ~60 ms of virtual time; peers busy with TCP send no ARP):
 * a stale entry stays in use while a unicast request confirms it, so no
 * burst of SYN-ACKs waits behind a fresh resolution. With entries expiring
 * hard, thousands were dropped at the full ARP queue and clients resent
 * their SYNs after 1 s (lib/net/arp.c, RFC 1122 2.3.2.1). */
static void test_churn_arp_entries_age(void **st)
{
	struct usn_stack_config sc;
	srv_defaults(&sc);
	sc.arp_timeout_ms = 5;
	struct usn_stats b;
	churn(FAM(st), 5, 1000, 20000, &sc, true, &b);
	if (FAM(st)) {
		/* Neighbour Discovery keeps ARP's lifetimes (arp_timeout_ms). */
		assert_true(b.nd_ns_tx >= 5);
		assert_int_equal(b.nd_expired, 0);
	} else {
		assert_true(b.arp_requests_tx >= 5); /* the probes did run */
		assert_int_equal(b.arp_expired, 0);
	}
}

int main(void)
{
	for (uint32_t i = 0; i < REQ_LEN; i++)
		req[i] = (uint8_t)('a' + i % 26);
	for (uint32_t i = 0; i < RESP_LEN; i++)
		resp[i] = (uint8_t)i;
	const struct CMUnitTest tests[] = {
		BOTH_FAMILIES(test_churn_defaults),
		BOTH_FAMILIES(test_churn_syn_on_time_wait),
		BOTH_FAMILIES(test_churn_syn_on_time_wait_no_ts),
		BOTH_FAMILIES(test_churn_time_wait_fills_pool),
		BOTH_FAMILIES(test_churn_arp_entries_age),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
