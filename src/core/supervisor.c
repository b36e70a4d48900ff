/* Supervisor trees (ringkernel/supervisor.h).
 *
 * Who reacts. One supervision thread per runtime, started with the first
 * supervisor, does all the reacting. A failing actor's worker (or the CUDA
 * backend's error poll) calls rk__async_error, which calls
 * rk__supervision_notify: that bumps a counter under a leaf mutex and
 * signals, nothing more. A worker must not issue a lifecycle command itself:
 * a command waits for the owning worker's acknowledgement, so from a worker
 * it could wait for itself until the deadline.
 *
 * Level-triggered. The thread does not consume failure events; it compares
 * what each supervisor expects of its children (`running`) with their
 * states now, parents before children (a parent's group restart may already
 * cover a child's failure). A notification that comes early, late or twice
 * changes nothing, and a periodic rescan covers a wake-up lost to a race.
 * Every reaction either restarts (counted against the intensity) or gives up
 * (the supervisor leaves Active and is not scanned), so a scan always ends.
 *
 * Locks, in this order: op_lock -> rt->lock -> (registry, backend).
 * op_lock serialises supervision operations - the thread's scans, the
 * public calls that change trees, and the migration of a child (below) -
 * and is held across lifecycle commands, of this runtime or another.
 * tree_lock guards what readers (info, children, lookup) copy: the op_lock
 * holder takes it around each change, readers around each copy, and nothing
 * is acquired under it. wake_lock is a leaf too. Supervisors are freed only
 * with the runtime, so a pointer to one stays valid.
 *
 * Children that migrate (group.h). A supervisor stays in its runtime, but
 * in a group its actor children may move to other members. A child record
 * names the child where it lives now: its local id while it is here, the
 * gid of its member once it has moved away (and a local id again if it
 * comes back, under its new id). Every use of a record resolves it there
 * (rk__group_actor), so the reactions are the same wherever the child is:
 * its state is read, and it is terminated and restarted, at its current
 * home, under that runtime's lock, which op_lock -> rt->lock allows for
 * any runtime. The migration (core/group.c) holds this runtime's op_lock
 * from the moment it closes the child's intake until the record names the
 * new home, so a supervisor never sees a child half moved: a failure that
 * comes meanwhile is seen after, where the child is then. The moved actor
 * keeps its supervisor in sup_parent and this runtime in sup_rt; its new
 * home's failures and terminations wake this runtime's thread through
 * them (rk__supervision_notify_actor), and rk_kill_tree on it is carried
 * out here. A group's destroy stops every member's supervision before any
 * member stops, so nothing acts on a member that is going away. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/supervisor_internal.h"

#define RK__SUP_RESCAN_NS 100000000ull /* look again this often without a wake-up */
#define RK__SUP_POLL_NS 1000000ull     /* ... or this often when the backend's errors must be polled */
#define RK__SUP_MAX_RESTARTS 65536u
#define RK__SUP_SETTLE_NS 5000000000ull /* longest wait for a backend's restart to finish */
#define RK__NO_INDEX UINT32_MAX
#define RK__SUP_GROUP_MAX 32u /* children a group strategy's record restarts (device.cuh: RK__GPU_SUP_KIDS) */

typedef struct rk__child {
    rk_actor_id id; /* an actor, or a supervisor */
    rk_child_restart restart;
    int running;    /* meant to run: a stop seen while set is an exit to handle */
} rk__child;

typedef struct rk__sup {
    rk_actor_id id, parent;
    char name[RK_SUPERVISOR_NAME_MAX + 1];
    rk_restart_strategy strategy;
    rk_child_restart restart;
    uint32_t max_restarts;
    uint64_t window_ns;
    rk_lifecycle_state state; /* Active, Failed or Terminated */
    uint32_t generation;
    uint64_t restarts, escalations;
    uint64_t *history; /* times of the latest restarts, oldest first from hist_head */
    uint32_t hist_cap, hist_head, hist_n;
    rk__child *children; /* start order */
    uint32_t n_children, cap_children;
    /* Its restart record in the backend (runtime_internal.h): dev once
     * opened, dev_on once set on (the kernel runs then). A group strategy's
     * record restarts all the children it knows, so it serves only while
     * every child is a permanent or transient actor of this runtime, at most
     * RK__SUP_GROUP_MAX of them: a child of another kind ends it for good
     * (rk__dev_drop) and the thread decides every restart from then on. */
    int dev, dev_on;
    uint32_t dev_rec;
} rk__sup;

struct rk__supervision {
    pthread_mutex_t op_lock;
    pthread_mutex_t tree_lock;
    rk__sup **sups; /* index = id - RK_SUPERVISOR_ID_BASE; parents before children */
    uint32_t n_sups, cap_sups;

    pthread_mutex_t wake_lock;
    pthread_cond_t wake_cv;
    uint64_t wakes; /* notifications so far, under wake_lock */
    int stop;       /* atomic, set under wake_lock */
    int started;    /* atomic, set under wake_lock: the thread runs */
    int joined;     /* under wake_lock: someone has claimed the join */
    pthread_t thread;
};

/* A walk of rk_kill_tree: where the stopped ids go. */
typedef struct rk__kill {
    rk_actor_id *order;
    size_t cap, n;
    rk_status first; /* the first failed termination */
} rk__kill;

/* ---- small helpers -------------------------------------------------------------- */

static int rk__stopping(rk__supervision *sv)
{
    return __atomic_load_n(&sv->stop, __ATOMIC_ACQUIRE);
}

/* The supervisor with this id, for the op_lock holder (who alone changes
 * the array) or under tree_lock. */
static rk__sup *rk__sup_at(rk__supervision *sv, rk_actor_id id)
{
    uint32_t i = id - RK_SUPERVISOR_ID_BASE;
    if (!rk_is_supervisor(id) || i >= sv->n_sups)
        return NULL;
    return sv->sups[i];
}

/* The same, for a caller holding no lock. */
static rk__sup *rk__sup_find(rk__supervision *sv, rk_actor_id id)
{
    rk__sup *s;
    pthread_mutex_lock(&sv->tree_lock);
    s = rk__sup_at(sv, id);
    pthread_mutex_unlock(&sv->tree_lock);
    return s;
}

static void rk__first_error(rk_status *first, rk_status st)
{
    if (*first == RK_OK && st != RK_OK)
        *first = st;
}

static void rk__sup_set_state(rk_runtime *rt, rk__sup *s, rk_lifecycle_state state)
{
    pthread_mutex_lock(&rt->supervision->tree_lock);
    s->state = state;
    pthread_mutex_unlock(&rt->supervision->tree_lock);
    rk__event_emit(rt, RK_EVENT_STATE, s->id, s->generation, 0, state);
}

static void rk__set_running(rk__supervision *sv, rk__child *c, int running)
{
    pthread_mutex_lock(&sv->tree_lock);
    c->running = running;
    pthread_mutex_unlock(&sv->tree_lock);
}

/* The actor a child record (or a root given to rk_kill_tree) names: where
 * it lives now, in *t (see the top of this file). NULL for a supervisor or
 * an unknown id. */
static rk__actor *rk__child_actor(rk_runtime *rt, rk_actor_id id, rk_runtime **t)
{
    *t = rt;
    return rk_is_supervisor(id) ? NULL : rk__group_actor(rt, id, t);
}

static uint32_t rk__node_generation(rk_runtime *rt, rk_actor_id id)
{
    rk__sup *s = rk__sup_at(rt->supervision, id);
    rk_runtime *t;
    rk__actor *a = rk__child_actor(rt, id, &t);
    if (s)
        return s->generation;
    return a ? rk__actor_generation(t, a) : 0;
}

/* ---- restart intensity ---------------------------------------------------------- */

/* Restarts inside the window ending now. */
static uint32_t rk__recent(const rk__sup *s, uint64_t now)
{
    return rk__restarts_within(s->history, s->hist_cap, s->hist_head, s->hist_n, s->window_ns, now);
}

/* Records a restart if the intensity allows one more; 0 when it does not
 * (more than max_restarts within window_ns). The ring keeps the latest
 * max_restarts times, all a decision needs. */
static int rk__may_restart(rk_runtime *rt, rk__sup *s)
{
    rk__supervision *sv = rt->supervision;
    uint64_t now = rk__now_ns();
    if (s->dev_on) {
        /* The record keeps the count, ours and the backend's own restarts
         * together; it gives up if this one is too many. Unreachable (the
         * device is gone, say): decide here. */
        rk_status st = rt->ops->restarts->control(rt, s->dev_rec, RK__RESTART_CHARGE);
        if (st == RK_OK || st == RK_EFAILED)
            return st == RK_OK;
    }
    if (rk__recent(s, now) >= s->max_restarts)
        return 0;
    pthread_mutex_lock(&sv->tree_lock);
    rk__restart_note(s->history, s->hist_cap, s->hist_cap, &s->hist_head, &s->hist_n, now);
    s->restarts++;
    pthread_mutex_unlock(&sv->tree_lock);
    return 1;
}

/* ---- restart records: which children they know -------------------------------- */

/* Whether s's record restarts its children as a group (one-for-all,
 * rest-for-one) rather than each alone. */
static int rk__dev_group(const rk__sup *s)
{
    return s->strategy != RK_ONE_FOR_ONE;
}

/* Attaches children [from, n) of a group record at their positions (start
 * order), each with the new count; nothing for one-for-one (its children
 * are attached one by one as they start) or a record not on. */
static void rk__dev_attach_from(rk_runtime *rt, rk__sup *s, uint32_t from)
{
    if (!s->dev_on || !rk__dev_group(s))
        return;
    for (uint32_t k = from; k < s->n_children; k++)
        if (!rk_is_supervisor(s->children[k].id))
            (void)rt->ops->restarts->attach(rt, &rt->actors[s->children[k].id], s->dev_rec, k, s->n_children);
}

/* A group record cannot serve s any more (see rk__sup.dev): off, its
 * children detached, and the thread decides from now on, with its own
 * count of restarts from here. */
static void rk__dev_drop(rk_runtime *rt, rk__sup *s)
{
    if (!s->dev)
        return;
    if (s->dev_on) {
        (void)rt->ops->restarts->control(rt, s->dev_rec, RK__RESTART_OFF);
        for (uint32_t k = 0; k < s->n_children; k++) {
            rk_runtime *t;
            rk__actor *a = rk__child_actor(rt, s->children[k].id, &t);
            if (a && t == rt)
                (void)rt->ops->restarts->attach(rt, a, RK__RESTART_NONE, 0, 0);
        }
    }
    /* Atomic: rk_supervisor_info_get reads it without op_lock. */
    __atomic_store_n(&s->dev_on, 0, __ATOMIC_RELEASE);
    s->dev = 0;
}

/* ---- children ---------------------------------------------------------------- */

static rk_status rk__reserve_child(rk__supervision *sv, rk__sup *s)
{
    rk__child *p;
    uint32_t cap;
    if (s->n_children < s->cap_children)
        return RK_OK;
    cap = s->cap_children ? 2 * s->cap_children : 4;
    /* Under tree_lock: a reader may be copying the old array. */
    pthread_mutex_lock(&sv->tree_lock);
    p = realloc(s->children, cap * sizeof *p);
    if (p) {
        s->children = p;
        s->cap_children = cap;
    }
    pthread_mutex_unlock(&sv->tree_lock);
    return p ? RK_OK : RK_ENOMEM;
}

/* Appends a child; room was reserved. */
static void rk__add_child(rk_runtime *rt, rk__sup *s, rk_actor_id id, rk_child_restart restart)
{
    rk__supervision *sv = rt->supervision;
    pthread_mutex_lock(&sv->tree_lock);
    s->children[s->n_children++] = (rk__child){id, restart, 1};
    pthread_mutex_unlock(&sv->tree_lock);
    if (!rk_is_supervisor(id)) {
        /* sup_rt first: whoever sees the supervisor sees where it lives. */
        __atomic_store_n(&rt->actors[id].sup_rt, rt, __ATOMIC_RELEASE);
        __atomic_store_n(&rt->actors[id].sup_parent, s->id, __ATOMIC_RELEASE);
    }
}

/* Removes child k from s; it has no supervisor afterwards. */
static void rk__drop_child(rk_runtime *rt, rk__sup *s, uint32_t k)
{
    rk__supervision *sv = rt->supervision;
    rk_actor_id id = s->children[k].id;
    rk__sup *cs = rk__sup_at(sv, id);
    rk_runtime *t;
    rk__actor *a = rk__child_actor(rt, id, &t);
    /* The actor's side first: whoever sees it gone from the list sees it
     * without a supervisor too. */
    if (a)
        __atomic_store_n(&a->sup_parent, RK_ACTOR_NONE, __ATOMIC_RELEASE);
    if (a && t == rt && s->dev_on)
        (void)rt->ops->restarts->attach(rt, a, RK__RESTART_NONE, 0, 0);
    pthread_mutex_lock(&sv->tree_lock);
    memmove(&s->children[k], &s->children[k + 1], (s->n_children - k - 1) * sizeof *s->children);
    s->n_children--;
    if (cs)
        cs->parent = RK_ACTOR_NONE;
    pthread_mutex_unlock(&sv->tree_lock);
    rk__dev_attach_from(rt, s, k); /* the later ones move up */
}

/* Releases the names and subscriptions of every actor in the tree at id. */
static void rk__retire_tree(rk_runtime *rt, rk_actor_id id)
{
    rk__sup *s = rk__sup_at(rt->supervision, id);
    if (!s) {
        rk_runtime *t;
        rk__actor *a = rk__child_actor(rt, id, &t);
        if (a)
            rk__actor_retire(t, a);
        return;
    }
    for (uint32_t k = 0; k < s->n_children; k++)
        rk__retire_tree(rt, s->children[k].id);
}

/* A stopped child that will not be restarted (temporary) leaves its
 * supervisor for good, names and subscriptions too. */
static void rk__release_child(rk_runtime *rt, rk__sup *s, uint32_t k)
{
    rk__retire_tree(rt, s->children[k].id);
    rk__drop_child(rt, s, k);
}

/* Whether a child meant to run has stopped; *failed says how. */
static int rk__child_stopped(rk_runtime *rt, const rk__child *c, int *failed)
{
    rk__sup *cs = rk__sup_at(rt->supervision, c->id);
    rk_runtime *t;
    rk__actor *a = rk__child_actor(rt, c->id, &t);
    rk_lifecycle_state s = cs ? cs->state : a ? rk__actor_state_now(t, a) : RK_TERMINATED;
    /* Its backend restarts it (a restart record): not ours to handle. */
    if (s == RK_FAILED && a && rk__actor_restarting(t, a))
        return 0;
    *failed = s == RK_FAILED;
    return s == RK_FAILED || s == RK_TERMINATED;
}

/* ---- restart records ------------------------------------------------------------- */

/* The record restarts s's children from now on; 0 if it cannot (the
 * thread then decides every restart, as for any supervisor). */
static int rk__dev_on(rk_runtime *rt, rk__sup *s)
{
    /* Atomic: rk_supervisor_info_get reads it without op_lock. */
    if (s->dev && !s->dev_on && rt->ops->restarts->control(rt, s->dev_rec, RK__RESTART_ON) == RK_OK)
        __atomic_store_n(&s->dev_on, 1, __ATOMIC_RELEASE);
    return s->dev_on;
}

/* No more restarts by the record: s is about to stop its children. */
static void rk__dev_off(rk_runtime *rt, rk__sup *s)
{
    if (s->dev_on)
        (void)rt->ops->restarts->control(rt, s->dev_rec, RK__RESTART_OFF);
}

/* ---- stopping and starting ---------------------------------------------------------- */

static rk_status rk__stop_child(rk_runtime *rt, rk__child *c);
static rk_status rk__restart_subtree(rk_runtime *rt, rk__sup *s);

/* Terminates actor `a` of t (flags as rk__lifecycle's) once a restart its
 * record decided is over - the record is off by now, so at most that one
 * can follow - and again when a failure that came first refused the
 * terminate (spec/findings/restart-kill-during-restart.md). RK_OK when it
 * is stopped either way (Failed and Terminated are; so is all once
 * supervision stops, with `at_stop`), else the terminate's status. */
static rk_status rk__terminate_settled(rk_runtime *rt, rk_runtime *t, rk__actor *a, unsigned flags, int at_stop)
{
    rk_status st = RK_OK;
    for (int tries = 0; tries < 3; tries++) {
        rk_lifecycle_state s = rk__actor_state_settled(t, a, rk__deadline(RK__SUP_SETTLE_NS));
        if ((s != RK_ACTIVE && s != RK_DRAINING) || (at_stop && rk__stopping(rt->supervision)))
            return RK_OK;
        st = rk__lifecycle(t, a->id, RK_EV_TERMINATE, flags);
        if (st != RK_ETRANSITION)
            break;
    }
    /* It failed while draining, or went ahead of us: stopped either way. */
    return st == RK_EFAILED || st == RK_ETRANSITION ? RK_OK : st;
}

/* Stops children [from, n), the last started first. Their names stay: a
 * restart follows, or the caller retires them. */
static rk_status rk__stop_children(rk_runtime *rt, rk__sup *s, uint32_t from)
{
    rk_status first = RK_OK;
    for (uint32_t k = s->n_children; k-- > from;)
        rk__first_error(&first, rk__stop_child(rt, &s->children[k]));
    return first;
}

static rk_status rk__stop_child(rk_runtime *rt, rk__child *c)
{
    rk__supervision *sv = rt->supervision;
    rk__sup *cs = rk__sup_at(sv, c->id);
    rk_runtime *t;
    rk__actor *a;
    rk_status st;

    rk__set_running(sv, c, 0);
    if (cs) {
        st = rk__stop_children(rt, cs, 0);
        if (cs->state == RK_ACTIVE)
            rk__sup_set_state(rt, cs, RK_TERMINATED);
        return st;
    }
    a = rk__child_actor(rt, c->id, &t);
    return a ? rk__terminate_settled(rt, t, a, 0, 1) : RK_OK;
}

static rk_status rk__start_child(rk_runtime *rt, rk__child *c)
{
    rk__supervision *sv = rt->supervision;
    rk__sup *cs = rk__sup_at(sv, c->id);
    rk_runtime *t;
    rk__actor *a;
    rk__set_running(sv, c, 1);
    if (cs)
        return rk__restart_subtree(rt, cs);
    if (rk__stopping(sv))
        return RK_ESHUTDOWN;
    a = rk__child_actor(rt, c->id, &t);
    if (!a)
        return RK_ENOACTOR;
    /* A restart that fails (init) leaves the child Failed: the next scan
     * handles that like any failure, against the intensity. */
    return rk__lifecycle(t, a->id, RK_EV_RESTART, 0);
}

/* Starts children [from, n) again, in start order; temporary ones are
 * never restarted and leave instead. */
static rk_status rk__start_children(rk_runtime *rt, rk__sup *s, uint32_t from)
{
    rk_status first = RK_OK;
    uint32_t k = from;
    while (k < s->n_children) {
        if (s->children[k].restart == RK_CHILD_TEMPORARY) {
            rk__release_child(rt, s, k);
            continue;
        }
        rk__first_error(&first, rk__start_child(rt, &s->children[k]));
        k++;
    }
    return first;
}

/* A fresh supervisor in place of the old: generation + 1, no restart
 * history, Active, and every child started again in order. */
static rk_status rk__restart_subtree(rk_runtime *rt, rk__sup *s)
{
    rk__supervision *sv = rt->supervision;
    pthread_mutex_lock(&sv->tree_lock);
    s->generation++;
    s->hist_head = s->hist_n = 0;
    pthread_mutex_unlock(&sv->tree_lock);
    if (s->dev_on)
        (void)rt->ops->restarts->control(rt, s->dev_rec, RK__RESTART_ON);
    rk__event_emit(rt, RK_EVENT_RESTART, s->id, s->generation, 0, s->generation);
    rk__sup_set_state(rt, s, RK_ACTIVE);
    return rk__start_children(rt, s, 0);
}

/* ---- reacting ------------------------------------------------------------------ */

/* Out of restarts: stop every child, fail, and escalate - to the parent,
 * whose scan sees this supervisor Failed, or at the root to the program. */
static void rk__give_up(rk_runtime *rt, rk__sup *s, rk_actor_id culprit)
{
    rk__supervision *sv = rt->supervision;
    rk_runtime *t;
    rk__actor *a = rk__child_actor(rt, culprit, &t);
    rk__dev_off(rt, s);
    rk__stop_children(rt, s, 0);
    pthread_mutex_lock(&sv->tree_lock);
    s->escalations++;
    pthread_mutex_unlock(&sv->tree_lock);
    rk__event_emit(rt, RK_EVENT_ESCALATE, culprit, rk__node_generation(rt, culprit), a ? a->tenant : 0,
                   (int64_t)s->id);
    rk__sup_set_state(rt, s, RK_FAILED);
    if (s->parent != RK_ACTOR_NONE)
        return;
    rk__retire_tree(rt, s->id);
    rk__async_error(rt, s->id, s->generation, RK_EFAILED);
}

/* Child k of s has stopped: apply its restart type, the intensity and the
 * strategy. */
static void rk__child_exit(rk_runtime *rt, rk__sup *s, uint32_t k, int failed)
{
    rk__child *c = &s->children[k];
    if (c->restart == RK_CHILD_TEMPORARY) {
        rk__release_child(rt, s, k);
        return;
    }
    if (!failed && c->restart == RK_CHILD_TRANSIENT) {
        rk__set_running(rt->supervision, c, 0); /* a normal exit: it stays down */
        return;
    }
    if (!rk__may_restart(rt, s)) {
        rk__give_up(rt, s, c->id);
        return;
    }
    switch (s->strategy) {
    case RK_ONE_FOR_ALL:
        rk__stop_children(rt, s, 0);
        rk__start_children(rt, s, 0);
        break;
    case RK_REST_FOR_ONE:
        rk__stop_children(rt, s, k);
        rk__start_children(rt, s, k);
        break;
    case RK_ONE_FOR_ONE:
    default:
        rk__start_child(rt, c);
        break;
    }
}

/* Handles the first stop found, parents first; returns whether it found
 * one (the tree may have changed: look again). Under op_lock.
 *
 * A failed child is always handled. A terminated one only while `running`:
 * a transient child's normal exit is handled once and it stays down. A
 * child seen running again (someone restarted it by hand) is watched again. */
static int rk__scan_once(rk_runtime *rt)
{
    rk__supervision *sv = rt->supervision;
    for (uint32_t i = 0; i < sv->n_sups; i++) {
        rk__sup *s = sv->sups[i];
        if (s->state != RK_ACTIVE)
            continue;
        for (uint32_t k = 0; k < s->n_children; k++) {
            rk__child *c = &s->children[k];
            int failed;
            if (!rk__child_stopped(rt, c, &failed)) {
                if (!c->running)
                    rk__set_running(sv, c, 1);
            } else if (failed || c->running) {
                rk__child_exit(rt, s, k, failed);
                return 1;
            }
        }
    }
    return 0;
}

static void *rk__supervision_main(void *arg)
{
    rk_runtime *rt = arg;
    rk__supervision *sv = rt->supervision;
    uint64_t seen = 0, period = rt->ops->poll_errors ? RK__SUP_POLL_NS : RK__SUP_RESCAN_NS;

    for (;;) {
        uint64_t deadline = rk__deadline(period);
        struct timespec ts = {(time_t)(deadline / 1000000000ull), (long)(deadline % 1000000000ull)};
        pthread_mutex_lock(&sv->wake_lock);
        while (!rk__stopping(sv) && sv->wakes == seen)
            if (pthread_cond_timedwait(&sv->wake_cv, &sv->wake_lock, &ts) == ETIMEDOUT)
                break;
        seen = sv->wakes;
        pthread_mutex_unlock(&sv->wake_lock);
        if (rk__stopping(sv))
            break;
        /* A backend that reports failures only when asked (CUDA) is asked
         * here, so that supervision needs no polling by the program. */
        rk__collect(rt);
        pthread_mutex_lock(&sv->op_lock);
        while (!rk__stopping(sv) && rk__scan_once(rt))
            ;
        pthread_mutex_unlock(&sv->op_lock);
    }
    return NULL;
}

/* Starts the supervision thread if it does not run yet. */
static rk_status rk__supervision_start(rk_runtime *rt)
{
    rk__supervision *sv = rt->supervision;
    rk_status st = RK_OK;
    pthread_mutex_lock(&sv->wake_lock);
    if (rk__stopping(sv))
        st = RK_ESHUTDOWN;
    else if (!__atomic_load_n(&sv->started, __ATOMIC_RELAXED)) {
        if (pthread_create(&sv->thread, NULL, rk__supervision_main, rt) != 0)
            st = RK_ENOMEM;
        else
            __atomic_store_n(&sv->started, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&sv->wake_lock);
    return st;
}

/* ---- internal interface ---------------------------------------------------------- */

rk_status rk__supervision_init(rk_runtime *rt)
{
    rk__supervision *sv = calloc(1, sizeof *sv);
    pthread_condattr_t attr;
    if (!sv)
        return RK_ENOMEM;
    pthread_mutex_init(&sv->op_lock, NULL);
    pthread_mutex_init(&sv->tree_lock, NULL);
    pthread_mutex_init(&sv->wake_lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* deadlines come from rk__deadline */
    pthread_cond_init(&sv->wake_cv, &attr);
    pthread_condattr_destroy(&attr);
    rt->supervision = sv;
    return RK_OK;
}

void rk__supervision_stop(rk_runtime *rt)
{
    rk__supervision *sv = rt->supervision;
    int join = 0;
    if (!sv)
        return;
    pthread_mutex_lock(&sv->wake_lock);
    __atomic_store_n(&sv->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&sv->wake_cv);
    if (__atomic_load_n(&sv->started, __ATOMIC_RELAXED) && !sv->joined)
        join = sv->joined = 1;
    pthread_mutex_unlock(&sv->wake_lock);
    if (join)
        pthread_join(sv->thread, NULL);
}

void rk__supervision_destroy(rk_runtime *rt)
{
    rk__supervision *sv = rt->supervision;
    if (!sv)
        return;
    rk__supervision_stop(rt);
    for (uint32_t i = 0; i < sv->n_sups; i++) {
        free(sv->sups[i]->history);
        free(sv->sups[i]->children);
        free(sv->sups[i]);
    }
    free(sv->sups);
    pthread_mutex_destroy(&sv->op_lock);
    pthread_mutex_destroy(&sv->tree_lock);
    pthread_mutex_destroy(&sv->wake_lock);
    pthread_cond_destroy(&sv->wake_cv);
    free(sv);
    rt->supervision = NULL;
}

void rk__supervision_notify(rk_runtime *rt)
{
    rk__supervision *sv = rt->supervision;
    /* No supervisor yet: nobody to tell (the first one's scans look at the
     * states as they are). */
    if (!sv || !__atomic_load_n(&sv->started, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&sv->wake_lock);
    sv->wakes++;
    pthread_cond_signal(&sv->wake_cv);
    pthread_mutex_unlock(&sv->wake_lock);
}

void rk__supervision_notify_actor(rk_runtime *rt, rk__actor *a)
{
    rk_runtime *home = NULL;
    rk__supervision_notify(rt);
    if (a && __atomic_load_n(&a->sup_parent, __ATOMIC_ACQUIRE) != RK_ACTOR_NONE)
        home = __atomic_load_n(&a->sup_rt, __ATOMIC_ACQUIRE);
    if (home && home != rt)
        rk__supervision_notify(home);
}

rk_status rk__supervision_lock(rk_runtime *rt, uint64_t deadline)
{
    rk__supervision *sv = rt->supervision;
    uint64_t nap = 1000;
    /* Not a plain lock: the holder may be the thread, reacting through a
     * run of lifecycle commands; the migration's own timeout bounds this. */
    while (pthread_mutex_trylock(&sv->op_lock) != 0) {
        if (rk__now_ns() >= deadline)
            return RK_ETIMEDOUT;
        rk__sleep_ns(nap);
        nap = nap < 200000 ? 2 * nap : nap;
    }
    return RK_OK;
}

void rk__supervision_unlock(rk_runtime *rt)
{
    pthread_mutex_unlock(&rt->supervision->op_lock);
}

/* A gid as rt's child records name it: a local id when it is rt's own. */
static rk_actor_id rk__gid_ref(rk_runtime *rt, rk_actor_id gid)
{
    return rk_gid_member(gid) == (int)rt->member ? rk_gid_local(gid) : gid;
}

void rk__supervision_moving(rk_runtime *rt, rk_actor_id sup)
{
    rk__sup *s = rk__sup_at(rt->supervision, sup);
    if (s && rk__dev_group(s))
        rk__dev_drop(rt, s);
}

void rk__supervision_moved(rk_runtime *rt, rk_actor_id sup, rk_actor_id from, rk_actor_id to)
{
    rk__supervision *sv = rt->supervision;
    rk__sup *s = rk__sup_at(sv, sup);
    rk_actor_id old = rk__gid_ref(rt, from);
    for (uint32_t k = 0; s && k < s->n_children; k++) {
        if (s->children[k].id == old) {
            pthread_mutex_lock(&sv->tree_lock);
            s->children[k].id = rk__gid_ref(rt, to);
            pthread_mutex_unlock(&sv->tree_lock);
            return; /* a group record was dropped before the move (rk__supervision_moving) */
        }
    }
}

/* ---- public API: building trees ------------------------------------------------------- */

void rk_supervisor_options_init(rk_supervisor_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->strategy = RK_ONE_FOR_ONE;
    o->max_restarts = 3;
    o->window_ns = 5000000000ull;
    o->parent = RK_ACTOR_NONE;
    o->restart = RK_CHILD_PERMANENT;
}

static rk_status rk__check_sup_options(const rk_supervisor_options *o)
{
    if (rk_topic_check_name(o->name) != RK_OK || strlen(o->name) > RK_SUPERVISOR_NAME_MAX)
        return RK_EINVAL;
    if ((unsigned)o->strategy > RK_REST_FOR_ONE || (unsigned)o->restart > RK_CHILD_TEMPORARY)
        return RK_EINVAL;
    if (o->max_restarts > RK__SUP_MAX_RESTARTS || o->window_ns == 0)
        return RK_EINVAL;
    if (o->parent != RK_ACTOR_NONE && !rk_is_supervisor(o->parent))
        return RK_EINVAL;
    return RK_OK;
}

static rk__sup *rk__sup_new(const rk_supervisor_options *o, rk_actor_id id)
{
    rk__sup *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hist_cap = o->max_restarts ? o->max_restarts : 1;
    s->history = calloc(s->hist_cap, sizeof *s->history);
    if (!s->history) {
        free(s);
        return NULL;
    }
    s->id = id;
    s->parent = o->parent;
    strcpy(s->name, o->name);
    s->strategy = o->strategy;
    s->restart = o->restart;
    s->max_restarts = o->max_restarts;
    s->window_ns = o->window_ns;
    s->state = RK_ACTIVE;
    s->generation = 1;
    return s;
}

/* Under op_lock: refusals that leave nothing to undo. */
static rk_status rk__sup_admit(rk_runtime *rt, const rk_supervisor_options *o, rk__sup **parent)
{
    rk__supervision *sv = rt->supervision;
    rk__sup **p;
    *parent = NULL;
    if (!__atomic_load_n(&rt->accepting, __ATOMIC_ACQUIRE))
        return RK_ESHUTDOWN;
    for (uint32_t i = 0; i < sv->n_sups; i++)
        if (strcmp(sv->sups[i]->name, o->name) == 0)
            return RK_EEXIST;
    if (sv->n_sups == RK_ACTOR_NONE - RK_SUPERVISOR_ID_BASE)
        return RK_ENOMEM;
    if (o->parent != RK_ACTOR_NONE) {
        *parent = rk__sup_at(sv, o->parent);
        if (!*parent)
            return RK_ENOACTOR;
        if ((*parent)->state != RK_ACTIVE)
            return RK_ESTATE;
        if (rk__reserve_child(sv, *parent) != RK_OK)
            return RK_ENOMEM;
    }
    if (sv->n_sups == sv->cap_sups) {
        uint32_t cap = sv->cap_sups ? 2 * sv->cap_sups : 8;
        pthread_mutex_lock(&sv->tree_lock);
        p = realloc(sv->sups, cap * sizeof *p);
        if (p) {
            sv->sups = p;
            sv->cap_sups = cap;
        }
        pthread_mutex_unlock(&sv->tree_lock);
        if (!p)
            return RK_ENOMEM;
    }
    return rk__supervision_start(rt);
}

rk_status rk_supervisor_create(rk_runtime *rt, const rk_supervisor_options *o, rk_actor_id *id)
{
    rk__supervision *sv;
    rk__sup *s = NULL, *parent;
    rk_status st;

    if (!rt || !o || !id)
        return RK_EINVAL;
    st = rk__check_sup_options(o);
    if (st != RK_OK)
        return st;
    sv = rt->supervision;
    pthread_mutex_lock(&sv->op_lock);
    st = rk__sup_admit(rt, o, &parent);
    if (st == RK_OK) {
        s = rk__sup_new(o, RK_SUPERVISOR_ID_BASE + sv->n_sups);
        st = s ? RK_OK : RK_ENOMEM;
    }
    /* Its backend may apply the restarts where the actors run (the CUDA
     * backend: on the GPU). */
    if (st == RK_OK && rt->ops->restarts &&
        rt->ops->restarts->open(rt, s->strategy, s->max_restarts, s->window_ns, &s->dev_rec) == RK_OK)
        s->dev = 1;
    if (st == RK_OK) {
        pthread_mutex_lock(&sv->tree_lock);
        sv->sups[sv->n_sups++] = s;
        pthread_mutex_unlock(&sv->tree_lock);
        if (parent) {
            rk__add_child(rt, parent, s->id, o->restart);
            if (rk__dev_group(parent))
                rk__dev_drop(rt, parent); /* a supervisor among its children */
        }
        *id = s->id;
        rk__event_emit(rt, RK_EVENT_STATE, s->id, s->generation, 0, RK_ACTIVE);
    }
    pthread_mutex_unlock(&sv->op_lock);
    return st;
}

rk_status rk_supervisor_start_child(rk_runtime *rt, rk_actor_id sup, const rk_actor_options *o,
                                    rk_child_restart restart, rk_actor_id *id)
{
    rk__supervision *sv;
    rk__sup *s;
    rk_actor_id child;
    rk_status st;

    if (!rt || !o || !id || (unsigned)restart > RK_CHILD_TEMPORARY || !rk_is_supervisor(sup))
        return RK_EINVAL;
    sv = rt->supervision;
    pthread_mutex_lock(&sv->op_lock);
    s = rk__sup_at(sv, sup);
    if (!s)
        st = RK_ENOACTOR;
    else if (s->state != RK_ACTIVE)
        st = RK_ESTATE;
    else /* room first: once launched, the child must be attachable */
        st = rk__reserve_child(sv, s);
    if (st == RK_OK)
        st = rk_launch(rt, o, &child);
    if (st == RK_OK) {
        rk__add_child(rt, s, child, restart);
        /* A failure before this is the thread's to handle, as usual. */
        int was_on = s->dev_on;
        if (rk__dev_group(s) && (restart == RK_CHILD_TEMPORARY || s->n_children > RK__SUP_GROUP_MAX))
            rk__dev_drop(rt, s);
        else if (rk__dev_group(s) && rk__dev_on(rt, s))
            rk__dev_attach_from(rt, s, was_on ? s->n_children - 1 : 0);
        else if (restart != RK_CHILD_TEMPORARY && rk__dev_on(rt, s))
            (void)rt->ops->restarts->attach(rt, &rt->actors[child], s->dev_rec, 0, 0);
        *id = child;
    }
    pthread_mutex_unlock(&sv->op_lock);
    if (st == RK_OK)
        rk__supervision_notify(rt); /* it may have failed already */
    return st;
}

rk_status rk_supervisor_restart(rk_runtime *rt, rk_actor_id sup)
{
    rk__supervision *sv;
    rk__sup *s;
    rk_status st;

    if (!rt || !rk_is_supervisor(sup))
        return RK_EINVAL;
    sv = rt->supervision;
    pthread_mutex_lock(&sv->op_lock);
    s = rk__sup_at(sv, sup);
    if (!s)
        st = RK_ENOACTOR;
    else if (!__atomic_load_n(&rt->accepting, __ATOMIC_ACQUIRE) || rk__stopping(sv))
        st = RK_ESHUTDOWN;
    else if (s->state == RK_TERMINATED)
        st = RK_ESTATE;
    else {
        st = rk__stop_children(rt, s, 0);
        rk__first_error(&st, rk__restart_subtree(rt, s));
    }
    pthread_mutex_unlock(&sv->op_lock);
    rk__supervision_notify(rt);
    return st;
}

/* ---- killing trees ------------------------------------------------------------------ */

static void rk__kill_record(rk__kill *k, rk_actor_id id)
{
    if (k->n < k->cap)
        k->order[k->n] = id;
    k->n++;
}

/* Stops the tree at id for good, children before parents. */
static void rk__kill_node(rk_runtime *rt, rk_actor_id id, rk__kill *k)
{
    rk__supervision *sv = rt->supervision;
    rk__sup *s = rk__sup_at(sv, id);
    rk_runtime *t;
    rk__actor *a;

    if (s) {
        rk__dev_off(rt, s);
        for (uint32_t i = s->n_children; i-- > 0;) {
            rk__set_running(sv, &s->children[i], 0);
            rk__kill_node(rt, s->children[i].id, k);
        }
        if (s->state != RK_TERMINATED)
            rk__sup_set_state(rt, s, RK_TERMINATED);
        rk__kill_record(k, id);
        return;
    }
    a = rk__child_actor(rt, id, &t);
    if (!a)
        return;
    rk__first_error(&k->first, rk__terminate_settled(rt, t, a, RK__LC_RETIRE, 0));
    rk__actor_retire(t, a); /* also when it was stopped already */
    rk__kill_record(k, id);
}

/* Takes the node out of its parent's children, so nobody restarts it. */
static void rk__detach(rk_runtime *rt, rk_actor_id id)
{
    rk__supervision *sv = rt->supervision;
    rk__sup *s = rk__sup_at(sv, id), *parent;
    rk_runtime *t;
    rk__actor *a = rk__child_actor(rt, id, &t);
    rk_actor_id pid = RK_ACTOR_NONE;

    if (s)
        pid = s->parent;
    else if (a && __atomic_load_n(&a->sup_rt, __ATOMIC_ACQUIRE) == rt)
        pid = __atomic_load_n(&a->sup_parent, __ATOMIC_ACQUIRE);
    parent = rk__sup_at(sv, pid);
    if (!parent)
        return;
    for (uint32_t k = 0; k < parent->n_children; k++) {
        if (parent->children[k].id == id) {
            rk__drop_child(rt, parent, k);
            return;
        }
    }
}

/* The runtime whose supervision a kill of `root` (given to rt) belongs to:
 * an actor's supervisor's, even when the actor has migrated to or from
 * rt; for an unsupervised actor, the runtime it lives in. */
static rk_runtime *rk__tree_home(rk_runtime *rt, rk_actor_id root)
{
    rk_runtime *t, *home;
    rk__actor *a = rk__child_actor(rt, root, &t);
    if (!a || __atomic_load_n(&a->sup_parent, __ATOMIC_ACQUIRE) == RK_ACTOR_NONE)
        return t;
    home = __atomic_load_n(&a->sup_rt, __ATOMIC_ACQUIRE);
    return home ? home : t;
}

/* How home's child records name `root` (given to rt): its local id if it
 * lives in home, else the gid of its member (see the top of this file). */
static rk_actor_id rk__tree_ref(rk_runtime *home, rk_runtime *rt, rk_actor_id root)
{
    rk_runtime *t;
    rk__actor *a = rk__child_actor(rt, root, &t);
    if (!a)
        return root;
    return t == home ? a->id : rk_gid(t->member, a->id);
}

rk_status rk_kill_tree(rk_runtime *rt, rk_actor_id root, rk_actor_id *order, size_t cap, size_t *count)
{
    rk__kill k = {order, cap, 0, RK_OK};
    rk__supervision *sv;
    rk_runtime *home, *t;
    rk_status st = RK_OK;
    rk_actor_id ref;

    if (!rt || (cap > 0 && !order))
        return RK_EINVAL;
    /* Where the supervisor of root lives, found without a lock: a
     * supervised actor moves only under its supervisor's op_lock, and
     * keeps the same supervisor wherever it goes, so it is still right
     * once that lock is held - and root's name there is taken under it. */
    home = rk__tree_home(rt, root);
    sv = home->supervision;
    pthread_mutex_lock(&sv->op_lock);
    ref = rk__tree_ref(home, rt, root);
    if (rk_is_supervisor(root) ? !rk__sup_at(sv, root) : !rk__child_actor(home, ref, &t))
        st = RK_ENOACTOR;
    else if (rk__is_shut_down(rt) || rk__is_shut_down(home))
        st = RK_ESHUTDOWN;
    if (st == RK_OK) {
        rk__detach(home, ref);
        rk__kill_node(home, ref, &k);
        st = k.first;
    }
    pthread_mutex_unlock(&sv->op_lock);
    if (count)
        *count = k.n;
    return st;
}

/* ---- public API: inspection ---------------------------------------------------------- */

rk_status rk_supervisor_lookup(rk_runtime *rt, const char *name, rk_actor_id *id)
{
    rk__supervision *sv;
    rk_status st = RK_ENOACTOR;
    if (!rt || !name || !id)
        return RK_EINVAL;
    sv = rt->supervision;
    pthread_mutex_lock(&sv->tree_lock);
    for (uint32_t i = 0; i < sv->n_sups; i++) {
        if (strcmp(sv->sups[i]->name, name) == 0) {
            *id = sv->sups[i]->id;
            st = RK_OK;
            break;
        }
    }
    pthread_mutex_unlock(&sv->tree_lock);
    return st;
}

rk_status rk_supervisor_info_get(rk_runtime *rt, rk_actor_id sup, rk_supervisor_info *out)
{
    rk__supervision *sv;
    rk__sup *s;
    if (!rt || !out || !rk_is_supervisor(sup))
        return RK_EINVAL;
    sv = rt->supervision;
    pthread_mutex_lock(&sv->tree_lock);
    s = rk__sup_at(sv, sup);
    if (s) {
        memset(out, 0, sizeof *out);
        memcpy(out->name, s->name, sizeof out->name);
        out->id = s->id;
        out->parent = s->parent;
        out->state = s->state;
        out->strategy = s->strategy;
        out->restart = s->restart;
        out->generation = s->generation;
        out->max_restarts = s->max_restarts;
        out->window_ns = s->window_ns;
        out->restarts = s->restarts;
        out->recent_restarts = rk__recent(s, rk__now_ns());
        out->children = s->n_children;
        out->escalations = s->escalations;
    }
    pthread_mutex_unlock(&sv->tree_lock);
    /* A record's counts, read outside tree_lock (nothing is taken under
     * it) and while the backend is still there. */
    if (s && __atomic_load_n(&s->dev_on, __ATOMIC_ACQUIRE) && rk__enter(rt) == RK_OK) {
        rt->ops->restarts->stats(rt, s->dev_rec, &out->restarts, &out->recent_restarts);
        rk__leave(rt);
    }
    return s ? RK_OK : RK_ENOACTOR;
}

rk_status rk_supervisor_children(rk_runtime *rt, rk_actor_id sup, rk_supervisor_child *out, size_t cap,
                                 size_t *total)
{
    rk__supervision *sv;
    rk__sup *s;
    size_t n = 0;

    if (!rt || !total || (cap > 0 && !out) || !rk_is_supervisor(sup))
        return RK_EINVAL;
    sv = rt->supervision;
    pthread_mutex_lock(&sv->tree_lock);
    s = rk__sup_at(sv, sup);
    if (s) {
        *total = s->n_children;
        n = *total < cap ? *total : cap;
        for (size_t i = 0; i < n; i++) {
            out[i].id = s->children[i].id;
            out[i].restart = s->children[i].restart;
        }
    }
    pthread_mutex_unlock(&sv->tree_lock);
    if (!s)
        return RK_ENOACTOR;
    /* States outside tree_lock: nothing may be taken under it. */
    for (size_t i = 0; i < n; i++) {
        rk__sup *cs = rk__sup_find(sv, out[i].id);
        if (cs) {
            pthread_mutex_lock(&sv->tree_lock);
            out[i].state = cs->state;
            out[i].generation = cs->generation;
            pthread_mutex_unlock(&sv->tree_lock);
        } else {
            rk_runtime *t;
            rk__actor *a = rk__child_actor(rt, out[i].id, &t);
            out[i].state = a ? rk__actor_state_now(t, a) : RK_TERMINATED;
            out[i].generation = a ? rk__actor_generation(t, a) : 0;
        }
    }
    return *total > cap ? RK_E2BIG : RK_OK;
}
