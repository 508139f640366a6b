/* x86 emulation of the tmc calls the tilegx backend uses: memory "homed"
 * on a tile in pages of the sizes a TILE-Gx Linux offers (aligned, zeroed;
 * the home is recorded, not enforced), the card's CPU sets, the cycle
 * counter. The emulated mPIPE asks it which mapping and page size an
 * address belongs to, to refuse memory that would not be physically
 * contiguous on the card. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "gxio_emu.h"

/* TILE-Gx36 runs at 1.2 GHz; the emulated cycle counter uses that rate. */
#define EMU_CPU_HZ 1200000000ul

/* Page sizes of a stock TILE-Gx Linux: 64 KB base pages
 * (HV_LOG2_PAGE_SIZE_SMALL 16), 16 MB huge pages (HV_LOG2_PAGE_SIZE_LARGE
 * 24), and the 1 MB "super page" size Linux's tile port adds when no
 * hugepagesz= is given (arch/tile/mm/hugetlbpage.c, ADDITIONAL_HUGE_SIZE).
 * Larger pages exist only when the card is booted with hugepagesz=; the
 * emulation does not offer them, so whatever fits here fits a stock card. */
static const size_t emu_page_sizes[] = {(size_t)64 << 10, (size_t)1 << 20, (size_t)16 << 20};
#define EMU_N_PAGE_SIZES (sizeof(emu_page_sizes) / sizeof(emu_page_sizes[0]))

/* The card has 36 tiles; the emulation is booted as with
 * --hvx dataplane=1-35: tile 0 runs Linux, tiles 1..35 are dataplane. */
#define EMU_TILES 36

/* The mappings tmc_alloc_map made, so the emulated mPIPE can tell which
 * page an address lies in (the OS's own state: one table per process). */
struct emu_mapping {
	uintptr_t start;
	size_t len, pagesize;
};
static pthread_mutex_t emu_map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct emu_mapping *emu_maps;
static size_t emu_n_maps, emu_cap_maps;

tmc_alloc_t *tmc_alloc_set_home(tmc_alloc_t *alloc, int home)
{
	alloc->home = home;
	return alloc;
}

/* The smallest page size the OS offers that is at least `size` (the MDE's
 * semantics); NULL if none is that large. */
tmc_alloc_t *tmc_alloc_set_pagesize(tmc_alloc_t *alloc, size_t size)
{
	for (size_t i = 0; i < EMU_N_PAGE_SIZES; i++) {
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

unsigned long tmc_alloc_get_pagesizes(void)
{
	unsigned long mask = 0;

	for (size_t i = 0; i < EMU_N_PAGE_SIZES; i++)
		mask |= (unsigned long)emu_page_sizes[i];
	return mask;
}

static void emu_map_record(uintptr_t start, size_t len, size_t pagesize)
{
	pthread_mutex_lock(&emu_map_lock);
	if (emu_n_maps == emu_cap_maps) {
		size_t cap = emu_cap_maps ? emu_cap_maps * 2 : 256;
		struct emu_mapping *m = realloc(emu_maps, cap * sizeof(*m));
		if (!m) {
			pthread_mutex_unlock(&emu_map_lock);
			return; /* unrecorded: the mPIPE checks then refuse it */
		}
		emu_maps = m;
		emu_cap_maps = cap;
	}
	emu_maps[emu_n_maps++] = (struct emu_mapping){.start = start, .len = len, .pagesize = pagesize};
	pthread_mutex_unlock(&emu_map_lock);
}

static void emu_map_forget(uintptr_t start)
{
	pthread_mutex_lock(&emu_map_lock);
	for (size_t i = 0; i < emu_n_maps; i++) {
		if (emu_maps[i].start == start) {
			emu_maps[i] = emu_maps[--emu_n_maps];
			break;
		}
	}
	if (emu_n_maps == 0) {
		free(emu_maps);
		emu_maps = NULL;
		emu_cap_maps = 0;
	}
	pthread_mutex_unlock(&emu_map_lock);
}

size_t usn_tmc_emu_mapping_pagesize(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	size_t ps = 0;

	pthread_mutex_lock(&emu_map_lock);
	for (size_t i = 0; i < emu_n_maps; i++) {
		if (a >= emu_maps[i].start && a + len <= emu_maps[i].start + emu_maps[i].len) {
			ps = emu_maps[i].pagesize;
			break;
		}
	}
	pthread_mutex_unlock(&emu_map_lock);
	return ps;
}

unsigned long usn_tmc_emu_pages_mapped(size_t pagesize)
{
	unsigned long n = 0;

	pthread_mutex_lock(&emu_map_lock);
	for (size_t i = 0; i < emu_n_maps; i++) {
		if (emu_maps[i].pagesize == pagesize)
			n += emu_maps[i].len / pagesize;
	}
	pthread_mutex_unlock(&emu_map_lock);
	return n;
}

/* Anonymous memory (zeroed, untouched until used) in whole pages of the
 * chosen size, aligned to it. mPIPE descriptors carry 42-bit sign-extended
 * addresses, and x86-64 mappings normally sit near 2^47: the emulation maps
 * in the low 2 GB (MAP_32BIT), the one range below 2^41 also usable under
 * AddressSanitizer. */
static size_t emu_map_len(size_t size, size_t page)
{
	return (size + page - 1) / page * page;
}

void *tmc_alloc_map(tmc_alloc_t *alloc, size_t size)
{
	size_t page = tmc_alloc_get_pagesize(alloc);
	size_t len = emu_map_len(size, page);
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
	emu_map_record(start, len, page);
	return (void *)start;
}

int tmc_alloc_unmap(void *addr, size_t size)
{
	size_t page = usn_tmc_emu_mapping_pagesize(addr, 1);

	if (!page)
		return -EINVAL;
	emu_map_forget((uintptr_t)addr);
	return munmap(addr, emu_map_len(size, page)) == 0 ? 0 : -errno;
}

int tmc_cpus_get_my_affinity(cpu_set_t *cpus)
{
	CPU_ZERO(cpus);
	for (int c = 0; c < EMU_TILES; c++)
		CPU_SET(c, cpus);
	return 0;
}

int tmc_cpus_get_dataplane_cpus(cpu_set_t *cpus)
{
	CPU_ZERO(cpus);
	for (int c = 1; c < EMU_TILES; c++)
		CPU_SET(c, cpus);
	return 0;
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

/* The emulated card's tiles are not this host's CPUs: the call checks the
 * tile exists and pins nothing. */
int tmc_cpus_set_my_cpu(int cpu)
{
	return cpu >= 0 && cpu < EMU_TILES ? 0 : -EINVAL;
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
