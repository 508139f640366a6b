/* usn_load internals shared between its files (not part of load.h). */
#ifndef USN_LOAD_INT_H
#define USN_LOAD_INT_H

#include <stdint.h>

#include "load.h"

/* Counts one response's latency, ns, in st's histograms, sum and maximum. */
void load_record_latency(struct load_stats *st, uint64_t ns);

#endif
