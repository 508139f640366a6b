/* Test hook (linked only into the `make test-tilegx` builds of tests/sim):
 * puts simnet hosts on the tilegx backend over the gxio emulation. Each such
 * host gets its own emulated board whose link "xgbe1" is the host's
 * simulated port, so it talks to the sim-backed hosts on the same link.
 * Environment: USN_TEST_BACKEND=tilegx (else every host stays on the sim
 * backend), USN_TILEGX_CHAIN=0|128..1664 (chained buffers), USN_TILEGX_WORKERS=n,
 * USN_TILEGX_HOSTS=even|all (which hosts: even-numbered ones, the default,
 * so tilegx and sim stacks meet, or all), USN_TILEGX_FAULT=chain_order|l2_offset
 * (break the emulation's descriptors: the suites must then fail). */
#define _GNU_SOURCE
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

struct usn_hal *simnet_host_hal(struct simnet *n, struct simnet_host *h, const struct usn_sim_port_config *pcfg)
{
	const char *backend = getenv("USN_TEST_BACKEND"), *which = getenv("USN_TILEGX_HOSTS");
	long idx = h - n->host, workers = env_long("USN_TILEGX_WORKERS", 1);
	struct usn_gx_config cfg;
	struct gx_host *g;
	char msg[160];

	if (!backend || strcmp(backend, "tilegx") != 0 || ((!which || strcmp(which, "all") != 0) && idx % 2 != 0))
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
	cfg.bufs_per_stack = (uint32_t)(pcfg->n_bufs ? pcfg->n_bufs : 4096);
	if (cfg.chain_buf_size && cfg.chain_buf_size < 512)
		cfg.bufs_per_stack *= 4; /* a full frame takes up to 13 buffers */
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
	usn_gx_port_destroy(g->port);
	usn_gxemu_destroy(g->emu);
	free(g);
	h->backend = NULL;
}
