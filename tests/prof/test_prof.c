/* Cost-centre test (issue 6), built only with USN_PROFILE=1 (`make
 * test-prof`, in its own build tree): an HTTP exchange between minimal_ws's
 * logic (apps/minimal_ws/mws.c) and a small client over the simulated link;
 * each worker's categories must sum to its measured loop cycles, and every
 * category the exchange uses must have been charged. */
#define _XOPEN_SOURCE 700 /* mkdtemp */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../apps/http/page_store.h"
#include "../../apps/minimal_ws/mws.h"
#include "core/worker.h"
#include "simnet.h"
#include "usnet/csum.h"
#include "usnet/stats.h"
#include "usnet/tcp.h"

#define SERVER_IP SIMNET_IP(0, 1)
#define CLIENT_IP SIMNET_IP(0, 2)
#define PAGE_LEN 200000u

#ifndef USN_PROFILE
#error "tests/prof needs a USN_PROFILE=1 build: make test-prof"
#endif

struct client {
	size_t len;
	bool closed;
};

static const char request[] = "GET /page.bin HTTP/1.1\r\nHost: sim\r\n\r\n";

static void cl_connected(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	assert_int_equal(usn_tcp_send_ref(c, request, sizeof request - 1, NULL), 0);
}
static void cl_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	((struct client *)user)->len += usn_cursor_size(d);
}
static void cl_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	usn_tcp_close(c);
}
static void cl_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	assert_int_equal(why, USN_TCP_CLOSE_NORMAL);
	((struct client *)user)->closed = true;
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

/* sum(categories) against the loop cycles measured apart (prof.total);
 * exact by construction, "within rounding" allows one cycle a round. */
static void check_sum(const struct usn_worker *w)
{
	uint64_t c[USN_PROF_N], sum = 0;
	assert_int_equal(usn_worker_prof(w, c, USN_PROF_N), USN_PROF_N);
	for (size_t i = 0; i < USN_PROF_N; i++) {
		assert_int_equal(c[i], w->prof.cycles[i]);
		sum += c[i];
	}
	assert_true(w->prof.rounds > 0);
	assert_true(sum + w->prof.rounds >= w->prof.total);
	assert_true(sum <= w->prof.total + w->prof.rounds);
}

static void test_categories(void **state)
{
	(void)state;
	/* the page */
	char root[64] = "/tmp/test_prof.XXXXXX", path[128];
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof path, "%s/page.bin", root);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	for (uint32_t i = 0; i < PAGE_LEN; i++)
		fputc((int)(i * 7u & 0xffu), fp);
	fclose(fp);
	struct http_store_opts so = {.csum_build = usn_csum_table_build, .csum_free = usn_csum_table_free};
	char msg[256];
	struct http_store *store = http_store_open(root, &so, msg, sizeof msg);
	assert_non_null(store);

	struct simnet net;
	simnet_init(&net, 11);
	struct simnet_host *srv = simnet_add_host(&net, SERVER_IP, NULL, NULL);
	struct simnet_host *cli = simnet_add_host(&net, CLIENT_IP, NULL, NULL);
	assert_non_null(srv);
	assert_non_null(cli);
	struct mws_opts mo = {.port = 80};
	struct mws *m = mws_init(srv->stack, store, &mo, NULL);
	assert_non_null(m);

	struct client cl = {0};
	assert_non_null(usn_tcp_connect(usn_stack_worker(cli->stack, 0), SERVER_IP, 80, &client_handlers, &cl));
	assert_true(simnet_run_until(&net, client_done, &cl, 60u * 1000000u));
	assert_true(cl.len > PAGE_LEN);
	/* and the server's TIME-WAIT (a timer) runs out */
	simnet_run_for(&net, 61u * 1000000u);

	struct usn_worker *sw = usn_stack_worker(srv->stack, 0);
	struct usn_worker *cw = usn_stack_worker(cli->stack, 0);
	check_sum(sw);
	check_sum(cw);
	/* The server used every category: the driver, Ethernet/IPv4, TCP in
	 * and out, checksums (verification, prefix tables), the page copy
	 * into frames, mws's handlers, timers (delayed ACK, TIME-WAIT), idle
	 * rounds and the loop itself. */
	uint64_t c[USN_PROF_N];
	assert_int_equal(usn_worker_prof(sw, c, USN_PROF_N), USN_PROF_N);
	for (size_t i = 0; i < USN_PROF_N; i++) {
		if (c[i] == 0)
			fail_msg("server category %s charged nothing", usn_prof_name(i));
		printf("  %-8s %12llu\n", usn_prof_name(i), (unsigned long long)c[i]);
	}
	assert_true(sw->prof.idle_rounds > 0);
	assert_true(sw->prof.idle_rounds < sw->prof.rounds);
	/* the copy of 200 kB of page into frames costs more than the client's
	 * copy of its 38-byte request */
	uint64_t cc[USN_PROF_N];
	assert_int_equal(usn_worker_prof(cw, cc, USN_PROF_N), USN_PROF_N);
	assert_true(c[USN_PROF_COPY] > cc[USN_PROF_COPY]);
	/* a short buffer takes the first categories only */
	uint64_t two[2] = {0, 0};
	assert_int_equal(usn_worker_prof(sw, two, 2), 2);
	assert_int_equal(two[0], c[0]);
	assert_int_equal(two[1], c[1]);

	mws_destroy(m);
	simnet_destroy(&net);
	http_store_close(store);
	unlink(path);
	rmdir(root);
}

static void test_names(void **state)
{
	(void)state;
	static const char *const want[] = {"driver", "net",	"tcp_in", "tcp_out", "csum",
					   "copy",   "app",	"timers", "idle",    "other"};
	assert_int_equal(usn_prof_count(), sizeof want / sizeof want[0]);
	for (size_t i = 0; i < usn_prof_count(); i++)
		assert_string_equal(usn_prof_name(i), want[i]);
	assert_null(usn_prof_name(usn_prof_count()));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_categories),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
