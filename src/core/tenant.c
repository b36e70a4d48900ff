/* Tenants: the record table, launch quotas, the rate quota, isolation
 * counters and per-tenant metrics.
 *
 * The rate quota is a token bucket with a lazy refill: a message takes a
 * token with one compare-and-swap; only when the bucket is empty does a
 * sender read the clock and add the tokens earned since last_ns (one per
 * interval, at most `burst` in the bucket). last_ns moves by whole
 * intervals, so no fraction of a token is lost between refills. Nothing at
 * all happens for a tenant without a rate quota. */
#include <stdlib.h>
#include <string.h>

#include "core/runtime_internal.h"

#define RK__MAX_RATE 1000000000ull /* one message per ns: the clock's resolution */

static uint32_t rk__tenant_hash(uint32_t id)
{
    return (uint32_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 32);
}

rk_status rk__tenants_init(rk_runtime *rt)
{
    rk__tenants *ts = &rt->tenants;
    uint32_t size = 2;
    ts->limit = rt->opt.max_actors + RK_TENANT_EXTRA;
    while (size < 2 * ts->limit) /* at most half full: probes stay short and end */
        size *= 2;
    ts->table = calloc(size, sizeof *ts->table);
    if (!ts->table)
        return RK_ENOMEM;
    if (pthread_mutex_init(&ts->lock, NULL) != 0) {
        free(ts->table);
        ts->table = NULL;
        return RK_ENOMEM;
    }
    if (pthread_mutex_init(&ts->rate_lock, NULL) != 0) {
        pthread_mutex_destroy(&ts->lock);
        free(ts->table);
        ts->table = NULL;
        return RK_ENOMEM;
    }
    ts->mask = size - 1;
    return RK_OK;
}

void rk__tenants_destroy(rk_runtime *rt)
{
    rk__tenants *ts = &rt->tenants;
    if (!ts->table)
        return;
    for (uint32_t i = 0; i <= ts->mask; i++)
        free(ts->table[i]);
    free(ts->table);
    ts->table = NULL;
    pthread_mutex_destroy(&ts->lock);
    pthread_mutex_destroy(&ts->rate_lock);
}

rk__tenant *rk__tenant_find(rk_runtime *rt, uint32_t tenant)
{
    rk__tenants *ts = &rt->tenants;
    for (uint32_t i = rk__tenant_hash(tenant) & ts->mask;; i = (i + 1) & ts->mask) {
        /* Acquire: pairs with the release in rk__tenant_get, so the record's
         * contents are visible along with its pointer. */
        rk__tenant *t = __atomic_load_n(&ts->table[i], __ATOMIC_ACQUIRE);
        if (!t || t->id == tenant)
            return t;
    }
}

/* Under ts->lock: the record of `tenant`, made if needed; NULL when the
 * table holds its limit or memory runs out. */
static rk__tenant *rk__tenant_get(rk_runtime *rt, uint32_t tenant)
{
    rk__tenants *ts = &rt->tenants;
    rk__tenant *t = rk__tenant_find(rt, tenant);
    uint32_t i;
    if (t || ts->count == ts->limit)
        return t;
    t = aligned_alloc(RK_RING_LINE, (sizeof *t + RK_RING_LINE - 1) / RK_RING_LINE * RK_RING_LINE);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->id = tenant;
    rk_tenant_quota_init(&t->quota);
    for (i = rk__tenant_hash(tenant) & ts->mask; ts->table[i]; i = (i + 1) & ts->mask)
        ;
    __atomic_store_n(&ts->table[i], t, __ATOMIC_RELEASE);
    ts->count++;
    return t;
}

static void rk__count(uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static uint64_t rk__load(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* ---- launch --------------------------------------------------------------------- */

static uint64_t rk__inbox_bytes(const rk__actor *a)
{
    return (uint64_t)a->inbox_capacity * a->slot_size;
}

/* Under ts->lock: whether one more actor like `a` stays within the quotas. */
static int rk__within_quota(const rk__tenant *t, const rk__actor *a)
{
    if (t->quota.max_actors && t->actors >= t->quota.max_actors)
        return 0;
    if (t->quota.max_queue_bytes && t->queue_bytes + rk__inbox_bytes(a) > t->quota.max_queue_bytes)
        return 0;
    return 1;
}

rk_status rk__tenant_admit(rk_runtime *rt, rk__actor *a)
{
    rk__tenants *ts = &rt->tenants;
    uint64_t ring = rk_ring_bytes(a->inbox_capacity, a->slot_size);
    uint64_t state = 2ull * a->state_size; /* the actor's state and the core's initial copy */
    rk_status st = RK_OK;
    rk__tenant *t;

    pthread_mutex_lock(&ts->lock);
    t = rk__tenant_get(rt, a->tenant);
    if (!t) {
        st = RK_ENOMEM;
    } else if (!rk__within_quota(t, a)) {
        st = RK_EQUOTA;
        rk__count(&t->refused_quota);
        rk__count(&ts->quota_refused);
    } else {
        st = rk__mem_admit_actor(rt, ring, state);
        if (st == RK_EPRESSURE)
            rk__count(&t->refused_pressure);
    }
    if (st == RK_OK) {
        t->actors++;
        t->queue_bytes += rk__inbox_bytes(a);
        a->tenant_rec = t;
    }
    pthread_mutex_unlock(&ts->lock);
    if (st == RK_EQUOTA)
        rk__event_emit(rt, RK_EVENT_QUOTA, RK_ACTOR_NONE, 0, a->tenant, RK_EQUOTA);
    return st;
}

void rk__tenant_unadmit(rk_runtime *rt, rk__actor *a)
{
    rk__tenant *t = a->tenant_rec;
    if (!t)
        return;
    pthread_mutex_lock(&rt->tenants.lock);
    t->actors--;
    t->queue_bytes -= rk__inbox_bytes(a);
    pthread_mutex_unlock(&rt->tenants.lock);
    rk__mem_release_actor(rt, rk_ring_bytes(a->inbox_capacity, a->slot_size), 2ull * a->state_size);
    a->tenant_rec = NULL;
}

/* ---- sends ----------------------------------------------------------------------- */

/* The record of the tenant a message is sent as: the sending actor's, or,
 * for the host, the header's tenant if the runtime knows it. */
static rk__tenant *rk__sender_tenant(rk_runtime *rt, const rk_msg *m)
{
    if (m->src != RK_ACTOR_HOST) {
        rk__actor *s = rk__actor_get(rt, m->src);
        return s ? s->tenant_rec : NULL;
    }
    return rk__tenant_find(rt, m->tenant);
}

void rk__tenant_refuse_cross(rk_runtime *rt, const rk_msg *m, const rk__actor *dst)
{
    rk__tenant *from = rk__sender_tenant(rt, m);
    rk__count(&rt->tenants.cross_refused);
    rk__count(&dst->tenant_rec->refused_cross_in);
    if (from)
        rk__count(&from->refused_cross_out);
    else
        rk__count(&rt->tenants.cross_unattributed);
    rk__event_emit(rt, RK_EVENT_TENANT, dst->id, 0, m->tenant, (int64_t)dst->tenant);
}

void rk__tenant_cross_lost(rk_runtime *rt, uint64_t n)
{
    __atomic_fetch_add(&rt->tenants.cross_refused, n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&rt->tenants.cross_lost, n, __ATOMIC_RELAXED);
}

/* Adds the tokens earned since last_ns, capped at the burst. Returns 0 if
 * none were earned yet, 1 if the bucket may have tokens now (this thread's
 * refill, or another's that won the race). */
static int rk__tenant_refill(rk__tenant *t)
{
    uint64_t interval = __atomic_load_n(&t->interval_ns, __ATOMIC_RELAXED);
    int64_t burst = __atomic_load_n(&t->burst, __ATOMIC_RELAXED);
    uint64_t last = __atomic_load_n(&t->last_ns, __ATOMIC_RELAXED);
    uint64_t now = rk__now_ns(), earned;
    int64_t tok, next;

    if (interval == 0)
        return 1; /* the quota was lifted meanwhile */
    if (now <= last || now - last < interval)
        return 0;
    earned = (now - last) / interval;
    /* Claims the earnings: of the threads that saw the same last_ns, one
     * adds them. */
    if (!__atomic_compare_exchange_n(&t->last_ns, &last, last + earned * interval, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return 1;
    tok = __atomic_load_n(&t->tokens, __ATOMIC_RELAXED);
    do
        next = earned >= (uint64_t)burst || tok + (int64_t)earned > burst ? burst : tok + (int64_t)earned;
    while (!__atomic_compare_exchange_n(&t->tokens, &tok, next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return 1;
}

rk_status rk__tenant_charge_slow(rk_runtime *rt, rk__tenant *t, const rk_msg *m)
{
    int64_t tok;
    /* Acquire: pairs with the release that turns the quota on, so the
     * bucket read below is the one set up for it. Relaxed otherwise: the
     * bucket orders nothing but itself. */
    if (__atomic_load_n(&t->interval_ns, __ATOMIC_ACQUIRE) == 0)
        return RK_OK;
    tok = __atomic_load_n(&t->tokens, __ATOMIC_RELAXED);
    for (;;) {
        while (tok > 0)
            if (__atomic_compare_exchange_n(&t->tokens, &tok, tok - 1, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                return RK_OK;
        if (__atomic_load_n(&t->interval_ns, __ATOMIC_RELAXED) == 0)
            return RK_OK;
        if (!rk__tenant_refill(t))
            break;
        tok = __atomic_load_n(&t->tokens, __ATOMIC_RELAXED);
    }
    rk__count(&t->refused_rate);
    rk__count(&rt->tenants.rate_refused);
    rk__event_emit(rt, RK_EVENT_QUOTA, m->dst, m->dst_gen, t->id, RK_ERATE);
    return RK_ERATE;
}

int64_t rk__tenant_take(rk__tenant *t, int64_t max)
{
    int64_t tok;
    if (max <= 0 || __atomic_load_n(&t->interval_ns, __ATOMIC_ACQUIRE) == 0)
        return 0;
    (void)rk__tenant_refill(t);
    tok = __atomic_load_n(&t->tokens, __ATOMIC_RELAXED);
    while (tok > 0) {
        int64_t n = tok < max ? tok : max;
        if (__atomic_compare_exchange_n(&t->tokens, &tok, tok - n, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return n;
    }
    return 0;
}

void rk__tenant_rate_refused(rk_runtime *rt, rk__tenant *t, uint64_t n)
{
    if (n == 0)
        return;
    __atomic_fetch_add(&t->refused_rate, n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&rt->tenants.rate_refused, n, __ATOMIC_RELAXED);
    rk__event_emit(rt, RK_EVENT_QUOTA, RK_ACTOR_NONE, 0, t->id, RK_ERATE);
}

void rk__send_refused(rk_runtime *rt, const rk_msg *m, rk__actor *dst, rk_status st)
{
    rk__tenant *t = dst ? dst->tenant_rec : rk__sender_tenant(rt, m);
    int64_t burst, tok;
    if (!t)
        return;
    if (st == RK_EFULL && dst)
        rk__count(&t->refused_full);
    if (__atomic_load_n(&t->interval_ns, __ATOMIC_RELAXED) == 0)
        return;
    /* The message was not sent: its token goes back, up to the burst. */
    burst = __atomic_load_n(&t->burst, __ATOMIC_RELAXED);
    tok = __atomic_load_n(&t->tokens, __ATOMIC_RELAXED);
    while (tok < burst &&
           !__atomic_compare_exchange_n(&t->tokens, &tok, tok + 1, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* ---- public API -------------------------------------------------------------------- */

void rk_tenant_quota_init(rk_tenant_quota *q)
{
    if (q)
        memset(q, 0, sizeof *q);
}

/* Sets t's quota and a full bucket (rt->tenants.lock held). */
static void rk__tenant_apply(rk__tenant *t, const rk_tenant_quota *q, uint64_t interval, int64_t burst)
{
    t->quota = *q;
    /* Off first, so no sender mixes the old rate with the new bucket;
     * then a full bucket, earning from now; then on. */
    __atomic_store_n(&t->interval_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->burst, burst, __ATOMIC_RELAXED);
    __atomic_store_n(&t->tokens, burst, __ATOMIC_RELAXED);
    __atomic_store_n(&t->last_ns, rk__now_ns(), __ATOMIC_RELAXED);
    __atomic_store_n(&t->interval_ns, interval, __ATOMIC_RELEASE);
}

rk_status rk_tenant_set_quota(rk_runtime *rt, uint32_t tenant, const rk_tenant_quota *q)
{
    uint64_t interval = 0, old_interval = 0;
    int64_t burst = 0, old_burst = 0;
    rk_tenant_quota old;
    rk__tenant *t;
    rk_status st = RK_OK;
    int backend;

    if (!rt || !q || q->max_msgs_per_s > RK__MAX_RATE)
        return RK_EINVAL;
    if (q->max_msgs_per_s) {
        interval = RK__MAX_RATE / q->max_msgs_per_s;
        burst = q->burst ? (int64_t)q->burst : (int64_t)(q->max_msgs_per_s / 10);
        if (burst < 1)
            burst = 1;
    }
    /* Where actors send without the host (a GPU), the backend charges
     * those sends to this bucket too (runtime_internal.h: tenant_rate):
     * only while the runtime runs, and one quota change at a time, so the
     * host's record and the backend never disagree. A rate comes to the
     * record first (the backend's allowance fills from the bucket), and
     * goes from the backend first. */
    {
        /* Neither the old quota nor the new has a rate: nothing to tell. */
        rk__tenant *was = rk__tenant_find(rt, tenant);
        const int rated = was && __atomic_load_n(&was->interval_ns, __ATOMIC_RELAXED) != 0;
        backend = rt->ops->tenant_rate && (interval || rated) && rk__enter(rt) == RK_OK;
    }
    if (backend)
        pthread_mutex_lock(&rt->tenants.rate_lock);
    if (backend && !interval)
        st = rt->ops->tenant_rate(rt, tenant, 0);
    if (st == RK_OK) {
        pthread_mutex_lock(&rt->tenants.lock);
        t = rk__tenant_get(rt, tenant);
        if (t) {
            old = t->quota;
            old_interval = __atomic_load_n(&t->interval_ns, __ATOMIC_RELAXED);
            old_burst = __atomic_load_n(&t->burst, __ATOMIC_RELAXED);
            rk__tenant_apply(t, q, interval, burst);
        }
        pthread_mutex_unlock(&rt->tenants.lock);
        st = t ? RK_OK : RK_ENOMEM;
        if (st == RK_OK && backend && interval) {
            st = rt->ops->tenant_rate(rt, tenant, 1);
            if (st != RK_OK) { /* the backend cannot limit it: the quota stays as it was */
                pthread_mutex_lock(&rt->tenants.lock);
                rk__tenant_apply(t, &old, old_interval, old_burst);
                pthread_mutex_unlock(&rt->tenants.lock);
            }
        }
    }
    if (backend) {
        pthread_mutex_unlock(&rt->tenants.rate_lock);
        rk__leave(rt);
    }
    return st;
}

rk_status rk_tenant_get_quota(rk_runtime *rt, uint32_t tenant, rk_tenant_quota *q)
{
    rk__tenant *t;
    if (!rt || !q)
        return RK_EINVAL;
    t = rk__tenant_find(rt, tenant);
    if (!t)
        return RK_ENOTFOUND;
    pthread_mutex_lock(&rt->tenants.lock);
    *q = t->quota;
    pthread_mutex_unlock(&rt->tenants.lock);
    return RK_OK;
}

/* Adds up the control blocks of the tenant's actors. */
static rk_status rk__tenant_actor_sums(rk_runtime *rt, uint32_t tenant, rk_tenant_metrics *out)
{
    if (rk__enter(rt) != RK_OK)
        return RK_ESHUTDOWN;
    for (uint32_t i = 0; i < rk__actor_count(rt); i++) {
        rk__actor *a = &rt->actors[i];
        rk_control c;
        if (!a->in_use || a->tenant != tenant || rt->ops->actor_control(rt, a, &c) != RK_OK)
            continue;
        out->msgs_in += c.msgs_in;
        out->msgs_out += c.msgs_out;
        out->queue_depth += c.inbox_tail - c.inbox_head;
    }
    rk__leave(rt);
    return RK_OK;
}

rk_status rk_tenant_metrics_get(rk_runtime *rt, uint32_t tenant, rk_tenant_metrics *out)
{
    rk__tenant *t;
    if (!rt || !out)
        return RK_EINVAL;
    t = rk__tenant_find(rt, tenant);
    if (!t)
        return RK_ENOTFOUND;
    rk__collect(rt); /* what a device refused and has reported */
    memset(out, 0, sizeof *out);
    out->tenant = tenant;
    pthread_mutex_lock(&rt->tenants.lock);
    out->actors = t->actors;
    out->queue_bytes = t->queue_bytes;
    pthread_mutex_unlock(&rt->tenants.lock);
    out->refused_cross_out = rk__load(&t->refused_cross_out);
    out->refused_cross_in = rk__load(&t->refused_cross_in);
    out->refused_rate = rk__load(&t->refused_rate);
    out->refused_quota = rk__load(&t->refused_quota);
    out->refused_pressure = rk__load(&t->refused_pressure);
    out->refused_full = rk__load(&t->refused_full);
    return rk__tenant_actor_sums(rt, tenant, out);
}

rk_status rk_tenant_list(rk_runtime *rt, uint32_t *ids, uint32_t cap, uint32_t *total)
{
    uint32_t n = 0;
    if (!rt || !total || (cap > 0 && !ids))
        return RK_EINVAL;
    pthread_mutex_lock(&rt->tenants.lock);
    for (uint32_t i = 0; i <= rt->tenants.mask; i++) {
        rk__tenant *t = rt->tenants.table[i];
        if (!t)
            continue;
        if (n < cap)
            ids[n] = t->id;
        n++;
    }
    pthread_mutex_unlock(&rt->tenants.lock);
    *total = n;
    return n > cap ? RK_E2BIG : RK_OK;
}

rk_status rk_tenant_stats_get(rk_runtime *rt, rk_tenant_stats *out)
{
    if (!rt || !out)
        return RK_EINVAL;
    memset(out, 0, sizeof *out);
    rk__collect(rt); /* what a device refused and has reported: counted first */
    out->cross_lost = rk__load(&rt->tenants.cross_lost);
    out->cross_refused = rk__load(&rt->tenants.cross_refused);
    out->cross_unattributed = rk__load(&rt->tenants.cross_unattributed);
    out->rate_refused = rk__load(&rt->tenants.rate_refused);
    out->quota_refused = rk__load(&rt->tenants.quota_refused);
    pthread_mutex_lock(&rt->tenants.lock);
    out->tenants = rt->tenants.count;
    pthread_mutex_unlock(&rt->tenants.lock);
    return RK_OK;
}
