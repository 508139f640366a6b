/* libusnet TCP engine internals (private to lib/tcp): the TCB, the
 * per-worker tables, sequence arithmetic and the seams between the files
 * of lib/tcp, one job each. Calls between them run one way, top to bottom
 * (tests/layout/check_layers.sh checks it):
 *   tcp_worker.c (the stack layer: set-up, the flush each round)
 *   -> tcp_api.c (application), tcp_input.c (IPv4, IPv6), tcp_icmp.c (ICMP errors),
 *      tcp_timeout.c (the wheel)
 *   -> tcp_output.c -> tcp_conn.c (lifecycle) -> tcp_event.c, tcp_timer.c
 *   -> tcp_cong.c, tcp_sendq.c, tcp_ooo.c -> tcp_cookie.c, tcp_table.c */
#ifndef USN_TCP_INT_H
#define USN_TCP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/siphash.h"
#include "core/timer.h"
#include "core/worker.h"
#include "tcp/tcp.h"
#include "usnet/tcp.h"
#include "wire/wire.h"

/* BSD tcp_seq.h: every sequence comparison goes through these. */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))
#define SEQ_MIN(a, b) (SEQ_LT(a, b) ? (a) : (b))

#define USN_TCP_NIL UINT32_MAX
#define USN_TCP_SACK_SB 4     /* scoreboard blocks kept per connection */
#define USN_TCP_MAX_WSCALE 14 /* RFC 7323 2.3 */
#define USN_TCP_EPH_LO 49152  /* IANA dynamic ports (RFC 6335) */
#define USN_TCP_EPH_HI 65535
#define USN_TCP_KEEPALIVE_PROBES 9
#define USN_TCP_PAWS_IDLE_MS (24u * 24 * 3600 * 1000) /* RFC 7323 5.5 */
#define USN_TCP_OOW_ACK_MS 500 /* per connection: one answer to bare unacceptable segments or one challenge ACK per this (Linux) */
#define USN_TCP_DUPACKS_MAX 64 /* duplicate ACKs for one coalesced segment out of order, at most */

/* A send descriptor: bytes by reference or by writer, kept until acked. */
enum { USN_SD_REF = 1, USN_SD_WRITER = 2 };
struct usn_tcp_sdesc {
	uint32_t next; /* index in the worker's descriptor pool */
	uint32_t len;
	uint8_t kind;
	uint8_t region; /* USN_SD_REF: the port's region holding it (zero-copy TX), or USN_TX_REGION_NONE */
	union {
		struct {
			const uint8_t *data;
			const struct usn_csum_table *csum;
		} ref;
		struct {
			usn_tcp_write_fn fn;
			void *arg;
		} wr;
	} u;
};

/* An out-of-order record: one contiguous range [seq, seq + len) of the
 * peer's data (and its FIN), in the connection's OOO queue sorted by seq.
 * It lives inside a frame buffer, so the queue costs nothing but buffers:
 * - a received frame kept whole (nbufs: its buffers): the record is
 *   written over the frame's Ethernet header, which nobody reads again,
 *   and the payload is `off` bytes into the frame;
 * - a pack buffer (nbufs 0): small segments copied one after another,
 *   each record followed by its bytes; the buffer's stack_u64 counts its
 *   live records, its len the bytes used, and it is freed with the last.
 * Each is 8-byte aligned. */
struct usn_tcp_ooo_rec {
	struct usn_tcp_ooo_rec *next;
	struct usn_buf *buf; /* the frame or pack buffer that holds it */
	uint32_t seq;
	uint16_t len;   /* payload bytes */
	uint16_t off;   /* kept frame: payload offset in the frame */
	uint16_t nbufs; /* kept frame: buffers in its chain; 0: pack record */
	uint16_t skip;  /* payload bytes dropped from its front (seq and len count after them) */
	bool fin;
};

/* The payload of record r. */
static inline struct usn_cursor usn_tcp_ooo_data(struct usn_tcp_ooo_rec *r)
{
	if (r->nbufs)
		return usn_cursor_take(usn_cursor_drop(usn_cursor_of_frame(r->buf), (uint32_t)r->off + r->skip), r->len);
	struct usn_cursor c = {r->buf, (uint32_t)((uint8_t *)(r + 1) - r->buf->data) + r->skip, r->len};
	return c;
}

/* TCB flags. */
enum {
	USN_TF_ACK_NOW = 1u << 0,     /* send an ACK at the next flush */
	USN_TF_PENDING = 1u << 1,     /* on the worker's pending-output list */
	/* An ICMP soft error (RFC 1122 4.2.3.9) came since data was last
	 * acknowledged: a timeout then closes with USN_TCP_CLOSE_UNREACHABLE
	 * (tcp_icmp.c). */
	USN_TF_SOFT_ERR = 1u << 2,
	USN_TF_ANNOUNCED = 1u << 3,   /* closed_fn is owed */
	USN_TF_TS = 1u << 4,          /* timestamps agreed */
	USN_TF_SACK = 1u << 5,        /* SACK-permitted agreed */
	USN_TF_WSCALE = 1u << 6,      /* window scaling agreed */
	USN_TF_PASSIVE = 1u << 7,     /* created from a listener */
	USN_TF_RECOVERY = 1u << 8,    /* in fast recovery (RFC 6582) */
	USN_TF_RTT_TIMING = 1u << 9,  /* rtt_seq is being timed (Karn) */
	USN_TF_CLOSE_REQ = 1u << 10,  /* close() before ESTABLISHED */
	USN_TF_IN_TW_LIST = 1u << 11, /* linked in the TIME-WAIT FIFO */
	/* A connection over IPv6: local_ip and remote_ip hold the keyed folds
	 * of its addresses (usn_tcp_fold6), the addresses themselves sit in
	 * the worker's side table (usn_tcp_a6). */
	USN_TF_V6 = 1u << 12,
	USN_TF_HALF_OPEN = 1u << 13,  /* counted in half_open */
	USN_TF_FIN_RCVD = 1u << 14,   /* the peer's FIN was accepted */
	USN_TF_WND_ZERO = 1u << 15,   /* the peer's window was zero */
};

/* Spurious retransmission timeouts (RFC 3522 Eifel detection with
 * timestamps, RFC 5682 F-RTO without; the response of RFC 4015). */
enum usn_tcp_undo {
	USN_UNDO_NONE = 0,
	USN_UNDO_EIFEL, /* RTO with timestamps: undo_ts is the retransmission's TSval */
	USN_UNDO_FRTO1, /* F-RTO step 2: the first ACK after the RTO retransmission */
	USN_UNDO_FRTO2, /* F-RTO step 3: two new segments out, the second ACK */
	USN_UNDO_RTT,   /* undone: the next RTT sample re-initialises the estimator */
};

/* What the main timer means when it fires. */
enum usn_tcp_tkind {
	USN_TK_NONE = 0,
	USN_TK_RTO,
	USN_TK_PERSIST,
	USN_TK_KEEPALIVE,
	USN_TK_TIMEWAIT,
	USN_TK_FINWAIT2,
};

/* The TCB: at most 512 bytes (static_assert in tcp_conn.c). */
struct usn_tcp_conn {
	uint32_t hnext; /* hash chain */
	uint32_t local_ip, remote_ip;
	uint16_t local_port, remote_port;
	uint8_t state;
	uint8_t tkind;
	uint8_t snd_wscale, rcv_wscale;
	uint16_t flags;
	uint16_t smss; /* send MSS: min(peer MSS, mtu - 40) */
	uint8_t dupacks;
	uint8_t rtx_count; /* consecutive expiries of the main timer (RTO, persist) */
	uint8_t n_sacked;
	uint8_t probes_out; /* keepalive or zero-window probes sent and not answered */
	uint16_t ooo_n;
	uint8_t undo; /* enum usn_tcp_undo */
	/* An ACK is due at this poll round's flush (usn_tcp_worker_flush):
	 * in-order data reached two full segments (process_data). Kept out of
	 * `flags`, whose 16 bits are all taken, in what was padding; cleared
	 * with USN_TF_ACK_NOW by any segment that carries the ACK. */
	bool ack_soon;
	struct usn_worker *w;
	struct usn_tcp_handlers h;
	void *user;

	/* send sequence space (RFC 9293 3.3.1) */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, max_snd_wnd;
	uint32_t snd_wl1, snd_wl2;
	uint32_t cwnd, ssthresh, recover, snd_rxt;
	/* send queue: descriptors from the worker pool */
	uint32_t sq_head, sq_tail;
	uint32_t sq_head_off; /* bytes of the head descriptor already acked */
	uint32_t sq_bytes;    /* queued bytes from snd_una's data on */
	uint32_t sq_cache_idx, sq_cache_seq; /* a descriptor and its first byte's seq */
	struct usn_tcp_sack_block sacked[USN_TCP_SACK_SB]; /* peer's SACK scoreboard */

	/* receive sequence space */
	uint32_t irs, rcv_nxt, rcv_adv, last_ack_sent;
	uint32_t ts_recent, ts_offset;
	uint64_t ts_recent_us;
	struct usn_tcp_ooo_rec *ooo; /* sorted by seq */
	struct usn_buf *ooo_pack;    /* the pack buffer small records go to next, or NULL */
	uint32_t ooo_bytes, ooo_last; /* last: seq of the latest OOO arrival */
	uint32_t rcv_held; /* delivered bytes the application still holds (usn_tcp_recv_hold) */

	/* RTT (RFC 6298), microseconds */
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint32_t rtt_seq;
	uint32_t ev_next; /* the worker's event list (in what was a hole) */
	uint64_t rtt_start_us;
	/* Undoing a spurious RTO: the TSval of the first retransmission (then
	 * of the detection), the end of the F-RTO retransmission, and RFC 4015
	 * step (0)'s pipe_prev, SRTT_prev and RTTVAR_prev. */
	uint32_t undo_ts, undo_end, undo_pipe;
	uint32_t undo_srtt_us, undo_rttvar_us;
	/* Congestion avoidance by bytes (RFC 3465 2.1): bytes acked since
	 * cwnd last grew; one SMSS more each time they reach cwnd. (Here, not
	 * beside cwnd, to fill what was padding: the TCB stays 432 bytes.) */
	uint32_t ca_acked;

	struct usn_timer timer;    /* RTO / persist / keepalive / TIME-WAIT */
	struct usn_timer delack;   /* delayed ACK */
	struct usn_timer deadline; /* the application's (usn_tcp_set_deadline) */
	uint32_t keepalive_ms;
	uint32_t idle_ms; /* usn_tcp_set_idle_timeout; 0: off */
	/* When an unacceptable segment was last answered or a challenge ACK
	 * sent (usn_tcp_oow_ack_take); 0: never. */
	uint64_t oow_ack_us;
	/* When a segment that passed every check last arrived (keepalive). */
	uint64_t last_rx_us;
	/* Progress, for the idle timeout and the FIN-WAIT-2 limit: new
	 * in-order data or FIN in, or new data (or FIN) of ours acknowledged.
	 * Duplicates, out-of-window and PAWS-failed segments never move it. */
	uint64_t last_progress_us;

	uint32_t pend_next, pend_prev; /* pending-output list */
	uint32_t tw_prev, tw_next;
	uint32_t ev_sent; /* bytes acknowledged since sent_fn last ran (tcp_event.c) */

	uint64_t bytes_sent, bytes_acked, bytes_received;
	uint32_t retransmits;
	uint16_t sd_n; /* send descriptors held (tcp_sendq_per_conn), in what was padding */
	/* Events for the application (tcp_event.c, USN_EV_*): what happened,
	 * not yet told, and why it closed; in what was padding. */
	uint8_t ev, ev_why;
	/* This timeout episode began while the estimator still waited for
	 * its first sample after an undo (USN_UNDO_RTT): it is known short,
	 * and undoing this one keeps the back-off (usn_tcp_undo_rto). */
	bool undo_est_short;
	/* This TCB's index in the worker's pool (usn_tcp_idx), set when it
	 * is taken: every list of TCBs links by index, and computing it
	 * divides by the TCB's size, on every list operation. */
	uint32_t idx;
};

/* The two IPv6 addresses of a connection, outside the TCB: the worker
 * keeps one pair per TCB, indexed by the TCB's pool index (usn_tcp_a6), so
 * the IPv4 TCB and its fast path stay as they were. */
struct usn_tcp_addr6 {
	uint8_t local[16], remote[16]; /* network order */
};

/* A segment's or connection's two ends: IPv4's addresses, or for IPv6
 * their 32-bit keyed folds (what the table hashes and compares first) and
 * the full pair. */
struct usn_tcp_ends {
	uint32_t lip, rip;		/* IPv4: host order; IPv6: usn_tcp_fold6 */
	const struct usn_tcp_addr6 *v6; /* IPv6: the addresses; NULL for IPv4 */
};

struct usn_tcp_listener {
	uint16_t port;
	struct usn_tcp_handlers h;
	void *user;
};

struct usn_tcp_shared {
	uint32_t n, cap;
	struct usn_tcp_listener l[];
};

struct usn_tcp_worker {
	struct usn_worker *w;
	const struct usn_stack_config *cfg;
	struct usn_pool tcbs;
	void *tcb_mem;
	size_t tcb_mem_size;
	uint32_t *bucket;
	uint32_t bucket_mask;
	struct usn_pool sds;
	void *sd_mem;
	size_t sd_mem_size;

	/* Send descriptors: each connection is sure of sd_share, and holds more
	 * (up to sd_conn_max) only while the shared surplus lasts. */
	uint32_t sd_share, sd_surplus, sd_surplus_used, sd_conn_max;
	/* Buffers every OOO queue of this worker holds, and the budget. */
	uint32_t ooo_bufs, ooo_max_bufs;

	uint32_t half_open;
	/* The gauge of connections in each state (usnet/stats.h), or
	 * gauge_none for the states that are no connection: the two counts
	 * a state change moves, without a branch (usn_tcp_set_state). */
	uint64_t *gauge[USN_TCP_N_STATES];
	uint64_t gauge_none;
	uint32_t tw_n, tw_head, tw_tail; /* FIFO, oldest at head */
	uint32_t pend_head, pend_tail;
	/* Connections with events to tell the application, or closed and to
	 * be freed once told (tcp_event.c), and whether they are being told
	 * now (handlers never nest: an entry from a handler leaves its events
	 * to the dispatch already running). */
	uint32_t ev_head, ev_tail;
	bool dispatching;
	/* The data the segment being processed brought in order: one
	 * connection's, delivered by recv_fn once the segment is done, then
	 * released. The segment's own payload (in its frame, which TCP input
	 * frees after), then the out-of-order records it made contiguous. */
	struct usn_tcp_conn *rx_conn;
	struct usn_cursor rx_data;
	struct usn_tcp_ooo_rec *rx_recs, **rx_last;
	/* The connection whose segment must be answered at once (an ACK now:
	 * duplicate, out of order, FIN), after its events, and how many
	 * duplicate ACKs a coalesced segment owes (tcp_input.c). */
	uint32_t ack_conn;
	uint16_t ack_dups;
	uint16_t port_cursor;
	/* By family, [0] IPv4 and [1] IPv6 (usn_tcp_fam): our MSS, mtu - 40
	 * and mtu - 60 (IPv6's header is 40 bytes); the largest send MSS,
	 * mss_local, or one buffer's worth where the port takes no chains. */
	uint16_t mss_local[2];
	uint16_t smss_max[2];
	/* IPv6 connections' addresses, one pair per TCB (by its index); NULL
	 * when the stack has no IPv6 address. */
	struct usn_tcp_addr6 *a6;
	size_t a6_mem_size;
	uint32_t *bucket6; /* their connection table (bucket_mask as bucket's) */
	uint32_t tso_max;   /* largest IPv4 packet the port cuts for us (TSO); 0: no TSO */
	uint16_t tso_max_segs; /* most pieces it cuts one into; 0: no limit */

	/* Challenge ACKs (usn_tcp_challenge_ack): what is left of the budget
	 * of second chal_sec - 1 (0: none drawn yet). */
	uint64_t chal_sec;
	uint32_t chal_left;
	uint64_t cookie_last_us; /* when a SYN cookie was last sent */
	uint64_t key_cookie[2], key_isn[2];
	/* What a TCB's timers call when they fire (tcp_timeout.c), wired by
	 * tcp_worker.c so the lifecycle below need not name them. */
	usn_timer_fn on_timer, on_delack, on_deadline;
};

static inline struct usn_tcp_worker *usn_tcp_tw(struct usn_worker *w)
{
	return w->tcp;
}
/* A TCB's index in the worker's pool and back, as usn_pool_index and
 * usn_pool_at, inline: the pool's stride is the TCB's size (a multiple of
 * a pointer's). Every list of TCBs is linked by index; the index is kept
 * in the TCB (usn_tcp_conn_alloc), so only the way back multiplies. */
_Static_assert(sizeof(struct usn_tcp_conn) % sizeof(void *) == 0, "the TCB pool's stride is sizeof(struct usn_tcp_conn)");
static inline uint32_t usn_tcp_idx(struct usn_tcp_worker *t, const struct usn_tcp_conn *c)
{
	(void)t;
	return c->idx;
}
static inline struct usn_tcp_conn *usn_tcp_at(struct usn_tcp_worker *t, uint32_t i)
{
	return i < t->tcbs.cap ? (struct usn_tcp_conn *)(t->tcbs.base + (size_t)i * sizeof(struct usn_tcp_conn)) : NULL;
}
/* The IPv6 address pair of connection c (USN_TF_V6). */
static inline struct usn_tcp_addr6 *usn_tcp_a6(struct usn_tcp_worker *t, const struct usn_tcp_conn *c)
{
	return &t->a6[c->idx];
}
/* A connection's family as an index (0: IPv4, 1: IPv6), for the tables
 * kept by family (mss_local, smss_max): no branch on the IPv4 path. */
static inline unsigned usn_tcp_fam(const struct usn_tcp_conn *c)
{
	return (c->flags / USN_TF_V6) & 1u;
}
/* Our timestamp clock (RFC 7323): milliseconds plus the connection's offset. */
static inline uint32_t usn_tcp_ts_now(const struct usn_tcp_conn *c)
{
	return (uint32_t)(c->w->now_us / 1000u) + c->ts_offset;
}
/* Bytes of payload in a full-size segment with our usual options. */
static inline uint32_t usn_tcp_maxseg(const struct usn_tcp_conn *c)
{
	uint32_t m = c->smss;
	if (c->flags & USN_TF_TS)
		m -= 12; /* RFC 6691: the MSS excludes options we always send */
	return m;
}
static inline uint32_t usn_tcp_flight(const struct usn_tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}
/* The send sequence number of the first byte after all queued data. */
static inline uint32_t usn_tcp_data_end(const struct usn_tcp_conn *c)
{
	uint32_t base = c->snd_una;
	if (c->state == USN_TCP_SYN_SENT || c->state == USN_TCP_SYN_RECEIVED)
		base = c->iss + 1;
	return base + c->sq_bytes;
}
static inline bool usn_tcp_fin_wanted(const struct usn_tcp_conn *c)
{
	switch ((enum usn_tcp_state)c->state) {
	case USN_TCP_CLOSE_PENDING:
	case USN_TCP_CLOSE_PENDING_RCVD_FIN:
	case USN_TCP_FIN_WAIT_1:
	case USN_TCP_CLOSING:
	case USN_TCP_LAST_ACK:
		return true;
	case USN_TCP_CLOSED:
	case USN_TCP_LISTEN:
	case USN_TCP_SYN_SENT:
	case USN_TCP_SYN_RECEIVED:
	case USN_TCP_ESTABLISHED:
	case USN_TCP_CLOSE_WAIT:
	case USN_TCP_FIN_WAIT_2:
	case USN_TCP_TIME_WAIT:
	case USN_TCP_N_STATES:
		break;
	}
	return false;
}

/* ---- tcp_timeout.c: what each timer does when it fires ---- */
void usn_tcp_timer_fn(struct usn_timer *tm, void *ctx);
void usn_tcp_delack_fn(struct usn_timer *tm, void *ctx);
void usn_tcp_deadline_fn(struct usn_timer *tm, void *ctx);

/* ---- tcp_output.c ---- */
/* Sends what the windows allow and any owed ACK. */
void usn_tcp_output(struct usn_tcp_conn *c);
/* What one segment carried: its payload bytes, and whether the FIN went
 * with them (a segment may come out shorter than asked, SACK blocks or
 * one buffer's room cutting it, and the FIN then waits for the last). */
struct usn_tcp_sent {
	uint32_t len;
	bool fin;
};
/* One segment from the connection: seq, up to len bytes of queued data,
 * flags. 0, with what went out in *sent (if not NULL); or -ENOBUFS (no
 * buffer), -EHOSTUNREACH (no route: the connection cannot send). */
int usn_tcp_send_seg(struct usn_tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags, struct usn_tcp_sent *sent);
/* A pure ACK now (challenge ACK, duplicate), at SND.MAX. */
void usn_tcp_send_ack(struct usn_tcp_conn *c);
/* A segment without a TCB (RST for a closed port, cookie SYN-ACK). */
int usn_tcp_send_raw(struct usn_worker *w, const struct usn_tcp_ends *e, const struct usn_tcp_repr *r);
/* RST answering segment r that arrived between ends e (RFC 9293 3.10.7.1). */
void usn_tcp_send_rst_for(struct usn_worker *w, const struct usn_tcp_ends *e, const struct usn_tcp_repr *r,
			  uint32_t seg_len);
/* A challenge ACK (RFC 5961), rate-limited per connection, then by a
 * per-worker budget drawn at random each second. */
void usn_tcp_challenge_ack(struct usn_tcp_conn *c);
/* The per-connection limit on answers to unacceptable segments and on
 * challenge ACKs (one per USN_TCP_OOW_ACK_MS): true, and the clock taken,
 * if one may go now. */
bool usn_tcp_oow_ack_take(struct usn_tcp_conn *c);
/* The window to advertise now, bytes (never shrinking the right edge). */
uint32_t usn_tcp_rcv_window(struct usn_tcp_conn *c);
/* Loss recovery's retransmission (tcp_cong.c says from where): the first
 * hole at or after `from` below SND.MAX; snd_rxt moves past what went. */
void usn_tcp_rexmit(struct usn_tcp_conn *c, uint32_t from);
/* As usn_tcp_abort (RST in the synchronized states), with reason `why`:
 * the stack's own aborts (idle timeout, probes exhausted, deadline). */
void usn_tcp_reset_close(struct usn_tcp_conn *c, enum usn_tcp_close_reason why);

/* ---- tcp_conn.c: the connection lifecycle ---- */
/* The largest send MSS towards the peer: smss_max, lowered by the path
 * MTU cache (lib/net, RFC 1191) while it holds a smaller MTU for it. */
uint16_t usn_tcp_path_mss(struct usn_tcp_conn *c);
/* Every state change goes through here (traced with USN_TCP_TRACE). */
void usn_tcp_set_state(struct usn_tcp_conn *c, enum usn_tcp_state s);
/* Fills the worker's table of state gauges (at its start). */
void usn_tcp_gauges_init(struct usn_tcp_worker *t);
struct usn_tcp_conn *usn_tcp_conn_alloc(struct usn_worker *w);
/* Initialises a fresh TCB's addresses (an IPv6 pair copied into the side
 * table), sequence state and options defaults. */
void usn_tcp_conn_init(struct usn_tcp_conn *c, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport);
/* Ends the connection: cancels timers, drops queues, leaves the table and
 * the lists, state CLOSED; closed_fn(why) is owed if it was announced. The
 * TCB stays readable until the events are told (usn_tcp_events_run), then
 * returns to the pool. Nothing for a connection already CLOSED. */
void usn_tcp_conn_close(struct usn_tcp_conn *c, enum usn_tcp_close_reason why);
/* Moves to TIME-WAIT: closed_fn(NORMAL) is owed, then the TCB stays,
 * anonymous, until 2MSL. */
void usn_tcp_enter_timewait(struct usn_tcp_conn *c);
/* The application's close as a state change (FIN after the queued data);
 * 0 or -ENOTCONN. */
int usn_tcp_conn_shutdown(struct usn_tcp_conn *c);
/* Queue for output at the next flush (once: the check is inline, as most
 * calls find the connection queued already). */
void usn_tcp_pending_add(struct usn_tcp_conn *c);
static inline void usn_tcp_pending(struct usn_tcp_conn *c)
{
	if (!(c->flags & USN_TF_PENDING))
		usn_tcp_pending_add(c);
}
/* The first connection of the pending list, taken off it; NULL if none. */
struct usn_tcp_conn *usn_tcp_pending_pop(struct usn_tcp_worker *t);

/* ---- tcp_event.c: what the application is told, after the engine's work ---- */
enum {
	USN_EV_CONNECTED = 1u << 0,     /* connected_fn */
	USN_EV_SENT = 1u << 1,          /* sent_fn(ev_sent) */
	USN_EV_RECV = 1u << 2,          /* recv_fn, the worker's rx data */
	USN_EV_REMOTE_CLOSED = 1u << 3, /* remote_closed_fn */
	USN_EV_CLOSED = 1u << 4,        /* closed_fn(ev_why) */
	USN_EV_CANCELLED = 1u << 6,     /* the application ended it: closed_fn alone is left */
	USN_EV_LISTED = 1u << 7,        /* on the worker's event list */
};
/* Records an event (USN_EV_CONNECTED, USN_EV_REMOTE_CLOSED). Events are
 * told in the order of the bits above, whatever order they came in:
 * within a segment, the handshake, then the ACK, the data, the FIN. */
void usn_tcp_ev_post(struct usn_tcp_conn *c, uint8_t ev);
/* `bytes` more of our data acknowledged (0: the peer's window opened). */
void usn_tcp_ev_sent(struct usn_tcp_conn *c, uint32_t bytes);
/* In-order data: the segment's own payload (a cursor into its frame). */
void usn_tcp_ev_recv(struct usn_tcp_conn *c, struct usn_cursor data);
/* In-order data: an out-of-order record the segment made contiguous, taken
 * off the queue; released once told. */
void usn_tcp_ev_recv_rec(struct usn_tcp_conn *c, struct usn_tcp_ooo_rec *r);
void usn_tcp_ev_closed(struct usn_tcp_conn *c, enum usn_tcp_close_reason why);
/* A closed connection that owes no closed_fn: freed with the events. */
void usn_tcp_ev_release(struct usn_tcp_conn *c);
/* The application ended the connection: of its events, only closed_fn is
 * told. */
void usn_tcp_ev_cancel(struct usn_tcp_conn *c);
/* Tells the application what happened, connection by connection, and
 * returns closed TCBs to the pool. Every entry into lib/tcp ends with it;
 * inside a handler it returns at once (the dispatch running tells). The
 * check for nothing to tell is inline: most calls find nothing. */
void usn_tcp_events_dispatch(struct usn_tcp_worker *t);
static inline void usn_tcp_events_run(struct usn_tcp_worker *t)
{
	if (t->ev_head != USN_TCP_NIL && !t->dispatching)
		usn_tcp_events_dispatch(t);
}

/* ---- tcp_timer.c: which timer runs when ---- */
/* Re-arms (or cancels) the main timer for what the connection needs now. */
void usn_tcp_timer_update(struct usn_tcp_conn *c, bool restart_rto);
void usn_tcp_timer_arm(struct usn_tcp_conn *c, enum usn_tcp_tkind k, uint32_t ms);
void usn_tcp_timer_stop(struct usn_tcp_conn *c);
/* FIN-WAIT-2 idle limit: max(tcp_timewait_ms, 2 * tcp_rto_max_ms). */
uint32_t usn_tcp_finwait2_ms(const struct usn_tcp_conn *c);
/* base << rtx_count, within [tcp_rto_min_ms, tcp_rto_max_ms]. */
uint32_t usn_tcp_backoff_ms(const struct usn_tcp_conn *c, uint32_t base);
/* When the idle timeout ends the connection; UINT64_MAX: it does not apply. */
uint64_t usn_tcp_idle_deadline(const struct usn_tcp_conn *c);
/* Arms the keepalive slot at `at` or at the idle deadline, the earlier. */
void usn_tcp_keepalive_arm(struct usn_tcp_conn *c, uint64_t at);

/* ---- tcp_cong.c (RFC 5681, 6582, 6928, 6298) ---- */
void usn_tcp_cong_init(struct usn_tcp_conn *c);
/* New data acked (outside or at the end of recovery). */
void usn_tcp_cong_ack(struct usn_tcp_conn *c, uint32_t acked);
/* A duplicate ACK arrived. true: fast retransmit or recovery wants the
 * next hole sent from *rexmit_from (usn_tcp_rexmit). */
bool usn_tcp_cong_dupack(struct usn_tcp_conn *c, uint32_t *rexmit_from);
/* An ACK advanced snd_una while in recovery: partial or full (RFC 6582).
 * true: a partial ACK, whose hole from *rexmit_from goes again. */
bool usn_tcp_cong_recovery_ack(struct usn_tcp_conn *c, uint32_t acked, uint32_t *rexmit_from);
void usn_tcp_cong_timeout(struct usn_tcp_conn *c);
/* RFC 4015 step (0) at the first timeout of an episode, before
 * usn_tcp_cong_timeout: what a spurious timeout's response restores. */
void usn_tcp_undo_save(struct usn_tcp_conn *c);
/* RFC 4015 response to a spurious timeout, after snd_una advanced by
 * `acked`: cwnd = FlightSize + min(acked, IW), ssthresh = pipe_prev,
 * SND.NXT = SND.MAX; the next RTT sample re-initialises the estimator. */
void usn_tcp_undo_rto(struct usn_tcp_conn *c, uint32_t acked);
/* New data acknowledged after timeouts: the RTO back to at most twice the
 * estimator's (unless the estimator is known short). */
void usn_tcp_rto_collapse(struct usn_tcp_conn *c);
void usn_tcp_rtt_sample(struct usn_tcp_conn *c, uint32_t rtt_us);
/* RFC 4015 (RTO re-initialisation): SRTT = max(SRTT_prev, r), RTTVAR =
 * max(RTTVAR_prev, r / 2), for the first sample after an undo. */
void usn_tcp_rtt_reinit(struct usn_tcp_conn *c, uint32_t rtt_us);
/* The first byte >= from not covered by the scoreboard (a hole). */
uint32_t usn_tcp_sack_next_hole(const struct usn_tcp_conn *c, uint32_t from, uint32_t *hole_end);
/* Going back after an RTO: seq moved past any SACKed block it falls in,
 * and the SACKed bytes below the result (not in flight). */
uint32_t usn_tcp_sack_skip(const struct usn_tcp_conn *c, uint32_t seq, uint32_t *sacked_below);
/* Adds r's SACK blocks to the scoreboard; true if they SACK new bytes. */
bool usn_tcp_sack_update(struct usn_tcp_conn *c, const struct usn_tcp_repr *r);
void usn_tcp_sack_prune(struct usn_tcp_conn *c);

/* ---- tcp_sendq.c ---- */
/* Appends a descriptor (tmpl, len bytes) to the send queue: 0, -EAGAIN
 * (the connection holds tcp_sendq_per_conn) or -ENOBUFS. */
int usn_tcp_sq_push(struct usn_tcp_conn *c, uint32_t len, const struct usn_tcp_sdesc *tmpl);
/* How many more descriptors the connection may take now. */
uint32_t usn_tcp_sq_room(const struct usn_tcp_conn *c);
/* Releases `bytes` acked bytes from the head of the send queue. */
void usn_tcp_sq_release(struct usn_tcp_conn *c, uint32_t bytes);
void usn_tcp_sq_free_all(struct usn_tcp_conn *c);

/* ---- tcp_ooo.c ---- */
/* Queues [seq, seq + len) of the peer's data (and its FIN) out of order;
 * the segment's frame may be kept (then *frame becomes NULL). */
void usn_tcp_ooo_insert(struct usn_tcp_conn *c, struct usn_buf **frame, uint32_t seq, uint32_t len, bool fin,
			struct usn_cursor data);
/* Gives back what an unlinked record holds (its frame, or its share of a
 * pack buffer). */
void usn_tcp_ooo_release(struct usn_tcp_conn *c, struct usn_tcp_ooo_rec *r);
void usn_tcp_ooo_free(struct usn_tcp_conn *c);

/* ---- tcp_table.c ---- */
uint32_t usn_tcp_table_hash(const struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
/* The IPv4 connection of a 4-tuple. */
struct usn_tcp_conn *usn_tcp_table_lookup(struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
/* The IPv6 connection of a 4-tuple (e->v6 set): IPv6 connections hash
 * into buckets of their own (bucket6), so IPv4 lookups never meet one. */
struct usn_tcp_conn *usn_tcp_table_lookup6(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport,
					   uint16_t rport);
/* The connection of ends e, either family. */
static inline struct usn_tcp_conn *usn_tcp_table_find(struct usn_tcp_worker *t, const struct usn_tcp_ends *e,
						      uint16_t lport, uint16_t rport)
{
	return e->v6 ? usn_tcp_table_lookup6(t, e, lport, rport) : usn_tcp_table_lookup(t, e->lip, lport, e->rip, rport);
}
void usn_tcp_table_insert(struct usn_tcp_worker *t, struct usn_tcp_conn *c);
void usn_tcp_table_remove(struct usn_tcp_worker *t, struct usn_tcp_conn *c);
const struct usn_tcp_listener *usn_tcp_listener_find(const struct usn_stack *s, uint16_t port);

/* ---- tcp_cookie.c ---- */
/* RFC 6528 ISN (a keyed hash of the 4-tuple plus a 4 us clock) and, from the
 * same hash, the RFC 7323 7.1 style per-4-tuple timestamp offset in
 * *ts_offset: one SipHash per connection. Every hash here covers the full
 * addresses: an IPv6 pair whole, not its folds. */
uint32_t usn_tcp_isn_ts(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport,
			uint32_t *ts_offset);
/* The timestamp offset alone (monotonic across reuse), equal to the one
 * usn_tcp_isn_ts gives; for SYN cookies, which keep no connection. */
uint32_t usn_tcp_ts_offset(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport);
/* SYN cookie (RFC 4987). opt_bits: wscale (0..14, 15: none) | sack << 4,
 * carried in the TSval low bits when the peer sent timestamps. The MSS
 * encoded is at most our own for the family. */
uint32_t usn_tcp_cookie_make(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport,
			     uint32_t peer_isn, uint16_t peer_mss, uint16_t *mss_out);
/* Checks a cookie; true and the MSS it encoded. */
bool usn_tcp_cookie_check(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport,
			  uint32_t peer_isn, uint32_t cookie, uint16_t *mss_out);
/* The 32-bit keyed fold of an IPv6 address a connection keeps in
 * local_ip / remote_ip: keyed, so remote hosts cannot aim many addresses
 * at one hash chain. */
uint32_t usn_tcp_fold6(const struct usn_tcp_worker *t, const uint8_t a[16]);
/* The TSval a cookie SYN-ACK carries, and the options read back from TSecr. */
uint32_t usn_tcp_cookie_ts(uint32_t ts_now, uint8_t wscale, bool sack);
void usn_tcp_cookie_ts_opts(uint32_t tsecr, uint8_t *wscale, bool *has_ws, bool *sack);

#endif
