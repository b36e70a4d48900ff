/* ringkernel CUDA backend: tenants' rate quotas on the GPU (tenant.h).
 *
 * Actors send to each other and to the host from the GPU, where the host's
 * token bucket cannot be reached: the host has no atomics on device memory,
 * and the GPU's system-scope atomics on pinned memory are not atomic with
 * the host's on most PCIe machines. So a tenant with a rate quota gets an
 * allowance in device memory (rk__gpu_rate, one of RK__GPU_RATES) that its
 * actors' sends take from (device.cuh: rk__gpu_rate_take), and the host's
 * bucket stays the only source of tokens: every millisecond the keeper
 * thread takes from the bucket what the allowance had room for at its last
 * top-up (at most the bucket's size), moves it there through the supervisor
 * block (which adds what fits under the same cap and says how much, and
 * how full the allowance is now), puts the rest back, and collects the
 * GPU's refusals for the tenant's counters. Host and GPU sends together so
 * stay within the rate, plus at most one bucket's worth held on the GPU.
 *
 * An actor learns its tenant's allowance when it is bound (the BIND
 * command) and, when the quota comes or goes later, from a command of its
 * own (RK__GPU_OP_RATED). Allowances are handed out under b->lock and
 * taken back when the quota is lifted. */
#include <string.h>
#include <time.h>

#include "core/tenant.h"
#include "cuda/cuda_internal.h"

#define RK__CUDA_RATE_TICK_NS 1000000ull  /* the keeper's period */
#define RK__CUDA_RATE_CMD_NS 100000000ull /* its commands' deadline */

uint32_t rk__cuda_rate_of(const rk__cuda *b, uint32_t tenant)
{
    for (uint32_t i = 0; i < RK__GPU_RATES; i++)
        if (b->rate_tenant[i] == tenant)
            return i + 1;
    return 0;
}

/* RK__GPU_OP_RATE (b->lock held, inside enter/leave). */
static rk_status rk__cuda_rate_cmd(rk_runtime *rt, uint32_t op, uint32_t i, uint64_t n, uint64_t cap, uint64_t *added,
                                   uint64_t *level, uint64_t *refused)
{
    rk__cuda *b = rt->backend_data;
    rk__gpu_cmd cmd;
    rk_status st;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = RK__GPU_OP_RATE;
    cmd.event = op;
    cmd.type = i;
    cmd.h2k_final = n;
    cmd.state = cap;
    st = rk__cuda_command(rt, &cmd, rk__deadline(RK__CUDA_RATE_CMD_NS), added);
    /* The acknowledgement was read with acquire; no other command can
     * reuse its slot while we hold b->lock. */
    if (st == RK_OK && level)
        *level = __atomic_load_n(&b->acks[cmd.ticket % RK__GPU_ACKS].value2, __ATOMIC_RELAXED);
    if (st == RK_OK && refused)
        *refused = __atomic_load_n(&b->acks[cmd.ticket % RK__GPU_ACKS].count, __ATOMIC_RELAXED);
    return st;
}

/* Tells every bound actor of `tenant` its allowance (i + 1, or 0). */
static void rk__cuda_rate_actors(rk_runtime *rt, uint32_t tenant, uint32_t rate)
{
    rk__cuda *b = rt->backend_data;
    for (uint32_t id = 0; id < b->max_actors; id++) {
        rk__cuda_actor *ca = b->actors[id];
        rk__gpu_cmd cmd;
        if (!ca || !ca->slot || rt->actors[id].tenant != tenant)
            continue;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = RK__GPU_OP_RATED;
        cmd.actor = id;
        cmd.slot = ca->slot;
        cmd.type = rate;
        (void)rk__cuda_command(rt, &cmd, rk__deadline(RK__CUDA_RATE_CMD_NS), NULL);
    }
}

/* One round of the keeper: every allowance topped up from its bucket. */
static void rk__cuda_rate_tick(rk_runtime *rt, rk__cuda *b)
{
    rk__tenant *who[RK__GPU_RATES];
    uint64_t refused[RK__GPU_RATES];
    uint32_t n = 0;
    pthread_mutex_lock(&b->lock);
    if (!__atomic_load_n(&b->dead, __ATOMIC_ACQUIRE) && rk__cuda_enter(b) == RK_OK) {
        for (uint32_t i = 0; i < RK__GPU_RATES; i++) {
            rk__tenant *t;
            uint64_t added = 0, lost = 0, level = b->rate_level[i];
            int64_t cap, take;
            if (b->rate_tenant[i] == RK__CUDA_NO_RATE || !(t = rk__tenant_find(rt, b->rate_tenant[i])))
                continue;
            cap = __atomic_load_n(&t->burst, __ATOMIC_RELAXED);
            /* What the allowance had room for at the last top-up (it only
             * went down since): taking more would leave the host's own
             * sends an empty bucket while the rest comes back. */
            take = rk__tenant_take(t, cap > (int64_t)level ? cap - (int64_t)level : 0);
            if (rk__cuda_rate_cmd(rt, RK__GPU_RATE_TOPUP, i, (uint64_t)take, (uint64_t)(cap > 0 ? cap : 0), &added,
                                  &level, &lost) != RK_OK) {
                added = lost = 0;
                level = b->rate_level[i];
            }
            b->rate_level[i] = level;
            if ((uint64_t)take > added)
                rk__tenant_refund(t, take - (int64_t)added);
            who[n] = t;
            refused[n++] = lost;
        }
        rk__cuda_leave(b);
    }
    pthread_mutex_unlock(&b->lock);
    /* Reported outside b->lock: an event takes the runtime's own locks. */
    for (uint32_t k = 0; k < n; k++)
        rk__tenant_rate_refused(rt, who[k], refused[k]);
}

static void *rk__cuda_keeper_main(void *arg)
{
    rk_runtime *rt = arg;
    rk__cuda *b = rt->backend_data;
    while (!__atomic_load_n(&b->keeper_stop, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, (long)RK__CUDA_RATE_TICK_NS};
        nanosleep(&ts, NULL);
        rk__cuda_rate_tick(rt, b);
    }
    return NULL;
}

void rk__cuda_rate_stop(rk__cuda *b)
{
    int started;
    pthread_mutex_lock(&b->lock);
    started = b->keeper_started;
    b->keeper_started = 0;
    __atomic_store_n(&b->keeper_stop, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&b->lock);
    if (started)
        pthread_join(b->keeper, NULL);
}

rk_status rk__cuda_tenant_rate(rk_runtime *rt, uint32_t tenant, int on)
{
    rk__cuda *b = rt->backend_data;
    uint32_t have, i;
    rk_status st = RK_OK;
    if (!b)
        return RK_OK;
    pthread_mutex_lock(&b->lock);
    if (!b->launched || b->stop_requested || __atomic_load_n(&b->keeper_stop, __ATOMIC_ACQUIRE)) {
        pthread_mutex_unlock(&b->lock); /* no kernel to tell: host sends only */
        return RK_OK;
    }
    st = rk__cuda_enter(b);
    if (st != RK_OK) {
        pthread_mutex_unlock(&b->lock);
        return st;
    }
    have = rk__cuda_rate_of(b, tenant);
    if (on) {
        i = have ? have - 1 : RK__GPU_RATES;
        for (uint32_t k = 0; !have && k < RK__GPU_RATES; k++)
            if (b->rate_tenant[k] == RK__CUDA_NO_RATE) {
                i = k;
                break;
            }
        if (i == RK__GPU_RATES)
            st = RK_ENOMEM;
        /* Empty until the keeper's next round fills it from the new bucket. */
        if (st == RK_OK)
            st = rk__cuda_rate_cmd(rt, RK__GPU_RATE_SET, i, 0, 0, NULL, NULL, NULL);
        if (st == RK_OK)
            b->rate_level[i] = 0;
        if (st == RK_OK && !have) {
            b->rate_tenant[i] = tenant;
            rk__cuda_rate_actors(rt, tenant, i + 1);
        }
        if (st == RK_OK && !b->keeper_started) {
            __atomic_store_n(&b->keeper_stop, 0, __ATOMIC_RELEASE);
            if (pthread_create(&b->keeper, NULL, rk__cuda_keeper_main, rt) == 0)
                b->keeper_started = 1;
            else
                st = RK_ENOMEM;
        }
    } else if (have) {
        rk__cuda_rate_actors(rt, tenant, 0);
        b->rate_tenant[have - 1] = RK__CUDA_NO_RATE;
    }
    rk__cuda_leave(b);
    pthread_mutex_unlock(&b->lock);
    return st;
}
