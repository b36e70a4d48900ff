/* Groups of runtimes on the CPU backend (group.h): gids, options and
 * topology, K2K between members from handlers (a ring of relays on
 * different members, replies to a sender's gid), host sends and calls
 * through any member, refusals, placement, migration under load (several
 * host producers addressing the original gid while the actor moves around
 * the members: nothing lost, nothing handled twice, order kept per
 * producer), forwarding from old gids, what moves with the actor (queued
 * host requests and their replies, its name, its initial state, a Draining
 * state), migration refusals (a supervisor; a supervised actor moves), and
 * destroying a group.
 *
 * Handlers never call cmocka asserts (they run on worker threads): they
 * count what they saw in atomics or in their state, and the test thread
 * checks. Every wait polls a condition with a deadline. */
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
#include "ringkernel/group.h"
#include "ringkernel/ringkernel.h"
#include "ringkernel/supervisor.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define WAIT_LIMIT_NS (60 * SEC)
#define SEND_RETRY_NS (10 * SEC) /* a handler retries a full queue this long */

enum {
    T_SETUP = 1, /* relay: setup_req, its ring neighbours */
    T_TOKEN = 2, /* relay: token, pass it on (or report it to the host) */
    T_PROBE = 3, /* relay: probe_req, send a T_PING there and keep the status */
    T_PING = 4,  /* relay: answer with a T_PONG to the sender (m->src) */
    T_PONG = 5,  /* relay: tell the host who answered */
    T_FAIL = 6,  /* relay: the handler fails */
    T_FWD = 7,   /* relay: fwd_req, send an increment to `dst` */
    T_INC = 8,   /* counter: inc_msg */
    T_QUERY = 9, /* counter: a request; replies with a counter_view */
    T_HOLD = 10, /* counter: wait for the gate (at most 10 s) */
    T_BULK = 11, /* bulk writer: bulk_job, fill a region part, tell the reader */
    T_READ = 12, /* bulk reader: bulk_job, check the part, tell the host */
};

/* ---- relays -------------------------------------------------------------------- */

typedef struct setup_req {
    rk_actor_id next, prev; /* gids */
} setup_req;

typedef struct token {
    uint64_t remaining; /* hops still to make */
    uint64_t hops;      /* hops made */
    uint32_t id;
    uint32_t pad_;
} token;

typedef struct probe_req {
    rk_actor_id dst;
    uint32_t pad_;
} probe_req;

typedef struct pong {
    rk_actor_id from; /* the sender of the T_PONG, as the relay saw it (m->src) */
    rk_actor_id self; /* the relay that reports (local id) */
} pong;

typedef struct inc_msg {
    uint32_t producer;
    uint32_t pad_;
    uint64_t seq; /* 1, 2, 3, ... per producer */
} inc_msg;

typedef struct fwd_req {
    rk_actor_id dst;
    uint32_t pad_;
    inc_msg inc;
} fwd_req;

typedef struct relay_state {
    rk_actor_id next, prev;
} relay_state;

static atomic_ullong g_relay_handled; /* tokens handled */
static atomic_ullong g_relay_bad_src; /* a token whose src was not the previous relay's gid */
static atomic_ullong g_relay_send_err;
static atomic_ullong g_probe_done;
static _Atomic int g_probe_status;
static _Atomic int g_reply_status; /* rk_reply to a message that is not a request */
static atomic_ullong g_pongs;
static atomic_ullong g_fwd_done;
static _Atomic int g_fwd_status;
static atomic_ullong g_fwd_errors; /* T_FWD increments a relay could not send */

static void reset_globals(void)
{
    atomic_store(&g_relay_handled, 0);
    atomic_store(&g_relay_bad_src, 0);
    atomic_store(&g_relay_send_err, 0);
    atomic_store(&g_probe_done, 0);
    atomic_store(&g_probe_status, -1);
    atomic_store(&g_reply_status, -1);
    atomic_store(&g_pongs, 0);
    atomic_store(&g_fwd_done, 0);
    atomic_store(&g_fwd_status, -1);
    atomic_store(&g_fwd_errors, 0);
}

/* rk_ctx_send, retrying a full queue for a while (a migrating receiver is
 * "full" too). */
static rk_status send_retry(rk_ctx *ctx, rk_actor_id dst, uint32_t type, const void *p, uint32_t len)
{
    uint64_t deadline = rk_test_now_ns() + SEND_RETRY_NS;
    rk_status st;
    while ((st = rk_ctx_send(ctx, dst, type, p, len)) == RK_EFULL && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(10000);
    return st;
}

static void relay_token(rk_ctx *ctx, relay_state *s, const rk_msg *m)
{
    token t;
    memcpy(&t, rk_msg_payload(m), sizeof t);
    atomic_fetch_add(&g_relay_handled, 1);
    if (m->src != RK_ACTOR_HOST && m->src != s->prev)
        atomic_fetch_add(&g_relay_bad_src, 1);
    if (t.remaining == 0) {
        if (rk_ctx_send(ctx, RK_ACTOR_HOST, T_TOKEN, &t, sizeof t) != RK_OK)
            atomic_fetch_add(&g_relay_send_err, 1);
        return;
    }
    t.remaining--;
    t.hops++;
    if (send_retry(ctx, s->next, T_TOKEN, &t, sizeof t) != RK_OK)
        atomic_fetch_add(&g_relay_send_err, 1);
}

static rk_status relay_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    relay_state *s = state;
    switch (m->type) {
    case T_SETUP: {
        setup_req r;
        memcpy(&r, rk_msg_payload(m), sizeof r);
        s->next = r.next;
        s->prev = r.prev;
        break;
    }
    case T_TOKEN:
        relay_token(ctx, s, m);
        break;
    case T_PROBE: {
        probe_req r;
        uint32_t v = 0;
        memcpy(&r, rk_msg_payload(m), sizeof r);
        atomic_store(&g_probe_status, (int)rk_ctx_send(ctx, r.dst, T_PING, &v, sizeof v));
        atomic_fetch_add(&g_probe_done, 1);
        break;
    }
    case T_PING: {
        uint32_t v = 0;
        /* Not a request: rk_reply refuses; the sender's gid (m->src) reaches it. */
        atomic_store(&g_reply_status, (int)rk_reply(ctx, T_PONG, &v, sizeof v));
        if (send_retry(ctx, m->src, T_PONG, &v, sizeof v) != RK_OK)
            atomic_fetch_add(&g_relay_send_err, 1);
        break;
    }
    case T_PONG: {
        pong p = {m->src, rk_self(ctx)};
        if (rk_ctx_send(ctx, RK_ACTOR_HOST, T_PONG, &p, sizeof p) != RK_OK)
            atomic_fetch_add(&g_relay_send_err, 1);
        atomic_fetch_add(&g_pongs, 1);
        break;
    }
    case T_FAIL:
        return RK_EHANDLER;
    case T_FWD: {
        fwd_req r;
        memcpy(&r, rk_msg_payload(m), sizeof r);
        rk_status st = send_retry(ctx, r.dst, T_INC, &r.inc, sizeof r.inc);
        atomic_store(&g_fwd_status, (int)st);
        if (st != RK_OK)
            atomic_fetch_add(&g_fwd_errors, 1);
        atomic_fetch_add(&g_fwd_done, 1);
        break;
    }
    }
    return RK_OK;
}

static const rk_actor_type relay_type = {.name = "relay", .handle = relay_handle};

/* ---- the counter that migrates ------------------------------------------------------ */

#define NPROD 4 /* host producers 0..2; 3 = increments that relays forward */
#define BIG_WORDS (256u * 1024u) /* 1 MiB of state that has to move with it */
#define GOLDEN 2654435761u

typedef struct counter_state {
    uint64_t tag;         /* from the initial state; increments leave it */
    uint64_t count;       /* increments handled */
    uint64_t bad;         /* increments out of order or repeated */
    uint64_t last[NPROD]; /* last sequence number per producer */
    uint64_t got[NPROD];  /* increments per producer */
    uint32_t big[BIG_WORDS];
} counter_state;

/* What T_QUERY answers. */
typedef struct counter_view {
    uint64_t tag, count, bad;
    uint64_t last[NPROD], got[NPROD];
    uint64_t pattern_bad; /* words of `big` that are not what the increments made them */
    uint64_t self;        /* rk_self of the answering actor */
} counter_view;

static atomic_ullong g_inc_handled; /* increments handled, by every incarnation */
static atomic_int g_gate, g_hold_entered;
static atomic_ullong g_inits; /* counter_init runs, by every incarnation */

static rk_status counter_init(rk_ctx *ctx, void *state)
{
    counter_state *s = state;
    (void)ctx;
    atomic_fetch_add(&g_inits, 1);
    for (uint32_t i = 0; i < BIG_WORDS; i++)
        s->big[i] = i * GOLDEN;
    return RK_OK;
}

/* Increment k (from 0) adds k + 1 to word k % BIG_WORDS. */
static uint64_t counter_pattern_bad(const counter_state *s)
{
    uint64_t bad = 0;
    for (uint32_t i = 0; i < BIG_WORDS; i++) {
        uint32_t want = i * GOLDEN;
        for (uint64_t k = i; k < s->count; k += BIG_WORDS)
            want += (uint32_t)(k + 1);
        bad += s->big[i] != want;
    }
    return bad;
}

static void counter_inc(counter_state *s, const rk_msg *m)
{
    inc_msg in;
    memcpy(&in, rk_msg_payload(m), sizeof in);
    atomic_fetch_add(&g_inc_handled, 1);
    if (in.producer >= NPROD) {
        s->bad++;
        return;
    }
    if (in.seq != s->last[in.producer] + 1)
        s->bad++;
    s->last[in.producer] = in.seq;
    s->got[in.producer]++;
    s->big[s->count % BIG_WORDS] += (uint32_t)(s->count + 1);
    s->count++;
}

static rk_status counter_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    counter_state *s = state;
    if (m->type == T_INC) {
        counter_inc(s, m);
    } else if (m->type == T_QUERY) {
        counter_view v;
        memset(&v, 0, sizeof v);
        v.tag = s->tag;
        v.count = s->count;
        v.bad = s->bad;
        memcpy(v.last, s->last, sizeof v.last);
        memcpy(v.got, s->got, sizeof v.got);
        v.pattern_bad = counter_pattern_bad(s);
        v.self = rk_self(ctx);
        return rk_reply(ctx, T_QUERY, &v, sizeof v);
    } else if (m->type == T_HOLD) {
        (void)rk_test_gate_wait(&g_gate, &g_hold_entered, 10 * SEC);
    }
    return RK_OK;
}

static const rk_actor_type counter_type = {.name = "counter", .handle = counter_handle, .init = counter_init};

/* ---- helpers ---------------------------------------------------------------------- */

static int setup(void **state)
{
    reset_globals();
    atomic_store(&g_inc_handled, 0);
    atomic_store(&g_gate, 0);
    atomic_store(&g_hold_entered, 0);
    *state = NULL;
    return 0;
}

static int teardown(void **state)
{
    atomic_store(&g_gate, 1);
    rk_group_destroy(*state, NULL);
    return 0;
}

static rk_group *start_n(void **state, uint32_t members, uint32_t workers, uint32_t max_actors)
{
    rk_group_options o;
    rk_group *g = NULL;
    rk_group_options_init(&o);
    o.runtime.backend = RK_BACKEND_CPU;
    o.runtime.workers = workers;
    o.runtime.max_actors = max_actors;
    o.members = members;
    assert_int_equal(rk_group_create(&g, &o), RK_OK);
    assert_non_null(g);
    *state = g;
    return g;
}

static rk_group *start(void **state, uint32_t max_actors)
{
    return start_n(state, 3, 2, max_actors);
}

static rk_status try_launch(rk_group *g, const rk_actor_type *type, uint32_t state_size, uint32_t tenant,
                            uint32_t inbox, const rk_placement *p, rk_actor_id *gid)
{
    static atomic_uint serial;
    rk_actor_options o;
    char name[32];
    snprintf(name, sizeof name, "%s-%u", type->name, atomic_fetch_add(&serial, 1));
    rk_actor_options_init(&o);
    o.name = name;
    o.type = type;
    o.state_size = state_size;
    o.tenant = tenant;
    o.inbox_capacity = inbox;
    return rk_group_launch(g, &o, p, gid);
}

static rk_actor_id launch_on(rk_group *g, const rk_actor_type *type, uint32_t state_size, uint32_t member)
{
    rk_placement p = {RK_PLACE_MEMBER, member, 0};
    rk_actor_id gid = RK_ACTOR_NONE;
    assert_int_equal(try_launch(g, type, state_size, 0, 1024, &p, &gid), RK_OK);
    assert_int_equal(rk_gid_member(gid), (int)member);
    return gid;
}

static rk_actor_id relay_on(rk_group *g, uint32_t member)
{
    return launch_on(g, &relay_type, sizeof(relay_state), member);
}

static rk_runtime *home(rk_group *g, rk_actor_id gid)
{
    rk_runtime *rt = rk_group_member(g, (uint32_t)rk_gid_member(gid));
    assert_non_null(rt);
    return rt;
}

/* Waits until *counter reaches want; returns whether it did in time. */
static int wait_count(atomic_ullong *counter, uint64_t want)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (atomic_load(counter) < want) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(200000);
    }
    return 1;
}

/* Waits until the actor (a gid, not followed) is in state `want`. */
static int wait_state(rk_group *g, rk_actor_id gid, rk_lifecycle_state want)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_lifecycle_state s = RK_DORMANT;
    while (rk_actor_state(home(g, gid), rk_gid_local(gid), &s) == RK_OK && s != want) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(200000);
    }
    return s == want;
}

static counter_view query(rk_runtime *rt, rk_actor_id dst, rk_msgbuf *reply)
{
    counter_view v;
    uint32_t x = 0;
    memset(&v, 0, sizeof v);
    reply->data = &v;
    reply->capacity = sizeof v;
    assert_int_equal(rk_call(rt, dst, T_QUERY, &x, sizeof x, reply, 10 * SEC), RK_OK);
    assert_int_equal(reply->hdr.len, sizeof v);
    reply->data = NULL;
    reply->capacity = 0;
    return v;
}

static rk_status probe(rk_group *g, rk_actor_id from, rk_actor_id dst)
{
    probe_req r = {dst, 0};
    uint64_t before = atomic_load(&g_probe_done);
    assert_int_equal(rk_send(rk_group_member(g, 0), from, T_PROBE, &r, sizeof r), RK_OK);
    assert_true(wait_count(&g_probe_done, before + 1));
    return (rk_status)atomic_load(&g_probe_status);
}

/* ---- 1. gids ----------------------------------------------------------------------- */

static void test_gid(void **state)
{
    const rk_actor_id locals[] = {0, 1, 63, 12345, (1u << 20) - 1, RK_GID_LOCAL_MASK};
    (void)state;
    for (uint32_t m = 0; m < RK_GROUP_MAX; m++) {
        for (size_t i = 0; i < sizeof locals / sizeof locals[0]; i++) {
            rk_actor_id gid = rk_gid(m, locals[i]);
            assert_int_equal(rk_gid_member(gid), (int)m);
            assert_int_equal(rk_gid_local(gid), locals[i]);
            assert_int_equal(gid >> RK_GID_SHIFT, m + 1);
            assert_int_not_equal(gid, RK_ACTOR_HOST);
            assert_int_not_equal(gid, RK_ACTOR_NONE);
        }
    }
    assert_int_equal(rk_gid(0, 5), (1u << 24) | 5u);
    assert_int_equal(rk_gid(7, 0), 8u << 24);
    assert_int_equal(rk_gid_member(rk_gid(7, RK_GID_LOCAL_MASK)), 7);
    /* Plain ids of one runtime are not gids and pass through rk_gid_local. */
    for (rk_actor_id id = 0; id < 4096; id += 97) {
        assert_int_equal(rk_gid_member(id), -1);
        assert_int_equal(rk_gid_local(id), id);
    }
    assert_int_equal(rk_gid_member((1u << 20) - 1), -1);
    assert_int_equal(rk_gid_member(RK_GID_LOCAL_MASK), -1);
    assert_int_equal(rk_gid_member(RK_ACTOR_HOST), -1);
    assert_int_equal(rk_gid_member(RK_ACTOR_NONE), -1);
    assert_int_equal(rk_gid_local(RK_ACTOR_HOST), RK_ACTOR_HOST);
    assert_int_equal(rk_gid_local(RK_ACTOR_NONE), RK_ACTOR_NONE);
    /* Member tags above RK_GROUP_MAX are not gids. */
    assert_int_equal(rk_gid_member((9u << 24) | 1u), -1);
    assert_int_equal(rk_gid_member(rk_gid(RK_GROUP_MAX, 1)), -1);
    assert_int_equal(rk_gid_local((9u << 24) | 1u), (9u << 24) | 1u);
    /* The local part is masked to 24 bits. */
    assert_int_equal(rk_gid_local(rk_gid(2, 0x01234567u)), 0x00234567u);
    assert_int_equal(rk_gid_member(rk_gid(2, 0x01234567u)), 2);
}

/* ---- 2. options, creation, topology ------------------------------------------------ */

static void test_options(void **state)
{
    rk_group_options o, bad;
    rk_runtime_options ro;
    rk_group *g = (rk_group *)0x1;
    (void)state;

    memset(&o, 0x5A, sizeof o);
    rk_group_options_init(&o);
    rk_runtime_options_init(&ro);
    assert_memory_equal(&o.runtime, &ro, sizeof ro);
    assert_int_equal(o.members, 2);
    assert_int_equal(o.peer_capacity, 256);
    for (uint32_t i = 0; i < RK_GROUP_MAX; i++)
        assert_int_equal(o.devices[i], (int)i);
    rk_group_options_init(NULL);

    o.runtime.backend = RK_BACKEND_CPU;
    o.runtime.workers = 1;
    assert_int_equal(rk_group_create(NULL, &o), RK_EINVAL);
    assert_int_equal(rk_group_create(&g, NULL), RK_EINVAL);
    const uint32_t bad_members[] = {0, RK_GROUP_MAX + 1, 1000};
    for (size_t i = 0; i < 3; i++) {
        bad = o;
        bad.members = bad_members[i];
        g = (rk_group *)0x1;
        assert_int_equal(rk_group_create(&g, &bad), RK_EINVAL);
        assert_null(g);
    }
    const uint32_t bad_caps[] = {0, 1, 3, 100, 255, 257, 1u << 21};
    for (size_t i = 0; i < sizeof bad_caps / sizeof bad_caps[0]; i++) {
        bad = o;
        bad.peer_capacity = bad_caps[i];
        assert_int_equal(rk_group_create(&g, &bad), RK_EINVAL);
        assert_null(g);
    }
    bad = o;
    bad.members = 3;
    bad.devices[2] = -1;
    assert_int_equal(rk_group_create(&g, &bad), RK_EINVAL);
    assert_null(g);
    bad.devices[0] = -5;
    bad.devices[2] = 2;
    assert_int_equal(rk_group_create(&g, &bad), RK_EINVAL);

    /* A device beyond `members` is not looked at; powers of two are fine. */
    bad = o;
    bad.members = 1;
    bad.devices[1] = -1;
    bad.peer_capacity = 2;
    assert_int_equal(rk_group_create(&g, &bad), RK_OK);
    assert_int_equal(rk_group_size(g), 1);
    rk_group_destroy(g, NULL);
    bad.peer_capacity = 1u << 20;
    assert_int_equal(rk_group_create(&g, &bad), RK_OK);
    rk_group_destroy(g, NULL);
}

static void test_topology(void **state)
{
    rk_group *g = start(state, 8);
    rk_link_info l;

    assert_int_equal(rk_group_size(g), 3);
    assert_int_equal(rk_group_size(NULL), 0);
    for (uint32_t m = 0; m < 3; m++) {
        rk_runtime *rt = rk_group_member(g, m);
        assert_non_null(rt);
        assert_int_equal(rk_runtime_backend(rt), RK_BACKEND_CPU);
        for (uint32_t k = 0; k < m; k++)
            assert_ptr_not_equal(rt, rk_group_member(g, k));
    }
    assert_null(rk_group_member(g, 3));
    assert_null(rk_group_member(g, UINT32_MAX));
    assert_null(rk_group_member(NULL, 0));
    for (uint32_t a = 0; a < 3; a++) {
        for (uint32_t b = 0; b < 3; b++) {
            memset(&l, 0xEE, sizeof l);
            assert_int_equal(rk_group_link(g, a, b, &l), RK_OK);
            assert_int_equal(l.kind, RK_LINK_SAME);
            assert_int_equal(l.access, 1);
        }
    }
    assert_int_equal(rk_group_link(g, 0, 3, &l), RK_EINVAL);
    assert_int_equal(rk_group_link(g, 3, 0, &l), RK_EINVAL);
    assert_int_equal(rk_group_link(g, 0, 1, NULL), RK_EINVAL);
    assert_int_equal(rk_group_link(NULL, 0, 1, &l), RK_EINVAL);
    assert_string_equal(rk_link_kind_name(RK_LINK_NONE), "none");
    assert_string_equal(rk_link_kind_name(RK_LINK_SAME), "same device");
    assert_string_equal(rk_link_kind_name(RK_LINK_PCIE), "PCIe");
    assert_string_equal(rk_link_kind_name(RK_LINK_NVLINK), "NVLink");
    assert_string_equal(rk_link_kind_name((rk_link_kind)42), "unknown");
}

/* The largest group: member 7's gids work end to end. */
static void test_max_members(void **state)
{
    rk_group *g = start_n(state, RK_GROUP_MAX, 1, 4);
    rk_actor_id a = relay_on(g, 0), z = relay_on(g, RK_GROUP_MAX - 1);
    rk_msgbuf in;
    pong p;

    assert_int_equal(rk_gid_member(z), 7);
    assert_int_equal(rk_group_size(g), RK_GROUP_MAX);
    /* Host on member 0 -> member 7 -> ping member 0 -> pong back to 7 -> host of 7. */
    assert_int_equal(probe(g, z, a), RK_OK);
    assert_true(wait_count(&g_pongs, 1));
    in.data = &p;
    in.capacity = sizeof p;
    assert_int_equal(rk_recv(rk_group_member(g, 7), &in, 10 * SEC), RK_OK);
    assert_int_equal(in.hdr.type, T_PONG);
    assert_int_equal(p.from, a);
    assert_int_equal(p.self, rk_gid_local(z));
    assert_int_equal(atomic_load(&g_relay_send_err), 0);
}

/* ---- 3. K2K between members ------------------------------------------------------- */

#define RING 6   /* relays; relay i lives on member i % 3: every hop crosses members */
#define TOKENS 4 /* in flight at once */

static void test_ring(void **state)
{
    rk_group *g = start(state, 16);
    rk_actor_id r[RING];
    uint64_t n = rk_test_messages(100000), per = n / TOKENS, t0;
    int seen[TOKENS] = {0};
    rk_msgbuf in;
    token t;

    for (uint32_t i = 0; i < RING; i++)
        r[i] = relay_on(g, i % 3);
    for (uint32_t i = 0; i < RING; i++) {
        setup_req s = {r[(i + 1) % RING], r[(i + RING - 1) % RING]};
        assert_int_equal(rk_send(rk_group_member(g, 0), r[i], T_SETUP, &s, sizeof s), RK_OK);
    }
    /* Setup messages are handled before the tokens: each inbox is FIFO and
     * a token reaches relay i only after the host's setup did. */
    t0 = rk_test_now_ns();
    for (uint32_t k = 0; k < TOKENS; k++) {
        token tk = {per, 0, k, 0};
        /* Injected through different members' runtimes. */
        assert_int_equal(rk_send(rk_group_member(g, k % 3), r[k], T_TOKEN, &tk, sizeof tk), RK_OK);
    }
    for (uint32_t k = 0; k < TOKENS; k++) {
        /* Token k ends at relay (k + per) % RING: its member's host queue. */
        uint32_t last = (uint32_t)((k + per) % RING);
        rk_runtime *rt = rk_group_member(g, last % 3);
        rk_status st = RK_ETIMEDOUT;
        uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
        in.data = &t;
        in.capacity = sizeof t;
        /* Tokens ending on the same member may come in any order. */
        while (rk_test_now_ns() < deadline && (st = rk_recv(rt, &in, 100 * MS)) == RK_ETIMEDOUT)
            ;
        assert_int_equal(st, RK_OK);
        assert_int_equal(in.hdr.type, T_TOKEN);
        assert_true(t.id < TOKENS);
        assert_false(seen[t.id]);
        seen[t.id] = 1;
        assert_int_equal(t.hops, per);
        assert_int_equal(t.remaining, 0);
        /* Reported by the token's last relay, whose id is local on its member. */
        assert_int_equal(in.hdr.src, rk_gid_local(r[(t.id + per) % RING]));
        assert_int_equal((t.id + per) % RING % 3, last % 3);
    }
    printf("%llu hops across members in %.3f s\n", (unsigned long long)(per * TOKENS),
           (double)(rk_test_now_ns() - t0) / 1e9);
    assert_int_equal(atomic_load(&g_relay_handled), TOKENS * (per + 1));
    assert_int_equal(atomic_load(&g_relay_bad_src), 0);
    assert_int_equal(atomic_load(&g_relay_send_err), 0);
    for (uint32_t m = 0; m < 3; m++)
        assert_int_equal(rk_recv(rk_group_member(g, m), &in, 0), RK_ETIMEDOUT);
    /* Each relay handled its share; what a relay sent counts where it lives. */
    for (uint32_t i = 0; i < RING; i++) {
        rk_control c;
        assert_int_equal(rk_actor_control(home(g, r[i]), rk_gid_local(r[i]), &c), RK_OK);
        assert_true(c.msgs_in >= TOKENS * ((per + 1) / RING)); /* each token passes it that often */
        assert_int_equal(c.errors, 0);
    }
}

/* ---- symmetric regions -------------------------------------------------------------- */

typedef struct bulk_job {
    uint64_t addr;      /* the part: in some member's region (host memory on the CPU backend) */
    uint64_t len;
    uint64_t seq;       /* byte i is (seq * 31 + i) & 0xff */
    rk_actor_id reader; /* gid */
    uint32_t wrong;     /* T_READ's report: bytes that differ */
} bulk_job;

static unsigned char bulk_byte(uint64_t seq, uint64_t i)
{
    return (unsigned char)((seq * 31u + i) & 0xffu);
}

/* Fills the part, then tells the reader: the message orders the bytes
 * before the reader's handler, as rk_dput's does on CUDA. */
static rk_status bulk_write(rk_ctx *ctx, void *state, const rk_msg *m)
{
    bulk_job j;
    (void)state;
    if (m->type != T_BULK || m->len != sizeof j)
        return RK_EBADMSG;
    memcpy(&j, rk_msg_payload(m), sizeof j);
    for (uint64_t i = 0; i < j.len; i++)
        ((unsigned char *)(uintptr_t)j.addr)[i] = bulk_byte(j.seq, i);
    return send_retry(ctx, j.reader, T_READ, &j, sizeof j);
}

static rk_status bulk_read(rk_ctx *ctx, void *state, const rk_msg *m)
{
    bulk_job j;
    (void)state;
    if (m->type != T_READ || m->len != sizeof j)
        return RK_EBADMSG;
    memcpy(&j, rk_msg_payload(m), sizeof j);
    j.wrong = 0;
    for (uint64_t i = 0; i < j.len; i++)
        j.wrong += ((const unsigned char *)(uintptr_t)j.addr)[i] != bulk_byte(j.seq, i);
    return send_retry(ctx, RK_ACTOR_HOST, T_READ, &j, sizeof j);
}

static const rk_actor_type bulk_writer_type = {.name = "bulk-writer", .handle = bulk_write};
static const rk_actor_type bulk_reader_type = {.name = "bulk-reader", .handle = bulk_read};

/* Options, the regions' addresses and contents, and data written by a
 * handler of one member into another's region, read there by an actor the
 * writer's message reached. */
static void test_symmetric(void **state)
{
    const uint64_t bytes = (1u << 20) + 100; /* not a multiple of a line */
    rk_group_options o;
    rk_group *g = NULL, *none = start_n(state, 2, 1, 4);
    rk_actor_id writer, reader[3];
    uint64_t addr[3], got, n;
    rk_msgbuf in;
    bulk_job j;

    /* A group without regions, and bad arguments. */
    assert_int_equal(rk_group_symmetric(none, 0, &addr[0], &got), RK_ENOTSUP);
    assert_int_equal(rk_group_symmetric(none, 2, &addr[0], &got), RK_EINVAL);
    assert_int_equal(rk_group_symmetric(NULL, 0, &addr[0], &got), RK_EINVAL);
    assert_int_equal(rk_group_symmetric(none, 0, NULL, &got), RK_EINVAL);
    assert_int_equal(rk_group_symmetric(none, 0, &addr[0], NULL), RK_EINVAL);
    rk_group_destroy(none, NULL);
    *state = NULL;
    rk_group_options_init(&o);
    assert_int_equal(o.symmetric_bytes, 0);
    o.runtime.backend = RK_BACKEND_CPU;
    o.runtime.workers = 2;
    o.runtime.max_actors = 8;
    o.members = 3;
    o.symmetric_bytes = (1ull << 40) + 1;
    assert_int_equal(rk_group_create(&g, &o), RK_EINVAL);
    assert_null(g);
    o.symmetric_bytes = bytes;
    assert_int_equal(rk_group_create(&g, &o), RK_OK);
    *state = g;

    for (uint32_t m = 0; m < 3; m++) {
        const unsigned char *p;
        assert_int_equal(rk_group_symmetric(g, m, &addr[m], &got), RK_OK);
        assert_int_equal(got, bytes);
        assert_true(addr[m] != 0 && addr[m] % 256 == 0);
        p = (const unsigned char *)(uintptr_t)addr[m];
        for (n = 0; n < bytes && p[n] == 0; n++)
            ;
        assert_int_equal(n, bytes); /* zeroed */
        for (uint32_t k = 0; k < m; k++) /* apart */
            assert_true(addr[k] + bytes <= addr[m] || addr[m] + bytes <= addr[k]);
        reader[m] = launch_on(g, &bulk_reader_type, 0, m);
    }
    writer = launch_on(g, &bulk_writer_type, 0, 0);
    /* Into member 1's region, its last bytes; into member 2's, its first;
     * into the writer's own, the middle; a few times over. */
    for (uint64_t seq = 1; seq <= 30; seq++) {
        const uint32_t m = (uint32_t)(seq % 3);
        const uint64_t off = m == 1 ? bytes - 4096 : m == 2 ? 0 : bytes / 2;
        bulk_job want = {addr[m] + off, 4096, seq, reader[m], 0};
        assert_int_equal(rk_send(rk_group_member(g, 0), writer, T_BULK, &want, sizeof want), RK_OK);
        in.data = &j;
        in.capacity = sizeof j;
        /* The reader answers to its member's host queue. */
        assert_int_equal(rk_recv(rk_group_member(g, m), &in, WAIT_LIMIT_NS), RK_OK);
        assert_int_equal(in.hdr.type, T_READ);
        assert_int_equal(j.seq, seq);
        assert_int_equal(j.addr, want.addr);
        assert_int_equal(j.wrong, 0);
    }
}

/* A handler's message to another member carries the sender's gid, and a
 * send to that gid reaches the sender; rk_reply is for requests only. */
static void test_src_is_gid(void **state)
{
    rk_group *g = start(state, 8);
    rk_actor_id a = relay_on(g, 0), b = relay_on(g, 2), c = relay_on(g, 0);
    rk_msgbuf in;
    pong p;

    in.data = &p;
    in.capacity = sizeof p;
    /* a (member 0) pings b (member 2); b answers to m->src; a reports. */
    assert_int_equal(probe(g, a, b), RK_OK);
    assert_true(wait_count(&g_pongs, 1));
    assert_int_equal(rk_recv(rk_group_member(g, 0), &in, 10 * SEC), RK_OK);
    assert_int_equal(in.hdr.type, T_PONG);
    assert_int_equal(p.from, b);
    assert_int_equal(p.self, rk_gid_local(a));
    assert_int_equal(atomic_load(&g_reply_status), RK_EINVAL);

    /* Within one member, by a gid of its own member: a plain id comes back. */
    assert_int_equal(probe(g, a, c), RK_OK);
    assert_true(wait_count(&g_pongs, 2));
    assert_int_equal(rk_recv(rk_group_member(g, 0), &in, 10 * SEC), RK_OK);
    assert_int_equal(p.from, rk_gid_local(c));
    assert_int_equal(p.self, rk_gid_local(a));
    assert_int_equal(atomic_load(&g_relay_send_err), 0);
}

/* The host reaches any member's actor through any member's runtime. */
static void test_host_send_call(void **state)
{
    rk_group *g = start(state, 8);
    rk_actor_id cnt = launch_on(g, &counter_type, sizeof(counter_state), 2);
    rk_runtime *rt0 = rk_group_member(g, 0);
    rk_msgbuf reply;
    counter_view v;

    for (uint64_t s = 1; s <= 100; s++) {
        inc_msg in = {(uint32_t)(s % 3), 0, (s + 2) / 3};
        assert_int_equal(rk_send_wait(rk_group_member(g, (uint32_t)(s % 3)), cnt, T_INC, &in, sizeof in, 10 * SEC),
                         RK_OK);
    }
    assert_true(wait_count(&g_inc_handled, 100));
    /* rk_call through member 0 goes to member 2, where the reply arrives. */
    v = query(rt0, cnt, &reply);
    assert_int_equal(v.count, 100);
    assert_int_equal(v.bad, 0);
    assert_int_equal(v.got[0] + v.got[1] + v.got[2], 100);
    assert_int_equal(v.pattern_bad, 0);
    assert_int_equal(v.self, rk_gid_local(cnt));
    assert_int_equal(reply.hdr.src, rk_gid_local(cnt));
    /* The same through member 2 with the plain local id. */
    v = query(rk_group_member(g, 2), rk_gid_local(cnt), &reply);
    assert_int_equal(v.count, 100);
    /* The local id is not an actor of member 0. */
    assert_int_equal(rk_send(rt0, rk_gid_local(cnt), T_INC, &v, 16), RK_ENOACTOR);
    assert_int_equal(rk_recv(rt0, &reply, 0), RK_ETIMEDOUT);
    /* A batch through member 0 to the gid: each message forwarded, in order. */
    {
        inc_msg b[50];
        uint32_t sent = 0;
        for (uint32_t i = 0; i < 50; i++)
            b[i] = (inc_msg){0, 0, 34 + i}; /* producer 0 sent 1..33 above */
        assert_int_equal(rk_send_batch(rt0, cnt, T_INC, b, sizeof *b, 50, &sent), RK_OK);
        assert_int_equal(sent, 50);
        assert_true(wait_count(&g_inc_handled, 150));
        v = query(rt0, cnt, &reply);
        assert_int_equal(v.count, 150);
        assert_int_equal(v.bad, 0);
        assert_int_equal(v.got[0], 83);
    }
}

/* ---- 4. refusals ------------------------------------------------------------------------ */

static void test_refusals(void **state)
{
    rk_group *g = start(state, 8);
    rk_runtime *rt0 = rk_group_member(g, 0);
    rk_actor_id a = relay_on(g, 0), b = relay_on(g, 1), t2;
    rk_placement p1 = {RK_PLACE_MEMBER, 1, 0};
    rk_tenant_stats ts;
    uint64_t cross = 0;
    uint32_t v = 0;
    rk_msgbuf reply;
    rk_msg h;

    reply.data = NULL;
    reply.capacity = 0;
    /* A member beyond the group. */
    assert_int_equal(rk_send(rt0, rk_gid(3, 0), T_PING, &v, sizeof v), RK_ENOACTOR);
    assert_int_equal(rk_send(rt0, rk_gid(7, rk_gid_local(a)), T_PING, &v, sizeof v), RK_ENOACTOR);
    assert_int_equal(rk_call(rt0, rk_gid(5, 0), T_PING, &v, sizeof v, &reply, 100 * MS), RK_ENOACTOR);
    assert_int_equal(probe(g, a, rk_gid(3, 0)), RK_ENOACTOR);
    assert_int_equal(probe(g, a, rk_gid(7, 0)), RK_ENOACTOR);
    /* A local id that does not exist on its member. */
    assert_int_equal(rk_send(rt0, rk_gid(1, 999), T_PING, &v, sizeof v), RK_ENOACTOR);
    assert_int_equal(rk_send(rt0, rk_gid(1, rk_gid_local(b) + 1), T_PING, &v, sizeof v), RK_ENOACTOR);
    assert_int_equal(probe(g, a, rk_gid(1, 999)), RK_ENOACTOR);
    assert_int_equal(probe(g, a, rk_gid(2, 0)), RK_ENOACTOR); /* member 2 has no actor */

    /* Tenants across members: a (tenant 0, member 0) and t2 (tenant 2, member 1). */
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 2, 64, &p1, &t2), RK_OK);
    assert_int_equal(probe(g, a, t2), RK_ETENANT);
    memset(&h, 0, sizeof h);
    h.type = T_PING;
    h.dst = t2;
    h.tenant = 0;
    h.len = sizeof v;
    assert_int_equal(rk_send_msg(rt0, &h, &v), RK_ETENANT);
    h.tenant = 2;
    assert_int_equal(rk_send_msg(rt0, &h, &v), RK_OK); /* its own tenant goes through */
    assert_int_equal(probe(g, a, b), RK_OK);         /* and tenant 0 to tenant 0 */
    for (uint32_t m = 0; m < 3; m++) {
        assert_int_equal(rk_tenant_stats_get(rk_group_member(g, m), &ts), RK_OK);
        cross += ts.cross_refused;
    }
    assert_int_equal(cross, 2);
}

/* ---- 5. placement ------------------------------------------------------------------------- */

static uint32_t member_of(rk_actor_id gid)
{
    int m = rk_gid_member(gid);
    assert_true(m >= 0);
    return (uint32_t)m;
}

static void test_least_loaded(void **state)
{
    rk_group *g = start(state, 8);
    rk_placement ll = {RK_PLACE_LEAST_LOADED, 0, 0};
    rk_actor_id ids[6], id;

    for (uint32_t m = 0; m < 3; m++)
        assert_int_equal(rk_group_load(g, m), 0);
    assert_int_equal(rk_group_load(g, 3), 0);
    assert_int_equal(rk_group_load(NULL, 0), 0);
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, i % 2 ? &ll : NULL, &ids[i]), RK_OK);
        /* Ties go to the lowest member. */
        assert_int_equal(member_of(ids[i]), i % 3);
    }
    for (uint32_t m = 0; m < 3; m++)
        assert_int_equal(rk_group_load(g, m), 2);
    /* A terminated actor no longer counts: the next launch fills the gap. */
    assert_int_equal(rk_terminate(home(g, ids[4]), rk_gid_local(ids[4])), RK_OK);
    assert_int_equal(rk_group_load(g, 1), 1);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, NULL, &id), RK_OK);
    assert_int_equal(member_of(id), 1);
    /* Pinned launches skew the loads; least loaded follows. */
    id = launch_on(g, &relay_type, sizeof(relay_state), 0);
    id = launch_on(g, &relay_type, sizeof(relay_state), 0);
    assert_int_equal(rk_group_load(g, 0), 4);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &ll, &id), RK_OK);
    assert_int_equal(member_of(id), 1);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &ll, &id), RK_OK);
    assert_int_equal(member_of(id), 2);
    for (uint32_t m = 0; m < 3; m++)
        assert_int_equal(rk_group_load(g, m), m == 0 ? 4 : 3);
}

static void test_place_member_near(void **state)
{
    rk_group *g = start(state, 3); /* three actor slots per member */
    rk_placement p = {RK_PLACE_MEMBER, 3, 0};
    rk_actor_id x, id, ids[5];

    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_EINVAL);
    p.member = UINT32_MAX;
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_EINVAL);
    p.kind = (rk_place_kind)9;
    p.member = 0;
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_EINVAL);
    for (uint32_t m = 0; m < 3; m++)
        assert_int_equal(rk_group_load(g, m), 0);

    x = launch_on(g, &relay_type, sizeof(relay_state), 1);
    assert_int_equal(rk_group_load(g, 1), 1);
    p.kind = RK_PLACE_NEAR;
    p.near = x;
    /* Near x while member 1 has room ... */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_OK);
        assert_int_equal(member_of(id), 1);
    }
    assert_int_equal(rk_group_load(g, 1), 3);
    /* ... then the least loaded member with the best link (all the same on the CPU). */
    id = launch_on(g, &relay_type, sizeof(relay_state), 0);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &ids[0]), RK_OK);
    assert_int_equal(member_of(ids[0]), 2);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &ids[1]), RK_OK);
    assert_int_equal(member_of(ids[1]), 0); /* 0 and 2 both have one: the lower */
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &ids[2]), RK_OK);
    assert_int_equal(member_of(ids[2]), 2);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &ids[3]), RK_OK);
    assert_int_equal(member_of(ids[3]), 0);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &ids[4]), RK_OK);
    assert_int_equal(member_of(ids[4]), 2);
    for (uint32_t m = 0; m < 3; m++)
        assert_int_equal(rk_group_load(g, m), 3);
    /* The group is full: near and least loaded say what rk_launch says. */
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_ENOMEM);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, NULL, &id), RK_ENOMEM);

    /* Near something that is not an actor. */
    p.near = rk_gid(1, 99);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_ENOACTOR);
    p.near = rk_gid(5, 0);
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_ENOACTOR);
    p.near = RK_ACTOR_HOST;
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_ENOACTOR);
    p.near = RK_ACTOR_NONE;
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_ENOACTOR);
    p.near = 0; /* a plain id is not a gid */
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_ENOACTOR);
    assert_int_equal(rk_group_launch(NULL, NULL, NULL, &id), RK_EINVAL);
    {
        /* rk_actor_options.near is a local id: in a group, placement says
         * it (RK_PLACE_NEAR), so a launch that sets it is refused, near an
         * actor or not, and launches nothing. */
        rk_actor_options o;
        rk_actor_options_init(&o);
        o.name = "beside";
        o.type = &relay_type;
        o.state_size = sizeof(relay_state);
        o.inbox_capacity = 64;
        o.near = 0;
        p.near = x;
        assert_int_equal(rk_group_launch(g, &o, &p, &id), RK_EINVAL);
        assert_int_equal(rk_group_launch(g, &o, NULL, &id), RK_EINVAL);
        assert_int_equal(rk_group_lookup(g, "beside", &id), RK_ENOACTOR);
    }
}

/* NEAR follows a migrated actor to where it lives now. */
static void test_place_near_migrated(void **state)
{
    rk_group *g = start(state, 8);
    rk_actor_id x = relay_on(g, 0), now, id;
    rk_placement p = {RK_PLACE_NEAR, 0, 0};
    rk_migrate_report r;

    assert_int_equal(rk_group_migrate(g, x, 2, 0, 5 * SEC, &r), RK_OK);
    assert_int_equal(rk_group_resolve(g, x, &now), RK_OK);
    assert_int_equal(now, r.to);
    assert_int_equal(member_of(now), 2);
    assert_int_equal(rk_group_load(g, 0), 0);
    assert_int_equal(rk_group_load(g, 2), 1);
    p.near = x;
    assert_int_equal(try_launch(g, &relay_type, sizeof(relay_state), 0, 64, &p, &id), RK_OK);
    assert_int_equal(member_of(id), 2);
}

/* ---- 6. migration -------------------------------------------------------------------------- */

#define PRODUCERS 3
#define MIGRATIONS 12

/* Where the k-th migration goes: around every member, both ways, twice. */
static const uint32_t k_route[MIGRATIONS] = {1, 2, 0, 2, 1, 0, 1, 2, 0, 2, 1, 0};

typedef struct producer {
    pthread_t thread;
    rk_runtime *rt; /* the member it sends through */
    rk_actor_id dst; /* the original gid */
    rk_actor_id via; /* RK_ACTOR_NONE: sends itself; else a relay that sends each increment from its handler */
    uint32_t id;
    uint64_t n;
    atomic_ullong sent;  /* acknowledged by rk_send_wait */
    _Atomic int status;  /* the first status other than RK_OK, else RK_OK */
    atomic_int done;
    atomic_int *stop;
} producer;

static void *producer_main(void *arg)
{
    producer *p = arg;
    uint64_t deadline = rk_test_now_ns() + 4 * WAIT_LIMIT_NS;
    for (uint64_t s = 1; s <= p->n && !atomic_load(p->stop); s++) {
        inc_msg in = {p->id, 0, s};
        fwd_req f = {p->dst, 0, in};
        rk_status st = p->via == RK_ACTOR_NONE ? rk_send_wait(p->rt, p->dst, T_INC, &in, sizeof in, 10 * SEC)
                                               : rk_send_wait(p->rt, p->via, T_FWD, &f, sizeof f, 10 * SEC);
        if (st == RK_OK && rk_test_now_ns() > deadline)
            st = RK_ETIMEDOUT;
        if (st != RK_OK) {
            atomic_store(&p->status, (int)st);
            break;
        }
        atomic_store(&p->sent, s);
    }
    atomic_store(&p->done, 1);
    return NULL;
}

/* A host thread that calls the counter (by its original gid, through each
 * member in turn) while it moves. */
typedef struct caller {
    pthread_t thread;
    rk_group *g;
    rk_actor_id dst;
    atomic_int *stop;
    atomic_ullong calls, full, wrong; /* answered, refused as moving, answers that went back in time */
    _Atomic int status;               /* the first status other than RK_OK or RK_EFULL */
    atomic_int done;
} caller;

static void *caller_main(void *arg)
{
    caller *c = arg;
    uint64_t last = 0, i = 0;
    counter_view v;
    rk_msgbuf reply;
    uint32_t x = 0;
    while (!atomic_load(c->stop)) {
        rk_status st;
        reply.data = &v;
        reply.capacity = sizeof v;
        st = rk_call(rk_group_member(c->g, (uint32_t)(i++ % 3)), c->dst, T_QUERY, &x, sizeof x, &reply, 5 * SEC);
        if (st == RK_EFULL) {
            atomic_fetch_add(&c->full, 1);
            rk_test_sleep_ns(100000);
            continue;
        }
        if (st != RK_OK) {
            atomic_store(&c->status, (int)st);
            break;
        }
        if (v.count < last || v.bad != 0 || v.pattern_bad != 0)
            atomic_fetch_add(&c->wrong, 1);
        last = v.count;
        atomic_fetch_add(&c->calls, 1);
        rk_test_sleep_ns(MS);
    }
    atomic_store(&c->done, 1);
    return NULL;
}

/* Checks one migration's report. */
static void check_report(const rk_migrate_report *r, rk_actor_id from, uint32_t to, uint64_t state_bytes)
{
    assert_int_equal(r->from, from);
    assert_int_equal(rk_gid_member(r->to), (int)to);
    assert_int_not_equal(r->to, r->from);
    assert_int_equal(r->state_bytes, state_bytes);
    assert_int_equal(r->path, RK_MIGRATE_HOST);
    assert_int_equal(r->crc_before, r->crc_after);
    assert_int_not_equal(r->crc_before, 0);
    assert_true(r->quiesce_ns > 0);
    assert_true(r->launch_ns > 0);
    assert_true(r->transfer_ns > 0);
    assert_true(r->swap_ns > 0);
    assert_true(r->total_ns >= r->quiesce_ns + r->launch_ns + r->transfer_ns);
}

static void start_producers(rk_group *g, rk_actor_id dst, uint64_t per, producer *prod, caller *call, atomic_int *stop)
{
    atomic_store(stop, 0);
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        producer *p = &prod[i];
        p->rt = rk_group_member(g, i);
        p->dst = dst;
        p->via = RK_ACTOR_NONE;
        p->id = i;
        p->n = per;
        atomic_store(&p->sent, 0);
        atomic_store(&p->status, RK_OK);
        atomic_store(&p->done, 0);
        p->stop = stop;
        assert_int_equal(pthread_create(&p->thread, NULL, producer_main, p), 0);
    }
    call->g = g;
    call->dst = dst;
    call->stop = stop;
    atomic_store(&call->calls, 0);
    atomic_store(&call->full, 0);
    atomic_store(&call->wrong, 0);
    atomic_store(&call->status, RK_OK);
    atomic_store(&call->done, 0);
    assert_int_equal(pthread_create(&call->thread, NULL, caller_main, call), 0);
}

static int producers_done(producer *prod)
{
    for (uint32_t i = 0; i < PRODUCERS; i++)
        if (!atomic_load(&prod[i].done))
            return 0;
    return 1;
}

/* Waits (bounded) for the producers to finish, then stops the caller and
 * any straggler and joins them all: no thread outlives the test's group. */
static void join_producers(producer *prod, caller *call, atomic_int *stop)
{
    uint64_t deadline = rk_test_now_ns() + 4 * WAIT_LIMIT_NS;
    while (!producers_done(prod) && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(MS);
    atomic_store(stop, 1);
    for (uint32_t i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i].thread, NULL);
    pthread_join(call->thread, NULL);
}

static void test_migrate_under_load(void **state)
{
    /* Member 3 only holds the relay of the fourth producer: a handler that
     * waits for the counter must not share a worker with it. */
    rk_group *g = start_n(state, 4, 2, 16);
    rk_placement p0 = {RK_PLACE_MEMBER, 0, 0};
    rk_actor_id orig, now[MIGRATIONS], homes[MIGRATIONS + 1];
    uint64_t per = rk_test_messages(300000) / PRODUCERS, total = per * PRODUCERS, moved = 0, sent = 0;
    rk_migrate_report r[MIGRATIONS];
    rk_status st[MIGRATIONS];
    producer prod[PRODUCERS + 1], *hp = &prod[PRODUCERS];
    caller call;
    atomic_int stop, hp_stop;
    rk_msgbuf reply;
    counter_view v;
    uint32_t done = 0;

    /* A small inbox, so that migrations find messages queued to move. */
    assert_int_equal(try_launch(g, &counter_type, sizeof(counter_state), 0, 256, &p0, &orig), RK_OK);
    homes[0] = orig;
    start_producers(g, orig, per, prod, &call, &stop);
    /* A fourth producer whose increments come from a handler: a relay on
     * member 3 sends each (retrying RK_EFULL while the counter moves). */
    hp->rt = rk_group_member(g, 2);
    hp->dst = orig;
    hp->via = relay_on(g, 3);
    hp->id = PRODUCERS;
    hp->n = per;
    atomic_store(&hp->sent, 0);
    atomic_store(&hp->status, RK_OK);
    atomic_store(&hp->done, 0);
    atomic_store(&hp_stop, 0); /* its own: it is slower than the others */
    hp->stop = &hp_stop;
    assert_int_equal(pthread_create(&hp->thread, NULL, producer_main, hp), 0);

    /* Nothing asserted until the threads are joined: a failure must not
     * leave them sending into a destroyed group. */
    for (; done < MIGRATIONS; done++) {
        uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
        /* Spread over the run: wait until some of the messages went through. */
        while (atomic_load(&g_inc_handled) < (done + 1) * total / (MIGRATIONS + 2) && !producers_done(prod) &&
               rk_test_now_ns() < deadline)
            rk_test_sleep_ns(MS);
        memset(&r[done], 0, sizeof r[done]);
        /* By the original gid: the group follows it to where the actor is. */
        st[done] = rk_group_migrate(g, orig, k_route[done], RK_MIGRATE_VERIFY, 10 * SEC, &r[done]);
        now[done] = RK_ACTOR_NONE;
        (void)rk_group_resolve(g, orig, &now[done]);
        if (st[done] != RK_OK)
            break;
        homes[done + 1] = r[done].to;
        moved += r[done].messages;
        printf("migration %u: member %d -> %u at %llu handled, %llu messages moved, total %.3f ms "
               "(quiesce %.3f, launch %.3f, transfer %.3f, swap %.3f)\n",
               done + 1, rk_gid_member(r[done].from), k_route[done], (unsigned long long)atomic_load(&g_inc_handled),
               (unsigned long long)r[done].messages, (double)r[done].total_ns / 1e6, (double)r[done].quiesce_ns / 1e6,
               (double)r[done].launch_ns / 1e6, (double)r[done].transfer_ns / 1e6, (double)r[done].swap_ns / 1e6);
    }
    join_producers(prod, &call, &stop);
    {
        uint64_t deadline = rk_test_now_ns() + 4 * WAIT_LIMIT_NS;
        while (!atomic_load(&hp->done) && rk_test_now_ns() < deadline)
            rk_test_sleep_ns(MS);
        atomic_store(&hp_stop, 1);
        pthread_join(hp->thread, NULL);
    }
    printf("producer %u (a relay's handler on member 3): %llu of %llu sent, status %s, %llu not sent on\n",
           (unsigned)PRODUCERS, (unsigned long long)atomic_load(&hp->sent), (unsigned long long)per,
           rk_status_name((rk_status)atomic_load(&hp->status)), (unsigned long long)atomic_load(&g_fwd_errors));
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        printf("producer %u (via member %u): %llu of %llu sent, status %s\n", i, i,
               (unsigned long long)atomic_load(&prod[i].sent), (unsigned long long)per,
               rk_status_name((rk_status)atomic_load(&prod[i].status)));
        sent += atomic_load(&prod[i].sent);
    }
    printf("caller: %llu calls answered, %llu refused while moving, status %s\n",
           (unsigned long long)atomic_load(&call.calls), (unsigned long long)atomic_load(&call.full),
           rk_status_name((rk_status)atomic_load(&call.status)));
    printf("%llu messages moved with the actor over %u migrations\n", (unsigned long long)moved, done);

    /* Each migration: its report, and the original gid resolving to its result. */
    for (uint32_t k = 0; k < MIGRATIONS; k++) {
        assert_int_equal(st[k], RK_OK);
        check_report(&r[k], homes[k], k_route[k], sizeof(counter_state));
        assert_int_equal(now[k], r[k].to);
    }
    /* The relay has sent on what it was given (or counted a failure). */
    assert_true(wait_count(&g_fwd_done, atomic_load(&hp->sent)));
    assert_int_equal(atomic_load(&g_fwd_errors), 0);
    sent += atomic_load(&hp->sent);
    assert_true(wait_count(&g_inc_handled, sent));
    rk_test_sleep_ns(20 * MS); /* anything beyond what was acknowledged would show now */

    /* Every acknowledged message handled exactly once, in order per producer. */
    v = query(rk_group_member(g, 0), orig, &reply);
    assert_int_equal(v.self, rk_gid_local(homes[MIGRATIONS]));
    assert_int_equal(v.bad, 0);
    assert_int_equal(v.count, sent);
    assert_int_equal(atomic_load(&g_inc_handled), sent);
    for (uint32_t i = 0; i <= PRODUCERS; i++) {
        assert_int_equal(v.got[i], atomic_load(&prod[i].sent));
        assert_int_equal(v.last[i], atomic_load(&prod[i].sent));
    }
    assert_int_equal(v.pattern_bad, 0);
    /* ... and every message was acknowledged. */
    for (uint32_t i = 0; i <= PRODUCERS; i++) {
        assert_int_equal(atomic_load(&prod[i].status), RK_OK);
        assert_int_equal(atomic_load(&prod[i].sent), per);
    }
    assert_int_equal(v.count, total + per);
    /* The calls meanwhile were answered, by wherever the actor was. */
    assert_int_equal(atomic_load(&call.status), RK_OK);
    assert_int_equal(atomic_load(&call.wrong), 0);
    assert_true(atomic_load(&call.calls) > 0);

    /* The old homes are Terminated; only the last one counts as load. */
    for (uint32_t k = 0; k < MIGRATIONS; k++) {
        rk_control c;
        assert_true(wait_state(g, homes[k], RK_TERMINATED));
        assert_int_equal(rk_actor_control(home(g, homes[k]), rk_gid_local(homes[k]), &c), RK_OK);
        assert_int_equal(c.state, RK_TERMINATED);
    }
    for (uint32_t m = 0; m < 3; m++)
        assert_int_equal(rk_group_load(g, m), m == k_route[MIGRATIONS - 1] ? 1 : 0);
}

/* After each migration the old gids - every one of them - still reach the
 * actor: host sends, calls through any member, and a relay's K2K. */
static void test_forward_chain(void **state)
{
    rk_group *g = start(state, 16);
    rk_actor_id gids[MIGRATIONS + 1], relay[3], now;
    rk_msgbuf reply;
    counter_view v;
    uint64_t seq = 0;

    for (uint32_t m = 0; m < 3; m++)
        relay[m] = relay_on(g, m);
    gids[0] = launch_on(g, &counter_type, sizeof(counter_state), 0);
    for (uint32_t k = 1; k <= MIGRATIONS; k++) {
        rk_migrate_report r;
        uint32_t to = k_route[k - 1];
        assert_int_equal(rk_group_migrate(g, gids[k - 1], to, RK_MIGRATE_VERIFY, 10 * SEC, &r), RK_OK);
        check_report(&r, gids[k - 1], to, sizeof(counter_state));
        gids[k] = r.to;
        for (uint32_t j = 0; j <= k; j++) {
            inc_msg in = {0, 0, ++seq};
            rk_status st;
            assert_int_equal(rk_group_resolve(g, gids[j], &now), RK_OK);
            assert_int_equal(now, gids[k]);
            /* The host, through each member in turn. */
            st = rk_send(rk_group_member(g, (j + k) % 3), gids[j], T_INC, &in, sizeof in);
            if (st != RK_OK)
                printf("after %u migrations: host send to gid %u (home %u) -> %s\n", k, j, j,
                       rk_status_name(st));
            assert_int_equal(st, RK_OK);
            /* A relay on each member. */
            for (uint32_t m = 0; m < 3; m++) {
                fwd_req f = {gids[j], 0, {0, 0, ++seq}};
                uint64_t before = atomic_load(&g_fwd_done);
                assert_int_equal(rk_send(rk_group_member(g, m), relay[m], T_FWD, &f, sizeof f), RK_OK);
                assert_true(wait_count(&g_fwd_done, before + 1));
                st = (rk_status)atomic_load(&g_fwd_status);
                if (st != RK_OK)
                    printf("after %u migrations: relay on member %u to gid %u -> %s\n", k, m, j, rk_status_name(st));
                assert_int_equal(st, RK_OK);
            }
            /* A call through each member, answered by the new home. */
            v = query(rk_group_member(g, j % 3), gids[j], &reply);
            assert_int_equal(v.self, rk_gid_local(gids[k]));
            assert_int_equal(reply.hdr.src, rk_gid_local(gids[k]));
            assert_int_equal(v.count, seq);
            assert_int_equal(v.last[0], seq);
            assert_int_equal(v.bad, 0);
        }
    }
    assert_int_equal(v.pattern_bad, 0);
}

/* A host request queued when the actor moves goes with it; its reply must
 * still reach the rk_call that waits for it (on the runtime it called
 * through). */
typedef struct call_job {
    pthread_t thread;
    rk_runtime *rt;
    rk_actor_id dst;
    counter_view v;
    _Atomic int status;
    atomic_int done;
} call_job;

static void *call_job_main(void *arg)
{
    call_job *c = arg;
    rk_msgbuf reply;
    uint32_t x = 0;
    reply.data = &c->v;
    reply.capacity = sizeof c->v;
    atomic_store(&c->status, (int)rk_call(c->rt, c->dst, T_QUERY, &x, sizeof x, &reply, 5 * SEC));
    atomic_store(&c->done, 1);
    return NULL;
}

typedef struct migrate_job {
    pthread_t thread;
    rk_group *g;
    rk_actor_id gid;
    uint32_t to;
    rk_migrate_report r;
    _Atomic int status;
    atomic_int done;
} migrate_job;

static void *migrate_job_main(void *arg)
{
    migrate_job *j = arg;
    atomic_store(&j->status, (int)rk_group_migrate(j->g, j->gid, j->to, RK_MIGRATE_VERIFY, 10 * SEC, &j->r));
    atomic_store(&j->done, 1);
    return NULL;
}

static int wait_flag(atomic_int *flag, uint64_t limit_ns)
{
    uint64_t deadline = rk_test_now_ns() + limit_ns;
    while (!atomic_load(flag)) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(MS);
    }
    return 1;
}

#define BEHIND 40 /* increments queued behind the held one: more than a worker's batch */

static void test_migrate_moves_request(void **state)
{
    rk_group *g = start(state, 16);
    rk_actor_id orig = launch_on(g, &counter_type, sizeof(counter_state), 0), cur = orig;
    uint64_t seq = 0;
    int reached = 0;

    for (int attempt = 0; attempt < 5 && !reached; attempt++) {
        rk_runtime *rt = home(g, cur);
        call_job c;
        migrate_job j;
        uint32_t credits = 0, v = 0;
        int call_ok, mig_ok;
        uint64_t deadline;

        atomic_store(&g_gate, 0);
        assert_int_equal(rk_send(rt, rk_gid_local(cur), T_HOLD, &v, sizeof v), RK_OK);
        deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
        while (atomic_load(&g_hold_entered) < attempt + 1 && rk_test_now_ns() < deadline)
            rk_test_sleep_ns(100000);
        assert_int_equal(atomic_load(&g_hold_entered), attempt + 1);
        for (int i = 0; i < BEHIND; i++) {
            inc_msg in = {0, 0, ++seq};
            assert_int_equal(rk_send(rt, rk_gid_local(cur), T_INC, &in, sizeof in), RK_OK);
        }
        /* A call (through another member) queued behind them ... */
        c.rt = rk_group_member(g, (uint32_t)(rk_gid_member(cur) + 1) % 3);
        c.dst = orig;
        atomic_store(&c.status, -1);
        atomic_store(&c.done, 0);
        assert_int_equal(pthread_create(&c.thread, NULL, call_job_main, &c), 0);
        deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
        do
            assert_int_equal(rk_credits(rt, rk_gid_local(cur), &credits), RK_OK);
        while (credits > 1024 - (BEHIND + 2) && rk_test_now_ns() < deadline && (rk_test_sleep_ns(100000), 1));
        /* ... and a migration that waits for the held handler: the worker
         * then hands the actor over between two batches, the request still
         * queued. */
        j.g = g;
        j.gid = orig;
        j.to = (uint32_t)(rk_gid_member(cur) + 1 + attempt % 2) % 3;
        atomic_store(&j.status, -1);
        atomic_store(&j.done, 0);
        assert_int_equal(pthread_create(&j.thread, NULL, migrate_job_main, &j), 0);
        rk_test_sleep_ns((50 * MS) << attempt); /* until it waits for the handler: longer each try */
        atomic_store(&g_gate, 1);
        mig_ok = wait_flag(&j.done, WAIT_LIMIT_NS);
        call_ok = wait_flag(&c.done, WAIT_LIMIT_NS);
        pthread_join(j.thread, NULL);
        pthread_join(c.thread, NULL);
        assert_true(mig_ok && call_ok);
        assert_int_equal(credits, 1024 - (BEHIND + 2));
        assert_int_equal(atomic_load(&j.status), RK_OK);
        cur = j.r.to;
        printf("attempt %d: %llu messages moved; the call says %s\n", attempt, (unsigned long long)j.r.messages,
               rk_status_name((rk_status)atomic_load(&c.status)));
        reached = j.r.messages > 0;
        assert_int_equal(atomic_load(&c.status), RK_OK);
        assert_int_equal(c.v.count, seq);
        assert_int_equal(c.v.bad, 0);
        assert_int_equal(c.v.self, reached ? rk_gid_local(cur) : rk_gid_local(j.r.from));
    }
    assert_true(reached);
}

/* The name moves with the actor: bound at the new home, released at the old. */
static void test_migrate_name(void **state)
{
    rk_group *g = start(state, 8);
    rk_placement p0 = {RK_PLACE_MEMBER, 0, 0};
    rk_actor_options o;
    rk_actor_id a, id;
    rk_migrate_report r;

    rk_actor_options_init(&o);
    o.name = "svc.counter";
    o.type = &counter_type;
    o.state_size = sizeof(counter_state);
    assert_int_equal(rk_group_launch(g, &o, &p0, &a), RK_OK);
    assert_int_equal(rk_lookup(rk_group_member(g, 0), "svc.counter", &id), RK_OK);
    assert_int_equal(id, rk_gid_local(a));
    assert_int_equal(rk_group_lookup(g, "svc.counter", &id), RK_OK);
    assert_int_equal(id, a);
    assert_int_equal(rk_group_migrate(g, a, 2, 0, 10 * SEC, &r), RK_OK);
    assert_int_equal(rk_lookup(rk_group_member(g, 2), "svc.counter", &id), RK_OK);
    assert_int_equal(id, rk_gid_local(r.to));
    assert_int_equal(rk_lookup(rk_group_member(g, 0), "svc.counter", &id), RK_ENOACTOR);
    /* The group's lookup finds it at its new home. */
    assert_int_equal(rk_group_lookup(g, "svc.counter", &id), RK_OK);
    assert_int_equal(id, r.to);
    assert_int_equal(rk_group_lookup(g, "svc.nothing", &id), RK_ENOACTOR);
    assert_int_equal(rk_group_lookup(g, NULL, &id), RK_EINVAL);
    assert_int_equal(rk_group_lookup(g, "svc.counter", NULL), RK_EINVAL);
    assert_int_equal(rk_group_lookup(NULL, "svc.counter", &id), RK_EINVAL);
    /* ... so that it can come back. */
    assert_int_equal(rk_group_migrate(g, a, 0, 0, 10 * SEC, &r), RK_OK);
    assert_int_equal(rk_lookup(rk_group_member(g, 0), "svc.counter", &id), RK_OK);
    assert_int_equal(id, rk_gid_local(r.to));
    assert_int_equal(rk_lookup(rk_group_member(g, 2), "svc.counter", &id), RK_ENOACTOR);
    assert_int_equal(rk_group_lookup(g, "svc.counter", &id), RK_OK);
    assert_int_equal(id, r.to);
}

/* The new home has the old one's options, its initial state among them: a
 * restart after the move gives what a restart before it would have. */
static void test_migrate_restart(void **state)
{
    rk_group *g = start(state, 8);
    rk_placement p0 = {RK_PLACE_MEMBER, 0, 0};
    counter_state *init = calloc(1, sizeof *init);
    rk_actor_options o;
    rk_actor_id a;
    rk_migrate_report r;
    rk_msgbuf reply;
    counter_view v;
    rk_status st;
    unsigned long long inits;

    assert_non_null(init);
    init->tag = 0xC0FFEE;
    rk_actor_options_init(&o);
    o.name = "tagged";
    o.type = &counter_type;
    o.state_size = sizeof *init;
    o.initial_state = init;
    st = rk_group_launch(g, &o, &p0, &a);
    free(init);
    assert_int_equal(st, RK_OK);
    for (uint64_t s = 1; s <= 5; s++) {
        inc_msg in = {1, 0, s};
        assert_int_equal(rk_send(rk_group_member(g, 0), a, T_INC, &in, sizeof in), RK_OK);
    }
    v = query(rk_group_member(g, 0), a, &reply);
    assert_int_equal(v.tag, 0xC0FFEE);
    assert_int_equal(v.count, 5);
    /* The new home runs no init: the state it handles with is the moved one. */
    inits = atomic_load(&g_inits);
    assert_int_equal(rk_group_migrate(g, a, 1, RK_MIGRATE_VERIFY, 10 * SEC, &r), RK_OK);
    assert_int_equal(atomic_load(&g_inits), inits);
    v = query(rk_group_member(g, 0), a, &reply);
    assert_int_equal(v.tag, 0xC0FFEE);
    assert_int_equal(v.count, 5);
    assert_int_equal(v.last[1], 5);
    assert_int_equal(v.pattern_bad, 0);
    /* A restart there starts fresh: the initial state, then init. */
    assert_int_equal(rk_restart(rk_group_member(g, 1), rk_gid_local(r.to)), RK_OK);
    assert_int_equal(atomic_load(&g_inits), inits + 1);
    v = query(rk_group_member(g, 0), a, &reply);
    assert_int_equal(v.count, 0);
    assert_int_equal(v.pattern_bad, 0);
    assert_int_equal(v.tag, 0xC0FFEE);
}

/* A Draining actor may move (group.h); it moves as it was: still taking
 * no new messages. */
static void test_migrate_draining(void **state)
{
    rk_group *g = start(state, 8);
    rk_actor_id a = launch_on(g, &counter_type, sizeof(counter_state), 1), now;
    rk_migrate_report r;
    rk_lifecycle_state s;
    inc_msg in = {0, 0, 1};

    assert_int_equal(rk_deactivate(rk_group_member(g, 1), rk_gid_local(a)), RK_OK);
    assert_int_equal(rk_send(rk_group_member(g, 0), a, T_INC, &in, sizeof in), RK_ESTATE);
    assert_int_equal(rk_group_migrate(g, a, 2, RK_MIGRATE_VERIFY, 10 * SEC, &r), RK_OK);
    assert_int_equal(rk_group_resolve(g, a, &now), RK_OK);
    assert_int_equal(now, r.to);
    assert_int_equal(rk_actor_state(rk_group_member(g, 2), rk_gid_local(r.to), &s), RK_OK);
    assert_int_equal(s, RK_DRAINING);
    assert_int_equal(rk_send(rk_group_member(g, 0), a, T_INC, &in, sizeof in), RK_ESTATE);
    assert_int_equal(atomic_load(&g_inc_handled), 0);
}

/* Ids are not reused: each move takes one at the new home. When the new
 * home has none left the move is refused with RK_ENOMEM and the actor runs
 * on where it was. */
static void test_migrate_ids(void **state)
{
    rk_group *g = start(state, 4);
    rk_actor_id a = relay_on(g, 1), last = a, now;
    rk_migrate_report r;
    rk_status st = RK_OK;
    uint32_t moves = 0;
    while (moves < 20) {
        const uint32_t to = rk_gid_member(last) == 1 ? 0u : 1u;
        if ((st = rk_group_migrate(g, a, to, 0, 5 * SEC, &r)) != RK_OK)
            break;
        last = r.to;
        moves++;
    }
    assert_int_equal(st, RK_ENOMEM);
    /* Members 0 and 1 have 4 ids each; member 1's first went to the relay. */
    assert_int_equal(moves, 7);
    assert_int_equal(rk_group_resolve(g, a, &now), RK_OK);
    assert_int_equal(now, last);
    assert_int_equal(probe(g, a, relay_on(g, 2)), RK_OK);
    assert_true(wait_count(&g_pongs, 1));
}

static void test_migrate_errors(void **state)
{
    rk_group *g = start(state, 8);
    rk_actor_id a = relay_on(g, 1), dead = relay_on(g, 2), now;
    rk_migrate_report r;
    rk_lifecycle_state s;

    assert_int_equal(rk_group_migrate(g, a, 1, 0, SEC, &r), RK_EINVAL);          /* its own member */
    assert_int_equal(rk_group_migrate(g, a, 3, 0, SEC, &r), RK_EINVAL);          /* no such member */
    assert_int_equal(rk_group_migrate(g, a, 0, 1u << 7, SEC, &r), RK_EINVAL);    /* unknown flag */
    assert_int_equal(rk_group_migrate(g, rk_gid_local(a), 0, 0, SEC, &r), RK_EINVAL); /* not a gid */
    assert_int_equal(rk_group_migrate(NULL, a, 0, 0, SEC, &r), RK_EINVAL);
    assert_int_equal(rk_group_migrate(g, rk_gid(1, 99), 0, 0, SEC, &r), RK_ENOACTOR);
    assert_int_equal(rk_group_migrate(g, rk_gid(0, 0), 1, 0, SEC, &r), RK_ENOACTOR); /* member 0 is empty */
    assert_int_equal(rk_terminate(home(g, dead), rk_gid_local(dead)), RK_OK);
    assert_int_equal(rk_group_migrate(g, dead, 0, 0, SEC, &r), RK_ESTATE);
    assert_int_equal(rk_actor_state(home(g, dead), rk_gid_local(dead), &s), RK_OK);
    assert_int_equal(s, RK_TERMINATED);
    assert_int_equal(rk_group_resolve(g, dead, &now), RK_OK);
    assert_int_equal(now, dead);
    /* Nothing moved; the refused ones still work where they are. */
    assert_int_equal(rk_group_resolve(g, a, &now), RK_OK);
    assert_int_equal(now, a);
    assert_int_equal(rk_group_load(g, 0), 0);
    assert_int_equal(rk_group_load(g, 1), 1);
    assert_int_equal(probe(g, a, relay_on(g, 0)), RK_OK);
    assert_true(wait_count(&g_pongs, 1));
    /* A supervisor stays; its supervised child moves and stays its child
     * (test_migrate_supervised.c has the rest). */
    {
        rk_runtime *rt2 = rk_group_member(g, 2);
        rk_supervisor_options so;
        rk_supervisor_info info;
        rk_supervisor_child kid;
        rk_actor_options o;
        rk_actor_id sup, child;
        size_t n = 0;
        rk_supervisor_options_init(&so);
        so.name = "sup";
        assert_int_equal(rk_supervisor_create(rt2, &so, &sup), RK_OK);
        rk_actor_options_init(&o);
        o.name = "supervised";
        o.type = &relay_type;
        o.state_size = sizeof(relay_state);
        assert_int_equal(rk_supervisor_start_child(rt2, sup, &o, RK_CHILD_PERMANENT, &child), RK_OK);
        assert_int_equal(rk_group_migrate(g, sup, 0, 0, SEC, &r), RK_ENOTSUP);
        assert_int_equal(rk_supervisor_info_get(rt2, sup, &info), RK_OK);
        assert_int_equal(info.state, RK_ACTIVE);
        assert_int_equal(rk_group_migrate(g, rk_gid(2, child), 0, 0, SEC, &r), RK_OK);
        assert_int_equal(member_of(r.to), 0);
        assert_int_equal(rk_actor_state(rk_group_member(g, 0), rk_gid_local(r.to), &s), RK_OK);
        assert_int_equal(s, RK_ACTIVE);
        assert_int_equal(rk_group_resolve(g, rk_gid(2, child), &now), RK_OK);
        assert_int_equal(now, r.to);
        assert_int_equal(rk_supervisor_info_get(rt2, sup, &info), RK_OK);
        assert_int_equal(info.children, 1);
        assert_int_equal(info.state, RK_ACTIVE);
        assert_int_equal(rk_supervisor_children(rt2, sup, &kid, 1, &n), RK_OK);
        assert_int_equal(n, 1);
        assert_int_equal(kid.id, r.to);
        assert_int_equal(kid.state, RK_ACTIVE);
        assert_int_equal(probe(g, rk_gid(2, child), relay_on(g, 0)), RK_OK);
        assert_true(wait_count(&g_pongs, 2));
    }
    /* resolve's own refusals */
    assert_int_equal(rk_group_resolve(g, rk_gid(1, 99), &now), RK_ENOACTOR);
    assert_int_equal(rk_group_resolve(g, rk_gid(3, 0), &now), RK_EINVAL);
    assert_int_equal(rk_group_resolve(g, 0, &now), RK_EINVAL);
    assert_int_equal(rk_group_resolve(g, a, NULL), RK_EINVAL);
    assert_int_equal(rk_group_resolve(NULL, a, &now), RK_EINVAL);
    /* A migration without a report, and back again by the old gid. */
    assert_int_equal(rk_group_migrate(g, a, 2, RK_MIGRATE_HOST_STAGED, SEC, NULL), RK_OK);
    assert_int_equal(rk_group_resolve(g, a, &now), RK_OK);
    assert_int_equal(member_of(now), 2);
    assert_int_equal(rk_group_migrate(g, a, 2, 0, SEC, &r), RK_EINVAL); /* where it is now */
    assert_int_equal(rk_group_migrate(g, a, 1, 0, SEC, &r), RK_OK);
    assert_int_equal(r.from, now);
    assert_int_equal(member_of(r.to), 1);
    assert_int_equal(r.state_bytes, sizeof(relay_state));
    assert_int_equal(r.crc_before, 0); /* not asked to verify */
}

/* ---- 7. destroy ----------------------------------------------------------------------------- */

static void test_destroy_report(void **state)
{
    rk_group *g = start(state, 8);
    rk_actor_id r[3], f = relay_on(g, 2);
    rk_shutdown_report rep;

    for (uint32_t m = 0; m < 3; m++) {
        token t = {0, 0, m, 0};
        r[m] = relay_on(g, m);
        /* Each reports to its member's host, which never reads it. */
        assert_int_equal(rk_send(rk_group_member(g, 0), r[m], T_TOKEN, &t, sizeof t), RK_OK);
    }
    assert_int_equal(rk_send(rk_group_member(g, 0), f, T_FAIL, NULL, 0), RK_OK);
    assert_true(wait_count(&g_relay_handled, 3));
    assert_true(wait_state(g, f, RK_FAILED));
    for (uint32_t m = 0; m < 3; m++) {
        rk_control c;
        uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
        do
            assert_int_equal(rk_actor_control(home(g, r[m]), rk_gid_local(r[m]), &c), RK_OK);
        while (c.msgs_out < 1 && rk_test_now_ns() < deadline);
        assert_int_equal(c.msgs_out, 1);
    }
    memset(&rep, 0xAB, sizeof rep);
    *state = NULL; /* destroyed here */
    rk_group_destroy(g, &rep);
    assert_int_equal(rep.host_unread, 3);
    assert_int_equal(rep.actors_failed, 1);
    assert_int_equal(rep.dead_lettered, 0);
    assert_int_equal(rep.drained, 0);
    assert_int_equal(rep.timed_out, 0);
    assert_int_equal(atomic_load(&g_relay_send_err), 0);

    rk_group_destroy(NULL, NULL);
    rk_group_destroy(NULL, &rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topology, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symmetric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_src_is_gid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_send_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_least_loaded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_place_member_near, setup, teardown),
        cmocka_unit_test_setup_teardown(test_place_near_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_moves_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_draining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_report, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
