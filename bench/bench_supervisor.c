/* Restart latency through a supervisor (CPU backend).
 *
 * A one-for-one supervisor owns one permanent child. Each trial sends the
 * child a message whose handler fails; the time runs from that rk_send to
 * the moment the host sees the child Active again with the next generation
 * (polled with rk_actor_metrics_get, every 1 us or so). It covers the worker
 * marking the actor Failed, the wake-up of the supervision thread, its
 * restart decision and the restart command (fresh state, init, generation +
 * 1). A direct rk_restart of a failed actor, from the host, is timed the
 * same way for comparison.
 *
 *   bench_supervisor [--trials N]
 *
 * Every figure is measured here, in this process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringkernel/ringkernel.h"
#include "stats.h"

#define SEC 1000000000ull

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void check(rk_status st, const char *what)
{
    if (st != RK_OK) {
        fprintf(stderr, "bench_supervisor: %s: %s\n", what, rk_status_name(st));
        exit(1);
    }
}

static rk_status fail_on_message(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)ctx;
    (void)state;
    (void)m;
    return RK_ENOTSUP;
}

/* Waits until `id` is Active with a generation above `gen`; returns it. */
static uint32_t wait_restarted(rk_runtime *rt, rk_actor_id id, uint32_t gen)
{
    uint64_t deadline = now_ns() + 5 * SEC;
    rk_actor_metrics m;
    for (;;) {
        check(rk_actor_metrics_get(rt, id, &m), "rk_actor_metrics_get");
        if (m.state == RK_ACTIVE && m.generation > gen)
            return m.generation;
        if (now_ns() > deadline) {
            fprintf(stderr, "bench_supervisor: no restart within 5 s (state %d, generation %u)\n", (int)m.state,
                    m.generation);
            exit(1);
        }
    }
}

/* Waits until `id` is Failed. */
static void wait_failed(rk_runtime *rt, rk_actor_id id)
{
    uint64_t deadline = now_ns() + 5 * SEC;
    rk_lifecycle_state s;
    do {
        check(rk_actor_state(rt, id, &s), "rk_actor_state");
        if (now_ns() > deadline) {
            fprintf(stderr, "bench_supervisor: actor did not fail\n");
            exit(1);
        }
    } while (s != RK_FAILED);
}

static void report(const char *name, double *v, size_t n)
{
    rk_stats s = rk_stats_of(v, n);
    printf("%-36s n=%-6zu median %8.2f us  p99 %8.2f  mean %8.2f  95%% CI [%.2f, %.2f]\n", name, n, s.median, s.p99,
           s.mean, s.ci_lo, s.ci_hi);
}

int main(int argc, char **argv)
{
    static const rk_actor_type type = {.name = "failing", .handle = fail_on_message};
    size_t trials = 2000, i;
    rk_runtime_options ro;
    rk_supervisor_options so;
    rk_actor_options ao;
    rk_runtime *rt;
    rk_actor_id sup, child, lone;
    rk_async_error err;
    uint32_t gen = 1;
    double *t;
    for (int a = 1; a + 1 < argc; a += 2)
        if (strcmp(argv[a], "--trials") == 0)
            trials = strtoul(argv[a + 1], NULL, 10);
    if (trials == 0)
        trials = 1;
    t = malloc(trials * sizeof *t);
    if (!t)
        return 1;

    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CPU;
    ro.workers = 1;
    check(rk_runtime_create(&rt, &ro), "rk_runtime_create");
    rk_supervisor_options_init(&so);
    so.name = "sup";
    so.max_restarts = 65536; /* the window never trips in this benchmark */
    so.window_ns = 1;
    check(rk_supervisor_create(rt, &so, &sup), "rk_supervisor_create");
    rk_actor_options_init(&ao);
    ao.name = "child";
    ao.type = &type;
    check(rk_supervisor_start_child(rt, sup, &ao, RK_CHILD_PERMANENT, &child), "rk_supervisor_start_child");
    for (i = 0; i < trials; i++) {
        uint64_t t0 = now_ns();
        check(rk_send(rt, child, 1, NULL, 0), "rk_send");
        gen = wait_restarted(rt, child, gen);
        t[i] = (double)(now_ns() - t0) / 1e3;
    }
    report("supervisor restart (fail -> Active)", t, trials);

    ao.name = "lone";
    check(rk_launch(rt, &ao, &lone), "rk_launch");
    gen = 1;
    for (i = 0; i < trials; i++) {
        uint64_t t0;
        check(rk_send(rt, lone, 1, NULL, 0), "rk_send");
        wait_failed(rt, lone);
        t0 = now_ns();
        check(rk_restart(rt, lone), "rk_restart");
        gen = wait_restarted(rt, lone, gen);
        t[i] = (double)(now_ns() - t0) / 1e3;
    }
    report("rk_restart of a failed actor", t, trials);
    while (rk_runtime_error(rt, &err) == RK_OK)
        ;
    rk_runtime_destroy(rt);
    free(t);
    return 0;
}
