/* libusnet DPDK backend (arch/x86), private: the backend object shared by
 * the port set-up (dpdk_backend.c), the HAL operations (dpdk_hal.c) and the
 * telemetry commands (dpdk_telemetry.c). Nothing outside arch/x86 sees it. */
#ifndef USN_DPDK_H
#define USN_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "usnet/backend_ops.h"
#include "usnet/hal.h"

/* Most queue pairs (workers) one port is opened with. */
#define USN_DPDK_MAX_QUEUES 64
/* Most zero-copy regions (hal ops->tx_region) one port takes. */
#define USN_DPDK_MAX_REGIONS 16

/* The stack's usn_buf lives in the mbuf private area, right after the
 * struct rte_mbuf (rte_mbuf_to_priv), so each is found from the other by
 * pointer arithmetic and crossing the HAL costs no lookup. */
#define USN_DPDK_PRIV_SIZE RTE_ALIGN_CEIL(sizeof(struct usn_buf), RTE_MBUF_PRIV_ALIGN)

static inline struct usn_buf *usn_dpdk_buf(struct rte_mbuf *m)
{
	return (struct usn_buf *)(m + 1);
}

static inline struct rte_mbuf *usn_dpdk_mbuf(struct usn_buf *b)
{
	return (struct rte_mbuf *)b - 1;
}

struct usn_dpdk_backend {
	struct usn_hal hal; /* first: the stack's view of the port */
	struct usn_backend base; /* the selector's view (usn_dpdk_backend_ops) */
	uint16_t port;
	uint16_t n_queues;
	bool eal_ready;
	bool port_picked;
	bool port_started;
	bool running;		 /* usn_backend_run has workers on lcores */
	struct usn_stack *stack; /* usn_backend_attach */
	char **eal_argv;	 /* the EAL's argv, kept while the EAL runs */
	uint64_t tx_ol_ip;	 /* mbuf ol_flags for a TX IPv4 header sum, 0 if not offered */
	uint64_t tx_ol_tcp;	 /* mbuf ol_flags for a TX TCP sum, 0 if not offered */
	bool rx_csum;		 /* RX checksum results are reported in ol_flags */
	bool rx_hash;		 /* the port's RSS hash is usn_rss_hash (our key, RETA set) */
	/* Large segments (hal.h USN_BUF_TX_TCP_SEG, USN_BUF_RX_COALESCED). */
	bool tx_tso;	   /* TSO frames go to the device with RTE_MBUF_F_TX_TCP_SEG */
	bool rx_lro;	   /* RTE_MBUF_F_RX_LRO frames are passed on coalesced */
	/* net_tap (DPDK 22.11) refuses a TSO frame whose piece, Ethernet
	 * header included, exceeds its MTU: pieces are cut at most this many
	 * bytes of headers and payload (its MTU); 0: no such limit. */
	uint16_t tso_piece_max;
	/* --usn-memif-tso: large segments cross the memif link whole; TCP
	 * sums are the sender's to leave partial and the receiver's to trust. */
	bool memif_tso;
	/* Zero-copy TX (hal.h USN_BUF_TX_EXT): application memory the port
	 * reads in place, each region with a shared-info block per queue
	 * (the refcount of the mbufs attached to it from that queue, one
	 * cache line each) whose count never drops below the backend's own
	 * reference until close. */
	bool zcopy;
	bool zcopy_dma;		/* regions are DMA-mapped for the device (a NIC on a bus) */
	struct rte_device *dev; /* for rte_dev_dma_map */
	struct usn_dpdk_region {
		uint8_t *base;
		size_t len;
		rte_iova_t iova; /* of base */
		bool mapped;	 /* rte_extmem_register + rte_dev_dma_map done */
		struct usn_dpdk_shinfo {
			struct rte_mbuf_ext_shared_info sh;
		} __rte_cache_aligned *shinfo; /* [n_queues] */
	} region[USN_DPDK_MAX_REGIONS];
	uint16_t n_regions;
	uint64_t tx_ext[USN_DPDK_MAX_QUEUES]; /* external buffers attached, per queue */
	/* Frames the driver's rte_eth_tx_prepare refused, dropped; per queue
	 * (each written by its worker only), printed at exit. */
	uint64_t tx_prep_drop[USN_DPDK_MAX_QUEUES];
	/* Without RSS the stack steers in software from worker 0, so worker 0
	 * drains every RX queue (a multi-queue virtual device, such as
	 * net_af_packet's fanout, spreads flows by a hash of its own) and
	 * the other workers' rx_burst returns nothing. Worker 0 only. */
	bool rx_drain_all;
	uint16_t rx_next;		     /* next queue worker 0 drains */
	unsigned lcore[USN_DPDK_MAX_QUEUES]; /* worker i runs on lcore[i] */
	int socket[USN_DPDK_MAX_QUEUES];     /* and allocates on this NUMA socket */
	struct rte_mempool *pool[USN_DPDK_MAX_QUEUES];
	/* Each pool's low-water mark: the fewest mbufs free at once, sampled
	 * as the workers take them (usn_dpdk_bufs_sample); any thread reads. */
	uint32_t bufs_low[USN_DPDK_MAX_QUEUES];
	/* Each pool's shared ring, where its ops keep the free mbufs in one
	 * (DPDK's default, ring_mp_mc); NULL otherwise (then only readers of
	 * the exact level move the mark). */
	struct rte_ring *pool_ring[USN_DPDK_MAX_QUEUES];
	uint16_t data_room; /* of every mbuf in pool[], headroom included */
	/* --pcap (dpdk_pcap.c): NULL when not capturing; set before the
	 * workers run. */
	struct usn_dpdk_pcap *pcap;
	/* The program's own counters (usn_backend_app_counter), for
	 * telemetry's /usnet/app; registered before the workers run. */
	struct usn_dpdk_app_counter {
		char name[32];
		uint64_t (*read)(void *arg);
		void *arg;
	} app[8];
	unsigned n_app;
	char driver[64];
	/* usn_backend_run hands these to each lcore. */
	struct usn_dpdk_launch {
		struct usn_dpdk_backend *b;
		int (*fn)(void *arg, uint16_t worker);
		void *arg;
		uint16_t worker;
	} launch[USN_DPDK_MAX_QUEUES];
};

/* dpdk_hal.c: the HAL operations over the backend's port. */
extern const struct usn_hal_ops usn_dpdk_hal_ops;
/* dpdk_hal.c: external buffers attached now, over every region and queue. */
unsigned usn_dpdk_ext_held(const struct usn_dpdk_backend *b);
/* dpdk_hal.c: drops the backend's reference on every region (after the
 * port is closed), says on the log if a driver still holds external
 * buffers, unmaps the regions from the device and frees their state. */
void usn_dpdk_regions_release(struct usn_dpdk_backend *b);
/* len bytes from getrandom(); 0 or -errno. */
int usn_dpdk_random(void *buf, size_t len);

static inline struct usn_dpdk_backend *usn_dpdk_of(struct usn_backend *b)
{
	return (struct usn_dpdk_backend *)(void *)((char *)b - offsetof(struct usn_dpdk_backend, base));
}

/* Samples pool q's level for its low-water mark: the pool's shared ring
 * (rte_ring_count: the mempool's own count is not exported) and this
 * core's cache (mbufs in other cores' caches count as taken; the
 * exact count, rte_mempool_avail_count, visits every core's cache and is
 * for other threads). Called once per receive burst that brought frames
 * and per bulk allocation: a load and a compare, a compare-and-swap when
 * the mark moves. */
static inline void usn_dpdk_bufs_sample(struct usn_dpdk_backend *be, uint16_t q)
{
	struct rte_mempool_cache *c;
	uint32_t n, old;

	if (!be->pool_ring[q])
		return;
	c = rte_mempool_default_cache(be->pool[q], rte_lcore_id());
	n = rte_ring_count(be->pool_ring[q]) + (c ? c->len : 0);
	old = __atomic_load_n(&be->bufs_low[q], __ATOMIC_RELAXED);

	while (n < old && !__atomic_compare_exchange_n(&be->bufs_low[q], &old, n, true, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

/* dpdk_pcap.c: the capture (usn_backend_pcap). */
struct usn_dpdk_pcap;
int usn_dpdk_pcap_open(struct usn_dpdk_backend *b, const char *path, uint64_t max_bytes, char *msg,
		       size_t msg_len);
/* Frames a worker received (its rx_burst's result), or is about to hand
 * the driver: copies are staged, then usn_dpdk_pcap_tx_done says how many
 * the driver took (the copies of the rest are dropped: those frames are
 * sent again later, and captured then). The worker's thread only. */
void usn_dpdk_pcap_rx(struct usn_dpdk_pcap *pc, uint16_t worker, struct usn_buf **bufs, uint16_t n);
void usn_dpdk_pcap_tx(struct usn_dpdk_pcap *pc, uint16_t worker, struct rte_mbuf **mb, uint16_t n);
void usn_dpdk_pcap_tx_done(struct usn_dpdk_pcap *pc, uint16_t worker, uint16_t sent);
/* Once the workers have returned: writes what is left, closes the file. */
void usn_dpdk_pcap_finish(struct usn_dpdk_pcap *pc);
/* One line on what the capture wrote (nothing if none). */
void usn_dpdk_pcap_print(const struct usn_dpdk_pcap *pc, FILE *out);
/* Frees everything (finishing first if needed). */
void usn_dpdk_pcap_close(struct usn_dpdk_pcap *pc);

/* dpdk_telemetry.c: points /usnet/stats at stack s (NULL: none). */
void usn_dpdk_telemetry_attach(struct usn_dpdk_backend *b, struct usn_stack *s);
/* dpdk_telemetry.c: registers /usnet/stats and /usnet/worker once per
 * process; returns 0 or -errno. */
int usn_dpdk_telemetry_register(void);

#endif
