/* libusnet TCP API. Handlers run on the worker that owns the connection,
 * to completion, once the stack has finished its work on the segment or
 * timer that caused them: one at a time (never nested), and for each
 * connection in the order connected, sent, recv, remote_closed, closed.
 * They may call any function below on that worker's connections (close or
 * abort their own included); what such a call causes is told after the
 * handler returns. Nothing here blocks or allocates. Data is sent without
 * a copy into a socket buffer: by reference, or by a writer. */
#ifndef USNET_TCP_H
#define USNET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usnet/addr.h"
#include "usnet/csum.h"
#include "usnet/cursor.h"
#include "usnet/stack.h"

struct usn_tcp_conn;

/* RFC 9293 states, ordered as BSD's tcp_fsm.h so that "has received a SYN"
 * is state >= USN_TCP_SYN_RECEIVED and "synchronized" is >= ESTABLISHED.
 * CLOSE_PENDING: the application asked to close while data is still queued
 * (the FIN goes after it); CLOSE_PENDING_RCVD_FIN: the same, and the peer's
 * FIN has arrived. Both are explicit here because Rusty lost connections in
 * exactly these in-between states. */
enum usn_tcp_state {
	USN_TCP_CLOSED = 0,
	USN_TCP_LISTEN,
	USN_TCP_SYN_SENT,
	USN_TCP_SYN_RECEIVED,
	USN_TCP_ESTABLISHED,
	USN_TCP_CLOSE_WAIT,
	USN_TCP_CLOSE_PENDING,          /* ESTABLISHED + close(), data queued */
	USN_TCP_CLOSE_PENDING_RCVD_FIN, /* CLOSE_WAIT + close(), data queued */
	USN_TCP_FIN_WAIT_1,
	USN_TCP_CLOSING,
	USN_TCP_LAST_ACK,
	USN_TCP_FIN_WAIT_2,
	USN_TCP_TIME_WAIT,
	USN_TCP_N_STATES
};

const char *usn_tcp_state_name(enum usn_tcp_state s);

/* Why a connection ended (the closed_fn handler's argument). */
enum usn_tcp_close_reason {
	USN_TCP_CLOSE_NORMAL = 0, /* both FINs exchanged and acknowledged */
	USN_TCP_CLOSE_RESET,      /* the peer sent an acceptable RST */
	USN_TCP_CLOSE_ABORTED,    /* the application called usn_tcp_abort */
	USN_TCP_CLOSE_TIMEOUT,    /* retransmissions, keepalives or zero-window probes exhausted,
				     idle timeout or deadline */
	USN_TCP_CLOSE_REFUSED,    /* active open answered by RST, or by ICMP port or protocol unreachable */
	USN_TCP_CLOSE_UNREACHABLE,/* ARP could not resolve the next hop; an active open answered by
				     ICMP destination unreachable (net, host, ...); or a timeout after
				     ICMP errors (destination unreachable, time exceeded) said why */
};

/* Event handlers. Any may be NULL. `user` is the connection's user pointer
 * (initially the one given to listen/connect). After closed_fn returns, the
 * connection handle is invalid. */
struct usn_tcp_handlers {
	/* The handshake completed (passive or active open). */
	void (*connected_fn)(struct usn_tcp_conn *c, void *user);
	/* In-order data arrived: a segment's, then, each in a call of its own,
	 * out-of-order data it made contiguous. The cursor is valid only during
	 * the call: the data is consumed and its frame may be freed when the
	 * handler returns (copy what must be kept, or usn_tcp_recv_hold). */
	void (*recv_fn)(struct usn_tcp_conn *c, void *user, struct usn_cursor data);
	/* The peer acknowledged `bytes` more bytes of sent data (send_ref
	 * memory up to there may be reused), or its window opened. */
	void (*sent_fn)(struct usn_tcp_conn *c, void *user, uint32_t bytes);
	/* The peer sent FIN: no more data will arrive. */
	void (*remote_closed_fn)(struct usn_tcp_conn *c, void *user);
	/* The connection is gone (reason above). Called exactly once for every
	 * connection that connected_fn announced or usn_tcp_connect returned. */
	void (*closed_fn)(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why);
};

/* A writer (Rusty's): write bytes [off, off + len) of the message into dst.
 * Called when a segment is built, and again for a retransmission, so it
 * must produce the same bytes each time. */
typedef void (*usn_tcp_write_fn)(void *arg, uint32_t off, uint32_t len, struct usn_cursor dst);

/* Listen on `port` on every worker of the stack, over IPv4 and, when the
 * stack has IPv6 addresses, over IPv6 too (usn_tcp_info tells a
 * connection's family). Returns 0, -EADDRINUSE,
 * -ENOSPC (tcp_max_listen reached) or -EINVAL. Call before the workers run. */
int usn_tcp_listen(struct usn_stack *s, uint16_t port, const struct usn_tcp_handlers *h, void *user);

/* Active open from worker w; the source port is chosen so the flow's RSS
 * hash lands on w. NULL if no TCB or port is free. The handle is valid until
 * closed_fn. */
struct usn_tcp_conn *usn_tcp_connect(struct usn_worker *w, uint32_t dst_ip, uint16_t dst_port,
				     const struct usn_tcp_handlers *h, void *user);
/* Active open to an address of either family (usn_tcp_connect is this with
 * an IPv4 one). For IPv6 the source is our address for dst (the link-local
 * one for a link-local dst, else a global one, on dst's prefix first) and
 * the source port is chosen so the flow's hash (usn_stack_flow_worker6)
 * lands on w. NULL if no TCB or port is free, dst is not a unicast
 * address, or the stack has no usable IPv6 source for it (none configured,
 * or duplicate address detection still running). */
struct usn_tcp_conn *usn_tcp_connect_addr(struct usn_worker *w, const struct usn_addr *dst, uint16_t dst_port,
					  const struct usn_tcp_handlers *h, void *user);

/* Queue `len` bytes at `data` by reference: the stack keeps the pointer
 * until the bytes are acknowledged, and copies ranges straight into frames.
 * `csum`, if not NULL, is a prefix-sum table over exactly these bytes, so no
 * segment's payload is summed again. Each call takes one send descriptor
 * until its bytes are acknowledged. Returns 0, -ENOTCONN, -EPIPE (closed
 * for sending), -EAGAIN (this connection already holds tcp_sendq_per_conn
 * descriptors: wait for sent_fn, as for a full socket buffer) or -ENOBUFS
 * (no descriptor for it now: beyond its share, the worker's shared ones
 * are taken; sent_fn of this or another connection frees some). A refusal
 * queues nothing. */
int usn_tcp_send_ref(struct usn_tcp_conn *c, const void *data, uint32_t len, const struct usn_csum_table *csum);
/* Queue `len` bytes produced on demand by fn(arg, ...). Same returns. */
int usn_tcp_send_writer(struct usn_tcp_conn *c, uint32_t len, usn_tcp_write_fn fn, void *arg);
/* How many more send_ref / send_writer calls would succeed now (0 when the
 * connection cannot send): an application that answers with several
 * pieces checks it first rather than queue half an answer. */
uint32_t usn_tcp_send_room(const struct usn_tcp_conn *c);

/* Graceful close: FIN after everything queued. 0 or -ENOTCONN. Before
 * the handshake completes (usn_tcp_connect's SYN-SENT) the connection is
 * deleted instead, closed_fn(ABORTED) told as for usn_tcp_abort. */
int usn_tcp_close(struct usn_tcp_conn *c);
/* Abortive close: RST now (in the synchronized states), and closed_fn
 * (ABORTED) before returning; called from a handler, right after that
 * handler returns, with nothing else told about the connection before it.
 * Nothing in TIME-WAIT (closed_fn(NORMAL) is then already owed). */
void usn_tcp_abort(struct usn_tcp_conn *c);

void usn_tcp_set_user(struct usn_tcp_conn *c, void *user);
void *usn_tcp_user(const struct usn_tcp_conn *c);
struct usn_worker *usn_tcp_worker(const struct usn_tcp_conn *c);
/* Receive flow control. By default the application consumes what recv_fn
 * gives it and the advertised window stays the configured one. An
 * application that keeps delivered bytes (an echo or a proxy waiting to
 * forward them) says so with usn_tcp_recv_hold: the window shrinks by that
 * much, so a peer can never send more than the window beyond what the
 * application has released; usn_tcp_recv_done returns bytes, and the
 * reopened window is announced once it has grown by min(half the window,
 * one MSS) (RFC 9293 3.8.6.2.2, receiver SWS avoidance). */
void usn_tcp_recv_hold(struct usn_tcp_conn *c, uint32_t bytes);
void usn_tcp_recv_done(struct usn_tcp_conn *c, uint32_t bytes);
/* Keepalive probes after idle_ms without an acceptable segment from the
 * peer (0: off, the default); segments outside the window do not count. */
void usn_tcp_set_keepalive(struct usn_tcp_conn *c, uint32_t idle_ms);
/* Idle timeout, the slowloris defence (0: off, the default). If for `ms`
 * no new data or FIN arrives in order, and the peer acknowledges no new
 * data of ours, while the connection is ESTABLISHED or CLOSE_WAIT (not
 * closing from our side), the stack aborts it (RST) and calls closed_fn
 * with USN_TCP_CLOSE_TIMEOUT. Repeated bytes, bytes outside the window or
 * failing PAWS, and out-of-order bytes until the gap is filled are not
 * progress. The clock starts at the call. While data of ours is
 * unacknowledged the retransmission limits govern instead. */
void usn_tcp_set_idle_timeout(struct usn_tcp_conn *c, uint32_t ms);
/* The application's deadline (0: none, the default): `ms` from the call,
 * unless set again (which re-arms it from that call) or cleared with 0,
 * the stack aborts the connection (RST, as usn_tcp_abort) and calls
 * closed_fn with USN_TCP_CLOSE_TIMEOUT. It runs on a timer of its own, in
 * every state until closed_fn (and not in TIME-WAIT, which closed_fn
 * announced), and nothing the peer sends moves it: for limits such as "the
 * request must be complete within N ms", which a peer must not be able to
 * stretch by sending bytes that never reach recv_fn. */
void usn_tcp_set_deadline(struct usn_tcp_conn *c, uint32_t ms);

/* A connection's state and counters. */
struct usn_tcp_info {
	enum usn_tcp_state state;
	uint32_t local_ip, remote_ip; /* host order */
	uint16_t local_port, remote_port;
	uint32_t snd_una, snd_nxt, snd_wnd, rcv_nxt, rcv_wnd;
	uint32_t cwnd, ssthresh, mss;
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint32_t bytes_queued; /* sent or not, not yet acknowledged */
	uint64_t bytes_sent, bytes_acked, bytes_received;
	uint32_t retransmits;
	bool ts_ok, sack_ok;
	uint8_t snd_wscale, rcv_wscale;
	/* The addresses, either family: for IPv4 the same as local_ip and
	 * remote_ip, which stay 0 for an IPv6 connection. */
	struct usn_addr local, remote;
};
void usn_tcp_info(const struct usn_tcp_conn *c, struct usn_tcp_info *out);

/* Bytes one TCB takes (the goal is at most 512). */
size_t usn_tcp_tcb_size(void);
/* Free TCBs on a worker (the pool returns to full when all have closed). */
uint32_t usn_tcp_free_tcbs(const struct usn_worker *w);

#endif
