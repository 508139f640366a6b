/* bench/csum_bench.c: usn_csum_partial (lib/wire/csum.c) against a copy of
 * the loop it replaced (one 64-bit accumulator, end-around carry), side by
 * side, in cycles and ns per byte. Prints figures; gates nothing.
 * Built by `make csum-bench` (bench/bench.mk) into $(B)/bench/csum_bench. */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "usnet/csum.h"

/* ---- the previous usn_csum_partial, verbatim but for its name ---- */
static bool old_host_is_little_endian(void)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
	return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
	const uint16_t one = 1;
	uint8_t b;
	memcpy(&b, &one, 1);
	return b == 1;
#endif
}

static inline uint64_t old_add64(uint64_t acc, uint64_t v)
{
	acc += v;
	return acc + (acc < v); /* end-around carry */
}

static inline uint16_t old_bswap16(uint16_t v)
{
	return (uint16_t)((v << 8) | (v >> 8));
}

static uint16_t old_fold64(uint64_t acc)
{
	uint64_t s = (acc & 0xffffffffu) + (acc >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t old_csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = 0;
	uint64_t w;

	while (len >= 32) {
		uint64_t a, b, c, d;
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&c, p + 16, 8);
		memcpy(&d, p + 24, 8);
		acc = old_add64(acc, a);
		acc = old_add64(acc, b);
		acc = old_add64(acc, c);
		acc = old_add64(acc, d);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);
		acc = old_add64(acc, w);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint8_t tail[8] = {0};
		memcpy(tail, p, len);
		memcpy(&w, tail, 8);
		acc = old_add64(acc, w);
	}
	uint16_t s = old_fold64(acc);
	if (old_host_is_little_endian())
		s = old_bswap16(s);
	return usn_csum_add(sum, s);
}
/* ---- end of the copy ---- */

typedef uint32_t csum_fn(const void *data, size_t len, uint32_t sum);

/* Called through volatile pointers: neither loop is inlined into the timing
 * loop or hoisted out of it, as a real caller in another file sees it. */
static csum_fn *volatile old_fn = old_csum_partial;
static csum_fn *volatile new_fn = usn_csum_partial;
static volatile uint32_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The TSC (reference cycles, constant rate) where there is one; else 0. */
static uint64_t now_tsc(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
	return __builtin_ia32_rdtsc();
#else
	return 0;
#endif
}

struct sample {
	double ns;
	double tsc;
};

/* One timed run of `iters` calls. */
static struct sample run(csum_fn *volatile *fn, const uint8_t *buf, size_t len, long iters)
{
	uint32_t s = 0;
	uint64_t t0 = now_ns(), c0 = now_tsc();
	for (long i = 0; i < iters; i++)
		s += (*fn)(buf, len, 0);
	uint64_t c1 = now_tsc(), t1 = now_ns();
	sink = s;
	return (struct sample){(double)(t1 - t0), (double)(c1 - c0)};
}

/* Old and new alternate, run by run, so both see the same machine; each
 * keeps its fastest run (the others were interrupted or shared a core). */
static void best_pair(const uint8_t *buf, size_t len, long iters, int reps, struct sample *o,
		      struct sample *n)
{
	for (int r = 0; r < reps; r++) {
		struct sample x = run(&old_fn, buf, len, iters);
		struct sample y = run(&new_fn, buf, len, iters);
		if (r == 0 || x.ns < o->ns)
			*o = x;
		if (r == 0 || y.ns < n->ns)
			*n = y;
	}
}

int main(int argc, char **argv)
{
	/* csum_bench [-n calls] [-o offset] [len ...]
	 * Without -n: timed, fastest of 31 runs of ~64 KiB each per loop and
	 * length. With -n: exactly `calls` calls per loop and length, untimed
	 * (for callgrind: Ir of each function / calls = instructions per call). */
	long calls = 0;
	size_t offset = 0;
	size_t lens[32];
	int nlens = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			calls = atol(argv[++i]);
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			offset = (size_t)atol(argv[++i]) % 64;
		else if (nlens < 32 && atol(argv[i]) > 0)
			lens[nlens++] = (size_t)atol(argv[i]);
		else {
			fprintf(stderr, "usage: %s [-n calls] [-o offset] [len ...]\n", argv[0]);
			return 2;
		}
	}
	if (nlens == 0) {
		static const size_t def[] = {64, 512, 1448, 4096};
		for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			lens[nlens++] = def[i];
	}
	size_t max = 0;
	for (int i = 0; i < nlens; i++)
		max = lens[i] > max ? lens[i] : max;
	uint8_t *mem = malloc(max + 64);
	if (!mem)
		return 1;
	uint8_t *buf = mem + offset;
	uint32_t seed = 1;
	for (size_t i = 0; i < max + 64 - offset; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}

	/* Same answers first, or the figures mean nothing. */
	for (int i = 0; i < nlens; i++)
		for (size_t l = lens[i] > 64 ? lens[i] - 64 : 0; l <= lens[i]; l++)
			if (usn_csum_fold(old_fn(buf, l, 0)) != usn_csum_fold(new_fn(buf, l, 0))) {
				fprintf(stderr, "csum_bench: old and new differ at len %zu\n", l);
				return 1;
			}

	if (calls > 0) {
		for (int i = 0; i < nlens; i++) {
			run(&old_fn, buf, lens[i], calls);
			run(&new_fn, buf, lens[i], calls);
		}
		printf("csum_bench: %ld calls each of old_csum_partial and usn_csum_partial per length\n",
		       calls);
		free(mem);
		return 0;
	}

	/* The TSC rate, from the runs themselves. */
	double tsc_per_ns = 0;
	printf("# usn_csum_partial, buffer offset %zu, warm cache; fastest of 31 runs\n", offset);
#ifdef __VERSION__
	printf("# compiler %s\n", __VERSION__);
#endif
	printf("# %6s %12s %12s %10s %10s %8s\n", "len", "old cyc/B", "new cyc/B", "old ns/B", "new ns/B",
	       "speedup");
	for (int i = 0; i < nlens; i++) {
		size_t len = lens[i];
		long iters = (long)((64u << 10) / len) + 1;
		struct sample o, n;
		best_pair(buf, len, iters, 3, &o, &n); /* warm up */
		best_pair(buf, len, iters, 31, &o, &n);
		double bytes = (double)len * (double)iters;
		if (o.tsc > 0 && tsc_per_ns == 0)
			tsc_per_ns = o.tsc / o.ns;
		printf("  %6zu %12.3f %12.3f %10.4f %10.4f %7.2fx\n", len, o.tsc / bytes, n.tsc / bytes,
		       o.ns / bytes, n.ns / bytes, o.ns / n.ns);
	}
	if (tsc_per_ns > 0)
		printf("# cyc = TSC reference cycles (%.2f GHz here), not core cycles\n", tsc_per_ns);
	else
		printf("# no cycle counter on this target: cyc/B columns are 0\n");
	free(mem);
	return 0;
}
