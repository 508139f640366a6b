/* The part of the TILE-Gx gxio (mPIPE) and tmc APIs the libusnet backend
 * uses. Built for TILE-Gx (tile-gcc defines __tile__) this header includes
 * the MDE's own headers; on any other host it declares, in our own words, the
 * same names with the same semantics, implemented by arch/tilegx/emu/.
 *
 * What the declarations follow (read in the public copies of the MDE 4.x
 * user-space <gxio/mpipe.h>, Linux 4.x arch/tile/include/gxio/mpipe.h,
 * arch/tile/include/hv/drv_mpipe_intf.h, arch/tile/include/arch/mpipe_shm{,_def}.h
 * and arch/tile/gxio/mpipe.c, Linux's drivers/net/ethernet/tile/tilegx.c, the
 * MDE example mpipe/chaining, DPDK's removed drivers/net/mpipe and the Rusty
 * stack's driver; nothing is copied):
 * - the ingress descriptor (idesc) is eight 64-bit words; word 0 holds the
 *   ring, channel, error bits, l2_size (bytes written, custom header
 *   included) and bucket; word 1 the flow hash (custom0, byte 0x0C); the
 *   l2 offset is byte 4 of custom1; word 7 is a buffer descriptor;
 * - a buffer descriptor (idesc word 7, edesc word 1): va (42 bits, sign
 *   extended; its low 7 bits are the data offset in a 128-byte-aligned
 *   buffer), stack_idx (5 bits), inst, hwb, size (3-bit class: 0..7 =
 *   128, 256, 512, 1024, 1664, 4096, 10368, 16384 bytes) and c (2 bits:
 *   0 unchained, 1 chained, 2 not ready, 3 invalid);
 * - a chained packet: each buffer's first 8 bytes hold the descriptor of the
 *   next buffer; the last buffer's holds one whose c is "invalid"; the data
 *   offset is 8 + headroom in the first buffer and 8 in the others;
 * - the egress descriptor (edesc) is two words: word 0 gen, csum, ns, bound,
 *   xfer_size (14 bits), csum_dest/start/seed; word 1 a buffer descriptor;
 *   a packet is one or more edescs, bound set on the last; with hwb the
 *   buffers go back to their stack once sent;
 * - NotifRings hold 128, 512, 2048 or 65536 idescs in physically contiguous,
 *   4 KB-aligned memory; eDMA rings 512, 2048, 8192 or 65536 edescs in
 *   contiguous, 1 KB-aligned memory; buffer stack memory is contiguous and
 *   64 KB aligned; buffers are 128-byte aligned; buckets come in powers of two
 *   and the classifier uses the low bits of the flow hash to pick one;
 * - one mPIPE has 24 eDMA rings, 32 buffer stacks, 256 NotifRings, 32
 *   NotifGroups (hv/drv_mpipe_intf.h), shared by every user of the card
 *   (Linux's own driver included); a buffer stack registers at most 16 pages;
 * - memory an edesc refers to must be flushed (__insn_mf()) before
 *   gxio_mpipe_equeue_put_at (MDE <gxio/mpipe.h>: "Batching can be used to
 *   amortize the cost of the flush"); an equeue is thread-safe, an iqueue is
 *   for one thread;
 * - a rule's headroom defaults to 2 (gxio_mpipe_rules_begin, so the IP header
 *   is 4-byte aligned); the link attributes and states are those of
 *   hv/drv_mpipe_intf.h. */
#ifndef USN_GXIO_SUBSET_H
#define USN_GXIO_SUBSET_H

#include <stddef.h>
#include <stdint.h>

#if defined(__tile__) && !defined(USN_GX_EMU)

#include <arch/cycle.h>
#include <gxio/mpipe.h>
#include <tmc/alloc.h>
#include <tmc/cpus.h>
#include <tmc/perf.h>

/* The cycle counter and its rate (the emulation's are virtual). */
static inline uint64_t usn_gx_cycles(gxio_mpipe_context_t *ctx)
{
	(void)ctx;
	return get_cycle_count();
}
static inline uint64_t usn_gx_cycles_per_sec(gxio_mpipe_context_t *ctx)
{
	(void)ctx;
	return (uint64_t)tmc_perf_get_cpu_speed();
}
/* Makes the stores to packet memory visible to mPIPE before an edesc that
 * refers to them is posted (the MDE's requirement for put_at). */
static inline void usn_gx_fence(gxio_mpipe_context_t *ctx)
{
	(void)ctx;
	__insn_mf();
}

#else /* the emulation (arch/tilegx/emu/) */

#define USN_GX_EMU 1
#include <sched.h> /* cpu_set_t: define _GNU_SOURCE before any include */
#include <stdbool.h>

/* ---- errors (values are the emulation's own) ---- */
#define GXIO_ERR_INVAL (-1101)
#define GXIO_ERR_NO_DEVICE (-1102)
#define GXIO_ERR_INVAL_MEMORY_SIZE (-1103)
#define GXIO_ERR_NO_MEMORY (-1104)
#define GXIO_MPIPE_ERR_NO_BUFFER_STACK (-1110)
#define GXIO_MPIPE_ERR_BAD_BUFFER_STACK (-1111)
#define GXIO_MPIPE_ERR_NO_NOTIF_RING (-1112)
#define GXIO_MPIPE_ERR_BAD_NOTIF_RING (-1113)
#define GXIO_MPIPE_ERR_NO_NOTIF_GROUP (-1114)
#define GXIO_MPIPE_ERR_BAD_NOTIF_GROUP (-1115)
#define GXIO_MPIPE_ERR_NO_BUCKET (-1116)
#define GXIO_MPIPE_ERR_BAD_BUCKET (-1117)
#define GXIO_MPIPE_ERR_NO_EDMA_RING (-1118)
#define GXIO_MPIPE_ERR_BAD_EDMA_RING (-1119)
#define GXIO_MPIPE_ERR_INVAL_BUFFER_SIZE (-1120)
#define GXIO_MPIPE_ERR_RULES_FULL (-1121)
#define GXIO_MPIPE_ERR_RULES_INVALID (-1122)
#define GXIO_MPIPE_ERR_RULES_EMPTY (-1123)
#define GXIO_MPIPE_ERR_BAD_LINK (-1124)
#define GXIO_MPIPE_ERR_IQUEUE_EMPTY (-1125)
#define GXIO_ERR_DMA_CREDITS (-1126)
#define GXIO_ERR_IOTLB_ENTRY (-1127)
#define GXIO_ERR_ALIGNMENT (-1128)

/* Resources of one mPIPE (hv/drv_mpipe_intf.h), shared by all its users. */
#define HV_MPIPE_NUM_BUFFER_STACKS 32
#define HV_MPIPE_NUM_NOTIF_RINGS 256
#define HV_MPIPE_NUM_NOTIF_GROUPS 32
#define HV_MPIPE_NUM_BUCKETS 4160
#define HV_MPIPE_NUM_EDMA_RINGS 24

/* ---- chain status of a buffer descriptor (the c field) ---- */
#define MPIPE_EDMA_DESC_WORD1__C_VAL_UNCHAINED 0x0
#define MPIPE_EDMA_DESC_WORD1__C_VAL_CHAINED 0x1
#define MPIPE_EDMA_DESC_WORD1__C_VAL_NOT_RDY 0x2
#define MPIPE_EDMA_DESC_WORD1__C_VAL_INVALID 0x3

/* Buffer size classes, encoded as the descriptors' 3-bit size field. */
typedef enum {
	GXIO_MPIPE_BUFFER_SIZE_128 = 0,
	GXIO_MPIPE_BUFFER_SIZE_256 = 1,
	GXIO_MPIPE_BUFFER_SIZE_512 = 2,
	GXIO_MPIPE_BUFFER_SIZE_1024 = 3,
	GXIO_MPIPE_BUFFER_SIZE_1664 = 4,
	GXIO_MPIPE_BUFFER_SIZE_4096 = 5,
	GXIO_MPIPE_BUFFER_SIZE_10368 = 6,
	GXIO_MPIPE_BUFFER_SIZE_16384 = 7,
} gxio_mpipe_buffer_size_enum_t;

typedef enum {
	GXIO_MPIPE_BUCKET_DYNAMIC_FLOW_AFFINITY = 0,
	GXIO_MPIPE_BUCKET_STATIC_FLOW_AFFINITY = 1,
	GXIO_MPIPE_BUCKET_ROUND_ROBIN = 2,
	GXIO_MPIPE_BUCKET_STICKY_FLOW_LOCALITY = 3,
	GXIO_MPIPE_BUCKET_PREFER_FLOW_LOCALITY = 4,
} gxio_mpipe_bucket_mode_t;

/* Ingress packet descriptor: written by mPIPE into a NotifRing (64 bytes,
 * little-endian bit order as on TILE-Gx Linux). */
typedef union {
	struct {
		/* word 0 */
		uint64_t notif_ring : 8;
		uint64_t channel : 5;
		uint64_t r0 : 1;
		uint64_t me : 1; /* MAC receive FIFO overrun */
		uint64_t tr : 1; /* truncated */
		uint64_t l2_size : 14; /* bytes written to memory */
		uint64_t ce : 1; /* CRC or other L2 error */
		uint64_t ct : 1; /* cut through */
		uint64_t bucket_id : 13;
		uint64_t r1 : 3;
		uint64_t cs : 1; /* csum_seed_val holds a computed sum */
		uint64_t nr : 1;
		uint64_t dest : 2;
		uint64_t sq : 1;
		uint64_t ts : 1;
		uint64_t ps : 1;
		uint64_t be : 1; /* ran out of buffers */
		uint64_t ctr0 : 5;
		uint64_t r2 : 3;
		/* word 1 */
		uint64_t ctr1 : 5;
		uint64_t r3 : 3;
		uint64_t csum_start : 8;
		uint64_t csum_seed_val : 16;
		uint64_t custom0 : 32; /* the default classifier's flow hash */
		/* words 2..4 */
		uint64_t custom1; /* byte 4: l2 offset */
		uint64_t custom2;
		uint64_t custom3;
		/* word 5 */
		uint64_t gp_sqn : 16;
		uint64_t packet_sqn : 48;
		/* word 6 */
		uint64_t time_stamp_ns : 32;
		uint64_t time_stamp_sec : 32;
		/* word 7: the first buffer */
		int64_t va : 42;
		uint64_t r4 : 6;
		uint64_t stack_idx : 5;
		uint64_t r5 : 3;
		uint64_t inst : 2;
		uint64_t hwb : 1;
		uint64_t size : 3;
		uint64_t c : 2;
	};
	uint64_t words[8];
} gxio_mpipe_idesc_t;

/* Egress command descriptor: written by software into an eDMA ring. */
typedef union {
	struct {
		/* word 0 */
		uint64_t gen : 1;
		uint64_t efifo_sel : 6;
		uint64_t r0 : 1;
		uint64_t csum : 1;
		uint64_t ns : 1; /* send nothing, still return hwb buffers */
		uint64_t notif : 1;
		uint64_t bound : 1; /* last descriptor of the packet */
		uint64_t r1 : 4;
		uint64_t xfer_size : 14;
		uint64_t r2 : 2;
		uint64_t csum_dest : 8;
		uint64_t csum_start : 8;
		uint64_t csum_seed : 16;
		/* word 1: a buffer descriptor */
		int64_t va : 42;
		uint64_t r3 : 6;
		uint64_t stack_idx : 5;
		uint64_t r4 : 3;
		uint64_t inst : 2;
		uint64_t hwb : 1;
		uint64_t size : 3;
		uint64_t c : 2;
	};
	uint64_t words[2];
} gxio_mpipe_edesc_t;

_Static_assert(sizeof(gxio_mpipe_idesc_t) == 64, "idesc is 64 bytes");
_Static_assert(sizeof(gxio_mpipe_edesc_t) == 16, "edesc is 16 bytes");

struct usn_gxemu;       /* an emulated board: links wired to simulated ports */
struct usn_gxemu_mpipe; /* the emulated shim's state for one context */

typedef struct {
	struct usn_gxemu *board;         /* set by usn_gxemu_bind() before gxio_mpipe_init */
	struct usn_gxemu_mpipe *mpipe;   /* allocated by gxio_mpipe_init */
	int instance;
} gxio_mpipe_context_t;

/* One entry per size class: the stack used for packets up to that size;
 * 255 drops them. */
typedef struct {
	uint8_t stacks[8];
} gxio_mpipe_rules_stacks_t;

#define USN_GXEMU_MAX_RULES 8
typedef struct {
	gxio_mpipe_context_t *context;
	int n;
	struct {
		unsigned bucket, num_buckets;
		bool stacks_given;
		gxio_mpipe_rules_stacks_t stacks;
		uint8_t headroom;
		uint32_t channel_mask; /* 0: every channel of the context's links */
	} rule[USN_GXEMU_MAX_RULES];
} gxio_mpipe_rules_t;

typedef struct {
	gxio_mpipe_context_t *context;
	gxio_mpipe_idesc_t *idescs;
	unsigned long num_entries, mask_num_entries, log2_num_entries;
	uint64_t head; /* descriptors consumed */
	unsigned int ring;
} gxio_mpipe_iqueue_t;

typedef struct {
	gxio_mpipe_context_t *context;
	gxio_mpipe_edesc_t *edescs;
	unsigned long num_entries, mask_num_entries, log2_num_entries;
	uint64_t reserved; /* next slot to hand out */
	unsigned int ering, channel;
} gxio_mpipe_equeue_t;

typedef struct {
	gxio_mpipe_context_t *context;
	uint8_t channel;
	uint8_t mac;
} gxio_mpipe_link_t;

/* Link open flags (hv/drv_mpipe_intf.h); 0 means DATA | STATS | CTL, all
 * shared, and AUTO_UPDOWN: the open brings the link up and the last close
 * (or exit) of any user takes it down. */
#define GXIO_MPIPE_LINK_DATA 0x00000001UL
#define GXIO_MPIPE_LINK_NO_DATA 0x00000002UL
#define GXIO_MPIPE_LINK_EXCL_DATA 0x00000004UL
#define GXIO_MPIPE_LINK_STATS 0x00000008UL
#define GXIO_MPIPE_LINK_NO_STATS 0x00000010UL
#define GXIO_MPIPE_LINK_EXCL_STATS 0x00000020UL
#define GXIO_MPIPE_LINK_CTL 0x00000040UL
#define GXIO_MPIPE_LINK_NO_CTL 0x00000080UL
#define GXIO_MPIPE_LINK_EXCL_CTL 0x00000100UL
#define GXIO_MPIPE_LINK_AUTO_UP 0x00000200UL
#define GXIO_MPIPE_LINK_AUTO_UPDOWN 0x00000400UL
#define GXIO_MPIPE_LINK_AUTO_DOWN 0x00000800UL
#define GXIO_MPIPE_LINK_AUTO_NONE 0x00001000UL

/* Link attributes and state bits (hv/drv_mpipe_intf.h). */
#define GXIO_MPIPE_LINK_RECEIVE_JUMBO 0x010000 /* nonzero: frames up to 10240 bytes, else 1544 */
#define GXIO_MPIPE_LINK_MAC 0x040000
#define GXIO_MPIPE_LINK_POSSIBLE_STATE 0x060000
#define GXIO_MPIPE_LINK_CURRENT_STATE 0x070000
#define GXIO_MPIPE_LINK_DESIRED_STATE 0x080000
#define GXIO_MPIPE_LINK_10M 0x0000000000000001UL
#define GXIO_MPIPE_LINK_100M 0x0000000000000002UL
#define GXIO_MPIPE_LINK_1G 0x0000000000000004UL
#define GXIO_MPIPE_LINK_10G 0x0000000000000008UL
#define GXIO_MPIPE_LINK_ANYSPEED 0x0000000000000800UL
#define GXIO_MPIPE_LINK_SPEED_MASK 0x0000000000000FFFUL

int gxio_mpipe_init(gxio_mpipe_context_t *context, unsigned int mpipe_instance);
int gxio_mpipe_destroy(gxio_mpipe_context_t *context);

int gxio_mpipe_link_instance(const char *link_name);
int gxio_mpipe_link_open(gxio_mpipe_link_t *link, gxio_mpipe_context_t *context, const char *link_name,
			 unsigned int flags);
int gxio_mpipe_link_close(gxio_mpipe_link_t *link);
int gxio_mpipe_link_channel(gxio_mpipe_link_t *link);
int64_t gxio_mpipe_link_get_attr(gxio_mpipe_link_t *link, uint32_t attr);
int gxio_mpipe_link_set_attr(gxio_mpipe_link_t *link, uint32_t attr, int64_t val);

int gxio_mpipe_alloc_buffer_stacks(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				   unsigned int flags);
size_t gxio_mpipe_buffer_size_enum_to_buffer_size(gxio_mpipe_buffer_size_enum_t e);
gxio_mpipe_buffer_size_enum_t gxio_mpipe_buffer_size_to_buffer_size_enum(size_t size);
size_t gxio_mpipe_calc_buffer_stack_bytes(unsigned long buffers);
int gxio_mpipe_init_buffer_stack(gxio_mpipe_context_t *context, unsigned int stack,
				 gxio_mpipe_buffer_size_enum_t buffer_size_enum, void *mem, size_t mem_size,
				 unsigned int mem_flags);
int gxio_mpipe_register_page(gxio_mpipe_context_t *context, unsigned int stack, void *page, size_t page_size,
			     unsigned int page_flags);
void gxio_mpipe_push_buffer(gxio_mpipe_context_t *context, unsigned int stack, void *buffer);
void *gxio_mpipe_pop_buffer(gxio_mpipe_context_t *context, unsigned int stack);

int gxio_mpipe_alloc_notif_rings(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				 unsigned int flags);
int gxio_mpipe_alloc_notif_groups(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				  unsigned int flags);
int gxio_mpipe_alloc_buckets(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
			     unsigned int flags);
int gxio_mpipe_init_notif_group_and_buckets(gxio_mpipe_context_t *context, unsigned int group, unsigned int ring,
					    unsigned int num_rings, unsigned int bucket, unsigned int num_buckets,
					    gxio_mpipe_bucket_mode_t mode);
/* Returns count credits to a NotifRing (ring >= 0) and/or a bucket
 * (bucket >= 0): one MMIO store. */
void gxio_mpipe_credit(gxio_mpipe_context_t *context, int ring, int bucket, unsigned int count);

int gxio_mpipe_iqueue_init(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_context_t *context, unsigned int ring,
			   void *mem, size_t mem_size, unsigned int mem_flags);
int gxio_mpipe_iqueue_try_peek(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t **idesc_ref);
/* Moves the iqueue's head over count entries (software only, no MMIO). */
void gxio_mpipe_iqueue_advance(gxio_mpipe_iqueue_t *iqueue, int count);
/* advance(1) and credit(ring, idesc's bucket, 1). */
void gxio_mpipe_iqueue_consume(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc);
int gxio_mpipe_iqueue_try_get(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc);

int gxio_mpipe_alloc_edma_rings(gxio_mpipe_context_t *context, unsigned int count, unsigned int first,
				unsigned int flags);
int gxio_mpipe_equeue_init(gxio_mpipe_equeue_t *equeue, gxio_mpipe_context_t *context, unsigned int ering,
			   unsigned int channel, void *mem, unsigned int mem_size, unsigned int mem_flags);
int64_t gxio_mpipe_equeue_try_reserve_fast(gxio_mpipe_equeue_t *equeue, unsigned int num);
void gxio_mpipe_equeue_put_at(gxio_mpipe_equeue_t *equeue, gxio_mpipe_edesc_t edesc, unsigned long slot);
/* Egress blocks for a ring: a packet starts leaving once min_snf_blks
 * blocks of 128 bytes are stored; the blocks come from one pool shared by
 * all 24 rings. */
int gxio_mpipe_config_edma_ring_blks(gxio_mpipe_context_t *context, unsigned int ering, unsigned int max_blks,
				     unsigned int min_snf_blks, unsigned int db);
/* The largest packet a ring sends without risking underruns (default
 * 1536); set it before any egress on the ring. */
static inline int gxio_mpipe_equeue_set_snf_size(gxio_mpipe_equeue_t *equeue, size_t size)
{
	unsigned blks = (unsigned)((size + 127) / 128);
	return gxio_mpipe_config_edma_ring_blks(equeue->context, equeue->ering, blks + 1, blks, 1);
}

void gxio_mpipe_rules_init(gxio_mpipe_rules_t *rules, gxio_mpipe_context_t *context);
int gxio_mpipe_rules_begin(gxio_mpipe_rules_t *rules, unsigned int bucket, unsigned int num_buckets,
			   gxio_mpipe_rules_stacks_t *stacks);
int gxio_mpipe_rules_add_channel(gxio_mpipe_rules_t *rules, unsigned int channel);
int gxio_mpipe_rules_set_headroom(gxio_mpipe_rules_t *rules, uint8_t headroom);
int gxio_mpipe_rules_commit(gxio_mpipe_rules_t *rules);

static inline unsigned char *gxio_mpipe_idesc_get_va(gxio_mpipe_idesc_t *idesc)
{
	return (unsigned char *)(intptr_t)idesc->va;
}
static inline unsigned int gxio_mpipe_idesc_get_xfer_size(gxio_mpipe_idesc_t *idesc)
{
	return idesc->l2_size;
}
static inline uint8_t gxio_mpipe_idesc_get_l2_offset(gxio_mpipe_idesc_t *idesc)
{
	return (uint8_t)((idesc->custom1 >> 32) & 0xff);
}
static inline uint32_t gxio_mpipe_idesc_get_flow_hash(gxio_mpipe_idesc_t *idesc)
{
	return (uint32_t)idesc->custom0;
}

/* ---- tmc: memory homed on a tile, CPU sets, the cycle counter ---- */
typedef struct {
	int home;         /* a CPU, or TMC_ALLOC_HOME_HASH */
	size_t pagesize;  /* 0: the default (64 KB) */
} tmc_alloc_t;
#define TMC_ALLOC_INIT {.home = -1, .pagesize = 0}
#define TMC_ALLOC_HOME_HASH (-2)

tmc_alloc_t *tmc_alloc_set_home(tmc_alloc_t *alloc, int home);
tmc_alloc_t *tmc_alloc_set_pagesize(tmc_alloc_t *alloc, size_t size);
size_t tmc_alloc_get_pagesize(tmc_alloc_t *alloc);
/* The page sizes the OS offers, as a bit mask (bit n: 2^n bytes). */
unsigned long tmc_alloc_get_pagesizes(void);
void *tmc_alloc_map(tmc_alloc_t *alloc, size_t size);
int tmc_alloc_unmap(void *addr, size_t size);

int tmc_cpus_get_dataplane_cpus(cpu_set_t *cpus);
int tmc_cpus_get_my_affinity(cpu_set_t *cpus);
int tmc_cpus_count(const cpu_set_t *cpus);
int tmc_cpus_find_nth_cpu(const cpu_set_t *cpus, unsigned int n);
int tmc_cpus_set_my_cpu(int cpu);

uint64_t get_cycle_count(void); /* the host's (not virtual) */
unsigned long tmc_perf_get_cpu_speed(void);

/* The emulation's cycle counter follows the simulated link's virtual
 * clock, so the stack's timers run on test time. */
uint64_t usn_gxemu_cycles(gxio_mpipe_context_t *ctx);
static inline uint64_t usn_gx_cycles(gxio_mpipe_context_t *ctx)
{
	return usn_gxemu_cycles(ctx);
}
static inline uint64_t usn_gx_cycles_per_sec(gxio_mpipe_context_t *ctx)
{
	(void)ctx;
	return (uint64_t)tmc_perf_get_cpu_speed();
}
/* The emulated __insn_mf(): the emulated put_at checks that the memory of
 * every edesc was handed to software before the last fence. */
void usn_gxemu_fence(gxio_mpipe_context_t *ctx);
static inline void usn_gx_fence(gxio_mpipe_context_t *ctx)
{
	usn_gxemu_fence(ctx);
}

#endif /* emulation */

#endif
