/* libusnet Linux packet port (arch/linux), private: the backend object shared
 * by its set-up (pport.c), the HAL operations (pport_hal.c), the
 * virtio-net header translation (pport_vnet.c) and the fanout program
 * (pport_fanout.c). Nothing outside arch/linux (and its tests) sees it. */
#ifndef USN_PPORT_H
#define USN_PPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/filter.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "usnet/backend_ops.h"
#include "usnet/hal.h"

#define USN_PPORT_MAX_QUEUES 64
/* One buffer: its usn_buf, then the headroom, then the data: a page, as
 * DPDK's mbufs without hugepages, so a 1,514-byte frame takes one buffer
 * and a 64 KB segment 17. */
#define USN_PPORT_SLOT 4096u
#define USN_PPORT_HEADROOM 128u
#define USN_PPORT_DATA_OFF ((uint32_t)sizeof(struct usn_buf) + USN_PPORT_HEADROOM)
#define USN_PPORT_ROOM (USN_PPORT_SLOT - USN_PPORT_DATA_OFF)
/* Messages per sendmmsg (the stack flushes at most USN_TX_BATCH, 64). */
#define USN_PPORT_TX_BATCH 64
/* Pieces per transmitted frame: the virtio-net header and up to 63
 * buffers (a 64 KB segment in full buffers needs 17). */
#define USN_PPORT_MAX_IOV 64
/* The virtio-net header (struct virtio_net_hdr, little-endian fields). */
#define USN_PPORT_VNET_LEN 10u
/* Largest cBPF fanout program (pport_fanout.c needs about 520). */
#define USN_PPORT_PROG_MAX 640

/* Counters of one queue, written by its worker only (read at exit). */
struct usn_pport_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_coalesced;	  /* frames with GSO fields: segments the sender or the device merged */
	uint64_t rx_csum_partial; /* NEEDS_CSUM (local sender): taken as verified */
	uint64_t rx_csum_sw;	  /* partial sums this port completed itself (not at a TCP sum) */
	uint64_t rx_truncated;	  /* larger than a ring block: dropped */
	uint64_t rx_fetched;	  /* (TPACKET_V2) larger than a ring slot: read with recvmsg */
	uint64_t rx_no_buf;	  /* no free buffer for the frame: dropped */
	uint64_t rx_vlan;	  /* VLAN-tagged (the stack serves untagged traffic): dropped */
	uint64_t rx_outgoing;	  /* the interface's own transmissions seen by the tap: dropped */
	uint64_t rx_bad_vnet;	  /* a virtio-net header that does not fit the frame: dropped */
	uint64_t rx_blocks;	  /* (TPACKET_V3) ring blocks read: frames per block says how full they came */
	uint64_t rx_waits;	  /* idle waits on the socket (usn_hal_ops.rx_wait) */
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_calls;    /* sendmmsg calls: frames per call says how well sends are batched */
	uint64_t tx_tso;      /* frames handed over with GSO_TCPV4 */
	uint64_t tx_busy;     /* sendmmsg calls that stopped on a full socket or device */
	uint64_t tx_errors;   /* frames the kernel refused: dropped */
	uint64_t tx_too_long; /* chains of more than USN_PPORT_MAX_IOV - 1 buffers: dropped */
};

/* One worker's socket, its receive ring, its buffers and its send batch. */
struct usn_pport_queue {
	uint16_t id;
	int fd;
	/* TPACKET_V3 receive ring: blocks of block_size bytes; the worker reads
	 * block `block` from frame `pkt` (pkt_left frames left) and gives it
	 * back to the kernel when it has copied them all. */
	uint8_t *ring;
	size_t ring_bytes;
	uint32_t block_size, n_blocks, block;
	uint8_t *pkt;
	uint32_t pkt_left;
	bool reading; /* block `block` is being read */
	/* TPACKET_V2 instead (v2): n_frames slots of frame_size bytes, the
	 * next to read `frame`; a frame larger than a slot waits on the
	 * socket's queue (PACKET_COPY_THRESH) and is read with recvmsg. */
	bool v2;
	uint32_t frame_size, n_frames, frame;
	struct iovec rx_iov[1 + 65536 / USN_PPORT_ROOM + 2];

	/* Buffers: n_bufs slots of USN_PPORT_SLOT bytes at pool, free ones on
	 * the stack free[0..free_n). */
	uint8_t *pool;
	size_t pool_bytes;
	uint32_t n_bufs, free_n;
	struct usn_buf **free;

	/* sendmmsg staging, reused by every tx_burst. */
	struct mmsghdr msgs[USN_PPORT_TX_BATCH];
	struct iovec iov[USN_PPORT_TX_BATCH][USN_PPORT_MAX_IOV];
	uint8_t vnet[USN_PPORT_TX_BATCH][USN_PPORT_VNET_LEN];

	struct usn_pport_stats st;
	/* The kernel's PACKET_STATISTICS, summed: reading them resets them. */
	uint64_t k_packets, k_drops, k_freezes;

	/* Buffers of this pool freed by other workers (a frame received here
	 * and steered away in software): a list through usn_buf.link, pushed
	 * with one compare-and-swap per burst and taken whole by this queue's
	 * worker when its free stack runs low; returned_n counts them. */
	_Alignas(64) _Atomic(struct usn_buf *) returned;
	_Atomic uint32_t returned_n;
	/* For live statistics (usn_backend_bufs, any thread): free_n as of
	 * this worker's last allocation or free, and the fewest buffers free
	 * at once (free_n and returned_n) since open. */
	_Alignas(64) _Atomic uint32_t bufs_free;
	_Atomic uint32_t bufs_low;
};

enum usn_pport_fanout {
	USN_PPORT_FANOUT_NONE, /* one worker: one socket */
	/* The kernel runs pport_fanout.c's program, which computes
	 * usn_rss_queue(usn_rss_hash(...)): the port does the stack's RSS. */
	USN_PPORT_FANOUT_RSS,
	/* PACKET_FANOUT_HASH (the kernel's own flow hash): worker 0 drains
	 * every ring and the stack steers in software. */
	USN_PPORT_FANOUT_HASH,
};

struct usn_pport {
	struct usn_hal hal; /* first: the stack's view of the port */
	struct usn_backend base;
	char ifname[16];
	int ifindex;
	uint16_t n_queues;
	bool vnet;	   /* frames carry virtio-net headers */
	bool bypass;	   /* PACKET_QDISC_BYPASS (tcpdump then sees only what arrives) */
	bool rx_drain_all; /* worker 0 reads every ring (FANOUT_HASH) */
	uint16_t rx_next;  /* the next ring worker 0 drains */
	enum usn_pport_fanout fanout;
	bool running; /* usn_backend_run has workers on threads */
	struct usn_stack *stack;
	int cpus[USN_PPORT_MAX_QUEUES]; /* worker i's CPU, -1: not pinned */
	struct usn_pport_queue *q[USN_PPORT_MAX_QUEUES];
};

/* Lowers q's low-water mark to lvl if that is lower (the worker as it
 * allocates, and readers of the level, so the mark holds every level
 * anyone saw). */
static inline void usn_pport_bufs_low(struct usn_pport_queue *q, uint32_t lvl)
{
	uint32_t old = atomic_load_explicit(&q->bufs_low, memory_order_relaxed);

	while (lvl < old && !atomic_compare_exchange_weak_explicit(&q->bufs_low, &old, lvl, memory_order_relaxed,
								   memory_order_relaxed))
		;
}

static inline struct usn_pport *usn_pport_of_hal(struct usn_hal *hal)
{
	return (struct usn_pport *)hal; /* hal is the first member */
}

/* pport_hal.c: the HAL operations. */
extern const struct usn_hal_ops usn_pport_hal_ops;
/* Puts every slot of q's pool on its free stack (each buffer's owner is
 * q). Called once at open. */
void usn_pport_pool_fill(struct usn_pport_queue *q);
/* Gives back to the kernel every block of q's ring that is ready (frames
 * that arrived while the port was being set up). */
void usn_pport_ring_flush(struct usn_pport_queue *q);

/* Adds the kernel's counters for q's socket (frames it queued for the
 * ring, frames it dropped for want of room, times the V3 ring froze) since
 * the last call to q->k_*; returns false if it cannot read them. Not the
 * worker's: any thread may call it, one at a time. */
bool usn_pport_kernel_stats(struct usn_pport_queue *q);

/* pport_vnet.c: virtio-net headers <-> usn_buf offload fields. */
/* What a received frame's header (vnet, NULL without them) and TPACKET
 * status say, as USN_BUF_RX_* flags and *seg_size; may complete a partial
 * checksum in place in frame[0..len). Returns false if the header does not
 * fit the frame (drop it). *partial and *sw say which checksum case it was.
 * `whole`: frame holds all len bytes; if not (only its headers), a partial
 * sum that is not a TCP one cannot be finished and the frame is refused. */
bool usn_pport_rx_meta(const uint8_t *vnet, uint32_t tp_status, uint8_t *frame, uint32_t len, bool whole,
		       uint16_t *flags, uint16_t *seg_size, bool *partial, bool *sw);
/* The header for transmitting frame b (USN_BUF_TX_TCP_CSUM, _TCP_SEG). */
void usn_pport_tx_vnet(const struct usn_buf *b, uint8_t vnet[USN_PPORT_VNET_LEN]);

/* pport_fanout.c: the classic BPF program for PACKET_FANOUT_CBPF that puts
 * each IPv4/TCP frame on worker usn_rss_queue(usn_rss_hash(src, dst, sport,
 * dport), n_queues), everything else on worker 0. Returns its length, 0 if
 * it does not fit in cap. */
/* pport_hal.c: len bytes from getrandom(); 0 or -errno. */
int usn_pport_random(void *buf, size_t len);

size_t usn_pport_rss_prog(struct sock_filter *prog, size_t cap, uint16_t key, uint16_t n_queues);

#endif
