/* Hybrid logical clock: packing, the tick and merge rules, the clock object
 * under a controlled physical clock, and many threads on one clock. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "core/runtime_internal.h" /* rk__hlc_now_n */
#include "ringkernel/hlc.h"
#include "rk_test.h"

#define PMAX RK_HLC_PHYSICAL_MAX
#define THREADS 4

/* A physical clock the test sets by hand; read from many threads. */
typedef struct fake_clock {
    uint64_t ms;
} fake_clock;

static uint64_t fake_read(void *arg)
{
    return __atomic_load_n(&((fake_clock *)arg)->ms, __ATOMIC_RELAXED);
}

static void fake_set(fake_clock *c, uint64_t ms)
{
    __atomic_store_n(&c->ms, ms, __ATOMIC_RELAXED);
}

static void init_fake(rk_hlc *h, fake_clock *c, uint64_t ms, uint64_t max_drift)
{
    c->ms = ms;
    assert_int_equal(rk_hlc_init(h, max_drift, fake_read, c), RK_OK);
}

static uint64_t now_ok(rk_hlc *h)
{
    uint64_t ts = 0;
    assert_int_equal(rk_hlc_now(h, &ts), RK_OK);
    return ts;
}

static uint64_t update_ok(rk_hlc *h, uint64_t remote)
{
    uint64_t ts = 0;
    assert_int_equal(rk_hlc_update(h, remote, &ts), RK_OK);
    return ts;
}

static uint64_t last_of(const rk_hlc *h)
{
    uint64_t ts = 0;
    assert_int_equal(rk_hlc_last(h, &ts), RK_OK);
    return ts;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- timestamps ---------------------------------------------------------- */

static void test_pack_roundtrip(void **state)
{
    static const uint64_t phys[] = {0, 1, 1000, 1700000000123ull, PMAX - 1, PMAX};
    static const uint16_t logical[] = {0, 1, 0x1234, 0xFFFE, 0xFFFF};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    size_t i, j;
    (void)state;
    for (i = 0; i < sizeof phys / sizeof phys[0]; i++) {
        for (j = 0; j < sizeof logical / sizeof logical[0]; j++) {
            uint64_t ts = rk_hlc_pack(phys[i], logical[j]);
            assert_int_equal(rk_hlc_physical(ts), phys[i]);
            assert_int_equal(rk_hlc_logical(ts), logical[j]);
        }
    }
    /* Layout: physical in the high 48 bits, logical in the low 16. */
    assert_int_equal(rk_hlc_pack(1, 0), 0x10000ull);
    assert_int_equal(rk_hlc_pack(0x123456789ABCull, 0xDEF0), 0x123456789ABCDEF0ull);
    assert_int_equal(rk_hlc_pack(PMAX, 0xFFFF), RK_HLC_MAX);
    /* Physical bits beyond 48 are dropped, not smeared into the counter. */
    assert_int_equal(rk_hlc_pack((1ull << 48) + 5, 7), rk_hlc_pack(5, 7));
    for (i = 0; i < 100000; i++) {
        uint64_t ts = xorshift(&seed);
        assert_int_equal(rk_hlc_pack(rk_hlc_physical(ts), rk_hlc_logical(ts)), ts);
    }
}

static int lexicographic(uint64_t pa, uint16_t la, uint64_t pb, uint16_t lb)
{
    if (pa != pb)
        return pa < pb ? -1 : 1;
    if (la != lb)
        return la < lb ? -1 : 1;
    return 0;
}

static void test_pack_ordering(void **state)
{
    uint64_t seed = 12345;
    int i;
    (void)state;
    for (i = 0; i < 200000; i++) {
        /* A narrow physical range half the time, so ties on the physical
         * part are common and the counter decides. */
        uint64_t range = (i & 1) ? 4 : PMAX + 1;
        uint64_t pa = xorshift(&seed) % range, pb = xorshift(&seed) % range;
        uint16_t la = (uint16_t)xorshift(&seed), lb = (uint16_t)xorshift(&seed);
        uint64_t a = rk_hlc_pack(pa, la), b = rk_hlc_pack(pb, lb);
        int want = lexicographic(pa, la, pb, lb);
        assert_int_equal(rk_hlc_compare(a, b), want);
        assert_int_equal(rk_hlc_compare(b, a), -want);
        assert_int_equal(rk_hlc_compare(a, a), 0);
        assert_int_equal(a < b ? -1 : a > b ? 1 : 0, want);
    }
    assert_int_equal(rk_hlc_compare(0, RK_HLC_MAX), -1);
    assert_int_equal(rk_hlc_compare(RK_HLC_MAX, 0), 1);
    assert_int_equal(rk_hlc_compare(rk_hlc_pack(7, 0xFFFF), rk_hlc_pack(8, 0)), -1);
}

static void test_tick_merge_rules(void **state)
{
    (void)state;
    assert_int_equal(rk_hlc_tick(0, 1000), rk_hlc_pack(1000, 0));
    assert_int_equal(rk_hlc_tick(rk_hlc_pack(10, 5), 9), rk_hlc_pack(10, 6));
    assert_int_equal(rk_hlc_tick(rk_hlc_pack(10, 5), 10), rk_hlc_pack(10, 6));
    assert_int_equal(rk_hlc_tick(rk_hlc_pack(10, 5), 11), rk_hlc_pack(11, 0));
    assert_int_equal(rk_hlc_tick(rk_hlc_pack(10, 0xFFFF), 10), rk_hlc_pack(11, 0));
    assert_int_equal(rk_hlc_tick(rk_hlc_pack(10, 0xFFFF), 3), rk_hlc_pack(11, 0));
    /* A reading past 48 bits saturates instead of wrapping to 1970. */
    assert_int_equal(rk_hlc_tick(0, UINT64_MAX), rk_hlc_pack(PMAX, 0));
    assert_int_equal(rk_hlc_tick(rk_hlc_pack(5, 0), (1ull << 48) + 1), rk_hlc_pack(PMAX, 0));

    assert_int_equal(rk_hlc_merge(rk_hlc_pack(10, 5), rk_hlc_pack(12, 3), 11), rk_hlc_pack(12, 4));
    assert_int_equal(rk_hlc_merge(rk_hlc_pack(12, 3), rk_hlc_pack(10, 5), 11), rk_hlc_pack(12, 4));
    assert_int_equal(rk_hlc_merge(rk_hlc_pack(10, 5), rk_hlc_pack(10, 9), 10), rk_hlc_pack(10, 10));
    assert_int_equal(rk_hlc_merge(rk_hlc_pack(10, 9), rk_hlc_pack(10, 5), 10), rk_hlc_pack(10, 10));
    assert_int_equal(rk_hlc_merge(rk_hlc_pack(10, 5), rk_hlc_pack(10, 5), 9), rk_hlc_pack(10, 6));
    assert_int_equal(rk_hlc_merge(rk_hlc_pack(10, 5), rk_hlc_pack(11, 5), 20), rk_hlc_pack(20, 0));
    assert_int_equal(rk_hlc_merge(rk_hlc_pack(10, 1), rk_hlc_pack(10, 0xFFFF), 10), rk_hlc_pack(11, 0));
}

/* ---- the clock object ---------------------------------------------------- */

static void test_now_realtime(void **state)
{
    struct timespec t;
    uint64_t before, after, ts;
    rk_hlc h;
    (void)state;
    assert_int_equal(rk_hlc_init(&h, 1000, NULL, NULL), RK_OK);
    clock_gettime(CLOCK_REALTIME, &t);
    before = (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
    ts = now_ok(&h);
    clock_gettime(CLOCK_REALTIME, &t);
    after = (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
    assert_in_range(rk_hlc_physical(ts), before, after);
    assert_true(now_ok(&h) > ts);
}

static void test_zero_filled_clock_is_realtime(void **state)
{
    rk_hlc h = {0};
    uint64_t a, b;
    (void)state;
    a = now_ok(&h);
    b = now_ok(&h);
    assert_true(rk_hlc_physical(a) > 1600000000000ull); /* after 2020 */
    assert_true(b > a);
}

static void test_now_physical_backwards(void **state)
{
    fake_clock c;
    rk_hlc h;
    (void)state;
    init_fake(&h, &c, 1000, 100);
    assert_int_equal(last_of(&h), 0);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 0));
    fake_set(&c, 900);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 1));
    fake_set(&c, 0);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 2));
    fake_set(&c, 1000);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 3));
    fake_set(&c, 1001);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1001, 0));
    fake_set(&c, 999);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1001, 1));
    assert_int_equal(last_of(&h), rk_hlc_pack(1001, 1));
}

static void test_now_standstill_overflow(void **state)
{
    fake_clock c;
    rk_hlc h;
    uint32_t i;
    (void)state;
    init_fake(&h, &c, 5000, 100);
    assert_int_equal(now_ok(&h), rk_hlc_pack(5000, 0));
    for (i = 1; i <= RK_HLC_LOGICAL_MAX; i++)
        assert_int_equal(now_ok(&h), rk_hlc_pack(5000, (uint16_t)i));
    /* The counter is full: the physical part moves ahead of the clock. */
    assert_int_equal(now_ok(&h), rk_hlc_pack(5001, 0));
    assert_int_equal(now_ok(&h), rk_hlc_pack(5001, 1));
    fake_set(&c, 5001);
    assert_int_equal(now_ok(&h), rk_hlc_pack(5001, 2));
    fake_set(&c, 6000);
    assert_int_equal(now_ok(&h), rk_hlc_pack(6000, 0));
}

static void test_update_remote_ahead(void **state)
{
    fake_clock c;
    rk_hlc h;
    (void)state;
    init_fake(&h, &c, 1000, 100);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 0));
    assert_int_equal(update_ok(&h, rk_hlc_pack(1050, 7)), rk_hlc_pack(1050, 8));
    assert_int_equal(last_of(&h), rk_hlc_pack(1050, 8));
    /* Later local events stay after the remote even though the physical
     * clock has not caught up with it. */
    assert_int_equal(now_ok(&h), rk_hlc_pack(1050, 9));
    fake_set(&c, 1060);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1060, 0));
}

static void test_update_remote_behind(void **state)
{
    fake_clock c;
    rk_hlc h;
    (void)state;
    init_fake(&h, &c, 1000, 100);
    now_ok(&h);
    now_ok(&h);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 2));
    assert_int_equal(update_ok(&h, rk_hlc_pack(900, 50)), rk_hlc_pack(1000, 3));
    /* Both behind the physical clock: the physical clock wins. */
    fake_set(&c, 2000);
    assert_int_equal(update_ok(&h, rk_hlc_pack(1500, 2)), rk_hlc_pack(2000, 0));
    assert_int_equal(last_of(&h), rk_hlc_pack(2000, 0));
}

static void test_update_remote_equal(void **state)
{
    fake_clock c;
    rk_hlc h;
    (void)state;
    init_fake(&h, &c, 1000, 100);
    now_ok(&h);
    now_ok(&h);
    now_ok(&h);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 3));
    /* Same physical part: the larger counter plus one. */
    assert_int_equal(update_ok(&h, rk_hlc_pack(1000, 9)), rk_hlc_pack(1000, 10));
    assert_int_equal(update_ok(&h, rk_hlc_pack(1000, 1)), rk_hlc_pack(1000, 11));
    /* Exactly the local timestamp. */
    assert_int_equal(update_ok(&h, rk_hlc_pack(1000, 11)), rk_hlc_pack(1000, 12));
    /* A full remote counter carries. */
    assert_int_equal(update_ok(&h, rk_hlc_pack(1000, 0xFFFF)), rk_hlc_pack(1001, 0));
}

static void test_drift_rejected(void **state)
{
    fake_clock c;
    rk_hlc h;
    uint64_t ts = 42;
    (void)state;
    init_fake(&h, &c, 1000, 100);
    now_ok(&h);
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 1));

    assert_int_equal(rk_hlc_update(&h, rk_hlc_pack(1101, 0), &ts), RK_EDRIFT);
    assert_int_equal(ts, 42);
    assert_int_equal(last_of(&h), rk_hlc_pack(1000, 1));
    assert_int_equal(rk_hlc_update(&h, rk_hlc_pack(PMAX, 0), &ts), RK_EDRIFT);
    assert_int_equal(last_of(&h), rk_hlc_pack(1000, 1));
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 2)); /* nothing leaked in */

    /* Exactly max_drift ahead is accepted. */
    assert_int_equal(update_ok(&h, rk_hlc_pack(1100, 3)), rk_hlc_pack(1100, 4));

    /* Drift is measured against the physical clock, not against the HLC:
     * a remote behind this clock's last timestamp but far ahead of its
     * physical reading is still refused. */
    fake_set(&c, 500);
    assert_int_equal(rk_hlc_update(&h, rk_hlc_pack(700, 0), &ts), RK_EDRIFT);
    assert_int_equal(last_of(&h), rk_hlc_pack(1100, 4));
    assert_int_equal(update_ok(&h, rk_hlc_pack(600, 0)), rk_hlc_pack(1100, 5));
}

static void test_drift_limits(void **state)
{
    fake_clock c;
    rk_hlc h;
    uint64_t ts;
    (void)state;
    init_fake(&h, &c, 1000, 0);
    assert_int_equal(rk_hlc_update(&h, rk_hlc_pack(1001, 0), &ts), RK_EDRIFT);
    assert_int_equal(last_of(&h), 0);
    assert_int_equal(update_ok(&h, rk_hlc_pack(1000, 5)), rk_hlc_pack(1000, 6));

    init_fake(&h, &c, 1000, RK_HLC_NO_DRIFT_LIMIT);
    assert_int_equal(update_ok(&h, rk_hlc_pack(PMAX - 1, 0)), rk_hlc_pack(PMAX - 1, 1));
}

static void test_exhausted_clock(void **state)
{
    fake_clock c;
    rk_hlc h;
    uint64_t ts = 42;
    (void)state;
    init_fake(&h, &c, UINT64_MAX, RK_HLC_NO_DRIFT_LIMIT);
    assert_int_equal(now_ok(&h), rk_hlc_pack(PMAX, 0));

    assert_int_equal(rk_hlc_update(&h, RK_HLC_MAX, &ts), RK_EDRIFT);
    assert_int_equal(last_of(&h), rk_hlc_pack(PMAX, 0));
    assert_int_equal(update_ok(&h, RK_HLC_MAX - 1), RK_HLC_MAX);
    /* No later timestamp exists: refuse rather than wrap to 0. */
    assert_int_equal(rk_hlc_now(&h, &ts), RK_EDRIFT);
    assert_int_equal(rk_hlc_update(&h, 5, &ts), RK_EDRIFT);
    assert_int_equal(ts, 42);
    assert_int_equal(last_of(&h), RK_HLC_MAX);
}

/* Messages go round A -> B -> C -> A while the three physical clocks are
 * skewed against each other and jitter around a common time, so each of them
 * now and then stands still or steps back. Each hop is a send (now) on one
 * clock and a receive (update) on the next, so the chain is a happens-before
 * path and its timestamps must strictly increase. */
static void test_causality_chain(void **state)
{
    static const int64_t skew[3] = {0, -10, 20}; /* ms; 36 apart at most with jitter */
    fake_clock c[3];
    rk_hlc h[3];
    uint64_t true_ms = 100000, prev = 0, max_phys = 0, seed = 777;
    int round, k;
    (void)state;
    for (k = 0; k < 3; k++)
        init_fake(&h[k], &c[k], true_ms, 50);
    for (round = 0; round < 3000; round++) {
        int from = round % 3, to = (round + 1) % 3;
        uint64_t sent, recv, before;
        true_ms += xorshift(&seed) % 3;
        for (k = 0; k < 3; k++) {
            int64_t jitter = (int64_t)(xorshift(&seed) % 7) - 3;
            fake_set(&c[k], (uint64_t)((int64_t)true_ms + skew[k] + jitter));
            if (fake_read(&c[k]) > max_phys)
                max_phys = fake_read(&c[k]);
        }
        if (xorshift(&seed) % 2)
            assert_true(now_ok(&h[from]) > prev); /* a local event on the path */
        sent = now_ok(&h[from]);
        assert_true(sent > prev);
        before = last_of(&h[to]);
        recv = update_ok(&h[to], sent);
        assert_true(recv > sent);
        assert_true(recv > before);
        prev = recv;
        /* HLC keeps the physical part at the largest physical reading seen
         * (no counter overflows at this rate), never beyond it. */
        assert_true(rk_hlc_physical(recv) <= max_phys);
    }
    /* The clock that runs behind was pulled forward by what it received. */
    assert_true(rk_hlc_physical(last_of(&h[1])) > fake_read(&c[1]));
}

static void test_null_args(void **state)
{
    fake_clock c;
    rk_hlc h;
    uint64_t ts = 42;
    (void)state;
    assert_int_equal(rk_hlc_init(NULL, 100, fake_read, &c), RK_EINVAL);
    init_fake(&h, &c, 1000, 100);
    assert_int_equal(rk_hlc_now(NULL, &ts), RK_EINVAL);
    assert_int_equal(rk_hlc_now(&h, NULL), RK_EINVAL);
    assert_int_equal(rk_hlc_update(NULL, rk_hlc_pack(1000, 0), &ts), RK_EINVAL);
    assert_int_equal(rk_hlc_update(&h, rk_hlc_pack(1000, 0), NULL), RK_EINVAL);
    assert_int_equal(rk_hlc_last(NULL, &ts), RK_EINVAL);
    assert_int_equal(rk_hlc_last(&h, NULL), RK_EINVAL);
    assert_int_equal(ts, 42);
    assert_int_equal(last_of(&h), 0); /* none of the above touched it */
}

/* ---- many threads on one clock -------------------------------------------- */

typedef struct worker {
    rk_hlc *hlc;
    pthread_barrier_t *start;
    uint64_t *out;
    uint64_t n;
    int updater;       /* receive events instead of local ones */
    uint64_t base_ms;  /* updater: remotes are near this physical time */
    uint64_t failures; /* calls that did not return RK_OK, or broke causality */
    int batcher;       /* takes runs of 1..7 stamps at once (rk__hlc_now_n, rk_send_batch's) */
} worker;

/* cmocka's asserts must stay on the main thread; workers count failures. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t i;
    pthread_barrier_wait(w->start);
    for (i = 0; i < w->n; i++) {
        uint64_t ts = 0;
        if (w->batcher) {
            uint32_t k = (uint32_t)(1 + i % 7), j;
            if (k > w->n - i)
                k = (uint32_t)(w->n - i);
            if (rk__hlc_now_n(w->hlc, k, &ts) != RK_OK)
                w->failures++;
            for (j = 0; j < k; j++)
                w->out[i + j] = ts + j;
            i += k - 1;
            continue;
        }
        if (w->updater) {
            uint64_t remote = rk_hlc_pack(w->base_ms + i % 64, (uint16_t)i);
            if (rk_hlc_update(w->hlc, remote, &ts) != RK_OK || ts <= remote)
                w->failures++;
        } else if (rk_hlc_now(w->hlc, &ts) != RK_OK) {
            w->failures++;
        }
        w->out[i] = ts;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Runs THREADS workers (the first `updaters` of them receive, the last
 * `batchers` take runs of stamps) and checks that
 * each thread's timestamps strictly increase and that all are distinct.
 * Returns every timestamp, sorted; the caller frees it. */
static uint64_t *run_workers(rk_hlc *h, uint64_t n, int updaters, uint64_t base_ms, int batchers)
{
    pthread_t tid[THREADS];
    worker w[THREADS];
    pthread_barrier_t start;
    uint64_t *all = malloc(THREADS * n * sizeof *all);
    uint64_t i, last;
    int t;
    assert_non_null(all);
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (t = 0; t < THREADS; t++) {
        w[t] = (worker){.hlc = h, .start = &start, .out = all + (uint64_t)t * n, .n = n,
                        .updater = t < updaters, .base_ms = base_ms, .batcher = t >= THREADS - batchers};
        assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &w[t]), 0);
    }
    for (t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(tid[t], NULL), 0);
    pthread_barrier_destroy(&start);
    for (t = 0; t < THREADS; t++) {
        assert_int_equal(w[t].failures, 0);
        for (i = 1; i < n; i++)
            assert_true(w[t].out[i] > w[t].out[i - 1]);
    }
    qsort(all, THREADS * n, sizeof *all, cmp_u64);
    for (i = 1; i < THREADS * n; i++)
        assert_true(all[i] != all[i - 1]);
    assert_int_equal(rk_hlc_last(h, &last), RK_OK);
    assert_int_equal(last, all[THREADS * n - 1]);
    return all;
}

static void test_concurrent_now(void **state)
{
    uint64_t n = rk_test_messages(200000);
    rk_hlc h;
    (void)state;
    assert_int_equal(rk_hlc_init(&h, 1000, NULL, NULL), RK_OK);
    free(run_workers(&h, n, 0, 0, 0));
}

/* With the physical clock stopped every timestamp is the previous one plus
 * one, so the threads together must have taken exactly a run of consecutive
 * values - carries into the physical part included - with no gap and no
 * repeat. */
static void frozen_clock_run(int batchers)
{
    uint64_t n = rk_test_messages(200000), i;
    fake_clock c;
    uint64_t *all;
    rk_hlc h;
    init_fake(&h, &c, 1000000, 100);
    all = run_workers(&h, n, 0, 0, batchers);
    for (i = 0; i < THREADS * n; i++)
        assert_int_equal(all[i], rk_hlc_pack(1000000, 0) + i);
    free(all);
}

static void test_concurrent_now_frozen_clock(void **state)
{
    (void)state;
    frozen_clock_run(0);
}

/* Runs of stamps taken at once, beside single ones, on a stopped clock:
 * together still exactly a run of consecutive values, each thread's
 * increasing, none repeated. */
static void test_concurrent_now_n_frozen_clock(void **state)
{
    (void)state;
    frozen_clock_run(2);
}

/* A run is taken whole or not at all: near the end of the clock it is
 * refused and the clock does not move. */
static void test_now_n_limits(void **state)
{
    fake_clock c;
    rk_hlc h;
    uint64_t first = 7;
    (void)state;
    init_fake(&h, &c, 1000, RK_HLC_NO_DRIFT_LIMIT);
    assert_int_equal(rk__hlc_now_n(&h, 0, &first), RK_EINVAL);
    assert_int_equal(rk__hlc_now_n(&h, 5, &first), RK_OK);
    assert_int_equal(first, rk_hlc_pack(1000, 0));
    assert_int_equal(now_ok(&h), rk_hlc_pack(1000, 5));
    assert_int_equal(update_ok(&h, RK_HLC_MAX - 3), RK_HLC_MAX - 2);
    assert_int_equal(rk__hlc_now_n(&h, 3, &first), RK_EDRIFT);
    assert_int_equal(last_of(&h), RK_HLC_MAX - 2);
    assert_int_equal(rk__hlc_now_n(&h, 2, &first), RK_OK);
    assert_int_equal(first, RK_HLC_MAX - 1);
    assert_int_equal(last_of(&h), RK_HLC_MAX);
}

static void test_concurrent_now_and_update(void **state)
{
    uint64_t n = rk_test_messages(200000) / 2;
    fake_clock c;
    rk_hlc h;
    (void)state;
    init_fake(&h, &c, 1000000, 100);
    free(run_workers(&h, n, 2, 1000000, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_roundtrip),
        cmocka_unit_test(test_concurrent_now_n_frozen_clock),
        cmocka_unit_test(test_now_n_limits),
        cmocka_unit_test(test_pack_ordering),
        cmocka_unit_test(test_tick_merge_rules),
        cmocka_unit_test(test_now_realtime),
        cmocka_unit_test(test_zero_filled_clock_is_realtime),
        cmocka_unit_test(test_now_physical_backwards),
        cmocka_unit_test(test_now_standstill_overflow),
        cmocka_unit_test(test_update_remote_ahead),
        cmocka_unit_test(test_update_remote_behind),
        cmocka_unit_test(test_update_remote_equal),
        cmocka_unit_test(test_drift_rejected),
        cmocka_unit_test(test_drift_limits),
        cmocka_unit_test(test_exhausted_clock),
        cmocka_unit_test(test_causality_chain),
        cmocka_unit_test(test_null_args),
        cmocka_unit_test(test_concurrent_now),
        cmocka_unit_test(test_concurrent_now_frozen_clock),
        cmocka_unit_test(test_concurrent_now_and_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
