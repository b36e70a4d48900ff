#include "ringkernel/hlc.h"

#include <time.h>

/* A failing clock_gettime reads as 0: the clock then runs on its logical
 * part alone, which keeps every guarantee except closeness to real time. */
static uint64_t rk__hlc_realtime_ms(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_REALTIME, &t) != 0 || t.tv_sec < 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* The NULL check is here rather than in init so that a zero-filled rk_hlc
 * is a usable real-time clock, not a call through a null pointer. */
static uint64_t rk__hlc_read(const rk_hlc *hlc)
{
    return hlc->clock ? hlc->clock(hlc->clock_arg) : rk__hlc_realtime_ms();
}

rk_status rk_hlc_init(rk_hlc *hlc, uint64_t max_drift_ms, rk_hlc_clock_fn clock, void *clock_arg)
{
    if (!hlc)
        return RK_EINVAL;
    hlc->last = 0;
    hlc->max_drift_ms = max_drift_ms;
    hlc->clock = clock;
    hlc->clock_arg = clock_arg;
    return RK_OK;
}

/* Moves the clock to the timestamp after both its current value and
 * `remote` (0 for a local event), with the physical clock reading `phys`.
 * The reading is taken once, before the loop: a retry only means another
 * thread moved `last`, and the rule stays correct with a slightly older
 * reading.
 *
 * Relaxed ordering is enough: `last` is the only shared state and publishes
 * no other data. Strict monotonicity comes from the CAS alone - every
 * successful CAS replaces the value it read with a larger one, so the values
 * along the word's single modification order increase, and a call that
 * happens after another (same thread, or synchronised by other means) reads
 * that call's value or a later one, by coherence. */
static rk_status rk__hlc_advance(rk_hlc *hlc, uint64_t remote, uint64_t phys, uint64_t *ts)
{
    uint64_t last = __atomic_load_n(&hlc->last, __ATOMIC_RELAXED);
    uint64_t next;
    do {
        if (last == RK_HLC_MAX)
            return RK_EDRIFT;
        next = rk_hlc_merge(last, remote, phys);
    } while (!__atomic_compare_exchange_n(&hlc->last, &last, next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    *ts = next;
    return RK_OK;
}

rk_status rk_hlc_now(rk_hlc *hlc, uint64_t *ts)
{
    if (!hlc || !ts)
        return RK_EINVAL;
    return rk__hlc_advance(hlc, 0, rk__hlc_read(hlc), ts);
}

rk_status rk_hlc_update(rk_hlc *hlc, uint64_t remote, uint64_t *ts)
{
    uint64_t phys, remote_phys;
    if (!hlc || !ts)
        return RK_EINVAL;
    /* Checked before the clock moves, so a refused remote leaves no trace.
     * RK_HLC_MAX has no successor to answer it with, whatever the limit. */
    phys = rk__hlc_read(hlc);
    remote_phys = rk_hlc_physical(remote);
    if ((remote_phys > phys && remote_phys - phys > hlc->max_drift_ms) || remote == RK_HLC_MAX)
        return RK_EDRIFT;
    return rk__hlc_advance(hlc, remote, phys, ts);
}

rk_status rk_hlc_last(const rk_hlc *hlc, uint64_t *ts)
{
    if (!hlc || !ts)
        return RK_EINVAL;
    *ts = __atomic_load_n(&hlc->last, __ATOMIC_RELAXED);
    return RK_OK;
}

rk_status rk__hlc_now_n(rk_hlc *hlc, uint32_t n, uint64_t *first)
{
    const uint64_t phys = rk__hlc_read(hlc);
    uint64_t last = __atomic_load_n(&hlc->last, __ATOMIC_RELAXED), next;
    if (n == 0)
        return RK_EINVAL;
    do {
        next = rk_hlc_tick(last, phys);
        /* The n stamps are next .. next + n - 1, the last at most RK_HLC_MAX. */
        if (last == RK_HLC_MAX || next > RK_HLC_MAX - (n - 1))
            return RK_EDRIFT;
    } while (!__atomic_compare_exchange_n(&hlc->last, &last, next + n - 1, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    *first = next;
    return RK_OK;
}
