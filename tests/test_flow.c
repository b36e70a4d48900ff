/* Flow control on the CPU backend: credits (host and handler side, actors
 * and the host queue), rk_send_wait (timeout, success when a slot frees,
 * refusals that are not waited for, shutdown, a backend that is gone), a
 * multi-producer stress that
 * checks the queue never holds more than its capacity while every message
 * arrives once and in order, and the memory-pressure monitor (refusal above
 * the high mark, inline sends unaffected, recovery below the low mark, the
 * alarm events).
 *
 * Handlers count what they see in atomics; the test thread checks. Every
 * wait polls a condition with a deadline or uses a bounded API wait. */
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

#include "core/runtime_internal.h"
#include "gone_backend.h"
#include "rk_test.h"
#include "ringkernel/ringkernel.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define WAIT_LIMIT_NS (30 * SEC)
#define MAX_PRODUCERS 8
#define BIG 16384u

enum {
    T_HOLD = 1,    /* wait for the gate (at most GATE_LIMIT_NS), count */
    T_DATA = 2,    /* data_msg: check the producer's order, count; slow every 64th */
    T_BIG = 3,     /* BIG bytes by reference: check the pattern, count */
    T_CREDITS = 4, /* u32 dst: rk_ctx_credits(dst) into g_ctx_* */
    T_TOHOST = 5,  /* send u32 n messages to the host */
};
#define GATE_LIMIT_NS (10 * SEC)

typedef struct data_msg {
    uint32_t producer;
    uint32_t pad_;
    uint64_t seq;
} data_msg;

typedef struct sink_state {
    uint64_t next[MAX_PRODUCERS];     /* next seq expected from each producer */
    uint64_t last_hlc[MAX_PRODUCERS]; /* each producer's stamps increase (rk_send_batch's too) */
    uint64_t handled;
} sink_state;

static atomic_int g_gate;
static atomic_ullong g_delivered, g_order_errors, g_bad_payload;
static atomic_int g_ctx_status;
static atomic_uint g_ctx_credits;
static atomic_int g_ctx_done;

static void reset_globals(void)
{
    atomic_store(&g_gate, 0);
    atomic_store(&g_delivered, 0);
    atomic_store(&g_order_errors, 0);
    atomic_store(&g_bad_payload, 0);
    atomic_store(&g_ctx_status, -1);
    atomic_store(&g_ctx_credits, 0);
    atomic_store(&g_ctx_done, 0);
}

static void gate_wait(void)
{
    uint64_t deadline = rk_test_now_ns() + GATE_LIMIT_NS;
    while (!atomic_load(&g_gate) && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
}

static void on_data(sink_state *s, const rk_msg *m)
{
    data_msg d;
    memcpy(&d, rk_msg_payload(m), sizeof d);
    if (d.producer >= MAX_PRODUCERS || d.seq != s->next[d.producer] || m->hlc <= s->last_hlc[d.producer]) {
        atomic_fetch_add(&g_order_errors, 1);
    } else {
        s->next[d.producer]++;
        s->last_hlc[d.producer] = m->hlc;
    }
    /* A slow consumer, so that producers outrun it and meet a full queue. */
    if (++s->handled % 64 == 0)
        rk_test_sleep_ns(100000);
}

static void on_big(const rk_msg *m)
{
    const unsigned char *p = rk_msg_payload(m);
    if (m->len != BIG || !(m->flags & RK_MSG_F_BYREF))
        atomic_fetch_add(&g_bad_payload, 1);
    for (uint32_t i = 0; i < m->len; i++)
        if (p[i] != (unsigned char)i) {
            atomic_fetch_add(&g_bad_payload, 1);
            break;
        }
}

static rk_status sink_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    uint32_t v = 0;
    if (m->len >= sizeof v)
        memcpy(&v, rk_msg_payload(m), sizeof v);
    switch (m->type) {
    case T_HOLD:
        gate_wait();
        break;
    case T_DATA:
        on_data(state, m);
        break;
    case T_BIG:
        on_big(m);
        break;
    case T_CREDITS: {
        uint32_t c = 0;
        atomic_store(&g_ctx_status, rk_ctx_credits(ctx, v, &c));
        atomic_store(&g_ctx_credits, c);
        atomic_store(&g_ctx_done, 1);
        break;
    }
    case T_TOHOST:
        for (uint32_t i = 0; i < v; i++)
            if (rk_ctx_send(ctx, RK_ACTOR_HOST, T_TOHOST, &i, sizeof i) != RK_OK)
                return RK_EFULL;
        break;
    }
    atomic_fetch_add(&g_delivered, 1);
    return RK_OK;
}

static const rk_actor_type sink_type = {.name = "sink", .handle = sink_handle};

/* ---- fixture ------------------------------------------------------------------- */

typedef struct fx {
    rk_runtime *rt;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    reset_globals();
    *state = f;
    return f ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    atomic_store(&g_gate, 1);
    rk_runtime_destroy(f->rt);
    free(f);
    return 0;
}

static rk_runtime *start(void **state, uint64_t drain_ns)
{
    fx *f = *state;
    rk_runtime_options o;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = 8;
    if (drain_ns)
        o.drain_timeout_ns = drain_ns;
    assert_int_equal(rk_runtime_create(&f->rt, &o), RK_OK);
    return f->rt;
}

static rk_status try_launch(rk_runtime *rt, const char *name, uint32_t inbox, rk_actor_id *id)
{
    static const sink_state init;
    rk_actor_options o;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &sink_type;
    o.inbox_capacity = inbox;
    o.initial_state = &init;
    o.state_size = sizeof init;
    return rk_launch(rt, &o, id);
}

static rk_actor_id launch(rk_runtime *rt, const char *name, uint32_t inbox)
{
    rk_actor_id id = RK_ACTOR_NONE;
    assert_int_equal(try_launch(rt, name, inbox, &id), RK_OK);
    return id;
}

static int wait_delivered(uint64_t want)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (atomic_load(&g_delivered) < want) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(200000);
    }
    return 1;
}

static uint32_t credits(rk_runtime *rt, rk_actor_id id)
{
    uint32_t c = 0xFFFFFFFFu;
    assert_int_equal(rk_credits(rt, id, &c), RK_OK);
    return c;
}

static rk_status send_data(rk_runtime *rt, rk_actor_id id, uint32_t producer, uint64_t seq)
{
    data_msg d = {producer, 0, seq};
    return rk_send(rt, id, T_DATA, &d, sizeof d);
}

/* Fills `id`'s inbox of `cap` slots: a held message, then data. */
static void fill(rk_runtime *rt, rk_actor_id id, uint32_t cap)
{
    uint32_t v = 0;
    assert_int_equal(rk_send(rt, id, T_HOLD, &v, sizeof v), RK_OK);
    for (uint32_t i = 0; i + 1 < cap; i++)
        assert_int_equal(send_data(rt, id, 0, i), RK_OK);
    assert_int_equal(send_data(rt, id, 0, cap), RK_EFULL);
    assert_int_equal(credits(rt, id), 0);
}

/* ---- credits ------------------------------------------------------------------------ */

static void test_credits_basic(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_actor_id a = launch(rt, "a", 8);
    uint32_t c;
    uint64_t deadline;

    assert_int_equal(credits(rt, a), 8);
    assert_int_equal(credits(rt, RK_ACTOR_HOST), 4096);
    fill(rt, a, 8);
    atomic_store(&g_gate, 1);
    assert_true(wait_delivered(8));
    deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (credits(rt, a) != 8 && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(credits(rt, a), 8);
    assert_int_equal(atomic_load(&g_order_errors), 0);

    assert_int_equal(rk_credits(rt, 42, &c), RK_ENOACTOR);
    assert_int_equal(rk_credits(rt, a, NULL), RK_EINVAL);
    assert_int_equal(rk_credits(NULL, a, &c), RK_EINVAL);
    assert_int_equal(rk_ctx_credits(NULL, a, &c), RK_EINVAL);
}

static void test_ctx_credits_and_host_queue(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_actor_id a = launch(rt, "a", 16);
    rk_actor_id b = launch(rt, "b", 32);
    uint32_t v;
    uint64_t deadline;

    v = b;
    assert_int_equal(rk_send(rt, a, T_CREDITS, &v, sizeof v), RK_OK);
    deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (!atomic_load(&g_ctx_done) && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(atomic_load(&g_ctx_status), RK_OK);
    assert_int_equal(atomic_load(&g_ctx_credits), 32);

    atomic_store(&g_ctx_done, 0);
    v = 9999;
    assert_int_equal(rk_send(rt, a, T_CREDITS, &v, sizeof v), RK_OK);
    while (!atomic_load(&g_ctx_done) && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(atomic_load(&g_ctx_status), RK_ENOACTOR);

    /* Three messages to the host take three of its queue's credits. */
    v = 3;
    assert_int_equal(rk_send(rt, b, T_TOHOST, &v, sizeof v), RK_OK);
    assert_true(wait_delivered(3));
    assert_int_equal(credits(rt, RK_ACTOR_HOST), 4096 - 3);
    atomic_store(&g_ctx_done, 0);
    v = RK_ACTOR_HOST;
    assert_int_equal(rk_send(rt, a, T_CREDITS, &v, sizeof v), RK_OK);
    while (!atomic_load(&g_ctx_done) && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(atomic_load(&g_ctx_status), RK_OK);
    assert_int_equal(atomic_load(&g_ctx_credits), 4096 - 3);
}

/* ---- rk_send_wait ------------------------------------------------------------------- */

static void test_send_wait_timeout(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_actor_id a = launch(rt, "a", 4);
    data_msg d = {0, 0, 3};
    uint64_t t0, waited, deadline;

    fill(rt, a, 4);
    t0 = rk_test_now_ns();
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 50 * MS), RK_ETIMEDOUT);
    waited = rk_test_now_ns() - t0;
    assert_true(waited >= 50 * MS);
    assert_true(waited < 10 * SEC);
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 0), RK_ETIMEDOUT);
    assert_int_equal(credits(rt, a), 0);

    /* Nothing extra was queued: once open, exactly the four arrive. */
    atomic_store(&g_gate, 1);
    assert_true(wait_delivered(4));
    /* The worker frees the slots after the batch's last handler returns:
     * wait for them, or the send below (timeout 0: one try) finds none. */
    deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (credits(rt, a) != 4 && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(credits(rt, a), 4);
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 0), RK_OK);
    assert_true(wait_delivered(5));
    assert_int_equal(atomic_load(&g_order_errors), 0);

    assert_int_equal(rk_send_wait(rt, 77, T_DATA, &d, sizeof d, MS), RK_ENOACTOR);
    assert_int_equal(rk_send_wait(NULL, a, T_DATA, &d, sizeof d, MS), RK_EINVAL);
    assert_int_equal(rk_send_msg_wait(rt, NULL, &d, MS), RK_EINVAL);
}

typedef struct opener {
    pthread_t thread;
    uint64_t after_ns;
} opener;

static void *opener_main(void *arg)
{
    opener *o = arg;
    rk_test_sleep_ns(o->after_ns);
    atomic_store(&g_gate, 1);
    return NULL;
}

static void test_send_wait_succeeds(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_actor_id a = launch(rt, "a", 4);
    data_msg d = {0, 0, 3};
    opener op = {.after_ns = 30 * MS};
    uint64_t t0, waited;

    fill(rt, a, 4);
    t0 = rk_test_now_ns();
    assert_int_equal(pthread_create(&op.thread, NULL, opener_main, &op), 0);
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 20 * SEC), RK_OK);
    waited = rk_test_now_ns() - t0;
    pthread_join(op.thread, NULL);
    assert_true(waited < 20 * SEC);
    assert_true(wait_delivered(5));
    assert_int_equal(atomic_load(&g_order_errors), 0);
}

/* Only a full queue is waited for: other refusals come back at once. */
static void test_send_wait_other_refusals(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_actor_id a = launch(rt, "a", 4);
    rk_tenant_quota q;
    data_msg d = {0, 0, 0};
    uint64_t t0 = rk_test_now_ns();

    assert_int_equal(rk_deactivate(rt, a), RK_OK);
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 20 * SEC), RK_ESTATE);
    assert_int_equal(rk_activate(rt, a), RK_OK);
    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = 1;
    q.burst = 1;
    assert_int_equal(rk_tenant_set_quota(rt, 0, &q), RK_OK);
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 20 * SEC), RK_OK);
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 20 * SEC), RK_ERATE);
    assert_true(rk_test_now_ns() - t0 < 10 * SEC);
}

typedef struct waiter {
    pthread_t thread;
    rk_runtime *rt;
    rk_actor_id dst;
    rk_status result;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    data_msg d = {0, 0, 99};
    w->result = rk_send_wait(w->rt, w->dst, T_DATA, &d, sizeof d, 60 * SEC);
    return NULL;
}

static void *shutdown_main(void *arg)
{
    rk_runtime_shutdown(arg, NULL);
    return NULL;
}

/* A sender waiting for credit is let go when shutdown begins. */
static void test_send_wait_shutdown(void **state)
{
    rk_runtime *rt = start(state, 100 * MS);
    rk_actor_id a = launch(rt, "a", 4);
    waiter w = {.rt = rt, .dst = a, .result = RK_EINTERNAL};
    pthread_t sd;
    uint64_t t0;

    fill(rt, a, 4);
    assert_int_equal(pthread_create(&w.thread, NULL, waiter_main, &w), 0);
    rk_test_sleep_ns(20 * MS); /* most likely waiting by now; ESHUTDOWN either way */
    t0 = rk_test_now_ns();
    assert_int_equal(pthread_create(&sd, NULL, shutdown_main, rt), 0);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.result, RK_ESHUTDOWN);
    assert_true(rk_test_now_ns() - t0 < 10 * SEC);
    atomic_store(&g_gate, 1); /* lets the drain finish */
    pthread_join(sd, NULL);
}

/* A sender waiting for credit is let go with RK_EDEVICE when the actor's
 * backend goes: its inbox would never drain. */
static void test_send_wait_backend_gone(void **state)
{
    rk_runtime *rt = start(state, 100 * MS);
    rk_actor_id a;
    data_msg d = {0, 0, 99};
    rk_goner g = {.after_ns = 30 * MS};
    uint64_t t0;

    rk_gone_use(rt);
    a = launch(rt, "a", 4);
    fill(rt, a, 4);
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 20 * MS), RK_ETIMEDOUT);
    t0 = rk_test_now_ns();
    assert_int_equal(pthread_create(&g.thread, NULL, rk_goner_main, &g), 0);
    assert_int_equal(rk_send_wait(rt, a, T_DATA, &d, sizeof d, 60 * SEC), RK_EDEVICE);
    assert_true(rk_test_now_ns() - t0 >= g.after_ns);
    assert_true(rk_test_now_ns() - t0 < 10 * SEC);
    assert_int_equal(pthread_join(g.thread, NULL), 0);
    /* The held message goes on: the four queued arrive, the shutdown drains. */
    atomic_store(&rk_gone, 0);
    atomic_store(&g_gate, 1);
    assert_true(wait_delivered(4));
}

/* ---- stress: fast producers, one slow consumer ---------------------------------------- */

static atomic_ullong g_sent; /* sends that returned RK_OK, all producers */

typedef struct producer {
    pthread_t thread;
    rk_runtime *rt;
    rk_actor_id dst;
    uint32_t index;
    uint64_t n;
    uint64_t efull;  /* plain sends refused for a full queue */
    rk_status error; /* first unexpected status */
} producer;

static void *producer_main(void *arg)
{
    producer *p = arg;
    for (uint64_t seq = 0; seq < p->n; seq++) {
        data_msg d = {p->index, 0, seq};
        rk_status st = rk_send(p->rt, p->dst, T_DATA, &d, sizeof d);
        if (st == RK_EFULL) {
            p->efull++;
            st = rk_send_wait(p->rt, p->dst, T_DATA, &d, sizeof d, WAIT_LIMIT_NS);
        }
        if (st != RK_OK) {
            p->error = st;
            return NULL;
        }
        atomic_fetch_add(&g_sent, 1);
    }
    return NULL;
}

/* Producers outrun the consumer; credits keep what is queued within the
 * inbox. Read in this order, sent - handled never exceeds the capacity:
 * sent (read first) <= slots claimed by then, and handled (read after) >=
 * slots the consumer had released by then, so the difference is at most
 * what the ring held at the first read. A queue that grew past its
 * capacity would show here. */
static void test_credits_bound_depth(void **state)
{
    enum { PRODUCERS = 4, CAP = 64 };
    static producer p[PRODUCERS]; /* static: outlives a failed assertion */
    rk_runtime *rt = start(state, 0);
    rk_actor_id a = launch(rt, "sink", CAP);
    uint64_t total = rk_test_messages(200000) / PRODUCERS * PRODUCERS;
    uint64_t efull = 0, max_held = 0, samples = 0, deadline;

    atomic_store(&g_sent, 0);
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        p[i] = (producer){.rt = rt, .dst = a, .index = i, .n = total / PRODUCERS, .error = RK_OK};
        assert_int_equal(pthread_create(&p[i].thread, NULL, producer_main, &p[i]), 0);
    }
    deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (atomic_load(&g_delivered) < total && rk_test_now_ns() < deadline) {
        uint64_t sent = atomic_load(&g_sent);
        uint64_t handled = atomic_load(&g_delivered);
        uint32_t c;
        if (sent > handled && sent - handled > max_held)
            max_held = sent - handled;
        assert_int_equal(rk_credits(rt, a, &c), RK_OK);
        assert_true(c <= CAP);
        samples++;
        rk_test_sleep_ns(20000);
    }
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        pthread_join(p[i].thread, NULL);
        assert_int_equal(p[i].error, RK_OK);
        efull += p[i].efull;
    }
    assert_true(wait_delivered(total));
    printf("%llu messages, %llu sends met a full queue, most held over %llu samples: %llu of %d\n",
           (unsigned long long)total, (unsigned long long)efull, (unsigned long long)samples,
           (unsigned long long)max_held, CAP);
    assert_true(max_held <= CAP);
    assert_int_equal(atomic_load(&g_order_errors), 0);
    assert_int_equal(atomic_load(&g_delivered), total);
    assert_true(efull > 0); /* the producers did outrun the consumer */
    assert_int_equal(rk_dead_letter_count(rt), 0);
}

/* ---- memory pressure ------------------------------------------------------------------- */

static rk_memory_usage usage(rk_runtime *rt)
{
    rk_memory_usage u;
    memset(&u, 0xAB, sizeof u);
    assert_int_equal(rk_memory_usage_get(rt, &u), RK_OK);
    assert_int_equal(u.host_bytes, u.payload_bytes + u.queue_bytes + u.state_bytes);
    return u;
}

/* Waits until no payload is held: the worker frees a payload after its
 * handler returns, so a delivery count can come first. */
static void wait_payloads_freed(rk_runtime *rt)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (usage(rt).payload_bytes != 0 && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
}

static void expect_event(rk_event_sub *sub, rk_event_kind kind)
{
    rk_event e;
    assert_int_equal(rk_event_poll(sub, &e, 10 * SEC), RK_OK);
    assert_int_equal(e.kind, kind);
}

static void test_memory_accounting(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_memory_usage u0 = usage(rt), u1;
    rk_memory_limits lim = {0, 0, 0};

    assert_int_equal(u0.payload_bytes, 0);
    assert_int_equal(u0.state_bytes, 0);
    assert_int_equal(u0.queue_bytes, rk_ring_bytes(4096, 256));
    assert_int_equal(u0.host_high_water, 0);
    assert_int_equal(u0.alarm, 0);
    launch(rt, "a", 64);
    u1 = usage(rt);
    assert_int_equal(u1.queue_bytes - u0.queue_bytes, rk_ring_bytes(64, 256));
    assert_int_equal(u1.state_bytes, 2 * sizeof(sink_state));
    assert_int_equal(u1.device_used, 0); /* the CPU backend has no device pool */

    lim.host_high_water = 100;
    lim.host_low_water = 200;
    assert_int_equal(rk_memory_set_limits(rt, &lim), RK_EINVAL);
    assert_int_equal(rk_memory_set_limits(rt, NULL), RK_EINVAL);
    assert_int_equal(rk_memory_set_limits(NULL, &lim), RK_EINVAL);
    assert_int_equal(rk_memory_usage_get(rt, NULL), RK_EINVAL);
}

static void test_memory_pressure(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_actor_id a = launch(rt, "a", 64), b;
    rk_event_sub_options so;
    rk_event_sub *sub;
    rk_memory_limits lim = {0, 0, 0};
    unsigned char *big = malloc(BIG);
    uint32_t v = 0;
    rk_memory_usage u;
    uint64_t base;

    assert_non_null(big);
    for (uint32_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)i;
    rk_event_sub_options_init(&so);
    so.kinds = RK_EVENT_MASK(RK_EVENT_PRESSURE) | RK_EVENT_MASK(RK_EVENT_PRESSURE_CLEAR);
    assert_int_equal(rk_event_subscribe(rt, &so, &sub), RK_OK);

    base = usage(rt).host_bytes;
    lim.host_high_water = base + 4 * BIG; /* room for four payloads */
    lim.host_low_water = base + BIG / 2;  /* clears once all are freed */
    assert_int_equal(rk_memory_set_limits(rt, &lim), RK_OK);
    assert_int_equal(rk_send(rt, a, T_HOLD, &v, sizeof v), RK_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rk_send(rt, a, T_BIG, big, BIG), RK_OK);
    assert_int_equal(rk_send(rt, a, T_BIG, big, BIG), RK_EPRESSURE);
    assert_int_equal(send_data(rt, a, 0, 0), RK_OK); /* inline: no new memory */
    assert_int_equal(try_launch(rt, "b", 64, &b), RK_EPRESSURE);
    u = usage(rt);
    assert_int_equal(u.payload_bytes, 4 * BIG);
    assert_int_equal(u.refused, 2);
    assert_int_equal(u.alarm, 1);
    assert_int_equal(u.host_high_water, lim.host_high_water);
    assert_int_equal(u.host_low_water, lim.host_low_water);
    expect_event(sub, RK_EVENT_PRESSURE); /* raised once for both refusals */

    atomic_store(&g_gate, 1); /* the handler frees the payloads */
    assert_true(wait_delivered(6));
    expect_event(sub, RK_EVENT_PRESSURE_CLEAR);
    wait_payloads_freed(rt);
    u = usage(rt);
    assert_int_equal(u.payload_bytes, 0);
    assert_int_equal(u.alarm, 0);
    assert_int_equal(rk_send(rt, a, T_BIG, big, BIG), RK_OK);
    b = launch(rt, "b", 64);
    assert_true(wait_delivered(7));
    assert_int_equal(atomic_load(&g_bad_payload), 0);
    /* Else the mark below would count a payload about to go away. */
    wait_payloads_freed(rt);
    assert_int_equal(usage(rt).payload_bytes, 0);

    /* Lowering the mark under what is held refuses the next big send. */
    lim.host_high_water = usage(rt).host_bytes;
    lim.host_low_water = 0; /* 7/8 of the high mark */
    assert_int_equal(rk_memory_set_limits(rt, &lim), RK_OK);
    assert_int_equal(usage(rt).host_low_water, lim.host_high_water - lim.host_high_water / 8);
    assert_int_equal(rk_send(rt, b, T_BIG, big, BIG), RK_EPRESSURE);
    expect_event(sub, RK_EVENT_PRESSURE);
    lim.host_high_water = 0; /* no limit: the alarm clears */
    assert_int_equal(rk_memory_set_limits(rt, &lim), RK_OK);
    expect_event(sub, RK_EVENT_PRESSURE_CLEAR);
    assert_int_equal(rk_send(rt, b, T_BIG, big, BIG), RK_OK);
    assert_int_equal(rk_event_dropped(sub), 0);
    rk_event_unsubscribe(sub);
    free(big);
}

/* ---- rk_send_batch ------------------------------------------------------------------------ */

static void data_batch(data_msg *d, uint32_t n, uint64_t first)
{
    for (uint32_t i = 0; i < n; i++) {
        d[i].producer = 0;
        d[i].pad_ = 0;
        d[i].seq = first + i;
    }
}

/* Batches arrive whole and in order; a batch larger than the room left is
 * cut at the first message that does not fit (RK_EFULL, *sent says how
 * many), and the rest goes out once the actor has made room. */
static void test_batch_order_and_full_queue(void **state)
{
    enum { CAP = 16, TOTAL = 5000 };
    rk_runtime *rt = start(state, 0);
    rk_actor_id id = launch(rt, "sink", CAP);
    static data_msg d[TOTAL];
    uint32_t v = 0, sent = 99, done = 0;
    uint64_t deadline;
    data_batch(d, TOTAL, 0);
    /* Held: HOLD occupies its slot until the gate opens. */
    assert_int_equal(rk_send(rt, id, T_HOLD, &v, sizeof v), RK_OK);
    assert_int_equal(rk_send_batch(rt, id, T_DATA, d, sizeof *d, 40, &sent), RK_EFULL);
    assert_int_equal(sent, CAP - 1);
    assert_int_equal(credits(rt, id), 0);
    assert_int_equal(rk_send_batch(rt, id, T_DATA, d + sent, sizeof *d, 1, &v), RK_EFULL);
    assert_int_equal(v, 0);
    done = sent;
    atomic_store(&g_gate, 1);
    /* The rest in batches of 100, resent from where each stopped. */
    deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (done < TOTAL) {
        uint32_t want = TOTAL - done < 100 ? TOTAL - done : 100;
        rk_status st = rk_send_batch(rt, id, T_DATA, d + done, sizeof *d, want, &sent);
        assert_true(st == RK_OK || st == RK_EFULL);
        assert_true(st == RK_OK ? sent == want : sent < want);
        done += sent;
        if (st == RK_EFULL)
            rk_test_sleep_ns(50000);
        assert_true(rk_test_now_ns() < deadline);
    }
    assert_true(wait_delivered(TOTAL + 1));
    assert_int_equal(atomic_load(&g_order_errors), 0);
    assert_int_equal(atomic_load(&g_delivered), TOTAL + 1);
}

/* Bad arguments and refusals: nothing is sent and *sent is 0. */
static void test_batch_refusals(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_actor_id id = launch(rt, "sink", 64);
    data_msg d[4];
    uint32_t sent = 7;
    data_batch(d, 4, 0);
    assert_int_equal(rk_send_batch(NULL, id, T_DATA, d, sizeof *d, 4, &sent), RK_EINVAL);
    assert_int_equal(sent, 0);
    assert_int_equal(rk_send_batch(rt, id, T_DATA, NULL, sizeof *d, 4, &sent), RK_EINVAL);
    assert_int_equal(rk_send_batch(rt, RK_ACTOR_HOST, T_DATA, d, sizeof *d, 4, &sent), RK_EINVAL);
    assert_int_equal(rk_send_batch(rt, 5, T_DATA, d, sizeof *d, 4, &sent), RK_ENOACTOR);
    assert_int_equal(sent, 0);
    assert_int_equal(rk_send_batch(rt, id, RK_MSG_TYPE_SYSTEM, d, sizeof *d, 4, &sent), RK_EINVAL);
    assert_int_equal(sent, 0);
    sent = 7;
    assert_int_equal(rk_send_batch(rt, id, T_DATA, d, sizeof *d, 0, &sent), RK_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(rk_send_batch(rt, id, T_DATA, d, sizeof *d, 4, NULL), RK_OK);
    assert_true(wait_delivered(4));
    assert_int_equal(atomic_load(&g_order_errors), 0);
    /* Empty payloads: NULL will do. */
    assert_int_equal(rk_send_batch(rt, id, T_TOHOST, NULL, 0, 3, &sent), RK_OK);
    assert_int_equal(sent, 3);
    assert_true(wait_delivered(7));
    /* A stopped actor takes nothing. */
    assert_int_equal(rk_deactivate(rt, id), RK_OK);
    assert_int_equal(rk_send_batch(rt, id, T_DATA, d, sizeof *d, 4, &sent), RK_ESTATE);
    assert_int_equal(sent, 0);
}

/* The tenant's rate quota charges every message of a batch: a burst of 10
 * lets 10 of 50 through, and the refusal is RK_ERATE. */
static void test_batch_rate_quota(void **state)
{
    rk_runtime *rt = start(state, 0);
    rk_tenant_quota q;
    rk_tenant_metrics tm;
    rk_actor_id id;
    data_msg d[50];
    uint32_t sent = 0;
    rk_actor_options o;
    static const sink_state init;
    rk_actor_options_init(&o);
    o.name = "limited";
    o.type = &sink_type;
    o.tenant = 3;
    o.initial_state = &init;
    o.state_size = sizeof init;
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = 1; /* refills one a second: none during the test */
    q.burst = 10;
    assert_int_equal(rk_tenant_set_quota(rt, 3, &q), RK_OK);
    data_batch(d, 50, 0);
    assert_int_equal(rk_send_batch(rt, id, T_DATA, d, sizeof *d, 50, &sent), RK_ERATE);
    assert_true(sent >= 10 && sent <= 11); /* the burst, and one refill if a second passed */
    assert_true(wait_delivered(sent));
    assert_int_equal(atomic_load(&g_order_errors), 0);
    assert_int_equal(rk_tenant_metrics_get(rt, 3, &tm), RK_OK);
    assert_true(tm.refused_rate >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_credits_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctx_credits_and_host_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_wait_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_wait_succeeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_wait_other_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_wait_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_wait_backend_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credits_bound_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_accounting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_pressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_order_and_full_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_rate_quota, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
