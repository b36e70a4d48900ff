/* Supervisor trees over GPU actors: the supervision thread learns of a
 * failed GPU actor through the backend's error polling and restarts it in
 * the running kernel (no relaunch); a restart storm trips the window and
 * the root gives up with an asynchronous error; siblings keep serving. */
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
    exit(1);
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

int main(void)
{
    one_for_one_restarts();
    storm_gives_up();
    return 0;
}
