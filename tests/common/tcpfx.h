/* Test helper (tests/common): the TCP engine's segment-level fixture, in the
 * spirit of smoltcp's send!/recv!. One stack on the simulated link listens
 * on SRV; the raw port plays the peer (tests/common/tcpseg.h). A test builds
 * the peer's segments from a template (SEG: the peer's port, the window
 * 65535, and its timestamp option when x->ts) with fields overridden, sends
 * them (SEND...), and expects the stack's replies field by field
 * (EXPECT...), with timers checked exactly on the virtual clock.
 *
 * The SEND/EXPECT/RECV macros report a failed check at the test's own line
 * (__FILE__/__LINE__ are passed down), as cmocka's assert_* do. Include
 * <cmocka.h> (and what it needs) before this header. */
#ifndef TCPFX_H
#define TCPFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpseg.h"
#include "usnet/tcp.h"

#define SRV 80       /* the stack's listening port */
#define PEER 40000   /* the peer's port */
#define PISS 1000u   /* the peer's initial sequence number */
#define MS 1000u     /* one millisecond of virtual time, in microseconds */

struct fx {
	struct netfix nf;
	struct usn_stack_config cfg;
	struct usn_tcp_conn *c;
	int connected, closed, remote_closed, sent_calls;
	enum usn_tcp_close_reason why;
	uint8_t rx[65536];
	size_t rx_len;
	uint64_t sent;
	uint32_t siss;  /* the stack's ISS */
	uint32_t pnxt;  /* the peer's next sequence number */
	uint16_t pport; /* the peer's port */
	bool ts, sack, ws;
	uint32_t tsval, stack_ts;
	bool close_in_recv, abort_in_recv;
	/* The peer talks IPv6 (netfix6_raw_ip to netfix6_stack_ip): every
	 * template, expectation and active open below follows it. */
	bool v6;
};

/* The handlers every fixture connection gets (user: the struct fx): they
 * count the events, keep what arrives in x->rx, and close or abort from
 * recv_fn when x->close_in_recv / x->abort_in_recv. */
extern const struct usn_tcp_handlers fx_handlers;
/* The bytes every test sends: fx_payload[i] = i * 31 + (i >> 8). */
extern uint8_t fx_payload[65536];

/* A stack listening on SRV (tcp_timewait_ms 1000), the raw port's MAC
 * known to it; tweak (may be NULL) adjusts the configuration first. */
struct fx *fx_new(void (*tweak)(struct usn_stack_config *));
/* fx_new with IPv6 on too (netfix6_stack_ip/64, no DAD), the raw port's
 * neighbour entry seeded, and the peer talking IPv6. */
struct fx *fx_new6(void (*tweak)(struct usn_stack_config *));
/* fx_new or fx_new6, by v6: for tests run over both families. */
struct fx *fx_new_fam(bool v6, void (*tweak)(struct usn_stack_config *));
/* The same on a simulated port configured by pc. */
struct fx *fx_new_port(const struct usn_sim_port_config *pc);
/* fx_new6 on a simulated port configured by pc. */
struct fx *fx_new6_port(const struct usn_sim_port_config *pc);
void fx_free(struct fx *x);

static inline const struct usn_stats *st(struct fx *x)
{
	return usn_worker_stats(x->nf.w);
}

static inline enum usn_tcp_state state_of(struct fx *x)
{
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	return i.state;
}

static inline uint32_t cwnd_of(struct fx *x)
{
	struct usn_tcp_info i;
	usn_tcp_info(x->c, &i);
	return i.cwnd;
}

/* ---- segments from the peer ---- */

/* The template: a segment from x->pport to SRV with the peer's usual
 * options (its timestamp, TSval counting up, echoing the stack's last). */
struct tseg fx_seg(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack);
#define SEG(x, flags, seq, ack) fx_seg((x), (flags), (seq), (ack))
/* Sends a (possibly overridden) template; the stack processes it. */
#define SEND_SEG(x, s) tseg_send(&(x)->nf, (s))
/* The template as it is. */
#define SEND(x, flags, seq, ack) fx_send((x), (flags), (seq), (ack), 0, 0, -1)
/* With len bytes of payload from fx_payload + off. */
#define SEND_DATA(x, flags, seq, ack, off, len) fx_send((x), (flags), (seq), (ack), (off), (len), -1)
/* With the window win. */
#define SEND_WIN(x, flags, seq, ack, win) fx_send((x), (flags), (seq), (ack), 0, 0, (int32_t)(win))
/* A SYN at seq with the MSS option mss. */
#define SEND_SYN(x, seq, mss) fx_send_syn((x), (seq), (mss))
void fx_send(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t off, uint32_t len, int32_t win);
void fx_send_syn(struct fx *x, uint32_t seq, uint16_t mss);

/* The peer sends n bytes at its next sequence number (x->pnxt), with ACK,
 * PSH and extra (TSEG_FIN: x->pnxt counts it). */
#define PEER_DATA(x, n, extra) fx_peer_data((x), (n), (extra))
void fx_peer_data(struct fx *x, uint32_t n, uint8_t extra);
/* Queues the peer's next n bytes without letting the stack run (one RX
 * burst at the next tseg_advance). */
#define PEER_DATA_QUEUE(x, n) fx_peer_data_queue((x), (n))
void fx_peer_data_queue(struct fx *x, uint32_t n);

/* ---- segments from the stack ---- */

/* The next segment the stack sent, checksums and addresses checked; its
 * TSval becomes what the peer echoes. Static: valid until the next call. */
#define RECV(x) fx_recv_at((x), __FILE__, __LINE__)
/* The next segment, with these flags, sequence number and (when the ACK
 * flag is set) acknowledgment number. */
#define EXPECT(x, flags, seq, ack) fx_expect_at((x), (flags), (seq), (ack), -1, 0, false, __FILE__, __LINE__)
/* ...and len bytes of payload. */
#define EXPECT_LEN(x, flags, seq, ack, len) \
	fx_expect_at((x), (flags), (seq), (ack), (int64_t)(len), 0, false, __FILE__, __LINE__)
/* ...and len bytes of payload equal to fx_payload + off. */
#define EXPECT_DATA(x, flags, seq, ack, off, len) \
	fx_expect_at((x), (flags), (seq), (ack), (int64_t)(len), (off), true, __FILE__, __LINE__)
/* Nothing more from the stack. */
#define EXPECT_NONE(x) fx_expect_none_at((x), __FILE__, __LINE__)
/* Segment o carries exactly n SACK blocks, these [left, right) pairs in
 * this order. */
#define EXPECT_SACK(o, n, ...) fx_expect_sack_at((o), (n), (const uint32_t[]){__VA_ARGS__}, __FILE__, __LINE__)
struct tseg *fx_recv_at(struct fx *x, const char *file, int line);
struct tseg *fx_expect_at(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack, int64_t len, uint32_t off,
			  bool data, const char *file, int line);
void fx_expect_none_at(struct fx *x, const char *file, int line);
void fx_expect_sack_at(const struct tseg *o, unsigned n, const uint32_t *blocks, const char *file, int line);

/* ---- connections into a state ---- */

/* The peer's SYN (MSS 1460, SACK-permitted when x->sack, window scale 2
 * when x->ws); the SYN,ACK checked; x->siss and x->pnxt set. */
void fx_syn_received(struct fx *x);
/* fx_syn_received, then the peer's ACK: ESTABLISHED, connected_fn once,
 * nothing sent. */
void fx_established(struct fx *x);
/* usn_tcp_connect (x->v6: usn_tcp_connect_addr to netfix6_raw_ip) to the raw port's 8080; the SYN checked (MSS 1460,
 * window scale 3, SACK-permitted, timestamps); x->siss set, x->pport 8080.
 * *syn: the SYN (RECV's storage). */
struct usn_tcp_conn *fx_connect(struct fx *x, struct tseg **syn);
/* The template from port 8080 to the port the stack's SYN came from. */
struct tseg fx_seg_to(struct fx *x, const struct tseg *syn, uint8_t flags, uint32_t seq, uint32_t ack);
/* Sends n full segments (1460) from the stack and checks them (sequence
 * numbers from x->siss + 1) and that nothing else went out. */
void fx_send_segments(struct fx *x, int n);

#endif
