/* Where the time of a lifecycle command on the CUDA backend goes.
 *
 * A diagnostic, not a benchmark to quote. bench_gpu_roundtrip reports
 * create, restart and terminate at 12-15 us on an H200 (issue target: 5 us);
 * this splits a command's path by timing shorter commands that stop earlier
 * on it, all through the backend's own command call (rk__cuda_command:
 * post on the command ring, spin on the acknowledgement):
 *   supervisor   RK__GPU_OP_SUP naming no record: the supervisor block
 *                answers it itself (host -> block 0 -> host)
 *   block        RK__GPU_OP_RESET naming an actor that block 1 does not
 *                hold: block 0 hands it to block 1's mailbox, which answers
 *                (host -> block 0 -> block 1 -> host)
 *   create, restart, terminate
 *                rk_launch, rk_restart, rk_terminate of an actor without
 *                state, back to back (as bench_gpu_roundtrip times them)
 *   create idle  rk_launch after 3 ms without commands: the supervisor
 *                block naps between looks at the ring once idle for 1 ms
 * create - block is then the actor's own work on the device (bind, state,
 * init, control block) plus the host's bookkeeping around the command
 * (core and backend); block - supervisor is the hand-over through the
 * mailbox; supervisor is the two PCIe crossings and block 0's look.
 *
 * Usage: diag_lifecycle [--trials N] */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/runtime_internal.h"
#include "ringkernel/device.cuh"
#include "ringkernel/ringkernel.h"

extern "C" rk_status rk__cuda_command(rk_runtime *rt, rk__gpu_cmd *cmd, uint64_t deadline_ns, uint64_t *value);

typedef struct diag_none {
    uint64_t unused;
} diag_none;

static __device__ rk_status diag_echo(rk_dctx *c, diag_none *s, const rk_msg *m)
{
    (void)s;
    if (m->flags & RK_MSG_F_REQUEST)
        return rk_dreply(c, 1, rk_msg_payload(m), m->len);
    return RK_OK;
}

RK_GPU_ACTOR(diag_echo_actor, diag_none, diag_echo);
RK_GPU_PROGRAM(diag_program, diag_echo_actor);

static const rk_actor_type echo_type = {"echo", NULL, NULL, 0};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void fail(const char *what, rk_status st)
{
    fprintf(stderr, "diag_lifecycle: %s: %s\n", what, rk_status_name(st));
    exit(1);
}

static void report(const char *name, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    printf("  %-34s n=%-6zu median %7.2f us  p99 %7.2f us  min %7.2f us\n", name, n, (double)v[n / 2] / 1e3,
           (double)v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3, (double)v[0] / 1e3);
}

/* One command through the backend; `want` is the status it must answer. */
static uint64_t command(rk_runtime *rt, rk__gpu_cmd *cmd, rk_status want)
{
    uint64_t t0 = now_ns();
    rk_status st = rk__cuda_command(rt, cmd, t0 + 5000000000ull, NULL);
    uint64_t dt = now_ns() - t0;
    if (st != want)
        fail("command", st);
    return dt;
}

int main(int argc, char **argv)
{
    size_t trials = 2000, idle_trials, i;
    rk_runtime_options ro;
    rk_runtime *rt;
    rk_status st;
    uint64_t *t_sup, *t_block, *t_create, *t_restart, *t_term, *t_idle;
    for (int a = 1; a + 1 < argc; a++)
        if (strcmp(argv[a], "--trials") == 0)
            trials = (size_t)strtoull(argv[++a], NULL, 10);
    if (trials < 10)
        trials = 10;
    idle_trials = trials / 10;
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA;
    ro.max_actors = (uint32_t)(trials + idle_trials + 8); /* ids are not reused */
    ro.gpu_program = &diag_program;
    if ((st = rk_runtime_create(&rt, &ro)) != RK_OK) {
        fprintf(stderr, "diag_lifecycle: rk_runtime_create: %s\n", rk_status_name(st));
        return st == RK_ENODEV || st == RK_ENOTSUP ? 77 : 1;
    }
    t_sup = (uint64_t *)calloc(trials, 8);
    t_block = (uint64_t *)calloc(trials, 8);
    t_create = (uint64_t *)calloc(trials, 8);
    t_restart = (uint64_t *)calloc(trials, 8);
    t_term = (uint64_t *)calloc(trials, 8);
    t_idle = (uint64_t *)calloc(idle_trials, 8);
    if (!t_sup || !t_block || !t_create || !t_restart || !t_term || !t_idle)
        fail("calloc", RK_ENOMEM);

    for (i = 0; i < trials; i++) {
        rk__gpu_cmd cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = RK__GPU_OP_SUP;
        cmd.event = RK__GPU_SUP_OFF;
        cmd.type = 0xFFFFu; /* no such record: refused by block 0 at once */
        t_sup[i] = command(rt, &cmd, RK_EINVAL);
        memset(&cmd, 0, sizeof cmd);
        cmd.op = RK__GPU_OP_RESET;
        cmd.slot = 1;
        cmd.actor = ro.max_actors - 1; /* never launched: block 1 does not hold it */
        t_block[i] = command(rt, &cmd, RK_ENOACTOR);
    }
    for (i = 0; i < trials + idle_trials; i++) {
        rk_actor_options o;
        rk_actor_id id;
        char name[32];
        uint64_t t0;
        rk_actor_options_init(&o);
        snprintf(name, sizeof name, "lc%zu", i);
        o.name = name;
        o.type = &echo_type;
        o.inbox_capacity = 64;
        if (i >= trials) {
            struct timespec gap = {0, 3000000};
            nanosleep(&gap, NULL);
        }
        t0 = now_ns();
        if ((st = rk_launch(rt, &o, &id)) != RK_OK)
            fail("rk_launch", st);
        if (i >= trials) {
            t_idle[i - trials] = now_ns() - t0;
        } else {
            t_create[i] = now_ns() - t0;
            t0 = now_ns();
            if ((st = rk_restart(rt, id)) != RK_OK)
                fail("rk_restart", st);
            t_restart[i] = now_ns() - t0;
            t0 = now_ns();
        }
        if ((st = rk_terminate(rt, id)) != RK_OK)
            fail("rk_terminate", st);
        if (i < trials)
            t_term[i] = now_ns() - t0;
    }
    printf("diag_lifecycle: %zu trials (host CLOCK_MONOTONIC around each call)\n", trials);
    report("supervisor (host->block 0->host)", t_sup, trials);
    report("block (.. ->block 1 mailbox-> ..)", t_block, trials);
    report("create (rk_launch)", t_create, trials);
    report("restart (rk_restart)", t_restart, trials);
    report("terminate (rk_terminate)", t_term, trials);
    report("create after 3 ms idle", t_idle, idle_trials);
    rk_runtime_destroy(rt);
    return 0;
}
