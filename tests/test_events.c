/* The event stream on the CPU backend: lifecycle, restart, error, quota and
 * tenant events arrive in order with the right fields; a full subscriber
 * queue counts what it loses and recovers; kind filters and several
 * subscribers; queue-depth and rate samples; polling timeouts and wake-ups;
 * many emitting threads at once; bad input.
 *
 * Every wait is bounded: polls take a timeout, conditions a deadline. */
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
#define POLL_LIMIT (10 * SEC)

enum {
    T_PING = 1, /* count */
    T_FAIL = 2, /* fail with RK_ENOTSUP */
    T_HOLD = 3, /* wait for the gate (at most 10 s), count */
};

static atomic_int g_gate;
static atomic_ullong g_handled;

static rk_status ev_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)ctx;
    (void)state;
    if (m->type == T_FAIL)
        return RK_ENOTSUP;
    if (m->type == T_HOLD) {
        uint64_t deadline = rk_test_now_ns() + 10 * SEC;
        while (!atomic_load(&g_gate) && rk_test_now_ns() < deadline)
            rk_test_sleep_ns(100000);
    }
    atomic_fetch_add(&g_handled, 1);
    return RK_OK;
}

static const rk_actor_type ev_type = {.name = "ev", .handle = ev_handle};

static int setup(void **state)
{
    atomic_store(&g_gate, 0);
    atomic_store(&g_handled, 0);
    *state = NULL;
    return 0;
}

/* Subscriptions left open are the runtime's to free (ASan checks). */
static int teardown(void **state)
{
    atomic_store(&g_gate, 1);
    rk_runtime_destroy(*state);
    return 0;
}

static rk_runtime *start(void **state)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = 8;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    *state = rt;
    return rt;
}

static rk_status try_launch(rk_runtime *rt, const char *name, uint32_t tenant, rk_actor_id *id)
{
    rk_actor_options o;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &ev_type;
    o.tenant = tenant;
    o.inbox_capacity = 64;
    return rk_launch(rt, &o, id);
}

static rk_actor_id launch(rk_runtime *rt, const char *name, uint32_t tenant)
{
    rk_actor_id id = RK_ACTOR_NONE;
    assert_int_equal(try_launch(rt, name, tenant, &id), RK_OK);
    return id;
}

static rk_event_sub *subscribe(rk_runtime *rt, uint32_t kinds, uint32_t capacity, uint64_t period)
{
    rk_event_sub_options o;
    rk_event_sub *s = NULL;
    rk_event_sub_options_init(&o);
    o.kinds = kinds;
    if (capacity)
        o.capacity = capacity;
    o.sample_period_ns = period;
    assert_int_equal(rk_event_subscribe(rt, &o, &s), RK_OK);
    assert_non_null(s);
    return s;
}

static rk_status send_as(rk_runtime *rt, rk_actor_id dst, uint32_t tenant)
{
    rk_msg m;
    uint64_t v = 0;
    memset(&m, 0, sizeof m);
    m.type = T_PING;
    m.dst = dst;
    m.tenant = tenant;
    m.len = sizeof v;
    return rk_send_msg(rt, &m, &v);
}

/* The next event must be this one; returns it. */
static rk_event expect(rk_event_sub *s, rk_event_kind kind, rk_actor_id actor, int64_t value, uint64_t *last_seq)
{
    rk_event e;
    assert_int_equal(rk_event_poll(s, &e, POLL_LIMIT), RK_OK);
    if (e.kind != (uint32_t)kind || e.actor != actor || e.value != value)
        fail_msg("expected %s actor %u value %lld, got %s actor %u value %lld", rk_event_kind_name(kind), actor,
                 (long long)value, rk_event_kind_name((rk_event_kind)e.kind), e.actor, (long long)e.value);
    assert_true(e.seq > *last_seq);
    assert_true(e.time_ns > 0);
    *last_seq = e.seq;
    return e;
}

static void expect_none(rk_event_sub *s)
{
    rk_event e;
    assert_int_equal(rk_event_poll(s, &e, 0), RK_ETIMEDOUT);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_lifecycle_in_order(void **state)
{
    rk_runtime *rt = start(state);
    rk_event_sub *s = subscribe(rt, RK_EVENT_ALL, 0, 0);
    uint64_t seq = 0, v = 0;
    rk_tenant_quota q;
    rk_actor_id a, b;
    rk_event e;

    a = launch(rt, "a", 3);
    e = expect(s, RK_EVENT_STATE, a, RK_ACTIVE, &seq);
    assert_int_equal(e.tenant, 3);
    assert_int_equal(e.generation, 1);
    assert_int_equal(rk_deactivate(rt, a), RK_OK);
    expect(s, RK_EVENT_STATE, a, RK_DRAINING, &seq);
    assert_int_equal(rk_activate(rt, a), RK_OK);
    expect(s, RK_EVENT_STATE, a, RK_ACTIVE, &seq);
    assert_int_equal(rk_restart(rt, a), RK_OK);
    e = expect(s, RK_EVENT_RESTART, a, 2, &seq);
    assert_int_equal(e.generation, 2);
    expect(s, RK_EVENT_STATE, a, RK_ACTIVE, &seq);

    assert_int_equal(rk_send(rt, a, T_FAIL, &v, sizeof v), RK_OK);
    expect(s, RK_EVENT_STATE, a, RK_FAILED, &seq);
    e = expect(s, RK_EVENT_ERROR, a, RK_ENOTSUP, &seq);
    assert_int_equal(e.generation, 2);
    assert_int_equal(e.tenant, 3);
    assert_int_equal(rk_restart(rt, a), RK_OK);
    expect(s, RK_EVENT_RESTART, a, 3, &seq);
    expect(s, RK_EVENT_STATE, a, RK_ACTIVE, &seq);
    assert_int_equal(rk_terminate(rt, a), RK_OK);
    expect(s, RK_EVENT_STATE, a, RK_TERMINATED, &seq);

    rk_tenant_quota_init(&q);
    q.max_actors = 1;
    assert_int_equal(rk_tenant_set_quota(rt, 3, &q), RK_OK);
    assert_int_equal(try_launch(rt, "b", 3, &b), RK_EQUOTA);
    e = expect(s, RK_EVENT_QUOTA, RK_ACTOR_NONE, RK_EQUOTA, &seq);
    assert_int_equal(e.tenant, 3);

    assert_int_equal(send_as(rt, a, 4), RK_ETENANT);
    e = expect(s, RK_EVENT_TENANT, a, 3, &seq);
    assert_int_equal(e.tenant, 4);

    b = launch(rt, "b", 5);
    expect(s, RK_EVENT_STATE, b, RK_ACTIVE, &seq);
    q.max_msgs_per_s = 1;
    q.burst = 1;
    assert_int_equal(rk_tenant_set_quota(rt, 5, &q), RK_OK);
    assert_int_equal(rk_send(rt, b, T_PING, &v, sizeof v), RK_OK);
    assert_int_equal(rk_send(rt, b, T_PING, &v, sizeof v), RK_ERATE);
    e = expect(s, RK_EVENT_QUOTA, b, RK_ERATE, &seq);
    assert_int_equal(e.tenant, 5);
    expect_none(s);
    assert_int_equal(rk_event_dropped(s), 0);
    rk_event_unsubscribe(s);
}

static void test_overflow_counted(void **state)
{
    rk_runtime *rt = start(state);
    rk_actor_id a = launch(rt, "a", 1);
    rk_event_sub *s = subscribe(rt, RK_EVENT_MASK(RK_EVENT_TENANT), 4, 0);
    uint64_t seq = 0;

    for (int i = 0; i < 20; i++)
        assert_int_equal(send_as(rt, a, 2), RK_ETENANT);
    for (int i = 0; i < 4; i++)
        expect(s, RK_EVENT_TENANT, a, 1, &seq);
    expect_none(s);
    assert_int_equal(rk_event_dropped(s), 16);
    /* Room again: the stream goes on, the count stays. */
    assert_int_equal(send_as(rt, a, 2), RK_ETENANT);
    expect(s, RK_EVENT_TENANT, a, 1, &seq);
    assert_int_equal(rk_event_dropped(s), 16);
}

static void test_filters_and_subscribers(void **state)
{
    rk_runtime *rt = start(state);
    rk_event_sub *quota = subscribe(rt, RK_EVENT_MASK(RK_EVENT_QUOTA), 0, 0);
    rk_event_sub *all = subscribe(rt, RK_EVENT_ALL, 0, 0);
    rk_tenant_quota q;
    rk_actor_id a, b;
    uint64_t s1 = 0, s2 = 0;
    rk_event e1, e2;

    a = launch(rt, "a", 0);
    expect(all, RK_EVENT_STATE, a, RK_ACTIVE, &s2);
    expect_none(quota);
    rk_tenant_quota_init(&q);
    q.max_actors = 1;
    assert_int_equal(rk_tenant_set_quota(rt, 0, &q), RK_OK);
    assert_int_equal(try_launch(rt, "b", 0, &b), RK_EQUOTA);
    e1 = expect(quota, RK_EVENT_QUOTA, RK_ACTOR_NONE, RK_EQUOTA, &s1);
    e2 = expect(all, RK_EVENT_QUOTA, RK_ACTOR_NONE, RK_EQUOTA, &s2);
    assert_int_equal(e1.seq, e2.seq); /* one event, two copies */
    rk_event_unsubscribe(quota);
    /* The other subscription is not disturbed by the first one leaving. */
    assert_int_equal(try_launch(rt, "b", 0, &b), RK_EQUOTA);
    expect(all, RK_EVENT_QUOTA, RK_ACTOR_NONE, RK_EQUOTA, &s2);
    expect_none(all);
}

static void test_samples(void **state)
{
    rk_runtime *rt = start(state);
    rk_actor_id a = launch(rt, "a", 0);
    rk_event_sub *s = subscribe(rt, RK_EVENT_MASK(RK_EVENT_QUEUE_DEPTH) | RK_EVENT_MASK(RK_EVENT_RATE), 0, 20 * MS);
    uint64_t v = 0, deadline = rk_test_now_ns() + POLL_LIMIT;
    int saw_depth = 0, saw_rate = 0;
    rk_event e;

    assert_int_equal(rk_send(rt, a, T_HOLD, &v, sizeof v), RK_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rk_send(rt, a, T_PING, &v, sizeof v), RK_OK);
    /* The held message keeps its slot: four queued until the gate opens. */
    while (!saw_depth && rk_test_now_ns() < deadline) {
        assert_int_equal(rk_event_poll(s, &e, POLL_LIMIT), RK_OK);
        assert_int_equal(e.actor, a);
        if (e.kind == RK_EVENT_QUEUE_DEPTH && e.value == 4)
            saw_depth = 1;
        if (e.kind == RK_EVENT_RATE)
            assert_int_equal(e.value, 0); /* nothing handled while held */
    }
    assert_true(saw_depth);
    atomic_store(&g_gate, 1);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rk_send_wait(rt, a, T_PING, &v, sizeof v, POLL_LIMIT), RK_OK);
    while (!saw_rate && rk_test_now_ns() < deadline) {
        assert_int_equal(rk_event_poll(s, &e, POLL_LIMIT), RK_OK);
        if (e.kind == RK_EVENT_RATE && e.value > 0)
            saw_rate = 1;
    }
    assert_true(saw_rate);
}

static void test_poll_timeout(void **state)
{
    rk_runtime *rt = start(state);
    rk_event_sub *s = subscribe(rt, RK_EVENT_ALL, 0, 0);
    uint64_t t0 = rk_test_now_ns(), waited;
    rk_event e;

    assert_int_equal(rk_event_poll(s, &e, 30 * MS), RK_ETIMEDOUT);
    waited = rk_test_now_ns() - t0;
    assert_true(waited >= 30 * MS);
    assert_true(waited < POLL_LIMIT);
    assert_int_equal(rk_event_poll(s, &e, 0), RK_ETIMEDOUT);
}

typedef struct poller {
    pthread_t thread;
    rk_event_sub *sub;
    rk_status result;
    rk_event ev;
} poller;

static void *poller_main(void *arg)
{
    poller *p = arg;
    p->result = rk_event_poll(p->sub, &p->ev, 30 * SEC);
    return NULL;
}

/* A poller asleep in rk_event_poll wakes for the event, not the timeout. */
static void test_poll_wakes(void **state)
{
    rk_runtime *rt = start(state);
    rk_actor_id a = launch(rt, "a", 1);
    poller p = {.sub = subscribe(rt, RK_EVENT_MASK(RK_EVENT_TENANT), 0, 0), .result = RK_EINTERNAL};
    uint64_t t0 = rk_test_now_ns();

    assert_int_equal(pthread_create(&p.thread, NULL, poller_main, &p), 0);
    rk_test_sleep_ns(20 * MS);
    assert_int_equal(send_as(rt, a, 9), RK_ETENANT);
    pthread_join(p.thread, NULL);
    assert_int_equal(p.result, RK_OK);
    assert_int_equal(p.ev.kind, RK_EVENT_TENANT);
    assert_int_equal(p.ev.tenant, 9);
    assert_true(rk_test_now_ns() - t0 < 20 * SEC);
}

#define EMITTERS 4

typedef struct emitter {
    pthread_t thread;
    rk_runtime *rt;
    rk_actor_id dst;
    uint32_t tenant;
    uint64_t n;
    uint64_t refused; /* read after join */
    atomic_int done;
} emitter;

static void *emitter_main(void *arg)
{
    emitter *em = arg;
    for (uint64_t i = 0; i < em->n; i++)
        if (send_as(em->rt, em->dst, em->tenant) == RK_ETENANT)
            em->refused++;
    atomic_store(&em->done, 1);
    return NULL;
}

/* Many threads emit while one polls: every event is either received or
 * counted as dropped, and each thread's events arrive in its order. */
static void test_concurrent_emitters(void **state)
{
    rk_runtime *rt = start(state);
    rk_actor_id a = launch(rt, "a", 1);
    rk_event_sub *s = subscribe(rt, RK_EVENT_MASK(RK_EVENT_TENANT), 256, 0);
    uint64_t n = rk_test_messages(200000) / EMITTERS / 4;
    uint64_t last[EMITTERS] = {0}, got = 0, total = 0;
    static emitter em[EMITTERS]; /* static: outlives a failed assertion */
    rk_event e;
    int running = EMITTERS;

    for (int i = 0; i < EMITTERS; i++) {
        em[i] = (emitter){.rt = rt, .dst = a, .tenant = 100 + (uint32_t)i, .n = n};
        atomic_init(&em[i].done, 0);
        assert_int_equal(pthread_create(&em[i].thread, NULL, emitter_main, &em[i]), 0);
    }
    while (running) {
        rk_status st = rk_event_poll(s, &e, 10 * MS);
        if (st == RK_OK) {
            uint32_t i = e.tenant - 100;
            assert_true(i < EMITTERS);
            assert_true(e.seq > last[i]); /* one thread's events stay in order */
            last[i] = e.seq;
            got++;
            continue;
        }
        assert_int_equal(st, RK_ETIMEDOUT);
        running = 0;
        for (int i = 0; i < EMITTERS; i++)
            if (!atomic_load(&em[i].done))
                running = 1;
    }
    for (int i = 0; i < EMITTERS; i++) {
        pthread_join(em[i].thread, NULL);
        assert_int_equal(em[i].refused, n);
        total += em[i].refused;
    }
    while (rk_event_poll(s, &e, 0) == RK_OK)
        got++;
    printf("%llu events: %llu received, %llu dropped\n", (unsigned long long)total, (unsigned long long)got,
           (unsigned long long)rk_event_dropped(s));
    assert_int_equal(got + rk_event_dropped(s), total);
}

static void test_bad_input(void **state)
{
    rk_runtime *rt = start(state);
    rk_event_sub_options o;
    rk_event_sub *s = (rk_event_sub *)&o;
    rk_event e;

    assert_int_equal(rk_event_subscribe(NULL, NULL, &s), RK_EINVAL);
    assert_int_equal(rk_event_subscribe(rt, NULL, NULL), RK_EINVAL);
    rk_event_sub_options_init(&o);
    o.capacity = 3;
    assert_int_equal(rk_event_subscribe(rt, &o, &s), RK_EINVAL);
    assert_null(s);
    rk_event_sub_options_init(&o);
    o.kinds = 0;
    assert_int_equal(rk_event_subscribe(rt, &o, &s), RK_EINVAL);
    o.kinds = RK_EVENT_ALL + 1;
    assert_int_equal(rk_event_subscribe(rt, &o, &s), RK_EINVAL);
    assert_int_equal(rk_event_poll(NULL, &e, 0), RK_EINVAL);
    assert_int_equal(rk_event_dropped(NULL), 0);
    rk_event_unsubscribe(NULL);
    rk_event_sub_options_init(NULL);
    assert_string_equal(rk_event_kind_name(RK_EVENT_STATE), "state");
    assert_string_equal(rk_event_kind_name(RK_EVENT_PRESSURE_CLEAR), "pressure_clear");
    assert_string_equal(rk_event_kind_name(RK_EVENT_KIND_COUNT_), "unknown");
    assert_string_equal(rk_event_kind_name((rk_event_kind)-1), "unknown");

    /* A subscription left open is freed with the runtime (see teardown). */
    assert_int_equal(rk_event_subscribe(rt, NULL, &s), RK_OK);
    assert_int_equal(rk_event_poll(s, NULL, 0), RK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_and_subscribers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_wakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_emitters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
