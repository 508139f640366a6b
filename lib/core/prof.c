/* libusnet cost centres (lib/core): the public read side of core/prof.h,
 * the category names and a worker's cycles per category (issue 6). */
#include <errno.h>
#include <string.h>

#include "core/prof.h"
#include "core/worker.h"
#include "usnet/stats.h"

static const char *const prof_names[USN_PROF_N] = {
	[USN_PROF_DRIVER] = "driver", [USN_PROF_NET] = "net",   [USN_PROF_TCP_IN] = "tcp_in",
	[USN_PROF_TCP_OUT] = "tcp_out", [USN_PROF_CSUM] = "csum", [USN_PROF_COPY] = "copy",
	[USN_PROF_APP] = "app",       [USN_PROF_TIMERS] = "timers", [USN_PROF_IDLE] = "idle",
	[USN_PROF_OTHER] = "other",
};

size_t usn_prof_count(void)
{
	return USN_PROF_N;
}

const char *usn_prof_name(size_t i)
{
	return i < USN_PROF_N ? prof_names[i] : NULL;
}

int usn_worker_prof(const struct usn_worker *w, uint64_t *cycles, size_t n)
{
#ifdef USN_PROFILE
	if (!w || (!cycles && n))
		return -EINVAL;
	if (n > USN_PROF_N)
		n = USN_PROF_N;
	memcpy(cycles, w->prof.cycles, n * sizeof(*cycles));
	return (int)n;
#else
	(void)w;
	(void)cycles;
	(void)n;
	return -ENOTSUP;
#endif
}
