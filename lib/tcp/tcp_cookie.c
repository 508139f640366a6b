/* libusnet TCP secrets: SipHash-2-4 (Aumasson and Bernstein), RFC 6528
 * initial sequence numbers, per-flow timestamp offsets, and SYN cookies
 * (RFC 4987) used when the half-open table is full. */
#include <string.h>

#include "tcp/tcp_int.h"

static inline uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl64(v1, 13);                                                               \
		v1 ^= v0;                                                                          \
		v0 = rotl64(v0, 32);                                                               \
		v2 += v3;                                                                          \
		v3 = rotl64(v3, 16);                                                               \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl64(v3, 21);                                                               \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl64(v1, 17);                                                               \
		v1 ^= v2;                                                                          \
		v2 = rotl64(v2, 32);                                                               \
	} while (0)

/* SipHash reads its message as little-endian 64-bit words: on a
 * little-endian host one (possibly unaligned) load through memcpy; the
 * byte-at-a-time loop, kept for other hosts, cost 40 instructions a word. */
static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&v, p, 8);
#else
	v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
#endif
	return v;
}

uint64_t usn_siphash24(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t v0 = 0x736f6d6570736575ull ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dull ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ull ^ key[0];
	uint64_t v3 = 0x7465646279746573ull ^ key[1];
	size_t end = len - (len % 8);
	for (size_t i = 0; i < end; i += 8) {
		uint64_t m = load_le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	/* The last 0-7 bytes, zero-padded, with len mod 256 in the top byte. */
	uint8_t tail[8] = {0};
	memcpy(tail, in + end, len % 8);
	uint64_t b = load_le64(tail) | (uint64_t)len << 56;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t hash_tuple(const uint64_t key[2], uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
			   uint32_t extra1, uint32_t extra2)
{
	uint8_t b[20];
	usn_store_be32(b, lip);
	usn_store_be32(b + 4, rip);
	usn_store_be16(b + 8, lport);
	usn_store_be16(b + 10, rport);
	usn_store_be32(b + 12, extra1);
	usn_store_be32(b + 16, extra2);
	return usn_siphash24(key, b, sizeof b);
}

/* The per-connection secret F(4-tuple, key) of RFC 6528 3, 64 bits: the low
 * half offsets the ISN, the high half is the timestamp offset. One SipHash
 * per connection instead of one for each; the halves of a PRF output are as
 * unrelated as two outputs, and each is still a keyed function of the
 * 4-tuple alone. Only the 4-tuple is hashed (12 bytes, one block fewer than
 * the cookie's input); key_isn is not the cookie key. */
static uint64_t conn_secret(struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip,
			    uint16_t rport)
{
	uint8_t b[12];
	usn_store_be32(b, lip);
	usn_store_be32(b + 4, rip);
	usn_store_be16(b + 8, lport);
	usn_store_be16(b + 10, rport);
	return usn_siphash24(t->key_isn, b, sizeof b);
}

uint32_t usn_tcp_isn_ts(struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
			uint32_t *ts_offset)
{
	/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, key),
	 * M a 4-microsecond timer. */
	uint64_t f = conn_secret(t, lip, lport, rip, rport);
	*ts_offset = (uint32_t)(f >> 32);
	return (uint32_t)(t->w->now_us / 4) + (uint32_t)f;
}

uint32_t usn_tcp_ts_offset(struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
	/* The same value usn_tcp_isn_ts gives the connection, so a SYN cookie's
	 * TSval and the connection made from its ACK share one clock. */
	return (uint32_t)(conn_secret(t, lip, lport, rip, rport) >> 32);
}

/* MSS values a cookie can carry (3 bits), as Linux's msstab. */
static const uint16_t cookie_mss[8] = {536, 1200, 1300, 1360, 1400, 1440, 1460, 8960};

static uint32_t cookie_hash(struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
			    uint32_t peer_isn, uint32_t count)
{
	return (uint32_t)hash_tuple(t->key_cookie, lip, lport, rip, rport, peer_isn, count) & 0xffffffu;
}

static uint32_t cookie_minute(struct usn_tcp_worker *t)
{
	return (uint32_t)(t->w->now_us / 60000000u);
}

/* Layout (RFC 4987 3.2, as BSD/Linux): 5 bits minute counter, 3 bits MSS
 * index, 24 bits keyed hash over the 4-tuple, the peer's ISN and the counter. */
uint32_t usn_tcp_cookie_make(struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
			     uint32_t peer_isn, uint16_t peer_mss, uint16_t *mss_out)
{
	uint32_t m = 0;
	for (uint32_t i = 0; i < 8; i++)
		if (cookie_mss[i] <= peer_mss && cookie_mss[i] <= t->mss_local)
			m = i;
	uint32_t count = cookie_minute(t);
	*mss_out = cookie_mss[m];
	return ((count & 31u) << 27) | (m << 24) | cookie_hash(t, lip, lport, rip, rport, peer_isn, count);
}

bool usn_tcp_cookie_check(struct usn_tcp_worker *t, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
			  uint32_t peer_isn, uint32_t cookie, uint16_t *mss_out)
{
	uint32_t now = cookie_minute(t);
	/* Valid for the minute it was made and the next one (up to 2 min). */
	for (uint32_t age = 0; age < 2; age++) {
		uint32_t count = now - age;
		if ((cookie >> 27) != (count & 31u))
			continue;
		if ((cookie & 0xffffffu) != cookie_hash(t, lip, lport, rip, rport, peer_isn, count))
			return false;
		uint32_t m = (cookie >> 24) & 7u;
		if (cookie_mss[m] > t->mss_local)
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
