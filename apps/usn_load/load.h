/* usn_load client logic as a library: an HTTP/1.0 load generator on libusnet
 * (one request per connection, a random corpus page each, every response
 * checked). main.c runs it on a hardware backend; bench/floor runs it
 * in-process against minimal_ws over the simulated link. */
#ifndef USN_LOAD_H
#define USN_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "usnet/addr.h"
#include "usnet/stack.h"

/* ---- body hash: 4 lanes of 64-bit multiply-rotate rounds over 32-byte
 * blocks (the xxHash64 round), fed incrementally so a body that arrives in
 * segments of any size hashes the same as the file it came from. About a
 * quarter of a cycle per byte: cheap beside the stack. ---- */
struct load_hash {
	uint64_t lane[4];
	uint64_t len;
	uint8_t tail[32];
	uint32_t tail_n;
};
void load_hash_init(struct load_hash *h);
void load_hash_update(struct load_hash *h, const void *p, size_t n);
uint64_t load_hash_final(const struct load_hash *h);
/* The hash of n bytes at once. */
uint64_t load_hash_of(const void *p, size_t n);

/* ---- the corpus: what to request and what must come back ---- */
struct load_page {
	char *path; /* "/p000.html" */
	char *req;  /* "GET <path> HTTP/1.0\r\n\r\n", sent by reference */
	uint32_t req_len;
	uint64_t body_len;  /* expected Content-Length */
	uint64_t body_hash; /* load_hash of the file */
	bool have_hash;	    /* false: a list entry whose file could not be read (length checked only) */
};

struct load_corpus {
	struct load_page *pages;
	uint32_t n;
	uint64_t total_bytes;
};

/* Loads a corpus:
 *  - a directory: every regular file under it (bench/corpus style: a
 *    directory holding www/ and pages.txt means its www/), requested as
 *    /<path relative to the root>;
 *  - a file: a list of "/path [bytes]" lines; each file is read from
 *    <list's directory>/www/<path> or <list's directory>/<path> when it
 *    exists (length and hash checked), else only the listed length is.
 * NULL with a one-line message in msg on error. */
struct load_corpus *load_corpus_open(const char *path, char *msg, size_t msg_len);
/* A corpus from memory: one page per (path, body, len) triple. */
struct load_corpus *load_corpus_of(const char *const *paths, const void *const *bodies, const uint64_t *lens,
				   uint32_t n);
void load_corpus_close(struct load_corpus *c);

/* ---- the run ---- */
enum load_err {
	LOAD_ERR_CONNECT = 0, /* no TCB/port, refused, unreachable, SYN timed out */
	LOAD_ERR_RESET,	      /* reset by the peer after the handshake */
	LOAD_ERR_TIMEOUT,     /* no complete response within the timeout (or TCP gave up) */
	LOAD_ERR_STATUS,      /* status other than 200, or an unparsable header */
	LOAD_ERR_LENGTH,      /* Content-Length missing or not the page's, body short or long */
	LOAD_ERR_BODY,	      /* body hash differs from the corpus file's */
	LOAD_ERR_N
};
const char *load_err_name(enum load_err e);

/* Latency histogram: log-linear (32 sub-buckets per power of two, <= 3%
 * error) for percentiles, plus a log2 histogram in microseconds for show. */
#define LOAD_HIST_BUCKETS 1984
#define LOAD_LOG2_BUCKETS 40

struct load_stats {
	uint64_t started;   /* connections attempted */
	uint64_t completed; /* responses complete and correct */
	uint64_t errors[LOAD_ERR_N];
	uint64_t rx_bytes;   /* header + body bytes received */
	uint64_t body_bytes; /* body bytes of correct responses */
	uint64_t late;	     /* fixed rate: requests sent > 1 ms after their intended time */
	uint64_t lat_max_ns, lat_sum_ns;
	uint64_t t_begin_ns, t_end_ns; /* first start, last close */
	/* A run bounded by its duration is measured as wrk does: what
	 * completed between the first start and the stop (t_stop_ns), not
	 * the drain of the requests still in flight after it. */
	uint64_t t_stop_ns;
	uint64_t win_completed, win_rx_bytes;
	bool by_duration;
	uint64_t hist[LOAD_HIST_BUCKETS];
	uint64_t log2_us[LOAD_LOG2_BUCKETS]; /* bucket k: [2^(k-1), 2^k) us; 0: < 1 us */
};

struct load_opts {
	uint32_t server_ip;   /* host order; used when server is not IPv6 */
	/* The server over IPv6 (family USN_AF_INET6; the stack needs an IPv6
	 * address): connections open with usn_tcp_connect_addr. On a port
	 * with RSS every IPv6 flow is worker 0's, so there an open from any
	 * other worker fails (main.c refuses more than one worker). */
	struct usn_addr server;
	uint16_t port;	      /* [80] */
	uint32_t connections; /* concurrent, over all workers [100]; in fixed-rate mode the cap */
	uint64_t requests;    /* stop after this many attempts over all workers; 0: no limit */
	uint64_t duration_ns; /* stop starting after this long; 0: no limit (one of the two is required) */
	double rate;	      /* requests/s over all workers; 0: closed loop */
	uint64_t timeout_ns;  /* per request, from its start [5 s] */
	uint64_t drain_ns;    /* after the stop, wait this long for requests in flight [timeout] */
	uint64_t seed;	      /* page choice [1] */
	/* The clock, nanoseconds, monotonic. NULL: the worker's clock
	 * (usn_worker_now_us; the virtual clock on the simulated link). */
	uint64_t (*clock_ns)(void *arg);
	void *clock_arg;
};

struct load;

/* Allocates every worker's connection slots (connections / workers each)
 * and checks the options. Call after usn_stack_create, before the workers
 * run. NULL on error with -errno in *err (if not NULL). The corpus must
 * outlive it. Uses no worker user pointer: the stack may also serve. */
struct load *load_create(struct usn_stack *s, const struct load_corpus *c, const struct load_opts *o,
			 int *err);
void load_destroy(struct load *l);

/* One step of worker w, after each usn_worker_poll on w's thread: starts
 * connections (closed loop: every free slot; fixed rate: every intended
 * send time that has passed), enforces timeouts and the limits. Returns
 * false once the run is over for w (limits reached and nothing in flight). */
bool load_worker_step(struct load *l, uint16_t w);
/* Asks every worker to stop starting requests (any thread; SIGINT). */
void load_stop(struct load *l);
/* Polls and steps worker w until its run is over or *stop becomes non-zero
 * (then drains as after a limit); worker 0 then polls on until every other
 * worker's run is over too (it receives for them). Call once per worker,
 * each on its own thread. Returns 0. */
int load_worker_run(struct load *l, uint16_t w, const volatile int *stop);

/* Worker w's counters (exact once w has stopped). */
const struct load_stats *load_worker_stats(const struct load *l, uint16_t w);
/* All workers' counters merged. */
void load_stats_sum(const struct load *l, struct load_stats *out);

/* Figures from merged counters. */
struct load_summary {
	double seconds;	   /* the measured window: first start to the stop (duration-bound
			    * runs) or to the last close (request-count-bound runs) */
	uint64_t requests; /* correct responses in that window */
	double req_s, gbit_s;
	uint64_t errors;
	uint64_t p50_ns, p90_ns, p99_ns, p999_ns, max_ns;
	double mean_ns;
};
void load_summarize(const struct load_stats *st, struct load_summary *out);
uint64_t load_percentile_ns(const struct load_stats *st, double q);

/* Human-readable report (table + log2 histogram). */
void load_print(FILE *f, const struct load_stats *st);
/* The figures as one JSON object (no trailing newline); `extra`, if not
 * NULL, is inserted verbatim after the opening brace ("\"k\": v, ..."). */
void load_json(FILE *f, const struct load_stats *st, const char *extra);

#endif
