/* Actors: launch, lifecycle commands, lookup, introspection, routing. */
#include <stdlib.h>
#include <string.h>

#include "core/runtime_internal.h"

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

static rk__actor *rk__find_name(rk_runtime *rt, const char *name)
{
    uint32_t n = rk__actor_count(rt);
    for (uint32_t i = 0; i < n; i++)
        if (rt->actors[i].in_use && strcmp(rt->actors[i].name, name) == 0)
            return &rt->actors[i];
    return NULL;
}

/* Fills slot `a` from the options; the core keeps its own initial state. */
static rk_status rk__actor_fill(rk__actor *a, rk_actor_id id, const rk_actor_options *o)
{
    memset(a, 0, sizeof *a);
    a->id = id;
    strcpy(a->name, o->name);
    a->type = o->type;
    a->state_size = o->state_size;
    a->tenant = o->tenant;
    a->inbox_capacity = o->inbox_capacity;
    a->slot_size = o->slot_size;
    a->block_size = o->block_size;
    if (o->state_size == 0)
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
    else if (rk__find_name(rt, o->name))
        st = RK_EEXIST;
    else if (n == rt->opt.max_actors)
        st = RK_ENOMEM;
    if (st != RK_OK)
        goto out;
    a = &rt->actors[n];
    st = rk__actor_fill(a, n, o);
    if (st == RK_OK)
        st = rt->ops->actor_create(rt, a, rk__deadline(RK__COMMAND_TIMEOUT_NS));
    if (st != RK_OK) {
        free(a->initial_state);
        memset(a, 0, sizeof *a);
        goto out;
    }
    a->in_use = 1;
    /* Release: senders on other threads that see the new count see a
     * complete slot (rk__actor_count). */
    __atomic_store_n(&rt->n_actors, n + 1, __ATOMIC_RELEASE);
    *id = n;
out:
    pthread_mutex_unlock(&rt->lock);
    return st;
}

static rk_status rk__command(rk_runtime *rt, rk_actor_id id, rk_lifecycle_event ev)
{
    rk_status st;
    rk__actor *a;

    if (!rt)
        return RK_EINVAL;
    pthread_mutex_lock(&rt->lock);
    a = rk__actor_get(rt, id);
    if (!a)
        st = RK_ENOACTOR;
    else if (rk__is_shut_down(rt))
        st = RK_ESHUTDOWN;
    else
        st = rk_lifecycle_next(rt->ops->actor_state(rt, a), ev, NULL);
    if (st == RK_OK)
        st = rt->ops->actor_command(rt, a, ev, rk__deadline(RK__COMMAND_TIMEOUT_NS));
    pthread_mutex_unlock(&rt->lock);
    return st;
}

rk_status rk_activate(rk_runtime *rt, rk_actor_id id)
{
    return rk__command(rt, id, RK_EV_ACTIVATE);
}

rk_status rk_deactivate(rk_runtime *rt, rk_actor_id id)
{
    return rk__command(rt, id, RK_EV_DEACTIVATE);
}

rk_status rk_terminate(rk_runtime *rt, rk_actor_id id)
{
    return rk__command(rt, id, RK_EV_TERMINATE);
}

rk_status rk_restart(rk_runtime *rt, rk_actor_id id)
{
    return rk__command(rt, id, RK_EV_RESTART);
}

rk_status rk_lookup(rk_runtime *rt, const char *name, rk_actor_id *id)
{
    rk__actor *a;
    if (!rt || !name || !id)
        return RK_EINVAL;
    pthread_mutex_lock(&rt->lock);
    a = rk__find_name(rt, name);
    if (a)
        *id = a->id;
    pthread_mutex_unlock(&rt->lock);
    return a ? RK_OK : RK_ENOACTOR;
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
    rk__actor *dst = NULL;
    rk_lifecycle_state s;
    rk_status st;

    if (!__atomic_load_n(&rt->accepting, __ATOMIC_ACQUIRE))
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
        if (m->tenant != dst->tenant)
            return RK_ETENANT;
        s = rt->ops->actor_state(rt, dst);
        if (s == RK_FAILED)
            return RK_EFAILED;
        if (!rk_lifecycle_accepts(s))
            return RK_ESTATE;
        if (m->dst_gen != 0 && m->dst_gen != rk__generation(rt, dst))
            return RK_ESTALE;
    }
    rk_hlc_now(&rt->hlc, &m->hlc);
    *dst_out = dst;
    return RK_OK;
}
