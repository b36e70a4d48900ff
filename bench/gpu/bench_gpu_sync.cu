/* Synchronisation and allocation costs that shape a persistent kernel's
 * design, each pair measured in one process on one device:
 *
 *   grid.sync            cooperative launch, one block of 128 threads per SM
 *                        (--blocks-per-sm), all resident; cooperative groups'
 *                        grid-wide barrier
 *   cluster.sync C       cudaLaunchKernelEx with cluster dimension C (2, 4, 8,
 *                        16; 16 needs cudaFuncAttributeNonPortableClusterSizeAllowed),
 *                        as many clusters as can be resident at once; the
 *                        cluster-wide barrier (hardware, Hopper)
 *   cudaMalloc N         the call alone (the cudaFree after it is timed apart)
 *   cudaMallocAsync N    cudaMallocFromPoolAsync from a pool of our own whose
 *                        release threshold keeps freed memory (set on the
 *                        pool, not on the device), each allocation freed with
 *                        cudaFreeAsync on the same stream; the call alone
 *
 * Barriers: block 0's thread 0 reads %globaltimer around a batch of
 * --per-batch barriers; a sample is the batch's time divided by its size
 * (the batch mean: %globaltimer is too coarse for one barrier). The first
 * --warmup-batches batches are dropped. Allocations: each call timed with
 * CLOCK_MONOTONIC on the host.
 *
 * Usage: bench_gpu_sync [--batches 2000] [--per-batch 100] [--warmup-batches 20]
 *          [--blocks-per-sm 1] [--clusters 2,4,8,16] [--sizes-mib 1,16]
 *          [--malloc-trials 1000] [--async-trials 10000] [--json PATH] */
#include <cooperative_groups.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_gpu.h"

namespace cg = cooperative_groups;

enum { MAX_LIST = 8 };

static __device__ __forceinline__ unsigned long long gtimer(void)
{
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

__global__ void grid_sync_kernel(unsigned long long *out, int batches, int per_batch)
{
    cg::grid_group g = cg::this_grid();
    const bool timer = blockIdx.x == 0 && threadIdx.x == 0;
    for (int b = 0; b < batches; b++) {
        unsigned long long t0 = timer ? gtimer() : 0;
        for (int i = 0; i < per_batch; i++)
            g.sync();
        if (timer)
            out[b] = gtimer() - t0;
    }
}

__global__ void cluster_sync_kernel(unsigned long long *out, int batches, int per_batch)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cg::cluster_group cl = cg::this_cluster();
    const bool timer = blockIdx.x == 0 && threadIdx.x == 0;
    for (int b = 0; b < batches; b++) {
        unsigned long long t0 = timer ? gtimer() : 0;
        for (int i = 0; i < per_batch; i++)
            cl.sync();
        if (timer)
            out[b] = gtimer() - t0;
    }
#else
    (void)out;
    (void)batches;
    (void)per_batch;
    __trap(); /* clusters need compute capability 9.0; the host checks first */
#endif
}


typedef struct sync_opts {
    int batches, per_batch, warm;
} sync_opts;

/* Per-barrier microseconds from the batch times (warm-up dropped). */
static void barrier_samples(rkb *b, const char *name, const char *desc, const unsigned long long *dout,
                            const sync_opts *o)
{
    int n = o->batches - o->warm;
    unsigned long long *h = (unsigned long long *)malloc((size_t)o->batches * sizeof *h);
    double *us = (double *)malloc((size_t)n * sizeof *us);
    RKB_CUDA(cudaMemcpy(h, dout, (size_t)o->batches * sizeof *h, cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++)
        us[i] = (double)h[o->warm + i] / 1e3 / o->per_batch;
    rkb_samples(b, name, "us", us, (size_t)n, desc);
    free(h);
    free(us);
}

static int grid_sync(rkb *b, const sync_opts *o, int per_sm)
{
    int coop = 0, fit = 0, blocks;
    unsigned long long *out;
    cudaStream_t s;
    void *args[3];
    char desc[200];
    RKB_CUDA(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, 0));
    RKB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&fit, grid_sync_kernel, 128, 0));
    if (!coop || fit < per_sm) {
        printf("  grid.sync: cooperative launch of %d blocks per SM not possible here\n", per_sm);
        return 0;
    }
    blocks = b->gpu.sms * per_sm;
    RKB_CUDA(cudaMalloc((void **)&out, (size_t)o->batches * sizeof *out));
    RKB_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    args[0] = (void *)&out;
    args[1] = (void *)&o->batches;
    args[2] = (void *)&o->per_batch;
    RKB_CUDA(cudaLaunchCooperativeKernel((const void *)grid_sync_kernel, dim3(blocks), dim3(128), args, 0, s));
    rkb_wait_stream(s, 60, "grid.sync kernel");
    snprintf(desc, sizeof desc,
             "cooperative groups grid.sync over %d blocks x 128 threads (cooperative launch); batch mean of %d "
             "barriers, %%globaltimer",
             blocks, o->per_batch);
    barrier_samples(b, "grid.sync", desc, out, o);
    rkb_param_num(b, "grid_blocks", blocks);
    RKB_CUDA(cudaFree(out));
    RKB_CUDA(cudaStreamDestroy(s));
    return 1;
}

static int cluster_sync(rkb *b, const sync_opts *o, unsigned c)
{
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute attr[1] = {};
    unsigned long long *out;
    cudaStream_t s;
    int clusters = 0;
    char name[48], desc[200];
    cudaError_t e;
    if (b->gpu.cc_major < 9) {
        printf("  cluster.sync %u: needs compute capability 9.0\n", c);
        return 0;
    }
    RKB_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    if (c > 8)
        RKB_CUDA(cudaFuncSetAttribute(cluster_sync_kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = c;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.gridDim = dim3(c);
    cfg.blockDim = dim3(128);
    cfg.stream = s;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    e = cudaOccupancyMaxActiveClusters(&clusters, (const void *)cluster_sync_kernel, &cfg);
    if (e != cudaSuccess || clusters == 0) {
        printf("  cluster.sync %u: no cluster of this size fits (%s)\n", c, cudaGetErrorString(e));
        (void)cudaGetLastError();
        RKB_CUDA(cudaStreamDestroy(s));
        return 0;
    }
    cfg.gridDim = dim3((unsigned)clusters * c);
    RKB_CUDA(cudaMalloc((void **)&out, (size_t)o->batches * sizeof *out));
    RKB_CUDA(cudaLaunchKernelEx(&cfg, cluster_sync_kernel, out, o->batches, o->per_batch));
    rkb_wait_stream(s, 60, "cluster.sync kernel");
    snprintf(name, sizeof name, "cluster.sync %u", c);
    snprintf(desc, sizeof desc,
             "cooperative groups cluster.sync, cluster of %u blocks x 128 threads, %d clusters resident; batch mean "
             "of %d barriers, %%globaltimer",
             c, clusters, o->per_batch);
    barrier_samples(b, name, desc, out, o);
    snprintf(name, sizeof name, "clusters_%u", c);
    rkb_param_num(b, name, clusters);
    RKB_CUDA(cudaFree(out));
    RKB_CUDA(cudaStreamDestroy(s));
    return 1;
}

/* cudaMalloc and cudaFree of `bytes`, each call timed. */
static void plain_alloc(rkb *b, size_t mib, unsigned trials)
{
    const unsigned warm = trials / 10 + 1;
    double *ta = (double *)malloc(trials * sizeof *ta), *tf = (double *)malloc(trials * sizeof *tf);
    char name[64], desc[160];
    for (unsigned i = 0; i < warm + trials; i++) {
        void *p;
        uint64_t t0 = rkb_now_ns(), t1, t2;
        RKB_CUDA(cudaMalloc(&p, mib << 20));
        t1 = rkb_now_ns();
        RKB_CUDA(cudaFree(p));
        t2 = rkb_now_ns();
        if (i >= warm) {
            ta[i - warm] = (double)(t1 - t0) / 1e3;
            tf[i - warm] = (double)(t2 - t1) / 1e3;
        }
    }
    snprintf(name, sizeof name, "cudaMalloc %zu MiB", mib);
    snprintf(desc, sizeof desc, "host time of one cudaMalloc of %zu MiB (freed after each, timed apart)", mib);
    rkb_samples(b, name, "us", ta, trials, desc);
    snprintf(name, sizeof name, "cudaFree %zu MiB", mib);
    snprintf(desc, sizeof desc, "host time of the cudaFree after each cudaMalloc of %zu MiB", mib);
    rkb_samples(b, name, "us", tf, trials, desc);
    free(ta);
    free(tf);
}

/* cudaMallocFromPoolAsync of `bytes` from a pool that keeps what is freed. */
static void pool_alloc(rkb *b, size_t mib, unsigned trials)
{
    const unsigned warm = trials / 10 + 1;
    double *ta = (double *)malloc(trials * sizeof *ta);
    cudaMemPoolProps props;
    cudaMemPool_t pool;
    cudaStream_t s;
    uint64_t keep = UINT64_MAX;
    char name[64], desc[200];
    memset(&props, 0, sizeof props);
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = b->gpu.device;
    RKB_CUDA(cudaMemPoolCreate(&pool, &props));
    RKB_CUDA(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    RKB_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    for (unsigned i = 0; i < warm + trials; i++) {
        void *p;
        uint64_t t0 = rkb_now_ns(), t1;
        RKB_CUDA(cudaMallocFromPoolAsync(&p, mib << 20, pool, s));
        t1 = rkb_now_ns();
        RKB_CUDA(cudaFreeAsync(p, s));
        if (i >= warm)
            ta[i - warm] = (double)(t1 - t0) / 1e3;
        if (i % 1024 == 1023)
            rkb_wait_stream(s, 30, "cudaFreeAsync");
    }
    rkb_wait_stream(s, 30, "cudaFreeAsync");
    snprintf(name, sizeof name, "cudaMallocAsync %zu MiB", mib);
    snprintf(desc, sizeof desc,
             "host time of one cudaMallocFromPoolAsync of %zu MiB from a pool with release threshold UINT64_MAX, "
             "freed with cudaFreeAsync on the same stream",
             mib);
    rkb_samples(b, name, "us", ta, trials, desc);
    RKB_CUDA(cudaStreamDestroy(s));
    RKB_CUDA(cudaMemPoolDestroy(pool));
    free(ta);
}

int main(int argc, char **argv)
{
    sync_opts o;
    unsigned clusters[MAX_LIST], sizes[MAX_LIST];
    int nc = rkb_arg_list(argc, argv, "--clusters", "2,4,8,16", clusters, MAX_LIST);
    int ns = rkb_arg_list(argc, argv, "--sizes-mib", "1,16", sizes, MAX_LIST);
    int per_sm = (int)rkb_arg_u64(argc, argv, "--blocks-per-sm", 1);
    unsigned mtrials = (unsigned)rkb_arg_u64(argc, argv, "--malloc-trials", 1000);
    unsigned atrials = (unsigned)rkb_arg_u64(argc, argv, "--async-trials", 10000);
    char line[768];
    size_t k;
    int have_grid;
    rkb b;

    o.batches = (int)rkb_arg_u64(argc, argv, "--batches", 2000);
    o.per_batch = (int)rkb_arg_u64(argc, argv, "--per-batch", 100);
    o.warm = (int)rkb_arg_u64(argc, argv, "--warmup-batches", 20);
    if (o.batches <= o.warm || o.per_batch < 1 || per_sm < 1 || mtrials < 2 || atrials < 2) {
        fprintf(stderr, "need --batches > --warmup-batches, --per-batch >= 1, trials >= 2\n");
        return 2;
    }
    if (rkb_init(&b, "bench_gpu_sync", argc, argv) != 0)
        return RKB_SKIP;
    rkb_param_num(&b, "batches", o.batches);
    rkb_param_num(&b, "per_batch", o.per_batch);
    rkb_param_num(&b, "warmup_batches", o.warm);
    rkb_param_num(&b, "blocks_per_sm", per_sm);
    rkb_param_num(&b, "malloc_trials", mtrials);
    rkb_param_num(&b, "async_trials", atrials);

    printf("barriers (us per barrier):\n");
    have_grid = grid_sync(&b, &o, per_sm);
    k = 0;
    rkb_append(line, sizeof line, &k, "summary bench_gpu_sync: grid.sync %.3f us",
           have_grid ? rkb_find(&b, "grid_sync")->st.median : NAN);
    for (int i = 0; i < nc; i++) {
        char id[32];
        if (!cluster_sync(&b, &o, clusters[i]))
            continue;
        snprintf(id, sizeof id, "cluster_sync_%u", clusters[i]);
        if (have_grid)
            rkb_compare(&b, id, "grid_sync", "cluster barrier / grid barrier");
        rkb_append(line, sizeof line, &k, "; cluster.sync %u %.3f us", clusters[i], rkb_find(&b, id)->st.median);
    }
    printf("allocation (us per call):\n");
    for (int i = 0; i < ns; i++) {
        char a[48], p[48];
        plain_alloc(&b, sizes[i], mtrials);
        pool_alloc(&b, sizes[i], atrials);
        snprintf(a, sizeof a, "cudamallocasync_%u_mib", sizes[i]);
        snprintf(p, sizeof p, "cudamalloc_%u_mib", sizes[i]);
        rkb_compare(&b, a, p, "pool allocation / cudaMalloc");
        rkb_append(line, sizeof line, &k, "; %u MiB cudaMalloc %.1f us vs pool %.2f us", sizes[i],
               rkb_find(&b, p)->st.median, rkb_find(&b, a)->st.median);
    }
    {
        int rc = rkb_finish(&b);
        printf("\n%s\n", line);
        return rc;
    }
}
