/* usn_load's latency histograms (load.h): a log-linear one for the
 * percentiles and a log2 one in microseconds for show; the figures drawn
 * from merged counters. */
#include "load.h"
#include "load_int.h"

#include <string.h>

static unsigned hist_index(uint64_t v)
{
	if (v < 32)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 5 */
	unsigned sub = (unsigned)(v >> (e - 5u)) & 31u;
	return (e - 4u) * 32u + sub;
}

/* The smallest value of bucket i. */
static uint64_t hist_low(unsigned i)
{
	if (i < 32)
		return i;
	unsigned e = i / 32u + 4u, sub = i % 32u;
	return (uint64_t)(32u + sub) << (e - 5u);
}

void load_record_latency(struct load_stats *st, uint64_t ns)
{
	unsigned i = hist_index(ns);
	if (i >= LOAD_HIST_BUCKETS)
		i = LOAD_HIST_BUCKETS - 1;
	st->hist[i]++;
	uint64_t us = ns / 1000u;
	unsigned k = us ? 64u - (unsigned)__builtin_clzll(us) : 0u;
	if (k >= LOAD_LOG2_BUCKETS)
		k = LOAD_LOG2_BUCKETS - 1;
	st->log2_us[k]++;
	st->lat_sum_ns += ns;
	if (ns > st->lat_max_ns)
		st->lat_max_ns = ns;
}

uint64_t load_percentile_ns(const struct load_stats *st, double q)
{
	uint64_t n = 0;
	for (unsigned b = 0; b < LOAD_HIST_BUCKETS; b++)
		n += st->hist[b];
	if (!n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)n);
	if (want >= n)
		want = n - 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < LOAD_HIST_BUCKETS; b++) {
		seen += st->hist[b];
		if (seen > want) {
			/* the bucket's middle, never above the maximum seen */
			uint64_t lo = hist_low(b), hi = b + 1 < LOAD_HIST_BUCKETS ? hist_low(b + 1) : lo;
			uint64_t mid = lo + (hi - lo) / 2;
			return mid > st->lat_max_ns ? st->lat_max_ns : mid;
		}
	}
	return st->lat_max_ns;
}

void load_summarize(const struct load_stats *st, struct load_summary *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t end = st->by_duration ? st->t_stop_ns : st->t_end_ns;
	uint64_t span = end > st->t_begin_ns ? end - st->t_begin_ns : 0;
	uint64_t bytes = st->by_duration ? st->win_rx_bytes : st->rx_bytes;
	out->requests = st->by_duration ? st->win_completed : st->completed;
	out->seconds = (double)span / 1e9;
	if (span) {
		out->req_s = (double)out->requests / out->seconds;
		out->gbit_s = (double)bytes * 8.0 / (double)span;
	}
	for (int e = 0; e < LOAD_ERR_N; e++)
		out->errors += st->errors[e];
	out->p50_ns = load_percentile_ns(st, 0.50);
	out->p90_ns = load_percentile_ns(st, 0.90);
	out->p99_ns = load_percentile_ns(st, 0.99);
	out->p999_ns = load_percentile_ns(st, 0.999);
	out->max_ns = st->lat_max_ns;
	out->mean_ns = st->completed ? (double)st->lat_sum_ns / (double)st->completed : 0;
}
