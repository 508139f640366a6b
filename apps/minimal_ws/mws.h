/* minimal_ws server logic as a small library: libusnet TCP handlers that feed
 * the shared HTTP parser and answer with send-by-reference from the page
 * store. main.c runs it on a hardware backend; tests/sim runs it in-process. */
#ifndef MWS_H
#define MWS_H

#include <stdbool.h>
#include <stdint.h>

#include "../http/page_store.h"
#include "usnet/stack.h"

struct mws;

struct mws_opts {
	uint16_t port;	/* [80] when 0 */
	bool keepalive; /* off: one request per connection, Connection: close */
	/* Abort (RST) a connection that sends nothing for this long while we
	 * wait for its request (usn_tcp_set_idle_timeout); 0: never. */
	uint32_t idle_timeout_ms;
	/* Abort (RST) a connection whose request is not complete this long
	 * after the connection opened (or, with keepalive, after the previous
	 * answer was acknowledged): the idle timeout restarts with every new
	 * byte, so a client trickling one byte at a time would otherwise hold
	 * its TCB forever. A deadline on the stack's timer
	 * (usn_tcp_set_deadline): it fires whatever the client sends. 0: never. */
	uint32_t header_timeout_ms;
};

/* Per-worker counters (read them after the worker stopped, or accept a
 * torn value: they are plain counters owned by the worker). */
struct mws_worker_stats {
	uint64_t requests;
	uint64_t st200, st404, st_other;
	uint64_t conns;	      /* connections announced by connected_fn */
	uint64_t closed_ok;   /* closed normally */
	uint64_t closed_bad;  /* reset, timed out, aborted */
	uint64_t timed_out;   /* of closed_bad: idle timeout, retransmissions or probes exhausted */
	uint64_t header_timeouts; /* of closed_bad: request incomplete at header_timeout_ms */
	uint64_t no_state;    /* refused: no per-connection state free */
	uint64_t send_full;   /* a reply found no room in the connection's send queue (pipelined
			       * faster than read): the queued answers go out, then FIN */
	uint64_t send_failed; /* send_ref refused after all: aborted */
};

/* Allocates every worker's connection state (tcp_max_conns each; the
 * handlers never allocate), sets each worker's user pointer and listens on
 * the port. Call after usn_stack_create, before the workers run. NULL on
 * error (-errno in *err if err is not NULL). The store must outlive it. */
struct mws *mws_init(struct usn_stack *s, const struct http_store *store, const struct mws_opts *o, int *err);
/* Frees the state; the workers must have stopped. */
void mws_destroy(struct mws *m);
void mws_worker_stats(const struct mws *m, uint16_t worker, struct mws_worker_stats *out);
/* Requests answered so far, all workers: any thread, while they run (each
 * worker keeps its count readable, a relaxed atomic store per request). */
uint64_t mws_requests(const struct mws *m);
/* Whether the pages leave without a copy: 0 when mws_init declared the
 * store's arena to the stack (usn_stack_tx_region), else its refusal
 * (-EOPNOTSUPP: the port copies). */
int mws_zero_copy(const struct mws *m);

#endif
