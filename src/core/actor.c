/* Actors: launch, lifecycle commands, lookup, introspection, routing. */
#include <stdlib.h>
#include <string.h>

#include "core/runtime_internal.h"
#include "core/supervisor_internal.h"
#include "core/trace.h"

#define RK__COMMAND_TIMEOUT_NS 5000000000ull /* a backend that does not answer in 5 s is stuck */
#define RK__MAX_STATE (64u << 20)

void rk_actor_options_init(rk_actor_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->inbox_capacity = 1024;
    o->slot_size = 256;
    o->block_size = 128;
    o->near = RK_ACTOR_NONE;
}

uint32_t rk__actor_count(rk_runtime *rt)
{
    /* Acquire: pairs with the release in rk_launch, so a slot below the
     * count is fully written. */
    return __atomic_load_n(&rt->n_actors, __ATOMIC_ACQUIRE);
}

rk__actor *rk__actor_get(rk_runtime *rt, rk_actor_id id)
{
    if (id >= rk__actor_count(rt))
        return NULL;
    return &rt->actors[id];
}

static int rk__pow2(uint32_t v)
{
    return v >= 2 && (v & (v - 1)) == 0;
}

static rk_status rk__check_actor_options(const rk_actor_options *o)
{
    if (!o->name || o->name[0] == '\0' || strlen(o->name) >= RK__NAME_MAX)
        return RK_EINVAL;
    if (rk_topic_check_name(o->name) != RK_OK) /* names live in the registry */
        return RK_EINVAL;
    if (!o->type)
        return RK_EINVAL;
    if (!rk__pow2(o->inbox_capacity) || o->inbox_capacity > (1u << 24))
        return RK_EINVAL;
    if (o->slot_size < RK_MSG_HEADER_SIZE || o->slot_size % 16 != 0 || o->slot_size > (1u << 20))
        return RK_EINVAL;
    if (o->block_size == 0 || o->block_size > 1024 || o->block_size % 32 != 0)
        return RK_EINVAL;
    if (o->state_size > RK__MAX_STATE)
        return RK_EINVAL;
    return RK_OK;
}

static uint32_t rk__generation(rk_runtime *rt, rk__actor *a);

/* Binds the actor's name to its current generation after a restart, or
 * again after a termination released it (unless another actor took it
 * meanwhile: then the restarted actor goes without). A binding lost to
 * memory is reported as an asynchronous error, not dropped silently. */
static void rk__rebind(rk_runtime *rt, rk__actor *a)
{
    uint32_t gen = rk__generation(rt, a);
    rk_status st = rk_registry_reregister(rt->registry, a->name, a->id, gen);
    if (st == RK_ENOTFOUND)
        st = rk_registry_register(rt->registry, a->name, a->id, gen);
    if (st == RK_ENOMEM)
        rk__async_error(rt, a->id, gen, RK_ENOMEM);
}

/* Drops the actor's names and topic subscriptions. */
static void rk__retire(rk_runtime *rt, rk__actor *a)
{
    rk_registry_unregister_actor(rt->registry, a->id, NULL, NULL);
}

void rk__actor_retire(rk_runtime *rt, rk__actor *a)
{
    /* Under rt->lock, as terminations retire: rk_subscribe checks the state
     * and subscribes under it too, so no subscription outlives this. */
    pthread_mutex_lock(&rt->lock);
    rk__retire(rt, a);
    pthread_mutex_unlock(&rt->lock);
}

rk_lifecycle_state rk__actor_state_now(rk_runtime *rt, rk__actor *a)
{
    rk_lifecycle_state s;
    /* rk__enter keeps shutdown from freeing the backend's state under us. */
    if (rk__enter(rt) != RK_OK)
        return RK_TERMINATED;
    s = rt->ops->actor_state(rt, a);
    rk__leave(rt);
    return s;
}

int rk__actor_restarting(rk_runtime *rt, rk__actor *a)
{
    rk_control c1, c2;
    int ok;
    if (rk__enter(rt) != RK_OK)
        return 0;
    /* The backend sets the flag before it writes Failed, and clears it
     * only after the restart wrote the next generation: read Failed twice
     * in one generation with no flag between, the failure is final.
     * actor_control loads each word with acquire, so every load of the
     * second snapshot comes after the first's. */
    ok = rt->ops->actor_control(rt, a, &c1) == RK_OK;
    ok = ok && rt->ops->actor_control(rt, a, &c2) == RK_OK;
    rk__leave(rt);
    return ok && (((c1.flags | c2.flags) & RK_CONTROL_F_RESTARTING) || c1.state != RK_FAILED ||
                  c2.state != RK_FAILED || c2.generation != c1.generation);
}

rk_lifecycle_state rk__actor_state_settled(rk_runtime *rt, rk__actor *a, uint64_t deadline)
{
    rk_lifecycle_state s;
    /* Initializing too: a restart the backend decided passes through it
     * (spec/findings/restart-kill-during-restart.md). */
    while (((s = rk__actor_state_now(rt, a)) == RK_INITIALIZING || (s == RK_FAILED && rk__actor_restarting(rt, a))) &&
           rk__now_ns() < deadline)
        rk__sleep_ns(10000);
    return s;
}

void rk__actors_rebind(rk_runtime *rt)
{
    for (rk_actor_id id = 0; id < rk__actor_count(rt); id++) {
        rk__actor *a = &rt->actors[id];
        rk_actor_id bound;
        uint32_t gen;
        if (rk_registry_lookup(rt->registry, a->name, &bound, &gen) == RK_OK && bound == id &&
            gen != rk__actor_generation(rt, a))
            rk__rebind(rt, a);
    }
}

void rk__actor_restarted(rk_runtime *rt, rk_actor_id id, uint32_t generation)
{
    rk__actor *a = rk__actor_get(rt, id);
    if (!a)
        return;
    rk__rebind(rt, a);
    rk__event_emit(rt, RK_EVENT_RESTART, id, generation, a->tenant, generation);
    rk__event_emit(rt, RK_EVENT_STATE, id, generation, a->tenant, rk__actor_state_now(rt, a));
}

uint32_t rk__actor_generation(rk_runtime *rt, rk__actor *a)
{
    uint32_t g;
    if (rk__enter(rt) != RK_OK)
        return 0;
    g = rk__generation(rt, a);
    rk__leave(rt);
    return g;
}

/* Fills slot `a` from the options; the core keeps its own initial state. */
static rk_status rk__actor_fill(rk__actor *a, rk_actor_id id, const rk_actor_options *o, unsigned flags)
{
    memset(a, 0, sizeof *a);
    a->id = id;
    a->sup_parent = RK_ACTOR_NONE;
    strcpy(a->name, o->name);
    a->type = o->type;
    a->state_size = o->state_size;
    a->tenant = o->tenant;
    a->inbox_capacity = o->inbox_capacity;
    a->slot_size = o->slot_size;
    a->block_size = o->block_size;
    a->near = o->near;
    a->moved_in = (flags & RK__LAUNCH_NO_INIT) != 0;
    if (o->state_size == 0 || (flags & RK__LAUNCH_NO_INIT))
        return RK_OK;
    a->initial_state = calloc(1, o->state_size);
    if (!a->initial_state)
        return RK_ENOMEM;
    if (o->initial_state)
        memcpy(a->initial_state, o->initial_state, o->state_size);
    return RK_OK;
}

rk_status rk_launch(rk_runtime *rt, const rk_actor_options *o, rk_actor_id *id)
{
    return rk__launch(rt, o, id, 0);
}

static rk_status rk__launch_body(rk_runtime *rt, const rk_actor_options *o, rk_actor_id *id, unsigned flags)
{
    rk_status st;
    rk__actor *a;
    uint32_t n;

    if (!rt || !o || !id)
        return RK_EINVAL;
    st = rk__check_actor_options(o);
    if (st != RK_OK)
        return st;
    pthread_mutex_lock(&rt->lock);
    n = rt->n_actors;
    if (!__atomic_load_n(&rt->accepting, __ATOMIC_ACQUIRE))
        st = RK_ESHUTDOWN;
    else /* claims the name (RK_EEXIST); lookups skip it until the slot is published */
        st = rk_registry_register(rt->registry, o->name, n, 1);
    if (st == RK_OK && (n == rt->opt.max_actors || (o->near != RK_ACTOR_NONE && o->near >= n))) {
        rk_registry_unregister(rt->registry, o->name);
        st = n == rt->opt.max_actors ? RK_ENOMEM : RK_ENOACTOR;
    }
    if (st != RK_OK)
        goto out;
    a = &rt->actors[n];
    st = rk__actor_fill(a, n, o, flags);
    if (st == RK_OK)
        st = rk__tenant_admit(rt, a); /* quotas and memory pressure */
    if (st == RK_OK)
        st = rt->ops->actor_create(rt, a, rk__deadline(RK__COMMAND_TIMEOUT_NS));
    if (st != RK_OK) {
        rk_registry_unregister(rt->registry, o->name);
        rk__tenant_unadmit(rt, a);
        free(a->initial_state);
        memset(a, 0, sizeof *a);
        goto out;
    }
    a->in_use = 1;
    /* Release: senders on other threads that see the new count see a
     * complete slot (rk__actor_count). */
    __atomic_store_n(&rt->n_actors, n + 1, __ATOMIC_RELEASE);
    *id = n;
    if (rk__generation(rt, a) != 1) /* a backend that does not start at 1 */
        rk__rebind(rt, a);
    rk__event_emit(rt, RK_EVENT_STATE, n, 1, a->tenant, RK_ACTIVE);
out:
    pthread_mutex_unlock(&rt->lock);
    return st;
}

rk_status rk__launch(rk_runtime *rt, const rk_actor_options *o, rk_actor_id *id, unsigned flags)
{
    rk_status st;
    rk__trace_push(RK__TRACE_LAUNCH);
    st = rk__launch_body(rt, o, id, flags);
    rk__trace_pop();
    return st;
}

/* Reports a lifecycle command the backend has applied: the state it left
 * the actor in, and for a restart the new generation. */
static void rk__report_command(rk_runtime *rt, rk__actor *a, rk_lifecycle_event ev)
{
    rk_control c;
    if (rt->ops->actor_control(rt, a, &c) != RK_OK)
        return;
    if (ev == RK_EV_RESTART)
        rk__event_emit(rt, RK_EVENT_RESTART, a->id, c.generation, a->tenant, c.generation);
    rk__event_emit(rt, RK_EVENT_STATE, a->id, c.generation, a->tenant, c.state);
}

/* The core's part of a command, whatever the backend answered: a restart
 * that moved the generation re-registers the name (so lookups yield the new
 * generation); a final termination - or one still under way when the wait
 * timed out - releases names and subscriptions. */
static void rk__command_done(rk_runtime *rt, rk__actor *a, rk_lifecycle_event ev, rk_status st, uint32_t gen0,
                             unsigned flags)
{
    if (ev == RK_EV_RESTART && rk__generation(rt, a) != gen0)
        rk__rebind(rt, a);
    else if (ev == RK_EV_TERMINATE && (flags & RK__LC_RETIRE) && (st == RK_OK || st == RK_ETIMEDOUT))
        rk__retire(rt, a);
}

/* The range of a command: named after the public call, also when a
 * supervisor or a migration issues it. */
static rk__trace_range rk__lifecycle_range(rk_lifecycle_event ev)
{
    switch (ev) {
    case RK_EV_ACTIVATE:
        return RK__TRACE_ACTIVATE;
    case RK_EV_DEACTIVATE:
        return RK__TRACE_DEACTIVATE;
    case RK_EV_TERMINATE:
        return RK__TRACE_TERMINATE;
    default: /* RK_EV_RESTART, the only other command */
        return RK__TRACE_RESTART;
    }
}

rk_status rk__lifecycle(rk_runtime *rt, rk_actor_id id, rk_lifecycle_event ev, unsigned flags)
{
    rk_status st;
    rk__actor *a;
    uint32_t gen0;

    if (!rt)
        return RK_EINVAL;
    rk__trace_push(rk__lifecycle_range(ev));
    pthread_mutex_lock(&rt->lock);
    a = rk__actor_get(rt, id);
    if (!a)
        st = RK_ENOACTOR;
    else if (rk__is_shut_down(rt))
        st = RK_ESHUTDOWN;
    else if (ev != RK_EV_TERMINATE && __atomic_load_n(&a->forward, __ATOMIC_ACQUIRE) != 0)
        st = RK_ESTATE; /* it migrated (group.h): it lives on elsewhere, under its new gid */
    else
        st = rk_lifecycle_next(rt->ops->actor_state(rt, a), ev, NULL);
    if (st == RK_OK) {
        gen0 = rk__generation(rt, a);
        st = rt->ops->actor_command(rt, a, ev, rk__deadline(RK__COMMAND_TIMEOUT_NS));
        rk__command_done(rt, a, ev, st, gen0, flags);
    }
    if (st == RK_OK)
        rk__report_command(rt, a, ev);
    pthread_mutex_unlock(&rt->lock);
    if ((flags & RK__LC_NOTIFY) && (st == RK_OK || st == RK_ETIMEDOUT))
        rk__supervision_notify_actor(rt, a);
    rk__trace_pop();
    return st;
}

rk_status rk_activate(rk_runtime *rt, rk_actor_id id)
{
    return rk__lifecycle(rt, id, RK_EV_ACTIVATE, 0);
}

rk_status rk_deactivate(rk_runtime *rt, rk_actor_id id)
{
    return rk__lifecycle(rt, id, RK_EV_DEACTIVATE, 0);
}

rk_status rk_terminate(rk_runtime *rt, rk_actor_id id)
{
    /* Final: names and subscriptions go, and a supervisor may restart a
     * permanent child (supervisor.h). */
    return rk__lifecycle(rt, id, RK_EV_TERMINATE, RK__LC_RETIRE | RK__LC_NOTIFY);
}

rk_status rk_restart(rk_runtime *rt, rk_actor_id id)
{
    return rk__lifecycle(rt, id, RK_EV_RESTART, 0);
}

rk_status rk_lookup(rk_runtime *rt, const char *name, rk_actor_id *id)
{
    rk_actor_id found;
    rk_status st;
    if (!rt || !name || !id)
        return RK_EINVAL;
    st = rk_registry_lookup(rt->registry, name, &found, NULL);
    /* A name whose launch has not published the slot yet is not there. */
    if (st == RK_ENOTFOUND || (st == RK_OK && !rk__actor_get(rt, found)))
        return RK_ENOACTOR;
    if (st == RK_OK)
        *id = found;
    return st;
}

rk_status rk_lookup_all(rk_runtime *rt, const char *pattern, rk_registry_entry *out, size_t cap, size_t *total)
{
    size_t n, kept = 0;
    rk_status st;
    if (!rt || !total || (cap > 0 && !out))
        return RK_EINVAL;
    st = rk_registry_find(rt->registry, pattern, out, cap, total);
    if (st != RK_OK && st != RK_E2BIG)
        return st;
    /* Drop names whose launch is still in progress (at most one: launches
     * are serialised), as rk_lookup does. */
    n = *total < cap ? *total : cap;
    for (size_t i = 0; i < n; i++)
        if (rk__actor_get(rt, out[i].actor))
            out[kept++] = out[i];
    *total -= n - kept;
    return st;
}

rk_status rk_actor_state(rk_runtime *rt, rk_actor_id id, rk_lifecycle_state *state)
{
    rk__actor *a;
    if (!rt || !state)
        return RK_EINVAL;
    a = rk__actor_get(rt, id);
    if (!a)
        return RK_ENOACTOR;
    if (rk__enter(rt) != RK_OK)
        return RK_ESHUTDOWN;
    *state = rt->ops->actor_state(rt, a);
    rk__leave(rt);
    return RK_OK;
}

rk_status rk_actor_control(rk_runtime *rt, rk_actor_id id, rk_control *out)
{
    rk__actor *a;
    if (!rt || !out)
        return RK_EINVAL;
    a = rk__actor_get(rt, id);
    if (!a)
        return RK_ENOACTOR;
    if (rk__enter(rt) != RK_OK)
        return RK_ESHUTDOWN;
    rk_status st = rt->ops->actor_control(rt, a, out);
    rk__leave(rt);
    /* The core knows the supervisor tree; a backend may not. */
    rk_actor_id parent = __atomic_load_n(&a->sup_parent, __ATOMIC_ACQUIRE);
    if (st == RK_OK && parent != RK_ACTOR_NONE)
        out->parent = parent;
    return st;
}

rk_status rk_actor_metrics_get(rk_runtime *rt, rk_actor_id id, rk_actor_metrics *out)
{
    rk_control c;
    rk_status st;
    if (!out)
        return RK_EINVAL;
    st = rk_actor_control(rt, id, &c);
    if (st != RK_OK)
        return st;
    out->msgs_in = c.msgs_in;
    out->msgs_out = c.msgs_out;
    out->errors = c.errors;
    out->dead_letters = c.dead_letters;
    out->queue_depth = c.inbox_tail - c.inbox_head;
    out->restarts = c.restarts;
    out->generation = c.generation;
    out->state = (rk_lifecycle_state)c.state;
    return RK_OK;
}

/* The current generation, only needed when a sender names one. */
static uint32_t rk__generation(rk_runtime *rt, rk__actor *a)
{
    rk_control c;
    return rt->ops->actor_control(rt, a, &c) == RK_OK ? c.generation : 0;
}

rk_status rk__route(rk_runtime *rt, rk_msg *m, rk__actor **dst_out)
{
    rk_status st = rk__route_check(rt, m, dst_out);
    if (st == RK_OK)
        rk_hlc_now(&rt->hlc, &m->hlc);
    return st;
}

rk_status rk__route_check(rk_runtime *rt, rk_msg *m, rk__actor **dst_out)
{
    rk__actor *dst = NULL, *src;
    rk_lifecycle_state s;
    rk_status st;

    /* Once shutdown has begun the host's sends are refused; what handlers
     * send goes on until the backend stops, as on CUDA, so that the drain
     * also runs what the queued messages lead to. */
    if (!__atomic_load_n(&rt->accepting, __ATOMIC_ACQUIRE) && m->src == RK_ACTOR_HOST)
        return RK_ESHUTDOWN;
    /* Checked as the sender meant it: the backend chooses inline or by
     * reference afterwards, so only the overall limit applies here. */
    m->flags &= ~(uint32_t)RK_MSG_F_BYREF;
    m->ref = 0;
    st = rk_msg_validate(m, rt->opt.max_payload, rt->opt.max_payload);
    if (st != RK_OK)
        return st;
    if (m->dst != RK_ACTOR_HOST) {
        dst = rk__actor_get(rt, m->dst);
        if (!dst)
            return RK_ENOACTOR;
        if (m->tenant != dst->tenant) {
            rk__tenant_refuse_cross(rt, m, dst); /* counted and reported */
            return RK_ETENANT;
        }
        s = rt->ops->actor_state(rt, dst);
        if (s == RK_FAILED)
            return RK_EFAILED;
        if (!rk_lifecycle_accepts(s))
            return RK_ESTATE;
        if (m->dst_gen != 0 && m->dst_gen != rk__generation(rt, dst))
            return RK_ESTALE;
        st = rk__tenant_charge(rt, dst->tenant_rec, m);
    } else {
        /* To the host: the sending actor's tenant pays for it. */
        src = rk__actor_get(rt, m->src);
        st = src ? rk__tenant_charge(rt, src->tenant_rec, m) : RK_OK;
    }
    if (st != RK_OK)
        return st; /* the rate quota, last: a refusal above costs no token */
    *dst_out = dst;
    return RK_OK;
}
