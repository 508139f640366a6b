/* libusnet timing wheel (private): O(1) arm, re-arm and cancel with
 * intrusive nodes and no allocation, in place of the binary tree that Rusty
 * re-inserted on every ACK. Hierarchical (Varghese and Lauck): timers far
 * out sit in coarser levels and cascade down as their time nears. */
#ifndef USN_TIMER_H
#define USN_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct usn_timer;
struct usn_wheel;
/* Called when the timer expires; `ctx` is usn_wheel_advance's argument.
 * The timer is disarmed before the call and may be re-armed inside it. */
typedef void (*usn_timer_fn)(struct usn_timer *t, void *ctx);

struct usn_timer {
	struct usn_timer *next;
	struct usn_timer **pprev; /* NULL when not armed */
	uint64_t expires_tick;
	usn_timer_fn fn;
};

#define USN_WHEEL_BITS 8
#define USN_WHEEL_SLOTS (1u << USN_WHEEL_BITS)
#define USN_WHEEL_LEVELS 4 /* 2^32 ticks: 49 days at 1 kHz */

struct usn_wheel {
	uint64_t tick_us;  /* microseconds per tick */
	uint64_t now_tick; /* every timer due at or before this has fired */
	uint32_t armed;    /* timers armed */
	struct usn_timer *slot[USN_WHEEL_LEVELS][USN_WHEEL_SLOTS];
};

void usn_wheel_init(struct usn_wheel *wh, uint64_t tick_us, uint64_t now_us);
void usn_timer_init(struct usn_timer *t, usn_timer_fn fn);
static inline bool usn_timer_armed(const struct usn_timer *t)
{
	return t->pprev != 0;
}
/* Arms (or re-arms) t to fire at the first advance with now >= at_us,
 * rounded up to the tick. A time in the past fires at the next advance. */
void usn_timer_arm(struct usn_wheel *wh, struct usn_timer *t, uint64_t at_us);
/* Disarms t if armed; harmless otherwise. */
void usn_timer_cancel(struct usn_wheel *wh, struct usn_timer *t);
/* Fires every timer due at or before now_us; returns how many fired. */
unsigned usn_wheel_advance(struct usn_wheel *wh, uint64_t now_us, void *ctx);
/* The earliest time (us) at which a timer may be due; UINT64_MAX if none
 * is armed. Never later than the true earliest expiry. */
uint64_t usn_wheel_next_us(const struct usn_wheel *wh);

#endif
