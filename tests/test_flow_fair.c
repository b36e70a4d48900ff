/* Fairness of rk_send_wait on the CPU backend: host threads waiting for
 * one full inbox get its freed slots first come, first served.
 *
 *   - order: waiters lined up one by one behind a held actor reach it in
 *     exactly that order;
 *   - contention: six threads send to one slow actor with a small inbox;
 *     every thread finishes far inside its timeout, the threads' counts of
 *     handled messages never drift apart, and no message is overtaken by
 *     one whose send started clearly later (in one of three rounds: a
 *     sender the scheduler holds up breaks the bounds too);
 *   - a waiter that times out, at the head of the line or inside it, holds
 *     up nobody behind it; a call with timeout 0 does not queue;
 *   - shutdown lets every waiting thread go with RK_ESHUTDOWN.
 *
 * The handler logs each message it takes (one actor, so one worker thread
 * writes the log); the sending threads keep their own counts; only the test
 * thread asserts. Every wait is bounded. The measurements are printed. */
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

#include "core/runtime_internal.h"
#include "rk_test.h"
#include "ringkernel/ringkernel.h"

#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull
#define WAIT_LIMIT_NS (10 * SEC)
#define GATE_LIMIT_NS (10 * SEC)
#define INBOX 4
#define SENDERS 6
#define MAX_LOG 4096
#define FILLER 99 /* the sender id of the messages that fill the inbox */
#define SPREAD_MAX SENDERS /* see test_contention */
#define OVERTAKE_MAX_NS (10 * MS)
#define SHORT_NS (500 * MS) /* a timeout that leaves time to line up four senders on a loaded machine */

enum {
    T_HOLD = 1, /* wait for the gate (at most GATE_LIMIT_NS) */
    T_REC = 2,  /* rec_msg: log it, then take g_slow_ns */
};

typedef struct rec_msg {
    uint32_t sender;
    uint32_t pad_;
    uint64_t seq;
    uint64_t t_call; /* when the sender called rk_send_wait */
} rec_msg;

static rec_msg g_log[MAX_LOG]; /* written by the handler, read once g_logged says so */
static atomic_uint g_logged;
static atomic_int g_gate, g_gate_entered;
static atomic_ullong g_slow_ns;
static atomic_int g_handler_error;

static rk_status fair_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)ctx;
    (void)state;
    if (m->type == T_HOLD) {
        if (!rk_test_gate_wait(&g_gate, &g_gate_entered, GATE_LIMIT_NS))
            atomic_store(&g_handler_error, 1);
        return RK_OK;
    }
    if (m->len != sizeof(rec_msg) || atomic_load(&g_logged) >= MAX_LOG) {
        atomic_store(&g_handler_error, 1);
        return RK_OK;
    }
    memcpy(&g_log[atomic_load(&g_logged)], rk_msg_payload(m), sizeof(rec_msg));
    atomic_fetch_add(&g_logged, 1); /* publishes the entry */
    rk_test_sleep_ns(atomic_load(&g_slow_ns));
    return RK_OK;
}

static const rk_actor_type fair_type = {.name = "fair", .handle = fair_handle};

/* ---- fixture ------------------------------------------------------------------- */

typedef struct fx {
    rk_runtime *rt;
    rk_actor_id a;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    atomic_store(&g_logged, 0);
    atomic_store(&g_gate, 0);
    atomic_store(&g_gate_entered, 0);
    atomic_store(&g_slow_ns, 0);
    atomic_store(&g_handler_error, 0);
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

static void start(void **state, uint64_t drain_ns)
{
    fx *f = *state;
    rk_runtime_options o;
    rk_actor_options ao;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = 4;
    if (drain_ns)
        o.drain_timeout_ns = drain_ns;
    assert_int_equal(rk_runtime_create(&f->rt, &o), RK_OK);
    rk_actor_options_init(&ao);
    ao.name = "fair";
    ao.type = &fair_type;
    ao.inbox_capacity = INBOX;
    assert_int_equal(rk_launch(f->rt, &ao, &f->a), RK_OK);
}

/* Senders lined up for `a` now (the core's count; see rk_send_msg_wait). */
static uint32_t queued(rk_runtime *rt, rk_actor_id a)
{
    return __atomic_load_n(&rk__actor_get(rt, a)->line_len, __ATOMIC_ACQUIRE);
}

static int wait_queued(rk_runtime *rt, rk_actor_id a, uint32_t want)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (queued(rt, a) != want) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(100 * US);
    }
    return 1;
}

static int wait_logged(uint32_t want)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (atomic_load(&g_logged) < want) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(100 * US);
    }
    return 1;
}

/* Holds the actor in a T_HOLD handler (whose slot stays taken until the
 * worker's batch ends) and fills the rest of its inbox behind it. */
static void fill(rk_runtime *rt, rk_actor_id a)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rec_msg r = {FILLER, 0, 0, 0};
    assert_int_equal(rk_send(rt, a, T_HOLD, NULL, 0), RK_OK);
    while (!atomic_load(&g_gate_entered) && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100 * US);
    assert_int_equal(atomic_load(&g_gate_entered), 1);
    for (r.seq = 0; r.seq + 1 < INBOX; r.seq++)
        assert_int_equal(rk_send(rt, a, T_REC, &r, sizeof r), RK_OK);
    assert_int_equal(rk_send(rt, a, T_REC, &r, sizeof r), RK_EFULL);
}

/* ---- senders ---------------------------------------------------------------------- */

typedef struct sender {
    pthread_t thread;
    rk_runtime *rt;
    rk_actor_id dst;
    uint32_t id;
    uint64_t n;          /* messages to send */
    uint64_t timeout_ns; /* of each rk_send_wait */
    atomic_int *go;      /* NULL: start at once */
    atomic_ullong sent;  /* calls that returned RK_OK */
    _Atomic int status;  /* the first status other than RK_OK, else RK_OK */
    uint64_t worst_ns;   /* longest call; read after join */
    uint64_t last_ns;    /* the last call */
} sender;

static void *sender_main(void *arg)
{
    sender *s = arg;
    uint64_t limit = rk_test_now_ns() + GATE_LIMIT_NS;
    while (s->go && !atomic_load(s->go) && rk_test_now_ns() < limit)
        rk_test_sleep_ns(20 * US);
    for (uint64_t seq = 0; seq < s->n; seq++) {
        rec_msg r = {s->id, 0, seq, rk_test_now_ns()};
        rk_status st = rk_send_wait(s->rt, s->dst, T_REC, &r, sizeof r, s->timeout_ns);
        s->last_ns = rk_test_now_ns() - r.t_call;
        if (s->last_ns > s->worst_ns)
            s->worst_ns = s->last_ns;
        if (st != RK_OK) {
            atomic_store(&s->status, (int)st);
            break;
        }
        atomic_store(&s->sent, seq + 1);
    }
    return NULL;
}

static void sender_start(sender *s, rk_runtime *rt, rk_actor_id dst, uint32_t id, uint64_t n, uint64_t timeout_ns,
                         atomic_int *go)
{
    s->rt = rt;
    s->dst = dst;
    s->id = id;
    s->n = n;
    s->timeout_ns = timeout_ns;
    s->go = go;
    atomic_store(&s->sent, 0);
    atomic_store(&s->status, RK_OK);
    s->worst_ns = s->last_ns = 0;
    assert_int_equal(pthread_create(&s->thread, NULL, sender_main, s), 0);
}

/* Index of the first log entry from a sender (the fillers come first). */
static uint32_t first_sent(uint32_t logged)
{
    uint32_t i = 0;
    while (i < logged && g_log[i].sender == FILLER)
        i++;
    return i;
}

/* ---- order -------------------------------------------------------------------------- */

/* Six senders line up one at a time behind a held actor; once it runs,
 * their first messages arrive in the order they lined up. Each sends more
 * after that, going to the back of the line each time. */
static void test_fifo_order(void **state)
{
    enum { K = 20 };
    static sender s[SENDERS]; /* static: outlives a failed assertion */
    fx *f;
    uint32_t logged, base;

    start(state, 0);
    f = *state;
    fill(f->rt, f->a);
    for (uint32_t i = 0; i < SENDERS; i++) {
        sender_start(&s[i], f->rt, f->a, i, K, WAIT_LIMIT_NS, NULL);
        assert_true(wait_queued(f->rt, f->a, i + 1));
    }
    atomic_store(&g_gate, 1);
    for (uint32_t i = 0; i < SENDERS; i++) {
        pthread_join(s[i].thread, NULL);
        assert_int_equal(atomic_load(&s[i].status), RK_OK);
        assert_int_equal(atomic_load(&s[i].sent), K);
    }
    assert_true(wait_logged(INBOX - 1 + SENDERS * K));
    logged = atomic_load(&g_logged);
    base = first_sent(logged);
    assert_int_equal(base, INBOX - 1);
    for (uint32_t i = 0; i < SENDERS; i++) {
        assert_int_equal(g_log[base + i].sender, i);
        assert_int_equal(g_log[base + i].seq, 0);
    }
    assert_int_equal(atomic_load(&g_handler_error), 0);
    assert_int_equal(queued(f->rt, f->a), 0);
}

/* ---- contention ------------------------------------------------------------------------ */

typedef struct fairness {
    uint32_t spread;     /* most, minus fewest, handled of the senders since all were in line (see measure) */
    uint64_t overtake;   /* the most a message that arrived first had started after one still waiting */
    uint64_t inversions; /* messages that arrived after one that started later */
} fairness;

/* Walks the log in arrival order. The spread counts from the first point
 * where every sender has had a message through (before it, the sender
 * that came first may fill the empty inbox with nobody waiting) to the
 * first point where one has sent all it had; a sender that finished
 * before another had a message through makes it the whole count. */
static fairness measure(uint32_t n, uint64_t per_sender)
{
    enum { STARTING, ALL_IN } phase = STARTING;
    fairness r = {0, 0, 0};
    uint64_t count[SENDERS] = {0}, base[SENDERS] = {0}, latest = 0;
    int done = 0;
    for (uint32_t i = 0; i < n; i++) {
        const rec_msg *m = &g_log[i];
        uint64_t lo = UINT64_MAX, hi = 0;
        if (latest > m->t_call) {
            r.inversions++;
            if (latest - m->t_call > r.overtake)
                r.overtake = latest - m->t_call;
        } else {
            latest = m->t_call;
        }
        if (done)
            continue;
        done = ++count[m->sender] == per_sender;
        for (uint32_t k = 0; k < SENDERS; k++) {
            lo = count[k] - base[k] < lo ? count[k] - base[k] : lo;
            hi = count[k] - base[k] > hi ? count[k] - base[k] : hi;
        }
        if ((phase == ALL_IN || (done && lo == 0)) && hi - lo > r.spread)
            r.spread = (uint32_t)(hi - lo);
        if (phase == STARTING && lo > 0) {
            phase = ALL_IN;
            memcpy(base, count, sizeof base);
        }
    }
    return r;
}

/* Six threads keep a slow actor's small inbox full, each sending K messages
 * with rk_send_wait; what they saw is printed. Every send gets through far
 * inside its timeout; whether the fairness bounds held is returned. */
static int contention_round(fx *f, int round)
{
    enum { K = 150 };
    static sender s[SENDERS];
    static atomic_int go;
    uint64_t t0, elapsed, worst = 0;
    uint32_t logged;
    fairness r;

    atomic_store(&g_slow_ns, 100 * US);
    atomic_store(&go, 0);
    for (uint32_t i = 0; i < SENDERS; i++)
        sender_start(&s[i], f->rt, f->a, i, K, WAIT_LIMIT_NS, &go);
    t0 = rk_test_now_ns();
    atomic_store(&go, 1);
    for (uint32_t i = 0; i < SENDERS; i++)
        pthread_join(s[i].thread, NULL);
    elapsed = rk_test_now_ns() - t0;
    assert_true(wait_logged(SENDERS * K));
    logged = atomic_load(&g_logged);
    r = measure(logged, K);
    printf("round %d: %d senders x %d messages, inbox %d, handler %llu us: %.1f ms\n", round, SENDERS, K, INBOX,
           (unsigned long long)(atomic_load(&g_slow_ns) / US), (double)elapsed / MS);
    for (uint32_t i = 0; i < SENDERS; i++) {
        printf("  sender %u: %llu sent, worst wait %.2f ms\n", i, (unsigned long long)atomic_load(&s[i].sent),
               (double)s[i].worst_ns / MS);
        worst = s[i].worst_ns > worst ? s[i].worst_ns : worst;
    }
    printf("  spread %u messages, %llu inversions, most overtaken by %.3f ms\n", r.spread,
           (unsigned long long)r.inversions, (double)r.overtake / MS);
    for (uint32_t i = 0; i < SENDERS; i++) {
        assert_int_equal(atomic_load(&s[i].status), RK_OK);
        assert_int_equal(atomic_load(&s[i].sent), K);
    }
    assert_int_equal(logged, SENDERS * K);
    assert_int_equal(atomic_load(&g_handler_error), 0);
    assert_true(worst < WAIT_LIMIT_NS / 10);
    assert_int_equal(queued(f->rt, f->a), 0);
    return r.spread <= SPREAD_MAX && r.overtake < OVERTAKE_MAX_NS;
}

/* In line, each sender waits for the five ahead of it and then goes to the
 * back: the counts move in turn and differ by at most one. The spread's
 * bound allows a sender to lose up to a round of turns while it is not
 * waiting (held up by the scheduler between two calls). A later call gets
 * ahead of a waiting one only in the microseconds before the waiting one
 * has taken its place; the overtaking bound allows for a sender preempted
 * there. A wait without a line breaks both by far in this scenario: 50 to
 * 130 messages apart, overtaken by 14 to 50 ms. A sender preempted for
 * longer than the bound (a loaded machine: CI runs three builds' tests on
 * two cores) breaks it too, so the bounds must hold in one of three rounds,
 * each on a fresh runtime; a wait without a line fails all three. */
static void test_contention(void **state)
{
    fx *f;
    int round, held = 0;
    start(state, 0);
    f = *state;
    for (round = 1; round <= 3 && !held; round++) {
        if (round > 1) {
            rk_runtime_destroy(f->rt);
            f->rt = NULL;
            atomic_store(&g_logged, 0);
            start(state, 0);
        }
        held = contention_round(f, round);
    }
    assert_true(held);
}

/* ---- leaving the line ------------------------------------------------------------------ */

/* Line: short, long, short, long. Both short ones time out (the first at
 * the head of the line); the long ones then get through in their order. */
static void test_timeout_leaves_line(void **state)
{
    static sender s[4];
    static const uint64_t timeouts[4] = {SHORT_NS, WAIT_LIMIT_NS, SHORT_NS, WAIT_LIMIT_NS};
    fx *f;
    rec_msg r = {FILLER, 0, 0, 0};
    uint64_t t0;
    uint32_t base;

    start(state, 0);
    f = *state;
    fill(f->rt, f->a);
    for (uint32_t i = 0; i < 4; i++) {
        sender_start(&s[i], f->rt, f->a, i, 1, timeouts[i], NULL);
        assert_true(wait_queued(f->rt, f->a, i + 1));
    }
    /* A call that would not wait takes no place in the line. */
    t0 = rk_test_now_ns();
    assert_int_equal(rk_send_wait(f->rt, f->a, T_REC, &r, sizeof r, 0), RK_ETIMEDOUT);
    assert_true(rk_test_now_ns() - t0 < SEC);
    for (uint32_t i = 0; i < 4; i += 2) {
        pthread_join(s[i].thread, NULL);
        assert_int_equal(atomic_load(&s[i].status), RK_ETIMEDOUT);
        assert_true(s[i].last_ns >= timeouts[i]);
        assert_true(s[i].last_ns < timeouts[i] + 5 * SEC);
    }
    assert_true(wait_queued(f->rt, f->a, 2));
    t0 = rk_test_now_ns();
    atomic_store(&g_gate, 1);
    for (uint32_t i = 1; i < 4; i += 2) {
        pthread_join(s[i].thread, NULL);
        assert_int_equal(atomic_load(&s[i].status), RK_OK);
    }
    printf("after two waiters timed out, the two behind them got through %.2f ms after the slots freed\n",
           (double)(rk_test_now_ns() - t0) / MS);
    assert_true(rk_test_now_ns() - t0 < 5 * SEC);
    assert_true(wait_logged(INBOX - 1 + 2));
    base = first_sent(atomic_load(&g_logged));
    assert_int_equal(base, INBOX - 1);
    assert_int_equal(g_log[base].sender, 1);
    assert_int_equal(g_log[base + 1].sender, 3);
    assert_int_equal(queued(f->rt, f->a), 0);
}

static void *shutdown_main(void *arg)
{
    rk_runtime_shutdown(arg, NULL);
    return NULL;
}

/* Shutdown lets every waiting sender go, the head of the line and those
 * parked behind it alike. */
static void test_shutdown_releases_line(void **state)
{
    static sender s[SENDERS];
    fx *f;
    pthread_t sd;
    uint64_t t0, worst = 0;

    start(state, 100 * MS);
    f = *state;
    fill(f->rt, f->a);
    for (uint32_t i = 0; i < SENDERS; i++)
        sender_start(&s[i], f->rt, f->a, i, 1, 60 * SEC, NULL);
    assert_true(wait_queued(f->rt, f->a, SENDERS));
    t0 = rk_test_now_ns();
    assert_int_equal(pthread_create(&sd, NULL, shutdown_main, f->rt), 0);
    for (uint32_t i = 0; i < SENDERS; i++) {
        uint64_t waited;
        pthread_join(s[i].thread, NULL);
        waited = rk_test_now_ns() - t0;
        worst = waited > worst ? waited : worst;
        assert_int_equal(atomic_load(&s[i].status), RK_ESHUTDOWN);
    }
    printf("%d waiting senders let go within %.2f ms of shutdown\n", SENDERS, (double)worst / MS);
    assert_true(worst < 5 * SEC);
    atomic_store(&g_gate, 1); /* lets the drain finish */
    pthread_join(sd, NULL);
    assert_int_equal(queued(f->rt, f->a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fifo_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_leaves_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_releases_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
