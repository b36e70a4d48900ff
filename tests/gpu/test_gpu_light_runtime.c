/* Light actors in the runtime's kernel (ringkernel/light.h) on a GPU:
 *   - bad input: a block type spawned as light and a light type launched as
 *     a block actor, a wrong state size, unspawned ids, long payloads;
 *   - every spawned actor echoes exactly what it got, with its own id as
 *     the source, and keeps its state (the spawn's tag, a count);
 *   - relays: messages from several host threads pass through pseudo-random
 *     light actors on every home and come back once each, with the path
 *     they took; with stealing on and off; block actors answer rk_call
 *     beside them;
 *   - a handler's error reaches rk_runtime_error, and the actor goes on;
 *   - shutdown: actors that never stop sending are halted, what they left
 *     is dead-lettered, and replies the host never read are counted;
 *     messages going back and forth between light actors and a block
 *     actor when it starts run to their ends;
 *   - with thread-block clusters (of 2 and of 16, or RKT_CLUSTER for all of
 *     it): the homes form clusters, sends between homes of a cluster go
 *     through DSMEM, and the relays, the storms' halt and the echoes above
 *     hold there too; homes that are not whole clusters are refused.
 * RKL_DRAIN_ONLY=1 runs the drain's cases alone.
 * RK_LIGHT_RACECHECK=1 (gpu.sh under racecheck, which does not see the
 * cluster rings' synchronisation) leaves the cluster runs out. */
#include <pthread.h>

#include "gpu_test.h"
#include "light_actors.h"

static const rk_light_type echo_type = {"echo", NULL, RKL_ECHO, sizeof(rkl_echo_state)};
static const rk_light_type relay_type = {"relay", NULL, RKL_RELAY, 4};
static const rk_light_type failer_type = {"failer", NULL, RKL_FAILER, 4};
static const rk_light_type storm_type = {"storm", NULL, RKL_STORM, 4};

/* Blocks per thread-block cluster of the runtimes below (0: none, or
 * RKT_CLUSTER through rkt_options). */
static uint32_t cluster;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static rk_runtime *light_runtime(uint32_t actors, uint32_t steal, uint32_t inbox, uint64_t drain_ns)
{
    rk_runtime_options o;
    rkt_options(&o, 8, &rkl_program);
    if (cluster) {
        o.cluster_size = cluster;
        o.cluster_nonportable = cluster > 8;
    }
    o.light.actors = actors;
    o.light.steal = steal;
    o.light.inbox = inbox;
    if (drain_ns)
        o.drain_timeout_ns = drain_ns;
    return rkt_runtime_with(&o);
}

/* Posts, retrying while the way in is full (for at most 10 s). */
static void post(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *p, uint32_t len)
{
    uint64_t tries = 0;
    rk_status st;
    while ((st = rk_light_post(rt, dst, type, p, len)) == RK_EFULL && ++tries < 10000000ull)
        ;
    RKT_CHECK_ST(st, RK_OK);
}

static rk_lmsg recv1(rk_runtime *rt)
{
    rk_lmsg m;
    RKT_CHECK_ST(rk_light_recv(rt, &m, 10 * RKT_SEC), RK_OK);
    return m;
}

/* Launches a block actor of type t beside the light actors. */
static rk_actor_id launch_block(rk_runtime *rt, const char *name, const rk_actor_type *t, uint32_t state_size)
{
    rk_actor_options ao;
    rk_actor_id id = 0;
    rk_actor_options_init(&ao);
    ao.name = name;
    ao.type = t;
    ao.state_size = state_size;
    RKT_CHECK_ST(rk_launch(rt, &ao, &id), RK_OK);
    return id;
}

static void bad_input(void)
{
    rk_runtime *rt = light_runtime(64, 0, 0, 0);
    rk_light_type wrong = echo_type, block = {"block", NULL, RKL_BLOCK_ECHO, 4};
    rk_actor_options ao;
    rk_actor_id first = 0, id;
    uint64_t big[7] = {0};
    rk_lmsg m;
    RKT_CHECK_ST(rk_light_spawn(rt, &block, 1, NULL, &first), RK_EINVAL);
    wrong.state_size = 8;
    RKT_CHECK_ST(rk_light_spawn(rt, &wrong, 1, NULL, &first), RK_EINVAL);
    wrong.gpu_type = RKL_NTYPES;
    RKT_CHECK_ST(rk_light_spawn(rt, &wrong, 1, NULL, &first), RK_EINVAL);
    RKT_CHECK_ST(rk_light_spawn(rt, &echo_type, 65, NULL, &first), RK_ENOMEM);
    RKT_CHECK_ST(rk_light_post(rt, rk_light_id(0), RKL_MSG_ECHO, big, 8), RK_ENOACTOR);
    RKT_CHECK_ST(rk_light_spawn(rt, &echo_type, 64, NULL, &first), RK_OK);
    RKT_CHECK(first == rk_light_id(0));
    RKT_CHECK_ST(rk_light_spawn(rt, &echo_type, 1, NULL, &first), RK_ENOMEM);
    RKT_CHECK_ST(rk_light_post(rt, rk_light_id(64), RKL_MSG_ECHO, big, 8), RK_ENOACTOR);
    RKT_CHECK_ST(rk_light_post(rt, 0, RKL_MSG_ECHO, big, 8), RK_ENOACTOR);
    RKT_CHECK_ST(rk_light_post(rt, rk_light_id(0), RKL_MSG_ECHO, big, sizeof big), RK_E2BIG);
    RKT_CHECK_ST(rk_light_post(rt, rk_light_id(0), RK_MSG_TYPE_SYSTEM, big, 8), RK_EINVAL);
    RKT_CHECK_ST(rk_light_post(rt, rk_light_id(0), RKL_MSG_ECHO, NULL, 8), RK_EINVAL);
    RKT_CHECK_ST(rk_light_recv(rt, &m, 0), RK_ETIMEDOUT);
    /* A light type is no block actor. */
    rk_actor_options_init(&ao);
    static const rk_actor_type as_block = {"light as block", NULL, NULL, RKL_ECHO};
    ao.name = "x";
    ao.type = &as_block;
    RKT_CHECK_ST(rk_launch(rt, &ao, &id), RK_EINVAL);
    rk_runtime_destroy(rt);
    printf("bad input: ok\n");
}

static void echo_and_state(void)
{
    const uint32_t n = getenv("RKT_UNDER_TOOL") ? 256 : 4096;
    rk_runtime *rt = light_runtime(n, 0, 0, 0);
    rkl_echo_state init = {{0x1234567890abcdefull, 77}, 0};
    rk_actor_id first;
    uint32_t *seen = calloc(n, sizeof *seen);
    RKT_CHECK(seen);
    RKT_CHECK_ST(rk_light_spawn(rt, &echo_type, n, &init, &first), RK_OK);
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < n; i++) {
            uint64_t p[5] = {i, round, ~(uint64_t)i, 0, 0x5555};
            post(rt, first + i, RKL_MSG_ECHO, p, 5 * 8 - 3); /* 37 bytes: the rest comes back zero */
        }
        for (uint32_t k = 0; k < n; k++) {
            rk_lmsg m = recv1(rt);
            uint32_t i = m.src - first;
            RKT_CHECK(m.type == RKL_MSG_ECHO && rk_is_light(m.src) && i < n);
            RKT_CHECK(m.data[0] == i && m.data[1] == (uint64_t)round && m.data[2] == ~(uint64_t)i);
            RKT_CHECK(m.data[3] == 0 && m.data[4] == (0x5555 & 0xFFFFFFFFFFull) && m.data[5] == 0);
            RKT_CHECK(seen[i]++ == (uint32_t)round);
        }
    }
    for (uint32_t i = 0; i < n; i += 97) {
        post(rt, first + i, RKL_MSG_STATE, NULL, 0);
        rk_lmsg m = recv1(rt);
        RKT_CHECK(m.src == first + i && m.data[0] == init.tag[0] && m.data[1] == init.tag[1]);
        post(rt, first + i, RKL_MSG_COUNT, NULL, 0);
        m = recv1(rt);
        RKT_CHECK(m.src == first + i && m.data[0] == 4); /* three echoes and the STATE */
    }
    free(seen);
    rk_shutdown_report rep;
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.dead_lettered == 0 && rep.host_unread == 0 && !rep.timed_out);
    rk_runtime_destroy(rt);
    printf("echo and state: %u actors, 3 rounds, ok\n", n);
}

/* ---- relays ---- */

#define SENDERS 4

typedef struct relay_run {
    rk_runtime *rt;
    rk_actor_id first;
    uint32_t n, hops, sender;
    uint64_t count;
    uint64_t *in_flight; /* shared: messages out and not back */
    uint64_t window;
} relay_run;

static void *relay_sender(void *arg)
{
    relay_run *r = arg;
    for (uint64_t s = 0; s < r->count; s++) {
        rkl_hop h = {r->first, r->n, r->sender, r->hops, s, 0, {0, 0}};
        while (__atomic_load_n(r->in_flight, __ATOMIC_ACQUIRE) >= r->window)
            ;
        __atomic_fetch_add(r->in_flight, 1, __ATOMIC_ACQ_REL);
        post(r->rt, r->first + (uint32_t)((s * 2654435761u + r->sender) % r->n), RKL_MSG_HOP, &h, sizeof h);
    }
    return NULL;
}

static void relays(uint32_t steal)
{
    const uint32_t n = 20000, hops = 8;
    const uint64_t per = rkt_env("RKL_RELAY_MESSAGES", getenv("RKT_UNDER_TOOL") ? 500 : 50000);
    rk_runtime *rt = light_runtime(n, steal, 64, 0);
    rk_actor_id first, echo;
    relay_run run[SENDERS];
    pthread_t th[SENDERS];
    uint64_t in_flight = 0, got = 0;
    uint8_t *seen = calloc(SENDERS * per, 1);
    static const rk_actor_type block_echo = {"block echo", NULL, NULL, RKL_BLOCK_ECHO};
    RKT_CHECK(seen);
    RKT_CHECK_ST(rk_light_spawn(rt, &relay_type, n, NULL, &first), RK_OK);
    echo = launch_block(rt, "block_echo", &block_echo, 4);
    uint64_t t0 = rk_test_now_ns();
    for (uint32_t k = 0; k < SENDERS; k++) {
        run[k] = (relay_run){rt, first, n, hops, k, per, &in_flight, 1024};
        RKT_CHECK(pthread_create(&th[k], NULL, relay_sender, &run[k]) == 0);
    }
    while (got < SENDERS * per) {
        rk_lmsg m = recv1(rt);
        rkl_hop h;
        if (m.type == RKL_MSG_LOST) {
            fprintf(stderr, "a relay's send failed: %s\n", rk_status_name((rk_status)m.data[0]));
            RKT_FAIL();
        }
        memcpy(&h, m.data, sizeof h);
        RKT_CHECK(m.type == RKL_MSG_HOP && h.hops == 0 && h.sender < SENDERS && h.seq < per);
        RKT_CHECK(seen[h.sender * per + h.seq]++ == 0);
        /* Recompute the path the hash gave it. */
        {
            rkl_hop x = {first, n, h.sender, hops, h.seq, 0, {0, 0}};
            uint32_t at = first + (uint32_t)((h.seq * 2654435761u + h.sender) % n);
            uint64_t path = 0;
            for (;;) {
                path += at - first;
                if (x.hops == 0)
                    break;
                x.hops--;
                uint64_t v = x.seq * 0x9E3779B97F4A7C15ull + (uint64_t)x.sender * 0xBF58476D1CE4E5B9ull + at + x.hops;
                v ^= v >> 31;
                at = first + (uint32_t)(v % n);
            }
            RKT_CHECK(path == h.path);
        }
        __atomic_fetch_sub(&in_flight, 1, __ATOMIC_ACQ_REL);
        got++;
        if (got % 20000 == 0) {
            /* A block actor answers beside them. */
            uint64_t v = got, out = 0;
            rk_msgbuf mb = {.data = &out, .capacity = sizeof out};
            RKT_CHECK_ST(rk_call(rt, echo, 1, &v, sizeof v, &mb, 5 * RKT_SEC), RK_OK);
            RKT_CHECK(out == got);
        }
    }
    uint64_t t1 = rk_test_now_ns();
    for (uint32_t k = 0; k < SENDERS; k++)
        pthread_join(th[k], NULL);
    rk_shutdown_report rep;
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.dead_lettered == 0 && rep.host_unread == 0 && !rep.timed_out);
    rk_runtime_destroy(rt);
    free(seen);
    printf("relays, stealing %s, clusters of %u: %llu messages x %u hops over %u actors, each once with its path; "
           "%.2f M hops/s\n",
           steal ? "on" : "off", cluster, (unsigned long long)(SENDERS * per), hops + 1, n,
           (double)(SENDERS * per * (hops + 1)) / ((double)(t1 - t0) / 1e9) / 1e6);
}

static void handler_errors(void)
{
    rk_runtime *rt = light_runtime(16, 0, 0, 0);
    rk_actor_id first;
    rk_async_error err;
    uint64_t v = 5;
    RKT_CHECK_ST(rk_light_spawn(rt, &failer_type, 16, NULL, &first), RK_OK);
    post(rt, first + 3, RKL_MSG_FAIL, NULL, 0);
    post(rt, first + 3, RKL_MSG_ECHO, &v, sizeof v);
    rk_lmsg m = recv1(rt);
    RKT_CHECK(m.src == first + 3 && m.data[0] == 5);
    uint64_t deadline = rk_test_now_ns() + 5 * RKT_SEC;
    rk_status st;
    while ((st = rk_runtime_error(rt, &err)) != RK_OK && rk_test_now_ns() < deadline)
        ;
    RKT_CHECK_ST(st, RK_OK);
    RKT_CHECK(err.actor == first + 3 && err.status == RK_EHANDLER && err.generation == 1);
    rk_runtime_destroy(rt);
    printf("handler errors: ok\n");
}

/* A block actor's sends to light actors: each arrives once with the
 * block actor as its sender; 49 bytes and an id past the light actors are
 * refused; a light id not spawned is dead-lettered where it arrives. */
static void from_block_actor(void)
{
    const uint32_t n = 2000, spawned = 2000 + 1;
    rk_runtime *rt = light_runtime(4096, 0, 0, 0);
    static const rk_actor_type fan = {"fan", NULL, NULL, RKL_BLOCK_FAN};
    rk_actor_id first, block;
    uint8_t *seen = calloc(n, 1), buf[64];
    rk_msgbuf mb = {.data = buf, .capacity = sizeof buf};
    int32_t r[3];
    RKT_CHECK(seen);
    RKT_CHECK_ST(rk_light_spawn(rt, &echo_type, spawned, NULL, &first), RK_OK);
    block = launch_block(rt, "fan", &fan, 0);
    rkl_fan f = {first, n, rk_light_id(4096), 0};
    RKT_CHECK_ST(rk_send(rt, block, RKL_MSG_FAN, &f, sizeof f), RK_OK);
    for (uint32_t k = 0; k < n; k++) {
        rk_lmsg m = recv1(rt);
        uint32_t i = (uint32_t)m.data[1];
        RKT_CHECK(m.type == RKL_MSG_WHO && m.data[0] == block && i < n && m.src == first + i);
        RKT_CHECK(seen[i]++ == 0);
    }
    RKT_CHECK_ST(rk_recv(rt, &mb, 10 * RKT_SEC), RK_OK);
    memcpy(r, buf, sizeof r);
    RKT_CHECK(r[0] == RK_OK && r[1] == RK_E2BIG && r[2] == RK_ENOACTOR);
    /* Past the spawned ones, not past the light actors: dead-lettered there. */
    f.first = first + spawned;
    f.n = 1;
    RKT_CHECK_ST(rk_send(rt, block, RKL_MSG_FAN, &f, sizeof f), RK_OK);
    RKT_CHECK_ST(rk_recv(rt, &mb, 10 * RKT_SEC), RK_OK);
    {
        rk_dead_letter d;
        uint64_t end = rk_test_now_ns() + 10 * RKT_SEC;
        rk_status st = RK_EEMPTY;
        while (rk_test_now_ns() < end && (st = rk_dead_letter_pop(rt, &d, NULL)) == RK_EEMPTY)
            sleep_ms(1);
        RKT_CHECK_ST(st, RK_OK);
        RKT_CHECK(d.reason == RK_ENOACTOR && d.hdr.dst == first + spawned && d.hdr.src == block);
    }
    rk_shutdown_report rep;
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.dead_lettered == 0 && rep.host_unread == 0 && !rep.timed_out);
    rk_runtime_destroy(rt);
    free(seen);
    printf("from a block actor: %u light actors, each message once from the block actor: ok\n", n);
}

/* A light handler sends to a block actor, which sends it back: each side
 * sees the other as the sender; an id that is no actor is refused. */
static void to_block_actor(void)
{
    const uint32_t n = 512;
    rk_runtime *rt = light_runtime(n, 0, 0, 0);
    static const rk_actor_type back = {"back", NULL, NULL, RKL_BLOCK_BACK};
    rk_actor_id first, block;
    uint8_t *seen = calloc(n, 1);
    RKT_CHECK(seen);
    RKT_CHECK_ST(rk_light_spawn(rt, &echo_type, n, NULL, &first), RK_OK);
    block = launch_block(rt, "back", &back, 0);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t p[2] = {block, 1000 + i};
        post(rt, first + i, RKL_MSG_VIA, p, sizeof p);
    }
    for (uint32_t k = 0; k < n; k++) {
        rk_lmsg m = recv1(rt);
        uint32_t i = m.src - first;
        RKT_CHECK(m.type == RKL_MSG_WHO && i < n && m.data[0] == block && m.data[1] == 1000 + i);
        RKT_CHECK(seen[i]++ == 0);
    }
    {
        uint64_t p[2] = {block + 100, 1}; /* past the block actors (max_actors 8) */
        post(rt, first, RKL_MSG_VIA, p, sizeof p);
        rk_lmsg m = recv1(rt);
        RKT_CHECK(m.type == RKL_MSG_LOST && m.data[0] == RK_ENOACTOR);
    }
    rk_shutdown_report rep;
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.dead_lettered == 0 && rep.host_unread == 0 && !rep.timed_out);
    rk_runtime_destroy(rt);
    free(seen);
    printf("to a block actor and back: %u light actors: ok\n", n);
}

static void shutdown_leftovers(void)
{
    rk_runtime *rt = light_runtime(64, 0, 0, 50 * RKT_MS);
    rk_actor_id storm, echo;
    rk_shutdown_report rep;
    uint64_t v = 1;
    RKT_CHECK_ST(rk_light_spawn(rt, &echo_type, 32, NULL, &echo), RK_OK);
    RKT_CHECK_ST(rk_light_spawn(rt, &storm_type, 32, NULL, &storm), RK_OK);
    for (uint32_t i = 0; i < 32; i++)
        post(rt, echo + i, RKL_MSG_ECHO, &v, sizeof v); /* replies nobody reads */
    post(rt, echo, RKL_MSG_COUNT, NULL, 0);
    sleep_ms(200); /* the echoes and the count are back in the port by then */
    for (uint32_t i = 0; i < 32; i++) {
        uint64_t ring[2] = {storm, 32}; /* each storm feeds the next too: across homes (and clusters' rings) */
        post(rt, storm + i, RKL_MSG_ECHO, ring, sizeof ring);
    }
    sleep_ms(20);
    uint64_t t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    uint64_t t1 = rk_test_now_ns();
    printf("shutdown with storms, clusters of %u: %.1f ms, timed out %d, %llu dead letters, %llu unread\n", cluster,
           (double)(t1 - t0) / 1e6, rep.timed_out, (unsigned long long)rep.dead_lettered, (unsigned long long)rep.host_unread);
    RKT_CHECK(rep.timed_out == 1 && rep.dead_lettered > 0);
    RKT_CHECK(rep.host_unread == 33); /* 32 echoes and the COUNT */
    rk_runtime_destroy(rt);
}

/* The drain with messages going back and forth between light actors and
 * a block actor when it starts: every chain runs to its end (its last
 * message unread by the host), none is dead-lettered, no handler fails.
 * The block actor holds each bounce for `hold_ns`, the light actor for
 * `light_hold_ns`. With 0.5 ms and 5 ms, the block actor is done with its
 * 8 messages (4 ms) while the light actors still hold theirs, so the block
 * actors' drain finds them quiet; then the light actors send to it, and
 * look quiet while it holds the first message: the drain used to end
 * there, and what the block actor sent back would be dead-lettered at the
 * stop. Now a light handler's send to a block actor makes it look at the
 * block actors again. On an H200 this case failed with the drain cut to
 * one round (8 dead letters, twice; session 25) and passes with the
 * rounds. (With the block actor alone holding, it stays busy to the
 * chains' end, and the one-round drain passed too: session 24.)
 * test_light_runtime has the same cases on the CPU backend. */
static void drain_bounces(uint32_t hops, uint64_t hold_ns, uint64_t light_hold_ns)
{
    const uint32_t chains = 8;
    rk_runtime *rt = light_runtime(chains, 0, 0, 30 * RKT_SEC);
    static const rk_actor_type back = {"back", NULL, NULL, RKL_BLOCK_BACK};
    rk_actor_id first, block;
    rk_shutdown_report rep;
    rk_async_error e;
    uint64_t t0;
    RKT_CHECK_ST(rk_light_spawn(rt, &echo_type, chains, NULL, &first), RK_OK);
    block = launch_block(rt, "back", &back, 0);
    for (uint32_t i = 0; i < chains; i++) {
        uint64_t p[4] = {block, hops + i, hold_ns, light_hold_ns};
        post(rt, first + i, RKL_MSG_BOUNCE, p, light_hold_ns ? 32 : hold_ns ? 24 : 16);
    }
    sleep_ms(1); /* the chains under way */
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    printf("drain with %u chains of %u bounces under way, held %llu / %llu us each: %.1f ms, %llu dead letters, "
           "%llu unread\n",
           chains, hops, (unsigned long long)(hold_ns / 1000), (unsigned long long)(light_hold_ns / 1000),
           (double)(rk_test_now_ns() - t0) / 1e6,
           (unsigned long long)rep.dead_lettered, (unsigned long long)rep.host_unread);
    RKT_CHECK(!rep.timed_out && rep.dead_lettered == 0 && rep.host_unread == chains);
    RKT_CHECK(rk_runtime_error(rt, &e) == RK_EEMPTY);
    rk_runtime_destroy(rt);
}

/* Light homes that are not whole clusters, and fewer light actors than a
 * cluster's homes, are refused when the runtime is created. */
static void cluster_refusals(void)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rkt_options(&o, 8, &rkl_program);
    o.cluster_size = 8;
    o.light.actors = 64;
    o.light.homes = 12;
    RKT_CHECK_ST(rk_runtime_create(&rt, &o), RK_EINVAL);
    o.light.actors = 4;
    o.light.homes = 0;
    RKT_CHECK_ST(rk_runtime_create(&rt, &o), RK_EINVAL);
    RKT_CHECK(rt == NULL);
    printf("cluster refusals: ok\n");
}

static void all(void)
{
    bad_input();
    echo_and_state();
    handler_errors();
    from_block_actor();
    to_block_actor();
    relays(0);
    relays(1);
    shutdown_leftovers();
    drain_bounces(getenv("RKT_UNDER_TOOL") ? 100 : 2000, 0, 0);
    drain_bounces(20, 200000, 0);
    drain_bounces(6, 500000, 5000000);
}

int main(void)
{
    static const uint32_t sizes[] = {2, 16};
    rk_device_info d;
    cluster = (uint32_t)rkt_env("RKT_CLUSTER", 0);
    if (rkt_env("RKL_DRAIN_ONLY", 0)) { /* the drain's cases alone */
        drain_bounces(2000, 0, 0);
        drain_bounces(20, 200000, 0);
        drain_bounces(6, 500000, 5000000);
        return 0;
    }
    all();
    if (cluster || rkt_env("RK_LIGHT_RACECHECK", 0))
        return 0; /* already in clusters, or under racecheck */
    if (rk_device_query(0, &d) != RK_OK || !rk_device_supports_clusters(&d)) {
        printf("SKIP the cluster runs: no thread-block clusters\n");
        return 0;
    }
    cluster_refusals();
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        cluster = sizes[k];
        echo_and_state();
        relays(0);
        relays(1);
        shutdown_leftovers();
    }
    return 0;
}
