/* x86 emulation of the tmc calls the tilegx backend uses: memory "homed"
 * on a tile (aligned, zeroed pages; the home is recorded, not enforced),
 * CPU sets (the dataplane set is the process's affinity), the cycle counter. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../gxio_subset.h"

/* TILE-Gx36 runs at 1.2 GHz; the emulated cycle counter uses that rate. */
#define EMU_CPU_HZ 1200000000ul

/* Page sizes a TILE-Gx Linux offers: 64 KB base pages, 16 MB huge pages
 * and (when configured) larger ones. */
static const size_t emu_page_sizes[] = {(size_t)64 << 10, (size_t)16 << 20, (size_t)256 << 20};

tmc_alloc_t *tmc_alloc_set_home(tmc_alloc_t *alloc, int home)
{
	alloc->home = home;
	return alloc;
}

tmc_alloc_t *tmc_alloc_set_pagesize(tmc_alloc_t *alloc, size_t size)
{
	for (size_t i = 0; i < sizeof(emu_page_sizes) / sizeof(emu_page_sizes[0]); i++) {
		if (emu_page_sizes[i] >= size) {
			alloc->pagesize = emu_page_sizes[i];
			return alloc;
		}
	}
	return NULL;
}

size_t tmc_alloc_get_pagesize(tmc_alloc_t *alloc)
{
	return alloc->pagesize ? alloc->pagesize : emu_page_sizes[0];
}

/* Anonymous pages (zeroed, untouched until used), aligned to the page
 * size; the length is kept a multiple of 64 KB so unmap can recompute it.
 * mPIPE descriptors carry 42-bit sign-extended addresses, and x86-64
 * mappings normally sit near 2^47: the emulation maps in the low 2 GB
 * (MAP_32BIT), the one range below 2^41 also usable under AddressSanitizer. */
#define EMU_MAP_GRAIN ((size_t)64 << 10)

void *tmc_alloc_map(tmc_alloc_t *alloc, size_t size)
{
	size_t page = tmc_alloc_get_pagesize(alloc);
	size_t len = (size + EMU_MAP_GRAIN - 1) / EMU_MAP_GRAIN * EMU_MAP_GRAIN;
	uintptr_t raw, start;
	void *m;

	if (size == 0)
		return NULL;
	m = mmap(NULL, len + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (m == MAP_FAILED)
		m = mmap(NULL, len + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	raw = (uintptr_t)m;
	start = (raw + page - 1) & ~(uintptr_t)(page - 1);
	if (start > raw)
		munmap(m, start - raw);
	if (raw + len + page > start + len)
		munmap((void *)(start + len), raw + len + page - (start + len));
	return (void *)start;
}

int tmc_alloc_unmap(void *addr, size_t size)
{
	size_t len = (size + EMU_MAP_GRAIN - 1) / EMU_MAP_GRAIN * EMU_MAP_GRAIN;

	return munmap(addr, len) == 0 ? 0 : -errno;
}

int tmc_cpus_get_my_affinity(cpu_set_t *cpus)
{
	CPU_ZERO(cpus);
	return sched_getaffinity(0, sizeof(*cpus), cpus) == 0 ? 0 : -errno;
}

int tmc_cpus_get_dataplane_cpus(cpu_set_t *cpus)
{
	return tmc_cpus_get_my_affinity(cpus);
}

int tmc_cpus_count(const cpu_set_t *cpus)
{
	return CPU_COUNT(cpus);
}

int tmc_cpus_find_nth_cpu(const cpu_set_t *cpus, unsigned int n)
{
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, cpus) && n-- == 0)
			return c;
	}
	return -EINVAL;
}

int tmc_cpus_set_my_cpu(int cpu)
{
	cpu_set_t one;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0 ? 0 : -EINVAL;
}

uint64_t get_cycle_count(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) * (EMU_CPU_HZ / 1000000u) / 1000u;
}

unsigned long tmc_perf_get_cpu_speed(void)
{
	return EMU_CPU_HZ;
}
