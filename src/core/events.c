/* The event stream: subscriptions, emission, polling and samples.
 *
 * Each subscription owns an MPSC ring of events: every emitting thread is a
 * producer, the polling thread the one consumer. An emitter claims a slot or,
 * when the ring is full, counts a drop; it never waits for the reader. The
 * list of subscriptions sits behind a read-write lock that emitters take
 * shared, so a subscription cannot be freed while an event is pushed into
 * it; emission takes it only when someone subscribes (n_subs != 0).
 *
 * The poller sleeps on an eventcount (rk__parker) that emitters bump after
 * publishing, so a wait costs no CPU and no event is missed. */
#include <stdlib.h>
#include <string.h>

#include "core/events.h"
#include "core/runtime_internal.h"
#include "core/parker.h"

#define RK__EVENT_DEFAULT_CAPACITY 1024u
#define RK__EVENT_MAX_CAPACITY (1u << 24)

/* A ring slot: the ring's sequence word, then the event. */
typedef struct rk__event_slot {
    uint64_t ring_seq;
    rk_event ev;
} rk__event_slot;

RK_STATIC_ASSERT(sizeof(rk__event_slot) % 16 == 0, "ring slots are multiples of 16 bytes");

typedef struct rk__sample {
    uint64_t msgs_in; /* handled, at the last sample */
    int known;        /* the actor existed at the last sample */
} rk__sample;

struct rk_event_sub {
    rk_event_sub *next; /* under rt->events.lock */
    rk_runtime *rt;
    uint32_t kinds;
    rk_ring ring;
    void *ring_mem;
    uint64_t head;    /* consumer position: the polling thread's */
    uint64_t dropped; /* atomic */
    rk__parker parker;
    uint64_t sample_period;
    uint64_t last_sample; /* the poller's */
    rk__sample *samples;  /* rt->opt.max_actors entries, when sampling */
};

static const char *const rk__event_names[RK_EVENT_KIND_COUNT_] = {
    "state", "restart", "escalate", "error", "queue_depth", "rate", "quota", "tenant", "pressure", "pressure_clear",
};

const char *rk_event_kind_name(rk_event_kind kind)
{
    return (unsigned)kind < RK_EVENT_KIND_COUNT_ ? rk__event_names[kind] : "unknown";
}

void rk_event_sub_options_init(rk_event_sub_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->capacity = RK__EVENT_DEFAULT_CAPACITY;
    o->kinds = RK_EVENT_ALL;
}

rk_status rk__events_init(rk__events *ev)
{
    memset(ev, 0, sizeof *ev);
    return pthread_rwlock_init(&ev->lock, NULL) == 0 ? RK_OK : RK_ENOMEM;
}

static void rk__sub_free(rk_event_sub *s)
{
    rk__parker_destroy(&s->parker);
    free(s->samples);
    free(s->ring_mem);
    free(s);
}

void rk__events_destroy(rk__events *ev)
{
    rk_event_sub *s = ev->subs;
    while (s) {
        rk_event_sub *next = s->next;
        rk__sub_free(s);
        s = next;
    }
    ev->subs = NULL;
    pthread_rwlock_destroy(&ev->lock);
}

/* ---- emission --------------------------------------------------------------- */

/* Queues `e` for one subscriber, or counts it lost; wakes the poller. */
static void rk__sub_push(rk_event_sub *s, const rk_event *e)
{
    rk__event_slot slot;
    slot.ring_seq = 0;
    slot.ev = *e;
    if (rk_ring_push(&s->ring, &slot, sizeof slot) != RK_OK) {
        __atomic_fetch_add(&s->dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    rk__parker_wake(&s->parker);
}

static void rk__event_fill(rk_runtime *rt, rk_event *e, rk_event_kind kind, rk_actor_id actor, uint32_t generation,
                           uint32_t tenant, int64_t value)
{
    e->seq = __atomic_add_fetch(&rt->events.seq, 1, __ATOMIC_RELAXED);
    e->time_ns = rk__now_ns();
    e->kind = (uint32_t)kind;
    e->actor = actor;
    e->generation = generation;
    e->tenant = tenant;
    e->value = value;
}

void rk__event_emit(rk_runtime *rt, rk_event_kind kind, rk_actor_id actor, uint32_t generation, uint32_t tenant,
                    int64_t value)
{
    rk_event e;
    /* Relaxed: a subscription made concurrently with this event may or may
     * not see it; one made before (happens-before) is seen, by coherence. */
    if (__atomic_load_n(&rt->events.n_subs, __ATOMIC_RELAXED) == 0 || (unsigned)kind >= RK_EVENT_KIND_COUNT_)
        return;
    rk__event_fill(rt, &e, kind, actor, generation, tenant, value);
    pthread_rwlock_rdlock(&rt->events.lock);
    for (rk_event_sub *s = rt->events.subs; s; s = s->next)
        if (s->kinds & RK_EVENT_MASK(kind))
            rk__sub_push(s, &e);
    pthread_rwlock_unlock(&rt->events.lock);
}

/* ---- subscriptions ------------------------------------------------------------ */

static rk_status rk__check_sub_options(const rk_event_sub_options *o)
{
    if (o->capacity < 2 || (o->capacity & (o->capacity - 1)) != 0 || o->capacity > RK__EVENT_MAX_CAPACITY)
        return RK_EINVAL;
    if (o->kinds == 0 || (o->kinds & ~(uint32_t)RK_EVENT_ALL) != 0)
        return RK_EINVAL;
    return RK_OK;
}

static rk_status rk__sub_alloc(rk_runtime *rt, const rk_event_sub_options *o, rk_event_sub **out)
{
    size_t bytes = rk_ring_bytes(o->capacity, sizeof(rk__event_slot));
    rk_event_sub *s = calloc(1, sizeof *s);
    if (!s)
        return RK_ENOMEM;
    s->rt = rt;
    s->kinds = o->kinds;
    s->sample_period = o->sample_period_ns;
    s->ring_mem = aligned_alloc(RK_RING_LINE, (bytes + RK_RING_LINE - 1) / RK_RING_LINE * RK_RING_LINE);
    if (o->sample_period_ns)
        s->samples = calloc(rt->opt.max_actors, sizeof *s->samples);
    if (!s->ring_mem || (o->sample_period_ns && !s->samples) || rk__parker_init(&s->parker) != 0) {
        free(s->samples);
        free(s->ring_mem);
        free(s);
        return RK_ENOMEM;
    }
    rk_ring_init(&s->ring, s->ring_mem, o->capacity, sizeof(rk__event_slot), RK_RING_MPSC, RK_RING_SCOPE_SYSTEM);
    s->last_sample = rk__now_ns();
    *out = s;
    return RK_OK;
}

rk_status rk_event_subscribe(rk_runtime *rt, const rk_event_sub_options *o, rk_event_sub **out)
{
    rk_event_sub_options defaults;
    rk_event_sub *s;
    rk_status st;

    if (!rt || !out)
        return RK_EINVAL;
    *out = NULL;
    if (!o) {
        rk_event_sub_options_init(&defaults);
        o = &defaults;
    }
    st = rk__check_sub_options(o);
    if (st == RK_OK)
        st = rk__sub_alloc(rt, o, &s);
    if (st != RK_OK)
        return st;
    pthread_rwlock_wrlock(&rt->events.lock);
    s->next = rt->events.subs;
    rt->events.subs = s;
    __atomic_add_fetch(&rt->events.n_subs, 1, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&rt->events.lock);
    *out = s;
    return RK_OK;
}

void rk_event_unsubscribe(rk_event_sub *sub)
{
    rk_runtime *rt;
    if (!sub)
        return;
    rt = sub->rt;
    /* Exclusive: once unlinked under the lock no emitter still holds it. */
    pthread_rwlock_wrlock(&rt->events.lock);
    for (rk_event_sub **p = &rt->events.subs; *p; p = &(*p)->next) {
        if (*p == sub) {
            *p = sub->next;
            __atomic_sub_fetch(&rt->events.n_subs, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    pthread_rwlock_unlock(&rt->events.lock);
    rk__sub_free(sub);
}

uint64_t rk_event_dropped(const rk_event_sub *sub)
{
    return sub ? __atomic_load_n(&sub->dropped, __ATOMIC_RELAXED) : 0;
}

/* ---- polling -------------------------------------------------------------------- */

/* Queue depth and handling rate of every actor, into this subscription only.
 * Reads control blocks through the backend, so only while it runs. */
static void rk__take_samples(rk_event_sub *s, uint64_t now)
{
    rk_runtime *rt = s->rt;
    uint64_t elapsed = now - s->last_sample;
    rk_event e;

    s->last_sample = now;
    if (rk__enter(rt) != RK_OK)
        return;
    for (uint32_t i = 0; i < rk__actor_count(rt); i++) {
        rk__actor *a = &rt->actors[i];
        rk_control c;
        if (!a->in_use || rt->ops->actor_control(rt, a, &c) != RK_OK)
            continue;
        if (s->kinds & RK_EVENT_MASK(RK_EVENT_QUEUE_DEPTH)) {
            rk__event_fill(rt, &e, RK_EVENT_QUEUE_DEPTH, a->id, c.generation, a->tenant,
                           (int64_t)(c.inbox_tail - c.inbox_head));
            rk__sub_push(s, &e);
        }
        if ((s->kinds & RK_EVENT_MASK(RK_EVENT_RATE)) && s->samples[i].known && elapsed > 0) {
            uint64_t handled = c.msgs_in - s->samples[i].msgs_in;
            rk__event_fill(rt, &e, RK_EVENT_RATE, a->id, c.generation, a->tenant,
                           (int64_t)((double)handled * 1e9 / (double)elapsed));
            rk__sub_push(s, &e);
        }
        s->samples[i].msgs_in = c.msgs_in;
        s->samples[i].known = 1;
    }
    rk__leave(rt);
}

static int rk__sub_pop(rk_event_sub *s, rk_event *out)
{
    const rk__event_slot *slot = rk_ring_ready(&s->ring, s->head);
    if (!slot)
        return 0;
    *out = slot->ev;
    s->head++;
    rk_ring_consume(&s->ring, s->head);
    return 1;
}

rk_status rk_event_poll(rk_event_sub *sub, rk_event *out, uint64_t timeout_ns)
{
    uint64_t deadline;
    if (!sub || !out)
        return RK_EINVAL;
    deadline = rk__deadline(timeout_ns);
    for (;;) {
        /* Epoch first: an event published after this look moves it. */
        uint64_t epoch = rk__parker_epoch(&sub->parker);
        uint64_t now = rk__now_ns();
        uint64_t wake = deadline;
        if (sub->sample_period && now - sub->last_sample >= sub->sample_period)
            rk__take_samples(sub, now);
        if (rk__sub_pop(sub, out))
            return RK_OK;
        if (now >= deadline)
            return RK_ETIMEDOUT;
        if (sub->sample_period && sub->last_sample + sub->sample_period < wake)
            wake = sub->last_sample + sub->sample_period;
        rk__parker_wait(&sub->parker, epoch, wake);
    }
}
