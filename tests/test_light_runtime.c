/* Light actors through the runtime on the CPU backend (light.h,
 * src/cpu/cpu_light.c): options, spawn, post, recv, a handler's sends, the
 * asynchronous error of a handler, and what shutdown counts.
 *
 * The relay stress sends numbered messages from four host threads through
 * three hops of light actors and back to the host, which checks that each
 * comes back exactly once and, without stealing, in order per (host
 * thread, first actor). Each host thread keeps at most WINDOW messages in
 * flight, so that no inbox, local queue or ring to the host can fill: a
 * handler's send that fails is counted, and the test fails on it. Every
 * wait has a deadline. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rk_test.h"
#include "ringkernel/ringkernel.h"

#define WAIT_NS (10ull * 1000000000ull) /* any single wait of the test */
#define SENDERS 4
#define RELAY_ACTORS 1000u
#define HOPS 3u
#define WINDOW 6u /* per host thread: 4 x 6 < 32 slots of a home's ring to the host */

enum { T_ECHO = 1, T_REPORT = 2, T_COUNT = 3, T_FAIL = 4, T_PROBE = 5, T_RELAY = 6, T_STORM = 7, T_BOUNCE = 8 };

/* ---- helpers --------------------------------------------------------------------------- */

static rk_runtime_options light_options(uint32_t actors, uint32_t homes, uint32_t inbox, uint32_t steal)
{
    rk_runtime_options o;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 1; /* the block actors' workers: none are used here */
    o.light.actors = actors;
    o.light.homes = homes;
    o.light.inbox = inbox;
    o.light.steal = steal;
    return o;
}

static rk_runtime *light_runtime(uint32_t actors, uint32_t homes, uint32_t inbox, uint32_t steal)
{
    rk_runtime_options o = light_options(actors, homes, inbox, steal);
    rk_runtime *rt = NULL;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    assert_non_null(rt);
    return rt;
}

/* Posts, retrying on RK_EFULL until WAIT_NS passed. */
static rk_status post_wait(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *p, uint32_t len)
{
    const uint64_t deadline = rk_test_now_ns() + WAIT_NS;
    rk_status st;
    while ((st = rk_light_post(rt, dst, type, p, len)) == RK_EFULL && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(1000);
    return st;
}

/* A block actor of type t, named after it. */
static rk_actor_id launch_block(rk_runtime *rt, const rk_actor_type *t)
{
    rk_actor_options ao;
    rk_actor_id id = 0;
    rk_actor_options_init(&ao);
    ao.name = t->name;
    ao.type = t;
    assert_int_equal(rk_launch(rt, &ao, &id), RK_OK);
    return id;
}

static void recv_one(rk_runtime *rt, rk_lmsg *m)
{
    assert_int_equal(rk_light_recv(rt, m, WAIT_NS), RK_OK);
}

/* ---- handlers -------------------------------------------------------------------------- */

typedef struct counter {
    uint64_t tag;   /* from the initial state */
    uint64_t count; /* T_COUNT messages */
} counter;

/* Echoes every message to the host (type and all 48 bytes). */
static rk_status echo(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    (void)state;
    return rk_lctx_send(ctx, RK_ACTOR_HOST, m->type, m->data, RK_LIGHT_PAYLOAD);
}

/* T_COUNT counts; T_REPORT sends the state and the actor's id to the host. */
static rk_status count(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    counter *c = state;
    uint64_t r[3];
    if (m->type == T_COUNT) {
        c->count++;
        return RK_OK;
    }
    r[0] = c->tag;
    r[1] = c->count;
    r[2] = rk_lctx_self(ctx);
    return rk_lctx_send(ctx, RK_ACTOR_HOST, T_REPORT, r, sizeof r);
}

/* T_FAIL fails; anything else is echoed. */
static rk_status fail_or_echo(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    if (m->type == T_FAIL)
        return RK_EHANDLER;
    return echo(ctx, state, m);
}

/* Tries a handler's sends that must be refused, and reports their answers
 * (data[1] is a spawned light id to try a 49-byte send to). */
static rk_status probe(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    char big[RK_LIGHT_PAYLOAD + 1] = {0};
    uint64_t r[6];
    (void)state;
    r[0] = (uint64_t)rk_lctx_send(ctx, (rk_actor_id)m->data[0], T_ECHO, NULL, 0); /* not spawned */
    r[1] = (uint64_t)rk_lctx_send(ctx, 3, T_ECHO, NULL, 0);                      /* a block actor's id */
    r[2] = (uint64_t)rk_lctx_send(ctx, (rk_actor_id)m->data[1], T_ECHO, big, sizeof big);
    r[3] = (uint64_t)rk_lctx_send(ctx, RK_ACTOR_HOST, RK_MSG_TYPE_SYSTEM, NULL, 0);
    r[4] = (uint64_t)rk_lctx_send(ctx, RK_ACTOR_HOST, T_ECHO, NULL, 4);
    r[5] = (uint64_t)rk_lctx_send(NULL, RK_ACTOR_HOST, T_ECHO, NULL, 0);
    return rk_lctx_send(ctx, RK_ACTOR_HOST, T_PROBE, r, sizeof r);
}

/* Light: tells the host who sent each message (data[0]) and what it
 * carried (data[1]). */
static rk_status who(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    uint64_t r[2] = {m->src, m->data[0]};
    (void)state;
    return rk_lctx_send(ctx, RK_ACTOR_HOST, m->type, r, sizeof r);
}

/* A block actor: its message names `n` light ids from `first`; it sends
 * each one message (its index), then reports to the host what its sends
 * returned: the last ordinary one, one of 49 bytes and one to an id not
 * spawned. */
typedef struct fan_req {
    uint64_t first, n, unspawned;
} fan_req;

static rk_status fan_out(rk_ctx *ctx, void *state, const rk_msg *m)
{
    fan_req q;
    char big[RK_LIGHT_PAYLOAD + 1] = {0};
    int32_t r[3] = {0, 0, 0};
    (void)state;
    memcpy(&q, rk_msg_payload(m), sizeof q);
    for (uint64_t i = 0; i < q.n; i++) {
        rk_status st = rk_ctx_send(ctx, (rk_actor_id)(q.first + i), T_ECHO, &i, sizeof i);
        if (st != RK_OK)
            r[0] = st;
    }
    r[1] = rk_ctx_send(ctx, (rk_actor_id)q.first, T_ECHO, big, sizeof big);
    r[2] = rk_ctx_send(ctx, (rk_actor_id)q.unspawned, T_ECHO, NULL, 0);
    return rk_ctx_send(ctx, RK_ACTOR_HOST, T_PROBE, r, sizeof r);
}

/* Light: T_ECHO from the host names a block actor (data[0]) and a tag
 * (data[1]): the tag goes to the block actor, and what its send returned
 * to the host (type T_PROBE) unless it went through. A message from a
 * block actor (T_REPORT) goes to the host as {sender, its data[0]}. */
static rk_status via_block(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    (void)state;
    if (m->type == T_ECHO) {
        uint64_t st = (uint64_t)rk_lctx_send(ctx, (rk_actor_id)m->data[0], T_REPORT, &m->data[1], 8);
        return st == RK_OK ? RK_OK : rk_lctx_send(ctx, RK_ACTOR_HOST, T_PROBE, &st, sizeof st);
    }
    uint64_t r[2] = {m->src, m->data[0]};
    return rk_lctx_send(ctx, RK_ACTOR_HOST, T_REPORT, r, sizeof r);
}

/* A block actor: sends what it got back to its sender. */
static rk_status send_back(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)state;
    return rk_ctx_send(ctx, m->src, m->type, rk_msg_payload(m), m->len);
}

/* T_BOUNCE {block actor, n, block hold, light hold}, on both sides: with
 * n > 0 the light actor waits its hold (us), then sends {block, n - 1, ...}
 * to the block actor, which waits its own and sends it back to its sender;
 * whichever gets n == 0 tells the host. A failed send is the light
 * handler's error, or counted in g_bounce_refused by the block actor (whose
 * error would fail it). */
static atomic_uint_fast64_t g_bounce_refused;

static rk_status bounce_light(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    uint64_t p[4] = {m->data[0], m->data[1] - 1, m->data[2], m->data[3]};
    (void)state;
    if (m->data[1] == 0)
        return rk_lctx_send(ctx, RK_ACTOR_HOST, T_REPORT, m->data, 16);
    rk_test_sleep_ns(m->data[3] * 1000);
    return rk_lctx_send(ctx, (rk_actor_id)m->data[0], T_BOUNCE, p, sizeof p);
}

static rk_status bounce_block(rk_ctx *ctx, void *state, const rk_msg *m)
{
    uint64_t p[4];
    rk_status st;
    (void)state;
    memcpy(p, rk_msg_payload(m), sizeof p);
    rk_test_sleep_ns(p[2] * 1000);
    if (p[1] == 0) {
        st = rk_ctx_send(ctx, RK_ACTOR_HOST, T_REPORT, p, sizeof p);
    } else {
        p[1]--;
        st = rk_ctx_send(ctx, m->src, T_BOUNCE, p, sizeof p);
    }
    if (st != RK_OK)
        atomic_fetch_add(&g_bounce_refused, 1);
    return RK_OK;
}

/* ---- options, spawn, post -------------------------------------------------------------- */

static void options_refused(void **s)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    (void)s;
    o = light_options(16, 2, 12, 0); /* inbox not a power of two */
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    o = light_options(16, 2, 1, 0); /* inbox below 2 */
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    o = light_options(4, 5, 0, 0); /* more homes than actors */
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    o = light_options(0, 2, 0, 0); /* light fields without actors */
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    o = light_options(0, 0, 0, 1);
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    /* With clusters the homes must be whole clusters of at most 16, and
     * there must be a cluster's worth of actors (as on CUDA). */
    o = light_options(16, 6, 0, 0);
    o.cluster_size = 4;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    o = light_options(2, 0, 0, 0);
    o.cluster_size = 4;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    o = light_options(64, 0, 0, 0);
    o.cluster_size = 32;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    assert_null(rt);
}

static void no_light(void **s)
{
    static const rk_light_type t = {"echo", echo, 0, 0};
    rk_runtime *rt = light_runtime(0, 0, 0, 0);
    rk_actor_id first = 0;
    rk_lmsg m;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, 1, NULL, &first), RK_ENOTSUP);
    assert_int_equal(rk_light_recv(rt, &m, 0), RK_ENOTSUP);
    assert_int_equal(rk_light_post(rt, rk_light_id(0), T_ECHO, NULL, 0), RK_ENOACTOR);
    rk_runtime_destroy(rt);
}

static void spawn(void **s)
{
    static const rk_light_type t = {"count", count, 0, sizeof(counter)};
    static const rk_light_type no_handle = {"none", NULL, 0, 0};
    const counter initial = {0x5eed, 0};
    rk_runtime *rt = light_runtime(6, 0, 0, 0);
    rk_actor_id first = 0, second = 0;
    uint32_t seen = 0;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, NULL, 1, NULL, &first), RK_EINVAL);
    assert_int_equal(rk_light_spawn(rt, &no_handle, 1, NULL, &first), RK_EINVAL);
    assert_int_equal(rk_light_spawn(rt, &t, 1, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_light_spawn(rt, &t, 0, NULL, &first), RK_EINVAL);
    assert_int_equal(rk_light_spawn(rt, &t, 4, &initial, &first), RK_OK);
    assert_int_equal(first, RK_LIGHT_ID_BASE);
    assert_int_equal(rk_light_spawn(rt, &t, 3, &initial, &second), RK_ENOMEM);
    assert_int_equal(rk_light_post(rt, first + 4, T_REPORT, NULL, 0), RK_ENOACTOR); /* not handed out */
    assert_int_equal(rk_light_spawn(rt, &t, 2, NULL, &second), RK_OK);
    assert_int_equal(second, RK_LIGHT_ID_BASE + 4);
    assert_int_equal(rk_light_spawn(rt, &t, 1, NULL, &second), RK_ENOMEM);
    /* Each actor reports its own id and state: the first four a copy of
     * `initial`, the other two zeroed. */
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(post_wait(rt, rk_light_id(i), T_REPORT, NULL, 0), RK_OK);
    for (uint32_t i = 0; i < 6; i++) {
        rk_lmsg m;
        uint32_t at;
        recv_one(rt, &m);
        at = m.src - RK_LIGHT_ID_BASE;
        assert_true(rk_is_light(m.src) && at < 6);
        assert_int_equal(m.type, T_REPORT);
        assert_int_equal(m.data[0], at < 4 ? 0x5eedu : 0u);
        assert_int_equal(m.data[1], 0);
        assert_int_equal(m.data[2], m.src);
        seen |= 1u << at;
    }
    assert_int_equal(seen, 0x3f);
    rk_runtime_destroy(rt);
}

static void post_refused(void **s)
{
    static const rk_light_type t = {"echo", echo, 0, 0};
    char big[RK_LIGHT_PAYLOAD + 1] = {0};
    rk_runtime *rt = light_runtime(8, 2, 0, 0);
    rk_actor_id id = 0;
    rk_lmsg m;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, 2, NULL, &id), RK_OK);
    assert_int_equal(rk_light_post(rt, id + 2, T_ECHO, NULL, 0), RK_ENOACTOR); /* not spawned */
    assert_int_equal(rk_light_post(rt, 0, T_ECHO, NULL, 0), RK_ENOACTOR);      /* block actor ids */
    assert_int_equal(rk_light_post(rt, 3, T_ECHO, NULL, 0), RK_ENOACTOR);
    assert_int_equal(rk_light_post(rt, RK_ACTOR_HOST, T_ECHO, NULL, 0), RK_ENOACTOR);
    assert_int_equal(rk_light_post(rt, id, T_ECHO, big, sizeof big), RK_E2BIG);
    assert_int_equal(rk_light_post(rt, id, RK_MSG_TYPE_SYSTEM, NULL, 0), RK_EINVAL);
    assert_int_equal(rk_light_post(rt, id, T_ECHO, NULL, 1), RK_EINVAL);
    assert_int_equal(rk_light_post(rt, id, T_ECHO, big, RK_LIGHT_PAYLOAD), RK_OK);
    recv_one(rt, &m);
    assert_int_equal(m.src, id);
    assert_int_equal(rk_runtime_shutdown(rt, NULL), RK_OK);
    assert_int_equal(rk_light_post(rt, id, T_ECHO, NULL, 0), RK_ESHUTDOWN);
    assert_int_equal(rk_light_recv(rt, &m, 0), RK_ESHUTDOWN);
    rk_runtime_destroy(rt);
}

/* ---- messages -------------------------------------------------------------------------- */

/* A light handler sends to a block actor, which answers it: the block
 * actor sees the light actor as the sender and the light actor sees the
 * block actor; an id that is no actor is refused. */
static void to_block_actor(void **s)
{
    static const rk_light_type t = {"via", via_block, 0, 0};
    static const rk_actor_type back = {"back", send_back, NULL, 0};
    const uint32_t n = 16;
    rk_runtime *rt = light_runtime(n, 2, 0, 0);
    rk_actor_id first = 0, block = 0;
    uint32_t seen = 0;
    rk_lmsg m;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, n, NULL, &first), RK_OK);
    block = launch_block(rt, &back);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p[2] = {block, 100 + i};
        assert_int_equal(post_wait(rt, first + (uint32_t)i, T_ECHO, p, sizeof p), RK_OK);
    }
    for (uint32_t k = 0; k < n; k++) {
        recv_one(rt, &m);
        assert_int_equal(m.type, T_REPORT);
        assert_int_equal(m.data[0], block);
        assert_int_equal(m.data[1], 100 + (m.src - first));
        seen |= 1u << (m.src - first);
    }
    assert_int_equal(seen, (1u << n) - 1);
    {
        uint64_t p[2] = {block + 7, 1}; /* no such block actor */
        assert_int_equal(post_wait(rt, first, T_ECHO, p, sizeof p), RK_OK);
        recv_one(rt, &m);
        assert_int_equal(m.type, T_PROBE);
        assert_int_equal(m.data[0], RK_ENOACTOR);
    }
    rk_runtime_destroy(rt);
}

/* A block actor's handler sends to light actors: each gets its message,
 * with the block actor's id as the sender; 49 bytes and an id not spawned
 * are refused. */
static void from_block_actor(void **s)
{
    static const rk_light_type t = {"who", who, 0, 0};
    static const rk_actor_type fan = {"fan", fan_out, NULL, 0};
    const uint32_t n = 20; /* < 32: the ring to the host of one home holds them all */
    rk_runtime *rt = light_runtime(32, 2, 0, 0);
    rk_actor_id first = 0, block = 0;
    uint32_t seen = 0;
    uint8_t buf[64];
    rk_msgbuf mb = {.data = buf, .capacity = sizeof buf};
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, n, NULL, &first), RK_OK);
    block = launch_block(rt, &fan);
    fan_req q = {first, n, first + n};
    assert_int_equal(rk_send(rt, block, T_ECHO, &q, sizeof q), RK_OK);
    assert_int_equal(rk_recv(rt, &mb, WAIT_NS), RK_OK);
    {
        int32_t r[3];
        memcpy(r, buf, sizeof r);
        assert_int_equal(r[0], RK_OK);
        assert_int_equal(r[1], RK_E2BIG);
        assert_int_equal(r[2], RK_ENOACTOR);
    }
    for (uint32_t k = 0; k < n; k++) {
        rk_lmsg m;
        recv_one(rt, &m);
        assert_int_equal(m.data[0], block);
        assert_int_equal(m.src - first, m.data[1]);
        seen |= 1u << m.data[1];
    }
    assert_int_equal(seen, (1u << n) - 1);
    rk_runtime_destroy(rt);
}

static void echo_exact(void **s)
{
    static const rk_light_type t = {"echo", echo, 0, 0};
    static const uint32_t lens[] = {0, 1, 5, 8, 47, 48};
    unsigned char sent[RK_LIGHT_PAYLOAD];
    rk_runtime *rt = light_runtime(4, 2, 0, 0);
    rk_actor_id id = 0;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, 4, NULL, &id), RK_OK);
    for (uint32_t i = 0; i < sizeof sent; i++)
        sent[i] = (unsigned char)(0xa0 + i);
    for (uint32_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        const rk_actor_id to = id + k % 4;
        const unsigned char *got;
        rk_lmsg m;
        assert_int_equal(post_wait(rt, to, 100 + k, sent, lens[k]), RK_OK);
        recv_one(rt, &m);
        assert_int_equal(m.src, to);
        assert_int_equal(m.type, 100 + k);
        got = (const unsigned char *)m.data;
        assert_memory_equal(got, sent, lens[k]);
        for (uint32_t i = lens[k]; i < RK_LIGHT_PAYLOAD; i++)
            assert_int_equal(got[i], 0); /* zero-padded */
    }
    rk_runtime_destroy(rt);
}

static void handler_sends_refused(void **s)
{
    static const rk_light_type t = {"probe", probe, 0, 0};
    rk_runtime *rt = light_runtime(8, 2, 0, 0);
    rk_actor_id id = 0;
    uint64_t arg[2];
    rk_lmsg m;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, 2, NULL, &id), RK_OK);
    arg[0] = id + 2; /* within `actors`, not spawned */
    arg[1] = id + 1;
    assert_int_equal(post_wait(rt, id, T_PROBE, arg, sizeof arg), RK_OK);
    recv_one(rt, &m);
    assert_int_equal(m.src, id);
    assert_int_equal(m.type, T_PROBE);
    assert_int_equal(m.data[0], RK_ENOACTOR);
    assert_int_equal(m.data[1], RK_ENOACTOR);
    assert_int_equal(m.data[2], RK_E2BIG);
    assert_int_equal(m.data[3], RK_EINVAL);
    assert_int_equal(m.data[4], RK_EINVAL);
    assert_int_equal(m.data[5], RK_EINVAL);
    rk_runtime_destroy(rt);
}

static void state_counts(void **s)
{
    static const rk_light_type t = {"count", count, 0, sizeof(counter)};
    const uint32_t n = 1000;
    rk_runtime *rt = light_runtime(2, 2, 4, 0); /* a small inbox: the posts wait for room */
    rk_actor_id id = 0;
    rk_lmsg m;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, 2, NULL, &id), RK_OK);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(post_wait(rt, id + 1, T_COUNT, NULL, 0), RK_OK);
    assert_int_equal(post_wait(rt, id + 1, T_REPORT, NULL, 0), RK_OK);
    recv_one(rt, &m);
    assert_int_equal(m.src, id + 1);
    assert_int_equal(m.data[1], n);
    assert_int_equal(post_wait(rt, id, T_REPORT, NULL, 0), RK_OK);
    recv_one(rt, &m);
    assert_int_equal(m.src, id);
    assert_int_equal(m.data[1], 0); /* its own state, not its neighbour's */
    rk_runtime_destroy(rt);
}

static void handler_error(void **s)
{
    static const rk_light_type t = {"fail", fail_or_echo, 0, 0};
    rk_runtime *rt = light_runtime(4, 2, 0, 0);
    rk_actor_id id = 0;
    rk_async_error e;
    rk_lmsg m;
    uint64_t deadline = rk_test_now_ns() + WAIT_NS;
    rk_status st;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, 4, NULL, &id), RK_OK);
    assert_int_equal(rk_runtime_error(rt, &e), RK_EEMPTY);
    assert_int_equal(post_wait(rt, id + 3, T_FAIL, NULL, 0), RK_OK);
    while ((st = rk_runtime_error(rt, &e)) == RK_EEMPTY && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(100000);
    assert_int_equal(st, RK_OK);
    assert_int_equal(e.actor, id + 3);
    assert_int_equal(e.status, RK_EHANDLER);
    assert_int_equal(e.generation, 1);
    /* The actor goes on. */
    assert_int_equal(post_wait(rt, id + 3, T_ECHO, NULL, 0), RK_OK);
    recv_one(rt, &m);
    assert_int_equal(m.src, id + 3);
    assert_int_equal(m.type, T_ECHO);
    assert_int_equal(rk_runtime_error(rt, &e), RK_EEMPTY);
    rk_runtime_destroy(rt);
}

/* ---- relay stress ---------------------------------------------------------------------- */

typedef struct relay_msg {
    uint32_t sender, seq; /* host thread, its message number */
    uint32_t first, hops; /* the first actor's index, hops left */
    uint32_t prev;        /* the id the receiver must see as src */
    uint32_t pad_;
} relay_msg;

typedef struct relay_state {
    atomic_int inside; /* 1 while a handler runs it */
    uint32_t pad_;
} relay_state;

static atomic_uint_fast64_t g_send_failed, g_overlaps, g_bad_src;

static uint32_t relay_next(uint32_t index)
{
    return (index * 7u + 1u) % RELAY_ACTORS; /* a permutation: each actor has one predecessor */
}

/* Forwards a message HOPS times, then to the host; checks its src and
 * that no other thread runs the same actor meanwhile. */
static rk_status relay(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    relay_state *rs = state;
    relay_msg r;
    const rk_actor_id self = rk_lctx_self(ctx);
    rk_status st;
    if (atomic_exchange(&rs->inside, 1) != 0)
        atomic_fetch_add(&g_overlaps, 1);
    memcpy(&r, m->data, sizeof r);
    if (m->src != (rk_actor_id)r.prev)
        atomic_fetch_add(&g_bad_src, 1);
    r.prev = self;
    if (r.hops == 0) {
        st = rk_lctx_send(ctx, RK_ACTOR_HOST, T_RELAY, &r, sizeof r);
    } else {
        r.hops--;
        st = rk_lctx_send(ctx, rk_light_id(relay_next(self - RK_LIGHT_ID_BASE)), T_RELAY, &r, sizeof r);
    }
    if (st != RK_OK)
        atomic_fetch_add(&g_send_failed, 1);
    atomic_store(&rs->inside, 0);
    return RK_OK;
}

typedef struct relay_run {
    rk_runtime *rt;
    uint32_t per_sender;
    atomic_uint done[SENDERS]; /* messages of each sender back at the host */
    atomic_int failed;
} relay_run;

typedef struct relay_sender {
    relay_run *run;
    uint32_t id;
} relay_sender;

static void *relay_send_main(void *arg)
{
    relay_sender *s = arg;
    relay_run *run = s->run;
    for (uint32_t seq = 0; seq < run->per_sender && !atomic_load(&run->failed); seq++) {
        const uint64_t deadline = rk_test_now_ns() + WAIT_NS;
        relay_msg r = {s->id, seq, (seq * 131u + s->id * 17u) % RELAY_ACTORS, HOPS, RK_ACTOR_HOST, 0};
        while (seq - atomic_load(&run->done[s->id]) >= WINDOW) {
            if (rk_test_now_ns() >= deadline) {
                atomic_store(&run->failed, 1);
                return NULL;
            }
            sched_yield();
        }
        if (post_wait(run->rt, rk_light_id(r.first), T_RELAY, &r, sizeof r) != RK_OK)
            atomic_store(&run->failed, 1);
    }
    return NULL;
}

/* The actor a message that started at `first` comes back from. */
static uint32_t relay_last(uint32_t first)
{
    for (uint32_t h = 0; h < HOPS; h++)
        first = relay_next(first);
    return first;
}

/* Receives every message once; checks where it comes from and, when
 * `ordered`, that each sender's messages that started at one actor come
 * back in the order sent. */
static void relay_receive(relay_run *run, int ordered)
{
    const uint64_t total = (uint64_t)SENDERS * run->per_sender;
    unsigned char *seen = calloc(total, 1);
    int64_t *last = malloc(sizeof *last * SENDERS * RELAY_ACTORS);
    assert_non_null(seen);
    assert_non_null(last);
    for (size_t i = 0; i < SENDERS * RELAY_ACTORS; i++)
        last[i] = -1;
    for (uint64_t n = 0; n < total; n++) {
        rk_lmsg m;
        relay_msg r;
        recv_one(run->rt, &m);
        memcpy(&r, m.data, sizeof r);
        assert_int_equal(m.type, T_RELAY);
        assert_true(r.sender < SENDERS && r.seq < run->per_sender && r.first < RELAY_ACTORS);
        assert_int_equal(r.hops, 0);
        assert_int_equal(m.src, rk_light_id(relay_last(r.first)));
        assert_int_equal(seen[(size_t)r.sender * run->per_sender + r.seq]++, 0);
        if (ordered)
            assert_true(last[(size_t)r.sender * RELAY_ACTORS + r.first] < (int64_t)r.seq);
        last[(size_t)r.sender * RELAY_ACTORS + r.first] = r.seq;
        atomic_fetch_add(&run->done[r.sender], 1);
    }
    free(last);
    free(seen);
}

static void relay_stress(uint32_t steal, uint32_t cluster)
{
    static const rk_light_type t = {"relay", relay, 0, sizeof(relay_state)};
    /* 64 inbox slots hold every message in flight (at most SENDERS x WINDOW). */
    rk_runtime_options o = light_options(RELAY_ACTORS, 4, 64, steal);
    rk_runtime *rt = NULL;
    relay_run run;
    relay_sender snd[SENDERS];
    pthread_t th[SENDERS];
    rk_shutdown_report rep;
    rk_actor_id id = 0;
    const uint64_t t0 = rk_test_now_ns();
    o.cluster_size = cluster;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    memset(&run, 0, sizeof run);
    run.rt = rt;
    run.per_sender = (uint32_t)rk_test_messages(20000);
    atomic_store(&g_send_failed, 0);
    atomic_store(&g_overlaps, 0);
    atomic_store(&g_bad_src, 0);
    assert_int_equal(rk_light_spawn(rt, &t, RELAY_ACTORS, NULL, &id), RK_OK);
    for (uint32_t i = 0; i < SENDERS; i++) {
        snd[i].run = &run;
        snd[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, relay_send_main, &snd[i]), 0);
    }
    relay_receive(&run, !steal);
    for (uint32_t i = 0; i < SENDERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&run.failed), 0);
    assert_int_equal(atomic_load(&g_send_failed), 0);
    assert_int_equal(atomic_load(&g_overlaps), 0);
    assert_int_equal(atomic_load(&g_bad_src), 0);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.timed_out, 0);
    assert_int_equal(rep.dead_lettered, 0);
    assert_int_equal(rep.host_unread, 0);
    printf("relay steal=%u, clusters of %u: %u x %u messages, %u hops, %.1f ms\n", steal, cluster, SENDERS,
           run.per_sender, HOPS, (double)(rk_test_now_ns() - t0) / 1e6);
    rk_runtime_destroy(rt);
}

static void relay_no_steal(void **s)
{
    (void)s;
    relay_stress(0, 0);
}

static void relay_steal(void **s)
{
    (void)s;
    relay_stress(1, 0);
}

/* The homes in clusters: 4 homes as two clusters of 2 (sends between the
 * two homes of a cluster go through its rings), then one cluster of 4
 * with stealing within it. */
static void relay_clusters(void **s)
{
    (void)s;
    relay_stress(0, 2);
    relay_stress(1, 4);
}

/* ---- shutdown -------------------------------------------------------------------------- */

/* Each message makes two more (mode 2: a growing storm) or one (mode 1:
 * forever); a full inbox, local queue or cluster ring drops them. They go
 * to the actor itself, or with data[1] = n > 0 every second one to the
 * next of the n actors from data[2] (another home). The runs and the sends
 * that went through are counted. */
static atomic_uint_fast64_t g_storm_runs, g_storm_sent;

static rk_status storm(rk_lctx *ctx, void *state, const rk_lmsg *m)
{
    const rk_actor_id self = rk_lctx_self(ctx);
    (void)state;
    atomic_fetch_add_explicit(&g_storm_runs, 1, memory_order_relaxed);
    for (uint64_t i = 0; i < m->data[0]; i++) {
        rk_actor_id to = self;
        if (m->data[1] && (i & 1) == 0)
            to = (rk_actor_id)(m->data[2] + (self - m->data[2] + 1) % m->data[1]);
        if (rk_lctx_send(ctx, to, T_STORM, m->data, 3 * 8) == RK_OK)
            atomic_fetch_add_explicit(&g_storm_sent, 1, memory_order_relaxed);
    }
    return RK_OK;
}

static void storm_shutdown(uint64_t mode, uint32_t steal, uint32_t cluster)
{
    static const rk_light_type t = {"storm", storm, 0, 0};
    rk_runtime_options o = light_options(8, cluster > 2 ? cluster : 2, 16, steal);
    rk_runtime *rt = NULL;
    rk_shutdown_report rep;
    rk_dead_letter d;
    rk_actor_id id = 0;
    uint64_t t0;
    /* The drain always times out (the storm never ends); drained > 0 below
     * needs a home thread to run within it, which under TSan on a 2-core
     * machine shared with other tests took more than 50 ms at times. */
    o.drain_timeout_ns = 250000000ull; /* 250 ms */
    o.cluster_size = cluster;
    atomic_store(&g_storm_runs, 0);
    atomic_store(&g_storm_sent, 0);
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    assert_int_equal(rk_light_spawn(rt, &t, 8, NULL, &id), RK_OK);
    for (uint32_t i = 0; i < 8; i++) {
        uint64_t w[3] = {mode, cluster ? 8 : 0, id};
        assert_int_equal(post_wait(rt, id + i, T_STORM, w, sizeof w), RK_OK);
    }
    rk_test_sleep_ns(5000000);
    t0 = rk_test_now_ns();
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_true(rk_test_now_ns() - t0 < WAIT_NS); /* it returned: the halt stopped the homes */
    assert_int_equal(rep.timed_out, 1);
    assert_true(rep.dead_lettered > 0);
    assert_true(rep.drained > 0);
    assert_int_equal(rep.host_unread, 0);
    /* Every message once: run, or dead-lettered (left in an inbox, or held
     * by a halted home: its local queue, a handed message, its cluster ring). */
    assert_int_equal(8 + atomic_load(&g_storm_sent), atomic_load(&g_storm_runs) + rep.dead_lettered);
    if (steal && !cluster) {
        /* With stealing self-sends go through the inboxes (not a local
         * queue), so what is left is there, as dead letters. */
        assert_int_equal(rk_dead_letter_pop(rt, &d, NULL), RK_OK);
        assert_int_equal(d.reason, RK_ESHUTDOWN);
        assert_true(rk_is_light(d.hdr.dst) && d.hdr.dst - id < 8);
        assert_int_equal(d.hdr.type, T_STORM);
        assert_true(d.hdr.src == d.hdr.dst || d.hdr.src == RK_ACTOR_HOST);
    }
    rk_runtime_destroy(rt);
}

static void storm_grows(void **s)
{
    (void)s;
    storm_shutdown(2, 0, 0);
    storm_shutdown(2, 1, 0);
}

static void storm_forever(void **s)
{
    (void)s;
    storm_shutdown(1, 0, 0);
    storm_shutdown(1, 1, 0);
}

/* Storms across homes of clusters: the halt meets cluster rings. */
static void storm_clusters(void **s)
{
    (void)s;
    storm_shutdown(2, 0, 2);
    storm_shutdown(2, 1, 2);
    storm_shutdown(2, 0, 4);
    storm_shutdown(1, 1, 4);
}

/* Replies nobody reads are counted as host_unread; the drain ran every
 * message (none dead-lettered). */
static void unread_replies(void **s)
{
    static const rk_light_type t = {"echo", echo, 0, 0};
    const uint32_t n = 40; /* 20 per home: within a home's 32-slot ring to the host */
    rk_runtime *rt = light_runtime(n, 2, 0, 0);
    rk_shutdown_report rep;
    rk_actor_id id = 0;
    (void)s;
    assert_int_equal(rk_light_spawn(rt, &t, n, NULL, &id), RK_OK);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(post_wait(rt, id + i, T_ECHO, NULL, 0), RK_OK);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.timed_out, 0);
    assert_int_equal(rep.dead_lettered, 0);
    assert_int_equal(rep.host_unread, n);
    rk_runtime_destroy(rt);
}

/* The drain with messages going back and forth between light actors and
 * a block actor when it starts: handlers keep sending during the drain
 * (only the host's sends are refused), so every chain runs to its end (its
 * last message unread by the host), none is dead-lettered, no send fails.
 * With the light actors holding each bounce 5 ms and the block actor 0.5
 * ms, the block actor is idle while the light actors hold theirs, so the
 * block actors' drain ends first; then the light actors send to it and
 * look quiet while it holds: the drain must go round again
 * (spec/drain.pml; test_gpu_light_runtime has the same cases on CUDA). */
static void drain_bounces_case(uint32_t hops, uint64_t block_hold_us, uint64_t light_hold_us)
{
    static const rk_light_type t = {"bounce", bounce_light, 0, 0};
    static const rk_actor_type back = {"bounce_back", bounce_block, NULL, 0};
    const uint32_t chains = 8;
    rk_runtime_options o = light_options(chains, 2, 0, 0);
    rk_runtime *rt = NULL;
    rk_shutdown_report rep;
    rk_async_error e;
    rk_actor_id first = 0, block;
    atomic_store(&g_bounce_refused, 0);
    o.drain_timeout_ns = 60ull * 1000000000ull;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    assert_int_equal(rk_light_spawn(rt, &t, chains, NULL, &first), RK_OK);
    block = launch_block(rt, &back);
    for (uint32_t i = 0; i < chains; i++) {
        uint64_t p[4] = {block, hops + i, block_hold_us, light_hold_us};
        assert_int_equal(post_wait(rt, first + i, T_BOUNCE, p, sizeof p), RK_OK);
    }
    rk_test_sleep_ns(1000000); /* the chains under way */
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.timed_out, 0);
    assert_int_equal(rep.dead_lettered, 0);
    assert_int_equal(rep.host_unread, chains);
    assert_int_equal(rk_runtime_error(rt, &e), RK_EEMPTY);
    assert_int_equal(atomic_load(&g_bounce_refused), 0);
    rk_runtime_destroy(rt);
}

static void drain_bounces(void **s)
{
    (void)s;
    drain_bounces_case(rk_test_messages(200000) >= 200000 ? 2000 : 200, 0, 0);
    drain_bounces_case(6, 500, 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_refused),
        cmocka_unit_test(no_light),
        cmocka_unit_test(spawn),
        cmocka_unit_test(post_refused),
        cmocka_unit_test(echo_exact),
        cmocka_unit_test(from_block_actor),
        cmocka_unit_test(to_block_actor),
        cmocka_unit_test(handler_sends_refused),
        cmocka_unit_test(state_counts),
        cmocka_unit_test(handler_error),
        cmocka_unit_test(relay_no_steal),
        cmocka_unit_test(relay_steal),
        cmocka_unit_test(relay_clusters),
        cmocka_unit_test(storm_grows),
        cmocka_unit_test(storm_forever),
        cmocka_unit_test(storm_clusters),
        cmocka_unit_test(unread_replies),
        cmocka_unit_test(drain_bounces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
