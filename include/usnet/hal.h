/* libusnet hardware-abstraction layer: the one seam between the portable
 * stack (lib/) and a packet driver (arch/sim, arch/x86 DPDK, arch/tilegx mPIPE).
 * Everything crosses it in bursts; nothing here is called once per packet. */
#ifndef USNET_HAL_H
#define USNET_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-buffer metadata. It lives inside the backend's own buffer (DPDK mbuf
 * private area, mPIPE buffer headroom, the simulated link's slot), so handing
 * a frame across the seam allocates nothing.
 *
 * Chain invariant (as lwIP's pbuf): a frame is a list of buffers linked by
 * `next`; the first buffer's `frame_len` is the sum of `len` over the chain;
 * every other buffer's `frame_len` is unspecified. A buffer belongs to
 * exactly one owner at a time: the backend, the stack, or a queue of the stack
 * (linked through `link`, never through `next`). */
struct usn_buf {
	struct usn_buf *next; /* next buffer of the same frame, NULL at the end */
	struct usn_buf *link; /* the owner's intrusive queue link (ARP wait, TX batch) */
	uint8_t *data;        /* first byte of data in this buffer */
	uint32_t frame_len;   /* first buffer only: bytes in the whole frame */
	uint16_t len;         /* bytes of data in this buffer */
	uint16_t room;        /* bytes writable from data to the end of this buffer */
	uint16_t headroom;    /* bytes before data that may be prepended */
	uint16_t flags;       /* USN_BUF_* below */
	uint32_t rss_hash;    /* RX: the flow hash, valid if USN_BUF_RX_HASH */
	uint8_t l2_len;       /* TX offload: Ethernet header bytes */
	uint8_t l3_len;       /* TX offload: IPv4 header bytes */
	uint16_t backend_u16; /* free for the backend (queue, port, buffer stack) */
	uint8_t l4_len;       /* TX offload: TCP header bytes, options included (TSO) */
	uint8_t region;       /* TX with USN_BUF_TX_EXT: the port's number of the memory region
			       * (ops->tx_region) that data lies in */
	uint16_t seg_size;    /* TX with USN_BUF_TX_TCP_SEG: payload bytes per segment the port cuts
			       * (the MSS); RX with USN_BUF_RX_COALESCED: payload bytes of the
			       * segments the port merged, 0 if unknown */
	uint64_t backend;     /* free for the backend (e.g. its descriptor) */
	uint64_t stack_u64;   /* free for the stack while it owns the buffer */
};

enum {
	USN_BUF_RX_HASH = 1u << 0,         /* rss_hash is valid */
	USN_BUF_RX_IP_CSUM_GOOD = 1u << 1, /* the port verified the IPv4 header sum */
	USN_BUF_RX_L4_CSUM_GOOD = 1u << 2, /* the port verified the TCP/UDP sum */
	USN_BUF_RX_CSUM_BAD = 1u << 3,     /* the port found a bad sum */
	/* The port merged several TCP segments into this frame (LRO/GRO):
	 * it may exceed the MTU (at most tso_max), its payload may span a
	 * chain, seg_size says what it merged. The port verified every merged
	 * segment's sums and sets USN_BUF_RX_IP_CSUM_GOOD and
	 * USN_BUF_RX_L4_CSUM_GOOD (the merged header's TCP sum field need not
	 * be valid), or else gives the merged frame correct sums. */
	USN_BUF_RX_COALESCED = 1u << 4,
	USN_BUF_TX_IP_CSUM = 1u << 8,      /* ask the port to fill the IPv4 sum */
	USN_BUF_TX_TCP_CSUM = 1u << 9,     /* ask the port to fill the TCP sum (pseudo-header sum in place) */
	/* Ask the port to cut this IPv4/TCP frame into segments of seg_size
	 * payload bytes (TSO). Set only where the port has USN_HAL_OFF_TX_TSO;
	 * comes with USN_BUF_TX_TCP_CSUM (and USN_BUF_TX_IP_CSUM where the port
	 * offers it; otherwise the header's IPv4 sum is valid), l2/l3/l4_len
	 * set, the IPv4 total length covering the whole frame (at most
	 * hal->tso_max bytes) and the TCP sum field holding the pseudo-header
	 * sum of the whole frame, as for USN_BUF_TX_TCP_CSUM (what Linux's GSO
	 * takes through a virtio-net header); a backend whose device wants it
	 * without the length (DPDK's TSO) rewrites it. The port gives every
	 * segment the header's flags except FIN and PSH, which only the last
	 * keeps (and CWR, which only the first keeps), IP IDs counting up from
	 * the header's, and both sums. */
	USN_BUF_TX_TCP_SEG = 1u << 10,
	/* TX without a copy: this buffer, never the first of a frame, lends
	 * its descriptor to `len` bytes of application memory at `data`, inside
	 * the region numbered `region` (ops->tx_region), which the port reads
	 * in place (DPDK: an external buffer attached to the mbuf); room and
	 * headroom are 0 and nobody writes there. Set only where the port has
	 * USN_HAL_OFF_TX_EXT. The port may still read the bytes after the
	 * frame is freed or the stack has seen them acknowledged (a
	 * retransmitted copy queued behind the original, a software link's
	 * queue): hence regions, which live until the port is closed. */
	USN_BUF_TX_EXT = 1u << 11,
};

/* What a port can do for the stack. */
enum {
	USN_HAL_OFF_RX_CSUM = 1u << 0, /* sets USN_BUF_RX_*_CSUM_* on received frames */
	USN_HAL_OFF_TX_IP_CSUM = 1u << 1,
	USN_HAL_OFF_TX_TCP_CSUM = 1u << 2,
	USN_HAL_OFF_RSS = 1u << 3,      /* the port spreads flows over queues by usn_rss_hash(rss_key) */
	USN_HAL_OFF_TX_MULTISEG = 1u << 4, /* TX accepts chained buffers */
	/* TX cuts USN_BUF_TX_TCP_SEG frames (IPv4/TCP) up to tso_max; the
	 * stack uses it only beside TX_TCP_CSUM (and beyond one buffer only
	 * with TX_MULTISEG). */
	USN_HAL_OFF_TX_TSO = 1u << 5,
	USN_HAL_OFF_RX_LRO = 1u << 6,      /* RX may deliver USN_BUF_RX_COALESCED frames beyond the MTU */
	/* TX takes USN_BUF_TX_EXT buffers in chains (ops->tx_region set). The
	 * stack attaches at most USN_HAL_TX_EXT_MAX of them to one frame, each
	 * of at least USN_HAL_TX_EXT_MIN bytes, and copies the rest, so a frame
	 * spans at most 2 * USN_HAL_TX_EXT_MAX buffers more than the same frame
	 * copied: a port with a limit on buffers per frame sizes tso_max for it. */
	USN_HAL_OFF_TX_EXT = 1u << 7,
};

/* Zero-copy TX (USN_HAL_OFF_TX_EXT): external buffers per frame, and the
 * shortest range worth one (below a buffer's worth, a copy costs about what
 * the extra descriptor does). */
#define USN_HAL_TX_EXT_MAX 2u
#define USN_HAL_TX_EXT_MIN 2048u

struct usn_hal;

/* The driver's operations. Each is called once per burst or less. Ownership:
 * rx_burst hands the buffers to the caller; tx_burst takes the first N it
 * returns and leaves the rest with the caller; alloc_bulk hands out
 * single-buffer frames (len 0, `room` bytes writable, headroom reserved);
 * free_bulk takes whole chains. */
struct usn_hal_ops {
	uint16_t (*rx_burst)(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n);
	uint16_t (*tx_burst)(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n);
	uint16_t (*alloc_bulk)(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n);
	void (*free_bulk)(struct usn_hal *hal, uint16_t queue, struct usn_buf **bufs, uint16_t n);
	/* Monotonic cycle counter (the simulated link's is virtual). */
	uint64_t (*clock_cycles)(struct usn_hal *hal);
	/* Memory for a worker's tables, on the NUMA node of the queue's core.
	 * Called only while the stack is created; NULL means malloc/free. */
	void *(*mem_alloc)(struct usn_hal *hal, uint16_t queue, size_t size);
	void (*mem_free)(struct usn_hal *hal, uint16_t queue, void *p, size_t size);
	/* Fills buf with len bytes from the platform's cryptographic random
	 * source (getrandom() on Linux); 0 or -errno. Called only while the
	 * stack is created, for its secret keys. NULL: the port has none, and
	 * the stack then needs an explicit secret in its configuration. */
	int (*random)(struct usn_hal *hal, void *buf, size_t len);
	/* Zero-copy TX (with USN_HAL_OFF_TX_EXT; NULL otherwise): makes len
	 * bytes of application memory at base readable by the port (a NIC's
	 * DMA mapping) and returns the region's number, 0..254, for
	 * USN_BUF_TX_EXT buffers, or -errno (the stack then copies). The
	 * memory must stay mapped and unchanged until the port is closed.
	 * Called only before the workers run (usn_stack_tx_region). */
	int (*tx_region)(struct usn_hal *hal, const void *base, size_t len);
	/* Optional (NULL: the stack sleeps instead): blocks until the queue
	 * may have frames to receive, or max_us microseconds have passed,
	 * whichever comes first; it may return early. usn_worker_run calls it
	 * when a round found nothing to do and the configuration lets an idle
	 * worker sleep (idle_backoff_us), so that arriving frames end the
	 * sleep instead of waiting out a timer. Never on the packet path. */
	void (*rx_wait)(struct usn_hal *hal, uint16_t queue, uint32_t max_us);
	/* Optional: makes the port deliver frames sent to the Ethernet group
	 * address mac (IPv6's all-nodes and solicited-node groups, RFC 2464
	 * 7); 0 or -errno. NULL: the port delivers group frames without being
	 * asked (the simulated link, a veth). Called only while the stack is
	 * created, with IPv6 on. */
	int (*mcast_add)(struct usn_hal *hal, const uint8_t mac[6]);
};

/* A port as the stack sees it. The backend embeds this struct in its own. */
struct usn_hal {
	const struct usn_hal_ops *ops;
	uint64_t cycles_per_sec; /* rate of clock_cycles */
	uint32_t offloads;       /* USN_HAL_OFF_* */
	uint16_t n_queues;       /* RX/TX queue pairs, one per worker */
	uint16_t mtu;            /* largest IPv4 packet, bytes */
	uint16_t buf_size;       /* data bytes per buffer (chains carry more) */
	uint8_t mac[6];          /* the port's Ethernet address */
	uint32_t n_bufs;         /* frame buffers each queue can draw on (its pool, or its share of a
				  * shared one), for the stack's budgets; 0: unknown */
	uint32_t tso_max;        /* with USN_HAL_OFF_TX_TSO: largest IPv4 packet it segments, bytes
				  * (at most 65535); with USN_HAL_OFF_RX_LRO: largest it delivers */
	uint16_t rss_key;        /* the port's RSS key (usn_rss_hash), chosen at each start from
				  * random bits by usn_rss_key_from; with USN_HAL_OFF_RSS the stack
				  * refuses a key usn_rss_key_ok rejects */
	uint16_t tso_max_segs;   /* with USN_HAL_OFF_TX_TSO: most pieces it cuts one frame into
				  * (Linux's gso_max_segs); 0: no limit */
};

/* The flow hash a port's RSS uses, and that active open reproduces: the
 * Toeplitz hash (Microsoft RSS) of ip_a, ip_b, port_a, port_b under a key
 * whose 16-bit period is `key` (the 16 bits repeated over the key's whole
 * length, as usn_rss_key_expand writes it). Symmetric for every key: both
 * directions of a flow get the same value. A random key keeps a remote host
 * from choosing the worker its flows land on, within limits: a symmetric
 * key has only its 16-bit period, of which usn_rss_key_ok accepts 8,515
 * (13 bits), and the hash reads the 4-tuple only through the XOR of
 * its six 16-bit words, so flows whose words XOR alike share a worker under
 * every key. Addresses and ports in host order. */
uint32_t usn_rss_hash(uint16_t key, uint32_t ip_a, uint32_t ip_b, uint16_t port_a, uint16_t port_b);
/* The same Toeplitz hash over an IPv6 4-tuple (addresses in network order,
 * ports in host order), as a NIC computes it with the expanded key:
 * symmetric too, reading the tuple through the XOR of its eighteen 16-bit
 * words. */
uint32_t usn_rss_hash6(uint16_t key, const uint8_t ip_a[16], const uint8_t ip_b[16], uint16_t port_a,
		       uint16_t port_b);

/* Whether a key spreads flows: odd weight (no two folds of the 4-tuple hash
 * alike), and flows differing only in 7 consecutive bits of the fold (one
 * client's ports, a block of addresses) spread evenly over 2, 4 ... 64
 * queues and reach at least 64 of usn_rss_queue's 128 entries. Rejects
 * 0x0000, 0xffff and keys that ignore the bits ports vary in. */
bool usn_rss_key_ok(uint16_t key);
/* An acceptable key, uniform over them, chosen by 64 random bits. */
uint16_t usn_rss_key_from(uint64_t random);
/* The key as a port is programmed with: len bytes of the period, high byte
 * first, repeated. */
void usn_rss_key_expand(uint16_t key, uint8_t *out, size_t len);

/* The queue a hash lands on: a 128-entry indirection table whose entry i is
 * i % n_queues, which is how backends program their RSS table (RETA,
 * mPIPE buckets) and how software steering picks a worker. */
static inline uint16_t usn_rss_queue(uint32_t hash, uint16_t n_queues)
{
	return (uint16_t)((hash & 127u) % (n_queues ? n_queues : 1u));
}

#endif
