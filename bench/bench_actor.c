/* CPU actor benchmarks: host -> actor -> host round trip (rk_call), one-way
 * host -> actor throughput, an actor <-> actor (K2K) ping-pong, and a
 * skewed load (every busy actor on one home worker) with work stealing off
 * and on, alternately, and a call to an actor whose home worker is inside
 * another actor's 20 ms handler, stealing off and on.
 *
 *   bench_actor [--quick] [--json FILE]
 *
 * Every figure is measured here, in this process, with the CPU backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringkernel/ringkernel.h"
#include "stats.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

static rk_status echo(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)state;
    return rk_reply(ctx, m->type, rk_msg_payload(m), m->len);
}

/* Counts messages; a request answers with the count so far. */
static rk_status counter(rk_ctx *ctx, void *state, const rk_msg *m)
{
    uint64_t *n = state;
    if (m->flags & RK_MSG_F_REQUEST)
        return rk_reply(ctx, 0, n, sizeof *n);
    ++*n;
    return RK_OK;
}

/* Ping-pong between two actors: payload {peer, hops left}; the last hop
 * tells the host. */
typedef struct hop {
    rk_actor_id peer;
    uint32_t left;
} hop;

static rk_status pinger(rk_ctx *ctx, void *state, const rk_msg *m)
{
    hop h = *(const hop *)rk_msg_payload(m);
    rk_actor_id next = h.peer;
    (void)state;
    if (h.left == 0)
        return rk_ctx_send(ctx, RK_ACTOR_HOST, 0, &h, sizeof h);
    h.left--;
    h.peer = rk_self(ctx);
    return rk_ctx_send(ctx, next, 0, &h, sizeof h);
}

static FILE *json;

static void report(const char *name, const char *unit, double *v, size_t n)
{
    rk_stats s = rk_stats_of(v, n);
    printf("%-28s n=%-7zu median %8.2f %s  p99 %8.2f  p99.9 %8.2f  95%% CI [%.2f, %.2f]\n", name, n, s.median,
           unit, s.p99, s.p999, s.ci_lo, s.ci_hi);
    if (json)
        fprintf(json,
                "%s{\"name\":\"%s\",\"unit\":\"%s\",\"n\":%zu,\"median\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
                "\"ci95\":[%.3f,%.3f],\"mean\":%.3f}",
                ftell(json) > 2 ? ",\n" : "", name, unit, s.n, s.median, s.p99, s.p999, s.ci_lo, s.ci_hi, s.mean);
}

static rk_actor_id launch(rk_runtime *rt, const char *name, rk_handler_fn fn, uint32_t state_size)
{
    static rk_actor_type types[8];
    static int n;
    rk_actor_options o;
    rk_actor_id id;
    types[n] = (rk_actor_type){.name = name, .handle = fn};
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &types[n++];
    o.state_size = state_size;
    o.inbox_capacity = 4096;
    if (rk_launch(rt, &o, &id) != RK_OK) {
        fprintf(stderr, "launch %s failed\n", name);
        exit(1);
    }
    return id;
}

static void bench_round_trip(rk_runtime *rt, rk_actor_id id, size_t n)
{
    double *v = malloc(n * sizeof *v);
    uint64_t x = 0, y = 0;
    rk_msgbuf reply = {.data = &y, .capacity = sizeof y};
    for (size_t i = 0; i < n / 10 + 100; i++) /* warm-up */
        rk_call(rt, id, 1, &x, sizeof x, &reply, 1000000000ull);
    for (size_t i = 0; i < n; i++) {
        x = i;
        uint64_t t0 = now_ns();
        rk_status st = rk_call(rt, id, 1, &x, sizeof x, &reply, 1000000000ull);
        v[i] = (double)(now_ns() - t0) / 1000.0;
        if (st != RK_OK || y != x) {
            fprintf(stderr, "round trip %zu: %s\n", i, rk_status_name(st));
            exit(1);
        }
    }
    report("host->actor->host (rk_call)", "us", v, n);
    free(v);
}

/* One producer thread sends 64-byte payloads as fast as the inbox takes
 * them, one rk_send each or rk_send_batch of `batch`; the rate counts
 * messages the actor has handled. */
static void bench_throughput(rk_runtime *rt, rk_actor_id id, uint64_t per_run, int runs, uint32_t batch)
{
    double *v = malloc((size_t)runs * sizeof *v);
    static unsigned char payload[32 * 64];
    uint64_t handled = 0;
    static uint64_t done;
    rk_msgbuf reply = {.data = &handled, .capacity = sizeof handled};
    char name[64];
    for (int r = 0; r < runs; r++) {
        uint64_t t0 = now_ns();
        for (uint64_t i = 0; i < per_run;) {
            uint32_t sent = 0, want = batch;
            rk_status st;
            if (batch) {
                if (want > per_run - i)
                    want = (uint32_t)(per_run - i);
                st = rk_send_batch(rt, id, 2, payload, 64, want, &sent);
            } else {
                st = rk_send(rt, id, 2, payload, 64);
                sent = st == RK_OK;
            }
            i += sent;
            if (st != RK_OK && st != RK_EFULL) {
                fprintf(stderr, "send: %s\n", rk_status_name(st));
                exit(1);
            }
        }
        done += per_run;
        do /* the count is answered after every message sent before it */
            rk_call(rt, id, 3, NULL, 0, &reply, 1000000000ull);
        while (handled < done);
        v[r] = (double)per_run / ((double)(now_ns() - t0) / 1e9) / 1e6;
    }
    if (batch)
        snprintf(name, sizeof name, "host->actor 64 B (handled), rk_send_batch of %u", batch);
    else
        snprintf(name, sizeof name, "host->actor 64 B (handled)");
    report(name, "M msg/s", v, (size_t)runs);
    free(v);
}

static void bench_k2k(rk_runtime *rt, rk_actor_id a, rk_actor_id b, size_t n, uint32_t hops)
{
    double *v = malloc(n * sizeof *v);
    hop h;
    rk_msgbuf got = {.data = &h, .capacity = sizeof h};
    for (size_t i = 0; i < n; i++) {
        hop start = {b, hops};
        uint64_t t0 = now_ns();
        rk_send(rt, a, 0, &start, sizeof start);
        if (rk_recv(rt, &got, 1000000000ull) != RK_OK) {
            fprintf(stderr, "k2k: no answer\n");
            exit(1);
        }
        /* hops one-way messages = hops/2 round trips */
        v[i] = (double)(now_ns() - t0) / 1000.0 / (hops / 2.0);
    }
    report("actor<->actor round trip", "us", v, n);
    free(v);
}

/* ---- a skewed load: work stealing on the CPU backend -------------------------- */

#define SKEW_WORK_NS 10000ull /* per message */

static rk_status busy(rk_ctx *ctx, void *state, const rk_msg *m)
{
    uint64_t *n = state;
    if (m->flags & RK_MSG_F_REQUEST)
        return rk_reply(ctx, 0, n, sizeof *n);
    uint64_t end = now_ns() + SKEW_WORK_NS;
    while (now_ns() < end)
        ;
    ++*n;
    return RK_OK;
}

/* `workers` actors that share one home worker (id % workers) of a runtime
 * with `workers` workers, each sent `per_actor` messages of 10 us of work;
 * returns the messages handled per second, from the first send to the
 * last count. RK_CPU_STEAL is read when the runtime starts. */
static double skew_run(uint32_t workers, uint64_t per_actor, int steal)
{
    static const rk_actor_type busy_type = {.name = "busy", .handle = busy};
    rk_runtime_options ro;
    rk_actor_options o;
    rk_runtime *rt;
    rk_actor_id id, hot[64];
    uint32_t n = 0, home = 0;
    setenv("RK_CPU_STEAL", steal ? "1" : "0", 1);
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CPU;
    ro.workers = workers;
    ro.max_actors = workers * workers;
    if (rk_runtime_create(&rt, &ro) != RK_OK)
        exit(1);
    rk_actor_options_init(&o);
    o.type = &busy_type;
    o.state_size = sizeof(uint64_t);
    o.inbox_capacity = 4096;
    for (uint32_t i = 0; i < workers * workers && n < workers; i++) {
        char name[32];
        snprintf(name, sizeof name, "busy/%u", i);
        o.name = name;
        if (rk_launch(rt, &o, &id) != RK_OK)
            exit(1);
        if (i == 0)
            home = id % workers;
        if (id % workers == home)
            hot[n++] = id;
    }
    uint64_t t0 = now_ns();
    for (uint64_t k = 0; k < per_actor; k++)
        for (uint32_t i = 0; i < n; i++)
            if (rk_send_wait(rt, hot[i], 1, NULL, 0, 10000000000ull) != RK_OK)
                exit(1);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t got = 0;
        rk_msgbuf reply = {.data = &got, .capacity = sizeof got};
        do
            if (rk_call(rt, hot[i], 2, NULL, 0, &reply, 10000000000ull) != RK_OK)
                exit(1);
        while (got < per_actor);
    }
    double rate = (double)(per_actor * n) / ((double)(now_ns() - t0) / 1e9);
    rk_runtime_destroy(rt);
    unsetenv("RK_CPU_STEAL");
    return rate;
}

/* Stealing off and on, alternately, `runs` times each. */
static void bench_skew(uint32_t workers, uint64_t per_actor, int runs)
{
    double *off = malloc((size_t)runs * sizeof *off), *on = malloc((size_t)runs * sizeof *on);
    char name[96];
    for (int r = 0; r < runs; r++) {
        off[r] = skew_run(workers, per_actor, 0) / 1e3;
        on[r] = skew_run(workers, per_actor, 1) / 1e3;
    }
    snprintf(name, sizeof name, "skewed, %u workers, stealing off", workers);
    report(name, "k msg/s", off, (size_t)runs);
    snprintf(name, sizeof name, "skewed, %u workers, stealing on", workers);
    report(name, "k msg/s", on, (size_t)runs);
    free(off);
    free(on);
}

/* ---- a call beside a long handler ---------------------------------------------- */

#define LONG_NS 20000000ull /* the long handler's run */

static rk_status long_or_echo(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)state;
    if (m->flags & RK_MSG_F_REQUEST)
        return rk_reply(ctx, 0, NULL, 0);
    uint64_t end = now_ns() + LONG_NS;
    while (now_ns() < end)
        ;
    return RK_OK;
}

/* Two actors on one home worker of two: one starts a 20 ms handler, then
 * the host calls the other, `trials` times; the call's latency in us.
 * Without stealing the call waits for the handler; with it, a parked
 * worker sees the home worker stay in one batch for 1 ms and takes the
 * other actor. */
static void long_run(int steal, int trials, double *us)
{
    static const rk_actor_type type = {.name = "long", .handle = long_or_echo};
    rk_runtime_options ro;
    rk_actor_options o;
    rk_runtime *rt;
    rk_actor_id a, b;
    setenv("RK_CPU_STEAL", steal ? "1" : "0", 1);
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CPU;
    ro.workers = 2;
    ro.max_actors = 4;
    if (rk_runtime_create(&rt, &ro) != RK_OK)
        exit(1);
    rk_actor_options_init(&o);
    o.type = &type;
    o.name = "long/a";
    if (rk_launch(rt, &o, &a) != RK_OK)
        exit(1);
    o.name = "long/skip";
    if (rk_launch(rt, &o, &b) != RK_OK) /* the other worker's */
        exit(1);
    o.name = "long/b";
    if (rk_launch(rt, &o, &b) != RK_OK || b % 2 != a % 2)
        exit(1);
    for (int t = 0; t < trials; t++) {
        rk_msgbuf reply = {.data = NULL, .capacity = 0};
        if (rk_send(rt, a, 1, NULL, 0) != RK_OK)
            exit(1);
        sleep_ns(1000000); /* the handler has started */
        uint64_t t0 = now_ns();
        if (rk_call(rt, b, 2, NULL, 0, &reply, 10000000000ull) != RK_OK)
            exit(1);
        us[t] = (double)(now_ns() - t0) / 1e3;
        sleep_ns(LONG_NS); /* the long handler ends before the next trial */
    }
    rk_runtime_destroy(rt);
    unsetenv("RK_CPU_STEAL");
}

static void bench_long(int trials)
{
    double *off = malloc((size_t)trials * sizeof *off), *on = malloc((size_t)trials * sizeof *on);
    long_run(0, trials, off);
    long_run(1, trials, on);
    report("call beside a 20 ms handler, stealing off", "us", off, (size_t)trials);
    report("call beside a 20 ms handler, stealing on", "us", on, (size_t)trials);
    free(off);
    free(on);
}

int main(int argc, char **argv)
{
    int quick = 0;
    rk_runtime_options ro;
    rk_runtime *rt;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = fopen(argv[++i], "w");
    }
    if (json)
        fputs("[\n", json);
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CPU;
    ro.workers = 2;
    if (rk_runtime_create(&rt, &ro) != RK_OK)
        return 1;
    rk_actor_id e = launch(rt, "echo", echo, 0);
    rk_actor_id c = launch(rt, "counter", counter, sizeof(uint64_t));
    rk_actor_id p0 = launch(rt, "ping", pinger, 0); /* ids 2 and 3: workers 0 and 1 */
    rk_actor_id p1 = launch(rt, "pong", pinger, 0);

    bench_round_trip(rt, e, quick ? 2000 : 100000);
    bench_throughput(rt, c, quick ? 200000 : 5000000, quick ? 3 : 7, 0);
    bench_throughput(rt, c, quick ? 200000 : 5000000, quick ? 3 : 7, 32);
    bench_k2k(rt, p0, p1, quick ? 200 : 2000, 1000);
    rk_runtime_destroy(rt);

    /* One actor per worker, all on one home: without stealing one worker
     * does all the work (100 k msg/s at 10 us each). */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    bench_skew(cores >= 4 ? 4u : 2u, quick ? 200 : 2000, quick ? 3 : 7);
    bench_long(quick ? 5 : 30);

    if (json) {
        fputs("\n]\n", json);
        fclose(json);
    }
    return 0;
}
