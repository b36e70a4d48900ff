/* Where the time of an actor -> actor -> actor round trip goes.
 *
 * A diagnostic, not a benchmark to quote. Two actors ping-pong through their
 * K2K inboxes (as bench_gpu_roundtrip's "k2k actor<->actor"); device.cuh's
 * timing probes (RK_GPU_PROBE, RK_GPU_PROBE_PUT) timestamp, with each SM's
 * clock, the steps of every hop on the block that takes it:
 *   poll     start of the polling round .. the look that found the message
 *   take     .. the handler starts (decision, the block's barrier, the
 *            header's checks)
 *   handler  .. its send starts routing (the handler's own code, the send's
 *            barrier, the header)
 *   door     .. the receiver's door entered (one atomic)
 *   claim    .. a slot of its ring claimed (compare-and-swap)
 *   write    .. the message written and fenced
 *   leave    .. the handler returned (sequence word, door, barriers)
 *   loop     .. the next polling round starts
 * The clocks of two SMs do not agree, so the time between one block's
 * publication and the other's look is what is left of the round trip:
 *   flight = (round trip - both blocks' take .. write) / 2, per hop,
 * which holds the sequence word's way through L2 and the polling.
 *
 * First, what such steps are made of: a barrier after a store, a clock
 * read, a load, an atomic, a fence, timed alone in one block.
 *
 * With --cluster N the kernel runs in clusters of N blocks, the cluster tier
 * on (32 slots), and the two actors share a cluster: each hop goes through
 * the receiver's ring in shared memory (DSMEM); "claim" is then the claim of
 * a slot there, and "write" the message written and fenced at cluster scope.
 *
 * Usage: diag_k2k [--trips N] [--cluster N] */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringkernel/ringkernel.h"

/* ---- the probes ------------------------------------------------------------------------ */

#define DK_BLOCKS 64
#define DK_POINTS 16
#define DK_STEPS 8
__device__ unsigned long long dk_at[DK_BLOCKS][DK_POINTS];
__device__ unsigned long long dk_sum[DK_BLOCKS][DK_STEPS];
__device__ unsigned long long dk_count[DK_BLOCKS];
__device__ unsigned int dk_active[DK_BLOCKS];

/* The step that ends at each point, in order. */
static const char *const dk_steps[DK_STEPS] = {"poll", "take", "handler", "door", "claim", "write", "leave", "loop"};

/* Thread 0 of an actor block. A hop is counted from the round that found
 * a K2K message to the next round's start. */
static __device__ void dk_probe(int point)
{
    const unsigned b = blockIdx.x;
    unsigned long long t = clock64(), *at;
    if (b >= DK_BLOCKS || point >= DK_POINTS)
        return;
    at = dk_at[b];
    if (point == 0) { /* RK__PROBE_ROUND */
        if (dk_active[b]) {
            dk_sum[b][0] += at[10] - at[0];
            dk_sum[b][1] += at[11] - at[10];
            dk_sum[b][2] += at[12] - at[11];
            dk_sum[b][3] += at[13] - at[12];
            dk_sum[b][4] += at[14] - at[13];
            dk_sum[b][5] += at[15] - at[14];
            dk_sum[b][6] += at[5] - at[15];
            dk_sum[b][7] += t - at[5];
            dk_count[b]++;
            dk_active[b] = 0;
        }
        at[0] = t;
        return;
    }
    if (point == 10) /* RK__PROBE_K2K_SEEN */
        dk_active[b] = 1;
    at[point] = t;
}

#define RK_GPU_PROBE(c, point)                                                                       \
    do {                                                                                             \
        if ((c)->bound)                                                                              \
            dk_probe((int)(point));                                                                  \
    } while (0)
#define RK_GPU_PROBE_PUT(point) dk_probe((int)(point))
#include "ringkernel/device.cuh"

/* ---- the actors: bench_gpu_roundtrip's pinger ------------------------------------------------ */

#include "../gpu/k2k_pinger.cuh"

RK_GPU_PROGRAM(dk_program, pinger_actor);

/* ---- what the steps are made of -------------------------------------------------------------- */

/* One block of 128 threads; thread 0 does the pattern, then the block
 * meets at a barrier, n times: cycles per iteration. The words are in
 * device memory, each on its own line. */
enum {
    PM_BAR,
    PM_ST_BAR,
    PM_ST2_BAR,
    PM_TIMER_BAR,
    PM_LD,
    PM_LD_ACQ,
    PM_ATOM,
    PM_ST_ATOM,
    PM_ST_ATOM_RLX,
    PM_LD_ATOM,
    PM_CAS,
    PM_ST_CAS,
    PM_FENCE_ST,
    PM_LOCAL_ATOM,
    PM_CAS_ATOM,
    PM_CAS_ATOM_RLX,
    PM_MODES
};
static const char *const pm_names[PM_MODES] = {
    "barrier alone",
    "st.relaxed.gpu + barrier",
    "2 x st.relaxed.gpu + barrier",
    "%globaltimer + barrier",
    "ld.relaxed.gpu (used)",
    "ld.acquire.gpu (used)",
    "atom.acquire.gpu.add (used)",
    "st.relaxed.gpu, then atom.acquire.gpu.add",
    "st.relaxed.gpu, then atom.relaxed.gpu.add",
    "ld.relaxed.gpu, then atom.acquire (both used after)",
    "atom.relaxed.gpu.cas (used)",
    "st.relaxed.gpu, then atom.relaxed.gpu.cas",
    "st x 8 + fence.acq_rel.gpu",
    "atom.acquire, then 8 local loads (used)",
    "atom.relaxed cas, then atom.acquire add (both used)",
    "atom.relaxed cas, then atom.relaxed add (both used)",
};

__global__ void pm_kernel(unsigned long long *g, int mode, int n, unsigned long long *out)
{
    unsigned long long t0 = 0, acc = 0, sink = 0, v;
    volatile unsigned long long loc[8]; /* local memory */
    for (int k = 0; k < 8; k++)
        loc[k] = (unsigned long long)k + (unsigned long long)mode;
    for (int i = -8; i < n; i++) {
        if (i == 0)
            t0 = clock64();
        if (threadIdx.x == 0) {
            switch (mode) {
            case PM_ST_BAR:
                asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(g), "l"((unsigned long long)i) : "memory");
                break;
            case PM_ST2_BAR:
                asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(g), "l"((unsigned long long)i) : "memory");
                asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(g + 16), "l"((unsigned long long)i) : "memory");
                break;
            case PM_TIMER_BAR:
                asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(v));
                acc += v;
                break;
            case PM_LD:
                asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(g + 32) : "memory");
                acc += v;
                break;
            case PM_LD_ACQ:
                asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(g + 32) : "memory");
                acc += v;
                break;
            case PM_ATOM:
                asm volatile("atom.acquire.gpu.global.add.u64 %0, [%1], 1;" : "=l"(v) : "l"(g + 48) : "memory");
                acc += v;
                break;
            case PM_ST_ATOM:
                asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(g), "l"((unsigned long long)i) : "memory");
                asm volatile("atom.acquire.gpu.global.add.u64 %0, [%1], 1;" : "=l"(v) : "l"(g + 48) : "memory");
                acc += v;
                break;
            case PM_ST_ATOM_RLX:
                asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(g), "l"((unsigned long long)i) : "memory");
                asm volatile("atom.relaxed.gpu.global.add.u64 %0, [%1], 1;" : "=l"(v) : "l"(g + 48) : "memory");
                acc += v;
                break;
            case PM_ST_CAS: {
                unsigned long long want = acc;
                asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(g), "l"((unsigned long long)i) : "memory");
                asm volatile("atom.relaxed.gpu.global.cas.b64 %0, [%1], %2, %3;"
                             : "=l"(v)
                             : "l"(g + 64), "l"(want), "l"(want + 1)
                             : "memory");
                acc = v == want ? want + 1 : v;
                break;
            }
            case PM_LOCAL_ATOM:
                asm volatile("atom.acquire.gpu.global.add.u64 %0, [%1], 1;" : "=l"(v) : "l"(g + 48) : "memory");
                for (int k = 0; k < 8; k++)
                    acc += loc[k];
                acc += v;
                break;
            case PM_LD_ATOM: {
                unsigned long long w;
                asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(w) : "l"(g + 32) : "memory");
                asm volatile("atom.acquire.gpu.global.add.u64 %0, [%1], 1;" : "=l"(v) : "l"(g + 48) : "memory");
                acc += v + w;
                break;
            }
            case PM_CAS: {
                unsigned long long want = acc;
                asm volatile("atom.relaxed.gpu.global.cas.b64 %0, [%1], %2, %3;"
                             : "=l"(v)
                             : "l"(g + 64), "l"(want), "l"(want + 1)
                             : "memory");
                acc = v == want ? want + 1 : v;
                break;
            }
            case PM_CAS_ATOM:
            case PM_CAS_ATOM_RLX: {
                /* Two atomics on different lines, the second issued before
                 * the first's answer is used: do their round trips overlap?
                 * (A K2K put's claim ahead of the door was measured slower.) */
                unsigned long long want = acc, w;
                asm volatile("atom.relaxed.gpu.global.cas.b64 %0, [%1], %2, %3;"
                             : "=l"(w)
                             : "l"(g + 64), "l"(want), "l"(want + 1)
                             : "memory");
                if (mode == PM_CAS_ATOM)
                    asm volatile("atom.acquire.gpu.global.add.u64 %0, [%1], 1;" : "=l"(v) : "l"(g + 48) : "memory");
                else
                    asm volatile("atom.relaxed.gpu.global.add.u64 %0, [%1], 1;" : "=l"(v) : "l"(g + 48) : "memory");
                acc = w == want ? want + 1 : w;
                sink += v;
                break;
            }
            case PM_FENCE_ST:
                for (int k = 0; k < 8; k++)
                    asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(g + 80 + k), "l"((unsigned long long)i)
                                 : "memory");
                asm volatile("fence.acq_rel.gpu;" ::: "memory");
                break;
            default:
                break;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        out[0] = clock64() - t0;
        out[1] = acc + sink;
    }
}

static void fail(const char *what, rk_status st);

static void primitives(double ghz)
{
    unsigned long long *g, *out, host[2];
    const int n = 20000;
    if (cudaMalloc((void **)&g, 128 * 8) != cudaSuccess || cudaMalloc((void **)&out, 16) != cudaSuccess)
        fail("cudaMalloc", RK_ENOMEM);
    cudaMemset(g, 0, 128 * 8);
    printf("primitives (one block of 128 threads, thread 0 does it, then a barrier; ns per iteration):\n");
    for (int m = 0; m < PM_MODES; m++) {
        pm_kernel<<<1, 128>>>(g, m, n, out);
        if (cudaDeviceSynchronize() != cudaSuccess)
            fail("pm_kernel", RK_EDEVICE);
        cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost);
        if (m == PM_CAS || m == PM_ST_CAS || m == PM_CAS_ATOM || m == PM_CAS_ATOM_RLX)
            cudaMemset(g, 0, 128 * 8); /* its guess starts from 0 again */
        printf("  %-52s %8.1f\n", pm_names[m], (double)host[0] / n / ghz);
    }
    cudaFree(g);
    cudaFree(out);
}

/* ---- host ------------------------------------------------------------------------------- */

static void fail(const char *what, rk_status st)
{
    fprintf(stderr, "diag_k2k: %s: %s\n", what, rk_status_name(st));
    exit(1);
}

static rk_actor_id launch(rk_runtime *rt, const char *name, const rk_actor_type *type, rk_actor_id near)
{
    rk_actor_options o;
    rk_actor_id id;
    rk_status st;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = type;
    o.state_size = sizeof(pinger_state);
    o.near = near;
    if ((st = rk_launch(rt, &o, &id)) != RK_OK)
        fail("rk_launch", st);
    return id;
}

static uint32_t block_of(rk_runtime *rt, rk_actor_id id)
{
    rk_control c;
    rk_status st = rk_actor_control(rt, id, &c);
    if (st != RK_OK)
        fail("rk_actor_control", st);
    return c.block;
}

/* n round trips; returns their mean in ns (device clock). */
static double trips(rk_runtime *rt, rk_actor_id p, rk_actor_id q, unsigned long long n)
{
    pinger_start s;
    pinger_done d;
    rk_msgbuf mb;
    rk_status st;
    memset(&s, 0, sizeof s);
    s.peer = q;
    s.n = n;
    mb.data = &d;
    mb.capacity = sizeof d;
    if ((st = rk_send(rt, p, PINGER_START, &s, sizeof s)) != RK_OK)
        fail("rk_send", st);
    if ((st = rk_recv(rt, &mb, 60000000000ull)) != RK_OK)
        fail("rk_recv", st);
    return (double)d.ns / (double)d.n;
}

int main(int argc, char **argv)
{
    static unsigned long long sum[DK_BLOCKS][DK_STEPS], count[DK_BLOCKS];
    static unsigned long long zero_sum[DK_BLOCKS][DK_STEPS], zero_count[DK_BLOCKS]; /* all 0 */
    static unsigned int zero_active[DK_BLOCKS];
    unsigned long long n = 100000;
    unsigned cluster = 0;
    rk_actor_type type = {"pinger", NULL, NULL, 0};
    rk_runtime_options ro;
    rk_runtime *rt;
    rk_actor_id p, q;
    cudaStream_t side;
    rk_status st;
    double rt_ns, ghz, take_write = 0;
    int khz = 0, i, b, k;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--trips"))
            n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--cluster"))
            cluster = (unsigned)strtoul(argv[i + 1], NULL, 10);
    if (n < 100)
        n = 100;
    if (cudaGetDeviceCount(&i) != cudaSuccess || i == 0) {
        printf("diag_k2k: no CUDA device\n");
        return 77;
    }
    cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0);
    ghz = khz / 1e6;
    if (cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking) != cudaSuccess)
        fail("cudaStreamCreate", RK_EDEVICE);

    primitives(ghz); /* before the runtime's kernel occupies the GPU */

    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA;
    ro.max_actors = 4;
    ro.gpu_program = &dk_program;
    if (cluster > 1) {
        ro.cluster_size = cluster;
        ro.cluster_nonportable = cluster > 8;
        ro.max_actors = 12;
        setenv("RK_CUDA_CLUSTER_K2K_CAPACITY", "32", 1);
    }
    if ((st = rk_runtime_create(&rt, &ro)) != RK_OK)
        fail("rk_runtime_create", st);
    p = launch(rt, "ping", &type, RK_ACTOR_NONE);
    q = launch(rt, "pong", &type, cluster > 1 ? p : RK_ACTOR_NONE);
    /* Each next one beside the last until two share a cluster: the
     * supervisor's cluster may have no room for a second actor. */
    for (k = 0; cluster > 1 && block_of(rt, p) / cluster != block_of(rt, q) / cluster; k++) {
        if (k == 4)
            fail("two actors in one cluster", RK_EFULL);
        char name[16];
        snprintf(name, sizeof name, "pong%d", k + 1);
        p = q;
        q = launch(rt, name, &type, p);
    }
    (void)trips(rt, p, q, n / 10); /* warm-up */
    /* The probes are reset while nothing runs: between two runs. */
    cudaMemcpyToSymbolAsync(dk_sum, zero_sum, sizeof zero_sum, 0, cudaMemcpyHostToDevice, side);
    cudaMemcpyToSymbolAsync(dk_count, zero_count, sizeof zero_count, 0, cudaMemcpyHostToDevice, side);
    cudaMemcpyToSymbolAsync(dk_active, zero_active, sizeof zero_active, 0, cudaMemcpyHostToDevice, side);
    cudaStreamSynchronize(side);
    rt_ns = trips(rt, p, q, n);
    cudaMemcpyFromSymbolAsync(sum, dk_sum, sizeof sum, 0, cudaMemcpyDeviceToHost, side);
    cudaMemcpyFromSymbolAsync(count, dk_count, sizeof count, 0, cudaMemcpyDeviceToHost, side);
    cudaStreamSynchronize(side);

    printf("diag_k2k: %llu round trips%s, mean %.3f us (device clock); SM clock %.0f MHz (attribute); steps in ns\n",
           n, cluster > 1 ? ", cluster tier" : "", rt_ns / 1e3, khz / 1e3);
    if (cluster > 1)
        printf("clusters of %u blocks, the cluster tier's rings 32 slots\n", cluster);
    printf("%-6s %8s", "block", "hops");
    for (k = 0; k < DK_STEPS; k++)
        printf(" %8s", dk_steps[k]);
    printf("\n");
    for (b = 0; b < DK_BLOCKS; b++) {
        if (count[b] == 0)
            continue;
        printf("%-6d %8llu", b, count[b]);
        for (k = 0; k < DK_STEPS; k++) {
            double ns = (double)sum[b][k] / (double)count[b] / ghz;
            printf(" %8.1f", ns);
            if (k >= 1 && k <= 5)
                take_write += ns;
        }
        printf("\n");
    }
    printf("flight (publication .. the other block's look, per hop) = (round trip - take..write of both) / 2 = %.1f ns\n",
           (rt_ns - take_write) / 2);
    rk_runtime_destroy(rt);
    cudaStreamDestroy(side);
    return 0;
}
