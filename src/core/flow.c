/* Flow control: queue credits, waiting sends, and the memory-pressure
 * monitor with its by-reference payload buffers. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostq.h"
#include "core/parker.h"
#include "core/runtime_internal.h"

#define RK__CREDIT_SLICE_NS 1000000ull /* a waiting send re-checks shutdown at least this often */
#define RK__BACKOFF_MIN_NS 2000ull     /* without a backend wake-up: first sleep... */
#define RK__BACKOFF_MAX_NS 200000ull   /* ...doubling up to this */
#define RK__LINE_SPINS 64              /* spins on a taken line lock before yielding the CPU */

/* ---- memory accounting ------------------------------------------------------------ */

static uint64_t rk__ld(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint64_t rk__host_bytes(rk__mem *m)
{
    return rk__ld(&m->payload_bytes) + rk__ld(&m->queue_bytes) + rk__ld(&m->state_bytes);
}

/* The mark below which the alarm clears. */
static uint64_t rk__low_mark(rk__mem *m)
{
    uint64_t high = rk__ld(&m->high), low = rk__ld(&m->low);
    return low ? low : high - high / 8;
}

void rk__mem_init(rk_runtime *rt)
{
    rt->mem.queue_bytes = rk_ring_bytes(rt->opt.host_queue_capacity, rt->opt.host_slot_size);
}

/* Counts a refusal; the first since the alarm was last clear raises it. */
static void rk__mem_refuse(rk_runtime *rt, uint64_t used)
{
    __atomic_fetch_add(&rt->mem.refused, 1, __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&rt->mem.alarm, 1, __ATOMIC_RELAXED) == 0)
        rk__event_emit(rt, RK_EVENT_PRESSURE, RK_ACTOR_NONE, 0, 0, (int64_t)used);
}

/* Clears the alarm once use is below the low mark (or there is no mark). */
static void rk__mem_maybe_clear(rk_runtime *rt)
{
    uint64_t used;
    if (!__atomic_load_n(&rt->mem.alarm, __ATOMIC_RELAXED))
        return;
    used = rk__host_bytes(&rt->mem);
    if (rk__ld(&rt->mem.high) != 0 && used >= rk__low_mark(&rt->mem))
        return;
    if (__atomic_exchange_n(&rt->mem.alarm, 0, __ATOMIC_RELAXED) == 1)
        rk__event_emit(rt, RK_EVENT_PRESSURE_CLEAR, RK_ACTOR_NONE, 0, 0, (int64_t)used);
}

/* Whether the backend's device pool is at or above its mark. */
static int rk__device_over(rk_runtime *rt)
{
    uint64_t high = rk__ld(&rt->mem.device_high), used = 0, total = 0;
    if (high == 0 || !rt->ops->device_memory)
        return 0;
    return rt->ops->device_memory(rt, &used, &total) == RK_OK && used >= high;
}

rk_status rk__mem_admit_actor(rk_runtime *rt, uint64_t queue_bytes, uint64_t state_bytes)
{
    rk__mem *m = &rt->mem;
    uint64_t high = rk__ld(&m->high);
    uint64_t used;
    /* Add first, then look: two admissions at once cannot both slip under. */
    __atomic_fetch_add(&m->queue_bytes, queue_bytes, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->state_bytes, state_bytes, __ATOMIC_RELAXED);
    used = rk__host_bytes(m);
    if ((high == 0 || used <= high) && !rk__device_over(rt))
        return RK_OK;
    rk__mem_release_actor(rt, queue_bytes, state_bytes);
    rk__mem_refuse(rt, used);
    return RK_EPRESSURE;
}

void rk__mem_release_actor(rk_runtime *rt, uint64_t queue_bytes, uint64_t state_bytes)
{
    __atomic_fetch_sub(&rt->mem.queue_bytes, queue_bytes, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&rt->mem.state_bytes, state_bytes, __ATOMIC_RELAXED);
}

rk_status rk__payload_alloc(rk_runtime *rt, const void *payload, uint32_t len, void **out)
{
    rk__mem *m = &rt->mem;
    uint64_t high = rk__ld(&m->high);
    uint64_t used;
    void *buf;

    __atomic_fetch_add(&m->payload_bytes, len, __ATOMIC_RELAXED);
    if (high != 0 && (used = rk__host_bytes(m)) > high) {
        __atomic_fetch_sub(&m->payload_bytes, len, __ATOMIC_RELAXED);
        rk__mem_refuse(rt, used);
        return RK_EPRESSURE;
    }
    buf = malloc(len);
    if (!buf) {
        __atomic_fetch_sub(&m->payload_bytes, len, __ATOMIC_RELAXED);
        return RK_ENOMEM;
    }
    memcpy(buf, payload, len);
    *out = buf;
    return RK_OK;
}

void rk__payload_free(rk_runtime *rt, const rk_msg *m)
{
    if (!(m->flags & RK_MSG_F_BYREF))
        return;
    free((void *)(uintptr_t)m->ref);
    __atomic_fetch_sub(&rt->mem.payload_bytes, m->len, __ATOMIC_RELAXED);
    rk__mem_maybe_clear(rt);
}

rk_status rk_memory_set_limits(rk_runtime *rt, const rk_memory_limits *limits)
{
    if (!rt || !limits)
        return RK_EINVAL;
    if (limits->host_low_water > limits->host_high_water)
        return RK_EINVAL;
    __atomic_store_n(&rt->mem.low, limits->host_low_water, __ATOMIC_RELAXED);
    __atomic_store_n(&rt->mem.high, limits->host_high_water, __ATOMIC_RELAXED);
    __atomic_store_n(&rt->mem.device_high, limits->device_high_water, __ATOMIC_RELAXED);
    rk__mem_maybe_clear(rt);
    return RK_OK;
}

rk_status rk_memory_usage_get(rk_runtime *rt, rk_memory_usage *out)
{
    rk__mem *m;
    if (!rt || !out)
        return RK_EINVAL;
    m = &rt->mem;
    memset(out, 0, sizeof *out);
    out->payload_bytes = rk__ld(&m->payload_bytes);
    out->queue_bytes = rk__ld(&m->queue_bytes);
    out->state_bytes = rk__ld(&m->state_bytes);
    out->host_bytes = out->payload_bytes + out->queue_bytes + out->state_bytes;
    out->host_high_water = rk__ld(&m->high);
    out->host_low_water = out->host_high_water ? rk__low_mark(m) : 0;
    out->device_high_water = rk__ld(&m->device_high);
    out->refused = rk__ld(&m->refused);
    out->alarm = (int)__atomic_load_n(&m->alarm, __ATOMIC_RELAXED);
    if (rt->ops->device_memory && rk__enter(rt) == RK_OK) {
        if (rt->ops->device_memory(rt, &out->device_used, &out->device_total) != RK_OK)
            out->device_used = out->device_total = 0;
        rk__leave(rt);
    }
    return RK_OK;
}

/* ---- credits ------------------------------------------------------------------------ */

static rk_status rk__queue_depth(rk_runtime *rt, rk__actor *a, uint64_t *depth)
{
    rk_control c;
    rk_status st;
    if (rt->ops->queue_depth)
        return rt->ops->queue_depth(rt, a, depth);
    if (!a)
        return RK_ENOTSUP;
    st = rt->ops->actor_control(rt, a, &c);
    if (st == RK_OK)
        *depth = c.inbox_tail - c.inbox_head;
    return st;
}

rk_status rk__credits(rk_runtime *rt, rk_actor_id dst, uint32_t *credits)
{
    rk__actor *a = NULL;
    uint64_t cap = rt->opt.host_queue_capacity, depth = 0;
    rk_status st;
    if (dst != RK_ACTOR_HOST) {
        a = rk__actor_get(rt, dst);
        if (!a)
            return RK_ENOACTOR;
        cap = a->inbox_capacity;
    }
    st = rk__queue_depth(rt, a, &depth);
    if (st == RK_OK)
        *credits = depth >= cap ? 0 : (uint32_t)(cap - depth);
    return st;
}

rk_status rk_credits(rk_runtime *rt, rk_actor_id dst, uint32_t *credits)
{
    rk_status st;
    if (!rt || !credits)
        return RK_EINVAL;
    st = rk__enter(rt);
    if (st != RK_OK)
        return st;
    st = rk__credits(rt, dst, credits);
    rk__leave(rt);
    return st;
}

/* ---- waiting sends ------------------------------------------------------------------ */

/* A host thread in rk_send_wait that found the inbox full stands in its
 * actor's line (rk__actor.line_*) until it has sent or given up; the node
 * lives on its stack. Only the head of the line retries the send, parked
 * on the backend's wake-up between tries; the others sleep on their own
 * parker until the one before them leaves and wakes them. Leaving, for
 * whatever reason, takes the node out of the list, so a waiter that gives
 * up early holds up nobody behind it. */
typedef struct rk__send_waiter {
    struct rk__send_waiter *prev, *next; /* under the actor's line_lock */
    rk__parker turn;                     /* woken when it comes to the head */
} rk__send_waiter;

/* The line lock is held for a few pointer moves and one wake-up, never
 * across a wait: spin briefly, then give the CPU away. Acquire/release:
 * each holder sees the list as the last one left it. */
static void rk__line_lock(rk__actor *a)
{
    unsigned spins = 0;
    while (__atomic_exchange_n(&a->line_lock, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&a->line_lock, __ATOMIC_RELAXED)) {
            if (++spins < RK__LINE_SPINS)
                rk__cpu_relax();
            else
                sched_yield();
        }
    }
}

static void rk__line_unlock(rk__actor *a)
{
    __atomic_store_n(&a->line_lock, 0, __ATOMIC_RELEASE);
}

static void rk__line_count(rk__actor *a, uint32_t delta)
{
    /* Written under the lock only; read without it by senders. */
    __atomic_store_n(&a->line_len, __atomic_load_n(&a->line_len, __ATOMIC_RELAXED) + delta, __ATOMIC_RELAXED);
}

/* Puts w at the back of a's line. */
static void rk__line_join(rk__actor *a, rk__send_waiter *w)
{
    rk__line_lock(a);
    w->prev = a->line_tail;
    w->next = NULL;
    if (w->prev)
        w->prev->next = w;
    else
        __atomic_store_n(&a->line_head, w, __ATOMIC_RELEASE);
    a->line_tail = w;
    rk__line_count(a, 1);
    rk__line_unlock(a);
}

/* Takes w out of a's line. If it was the head, the next one's turn has
 * come: the head moves (release, before the wake's epoch bump, so the one
 * woken sees it) and the next is woken while the lock keeps its node. */
static void rk__line_leave(rk__actor *a, rk__send_waiter *w)
{
    rk__line_lock(a);
    if (w->next)
        w->next->prev = w->prev;
    else
        a->line_tail = w->prev;
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        __atomic_store_n(&a->line_head, w->next, __ATOMIC_RELEASE);
        if (w->next)
            rk__parker_wake(&w->next->turn);
    }
    rk__line_count(a, (uint32_t)-1);
    rk__line_unlock(a);
}

static int rk__line_first(rk__actor *a, const rk__send_waiter *w)
{
    return __atomic_load_n(&a->line_head, __ATOMIC_ACQUIRE) == w;
}

/* One bounded wait, at the head of the line, for a slot of a's inbox (of
 * runtime t): the backend's wake-up, or a sleep that doubles each time.
 * Inside rk__enter, so the backend stays. */
static rk_status rk__credit_wait(rk_runtime *t, rk__actor *a, uint64_t until, uint64_t *backoff)
{
    rk_status st = rk__enter(t);
    uint64_t now;
    if (st != RK_OK)
        return st;
    /* An actor that is migrating (group.h) refuses with RK_EFULL while its
     * inbox has room: no slot will free, so back off by sleeping. */
    if (t->ops->credit_wait && a && __atomic_load_n(&a->forward, __ATOMIC_ACQUIRE) != RK__FWD_MOVING) {
        t->ops->credit_wait(t, a, until);
    } else {
        now = rk__now_ns();
        if (now < until)
            rk__sleep_ns(until - now < *backoff ? until - now : *backoff);
        *backoff = *backoff * 2 > RK__BACKOFF_MAX_NS ? RK__BACKOFF_MAX_NS : *backoff * 2;
    }
    rk__leave(t);
    return RK_OK;
}

/* One bounded wait, behind others in a's line, for w's turn. The epoch is
 * taken before the look at the head: a leave that makes w the head after
 * the look moves it (rk__parker). */
static rk_status rk__turn_wait(rk_runtime *rt, rk_runtime *t, rk__actor *a, rk__send_waiter *w, uint64_t until)
{
    uint64_t epoch = rk__parker_epoch(&w->turn);
    if (!__atomic_load_n(&rt->accepting, __ATOMIC_ACQUIRE) || !__atomic_load_n(&t->accepting, __ATOMIC_ACQUIRE))
        return RK_ESHUTDOWN;
    if (!rk__line_first(a, w))
        rk__parker_wait(&w->turn, epoch, until);
    return RK_OK;
}

/* rk_send_msg_wait once the inbox was found full, or others wait for it:
 * in line until sent, refused, out of time, or shut down. */
static rk_status rk__send_in_line(rk_runtime *rt, const rk_msg *hdr, const void *payload, uint64_t deadline)
{
    rk__send_waiter w;
    rk__actor *line = NULL; /* whose line w stands in */
    uint64_t backoff = RK__BACKOFF_MIN_NS;
    rk_status st;
    if (rk__parker_init(&w.turn) != 0)
        return RK_ENOMEM;
    for (;;) {
        rk_runtime *t;
        rk__actor *a = rk__group_actor(rt, hdr->dst, &t);
        uint64_t now, until;
        int first;
        if (a != line) {
            /* The first time round, or the actor has moved (group.h): to
             * the back of the line at its new home. */
            if (line)
                rk__line_leave(line, &w);
            if (a)
                rk__line_join(a, &w);
            line = a;
        }
        first = !a || rk__line_first(a, &w);
        if (first) {
            st = rk_send_msg(rt, hdr, payload);
            if (st != RK_EFULL)
                break;
        }
        /* The actor's backend is gone (the CUDA kernel): its inbox will not
         * drain, so there is nothing to wait for. Nothing else here asks the
         * backend, so this asks it to look. */
        if (t->ops->health && (st = t->ops->health(t, 1)) != RK_OK)
            break;
        now = rk__now_ns();
        if (now >= deadline) {
            st = RK_ETIMEDOUT;
            break;
        }
        until = deadline - now > RK__CREDIT_SLICE_NS ? now + RK__CREDIT_SLICE_NS : deadline;
        st = first ? rk__credit_wait(t, a, until, &backoff) : rk__turn_wait(rt, t, a, &w, until);
        if (st != RK_OK)
            break;
    }
    if (line)
        rk__line_leave(line, &w);
    rk__parker_destroy(&w.turn);
    return st;
}

rk_status rk_send_msg_wait(rk_runtime *rt, const rk_msg *hdr, const void *payload, uint64_t timeout_ns)
{
    rk_runtime *t;
    rk__actor *a;
    uint64_t deadline;
    if (!rt || !hdr)
        return RK_EINVAL;
    deadline = rk__deadline(timeout_ns);
    a = rk__group_actor(rt, hdr->dst, &t);
    /* The fast path: one relaxed load of the line's length. A stale zero
     * lets this send try first, as if it had come a moment earlier. */
    if (!a || timeout_ns == 0 || __atomic_load_n(&a->line_len, __ATOMIC_RELAXED) == 0) {
        rk_status st = rk_send_msg(rt, hdr, payload);
        if (st != RK_EFULL)
            return st;
        if (rk__now_ns() >= deadline)
            return RK_ETIMEDOUT;
    }
    return rk__send_in_line(rt, hdr, payload, deadline);
}

rk_status rk_send_wait(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len,
                       uint64_t timeout_ns)
{
    rk_msg m;
    rk_status st = rk__host_header(rt, dst, type, len, &m);
    return st == RK_OK ? rk_send_msg_wait(rt, &m, payload, timeout_ns) : st;
}
