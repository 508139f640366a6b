/* libusnet DPDK backend: the stack's counters over DPDK telemetry, so
 * `dpdk-telemetry.py -f PREFIX` can ask "/usnet/stats" (every worker summed:
 * counters, and the conns_* gauges of connections by state),
 * "/usnet/worker,N" (worker N; no parameter: the list of worker ids),
 * "/usnet/pools" (each queue's buffer pool: mbufs free now, its size, its
 * low-water mark) and "/usnet/app" (the program's own counters). */
/* _GNU_SOURCE comes from arch/x86/x86.mk (before rte_config.h is included). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_mempool.h>
#include <rte_spinlock.h>
#include <rte_telemetry.h>

#include "usn_dpdk.h"
#include "usnet/stack.h"
#include "usnet/stats.h"

/* DPDK 22.11 telemetry callbacks take no context argument, and the EAL is
 * one per process anyway: the attached stack is therefore the one piece of
 * process-wide state in this backend, guarded by a lock taken only here and
 * in usn_dpdk_telemetry_attach (never on the packet path). */
static struct {
	rte_spinlock_t lock;
	struct usn_stack *stack;
	struct usn_dpdk_backend *backend; /* set with the stack */
	bool registered;
} tel = {.lock = RTE_SPINLOCK_INITIALIZER};

static void dict_of_stats(struct rte_tel_data *d, const struct usn_stats *st)
{
	rte_tel_data_start_dict(d);
	for (size_t i = 0; i < usn_stats_count(); i++)
		rte_tel_data_add_dict_u64(d, usn_stats_name(i), usn_stats_value(st, i));
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct usn_stats st;
	int rc = 0;

	(void)cmd;
	(void)params;
	rte_spinlock_lock(&tel.lock);
	if (tel.stack) {
		usn_stack_stats(tel.stack, &st);
		dict_of_stats(d, &st);
	} else {
		rc = -ENODEV;
	}
	rte_spinlock_unlock(&tel.lock);
	return rc;
}

static int tel_worker(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct usn_stats st;
	char *end;
	long id = -1;
	int rc = 0;

	(void)cmd;
	if (params && *params) {
		id = strtol(params, &end, 10);
		if (end == params || *end || id < 0)
			return -EINVAL;
	}
	rte_spinlock_lock(&tel.lock);
	if (!tel.stack) {
		rc = -ENODEV;
	} else if (id < 0) {
		rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
		for (uint16_t w = 0; w < usn_stack_workers(tel.stack); w++)
			rte_tel_data_add_array_int(d, w);
	} else if (id >= usn_stack_workers(tel.stack)) {
		rc = -EINVAL;
	} else {
		usn_worker_stats_snapshot(usn_stack_worker(tel.stack, (uint16_t)id), &st);
		dict_of_stats(d, &st);
	}
	rte_spinlock_unlock(&tel.lock);
	return rc;
}

/* free_Q, size_Q and low_Q for every queue Q's pool: how many of its mbufs
 * are free now (the port's RX ring and the lcore caches hold some of the
 * rest), how many it has, and the fewest free at once since start (the
 * low-water mark the worker keeps, usn_dpdk_bufs_sample). */
static int tel_pools(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = 0;

	(void)cmd;
	(void)params;
	rte_spinlock_lock(&tel.lock);
	if (!tel.backend) {
		rc = -ENODEV;
	} else {
		rte_tel_data_start_dict(d);
		for (uint16_t q = 0; q < tel.backend->n_queues; q++) {
			const struct rte_mempool *mp = tel.backend->pool[q];
			char name[32];

			if (!mp)
				continue;
			snprintf(name, sizeof(name), "free_%u", (unsigned)q);
			rte_tel_data_add_dict_u64(d, name, rte_mempool_avail_count(mp));
			snprintf(name, sizeof(name), "size_%u", (unsigned)q);
			rte_tel_data_add_dict_u64(d, name, mp->size);
			snprintf(name, sizeof(name), "low_%u", (unsigned)q);
			rte_tel_data_add_dict_u64(d, name, __atomic_load_n(&tel.backend->bufs_low[q], __ATOMIC_RELAXED));
		}
	}
	rte_spinlock_unlock(&tel.lock);
	return rc;
}

/* The program's own counters (usn_backend_app_counter): minimal_ws's
 * requests. */
static int tel_app(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = 0;

	(void)cmd;
	(void)params;
	rte_spinlock_lock(&tel.lock);
	if (!tel.backend) {
		rc = -ENODEV;
	} else {
		rte_tel_data_start_dict(d);
		for (unsigned i = 0; i < tel.backend->n_app; i++)
			rte_tel_data_add_dict_u64(d, tel.backend->app[i].name,
						  tel.backend->app[i].read(tel.backend->app[i].arg));
	}
	rte_spinlock_unlock(&tel.lock);
	return rc;
}

int usn_dpdk_telemetry_register(void)
{
	int rc;

	if (tel.registered)
		return 0;
	rc = rte_telemetry_register_cmd("/usnet/stats", tel_stats,
					"libusnet counters, all workers summed. No parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd(
		    "/usnet/worker", tel_worker,
		    "libusnet counters of one worker. Parameter: worker id (none: list ids)");
	if (rc == 0)
		rc = rte_telemetry_register_cmd("/usnet/pools", tel_pools,
						"Free mbufs and size of each queue's buffer pool. No parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd("/usnet/app", tel_app,
						"The program's own counters (minimal_ws: requests). No parameters");
	if (rc == 0)
		tel.registered = true;
	return rc;
}

/* s == NULL detaches (before usn_stack_destroy; closing the backend does it too). */
void usn_dpdk_telemetry_attach(struct usn_dpdk_backend *b, struct usn_stack *s)
{
	b->stack = s;
	rte_spinlock_lock(&tel.lock);
	tel.stack = s;
	tel.backend = s ? b : NULL;
	rte_spinlock_unlock(&tel.lock);
}
