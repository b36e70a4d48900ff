/* NVTX ranges around host-side runtime operations (src/core/trace.h), seen
 * as a profiler sees them: through an NVTX injection library
 * (trace_inject.c) that NVTX loads from NVTX_INJECTION64_PATH, which CTest
 * sets. Each test drives a CPU-backend runtime (or a group) through public
 * calls, then checks what the injection recorded:
 *   - the ranges of the test's thread, with their nesting, are exactly the
 *     expected ones, in order - so an operation without a range (rk_send)
 *     has none, and one that fails early still closes its range;
 *   - every push on every thread is popped, never below depth 0;
 *   - every range is in the "ringkernel" domain, named by a registered
 *     string, or by its text under TRACE_INJECT_NO_REGISTER (the same
 *     program runs twice, as test_trace and test_trace_unregistered).
 * The library creates its domain once per process, whatever the thread. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rk_test.h"
#include "ringkernel/group.h"
#include "ringkernel/ringkernel.h"
#include "ringkernel/snapshot.h"
#include "ringkernel/supervisor.h"
#include "trace_inject.h"

#define SEC 1000000000ull
#define CALL_TIMEOUT (5 * SEC)
#define WAIT_LIMIT_NS (10 * SEC)
#define EVENTS_CAP 4096
#define SEQ_CAP 4096

enum {
    T_ECHO = 1, /* request: reply with the payload */
    T_FAIL = 2, /* return an error: the actor fails */
};

static trace_inject_initialized_fn inject_initialized;
static trace_inject_domains_fn inject_domains;
static trace_inject_take_fn inject_take;
static trace_event events[EVENTS_CAP];

static rk_status handle(rk_ctx *ctx, void *state, const rk_msg *msg)
{
    (void)state;
    if (msg->type == T_FAIL)
        return RK_EINTERNAL;
    if (msg->flags & RK_MSG_F_REQUEST)
        return rk_reply(ctx, T_ECHO, rk_msg_payload(msg), msg->len);
    return RK_OK;
}

static const rk_actor_type echo_type = {.name = "echo", .handle = handle};

static void actor_options(rk_actor_options *o, const char *name)
{
    rk_actor_options_init(o);
    o->name = name;
    o->type = &echo_type;
    o->state_size = sizeof(uint64_t);
    o->inbox_capacity = 64;
}

static rk_runtime *start_runtime(void)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    o.max_actors = 8;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    return rt;
}

static void call_echo(rk_runtime *rt, rk_actor_id id, uint64_t v)
{
    uint64_t out = 0;
    rk_msgbuf reply = {.data = &out, .capacity = sizeof out};
    assert_int_equal(rk_call(rt, id, T_ECHO, &v, sizeof v, &reply, CALL_TIMEOUT), RK_OK);
    assert_int_equal(out, v);
}

/* Forgets what was recorded so far (by an earlier test). */
static void forget_events(void)
{
    assert_int_not_equal(inject_take(events, EVENTS_CAP), SIZE_MAX);
}

/* The calling thread's ranges as text: "a(b() c()) d()" for a range a
 * holding b and c, then d. */
static void render(const trace_event *ev, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    int prev_pop = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!pthread_equal(ev[i].thread, pthread_self()))
            continue;
        if (ev[i].push)
            len += (size_t)snprintf(out + len, cap - len, "%s%s(", prev_pop ? " " : "", ev[i].name);
        else
            len += (size_t)snprintf(out + len, cap - len, ")");
        assert_true(len < cap);
        prev_pop = !ev[i].push;
    }
}

/* Every thread's pushes are popped, in its own order, never below 0. */
static void check_balanced(const trace_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long depth = 0;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= pthread_equal(ev[j].thread, ev[i].thread);
        if (seen)
            continue; /* that thread was checked at its first event */
        for (size_t j = i; j < n; j++) {
            if (!pthread_equal(ev[j].thread, ev[i].thread))
                continue;
            depth += ev[j].push ? 1 : -1;
            assert_true(depth >= 0);
        }
        assert_int_equal(depth, 0);
    }
}

/* Takes the recorded events and checks them: the calling thread's ranges
 * are `expected`, all are balanced and in the "ringkernel" domain. Returns
 * how many there were. */
static size_t check_events(const char *expected)
{
    static char seq[SEQ_CAP];
    int registered = getenv(TRACE_INJECT_NO_REGISTER) == NULL;
    size_t n = inject_take(events, EVENTS_CAP);

    assert_int_not_equal(n, SIZE_MAX);
    assert_true(n <= EVENTS_CAP);
    render(events, n, seq, sizeof seq);
    assert_string_equal(seq, expected);
    check_balanced(events, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(events[i].domain, "ringkernel");
        if (events[i].push)
            assert_int_equal(events[i].registered, registered);
    }
    return n;
}

/* ---- tests ----------------------------------------------------------------- */

/* The runtime's lifecycle: create, launch, calls, every lifecycle command,
 * destroy; a send has no range; refused calls and commands close theirs. */
static void runtime_ranges(void **state)
{
    rk_actor_options o;
    rk_actor_id id;
    uint64_t v = 7;
    uint64_t out;
    rk_msgbuf reply = {.data = &out, .capacity = sizeof out};
    (void)state;

    forget_events();
    rk_runtime *rt = start_runtime();
    actor_options(&o, "a");
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    assert_int_equal(rk_send(rt, id, T_ECHO, &v, sizeof v), RK_OK);
    call_echo(rt, id, 42);
    assert_int_equal(rk_call(rt, 99, T_ECHO, &v, sizeof v, &reply, CALL_TIMEOUT), RK_ENOACTOR);
    assert_int_equal(rk_call(rt, id, T_ECHO, &v, sizeof v, NULL, CALL_TIMEOUT), RK_EINVAL);
    assert_int_equal(rk_activate(rt, id), RK_ETRANSITION); /* already Active */
    assert_int_equal(rk_deactivate(rt, id), RK_OK);
    assert_int_equal(rk_activate(rt, id), RK_OK);
    assert_int_equal(rk_restart(rt, id), RK_OK);
    call_echo(rt, id, 43);
    assert_int_equal(rk_terminate(rt, id), RK_OK);
    assert_int_equal(rk_terminate(rt, id), RK_ETRANSITION);
    assert_int_equal(rk_runtime_shutdown(rt, NULL), RK_OK);
    rk_runtime_destroy(rt);
    rk_runtime_destroy(NULL); /* nothing to trace */

    check_events("rk_runtime_create() rk_launch() rk_call() rk_call() rk_call() rk_activate() rk_deactivate() "
                 "rk_activate() rk_restart() rk_call() rk_terminate() rk_terminate() rk_runtime_shutdown() "
                 "rk_runtime_destroy(rk_runtime_shutdown())");
}

/* Checkpoints and restores, to a buffer and to a file, and restores that
 * fail (a damaged checkpoint, a missing file) after their range opened. */
static void checkpoint_ranges(void **state)
{
    static unsigned char buf[64 * 1024];
    char path[64];
    rk_actor_options o;
    rk_actor_id id;
    size_t len = 0;
    int os_error = 0;
    (void)state;

    snprintf(path, sizeof path, "/tmp/rk-test-trace-%ld.ckpt", (long)getpid());
    forget_events();
    rk_runtime *rt = start_runtime();
    actor_options(&o, "c");
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    call_echo(rt, id, 1);
    assert_int_equal(rk_actor_checkpoint(rt, id, RK_ACTOR_CHECKPOINT_FULL, buf, sizeof buf, &len, NULL), RK_OK);
    assert_int_equal(rk_actor_restore(rt, id, 0, buf, len, NULL), RK_OK);
    buf[len / 2] ^= 0xff;
    assert_int_equal(rk_actor_restore(rt, id, 0, buf, len, NULL), RK_EBADMSG);
    assert_int_equal(rk_actor_checkpoint_file(rt, id, RK_ACTOR_CHECKPOINT_FULL, path, NULL, &os_error), RK_OK);
    assert_int_equal(rk_actor_restore_file(rt, id, 0, path, NULL, &os_error), RK_OK);
    assert_int_equal(unlink(path), 0);
    assert_int_not_equal(rk_actor_restore_file(rt, id, 0, path, NULL, &os_error), RK_OK);
    rk_runtime_destroy(rt);

    check_events("rk_runtime_create() rk_launch() rk_call() rk_actor_checkpoint() rk_actor_restore() "
                 "rk_actor_restore() rk_actor_checkpoint_file() rk_actor_restore_file() rk_actor_restore_file() "
                 "rk_runtime_destroy(rk_runtime_shutdown())");
}

/* A group: its creation holds its members' creations, a migration holds
 * the launch at the new home and the termination at the old one, and its
 * destruction holds each member's shutdown and destruction. */
static void group_ranges(void **state)
{
    rk_group_options go;
    rk_placement p = {.kind = RK_PLACE_MEMBER, .member = 0};
    rk_migrate_report r;
    rk_actor_options o;
    rk_group *g = NULL;
    rk_actor_id gid;
    (void)state;

    forget_events();
    rk_group_options_init(&go);
    go.members = 2;
    go.runtime.backend = RK_BACKEND_CPU;
    go.runtime.workers = 1;
    go.runtime.max_actors = 8;
    assert_int_equal(rk_group_create(&g, &go), RK_OK);
    actor_options(&o, "m");
    assert_int_equal(rk_group_launch(g, &o, &p, &gid), RK_OK);
    assert_int_equal(rk_group_migrate(g, gid, 1, 0, 5 * SEC, &r), RK_OK);
    call_echo(rk_group_member(g, 0), r.to, 5); /* routed to the new home */
    rk_group_destroy(g, NULL);

    check_events("rk_group_create(rk_runtime_create() rk_runtime_create()) rk_launch() "
                 "rk_group_migrate(rk_launch() rk_terminate()) rk_call() "
                 "rk_group_destroy(rk_runtime_shutdown() rk_runtime_destroy(rk_runtime_shutdown()) "
                 "rk_runtime_shutdown() rk_runtime_destroy(rk_runtime_shutdown()))");
}

/* A supervisor restarts a failed child on its own thread: the restart's
 * range is there, not on the test's thread. */
static void supervisor_restart_range(void **state)
{
    rk_supervisor_options so;
    rk_actor_options o;
    rk_actor_id sup, id;
    rk_control c;
    uint64_t deadline;
    int on_other_thread = 0;
    size_t n;
    (void)state;

    forget_events();
    rk_runtime *rt = start_runtime();
    rk_supervisor_options_init(&so);
    so.name = "sup";
    assert_int_equal(rk_supervisor_create(rt, &so, &sup), RK_OK);
    actor_options(&o, "child");
    assert_int_equal(rk_supervisor_start_child(rt, sup, &o, RK_CHILD_PERMANENT, &id), RK_OK);
    assert_int_equal(rk_send(rt, id, T_FAIL, NULL, 0), RK_OK);
    deadline = rk_test_now_ns() + WAIT_LIMIT_NS;
    do {
        assert_int_equal(rk_actor_control(rt, id, &c), RK_OK);
        if (c.generation >= 2 && c.state == RK_ACTIVE)
            break;
        rk_test_sleep_ns(1000000);
    } while (rk_test_now_ns() < deadline);
    assert_int_equal(c.generation, 2);
    call_echo(rt, id, 9);
    rk_runtime_destroy(rt);

    n = check_events("rk_runtime_create() rk_launch() rk_call() rk_runtime_destroy(rk_runtime_shutdown())");
    for (size_t i = 0; i < n; i++)
        if (events[i].push && !pthread_equal(events[i].thread, pthread_self()) &&
            strcmp(events[i].name, "rk_restart") == 0)
            on_other_thread = 1;
    assert_true(on_other_thread);
}

/* Last: by now every test has opened ranges from this thread and others. */
static void one_domain(void **state)
{
    char names[4][TRACE_INJECT_NAME_MAX];
    (void)state;
    assert_true(inject_initialized());
    assert_int_equal(inject_domains(names, 4), 1);
    assert_string_equal(names[0], "ringkernel");
}

int main(void)
{
    const char *path = getenv("NVTX_INJECTION64_PATH");
    void *lib;

    /* Loaded here first; NVTX's own dlopen of the same path, at the first
     * range, finds this copy (and initializes it then). */
    if (!path || !(lib = dlopen(path, RTLD_NOW))) {
        fprintf(stderr, "test_trace: NVTX_INJECTION64_PATH must name the trace_inject library (%s)\n",
                path ? dlerror() : "unset");
        return 1;
    }
    inject_initialized = (trace_inject_initialized_fn)dlsym(lib, "trace_inject_initialized");
    inject_domains = (trace_inject_domains_fn)dlsym(lib, "trace_inject_domains");
    inject_take = (trace_inject_take_fn)dlsym(lib, "trace_inject_take");
    if (!inject_initialized || !inject_domains || !inject_take) {
        fprintf(stderr, "test_trace: %s lacks the trace_inject_* functions\n", path);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runtime_ranges),
        cmocka_unit_test(checkpoint_ranges),
        cmocka_unit_test(group_ranges),
        cmocka_unit_test(supervisor_restart_range),
        cmocka_unit_test(one_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
