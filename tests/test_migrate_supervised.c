/* Supervision across a migration on the CPU backend (group.h, supervisor.h):
 * a supervised child that moved to another member is restarted there by its
 * supervisor (fresh state, new generation, the old generation refused),
 * which the failure there wakes at once; restart intensity and escalation
 * work as without the move; rk_kill_tree reaches moved children (through
 * the tree, by their new gid, by their old id); one-for-all restarts a moved
 * and a local child together; a child moved A -> B -> C -> A is supervised
 * at every stop; a failure while the child is being moved leaves it where it
 * was for its supervisor (or, when it comes with the moved queue, is
 * restarted at the new home); a supervisor itself is refused; and a group is
 * destroyed right after moved children failed.
 *
 * Handlers never call cmocka asserts (they run on worker threads); every
 * wait polls with a limit, so a bug fails a test instead of hanging it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rk_test.h"
#include "ringkernel/group.h"
#include "ringkernel/ringkernel.h"
#include "ringkernel/supervisor.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define WAIT_LIMIT_NS (5 * SEC)
#define LONG_WINDOW (600 * SEC) /* no restart falls out of it during a test */

enum {
    T_INC = 1,  /* count one */
    T_GET = 2,  /* a request: replies with a view */
    T_FAIL = 3, /* the handler fails */
    T_GATE = 4, /* wait for the gate (at most 5 s) */
    T_NOP = 5,
};

typedef struct w_state {
    uint64_t count;
} w_state;

typedef struct w_view {
    uint64_t count;
    uint32_t generation;
    rk_actor_id self;
} w_view;

static atomic_int g_gate, g_entered;

static rk_status w_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    w_state *s = state;
    switch (m->type) {
    case T_INC:
        s->count++;
        return RK_OK;
    case T_GET: {
        w_view v = {s->count, rk_generation(ctx), rk_self(ctx)};
        return rk_reply(ctx, T_GET, &v, sizeof v);
    }
    case T_FAIL:
        return RK_ENOTSUP;
    case T_GATE:
        return rk_test_gate_wait(&g_gate, &g_entered, WAIT_LIMIT_NS) ? RK_OK : RK_ETIMEDOUT;
    }
    return RK_OK;
}

static const rk_actor_type w_type = {.name = "w", .handle = w_handle};

/* ---- fixture and helpers ------------------------------------------------------ */

static int setup(void **state)
{
    rk_group_options o;
    rk_group *g = NULL;
    atomic_store(&g_gate, 0);
    atomic_store(&g_entered, 0);
    rk_group_options_init(&o);
    o.runtime.backend = RK_BACKEND_CPU;
    o.runtime.workers = 2;
    o.runtime.max_actors = 32;
    o.members = 3;
    if (rk_group_create(&g, &o) != RK_OK)
        return -1;
    *state = g;
    return 0;
}

static int teardown(void **state)
{
    atomic_store(&g_gate, 1);
    rk_group_destroy(*state, NULL);
    return 0;
}

static rk_runtime *member(rk_group *g, uint32_t m)
{
    rk_runtime *rt = rk_group_member(g, m);
    assert_non_null(rt);
    return rt;
}

static rk_actor_id make_sup(rk_runtime *rt, const char *name, rk_actor_id parent, rk_restart_strategy strategy,
                            uint32_t max_restarts)
{
    rk_supervisor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_supervisor_options_init(&o);
    o.name = name;
    o.parent = parent;
    o.strategy = strategy;
    o.max_restarts = max_restarts;
    o.window_ns = LONG_WINDOW;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_OK);
    return id;
}

/* A permanent child of `sup` on member m; returns its gid. */
static rk_actor_id start_child(rk_group *g, uint32_t m, rk_actor_id sup, const char *name)
{
    rk_actor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &w_type;
    o.state_size = sizeof(w_state);
    o.inbox_capacity = 64;
    assert_int_equal(rk_supervisor_start_child(member(g, m), sup, &o, RK_CHILD_PERMANENT, &id), RK_OK);
    return rk_gid(m, id);
}

static rk_actor_id move(rk_group *g, rk_actor_id gid, uint32_t to)
{
    rk_migrate_report r;
    assert_int_equal(rk_group_migrate(g, gid, to, RK_MIGRATE_VERIFY, 5 * SEC, &r), RK_OK);
    assert_int_equal(rk_gid_member(r.to), (int)to);
    return r.to;
}

/* Metrics of the actor a gid names, not followed. */
static rk_actor_metrics metrics(rk_group *g, rk_actor_id gid)
{
    rk_actor_metrics m;
    assert_int_equal(rk_actor_metrics_get(member(g, (uint32_t)rk_gid_member(gid)), rk_gid_local(gid), &m), RK_OK);
    return m;
}

/* Waits until the actor gid names (not followed) is in `state` with
 * generation `gen`. */
static void wait_actor(rk_group *g, rk_actor_id gid, rk_lifecycle_state state, uint32_t gen)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_actor_metrics m = metrics(g, gid);
    while (m.state != state || m.generation != gen) {
        if (rk_test_now_ns() > deadline)
            fail_msg("actor %#x: %s gen %u, waited for %s gen %u", gid, rk_lifecycle_state_name(m.state),
                     m.generation, rk_lifecycle_state_name(state), gen);
        rk_test_sleep_ns(MS / 2);
        m = metrics(g, gid);
    }
}

static rk_supervisor_info info(rk_runtime *rt, rk_actor_id sup)
{
    rk_supervisor_info i;
    assert_int_equal(rk_supervisor_info_get(rt, sup, &i), RK_OK);
    return i;
}

static void wait_sup(rk_runtime *rt, rk_actor_id sup, rk_lifecycle_state state, uint32_t gen)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_supervisor_info i = info(rt, sup);
    while (i.state != state || i.generation != gen) {
        if (rk_test_now_ns() > deadline)
            fail_msg("supervisor %s: %s gen %u, waited for %s gen %u", i.name, rk_lifecycle_state_name(i.state),
                     i.generation, rk_lifecycle_state_name(state), gen);
        rk_test_sleep_ns(MS / 2);
        i = info(rt, sup);
    }
}

/* What the actor at `gid` (followed) says of itself, asked from member 0. */
static w_view view(rk_group *g, rk_actor_id gid)
{
    w_view v;
    uint32_t x = 0;
    rk_msgbuf reply;
    memset(&v, 0, sizeof v);
    memset(&reply, 0, sizeof reply);
    reply.data = &v;
    reply.capacity = sizeof v;
    assert_int_equal(rk_call(member(g, 0), gid, T_GET, &x, sizeof x, &reply, 5 * SEC), RK_OK);
    assert_int_equal(reply.hdr.len, sizeof v);
    return v;
}

static void send_to(rk_group *g, rk_actor_id gid, uint32_t type, uint32_t n)
{
    uint64_t x = 0;
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(rk_send(member(g, 0), gid, type, &x, sizeof x), RK_OK);
}

/* The children of sup, which must be n. */
static void children(rk_runtime *rt, rk_actor_id sup, rk_supervisor_child *out, size_t n)
{
    size_t total = 0;
    assert_int_equal(rk_supervisor_children(rt, sup, out, n, &total), RK_OK);
    assert_int_equal(total, n);
}

/* Returns once member m's supervision has finished its current scan:
 * rk_kill_tree takes its lock, which a scan holds until it has handled
 * every stop it can see. The root is a terminated, unsupervised actor. */
static void barrier(rk_group *g, uint32_t m)
{
    rk_actor_options o;
    rk_actor_id id;
    char name[32];
    static atomic_uint serial;
    snprintf(name, sizeof name, "barrier-%u", atomic_fetch_add(&serial, 1));
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &w_type;
    o.inbox_capacity = 4;
    assert_int_equal(rk_launch(member(g, m), &o, &id), RK_OK);
    assert_int_equal(rk_terminate(member(g, m), id), RK_OK);
    assert_int_equal(rk_kill_tree(member(g, m), id, NULL, 0, NULL), RK_OK);
}

/* ---- tests -------------------------------------------------------------------- */

/* The core case: moved, failed, restarted at its new home by the
 * supervisor that stayed behind. */
static void restarted_at_new_home(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt0 = member(g, 0);
    rk_actor_id sup = make_sup(rt0, "s", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3);
    rk_actor_id x = start_child(g, 0, sup, "s/x"), now, moved;
    rk_supervisor_child kid;
    rk_control c;
    w_view v;
    rk_msg m;
    uint64_t x8 = 0, t0;

    send_to(g, x, T_INC, 3);
    moved = move(g, x, 1);
    v = view(g, x);
    assert_int_equal(v.count, 3); /* the state moved with it */
    assert_int_equal(v.generation, 1);
    children(rt0, sup, &kid, 1);
    assert_int_equal(kid.id, moved);
    assert_int_equal(kid.state, RK_ACTIVE);
    assert_int_equal(kid.generation, 1);
    assert_int_equal(rk_actor_control(member(g, 1), rk_gid_local(moved), &c), RK_OK);
    assert_int_equal(c.parent, sup);

    /* Fail it through its old id: the supervisor on member 0 restarts it
     * on member 1, well inside the window. */
    t0 = rk_test_now_ns();
    send_to(g, x, T_FAIL, 1);
    wait_actor(g, moved, RK_ACTIVE, 2);
    assert_true(rk_test_now_ns() - t0 < 2 * SEC);
    assert_int_equal(rk_group_resolve(g, x, &now), RK_OK);
    assert_int_equal(now, moved);
    v = view(g, x);
    assert_int_equal(v.count, 0); /* fresh state */
    assert_int_equal(v.generation, 2);
    assert_int_equal(info(rt0, sup).restarts, 1);
    assert_int_equal(info(rt0, sup).state, RK_ACTIVE);
    children(rt0, sup, &kid, 1);
    assert_int_equal(kid.id, moved);
    assert_int_equal(kid.generation, 2);
    /* The old home was not restarted: it stays the terminated husk. */
    assert_int_equal(metrics(g, x).state, RK_TERMINATED);
    assert_int_equal(metrics(g, x).generation, 1);
    assert_int_equal(rk_group_load(g, 0), 0);
    assert_int_equal(rk_group_load(g, 1), 1);

    /* A message for the generation that failed is refused. */
    memset(&m, 0, sizeof m);
    m.type = T_INC;
    m.dst = moved;
    m.len = sizeof x8;
    m.dst_gen = 1;
    assert_int_equal(rk_send_msg(rt0, &m, &x8), RK_ESTALE);
    m.dst_gen = 2;
    assert_int_equal(rk_send_msg(rt0, &m, &x8), RK_OK);
    assert_int_equal(view(g, x).count, 1);

    /* Terminated by someone else where it lives: permanent, so restarted. */
    assert_int_equal(rk_terminate(member(g, 1), rk_gid_local(moved)), RK_OK);
    wait_actor(g, moved, RK_ACTIVE, 3);
    assert_int_equal(info(rt0, sup).restarts, 2);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A failure at the new home wakes the supervisor in the old one at once,
 * rather than at its next periodic look (every 100 ms): the median time to
 * the restart stays far below that. */
static void remote_failure_wakes_supervisor(void **state)
{
    enum { ROUNDS = 15 };
    rk_group *g = *state;
    rk_actor_id sup = make_sup(member(g, 0), "wake", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 100);
    rk_actor_id x = start_child(g, 0, sup, "wake/x"), moved;
    uint64_t took[ROUNDS];

    moved = move(g, x, 2);
    for (uint32_t i = 0; i < ROUNDS; i++) {
        uint64_t t0 = rk_test_now_ns();
        send_to(g, x, T_FAIL, 1);
        wait_actor(g, moved, RK_ACTIVE, i + 2);
        took[i] = rk_test_now_ns() - t0;
    }
    qsort(took, ROUNDS, sizeof took[0], cmp_u64);
    if (took[ROUNDS / 2] >= 20 * MS)
        fail_msg("median restart after a remote failure took %llu us", (unsigned long long)(took[ROUNDS / 2] / 1000));
}

/* Intensity and escalation after the move, as without it: a child
 * supervisor that gives up is restarted by its parent (subtree and the
 * moved child with it); the root that gives up reports it. */
static void intensity_escalates_after_move(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt0 = member(g, 0), *rt2 = member(g, 2);
    rk_actor_id p = make_sup(rt0, "p", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 1);
    rk_actor_id s = make_sup(rt0, "p/s", p, RK_ONE_FOR_ONE, 1);
    rk_actor_id x = start_child(g, 0, s, "p/s/x"), moved, id;
    rk_async_error e;
    int failed_root = 0;

    moved = move(g, x, 2);
    send_to(g, x, T_FAIL, 1); /* s: restart 1 of 1 */
    wait_actor(g, moved, RK_ACTIVE, 2);
    assert_int_equal(info(rt0, s).restarts, 1);
    send_to(g, x, T_FAIL, 1); /* s gives up; p restarts s's subtree */
    wait_sup(rt0, s, RK_ACTIVE, 2);
    wait_actor(g, moved, RK_ACTIVE, 3);
    assert_int_equal(info(rt0, s).escalations, 1);
    assert_int_equal(info(rt0, p).restarts, 1);
    assert_int_equal(info(rt0, p).state, RK_ACTIVE);
    assert_int_equal(view(g, x).generation, 3);

    send_to(g, x, T_FAIL, 1); /* s, fresh history: restart 1 of 1 */
    wait_actor(g, moved, RK_ACTIVE, 4);
    send_to(g, x, T_FAIL, 1); /* s gives up; p is out of restarts too */
    wait_sup(rt0, p, RK_FAILED, 1);
    assert_int_equal(info(rt0, p).escalations, 1);
    assert_int_equal(info(rt0, s).escalations, 2);
    assert_int_equal(info(rt0, s).state, RK_FAILED);
    /* The child stays Failed where it lives, and its name is released there. */
    assert_int_equal(metrics(g, moved).state, RK_FAILED);
    assert_int_equal(metrics(g, moved).generation, 4);
    assert_int_equal(rk_lookup(rt2, "p/s/x", &id), RK_ENOACTOR);
    while (rk_runtime_error(rt0, &e) == RK_OK)
        failed_root += e.actor == p && e.status == RK_EFAILED;
    assert_int_equal(failed_root, 1);
}

/* rk_kill_tree stops moved children where they live: by the new gid on
 * their new member, by the old id on the supervisor's, and through the
 * supervisor's tree. */
static void kill_tree_reaches_moved_children(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt0 = member(g, 0), *rt1 = member(g, 1), *rt2 = member(g, 2);
    rk_actor_id sup = make_sup(rt0, "k", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3);
    rk_actor_id x = start_child(g, 0, sup, "k/x");
    rk_actor_id y = start_child(g, 0, sup, "k/y");
    rk_actor_id w = start_child(g, 0, sup, "k/w");
    rk_actor_id z = start_child(g, 0, sup, "k/z");
    rk_actor_id mx, my, mw, order[8], id;
    rk_supervisor_child kids[4];
    size_t n = 0;

    mx = move(g, x, 1);
    my = move(g, y, 2);
    mw = move(g, w, 1);

    /* y by its new gid, through its new member. */
    assert_int_equal(rk_kill_tree(rt2, rk_gid_local(my), order, 8, &n), RK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(order[0], my);
    assert_int_equal(metrics(g, my).state, RK_TERMINATED);
    assert_int_equal(rk_lookup(rt2, "k/y", &id), RK_ENOACTOR);
    children(rt0, sup, kids, 3);
    assert_int_equal(kids[0].id, mx);
    assert_int_equal(kids[1].id, mw);
    assert_int_equal(kids[2].id, rk_gid_local(z));

    /* w by its old id, on the supervisor's member. */
    assert_int_equal(rk_kill_tree(rt0, rk_gid_local(w), order, 8, &n), RK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(order[0], mw);
    assert_int_equal(metrics(g, mw).state, RK_TERMINATED);
    assert_int_equal(rk_lookup(rt1, "k/w", &id), RK_ENOACTOR);
    children(rt0, sup, kids, 2);

    /* Neither is restarted: they left their supervisor. */
    barrier(g, 0);
    assert_int_equal(metrics(g, my).state, RK_TERMINATED);
    assert_int_equal(metrics(g, mw).state, RK_TERMINATED);
    assert_int_equal(info(rt0, sup).restarts, 0);

    /* The whole tree: z (here), then x (on member 1), then the supervisor. */
    assert_int_equal(rk_kill_tree(rt0, sup, order, 8, &n), RK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(order[0], rk_gid_local(z));
    assert_int_equal(order[1], mx);
    assert_int_equal(order[2], sup);
    assert_int_equal(metrics(g, mx).state, RK_TERMINATED);
    assert_int_equal(metrics(g, z).state, RK_TERMINATED);
    assert_int_equal(rk_lookup(rt1, "k/x", &id), RK_ENOACTOR);
    assert_int_equal(info(rt0, sup).state, RK_TERMINATED);
    barrier(g, 0);
    assert_int_equal(metrics(g, mx).state, RK_TERMINATED);
    assert_int_equal(metrics(g, mx).generation, 1);
}

/* One-for-all over a moved child and a local one: a failure of either
 * restarts both, each where it lives. */
static void one_for_all_moved_and_local(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt0 = member(g, 0);
    rk_actor_id sup = make_sup(rt0, "a", RK_ACTOR_NONE, RK_ONE_FOR_ALL, 5);
    rk_actor_id x = start_child(g, 0, sup, "a/x");
    rk_actor_id y = start_child(g, 0, sup, "a/y"), mx;

    mx = move(g, x, 1);
    send_to(g, x, T_INC, 2);
    send_to(g, y, T_INC, 2);
    assert_int_equal(view(g, x).count, 2);
    assert_int_equal(view(g, y).count, 2);

    send_to(g, x, T_FAIL, 1); /* the moved one fails */
    wait_actor(g, mx, RK_ACTIVE, 2);
    wait_actor(g, y, RK_ACTIVE, 2);
    assert_int_equal(view(g, x).count, 0);
    assert_int_equal(view(g, y).count, 0);

    send_to(g, x, T_INC, 1);
    send_to(g, y, T_FAIL, 1); /* the local one fails */
    wait_actor(g, mx, RK_ACTIVE, 3);
    wait_actor(g, y, RK_ACTIVE, 3);
    assert_int_equal(view(g, x).count, 0);
    assert_int_equal(info(rt0, sup).restarts, 2);
    assert_int_equal(metrics(g, x).state, RK_TERMINATED); /* the husk stays one */
}

/* A -> B -> C -> A, failing at every stop: restarted there each time. */
static void around_and_back(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt0 = member(g, 0);
    rk_actor_id sup = make_sup(rt0, "r", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 10);
    rk_actor_id x = start_child(g, 0, sup, "r/x"), at = x, homes[4] = {x, 0, 0, 0};
    const uint32_t route[3] = {1, 2, 0};
    rk_supervisor_child kid;
    rk_control c;

    for (uint32_t i = 0; i < 3; i++) {
        send_to(g, x, T_INC, 1);
        at = move(g, x, route[i]); /* by the first id: it forwards */
        homes[i + 1] = at;
        assert_int_equal(view(g, x).count, 1);
        send_to(g, x, T_FAIL, 1);
        wait_actor(g, at, RK_ACTIVE, 2); /* each home starts its own generations */
        assert_int_equal(view(g, x).count, 0);
        assert_int_equal(rk_actor_control(member(g, route[i]), rk_gid_local(at), &c), RK_OK);
        assert_int_equal(c.parent, sup);
        children(rt0, sup, &kid, 1);
        /* Named by its gid while away, by its (new) local id once back. */
        assert_int_equal(kid.id, route[i] == 0 ? rk_gid_local(at) : at);
        assert_int_equal(kid.generation, 2);
    }
    assert_int_not_equal(rk_gid_local(at), rk_gid_local(x));
    assert_int_equal(info(rt0, sup).restarts, 3);
    for (uint32_t i = 0; i < 3; i++) /* the husks were never restarted */
        assert_int_equal(metrics(g, homes[i]).state, RK_TERMINATED);
    assert_int_equal(rk_group_load(g, 0), 1);
    assert_int_equal(rk_group_load(g, 1), 0);
    assert_int_equal(rk_group_load(g, 2), 0);
}

typedef struct mover {
    rk_group *g;
    rk_actor_id gid;
    rk_status st;
    atomic_int done;
} mover;

static void *mover_main(void *arg)
{
    mover *mv = arg;
    mv->st = rk_group_migrate(mv->g, mv->gid, 1, 0, 5 * SEC, NULL);
    atomic_store(&mv->done, 1);
    return NULL;
}

/* Waits until mv's migration has closed x's intake (senders get RK_EFULL,
 * returned) and, very likely, waits for the handler at the gate to let it
 * hold x still. The probe names a generation x never had, so until then it
 * is refused (RK_ESTALE) and queues nothing. No assert here: the caller
 * opens the gate and joins the mover first. */
static rk_status wait_moving(rk_runtime *rt, rk_actor_id x, mover *mv, uint64_t deadline)
{
    uint64_t n8 = 0;
    rk_status st;
    rk_msg probe;
    memset(&probe, 0, sizeof probe);
    probe.type = T_NOP;
    probe.dst = x;
    probe.len = sizeof n8;
    probe.dst_gen = 99;
    while ((st = rk_send_msg(rt, &probe, &n8)) != RK_EFULL) {
        if (rk_test_now_ns() > deadline || atomic_load(&mv->done))
            break;
        rk_test_sleep_ns(100000);
    }
    rk_test_sleep_ns(20 * MS);
    return st;
}

/* Counts one message at x, then holds x's handler at the gate (until
 * g_gate is set) and returns the deadline the test's waits share. */
static uint64_t hold_at_gate(rk_group *g, rk_actor_id x)
{
    const uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    send_to(g, x, T_INC, 1);
    send_to(g, x, T_GATE, 1);
    while (atomic_load(&g_entered) == 0) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(100000);
    }
    return deadline;
}

/* The child fails while the migration waits to hold it still: the move is
 * refused and the child is restarted where it was. */
static void failure_while_moving(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt0 = member(g, 0);
    rk_actor_id sup = make_sup(rt0, "f", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3);
    rk_actor_id x = start_child(g, 0, sup, "f/x"), now;
    rk_supervisor_child kid;
    mover mv = {g, x, RK_EINTERNAL, 0};
    pthread_t th;
    uint64_t deadline;
    rk_status st;

    deadline = hold_at_gate(g, x);
    send_to(g, x, T_FAIL, 1); /* handled right after the gate, before the pause is granted */
    assert_int_equal(pthread_create(&th, NULL, mover_main, &mv), 0);
    st = wait_moving(rt0, x, &mv, deadline);
    atomic_store(&g_gate, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(st, RK_EFULL);
    assert_int_equal(mv.st, RK_ESTATE);

    wait_actor(g, x, RK_ACTIVE, 2);
    assert_int_equal(rk_group_resolve(g, x, &now), RK_OK);
    assert_int_equal(now, x);
    assert_int_equal(view(g, x).count, 0);
    children(rt0, sup, &kid, 1);
    assert_int_equal(kid.id, rk_gid_local(x));
    assert_int_equal(info(rt0, sup).restarts, 1);
    assert_int_equal(rk_group_load(g, 1), 0); /* the new home went */
    /* It moves fine now. */
    now = move(g, x, 1);
    assert_int_equal(view(g, x).count, 0);
    children(rt0, sup, &kid, 1);
    assert_int_equal(kid.id, now);
}

/* The failure comes with the move: a failing message that moved with the
 * child's queue is handled as soon as its new home runs, before or after
 * the swap. The move succeeds and the supervisor restarts the child there. */
static void failure_at_new_home_while_moving(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt0 = member(g, 0);
    rk_actor_id sup = make_sup(rt0, "n", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3);
    rk_actor_id x = start_child(g, 0, sup, "n/x"), now;
    rk_supervisor_child kid;
    mover mv = {g, x, RK_EINTERNAL, 0};
    pthread_t th;
    uint64_t deadline;
    rk_status st;

    deadline = hold_at_gate(g, x);
    /* More than the CPU worker's turn after the gate (32 messages), so the
     * pause is granted before it reaches the failure, which moves. */
    send_to(g, x, T_NOP, 48);
    send_to(g, x, T_FAIL, 1);
    assert_int_equal(pthread_create(&th, NULL, mover_main, &mv), 0);
    st = wait_moving(rt0, x, &mv, deadline);
    atomic_store(&g_gate, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(st, RK_EFULL);
    assert_int_equal(mv.st, RK_OK);

    assert_int_equal(rk_group_resolve(g, x, &now), RK_OK);
    assert_int_equal(rk_gid_member(now), 1);
    wait_actor(g, now, RK_ACTIVE, 2);
    assert_int_equal(view(g, x).count, 0);
    assert_int_equal(info(rt0, sup).restarts, 1);
    children(rt0, sup, &kid, 1);
    assert_int_equal(kid.id, now);
    assert_int_equal(metrics(g, x).state, RK_TERMINATED);
    assert_int_equal(metrics(g, x).generation, 1);
}

/* A supervisor stays where it is. */
static void supervisor_refused(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt1 = member(g, 1);
    rk_actor_id sup = make_sup(rt1, "stay", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3);
    rk_actor_id x = start_child(g, 1, sup, "stay/x");
    rk_supervisor_child kid;
    rk_migrate_report r;

    assert_int_equal(rk_group_migrate(g, sup, 0, 0, SEC, &r), RK_ENOTSUP);
    assert_int_equal(rk_group_migrate(g, sup, 0, 0, SEC, NULL), RK_ENOTSUP);
    assert_int_equal(info(rt1, sup).state, RK_ACTIVE);
    children(rt1, sup, &kid, 1);
    assert_int_equal(kid.id, rk_gid_local(x));
    assert_int_equal(kid.state, RK_ACTIVE);
}

/* Destroying the group while a supervisor on one member reacts to a moved
 * child's failure on another: it ends, promptly, with nothing reported
 * twice (and, under the sanitizers, no race or leak). */
static void destroy_after_remote_failure(void **state)
{
    rk_group *g = *state;
    rk_runtime *rt1 = member(g, 1);
    rk_actor_id sup = make_sup(rt1, "d", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 100);
    rk_actor_id x = start_child(g, 1, sup, "d/x"), y = start_child(g, 1, sup, "d/y");
    rk_shutdown_report rep;
    uint64_t t0;

    (void)move(g, x, 0);
    (void)move(g, y, 2);
    send_to(g, x, T_FAIL, 1);
    send_to(g, y, T_FAIL, 1);
    t0 = rk_test_now_ns();
    *state = NULL; /* destroyed here */
    rk_group_destroy(g, &rep);
    assert_true(rk_test_now_ns() - t0 < 2 * SEC);
    assert_int_equal(rep.timed_out, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(restarted_at_new_home, setup, teardown),
        cmocka_unit_test_setup_teardown(remote_failure_wakes_supervisor, setup, teardown),
        cmocka_unit_test_setup_teardown(intensity_escalates_after_move, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_tree_reaches_moved_children, setup, teardown),
        cmocka_unit_test_setup_teardown(one_for_all_moved_and_local, setup, teardown),
        cmocka_unit_test_setup_teardown(around_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_while_moving, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_at_new_home_while_moving, setup, teardown),
        cmocka_unit_test_setup_teardown(supervisor_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(destroy_after_remote_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
