/* Unit tests for lib/core/timer.c: exact firing ticks at every level,
 * cancel, re-arm (also from callbacks), timers in the past, the next_us
 * bound, long jumps of time, and a randomized check against a flat model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bufchain.h"
#include "core/timer.h"

struct rec {
	struct usn_timer t; /* first: the callback casts back */
	struct usn_wheel *wh;
	uint64_t fired_tick;  /* wheel's now_tick at the last firing */
	uint64_t fired_at_us; /* the advance's now_us (from ctx) */
	unsigned count;
	uint64_t rearm_every_us; /* > 0: re-arm at fired tick + this, rearm_left times */
	unsigned rearm_left;
	uint64_t rearm_at_us; /* with rearm_abs: re-arm at this absolute time */
	int rearm_abs;
	struct rec *cancel_other;
};

static void on_fire(struct usn_timer *t, void *ctx)
{
	struct rec *r = (struct rec *)(void *)t;
	assert_false(usn_timer_armed(t)); /* disarmed before the call */
	r->count++;
	r->fired_tick = r->wh->now_tick;
	r->fired_at_us = ctx ? *(const uint64_t *)ctx : 0;
	if (r->cancel_other)
		usn_timer_cancel(r->wh, &r->cancel_other->t);
	if (r->rearm_left) {
		r->rearm_left--;
		if (r->rearm_abs)
			usn_timer_arm(r->wh, t, r->rearm_at_us);
		else
			usn_timer_arm(r->wh, t, r->wh->now_tick * r->wh->tick_us + r->rearm_every_us);
	}
}

static void rec_init(struct rec *r, struct usn_wheel *wh)
{
	memset(r, 0, sizeof(*r));
	r->wh = wh;
	usn_timer_init(&r->t, on_fire);
}

static uint64_t adv(struct usn_wheel *wh, uint64_t now_us)
{
	return usn_wheel_advance(wh, now_us, &now_us);
}

static const uint64_t DELAYS[] = {1,
				  2,
				  3,
				  100,
				  254,
				  255,
				  256,
				  257,
				  511,
				  512,
				  1000,
				  65535,
				  65536,
				  65537,
				  70000,
				  1000000,
				  (1ull << 24) - 1,
				  1ull << 24,
				  (1ull << 24) + 1,
				  123456789,
				  (1ull << 32) - 1,
				  1ull << 32,
				  (1ull << 32) + 1,
				  (1ull << 33) + 12345,
				  50000000000ull};

static const uint64_t STARTS[] = {0, 1, 255, 256, 65535, 123456789, (1ull << 32) - 3, 0x123456789abull};

static void test_fires_exactly_at_tick_all_levels(void **state)
{
	(void)state;
	struct usn_wheel *wh = malloc(sizeof(*wh));
	struct rec r;
	for (size_t s = 0; s < sizeof(STARTS) / sizeof(STARTS[0]); s++) {
		for (size_t i = 0; i < sizeof(DELAYS) / sizeof(DELAYS[0]); i++) {
			uint64_t start = STARTS[s], d = DELAYS[i];
			usn_wheel_init(wh, 1, start);
			rec_init(&r, wh);
			usn_timer_arm(wh, &r.t, start + d);
			assert_true(usn_timer_armed(&r.t));
			assert_int_equal(wh->armed, 1);
			assert_true(usn_wheel_next_us(wh) <= start + d);
			if (d > 1) {
				assert_int_equal(adv(wh, start + d - 1), 0);
				assert_int_equal(r.count, 0);
				/* near now it is in level 0: exact */
				assert_int_equal(usn_wheel_next_us(wh), start + d);
			}
			assert_int_equal(adv(wh, start + d), 1);
			assert_int_equal(r.count, 1);
			assert_int_equal(r.fired_tick, start + d);
			assert_false(usn_timer_armed(&r.t));
			assert_int_equal(wh->armed, 0);
			assert_int_equal(usn_wheel_next_us(wh), UINT64_MAX);
			assert_int_equal(adv(wh, start + 2 * d + 10), 0);
		}
	}
	free(wh);
}

static void test_fires_exactly_tick_by_tick(void **state)
{
	(void)state;
	/* Advancing one tick at a time through two level-1 cascades. */
	struct usn_wheel *wh = malloc(sizeof(*wh));
	enum { N = 8 };
	const uint64_t d[N] = {1, 255, 256, 300, 511, 512, 65536, 70001};
	struct rec r[N];
	const uint64_t start = 1000 + 77;
	usn_wheel_init(wh, 1, start);
	for (int i = 0; i < N; i++) {
		rec_init(&r[i], wh);
		usn_timer_arm(wh, &r[i].t, start + d[i]);
	}
	for (uint64_t now = start + 1; now <= start + 70010; now++)
		adv(wh, now);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].count, 1);
		assert_int_equal(r[i].fired_tick, start + d[i]);
	}
	free(wh);
}

static void test_rounds_up_to_tick(void **state)
{
	(void)state;
	struct usn_wheel wh;
	struct rec r;
	usn_wheel_init(&wh, 1000, 5500); /* now_tick 5 */
	rec_init(&r, &wh);
	usn_timer_arm(&wh, &r.t, 7001); /* rounds up to tick 8 */
	assert_int_equal(usn_wheel_next_us(&wh), 8000);
	assert_int_equal(adv(&wh, 7999), 0);
	assert_int_equal(adv(&wh, 8000), 1);
	assert_int_equal(r.fired_at_us, 8000);
	usn_timer_arm(&wh, &r.t, 9000); /* exact tick */
	assert_int_equal(adv(&wh, 8999), 0);
	assert_int_equal(adv(&wh, 9000), 1);
}

static void test_cancel(void **state)
{
	(void)state;
	struct usn_wheel wh;
	struct rec a, b, c;
	usn_wheel_init(&wh, 1, 0);
	rec_init(&a, &wh);
	rec_init(&b, &wh);
	rec_init(&c, &wh);
	usn_timer_cancel(&wh, &a.t); /* never armed: harmless */
	assert_int_equal(wh.armed, 0);
	usn_timer_arm(&wh, &a.t, 100);
	usn_timer_arm(&wh, &b.t, 100000); /* level 2 */
	usn_timer_arm(&wh, &c.t, 100);
	usn_timer_cancel(&wh, &a.t);
	usn_timer_cancel(&wh, &a.t);
	usn_timer_cancel(&wh, &b.t);
	assert_false(usn_timer_armed(&a.t));
	assert_int_equal(wh.armed, 1);
	assert_int_equal(adv(&wh, 200000), 1);
	assert_int_equal(a.count, 0);
	assert_int_equal(b.count, 0);
	assert_int_equal(c.count, 1);
	/* a callback cancels another timer due in the same tick */
	usn_timer_arm(&wh, &a.t, 200100);
	usn_timer_arm(&wh, &b.t, 200100);
	a.cancel_other = &b;
	b.cancel_other = &a;
	assert_int_equal(adv(&wh, 200100), 1);
	assert_int_equal(a.count + b.count, 1);
	assert_int_equal(wh.armed, 0);
}

static void test_rearm(void **state)
{
	(void)state;
	struct usn_wheel wh;
	struct rec a;
	usn_wheel_init(&wh, 1, 0);
	rec_init(&a, &wh);
	usn_timer_arm(&wh, &a.t, 1000);
	usn_timer_arm(&wh, &a.t, 50); /* re-arm earlier */
	assert_int_equal(wh.armed, 1);
	assert_int_equal(usn_wheel_next_us(&wh), 50);
	assert_int_equal(adv(&wh, 2000), 1);
	assert_int_equal(a.fired_tick, 50);
	usn_timer_arm(&wh, &a.t, 2100);
	usn_timer_arm(&wh, &a.t, 90000); /* re-arm later, another level */
	assert_int_equal(adv(&wh, 89999), 0);
	assert_int_equal(adv(&wh, 90000), 1);
	assert_int_equal(a.fired_tick, 90000);
}

static void test_rearm_in_callback(void **state)
{
	(void)state;
	struct usn_wheel wh;
	struct rec a;
	usn_wheel_init(&wh, 1, 0);
	rec_init(&a, &wh);
	a.rearm_every_us = 10;
	a.rearm_left = 1000;
	usn_timer_arm(&wh, &a.t, 10);
	/* one advance runs the periodic timer at 10, 20, ..., 100 */
	assert_int_equal(adv(&wh, 100), 10);
	assert_int_equal(a.count, 10);
	assert_int_equal(a.fired_tick, 100);
	assert_true(usn_timer_armed(&a.t));
	assert_int_equal(usn_wheel_next_us(&wh), 110);
	/* a period that crosses levels */
	a.rearm_every_us = 70000;
	assert_int_equal(adv(&wh, 110), 1);
	assert_int_equal(adv(&wh, 110 + 70000 * 5), 5);
	assert_int_equal(a.fired_tick, 110 + 70000 * 5);
}

static void test_armed_in_past_fires_next_advance(void **state)
{
	(void)state;
	struct usn_wheel wh;
	struct rec a, b, c;
	usn_wheel_init(&wh, 1000, 5000000);
	rec_init(&a, &wh);
	rec_init(&b, &wh);
	rec_init(&c, &wh);
	usn_timer_arm(&wh, &a.t, 0);	   /* long past */
	usn_timer_arm(&wh, &b.t, 5000000); /* now exactly */
	usn_timer_arm(&wh, &c.t, 5000001); /* next tick */
	assert_true(usn_wheel_next_us(&wh) <= 5000000);
	/* an advance to the same time fires what is due, not what is not */
	assert_int_equal(adv(&wh, 5000000), 2);
	assert_int_equal(a.count, 1);
	assert_int_equal(b.count, 1);
	assert_int_equal(c.count, 0);
	assert_int_equal(adv(&wh, 5000999), 0);
	assert_int_equal(adv(&wh, 5001000), 1);
	/* a callback that re-arms into the past: once per advance, no spin */
	a.rearm_abs = 1;
	a.rearm_at_us = 1;
	a.rearm_left = 3;
	usn_timer_arm(&wh, &a.t, 1);
	assert_int_equal(adv(&wh, 5001000), 1);
	assert_int_equal(adv(&wh, 5001000), 1);
	assert_int_equal(a.count, 3);
	/* ...and fires at the next tick of a longer advance */
	assert_int_equal(adv(&wh, 5100000), 2);
	assert_int_equal(a.count, 5);
	assert_int_equal(a.fired_tick, 5002);
	assert_int_equal(a.fired_at_us, 5100000);
	assert_int_equal(wh.armed, 0);
	/* a clock that steps back fires nothing and loses nothing */
	usn_timer_arm(&wh, &c.t, 5110000);
	assert_int_equal(adv(&wh, 100), 0);
	assert_int_equal(adv(&wh, 5110000), 1);
}

static void test_next_us_bound(void **state)
{
	(void)state;
	struct usn_wheel wh;
	struct rec a, b, c;
	usn_wheel_init(&wh, 1, 100);
	rec_init(&a, &wh);
	rec_init(&b, &wh);
	rec_init(&c, &wh);
	assert_int_equal(usn_wheel_next_us(&wh), UINT64_MAX);
	usn_timer_arm(&wh, &a.t, 400); /* level 1 (delta 300) */
	assert_int_equal(usn_wheel_next_us(&wh), 400);
	usn_timer_arm(&wh, &b.t, 300); /* level 0, earlier than a's slot start */
	assert_int_equal(usn_wheel_next_us(&wh), 300);
	usn_timer_cancel(&wh, &b.t);
	usn_timer_arm(&wh, &c.t, 100 + 50000000); /* level 3 */
	assert_int_equal(usn_wheel_next_us(&wh), 400);
	assert_int_equal(adv(&wh, 400), 1);
	uint64_t n = usn_wheel_next_us(&wh);
	assert_true(n <= 100 + 50000000);
	assert_true(n > 400);
	/* walking next_us and advancing to it reaches the timer exactly */
	unsigned steps = 0;
	while (c.count == 0) {
		n = usn_wheel_next_us(&wh);
		assert_true(n <= 100 + 50000000);
		adv(&wh, n);
		assert_true(++steps < 10);
	}
	assert_int_equal(c.fired_tick, 100 + 50000000);
}

static void test_long_jumps(void **state)
{
	(void)state;
	struct usn_wheel *wh = malloc(sizeof(*wh));
	struct rec a;
	const uint64_t hour_us = 3600ull * 1000000;
	/* 1 us ticks: ten hours is 3.6e10 ticks, past the wheel's 2^32 span */
	usn_wheel_init(wh, 1, 7);
	rec_init(&a, wh);
	assert_int_equal(adv(wh, 7 + 10 * hour_us), 0); /* nothing armed */
	assert_int_equal(wh->now_tick, 7 + 10 * hour_us);
	uint64_t t0 = 7 + 10 * hour_us;
	usn_timer_arm(wh, &a.t, t0 + 10 * hour_us);
	assert_int_equal(adv(wh, t0 + 3 * hour_us), 0);
	assert_int_equal(adv(wh, t0 + 10 * hour_us - 1), 0);
	assert_int_equal(adv(wh, t0 + 10 * hour_us), 1);
	assert_int_equal(a.fired_tick, t0 + 10 * hour_us);
	/* 1 ms ticks, 1000 timers over a day, advanced an hour at a time */
	enum { N = 1000 };
	struct rec *r = calloc(N, sizeof(*r));
	usn_wheel_init(wh, 1000, 0);
	uint32_t seed = 17;
	for (int i = 0; i < N; i++) {
		rec_init(&r[i], wh);
		usn_timer_arm(wh, &r[i].t, (uint64_t)(bufchain_rand(&seed) % (24 * 3600)) * 1000000 + 1);
	}
	for (uint64_t h = 1; h <= 25; h++)
		adv(wh, h * hour_us);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].count, 1);
		uint64_t due = r[i].t.expires_tick * 1000;
		/* fired at the first hourly advance at or after its time */
		assert_int_equal(r[i].fired_at_us, (due + hour_us - 1) / hour_us * hour_us);
	}
	free(r);
	free(wh);
}

static void test_many_timers_same_tick(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct usn_wheel *wh = malloc(sizeof(*wh));
	struct rec *r = calloc(N, sizeof(*r));
	usn_wheel_init(wh, 1, 0);
	for (int i = 0; i < N; i++) {
		rec_init(&r[i], wh);
		usn_timer_arm(wh, &r[i].t, 70000);
	}
	assert_int_equal(wh->armed, N);
	assert_true(usn_wheel_next_us(wh) <= 70000);
	assert_int_equal(adv(wh, 69999), 0);
	assert_int_equal(adv(wh, 70000), N);
	for (int i = 0; i < N; i++)
		assert_int_equal(r[i].count, 1);
	free(r);
	free(wh);
}

/* Random arms, cancels, re-arms and advances against a flat model: every
 * timer fires exactly once, at the first advance at or after its tick, and
 * next_us never lies late. */
static void test_random_against_model(void **state)
{
	(void)state;
	enum { N = 3000 };
	struct usn_wheel *wh = malloc(sizeof(*wh));
	struct rec *r = calloc(N, sizeof(*r));
	uint64_t *due = calloc(N, sizeof(*due)); /* expiry tick; 0 = not armed */
	const uint64_t tick = 10;
	uint32_t seed = 99;
	uint64_t now_us = 123456789;
	usn_wheel_init(wh, tick, now_us);
	for (int i = 0; i < N; i++)
		rec_init(&r[i], wh);
	for (int step = 0; step < 3000; step++) {
		/* a few operations */
		for (int k = 0; k < 5; k++) {
			int i = (int)(bufchain_rand(&seed) % N);
			uint32_t op = bufchain_rand(&seed) % 8;
			if (op == 0) {
				usn_timer_cancel(wh, &r[i].t);
				due[i] = 0;
			} else {
				unsigned bits = bufchain_rand(&seed) % 36;
				uint64_t delay =
				    bits ? (bufchain_rand(&seed) | ((uint64_t)bufchain_rand(&seed) << 32)) &
					       ((1ull << bits) - 1)
					 : 0;
				uint64_t at = now_us + delay * (op == 1 ? 0 : 1) - (op == 1 ? tick * 3 : 0);
				usn_timer_arm(wh, &r[i].t, at);
				uint64_t e = at / tick + (at % tick != 0);
				due[i] = e > wh->now_tick ? e : wh->now_tick; /* past: due now */
				r[i].count = 0;
			}
		}
		/* next_us never later than the earliest */
		uint64_t min = UINT64_MAX;
		unsigned armed = 0;
		for (int i = 0; i < N; i++) {
			if (due[i]) {
				armed++;
				if (due[i] < min)
					min = due[i];
			}
		}
		assert_int_equal(wh->armed, armed);
		uint64_t nx = usn_wheel_next_us(wh);
		if (armed)
			assert_true(nx <= min * tick);
		else
			assert_int_equal(nx, UINT64_MAX);
		/* advance: small steps, big jumps, or straight to next_us */
		uint32_t kind = bufchain_rand(&seed) % 4;
		uint64_t next_now;
		if (kind == 0 && armed)
			next_now = nx > now_us ? nx : now_us;
		else if (kind == 1)
			next_now = now_us + (bufchain_rand(&seed) % 3000);
		else
			next_now =
			    now_us + (((uint64_t)bufchain_rand(&seed) << 8) >> (bufchain_rand(&seed) % 40));
		uint64_t target_tick = next_now / tick;
		unsigned want = 0;
		for (int i = 0; i < N; i++)
			if (due[i] && due[i] <= target_tick)
				want++;
		unsigned got = (unsigned)adv(wh, next_now);
		assert_int_equal(got, want);
		for (int i = 0; i < N; i++) {
			if (due[i] && due[i] <= target_tick) {
				assert_int_equal(r[i].count, 1);
				assert_int_equal(r[i].fired_at_us, next_now);
				assert_false(usn_timer_armed(&r[i].t));
				due[i] = 0;
			} else if (due[i]) {
				assert_int_equal(r[i].count, 0);
				assert_true(usn_timer_armed(&r[i].t));
			}
		}
		if (next_now > now_us)
			now_us = next_now;
	}
	free(due);
	free(r);
	free(wh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fires_exactly_at_tick_all_levels),
	    cmocka_unit_test(test_fires_exactly_tick_by_tick),
	    cmocka_unit_test(test_rounds_up_to_tick),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_rearm),
	    cmocka_unit_test(test_rearm_in_callback),
	    cmocka_unit_test(test_armed_in_past_fires_next_advance),
	    cmocka_unit_test(test_next_us_bound),
	    cmocka_unit_test(test_long_jumps),
	    cmocka_unit_test(test_many_timers_same_tick),
	    cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
