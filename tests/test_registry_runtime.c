/* The name registry wired into the runtime (CPU backend): launch registers
 * the actor's name, wildcard lookups through the runtime, a restart
 * re-registers the name with the new generation (by hand and by a
 * supervisor), termination unregisters it, and lookups running while
 * actors launch, restart and terminate. */
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

enum { T_FAIL = 1 };

static rk_status n_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)ctx;
    (void)state;
    return m->type == T_FAIL ? RK_ENOTSUP : RK_OK;
}

static const rk_actor_type n_type = {.name = "named", .handle = n_handle};

static int setup(void **state)
{
    rk_runtime *rt;
    rk_runtime_options o;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = 128;
    if (rk_runtime_create(&rt, &o) != RK_OK)
        return -1;
    *state = rt;
    return 0;
}

static int teardown(void **state)
{
    rk_runtime_destroy(*state);
    return 0;
}

static rk_actor_options opts(const char *name)
{
    rk_actor_options o;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &n_type;
    o.inbox_capacity = 16;
    return o;
}

static rk_actor_id launch(rk_runtime *rt, const char *name)
{
    rk_actor_options o = opts(name);
    rk_actor_id id = RK_ACTOR_NONE;
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    return id;
}

/* The generation the registry has bound `name` to (0 if unbound). */
static uint32_t bound_generation(rk_runtime *rt, const char *name)
{
    rk_registry_entry e[2];
    size_t n;
    assert_int_equal(rk_lookup_all(rt, name, e, 2, &n), RK_OK);
    return n == 1 ? e[0].generation : 0;
}

static void launch_registers_and_wildcards(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id x86 = launch(rt, "standards/isa/x86");
    rk_actor_id arm = launch(rt, "standards/isa/arm");
    rk_actor_id sysv = launch(rt, "standards/abi/sysv");
    rk_actor_id thing = launch(rt, "other/thing");
    rk_actor_id top = launch(rt, "standards");
    rk_registry_entry e[8];
    rk_actor_id id = 777;
    size_t n = 99;

    assert_int_equal(rk_lookup(rt, "standards/isa/x86", &id), RK_OK);
    assert_int_equal(id, x86);

    /* '*' within one segment: sorted by name. */
    assert_int_equal(rk_lookup_all(rt, "standards/isa/*", e, 8, &n), RK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].name, "standards/isa/arm");
    assert_int_equal(e[0].actor, arm);
    assert_int_equal(e[0].generation, 1);
    assert_string_equal(e[1].name, "standards/isa/x86");
    assert_int_equal(e[1].actor, x86);
    assert_int_equal(rk_lookup_all(rt, "standards/isa/x*", e, 8, &n), RK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].actor, x86);
    assert_int_equal(rk_lookup_all(rt, "*/isa/*", e, 8, &n), RK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rk_lookup_all(rt, "standards/*", e, 8, &n), RK_OK);
    assert_int_equal(n, 0); /* '*' is one whole segment, never two */

    /* '**' across segments, zero of them included. */
    assert_int_equal(rk_lookup_all(rt, "standards/**", e, 8, &n), RK_OK);
    assert_int_equal(n, 4);
    assert_string_equal(e[0].name, "standards");
    assert_int_equal(e[0].actor, top);
    assert_int_equal(e[1].actor, sysv);
    assert_int_equal(rk_lookup_all(rt, "**/x86", e, 8, &n), RK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rk_lookup_all(rt, "**", e, 8, &n), RK_OK);
    assert_int_equal(n, 5);
    assert_string_equal(e[0].name, "other/thing");
    assert_int_equal(e[0].actor, thing);

    /* A short buffer gets the first ones and the whole count. */
    assert_int_equal(rk_lookup_all(rt, "**", e, 2, &n), RK_E2BIG);
    assert_int_equal(n, 5);
    assert_string_equal(e[1].name, "standards");
    assert_int_equal(rk_lookup_all(rt, "**", NULL, 0, &n), RK_E2BIG);
    assert_int_equal(n, 5);
    assert_int_equal(rk_lookup_all(rt, "nothing/**", NULL, 0, &n), RK_OK);
    assert_int_equal(n, 0);

    /* Bad input. */
    assert_int_equal(rk_lookup_all(rt, "a**", e, 8, &n), RK_EINVAL);
    assert_int_equal(rk_lookup_all(rt, "a//b", e, 8, &n), RK_EINVAL);
    assert_int_equal(rk_lookup_all(rt, NULL, e, 8, &n), RK_EINVAL);
    assert_int_equal(rk_lookup_all(rt, "**", NULL, 8, &n), RK_EINVAL);
    assert_int_equal(rk_lookup_all(rt, "**", e, 8, NULL), RK_EINVAL);
    assert_int_equal(rk_lookup_all(NULL, "**", e, 8, &n), RK_EINVAL);
    assert_int_equal(rk_lookup(rt, "standards/isa/*", &id), RK_EINVAL); /* a pattern is not a name */
    assert_int_equal(rk_lookup(rt, "no/such", &id), RK_ENOACTOR);

    /* Names must be registry names; a refused launch leaves no name. */
    rk_actor_options o = opts("bad name");
    assert_int_equal(rk_launch(rt, &o, &id), RK_EINVAL);
    o = opts("trailing/");
    assert_int_equal(rk_launch(rt, &o, &id), RK_EINVAL);
    o = opts("wild/*");
    assert_int_equal(rk_launch(rt, &o, &id), RK_EINVAL);
    o = opts("standards/isa/x86");
    assert_int_equal(rk_launch(rt, &o, &id), RK_EEXIST);
    o = opts("fine/name");
    o.inbox_capacity = 3;
    assert_int_equal(rk_launch(rt, &o, &id), RK_EINVAL);
    assert_int_equal(rk_lookup_all(rt, "**", NULL, 0, &n), RK_E2BIG);
    assert_int_equal(n, 5);
}

static void restart_rebinds_generation(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id a = launch(rt, "svc/a");
    rk_actor_id id;

    assert_int_equal(bound_generation(rt, "svc/a"), 1);
    assert_int_equal(rk_restart(rt, a), RK_OK);
    assert_int_equal(bound_generation(rt, "svc/a"), 2);
    assert_int_equal(rk_lookup(rt, "svc/a", &id), RK_OK);
    assert_int_equal(id, a);

    /* A supervisor's restart of a failed child moves it too. */
    rk_supervisor_options so;
    rk_actor_id sup, b;
    rk_actor_options o = opts("svc/b");
    rk_supervisor_options_init(&so);
    so.name = "svc";
    assert_int_equal(rk_supervisor_create(rt, &so, &sup), RK_OK);
    assert_int_equal(rk_supervisor_start_child(rt, sup, &o, RK_CHILD_PERMANENT, &b), RK_OK);
    assert_int_equal(bound_generation(rt, "svc/b"), 1);
    assert_int_equal(rk_send(rt, b, T_FAIL, NULL, 0), RK_OK);
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (bound_generation(rt, "svc/b") != 2) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
    }
    rk_actor_metrics m;
    assert_int_equal(rk_actor_metrics_get(rt, b, &m), RK_OK);
    assert_int_equal(m.generation, 2);
    assert_int_equal(rk_lookup(rt, "svc/b", &id), RK_OK);
    assert_int_equal(id, b);
}

static void terminate_unregisters(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id a = launch(rt, "job/a"), b, c;
    rk_actor_id id;
    size_t n;

    assert_int_equal(rk_terminate(rt, a), RK_OK);
    assert_int_equal(rk_lookup(rt, "job/a", &id), RK_ENOACTOR);
    assert_int_equal(rk_lookup_all(rt, "job/*", NULL, 0, &n), RK_OK);
    assert_int_equal(n, 0);

    /* Restarted from Terminated, it takes its name back, new generation. */
    assert_int_equal(rk_restart(rt, a), RK_OK);
    assert_int_equal(rk_lookup(rt, "job/a", &id), RK_OK);
    assert_int_equal(id, a);
    assert_int_equal(bound_generation(rt, "job/a"), 2);

    /* The name is free after termination: another actor may take it, and
     * then the old one comes back without it. */
    assert_int_equal(rk_terminate(rt, a), RK_OK);
    b = launch(rt, "job/a");
    assert_int_not_equal(b, a);
    assert_int_equal(rk_restart(rt, a), RK_OK);
    assert_int_equal(rk_lookup(rt, "job/a", &id), RK_OK);
    assert_int_equal(id, b);
    assert_int_equal(bound_generation(rt, "job/a"), 1);

    /* A failed actor keeps its name (it may be restarted). */
    c = launch(rt, "job/c");
    assert_int_equal(rk_send(rt, c, T_FAIL, NULL, 0), RK_OK);
    rk_lifecycle_state s = RK_ACTIVE;
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (s != RK_FAILED) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
        assert_int_equal(rk_actor_state(rt, c, &s), RK_OK);
    }
    assert_int_equal(rk_lookup(rt, "job/c", &id), RK_OK);
    assert_int_equal(id, c);

    /* kill_tree unregisters as terminate does. */
    assert_int_equal(rk_kill_tree(rt, b, NULL, 0, NULL), RK_OK);
    assert_int_equal(rk_lookup(rt, "job/a", &id), RK_ENOACTOR);
}

/* ---- lookups racing with launches, restarts and terminations ------------------ */

#define CHURN_ACTORS 24

typedef struct churn {
    rk_runtime *rt;
    atomic_int stop;
    int ok;
    atomic_ullong lookups;
} churn;

/* Every entry a lookup returns names an actor that exists and carries a
 * name the pattern matches. Reports through ok (no cmocka off the main
 * thread). */
static void *lookup_main(void *arg)
{
    churn *c = arg;
    rk_registry_entry e[CHURN_ACTORS];
    size_t n;
    c->ok = 1;
    while (!atomic_load(&c->stop) && c->ok) {
        rk_status st = rk_lookup_all(c->rt, "churn/*", e, CHURN_ACTORS, &n);
        if (st != RK_OK || n > CHURN_ACTORS)
            c->ok = 0;
        for (size_t i = 0; i < n && c->ok; i++) {
            rk_lifecycle_state s;
            if (rk_actor_state(c->rt, e[i].actor, &s) != RK_OK || strncmp(e[i].name, "churn/", 6) != 0 ||
                e[i].generation == 0)
                c->ok = 0;
        }
        atomic_fetch_add(&c->lookups, 1);
    }
    return NULL;
}

static void lookups_during_churn(void **state)
{
    rk_runtime *rt = *state;
    churn c = {.rt = rt};
    pthread_t th;
    rk_actor_id ids[CHURN_ACTORS];
    char name[32];
    size_t n;
    unsigned long long start;
    const uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    uint32_t rounds = 0;

    atomic_store(&c.stop, 0);
    atomic_store(&c.lookups, 0);
    assert_int_equal(pthread_create(&th, NULL, lookup_main, &c), 0);
    /* The lookups race with the churn only if they run during it: on a
     * busy machine the churn below can end before the thread is first
     * scheduled. So the churn starts once the thread runs, and restarts go
     * on (three rounds at least) until it has looked up 100 times since. */
    while (atomic_load(&c.lookups) == 0) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
    }
    start = atomic_load(&c.lookups);
    for (int i = 0; i < CHURN_ACTORS; i++) {
        snprintf(name, sizeof name, "churn/a%02d", i);
        ids[i] = launch(rt, name);
    }
    do {
        for (int i = 0; i < CHURN_ACTORS; i++)
            assert_int_equal(rk_restart(rt, ids[i]), RK_OK);
        rounds++;
    } while (rounds < 3 || (atomic_load(&c.lookups) - start < 100 && rk_test_now_ns() < deadline));
    for (int i = 0; i < CHURN_ACTORS; i += 2)
        assert_int_equal(rk_terminate(rt, ids[i]), RK_OK);
    atomic_store(&c.stop, 1);
    pthread_join(th, NULL);
    assert_true(c.ok);
    assert_true(atomic_load(&c.lookups) - start >= 100);

    assert_int_equal(rk_lookup_all(rt, "churn/*", NULL, 0, &n), RK_E2BIG);
    assert_int_equal(n, CHURN_ACTORS / 2);
    for (int i = 1; i < CHURN_ACTORS; i += 2) {
        snprintf(name, sizeof name, "churn/a%02d", i);
        assert_int_equal(bound_generation(rt, name), 1 + rounds);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(launch_registers_and_wildcards, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_rebinds_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(terminate_unregisters, setup, teardown),
        cmocka_unit_test_setup_teardown(lookups_during_churn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
