/* minimal_ws server logic: libusnet handlers run inline on each worker, feed
 * the shared parser straight from the receive cursor, and answer with
 * usn_tcp_send_ref of the preloaded response and its checksum table, so no
 * page byte is copied except into frames. */
#include "mws.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../http/http_parse.h"
#include "usnet/tcp.h"

struct mws_conn {
	struct mws_conn *next_free;
	struct usn_tcp_conn *tcp;
	bool closing; /* close requested: later bytes are ignored */
	/* header_timeout_ms: when the stack's deadline for the request now
	 * awaited fires (0: not armed), and the answer bytes queued and not
	 * yet acknowledged (with keepalive, the next request's clock starts
	 * once they are). */
	uint64_t hdr_deadline_us;
	uint64_t unacked;
	struct http_parser p;
};

/* A worker's state: its connections' parsers, allocated at init. */
struct mws_worker {
	struct mws *m;
	struct mws_conn *conns;
	struct mws_conn *free_list;
	struct mws_worker_stats st;
	/* st.requests for other threads (mws_requests): the worker stores it,
	 * relaxed, after each request; a plain store on x86. */
	_Atomic uint64_t requests_pub;
};

struct mws {
	struct usn_stack *stack;
	const struct http_store *store;
	struct mws_opts o;
	uint16_t n_workers;
	struct mws_worker *w;
	int zcopy_rc; /* usn_stack_tx_region's answer for the store's arena */
};

static struct mws_worker *worker_of(struct usn_tcp_conn *c)
{
	return usn_worker_user(usn_tcp_worker(c));
}

/* A connection's user pointer is the struct mws (the listen argument)
 * until connected_fn gives it a struct mws_conn. */
static struct mws_conn *conn_of(struct mws_worker *mw, void *user)
{
	return user == (void *)mw->m ? NULL : user;
}

/* The request now awaited must be complete within header_timeout_ms: a
 * deadline on the stack's timer (usn_tcp_set_deadline), which fires
 * whatever the client sends, bytes that never reach recv_fn included. */
static void header_deadline_arm(struct mws_worker *mw, struct mws_conn *k)
{
	uint32_t hto = mw->m->o.header_timeout_ms;
	if (!hto || k->closing)
		return;
	usn_tcp_set_deadline(k->tcp, hto);
	k->hdr_deadline_us = usn_worker_now_us(usn_tcp_worker(k->tcp)) + (uint64_t)hto * 1000u;
}

static void header_deadline_clear(struct mws_conn *k)
{
	if (!k->hdr_deadline_us)
		return;
	usn_tcp_set_deadline(k->tcp, 0);
	k->hdr_deadline_us = 0;
}

static void on_connected(struct usn_tcp_conn *c, void *user)
{
	struct mws_worker *mw = worker_of(c);
	if (conn_of(mw, user))
		return;
	struct mws_conn *k = mw->free_list;
	if (!k) {
		/* cannot happen with one state per TCB; refuse rather than
		 * allocate on the fast path */
		mw->st.no_state++;
		usn_tcp_abort(c);
		return;
	}
	mw->free_list = k->next_free;
	k->next_free = NULL;
	k->tcp = c;
	k->closing = false;
	k->hdr_deadline_us = 0;
	k->unacked = 0;
	http_parser_init(&k->p);
	usn_tcp_set_user(c, k);
	if (mw->m->o.idle_timeout_ms)
		usn_tcp_set_idle_timeout(c, mw->m->o.idle_timeout_ms);
	header_deadline_arm(mw, k);
	mw->st.conns++;
}

/* Queues the reply to the request k->p completed. false if the
 * connection was aborted (k is gone). */
static bool respond(struct mws_worker *mw, struct mws_conn *k)
{
	struct http_reply rep;
	header_deadline_clear(k); /* the request is complete */
	http_reply_for(mw->m->store, &k->p, mw->m->o.keepalive, &rep);
	/* Each piece holds a send descriptor until the client acknowledges
	 * it, and a connection may hold only so many (tcp_sendq_per_conn): a
	 * client that pipelines requests faster than it reads (or never reads:
	 * a zero window) would hold them all. Past that, the answers already
	 * queued go out, then our FIN; nothing is half queued, and the client
	 * sends the unanswered requests again on a new connection (RFC 9112
	 * 9.3.2). The rest of its input is not read: there is nowhere to keep
	 * it without a copy. */
	if (usn_tcp_send_room(k->tcp) < rep.n) {
		mw->st.send_full++;
		k->closing = true;
		usn_tcp_close(k->tcp);
		return true;
	}
	mw->st.requests++;
	atomic_store_explicit(&mw->requests_pub, mw->st.requests, memory_order_relaxed);
	if (rep.status == 200)
		mw->st.st200++;
	else if (rep.status == 404)
		mw->st.st404++;
	else
		mw->st.st_other++;
	for (unsigned i = 0; i < rep.n; i++) {
		int rc = usn_tcp_send_ref(k->tcp, rep.piece[i].data, rep.piece[i].len, rep.piece[i].csum);
		if (rc != 0) {
			/* Cannot happen after the room check: give the
			 * connection up rather than send half an answer. */
			mw->st.send_failed++;
			usn_tcp_abort(k->tcp);
			return false;
		}
		k->unacked += rep.piece[i].len;
	}
	if (rep.close) {
		k->closing = true;
		usn_tcp_close(k->tcp);
	} else {
		/* The next request's clock starts once this answer is
		 * acknowledged (on_sent): a download that outlasts the
		 * header timeout is not cut. */
		http_parser_init(&k->p);
		if (k->unacked == 0)
			header_deadline_arm(mw, k);
	}
	return true;
}

static void on_sent(struct usn_tcp_conn *c, void *user, uint32_t bytes)
{
	struct mws_worker *mw = worker_of(c);
	struct mws_conn *k = conn_of(mw, user);
	if (!k || bytes == 0)
		return;
	k->unacked = bytes < k->unacked ? k->unacked - bytes : 0;
	if (k->unacked == 0 && !k->hdr_deadline_us)
		header_deadline_arm(mw, k);
}

static void on_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor data)
{
	struct mws_worker *mw = worker_of(c);
	struct mws_conn *k = conn_of(mw, user);
	if (!k) {
		on_connected(c, user);
		k = conn_of(mw, usn_tcp_user(c));
		if (!k)
			return;
	}
	/* Parse each buffer of the chain in place: no copy. */
	while (usn_cursor_size(data) > 0 && !k->closing) {
		uint32_t n = data.buf->len - data.off;
		if (n > data.len)
			n = data.len;
		size_t used = 0;
		enum http_parse_result r = http_parse(&k->p, data.buf->data + data.off, n, &used);
		data = usn_cursor_drop(data, (uint32_t)used);
		if (r == HTTP_PARSE_DONE && !respond(mw, k))
			return;
	}
}

static void on_remote_closed(struct usn_tcp_conn *c, void *user)
{
	struct mws_worker *mw = worker_of(c);
	struct mws_conn *k = conn_of(mw, user);
	if (!k) {
		usn_tcp_close(c);
		return;
	}
	/* The client is done sending: whatever was answered goes out, then
	 * our FIN; a request it left unfinished gets no answer. */
	if (!k->closing) {
		header_deadline_clear(k);
		k->closing = true;
		usn_tcp_close(c);
	}
}

static void on_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	struct mws_worker *mw = worker_of(c);
	struct mws_conn *k = conn_of(mw, user);
	if (why == USN_TCP_CLOSE_NORMAL)
		mw->st.closed_ok++;
	else
		mw->st.closed_bad++;
	/* A timeout at or after the header deadline is the deadline's. */
	if (why == USN_TCP_CLOSE_TIMEOUT && k && k->hdr_deadline_us &&
	    usn_worker_now_us(usn_tcp_worker(c)) >= k->hdr_deadline_us)
		mw->st.header_timeouts++;
	else if (why == USN_TCP_CLOSE_TIMEOUT || why == USN_TCP_CLOSE_UNREACHABLE) /* the latter: after ICMP errors */
		mw->st.timed_out++;
	if (!k)
		return;
	k->hdr_deadline_us = 0;
	k->tcp = NULL;
	k->next_free = mw->free_list;
	mw->free_list = k;
}

static const struct usn_tcp_handlers mws_handlers = {
    .connected_fn = on_connected,
    .recv_fn = on_recv,
    .sent_fn = on_sent,
    .remote_closed_fn = on_remote_closed,
    .closed_fn = on_closed,
};

struct mws *mws_init(struct usn_stack *s, const struct http_store *store, const struct mws_opts *o, int *err)
{
	int rc = -ENOMEM;
	struct mws *m = calloc(1, sizeof(*m));
	if (!m)
		goto fail;
	m->stack = s;
	m->store = store;
	if (o)
		m->o = *o;
	if (!m->o.port)
		m->o.port = 80;
	m->n_workers = usn_stack_workers(s);
	uint32_t max_conns = usn_stack_config(s)->tcp_max_conns;
	if (!max_conns)
		max_conns = 4096;
	m->w = calloc(m->n_workers, sizeof(*m->w));
	if (!m->w)
		goto fail;
	for (uint16_t i = 0; i < m->n_workers; i++) {
		struct mws_worker *mw = &m->w[i];
		mw->m = m;
		mw->conns = calloc(max_conns, sizeof(*mw->conns));
		if (!mw->conns)
			goto fail;
		for (uint32_t j = max_conns; j-- > 0;) {
			mw->conns[j].next_free = mw->free_list;
			mw->free_list = &mw->conns[j];
		}
		usn_worker_set_user(usn_stack_worker(s, i), mw);
	}
	rc = usn_tcp_listen(s, m->o.port, &mws_handlers, m);
	if (rc != 0)
		goto fail;
	/* The pages leave without a copy where the port reads them in place;
	 * where it cannot (-EOPNOTSUPP), or the region is refused, they are
	 * copied as before. */
	const void *arena;
	size_t arena_len;
	if (http_store_arena(store, &arena, &arena_len))
		m->zcopy_rc = usn_stack_tx_region(s, arena, arena_len);
	else
		m->zcopy_rc = -EOPNOTSUPP;
	return m;
fail:
	if (err)
		*err = rc;
	mws_destroy(m);
	return NULL;
}

void mws_destroy(struct mws *m)
{
	if (!m)
		return;
	if (m->w) {
		for (uint16_t i = 0; i < m->n_workers; i++) {
			if (m->w[i].conns)
				usn_worker_set_user(usn_stack_worker(m->stack, i), NULL);
			free(m->w[i].conns);
		}
	}
	free(m->w);
	free(m);
}

int mws_zero_copy(const struct mws *m)
{
	return m->zcopy_rc;
}

void mws_worker_stats(const struct mws *m, uint16_t worker, struct mws_worker_stats *out)
{
	if (worker < m->n_workers)
		*out = m->w[worker].st;
	else
		memset(out, 0, sizeof(*out));
}

uint64_t mws_requests(const struct mws *m)
{
	uint64_t n = 0;

	for (uint16_t i = 0; i < m->n_workers; i++)
		n += atomic_load_explicit(&m->w[i].requests_pub, memory_order_relaxed);
	return n;
}
