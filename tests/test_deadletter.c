/* The dead-letter queue on the CPU backend, through the public API: it is
 * bounded by dead_letter_capacity, keeps the newest letters in the order
 * they died, counts every letter in rk_dead_letter_count and every one it
 * discarded in `dropped`, and stays consistent when threads dead-letter
 * while another pops.
 *
 * The letters are made by the runtime itself, in three deterministic ways:
 * - a handler held on the gate and then failing leaves the messages queued
 *   behind it in the Failed actor's inbox; those addressed to generation g
 *   are handled after rk_restart made it g + 1, and the worker
 *   dead-letters each with RK_ESTALE;
 * - at shutdown, what is left in a Failed actor's inbox is dead-lettered
 *   with RK_ESHUTDOWN (a Failed actor holds up no drain);
 * - a publish to a subscriber that is Draining is refused, and the
 *   publishing thread dead-letters the copy with RK_ESTATE.
 * The header keeps the correlation id, so each letter is known by its corr.
 * Handlers never use cmocka asserts (they run on worker threads); every
 * wait is bounded, so a bug fails a test instead of hanging it. */
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
#include "ringkernel/ringkernel.h"

#define SEC 1000000000ull
#define WAIT_LIMIT_NS (10 * SEC) /* for conditions the test polls */
#define GATE_LIMIT_NS (10 * SEC) /* a handler held on the gate gives up after this */
#define NO_DROPPED UINT64_MAX    /* what `dropped` holds until a pop writes it */

enum {
    T_HOLD = 1, /* wait for the gate, then fail: the actor leaves its inbox alone */
    T_MARK = 2, /* counted in g_handled; the tests expect these to die instead */
};

static atomic_int g_gate;    /* 1 lets a T_HOLD handler go on (and fail) */
static atomic_int g_entered; /* T_HOLD handlers that reached the gate */
static atomic_int g_handled; /* T_MARK messages a handler saw */

static rk_status d_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)ctx;
    (void)state;
    if (m->type == T_HOLD) {
        rk_test_gate_wait(&g_gate, &g_entered, GATE_LIMIT_NS);
        return RK_ENOTSUP;
    }
    atomic_fetch_add(&g_handled, 1);
    return RK_OK;
}

static const rk_actor_type d_type = {.name = "deadletter", .handle = d_handle};

/* ---- fixture and helpers -------------------------------------------------- */

typedef struct fx {
    rk_runtime *rt;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    atomic_store(&g_gate, 0);
    atomic_store(&g_entered, 0);
    atomic_store(&g_handled, 0);
    *state = f;
    return f ? 0 : -1;
}

/* Runs after a failed test as well: lets a held handler go and frees the
 * runtime, so one failure does not leave threads behind for the next test. */
static int teardown(void **state)
{
    fx *f = *state;
    atomic_store(&g_gate, 1);
    rk_runtime_destroy(f->rt);
    free(f);
    return 0;
}

static rk_runtime *start(fx *f, uint32_t dead_letter_capacity)
{
    rk_runtime_options o;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.dead_letter_capacity = dead_letter_capacity;
    assert_int_equal(rk_runtime_create(&f->rt, &o), RK_OK);
    assert_non_null(f->rt);
    return f->rt;
}

static rk_actor_id launch(rk_runtime *rt, const char *name)
{
    rk_actor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &d_type;
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    assert_int_not_equal(id, RK_ACTOR_NONE);
    return id;
}

static rk_actor_metrics metrics(rk_runtime *rt, rk_actor_id id)
{
    rk_actor_metrics m;
    assert_int_equal(rk_actor_metrics_get(rt, id, &m), RK_OK);
    return m;
}

/* A T_MARK known by `corr`, for generation `dst_gen` (0: any). */
static void send_mark(rk_runtime *rt, rk_actor_id id, uint32_t dst_gen, uint64_t corr)
{
    rk_msg h;
    memset(&h, 0, sizeof h);
    h.type = T_MARK;
    h.dst = id;
    h.dst_gen = dst_gen;
    h.corr = corr;
    h.len = sizeof corr;
    assert_int_equal(rk_send_msg(rt, &h, &corr), RK_OK);
}

/* Holds the actor's handler on a T_HOLD, queues n T_MARKs behind it (corr
 * first, first + 1, ...; generation dst_gen), then lets the handler fail:
 * the actor is Failed with the n still in its inbox. */
static void queue_behind_failure(rk_runtime *rt, rk_actor_id id, uint64_t first, uint32_t n, uint32_t dst_gen)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_lifecycle_state s = RK_ACTIVE;
    atomic_store(&g_gate, 0);
    atomic_store(&g_entered, 0);
    assert_int_equal(rk_send(rt, id, T_HOLD, NULL, 0), RK_OK);
    while (atomic_load(&g_entered) == 0) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(100000);
    }
    for (uint32_t i = 0; i < n; i++)
        send_mark(rt, id, dst_gen, first + i);
    atomic_store(&g_gate, 1);
    while (s != RK_FAILED) {
        assert_true(rk_test_now_ns() < deadline);
        rk_test_sleep_ns(100000);
        assert_int_equal(rk_actor_state(rt, id, &s), RK_OK);
    }
    /* The worker takes the failing T_HOLD off the inbox just after it
     * stores Failed: the depth comes down to n a moment later. */
    while (metrics(rt, id).queue_depth != n && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(metrics(rt, id).queue_depth, n);
}

static void wait_dead_count(rk_runtime *rt, uint64_t n)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (rk_dead_letter_count(rt) < n && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(rk_dead_letter_count(rt), n);
}

/* Pops exactly n letters: T_MARKs to `id` of generation dst_gen, corr
 * first, first + 1, ..., each for `reason`, with `dropped` reported every
 * time; then the queue is empty. */
static void expect_letters(rk_runtime *rt, rk_actor_id id, uint64_t first, uint32_t n, uint32_t dst_gen,
                           rk_status reason, uint64_t dropped)
{
    rk_dead_letter dl;
    uint64_t d;
    for (uint32_t i = 0; i < n; i++) {
        memset(&dl, 0, sizeof dl);
        d = NO_DROPPED;
        assert_int_equal(rk_dead_letter_pop(rt, &dl, &d), RK_OK);
        assert_int_equal(dl.hdr.corr, first + i);
        assert_int_equal(dl.reason, reason);
        assert_int_equal(dl.hdr.type, T_MARK);
        assert_int_equal(dl.hdr.src, RK_ACTOR_HOST);
        assert_int_equal(dl.hdr.dst, id);
        assert_int_equal(dl.hdr.dst_gen, dst_gen);
        assert_int_equal(dl.hdr.len, sizeof(uint64_t));
        assert_int_equal(d, dropped);
    }
    d = NO_DROPPED;
    assert_int_equal(rk_dead_letter_pop(rt, &dl, &d), RK_EEMPTY);
    assert_int_equal(d, dropped);
    assert_int_equal(rk_dead_letter_pop(rt, &dl, NULL), RK_EEMPTY);
}

/* ---- tests ------------------------------------------------------------------ */

/* Ten stale messages into a queue of four: all ten counted, the newest
 * four popped in order, six dropped. Then three more, fewer than the
 * capacity, across the ring's end: all three kept, nothing more dropped. */
static void overflow_keeps_newest(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, 4);
    rk_actor_id id = launch(rt, "victim");
    rk_dead_letter dl;
    uint64_t d = NO_DROPPED;

    assert_int_equal(rk_dead_letter_count(rt), 0);
    assert_int_equal(rk_dead_letter_pop(rt, &dl, &d), RK_EEMPTY);
    assert_int_equal(d, 0);

    queue_behind_failure(rt, id, 1, 10, 1);
    assert_int_equal(rk_dead_letter_count(rt), 0); /* failing dead-letters nothing */
    assert_int_equal(rk_restart(rt, id), RK_OK);
    assert_int_equal(metrics(rt, id).generation, 2);
    wait_dead_count(rt, 10);
    assert_int_equal(metrics(rt, id).dead_letters, 10);
    expect_letters(rt, id, 7, 4, 1, RK_ESTALE, 6);

    queue_behind_failure(rt, id, 11, 3, 2);
    assert_int_equal(rk_restart(rt, id), RK_OK);
    wait_dead_count(rt, 13);
    expect_letters(rt, id, 11, 3, 2, RK_ESTALE, 6);
    assert_int_equal(rk_dead_letter_count(rt), 13); /* popping does not uncount */
    assert_int_equal(atomic_load(&g_handled), 0);
}

/* Six messages left in a Failed actor's inbox at shutdown, into a queue of
 * four: the report and the count say six, the newest four pop, two dropped. */
static void shutdown_overflow(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, 4);
    rk_actor_id id = launch(rt, "victim");
    rk_shutdown_report rep;

    queue_behind_failure(rt, id, 1, 6, 0);
    assert_int_equal(rk_dead_letter_count(rt), 0);
    memset(&rep, 0xAB, sizeof rep);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.dead_lettered, 6);
    assert_int_equal(rep.actors_failed, 1);
    assert_int_equal(rep.timed_out, 0);
    assert_int_equal(rk_dead_letter_count(rt), 6);
    expect_letters(rt, id, 3, 4, 0, RK_ESHUTDOWN, 2);
    assert_int_equal(atomic_load(&g_handled), 0);
}

/* Launches a subscriber of every topic under "dl" and deactivates it: a
 * publish there is then refused (RK_ESTATE) and dead-lettered by the
 * publishing thread. */
static rk_actor_id refusing_subscriber(rk_runtime *rt)
{
    rk_actor_id id = launch(rt, "refuser");
    assert_int_equal(rk_subscribe(rt, id, "dl/**"), RK_OK);
    assert_int_equal(rk_deactivate(rt, id), RK_OK);
    return id;
}

static rk_status publish_mark(rk_runtime *rt, uint64_t corr, rk_publish_report *rep)
{
    rk_msg h;
    memset(&h, 0, sizeof h);
    h.type = T_MARK;
    h.corr = corr;
    h.len = sizeof corr;
    return rk_publish_msg(rt, "dl/x", &h, &corr, rep);
}

/* NULL runtime or out: RK_EINVAL, and nothing is taken; a capacity of 0
 * is refused at creation. */
static void bad_input(void **state)
{
    fx *f = *state;
    rk_runtime_options o;
    rk_runtime *bad = (rk_runtime *)&o; /* must be reset to NULL */
    rk_runtime *rt;
    rk_actor_id id;
    rk_publish_report rep;
    rk_dead_letter dl;
    uint64_t d;

    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.dead_letter_capacity = 0;
    assert_int_equal(rk_runtime_create(&bad, &o), RK_EINVAL);
    assert_null(bad);

    assert_int_equal(rk_dead_letter_pop(NULL, &dl, &d), RK_EINVAL);
    assert_int_equal(rk_dead_letter_pop(NULL, &dl, NULL), RK_EINVAL);
    assert_int_equal(rk_dead_letter_pop(NULL, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_dead_letter_count(NULL), 0);

    /* A refused pop takes nothing: the one letter is still there after. */
    rt = start(f, 4);
    id = refusing_subscriber(rt);
    assert_int_equal(rk_dead_letter_pop(rt, NULL, &d), RK_EINVAL);
    assert_int_equal(publish_mark(rt, 42, &rep), RK_ESTATE);
    assert_int_equal(rep.refused, 1);
    assert_int_equal(rk_dead_letter_pop(rt, NULL, &d), RK_EINVAL);
    assert_int_equal(rk_dead_letter_pop(rt, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_dead_letter_count(rt), 1);
    d = NO_DROPPED;
    assert_int_equal(rk_dead_letter_pop(rt, &dl, &d), RK_OK);
    assert_int_equal(dl.hdr.corr, 42);
    assert_int_equal(dl.hdr.dst, id);
    assert_int_equal(dl.reason, RK_ESTATE);
    assert_int_equal(d, 0);
    assert_int_equal(rk_dead_letter_pop(rt, &dl, &d), RK_EEMPTY);
}

/* ---- concurrency: producers dead-letter while one thread pops ------------------ */

#define PRODUCERS 4
#define PER_PRODUCER 2000u
#define CONC_CAPACITY 16

/* A letter's corr: its producer (1..PRODUCERS) above, its number below. */
static uint64_t corr_of(uint32_t who, uint32_t i)
{
    return ((uint64_t)(who + 1) << 32) | (i + 1);
}

typedef struct conc {
    rk_runtime *rt;
    rk_actor_id sub;
    atomic_int go, done;
    atomic_uint refused;      /* publishes that came back as one RK_ESTATE refusal */
    atomic_uint bad;          /* letters or publishes not as expected */
    atomic_ullong popped;     /* letters popped */
    uint32_t last[PRODUCERS]; /* popper only: each producer's latest number seen */
    uint64_t dropped_seen;    /* popper only: `dropped` at the latest pop */
} conc;

typedef struct producer {
    conc *c;
    uint32_t index;
} producer;

/* Whether the popper took a letter within WAIT_LIMIT_NS. */
static int wait_popped(conc *c)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (atomic_load(&c->popped) == 0) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(10000);
    }
    return 1;
}

/* Halfway, waits until the popper has taken a letter, so that popping
 * overlaps producing however the threads are scheduled. */
static void *producer_main(void *arg)
{
    producer *p = arg;
    conc *c = p->c;
    rk_publish_report rep;
    while (!atomic_load(&c->go))
        rk_test_sleep_ns(10000);
    for (uint32_t i = 0; i < PER_PRODUCER; i++) {
        if (i == PER_PRODUCER / 2 && !wait_popped(c))
            atomic_fetch_add(&c->bad, 1);
        rk_status st = publish_mark(c->rt, corr_of(p->index, i), &rep);
        if (st == RK_ESTATE && rep.refused == 1 && rep.delivered == 0)
            atomic_fetch_add(&c->refused, 1);
        else
            atomic_fetch_add(&c->bad, 1);
    }
    return NULL;
}

/* Checks one popped letter: the subscriber's, refused as Draining, from a
 * known producer, and after that producer's letters popped before it (the
 * queue keeps each producer's order, whatever it drops). */
static void check_popped(conc *c, const rk_dead_letter *dl, uint64_t dropped)
{
    uint64_t who = dl->hdr.corr >> 32;
    uint32_t i = (uint32_t)dl->hdr.corr;
    if (dl->reason != RK_ESTATE || dl->hdr.dst != c->sub || dl->hdr.type != T_MARK || who < 1 || who > PRODUCERS ||
        i <= c->last[who - 1] || dropped < c->dropped_seen)
        atomic_fetch_add(&c->bad, 1);
    else
        c->last[who - 1] = i;
    c->dropped_seen = dropped;
    atomic_fetch_add(&c->popped, 1);
}

static void *popper_main(void *arg)
{
    conc *c = arg;
    rk_dead_letter dl;
    uint64_t d;
    while (!atomic_load(&c->done)) {
        if (rk_dead_letter_pop(c->rt, &dl, &d) == RK_OK)
            check_popped(c, &dl, d);
    }
    return NULL;
}

/* Four threads dead-letter 2000 publishes each into a queue of 16 while a
 * fifth pops: every letter is popped, dropped or still queued, and the
 * count has them all. */
static void concurrent_producers_and_popper(void **state)
{
    fx *f = *state;
    conc c;
    producer p[PRODUCERS];
    pthread_t pt[PRODUCERS], popper;
    const uint64_t total = (uint64_t)PRODUCERS * PER_PRODUCER;
    rk_dead_letter dl;
    uint64_t d = NO_DROPPED, popped_live, queued = 0;

    memset(&c, 0, sizeof c);
    c.rt = start(f, CONC_CAPACITY);
    c.sub = refusing_subscriber(c.rt);
    assert_int_equal(pthread_create(&popper, NULL, popper_main, &c), 0);
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        p[i] = (producer){&c, i};
        assert_int_equal(pthread_create(&pt[i], NULL, producer_main, &p[i]), 0);
    }
    atomic_store(&c.go, 1);
    for (uint32_t i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_join(pt[i], NULL), 0);
    atomic_store(&c.done, 1);
    assert_int_equal(pthread_join(popper, NULL), 0);
    popped_live = atomic_load(&c.popped);

    /* What the popper left is still queued: at most the capacity. */
    while (rk_dead_letter_pop(c.rt, &dl, &d) == RK_OK) {
        check_popped(&c, &dl, d);
        queued++;
    }
    assert_int_equal(rk_dead_letter_pop(c.rt, &dl, &d), RK_EEMPTY);
    printf("%llu dead letters: %llu popped meanwhile, %llu dropped, %llu still queued\n",
           (unsigned long long)total, (unsigned long long)popped_live, (unsigned long long)d,
           (unsigned long long)queued);
    assert_int_equal(atomic_load(&c.bad), 0);
    assert_int_equal(atomic_load(&c.refused), total);
    assert_int_equal(rk_dead_letter_count(c.rt), total);
    assert_true(popped_live > 0);
    assert_true(queued <= CONC_CAPACITY);
    assert_int_equal(popped_live + d + queued, total);
    assert_int_equal(atomic_load(&g_handled), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(overflow_keeps_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_producers_and_popper, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
