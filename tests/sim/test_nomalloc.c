/* Simulation test: after the stacks are created and started, the workers
 * never allocate. malloc and friends are wrapped at link time (tests.mk:
 * -Wl,--wrap=...) and counted while ping traffic, ARP expiry and
 * re-resolution, retries, software steering and timers run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/worker.h"
#include "net/net.h"
#include "netfix.h"
#include "simnet.h"

/* The wrappers: only the counting flag is global, as a test harness must. */
/* volatile: the compiler assumes malloc touches no user globals, and would
 * otherwise move or drop the stores around it. */
static volatile int counting;
static volatile unsigned long n_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
	n_allocs += counting != 0;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
	n_allocs += counting != 0;
	return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
	n_allocs += counting != 0;
	return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n)
{
	n_allocs += counting != 0;
	return __real_aligned_alloc(align, n);
}
int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	n_allocs += counting != 0;
	return __real_posix_memalign(p, align, n);
}

/* No cmocka call between counting on and off: it may allocate itself. */
static int send_ping(struct usn_worker *w, uint32_t dst, uint16_t seq)
{
	struct usn_buf *b = usn_worker_buf_alloc(w);
	if (!b)
		return -1;
	uint8_t data[48];
	memset(data, (int)seq, sizeof(data));
	size_t l4 = netfix_icmp_echo(b->data + USN_L4_OFF, 8, 0x1111, seq, data, sizeof(data));
	b->len = (uint16_t)(USN_L4_OFF + l4);
	b->frame_len = b->len;
	return usn_ipv4_output(w, b, dst, USN_IPPROTO_ICMP, (uint16_t)l4);
}

static void test_workers_never_allocate(void **state)
{
	(void)state;
	/* The wrappers must really be in the link, or this test proves nothing. */
	counting = 1;
	void *volatile probe = malloc(16); /* volatile: not elided */
	counting = 0;
	free(probe);
	assert_int_equal(n_allocs, 1);
	n_allocs = 0;

	struct simnet n;
	simnet_init(&n, 11);
	struct usn_stack_config cfg;
	usn_stack_config_init(&cfg, 0, 15);
	cfg.arp_timeout_ms = 2000; /* entries expire during the run */
	cfg.arp_retry_ms = 200;
	struct usn_sim_port_config two;
	memset(&two, 0, sizeof(two));
	two.n_queues = 2; /* no RSS offload: software steering, ARP news posted between workers */
	struct simnet_host *a = simnet_add_host(&n, SIMNET_IP(0, 1), &cfg, NULL);
	struct simnet_host *b = simnet_add_host(&n, SIMNET_IP(0, 2), &cfg, &two);
	assert_non_null(a);
	assert_non_null(b);
	struct usn_sim_faults f;
	memset(&f, 0, sizeof(f));
	f.loss = 0.1;
	f.delay_us = 50;
	usn_sim_port_set_faults(a->port, &f);
	usn_sim_port_set_faults(b->port, &f);
	struct usn_worker *wa = usn_stack_worker(a->stack, 0);
	struct usn_worker *wb = usn_stack_worker(b->stack, 0);

	counting = 1;
	int fails = 0;
	for (uint16_t i = 0; i < 300; i++) {
		fails += send_ping(wa, b->ip, i) != 0;
		fails += send_ping(wb, a->ip, i) != 0;
		simnet_run_for(&n, i % 50 == 49 ? 3000000 : 10000); /* now and then, long enough to expire */
	}
	/* A neighbour that never answers: retries, then failure. */
	fails += send_ping(wa, SIMNET_IP(0, 99), 1) != 0;
	simnet_run_for(&n, 2000000);
	struct usn_stats sa, sb;
	usn_stack_stats(a->stack, &sa);
	usn_stack_stats(b->stack, &sb);
	counting = 0;

	assert_int_equal(n_allocs, 0);
	assert_int_equal(fails, 0);
	/* The run did what it claims. */
	assert_true(sb.icmp_echo_rx > 100);
	assert_true(sa.icmp_echo_rx > 100);
	assert_true(sa.arp_expired > 0);
	assert_true(sa.arp_failed > 0);
	assert_true(sa.timers_fired > 0);
	assert_true(sb.arp_learned > 1);
	simnet_destroy(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workers_never_allocate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
