/* ringkernel internals: tenants (see ringkernel/tenant.h).
 *
 * Tenant records live in an open-addressing table that only grows (a record
 * is never removed or moved until the runtime is freed), so a lookup needs
 * no lock and an actor keeps a pointer to its tenant's record for the send
 * path. The send path reads one word of the record - the rate quota's
 * interval - and does the token-bucket step only when it is non-zero: then
 * one compare-and-swap on the token count, and a clock read only when the
 * bucket is empty (the refill is lazy). */
#ifndef RK_TENANT_H
#define RK_TENANT_H

#include <pthread.h>
#include <stdint.h>

#include "ringkernel/ring.h"
#include "ringkernel/ringkernel.h"

typedef struct rk__tenant {
    /* line 0: read by every send; written only by rk_tenant_set_quota */
    uint32_t id;
    uint32_t pad0_;
    uint64_t interval_ns; /* atomic: ns per token at the quota rate; 0 = no rate quota */
    int64_t burst;        /* atomic: the bucket's size in tokens */
    unsigned char pad1_[RK_RING_LINE - 24];
    /* line 1: the bucket, written by each send of a limited tenant */
    int64_t tokens;   /* atomic: messages that may go now */
    uint64_t last_ns; /* atomic: tokens are earned from here on */
    unsigned char pad2_[RK_RING_LINE - 16];
    /* line 2: slow paths. Quotas and holdings under rt->tenants.lock,
     * refusal counters atomic. */
    rk_tenant_quota quota;
    uint32_t actors;
    uint64_t queue_bytes;
    uint64_t refused_cross_out, refused_cross_in, refused_rate, refused_quota, refused_pressure, refused_full;
} rk__tenant;

typedef struct rk__tenants {
    pthread_mutex_t lock;  /* inserts, quotas, holdings */
    pthread_mutex_t rate_lock; /* one rate quota change at a time (rk_tenant_set_quota), taken first */
    rk__tenant **table;    /* slots are set once (release) and never cleared */
    uint32_t mask;         /* table size - 1 */
    uint32_t count, limit; /* records, and how many the table may hold */
    uint64_t cross_refused, cross_unattributed, rate_refused, quota_refused, cross_lost; /* atomic */
} rk__tenants;

struct rk__actor;

rk_status rk__tenants_init(rk_runtime *rt);
void rk__tenants_destroy(rk_runtime *rt);

/* The record of `tenant`, or NULL if the runtime does not know it. Lock-free. */
rk__tenant *rk__tenant_find(rk_runtime *rt, uint32_t tenant);

/* Launch: checks the tenant's quotas and memory pressure for actor `a`
 * (filled, not yet created), then charges them and sets a->tenant_rec.
 * RK_EQUOTA, RK_EPRESSURE, RK_ENOMEM. Caller holds rt->lock. */
rk_status rk__tenant_admit(rk_runtime *rt, struct rk__actor *a);

/* Undoes rk__tenant_admit for an actor whose creation failed. */
void rk__tenant_unadmit(rk_runtime *rt, struct rk__actor *a);

/* Counts and reports a send refused because m->tenant differs from the
 * receiver's tenant. */
void rk__tenant_refuse_cross(rk_runtime *rt, const rk_msg *m, const struct rk__actor *dst);
/* n refusals across tenants a backend could not report (tenant.h: cross_lost). */
void rk__tenant_cross_lost(rk_runtime *rt, uint64_t n);

/* The token-bucket step of a rate-limited tenant: takes a token, refilling
 * the bucket from the clock when it is empty; RK_ERATE (counted and
 * reported) when there is none. */
rk_status rk__tenant_charge_slow(rk_runtime *rt, rk__tenant *t, const rk_msg *m);

/* Tokens for sends the host does not see (the CUDA backend's actors send
 * on the GPU from an allowance the backend tops up from here): takes up to
 * `max` tokens at once, refilling from the clock first; returns how many (0
 * without a rate quota or with an empty bucket). */
int64_t rk__tenant_take(rk__tenant *t, int64_t max);
/* n sends of t's actors refused RK_ERATE where they ran (a GPU): counted for
 * the tenant and the runtime, and reported as one RK_EVENT_QUOTA event. */
void rk__tenant_rate_refused(rk_runtime *rt, rk__tenant *t, uint64_t n);

/* The rate quota on the send path: one relaxed load unless limited. */
static inline rk_status rk__tenant_charge(rk_runtime *rt, rk__tenant *t, const rk_msg *m)
{
    if (__builtin_expect(__atomic_load_n(&t->interval_ns, __ATOMIC_RELAXED) == 0, 1))
        return RK_OK;
    return rk__tenant_charge_slow(rt, t, m);
}

/* A message that passed rk__route was then refused by the queue (`st`):
 * gives its rate token back and counts a full queue against the tenant. */
void rk__send_refused(rk_runtime *rt, const rk_msg *m, struct rk__actor *dst, rk_status st);

#endif
