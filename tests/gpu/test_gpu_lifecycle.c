/* Lifecycle inside the running kernel, RK_STRESS_CYCLES times (default
 * 10^4) while two other actors serve a stream of requests: create a
 * counter (fresh state from its initial state, init run), change it,
 * restart it (state reset, generation + 1), terminate it (its block goes
 * back to the pool); every tenth cycle also restart it after Terminated,
 * every hundredth deactivate and activate it. Reports the median latency
 * of each command. */
#include <pthread.h>

#include "gpu_test.h"

typedef struct traffic {
    rk_runtime *rt;
    rk_actor_id actor[2];
    int stop;       /* atomic */
    uint64_t calls;
    rk_status failed;
} traffic;

static void *traffic_loop(void *arg)
{
    traffic *t = arg;
    uint64_t v, out = 0;
    rk_msgbuf mb = {.data = &out, .capacity = sizeof out};
    for (v = 0; !__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE); v++) {
        rk_status st = rk_call(t->rt, t->actor[v & 1], RKT_MSG_ECHO, &v, sizeof v, &mb, 10 * RKT_SEC);
        if (st != RK_OK || out != v || mb.hdr.len != sizeof v) {
            t->failed = st != RK_OK ? st : RK_EINTERNAL;
            break;
        }
        t->calls++;
    }
    return NULL;
}

static rkt_counter_state get(rk_runtime *rt, rk_actor_id id)
{
    rkt_counter_state s;
    rk_msgbuf mb = {.data = &s, .capacity = sizeof s};
    RKT_CHECK_ST(rk_call(rt, id, RKT_MSG_GET, NULL, 0, &mb, 10 * RKT_SEC), RK_OK);
    RKT_CHECK(mb.hdr.len == sizeof s && mb.hdr.src == id);
    return s;
}

static void check_fresh(rk_runtime *rt, rk_actor_id id, uint64_t count, uint32_t gen)
{
    rkt_counter_state s = get(rt, id);
    rk_control c;
    RKT_CHECK(s.count == count);
    RKT_CHECK(s.init_magic == RKT_INIT_MAGIC && s.init_runs == 1 && s.generation == gen);
    RKT_CHECK_ST(rk_actor_control(rt, id, &c), RK_OK);
    RKT_CHECK(c.generation == gen && c.restarts == gen - 1 && c.state == RK_ACTIVE && c.id == id);
}

#define TIME(var, expr)                                                                              \
    do {                                                                                             \
        uint64_t t_ = rk_test_now_ns();                                                              \
        expr;                                                                                        \
        (var) = rk_test_now_ns() - t_;                                                               \
    } while (0)

int main(void)
{
    uint64_t cycles = rkt_env("RK_STRESS_CYCLES", 10000), i, v, start = rk_test_now_ns();
    rk_runtime *rt = rkt_runtime((uint32_t)cycles + 8);
    uint64_t *t_create = calloc(cycles, 8), *t_restart = calloc(cycles, 8), *t_term = calloc(cycles, 8);
    rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
    traffic tr = {rt, {0, 0}, 0, 0, RK_OK};
    pthread_t th;
    rk_async_error err;
    rk_lifecycle_state s;
    rk_actor_id id;
    char name[32];

    RKT_CHECK(t_create && t_restart && t_term);
    tr.actor[0] = rkt_launch(rt, "traffic0", RKT_ECHO);
    tr.actor[1] = rkt_launch(rt, "traffic1", RKT_ECHO);
    RKT_CHECK(pthread_create(&th, NULL, traffic_loop, &tr) == 0);

    for (i = 0; i < cycles; i++) {
        rkt_counter_state init;
        memset(&init, 0, sizeof init);
        init.count = i;
        snprintf(name, sizeof name, "counter%llu", (unsigned long long)i);
        TIME(t_create[i], RKT_CHECK_ST(rkt_launch_ex(rt, name, RKT_COUNTER, &init, sizeof init, 64, 0, &id), RK_OK));
        check_fresh(rt, id, i, 1);
        RKT_CHECK_ST(rk_call(rt, id, RKT_MSG_INC, NULL, 0, &mb, 10 * RKT_SEC), RK_OK);
        RKT_CHECK(v == i + 1);
        RKT_CHECK_ST(rk_call(rt, id, RKT_MSG_INC, NULL, 0, &mb, 10 * RKT_SEC), RK_OK);
        RKT_CHECK(v == i + 2);
        TIME(t_restart[i], RKT_CHECK_ST(rk_restart(rt, id), RK_OK));
        check_fresh(rt, id, i, 2);
        if (i % 100 == 0) {
            RKT_CHECK_ST(rk_deactivate(rt, id), RK_OK);
            RKT_CHECK_ST(rk_actor_state(rt, id, &s), RK_OK);
            RKT_CHECK(s == RK_DRAINING);
            RKT_CHECK_ST(rk_send(rt, id, RKT_MSG_INC, NULL, 0), RK_ESTATE);
            RKT_CHECK_ST(rk_activate(rt, id), RK_OK);
            RKT_CHECK_ST(rk_call(rt, id, RKT_MSG_INC, NULL, 0, &mb, 10 * RKT_SEC), RK_OK);
            RKT_CHECK(v == i + 1);
        }
        TIME(t_term[i], RKT_CHECK_ST(rk_terminate(rt, id), RK_OK));
        RKT_CHECK_ST(rk_actor_state(rt, id, &s), RK_OK);
        RKT_CHECK(s == RK_TERMINATED);
        RKT_CHECK_ST(rk_send(rt, id, RKT_MSG_INC, NULL, 0), RK_ESTATE);
        if (i % 10 == 0) {
            RKT_CHECK_ST(rk_restart(rt, id), RK_OK); /* back from Terminated, on some free block */
            check_fresh(rt, id, i, 3);
            RKT_CHECK_ST(rk_terminate(rt, id), RK_OK);
        }
        RKT_CHECK_ST(rk_activate(rt, id), RK_ETRANSITION);
        if (tr.failed != RK_OK)
            break;
        if ((i + 1) % 1000 == 0 || i + 1 == 1 || i + 1 == 10 || i + 1 == 100)
            fprintf(stderr, "lifecycle: %llu cycles in %.1f s, %llu requests served\n", (unsigned long long)(i + 1),
                    (double)(rk_test_now_ns() - start) / 1e9, (unsigned long long)tr.calls);
    }
    __atomic_store_n(&tr.stop, 1, __ATOMIC_RELEASE);
    RKT_CHECK(pthread_join(th, NULL) == 0);
    RKT_CHECK_ST(tr.failed, RK_OK);
    RKT_CHECK(tr.calls > 0);
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_EEMPTY);
    RKT_CHECK(rk_dead_letter_count(rt) == 0);
    rk_runtime_destroy(rt);
    printf("lifecycle: %llu cycles, %llu requests served meanwhile; median create %.1f us, restart %.1f us, "
           "terminate %.1f us\n",
           (unsigned long long)cycles, (unsigned long long)tr.calls, (double)rkt_median(t_create, cycles) / 1e3,
           (double)rkt_median(t_restart, cycles) / 1e3, (double)rkt_median(t_term, cycles) / 1e3);
    free(t_create);
    free(t_restart);
    free(t_term);
    return 0;
}
