/* ringkernel: the actor lifecycle.
 *
 *   Dormant -> Initializing -> Active <-> Draining -> Terminated
 *                   |            |          |
 *                   +------------+----------+--> Failed
 *   restart: Active | Draining | Failed | Terminated -> Initializing, generation + 1
 *
 * Draining: the actor takes no new messages but still handles those queued.
 * The table is the single authority: the host runtime, the CPU workers and
 * the GPU supervisor all move an actor with rk_lifecycle_next(). Compiles as
 * C11 and CUDA C. */
#ifndef RINGKERNEL_LIFECYCLE_H
#define RINGKERNEL_LIFECYCLE_H

#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rk_lifecycle_state {
    RK_DORMANT = 0,
    RK_INITIALIZING = 1,
    RK_ACTIVE = 2,
    RK_DRAINING = 3,
    RK_TERMINATED = 4,
    RK_FAILED = 5,
    RK_LIFECYCLE_STATE_COUNT_
} rk_lifecycle_state;

typedef enum rk_lifecycle_event {
    RK_EV_CREATE = 0,     /* Dormant -> Initializing */
    RK_EV_READY = 1,      /* Initializing -> Active */
    RK_EV_DEACTIVATE = 2, /* Active -> Draining */
    RK_EV_ACTIVATE = 3,   /* Draining -> Active */
    RK_EV_TERMINATE = 4,  /* Draining -> Terminated (Active drains first) */
    RK_EV_FAIL = 5,       /* Initializing | Active | Draining -> Failed */
    RK_EV_RESTART = 6,    /* Active | Draining | Failed | Terminated -> Initializing */
    RK_LIFECYCLE_EVENT_COUNT_
} rk_lifecycle_event;

/* The state `ev` leads to from `from`, or RK_ETRANSITION if the table has no
 * such edge (RK_EINVAL for values outside the enums). RK_EV_TERMINATE from
 * Active is allowed: it names the whole Active -> Draining -> Terminated path,
 * whose final state is returned. */
RK_HD rk_status rk_lifecycle_next(rk_lifecycle_state from, rk_lifecycle_event ev, rk_lifecycle_state *to)
{
    rk_lifecycle_state next = from;
    int ok = 0;
    if ((unsigned)from >= RK_LIFECYCLE_STATE_COUNT_ || (unsigned)ev >= RK_LIFECYCLE_EVENT_COUNT_)
        return RK_EINVAL;
    switch (ev) {
    case RK_EV_CREATE:
        ok = from == RK_DORMANT, next = RK_INITIALIZING;
        break;
    case RK_EV_READY:
        ok = from == RK_INITIALIZING, next = RK_ACTIVE;
        break;
    case RK_EV_DEACTIVATE:
        ok = from == RK_ACTIVE, next = RK_DRAINING;
        break;
    case RK_EV_ACTIVATE:
        ok = from == RK_DRAINING, next = RK_ACTIVE;
        break;
    case RK_EV_TERMINATE:
        ok = from == RK_ACTIVE || from == RK_DRAINING, next = RK_TERMINATED;
        break;
    case RK_EV_FAIL:
        ok = from == RK_INITIALIZING || from == RK_ACTIVE || from == RK_DRAINING, next = RK_FAILED;
        break;
    case RK_EV_RESTART:
        ok = from == RK_ACTIVE || from == RK_DRAINING || from == RK_FAILED || from == RK_TERMINATED;
        next = RK_INITIALIZING;
        break;
    default:
        break;
    }
    if (!ok)
        return RK_ETRANSITION;
    if (to)
        *to = next;
    return RK_OK;
}

/* Whether an actor in this state accepts new messages. */
RK_HD int rk_lifecycle_accepts(rk_lifecycle_state s)
{
    return s == RK_ACTIVE || s == RK_INITIALIZING;
}

/* Whether an actor in this state runs its handler on queued messages. */
RK_HD int rk_lifecycle_runs(rk_lifecycle_state s)
{
    return s == RK_ACTIVE || s == RK_DRAINING;
}

/* Restart intensity (supervisor.h), internal: the times of the latest
 * restarts kept in a ring of `size` entries, `n` of them from `head`. One
 * piece for the host's supervisors (core/supervisor.c) and the restart
 * records of the backends (cpu_backend.c, device.cuh). */

/* How many of them fall inside the window ending `now`. */
RK_HD uint32_t rk__restarts_within(const uint64_t *hist, uint32_t size, uint32_t head, uint32_t n, uint64_t window_ns,
                                   uint64_t now)
{
    uint32_t k, count = 0;
    for (k = 0; k < n; k++)
        if (now - hist[(head + k) % size] < window_ns)
            count++;
    return count;
}

/* Records a restart at `now`, keeping the latest `keep` (1..size): when
 * full, the newest goes after the others and the oldest leaves. */
RK_HD void rk__restart_note(uint64_t *hist, uint32_t size, uint32_t keep, uint32_t *head, uint32_t *n, uint64_t now)
{
    hist[(*head + *n) % size] = now;
    if (*n < keep)
        (*n)++;
    else
        *head = (*head + 1) % size;
}

/* "Active" for RK_ACTIVE; "Unknown" outside the enum. */
RK_API const char *rk_lifecycle_state_name(rk_lifecycle_state s);
RK_API const char *rk_lifecycle_event_name(rk_lifecycle_event ev);

#ifdef __cplusplus
}
#endif

#endif
