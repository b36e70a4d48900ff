/* What light actors (include/ringkernel/light.cuh) cost on the GPU: a diagnostic of
 * the scheduler on its own, not a benchmark of the runtime (which does not
 * use light actors yet).
 *
 *   round trip   two light actors ping-pong: on one home through their
 *                inboxes; on one home handed over (the block tier); on two
 *                homes (two blocks). Mean per round trip over --trips, timed
 *                on the GPU (globaltimer), after 1000 warm-up trips
 *   one home     8 sender blocks to 64 actors on one block: messages/s
 *   GPU-wide     16 sender blocks to 2^20 actors on 64 .. 512 home blocks
 *                (4-slot inboxes, batch 8): messages/s, or where the
 *                messages wait if it stalls; then on 512 homes with the stop
 *                word host-mapped instead of in device memory
 *   stealing     the same senders to the actors of home 0 only, with and
 *                without stealing: messages/s; also on 64 homes in clusters
 *                of 8, where only home 0's cluster may help
 *   tokens       2^16 tokens hop among 2^18 actors on every home block, with
 *                and without hand-off: hops/s across the GPU
 *   port         the host's round trip to a light actor through the port
 *                (host -> forwarder block -> actor -> its home's ring to the
 *                host), one message at a time, timed on the host: median
 *                and p99. Compare with bench_gpu_roundtrip's rk_call and
 *                its pinned-memory floors in the same call
 * Every run is bounded: past its limit the stop word is set and the
 * report printed. Compare with diag_k2k's actor round trip in the same run.
 *
 * Usage: diag_light [--trips N] [--messages N] */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdint.h>

/* Pushes that waited for their run-queue slot, and their naps. */
__device__ unsigned long long dl_push_waits[2];
static __host__ __device__ inline void dl_push_naps(uint32_t n)
{
#ifdef __CUDA_ARCH__
    if (n) {
        atomicAdd(&dl_push_waits[0], 1ull);
        atomicAdd(&dl_push_waits[1], (unsigned long long)n);
    }
#else
    (void)n;
#endif
}
#define RK_LIGHT_PUSH_NAPS(n) dl_push_naps(n)
#include "ringkernel/light.cuh"

#define DL_CUDA(call)                                                                                \
    do {                                                                                             \
        cudaError_t e_ = (call);                                                                     \
        if (e_ != cudaSuccess) {                                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));   \
            fflush(NULL);                                                                            \
            _exit(1);                                                                                \
        }                                                                                            \
    } while (0)

static uint64_t dl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static __device__ uint64_t dl_clock(void)
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* What a run counts, in device memory. */
struct dl_counts {
    unsigned long long taken, first, last, lost;
    unsigned long long send_ns, full, slowest_send; /* the sender blocks' */
};

struct dl_case {
    rk_light_world *w;
    dl_counts *counts;
    volatile uint32_t *stop;
    uint64_t expect;     /* messages to take before the homes stop */
    uint64_t per_sender;
    uint64_t trips, warm; /* round trip */
    uint32_t skew;        /* nonzero: senders send to actors of home 0 only */
};

/* Counts a message; the last one stops the homes. */
static __device__ void dl_count(const dl_case &k)
{
    unsigned long long n = atomicAdd(&k.counts->taken, 1ull) + 1;
    if (n == k.expect) {
        k.counts->last = dl_clock();
        *k.stop = 1;
    }
}

/* Ping-pong between actors 0 and 1: w[0] counts the hops. */
struct dl_pingpong {
    dl_case k;
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        if (threadIdx.x != 0)
            return;
        uint64_t h = m->w[0], words[RK_LIGHT_WORDS] = {h + 1};
        if (h == 2 * k.warm)
            k.counts->first = dl_clock();
        if (h == 2 * (k.warm + k.trips)) {
            k.counts->last = dl_clock();
            *k.stop = 1;
            return;
        }
        while (rk_light_ctx_send(c, c->self ^ 1, 0, words) == RK_EFULL)
            ; /* cannot happen: one message in flight */
    }
};

struct dl_sink {
    dl_case k;
    __device__ void operator()(rk_light_ctx *, const rk_light_msg *m) const
    {
        (void)m;
        if (threadIdx.x == 0)
            dl_count(k);
    }
};

/* A token hops to an actor of the same home two hops of three, else to the
 * next actor; w[1] counts its hops, to `trips`. */
struct dl_token {
    dl_case k;
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        if (threadIdx.x != 0)
            return;
        uint64_t hops = m->w[1], words[RK_LIGHT_WORDS] = {m->w[0], hops + 1};
        uint32_t n = c->w->cfg.actors, h = c->w->cfg.homes;
        dl_count(k);
        if (hops == k.trips)
            return;
        /* A full inbox (tokens that met): the next actor instead. A handler
         * must not wait for an inbox its own home may have to drain. */
        uint32_t dst = hops % 3 ? (c->self + h) % n : (c->self + 1) % n;
        for (uint32_t i = 0; rk_light_ctx_send(c, (dst + i) % n, 0, words) == RK_EFULL; i++)
            if (i == 64) {
                atomicAdd(&k.counts->lost, 1ull);
                return;
            }
    }
};

/* The port's echo: back to the host, one message in flight. */
struct dl_echo {
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        if (threadIdx.x == 0)
            while (rk_light_ctx_send(c, RK_LIGHT_HOST, m->type, m->w) == RK_EFULL)
                ; /* cannot happen: one message in flight */
    }
};

/* The homes, then the port's forwarder (rk_light_ingress). */
__global__ void dl_port_kernel(rk_light_world *w, dl_echo fn)
{
    if (blockIdx.x < w->cfg.homes)
        rk_light_block(w, blockIdx.x, fn);
    else
        rk_light_ingress(w);
}

template <class H> __global__ void dl_kernel(dl_case k, H fn)
{
    uint32_t homes = k.w->cfg.homes;
    if (blockIdx.x == 0 && threadIdx.x == 0) /* the ping-pong takes its own start */
        atomicCAS(&k.counts->first, 0ull, (unsigned long long)dl_clock());
    if (blockIdx.x < homes) {
        rk_light_block(k.w, blockIdx.x, fn);
        return;
    }
    if (threadIdx.x != 0)
        return;
    uint32_t s = blockIdx.x - homes;
    uint64_t x = 0x2545f4914f6cdd1dull * (s + 1), words[RK_LIGHT_WORDS] = {s};
    atomicCAS(&k.counts->first, 0ull, (unsigned long long)dl_clock());
    uint64_t spent = 0, full = 0, slowest = 0;
    for (uint64_t i = 0; i < k.per_sender; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        words[1] = i;
        uint64_t t0 = dl_clock(), t;
        uint32_t dst = (uint32_t)(x % k.w->cfg.actors);
        if (k.skew)
            dst -= dst % k.w->cfg.homes; /* an actor of home 0 */
        while (rk_light_send(k.w, s, dst, 0, words) == RK_EFULL) {
            full++;
            if (*k.stop)
                return;
            __nanosleep(100);
        }
        t = dl_clock() - t0;
        spent += t;
        slowest = t > slowest ? t : slowest;
    }
    atomicAdd(&k.counts->send_ns, (unsigned long long)spent);
    atomicAdd(&k.counts->full, (unsigned long long)full);
    atomicMax(&k.counts->slowest_send, (unsigned long long)slowest);
}

/* Sends `n` starting messages (one thread): to actor 0 for the ping-pong,
 * token t to actor t * step for the tokens. */
__global__ void dl_start(dl_case k, uint32_t n, uint32_t step)
{
    for (uint32_t t = 0; t < n; t++) {
        uint64_t words[RK_LIGHT_WORDS] = {t, 0};
        rk_light_send(k.w, RK_LIGHT_NONE, t * step % k.w->cfg.actors, 0, words);
    }
}

struct dl_world {
    dl_case k;
    void *image;
    size_t bytes;
    uint32_t *stop_host;
    uint32_t *stop_dev; /* the stop word in device memory instead, or NULL */
};

/* Where the stop word is: device memory (as rk_light_block asks), or
 * host-mapped for the run that shows why. */
static int dl_stop_in_device = 1;

static int dl_create(dl_world *d, const rk_light_config *c)
{
    rk_light_layout l = rk_light_world_layout(c);
    uint32_t *stop_dev;
    void *base;
    memset(d, 0, sizeof *d);
    if (!l.bytes)
        return -1;
    d->bytes = l.bytes;
    DL_CUDA(cudaHostAlloc((void **)&d->stop_host, sizeof(uint32_t), cudaHostAllocMapped));
    *d->stop_host = 0;
    DL_CUDA(cudaHostGetDevicePointer((void **)&stop_dev, d->stop_host, 0));
    if (dl_stop_in_device) {
        DL_CUDA(cudaMalloc((void **)&d->stop_dev, sizeof(uint32_t)));
        DL_CUDA(cudaMemset(d->stop_dev, 0, sizeof(uint32_t)));
        stop_dev = d->stop_dev;
    }
    DL_CUDA(cudaMalloc(&base, l.bytes));
    d->image = malloc(l.bytes);
    if (!d->image || rk_light_world_init(d->image, base, c, stop_dev) != RK_OK)
        return -1;
    DL_CUDA(cudaMemcpy(base, d->image, l.bytes, cudaMemcpyHostToDevice));
    d->k.w = (rk_light_world *)base;
    d->k.stop = stop_dev;
    DL_CUDA(cudaMalloc(&d->k.counts, sizeof(dl_counts)));
    DL_CUDA(cudaMemset(d->k.counts, 0, sizeof(dl_counts)));
    return 0;
}

static void dl_destroy(dl_world *d)
{
    cudaFree(d->k.w);
    cudaFree(d->k.counts);
    cudaFreeHost(d->stop_host);
    if (d->stop_dev)
        cudaFree(d->stop_dev);
    free(d->image);
}

/* Sets the stop word while the kernel runs. */
static void dl_set_stop(dl_world *d)
{
    static const uint32_t one = 1;
    cudaStream_t s;
    __atomic_store_n(d->stop_host, 1, __ATOMIC_RELAXED);
    if (!d->stop_dev)
        return;
    DL_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    DL_CUDA(cudaMemcpyAsync(d->stop_dev, &one, sizeof one, cudaMemcpyHostToDevice, s));
    DL_CUDA(cudaStreamSynchronize(s));
    DL_CUDA(cudaStreamDestroy(s));
}

/* The homes' counters, summed, and the senders' and pushes' numbers. */
static void dl_print_counts(dl_world *d, const dl_counts *got, uint32_t senders)
{
    unsigned long long pw[2];
    DL_CUDA(cudaMemcpy(d->image, d->k.w, d->bytes, cudaMemcpyDeviceToHost));
    DL_CUDA(cudaMemcpyFromSymbol(pw, dl_push_waits, sizeof pw));
    rk_light_world *w = (rk_light_world *)d->image;
    rk_light_home *home = (rk_light_home *)rk_light_in_image(d->image, d->k.w, w->home);
    uint64_t runs = 0, idle = 0;
    for (uint32_t h = 0; h < w->cfg.homes; h++)
        runs += home[h].runs, idle += home[h].idle_polls;
    uint64_t steals = 0, moved = 0;
    for (uint32_t h = 0; h < w->cfg.homes; h++)
        steals += home[h].steals, moved += home[h].moved;
    printf("    homes: %llu runs (%llu stolen), %llu idle looks; pushes that waited for their slot: %llu "
           "(%llu naps)\n",
           (unsigned long long)runs, (unsigned long long)steals, (unsigned long long)idle, pw[0], pw[1]);
    if (moved)
        printf("    cluster-ring messages moved to their receivers' inboxes: %llu\n", (unsigned long long)moved);
    if (senders && got->taken)
        printf("    senders: %.3f us per send (incl. retries), slowest %.1f us, %llu refused full\n",
               got->send_ns / 1e3 / (double)(d->k.per_sender * senders), got->slowest_send / 1e3, got->full);
}

static void *dl_push_waits_ptr(void)
{
    void *p = NULL;
    DL_CUDA(cudaGetSymbolAddress(&p, dl_push_waits));
    return p;
}

/* Runs the kernel (homes + senders blocks of 128 threads) to its end or
 * `limit_s`; returns the GPU's ns from first to last, or 0 after a stall
 * (with the report printed). */
template <class H> static uint64_t dl_run(dl_world *d, uint32_t senders, H fn, double limit_s, const char *name)
{
    const rk_light_config *c = &((rk_light_world *)d->image)->cfg;
    uint32_t homes = c->homes;
    int stalled = 0;
    cudaStream_t st;
    cudaLaunchConfig_t lc;
    cudaLaunchAttribute at[1];
    dl_counts got;
    uint64_t t0 = dl_now_ns();
    DL_CUDA(cudaMemsetAsync(dl_push_waits_ptr(), 0, 2 * sizeof(unsigned long long)));
    DL_CUDA(cudaDeviceSynchronize());
    DL_CUDA(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    /* As clusters of cfg.cluster blocks when the world has them; the homes
     * come first, so each cluster holds homes only. */
    rk_status rs = rk_light_launch_config(&lc, at, c, (const void *)dl_kernel<H>, homes + senders, 128, st);
    if (rs != RK_OK) {
        printf("%-48s not run: %u blocks cannot all be resident (cluster %u, rk_status %d)\n", name,
               homes + senders, c->cluster, (int)rs);
        DL_CUDA(cudaStreamDestroy(st));
        return 0;
    }
    DL_CUDA(cudaLaunchKernelEx(&lc, dl_kernel<H>, d->k, fn));
    DL_CUDA(cudaGetLastError());
    while (cudaStreamQuery(st) == cudaErrorNotReady) {
        if (!stalled && dl_now_ns() - t0 > (uint64_t)(limit_s * 1e9)) {
            stalled = 1;
            dl_set_stop(d);
        }
        if (stalled && dl_now_ns() - t0 > (uint64_t)((limit_s + 10) * 1e9)) {
            printf("%s: the kernel did not stop 10 s after the stop word\n", name);
            fflush(NULL);
            _exit(1);
        }
        usleep(200);
    }
    DL_CUDA(cudaStreamSynchronize(st));
    DL_CUDA(cudaStreamDestroy(st));
    DL_CUDA(cudaMemcpy(&got, d->k.counts, sizeof got, cudaMemcpyDeviceToHost));
    if (senders || homes > 2)
        dl_print_counts(d, &got, senders);
    if (got.lost)
        printf("%s: %llu tokens found 64 full inboxes in a row and were dropped\n", name, got.lost);
    if (stalled) {
        DL_CUDA(cudaMemcpy(d->image, d->k.w, d->bytes, cudaMemcpyDeviceToHost));
        printf("%-48s STALLED: %llu of %llu messages taken in %.0f s\n", name, got.taken,
               (unsigned long long)d->k.expect, limit_s);
        rk_light_world_report(d->image, d->k.w, stdout, 16);
        return 0;
    }
    return got.last - got.first;
}

/* Messages the homes ran from their cluster rings (after dl_tier_counts's copy). */
static unsigned long long dl_clustered(dl_world *d)
{
    rk_light_world *w = (rk_light_world *)d->image;
    rk_light_home *home = (rk_light_home *)rk_light_in_image(d->image, d->k.w, w->home);
    unsigned long long n = 0;
    for (uint32_t h = 0; h < w->cfg.homes; h++)
        n += home[h].clustered;
    return n;
}

/* Messages the homes ran handed over, or from their local queues. */
static void dl_tier_counts(dl_world *d, unsigned long long *handed, unsigned long long *local)
{
    DL_CUDA(cudaMemcpy(d->image, d->k.w, d->bytes, cudaMemcpyDeviceToHost));
    rk_light_world *w = (rk_light_world *)d->image;
    rk_light_home *home = (rk_light_home *)rk_light_in_image(d->image, d->k.w, w->home);
    *handed = *local = 0;
    for (uint32_t h = 0; h < w->cfg.homes; h++) {
        *handed += home[h].handoffs;
        *local += home[h].locals;
    }
}

static void round_trip(const char *name, uint32_t homes, uint32_t handoff, uint32_t batch, uint64_t trips,
                       uint32_t cluster = 0, uint32_t steal = 0)
{
    /* Actors 0 and 1 (homes 0 and 1 with two or more homes); any others idle. */
    rk_light_config c = {homes > 2 ? homes : 2, homes, 4, batch, handoff, steal, cluster};
    dl_world d;
    if (dl_create(&d, &c))
        return;
    d.k.trips = trips;
    d.k.warm = 1000;
    dl_start<<<1, 1>>>(d.k, 1, 1);
    DL_CUDA(cudaDeviceSynchronize());
    uint64_t ns = dl_run(&d, 0, dl_pingpong{d.k}, 30, name);
    if (ns) {
        unsigned long long handed, local;
        dl_tier_counts(&d, &handed, &local);
        printf("%-48s %8.3f us per round trip (%llu trips), %llu handed over, %llu local, %llu clustered\n",
               name, ns / 1e3 / trips, (unsigned long long)trips, handed, local, dl_clustered(&d));
    }
    dl_destroy(&d);
}

static void sinks(const char *name, const rk_light_config *c, uint32_t senders, uint64_t messages,
                  uint32_t skew = 0)
{
    dl_world d;
    if (dl_create(&d, c))
        return;
    d.k.skew = skew;
    d.k.per_sender = messages / senders;
    d.k.expect = d.k.per_sender * senders;
    uint64_t ns = dl_run(&d, senders, dl_sink{d.k}, 8, name);
    if (ns)
        printf("%-48s %8.3f M msgs/s (%llu messages, %u homes, %u actors)\n", name, d.k.expect / (ns / 1e3),
               (unsigned long long)d.k.expect, c->homes, c->actors);
    dl_destroy(&d);
}

static void tokens(const char *name, const rk_light_config *c, uint32_t n, uint64_t hops)
{
    dl_world d;
    if (dl_create(&d, c))
        return;
    d.k.trips = hops;
    d.k.expect = (uint64_t)n * (hops + 1);
    dl_start<<<1, 1>>>(d.k, n, c->actors / n);
    DL_CUDA(cudaDeviceSynchronize());
    uint64_t ns = dl_run(&d, 0, dl_token{d.k}, 20, name);
    if (ns) {
        unsigned long long handed, local;
        dl_tier_counts(&d, &handed, &local);
        printf("%-48s %8.3f M hops/s (%u tokens x %llu hops, %u homes), %llu handed over, %llu local, %llu "
               "clustered\n",
               name, d.k.expect / (ns / 1e3), n, (unsigned long long)hops, c->homes, handed, local,
               dl_clustered(&d));
    }
    dl_destroy(&d);
}

static int dl_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The host's round trip to actor 5 of 64 on `homes` homes through the
 * port, `trips` times after 1000 warm-up trips. */
static void port_round_trip(const char *name, uint32_t homes, uint64_t trips)
{
    const rk_light_config c = {64, homes, 16, 8, 0, 0, 0};
    uint64_t *ns = (uint64_t *)malloc(trips * sizeof(uint64_t)), bad = 0;
    rk_light_port *p, *dp;
    cudaLaunchConfig_t lc;
    cudaLaunchAttribute at[1];
    cudaStream_t st;
    rk_light_msg m;
    dl_world d;
    if (!ns || dl_create(&d, &c) != 0) {
        printf("%-48s not run (no memory)\n", name);
        free(ns);
        return;
    }
    DL_CUDA(cudaHostAlloc((void **)&p, rk_light_port_bytes(homes), cudaHostAllocMapped));
    DL_CUDA(cudaHostGetDevicePointer((void **)&dp, p, 0));
    rk_light_port_init(p, &c);
    rk_light_world_set_port(d.image, dp);
    DL_CUDA(cudaMemcpy(d.k.w, d.image, sizeof(rk_light_world), cudaMemcpyHostToDevice));
    DL_CUDA(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    if (rk_light_launch_config(&lc, at, &c, (const void *)dl_port_kernel, homes + 1, 128, st) != RK_OK) {
        printf("%-48s not run (the grid cannot be resident)\n", name);
    } else {
        DL_CUDA(cudaLaunchKernelEx(&lc, dl_port_kernel, d.k.w, dl_echo{}));
        for (uint64_t i = 0; i < trips + 1000; i++) {
            const uint64_t words[RK_LIGHT_WORDS] = {i}, t0 = dl_now_ns();
            while (rk_light_port_send(p, 5, 1, words) != RK_OK)
                ;
            while (rk_light_port_recv(p, &m) != RK_OK)
                if (dl_now_ns() - t0 > 5000000000ull) {
                    printf("%-48s no echo after 5 s\n", name);
                    dl_set_stop(&d);
                    DL_CUDA(cudaStreamSynchronize(st));
                    _exit(1);
                }
            if (i >= 1000)
                ns[i - 1000] = dl_now_ns() - t0;
            bad += m.w[0] != i || m.src != 5;
        }
        while (rk_light_port_pending(p))
            ;
        dl_set_stop(&d);
        DL_CUDA(cudaStreamSynchronize(st));
        qsort(ns, trips, sizeof *ns, dl_cmp_u64);
        printf("%-48s %8.3f us median, p99 %.3f us (%llu trips, host clock), %llu bad\n", name, ns[trips / 2] / 1e3,
               ns[trips * 99 / 100] / 1e3, (unsigned long long)trips, (unsigned long long)bad);
    }
    DL_CUDA(cudaStreamDestroy(st));
    cudaFreeHost(p);
    dl_destroy(&d);
    free(ns);
}

int main(int argc, char **argv)
{
    uint64_t trips = 100000, messages = 1000000;
    int n = 0, sms = 0, per_sm = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--trips"))
            trips = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--messages"))
            messages = strtoull(argv[i + 1], NULL, 10);
    }
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    DL_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    DL_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, dl_kernel<dl_sink>, 128, 0));
    uint32_t wide = (uint32_t)sms * (per_sm < 4 ? (uint32_t)per_sm : 4u) - 16; /* 512 on 132 SMs */
    printf("diag_light: %d SMs, %d blocks of 128 threads per SM resident; GPU-wide runs use %u homes\n", sms,
           per_sm, wide);

    round_trip("round trip, one home, inboxes", 1, 0, 8, trips);
    round_trip("round trip, one home, handed over (batch 8)", 1, RK_LIGHT_TOKEN, 8, trips);
    round_trip("round trip, one home, handed over (batch 64)", 1, RK_LIGHT_TOKEN, 64, trips);
    round_trip("round trip, one home, local queue (batch 8)", 1, RK_LIGHT_LOCAL, 8, trips);
    round_trip("round trip, one home, local queue (batch 64)", 1, RK_LIGHT_LOCAL, 64, trips);
    round_trip("round trip, two homes", 2, 0, 8, trips);
    char name[96];
    for (uint32_t cl = 2; cl <= 16; cl *= 2) {
        snprintf(name, sizeof name, "round trip, two homes of a cluster of %u", cl);
        round_trip(name, cl, RK_LIGHT_LOCAL, 8, trips, cl);
    }
    /* With stealing, the ring's owner takes the receiver's token for each
     * message (and gives it up after). */
    round_trip("round trip, two homes of a cluster of 8, stealing", 8, 0, 8, trips, 8, 1);

    port_round_trip("round trip, host -> light actor -> host (port)", 1, trips / 10 ? trips / 10 : 1);
    port_round_trip("the same, 64 homes", 64, trips / 10 ? trips / 10 : 1);

    rk_light_config one = {64, 1, 16, 8, 0, 0, 0};
    sinks("one home, 64 actors, 8 sender blocks", &one, 8, messages);
    /* GPU-wide, by the number of homes; then the last again with the stop
     * word host-mapped, which stalled it. */
    for (uint32_t homes = 64; homes <= wide; homes *= 2) {
        rk_light_config all = {1u << 20, homes, 4, 8, 0, 0, 0};
        snprintf(name, sizeof name, "2^20 actors on %u homes, 16 sender blocks", homes);
        sinks(name, &all, 16, messages);
    }
    rk_light_config all = {1u << 20, wide, 4, 8, 0, 0, 0};
    dl_stop_in_device = 0;
    sinks("the same, stop word host-mapped", &all, 16, messages);
    dl_stop_in_device = 1;

    /* A skewed load: every message to the 2,048 actors of home 0. */
    all.steal = 0;
    sinks("skewed to home 0's actors, 512 homes, no stealing", &all, 16, messages / 4, 1);
    all.steal = 1;
    sinks("skewed to home 0's actors, 512 homes, stealing", &all, 16, messages / 4, 1);
    sinks("2^20 actors on 512 homes, stealing", &all, 16, messages);
    rk_light_config one_steal = {64 * 8, 8, 16, 8, 0, 1, 0};
    sinks("skewed to home 0's 64 actors, 8 homes, stealing", &one_steal, 8, messages / 4, 1);
    one_steal.steal = 0;
    sinks("skewed to home 0's 64 actors, 8 homes, no stealing", &one_steal, 8, messages / 4, 1);
    /* In clusters of 8, stealing stays within the cluster: home 0's seven
     * neighbours may help it, the other 56 homes may not. */
    rk_light_config cl_steal = {64 * 64, 64, 16, 8, 0, 0, 8};
    sinks("skewed to home 0's 64 actors, 64 homes in clusters of 8, no stealing", &cl_steal, 16, messages / 4, 1);
    cl_steal.steal = 1;
    sinks("skewed to home 0's 64 actors, 64 homes in clusters of 8, stealing", &cl_steal, 16, messages / 4, 1);

    rk_light_config tk = {1u << 18, wide + 16, 8, 8, 0, 0, 0};
    tokens("tokens, GPU-wide, inboxes", &tk, 1u << 16, 64);
    tk.handoff = RK_LIGHT_TOKEN;
    tokens("tokens, GPU-wide, hand-off", &tk, 1u << 16, 64);
    tk.handoff = RK_LIGHT_LOCAL;
    tokens("tokens, GPU-wide, local queue", &tk, 1u << 16, 64);
    tk.cluster = 8;
    tokens("tokens, GPU-wide, local queue, clusters of 8", &tk, 1u << 16, 64);
    tk.handoff = 0;
    tk.steal = 1;
    tokens("tokens, GPU-wide, clusters of 8, stealing", &tk, 1u << 16, 64);
    return 0;
}
