/* The CPU backend: actors run on persistent worker threads.
 *
 * Each actor has a home worker (id % workers). A worker loops over its
 * actors, handling inbox messages in batches; when none has work it spins
 * briefly, then parks on its eventcount until a sender wakes it. Lifecycle
 * commands travel to the home worker and run between messages, as the GPU
 * supervisor does between handler calls; the host waits for each
 * acknowledgement with a deadline.
 *
 * Work stealing: whoever runs an actor - its messages or a command - holds
 * its run token (one CAS to take, a release store to give), so its handler
 * never runs on two threads at once and each message is handled once, in
 * inbox order. A worker with nothing of its own takes actors with waiting
 * messages from a worker that is busy running another of its actors: one
 * whose last pass found two or more of its actors with work (it also wakes
 * a parked worker to help), or one that has been in the same batch for
 * RK__STUCK_NS - a long handler, which starts no pass and so cannot ask; a
 * thief inside a stolen batch counts as in a batch too, so its own actors
 * are not stranded behind a long stolen handler.
 * Parked workers look every RK__LOOK_NS, and every RK__STUCK_NS / 2 while
 * another worker is in a batch. RK_CPU_STEAL=0 turns stealing off. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/runtime_internal.h"
#include "core/hostq.h"
#include "core/parker.h"
#include "core/supervisor_internal.h"
#include "cpu/cpu_light.h"

#define RK__BATCH 32             /* messages per actor per turn */
#define RK__SPIN_NS 20000ull     /* spin this long before parking */
#define RK__PARK_NS 100000000ull /* re-check at least this often while parked */
#define RK__STUCK_NS 1000000ull  /* one batch this long: thieves take the worker's other actors */
#define RK__LOOK_NS 4000000ull   /* stealing on: parked workers look at least this often */
#define RK__MAX_DEFAULT_WORKERS 8

typedef struct rk__cpu_cmd rk__cpu_cmd;
typedef struct rk__cpu_actor rk__cpu_actor;
typedef struct rk__cpu_worker rk__cpu_worker;

struct rk__cpu_cmd {
    rk__cpu_cmd *next;
    rk__actor *actor;
    rk__cpu_actor *ca; /* RK_EV_CREATE: the actor being created */
    rk_lifecycle_event ev;
    rk_status result;
    int done;      /* under the worker's cmd_lock */
    int abandoned; /* the host stopped waiting; the worker frees it */
    int taken;     /* the worker has started on it (under cmd_lock) */
};

struct rk__cpu_actor {
    rk_control control; /* fields written with atomic stores: the host reads them */
    rk__actor *a;
    rk__cpu_worker *w;
    rk_ring inbox;
    void *inbox_mem;
    void *state;
    uint64_t head;          /* inbox consumer position, worker-private */
    rk__cpu_cmd *terminate; /* acknowledged once the inbox is drained */
    uint32_t pause;         /* atomic: RK__RUNNING, _ASKED or _HELD (checkpoints, below) */
    rk__parker credit;      /* host senders waiting for a free inbox slot */
    uint32_t credit_waiters;/* atomic: how many; the worker wakes them only then */
    uint32_t sup;           /* atomic: its supervisor's restart record + 1, 0 = none */
    uint32_t token;         /* atomic: the run token, 1 while a worker runs it (above) */
};

struct rk__cpu_worker {
    rk_runtime *rt;
    pthread_t thread;
    int started;
    rk__parker parker;
    pthread_mutex_t cmd_lock;
    pthread_cond_t cmd_cv;
    rk__cpu_cmd *cmd_head, *cmd_tail;
    uint32_t cmd_pending; /* atomic: commands queued */
    int stop;             /* atomic */
    uint32_t id;
    rk__cpu_actor *running; /* atomic: the actor it runs now, NULL between actors */
    uint64_t turns;         /* atomic: batches it has started; one that stays is a long handler */
    /* Atomic, padded onto a line of its own (thieves read it while they
     * spin): 1 while its last pass found two or more of its actors with
     * messages. Beside it, what thieves last saw of `turns` and when
     * (rk__stuck). */
    char help_before_[64];
    uint32_t help;
    uint64_t seen_turns, seen_at;
    char help_after_[40];
    /* Written by the worker thread only, under list_lock; read by it
     * without the lock, by thieves with it. */
    pthread_mutex_t list_lock;
    rk__cpu_actor **actors;
    uint32_t n_actors, cap_actors;
};

/* A restart record (below). */
#define RK__CPU_SUPS 64u
#define RK__CPU_SUP_HIST 32u

typedef struct rk__cpu_sup {
    pthread_mutex_t lock;
    int state; /* RK__CPU_SUP_OFF, _ON, _GAVE_UP; the rest under lock too */
    uint32_t max_restarts, head, n;
    uint64_t window_ns, restarts;
    uint64_t hist[RK__CPU_SUP_HIST]; /* rk__now_ns of the latest restarts */
} rk__cpu_sup;

enum { RK__CPU_SUP_OFF = 0, RK__CPU_SUP_ON = 1, RK__CPU_SUP_GAVE_UP = 2 };

typedef struct rk__cpu {
    rk__cpu_worker *workers;
    uint32_t n_workers;
    void *host_mem;
    rk__parker host; /* host threads waiting for the host ring */
    int records;     /* RK_CPU_RESTART_RECORDS: restart records are kept */
    int steal;       /* work stealing (RK_CPU_STEAL, default on) */
    uint32_t n_sups; /* atomic: records handed out */
    rk__cpu_sup sups[RK__CPU_SUPS];
    rk__cpu_light *light; /* light actors (cpu_light.c), or NULL */
} rk__cpu;

struct rk_ctx {
    rk_runtime *rt;
    rk__cpu_actor *ca;
    const rk_msg *msg;
};

static rk__cpu *rk__cpu_of(rk_runtime *rt)
{
    return (rk__cpu *)rt->backend_data;
}

rk__cpu_light *rk__cpu_light_of(rk_runtime *rt)
{
    rk__cpu *cpu = rk__cpu_of(rt);
    return cpu ? cpu->light : NULL;
}

/* ---- control block: written by the worker, read by any host thread --------- */

static uint32_t rk__ctl_load32(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void rk__ctl_store32(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void rk__ctl_add(uint64_t *p, uint64_t v)
{
    /* Only the owning worker writes: a relaxed load+store, not an RMW. */
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static rk_lifecycle_state rk__state(const rk__cpu_actor *ca)
{
    return (rk_lifecycle_state)rk__ctl_load32(&ca->control.state);
}

static void rk__set_state(rk__cpu_actor *ca, rk_lifecycle_state s)
{
    rk__ctl_store32(&ca->control.state, (uint32_t)s);
}

/* ---- enqueue: host sends and K2K ---------------------------------------------- */

/* Copies a message into `ring`, inline or by reference (a runtime buffer,
 * counted by the memory monitor, that the consumer frees after use). */
static rk_status rk__cpu_push(rk_runtime *rt, rk_ring *ring, rk_msg *m, const void *payload)
{
    const int ll = ring == &rt->host_ring && rt->host_stage != NULL;
    void *buf = NULL;
    uint64_t pos;
    rk_status st;
    unsigned char *slot;

    if (m->len > rk_msg_inline_capacity(ll ? rk_ring_ll_capacity(ring->slot_size) : ring->slot_size)) {
        st = rk__payload_alloc(rt, payload, m->len, &buf);
        if (st != RK_OK)
            return st;
        m->flags |= RK_MSG_F_BYREF;
        m->ref = (uint64_t)(uintptr_t)buf;
    }
    st = rk_ring_claim(ring, 1, &pos);
    if (st != RK_OK) {
        rk__payload_free(rt, m);
        m->flags &= ~(uint32_t)RK_MSG_F_BYREF;
        m->ref = 0;
        return st;
    }
    if (ll) {
        rk_ring_ll_put(ring, pos, 8, (const unsigned char *)m + 8, RK_MSG_HEADER_SIZE - 8);
        if (!buf && m->len)
            rk_ring_ll_put(ring, pos, RK_MSG_HEADER_SIZE, payload, m->len);
        rk_ring_ll_publish(ring, pos);
        return RK_OK;
    }
    slot = rk_ring_slot(ring, pos);
    memcpy(slot + 8, (const unsigned char *)m + 8, RK_MSG_HEADER_SIZE - 8);
    if (!buf && m->len)
        memcpy(slot + RK_MSG_HEADER_SIZE, payload, m->len);
    rk_ring_publish(ring, pos, 1);
    return RK_OK;
}

static rk_status rk__cpu_deliver(rk_runtime *rt, rk__actor *dst, rk_msg *m, const void *payload)
{
    rk_status st;
    if (!dst) {
        st = rk__cpu_push(rt, &rt->host_ring, m, payload);
        if (st == RK_OK)
            rk__parker_wake(&rk__cpu_of(rt)->host);
        return st;
    }
    rk__cpu_actor *ca = dst->backend;
    st = rk__cpu_push(rt, &ca->inbox, m, payload);
    if (st == RK_OK)
        rk__parker_wake(&ca->w->parker);
    return st;
}

static rk_status rk__cpu_send(rk_runtime *rt, rk__actor *a, rk_msg *hdr, const void *payload)
{
    return rk__cpu_deliver(rt, a, hdr, payload);
}

/* Each message into the inbox in turn, then one wake-up of the worker for
 * them all. */
static rk_status rk__cpu_send_batch(rk_runtime *rt, rk__actor *a, rk_msg *hdrs, const void *payloads, uint32_t len,
                                    uint32_t n, uint32_t *sent)
{
    rk__cpu_actor *ca = a->backend;
    const unsigned char *p = payloads;
    rk_status st = RK_OK;
    uint32_t i;
    for (i = 0; i < n; i++)
        if ((st = rk__cpu_push(rt, &ca->inbox, &hdrs[i], p + (size_t)i * len)) != RK_OK)
            break;
    if (i)
        rk__parker_wake(&ca->w->parker);
    *sent = i;
    return st;
}

/* ---- the handler's context ------------------------------------------------------ */

rk_actor_id rk_self(const rk_ctx *ctx)
{
    return ctx ? ctx->ca->a->id : RK_ACTOR_NONE;
}

uint32_t rk_generation(const rk_ctx *ctx)
{
    return ctx ? ctx->ca->control.generation : 0;
}

uint32_t rk_tenant(const rk_ctx *ctx)
{
    return ctx ? ctx->ca->a->tenant : 0;
}

rk_runtime *rk__ctx_runtime(const rk_ctx *ctx)
{
    return ctx->rt;
}

/* rk__dispatch's last step for a handler's send to its own runtime. */
static rk_status rk__cpu_deliver_routed(rk_runtime *rt, rk__actor *dst, rk_msg *m, const void *payload)
{
    rk_status st = rk__cpu_deliver(rt, dst, m, payload);
    if (st != RK_OK)
        rk__send_refused(rt, m, dst, st);
    return st;
}

rk_status rk__ctx_emit(rk_ctx *ctx, rk_msg *m, const void *payload)
{
    rk_status st;
    m->src = ctx->ca->a->id;
    m->src_gen = ctx->ca->control.generation;
    m->tenant = ctx->ca->a->tenant;
    if (rk_is_light(m->dst))
        st = rk__cpu_light_from_actor(ctx->rt, m, payload);
    else
        st = rk__dispatch(ctx->rt, m, payload, rk__cpu_deliver_routed);
    rk__ctl_add(st == RK_OK ? &ctx->ca->control.msgs_out : &ctx->ca->control.errors, 1);
    return st;
}

rk_status rk__cpu_light_to_actor(rk_runtime *rt, rk_actor_id src, rk_actor_id dst, uint32_t type, const void *payload,
                                 uint32_t len)
{
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.src = src;
    m.src_gen = 1;
    m.dst = dst;
    m.len = len;
    return rk__dispatch(rt, &m, payload, rk__cpu_deliver_routed);
}

rk_status rk_ctx_send(rk_ctx *ctx, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len)
{
    rk_msg m;
    if (!ctx || (len > 0 && !payload))
        return RK_EINVAL;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.dst = dst;
    m.len = len;
    return rk__ctx_emit(ctx, &m, payload);
}

rk_status rk_reply(rk_ctx *ctx, uint32_t type, const void *payload, uint32_t len)
{
    rk_msg m;
    if (!ctx || !ctx->msg || !(ctx->msg->flags & RK_MSG_F_REQUEST) || (len > 0 && !payload))
        return RK_EINVAL;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.flags = RK_MSG_F_REPLY;
    m.corr = ctx->msg->corr;
    m.dst = ctx->msg->src;
    m.dst_gen = ctx->msg->src == RK_ACTOR_HOST ? 0 : ctx->msg->src_gen;
    m.len = len;
    return rk__ctx_emit(ctx, &m, payload);
}

/* ---- running actors (worker thread) ---------------------------------------------- */

static void rk__ack(rk__cpu_worker *w, rk__cpu_cmd *cmd, rk_status st);

static int rk__sup_charge(rk__cpu_sup *r);

/* The actor failed: Failed, reported. Returns 1 when its restart record
 * (with `may_restart`: not at creation) allows a restart, which the caller
 * then makes (rk__self_restart); the control block says so
 * (RK_CONTROL_F_RESTARTING) before it says Failed. Not while it
 * terminates: the host wanted it stopped. */
static int rk__fail(rk__cpu_actor *ca, rk_status st, int may_restart)
{
    rk_runtime *rt = ca->w->rt;
    const uint32_t sup = may_restart && !ca->terminate ? __atomic_load_n(&ca->sup, __ATOMIC_ACQUIRE) : 0;
    const int again = sup != 0 && rk__sup_charge(&rk__cpu_of(rt)->sups[sup - 1]);
    uint64_t now;
    rk__ctl_store32(&ca->control.flags, again ? RK_CONTROL_F_RESTARTING : 0u);
    rk_hlc_now(&rt->hlc, &now);
    rk__ctl_store32((uint32_t *)&ca->control.last_error, (uint32_t)st);
    __atomic_store_n(&ca->control.last_error_hlc, now, __ATOMIC_RELAXED);
    rk__ctl_add(&ca->control.errors, 1);
    rk__set_state(ca, RK_FAILED);
    /* A terminate waiting for the drain would wait for the deadline: a
     * Failed actor never drains. */
    if (ca->terminate) {
        rk__ack(ca->w, ca->terminate, RK_EFAILED);
        ca->terminate = NULL;
    }
    rk__event_emit(rt, RK_EVENT_STATE, ca->a->id, ca->control.generation, ca->a->tenant, RK_FAILED);
    rk__async_error(rt, ca->a->id, ca->control.generation, st);
    return again;
}

/* Fresh state from the initial copy, then the type's init. */
static rk_status rk__init_state(rk__cpu_actor *ca)
{
    rk_ctx ctx = {ca->w->rt, ca, NULL};
    if (ca->a->state_size && ca->a->initial_state)
        memcpy(ca->state, ca->a->initial_state, ca->a->state_size);
    else if (ca->a->state_size)
        memset(ca->state, 0, ca->a->state_size); /* no initial state (restarted after it moved in) */
    return ca->a->type->init ? ca->a->type->init(&ctx, ca->state) : RK_OK;
}

static void rk__ack(rk__cpu_worker *w, rk__cpu_cmd *cmd, rk_status st)
{
    pthread_mutex_lock(&w->cmd_lock);
    cmd->result = st;
    cmd->done = 1;
    if (cmd->abandoned)
        free(cmd);
    else
        pthread_cond_broadcast(&w->cmd_cv);
    pthread_mutex_unlock(&w->cmd_lock);
}

/* The restart a record allowed, in place as the host's would be: next
 * generation, fresh state, init - again while init fails and the record
 * allows it. Then the flag goes, and the core rebinds the name. */
static void rk__self_restart(rk__cpu_actor *ca)
{
    rk_status st;
    do {
        rk__ctl_store32(&ca->control.generation, ca->control.generation + 1);
        rk__ctl_add(&ca->control.restarts, 1);
        rk__set_state(ca, RK_INITIALIZING);
        st = rk__init_state(ca);
    } while (st != RK_OK && rk__fail(ca, st, 1));
    if (st == RK_OK) {
        rk__set_state(ca, RK_ACTIVE);
        rk__ctl_store32(&ca->control.flags, 0u);
    }
    rk__actor_restarted(ca->w->rt, ca->a->id, ca->control.generation);
}

/* Handles one message; returns whether the actor can go on. */
static int rk__handle(rk__cpu_actor *ca, const rk_msg *m)
{
    rk_runtime *rt = ca->w->rt;
    if (m->dst_gen != 0 && m->dst_gen != ca->control.generation) {
        rk__dead_letter(&rt->dead, m, RK_ESTALE);
        rk__ctl_add(&ca->control.dead_letters, 1);
        return 1;
    }
    rk_ctx ctx = {rt, ca, m};
    rk_status st = ca->a->type->handle(&ctx, ca->state, m);
    rk__ctl_add(&ca->control.msgs_in, 1);
    if (st != RK_OK) {
        if (rk__fail(ca, st, 1))
            rk__self_restart(ca);
        return 0;
    }
    return 1;
}

/* Wakes host senders waiting for inbox slots, after rk_ring_consume freed
 * some. A seq-cst read-modify-write, not a load: it orders the head store
 * before the read of the count (Dekker with rk__cpu_credit_wait, which
 * counts itself before it looks at the head), so either we see the waiter
 * or it sees the room. One locked instruction per batch, none per message. */
static void rk__credit_freed(rk__cpu_actor *ca)
{
    if (__atomic_fetch_add(&ca->credit_waiters, 0, __ATOMIC_SEQ_CST) != 0)
        rk__parker_wake(&ca->credit);
}

/* The run token. Acquire on taking and release on giving up: the inbox
 * head, the state, the pending terminate and whatever the handlers wrote
 * pass from one holder to the next. */
static int rk__token_take(rk__cpu_actor *ca)
{
    uint32_t free_ = 0;
    return __atomic_compare_exchange_n(&ca->token, &free_, 1u, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void rk__token_give(rk__cpu_actor *ca)
{
    __atomic_store_n(&ca->token, 0u, __ATOMIC_RELEASE);
}

/* For a command: a thief gives the token up after at most one batch. */
static void rk__token_wait(rk__cpu_actor *ca)
{
    while (!rk__token_take(ca))
        rk__cpu_relax();
}

/* Whether a message may be waiting, without the token: the slot after the
 * head last published (a hint, for choosing; the holder checks again). */
static int rk__maybe_ready(rk__cpu_actor *ca)
{
    return rk_ring_ready(&ca->inbox, __atomic_load_n(&ca->control.inbox_head, __ATOMIC_RELAXED)) != NULL;
}

enum { RK__RUNNING = 0, RK__ASKED = 1, RK__HELD = 2 };

/* Whether a checkpoint holds the actor; grants a pending request, as we
 * are between two of its messages. Acq_rel: the handlers' writes to the
 * state and our inbox head reach the host, whose acquire load sees HELD. */
static int rk__held(rk__cpu_actor *ca)
{
    uint32_t p = __atomic_load_n(&ca->pause, __ATOMIC_ACQUIRE);
    /* A failed CAS leaves RUNNING in p: the host withdrew the request. */
    if (p == RK__ASKED)
        __atomic_compare_exchange_n(&ca->pause, &p, RK__HELD, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return p != RK__RUNNING;
}

/* Runs up to `budget` queued messages of one actor; returns how many it took
 * off the inbox. A terminated actor's late arrivals are dead-lettered. */
static uint32_t rk__run_actor(rk__cpu_actor *ca, uint32_t budget)
{
    rk_lifecycle_state s = rk__state(ca);
    const rk_msg *m;
    uint32_t n = 0;
    int dead = s == RK_TERMINATED;

    if (rk__held(ca))
        return 0;
    if (!dead && !rk_lifecycle_runs(s))
        return 0;
    while (n < budget && !__atomic_load_n(&ca->w->stop, __ATOMIC_ACQUIRE) &&
           (m = rk_ring_ready(&ca->inbox, ca->head)) != NULL) {
        int go = 1;
        if (dead) {
            rk__dead_letter(&ca->w->rt->dead, m, RK_ESTATE);
            rk__ctl_add(&ca->control.dead_letters, 1);
        } else {
            go = rk__handle(ca, m);
        }
        rk__payload_free(ca->w->rt, m);
        ca->head++;
        n++;
        if (!go)
            break;
    }
    if (n) {
        rk_ring_consume(&ca->inbox, ca->head);
        __atomic_store_n(&ca->control.inbox_head, ca->head, __ATOMIC_RELAXED);
        rk__credit_freed(ca);
    }
    if (ca->terminate && rk__state(ca) == RK_DRAINING && !rk_ring_ready(&ca->inbox, ca->head)) {
        rk__set_state(ca, RK_TERMINATED);
        rk__ack(ca->w, ca->terminate, RK_OK);
        ca->terminate = NULL;
    }
    return n;
}

static rk_status rk__attach(rk__cpu_worker *w, rk__cpu_actor *ca)
{
    rk_status st = RK_OK;
    pthread_mutex_lock(&w->list_lock);
    if (w->n_actors == w->cap_actors) {
        uint32_t cap = w->cap_actors ? 2 * w->cap_actors : 8;
        rk__cpu_actor **p = realloc(w->actors, cap * sizeof *p);
        if (p) {
            w->actors = p;
            w->cap_actors = cap;
        } else {
            st = RK_ENOMEM;
        }
    }
    if (st == RK_OK)
        w->actors[w->n_actors++] = ca;
    pthread_mutex_unlock(&w->list_lock);
    return st;
}

/* Dormant -> Initializing -> Active, or Failed if init fails (after a
 * restart, its record may restart it again). */
static rk_status rk__start_actor(rk__cpu_actor *ca, int restart)
{
    rk_status st;
    rk__set_state(ca, RK_INITIALIZING);
    /* A migration's new home: its state is moved in while it is held. */
    st = !restart && ca->a->moved_in ? RK_OK : rk__init_state(ca);
    if (st != RK_OK) {
        if (rk__fail(ca, st, restart))
            rk__self_restart(ca);
        return RK_EHANDLER;
    }
    rk__set_state(ca, RK_ACTIVE);
    return RK_OK;
}

/* Applies one lifecycle command; returns 0 when the ack is deferred. */
static int rk__apply(rk__cpu_worker *w, rk__cpu_cmd *cmd, rk_status *result)
{
    rk__cpu_actor *ca = cmd->actor->backend;
    rk_lifecycle_state to;
    rk_status st = rk_lifecycle_next(rk__state(ca), cmd->ev, &to);

    if (st != RK_OK) {
        *result = st;
        return 1;
    }
    switch (cmd->ev) {
    case RK_EV_CREATE:
        /* Held from before thieves can see it until it has started. */
        __atomic_store_n(&ca->token, 1u, __ATOMIC_RELAXED);
        st = rk__attach(w, ca);
        *result = st == RK_OK ? rk__start_actor(ca, 0) : st;
        if (st == RK_OK && *result != RK_OK) {
            pthread_mutex_lock(&w->list_lock);
            w->n_actors--; /* the host frees it after the ack */
            pthread_mutex_unlock(&w->list_lock);
            return 1; /* no thief can hold it: it was never given */
        }
        rk__token_give(ca);
        return 1;
    case RK_EV_TERMINATE:
        if (ca->terminate) { /* already terminating: only one waits */
            *result = RK_ESTATE;
            return 1;
        }
        rk__set_state(ca, RK_DRAINING);
        ca->terminate = cmd;
        return 0;
    case RK_EV_RESTART:
        if (ca->terminate) {
            rk__ack(w, ca->terminate, RK_ESTATE);
            ca->terminate = NULL;
        }
        rk__ctl_store32(&ca->control.generation, ca->control.generation + 1);
        rk__ctl_add(&ca->control.restarts, 1);
        *result = rk__start_actor(ca, 1);
        return 1;
    default:
        /* A terminate stays in force even after its caller timed out (as on
         * the CUDA backend): activate and deactivate are refused until it
         * completes, or a later deactivate would end in Terminated. */
        if (ca->terminate && (cmd->ev == RK_EV_ACTIVATE || cmd->ev == RK_EV_DEACTIVATE)) {
            *result = RK_ESTATE;
            return 1;
        }
        rk__set_state(ca, to);
        *result = RK_OK;
        return 1;
    }
}

static void rk__run_commands(rk__cpu_worker *w)
{
    for (;;) {
        rk__cpu_cmd *cmd;
        rk_status result = RK_OK;
        pthread_mutex_lock(&w->cmd_lock);
        cmd = w->cmd_head;
        if (cmd) {
            w->cmd_head = cmd->next;
            if (!w->cmd_head)
                w->cmd_tail = NULL;
            __atomic_fetch_sub(&w->cmd_pending, 1, __ATOMIC_RELAXED);
            cmd->taken = 1;
        }
        if (cmd && cmd->abandoned && cmd->ev == RK_EV_CREATE) {
            rk__cpu_actor *ca = cmd->ca;
            free(cmd);
            pthread_mutex_unlock(&w->cmd_lock);
            rk__parker_destroy(&ca->credit);
            free(ca->inbox_mem);
            free(ca->state);
            free(ca);
            continue;
        }
        pthread_mutex_unlock(&w->cmd_lock);
        if (!cmd)
            return;
        /* A new actor's token is taken inside (rk__apply). */
        rk__cpu_actor *ca = cmd->ev == RK_EV_CREATE ? NULL : cmd->actor->backend;
        if (ca)
            rk__token_wait(ca);
        int now = rk__apply(w, cmd, &result);
        if (ca)
            rk__token_give(ca);
        if (now)
            rk__ack(w, cmd, result);
    }
}

/* Whether the worker has something to do before it parks. An actor a thief
 * holds is not its work: the thief wakes it if messages are left when it
 * gives the token up (rk__steal). */
static int rk__has_work(rk__cpu_worker *w)
{
    if (__atomic_load_n(&w->cmd_pending, __ATOMIC_ACQUIRE) || __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
        return 1;
    for (uint32_t i = 0; i < w->n_actors; i++) {
        rk__cpu_actor *ca = w->actors[i];
        rk_lifecycle_state s = rk__state(ca);
        uint32_t pause = __atomic_load_n(&ca->pause, __ATOMIC_ACQUIRE);
        int ready;
        if (pause == RK__ASKED)
            return 1;
        if (pause == RK__HELD)
            continue; /* the host owns its inbox head */
        if (!(rk_lifecycle_runs(s) || s == RK_TERMINATED) || !rk__token_take(ca))
            continue;
        ready = rk_ring_ready(&ca->inbox, ca->head) != NULL;
        rk__token_give(ca);
        if (ready)
            return 1;
    }
    return 0;
}

/* Whether `v` has been in one batch (one actor's handler, most likely) for
 * RK__STUCK_NS: it then cannot ask for help itself, its pass being what
 * raises `help`. Thieves note its batch count and when they first saw it. */
static int rk__stuck(rk__cpu_worker *v)
{
    const uint64_t turns = __atomic_load_n(&v->turns, __ATOMIC_RELAXED), now = rk__now_ns();
    if (__atomic_load_n(&v->seen_turns, __ATOMIC_RELAXED) != turns) {
        /* Two thieves may interleave here; at worst one steals a little
         * early, which the run token makes harmless. */
        __atomic_store_n(&v->seen_at, now, __ATOMIC_RELAXED);
        __atomic_store_n(&v->seen_turns, turns, __ATOMIC_RELAXED);
        return 0;
    }
    return now - __atomic_load_n(&v->seen_at, __ATOMIC_RELAXED) >= RK__STUCK_NS;
}

/* Worker w runs a batch of actor ca (its own, or one it stole): `running`
 * and the batch count say so to thieves (rk__stuck). Returns how many
 * messages it took; the caller holds ca's token. */
static uint32_t rk__run_batch(rk__cpu_worker *w, rk__cpu_actor *ca)
{
    uint32_t k;
    __atomic_store_n(&w->running, ca, __ATOMIC_RELAXED);
    __atomic_store_n(&w->turns, __atomic_load_n(&w->turns, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    k = rk__run_actor(ca, RK__BATCH);
    __atomic_store_n(&w->running, NULL, __ATOMIC_RELAXED);
    return k;
}

/* Thief w runs a batch of an actor of another worker, `v`, that is busy
 * with one of its own: the first with waiting messages whose token is
 * free. Returns how many messages it took. The victim's list lock is only
 * tried, so thieves never wait on each other or on its owner. While it runs
 * the stolen batch, w is busy like any worker in a batch: a long stolen
 * handler lets others take w's own actors in turn. */
static uint32_t rk__steal_from(rk__cpu_worker *w, rk__cpu_worker *v)
{
    rk__cpu_actor *busy = __atomic_load_n(&v->running, __ATOMIC_RELAXED), *ca = NULL;
    uint32_t n;
    if (!busy || (!__atomic_load_n(&v->help, __ATOMIC_RELAXED) && !rk__stuck(v)))
        return 0;
    if (pthread_mutex_trylock(&v->list_lock) != 0)
        return 0;
    for (uint32_t i = 0; i < v->n_actors; i++) {
        rk__cpu_actor *c = v->actors[i];
        if (c == busy || __atomic_load_n(&c->token, __ATOMIC_RELAXED) || !rk__maybe_ready(c))
            continue;
        if (rk__token_take(c)) {
            ca = c;
            break;
        }
    }
    pthread_mutex_unlock(&v->list_lock);
    if (!ca)
        return 0;
    n = rk__run_batch(w, ca);
    rk__token_give(ca);
    /* Its owner may have parked while we held it (rk__has_work). */
    if (rk__maybe_ready(ca) || __atomic_load_n(&ca->pause, __ATOMIC_ACQUIRE) == RK__ASKED)
        rk__parker_wake(&v->parker);
    return n;
}

/* Whether another worker is in a batch now: a parked worker then wakes
 * often enough to see it stuck (nobody wakes it for that). */
static int rk__others_running(const rk__cpu_worker *w)
{
    rk__cpu *cpu = rk__cpu_of(w->rt);
    for (uint32_t k = 0; k < cpu->n_workers; k++)
        if (&cpu->workers[k] != w && __atomic_load_n(&cpu->workers[k].running, __ATOMIC_RELAXED))
            return 1;
    return 0;
}

/* How long a worker with nothing to do parks. Nobody wakes it when another
 * worker's batch runs long (its own actors are what wakes it), so with
 * stealing on it looks every RK__LOOK_NS, and every RK__STUCK_NS / 2 while
 * another worker is in a batch. */
static uint64_t rk__park_ns(const rk__cpu_worker *w, int steal)
{
    if (!steal)
        return RK__PARK_NS;
    return rk__others_running(w) ? RK__STUCK_NS / 2 : RK__LOOK_NS;
}

static uint32_t rk__steal(rk__cpu_worker *w)
{
    rk__cpu *cpu = rk__cpu_of(w->rt);
    for (uint32_t k = 1; k < cpu->n_workers; k++) {
        uint32_t n = rk__steal_from(w, &cpu->workers[(w->id + k) % cpu->n_workers]);
        if (n)
            return n;
    }
    return 0;
}

/* After a pass in which `busy` of its actors had messages: with two or
 * more, thieves may take them (w->help, stored only when it changes), and
 * one parked worker is woken to steal (the next one after the last woken,
 * round robin). */
static void rk__call_help(rk__cpu_worker *w, uint32_t busy, uint32_t *next)
{
    rk__cpu *cpu = rk__cpu_of(w->rt);
    const uint32_t want = busy >= 2;
    if (__atomic_load_n(&w->help, __ATOMIC_RELAXED) != want)
        __atomic_store_n(&w->help, want, __ATOMIC_RELAXED);
    if (!want || cpu->n_workers < 2)
        return;
    for (uint32_t k = 1; k < cpu->n_workers; k++) {
        rk__cpu_worker *h = &cpu->workers[(w->id + *next + k) % cpu->n_workers];
        if (h != w && __atomic_load_n(&h->parker.waiters, __ATOMIC_RELAXED)) {
            *next = (*next + k) % cpu->n_workers;
            rk__parker_wake(&h->parker);
            return;
        }
    }
}

static void *rk__worker_main(void *arg)
{
    rk__cpu_worker *w = arg;
    const int steal = rk__cpu_of(w->rt)->steal;
    uint64_t idle_since = 0;
    uint32_t next_helper = 0;

    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        uint32_t n = 0, busy = 0;
        if (__atomic_load_n(&w->cmd_pending, __ATOMIC_ACQUIRE))
            rk__run_commands(w);
        for (uint32_t i = 0; i < w->n_actors; i++) {
            rk__cpu_actor *ca = w->actors[i];
            uint32_t k;
            /* Nothing to do without a message, a checkpoint's request or a
             * drain to finish: then not even the token's CAS. */
            if (!rk__maybe_ready(ca) && __atomic_load_n(&ca->pause, __ATOMIC_RELAXED) == RK__RUNNING &&
                rk__state(ca) != RK_DRAINING)
                continue;
            if (!rk__token_take(ca)) {
                busy++; /* a thief runs it: still work of ours */
                continue;
            }
            k = rk__run_batch(w, ca);
            rk__token_give(ca);
            n += k;
            busy += k != 0;
        }
        if (steal) {
            rk__call_help(w, busy, &next_helper);
            if (!n)
                n = rk__steal(w);
        }
        if (n) {
            idle_since = 0;
            continue;
        }
        uint64_t now = rk__now_ns();
        if (idle_since == 0)
            idle_since = now;
        for (uint32_t i = 0; i < w->n_actors; i++)
            __atomic_store_n(&w->actors[i]->control.heartbeat, now, __ATOMIC_RELAXED);
        if (now - idle_since < RK__SPIN_NS) {
            rk__cpu_relax();
            continue;
        }
        uint64_t epoch = rk__parker_epoch(&w->parker);
        if (!rk__has_work(w))
            rk__parker_wait(&w->parker, epoch, rk__deadline(rk__park_ns(w, steal)));
        idle_since = 0;
    }
    return NULL;
}

/* ---- host side ------------------------------------------------------------------ */

static rk_status rk__post(rk_runtime *rt, rk__actor *a, rk_lifecycle_event ev, uint64_t deadline)
{
    rk__cpu_actor *ca = a->backend;
    int create = ev == RK_EV_CREATE;
    rk__cpu_worker *w = &rk__cpu_of(rt)->workers[a->id % rk__cpu_of(rt)->n_workers];
    rk__cpu_cmd *cmd = calloc(1, sizeof *cmd);
    struct timespec ts = {(time_t)(deadline / 1000000000ull), (long)(deadline % 1000000000ull)};
    rk_status st;

    if (!cmd)
        return RK_ENOMEM;
    cmd->actor = a;
    cmd->ca = ca;
    cmd->ev = ev;
    pthread_mutex_lock(&w->cmd_lock);
    if (w->cmd_tail)
        w->cmd_tail->next = cmd;
    else
        w->cmd_head = cmd;
    w->cmd_tail = cmd;
    __atomic_fetch_add(&w->cmd_pending, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->cmd_lock);
    rk__parker_wake(&w->parker);

    pthread_mutex_lock(&w->cmd_lock);
    /* A create the worker has started must be waited for: it reads the slot. */
    while (!cmd->done && (rk__now_ns() < deadline || (create && cmd->taken)))
        pthread_cond_timedwait(&w->cmd_cv, &w->cmd_lock, &ts);
    if (cmd->done) {
        st = cmd->result;
        free(cmd);
    } else {
        cmd->abandoned = 1; /* the worker frees it when it gets there */
        st = RK_ETIMEDOUT;
    }
    pthread_mutex_unlock(&w->cmd_lock);
    return st;
}

static void rk__cpu_actor_free(rk__cpu_actor *ca)
{
    if (!ca)
        return;
    rk__parker_destroy(&ca->credit);
    free(ca->inbox_mem);
    free(ca->state);
    free(ca);
}

static rk_status rk__cpu_actor_create(rk_runtime *rt, rk__actor *a, uint64_t deadline)
{
    rk__cpu *cpu = rk__cpu_of(rt);
    rk__cpu_actor *ca;
    rk_status st = RK_ENOMEM;
    size_t bytes = rk_ring_bytes(a->inbox_capacity, a->slot_size);

    if (!a->type->handle)
        return RK_EINVAL;
    ca = aligned_alloc(RK_RING_LINE, sizeof *ca + RK_RING_LINE - sizeof *ca % RK_RING_LINE);
    if (!ca)
        return RK_ENOMEM;
    memset(ca, 0, sizeof *ca);
    if (rk__parker_init(&ca->credit) != 0) {
        free(ca);
        return RK_ENOMEM;
    }
    ca->a = a;
    ca->w = &cpu->workers[a->id % cpu->n_workers];
    ca->inbox_mem = aligned_alloc(RK_RING_LINE, (bytes + RK_RING_LINE - 1) / RK_RING_LINE * RK_RING_LINE);
    ca->state = a->state_size ? malloc(a->state_size) : NULL;
    if (!ca->inbox_mem || (a->state_size && !ca->state))
        goto fail;
    st = rk_ring_init(&ca->inbox, ca->inbox_mem, a->inbox_capacity, a->slot_size, RK_RING_MPSC,
                      RK_RING_SCOPE_SYSTEM);
    if (st != RK_OK)
        goto fail;
    ca->control.id = a->id;
    ca->control.tenant = a->tenant;
    ca->control.generation = 1;
    ca->control.parent = RK_ACTOR_NONE;
    ca->control.type = a->type->gpu_type;
    ca->control.state = RK_DORMANT;
    a->backend = ca;
    st = rk__post(rt, a, RK_EV_CREATE, deadline);
    if (st == RK_OK)
        return RK_OK;
    if (st == RK_ETIMEDOUT)
        return st; /* the worker drops and frees it */
fail:
    a->backend = NULL;
    rk__cpu_actor_free(ca);
    return st;
}

static rk_status rk__cpu_actor_command(rk_runtime *rt, rk__actor *a, rk_lifecycle_event ev, uint64_t deadline)
{
    return rk__post(rt, a, ev, deadline);
}

static rk_lifecycle_state rk__cpu_actor_state(rk_runtime *rt, rk__actor *a)
{
    (void)rt;
    return rk__state(a->backend);
}

static rk_status rk__cpu_actor_control(rk_runtime *rt, rk__actor *a, rk_control *out)
{
    const rk__cpu_actor *ca = a->backend;
    const uint64_t *src = (const uint64_t *)&ca->control;
    uint64_t *dst = (uint64_t *)out;
    (void)rt;
    /* Word by word with atomic loads: the worker updates it as we read.
     * Acquire: a state read comes with the flags stored before it. */
    for (size_t i = 0; i < sizeof *out / sizeof *dst; i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_ACQUIRE);
    out->inbox_tail = __atomic_load_n(&ca->inbox.prod->tail, __ATOMIC_RELAXED);
    return RK_OK;
}

static uint64_t rk__cpu_host_epoch(rk_runtime *rt)
{
    return rk__parker_epoch(&rk__cpu_of(rt)->host);
}

static void rk__cpu_host_wait(rk_runtime *rt, uint64_t epoch, uint64_t deadline)
{
    rk__parker_wait(&rk__cpu_of(rt)->host, epoch, deadline);
}

static void rk__cpu_host_wake(rk_runtime *rt)
{
    rk__parker_wake(&rk__cpu_of(rt)->host);
}

static void rk__cpu_host_release(rk_runtime *rt, const rk_msg *m)
{
    rk__payload_free(rt, m);
}

/* ---- credits ------------------------------------------------------------------------- */

static rk_status rk__cpu_queue_depth(rk_runtime *rt, rk__actor *a, uint64_t *depth)
{
    *depth = rk_ring_depth(a ? &((rk__cpu_actor *)a->backend)->inbox : &rt->host_ring);
    return RK_OK;
}

static void rk__cpu_credit_wait(rk_runtime *rt, rk__actor *a, uint64_t deadline)
{
    rk__cpu_actor *ca = a->backend;
    uint64_t epoch;
    (void)rt;
    /* Counted before the look at the head: see rk__credit_freed. */
    __atomic_fetch_add(&ca->credit_waiters, 1, __ATOMIC_SEQ_CST);
    epoch = rk__parker_epoch(&ca->credit);
    if (rk_ring_depth(&ca->inbox) >= ca->inbox.capacity)
        rk__parker_wait(&ca->credit, epoch, deadline);
    __atomic_fetch_sub(&ca->credit_waiters, 1, __ATOMIC_RELAXED);
}

rk_status rk_ctx_credits(rk_ctx *ctx, rk_actor_id dst, uint32_t *credits)
{
    if (!ctx || !credits)
        return RK_EINVAL;
    return rk__credits(ctx->rt, dst, credits);
}

/* ---- start, drain, stop ----------------------------------------------------------- */

static uint32_t rk__default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return (uint32_t)(n > RK__MAX_DEFAULT_WORKERS ? RK__MAX_DEFAULT_WORKERS : n);
}

static void rk__cpu_free(rk__cpu *cpu)
{
    for (uint32_t i = 0; i < cpu->n_workers; i++) {
        rk__cpu_worker *w = &cpu->workers[i];
        rk__parker_destroy(&w->parker);
        pthread_mutex_destroy(&w->cmd_lock);
        pthread_mutex_destroy(&w->list_lock);
        pthread_cond_destroy(&w->cmd_cv);
        free(w->actors);
    }
    rk__cpu_light_free(cpu->light);
    rk__parker_destroy(&cpu->host);
    for (uint32_t i = 0; i < RK__CPU_SUPS; i++)
        pthread_mutex_destroy(&cpu->sups[i].lock);
    free(cpu->workers);
    free(cpu->host_mem);
    free(cpu);
}

static int rk__worker_init(rk__cpu_worker *w, rk_runtime *rt, uint32_t id)
{
    pthread_condattr_t attr;
    w->rt = rt;
    w->id = id;
    if (rk__parker_init(&w->parker) != 0)
        return -1;
    pthread_mutex_init(&w->cmd_lock, NULL);
    pthread_mutex_init(&w->list_lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cmd_cv, &attr);
    pthread_condattr_destroy(&attr);
    return 0;
}

static void rk__stop_workers(rk__cpu *cpu)
{
    for (uint32_t i = 0; i < cpu->n_workers; i++) {
        rk__cpu_worker *w = &cpu->workers[i];
        if (!w->started)
            continue;
        __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
        rk__parker_wake(&w->parker);
        pthread_join(w->thread, NULL);
        w->started = 0;
    }
}

static rk_status rk__cpu_start(rk_runtime *rt)
{
    rk__cpu *cpu = calloc(1, sizeof *cpu);
    uint32_t n = rt->opt.workers ? rt->opt.workers : rk__default_workers();
    /* RK_CPU_HOST_LL=1: the host ring gets flag-per-word slots, as the CUDA
     * backend's has, so that the host's reading of them runs in these tests
     * and under the sanitizers. */
    const int ll = getenv("RK_CPU_HOST_LL") && strcmp(getenv("RK_CPU_HOST_LL"), "1") == 0;
    const uint32_t slot = ll ? rk_ring_ll_slot_size(rt->opt.host_slot_size) : rt->opt.host_slot_size;
    size_t bytes = rk_ring_bytes(rt->opt.host_queue_capacity, slot);
    rk_status st = RK_ENOMEM;

    if (!cpu)
        return RK_ENOMEM;
    if (rk__parker_init(&cpu->host) != 0) {
        free(cpu);
        return RK_ENOMEM;
    }
    for (uint32_t i = 0; i < RK__CPU_SUPS; i++)
        pthread_mutex_init(&cpu->sups[i].lock, NULL);
    cpu->records = getenv("RK_CPU_RESTART_RECORDS") && strcmp(getenv("RK_CPU_RESTART_RECORDS"), "1") == 0;
    cpu->steal = !(getenv("RK_CPU_STEAL") && strcmp(getenv("RK_CPU_STEAL"), "0") == 0);
    cpu->workers = calloc(n, sizeof *cpu->workers);
    cpu->host_mem = aligned_alloc(RK_RING_LINE, (bytes + RK_RING_LINE - 1) / RK_RING_LINE * RK_RING_LINE);
    if (!cpu->workers || !cpu->host_mem)
        goto fail;
    for (; cpu->n_workers < n; cpu->n_workers++)
        if (rk__worker_init(&cpu->workers[cpu->n_workers], rt, cpu->n_workers) != 0)
            goto fail;
    st = rk_ring_init(&rt->host_ring, cpu->host_mem, rt->opt.host_queue_capacity, slot, RK_RING_MPSC,
                      RK_RING_SCOPE_SYSTEM);
    if (st == RK_OK && ll)
        st = rk__hostq_ll(rt, rt->opt.host_slot_size);
    if (st != RK_OK)
        goto fail;
    rt->backend_data = cpu;
    for (uint32_t i = 0; i < n; i++) {
        if (pthread_create(&cpu->workers[i].thread, NULL, rk__worker_main, &cpu->workers[i]) != 0) {
            st = RK_ENOMEM;
            goto fail;
        }
        cpu->workers[i].started = 1;
    }
    if (rt->opt.light.actors) {
        st = rk__cpu_light_start(rt, &cpu->light);
        if (st != RK_OK)
            goto fail;
    }
    return RK_OK;
fail:
    rk__stop_workers(cpu);
    rt->backend_data = NULL;
    memset(&rt->host_ring, 0, sizeof rt->host_ring);
    rk__cpu_free(cpu);
    return st;
}

static uint64_t rk__total_in(rk_runtime *rt)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < rk__actor_count(rt); i++) {
        rk__cpu_actor *ca = rt->actors[i].backend;
        if (ca)
            n += __atomic_load_n(&ca->control.msgs_in, __ATOMIC_RELAXED);
    }
    return n;
}

/* Whether any actor that will still run has queued messages. */
static int rk__pending(rk_runtime *rt)
{
    for (uint32_t i = 0; i < rk__actor_count(rt); i++) {
        rk__cpu_actor *ca = rt->actors[i].backend;
        if (ca && rk_lifecycle_runs(rk__state(ca)) && rk_ring_depth(&ca->inbox) > 0)
            return 1;
    }
    return 0;
}

/* Block actors first, then light actors, to the same deadline; then the
 * light actors' homes return. Handlers keep sending meanwhile (only the
 * host's sends are refused), and light handlers may send to block actors:
 * a round in which they did (their count moved) starts another one, as on
 * CUDA (spec/drain.pml). */
static rk_status rk__cpu_drain(rk_runtime *rt, uint64_t deadline, rk_shutdown_report *rep)
{
    rk__cpu_light *l = rk__cpu_of(rt)->light;
    uint64_t before = rk__total_in(rt) + rk__cpu_light_handled(l);
    rk_status st = RK_OK, lst;
    for (;;) {
        uint64_t out0 = rk__cpu_light_to_blocks(l), out1 = 0;
        while (st == RK_OK && rk__pending(rt)) {
            if (rk__now_ns() >= deadline)
                st = RK_ETIMEDOUT;
            else
                rk__sleep_ns(50000);
        }
        if (st == RK_OK)
            st = rk__cpu_light_quiet(l, deadline, &out1);
        if (st != RK_OK || out1 == out0)
            break;
    }
    lst = rk__cpu_light_drain(l, deadline);
    rep->drained += rk__total_in(rt) + rk__cpu_light_handled(l) - before;
    return st != RK_OK ? st : lst;
}

static void rk__cpu_stop(rk_runtime *rt, rk_shutdown_report *rep)
{
    rk__cpu *cpu = rk__cpu_of(rt);
    rk__stop_workers(cpu);
    rk__cpu_light_stop(cpu->light, rep);
    /* The workers are gone: whatever is left in an inbox was not handled. */
    for (uint32_t i = 0; i < rk__actor_count(rt); i++) {
        rk__cpu_actor *ca = rt->actors[i].backend;
        const rk_msg *m;
        if (!ca)
            continue;
        while ((m = rk_ring_ready(&ca->inbox, ca->head)) != NULL) {
            rk__dead_letter(&rt->dead, m, RK_ESHUTDOWN);
            rk__payload_free(rt, m);
            ca->head++;
            rep->dead_lettered++;
        }
        rk_ring_consume(&ca->inbox, ca->head);
        if (ca->terminate) {
            rk__ack(ca->w, ca->terminate, RK_ESHUTDOWN);
            ca->terminate = NULL;
        }
    }
}

static void rk__cpu_release(rk_runtime *rt)
{
    rk__cpu *cpu = rk__cpu_of(rt);
    if (!cpu)
        return;
    for (uint32_t i = 0; i < rt->opt.max_actors; i++) {
        rk__cpu_actor_free(rt->actors[i].backend);
        rt->actors[i].backend = NULL;
    }
    /* Commands whose host gave up before the worker answered. */
    for (uint32_t i = 0; i < cpu->n_workers; i++) {
        rk__cpu_cmd *c = cpu->workers[i].cmd_head;
        while (c) {
            rk__cpu_cmd *next = c->next;
            free(c);
            c = next;
        }
    }
    memset(&rt->host_ring, 0, sizeof rt->host_ring);
    rk__cpu_free(cpu);
    rt->backend_data = NULL;
}

/* ---- checkpoints (core/snapshot.c) ----------------------------------------------------
 *
 * Pausing an actor is a handshake on ca->pause: the host asks (RUNNING ->
 * ASKED) and wakes the worker; the worker, between two messages, grants it
 * (ASKED -> HELD, in rk__held) and then leaves the actor alone; the host
 * lets go (HELD -> RUNNING). While the actor is held the host thread owns
 * its state and the consumer side of its inbox (ca->head); senders go on
 * queueing behind. Each transition is a release that the other side's
 * acquire load pairs with, which hands that ownership over. A request that
 * times out is withdrawn with a CAS, so the worker and the host never both
 * think they won. */

static size_t rk__cpu_snap_state_size(rk_runtime *rt, rk__actor *a)
{
    (void)rt;
    return a->state_size;
}

static rk_status rk__cpu_snap_pause(rk_runtime *rt, rk__actor *a, uint64_t deadline, rk__paused *p)
{
    rk__cpu_actor *ca = a->backend;
    uint64_t nap = 1000, spin_end;
    (void)rt;
    if (!ca)
        return RK_ENOACTOR;
    p->a = a;
    p->state_size = a->state_size;
    p->prior = (uint32_t)rk__state(ca);
    __atomic_store_n(&ca->pause, RK__ASKED, __ATOMIC_RELEASE);
    rk__parker_wake(&ca->w->parker);
    /* An idle or busy-but-batching worker answers within microseconds:
     * spin that long, then back off. */
    spin_end = rk__now_ns() + RK__SPIN_NS;
    while (__atomic_load_n(&ca->pause, __ATOMIC_ACQUIRE) != RK__HELD) {
        uint32_t asked = RK__ASKED;
        uint64_t now = rk__now_ns();
        if (now >= deadline &&
            __atomic_compare_exchange_n(&ca->pause, &asked, RK__RUNNING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return RK_ETIMEDOUT;
        if (now < spin_end) {
            rk__cpu_relax();
            continue;
        }
        rk__sleep_ns(nap);
        nap = nap < 100000 ? 2 * nap : nap;
    }
    return RK_OK;
}

static rk_status rk__cpu_snap_read_state(rk_runtime *rt, rk__paused *p, void *dst)
{
    rk__cpu_actor *ca = p->a->backend;
    (void)rt;
    if (p->state_size)
        memcpy(dst, ca->state, p->state_size);
    return RK_OK;
}

/* Published slots are immutable until consumed, and only we consume now. */
static rk_status rk__cpu_snap_read_msgs(rk_runtime *rt, rk__paused *p, rk__msg_fn fn, void *arg)
{
    rk__cpu_actor *ca = p->a->backend;
    const rk_msg *m;
    (void)rt;
    for (uint64_t pos = ca->head;
         pos - ca->head < ca->inbox.capacity && (m = rk_ring_ready(&ca->inbox, pos)) != NULL; pos++) {
        rk_status st = fn(arg, m, rk_msg_payload(m));
        if (st != RK_OK)
            return st;
    }
    return RK_OK;
}

/* Dead-letters what is queued now (at most one inbox's worth: senders keep
 * adding behind). */
static void rk__cpu_snap_drop(rk_runtime *rt, rk__cpu_actor *ca)
{
    const rk_msg *m;
    uint64_t n = 0;
    while (n < ca->inbox.capacity && (m = rk_ring_ready(&ca->inbox, ca->head)) != NULL) {
        rk__dead_letter(&rt->dead, m, RK_ESTALE);
        rk__payload_free(rt, m);
        ca->head++;
        n++;
    }
    if (n == 0)
        return;
    rk_ring_consume(&ca->inbox, ca->head);
    __atomic_store_n(&ca->control.inbox_head, ca->head, __ATOMIC_RELAXED);
    rk__ctl_add(&ca->control.dead_letters, n);
    rk__credit_freed(ca);
}

/* All or nothing: by-reference buffers first, then every slot claimed at
 * once; only then is anything written. */
static rk_status rk__cpu_snap_restore(rk_runtime *rt, rk__paused *p, const void *state, const rk_msg *hdrs,
                                      const void *const *payloads, size_t n, int replace)
{
    rk__cpu_actor *ca = p->a->backend;
    uint32_t inline_cap = rk_msg_inline_capacity(ca->inbox.slot_size);
    rk_msg *m = NULL;
    uint64_t pos = 0;
    rk_status st = RK_OK;
    size_t i, ready = 0;

    if (n > ca->inbox.capacity)
        return RK_EFULL;
    if (n > 0) {
        m = malloc(n * sizeof *m);
        if (!m)
            return RK_ENOMEM;
    }
    for (; ready < n; ready++) {
        void *buf;
        m[ready] = hdrs[ready];
        m[ready].flags &= ~(uint32_t)RK_MSG_F_BYREF;
        m[ready].ref = 0;
        if (m[ready].len <= inline_cap)
            continue;
        st = rk__payload_alloc(rt, payloads[ready], m[ready].len, &buf);
        if (st != RK_OK)
            goto out;
        m[ready].flags |= RK_MSG_F_BYREF;
        m[ready].ref = (uint64_t)(uintptr_t)buf;
    }
    if (replace)
        rk__cpu_snap_drop(rt, ca);
    if (n > 0) {
        st = rk_ring_claim(&ca->inbox, (uint32_t)n, &pos);
        if (st != RK_OK)
            goto out;
    }
    if (p->state_size && state)
        memcpy(ca->state, state, p->state_size);
    for (i = 0; i < n; i++) {
        unsigned char *slot = rk_ring_slot(&ca->inbox, pos + i);
        memcpy(slot + 8, (const unsigned char *)&m[i] + 8, RK_MSG_HEADER_SIZE - 8);
        if (!(m[i].flags & RK_MSG_F_BYREF) && m[i].len)
            memcpy(slot + RK_MSG_HEADER_SIZE, payloads[i], m[i].len);
    }
    if (n > 0)
        rk_ring_publish(&ca->inbox, pos, (uint32_t)n);
    ready = 0; /* the buffers belong to the queued messages now */
out:
    for (i = 0; i < ready; i++)
        rk__payload_free(rt, &m[i]);
    free(m);
    return st;
}

static rk_status rk__cpu_snap_resume(rk_runtime *rt, rk__paused *p)
{
    rk__cpu_actor *ca = p->a->backend;
    (void)rt;
    /* Release: our writes to the state and the inbox come before the
     * worker's next turn, whose acquire load sees RUNNING. */
    __atomic_store_n(&ca->pause, RK__RUNNING, __ATOMIC_RELEASE);
    rk__parker_wake(&ca->w->parker);
    return RK_OK;
}

/* Migration: the messages were copied out; drop them uncounted (they are
 * queued at the new home) and let the worker have the actor back. The
 * caller terminates it next; nothing new reaches it, as its sends forward. */
static rk_status rk__cpu_snap_retire(rk_runtime *rt, rk__paused *p)
{
    rk__cpu_actor *ca = p->a->backend;
    uint64_t n = 0;
    const rk_msg *m;
    while (n < ca->inbox.capacity && (m = rk_ring_ready(&ca->inbox, ca->head)) != NULL) {
        rk__payload_free(rt, m);
        ca->head++;
        n++;
    }
    if (n) {
        rk_ring_consume(&ca->inbox, ca->head);
        __atomic_store_n(&ca->control.inbox_head, ca->head, __ATOMIC_RELAXED);
        rk__credit_freed(ca);
    }
    return rk__cpu_snap_resume(rt, p);
}

static const struct rk__snapshot_ops rk__cpu_snapshot_ops = {
    .state_size = rk__cpu_snap_state_size,
    .pause = rk__cpu_snap_pause,
    .read_state = rk__cpu_snap_read_state,
    .read_msgs = rk__cpu_snap_read_msgs,
    .restore = rk__cpu_snap_restore,
    .resume = rk__cpu_snap_resume,
    .retire = rk__cpu_snap_retire,
};

/* ---- restart records (runtime_internal.h: rk__restart_ops) ---------------------------
 *
 * Opt-in (RK_CPU_RESTART_RECORDS=1, read when the runtime starts): a
 * one-for-one supervisor's policy kept here, so that the worker running a
 * failed actor restarts it itself, as a CUDA block does (device.cuh,
 * rk__gpu_sup). The supervision thread answers failures on this backend
 * within microseconds anyway; the records let the core's side of the
 * protocol run - and be checked under the sanitizers - where there is no
 * GPU. */

/* Restarts inside the window ending now (under the record's lock). */
static uint32_t rk__sup_recent(const rk__cpu_sup *r, uint64_t now)
{
    return rk__restarts_within(r->hist, RK__CPU_SUP_HIST, r->head, r->n, r->window_ns, now);
}

/* A restart decision (the record's lock is taken here): 1 and counted if
 * the intensity allows it, else 0 - and the record gives up, if it was on. */
static int rk__sup_charge(rk__cpu_sup *r)
{
    const uint64_t now = rk__now_ns();
    int ok = 0;
    pthread_mutex_lock(&r->lock);
    if (r->state == RK__CPU_SUP_ON) {
        if (rk__sup_recent(r, now) >= r->max_restarts) {
            r->state = RK__CPU_SUP_GAVE_UP;
        } else {
            rk__restart_note(r->hist, RK__CPU_SUP_HIST, r->max_restarts, &r->head, &r->n, now);
            r->restarts++;
            ok = 1;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static rk_status rk__cpu_sup_open(rk_runtime *rt, rk_restart_strategy strategy, uint32_t max_restarts,
                                  uint64_t window_ns, uint32_t *rec)
{
    rk__cpu *cpu = rk__cpu_of(rt);
    uint32_t i;
    /* One-for-one only: a group restart here stays the thread's. */
    if (!cpu || !cpu->records || strategy != RK_ONE_FOR_ONE || max_restarts > RK__CPU_SUP_HIST || window_ns == 0)
        return RK_ENOTSUP;
    i = __atomic_fetch_add(&cpu->n_sups, 1, __ATOMIC_RELAXED);
    if (i >= RK__CPU_SUPS)
        return RK_ENOTSUP;
    pthread_mutex_lock(&cpu->sups[i].lock);
    cpu->sups[i].max_restarts = max_restarts;
    cpu->sups[i].window_ns = window_ns;
    pthread_mutex_unlock(&cpu->sups[i].lock);
    *rec = i;
    return RK_OK;
}

static rk__cpu_sup *rk__cpu_sup_at(rk_runtime *rt, uint32_t rec)
{
    rk__cpu *cpu = rk__cpu_of(rt);
    return cpu && rec < RK__CPU_SUPS && rec < __atomic_load_n(&cpu->n_sups, __ATOMIC_RELAXED) ? &cpu->sups[rec] : NULL;
}

static rk_status rk__cpu_sup_control(rk_runtime *rt, uint32_t rec, enum rk__restart_op op)
{
    rk__cpu_sup *r = rk__cpu_sup_at(rt, rec);
    rk_status st = RK_OK;
    if (!r)
        return RK_EINVAL;
    if (op == RK__RESTART_CHARGE)
        return rk__sup_charge(r) ? RK_OK : RK_EFAILED;
    pthread_mutex_lock(&r->lock);
    if (op == RK__RESTART_ON) {
        r->head = r->n = 0;
        r->state = RK__CPU_SUP_ON;
    } else if (op == RK__RESTART_OFF) {
        r->state = RK__CPU_SUP_OFF;
    } else {
        st = RK_EINVAL;
    }
    pthread_mutex_unlock(&r->lock);
    return st;
}

static rk_status rk__cpu_sup_attach(rk_runtime *rt, rk__actor *a, uint32_t rec, uint32_t pos, uint32_t n)
{
    rk__cpu_actor *ca = a->backend;
    (void)pos; /* one-for-one records only */
    (void)n;
    if (!ca || (rec != RK__RESTART_NONE && !rk__cpu_sup_at(rt, rec)))
        return RK_EINVAL;
    __atomic_store_n(&ca->sup, rec == RK__RESTART_NONE ? 0u : rec + 1, __ATOMIC_RELEASE);
    return RK_OK;
}

static void rk__cpu_sup_stats(rk_runtime *rt, uint32_t rec, uint64_t *restarts, uint32_t *recent)
{
    rk__cpu_sup *r = rk__cpu_sup_at(rt, rec);
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    *restarts = r->restarts;
    *recent = rk__sup_recent(r, rk__now_ns());
    pthread_mutex_unlock(&r->lock);
}

static const struct rk__restart_ops rk__cpu_restart_ops = {
    .open = rk__cpu_sup_open,
    .control = rk__cpu_sup_control,
    .attach = rk__cpu_sup_attach,
    .stats = rk__cpu_sup_stats,
};

const struct rk_backend_ops rk__cpu_ops = {
    .name = "cpu",
    .start = rk__cpu_start,
    .drain = rk__cpu_drain,
    .stop = rk__cpu_stop,
    .release = rk__cpu_release,
    .actor_create = rk__cpu_actor_create,
    .actor_command = rk__cpu_actor_command,
    .actor_state = rk__cpu_actor_state,
    .actor_control = rk__cpu_actor_control,
    .send = rk__cpu_send,
    .send_batch = rk__cpu_send_batch,
    .host_epoch = rk__cpu_host_epoch,
    .host_wait = rk__cpu_host_wait,
    .host_wake = rk__cpu_host_wake,
    .host_release = rk__cpu_host_release,
    .poll_errors = NULL,
    .snapshot = &rk__cpu_snapshot_ops,
    .queue_depth = rk__cpu_queue_depth,
    .credit_wait = rk__cpu_credit_wait,
    .device_memory = NULL,
    .restarts = &rk__cpu_restart_ops,
    .light = &rk__cpu_light_ops,
};
