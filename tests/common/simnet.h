/* Test helper: hosts (a libusnet stack on a simulated port each) on one
 * simulated link, and a driver that polls them all and moves the virtual
 * clock from event to event, so a whole exchange runs in milliseconds. */
#ifndef SIMNET_H
#define SIMNET_H

#include <stdbool.h>
#include <stdint.h>

#include "usn_sim.h"
#include "usnet/stack.h"

#define SIMNET_MAX_HOSTS 8

/* 198.18.0.0/15 (RFC 2544), host order. */
#define SIMNET_IP(a, b) ((198u << 24) | (18u << 16) | ((uint32_t)(a) << 8) | (uint32_t)(b))

struct simnet_host {
	struct usn_sim_port *port;
	struct usn_stack *stack;
	uint32_t ip;
	void *backend; /* a test backend's own state (simnet_host_hal), else NULL */
};

struct simnet {
	struct usn_sim_link *link;
	struct simnet_host host[SIMNET_MAX_HOSTS];
	int n;
};

void simnet_init(struct simnet *n, uint64_t seed);
/* The offloads every simulated port of a test advertises on top of its
 * own, from the environment: USN_SIM_OFFLOADS, a comma-separated list of
 * tso (TX_TSO with the checksum and chain offloads it needs), lro (RX_LRO
 * with RX_CSUM), csum (the checksum offloads alone) and ext (zero-copy TX
 * from the memory a test declares with usn_stack_tx_region, hal.h
 * USN_HAL_OFF_TX_EXT); `make test-unit` runs the simulation suites again
 * with tso,lro,ext. An unknown word stops the test with a message. */
uint32_t simnet_env_offloads(void);
/* The HAL a host's stack runs on. The default (weak, in simnet.c) is the
 * host's simulated port itself. A test build may link a strong definition
 * that puts the stack on another backend whose wire is still h->port
 * (arch/tilegx/testing/simnet_tilegx.c, linked by `make test-tilegx`).
 * NULL: the host cannot be created. simnet_host_release undoes it after
 * the host's stack is destroyed. */
struct usn_hal *simnet_host_hal(struct simnet *n, struct simnet_host *h, const struct usn_sim_port_config *pcfg);
void simnet_host_release(struct simnet_host *h);
/* Lets such a test backend adjust the simulated port of host number idx
 * before it is made (the default, weak in simnet.c, leaves it as the test
 * asked; the tilegx hook raises the MTU in its jumbo modes). */
void simnet_host_port_config(struct simnet *n, int idx, struct usn_sim_port_config *pc);
/* The queues (workers) host number idx gets when the test's port config
 * leaves n_queues 0: 1 on the simulated port; a test backend may give more
 * (the TILE-Gx modes' USN_TILEGX_WORKERS). For tests that size per-worker
 * tables to a host's total. */
uint16_t simnet_host_default_queues(const struct simnet *n, int idx);
/* Adds a host with address ip (prefix /15) and MAC 02:00:c6:12:xx:yy from
 * ip. cfg and pcfg NULL mean defaults; otherwise their ip/mac fields are
 * overridden. Starts its workers (usn_worker_start). */
struct simnet_host *simnet_add_host(struct simnet *n, uint32_t ip, const struct usn_stack_config *cfg,
				    const struct usn_sim_port_config *pcfg);
/* One round: polls every worker of every host once. Returns frames handled. */
unsigned simnet_poll(struct simnet *n);
/* Polls until nothing moves, then advances the clock to the earliest of
 * the next delivery and the next timer, repeatedly, until pred(arg) holds
 * (true) or max_us of virtual time has passed (false). pred may be NULL. */
bool simnet_run_until(struct simnet *n, bool (*pred)(void *arg), void *arg, uint64_t max_us);
/* The same for exactly us of virtual time. */
void simnet_run_for(struct simnet *n, uint64_t us);
uint64_t simnet_now_us(const struct simnet *n);
void simnet_destroy(struct simnet *n);

#endif
