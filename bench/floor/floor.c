/* bench/floor: the stack's own floor. Client (apps/usn_load)
 * and server (apps/minimal_ws) libusnet stacks in ONE process over the
 * simulated link, no DPDK, no kernel: requests/s and cycles per HTTP/1.0
 * exchange (both sides together) for a 1 KiB page and for the bench corpus;
 * and bulk: one connection moving --bulk-mib MiB one way (send_ref of a
 * 1 MiB buffer with its checksum table), Gbit/s and cycles per byte. */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "../../apps/http/page_store.h"
#include "../../apps/minimal_ws/mws.h"
#include "../../apps/usn_load/load.h"
#include "usn_sim.h"
#include "usnet/csum.h"
#include "usnet/stack.h"
#include "usnet/tcp.h"

#define SRV_IP ((198u << 24) | (18u << 16) | 1u) /* 198.18.0.1, RFC 2544 */
#define CLI_IP ((198u << 24) | (18u << 16) | 2u)
#define PORT 80
#define MAX_RUNS 15

struct opts {
	const char *corpus; /* bench corpus dir (bench/corpus) */
	const char *json;
	const char *cases; /* any of "1k", "corpus", "bulk", comma-separated */
	uint64_t req_1k, req_corpus;
	uint64_t bulk_mib; /* bulk: MiB per run */
	uint32_t conns;
	unsigned runs;
	bool offload, quiet;
	bool tso, lro; /* the simulated ports segment (TSO) and coalesce (LRO) */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return now_ns();
#endif
}

/* ---- one in-process rig: link, two ports, two stacks, mws, the pages ---- */

struct rig {
	struct usn_sim_link *link;
	struct usn_sim_port *sp, *cp;
	struct usn_stack *ss, *cs;
	struct mws *mws;
	struct usn_worker *sw, *cw;
};

static struct usn_stack *rig_stack(struct usn_sim_link *link, struct usn_sim_port **port, uint32_t ip,
				   const struct opts *o)
{
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	uint8_t mac[6] = {0x02, 0x00, 0xc6, 0x12, (uint8_t)(ip >> 8), (uint8_t)ip};
	memcpy(pc.mac, mac, 6);
	pc.n_bufs = 16384;
	pc.rx_ring = 4096;
	if (o->offload)
		pc.offloads = USN_HAL_OFF_RX_CSUM | USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM;
	/* A TSO port does the checksums of what it cuts; an LRO port checks
	 * those of what it merges. */
	if (o->tso)
		pc.offloads |= USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_MULTISEG |
			       USN_HAL_OFF_TX_TSO;
	if (o->lro)
		pc.offloads |= USN_HAL_OFF_RX_CSUM | USN_HAL_OFF_RX_LRO;
	*port = usn_sim_port_create(link, &pc);
	if (!*port)
		return NULL;
	struct usn_hal *hal = usn_sim_port_hal(*port);
	struct usn_stack_config c;
	usn_stack_config_init(&c, ip, 24);
	memcpy(c.mac, mac, 6);
	c.bufs_per_worker = 1024;
	char msg[160];
	if (usn_stack_config_check(&c, hal, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "floor: %s\n", msg);
		return NULL;
	}
	return usn_stack_create(hal, &c);
}

static int rig_open(struct rig *r, const struct http_store *store, const struct opts *o)
{
	memset(r, 0, sizeof(*r));
	r->link = usn_sim_link_create(42);
	if (!r->link)
		return -ENOMEM;
	r->ss = rig_stack(r->link, &r->sp, SRV_IP, o);
	r->cs = rig_stack(r->link, &r->cp, CLI_IP, o);
	if (!r->ss || !r->cs)
		return -ENOMEM;
	struct mws_opts mo = {.port = PORT, .keepalive = false};
	int err = 0;
	r->mws = mws_init(r->ss, store, &mo, &err);
	if (!r->mws)
		return err ? err : -ENOMEM;
	r->sw = usn_stack_worker(r->ss, 0);
	r->cw = usn_stack_worker(r->cs, 0);
	usn_worker_start(r->sw);
	usn_worker_start(r->cw);
	return 0;
}

static void rig_close(struct rig *r)
{
	mws_destroy(r->mws);
	if (r->ss)
		usn_stack_destroy(r->ss);
	if (r->cs)
		usn_stack_destroy(r->cs);
	if (r->link)
		usn_sim_link_destroy(r->link);
	memset(r, 0, sizeof(*r));
}

/* Moves virtual time to the next delivery or timer (nothing moved now). */
static void rig_idle(struct rig *r)
{
	uint64_t now = usn_sim_link_now_us(r->link);
	uint64_t next = usn_sim_link_next_delivery_us(r->link);
	uint64_t d = usn_worker_next_deadline_us(r->sw);
	if (d < next)
		next = d;
	d = usn_worker_next_deadline_us(r->cw);
	if (d < next)
		next = d;
	if (next <= now)
		next = now + 1;
	if (next - now > 1000000u)
		next = now + 1000000u;
	usn_sim_link_advance(r->link, next - now);
}

static inline __attribute__((always_inline)) void drive(struct rig *r, struct load *l)
{
	for (;;) {
		uint64_t before = load_worker_stats(l, 0)->started;
		unsigned moved = usn_worker_poll(r->sw);
		moved += usn_worker_poll(r->cw);
		if (!load_worker_step(l, 0))
			break;
		if (!moved && load_worker_stats(l, 0)->started == before)
			rig_idle(r);
	}
	/* the last ACKs and FINs */
	for (int i = 0; i < 8; i++) {
		usn_worker_poll(r->sw);
		usn_worker_poll(r->cw);
	}
}

/* The measured loop, kept out of line so that callgrind can collect only
 * inside it (--toggle-collect=floor_drive); the warm-up runs in its twin. */
__attribute__((noinline)) void floor_drive(struct rig *r, struct load *l);
__attribute__((noinline)) void floor_drive(struct rig *r, struct load *l)
{
	drive(r, l);
}

__attribute__((noinline)) void floor_warmup(struct rig *r, struct load *l);
__attribute__((noinline)) void floor_warmup(struct rig *r, struct load *l)
{
	drive(r, l);
}

struct run_result {
	uint64_t requests, errors, frames;
	uint64_t wall_ns, cpu_ns, tsc;
	uint64_t virt_us;
	/* A USN_PROFILE build's cost centres, both workers (else prof false):
	 * the stacks (every category but driver and idle) and the port's
	 * rx/tx bursts (driver: the simulated link's copies, TSO and LRO). */
	bool prof;
	uint64_t stack_cyc, link_cyc;
};

/* Reads both workers' cost centres into *stack and *link; false without
 * USN_PROFILE. */
static bool prof_read(const struct rig *r, uint64_t *stack, uint64_t *link)
{
	struct usn_worker *ws[2] = {r->sw, r->cw};
	uint64_t c[32];
	*stack = *link = 0;
	for (int k = 0; k < 2; k++) {
		int n = usn_worker_prof(ws[k], c, sizeof c / sizeof c[0]);
		if (n < 0)
			return false;
		for (int i = 0; i < n; i++) {
			const char *name = usn_prof_name((size_t)i);
			if (strcmp(name, "driver") == 0)
				*link += c[i];
			else if (strcmp(name, "idle") != 0)
				*stack += c[i];
		}
	}
	return true;
}

static void prof_span(const struct rig *r, bool before, struct run_result *out)
{
	uint64_t s, l;
	if (!prof_read(r, &s, &l))
		return;
	if (before) {
		out->stack_cyc = s;
		out->link_cyc = l;
		return;
	}
	out->prof = true;
	out->stack_cyc = s - out->stack_cyc;
	out->link_cyc = l - out->link_cyc;
}

static int run_once(struct rig *r, const struct load_corpus *lc, uint32_t conns, uint64_t requests,
		    bool warmup, struct run_result *out, struct load_stats *st_out)
{
	struct load_opts lo = {
	    .server_ip = SRV_IP, .port = PORT, .connections = conns, .requests = requests, .seed = 7};
	int err = 0;
	struct load *l = load_create(r->cs, lc, &lo, &err);
	if (!l)
		return err;
	struct usn_sim_port_stats a, b;
	usn_sim_port_stats(r->cp, &a);
	memset(out, 0, sizeof(*out));
	prof_span(r, true, out);
	uint64_t v0 = usn_sim_link_now_us(r->link);
	uint64_t w0 = now_ns(), c0 = cpu_ns(), t0 = cycles();
	if (warmup)
		floor_warmup(r, l);
	else
		floor_drive(r, l);
	uint64_t t1 = cycles(), c1 = cpu_ns(), w1 = now_ns();
	prof_span(r, false, out);
	usn_sim_port_stats(r->cp, &b);
	load_stats_sum(l, st_out);
	out->requests = st_out->completed;
	out->errors = 0;
	for (int e = 0; e < LOAD_ERR_N; e++)
		out->errors += st_out->errors[e];
	out->frames = (b.tx_frames - a.tx_frames) + (b.rx_frames - a.rx_frames);
	out->wall_ns = w1 - w0;
	out->cpu_ns = c1 - c0;
	out->tsc = t1 - t0;
	out->virt_us = usn_sim_link_now_us(r->link) - v0;
	load_destroy(l);
	return 0;
}

/* ---- the two cases ---- */

/* A 1 KiB page of HTML-ish text, deterministic. */
static void make_page(uint8_t *p, size_t n)
{
	static const char words[] = "<p class=\"news\">the quick brown fox jumps over the lazy dog</p>\n";
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)words[i % (sizeof(words) - 1)];
}

/* The store mws serves from: one page written to a temp dir, preloaded,
 * and the dir removed again. */
static struct http_store *store_1k(const uint8_t *page, size_t n)
{
	char dir[] = "/tmp/usn_floor.XXXXXX";
	if (!mkdtemp(dir))
		return NULL;
	char path[64];
	snprintf(path, sizeof(path), "%s/p1k.html", dir);
	FILE *f = fopen(path, "wb");
	struct http_store *s = NULL;
	if (f) {
		bool ok = fwrite(page, 1, n, f) == n;
		fclose(f);
		if (ok) {
			struct http_store_opts so = {.csum_build = usn_csum_table_build,
						     .csum_free = usn_csum_table_free};
			char msg[256];
			s = http_store_open(dir, &so, msg, sizeof(msg));
			if (!s)
				fprintf(stderr, "floor: %s\n", msg);
		}
		unlink(path);
	}
	rmdir(dir);
	return s;
}

struct case_result {
	const char *name;
	uint32_t conns;
	uint64_t requests_per_run;
	unsigned runs;
	struct run_result r[MAX_RUNS];
	double tsc_hz;
	uint64_t errors;
	uint32_t pages;
	double mean_page_bytes;
};

static double median_of(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void case_figures(const struct case_result *c, double *tsc_per, double *cpu_cyc_per, double *req_s,
			 double *frames_per, double *min_tsc_per)
{
	double t[MAX_RUNS], cc[MAX_RUNS], rs[MAX_RUNS], fr[MAX_RUNS];
	*min_tsc_per = 0;
	for (unsigned i = 0; i < c->runs; i++) {
		const struct run_result *r = &c->r[i];
		double n = r->requests ? (double)r->requests : 1;
		t[i] = (double)r->tsc / n;
		cc[i] = (double)r->cpu_ns * c->tsc_hz / 1e9 / n;
		rs[i] = (double)r->requests / ((double)r->wall_ns / 1e9);
		fr[i] = (double)r->frames / n;
		if (i == 0 || t[i] < *min_tsc_per)
			*min_tsc_per = t[i];
	}
	*tsc_per = median_of(t, c->runs);
	*cpu_cyc_per = median_of(cc, c->runs);
	*req_s = median_of(rs, c->runs);
	*frames_per = median_of(fr, c->runs);
}

static int run_case(const char *name, const struct http_store *store, const struct load_corpus *lc,
		    const struct opts *o, uint64_t requests, struct case_result *cr)
{
	struct rig r;
	int rc = rig_open(&r, store, o);
	if (rc != 0) {
		fprintf(stderr, "floor: cannot build the rig: %s\n", strerror(-rc));
		rig_close(&r);
		return rc;
	}
	memset(cr, 0, sizeof(*cr));
	cr->name = name;
	cr->conns = o->conns;
	cr->requests_per_run = requests;
	cr->runs = o->runs;
	cr->pages = lc->n;
	cr->mean_page_bytes = (double)lc->total_bytes / lc->n;
	struct load_stats *st = malloc(sizeof(*st));
	if (!st) {
		rig_close(&r);
		return -ENOMEM;
	}
	/* Warm-up: ARP, pools and caches; TIME-WAIT tables filling. */
	struct run_result warm;
	uint64_t wreq = requests / 5 < 200 ? 200 : requests / 5;
	rc = run_once(&r, lc, o->conns, wreq, true, &warm, st);
	uint64_t tsc_sum = 0, ns_sum = 0;
	for (unsigned i = 0; rc == 0 && i < o->runs; i++) {
		rc = run_once(&r, lc, o->conns, requests, false, &cr->r[i], st);
		cr->errors += cr->r[i].errors;
		tsc_sum += cr->r[i].tsc;
		ns_sum += cr->r[i].wall_ns;
		if (!o->quiet && i == o->runs - 1 && cr->r[i].errors) {
			fprintf(stderr, "floor: %s: errors in the last run:\n", name);
			load_print(stderr, st);
		}
	}
	cr->tsc_hz = ns_sum ? (double)tsc_sum * 1e9 / (double)ns_sum : 1e9;
	free(st);
	rig_close(&r);
	return rc;
}

/* Medians of the cost-centre split per unit (request or byte); false
 * without USN_PROFILE. */
static bool prof_figures(const struct run_result *r, unsigned runs, double *stack_per, double *link_per)
{
	double st[MAX_RUNS], lk[MAX_RUNS];
	for (unsigned i = 0; i < runs; i++) {
		if (!r[i].prof)
			return false;
		double n = r[i].requests ? (double)r[i].requests : 1;
		st[i] = (double)r[i].stack_cyc / n;
		lk[i] = (double)r[i].link_cyc / n;
	}
	*stack_per = median_of(st, runs);
	*link_per = median_of(lk, runs);
	return runs > 0;
}

static void print_case(const struct case_result *c)
{
	double tp, cp, rs, fp, mn, sp, lp;
	case_figures(c, &tp, &cp, &rs, &fp, &mn);
	printf("%-7s %5u conns %8" PRIu64
	       " req x%u  %10.0f req/s  %9.0f cycles/req (min %.0f, cpu-time %.0f)  "
	       "%6.1f frames/req  errors %" PRIu64 "\n",
	       c->name, c->conns, c->requests_per_run, c->runs, rs, tp, mn, cp, fp, c->errors);
	if (prof_figures(c->r, c->runs, &sp, &lp))
		printf("        cost centres: the stacks %.0f cycles/req, the link's bursts %.0f\n", sp, lp);
}

static void json_case(FILE *f, const struct case_result *c, const struct opts *o)
{
	double tp, cp, rs, fp, mn;
	case_figures(c, &tp, &cp, &rs, &fp, &mn);
	fprintf(f,
		"  {\"case\": \"%s\", \"pages\": %" PRIu32
		", \"mean_page_bytes\": %.0f, \"connections\": %u, "
		"\"requests_per_run\": %" PRIu64 ", \"runs\": %u, \"offload\": %s, \"tso\": %s, \"lro\": %s, "
		"\"req_s_median\": %.0f, "
		"\"cycles_per_req_median\": %.0f, \"cycles_per_req_min\": %.0f, "
		"\"cpu_cycles_per_req_median\": %.0f, "
		"\"frames_per_req\": %.2f, \"tsc_hz\": %.0f, \"errors\": %" PRIu64 ", ",
		c->name, c->pages, c->mean_page_bytes, c->conns, c->requests_per_run, c->runs,
		o->offload ? "true" : "false", o->tso ? "true" : "false", o->lro ? "true" : "false", rs, tp, mn, cp, fp,
		c->tsc_hz, c->errors);
	double sp, lp;
	if (prof_figures(c->r, c->runs, &sp, &lp))
		fprintf(f, "\"stack_cycles_per_req_median\": %.0f, \"link_cycles_per_req_median\": %.0f, ", sp, lp);
	fprintf(f, "\"per_run\": [");
	for (unsigned i = 0; i < c->runs; i++) {
		const struct run_result *r = &c->r[i];
		fprintf(f,
			"%s{\"requests\": %" PRIu64 ", \"wall_ns\": %" PRIu64 ", \"cpu_ns\": %" PRIu64
			", \"tsc\": %" PRIu64 ", \"frames\": %" PRIu64 ", \"virtual_us\": %" PRIu64 "}",
			i ? ", " : "", r->requests, r->wall_ns, r->cpu_ns, r->tsc, r->frames, r->virt_us);
	}
	fprintf(f, "]}");
}

/* ---- the bulk case: one connection, one direction ---- */

#define BULK_PORT 5001
#define BULK_BUF (1u << 20) /* sent by reference, again and again */
#define BULK_SEG 1448u      /* MSS with timestamps on a 1500-byte MTU */

/* The sender: the same immutable buffer queued by reference, with its
 * checksum table, at most two copies ahead of the ACKs. */
struct bulk_tx {
	struct usn_tcp_conn *c;
	const uint8_t *buf;
	const struct usn_csum_table *tab;
	uint64_t total, queued, acked;
	int closed;
	enum usn_tcp_close_reason why;
	int send_err;
	bool closing;
};

/* The receiver: counts bytes (the stack has checked every checksum). */
struct bulk_rx {
	uint64_t rx;
	int closed;
	enum usn_tcp_close_reason why;
};

static void bulk_pump(struct bulk_tx *b)
{
	while (b->queued < b->total && b->queued - b->acked < 2u * BULK_BUF) {
		uint32_t n = BULK_BUF;
		if (b->total - b->queued < n)
			n = (uint32_t)(b->total - b->queued);
		int rc = usn_tcp_send_ref(b->c, b->buf, n, n == BULK_BUF ? b->tab : NULL);
		if (rc != 0) {
			if (rc != -ENOBUFS)
				b->send_err = rc;
			break;
		}
		b->queued += n;
	}
	if (!b->closing && b->queued == b->total && b->queued == b->acked) {
		b->closing = true;
		usn_tcp_close(b->c);
	}
}

static void btx_connected(struct usn_tcp_conn *c, void *user)
{
	struct bulk_tx *b = user;
	b->c = c;
	bulk_pump(b);
}

static void btx_sent(struct usn_tcp_conn *c, void *user, uint32_t n)
{
	(void)c;
	struct bulk_tx *b = user;
	b->acked += n;
	bulk_pump(b);
}

static void btx_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct bulk_tx *b = user;
	b->closed = 1;
	b->why = why;
}

static void brx_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	(void)c;
	struct bulk_rx *r = user;
	r->rx += usn_cursor_size(d);
}

static void brx_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	usn_tcp_close(c);
}

static void brx_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct bulk_rx *r = user;
	r->closed++;
	r->why = why;
}

static const struct usn_tcp_handlers bulk_tx_h = {
    .connected_fn = btx_connected, .sent_fn = btx_sent, .closed_fn = btx_closed};
static const struct usn_tcp_handlers bulk_rx_h = {
    .recv_fn = brx_recv, .remote_closed_fn = brx_remote_closed, .closed_fn = brx_closed};

static inline __attribute__((always_inline)) void bulk_drive(struct rig *r, struct bulk_tx *b,
							      const struct bulk_rx *x, uint64_t rx0)
{
	while (!b->closed && !b->send_err && (x->rx - rx0 < b->total || b->acked < b->total)) {
		unsigned moved = usn_worker_poll(r->cw);
		moved += usn_worker_poll(r->sw);
		if (!moved)
			rig_idle(r);
	}
}

__attribute__((noinline)) void floor_bulk_drive(struct rig *r, struct bulk_tx *b, const struct bulk_rx *x,
						uint64_t rx0);
__attribute__((noinline)) void floor_bulk_drive(struct rig *r, struct bulk_tx *b, const struct bulk_rx *x,
						uint64_t rx0)
{
	bulk_drive(r, b, x, rx0);
}

struct bulk_result {
	uint64_t bytes_per_run;
	unsigned runs;
	struct run_result r[MAX_RUNS];
	uint64_t rexmits[MAX_RUNS];
	/* The senders, kept until the stacks are gone: a connection in
	 * TIME-WAIT still points at its own. [MAX_RUNS] is the warm-up's. */
	struct bulk_tx tx[MAX_RUNS + 1];
	double tsc_hz;
	uint64_t errors;
};

/* One transfer of `bytes` on a new connection (client -> server); the
 * clock runs from connect to the last byte received and acknowledged. */
static int bulk_once(struct rig *r, struct bulk_rx *x, struct bulk_tx *bp, const uint8_t *buf,
		     const struct usn_csum_table *tab, uint64_t bytes, bool warmup, struct run_result *out,
		     uint64_t *rexmits)
{
	struct bulk_tx *b = bp;
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->tab = tab;
	b->total = bytes;
	struct usn_sim_port_stats a0, a1;
	struct usn_stats s0, s1;
	usn_sim_port_stats(r->cp, &a0);
	usn_stack_stats(r->cs, &s0);
	uint64_t rx0 = x->rx;
	struct run_result pr;
	memset(&pr, 0, sizeof pr);
	prof_span(r, true, &pr);
	uint64_t v0 = usn_sim_link_now_us(r->link);
	uint64_t w0 = now_ns(), c0 = cpu_ns(), t0 = cycles();
	if (!usn_tcp_connect(r->cw, SRV_IP, BULK_PORT, &bulk_tx_h, b))
		return -ENOSPC;
	if (warmup)
		bulk_drive(r, b, x, rx0);
	else
		floor_bulk_drive(r, b, x, rx0);
	uint64_t t1 = cycles(), c1 = cpu_ns(), w1 = now_ns();
	prof_span(r, false, &pr);
	usn_sim_port_stats(r->cp, &a1);
	usn_stack_stats(r->cs, &s1);
	bool ok = !b->send_err && x->rx - rx0 == bytes && b->acked == bytes;
	/* the FINs, before the next run (the client's end then waits in
	 * TIME-WAIT) */
	for (int i = 0; i < 64; i++) {
		unsigned moved = usn_worker_poll(r->cw);
		moved += usn_worker_poll(r->sw);
		if (!moved)
			break;
	}
	*out = pr;
	out->requests = x->rx - rx0; /* bytes */
	out->errors = ok ? 0 : 1;
	out->frames = (a1.tx_frames - a0.tx_frames) + (a1.rx_frames - a0.rx_frames);
	out->wall_ns = w1 - w0;
	out->cpu_ns = c1 - c0;
	out->tsc = t1 - t0;
	out->virt_us = usn_sim_link_now_us(r->link) - v0;
	*rexmits = s1.tcp_retrans_segs - s0.tcp_retrans_segs;
	if (!ok)
		fprintf(stderr, "floor: bulk: %" PRIu64 " of %" PRIu64 " bytes received, %" PRIu64 " acked (%s)\n",
			x->rx - rx0, bytes, b->acked, b->send_err ? strerror(-b->send_err) : "stopped");
	return 0;
}

static int run_bulk(const struct opts *o, struct bulk_result *br)
{
	memset(br, 0, sizeof(*br));
	br->bytes_per_run = o->bulk_mib << 20;
	br->runs = o->runs;
	uint8_t *buf = malloc(BULK_BUF);
	if (!buf)
		return -ENOMEM;
	uint32_t x = 0x9e3779b9u;
	for (uint32_t i = 0; i < BULK_BUF; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	struct usn_csum_table tab;
	if (usn_csum_table_build(&tab, buf, BULK_BUF) != 0) {
		free(buf);
		return -ENOMEM;
	}
	struct rig r;
	memset(&r, 0, sizeof(r));
	int rc = -ENOMEM;
	r.link = usn_sim_link_create(42);
	if (r.link) {
		r.ss = rig_stack(r.link, &r.sp, SRV_IP, o);
		r.cs = rig_stack(r.link, &r.cp, CLI_IP, o);
	}
	struct bulk_rx rx = {0};
	if (r.ss && r.cs) {
		r.sw = usn_stack_worker(r.ss, 0);
		r.cw = usn_stack_worker(r.cs, 0);
		rc = usn_tcp_listen(r.ss, BULK_PORT, &bulk_rx_h, &rx);
	}
	if (rc == 0) {
		usn_worker_start(r.sw);
		usn_worker_start(r.cw);
		struct run_result warm;
		uint64_t wre;
		uint64_t wbytes = br->bytes_per_run / 8 < (8u << 20) ? (8u << 20) : br->bytes_per_run / 8;
		rc = bulk_once(&r, &rx, &br->tx[MAX_RUNS], buf, &tab, wbytes, true, &warm, &wre);
		br->errors += warm.errors;
	}
	uint64_t tsc_sum = 0, ns_sum = 0;
	for (unsigned i = 0; rc == 0 && i < br->runs; i++) {
		rc = bulk_once(&r, &rx, &br->tx[i], buf, &tab, br->bytes_per_run, false, &br->r[i], &br->rexmits[i]);
		br->errors += br->r[i].errors;
		tsc_sum += br->r[i].tsc;
		ns_sum += br->r[i].wall_ns;
	}
	br->tsc_hz = ns_sum ? (double)tsc_sum * 1e9 / (double)ns_sum : 1e9;
	if (rc != 0)
		fprintf(stderr, "floor: bulk: cannot run: %s\n", strerror(-rc));
	rig_close(&r);
	usn_csum_table_free(&tab);
	free(buf);
	return rc;
}

static void bulk_figures(const struct bulk_result *b, double *gbit_s, double *cyc_byte, double *cyc_seg,
			 double *cpu_cyc_byte, double *frames_per_seg)
{
	double g[MAX_RUNS], cb[MAX_RUNS], cc[MAX_RUNS], fs[MAX_RUNS];
	for (unsigned i = 0; i < b->runs; i++) {
		const struct run_result *r = &b->r[i];
		double n = r->requests ? (double)r->requests : 1;
		g[i] = n * 8 / (double)r->wall_ns; /* bits per ns = Gbit/s */
		cb[i] = (double)r->tsc / n;
		cc[i] = (double)r->cpu_ns * b->tsc_hz / 1e9 / n;
		fs[i] = (double)r->frames / (n / BULK_SEG);
	}
	*gbit_s = median_of(g, b->runs);
	*cyc_byte = median_of(cb, b->runs);
	*cyc_seg = *cyc_byte * BULK_SEG;
	*cpu_cyc_byte = median_of(cc, b->runs);
	*frames_per_seg = median_of(fs, b->runs);
}

static void print_bulk(const struct bulk_result *b)
{
	double g, cb, cs, cc, fs;
	bulk_figures(b, &g, &cb, &cs, &cc, &fs);
	printf("bulk    1 conn  %5" PRIu64 " MiB x%u  %7.2f Gbit/s  %6.3f cycles/byte  %6.0f cycles/%u-byte segment "
	       "(cpu-time %.3f/byte)  %4.2f frames/segment  errors %" PRIu64 "\n",
	       b->bytes_per_run >> 20, b->runs, g, cb, cs, BULK_SEG, cc, fs, b->errors);
	double sp, lp;
	if (prof_figures(b->r, b->runs, &sp, &lp))
		printf("        cost centres: the stacks %.3f cycles/byte, the link's bursts %.3f\n", sp, lp);
}

static void json_bulk(FILE *f, const struct bulk_result *b, const struct opts *o)
{
	double g, cb, cs, cc, fs;
	bulk_figures(b, &g, &cb, &cs, &cc, &fs);
	fprintf(f,
		"{\"case\": \"bulk\", \"connections\": 1, \"direction\": \"one way\", \"send\": \"send_ref + csum table\", "
		"\"bytes_per_run\": %" PRIu64 ", \"runs\": %u, \"offload\": %s, \"tso\": %s, \"lro\": %s, "
		"\"gbit_s_median\": %.3f, "
		"\"cycles_per_byte_median\": %.4f, \"cycles_per_segment_median\": %.0f, \"segment_bytes\": %u, "
		"\"cpu_cycles_per_byte_median\": %.4f, \"frames_per_segment\": %.3f, \"tsc_hz\": %.0f, "
		"\"errors\": %" PRIu64 ", ",
		b->bytes_per_run, b->runs, o->offload ? "true" : "false", o->tso ? "true" : "false",
		o->lro ? "true" : "false", g, cb, cs, BULK_SEG, cc, fs, b->tsc_hz,
		b->errors);
	double sp, lp;
	if (prof_figures(b->r, b->runs, &sp, &lp))
		fprintf(f, "\"stack_cycles_per_byte_median\": %.4f, \"link_cycles_per_byte_median\": %.4f, ", sp, lp);
	fprintf(f, "\"per_run\": [");
	for (unsigned i = 0; i < b->runs; i++) {
		const struct run_result *r = &b->r[i];
		fprintf(f,
			"%s{\"bytes\": %" PRIu64 ", \"wall_ns\": %" PRIu64 ", \"cpu_ns\": %" PRIu64 ", \"tsc\": %" PRIu64
			", \"frames\": %" PRIu64 ", \"retransmits\": %" PRIu64 ", \"virtual_us\": %" PRIu64 "}",
			i ? ", " : "", r->requests, r->wall_ns, r->cpu_ns, r->tsc, r->frames, b->rexmits[i], r->virt_us);
	}
	fprintf(f, "]}");
}

static void usage_exit(const char *what)
{
	fprintf(stderr,
		"floor: %s\nusage: floor [--cases 1k,corpus,bulk] [--corpus DIR] [--requests N (1 KiB case)]"
		" [--corpus-requests N] [--bulk-mib N] [--connections N] [--runs N] [--offload] [--tso] [--lro]"
		" [--json FILE]"
		" [--quiet]\n",
		what);
	exit(2);
}

/* One case of main: runs it on store and lc (either NULL if it could not
 * be built: a failure) into res[*n_res], printed and counted when it
 * succeeds; closes both. 0, or -1 if the case failed. */
static int run_case_close(const char *name, struct http_store *store, struct load_corpus *lc,
			  const struct opts *o, uint64_t requests, struct case_result *res, unsigned *n_res)
{
	int rc = -1;
	if (store && lc && run_case(name, store, lc, o, requests, &res[*n_res]) == 0) {
		print_case(&res[*n_res]);
		(*n_res)++;
		rc = 0;
	}
	load_corpus_close(lc);
	if (store)
		http_store_close(store);
	return rc;
}

static uint64_t arg_u64(const char *s, const char *name)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0)
		usage_exit(name);
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {.corpus = "bench/corpus",
			 .cases = "1k,corpus,bulk",
			 .req_1k = 20000,
			 .bulk_mib = 256,
			 .req_corpus = 1000,
			 .conns = 16,
			 .runs = 3};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--offload") == 0) {
			o.offload = true;
			continue;
		}
		if (strcmp(a, "--tso") == 0) {
			o.tso = true;
			continue;
		}
		if (strcmp(a, "--lro") == 0) {
			o.lro = true;
			continue;
		}
		if (strcmp(a, "--quiet") == 0) {
			o.quiet = true;
			continue;
		}
		if (!v)
			usage_exit("an option needs a value");
		i++;
		if (strcmp(a, "--corpus") == 0)
			o.corpus = v;
		else if (strcmp(a, "--cases") == 0)
			o.cases = v;
		else if (strcmp(a, "--json") == 0)
			o.json = v;
		else if (strcmp(a, "--requests") == 0)
			o.req_1k = arg_u64(v, "bad --requests");
		else if (strcmp(a, "--corpus-requests") == 0)
			o.req_corpus = arg_u64(v, "bad --corpus-requests");
		else if (strcmp(a, "--bulk-mib") == 0)
			o.bulk_mib = arg_u64(v, "bad --bulk-mib");
		else if (strcmp(a, "--connections") == 0)
			o.conns = (uint32_t)arg_u64(v, "bad --connections");
		else if (strcmp(a, "--runs") == 0) {
			o.runs = (unsigned)arg_u64(v, "bad --runs");
			if (o.runs > MAX_RUNS)
				usage_exit("--runs: at most 15");
		} else
			usage_exit("unknown option");
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Per-connection memory without data (the target: at most 512 bytes). */
	printf("TCB: %zu bytes per connection (without data)\n", usn_tcp_tcb_size());
	struct case_result res[2];
	unsigned n_res = 0;
	int status = 0;

	if (strstr(o.cases, "1k")) {
		uint8_t page[1024];
		make_page(page, sizeof(page));
		const char *path = "/p1k.html";
		const void *body = page;
		uint64_t len = sizeof(page);
		struct http_store *store = store_1k(page, sizeof(page));
		struct load_corpus *lc = load_corpus_of(&path, &body, &len, 1);
		if (!store || !lc)
			fprintf(stderr, "floor: cannot build the 1 KiB page\n");
		if (run_case_close("1k", store, lc, &o, o.req_1k, res, &n_res) != 0)
			status = 1;
	}
	if (strstr(o.cases, "corpus")) {
		char msg[512], www[4096];
		snprintf(www, sizeof(www), "%s/www", o.corpus);
		struct http_store_opts so = {.csum_build = usn_csum_table_build,
					     .csum_free = usn_csum_table_free};
		struct http_store *store = http_store_open(www, &so, msg, sizeof(msg));
		if (!store)
			fprintf(stderr, "floor: corpus: %s (make bench-corpus writes bench/corpus)\n", msg);
		struct load_corpus *lc = store ? load_corpus_open(o.corpus, msg, sizeof(msg)) : NULL;
		if (store && !lc)
			fprintf(stderr, "floor: corpus: %s\n", msg);
		if (run_case_close("corpus", store, lc, &o, o.req_corpus, res, &n_res) != 0)
			status = 1;
	}
	static struct bulk_result bulk;
	bool have_bulk = false;
	if (strstr(o.cases, "bulk")) {
		if (run_bulk(&o, &bulk) == 0) {
			print_bulk(&bulk);
			have_bulk = true;
			if (bulk.errors)
				status = 1;
		} else {
			status = 1;
		}
	}
	for (unsigned i = 0; i < n_res; i++)
		if (res[i].errors)
			status = 1;
	if (o.json) {
		FILE *f = fopen(o.json, "w");
		if (!f) {
			fprintf(stderr, "floor: %s: %s\n", o.json, strerror(errno));
			return 1;
		}
		fprintf(f, "{\"tool\": \"floor\", \"link\": \"sim\", \"tcb_bytes\": %zu, "
			   "\"target_cycles_per_1k_exchange\": 10000, \"cases\": [\n",
			usn_tcp_tcb_size());
		for (unsigned i = 0; i < n_res; i++) {
			json_case(f, &res[i], &o);
			fprintf(f, i + 1 < n_res ? ",\n" : "\n");
		}
		fprintf(f, "], \"bulk\": ");
		if (have_bulk)
			json_bulk(f, &bulk, &o);
		else
			fprintf(f, "null");
		fprintf(f, "}\n");
		fclose(f);
	}
	return status;
}
