/* ringkernel CUDA backend: tenants' rate quotas on the GPU (tenant.h).
 *
 * Actors send to each other and to the host from the GPU, where the host's
 * token bucket cannot be reached: the host has no atomics on device memory,
 * and the GPU's system-scope atomics on pinned memory are not atomic with
 * the host's on most PCIe machines. So a tenant with a rate quota gets an
 * allowance (device.cuh: rk__gpu_rate, one of RK__GPU_RATES): the host
 * grants tokens by raising a running total in pinned memory that only it
 * writes, the GPU's senders count what they take in device memory, and a
 * send may go while taken stays below granted. The host's bucket stays the
 * only source of tokens: every millisecond the keeper thread reads what was
 * taken and refused (one copy of the allowances), takes from the bucket
 * what the allowance has room for (up to rk__cuda_rate_cap: the larger of
 * the bucket's size and two milliseconds at the rate), raises the grant by
 * it, and counts the refusals for the tenant. Host and GPU sends together
 * so stay within the rate, plus what the allowance holds. The bucket holds
 * at most `burst`, so the GPU reaches the rate only with a burst of at
 * least a millisecond's worth (the default, a tenth of a second, is). No
 * command and no lock passes between the two sides: neither ever waits for
 * the other, and the keeper never takes b->lock (lifecycle commands,
 * drains and checkpoints hold it for long) - only rate_lock, which others
 * hold just to change the slot table - and copies on a stream of its own.
 *
 * Slots change under b->lock and rate_lock (bound actors learn theirs
 * through RK__GPU_OP_RATED, new ones in their BIND). A lifted quota's slot
 * is handed out again only once every actor of the tenant said it let go;
 * one busy in a long handler (a RATED command waits for the next message
 * boundary) leaves the slot pending, asked again at each later quota change,
 * so that no actor can spend another tenant's tokens. */
#include <string.h>
#include <time.h>

#include "core/tenant.h"
#include "cuda/cuda_internal.h"

#define RK__CUDA_RATE_TICK_NS 1000000ull  /* the keeper's period */
#define RK__CUDA_RATE_CMD_NS 100000000ull /* a RATED command's deadline */

uint32_t rk__cuda_rate_of(const rk__cuda *b, uint32_t tenant)
{
    for (uint32_t i = 0; i < RK__GPU_RATES; i++)
        if (b->rate_state[i] == RK__CUDA_RATE_USED && b->rate_tenant[i] == tenant)
            return i + 1;
    return 0;
}

/* Tokens the allowance of t may hold. */
static int64_t rk__cuda_rate_cap(rk__tenant *t)
{
    const int64_t burst = __atomic_load_n(&t->burst, __ATOMIC_RELAXED);
    const uint64_t interval = __atomic_load_n(&t->interval_ns, __ATOMIC_RELAXED);
    const int64_t two_ms = interval ? (int64_t)(2000000ull / interval) : 0;
    return burst > two_ms ? burst : two_ms;
}

/* One round of the keeper (rate_lock held): every allowance topped up from
 * its bucket. *who / *refused get the refusals to report. */
static uint32_t rk__cuda_rate_tick(rk_runtime *rt, rk__cuda *b, rk__tenant **who, uint64_t *refused)
{
    rk__gpu_rate seen[RK__GPU_RATES];
    uint32_t n = 0, i, any = 0;
    rk_status st;
    for (i = 0; i < RK__GPU_RATES; i++)
        any |= b->rate_state[i] == RK__CUDA_RATE_USED;
    if (!any || __atomic_load_n(&b->dead, __ATOMIC_ACQUIRE) || rk__cuda_enter(b) != RK_OK)
        return 0;
    /* A copy while the kernel runs: each word is whole; a count read a
     * moment early only delays a top-up by one round. */
    st = rk__cu_status(b->cu.cuMemcpyDtoHAsync(seen, b->rates_d, sizeof seen, b->keeper_stream));
    if (st == RK_OK)
        st = rk__cu_status(b->cu.cuStreamSynchronize(b->keeper_stream));
    rk__cuda_leave(b);
    if (st != RK_OK)
        return 0;
    for (i = 0; i < RK__GPU_RATES; i++) {
        rk__tenant *t;
        uint64_t granted = b->rate_granted[i];
        int64_t level, room, take;
        if (b->rate_state[i] != RK__CUDA_RATE_USED || !(t = rk__tenant_find(rt, b->rate_tenant[i])))
            continue;
        /* `used` only grows while below the grant (device.cuh), so the
         * level is never negative. */
        level = (int64_t)(granted - seen[i].used);
        room = rk__cuda_rate_cap(t) - (level > 0 ? level : 0);
        take = rk__tenant_take(t, room);
        if (take > 0)
            /* Release: nothing else is ordered by it, but the GPU reads it
             * with a plain system-scope load at any time. */
            __atomic_store_n(&b->rate_granted[i], granted + (uint64_t)take, __ATOMIC_RELEASE);
        if (seen[i].refused > b->rate_refused[i]) {
            who[n] = t;
            refused[n++] = seen[i].refused - b->rate_refused[i];
            b->rate_refused[i] = seen[i].refused;
        }
    }
    return n;
}

static void *rk__cuda_keeper_main(void *arg)
{
    rk_runtime *rt = arg;
    rk__cuda *b = rt->backend_data;
    rk__tenant *who[RK__GPU_RATES];
    uint64_t refused[RK__GPU_RATES];
    while (!__atomic_load_n(&b->keeper_stop, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, (long)RK__CUDA_RATE_TICK_NS};
        uint32_t n;
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&b->rate_lock);
        n = rk__cuda_rate_tick(rt, b, who, refused);
        pthread_mutex_unlock(&b->rate_lock);
        /* Reported outside the lock: an event takes the runtime's locks. */
        for (uint32_t k = 0; k < n; k++)
            rk__tenant_rate_refused(rt, who[k], refused[k]);
    }
    if (rk__cuda_enter(b) == RK_OK) {
        b->cu.cuStreamDestroy(b->keeper_stream);
        rk__cuda_leave(b);
    }
    return NULL;
}

void rk__cuda_rate_stop(rk__cuda *b)
{
    int started;
    pthread_mutex_lock(&b->rate_lock);
    started = b->keeper_started;
    b->keeper_started = 0;
    __atomic_store_n(&b->keeper_stop, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&b->rate_lock);
    if (started)
        pthread_join(b->keeper, NULL);
}

/* Tells every bound actor of `tenant` its allowance (i + 1, or 0), b->lock
 * held; returns how many did not acknowledge it. */
static uint32_t rk__cuda_rate_actors(rk_runtime *rt, uint32_t tenant, uint32_t rate)
{
    rk__cuda *b = rt->backend_data;
    uint32_t missed = 0;
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
        missed += rk__cuda_command(rt, &cmd, rk__deadline(RK__CUDA_RATE_CMD_NS), NULL) != RK_OK;
    }
    return missed;
}

/* The device's line of allowance i, b->lock held (or before launch:
 * zeros). */
static rk_status rk__cuda_rate_line(rk__cuda *b, uint32_t i, rk__gpu_rate *line)
{
    memset(line, 0, sizeof *line);
    if (!b->launched)
        return RK_OK;
    return rk__cuda_download(b, line, b->rates_d + (CUdeviceptr)i * sizeof *line, sizeof *line);
}

/* Asks the actors of pending slots again to let go (b->lock held); frees
 * the slots they all did, with their last refusals reported into who/n. */
static void rk__cuda_rate_retry(rk_runtime *rt, rk__cuda *b, rk__tenant **who, uint64_t *refused, uint32_t *n)
{
    for (uint32_t i = 0; i < RK__GPU_RATES; i++) {
        rk__gpu_rate line;
        if (b->rate_state[i] != RK__CUDA_RATE_PENDING)
            continue;
        /* Their tenant's slot now (0, or a new one): the last command wins. */
        if (rk__cuda_rate_actors(rt, b->rate_tenant[i], rk__cuda_rate_of(b, b->rate_tenant[i])) != 0 ||
            rk__cuda_rate_line(b, i, &line) != RK_OK)
            continue;
        pthread_mutex_lock(&b->rate_lock);
        if (line.refused > b->rate_refused[i] && (who[*n] = rk__tenant_find(rt, b->rate_tenant[i])) != NULL)
            refused[(*n)++] = line.refused - b->rate_refused[i];
        b->rate_state[i] = RK__CUDA_RATE_FREE;
        pthread_mutex_unlock(&b->rate_lock);
    }
}

rk_status rk__cuda_tenant_rate(rk_runtime *rt, uint32_t tenant, int on)
{
    rk__cuda *b = rt->backend_data;
    rk__tenant *who[RK__GPU_RATES + 1];
    uint64_t refused[RK__GPU_RATES + 1];
    uint32_t have, i, n = 0;
    rk__gpu_rate line;
    rk_status st = RK_OK;
    if (!b || !b->rate_granted)
        return RK_OK;
    /* b->lock first, rate_lock only around changes of the slot table: the
     * keeper, which takes rate_lock alone, never waits behind a command. */
    pthread_mutex_lock(&b->lock);
    /* Stopping, or the kernel is gone: nothing sends on the GPU any more. */
    if (b->stop_requested || __atomic_load_n(&b->keeper_stop, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&b->dead, __ATOMIC_ACQUIRE)) {
        rk__cuda_unlock(b);
        return RK_OK;
    }
    st = rk__cuda_enter(b);
    if (st != RK_OK) {
        rk__cuda_unlock(b);
        return st;
    }
    rk__cuda_rate_retry(rt, b, who, refused, &n);
    have = rk__cuda_rate_of(b, tenant);
    if (on && !have) {
        for (i = 0; i < RK__GPU_RATES && b->rate_state[i] != RK__CUDA_RATE_FREE; i++)
            ;
        st = i == RK__GPU_RATES ? RK_ENOMEM : rk__cuda_rate_line(b, i, &line);
        if (st == RK_OK && !b->keeper_started) {
            st = rk__cu_status(b->cu.cuStreamCreate(&b->keeper_stream, CU_STREAM_NON_BLOCKING));
            if (st == RK_OK) {
                __atomic_store_n(&b->keeper_stop, 0, __ATOMIC_RELEASE);
                if (pthread_create(&b->keeper, NULL, rk__cuda_keeper_main, rt) == 0) {
                    b->keeper_started = 1;
                } else {
                    b->cu.cuStreamDestroy(b->keeper_stream);
                    st = RK_ENOMEM;
                }
            }
        }
        if (st == RK_OK) {
            /* A free slot: nobody takes from it, so what was taken so far
             * counts as granted, and it starts empty. */
            pthread_mutex_lock(&b->rate_lock);
            __atomic_store_n(&b->rate_granted[i], (uint64_t)line.used, __ATOMIC_RELEASE);
            b->rate_refused[i] = line.refused;
            b->rate_tenant[i] = tenant;
            b->rate_state[i] = RK__CUDA_RATE_USED;
            pthread_mutex_unlock(&b->rate_lock);
            /* A late acknowledgement only delays the limit for that actor. */
            if (b->launched)
                (void)rk__cuda_rate_actors(rt, tenant, i + 1);
        }
    } else if (!on && have) {
        const uint32_t missed = b->launched ? rk__cuda_rate_actors(rt, tenant, 0) : 0;
        const int final = !missed && rk__cuda_rate_line(b, have - 1, &line) == RK_OK;
        pthread_mutex_lock(&b->rate_lock);
        if (final && line.refused > b->rate_refused[have - 1] && (who[n] = rk__tenant_find(rt, tenant)) != NULL)
            refused[n++] = line.refused - b->rate_refused[have - 1];
        b->rate_state[have - 1] = missed ? RK__CUDA_RATE_PENDING : RK__CUDA_RATE_FREE;
        pthread_mutex_unlock(&b->rate_lock);
    }
    rk__cuda_leave(b);
    rk__cuda_unlock(b);
    for (uint32_t k = 0; k < n; k++)
        rk__tenant_rate_refused(rt, who[k], refused[k]);
    return st;
}
