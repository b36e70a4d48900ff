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
 * diag_lifecycle_probed, built from this file, times the same five commands
 * --probed times each with device.cuh's command probes (RK_GPU_PROBE_CMD)
 * on; their counters are read after each command, outside its timed span,
 * and the mean of each step printed:
 *   look       the supervisor's look that saw the command: from its start
 *              to the sequence word read (its loads of host memory)
 *   take       the command's copy and the release of its slot to the host
 *   dispatch   carried out (the supervisor's own commands: with their
 *              acknowledgement) or put in the block's mailbox
 *   hand-over  from the mailbox's write to the block taking it (global
 *              timer: the two are on different SMs)
 *   run        from taking it to its acknowledgement (the block's work)
 *   ack        the acknowledgement's stores and release
 *   idle look  one look of the supervisor that found nothing
 * Steps within one SM use its clock (cycles at the attribute's clock rate);
 * what is not in them is the host's part and the two PCIe crossings.
 *
 * Usage: diag_lifecycle [--trials N] [--json FILE]
 *        diag_lifecycle_probed [--probed N] [--json FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/bench_gpu.h"

/* ---- the command probes (diag_lifecycle_probed) ------------------------------------------ */

#ifdef DL_PROBED
enum { S_LOOK, S_TAKE, S_DISPATCH, S_HANDOVER, S_RUN, S_ACK, S_IDLE, S_STEPS };
static const char *const step_name[S_STEPS] = {"look", "take", "dispatch", "hand-over", "run", "ack", "idle look"};

/* The probes only store (a load of global memory would cost them an L2
 * round trip, ~0.6 us, and the steps would time it): each point's last
 * clock and global timer, and how often it was passed. The host reads them
 * after each command and works out the steps. The supervisor's look is
 * timed in its block's shared memory, where a load is cheap. */
typedef struct dl_probes {
    unsigned long long t[32];  /* the clock at each point's last pass (of the SM that passed it) */
    unsigned long long ns[32]; /* the global timer there */
    unsigned long long n[32];  /* passes of each point */
    unsigned long long look;   /* the look that saw the last command, cycles */
    unsigned long long idle_sum, idle_n; /* the looks that saw nothing, cycles */
    unsigned long long ack_block;        /* the block of the last acknowledgement */
} dl_probes;
__device__ dl_probes dl;

/* Defined below, with device.cuh's point names. */
static __device__ void dl_probe(int point);
#define RK_GPU_PROBE_CMD(point) dl_probe((int)(point))
#endif

#include "core/runtime_internal.h"
#include "ringkernel/device.cuh"

#ifdef DL_PROBED
static __device__ void dl_probe(int point)
{
    __shared__ unsigned long long look_at, idle; /* the supervisor's (block 0) */
    const unsigned long long t = clock64();
    unsigned long long g;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g));
    if (point == RK__PROBE_SUP_LOOK) {
        if (idle) {
            atomicAdd(&dl.idle_sum, t - look_at);
            atomicAdd(&dl.idle_n, 1ull);
        }
        idle = 1;
        look_at = t;
        return;
    }
    if (point == RK__PROBE_SUP_SEEN) {
        *(volatile unsigned long long *)&dl.look = t - look_at;
        idle = 0;
    }
    if (point == RK__PROBE_ACK)
        *(volatile unsigned long long *)&dl.ack_block = blockIdx.x;
    ((volatile unsigned long long *)dl.t)[point] = t;
    ((volatile unsigned long long *)dl.ns)[point] = g;
    atomicAdd(&dl.n[point], 1ull);
}
#endif

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

/* The supervisor block's own command: RK__GPU_OP_SUP naming no record,
 * refused by block 0 at once. */
static double supervisor_us(rk_runtime *rt)
{
    rk__gpu_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = RK__GPU_OP_SUP;
    cmd.event = RK__GPU_SUP_OFF;
    cmd.type = 0xFFFFu;
    return command_us(rt, &cmd, RK_EINVAL);
}

/* A command through block 1's mailbox: RK__GPU_OP_RESET naming `actor`,
 * never launched, which block 1 does not hold. */
static double block_us(rk_runtime *rt, rk_actor_id actor)
{
    rk__gpu_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = RK__GPU_OP_RESET;
    cmd.slot = 1;
    cmd.actor = actor;
    return command_us(rt, &cmd, RK_ENOACTOR);
}

/* A CUDA runtime of diag_program for `max_actors` ids (ids are not reused). */
static rk_runtime *diag_runtime(uint32_t max_actors)
{
    rk_runtime_options ro;
    rk_runtime *rt = NULL;
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA;
    ro.max_actors = max_actors;
    ro.gpu_program = &diag_program;
    RKB_RK(rk_runtime_create(&rt, &ro));
    return rt;
}

/* rk_launch of an echo actor named `prefix` i, in us. */
static double launch_us(rk_runtime *rt, const char *prefix, size_t i, rk_actor_id *id)
{
    rk_actor_options o;
    char name[32];
    uint64_t t0;
    rk_actor_options_init(&o);
    snprintf(name, sizeof name, "%s%zu", prefix, i);
    o.name = name;
    o.type = &echo_type;
    o.inbox_capacity = 64;
    t0 = rkb_now_ns();
    RKB_RK(rk_launch(rt, &o, id));
    return (double)(rkb_now_ns() - t0) / 1e3;
}

#ifdef DL_PROBED
enum { OP_SUP, OP_BLOCK, OP_CREATE, OP_RESTART, OP_TERM, OPS };
static const char *const op_name[OPS] = {"supervisor", "block", "create", "restart", "terminate"};

/* The probes' counters, read through a stream that does not wait for the
 * persistent kernel (which never ends). */
static void dl_read(cudaStream_t side, dl_probes *out)
{
    RKB_CUDA(cudaMemcpyFromSymbolAsync(out, dl, sizeof *out, 0, cudaMemcpyDeviceToHost, side));
    RKB_CUDA(cudaStreamSynchronize(side));
}

/* The steps of the command just done (the probes' counters against
 * `last`), added to op's totals; n counts each step's passes, so that one
 * taken more than once per command shows. */
static void dl_account(cudaStream_t side, dl_probes *last, double sum[OPS][S_STEPS], double n[OPS][S_STEPS], int op)
{
    dl_probes now;
    unsigned long long d[32];
    dl_read(side, &now);
    for (int p = 0; p < 32; p++)
        d[p] = now.n[p] - last->n[p];
#define DL_ADD(s, passes, value)                                                                                       \
    do {                                                                                                               \
        if (passes) {                                                                                                  \
            sum[op][s] += (double)(value);                                                                             \
            n[op][s] += (double)(passes);                                                                              \
        }                                                                                                              \
    } while (0)
    DL_ADD(S_LOOK, d[RK__PROBE_SUP_SEEN], now.look);
    DL_ADD(S_TAKE, d[RK__PROBE_SUP_CONSUMED], now.t[RK__PROBE_SUP_CONSUMED] - now.t[RK__PROBE_SUP_SEEN]);
    DL_ADD(S_DISPATCH, d[RK__PROBE_SUP_HANDED], now.t[RK__PROBE_SUP_HANDED] - now.t[RK__PROBE_SUP_CONSUMED]);
    DL_ADD(S_HANDOVER, d[RK__PROBE_MBOX], now.ns[RK__PROBE_MBOX] - now.ns[RK__PROBE_SUP_HANDED]);
    if (now.ack_block != 0)
        DL_ADD(S_RUN, d[RK__PROBE_MBOX] ? d[RK__PROBE_ACK] : 0, now.t[RK__PROBE_ACK] - now.t[RK__PROBE_MBOX]);
    DL_ADD(S_ACK, d[RK__PROBE_ACKED], now.t[RK__PROBE_ACKED] - now.t[RK__PROBE_ACK]);
    DL_ADD(S_IDLE, now.idle_n - last->idle_n, now.idle_sum - last->idle_sum);
#undef DL_ADD
    *last = now;
}

/* The five commands, `trials` times each, their steps read after each. */
static int probed(rkb *b, rk_runtime *rt, uint32_t max_actors, size_t trials)
{
    static double sum[OPS][S_STEPS], n[OPS][S_STEPS];
    double *t[OPS];
    cudaStream_t side;
    dl_probes last;
    int clock_khz = 0;
    size_t i;
    RKB_CUDA(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
    RKB_CUDA(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0));
    for (int op = 0; op < OPS; op++) {
        t[op] = (double *)calloc(trials, sizeof *t[op]);
        if (!t[op]) {
            fprintf(stderr, "diag_lifecycle: out of memory\n");
            return 1;
        }
    }
    dl_read(side, &last);
    for (i = 0; i < trials; i++) {
        t[OP_SUP][i] = supervisor_us(rt);
        dl_account(side, &last, sum, n, OP_SUP);
        t[OP_BLOCK][i] = block_us(rt, max_actors - 1);
        dl_account(side, &last, sum, n, OP_BLOCK);
    }
    for (i = 0; i < trials; i++) {
        rk_actor_id id;
        uint64_t t0;
        t[OP_CREATE][i] = launch_us(rt, "pr", i, &id);
        dl_account(side, &last, sum, n, OP_CREATE);
        t0 = rkb_now_ns();
        RKB_RK(rk_restart(rt, id));
        t[OP_RESTART][i] = (double)(rkb_now_ns() - t0) / 1e3;
        dl_account(side, &last, sum, n, OP_RESTART);
        t0 = rkb_now_ns();
        RKB_RK(rk_terminate(rt, id));
        t[OP_TERM][i] = (double)(rkb_now_ns() - t0) / 1e3;
        dl_account(side, &last, sum, n, OP_TERM);
    }
    printf("\nsteps, mean ns per command (%zu of each; SM clock %d MHz by the attribute; hand-over by the global "
           "timer); host: its clock around the command, us\n",
           trials, clock_khz / 1000);
    printf("%-11s %8s %8s", "command", "host med", "host mean");
    for (int s = 0; s < S_IDLE; s++)
        printf(" %9s", step_name[s]);
    printf(" %9s\n", "on GPU");
    for (int op = 0; op < OPS; op++) {
        double mean = 0, gpu = 0;
        char name[64];
        for (i = 0; i < trials; i++)
            mean += t[op][i] / (double)trials;
        snprintf(name, sizeof name, "probed %s", op_name[op]);
        const rkb_series *sr = rkb_samples(b, name, "us", t[op], trials, "with the command probes on");
        printf("%-11s %8.3f %8.3f", op_name[op], sr ? sr->st.median : 0.0, mean);
        for (int s = 0; s < S_IDLE; s++) {
            /* per command: a step some commands do not take counts 0 for them */
            const double ns = s == S_HANDOVER ? sum[op][s] : sum[op][s] * 1e6 / (double)clock_khz;
            printf(" %9.0f", ns / (double)trials);
            gpu += ns / (double)trials;
            if (n[op][s] > (double)trials)
                printf("*");
        }
        printf(" %9.0f\n", gpu);
    }
    {
        double idle_sum = 0, idle_n = 0;
        for (int op = 0; op < OPS; op++) {
            idle_sum += sum[op][S_IDLE];
            idle_n += n[op][S_IDLE];
        }
        printf("idle look: %.0f ns mean over %.0f looks; * marks a step taken more than once per command\n",
               idle_n ? idle_sum * 1e6 / (double)clock_khz / idle_n : 0.0, idle_n);
    }
    for (int op = 0; op < OPS; op++)
        free(t[op]);
    cudaStreamDestroy(side);
    return 0;
}

int main(int argc, char **argv)
{
    const uint64_t asked = rkb_arg_u64(argc, argv, "--probed", 500);
    const size_t trials = asked < 10 ? 10 : (size_t)asked;
    const uint32_t max_actors = (uint32_t)(trials + 8);
    rk_runtime *rt;
    rkb b;
    int rc = rkb_init(&b, "diag_lifecycle_probed", argc, argv);
    if (rc)
        return rc;
    rt = diag_runtime(max_actors);
    rkb_param_num(&b, "probed", (double)trials);
    rc = probed(&b, rt, max_actors, trials);
    rk_runtime_destroy(rt);
    return rc ? rc : rkb_finish(&b);
}
#else
int main(int argc, char **argv)
{
    const uint64_t asked = rkb_arg_u64(argc, argv, "--trials", 2000);
    const size_t trials = asked < 10 ? 10 : (size_t)asked;
    const size_t idle_trials = trials / 10;
    const uint32_t max_actors = (uint32_t)(trials + idle_trials + 8);
    rk_runtime *rt;
    double *t_sup, *t_block, *t_create, *t_restart, *t_term, *t_idle;
    rkb b;
    size_t i;
    int rc = rkb_init(&b, "diag_lifecycle", argc, argv);
    if (rc)
        return rc;
    rt = diag_runtime(max_actors);
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
        t_sup[i] = supervisor_us(rt);
        t_block[i] = block_us(rt, max_actors - 1);
    }
    for (i = 0; i < trials + idle_trials; i++) {
        rk_actor_id id;
        uint64_t t0;
        if (i >= trials) {
            struct timespec gap = {0, 3000000};
            nanosleep(&gap, NULL);
            t_idle[i - trials] = launch_us(rt, "lc", i, &id);
            RKB_RK(rk_terminate(rt, id));
            continue;
        }
        t_create[i] = launch_us(rt, "lc", i, &id);
        t0 = rkb_now_ns();
        RKB_RK(rk_restart(rt, id));
        t_restart[i] = (double)(rkb_now_ns() - t0) / 1e3;
        t0 = rkb_now_ns();
        RKB_RK(rk_terminate(rt, id));
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
#endif
