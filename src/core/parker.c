#include "core/parker.h"

#include <time.h>

#include "core/clock.h"

int rk__parker_init(rk__parker *p)
{
    pthread_condattr_t attr;
    p->epoch = 0;
    p->waiters = 0;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return -1;
    if (pthread_condattr_init(&attr) != 0 || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&p->cv, &attr) != 0) {
        pthread_mutex_destroy(&p->mu);
        return -1;
    }
    pthread_condattr_destroy(&attr);
    return 0;
}

void rk__parker_destroy(rk__parker *p)
{
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

void rk__parker_wait(rk__parker *p, uint64_t epoch, uint64_t deadline_ns)
{
    struct timespec ts = {(time_t)(deadline_ns / 1000000000ull), (long)(deadline_ns % 1000000000ull)};
    /* Seq-cst: either the waker's load of `waiters` sees this increment (and
     * it broadcasts under the mutex), or its epoch increment, which comes
     * before that load, is seen by our epoch check below. */
    __atomic_fetch_add(&p->waiters, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&p->mu);
    while (__atomic_load_n(&p->epoch, __ATOMIC_SEQ_CST) == epoch && rk__now_ns() < deadline_ns) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0 && rk__now_ns() >= deadline_ns)
            break;
    }
    pthread_mutex_unlock(&p->mu);
    __atomic_fetch_sub(&p->waiters, 1, __ATOMIC_SEQ_CST);
}

void rk__parker_wake(rk__parker *p)
{
    /* Seq-cst, pairs with rk__parker_wait: see there. Release as well, so the
     * work published before it is visible to whoever sees the new epoch. */
    __atomic_fetch_add(&p->epoch, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->waiters, __ATOMIC_SEQ_CST) == 0)
        return;
    /* The mutex closes the gap between a waiter's epoch check and its sleep. */
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
