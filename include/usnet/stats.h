/* libusnet statistics: per-worker counters and gauges, written only by the
 * owning worker (no atomics, no sharing), read through a snapshot. */
#ifndef USNET_STATS_H
#define USNET_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X-macro so names, struct fields and printing never drift apart.
 * Each drop reason is its own counter (one exit per drop kind, as BSD). */
#define USN_STATS_FIELDS(X)                                                                       \
	X(rx_frames) X(rx_bytes) X(tx_frames) X(tx_bytes) X(tx_full)                                  \
	X(rx_bursts) X(idle_polls)                                                                    \
	X(drop_eth_short) X(drop_eth_not_for_us) X(drop_eth_type)                                     \
	X(drop_arp_malformed) X(drop_arp_not_for_us)                                                  \
	X(drop_ip_short) X(drop_ip_version) X(drop_ip_ihl) X(drop_ip_len) X(drop_ip_csum)             \
	X(drop_ip_ttl) X(drop_ip_fragment) X(drop_ip_not_for_us) X(drop_ip_proto)                     \
	X(drop_icmp_malformed) X(drop_icmp_csum) X(drop_icmp_type)                                    \
	X(drop_tcp_malformed) X(drop_tcp_csum) X(drop_tcp_no_conn) X(drop_tcp_not_acceptable)         \
	X(drop_tcp_opts) X(drop_tcp_cookie_pool_full) X(drop_tcp_ooo_full) X(drop_tcp_paws)            \
	X(drop_no_buf) X(drop_arp_queue_full) X(drop_arp_unresolved) X(drop_steer_full)              \
	X(drop_tcp_ooo_budget) X(tcp_send_conn_cap) X(tcp_send_no_desc)                               \
	X(arp_requests_rx) X(arp_replies_rx) X(arp_requests_tx) X(arp_replies_tx)                     \
	X(arp_gratuitous_tx) X(arp_learned) X(arp_expired) X(arp_failed) X(arp_sender_refused)        \
	X(icmp_echo_rx) X(icmp_echo_tx)                                                               \
	X(icmp_unreach_rx) X(icmp_time_exceeded_rx) X(drop_icmp_err_quote) X(icmp_err_no_conn)         \
	X(icmp_err_bad_seq) X(tcp_icmp_soft) X(tcp_icmp_hard) X(tcp_pmtu_lowered) X(tcp_pmtu_ignored)   \
	X(tcp_pmtu_cached_opens) X(pmtu_updates) X(pmtu_expired) X(pmtu_evicted)                       \
	X(tcp_rx_segs) X(tcp_tx_segs) X(tcp_rx_bytes) X(tcp_tx_bytes) X(tcp_retrans_segs)             \
	X(tcp_fast_retrans) X(tcp_rto_fired) X(tcp_rst_tx) X(tcp_rst_rx) X(tcp_challenge_acks)        \
	X(tcp_syncookies_sent) X(tcp_syncookies_ok) X(tcp_syncookies_bad)                             \
	X(tcp_syncookies_backlog_full) X(tcp_syncookies_pool_full)                                   \
	X(tcp_passive_opens) X(tcp_active_opens) X(tcp_established) X(tcp_closed) X(tcp_resets)       \
	X(tcp_timewait_reused) X(tcp_timewait_overflow) X(tcp_ooo_segs) X(tcp_dup_acks)               \
	X(tcp_zero_window_probes) X(tcp_pool_empty) X(tcp_idle_timeouts)                               \
	X(tcp_deadline_timeouts) X(tcp_timewait_rst_ignored) X(drop_tcp_zero_window)                   \
	X(tcp_probe_timeouts) X(tcp_challenge_acks_skipped)                                           \
	X(steer_tx) X(steer_rx) X(tcp_spurious_rto) X(timers_fired)                                    \
	X(rx_coalesced) X(gro_frames) X(gro_segs) X(tcp_tso_frames) X(tcp_zcopy_bytes)                 \
	X(udp_rx_dgrams) X(udp_rx_bytes) X(udp_tx_dgrams) X(udp_tx_bytes) X(drop_udp_no_port)          \
	X(drop_udp_csum) X(drop_udp_short) X(drop_udp_len) X(icmp_errors_tx) X(icmp_errors_suppressed) \
	USN_STATS_IPV6(X)                                                                             \
	USN_STATS_TCP6(X)                                                                             \
	USN_STATS_GAUGES(X)

/* IPv6: drops by reason (the extension-header walk's limits, fragments,
 * transports not served yet), ICMPv6, and Neighbour Discovery: every
 * message that fails RFC 4861 7.1's validation counts in drop_nd_invalid
 * (hop limit not 255 in drop_nd_hop_limit), a solicitation from a source
 * that is not on the link in drop_nd_src; nd_dad_conflicts counts our
 * addresses found in use elsewhere. UDP over IPv6 counts in the UDP
 * counters below, but for drop_udp6_zero_csum: datagrams with a zero
 * checksum field, which IPv6 forbids (RFC 8200 8.1). ICMPv6 errors
 * received: icmp6_unreach_rx, icmp6_pkt_too_big_rx and
 * icmp6_time_exceeded_rx count them by type, drop_icmp6_err_quote those
 * whose quoted packet is short, not IPv6 TCP (extension headers in the
 * quote are not read) or not from one of our addresses; the rest go to
 * TCP as IPv4's do (icmp_err_no_conn and on). Errors sent about IPv6
 * packets count in icmp_errors_tx and icmp_errors_suppressed with IPv4's:
 * the two families share one token bucket. */
#define USN_STATS_IPV6(X)                                                                         \
	X(drop_ip6_short) X(drop_ip6_version) X(drop_ip6_len) X(drop_ip6_ext_malformed)               \
	X(drop_ip6_ext_limit) X(drop_ip6_ext_unknown) X(drop_ip6_fragment) X(drop_ip6_not_for_us)     \
	X(drop_ip6_src) X(drop_ip6_proto)                                                             \
	X(drop_icmp6_malformed) X(drop_icmp6_csum) X(drop_icmp6_type) X(icmp6_echo_rx) X(icmp6_echo_tx) \
	X(drop_nd_invalid) X(drop_nd_hop_limit) X(drop_nd_src) X(drop_nd_not_for_us)                  \
	X(drop_nd_queue_full) X(drop_nd_unresolved)                                                   \
	X(nd_ns_rx) X(nd_na_rx) X(nd_ns_tx) X(nd_na_tx) X(nd_unsolicited_na_tx) X(nd_dad_ns_tx)       \
	X(nd_dad_conflicts) X(nd_learned) X(nd_expired) X(nd_failed)                                  \
	X(drop_udp6_zero_csum) X(icmp6_unreach_rx) X(icmp6_pkt_too_big_rx) X(icmp6_time_exceeded_rx)  \
	X(drop_icmp6_err_quote)

/* TCP over IPv6: tcp6_rx_segs and tcp6_tx_segs count its segments (also
 * counted in tcp_rx_segs and tcp_tx_segs); tcp6_tso_skipped the segments
 * an IPv6 connection sent MSS by MSS where an IPv4 one would have put
 * them in a large segment for the port's TSO (whose contract is IPv4's, as
 * its checksum offload's is: IPv6 segments are summed in software). GRO
 * merges IPv4 segments only: IPv6 ones reach TCP one by one. */
#define USN_STATS_TCP6(X) X(tcp6_rx_segs) X(tcp6_tx_segs) X(tcp6_tso_skipped)

/* Gauges: levels, not counts (they go down as well as up). Connections by
 * TCP state, kept by the one function every transition goes through (two
 * additions per transition); LISTEN and CLOSED have none (a listener is
 * no connection; a closed TCB is free). Summed over workers they are the
 * stack's connections in each state. */
#define USN_STATS_GAUGES(X)                                                                       \
	X(conns_syn_sent) X(conns_syn_received) X(conns_established) X(conns_close_wait)              \
	X(conns_close_pending) X(conns_close_pending_rcvd_fin) X(conns_fin_wait_1) X(conns_closing)   \
	X(conns_last_ack) X(conns_fin_wait_2) X(conns_time_wait)

/* SYN cookies (RFC 4987): tcp_syncookies_sent counts every SYN answered
 * with one, tcp_syncookies_backlog_full those sent because tcp_syn_backlog
 * connections were half open, tcp_syncookies_pool_full those sent because
 * no TCB was free (TIME-WAIT's recycled first); tcp_syncookies_ok the ACKs
 * that made a connection from one, tcp_syncookies_bad the ACKs whose
 * cookie failed, drop_tcp_cookie_pool_full the valid ones dropped because
 * still no TCB was free (the client retransmits; nothing established is
 * touched). tcp_pool_empty counts every TCB asked for and not found.
 *
 * Large segments: rx_coalesced counts frames the port delivered coalesced
 * (LRO); gro_frames the frames the stack's own GRO merged and passed on,
 * gro_segs the segments it merged into an earlier one (each a TCP input
 * saved); tcp_tso_frames the large segments handed to a TSO port (its
 * pieces count in tcp_tx_segs); tcp_zcopy_bytes the bytes sent without a
 * copy, the port reading them in place (usn_stack_tx_region). */
/* ICMP errors and path MTU (RFC 1191, 1122 4.2.3.9, 5927):
 * icmp_unreach_rx and icmp_time_exceeded_rx count the messages received,
 * drop_icmp_err_quote those whose quoted packet is short, malformed, not
 * TCP or not from this host (a message handed to the worker that owns the
 * connection counts on both); icmp_err_no_conn those quoting a connection
 * that does not exist, icmp_err_bad_seq those whose quoted sequence number
 * lies outside SND.UNA..SND.NXT (ignored: blind attacks). Of the accepted:
 * tcp_pmtu_lowered "fragmentation needed" that lowered a connection's MSS
 * (its data then retransmitted at once at the new size), tcp_pmtu_ignored
 * those that would not lower it; tcp_icmp_hard the connections an error
 * aborted in SYN-SENT, tcp_icmp_soft the errors recorded against a
 * connection (told as the close reason if it then times out).
 * pmtu_updates counts what the per-worker path MTU cache learned,
 * pmtu_expired its entries that timed out (back to the interface MTU),
 * pmtu_evicted those a full cache replaced, tcp_pmtu_cached_opens the new
 * connections that started from a cached, smaller MTU. */
/* UDP: udp_rx_dgrams counts datagrams given to a bound port's handler
 * (udp_rx_bytes their payload), udp_tx_dgrams those sent (udp_tx_bytes
 * their payload); drop_udp_no_port the datagrams to a port nobody bound
 * (each answered with port unreachable, unless that is forbidden or
 * limited), drop_udp_csum those with a wrong checksum, drop_udp_short
 * those under 8 bytes or with a length field under 8, drop_udp_len those
 * whose length field runs past the IP payload. icmp_errors_tx counts the
 * ICMP errors sent, icmp_errors_suppressed those the rate limit held back
 * (usnet/stack.h: icmp_error_rate), ICMPv6 errors included. The path MTU
 * cache's counters (above) count IPv6's cache too. */
struct usn_stats {
#define USN_STATS_DECLARE(name) uint64_t name;
	USN_STATS_FIELDS(USN_STATS_DECLARE)
#undef USN_STATS_DECLARE
};

/* Number of counters and the name of counter i (for printing and telemetry). */
size_t usn_stats_count(void);
const char *usn_stats_name(size_t i);
/* Whether entry i is a gauge (USN_STATS_GAUGES) rather than a counter: a
 * rate or a difference of two snapshots means nothing for it. */
bool usn_stats_is_gauge(size_t i);
/* Counter i of s, by the same index. */
uint64_t usn_stats_value(const struct usn_stats *s, size_t i);
/* dst += src, field by field. */
void usn_stats_add(struct usn_stats *dst, const struct usn_stats *src);

/* Cost centres (a build with USN_PROFILE=1, e.g. `make O=build-prof
 * USN_PROFILE=1`): every cycle of a worker's poll loop (usn_worker_run, or
 * each usn_worker_poll) charged to exactly one category, exclusive of the
 * categories nested in it: driver, net, tcp_in, tcp_out, csum, copy, app,
 * timers, idle, other. Cycles are the TSC on x86, else the HAL clock. */
struct usn_worker;
/* Number of categories and the name of category i (NULL past the end). */
size_t usn_prof_count(void);
const char *usn_prof_name(size_t i);
/* Writes the first min(n, usn_prof_count()) categories' cycles of worker w
 * (complete poll rounds) into cycles and returns how many it wrote, or
 * -ENOTSUP without USN_PROFILE. Exact once the worker stopped; while it
 * runs, read it only on the worker's thread. */
int usn_worker_prof(const struct usn_worker *w, uint64_t *cycles, size_t n);

#endif
