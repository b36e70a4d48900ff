/* Light actors in the runtime's kernel (ringkernel/light.h) against block
 * actors, in one process on one GPU:
 *   - round trip host -> actor -> host: rk_light_post + rk_light_recv to a
 *     light echo, and rk_call to a block echo (the same work);
 *   - a token passed between two light actors inside the kernel, on one
 *     home (the local queue), across homes (inboxes) and across the two
 *     homes of a thread-block cluster (DSMEM): time per hop;
 *   - many tokens at once over many actors: hops per second, without and
 *     with stealing, without and with clusters of 8, against the same
 *     tokens between block actors (K2K).
 * Options: --trials N (round trips), --hops N (per token), --tokens N,
 * --actors N (light actors for the token run), --json FILE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/bench_gpu.h"
#include "ringkernel/device.cuh"
#include "ringkernel/ringkernel.h"

enum { LB_BLOCK_ECHO = 0, LB_BLOCK_TOKEN = 1, LB_ECHO = 2, LB_TOKEN = 3, LB_NTYPES };
enum { LB_MSG_ECHO = 1, LB_MSG_TOKEN = 2, LB_MSG_SETUP = 3 };

/* A token: hops left, where to go next (every `stride`-th actor from
 * `first`, among `n`), how many hops it made. */
typedef struct lb_token {
    uint32_t first, n, stride, pad;
    uint64_t left, made;
} lb_token;

typedef struct lb_none {
    uint32_t unused;
} lb_none;

typedef struct lb_peers {
    uint32_t first, n;
} lb_peers;

static __device__ rk_status lb_block_echo(rk_dctx *c, lb_none *s, const rk_msg *m)
{
    (void)s;
    return rk_dreply(c, m->type, rk_msg_payload(m), m->len);
}

/* Block actors pass the token by K2K; the last hop goes to the host. */
static __device__ rk_status lb_block_token(rk_dctx *c, lb_none *s, const rk_msg *m)
{
    lb_token t;
    (void)s;
    memcpy(&t, rk_msg_payload(m), sizeof t);
    t.made++;
    if (t.left-- == 0)
        return rk_dsend(c, RK_ACTOR_HOST, LB_MSG_TOKEN, &t, sizeof t);
    const uint32_t self = rk_dself(c) - t.first;
    return rk_dsend_wait(c, t.first + (self + t.stride) % t.n, LB_MSG_TOKEN, &t, sizeof t, 1000000000ull);
}

/* To the host, waiting while the home's ring to it is full: the host
 * empties it on its own, so the wait ends (a wait for an inbox this home
 * drains would not). */
static __device__ rk_status lb_to_host(rk_ldctx *c, uint32_t type, const void *p, uint32_t len)
{
    rk_status st;
    while ((st = rk_ldsend(c, RK_ACTOR_HOST, type, p, len)) == RK_EFULL)
        __nanosleep(1000);
    return st;
}

static __device__ rk_status lb_echo(rk_ldctx *c, lb_none *s, const rk_lmsg *m)
{
    (void)s;
    return lb_to_host(c, m->type, m->data, RK_LIGHT_PAYLOAD);
}

static __device__ rk_status lb_token_handle(rk_ldctx *c, lb_none *s, const rk_lmsg *m)
{
    lb_token t;
    (void)s;
    memcpy(&t, m->data, sizeof t);
    t.made++;
    if (t.left-- == 0)
        return lb_to_host(c, LB_MSG_TOKEN, &t, sizeof t);
    const uint32_t self = rk_ldself(c) - t.first;
    return rk_ldsend(c, t.first + (self + t.stride) % t.n, LB_MSG_TOKEN, &t, sizeof t);
}

RK_GPU_ACTOR(lb_block_echo_actor, lb_none, lb_block_echo);
RK_GPU_ACTOR(lb_block_token_actor, lb_none, lb_block_token);
RK_GPU_LIGHT(lb_echo_actor, lb_none, lb_echo);
RK_GPU_LIGHT(lb_token_actor, lb_none, lb_token_handle);
RK_GPU_PROGRAM(lb_program, lb_block_echo_actor, lb_block_token_actor, lb_echo_actor, lb_token_actor);

static const rk_light_type lb_echo_type = {"echo", NULL, LB_ECHO, sizeof(lb_none)};
static const rk_light_type lb_token_type = {"token", NULL, LB_TOKEN, sizeof(lb_none)};

static rk_runtime *lb_runtime(uint32_t block_actors, uint32_t light_actors, uint32_t homes, uint32_t steal,
                              uint32_t cluster)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CUDA;
    o.gpu_program = &lb_program;
    o.max_actors = block_actors;
    o.cluster_size = cluster;
    o.light.actors = light_actors;
    if (light_actors) {
        o.light.homes = homes;
        o.light.inbox = 16;
        o.light.steal = steal;
    }
    RKB_RK(rk_runtime_create(&rt, &o));
    return rt;
}

static rk_actor_id lb_block(rk_runtime *rt, const char *name, uint32_t type)
{
    static const rk_actor_type types[2] = {{"block echo", NULL, NULL, LB_BLOCK_ECHO},
                                           {"block token", NULL, NULL, LB_BLOCK_TOKEN}};
    rk_actor_options ao;
    rk_actor_id id;
    rk_actor_options_init(&ao);
    ao.name = name;
    ao.type = &types[type];
    ao.state_size = sizeof(lb_none);
    RKB_RK(rk_launch(rt, &ao, &id));
    return id;
}

static void lb_round_trips(rkb *b, uint64_t trials)
{
    rk_runtime *rt = lb_runtime(4, 64, 0, 0, 0);
    rk_actor_id echo = lb_block(rt, "echo", LB_BLOCK_ECHO), light;
    double *light_us = (double *)malloc(trials * sizeof *light_us), *block_us = (double *)malloc(trials * sizeof *block_us);
    RKB_RK(rk_light_spawn(rt, &lb_echo_type, 1, NULL, &light));
    for (uint64_t i = 0; i < trials + 100; i++) {
        uint64_t v = i, out = 0, t0, t1, t2;
        rk_lmsg m;
        rk_msgbuf mb;
        mb.data = &out;
        mb.capacity = sizeof out;
        t0 = rkb_now_ns();
        RKB_RK(rk_light_post(rt, light, LB_MSG_ECHO, &v, sizeof v));
        RKB_RK(rk_light_recv(rt, &m, 5000000000ull));
        t1 = rkb_now_ns();
        RKB_RK(rk_call(rt, echo, LB_MSG_ECHO, &v, sizeof v, &mb, 5000000000ull));
        t2 = rkb_now_ns();
        if (m.data[0] != i || out != i) {
            fprintf(stderr, "round trip %llu: wrong echo\n", (unsigned long long)i);
            exit(1);
        }
        if (i >= 100) { /* the first ones warm up */
            light_us[i - 100] = (double)(t1 - t0) / 1e3;
            block_us[i - 100] = (double)(t2 - t1) / 1e3;
        }
    }
    printf("round trip host -> actor -> host, 8 bytes, alternating:\n");
    rkb_samples(b, "light round trip", "us", light_us, trials, "rk_light_post + rk_light_recv, light echo");
    rkb_samples(b, "block rk_call", "us", block_us, trials, "rk_call to a block echo, same run");
    rkb_compare(b, "light_round_trip", "block_rk_call", "light / block");
    rk_runtime_destroy(rt);
    free(light_us);
    free(block_us);
}

/* Tokens through n actors from `first` (stride apart), `hops` each; every
 * token's end comes to the host. Returns seconds from the first post to
 * the last end. */
static double lb_tokens_light(rk_runtime *rt, rk_actor_id first, uint32_t n, uint32_t stride, uint32_t tokens,
                              uint64_t hops)
{
    uint64_t t0 = rkb_now_ns(), made = 0;
    for (uint32_t k = 0; k < tokens; k++) {
        lb_token t = {first, n, stride, 0, hops, 0};
        rk_status st;
        while ((st = rk_light_post(rt, first + (uint32_t)((uint64_t)k * n / tokens), LB_MSG_TOKEN, &t, sizeof t)) ==
               RK_EFULL)
            ;
        RKB_RK(st);
    }
    for (uint32_t k = 0; k < tokens; k++) {
        rk_lmsg m;
        lb_token t;
        RKB_RK(rk_light_recv(rt, &m, 60000000000ull));
        memcpy(&t, m.data, sizeof t);
        made += t.made;
    }
    if (made != (uint64_t)tokens * (hops + 1)) {
        fprintf(stderr, "tokens: %llu hops made, want %llu\n", (unsigned long long)made,
                (unsigned long long)tokens * (hops + 1));
        exit(1);
    }
    return (double)(rkb_now_ns() - t0) / 1e9;
}

static void lb_hop_latency(rkb *b, uint64_t hops)
{
    /* 2 homes: actors 0 and 2 live on home 0, actor 1 on home 1. */
    rk_runtime *rt = lb_runtime(4, 4, 2, 0, 0);
    rk_actor_id first;
    double s_local, s_cross, s_cluster;
    RKB_RK(rk_light_spawn(rt, &lb_token_type, 4, NULL, &first));
    (void)lb_tokens_light(rt, first, 4, 2, 1, 1000); /* warm up */
    s_local = lb_tokens_light(rt, first, 4, 2, 1, hops); /* 0 -> 2 -> 0: one home */
    s_cross = lb_tokens_light(rt, first, 2, 1, 1, hops); /* 0 -> 1 -> 0: two homes */
    rk_runtime_destroy(rt);
    /* The same two homes as one thread-block cluster: 0 -> 1 through DSMEM. */
    rt = lb_runtime(4, 4, 2, 0, 2);
    RKB_RK(rk_light_spawn(rt, &lb_token_type, 4, NULL, &first));
    (void)lb_tokens_light(rt, first, 2, 1, 1, 1000);
    s_cluster = lb_tokens_light(rt, first, 2, 1, 1, hops);
    rk_runtime_destroy(rt);
    printf("one token between two light actors, %llu hops:\n", (unsigned long long)hops);
    rkb_value_add(b, "light hop, one home", "us", s_local * 1e6 / (double)(hops + 1), "the home's local queue");
    rkb_value_add(b, "light hop, two homes", "us", s_cross * 1e6 / (double)(hops + 1), "through inboxes and run queues");
    rkb_value_add(b, "light hop, two homes of a cluster", "us", s_cluster * 1e6 / (double)(hops + 1),
                  "a cluster of 2: the receiver's home's cluster ring (DSMEM)");
}

static void lb_many_tokens(rkb *b, uint32_t actors, uint32_t tokens, uint64_t hops)
{
    char name[96];
    for (uint32_t run = 0; run < 4; run++) {
        const uint32_t steal = run & 1, cluster = run < 2 ? 0 : 8;
        rk_runtime *rt = lb_runtime(4, actors, 0, steal, cluster);
        rk_actor_id first;
        double s;
        RKB_RK(rk_light_spawn(rt, &lb_token_type, actors, NULL, &first));
        (void)lb_tokens_light(rt, first, actors, 7919, tokens, 100);
        s = lb_tokens_light(rt, first, actors, 7919, tokens, hops);
        if (cluster)
            snprintf(name, sizeof name, "light tokens, clusters of %u, stealing %s", cluster, steal ? "on" : "off");
        else
            snprintf(name, sizeof name, "light tokens, stealing %s", steal ? "on" : "off");
        rkb_value_add(b, name, "M hops/s", (double)tokens * (double)(hops + 1) / s / 1e6,
                      "tokens hop among the light actors, every 7919th next");
        rk_runtime_destroy(rt);
    }
}

/* The same tokens among block actors (one per block), for comparison. */
static void lb_block_tokens(rkb *b, uint32_t tokens, uint64_t hops)
{
    const uint32_t n = 128;
    rk_runtime *rt = lb_runtime(n, 0, 0, 0, 0);
    rk_actor_id first = 0;
    char name[32];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "t%u", i);
        rk_actor_id id = lb_block(rt, name, LB_BLOCK_TOKEN);
        if (i == 0)
            first = id;
    }
    uint64_t t0 = rkb_now_ns(), made = 0;
    for (uint32_t k = 0; k < tokens; k++) {
        lb_token t = {first, n, 1, 0, hops, 0};
        RKB_RK(rk_send(rt, first + (uint32_t)((uint64_t)k * n / tokens), LB_MSG_TOKEN, &t, sizeof t));
    }
    for (uint32_t k = 0; k < tokens; k++) {
        uint8_t buf[64];
        lb_token t;
        rk_msgbuf mb;
        mb.data = buf;
        mb.capacity = sizeof buf;
        RKB_RK(rk_recv(rt, &mb, 60000000000ull));
        memcpy(&t, buf, sizeof t);
        made += t.made;
    }
    double s = (double)(rkb_now_ns() - t0) / 1e9;
    if (made != (uint64_t)tokens * (hops + 1)) {
        fprintf(stderr, "block tokens: wrong count\n");
        exit(1);
    }
    rkb_value_add(b, "block tokens (K2K)", "M hops/s", (double)tokens * (double)(hops + 1) / s / 1e6,
                  "the same tokens among 128 block actors");
    rk_runtime_destroy(rt);
}

int main(int argc, char **argv)
{
    rkb b;
    const uint64_t trials = rkb_arg_u64(argc, argv, "--trials", 20000);
    const uint64_t hops = rkb_arg_u64(argc, argv, "--hops", 100000);
    const uint32_t tokens = (uint32_t)rkb_arg_u64(argc, argv, "--tokens", 4096);
    const uint32_t actors = (uint32_t)rkb_arg_u64(argc, argv, "--actors", 1u << 20);
    int rc = rkb_init(&b, "bench_gpu_light", argc, argv);
    if (rc != 0)
        return rc;
    rkb_param_num(&b, "trials", (double)trials);
    rkb_param_num(&b, "hops", (double)hops);
    rkb_param_num(&b, "tokens", tokens);
    rkb_param_num(&b, "actors", actors);
    lb_round_trips(&b, trials);
    lb_hop_latency(&b, hops);
    lb_many_tokens(&b, actors, tokens, hops / 100);
    lb_block_tokens(&b, 128, hops / 100);
    return rkb_finish(&b);
}
