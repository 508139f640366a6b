/* libusnet stack object (lib/stack): configuration defaults and checks, and
 * the assembly of every worker: its ground floor (lib/core), its ARP cache
 * (lib/net), its TCP tables (lib/tcp) and its UDP ports (lib/udp). All memory a worker will ever use
 * is allocated here, on its node, so the per-packet path never calls malloc. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/siphash.h"
#include "core/worker.h"
#include "net/net.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "usnet/stack.h"

/* Slots of each inter-worker ring (one per ordered pair of workers): room for
 * several bursts of steered frames plus ARP news. */
#define USN_INBOX_SLOTS 1024u
/* TCBs per worker at most: 10 GiB of tables, and four send descriptors
 * each still count in 32 bits. */
#define USN_TCP_MAX_CONNS_LIMIT (1u << 24)

void usn_stack_config_init(struct usn_stack_config *cfg, uint32_t ip, uint8_t prefix_len)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ip = ip;
	cfg->prefix_len = prefix_len;
}

static bool usn_mac_is_zero(const uint8_t mac[6])
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

static uint32_t usn_prefix_mask(uint8_t prefix_len)
{
	return prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len);
}

static bool usn_secret_given(const struct usn_stack_config *cfg)
{
	const uint32_t *k = cfg->tcp_cookie_secret;
	return (k[0] | k[1] | k[2] | k[3]) != 0;
}

static bool usn_ip6_is_zero(const uint8_t a[16])
{
	for (int i = 0; i < 16; i++)
		if (a[i])
			return false;
	return true;
}

#define USN_CFG_FAIL(...)                                                                                    \
	do {                                                                                                     \
		if (msg && msg_len)                                                                              \
			snprintf(msg, msg_len, __VA_ARGS__);                                                     \
		return -EINVAL;                                                                                  \
	} while (0)

/* The IPv6 part of the configuration: global unicast addresses only (the
 * link-local one comes from the MAC), each once, prefixes 1..128. */
static int usn_ipv6_config_check(const struct usn_stack_config *cfg, char *msg, size_t msg_len)
{
	static const uint8_t loopback[16] = {[15] = 1};
	static const uint8_t v4mapped[12] = {[10] = 0xff, [11] = 0xff};
	if (cfg->n_ip6 > USN_IPV6_ADDRS_MAX)
		USN_CFG_FAIL("n_ip6: %u addresses, at most %u", (unsigned)cfg->n_ip6, (unsigned)USN_IPV6_ADDRS_MAX);
	for (unsigned i = 0; i < cfg->n_ip6; i++) {
		const uint8_t *a = cfg->ip6[i].addr;
		if (usn_ip6_is_zero(a) || memcmp(a, loopback, 16) == 0)
			USN_CFG_FAIL("ip6[%u]: the unspecified or loopback address", i);
		if (a[0] == 0xff)
			USN_CFG_FAIL("ip6[%u]: a multicast address", i);
		if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
			USN_CFG_FAIL("ip6[%u]: a link-local address (the stack makes its own from the MAC)", i);
		if (memcmp(a, v4mapped, 12) == 0)
			USN_CFG_FAIL("ip6[%u]: an IPv4-mapped address", i);
		if (cfg->ip6[i].prefix_len > 128)
			USN_CFG_FAIL("ip6[%u]: prefix length %u is not in 1..128", i, (unsigned)cfg->ip6[i].prefix_len);
		for (unsigned j = 0; j < i; j++)
			if (memcmp(a, cfg->ip6[j].addr, 16) == 0)
				USN_CFG_FAIL("ip6[%u]: the same address as ip6[%u]", i, j);
	}
	const uint8_t *g = cfg->gateway6;
	if (!usn_ip6_is_zero(g) && (g[0] == 0xff || memcmp(g, loopback, 16) == 0))
		USN_CFG_FAIL("gateway6: a multicast or loopback address");
	return 0;
}

int usn_stack_config_check(const struct usn_stack_config *cfg, const struct usn_hal *hal, char *msg, size_t msg_len)
{
	if (msg && msg_len)
		msg[0] = '\0';
	if (!cfg || !hal)
		USN_CFG_FAIL("config: cfg and hal are required");
	uint8_t prefix = cfg->prefix_len ? cfg->prefix_len : 24;
	uint32_t mask = usn_prefix_mask(prefix);
	if (cfg->ip == 0)
		USN_CFG_FAIL("ip: the interface address is required");
	if ((cfg->ip >> 28) >= 14 || (cfg->ip >> 24) == 127)
		USN_CFG_FAIL("ip: multicast, reserved or loopback address");
	if (prefix > 32)
		USN_CFG_FAIL("prefix_len: %u is not in 1..32", (unsigned)cfg->prefix_len);
	if (prefix < 31 && ((cfg->ip & ~mask) == 0 || (cfg->ip & ~mask) == ~mask))
		USN_CFG_FAIL("ip: the network or broadcast address of its /%u", (unsigned)prefix);
	if (cfg->gateway && ((cfg->gateway ^ cfg->ip) & mask) != 0)
		USN_CFG_FAIL("gateway: not on the interface's /%u", (unsigned)prefix);
	if (cfg->gateway && cfg->gateway == cfg->ip)
		USN_CFG_FAIL("gateway: equals ip");
	if (!usn_mac_is_zero(cfg->mac) && (cfg->mac[0] & 1))
		USN_CFG_FAIL("mac: a multicast address");
	if (usn_mac_is_zero(cfg->mac) && usn_mac_is_zero(hal->mac))
		USN_CFG_FAIL("mac: zero, and the port has no address");
	if (hal->n_queues == 0)
		USN_CFG_FAIL("n_workers: the port has no queues");
	if (cfg->n_workers > hal->n_queues)
		USN_CFG_FAIL("n_workers: %u exceeds the port's %u queues", (unsigned)cfg->n_workers,
			     (unsigned)hal->n_queues);
	if (cfg->mtu && (cfg->mtu < 68 || cfg->mtu > hal->mtu))
		USN_CFG_FAIL("mtu: %u is not in 68..%u", (unsigned)cfg->mtu, (unsigned)hal->mtu);
	if (hal->mtu < 68)
		USN_CFG_FAIL("mtu: the port's %u is below 68", (unsigned)hal->mtu);
	if (cfg->tcp_delack_ms > 500)
		USN_CFG_FAIL("tcp_delack_ms: %u exceeds 500 (RFC 9293 3.8.6.3)", (unsigned)cfg->tcp_delack_ms);
	if (cfg->tcp_rto_min_ms && cfg->tcp_rto_max_ms && cfg->tcp_rto_min_ms > cfg->tcp_rto_max_ms)
		USN_CFG_FAIL("tcp_rto_min_ms: above tcp_rto_max_ms");
	if (cfg->tcp_max_conns > USN_TCP_MAX_CONNS_LIMIT)
		USN_CFG_FAIL("tcp_max_conns: %u is too many (at most %u per worker)", (unsigned)cfg->tcp_max_conns,
			     (unsigned)USN_TCP_MAX_CONNS_LIMIT);
	if (cfg->tcp_max_timewait && cfg->tcp_max_conns && cfg->tcp_max_timewait > cfg->tcp_max_conns)
		USN_CFG_FAIL("tcp_max_timewait: above tcp_max_conns");
	if (cfg->tcp_probe_retries > 255)
		USN_CFG_FAIL("tcp_probe_retries: %u exceeds 255", (unsigned)cfg->tcp_probe_retries);
	if (cfg->tcp_orphan_probe_retries > 255)
		USN_CFG_FAIL("tcp_orphan_probe_retries: %u exceeds 255", (unsigned)cfg->tcp_orphan_probe_retries);
	if (cfg->tcp_challenge_ack_limit > (1u << 30))
		USN_CFG_FAIL("tcp_challenge_ack_limit: %u is too many", (unsigned)cfg->tcp_challenge_ack_limit);
	if (hal->n_bufs && cfg->tcp_ooo_max_bufs > hal->n_bufs)
		USN_CFG_FAIL("tcp_ooo_max_bufs: %u exceeds the %u buffers the port gives each queue",
			     (unsigned)cfg->tcp_ooo_max_bufs, (unsigned)hal->n_bufs);
	if (cfg->tcp_sendq_per_conn > 65535)
		USN_CFG_FAIL("tcp_sendq_per_conn: %u exceeds 65535", (unsigned)cfg->tcp_sendq_per_conn);
	if (cfg->timer_hz > 1000000)
		USN_CFG_FAIL("timer_hz: %u exceeds 1000000", (unsigned)cfg->timer_hz);
	if (cfg->pmtu_min && cfg->pmtu_min < 68)
		USN_CFG_FAIL("pmtu_min: %u is below 68", (unsigned)cfg->pmtu_min);
	if (cfg->pmtu_entries > (1u << 20))
		USN_CFG_FAIL("pmtu_entries: %u is too many", (unsigned)cfg->pmtu_entries);
	if (cfg->udp_max_ports > 65535)
		USN_CFG_FAIL("udp_max_ports: %u exceeds 65535", (unsigned)cfg->udp_max_ports);
	if (cfg->icmp_error_rate > 1000000)
		USN_CFG_FAIL("icmp_error_rate: %u exceeds 1000000 per second", (unsigned)cfg->icmp_error_rate);
	if (cfg->icmp_error_burst > 1000000)
		USN_CFG_FAIL("icmp_error_burst: %u exceeds 1000000", (unsigned)cfg->icmp_error_burst);
	if (cfg->arp_entries > (1u << 24))
		USN_CFG_FAIL("arp_entries: %u is too many", (unsigned)cfg->arp_entries);
	if (cfg->arp_queue_len > (1u << 20))
		USN_CFG_FAIL("arp_queue_len: %u is too many", (unsigned)cfg->arp_queue_len);
	if (cfg->bufs_per_worker > (1u << 20))
		USN_CFG_FAIL("bufs_per_worker: %u is too many", (unsigned)cfg->bufs_per_worker);
	if (hal->buf_size < 128)
		USN_CFG_FAIL("buf_size: the port's %u bytes cannot hold the stack's headers", (unsigned)hal->buf_size);
	if (!usn_secret_given(cfg) && !hal->ops->random)
		USN_CFG_FAIL("tcp_cookie_secret: none given, and the port has no random source for the stack's keys");
	if (usn_ipv6_config_check(cfg, msg, msg_len) != 0)
		return -EINVAL;
	if ((hal->offloads & USN_HAL_OFF_RSS) && hal->n_queues > 1 && !usn_rss_key_ok(hal->rss_key))
		USN_CFG_FAIL("rss_key: the port's RSS key 0x%04x spreads flows badly (usn_rss_key_ok)",
			     (unsigned)hal->rss_key);
	return 0;
}

#define USN_DEFAULT(field, value)                                                                            \
	do {                                                                                                     \
		if (c->field == 0)                                                                               \
			c->field = (value);                                                                      \
	} while (0)

static void usn_config_fill_defaults(struct usn_stack_config *c, const struct usn_hal *hal)
{
	USN_DEFAULT(prefix_len, 24);
	if (usn_mac_is_zero(c->mac))
		memcpy(c->mac, hal->mac, 6);
	USN_DEFAULT(n_workers, hal->n_queues);
	USN_DEFAULT(mtu, hal->mtu);
	USN_DEFAULT(tcp_max_conns, 4096);
	USN_DEFAULT(tcp_max_listen, 16);
	USN_DEFAULT(tcp_syn_backlog, 1024);
	USN_DEFAULT(tcp_max_timewait, c->tcp_max_conns / 4 ? c->tcp_max_conns / 4 : 1);
	USN_DEFAULT(tcp_ooo_max_segs, 64);
	/* A quarter of the port's buffers: the rest stay for the RX and TX
	 * rings, the worker's cache and the frames in flight. */
	USN_DEFAULT(tcp_ooo_max_bufs, hal->n_bufs ? (hal->n_bufs / 4 ? hal->n_bufs / 4 : 1) : 1024);
	USN_DEFAULT(tcp_timewait_ms, 60000);
	USN_DEFAULT(tcp_rcv_wnd, 262144);
	USN_DEFAULT(tcp_delack_ms, 40);
	USN_DEFAULT(tcp_rto_min_ms, 200);
	USN_DEFAULT(tcp_rto_init_ms, 1000);
	USN_DEFAULT(tcp_rto_max_ms, 60000);
	USN_DEFAULT(tcp_syn_retries, 5);
	USN_DEFAULT(tcp_max_retries, 12);
	USN_DEFAULT(tcp_probe_retries, c->tcp_max_retries < 255 ? c->tcp_max_retries : 255);
	USN_DEFAULT(tcp_orphan_probe_retries, 8);
	USN_DEFAULT(tcp_challenge_ack_limit, 1000);
	USN_DEFAULT(tcp_sendq_max, c->tcp_max_conns * 4);
	USN_DEFAULT(tcp_sendq_per_conn, 64);
	USN_DEFAULT(udp_max_ports, 16);
	USN_DEFAULT(icmp_error_rate, 1000);
	USN_DEFAULT(icmp_error_burst, 50);
	USN_DEFAULT(arp_entries, 256);
	USN_DEFAULT(arp_timeout_ms, 60000);
	USN_DEFAULT(arp_retry_ms, 1000);
	USN_DEFAULT(arp_retries, 3);
	USN_DEFAULT(arp_queue_len, 64);
	USN_DEFAULT(pmtu_entries, 256);
	USN_DEFAULT(pmtu_expire_ms, 600000);
	USN_DEFAULT(pmtu_min, 552);
	USN_DEFAULT(bufs_per_worker, 256);
	USN_DEFAULT(timer_hz, 1000);
	for (unsigned i = 0; i < c->n_ip6; i++)
		USN_DEFAULT(ip6[i].prefix_len, 64);
	if (c->n_ip6)
		c->ipv6 = true;
}

/* The stack's IPv6 addresses: the link-local one from the MAC (modified
 * EUI-64, RFC 4291 2.5.1 and appendix A: ff:fe in the middle, the
 * universal/local bit inverted), then the configured ones; tentative until
 * duplicate address detection clears them. */
static void usn_stack_ipv6_init(struct usn_stack *s)
{
	const struct usn_stack_config *c = &s->cfg;
	if (!c->ipv6)
		return;
	uint8_t state = c->ipv6_no_dad ? USN_IPV6_PREFERRED : USN_IPV6_TENTATIVE;
	struct usn_ip6_if *ll = &s->ip6[0];
	static const uint8_t fe80[8] = {0xfe, 0x80};
	memcpy(ll->addr, fe80, 8);
	ll->addr[8] = s->mac[0] ^ 0x02;
	ll->addr[9] = s->mac[1];
	ll->addr[10] = s->mac[2];
	ll->addr[11] = 0xff;
	ll->addr[12] = 0xfe;
	memcpy(ll->addr + 13, s->mac + 3, 3);
	ll->prefix_len = 64;
	atomic_init(&ll->state, state);
	for (unsigned i = 0; i < c->n_ip6; i++) {
		memcpy(s->ip6[1 + i].addr, c->ip6[i].addr, 16);
		s->ip6[1 + i].prefix_len = c->ip6[i].prefix_len;
		atomic_init(&s->ip6[1 + i].state, state);
	}
	s->n_ip6 = (uint8_t)(1 + c->n_ip6);
}

/* Asks the port for IPv6's groups: all-nodes and each address's
 * solicited-node group (RFC 4861 7.2.1). */
static int usn_stack_ipv6_join(struct usn_stack *s)
{
	if (!s->n_ip6 || !s->hal->ops->mcast_add)
		return 0;
	uint8_t macs[USN_IP6_SLOTS + 1][6];
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 0x01};
	usn_ipv6_mcast_mac(all_nodes, macs[0]);
	for (int i = 0; i < s->n_ip6; i++) {
		uint8_t sn[16];
		usn_ipv6_solicited_node(s->ip6[i].addr, sn);
		usn_ipv6_mcast_mac(sn, macs[1 + i]);
	}
	for (int i = 0; i <= s->n_ip6; i++) {
		int rc = s->hal->ops->mcast_add(s->hal, macs[i]);
		if (rc != 0) {
			fprintf(stderr, "usnet: the port cannot receive the IPv6 group address "
					"%02x:%02x:%02x:%02x:%02x:%02x: %s\n",
				macs[i][0], macs[i][1], macs[i][2], macs[i][3], macs[i][4], macs[i][5],
				strerror(rc < 0 ? -rc : EIO));
			return -EIO;
		}
	}
	return 0;
}

unsigned usn_stack_ipv6_addrs(const struct usn_stack *s, struct usn_ipv6_addr *out, enum usn_ipv6_state *state,
			      unsigned max)
{
	for (unsigned i = 0; i < s->n_ip6 && i < max; i++) {
		if (out) {
			memcpy(out[i].addr, s->ip6[i].addr, 16);
			out[i].prefix_len = s->ip6[i].prefix_len;
		}
		if (state)
			state[i] = (enum usn_ipv6_state)usn_ipv6_state(s, (int)i);
	}
	return s->n_ip6;
}

/* The inbox array holds n_workers ring pointers, then the n_workers blocks
 * they were laid over (a ring may start past its block's first byte). */
static size_t usn_inbox_array_size(const struct usn_stack *s)
{
	return 2u * s->n_workers * sizeof(void *);
}

static void **usn_inbox_mem(const struct usn_stack *s, struct usn_worker *w)
{
	return (void **)(void *)(w->inbox + s->n_workers);
}

/* Everything but the protocol tables: the worker struct, its buffer cache
 * and its inbound rings. */
static struct usn_worker *usn_worker_alloc(struct usn_stack *s, uint16_t id)
{
	struct usn_worker *w = usn_queue_mem_alloc(s->hal, id, sizeof(*w));
	if (!w)
		return NULL;
	w->stack = s;
	w->hal = s->hal;
	w->id = id;
	w->ip_id = (uint16_t)(id * 0x1000u);
	w->now_us = usn_hal_clock_us(s->hal, &w->now_cycles);
	w->pub_last_us = w->now_us;
	/* A full bucket of ICMP errors at start. */
	w->icmp_err_credit = (uint64_t)s->cfg.icmp_error_burst * 1000000u;
	w->icmp_err_last_us = w->now_us;
	usn_wheel_init(&w->wheel, 1000000u / s->cfg.timer_hz ? 1000000u / s->cfg.timer_hz : 1, w->now_us);
	w->cache_cap = s->cfg.bufs_per_worker;
	/* An eighth of the cache for control frames only (usn_worker_buf_alloc_ctl):
	 * 32 by default, a receive burst's worth of answers. */
	w->cache_reserve = w->cache_cap / 8;
	w->cache = usn_worker_mem_alloc(w, sizeof(*w->cache) * w->cache_cap);
	if (!w->cache)
		return w; /* the caller sees the missing piece and unwinds */
	if (s->n_workers > 1) {
		w->inbox = usn_worker_mem_alloc(w, usn_inbox_array_size(s));
		if (!w->inbox)
			return w;
		void **mem = usn_inbox_mem(s, w);
		for (uint16_t i = 0; i < s->n_workers; i++) {
			if (i == id)
				continue;
			mem[i] = usn_worker_mem_alloc(w, usn_ring_mem_size(USN_INBOX_SLOTS, sizeof(struct usn_msg)));
			if (!mem[i])
				return w;
			w->inbox[i] = usn_ring_init(mem[i], USN_INBOX_SLOTS, sizeof(struct usn_msg));
		}
	}
	return w;
}

static bool usn_worker_complete(const struct usn_stack *s, const struct usn_worker *w)
{
	if (!w->cache)
		return false;
	if (s->n_workers > 1) {
		if (!w->inbox)
			return false;
		for (uint16_t i = 0; i < s->n_workers; i++)
			if (i != w->id && !w->inbox[i])
				return false;
	}
	return true;
}

/* Returns every buffer the worker holds (cache, TX batch, free batch, frames
 * waiting in its inbound rings) to the HAL. */
static void usn_worker_release_bufs(struct usn_worker *w)
{
	struct usn_hal *hal = w->hal;
	if (w->inbox) {
		struct usn_msg m;
		for (uint16_t i = 0; i < w->stack->n_workers; i++)
			while (w->inbox[i] && usn_ring_pop(w->inbox[i], &m))
				if (m.type == USN_MSG_FRAME && m.ptr)
					usn_worker_buf_free(w, m.ptr);
	}
	for (uint16_t i = 0; i < w->tx_n; i++)
		usn_worker_buf_free(w, w->tx[i]);
	w->tx_n = 0;
	if (w->to_free_n) {
		hal->ops->free_bulk(hal, w->id, w->to_free, w->to_free_n);
		w->to_free_n = 0;
	}
	while (w->cache_n) {
		uint16_t n = w->cache_n > USN_FREE_BATCH ? USN_FREE_BATCH : (uint16_t)w->cache_n;
		w->cache_n -= n;
		hal->ops->free_bulk(hal, w->id, w->cache + w->cache_n, n);
	}
}

static void usn_worker_free_mem(struct usn_stack *s, struct usn_worker *w)
{
	if (w->inbox) {
		void **mem = usn_inbox_mem(s, w);
		for (uint16_t i = 0; i < s->n_workers; i++)
			usn_worker_mem_free(w, mem[i], usn_ring_mem_size(USN_INBOX_SLOTS, sizeof(struct usn_msg)));
		usn_worker_mem_free(w, w->inbox, usn_inbox_array_size(s));
	}
	usn_worker_mem_free(w, w->cache, sizeof(*w->cache) * w->cache_cap);
	usn_queue_mem_free(s->hal, w->id, w, sizeof(*w));
}

/* The stack's secret: the configured one, else 16 bytes of the port's
 * random source. It used to be the start-up clock and heap addresses,
 * which an attacker who sees one ISN or cookie can guess at. lib/ stays
 * free of platform calls: the backend reads getrandom() for it. */
static int usn_stack_keys(struct usn_stack *s)
{
	const struct usn_stack_config *cfg = &s->cfg;
	if (usn_secret_given(cfg)) {
		const uint32_t *k = cfg->tcp_cookie_secret;
		s->secret[0] = (uint64_t)k[0] << 32 | k[1];
		s->secret[1] = (uint64_t)k[2] << 32 | k[3];
	} else {
		int rc = s->hal->ops->random ? s->hal->ops->random(s->hal, s->secret, sizeof(s->secret)) : -ENOSYS;
		if (rc != 0) {
			fprintf(stderr, "usnet: cannot read the stack's secret keys from the port's random source: %s\n",
				strerror(rc < 0 ? -rc : EIO));
			return -EIO;
		}
	}
	static const char label[] = "usnet steer key";
	s->steer_key[0] = usn_siphash24(s->secret, label, sizeof label);
	s->steer_key[1] = usn_siphash24(s->secret, label, sizeof label - 1);
	return 0;
}

struct usn_stack *usn_stack_create(struct usn_hal *hal, const struct usn_stack_config *cfg)
{
	if (usn_stack_config_check(cfg, hal, NULL, 0) != 0)
		return NULL;
	struct usn_stack *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->hal = hal;
	s->cfg = *cfg;
	usn_config_fill_defaults(&s->cfg, hal);
	memcpy(s->mac, s->cfg.mac, 6);
	s->n_workers = s->cfg.n_workers;
	s->software_rss = s->n_workers > 1 && !(hal->offloads & USN_HAL_OFF_RSS);
	usn_stack_ipv6_init(s);
	s->ipv6_to_worker0 = s->n_workers > 1 && (hal->offloads & USN_HAL_OFF_RSS) && s->n_ip6;
	if (usn_stack_keys(s) != 0 || usn_stack_ipv6_join(s) != 0)
		goto fail_free_stack;
	s->workers = calloc(s->n_workers, sizeof(*s->workers));
	if (!s->workers)
		goto fail_free_stack;
	/* Tables first (so every ring exists before any worker posts), then
	 * the protocol state of each worker. */
	for (uint16_t i = 0; i < s->n_workers; i++) {
		s->workers[i] = usn_worker_alloc(s, i);
		if (!s->workers[i] || !usn_worker_complete(s, s->workers[i]))
			goto fail_destroy;
	}
	for (uint16_t i = 0; i < s->n_workers; i++) {
		struct usn_worker *w = s->workers[i];
		w->arp = usn_arp_create(w);
		if (!w->arp)
			goto fail_destroy;
		w->pmtu = usn_pmtu_create(w);
		if (!w->pmtu)
			goto fail_destroy;
		w->tcp = usn_tcp_worker_create(w);
		if (!w->tcp)
			goto fail_destroy;
		w->udp = usn_udp_worker_create(w);
		if (!w->udp)
			goto fail_destroy;
		if (s->n_ip6 && !(w->nd = usn_nd_create(w)))
			goto fail_destroy;
	}
	return s;

fail_destroy:
	usn_stack_destroy(s);
	return NULL;
fail_free_stack:
	free(s);
	return NULL;
}

void usn_stack_destroy(struct usn_stack *s)
{
	if (!s)
		return;
	if (s->workers) {
		/* Protocol state first: it may hold frames (ARP queue, TCP
		 * reassembly) that go back through the worker's free batch. */
		for (uint16_t i = 0; i < s->n_workers; i++) {
			struct usn_worker *w = s->workers[i];
			if (!w)
				continue;
			if (w->tcp)
				usn_tcp_worker_destroy(w, w->tcp);
			w->tcp = NULL;
			if (w->udp)
				usn_udp_worker_destroy(w, w->udp);
			w->udp = NULL;
			if (w->arp)
				usn_arp_destroy(w, w->arp);
			w->arp = NULL;
			if (w->pmtu)
				usn_pmtu_destroy(w, w->pmtu);
			w->pmtu = NULL;
			if (w->nd)
				usn_nd_destroy(w, w->nd);
			w->nd = NULL;
		}
		for (uint16_t i = 0; i < s->n_workers; i++)
			if (s->workers[i] && usn_worker_complete(s, s->workers[i]))
				usn_worker_release_bufs(s->workers[i]);
		for (uint16_t i = 0; i < s->n_workers; i++)
			if (s->workers[i])
				usn_worker_free_mem(s, s->workers[i]);
	}
	usn_tcp_shared_destroy(s);
	free(s->workers);
	free(s);
}

int usn_stack_tx_region(struct usn_stack *s, const void *base, size_t len)
{
	if (!s || !base || len == 0 || (uintptr_t)base + len < (uintptr_t)base)
		return -EINVAL;
	const uint32_t need = USN_HAL_OFF_TX_EXT | USN_HAL_OFF_TX_MULTISEG;
	if ((s->hal->offloads & need) != need || !s->hal->ops->tx_region)
		return -EOPNOTSUPP;
	if (s->n_tx_regions == USN_TX_REGIONS_MAX)
		return -ENOSPC;
	int id = s->hal->ops->tx_region(s->hal, base, len);
	if (id < 0)
		return id;
	if (id >= (int)USN_TX_REGION_NONE)
		return -ERANGE; /* a port bug: hal.h says 0..254 */
	s->tx_regions[s->n_tx_regions++] =
	    (struct usn_tx_region){.base = (uintptr_t)base, .end = (uintptr_t)base + len, .id = (uint8_t)id};
	return 0;
}

uint16_t usn_stack_workers(const struct usn_stack *s)
{
	return s->n_workers;
}

struct usn_worker *usn_stack_worker(struct usn_stack *s, uint16_t i)
{
	return i < s->n_workers ? s->workers[i] : NULL;
}

const struct usn_stack_config *usn_stack_config(const struct usn_stack *s)
{
	return &s->cfg;
}

void usn_stack_stats(const struct usn_stack *s, struct usn_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (uint16_t i = 0; i < s->n_workers; i++) {
		struct usn_stats one;
		usn_worker_stats_snapshot(s->workers[i], &one);
		usn_stats_add(out, &one);
	}
}
