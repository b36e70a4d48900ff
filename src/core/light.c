/* Light actors, the host's side (ringkernel/light.h): argument checks, ids,
 * and the wait of rk_light_recv. The backend runs the actors
 * (rk__light_ops). */
#include <string.h>

#include "core/runtime_internal.h"
#include "ringkernel/light.cuh"

rk_status rk__light_pack(uint32_t type, const void *payload, uint32_t len, uint64_t words[RK_LIGHT_PAYLOAD / 8])
{
    if ((len && !payload) || type >= RK_MSG_TYPE_SYSTEM)
        return RK_EINVAL;
    if (len > RK_LIGHT_PAYLOAD)
        return RK_E2BIG;
    memset(words, 0, RK_LIGHT_PAYLOAD);
    if (len)
        memcpy(words, payload, len);
    return RK_OK;
}

rk_status rk_light_spawn(rk_runtime *rt, const rk_light_type *t, uint32_t n, const void *initial_state,
                         rk_actor_id *first)
{
    uint32_t at;
    rk_status st;
    if (!rt || !t || !n || !first)
        return RK_EINVAL;
    if (!rt->opt.light.actors)
        return RK_ENOTSUP;
    if (rt->backend == RK_BACKEND_CPU && !t->handle)
        return RK_EINVAL;
    st = rk__enter(rt);
    if (st != RK_OK)
        return st;
    /* rt->lock: one spawn at a time, so ids go out in order. */
    pthread_mutex_lock(&rt->lock);
    at = __atomic_load_n(&rt->light_spawned, __ATOMIC_RELAXED);
    if (n > rt->opt.light.actors - at) {
        st = RK_ENOMEM;
    } else {
        st = rt->ops->light->spawn(rt, t, at, n, initial_state);
        if (st == RK_OK) {
            /* Release: a host thread that sees the ids (rk_light_post's
             * acquire) sees them set up. */
            __atomic_store_n(&rt->light_spawned, at + n, __ATOMIC_RELEASE);
            *first = rk_light_id(at);
        }
    }
    pthread_mutex_unlock(&rt->lock);
    rk__leave(rt);
    return st;
}

rk_status rk_light_post(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len)
{
    uint64_t words[RK_LIGHT_PAYLOAD / 8];
    rk_status st;
    if (!rt)
        return RK_EINVAL;
    st = rk__light_pack(type, payload, len, words);
    if (st != RK_OK)
        return st;
    st = rk__enter(rt);
    if (st != RK_OK)
        return st;
    if (!rk_is_light(dst) || dst - RK_LIGHT_ID_BASE >= __atomic_load_n(&rt->light_spawned, __ATOMIC_ACQUIRE))
        st = RK_ENOACTOR;
    else
        st = rt->ops->light->post(rt, dst - RK_LIGHT_ID_BASE, type, words);
    rk__leave(rt);
    return st;
}

/* One message of the homes' rings to the host, with the runtime's ids;
 * RK_EEMPTY when none is there. */
static rk_status rk__light_take(rk_light_port *p, rk_lmsg *out)
{
    rk_light_msg m;
    rk_status st = rk_light_port_recv(p, &m);
    if (st != RK_OK)
        return st;
    out->src = rk_light_public(m.src);
    out->type = m.type;
    memcpy(out->data, m.w, sizeof out->data);
    return RK_OK;
}

rk_status rk_light_recv(rk_runtime *rt, rk_lmsg *out, uint64_t timeout_ns)
{
    uint64_t deadline, nap = 0;
    uint32_t looks = 0;
    rk_status st;
    if (!rt || !out)
        return RK_EINVAL;
    if (!rt->opt.light.actors)
        return RK_ENOTSUP;
    deadline = rk__deadline(timeout_ns);
    for (;;) {
        st = rk__enter(rt);
        if (st != RK_OK)
            return st;
        pthread_mutex_lock(&rt->light_lock);
        st = rk__light_take(rt->ops->light->port(rt), out);
        pthread_mutex_unlock(&rt->light_lock);
        rk__leave(rt);
        if (st != RK_EEMPTY)
            return st;
        if (timeout_ns == 0 || rk__now_ns() >= deadline)
            return RK_ETIMEDOUT;
        /* Spin a while (a reply comes within microseconds), then nap,
         * doubling up to 50 us: the messages come by memory, not a wakeup. */
        if (++looks < 2000) {
            rk__cpu_relax();
            continue;
        }
        nap = nap ? (nap < 50000 ? 2 * nap : nap) : 1000;
        rk__sleep_ns(nap);
    }
}
