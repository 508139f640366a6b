/* Test helper (tests/common): hosts on one simulated link and an event
 * driver that polls every worker, then jumps the virtual clock to the next
 * delivery or timer, so exchanges of seconds run in milliseconds. */
#include "simnet.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rounds of polling without progress stop; more than this with progress
 * means two stacks are stuck in a loop at one instant. */
#define SIMNET_MAX_ROUNDS 100000

void simnet_init(struct simnet *n, uint64_t seed)
{
	memset(n, 0, sizeof(*n));
	n->link = usn_sim_link_create(seed);
	assert(n->link);
}

uint32_t simnet_env_offloads(void)
{
	const char *v = getenv("USN_SIM_OFFLOADS");
	const uint32_t csum = USN_HAL_OFF_RX_CSUM | USN_HAL_OFF_TX_IP_CSUM | USN_HAL_OFF_TX_TCP_CSUM;
	uint32_t off = 0;
	while (v && *v) {
		size_t n = strcspn(v, ",");
		if (n == 3 && strncmp(v, "tso", 3) == 0)
			off |= csum | USN_HAL_OFF_TX_MULTISEG | USN_HAL_OFF_TX_TSO;
		else if (n == 3 && strncmp(v, "lro", 3) == 0)
			off |= USN_HAL_OFF_RX_CSUM | USN_HAL_OFF_RX_LRO;
		else if (n == 4 && strncmp(v, "csum", 4) == 0)
			off |= csum;
		else if (n == 3 && strncmp(v, "ext", 3) == 0)
			off |= USN_HAL_OFF_TX_MULTISEG | USN_HAL_OFF_TX_EXT;
		else if (n) {
			fprintf(stderr, "USN_SIM_OFFLOADS: unknown offload '%.*s' (tso, lro, csum, ext)\n",
				(int)n, v);
			exit(2);
		}
		v += n + (v[n] == ',');
	}
	return off;
}

struct simnet_host *simnet_add_host(struct simnet *n, uint32_t ip, const struct usn_stack_config *cfg,
				    const struct usn_sim_port_config *pcfg)
{
	if (n->n >= SIMNET_MAX_HOSTS)
		return NULL;
	struct simnet_host *h = &n->host[n->n];
	struct usn_sim_port_config pc;
	if (pcfg)
		pc = *pcfg;
	else
		memset(&pc, 0, sizeof(pc));
	uint8_t mac[6] = {0x02, 0x00, 0xc6, 0x12, (uint8_t)(ip >> 8), (uint8_t)ip};
	memcpy(pc.mac, mac, 6);
	simnet_host_port_config(n, n->n, &pc);
	pc.offloads |= simnet_env_offloads();
	h->port = usn_sim_port_create(n->link, &pc);
	if (!h->port)
		return NULL;

	struct usn_hal *hal = simnet_host_hal(n, h, &pc);
	if (!hal)
		return NULL;
	/* A TAP comment the runner looks for (USN_SUITE_REQUIRE in make
	 * test-tilegx): this test put a host on a test backend. */
	if (h->backend)
		printf("# simnet: host %u.%u on the %s backend\n", (unsigned)(ip >> 8 & 0xff), (unsigned)(ip & 0xff),
		       getenv("USN_TEST_BACKEND") ? getenv("USN_TEST_BACKEND") : "test");

	struct usn_stack_config c;
	if (cfg) {
		c = *cfg;
		if (!c.prefix_len)
			c.prefix_len = 15;
	} else {
		usn_stack_config_init(&c, ip, 15);
	}
	c.ip = ip;
	memcpy(c.mac, mac, 6);
	char msg[160];
	if (usn_stack_config_check(&c, hal, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "simnet_add_host: %s\n", msg);
		return NULL;
	}
	h->stack = usn_stack_create(hal, &c);
	if (!h->stack)
		return NULL;
	h->ip = ip;
	n->n++;
	for (uint16_t i = 0; i < usn_stack_workers(h->stack); i++)
		usn_worker_start(usn_stack_worker(h->stack, i));
	return h;
}

unsigned simnet_poll(struct simnet *n)
{
	unsigned total = 0;
	for (int i = 0; i < n->n; i++) {
		struct usn_stack *s = n->host[i].stack;
		for (uint16_t k = 0; k < usn_stack_workers(s); k++)
			total += usn_worker_poll(usn_stack_worker(s, k));
	}
	return total;
}

/* Polls until a whole round moves nothing (at one instant of virtual time). */
static void simnet_settle(struct simnet *n)
{
	for (int r = 0; r < SIMNET_MAX_ROUNDS; r++)
		if (simnet_poll(n) == 0)
			return;
	assert(!"simnet: no quiescence at one instant");
}

static uint64_t simnet_next_event_us(const struct simnet *n)
{
	uint64_t next = usn_sim_link_next_delivery_us(n->link);
	for (int i = 0; i < n->n; i++) {
		struct usn_stack *s = n->host[i].stack;
		for (uint16_t k = 0; k < usn_stack_workers(s); k++) {
			uint64_t d = usn_worker_next_deadline_us(usn_stack_worker(s, k));
			if (d < next)
				next = d;
		}
	}
	return next;
}

bool simnet_run_until(struct simnet *n, bool (*pred)(void *arg), void *arg, uint64_t max_us)
{
	uint64_t end = usn_sim_link_now_us(n->link) + max_us;
	for (;;) {
		simnet_settle(n);
		if (pred && pred(arg))
			return true;
		uint64_t now = usn_sim_link_now_us(n->link);
		if (now >= end)
			return false;
		uint64_t next = simnet_next_event_us(n);
		/* A deadline that is already due (a wheel may report early)
		 * still needs time to pass for the wheel to reach it. */
		if (next <= now)
			next = now + 1;
		if (next > end)
			next = end;
		usn_sim_link_advance(n->link, next - now);
	}
}

void simnet_run_for(struct simnet *n, uint64_t us)
{
	(void)simnet_run_until(n, NULL, NULL, us);
}

uint64_t simnet_now_us(const struct simnet *n)
{
	return usn_sim_link_now_us(n->link);
}

/* The default backend: the stack runs on the simulated port itself. */
__attribute__((weak)) struct usn_hal *simnet_host_hal(struct simnet *n, struct simnet_host *h,
						      const struct usn_sim_port_config *pcfg)
{
	(void)n;
	(void)pcfg;
	return usn_sim_port_hal(h->port);
}

__attribute__((weak)) void simnet_host_release(struct simnet_host *h)
{
	(void)h;
}

void simnet_destroy(struct simnet *n)
{
	for (int i = 0; i < n->n; i++) {
		usn_stack_destroy(n->host[i].stack);
		simnet_host_release(&n->host[i]);
	}
	usn_sim_link_destroy(n->link);
	memset(n, 0, sizeof(*n));
}

__attribute__((weak)) void simnet_host_port_config(struct simnet *n, int idx, struct usn_sim_port_config *pc)
{
	(void)n;
	(void)idx;
	(void)pc;
}

__attribute__((weak)) uint16_t simnet_host_default_queues(const struct simnet *n, int idx)
{
	(void)n;
	(void)idx;
	return 1;
}
