/* libusnet fuzz fixture (tests/fuzz): one stack on a simulated port, a TCP
 * listener with a tiny handler, a raw peer port that drives handshakes by
 * hand so the stack holds connections in (nearly) every RFC 9293 state, and
 * a tracker that follows what the stack sends so fuzz inputs can aim
 * segments at those connections. Deterministic: same options, same state. */
#ifndef USN_FUZZ_FIXTURE_H
#define USN_FUZZ_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usn_sim.h"
#include "usnet/stack.h"
#include "usnet/tcp.h"
#include "usnet/udp.h"

#define FZ_STACK_IP ((198u << 24) | (18u << 16) | 1u) /* 198.18.0.1 */
#define FZ_PEER_IP ((198u << 24) | (18u << 16) | 2u)  /* 198.18.0.2 */
#define FZ_HTTP_PORT 80
#define FZ_UDP_PORT 7 /* UDP echo; every other port answers port unreachable */
#define FZ_MAX_FLOWS 64
#define FZ_FRAME_MAX 1600
#define FZ_MAX_SENT 512

extern const uint8_t fz_stack_mac[6];
/* IPv6: the stack's global address 2001:2::1/64 (its link-local one from
 * its MAC, fe80::c6:12ff:fe12:1) and the peer's 2001:2::2. */
extern const uint8_t fz_stack_ip6[16];
extern const uint8_t fz_peer_ip6[16];
extern const uint8_t fz_peer_mac[6];

/* What the application does on a connection (chosen by the peer's port). */
enum fz_mode {
	FZ_REPLY_CLOSE = 0, /* on data: reply, close; on FIN: close (the default) */
	FZ_HOLD,            /* nothing, ever */
	FZ_ECHO,            /* on data: a 4000-byte reply by writer, stay open */
	FZ_CLOSE_ON_FIN,    /* on FIN: reply, close */
};

/* One connection as the peer sees it. Sequence numbers follow the stack's
 * output: peer_nxt is the stack's last ACK (its RCV.NXT), stack_nxt the end
 * of what it sent (its SND.MAX). */
struct fz;
struct fz_flow {
	struct fz *f;
	uint16_t peer_port, stack_port; /* stack_port 0: active open not seen yet */
	enum fz_mode mode;
	uint32_t peer_iss, stack_iss;
	uint32_t peer_nxt, stack_nxt, stack_wnd;
	uint32_t peer_ack; /* the last ACK the peer sent (the stack's SND.UNA, as far as we know) */
	uint32_t stack_tsval; /* the stack's latest TSval (our TSecr) */
	bool syn_seen, rst_seen, fin_seen;
	bool ts_ok; /* the stack's SYN carried timestamps: every segment must */
	struct usn_tcp_conn *conn; /* between connected_fn/connect and closed_fn */
	unsigned closed;           /* closed_fn calls */
	enum usn_tcp_state want;   /* the state the fixture meant to leave it in */
};

/* Variants of the stack (a fuzz input's first byte picks one). */
struct fz_options {
	uint16_t buf_size;  /* port buffer size: 128 makes every frame a chain */
	bool rx_csum;       /* the port verifies checksums (offload path) */
	bool two_workers;   /* two queues, RSS: flows split over two workers */
	bool bare_tcp;      /* the stack offers no timestamps, SACK or window scale */
};
void fz_options_from_byte(struct fz_options *o, uint8_t b);

struct fz {
	struct usn_sim_link *link;
	struct usn_sim_port *peer, *port;
	struct usn_stack *stack;
	struct fz_options opt;
	struct fz_flow flow[FZ_MAX_FLOWS];
	struct fz_flow anon; /* the listener's user: connections of no known flow */
	unsigned n_flows;
	unsigned n_fixture_flows; /* those set up before fuzzing */
	uint32_t peer_ts;         /* the peer's TSval clock */
	uint32_t frames_out;      /* frames the stack sent (checked, parsed) */
	uint32_t udp_in, udp_out; /* datagrams to the UDP echo port; echoes sent */
	/* Connections the application owns: passive connected_fn calls plus
	 * usn_tcp_connect successes, and closed_fn calls. */
	uint32_t opened, closed;
	/* Sequence ranges the peer has sent, per remote address and ports: the
	 * stack may only acknowledge a number inside one of them. */
	struct fz_sent {
		uint32_t ip;
		uint16_t peer_port, stack_port;
		uint32_t lo, hi;
	} sent[FZ_MAX_SENT];
	unsigned n_sent;
	bool sent_overflow;
	uint16_t mtu;
	uint8_t buf[FZ_FRAME_MAX];
	uint8_t cap[FZ_FRAME_MAX + 64];
};

/* Builds the stack and every fixture connection. Aborts (a finding) if the
 * stack cannot be built; a connection that misses its state is left as is. */
void fz_setup(struct fz *f, const struct fz_options *o);
/* Lets every timer run out (bounded), destroys the stack and checks that
 * every buffer went back to the port's pool. */
void fz_teardown(struct fz *f);

/* Polls the stack and answers ARP until nothing moves at this instant;
 * every frame the stack sends is checked (well-formed, sums right) and
 * tracked. */
void fz_settle(struct fz *f);
/* Moves the virtual clock forward by us, stepping through timer deadlines
 * so each fires at its time, settling after each step. */
void fz_advance(struct fz *f, uint64_t us);
/* us of virtual time for a fuzz byte: 0, 100 us steps, 50 ms steps, 10 s steps. */
uint64_t fz_time_of_byte(uint8_t b);

/* Sends raw bytes from the peer port (dropped if the link refuses the
 * size), then settles. */
void fz_send_raw(struct fz *f, const uint8_t *frame, size_t len);

/* A TCP segment from the peer: Ethernet + IPv4 (20 bytes) + TCP header with
 * `opts` (olen bytes, padded with EOL to a multiple of 4 unless doff forces a
 * data offset: doff 0 means the honest one) + payload. bad_csum breaks the
 * TCP checksum. Returns the frame length written to out. */
struct fz_seg {
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window, urgent;
	const uint8_t *opts;
	uint8_t olen;
	uint8_t doff; /* 0: honest; else the 4-bit field as sent */
	const uint8_t *payload;
	uint16_t plen;
	bool bad_csum;
};
size_t fz_build_tcp(uint8_t *out, size_t cap, const struct fz_seg *s);
/* The flow's addresses and ports filled into s. */
void fz_seg_for_flow(const struct fz *f, const struct fz_flow *fl, struct fz_seg *s);
/* A new flow from the peer to the listener, port peer_port (no packet sent);
 * NULL when the table is full. */
struct fz_flow *fz_flow_new(struct fz *f, uint16_t peer_port, enum fz_mode mode);
/* The peer's SYN options for a flow (MSS, SACK-permitted, TS, WS as
 * `variant` selects); writes at most 20 bytes and returns the length. */
enum {
	FZ_OPT_MSS = 1,
	FZ_OPT_SACK = 2,
	FZ_OPT_TS = 4,
	FZ_OPT_WS = 8,
	FZ_OPT_ALL = 15,
	FZ_OPT_SMALL_MSS = 16, /* MSS 64 instead of 1460 */
};
uint8_t fz_syn_options(struct fz *f, const struct fz_flow *fl, uint8_t variant, uint8_t *o);
/* NOP NOP TS (12 bytes) when the flow agreed timestamps, else nothing. */
uint8_t fz_ts_option(struct fz *f, const struct fz_flow *fl, uint8_t *o);
/* Sends a segment (fl may be NULL) and settles; a segment at fl's peer_nxt
 * moves it past what the segment occupies. */
void fz_send_seg(struct fz *f, struct fz_flow *fl, const struct fz_seg *s);
/* A fixture flow's state through usn_tcp_info, -1 once closed_fn ran. */
int fz_state_of(const struct fz *f, unsigned i);

/* Recomputes the IPv4 header and TCP/ICMP checksums of a frame in place
 * where the headers are there to recompute (a fuzz helper: without it most
 * mutations die at the checksum). */
void fz_fix_checksums(uint8_t *frame, size_t len);

#endif
