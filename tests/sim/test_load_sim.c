/* Simulation test: usn_load's client (apps/usn_load/load.c) against
 * minimal_ws's server logic on two simulated hosts: every response checked
 * (also over a lossy link and over IPv6), each error kind detected and
 * counted exactly, fixed-rate pacing in virtual time. (The body hash: tests/unit/app/test_load.c.) */

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
#include "../../apps/usn_load/load.h"
#include "core/worker.h"
#include "pagetree.h"
#include "simnet.h"
#include "usnet/csum.h"
#include "usnet/tcp.h"

#define SERVER_IP SIMNET_IP(0, 1)
#define CLIENT_IP SIMNET_IP(0, 2)
#define MAX_VIRTUAL_US (300ull * 1000000u)

static struct pagetree_file files[] = {
    {"/a.html", 1024, NULL},	{"/b.css", 3000, NULL},	 {"/d/c.html", 70001, NULL},
    {"/big.bin", 400000, NULL}, {"/empty.txt", 0, NULL},
};
#define N_FILES (sizeof(files) / sizeof(files[0]))

struct fixture {
	char root[64];
	struct http_store *store;
	struct load_corpus *corpus; /* the same files, as the client knows them */
	struct simnet net;
	struct simnet_host *server, *client;
	struct mws *mws;
};

/* Host n's IPv6 address, 2001:2::n (RFC 5180's benchmarking prefix). */
static void host_ip6(uint8_t n, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[15] = n;
}

/* Both hosts with IPv6 beside IPv4 (2001:2::1 the server, ::2 the client),
 * duplicate address detection on, as usn_load runs. */
static void setup_hosts(struct fixture *f, bool v6)
{
	if (!v6) {
		f->server = simnet_add_host(&f->net, SERVER_IP, NULL, NULL);
		f->client = simnet_add_host(&f->net, CLIENT_IP, NULL, NULL);
		return;
	}
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, SERVER_IP, 15);
	cfg.ipv6 = true;
	cfg.n_ip6 = 1;
	cfg.ip6[0].prefix_len = 64;
	host_ip6(1, cfg.ip6[0].addr);
	f->server = simnet_add_host(&f->net, SERVER_IP, &cfg, NULL);
	host_ip6(2, cfg.ip6[0].addr);
	f->client = simnet_add_host(&f->net, CLIENT_IP, &cfg, NULL);
}

static int setup_faults_fam(void **state, const struct usn_sim_faults *faults, bool v6)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	pagetree_create(f->root, sizeof(f->root), "test_load_sim", files, N_FILES, 99);
	struct http_store_opts so = {.csum_build = usn_csum_table_build, .csum_free = usn_csum_table_free};
	char msg[256];
	f->store = http_store_open(f->root, &so, msg, sizeof(msg));
	if (!f->store)
		fail_msg("store: %s", msg);
	f->corpus = load_corpus_open(f->root, msg, sizeof(msg));
	if (!f->corpus)
		fail_msg("corpus: %s", msg);
	simnet_init(&f->net, 11);
	setup_hosts(f, v6);
	assert_non_null(f->server);
	assert_non_null(f->client);
	if (faults) {
		usn_sim_port_set_faults(f->server->port, faults);
		usn_sim_port_set_faults(f->client->port, faults);
	}
	struct mws_opts mo = {.port = 80};
	int err = 0;
	f->mws = mws_init(f->server->stack, f->store, &mo, &err);
	if (!f->mws)
		fail_msg("mws_init: %d", err);
	*state = f;
	return 0;
}

static int setup_faults(void **state, const struct usn_sim_faults *faults)
{
	return setup_faults_fam(state, faults, false);
}

static int setup(void **state)
{
	return setup_faults(state, NULL);
}

static int setup_v6(void **state)
{
	return setup_faults_fam(state, NULL, true);
}

static int setup_lossy(void **state)
{
	struct usn_sim_faults fl = {
	    .loss = 0.01, .duplicate = 0.01, .reorder = 0.02, .delay_us = 100, .jitter_us = 50};
	return setup_faults(state, &fl);
}

static int setup_heavy_loss(void **state)
{
	struct usn_sim_faults fl = {.loss = 0.05, .delay_us = 50};
	return setup_faults(state, &fl);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mws_destroy(f->mws);
	simnet_destroy(&f->net);
	http_store_close(f->store);
	load_corpus_close(f->corpus);
	pagetree_remove(f->root, files, N_FILES);
	free(f);
	return 0;
}

/* Requests the client has started, over all its workers. */
static uint64_t started_all(struct fixture *f, struct load *l)
{
	uint64_t n = 0;
	for (uint16_t w = 0; w < usn_stack_workers(f->client->stack); w++)
		n += load_worker_stats(l, w)->started;
	return n;
}

/* Polls both hosts and steps every client worker after every round; moves
 * the virtual clock when nothing moved. Fails if the run does not end.
 * Hosts may have several workers (the tilegx backend's two-worker mode). */
static void drive(struct fixture *f, struct load *l)
{
	uint64_t end = simnet_now_us(&f->net) + MAX_VIRTUAL_US;
	uint16_t nw = usn_stack_workers(f->client->stack);
	for (;;) {
		uint64_t before = started_all(f, l);
		unsigned moved = simnet_poll(&f->net);
		bool more = false;
		for (uint16_t w = 0; w < nw; w++)
			more |= load_worker_step(l, w);
		if (!more)
			break;
		if (moved || started_all(f, l) != before)
			continue;
		uint64_t now = simnet_now_us(&f->net);
		assert_true(now < end);
		uint64_t next = usn_sim_link_next_delivery_us(f->net.link);
		for (int h = 0; h < f->net.n; h++)
			for (uint16_t w = 0; w < usn_stack_workers(f->net.host[h].stack); w++) {
				uint64_t d = usn_worker_next_deadline_us(usn_stack_worker(f->net.host[h].stack, w));
				if (d < next)
					next = d;
			}
		/* the client's own pacing and timeouts: at most 100 us ahead */
		if (next > now + 100)
			next = now + 100;
		if (next <= now)
			next = now + 1;
		usn_sim_link_advance(f->net.link, next - now);
	}
	simnet_run_for(&f->net, 1000);
}

static struct load *run(struct fixture *f, const struct load_corpus *c, struct load_opts *o,
			struct load_stats *st)
{
	if (!o->server_ip)
		o->server_ip = SERVER_IP;
	int err = 0;
	struct load *l = load_create(f->client->stack, c, o, &err);
	assert_non_null(l);
	drive(f, l);
	load_stats_sum(l, st);
	return l;
}

static uint64_t n_errors(const struct load_stats *st)
{
	uint64_t n = 0;
	for (int e = 0; e < LOAD_ERR_N; e++)
		n += st->errors[e];
	return n;
}

/* Every response of a closed-loop run is correct; no TCB left behind. */
static void check_clean_run(struct fixture *f, uint32_t conns, uint64_t requests)
{
	struct load_stats st;
	struct load_opts o = {.connections = conns, .requests = requests, .seed = 3};
	struct load *l = run(f, f->corpus, &o, &st);
	for (int e = 0; e < LOAD_ERR_N; e++)
		if (st.errors[e])
			fail_msg("%s errors: %llu", load_err_name((enum load_err)e),
				 (unsigned long long)st.errors[e]);
	assert_int_equal(st.started, requests);
	assert_int_equal(st.completed, requests);
	uint64_t hist = 0;
	for (unsigned b = 0; b < LOAD_HIST_BUCKETS; b++)
		hist += st.hist[b];
	assert_int_equal(hist, requests);
	uint64_t st200 = 0;
	for (uint16_t w = 0; w < usn_stack_workers(f->server->stack); w++) {
		struct mws_worker_stats ms;
		mws_worker_stats(f->mws, w, &ms);
		st200 += ms.st200;
	}
	assert_int_equal(st200, requests);
	/* Pages of 70 and 400 KB: large segments in the offload mode
	 * (USN_SIM_OFFLOADS=tso,lro), GRO without; never a frame above the
	 * MTU on the wire. */
	struct usn_stats ss, cs;
	struct usn_sim_port_stats sp, cp;
	usn_stack_stats(f->server->stack, &ss);
	usn_stack_stats(f->client->stack, &cs);
	usn_sim_port_stats(f->server->port, &sp);
	usn_sim_port_stats(f->client->port, &cp);
	assert_true(sp.tx_max_ip <= usn_stack_config(f->server->stack)->mtu &&
		    cp.tx_max_ip <= usn_stack_config(f->client->stack)->mtu);
	if (simnet_env_offloads() & USN_HAL_OFF_TX_TSO)
		assert_true(ss.tcp_tso_frames > 0);
	if (simnet_env_offloads() & USN_HAL_OFF_RX_LRO)
		assert_true(cs.rx_coalesced > 0);
	else
		assert_true(cs.gro_frames > 0);
	load_destroy(l);
	simnet_run_for(&f->net, 2000000);
	uint32_t max = usn_stack_config(f->client->stack)->tcp_max_conns;
	for (uint16_t w = 0; w < usn_stack_workers(f->client->stack); w++)
		assert_int_equal(usn_tcp_free_tcbs(usn_stack_worker(f->client->stack, w)), max ? max : 4096u);
}

static void test_closed_loop_all_correct(void **state)
{
	check_clean_run(*state, 8, 300);
}

static void test_lossy_link_all_correct(void **state)
{
	check_clean_run(*state, 8, 200);
}

/* Over IPv6 (usn_tcp_connect_addr): every response correct, every
 * segment IPv6's. The run waits for duplicate address detection (a second
 * of virtual time) before it opens: a tentative address is no source, and
 * without the wait every open fails at once as a connect error. */
static void test_ipv6_all_correct(void **state)
{
	struct fixture *f = *state;
	/* On a port with RSS (the TILE-Gx modes) every IPv6 flow is worker
	 * 0's and usn_tcp_connect_addr refuses on the others, so usn_load
	 * takes an IPv6 server only with one worker there (its main says
	 * so and stops): that configuration does not exist to test. */
	if (usn_stack_workers(f->client->stack) > 1 &&
	    (usn_stack_worker(f->client->stack, 0)->hal->offloads & USN_HAL_OFF_RSS)) {
		print_message("skipped: IPv6 with %u workers on a port with RSS, which usn_load refuses\n",
			      (unsigned)usn_stack_workers(f->client->stack));
		skip();
	}
	struct load_opts o = {.connections = 8, .requests = 200, .seed = 3};
	uint8_t srv6[16];
	host_ip6(1, srv6);
	o.server = usn_addr_ipv6(srv6);
	struct load_stats st;
	struct load *l = run(f, f->corpus, &o, &st);
	for (int e = 0; e < LOAD_ERR_N; e++)
		if (st.errors[e])
			fail_msg("%s errors: %llu", load_err_name((enum load_err)e),
				 (unsigned long long)st.errors[e]);
	assert_int_equal(st.started, 200);
	assert_int_equal(st.completed, 200);
	struct usn_stats ss, cs;
	usn_stack_stats(f->server->stack, &ss);
	usn_stack_stats(f->client->stack, &cs);
	assert_true(cs.tcp6_tx_segs > 0 && ss.tcp6_rx_segs > 0 && ss.tcp6_tx_segs > 0);
	assert_int_equal(cs.tcp_active_opens, 200);
	load_destroy(l);
}

/* One page whose client-side bytes differ from the server's. */
static struct load_corpus *one_page(const char *url, const void *body, uint64_t len)
{
	const char *p = url;
	const void *b = body;
	struct load_corpus *c = load_corpus_of(&p, &b, &len, 1);
	assert_non_null(c);
	return c;
}

static void test_bad_body_detected(void **state)
{
	struct fixture *f = *state;
	uint8_t *other = malloc(files[2].len);
	assert_non_null(other);
	memcpy(other, files[2].data, files[2].len);
	other[files[2].len / 2] ^= 1; /* one bit, mid-page */
	struct load_corpus *c = one_page(files[2].path, other, files[2].len);
	struct load_stats st;
	struct load_opts o = {.connections = 4, .requests = 20};
	load_destroy(run(f, c, &o, &st));
	assert_int_equal(st.completed, 0);
	assert_int_equal(st.errors[LOAD_ERR_BODY], 20);
	assert_int_equal(n_errors(&st), 20);
	load_corpus_close(c);
	free(other);
}

static void test_bad_length_detected(void **state)
{
	struct fixture *f = *state;
	struct load_corpus *c = one_page(files[1].path, files[1].data, files[1].len);
	c->pages[0].body_len++; /* the client expects one byte more */
	struct load_stats st;
	struct load_opts o = {.connections = 4, .requests = 20};
	load_destroy(run(f, c, &o, &st));
	assert_int_equal(st.completed, 0);
	assert_int_equal(st.errors[LOAD_ERR_LENGTH], 20);
	assert_int_equal(n_errors(&st), 20);
	load_corpus_close(c);
}

static void test_bad_status_detected(void **state)
{
	struct fixture *f = *state;
	struct load_corpus *c = one_page("/nowhere.html", "x", 1);
	struct load_stats st;
	struct load_opts o = {.connections = 2, .requests = 10};
	load_destroy(run(f, c, &o, &st));
	assert_int_equal(st.completed, 0);
	assert_int_equal(st.errors[LOAD_ERR_STATUS], 10);
	assert_int_equal(n_errors(&st), 10);
	load_corpus_close(c);
}

static void test_refused_is_connect_error(void **state)
{
	struct fixture *f = *state;
	struct load_stats st;
	struct load_opts o = {.connections = 2, .requests = 10, .port = 81};
	load_destroy(run(f, f->corpus, &o, &st));
	assert_int_equal(st.completed, 0);
	assert_int_equal(st.errors[LOAD_ERR_CONNECT], 10);
	assert_int_equal(n_errors(&st), 10);
}

/* Nobody answers: every request times out after its timeout, and the run
 * still ends by itself. */
static void test_timeout_ends_run(void **state)
{
	struct fixture *f = *state;
	struct load_stats st;
	struct load_opts o = {
	    .connections = 2, .requests = 4, .server_ip = SIMNET_IP(0, 9), .timeout_ns = 300000000ull};
	load_destroy(run(f, f->corpus, &o, &st));
	assert_int_equal(st.completed, 0);
	assert_int_equal(n_errors(&st), 4);
	assert_int_equal(st.errors[LOAD_ERR_CONNECT] + st.errors[LOAD_ERR_TIMEOUT], 4);
}

/* Fixed rate in virtual time: 2000/s for 0.5 s is 1000 requests sent on
 * schedule, latency counted from the intended send time. */
static void test_fixed_rate(void **state)
{
	struct fixture *f = *state;
	struct load_corpus *c = one_page(files[0].path, files[0].data, files[0].len);
	struct load_stats st;
	struct load_opts o = {.connections = 64, .rate = 2000, .duration_ns = 500000000ull};
	load_destroy(run(f, c, &o, &st));
	assert_int_equal(n_errors(&st), 0);
	assert_true(st.started >= 999 && st.started <= 1001);
	assert_int_equal(st.completed, st.started);
	assert_int_equal(st.late, 0);
	assert_true(st.by_duration);
	struct load_summary s;
	load_summarize(&st, &s);
	assert_true(s.req_s > 1900 && s.req_s < 2100);
	load_corpus_close(c);
}

/* KNOWN ISSUE (lib/tcp loss recovery), reported to the TCP owner; skipped
 * unless USN_LOAD_KNOWN_ISSUES=1. 5% loss each way, 100 us RTT, 32
 * connections, 200 requests (pages up to 400 KB): every response arrives
 * correct, but loss recovery leans on the RTO (the server fires more RTOs than
 * fast retransmits), so the slowest requests take seconds of virtual time
 * where SACK recovery would need milliseconds. Asserted: p99 under 1 s. */
static void test_known_issue_heavy_loss_latency(void **state)
{
	if (!getenv("USN_LOAD_KNOWN_ISSUES"))
		skip();
	struct fixture *f = *state;
	struct load_stats st;
	struct load_opts o = {.connections = 32, .requests = 200, .seed = 3, .timeout_ns = 120000000000ull};
	load_destroy(run(f, f->corpus, &o, &st));
	assert_int_equal(n_errors(&st), 0);
	assert_int_equal(st.completed, 200);
	const struct usn_stats *ss = usn_worker_stats(usn_stack_worker(f->server->stack, 0));
	print_message("server: %llu RTOs, %llu fast retransmits; p99 %.3f s, max %.3f s (virtual)\n",
		      (unsigned long long)ss->tcp_rto_fired, (unsigned long long)ss->tcp_fast_retrans,
		      load_percentile_ns(&st, 0.99) / 1e9, st.lat_max_ns / 1e9);
	assert_true(load_percentile_ns(&st, 0.99) < 1000000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_closed_loop_all_correct, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lossy_link_all_correct, setup_lossy, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_all_correct, setup_v6, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_body_detected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_length_detected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_status_detected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_is_connect_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_ends_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fixed_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_known_issue_heavy_loss_latency, setup_heavy_loss, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
