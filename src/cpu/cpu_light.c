/* Light actors on the CPU backend (ringkernel/light.h): the scheduler of
 * ringkernel/light.cuh, run by one host thread per home.
 *
 * The world (inboxes, run queues) and the port (the homes' rings to the
 * host) are one allocation. Host threads post straight into the inboxes
 * with rk_light_send (on the CPU the host's atomics are the homes' atomics,
 * so no forwarder is needed); the port is used only for the handlers'
 * sends to the host.
 *
 * Shutdown. First the backend's drain waits, homes running, until no light
 * message is on its way (rk__cpu_light_quiet: the homes' published counts,
 * as on CUDA), in rounds with the block actors' drain while light handlers
 * send to block actors (cpu_backend.c). Then rk__cpu_light_drain sets
 * `stop`: a home returns once it has nothing of its own left. Homes return
 * independently, so a home still running may send to an actor of one that
 * already returned; when all have returned they meet (a barrier) and run
 * again while any inbox holds a message. So
 * the drain ends only with every inbox empty, or at the deadline, when
 * `halt` makes the homes return between two messages. The stop then counts
 * what is left: inbox messages as dead letters, the homes' `dropped`
 * (messages held outside the inboxes at the halt), and the port's unread
 * messages to the host.
 *
 * With rk_runtime_options.cluster_size the homes form clusters as on CUDA
 * (light.cuh's cluster rings, in host memory here, and stealing within a
 * cluster), with the same rules for the number of homes, so that a program
 * meets the same behaviour and refusals on both backends. */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_light.h"
#include "core/deadletter.h"
#include "ringkernel/light.cuh"

#define RK__LIGHT_HOMES_DEFAULT 2u
#define RK__LIGHT_SPIN 64u           /* idle looks before a home starts yielding */
#define RK__LIGHT_YIELD 128u         /* ... and before it starts napping */
#define RK__LIGHT_NAP_MAX_NS 50000ull /* the longest nap of an idle home */
#define RK__LIGHT_STATE_ALIGN 16u    /* each actor's state starts on this boundary */

/* A home's thread. `handled` is written by it alone, read by the drain. */
typedef struct rk__cpu_home {
    struct rk__cpu_light *l;
    pthread_t thread;
    uint32_t h;
    int started;
    uint64_t handled; /* atomic (relaxed): messages its handlers ran */
    char pad_[32];
} rk__cpu_home;

/* The states of one spawn, freed at release. */
typedef struct rk__light_states {
    struct rk__light_states *next;
    char pad_[RK__LIGHT_STATE_ALIGN - sizeof(void *) % RK__LIGHT_STATE_ALIGN];
} rk__light_states;

struct rk__cpu_light {
    rk_runtime *rt;
    void *mem; /* the world, then the port */
    rk_light_world *world;
    rk_light_port *port;
    uint32_t stop, halt; /* the world's words (atomic) */
    uint32_t go;         /* atomic: 1 once every home thread exists, 2 when the start failed */
    uint32_t exited;     /* atomic: home threads that finished */
    uint32_t again;      /* a round's answer (rk__home_again), between two barrier waits */
    uint64_t posted;     /* atomic: messages the host and block actors put into inboxes */
    int barrier_ready, stopped;
    pthread_barrier_t round;
    const rk_light_type **type; /* [actors]; set by spawn before the ids are published */
    void **state;               /* [actors] */
    rk__light_states *states;   /* every spawn's, under rt->lock */
    rk__cpu_home *home;         /* [homes] */
    uint32_t homes, started;
};

/* What a handler gets (light.h's rk_lctx). */
struct rk_lctx {
    rk_light_ctx *c;
    rk_runtime *rt;
    uint32_t self;
};

/* ---- handlers -------------------------------------------------------------------------- */

static void rk__light_dead(rk_runtime *rt, const rk_light_msg *m, uint32_t dst, rk_status reason)
{
    rk_msg hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.type = m->type;
    hdr.src = rk_light_public(m->src);
    hdr.dst = rk_light_id(dst);
    hdr.len = RK_LIGHT_PAYLOAD;
    rk__dead_letter(&rt->dead, &hdr, reason);
}

/* Runs one message (the scheduler's handler). The type and state were set
 * before the id was published, and the message's publish (a release) came
 * after that id was read (an acquire), so both are visible here. */
static void rk__light_dispatch(rk_light_ctx *c, const rk_light_msg *m, void *home)
{
    rk__cpu_home *hm = home;
    rk__cpu_light *l = hm->l;
    const uint32_t self = c->self;
    const rk_light_type *t = l->type[self];
    struct rk_lctx x = {c, l->rt, self};
    rk_lmsg v;
    rk_status st;
    if (!t) {
        rk__light_dead(l->rt, m, self, RK_ENOACTOR);
        return;
    }
    v.src = rk_light_public(m->src);
    v.type = m->type;
    memcpy(v.data, m->w, sizeof v.data);
    st = t->handle(&x, l->state[self], &v);
    if (st != RK_OK)
        rk__async_error(l->rt, rk_light_id(self), 1, st); /* the actor goes on */
    __atomic_store_n(&hm->handled, hm->handled + 1, __ATOMIC_RELAXED);
}

rk_actor_id rk_lctx_self(const rk_lctx *ctx)
{
    return ctx ? rk_light_id(ctx->self) : RK_ACTOR_NONE;
}

rk_status rk_lctx_send(rk_lctx *ctx, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len)
{
    uint64_t words[RK_LIGHT_PAYLOAD / 8];
    uint32_t to;
    rk_status st = ctx ? rk__light_pack(type, payload, len, words) : RK_EINVAL;
    if (st != RK_OK)
        return st;
    if (dst == RK_ACTOR_HOST)
        to = RK_LIGHT_HOST;
    else if (!rk_is_light(dst)) {
        st = rk__cpu_light_to_actor(ctx->rt, rk_light_id(ctx->self), dst, type, payload, len);
        if (st == RK_OK)
            rk_light_sent_to_block(ctx->c); /* for the drain */
        return st;
    }
    else if (dst - RK_LIGHT_ID_BASE < __atomic_load_n(&ctx->rt->light_spawned, __ATOMIC_ACQUIRE))
        to = dst - RK_LIGHT_ID_BASE;
    else
        return RK_ENOACTOR;
    return rk_light_ctx_send(ctx->c, to, type, words);
}

rk_status rk__cpu_light_from_actor(rk_runtime *rt, const rk_msg *m, const void *payload)
{
    rk__cpu_light *l = rk__cpu_light_of(rt);
    uint64_t words[RK_LIGHT_PAYLOAD / 8];
    rk_status st;
    if (!l || m->dst - RK_LIGHT_ID_BASE >= __atomic_load_n(&rt->light_spawned, __ATOMIC_ACQUIRE))
        return RK_ENOACTOR;
    st = rk__light_pack(m->type, payload, m->len, words);
    if (st != RK_OK)
        return st;
    st = rk_light_send(l->world, RK_LIGHT_FROM_BLOCK | m->src, m->dst - RK_LIGHT_ID_BASE, m->type, words);
    if (st == RK_OK)
        __atomic_fetch_add(&l->posted, 1, __ATOMIC_RELAXED);
    return st;
}

/* ---- homes ----------------------------------------------------------------------------- */

/* An idle home spins a little, then yields, then naps (doubling up to
 * RK__LIGHT_NAP_MAX_NS): senders do not wake it, so the nap bounds how late
 * it sees a message, and without it each idle home would hold a core. */
static void rk__home_idle(uint32_t looks)
{
    if (looks < RK__LIGHT_SPIN) {
        rk__cpu_relax();
    } else if (looks < RK__LIGHT_YIELD) {
        sched_yield();
    } else {
        uint32_t k = looks - RK__LIGHT_YIELD;
        uint64_t ns = k < 6 ? 1000ull << k : RK__LIGHT_NAP_MAX_NS;
        rk__sleep_ns(ns < RK__LIGHT_NAP_MAX_NS ? ns : RK__LIGHT_NAP_MAX_NS);
    }
}


/* Whether any inbox holds a message. Only while no home runs and no host
 * thread posts: then every claimed slot is published. */
static int rk__light_left(const rk_light_world *w)
{
    for (uint32_t a = 0; a < w->cfg.actors; a++)
        if (__atomic_load_n(&w->actor[a].tail, __ATOMIC_RELAXED) != w->actor[a].head)
            return 1;
    return 0;
}

/* After a return from rk_light_run_host: all homes meet, and one of them
 * decides for all whether they run again (a message is left, no halt). The
 * barriers order every home's writes before that look and the answer
 * before its reads. */
static int rk__home_again(rk__cpu_light *l)
{
    if (pthread_barrier_wait(&l->round) == PTHREAD_BARRIER_SERIAL_THREAD)
        l->again = !__atomic_load_n(&l->halt, __ATOMIC_ACQUIRE) && rk__light_left(l->world);
    pthread_barrier_wait(&l->round);
    return (int)l->again;
}

static void *rk__home_main(void *arg)
{
    rk__cpu_home *hm = arg;
    rk__cpu_light *l = hm->l;
    uint32_t go;
    /* Every home must exist before any reaches the barrier. */
    while ((go = __atomic_load_n(&l->go, __ATOMIC_ACQUIRE)) == 0)
        sched_yield();
    if (go == 1)
        do
            rk_light_run_host(l->world, hm->h, rk__light_dispatch, hm, rk__home_idle);
        while (rk__home_again(l));
    /* Release: the drain's acquire of `exited` sees the home's writes. */
    __atomic_fetch_add(&l->exited, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* ---- start, drain, stop, free ---------------------------------------------------------- */

static rk_light_config rk__light_config(const rk_light_options *o, uint32_t homes, uint32_t cluster)
{
    rk_light_config c;
    memset(&c, 0, sizeof c);
    c.actors = o->actors;
    c.homes = homes;
    c.cluster = cluster;
    c.inbox = o->inbox;
    c.batch = o->batch;
    /* Without stealing an actor never leaves its home, so sends within a
     * home may skip the inboxes (the local queue); with stealing they hand
     * the token over instead (light.cuh, the block tier). */
    c.handoff = o->steal ? RK_LIGHT_TOKEN : RK_LIGHT_LOCAL;
    c.steal = o->steal ? 1u : 0u;
    return c;
}

/* The world, then the port, in one 64-byte aligned allocation. */
static rk_status rk__light_world(rk__cpu_light *l, const rk_light_config *c)
{
    const rk_light_layout lay = rk_light_world_layout(c);
    const size_t at = (lay.bytes + 63) & ~(size_t)63;
    const size_t bytes = (at + rk_light_port_bytes(c->homes) + 63) & ~(size_t)63;
    if (!lay.bytes)
        return RK_EINVAL;
    l->mem = aligned_alloc(64, bytes);
    if (!l->mem)
        return RK_ENOMEM;
    l->world = l->mem;
    l->port = (rk_light_port *)((unsigned char *)l->mem + at);
    if (rk_light_world_init(l->mem, l->mem, c, &l->stop) != RK_OK || rk_light_port_init(l->port, c) != RK_OK)
        return RK_EINVAL;
    rk_light_world_set_port(l->mem, l->port);
    l->world->halt = &l->halt;
    return RK_OK;
}

static rk_status rk__light_threads(rk__cpu_light *l)
{
    if (pthread_barrier_init(&l->round, NULL, l->homes) != 0)
        return RK_ENOMEM;
    l->barrier_ready = 1;
    for (uint32_t h = 0; h < l->homes; h++) {
        rk__cpu_home *hm = &l->home[h];
        hm->l = l;
        hm->h = h;
        if (pthread_create(&hm->thread, NULL, rk__home_main, hm) != 0) {
            __atomic_store_n(&l->go, 2, __ATOMIC_RELEASE); /* the started ones return at once */
            return RK_ENOMEM;
        }
        hm->started = 1;
        l->started++;
    }
    __atomic_store_n(&l->go, 1, __ATOMIC_RELEASE);
    return RK_OK;
}

/* The homes: as asked, else RK__LIGHT_HOMES_DEFAULT (at most one per
 * actor), or with clusters (cs > 1) one cluster. The core checked that
 * asked homes are whole clusters and that there are enough actors. */
static uint32_t rk__light_homes(const rk_light_options *o, uint32_t cs)
{
    uint32_t homes = o->homes ? o->homes : cs > 1 ? cs : RK__LIGHT_HOMES_DEFAULT;
    return homes < o->actors ? homes : o->actors;
}

rk_status rk__cpu_light_start(rk_runtime *rt, rk__cpu_light **out)
{
    const rk_light_options *o = &rt->opt.light;
    const uint32_t cs = rt->opt.cluster_size;
    rk__cpu_light *l = calloc(1, sizeof *l);
    rk_light_config c;
    rk_status st = RK_ENOMEM;
    *out = NULL;
    if (!l)
        return RK_ENOMEM;
    l->rt = rt;
    l->homes = rk__light_homes(o, cs);
    c = rk__light_config(o, l->homes, cs > 1 ? cs : 0);
    l->type = calloc(o->actors, sizeof *l->type);
    l->state = calloc(o->actors, sizeof *l->state);
    l->home = calloc(l->homes, sizeof *l->home);
    if (l->type && l->state && l->home)
        st = rk__light_world(l, &c);
    if (st == RK_OK)
        st = rk__light_threads(l);
    if (st != RK_OK) {
        rk__cpu_light_free(l);
        return st;
    }
    rt->opt.light.homes = l->homes;
    *out = l;
    return RK_OK;
}

static uint64_t rk__light_handled(const rk__cpu_light *l)
{
    uint64_t n = 0;
    for (uint32_t h = 0; h < l->homes; h++)
        n += __atomic_load_n(&l->home[h].handled, __ATOMIC_RELAXED);
    return n;
}

/* What was put into inboxes (by the host, block actors and handlers) minus
 * what was run, over the homes' idle counts (light.cuh, rk_light_publish);
 * *sum mixes both totals, so that two looks can be compared, and
 * *to_blocks gets the handlers' sends to block actors. */
static int64_t rk__light_balance(const rk__cpu_light *l, uint64_t *sum, uint64_t *to_blocks)
{
    uint64_t sent = __atomic_load_n(&l->posted, __ATOMIC_RELAXED), ran = 0, out = 0;
    for (uint32_t h = 0; h < l->homes; h++) {
        const rk_light_home *hm = &l->world->home[h];
        sent += __atomic_load_n(&hm->live_sent, __ATOMIC_RELAXED);
        ran += __atomic_load_n(&hm->live_handled, __ATOMIC_RELAXED);
        out += __atomic_load_n(&hm->live_to_blocks, __ATOMIC_RELAXED);
    }
    *sum = sent * 0x9E3779B97F4A7C15ull + ran;
    *to_blocks = out;
    return (int64_t)(sent - ran);
}

uint64_t rk__cpu_light_to_blocks(const rk__cpu_light *l)
{
    uint64_t sum, out = 0;
    if (l)
        (void)rk__light_balance(l, &sum, &out);
    return out;
}

rk_status rk__cpu_light_quiet(rk__cpu_light *l, uint64_t deadline, uint64_t *to_blocks)
{
    uint64_t sum, last = 0;
    int seen = 0;
    *to_blocks = 0;
    if (!l)
        return RK_OK;
    for (;;) {
        if (rk__light_balance(l, &sum, to_blocks) == 0) {
            if (seen && sum == last)
                return RK_OK;
            seen = 1;
            last = sum;
        } else {
            seen = 0;
        }
        if (rk__now_ns() >= deadline)
            return RK_ETIMEDOUT;
        rk__sleep_ns(50000);
    }
}

uint64_t rk__cpu_light_handled(const rk__cpu_light *l)
{
    return l ? rk__light_handled(l) : 0;
}

rk_status rk__cpu_light_drain(rk__cpu_light *l, uint64_t deadline)
{
    rk_status st = RK_OK;
    if (!l)
        return RK_OK;
    /* Each home returns once it has nothing left; they run again while an
     * inbox holds a message (rk__home_again). */
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&l->exited, __ATOMIC_ACQUIRE) < l->started) {
        if (rk__now_ns() >= deadline) {
            __atomic_store_n(&l->halt, 1, __ATOMIC_RELEASE);
            st = RK_ETIMEDOUT;
            break;
        }
        rk__sleep_ns(50000);
    }
    return st;
}

/* Halts the homes and waits for their threads. */
static void rk__light_join(rk__cpu_light *l)
{
    __atomic_store_n(&l->halt, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    for (uint32_t h = 0; h < l->homes; h++)
        if (l->home[h].started) {
            pthread_join(l->home[h].thread, NULL);
            l->home[h].started = 0;
        }
}

/* Every published message of actor a's inbox from its head on: one dead
 * letter each. Returns how many. */
static uint64_t rk__light_dead_inbox(rk__cpu_light *l, uint32_t a)
{
    const rk_light_world *w = l->world;
    const uint64_t mask = w->cfg.inbox - 1;
    uint64_t pos = w->actor[a].head, n = 0;
    for (; n < w->cfg.inbox; pos++, n++) {
        const rk_light_msg *m = &w->slot[(size_t)a * w->cfg.inbox + (pos & mask)];
        if (__atomic_load_n(&m->seq, __ATOMIC_RELAXED) != pos + 1)
            break;
        rk__light_dead(l->rt, m, a, RK_ESHUTDOWN);
    }
    return n;
}

/* Messages of the homes' rings to the host that the host did not read. */
static uint64_t rk__light_unread(const rk__cpu_light *l)
{
    uint64_t n = 0;
    for (uint32_t h = 0; h < l->homes; h++) {
        const rk_light_out *o = &l->port->out[h];
        for (uint64_t pos = o->head; pos - o->head < RK_LIGHT_OUT_SLOTS; pos++) {
            if (__atomic_load_n(&o->slot[pos & (RK_LIGHT_OUT_SLOTS - 1)].seq, __ATOMIC_RELAXED) != pos + 1)
                break;
            n++;
        }
    }
    return n;
}

void rk__cpu_light_stop(rk__cpu_light *l, rk_shutdown_report *rep)
{
    if (!l || l->stopped)
        return;
    rk__light_join(l);
    l->stopped = 1;
    for (uint32_t a = 0; a < l->world->cfg.actors; a++)
        rep->dead_lettered += rk__light_dead_inbox(l, a);
    for (uint32_t h = 0; h < l->homes; h++)
        rep->dead_lettered += l->world->home[h].dropped;
    rep->host_unread += rk__light_unread(l);
}

void rk__cpu_light_free(rk__cpu_light *l)
{
    if (!l)
        return;
    if (l->home)
        rk__light_join(l);
    if (l->barrier_ready)
        pthread_barrier_destroy(&l->round);
    while (l->states) {
        rk__light_states *next = l->states->next;
        free(l->states);
        l->states = next;
    }
    free(l->mem);
    free(l->home);
    free(l->state);
    free(l->type);
    free(l);
}

/* ---- the core's operations (rk__light_ops) --------------------------------------------- */

static rk_status rk__cpu_light_spawn(rk_runtime *rt, const rk_light_type *t, uint32_t first, uint32_t n,
                                     const void *initial)
{
    rk__cpu_light *l = rk__cpu_light_of(rt);
    const size_t stride = (t->state_size + RK__LIGHT_STATE_ALIGN - 1) / RK__LIGHT_STATE_ALIGN * RK__LIGHT_STATE_ALIGN;
    rk__light_states *s = calloc(1, sizeof *s + (size_t)n * stride);
    unsigned char *at;
    if (!s)
        return RK_ENOMEM;
    at = (unsigned char *)(s + 1);
    for (uint32_t i = 0; i < n; i++) {
        if (initial && t->state_size)
            memcpy(at + i * stride, initial, t->state_size);
        l->type[first + i] = t;
        l->state[first + i] = t->state_size ? at + i * stride : NULL;
    }
    s->next = l->states;
    l->states = s;
    return RK_OK;
}

static rk_status rk__cpu_light_post(rk_runtime *rt, uint32_t index, uint32_t type, const uint64_t *words)
{
    rk__cpu_light *l = rk__cpu_light_of(rt);
    rk_status st = rk_light_send(l->world, RK_LIGHT_HOST, index, type, words);
    if (st == RK_OK)
        __atomic_fetch_add(&l->posted, 1, __ATOMIC_RELAXED);
    return st;
}

static rk_light_port *rk__cpu_light_port(rk_runtime *rt)
{
    return rk__cpu_light_of(rt)->port;
}

const struct rk__light_ops rk__cpu_light_ops = {
    .spawn = rk__cpu_light_spawn,
    .post = rk__cpu_light_post,
    .port = rk__cpu_light_port,
};
