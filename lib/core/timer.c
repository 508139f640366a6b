/* libusnet hierarchical timing wheel (lib/core/timer.h), after Varghese and
 * Lauck and the classic Linux cascade: O(1) arm and cancel, advance cascades
 * coarse slots down as their time nears and jumps straight over empty time. */
#include "core/timer.h"

#include <stddef.h>

#define SLOT_MASK (USN_WHEEL_SLOTS - 1u)

/* Placement, relative to now_tick (every tick up to it has been processed):
 *   delta <= 0            level 0, slot now & 255 (due: fires at the next advance)
 *   delta in [1, 2^8)     level 0, slot e & 255
 *   delta in [2^8, 2^16)  level 1, slot (e >> 8) & 255
 *   delta in [2^16, 2^24) level 2, slot (e >> 16) & 255
 *   delta in [2^24, 2^32) level 3, slot (e >> 24) & 255
 * Farther timers are placed as if due at now + 2^32 - 1 and placed again
 * when that slot cascades. A level L >= 1 timer's slot index (e >> 8L) is
 * always 1..255 ahead of now >> 8L, so the slot is cascaded at tick
 * (e >> 8L) << 8L, which is <= e and > now: no timer is ever late. */
static struct usn_timer **slot_for(struct usn_wheel *wh, uint64_t e)
{
	uint64_t now = wh->now_tick;
	if (e <= now)
		return &wh->slot[0][now & SLOT_MASK];
	uint64_t delta = e - now;
	if (delta >= (1ull << (USN_WHEEL_BITS * USN_WHEEL_LEVELS))) {
		e = now + (1ull << (USN_WHEEL_BITS * USN_WHEEL_LEVELS)) - 1;
		delta = e - now;
	}
	unsigned level = 0;
	while (level + 1 < USN_WHEEL_LEVELS && delta >= (1ull << (USN_WHEEL_BITS * (level + 1))))
		level++;
	return &wh->slot[level][(e >> (USN_WHEEL_BITS * level)) & SLOT_MASK];
}

static void list_insert(struct usn_timer **head, struct usn_timer *t)
{
	t->next = *head;
	if (t->next)
		t->next->pprev = &t->next;
	*head = t;
	t->pprev = head;
}

static void list_unlink(struct usn_timer *t)
{
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
}

/* Moves the list at *from to a local head so callbacks (which may cancel
 * or re-arm any timer) see consistent links. */
static void list_move(struct usn_timer **from, struct usn_timer **to)
{
	*to = *from;
	*from = NULL;
	if (*to)
		(*to)->pprev = to;
}

void usn_wheel_init(struct usn_wheel *wh, uint64_t tick_us, uint64_t now_us)
{
	wh->tick_us = tick_us ? tick_us : 1;
	wh->now_tick = now_us / wh->tick_us;
	wh->armed = 0;
	for (unsigned l = 0; l < USN_WHEEL_LEVELS; l++)
		for (unsigned s = 0; s < USN_WHEEL_SLOTS; s++)
			wh->slot[l][s] = NULL;
}

void usn_timer_init(struct usn_timer *t, usn_timer_fn fn)
{
	t->next = NULL;
	t->pprev = NULL;
	t->expires_tick = 0;
	t->fn = fn;
}

void usn_timer_cancel(struct usn_wheel *wh, struct usn_timer *t)
{
	if (!t->pprev)
		return;
	list_unlink(t);
	wh->armed--;
}

void usn_timer_arm(struct usn_wheel *wh, struct usn_timer *t, uint64_t at_us)
{
	usn_timer_cancel(wh, t);
	/* Rounded up: a timer never fires before its time. */
	t->expires_tick = at_us / wh->tick_us + (at_us % wh->tick_us != 0);
	list_insert(slot_for(wh, t->expires_tick), t);
	wh->armed++;
}

/* Places again, relative to the new now, every timer of a coarse slot. */
static void cascade(struct usn_wheel *wh, unsigned level, unsigned idx)
{
	struct usn_timer *list;
	list_move(&wh->slot[level][idx], &list);
	while (list) {
		struct usn_timer *t = list;
		list_unlink(t);
		list_insert(slot_for(wh, t->expires_tick), t);
	}
}

/* Fires the current level-0 slot. Timers re-armed into the past by a
 * callback land in the same slot again and wait for the next tick or the
 * next advance, so a callback that always re-arms cannot spin forever. */
static unsigned fire_current(struct usn_wheel *wh, void *ctx)
{
	struct usn_timer *list;
	unsigned fired = 0;
	list_move(&wh->slot[0][wh->now_tick & SLOT_MASK], &list);
	while (list) {
		struct usn_timer *t = list;
		list_unlink(t);
		wh->armed--;
		fired++;
		t->fn(t, ctx);
	}
	return fired;
}

/* The first tick after now at which something happens: a level-0 slot to
 * fire, or a non-empty coarse slot to cascade. UINT64_MAX if none. Scans
 * at most 256 slots per level and stops a level early once it cannot beat
 * what a finer level found. */
static uint64_t next_event_tick(const struct usn_wheel *wh)
{
	uint64_t now = wh->now_tick, best = UINT64_MAX;
	if (wh->slot[0][now & SLOT_MASK])
		return now + 1; /* re-armed into the past during this advance */
	for (uint64_t d = 1; d < USN_WHEEL_SLOTS; d++) {
		if (wh->slot[0][(now + d) & SLOT_MASK]) {
			best = now + d;
			break;
		}
	}
	for (unsigned level = 1; level < USN_WHEEL_LEVELS; level++) {
		unsigned shift = USN_WHEEL_BITS * level;
		uint64_t base = now >> shift;
		for (uint64_t k = 1; k <= USN_WHEEL_SLOTS; k++) {
			uint64_t at = (base + k) << shift;
			if (at >= best || at < now)
				break;
			if (wh->slot[level][(base + k) & SLOT_MASK]) {
				best = at;
				break;
			}
		}
	}
	return best;
}

/* Moves now to `tick` (> now); timers left due in the old current slot
 * (re-armed into the past) follow to the new one. */
static void step_to(struct usn_wheel *wh, uint64_t tick)
{
	unsigned from = wh->now_tick & SLOT_MASK, to = tick & SLOT_MASK;
	wh->now_tick = tick;
	if (from != to && wh->slot[0][from]) {
		struct usn_timer *list;
		list_move(&wh->slot[0][from], &list);
		while (list) {
			struct usn_timer *t = list;
			list_unlink(t);
			list_insert(&wh->slot[0][to], t);
		}
	}
}

unsigned usn_wheel_advance(struct usn_wheel *wh, uint64_t now_us, void *ctx)
{
	uint64_t target = now_us / wh->tick_us;
	unsigned fired = fire_current(wh, ctx); /* armed in the past since the last advance */

	while (wh->now_tick < target) {
		uint64_t next;
		if (!wh->armed)
			next = UINT64_MAX;
		else if (target - wh->now_tick <= 8)
			next = wh->now_tick + 1; /* a few ticks: cheaper than a scan */
		else
			next = next_event_tick(wh);
		if (next > target) {
			step_to(wh, target);
			break;
		}
		step_to(wh, next);
		/* Cascade finer levels first (Linux's order): a timer coming down
		 * from level L never lands in a level-(L-1) slot already done. */
		for (unsigned level = 1; level < USN_WHEEL_LEVELS; level++) {
			unsigned shift = USN_WHEEL_BITS * (level - 1);
			if ((next >> shift) & SLOT_MASK)
				break;
			cascade(wh, level, (next >> (shift + USN_WHEEL_BITS)) & SLOT_MASK);
		}
		fired += fire_current(wh, ctx);
	}
	return fired;
}

/* Earliest expiry in a coarse slot, walking at most a few timers; a longer
 * list answers with the slot's start, which is still a lower bound. */
static uint64_t slot_min_tick(const struct usn_timer *list, uint64_t floor_tick)
{
	uint64_t best = UINT64_MAX;
	unsigned n = 0;
	for (const struct usn_timer *t = list; t; t = t->next) {
		if (++n > 64)
			return floor_tick;
		if (t->expires_tick < best)
			best = t->expires_tick;
	}
	return best;
}

static uint64_t ticks_to_us(const struct usn_wheel *wh, uint64_t tick)
{
	if (tick > UINT64_MAX / wh->tick_us)
		return UINT64_MAX;
	return tick * wh->tick_us;
}

uint64_t usn_wheel_next_us(const struct usn_wheel *wh)
{
	if (!wh->armed)
		return UINT64_MAX;
	uint64_t now = wh->now_tick, best = UINT64_MAX;
	if (wh->slot[0][now & SLOT_MASK])
		return ticks_to_us(wh, now); /* already due */
	for (uint64_t d = 1; d < USN_WHEEL_SLOTS; d++) {
		if (wh->slot[0][(now + d) & SLOT_MASK]) {
			best = now + d; /* level 0 is exact: one tick per slot */
			break;
		}
	}
	/* A coarse slot's timers are due at or after the tick it cascades at;
	 * only a slot starting before the best so far can matter. */
	for (unsigned level = 1; level < USN_WHEEL_LEVELS; level++) {
		unsigned shift = USN_WHEEL_BITS * level;
		uint64_t base = now >> shift;
		for (uint64_t k = 1; k <= USN_WHEEL_SLOTS; k++) {
			uint64_t at = (base + k) << shift;
			if (at >= best || at < now)
				break;
			const struct usn_timer *list = wh->slot[level][(base + k) & SLOT_MASK];
			if (list) {
				uint64_t m = slot_min_tick(list, at);
				if (m < best)
					best = m;
				break;
			}
		}
	}
	return ticks_to_us(wh, best);
}
