/* libusnet DPDK backend: packet capture (usn_backend_pcap, --pcap FILE), in
 * pcapng through DPDK's own library, rte_pcapng: what each worker receives
 * and sends, one interface block per worker.
 *
 * Where the work happens:
 * - The worker, per burst: rte_pcapng_copy of each frame into a capture
 *   mbuf from the worker's own capture pool (the one copy of the frame's
 *   bytes in user space; a mempool get, no malloc, no system call), with
 *   the EPB header DPDK's library writes in front of it; then the burst's
 *   copies go onto the worker's single-producer ring in one enqueue. A full
 *   ring or an empty pool drops the copy, counted, never the frame.
 * - A writer thread (a DPDK control thread, off the workers' cores): takes
 *   the copies from every worker's ring in bursts and hands them to the
 *   kernel with one writev per burst (the kernel's copy into the page
 *   cache), then returns the mbufs to their pools. It counts the bytes and
 *   stops at the limit, saying so on stderr.
 * So the workers' fast path gains a copy per frame and no system call; the
 * file's I/O is the writer's. The file: DPDK's section header and one
 * interface block per DPDK port (rte_pcapng_fdopen), then one per worker
 * (written here: rte_pcapng in DPDK 22.11 names only ports), every packet
 * on its worker's interface, and at the end a statistics block per worker
 * (packets seen, packets not written). */
/* _GNU_SOURCE comes from arch/x86/x86.mk (before rte_config.h is included).
 * rte_pcapng is an experimental API in DPDK 22.11: this file alone opts in,
 * before any DPDK header. */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>
#include <rte_version.h>

#include "usn_dpdk.h"

/* Copies waiting for the writer, per worker: a few milliseconds of a busy
 * worker's frames. The pool holds the ring's worth and the copies in
 * flight; a frame over one mbuf's room takes a chain. */
#define PCAP_RING 4096u
#define PCAP_MBUFS 8191u
#define PCAP_POOL_CACHE 256u
#define PCAP_BURST 128u
#define PCAP_IDLE_NS 1000000L /* the writer's nap when every ring is empty */
#define PCAP_STAGE 64u	      /* dpdk_hal.c stages at most this many per tx_burst */

/* pcapng (draft-ietf-opsawg-pcapng): block types, option codes, and where
 * the fields the worker rewrites sit in an Enhanced Packet Block. */
#define PNG_IDB 1u
#define PNG_ISB 5u
#define PNG_OPT_END 0u
#define PNG_IF_NAME 2u
#define PNG_IF_DESCRIPTION 3u
#define PNG_IF_TSRESOL 9u
#define PNG_ISB_STARTTIME 2u
#define PNG_ISB_ENDTIME 3u
#define PNG_ISB_IFRECV 4u
#define PNG_ISB_IFDROP 5u
#define EPB_IFACE_OFF 8u
#define EPB_TS_HI_OFF 12u
#define EPB_TS_LO_OFF 16u

struct pcap_worker {
	struct rte_mempool *mp;
	struct rte_ring *ring;
	/* The copies of the frames handed to the driver this call, until it
	 * says how many it took. */
	struct rte_mbuf *tx[PCAP_STAGE]; /* NULL: no copy (pool empty) */
	uint16_t tx_n;
	bool tx_stopped; /* the capture had stopped: none was copied */
	/* The worker's (read once it has returned): frames offered to the
	 * capture, copies lost to an empty pool or a full ring, frames not
	 * copied because the capture had stopped. */
	uint64_t seen, lost, skipped;
	/* TSC cycles the worker spent in the capture (two rdtsc a burst): its
	 * cost, measured where it is paid. */
	uint64_t cycles;
	/* The writer's: packets and bytes written, packets past the limit. */
	uint64_t written, written_bytes, over_limit;
};

struct usn_dpdk_pcap {
	char path[PATH_MAX];
	int fd;
	rte_pcapng_t *png;
	uint16_t n_workers;
	uint16_t port;	  /* the DPDK port (rte_pcapng_copy records it) */
	uint32_t if_base; /* the interface id of worker 0's block */
	uint64_t max_bytes;
	/* The capture's clock: a realtime instant and the TSC then. Each
	 * burst's timestamp is computed from these by the worker rather than
	 * taken from rte_pcapng_copy, whose conversion in DPDK 22.11 updates
	 * process-wide state without a lock (several workers could skew it). */
	uint64_t t0_ns, t0_tsc, tsc_hz;
	uint64_t start_ns;
	/* Set by the writer when it stops writing (the limit, or an error):
	 * the workers then stop copying. */
	atomic_bool stopped;
	atomic_bool quit; /* the workers have returned: drain and end */
	bool writer_started, finished;
	pthread_t writer;
	char stop_why[160]; /* the writer's; printed once */
	uint64_t bytes; /* the file's size so far (the writer's) */
	struct pcap_worker w[USN_DPDK_MAX_QUEUES];
};

static int fail(char *msg, size_t msg_len, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

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

/* ---- the worker's side ---- */

static uint64_t pcap_now_ns(const struct usn_dpdk_pcap *pc)
{
	uint64_t d = rte_rdtsc() - pc->t0_tsc;

	return pc->t0_ns + (uint64_t)((unsigned __int128)d * 1000000000u / pc->tsc_hz);
}

/* Puts the worker's interface and the burst's timestamp into an EPB that
 * rte_pcapng_copy formatted (host byte order, as the section header says). */
static void epb_stamp(struct rte_mbuf *c, uint32_t iface, uint64_t ns)
{
	uint8_t *epb = rte_pktmbuf_mtod(c, uint8_t *);
	uint32_t hi = (uint32_t)(ns >> 32), lo = (uint32_t)ns;

	memcpy(epb + EPB_IFACE_OFF, &iface, 4);
	memcpy(epb + EPB_TS_HI_OFF, &hi, 4);
	memcpy(epb + EPB_TS_LO_OFF, &lo, 4);
}

/* The copy of frame m for worker `worker`'s interface at time ns, or NULL
 * (the capture pool is empty: counted by the caller). */
static struct rte_mbuf *pcap_copy(struct usn_dpdk_pcap *pc, uint16_t worker, const struct rte_mbuf *m,
				  enum rte_pcapng_direction dir, uint64_t tsc, uint64_t ns)
{
	struct rte_mbuf *c = rte_pcapng_copy(pc->port, worker, m, pc->w[worker].mp, UINT32_MAX, tsc, dir);

	if (likely(c != NULL))
		epb_stamp(c, pc->if_base + worker, ns);
	return c;
}

static void pcap_enqueue(struct pcap_worker *w, struct rte_mbuf **c, uint16_t n)
{
	unsigned put = n ? rte_ring_sp_enqueue_burst(w->ring, (void **)c, n, NULL) : 0;

	if (unlikely(put < n)) {
		/* The writer is behind: these copies are lost, counted. */
		w->lost += n - put;
		rte_pktmbuf_free_bulk(c + put, n - put);
	}
}

void usn_dpdk_pcap_rx(struct usn_dpdk_pcap *pc, uint16_t worker, struct usn_buf **bufs, uint16_t n)
{
	struct pcap_worker *w = &pc->w[worker];
	struct rte_mbuf *c[PCAP_BURST];
	uint64_t tsc, ns;

	w->seen += n;
	if (atomic_load_explicit(&pc->stopped, memory_order_relaxed)) {
		w->skipped += n;
		return;
	}
	tsc = rte_rdtsc();
	ns = pcap_now_ns(pc); /* one timestamp per burst: they arrived together */
	while (n > 0) {
		uint16_t k = n < PCAP_BURST ? n : PCAP_BURST, got = 0;

		for (uint16_t i = 0; i < k; i++) {
			c[got] = pcap_copy(pc, worker, usn_dpdk_mbuf(bufs[i]), RTE_PCAPNG_DIRECTION_IN, tsc, ns);
			if (likely(c[got] != NULL))
				got++;
			else
				w->lost++;
		}
		pcap_enqueue(w, c, got);
		bufs += k;
		n = (uint16_t)(n - k);
	}
	w->cycles += rte_rdtsc() - tsc;
}

void usn_dpdk_pcap_tx(struct usn_dpdk_pcap *pc, uint16_t worker, struct rte_mbuf **mb, uint16_t n)
{
	struct pcap_worker *w = &pc->w[worker];
	uint64_t tsc, ns;

	/* A copy per frame handed over, kept in the frame's slot until the
	 * driver says how many it took: a driver may free a frame as soon as
	 * it has sent it, so the copy cannot wait until after. */
	w->tx_n = n < PCAP_STAGE ? n : PCAP_STAGE;
	w->tx_stopped = atomic_load_explicit(&pc->stopped, memory_order_relaxed);
	if (w->tx_stopped)
		return;
	tsc = rte_rdtsc();
	ns = pcap_now_ns(pc);
	for (uint16_t i = 0; i < w->tx_n; i++)
		w->tx[i] = pcap_copy(pc, worker, mb[i], RTE_PCAPNG_DIRECTION_OUT, tsc, ns);
	w->cycles += rte_rdtsc() - tsc;
}

void usn_dpdk_pcap_tx_done(struct usn_dpdk_pcap *pc, uint16_t worker, uint16_t sent)
{
	struct pcap_worker *w = &pc->w[worker];
	uint64_t t0 = rte_rdtsc();
	uint16_t k = 0;

	/* Frames the driver took are captured; the others stay with the
	 * stack and come back in a later burst, to be copied then: their
	 * copies go now, counted nowhere. */
	for (uint16_t i = 0; i < w->tx_n; i++) {
		struct rte_mbuf *c = w->tx_stopped ? NULL : w->tx[i];

		if (i >= sent) {
			if (c)
				rte_pktmbuf_free(c);
			continue;
		}
		w->seen++;
		if (w->tx_stopped)
			w->skipped++;
		else if (!c)
			w->lost++;
		else
			w->tx[k++] = c;
	}
	pcap_enqueue(w, w->tx, k);
	w->tx_n = 0;
	w->cycles += rte_rdtsc() - t0;
}

/* ---- the writer ---- */

/* write(2) until done; false on an error (errno set). */
static bool write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len > 0) {
		ssize_t k = write(fd, b, len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		b += k;
		len -= (size_t)k;
	}
	return true;
}

/* writev(2) until every byte of iov[0..n) is written; false on an error. */
static bool writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t k = writev(fd, iov, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return true;
}

static void writer_stop(struct usn_dpdk_pcap *pc, const char *why)
{
	if (atomic_load_explicit(&pc->stopped, memory_order_relaxed))
		return;
	snprintf(pc->stop_why, sizeof(pc->stop_why), "%s", why);
	atomic_store_explicit(&pc->stopped, true, memory_order_relaxed);
	fprintf(stderr, "capture %s: %s; no more packets are written\n", pc->path, pc->stop_why);
}

/* Writes worker w's burst of copies (as far as the limit allows) and
 * frees them. */
static void writer_burst(struct usn_dpdk_pcap *pc, uint16_t worker, struct rte_mbuf **m, unsigned n)
{
	struct pcap_worker *w = &pc->w[worker];
	struct iovec iov[IOV_MAX];
	int k = 0;
	unsigned pkts = 0;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t len = rte_pktmbuf_pkt_len(m[i]);

		if (atomic_load_explicit(&pc->stopped, memory_order_relaxed)) {
			w->over_limit++;
			continue;
		}
		if (pc->max_bytes && pc->bytes + bytes + len > pc->max_bytes) {
			char why[128];

			snprintf(why, sizeof(why), "reached its limit of %" PRIu64 " bytes (--pcap-max-mb)",
				 pc->max_bytes);
			writer_stop(pc, why);
			w->over_limit++;
			continue;
		}
		if (k + m[i]->nb_segs > IOV_MAX)
			break; /* cannot happen with PCAP_BURST copies of sane chains */
		for (struct rte_mbuf *s = m[i]; s; s = s->next)
			iov[k++] = (struct iovec){.iov_base = rte_pktmbuf_mtod(s, void *), .iov_len = s->data_len};
		pkts++;
		bytes += len;
	}
	if (k > 0 && !writev_all(pc->fd, iov, k)) {
		char why[128];

		snprintf(why, sizeof(why), "write failed: %s", strerror(errno));
		writer_stop(pc, why);
		w->over_limit += pkts;
		pkts = 0;
		bytes = 0;
	}
	w->written += pkts;
	w->written_bytes += bytes;
	pc->bytes += bytes;
	rte_pktmbuf_free_bulk(m, n);
}

static void *writer_main(void *arg)
{
	struct usn_dpdk_pcap *pc = arg;
	struct rte_mbuf *m[PCAP_BURST];

	for (;;) {
		/* Read before draining: once set, the workers have returned,
		 * so one pass that finds every ring empty is the end. */
		bool quit = atomic_load_explicit(&pc->quit, memory_order_acquire);
		bool idle = true;

		for (uint16_t q = 0; q < pc->n_workers; q++) {
			unsigned n = rte_ring_sc_dequeue_burst(pc->w[q].ring, (void **)m, PCAP_BURST, NULL);

			if (n) {
				idle = false;
				writer_burst(pc, q, m, n);
			}
		}
		if (idle && quit)
			break;
		if (idle) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = PCAP_IDLE_NS};

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* ---- file structure ---- */

/* One option into buf at *off: code, length, value, padding to 32 bits. */
static void opt_put(uint8_t *buf, size_t *off, uint16_t code, const void *v, uint16_t len)
{
	memcpy(buf + *off, &code, 2);
	memcpy(buf + *off + 2, &len, 2);
	if (len)
		memcpy(buf + *off + 4, v, len);
	memset(buf + *off + 4 + len, 0, (size_t)((4 - len % 4) % 4));
	*off += 4 + (size_t)len + (size_t)((4 - len % 4) % 4);
}

/* Closes a block started at buf with its type: total length at offset 4
 * and again at the end. Returns the block's length. */
static size_t block_end(uint8_t *buf, size_t off)
{
	uint32_t len = (uint32_t)(off + 4);

	memcpy(buf + 4, &len, 4);
	memcpy(buf + off, &len, 4);
	return len;
}

/* The interface block of one worker: Ethernet, no snap length (as DPDK's
 * for the port: readers require the same for every interface), timestamps
 * in nanoseconds. */
static bool write_idb(int fd, const char *name, const char *desc)
{
	uint8_t buf[512];
	uint32_t type = PNG_IDB, snaplen = 0;
	uint16_t link = 1 /* LINKTYPE_ETHERNET */, reserved = 0;
	uint8_t tsresol = 9;
	size_t off = 16;

	memcpy(buf, &type, 4);
	memcpy(buf + 8, &link, 2);
	memcpy(buf + 10, &reserved, 2);
	memcpy(buf + 12, &snaplen, 4);
	opt_put(buf, &off, PNG_IF_NAME, name, (uint16_t)strlen(name));
	opt_put(buf, &off, PNG_IF_DESCRIPTION, desc, (uint16_t)strlen(desc));
	opt_put(buf, &off, PNG_IF_TSRESOL, &tsresol, 1);
	opt_put(buf, &off, PNG_OPT_END, NULL, 0);
	return write_all(fd, buf, block_end(buf, off));
}

/* The statistics block of one worker's interface: what it saw, what was
 * not written. */
static bool write_isb(int fd, uint32_t iface, uint64_t start_ns, uint64_t end_ns, uint64_t recv, uint64_t drop)
{
	uint8_t buf[128];
	uint32_t type = PNG_ISB, hi = (uint32_t)(end_ns >> 32), lo = (uint32_t)end_ns;
	size_t off = 20;

	memcpy(buf, &type, 4);
	memcpy(buf + 8, &iface, 4);
	memcpy(buf + 12, &hi, 4);
	memcpy(buf + 16, &lo, 4);
	/* isb_starttime and isb_endtime: high then low 32 bits */
	uint32_t t[2] = {(uint32_t)(start_ns >> 32), (uint32_t)start_ns};
	opt_put(buf, &off, PNG_ISB_STARTTIME, t, 8);
	t[0] = hi;
	t[1] = lo;
	opt_put(buf, &off, PNG_ISB_ENDTIME, t, 8);
	opt_put(buf, &off, PNG_ISB_IFRECV, &recv, 8);
	opt_put(buf, &off, PNG_ISB_IFDROP, &drop, 8);
	opt_put(buf, &off, PNG_OPT_END, NULL, 0);
	return write_all(fd, buf, block_end(buf, off));
}

/* ---- set-up and end ---- */

int usn_dpdk_pcap_open(struct usn_dpdk_backend *b, const char *path, uint64_t max_bytes, char *msg,
		       size_t msg_len)
{
	struct usn_dpdk_pcap *pc;
	struct rte_eth_dev_info info;
	struct timespec ts;
	struct utsname un;
	char ifname[IF_NAMESIZE + 16], os[256], app[128];
	int rc;

	if (b->pcap)
		return fail(msg, msg_len, -EBUSY, "--pcap: already capturing to %s", b->pcap->path);
	if (b->running)
		return fail(msg, msg_len, -EBUSY, "--pcap: the workers already run");
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return fail(msg, msg_len, -ENOMEM, "--pcap: out of memory");
	snprintf(pc->path, sizeof(pc->path), "%s", path);
	pc->n_workers = b->n_queues;
	pc->port = b->port;
	pc->max_bytes = max_bytes;
	pc->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (pc->fd < 0) {
		rc = fail(msg, msg_len, -errno, "--pcap %s: cannot create it: %s", path, strerror(errno));
		free(pc);
		return rc;
	}
	for (uint16_t q = 0; q < pc->n_workers; q++) {
		char name[RTE_MEMPOOL_NAMESIZE];
		int socket = b->socket[q];

		snprintf(name, sizeof(name), "usn_cap_p%u_q%u", b->port, q);
		pc->w[q].mp = rte_pktmbuf_pool_create(name, PCAP_MBUFS, PCAP_POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
						      socket);
		if (!pc->w[q].mp && socket != SOCKET_ID_ANY)
			pc->w[q].mp = rte_pktmbuf_pool_create(name, PCAP_MBUFS, PCAP_POOL_CACHE, 0,
							      RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
		snprintf(name, sizeof(name), "usn_cap_r%u_q%u", b->port, q);
		pc->w[q].ring = rte_ring_create(name, PCAP_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!pc->w[q].mp || !pc->w[q].ring) {
			rc = fail(msg, msg_len, -ENOMEM,
				  "--pcap: cannot create the capture's buffers for worker %u (%u mbufs): %s; give "
				  "the EAL more memory (-m)",
				  q, PCAP_MBUFS, rte_strerror(rte_errno));
			goto err;
		}
	}
	/* DPDK's section header and its interface blocks for the ports. */
	if (uname(&un) == 0)
		snprintf(os, sizeof(os), "%s %s", un.sysname, un.release);
	else
		snprintf(os, sizeof(os), "Linux");
	snprintf(app, sizeof(app), "libusnet (%s)", rte_version());
	pc->png = rte_pcapng_fdopen(pc->fd, os, NULL, app, NULL);
	if (!pc->png) {
		rc = fail(msg, msg_len, -EIO, "--pcap %s: cannot write its header: %s", path, rte_strerror(rte_errno));
		goto err;
	}
	pc->if_base = rte_eth_dev_count_avail();
	/* Then the workers': "IF/wN", IF the kernel's name of the port's
	 * interface where it has one (net_af_packet, net_af_xdp), else dpdk:P. */
	if (rte_eth_dev_info_get(b->port, &info) != 0 || !if_indextoname(info.if_index, ifname))
		snprintf(ifname, sizeof(ifname), "dpdk:%u", b->port);
	for (uint16_t q = 0; q < pc->n_workers; q++) {
		char name[IF_NAMESIZE + 32], desc[128];

		snprintf(name, sizeof(name), "%s/w%u", ifname, q);
		snprintf(desc, sizeof(desc), "libusnet worker %u: DPDK port %u (%s) queue %u", q, b->port, b->driver,
			 q);
		if (!write_idb(pc->fd, name, desc)) {
			rc = fail(msg, msg_len, -errno, "--pcap %s: %s", path, strerror(errno));
			goto err;
		}
	}
	/* The limit counts the whole file (these headers too). */
	pc->bytes = (uint64_t)lseek(pc->fd, 0, SEEK_CUR);
	clock_gettime(CLOCK_REALTIME, &ts);
	pc->t0_tsc = rte_rdtsc();
	pc->t0_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	pc->tsc_hz = rte_get_tsc_hz();
	pc->start_ns = pc->t0_ns;
	/* A control thread runs on the cores the EAL leaves to control work,
	 * not on the workers'. */
	rc = rte_ctrl_thread_create(&pc->writer, "usn-pcap", NULL, writer_main, pc);
	if (rc != 0) {
		rc = fail(msg, msg_len, -rc, "--pcap: cannot start the writer thread: %s", strerror(rc));
		goto err;
	}
	pc->writer_started = true;
	b->pcap = pc;
	return 0;
err:
	usn_dpdk_pcap_close(pc);
	return rc;
}

void usn_dpdk_pcap_finish(struct usn_dpdk_pcap *pc)
{
	struct timespec ts;
	uint64_t end_ns;

	if (!pc || pc->finished)
		return;
	pc->finished = true;
	if (pc->writer_started) {
		atomic_store_explicit(&pc->quit, true, memory_order_release);
		pthread_join(pc->writer, NULL);
		pc->writer_started = false;
	}
	if (pc->fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	end_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	for (uint16_t q = 0; q < pc->n_workers && pc->png; q++) {
		const struct pcap_worker *w = &pc->w[q];

		(void)write_isb(pc->fd, pc->if_base + q, pc->start_ns, end_ns, w->seen,
				w->lost + w->skipped + w->over_limit);
	}
	/* rte_pcapng_close closes the descriptor too. */
	if (pc->png)
		rte_pcapng_close(pc->png);
	else
		close(pc->fd);
	pc->png = NULL;
	pc->fd = -1;
}

void usn_dpdk_pcap_print(const struct usn_dpdk_pcap *pc, FILE *out)
{
	uint64_t pkts = 0, lost = 0, skipped = 0, seen = 0, cycles = 0;

	if (!pc)
		return;
	for (uint16_t q = 0; q < pc->n_workers; q++) {
		pkts += pc->w[q].written;
		lost += pc->w[q].lost;
		skipped += pc->w[q].skipped + pc->w[q].over_limit;
		seen += pc->w[q].seen;
		cycles += pc->w[q].cycles;
	}
	fprintf(out,
		"capture %s: %" PRIu64 " packets written, %" PRIu64 " bytes; not written: %" PRIu64
		" (the capture's buffers full), %" PRIu64 " (after it stopped%s%s); the workers spent %.0f cycles "
		"a frame copying (%.0f ns)\n",
		pc->path, pkts, pc->bytes, lost, skipped, pc->stop_why[0] ? ": " : "", pc->stop_why,
		seen ? (double)cycles / (double)seen : 0.0,
		seen ? (double)cycles / (double)seen * 1e9 / (double)pc->tsc_hz : 0.0);
}

void usn_dpdk_pcap_close(struct usn_dpdk_pcap *pc)
{
	if (!pc)
		return;
	usn_dpdk_pcap_finish(pc);
	for (uint16_t q = 0; q < USN_DPDK_MAX_QUEUES; q++) {
		if (pc->w[q].ring) {
			struct rte_mbuf *m;

			while (rte_ring_sc_dequeue(pc->w[q].ring, (void **)&m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(pc->w[q].ring);
		}
		rte_mempool_free(pc->w[q].mp);
	}
	free(pc);
}
