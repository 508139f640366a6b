/* libusnet DPDK backend (include/usnet/backend_ops.h, usn_dpdk_backend_ops,
 * the selector's default): EAL start-up, one ethdev port with a queue pair
 * and a mempool per worker, RSS programmed with a key chosen at each start
 * to match usn_rss_hash/usn_rss_queue, workers launched on EAL lcores,
 * counters printed at exit.
 *
 * Arguments before "--" go to the EAL, except these backend options:
 *   --usn-port=N    use port N (default: the first port found)
 *   --usn-mtu=N     set the port MTU (rte_eth_dev_set_mtu) before start
 *   --usn-mbufs=N   mbufs per worker pool (default 16383)
 *   --usn-rxd=N, --usn-txd=N   descriptors per queue (default 2048)
 *   --usn-no-tso    no TSO nor LRO even where the port offers them
 *   --usn-zero-copy=auto|on|off   TX from registered application memory
 *                   as external buffers (auto: where the port takes TSO)
 *   --usn-memif-tso net_memif between two libusnet processes: large
 *                   segments cross whole, TCP sums trusted (both ends)
 * Unless the EAL options name a --log-level, the EAL logs at "notice" (its
 * start-up chatter at "info" would hide the program's own messages). */
/* _GNU_SOURCE comes from arch/x86/x86.mk (before rte_config.h is included). */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_memzone.h>

#include "usn_dpdk.h"
#include "usnet/stats.h"

#define USN_DPDK_DEF_MBUFS 16383u
/* 2048: net_af_xdp (DPDK 22.11) keeps 2,048 buffers in its fill ring
 * whatever the ring sizes, so a 1,024-entry RX ring overflowed
 * (rx_ring_full) while half of them sat unused; on NICs 2,048 is a common
 * size too. usn_load -> minimal_ws, corpus, veth, three A/B pairs: +3-5%
 * req/s, p99 and worst latency lower, p50 higher (deeper queues). */
#define USN_DPDK_DEF_DESC 2048u
#define USN_DPDK_POOL_CACHE 256u
/* The data room of one mbuf with hugepages: 2048 bytes after the default
 * headroom (without them, the rest of a 4 KiB page: pool_create_paged). */
#define USN_DPDK_DATA_ROOM RTE_MBUF_DEFAULT_BUF_SIZE
#define USN_DPDK_RETA_SPAN 128u /* usn_rss_queue's table size */
#define USN_DPDK_LINK_WAIT_MS 5000

/* net_memif's ring buffers (its bsize devarg), 2048 bytes by default;
 * --usn-memif-tso wants segments of at least 16 KB in one of them. */
#define USN_DPDK_MEMIF_BSIZE 2048u
#define USN_DPDK_MEMIF_TSO_MIN 16384u

enum zcopy_mode { ZCOPY_AUTO, ZCOPY_ON, ZCOPY_OFF };

struct backend_opts {
	long port; /* -1: the first available */
	long mtu;  /* 0: leave the port's */
	long mbufs;
	long rxd, txd;
	bool no_tso;
	bool memif_tso;
	enum zcopy_mode zcopy;
};

static int fail(char *msg, size_t msg_len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *msg, size_t msg_len, int err, const char *fmt, ...)
{
	va_list ap;

	if (msg && msg_len) {
		va_start(ap, fmt);
		vsnprintf(msg, msg_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* "--usn-NAME=VALUE" as a positive integer within [lo, hi]; 1 matched,
 * 0 not this option, -1 malformed. */
static int opt_long(const char *arg, const char *name, long lo, long hi, long *out)
{
	size_t n = strlen(name);
	char *end;
	long v;

	if (strncmp(arg, name, n) != 0 || arg[n] != '=')
		return 0;
	errno = 0;
	v = strtol(arg + n + 1, &end, 10);
	if (errno || end == arg + n + 1 || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 1;
}

/* Splits argv[1..dashdash) into backend options and the EAL's arguments. */
static int split_args(int n, char **argv, char **eal, int *eal_n, struct backend_opts *o, char *msg,
		      size_t msg_len)
{
	static const struct {
		const char *name;
		long lo, hi;
		size_t off;
	} opts[] = {
	    {"--usn-port", 0, RTE_MAX_ETHPORTS - 1, offsetof(struct backend_opts, port)},
	    {"--usn-mtu", 68, 65535, offsetof(struct backend_opts, mtu)},
	    {"--usn-mbufs", 1023, 1 << 22, offsetof(struct backend_opts, mbufs)},
	    {"--usn-rxd", 32, 32768, offsetof(struct backend_opts, rxd)},
	    {"--usn-txd", 32, 32768, offsetof(struct backend_opts, txd)},
	};
	bool log_level = false;
	int k = 1;

	eal[0] = argv[0];
	eal[k++] = NULL; /* the default --log-level, filled below */
	for (int i = 1; i < n; i++) {
		int matched = 0;

		if (strncmp(argv[i], "--usn-", 6) == 0) {
			if (strcmp(argv[i], "--usn-no-tso") == 0) {
				o->no_tso = true;
				continue;
			}
			if (strcmp(argv[i], "--usn-memif-tso") == 0) {
				o->memif_tso = true;
				continue;
			}
			if (strncmp(argv[i], "--usn-zero-copy=", 16) == 0) {
				const char *v = argv[i] + 16;
				if (strcmp(v, "auto") == 0)
					o->zcopy = ZCOPY_AUTO;
				else if (strcmp(v, "on") == 0)
					o->zcopy = ZCOPY_ON;
				else if (strcmp(v, "off") == 0)
					o->zcopy = ZCOPY_OFF;
				else
					return fail(
					    msg, msg_len, -EINVAL,
					    "bad value in %s (expected --usn-zero-copy=auto, on or off)",
					    argv[i]);
				continue;
			}
			for (size_t j = 0; j < sizeof(opts) / sizeof(opts[0]) && !matched; j++) {
				long *dst = (long *)((char *)o + opts[j].off);

				matched = opt_long(argv[i], opts[j].name, opts[j].lo, opts[j].hi, dst);
				if (matched < 0)
					return fail(msg, msg_len, -EINVAL,
						    "bad value in %s (expected %s=N, %ld..%ld)", argv[i],
						    opts[j].name, opts[j].lo, opts[j].hi);
			}
			if (!matched)
				return fail(
				    msg, msg_len, -EINVAL,
				    "unknown backend option %s (known: --usn-port, --usn-mtu, "
				    "--usn-mbufs, --usn-rxd, --usn-txd, --usn-no-tso, --usn-zero-copy, "
				    "--usn-memif-tso)",
				    argv[i]);
			continue;
		}
		if (strncmp(argv[i], "--log-level", 11) == 0)
			log_level = true;
		eal[k++] = argv[i];
	}
	if (log_level) {
		memmove(&eal[1], &eal[2], (size_t)(k - 2) * sizeof(eal[0]));
		k--;
	} else {
		eal[1] = (char *)"--log-level=notice";
	}
	eal[k] = NULL;
	*eal_n = k;
	return 0;
}

/* Worker i's lcore: worker 0 on the main lcore (the calling thread), the
 * others on the EAL's worker lcores in order. */
static int assign_lcores(struct usn_dpdk_backend *b, char *msg, size_t msg_len)
{
	unsigned have = rte_lcore_count();
	unsigned lc, i = 1;

	if (have < b->n_queues)
		return fail(msg, msg_len, -EINVAL,
			    "%u workers need %u EAL lcores but only %u are enabled: pass -l 0-%u (one lcore "
			    "per worker)",
			    b->n_queues, b->n_queues, have, b->n_queues - 1u);
	b->lcore[0] = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(lc)
	{
		if (i >= b->n_queues)
			break;
		b->lcore[i++] = lc;
	}
	for (i = 0; i < b->n_queues; i++) {
		int s = (int)rte_lcore_to_socket_id(b->lcore[i]);

		b->socket[i] = s < 0 ? SOCKET_ID_ANY : s;
	}
	return 0;
}

static int pick_port(const struct backend_opts *o, uint16_t *port, char *msg, size_t msg_len)
{
	uint16_t p;

	if (rte_eth_dev_count_avail() == 0)
		return fail(msg, msg_len, -ENODEV,
			    "no Ethernet port found: add a virtual device to the EAL options, e.g. "
			    "--vdev=net_af_packet0,iface=veth0 (or bind a NIC to vfio-pci)");
	if (o->port < 0) {
		RTE_ETH_FOREACH_DEV(p)
		{
			*port = p;
			return 0;
		}
	}
	if (!rte_eth_dev_is_valid_port((uint16_t)o->port))
		return fail(msg, msg_len, -ENODEV, "--usn-port=%ld: no such port (%u available)", o->port,
			    rte_eth_dev_count_avail());
	*port = (uint16_t)o->port;
	return 0;
}

/* Can a RETA of `size` entries reproduce usn_rss_queue's 128-entry table?
 * Entry i -> (i mod 128) mod n matches when size >= 128 (a power of two),
 * or when a smaller table's size is a multiple of n. */
static bool reta_matches(uint16_t size, uint16_t n)
{
	if (size == 0 || (size & (size - 1)) != 0)
		return false;
	return size >= USN_DPDK_RETA_SPAN || size % n == 0;
}

static int reta_program(struct usn_dpdk_backend *b, uint16_t size)
{
	struct rte_eth_rss_reta_entry64 reta[RTE_ETH_RSS_RETA_SIZE_512 / RTE_ETH_RETA_GROUP_SIZE];

	if (size > RTE_ETH_RSS_RETA_SIZE_512)
		return -ENOTSUP;
	memset(reta, 0, sizeof(reta));
	for (uint16_t i = 0; i < size; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
		    (uint16_t)((i % USN_DPDK_RETA_SPAN) % b->n_queues);
	}
	return rte_eth_dev_rss_reta_update(b->port, reta, size);
}

/* One page per mbuf when the EAL runs without hugepages. Its memory is then
 * 4 KiB pages, and a mempool keeps each object inside one page (it cannot
 * promise IOVA contiguity across pages), so a 2.4 KB mbuf occupied a whole
 * page anyway, at a 4 KiB stride. net_af_xdp registers the pool as its UMEM
 * assuming objects packed at rte_mempool_calc_obj_size() intervals: with the
 * real stride, the upper 40% of the mbufs lay outside the UMEM. The kernel
 * refused them as invalid TX descriptors (the frames were lost) and, since
 * it skips only one invalid descriptor per send(), the frames behind each
 * waited in the TX ring, for seconds when the stack sent little: the stall
 * usn_load met against bsd_ws. An object of exactly one page (no spreading pad) makes the stride
 * and the computed size agree, costs no memory, and gives the data room the
 * rest of the page. */
static uint16_t pool_data_room(void)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t fixed = RTE_ALIGN_CEIL(sizeof(struct rte_mempool_objhdr), RTE_MEMPOOL_ALIGN) +
			     sizeof(struct rte_mbuf) + USN_DPDK_PRIV_SIZE;

	if (rte_eal_has_hugepages() || page > UINT16_MAX || page < fixed + USN_DPDK_DATA_ROOM)
		return USN_DPDK_DATA_ROOM;
	return (uint16_t)(page - fixed);
}

static void pool_zone_free(struct rte_mempool_memhdr *h, void *zone)
{
	(void)h;
	rte_memzone_free(zone);
}

/* rte_pktmbuf_pool_create with RTE_MEMPOOL_F_NO_SPREAD, populated from one
 * page-aligned zone (rte_mempool_populate_default's may start mid-page,
 * which pushes every object to the next page and the last one outside the
 * span). Returns NULL with rte_errno set. */
static struct rte_mempool *pool_create_paged(const char *name, unsigned n, unsigned cache, int socket,
					     uint16_t room)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const unsigned elt = (unsigned)(sizeof(struct rte_mbuf) + USN_DPDK_PRIV_SIZE + room);
	char zname[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz = NULL;
	struct rte_pktmbuf_pool_private pp;
	struct rte_mempool *mp;
	int err, got;

	memset(&pp, 0, sizeof(pp));
	pp.mbuf_priv_size = (uint16_t)USN_DPDK_PRIV_SIZE;
	pp.mbuf_data_room_size = room;
	mp = rte_mempool_create_empty(name, n, elt, cache, sizeof(pp), socket, RTE_MEMPOOL_F_NO_SPREAD);
	if (!mp)
		return NULL;
	err = EINVAL; /* a debug trailer would break the tiling */
	if (rte_mempool_calc_obj_size(elt, mp->flags, NULL) != page)
		goto fail;
	err = -rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
	if (err)
		goto fail;
	rte_pktmbuf_pool_init(mp, &pp);
	snprintf(zname, sizeof(zname), "%s_mem", name);
	mz = rte_memzone_reserve_aligned(zname, (size_t)n * page, socket, 0, page);
	if (!mz) {
		err = rte_errno;
		goto fail;
	}
	got = rte_mempool_populate_virt(mp, mz->addr, (size_t)n * page, page, pool_zone_free, (void *)(uintptr_t)mz);
	if (got < 0 || (unsigned)got != n) {
		err = got < 0 ? -got : ENOMEM;
		if (got <= 0)
			rte_memzone_free(mz); /* not handed to the pool */
		goto fail;
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	rte_errno = err;
	return NULL;
}

static struct rte_mempool *pool_create(struct usn_dpdk_backend *b, const char *name, unsigned n, unsigned cache,
				       int socket)
{
	if (b->data_room != USN_DPDK_DATA_ROOM)
		return pool_create_paged(name, n, cache, socket, b->data_room);
	return rte_pktmbuf_pool_create(name, n, cache, (uint16_t)USN_DPDK_PRIV_SIZE, USN_DPDK_DATA_ROOM, socket);
}

static int pools_create(struct usn_dpdk_backend *b, const struct backend_opts *o, char *msg, size_t msg_len)
{
	for (uint16_t q = 0; q < b->n_queues; q++) {
		char name[RTE_MEMPOOL_NAMESIZE];
		unsigned n = (unsigned)o->mbufs;
		unsigned cache = RTE_MIN(USN_DPDK_POOL_CACHE, n / 2);

		snprintf(name, sizeof(name), "usn_p%u_q%u", b->port, q);
		b->pool[q] = pool_create(b, name, n, cache, b->socket[q]);
		if (!b->pool[q] && b->socket[q] != SOCKET_ID_ANY)
			b->pool[q] = pool_create(b, name, n, cache, SOCKET_ID_ANY);
		if (!b->pool[q])
			return fail(msg, msg_len, -ENOMEM,
				    "cannot create mbuf pool %s (%u mbufs): %s; give the EAL more memory "
				    "(-m) or lower --usn-mbufs",
				    name, n, rte_strerror(rte_errno));
		b->bufs_low[q] = b->pool[q]->size;
		if (strncmp(rte_mempool_get_ops(b->pool[q]->ops_index)->name, "ring_", 5) == 0)
			b->pool_ring[q] = b->pool[q]->pool_data;
	}
	return 0;
}

/* A NIC's link takes a moment to come up after start; the stack's
 * gratuitous ARP is sent on the first poll, so wait for it (bounded; a
 * virtual device is up at once). */
static void link_wait(uint16_t port)
{
	struct rte_eth_link link;

	for (int i = 0; i < USN_DPDK_LINK_WAIT_MS / 100; i++) {
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(port, &link) != 0 || link.link_status == RTE_ETH_LINK_UP)
			return;
		rte_delay_ms(100);
	}
	RTE_LOG(WARNING, USER1, "usnet: port %u link still down after %d ms\n", port, USN_DPDK_LINK_WAIT_MS);
}

/* net_memif's ring buffer size as its devargs give it (bsize). */
static unsigned long memif_bsize(const struct rte_eth_dev_info *info)
{
	unsigned long bsize = USN_DPDK_MEMIF_BSIZE;
	const struct rte_devargs *da = info->device ? rte_dev_devargs(info->device) : NULL;

	if (da && da->args && da->args[0]) {
		struct rte_kvargs *kv = rte_kvargs_parse(da->args, NULL);
		const char *v;

		if (kv) {
			if ((v = rte_kvargs_get(kv, "bsize")) != NULL)
				bsize = strtoul(v, NULL, 10);
			rte_kvargs_free(kv);
		}
	}
	return bsize;
}

/* Whether the device reaches memory by DMA through an IOMMU or physical
 * addresses (a NIC on a bus), rather than through the CPU (a virtual
 * device: net_tap, net_memif, net_ring...). */
static bool port_dma(const struct rte_eth_dev_info *info)
{
	const struct rte_bus *bus = info->device ? rte_dev_bus(info->device) : NULL;

	return bus && strcmp(rte_bus_name(bus), "vdev") != 0;
}

/* Zero-copy TX (hal.h USN_BUF_TX_EXT): NULL where the port can take
 * external buffers, else why not. */
static const char *zcopy_refusal(const struct usn_dpdk_backend *b, const struct rte_eth_conf *conf)
{
	if (!(conf->txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS))
		return "it takes no chained mbufs (no multi-segment TX)";
	if (b->zcopy_dma && rte_eal_iova_mode() != RTE_IOVA_VA)
		return "the EAL gives the device physical addresses (IOVA as PA), and application pages are "
		       "not contiguous in physical memory; bind the NIC to vfio-pci with the IOMMU on";
	return NULL;
}

/* TSO's limit where the device cuts: a frame in at most nb_seg_max mbufs
 * (the stack's frames fill each, plus the external buffers zero-copy may
 * add, hal.h), each piece in at most nb_mtu_seg_max of them (a piece of
 * at most an mbuf's room touches two, plus the headers' own, plus two
 * external buffers and the copies between them). 0: no TSO. */
static uint32_t tso_limit(const struct usn_dpdk_backend *b, const struct rte_eth_dev_info *info)
{
	uint32_t room = (uint32_t)b->data_room - RTE_PKTMBUF_HEADROOM;
	uint32_t segs = info->tx_desc_lim.nb_seg_max ? info->tx_desc_lim.nb_seg_max : UINT16_MAX;
	uint32_t per_piece = info->tx_desc_lim.nb_mtu_seg_max ? info->tx_desc_lim.nb_mtu_seg_max : UINT16_MAX;
	uint64_t lim;

	if (b->zcopy)
		segs = segs > 2 * USN_HAL_TX_EXT_MAX ? segs - 2 * USN_HAL_TX_EXT_MAX : 0;
	if (per_piece < (b->zcopy ? 3u + 2 * USN_HAL_TX_EXT_MAX : 3u))
		return 0;
	lim = (uint64_t)segs * room;
	lim = lim > RTE_ETHER_HDR_LEN ? lim - RTE_ETHER_HDR_LEN : 0;
	return (uint32_t)RTE_MIN(lim, (uint64_t)UINT16_MAX);
}

static int port_setup(struct usn_dpdk_backend *b, const struct backend_opts *o, char *msg, size_t msg_len)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint8_t key[64];
	uint16_t rxd = (uint16_t)o->rxd, txd = (uint16_t)o->txd;
	uint16_t mtu = 0;
	bool rss = false;
	int rc;

	b->data_room = pool_data_room();
	rc = rte_eth_dev_info_get(b->port, &info);
	if (rc != 0)
		return fail(msg, msg_len, rc, "port %u: cannot read device info: %s", b->port,
			    rte_strerror(-rc));
	snprintf(b->driver, sizeof(b->driver), "%s", info.driver_name ? info.driver_name : "?");
	if (b->n_queues > info.max_rx_queues || b->n_queues > info.max_tx_queues)
		return fail(msg, msg_len, -EINVAL,
			    "port %u (%s) has at most %u RX / %u TX queues, %u workers need %u of each "
			    "(net_af_packet: qpairs=N; net_af_xdp: queue_count=N; or fewer --workers)",
			    b->port, b->driver, info.max_rx_queues, info.max_tx_queues, b->n_queues,
			    b->n_queues);

	/* net_af_packet's sockets form one fanout group, and net_af_xdp's
	 * interface queues all carry traffic, whether or not the DPDK queue
	 * is configured: a queue nobody polls would swallow its share of the
	 * flows. */
	if ((strcmp(b->driver, "net_af_packet") == 0 || strcmp(b->driver, "net_af_xdp") == 0) &&
	    info.max_rx_queues != b->n_queues)
		return fail(
		    msg, msg_len, -EINVAL,
		    "port %u (%s) was opened with %u queues for %u worker%s: every queue receives, so give "
		    "%s=%u",
		    b->port, b->driver, info.max_rx_queues, b->n_queues, b->n_queues == 1 ? "" : "s",
		    strcmp(b->driver, "net_af_xdp") == 0 ? "queue_count" : "qpairs", b->n_queues);

	memset(&conf, 0, sizeof(conf));
	memset(key, 0, sizeof(key));
	/* Checksum offloads only where the port advertises them. */
	if ((info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM)) ==
	    (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM)) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
		b->rx_csum = true;
		b->hal.offloads |= USN_HAL_OFF_RX_CSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		b->tx_ol_ip = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		b->hal.offloads |= USN_HAL_OFF_TX_IP_CSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		b->tx_ol_tcp = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
		b->hal.offloads |= USN_HAL_OFF_TX_TCP_CSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		b->hal.offloads |= USN_HAL_OFF_TX_MULTISEG;
	}
	/* Large segments out (TSO) with what DPDK's TSO needs beside it
	 * (rte_mbuf_core.h RTE_MBUF_F_TX_TCP_SEG): chains and both sums. */
	const uint64_t tso_need = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
				  RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	if (!o->no_tso && (info.tx_offload_capa & tso_need) == tso_need) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
		b->tx_tso = true;
	}
	/* Large segments in (LRO): only beside RX checksum results (a merged
	 * frame's own TCP sum need not hold, hal.h) and RX scatter (it spans
	 * mbufs). */
	const uint64_t lro_need = RTE_ETH_RX_OFFLOAD_TCP_LRO | RTE_ETH_RX_OFFLOAD_SCATTER;
	if (!o->no_tso && b->rx_csum && (info.rx_offload_capa & lro_need) == lro_need) {
		conf.rxmode.offloads |= lro_need;
		conf.rxmode.max_lro_pkt_size =
		    RTE_MIN(info.max_lro_pkt_size, (uint32_t)UINT16_MAX + RTE_ETHER_HDR_LEN);
		b->rx_lro = true;
	}
	if (o->memif_tso) {
		if (strcmp(b->driver, "net_memif") != 0)
			return fail(
			    msg, msg_len, -EINVAL,
			    "--usn-memif-tso: port %u is %s, not net_memif (the option is for a memif "
			    "link between two libusnet programs)",
			    b->port, b->driver);
		if (o->no_tso)
			return fail(msg, msg_len, -EINVAL,
				    "--usn-memif-tso and --usn-no-tso contradict each other");
		b->memif_tso = true;
	}
	b->zcopy_dma = port_dma(&info);
	if (o->zcopy != ZCOPY_OFF) {
		const char *no = zcopy_refusal(b, &conf);

		if (no && o->zcopy == ZCOPY_ON)
			return fail(msg, msg_len, -EINVAL, "--usn-zero-copy=on: port %u (%s) cannot: %s",
				    b->port, b->driver, no);
		/* auto: where segments are large (TSO), the copy is the cost;
		 * MSS frames are no larger than the smallest piece lent. */
		b->zcopy = !no && (o->zcopy == ZCOPY_ON || b->tx_tso || b->memif_tso);
	}
	/* RSS with usn_rss_hash's key, where the port hashes IPv4/TCP with a
	 * key we can set; otherwise the stack steers in software. The key
	 * (hal.rss_key, chosen in usn_backend_open) repeats a 16-bit period,
	 * so a flow and its reverse hash alike (Woo and Park, "Scalable TCP
	 * session monitoring with symmetric receive-side scaling"). */
	if (b->n_queues > 1 && (info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP) &&
	    info.hash_key_size > 0 && info.hash_key_size <= sizeof(key) &&
	    reta_matches(info.reta_size, b->n_queues)) {
		usn_rss_key_expand(b->hal.rss_key, key, info.hash_key_size);
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
		/* UDP by its ports too, as software steering hashes it. */
		conf.rx_adv_conf.rss_conf.rss_hf =
		    info.flow_type_rss_offloads &
		    (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP);
		if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH)
			conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
		rss = true;
	}
	if (o->mtu > 0 && (long)(o->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN) >
			      b->data_room - RTE_PKTMBUF_HEADROOM) {
		if (!(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER))
			return fail(msg, msg_len, -EINVAL,
				    "--usn-mtu=%ld needs RX scatter, which port %u (%s) lacks (largest "
				    "single-buffer MTU %d)",
				    o->mtu, b->port, b->driver,
				    b->data_room - RTE_PKTMBUF_HEADROOM - RTE_ETHER_HDR_LEN -
					RTE_ETHER_CRC_LEN);
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	}
	if (o->mtu > 0)
		conf.rxmode.mtu = (uint32_t)o->mtu;

	rc = rte_eth_dev_configure(b->port, b->n_queues, b->n_queues, &conf);
	if (rc != 0)
		return fail(msg, msg_len, rc, "port %u (%s): configure with %u queue pairs failed: %s",
			    b->port, b->driver, b->n_queues, rte_strerror(-rc));
	if (o->mtu > 0) {
		rc = rte_eth_dev_set_mtu(b->port, (uint16_t)o->mtu);
		if (rc != 0)
			return fail(msg, msg_len, rc, "port %u (%s): cannot set MTU %ld: %s", b->port,
				    b->driver, o->mtu, rte_strerror(-rc));
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(b->port, &rxd, &txd);
	if (rc != 0)
		return fail(msg, msg_len, rc, "port %u: descriptor counts rejected: %s", b->port,
			    rte_strerror(-rc));
	rc = pools_create(b, o, msg, msg_len);
	if (rc != 0)
		return rc;
	for (uint16_t q = 0; q < b->n_queues; q++) {
		struct rte_eth_rxconf rxc = info.default_rxconf;
		struct rte_eth_txconf txc = info.default_txconf;
		unsigned sock =
		    b->socket[q] == SOCKET_ID_ANY ? (unsigned)SOCKET_ID_ANY : (unsigned)b->socket[q];

		rxc.offloads = conf.rxmode.offloads;
		txc.offloads = conf.txmode.offloads;
		rc = rte_eth_rx_queue_setup(b->port, q, rxd, sock, &rxc, b->pool[q]);
		if (rc != 0)
			return fail(msg, msg_len, rc, "port %u (%s): RX queue %u setup failed: %s", b->port,
				    b->driver, q, rte_strerror(-rc));
		rc = rte_eth_tx_queue_setup(b->port, q, txd, sock, &txc);
		if (rc != 0)
			return fail(msg, msg_len, rc, "port %u (%s): TX queue %u setup failed: %s", b->port,
				    b->driver, q, rte_strerror(-rc));
	}
	rc = rte_eth_dev_start(b->port);
	if (rc != 0)
		return fail(msg, msg_len, rc, "port %u (%s): start failed: %s", b->port, b->driver,
			    rte_strerror(-rc));
	b->port_started = true;

	if (rss && reta_program(b, info.reta_size) == 0) {
		b->hal.offloads |= USN_HAL_OFF_RSS;
		b->rx_hash = true;
	}
	b->rx_drain_all = b->n_queues > 1 && !(b->hal.offloads & USN_HAL_OFF_RSS);

	link_wait(b->port);
	rc = rte_eth_macaddr_get(b->port, (struct rte_ether_addr *)b->hal.mac);
	if (rc != 0)
		return fail(msg, msg_len, rc, "port %u: cannot read MAC address: %s", b->port,
			    rte_strerror(-rc));
	if (rte_eth_dev_get_mtu(b->port, &mtu) != 0 || mtu == 0)
		mtu = RTE_ETHER_MTU;
	/* Without RX scatter a frame must fit one buffer. */
	if (!(conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_SCATTER))
		mtu = (uint16_t)RTE_MIN(mtu, b->data_room - RTE_PKTMBUF_HEADROOM - RTE_ETHER_HDR_LEN -
						 RTE_ETHER_CRC_LEN);
	b->hal.mtu = mtu;

	/* Large segments and zero-copy, for the stack (hal.h). */
	if (b->tx_tso) {
		uint32_t lim = tso_limit(b, &info);

		if (lim > mtu) {
			b->hal.offloads |= USN_HAL_OFF_TX_TSO;
			b->hal.tso_max = lim;
		} else {
			b->tx_tso = false; /* the flag stays off every frame */
		}
		if (strcmp(b->driver, "net_tap") == 0) {
			/* DPDK 22.11's net_tap cuts in software (librte_gso)
			 * into an array of 64 frames, and checks each piece,
			 * its Ethernet header included, against the MTU. */
			b->hal.tso_max_segs = 64;
			b->tso_piece_max = mtu;
		}
	}
	if (b->memif_tso) {
		/* The segment crosses whole: no device cuts it, so the
		 * "offloads" are promises the peer keeps (a libusnet receiver
		 * with the same option takes the TCP sums on trust and marks
		 * frames beyond the MTU coalesced, dpdk_hal.c). Each frame in
		 * one ring buffer: net_memif (DPDK 22.11, 23.11 alike) never
		 * clears the chain flag of the first ring slot a frame takes,
		 * so once a frame has spanned several slots, a later frame in
		 * one of them runs on into slots not yet written and the
		 * receiver reads stale frames over and over. */
		unsigned long bsize = memif_bsize(&info);
		uint32_t lim =
		    bsize > RTE_ETHER_HDR_LEN ? (uint32_t)RTE_MIN(bsize - RTE_ETHER_HDR_LEN, UINT16_MAX) : 0;

		if (lim < USN_DPDK_MEMIF_TSO_MIN || lim <= mtu)
			return fail(
			    msg, msg_len, -EINVAL,
			    "--usn-memif-tso: the memif ring buffers hold %lu bytes, too few for a large "
			    "segment in one buffer: give bsize=65535 in the net_memif devargs (at both ends; "
			    "rsize=8 keeps the shared memory at 32 MB)",
			    bsize);
		b->hal.offloads |= USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_TSO | USN_HAL_OFF_RX_LRO;
		b->hal.tso_max = lim;
	}
	if (b->rx_lro) {
		b->hal.offloads |= USN_HAL_OFF_RX_LRO;
		if (!b->hal.tso_max)
			b->hal.tso_max =
			    RTE_MIN(conf.rxmode.max_lro_pkt_size - RTE_ETHER_HDR_LEN, (uint32_t)UINT16_MAX);
	}
	if (b->zcopy)
		b->hal.offloads |= USN_HAL_OFF_TX_EXT;
	b->dev = info.device;
	return 0;
}

/* What to try for the rte_errno values rte_eal_init documents. */
static const char *eal_hint(int e)
{
	switch (e) {
	case EACCES:
		return "permission denied (run as root)";
	case EAGAIN:
	case ENOMEM:
	case ENODEV:
		return "memory set-up failed (no hugepages? try --no-huge -m 512; another primary with the "
		       "same "
		       "--file-prefix?)";
	case EPROTO:
		return "bus probe failed (add --no-pci, or check the -a/--allow devices)";
	case EALREADY:
		return "the EAL is already initialised in this process";
	case 0:
		return "another process with the same --file-prefix? (give each its own)";
	default:
		return "check the EAL options";
	}
}

static void dpdk_close(struct usn_backend *base);

/* The program's arguments follow "--"; without one, there are no EAL
 * options and every argument is the program's. */
static int dpdk_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
	return 1;
}

static int dpdk_open(int argc, char **argv, uint16_t n_queues, struct usn_backend **out, char *msg, size_t msg_len)
{
	struct backend_opts o = {.port = -1,
				 .mtu = 0,
				 .mbufs = USN_DPDK_DEF_MBUFS,
				 .rxd = USN_DPDK_DEF_DESC,
				 .txd = USN_DPDK_DEF_DESC};
	struct usn_dpdk_backend *b;
	char **eal;
	int dashdash = argc, consumed, eal_n = 0, rc;

	*out = NULL;
	if (n_queues == 0 || n_queues > USN_DPDK_MAX_QUEUES)
		return fail(msg, msg_len, -EINVAL, "unsupported worker count %u (1..%u)", n_queues,
			    USN_DPDK_MAX_QUEUES);
	if (geteuid() != 0)
		return fail(
		    msg, msg_len, -EPERM,
		    "must run as root: DPDK needs raw sockets, BPF or vfio and locked memory (try sudo)");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			dashdash = i;
			break;
		}
	}
	consumed = dashdash < argc ? dashdash + 1 : argc;

	b = calloc(1, sizeof(*b));
	/* The EAL keeps pointers into its argv: the array lives as long as
	 * the EAL (freed after rte_eal_cleanup). */
	eal = calloc((size_t)dashdash + 2, sizeof(*eal));
	if (!b || !eal) {
		free(b);
		free(eal);
		return fail(msg, msg_len, -ENOMEM, "out of memory");
	}
	b->base.ops = &usn_dpdk_backend_ops;
	b->n_queues = n_queues;
	b->eal_argv = eal;
	rc = split_args(dashdash, argv, eal, &eal_n, &o, msg, msg_len);
	if (rc != 0)
		goto err_free;

	rc = rte_eal_init(eal_n, eal);
	if (rc < 0) {
		int e = rte_errno;

		rc = fail(msg, msg_len, e ? -e : -EINVAL, "EAL initialisation failed (%s): %s%s",
			  e ? rte_strerror(e) : "see the EAL's message above", eal_hint(e),
			  dashdash < argc ? "" : "; program options go after \"--\"");
		goto err_free;
	}
	b->eal_ready = true;
	if (rc != eal_n - 1) {
		rc = fail(msg, msg_len, -EINVAL, "unexpected argument \"%s\" among the EAL options%s",
			  eal[rc + 1], dashdash < argc ? "" : "; program options go after \"--\"");
		goto err_close;
	}
	rc = assign_lcores(b, msg, msg_len);
	if (rc != 0)
		goto err_close;
	rc = pick_port(&o, &b->port, msg, msg_len);
	if (rc != 0)
		goto err_close;
	b->port_picked = true;
	b->hal.ops = &usn_dpdk_hal_ops;
	b->hal.cycles_per_sec = rte_get_tsc_hz();
	b->hal.n_queues = n_queues;
	/* A new RSS key at every start, so a remote host cannot know which
	 * worker a flow will land on (hal.h says how far that goes). */
	uint64_t seed;
	rc = usn_dpdk_random(&seed, sizeof(seed));
	if (rc != 0) {
		rc = fail(msg, msg_len, rc, "cannot read random bytes for the RSS key (getrandom): %s",
			  strerror(-rc));
		goto err_close;
	}
	b->hal.rss_key = usn_rss_key_from(seed);
	rc = port_setup(b, &o, msg, msg_len);
	if (rc != 0)
		goto err_close;
	b->hal.buf_size = (uint16_t)(b->data_room - RTE_PKTMBUF_HEADROOM);
	b->hal.n_bufs = (uint32_t)o.mbufs; /* one pool per worker */
	/* Telemetry is optional: a program runs the same without it. */
	(void)usn_dpdk_telemetry_register();
	*out = &b->base;
	return consumed;

err_close:
	dpdk_close(&b->base);
	return rc;
err_free:
	/* Without an EAL nothing refers to eal any more. */
	free(eal);
	free(b);
	return rc;
}

static struct usn_hal *dpdk_hal(struct usn_backend *base)
{
	return &usn_dpdk_of(base)->hal;
}

static void dpdk_attach(struct usn_backend *base, struct usn_stack *s)
{
	usn_dpdk_telemetry_attach(usn_dpdk_of(base), s);
}

static int launch_one(void *p)
{
	struct usn_dpdk_launch *l = p;

	return l->fn(l->arg, l->worker);
}

static int dpdk_run(struct usn_backend *base, int (*fn)(void *arg, uint16_t worker), void *arg)
{
	struct usn_dpdk_backend *b = usn_dpdk_of(base);
	int rc = 0, r;

	if (rte_lcore_id() != rte_get_main_lcore())
		return -EPERM;
	for (uint16_t i = 0; i < b->n_queues; i++)
		b->launch[i] = (struct usn_dpdk_launch){.b = b, .fn = fn, .arg = arg, .worker = i};
	for (uint16_t i = 1; i < b->n_queues; i++)
		if (rte_eal_get_lcore_state(b->lcore[i]) != WAIT)
			return -EBUSY;
	b->running = true;
	for (uint16_t i = 1; i < b->n_queues; i++) {
		r = rte_eal_remote_launch(launch_one, &b->launch[i], b->lcore[i]);
		/* Not expected after the check above. The workers already
		 * launched run until the caller's stop flag is set, so worker 0
		 * still runs here (the program stops it the same way) and all
		 * are joined below. */
		if (r != 0 && rc == 0)
			rc = r < 0 ? r : -EBUSY;
	}
	r = launch_one(&b->launch[0]);
	if (r != 0 && rc == 0)
		rc = r < 0 ? r : -EIO;
	for (uint16_t i = 1; i < b->n_queues; i++) {
		r = rte_eal_wait_lcore(b->lcore[i]);
		if (r != 0 && rc == 0)
			rc = r < 0 ? r : -EIO;
	}
	b->running = false;
	/* No worker sends or receives any more: the capture ends here. */
	usn_dpdk_pcap_finish(b->pcap);
	return rc;
}

static void dpdk_print_stats(struct usn_backend *base, FILE *out)
{
	struct usn_dpdk_backend *b = usn_dpdk_of(base);
	struct rte_eth_stats st;
	struct usn_stack *s = b->stack;

	if (b->port_started && rte_eth_stats_get(b->port, &st) == 0)
		fprintf(out,
			"port %u (%s): rx %" PRIu64 " packets %" PRIu64 " bytes, tx %" PRIu64
			" packets %" PRIu64 " bytes, missed %" PRIu64 ", rx errors %" PRIu64
			", tx errors %" PRIu64 ", rx no mbuf %" PRIu64 "\n",
			b->port, b->driver, st.ipackets, st.ibytes, st.opackets, st.obytes, st.imissed,
			st.ierrors, st.oerrors, st.rx_nombuf);
	/* Buffer pools: what is free now (the port's rings hold their share:
	 * RX descriptors and net_af_xdp's fill ring are never free). */
	for (uint16_t q = 0; q < b->n_queues; q++)
		if (b->pool[q])
			fprintf(out, "pool %u (%s): %u of %u mbufs free, data room %u bytes\n", q, b->pool[q]->name,
				rte_mempool_avail_count(b->pool[q]), b->pool[q]->size, b->data_room);
	usn_dpdk_pcap_print(b->pcap, out);
	for (uint16_t q = 0; q < b->n_queues; q++)
		if (b->tx_prep_drop[q])
			fprintf(out, "queue %u: %" PRIu64 " frames refused by the driver's tx_prepare, dropped\n", q,
				b->tx_prep_drop[q]);
	if (b->hal.offloads & (USN_HAL_OFF_TX_TSO | USN_HAL_OFF_RX_LRO | USN_HAL_OFF_TX_EXT)) {
		uint64_t ext = 0;

		for (uint16_t q = 0; q < b->n_queues; q++)
			ext += b->tx_ext[q];
		fprintf(out,
			"large segments: TSO %s (up to %u bytes%s), LRO %s%s; zero-copy TX %s, %u region%s, "
			"%" PRIu64 " external buffers attached, %u held now\n",
			(b->hal.offloads & USN_HAL_OFF_TX_TSO) ? "on" : "off", b->hal.tso_max,
			b->memif_tso ? ", whole across memif" : "",
			(b->hal.offloads & USN_HAL_OFF_RX_LRO) ? "on" : "off",
			b->memif_tso ? " (memif: sums trusted)" : "", b->zcopy ? "on" : "off", b->n_regions,
			b->n_regions == 1 ? "" : "s", ext, usn_dpdk_ext_held(b));
	}
	if (!s)
		return;
	for (uint16_t w = 0; w < usn_stack_workers(s); w++) {
		struct usn_stats ws;

		/* Once the workers have returned (joined by dpdk_run)
		 * their own counters are exact and safe to read; while they
		 * run, only the published snapshot is. */
		if (b->running)
			usn_worker_stats_snapshot(usn_stack_worker(s, w), &ws);
		else
			ws = *usn_worker_stats(usn_stack_worker(s, w));
		fprintf(out, "worker %u (lcore %u):", w, w < b->n_queues ? b->lcore[w] : 0u);
		for (size_t i = 0; i < usn_stats_count(); i++) {
			uint64_t v = usn_stats_value(&ws, i);

			if (v)
				fprintf(out, " %s=%" PRIu64, usn_stats_name(i), v);
		}
		fputc('\n', out);
	}
}

static void dpdk_close(struct usn_backend *base)
{
	struct usn_dpdk_backend *b;

	if (!base)
		return;
	b = usn_dpdk_of(base);
	usn_dpdk_telemetry_attach(b, NULL);
	usn_dpdk_pcap_close(b->pcap);
	b->pcap = NULL;
	if (b->port_started) {
		(void)rte_eth_dev_stop(b->port);
		b->port_started = false;
	}
	if (b->port_picked)
		(void)rte_eth_dev_close(b->port);
	/* The port's queues are gone, and their mbufs with them: every
	 * external buffer should be back (the stack was destroyed first). */
	usn_dpdk_regions_release(b);
	for (uint16_t q = 0; q < b->n_queues; q++)
		rte_mempool_free(b->pool[q]);
	if (b->eal_ready)
		(void)rte_eal_cleanup();
	free(b->eal_argv);
	free(b);
}

static int dpdk_bufs(struct usn_backend *base, struct usn_backend_bufs *out)
{
	struct usn_dpdk_backend *b = usn_dpdk_of(base);

	*out = (struct usn_backend_bufs){0};
	for (uint16_t q = 0; q < b->n_queues; q++) {
		unsigned avail, low;

		if (!b->pool[q])
			continue;
		avail = rte_mempool_avail_count(b->pool[q]);
		/* What is seen here counts for the mark too. */
		low = __atomic_load_n(&b->bufs_low[q], __ATOMIC_RELAXED);
		while (avail < low && !__atomic_compare_exchange_n(&b->bufs_low[q], &low, avail, true,
								   __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
		out->size += b->pool[q]->size;
		out->free += avail;
		out->free_low += __atomic_load_n(&b->bufs_low[q], __ATOMIC_RELAXED);
	}
	return 0;
}

static int dpdk_pcap(struct usn_backend *base, const char *path, uint64_t max_bytes, char *msg, size_t msg_len)
{
	return usn_dpdk_pcap_open(usn_dpdk_of(base), path, max_bytes, msg, msg_len);
}

static int dpdk_app_counter(struct usn_backend *base, const char *name, uint64_t (*read)(void *arg), void *arg)
{
	struct usn_dpdk_backend *b = usn_dpdk_of(base);

	if (b->running)
		return -EBUSY;
	if (b->n_app >= sizeof(b->app) / sizeof(b->app[0]))
		return -ENOSPC;
	snprintf(b->app[b->n_app].name, sizeof(b->app[0].name), "%s", name);
	b->app[b->n_app].read = read;
	b->app[b->n_app].arg = arg;
	b->n_app++;
	return 0;
}

const struct usn_backend_ops usn_dpdk_backend_ops = {
    .name = "dpdk",
    .claims = NULL, /* the default: EAL options */
    .args = dpdk_args,
    .help = "port: EAL options --  DPDK (see DPDK's EAL parameters), typically\n"
	    "      --no-huge -m 512 -l 0 --vdev=net_af_xdp0,iface=IF --; backend options before \"--\":\n"
	    "      --usn-port=N, --usn-mtu=N, --usn-mbufs=N, --usn-rxd=N, --usn-txd=N,\n"
	    "      --usn-no-tso (no TSO/LRO even where the port offers them),\n"
	    "      --usn-zero-copy=auto|on|off (send registered pages as external buffers; auto: with TSO),\n"
	    "      --usn-memif-tso (net_memif, libusnet at both ends: large segments whole, sums trusted)\n",
    .open = dpdk_open,
    .hal = dpdk_hal,
    .attach = dpdk_attach,
    .run = dpdk_run,
    .print_stats = dpdk_print_stats,
    .close = dpdk_close,
    .bufs = dpdk_bufs,
    .pcap = dpdk_pcap,
    .app_counter = dpdk_app_counter,
};
