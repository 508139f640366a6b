/* libusnet TCP secrets: RFC 6528 initial sequence numbers, per-flow
 * timestamp offsets, and SYN cookies (RFC 4987) used when the half-open
 * table is full, all keyed SipHash-2-4 (core/siphash.c). */
#include <string.h>

#include "tcp/tcp_int.h"

/* The ends and ports, then `extra` bytes, as the bytes a hash reads: 12
 * for IPv4, 36 for IPv6 (both addresses whole). Returns the length. */
static size_t tuple_bytes(uint8_t *b, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport)
{
	size_t n;
	if (e->v6) {
		memcpy(b, e->v6->local, 16);
		memcpy(b + 16, e->v6->remote, 16);
		n = 32;
	} else {
		usn_store_be32(b, e->lip);
		usn_store_be32(b + 4, e->rip);
		n = 8;
	}
	usn_store_be16(b + n, lport);
	usn_store_be16(b + n + 2, rport);
	return n + 4;
}

static uint64_t hash_tuple(const uint64_t key[2], const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport,
			   uint32_t extra1, uint32_t extra2)
{
	uint8_t b[44];
	size_t n = tuple_bytes(b, e, lport, rport);
	usn_store_be32(b + n, extra1);
	usn_store_be32(b + n + 4, extra2);
	return usn_siphash24(key, b, n + 8);
}

/* The per-connection secret F(4-tuple, key) of RFC 6528 3, 64 bits: the low
 * half offsets the ISN, the high half is the timestamp offset. One SipHash
 * per connection instead of one for each; the halves of a PRF output are as
 * unrelated as two outputs, and each is still a keyed function of the
 * 4-tuple alone. Only the 4-tuple is hashed (12 bytes for IPv4, one block
 * fewer than the cookie's input); key_isn is not the cookie key. */
static uint64_t conn_secret(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport)
{
	uint8_t b[36];
	size_t n = tuple_bytes(b, e, lport, rport);
	return usn_siphash24(t->key_isn, b, n);
}

uint32_t usn_tcp_isn_ts(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport,
			uint32_t *ts_offset)
{
	/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, key),
	 * M a 4-microsecond timer. */
	uint64_t f = conn_secret(t, e, lport, rport);
	*ts_offset = (uint32_t)(f >> 32);
	return (uint32_t)(t->w->now_us / 4) + (uint32_t)f;
}

uint32_t usn_tcp_ts_offset(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport)
{
	/* The same value usn_tcp_isn_ts gives the connection, so a SYN cookie's
	 * TSval and the connection made from its ACK share one clock. */
	return (uint32_t)(conn_secret(t, e, lport, rport) >> 32);
}

uint32_t usn_tcp_fold6(const struct usn_tcp_worker *t, const uint8_t a[16])
{
	/* key_cookie, not key_isn: the fold is no input of the ISN's hash
	 * under the same key. */
	return (uint32_t)usn_siphash24(t->key_cookie, a, 16);
}

/* MSS values a cookie can carry (3 bits), as Linux's msstab. */
static const uint16_t cookie_mss[8] = {536, 1200, 1300, 1360, 1400, 1440, 1460, 8960};

static uint32_t cookie_hash(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport,
			    uint32_t peer_isn, uint32_t count)
{
	return (uint32_t)hash_tuple(t->key_cookie, e, lport, rport, peer_isn, count) & 0xffffffu;
}

static uint32_t cookie_minute(struct usn_tcp_worker *t)
{
	return (uint32_t)(t->w->now_us / 60000000u);
}

/* Layout (RFC 4987 3.2, as BSD/Linux): 5 bits minute counter, 3 bits MSS
 * index, 24 bits keyed hash over the 4-tuple, the peer's ISN and the counter. */
uint32_t usn_tcp_cookie_make(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport,
			     uint32_t peer_isn, uint16_t peer_mss, uint16_t *mss_out)
{
	uint32_t m = 0;
	uint16_t ours = t->mss_local[e->v6 != NULL];
	for (uint32_t i = 0; i < 8; i++)
		if (cookie_mss[i] <= peer_mss && cookie_mss[i] <= ours)
			m = i;
	uint32_t count = cookie_minute(t);
	*mss_out = cookie_mss[m];
	return ((count & 31u) << 27) | (m << 24) | cookie_hash(t, e, lport, rport, peer_isn, count);
}

bool usn_tcp_cookie_check(struct usn_tcp_worker *t, const struct usn_tcp_ends *e, uint16_t lport, uint16_t rport,
			  uint32_t peer_isn, uint32_t cookie, uint16_t *mss_out)
{
	uint32_t now = cookie_minute(t);
	/* Valid for the minute it was made and the next one (up to 2 min). */
	for (uint32_t age = 0; age < 2; age++) {
		uint32_t count = now - age;
		if ((cookie >> 27) != (count & 31u))
			continue;
		if ((cookie & 0xffffffu) != cookie_hash(t, e, lport, rport, peer_isn, count))
			return false;
		uint32_t m = (cookie >> 24) & 7u;
		if (cookie_mss[m] > t->mss_local[e->v6 != NULL])
			return false;
		*mss_out = cookie_mss[m];
		return true;
	}
	return false;
}

/* Low 5 bits of the TSval: wscale (15 = none) and SACK-permitted. The
 * value stays at or below the clock so the peer sees time move forward. */
uint32_t usn_tcp_cookie_ts(uint32_t ts_now, uint8_t wscale, bool sack)
{
	uint32_t bits = (uint32_t)(wscale & 0xf) | (sack ? 0x10u : 0u);
	uint32_t ts = (ts_now & ~0x1fu) | bits;
	if (ts > ts_now)
		ts -= 0x20;
	return ts;
}

void usn_tcp_cookie_ts_opts(uint32_t tsecr, uint8_t *wscale, bool *has_ws, bool *sack)
{
	uint8_t ws = tsecr & 0xf;
	*has_ws = ws != 0xf;
	*wscale = *has_ws ? (ws > USN_TCP_MAX_WSCALE ? USN_TCP_MAX_WSCALE : ws) : 0;
	*sack = (tsecr & 0x10) != 0;
}
