/* Multi-GPU platform floors: what moving data and signals between two GPUs
 * costs with CUDA alone, the numbers a multi-GPU runtime is held against.
 * One process, devices 0 and 1 (CUDA_VISIBLE_DEVICES picks which):
 *
 *   topology              for every ordered pair of devices:
 *                         cudaDeviceCanAccessPeer and the P2P attributes
 *                         access supported, native atomics supported and
 *                         performance rank (JSON "values")
 *   peer copy 0->1 S      one cudaMemcpyPeerAsync of S bytes (64 KiB, 1, 16,
 *                         64, 256 MiB) from device 0 to device 1, peer access
 *                         enabled both ways; a sample is the time between two
 *                         events recorded around it on device 0's stream.
 *                         GB/s (1e9 bytes) from the median; the best over the
 *                         sizes is "peer_peak_GBps"
 *   peer copy 1->0 256 MiB           the reverse, events on device 1's stream
 *   peer copy bidirectional 256 MiB  both directions at once, each copy on a
 *                         stream of its source device; the events span both,
 *                         and GB/s counts the bytes of both
 *   peer copy 16 MiB (host-timed)    CLOCK_MONOTONIC around cudaMemcpyPeerAsync
 *                         and cudaStreamSynchronize: what a runtime pays to
 *                         move 16 MiB to the other GPU and wait for it
 *   host-staged copy 16 MiB          the same move through pinned host memory:
 *                         DtoH on device 0's stream, then (after an event)
 *                         HtoD on device 1's stream, one host wait; unchunked
 *   device copy 16 MiB (host-timed)  cudaMemcpyAsync DtoD within device 0,
 *                         timed the same way: the reference without a link
 *   cross-GPU ping-pong (acquire/release .sys)
 *                         a one-thread kernel on each device bounces a counter
 *                         through two words, each in its receiver's memory:
 *                         each side polls its own memory with ld.acquire.sys
 *                         and writes the other's over the peer mapping with
 *                         st.release.sys. A sample is one round trip as device
 *                         0 sees it (clock64 cycles, converted with the clock
 *                         rate measured against %globaltimer over the run),
 *                         every --sample-every'th trip after --pp-warmup
 *   same-GPU block ping-pong (.sys)  the same between two blocks of one
 *                         kernel on device 0 (a cooperative launch, so both
 *                         are resident), both words in device 0's memory
 *
 * With one device: the topology, the 16 MiB copy within the device and the
 * same-GPU ping-pong; the program says which parts it skipped and why, and
 * exits 0. Every spin on the GPU gives up after --timeout-s without an
 * answer (the program then exits 1), and the host's waits for kernels are
 * bounded too.
 *
 * Usage: bench_gpu_peer [--copy-seconds 1] [--min-trials 20] [--max-trials 10000]
 *          [--migrate-trials 2000] [--round-trips 100000] [--pp-warmup 1000]
 *          [--sample-every 10] [--timeout-s 5] [--json PATH] */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_gpu.h"

enum { BATCH = 32, NSIZES = 5, WARM_COPIES = 4 };

static const size_t sizes[NSIZES] = {64u << 10, 1u << 20, 16u << 20, 64u << 20, 256u << 20};
static const size_t BIG = 256u << 20;    /* reverse and bidirectional copies; the buffers' size */
static const size_t MIGRATE = 16u << 20; /* the host-timed moves */

typedef struct peer_opts {
    double copy_seconds, timeout_s;
    unsigned min_trials, max_trials, migrate_trials, every;
    uint64_t round_trips, warm;
} peer_opts;

/* What the copies use: a source and a destination buffer and a non-blocking
 * stream per device in use, pinned staging memory, one event. */
typedef struct peer_bufs {
    void *src[2], *dst[2], *host;
    cudaStream_t s[2];
    cudaEvent_t staged; /* device 0: the DtoH half of a host-staged move is done */
    int ndev;
} peer_bufs;


static void size_label(char *out, size_t cap, size_t bytes)
{
    if (bytes >= (1u << 20))
        snprintf(out, cap, "%zu MiB", bytes >> 20);
    else
        snprintf(out, cap, "%zu KiB", bytes >> 10);
}

/* ---- topology ------------------------------------------------------------------- */

static void pair_value(rkb *b, int i, int j, const char *what, int v, const char *desc)
{
    char name[96];
    snprintf(name, sizeof name, "p2p %d->%d %s", i, j, what);
    rkb_value_record(b, name, "", v, desc);
}

/* Records every ordered pair's peer attributes; returns whether devices 0
 * and 1 can each access the other's memory. */
static int topology(rkb *b, int ndev)
{
    int can01 = 0, can10 = 0;
    printf("topology: %d device%s%s\n", ndev, ndev == 1 ? "" : "s", ndev == 1 ? " (no pairs)" : "");
    for (int d = 0; d < ndev; d++) {
        rkb_gpu g;
        char key[32], val[160];
        RKB_CUDA(rkb_gpu_query(&g, d));
        printf("  device %d: %s (%d SMs, sm_%d%d, %s)\n", d, g.name, g.sms, g.cc_major, g.cc_minor, g.pci_bus_id);
        snprintf(key, sizeof key, "device_%d", d);
        snprintf(val, sizeof val, "%.120s, %s", g.name, g.pci_bus_id);
        rkb_param_str(b, key, val);
    }
    for (int i = 0; i < ndev; i++)
        for (int j = 0; j < ndev; j++) {
            int can = 0, access = 0, atomics = 0, rank = 0;
            if (i == j)
                continue;
            RKB_CUDA(cudaDeviceCanAccessPeer(&can, i, j));
            RKB_CUDA(cudaDeviceGetP2PAttribute(&access, cudaDevP2PAttrAccessSupported, i, j));
            RKB_CUDA(cudaDeviceGetP2PAttribute(&atomics, cudaDevP2PAttrNativeAtomicSupported, i, j));
            RKB_CUDA(cudaDeviceGetP2PAttribute(&rank, cudaDevP2PAttrPerformanceRank, i, j));
            printf("  %d -> %d: canAccessPeer %d, access supported %d, native atomics %d, performance rank %d\n", i, j,
                   can, access, atomics, rank);
            pair_value(b, i, j, "can access peer", can, "cudaDeviceCanAccessPeer(i, j): 1 if i can map j's memory");
            pair_value(b, i, j, "access supported", access, "cudaDevP2PAttrAccessSupported");
            pair_value(b, i, j, "native atomics", atomics, "cudaDevP2PAttrNativeAtomicSupported");
            pair_value(b, i, j, "performance rank", rank,
                       "cudaDevP2PAttrPerformanceRank: relative link performance, lower is better");
            if (i == 0 && j == 1)
                can01 = can;
            if (i == 1 && j == 0)
                can10 = can;
        }
    return can01 && can10;
}


static void bufs_open(peer_bufs *p, int ndev)
{
    const size_t cap = ndev > 1 ? BIG : MIGRATE;
    memset(p, 0, sizeof *p);
    p->ndev = ndev;
    for (int d = 0; d < ndev; d++) {
        RKB_CUDA(cudaSetDevice(d));
        RKB_CUDA(cudaMalloc(&p->src[d], cap));
        RKB_CUDA(cudaMalloc(&p->dst[d], cap));
        RKB_CUDA(cudaMemset(p->src[d], d + 1, cap));
        RKB_CUDA(cudaMemset(p->dst[d], 0, cap));
        RKB_CUDA(cudaDeviceSynchronize()); /* the copies' non-blocking streams do not wait for the memsets */
        RKB_CUDA(cudaStreamCreateWithFlags(&p->s[d], cudaStreamNonBlocking));
    }
    RKB_CUDA(cudaSetDevice(0));
    RKB_CUDA(cudaEventCreateWithFlags(&p->staged, cudaEventDisableTiming));
    /* Portable: pinned for device 1's copies too, not only device 0's. */
    if (ndev > 1)
        RKB_CUDA(cudaHostAlloc(&p->host, MIGRATE, cudaHostAllocPortable));
}

static void bufs_close(peer_bufs *p)
{
    for (int d = 0; d < p->ndev; d++) {
        RKB_CUDA(cudaSetDevice(d));
        RKB_CUDA(cudaStreamDestroy(p->s[d]));
        RKB_CUDA(cudaFree(p->src[d]));
        RKB_CUDA(cudaFree(p->dst[d]));
    }
    RKB_CUDA(cudaSetDevice(0));
    RKB_CUDA(cudaEventDestroy(p->staged));
    if (p->host)
        RKB_CUDA(cudaFreeHost(p->host));
}

/* ---- event-timed peer copies ----------------------------------------------------------- */

/* One copy of a trial: `bytes` from src_dev to dst_dev on `s`, a stream of src_dev. */
typedef struct copy_leg {
    void *dst;
    const void *src;
    int dst_dev, src_dev;
    cudaStream_t s;
} copy_leg;

/* Enqueues one trial: `start` on leg 0's stream, the legs, `stop` on leg
 * 0's stream once every leg is done. With two legs, `mid` (leg 1's device)
 * marks leg 1's end. */
static void enqueue_trial(const copy_leg *l, int nlegs, size_t bytes, cudaEvent_t start, cudaEvent_t mid,
                          cudaEvent_t stop)
{
    RKB_CUDA(cudaEventRecord(start, l[0].s));
    if (nlegs == 2)
        RKB_CUDA(cudaStreamWaitEvent(l[1].s, start, 0)); /* leg 1 starts with leg 0, not before */
    for (int i = 0; i < nlegs; i++)
        RKB_CUDA(cudaMemcpyPeerAsync(l[i].dst, l[i].dst_dev, l[i].src, l[i].src_dev, bytes, l[i].s));
    if (nlegs == 2) {
        RKB_CUDA(cudaEventRecord(mid, l[1].s));
        RKB_CUDA(cudaStreamWaitEvent(l[0].s, mid, 0)); /* stop waits for leg 1 as well */
    }
    RKB_CUDA(cudaEventRecord(stop, l[0].s));
}

/* Copies in batches of BATCH trials, each trial timed by its own events:
 * at least --min-trials, then more until --copy-seconds have passed or
 * --max-trials are done. Returns the recorded measurement (us per trial). */
static rkb_series *timed_copies(rkb *b, const char *name, const char *desc, const copy_leg *l, int nlegs, size_t bytes,
                                const peer_opts *o)
{
    cudaEvent_t start[BATCH], stop[BATCH], mid[BATCH] = {}; /* mid: two legs only */
    double *us = (double *)malloc(o->max_trials * sizeof *us);
    unsigned n = 0;
    uint64_t t_end;
    rkb_series *s;
    if (nlegs == 2) {
        RKB_CUDA(cudaSetDevice(l[1].src_dev));
        for (int k = 0; k < BATCH; k++)
            RKB_CUDA(cudaEventCreateWithFlags(&mid[k], cudaEventDisableTiming));
    }
    RKB_CUDA(cudaSetDevice(l[0].src_dev));
    for (int k = 0; k < BATCH; k++) {
        RKB_CUDA(cudaEventCreate(&start[k]));
        RKB_CUDA(cudaEventCreate(&stop[k]));
    }
    /* Untimed first copies: the first use of a path sets it up. */
    for (int k = 0; k < WARM_COPIES; k++)
        enqueue_trial(l, nlegs, bytes, start[k], mid[k], stop[k]);
    rkb_wait_stream(l[0].s, 60, name);
    t_end = rkb_now_ns() + (uint64_t)(o->copy_seconds * 1e9);
    while (n < o->min_trials || (n < o->max_trials && rkb_now_ns() < t_end)) {
        unsigned m = o->max_trials - n < (unsigned)BATCH ? o->max_trials - n : (unsigned)BATCH;
        for (unsigned k = 0; k < m; k++)
            enqueue_trial(l, nlegs, bytes, start[k], mid[k], stop[k]);
        rkb_wait_stream(l[0].s, 60, name);
        for (unsigned k = 0; k < m; k++) {
            float ms;
            RKB_CUDA(cudaEventElapsedTime(&ms, start[k], stop[k]));
            us[n++] = ms * 1e3;
        }
    }
    s = rkb_samples(b, name, "us", us, n, desc);
    for (int k = 0; k < BATCH; k++) {
        RKB_CUDA(cudaEventDestroy(start[k]));
        RKB_CUDA(cudaEventDestroy(stop[k]));
        if (nlegs == 2)
            RKB_CUDA(cudaEventDestroy(mid[k]));
    }
    RKB_CUDA(cudaSetDevice(0));
    free(us);
    return s;
}

/* GB/s (1e9 bytes) from a measurement's median, recorded as a value. */
static double gbps_value(rkb *b, const rkb_series *s, size_t bytes, const char *desc)
{
    char name[96];
    double gbps = (double)bytes / s->st.median / 1e3;
    snprintf(name, sizeof name, "%.80s GBps", s->name);
    rkb_value_add(b, name, "GB/s", gbps, desc);
    return gbps;
}

static void bandwidth(rkb *b, const peer_bufs *p, const peer_opts *o, char *line, size_t cap, size_t *k)
{
    const copy_leg fwd = {p->dst[1], p->src[0], 1, 0, p->s[0]};
    const copy_leg rev = {p->dst[0], p->src[1], 0, 1, p->s[1]};
    const copy_leg both[2] = {fwd, rev};
    double peak = 0, r, bi;
    size_t peak_at = 0;
    char label[24], name[64], desc[240];
    printf("peer copy bandwidth (us per copy, cudaEvents on the source device's stream):\n");
    for (int i = 0; i < NSIZES; i++) {
        double g;
        size_label(label, sizeof label, sizes[i]);
        snprintf(name, sizeof name, "peer copy 0->1 %s", label);
        snprintf(desc, sizeof desc,
                 "one cudaMemcpyPeerAsync of %s from device 0 to device 1 (peer access on); time between events "
                 "recorded before and after it on device 0's stream",
                 label);
        g = gbps_value(b, timed_copies(b, name, desc, &fwd, 1, sizes[i], o), sizes[i],
                       "bytes (1e9 per GB) over the median copy time, device 0 -> device 1");
        if (g > peak) {
            peak = g;
            peak_at = sizes[i];
        }
    }
    rkb_value_add(b, "peer_peak_GBps", "GB/s", peak, "best median GB/s over the copy sizes, device 0 -> device 1");
    r = gbps_value(b,
                   timed_copies(b, "peer copy 1->0 256 MiB",
                                "one cudaMemcpyPeerAsync of 256 MiB from device 1 to device 0 (peer access on); time "
                                "between events around it on device 1's stream",
                                &rev, 1, BIG, o),
                   BIG, "bytes (1e9 per GB) over the median copy time, device 1 -> device 0");
    bi = gbps_value(b,
                    timed_copies(b, "peer copy bidirectional 256 MiB",
                                 "256 MiB 0->1 on device 0's stream and 256 MiB 1->0 on device 1's stream at once; "
                                 "from an event before both to an event after both, on device 0's stream",
                                 both, 2, BIG, o),
                    2 * BIG, "bytes of both directions (1e9 per GB) over the median time of the pair");
    size_label(label, sizeof label, peak_at);
    rkb_append(line, cap, k, "; peer peak 0->1 %.1f GB/s (at %s), 256 MiB 1->0 %.1f GB/s, bidirectional %.1f GB/s", peak,
           label, r, bi);
}

/* ---- host-timed 16 MiB moves ------------------------------------------------------------- */

enum { MOVE_LOCAL, MOVE_PEER, MOVE_STAGED };

/* One 16 MiB move as a runtime would make it, waiting for it to finish. */
static void move_once(const peer_bufs *p, int how)
{
    switch (how) {
    case MOVE_PEER:
        RKB_CUDA(cudaMemcpyPeerAsync(p->dst[1], 1, p->src[0], 0, MIGRATE, p->s[0]));
        RKB_CUDA(cudaStreamSynchronize(p->s[0]));
        break;
    case MOVE_STAGED:
        RKB_CUDA(cudaMemcpyAsync(p->host, p->src[0], MIGRATE, cudaMemcpyDeviceToHost, p->s[0]));
        RKB_CUDA(cudaEventRecord(p->staged, p->s[0]));
        RKB_CUDA(cudaStreamWaitEvent(p->s[1], p->staged, 0)); /* HtoD reads what the DtoH wrote */
        RKB_CUDA(cudaMemcpyAsync(p->dst[1], p->host, MIGRATE, cudaMemcpyHostToDevice, p->s[1]));
        RKB_CUDA(cudaStreamSynchronize(p->s[1]));
        break;
    default:
        RKB_CUDA(cudaMemcpyAsync(p->dst[0], p->src[0], MIGRATE, cudaMemcpyDeviceToDevice, p->s[0]));
        RKB_CUDA(cudaStreamSynchronize(p->s[0]));
    }
}

/* Each move timed with the host clock, from the first call to the return
 * of the stream synchronisation; a tenth as many untimed first. */
static rkb_series *host_timed(rkb *b, const peer_bufs *p, int how, const char *name, const char *desc, unsigned trials)
{
    const unsigned warm = trials / 10 + 1;
    double *us = (double *)malloc(trials * sizeof *us);
    rkb_series *s;
    for (unsigned i = 0; i < warm + trials; i++) {
        uint64_t t0 = rkb_now_ns();
        move_once(p, how);
        if (i >= warm)
            us[i - warm] = (double)(rkb_now_ns() - t0) / 1e3;
    }
    s = rkb_samples(b, name, "us", us, trials, desc);
    free(us);
    return s;
}

/* The 16 MiB moves: within device 0 always; peer and host-staged with two
 * devices (peer only when they can map each other's memory). */
static void moves(rkb *b, const peer_bufs *p, int cross, const peer_opts *o, char *line, size_t cap, size_t *k)
{
    double local, peer = 0, staged = 0;
    printf("16 MiB moves (us per move, host clock around the copy and its stream synchronisation):\n");
    local = host_timed(b, p, MOVE_LOCAL, "device copy 16 MiB (host-timed)",
                       "cudaMemcpyAsync DtoD of 16 MiB within device 0, then cudaStreamSynchronize; CLOCK_MONOTONIC "
                       "around both",
                       o->migrate_trials)
                ->st.median;
    if (cross)
        peer = host_timed(b, p, MOVE_PEER, "peer copy 16 MiB (host-timed)",
                          "cudaMemcpyPeerAsync of 16 MiB from device 0 to device 1, then cudaStreamSynchronize; "
                          "CLOCK_MONOTONIC around both",
                          o->migrate_trials)
                   ->st.median;
    if (p->ndev > 1)
        staged = host_timed(b, p, MOVE_STAGED, "host-staged copy 16 MiB",
                            "cudaMemcpyAsync DtoH of 16 MiB into pinned memory on device 0's stream, then HtoD to "
                            "device 1 on its stream after an event; CLOCK_MONOTONIC to the end of the HtoD's sync",
                            o->migrate_trials)
                     ->st.median;
    if (cross) {
        rkb_compare(b, "peer_copy_16_mib_host_timed", "peer_copy_0_1_16_mib",
                    "host-timed peer copy (with its stream sync) / the same copy between events: what the host wait "
                    "adds");
        rkb_compare(b, "host_staged_copy_16_mib", "peer_copy_16_mib_host_timed",
                    "host-staged move / peer copy, 16 MiB, both host-timed");
        rkb_compare(b, "peer_copy_16_mib_host_timed", "device_copy_16_mib_host_timed",
                    "peer copy 0->1 / copy within device 0, 16 MiB, both host-timed");
    }
    rkb_append(line, cap, k, "; 16 MiB move within GPU 0 %.1f us", local);
    if (cross)
        rkb_append(line, cap, k, ", peer 0->1 %.1f us, host-staged %.1f us (%.2fx peer)", peer, staged, staged / peer);
    else if (p->ndev > 1)
        rkb_append(line, cap, k, ", host-staged %.1f us", staged);
}

/* ---- flag ping-pong ---------------------------------------------------------------------- */

/* What each side reports back (copied to the host as bytes). */
typedef struct pp_result {
    uint64_t failed_at; /* the round trip a wait gave up on; 0: none */
    uint64_t gt_ns;     /* %globaltimer over the measured trips (initiator) */
    uint64_t cycles;    /* clock64 over the same span */
} pp_result;
static_assert(sizeof(pp_result) == 24, "pp_result is copied between host and device as is");

typedef struct pp_side {
    uint64_t *mine;   /* polled here: in this side's device memory */
    uint64_t *theirs; /* written from here: in the other side's device memory */
    int initiator;
} pp_side;

typedef struct pp_args {
    pp_side side[2];   /* by blockIdx.x */
    pp_result *res;    /* by blockIdx.x */
    uint64_t *samples; /* the initiator's: cycles of every `every`'th measured trip */
    uint64_t warm, n, timeout_ns;
    unsigned every;
} pp_args;

static __device__ __forceinline__ uint64_t gtimer(void)
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* Release at system scope: the stores before this one (a message's payload,
 * in a real protocol) are visible to whoever acquires this value, on either
 * GPU. Here the counter is the whole message; the release is what a ring
 * slot would pay, so it is priced in. */
static __device__ __forceinline__ void put(uint64_t *p, uint64_t v)
{
    asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

/* Spins until *p == want; each load is an acquire at system scope, paired
 * with the sender's st.release.sys. Gives up after timeout_ns without it;
 * the timer is read every 1024 spins, so a quick answer does not pay for it. */
static __device__ bool wait_for(const uint64_t *p, uint64_t want, uint64_t timeout_ns)
{
    uint64_t v, since = 0;
    for (unsigned spins = 1;; spins++) {
        asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
        if (v == want)
            return true;
        if ((spins & 1023) == 0) {
            uint64_t now = gtimer();
            if (since == 0)
                since = now;
            else if (now - since > timeout_ns)
                return false;
        }
    }
}

/* Sends i, waits for i back; a sample is the cycles from before the send
 * to the answer. */
static __device__ void initiator(const pp_args &a, const pp_side &s, pp_result *r)
{
    uint64_t gt0 = 0, clk0 = 0, k = 0;
    unsigned left = a.every;
    for (uint64_t i = 1; i <= a.warm + a.n; i++) {
        if (i == a.warm + 1) {
            gt0 = gtimer();
            clk0 = (uint64_t)clock64();
        }
        const long long c0 = clock64();
        put(s.theirs, i);
        if (!wait_for(s.mine, i, a.timeout_ns)) {
            r->failed_at = i;
            return;
        }
        const long long c1 = clock64();
        if (i > a.warm && --left == 0) {
            left = a.every;
            a.samples[k++] = (uint64_t)(c1 - c0);
        }
    }
    r->failed_at = 0;
    r->gt_ns = gtimer() - gt0;
    r->cycles = (uint64_t)clock64() - clk0;
}

/* Waits for i, sends i back. */
static __device__ void responder(const pp_args &a, const pp_side &s, pp_result *r)
{
    for (uint64_t i = 1; i <= a.warm + a.n; i++) {
        if (!wait_for(s.mine, i, a.timeout_ns)) {
            r->failed_at = i;
            return;
        }
        put(s.theirs, i);
    }
    r->failed_at = 0;
}

/* One thread per block; block b plays side[b]. */
__global__ void pingpong_kernel(pp_args a)
{
    const pp_side s = blockIdx.x ? a.side[1] : a.side[0]; /* not indexed: a stays in parameter space */
    if (s.initiator)
        initiator(a, s, &a.res[blockIdx.x]);
    else
        responder(a, s, &a.res[blockIdx.x]);
}

static void pp_check(const char *name, const char *side, const pp_result *r, const peer_opts *o)
{
    if (r->failed_at == 0)
        return;
    fprintf(stderr, "%s: %s got no answer to round trip %llu within %.1f s\n", name, side,
            (unsigned long long)r->failed_at, o->timeout_s);
    exit(1);
}

/* Runs a ping-pong, cross-GPU (devices 0 and 1, one kernel each) or on
 * device 0 alone (two blocks of one kernel), and records its round trips. */
static rkb_series *pingpong(rkb *b, int cross, const peer_opts *o)
{
    const char *name = cross ? "cross-GPU ping-pong (acquire/release .sys)" : "same-GPU block ping-pong (.sys)";
    const uint64_t nsamp = o->round_trips / o->every;
    const double limit = 2 * o->timeout_s + 60;
    uint64_t *words0, *words1 = NULL, *dsamples, *cyc = (uint64_t *)malloc(nsamp * sizeof *cyc);
    double *us = (double *)malloc(nsamp * sizeof *us), ns_per_cycle;
    pp_result *res0, *res1 = NULL, r0[2], r1;
    cudaStream_t s0, s1 = NULL;
    pp_args a0, a1;
    char vname[112], desc[240];
    rkb_series *s;
    memset(&a0, 0, sizeof a0);
    a0.warm = o->warm;
    a0.n = o->round_trips;
    a0.timeout_ns = (uint64_t)(o->timeout_s * 1e9);
    a0.every = o->every;
    /* Each word starts its own 128-byte line, so a side's poll never
     * shares a line with the word it writes (cudaMalloc aligns to 256). */
    RKB_CUDA(cudaSetDevice(0));
    RKB_CUDA(cudaMalloc((void **)&words0, 256));
    RKB_CUDA(cudaMemset(words0, 0, 256));
    RKB_CUDA(cudaDeviceSynchronize()); /* the kernels' non-blocking streams do not wait for the memset */
    RKB_CUDA(cudaMalloc((void **)&res0, 2 * sizeof *res0));
    RKB_CUDA(cudaMalloc((void **)&dsamples, nsamp * sizeof *dsamples));
    RKB_CUDA(cudaStreamCreateWithFlags(&s0, cudaStreamNonBlocking));
    a0.res = res0;
    a0.samples = dsamples;
    if (cross) {
        RKB_CUDA(cudaSetDevice(1));
        RKB_CUDA(cudaMalloc((void **)&words1, 256));
        RKB_CUDA(cudaMemset(words1, 0, 256));
        RKB_CUDA(cudaDeviceSynchronize());
        RKB_CUDA(cudaMalloc((void **)&res1, sizeof *res1));
        RKB_CUDA(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
        a1 = a0;
        a1.res = res1;
        a0.side[0] = pp_side{words0, words1, 1};
        a1.side[0] = pp_side{words1, words0, 0};
        /* The responder first: it waits (bounded) until the initiator starts. */
        pingpong_kernel<<<1, 1, 0, s1>>>(a1);
        RKB_CUDA(cudaGetLastError());
        RKB_CUDA(cudaSetDevice(0));
        pingpong_kernel<<<1, 1, 0, s0>>>(a0);
        RKB_CUDA(cudaGetLastError());
    } else {
        int coop = 0;
        void *args[1] = {&a0};
        a0.side[0] = pp_side{words0, words0 + 16, 1};
        a0.side[1] = pp_side{words0 + 16, words0, 0};
        RKB_CUDA(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, 0));
        if (coop) /* both blocks resident, or the launch fails */
            RKB_CUDA(cudaLaunchCooperativeKernel((const void *)pingpong_kernel, dim3(2), dim3(1), args, 0, s0));
        else
            pingpong_kernel<<<2, 1, 0, s0>>>(a0);
        RKB_CUDA(cudaGetLastError());
    }
    rkb_wait_stream(s0, limit, name);
    if (cross)
        rkb_wait_stream(s1, limit, name);
    RKB_CUDA(cudaMemcpy(r0, res0, (cross ? 1 : 2) * sizeof *r0, cudaMemcpyDeviceToHost));
    pp_check(name, cross ? "device 0 (initiator)" : "block 0 (initiator)", &r0[0], o);
    if (cross) {
        RKB_CUDA(cudaMemcpy(&r1, res1, sizeof r1, cudaMemcpyDeviceToHost));
        pp_check(name, "device 1 (responder)", &r1, o);
    } else {
        pp_check(name, "block 1 (responder)", &r0[1], o);
    }
    RKB_CUDA(cudaMemcpy(cyc, dsamples, nsamp * sizeof *cyc, cudaMemcpyDeviceToHost));
    ns_per_cycle = (double)r0[0].gt_ns / (double)r0[0].cycles;
    for (uint64_t i = 0; i < nsamp; i++)
        us[i] = (double)cyc[i] * ns_per_cycle / 1e3;
    snprintf(desc, sizeof desc,
             "%s; st.release.sys to the other's word, ld.acquire.sys spin on its own; one round trip on device 0 "
             "(clock64 at the run's mean SM clock), every %u-th trip",
             cross ? "one-thread kernels on devices 0 and 1, words in the receiver's memory"
                   : "two one-thread blocks of one kernel on device 0",
             o->every);
    s = rkb_samples(b, name, "us", us, (size_t)nsamp, desc);
    snprintf(vname, sizeof vname, "%s mean over run", cross ? "cross-GPU ping-pong" : "same-GPU ping-pong");
    rkb_value_add(b, vname, "us", (double)r0[0].gt_ns / 1e3 / (double)o->round_trips,
                  "%globaltimer over all measured round trips (samples stored included) / their count");
    snprintf(vname, sizeof vname, "%s SM clock", cross ? "cross-GPU ping-pong" : "same-GPU ping-pong");
    rkb_value_add(b, vname, "MHz", 1e3 / ns_per_cycle,
                  "device 0's clock64 cycles / %globaltimer ns over the run: converts the samples");
    RKB_CUDA(cudaStreamDestroy(s0));
    RKB_CUDA(cudaFree(words0));
    RKB_CUDA(cudaFree(res0));
    RKB_CUDA(cudaFree(dsamples));
    if (cross) {
        RKB_CUDA(cudaSetDevice(1));
        RKB_CUDA(cudaStreamDestroy(s1));
        RKB_CUDA(cudaFree(words1));
        RKB_CUDA(cudaFree(res1));
        RKB_CUDA(cudaSetDevice(0));
    }
    free(cyc);
    free(us);
    return s;
}

/* ---- main ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    peer_opts o;
    peer_bufs p;
    char line[1024], skipped[240] = "";
    size_t k = 0;
    int ndev = 0, cross = 0;
    rkb b;

    o.copy_seconds = rkb_arg_f64(argc, argv, "--copy-seconds", 1);
    o.min_trials = (unsigned)rkb_arg_u64(argc, argv, "--min-trials", 20);
    o.max_trials = (unsigned)rkb_arg_u64(argc, argv, "--max-trials", 10000);
    o.migrate_trials = (unsigned)rkb_arg_u64(argc, argv, "--migrate-trials", 2000);
    o.round_trips = rkb_arg_u64(argc, argv, "--round-trips", 100000);
    o.warm = rkb_arg_u64(argc, argv, "--pp-warmup", 1000);
    o.every = (unsigned)rkb_arg_u64(argc, argv, "--sample-every", 10);
    o.timeout_s = rkb_arg_f64(argc, argv, "--timeout-s", 5);
    if (o.copy_seconds < 0 || o.min_trials < 2 || o.max_trials < o.min_trials || o.migrate_trials < 2 || o.every < 1 ||
        o.round_trips / o.every < 2 || o.timeout_s <= 0) {
        fprintf(stderr, "need --copy-seconds >= 0, 2 <= --min-trials <= --max-trials, --migrate-trials >= 2, "
                        "--round-trips / --sample-every >= 2, --timeout-s > 0\n");
        return 2;
    }
    if (rkb_init(&b, "bench_gpu_peer", argc, argv) != 0)
        return RKB_SKIP;
    rkb_param_num(&b, "copy_seconds", o.copy_seconds);
    rkb_param_num(&b, "min_trials", o.min_trials);
    rkb_param_num(&b, "max_trials", o.max_trials);
    rkb_param_num(&b, "migrate_trials", o.migrate_trials);
    rkb_param_num(&b, "round_trips", (double)o.round_trips);
    rkb_param_num(&b, "pp_warmup", (double)o.warm);
    rkb_param_num(&b, "sample_every", o.every);
    rkb_param_num(&b, "timeout_s", o.timeout_s);

    RKB_CUDA(cudaGetDeviceCount(&ndev));
    rkb_param_num(&b, "devices", ndev);
    cross = topology(&b, ndev);
    if (ndev < 2)
        snprintf(skipped, sizeof skipped,
                 "1 device: peer bandwidth, peer and host-staged 16 MiB moves and the cross-GPU ping-pong need two");
    else if (!cross)
        snprintf(skipped, sizeof skipped,
                 "devices 0 and 1 cannot both map each other's memory (cudaDeviceCanAccessPeer): peer bandwidth, "
                 "peer 16 MiB move and cross-GPU ping-pong need it");
    if (cross) {
        rkb_enable_peer(0, 1);
        rkb_enable_peer(1, 0);
        RKB_CUDA(cudaSetDevice(0));
    } else {
        printf("skipped: %s\n", skipped);
    }
    rkb_param_str(&b, "cross_gpu_skipped", skipped);
    rkb_append(line, sizeof line, &k, "summary bench_gpu_peer: %d device%s%s", ndev, ndev == 1 ? "" : "s",
           cross ? "" : ", cross-GPU parts skipped");

    bufs_open(&p, ndev > 1 ? 2 : 1);
    if (cross)
        bandwidth(&b, &p, &o, line, sizeof line, &k);
    moves(&b, &p, cross, &o, line, sizeof line, &k);
    bufs_close(&p);

    printf("flag ping-pong (us per round trip):\n");
    {
        double same = pingpong(&b, 0, &o)->st.median;
        if (cross) {
            double x = pingpong(&b, 1, &o)->st.median;
            rkb_compare(&b, "cross_gpu_ping_pong_acquire_release_sys", "same_gpu_block_ping_pong_sys",
                        "cross-GPU round trip / same-GPU round trip, both acquire/release at system scope");
            rkb_append(line, sizeof line, &k, "; ping-pong round trip cross-GPU %.3f us", x);
        }
        rkb_append(line, sizeof line, &k, "%s same-GPU %.3f us", cross ? "," : "; ping-pong round trip", same);
    }
    if (!cross)
        printf("skipped: %s\n", skipped);
    {
        int rc = rkb_finish(&b);
        printf("\n%s\n", line);
        return rc;
    }
}
