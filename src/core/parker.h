/* ringkernel internals: an eventcount for parking idle threads.
 *
 * A waiter takes the epoch, looks for work, and if there is none waits for
 * the epoch to move. A producer makes its work visible, then calls wake,
 * which bumps the epoch and takes the mutex only when someone waits. So an
 * idle worker burns no CPU, and a busy path pays one atomic add per wake. */
#ifndef RK_PARKER_H
#define RK_PARKER_H

#include <pthread.h>
#include <stdint.h>

typedef struct rk__parker {
    uint64_t epoch;   /* atomic */
    uint32_t waiters; /* atomic */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} rk__parker;

int rk__parker_init(rk__parker *p);
void rk__parker_destroy(rk__parker *p);

/* Take before looking for work (acquire: work published before a wake that
 * moved the epoch to this value is visible to the look). */
static inline uint64_t rk__parker_epoch(rk__parker *p)
{
    return __atomic_load_n(&p->epoch, __ATOMIC_ACQUIRE);
}

/* Sleeps until the epoch differs from `epoch` or the monotonic clock passes
 * deadline_ns. */
void rk__parker_wait(rk__parker *p, uint64_t epoch, uint64_t deadline_ns);

/* Wakes every waiter. Call after making the work visible. */
void rk__parker_wake(rk__parker *p);

#endif
