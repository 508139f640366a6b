/* Test hook (linked only into the `make test-tilegx` builds of tests/sim):
 * puts simnet hosts on the tilegx backend over the gxio emulation. Each such
 * host gets its own emulated board whose link "xgbe1" is the host's
 * simulated port, so it talks to the sim-backed hosts on the same link.
 * Environment: USN_TEST_BACKEND=tilegx (else every host stays on the sim
 * backend), USN_TILEGX_CHAIN=0|128..1664 (chained buffers), USN_TILEGX_WORKERS=n,
 * USN_TILEGX_HOSTS=even|all (which hosts: even-numbered ones, the default,
 * so tilegx and sim stacks meet, or all), USN_TILEGX_MTU=n (the tilegx
 * hosts' MTU, and their wire's, instead of the test's: a jumbo mode),
 * USN_TILEGX_FAULT=chain_order|l2_offset (break the emulation's
 * descriptors: the suites must then fail), USN_TILEGX_DEBUG=1 (print each
 * host's backend and emulation counters when it goes). */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../emu/gxio_emu.h"
#include "../mpipe.h"
#include "simnet.h"

struct gx_host {
	struct usn_gxemu *emu;
	struct usn_gx_port *port;
};

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : dflt;
}

static bool on_tilegx(long idx)
{
	const char *backend = getenv("USN_TEST_BACKEND"), *which = getenv("USN_TILEGX_HOSTS");

	return backend && strcmp(backend, "tilegx") == 0 && ((which && strcmp(which, "all") == 0) || idx % 2 == 0);
}

void simnet_host_port_config(struct simnet *n, int idx, struct usn_sim_port_config *pc)
{
	long mtu = env_long("USN_TILEGX_MTU", 0);

	(void)n;
	if (on_tilegx(idx) && mtu > 0)
		pc->mtu = (uint16_t)mtu;
}

uint16_t simnet_host_default_queues(const struct simnet *n, int idx)
{
	(void)n;
	return on_tilegx(idx) ? (uint16_t)env_long("USN_TILEGX_WORKERS", 1) : 1;
}

struct usn_hal *simnet_host_hal(struct simnet *n, struct simnet_host *h, const struct usn_sim_port_config *pcfg)
{
	long idx = h - n->host, workers = env_long("USN_TILEGX_WORKERS", 1);
	struct usn_gx_config cfg;
	struct gx_host *g;
	char msg[160];

	if (!on_tilegx(idx))
		return usn_sim_port_hal(h->port);
	/* A test that names its queue count gets it; the mode's count is the
	 * default for the others. */
	if (pcfg && pcfg->n_queues)
		workers = pcfg->n_queues;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->emu = usn_gxemu_create(n->link);
	if (!g->emu || usn_gxemu_add_link(g->emu, "xgbe1", h->port, pcfg->mac) != 0)
		goto fail;
	memset(&cfg, 0, sizeof(cfg));
	cfg.link = "xgbe1";
	cfg.n_workers = (uint16_t)workers;
	cfg.chain_buf_size = (uint16_t)env_long("USN_TILEGX_CHAIN", 0);
	cfg.mtu = pcfg->mtu;
	/* The test's pool size, or 4096; but every worker caches up to 256
	 * buffers (the stack's bufs_per_worker), so never fewer than the
	 * backend's default share, 1024 a worker. */
	cfg.bufs_per_stack = (uint32_t)(pcfg->n_bufs ? pcfg->n_bufs : 4096);
	if (cfg.bufs_per_stack < (uint32_t)workers * 1024u)
		cfg.bufs_per_stack = (uint32_t)workers * 1024u;
	if (cfg.chain_buf_size && cfg.chain_buf_size < 512)
		cfg.bufs_per_stack *= 4; /* a full frame takes up to 13 buffers */
	/* A jumbo MTU adds a stack of 16384-byte buffers: no more than 16
	 * pages hold. */
	if (cfg.bufs_per_stack > usn_gx_stack_cap(16384))
		cfg.bufs_per_stack = usn_gx_stack_cap(16384);
	cfg.emu = g->emu;
	const char *fault = getenv("USN_TILEGX_FAULT");
	if (fault && strcmp(fault, "chain_order") == 0) {
		usn_gxemu_set_fault(g->emu, USN_GXEMU_FAULT_CHAIN_ORDER);
	} else if (fault && strcmp(fault, "l2_offset") == 0) {
		usn_gxemu_set_custom_header(g->emu, 2);
		usn_gxemu_set_fault(g->emu, USN_GXEMU_FAULT_L2_OFFSET);
	}
	g->port = usn_gx_port_create(&cfg, msg, sizeof(msg));
	if (!g->port) {
		fprintf(stderr, "simnet_host_hal (tilegx): %s\n", msg);
		goto fail;
	}
	h->backend = g;
	return usn_gx_port_hal(g->port);

fail:
	usn_gxemu_destroy(g->emu);
	free(g);
	return NULL;
}

void simnet_host_release(struct simnet_host *h)
{
	struct gx_host *g = h->backend;

	if (!g)
		return;
	if (getenv("USN_TILEGX_DEBUG")) {
		struct usn_gx_port_stats ps;
		struct usn_gxemu_stats es;
		usn_gx_port_stats(g->port, &ps);
		usn_gxemu_stats(g->emu, &es);
		fprintf(stderr,
			"tilegx host: rx %llu frames (%llu bytes), %llu error descs, %llu buffer errors, %llu bad chains; tx %llu, "
			"%llu without slot, %llu alloc failures | emu: rx %llu, no buffer %llu, ring full %llu, "
			"no rule %llu, no stack %llu; tx %llu; bad push %llu desc %llu credit %llu unfenced %llu "
			"snf %llu\n",
			(unsigned long long)ps.rx_frames, (unsigned long long)ps.rx_bytes, (unsigned long long)ps.rx_err_desc,
			(unsigned long long)ps.rx_buf_err, (unsigned long long)ps.rx_bad_chain,
			(unsigned long long)ps.tx_frames, (unsigned long long)ps.tx_no_slot,
			(unsigned long long)ps.alloc_fail, (unsigned long long)es.rx_frames,
			(unsigned long long)es.rx_no_buffer, (unsigned long long)es.rx_ring_full,
			(unsigned long long)es.rx_no_rule, (unsigned long long)es.rx_no_stack,
			(unsigned long long)es.tx_frames, (unsigned long long)es.bad_push, (unsigned long long)es.bad_desc,
			(unsigned long long)es.bad_credit, (unsigned long long)es.tx_unfenced,
			(unsigned long long)es.tx_snf_over);
	}
	usn_gx_port_destroy(g->port);
	usn_gxemu_destroy(g->emu);
	free(g);
	h->backend = NULL;
}
