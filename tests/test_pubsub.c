/* Publish/subscribe on the CPU backend: fan-out with wildcard
 * subscriptions, delivery counts, refusals (full queue, state, failure,
 * tenant) each dead-lettered with its reason, publishing from a handler,
 * unsubscription on termination, bad input, and concurrent publishers.
 *
 * Handlers record what they received in a log (no cmocka off the main
 * thread); every wait polls with a limit. */
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

enum {
    T_NEWS = 1,    /* log (self, src, value); the held actor waits for the gate */
    T_PUBLISH = 2, /* publish_req: rk_ctx_publish, then send the report to the host */
    T_REPORT = 3,  /* (to the host) publish_ack */
    T_FAIL = 4,    /* fail */
};

typedef struct sub_state {
    char pattern[64]; /* subscribed to in init, when not empty */
} sub_state;

typedef struct publish_req {
    char topic[64];
    uint64_t value;
} publish_req;

typedef struct publish_ack {
    int32_t status;
    uint32_t pad_;
    rk_publish_report rep;
} publish_ack;

/* ---- what the subscribers saw ------------------------------------------------ */

typedef struct got {
    rk_actor_id self, src;
    uint32_t tenant;
    uint64_t v;
} got;

#define LOG_MAX 65536
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static got g_log[LOG_MAX];
static uint32_t g_log_n;
static atomic_uint g_hold; /* the actor whose T_NEWS waits for the gate */
static atomic_int g_gate;
static atomic_int g_entered;

static void log_add(got g)
{
    pthread_mutex_lock(&g_log_lock);
    if (g_log_n < LOG_MAX)
        g_log[g_log_n] = g;
    g_log_n++;
    pthread_mutex_unlock(&g_log_lock);
}

/* How many messages `self` received (any self when RK_ACTOR_NONE), and the
 * last one's entry. */
static uint32_t received(rk_actor_id self, got *last)
{
    uint32_t n = 0;
    pthread_mutex_lock(&g_log_lock);
    for (uint32_t i = 0; i < g_log_n && i < LOG_MAX; i++) {
        if (self == RK_ACTOR_NONE || g_log[i].self == self) {
            n++;
            if (last)
                *last = g_log[i];
        }
    }
    pthread_mutex_unlock(&g_log_lock);
    return n;
}

/* Returns 0 if the gate stayed closed for GATE_LIMIT_NS. */
static int gate_wait(void)
{
    return rk_test_gate_wait(&g_gate, &g_entered, GATE_LIMIT_NS);
}

/* ---- the subscriber ------------------------------------------------------------ */

static rk_status s_init(rk_ctx *ctx, void *state)
{
    sub_state *s = state;
    if (s->pattern[0] == '\0')
        return RK_OK;
    return rk_ctx_subscribe(ctx, s->pattern);
}

static rk_status s_publish(rk_ctx *ctx, const rk_msg *m)
{
    publish_req req;
    publish_ack ack;
    memcpy(&req, rk_msg_payload(m), sizeof req);
    memset(&ack, 0, sizeof ack);
    ack.status = (int32_t)rk_ctx_publish(ctx, req.topic, T_NEWS, &req.value, sizeof req.value, &ack.rep);
    return rk_ctx_send(ctx, RK_ACTOR_HOST, T_REPORT, &ack, sizeof ack);
}

static rk_status s_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    uint64_t v = 0;
    (void)state;
    switch (m->type) {
    case T_NEWS:
        if (m->len >= sizeof v)
            memcpy(&v, rk_msg_payload(m), sizeof v);
        log_add((got){rk_self(ctx), m->src, m->tenant, v});
        if (atomic_load(&g_hold) == rk_self(ctx) && !gate_wait())
            return RK_ETIMEDOUT;
        return RK_OK;
    case T_PUBLISH:
        return s_publish(ctx, m);
    case T_FAIL:
        return RK_ENOTSUP;
    }
    return RK_OK;
}

static const rk_actor_type s_type = {.name = "subscriber", .handle = s_handle, .init = s_init};

/* ---- fixture and helpers --------------------------------------------------------- */

static int setup(void **state)
{
    rk_runtime *rt;
    rk_runtime_options o;
    pthread_mutex_lock(&g_log_lock);
    g_log_n = 0;
    pthread_mutex_unlock(&g_log_lock);
    atomic_store(&g_hold, RK_ACTOR_NONE);
    atomic_store(&g_gate, 0);
    atomic_store(&g_entered, 0);
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.dead_letter_capacity = 4096;
    if (rk_runtime_create(&rt, &o) != RK_OK)
        return -1;
    *state = rt;
    return 0;
}

static int teardown(void **state)
{
    atomic_store(&g_gate, 1);
    rk_runtime_destroy(*state);
    return 0;
}

/* Launches a subscriber; `pattern` (may be NULL) is subscribed in its init,
 * so again after every restart. */
static rk_actor_id launch_sub(rk_runtime *rt, const char *name, const char *pattern, uint32_t inbox,
                              uint32_t tenant)
{
    rk_actor_options o;
    sub_state st;
    rk_actor_id id = RK_ACTOR_NONE;
    memset(&st, 0, sizeof st);
    if (pattern)
        snprintf(st.pattern, sizeof st.pattern, "%s", pattern);
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &s_type;
    o.initial_state = &st;
    o.state_size = sizeof st;
    o.inbox_capacity = inbox ? inbox : 64;
    o.tenant = tenant;
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    return id;
}

static void wait_received(rk_actor_id self, uint32_t n)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (received(self, NULL) < n) {
        if (rk_test_now_ns() > deadline)
            fail_msg("actor %u received %u, waited for %u", self, received(self, NULL), n);
        rk_test_sleep_ns(MS);
    }
}

static rk_status publish_u64(rk_runtime *rt, const char *topic, uint64_t v, rk_publish_report *rep)
{
    return rk_publish(rt, topic, T_NEWS, &v, sizeof v, rep);
}

/* Pops every dead letter of type T_NEWS into out; returns how many. */
static uint32_t news_dead_letters(rk_runtime *rt, rk_dead_letter *out, uint32_t cap)
{
    rk_dead_letter d;
    uint32_t n = 0;
    while (rk_dead_letter_pop(rt, &d, NULL) == RK_OK)
        if (d.hdr.type == T_NEWS && n < cap)
            out[n++] = d;
    return n;
}

/* ---- tests ---------------------------------------------------------------------- */

static void fanout_with_wildcards(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id a = launch_sub(rt, "a", "sensors/*/temp", 0, 0);
    rk_actor_id b = launch_sub(rt, "b", "sensors/**", 0, 0);
    rk_actor_id c = launch_sub(rt, "c", "sensors/room1/temp", 0, 0);
    rk_actor_id d = launch_sub(rt, "d", "other/**", 0, 0);
    rk_actor_id e = launch_sub(rt, "e", "sensors/**", 0, 0);
    rk_publish_report rep;
    rk_dead_letter dl[4];
    got last;

    /* Overlapping patterns of one actor: still one copy. */
    assert_int_equal(rk_subscribe(rt, e, "sensors/room1/*"), RK_OK);

    assert_int_equal(publish_u64(rt, "sensors/room1/temp", 42, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 4);
    assert_int_equal(rep.delivered, 4);
    assert_int_equal(rep.refused, 0);
    assert_int_equal(rep.first_refusal, RK_OK);
    wait_received(a, 1);
    wait_received(b, 1);
    wait_received(c, 1);
    wait_received(e, 1);
    assert_int_equal(received(a, &last), 1);
    assert_int_equal(last.v, 42);
    assert_int_equal(last.src, RK_ACTOR_HOST);

    assert_int_equal(publish_u64(rt, "sensors/room2/humidity", 7, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 2); /* b, e */
    assert_int_equal(publish_u64(rt, "sensors", 8, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 2); /* '**' matches zero segments too */
    assert_int_equal(publish_u64(rt, "nobody/listens", 9, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 0);
    assert_int_equal(rep.delivered, 0);

    /* d's inbox is FIFO: when it has the message for its own topic, it
     * would have had any earlier copy too. */
    assert_int_equal(publish_u64(rt, "other/x", 10, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 1);
    wait_received(d, 1);
    wait_received(b, 3);
    wait_received(e, 3);
    assert_int_equal(received(d, &last), 1);
    assert_int_equal(last.v, 10);
    assert_int_equal(received(a, NULL), 1);
    assert_int_equal(received(c, NULL), 1);
    assert_int_equal(received(b, NULL), 3);
    assert_int_equal(received(e, NULL), 3);
    assert_int_equal(news_dead_letters(rt, dl, 4), 0);

    /* Bad input: nothing sent. */
    assert_int_equal(publish_u64(rt, "sensors/*", 1, &rep), RK_EINVAL); /* a pattern, not a topic */
    assert_int_equal(publish_u64(rt, "", 1, &rep), RK_EINVAL);
    assert_int_equal(rk_publish(rt, NULL, T_NEWS, NULL, 0, &rep), RK_EINVAL);
    assert_int_equal(rk_publish(rt, "sensors/x", T_NEWS, NULL, 8, &rep), RK_EINVAL);
    assert_int_equal(rk_publish(rt, "sensors/x", RK_MSG_TYPE_SYSTEM, NULL, 0, &rep), RK_EINVAL);
    assert_int_equal(rk_publish(NULL, "sensors/x", T_NEWS, NULL, 0, &rep), RK_EINVAL);
    assert_int_equal(rep.subscribers, 0);
    uint8_t *big = calloc(1, (1u << 20) + 1);
    assert_non_null(big);
    assert_int_equal(rk_publish(rt, "sensors/x", T_NEWS, big, (1u << 20) + 1, &rep), RK_E2BIG);
    free(big);
    assert_int_equal(news_dead_letters(rt, dl, 4), 0);
}

static void large_payload_by_reference(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id a = launch_sub(rt, "a", "big/**", 0, 0);
    rk_actor_id b = launch_sub(rt, "b", "big/*", 0, 0);
    uint64_t payload[512]; /* 4 KiB: more than a 256-byte slot holds */
    rk_publish_report rep;
    got last;

    for (int i = 0; i < 512; i++)
        payload[i] = 1000 + (uint64_t)i;
    assert_int_equal(rk_publish(rt, "big/x", T_NEWS, payload, sizeof payload, &rep), RK_OK);
    assert_int_equal(rep.delivered, 2);
    wait_received(a, 1);
    wait_received(b, 1);
    assert_int_equal(received(b, &last), 1);
    assert_int_equal(last.v, 1000);
}

static void refusals_are_dead_lettered(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id slow = launch_sub(rt, "slow", "feed/**", 2, 0);
    rk_actor_id fast = launch_sub(rt, "fast", "feed/**", 1024, 0);
    rk_actor_id idle = launch_sub(rt, "idle", "feed/**", 0, 0);
    rk_actor_id dead = launch_sub(rt, "dead", "feed/**", 0, 0);
    rk_dead_letter dl[64];
    rk_publish_report rep;
    uint32_t sent = 0, delivered_slow = 0, refused_full = 0;
    rk_status st;

    /* Draining (deactivated) and Failed subscribers refuse. (Commands
     * first: slow's worker, held below, would not run them.) */
    assert_int_equal(rk_deactivate(rt, idle), RK_OK);
    assert_int_equal(rk_send(rt, dead, T_FAIL, NULL, 0), RK_OK);
    rk_lifecycle_state s = RK_ACTIVE;
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (s != RK_FAILED) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
        assert_int_equal(rk_actor_state(rt, dead, &s), RK_OK);
    }

    /* Hold slow's handler on its first message so its inbox fills. */
    atomic_store(&g_hold, slow);
    assert_int_equal(publish_u64(rt, "feed/x", 0, &rep), RK_ESTATE);
    assert_int_equal(rep.delivered, 2);
    sent++;
    while (atomic_load(&g_entered) == 0)
        rk_test_sleep_ns(100000);
    delivered_slow = 1;

    /* Publish until slow's inbox refuses (capacity 2: within a few). */
    for (uint64_t v = 1; v <= 8 && refused_full == 0; v++) {
        st = publish_u64(rt, "feed/x", v, &rep);
        sent++;
        assert_int_equal(rep.subscribers, 4);
        assert_int_equal(rep.delivered + rep.refused, 4);
        assert_true(rep.refused >= 2); /* idle and dead, every time */
        assert_int_not_equal(st, RK_OK);
        assert_int_equal(st, rep.first_refusal);
        if (rep.refused == 3)
            refused_full++;
        else
            delivered_slow++;
    }
    assert_int_equal(refused_full, 1);

    /* Every refusal is a dead letter with its reason: none lost. */
    uint32_t n = news_dead_letters(rt, dl, 64), full = 0, drained = 0, failed = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (dl[i].hdr.dst == slow) {
            assert_int_equal(dl[i].reason, RK_EFULL);
            full++;
        } else if (dl[i].hdr.dst == idle) {
            assert_int_equal(dl[i].reason, RK_ESTATE);
            drained++;
        } else {
            assert_int_equal(dl[i].hdr.dst, dead);
            assert_int_equal(dl[i].reason, RK_EFAILED);
            failed++;
        }
    }
    assert_int_equal(full, 1);
    assert_int_equal(drained, sent);
    assert_int_equal(failed, sent);

    /* What was delivered arrives, and only that: one more copy for slow
     * (retried while its inbox is still full) comes after everything queued
     * before it, so when it is there the count is final. */
    atomic_store(&g_gate, 1);
    wait_received(fast, sent);
    wait_received(slow, delivered_slow);
    deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    do {
        assert_true(rk_test_now_ns() < deadline);
        publish_u64(rt, "feed/y", 99, &rep);
        if (rep.refused == 3)
            rk_test_sleep_ns(MS);
    } while (rep.refused == 3);
    got last = {0};
    while (received(slow, &last) < delivered_slow + 1 || last.v != 99) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
    }
    assert_int_equal(received(slow, NULL), delivered_slow + 1);
}

static void tenants_apply(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id t0 = launch_sub(rt, "t0", "t/**", 0, 0);
    rk_actor_id t1 = launch_sub(rt, "t1", "t/**", 0, 1);
    rk_actor_id pub1 = launch_sub(rt, "pub1", NULL, 0, 1);
    rk_publish_report rep;
    rk_dead_letter dl[8];
    rk_msg hdr;
    got last;
    uint64_t v = 5;

    /* The host speaks for every tenant. */
    assert_int_equal(publish_u64(rt, "t/a", 1, &rep), RK_OK);
    assert_int_equal(rep.delivered, 2);
    wait_received(t1, 1);
    assert_int_equal(received(t1, &last), 1);
    assert_int_equal(last.tenant, 1);

    /* As tenant 1: the tenant-0 subscriber is refused. */
    memset(&hdr, 0, sizeof hdr);
    hdr.type = T_NEWS;
    hdr.tenant = 1;
    hdr.len = sizeof v;
    assert_int_equal(rk_publish_msg(rt, "t/b", &hdr, &v, &rep), RK_ETENANT);
    assert_int_equal(rep.subscribers, 2);
    assert_int_equal(rep.delivered, 1);
    assert_int_equal(rep.refused, 1);
    assert_int_equal(news_dead_letters(rt, dl, 8), 1);
    assert_int_equal(dl[0].hdr.dst, t0);
    assert_int_equal(dl[0].reason, RK_ETENANT);
    hdr.flags = RK_MSG_F_REQUEST;
    hdr.corr = 1;
    assert_int_equal(rk_publish_msg(rt, "t/b", &hdr, &v, &rep), RK_EINVAL);
    assert_int_equal(rk_publish_msg(rt, "t/b", NULL, &v, &rep), RK_EINVAL);

    /* From a tenant-1 handler: the same. */
    publish_req req;
    publish_ack ack;
    rk_msgbuf buf = {.data = &ack, .capacity = sizeof ack};
    memset(&req, 0, sizeof req);
    snprintf(req.topic, sizeof req.topic, "t/c");
    req.value = 77;
    assert_int_equal(rk_send(rt, pub1, T_PUBLISH, &req, sizeof req), RK_OK);
    assert_int_equal(rk_recv(rt, &buf, WAIT_LIMIT_NS), RK_OK);
    assert_int_equal(buf.hdr.type, T_REPORT);
    assert_int_equal(ack.status, RK_ETENANT);
    assert_int_equal(ack.rep.subscribers, 2);
    assert_int_equal(ack.rep.delivered, 1);
    assert_int_equal(ack.rep.refused, 1);
    wait_received(t1, 3);
    assert_int_equal(received(t1, &last), 3);
    assert_int_equal(last.src, pub1);
    assert_int_equal(last.v, 77);
    assert_int_equal(news_dead_letters(rt, dl, 8), 1);
    assert_int_equal(dl[0].hdr.src, pub1);
    assert_int_equal(dl[0].reason, RK_ETENANT);
}

static void publish_from_handler(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id a = launch_sub(rt, "a", "news/**", 0, 0);
    rk_actor_id b = launch_sub(rt, "b", "news/sport", 0, 0);
    rk_actor_id p = launch_sub(rt, "p", "news/**", 0, 0); /* it hears itself too */
    publish_req req;
    publish_ack ack;
    rk_msgbuf buf = {.data = &ack, .capacity = sizeof ack};
    got last;

    memset(&req, 0, sizeof req);
    snprintf(req.topic, sizeof req.topic, "news/sport");
    req.value = 123;
    assert_int_equal(rk_send(rt, p, T_PUBLISH, &req, sizeof req), RK_OK);
    assert_int_equal(rk_recv(rt, &buf, WAIT_LIMIT_NS), RK_OK);
    assert_int_equal(ack.status, RK_OK);
    assert_int_equal(ack.rep.subscribers, 3);
    assert_int_equal(ack.rep.delivered, 3);
    wait_received(a, 1);
    wait_received(b, 1);
    wait_received(p, 1);
    assert_int_equal(received(b, &last), 1);
    assert_int_equal(last.src, p);
    assert_int_equal(last.v, 123);

    /* A bad topic from a handler is its status, not a failure. */
    snprintf(req.topic, sizeof req.topic, "news/**");
    assert_int_equal(rk_send(rt, p, T_PUBLISH, &req, sizeof req), RK_OK);
    assert_int_equal(rk_recv(rt, &buf, WAIT_LIMIT_NS), RK_OK);
    assert_int_equal(ack.status, RK_EINVAL);
    assert_int_equal(ack.rep.subscribers, 0);

    rk_actor_metrics m;
    /* A send is counted after it went out: the report can reach the host
     * before the worker counts it. */
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    assert_int_equal(rk_actor_metrics_get(rt, p, &m), RK_OK);
    while (m.msgs_out < 3 + 2 && rk_test_now_ns() < deadline) {
        rk_test_sleep_ns(MS);
        assert_int_equal(rk_actor_metrics_get(rt, p, &m), RK_OK);
    }
    assert_int_equal(m.state, RK_ACTIVE);
    assert_int_equal(m.msgs_out, 3 + 2); /* three copies, two reports */
    assert_int_equal(rk_ctx_publish(NULL, "x", T_NEWS, NULL, 0, NULL), RK_EINVAL);
    assert_int_equal(rk_ctx_subscribe(NULL, "x"), RK_EINVAL);
}

static void terminated_subscriber_is_unsubscribed(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id a = launch_sub(rt, "a", "ev/**", 0, 0);
    rk_actor_id b = launch_sub(rt, "b", NULL, 0, 0);
    rk_publish_report rep;
    rk_dead_letter dl[4];

    assert_int_equal(rk_subscribe(rt, b, "ev/*"), RK_OK);
    assert_int_equal(publish_u64(rt, "ev/x", 1, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 2);

    assert_int_equal(rk_terminate(rt, b), RK_OK);
    assert_int_equal(publish_u64(rt, "ev/x", 2, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 1);
    assert_int_equal(news_dead_letters(rt, dl, 4), 0);
    assert_int_equal(rk_subscribe(rt, b, "ev/*"), RK_ESTATE);

    /* Restarted from Terminated, b has no subscriptions; a, whose init
     * subscribes, has its own back. */
    assert_int_equal(rk_terminate(rt, a), RK_OK);
    assert_int_equal(publish_u64(rt, "ev/x", 3, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 0);
    assert_int_equal(rk_restart(rt, a), RK_OK);
    assert_int_equal(rk_restart(rt, b), RK_OK);
    assert_int_equal(publish_u64(rt, "ev/x", 4, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 1);
    wait_received(a, 3);
    got last;
    assert_int_equal(received(a, &last), 3); /* 1, 2 and 4 */
    assert_int_equal(last.v, 4);
    assert_int_equal(received(b, NULL), 1);

    /* A restart from Failed keeps subscriptions. */
    assert_int_equal(rk_subscribe(rt, b, "ev/*"), RK_OK);
    assert_int_equal(rk_send(rt, b, T_FAIL, NULL, 0), RK_OK);
    rk_lifecycle_state s = RK_ACTIVE;
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (s != RK_FAILED) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
        assert_int_equal(rk_actor_state(rt, b, &s), RK_OK);
    }
    assert_int_equal(rk_restart(rt, b), RK_OK);
    assert_int_equal(publish_u64(rt, "ev/y", 5, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 2);
}

static void subscribe_bad_input(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id a = launch_sub(rt, "a", NULL, 0, 0);
    rk_publish_report rep;

    assert_int_equal(rk_subscribe(rt, a, "x/**"), RK_OK);
    assert_int_equal(rk_subscribe(rt, a, "x/**"), RK_EEXIST);
    assert_int_equal(rk_subscribe(rt, a, "x/a**"), RK_EINVAL);
    assert_int_equal(rk_subscribe(rt, a, NULL), RK_EINVAL);
    assert_int_equal(rk_subscribe(rt, 999, "x/*"), RK_ENOACTOR);
    assert_int_equal(rk_subscribe(rt, RK_ACTOR_HOST, "x/*"), RK_ENOACTOR);
    assert_int_equal(rk_subscribe(NULL, a, "x/*"), RK_EINVAL);
    assert_int_equal(rk_unsubscribe(rt, a, "x/*"), RK_ENOTFOUND); /* compared as text */
    assert_int_equal(rk_unsubscribe(rt, 999, "x/**"), RK_ENOACTOR);
    assert_int_equal(publish_u64(rt, "x/y", 1, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 1);
    assert_int_equal(rk_unsubscribe(rt, a, "x/**"), RK_OK);
    assert_int_equal(publish_u64(rt, "x/y", 2, &rep), RK_OK);
    assert_int_equal(rep.subscribers, 0);

    assert_int_equal(rk_runtime_shutdown(rt, NULL), RK_OK);
    assert_int_equal(publish_u64(rt, "x/y", 3, &rep), RK_ESHUTDOWN);
    assert_int_equal(rk_subscribe(rt, a, "x/**"), RK_ESHUTDOWN);
}

/* ---- concurrency -------------------------------------------------------------------- */

#define PUB_THREADS 2
#define PUB_EACH 2000

typedef struct pubber {
    rk_runtime *rt;
    uint64_t delivered, refused, other;
} pubber;

static void *pub_main(void *arg)
{
    pubber *p = arg;
    rk_publish_report rep;
    for (uint64_t i = 0; i < PUB_EACH; i++) {
        rk_status st = publish_u64(p->rt, "load/x", i, &rep);
        p->delivered += rep.delivered;
        p->refused += rep.refused;
        p->other += st != RK_OK && st != RK_EFULL;
    }
    return NULL;
}

static void concurrent_publishers(void **state)
{
    rk_runtime *rt = *state;
    rk_actor_id s1 = launch_sub(rt, "s1", "load/**", 1024, 0);
    rk_actor_id s2 = launch_sub(rt, "s2", "load/*", 1024, 0);
    rk_actor_id p = launch_sub(rt, "p", NULL, 0, 0);
    pubber pb[PUB_THREADS];
    pthread_t th[PUB_THREADS];
    publish_req req;
    publish_ack ack;
    rk_msgbuf buf = {.data = &ack, .capacity = sizeof ack};
    rk_dead_letter dl[1];
    uint64_t delivered = 0, refused = 0;

    memset(&req, 0, sizeof req);
    snprintf(req.topic, sizeof req.topic, "load/h");
    for (int t = 0; t < PUB_THREADS; t++) {
        pb[t] = (pubber){rt, 0, 0, 0};
        assert_int_equal(pthread_create(&th[t], NULL, pub_main, &pb[t]), 0);
    }
    /* A handler publishes meanwhile. */
    for (int i = 0; i < 50; i++) {
        req.value = (uint64_t)i;
        assert_int_equal(rk_send(rt, p, T_PUBLISH, &req, sizeof req), RK_OK);
        assert_int_equal(rk_recv(rt, &buf, WAIT_LIMIT_NS), RK_OK);
        delivered += ack.rep.delivered;
        refused += ack.rep.refused;
        assert_int_equal(ack.rep.subscribers, 2);
    }
    for (int t = 0; t < PUB_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(pb[t].other, 0);
        delivered += pb[t].delivered;
        refused += pb[t].refused;
    }
    /* Every copy either arrived or is a dead letter. */
    assert_int_equal(delivered + refused, 2 * (PUB_THREADS * PUB_EACH + 50));
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (received(s1, NULL) + received(s2, NULL) < delivered) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(MS);
    }
    assert_int_equal(received(s1, NULL) + received(s2, NULL), delivered);
    assert_int_equal(rk_dead_letter_count(rt), refused);
    (void)dl;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fanout_with_wildcards, setup, teardown),
        cmocka_unit_test_setup_teardown(large_payload_by_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_are_dead_lettered, setup, teardown),
        cmocka_unit_test_setup_teardown(tenants_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(publish_from_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(terminated_subscriber_is_unsubscribed, setup, teardown),
        cmocka_unit_test_setup_teardown(subscribe_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_publishers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
