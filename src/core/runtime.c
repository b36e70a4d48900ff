/* The runtime object: creation, backend choice, shutdown, async errors. */
#include <stdlib.h>
#include <string.h>

#include "core/hostq.h"
#include "core/runtime_internal.h"
#include "core/supervisor_internal.h"
#include "core/trace.h"

#define RK__MAX_DRIFT_MS 60000u

void rk_runtime_options_init(rk_runtime_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->backend = RK_BACKEND_AUTO;
    o->max_actors = 64;
    o->workers = 0;
    o->host_queue_capacity = 4096;
    o->host_slot_size = 256;
    o->max_payload = 1u << 20;
    o->dead_letter_capacity = 1024;
    o->drain_timeout_ns = 1000000000ull;
    o->device = 0;
}

const char *rk_backend_name(rk_backend b)
{
    switch (b) {
    case RK_BACKEND_AUTO:
        return "auto";
    case RK_BACKEND_CPU:
        return "cpu";
    case RK_BACKEND_CUDA:
        return "cuda";
    }
    return "unknown";
}

static int rk__pow2(uint32_t v)
{
    return v >= 2 && (v & (v - 1)) == 0;
}

/* Light options (light.h): zero actors asks for nothing, and then the rest
 * must be zero too; otherwise zeros take the defaults. With clusters the
 * homes form clusters of their own on every backend: at most 16 homes to a
 * cluster, at least a cluster's worth of actors, and homes (when given) in
 * whole clusters. */
static rk_status rk__check_light(const rk_light_options *l, uint32_t cluster)
{
    if (!l->actors)
        return l->homes || l->inbox || l->batch || l->steal ? RK_EINVAL : RK_OK;
    if (l->actors > RK_LIGHT_ACTORS_MAX || l->homes > l->actors ||
        (l->inbox && (!rk__pow2(l->inbox) || l->inbox < 2)))
        return RK_EINVAL;
    if (cluster > 1 && (cluster > 16 || l->actors < cluster || l->homes % cluster))
        return RK_EINVAL;
    return RK_OK;
}

static rk_status rk__check_options(const rk_runtime_options *o)
{
    if ((unsigned)o->backend > RK_BACKEND_CUDA)
        return RK_EINVAL;
    if (o->max_actors == 0 || o->max_actors > (1u << 20))
        return RK_EINVAL;
    if (!rk__pow2(o->host_queue_capacity) || o->host_slot_size < RK_MSG_HEADER_SIZE ||
        o->host_slot_size % 16 != 0)
        return RK_EINVAL;
    if (o->dead_letter_capacity == 0 || o->workers > 1024)
        return RK_EINVAL;
    return rk__check_light(&o->light, o->cluster_size);
}

/* Picks the method table for the requested backend. */
static rk_status rk__pick_backend(rk_runtime *rt)
{
    rk_backend want = rt->opt.backend;
#ifdef RK_HAVE_CUDA
    if (want == RK_BACKEND_AUTO)
        want = (rt->opt.gpu_program && rk__cuda_available(rt->opt.device)) ? RK_BACKEND_CUDA : RK_BACKEND_CPU;
    if (want == RK_BACKEND_CUDA) {
        rt->ops = &rk__cuda_ops;
        rt->backend = RK_BACKEND_CUDA;
        return RK_OK;
    }
#else
    if (want == RK_BACKEND_CUDA)
        return RK_ENOBACKEND;
#endif
    rt->ops = &rk__cpu_ops;
    rt->backend = RK_BACKEND_CPU;
    return RK_OK;
}

static void rk__runtime_free(rk_runtime *rt)
{
    if (rt->actors) {
        /* The core's per-actor data; no checkpoint runs any more. */
        for (uint32_t i = 0; i < rt->opt.max_actors; i++) {
            free(rt->actors[i].initial_state);
            rk__snapshot_release(&rt->actors[i]);
        }
    }
    free(rt->actors);
    rk__hostq_destroy(rt);
    rk__supervision_destroy(rt);
    rk_registry_destroy(rt->registry);
    if (rt->dead.items)
        rk__deadletters_destroy(&rt->dead);
    rk__events_destroy(&rt->events);
    rk__tenants_destroy(rt);
    pthread_mutex_destroy(&rt->lock);
    pthread_mutex_destroy(&rt->err_lock);
    pthread_mutex_destroy(&rt->light_lock);
    free(rt);
}

rk_status rk_runtime_create(rk_runtime **out, const rk_runtime_options *o)
{
    return rk__runtime_create(out, o, 0);
}

static rk_status rk__runtime_build(rk_runtime **out, const rk_runtime_options *o, int defer_launch)
{
    rk_runtime_options defaults;
    rk_runtime *rt;
    rk_status st;

    if (!out)
        return RK_EINVAL;
    *out = NULL;
    if (!o) {
        rk_runtime_options_init(&defaults);
        o = &defaults;
    }
    st = rk__check_options(o);
    if (st != RK_OK)
        return st;

    rt = calloc(1, sizeof *rt);
    if (!rt)
        return RK_ENOMEM;
    rt->opt = *o;
    if (rt->opt.light.actors) {
        /* The backend picks the homes (one per SM, or two threads). */
        rt->opt.light.inbox = rt->opt.light.inbox ? rt->opt.light.inbox : 16;
        rt->opt.light.batch = rt->opt.light.batch ? rt->opt.light.batch : 8;
    }
    pthread_mutex_init(&rt->lock, NULL);
    pthread_mutex_init(&rt->err_lock, NULL);
    pthread_mutex_init(&rt->light_lock, NULL);
    rt->next_corr = 1;
    rt->accepting = 1;
    rk_hlc_init(&rt->hlc, RK__MAX_DRIFT_MS, NULL, NULL);
    if (rk__events_init(&rt->events) != RK_OK) {
        pthread_mutex_destroy(&rt->lock);
        pthread_mutex_destroy(&rt->err_lock);
        pthread_mutex_destroy(&rt->light_lock);
        free(rt);
        return RK_ENOMEM;
    }

    rk__mem_init(rt);

    st = rk__pick_backend(rt);
    if (st != RK_OK)
        goto fail;
    if (rt->opt.light.actors && !rt->ops->light) {
        st = RK_ENOTSUP;
        goto fail;
    }
    st = rk__tenants_init(rt);
    if (st != RK_OK)
        goto fail;
    rt->actors = calloc(o->max_actors, sizeof *rt->actors);
    if (!rt->actors) {
        st = RK_ENOMEM;
        goto fail;
    }
    st = rk__deadletters_init(&rt->dead, o->dead_letter_capacity);
    if (st != RK_OK)
        goto fail;
    st = rk_registry_create(&rt->registry);
    if (st != RK_OK)
        goto fail;
    st = rk__supervision_init(rt);
    if (st != RK_OK)
        goto fail;
    st = rk__hostq_init(rt);
    if (st != RK_OK)
        goto fail;
    rt->defer_launch = defer_launch;
    st = rt->ops->start(rt);
    if (st != RK_OK)
        goto fail;
    *out = rt;
    return RK_OK;
fail:
    rk__runtime_free(rt);
    return st;
}

rk_status rk__runtime_create(rk_runtime **out, const rk_runtime_options *o, int defer_launch)
{
    rk_status st;
    rk__trace_push(RK__TRACE_RUNTIME_CREATE);
    st = rk__runtime_build(out, o, defer_launch);
    rk__trace_pop();
    return st;
}

rk_backend rk_runtime_backend(const rk_runtime *rt)
{
    return rt ? rt->backend : RK_BACKEND_AUTO;
}

/* Takes rt->lock for a thread inside rk__enter. Shutdown holds that lock
 * while it waits for such threads to leave, so a plain lock could deadlock:
 * try, and back out once shutdown has begun. */
rk_status rk__lock_runtime(rk_runtime *rt, uint64_t deadline)
{
    uint64_t nap = 1000;
    while (pthread_mutex_trylock(&rt->lock) != 0) {
        if (!__atomic_load_n(&rt->accepting, __ATOMIC_SEQ_CST))
            return RK_ESHUTDOWN;
        if (rk__now_ns() >= deadline)
            return RK_ETIMEDOUT;
        rk__sleep_ns(nap);
        nap = nap < 200000 ? 2 * nap : nap;
    }
    return RK_OK;
}

/* The first half of stopping, under rt->lock: sends refused, host threads
 * out, what is queued handled until the drain's deadline. */
static void rk__runtime_quiesce(rk_runtime *rt)
{
    rk_shutdown_report *rep = &rt->report;
    rk_status st;
    /* Refuse new sends first, so the drain below can finish, and wait for
     * host threads inside send/recv/call to back out (rk__enter). */
    __atomic_store_n(&rt->accepting, 0, __ATOMIC_SEQ_CST);
    rt->ops->host_wake(rt);
    while (__atomic_load_n(&rt->inflight, __ATOMIC_SEQ_CST) != 0) {
        rt->ops->host_wake(rt);
        rk__sleep_ns(10000);
    }
    st = rt->ops->drain(rt, rk__deadline(rt->opt.drain_timeout_ns), rep);
    if (st == RK_ETIMEDOUT)
        rep->timed_out = 1;
    rt->drain_status = st == RK_ETIMEDOUT ? RK_OK : st;
    for (uint32_t i = 0; i < rk__actor_count(rt); i++) {
        rk__actor *a = &rt->actors[i];
        if (a->in_use && rt->ops->actor_state(rt, a) == RK_FAILED)
            rep->actors_failed++;
    }
    rt->drained = 1;
}

void rk__runtime_drain(rk_runtime *rt)
{
    /* Before rt->lock: the supervision thread may be waiting for it. */
    rk__supervision_stop(rt);
    pthread_mutex_lock(&rt->lock);
    if (!rt->shut_down && !rt->stopped && !rt->drained)
        rk__runtime_quiesce(rt);
    pthread_mutex_unlock(&rt->lock);
}

void rk__runtime_stop_begin(rk_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    if (rt->drained && !rt->shut_down && !rt->stopped && rt->ops->stop_begin)
        rt->ops->stop_begin(rt);
    pthread_mutex_unlock(&rt->lock);
}

/* Intake, drain, backend stop: after it no actor of `rt` runs. Idempotent. */
rk_status rk__runtime_stop(rk_runtime *rt)
{
    rk_status st = RK_OK;
    /* Before rt->lock: the supervision thread may be waiting for it. */
    rk__supervision_stop(rt);
    pthread_mutex_lock(&rt->lock);
    if (!rt->shut_down && !rt->stopped) {
        if (!rt->drained)
            rk__runtime_quiesce(rt);
        rt->ops->stop(rt, &rt->report);
        rt->stopped = 1;
        st = rt->drain_status;
    }
    pthread_mutex_unlock(&rt->lock);
    return st;
}

/* After rk__runtime_stop: what is left for the host, then the backend's memory. */
void rk__runtime_finish(rk_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    if (!rt->shut_down) {
        /* After stop nothing produces for the host; what is left is unread. */
        rt->report.host_unread += rk__hostq_discard(rt); /* the backend's stop counted the light actors' */
        rt->ops->release(rt);
        __atomic_store_n(&rt->shut_down, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&rt->lock);
}

rk_status rk_runtime_shutdown(rk_runtime *rt, rk_shutdown_report *report)
{
    rk_status st;
    if (!rt)
        return RK_EINVAL;
    rk__trace_push(RK__TRACE_RUNTIME_SHUTDOWN);
    st = rk__runtime_stop(rt);
    rk__runtime_finish(rt);
    if (report) {
        pthread_mutex_lock(&rt->lock);
        *report = rt->report;
        pthread_mutex_unlock(&rt->lock);
    }
    rk__trace_pop();
    return st;
}

void rk_runtime_destroy(rk_runtime *rt)
{
    if (!rt)
        return;
    rk__trace_push(RK__TRACE_RUNTIME_DESTROY);
    rk_runtime_shutdown(rt, NULL);
    rk__runtime_free(rt);
    rk__trace_pop();
}

void rk__async_error(rk_runtime *rt, rk_actor_id actor, uint32_t generation, rk_status st)
{
    rk_async_error e = {actor, generation, st, 0};
    rk__actor *a;
    rk_hlc_now(&rt->hlc, &e.hlc);
    pthread_mutex_lock(&rt->err_lock);
    if (rt->err_count == RK__ASYNC_ERRORS) {
        rt->err_head = (rt->err_head + 1) % RK__ASYNC_ERRORS;
        rt->err_count--;
        rt->err_dropped++;
    }
    rt->errors[(rt->err_head + rt->err_count) % RK__ASYNC_ERRORS] = e;
    rt->err_count++;
    pthread_mutex_unlock(&rt->err_lock);
    a = rk__actor_get(rt, actor);
    rk__event_emit(rt, RK_EVENT_ERROR, actor, generation, a ? a->tenant : 0, (int64_t)st);
    rk__supervision_notify_actor(rt, a); /* a failed actor's supervisor reacts, where it lives */
}

void rk__async_errors_lost(rk_runtime *rt, uint64_t n)
{
    pthread_mutex_lock(&rt->err_lock);
    rt->err_dropped += n;
    pthread_mutex_unlock(&rt->err_lock);
}

uint64_t rk_runtime_errors_lost(rk_runtime *rt)
{
    uint64_t n;
    if (!rt)
        return 0;
    rk__collect(rt);
    pthread_mutex_lock(&rt->err_lock);
    n = rt->err_dropped;
    pthread_mutex_unlock(&rt->err_lock);
    return n;
}

rk_status rk_runtime_error(rk_runtime *rt, rk_async_error *out)
{
    rk_status st = RK_EEMPTY;
    if (!rt || !out)
        return RK_EINVAL;
    rk__collect(rt);
    pthread_mutex_lock(&rt->err_lock);
    if (rt->err_count > 0) {
        *out = rt->errors[rt->err_head];
        rt->err_head = (rt->err_head + 1) % RK__ASYNC_ERRORS;
        rt->err_count--;
        st = RK_OK;
    }
    pthread_mutex_unlock(&rt->err_lock);
    return st;
}

rk_status rk_dead_letter_pop(rk_runtime *rt, rk_dead_letter *out, uint64_t *dropped)
{
    if (!rt || !out)
        return RK_EINVAL;
    rk__collect(rt);
    return rk__deadletters_pop(&rt->dead, out, dropped);
}

uint64_t rk_dead_letter_count(rk_runtime *rt)
{
    if (!rt)
        return 0;
    rk__collect(rt);
    return rk__deadletters_total(&rt->dead);
}
