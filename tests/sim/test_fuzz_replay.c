/* Simulation test: replays every fuzz seed and every fuzz regression
 * (tests/fuzz/corpus/<target>/, tests/fuzz/regressions/<target>/) through the
 * fuzz targets, in this build (plain, or ASan+UBSan with SAN=1), so a fixed
 * finding stays fixed, and fails on a replay of no input; and checks the
 * fuzz fixture really holds its connections in the states the fuzzers count
 * on. USN_FUZZ_DIR replaces tests/fuzz (the runners' self-test). */
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

/* Every seed (corpus/<target>/, which must exist) and every regression
 * (regressions/<target>/, which may be empty) of one target: none may fail,
 * and a replay of nothing fails, so an emptied or misplaced corpus cannot
 * pass as "0 failures". */
static void test_replay(void **state)
{
	const struct replay_case *rc = *state;
	char buf[4096], dir[4200];
	const char *root = fuzz_root(buf, sizeof(buf));
	long failed = 0, seeds, regressions;

	snprintf(dir, sizeof(dir), "%s/corpus/%s", root, rc->target);
	seeds = fuzz_replay_dir(dir, rc->fn, &failed);
	if (seeds < 0)
		fail_msg("cannot read the seed corpus %s", dir);
	snprintf(dir, sizeof(dir), "%s/regressions/%s", root, rc->target);
	regressions = fuzz_replay_dir(dir, rc->fn, &failed);
	if (regressions < 0)
		regressions = 0; /* no regression directory for this target */
	assert_int_equal(failed, 0);
	print_message("%s: replayed %ld seeds and %ld regressions from %s\n", rc->target, seeds, regressions, root);
	if (seeds + regressions == 0)
		fail_msg("%s: no input replayed (corpus and regressions under %s are empty)", rc->target, root);
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
		/* One name per target: the runner counts tests by name. */
		{.name = "test_replay_fuzz_wire", .test_func = test_replay, .initial_state = (void *)&cases[0]},
		{.name = "test_replay_fuzz_frame", .test_func = test_replay, .initial_state = (void *)&cases[1]},
		{.name = "test_replay_fuzz_tcp_opts", .test_func = test_replay, .initial_state = (void *)&cases[2]},
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
