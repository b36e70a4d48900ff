/* GPU round trip: a host thread sends a request, a GPU actor handles it, the
 * host sees the reply. Timed in one process on one device against what the
 * same work costs without the runtime:
 *
 *   pingpong/flag          host writes a flag in mapped memory, one GPU thread
 *                          polls it (volatile) and writes a flag back: the floor
 *   pingpong/flag+fence    the same with fence.sc.sys before the reply flag
 *   pingpong/msg64 *       a 56-byte request and reply next to the flags, the
 *                          request read after an acquire of its flag, the reply
 *                          published with fence.sc / fence.acq_rel / st.release:
 *                          what a ring slot costs without the runtime
 *   pingpong/msg64 LL reply  the same request, the reply in flag-per-word
 *                          words without a fence: the runtime's protocol
 *                          (ring.h, LL host queue) without the runtime
 *   pingpong/msg128 LL     128-byte request and reply, each 8-byte word 4 bytes
 *                          of message and a 4-byte flag: one read each way, no
 *                          fence (what a flag-per-word slot would cost)
 *   pingpong/flag, N pollers  the flag ping-pong polled by N warps whose
 *                          PCIe reads are spread over a read's round trip
 *   k2k floor/...          two blocks on two SMs ping-pong through device
 *                          memory: a flag, a 56-byte release/acquire message,
 *                          and the K2K ring protocol without the runtime;
 *                          on sm_90 also the message and the ring protocol
 *                          through DSMEM (two blocks of one cluster), and the
 *                          64 bytes as st.async into the peer's shared memory,
 *                          completed on its mbarrier (no fence)
 *   launch+sync            cudaLaunchKernel of a kernel doing that work, then
 *                          cudaStreamSynchronize
 *   graph+sync             the same launch replayed from a CUDA graph
 *   backend send+poll      the CUDA backend alone: its send op, then a spin on
 *                          the host ring (no routing, HLC, locks or waiting
 *                          policy of the core)
 *   rk_call                the runtime: request/reply with a 64-byte payload
 *   rk_send+rk_recv        the runtime: a message and the actor's answer
 *
 * Each host round trip starts after a pseudo-random pause of 0 to --jitter
 * ns (default 2000, not timed), so that requests land anywhere in the GPU's
 * polling loop: back to back, every trial of a row can land at the same
 * point of it for thousands of trials, and the medians of one build then
 * moved by a PCIe read (~0.8 us) from one process or row to the next, the
 * floors too (H200, 2026-12-03: docs/benchmarks/h200-session24-2026-12-03.md).
 * --jitter 0 turns the pause off.
 *
 * Each is timed per trial with CLOCK_MONOTONIC after a warm-up; the table
 * gives median, p99, mean and a 95% confidence interval of the median
 * (bootstrap, stats.h). Also: injection cost (host CPU time of one rk_send,
 * not a round trip), sustained throughput with its coefficient of
 * variation, the actor-to-actor round trip inside the kernel (also with the
 * host inbox of a K2K-busy actor polled once per ms; and, on sm_90, in
 * kernels of clusters of 2, 4, 8 and 16 blocks, between two actors of one
 * cluster through the cluster tier and through the global ring), and lifecycle
 * latencies. With --json PATH the raw samples, the ratios of the runtime's
 * round trip to the baselines and Welch's tests go to a JSON file
 * (bench_gpu.h) for bench/report.py. With --k2k 1 only the K2K rows run:
 * the K2K floors, the actor-to-actor round trip and the tiers (for A/B runs);
 * with --host-only 1 only the host's: the floors, rk_call, rk_send+rk_recv,
 * the backend's own, injection and plain slots.
 *
 * Usage: bench_gpu_roundtrip [--trials N] [--warmup N] [--seconds S] [--k2k 1] [--host-only 1] [--jitter NS]
 *                            [--json PATH] */
#include <cuda_runtime.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_gpu.h"
#include "core/runtime_internal.h" /* backend round trip: rt->ops, rt->host_ring */
#include "gpu/host_spin.h"
#include "k2k_pinger.cuh"
#include "ringkernel/device.cuh"
#include "ringkernel/ringkernel.h"

/* ---- the runtime's actors ------------------------------------------------------------ */

enum { B_ECHO = 1 };

typedef struct bench_none {
    uint64_t unused;
} bench_none;

static __device__ rk_status bench_echo(rk_dctx *c, bench_none *s, const rk_msg *m)
{
    (void)s;
    if (m->flags & RK_MSG_F_REQUEST)
        return rk_dreply(c, B_ECHO, rk_msg_payload(m), m->len);
    return rk_dsend_wait(c, RK_ACTOR_HOST, B_ECHO, rk_msg_payload(m), m->len, 10000000000ull);
}

RK_GPU_ACTOR(bench_echo_actor, bench_none, bench_echo);
RK_GPU_PROGRAM(bench_program, bench_echo_actor, pinger_actor);

/* ---- statistics --------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --jitter NS: before each timed host round trip, a busy wait of a
 * pseudo-random 0..NS ns, not timed (see the top of the file). */
static uint64_t g_jitter_ns;

static void jitter(void)
{
    static uint64_t x = 0x9e3779b97f4a7c15ull;
    uint64_t end;
    if (!g_jitter_ns)
        return;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    end = now_ns() + x % g_jitter_ns;
    while (now_ns() < end)
        ;
}

typedef struct result {
    char name[48];
    double median, p99, mean, lo, hi; /* microseconds */
    uint64_t n;
} result;

static result g_results[64];
static int g_nresults;
static rkb g_bench;              /* the JSON results (bench_gpu.h) */
static const char *g_phase = ""; /* suffix of the names in the JSON: the floors run twice */

/* What each row times, for the JSON file and the report. */
static const char *describe(const char *name)
{
    static const struct {
        const char *prefix, *text;
    } d[] = {
        {"pingpong/flag+fence.sc",
         "host writes a flag in mapped memory, one GPU thread polls it (volatile) and writes a "
         "flag back after fence.sc.sys"},
        {"pingpong/flag", "host writes a flag in mapped memory, one GPU thread polls it (volatile) and writes a flag "
                          "back, no fence: the platform floor"},
        {"pingpong/msg128 LL", "128-byte request and reply, each 8-byte word 4 bytes of message and a 4-byte flag: "
                               "one warp polls the whole request in one read, replies without a fence"},
        {"pingpong/msg64 LL reply", "56-byte request read after an acquire of its flag, 56-byte reply in flag-per-word "
                                    "words (4 bytes of message and a 4-byte flag each) and no fence: the runtime's "
                                    "host queue protocol without the runtime"},
        {"pingpong/msg64", "56-byte request read after an acquire of its flag, 56-byte reply published with the named "
                           "fence or release store: a ring slot without the runtime"},
        {"launch+sync", "cudaLaunchKernel of a kernel doing the same work, then cudaStreamSynchronize"},
        {"graph replay+sync", "the same kernel replayed from a CUDA graph, then cudaStreamSynchronize"},
        {"rk_call", "the runtime: rk_call request/reply with a 64-byte payload to a GPU echo actor"},
        {"rk_send+rk_recv", "the runtime: rk_send of 64 bytes, the actor's answer taken with rk_recv"},
        {"backend send+poll", "the CUDA backend alone: its send op, then a spin on the host ring"},
        {"injection", "host CPU time of one rk_send (bursts of 256, drained between bursts); not a round trip"},
        {"lifecycle: create", "rk_launch of a GPU actor in the running kernel, acknowledgement included"},
        {"lifecycle: restart", "rk_restart of a GPU actor in the running kernel, acknowledgement included"},
        {"lifecycle: terminate", "rk_terminate of a GPU actor in the running kernel, acknowledgement included"},
    };
    for (size_t i = 0; i < sizeof d / sizeof *d; i++)
        if (strncmp(name, d[i].prefix, strlen(d[i].prefix)) == 0)
            return d[i].text;
    return "";
}

static result *report(const char *name, uint64_t *v, uint64_t n)
{
    result *r;
    if (g_nresults == (int)(sizeof g_results / sizeof *g_results)) {
        fprintf(stderr, "bench_gpu_roundtrip: more rows than g_results holds\n");
        exit(1);
    }
    r = &g_results[g_nresults++];
    double *us = (double *)malloc(n * sizeof *us);
    char full[96];
    const rk_stats *st;
    uint64_t i;
    for (i = 0; i < n; i++)
        us[i] = (double)v[i] / 1e3;
    snprintf(full, sizeof full, "%s%s", name, g_phase);
    st = &rkb_record(&g_bench, full, "us", us, n, describe(name))->st;
    free(us);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->n = n;
    r->median = st->median;
    r->p99 = st->p99;
    r->mean = st->mean;
    r->lo = st->ci_lo;
    r->hi = st->ci_hi;
    printf("  %-28s n=%-7llu median %8.3f us  p99 %8.3f  mean %8.3f  CI95 [%.3f, %.3f]\n", r->name,
           (unsigned long long)n, r->median, r->p99, r->mean, r->lo, r->hi);
    fflush(stdout);
    return r;
}

/* ---- raw mapped-memory ping-pong ------------------------------------------------------------ */

enum { PP_FLAG, PP_FLAG_FENCE, PP_MSG_SC, PP_MSG_ACQREL, PP_MSG_RELEASE, PP_MSG_LL, PP_MODES };
static const char *pp_names[PP_MODES] = {"pingpong/flag",
                                         "pingpong/flag+fence.sc",
                                         "pingpong/msg64 fence.sc",
                                         "pingpong/msg64 fence.acq_rel",
                                         "pingpong/msg64 st.release",
                                         "pingpong/msg64 LL reply"};

/* One line each way: word 0 the sequence number, words 1..7 the payload.
 * PP_MSG_LL replies as the runtime's host queue does (ring.h, LL): words
 * 1..7 as 14 flag-per-word words from byte 16 on, then word 0, no fence. */
__global__ void pingpong_kernel(uint64_t *ping, uint64_t *pong, uint64_t n, int mode)
{
    uint64_t i, v, w[7];
    int k;
    if (threadIdx.x != 0)
        return;
    for (i = 1; i <= n; i++) {
        if (mode <= PP_FLAG_FENCE) {
            do
                v = *(volatile uint64_t *)ping;
            while (v != i);
        } else {
            do /* acquire: the payload read below is the one written before the flag */
                asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(ping) : "memory");
            while (v != i);
            for (k = 0; k < 7; k++)
                w[k] = ping[1 + k];
            if (mode == PP_MSG_LL)
                for (k = 0; k < 7; k++)
                    asm volatile("st.relaxed.sys.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(pong + 2 + 2 * k),
                                 "r"((uint32_t)(w[k] + 1)), "r"((uint32_t)i), "r"((uint32_t)((w[k] + 1) >> 32)),
                                 "r"((uint32_t)i)
                                 : "memory");
            else
                for (k = 0; k < 7; k++)
                    ((volatile uint64_t *)pong)[1 + k] = w[k] + 1;
        }
        if (mode == PP_FLAG_FENCE || mode == PP_MSG_SC)
            asm volatile("fence.sc.sys;" ::: "memory"); /* reply words before the flag */
        else if (mode == PP_MSG_ACQREL)
            asm volatile("fence.acq_rel.sys;" ::: "memory"); /* reply words before the flag */
        if (mode == PP_MSG_RELEASE)
            asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(pong), "l"(i) : "memory");
        else
            *(volatile uint64_t *)pong = i;
    }
}

static void pingpong(int mode, uint64_t trials, uint64_t warmup)
{
    uint64_t *ping, *pong, *dping, *dpong, *t = (uint64_t *)malloc(trials * 8), i, total = trials + warmup;
    cudaStream_t s;
    RKB_CUDA(cudaHostAlloc((void **)&ping, 128, cudaHostAllocMapped));
    RKB_CUDA(cudaHostAlloc((void **)&pong, 256, cudaHostAllocMapped));
    memset(ping, 0, 128);
    memset(pong, 0, 256);
    RKB_CUDA(cudaHostGetDevicePointer((void **)&dping, ping, 0));
    RKB_CUDA(cudaHostGetDevicePointer((void **)&dpong, pong, 0));
    RKB_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    pingpong_kernel<<<1, 32, 0, s>>>(dping, dpong, total, mode);
    RKB_CUDA(cudaGetLastError());
    for (i = 1; i <= total; i++) {
        jitter();
        uint64_t t0 = now_ns(), spins = 0;
        if (mode > PP_FLAG_FENCE) {
            int k;
            for (k = 1; k < 8; k++)
                ping[k] = i * 8 + (uint64_t)k;
        }
        __atomic_store_n(&ping[0], i, __ATOMIC_RELEASE);
        while (__atomic_load_n(&pong[0], __ATOMIC_ACQUIRE) != i) {
            if (++spins > 4000000000ull) {
                fprintf(stderr, "pingpong: no answer\n");
                exit(1);
            }
        }
        if (mode == PP_MSG_LL) /* every word carries the flag: the reply is all there */
            for (int k = 0; k < 14; k++)
                while ((uint32_t)(__atomic_load_n(&pong[2 + k], __ATOMIC_RELAXED) >> 32) != (uint32_t)i)
                    if (++spins > 4000000000ull) {
                        fprintf(stderr, "pingpong: reply incomplete\n");
                        exit(1);
                    }
        if (i > warmup)
            t[i - warmup - 1] = now_ns() - t0;
        if (mode == PP_MSG_LL ? (uint32_t)pong[2] != (uint32_t)(i * 8 + 2) : mode > PP_FLAG_FENCE && pong[1] != i * 8 + 2) {
            fprintf(stderr, "pingpong: wrong reply\n");
            exit(1);
        }
    }
    RKB_CUDA(cudaStreamSynchronize(s));
    report(pp_names[mode], t, trials);
    RKB_CUDA(cudaStreamDestroy(s));
    RKB_CUDA(cudaFreeHost(ping));
    RKB_CUDA(cudaFreeHost(pong));
    free(t);
}

/* The same round trip with flag-per-word ("LL") messages: 128 bytes each way,
 * every 8-byte word carries 4 bytes of message and a 4-byte flag (the trial
 * number), so a reader that sees every flag has the whole message without
 * a second read or a fence - 8-byte stores and loads are single-copy atomic
 * on both sides. One warp: 16 lanes load or store 16 bytes each. */
#define LL_WORDS 32 /* 128 bytes of message in 256 bytes of slot */
__global__ void pingpong_ll_kernel(uint64_t *ping, uint64_t *pong, uint64_t n)
{
    const uint32_t lane = threadIdx.x;
    uint64_t i;
    if (lane >= 16)
        return;
    for (i = 1; i <= n; i++) {
        uint4 v;
        do {
            asm volatile("ld.relaxed.sys.global.v4.u32 {%0, %1, %2, %3}, [%4];"
                         : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                         : "l"(ping + 2 * lane)
                         : "memory");
        } while (!__all_sync(0xffffu, v.y == (uint32_t)i && v.w == (uint32_t)i));
        asm volatile("st.relaxed.sys.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(pong + 2 * lane), "r"(v.x + 1u),
                     "r"((uint32_t)i), "r"(v.z + 1u), "r"((uint32_t)i)
                     : "memory");
    }
}

static void pingpong_ll(uint64_t trials, uint64_t warmup)
{
    uint64_t *ping, *pong, *dping, *dpong, *t = (uint64_t *)malloc(trials * 8), i, total = trials + warmup;
    cudaStream_t s;
    RKB_CUDA(cudaHostAlloc((void **)&ping, 8 * LL_WORDS, cudaHostAllocMapped));
    RKB_CUDA(cudaHostAlloc((void **)&pong, 8 * LL_WORDS, cudaHostAllocMapped));
    memset(ping, 0, 8 * LL_WORDS);
    memset(pong, 0, 8 * LL_WORDS);
    RKB_CUDA(cudaHostGetDevicePointer((void **)&dping, ping, 0));
    RKB_CUDA(cudaHostGetDevicePointer((void **)&dpong, pong, 0));
    RKB_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    pingpong_ll_kernel<<<1, 32, 0, s>>>(dping, dpong, total);
    RKB_CUDA(cudaGetLastError());
    for (i = 1; i <= total; i++) {
        jitter();
        uint64_t t0 = now_ns(), spins = 0;
        int k, done;
        for (k = 0; k < LL_WORDS; k++)
            __atomic_store_n(&ping[k], (i << 32) | (uint32_t)(i * 64 + (uint64_t)k), __ATOMIC_RELAXED);
        do {
            done = 1;
            for (k = 0; k < LL_WORDS && done; k++)
                done = (uint32_t)(__atomic_load_n(&pong[k], __ATOMIC_RELAXED) >> 32) == (uint32_t)i;
            if (++spins > 4000000000ull) {
                fprintf(stderr, "pingpong ll: no answer\n");
                exit(1);
            }
        } while (!done);
        if (i > warmup)
            t[i - warmup - 1] = now_ns() - t0;
        for (k = 0; k < LL_WORDS; k++)
            if ((uint32_t)pong[k] != (uint32_t)(i * 64 + (uint64_t)k + 1)) {
                fprintf(stderr, "pingpong ll: wrong reply\n");
                exit(1);
            }
    }
    RKB_CUDA(cudaStreamSynchronize(s));
    report("pingpong/msg128 LL", t, trials);
    RKB_CUDA(cudaStreamDestroy(s));
    RKB_CUDA(cudaFreeHost(ping));
    RKB_CUDA(cudaFreeHost(pong));
    free(t);
}

/* The flag ping-pong with several pollers: lane 0 of each of `pollers`
 * warps polls the flag, warp w starting w * stagger_ns after warp 0, so
 * their PCIe reads are spread over the read's round trip instead of one
 * read at a time; whichever sees the flag first answers (a shared-memory
 * CAS on the last trial answered). A floor for polling the host's inbox
 * from more than one thread. */
__global__ void pingpong_multi_kernel(uint64_t *ping, uint64_t *pong, uint64_t n, uint32_t stagger_ns)
{
    __shared__ unsigned long long answered;
    const uint32_t w = threadIdx.x / 32;
    uint64_t i, v, t0, t;
    if (threadIdx.x == 0)
        answered = 0;
    __syncthreads();
    if (threadIdx.x % 32)
        return;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    while (t - t0 < (uint64_t)w * stagger_ns);
    for (i = 1; i <= n; i++) {
        do
            v = *(volatile uint64_t *)ping;
        while (v < i);
        if (atomicCAS(&answered, (unsigned long long)(i - 1), (unsigned long long)i) == i - 1)
            *(volatile uint64_t *)pong = i;
    }
}

static void pingpong_multi(uint32_t pollers, uint32_t stagger_ns, uint64_t trials, uint64_t warmup)
{
    uint64_t *ping, *pong, *dping, *dpong, *t = (uint64_t *)malloc(trials * 8), i, total = trials + warmup;
    char name[48];
    cudaStream_t s;
    RKB_CUDA(cudaHostAlloc((void **)&ping, 128, cudaHostAllocMapped));
    RKB_CUDA(cudaHostAlloc((void **)&pong, 128, cudaHostAllocMapped));
    memset(ping, 0, 128);
    memset(pong, 0, 128);
    RKB_CUDA(cudaHostGetDevicePointer((void **)&dping, ping, 0));
    RKB_CUDA(cudaHostGetDevicePointer((void **)&dpong, pong, 0));
    RKB_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    pingpong_multi_kernel<<<1, 32 * pollers, 0, s>>>(dping, dpong, total, stagger_ns);
    RKB_CUDA(cudaGetLastError());
    for (i = 1; i <= total; i++) {
        jitter();
        uint64_t t0 = now_ns(), spins = 0;
        __atomic_store_n(&ping[0], i, __ATOMIC_RELEASE);
        while (__atomic_load_n(&pong[0], __ATOMIC_ACQUIRE) != i)
            if (++spins > 4000000000ull) {
                fprintf(stderr, "pingpong multi: no answer\n");
                exit(1);
            }
        if (i > warmup)
            t[i - warmup - 1] = now_ns() - t0;
    }
    RKB_CUDA(cudaStreamSynchronize(s));
    snprintf(name, sizeof name, "pingpong/flag, %u pollers", pollers);
    report(name, t, trials);
    RKB_CUDA(cudaStreamDestroy(s));
    RKB_CUDA(cudaFreeHost(ping));
    RKB_CUDA(cudaFreeHost(pong));
    free(t);
}

/* ---- actor-to-actor floors inside one kernel ------------------------------------------------- */

/* Two blocks (on two SMs), thread 0 of each, ping-pong through device memory:
 *   flag  a relaxed store of the trip number, polled with relaxed loads
 *   msg   a 56-byte message before the flag: st.release / ld.acquire (.gpu)
 *   ring  the runtime's K2K ring protocol without the runtime: claim a slot
 *         with a CAS on the receiver's tail, write 64 bytes, fence.acq_rel.gpu,
 *         store the slot's sequence word; the receiver polls it relaxed, fences,
 *         reads, and releases its head
 *   ll ring      the same claim, the 64 bytes written flag per word (LL: 4
 *         bytes and the position's flag in each 8-byte word, 16 words) with
 *         no fence; the receiver loads the 16 words together, relaxed, until
 *         every flag is its position's, then releases its head
 *   ll spsc      the LL ring with one producer: no CAS, the consumer's head
 *         read only when the producer's copy says the ring (4 slots) is full
 * Block 0 times n round trips with %globaltimer. */
enum { KF_FLAG, KF_MSG, KF_RING, KF_LL, KF_LL_SPSC, KF_MODES };
static const char *kf_names[KF_MODES] = {"k2k floor/flag", "k2k floor/msg64 release", "k2k floor/ring",
                                         "k2k floor/ll ring", "k2k floor/ll spsc"};
/* The same message and ring protocols through DSMEM: the two blocks form a
 * cluster, each side's words are in its own shared memory, and the peer's
 * are reached through mapa at cluster scope. */
enum { KD_MSG, KD_RING, KD_ASYNC, KD_MODES };
static const char *kd_names[KD_MODES] = {"k2k floor/dsmem msg64 release", "k2k floor/dsmem ring",
                                         "k2k floor/dsmem st.async"};

typedef struct kf_side {
    unsigned long long tail; /* ring: producers' claim word */
    unsigned long long head; /* ring: the consumer's head */
    unsigned long long pad[14];
    unsigned long long slot[2][8]; /* ring: two slots of 64 bytes; flag/msg: slot[0] */
    unsigned long long ll[4][16];  /* ll: four slots of 64 bytes, flag per word */
} kf_side;

#define KF_LL_SLOTS 4ull

static __device__ __forceinline__ unsigned long long kf_ld(const unsigned long long *p)
{
    unsigned long long v;
    asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

static __device__ __forceinline__ void kf_st(unsigned long long *p, unsigned long long v)
{
    asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

/* Sends trip i to `to`; `head` is the producer's copy of the consumer's
 * head (ll spsc). */
static __device__ void kf_send(kf_side *to, unsigned long long i, int mode, unsigned long long *head_copy)
{
    int k;
    if (mode == KF_LL || mode == KF_LL_SPSC) {
        unsigned long long pos = i - 1;
        if (mode == KF_LL) {
            pos = kf_ld(&to->tail);
            for (;;) {
                const unsigned long long head = kf_ld(&to->head);
                if (pos - head < KF_LL_SLOTS && atomicCAS(&to->tail, pos, pos + 1) == pos)
                    break;
                pos = kf_ld(&to->tail);
            }
        } else {
            while (pos - *head_copy >= KF_LL_SLOTS)
                asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(*head_copy) : "l"(&to->head) : "memory");
        }
        for (k = 0; k < 16; k++)
            kf_st(&to->ll[pos % KF_LL_SLOTS][k], (pos + 1) << 32 | (unsigned)(i + (unsigned long long)k));
        return;
    }
    if (mode == KF_FLAG) {
        kf_st(&to->slot[0][0], i);
    } else if (mode == KF_MSG) {
        for (k = 1; k < 8; k++)
            kf_st(&to->slot[0][k], i + (unsigned long long)k);
        asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(&to->slot[0][0]), "l"(i) : "memory");
    } else {
        unsigned long long pos = kf_ld(&to->tail), head;
        for (;;) {
            head = kf_ld(&to->head);
            if (pos - head < 2 && atomicCAS(&to->tail, pos, pos + 1) == pos)
                break;
            pos = kf_ld(&to->tail);
        }
        for (k = 1; k < 8; k++)
            kf_st(&to->slot[pos % 2][k], i + (unsigned long long)k);
        asm volatile("fence.acq_rel.gpu;" ::: "memory");
        kf_st(&to->slot[pos % 2][0], pos + 1);
    }
}

/* Waits for trip i in `me`; returns a word of the message. */
static __device__ unsigned long long kf_recv(kf_side *me, unsigned long long i, int mode)
{
    unsigned long long v, w = 0;
    int k;
    if (mode == KF_FLAG) {
        while (kf_ld(&me->slot[0][0]) != i)
            ;
        return i;
    }
    if (mode == KF_MSG) {
        do
            asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(&me->slot[0][0]) : "memory");
        while (v != i);
        for (k = 1; k < 8; k++)
            w += kf_ld(&me->slot[0][k]);
        return w;
    }
    if (mode == KF_LL || mode == KF_LL_SPSC) {
        const unsigned long long *slot = me->ll[(i - 1) % KF_LL_SLOTS];
        unsigned long long word[16];
        int ok;
        do {
            for (k = 0; k < 16; k++)
                word[k] = kf_ld(&slot[k]);
            ok = 1;
            for (k = 0; k < 16; k++)
                ok &= (unsigned)(word[k] >> 32) == (unsigned)i;
        } while (!ok);
        for (k = 0; k < 16; k++)
            w += (unsigned)word[k];
        asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(&me->head), "l"(i) : "memory");
        return w;
    }
    /* ring: position i - 1 */
    while (kf_ld(&me->slot[(i - 1) % 2][0]) != i)
        ;
    asm volatile("fence.acq_rel.gpu;" ::: "memory");
    for (k = 1; k < 8; k++)
        w += kf_ld(&me->slot[(i - 1) % 2][k]);
    asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(&me->head), "l"(i) : "memory");
    return w;
}

__global__ void k2k_floor_kernel(kf_side *sides, unsigned long long n, int mode, unsigned long long *out)
{
    unsigned long long i, t0, t1, sum = 0, head_copy = 0;
    kf_side *me = &sides[blockIdx.x], *peer = &sides[1 - blockIdx.x];
    if (threadIdx.x != 0)
        return;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    for (i = 1; i <= n; i++) {
        if (blockIdx.x == 0) {
            kf_send(peer, i, mode, &head_copy);
            sum += kf_recv(me, i, mode);
        } else {
            sum += kf_recv(me, i, mode);
            kf_send(peer, i, mode, &head_copy);
        }
    }
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
    if (blockIdx.x == 0) {
        out[0] = t1 - t0;
        out[1] = sum;
    }
}

static void k2k_floors(uint64_t n)
{
    kf_side *sides;
    unsigned long long *out, host[2];
    int mode, rep;
    RKB_CUDA(cudaMalloc((void **)&sides, 2 * sizeof(kf_side)));
    RKB_CUDA(cudaMalloc((void **)&out, 2 * sizeof *out));
    for (mode = 0; mode < KF_MODES; mode++) {
        double per_trip[3];
        for (rep = 0; rep < 3; rep++) {
            RKB_CUDA(cudaMemset(sides, 0, 2 * sizeof(kf_side)));
            /* 160 KB of shared memory per block keeps the two blocks on two SMs. */
            RKB_CUDA(cudaFuncSetAttribute(k2k_floor_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 160 << 10));
            k2k_floor_kernel<<<2, 32, 160 << 10>>>(sides, n, mode, out);
            RKB_CUDA(cudaDeviceSynchronize());
            RKB_CUDA(cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost));
            per_trip[rep] = (double)host[0] / 1e3 / (double)n;
        }
        printf("  %-28s n=%-7llu mean %8.3f us per round trip (device clock)\n", kf_names[mode], (unsigned long long)n,
               per_trip[2]);
        rkb_record(&g_bench, kf_names[mode], "us", per_trip, 3,
                   "each sample: mean round trip over n trips between thread 0 of two blocks on two SMs, "
                   "%globaltimer, no runtime");
    }
    RKB_CUDA(cudaFree(sides));
    RKB_CUDA(cudaFree(out));
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define KD_BODY 0 /* DSMEM needs sm_90 */
#else
#define KD_BODY 1
#endif

#if KD_BODY
static __device__ __forceinline__ unsigned long long kd_ld(const unsigned long long *p)
{
    unsigned long long v;
    asm volatile("ld.relaxed.cluster.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

static __device__ __forceinline__ void kd_st(unsigned long long *p, unsigned long long v)
{
    asm volatile("st.relaxed.cluster.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

static __device__ void kd_send(kf_side *to, unsigned long long i, int mode)
{
    int k;
    if (mode == KD_MSG) {
        for (k = 1; k < 8; k++)
            kd_st(&to->slot[0][k], i + (unsigned long long)k);
        asm volatile("st.release.cluster.u64 [%0], %1;" ::"l"(&to->slot[0][0]), "l"(i) : "memory");
    } else {
        unsigned long long pos = kd_ld(&to->tail), head, got;
        for (;;) {
            head = kd_ld(&to->head);
            if (pos - head < 2) {
                asm volatile("atom.relaxed.cluster.cas.b64 %0, [%1], %2, %3;"
                             : "=l"(got)
                             : "l"(&to->tail), "l"(pos), "l"(pos + 1)
                             : "memory");
                if (got == pos)
                    break;
            }
            pos = kd_ld(&to->tail);
        }
        for (k = 1; k < 8; k++)
            kd_st(&to->slot[pos % 2][k], i + (unsigned long long)k);
        asm volatile("fence.acq_rel.cluster;" ::: "memory");
        kd_st(&to->slot[pos % 2][0], pos + 1);
    }
}

/* KD_ASYNC: the 64 bytes go as four 16-byte st.async into the peer's
 * buffer, each completing its bytes on the peer's mbarrier; no fence. The
 * receiver arms its mbarrier for the next message (one arrival, 64 bytes
 * expected; bytes that land first leave the count below zero until then)
 * and waits for the phase to complete, which makes the bytes visible (its
 * arrive and wait at cluster scope: the bytes come from the other block).
 * The addresses are shared::cluster ones (32 bits), from mapa. */
static __device__ void kd_async_send(uint32_t buf, uint32_t bar, unsigned long long i)
{
    int k;
    for (k = 0; k < 8; k += 2)
        asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.v2.u64 [%0], {%1, %2}, [%3];" ::"r"(
                         buf + 8u * (uint32_t)k),
                     "l"(i + (unsigned long long)k), "l"(i + (unsigned long long)k + 1), "r"(bar)
                     : "memory");
}

static __device__ unsigned long long kd_async_recv(const unsigned long long *buf, uint32_t bar,
                                                   unsigned long long i)
{
    unsigned long long w = 0;
    uint32_t done = 0;
    int k;
    asm volatile("{\n\t.reg .b64 state;\n\t"
                 "mbarrier.arrive.expect_tx.release.cluster.shared::cta.b64 state, [%0], 64;\n\t}" ::"r"(bar)
                 : "memory");
    while (!done)
        asm volatile("{\n\t.reg .pred p;\n\t"
                     "mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%1], %2;\n\t"
                     "selp.u32 %0, 1, 0, p;\n\t}"
                     : "=r"(done)
                     : "r"(bar), "r"((uint32_t)((i - 1) & 1))
                     : "memory");
    for (k = 0; k < 8; k++)
        w += buf[k];
    return w;
}

static __device__ unsigned long long kd_recv(kf_side *me, unsigned long long i, int mode)
{
    unsigned long long v, w = 0;
    int k;
    const int s = mode == KD_MSG ? 0 : (int)((i - 1) % 2);
    do
        asm volatile("ld.acquire.cluster.u64 %0, [%1];" : "=l"(v) : "l"(&me->slot[s][0]) : "memory");
    while (v != i);
    for (k = 1; k < 8; k++)
        w += kd_ld(&me->slot[s][k]);
    if (mode == KD_RING)
        asm volatile("st.release.cluster.u64 [%0], %1;" ::"l"(&me->head), "l"(i) : "memory");
    return w;
}
#endif

__global__ void k2k_dsmem_floor_kernel(unsigned long long n, int mode, unsigned long long *out)
{
#if KD_BODY
    __shared__ kf_side mine;
    __shared__ __align__(16) unsigned long long abuf[8];
    __shared__ __align__(8) unsigned long long abar;
    unsigned long long i, t0, t1, sum = 0, peer_addr;
    unsigned int rank;
    uint32_t peer_buf, peer_bar;
    const uint32_t my_bar = (uint32_t)__cvta_generic_to_shared(&abar);
    kf_side *peer;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
    if (threadIdx.x == 0) {
        memset(&mine, 0, sizeof mine);
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(my_bar) : "memory");
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    /* Both sides zeroed before either writes the other's. */
    asm volatile("barrier.cluster.arrive;\n\tbarrier.cluster.wait;" ::: "memory");
    asm volatile("mapa.u64 %0, %1, %2;" : "=l"(peer_addr) : "l"((unsigned long long)(uintptr_t)&mine), "r"(1u - rank));
    peer = (kf_side *)(uintptr_t)peer_addr;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;"
                 : "=r"(peer_buf)
                 : "r"((uint32_t)__cvta_generic_to_shared(abuf)), "r"(1u - rank));
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(peer_bar) : "r"(my_bar), "r"(1u - rank));
    if (threadIdx.x == 0 && mode == KD_ASYNC) {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
        for (i = 1; i <= n; i++) {
            if (rank == 0) {
                kd_async_send(peer_buf, peer_bar, i);
                sum += kd_async_recv(abuf, my_bar, i);
            } else {
                sum += kd_async_recv(abuf, my_bar, i);
                kd_async_send(peer_buf, peer_bar, i);
            }
        }
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
        if (rank == 0) {
            out[0] = t1 - t0;
            out[1] = sum;
        }
    } else if (threadIdx.x == 0) {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
        for (i = 1; i <= n; i++) {
            if (rank == 0) {
                kd_send(peer, i, mode);
                sum += kd_recv(&mine, i, mode);
            } else {
                sum += kd_recv(&mine, i, mode);
                kd_send(peer, i, mode);
            }
        }
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
        if (rank == 0) {
            out[0] = t1 - t0;
            out[1] = sum;
        }
    }
    /* Neither leaves while the other may still write its shared memory. */
    asm volatile("barrier.cluster.arrive;\n\tbarrier.cluster.wait;" ::: "memory");
#else
    (void)n;
    (void)mode;
    (void)out;
#endif
}

/* On sm_90 and later only. The two blocks of the cluster sit on two SMs
 * (160 KB of shared memory each). */
static void k2k_dsmem_floors(uint64_t n, const struct cudaDeviceProp *prop)
{
    unsigned long long *out, host[2];
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute attr = {};
    int mode, rep;
    if (prop->major < 9) {
        printf("  %-28s sm_%d%d: no clusters\n", "k2k floor/dsmem", prop->major, prop->minor);
        return;
    }
    RKB_CUDA(cudaMalloc((void **)&out, 2 * sizeof *out));
    RKB_CUDA(cudaFuncSetAttribute(k2k_dsmem_floor_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 160 << 10));
    cfg.gridDim = dim3(2, 1, 1);
    cfg.blockDim = dim3(32, 1, 1);
    cfg.dynamicSmemBytes = 160 << 10;
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = 2;
    attr.val.clusterDim.y = 1;
    attr.val.clusterDim.z = 1;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    for (mode = 0; mode < KD_MODES; mode++) {
        double per_trip[3];
        for (rep = 0; rep < 3; rep++) {
            RKB_CUDA(cudaLaunchKernelEx(&cfg, k2k_dsmem_floor_kernel, (unsigned long long)n, mode, out));
            RKB_CUDA(cudaDeviceSynchronize());
            RKB_CUDA(cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost));
            per_trip[rep] = (double)host[0] / 1e3 / (double)n;
            /* Message i carries i..i+7: what block 0 read must add up. */
            if (mode == KD_ASYNC && host[1] != 4ull * n * (n + 1) + 28ull * n) {
                fprintf(stderr, "%s: wrong bytes received\n", kd_names[mode]);
                exit(1);
            }
        }
        printf("  %-28s n=%-7llu mean %8.3f us per round trip (device clock)\n", kd_names[mode], (unsigned long long)n,
               per_trip[2]);
        rkb_record(&g_bench, kd_names[mode], "us", per_trip, 3,
                   "each sample: mean round trip over n trips between thread 0 of the two blocks of a cluster "
                   "(two SMs) through DSMEM, %globaltimer, no runtime");
    }
    RKB_CUDA(cudaFree(out));
}

/* ---- launch and graph baselines --------------------------------------------------------------- */

__global__ void echo_kernel(const uint64_t *req, uint64_t *rep)
{
    if (threadIdx.x < 8)
        rep[threadIdx.x] = req[threadIdx.x] + 1;
}

static void launches(uint64_t trials, uint64_t warmup, int graph)
{
    uint64_t *req, *rep, *dreq, *drep, *t = (uint64_t *)malloc(trials * 8), i;
    cudaStream_t s;
    cudaGraph_t g;
    cudaGraphExec_t ge;
    RKB_CUDA(cudaHostAlloc((void **)&req, 128, cudaHostAllocMapped));
    RKB_CUDA(cudaHostAlloc((void **)&rep, 128, cudaHostAllocMapped));
    RKB_CUDA(cudaHostGetDevicePointer((void **)&dreq, req, 0));
    RKB_CUDA(cudaHostGetDevicePointer((void **)&drep, rep, 0));
    RKB_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    if (graph) {
        RKB_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
        echo_kernel<<<1, 32, 0, s>>>(dreq, drep);
        RKB_CUDA(cudaStreamEndCapture(s, &g));
        RKB_CUDA(cudaGraphInstantiate(&ge, g, 0));
    }
    for (i = 0; i < trials + warmup; i++) {
        jitter();
        uint64_t t0 = now_ns();
        req[0] = i;
        if (graph)
            RKB_CUDA(cudaGraphLaunch(ge, s));
        else
            echo_kernel<<<1, 32, 0, s>>>(dreq, drep);
        RKB_CUDA(cudaStreamSynchronize(s));
        if (((volatile uint64_t *)rep)[0] != i + 1) {
            fprintf(stderr, "launch: wrong reply\n");
            exit(1);
        }
        if (i >= warmup)
            t[i - warmup] = now_ns() - t0;
    }
    report(graph ? "graph replay+sync" : "launch+sync", t, trials);
    if (graph) {
        RKB_CUDA(cudaGraphExecDestroy(ge));
        RKB_CUDA(cudaGraphDestroy(g));
    }
    RKB_CUDA(cudaStreamDestroy(s));
    RKB_CUDA(cudaFreeHost(req));
    RKB_CUDA(cudaFreeHost(rep));
    free(t);
}

/* ---- the runtime --------------------------------------------------------------------------------- */

static rk_runtime *runtime(uint32_t max_actors)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CUDA;
    o.max_actors = max_actors;
    o.gpu_program = &bench_program;
    RKB_RK(rk_runtime_create(&rt, &o));
    return rt;
}

static const rk_actor_type echo_type = {"echo", NULL, NULL, 0};
static const rk_actor_type pinger_type = {"pinger", NULL, NULL, 1};

static rk_actor_id launch(rk_runtime *rt, const char *name, const rk_actor_type *t)
{
    rk_actor_options o;
    rk_actor_id id;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = t;
    RKB_RK(rk_launch(rt, &o, &id));
    return id;
}

static result *ours_call(rk_runtime *rt, rk_actor_id a, const char *name, uint64_t trials, uint64_t warmup)
{
    uint64_t *t = (uint64_t *)malloc(trials * 8), i, req[8], rep[8];
    rk_msgbuf mb;
    result *r;
    mb.data = rep;
    mb.capacity = sizeof rep;
    for (i = 0; i < trials + warmup; i++) {
        jitter();
        uint64_t t0 = now_ns();
        req[0] = i;
        RKB_RK(rk_call(rt, a, B_ECHO, req, sizeof req, &mb, 5000000000ull));
        if (i >= warmup)
            t[i - warmup] = now_ns() - t0;
        if (rep[0] != i) {
            fprintf(stderr, "rk_call: wrong reply\n");
            exit(1);
        }
    }
    r = report(name, t, trials);
    free(t);
    return r;
}

/* The backend's own round trip: ops->send, then spin on the host ring as
 * the core's consumer would (single-threaded: nothing else consumes). */
static void ours_backend(rk_runtime *rt, rk_actor_id id, uint64_t trials, uint64_t warmup, const char *name)
{
    uint64_t *t = (uint64_t *)malloc(trials * 8), i, req[8], rep[8];
    rk__actor *a = &rt->actors[id];
    for (i = 0; i < trials + warmup; i++) {
        const rk_msg *m;
        rk_msg h;
        jitter();
        uint64_t t0 = now_ns();
        memset(&h, 0, sizeof h);
        h.type = B_ECHO;
        h.src = RK_ACTOR_HOST;
        h.dst = id;
        h.tenant = a->tenant;
        h.len = sizeof req;
        req[0] = i;
        RKB_RK(rt->ops->send(rt, a, &h, req));
        if ((m = rkb_host_next(rt, 4000000000ull)) == NULL) {
            fprintf(stderr, "backend: no answer\n");
            exit(1);
        }
        memcpy(rep, rk_msg_payload(m), sizeof rep);
        rkb_host_pop(rt);
        if (i >= warmup)
            t[i - warmup] = now_ns() - t0;
        if (rep[0] != i) {
            fprintf(stderr, "backend: wrong reply\n");
            exit(1);
        }
    }
    report(name, t, trials);
    free(t);
}

static void ours_send_recv(rk_runtime *rt, rk_actor_id a, uint64_t trials, uint64_t warmup)
{
    uint64_t *t = (uint64_t *)malloc(trials * 8), i, req[8], rep[8];
    rk_msgbuf mb;
    mb.data = rep;
    mb.capacity = sizeof rep;
    for (i = 0; i < trials + warmup; i++) {
        jitter();
        uint64_t t0 = now_ns();
        req[0] = i;
        RKB_RK(rk_send(rt, a, B_ECHO, req, sizeof req));
        RKB_RK(rk_recv(rt, &mb, 5000000000ull));
        if (i >= warmup)
            t[i - warmup] = now_ns() - t0;
    }
    report("rk_send+rk_recv 64B", t, trials);
    free(t);
}

/* Host CPU time of one rk_send (bursts of 256, drained between bursts). */
static void ours_injection(rk_runtime *rt, rk_actor_id a, uint64_t trials, const char *name)
{
    uint64_t *t = (uint64_t *)malloc(trials * 8), i = 0, req[8] = {0}, rep[8];
    rk_msgbuf mb;
    mb.data = rep;
    mb.capacity = sizeof rep;
    while (i < trials) {
        uint64_t k, burst = trials - i < 256 ? trials - i : 256;
        for (k = 0; k < burst; k++) {
            uint64_t t0 = now_ns();
            RKB_RK(rk_send(rt, a, B_ECHO, req, sizeof req));
            t[i + k] = now_ns() - t0;
        }
        for (k = 0; k < burst; k++)
            RKB_RK(rk_recv(rt, &mb, 5000000000ull));
        i += burst;
    }
    report(name, t, trials);
    free(t);
}

typedef struct thr_arg {
    rk_runtime *rt;
    rk_actor_id a;
    volatile int *stop;
    uint64_t sent;
} thr_arg;

static void *thr_send(void *p)
{
    thr_arg *x = (thr_arg *)p;
    uint64_t req[2] = {0, 0};
    while (!*x->stop) {
        rk_status st = rk_send(x->rt, x->a, B_ECHO, req, sizeof req);
        if (st == RK_OK)
            x->sent++;
        else if (st != RK_EFULL) {
            fprintf(stderr, "throughput: %s\n", rk_status_name(st));
            exit(1);
        }
    }
    return NULL;
}

/* Messages/s through 4 actors (4 sending threads, this thread receiving),
 * per second of `seconds`: mean and coefficient of variation. */
static void ours_throughput(rk_runtime *rt, const rk_actor_id *a, int seconds)
{
    volatile int stop = 0;
    thr_arg args[4];
    pthread_t th[4];
    uint64_t rep[8], got = 0, mark, per[600];
    double mean = 0, var = 0;
    rk_msgbuf mb;
    int i, sec = 0;
    mb.data = rep;
    mb.capacity = sizeof rep;
    for (i = 0; i < 4; i++) {
        args[i].rt = rt;
        args[i].a = a[i];
        args[i].stop = &stop;
        args[i].sent = 0;
        pthread_create(&th[i], NULL, thr_send, &args[i]);
    }
    mark = now_ns();
    while (sec < seconds) {
        if (rk_recv(rt, &mb, 1000000000ull) == RK_OK)
            got++;
        if (now_ns() - mark >= 1000000000ull) {
            per[sec++] = got;
            got = 0;
            mark += 1000000000ull;
        }
    }
    stop = 1;
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    while (rk_recv(rt, &mb, 200000000ull) == RK_OK)
        ;
    for (i = 0; i < seconds; i++)
        mean += (double)per[i] / seconds;
    for (i = 0; i < seconds; i++)
        var += ((double)per[i] - mean) * ((double)per[i] - mean) / seconds;
    printf("  %-28s %d s: mean %.3f M msgs/s, CV %.2f%%\n", "throughput 4x4 16B", seconds, mean / 1e6,
           mean > 0 ? 100.0 * sqrt(var) / mean : 0.0);
    {
        double rate[600];
        for (i = 0; i < seconds; i++)
            rate[i] = (double)per[i];
        rkb_record(&g_bench, "throughput 4x4 16B echo", "msgs/s", rate, (size_t)seconds,
                   "replies received per second: 4 host senders -> 4 echo actors -> 1 host receiver, 16-byte payload");
    }
    for (i = 0; i < 4; i++) {
        rk_control c;
        RKB_RK(rk_actor_control(rt, a[i], &c));
        printf("  %-28s actor %d: %llu messages, GPU busy %.3f us per message (handler and its sends)\n",
               "throughput per actor", i, (unsigned long long)c.msgs_in,
               c.msgs_in ? (double)c.busy_ns / 1e3 / (double)c.msgs_in : 0.0);
    }
}

static void ours_k2k_as(rk_runtime *rt, rk_actor_id p, rk_actor_id q, uint64_t n, const char *name,
                        const char *tier)
{
    pinger_start st = {q, 0, n};
    pinger_done d;
    rk_msgbuf mb;
    double per_trip[3];
    int rep;
    mb.data = &d;
    mb.capacity = sizeof d;
    for (rep = 0; rep < 3; rep++) {
        RKB_RK(rk_send(rt, p, PINGER_START, &st, sizeof st));
        RKB_RK(rk_recv(rt, &mb, 60000000000ull));
        per_trip[rep] = (double)d.ns / 1e3 / (double)d.n;
        printf("  %-28s n=%-7llu mean %8.3f us per round trip (device clock)\n", name, (unsigned long long)d.n,
               per_trip[rep]);
    }
    char desc[256];
    snprintf(desc, sizeof desc,
             "each sample: mean actor->actor->actor round trip over n trips on two blocks, device clock, %s", tier);
    rkb_record(&g_bench, name, "us", per_trip, 3, desc);
}

static void ours_k2k(rk_runtime *rt, rk_actor_id p, rk_actor_id q, uint64_t n, const char *name)
{
    ours_k2k_as(rt, p, q, n, name, "global-memory tier");
}

static uint32_t block_of(rk_runtime *rt, rk_actor_id id)
{
    rk_control c;
    RKB_RK(rk_actor_control(rt, id, &c));
    return c.block;
}

/* The K2K round trip between two actors of one cluster, in kernels of
 * clusters of 2, 4, 8 and 16 blocks: through the cluster tier (DSMEM), and
 * with the tier turned off (RK_CUDA_CLUSTER_K2K_CAPACITY=0), through the
 * global ring - each in a runtime of its own. Actors are launched, each
 * beside the last, until two share a cluster (the supervisor's cluster of
 * 2 has no room for two). */
static void ours_k2k_tiers(const struct cudaDeviceProp *prop)
{
    static const uint32_t sizes[] = {2, 4, 8, 16};
    if (prop->major < 9) {
        printf("  %-28s sm_%d%d: no clusters\n", "k2k tiers", prop->major, prop->minor);
        return;
    }
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        for (int tier = 1; tier >= 0; tier--) {
            const uint32_t cs = sizes[k];
            rk_runtime_options o;
            rk_runtime *rt = NULL;
            rk_actor_id p = RK_ACTOR_NONE, q = RK_ACTOR_NONE;
            char name[64];
            rk_status st;
            int tries;
            setenv("RK_CUDA_CLUSTER_K2K_CAPACITY", tier ? "32" : "0", 1);
            rk_runtime_options_init(&o);
            o.backend = RK_BACKEND_CUDA;
            o.max_actors = 12;
            o.gpu_program = &bench_program;
            o.cluster_size = cs;
            o.cluster_nonportable = cs > 8;
            st = rk_runtime_create(&rt, &o);
            snprintf(name, sizeof name, "k2k %s tier (clusters of %u)", tier ? "cluster" : "global", cs);
            if (st != RK_OK) {
                printf("  %-28s refused: %s\n", name, rk_status_name(st));
                unsetenv("RK_CUDA_CLUSTER_K2K_CAPACITY");
                continue;
            }
            /* The next one beside the last: where that one found no free
             * block beside its partner, it opened a cluster with room. */
            p = launch(rt, "pinger0", &pinger_type);
            for (tries = 0; tries < 4; tries++) {
                rk_actor_options ao;
                char qn[16];
                snprintf(qn, sizeof qn, "pinger%d", tries + 1);
                rk_actor_options_init(&ao);
                ao.name = qn;
                ao.type = &pinger_type;
                ao.near = p;
                RKB_RK(rk_launch(rt, &ao, &q));
                if (block_of(rt, p) / cs == block_of(rt, q) / cs)
                    break;
                p = q;
            }
            if (tries == 4)
                printf("  %-28s no two actors in one cluster\n", name);
            else
                ours_k2k_as(rt, p, q, 100000, name,
                            tier ? "two blocks of one cluster, cluster tier (DSMEM)"
                                 : "two blocks of one cluster, cluster tier off: global-memory ring");
            rk_runtime_destroy(rt);
            unsetenv("RK_CUDA_CLUSTER_K2K_CAPACITY");
        }
    }
}

static void ours_lifecycle(rk_runtime *rt, uint64_t n)
{
    uint64_t *tc = (uint64_t *)malloc(n * 8), *tr = (uint64_t *)malloc(n * 8), *tt = (uint64_t *)malloc(n * 8), i;
    char name[32];
    for (i = 0; i < n; i++) {
        rk_actor_id id;
        rk_actor_options o;
        uint64_t t0;
        rk_actor_options_init(&o);
        snprintf(name, sizeof name, "lc%llu", (unsigned long long)i);
        o.name = name;
        o.type = &echo_type;
        o.inbox_capacity = 64;
        t0 = now_ns();
        RKB_RK(rk_launch(rt, &o, &id));
        tc[i] = now_ns() - t0;
        t0 = now_ns();
        RKB_RK(rk_restart(rt, id));
        tr[i] = now_ns() - t0;
        t0 = now_ns();
        RKB_RK(rk_terminate(rt, id));
        tt[i] = now_ns() - t0;
    }
    report("lifecycle: create", tc, n);
    report("lifecycle: restart", tr, n);
    report("lifecycle: terminate", tt, n);
    free(tc);
    free(tr);
    free(tt);
}

/* ---- main ------------------------------------------------------------------------------------------- */

/* The comparisons for the JSON file: the runtime's round trip against each
 * baseline measured before it in this process (ids: rkb_slug of the names). */
static void compare_all(void)
{
    static const char *const pairs[][3] = {
        {"rk_call_64b", "pingpong_msg64_fence_acq_rel", "round trip / ring-slot ping-pong (same fence)"},
        {"rk_call_64b", "pingpong_flag_fence_sc", "round trip / flag ping-pong with fence.sc.sys"},
        {"rk_call_64b", "pingpong_flag", "round trip / flag ping-pong, no fence (platform floor)"},
        {"rk_call_64b", "pingpong_msg128_ll", "round trip / flag-per-word ping-pong of 128-byte messages"},
        {"k2k_actor_actor", "k2k_floor_msg64_release", "K2K round trip / two-block message ping-pong"},
        {"k2k_actor_actor", "k2k_floor_ring", "K2K round trip / two-block ring-protocol ping-pong"},
        {"k2k_floor_ll_ring", "k2k_floor_ring", "ring-protocol ping-pong: flag per word / sequence word"},
        {"k2k_floor_ll_spsc", "k2k_floor_ll_ring", "flag-per-word ping-pong: one producer / CAS claim"},
        {"k2k_cluster_tier_clusters_of_2", "k2k_global_tier_clusters_of_2", "K2K in a cluster of 2: DSMEM / global ring"},
        {"k2k_cluster_tier_clusters_of_4", "k2k_global_tier_clusters_of_4", "K2K in a cluster of 4: DSMEM / global ring"},
        {"k2k_cluster_tier_clusters_of_8", "k2k_global_tier_clusters_of_8", "K2K in a cluster of 8: DSMEM / global ring"},
        {"k2k_cluster_tier_clusters_of_16", "k2k_global_tier_clusters_of_16",
         "K2K in a cluster of 16: DSMEM / global ring"},
        {"k2k_cluster_tier_clusters_of_8", "k2k_floor_dsmem_ring", "K2K cluster tier / DSMEM ring-protocol ping-pong"},
        {"k2k_cluster_tier_clusters_of_8", "k2k_floor_dsmem_msg64_release",
         "K2K cluster tier / DSMEM message ping-pong"},
        {"rk_call_64b", "launch_sync", "round trip / cudaLaunchKernel + cudaStreamSynchronize"},
        {"rk_call_64b", "graph_replay_sync", "round trip / CUDA graph replay + cudaStreamSynchronize"},
        {"backend_send_poll_64b", "pingpong_msg64_fence_acq_rel", "backend alone / ring-slot ping-pong"},
        {"rk_call_64b", "pingpong_msg64_ll_reply", "round trip / ping-pong with the same flag-per-word reply"},
        {"rk_call_64b", "rk_call_64b_plain_slots", "round trip: flag-per-word host queue / plain slots"},
        {"rk_call_64b_plain_slots", "pingpong_msg64_fence_acq_rel", "round trip with plain slots / ring-slot ping-pong"},
        {"backend_send_poll_64b", "pingpong_msg64_ll_reply", "backend alone / ping-pong with the same reply"},
    };
    printf("comparisons (ratio of medians, Welch's t-test on the means):\n");
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        rkb_compare(&g_bench, pairs[i][0], pairs[i][1], pairs[i][2]);
}

static uint64_t arg_u64(int argc, char **argv, const char *name, uint64_t dflt)
{
    int i;
    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return strtoull(argv[i + 1], NULL, 10);
    return dflt;
}

static void floors(uint64_t trials, uint64_t warmup)
{
    int m;
    for (m = 0; m < PP_MODES; m++)
        pingpong(m, trials, warmup);
    pingpong_ll(trials, warmup);
    pingpong_multi(1, 0, trials, warmup);
    pingpong_multi(2, 400, trials, warmup);
    pingpong_multi(4, 200, trials, warmup);
    launches(trials, warmup, 0);
    launches(trials, warmup, 1);
}

static double find(const char *name)
{
    int i;
    for (i = 0; i < g_nresults; i++)
        if (strcmp(g_results[i].name, name) == 0)
            return g_results[i].median;
    return NAN;
}

int main(int argc, char **argv)
{
    uint64_t trials = arg_u64(argc, argv, "--trials", 100000), warmup = arg_u64(argc, argv, "--warmup", 10000);
    int seconds = (int)arg_u64(argc, argv, "--seconds", 10);
    const int k2k_only = arg_u64(argc, argv, "--k2k", 0) != 0;
    /* The host round trips alone (floors, rk_call, send+recv, backend,
     * plain slots), without K2K, throughput and lifecycle: for A/Bs. */
    const int host_only = arg_u64(argc, argv, "--host-only", 0) != 0;
    g_jitter_ns = arg_u64(argc, argv, "--jitter", 2000);
    struct cudaDeviceProp prop;
    int drv = 0, rtv = 0, dev = 0;
    rk_runtime *rt;
    rk_actor_id a[4], p, q;
    double call, call_again, call_plain;
    char name[16];
    int i, rc;

    if (cudaGetDeviceCount(&dev) != cudaSuccess || dev == 0) {
        printf("no CUDA device\n");
        return 77;
    }
    if (rkb_init(&g_bench, "bench_gpu_roundtrip", argc, argv) != 0)
        return 77;
    rkb_param_num(&g_bench, "trials", (double)trials);
    rkb_param_num(&g_bench, "warmup", (double)warmup);
    rkb_param_num(&g_bench, "seconds", seconds);
    rkb_param_num(&g_bench, "jitter_ns", (double)g_jitter_ns);
    RKB_CUDA(cudaGetDeviceProperties(&prop, 0));
    RKB_CUDA(cudaDriverGetVersion(&drv));
    RKB_CUDA(cudaRuntimeGetVersion(&rtv));
    printf("device: %s, %d SMs, CUDA driver %d, runtime %d; trials %llu after %llu warm-up\n", prop.name,
           prop.multiProcessorCount, drv, rtv, (unsigned long long)trials, (unsigned long long)warmup);
    RKB_CUDA(cudaFree(0));

    printf("floors (before the runtime):\n");
    if (k2k_only) {
        k2k_floors(100000);
        k2k_dsmem_floors(100000, &prop);
        printf("ringkernel:\n");
        rt = runtime(4);
        p = launch(rt, "ping", &pinger_type);
        q = launch(rt, "pong", &pinger_type);
        ours_k2k(rt, p, q, 100000, "k2k actor<->actor");
        rk_runtime_destroy(rt);
        ours_k2k_tiers(&prop);
        return rkb_finish(&g_bench);
    }
    floors(trials, warmup);
    if (!host_only) {
        k2k_floors(100000);
        k2k_dsmem_floors(100000, &prop);
    }

    printf("ringkernel (defaults: flag-per-word host queue, no publication fence):\n");
    unsetenv("RK_CUDA_FENCE");
    unsetenv("RK_CUDA_HOST_LL");
    rt = runtime(8);
    for (i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "echo%d", i);
        a[i] = launch(rt, name, &echo_type);
    }
    p = launch(rt, "ping", &pinger_type);
    q = launch(rt, "pong", &pinger_type);
    call = ours_call(rt, a[0], "rk_call 64B", trials, warmup)->median;
    ours_send_recv(rt, a[0], trials, warmup);
    {
        /* The GPU's share of it: from the poll that saw the request to the
         * next poll (copy in, handler, reply, publication fence). */
        rk_control c0, c1;
        RKB_RK(rk_actor_control(rt, a[0], &c0));
        ours_backend(rt, a[0], trials, warmup, "backend send+poll 64B");
        RKB_RK(rk_actor_control(rt, a[0], &c1));
        double share =
            c1.msgs_in > c0.msgs_in ? (double)(c1.busy_ns - c0.busy_ns) / 1e3 / (double)(c1.msgs_in - c0.msgs_in) : 0.0;
        printf("  %-28s %.3f us per message (mean, GPU busy_ns of the echo actor)\n", "backend GPU share", share);
        rkb_value_record(&g_bench, "backend GPU share", "us", share,
                         "mean GPU time per message of the echo actor during the backend round trips (busy_ns): "
                         "copy in, handler, reply, publication fence");
    }
    /* rk_call once more, now that the process has run for a while: its
     * first median differed from one process to the next (5.8 or 6.6 us)
     * while the rows after it did not. */
    call_again = ours_call(rt, a[0], "rk_call 64B (again)", trials, warmup)->median;
    ours_injection(rt, a[1], trials, "injection: rk_send alone");
    if (!host_only) {
        ours_k2k(rt, p, q, 100000, "k2k actor<->actor");
        ours_throughput(rt, a, seconds);
    }
    rk_runtime_destroy(rt);
    if (!host_only) {
        /* What the host-inbox poll of a K2K-busy actor still costs: the
         * same two pingers polling their host inboxes once per ms. */
        setenv("RK_CUDA_K2K_HOST_POLL_NS", "1000000", 1);
        rt = runtime(4);
        p = launch(rt, "ping", &pinger_type);
        q = launch(rt, "pong", &pinger_type);
        ours_k2k(rt, p, q, 100000, "k2k actor<->actor (host poll 1 ms)");
        rk_runtime_destroy(rt);
        unsetenv("RK_CUDA_K2K_HOST_POLL_NS");
        ours_k2k_tiers(&prop);
        rt = runtime(1100); /* ids are not reused: one per created actor */
        ours_lifecycle(rt, 1000 < trials ? 1000 : trials);
        rk_runtime_destroy(rt);
    }

    printf("ringkernel (plain host queue slots, RK_CUDA_HOST_LL=0: one fence.acq_rel.sys per batch of replies):\n");
    setenv("RK_CUDA_HOST_LL", "0", 1);
    rt = runtime(4);
    a[0] = launch(rt, "echo", &echo_type);
    call_plain = ours_call(rt, a[0], "rk_call 64B (plain slots)", trials, warmup)->median;
    ours_backend(rt, a[0], trials, warmup, "backend send+poll 64B (plain slots)");
    rk_runtime_destroy(rt);
    unsetenv("RK_CUDA_HOST_LL");

    printf("floors (after the runtime):\n");
    g_phase = " (after the runtime)";
    floors(trials / 2, warmup / 2);
    g_phase = "";

    compare_all();
    rc = rkb_finish(&g_bench);
    printf("\nsummary (medians, us): rk_call %.3f (again %.3f) | backend %.3f | pingpong flag %.3f, flag+fence %.3f, "
           "msg64 acq_rel %.3f | launch+sync %.3f | graph+sync %.3f\n",
           call, call_again, find("backend send+poll 64B"), find("pingpong/flag"), find("pingpong/flag+fence.sc"),
           find("pingpong/msg64 fence.acq_rel"), find("launch+sync"), find("graph replay+sync"));
    printf("ratio backend / pingpong msg64 acq_rel = %.2f; / flag+fence.sc = %.2f\n",
           find("backend send+poll 64B") / find("pingpong/msg64 fence.acq_rel"),
           find("backend send+poll 64B") / find("pingpong/flag+fence.sc"));
    printf("ratio rk_call / pingpong flag+fence.sc = %.2f; / pingpong msg64 acq_rel = %.2f; / msg64 LL reply = "
           "%.2f; / flag = %.2f; rk_call with plain slots %.3f us (%.2f x msg64 acq_rel)\n",
           call / find("pingpong/flag+fence.sc"), call / find("pingpong/msg64 fence.acq_rel"),
           call / find("pingpong/msg64 LL reply"), call / find("pingpong/flag"), call_plain,
           call_plain / find("pingpong/msg64 fence.acq_rel"));
    return rc;
}
