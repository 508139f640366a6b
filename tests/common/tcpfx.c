/* Test helper: the TCP engine's segment-level fixture (tcpfx.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netfix6.h"
#include "tcpfx.h"

uint8_t fx_payload[65536];

static void h_connected(struct usn_tcp_conn *c, void *user)
{
	struct fx *x = user;
	x->c = c;
	x->connected++;
}

static void h_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor d)
{
	struct fx *x = user;
	x->rx_len += usn_cursor_read(d, x->rx + x->rx_len, sizeof x->rx - x->rx_len);
	if (x->abort_in_recv)
		usn_tcp_abort(c);
	else if (x->close_in_recv)
		usn_tcp_close(c);
}

static void h_sent(struct usn_tcp_conn *c, void *user, uint32_t n)
{
	(void)c;
	struct fx *x = user;
	x->sent += n;
	x->sent_calls++;
}

static void h_remote_closed(struct usn_tcp_conn *c, void *user)
{
	(void)c;
	struct fx *x = user;
	x->remote_closed++;
}

static void h_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	(void)c;
	struct fx *x = user;
	x->closed++;
	x->why = why;
}

const struct usn_tcp_handlers fx_handlers = {h_connected, h_recv, h_sent, h_remote_closed, h_closed};

static struct fx *fx_setup(void (*tweak)(struct usn_stack_config *), const struct usn_sim_port_config *pc, bool v6)
{
	struct fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	usn_stack_config_init(&x->cfg, NETFIX_STACK_IP, 15);
	x->cfg.tcp_timewait_ms = 1000;
	if (v6) {
		x->cfg.ipv6 = true;
		x->cfg.ipv6_no_dad = true;
		x->cfg.n_ip6 = 1;
		memcpy(x->cfg.ip6[0].addr, netfix6_stack_ip, 16);
		x->cfg.ip6[0].prefix_len = 64;
	}
	x->v6 = v6;
	if (tweak)
		tweak(&x->cfg);
	netfix_setup(&x->nf, &x->cfg, pc);
	netfix_drain(&x->nf);
	tseg_seed_arp(&x->nf);
	if (v6)
		tseg_seed_nd(&x->nf);
	assert_int_equal(usn_tcp_listen(x->nf.host->stack, SRV, &fx_handlers, x), 0);
	x->pport = PEER;
	for (size_t i = 0; i < sizeof fx_payload; i++)
		fx_payload[i] = (uint8_t)(i * 31 + (i >> 8));
	return x;
}

struct fx *fx_new(void (*tweak)(struct usn_stack_config *))
{
	return fx_setup(tweak, NULL, false);
}

struct fx *fx_new6(void (*tweak)(struct usn_stack_config *))
{
	return fx_setup(tweak, NULL, true);
}

struct fx *fx_new_fam(bool v6, void (*tweak)(struct usn_stack_config *))
{
	return fx_setup(tweak, NULL, v6);
}

struct fx *fx_new_port(const struct usn_sim_port_config *pc)
{
	return fx_setup(NULL, pc, false);
}

struct fx *fx_new6_port(const struct usn_sim_port_config *pc)
{
	return fx_setup(NULL, pc, true);
}

void fx_free(struct fx *x)
{
	netfix_teardown(&x->nf);
	free(x);
}

struct tseg fx_seg(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tseg s;
	memset(&s, 0, sizeof s);
	s.src_port = x->pport;
	s.dst_port = SRV;
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.window = 65535;
	s.v6 = x->v6;
	if (x->ts) {
		s.has_ts = true;
		s.tsval = ++x->tsval;
		s.tsecr = x->stack_ts;
	}
	return s;
}

void fx_send(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t off, uint32_t len, int32_t win)
{
	struct tseg s = fx_seg(x, flags, seq, ack);
	if (len) {
		s.payload = fx_payload + off;
		s.len = len;
	}
	if (win >= 0)
		s.window = (uint16_t)win;
	tseg_send(&x->nf, &s);
}

void fx_send_syn(struct fx *x, uint32_t seq, uint16_t mss)
{
	struct tseg s = fx_seg(x, TSEG_SYN, seq, 0);
	s.has_mss = true;
	s.mss = mss;
	tseg_send(&x->nf, &s);
}

void fx_peer_data(struct fx *x, uint32_t n, uint8_t extra)
{
	struct tseg s = fx_seg(x, TSEG_ACK | TSEG_PSH | extra, x->pnxt, x->siss + 1);
	s.payload = fx_payload + (x->pnxt - PISS - 1);
	s.len = n;
	tseg_send(&x->nf, &s);
	x->pnxt += n + ((extra & TSEG_FIN) ? 1 : 0);
}

void fx_peer_data_queue(struct fx *x, uint32_t n)
{
	struct tseg s = fx_seg(x, TSEG_ACK, x->pnxt, x->siss + 1);
	s.payload = fx_payload + (x->pnxt - PISS - 1);
	s.len = n;
	tseg_queue(&x->nf, &s);
	x->pnxt += n;
}

struct tseg *fx_recv_at(struct fx *x, const char *file, int line)
{
	static struct tseg o;
	_assert_true(tseg_recv(&x->nf, &o), "a segment from the stack", file, line);
	_assert_true(o.csum_ok, "o.csum_ok", file, line);
	_assert_int_equal(o.v6, x->v6, file, line);
	if (x->v6) {
		_assert_memory_equal(o.src_ip6, netfix6_stack_ip, 16, file, line);
		_assert_memory_equal(o.dst_ip6, netfix6_raw_ip, 16, file, line);
	} else {
		_assert_int_equal(o.src_ip, NETFIX_STACK_IP, file, line);
		_assert_int_equal(o.dst_ip, NETFIX_RAW_IP, file, line);
	}
	if (o.has_ts)
		x->stack_ts = o.tsval;
	return &o;
}

struct tseg *fx_expect_at(struct fx *x, uint8_t flags, uint32_t seq, uint32_t ack, int64_t len, uint32_t off,
			  bool data, const char *file, int line)
{
	struct tseg *o = fx_recv_at(x, file, line);
	_assert_int_equal(o->flags, flags, file, line);
	_assert_int_equal(o->seq, seq, file, line);
	if (flags & TSEG_ACK)
		_assert_int_equal(o->ack, ack, file, line);
	if (len >= 0)
		_assert_int_equal(o->len, (uint64_t)len, file, line);
	if (data)
		_assert_memory_equal(o->data, fx_payload + off, (size_t)len, file, line);
	return o;
}

void fx_expect_none_at(struct fx *x, const char *file, int line)
{
	struct tseg o;
	_assert_true(!tseg_recv(&x->nf, &o), "no segment from the stack", file, line);
}

void fx_expect_sack_at(const struct tseg *o, unsigned n, const uint32_t *blocks, const char *file, int line)
{
	_assert_int_equal(o->n_sack, n, file, line);
	for (unsigned k = 0; k < n; k++) {
		_assert_int_equal(o->sack[k][0], blocks[2 * k], file, line);
		_assert_int_equal(o->sack[k][1], blocks[2 * k + 1], file, line);
	}
}

void fx_syn_received(struct fx *x)
{
	struct tseg s = fx_seg(x, TSEG_SYN, PISS, 0);
	s.has_mss = true;
	s.mss = 1460;
	s.sack_perm = x->sack;
	s.has_ws = x->ws;
	s.ws = 2;
	tseg_send(&x->nf, &s);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN | TSEG_ACK);
	assert_int_equal(o->ack, PISS + 1);
	assert_true(o->has_mss);
	assert_int_equal(o->mss, x->v6 ? 1440 : 1460); /* MTU 1500 - 60 over IPv6 */
	assert_int_equal(o->window, 65535);
	assert_int_equal(o->sack_perm, x->sack);
	assert_int_equal(o->has_ws, x->ws);
	assert_int_equal(o->has_ts, x->ts);
	x->siss = o->seq;
	x->pnxt = PISS + 1;
}

void fx_established(struct fx *x)
{
	fx_syn_received(x);
	SEND(x, TSEG_ACK, x->pnxt, x->siss + 1);
	assert_int_equal(x->connected, 1);
	assert_non_null(x->c);
	assert_int_equal(state_of(x), USN_TCP_ESTABLISHED);
	EXPECT_NONE(x);
}

struct usn_tcp_conn *fx_connect(struct fx *x, struct tseg **syn)
{
	struct usn_addr dst = usn_addr_ipv4(NETFIX_RAW_IP);
	if (x->v6) {
		dst.family = USN_AF_INET6;
		memcpy(dst.u.v6, netfix6_raw_ip, 16);
	}
	struct usn_tcp_conn *c = usn_tcp_connect_addr(x->nf.w, &dst, 8080, &fx_handlers, x);
	assert_non_null(c);
	x->c = c;
	tseg_advance(&x->nf, 0);
	struct tseg *o = RECV(x);
	assert_int_equal(o->flags, TSEG_SYN);
	assert_int_equal(o->dst_port, 8080);
	assert_true(o->has_mss && o->has_ws && o->sack_perm && o->has_ts);
	assert_int_equal(o->mss, x->v6 ? 1440 : 1460);
	assert_int_equal(o->ws, 3);
	assert_int_equal(state_of(x), USN_TCP_SYN_SENT);
	x->siss = o->seq;
	x->pport = 8080;
	*syn = o;
	return c;
}

struct tseg fx_seg_to(struct fx *x, const struct tseg *syn, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tseg s = fx_seg(x, flags, seq, ack);
	s.src_port = 8080;
	s.dst_port = syn->src_port;
	return s;
}

void fx_send_segments(struct fx *x, int n)
{
	assert_int_equal(usn_tcp_send_ref(x->c, fx_payload, (uint32_t)n * 1460, NULL), 0);
	tseg_advance(&x->nf, 0);
	for (int k = 0; k < n; k++) {
		struct tseg *o = RECV(x);
		assert_int_equal(o->seq, x->siss + 1 + (uint32_t)k * 1460);
		assert_int_equal(o->len, 1460);
	}
	EXPECT_NONE(x);
}
