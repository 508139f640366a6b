/* libusnet wire formats (private): parse and emit Ethernet, ARP, IPv4, ICMP,
 * UDP and TCP headers. A parser checks lengths once, fills a plain representation
 * in host order and does not act; an emitter writes one. No state, no
 * allocation, no clock. Bytes are read with load helpers, never through a
 * struct overlaid on unchecked memory. */
#ifndef USN_WIRE_H
#define USN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usnet/addr.h"
#include "usnet/cursor.h"

/* Byte-order load/store helpers for unaligned wire bytes. */
static inline uint16_t usn_load_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t usn_load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void usn_store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void usn_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Parse results: 0 or one of these (each maps to a drop counter). */
enum usn_wire_err {
	USN_WIRE_OK = 0,
	USN_WIRE_SHORT,    /* fewer bytes than the header needs */
	USN_WIRE_VERSION,  /* IPv4: version != 4 */
	USN_WIRE_HDRLEN,   /* IPv4 IHL < 5 or past the end; TCP data offset < 5 or past the end */
	USN_WIRE_LEN,      /* IPv4 total length < IHL or > frame */
	USN_WIRE_CSUM,     /* header checksum wrong */
	USN_WIRE_BADOPT,   /* an option with an impossible length */
	USN_WIRE_MALFORMED /* anything else (ARP hardware/protocol types, ...) */
};

/* ---- Ethernet II (IEEE 802.3), one 802.1Q tag tolerated ---- */
#define USN_ETH_HDR_LEN 14
#define USN_ETHERTYPE_IPV4 0x0800
#define USN_ETHERTYPE_ARP 0x0806
#define USN_ETHERTYPE_VLAN 0x8100
#define USN_ETHERTYPE_IPV6 0x86dd

struct usn_eth_repr {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t ethertype; /* after any VLAN tag */
	uint16_t vlan_tci;  /* 0 if untagged */
	uint8_t hdr_len;    /* 14, or 18 with a tag */
};
enum usn_wire_err usn_eth_parse(struct usn_cursor c, struct usn_eth_repr *r);
/* Writes a 14-byte untagged header. */
void usn_eth_emit(const struct usn_eth_repr *r, uint8_t *p);

/* ---- ARP for IPv4 over Ethernet (RFC 826) ---- */
#define USN_ARP_LEN 28
#define USN_ARP_REQUEST 1
#define USN_ARP_REPLY 2
struct usn_arp_repr {
	uint16_t op;
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
};
enum usn_wire_err usn_arp_parse(struct usn_cursor c, struct usn_arp_repr *r);
void usn_arp_emit(const struct usn_arp_repr *r, uint8_t *p);

/* ---- IPv4 (RFC 791) ---- */
#define USN_IPV4_HDR_LEN 20
#define USN_IPPROTO_ICMP 1
#define USN_IPPROTO_TCP 6
#define USN_IPPROTO_UDP 17
#define USN_IPV4_DF 0x4000
#define USN_IPV4_MF 0x2000
#define USN_IPV4_OFFMASK 0x1fff
struct usn_ipv4_repr {
	uint32_t src, dst;
	uint16_t total_len; /* header + payload */
	uint16_t id;
	uint16_t frag;      /* flags and fragment offset, as on the wire */
	uint8_t hdr_len;    /* bytes, options included */
	uint8_t tos, ttl, proto;
};
/* Validates version, IHL, total length against the bytes present, and the
 * header checksum unless csum_ok (the port verified it). Options are
 * skipped. Fragments parse (the caller counts and drops them). */
enum usn_wire_err usn_ipv4_parse(struct usn_cursor c, struct usn_ipv4_repr *r, bool csum_ok);
/* Writes a 20-byte header (no options); the checksum too unless the port
 * fills it (fill_csum false leaves it 0). */
void usn_ipv4_emit(const struct usn_ipv4_repr *r, uint8_t *p, bool fill_csum);
static inline bool usn_ipv4_is_fragment(const struct usn_ipv4_repr *r)
{
	return (r->frag & (USN_IPV4_MF | USN_IPV4_OFFMASK)) != 0;
}

/* ---- ICMP (RFC 792): echo ---- */
#define USN_ICMP_ECHO_REPLY 0
#define USN_ICMP_ECHO_REQUEST 8
struct usn_icmp_repr {
	uint8_t type, code;
	uint16_t ident, seq; /* echo */
};
/* Checks the length (8 bytes at least) and the checksum over the whole
 * message (header and data). */
enum usn_wire_err usn_icmp_parse(struct usn_cursor c, struct usn_icmp_repr *r);
/* Writes the 8-byte header with the checksum computed from data_sum, the
 * partial sum of the data that follows. */
void usn_icmp_emit(const struct usn_icmp_repr *r, uint8_t *p, uint32_t data_sum);

/* ---- ICMP errors (RFC 792, RFC 1122 3.2.2, RFC 1191, RFC 5927) ---- */
#define USN_ICMP_DEST_UNREACH 3
#define USN_ICMP_TIME_EXCEEDED 11
#define USN_ICMP_UNREACH_NET 0
#define USN_ICMP_UNREACH_HOST 1
#define USN_ICMP_UNREACH_PROTO 2
#define USN_ICMP_UNREACH_PORT 3
#define USN_ICMP_UNREACH_FRAG_NEEDED 4 /* RFC 1191: next-hop MTU in the header's last two bytes */
/* What an ICMP or ICMPv6 error quotes of the packet that caused it: the IP
 * header and the first 8 bytes of its TCP header (RFC 792, RFC 4443 3),
 * which is all this stack reads (ports and sequence number). `family`
 * says which addresses hold: src and dst for IPv4, src6 and dst6 for
 * IPv6 (type and code are then ICMPv6's, and next_hop_mtu a packet too
 * big's MTU). */
struct usn_icmp_err_repr {
	uint8_t type, code;
	uint16_t next_hop_mtu;      /* destination unreachable code 4 (IPv4), packet too big (IPv6,
				     * at most 65535); else 0 */
	uint32_t src, dst;          /* IPv4: the quoted packet's addresses (ours, the peer's) */
	uint16_t total_len;         /* the quoted packet's total length (RFC 1191's plateau search;
				     * IPv6: 40 + its payload length, at most 65535) */
	uint16_t src_port, dst_port;
	uint32_t seq;
	uint8_t family;             /* enum usn_addr_family */
	uint8_t src6[16], dst6[16]; /* IPv6: the quoted packet's addresses (ours, the peer's) */
};
/* Parses an error message (type 3 or 11, checksum already checked by
 * usn_icmp_parse) whose quoted packet is IPv4 TCP: the 8-byte ICMP header,
 * a quoted header of version 4 with IHL >= 5 all present, at least 8 bytes
 * after it, and a first fragment. USN_WIRE_SHORT, USN_WIRE_VERSION,
 * USN_WIRE_HDRLEN or USN_WIRE_MALFORMED (another protocol, a later
 * fragment) otherwise. */
enum usn_wire_err usn_icmp_err_parse(struct usn_cursor c, struct usn_icmp_err_repr *r);
/* Whether an ICMP message of this type is an error (destination
 * unreachable, source quench, redirect, time exceeded, parameter problem):
 * no error is ever sent about one (RFC 1122 3.2.2). Unknown types count as
 * errors, so nothing answers them either. */
bool usn_icmp_type_is_error(uint8_t type);
/* Writes the 8-byte header of an ICMP error (type, code, the 32-bit word
 * after the checksum: unused 0, or the next-hop MTU for fragmentation
 * needed) with the checksum computed from data_sum, the partial sum of the
 * quoted bytes that follow. */
void usn_icmp_error_emit(uint8_t type, uint8_t code, uint32_t rest, uint8_t *p, uint32_t data_sum);

/* ---- UDP (RFC 768) ---- */
#define USN_UDP_HDR_LEN 8
struct usn_udp_repr {
	uint16_t src_port, dst_port;
	uint16_t len; /* header + data, from the length field */
};
/* Parses the datagram in c (the whole IP payload) sent from src to dst
 * (IPv4, host order): USN_WIRE_SHORT for fewer than 8 bytes or a length
 * field below 8, USN_WIRE_LEN for a length field beyond the payload,
 * USN_WIRE_CSUM for a wrong checksum over the first len bytes and the
 * pseudo-header (unless csum_ok: the port verified it). A zero checksum
 * field means the sender computed none and is accepted (RFC 768; IPv4
 * only). A payload longer than the length field is not an error: the
 * datagram is the first len bytes (RFC 768, RFC 1122 4.1.3.4's "silently
 * discard" applies to the longer field only). */
enum usn_wire_err usn_udp_parse_ipv4(struct usn_cursor c, uint32_t src, uint32_t dst, bool csum_ok,
				     struct usn_udp_repr *r);
/* The ports of a UDP header, for steering (same layout as TCP's). */
enum usn_wire_err usn_udp_ports_parse(struct usn_cursor c, uint16_t *src_port, uint16_t *dst_port);
/* Writes the 8-byte header for an IPv4 datagram from src to dst with its
 * checksum, computed from data_sum, the partial sum of the r->len - 8 data
 * bytes that follow (a computed 0 is sent as 0xffff, RFC 768). */
void usn_udp_emit_ipv4(const struct usn_udp_repr *r, uint32_t src, uint32_t dst, uint8_t *p, uint32_t data_sum);
/* The same over IPv6 (RFC 8200 8.1): the pseudo-header of src and dst
 * (16 bytes each, network order). The checksum is mandatory there: a zero
 * checksum field is USN_WIRE_MALFORMED (the receiver discards it, RFC
 * 8200 8.1), checked even when csum_ok; the other results as for IPv4. */
enum usn_wire_err usn_udp_parse_ipv6(struct usn_cursor c, const uint8_t src[16], const uint8_t dst[16],
				     bool csum_ok, struct usn_udp_repr *r);
/* Writes the 8-byte header of an IPv6 datagram from src to dst with its
 * checksum (a computed 0 is sent as 0xffff: zero is not allowed). */
void usn_udp_emit_ipv6(const struct usn_udp_repr *r, const uint8_t src[16], const uint8_t dst[16], uint8_t *p,
		       uint32_t data_sum);

/* ---- TCP (RFC 9293) with options (RFC 7323, 2018) ---- */
#define USN_TCP_HDR_LEN 20
#define USN_TCP_MAX_HDR_LEN 60
#define USN_TCP_FIN 0x01
#define USN_TCP_SYN 0x02
#define USN_TCP_RST 0x04
#define USN_TCP_PSH 0x08
#define USN_TCP_ACK 0x10
#define USN_TCP_URG 0x20
#define USN_TCP_ECE 0x40
#define USN_TCP_CWR 0x80
#define USN_TCP_MAX_SACK 4

struct usn_tcp_sack_block {
	uint32_t left, right; /* [left, right) */
};
struct usn_tcp_repr {
	uint16_t src_port, dst_port;
	uint32_t seq, ack;
	uint8_t flags;
	uint8_t hdr_len; /* bytes, options included */
	uint16_t window; /* unscaled, as on the wire */
	uint16_t urgent;
	/* options */
	bool has_mss, has_wscale, sack_permitted, has_ts;
	uint16_t mss;
	uint8_t wscale; /* as sent (the receiver clamps to 14, RFC 7323 2.3) */
	uint32_t ts_val, ts_ecr;
	uint8_t n_sack;
	struct usn_tcp_sack_block sack[USN_TCP_MAX_SACK];
};
/* Parses the header and its options; option kinds it does not know are
 * skipped by their length; a length that runs past the header, or a known
 * option with the wrong length, is USN_WIRE_BADOPT. Does not check the
 * checksum (the caller sums header and data once, with the pseudo-header). */
enum usn_wire_err usn_tcp_parse(struct usn_cursor c, struct usn_tcp_repr *r);
/* The ports of a TCP header (its first four bytes), for steering a segment
 * to its worker before anything else of it is read. */
enum usn_wire_err usn_tcp_ports_parse(struct usn_cursor c, uint16_t *src_port, uint16_t *dst_port);
/* The header length emit will write for r's options (multiple of 4). */
uint8_t usn_tcp_hdr_len(const struct usn_tcp_repr *r);
/* Writes header and options, checksum field 0; returns the length written. */
uint8_t usn_tcp_emit(const struct usn_tcp_repr *r, uint8_t *p);

/* ---- IPv6 (RFC 8200) and its extension headers ---- */
#define USN_IPV6_HDR_LEN 40
#define USN_IPPROTO_HOPOPTS 0
#define USN_IPPROTO_ROUTING 43
#define USN_IPPROTO_FRAGMENT 44
#define USN_IPPROTO_ICMPV6 58
#define USN_IPPROTO_NONE 59
#define USN_IPPROTO_DSTOPTS 60
/* The walk's limits: a host has no use for long chains, and each header
 * costs a read; beyond them the packet is dropped (RFC 8200 4 lets a node
 * discard what it cannot process; RFC 9098 describes the attacks). */
#define USN_IPV6_MAX_EXT_HDRS 8
#define USN_IPV6_MAX_EXT_BYTES 512

/* IPv6 parse results (a separate set from usn_wire_err: each maps to its
 * own drop counter). */
enum usn_ipv6_err {
	USN_IPV6_OK = 0,
	USN_IPV6_SHORT,         /* fewer than 40 bytes */
	USN_IPV6_VERSION,       /* version != 6 */
	USN_IPV6_LEN,           /* payload length past the bytes present */
	USN_IPV6_EXT_MALFORMED, /* an extension header or option past its bounds, hop-by-hop not first */
	USN_IPV6_EXT_LIMIT,     /* more than USN_IPV6_MAX_EXT_HDRS headers or _BYTES bytes */
	USN_IPV6_EXT_UNKNOWN,   /* a header or option a host must not skip (AH, ESP, a routing
				 * header with segments left, an option whose type says discard) */
};

struct usn_ipv6_repr {
	uint8_t src[16], dst[16];
	uint32_t flow_label;
	uint16_t payload_len; /* from the fixed header: extension headers and upper layer */
	uint16_t hdr_len;     /* 40 + the extension headers walked: the upper layer's offset */
	uint8_t tclass, hop_limit;
	uint8_t next_header; /* the upper-layer protocol, after every extension header */
	uint8_t n_ext;       /* extension headers walked */
	bool fragment;       /* a fragment header of a real fragment (not atomic, RFC 6946):
			      * the walk stops there; the caller counts and drops */
};
/* Validates version and payload length against the bytes present (the
 * frame may carry Ethernet padding after it), then walks the extension
 * headers (hop-by-hop first only; destination options; a routing header
 * with no segments left; fragment) within the limits above. Options of
 * hop-by-hop and destination-option headers are walked too: Pad1, PadN and
 * unknown ones whose type says "skip" pass (RFC 8200 4.2). */
enum usn_ipv6_err usn_ipv6_parse(struct usn_cursor c, struct usn_ipv6_repr *r);
/* Writes the 40-byte fixed header (next_header is the upper layer's). */
void usn_ipv6_emit(const struct usn_ipv6_repr *r, uint8_t *p);

static inline bool usn_ipv6_is_multicast(const uint8_t a[16])
{
	return a[0] == 0xff;
}
static inline bool usn_ipv6_is_unspecified(const uint8_t a[16])
{
	for (int i = 0; i < 16; i++)
		if (a[i])
			return false;
	return true;
}
static inline bool usn_ipv6_is_link_local(const uint8_t a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}
/* The solicited-node multicast address of a (RFC 4291 2.7.1). */
void usn_ipv6_solicited_node(const uint8_t a[16], uint8_t out[16]);
/* The Ethernet group address of an IPv6 multicast address (RFC 2464 7). */
void usn_ipv6_mcast_mac(const uint8_t a[16], uint8_t mac[6]);
/* Whether a and b agree in their first prefix_len bits. */
bool usn_ipv6_prefix_eq(const uint8_t a[16], const uint8_t b[16], uint8_t prefix_len);

/* ---- ICMPv6 (RFC 4443) and Neighbour Discovery (RFC 4861) ---- */
#define USN_ICMP6_HDR_LEN 8
#define USN_ICMP6_ECHO_REQUEST 128
#define USN_ICMP6_ECHO_REPLY 129
#define USN_ICMP6_ND_NS 135
#define USN_ICMP6_ND_NA 136
#define USN_ND_OPT_SLLA 1
#define USN_ND_OPT_TLLA 2
#define USN_ND_NA_ROUTER 0x80
#define USN_ND_NA_SOLICITED 0x40
#define USN_ND_NA_OVERRIDE 0x20
#define USN_ND_LEN 24     /* NS and NA without options */
#define USN_ND_LLA_LEN 8  /* a link-layer address option for Ethernet */

struct usn_icmp6_repr {
	uint8_t type, code;
	uint16_t ident, seq; /* echo */
};
/* Checks the length (4 bytes at least; 8 for echo) and the checksum over
 * the pseudo-header (src, dst, the message's length) and the whole message. */
enum usn_wire_err usn_icmp6_parse(struct usn_cursor c, const uint8_t src[16], const uint8_t dst[16],
				  struct usn_icmp6_repr *r);
/* Writes an echo's 8-byte header with the checksum from data_sum (the data
 * after it) and the pseudo-header of src, dst and the message's length. */
void usn_icmp6_echo_emit(const struct usn_icmp6_repr *r, uint8_t *p, const uint8_t src[16], const uint8_t dst[16],
			 uint16_t len, uint32_t data_sum);

/* ICMPv6 errors (RFC 4443 3, RFC 8201). */
#define USN_ICMP6_DEST_UNREACH 1
#define USN_ICMP6_PACKET_TOO_BIG 2
#define USN_ICMP6_TIME_EXCEEDED 3
#define USN_ICMP6_PARAM_PROBLEM 4
#define USN_ICMP6_UNREACH_NO_ROUTE 0
#define USN_ICMP6_UNREACH_ADMIN 1
#define USN_ICMP6_UNREACH_ADDR 3
#define USN_ICMP6_UNREACH_PORT 4
#define USN_ICMP6_ND_REDIRECT 137
#define USN_IPV6_MIN_MTU 1280 /* RFC 8200 5: every link carries it */
/* Whether an ICMPv6 message of this type is an error (types 0..127, RFC
 * 4443 2.1): no error is ever sent about one (RFC 4443 2.4 e.1). */
static inline bool usn_icmp6_type_is_error(uint8_t type)
{
	return type < 128;
}
/* Parses an error message (destination unreachable, packet too big, time
 * exceeded; checksum already checked by usn_icmp6_parse) whose quoted
 * packet is IPv6 TCP: the 8-byte ICMPv6 header, a quoted fixed header of
 * version 6 whose next header is TCP (a quote with extension headers is
 * not read), and at least the first 8 bytes of the TCP header. Fills r
 * with family USN_AF_INET6; a packet too big's MTU lands in next_hop_mtu
 * (clamped to 65535). USN_WIRE_SHORT, USN_WIRE_VERSION or
 * USN_WIRE_MALFORMED (another type or protocol) otherwise. */
enum usn_wire_err usn_icmp6_err_parse(struct usn_cursor c, struct usn_icmp_err_repr *r);
/* Writes the 8-byte header of an ICMPv6 error (type, code, the 32-bit word
 * after the checksum: unused 0, a packet too big's MTU, a parameter
 * problem's pointer) from src to dst, len bytes in all (header and quote),
 * with the checksum from data_sum, the partial sum of the quote that
 * follows, and the pseudo-header. */
void usn_icmp6_error_emit(uint8_t type, uint8_t code, uint32_t rest, uint8_t *p, const uint8_t src[16],
			  const uint8_t dst[16], uint32_t len, uint32_t data_sum);

/* A neighbour solicitation or advertisement: the target and the one
 * link-layer address option that type carries (source for NS, target for
 * NA; the other kind is ignored, RFC 4861 7.1). */
struct usn_nd_repr {
	uint8_t type;  /* USN_ICMP6_ND_NS or _NA */
	uint8_t flags; /* NA: USN_ND_NA_* */
	uint8_t target[16];
	bool has_lla;
	uint8_t lla[6];
};
/* Parses an NS or NA whose ICMPv6 checksum was checked: length at least
 * 24, every option of non-zero length and inside the message (RFC 4861
 * 7.1.1, 7.1.2), a link-layer option of Ethernet's 8 bytes. BADOPT for an
 * option that breaks these; SHORT for a short message. */
enum usn_wire_err usn_nd_parse(struct usn_cursor c, struct usn_nd_repr *r);
/* Writes r (with its link-layer option if has_lla) and its checksum for
 * src and dst; returns the length written (24 or 32). */
uint16_t usn_nd_emit(const struct usn_nd_repr *r, uint8_t *p, const uint8_t src[16], const uint8_t dst[16]);

#endif
