/* Simulation test: replays every fuzz seed and every fuzz regression
 * (tests/fuzz/corpus/<target>/, tests/fuzz/regressions/<target>/) through the
 * fuzz targets, in this build (plain, or ASan+UBSan with SAN=1), so a fixed
 * finding stays fixed; and checks the fuzz fixture really holds its
 * connections in the states the fuzzers count on. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fuzz/fuzz_fixture.h"
#include "../fuzz/fuzz_targets.h"

/* The tests/fuzz directory: $USN_FUZZ_DIR, else from the working directory
 * (make runs tests from the top), else next to this source file. */
static const char *fuzz_root(char *buf, size_t cap)
{
	const char *env = getenv("USN_FUZZ_DIR");
	struct stat st;
	if (env && *env)
		return env;
	if (stat("tests/fuzz/corpus", &st) == 0)
		return "tests/fuzz";
	snprintf(buf, cap, "%s", __FILE__);
	char *slash = strrchr(buf, '/');
	if (slash)
		snprintf(slash, cap - (size_t)(slash - buf), "/../fuzz");
	return buf;
}

struct replay_case {
	const char *target;
	int (*fn)(const uint8_t *, size_t);
};

static const struct replay_case cases[] = {
	{"fuzz_wire", fuzz_wire_one},
	{"fuzz_frame", fuzz_frame_one},
	{"fuzz_tcp_opts", fuzz_tcp_opts_one},
};

static void replay(const char *kind, const struct replay_case *rc, bool must_exist)
{
	char buf[4096], dir[4200];
	snprintf(dir, sizeof(dir), "%s/%s/%s", fuzz_root(buf, sizeof(buf)), kind, rc->target);
	long failed = 0;
	long n = fuzz_replay_dir(dir, rc->fn, &failed);
	if (n < 0 && !must_exist)
		return; /* no regressions for this target yet */
	if (n < 0)
		fail_msg("cannot read %s", dir);
	assert_int_equal(failed, 0);
	if (must_exist)
		assert_true(n > 0); /* a seed corpus is never empty */
	printf("replayed %ld inputs from %s\n", n, dir);
}

static void test_corpus(void **state)
{
	replay("corpus", *state, true);
}

static void test_regressions(void **state)
{
	replay("regressions", *state, false);
}

/* Every fixture flow is where fz_setup meant to put it, in every stack
 * variant the fuzzers use: otherwise the fuzzers silently test less. */
static void test_fixture_states(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 32; v++) {
		struct fz *f = calloc(1, sizeof(*f));
		assert_non_null(f);
		struct fz_options o;
		fz_options_from_byte(&o, (uint8_t)v);
		fz_setup(f, &o);
		assert_int_equal(f->n_flows, 15);
		for (unsigned i = 0; i < f->n_flows; i++) {
			const struct fz_flow *fl = &f->flow[i];
			int s = fz_state_of(f, i);
			if (fl->want == USN_TCP_SYN_RECEIVED) {
				/* No handle before connected_fn: the SYN-ACK is the sign. */
				assert_int_equal(s, -1);
				assert_true(fl->syn_seen && !fl->rst_seen);
			} else if (fl->want == USN_TCP_TIME_WAIT) {
				/* closed_fn(NORMAL) announces TIME-WAIT. */
				assert_int_equal(s, -1);
				assert_true(fl->fin_seen && !fl->rst_seen);
				assert_int_equal(fl->closed, 1);
			} else {
				if (s != (int)fl->want)
					fail_msg("variant %u flow %u (port %u): %s, want %s", v, i, fl->peer_port,
						 s < 0 ? "closed" : usn_tcp_state_name((enum usn_tcp_state)s),
						 usn_tcp_state_name(fl->want));
			}
		}
		fz_teardown(f);
		free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_states),
		cmocka_unit_test_prestate(test_corpus, (void *)&cases[0]),
		cmocka_unit_test_prestate(test_corpus, (void *)&cases[1]),
		cmocka_unit_test_prestate(test_corpus, (void *)&cases[2]),
		cmocka_unit_test_prestate(test_regressions, (void *)&cases[0]),
		cmocka_unit_test_prestate(test_regressions, (void *)&cases[1]),
		cmocka_unit_test_prestate(test_regressions, (void *)&cases[2]),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
