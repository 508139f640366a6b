/* libusnet fuzz target fuzz_frame (tests/fuzz): raw frames from a peer port
 * into a stack that holds connections in nearly every TCP state (the
 * fixture, fuzz_fixture.c), with the virtual clock moved between frames. A
 * crash, a sanitizer report, a malformed frame from the stack, a livelock or
 * a leaked buffer is a finding.
 *
 * Input: [0] stack variant (fz_options_from_byte), then records
 *   [ctl][dt][len hi][len lo][len bytes of frame]
 * ctl bit 0: recompute the IPv4/TCP/ICMP sums; bit 1: Ethernet addresses
 * from peer to stack; bit 2: aim at fixture flow ctl >> 4: IPv4 addresses
 * and TCP ports set, seq and ack read as offsets from what the flow expects;
 * (15: the newest flow, e.g. one an earlier record's SYN opened); an ICMP
 * error (destination unreachable, time exceeded) is aimed by its quoted
 * packet instead: addresses and ports of the flow's segments from the
 * stack, the quoted seq an offset from the stack's next; bit 3: IPv4
 * addresses only (bits 2 and 3 on an IPv6 frame: the peer's and the
 * stack's global IPv6 addresses, a group destination kept). dt: time
 * before the frame (fz_time_of_byte). */
#include <string.h>

#include "fuzz_fixture.h"
#include "fuzz_targets.h"
#include "wire/wire.h"

#define FRAME_MAX_RECORDS 64

static void frame_aim(struct fz *f, uint8_t *p, size_t len, uint8_t ctl)
{
	if (ctl & 2) {
		memcpy(p, fz_stack_mac, 6);
		memcpy(p + 6, fz_peer_mac, 6);
	}
	if ((ctl & 12) && len >= USN_ETH_HDR_LEN + USN_IPV6_HDR_LEN && usn_load_be16(p + 12) == USN_ETHERTYPE_IPV6) {
		uint8_t *ip6 = p + USN_ETH_HDR_LEN;
		memcpy(ip6 + 8, fz_peer_ip6, 16);
		if (!usn_ipv6_is_multicast(ip6 + 24))
			memcpy(ip6 + 24, fz_stack_ip6, 16);
		return;
	}
	if (!(ctl & 12) || len < USN_ETH_HDR_LEN + USN_IPV4_HDR_LEN)
		return;
	uint8_t *ip = p + USN_ETH_HDR_LEN;
	usn_store_be32(ip + 12, FZ_PEER_IP);
	usn_store_be32(ip + 16, FZ_STACK_IP);
	size_t ihl = (size_t)(ip[0] & 15) * 4;
	if ((ctl & 4) && ip[9] == USN_IPPROTO_ICMP && ihl >= USN_IPV4_HDR_LEN && f->n_flows &&
	    len >= USN_ETH_HDR_LEN + ihl + 8 + USN_IPV4_HDR_LEN) {
		uint8_t *q = ip + ihl + 8; /* the quoted IPv4 header */
		unsigned k = ctl >> 4;
		const struct fz_flow *fl = &f->flow[k == 15 ? f->n_flows - 1 : k % f->n_flows];
		size_t qihl = (size_t)(q[0] & 15) * 4;
		if (ip[ihl] != 3 && ip[ihl] != 11)
			return;
		usn_store_be32(q + 12, FZ_STACK_IP);
		usn_store_be32(q + 16, FZ_PEER_IP);
		if (len < USN_ETH_HDR_LEN + ihl + 8 + qihl + 8)
			return;
		usn_store_be16(q + qihl, fl->stack_port);
		usn_store_be16(q + qihl + 2, fl->peer_port);
		usn_store_be32(q + qihl + 4, usn_load_be32(q + qihl + 4) + fl->stack_nxt);
		return;
	}
	if (!(ctl & 4) || ip[9] != USN_IPPROTO_TCP || ihl < USN_IPV4_HDR_LEN ||
	    len < USN_ETH_HDR_LEN + ihl + USN_TCP_HDR_LEN || f->n_flows == 0)
		return;
	/* 15: the newest flow (a handshake an earlier record started). */
	unsigned k = ctl >> 4;
	const struct fz_flow *fl = &f->flow[k == 15 ? f->n_flows - 1 : k % f->n_flows];
	uint8_t *t = ip + ihl;
	usn_store_be16(t, fl->peer_port);
	usn_store_be16(t + 2, fl->stack_port);
	usn_store_be32(t + 4, usn_load_be32(t + 4) + fl->peer_nxt);
	usn_store_be32(t + 8, usn_load_be32(t + 8) + fl->stack_nxt);
}

int fuzz_frame_one(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct fz fz; /* about 6 KiB; fz_setup resets it */
	struct fz *f = &fz;
	struct fz_options o;
	fz_options_from_byte(&o, data[0]);
	fz_setup(f, &o);
	size_t i = 1;
	for (int r = 0; r < FRAME_MAX_RECORDS && i + 4 <= size; r++) {
		uint8_t ctl = data[i], dt = data[i + 1];
		size_t len = (size_t)usn_load_be16(data + i + 2) % (FZ_FRAME_MAX + 1);
		i += 4;
		if (len > size - i)
			len = size - i;
		memcpy(f->buf, data + i, len);
		i += len;
		fz_advance(f, fz_time_of_byte(dt));
		frame_aim(f, f->buf, len, ctl);
		if (ctl & 1)
			fz_fix_checksums(f->buf, len);
		fz_send_raw(f, f->buf, len);
	}
	fz_teardown(f);
	return 0;
}
