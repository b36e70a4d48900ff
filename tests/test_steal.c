/* Work stealing on the CPU backend (cpu_backend.c: the run token).
 *
 * Four actors share one home worker (id % workers) of a runtime with four
 * workers, and each message costs ~20 us of work. The host streams numbered
 * messages into all four, 32 at a time to each in turn; each actor also forwards every message to the next
 * one (K2K), so handlers that run on a thief send too. Every handler checks:
 *   - no other thread is inside the same actor's handler (an exchange on a
 *     flag at entry and exit);
 *   - per sender, numbers arrive in order with none missing or twice;
 * and records which threads ran it. The host then asks each actor (rk_call)
 * for its counts.
 *
 *   - stealing on (the default): all counts exact, no overlap, no order
 *     fault, and at least one actor ran on two or more threads. That one is
 *     made certain: the second actor holds its worker at one message until
 *     another thread has run a hot actor (up to 5 s). Left to the scheduler,
 *     CI's loaded 2-core machine once ran the whole load on the home worker;
 *   - RK_CPU_STEAL=0: the same counts, and each actor ran on one thread.
 * While stealing, another thread checkpoints the four actors in turn: a
 * checkpoint holds an actor between two messages, whichever worker runs it.
 *
 * Both print the elapsed time; nothing is timed in an assertion. Every wait
 * has a deadline.
 *
 *   - a long handler: its worker starts no pass and cannot raise `help`;
 *     the host's call to another actor of that worker is answered by
 *     another worker while the handler still runs (stealing off: after);
 *   - a thief inside a long stolen handler: its own actors are taken by a
 *     third worker meanwhile. */
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
#include "ringkernel/snapshot.h"

#define WORKERS 4
#define HOT 4              /* actors on one home worker */
#define WORK_NS 20000ull   /* per message */
#define BURST 32           /* host messages sent to one actor at once */
#define MAX_THREADS 8
#define CALL_NS (30ull * 1000000000ull)

enum { T_HOST = 1, T_FWD = 2, T_REPORT = 3, T_SETUP = 4, T_HOLD_AT = 5 };

/* One actor holds its worker at one host message until another thread has
 * run one of the hot actors (or 5 s pass): so that a steal is certain, not
 * up to how the machine schedules the threads (see stolen). */
static atomic_int g_holding, g_other_ran;
static pthread_t g_holder;

typedef struct num {
    uint64_t seq;
} num;

typedef struct report {
    uint64_t from_host, from_peer;
    uint64_t order_faults, overlaps;
    uint32_t threads;
    uint32_t pad_;
} report;

typedef struct hot_state {
    rk_actor_id next;  /* where it forwards */
    uint64_t hold_at;  /* + 1: the host message it holds its worker at (0: none) */
    uint64_t want_host, want_peer;
    report r;
    pthread_t seen[MAX_THREADS];
    atomic_int inside;
} hot_state;

static void spin_ns(uint64_t ns)
{
    uint64_t end = rk_test_now_ns() + ns;
    while (rk_test_now_ns() < end)
        ;
}

static void saw_thread(hot_state *s)
{
    pthread_t me = pthread_self();
    for (uint32_t i = 0; i < s->r.threads; i++)
        if (pthread_equal(s->seen[i], me))
            return;
    if (s->r.threads < MAX_THREADS)
        s->seen[s->r.threads++] = me;
}

/* One numbered message from a sender: counted, and a fault unless it is
 * the one `want` expects (the next then follows it). */
static void count_in_order(uint64_t *want, uint64_t seq, uint64_t *count, uint64_t *faults)
{
    if (seq != *want)
        ++*faults;
    *want = seq + 1;
    ++*count;
}

static rk_status hot_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    hot_state *s = state;
    rk_status st = RK_OK;
    if (atomic_exchange(&s->inside, 1) != 0)
        s->r.overlaps++;
    saw_thread(s);
    if (atomic_load(&g_holding) && !pthread_equal(g_holder, pthread_self()))
        atomic_store(&g_other_ran, 1);
    switch (m->type) {
    case T_SETUP:
        s->next = *(const rk_actor_id *)rk_msg_payload(m);
        break;
    case T_HOLD_AT:
        s->hold_at = ((const num *)rk_msg_payload(m))->seq + 1;
        break;
    case T_HOST: {
        num n = *(const num *)rk_msg_payload(m);
        count_in_order(&s->want_host, n.seq, &s->r.from_host, &s->r.order_faults);
        spin_ns(WORK_NS);
        if (s->hold_at == n.seq + 1) {
            const uint64_t end = rk_test_now_ns() + 5000000000ull;
            g_holder = pthread_self();
            atomic_store(&g_holding, 1);
            while (!atomic_load(&g_other_ran) && rk_test_now_ns() < end)
                rk_test_sleep_ns(100000);
            atomic_store(&g_holding, 0);
        }
        st = rk_ctx_send(ctx, s->next, T_FWD, &n, sizeof n);
        break;
    }
    case T_FWD:
        count_in_order(&s->want_peer, ((const num *)rk_msg_payload(m))->seq, &s->r.from_peer, &s->r.order_faults);
        break;
    case T_REPORT:
        st = rk_reply(ctx, T_REPORT, &s->r, sizeof s->r);
        break;
    default:
        break;
    }
    atomic_store(&s->inside, 0);
    return st;
}

static const rk_actor_type hot_type = {.name = "hot", .handle = hot_handle};

/* Checkpoints the hot actors in turn until told to stop. */
typedef struct meddler {
    rk_runtime *rt;
    rk_actor_id *hot;
    atomic_int stop;
    uint64_t ok, failed;
    rk_status last;
} meddler;

static void *meddle(void *arg)
{
    meddler *md = arg;
    size_t cap = 1u << 20, len;
    void *buf = malloc(cap);
    for (uint32_t k = 0; buf && !atomic_load(&md->stop); k++) {
        rk_status st = rk_actor_checkpoint(md->rt, md->hot[k % HOT], RK_ACTOR_CHECKPOINT_FULL, buf, cap, &len, NULL);
        if (st == RK_OK)
            md->ok++;
        else {
            md->failed++;
            md->last = st;
        }
        rk_test_sleep_ns(200000);
    }
    free(buf);
    return NULL;
}

/* Runs the load (with `md`, checkpoints meanwhile; with `hold`, the second
 * actor holds its worker at its host message BURST + 8 until another thread
 * has run a hot actor); returns the elapsed ns and fills out[HOT]. */
static uint64_t run(uint64_t per_actor, report out[HOT], meddler *md, int hold)
{
    pthread_t th;
    rk_runtime *rt;
    rk_runtime_options o;
    rk_actor_options ao;
    rk_actor_id all[WORKERS * HOT], hot[HOT];
    uint32_t nhot = 0;
    uint64_t t0, t1;

    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = WORKERS;
    o.max_actors = WORKERS * HOT;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    rk_actor_options_init(&ao);
    ao.type = &hot_type;
    ao.state_size = sizeof(hot_state);
    ao.inbox_capacity = 4096; /* > per_actor: a forward never finds it full */
    for (uint32_t i = 0; i < WORKERS * HOT; i++) {
        char name[32];
        snprintf(name, sizeof name, "hot/%u", i);
        ao.name = name;
        assert_int_equal(rk_launch(rt, &ao, &all[i]), RK_OK);
        if (nhot < HOT && all[i] % WORKERS == all[0] % WORKERS)
            hot[nhot++] = all[i];
    }
    assert_int_equal(nhot, HOT);
    for (uint32_t i = 0; i < HOT; i++) {
        rk_actor_id next = hot[(i + 1) % HOT];
        assert_int_equal(rk_send_wait(rt, hot[i], T_SETUP, &next, sizeof next, CALL_NS), RK_OK);
    }
    atomic_store(&g_holding, 0);
    atomic_store(&g_other_ran, 0);
    if (hold && per_actor > BURST + 8) {
        /* In its second batch: the pass before saw all four busy. */
        num at = {BURST + 8};
        assert_int_equal(rk_send_wait(rt, hot[1], T_HOLD_AT, &at, sizeof at, CALL_NS), RK_OK);
    }
    if (md) {
        md->rt = rt;
        md->hot = hot;
        assert_int_equal(pthread_create(&th, NULL, meddle, md), 0);
    }
    t0 = rk_test_now_ns();
    /* Bursts of BURST numbers to each actor in turn, one rk_send_batch
     * each: the home worker then has several actors with waiting messages
     * however slowly this thread runs (it did not under TSan on a loaded
     * 2-core machine, sending one at a time, and nothing was stolen). */
    for (uint64_t k = 0; k < per_actor; k += BURST)
        for (uint32_t i = 0; i < HOT; i++) {
            num burst[BURST];
            uint32_t m = (uint32_t)(per_actor - k < BURST ? per_actor - k : BURST), sent = 0;
            for (uint32_t j = 0; j < m; j++)
                burst[j].seq = k + j;
            assert_int_equal(rk_send_batch(rt, hot[i], T_HOST, burst, sizeof burst[0], m, &sent), RK_OK);
            assert_int_equal(sent, m);
        }
    /* Done when every actor has its messages from the host and its peer. */
    for (uint32_t i = 0; i < HOT; i++) {
        uint64_t deadline = rk_test_now_ns() + CALL_NS;
        rk_msgbuf mb = {.data = &out[i], .capacity = sizeof out[i]};
        for (;;) {
            assert_int_equal(rk_call(rt, hot[i], T_REPORT, NULL, 0, &mb, CALL_NS), RK_OK);
            if ((out[i].from_host == per_actor && out[i].from_peer == per_actor) || rk_test_now_ns() > deadline)
                break;
            rk_test_sleep_ns(1000000);
        }
    }
    t1 = rk_test_now_ns();
    if (md) {
        atomic_store(&md->stop, 1);
        pthread_join(th, NULL);
    }
    rk_runtime_destroy(rt);
    return t1 - t0;
}

/* Host messages per actor: RK_STRESS_MESSAGES in all (default 2000). */
static uint64_t per_actor(void)
{
    const uint64_t n = rk_test_messages(2000) / HOT;
    return n ? (n < 1000 ? n : 1000) : 1; /* host and peer messages fit one inbox */
}

static void check_counts(const report r[HOT], uint64_t n)
{
    for (uint32_t i = 0; i < HOT; i++) {
        assert_int_equal(r[i].from_host, n);
        assert_int_equal(r[i].from_peer, n);
        assert_int_equal(r[i].order_faults, 0);
        assert_int_equal(r[i].overlaps, 0);
        assert_true(r[i].threads >= 1);
    }
}

static void stolen(void **state)
{
    report r[HOT];
    const uint64_t n = per_actor();
    uint32_t most = 0;
    uint64_t ns;
    meddler md = {0};
    (void)state;
    unsetenv("RK_CPU_STEAL");
    ns = run(n, r, &md, 1);
    check_counts(r, n);
    printf("checkpoints meanwhile: %llu, %llu refused (last %s)\n", (unsigned long long)md.ok,
           (unsigned long long)md.failed, md.failed ? rk_status_name(md.last) : "-");
    assert_true(md.ok > 0);
    assert_int_equal(md.failed, 0);
    for (uint32_t i = 0; i < HOT; i++)
        most = r[i].threads > most ? r[i].threads : most;
    printf("stealing on: %u actors on one home worker of %u, %llu messages each (+ as many forwarded), "
           "%.1f ms; threads per actor %u %u %u %u\n",
           HOT, WORKERS, (unsigned long long)n, (double)ns / 1e6, r[0].threads, r[1].threads, r[2].threads,
           r[3].threads);
    assert_true(most >= 2); /* someone other than the home worker ran one */
}

static void not_stolen(void **state)
{
    report r[HOT];
    const uint64_t n = per_actor();
    uint64_t ns;
    (void)state;
    setenv("RK_CPU_STEAL", "0", 1);
    ns = run(n, r, NULL, 0);
    unsetenv("RK_CPU_STEAL");
    check_counts(r, n);
    printf("stealing off: %.1f ms; threads per actor %u %u %u %u\n", (double)ns / 1e6, r[0].threads, r[1].threads,
           r[2].threads, r[3].threads);
    for (uint32_t i = 0; i < HOT; i++)
        assert_int_equal(r[i].threads, 1);
}

/* ---- a long handler: its worker cannot ask for help ---------------------------- */

enum { T_LONG = 10, T_PING = 11 };

/* Shared with the two actors' handlers. */
static atomic_int g_in_long;  /* 1 while the long handler runs */
static atomic_int g_pinged;   /* the other actor has been handled */
static uint64_t g_long_max_ns; /* the long handler's limit */

static rk_status long_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)ctx;
    (void)state;
    if (m->type == T_LONG) {
        /* Holds its worker until the other actor has run (a thief ran it),
         * or for g_long_max_ns. */
        const uint64_t end = rk_test_now_ns() + g_long_max_ns;
        atomic_store(&g_in_long, 1);
        while (!atomic_load(&g_pinged) && rk_test_now_ns() < end)
            rk_test_sleep_ns(100000);
        atomic_store(&g_in_long, 0);
        return RK_OK;
    }
    if (m->type == T_PING) {
        const int during = atomic_load(&g_in_long);
        atomic_store(&g_pinged, 1);
        return rk_reply(ctx, T_PING, &during, sizeof during);
    }
    return RK_OK;
}

static const rk_actor_type long_type = {.name = "long", .handle = long_handle};

/* Two actors on one home worker of two; the first's handler runs long;
 * the host then calls the second. Returns whether the second ran while the
 * first's handler was still running, i.e. on the other worker. */
static int ping_during_long_handler(uint64_t long_max_ns)
{
    rk_runtime *rt;
    rk_runtime_options o;
    rk_actor_options ao;
    rk_actor_id ids[4], a = RK_ACTOR_NONE, b = RK_ACTOR_NONE;
    int during = -1;
    rk_msgbuf mb = {.data = &during, .capacity = sizeof during};
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = 4;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    rk_actor_options_init(&ao);
    ao.type = &long_type;
    for (uint32_t i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "long/%u", i);
        ao.name = name;
        assert_int_equal(rk_launch(rt, &ao, &ids[i]), RK_OK);
        if (i && ids[i] % 2 == ids[0] % 2 && b == RK_ACTOR_NONE) {
            a = ids[0];
            b = ids[i];
        }
    }
    assert_true(a != RK_ACTOR_NONE && b != RK_ACTOR_NONE);
    atomic_store(&g_in_long, 0);
    atomic_store(&g_pinged, 0);
    g_long_max_ns = long_max_ns;
    assert_int_equal(rk_send(rt, a, T_LONG, NULL, 0), RK_OK);
    const uint64_t deadline = rk_test_now_ns() + CALL_NS;
    while (!atomic_load(&g_in_long) && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_true(atomic_load(&g_in_long));
    assert_int_equal(rk_call(rt, b, T_PING, NULL, 0, &mb, CALL_NS), RK_OK);
    assert_int_equal(mb.hdr.len, sizeof during);
    rk_runtime_destroy(rt);
    return during;
}

/* A worker inside one long handler starts no pass, so it never raises
 * `help`: thieves see that its batch count stays put for RK__STUCK_NS and
 * take its other actors anyway. Without that, the call below waits for the
 * long handler (up to 5 s); with it, the long handler ends as soon as the
 * other actor ran. */
static void long_handler(void **state)
{
    (void)state;
    unsetenv("RK_CPU_STEAL");
    assert_int_equal(ping_during_long_handler(5000000000ull), 1);
    setenv("RK_CPU_STEAL", "0", 1);
    assert_int_equal(ping_during_long_handler(200000000ull), 0); /* after it, on the home worker */
    unsetenv("RK_CPU_STEAL");
    printf("a long handler: its worker's other actor ran on another worker meanwhile (stealing off: after it)\n");
}

/* ---- a thief inside a long stolen handler ------------------------------------------ */

enum { T_HOLD = 12, T_ASK = 13 };

static atomic_int g_holds;  /* handlers inside T_HOLD now */
static atomic_int g_asked;  /* T_ASK handled */
static uint64_t g_hold_max_ns;

/* T_HOLD keeps its worker until both asks were answered, or for
 * g_hold_max_ns; T_ASK answers how many holds were running then. */
static rk_status hold_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)state;
    if (m->type == T_HOLD) {
        const uint64_t end = rk_test_now_ns() + g_hold_max_ns;
        atomic_fetch_add(&g_holds, 1);
        while (atomic_load(&g_asked) < 2 && rk_test_now_ns() < end)
            rk_test_sleep_ns(100000);
        atomic_fetch_sub(&g_holds, 1);
        return RK_OK;
    }
    if (m->type == T_ASK) {
        const int holds = atomic_load(&g_holds);
        atomic_fetch_add(&g_asked, 1);
        return rk_reply(ctx, T_ASK, &holds, sizeof holds);
    }
    return RK_OK;
}

static const rk_actor_type hold_type = {.name = "hold", .handle = hold_handle};

/* Three workers. Two actors of worker 0 each get a T_HOLD: worker 0 runs
 * the first, and a thief (worker 1 or 2) takes the second once worker 0 is
 * seen stuck. The host then calls one actor of worker 1 and one of worker
 * 2: the one whose home is the thief must be taken by the third worker
 * while both holds still run. Returns the smaller of the two answers (2:
 * both answered during both holds). */
static int asks_during_stolen_hold(uint64_t hold_max_ns)
{
    rk_runtime *rt;
    rk_runtime_options o;
    rk_actor_options ao;
    rk_actor_id ids[9], on[3][2];
    uint32_t have[3] = {0, 0, 0};
    int least = 3;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 3;
    o.max_actors = 9;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    rk_actor_options_init(&ao);
    ao.type = &hold_type;
    for (uint32_t i = 0; i < 9; i++) {
        char name[32];
        snprintf(name, sizeof name, "hold/%u", i);
        ao.name = name;
        assert_int_equal(rk_launch(rt, &ao, &ids[i]), RK_OK);
        if (have[ids[i] % 3] < 2)
            on[ids[i] % 3][have[ids[i] % 3]++] = ids[i];
    }
    assert_true(have[0] == 2 && have[1] >= 1 && have[2] >= 1);
    atomic_store(&g_holds, 0);
    atomic_store(&g_asked, 0);
    g_hold_max_ns = hold_max_ns;
    assert_int_equal(rk_send(rt, on[0][0], T_HOLD, NULL, 0), RK_OK);
    assert_int_equal(rk_send(rt, on[0][1], T_HOLD, NULL, 0), RK_OK);
    const uint64_t deadline = rk_test_now_ns() + CALL_NS;
    while (atomic_load(&g_holds) < 2 && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(atomic_load(&g_holds), 2); /* the second one was stolen */
    for (uint32_t k = 1; k <= 2; k++) {
        int holds = -1;
        rk_msgbuf mb = {.data = &holds, .capacity = sizeof holds};
        assert_int_equal(rk_call(rt, on[k][0], T_ASK, NULL, 0, &mb, CALL_NS), RK_OK);
        assert_int_equal(mb.hdr.len, sizeof holds);
        if (holds < least)
            least = holds;
    }
    rk_runtime_destroy(rt);
    return least;
}

/* A thief inside a stolen batch is a worker in a batch: when the stolen
 * handler runs long, the third worker takes the thief's own actor. Before
 * that, the thief's actor waited for the stolen handler (up to 5 s here). */
static void thief_in_long_handler(void **state)
{
    (void)state;
    unsetenv("RK_CPU_STEAL");
    assert_int_equal(asks_during_stolen_hold(5000000000ull), 2);
    printf("a thief inside a long stolen handler: its own actor ran on the third worker meanwhile\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stolen),
        cmocka_unit_test(not_stolen),
        cmocka_unit_test(long_handler),
        cmocka_unit_test(thief_in_long_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
