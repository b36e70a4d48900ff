/* Publish/subscribe (ringkernel/pubsub.h).
 *
 * Subscriptions live in the runtime's registry; a publish asks it for the
 * topic's subscribers and sends each a copy through the path of a direct
 * send - rk__route, then the backend's send (the host) or rk__ctx_emit (a
 * CPU handler) - so tenancy, state, full queues and flow accounting apply
 * per copy. A refused copy is dead-lettered with its reason: the publisher
 * learns the counts, and nothing is lost without a trace. */
#include <stdlib.h>
#include <string.h>

#include "core/runtime_internal.h"
#include "ringkernel/pubsub.h"

#define RK__PUB_STACK 64 /* subscribers looked up without allocating */

/* ---- subscribing ---------------------------------------------------------------- */

rk_status rk_subscribe(rk_runtime *rt, rk_actor_id id, const char *pattern)
{
    rk__actor *a;
    rk_status st;
    if (!rt)
        return RK_EINVAL;
    st = rk_topic_check_pattern(pattern);
    if (st != RK_OK)
        return st;
    a = rk__actor_get(rt, id);
    if (!a)
        return RK_ENOACTOR;
    /* Under rt->lock, where terminations retire the actor's subscriptions:
     * the state cannot turn Terminated between the check and the insert. */
    pthread_mutex_lock(&rt->lock);
    if (rk__is_shut_down(rt))
        st = RK_ESHUTDOWN;
    else if (rt->ops->actor_state(rt, a) == RK_TERMINATED)
        st = RK_ESTATE;
    else
        st = rk_registry_subscribe(rt->registry, pattern, id);
    pthread_mutex_unlock(&rt->lock);
    return st;
}

rk_status rk_unsubscribe(rk_runtime *rt, rk_actor_id id, const char *pattern)
{
    if (!rt)
        return RK_EINVAL;
    if (!rk__actor_get(rt, id))
        return RK_ENOACTOR;
    return rk_registry_unsubscribe(rt->registry, pattern, id);
}

rk_status rk_ctx_subscribe(rk_ctx *ctx, const char *pattern)
{
    /* The running actor is not Terminated, and a termination retires it
     * only after its drain, so after this call: no rt->lock needed (a
     * handler must not take it - a command holding it may wait for us). */
    if (!ctx)
        return RK_EINVAL;
    return rk_registry_subscribe(rk__ctx_runtime(ctx)->registry, pattern, rk_self(ctx));
}

rk_status rk_ctx_unsubscribe(rk_ctx *ctx, const char *pattern)
{
    if (!ctx)
        return RK_EINVAL;
    return rk_registry_unsubscribe(rk__ctx_runtime(ctx)->registry, pattern, rk_self(ctx));
}

/* ---- publishing ---------------------------------------------------------------- */

/* Who publishes: the host (ctx NULL), on behalf of `tmpl`'s tenant or, with
 * any_tenant, of each subscriber's own; or a CPU handler. */
typedef struct rk__publisher {
    rk_runtime *rt;
    rk_ctx *ctx;
    int any_tenant;
} rk__publisher;

/* The topic's subscribers into *subs: `stack` if they fit, else a buffer
 * the caller frees. *n gets how many. */
static rk_status rk__subscribers(rk_runtime *rt, const char *topic, rk_actor_id *stack, rk_actor_id **subs,
                                 size_t *n)
{
    size_t cap = RK__PUB_STACK;
    rk_status st;
    *subs = stack;
    st = rk_registry_subscribers(rt->registry, topic, stack, cap, n);
    /* The set may grow between the sizing and the copy: try again. */
    while (st == RK_E2BIG) {
        if (*subs != stack)
            free(*subs);
        cap = *n;
        *subs = malloc(cap * sizeof **subs);
        if (!*subs) {
            *subs = stack;
            return RK_ENOMEM;
        }
        st = rk_registry_subscribers(rt->registry, topic, *subs, cap, n);
    }
    return st;
}

/* Sends one copy; the status is the copy's. */
static rk_status rk__publish_one(const rk__publisher *p, rk_msg *m, const void *payload)
{
    rk__actor *dst;
    if (p->ctx)
        return rk__ctx_emit(p->ctx, m, payload);
    if (p->any_tenant) {
        dst = rk__actor_get(p->rt, m->dst);
        if (dst)
            m->tenant = dst->tenant;
    }
    return rk__dispatch(p->rt, m, payload, rk__deliver_host);
}

static rk_status rk__publish(const rk__publisher *p, const char *topic, const rk_msg *tmpl, const void *payload,
                             rk_publish_report *rep)
{
    rk_actor_id stack[RK__PUB_STACK], *subs;
    rk_publish_report r = {0, 0, 0, RK_OK};
    rk_msg check = *tmpl;
    size_t n = 0;
    rk_status st;

    if (rep)
        *rep = r;
    if (tmpl->len > 0 && !payload)
        return RK_EINVAL;
    if (tmpl->flags != 0)
        return RK_EINVAL; /* no request (one reply from many?), no reply, no by-reference header */
    /* Checked once, as rk__route would for each copy: a message no
     * subscriber could take is the publisher's error, not N dead letters. */
    st = rk_msg_validate(&check, p->rt->opt.max_payload, p->rt->opt.max_payload);
    if (st != RK_OK)
        return st;
    st = rk__subscribers(p->rt, topic, stack, &subs, &n);
    if (st != RK_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        rk_msg m = *tmpl;
        m.dst = subs[i];
        m.dst_gen = 0;
        st = rk__publish_one(p, &m, payload);
        if (st == RK_OK) {
            r.delivered++;
            continue;
        }
        r.refused++;
        if (r.first_refusal == RK_OK)
            r.first_refusal = st;
        rk__dead_letter(&p->rt->dead, &m, st);
    }
    if (subs != stack)
        free(subs);
    r.subscribers = (uint32_t)n;
    if (rep)
        *rep = r;
    return r.first_refusal;
}

/* The host's publish of `m`, inside the runtime's in-flight guard (see
 * rk__publisher for any_tenant). */
static rk_status rk__host_publish(rk_runtime *rt, int any_tenant, const char *topic, rk_msg *m,
                                  const void *payload, rk_publish_report *rep)
{
    rk__publisher p = {rt, NULL, any_tenant};
    rk_status st = rk__enter(rt);
    if (st != RK_OK)
        return st;
    m->src = RK_ACTOR_HOST;
    st = rk__publish(&p, topic, m, payload, rep);
    rk__leave(rt);
    return st;
}

rk_status rk_publish_msg(rk_runtime *rt, const char *topic, const rk_msg *hdr, const void *payload,
                         rk_publish_report *rep)
{
    rk_msg m;
    if (rep)
        memset(rep, 0, sizeof *rep);
    if (!rt || !hdr)
        return RK_EINVAL;
    m = *hdr;
    m.seq = 0;
    m.src_gen = 0;
    m.ref = 0;
    return rk__host_publish(rt, 0, topic, &m, payload, rep);
}

rk_status rk_publish(rk_runtime *rt, const char *topic, uint32_t type, const void *payload, uint32_t len,
                     rk_publish_report *rep)
{
    rk_msg m;
    if (rep)
        memset(rep, 0, sizeof *rep);
    if (!rt)
        return RK_EINVAL;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.len = len;
    return rk__host_publish(rt, 1, topic, &m, payload, rep);
}

rk_status rk_ctx_publish(rk_ctx *ctx, const char *topic, uint32_t type, const void *payload, uint32_t len,
                         rk_publish_report *rep)
{
    rk__publisher p;
    rk_msg m;
    if (rep)
        memset(rep, 0, sizeof *rep);
    if (!ctx)
        return RK_EINVAL;
    p = (rk__publisher){rk__ctx_runtime(ctx), ctx, 0};
    memset(&m, 0, sizeof m);
    m.type = type;
    m.len = len;
    /* src, src_gen and tenant: rk__ctx_emit sets them from the actor. */
    return rk__publish(&p, topic, &m, payload, rep);
}
