/* libusnet cost centres (private, lib/core; issue 6): with USN_PROFILE,
 * every cycle of a worker's poll loop is charged to exactly one category,
 * exclusive time on a small stack of categories; without it, everything
 * here compiles to nothing. The hooks are usn_prof_enter/leave (worker.h). */
#ifndef USN_PROF_H
#define USN_PROF_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "usnet/hal.h"

/* The order of usn_prof_name() (lib/core/prof.c). */
enum usn_prof_cat {
	USN_PROF_DRIVER = 0, /* HAL rx/tx burst, alloc/free bulk */
	USN_PROF_NET,        /* Ethernet, ARP, IPv4, ICMP */
	USN_PROF_TCP_IN,     /* usn_tcp_input */
	USN_PROF_TCP_OUT,    /* segment output, the pending-output flush */
	USN_PROF_CSUM,       /* TCP checksums (input verification, output) */
	USN_PROF_COPY,       /* payload copies (and writers) into frames */
	USN_PROF_APP,        /* the application's handlers */
	USN_PROF_TIMERS,     /* the timing wheel and what fires from it */
	USN_PROF_IDLE,       /* rounds that did nothing, and the gaps after them */
	USN_PROF_OTHER,      /* the rest of the loop */
	USN_PROF_N
};

#define USN_PROF_DEPTH 16

/* Per worker, written by the worker only. cycles[] and total hold complete
 * rounds; sum(cycles) == total exactly (the same counter reads). */
struct usn_prof {
	uint64_t cycles[USN_PROF_N];
	uint64_t total;
	uint64_t rounds, idle_rounds;
	uint64_t round[USN_PROF_N]; /* the round in progress */
	uint64_t round_start, last, last_end;
	bool active;   /* inside a round: hooks outside one do nothing */
	bool in_run;   /* usn_worker_run: gaps between rounds count too */
	bool prev_idle;
	uint8_t depth;    /* stack[depth - 1] is charged; stack[0] is OTHER */
	uint8_t overflow; /* pushes past USN_PROF_DEPTH: their time stays with the top */
	uint8_t stack[USN_PROF_DEPTH];
};

#ifdef USN_PROFILE

/* The TSC on x86 (cheap, no call); elsewhere the port's cycle counter. */
static inline uint64_t usn_prof_clock(struct usn_hal *hal)
{
#if defined(__x86_64__) || defined(__i386__)
	(void)hal;
	return __builtin_ia32_rdtsc();
#else
	return hal->ops->clock_cycles(hal);
#endif
}

static inline void usn_prof_charge(struct usn_prof *p, uint64_t now)
{
	p->round[p->stack[p->depth - 1]] += now - p->last;
	p->last = now;
}

static inline void usn_prof_push(struct usn_prof *p, struct usn_hal *hal, enum usn_prof_cat c)
{
	if (!p->active)
		return;
	usn_prof_charge(p, usn_prof_clock(hal));
	if (p->depth < USN_PROF_DEPTH)
		p->stack[p->depth++] = (uint8_t)c;
	else
		p->overflow++;
}

static inline void usn_prof_pop(struct usn_prof *p, struct usn_hal *hal)
{
	if (!p->active)
		return;
	usn_prof_charge(p, usn_prof_clock(hal));
	if (p->overflow)
		p->overflow--;
	else if (p->depth > 1)
		p->depth--;
}

/* Starts a round. Inside usn_worker_run the time since the last round
 * (the loop, a back-off sleep) is charged as the last round was: idle or
 * other. */
static inline void usn_prof_round_begin(struct usn_prof *p, struct usn_hal *hal)
{
	uint64_t now = usn_prof_clock(hal);
	if (p->in_run && p->rounds) {
		uint64_t gap = now - p->last_end;
		p->cycles[p->prev_idle ? USN_PROF_IDLE : USN_PROF_OTHER] += gap;
		p->total += gap;
	}
	memset(p->round, 0, sizeof p->round);
	p->round_start = p->last = now;
	p->depth = 1;
	p->overflow = 0;
	p->stack[0] = USN_PROF_OTHER;
	p->active = true;
}

/* Ends the round; an idle one (nothing received, no timer fired) is
 * charged to IDLE whole. */
static inline void usn_prof_round_end(struct usn_prof *p, struct usn_hal *hal, bool idle)
{
	uint64_t now = usn_prof_clock(hal);
	usn_prof_charge(p, now);
	p->total += now - p->round_start;
	for (int i = 0; i < USN_PROF_N; i++)
		p->cycles[idle ? USN_PROF_IDLE : i] += p->round[i];
	p->rounds++;
	p->idle_rounds += idle;
	p->prev_idle = idle;
	p->last_end = now;
	p->active = false;
}

#endif /* USN_PROFILE */

#endif
