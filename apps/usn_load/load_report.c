/* usn_load's reports (load.h): the human-readable table with its log2
 * histogram, and the same figures as one JSON object. */
#include "load.h"

#include <inttypes.h>

void load_print(FILE *f, const struct load_stats *st)
{
	struct load_summary s;
	load_summarize(st, &s);
	fprintf(f,
		"requests: %" PRIu64 " started, %" PRIu64 " correct, %" PRIu64 " errors; %" PRIu64
		" correct in %.3f s%s\n",
		st->started, st->completed, s.errors, s.requests, s.seconds,
		st->by_duration ? " (to the stop; the drain after it not counted)" : "");
	fprintf(f, "throughput: %.0f requests/s, %.3f Gbit/s (%" PRIu64 " bytes received)\n", s.req_s,
		s.gbit_s, st->rx_bytes);
	fprintf(f, "errors:");
	for (int e = 0; e < LOAD_ERR_N; e++)
		fprintf(f, " %s=%" PRIu64, load_err_name((enum load_err)e), st->errors[e]);
	if (st->late)
		fprintf(f, " (late sends: %" PRIu64 ")", st->late);
	fputc('\n', f);
	fprintf(f, "latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
		s.p50_ns / 1e3, s.p90_ns / 1e3, s.p99_ns / 1e3, s.p999_ns / 1e3, s.max_ns / 1e3,
		s.mean_ns / 1e3);
	uint64_t peak = 0;
	for (unsigned k = 0; k < LOAD_LOG2_BUCKETS; k++)
		if (st->log2_us[k] > peak)
			peak = st->log2_us[k];
	for (unsigned k = 0; k < LOAD_LOG2_BUCKETS; k++) {
		if (!st->log2_us[k])
			continue;
		uint64_t lo = k ? 1ull << (k - 1) : 0, hi = 1ull << k;
		int bar = (int)(peak ? st->log2_us[k] * 50 / peak : 0);
		fprintf(f, "  [%8" PRIu64 ", %8" PRIu64 ") us %10" PRIu64 " %.*s\n", lo, hi, st->log2_us[k],
			bar, "##################################################");
	}
}

void load_json(FILE *f, const struct load_stats *st, const char *extra)
{
	struct load_summary s;
	load_summarize(st, &s);
	fprintf(f, "{");
	if (extra && *extra)
		fprintf(f, "%s, ", extra);
	fprintf(f,
		"\"started\": %" PRIu64 ", \"completed\": %" PRIu64 ", \"requests\": %" PRIu64
		", \"seconds\": %.6f, \"req_s\": %.1f, "
		"\"gbit_s\": %.4f, \"rx_bytes\": %" PRIu64 ", \"body_bytes\": %" PRIu64
		", \"errors_total\": %" PRIu64 ", \"late\": %" PRIu64 ", \"errors\": {",
		st->started, st->completed, s.requests, s.seconds, s.req_s, s.gbit_s, st->rx_bytes,
		st->body_bytes, s.errors, st->late);
	for (int e = 0; e < LOAD_ERR_N; e++)
		fprintf(f, "%s\"%s\": %" PRIu64, e ? ", " : "", load_err_name((enum load_err)e),
			st->errors[e]);
	fprintf(
	    f,
	    "}, \"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f, "
	    "\"mean\": %.1f}, \"hist_log2_us\": [",
	    s.p50_ns / 1e3, s.p90_ns / 1e3, s.p99_ns / 1e3, s.p999_ns / 1e3, s.max_ns / 1e3, s.mean_ns / 1e3);
	bool first = true;
	for (unsigned k = 0; k < LOAD_LOG2_BUCKETS; k++) {
		if (!st->log2_us[k])
			continue;
		fprintf(f, "%s[%" PRIu64 ", %" PRIu64 "]", first ? "" : ", ",
			k ? (uint64_t)1 << (k - 1) : (uint64_t)0, st->log2_us[k]);
		first = false;
	}
	fprintf(f, "]}");
}
