/* libusnet Linux packet port (include/usnet/backend_ops.h): a port on any
 * Linux interface (a veth in a container, a NIC) through AF_PACKET, one
 * socket per worker: a TPACKET_V3 receive ring (or V2), batched sendmmsg for
 * transmission, PACKET_QDISC_BYPASS, and virtio-net headers (PACKET_VNET_HDR)
 * so that frames carry checksum offload and TSO out and coalesced segments
 * with verified sums in, as gVisor's and Open vSwitch's userspace datapaths
 * use them. Several workers form one PACKET_FANOUT group whose program puts
 * each flow where usn_rss_queue says (pport_fanout.c).
 *
 * Command line: --iface IF, then the port's own options (--pkt-*), then an
 * optional "--", then the program's. Needs CAP_NET_RAW (root). */

/* glibc's net/if.h before any linux/ header (linux/libc-compat.h then
 * leaves struct ifreq to it). */
#include <net/if.h>

#include <errno.h>
#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/if_arp.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pport.h"
#include "usnet/stats.h"

#define DEF_BUFS 16384u
/* The receive ring: 512 blocks of 128 KiB, 64 MiB per worker. It must
 * outlast the worker's longest pause, not just hold a burst: a TPACKET_V3
 * block is handed over when full or after BLOCK_TIMEOUT_MS, whichever comes
 * first, so at the rates a web server sees (small frames, ~800 to a block)
 * each block holds a millisecond and the ring half a second, against 64 ms
 * with the first default (64 blocks of 256 KiB: the kernel dropped 6% of a
 * 1,000-connection run's frames while the worker was descheduled on a
 * shared machine, and every lost SYN or last ACK cost a 1 s timeout). With
 * TPACKET_V2 the same memory is 32,768 slots. */
#define DEF_BLOCKS 512u
/* A block holds a 64 KB frame with its headers, or about 85 full-size ones
 * or 800 small ones. */
#define BLOCK_SIZE (128u << 10)
/* A block the kernel has started is handed over when full or after this
 * long: the wait a frame may have when traffic is light. */
#define BLOCK_TIMEOUT_MS 1u
#define SNDBUF_BYTES (4 << 20)
/* TPACKET_V2 (--pkt-ring=v2): a ring slot, and room on the socket's queue
 * for the frames larger than one (a 64 KB frame takes about 70 KB). */
#define V2_SLOT 2048u
#define RCVBUF_BYTES (8 << 20)
/* PACKET_FANOUT_FLAG_IGNORE_OUTGOING (Linux 6.9): older headers lack it. */
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

struct pport_opts {
	const char *iface;
	long bufs, blocks;
	enum usn_pport_fanout fanout; /* RSS unless --pkt-fanout=hash */
	bool no_vnet;
	bool qdisc;   /* --pkt-qdisc: through the qdisc, not around it */
	bool ring_v2; /* --pkt-ring=v2 */
	int cpus[USN_PPORT_MAX_QUEUES];
	int n_cpus; /* 0: the process's first CPUs */
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

/* One line on stderr about a fallback or a fact the user should know. */
static void note(const struct usn_pport *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(const struct usn_pport *p, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "packet port %s: ", p->ifname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- the command line ---- */

static bool pport_claims(int argc, char **argv)
{
	return argc > 1 && (strcmp(argv[1], "--iface") == 0 || strncmp(argv[1], "--iface=", 8) == 0);
}

/* The index after "--iface IF": 3, or 2 for "--iface=IF" or a missing
 * name (open then says so). */
static int iface_end(int argc, char **argv)
{
	if (strncmp(argv[1], "--iface=", 8) == 0 || argc < 3 || strncmp(argv[2], "--", 2) == 0)
		return 2;
	return 3;
}

static int pport_args(int argc, char **argv)
{
	int i = iface_end(argc, argv);

	while (i < argc && strncmp(argv[i], "--pkt-", 6) == 0)
		i++;
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	return i;
}

static bool number(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* "0-3,6" into cpus; returns how many, or -1. */
static int cpu_list(const char *s, int *cpus, int max)
{
	int n = 0;

	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b;

		if (end == s || a < 0 || a >= CPU_SETSIZE)
			return -1;
		b = a;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a || b >= CPU_SETSIZE)
				return -1;
			s = end;
		}
		for (long c = a; c <= b; c++) {
			if (n == max)
				return -1;
			cpus[n++] = (int)c;
		}
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return -1;
	}
	return n;
}

static const char opts_known[] = "known: --pkt-bufs=N, --pkt-blocks=N, --pkt-cpus=LIST, "
				 "--pkt-fanout=rss|hash, --pkt-no-vnet, --pkt-qdisc, --pkt-ring=v3|v2";

static int parse_opts(int argc, char **argv, struct pport_opts *o, char *msg, size_t msg_len)
{
	int i = iface_end(argc, argv);

	memset(o, 0, sizeof(*o));
	o->bufs = DEF_BUFS;
	o->blocks = DEF_BLOCKS;
	o->fanout = USN_PPORT_FANOUT_RSS;
	o->iface = strncmp(argv[1], "--iface=", 8) == 0 ? argv[1] + 8 : (argc > 2 ? argv[2] : NULL);
	if (!o->iface || !*o->iface || strncmp(o->iface, "--", 2) == 0)
		return fail(msg, msg_len, -EINVAL, "--iface needs an interface name, e.g. --iface veth0");
	for (; i < argc && strncmp(argv[i], "--pkt-", 6) == 0; i++) {
		const char *a = argv[i];
		const char *eq = strchr(a, '=');
		const char *v = eq ? eq + 1 : NULL;
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);

		if (nlen == 10 && strncmp(a, "--pkt-bufs", 10) == 0 && v) {
			if (!number(v, 1024, 1 << 20, &o->bufs))
				return fail(msg, msg_len, -EINVAL,
					    "bad value in %s (expected --pkt-bufs=N, 1024..1048576)", a);
		} else if (nlen == 12 && strncmp(a, "--pkt-blocks", 12) == 0 && v) {
			if (!number(v, 8, 8192, &o->blocks))
				return fail(msg, msg_len, -EINVAL,
					    "bad value in %s (expected --pkt-blocks=N, 8..8192)", a);
		} else if (nlen == 10 && strncmp(a, "--pkt-cpus", 10) == 0 && v) {
			o->n_cpus = cpu_list(v, o->cpus, USN_PPORT_MAX_QUEUES);
			if (o->n_cpus <= 0)
				return fail(msg, msg_len, -EINVAL,
					    "bad value in %s (expected a CPU list, e.g. --pkt-cpus=0-3)", a);
		} else if (nlen == 12 && strncmp(a, "--pkt-fanout", 12) == 0 && v) {
			if (strcmp(v, "rss") == 0)
				o->fanout = USN_PPORT_FANOUT_RSS;
			else if (strcmp(v, "hash") == 0)
				o->fanout = USN_PPORT_FANOUT_HASH;
			else
				return fail(msg, msg_len, -EINVAL,
					    "bad value in %s (expected --pkt-fanout=rss or hash)", a);
		} else if (strcmp(a, "--pkt-no-vnet") == 0) {
			o->no_vnet = true;
		} else if (strcmp(a, "--pkt-qdisc") == 0) {
			o->qdisc = true;
		} else if (nlen == 10 && strncmp(a, "--pkt-ring", 10) == 0 && v) {
			if (strcmp(v, "v3") == 0 || strcmp(v, "v2") == 0)
				o->ring_v2 = v[1] == '2';
			else
				return fail(msg, msg_len, -EINVAL,
					    "bad value in %s (expected --pkt-ring=v3 or v2)", a);
		} else {
			return fail(msg, msg_len, -EINVAL, "unknown packet port option %s (%s)", a,
				    opts_known);
		}
	}
	return 0;
}

/* ---- the interface ---- */

static int if_ioctl(int fd, unsigned long req, const char *name, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	return ioctl(fd, req, ifr);
}

/* An ethtool feature (ETHTOOL_GTSO, ETHTOOL_GTXCSUM): 1 on, 0 off, -1 unknown. */
static int if_feature(int fd, const char *name, uint32_t cmd)
{
	struct ethtool_value ev = {.cmd = cmd};
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (char *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) != 0)
		return -1;
	return ev.data != 0;
}

/* The interface's gso_max_size (rtnetlink), or 65536 if it cannot be read. */
static uint32_t if_gso_max(int ifindex)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	uint8_t buf[16384];
	uint32_t max = 65536;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ssize_t n;

	if (fd < 0)
		return max;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = ifindex;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		goto out;
	n = recv(fd, buf, sizeof(buf), 0);
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(nh, (size_t)n);
	     nh = NLMSG_NEXT(nh, n)) {
		struct ifinfomsg *ifi;
		struct rtattr *rta;
		int len;

		if (nh->nlmsg_type != RTM_NEWLINK)
			continue;
		ifi = NLMSG_DATA(nh);
		len = (int)IFLA_PAYLOAD(nh);
		for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
			if (rta->rta_type == IFLA_GSO_MAX_SIZE && RTA_PAYLOAD(rta) >= sizeof(uint32_t))
				memcpy(&max, RTA_DATA(rta), sizeof(max));
	}
out:
	close(fd);
	return max;
}

/* Whether the kernel has an IPv4 address on the interface (it would then
 * answer ARP and TCP for it beside the stack). */
static bool if_has_ipv4(const char *name)
{
	struct ifaddrs *ifa, *i;
	bool has = false;

	if (getifaddrs(&ifa) != 0)
		return false;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, name) == 0)
			has = true;
	freeifaddrs(ifa);
	return has;
}

/* ---- sockets, rings, fanout ---- */

static int sock_setup(struct usn_pport *p, struct usn_pport_queue *q, const struct pport_opts *o, char *msg,
		      size_t msg_len)
{
	struct tpacket_req3 req;
	struct sockaddr_ll sll;
	int v = o->ring_v2 ? TPACKET_V2 : TPACKET_V3, one = 1, snd = SNDBUF_BYTES, rcv = RCVBUF_BYTES;

	if (p->vnet && setsockopt(q->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) != 0)
		return fail(msg, msg_len, -errno, "PACKET_VNET_HDR on %s: %s", p->ifname, strerror(errno));
	if (setsockopt(q->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) != 0)
		return fail(msg, msg_len, -errno, "TPACKET_V%d on %s: %s", v + 1, p->ifname, strerror(errno));
	memset(&req, 0, sizeof(req));
	req.tp_block_size = BLOCK_SIZE;
	req.tp_block_nr = (unsigned)o->blocks;
	if (o->ring_v2) {
		/* A slot per frame of up to an MTU of 1,500 and its headers;
		 * larger ones wait on the socket's queue for recvmsg. */
		req.tp_frame_size = V2_SLOT;
		req.tp_frame_nr = (unsigned)o->blocks * (BLOCK_SIZE / V2_SLOT);
		if (setsockopt(q->fd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof(one)) != 0)
			return fail(msg, msg_len, -errno, "PACKET_COPY_THRESH on %s: %s", p->ifname,
				    strerror(errno));
		if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) != 0)
			(void)setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	} else {
		req.tp_frame_size = BLOCK_SIZE; /* V3 packs frames of any size */
		req.tp_frame_nr = (unsigned)o->blocks;
		req.tp_retire_blk_tov = BLOCK_TIMEOUT_MS;
	}
	if (setsockopt(q->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
		return fail(msg, msg_len, -errno,
			    "receive ring of %ld x %u KiB on %s: %s (fewer --pkt-blocks?)", o->blocks,
			    BLOCK_SIZE >> 10, p->ifname, strerror(errno));
	q->v2 = o->ring_v2;
	q->frame_size = req.tp_frame_size;
	q->n_frames = req.tp_frame_nr;
	q->frame = 0;
	q->block_size = BLOCK_SIZE;
	q->n_blocks = (uint32_t)o->blocks;
	q->ring_bytes = (size_t)BLOCK_SIZE * q->n_blocks;
	q->ring = mmap(NULL, q->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
	if (q->ring == MAP_FAILED) {
		q->ring = NULL;
		return fail(msg, msg_len, -errno, "mapping the receive ring of %s: %s", p->ifname,
			    strerror(errno));
	}
	/* Past the qdisc straight to the driver, as DPDK's net_af_packet
	 * does: the stack paces itself. The taps (tcpdump) are on the qdisc
	 * path, so they then see only what arrives: --pkt-qdisc for both
	 * directions. Only a missing feature, if refused. */
	if (q->id == 0)
		p->bypass = false;
	if (!o->qdisc) {
		if (setsockopt(q->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) == 0)
			p->bypass = q->id == 0 ? true : p->bypass;
		else if (q->id == 0)
			note(p, "no PACKET_QDISC_BYPASS (%s): frames go through the qdisc", strerror(errno));
	}
	/* Frames the interface sends are not for the stack (best effort: a
	 * fanout group ignores this per-socket option, see join_fanout). */
	(void)setsockopt(q->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(q->fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) != 0)
		(void)setsockopt(q->fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	if (bind(q->fd, (struct sockaddr *)&sll, sizeof(sll)) != 0)
		return fail(msg, msg_len, -errno, "binding a packet socket to %s: %s", p->ifname,
			    strerror(errno));
	return 0;
}

/* Puts every worker's socket, in worker order, in one new fanout group of
 * `type` (the group's member i is worker i: the kernel appends members in
 * the order they join). Returns 0 or -errno (then nothing is joined). */
static int join_fanout(struct usn_pport *p, int type)
{
	uint32_t flags = PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
	struct sock_filter prog[USN_PPORT_PROG_MAX];
	struct sock_fprog fprog;
	socklen_t sl;
	uint32_t arg, got;

	for (int attempt = 0; attempt < 2; attempt++) {
		arg = (uint32_t)type | PACKET_FANOUT_FLAG_UNIQUEID | flags;
		arg <<= 16;
		if (setsockopt(p->q[0]->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) == 0)
			break;
		if (errno != EINVAL || !flags)
			return -errno;
		flags = 0; /* a kernel before 6.9: without the flag */
	}
	sl = sizeof(got);
	if (getsockopt(p->q[0]->fd, SOL_PACKET, PACKET_FANOUT, &got, &sl) != 0)
		return -errno;
	/* The group's id, and every member's flags as the first one's. */
	arg = (got & 0xffffu) | (((uint32_t)type | flags) << 16);
	for (uint16_t i = 1; i < p->n_queues; i++)
		if (setsockopt(p->q[i]->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0)
			return -errno;
	if (type == PACKET_FANOUT_CBPF) {
		size_t n = usn_pport_rss_prog(prog, USN_PPORT_PROG_MAX, p->hal.rss_key, p->n_queues);

		if (!n)
			return -E2BIG;
		fprog.len = (unsigned short)n;
		fprog.filter = prog;
		if (setsockopt(p->q[0]->fd, SOL_PACKET, PACKET_FANOUT_DATA, &fprog, sizeof(fprog)) != 0)
			return -errno;
	}
	return 0;
}

/* Closes and reopens every socket (a failed fanout join cannot be undone
 * any other way). */
static int socks_open(struct usn_pport *p, const struct pport_opts *o, char *msg, size_t msg_len);

static void socks_close(struct usn_pport *p)
{
	for (uint16_t i = 0; i < p->n_queues; i++) {
		struct usn_pport_queue *q = p->q[i];

		if (!q)
			continue;
		if (q->ring)
			munmap(q->ring, q->ring_bytes);
		q->ring = NULL;
		q->reading = false;
		q->block = 0;
		if (q->fd >= 0)
			close(q->fd);
		q->fd = -1;
	}
}

static int socks_open(struct usn_pport *p, const struct pport_opts *o, char *msg, size_t msg_len)
{
	for (uint16_t i = 0; i < p->n_queues; i++) {
		struct usn_pport_queue *q = p->q[i];
		int rc;

		q->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (q->fd < 0) {
			if (errno == EPERM || errno == EACCES)
				return fail(msg, msg_len, -EPERM,
					    "a packet socket on %s needs CAP_NET_RAW: run as root (or give "
					    "the program "
					    "cap_net_raw)",
					    p->ifname);
			return fail(msg, msg_len, -errno, "packet socket for %s: %s", p->ifname,
				    strerror(errno));
		}
		rc = sock_setup(p, q, o, msg, msg_len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- open ---- */

static void pport_close(struct usn_backend *base);

static struct usn_pport *pport_of(struct usn_backend *b)
{
	return (struct usn_pport *)(void *)((char *)b - offsetof(struct usn_pport, base));
}

static int queues_alloc(struct usn_pport *p, const struct pport_opts *o, char *msg, size_t msg_len)
{
	for (uint16_t i = 0; i < p->n_queues; i++) {
		struct usn_pport_queue *q = aligned_alloc(64, (sizeof(*q) + 63) & ~(size_t)63);

		if (!q)
			return fail(msg, msg_len, -ENOMEM, "out of memory");
		memset(q, 0, sizeof(*q));
		q->id = i;
		q->fd = -1;
		p->q[i] = q;
		q->n_bufs = (uint32_t)o->bufs;
		q->pool_bytes = (size_t)q->n_bufs * USN_PPORT_SLOT;
		/* Every buffer touched now, not on the packet path. */
		q->pool = mmap(NULL, q->pool_bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		q->free = calloc(q->n_bufs, sizeof(*q->free));
		if (q->pool == MAP_FAILED || !q->free) {
			if (q->pool == MAP_FAILED)
				q->pool = NULL;
			return fail(msg, msg_len, -ENOMEM,
				    "cannot allocate %u buffers of %u bytes for worker %u (lower "
				    "--pkt-bufs)",
				    q->n_bufs, USN_PPORT_SLOT, i);
		}
		usn_pport_pool_fill(q);
	}
	return 0;
}

/* Worker i's CPU: --pkt-cpus, else the i-th CPU this process may run on;
 * not pinned when there are fewer CPUs than workers. */
static int cpus_assign(struct usn_pport *p, const struct pport_opts *o, char *msg, size_t msg_len)
{
	cpu_set_t set;
	int k = 0;

	for (uint16_t i = 0; i < p->n_queues; i++)
		p->cpus[i] = -1;
	if (o->n_cpus) {
		if (o->n_cpus < p->n_queues)
			return fail(msg, msg_len, -EINVAL, "--pkt-cpus names %d CPUs for %u workers",
				    o->n_cpus, p->n_queues);
		memcpy(p->cpus, o->cpus, sizeof(int) * p->n_queues);
		return 0;
	}
	if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) < p->n_queues)
		return 0;
	for (int c = 0; c < CPU_SETSIZE && k < p->n_queues; c++)
		if (CPU_ISSET(c, &set))
			p->cpus[k++] = c;
	return 0;
}

static int pport_open(int argc, char **argv, uint16_t n_queues, struct usn_backend **out, char *msg,
		      size_t msg_len)
{
	struct pport_opts o;
	struct usn_pport *p;
	struct ifreq ifr;
	int consumed, rc, fd;

	*out = NULL;
	rc = parse_opts(argc, argv, &o, msg, msg_len);
	if (rc != 0)
		return rc;
	consumed = pport_args(argc, argv);
	if (n_queues == 0 || n_queues > USN_PPORT_MAX_QUEUES)
		return fail(msg, msg_len, -EINVAL, "unsupported worker count %u (1..%u)", n_queues,
			    USN_PPORT_MAX_QUEUES);
	if (strlen(o.iface) >= IFNAMSIZ)
		return fail(msg, msg_len, -EINVAL,
			    "--iface %s: not an interface name (at most %d characters)", o.iface,
			    IFNAMSIZ - 1);
	p = calloc(1, sizeof(*p));
	if (!p)
		return fail(msg, msg_len, -ENOMEM, "out of memory");
	p->base.ops = &usn_pport_backend_ops;
	p->n_queues = n_queues;
	snprintf(p->ifname, sizeof(p->ifname), "%s", o.iface);
	p->ifindex = (int)if_nametoindex(o.iface);
	if (!p->ifindex) {
		rc = fail(msg, msg_len, -ENODEV,
			  "--iface %s: no such interface in this network namespace (ip link lists "
			  "them)",
			  o.iface);
		goto err;
	}
	rc = cpus_assign(p, &o, msg, msg_len);
	if (rc != 0)
		goto err;
	rc = queues_alloc(p, &o, msg, msg_len);
	if (rc != 0)
		goto err;

	/* The first socket also answers the interface questions. */
	p->vnet = !o.no_vnet;
	rc = socks_open(p, &o, msg, msg_len);
	if (rc != 0 && p->vnet && strncmp(msg, "PACKET_VNET_HDR", 15) == 0) {
		note(p,
		     "no virtio-net headers on packet sockets here (%s): plain frames, no TSO, no checksum "
		     "offload",
		     msg);
		socks_close(p);
		p->vnet = false;
		rc = socks_open(p, &o, msg, msg_len);
	}
	if (rc != 0)
		goto err;
	fd = p->q[0]->fd;
	if (if_ioctl(fd, SIOCGIFHWADDR, o.iface, &ifr) != 0) {
		rc = fail(msg, msg_len, -errno, "--iface %s: cannot read its address: %s", o.iface,
			  strerror(errno));
		goto err;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		rc = fail(msg, msg_len, -EINVAL, "--iface %s: not an Ethernet interface (link type %u)",
			  o.iface, ifr.ifr_hwaddr.sa_family);
		goto err;
	}
	memcpy(p->hal.mac, ifr.ifr_hwaddr.sa_data, 6);
	if (if_ioctl(fd, SIOCGIFFLAGS, o.iface, &ifr) != 0 || !(ifr.ifr_flags & IFF_UP)) {
		rc = fail(msg, msg_len, -ENETDOWN, "--iface %s: the interface is down (ip link set %s up)",
			  o.iface, o.iface);
		goto err;
	}
	if (if_ioctl(fd, SIOCGIFMTU, o.iface, &ifr) != 0) {
		rc = fail(msg, msg_len, -errno, "--iface %s: cannot read its MTU: %s", o.iface,
			  strerror(errno));
		goto err;
	}
	p->hal.mtu = (uint16_t)(ifr.ifr_mtu > 65535 ? 65535 : ifr.ifr_mtu);

	/* The RSS key the fanout program hashes with, new at each start so a
	 * remote host cannot choose the worker its flows reach. */
	uint64_t seed;
	rc = usn_pport_random(&seed, sizeof(seed));
	if (rc != 0) {
		rc = fail(msg, msg_len, rc, "cannot read random bytes for the RSS key (getrandom): %s", strerror(-rc));
		goto err;
	}
	p->hal.rss_key = usn_rss_key_from(seed);

	if (n_queues > 1 && o.fanout == USN_PPORT_FANOUT_RSS) {
		rc = join_fanout(p, PACKET_FANOUT_CBPF);
		if (rc != 0) {
			note(p,
			     "the kernel refused a PACKET_FANOUT_CBPF group (%s): falling back to "
			     "PACKET_FANOUT_HASH, "
			     "worker 0 receiving for all and steering in software",
			     strerror(-rc));
			socks_close(p);
			rc = socks_open(p, &o, msg, msg_len);
			if (rc != 0)
				goto err;
			o.fanout = USN_PPORT_FANOUT_HASH;
		} else {
			p->fanout = USN_PPORT_FANOUT_RSS;
		}
	}
	if (n_queues > 1 && o.fanout == USN_PPORT_FANOUT_HASH) {
		rc = join_fanout(p, PACKET_FANOUT_HASH);
		if (rc != 0) {
			rc = fail(msg, msg_len, rc,
				  "--iface %s: cannot form a PACKET_FANOUT group for %u workers: %s", o.iface,
				  n_queues, strerror(-rc));
			goto err;
		}
		p->fanout = USN_PPORT_FANOUT_HASH;
		p->rx_drain_all = true;
	}

	p->hal.ops = &usn_pport_hal_ops;
	p->hal.cycles_per_sec = 1000000000u;
	p->hal.n_queues = n_queues;
	p->hal.buf_size = USN_PPORT_ROOM;
	p->hal.n_bufs = (uint32_t)o.bufs;
	p->hal.offloads = USN_HAL_OFF_TX_MULTISEG;
	if (p->fanout == USN_PPORT_FANOUT_RSS)
		p->hal.offloads |= USN_HAL_OFF_RSS;
	if (p->vnet) {
		uint32_t gso = if_gso_max(p->ifindex);
		int tso = if_feature(fd, o.iface, ETHTOOL_GTSO),
		    csum = if_feature(fd, o.iface, ETHTOOL_GTXCSUM);

		/* The IPv4 header sum is ours to write: only what the kernel
		 * does for us is advertised. */
		p->hal.offloads |=
		    USN_HAL_OFF_TX_TCP_CSUM | USN_HAL_OFF_TX_TSO | USN_HAL_OFF_RX_CSUM | USN_HAL_OFF_RX_LRO;
		p->hal.tso_max = gso < 65535 ? gso : 65535;
		if (tso == 0)
			note(p, "TCP segmentation offload is off on the interface: the kernel cuts the "
				"port's large "
				"segments itself (GSO)");
		if (csum == 0)
			note(p, "TX checksum offload is off on the interface: the kernel computes the TCP "
				"sums itself");
	}
	if (if_has_ipv4(o.iface))
		note(p,
		     "the kernel has an IPv4 address on this interface and will answer ARP and TCP beside "
		     "the stack "
		     "(ip addr flush dev %s)",
		     o.iface);
	/* What arrived while the group was forming may sit on the wrong
	 * worker's ring: the stack was not running yet anyway. */
	for (uint16_t i = 0; i < n_queues; i++)
		usn_pport_ring_flush(p->q[i]);
	*out = &p->base;
	return consumed;

err:
	pport_close(&p->base);
	return rc;
}

/* ---- the other backend operations ---- */

static struct usn_hal *pport_hal(struct usn_backend *b)
{
	return &pport_of(b)->hal;
}

static void pport_attach(struct usn_backend *b, struct usn_stack *s)
{
	pport_of(b)->stack = s;
}

struct pport_thread {
	struct usn_pport *p;
	int (*fn)(void *arg, uint16_t worker);
	void *arg;
	uint16_t worker;
	int rc;
	pthread_t tid;
};

static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *thread_main(void *arg)
{
	struct pport_thread *t = arg;
	int rc = pin(t->p->cpus[t->worker]);

	t->rc = rc < 0 ? rc : t->fn(t->arg, t->worker);
	return NULL;
}

static int pport_run(struct usn_backend *b, int (*fn)(void *arg, uint16_t worker), void *arg)
{
	struct usn_pport *p = pport_of(b);
	struct pport_thread t[USN_PPORT_MAX_QUEUES];
	uint16_t started = 1;
	int rc = 0;

	for (uint16_t i = 0; i < p->n_queues; i++)
		t[i] = (struct pport_thread){.p = p, .fn = fn, .arg = arg, .worker = i};
	p->running = true;
	for (uint16_t i = 1; i < p->n_queues; i++, started++) {
		if (pthread_create(&t[i].tid, NULL, thread_main, &t[i]) != 0) {
			rc = -EAGAIN;
			break;
		}
	}
	/* Worker 0 on this thread, even if a thread could not start: the
	 * started ones run until the program's stop flag is set, and worker 0
	 * returns then too (as the DPDK backend does); the error comes after. */
	if (rc != 0)
		note(p, "cannot start a thread for worker %u: stop the program (the error follows)", started);
	thread_main(&t[0]);
	for (uint16_t i = 1; i < started; i++)
		pthread_join(t[i].tid, NULL);
	p->running = false;
	for (uint16_t i = 0; i < p->n_queues && rc == 0; i++)
		rc = t[i].rc;
	return rc;
}

bool usn_pport_kernel_stats(struct usn_pport_queue *q)
{
	struct tpacket_stats_v3 ks;
	socklen_t sl = sizeof(ks);

	memset(&ks, 0, sizeof(ks));
	if (q->fd < 0 || getsockopt(q->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &sl) != 0)
		return false;
	/* tp_packets counts the dropped ones too. */
	q->k_packets += ks.tp_packets;
	q->k_drops += ks.tp_drops;
	q->k_freezes += sl >= sizeof(ks) ? ks.tp_freeze_q_cnt : 0;
	return true;
}

static void pport_print_stats(struct usn_backend *b, FILE *out)
{
	struct usn_pport *p = pport_of(b);
	static const char *const fanout[] = {"none", "rss (cbpf)", "hash, software steering"};

	fprintf(
	    out, "packet port %s: %u worker%s, fanout %s, %s, %s, %s, mtu %u, tso_max %u, offloads 0x%x\n",
	    p->ifname, p->n_queues, p->n_queues == 1 ? "" : "s", fanout[p->fanout],
	    p->q[0] && p->q[0]->v2 ? "TPACKET_V2 ring" : "TPACKET_V3 ring",
	    p->vnet ? "virtio-net headers" : "plain frames",
	    p->bypass ? "qdisc bypassed" : "through the qdisc", p->hal.mtu, p->hal.tso_max, p->hal.offloads);
	for (uint16_t i = 0; i < p->n_queues; i++) {
		struct usn_pport_queue *q = p->q[i];
		uint32_t returned = 0;
		const struct usn_pport_stats *s = &q->st;

		(void)usn_pport_kernel_stats(q);
		for (struct usn_buf *r = atomic_load(&q->returned); r; r = r->link)
			returned++;
		fprintf(out,
			"queue %u: rx %llu frames %llu bytes (%llu coalesced, %llu partial sums, %llu sums "
			"completed, %llu fetched, %llu blocks, %llu idle waits), dropped: %llu truncated "
			"%llu no buffer %llu vlan %llu outgoing %llu bad header; "
			"tx %llu frames %llu bytes (%llu tso) in %llu sendmmsg calls, %llu busy, %llu "
			"refused, %llu too long; kernel: %llu frames, %llu drops, %llu ring freezes; "
			"buffers %u of %u free\n",
			i, (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
			(unsigned long long)s->rx_coalesced, (unsigned long long)s->rx_csum_partial,
			(unsigned long long)s->rx_csum_sw, (unsigned long long)s->rx_fetched,
			(unsigned long long)s->rx_blocks, (unsigned long long)s->rx_waits,
			(unsigned long long)s->rx_truncated, (unsigned long long)s->rx_no_buf,
			(unsigned long long)s->rx_vlan, (unsigned long long)s->rx_outgoing,
			(unsigned long long)s->rx_bad_vnet, (unsigned long long)s->tx_frames,
			(unsigned long long)s->tx_bytes, (unsigned long long)s->tx_tso,
			(unsigned long long)s->tx_calls, (unsigned long long)s->tx_busy,
			(unsigned long long)s->tx_errors, (unsigned long long)s->tx_too_long,
			(unsigned long long)q->k_packets, (unsigned long long)q->k_drops,
			(unsigned long long)q->k_freezes, q->free_n + returned, q->n_bufs);
	}
	if (!p->stack)
		return;
	for (uint16_t w = 0; w < usn_stack_workers(p->stack); w++) {
		struct usn_stats ws;

		/* While the workers run only their published snapshot is safe
		 * to read; once joined, their own counters are exact. */
		if (p->running)
			usn_worker_stats_snapshot(usn_stack_worker(p->stack, w), &ws);
		else
			ws = *usn_worker_stats(usn_stack_worker(p->stack, w));
		fprintf(out, "worker %u (cpu %d):", w, w < p->n_queues ? p->cpus[w] : -1);
		for (size_t k = 0; k < usn_stats_count(); k++) {
			uint64_t v = usn_stats_value(&ws, k);

			if (v)
				fprintf(out, " %s=%llu", usn_stats_name(k), (unsigned long long)v);
		}
		fputc('\n', out);
	}
}

static void pport_close(struct usn_backend *b)
{
	struct usn_pport *p;

	if (!b)
		return;
	p = pport_of(b);
	socks_close(p);
	for (uint16_t i = 0; i < p->n_queues; i++) {
		struct usn_pport_queue *q = p->q[i];

		if (!q)
			continue;
		if (q->pool)
			munmap(q->pool, q->pool_bytes);
		free(q->free);
		free(q);
	}
	free(p);
}

static int pport_bufs(struct usn_backend *b, struct usn_backend_bufs *out)
{
	struct usn_pport *p = pport_of(b);

	*out = (struct usn_backend_bufs){0};
	for (uint16_t i = 0; i < p->n_queues; i++) {
		struct usn_pport_queue *q = p->q[i];
		uint32_t lvl = atomic_load_explicit(&q->bufs_free, memory_order_relaxed) +
			       atomic_load_explicit(&q->returned_n, memory_order_relaxed);

		usn_pport_bufs_low(q, lvl);
		out->size += q->n_bufs;
		out->free += lvl;
		out->free_low += atomic_load_explicit(&q->bufs_low, memory_order_relaxed);
	}
	return 0;
}

/* The kernel's own taps see the port's interface: no capture here. */
static int pport_pcap(struct usn_backend *b, const char *path, uint64_t max_bytes, char *msg, size_t msg_len)
{
	struct usn_pport *p = pport_of(b);

	(void)max_bytes;
	return fail(msg, msg_len, -ENOTSUP,
		    "--pcap is for DPDK ports; on the Linux packet port use tcpdump: tcpdump -i %s -w %s "
		    "(with --pkt-qdisc it also sees what the port sends)",
		    p->ifname, path);
}

const struct usn_backend_ops usn_pport_backend_ops = {
    .name = "packet",
    .claims = pport_claims,
    .args = pport_args,
    .help =
	"port: --iface IF [PORT OPTIONS] [--]  the Linux packet port on interface IF (AF_PACKET; root)\n"
	"      --pkt-bufs=N          buffers per worker (default 16384)\n"
	"      --pkt-blocks=N        receive ring blocks of 128 KiB per worker (default 512: 64 MiB)\n"
	"      --pkt-cpus=LIST       the workers' CPUs, e.g. 0-3 (default: the first ones allowed)\n"
	"      --pkt-fanout=rss|hash how workers share the interface (default rss: by the stack's hash)\n"
	"      --pkt-no-vnet         plain frames: no virtio-net headers, no offloads (default: headers)\n"
	"      --pkt-qdisc           send through the qdisc, so tcpdump on IF sees what is sent (default: "
	"bypass)\n"
	"      --pkt-ring=v3|v2      receive ring: v3 blocks, handed over full or after 1 ms; v2 a slot per\n"
	"                            frame, at once, larger frames by recvmsg (default v3)\n",
    .open = pport_open,
    .hal = pport_hal,
    .attach = pport_attach,
    .run = pport_run,
    .print_stats = pport_print_stats,
    .close = pport_close,
    .bufs = pport_bufs,
    .pcap = pport_pcap,
};
