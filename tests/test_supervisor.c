/* Supervisor trees on the CPU backend: the three strategies and their
 * restart order, restart intensity and escalation up to a root that gives
 * up, restart types, kill_tree on a three-level tree, messages to an old
 * generation, inspection and bad input, and concurrent failures.
 *
 * Handlers never use cmocka asserts (they run on worker threads): they
 * append to a log that the test thread checks. Every wait polls a condition
 * with a limit, so a bug fails a test instead of hanging it. To know that
 * the supervision thread has finished what it was doing, a test calls
 * rk_kill_tree on an already terminated, unsupervised actor: that takes the
 * supervision lock, which a scan holds until it has handled every stop it
 * can see. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rk_test.h"
#include "ringkernel/ringkernel.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define WAIT_LIMIT_NS (20 * SEC)
#define GATE_LIMIT_NS (10 * SEC)
#define LONG_WINDOW (600 * SEC) /* no restart falls out of it during a test */

enum {
    T_FAIL = 1, /* the handler returns RK_ENOTSUP: the actor fails */
    T_GATE = 2, /* wait for the gate */
    T_REC = 3,  /* log (id, generation, value) */
};

/* ---- what the actors did ------------------------------------------------------ */

typedef struct entry {
    char kind; /* 'I' init, 'R' T_REC handled */
    rk_actor_id id;
    uint32_t gen;
    uint64_t v;
} entry;

#define LOG_MAX 4096
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static entry g_log[LOG_MAX];
static uint32_t g_log_n;
static atomic_int g_gate;
static atomic_int g_entered;
static atomic_uint g_fail_init; /* an actor id whose init fails; RK_ACTOR_NONE for none */

static void log_add(char kind, rk_actor_id id, uint32_t gen, uint64_t v)
{
    pthread_mutex_lock(&g_log_lock);
    if (g_log_n < LOG_MAX)
        g_log[g_log_n] = (entry){kind, id, gen, v};
    g_log_n++;
    pthread_mutex_unlock(&g_log_lock);
}

static void log_clear(void)
{
    pthread_mutex_lock(&g_log_lock);
    g_log_n = 0;
    pthread_mutex_unlock(&g_log_lock);
}

/* Copies the entries of `kind` into out (at most cap); returns how many. */
static uint32_t log_get(char kind, entry *out, uint32_t cap)
{
    uint32_t n = 0;
    pthread_mutex_lock(&g_log_lock);
    for (uint32_t i = 0; i < g_log_n && i < LOG_MAX; i++)
        if (g_log[i].kind == kind && n < cap)
            out[n++] = g_log[i];
    pthread_mutex_unlock(&g_log_lock);
    return n;
}

/* Returns 0 if the gate stayed closed for GATE_LIMIT_NS. */
static int gate_wait(void)
{
    return rk_test_gate_wait(&g_gate, &g_entered, GATE_LIMIT_NS);
}

/* ---- the actor --------------------------------------------------------------------- */

static rk_status w_init(rk_ctx *ctx, void *state)
{
    (void)state;
    log_add('I', rk_self(ctx), rk_generation(ctx), 0);
    return atomic_load(&g_fail_init) == rk_self(ctx) ? RK_ENOTSUP : RK_OK;
}

static rk_status w_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    uint64_t v = 0;
    (void)state;
    if (m->len >= sizeof v)
        memcpy(&v, rk_msg_payload(m), sizeof v);
    switch (m->type) {
    case T_FAIL:
        return RK_ENOTSUP;
    case T_GATE:
        return gate_wait() ? RK_OK : RK_ETIMEDOUT;
    case T_REC:
        log_add('R', rk_self(ctx), rk_generation(ctx), v);
        return RK_OK;
    }
    return RK_OK;
}

static const rk_actor_type w_type = {.name = "worker", .handle = w_handle, .init = w_init};

/* ---- fixture ---------------------------------------------------------------------- */

typedef struct fx {
    rk_runtime *rt;
    rk_actor_id dummy; /* terminated, unsupervised: rk_kill_tree on it is the barrier */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    rk_runtime_options o;
    rk_actor_options ao;
    if (!f)
        return -1;
    log_clear();
    atomic_store(&g_gate, 0);
    atomic_store(&g_entered, 0);
    atomic_store(&g_fail_init, RK_ACTOR_NONE);
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = 64;
    if (rk_runtime_create(&f->rt, &o) != RK_OK)
        return -1;
    rk_actor_options_init(&ao);
    ao.name = "test/dummy";
    ao.type = &w_type;
    ao.inbox_capacity = 4;
    if (rk_launch(f->rt, &ao, &f->dummy) != RK_OK || rk_terminate(f->rt, f->dummy) != RK_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    atomic_store(&g_gate, 1);
    rk_runtime_destroy(f->rt);
    free(f);
    return 0;
}

/* Returns once the supervision thread has finished its current scan. */
static void barrier(fx *f)
{
    assert_int_equal(rk_kill_tree(f->rt, f->dummy, NULL, 0, NULL), RK_OK);
}

static rk_actor_id make_sup(rk_runtime *rt, const char *name, rk_actor_id parent, rk_restart_strategy strategy,
                            uint32_t max_restarts, uint64_t window_ns)
{
    rk_supervisor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_supervisor_options_init(&o);
    o.name = name;
    o.parent = parent;
    o.strategy = strategy;
    o.max_restarts = max_restarts;
    o.window_ns = window_ns;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_OK);
    assert_true(rk_is_supervisor(id));
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
    assert_false(rk_is_supervisor(id));
    return id;
}

static rk_actor_metrics metrics(rk_runtime *rt, rk_actor_id id)
{
    rk_actor_metrics m;
    assert_int_equal(rk_actor_metrics_get(rt, id, &m), RK_OK);
    return m;
}

static rk_supervisor_info info(rk_runtime *rt, rk_actor_id sup)
{
    rk_supervisor_info i;
    assert_int_equal(rk_supervisor_info_get(rt, sup, &i), RK_OK);
    return i;
}

static void send_type(rk_runtime *rt, rk_actor_id id, uint32_t type)
{
    uint64_t v = 0;
    assert_int_equal(rk_send(rt, id, type, &v, sizeof v), RK_OK);
}

/* Waits until the actor is in `state` with generation `gen`. */
static void wait_actor(rk_runtime *rt, rk_actor_id id, rk_lifecycle_state state, uint32_t gen)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_actor_metrics m = metrics(rt, id);
    while (m.state != state || m.generation != gen) {
        if (rk_test_now_ns() > deadline)
            fail_msg("actor %u: %s gen %u, waited for %s gen %u", id, rk_lifecycle_state_name(m.state),
                     m.generation, rk_lifecycle_state_name(state), gen);
        rk_test_sleep_ns(MS);
        m = metrics(rt, id);
    }
}

static void wait_sup(rk_runtime *rt, rk_actor_id sup, rk_lifecycle_state state, uint32_t gen)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_supervisor_info i = info(rt, sup);
    while (i.state != state || i.generation != gen) {
        if (rk_test_now_ns() > deadline)
            fail_msg("supervisor %s: %s gen %u, waited for %s gen %u", i.name, rk_lifecycle_state_name(i.state),
                     i.generation, rk_lifecycle_state_name(state), gen);
        rk_test_sleep_ns(MS);
        i = info(rt, sup);
    }
}

/* Fails the actor (now at generation gen) and waits for its restart. */
static void fail_and_wait(rk_runtime *rt, rk_actor_id id, uint32_t gen)
{
    send_type(rt, id, T_FAIL);
    wait_actor(rt, id, RK_ACTIVE, gen + 1);
}

/* Pops every asynchronous error; returns how many named `actor` with `st`. */
static int count_errors(rk_runtime *rt, rk_actor_id actor, rk_status st)
{
    rk_async_error e;
    int n = 0;
    while (rk_runtime_error(rt, &e) == RK_OK)
        if (e.actor == actor && e.status == st)
            n++;
    return n;
}

/* ---- strategies ------------------------------------------------------------------ */

static void one_for_one_restarts_the_failed_child(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup = make_sup(rt, "s", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3, LONG_WINDOW);
    rk_actor_id a = child(rt, sup, "s/a", RK_CHILD_PERMANENT);
    rk_actor_id b = child(rt, sup, "s/b", RK_CHILD_PERMANENT);
    rk_actor_id c = child(rt, sup, "s/c", RK_CHILD_PERMANENT);
    rk_supervisor_child kids[4];
    rk_control ctl;
    entry inits[8];
    size_t n = 0;

    log_clear();
    fail_and_wait(rt, b, 1);
    barrier(f);
    assert_int_equal(metrics(rt, a).generation, 1);
    assert_int_equal(metrics(rt, c).generation, 1);
    assert_int_equal(log_get('I', inits, 8), 1);
    assert_int_equal(inits[0].id, b);
    assert_int_equal(inits[0].gen, 2);

    rk_supervisor_info i = info(rt, sup);
    assert_int_equal(i.state, RK_ACTIVE);
    assert_int_equal(i.restarts, 1);
    assert_int_equal(i.recent_restarts, 1);
    assert_int_equal(i.children, 3);
    assert_int_equal(i.escalations, 0);
    assert_int_equal(i.parent, RK_ACTOR_NONE);
    assert_string_equal(i.name, "s");

    assert_int_equal(rk_supervisor_children(rt, sup, kids, 4, &n), RK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(kids[0].id, a);
    assert_int_equal(kids[1].id, b);
    assert_int_equal(kids[2].id, c);
    assert_int_equal(kids[1].state, RK_ACTIVE);
    assert_int_equal(kids[1].generation, 2);
    assert_int_equal(kids[1].restart, RK_CHILD_PERMANENT);

    /* The control block names the supervisor. */
    assert_int_equal(rk_actor_control(rt, b, &ctl), RK_OK);
    assert_int_equal(ctl.parent, sup);
    /* The handler's failure was reported, and only it. */
    assert_int_equal(count_errors(rt, b, RK_ENOTSUP), 1);
}

/* The order in which actors entered Terminated, from the event stream. */
static uint32_t terminations(rk_event_sub *sub, rk_actor_id *out, uint32_t cap)
{
    rk_event e;
    uint32_t n = 0;
    while (rk_event_poll(sub, &e, 0) == RK_OK)
        if (e.kind == RK_EVENT_STATE && e.value == RK_TERMINATED && !rk_is_supervisor(e.actor) && n < cap)
            out[n++] = e.actor;
    return n;
}

static void one_for_all_order(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup = make_sup(rt, "all", RK_ACTOR_NONE, RK_ONE_FOR_ALL, 3, LONG_WINDOW);
    rk_actor_id a = child(rt, sup, "all/a", RK_CHILD_PERMANENT);
    rk_actor_id b = child(rt, sup, "all/b", RK_CHILD_PERMANENT);
    rk_actor_id c = child(rt, sup, "all/c", RK_CHILD_PERMANENT);
    rk_event_sub_options eo;
    rk_event_sub *sub;
    rk_actor_id stopped[8];
    entry inits[8];

    rk_event_sub_options_init(&eo);
    eo.kinds = RK_EVENT_MASK(RK_EVENT_STATE);
    assert_int_equal(rk_event_subscribe(rt, &eo, &sub), RK_OK);
    log_clear();
    send_type(rt, b, T_FAIL);
    wait_actor(rt, c, RK_ACTIVE, 2);
    barrier(f);

    /* Every child restarted, in start order... */
    assert_int_equal(log_get('I', inits, 8), 3);
    assert_int_equal(inits[0].id, a);
    assert_int_equal(inits[1].id, b);
    assert_int_equal(inits[2].id, c);
    for (int i = 0; i < 3; i++)
        assert_int_equal(inits[i].gen, 2);
    /* ... after the others were terminated, last started first (b had
     * failed: it was not running to be terminated). */
    assert_int_equal(terminations(sub, stopped, 8), 2);
    assert_int_equal(stopped[0], c);
    assert_int_equal(stopped[1], a);
    rk_event_unsubscribe(sub);
    assert_int_equal(info(rt, sup).restarts, 1);
}

static void rest_for_one_order(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup = make_sup(rt, "rest", RK_ACTOR_NONE, RK_REST_FOR_ONE, 3, LONG_WINDOW);
    rk_actor_id a = child(rt, sup, "rest/a", RK_CHILD_PERMANENT);
    rk_actor_id b = child(rt, sup, "rest/b", RK_CHILD_PERMANENT);
    rk_actor_id c = child(rt, sup, "rest/c", RK_CHILD_PERMANENT);
    rk_actor_id d = child(rt, sup, "rest/d", RK_CHILD_PERMANENT);
    entry inits[8];

    log_clear();
    send_type(rt, b, T_FAIL);
    wait_actor(rt, d, RK_ACTIVE, 2);
    barrier(f);
    assert_int_equal(log_get('I', inits, 8), 3);
    assert_int_equal(inits[0].id, b);
    assert_int_equal(inits[1].id, c);
    assert_int_equal(inits[2].id, d);
    assert_int_equal(metrics(rt, a).generation, 1);
    assert_int_equal(metrics(rt, b).generation, 2);
    assert_int_equal(metrics(rt, c).generation, 2);

    /* The last child fails: only it restarts. */
    log_clear();
    fail_and_wait(rt, d, 2);
    barrier(f);
    assert_int_equal(log_get('I', inits, 8), 1);
    assert_int_equal(inits[0].id, d);
    assert_int_equal(metrics(rt, c).generation, 2);
}

/* ---- intensity and escalation ---------------------------------------------------------- */

static void restart_storm_escalates_to_parent(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id p = make_sup(rt, "p", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 5, LONG_WINDOW);
    rk_actor_id s = make_sup(rt, "p/s", p, RK_ONE_FOR_ONE, 2, LONG_WINDOW);
    rk_actor_id x = child(rt, s, "p/s/x", RK_CHILD_PERMANENT);
    rk_actor_id y = child(rt, s, "p/s/y", RK_CHILD_PERMANENT);
    rk_actor_id z = child(rt, p, "p/z", RK_CHILD_PERMANENT);
    rk_event_sub_options eo;
    rk_event_sub *sub;
    rk_event e;
    int escalations = 0;

    rk_event_sub_options_init(&eo);
    eo.kinds = RK_EVENT_MASK(RK_EVENT_ESCALATE);
    assert_int_equal(rk_event_subscribe(rt, &eo, &sub), RK_OK);

    fail_and_wait(rt, x, 1);
    fail_and_wait(rt, x, 2);
    assert_int_equal(info(rt, s).recent_restarts, 2);
    /* The third failure within the window: s gives up, p restarts it. */
    send_type(rt, x, T_FAIL);
    wait_sup(rt, s, RK_ACTIVE, 2);
    wait_actor(rt, x, RK_ACTIVE, 4);
    wait_actor(rt, y, RK_ACTIVE, 2); /* the subtree restarted as one */
    barrier(f);

    rk_supervisor_info is = info(rt, s), ip = info(rt, p);
    assert_int_equal(is.escalations, 1);
    assert_int_equal(is.restarts, 2);
    assert_int_equal(is.recent_restarts, 0); /* a fresh supervisor */
    assert_int_equal(is.parent, p);
    assert_int_equal(ip.restarts, 1);
    assert_int_equal(ip.escalations, 0);
    assert_int_equal(ip.state, RK_ACTIVE);
    assert_int_equal(metrics(rt, z).generation, 1); /* one-for-one at p */

    while (rk_event_poll(sub, &e, 0) == RK_OK) {
        assert_int_equal(e.kind, RK_EVENT_ESCALATE);
        assert_int_equal(e.actor, x);
        assert_int_equal(e.value, (int64_t)s);
        escalations++;
    }
    assert_int_equal(escalations, 1);
    rk_event_unsubscribe(sub);
    /* Only the handler failures surfaced: p never gave up. */
    assert_int_equal(count_errors(rt, p, RK_EFAILED), 0);
}

static void root_gives_up(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id p = make_sup(rt, "root", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 1, LONG_WINDOW);
    rk_actor_id s = make_sup(rt, "root/s", p, RK_ONE_FOR_ONE, 0, LONG_WINDOW);
    rk_actor_id x = child(rt, s, "root/s/x", RK_CHILD_PERMANENT);
    rk_actor_id y = child(rt, s, "root/s/y", RK_CHILD_PERMANENT);
    rk_actor_id z = child(rt, p, "root/z", RK_CHILD_PERMANENT);
    rk_actor_id id;
    rk_async_error e;
    int root_errors = 0, x_errors = 0;

    /* max_restarts 0: s gives up at once; p may restart it once. */
    send_type(rt, x, T_FAIL);
    wait_sup(rt, s, RK_ACTIVE, 2);
    wait_actor(rt, x, RK_ACTIVE, 2);
    wait_actor(rt, y, RK_ACTIVE, 2);

    send_type(rt, x, T_FAIL);
    wait_sup(rt, p, RK_FAILED, 1);
    barrier(f);
    assert_int_equal(info(rt, s).state, RK_FAILED);
    assert_int_equal(metrics(rt, x).state, RK_FAILED);
    assert_int_equal(metrics(rt, y).state, RK_TERMINATED);
    assert_int_equal(metrics(rt, z).state, RK_TERMINATED);
    assert_int_equal(info(rt, p).escalations, 1);
    assert_int_equal(info(rt, s).escalations, 2);
    /* The tree's names went with it. */
    assert_int_equal(rk_lookup(rt, "root/s/x", &id), RK_ENOACTOR);
    assert_int_equal(rk_lookup(rt, "root/s/y", &id), RK_ENOACTOR);
    assert_int_equal(rk_lookup(rt, "root/z", &id), RK_ENOACTOR);
    /* The program hears of it without having polled anything before. */
    while (rk_runtime_error(rt, &e) == RK_OK) {
        if (e.actor == p) {
            assert_int_equal(e.status, RK_EFAILED);
            assert_int_equal(e.generation, 1);
            root_errors++;
        }
        x_errors += e.actor == x;
    }
    assert_int_equal(root_errors, 1);
    assert_int_equal(x_errors, 2);

    /* Nothing restarts it by itself; by hand, the whole tree comes back. */
    assert_int_equal(rk_supervisor_restart(rt, p), RK_OK);
    assert_int_equal(info(rt, p).state, RK_ACTIVE);
    assert_int_equal(info(rt, p).generation, 2);
    assert_int_equal(info(rt, s).state, RK_ACTIVE);
    assert_int_equal(info(rt, s).generation, 3);
    wait_actor(rt, x, RK_ACTIVE, 3);
    wait_actor(rt, z, RK_ACTIVE, 2);
    assert_int_equal(rk_lookup(rt, "root/s/x", &id), RK_OK);
    assert_int_equal(id, x);
}

static void init_failures_count_against_intensity(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup = make_sup(rt, "boot", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 2, LONG_WINDOW);
    rk_actor_id x = child(rt, sup, "boot/x", RK_CHILD_PERMANENT);
    entry inits[16];

    log_clear();
    atomic_store(&g_fail_init, x);
    send_type(rt, x, T_FAIL);
    /* Restart 1 and 2 fail in init; the third failure exhausts the limit. */
    wait_sup(rt, sup, RK_FAILED, 1);
    barrier(f);
    assert_int_equal(log_get('I', inits, 16), 2);
    assert_int_equal(info(rt, sup).restarts, 2);
    assert_int_equal(metrics(rt, x).state, RK_FAILED);
    assert_int_equal(metrics(rt, x).generation, 3);
    assert_int_equal(count_errors(rt, sup, RK_EFAILED), 1);
}

static void window_expiry_allows_more_restarts(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    const uint64_t window = 100 * MS;
    rk_actor_id sup = make_sup(rt, "win", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 1, window);
    rk_actor_id x = child(rt, sup, "win/x", RK_CHILD_PERMANENT);

    fail_and_wait(rt, x, 1);
    /* The restart happened before the wait returned: after this sleep it
     * is certainly older than the window. */
    rk_test_sleep_ns(window + 50 * MS);
    assert_int_equal(info(rt, sup).recent_restarts, 0);
    fail_and_wait(rt, x, 2);
    rk_supervisor_info i = info(rt, sup);
    assert_int_equal(i.state, RK_ACTIVE);
    assert_int_equal(i.restarts, 2);
    assert_int_equal(i.escalations, 0);
}

/* Once the history holds max_restarts times, each new restart replaces the
 * oldest: restarts after an expired window still count. Two restarts, the
 * window passes, two more: recent is 2, and one more in the window is one
 * too many. */
static void full_history_keeps_counting(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    const uint64_t window = 300 * MS;
    rk_actor_id sup = make_sup(rt, "full", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 2, window);
    rk_actor_id x = child(rt, sup, "full/x", RK_CHILD_PERMANENT);

    fail_and_wait(rt, x, 1);
    fail_and_wait(rt, x, 2);
    rk_test_sleep_ns(window + 50 * MS);
    assert_int_equal(info(rt, sup).recent_restarts, 0);
    fail_and_wait(rt, x, 3);
    fail_and_wait(rt, x, 4);
    assert_int_equal(info(rt, sup).recent_restarts, 2);
    assert_int_equal(info(rt, sup).restarts, 4);
    send_type(rt, x, T_FAIL);
    wait_sup(rt, sup, RK_FAILED, 1);
    assert_int_equal(info(rt, sup).escalations, 1);
    assert_int_equal(metrics(rt, x).generation, 5);
}

/* ---- restart types ------------------------------------------------------------------ */

static void restart_types(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup = make_sup(rt, "types", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 100, LONG_WINDOW);
    rk_actor_id perm = child(rt, sup, "types/perm", RK_CHILD_PERMANENT);
    rk_actor_id trans = child(rt, sup, "types/trans", RK_CHILD_TRANSIENT);
    rk_actor_id temp = child(rt, sup, "types/temp", RK_CHILD_TEMPORARY);
    rk_supervisor_child kids[4];
    rk_actor_id id;
    size_t n;

    /* A permanent child comes back after any termination. */
    assert_int_equal(rk_terminate(rt, perm), RK_OK);
    wait_actor(rt, perm, RK_ACTIVE, 2);
    barrier(f); /* the restart has returned: its name is bound again */
    assert_int_equal(rk_lookup(rt, "types/perm", &id), RK_OK);

    /* A transient one stays down after a normal exit... */
    assert_int_equal(rk_terminate(rt, trans), RK_OK);
    fail_and_wait(rt, perm, 2); /* the scan that handles this also sees trans */
    barrier(f);
    assert_int_equal(metrics(rt, trans).state, RK_TERMINATED);
    assert_int_equal(metrics(rt, trans).generation, 1);
    /* ... but is restarted after a failure (once running again). */
    assert_int_equal(rk_restart(rt, trans), RK_OK);
    fail_and_wait(rt, trans, 2);

    /* A temporary one is never restarted: it leaves its supervisor. */
    send_type(rt, temp, T_FAIL);
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (info(rt, sup).children != 2) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
    }
    assert_int_equal(metrics(rt, temp).state, RK_FAILED);
    assert_int_equal(metrics(rt, temp).generation, 1);
    assert_int_equal(rk_supervisor_children(rt, sup, kids, 4, &n), RK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(kids[0].id, perm);
    assert_int_equal(kids[1].id, trans);
    assert_int_equal(kids[1].restart, RK_CHILD_TRANSIENT);
    assert_int_equal(rk_lookup(rt, "types/temp", &id), RK_ENOACTOR);
    rk_control ctl;
    assert_int_equal(rk_actor_control(rt, temp, &ctl), RK_OK);
    assert_int_equal(ctl.parent, RK_ACTOR_NONE);
}

/* ---- kill_tree --------------------------------------------------------------------- */

static void kill_tree_three_levels(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id r = make_sup(rt, "tree", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 10, LONG_WINDOW);
    rk_actor_id a0 = child(rt, r, "tree/a0", RK_CHILD_PERMANENT);
    rk_actor_id s1 = make_sup(rt, "tree/s1", r, RK_ONE_FOR_ONE, 10, LONG_WINDOW);
    rk_actor_id a1 = child(rt, s1, "tree/s1/a1", RK_CHILD_PERMANENT);
    rk_actor_id a2 = child(rt, s1, "tree/s1/a2", RK_CHILD_PERMANENT);
    rk_actor_id s2 = make_sup(rt, "tree/s1/s2", s1, RK_ONE_FOR_ONE, 10, LONG_WINDOW);
    rk_actor_id a3 = child(rt, s2, "tree/s1/s2/a3", RK_CHILD_PERMANENT);
    rk_actor_id a4 = child(rt, s2, "tree/s1/s2/a4", RK_CHILD_PERMANENT);
    /* Children before parents, a supervisor's children last started first. */
    const rk_actor_id want[] = {a4, a3, s2, a2, a1, s1, a0, r};
    const rk_actor_id actors[] = {a0, a1, a2, a3, a4};
    const rk_actor_id sups[] = {r, s1, s2};
    rk_actor_id order[16];
    rk_registry_entry names[8];
    size_t n = 0, total = 0;

    assert_int_equal(rk_lookup_all(rt, "tree/**", names, 8, &total), RK_OK);
    assert_int_equal(total, 5);
    assert_int_equal(rk_kill_tree(rt, r, order, 16, &n), RK_OK);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(order[i], want[i]);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(metrics(rt, actors[i]).state, RK_TERMINATED);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(info(rt, sups[i]).state, RK_TERMINATED);
    assert_int_equal(rk_lookup_all(rt, "tree/**", names, 8, &total), RK_OK);
    assert_int_equal(total, 0);
    assert_int_equal(rk_supervisor_restart(rt, s1), RK_ESTATE); /* killed for good */

    /* Again, into a short buffer: nothing new to stop, the count is whole. */
    assert_int_equal(rk_kill_tree(rt, r, order, 3, &n), RK_OK);
    assert_int_equal(n, 8);
    assert_int_equal(order[0], a4);
    assert_int_equal(order[2], s2);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(metrics(rt, actors[i]).generation, 1);
}

static void kill_subtree_detaches_it(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id r = make_sup(rt, "t2", RK_ACTOR_NONE, RK_ONE_FOR_ALL, 10, LONG_WINDOW);
    rk_actor_id b0 = child(rt, r, "t2/b0", RK_CHILD_PERMANENT);
    rk_actor_id s = make_sup(rt, "t2/s", r, RK_ONE_FOR_ONE, 10, LONG_WINDOW);
    rk_actor_id b1 = child(rt, s, "t2/s/b1", RK_CHILD_PERMANENT);
    rk_actor_id b2 = child(rt, r, "t2/b2", RK_CHILD_PERMANENT);
    rk_actor_id order[4];
    size_t n = 0;

    assert_int_equal(rk_kill_tree(rt, s, order, 4, &n), RK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(order[0], b1);
    assert_int_equal(order[1], s);
    assert_int_equal(info(rt, r).children, 2);
    assert_int_equal(info(rt, s).parent, RK_ACTOR_NONE);
    /* r's one-for-all restart does not bring the killed subtree back. */
    send_type(rt, b0, T_FAIL);
    wait_actor(rt, b2, RK_ACTIVE, 2);
    barrier(f);
    assert_int_equal(metrics(rt, b0).generation, 2);
    assert_int_equal(metrics(rt, b1).state, RK_TERMINATED);
    assert_int_equal(metrics(rt, b1).generation, 1);
    assert_int_equal(info(rt, s).state, RK_TERMINATED);

    /* A single supervised actor: detached, terminated, not restarted. */
    assert_int_equal(rk_kill_tree(rt, b2, order, 4, &n), RK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(order[0], b2);
    fail_and_wait(rt, b0, 2);
    barrier(f);
    assert_int_equal(metrics(rt, b2).state, RK_TERMINATED);
    assert_int_equal(metrics(rt, b2).generation, 2);
    assert_int_equal(info(rt, r).children, 1);

    assert_int_equal(rk_kill_tree(rt, 999, NULL, 0, NULL), RK_ENOACTOR);
    assert_int_equal(rk_kill_tree(rt, RK_SUPERVISOR_ID_BASE + 999, NULL, 0, NULL), RK_ENOACTOR);
    assert_int_equal(rk_kill_tree(rt, RK_ACTOR_HOST, NULL, 0, NULL), RK_ENOACTOR);
    assert_int_equal(rk_kill_tree(rt, b0, NULL, 2, NULL), RK_EINVAL);
    assert_int_equal(rk_kill_tree(NULL, b0, NULL, 0, NULL), RK_EINVAL);
}

/* ---- generations ------------------------------------------------------------------- */

static void old_generation_messages_refused(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup = make_sup(rt, "gen", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3, LONG_WINDOW);
    rk_actor_id x = child(rt, sup, "gen/x", RK_CHILD_PERMANENT);
    rk_dead_letter dl;
    rk_msg m;
    entry recs[8];
    uint64_t v;
    int stale = 0;

    /* Hold the handler, queue a failure, then two messages for generation 1
     * and one for whichever generation is current. */
    send_type(rt, x, T_GATE);
    while (atomic_load(&g_entered) == 0)
        rk_test_sleep_ns(100000);
    send_type(rt, x, T_FAIL);
    memset(&m, 0, sizeof m);
    m.type = T_REC;
    m.dst = x;
    m.len = sizeof v;
    m.dst_gen = 1;
    v = 1, assert_int_equal(rk_send_msg(rt, &m, &v), RK_OK);
    v = 2, assert_int_equal(rk_send_msg(rt, &m, &v), RK_OK);
    m.dst_gen = 0;
    v = 3, assert_int_equal(rk_send_msg(rt, &m, &v), RK_OK);
    atomic_store(&g_gate, 1);

    wait_actor(rt, x, RK_ACTIVE, 2);
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (log_get('R', recs, 8) < 1) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
    }
    /* Generation 2 handled only the message for "current"... */
    assert_int_equal(log_get('R', recs, 8), 1);
    assert_int_equal(recs[0].v, 3);
    assert_int_equal(recs[0].gen, 2);
    /* ... and the two for generation 1 were dead-lettered as stale. */
    while (rk_dead_letter_pop(rt, &dl, NULL) == RK_OK) {
        if (dl.hdr.dst == x && dl.hdr.type == T_REC) {
            assert_int_equal(dl.reason, RK_ESTALE);
            assert_int_equal(dl.hdr.dst_gen, 1);
            stale++;
        }
    }
    assert_int_equal(stale, 2);

    /* Sent after the restart: refused with a status. */
    m.dst_gen = 1;
    v = 4, assert_int_equal(rk_send_msg(rt, &m, &v), RK_ESTALE);
    m.dst_gen = 2;
    v = 5, assert_int_equal(rk_send_msg(rt, &m, &v), RK_OK);
    deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (log_get('R', recs, 8) < 2) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
    }
    assert_int_equal(recs[1].v, 5);
}

/* ---- a failure while draining ------------------------------------------------------ */

typedef struct term_call {
    rk_runtime *rt;
    rk_actor_id id;
    rk_status st;
} term_call;

static void *terminate_main(void *arg)
{
    term_call *c = arg;
    c->st = rk_terminate(c->rt, c->id);
    return NULL;
}

/* A terminate waits for the actor to drain its inbox; if the actor fails on
 * a queued message instead, the terminate is answered RK_EFAILED at once
 * (a supervisor stopping siblings must not stall for the command timeout). */
static void terminate_answers_a_failure_while_draining(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_options o;
    rk_actor_id x, filler, w;
    term_call c;
    pthread_t th;

    rk_actor_options_init(&o);
    o.type = &w_type;
    o.name = "drain/x";
    assert_int_equal(rk_launch(rt, &o, &x), RK_OK);
    o.name = "drain/filler";
    assert_int_equal(rk_launch(rt, &o, &filler), RK_OK);
    o.name = "drain/w";
    assert_int_equal(rk_launch(rt, &o, &w), RK_OK);
    /* Two workers, ids by turns: x and w share one, x first in its list. */
    assert_int_equal(x % 2, w % 2);

    /* Hold the shared worker in w's handler; queue a failure for x and post
     * its terminate, which the worker applies before it runs x again. */
    send_type(rt, w, T_GATE);
    while (atomic_load(&g_entered) == 0)
        rk_test_sleep_ns(100000);
    send_type(rt, x, T_FAIL);
    c = (term_call){rt, x, RK_OK};
    assert_int_equal(pthread_create(&th, NULL, terminate_main, &c), 0);
    rk_test_sleep_ns(50 * MS); /* lets the terminate be posted first; either order is correct */
    uint64_t start = rk_test_now_ns();
    atomic_store(&g_gate, 1);
    pthread_join(th, NULL);
    assert_true(rk_test_now_ns() - start < 4 * SEC); /* not the 5 s command timeout */
    assert_true(c.st == RK_EFAILED || c.st == RK_ETRANSITION);
    assert_int_equal(metrics(rt, x).state, RK_FAILED);
}

/* ---- restart records (RK_CPU_RESTART_RECORDS=1: the second run of this program) ----- */

typedef struct kill_call {
    rk_runtime *rt;
    rk_actor_id id;
    rk_status st;
    atomic_int done;
} kill_call;

static void *kill_main(void *arg)
{
    kill_call *c = arg;
    c->st = rk_kill_tree(c->rt, c->id, NULL, 0, NULL);
    atomic_store(&c->done, 1);
    return NULL;
}

/* With restart records the worker restarts a failed child of a one-for-one
 * supervisor itself: here while an rk_kill_tree holds the supervision lock,
 * waiting for another actor (held in its handler) to drain, so that the
 * supervision thread cannot act. Skipped in the run without records. */
static void records_restart_without_the_thread(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_options o;
    rk_actor_id sup, a, g, filler;
    kill_call k;
    pthread_t th;

    if (!getenv("RK_CPU_RESTART_RECORDS"))
        skip();
    sup = make_sup(rt, "rec", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 5, LONG_WINDOW);
    a = child(rt, sup, "rec/a", RK_CHILD_PERMANENT);
    rk_actor_options_init(&o);
    o.type = &w_type;
    o.name = "rec/filler";
    assert_int_equal(rk_launch(rt, &o, &filler), RK_OK);
    o.name = "rec/g";
    assert_int_equal(rk_launch(rt, &o, &g), RK_OK);
    if (g % 2 == a % 2) { /* two workers, ids by turns: g must be on the other */
        o.name = "rec/g2";
        assert_int_equal(rk_launch(rt, &o, &g), RK_OK);
    }
    assert_int_not_equal(g % 2, a % 2);

    send_type(rt, g, T_GATE);
    while (atomic_load(&g_entered) == 0)
        rk_test_sleep_ns(100000);
    k.rt = rt;
    k.id = g;
    k.st = RK_EINTERNAL;
    atomic_store(&k.done, 0);
    assert_int_equal(pthread_create(&th, NULL, kill_main, &k), 0);
    rk_test_sleep_ns(50 * MS); /* the kill takes the lock and waits for g's drain */
    send_type(rt, a, T_FAIL);
    wait_actor(rt, a, RK_ACTIVE, 2);
    assert_int_equal(atomic_load(&k.done), 0); /* restarted while the lock was held */
    assert_int_equal(metrics(rt, a).state, RK_ACTIVE);
    atomic_store(&g_gate, 1);
    pthread_join(th, NULL);
    assert_int_equal(k.st, RK_OK);
    assert_int_equal(info(rt, sup).restarts, 1);
    assert_int_equal(info(rt, sup).recent_restarts, 1);
}

/* Restarts the thread orders (a permanent child terminated by someone
 * else) and the worker's own count against one record; one too many and
 * the supervisor gives up as always; revived, the record starts afresh. */
static void records_share_one_intensity(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup, a;
    rk_control c;

    if (!getenv("RK_CPU_RESTART_RECORDS"))
        skip();
    sup = make_sup(rt, "shared", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3, LONG_WINDOW);
    a = child(rt, sup, "shared/a", RK_CHILD_PERMANENT);
    fail_and_wait(rt, a, 1);                         /* the worker restarts it */
    assert_int_equal(rk_terminate(rt, a), RK_OK);    /* the thread restarts it */
    wait_actor(rt, a, RK_ACTIVE, 3);
    assert_int_equal(info(rt, sup).restarts, 2);
    assert_int_equal(info(rt, sup).recent_restarts, 2);
    fail_and_wait(rt, a, 3);
    send_type(rt, a, T_FAIL); /* the fourth in the window */
    wait_sup(rt, sup, RK_FAILED, 1);
    assert_int_equal(info(rt, sup).escalations, 1);
    assert_int_equal(info(rt, sup).restarts, 3);
    assert_int_equal(rk_actor_control(rt, a, &c), RK_OK);
    assert_int_equal(c.state, RK_FAILED);
    assert_int_equal(c.generation, 4);
    assert_int_equal(c.flags & RK_CONTROL_F_RESTARTING, 0);
    assert_int_equal(rk_supervisor_restart(rt, sup), RK_OK);
    wait_actor(rt, a, RK_ACTIVE, 5);
    fail_and_wait(rt, a, 5);
    assert_int_equal(info(rt, sup).recent_restarts, 1);
    assert_int_equal(info(rt, sup).state, RK_ACTIVE);
}

/* rk_kill_tree while the children fail and their workers restart them:
 * when it returns none runs, and none comes back. */
static void records_kill_tree_while_restarting(void **state)
{
    enum { N = 4, ROUNDS = 50 };
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup, kids[N], order[N + 1];
    uint32_t gen[N];
    size_t count = 0;
    char name[32];

    if (!getenv("RK_CPU_RESTART_RECORDS"))
        skip();
    sup = make_sup(rt, "doomed", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 32, 1000);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "doomed/%d", i);
        kids[i] = child(rt, sup, name, RK_CHILD_PERMANENT);
    }
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < N; i++) {
            uint64_t v = 0;
            rk_status st = rk_send(rt, kids[i], T_FAIL, &v, sizeof v);
            assert_true(st == RK_OK || st == RK_EFAILED || st == RK_ESTATE || st == RK_EFULL);
        }
    }
    assert_int_equal(rk_kill_tree(rt, sup, order, N + 1, &count), RK_OK);
    assert_int_equal(count, N + 1);
    for (int i = 0; i < N; i++) {
        rk_actor_metrics m = metrics(rt, kids[i]);
        assert_true(m.state == RK_TERMINATED || m.state == RK_FAILED);
        gen[i] = m.generation;
    }
    rk_test_sleep_ns(50 * MS);
    for (int i = 0; i < N; i++) {
        rk_actor_metrics m = metrics(rt, kids[i]);
        assert_true(m.state == RK_TERMINATED || m.state == RK_FAILED);
        assert_int_equal(m.generation, gen[i]);
    }
}

/* ---- inspection and bad input -------------------------------------------------------------- */

static void bad_input(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_supervisor_options o;
    rk_actor_options ao;
    rk_actor_id id = 777, sup, x;
    rk_supervisor_child kids[1];
    rk_supervisor_info i;
    size_t n;
    char long_name[80];

    rk_supervisor_options_init(&o);
    assert_int_equal(o.max_restarts, 3);
    assert_int_equal(o.window_ns, 5 * SEC);
    assert_int_equal(o.parent, RK_ACTOR_NONE);
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_EINVAL); /* no name */
    o.name = "bad name";
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_EINVAL);
    memset(long_name, 'n', 64), long_name[64] = '\0';
    o.name = long_name;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_EINVAL);
    o.name = "ok";
    o.strategy = (rk_restart_strategy)7;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_EINVAL);
    o.strategy = RK_ONE_FOR_ONE;
    o.window_ns = 0;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_EINVAL);
    o.window_ns = SEC;
    o.max_restarts = 1u << 20;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_EINVAL);
    o.max_restarts = 3;
    o.parent = 0; /* an actor id, not a supervisor */
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_EINVAL);
    o.parent = RK_SUPERVISOR_ID_BASE + 50;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_ENOACTOR);
    o.parent = RK_ACTOR_NONE;
    assert_int_equal(rk_supervisor_create(NULL, &o, &id), RK_EINVAL);
    assert_int_equal(rk_supervisor_create(rt, NULL, &id), RK_EINVAL);
    assert_int_equal(rk_supervisor_create(rt, &o, NULL), RK_EINVAL);
    assert_int_equal(id, 777);

    sup = make_sup(rt, "ok", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 3, SEC);
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_EEXIST);
    assert_int_equal(rk_supervisor_lookup(rt, "ok", &id), RK_OK);
    assert_int_equal(id, sup);
    assert_int_equal(rk_supervisor_lookup(rt, "nope", &id), RK_ENOACTOR);

    rk_actor_options_init(&ao);
    ao.name = "ok/x";
    ao.type = &w_type;
    assert_int_equal(rk_supervisor_start_child(rt, 0, &ao, RK_CHILD_PERMANENT, &id), RK_EINVAL);
    assert_int_equal(rk_supervisor_start_child(rt, sup + 9, &ao, RK_CHILD_PERMANENT, &id), RK_ENOACTOR);
    assert_int_equal(rk_supervisor_start_child(rt, sup, &ao, (rk_child_restart)9, &id), RK_EINVAL);
    ao.name = "bad//name";
    assert_int_equal(rk_supervisor_start_child(rt, sup, &ao, RK_CHILD_PERMANENT, &id), RK_EINVAL);
    assert_int_equal(info(rt, sup).children, 0); /* nothing was launched */
    x = child(rt, sup, "ok/x", RK_CHILD_PERMANENT);
    ao.name = "ok/x";
    assert_int_equal(rk_supervisor_start_child(rt, sup, &ao, RK_CHILD_PERMANENT, &id), RK_EEXIST);
    assert_int_equal(info(rt, sup).children, 1);

    /* Supervisor ids are not actors, and the other way round. */
    rk_lifecycle_state st;
    assert_int_equal(rk_actor_state(rt, sup, &st), RK_ENOACTOR);
    assert_int_equal(rk_send(rt, sup, T_REC, NULL, 0), RK_ENOACTOR);
    assert_int_equal(rk_terminate(rt, sup), RK_ENOACTOR);
    assert_int_equal(rk_supervisor_info_get(rt, x, &i), RK_EINVAL);
    assert_int_equal(rk_supervisor_info_get(rt, sup + 9, &i), RK_ENOACTOR);
    assert_int_equal(rk_supervisor_info_get(rt, sup, NULL), RK_EINVAL);
    assert_int_equal(rk_supervisor_children(rt, sup, NULL, 0, &n), RK_E2BIG);
    assert_int_equal(n, 1);
    assert_int_equal(rk_supervisor_children(rt, sup, kids, 1, &n), RK_OK);
    assert_int_equal(kids[0].id, x);
    assert_int_equal(rk_supervisor_children(rt, sup, NULL, 1, &n), RK_EINVAL);
    assert_int_equal(rk_supervisor_children(rt, x, kids, 1, &n), RK_EINVAL);
    assert_int_equal(rk_supervisor_restart(rt, x), RK_EINVAL);
    assert_false(rk_is_supervisor(RK_ACTOR_HOST));
    assert_false(rk_is_supervisor(RK_ACTOR_NONE));

    /* A supervisor that is not Active takes no children. */
    assert_int_equal(rk_kill_tree(rt, sup, NULL, 0, NULL), RK_OK);
    ao.name = "ok/y";
    assert_int_equal(rk_supervisor_start_child(rt, sup, &ao, RK_CHILD_PERMANENT, &id), RK_ESTATE);
    o.name = "ok2";
    o.parent = sup;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_ESTATE);

    /* After shutdown: refused, but still inspectable. */
    assert_int_equal(rk_runtime_shutdown(rt, NULL), RK_OK);
    o.parent = RK_ACTOR_NONE;
    assert_int_equal(rk_supervisor_create(rt, &o, &id), RK_ESHUTDOWN);
    assert_int_equal(rk_supervisor_info_get(rt, sup, &i), RK_OK);
    assert_int_equal(i.state, RK_TERMINATED);
}

/* ---- concurrency --------------------------------------------------------------------- */

#define STORM_THREADS 3
#define STORM_ACTORS 2 /* per thread */
#define STORM_ROUNDS 5

typedef struct storm {
    rk_runtime *rt;
    rk_actor_id ids[STORM_ACTORS];
    int ok;
} storm;

/* Fails each of its actors STORM_ROUNDS times, waiting for every restart.
 * No cmocka asserts off the main thread: it reports through ok. */
static void *storm_main(void *arg)
{
    storm *s = arg;
    uint64_t v = 0;
    s->ok = 1;
    for (uint32_t round = 1; round <= STORM_ROUNDS && s->ok; round++) {
        for (int i = 0; i < STORM_ACTORS && s->ok; i++) {
            uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
            rk_actor_metrics m;
            if (rk_send(s->rt, s->ids[i], T_FAIL, &v, sizeof v) != RK_OK)
                s->ok = 0;
            do {
                if (rk_actor_metrics_get(s->rt, s->ids[i], &m) != RK_OK || rk_test_now_ns() > deadline)
                    s->ok = 0;
                rk_test_sleep_ns(200000);
            } while (s->ok && !(m.state == RK_ACTIVE && m.generation == round + 1));
        }
    }
    return NULL;
}

static void concurrent_failures(void **state)
{
    fx *f = *state;
    rk_runtime *rt = f->rt;
    rk_actor_id sup = make_sup(rt, "storm", RK_ACTOR_NONE, RK_ONE_FOR_ONE, 1000, LONG_WINDOW);
    storm s[STORM_THREADS];
    pthread_t th[STORM_THREADS];
    char name[32];

    for (int t = 0; t < STORM_THREADS; t++) {
        s[t].rt = rt;
        for (int i = 0; i < STORM_ACTORS; i++) {
            snprintf(name, sizeof name, "storm/a%d", t * STORM_ACTORS + i);
            s[t].ids[i] = child(rt, sup, name, RK_CHILD_PERMANENT);
        }
    }
    for (int t = 0; t < STORM_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, storm_main, &s[t]), 0);
    for (int t = 0; t < STORM_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < STORM_THREADS; t++) {
        assert_true(s[t].ok);
        for (int i = 0; i < STORM_ACTORS; i++)
            assert_int_equal(metrics(rt, s[t].ids[i]).generation, STORM_ROUNDS + 1);
    }
    barrier(f);
    /* One restart per failure: none lost, none doubled. */
    assert_int_equal(info(rt, sup).restarts, STORM_THREADS * STORM_ACTORS * STORM_ROUNDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(one_for_one_restarts_the_failed_child, setup, teardown),
        cmocka_unit_test_setup_teardown(one_for_all_order, setup, teardown),
        cmocka_unit_test_setup_teardown(rest_for_one_order, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_storm_escalates_to_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(root_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(init_failures_count_against_intensity, setup, teardown),
        cmocka_unit_test_setup_teardown(window_expiry_allows_more_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(full_history_keeps_counting, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_types, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_tree_three_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_subtree_detaches_it, setup, teardown),
        cmocka_unit_test_setup_teardown(old_generation_messages_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(terminate_answers_a_failure_while_draining, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(records_restart_without_the_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(records_share_one_intensity, setup, teardown),
        cmocka_unit_test_setup_teardown(records_kill_tree_while_restarting, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
