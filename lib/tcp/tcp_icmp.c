/* libusnet TCP and ICMP errors (lib/tcp, an entry beside input), for both
 * families: an error is believed only if it quotes a sequence number in
 * flight (RFC 5927 4.1); then "fragmentation needed" (ICMPv6 "packet too
 * big") lowers the connection's MSS and sends again at once (RFC 1191,
 * RFC 8201), a destination unreachable aborts an opening connection, and
 * the other errors are recorded as soft (RFC 1122 4.2.3.9). */
#include <string.h>

#include "net/net.h"
#include "tcp/tcp_int.h"

/* RFC 1191 7, table 7-1: the MTU plateaus, for a router that reports no
 * next-hop MTU (0, RFC 792's unused field). */
static const uint16_t usn_pmtu_plateaus[] = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};

/* The largest plateau below the quoted packet's length (RFC 1191 5). */
static uint16_t usn_pmtu_plateau(uint16_t total_len)
{
	for (size_t i = 0; i < sizeof(usn_pmtu_plateaus) / sizeof(usn_pmtu_plateaus[0]); i++)
		if (usn_pmtu_plateaus[i] < total_len)
			return usn_pmtu_plateaus[i];
	return 68;
}

/* Fragmentation needed and DF set (RFC 1191 6.1): the path carries at
 * most the next-hop MTU. Never raised by an error, never believed below
 * pmtu_min (a forged tiny MTU would make every byte a frame). Not a
 * congestion signal (the packet was dropped for its size, not for a
 * queue), so cwnd stays, as in Linux's tcp_simple_retransmit. */
static void usn_tcp_frag_needed(struct usn_tcp_conn *c, const struct usn_icmp_err_repr *e)
{
	struct usn_worker *w = c->w;
	uint32_t mtu, floor = usn_tcp_tw(w)->cfg->pmtu_min, hdrs;
	if (e->family == USN_AF_INET6) {
		/* RFC 8201 4: never below IPv6's minimum link MTU. */
		mtu = e->next_hop_mtu;
		if (floor < USN_IPV6_MIN_MTU)
			floor = USN_IPV6_MIN_MTU;
		hdrs = USN_IPV6_HDR_LEN + USN_TCP_HDR_LEN;
	} else {
		mtu = e->next_hop_mtu ? e->next_hop_mtu : usn_pmtu_plateau(e->total_len);
		hdrs = USN_IPV4_HDR_LEN + USN_TCP_HDR_LEN;
	}
	if (mtu < floor)
		mtu = floor;
	if (mtu < hdrs + 64)
		mtu = hdrs + 64; /* the smallest MSS set_smss allows */
	/* The destination's path, whatever this connection's MSS (the
	 * peer's own may be smaller): the cache keeps only a decrease. */
	if (e->family == USN_AF_INET6)
		usn_pmtu_update6(w, usn_tcp_a6(usn_tcp_tw(w), c)->remote, (uint16_t)mtu);
	else
		usn_pmtu_update(w, c->remote_ip, (uint16_t)mtu);
	if (mtu - hdrs >= c->smss) {
		w->stats.tcp_pmtu_ignored++;
		return;
	}
	c->smss = (uint16_t)(mtu - hdrs);
	w->stats.tcp_pmtu_lowered++;
	if (c->state < USN_TCP_ESTABLISHED)
		return; /* the handshake's segments are small; data starts at the new size */
	/* The segments in flight beyond the new size were dropped: go back to
	 * SND.UNA and send now, cut at the new MSS (TSO pieces too: send_seg
	 * sizes them from smss). A timeout in progress stays what it was,
	 * and a spurious-timeout check in progress would misjudge these. */
	c->undo = USN_UNDO_NONE;
	c->snd_nxt = c->snd_una;
	usn_tcp_output(c);
}

/* RFC 1122 4.2.3.9: destination unreachable codes 2 (protocol), 3 (port)
 * are hard (ICMPv6, RFC 4443 3.1: code 4, port); 0, 1, 5 (net, host, source route) soft, as are time exceeded
 * and the rest. An opening connection (SYN-SENT) gives up on any
 * destination unreachable (as Linux does: nothing else answered); an
 * established one keeps trying on all of them (RFC 5461 4: a hard error
 * there is as likely transient or forged). */
static void usn_tcp_unreachable(struct usn_tcp_conn *c, const struct usn_icmp_err_repr *e)
{
	struct usn_worker *w = c->w;
	bool v6 = e->family == USN_AF_INET6;
	if (c->state == USN_TCP_SYN_SENT && e->type == (v6 ? USN_ICMP6_DEST_UNREACH : USN_ICMP_DEST_UNREACH)) {
		bool refused = v6 ? e->code == USN_ICMP6_UNREACH_PORT
				  : e->code == USN_ICMP_UNREACH_PROTO || e->code == USN_ICMP_UNREACH_PORT;
		w->stats.tcp_icmp_hard++;
		usn_tcp_conn_close(c, refused ? USN_TCP_CLOSE_REFUSED : USN_TCP_CLOSE_UNREACHABLE);
		return;
	}
	w->stats.tcp_icmp_soft++;
	c->flags |= USN_TF_SOFT_ERR;
}

void usn_tcp_icmp_error(struct usn_worker *w, const struct usn_icmp_err_repr *e)
{
	struct usn_tcp_worker *t = usn_tcp_tw(w);
	/* The quoted segment went from us (e->src, e->src_port) to the peer. */
	struct usn_tcp_conn *c;
	bool v6 = e->family == USN_AF_INET6;
	if (v6) {
		struct usn_tcp_addr6 a6;
		memcpy(a6.local, e->src6, 16);
		memcpy(a6.remote, e->dst6, 16);
		struct usn_tcp_ends ends = {.lip = usn_tcp_fold6(t, a6.local), .rip = usn_tcp_fold6(t, a6.remote), .v6 = &a6};
		c = usn_tcp_table_lookup6(t, &ends, e->src_port, e->dst_port);
	} else {
		c = usn_tcp_table_lookup(t, e->src, e->src_port, e->dst, e->dst_port);
	}
	if (!c) {
		w->stats.icmp_err_no_conn++;
		return;
	}
	/* RFC 5927 4.1: only a segment in flight can have caused it: SND.UNA
	 * <= SEG.SEQ < SND.NXT, with SND.NXT the highest sent (SND.MAX here:
	 * an RTO rewinds snd_nxt). Anything else is stale or forged. */
	if (!(SEQ_LEQ(c->snd_una, e->seq) && SEQ_LT(e->seq, c->snd_max))) {
		w->stats.icmp_err_bad_seq++;
		return;
	}
	if (v6 ? e->type == USN_ICMP6_PACKET_TOO_BIG
	       : e->type == USN_ICMP_DEST_UNREACH && e->code == USN_ICMP_UNREACH_FRAG_NEEDED)
		usn_tcp_frag_needed(c, e);
	else
		usn_tcp_unreachable(c, e);
	usn_tcp_events_run(t);
}
