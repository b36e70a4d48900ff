/* Helpers of the GPU test programs. Each program exits 0 (pass), 1 (fail)
 * or 77 (skipped: no CUDA device). Every wait is bounded. */
#ifndef RK_GPU_TEST_H
#define RK_GPU_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_actors.h"
#include "ringkernel/ringkernel.h"
#include "ringkernel/supervisor.h"
#include "rk_test.h"

#define RKT_MS 1000000ull
#define RKT_SEC 1000000000ull

/* Standard output line by line, before main: a step that runs out of time
 * is killed, and what a fully buffered stdout held (the stages passed so
 * far) would be lost with it. */
__attribute__((constructor)) static void rkt_line_buffered(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* A failed check ends the process at once: exit() would wait in the CUDA
 * runtime's teardown for the persistent kernel, which is still running, and
 * under compute-sanitizer that wait outlasts the step's timeout. What was
 * printed is flushed first. */
#define RKT_FAIL()                                                                                   \
    do {                                                                                             \
        fflush(NULL);                                                                                \
        _exit(1);                                                                                    \
    } while (0)

#define RKT_CHECK(cond)                                                                              \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                 \
            RKT_FAIL();                                                                              \
        }                                                                                            \
    } while (0)

#define RKT_CHECK_ST(expr, want)                                                                     \
    do {                                                                                             \
        rk_status got_ = (expr), want_ = (want);                                                     \
        if (got_ != want_) {                                                                         \
            fprintf(stderr, "%s:%d: %s = %s, want %s\n", __FILE__, __LINE__, #expr,                  \
                    rk_status_name(got_), rk_status_name(want_));                                    \
            RKT_FAIL();                                                                              \
        }                                                                                            \
    } while (0)

/* A number from the environment (for sanitizer runs), else `dflt`. */
static inline uint64_t rkt_env(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;
    if (!s || !*s)
        return dflt;
    v = strtoull(s, &end, 10);
    return (*end == '\0' && v > 0) ? (uint64_t)v : dflt;
}

/* Whether a test's stage `name` runs: not when the comma-separated list in
 * environment variable `env` names it (e.g. RK_GROUP_SKIP=stream,load):
 * under compute-sanitizer one call cannot run them all. */
static inline int rkt_stage_on(const char *env, const char *name)
{
    const char *skip = getenv(env);
    size_t n = strlen(name);
    for (const char *p = skip; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) {
            printf("stage %s: skipped (%s)\n", name, env);
            return 0;
        }
        p = end ? end + 1 : p + len;
    }
    return 1;
}

static inline void rkt_options(rk_runtime_options *o, uint32_t max_actors, const void *program)
{
    rk_runtime_options_init(o);
    o->backend = RK_BACKEND_CUDA;
    o->max_actors = max_actors;
    o->gpu_program = program;
    /* RKT_CLUSTER=n runs a test's kernels as clusters of n blocks
     * (scripts/gpu.sh does, to cover the cluster tier of K2K). */
    if (getenv("RKT_CLUSTER"))
        o->cluster_size = (uint32_t)strtoul(getenv("RKT_CLUSTER"), NULL, 10);
}

/* Creates a CUDA runtime, or exits 77 when there is no device. */
static inline rk_runtime *rkt_runtime_with(const rk_runtime_options *o)
{
    rk_runtime *rt = NULL;
    rk_status st = rk_runtime_create(&rt, o);
    if (st == RK_ENODEV || st == RK_ENOBACKEND) {
        printf("SKIP: no usable CUDA device (%s)\n", rk_status_name(st));
        exit(RK_TEST_SKIP);
    }
    RKT_CHECK_ST(st, RK_OK);
    RKT_CHECK(rk_runtime_backend(rt) == RK_BACKEND_CUDA);
    return rt;
}

static inline rk_runtime *rkt_runtime(uint32_t max_actors)
{
    rk_runtime_options o;
    rkt_options(&o, max_actors, &rkt_program);
    return rkt_runtime_with(&o);
}

static const rk_actor_type rkt_types[RKT_NTYPES] = {
    {"echo", NULL, NULL, RKT_ECHO},       {"counter", NULL, NULL, RKT_COUNTER},
    {"relay", NULL, NULL, RKT_RELAY},     {"failer", NULL, NULL, RKT_FAILER},
    {"sleeper", NULL, NULL, RKT_SLEEPER}, {"probe", NULL, NULL, RKT_PROBE},
    {"fanin", NULL, NULL, RKT_FANIN},     {"mix", NULL, NULL, RKT_MIX},
    {"putter", NULL, NULL, RKT_PUTTER},   {"putsink", NULL, NULL, RKT_PUTSINK},
};

static inline rk_status rkt_launch_ex(rk_runtime *rt, const char *name, uint32_t type, const void *init,
                                      uint32_t init_size, uint32_t capacity, uint32_t tenant, rk_actor_id *id)
{
    rk_actor_options o;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &rkt_types[type];
    o.initial_state = init;
    o.state_size = init_size;
    if (capacity)
        o.inbox_capacity = capacity;
    o.tenant = tenant;
    return rk_launch(rt, &o, id);
}

static inline rk_actor_id rkt_launch(rk_runtime *rt, const char *name, uint32_t type)
{
    rk_actor_id id = RK_ACTOR_NONE;
    RKT_CHECK_ST(rkt_launch_ex(rt, name, type, NULL, 0, 0, 0, &id), RK_OK);
    return id;
}

/* Links relays ids[0..n) into a ring: each passes the token to the next. */
static inline void rkt_ring_setup(rk_runtime *rt, const rk_actor_id *ids, uint32_t n)
{
    unsigned char buf[256];
    rk_msgbuf mb = {.data = buf, .capacity = sizeof buf};
    for (uint32_t i = 0; i < n; i++) {
        uint32_t next = ids[(i + 1) % n];
        RKT_CHECK_ST(rk_call(rt, ids[i], RKT_MSG_SETUP, &next, sizeof next, &mb, 5 * RKT_SEC), RK_OK);
    }
}

/* Gives relay `first` a token for `hops` hops and waits (up to timeout_ns)
 * for it to come back to the host, intact; returns the ns it took, and in
 * *from (may be NULL) the relay that sent it back. */
static inline uint64_t rkt_ring_pass(rk_runtime *rt, rk_actor_id first, uint64_t hops, uint64_t timeout_ns,
                                     rk_actor_id *from)
{
    unsigned char buf[256];
    rk_msgbuf mb = {.data = buf, .capacity = sizeof buf};
    rkt_token tok, *got = (rkt_token *)buf;
    uint64_t t0;
    memset(&tok, 0, sizeof tok);
    tok.target = hops;
    tok.check = rkt_token_check(0);
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_send(rt, first, RKT_MSG_TOKEN, &tok, sizeof tok), RK_OK);
    RKT_CHECK_ST(rk_recv(rt, &mb, timeout_ns), RK_OK);
    t0 = rk_test_now_ns() - t0;
    RKT_CHECK(mb.hdr.type == RKT_MSG_DONE && mb.hdr.len == sizeof tok);
    RKT_CHECK(got->hops == hops && got->check == rkt_token_check(hops));
    if (from)
        *from = mb.hdr.src;
    return t0;
}

/* Polls until the actor reaches `want`, for up to 10 s. */
static inline void rkt_wait_state(rk_runtime *rt, rk_actor_id id, rk_lifecycle_state want)
{
    uint64_t end = rk_test_now_ns() + 10 * RKT_SEC;
    rk_lifecycle_state s = RK_DORMANT;
    while (rk_test_now_ns() < end) {
        RKT_CHECK_ST(rk_actor_state(rt, id, &s), RK_OK);
        if (s == want)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "actor %u stayed %s, want %s\n", id, rk_lifecycle_state_name(s), rk_lifecycle_state_name(want));
    RKT_FAIL();
}

/* Polls until the actor's control block counts `n` handled messages (the
 * GPU flushes its counters when it goes idle), for up to 10 s. */
static inline rk_actor_metrics rkt_wait_msgs_in(rk_runtime *rt, rk_actor_id id, uint64_t n)
{
    uint64_t end = rk_test_now_ns() + 10 * RKT_SEC;
    rk_actor_metrics m;
    do {
        RKT_CHECK_ST(rk_actor_metrics_get(rt, id, &m), RK_OK);
        if (m.msgs_in >= n)
            return m;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    } while (rk_test_now_ns() < end);
    fprintf(stderr, "actor %u handled %llu messages, want %llu\n", id, (unsigned long long)m.msgs_in,
            (unsigned long long)n);
    RKT_FAIL();
}

static inline int rkt_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Median of n samples (sorts them). */
static inline uint64_t rkt_median(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, rkt_cmp_u64);
    return n ? v[n / 2] : 0;
}

/* A supervisor on rt (rk_supervisor_create), or the test fails. */
static inline rk_actor_id rkt_start_sup(rk_runtime *rt, const char *name, rk_restart_strategy strategy, uint32_t max,
                                        uint64_t window_ns)
{
    rk_supervisor_options so;
    rk_actor_id sup;
    rk_supervisor_options_init(&so);
    so.name = name;
    so.strategy = strategy;
    so.max_restarts = max;
    so.window_ns = window_ns;
    RKT_CHECK_ST(rk_supervisor_create(rt, &so, &sup), RK_OK);
    return sup;
}

#endif
