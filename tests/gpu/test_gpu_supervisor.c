/* Supervisor trees over GPU actors. A supervisor's policy is a restart
 * record on the device: the failed actor's own block restarts it in the
 * running kernel (no relaunch, no host), the host learns the new
 * generation (name, RK_EVENT_RESTART), and restarts the host orders count
 * against the same record. One-for-all and rest-for-one records restart
 * the siblings too, in start order, through the supervisor block; a
 * temporary child hands the supervisor back to the supervision thread. A
 * restart storm trips the window and the root gives up with an
 * asynchronous error; siblings keep serving; kill_tree stops children that
 * are being restarted. The supervision thread, which learns of a failure
 * through the backend's error polling, is timed against the records; that
 * the record, not the thread, restarts is shown apart, with the thread
 * locked out by a kill that holds the supervision lock. */
#include <pthread.h>
#include <stdlib.h>

#include "gpu_test.h"

static rk_actor_id start_child(rk_runtime *rt, rk_actor_id sup, const char *name, uint32_t type)
{
    rk_actor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &rkt_types[type];
    RKT_CHECK_ST(rk_supervisor_start_child(rt, sup, &o, RK_CHILD_PERMANENT, &id), RK_OK);
    return id;
}

/* Polls until the actor is Active with a generation of at least `gen`. */
static void wait_generation(rk_runtime *rt, rk_actor_id id, uint32_t gen)
{
    uint64_t end = rk_test_now_ns() + 10 * RKT_SEC;
    rk_actor_metrics m;
    do {
        RKT_CHECK_ST(rk_actor_metrics_get(rt, id, &m), RK_OK);
        if (m.state == RK_ACTIVE && m.generation >= gen)
            return;
        rk_test_sleep_ns(RKT_MS);
    } while (rk_test_now_ns() < end);
    fprintf(stderr, "actor %u: %s, generation %u; want Active, generation %u\n", id,
            rk_lifecycle_state_name(m.state), m.generation, gen);
    RKT_FAIL();
}

static rk_control control(rk_runtime *rt, rk_actor_id id)
{
    rk_control c;
    RKT_CHECK_ST(rk_actor_control(rt, id, &c), RK_OK);
    return c;
}



static uint64_t echo(rk_runtime *rt, rk_actor_id id, uint64_t v)
{
    uint64_t out = 0;
    rk_msgbuf mb = {.data = &out, .capacity = sizeof out};
    RKT_CHECK_ST(rk_call(rt, id, RKT_MSG_ECHO, &v, sizeof v, &mb, 5 * RKT_SEC), RK_OK);
    return out;
}

static void one_for_one_restarts(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_supervisor_options so;
    rk_supervisor_info info;
    rk_actor_id sup, f, e;

    rk_supervisor_options_init(&so);
    so.name = "gpu-sup";
    so.max_restarts = 5;
    so.window_ns = 10 * RKT_SEC;
    RKT_CHECK_ST(rk_supervisor_create(rt, &so, &sup), RK_OK);
    f = start_child(rt, sup, "workers/failer", RKT_FAILER);
    e = start_child(rt, sup, "workers/echo", RKT_ECHO);
    RKT_CHECK(echo(rt, f, 1) == 1);
    for (uint32_t gen = 2; gen <= 4; gen++) {
        RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK);
        wait_generation(rt, f, gen);
        RKT_CHECK(echo(rt, f, gen) == gen); /* the restarted actor serves */
        RKT_CHECK(echo(rt, e, 100 + gen) == 100 + gen);
    }
    RKT_CHECK_ST(rk_supervisor_info_get(rt, sup, &info), RK_OK);
    RKT_CHECK(info.state == RK_ACTIVE && info.restarts == 3 && info.children == 2);
    rk_runtime_destroy(rt);
    printf("one-for-one restarts of a GPU actor: ok\n");
}

static void storm_gives_up(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_supervisor_options so;
    rk_supervisor_info info;
    rk_async_error err;
    rk_actor_id sup, f;
    uint64_t end;
    int gave_up = 0;

    rk_supervisor_options_init(&so);
    so.name = "storm";
    so.max_restarts = 2;
    so.window_ns = 60 * RKT_SEC;
    RKT_CHECK_ST(rk_supervisor_create(rt, &so, &sup), RK_OK);
    f = start_child(rt, sup, "storm/failer", RKT_FAILER);
    for (uint32_t gen = 2; gen <= 3; gen++) {
        RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK);
        wait_generation(rt, f, gen);
    }
    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK); /* the third failure in the window */
    end = rk_test_now_ns() + 10 * RKT_SEC;
    while (!gave_up && rk_test_now_ns() < end) {
        RKT_CHECK_ST(rk_supervisor_info_get(rt, sup, &info), RK_OK);
        gave_up = info.state == RK_FAILED;
        rk_test_sleep_ns(RKT_MS);
    }
    RKT_CHECK(gave_up && info.escalations == 1);
    /* The root's surrender is an asynchronous error naming it (after the
     * handler failures, which are reported too). */
    gave_up = 0;
    while (rk_runtime_error(rt, &err) == RK_OK)
        gave_up |= err.actor == sup && err.status == RK_EFAILED;
    RKT_CHECK(gave_up);
    rk_runtime_destroy(rt);
    printf("restart storm trips the window: ok\n");
}

/* Fails the child `n` times and times each failure until the child is
 * Active in the next generation, watching its control block (pinned
 * memory: no command, no lock). Returns the median in ns; *p99 too. */
static uint64_t time_restarts(rk_runtime *rt, rk_actor_id f, uint32_t n, uint64_t *p99)
{
    uint64_t *dt = calloc(n, sizeof *dt), med;
    RKT_CHECK(dt != NULL);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t gen = control(rt, f).generation;
        const uint64_t t0 = rk_test_now_ns(), end = t0 + 10 * RKT_SEC;
        rk_control c;
        RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK);
        do
            c = control(rt, f);
        while (!(c.state == RK_ACTIVE && c.generation == gen + 1) && rk_test_now_ns() < end);
        dt[i] = rk_test_now_ns() - t0;
        RKT_CHECK(c.state == RK_ACTIVE && c.generation == gen + 1);
    }
    qsort(dt, n, sizeof *dt, rkt_cmp_u64);
    med = dt[n / 2];
    *p99 = dt[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    free(dt);
    return med;
}

/* The block restarts its actor itself: the failure is answered in
 * microseconds, where the supervision thread (a supervisor with more
 * restarts per window than a record keeps, same single child) first has to
 * poll the device's errors. Both are timed from the host's send of the
 * failing message to the next generation running. */
static void device_restarts(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_event_sub_options eo;
    rk_event_sub *sub;
    rk_event ev;
    rk_registry_entry ent;
    size_t total;
    uint64_t dev_med, dev_p99, host_med, host_p99, end;
    rk_supervisor_info info;
    const uint32_t n_dev = (uint32_t)rkt_env("RKT_RESTARTS", 200), n_host = 20;
    /* a 1 us window: restarts never pile up in it */
    rk_actor_id sd = rkt_start_sup(rt, "on-gpu", RK_ONE_FOR_ONE, 2, 1000);
    rk_actor_id sh = rkt_start_sup(rt, "on-host", RK_ONE_FOR_ONE, 33, 1000); /* 33: no record keeps it */
    rk_actor_id fd = start_child(rt, sd, "fast/failer", RKT_FAILER);
    rk_actor_id fh = start_child(rt, sh, "slow/failer", RKT_FAILER);
    int seen = 0;

    rk_event_sub_options_init(&eo);
    eo.kinds = RK_EVENT_MASK(RK_EVENT_RESTART);
    RKT_CHECK_ST(rk_event_subscribe(rt, &eo, &sub), RK_OK);
    dev_med = time_restarts(rt, fd, n_dev, &dev_p99);
    host_med = time_restarts(rt, fh, n_host, &host_p99);
    RKT_CHECK(echo(rt, fd, 7) == 7 && echo(rt, fh, 8) == 8);
    RKT_CHECK(control(rt, fd).generation == 1 + n_dev && (control(rt, fd).flags & RK_CONTROL_F_RESTARTING) == 0);
    RKT_CHECK_ST(rk_supervisor_info_get(rt, sd, &info), RK_OK);
    RKT_CHECK(info.state == RK_ACTIVE && info.restarts == n_dev && info.escalations == 0);
    /* The host hears of the block's restarts: the name follows the
     * generation, and RK_EVENT_RESTART names the newest. */
    end = rk_test_now_ns() + 5 * RKT_SEC;
    do {
        RKT_CHECK(rk_lookup_all(rt, "fast/failer", &ent, 1, &total) == RK_OK && total == 1);
        while (rk_event_poll(sub, &ev, 0) == RK_OK)
            seen |= ev.actor == fd && ev.value == (int64_t)(1 + n_dev);
    } while ((ent.generation != 1 + n_dev || !seen) && rk_test_now_ns() < end);
    RKT_CHECK(ent.actor == fd && ent.generation == 1 + n_dev && seen);
    rk_event_unsubscribe(sub);
    rk_runtime_destroy(rt);
    printf("restart after a failure, host send to next generation running: restart record on the GPU median "
           "%.1f us p99 %.1f us (%u); supervision thread median %.1f us p99 %.1f us (%u): ok\n",
           dev_med / 1e3, dev_p99 / 1e3, n_dev, host_med / 1e3, host_p99 / 1e3, n_host);
}

/* rk_kill_tree on another thread; done is set once it has returned. */
typedef struct kill_call {
    rk_runtime *rt;
    rk_actor_id id;
    rk_status st;
    int done; /* atomic */
} kill_call;

static void *kill_main(void *arg)
{
    kill_call *k = arg;
    k->st = rk_kill_tree(k->rt, k->id, NULL, 0, NULL);
    __atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* How long the sleeper holds its block: below the 5 s a lifecycle command
 * waits for the device (core/actor.c), so that the kill waiting on it
 * returns RK_OK, with seconds to spare for the block's drain after the
 * hold, also under compute-sanitizer. No host flag ends it early: the
 * test would need CUDA's headers to map one. */
#define HOLD_NS (3 * RKT_SEC)
/* Room for the device's clock, which times the hold, against the host's. */
#define CLOCK_SLACK_NS (100 * RKT_MS)

/* The block restarts its actor with the supervision thread locked out. A
 * kill of an actor held in its handler takes the supervision lock (the
 * thread's op_lock), then the runtime's and the backend's, closes the
 * actor's host gate and waits for the block to drain, which it cannot
 * before the hold ends: the lock is held from before the gate is seen
 * closed until the kill returns. The supervision thread reacts only under
 * that lock, and a host restart is a command under the other two, so
 * whatever restarts the child meanwhile is its block. */
static void device_restarts_without_the_thread(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id sup = rkt_start_sup(rt, "locked-out", RK_ONE_FOR_ONE, 5, 60 * RKT_SEC);
    rk_actor_id f = start_child(rt, sup, "locked-out/failer", RKT_FAILER);
    rk_actor_id held = rkt_launch(rt, "held", RKT_SLEEPER);
    rkt_wait w = {0, HOLD_NS};
    kill_call k = {rt, held, RK_EINTERNAL, 0};
    rk_supervisor_info info;
    rk_shutdown_report rep;
    uint64_t until, seen;
    rk_control c;
    rk_status st;
    pthread_t th;

    RKT_CHECK(echo(rt, f, 1) == 1 && control(rt, f).generation == 1);
    /* The hold ends HOLD_NS after the block takes the WAIT, so not before
     * `until` (taken before the send): until then the kill cannot return
     * RK_OK, and its command times out only after 5 s. Either order of the
     * WAIT and the kill's terminate holds the block (a terminate drains
     * what was queued before it). */
    until = rk_test_now_ns() + HOLD_NS - CLOCK_SLACK_NS;
    RKT_CHECK_ST(rk_send(rt, held, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
    RKT_CHECK(pthread_create(&th, NULL, kill_main, &k) == 0);
    /* A send to the held actor is refused once the kill's terminate has
     * closed its gate, under all three locks. Those that get in before
     * are NOPs, drained after the hold. */
    while ((st = rk_send(rt, held, RKT_MSG_NOP, NULL, 0)) == RK_OK && rk_test_now_ns() < until)
        rk_test_sleep_ns(RKT_MS);
    RKT_CHECK_ST(st, RK_ESTATE);
    RKT_CHECK(!__atomic_load_n(&k.done, __ATOMIC_ACQUIRE) && control(rt, held).state != RK_TERMINATED);

    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK);
    do
        c = control(rt, f);
    while (!(c.state == RK_ACTIVE && c.generation == 2) && rk_test_now_ns() < until);
    RKT_CHECK(c.state == RK_ACTIVE && c.generation == 2);
    RKT_CHECK(echo(rt, f, 2) == 2); /* the new generation serves */
    seen = rk_test_now_ns();
    RKT_CHECK_ST(rk_supervisor_info_get(rt, sup, &info), RK_OK);
    RKT_CHECK(info.restarts == 1 && info.recent_restarts == 1); /* charged to the record */
    /* All of it within the hold: the lock was never free. */
    RKT_CHECK(seen < until);
    RKT_CHECK(!__atomic_load_n(&k.done, __ATOMIC_ACQUIRE) && control(rt, held).state != RK_TERMINATED);

    /* The hold ends and the kill finishes. The thread, free again, finds
     * the child running and leaves it be: no second restart. It looks
     * every millisecond. */
    RKT_CHECK(pthread_join(th, NULL) == 0);
    RKT_CHECK_ST(k.st, RK_OK);
    RKT_CHECK(control(rt, held).state == RK_TERMINATED);
    rk_test_sleep_ns(100 * RKT_MS);
    c = control(rt, f);
    RKT_CHECK(c.state == RK_ACTIVE && c.generation == 2 && (c.flags & RK_CONTROL_F_RESTARTING) == 0);
    RKT_CHECK_ST(rk_supervisor_info_get(rt, sup, &info), RK_OK);
    RKT_CHECK(info.state == RK_ACTIVE && info.restarts == 1);
    RKT_CHECK(echo(rt, f, 3) == 3);
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(!rep.timed_out && rep.dead_lettered == 0 && rep.actors_failed == 0);
    rk_runtime_destroy(rt);
    printf("a one-for-one child restarted by its block while a kill holds the supervision lock: ok\n");
}

/* Restarts the host orders (a permanent child terminated by someone else)
 * and the block's own count against one record and one window. */
static void shared_intensity(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id sup = rkt_start_sup(rt, "shared", RK_ONE_FOR_ONE, 3, 60 * RKT_SEC);
    rk_actor_id f = start_child(rt, sup, "shared/failer", RKT_FAILER);
    rk_supervisor_info info;
    uint64_t end;

    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK); /* the block restarts it */
    wait_generation(rt, f, 2);
    RKT_CHECK_ST(rk_terminate(rt, f), RK_OK); /* the supervision thread restarts it */
    wait_generation(rt, f, 3);
    RKT_CHECK_ST(rk_supervisor_info_get(rt, sup, &info), RK_OK);
    RKT_CHECK(info.restarts == 2 && info.recent_restarts == 2);
    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK); /* third: still allowed */
    wait_generation(rt, f, 4);
    RKT_CHECK(echo(rt, f, 4) == 4);
    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK); /* fourth in the window: gives up */
    end = rk_test_now_ns() + 10 * RKT_SEC;
    do {
        RKT_CHECK_ST(rk_supervisor_info_get(rt, sup, &info), RK_OK);
        rk_test_sleep_ns(RKT_MS);
    } while (info.state != RK_FAILED && rk_test_now_ns() < end);
    RKT_CHECK(info.state == RK_FAILED && info.escalations == 1 && info.restarts == 3);
    RKT_CHECK(control(rt, f).state == RK_FAILED && control(rt, f).generation == 4);
    /* Revived by hand: the record is on again with an empty history. */
    RKT_CHECK_ST(rk_supervisor_restart(rt, sup), RK_OK);
    wait_generation(rt, f, 5);
    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK);
    wait_generation(rt, f, 6);
    RKT_CHECK_ST(rk_supervisor_info_get(rt, sup, &info), RK_OK);
    RKT_CHECK(info.state == RK_ACTIVE && info.recent_restarts == 1);
    rk_runtime_destroy(rt);
    printf("host and device restarts share one intensity: ok\n");
}

/* kill_tree while the children fail and their blocks restart them: when
 * it returns, none runs, and none comes back. */
static void kill_tree_while_restarting(void)
{
    enum { N = 4 };
    rk_runtime *rt = rkt_runtime(16);
    rk_actor_id sup = rkt_start_sup(rt, "doomed", RK_ONE_FOR_ONE, 32, 1000);
    rk_actor_id f[N], order[N + 1];
    uint32_t gen[N];
    size_t count = 0;
    char name[32];

    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "doomed/%d", i);
        f[i] = start_child(rt, sup, name, RKT_FAILER);
    }
    /* After the first round a child may be between its failure and its
     * restart: refused then, as a Failed actor is. */
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) {
            rk_status st = rk_send(rt, f[i], RKT_MSG_FAIL, NULL, 0);
            RKT_CHECK(st == RK_OK || (round > 0 && st == RK_EFAILED));
        }
    }
    RKT_CHECK_ST(rk_kill_tree(rt, sup, order, N + 1, &count), RK_OK);
    RKT_CHECK(count == N + 1 && order[N] == sup);
    for (int i = 0; i < N; i++) {
        rk_control c = control(rt, f[i]);
        RKT_CHECK(c.state == RK_TERMINATED || c.state == RK_FAILED);
        gen[i] = c.generation;
    }
    rk_test_sleep_ns(100 * RKT_MS);
    for (int i = 0; i < N; i++) {
        rk_control c = control(rt, f[i]);
        RKT_CHECK((c.state == RK_TERMINATED || c.state == RK_FAILED) && c.generation == gen[i]);
    }
    rk_runtime_destroy(rt);
    printf("kill_tree stops children its record is restarting: ok\n");
}

/* Fails child k of sup's n children (kids) and waits until the children
 * from `from` on run in their next generation; returns the time from the
 * failing send until the last of them runs. */
static uint64_t group_round(rk_runtime *rt, const rk_actor_id *kids, int n, int k, int from)
{
    uint32_t gen[32];
    uint64_t t0, end;
    int done;
    for (int i = 0; i < n; i++)
        gen[i] = control(rt, kids[i]).generation;
    t0 = rk_test_now_ns();
    end = t0 + 10 * RKT_SEC;
    RKT_CHECK_ST(rk_send(rt, kids[k], RKT_MSG_FAIL, NULL, 0), RK_OK);
    do {
        done = 1;
        for (int i = from; i < n && done; i++) {
            rk_control c = control(rt, kids[i]);
            done = c.state == RK_ACTIVE && c.generation == gen[i] + 1;
        }
    } while (!done && rk_test_now_ns() < end);
    t0 = rk_test_now_ns() - t0;
    RKT_CHECK(done);
    for (int i = 0; i < from; i++)
        RKT_CHECK(control(rt, kids[i]).generation == gen[i]); /* before the failed one: untouched */
    return t0;
}

/* One-for-all and rest-for-one on the GPU: a failure restarts the failed
 * child's siblings too - all of them, or those started after it - on the
 * device, each in place; timed against the supervision thread doing the
 * same (a supervisor whose restarts no record keeps). */
static void group_restarts(void)
{
    enum { N = 4, ROUNDS = 20 };
    rk_runtime *rt = rkt_runtime(32);
    rk_actor_id all = rkt_start_sup(rt, "all", RK_ONE_FOR_ALL, ROUNDS + 4, 60 * RKT_SEC); /* <= 32: a record keeps it */
    rk_actor_id rest = rkt_start_sup(rt, "rest", RK_REST_FOR_ONE, 4, 60 * RKT_SEC);
    rk_actor_id slow = rkt_start_sup(rt, "slow", RK_ONE_FOR_ALL, 33, 60 * RKT_SEC);
    rk_actor_id a[N], r[N], h[N];
    uint64_t dev[ROUNDS], host[ROUNDS / 4], end;
    rk_supervisor_info info;
    rk_registry_entry ent;
    size_t total;
    char name[32];

    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "all/%d", i);
        a[i] = start_child(rt, all, name, RKT_FAILER);
        snprintf(name, sizeof name, "rest/%d", i);
        r[i] = start_child(rt, rest, name, RKT_FAILER);
        snprintf(name, sizeof name, "slow/%d", i);
        h[i] = start_child(rt, slow, name, RKT_FAILER);
    }
    for (int i = 0; i < ROUNDS; i++)
        dev[i] = group_round(rt, a, N, i % N, 0);
    for (int i = 0; i < ROUNDS / 4; i++)
        host[i] = group_round(rt, h, N, i % N, 0);
    RKT_CHECK_ST(rk_supervisor_info_get(rt, all, &info), RK_OK);
    RKT_CHECK(info.state == RK_ACTIVE && info.restarts == ROUNDS && info.escalations == 0);
    for (int i = 0; i < N; i++) {
        RKT_CHECK(echo(rt, a[i], 10 + i) == 10 + (uint64_t)i); /* all serve */
        RKT_CHECK((control(rt, a[i]).flags & RK_CONTROL_F_RESTARTING) == 0);
    }
    /* The host hears of every restart: names follow the generations. */
    end = rk_test_now_ns() + 5 * RKT_SEC;
    do
        RKT_CHECK(rk_lookup_all(rt, "all/3", &ent, 1, &total) == RK_OK && total == 1);
    while (ent.generation != 1 + ROUNDS && rk_test_now_ns() < end);
    RKT_CHECK(ent.actor == a[3] && ent.generation == 1 + ROUNDS);

    /* Rest-for-one: the failed child and those after it. */
    group_round(rt, r, N, 2, 2);
    group_round(rt, r, N, 0, 0);
    group_round(rt, r, N, 3, 3);
    group_round(rt, r, N, 1, 1);
    RKT_CHECK(control(rt, r[0]).generation == 2 && control(rt, r[1]).generation == 3 &&
              control(rt, r[2]).generation == 4 && control(rt, r[3]).generation == 5);
    /* The fifth failure in the window: the record gives up, the thread
     * stops the children and the supervisor fails. */
    RKT_CHECK_ST(rk_send(rt, r[3], RKT_MSG_FAIL, NULL, 0), RK_OK);
    end = rk_test_now_ns() + 10 * RKT_SEC;
    do {
        RKT_CHECK_ST(rk_supervisor_info_get(rt, rest, &info), RK_OK);
        rk_test_sleep_ns(RKT_MS);
    } while (info.state != RK_FAILED && rk_test_now_ns() < end);
    RKT_CHECK(info.state == RK_FAILED && info.escalations == 1 && info.restarts == 4);
    for (int i = 0; i < N; i++) {
        rk_control c = control(rt, r[i]);
        RKT_CHECK(c.state == RK_TERMINATED || c.state == RK_FAILED);
    }

    /* A temporary child: the record cannot restart the group any more; the
     * supervision thread does, as before. */
    {
        rk_actor_options o;
        rk_actor_id tmp;
        rk_actor_options_init(&o);
        o.name = "all/tmp";
        o.type = &rkt_types[RKT_ECHO];
        RKT_CHECK_ST(rk_supervisor_start_child(rt, all, &o, RK_CHILD_TEMPORARY, &tmp), RK_OK);
        group_round(rt, a, N, 1, 0);
        RKT_CHECK(control(rt, tmp).state == RK_TERMINATED); /* a temporary child is not restarted */
    }
    qsort(dev, ROUNDS, sizeof *dev, rkt_cmp_u64);
    qsort(host, ROUNDS / 4, sizeof *host, rkt_cmp_u64);
    /* Reported, not checked: the thread often answers within tens of us as
     * well (it is woken by the device's error report, or polls every 1 ms),
     * so the times cannot tell which path ran (for one-for-one,
     * device_restarts_without_the_thread shows it). */
    rk_runtime_destroy(rt);
    printf("one-for-all of %d children, failing send to all running again: restart record on the GPU median "
           "%.1f us (%d); supervision thread median %.1f us (%d); rest-for-one restarts the rest; a temporary "
           "child hands the group to the thread: ok\n",
           N, dev[ROUNDS / 2] / 1e3, ROUNDS, host[ROUNDS / 8] / 1e3, ROUNDS / 4);
}

/* A deactivated actor that fails while it drains is restarted by its
 * record's block and comes back Active: the host's sends reach it again
 * (the restart event reopens the host gate the deactivation closed; before
 * that fix they were refused with RK_ESTATE until the next command). */
static void draining_failure_restarts(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id sup = rkt_start_sup(rt, "drain-sup", RK_ONE_FOR_ONE, 5, 10 * RKT_SEC);
    rk_actor_id c = start_child(rt, sup, "drainer", RKT_COUNTER);
    rkt_wait w = {0, 300 * RKT_MS};
    uint64_t count = 0, end;
    rk_msgbuf mb = {.data = &count, .capacity = sizeof count};
    rk_status st;

    RKT_CHECK(control(rt, c).generation == 1);
    /* Busy for 300 ms, so that the deactivation comes before the queued
     * FAIL (a block takes its commands before its messages). */
    RKT_CHECK_ST(rk_send(rt, c, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
    rk_test_sleep_ns(50 * RKT_MS);
    RKT_CHECK_ST(rk_send(rt, c, RKT_MSG_INC, NULL, 0), RK_OK);
    RKT_CHECK_ST(rk_send(rt, c, RKT_MSG_FAIL, NULL, 0), RK_OK);
    RKT_CHECK_ST(rk_deactivate(rt, c), RK_OK);
    wait_generation(rt, c, 2);
    end = rk_test_now_ns() + 5 * RKT_SEC;
    while ((st = rk_send(rt, c, RKT_MSG_INC, NULL, 0)) == RK_ESTATE && rk_test_now_ns() < end)
        rk_test_sleep_ns(RKT_MS);
    RKT_CHECK_ST(st, RK_OK);
    RKT_CHECK_ST(rk_call(rt, c, RKT_MSG_INC, NULL, 0, &mb, 5 * RKT_SEC), RK_OK);
    RKT_CHECK(count == 2); /* fresh state: only the two INC sent since the restart */
    RKT_CHECK(control(rt, c).generation == 2);
    rk_runtime_destroy(rt);
    printf("a deactivated actor failing while it drains, restarted by its record: host sends reach it: ok\n");
}

int main(void)
{
    one_for_one_restarts();
    storm_gives_up();
    device_restarts();
    /* Its proof is a 3 s hold, within the runtime's 5 s command timeout:
     * compute-sanitizer slows the kernel 10-100 times, too much for that. */
    if (!getenv("RKT_UNDER_TOOL"))
        device_restarts_without_the_thread();
    else
        printf("the block restarts its actor with the supervision thread locked out: skipped under a tool\n");
    shared_intensity();
    kill_tree_while_restarting();
    group_restarts();
    draining_failure_restarts();
    return 0;
}
