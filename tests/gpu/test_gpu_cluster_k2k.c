/* The cluster tier of K2K (Hopper): in a kernel launched as thread-block
 * clusters, actors whose blocks share a cluster message each other through
 * distributed shared memory, the others through global memory, with the
 * same send API.
 *   - placement: rk_actor_options.near puts an actor in the cluster of
 *     another (rk_control.block tells where); an id that names no actor is
 *     refused;
 *   - a token passed RK_STRESS_MESSAGES times (default 10^6) around relays
 *     that all share one cluster (the cluster tier alone) arrives intact,
 *     then around relays spread over clusters (both tiers, checked to be
 *     both in use);
 *   - fan-in inside one cluster: four senders on one shared-memory ring,
 *     which stays full, each sender's order kept;
 *   - shutdown: what a cluster-tier ring still holds is dead-lettered
 *     (RK_ESHUTDOWN) and counted in the shutdown report, none lost;
 *   - a group of two members on this GPU: RK_PLACE_NEAR puts the actor on
 *     the near actor's member and in its cluster, and a token passes
 *     between them (up to 10^4 times; left out under compute-sanitizer,
 *     RKT_UNDER_TOOL, where the hops are 200 at most).
 * RK_CLUSTER_SKIP=rings,fan_in,shutdown,group leaves cases out.
 * Exits 77 without a GPU or without clusters (before sm_90). */
#include "gpu_test.h"
#include "ringkernel/group.h"

#define CS 8 /* blocks per cluster (portable) */

static rk_runtime *cluster_runtime(uint32_t max_actors)
{
    rk_runtime_options o;
    rk_device_info d;
    if (rk_device_query(0, &d) != RK_OK) {
        printf("SKIP: no usable CUDA device\n");
        exit(RK_TEST_SKIP);
    }
    if (!rk_device_supports_clusters(&d)) {
        printf("SKIP: %s has no thread-block clusters\n", d.name);
        exit(RK_TEST_SKIP);
    }
    rkt_options(&o, max_actors, &rkt_program);
    o.cluster_size = CS;
    o.drain_timeout_ns = 200 * RKT_MS;
    return rkt_runtime_with(&o);
}

static uint32_t block_of(rk_runtime *rt, rk_actor_id id)
{
    rk_control c;
    RKT_CHECK_ST(rk_actor_control(rt, id, &c), RK_OK);
    RKT_CHECK(c.block != 0);
    return c.block;
}

/* The actors' counts of messages handled from (in) and put into (out)
 * cluster-tier rings, once they reach want_in and want_out (both 0: once
 * they settle): blocks flush counters when idle, which under
 * compute-sanitizer may take longer than two looks 20 ms apart. */
static void cluster_counts(rk_runtime *rt, const rk_actor_id *ids, uint32_t n, uint64_t want_in, uint64_t want_out,
                           uint64_t *in, uint64_t *out)
{
    uint64_t end = rk_test_now_ns() + (getenv("RKT_UNDER_TOOL") ? 30 : 2) * RKT_SEC;
    uint64_t last_in = UINT64_MAX, last_out = UINT64_MAX;
    for (;;) {
        rk_control c;
        *in = *out = 0;
        for (uint32_t i = 0; i < n; i++) {
            RKT_CHECK_ST(rk_actor_control(rt, ids[i], &c), RK_OK);
            *in += c.k2k_cluster_in;
            *out += c.k2k_cluster_out;
        }
        if (want_in || want_out ? *in >= want_in && *out >= want_out : *in == last_in && *out == last_out)
            return;
        if (rk_test_now_ns() > end)
            return;
        last_in = *in;
        last_out = *out;
        rk_test_sleep_ns(20 * RKT_MS);
    }
}

static rk_actor_id launch_near(rk_runtime *rt, const char *name, uint32_t type, rk_actor_id near)
{
    rk_actor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &rkt_types[type];
    o.near = near;
    RKT_CHECK_ST(rk_launch(rt, &o, &id), RK_OK);
    return id;
}

/* Passes a token `hops` times around relays r[0..n) and checks it; the
 * ns per hop. */
static double ring(rk_runtime *rt, const rk_actor_id *r, uint32_t n, uint64_t hops)
{
    rkt_ring_setup(rt, r, n);
    return (double)rkt_ring_pass(rt, r[0], hops, 120 * RKT_SEC, NULL) / (double)hops;
}

static void placement_and_rings(uint64_t hops)
{
    rk_runtime *rt = cluster_runtime(48);
    rk_actor_id in[CS - 1], spread[16], id;
    uint64_t cin, cout, spread_cluster, spread_hops;
    rk_actor_options o;
    rk_async_error err;
    uint32_t i, same = 0, cross = 0;
    char name[32];
    double ns_in, ns_spread;

    /* Relays all in the cluster of the first: CS - 1 always fit, as even
     * the cluster of the supervisor block (0) has CS - 1 for actors. */
    in[0] = rkt_launch(rt, "in0", RKT_RELAY);
    for (i = 1; i < CS - 1; i++) {
        snprintf(name, sizeof name, "in%u", i);
        in[i] = launch_near(rt, name, RKT_RELAY, in[0]);
        RKT_CHECK(block_of(rt, in[i]) / CS == block_of(rt, in[0]) / CS);
    }
    rk_actor_options_init(&o);
    o.name = "nowhere";
    o.type = &rkt_types[RKT_RELAY];
    o.near = 4000;
    RKT_CHECK_ST(rk_launch(rt, &o, &id), RK_ENOACTOR);
    ns_in = ring(rt, in, CS - 1, hops);
    /* Every hop but the host's first went through the cluster tier. */
    cluster_counts(rt, in, CS - 1, hops - 1, hops - 1, &cin, &cout);
    RKT_CHECK(cin == hops - 1 && cout == hops - 1);

    /* Sixteen more, placed as the runtime likes: more than one cluster
     * holds, so the ring crosses clusters, and neighbours share some. */
    for (i = 0; i < 16; i++) {
        snprintf(name, sizeof name, "spread%u", i);
        spread[i] = rkt_launch(rt, name, RKT_RELAY);
    }
    for (i = 0; i < 16; i++) {
        if (block_of(rt, spread[i]) / CS == block_of(rt, spread[(i + 1) % 16]) / CS)
            same++;
        else
            cross++;
    }
    RKT_CHECK(same > 0 && cross > 0);
    /* At least 64 hops: with the neighbours of 8 in a row in one cluster,
     * the first crossing is the 8th hop. */
    spread_hops = hops > 64 ? hops : 64;
    ns_spread = ring(rt, spread, 16, spread_hops);
    /* Both tiers carried hops: those between neighbours of one cluster. */
    cluster_counts(rt, spread, 16, 0, 0, &cin, &cout);
    RKT_CHECK(cin == cout && cout > 0 && cout < spread_hops - 1);
    spread_cluster = cout;
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_EEMPTY);
    rk_runtime_destroy(rt);

    /* The tier turned off: the same ring in one cluster, all through the
     * global ring. */
    RKT_CHECK(setenv("RK_CUDA_CLUSTER_K2K_CAPACITY", "0", 1) == 0);
    rt = cluster_runtime(16);
    in[0] = rkt_launch(rt, "off0", RKT_RELAY);
    for (i = 1; i < CS - 1; i++) {
        snprintf(name, sizeof name, "off%u", i);
        in[i] = launch_near(rt, name, RKT_RELAY, in[0]);
    }
    ring(rt, in, CS - 1, hops / 10 ? hops / 10 : 2);
    cluster_counts(rt, in, CS - 1, 0, 0, &cin, &cout);
    RKT_CHECK(cin == 0 && cout == 0);
    rk_runtime_destroy(rt);
    RKT_CHECK(setenv("RK_CUDA_CLUSTER_K2K_CAPACITY", "32", 1) == 0);
    printf("cluster tier: placement beside an actor, a bad one refused; %llu hops on %u relays in one cluster, all "
           "through DSMEM (%.0f ns a hop); %llu hops on 16 relays over clusters, %llu of them through DSMEM (%u of "
           "16 neighbours share a cluster; %.0f ns a hop); none with the tier off; every token intact: ok\n",
           (unsigned long long)hops, CS - 1, ns_in, (unsigned long long)spread_hops, (unsigned long long)spread_cluster,
           same, ns_spread);
}

static void fan_in(uint64_t n)
{
    enum { SENDERS = 4 };
    rk_runtime *rt = cluster_runtime(16);
    rk_actor_id sink = rkt_launch(rt, "sink", RKT_FANIN), b[SENDERS];
    rkt_fanin_state st;
    rk_msgbuf mb = {.data = &st, .capacity = sizeof st};
    uint64_t end = rk_test_now_ns() + (getenv("RKT_UNDER_TOOL") ? 300 : 60) * RKT_SEC;
    char name[32];
    uint32_t i;
    rk_async_error err;
    for (i = 0; i < SENDERS; i++) {
        rkt_burst go = {sink, i, n, 0, 0};
        snprintf(name, sizeof name, "sender%u", i);
        b[i] = launch_near(rt, name, RKT_FANIN, sink);
        RKT_CHECK(block_of(rt, b[i]) / CS == block_of(rt, sink) / CS);
        RKT_CHECK_ST(rk_send(rt, b[i], RKT_MSG_BURST, &go, sizeof go), RK_OK);
    }
    do {
        RKT_CHECK_ST(rk_call(rt, sink, RKT_MSG_GET, NULL, 0, &mb, 5 * RKT_SEC), RK_OK);
    } while (st.received < SENDERS * n && st.errors == 0 && rk_test_now_ns() < end);
    if (st.errors != 0 || st.received != SENDERS * n) {
        printf("fan-in: received %llu of %llu, %llu out of order or damaged; per sender:",
               (unsigned long long)st.received, (unsigned long long)(SENDERS * n), (unsigned long long)st.errors);
        for (i = 0; i < SENDERS; i++)
            printf(" %llu", (unsigned long long)st.expected[i]);
        printf("\n");
        while (rk_runtime_error(rt, &err) == RK_OK)
            printf("fan-in: asynchronous error: actor %u, %s\n", (unsigned)err.actor, rk_status_name(err.status));
    }
    RKT_CHECK(st.errors == 0 && st.received == SENDERS * n);
    for (i = 0; i < SENDERS; i++)
        RKT_CHECK(st.expected[i] == n);
    {
        uint64_t cin, cout;
        cluster_counts(rt, b, SENDERS, 0, SENDERS * n, &cin, &cout);
        RKT_CHECK(cout == SENDERS * n);
        cluster_counts(rt, &sink, 1, SENDERS * n, 0, &cin, &cout);
        RKT_CHECK(cin == SENDERS * n);
    }
    rk_runtime_destroy(rt);
    printf("cluster tier: fan-in of %d x %llu messages inside one cluster, each sender's order kept: ok\n", SENDERS,
           (unsigned long long)n);
}

/* A busy receiver's cluster-tier ring holds five messages at the stop. */
static void shutdown_dead_letters(void)
{
    rk_runtime *rt = cluster_runtime(8);
    rk_actor_id sl = rkt_launch(rt, "sleeper", RKT_SLEEPER), p = launch_near(rt, "probe", RKT_PROBE, sl);
    rkt_wait w = {0, 60 * RKT_SEC}; /* ends at the stop (rk_dstopping) */
    rkt_probe pr = {sl, 24, 0, 5, 0, 0};
    int32_t pst = -1;
    rk_msgbuf mb = {.data = &pst, .capacity = sizeof pst};
    rk_shutdown_report rep;
    rk_dead_letter dl;
    uint64_t ours = 0;
    RKT_CHECK(block_of(rt, p) / CS == block_of(rt, sl) / CS);
    RKT_CHECK_ST(rk_send(rt, sl, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
    rk_test_sleep_ns(100 * RKT_MS); /* inside the WAIT */
    RKT_CHECK_ST(rk_call(rt, p, RKT_MSG_PROBE, &pr, sizeof pr, &mb, 5 * RKT_SEC), RK_OK);
    RKT_CHECK(pst == RK_OK);
    {
        /* The five went into the sleeper's cluster-tier ring. */
        uint64_t cin, cout;
        cluster_counts(rt, &p, 1, 0, 5, &cin, &cout);
        RKT_CHECK(cout == 5);
    }
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    while (rk_dead_letter_pop(rt, &dl, NULL) == RK_OK)
        ours += dl.hdr.dst == sl && dl.hdr.src == p && dl.hdr.type == RKT_MSG_NOP && dl.reason == RK_ESHUTDOWN;
    RKT_CHECK(ours == 5);
    RKT_CHECK(rep.timed_out && rep.dead_lettered >= 5);
    rk_runtime_destroy(rt);
    printf("cluster tier: 5 messages left in a cluster-tier ring at shutdown dead-lettered (RK_ESHUTDOWN), "
           "report %llu: ok\n",
           (unsigned long long)rep.dead_lettered);
}

static void group_near(uint64_t hops)
{
    rk_group_options o;
    rk_group *g = NULL;
    rk_actor_options ao;
    rk_actor_id x, y, r[2];
    rk_runtime *m;
    char name[16];
    /* Two members share the GPU: 32 blocks each, four clusters of 8. */
    RKT_CHECK(setenv("RK_CUDA_BLOCKS", "32", 1) == 0);
    rk_group_options_init(&o);
    rkt_options(&o.runtime, 16, &rkt_program);
    o.runtime.cluster_size = CS;
    o.members = 2;
    o.devices[0] = 0;
    o.devices[1] = 0;
    RKT_CHECK_ST(rk_group_create(&g, &o), RK_OK);
    for (int i = 0; i < 2; i++) {
        rk_placement on = {RK_PLACE_MEMBER, 1, 0};
        rk_actor_options_init(&ao);
        snprintf(name, sizeof name, "g%d", i);
        ao.name = name;
        ao.type = &rkt_types[RKT_RELAY];
        if (i == 1)
            on = (rk_placement){RK_PLACE_NEAR, 0, r[0]};
        RKT_CHECK_ST(rk_group_launch(g, &ao, &on, &r[i]), RK_OK);
    }
    x = r[0];
    y = r[1];
    RKT_CHECK(rk_gid_member(x) == 1 && rk_gid_member(y) == 1);
    m = rk_group_member(g, 1);
    RKT_CHECK(block_of(m, rk_gid_local(x)) / CS == block_of(m, rk_gid_local(y)) / CS);
    ring(m, (rk_actor_id[]){rk_gid_local(x), rk_gid_local(y)}, 2, hops);
    rk_group_destroy(g, NULL);
    RKT_CHECK(unsetenv("RK_CUDA_BLOCKS") == 0);
    printf("cluster tier: a group's RK_PLACE_NEAR places on the near actor's member and in its cluster, %llu hops "
           "between them: ok\n",
           (unsigned long long)hops);
}

int main(void)
{
    /* Under compute-sanitizer a DSMEM hop takes 0.15 ms (memcheck) and
     * more under racecheck: 200 hops at most there, and no group, whose
     * two runtimes on one GPU test_gpu_group runs under the tools. */
    const int tool = getenv("RKT_UNDER_TOOL") != NULL;
    uint64_t hops = rk_test_messages(1000000ull);
    if (tool && hops > 200)
        hops = 200;
    /* The tier is off unless asked for. RK_CLUSTER_SKIP leaves cases out
     * (rings, fan_in, shutdown, group), e.g. to run one under a tool. */
    RKT_CHECK(setenv("RK_CUDA_CLUSTER_K2K_CAPACITY", "32", 1) == 0);
    if (rkt_stage_on("RK_CLUSTER_SKIP", "rings"))
        placement_and_rings(hops);
    if (rkt_stage_on("RK_CLUSTER_SKIP", "fan_in"))
        fan_in(hops / 50 ? hops / 50 : 1);
    if (rkt_stage_on("RK_CLUSTER_SKIP", "shutdown"))
        shutdown_dead_letters();
    if (tool)
        printf("cluster tier: the group case left out under a tool (RKT_UNDER_TOOL)\n");
    else if (rkt_stage_on("RK_CLUSTER_SKIP", "group"))
        group_near(hops < 10000 ? hops : 10000);
    return 0;
}
