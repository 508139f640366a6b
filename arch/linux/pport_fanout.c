/* libusnet Linux packet port: the classic BPF program a PACKET_FANOUT_CBPF
 * group runs on every received frame to pick its socket (worker), so that
 * the kernel spreads flows exactly as usn_rss_queue(usn_rss_hash(key, ...))
 * does, with the RSS key the port drew at start:
 * the port then has the stack's RSS, and an active open's reply comes back
 * to the worker that chose its source port. PACKET_FANOUT_HASH would use
 * the kernel's own flow hash, which nothing in the stack can predict.
 *
 * usn_rss_hash is a Toeplitz hash, linear over XOR: the hash of a 4-tuple is
 * the XOR, over the input's set bits, of the hash of that bit alone. The
 * program tests each of the 96 input bits and XORs in its constant (taken
 * from usn_rss_hash itself, so the two cannot disagree); only the low seven
 * bits matter to usn_rss_queue. About 520 instructions, JIT-compiled. */
#include <linux/filter.h>

#include "pport.h"

/* Offsets of the IPv4 header fields from the network header. */
#define IP_FRAG 6
#define IP_PROTO 9
#define IP_SRC 12

/* Scratch memory words. */
#define M_HASH 0
#define M_BYTE 1
#define M_PORTS 2 /* 2..5: the four port bytes */

struct prog {
	struct sock_filter *f;
	size_t n, cap;
};

static void emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (p->n < p->cap)
		p->f[p->n] = (struct sock_filter){.code = code, .jt = jt, .jf = jf, .k = k};
	p->n++;
}

/* A check on A: go on when the jump's test is `when_true`, else return 0
 * (worker 0). Jumps only go forward, at most 255 instructions, so each
 * check has its own return right behind it. */
static void guard(struct prog *p, uint16_t jmp, uint32_t k, bool when_true)
{
	emit(p, (uint16_t)(BPF_JMP | jmp | BPF_K), when_true ? 1 : 0, when_true ? 0 : 1, k);
	emit(p, BPF_RET | BPF_K, 0, 0, 0);
}

/* The low seven bits of usn_rss_hash of input bit `bit` (7 = MSB) of input
 * byte j (0-3 the source address, 4-7 the destination, 8-9 the source
 * port, 10-11 the destination port, each most significant byte first). */
static uint32_t bit_hash(uint16_t key, unsigned j, unsigned bit)
{
	uint32_t v = 1u << bit;

	if (j < 4)
		return usn_rss_hash(key, v << (8 * (3 - j)), 0, 0, 0) & 127u;
	if (j < 8)
		return usn_rss_hash(key, 0, v << (8 * (7 - j)), 0, 0) & 127u;
	if (j < 10)
		return usn_rss_hash(key, 0, 0, (uint16_t)(v << (8 * (9 - j))), 0) & 127u;
	return usn_rss_hash(key, 0, 0, 0, (uint16_t)(v << (8 * (11 - j)))) & 127u;
}

size_t usn_pport_rss_prog(struct sock_filter *f, size_t cap, uint16_t key, uint16_t n_queues)
{
	struct prog p = {.f = f, .n = 0, .cap = cap};
	const uint32_t net = (uint32_t)SKF_NET_OFF;

	if (n_queues == 0)
		return 0;
	/* IPv4 (the frame's protocol, VLAN tag already taken off), TCP or
	 * UDP (whose ports sit where TCP's do), not a fragment, a header of
	 * at least 20 bytes: as the stack's software steering
	 * (usn_worker_steer_target); anything else to worker 0. */
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
	guard(&p, BPF_JEQ, 0x0800, true);
	emit(&p, BPF_LD | BPF_B | BPF_ABS, 0, 0, net + IP_PROTO);
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 6); /* TCP: past the UDP check and its return */
	guard(&p, BPF_JEQ, 17, true);
	emit(&p, BPF_LD | BPF_H | BPF_ABS, 0, 0, net + IP_FRAG);
	guard(&p, BPF_JSET, 0x3fff, false);
	emit(&p, BPF_LD | BPF_B | BPF_ABS, 0, 0, net);
	emit(&p, BPF_ALU | BPF_AND | BPF_K, 0, 0, 15);
	guard(&p, BPF_JGE, 5, true);
	emit(&p, BPF_ALU | BPF_LSH | BPF_K, 0, 0, 2);
	emit(&p, BPF_MISC | BPF_TAX, 0, 0, 0);
	/* The ports follow the IPv4 header: X holds its length. */
	for (unsigned i = 0; i < 4; i++) {
		emit(&p, BPF_LD | BPF_B | BPF_IND, 0, 0, net + i);
		emit(&p, BPF_ST, 0, 0, M_PORTS + i);
	}
	emit(&p, BPF_LD | BPF_IMM, 0, 0, 0);
	emit(&p, BPF_ST, 0, 0, M_HASH);
	for (unsigned j = 0; j < 12; j++) {
		if (j < 8)
			emit(&p, BPF_LD | BPF_B | BPF_ABS, 0, 0, net + IP_SRC + j);
		else
			emit(&p, BPF_LD | BPF_MEM, 0, 0, M_PORTS + j - 8);
		emit(&p, BPF_ST, 0, 0, M_BYTE);
		for (int bit = 7; bit >= 0; bit--) {
			uint32_t c = bit_hash(key, j, (unsigned)bit);

			if (!c)
				continue;
			/* A holds the byte: if the bit is set, hash ^= c. */
			emit(&p, BPF_JMP | BPF_JSET | BPF_K, 0, 4, 1u << bit);
			emit(&p, BPF_LD | BPF_MEM, 0, 0, M_HASH);
			emit(&p, BPF_ALU | BPF_XOR | BPF_K, 0, 0, c);
			emit(&p, BPF_ST, 0, 0, M_HASH);
			emit(&p, BPF_LD | BPF_MEM, 0, 0, M_BYTE);
		}
	}
	/* usn_rss_queue: (hash & 127) % n_queues. */
	emit(&p, BPF_LD | BPF_MEM, 0, 0, M_HASH);
	emit(&p, BPF_ALU | BPF_MOD | BPF_K, 0, 0, n_queues);
	emit(&p, BPF_RET | BPF_A, 0, 0, 0);
	return p.n <= cap ? p.n : 0;
}
