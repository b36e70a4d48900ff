/* The runtime on the CPU backend, through the public API: options, launch,
 * host send/recv, request/reply (alone, concurrent and timed out), every
 * refusal status, the lifecycle commands, handler failures, K2K messaging,
 * metrics and shutdown (drain, unread host messages, drain timeout).
 *
 * All the tests drive one "universal" actor type whose behaviour is chosen
 * by the message type (T_* below). Handlers never use cmocka asserts (they
 * run on worker threads): they record what they saw, and the test thread
 * checks it. Every wait is bounded, so a bug fails a test instead of hanging
 * it; a handler held on the gate gives up after GATE_LIMIT_NS and fails. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rk_test.h"
#include "ringkernel/ringkernel.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define CALL_TIMEOUT (5 * SEC)
#define WAIT_LIMIT_NS (10 * SEC) /* for conditions the test polls */
#define GATE_LIMIT_NS (10 * SEC) /* a handler held on the gate gives up after this */

/* Message types of the universal actor. */
enum {
    T_ECHO = 1,   /* request: reply with the payload; else send it to the host */
    T_NOTE = 2,   /* request of v: send v + 1000 to the host, then reply v */
    T_COUNT = 3,  /* ++count; request: reply count, else send it to the host */
    T_FAIL = 4,   /* return RK_ENOTSUP: the actor fails */
    T_GATE = 5,   /* log v, wait for the gate; request: reply v */
    T_REC = 6,    /* log v */
    T_LATE = 7,   /* request: wait for the gate, then reply v */
    T_FWD = 8,    /* fwd_req: rk_ctx_send(dst, T_ECHO, value), report the status to the host */
    T_STATUS = 9, /* (to the host) an rk_status as int32 */
    T_SETUP = 10, /* next = v */
    T_TOKEN = 11, /* token: ++hops; at limit send to the host, else to next */
    T_HOLD = 12,  /* log v, wait until g_level >= v */
};

typedef struct ustate {
    uint64_t count;
    uint32_t next;
    uint32_t pad_;
} ustate;

typedef struct fwd_req {
    uint32_t dst;
    uint32_t pad_;
    uint64_t value;
} fwd_req;

typedef struct token {
    uint64_t hops;
    uint64_t limit;
} token;

/* ---- what the handlers saw ----------------------------------------------- */

static atomic_int g_gate;     /* 1 lets T_GATE / T_LATE handlers go on */
static atomic_int g_entered;  /* handlers that reached the gate */
static atomic_int g_level;    /* T_HOLD handlers of v <= this go on */
static atomic_int g_inits;    /* calls of the init function */
static atomic_int g_init_rc;  /* what the init function returns */

#define LOG_MAX 4096
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_log[LOG_MAX];
static uint32_t g_log_n;

static void reset_globals(void)
{
    atomic_store(&g_gate, 0);
    atomic_store(&g_entered, 0);
    atomic_store(&g_level, 0);
    atomic_store(&g_inits, 0);
    atomic_store(&g_init_rc, RK_OK);
    pthread_mutex_lock(&g_log_lock);
    g_log_n = 0;
    pthread_mutex_unlock(&g_log_lock);
}

static void log_value(uint64_t v)
{
    pthread_mutex_lock(&g_log_lock);
    if (g_log_n < LOG_MAX)
        g_log[g_log_n] = v;
    g_log_n++;
    pthread_mutex_unlock(&g_log_lock);
}

static uint32_t log_count(void)
{
    pthread_mutex_lock(&g_log_lock);
    uint32_t n = g_log_n;
    pthread_mutex_unlock(&g_log_lock);
    return n;
}

static uint64_t log_at(uint32_t i)
{
    pthread_mutex_lock(&g_log_lock);
    uint64_t v = g_log[i];
    pthread_mutex_unlock(&g_log_lock);
    return v;
}

/* Returns 0 if the gate stayed closed for GATE_LIMIT_NS. */
static int gate_wait(void)
{
    return rk_test_gate_wait(&g_gate, &g_entered, GATE_LIMIT_NS);
}

/* Returns 0 if g_level stayed below `level` for GATE_LIMIT_NS. */
static int hold_wait(int level)
{
    uint64_t deadline = rk_test_now_ns() + GATE_LIMIT_NS;
    atomic_fetch_add(&g_entered, 1);
    while (atomic_load(&g_level) < level) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(100000);
    }
    return 1;
}

/* ---- the universal actor ------------------------------------------------ */

static rk_status u_init(rk_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    atomic_fetch_add(&g_inits, 1);
    return (rk_status)atomic_load(&g_init_rc);
}

static rk_status u_token(rk_ctx *ctx, ustate *s, const rk_msg *m)
{
    token t;
    memcpy(&t, rk_msg_payload(m), sizeof t);
    t.hops++;
    if (t.hops >= t.limit)
        return rk_ctx_send(ctx, RK_ACTOR_HOST, T_TOKEN, &t, sizeof t);
    return rk_ctx_send(ctx, s->next, T_TOKEN, &t, sizeof t);
}

static rk_status u_fwd(rk_ctx *ctx, const rk_msg *m)
{
    fwd_req f;
    int32_t st;
    memcpy(&f, rk_msg_payload(m), sizeof f);
    st = (int32_t)rk_ctx_send(ctx, f.dst, T_ECHO, &f.value, sizeof f.value);
    return rk_ctx_send(ctx, RK_ACTOR_HOST, T_STATUS, &st, sizeof st);
}

static rk_status u_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    ustate *s = state;
    const void *p = rk_msg_payload(m);
    int request = (m->flags & RK_MSG_F_REQUEST) != 0;
    uint64_t v = 0, n;
    rk_status st;

    if (m->len >= sizeof v)
        memcpy(&v, p, sizeof v);
    switch (m->type) {
    case T_ECHO:
        if (request)
            return rk_reply(ctx, T_ECHO, p, m->len);
        return rk_ctx_send(ctx, RK_ACTOR_HOST, T_ECHO, p, m->len);
    case T_NOTE:
        n = v + 1000;
        st = rk_ctx_send(ctx, RK_ACTOR_HOST, T_NOTE, &n, sizeof n);
        return st != RK_OK ? st : rk_reply(ctx, T_NOTE, &v, sizeof v);
    case T_COUNT:
        s->count++;
        if (request)
            return rk_reply(ctx, T_COUNT, &s->count, sizeof s->count);
        return rk_ctx_send(ctx, RK_ACTOR_HOST, T_COUNT, &s->count, sizeof s->count);
    case T_FAIL:
        return RK_ENOTSUP;
    case T_GATE:
        log_value(v);
        if (!gate_wait())
            return RK_ETIMEDOUT;
        return request ? rk_reply(ctx, T_GATE, &v, sizeof v) : RK_OK;
    case T_REC:
        log_value(v);
        return RK_OK;
    case T_LATE:
        if (!gate_wait())
            return RK_ETIMEDOUT;
        return rk_reply(ctx, T_LATE, &v, sizeof v);
    case T_FWD:
        return u_fwd(ctx, m);
    case T_SETUP:
        s->next = (uint32_t)v;
        return RK_OK;
    case T_TOKEN:
        return u_token(ctx, s, m);
    case T_HOLD:
        log_value(v);
        return hold_wait((int)v) ? RK_OK : RK_ETIMEDOUT;
    }
    return RK_OK; /* other types: handled, nothing to do */
}

static const rk_actor_type u_type = {.name = "universal", .handle = u_handle, .init = u_init, .gpu_type = 7};
static const rk_actor_type no_handler_type = {.name = "nothing", .handle = NULL};

/* ---- fixture and helpers -------------------------------------------------- */

typedef struct fx {
    rk_runtime *rt;
    pthread_t opener;
    int opener_started;
    uint64_t open_after_ns;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    reset_globals();
    *state = f;
    return f ? 0 : -1;
}

/* Runs after a failed test as well: lets any held handler go and frees the
 * runtime, so one failure does not leave threads behind for the next test. */
static int teardown(void **state)
{
    fx *f = *state;
    atomic_store(&g_gate, 1);
    if (f->opener_started)
        pthread_join(f->opener, NULL);
    rk_runtime_destroy(f->rt);
    free(f);
    return 0;
}

static void *opener_main(void *arg)
{
    fx *f = arg;
    rk_test_sleep_ns(f->open_after_ns);
    atomic_store(&g_gate, 1);
    return NULL;
}

/* Opens the gate from another thread after `ns`. */
static void open_gate_later(fx *f, uint64_t ns)
{
    f->open_after_ns = ns;
    assert_int_equal(pthread_create(&f->opener, NULL, opener_main, f), 0);
    f->opener_started = 1;
}

static rk_runtime_options cpu_options(void)
{
    rk_runtime_options o;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    return o;
}

static rk_runtime *start(fx *f, const rk_runtime_options *o)
{
    rk_runtime_options d = cpu_options();
    assert_int_equal(rk_runtime_create(&f->rt, o ? o : &d), RK_OK);
    assert_non_null(f->rt);
    return f->rt;
}

static rk_actor_options actor_opts(const char *name, uint32_t inbox, uint32_t tenant)
{
    static const ustate init = {100, 0, 0};
    rk_actor_options o;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &u_type;
    o.initial_state = &init;
    o.state_size = sizeof init;
    if (inbox)
        o.inbox_capacity = inbox;
    o.tenant = tenant;
    return o;
}

static rk_actor_id launch(rk_runtime *rt, const char *name, uint32_t inbox, uint32_t tenant)
{
    rk_actor_options o = actor_opts(name, inbox, tenant);
    rk_actor_id id = RK_ACTOR_NONE;
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    assert_int_not_equal(id, RK_ACTOR_NONE);
    return id;
}

static rk_status send_u64(rk_runtime *rt, rk_actor_id id, uint32_t type, uint64_t v)
{
    return rk_send(rt, id, type, &v, sizeof v);
}

/* rk_call with an 8-byte request and reply; the reply value in *out. */
static rk_status call_u64(rk_runtime *rt, rk_actor_id id, uint32_t type, uint64_t v, uint64_t *out,
                          uint64_t timeout)
{
    rk_msgbuf r = {.data = out, .capacity = sizeof *out};
    rk_status st = rk_call(rt, id, type, &v, sizeof v, &r, timeout);
    if (st == RK_OK && r.hdr.len != sizeof *out)
        return RK_EINTERNAL;
    return st;
}

static rk_status recv_u64(rk_runtime *rt, rk_msgbuf *r, uint64_t *out, uint64_t timeout)
{
    r->data = out;
    r->capacity = sizeof *out;
    return rk_recv(rt, r, timeout);
}

static rk_actor_metrics metrics(rk_runtime *rt, rk_actor_id id)
{
    rk_actor_metrics m;
    memset(&m, 0xAB, sizeof m);
    assert_int_equal(rk_actor_metrics_get(rt, id, &m), RK_OK);
    return m;
}

static rk_control control(rk_runtime *rt, rk_actor_id id)
{
    rk_control c;
    memset(&c, 0xAB, sizeof c);
    assert_int_equal(rk_actor_control(rt, id, &c), RK_OK);
    return c;
}

static rk_lifecycle_state state_of(rk_runtime *rt, rk_actor_id id)
{
    rk_lifecycle_state s = (rk_lifecycle_state)99;
    assert_int_equal(rk_actor_state(rt, id, &s), RK_OK);
    return s;
}

/* Polls until the actor has handled `n` messages; returns its msgs_in. */
static uint64_t wait_msgs_in(rk_runtime *rt, rk_actor_id id, uint64_t n)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_actor_metrics m = metrics(rt, id);
    while (m.msgs_in < n && rk_test_now_ns() < deadline) {
        rk_test_sleep_ns(200000);
        m = metrics(rt, id);
    }
    return m.msgs_in;
}

/* The worker frees a message's slot after its handler returns, so a reply
 * can reach the host before the depth drops: poll for it. */
static uint64_t wait_depth(rk_runtime *rt, rk_actor_id id, uint64_t depth)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_actor_metrics m = metrics(rt, id);
    while (m.queue_depth != depth && rk_test_now_ns() < deadline) {
        rk_test_sleep_ns(200000);
        m = metrics(rt, id);
    }
    return m.queue_depth;
}

static rk_lifecycle_state wait_state(rk_runtime *rt, rk_actor_id id, rk_lifecycle_state want)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_lifecycle_state s = state_of(rt, id);
    while (s != want && rk_test_now_ns() < deadline) {
        rk_test_sleep_ns(200000);
        s = state_of(rt, id);
    }
    return s;
}

static uint32_t wait_log(uint32_t n)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (log_count() < n && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(200000);
    return log_count();
}

static void wait_entered(int n)
{
    uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    while (atomic_load(&g_entered) < n && rk_test_now_ns() < deadline)
        rk_test_sleep_ns(200000);
    assert_int_equal(atomic_load(&g_entered), n);
}

static void fill_pattern(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xFF);
}

/* Dead letters popped until empty, with the given reason counted. */
static uint64_t pop_dead_letters(rk_runtime *rt, rk_status reason, rk_dead_letter *first, uint64_t *other)
{
    rk_dead_letter d = {0};
    uint64_t n = 0, dropped = 0;
    *other = 0;
    while (rk_dead_letter_pop(rt, &d, &dropped) == RK_OK) {
        if (d.reason != reason) {
            (*other)++;
            continue;
        }
        if (n == 0 && first)
            *first = d;
        n++;
    }
    assert_int_equal(dropped, 0);
    return n;
}

/* ---- runtime options ------------------------------------------------------ */

static void options_null_out(void **unused)
{
    rk_runtime_options o = cpu_options();
    (void)unused;
    assert_int_equal(rk_runtime_create(NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_runtime_create(NULL, &o), RK_EINVAL);
    rk_runtime_destroy(NULL); /* a no-op */
}

static void expect_bad_options(rk_runtime_options o)
{
    rk_runtime *rt = (rk_runtime *)&o; /* must be reset to NULL */
    assert_int_equal(rk_runtime_create(&rt, &o), RK_EINVAL);
    assert_null(rt);
}

static void options_bad(void **unused)
{
    rk_runtime_options o;
    (void)unused;
    o = cpu_options(), o.max_actors = 0;
    expect_bad_options(o);
    o = cpu_options(), o.host_queue_capacity = 1000;
    expect_bad_options(o);
    o = cpu_options(), o.host_queue_capacity = 0;
    expect_bad_options(o);
    o = cpu_options(), o.host_queue_capacity = 4097;
    expect_bad_options(o);
    o = cpu_options(), o.host_slot_size = 48;
    expect_bad_options(o);
    o = cpu_options(), o.host_slot_size = 0;
    expect_bad_options(o);
    o = cpu_options(), o.host_slot_size = 72; /* >= 64 but not a multiple of 16 */
    expect_bad_options(o);
    o = cpu_options(), o.host_slot_size = 264;
    expect_bad_options(o);
    o = cpu_options(), o.backend = (rk_backend)3;
    expect_bad_options(o);
    o = cpu_options(), o.backend = (rk_backend)-1;
    expect_bad_options(o);
}

static void options_defaults(void **unused)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_actor_options ao = actor_opts("d", 0, 0);
    rk_actor_id id;
    uint64_t v = 0;
    (void)unused;

    memset(&o, 0xCD, sizeof o);
    rk_runtime_options_init(&o);
    assert_int_equal(o.backend, RK_BACKEND_AUTO);
    assert_int_equal(o.max_actors, 64);
    assert_int_equal(o.workers, 0);
    assert_int_equal(o.host_queue_capacity, 4096);
    assert_int_equal(o.host_slot_size, 256);
    assert_int_equal(o.max_payload, 1u << 20);
    assert_int_equal(o.dead_letter_capacity, 1024);
    assert_int_equal(o.drain_timeout_ns, SEC);
    assert_null(o.gpu_program);

    /* NULL options: the defaults; with no GPU program AUTO means the CPU. */
    assert_int_equal(rk_runtime_create(&rt, NULL), RK_OK);
    assert_int_equal(rk_runtime_backend(rt), RK_BACKEND_CPU);
    assert_int_equal(rk_launch(rt, &ao, &id), RK_OK);
    assert_int_equal(call_u64(rt, id, T_ECHO, 42, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 42);
    rk_runtime_destroy(rt);

    o = cpu_options();
    rt = NULL;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    assert_int_equal(rk_runtime_backend(rt), RK_BACKEND_CPU);
    assert_string_equal(rk_backend_name(rk_runtime_backend(rt)), "cpu");
    rk_runtime_destroy(rt);
    rk_runtime_destroy(NULL);
}

/* ---- launch ----------------------------------------------------------------- */

static void expect_bad_launch(rk_runtime *rt, rk_actor_options o)
{
    rk_actor_id id = 12345;
    assert_int_equal(rk_launch(rt, &o, &id), RK_EINVAL);
    assert_int_equal(id, 12345);
}

static void launch_bad_options(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_options o = actor_opts("a", 0, 0);
    rk_actor_id id;
    char name64[65], name63[64];

    memset(name64, 'x', 64), name64[64] = '\0';
    memset(name63, 'y', 63), name63[63] = '\0';
    assert_int_equal(rk_launch(NULL, &o, &id), RK_EINVAL);
    assert_int_equal(rk_launch(rt, NULL, &id), RK_EINVAL);
    assert_int_equal(rk_launch(rt, &o, NULL), RK_EINVAL);

    o = actor_opts(NULL, 0, 0);
    expect_bad_launch(rt, o);
    o = actor_opts("", 0, 0);
    expect_bad_launch(rt, o);
    o = actor_opts(name64, 0, 0);
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.type = NULL;
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.type = &no_handler_type; /* the CPU backend needs a handler */
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.inbox_capacity = 1000;
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.inbox_capacity = 0;
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.inbox_capacity = 3;
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.slot_size = 48;
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.slot_size = 72;
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.block_size = 100;
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.block_size = 0;
    expect_bad_launch(rt, o);
    o = actor_opts("a", 0, 0), o.block_size = 48;
    expect_bad_launch(rt, o);

    /* None of the refused launches left a trace. */
    assert_int_equal(rk_lookup(rt, "a", &id), RK_ENOACTOR);
    assert_int_equal(rk_lookup(rt, name64, &id), RK_ENOACTOR);

    /* 63 characters is the longest name. */
    rk_actor_id long_id = launch(rt, name63, 0, 0);
    assert_int_equal(rk_lookup(rt, name63, &id), RK_OK);
    assert_int_equal(id, long_id);

    /* A placement beside an actor that does not exist is refused, and
     * takes neither the name nor an actor slot; beside one that exists it
     * is a hint (the CPU backend places nothing). */
    {
        rk_actor_metrics m;
        rk_control c;
        rk_actor_id near_id = RK_ACTOR_NONE;
        assert_int_equal(actor_opts("beside", 0, 0).near, RK_ACTOR_NONE);
        o = actor_opts("beside", 0, 0), o.near = long_id + 1; /* the next id: not launched yet */
        assert_int_equal(rk_launch(rt, &o, &id), RK_ENOACTOR);
        o.near = 5000;
        assert_int_equal(rk_launch(rt, &o, &id), RK_ENOACTOR);
        assert_int_equal(rk_lookup(rt, "beside", &id), RK_ENOACTOR);
        o.near = long_id;
        assert_int_equal(rk_launch(rt, &o, &near_id), RK_OK);
        assert_int_equal(near_id, long_id + 1); /* the refusals used no slot */
        assert_int_equal(rk_actor_metrics_get(rt, near_id, &m), RK_OK);
        assert_int_equal(m.state, RK_ACTIVE);
        assert_int_equal(rk_actor_control(rt, near_id, &c), RK_OK);
        assert_int_equal(c.block, 0);
    }
}

static void launch_names_and_limits(void **state)
{
    fx *f = *state;
    rk_runtime_options ro = cpu_options();
    rk_runtime *rt;
    rk_actor_options o;
    rk_actor_id a, b, c, id = 777;
    uint64_t v = 0;

    ro.max_actors = 3;
    rt = start(f, &ro);
    a = launch(rt, "alpha", 0, 0);
    b = launch(rt, "beta", 0, 0);
    assert_int_not_equal(a, b);

    o = actor_opts("alpha", 0, 0);
    assert_int_equal(rk_launch(rt, &o, &id), RK_EEXIST);
    assert_int_equal(id, 777);

    c = launch(rt, "gamma", 0, 0);
    o = actor_opts("delta", 0, 0);
    assert_int_equal(rk_launch(rt, &o, &id), RK_ENOMEM);
    assert_int_equal(id, 777);

    assert_int_equal(rk_lookup(rt, "alpha", &id), RK_OK);
    assert_int_equal(id, a);
    assert_int_equal(rk_lookup(rt, "beta", &id), RK_OK);
    assert_int_equal(id, b);
    assert_int_equal(rk_lookup(rt, "gamma", &id), RK_OK);
    assert_int_equal(id, c);
    id = 777;
    assert_int_equal(rk_lookup(rt, "delta", &id), RK_ENOACTOR);
    assert_int_equal(rk_lookup(rt, "alph", &id), RK_ENOACTOR);
    assert_int_equal(id, 777);
    assert_int_equal(rk_lookup(NULL, "alpha", &id), RK_EINVAL);
    assert_int_equal(rk_lookup(rt, NULL, &id), RK_EINVAL);
    assert_int_equal(rk_lookup(rt, "alpha", NULL), RK_EINVAL);

    /* Launched actors are Active, generation 1, and the init ran once each. */
    assert_int_equal(state_of(rt, c), RK_ACTIVE);
    assert_int_equal(metrics(rt, c).generation, 1);
    assert_int_equal(atomic_load(&g_inits), 3);
    assert_int_equal(call_u64(rt, c, T_ECHO, 5, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 5);
}

/* Runs last (see main): a launch whose init fails. */
static void launch_init_fails(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_options o = actor_opts("bad", 0, 0);
    rk_actor_id id = 777, good, other;
    uint64_t v = 0;

    other = launch(rt, "other", 0, 0);
    atomic_store(&g_init_rc, RK_ENOTSUP);
    assert_int_equal(rk_launch(rt, &o, &id), RK_EHANDLER);
    assert_int_equal(id, 777);
    assert_int_equal(rk_lookup(rt, "bad", &id), RK_ENOACTOR);

    /* The runtime goes on: the name is free again and the workers run. */
    atomic_store(&g_init_rc, RK_OK);
    for (int i = 0; i < 4; i++) {
        char name[16] = "good0";
        name[4] = (char)('0' + i);
        good = launch(rt, name, 0, 0);
        assert_int_equal(call_u64(rt, good, T_ECHO, 40 + i, &v, CALL_TIMEOUT), RK_OK);
        assert_int_equal(v, 40 + i);
    }
    good = launch(rt, "bad", 0, 0);
    assert_int_equal(call_u64(rt, good, T_ECHO, 41, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 41);
    assert_int_equal(call_u64(rt, other, T_ECHO, 43, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 43);
}

/* ---- send / recv ------------------------------------------------------------- */

static void echo_roundtrip(rk_runtime *rt, rk_actor_id id, uint32_t len, unsigned seed)
{
    unsigned char *in = malloc(len ? len : 1), *out = malloc(len + 16);
    rk_msgbuf r = {.data = out, .capacity = len + 16};
    assert_non_null(in);
    assert_non_null(out);
    fill_pattern(in, len, seed);
    memset(out, 0, len + 16);
    assert_int_equal(rk_send(rt, id, T_ECHO, in, len), RK_OK);
    assert_int_equal(rk_recv(rt, &r, CALL_TIMEOUT), RK_OK);
    assert_int_equal(r.hdr.type, T_ECHO);
    assert_int_equal(r.hdr.src, id);
    assert_int_equal(r.hdr.dst, RK_ACTOR_HOST);
    assert_int_equal(r.hdr.len, len);
    assert_int_equal(r.hdr.flags, 0);
    assert_int_equal(r.hdr.ref, 0);
    assert_int_equal(r.hdr.corr, 0);
    assert_true(r.hdr.hlc != 0);
    if (len)
        assert_memory_equal(out, in, len);
    free(in);
    free(out);
}

static void send_recv_payloads(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "echo", 0, 0);
    uint32_t inline_cap = rk_msg_inline_capacity(256);

    echo_roundtrip(rt, id, 100, 1);
    echo_roundtrip(rt, id, 0, 2);
    echo_roundtrip(rt, id, inline_cap, 3);     /* the largest inline payload */
    echo_roundtrip(rt, id, inline_cap + 1, 4); /* the smallest by reference */
    echo_roundtrip(rt, id, 200 * 1024, 5);     /* large: by reference both ways */
    echo_roundtrip(rt, id, 1u << 20, 6);       /* exactly max_payload */

    /* Several in flight arrive in order. */
    for (uint64_t i = 0; i < 50; i++)
        assert_int_equal(send_u64(rt, id, T_ECHO, i * 3), RK_OK);
    for (uint64_t i = 0; i < 50; i++) {
        rk_msgbuf r;
        uint64_t v = 0;
        assert_int_equal(recv_u64(rt, &r, &v, CALL_TIMEOUT), RK_OK);
        assert_int_equal(v, i * 3);
    }
}

static void recv_too_small_keeps_message(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "echo", 0, 0);
    const uint32_t sizes[] = {100, 200 * 1024};

    for (int k = 0; k < 2; k++) {
        uint32_t len = sizes[k];
        unsigned char *in = malloc(len), *out = malloc(len);
        unsigned char small[10];
        rk_msgbuf r = {.data = small, .capacity = sizeof small};
        assert_non_null(in);
        assert_non_null(out);
        fill_pattern(in, len, 9 + (unsigned)k);
        assert_int_equal(rk_send(rt, id, T_ECHO, in, len), RK_OK);
        assert_int_equal(rk_recv(rt, &r, CALL_TIMEOUT), RK_E2BIG);
        assert_int_equal(r.hdr.len, len);
        /* Still there, for a second try with no room at all... */
        r.data = NULL, r.capacity = 0;
        assert_int_equal(rk_recv(rt, &r, 0), RK_E2BIG);
        assert_int_equal(r.hdr.len, len);
        /* ...and for one with enough. */
        r.data = out, r.capacity = len;
        assert_int_equal(rk_recv(rt, &r, 0), RK_OK);
        assert_int_equal(r.hdr.len, len);
        assert_int_equal(r.hdr.src, id);
        assert_memory_equal(out, in, len);
        assert_int_equal(rk_recv(rt, &r, 0), RK_ETIMEDOUT);
        free(in);
        free(out);
    }
}

static void recv_timeout(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    uint64_t v, t0, dt;
    rk_msgbuf r = {.data = &v, .capacity = sizeof v};

    launch(rt, "idle", 0, 0);
    assert_int_equal(rk_recv(NULL, &r, 0), RK_EINVAL);
    assert_int_equal(rk_recv(rt, NULL, 0), RK_EINVAL);
    r.data = NULL;
    assert_int_equal(rk_recv(rt, &r, 0), RK_EINVAL); /* capacity without a buffer */
    r.data = &v;

    t0 = rk_test_now_ns();
    assert_int_equal(rk_recv(rt, &r, 0), RK_ETIMEDOUT);
    dt = rk_test_now_ns() - t0;
    assert_true(dt < SEC);

    t0 = rk_test_now_ns();
    assert_int_equal(rk_recv(rt, &r, 50 * MS), RK_ETIMEDOUT);
    dt = rk_test_now_ns() - t0;
    assert_true(dt >= 50 * MS);
    assert_true(dt < 50 * MS + 2 * SEC);
}

/* ---- request / reply -------------------------------------------------------- */

static void call_matches_reply(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "noter", 0, 0);
    uint64_t v = 0, corr1;
    rk_msgbuf r = {.data = &v, .capacity = sizeof v};
    uint64_t in = 7;

    /* The actor sends a plain message before the reply: the call gets the
     * reply, the plain message waits for rk_recv. */
    assert_int_equal(rk_call(rt, id, T_NOTE, &in, sizeof in, &r, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 7);
    assert_int_equal(r.hdr.type, T_NOTE);
    assert_int_equal(r.hdr.src, id);
    assert_int_equal(r.hdr.dst, RK_ACTOR_HOST);
    assert_int_equal(r.hdr.flags, RK_MSG_F_REPLY);
    assert_int_equal(r.hdr.len, sizeof v);
    assert_int_not_equal(r.hdr.corr, 0);
    corr1 = r.hdr.corr;

    in = 8;
    assert_int_equal(rk_call(rt, id, T_NOTE, &in, sizeof in, &r, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 8);
    assert_int_not_equal(r.hdr.corr, 0);
    assert_int_not_equal(r.hdr.corr, corr1);

    assert_int_equal(recv_u64(rt, &r, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 1007);
    assert_int_equal(r.hdr.flags, 0);
    assert_int_equal(recv_u64(rt, &r, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 1008);
    assert_int_equal(recv_u64(rt, &r, &v, 0), RK_ETIMEDOUT);

    /* A reply too big for the caller's buffer: RK_E2BIG with the size it
     * needs, and the reply is dead-lettered, not left for someone else. */
    {
        uint32_t small = 0;
        rk_msgbuf sr = {.data = &small, .capacity = sizeof small};
        rk_dead_letter d = {0};
        uint64_t other;
        in = 9;
        assert_int_equal(rk_call(rt, id, T_ECHO, &in, sizeof in, &sr, CALL_TIMEOUT), RK_E2BIG);
        assert_int_equal(sr.hdr.len, sizeof in);
        assert_int_equal(pop_dead_letters(rt, RK_E2BIG, &d, &other), 1);
        assert_int_equal(other, 0);
        assert_int_equal(d.hdr.src, id);
        assert_int_equal(d.hdr.flags & RK_MSG_F_REPLY, RK_MSG_F_REPLY);
        assert_int_equal(call_u64(rt, id, T_ECHO, 10, &v, CALL_TIMEOUT), RK_OK);
        assert_int_equal(v, 10);
    }

    assert_int_equal(rk_call(NULL, id, T_ECHO, &in, sizeof in, &r, 0), RK_EINVAL);
    assert_int_equal(rk_call(rt, id, T_ECHO, &in, sizeof in, NULL, 0), RK_EINVAL);
    assert_int_equal(rk_call(rt, id, T_ECHO, NULL, 8, &r, 0), RK_EINVAL);
}

#define CALL_THREADS 4
#define CALLS_PER_THREAD 2000

typedef struct caller {
    rk_runtime *rt;
    rk_actor_id actors[2];
    uint32_t index;
    uint32_t ok, wrong, failed;
    rk_status first_error;
} caller;

static void *caller_main(void *arg)
{
    caller *c = arg;
    for (uint32_t i = 0; i < CALLS_PER_THREAD; i++) {
        uint64_t want = ((uint64_t)(c->index + 1) << 32) | i, got = 0;
        rk_status st = call_u64(c->rt, c->actors[i & 1], T_ECHO, want, &got, CALL_TIMEOUT);
        if (st != RK_OK) {
            if (!c->failed)
                c->first_error = st;
            c->failed++;
        } else if (got != want) {
            c->wrong++;
        } else {
            c->ok++;
        }
    }
    return NULL;
}

static void call_concurrent(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id a = launch(rt, "left", 0, 0), b = launch(rt, "right", 0, 0);
    caller c[CALL_THREADS];
    pthread_t t[CALL_THREADS];

    for (uint32_t i = 0; i < CALL_THREADS; i++) {
        c[i] = (caller){.rt = rt, .actors = {a, b}, .index = i};
        assert_int_equal(pthread_create(&t[i], NULL, caller_main, &c[i]), 0);
    }
    for (uint32_t i = 0; i < CALL_THREADS; i++)
        pthread_join(t[i], NULL);
    for (uint32_t i = 0; i < CALL_THREADS; i++) {
        assert_int_equal(c[i].first_error, RK_OK);
        assert_int_equal(c[i].failed, 0);
        assert_int_equal(c[i].wrong, 0);
        assert_int_equal(c[i].ok, CALLS_PER_THREAD);
    }
    assert_int_equal(wait_msgs_in(rt, a, CALL_THREADS * CALLS_PER_THREAD / 2), CALL_THREADS * CALLS_PER_THREAD / 2);
    assert_int_equal(wait_msgs_in(rt, b, CALL_THREADS * CALLS_PER_THREAD / 2), CALL_THREADS * CALLS_PER_THREAD / 2);
    assert_int_equal(metrics(rt, a).msgs_out, CALL_THREADS * CALLS_PER_THREAD / 2);
    assert_int_equal(rk_dead_letter_count(rt), 0);
}

static void call_timeout_late_reply(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "slow", 0, 0);
    uint64_t v = 0, t0, dt, other;
    rk_dead_letter d = {0};
    rk_msgbuf r;

    /* An actor that never answers (T_REC replies nothing). */
    t0 = rk_test_now_ns();
    assert_int_equal(call_u64(rt, id, T_REC, 110, &v, 50 * MS), RK_ETIMEDOUT);
    dt = rk_test_now_ns() - t0;
    assert_true(dt >= 50 * MS);
    assert_true(dt < 50 * MS + 2 * SEC);
    assert_int_equal(wait_log(1), 1);
    assert_int_equal(rk_dead_letter_count(rt), 0);

    t0 = rk_test_now_ns();
    assert_int_equal(call_u64(rt, id, T_LATE, 111, &v, 100 * MS), RK_ETIMEDOUT);
    dt = rk_test_now_ns() - t0;
    assert_true(dt >= 100 * MS);
    assert_true(dt < 100 * MS + 2 * SEC);
    assert_int_equal(rk_dead_letter_count(rt), 0);

    /* Now the actor replies to the abandoned call; the next call must get
     * its own reply, and the late one goes to the dead letters. */
    wait_entered(1);
    atomic_store(&g_gate, 1);
    assert_int_equal(call_u64(rt, id, T_ECHO, 222, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 222);
    assert_int_equal(rk_dead_letter_count(rt), 1);
    memset(&d, 0, sizeof d);
    assert_int_equal(pop_dead_letters(rt, RK_ETIMEDOUT, &d, &other), 1);
    assert_int_equal(other, 0);
    assert_int_equal(d.hdr.type, T_LATE);
    assert_int_equal(d.hdr.src, id);
    assert_int_equal(d.hdr.dst, RK_ACTOR_HOST);
    assert_int_equal(d.hdr.flags & RK_MSG_F_REPLY, RK_MSG_F_REPLY);
    assert_int_equal(d.hdr.len, sizeof v);
    assert_int_not_equal(d.hdr.corr, 0);
    assert_int_equal(recv_u64(rt, &r, &v, 0), RK_ETIMEDOUT); /* not a plain message either */
    assert_int_equal(call_u64(rt, id, T_ECHO, 333, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 333);
}

/* Calls that time out while other threads keep popping the host queue:
 * every reply must end up either returned by its own call or dead-lettered
 * (RK_ETIMEDOUT) - never given to another call, never lost. The timeouts are
 * around one round trip, so that replies often arrive just as calls give up.
 * Runs for about a second: ACCT_MIN_CALLS to ACCT_MAX_CALLS calls per thread. */
#define ACCT_THREADS 4
#define ACCT_MIN_CALLS 1000
#define ACCT_MAX_CALLS 25000
#define ACCT_RUN_NS (1 * SEC)

typedef struct acct {
    rk_runtime *rt;
    rk_actor_id id;
    uint32_t index;
    uint64_t calls, ok, timed_out, full, wrong, other;
    rk_status first_other;
} acct;

static void *acct_main(void *arg)
{
    static const uint64_t timeouts[] = {0, 1000, 2000, 5000, 10000, 20000, 40000, 80000};
    acct *c = arg;
    uint64_t stop = rk_test_now_ns() + ACCT_RUN_NS;
    for (uint64_t i = 0; i < ACCT_MAX_CALLS && (i < ACCT_MIN_CALLS || rk_test_now_ns() < stop); i++) {
        uint64_t want = ((uint64_t)(c->index + 1) << 32) | i, got = 0;
        uint64_t timeout = timeouts[(i + c->index) % (sizeof timeouts / sizeof timeouts[0])];
        rk_status st = call_u64(c->rt, c->id, T_ECHO, want, &got, timeout);
        c->calls++;
        if (st == RK_OK && got == want)
            c->ok++;
        else if (st == RK_OK)
            c->wrong++;
        else if (st == RK_ETIMEDOUT)
            c->timed_out++;
        else if (st == RK_EFULL) /* calls that give up at once outrun the actor: nothing was sent */
            c->full++, rk_test_sleep_ns(20000);
        else if (c->other++ == 0)
            c->first_other = st;
    }
    return NULL;
}

static void call_timeouts_account_for_every_reply(void **state)
{
    fx *f = *state;
    rk_runtime_options o = cpu_options();
    rk_runtime *rt;
    rk_actor_id id;
    acct c[ACCT_THREADS];
    pthread_t t[ACCT_THREADS];
    uint64_t calls = 0, ok = 0, timed_out = 0, full = 0, other = 0, dead, v;
    rk_msgbuf r;

    o.dead_letter_capacity = 1u << 17; /* > ACCT_THREADS * ACCT_MAX_CALLS */
    rt = start(f, &o);
    id = launch(rt, "acct", 0, 0);
    for (uint32_t i = 0; i < ACCT_THREADS; i++) {
        c[i] = (acct){.rt = rt, .id = id, .index = i};
        assert_int_equal(pthread_create(&t[i], NULL, acct_main, &c[i]), 0);
    }
    for (uint32_t i = 0; i < ACCT_THREADS; i++)
        pthread_join(t[i], NULL);
    for (uint32_t i = 0; i < ACCT_THREADS; i++) {
        if (c[i].other)
            print_message("        thread %u: %llu calls failed, the first with %s\n", i,
                          (unsigned long long)c[i].other, rk_status_name(c[i].first_other));
        assert_int_equal(c[i].wrong, 0);
        assert_int_equal(c[i].other, 0);
        calls += c[i].calls - c[i].full;
        full += c[i].full;
        ok += c[i].ok;
        timed_out += c[i].timed_out;
    }
    assert_int_equal(ok + timed_out, calls);
    /* Every request was handled; pump the host queue so that late replies
     * still in it reach the dead letters. */
    assert_int_equal(wait_msgs_in(rt, id, calls), calls);
    assert_int_equal(recv_u64(rt, &r, &v, 0), RK_ETIMEDOUT);
    dead = pop_dead_letters(rt, RK_ETIMEDOUT, NULL, &other);
    print_message("        %llu calls sent (%llu more refused, inbox full): %llu answered, %llu timed out, "
                  "%llu late replies dead-lettered\n",
                  (unsigned long long)calls, (unsigned long long)full, (unsigned long long)ok,
                  (unsigned long long)timed_out, (unsigned long long)dead);
    assert_int_equal(dead, timed_out);
    assert_int_equal(other, 0);
}

/* ---- refusals: each its own status ------------------------------------------ */

static void bad_input_statuses(void **state)
{
    fx *f = *state;
    rk_runtime_options o = cpu_options();
    rk_runtime *rt;
    rk_actor_id id, dr, t3;
    rk_msg h;
    uint64_t v = 1;
    rk_status seen[10];
    int n = 0;
    unsigned char *big;

    memset(&h, 0, sizeof h);
    o.max_payload = 4096;
    rt = start(f, &o);
    id = launch(rt, "target", 0, 0);
    dr = launch(rt, "drainer", 0, 0);
    t3 = launch(rt, "tenant3", 0, 3);

    assert_int_equal(rk_send(NULL, id, T_REC, &v, sizeof v), RK_EINVAL);
    assert_int_equal(rk_send_msg(NULL, &h, &v), RK_EINVAL);
    seen[n++] = RK_EINVAL;

    assert_int_equal(rk_send(rt, 999, T_REC, &v, sizeof v), RK_ENOACTOR);
    assert_int_equal(rk_send(rt, RK_ACTOR_NONE, T_REC, &v, sizeof v), RK_ENOACTOR);
    assert_int_equal(call_u64(rt, 999, T_ECHO, 1, &v, SEC), RK_ENOACTOR);
    seen[n++] = RK_ENOACTOR;

    big = calloc(1, 4097);
    assert_non_null(big);
    assert_int_equal(rk_send(rt, id, T_REC, big, 4097), RK_E2BIG);
    assert_int_equal(rk_send(rt, id, T_REC, big, 4096), RK_OK); /* the limit itself is fine */
    free(big);
    seen[n++] = RK_E2BIG;

    memset(&h, 0, sizeof h);
    h.type = T_REC, h.dst = id, h.tenant = 1, h.len = sizeof v;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_ETENANT);
    h.tenant = 0;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_OK);
    h.dst = t3;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_ETENANT);
    h.tenant = 3;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_OK);
    assert_int_equal(rk_send(rt, t3, T_REC, &v, sizeof v), RK_OK); /* the host speaks for all tenants */
    seen[n++] = RK_ETENANT;

    memset(&h, 0, sizeof h);
    h.dst = id, h.len = sizeof v;
    h.type = RK_MSG_TYPE_SYSTEM;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_EINVAL);
    assert_int_equal(rk_send(rt, id, RK_MSG_TYPE_SYSTEM, &v, sizeof v), RK_EINVAL);
    assert_int_equal(rk_send(rt, id, 0xFFFFFFFFu, &v, sizeof v), RK_EINVAL);
    assert_int_equal(rk_send(rt, id, RK_MSG_TYPE_SYSTEM - 1, NULL, 0), RK_OK);

    h.type = T_REC;
    h.flags = 1u << 7;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_EBADMSG);
    h.flags = 0x80000000u;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_EBADMSG);
    h.flags = RK_MSG_F_REQUEST | RK_MSG_F_REPLY, h.corr = 5;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_EBADMSG);
    h.flags = RK_MSG_F_REQUEST, h.corr = 0;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_EBADMSG);
    seen[n++] = RK_EBADMSG;

    /* Draining: not accepting. */
    assert_int_equal(rk_deactivate(rt, dr), RK_OK);
    assert_int_equal(send_u64(rt, dr, T_REC, 1), RK_ESTATE);
    assert_int_equal(call_u64(rt, dr, T_ECHO, 1, &v, SEC), RK_ESTATE);
    seen[n++] = RK_ESTATE;

    /* A generation that is gone. */
    assert_int_equal(rk_restart(rt, id), RK_OK);
    assert_int_equal(metrics(rt, id).generation, 2);
    memset(&h, 0, sizeof h);
    h.type = T_REC, h.dst = id, h.len = sizeof v, h.dst_gen = 1;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_ESTALE);
    h.dst_gen = 3;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_ESTALE);
    h.dst_gen = 2;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_OK);
    h.dst_gen = 0;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_OK);
    seen[n++] = RK_ESTALE;
    h.dst = RK_ACTOR_HOST;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_EINVAL); /* the host cannot send to itself */

    /* Every accepted message above was handled, none dead-lettered:
     * id: 4096-byte, tenant 0 rk_send_msg, type SYSTEM-1, dst_gen 2 and 0 = 5;
     * t3: 2. */
    assert_int_equal(wait_msgs_in(rt, t3, 2), 2);
    assert_int_equal(wait_msgs_in(rt, id, 5), 5);
    assert_int_equal(rk_dead_letter_count(rt), 0);

    assert_int_equal(rk_runtime_shutdown(rt, NULL), RK_OK);
    assert_int_equal(send_u64(rt, id, T_REC, 1), RK_ESHUTDOWN);
    h.dst = id;
    assert_int_equal(rk_send_msg(rt, &h, &v), RK_ESHUTDOWN);
    assert_int_equal(call_u64(rt, id, T_ECHO, 1, &v, SEC), RK_ESHUTDOWN);
    seen[n++] = RK_ESHUTDOWN;

    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            assert_int_not_equal(seen[i], seen[j]);
}

static void full_inbox(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "narrow", 4, 0);
    uint32_t accepted = 1;
    rk_status st;
    uint64_t v = 0;

    assert_int_equal(send_u64(rt, id, T_GATE, 0), RK_OK);
    wait_entered(1);
    /* The handler holds message 0, whose slot is freed only after it
     * returns: the inbox of 4 takes 3 more. */
    while ((st = send_u64(rt, id, T_REC, accepted)) == RK_OK && accepted < 100)
        accepted++;
    assert_int_equal(st, RK_EFULL);
    assert_int_equal(accepted, 4);
    assert_int_equal(send_u64(rt, id, T_REC, 99), RK_EFULL); /* still full, nothing sent */
    assert_int_equal(metrics(rt, id).queue_depth, 4);

    atomic_store(&g_gate, 1);
    assert_int_equal(wait_log(4), 4);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(log_at(i), i);
    assert_int_equal(wait_msgs_in(rt, id, 4), 4);
    /* Room again - once the worker has freed the slots, after the batch's
     * last handler returned: a call finding the inbox full fails at once. */
    assert_int_equal(wait_depth(rt, id, 0), 0);
    assert_int_equal(call_u64(rt, id, T_ECHO, 5, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 5);
    assert_int_equal(log_count(), 4);
    assert_int_equal(wait_depth(rt, id, 0), 0);
    assert_int_equal(rk_dead_letter_count(rt), 0);
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void lifecycle_illegal_transitions(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "life", 0, 0);
    uint64_t v = 0;

    assert_int_equal(rk_activate(NULL, id), RK_EINVAL);
    assert_int_equal(rk_activate(rt, 999), RK_ENOACTOR);
    assert_int_equal(rk_deactivate(rt, 999), RK_ENOACTOR);
    assert_int_equal(rk_terminate(rt, 999), RK_ENOACTOR);
    assert_int_equal(rk_restart(rt, 999), RK_ENOACTOR);

    /* Active */
    assert_int_equal(state_of(rt, id), RK_ACTIVE);
    assert_int_equal(rk_activate(rt, id), RK_ETRANSITION);
    assert_int_equal(state_of(rt, id), RK_ACTIVE);

    /* Active -> Draining -> Active */
    assert_int_equal(rk_deactivate(rt, id), RK_OK);
    assert_int_equal(state_of(rt, id), RK_DRAINING);
    assert_int_equal(rk_deactivate(rt, id), RK_ETRANSITION);
    assert_int_equal(send_u64(rt, id, T_ECHO, 1), RK_ESTATE);
    assert_int_equal(rk_activate(rt, id), RK_OK);
    assert_int_equal(state_of(rt, id), RK_ACTIVE);
    assert_int_equal(call_u64(rt, id, T_ECHO, 21, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 21);

    /* Draining -> Terminated */
    assert_int_equal(rk_deactivate(rt, id), RK_OK);
    assert_int_equal(rk_terminate(rt, id), RK_OK);
    assert_int_equal(state_of(rt, id), RK_TERMINATED);
    assert_int_equal(rk_activate(rt, id), RK_ETRANSITION);
    assert_int_equal(rk_deactivate(rt, id), RK_ETRANSITION);
    assert_int_equal(rk_terminate(rt, id), RK_ETRANSITION);
    assert_int_equal(state_of(rt, id), RK_TERMINATED);
    assert_int_equal(send_u64(rt, id, T_ECHO, 1), RK_ESTATE);

    /* Terminated -> (restart) Active, then Active -> Terminated directly */
    assert_int_equal(rk_restart(rt, id), RK_OK);
    assert_int_equal(state_of(rt, id), RK_ACTIVE);
    assert_int_equal(rk_terminate(rt, id), RK_OK);
    assert_int_equal(state_of(rt, id), RK_TERMINATED);
    assert_int_equal(rk_restart(rt, id), RK_OK);

    /* Failed */
    assert_int_equal(send_u64(rt, id, T_FAIL, 0), RK_OK);
    assert_int_equal(wait_state(rt, id, RK_FAILED), RK_FAILED);
    assert_int_equal(rk_activate(rt, id), RK_ETRANSITION);
    assert_int_equal(rk_deactivate(rt, id), RK_ETRANSITION);
    assert_int_equal(rk_terminate(rt, id), RK_ETRANSITION);
    assert_int_equal(state_of(rt, id), RK_FAILED);
    assert_int_equal(rk_restart(rt, id), RK_OK);
    assert_int_equal(state_of(rt, id), RK_ACTIVE);
    assert_int_equal(metrics(rt, id).generation, 4);
    assert_int_equal(call_u64(rt, id, T_ECHO, 22, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 22);
}

typedef struct cmd_thread {
    rk_runtime *rt;
    rk_actor_id id;
    rk_status result;
} cmd_thread;

static void *terminate_main(void *arg)
{
    cmd_thread *c = arg;
    c->result = rk_terminate(c->rt, c->id);
    return NULL;
}

static void terminate_drains_first(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "term", 256, 0);
    enum { QUEUED = 100 };
    cmd_thread c = {rt, id, RK_EINTERNAL};
    pthread_t t;
    uint64_t other;

    assert_int_equal(send_u64(rt, id, T_GATE, 0), RK_OK);
    wait_entered(1);
    for (uint64_t i = 1; i <= QUEUED; i++)
        assert_int_equal(send_u64(rt, id, T_REC, i), RK_OK);
    assert_int_equal(pthread_create(&t, NULL, terminate_main, &c), 0);
    rk_test_sleep_ns(50 * MS); /* let the command reach the worker, behind the held handler */
    assert_int_equal(log_count(), 1);
    atomic_store(&g_gate, 1);
    pthread_join(t, NULL);

    assert_int_equal(c.result, RK_OK);
    assert_int_equal(state_of(rt, id), RK_TERMINATED);
    assert_int_equal(log_count(), QUEUED + 1);
    for (uint32_t i = 0; i <= QUEUED; i++)
        assert_int_equal(log_at(i), i);
    assert_int_equal(metrics(rt, id).msgs_in, QUEUED + 1);
    assert_int_equal(metrics(rt, id).queue_depth, 0);
    assert_int_equal(pop_dead_letters(rt, RK_ESTATE, NULL, &other), 0);
    assert_int_equal(other, 0);
    assert_int_equal(send_u64(rt, id, T_REC, 1), RK_ESTATE);
}

static void *activate_main(void *arg)
{
    cmd_thread *c = arg;
    c->result = rk_activate(c->rt, c->id);
    return NULL;
}

/* A terminate whose caller timed out stays in force: an activate is refused
 * while it drains, and the actor ends Terminated. (spec/lifecycle.pml found
 * that the activate used to succeed, leaving the terminate armed, so that a
 * later deactivate ended in Terminated.) The worker applies commands between
 * batches of 32 messages; held handlers make the drain outlast the 5 s
 * command timeout, and enough queued messages behind them keep the actor
 * draining when the activate is applied. */
static void terminate_timed_out_stays_in_force(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "slowterm", 256, 0);
    enum { QUICK = 40 }; /* more than a worker's batch */
    cmd_thread term = {rt, id, RK_EINTERNAL}, act = {rt, id, RK_EINTERNAL};
    pthread_t t;

    assert_int_equal(send_u64(rt, id, T_HOLD, 1), RK_OK);
    wait_entered(1);
    for (uint64_t i = 0; i < QUICK; i++)
        assert_int_equal(send_u64(rt, id, T_REC, 100 + i), RK_OK);
    assert_int_equal(send_u64(rt, id, T_HOLD, 2), RK_OK);
    for (uint64_t i = 0; i < QUICK; i++)
        assert_int_equal(send_u64(rt, id, T_REC, 200 + i), RK_OK);
    assert_int_equal(pthread_create(&t, NULL, terminate_main, &term), 0);
    rk_test_sleep_ns(200 * MS); /* the terminate is posted and waits behind the first held handler */
    atomic_store(&g_level, 1); /* applied at the next batch; the second hold outlasts its deadline */
    pthread_join(t, NULL);
    assert_int_equal(term.result, RK_ETIMEDOUT);
    assert_int_equal(state_of(rt, id), RK_DRAINING);

    assert_int_equal(pthread_create(&t, NULL, activate_main, &act), 0);
    rk_test_sleep_ns(200 * MS); /* the activate is posted and waits behind the second held handler */
    atomic_store(&g_level, 2);
    pthread_join(t, NULL);
    assert_int_equal(act.result, RK_ESTATE);
    assert_int_equal(wait_state(rt, id, RK_TERMINATED), RK_TERMINATED);
    assert_int_equal(log_count(), 2 * QUICK + 2);
}

static void restart_fresh_state(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "counter", 0, 0);
    uint64_t v = 0;
    rk_control c;
    rk_actor_metrics m;

    assert_int_equal(atomic_load(&g_inits), 1);
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal(call_u64(rt, id, T_COUNT, 0, &v, CALL_TIMEOUT), RK_OK);
        assert_int_equal(v, 100 + i); /* initial state 100 */
    }
    c = control(rt, id);
    assert_int_equal(c.generation, 1);
    assert_int_equal(c.restarts, 0);

    /* Active -> restart */
    assert_int_equal(rk_restart(rt, id), RK_OK);
    assert_int_equal(atomic_load(&g_inits), 2);
    assert_int_equal(state_of(rt, id), RK_ACTIVE);
    c = control(rt, id);
    assert_int_equal(c.generation, 2);
    assert_int_equal(c.restarts, 1);
    assert_int_equal(c.state, RK_ACTIVE);
    assert_int_equal(call_u64(rt, id, T_COUNT, 0, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 101);
    assert_int_equal(call_u64(rt, id, T_COUNT, 0, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 102);

    /* Terminated -> restart */
    assert_int_equal(rk_terminate(rt, id), RK_OK);
    assert_int_equal(rk_restart(rt, id), RK_OK);
    m = metrics(rt, id);
    assert_int_equal(m.generation, 3);
    assert_int_equal(m.restarts, 2);
    assert_int_equal(m.state, RK_ACTIVE);
    assert_int_equal(call_u64(rt, id, T_COUNT, 0, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 101);

    /* Failed -> restart */
    assert_int_equal(send_u64(rt, id, T_FAIL, 0), RK_OK);
    assert_int_equal(wait_state(rt, id, RK_FAILED), RK_FAILED);
    assert_int_equal(rk_restart(rt, id), RK_OK);
    m = metrics(rt, id);
    assert_int_equal(m.generation, 4);
    assert_int_equal(m.restarts, 3);
    assert_int_equal(m.state, RK_ACTIVE);
    assert_int_equal(call_u64(rt, id, T_COUNT, 0, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 101);

    /* Draining -> restart */
    assert_int_equal(rk_deactivate(rt, id), RK_OK);
    assert_int_equal(rk_restart(rt, id), RK_OK);
    m = metrics(rt, id);
    assert_int_equal(m.generation, 5);
    assert_int_equal(m.state, RK_ACTIVE);
    assert_int_equal(call_u64(rt, id, T_COUNT, 0, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 101);
    assert_int_equal(atomic_load(&g_inits), 5);
}

/* ---- failures ------------------------------------------------------------------ */

static void handler_failure(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id bad = launch(rt, "bad", 0, 0), good = launch(rt, "good", 0, 0);
    rk_async_error e;
    rk_control c;
    rk_shutdown_report rep;
    uint64_t v = 0, t0;

    assert_int_equal(rk_runtime_error(rt, &e), RK_EEMPTY);
    assert_int_equal(rk_runtime_error(NULL, &e), RK_EINVAL);
    assert_int_equal(rk_runtime_error(rt, NULL), RK_EINVAL);

    t0 = rk_test_now_ns();
    assert_int_equal(send_u64(rt, bad, T_FAIL, 0), RK_OK);
    assert_int_equal(wait_state(rt, bad, RK_FAILED), RK_FAILED);
    do {
        memset(&e, 0, sizeof e);
        if (rk_runtime_error(rt, &e) == RK_OK)
            break;
        rk_test_sleep_ns(200000);
    } while (rk_test_now_ns() - t0 < WAIT_LIMIT_NS);
    assert_int_equal(e.actor, bad);
    assert_int_equal(e.generation, 1);
    assert_int_equal(e.status, RK_ENOTSUP);
    assert_true(e.hlc != 0);
    assert_int_equal(rk_runtime_error(rt, &e), RK_EEMPTY); /* only one */

    c = control(rt, bad);
    assert_int_equal(c.state, RK_FAILED);
    assert_int_equal(c.last_error, RK_ENOTSUP);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.msgs_in, 1);
    assert_true(c.last_error_hlc != 0);

    assert_int_equal(send_u64(rt, bad, T_ECHO, 1), RK_EFAILED);
    assert_int_equal(call_u64(rt, bad, T_ECHO, 1, &v, SEC), RK_EFAILED);

    /* The other actor does not notice. */
    assert_int_equal(state_of(rt, good), RK_ACTIVE);
    assert_int_equal(call_u64(rt, good, T_ECHO, 77, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 77);
    assert_int_equal(control(rt, good).errors, 0);

    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.actors_failed, 1);
}

/* The queue of asynchronous errors keeps the latest 256 and counts the
 * others: 300 failures leave 256 to pop, the newest last, and 44 lost. */
static void errors_lost_counted(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id bad = launch(rt, "bad", 0, 0);
    rk_async_error e;
    uint32_t n = 0, last = 0;

    assert_int_equal(rk_runtime_errors_lost(NULL), 0);
    assert_int_equal(rk_runtime_errors_lost(rt), 0);
    for (uint32_t i = 0; i < 300; i++) {
        assert_int_equal(send_u64(rt, bad, T_FAIL, 0), RK_OK);
        assert_int_equal(wait_state(rt, bad, RK_FAILED), RK_FAILED);
        if (i < 299)
            assert_int_equal(rk_restart(rt, bad), RK_OK);
    }
    /* The worker queues an error just after it shows the actor Failed; it
     * applies each restart above after that, so only the last error can
     * still be on its way. */
    {
        uint64_t deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
        while (rk_runtime_errors_lost(rt) < 44 && rk_test_now_ns() < deadline)
            rk_test_sleep_ns(200000);
    }
    assert_int_equal(rk_runtime_errors_lost(rt), 44);
    while (rk_runtime_error(rt, &e) == RK_OK) {
        assert_int_equal(e.actor, bad);
        assert_true(e.generation > last);
        last = e.generation;
        n++;
    }
    assert_int_equal(n, 256);
    assert_int_equal(last, 300);
    assert_int_equal(rk_runtime_errors_lost(rt), 44);
}

/* ---- K2K -------------------------------------------------------------------- */

#define RING_ACTORS 4
#define RING_HOPS 100000u

static void k2k_token_ring(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id ids[RING_ACTORS];
    token t = {0, RING_HOPS}, got = {0, 0};
    rk_msgbuf r = {.data = &got, .capacity = sizeof got};
    uint64_t t0 = rk_test_now_ns();

    for (int i = 0; i < RING_ACTORS; i++) {
        char name[8] = "ring0";
        name[4] = (char)('0' + i);
        ids[i] = launch(rt, name, 0, 0);
    }
    for (int i = 0; i < RING_ACTORS; i++)
        assert_int_equal(send_u64(rt, ids[i], T_SETUP, ids[(i + 1) % RING_ACTORS]), RK_OK);
    assert_int_equal(rk_send(rt, ids[0], T_TOKEN, &t, sizeof t), RK_OK);
    assert_int_equal(rk_recv(rt, &r, 60 * SEC), RK_OK);
    assert_int_equal(r.hdr.type, T_TOKEN);
    assert_int_equal(got.hops, RING_HOPS);
    assert_int_equal(got.limit, RING_HOPS);
    /* Hop k is handled by actor (k - 1) % 4: the last one reaches the host. */
    assert_int_equal(r.hdr.src, ids[(RING_HOPS - 1) % RING_ACTORS]);
    for (int i = 0; i < RING_ACTORS; i++) {
        /* The setup and its hops; msgs_in counts after the handler returns,
         * so the last hop's may lag the token's arrival at the host. */
        assert_int_equal(wait_msgs_in(rt, ids[i], 1 + RING_HOPS / RING_ACTORS), 1 + RING_HOPS / RING_ACTORS);
        rk_actor_metrics m = metrics(rt, ids[i]);
        assert_int_equal(m.msgs_in, 1 + RING_HOPS / RING_ACTORS);
        assert_int_equal(m.msgs_out, RING_HOPS / RING_ACTORS);
        assert_int_equal(m.errors, 0);
    }
    print_message("        %u hops in %.1f ms\n", RING_HOPS, (double)(rk_test_now_ns() - t0) / 1e6);
}

static int32_t recv_status(rk_runtime *rt, rk_actor_id from)
{
    int32_t st = -1;
    rk_msgbuf r = {.data = &st, .capacity = sizeof st};
    assert_int_equal(rk_recv(rt, &r, CALL_TIMEOUT), RK_OK);
    assert_int_equal(r.hdr.type, T_STATUS);
    assert_int_equal(r.hdr.src, from);
    assert_int_equal(r.hdr.tenant, 1);
    return st;
}

static void k2k_cross_tenant(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id x = launch(rt, "x", 0, 1), y = launch(rt, "y", 0, 0), z = launch(rt, "z", 0, 1);
    fwd_req req = {.dst = y, .value = 5};
    uint64_t v = 0;
    rk_msgbuf r;
    rk_control c;

    assert_int_equal(rk_send(rt, x, T_FWD, &req, sizeof req), RK_OK);
    assert_int_equal(recv_status(rt, x), RK_ETENANT);

    req.dst = 999;
    assert_int_equal(rk_send(rt, x, T_FWD, &req, sizeof req), RK_OK);
    assert_int_equal(recv_status(rt, x), RK_ENOACTOR);

    /* Within the tenant it goes through: z echoes the value to the host (its
     * echo and x's status may reach the host in either order). */
    req.dst = z, req.value = 6;
    assert_int_equal(rk_send(rt, x, T_FWD, &req, sizeof req), RK_OK);
    for (int i = 0; i < 2; i++) {
        uint64_t buf[2] = {0, 0};
        r.data = buf, r.capacity = sizeof buf;
        assert_int_equal(rk_recv(rt, &r, CALL_TIMEOUT), RK_OK);
        assert_int_equal(r.hdr.tenant, 1);
        if (r.hdr.src == x) {
            int32_t st;
            assert_int_equal(r.hdr.type, T_STATUS);
            memcpy(&st, buf, sizeof st);
            assert_int_equal(st, RK_OK);
        } else {
            assert_int_equal(r.hdr.src, z);
            assert_int_equal(r.hdr.type, T_ECHO);
            memcpy(&v, buf, sizeof v);
            assert_int_equal(v, 6);
        }
    }

    assert_int_equal(wait_msgs_in(rt, x, 3), 3);
    c = control(rt, x);
    assert_int_equal(c.errors, 2);   /* the two refused sends */
    assert_int_equal(c.msgs_out, 4); /* three status reports and the forward */
    assert_int_equal(c.msgs_in, 3);
    assert_int_equal(c.state, RK_ACTIVE); /* a refused send is not a failure */
    assert_int_equal(control(rt, y).msgs_in, 0);
    assert_int_equal(wait_msgs_in(rt, z, 1), 1);
    assert_int_equal(rk_dead_letter_count(rt), 0);
}

/* ---- metrics -------------------------------------------------------------------- */

static void metrics_exact(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "measured", 0, 0), quiet = launch(rt, "quiet", 0, 0);
    rk_actor_metrics m;
    rk_control c;
    rk_msgbuf r;
    uint64_t v = 0;

    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(send_u64(rt, id, T_ECHO, i), RK_OK);
    for (uint64_t i = 0; i < 5; i++) {
        assert_int_equal(call_u64(rt, id, T_ECHO, 100 + i, &v, CALL_TIMEOUT), RK_OK);
        assert_int_equal(v, 100 + i);
    }
    for (uint64_t i = 0; i < 3; i++)
        assert_int_equal(send_u64(rt, id, T_COUNT, 0), RK_OK);
    for (uint64_t i = 0; i < 13; i++)
        assert_int_equal(recv_u64(rt, &r, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 103); /* the last count: 100 + 3 */

    assert_int_equal(wait_msgs_in(rt, id, 18), 18);
    /* The slots are freed after the batch's last handler returns (and
     * inbox_head stored with them): wait for that, not a fixed time. */
    assert_int_equal(wait_depth(rt, id, 0), 0);
    m = metrics(rt, id);
    assert_int_equal(m.msgs_in, 18);
    assert_int_equal(m.msgs_out, 18);
    assert_int_equal(m.errors, 0);
    assert_int_equal(m.dead_letters, 0);
    assert_int_equal(m.queue_depth, 0);
    assert_int_equal(m.restarts, 0);
    assert_int_equal(m.generation, 1);
    assert_int_equal(m.state, RK_ACTIVE);

    c = control(rt, id);
    assert_int_equal(c.id, id);
    assert_int_equal(c.tenant, 0);
    assert_int_equal(c.type, 7);
    assert_int_equal(c.parent, RK_ACTOR_NONE);
    assert_int_equal(c.inbox_head, 18);
    assert_int_equal(c.inbox_tail, 18);

    m = metrics(rt, quiet);
    assert_int_equal(m.msgs_in, 0);
    assert_int_equal(m.msgs_out, 0);

    assert_int_equal(rk_actor_metrics_get(rt, 999, &m), RK_ENOACTOR);
    assert_int_equal(rk_actor_metrics_get(rt, id, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_control(rt, 999, &c), RK_ENOACTOR);
    assert_int_equal(rk_actor_control(NULL, id, &c), RK_EINVAL);
}

/* ---- shutdown ---------------------------------------------------------------------- */

static void shutdown_drains_queued(void **state)
{
    fx *f = *state;
    rk_runtime_options o = cpu_options();
    rk_runtime *rt;
    rk_actor_id id, other;
    rk_shutdown_report rep;
    enum { QUEUED = 10 };
    uint64_t v = 0;
    rk_msgbuf r = {.data = &v, .capacity = sizeof v};
    rk_actor_options ao = actor_opts("late", 0, 0);

    o.drain_timeout_ns = 10 * SEC;
    rt = start(f, &o);
    id = launch(rt, "held", 0, 0);
    other = launch(rt, "other", 0, 0);
    assert_int_equal(send_u64(rt, id, T_GATE, 0), RK_OK);
    wait_entered(1);
    for (uint64_t i = 1; i <= QUEUED; i++)
        assert_int_equal(send_u64(rt, id, T_REC, i), RK_OK);
    open_gate_later(f, 100 * MS);

    memset(&rep, 0xAB, sizeof rep);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.drained, QUEUED + 1);
    assert_int_equal(rep.dead_lettered, 0);
    assert_int_equal(rep.host_unread, 0);
    assert_int_equal(rep.actors_failed, 0);
    assert_int_equal(rep.timed_out, 0);
    assert_int_equal(log_count(), QUEUED + 1);
    for (uint32_t i = 0; i <= QUEUED; i++)
        assert_int_equal(log_at(i), i);
    assert_int_equal(rk_dead_letter_count(rt), 0);

    /* A second shutdown reports the same; everything is refused now. */
    memset(&rep, 0, sizeof rep);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.drained, QUEUED + 1);
    assert_int_equal(send_u64(rt, other, T_ECHO, 1), RK_ESHUTDOWN);
    assert_int_equal(call_u64(rt, other, T_ECHO, 1, &v, SEC), RK_ESHUTDOWN);
    assert_int_equal(rk_recv(rt, &r, 0), RK_ESHUTDOWN);
    assert_int_equal(rk_launch(rt, &ao, &other), RK_ESHUTDOWN);
    assert_int_equal(rk_activate(rt, id), RK_ESHUTDOWN);
    assert_int_equal(rk_terminate(rt, id), RK_ESHUTDOWN);
    assert_int_equal(rk_restart(rt, id), RK_ESHUTDOWN);
    assert_int_equal(rk_runtime_shutdown(NULL, &rep), RK_EINVAL);
}

static void shutdown_host_unread(void **state)
{
    fx *f = *state;
    rk_runtime *rt = start(f, NULL);
    rk_actor_id id = launch(rt, "talker", 0, 0);
    rk_shutdown_report rep;
    rk_dead_letter d = {0};
    unsigned char big[1000];
    uint64_t n = 0, dropped = 1;

    fill_pattern(big, sizeof big, 3);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(send_u64(rt, id, T_ECHO, i), RK_OK);
    assert_int_equal(rk_send(rt, id, T_ECHO, big, sizeof big), RK_OK); /* by reference to the host */
    assert_int_equal(wait_msgs_in(rt, id, 5), 5);

    memset(&rep, 0xAB, sizeof rep);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.host_unread, 5);
    assert_int_equal(rep.drained, 0);
    assert_int_equal(rep.dead_lettered, 0);
    assert_int_equal(rep.timed_out, 0);
    assert_int_equal(rk_dead_letter_count(rt), 5);
    while (rk_dead_letter_pop(rt, &d, &dropped) == RK_OK) {
        assert_int_equal(d.reason, RK_ESHUTDOWN);
        assert_int_equal(d.hdr.src, id);
        assert_int_equal(d.hdr.dst, RK_ACTOR_HOST);
        assert_int_equal(d.hdr.type, T_ECHO);
        assert_int_equal(d.hdr.len, n < 4 ? 8 : sizeof big);
        n++;
    }
    assert_int_equal(n, 5);
    assert_int_equal(dropped, 0);
}

static void shutdown_drain_timeout(void **state)
{
    fx *f = *state;
    rk_runtime_options o = cpu_options();
    rk_runtime *rt;
    rk_actor_id id;
    rk_shutdown_report rep;
    enum { QUEUED = 8 };
    unsigned char big[1000];
    uint64_t other, t0, dt;

    o.drain_timeout_ns = 50 * MS;
    rt = start(f, &o);
    id = launch(rt, "stuck", 0, 0);
    assert_int_equal(send_u64(rt, id, T_GATE, 0), RK_OK);
    wait_entered(1);
    for (uint64_t i = 1; i < QUEUED; i++)
        assert_int_equal(send_u64(rt, id, T_REC, i), RK_OK);
    memset(big, 0, sizeof big);
    big[0] = QUEUED;
    assert_int_equal(rk_send(rt, id, T_REC, big, sizeof big), RK_OK); /* one by reference */
    /* The handler stays held past the drain timeout; the gate opens later so
     * that the worker can stop. */
    open_gate_later(f, 400 * MS);

    t0 = rk_test_now_ns();
    memset(&rep, 0xAB, sizeof rep);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    dt = rk_test_now_ns() - t0;
    assert_true(dt >= 50 * MS);
    assert_int_equal(rep.timed_out, 1);
    assert_int_equal(rep.drained, 0);
    assert_int_equal(rep.host_unread, 0);
    assert_int_equal(rep.actors_failed, 0);
    /* Only the held message ran; the drain gave up on the rest, which went
     * to the dead letters instead of being handled after the deadline. */
    assert_int_equal(log_count(), 1);
    assert_int_equal(rep.dead_lettered, QUEUED);
    assert_int_equal(pop_dead_letters(rt, RK_ESHUTDOWN, NULL, &other), QUEUED);
    assert_int_equal(other, 0);
}

/* Runs last (see main): a launch that the backend does not confirm in time
 * because the only worker is held by a handler. The launch reports
 * RK_ETIMEDOUT; once the handler returns, the runtime must go on working
 * (the worker must not act on the abandoned launch). Takes the backend's
 * command timeout (5 s). */
static void launch_timeout_leaves_runtime_usable(void **state)
{
    fx *f = *state;
    rk_runtime_options ro = cpu_options();
    rk_runtime *rt;
    rk_actor_options o = actor_opts("late", 0, 0);
    rk_actor_id held, id = 777, next;
    uint64_t v = 0;
    rk_status st;

    ro.workers = 1; /* every actor on the one worker */
    rt = start(f, &ro);
    held = launch(rt, "held", 0, 0);
    assert_int_equal(send_u64(rt, held, T_GATE, 0), RK_OK);
    wait_entered(1);
    st = rk_launch(rt, &o, &id); /* the worker cannot answer while held */
    atomic_store(&g_gate, 1);
    assert_int_equal(st, RK_ETIMEDOUT);
    assert_int_equal(id, 777);
    assert_int_equal(rk_lookup(rt, "late", &id), RK_ENOACTOR);

    assert_int_equal(call_u64(rt, held, T_ECHO, 1, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 1);
    next = launch(rt, "next", 0, 0);
    assert_int_equal(call_u64(rt, next, T_ECHO, 2, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 2);
    assert_int_equal(call_u64(rt, held, T_ECHO, 3, &v, CALL_TIMEOUT), RK_OK);
    assert_int_equal(v, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_null_out),
        cmocka_unit_test(options_bad),
        cmocka_unit_test(options_defaults),
        cmocka_unit_test_setup_teardown(launch_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(launch_names_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(send_recv_payloads, setup, teardown),
        cmocka_unit_test_setup_teardown(recv_too_small_keeps_message, setup, teardown),
        cmocka_unit_test_setup_teardown(recv_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(call_matches_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(call_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(call_timeout_late_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(call_timeouts_account_for_every_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_input_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(full_inbox, setup, teardown),
        cmocka_unit_test_setup_teardown(lifecycle_illegal_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(terminate_drains_first, setup, teardown),
        cmocka_unit_test_setup_teardown(terminate_timed_out_stays_in_force, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_fresh_state, setup, teardown),
        cmocka_unit_test_setup_teardown(handler_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_lost_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(k2k_token_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(k2k_cross_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(metrics_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_drains_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_host_unread, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_drain_timeout, setup, teardown),
        /* Last: a crash in these must not hide the results above. */
        cmocka_unit_test_setup_teardown(launch_init_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(launch_timeout_leaves_runtime_usable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
