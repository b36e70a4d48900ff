/* Tenants on the CPU backend: isolation under randomised tenant ids (host
 * sends and K2K from handlers, every refusal counted and the counters
 * agreeing with what the senders saw), launch quotas (actors, queue bytes),
 * the rate quota (host and K2K, recovery, other tenants untouched), the
 * tenant table's bound and the per-tenant metrics.
 *
 * Handlers never call cmocka asserts (they run on worker threads): they
 * count what they saw in atomics, and the test thread checks the counts.
 * Every wait polls a condition with a deadline. */
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

#include "core/runtime_internal.h" /* rk__tenant_take & co.: the CUDA backend's share of a bucket */
#include "rk_test.h"
#include "ringkernel/ringkernel.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define WAIT_LIMIT_NS (60 * SEC)

enum {
    T_PING = 1,  /* count a delivery; check it stayed inside the tenant */
    T_BURST = 2, /* burst_req: send n pings to pseudo-random actors, check each status */
    T_SPRAY = 3, /* spray_req: send n pings to one actor, count the statuses */
    T_HOLD = 4,  /* wait for the gate (at most 10 s), then count a delivery */
};

#define N_TENANTS 4
#define PER_TENANT 2
#define N_ACTORS (N_TENANTS * PER_TENANT)
static const uint32_t k_tenants[N_TENANTS] = {1, 2, 77, 4000000000u};

typedef struct burst_req {
    uint32_t n;
    uint32_t pad_;
    uint64_t seed;
} burst_req;

typedef struct spray_req {
    uint32_t n;
    uint32_t dst;
} spray_req;

/* ---- what the handlers saw ------------------------------------------------- */

static uint32_t g_tenant_of[64];            /* actor id -> tenant, written before any send */
static atomic_ullong g_delivered;           /* pings handled */
static atomic_ullong g_leaks;               /* pings whose tenant was not the receiver's */
static atomic_ullong g_wrong;               /* K2K statuses that contradict the tenants */
static atomic_ullong g_k2k_ok, g_k2k_full;
static atomic_ullong g_k2k_cross_from[N_TENANTS]; /* by sender tenant index */
static atomic_ullong g_k2k_cross_to[N_TENANTS];   /* by receiver tenant index */
static atomic_ullong g_bursts_done;
static atomic_ullong g_spray_ok, g_spray_rate, g_spray_other, g_sprays_done;
static atomic_int g_gate;

static void reset_globals(void)
{
    atomic_store(&g_delivered, 0);
    atomic_store(&g_leaks, 0);
    atomic_store(&g_wrong, 0);
    atomic_store(&g_k2k_ok, 0);
    atomic_store(&g_k2k_full, 0);
    for (int i = 0; i < N_TENANTS; i++) {
        atomic_store(&g_k2k_cross_from[i], 0);
        atomic_store(&g_k2k_cross_to[i], 0);
    }
    atomic_store(&g_bursts_done, 0);
    atomic_store(&g_spray_ok, 0);
    atomic_store(&g_spray_rate, 0);
    atomic_store(&g_spray_other, 0);
    atomic_store(&g_sprays_done, 0);
    atomic_store(&g_gate, 0);
}

static int tenant_index(uint32_t tenant)
{
    for (int i = 0; i < N_TENANTS; i++)
        if (k_tenants[i] == tenant)
            return i;
    return -1;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void on_ping(rk_ctx *ctx, const rk_msg *m)
{
    uint32_t mine = rk_tenant(ctx);
    if (m->tenant != mine || (m->src != RK_ACTOR_HOST && g_tenant_of[m->src] != mine))
        atomic_fetch_add(&g_leaks, 1);
    atomic_fetch_add(&g_delivered, 1);
}

static void on_burst(rk_ctx *ctx, const rk_msg *m)
{
    burst_req b;
    uint32_t mine = rk_tenant(ctx);
    memcpy(&b, rk_msg_payload(m), sizeof b);
    for (uint32_t i = 0; i < b.n; i++) {
        rk_actor_id dst = (rk_actor_id)(xorshift(&b.seed) % N_ACTORS);
        rk_status st = rk_ctx_send(ctx, dst, T_PING, &i, sizeof i);
        if (g_tenant_of[dst] != mine) {
            if (st != RK_ETENANT) {
                atomic_fetch_add(&g_wrong, 1);
                continue;
            }
            atomic_fetch_add(&g_k2k_cross_from[tenant_index(mine)], 1);
            atomic_fetch_add(&g_k2k_cross_to[tenant_index(g_tenant_of[dst])], 1);
        } else if (st == RK_OK) {
            atomic_fetch_add(&g_k2k_ok, 1);
        } else if (st == RK_EFULL) {
            atomic_fetch_add(&g_k2k_full, 1);
        } else {
            atomic_fetch_add(&g_wrong, 1);
        }
    }
    atomic_fetch_add(&g_bursts_done, 1);
}

static void on_spray(rk_ctx *ctx, const rk_msg *m)
{
    spray_req s;
    memcpy(&s, rk_msg_payload(m), sizeof s);
    for (uint32_t i = 0; i < s.n; i++) {
        rk_status st = rk_ctx_send(ctx, s.dst, T_PING, &i, sizeof i);
        atomic_fetch_add(st == RK_OK ? &g_spray_ok : st == RK_ERATE ? &g_spray_rate : &g_spray_other, 1);
    }
    atomic_fetch_add(&g_sprays_done, 1);
}

static rk_status node_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)state;
    switch (m->type) {
    case T_PING:
        on_ping(ctx, m);
        break;
    case T_BURST:
        on_burst(ctx, m);
        break;
    case T_SPRAY:
        on_spray(ctx, m);
        break;
    case T_HOLD: {
        uint64_t deadline = rk_test_now_ns() + 10 * SEC;
        while (!atomic_load(&g_gate) && rk_test_now_ns() < deadline) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        atomic_fetch_add(&g_delivered, 1);
        break;
    }
    }
    return RK_OK;
}

static const rk_actor_type node_type = {.name = "node", .handle = node_handle};

/* ---- helpers ------------------------------------------------------------------- */

static int setup(void **state)
{
    reset_globals();
    *state = NULL;
    return 0;
}

static int teardown(void **state)
{
    atomic_store(&g_gate, 1);
    rk_runtime_destroy(*state);
    return 0;
}

static rk_runtime *start(void **state, uint32_t max_actors)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = max_actors;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    *state = rt;
    return rt;
}

static rk_status try_launch(rk_runtime *rt, const char *name, uint32_t tenant, uint32_t inbox, uint32_t slot,
                            rk_actor_id *id)
{
    rk_actor_options o;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &node_type;
    o.tenant = tenant;
    o.inbox_capacity = inbox;
    o.slot_size = slot;
    return rk_launch(rt, &o, id);
}

static rk_actor_id launch(rk_runtime *rt, const char *name, uint32_t tenant, uint32_t inbox)
{
    rk_actor_id id = RK_ACTOR_NONE;
    assert_int_equal(try_launch(rt, name, tenant, inbox, 256, &id), RK_OK);
    g_tenant_of[id] = tenant;
    return id;
}

static rk_status send_as(rk_runtime *rt, rk_actor_id dst, uint32_t tenant, uint32_t type, const void *p, uint32_t len)
{
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.dst = dst;
    m.tenant = tenant;
    m.len = len;
    return rk_send_msg(rt, &m, p);
}

/* Waits until *counter reaches want; returns whether it did in time. */
static int wait_count(atomic_ullong *counter, uint64_t want)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (atomic_load(counter) < want) {
        if (rk_test_now_ns() > deadline)
            return 0;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

static rk_tenant_metrics tmetrics(rk_runtime *rt, uint32_t tenant)
{
    rk_tenant_metrics m;
    memset(&m, 0xAB, sizeof m);
    assert_int_equal(rk_tenant_metrics_get(rt, tenant, &m), RK_OK);
    assert_int_equal(m.tenant, tenant);
    return m;
}

/* ---- isolation ------------------------------------------------------------------ */

typedef struct host_counts {
    uint64_t ok, full, cross, cross_unknown;
    uint64_t cross_from[N_TENANTS], cross_to[N_TENANTS];
} host_counts;

/* One host send as a random tenant (mostly a real one, sometimes any id) to
 * a random actor; checks the status against the tenants. */
static void host_attempt(rk_runtime *rt, uint64_t *seed, host_counts *hc)
{
    rk_actor_id dst = (rk_actor_id)(xorshift(seed) % N_ACTORS);
    uint64_t r = xorshift(seed);
    uint32_t tenant = (r & 3) ? k_tenants[(r >> 2) % N_TENANTS] : (uint32_t)(r >> 32);
    int from = tenant_index(tenant);
    rk_status st = send_as(rt, dst, tenant, T_PING, &r, sizeof r);

    if (tenant == g_tenant_of[dst]) {
        if (st == RK_EFULL)
            hc->full++;
        else {
            assert_int_equal(st, RK_OK);
            hc->ok++;
        }
        return;
    }
    assert_int_equal(st, RK_ETENANT);
    hc->cross++;
    hc->cross_to[tenant_index(g_tenant_of[dst])]++;
    if (from < 0)
        hc->cross_unknown++;
    else
        hc->cross_from[from]++;
}

static void send_bursts(rk_runtime *rt, uint64_t bursts, uint32_t per_burst, uint64_t *seed)
{
    for (uint64_t i = 0; i < bursts; i++) {
        burst_req b = {per_burst, 0, xorshift(seed) | 1};
        rk_actor_id src = (rk_actor_id)(i % N_ACTORS);
        assert_int_equal(rk_send_wait(rt, src, T_BURST, &b, sizeof b, 10 * SEC), RK_OK);
    }
}

static void check_counters(rk_runtime *rt, const host_counts *hc, uint64_t events_seen, uint64_t events_dropped)
{
    rk_tenant_stats ts;
    uint64_t k2k_cross = 0, sum_in = 0, sum_out = 0;

    assert_int_equal(rk_tenant_stats_get(rt, &ts), RK_OK);
    for (int i = 0; i < N_TENANTS; i++)
        k2k_cross += atomic_load(&g_k2k_cross_from[i]);
    assert_int_equal(ts.cross_refused, hc->cross + k2k_cross);
    assert_int_equal(ts.cross_unattributed, hc->cross_unknown);
    assert_int_equal(ts.cross_lost, 0); /* the CPU backend reports every refusal */
    assert_int_equal(ts.tenants, N_TENANTS);
    for (int i = 0; i < N_TENANTS; i++) {
        rk_tenant_metrics m = tmetrics(rt, k_tenants[i]);
        assert_int_equal(m.refused_cross_out, hc->cross_from[i] + atomic_load(&g_k2k_cross_from[i]));
        assert_int_equal(m.refused_cross_in, hc->cross_to[i] + atomic_load(&g_k2k_cross_to[i]));
        assert_int_equal(m.actors, PER_TENANT);
        sum_in += m.refused_cross_in;
        sum_out += m.refused_cross_out;
    }
    assert_int_equal(sum_in, ts.cross_refused);
    assert_int_equal(sum_out, ts.cross_refused - ts.cross_unattributed);
    /* Every refusal was reported: seen by the subscriber or counted lost. */
    assert_int_equal(events_seen + events_dropped, ts.cross_refused);
}

static void test_cross_tenant_random(void **state)
{
    rk_runtime *rt = start(state, 16);
    uint64_t attempts = rk_test_messages(1000000);
    uint64_t seed = rk_test_now_ns() | 1, seed0 = seed;
    const uint32_t per_burst = 250;
    uint64_t bursts = attempts / 2 / per_burst;
    uint64_t host_attempts = attempts - bursts * per_burst;
    rk_event_sub_options so;
    rk_event_sub *sub;
    host_counts hc;
    rk_event e;
    uint64_t seen = 0;
    char name[32];

    printf("seed %llu, %llu attempts\n", (unsigned long long)seed0, (unsigned long long)attempts);
    memset(&hc, 0, sizeof hc);
    for (int i = 0; i < N_ACTORS; i++) {
        snprintf(name, sizeof name, "t%d-a%d", i % N_TENANTS, i / N_TENANTS);
        launch(rt, name, k_tenants[i % N_TENANTS], 4096);
    }
    rk_event_sub_options_init(&so);
    so.kinds = RK_EVENT_MASK(RK_EVENT_TENANT);
    so.capacity = 1024;
    assert_int_equal(rk_event_subscribe(rt, &so, &sub), RK_OK);

    /* K2K bursts run on the workers while the host sends its own. */
    send_bursts(rt, bursts, per_burst, &seed);
    for (uint64_t i = 0; i < host_attempts; i++)
        host_attempt(rt, &seed, &hc);
    assert_true(wait_count(&g_bursts_done, bursts));
    assert_true(wait_count(&g_delivered, hc.ok + atomic_load(&g_k2k_ok)));

    printf("host: %llu delivered, %llu full, %llu refused (%llu as unknown tenants); "
           "k2k: %llu delivered, %llu full, %llu refused\n",
           (unsigned long long)hc.ok, (unsigned long long)hc.full, (unsigned long long)hc.cross,
           (unsigned long long)hc.cross_unknown, (unsigned long long)atomic_load(&g_k2k_ok),
           (unsigned long long)atomic_load(&g_k2k_full),
           (unsigned long long)(atomic_load(&g_k2k_cross_from[0]) + atomic_load(&g_k2k_cross_from[1]) +
                                atomic_load(&g_k2k_cross_from[2]) + atomic_load(&g_k2k_cross_from[3])));
    assert_int_equal(atomic_load(&g_leaks), 0);
    assert_int_equal(atomic_load(&g_wrong), 0);
    assert_int_equal(atomic_load(&g_delivered), hc.ok + atomic_load(&g_k2k_ok));
    assert_true(hc.cross > 0 && hc.cross_unknown > 0 && atomic_load(&g_k2k_cross_from[0]) > 0);
    while (rk_event_poll(sub, &e, 0) == RK_OK) {
        assert_int_equal(e.kind, RK_EVENT_TENANT);
        assert_int_not_equal(e.tenant, g_tenant_of[e.actor]);
        assert_int_equal(e.value, g_tenant_of[e.actor]);
        seen++;
    }
    check_counters(rt, &hc, seen, rk_event_dropped(sub));
    rk_event_unsubscribe(sub);
}

/* The default rk_send speaks as the receiver's tenant; a foreign tenant in
 * a host header is refused, and nothing reaches the actor. */
static void test_host_send_tenants(void **state)
{
    rk_runtime *rt = start(state, 8);
    rk_actor_id a = launch(rt, "a", 9, 64);
    uint64_t v = 1;
    rk_tenant_stats ts;

    assert_int_equal(rk_send(rt, a, T_PING, &v, sizeof v), RK_OK);
    assert_int_equal(send_as(rt, a, 9, T_PING, &v, sizeof v), RK_OK);
    assert_int_equal(send_as(rt, a, 0, T_PING, &v, sizeof v), RK_ETENANT);
    assert_int_equal(send_as(rt, a, 10, T_PING, &v, sizeof v), RK_ETENANT);
    assert_true(wait_count(&g_delivered, 2));
    assert_int_equal(rk_tenant_stats_get(rt, &ts), RK_OK);
    assert_int_equal(ts.cross_refused, 2);
    assert_int_equal(ts.cross_unattributed, 2);
    assert_int_equal(tmetrics(rt, 9).refused_cross_in, 2);
    assert_int_equal(atomic_load(&g_delivered), 2);
}

/* ---- launch quotas ------------------------------------------------------------------ */

static void test_quota_actors(void **state)
{
    rk_runtime *rt = start(state, 16);
    rk_tenant_quota q, got;
    rk_actor_id id;
    rk_tenant_stats ts;

    rk_tenant_quota_init(&q);
    q.max_actors = 2;
    assert_int_equal(rk_tenant_set_quota(rt, 7, &q), RK_OK);
    assert_int_equal(rk_tenant_get_quota(rt, 7, &got), RK_OK);
    assert_int_equal(got.max_actors, 2);
    launch(rt, "q-a", 7, 64);
    launch(rt, "q-b", 7, 64);
    assert_int_equal(try_launch(rt, "q-c", 7, 64, 256, &id), RK_EQUOTA);
    assert_int_equal(try_launch(rt, "q-c", 7, 64, 256, &id), RK_EQUOTA);
    launch(rt, "other", 8, 64); /* another tenant is not limited */
    assert_int_equal(rk_lookup(rt, "q-c", &id), RK_ENOACTOR);

    rk_tenant_metrics m = tmetrics(rt, 7);
    assert_int_equal(m.actors, 2);
    assert_int_equal(m.refused_quota, 2);
    assert_int_equal(rk_tenant_stats_get(rt, &ts), RK_OK);
    assert_int_equal(ts.quota_refused, 2);

    q.max_actors = 3; /* raising the quota lets the next one in */
    assert_int_equal(rk_tenant_set_quota(rt, 7, &q), RK_OK);
    launch(rt, "q-c", 7, 64);
    assert_int_equal(tmetrics(rt, 7).actors, 3);
}

static void test_quota_queue_bytes(void **state)
{
    rk_runtime *rt = start(state, 16);
    rk_tenant_quota q;
    rk_actor_id id;

    rk_tenant_quota_init(&q);
    q.max_queue_bytes = 2 * 64 * 256;
    assert_int_equal(rk_tenant_set_quota(rt, 3, &q), RK_OK);
    assert_int_equal(try_launch(rt, "b-1", 3, 64, 256, &id), RK_OK);
    assert_int_equal(try_launch(rt, "b-big", 3, 128, 256, &id), RK_EQUOTA); /* 1.5x what is left */
    assert_int_equal(try_launch(rt, "b-2", 3, 32, 512, &id), RK_OK);        /* exactly what is left */
    assert_int_equal(try_launch(rt, "b-3", 3, 2, 64, &id), RK_EQUOTA);      /* one byte over is over */
    assert_int_equal(tmetrics(rt, 3).queue_bytes, 2 * 64 * 256);
    assert_int_equal(tmetrics(rt, 3).refused_quota, 2);
    assert_int_equal(tmetrics(rt, 3).actors, 2);
}

/* ---- the rate quota ---------------------------------------------------------------- */

static void test_quota_rate_host(void **state)
{
    rk_runtime *rt = start(state, 8);
    rk_actor_id a = launch(rt, "limited", 5, 4096);
    rk_actor_id b = launch(rt, "free", 6, 4096);
    const uint64_t rate = 1000, burst = 50, n = 2000;
    uint64_t ok = 0, refused = 0, t0, t1, v = 0;
    rk_tenant_quota q;
    rk_tenant_stats ts;

    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = rate;
    q.burst = (uint32_t)burst;
    t0 = rk_test_now_ns(); /* tokens are earned from the quota's start */
    assert_int_equal(rk_tenant_set_quota(rt, 5, &q), RK_OK);
    for (uint64_t i = 0; i < n; i++) {
        rk_status st = rk_send(rt, a, T_PING, &v, sizeof v);
        if (st == RK_OK)
            ok++;
        else {
            assert_int_equal(st, RK_ERATE);
            refused++;
        }
    }
    t1 = rk_test_now_ns();
    /* The first `burst` conform whatever the timing; beyond them only what
     * the rate earned while the loop ran. */
    assert_true(ok >= burst);
    assert_true(ok <= burst + rate * (t1 - t0) / SEC + 1);
    assert_int_equal(ok + refused, n);
    assert_int_equal(tmetrics(rt, 5).refused_rate, refused);
    assert_int_equal(rk_tenant_stats_get(rt, &ts), RK_OK);
    assert_int_equal(ts.rate_refused, refused);

    /* Another tenant is not limited. */
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(rk_send(rt, b, T_PING, &v, sizeof v), RK_OK);

    /* The bucket refills: a send goes through again soon. */
    uint64_t deadline = rk_test_now_ns() + 5 * SEC;
    rk_status st;
    while ((st = rk_send(rt, a, T_PING, &v, sizeof v)) == RK_ERATE && rk_test_now_ns() < deadline) {
        struct timespec ts2 = {0, 100000};
        nanosleep(&ts2, NULL);
    }
    assert_int_equal(st, RK_OK);

    /* Without the quota nothing is refused. */
    rk_tenant_quota_init(&q);
    assert_int_equal(rk_tenant_set_quota(rt, 5, &q), RK_OK);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(rk_send(rt, a, T_PING, &v, sizeof v), RK_OK);
    assert_true(wait_count(&g_delivered, ok + 1 + 2 * n));
}

/* What the CUDA backend takes from a tenant's bucket for its actors' sends
 * on the GPU comes out of the same budget as the host's sends: taken
 * tokens are gone for the host, and refusals reported from elsewhere are
 * counted. With takers and host senders racing, no more than the burst
 * plus what the rate earned is ever handed out. */
typedef struct taker {
    rk__tenant *t;
    atomic_int *stop;
    int64_t kept; /* taken */
} taker;

static void *taker_main(void *arg)
{
    taker *k = arg;
    while (!atomic_load(k->stop))
        k->kept += rk__tenant_take(k->t, 7);
    return NULL;
}

static void test_rate_shared_with_device(void **state)
{
    rk_runtime *rt = start(state, 8);
    rk_actor_id a = launch(rt, "shared", 9, 4096);
    const uint64_t rate = 2000, burst = 40;
    rk_tenant_quota q;
    rk__tenant *t;
    rk_tenant_stats ts;
    rk_event_sub_options so;
    rk_event_sub *sub;
    rk_event ev;
    uint64_t v = 0, sent = 0, t0, t1, before;
    int64_t kept = 0;
    rk_status st;
    static atomic_int stop;
    taker k[2];
    pthread_t th[2];

    /* A slow rate first (a token per 100 ms), so that none is earned while
     * the exact counts below are checked. */
    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = 10;
    q.burst = (uint32_t)burst;
    t0 = rk_test_now_ns();
    assert_int_equal(rk_tenant_set_quota(rt, 9, &q), RK_OK);
    t = rk__tenant_find(rt, 9);
    assert_non_null(t);
    /* All at once, at most what is there; then nothing is left for the host. */
    assert_int_equal(rk__tenant_take(t, 15), 15);
    {
        int64_t rest = rk__tenant_take(t, 1000);
        assert_true(rest == (int64_t)burst - 15 || (rest > (int64_t)burst - 15 && rk_test_now_ns() - t0 >= SEC / 10));
    }
    st = rk_send(rt, a, T_PING, &v, sizeof v);
    assert_true(st == RK_ERATE || (st == RK_OK && rk_test_now_ns() - t0 >= SEC / 10)); /* unless one was earned */
    assert_int_equal(rk__tenant_take(t, 0), 0);
    (void)launch(rt, "unlimited", 10, 64);
    assert_int_equal(rk__tenant_take(rk__tenant_find(rt, 10), 5), 0); /* no rate quota: nothing to take */

    /* Refusals counted elsewhere: the tenant's count, the runtime's, one event. */
    rk_event_sub_options_init(&so);
    so.kinds = RK_EVENT_MASK(RK_EVENT_QUOTA);
    assert_int_equal(rk_event_subscribe(rt, &so, &sub), RK_OK);
    before = tmetrics(rt, 9).refused_rate; /* the host's refusal above, if it came */
    rk__tenant_rate_refused(rt, t, 17);
    assert_int_equal(tmetrics(rt, 9).refused_rate, before + 17);
    assert_int_equal(rk_tenant_stats_get(rt, &ts), RK_OK);
    assert_int_equal(ts.rate_refused, before + 17);
    assert_int_equal(rk_event_poll(sub, &ev, SEC), RK_OK);
    assert_int_equal(ev.kind, RK_EVENT_QUOTA);
    assert_int_equal(ev.tenant, 9);
    assert_int_equal(ev.value, RK_ERATE);
    rk_event_unsubscribe(sub);

    /* Racing: two takers keep what they take while the host sends;
     * together they never get more than the bucket allows. */
    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = rate;
    q.burst = (uint32_t)burst;
    t0 = rk_test_now_ns();
    assert_int_equal(rk_tenant_set_quota(rt, 9, &q), RK_OK);
    atomic_store(&stop, 0);
    for (int i = 0; i < 2; i++) {
        k[i] = (taker){t, &stop, 0};
        assert_int_equal(pthread_create(&th[i], NULL, taker_main, &k[i]), 0);
    }
    for (int i = 0; i < 20000; i++)
        sent += rk_send(rt, a, T_PING, &v, sizeof v) == RK_OK;
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        kept += k[i].kept;
    }
    t1 = rk_test_now_ns();
    assert_true((uint64_t)kept + sent <= burst + rate * (t1 - t0) / SEC + 1);
    assert_true((uint64_t)kept + sent > 0);
}

/* Handlers of a limited tenant get RK_ERATE from rk_ctx_send. */
static void test_quota_rate_k2k(void **state)
{
    rk_runtime *rt = start(state, 8);
    rk_actor_id src = launch(rt, "src", 5, 64);
    rk_actor_id sink = launch(rt, "sink", 5, 1024);
    const uint64_t rate = 1000, burst = 50;
    spray_req s = {500, sink};
    rk_tenant_quota q;
    uint64_t ok, limit, t0;

    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = rate;
    q.burst = (uint32_t)burst;
    t0 = rk_test_now_ns();
    assert_int_equal(rk_tenant_set_quota(rt, 5, &q), RK_OK);
    /* The spray request itself takes one token. */
    assert_int_equal(rk_send(rt, src, T_SPRAY, &s, sizeof s), RK_OK);
    assert_true(wait_count(&g_sprays_done, 1));
    ok = atomic_load(&g_spray_ok);
    /* At most what the bucket held and earned from the quota's start until
     * now, which the spray lies within. */
    limit = burst + rate * (rk_test_now_ns() - t0) / SEC + 1;
    assert_int_equal(atomic_load(&g_spray_other), 0);
    assert_int_equal(ok + atomic_load(&g_spray_rate), s.n);
    assert_true(ok >= burst - 1);
    assert_true(ok <= limit);
    assert_true(atomic_load(&g_spray_rate) > 0);
    assert_int_equal(tmetrics(rt, 5).refused_rate, atomic_load(&g_spray_rate));
    assert_true(wait_count(&g_delivered, ok));
}

/* A refusal before the rate check costs no token; a send the queue then
 * refuses (RK_EFULL) gives its token back. */
static void test_rate_tokens_kept(void **state)
{
    rk_runtime *rt = start(state, 8);
    rk_actor_id a = launch(rt, "r", 12, 2);
    rk_tenant_quota q;
    uint64_t v = 0, t0;
    rk_status last;

    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = 1; /* the slowest refill: one token a second */
    q.burst = 3;
    assert_int_equal(rk_deactivate(rt, a), RK_OK);
    t0 = rk_test_now_ns();
    assert_int_equal(rk_tenant_set_quota(rt, 12, &q), RK_OK);
    assert_int_equal(rk_send(rt, a, T_PING, &v, sizeof v), RK_ESTATE); /* no token */
    assert_int_equal(rk_activate(rt, a), RK_OK);
    assert_int_equal(rk_send(rt, a, T_HOLD, &v, sizeof v), RK_OK); /* token 1; holds its slot */
    assert_int_equal(rk_send(rt, a, T_PING, &v, sizeof v), RK_OK); /* token 2; the inbox is full */
    assert_int_equal(rk_send(rt, a, T_PING, &v, sizeof v), RK_EFULL); /* token 3, given back */
    assert_int_equal(tmetrics(rt, 12).refused_full, 1);
    atomic_store(&g_gate, 1);
    assert_true(wait_count(&g_delivered, 2));
    /* The worker frees both slots after the batch's last handler returns:
     * until then the send below would be refused RK_EFULL. */
    {
        uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
        uint32_t c = 0;
        while (rk_credits(rt, a, &c) == RK_OK && c != 2 && rk_test_now_ns() < deadline)
            rk_test_sleep_ns(200000);
        assert_int_equal(c, 2);
    }
    assert_int_equal(rk_send(rt, a, T_PING, &v, sizeof v), RK_OK); /* token 3 */
    last = rk_send(rt, a, T_PING, &v, sizeof v);
    /* Out of tokens - unless the machine stalled for the second it takes
     * to earn the next one, which this cannot tell from a refund. */
    if (rk_test_now_ns() - t0 < 900 * MS)
        assert_int_equal(last, RK_ERATE);
}

/* ---- bounds and bad input ------------------------------------------------------------ */

static void test_tenant_table_bound(void **state)
{
    rk_runtime *rt = start(state, 4);
    rk_tenant_quota q;
    uint32_t ids[8], total = 0;

    rk_tenant_quota_init(&q);
    for (uint32_t t = 0; t < 4 + RK_TENANT_EXTRA; t++)
        assert_int_equal(rk_tenant_set_quota(rt, 1000 + t * 7919, &q), RK_OK);
    assert_int_equal(rk_tenant_set_quota(rt, 999, &q), RK_ENOMEM);
    assert_int_equal(rk_tenant_set_quota(rt, 1000, &q), RK_OK); /* known ones still can */
    assert_int_equal(rk_tenant_list(rt, ids, 8, &total), RK_E2BIG);
    assert_int_equal(total, 4 + RK_TENANT_EXTRA);
}

static void test_tenant_bad_input(void **state)
{
    rk_runtime *rt = start(state, 4);
    rk_tenant_quota q;
    rk_tenant_metrics m;
    rk_tenant_stats ts;
    uint32_t ids[4], total = 99;

    rk_tenant_quota_init(&q);
    assert_int_equal(rk_tenant_set_quota(NULL, 1, &q), RK_EINVAL);
    assert_int_equal(rk_tenant_set_quota(rt, 1, NULL), RK_EINVAL);
    q.max_msgs_per_s = 2000000000ull;
    assert_int_equal(rk_tenant_set_quota(rt, 1, &q), RK_EINVAL);
    assert_int_equal(rk_tenant_get_quota(rt, 1, &q), RK_ENOTFOUND);
    assert_int_equal(rk_tenant_get_quota(rt, 1, NULL), RK_EINVAL);
    assert_int_equal(rk_tenant_metrics_get(rt, 1, &m), RK_ENOTFOUND);
    assert_int_equal(rk_tenant_metrics_get(rt, 1, NULL), RK_EINVAL);
    assert_int_equal(rk_tenant_metrics_get(NULL, 1, &m), RK_EINVAL);
    assert_int_equal(rk_tenant_stats_get(NULL, &ts), RK_EINVAL);
    assert_int_equal(rk_tenant_list(rt, NULL, 4, &total), RK_EINVAL);
    assert_int_equal(rk_tenant_list(rt, ids, 4, NULL), RK_EINVAL);
    assert_int_equal(rk_tenant_list(rt, ids, 4, &total), RK_OK);
    assert_int_equal(total, 0);
    rk_tenant_quota_init(NULL);
}

static void test_tenant_metrics(void **state)
{
    rk_runtime *rt = start(state, 8);
    rk_actor_id a = launch(rt, "m-a", 4, 64);
    rk_actor_id b = launch(rt, "m-b", 4, 128);
    burst_req req = {0, 0, 1};
    uint64_t v = 0;
    rk_tenant_metrics m;

    for (int i = 0; i < 10; i++)
        assert_int_equal(rk_send(rt, i % 2 ? a : b, T_PING, &v, sizeof v), RK_OK);
    assert_true(wait_count(&g_delivered, 10));
    assert_int_equal(rk_send(rt, a, T_BURST, &req, sizeof req), RK_OK);
    assert_true(wait_count(&g_bursts_done, 1));
    /* The worker counts a message and frees its slot after the handler
     * returns, so the burst's count and depth may lag g_bursts_done. */
    {
        uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
        m = tmetrics(rt, 4);
        while ((m.msgs_in < 11 || m.queue_depth != 0) && rk_test_now_ns() < deadline) {
            rk_test_sleep_ns(200000);
            m = tmetrics(rt, 4);
        }
    }
    assert_int_equal(m.actors, 2);
    assert_int_equal(m.queue_bytes, (64 + 128) * 256);
    assert_int_equal(m.msgs_in, 11);
    assert_int_equal(m.msgs_out, 0);
    assert_int_equal(m.queue_depth, 0);
    assert_int_equal(m.refused_cross_in + m.refused_cross_out + m.refused_rate + m.refused_quota, 0);
    rk_runtime_shutdown(rt, NULL);
    assert_int_equal(rk_tenant_metrics_get(rt, 4, &m), RK_ESHUTDOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cross_tenant_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_send_tenants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_actors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_queue_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_rate_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_rate_k2k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_shared_with_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_tokens_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_table_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
