/* Where the time of a host -> GPU actor -> host round trip goes.
 *
 * A diagnostic, not a benchmark to quote: it splits the CUDA backend's round
 * trip into steps and times the core's send and receive paths separately.
 *   GPU side: device.cuh's timing probes (RK_GPU_PROBE) timestamp, with the
 *   SM clock, the polling round that saw the request, the copy into shared
 *   memory, the claim of the reply's slot, the handler's return and the
 *   publication of the reply; averaged over the trials of one host path.
 *   Host side: the same echo request through
 *     backend   the backend's send op, then a spin on the host ring
 *     core-send rk_send (routing, HLC), then the same spin
 *     core-recv the backend's send op, then rk_recv
 *     rk_call   the public request/reply
 *   and the cost of one clock_gettime(CLOCK_MONOTONIC) on this host.
 *
 * Usage: diag_roundtrip [--trials N] */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringkernel/ringkernel.h"

/* ---- the probes ------------------------------------------------------------------------ */

#define DIAG_POINTS 8 /* the steps from the look that saw a request to the reply's publication */
#define DIAG_ALL 10   /* and three inside "copy", by device.cuh's extra points 8 and 9 */
__device__ unsigned long long diag_at[DIAG_ALL];   /* last timestamp per point */
__device__ unsigned long long diag_sum[DIAG_POINTS]; /* summed step durations, cycles */
__device__ unsigned long long diag_count;
__device__ unsigned long long diag_round_len; /* summed length of the round that saw a request */
/* Inside "copy": seen .. thread 0 starts the batch (the block's barrier),
 * .. the reply's slot reserved, .. the batch in shared memory. */
__device__ unsigned long long diag_sync, diag_reserve, diag_wait;

/* Called by thread 0 of the echo actor's block (device.cuh's probe points
 * 0..7). Step i (2..7) lasts from point i-1 to point i; "seen" is point 1
 * to point 7; "round" is the polling round that saw the request, from its
 * start (point 0) to the look that found it (point 1). */
static __device__ void diag_probe(int point)
{
    unsigned long long t = clock64();
    diag_at[point] = t;
    if (point == 1)
        diag_round_len += t - diag_at[0];
    if (point == DIAG_POINTS - 1) {
        for (int i = 2; i < DIAG_POINTS; i++)
            diag_sum[i] += diag_at[i] - diag_at[i - 1];
        diag_sum[1] += diag_at[DIAG_POINTS - 1] - diag_at[1];
        diag_sync += diag_at[8] - diag_at[1];
        diag_reserve += diag_at[9] - diag_at[8];
        diag_wait += diag_at[2] - diag_at[9];
        diag_count++;
    }
}

/* Only the one bound block (the echo actor) reports; the K2K points
 * (10.. , diag_k2k.cu's) are not ours. */
#define RK_GPU_PROBE(c, point)                                                                       \
    do {                                                                                             \
        if ((c)->bound && (int)(point) < DIAG_ALL)                                                   \
            diag_probe((int)(point));                                                                \
    } while (0)
#include "core/runtime_internal.h"
#include "gpu/host_spin.h"
#include "ringkernel/device.cuh"

typedef struct diag_none {
    uint64_t unused;
} diag_none;

static __device__ rk_status diag_echo(rk_dctx *c, diag_none *s, const rk_msg *m)
{
    (void)s;
    if (m->flags & RK_MSG_F_REQUEST)
        return rk_dreply(c, 1, rk_msg_payload(m), m->len);
    return rk_dsend_wait(c, RK_ACTOR_HOST, 1, rk_msg_payload(m), m->len, 10000000000ull);
}

RK_GPU_ACTOR(diag_echo_actor, diag_none, diag_echo);
RK_GPU_PROGRAM(diag_program, diag_echo_actor);

/* ---- host side ------------------------------------------------------------------------------ */

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
    fprintf(stderr, "diag_roundtrip: %s: %s\n", what, rk_status_name(st));
    exit(1);
}

typedef enum { P_BACKEND, P_CORE_SEND, P_CORE_RECV, P_CALL, P_PATHS } path;
static const char *path_names[P_PATHS] = {"backend send + spin", "rk_send + spin", "backend send + rk_recv",
                                          "rk_call"};

/* One echo round trip through `p`; returns its duration in ns. */
static uint64_t once(rk_runtime *rt, rk_actor_id id, path p, uint64_t i)
{
    uint64_t req[8] = {i}, rep[8] = {0}, t0;
    rk__actor *a = &rt->actors[id];
    rk_msgbuf mb = {};
    rk_status st = RK_OK;
    rk_msg h;
    mb.data = rep;
    mb.capacity = sizeof rep;
    memset(&h, 0, sizeof h);
    h.type = 1;
    h.src = RK_ACTOR_HOST;
    h.dst = id;
    h.tenant = a->tenant;
    h.len = sizeof req;
    t0 = now_ns();
    if (p == P_CALL) {
        st = rk_call(rt, id, 1, req, sizeof req, &mb, 5000000000ull);
    } else {
        if (p == P_CORE_SEND)
            st = rk_send(rt, id, 1, req, sizeof req);
        else
            st = rt->ops->send(rt, a, &h, req);
        if (st != RK_OK)
            fail("send", st);
        if (p == P_CORE_RECV) {
            st = rk_recv(rt, &mb, 5000000000ull);
        } else {
            const rk_msg *m = rkb_host_next(rt, 4000000000ull);
            if (!m)
                fail("spin", RK_ETIMEDOUT);
            memcpy(rep, rk_msg_payload(m), sizeof rep);
            rkb_host_pop(rt);
        }
    }
    t0 = now_ns() - t0;
    if (st != RK_OK)
        fail(path_names[p], st);
    if (rep[0] != i) {
        fprintf(stderr, "diag_roundtrip: wrong reply %llu for %llu\n", (unsigned long long)rep[0],
                (unsigned long long)i);
        exit(1);
    }
    return t0;
}

/* The probes' counters are read and reset through a stream of their own
 * that does not wait for the persistent kernel (which never ends). */
static void reset_probes(cudaStream_t s)
{
    static const unsigned long long z[DIAG_POINTS] = {0}, zero = 0;
    cudaMemcpyToSymbolAsync(diag_sum, z, sizeof z, 0, cudaMemcpyHostToDevice, s);
    cudaMemcpyToSymbolAsync(diag_sync, &zero, sizeof zero, 0, cudaMemcpyHostToDevice, s);
    cudaMemcpyToSymbolAsync(diag_reserve, &zero, sizeof zero, 0, cudaMemcpyHostToDevice, s);
    cudaMemcpyToSymbolAsync(diag_wait, &zero, sizeof zero, 0, cudaMemcpyHostToDevice, s);
    cudaMemcpyToSymbolAsync(diag_count, &zero, sizeof zero, 0, cudaMemcpyHostToDevice, s);
    cudaMemcpyToSymbolAsync(diag_round_len, &zero, sizeof zero, 0, cudaMemcpyHostToDevice, s);
    if (cudaStreamSynchronize(s) != cudaSuccess)
        fail("reset probes", RK_EDEVICE);
}

/* A burst: 32 requests through the backend's send op, then their 32
 * replies; returns ns per message. */
static uint64_t burst(rk_runtime *rt, rk_actor_id id, uint64_t base)
{
    uint64_t req[8] = {0}, t0 = now_ns(), k;
    rk__actor *a = &rt->actors[id];
    rk_msg h;
    memset(&h, 0, sizeof h);
    h.type = 1;
    h.src = RK_ACTOR_HOST;
    h.dst = id;
    h.tenant = a->tenant;
    h.len = sizeof req;
    for (k = 0; k < 32; k++) {
        rk_status st;
        req[0] = base + k;
        if ((st = rt->ops->send(rt, a, &h, req)) != RK_OK)
            fail("burst send", st);
    }
    for (k = 0; k < 32; k++) {
        const rk_msg *m = rkb_host_next(rt, 4000000000ull);
        if (!m)
            fail("burst spin", RK_ETIMEDOUT);
        if (((const uint64_t *)rk_msg_payload(m))[0] != base + k)
            fail("burst order", RK_EBADMSG);
        rkb_host_pop(rt);
    }
    return (now_ns() - t0) / 32;
}

/* One runtime with the environment as it is now: every host path, then
 * bursts. */
static void run_variant(const char *label, uint64_t trials, uint64_t warmup, int khz, cudaStream_t side, uint64_t *t)
{
    rk_runtime_options ro;
    rk_actor_options ao;
    rk_actor_type type = {"echo", NULL, NULL, 0};
    rk_runtime *rt;
    rk_actor_id id;
    rk_status st;
    uint64_t k;

    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA;
    ro.max_actors = 4;
    ro.gpu_program = &diag_program;
    if ((st = rk_runtime_create(&rt, &ro)) != RK_OK)
        fail("rk_runtime_create", st);
    rk_actor_options_init(&ao);
    ao.name = "echo";
    ao.type = &type;
    if ((st = rk_launch(rt, &ao, &id)) != RK_OK)
        fail("rk_launch", st);

    printf("\n== %s ==\n", label);
    printf("%-24s %8s %8s | %7s %7s (%6s %7s %6s) %7s %7s %7s %7s %7s | %7s\n", "host path", "median", "p99",
           "seen", "copy", "sync", "reserve", "wait", "enter", "claim", "write", "fence", "publish", "round");
    for (int p = 0; p < P_PATHS; p++) {
        unsigned long long sum[DIAG_POINTS], count, round_len, sync, reserve, wait;
        for (k = 0; k < warmup; k++)
            once(rt, id, (path)p, k);
        reset_probes(side);
        for (k = 0; k < trials; k++)
            t[k] = once(rt, id, (path)p, k);
        cudaMemcpyFromSymbolAsync(sum, diag_sum, sizeof sum, 0, cudaMemcpyDeviceToHost, side);
        cudaMemcpyFromSymbolAsync(&count, diag_count, sizeof count, 0, cudaMemcpyDeviceToHost, side);
        cudaMemcpyFromSymbolAsync(&round_len, diag_round_len, sizeof round_len, 0, cudaMemcpyDeviceToHost, side);
        cudaMemcpyFromSymbolAsync(&sync, diag_sync, sizeof sync, 0, cudaMemcpyDeviceToHost, side);
        cudaMemcpyFromSymbolAsync(&reserve, diag_reserve, sizeof reserve, 0, cudaMemcpyDeviceToHost, side);
        cudaMemcpyFromSymbolAsync(&wait, diag_wait, sizeof wait, 0, cudaMemcpyDeviceToHost, side);
        if (cudaStreamSynchronize(side) != cudaSuccess)
            fail("read probes", RK_EDEVICE);
        qsort(t, trials, sizeof *t, cmp_u64);
        double ns = count ? 1e6 / (double)khz / (double)count : 0; /* cycles -> ns, averaged */
        printf("%-24s %8.3f %8.3f | %7.0f %7.0f (%6.0f %7.0f %6.0f) %7.0f %7.0f %7.0f %7.0f %7.0f | %7.0f\n",
               path_names[p], (double)t[trials / 2] / 1e3, (double)t[trials * 99 / 100] / 1e3, (double)sum[1] * ns,
               (double)sum[2] * ns, (double)sync * ns, (double)reserve * ns, (double)wait * ns, (double)sum[3] * ns,
               (double)sum[4] * ns, (double)sum[5] * ns, (double)sum[6] * ns, (double)sum[7] * ns,
               (double)round_len * ns);
    }
    for (k = 0; k < trials / 32; k++)
        t[k] = burst(rt, id, k * 32);
    qsort(t, trials / 32, sizeof *t, cmp_u64);
    printf("%-24s %8.3f %8.3f   (us per message, bursts of 32 through the backend)\n", "burst", (double)t[trials / 64] / 1e3,
           (double)t[trials / 32 * 99 / 100] / 1e3);
    rk_runtime_destroy(rt);
}

int main(int argc, char **argv)
{
    uint64_t trials = 20000, warmup = 2000, *t;
    int dev = 0, khz = 0, i;
    cudaStream_t side;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--trials"))
            trials = strtoull(argv[i + 1], NULL, 10);
    }
    if (trials < 64)
        trials = 64;
    if (cudaGetDeviceCount(&i) != cudaSuccess || i == 0) {
        printf("diag_roundtrip: no CUDA device\n");
        return 77;
    }
    cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev);
    t = (uint64_t *)malloc(trials * sizeof *t);
    if (cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking) != cudaSuccess)
        fail("cudaStreamCreate", RK_EDEVICE);
    {
        uint64_t t0 = now_ns(), n = 1000000, k;
        for (k = 0; k < n; k++)
            (void)now_ns();
        printf("clock_gettime(CLOCK_MONOTONIC): %.1f ns per call\n", (double)(now_ns() - t0) / (double)n);
    }
    printf("SM clock %.0f MHz (attribute); GPU steps: mean ns at that clock\n", khz / 1e3);
    printf("seen = request seen .. reply published (GPU total) = copy + enter + claim + write + fence + publish; "
           "copy: .. batch in shared memory; enter: .. handler's send starts; claim: .. reply slot claimed; write: "
           ".. handler returned; fence: .. publication fence done; publish: .. sequence words stored; round: start "
           "of the polling round .. the look that saw the request; copy = sync (.. thread 0 starts the batch) + reserve "
           "(.. the reply's slot reserved) + wait (.. the copy done). With flag-per-word slots in the host queue "
           "(the default) a reply is published as it is written (in \"write\"): no fence, \"fence\" and "
           "\"publish\" are empty\n");
    run_variant(getenv("RK_CUDA_FENCE") ? "RK_CUDA_FENCE set" : "defaults", trials, warmup, khz, side, t);
    if (!getenv("RK_CUDA_HOST_LL")) {
        setenv("RK_CUDA_HOST_LL", "0", 1);
        run_variant("plain host queue slots (RK_CUDA_HOST_LL=0): one publication fence", trials, warmup, khz, side,
                    t);
        unsetenv("RK_CUDA_HOST_LL");
    }
    cudaStreamDestroy(side);
    free(t);
    return 0;
}
