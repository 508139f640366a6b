/* Unit tests for closing and aborting from the application's handlers:
 * every handler (connected, data, sent, remote closed) in every state it
 * can be called in, and from each of them usn_tcp_close, usn_tcp_abort and
 * close then abort. A stack on the simulated link and a raw peer port
 * (tests/common/tcpseg.h) drive a connection into the state; the handler
 * acts once; then the test checks what the stack did: close's return for
 * that state, the RST (at snd_nxt) and nothing after it for an abort,
 * nothing more told after an abort but closed_fn(ABORTED), exactly one
 * closed_fn with the right reason, and, once the peer has finished or
 * TIME-WAIT ended, every TCB and buffer back and every connection gauge at
 * zero. Under SAN=1 a freed TCB is poisoned (lib/core/pool.c), so a handle
 * used after its TCB went back to the pool fails the run. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/worker.h"
#include "tcpseg.h"
#include "usnet/tcp.h"

#define SRV 80
#define PEER 40000
#define PISS 1000u
#define MS 1000u
#define TW_MS 1000u

enum act { ACT_CLOSE, ACT_ABORT, ACT_CLOSE_ABORT, ACT_N };
enum on { ON_CONNECTED, ON_RECV, ON_SENT, ON_REMOTE_CLOSED };

struct fx {
	struct netfix nf;
	struct usn_stack_config cfg;
	struct usn_tcp_conn *c;
	uint16_t pport, sport; /* the peer's port and the stack's */
	uint32_t siss, pnxt;   /* the stack's ISS; the peer's next sequence number */
	bool peer_fin;         /* the peer has sent its FIN */
	/* what the stack sent, as the peer saw it */
	uint32_t send;         /* the end of what it sent (SYN and FIN count) */
	bool sfin, rst;
	uint32_t rst_seq;
	unsigned segs_after_rst;
	/* the handler that acts */
	enum on on;
	enum act act;
	bool acted;
	enum usn_tcp_state seen;  /* the state it saw */
	uint32_t snd_nxt_at_abort;
	int close_rc;
	/* what was told */
	char log[64];
	size_t n_log, log_at_act; /* the log's length when the handler acted */
	unsigned rx_calls;
	size_t rx_len;
	int closed;
	enum usn_tcp_close_reason why;
	bool told_after_closed, wrong_handle;
	uint32_t free_tcbs0;
};

static uint8_t payload[4096];

static void note(struct fx *x, struct usn_tcp_conn *c, char ev)
{
	if (x->closed)
		x->told_after_closed = true;
	if (x->c && c != x->c)
		x->wrong_handle = true;
	if (x->n_log + 1 < sizeof x->log)
		x->log[x->n_log++] = ev;
}

static void act(struct fx *x, struct usn_tcp_conn *c, enum on on)
{
	if (x->acted || on != x->on)
		return;
	x->acted = true;
	x->log_at_act = x->n_log;
	struct usn_tcp_info i;
	usn_tcp_info(c, &i);
	x->seen = i.state;
	if (x->act == ACT_CLOSE || x->act == ACT_CLOSE_ABORT)
		x->close_rc = usn_tcp_close(c);
	if (x->act == ACT_ABORT || x->act == ACT_CLOSE_ABORT) {
		usn_tcp_info(c, &i);
		x->snd_nxt_at_abort = i.snd_nxt;
		usn_tcp_abort(c);
		/* The handle stays good until closed_fn: asking again is allowed
		 * and changes nothing. */
		assert_int_equal(usn_tcp_close(c), -ENOTCONN);
		usn_tcp_abort(c);
	}
}

static void h_connected(struct usn_tcp_conn *c, void *user)
{
	struct fx *x = user;
	if (!x->c)
		x->c = c;
	note(x, c, 'C');
	act(x, c, ON_CONNECTED);
}
static void h_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	struct fx *x = user;
	note(x, c, 'R');
	x->rx_calls++;
	x->rx_len += usn_cursor_size(d);
	act(x, c, ON_RECV);
}
static void h_sent(struct usn_tcp_conn *c, void *user, uint32_t n)
{
	(void)n;
	struct fx *x = user;
	note(x, c, 'S');
	act(x, c, ON_SENT);
}
static void h_remote_closed(struct usn_tcp_conn *c, void *user)
{
	struct fx *x = user;
	note(x, c, 'F');
	act(x, c, ON_REMOTE_CLOSED);
}
static void h_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	struct fx *x = user;
	note(x, c, 'X');
	x->closed++;
	x->why = why;
}
static const struct usn_tcp_handlers H = {h_connected, h_recv, h_sent, h_remote_closed, h_closed};

static struct fx *fx_new(enum on on, enum act a)
{
	struct fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	usn_stack_config_init(&x->cfg, NETFIX_STACK_IP, 15);
	x->cfg.tcp_timewait_ms = TW_MS;
	netfix_setup(&x->nf, &x->cfg, NULL);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &H, x), 0);
	x->pport = PEER;
	x->sport = SRV;
	x->on = on;
	x->act = a;
	x->free_tcbs0 = usn_tcp_free_tcbs(x->nf.w);
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	return x;
}

static struct tseg seg(struct fx *x, uint8_t flags, uint32_t ack)
{
	struct tseg s;
	memset(&s, 0, sizeof s);
	s.src_port = x->pport;
	s.dst_port = x->sport;
	s.flags = flags;
	s.seq = x->pnxt;
	s.ack = ack;
	s.window = 65535;
	return s;
}

/* The peer sends: flags, n bytes of data at its next sequence number. */
static void peer(struct fx *x, uint8_t flags, uint32_t ack, uint32_t n, uint16_t window)
{
	struct tseg s = seg(x, flags, ack);
	s.window = window;
	s.payload = payload + ((x->pnxt - PISS - 1) % 2048);
	s.len = n;
	tseg_send(&x->nf, &s);
	x->pnxt += n + ((flags & TSEG_FIN) ? 1u : 0u);
	if (flags & TSEG_FIN)
		x->peer_fin = true;
}

/* Reads everything the stack sent. */
static unsigned collect(struct fx *x)
{
	struct tseg o;
	unsigned n = 0;
	while (tseg_recv(&x->nf, &o)) {
		assert_true(o.csum_ok);
		n++;
		if (x->rst)
			x->segs_after_rst++;
		if (o.flags & TSEG_RST) {
			x->rst = true;
			x->rst_seq = o.seq;
			continue;
		}
		uint32_t end = o.seq + o.len + ((o.flags & (TSEG_SYN | TSEG_FIN)) ? 1u : 0u);
		if ((int32_t)(end - x->send) > 0)
			x->send = end;
		if (o.flags & TSEG_FIN)
			x->sfin = true;
	}
	return n;
}

static void flush(struct fx *x)
{
	tseg_advance(&x->nf, 0);
	collect(x);
}

/* ---- reaching each state ---- */

static void passive_syn(struct fx *x)
{
	struct tseg s = seg(x, TSEG_SYN, 0);
	s.seq = PISS;
	s.has_mss = true;
	s.mss = 1460;
	tseg_send(&x->nf, &s);
	struct tseg o;
	assert_true(tseg_recv(&x->nf, &o));
	assert_int_equal(o.flags, TSEG_SYN | TSEG_ACK);
	x->siss = o.seq;
	x->send = o.seq + 1;
	x->pnxt = PISS + 1;
}

static void established(struct fx *x)
{
	passive_syn(x);
	peer(x, TSEG_ACK, x->siss + 1, 0, 65535);
	assert_non_null(x->c);
	collect(x);
}

/* connected_fn, passive open, by the handshake's ACK. */
static void s_connected(struct fx *x)
{
	established(x);
}
/* connected_fn by an ACK that carries data too (told after it). */
static void s_connected_data(struct fx *x)
{
	passive_syn(x);
	peer(x, TSEG_ACK | TSEG_PSH, x->siss + 1, 100, 65535);
}
/* connected_fn by an ACK that carries the peer's FIN (CLOSE-WAIT). */
static void s_connected_fin(struct fx *x)
{
	passive_syn(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->siss + 1, 0, 65535);
}
/* connected_fn, active open, by the SYN-ACK. */
static void s_connected_active(struct fx *x)
{
	x->c = usn_tcp_connect(x->nf.w, NETFIX_RAW_IP, 8080, &H, x);
	assert_non_null(x->c);
	tseg_advance(&x->nf, 0);
	struct tseg o;
	assert_true(tseg_recv(&x->nf, &o));
	assert_int_equal(o.flags, TSEG_SYN);
	x->siss = o.seq;
	x->send = o.seq + 1;
	x->pport = 8080;
	x->sport = o.src_port;
	struct tseg s = seg(x, TSEG_SYN | TSEG_ACK, x->siss + 1);
	s.seq = PISS;
	s.has_mss = true;
	s.mss = 1460;
	tseg_send(&x->nf, &s);
	x->pnxt = PISS + 1;
}

static void s_recv(struct fx *x)
{
	established(x);
	peer(x, TSEG_ACK | TSEG_PSH, x->send, 100, 65535);
}
/* Data and FIN in one segment: recv_fn runs in CLOSE-WAIT. */
static void s_recv_fin(struct fx *x)
{
	established(x);
	peer(x, TSEG_ACK | TSEG_PSH | TSEG_FIN, x->send, 100, 65535);
}
/* A segment that fills a hole: its data, then the queued data, each told
 * in a call of its own. */
static void s_recv_ooo(struct fx *x)
{
	established(x);
	uint32_t first = x->pnxt;
	x->pnxt += 100;
	peer(x, TSEG_ACK | TSEG_PSH, x->send, 100, 65535);
	flush(x); /* a duplicate ACK */
	uint32_t end = x->pnxt;
	x->pnxt = first;
	peer(x, TSEG_ACK | TSEG_PSH, x->send, 100, 65535);
	x->pnxt = end;
}
static void s_recv_fin_wait_1(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	assert_true(x->sfin);
	peer(x, TSEG_ACK | TSEG_PSH, x->siss + 1, 100, 65535); /* our FIN not acknowledged */
}
static void s_recv_fin_wait_2(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	peer(x, TSEG_ACK, x->send, 0, 65535);
	peer(x, TSEG_ACK | TSEG_PSH, x->send, 100, 65535);
}
/* Data and FIN in FIN-WAIT-2: recv_fn runs in TIME-WAIT. */
static void s_recv_time_wait(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	peer(x, TSEG_ACK, x->send, 0, 65535);
	peer(x, TSEG_ACK | TSEG_PSH | TSEG_FIN, x->send, 100, 65535);
}

/* The stack sends n bytes and the peer reads them. */
static void stack_sends(struct fx *x, uint32_t n)
{
	assert_int_equal(usn_tcp_send_ref(x->c, payload, n, NULL), 0);
	flush(x);
}
static void s_sent(struct fx *x)
{
	established(x);
	stack_sends(x, 100);
	peer(x, TSEG_ACK, x->send, 0, 65535);
}
static void s_sent_close_wait(struct fx *x)
{
	established(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->send, 0, 65535);
	flush(x);
	stack_sends(x, 100);
	peer(x, TSEG_ACK, x->send, 0, 65535);
}
/* Data then FIN sent; the peer acknowledges the data only. */
static void s_sent_fin_wait_1(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 100, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	assert_true(x->sfin);
	peer(x, TSEG_ACK, x->send - 1, 0, 65535);
}
static void s_sent_fin_wait_2(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 100, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	peer(x, TSEG_ACK, x->send, 0, 65535);
}
/* The peer's FIN acknowledges our data but not our FIN: CLOSING. */
static void s_sent_closing(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 100, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->send - 1, 0, 65535);
}
static void s_sent_time_wait(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 100, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->send, 0, 65535);
}
/* The peer's window holds 1,000 of 1,500 bytes; close waits for the rest
 * (CLOSE-PENDING) when the first 1,000 are acknowledged. */
static void close_pending(struct fx *x)
{
	established(x);
	peer(x, TSEG_ACK, x->send, 0, 1000);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 1500, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	assert_false(x->sfin);
}
static void s_sent_close_pending(struct fx *x)
{
	close_pending(x);
	peer(x, TSEG_ACK, x->send, 0, 1000);
}
static void s_sent_last_ack(struct fx *x)
{
	established(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->send, 0, 65535);
	flush(x);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 100, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	assert_true(x->sfin);
	peer(x, TSEG_ACK, x->send - 1, 0, 65535);
}
/* LAST-ACK ended by the ACK of everything: sent_fn runs on a CLOSED
 * connection, closed_fn after it. */
static void s_sent_closed(struct fx *x)
{
	established(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->send, 0, 65535);
	flush(x);
	assert_int_equal(usn_tcp_send_ref(x->c, payload, 100, NULL), 0);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	peer(x, TSEG_ACK, x->send, 0, 65535);
}

static void s_remote_closed(struct fx *x)
{
	established(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->send, 0, 65535);
}
static void s_remote_closed_closing(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->siss + 1, 0, 65535);
}
static void s_remote_closed_time_wait(struct fx *x)
{
	established(x);
	assert_int_equal(usn_tcp_close(x->c), 0);
	flush(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->send, 0, 65535);
}
static void s_remote_closed_close_pending(struct fx *x)
{
	close_pending(x);
	peer(x, TSEG_ACK | TSEG_FIN, x->siss + 1, 0, 1000);
}

/* ---- what must follow ---- */

/* The peer plays its part to the end: acknowledges what the stack sends,
 * and sends its FIN once the stack has sent one. Then TIME-WAIT ends. */
static void finish(struct fx *x)
{
	for (int round = 0; round < 20 && !x->rst; round++) {
		tseg_advance(&x->nf, 10 * MS);
		collect(x);
		if (x->rst || (x->closed && x->peer_fin))
			break; /* (an ACK now would earn an RST: no connection) */
		bool fin = x->sfin && !x->peer_fin;
		peer(x, (uint8_t)(TSEG_ACK | (fin ? TSEG_FIN : 0)), x->send, 0, 65535);
	}
	tseg_advance(&x->nf, 3 * TW_MS * MS);
	collect(x);
}

static bool closing_done(enum usn_tcp_state s)
{
	return s == USN_TCP_TIME_WAIT || s == USN_TCP_CLOSED;
}

static void check(struct fx *x, enum usn_tcp_state want)
{
	assert_true(x->acted);
	assert_int_equal(x->seen, want);
	assert_false(x->wrong_handle);
	if (x->act != ACT_ABORT) {
		/* FIN after everything queued, once: ESTABLISHED or CLOSE-WAIT. */
		int rc = want == USN_TCP_ESTABLISHED || want == USN_TCP_CLOSE_WAIT ? 0 : -ENOTCONN;
		assert_int_equal(x->close_rc, rc);
	}
	/* What was told up to now was told before the handler's own return:
	 * after an abort, only closed_fn(ABORTED), at once. */
	bool aborts = x->act != ACT_CLOSE && !closing_done(x->seen);
	if (aborts) {
		collect(x);
		assert_true(x->rst);
		assert_int_equal(x->rst_seq, x->snd_nxt_at_abort);
		assert_int_equal(x->closed, 1);
		assert_int_equal(x->why, USN_TCP_CLOSE_ABORTED);
		assert_int_equal(x->n_log, x->log_at_act + 1);
		assert_int_equal(x->log[x->log_at_act], 'X');
	}
	finish(x);
	assert_false(x->told_after_closed);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->log[x->n_log - 1], 'X');
	if (aborts) {
		assert_int_equal(x->segs_after_rst, 0);
	} else {
		assert_false(x->rst);
		assert_int_equal(x->why, USN_TCP_CLOSE_NORMAL);
	}
	/* Every TCB, buffer and gauge back. */
	assert_int_equal(usn_tcp_free_tcbs(x->nf.w), x->free_tcbs0);
	const struct usn_stats *st = usn_worker_stats(x->nf.w);
	assert_int_equal(st->conns_syn_received + st->conns_established + st->conns_close_wait +
			     st->conns_close_pending + st->conns_close_pending_rcvd_fin + st->conns_fin_wait_1 +
			     st->conns_fin_wait_2 + st->conns_closing + st->conns_last_ack + st->conns_time_wait +
			     st->conns_syn_sent,
			 0);
	struct usn_sim_port_stats ps;
	usn_sim_port_stats(x->nf.host->port, &ps);
	assert_int_equal(ps.bufs_total - ps.bufs_free - x->nf.w->cache_n, 0);
}

static const char *const act_names[ACT_N] = {"close", "abort", "close+abort"};

/* Runs scenario `reach` three times, the handler `on` closing, aborting,
 * then closing and aborting; it must see state `want`. extra checks what
 * the scenario adds (NULL: nothing). */
static void run(void (*reach)(struct fx *), enum on on, enum usn_tcp_state want,
		void (*extra)(struct fx *))
{
	for (int a = 0; a < ACT_N; a++) {
		print_message("  %s from the handler in %s\n", act_names[a], usn_tcp_state_name(want));
		struct fx *x = fx_new(on, (enum act)a);
		reach(x);
		if (extra)
			extra(x);
		check(x, want);
		netfix_teardown(&x->nf);
		free(x);
	}
}

/* Data that came with the handshake's ACK is not told after an abort in
 * connected_fn, and is after a close. */
static void extra_connected_data(struct fx *x)
{
	tseg_advance(&x->nf, 0);
	assert_int_equal(x->rx_len, x->act == ACT_CLOSE ? 100u : 0u);
}
/* The peer's FIN is not told after an abort in the handler before it. */
static void extra_fin_untold(struct fx *x)
{
	tseg_advance(&x->nf, 0);
	bool told = memchr(x->log, 'F', x->n_log) != NULL;
	assert_int_equal(told, x->act == ACT_CLOSE || closing_done(x->seen));
}
/* The queued data that a segment made contiguous is its own recv_fn call,
 * which an abort in the first cancels. */
static void extra_ooo(struct fx *x)
{
	tseg_advance(&x->nf, 0);
	assert_int_equal(x->rx_calls, x->act == ACT_CLOSE ? 2u : 1u);
	assert_int_equal(x->rx_len, x->act == ACT_CLOSE ? 200u : 100u);
}

#define T(name, reach, on, want, extra)                                                                 \
	static void name(void **state)                                                                   \
	{                                                                                                \
		(void)state;                                                                             \
		run(reach, on, want, extra);                                                             \
	}

T(test_connected_established, s_connected, ON_CONNECTED, USN_TCP_ESTABLISHED, NULL)
T(test_connected_with_data, s_connected_data, ON_CONNECTED, USN_TCP_ESTABLISHED, extra_connected_data)
T(test_connected_close_wait, s_connected_fin, ON_CONNECTED, USN_TCP_CLOSE_WAIT, extra_fin_untold)
T(test_connected_active, s_connected_active, ON_CONNECTED, USN_TCP_ESTABLISHED, NULL)
T(test_recv_established, s_recv, ON_RECV, USN_TCP_ESTABLISHED, NULL)
T(test_recv_close_wait, s_recv_fin, ON_RECV, USN_TCP_CLOSE_WAIT, extra_fin_untold)
T(test_recv_reassembled, s_recv_ooo, ON_RECV, USN_TCP_ESTABLISHED, extra_ooo)
T(test_recv_fin_wait_1, s_recv_fin_wait_1, ON_RECV, USN_TCP_FIN_WAIT_1, NULL)
T(test_recv_fin_wait_2, s_recv_fin_wait_2, ON_RECV, USN_TCP_FIN_WAIT_2, NULL)
T(test_recv_time_wait, s_recv_time_wait, ON_RECV, USN_TCP_TIME_WAIT, extra_fin_untold)
T(test_sent_established, s_sent, ON_SENT, USN_TCP_ESTABLISHED, NULL)
T(test_sent_close_wait, s_sent_close_wait, ON_SENT, USN_TCP_CLOSE_WAIT, NULL)
T(test_sent_close_pending, s_sent_close_pending, ON_SENT, USN_TCP_CLOSE_PENDING, NULL)
T(test_sent_fin_wait_1, s_sent_fin_wait_1, ON_SENT, USN_TCP_FIN_WAIT_1, NULL)
T(test_sent_fin_wait_2, s_sent_fin_wait_2, ON_SENT, USN_TCP_FIN_WAIT_2, NULL)
T(test_sent_closing, s_sent_closing, ON_SENT, USN_TCP_CLOSING, extra_fin_untold)
T(test_sent_time_wait, s_sent_time_wait, ON_SENT, USN_TCP_TIME_WAIT, extra_fin_untold)
T(test_sent_last_ack, s_sent_last_ack, ON_SENT, USN_TCP_LAST_ACK, NULL)
T(test_sent_closed, s_sent_closed, ON_SENT, USN_TCP_CLOSED, NULL)
T(test_remote_closed_close_wait, s_remote_closed, ON_REMOTE_CLOSED, USN_TCP_CLOSE_WAIT, NULL)
T(test_remote_closed_close_pending, s_remote_closed_close_pending, ON_REMOTE_CLOSED,
  USN_TCP_CLOSE_PENDING_RCVD_FIN, NULL)
T(test_remote_closed_closing, s_remote_closed_closing, ON_REMOTE_CLOSED, USN_TCP_CLOSING, NULL)
T(test_remote_closed_time_wait, s_remote_closed_time_wait, ON_REMOTE_CLOSED, USN_TCP_TIME_WAIT, NULL)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connected_established),
	    cmocka_unit_test(test_connected_with_data),
	    cmocka_unit_test(test_connected_close_wait),
	    cmocka_unit_test(test_connected_active),
	    cmocka_unit_test(test_recv_established),
	    cmocka_unit_test(test_recv_close_wait),
	    cmocka_unit_test(test_recv_reassembled),
	    cmocka_unit_test(test_recv_fin_wait_1),
	    cmocka_unit_test(test_recv_fin_wait_2),
	    cmocka_unit_test(test_recv_time_wait),
	    cmocka_unit_test(test_sent_established),
	    cmocka_unit_test(test_sent_close_wait),
	    cmocka_unit_test(test_sent_close_pending),
	    cmocka_unit_test(test_sent_fin_wait_1),
	    cmocka_unit_test(test_sent_fin_wait_2),
	    cmocka_unit_test(test_sent_closing),
	    cmocka_unit_test(test_sent_time_wait),
	    cmocka_unit_test(test_sent_last_ack),
	    cmocka_unit_test(test_sent_closed),
	    cmocka_unit_test(test_remote_closed_close_wait),
	    cmocka_unit_test(test_remote_closed_close_pending),
	    cmocka_unit_test(test_remote_closed_closing),
	    cmocka_unit_test(test_remote_closed_time_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
