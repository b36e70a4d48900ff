/* Actor states in device memory, taken and given back while the kernel runs
 * and a host thread keeps an echo actor busy (cuda_mem.c: a memory pool of
 * the backend's own where the device has pools, else chunks). The grid has
 * three actor blocks (RK_CUDA_BLOCKS=4): the echo actor, a witness counter
 * with 4 MiB of patterned state that lives throughout, and one for the
 * counter of each cycle. Each of RK_STRESS_CYCLES cycles (default 2000):
 *   - launches a counter of varying state size (every 20th 2-8 MiB, the
 *     others up to 64 KiB; some with no initial state, so zeros) and checks
 *     through a full checkpoint that all of its state is the initial state
 *     (or zeros) as the block reset it, with init run once;
 *   - launches a second counter (every 10th 2-8 MiB, the others up to
 *     128 KiB), refused with RK_ENOMEM because no block is free, after its
 *     state was allocated: device_used must be back where it was;
 *   - terminates the first.
 * device_used must follow the states exactly (each rounded up to 128
 * bytes), and with the pool the memory held for states but not in use
 * (device_total - device_used) must stay under 64 MiB; the chunk allocator
 * reuses a freed state only for a later state of the same size, so there
 * it grows with every new size. The same churn, shorter, runs with
 * the default allocator (the chunks, RK_CUDA_STATE_POOL unset) and prints
 * that growth. The witness's
 * state is checked every 250 cycles; a watchdog fails the test when a
 * phase makes no progress for 60 s (something waiting for the kernel).
 * After both, the GPU's free memory is back where it was before them.
 * First, RK_CUDA_FAIL_ALLOC aimed at the first state allocation after the
 * start fails that launch with RK_ENOMEM, leaves device_used as it was, and
 * the next launch gets a fresh state.
 * Exit 77 without a device. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <unistd.h>

#include "gpu_test.h"

#define MIB (1u << 20)
#define SLACK_LIMIT (64ull * MIB)
#define WITNESS_SIZE (4u * MIB)
#define BIG_MIN (2u * MIB)
#define BIG_MAX (8u * MIB)
#define STALL_NS (60 * RKT_SEC)

/* ---- deterministic sizes and patterns ---- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64 */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint32_t size_between(uint64_t *rng, uint32_t lo, uint32_t hi)
{
    return (lo + (uint32_t)(rng_next(rng) % (hi - lo + 1))) & ~7u;
}

static void fill_pattern(unsigned char *p, size_t n, uint32_t seed)
{
    for (size_t k = 0; k < n; k++)
        p[k] = (unsigned char)(((k * 2654435761u) >> 11) ^ (seed * 131u) ^ (k >> 12));
}

/* What the device accounts for a counter's state of `size` bytes. */
static uint64_t accounted(uint32_t size)
{
    uint64_t s = size > sizeof(rkt_counter_state) ? size : sizeof(rkt_counter_state);
    return (s + 127) & ~(uint64_t)127;
}

/* ---- the state, read back through a full checkpoint ---- */

typedef struct reader {
    unsigned char *buf, *state;
    size_t cap, state_cap;
} reader;

static void reader_init(reader *r, size_t state_cap)
{
    r->cap = state_cap + MIB;
    r->state_cap = state_cap;
    r->buf = malloc(r->cap);
    r->state = malloc(state_cap);
    RKT_CHECK(r->buf && r->state);
}

/* Checks that actor `id`'s whole state equals want[0..size). */
static void check_state(rk_runtime *rt, rk_actor_id id, const unsigned char *want, size_t size, reader *r)
{
    rk_checkpoint_target t = {0};
    size_t len = 0, k;
    RKT_CHECK_ST(rk_actor_checkpoint(rt, id, RK_ACTOR_CHECKPOINT_FULL, r->buf, r->cap, &len, NULL), RK_OK);
    RKT_CHECK_ST(rk_actor_checkpoint_forget(rt, id), RK_OK);
    t.state = r->state;
    t.cap = r->state_cap;
    RKT_CHECK_ST(rk_checkpoint_apply(r->buf, len, &t, NULL), RK_OK);
    RKT_CHECK(t.len == size);
    if (memcmp(r->state, want, size) == 0)
        return;
    for (k = 0; k < size && r->state[k] == want[k]; k++)
        ;
    fprintf(stderr, "actor %u: state byte %zu of %zu is %u, want %u\n", id, k, size, r->state[k], want[k]);
    RKT_FAIL();
}

/* The counter's header as init leaves it: count kept, init stamped once. */
static void expect_header(unsigned char *want, uint64_t count)
{
    rkt_counter_state h = {count, RKT_INIT_MAGIC, 1, 1};
    memcpy(want, &h, sizeof h);
}

static rk_status launch_counter(rk_runtime *rt, const char *name, const void *init, uint32_t size, rk_actor_id *id)
{
    rk_actor_options o;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &rkt_types[RKT_COUNTER];
    o.initial_state = init;
    o.state_size = size;
    return rk_launch(rt, &o, id);
}

static rk_memory_usage usage(rk_runtime *rt)
{
    rk_memory_usage u;
    RKT_CHECK_ST(rk_memory_usage_get(rt, &u), RK_OK);
    RKT_CHECK(u.device_used > 0 && u.device_used <= u.device_total);
    return u;
}

/* ---- traffic and the watchdog ---- */

typedef struct shared {
    rk_runtime *rt;
    rk_actor_id echo;
    int stop;          /* atomic: the traffic thread stops */
    int done;          /* atomic: the watchdog stops */
    uint64_t progress; /* atomic: cycles done, across phases */
    uint64_t calls;
    rk_status failed;
    const char *phase;
} shared;

static void *traffic_loop(void *arg)
{
    shared *s = arg;
    uint64_t v, out = 0;
    rk_msgbuf mb = {.data = &out, .capacity = sizeof out};
    for (v = 0; !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); v++) {
        rk_status st = rk_call(s->rt, s->echo, RKT_MSG_ECHO, &v, sizeof v, &mb, 10 * RKT_SEC);
        if (st != RK_OK || out != v) {
            s->failed = st != RK_OK ? st : RK_EINTERNAL;
            break;
        }
        s->calls++;
    }
    return NULL;
}

static void *watchdog(void *arg)
{
    shared *s = arg;
    uint64_t last = 0, since = rk_test_now_ns();
    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
        uint64_t p = __atomic_load_n(&s->progress, __ATOMIC_ACQUIRE), now = rk_test_now_ns();
        if (p != last) {
            last = p;
            since = now;
        } else if (now - since > STALL_NS) {
            fprintf(stderr, "%s: no cycle finished for 60 s (after %llu): something waits for the kernel\n",
                    s->phase, (unsigned long long)p);
            _exit(1);
        }
        rk_test_sleep_ns(100 * RKT_MS);
    }
    return NULL;
}

/* ---- the churn ---- */

typedef struct outcome {
    uint64_t slack_start, slack_max, slack_end; /* device_total - device_used */
    uint64_t create_median_ns;
    uint64_t big_states;
} outcome;

static void witness_check(rk_runtime *rt, rk_actor_id w, unsigned char *want, uint64_t *count, reader *r)
{
    uint64_t v = 0;
    rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
    RKT_CHECK_ST(rk_call(rt, w, RKT_MSG_INC, NULL, 0, &mb, 10 * RKT_SEC), RK_OK);
    RKT_CHECK(v == ++*count);
    expect_header(want, *count);
    check_state(rt, w, want, WITNESS_SIZE, r);
}

/* One cycle's first counter: launched, checked whole, incremented. */
static uint64_t cycle_first(rk_runtime *rt, uint64_t i, uint32_t size, int zeros, unsigned char *want, reader *r,
                            rk_actor_id *id)
{
    uint32_t shown = size ? size : (uint32_t)sizeof(rkt_counter_state);
    rk_memory_usage u0 = usage(rt), u1;
    uint64_t t0, t;
    char name[32];
    snprintf(name, sizeof name, "c%llu", (unsigned long long)i);
    if (zeros) {
        memset(want, 0, shown);
    } else {
        fill_pattern(want, size, (uint32_t)i);
        memcpy(want, &(rkt_counter_state){i, 0, 0, 0}, sizeof(rkt_counter_state));
    }
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(launch_counter(rt, name, zeros ? NULL : want, size, id), RK_OK);
    t = rk_test_now_ns() - t0;
    u1 = usage(rt);
    RKT_CHECK(u1.device_used - u0.device_used == accounted(size));
    expect_header(want, zeros ? 0 : i);
    check_state(rt, *id, want, shown, r);
    return t;
}

static void churn(shared *s, const char *phase, uint64_t cycles, int check_slack, outcome *out)
{
    rk_runtime_options o;
    rk_runtime *rt;
    rk_actor_id w, a, refused;
    pthread_t th;
    reader r;
    uint64_t rng = 0x9E3779B97F4A7C15ull, wcount = 0, i, *t_create = calloc(cycles, sizeof *t_create);
    unsigned char *want = malloc(BIG_MAX), *wwant = malloc(WITNESS_SIZE), *big = calloc(1, BIG_MAX);
    RKT_CHECK(t_create && want && wwant && big);
    reader_init(&r, BIG_MAX);
    memset(out, 0, sizeof *out);

    RKT_CHECK(setenv("RK_CUDA_BLOCKS", "4", 1) == 0);
    rkt_options(&o, (uint32_t)cycles + 16, &rkt_program);
    rt = rkt_runtime_with(&o);
    RKT_CHECK(unsetenv("RK_CUDA_BLOCKS") == 0);
    s->rt = rt;
    s->phase = phase;
    s->echo = rkt_launch(rt, "echo", RKT_ECHO);
    fill_pattern(wwant, WITNESS_SIZE, 0xABCDu);
    memset(wwant, 0, sizeof(rkt_counter_state));
    RKT_CHECK_ST(launch_counter(rt, "witness", wwant, WITNESS_SIZE, &w), RK_OK);
    expect_header(wwant, 0);
    check_state(rt, w, wwant, WITNESS_SIZE, &r);
    __atomic_store_n(&s->stop, 0, __ATOMIC_RELEASE);
    RKT_CHECK(pthread_create(&th, NULL, traffic_loop, s) == 0);
    {
        rk_memory_usage u = usage(rt);
        out->slack_start = out->slack_max = u.device_total - u.device_used;
    }

    for (i = 0; i < cycles && s->failed == RK_OK; i++) {
        uint32_t size = i % 20 == 0 ? size_between(&rng, BIG_MIN, BIG_MAX) : size_between(&rng, 40, 64u << 10);
        uint32_t other = i % 10 == 5 ? size_between(&rng, BIG_MIN, BIG_MAX) : size_between(&rng, 1u << 10, 128u << 10);
        int zeros = i % 7 == 3;
        rk_memory_usage before, after;
        uint64_t v = 0, slack;
        rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
        if (zeros && i % 2)
            size = 0; /* the type's own size, zeroed by the block */
        out->big_states += size >= BIG_MIN;
        t_create[i] = cycle_first(rt, i, size, zeros, want, &r, &a);
        RKT_CHECK_ST(rk_call(rt, a, RKT_MSG_INC, NULL, 0, &mb, 10 * RKT_SEC), RK_OK);
        RKT_CHECK(v == (zeros ? 1 : i + 1));

        /* No block is free: refused after its state was allocated. */
        before = usage(rt);
        RKT_CHECK_ST(launch_counter(rt, "refused", big, other, &refused), RK_ENOMEM);
        after = usage(rt);
        RKT_CHECK(after.device_used == before.device_used);

        /* Terminated keeps the state for a restart, or gives it back. */
        RKT_CHECK_ST(rk_terminate(rt, a), RK_OK);
        after = usage(rt);
        RKT_CHECK(after.device_used == before.device_used ||
                  after.device_used == before.device_used - accounted(size));
        slack = after.device_total - after.device_used;
        out->slack_max = slack > out->slack_max ? slack : out->slack_max;
        if (check_slack && slack > SLACK_LIMIT) {
            fprintf(stderr, "%s, cycle %llu: %.1f MiB held for states but not in use\n", phase,
                    (unsigned long long)i, (double)slack / MIB);
            RKT_FAIL();
        }
        if ((i + 1) % 250 == 0)
            witness_check(rt, w, wwant, &wcount, &r);
        __atomic_add_fetch(&s->progress, 1, __ATOMIC_RELEASE);
        if ((i + 1) % 500 == 0)
            fprintf(stderr, "%s: %llu cycles, device used %.1f MiB, held %.1f MiB, %llu requests served\n", phase,
                    (unsigned long long)(i + 1), (double)after.device_used / MIB, (double)after.device_total / MIB,
                    (unsigned long long)s->calls);
    }
    witness_check(rt, w, wwant, &wcount, &r);
    {
        rk_memory_usage u = usage(rt);
        out->slack_end = u.device_total - u.device_used;
    }
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    RKT_CHECK(pthread_join(th, NULL) == 0);
    RKT_CHECK_ST(s->failed, RK_OK);
    RKT_CHECK(s->calls > 0);
    {
        rk_async_error err;
        RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_EEMPTY);
    }
    rk_runtime_destroy(rt);
    out->create_median_ns = rkt_median(t_create, cycles);
    free(t_create);
    free(want);
    free(wwant);
    free(big);
    free(r.buf);
    free(r.state);
}

/* ---- an allocation failure on the state's path ---- */

static void failed_state_alloc(void)
{
    const uint32_t size = 3u * MIB;
    unsigned char *want = malloc(size);
    reader r;
    uint64_t n;
    char val[32];
    RKT_CHECK(want);
    reader_init(&r, size);
    for (n = 1; n <= 200; n++) {
        rk_runtime_options o;
        rk_runtime *rt = NULL;
        rk_memory_usage u0, u1;
        rk_actor_id id;
        rk_status st;
        snprintf(val, sizeof val, "%llu", (unsigned long long)n);
        RKT_CHECK(setenv("RK_CUDA_FAIL_ALLOC", val, 1) == 0);
        rkt_options(&o, 4, &rkt_program);
        st = rk_runtime_create(&rt, &o);
        RKT_CHECK(unsetenv("RK_CUDA_FAIL_ALLOC") == 0);
        if (st != RK_OK) {
            RKT_CHECK_ST(st, RK_ENOMEM); /* the n-th is one of the start's */
            continue;
        }
        /* The start took n - 1: the launch's first allocation, the state's, fails. */
        fill_pattern(want, size, 7);
        memset(want, 0, sizeof(rkt_counter_state));
        u0 = usage(rt);
        RKT_CHECK_ST(launch_counter(rt, "first", want, size, &id), RK_ENOMEM);
        u1 = usage(rt);
        RKT_CHECK(u1.device_used == u0.device_used && u1.device_total == u0.device_total);
        RKT_CHECK_ST(launch_counter(rt, "second", want, size, &id), RK_OK);
        expect_header(want, 0);
        check_state(rt, id, want, size, &r);
        rk_runtime_destroy(rt);
        printf("allocation failure: the start made %llu allocations; the state's failed and left nothing: ok\n",
               (unsigned long long)(n - 1));
        free(want);
        free(r.buf);
        free(r.state);
        return;
    }
    fprintf(stderr, "no runtime started with RK_CUDA_FAIL_ALLOC up to 200\n");
    RKT_FAIL();
}

int main(void)
{
    uint64_t cycles = rkt_env("RK_STRESS_CYCLES", 2000), chunk_cycles = cycles < 300 ? cycles : 300;
    size_t free0 = 0, free1 = 0, total = 0;
    shared s;
    outcome pool, chunks;
    pthread_t wd;
    int n = 0, pools = 0;

    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("SKIP: no CUDA device\n");
        return RK_TEST_SKIP;
    }
    RKT_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, 0) == cudaSuccess);
    RKT_CHECK(setenv("RK_CUDA_STATE_POOL", "1", 1) == 0); /* the pool is opt-in */
    failed_state_alloc();

    memset(&s, 0, sizeof s);
    s.failed = RK_OK;
    s.phase = "start";
    RKT_CHECK(pthread_create(&wd, NULL, watchdog, &s) == 0);
    RKT_CHECK(cudaMemGetInfo(&free0, &total) == cudaSuccess);

    churn(&s, pools ? "pool" : "chunks (no pools on this device)", cycles, pools != 0, &pool);
    printf("%s: %llu cycles (%llu states of 2-8 MiB), %llu requests served meanwhile; held but not in use: "
           "%.1f MiB at the start, at most %.1f, %.1f at the end; median launch %.1f us\n",
           pools ? "pool" : "chunks", (unsigned long long)cycles, (unsigned long long)pool.big_states,
           (unsigned long long)s.calls, (double)pool.slack_start / MIB, (double)pool.slack_max / MIB,
           (double)pool.slack_end / MIB, (double)pool.create_median_ns / 1e3);

    s.calls = 0;
    RKT_CHECK(unsetenv("RK_CUDA_STATE_POOL") == 0); /* the default: chunks */
    churn(&s, "chunks", chunk_cycles, 0, &chunks);
    printf("chunks (the default): %llu cycles; held but not in use: %.1f MiB at the start, %.1f at "
           "the end (not checked); median launch %.1f us\n",
           (unsigned long long)chunk_cycles, (double)chunks.slack_start / MIB, (double)chunks.slack_end / MIB,
           (double)chunks.create_median_ns / 1e3);

    __atomic_store_n(&s.done, 1, __ATOMIC_RELEASE);
    RKT_CHECK(pthread_join(wd, NULL) == 0);
    /* Everything given back: the pool was destroyed with all its states. */
    RKT_CHECK(cudaMemGetInfo(&free1, &total) == cudaSuccess);
    printf("GPU free memory: %.1f MiB before, %.1f MiB after\n", (double)free0 / MIB, (double)free1 / MIB);
    RKT_CHECK(free1 + 64ull * MIB >= free0);
    return 0;
}
