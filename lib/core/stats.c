/* libusnet statistics (lib/core): names, indexing and sums over the
 * counters declared once by the USN_STATS_FIELDS X-macro in usnet/stats.h. */
#include "usnet/stats.h"

#define USN_STATS_NAME(name) #name,
static const char *const usn_stats_names[] = {USN_STATS_FIELDS(USN_STATS_NAME)};
#undef USN_STATS_NAME

#define USN_STATS_OFFSET(name) offsetof(struct usn_stats, name),
static const size_t usn_stats_offsets[] = {USN_STATS_FIELDS(USN_STATS_OFFSET)};
#undef USN_STATS_OFFSET

#define USN_STATS_N (sizeof(usn_stats_names) / sizeof(usn_stats_names[0]))
_Static_assert(USN_STATS_N * sizeof(uint64_t) == sizeof(struct usn_stats), "stats struct has only counters");

/* The gauges come last (USN_STATS_FIELDS ends with USN_STATS_GAUGES). */
#define USN_STATS_ONE(name) +1
#define USN_STATS_NGAUGES (0 USN_STATS_GAUGES(USN_STATS_ONE))

bool usn_stats_is_gauge(size_t i)
{
	return i < USN_STATS_N && i >= USN_STATS_N - USN_STATS_NGAUGES;
}

size_t usn_stats_count(void)
{
	return USN_STATS_N;
}

const char *usn_stats_name(size_t i)
{
	return i < USN_STATS_N ? usn_stats_names[i] : NULL;
}

uint64_t usn_stats_value(const struct usn_stats *s, size_t i)
{
	if (i >= USN_STATS_N)
		return 0;
	return *(const uint64_t *)(const void *)((const char *)s + usn_stats_offsets[i]);
}

void usn_stats_add(struct usn_stats *dst, const struct usn_stats *src)
{
#define USN_STATS_ADD(name) dst->name += src->name;
	USN_STATS_FIELDS(USN_STATS_ADD)
#undef USN_STATS_ADD
}
