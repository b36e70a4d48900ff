/* A backend that goes, for the CPU tests of host waits (test_hostq,
 * test_flow). The CPU backend cannot fail as a CUDA kernel can: its ops
 * are copied with a health op that says what rk_gone says, and a host wait
 * that returns at least every millisecond, as the CUDA backend's does (its
 * naps), so that a change of health is seen. rk_gone_use swaps them in;
 * call it before any actor runs. One runtime at a time per program. */
#ifndef RK_TEST_GONE_BACKEND_H
#define RK_TEST_GONE_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/runtime_internal.h"
#include "rk_test.h"

static atomic_int rk_gone;
static struct rk_backend_ops rk_gone_ops;
static void (*rk_gone_real_wait)(rk_runtime *rt, uint64_t epoch, uint64_t deadline_ns);

static inline rk_status rk_gone_health(rk_runtime *rt, int check)
{
    (void)rt;
    (void)check;
    return atomic_load(&rk_gone) ? RK_EDEVICE : RK_OK;
}

static inline void rk_gone_host_wait(rk_runtime *rt, uint64_t epoch, uint64_t deadline_ns)
{
    const uint64_t step = rk_test_now_ns() + 1000000ull;
    if (!atomic_load(&rk_gone))
        rk_gone_real_wait(rt, epoch, deadline_ns < step ? deadline_ns : step);
}

static inline void rk_gone_use(rk_runtime *rt)
{
    atomic_store(&rk_gone, 0);
    rk_gone_ops = *rt->ops;
    rk_gone_real_wait = rt->ops->host_wait;
    rk_gone_ops.health = rk_gone_health;
    rk_gone_ops.host_wait = rk_gone_host_wait;
    rt->ops = &rk_gone_ops;
}

/* A thread that makes the backend go after `after_ns`. */
typedef struct rk_goner {
    pthread_t thread;
    uint64_t after_ns;
} rk_goner;

static inline void *rk_goner_main(void *arg)
{
    const rk_goner *g = arg;
    rk_test_sleep_ns(g->after_ns);
    atomic_store(&rk_gone, 1);
    return NULL;
}

#endif
