/* Per-message cost of tenancy on the send path (CPU backend): the tenant
 * check, the rate quota and flow control, with the quota off and on, in the
 * same process, runs interleaved (off, on, off, on, ...).
 *
 *   bench_tenant [--quick] [--runs R] [--json FILE]
 *
 * Tenant A has no quota; tenant B has a rate quota high enough never to
 * refuse (10^9 msg/s, burst 4e9), so every one of its messages takes the
 * token-bucket step. What is timed, per message (ns), each run a block of
 * messages divided by their number:
 *   route        rk__route alone (validation, lookup, tenant, state, quota,
 *                HLC stamp): the core's check every send path runs
 *   charge       the quota step alone (rk__tenant_charge)
 *   rk_send      host send to an actor, enqueue included (a worker drains
 *                the inbox between blocks, untimed)
 *   rk_ctx_send  K2K send from a handler to an actor of the same tenant,
 *                timed inside the handler
 *   refusal      a cross-tenant host send (refused, counted, no subscriber)
 *   hlc          the HLC stamp alone (rk_hlc_now), which route includes:
 *                for scale, it is most of route's cost
 * Links the static library to reach the internal functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/runtime_internal.h"
#include "stats.h"

#define SEC 1000000000ull

static FILE *json;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, rk_status st)
{
    fprintf(stderr, "%s: %s\n", what, rk_status_name(st));
    exit(1);
}

static void report(const char *name, double *v, size_t n)
{
    rk_stats s = rk_stats_of(v, n);
    printf("%-34s runs=%-3zu median %7.2f ns  min %7.2f  max %7.2f  95%% CI [%.2f, %.2f]\n", name, n, s.median,
           s.min, s.max, s.ci_lo, s.ci_hi);
    if (json)
        fprintf(json, "%s{\"name\":\"%s\",\"unit\":\"ns\",\"runs\":%zu,\"median\":%.3f,\"min\":%.3f,\"max\":%.3f,"
                      "\"ci95\":[%.3f,%.3f]}",
                ftell(json) > 2 ? ",\n" : "", name, s.n, s.median, s.min, s.max, s.ci_lo, s.ci_hi);
}

/* ---- actors -------------------------------------------------------------------------- */

typedef struct spray {
    rk_actor_id dst;
    uint32_t n;
} spray;

static uint64_t g_spray_ns; /* written by the handler, read after its reply */

static rk_status sink(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)state;
    return (m->flags & RK_MSG_F_REQUEST) ? rk_reply(ctx, 0, NULL, 0) : RK_OK;
}

/* Sends n messages to dst, timing the loop; then replies. */
static rk_status sprayer(rk_ctx *ctx, void *state, const rk_msg *m)
{
    spray s;
    uint64_t v = 0, t0;
    (void)state;
    memcpy(&s, rk_msg_payload(m), sizeof s);
    t0 = now_ns();
    for (uint32_t i = 0; i < s.n; i++) {
        rk_status st = rk_ctx_send(ctx, s.dst, 1, &v, sizeof v);
        if (st != RK_OK)
            return st; /* the host sees the actor fail and stops */
    }
    __atomic_store_n(&g_spray_ns, now_ns() - t0, __ATOMIC_RELEASE);
    return rk_reply(ctx, 0, NULL, 0);
}

static const rk_actor_type sink_type = {.name = "sink", .handle = sink};
static const rk_actor_type sprayer_type = {.name = "sprayer", .handle = sprayer};

static rk_actor_id launch(rk_runtime *rt, const char *name, const rk_actor_type *type, uint32_t tenant)
{
    rk_actor_options o;
    rk_actor_id id;
    rk_status st;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = type;
    o.tenant = tenant;
    o.inbox_capacity = 8192;
    st = rk_launch(rt, &o, &id);
    if (st != RK_OK)
        die("launch", st);
    return id;
}

/* Waits until `id`'s inbox is empty (untimed part of a run). */
static void drain(rk_runtime *rt, rk_actor_id id, uint32_t cap)
{
    uint64_t deadline = now_ns() + 10 * SEC;
    uint32_t c = 0;
    while (rk_credits(rt, id, &c) == RK_OK && c < cap) {
        if (now_ns() > deadline) {
            fprintf(stderr, "drain: inbox stuck\n");
            exit(1);
        }
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

/* ---- the measurements ------------------------------------------------------------------- */

typedef struct side {
    const char *tenant;
    rk_actor_id src, dst; /* sprayer and sink of the tenant */
    double *route, *charge, *send, *k2k;
} side;

static rk_msg header_to(rk_actor_id dst, uint32_t tenant)
{
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.type = 1;
    m.dst = dst;
    m.tenant = tenant;
    m.src = RK_ACTOR_HOST;
    m.len = 8;
    return m;
}

static double time_route(rk_runtime *rt, rk_actor_id dst, uint32_t tenant, uint32_t n)
{
    rk_msg m = header_to(dst, tenant);
    rk__actor *a;
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        rk_status st = rk__route(rt, &m, &a);
        if (st != RK_OK)
            die("route", st);
    }
    return (double)(now_ns() - t0) / n;
}

static double time_charge(rk_runtime *rt, rk_actor_id dst, uint32_t tenant, uint32_t n)
{
    rk_msg m = header_to(dst, tenant);
    rk__tenant *t = rk__actor_get(rt, dst)->tenant_rec;
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        rk_status st = rk__tenant_charge(rt, t, &m);
        if (st != RK_OK)
            die("charge", st);
    }
    return (double)(now_ns() - t0) / n;
}

static double time_send(rk_runtime *rt, rk_actor_id dst, uint32_t n)
{
    uint64_t v = 0, t0;
    double ns;
    drain(rt, dst, 8192);
    t0 = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        rk_status st = rk_send(rt, dst, 1, &v, sizeof v);
        if (st != RK_OK)
            die("send", st);
    }
    ns = (double)(now_ns() - t0) / n;
    return ns;
}

static double time_k2k(rk_runtime *rt, rk_actor_id src, rk_actor_id dst, uint32_t n)
{
    spray s = {dst, n};
    rk_msgbuf reply = {.data = NULL, .capacity = 0};
    rk_status st;
    drain(rt, dst, 8192);
    st = rk_call(rt, src, 1, &s, sizeof s, &reply, 10 * SEC);
    if (st != RK_OK)
        die("k2k spray", st);
    return (double)__atomic_load_n(&g_spray_ns, __ATOMIC_ACQUIRE) / n;
}

static double time_refusal(rk_runtime *rt, rk_actor_id dst, uint32_t n)
{
    rk_msg m = header_to(dst, 999);
    uint64_t v = 0, t0 = now_ns();
    for (uint32_t i = 0; i < n; i++)
        if (rk_send_msg(rt, &m, &v) != RK_ETENANT)
            die("refusal", RK_EINTERNAL);
    return (double)(now_ns() - t0) / n;
}

static double time_hlc(rk_runtime *rt, uint32_t n)
{
    uint64_t ts, t0 = now_ns();
    for (uint32_t i = 0; i < n; i++)
        rk_hlc_now(&rt->hlc, &ts);
    return (double)(now_ns() - t0) / n;
}

static void run_side(rk_runtime *rt, side *s, uint32_t tenant, int r, uint32_t n)
{
    s->route[r] = time_route(rt, s->dst, tenant, n);
    s->charge[r] = time_charge(rt, s->dst, tenant, n);
    s->send[r] = time_send(rt, s->dst, n);
    s->k2k[r] = time_k2k(rt, s->src, s->dst, n);
}

static void alloc_side(side *s, int runs)
{
    s->route = calloc((size_t)runs, sizeof(double));
    s->charge = calloc((size_t)runs, sizeof(double));
    s->send = calloc((size_t)runs, sizeof(double));
    s->k2k = calloc((size_t)runs, sizeof(double));
    if (!s->route || !s->charge || !s->send || !s->k2k)
        die("alloc", RK_ENOMEM);
}

static void free_side(side *s)
{
    free(s->route);
    free(s->charge);
    free(s->send);
    free(s->k2k);
}

static double median_of(const double *v, int runs)
{
    double *c = malloc((size_t)runs * sizeof *c);
    double m;
    memcpy(c, v, (size_t)runs * sizeof *c);
    m = rk_stats_of(c, (size_t)runs).median;
    free(c);
    return m;
}

int main(int argc, char **argv)
{
    int runs = 21, quick = 0;
    uint32_t n = 4096; /* per block: half an inbox, so rk_send never meets a full queue */
    rk_runtime_options ro;
    rk_tenant_quota q;
    rk_runtime *rt;
    side a = {.tenant = "no quota"}, b = {.tenant = "rate quota"};
    double *refusal, *hlc;
    rk_status st;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = fopen(argv[++i], "w");
    }
    if (quick)
        runs = 5;
    if (runs < 1)
        runs = 1;
    if (json)
        fputs("[\n", json);
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CPU;
    ro.workers = 2;
    st = rk_runtime_create(&rt, &ro);
    if (st != RK_OK)
        die("runtime", st);
    /* Ids 0/1 and 2/3: each sprayer and its sink on different workers. */
    a.src = launch(rt, "a-src", &sprayer_type, 1);
    a.dst = launch(rt, "a-dst", &sink_type, 1);
    b.src = launch(rt, "b-src", &sprayer_type, 2);
    b.dst = launch(rt, "b-dst", &sink_type, 2);
    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = 1000000000ull;
    q.burst = 4000000000u;
    st = rk_tenant_set_quota(rt, 2, &q);
    if (st != RK_OK)
        die("quota", st);

    alloc_side(&a, runs);
    alloc_side(&b, runs);
    refusal = calloc((size_t)runs, sizeof *refusal);
    hlc = calloc((size_t)runs, sizeof *hlc);
    if (!refusal || !hlc)
        die("alloc", RK_ENOMEM);
    run_side(rt, &a, 1, 0, n); /* warm-up */
    run_side(rt, &b, 2, 0, n);
    for (int r = 0; r < runs; r++) {
        run_side(rt, &a, 1, r, n);
        run_side(rt, &b, 2, r, n);
        refusal[r] = time_refusal(rt, a.dst, n);
        hlc[r] = time_hlc(rt, n);
    }
    printf("%d runs of %u messages each, interleaved; per-message ns\n", runs, n);
    side *sides[2] = {&a, &b};
    char name[64];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "route (%s)", sides[i]->tenant);
        report(name, sides[i]->route, (size_t)runs);
        snprintf(name, sizeof name, "charge (%s)", sides[i]->tenant);
        report(name, sides[i]->charge, (size_t)runs);
        snprintf(name, sizeof name, "rk_send (%s)", sides[i]->tenant);
        report(name, sides[i]->send, (size_t)runs);
        snprintf(name, sizeof name, "rk_ctx_send (%s)", sides[i]->tenant);
        report(name, sides[i]->k2k, (size_t)runs);
    }
    printf("quota on - off, difference of medians: route %+.2f ns, rk_send %+.2f ns, rk_ctx_send %+.2f ns\n",
           median_of(b.route, runs) - median_of(a.route, runs), median_of(b.send, runs) - median_of(a.send, runs),
           median_of(b.k2k, runs) - median_of(a.k2k, runs));
    report("cross-tenant refusal (host)", refusal, (size_t)runs);
    report("hlc stamp alone", hlc, (size_t)runs);

    rk_runtime_destroy(rt);
    free_side(&a);
    free_side(&b);
    free(refusal);
    free(hlc);
    if (json) {
        fputs("\n]\n", json);
        fclose(json);
    }
    return 0;
}
