/* libusnet fuzz fixture (tests/fuzz): the stack, its listener and handlers,
 * the raw peer that drives connections into their states, and the checker
 * and tracker of every frame the stack sends (see fuzz_fixture.h). Test
 * code: allocates freely; all state lives in struct fz. */
#include "fuzz_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_targets.h"
#include "simnet.h"
#include "wire/wire.h"

const uint8_t fz_stack_mac[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x01};
const uint8_t fz_peer_mac[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x02};
const uint8_t fz_stack_ip6[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x01};
const uint8_t fz_peer_ip6[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x02};
static const uint8_t fz_stack_ll6[16] = {0xfe, 0x80, [10] = 0xc6, 0xff, 0xfe, 0x12, 0x00, 0x01};

#define FZ_SETTLE_ROUNDS 2000 /* polls without quiet at one instant: a livelock */
#define FZ_ADVANCE_STEPS 2000
#define FZ_ECHO_LEN 4000

#define FZ_SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)

static const char fz_reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/* ---- small byte helpers, independent of lib/wire's emitters ---- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold_not(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint32_t s = sum16(ip + 12, 8, 0);
	return s + proto + (uint32_t)l4_len;
}

/* The ICMPv6 or UDP sum of an IPv6 packet whose upper layer follows the
 * fixed header directly (RFC 8200 8.1's pseudo-header; UDP's over its
 * length field's bytes, when they are there, and never 0). */
static void fz_fix_icmp6(uint8_t *ip, size_t avail)
{
	size_t plen = usn_load_be16(ip + 4);
	uint8_t *m = ip + USN_IPV6_HDR_LEN;
	if (USN_IPV6_HDR_LEN + plen > avail)
		return;
	if (ip[6] == USN_IPPROTO_UDP && plen >= USN_UDP_HDR_LEN) {
		size_t ulen = usn_load_be16(m + 4);
		if (ulen < USN_UDP_HDR_LEN || ulen > plen)
			return;
		usn_store_be16(m + 6, 0);
		uint32_t ph = sum16(ip + 8, 32, 0) + (uint32_t)ulen + USN_IPPROTO_UDP;
		uint16_t c = fold_not(sum16(m, ulen, ph));
		usn_store_be16(m + 6, c ? c : 0xffff);
		return;
	}
	if (ip[6] != USN_IPPROTO_ICMPV6 || plen < 4)
		return;
	usn_store_be16(m + 2, 0);
	uint32_t ph = sum16(ip + 8, 32, 0) + (uint32_t)plen + USN_IPPROTO_ICMPV6;
	usn_store_be16(m + 2, fold_not(sum16(m, plen, ph)));
}

void fz_fix_checksums(uint8_t *p, size_t len)
{
	if (len >= USN_ETH_HDR_LEN + USN_IPV6_HDR_LEN && usn_load_be16(p + 12) == USN_ETHERTYPE_IPV6) {
		fz_fix_icmp6(p + USN_ETH_HDR_LEN, len - USN_ETH_HDR_LEN);
		return;
	}
	if (len < USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN)
		return;
	size_t l2 = USN_ETH_HDR_LEN;
	uint16_t type = usn_load_be16(p + 12);
	if (type == USN_ETHERTYPE_VLAN) {
		l2 += 4;
		type = usn_load_be16(p + 16);
	}
	if (type != USN_ETHERTYPE_IPV4 || len < l2 + USN_IPV4_HDR_LEN)
		return;
	uint8_t *ip = p + l2;
	size_t ihl = (size_t)(ip[0] & 15) * 4;
	if (ihl < USN_IPV4_HDR_LEN || l2 + ihl > len)
		return;
	usn_store_be16(ip + 10, 0);
	usn_store_be16(ip + 10, fold_not(sum16(ip, ihl, 0)));
	size_t total = usn_load_be16(ip + 2);
	if (total > len - l2)
		total = len - l2;
	if (total < ihl || (usn_load_be16(ip + 6) & USN_IPV4_OFFMASK))
		return;
	uint8_t *l4 = ip + ihl;
	size_t l4_len = total - ihl;
	if (ip[9] == USN_IPPROTO_TCP && l4_len >= USN_TCP_HDR_LEN) {
		usn_store_be16(l4 + 16, 0);
		usn_store_be16(l4 + 16, fold_not(sum16(l4, l4_len, pseudo_sum(ip, USN_IPPROTO_TCP, l4_len))));
	} else if (ip[9] == USN_IPPROTO_UDP && l4_len >= USN_UDP_HDR_LEN) {
		size_t ulen = usn_load_be16(l4 + 4);
		if (ulen < USN_UDP_HDR_LEN || ulen > l4_len)
			ulen = l4_len;
		usn_store_be16(l4 + 6, 0);
		uint16_t c = fold_not(sum16(l4, ulen, pseudo_sum(ip, USN_IPPROTO_UDP, ulen)));
		usn_store_be16(l4 + 6, c ? c : 0xffff);
	} else if (ip[9] == USN_IPPROTO_ICMP && l4_len >= 4) {
		usn_store_be16(l4 + 2, 0);
		usn_store_be16(l4 + 2, fold_not(sum16(l4, l4_len, 0)));
	}
}

size_t fz_build_tcp(uint8_t *out, size_t cap, const struct fz_seg *s)
{
	uint8_t olen = s->olen > 40 ? 40 : s->olen;
	size_t hdr = USN_TCP_HDR_LEN + ((olen + 3u) & ~3u);
	size_t plen = s->plen;
	size_t fixed = USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN + hdr;
	if (fixed > cap)
		return 0;
	if (plen > cap - fixed)
		plen = cap - fixed;
	uint8_t *p = out;
	memcpy(p, fz_stack_mac, 6);
	memcpy(p + 6, fz_peer_mac, 6);
	usn_store_be16(p + 12, USN_ETHERTYPE_IPV4);
	uint8_t *ip = p + USN_ETH_HDR_LEN;
	size_t l4_len = hdr + plen;
	ip[0] = 0x45;
	ip[1] = 0;
	usn_store_be16(ip + 2, (uint16_t)(USN_IPV4_HDR_LEN + l4_len));
	usn_store_be16(ip + 4, 0);
	usn_store_be16(ip + 6, USN_IPV4_DF);
	ip[8] = 64;
	ip[9] = USN_IPPROTO_TCP;
	usn_store_be16(ip + 10, 0);
	usn_store_be32(ip + 12, s->src_ip);
	usn_store_be32(ip + 16, s->dst_ip);
	usn_store_be16(ip + 10, fold_not(sum16(ip, USN_IPV4_HDR_LEN, 0)));
	uint8_t *t = ip + USN_IPV4_HDR_LEN;
	usn_store_be16(t, s->src_port);
	usn_store_be16(t + 2, s->dst_port);
	usn_store_be32(t + 4, s->seq);
	usn_store_be32(t + 8, s->ack);
	t[12] = (uint8_t)((s->doff ? (s->doff & 15) : hdr / 4) << 4);
	t[13] = s->flags;
	usn_store_be16(t + 14, s->window);
	usn_store_be16(t + 16, 0);
	usn_store_be16(t + 18, s->urgent);
	memset(t + USN_TCP_HDR_LEN, 0, hdr - USN_TCP_HDR_LEN);
	if (olen)
		memcpy(t + USN_TCP_HDR_LEN, s->opts, olen);
	for (size_t i = 0; i < plen; i++)
		t[hdr + i] = s->payload ? s->payload[i] : (uint8_t)('a' + i % 26);
	uint16_t sum = fold_not(sum16(t, l4_len, pseudo_sum(ip, USN_IPPROTO_TCP, l4_len)));
	usn_store_be16(t + 16, s->bad_csum ? (uint16_t)(sum ^ 0x0101) : sum);
	return USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN + l4_len;
}

/* ---- flows ---- */

static struct fz_flow *fz_flow_find(struct fz *f, uint16_t stack_port, uint16_t peer_port)
{
	for (unsigned i = 0; i < f->n_flows; i++)
		if (f->flow[i].peer_port == peer_port && f->flow[i].stack_port == stack_port)
			return &f->flow[i];
	return NULL;
}

struct fz_flow *fz_flow_new(struct fz *f, uint16_t peer_port, enum fz_mode mode)
{
	if (f->n_flows >= FZ_MAX_FLOWS)
		return NULL;
	struct fz_flow *fl = &f->flow[f->n_flows++];
	memset(fl, 0, sizeof(*fl));
	fl->f = f;
	fl->peer_port = peer_port;
	fl->stack_port = FZ_HTTP_PORT;
	fl->mode = mode;
	fl->peer_iss = 0x01000193u * peer_port + 0x3000u; /* any fixed spread */
	fl->peer_nxt = fl->peer_iss;
	fl->want = USN_TCP_CLOSED;
	return fl;
}

void fz_seg_for_flow(const struct fz *f, const struct fz_flow *fl, struct fz_seg *s)
{
	(void)f;
	memset(s, 0, sizeof(*s));
	s->src_ip = FZ_PEER_IP;
	s->dst_ip = FZ_STACK_IP;
	s->src_port = fl->peer_port;
	s->dst_port = fl->stack_port;
	s->seq = fl->peer_nxt;
	s->ack = fl->stack_nxt;
	s->flags = USN_TCP_ACK;
	s->window = 65535;
}

uint8_t fz_syn_options(struct fz *f, const struct fz_flow *fl, uint8_t variant, uint8_t *o)
{
	uint8_t n = 0;
	if (variant & FZ_OPT_MSS) {
		uint16_t mss = (variant & FZ_OPT_SMALL_MSS) ? 64 : 1460;
		o[n++] = 2;
		o[n++] = 4;
		o[n++] = (uint8_t)(mss >> 8);
		o[n++] = (uint8_t)mss;
	}
	if (variant & FZ_OPT_TS) {
		o[n++] = (variant & FZ_OPT_SACK) ? 4 : 1;
		o[n++] = (variant & FZ_OPT_SACK) ? 2 : 1;
		o[n++] = 8;
		o[n++] = 10;
		usn_store_be32(o + n, f->peer_ts);
		usn_store_be32(o + n + 4, fl->stack_tsval);
		n += 8;
	} else if (variant & FZ_OPT_SACK) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 4;
		o[n++] = 2;
	}
	if (variant & FZ_OPT_WS) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = 7;
	}
	return n;
}

uint8_t fz_ts_option(struct fz *f, const struct fz_flow *fl, uint8_t *o)
{
	if (!fl->ts_ok)
		return 0;
	o[0] = 1;
	o[1] = 1;
	o[2] = 8;
	o[3] = 10;
	usn_store_be32(o + 4, f->peer_ts);
	usn_store_be32(o + 8, fl->stack_tsval);
	return 12;
}

/* ---- the application: a tiny handler chosen by the peer's port ---- */

static void fz_echo_write(void *arg, uint32_t off, uint32_t len, struct usn_cursor dst)
{
	(void)arg;
	uint8_t chunk[256];
	while (len) {
		uint32_t n = len < sizeof(chunk) ? len : (uint32_t)sizeof(chunk);
		for (uint32_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)((off + i) * 7u + 1u);
		usn_cursor_write(dst, chunk, n);
		dst = usn_cursor_drop(dst, n);
		off += n;
		len -= n;
	}
}

static void fz_reply_close(struct usn_tcp_conn *c, bool close)
{
	(void)usn_tcp_send_ref(c, fz_reply, (uint32_t)sizeof(fz_reply) - 1, NULL);
	if (close)
		(void)usn_tcp_close(c);
}

static void fz_on_connected(struct usn_tcp_conn *c, void *user)
{
	struct fz_flow *fl = user;
	struct fz *f = fl->f;
	if (fl == &f->anon) {
		f->opened++;
		/* A passive open: the peer's port names the fixture flow. */
		struct usn_tcp_info in;
		usn_tcp_info(c, &in);
		struct fz_flow *known = fz_flow_find(f, in.local_port, in.remote_port);
		if (known && !known->conn) {
			known->conn = c;
			usn_tcp_set_user(c, known);
		}
		return;
	}
	fl->conn = c;
}

static void fz_on_recv(struct usn_tcp_conn *c, void *user, struct usn_cursor data)
{
	struct fz_flow *fl = user;
	uint8_t peek[64];
	/* Touch the data, as an application would. */
	(void)usn_cursor_read(data, peek, sizeof(peek));
	switch (fl->mode) {
	case FZ_REPLY_CLOSE:
		fz_reply_close(c, true);
		break;
	case FZ_ECHO:
		(void)usn_tcp_send_writer(c, FZ_ECHO_LEN, fz_echo_write, NULL);
		break;
	case FZ_HOLD:
	case FZ_CLOSE_ON_FIN:
		break;
	}
}

static void fz_on_remote_closed(struct usn_tcp_conn *c, void *user)
{
	struct fz_flow *fl = user;
	switch (fl->mode) {
	case FZ_REPLY_CLOSE:
		(void)usn_tcp_close(c);
		break;
	case FZ_CLOSE_ON_FIN:
		fz_reply_close(c, true);
		break;
	case FZ_HOLD:
	case FZ_ECHO:
		break;
	}
}

static void fz_on_closed(struct usn_tcp_conn *c, void *user, enum usn_tcp_close_reason why)
{
	struct fz_flow *fl = user;
	(void)why;
	if (fl->conn == c)
		fl->conn = NULL;
	fl->closed++;
	fl->f->closed++;
}

static const struct usn_tcp_handlers fz_handlers = {
	.connected_fn = fz_on_connected,
	.recv_fn = fz_on_recv,
	.remote_closed_fn = fz_on_remote_closed,
	.closed_fn = fz_on_closed,
};

/* ---- what the stack sends: checked, tracked, ARP answered ---- */

static void fz_answer_arp(struct fz *f, const struct usn_arp_repr *r)
{
	if (r->op != USN_ARP_REQUEST || r->tpa != FZ_PEER_IP)
		return;
	uint8_t fr[60];
	memset(fr, 0, sizeof(fr));
	memcpy(fr, r->sha, 6);
	memcpy(fr + 6, fz_peer_mac, 6);
	usn_store_be16(fr + 12, USN_ETHERTYPE_ARP);
	struct usn_arp_repr rep = {.op = USN_ARP_REPLY, .spa = FZ_PEER_IP, .tpa = r->spa};
	memcpy(rep.sha, fz_peer_mac, 6);
	memcpy(rep.tha, r->sha, 6);
	usn_arp_emit(&rep, fr + USN_ETH_HDR_LEN);
	FUZZ_CHECK(usn_sim_port_send_raw(f->peer, fr, sizeof(fr)) == 0);
}

/* Remembers what a TCP segment the peer is about to send may occupy, as
 * generously as any reading of its lengths allows. */
static void fz_note_sent(struct fz *f, const uint8_t *p, size_t len)
{
	size_t l2 = USN_ETH_HDR_LEN;
	if (len < l2 + USN_IPV4_HDR_LEN + USN_TCP_HDR_LEN)
		return;
	uint16_t type = usn_load_be16(p + 12);
	if (type == USN_ETHERTYPE_VLAN) {
		l2 += 4;
		type = usn_load_be16(p + 16);
	}
	const uint8_t *ip = p + l2;
	size_t ihl = (size_t)(ip[0] & 15) * 4;
	if (type != USN_ETHERTYPE_IPV4 || ip[9] != USN_IPPROTO_TCP || ihl < USN_IPV4_HDR_LEN ||
	    len < l2 + ihl + USN_TCP_HDR_LEN)
		return;
	const uint8_t *t = ip + ihl;
	if (f->n_sent == FZ_MAX_SENT) {
		f->sent_overflow = true;
		return;
	}
	struct fz_sent *e = &f->sent[f->n_sent++];
	e->ip = usn_load_be32(ip + 12);
	e->peer_port = usn_load_be16(t);
	e->stack_port = usn_load_be16(t + 2);
	e->lo = usn_load_be32(t + 4);
	e->hi = e->lo + (uint32_t)(len - l2 - ihl - USN_TCP_HDR_LEN) + 2; /* + SYN + FIN */
}

/* The stack acknowledges only sequence numbers the peer has sent. */
static bool fz_ack_plausible(const struct fz *f, uint32_t ip, const struct usn_tcp_repr *t)
{
	if (f->sent_overflow)
		return true;
	for (unsigned i = 0; i < f->n_sent; i++) {
		const struct fz_sent *e = &f->sent[i];
		if (e->ip == ip && e->peer_port == t->dst_port && e->stack_port == t->src_port &&
		    t->ack - e->lo <= e->hi - e->lo)
			return true;
	}
	return false;
}

static void fz_track_tcp(struct fz *f, const struct usn_tcp_repr *t, uint32_t plen)
{
	struct fz_flow *fl = fz_flow_find(f, t->src_port, t->dst_port);
	if (!fl) {
		/* An active open's first SYN names the stack's port. */
		fl = fz_flow_find(f, 0, t->dst_port);
		if (fl && (t->flags & USN_TCP_SYN)) {
			fl->stack_port = t->src_port;
		} else if ((t->flags & (USN_TCP_SYN | USN_TCP_ACK)) == (USN_TCP_SYN | USN_TCP_ACK) &&
			   (fl = fz_flow_new(f, t->dst_port, FZ_REPLY_CLOSE)) != NULL) {
			/* A handshake the input started: follow it too. */
			fl->stack_port = t->src_port;
			fl->peer_iss = t->ack - 1;
		} else {
			return;
		}
	}
	uint32_t len = plen + !!(t->flags & USN_TCP_SYN) + !!(t->flags & USN_TCP_FIN);
	if ((t->flags & USN_TCP_SYN) && !fl->syn_seen) {
		fl->syn_seen = true;
		fl->stack_iss = t->seq;
		fl->stack_nxt = t->seq + len;
		fl->peer_ack = t->seq;
		fl->ts_ok = t->has_ts;
	} else if (FZ_SEQ_GT(t->seq + len, fl->stack_nxt)) {
		fl->stack_nxt = t->seq + len;
	}
	if (t->flags & USN_TCP_ACK)
		fl->peer_nxt = t->ack;
	if (t->flags & USN_TCP_RST)
		fl->rst_seen = true;
	if (t->flags & USN_TCP_FIN)
		fl->fin_seen = true;
	if (t->has_ts)
		fl->stack_tsval = t->ts_val;
	fl->stack_wnd = t->window;
}

/* Every frame the stack puts on the wire must be well formed: a valid
 * IPv4 header and sum, a TCP or ICMP sum that verifies, an ARP the parser
 * accepts. A violation is a finding, whatever the input was. */
static void fz_check_out(struct fz *f, uint8_t *p, size_t len)
{
	f->frames_out++;
	struct usn_buf b;
	memset(&b, 0, sizeof(b));
	b.data = p;
	b.len = (uint16_t)len;
	b.room = (uint16_t)len;
	b.frame_len = (uint32_t)len;
	struct usn_cursor c = usn_cursor_of_frame(&b);
	struct usn_eth_repr eth;
	FUZZ_CHECK(usn_eth_parse(c, &eth) == USN_WIRE_OK);
	FUZZ_CHECK(memcmp(eth.src, fz_stack_mac, 6) == 0);
	struct usn_cursor l3 = usn_cursor_drop(c, eth.hdr_len);
	if (eth.ethertype == USN_ETHERTYPE_ARP) {
		struct usn_arp_repr a;
		FUZZ_CHECK(usn_arp_parse(l3, &a) == USN_WIRE_OK);
		FUZZ_CHECK(a.spa == FZ_STACK_IP && memcmp(a.sha, fz_stack_mac, 6) == 0);
		fz_answer_arp(f, &a);
		return;
	}
	if (eth.ethertype == USN_ETHERTYPE_IPV6) {
		/* Echo replies, Neighbour Discovery, port unreachables and UDP
		 * echoes: from one of our addresses (or :: for DAD), no
		 * extension headers, ICMPv6 or UDP with a sum that verifies
		 * (UDP's never 0), ND with hop limit 255, an error within 1280
		 * bytes (RFC 4443 2.4 c) and never to a group. */
		struct usn_ipv6_repr ip6;
		static const uint8_t unspec[16];
		FUZZ_CHECK(usn_ipv6_parse(l3, &ip6) == USN_IPV6_OK);
		FUZZ_CHECK(memcmp(ip6.src, fz_stack_ip6, 16) == 0 || memcmp(ip6.src, fz_stack_ll6, 16) == 0 ||
			   memcmp(ip6.src, unspec, 16) == 0);
		FUZZ_CHECK(ip6.hdr_len == USN_IPV6_HDR_LEN &&
			   (ip6.next_header == USN_IPPROTO_ICMPV6 || ip6.next_header == USN_IPPROTO_UDP));
		FUZZ_CHECK(USN_IPV6_HDR_LEN + (size_t)ip6.payload_len <= f->mtu && ip6.payload_len >= 8);
		uint8_t *m = p + eth.hdr_len + USN_IPV6_HDR_LEN;
		uint32_t ph = sum16(p + eth.hdr_len + 8, 32, 0) + ip6.payload_len + ip6.next_header;
		FUZZ_CHECK(fold_not(sum16(m, ip6.payload_len, ph)) == 0);
		if (ip6.next_header == USN_IPPROTO_UDP) {
			FUZZ_CHECK(usn_load_be16(m + 4) == ip6.payload_len);
			FUZZ_CHECK(usn_load_be16(m) == FZ_UDP_PORT && usn_load_be16(m + 6) != 0);
			f->udp_out++;
			return;
		}
		FUZZ_CHECK(m[0] == 129 || m[0] == 135 || m[0] == 136 || (m[0] == 1 && m[1] == 4));
		FUZZ_CHECK(m[0] == 129 || m[0] == 1 || ip6.hop_limit == 255);
		FUZZ_CHECK(m[0] != 1 || (USN_IPV6_HDR_LEN + (size_t)ip6.payload_len <= 1280 &&
					 !usn_ipv6_is_multicast(ip6.dst) && !usn_ipv6_is_unspecified(ip6.dst)));
		return;
	}
	FUZZ_CHECK(eth.ethertype == USN_ETHERTYPE_IPV4);
	struct usn_ipv4_repr ip;
	FUZZ_CHECK(usn_ipv4_parse(l3, &ip, false) == USN_WIRE_OK);
	FUZZ_CHECK(ip.src == FZ_STACK_IP && !usn_ipv4_is_fragment(&ip));
	FUZZ_CHECK(ip.total_len <= f->mtu);
	const uint8_t *iph = p + eth.hdr_len;
	uint8_t *l4 = p + eth.hdr_len + ip.hdr_len;
	size_t l4_len = ip.total_len - ip.hdr_len;
	if (ip.proto == USN_IPPROTO_ICMP) {
		FUZZ_CHECK(l4_len >= 8 && fold_not(sum16(l4, l4_len, 0)) == 0);
		return;
	}
	if (ip.proto == USN_IPPROTO_UDP) {
		/* Only the echo port answers; never with a zero sum. */
		FUZZ_CHECK(l4_len >= USN_UDP_HDR_LEN && usn_load_be16(l4 + 4) == l4_len);
		FUZZ_CHECK(usn_load_be16(l4) == FZ_UDP_PORT && usn_load_be16(l4 + 6) != 0);
		FUZZ_CHECK(fold_not(sum16(l4, l4_len, pseudo_sum(iph, USN_IPPROTO_UDP, l4_len))) == 0);
		f->udp_out++;
		return;
	}
	FUZZ_CHECK(ip.proto == USN_IPPROTO_TCP);
	FUZZ_CHECK(fold_not(sum16(l4, l4_len, pseudo_sum(iph, USN_IPPROTO_TCP, l4_len))) == 0);
	struct usn_tcp_repr t;
	FUZZ_CHECK(usn_tcp_parse(usn_cursor_take(usn_cursor_drop(l3, ip.hdr_len), (uint32_t)l4_len), &t) ==
		   USN_WIRE_OK);
	/* The stack never sends a scale over 14 or a SACK it was not allowed. */
	FUZZ_CHECK(!t.has_wscale || t.wscale <= 14);
	FUZZ_CHECK((t.flags & (USN_TCP_SYN | USN_TCP_FIN)) != (USN_TCP_SYN | USN_TCP_FIN));
	FUZZ_CHECK((t.flags & (USN_TCP_SYN | USN_TCP_RST)) != (USN_TCP_SYN | USN_TCP_RST));
	FUZZ_CHECK(!(t.flags & USN_TCP_ACK) || fz_ack_plausible(f, ip.dst, &t));
	fz_track_tcp(f, &t, (uint32_t)(l4_len - t.hdr_len));
}

/* The UDP echo port's handler: the datagram back, by writer. */
static void fz_udp_copy(void *arg, struct usn_cursor dst)
{
	const struct usn_cursor *src = arg;
	uint8_t bounce[256];
	for (uint32_t off = 0; off < usn_cursor_size(*src);) {
		size_t n = usn_cursor_read(usn_cursor_drop(*src, off), bounce, sizeof(bounce));
		usn_cursor_write(usn_cursor_drop(dst, off), bounce, n);
		off += (uint32_t)n;
	}
}

static void fz_udp_echo(struct usn_worker *w, void *user, const struct usn_addr *peer, uint16_t peer_port,
			uint16_t local_port, struct usn_cursor data)
{
	struct fz *f = user;
	f->udp_in++;
	FUZZ_CHECK(local_port == FZ_UDP_PORT && (peer->family == USN_AF_INET || peer->family == USN_AF_INET6));
	int rc = usn_udp_send_writer(w, local_port, peer, peer_port, usn_cursor_size(data), fz_udp_copy, &data);
	FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -ENOBUFS || rc == -EHOSTUNREACH || rc == -EMSGSIZE ||
		   rc == -EADDRNOTAVAIL || (rc == -EINVAL && peer_port == 0));
}

static unsigned fz_drain(struct fz *f)
{
	unsigned n = 0;
	size_t len;
	while ((len = usn_sim_port_recv_raw(f->peer, f->cap, sizeof(f->cap))) > 0) {
		FUZZ_CHECK(len <= FZ_FRAME_MAX);
		fz_check_out(f, f->cap, len);
		n++;
	}
	return n;
}

void fz_settle(struct fz *f)
{
	uint16_t nw = usn_stack_workers(f->stack);
	for (int r = 0; r < FZ_SETTLE_ROUNDS; r++) {
		unsigned moved = 0;
		for (uint16_t i = 0; i < nw; i++)
			moved += usn_worker_poll(usn_stack_worker(f->stack, i));
		moved += fz_drain(f);
		if (!moved)
			return;
	}
	FUZZ_CHECK(!"the stack keeps sending at one instant (livelock)");
}

static uint64_t fz_next_event(struct fz *f)
{
	uint64_t next = usn_sim_link_next_delivery_us(f->link);
	for (uint16_t i = 0; i < usn_stack_workers(f->stack); i++) {
		uint64_t d = usn_worker_next_deadline_us(usn_stack_worker(f->stack, i));
		if (d < next)
			next = d;
	}
	return next;
}

void fz_advance(struct fz *f, uint64_t us)
{
	uint64_t end = usn_sim_link_now_us(f->link) + us;
	for (int s = 0; s < FZ_ADVANCE_STEPS; s++) {
		uint64_t now = usn_sim_link_now_us(f->link);
		if (now >= end)
			return;
		uint64_t next = fz_next_event(f);
		/* A wheel reports its tick, which may be a little early. */
		if (next <= now)
			next = now + 1000;
		if (next > end)
			next = end;
		f->peer_ts += (uint32_t)((next - now) / 1000);
		usn_sim_link_advance(f->link, next - now);
		fz_settle(f);
	}
	uint64_t now = usn_sim_link_now_us(f->link);
	if (now < end) {
		usn_sim_link_advance(f->link, end - now);
		fz_settle(f);
	}
}

uint64_t fz_time_of_byte(uint8_t b)
{
	if (b < 128)
		return (uint64_t)b * 100;
	if (b < 240)
		return (uint64_t)(b - 127) * 50000;
	return (uint64_t)(b - 239) * 10000000;
}

void fz_send_raw(struct fz *f, const uint8_t *frame, size_t len)
{
	fz_note_sent(f, frame, len);
	/* The link refuses runts and frames over the MTU; nothing to test. */
	if (usn_sim_port_send_raw(f->peer, frame, len) == 0)
		fz_settle(f);
}

void fz_send_seg(struct fz *f, struct fz_flow *fl, const struct fz_seg *s)
{
	size_t n = fz_build_tcp(f->buf, f->mtu + USN_ETH_HDR_LEN, s);
	f->peer_ts++;
	if (fl) {
		if (s->flags & USN_TCP_ACK)
			fl->peer_ack = s->ack;
		uint32_t len = s->plen + !!(s->flags & USN_TCP_SYN) + !!(s->flags & USN_TCP_FIN);
		if (s->seq == fl->peer_nxt)
			fl->peer_nxt += len; /* our SND.NXT until the stack's ACK says otherwise */
	}
	fz_send_raw(f, f->buf, n);
}

/* ---- fixture connections ---- */

/* A peer segment on fl from the tracker's numbers, with TS when agreed. */
static void fz_peer(struct fz *f, struct fz_flow *fl, uint8_t flags, uint32_t ack, uint16_t window,
		    const char *data)
{
	struct fz_seg s;
	uint8_t o[12];
	fz_seg_for_flow(f, fl, &s);
	s.flags = flags;
	s.ack = ack;
	s.window = window;
	s.olen = fz_ts_option(f, fl, o);
	s.opts = o;
	s.payload = (const uint8_t *)data;
	s.plen = data ? (uint16_t)strlen(data) : 0;
	fz_send_seg(f, fl, &s);
}

/* SYN from the peer; with complete, the handshake's ACK too (window wnd). */
static struct fz_flow *fz_open(struct fz *f, uint16_t port, enum fz_mode mode, uint8_t variant, bool complete,
			       uint16_t wnd, enum usn_tcp_state want)
{
	struct fz_flow *fl = fz_flow_new(f, port, mode);
	FUZZ_CHECK(fl);
	fl->want = want;
	struct fz_seg s;
	uint8_t o[20];
	fz_seg_for_flow(f, fl, &s);
	s.flags = USN_TCP_SYN;
	s.ack = 0;
	s.olen = fz_syn_options(f, fl, variant, o);
	s.opts = o;
	fz_send_seg(f, fl, &s);
	if (complete)
		fz_peer(f, fl, USN_TCP_ACK, fl->stack_nxt, wnd, NULL);
	return fl;
}

/* An active open from the stack to the peer's port; with answer, the
 * peer's SYN-ACK (the stack then ACKs: ESTABLISHED). */
static void fz_connect(struct fz *f, uint16_t port, bool answer, enum usn_tcp_state want)
{
	struct fz_flow *fl = fz_flow_new(f, port, FZ_HOLD);
	FUZZ_CHECK(fl);
	fl->want = want;
	fl->stack_port = 0;
	fl->conn = usn_tcp_connect(usn_stack_worker(f->stack, 0), FZ_PEER_IP, port, &fz_handlers, fl);
	if (fl->conn)
		f->opened++;
	fz_settle(f);
	if (!answer || !fl->syn_seen)
		return;
	struct fz_seg s;
	uint8_t o[20];
	fz_seg_for_flow(f, fl, &s);
	s.seq = fl->peer_iss;
	s.flags = USN_TCP_SYN | USN_TCP_ACK;
	s.olen = fz_syn_options(f, fl, FZ_OPT_ALL, o);
	s.opts = o;
	fl->peer_nxt = fl->peer_iss;
	fz_send_seg(f, fl, &s);
}

void fz_options_from_byte(struct fz_options *o, uint8_t b)
{
	static const uint16_t sizes[4] = {2048, 128, 256, 1000};
	memset(o, 0, sizeof(*o));
	o->buf_size = sizes[b & 3];
	o->rx_csum = (b & 4) != 0;
	o->two_workers = (b & 8) != 0;
	o->bare_tcp = (b & 16) != 0;
}

static void fz_build_stack(struct fz *f)
{
	struct usn_sim_port_config pc;
	memset(&pc, 0, sizeof(pc));
	memcpy(pc.mac, fz_peer_mac, 6);
	pc.n_bufs = 16;
	pc.rx_ring = 256;
	f->peer = usn_sim_port_create(f->link, &pc);
	FUZZ_CHECK(f->peer);

	memset(&pc, 0, sizeof(pc));
	memcpy(pc.mac, fz_stack_mac, 6);
	pc.buf_size = f->opt.buf_size;
	pc.n_bufs = 256;
	pc.rx_ring = 256;
	pc.n_queues = f->opt.two_workers ? 2 : 1;
	pc.offloads = (f->opt.rx_csum ? USN_HAL_OFF_RX_CSUM : 0) | (f->opt.two_workers ? USN_HAL_OFF_RSS : 0) |
		      simnet_env_offloads();
	/* 128 and 256: TX in chains; 1000: a port without them (segments
	 * kept to one buffer), unless the TSO pass offers them. */
	if (f->opt.buf_size < 1000)
		pc.offloads |= USN_HAL_OFF_TX_MULTISEG;
	f->port = usn_sim_port_create(f->link, &pc);
	FUZZ_CHECK(f->port);

	struct usn_stack_config c;
	usn_stack_config_init(&c, FZ_STACK_IP, 15);
	memcpy(c.mac, fz_stack_mac, 6);
	c.tcp_max_conns = 64;
	c.tcp_max_listen = 4;
	c.tcp_syn_backlog = 16;
	c.tcp_max_timewait = 8;
	c.tcp_ooo_max_segs = 8;
	c.tcp_timewait_ms = 3000;
	c.tcp_rcv_wnd = 32768;
	c.tcp_syn_retries = 3;
	c.tcp_max_retries = 5;
	c.arp_entries = 16;
	c.arp_timeout_ms = 30000;
	c.arp_queue_len = 8;
	c.bufs_per_worker = 32;
	c.tcp_cookie_secret[0] = 0x6c696275;
	c.tcp_cookie_secret[1] = 0x736e6574;
	c.tcp_cookie_secret[2] = 1;
	c.tcp_cookie_secret[3] = 2;
	c.tcp_no_timestamps = c.tcp_no_sack = c.tcp_no_wscale = f->opt.bare_tcp;
	/* IPv6 too, usable at once (DAD would wait a second of virtual time). */
	c.ipv6 = true;
	c.ipv6_no_dad = true;
	c.n_ip6 = 1;
	memcpy(c.ip6[0].addr, fz_stack_ip6, 16);
	c.ip6[0].prefix_len = 64;
	char msg[160];
	FUZZ_CHECK(usn_stack_config_check(&c, usn_sim_port_hal(f->port), msg, sizeof(msg)) == 0);
	f->stack = usn_stack_create(usn_sim_port_hal(f->port), &c);
	FUZZ_CHECK(f->stack);
	f->mtu = usn_stack_config(f->stack)->mtu;
	FUZZ_CHECK(usn_tcp_listen(f->stack, FZ_HTTP_PORT, &fz_handlers, &f->anon) == 0);
	FUZZ_CHECK(usn_udp_bind(f->stack, FZ_UDP_PORT, fz_udp_echo, f) == 0);
	for (uint16_t i = 0; i < usn_stack_workers(f->stack); i++)
		usn_worker_start(usn_stack_worker(f->stack, i));
	fz_settle(f);
}

void fz_setup(struct fz *f, const struct fz_options *o)
{
	memset(f, 0, sizeof(*f));
	f->opt = *o;
	f->anon.f = f;
	f->anon.mode = FZ_REPLY_CLOSE;
	f->peer_ts = 1000;
	f->link = usn_sim_link_create(1);
	FUZZ_CHECK(f->link);
	fz_build_stack(f);

	/* The peer asks for the stack's MAC; the stack learns the peer's. */
	uint8_t fr[60];
	memset(fr, 0, sizeof(fr));
	memset(fr, 0xff, 6);
	memcpy(fr + 6, fz_peer_mac, 6);
	usn_store_be16(fr + 12, USN_ETHERTYPE_ARP);
	struct usn_arp_repr req = {.op = USN_ARP_REQUEST, .spa = FZ_PEER_IP, .tpa = FZ_STACK_IP};
	memcpy(req.sha, fz_peer_mac, 6);
	usn_arp_emit(&req, fr + USN_ETH_HDR_LEN);
	fz_send_raw(f, fr, sizeof(fr));

	struct fz_flow *fl;
	fz_open(f, 40000, FZ_HOLD, FZ_OPT_ALL, false, 0, USN_TCP_SYN_RECEIVED);
	fz_open(f, 40001, FZ_HOLD, FZ_OPT_ALL, true, 65535, USN_TCP_ESTABLISHED);
	/* Unacknowledged data in flight, small segments: SACK and RTO ground. */
	fl = fz_open(f, 40002, FZ_ECHO, FZ_OPT_ALL | FZ_OPT_SMALL_MSS, true, 65535, USN_TCP_ESTABLISHED);
	fz_peer(f, fl, USN_TCP_ACK | USN_TCP_PSH, fl->stack_nxt, 65535, "GET /");
	fl = fz_open(f, 40003, FZ_HOLD, FZ_OPT_MSS | FZ_OPT_WS, true, 65535, USN_TCP_CLOSE_WAIT);
	fz_peer(f, fl, USN_TCP_FIN | USN_TCP_ACK, fl->stack_nxt, 65535, NULL);
	fl = fz_open(f, 40004, FZ_REPLY_CLOSE, FZ_OPT_ALL, true, 65535, USN_TCP_FIN_WAIT_1);
	fz_peer(f, fl, USN_TCP_ACK | USN_TCP_PSH, fl->stack_nxt, 65535, "GET /a");
	fl = fz_open(f, 40005, FZ_REPLY_CLOSE, FZ_OPT_ALL, true, 65535, USN_TCP_FIN_WAIT_2);
	fz_peer(f, fl, USN_TCP_ACK | USN_TCP_PSH, fl->stack_nxt, 65535, "GET /b");
	fz_peer(f, fl, USN_TCP_ACK, fl->stack_nxt, 65535, NULL);
	/* Simultaneous close: our FIN acknowledges the data, not theirs. */
	fl = fz_open(f, 40006, FZ_REPLY_CLOSE, FZ_OPT_MSS | FZ_OPT_TS, true, 65535, USN_TCP_CLOSING);
	fz_peer(f, fl, USN_TCP_ACK | USN_TCP_PSH, fl->stack_nxt, 65535, "GET /c");
	fz_peer(f, fl, USN_TCP_FIN | USN_TCP_ACK, fl->stack_nxt - 1, 65535, NULL);
	fl = fz_open(f, 40007, FZ_CLOSE_ON_FIN, FZ_OPT_ALL, true, 65535, USN_TCP_LAST_ACK);
	fz_peer(f, fl, USN_TCP_FIN | USN_TCP_ACK, fl->stack_nxt, 65535, NULL);
	fl = fz_open(f, 40008, FZ_REPLY_CLOSE, FZ_OPT_ALL, true, 65535, USN_TCP_TIME_WAIT);
	fz_peer(f, fl, USN_TCP_ACK | USN_TCP_PSH, fl->stack_nxt, 65535, "GET /d");
	fz_peer(f, fl, USN_TCP_FIN | USN_TCP_ACK, fl->stack_nxt, 65535, NULL);
	/* A zero window: the reply and the FIN wait behind it (persist). */
	fl = fz_open(f, 40009, FZ_REPLY_CLOSE, FZ_OPT_ALL, true, 0, USN_TCP_CLOSE_PENDING);
	fz_peer(f, fl, USN_TCP_ACK | USN_TCP_PSH, fl->stack_nxt, 0, "GET /e");
	fl = fz_open(f, 40010, FZ_CLOSE_ON_FIN, FZ_OPT_ALL, true, 0, USN_TCP_CLOSE_PENDING_RCVD_FIN);
	fz_peer(f, fl, USN_TCP_FIN | USN_TCP_ACK, fl->stack_nxt, 0, NULL);
	/* Out-of-order data held: the hole is at peer_nxt. */
	fl = fz_open(f, 40011, FZ_HOLD, FZ_OPT_ALL, true, 65535, USN_TCP_ESTABLISHED);
	{
		uint32_t keep = fl->peer_nxt;
		fl->peer_nxt += 100;
		fz_peer(f, fl, USN_TCP_ACK | USN_TCP_PSH, fl->stack_nxt, 65535, "out of order bytes");
		fl->peer_nxt = keep;
	}
	fz_open(f, 40012, FZ_HOLD, 0, true, 65535, USN_TCP_ESTABLISHED);
	fz_connect(f, 9000, false, USN_TCP_SYN_SENT);
	fz_connect(f, 9001, true, USN_TCP_ESTABLISHED);
	f->n_fixture_flows = f->n_flows;
}

int fz_state_of(const struct fz *f, unsigned i)
{
	const struct fz_flow *fl = &f->flow[i];
	if (fl->conn) {
		struct usn_tcp_info in;
		usn_tcp_info(fl->conn, &in);
		return (int)in.state;
	}
	return -1;
}

/* FUZZ_VERBOSE=1: what an input did to the fixture, for seed writers. */
static void fz_report(const struct fz *f)
{
	struct usn_stats st;
	usn_stack_stats(f->stack, &st);
	fprintf(stderr, "fz: %u frames out, %u flows, stats:", f->frames_out, f->n_flows);
	for (unsigned i = 0; i < usn_stats_count(); i++)
		if (usn_stats_value(&st, i))
			fprintf(stderr, " %s=%llu", usn_stats_name(i), (unsigned long long)usn_stats_value(&st, i));
	fprintf(stderr, "\n");
	for (unsigned i = 0; i < f->n_flows; i++) {
		const struct fz_flow *fl = &f->flow[i];
		int s = fz_state_of(f, i);
		fprintf(stderr, "  flow %2u port %5u->%-5u %-24s want %-24s%s%s%s closed %u\n", i, fl->peer_port,
			fl->stack_port, s < 0 ? "(no handle)" : usn_tcp_state_name((enum usn_tcp_state)s),
			usn_tcp_state_name(fl->want), fl->syn_seen ? " syn" : "", fl->fin_seen ? " fin" : "",
			fl->rst_seen ? " rst" : "", fl->closed);
	}
}

void fz_teardown(struct fz *f)
{
	if (getenv("FUZZ_VERBOSE"))
		fz_report(f);
	/* Every timer the input left armed fires (retransmissions give up,
	 * TIME-WAIT ends, persist probes go out). */
	fz_advance(f, 200000000);
	/* By then only connections the application still owns hold a TCB
	 * (TIME-WAIT, half-open and orphaned ones have timed out). */
	uint32_t in_use = 0;
	for (uint16_t i = 0; i < usn_stack_workers(f->stack); i++)
		in_use += usn_stack_config(f->stack)->tcp_max_conns - usn_tcp_free_tcbs(usn_stack_worker(f->stack, i));
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fz: after 200 s: %u TCBs in use, %u opened, %u closed\n", in_use, f->opened, f->closed);
	FUZZ_CHECK(f->closed <= f->opened);
	FUZZ_CHECK(in_use == f->opened - f->closed);
	usn_stack_destroy(f->stack);
	struct usn_sim_port_stats st;
	usn_sim_port_stats(f->port, &st);
	FUZZ_CHECK(st.bufs_free == st.bufs_total); /* no buffer leaked */
	usn_sim_link_destroy(f->link);
	f->link = NULL;
	f->stack = NULL;
}
