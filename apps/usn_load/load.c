/* usn_load client logic: per-worker connection slots driving libusnet active
 * opens (one HTTP/1.0 request each, sent by reference) and a response
 * checker fed straight from the receive cursor. The body hash, the corpus,
 * the histograms and the reports are in load_hash.c, load_corpus.c,
 * load_hist.c and load_report.c. */
#define _POSIX_C_SOURCE 200809L

#include "load.h"
#include "load_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "usnet/tcp.h"

#define LOAD_HDR_MAX 1024
#define LOAD_SCAN_NS 1000000ull /* timeouts are checked once per ms */

/* One connection slot. A slot is free, or owns exactly one usn_tcp_conn
 * from usn_tcp_connect until its closed_fn. */
struct load_slot {
	struct load_worker *lw;
	struct load_slot *next_free;
	struct usn_tcp_conn *tcp;
	const struct load_page *page;
	uint64_t t_start_ns; /* intended send time (fixed rate) or connect time */
	uint64_t clen;
	uint64_t body_got;
	struct load_hash h;
	bool connected, hdr_done, done; /* done: counted (complete or error) */
	uint16_t hdr_n;
	char hdr[LOAD_HDR_MAX];
};

struct load_worker {
	struct load *l;
	struct usn_worker *w;
	uint16_t id;
	struct load_slot *slots;
	struct load_slot *free_list;
	uint32_t n_slots, active;
	uint64_t quota;	       /* attempts this worker may start; UINT64_MAX: no limit */
	uint64_t interval_ns;  /* fixed rate: between intended send times; 0: closed loop */
	uint64_t next_send_ns; /* fixed rate: the next intended send time */
	uint64_t end_ns;       /* stop starting at this time; UINT64_MAX: no limit */
	uint64_t stop_ns;      /* when the stop began; 0: running */
	uint64_t next_scan_ns;
	uint64_t dad_since_ns; /* IPv6: when it began to wait for our address; 0: not yet */
	uint64_t rng;
	bool begun, warm, over;
	struct load_stats st;
};

struct load {
	struct usn_stack *stack;
	const struct load_corpus *corpus;
	struct load_opts o;
	uint16_t n_workers;
	volatile int stop_req;
	/* Workers still in load_worker_run's own loop. */
	atomic_uint running;
	struct load_worker *w;
};

const char *load_err_name(enum load_err e)
{
	switch (e) {
	case LOAD_ERR_CONNECT:
		return "connect";
	case LOAD_ERR_RESET:
		return "reset";
	case LOAD_ERR_TIMEOUT:
		return "timeout";
	case LOAD_ERR_STATUS:
		return "status";
	case LOAD_ERR_LENGTH:
		return "length";
	case LOAD_ERR_BODY:
		return "body";
	case LOAD_ERR_N:
		break;
	}
	return "?";
}

static uint64_t lw_now(const struct load_worker *lw)
{
	const struct load *l = lw->l;
	if (l->o.clock_ns)
		return l->o.clock_ns(l->o.clock_arg);
	return usn_worker_now_us(lw->w) * 1000u;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: one state word, good enough to pick pages */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Counts slot k's outcome once. */
static void slot_fail(struct load_slot *k, enum load_err e)
{
	if (k->done)
		return;
	k->done = true;
	k->lw->st.errors[e]++;
}

/* Counts an error and resets the connection; k must not be used after. */
static void slot_abort(struct load_slot *k, enum load_err e)
{
	slot_fail(k, e);
	if (k->tcp)
		usn_tcp_abort(k->tcp); /* closed_fn frees k: now, or in a handler once it returns */
}

static void on_connected(struct usn_tcp_conn *c, void *user)
{
	struct load_slot *k = user;
	k->connected = true;
	k->lw->warm = true;
	/* The request is immutable corpus memory: by reference, no copy. */
	if (usn_tcp_send_ref(c, k->page->req, k->page->req_len, NULL) != 0)
		slot_abort(k, LOAD_ERR_CONNECT);
}

static bool ieq_prefix(const char *s, const char *end, const char *lit)
{
	for (; *lit; s++, lit++)
		if (s >= end || (*s | 0x20) != (*lit | 0x20))
			return false;
	return true;
}

/* Checks a complete header (hdr[0..n), ending in CRLF CRLF). */
static bool header_check(struct load_slot *k, size_t n)
{
	const char *h = k->hdr, *end = k->hdr + n;
	/* "HTTP/1.x 200 " */
	if (n < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ' || memcmp(h + 9, "200", 3) != 0 ||
	    (n > 12 && h[12] != ' ' && h[12] != '\r')) {
		slot_abort(k, LOAD_ERR_STATUS);
		return false;
	}
	bool have = false;
	uint64_t len = 0;
	for (const char *p = h; p + 2 < end; p++) {
		if (p[0] != '\r' || p[1] != '\n' || !ieq_prefix(p + 2, end, "content-length:"))
			continue;
		const char *q = p + 2 + 15;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q >= end || *q < '0' || *q > '9')
			break;
		while (q < end && *q >= '0' && *q <= '9' && len < (UINT64_MAX / 16))
			len = len * 10u + (uint64_t)(*q++ - '0');
		have = q < end && (*q == '\r' || *q == ' ' || *q == '\t');
		break;
	}
	if (!have || len != k->page->body_len) {
		slot_abort(k, LOAD_ERR_LENGTH);
		return false;
	}
	k->clen = len;
	return true;
}

static void slot_complete(struct load_slot *k)
{
	struct load_worker *lw = k->lw;
	if (k->page->have_hash && load_hash_final(&k->h) != k->page->body_hash) {
		slot_abort(k, LOAD_ERR_BODY);
		return;
	}
	k->done = true;
	uint64_t now = lw_now(lw);
	load_record_latency(&lw->st, now > k->t_start_ns ? now - k->t_start_ns : 0);
	lw->st.completed++;
	lw->st.body_bytes += k->clen;
	if (!lw->stop_ns)
		lw->st.win_completed++;
	/* The server closes (HTTP/1.0): our close follows its FIN in
	 * remote_closed_fn, so the server, not the client, holds TIME-WAIT. */
}

/* Body bytes: hashed in place, never copied. false if k is gone. */
static bool body_bytes(struct load_slot *k, const uint8_t *p, size_t n)
{
	if (k->body_got + n > k->clen) {
		slot_abort(k, LOAD_ERR_LENGTH);
		return false;
	}
	load_hash_update(&k->h, p, n);
	k->body_got += n;
	if (k->body_got == k->clen)
		slot_complete(k);
	return true;
}

/* Header bytes: copied into the slot until the empty line; the rest of the
 * piece is body. false if k is gone. */
static bool header_bytes(struct load_slot *k, const uint8_t *p, size_t n)
{
	size_t old = k->hdr_n, room = LOAD_HDR_MAX - old, take = n < room ? n : room;
	memcpy(k->hdr + old, p, take);
	k->hdr_n = (uint16_t)(old + take);
	size_t from = old > 3 ? old - 3 : 0;
	for (size_t i = from; i + 4 <= k->hdr_n; i++) {
		if (k->hdr[i] != '\r' || memcmp(k->hdr + i, "\r\n\r\n", 4) != 0)
			continue;
		size_t hlen = i + 4;
		k->hdr_done = true;
		if (!header_check(k, hlen))
			return false;
		size_t used = hlen - old; /* bytes of this piece that were header */
		if (used < n)
			return body_bytes(k, p + used, n - used);
		if (k->clen == 0)
			slot_complete(k);
		return true;
	}
	if (k->hdr_n == LOAD_HDR_MAX) {
		slot_abort(k, LOAD_ERR_STATUS);
		return false;
	}
	return true;
}

static void on_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor data)
{
	struct load_slot *k = user;
	k->lw->st.rx_bytes += usn_cursor_size(data);
	if (!k->lw->stop_ns)
		k->lw->st.win_rx_bytes += usn_cursor_size(data);
	if (k->done) {
		/* Bytes after a complete response: the length was wrong after
		 * all (the response already counted as correct stays so). */
		k->lw->st.errors[LOAD_ERR_LENGTH]++;
		usn_tcp_abort(c);
		return;
	}
	/* Walk the chain buffer by buffer: no copy of the body. */
	while (usn_cursor_size(data) > 0) {
		uint32_t n = data.buf->len - data.off;
		if (n > data.len)
			n = data.len;
		const uint8_t *p = data.buf->data + data.off;
		bool alive = k->hdr_done ? body_bytes(k, p, n) : header_bytes(k, p, n);
		if (!alive)
			return;
		data = usn_cursor_drop(data, n);
	}
}

static void on_remote_closed(struct usn_tcp_conn *c, void *user)
{
	struct load_slot *k = user;
	if (!k->done)
		slot_fail(k, LOAD_ERR_LENGTH); /* closed before the whole response */
	usn_tcp_close(c);
}

static void on_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct load_slot *k = user;
	struct load_worker *lw = k->lw;
	if (!k->done) {
		switch (why) {
		case USN_TCP_CLOSE_RESET:
			slot_fail(k, k->connected ? LOAD_ERR_RESET : LOAD_ERR_CONNECT);
			break;
		case USN_TCP_CLOSE_TIMEOUT:
			slot_fail(k, k->connected ? LOAD_ERR_TIMEOUT : LOAD_ERR_CONNECT);
			break;
		case USN_TCP_CLOSE_UNREACHABLE:
			/* connected: a timeout after ICMP errors said why */
			slot_fail(k, k->connected ? LOAD_ERR_TIMEOUT : LOAD_ERR_CONNECT);
			break;
		case USN_TCP_CLOSE_REFUSED:
			slot_fail(k, LOAD_ERR_CONNECT);
			break;
		case USN_TCP_CLOSE_NORMAL:
		case USN_TCP_CLOSE_ABORTED:
			slot_fail(k, LOAD_ERR_LENGTH);
			break;
		}
	}
	k->tcp = NULL;
	k->next_free = lw->free_list;
	lw->free_list = k;
	lw->active--;
	lw->st.t_end_ns = lw_now(lw);
}

static const struct usn_tcp_handlers load_handlers = {
    .connected_fn = on_connected,
    .recv_fn = on_recv,
    .sent_fn = NULL,
    .remote_closed_fn = on_remote_closed,
    .closed_fn = on_closed,
};

/* Starts one request whose clock starts at t0. false if no connection
 * could be opened (counted). */
static bool slot_start(struct load_worker *lw, uint64_t t0)
{
	const struct load *l = lw->l;
	struct load_slot *k = lw->free_list;
	lw->free_list = k->next_free;
	k->next_free = NULL;
	k->page = &l->corpus->pages[l->corpus->n == 1 ? 0 : rng_next(&lw->rng) % l->corpus->n];
	k->t_start_ns = t0;
	k->clen = 0;
	k->body_got = 0;
	k->connected = k->hdr_done = k->done = false;
	k->hdr_n = 0;
	load_hash_init(&k->h);
	lw->st.started++;
	lw->active++;
	if (l->o.server.family == USN_AF_INET6)
		k->tcp = usn_tcp_connect_addr(lw->w, &l->o.server, l->o.port, &load_handlers, k);
	else
		k->tcp = usn_tcp_connect(lw->w, l->o.server_ip, l->o.port, &load_handlers, k);
	if (!k->tcp) {
		lw->st.errors[LOAD_ERR_CONNECT]++;
		k->next_free = lw->free_list;
		lw->free_list = k;
		lw->active--;
		return false;
	}
	return true;
}

static void scan_timeouts(struct load_worker *lw, uint64_t now, uint64_t limit_ns)
{
	for (uint32_t i = 0; i < lw->n_slots; i++) {
		struct load_slot *k = &lw->slots[i];
		if (k->tcp && now - k->t_start_ns > limit_ns && now > k->t_start_ns)
			slot_abort(k, LOAD_ERR_TIMEOUT);
	}
}

/* Whether none of the stack's IPv6 addresses is still tentative. Until
 * duplicate address detection has passed (RFC 4862 5.4) an address is no
 * source, and usn_tcp_connect_addr returns NULL. */
static bool load_ip6_ready(const struct load *l)
{
	struct usn_ipv6_addr a[USN_IPV6_ADDRS_MAX + 1];
	enum usn_ipv6_state st[USN_IPV6_ADDRS_MAX + 1];
	unsigned n = usn_stack_ipv6_addrs(l->stack, a, st, USN_IPV6_ADDRS_MAX + 1);
	for (unsigned i = 0; i < n && i < USN_IPV6_ADDRS_MAX + 1; i++)
		if (st[i] == USN_IPV6_TENTATIVE)
			return false;
	return true;
}

bool load_worker_step(struct load *l, uint16_t w)
{
	struct load_worker *lw = &l->w[w];
	if (lw->over)
		return false;
	uint64_t now = lw_now(lw);
	if (!lw->begun && l->o.server.family == USN_AF_INET6 && !l->stop_req) {
		/* Over IPv6 the run (and its clock) starts once our address is
		 * usable, or after one request timeout, when the opens that
		 * fail are counted as connect errors. */
		if (!lw->dad_since_ns)
			lw->dad_since_ns = now ? now : 1;
		if (now - lw->dad_since_ns < l->o.timeout_ns && !load_ip6_ready(l))
			return true;
	}
	if (!lw->begun) {
		lw->begun = true;
		lw->st.t_begin_ns = lw->st.t_end_ns = now;
		lw->end_ns = l->o.duration_ns ? now + l->o.duration_ns : UINT64_MAX;
		/* Fixed rate: worker w's schedule starts w/n of an interval in,
		 * so the workers' sends interleave into one even schedule at
		 * the asked rate instead of n at a time. */
		lw->next_send_ns = now + lw->interval_ns * w / l->n_workers;
		lw->next_scan_ns = now + LOAD_SCAN_NS;
	}
	if (!lw->stop_ns && (now >= lw->end_ns || lw->st.started >= lw->quota || l->stop_req)) {
		lw->stop_ns = now ? now : 1;
		lw->st.t_stop_ns = now;
		lw->st.by_duration = now >= lw->end_ns;
	}

	if (!lw->stop_ns) {
		/* Until the first handshake completes (ARP resolved), one
		 * connection at a time: a thousand SYNs would overflow the ARP
		 * queue and wait for a retransmission. */
		uint32_t cap = lw->warm ? lw->n_slots : 1u;
		if (!lw->interval_ns) {
			while (lw->free_list && lw->active < cap && lw->st.started < lw->quota)
				if (!slot_start(lw, now))
					break;
		} else {
			while (lw->next_send_ns <= now && lw->st.started < lw->quota &&
			       lw->next_send_ns < lw->end_ns) {
				if (!lw->free_list || lw->active >= cap)
					break; /* late: it goes when a slot frees, timed from now */
				uint64_t t0 = lw->next_send_ns;
				lw->next_send_ns += lw->interval_ns;
				if (now - t0 > 1000000u)
					lw->st.late++;
				if (!slot_start(lw, t0))
					break;
			}
		}
	}

	if (now >= lw->next_scan_ns) {
		lw->next_scan_ns = now + LOAD_SCAN_NS;
		scan_timeouts(lw, now, l->o.timeout_ns);
	}
	if (lw->stop_ns && lw->active) {
		if (now - lw->stop_ns > l->o.drain_ns)
			scan_timeouts(lw, now, 0);
	}
	if (lw->stop_ns && !lw->active) {
		lw->over = true;
		return false;
	}
	return true;
}

void load_stop(struct load *l)
{
	l->stop_req = 1;
}

int load_worker_run(struct load *l, uint16_t w, const volatile int *stop)
{
	struct usn_worker *uw = l->w[w].w;
	for (;;) {
		usn_worker_poll(uw);
		if (stop && *stop)
			l->stop_req = 1;
		if (!load_worker_step(l, w))
			break;
	}
	/* Let the last FINs and ACKs go out. */
	for (int i = 0; i < 64; i++)
		usn_worker_poll(uw);
	atomic_fetch_sub(&l->running, 1);
	/* Worker 0 receives what is not TCP (ARP replies for all) and, on a
	 * port without RSS, every frame, steering the others' flows to them:
	 * it polls on until they are done, or they would wait for replies
	 * nobody reads. */
	while (w == 0 && atomic_load(&l->running) != 0 && !(stop && *stop))
		usn_worker_poll(uw);
	return 0;
}

struct load *load_create(struct usn_stack *s, const struct load_corpus *c, const struct load_opts *o,
			 int *err)
{
	int rc = -EINVAL;
	struct load *l = calloc(1, sizeof(*l));
	if (!l) {
		rc = -ENOMEM;
		goto fail;
	}
	l->stack = s;
	l->corpus = c;
	l->o = *o;
	bool v6 = o->server.family == USN_AF_INET6;
	if (!c || !c->n || (!o->server_ip && !v6) || (!o->requests && !o->duration_ns) || o->rate < 0)
		goto fail;
	if (!l->o.port)
		l->o.port = 80;
	if (!l->o.connections)
		l->o.connections = 100;
	if (!l->o.timeout_ns)
		l->o.timeout_ns = 5000000000ull;
	if (!l->o.drain_ns)
		l->o.drain_ns = l->o.timeout_ns;
	if (!l->o.seed)
		l->o.seed = 1;
	l->n_workers = usn_stack_workers(s);
	atomic_init(&l->running, l->n_workers);
	if (l->o.connections < l->n_workers)
		l->o.connections = l->n_workers;
	uint32_t max_conns = usn_stack_config(s)->tcp_max_conns;
	if (!max_conns)
		max_conns = 4096;
	l->w = calloc(l->n_workers, sizeof(*l->w));
	if (!l->w) {
		rc = -ENOMEM;
		goto fail;
	}
	for (uint16_t i = 0; i < l->n_workers; i++) {
		struct load_worker *lw = &l->w[i];
		lw->l = l;
		lw->id = i;
		lw->w = usn_stack_worker(s, i);
		lw->n_slots =
		    l->o.connections / l->n_workers + (i < l->o.connections % l->n_workers ? 1u : 0u);
		if (lw->n_slots > max_conns) {
			rc = -E2BIG;
			goto fail;
		}
		if (l->o.requests)
			lw->quota =
			    l->o.requests / l->n_workers + (i < l->o.requests % l->n_workers ? 1u : 0u);
		else
			lw->quota = UINT64_MAX;
		if (l->o.rate > 0) {
			double per = l->o.rate / l->n_workers;
			double iv = 1e9 / per;
			lw->interval_ns = iv < 1 ? 1 : (uint64_t)iv;
		}
		lw->rng = l->o.seed * 0x100000001B3ull + i;
		lw->slots = calloc(lw->n_slots, sizeof(*lw->slots));
		if (!lw->slots) {
			rc = -ENOMEM;
			goto fail;
		}
		for (uint32_t j = lw->n_slots; j-- > 0;) {
			lw->slots[j].lw = lw;
			lw->slots[j].next_free = lw->free_list;
			lw->free_list = &lw->slots[j];
		}
		if (lw->quota == 0)
			lw->over = true;
	}
	return l;
fail:
	if (err)
		*err = rc;
	load_destroy(l);
	return NULL;
}

void load_destroy(struct load *l)
{
	if (!l)
		return;
	if (l->w)
		for (uint16_t i = 0; i < l->n_workers; i++)
			free(l->w[i].slots);
	free(l->w);
	free(l);
}

const struct load_stats *load_worker_stats(const struct load *l, uint16_t w)
{
	return &l->w[w].st;
}

void load_stats_sum(const struct load *l, struct load_stats *out)
{
	memset(out, 0, sizeof(*out));
	bool first = true;
	for (uint16_t i = 0; i < l->n_workers; i++) {
		const struct load_stats *s = &l->w[i].st;
		if (!l->w[i].begun)
			continue;
		out->started += s->started;
		out->completed += s->completed;
		for (int e = 0; e < LOAD_ERR_N; e++)
			out->errors[e] += s->errors[e];
		out->rx_bytes += s->rx_bytes;
		out->body_bytes += s->body_bytes;
		out->late += s->late;
		out->win_completed += s->win_completed;
		out->win_rx_bytes += s->win_rx_bytes;
		out->by_duration |= s->by_duration;
		if (s->t_stop_ns > out->t_stop_ns)
			out->t_stop_ns = s->t_stop_ns;
		out->lat_sum_ns += s->lat_sum_ns;
		if (s->lat_max_ns > out->lat_max_ns)
			out->lat_max_ns = s->lat_max_ns;
		if (first || s->t_begin_ns < out->t_begin_ns)
			out->t_begin_ns = s->t_begin_ns;
		if (first || s->t_end_ns > out->t_end_ns)
			out->t_end_ns = s->t_end_ns;
		first = false;
		for (unsigned b = 0; b < LOAD_HIST_BUCKETS; b++)
			out->hist[b] += s->hist[b];
		for (unsigned b = 0; b < LOAD_LOG2_BUCKETS; b++)
			out->log2_us[b] += s->log2_us[b];
	}
}
