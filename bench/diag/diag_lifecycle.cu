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
 * Usage: diag_lifecycle [--trials N] [--json FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/bench_gpu.h"
#include "core/runtime_internal.h"
#include "ringkernel/device.cuh"

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

/* One command through the backend, in us; `want` is the status it must answer. */
static double command_us(rk_runtime *rt, rk__gpu_cmd *cmd, rk_status want)
{
    const uint64_t t0 = rkb_now_ns();
    const rk_status st = rk__cuda_command(rt, cmd, t0 + 5000000000ull, NULL);
    const uint64_t dt = rkb_now_ns() - t0;
    if (st != want) {
        fprintf(stderr, "diag_lifecycle: command: %s, want %s\n", rk_status_name(st), rk_status_name(want));
        exit(1);
    }
    return (double)dt / 1e3;
}

int main(int argc, char **argv)
{
    const uint64_t asked = rkb_arg_u64(argc, argv, "--trials", 2000);
    const size_t trials = asked < 10 ? 10 : (size_t)asked;
    const size_t idle_trials = trials / 10;
    rk_runtime_options ro;
    rk_runtime *rt;
    double *t_sup, *t_block, *t_create, *t_restart, *t_term, *t_idle;
    rkb b;
    size_t i;
    int rc = rkb_init(&b, "diag_lifecycle", argc, argv);
    if (rc)
        return rc;
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA;
    ro.max_actors = (uint32_t)(trials + idle_trials + 8); /* ids are not reused */
    ro.gpu_program = &diag_program;
    RKB_RK(rk_runtime_create(&rt, &ro));
    rkb_param_num(&b, "trials", (double)trials);
    t_sup = (double *)calloc(trials, sizeof *t_sup);
    t_block = (double *)calloc(trials, sizeof *t_block);
    t_create = (double *)calloc(trials, sizeof *t_create);
    t_restart = (double *)calloc(trials, sizeof *t_restart);
    t_term = (double *)calloc(trials, sizeof *t_term);
    t_idle = (double *)calloc(idle_trials, sizeof *t_idle);
    if (!t_sup || !t_block || !t_create || !t_restart || !t_term || !t_idle) {
        fprintf(stderr, "diag_lifecycle: out of memory\n");
        return 1;
    }

    for (i = 0; i < trials; i++) {
        rk__gpu_cmd cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = RK__GPU_OP_SUP;
        cmd.event = RK__GPU_SUP_OFF;
        cmd.type = 0xFFFFu; /* no such record: refused by block 0 at once */
        t_sup[i] = command_us(rt, &cmd, RK_EINVAL);
        memset(&cmd, 0, sizeof cmd);
        cmd.op = RK__GPU_OP_RESET;
        cmd.slot = 1;
        cmd.actor = ro.max_actors - 1; /* never launched: block 1 does not hold it */
        t_block[i] = command_us(rt, &cmd, RK_ENOACTOR);
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
        t0 = rkb_now_ns();
        RKB_RK(rk_launch(rt, &o, &id));
        if (i >= trials) {
            t_idle[i - trials] = (double)(rkb_now_ns() - t0) / 1e3;
        } else {
            t_create[i] = (double)(rkb_now_ns() - t0) / 1e3;
            t0 = rkb_now_ns();
            RKB_RK(rk_restart(rt, id));
            t_restart[i] = (double)(rkb_now_ns() - t0) / 1e3;
            t0 = rkb_now_ns();
        }
        RKB_RK(rk_terminate(rt, id));
        if (i < trials)
            t_term[i] = (double)(rkb_now_ns() - t0) / 1e3;
    }
    rkb_samples(&b, "supervisor: host to block 0 to host", "us", t_sup, trials,
                "RK__GPU_OP_SUP naming no record, answered by the supervisor block; host clock around rk__cuda_command");
    rkb_samples(&b, "block: via block 1's mailbox", "us", t_block, trials,
                "RK__GPU_OP_RESET naming an actor block 1 does not hold: handed on and answered by block 1");
    rkb_samples(&b, "create (rk_launch)", "us", t_create, trials, "rk_launch of an actor without state, back to back");
    rkb_samples(&b, "restart (rk_restart)", "us", t_restart, trials, "rk_restart of that actor");
    rkb_samples(&b, "terminate (rk_terminate)", "us", t_term, trials, "rk_terminate of that actor");
    rkb_samples(&b, "create after 3 ms idle", "us", t_idle, idle_trials,
                "rk_launch after 3 ms without commands (the supervisor block naps once idle for 1 ms)");
    rk_runtime_destroy(rt);
    return rkb_finish(&b);
}
