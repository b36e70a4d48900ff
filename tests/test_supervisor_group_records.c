/* The core's side of group restart records (runtime_internal.h,
 * rk__restart_ops): what a one-for-all or rest-for-one supervisor tells a
 * backend that keeps its policy (the CUDA backend, where the supervisor
 * block restarts the group). The CPU backend keeps no group records, so
 * this test puts a recording stand-in behind a CPU runtime's ops: it
 * accepts every record and remembers each child's attachment. Checked:
 *   - children are attached in start order with their positions and the
 *     count, and re-attached when one leaves;
 *   - a temporary child, a supervisor as child, a 33rd child, or a child
 *     that migrates to another member of a group ends the record for good (off, every child detached) and the supervision
 *     thread decides from then on, counting itself;
 *   - while the record serves, the thread's own restarts are charged to it;
 *   - one-for-one records are attached one by one, without positions.
 * The restarts themselves run on the CPU backend's supervision thread (the
 * stand-in restarts nothing), so every strategy still behaves as before. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/runtime_internal.h"
#include "ringkernel/group.h"
#include "ringkernel/ringkernel.h"
#include "rk_test.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define WAIT_LIMIT_NS (20 * SEC)
#define LONG_WINDOW (600 * SEC)
#define MOCK_RECS 8
#define MOCK_ACTORS 128

enum { T_FAIL = 1 };

/* ---- the stand-in ------------------------------------------------------------------- */

typedef struct mock_rec {
    rk_restart_strategy strategy;
    int on, opened;
    uint32_t n;       /* the count of the latest attach to it */
    uint64_t charges; /* RK__RESTART_CHARGE calls */
    uint32_t ons, offs;
} mock_rec;

typedef struct mock_att {
    uint32_t rec; /* RK__RESTART_NONE: detached (or never attached) */
    uint32_t pos;
} mock_att;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static mock_rec g_recs[MOCK_RECS];
static uint32_t g_n_recs;
static mock_att g_att[MOCK_ACTORS];

static rk_status m_open(rk_runtime *rt, rk_restart_strategy strategy, uint32_t max_restarts, uint64_t window_ns,
                        uint32_t *rec)
{
    rk_status st = RK_ENOTSUP;
    (void)rt;
    (void)max_restarts;
    (void)window_ns;
    pthread_mutex_lock(&g_lock);
    if (g_n_recs < MOCK_RECS) {
        *rec = g_n_recs++;
        g_recs[*rec].strategy = strategy;
        g_recs[*rec].opened = 1;
        st = RK_OK;
    }
    pthread_mutex_unlock(&g_lock);
    return st;
}

static rk_status m_control(rk_runtime *rt, uint32_t rec, enum rk__restart_op op)
{
    rk_status st = RK_OK;
    (void)rt;
    pthread_mutex_lock(&g_lock);
    if (rec >= g_n_recs) {
        st = RK_EINVAL;
    } else if (op == RK__RESTART_ON) {
        g_recs[rec].on = 1;
        g_recs[rec].ons++;
    } else if (op == RK__RESTART_OFF) {
        g_recs[rec].on = 0;
        g_recs[rec].offs++;
    } else if (op == RK__RESTART_CHARGE) {
        g_recs[rec].charges++; /* never gives up: the tests stay inside the intensity */
    } else {
        st = RK_EINVAL;
    }
    pthread_mutex_unlock(&g_lock);
    return st;
}

static rk_status m_attach(rk_runtime *rt, rk__actor *a, uint32_t rec, uint32_t pos, uint32_t n)
{
    rk_status st = RK_OK;
    (void)rt;
    pthread_mutex_lock(&g_lock);
    if (a->id >= MOCK_ACTORS || (rec != RK__RESTART_NONE && rec >= g_n_recs)) {
        st = RK_EINVAL;
    } else {
        g_att[a->id].rec = rec;
        g_att[a->id].pos = pos;
        if (rec != RK__RESTART_NONE)
            g_recs[rec].n = n;
    }
    pthread_mutex_unlock(&g_lock);
    return st;
}

static void m_stats(rk_runtime *rt, uint32_t rec, uint64_t *restarts, uint32_t *recent)
{
    (void)rt;
    pthread_mutex_lock(&g_lock);
    *restarts = rec < g_n_recs ? g_recs[rec].charges : 0;
    *recent = 0;
    pthread_mutex_unlock(&g_lock);
}

static const struct rk__restart_ops g_mock_ops = {
    .open = m_open,
    .control = m_control,
    .attach = m_attach,
    .stats = m_stats,
};

static struct rk_backend_ops g_ops; /* the CPU backend's, with the stand-in */

static mock_rec rec_now(uint32_t rec)
{
    mock_rec r;
    pthread_mutex_lock(&g_lock);
    r = g_recs[rec];
    pthread_mutex_unlock(&g_lock);
    return r;
}

static mock_att att_now(rk_actor_id id)
{
    mock_att a;
    pthread_mutex_lock(&g_lock);
    a = g_att[id];
    pthread_mutex_unlock(&g_lock);
    return a;
}

/* ---- the actor and the runtime ----------------------------------------------------------- */

static rk_status w_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)ctx;
    (void)state;
    return m->type == T_FAIL ? RK_ENOTSUP : RK_OK;
}

static const rk_actor_type w_type = {.name = "worker", .handle = w_handle};

static int setup(void **state)
{
    rk_runtime *rt;
    rk_runtime_options o;
    pthread_mutex_lock(&g_lock);
    memset(g_recs, 0, sizeof g_recs);
    g_n_recs = 0;
    for (uint32_t i = 0; i < MOCK_ACTORS; i++)
        g_att[i] = (mock_att){RK__RESTART_NONE, 0};
    pthread_mutex_unlock(&g_lock);
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = 64;
    if (rk_runtime_create(&rt, &o) != RK_OK)
        return -1;
    /* Before any supervisor: nothing has looked at the ops' records yet. */
    g_ops = *rt->ops;
    g_ops.restarts = &g_mock_ops;
    rt->ops = &g_ops;
    *state = rt;
    return 0;
}

static int teardown(void **state)
{
    rk_runtime_destroy(*state);
    return 0;
}

static rk_actor_id make_sup(rk_runtime *rt, const char *name, rk_actor_id parent, rk_restart_strategy strategy)
{
    rk_supervisor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_supervisor_options_init(&o);
    o.name = name;
    o.parent = parent;
    o.strategy = strategy;
    o.max_restarts = 100;
    o.window_ns = LONG_WINDOW;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_OK);
    return id;
}

static rk_actor_id child(rk_runtime *rt, rk_actor_id sup, const char *name, rk_child_restart restart)
{
    rk_actor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &w_type;
    o.inbox_capacity = 16;
    assert_int_equal(rk_supervisor_start_child(rt, sup, &o, restart, &id), RK_OK);
    assert_true(id < MOCK_ACTORS);
    return id;
}

static uint32_t generation(rk_runtime *rt, rk_actor_id id)
{
    rk_actor_metrics m;
    assert_int_equal(rk_actor_metrics_get(rt, id, &m), RK_OK);
    return m.generation;
}

/* Fails `id` and waits until every actor in ids[0..n) runs in generation want[i]. */
static void fail_and_wait(rk_runtime *rt, rk_actor_id id, const rk_actor_id *ids, const uint32_t *want, int n)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    int done = 0;
    assert_int_equal(rk_send(rt, id, T_FAIL, NULL, 0), RK_OK);
    while (!done && rk_test_now_ns() < deadline) {
        done = 1;
        for (int i = 0; i < n && done; i++) {
            rk_actor_metrics m;
            assert_int_equal(rk_actor_metrics_get(rt, ids[i], &m), RK_OK);
            done = m.state == RK_ACTIVE && m.generation == want[i];
        }
        if (!done)
            rk_test_sleep_ns(MS);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(generation(rt, ids[i]), want[i]);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void positions_in_start_order(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id sup = make_sup(rt, "all", RK_ACTOR_NONE, RK_ONE_FOR_ALL), c[3];
    char name[32];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "all/%d", i);
        c[i] = child(rt, sup, name, i == 1 ? RK_CHILD_TRANSIENT : RK_CHILD_PERMANENT);
    }
    assert_int_equal(rec_now(0).strategy, RK_ONE_FOR_ALL);
    assert_true(rec_now(0).on);
    assert_int_equal(rec_now(0).ons, 1);
    assert_int_equal(rec_now(0).n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(att_now(c[i]).rec, 0);
        assert_int_equal(att_now(c[i]).pos, (uint32_t)i);
    }
    /* The thread's own restart (the stand-in restarts nothing) is charged
     * to the record: one-for-all, every child's next generation. */
    {
        const uint32_t want[3] = {2, 2, 2};
        fail_and_wait(rt, c[2], c, want, 3);
    }
    assert_int_equal(rec_now(0).charges, 1);
    /* The middle child leaves the tree: the last moves up. */
    assert_int_equal(rk_kill_tree(rt, c[1], NULL, 0, NULL), RK_OK);
    assert_int_equal(att_now(c[1]).rec, RK__RESTART_NONE);
    assert_int_equal(att_now(c[2]).rec, 0);
    assert_int_equal(att_now(c[2]).pos, 1);
    assert_int_equal(att_now(c[0]).pos, 0);
    assert_int_equal(rec_now(0).n, 2);
    {
        const rk_actor_id ids[2] = {c[0], c[2]};
        const uint32_t want[2] = {3, 3};
        fail_and_wait(rt, c[0], ids, want, 2);
    }
    assert_int_equal(rec_now(0).charges, 2);
    /* kill_tree of the supervisor turns the record off first. */
    assert_int_equal(rk_kill_tree(rt, sup, NULL, 0, NULL), RK_OK);
    assert_false(rec_now(0).on);
}

/* A temporary child ends the record; the thread counts from then on. */
static void temporary_child_ends_record(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id sup = make_sup(rt, "rest", RK_ACTOR_NONE, RK_REST_FOR_ONE), c[3];
    rk_supervisor_info info;
    c[0] = child(rt, sup, "rest/a", RK_CHILD_PERMANENT);
    c[1] = child(rt, sup, "rest/b", RK_CHILD_PERMANENT);
    assert_int_equal(att_now(c[1]).pos, 1);
    assert_int_equal(rec_now(0).n, 2);
    c[2] = child(rt, sup, "rest/tmp", RK_CHILD_TEMPORARY);
    assert_false(rec_now(0).on);
    assert_int_equal(rec_now(0).offs, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(att_now(c[i]).rec, RK__RESTART_NONE);
    /* Rest-for-one by the thread: b and the temporary one go (the
     * temporary one is not restarted), a stays. */
    {
        const rk_actor_id ids[2] = {c[0], c[1]};
        const uint32_t want[2] = {1, 2};
        fail_and_wait(rt, c[1], ids, want, 2);
    }
    assert_int_equal(rec_now(0).charges, 0);
    /* The thread lets the temporary child go once its round is done, which
     * may be a moment after b runs again. */
    {
        const uint64_t end = rk_test_now_ns() + 5000000000ull;
        do
            assert_int_equal(rk_supervisor_info_get(rt, sup, &info), RK_OK);
        while (info.children != 2 && rk_test_now_ns() < end && (rk_test_sleep_ns(100000), 1));
    }
    assert_int_equal(info.restarts, 1);
    assert_int_equal(info.children, 2);
}

/* A supervisor among the children ends the record too. */
static void supervisor_child_ends_record(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id sup = make_sup(rt, "top", RK_ACTOR_NONE, RK_ONE_FOR_ALL), c;
    c = child(rt, sup, "top/a", RK_CHILD_PERMANENT);
    assert_int_equal(att_now(c).rec, 0);
    (void)make_sup(rt, "top/sub", sup, RK_ONE_FOR_ONE); /* record 1, its own */
    assert_false(rec_now(0).on);
    assert_int_equal(att_now(c).rec, RK__RESTART_NONE);
    assert_int_equal(rec_now(1).strategy, RK_ONE_FOR_ONE);
}

/* More children than a group record restarts: it ends at the 33rd. */
static void thirty_third_child_ends_record(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id sup = make_sup(rt, "many", RK_ACTOR_NONE, RK_ONE_FOR_ALL), c[33];
    char name[32];
    for (int i = 0; i < 33; i++) {
        snprintf(name, sizeof name, "many/%d", i);
        c[i] = child(rt, sup, name, RK_CHILD_PERMANENT);
        if (i < 32) {
            assert_true(rec_now(0).on);
            assert_int_equal(att_now(c[i]).pos, (uint32_t)i);
            assert_int_equal(rec_now(0).n, (uint32_t)i + 1);
        }
    }
    assert_false(rec_now(0).on);
    for (int i = 0; i < 33; i++)
        assert_int_equal(att_now(c[i]).rec, RK__RESTART_NONE);
}

/* One-for-one: attached one by one, no positions; temporary ones not. */
static void one_for_one_unchanged(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id sup = make_sup(rt, "one", RK_ACTOR_NONE, RK_ONE_FOR_ONE), a, b, t;
    a = child(rt, sup, "one/a", RK_CHILD_PERMANENT);
    b = child(rt, sup, "one/b", RK_CHILD_TRANSIENT);
    t = child(rt, sup, "one/t", RK_CHILD_TEMPORARY);
    assert_true(rec_now(0).on);
    assert_int_equal(att_now(a).rec, 0);
    assert_int_equal(att_now(b).rec, 0);
    assert_int_equal(att_now(a).pos, 0);
    assert_int_equal(att_now(b).pos, 0);
    assert_int_equal(rec_now(0).n, 0);
    assert_int_equal(att_now(t).rec, RK__RESTART_NONE);
    {
        const rk_actor_id ids[2] = {a, b};
        const uint32_t want[2] = {2, 1};
        fail_and_wait(rt, a, ids, want, 2);
    }
    assert_int_equal(rec_now(0).charges, 1);
}

/* A child that migrates away ends its supervisor's record: the record
 * cannot restart an actor of another runtime. */
static void migrated_child_ends_record(void **state)
{
    rk_group_options go;
    rk_group *g = NULL;
    rk_runtime *rt;
    rk_actor_id sup, a, b;
    rk_migrate_report r;
    (void)state;
    rk_group_options_init(&go);
    go.runtime.backend = RK_BACKEND_CPU;
    go.runtime.workers = 1;
    go.runtime.max_actors = 16;
    go.members = 2;
    assert_int_equal(rk_group_create(&g, &go), RK_OK);
    rt = rk_group_member(g, 0);
    g_ops = *rt->ops;
    g_ops.restarts = &g_mock_ops;
    rt->ops = &g_ops;
    sup = make_sup(rt, "grp", RK_ACTOR_NONE, RK_ONE_FOR_ALL);
    a = child(rt, sup, "grp/a", RK_CHILD_PERMANENT);
    b = child(rt, sup, "grp/b", RK_CHILD_PERMANENT);
    assert_true(rec_now(0).on);
    assert_int_equal(att_now(b).pos, 1);
    assert_int_equal(rk_group_migrate(g, rk_gid(0, b), 1, 0, 5 * SEC, &r), RK_OK);
    assert_false(rec_now(0).on);
    assert_int_equal(att_now(a).rec, RK__RESTART_NONE);
    rk_group_destroy(g, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(positions_in_start_order, setup, teardown),
        cmocka_unit_test_setup_teardown(temporary_child_ends_record, setup, teardown),
        cmocka_unit_test_setup_teardown(supervisor_child_ends_record, setup, teardown),
        cmocka_unit_test_setup_teardown(thirty_third_child_ends_record, setup, teardown),
        cmocka_unit_test_setup_teardown(one_for_one_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(migrated_child_ends_record, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
