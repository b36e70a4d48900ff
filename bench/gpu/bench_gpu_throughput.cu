/* GPU throughput: messages per second handled by GPU actors, fed by host
 * threads through the public API (rk_send), against the same bytes moved
 * through a bare mapped-memory ring in the same process:
 *
 *   raw ring  NB Pp       P host threads, each writing slots of the same size
 *                         (64-byte header + payload, sequence word written
 *                         last) into its own ring in pinned mapped memory; one
 *                         GPU warp per ring polls 32 slots at once, reads them
 *                         and hands the slots back every 64 messages. What the
 *                         platform allows without the runtime.
 *   throughput NB Pp Aa   P host threads calling rk_send to A counting GPU
 *                         actors (each producer round-robins over its share of
 *                         the actors; RK_EFULL moves it to the next one). The
 *                         actor checks the payload's first word and counts;
 *                         thread 0 posts the count to mapped host memory, which
 *                         the host samples every --interval-ms. The actors
 *                         send nothing back, so the host's single consumer of
 *                         the queue to the host is not in the path.
 *   sustained             one configuration for --seconds: the rate of every
 *                         second, their coefficient of variation, and host RSS
 *                         and device memory in use at the start and the end.
 *
 * Payload sizes 64 B, 256 B, 1 KB, 4 KB travel inline: the actor's slot is
 * sized to the payload, and RK_CUDA_MSG_BUFFER (the kernel's per-block copy
 * buffer) is raised where the default would not hold 8 slots, unless it is
 * set in the environment. Each configuration runs twice: one rk_send per
 * message, and rk_send_batch of --batch messages (32; 0 skips it; the
 * "batchN" rows). Rates are messages handled per second of wall time on the host
 * (CLOCK_MONOTONIC); each configuration runs after a warm-up; totals are
 * checked (every message sent was counted by an actor). A configuration
 * whose inboxes would take more than 256 MiB of pinned memory (4 KB
 * payloads to 128 actors) is skipped and says so.
 *
 * Usage: bench_gpu_throughput [--payloads 64,256,1024,4096] [--producers 1,4]
 *          [--actors 1,8] [--config-seconds 1] [--interval-ms 100] [--warmup-ms 250]
 *          [--seconds 10] [--sustained-payload 64] [--sustained-producers 4]
 *          [--sustained-actors 8] [--inbox 1024] [--batch 32] [--sustained-batch 0] [--pin 0] [--json PATH]
 * --seconds 0 skips the sustained run; the issue's target asks for 60.
 * --pin 1 pins the runtime's producer p to CPU (p + 1) mod the CPUs online
 * (no producer on CPU 0; the raw rings' producers and every other thread
 * stay unpinned); the default leaves them where the scheduler puts them. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_gpu.h"
#include "ringkernel/device.cuh"
#include "ringkernel/ringkernel.h"

enum { T_COUNT = 1 };
enum { MAX_ACTORS = 256, MAX_PRODUCERS = 32, MAX_LIST = 8 };
enum { MAX_BUFFER = 49152 }; /* the kernel's copy buffer can grow to 48 KiB */
enum { MAX_PAYLOAD = MAX_BUFFER - RK_MSG_HEADER_SIZE };
#define PAYLOAD_MAGIC 0x524b5450u
#define LINE_WORDS 16u /* one 128-byte line per counter: no false sharing */

/* ---- the GPU actor ------------------------------------------------------------------- */

typedef struct counter_state {
    unsigned long long *mirror; /* mapped host memory: messages handled so far */
    unsigned long long count;
} counter_state;

static __device__ rk_status count_msg(rk_dctx *c, counter_state *s, const rk_msg *m)
{
    (void)c;
    if (m->len < 8 || *(const uint32_t *)rk_msg_payload(m) != PAYLOAD_MAGIC)
        return RK_EBADMSG;
    if (threadIdx.x == 0) {
        s->count++;
        /* A posted write over PCIe: nothing on the GPU waits for it. */
        *(volatile unsigned long long *)s->mirror = s->count;
    }
    return RK_OK;
}

RK_GPU_ACTOR(counter_actor, counter_state, count_msg);
RK_GPU_PROGRAM(throughput_program, counter_actor);

/* ---- small helpers ----------------------------------------------------------------------- */

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(t_ns / 1000000000ull);
    ts.tv_nsec = (long)(t_ns % 1000000000ull);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static uint32_t round16(uint32_t v)
{
    return (v + 15u) & ~15u;
}

/* RK_CUDA_MSG_BUFFER for a slot size: 0 (the default, 4 KiB) when that
 * holds 8 slots, else 8 slots, at most 48 KiB (and at least one slot). */
static uint32_t msg_buffer_for(uint32_t slot)
{
    uint32_t b = 8u * slot;
    if (b <= 4096u)
        return 0;
    return b > MAX_BUFFER ? (slot > MAX_BUFFER ? slot : (uint32_t)MAX_BUFFER) : b;
}

/* Resident set of this process (Linux /proc/self/statm), MiB. */
static double rss_mib(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return NAN;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

/* Device memory in use on the whole device (total - free), MiB. */
static double device_used_mib(void)
{
    size_t free_b = 0, total_b = 0;
    RKB_CUDA(cudaMemGetInfo(&free_b, &total_b));
    return (double)(total_b - free_b) / 1048576.0;
}

static void fill_payload(unsigned char *buf, uint32_t len)
{
    uint32_t magic = PAYLOAD_MAGIC;
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (unsigned char)(i * 7u + 1u);
    memcpy(buf, &magic, sizeof magic);
}

/* ---- the baseline: a bare ring per (host thread, GPU warp) pair ------------------------------ */

typedef struct raw_ring {
    unsigned long long *slots; /* device view of the mapped slots */
    unsigned long long *head;  /* device view of the mapped consumer word */
    uint32_t capacity, slot_words;
} raw_ring;

/* One warp per ring: lane i checks slot head+i (acquire, system scope);
 * the run of ready slots from head is read by the whole warp with strong
 * loads (the host rewrites slots, so nothing may come from L1), then the
 * head goes back to the host every 64 slots or when idle. The warp leaves
 * after a full idle round that began after it saw the stop flag, so every
 * slot written before the flag has been read. */
__global__ void raw_consumer(const raw_ring *rings, const int *stop, unsigned long long *sink)
{
    const raw_ring r = rings[blockIdx.x];
    const unsigned lane = threadIdx.x;
    unsigned long long head = 0, published = 0, acc = 0;
    unsigned idle = 0;
    int stopping = 0;
    for (;;) {
        unsigned long long pos = head + lane, v;
        const unsigned long long *seq = r.slots + (pos & (r.capacity - 1)) * r.slot_words;
        unsigned ready, k;
        asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(seq) : "memory");
        ready = __ballot_sync(0xffffffffu, v == pos + 1);
        k = ~ready ? (unsigned)(__ffs(~ready) - 1) : 32u;
        /* Orders each lane's acquire before the other lanes' reads of its slot. */
        __syncwarp();
        if (k == 0) {
            if (head != published && lane == 0) {
                /* Release: our reads of the slots are done before the host reuses them. */
                asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(r.head), "l"(head) : "memory");
                published = head;
            }
            if (++idle % 256u == 0) {
                int s = 0;
                if (stopping)
                    break;
                /* Acquire: pairs with the host's store of the flag, made
                 * after its last slot; the polls after this one see it. */
                if (lane == 0)
                    asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(s) : "l"(stop) : "memory");
                stopping = __shfl_sync(0xffffffffu, s, 0);
            }
            continue;
        }
        idle = 0;
        for (unsigned i = lane; i < k * r.slot_words; i += 32u) {
            const unsigned long long *w =
                r.slots + ((head + i / r.slot_words) & (r.capacity - 1)) * r.slot_words + i % r.slot_words;
            acc += *(const volatile unsigned long long *)w;
        }
        __syncwarp();
        head += k;
        if (lane == 0 && head / 64u != published / 64u) {
            asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(r.head), "l"(head) : "memory");
            published = head;
        }
    }
    atomicAdd(sink, acc); /* keeps the reads */
}

typedef struct raw_side {
    unsigned long long *slots, *head; /* host views */
    uint32_t capacity, slot_words, len;
    uint64_t tail;
    volatile int *stop; /* the producers' flag (host only) */
    uint64_t full;      /* times the producer found the ring full */
} raw_side;

static void *raw_producer(void *p)
{
    raw_side *s = (raw_side *)p;
    unsigned char payload[MAX_PAYLOAD];
    uint64_t head = 0;
    fill_payload(payload, s->len);
    while (!*s->stop) {
        unsigned long long *slot;
        if (s->tail - head >= s->capacity) {
            head = __atomic_load_n(s->head, __ATOMIC_ACQUIRE);
            if (s->tail - head >= s->capacity) {
                s->full++;
                continue;
            }
        }
        slot = s->slots + (s->tail & (s->capacity - 1)) * s->slot_words;
        memcpy(slot + 8, payload, s->len); /* after the 64-byte header */
        /* Release: the payload is visible before the sequence word says ready. */
        __atomic_store_n(&slot[0], s->tail + 1, __ATOMIC_RELEASE);
        s->tail++;
    }
    return NULL;
}

/* P pairs of the bare ring for `seconds`, sampled every interval. */
static void raw_baseline(rkb *b, uint32_t len, unsigned pairs, uint32_t capacity, double seconds, uint64_t interval_ns,
                         uint64_t warmup_ns)
{
    const uint32_t slot_words = round16(64 + len) / 8;
    raw_side side[MAX_PRODUCERS];
    raw_ring rings[MAX_PRODUCERS], *drings;
    pthread_t th[MAX_PRODUCERS];
    volatile int stop = 0;
    int *gpu_stop, *dstop; /* the warps' flag, mapped */
    unsigned long long *dsink;
    cudaStream_t st;
    size_t nsamples = 0, cap = (size_t)(seconds * 1e9 / (double)interval_ns) + 2;
    double *rate = (double *)malloc(cap * sizeof *rate);
    uint64_t t_end, last_t, last_n = 0;
    char name[96];

    RKB_CUDA(cudaHostAlloc((void **)&gpu_stop, 128, cudaHostAllocMapped));
    *gpu_stop = 0;
    RKB_CUDA(cudaHostGetDevicePointer((void **)&dstop, gpu_stop, 0));
    for (unsigned i = 0; i < pairs; i++) {
        raw_side *s = &side[i];
        memset(s, 0, sizeof *s);
        RKB_CUDA(cudaHostAlloc((void **)&s->slots, (size_t)capacity * slot_words * 8, cudaHostAllocMapped));
        RKB_CUDA(cudaHostAlloc((void **)&s->head, 128, cudaHostAllocMapped));
        memset(s->slots, 0, (size_t)capacity * slot_words * 8);
        *s->head = 0;
        s->capacity = capacity;
        s->slot_words = slot_words;
        s->len = len;
        s->stop = &stop;
        RKB_CUDA(cudaHostGetDevicePointer((void **)&rings[i].slots, s->slots, 0));
        RKB_CUDA(cudaHostGetDevicePointer((void **)&rings[i].head, s->head, 0));
        rings[i].capacity = capacity;
        rings[i].slot_words = slot_words;
    }
    RKB_CUDA(cudaMalloc((void **)&drings, pairs * sizeof *drings));
    RKB_CUDA(cudaMalloc((void **)&dsink, sizeof *dsink));
    RKB_CUDA(cudaMemcpy(drings, rings, pairs * sizeof *drings, cudaMemcpyHostToDevice));
    RKB_CUDA(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    raw_consumer<<<pairs, 32, 0, st>>>(drings, dstop, dsink);
    RKB_CUDA(cudaGetLastError());
    for (unsigned i = 0; i < pairs; i++)
        pthread_create(&th[i], NULL, raw_producer, &side[i]);

    /* Consumed = the heads the warps handed back (lags by < 64 each). */
    sleep_until(rkb_now_ns() + warmup_ns);
    last_t = rkb_now_ns();
    for (unsigned i = 0; i < pairs; i++)
        last_n += __atomic_load_n(side[i].head, __ATOMIC_ACQUIRE);
    t_end = last_t + (uint64_t)(seconds * 1e9);
    while (last_t + interval_ns <= t_end && nsamples < cap) {
        uint64_t n = 0, t;
        sleep_until(last_t + interval_ns);
        t = rkb_now_ns();
        for (unsigned i = 0; i < pairs; i++)
            n += __atomic_load_n(side[i].head, __ATOMIC_ACQUIRE);
        rate[nsamples++] = (double)(n - last_n) * 1e9 / (double)(t - last_t);
        last_n = n;
        last_t = t;
    }
    stop = 1;
    for (unsigned i = 0; i < pairs; i++)
        pthread_join(th[i], NULL);
    /* After the last slot: release, so a warp that sees the flag sees the slots. */
    __atomic_store_n(gpu_stop, 1, __ATOMIC_RELEASE);
    rkb_wait_stream(st, 30, "raw ring consumers");
    for (unsigned i = 0; i < pairs; i++) {
        if (*side[i].head != side[i].tail) {
            fprintf(stderr, "raw ring %u: consumed %llu of %llu\n", i, (unsigned long long)*side[i].head,
                    (unsigned long long)side[i].tail);
            exit(1);
        }
    }
    snprintf(name, sizeof name, "raw ring %uB %up", len, pairs);
    rkb_samples(b, name, "msgs/s", rate, nsamples,
                "bare mapped-memory ring per (host thread, GPU warp) pair, same slot size, no runtime; rate per "
                "sampling interval");
    for (unsigned i = 0; i < pairs; i++) {
        RKB_CUDA(cudaFreeHost(side[i].slots));
        RKB_CUDA(cudaFreeHost(side[i].head));
    }
    RKB_CUDA(cudaFree(drings));
    RKB_CUDA(cudaFree(dsink));
    RKB_CUDA(cudaStreamDestroy(st));
    RKB_CUDA(cudaFreeHost(gpu_stop));
    free(rate);
}

/* ---- the runtime ------------------------------------------------------------------------------ */

typedef struct actors {
    rk_runtime *rt;
    rk_actor_id id[MAX_ACTORS];
    unsigned long long *mirror, *dmirror; /* [MAX_ACTORS * LINE_WORDS], mapped */
    unsigned n;
    uint32_t len;
} actors;

static const rk_actor_type counter_type = {"counter", NULL, NULL, 0};

/* At most this much of actors' inboxes (pinned host memory) per runtime. */
#define INBOX_BYTES_MAX (256ull << 20)

static void actors_start(actors *a, uint32_t len, unsigned n, uint32_t inbox, uint32_t msg_buffer)
{
    rk_runtime_options ro;
    char buf[32];
    memset(a, 0, sizeof *a);
    a->len = len;
    a->n = n;
    if (msg_buffer) {
        snprintf(buf, sizeof buf, "%u", msg_buffer);
        setenv("RK_CUDA_MSG_BUFFER", buf, 1);
    }
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA;
    ro.max_actors = n + 2;
    ro.gpu_program = &throughput_program;
    RKB_RK(rk_runtime_create(&a->rt, &ro));
    if (msg_buffer)
        unsetenv("RK_CUDA_MSG_BUFFER");
    RKB_CUDA(
        cudaHostAlloc((void **)&a->mirror, MAX_ACTORS * LINE_WORDS * 8, cudaHostAllocMapped | cudaHostAllocPortable));
    memset(a->mirror, 0, MAX_ACTORS * LINE_WORDS * 8);
    RKB_CUDA(cudaHostGetDevicePointer((void **)&a->dmirror, a->mirror, 0));
    for (unsigned i = 0; i < n; i++) {
        rk_actor_options o;
        counter_state init = {a->dmirror + i * LINE_WORDS, 0};
        char name[32];
        snprintf(name, sizeof name, "counter%u", i);
        rk_actor_options_init(&o);
        o.name = name;
        o.type = &counter_type;
        o.initial_state = &init;
        o.state_size = sizeof init;
        o.inbox_capacity = inbox;
        o.slot_size = round16(RK_MSG_HEADER_SIZE + len);
        RKB_RK(rk_launch(a->rt, &o, &a->id[i]));
    }
}

static void actors_check(actors *a)
{
    rk_async_error e;
    if (rk_runtime_error(a->rt, &e) == RK_OK) {
        fprintf(stderr, "actor %u failed: %s\n", e.actor, rk_status_name(e.status));
        exit(1);
    }
}

static void actors_stop(actors *a)
{
    actors_check(a);
    rk_runtime_destroy(a->rt);
    RKB_CUDA(cudaFreeHost(a->mirror));
}

static uint64_t handled(const actors *a, unsigned n)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum += __atomic_load_n(&a->mirror[i * LINE_WORDS], __ATOMIC_ACQUIRE);
    return sum;
}

/* Messages per rk_send_batch in the batch configurations (--batch). */
static unsigned g_batch = 32;
static unsigned g_sus_batch = 0; /* the sustained run's (--sustained-batch; 0: rk_send) */
static unsigned g_pin; /* --pin: producers pinned to CPUs */
#define MAX_BATCH 256

typedef struct producer {
    rk_runtime *rt;
    rk_actor_id dst[MAX_ACTORS];
    unsigned ndst;
    uint32_t len;
    unsigned batch; /* 0: rk_send; else rk_send_batch of this many */
    volatile int *stop;
    uint64_t sent, efull;
    rk_status error;
    unsigned char pad_[128]; /* producers' counters on lines of their own */
} producer;

static void *produce(void *arg)
{
    producer *p = (producer *)arg;
    unsigned char *payload = (unsigned char *)malloc((size_t)MAX_PAYLOAD * (p->batch ? p->batch : 1));
    unsigned k = 0;
    for (unsigned i = 0; i < (p->batch ? p->batch : 1); i++)
        fill_payload(payload + (size_t)i * p->len, p->len);
    while (!*p->stop) {
        uint32_t sent = 0;
        rk_status st;
        if (p->batch) {
            st = rk_send_batch(p->rt, p->dst[k], T_COUNT, payload, p->len, p->batch, &sent);
        } else {
            st = rk_send(p->rt, p->dst[k], T_COUNT, payload, p->len);
            sent = st == RK_OK;
        }
        p->sent += sent;
        if (st == RK_EFULL) {
            p->efull++;
        } else if (st != RK_OK) {
            p->error = st;
            break;
        }
        k = k + 1 == p->ndst ? 0 : k + 1;
    }
    free(payload);
    return NULL;
}

typedef struct run_result {
    double *rate; /* per interval */
    size_t n;
    uint64_t sent, efull;
    double seconds;
} run_result;

/* P producers into the first A actors; samples every interval for
 * `seconds` after the warm-up; `each` (may be NULL) runs after every
 * sample, with its index. Waits until every message sent is counted. */
static run_result run(actors *a, unsigned P, unsigned A, unsigned batch, double seconds, uint64_t interval_ns,
                      uint64_t warmup_ns, void (*each)(size_t, void *), void *each_arg)
{
    producer *pr = (producer *)calloc(P, sizeof *pr);
    pthread_t th[MAX_PRODUCERS];
    volatile int stop = 0;
    run_result r;
    uint64_t base = handled(a, a->n), last_t, last_n, deadline, want = 0;
    size_t cap = (size_t)(seconds * 1e9 / (double)interval_ns) + 2;
    /* As many samples as the seconds asked hold: each interval runs a
     * little over (the sleep's overshoot), so a deadline would cut the last. */
    const size_t samples = (size_t)(seconds * 1e9 / (double)interval_ns + 0.5);
    memset(&r, 0, sizeof r);
    r.rate = (double *)malloc(cap * sizeof *r.rate);
    for (unsigned p = 0; p < P; p++) {
        pr[p].rt = a->rt;
        pr[p].len = a->len;
        pr[p].batch = batch;
        pr[p].stop = &stop;
        if (A >= P) {
            for (unsigned i = p; i < A; i += P)
                pr[p].dst[pr[p].ndst++] = a->id[i];
        } else {
            pr[p].dst[pr[p].ndst++] = a->id[p % A];
        }
        pthread_create(&th[p], NULL, produce, &pr[p]);
        if (g_pin) {
            const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET((int)((p + 1) % (unsigned)(cpus > 0 ? cpus : 1)), &set);
            if (pthread_setaffinity_np(th[p], sizeof set, &set) != 0)
                fprintf(stderr, "producer %u: not pinned\n", p);
        }
    }
    sleep_until(rkb_now_ns() + warmup_ns);
    last_t = rkb_now_ns();
    last_n = handled(a, a->n);
    while (r.n < samples && r.n < cap) {
        uint64_t n, t;
        sleep_until(last_t + interval_ns);
        t = rkb_now_ns();
        n = handled(a, a->n);
        r.rate[r.n] = (double)(n - last_n) * 1e9 / (double)(t - last_t);
        if (each)
            each(r.n, each_arg);
        r.n++;
        r.seconds += (double)(t - last_t) / 1e9;
        last_n = n;
        last_t = t;
    }
    stop = 1;
    for (unsigned p = 0; p < P; p++) {
        pthread_join(th[p], NULL);
        if (pr[p].error != RK_OK) {
            fprintf(stderr, "rk_send: %s\n", rk_status_name(pr[p].error));
            exit(1);
        }
        r.sent += pr[p].sent;
        r.efull += pr[p].efull;
    }
    want = base + r.sent;
    deadline = rkb_now_ns() + 10000000000ull;
    while (handled(a, a->n) != want) {
        actors_check(a);
        if (rkb_now_ns() > deadline) {
            fprintf(stderr, "counted %llu of %llu messages after 10 s\n", (unsigned long long)(handled(a, a->n) - base),
                    (unsigned long long)r.sent);
            exit(1);
        }
        sleep_until(rkb_now_ns() + 100000);
    }
    free(pr);
    return r;
}

/* ---- the sustained run ------------------------------------------------------------------------ */

typedef struct mem_track {
    double *rss, *dev; /* per second */
} mem_track;

static void mem_sample(size_t i, void *arg)
{
    mem_track *m = (mem_track *)arg;
    m->rss[i] = rss_mib();
    m->dev[i] = device_used_mib();
}

static void sustained(rkb *b, actors *a, unsigned P, unsigned A, double seconds, char *summary, size_t cap)
{
    size_t n = (size_t)seconds + 2;
    mem_track m = {(double *)malloc(n * sizeof(double)), (double *)malloc(n * sizeof(double))};
    double cv, mean, var;
    run_result r;
    char name[96];
    char how[24] = "";
    if (g_sus_batch)
        snprintf(how, sizeof how, " batch%u", g_sus_batch);
    printf("sustained: %uB, %u producers, %u actors%s, %.0f s (1 s warm-up first)\n", a->len, P, A, how, seconds);
    /* The start values are taken after the warm-up, at the first sample. */
    r = run(a, P, A, g_sus_batch, seconds, 1000000000ull, 1000000000ull, mem_sample, &m);
    snprintf(name, sizeof name, "sustained %uB %up %ua%s", a->len, P, A, how);
    rkb_samples(b, name, "msgs/s", r.rate, r.n,
                "messages handled per second of the sustained run (counted on the GPU, sampled by the host)");
    rk_stats_mean_var(r.rate, r.n, &mean, &var);
    cv = rk_stats_cv(r.rate, r.n);
    rkb_value_add(b, "sustained seconds", "s", r.seconds, "length of the measured part of the sustained run");
    rkb_value_add(b, "sustained mean rate", "msgs/s", mean, "mean of the per-second rates");
    rkb_value_add(b, "sustained cv", "%", 100.0 * cv, "coefficient of variation of the per-second rates");
    if (r.n > 0) {
        rkb_samples(b, "sustained host rss", "MiB", m.rss, r.n, "resident set of the process, once per second");
        rkb_samples(b, "sustained device memory used", "MiB", m.dev, r.n,
                    "device memory in use (cudaMemGetInfo total - free), once per second");
        rkb_value_add(b, "sustained host rss growth", "MiB", m.rss[r.n - 1] - m.rss[0],
                      "resident set at the last second minus at the first (after the warm-up)");
        rkb_value_add(b, "sustained device memory growth", "MiB", m.dev[r.n - 1] - m.dev[0],
                      "device memory in use at the last second minus at the first (after the warm-up)");
        snprintf(summary, cap,
                 "summary bench_gpu_throughput: sustained %uB %up %ua%s over %.0f s: mean %.3f M msgs/s, CV %.2f%%, "
                 "host RSS %+.1f MiB, device %+.1f MiB",
                 a->len, P, A, how, r.seconds, mean / 1e6, 100.0 * cv, m.rss[r.n - 1] - m.rss[0], m.dev[r.n - 1] - m.dev[0]);
    }
    printf("  sustained: %llu messages, %llu EFULL retries\n", (unsigned long long)r.sent, (unsigned long long)r.efull);
    printf("  sustained per second (M msgs/s):");
    for (size_t i = 0; i < r.n; i++)
        printf(" %.2f", r.rate[i] / 1e6);
    printf("\n");
    free(r.rate);
    free(m.rss);
    free(m.dev);
}

/* ---- main ---------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    unsigned payloads[MAX_LIST], prods[MAX_LIST], acts[MAX_LIST];
    int np = rkb_arg_list(argc, argv, "--payloads", "64,256,1024,4096", payloads, MAX_LIST);
    int nprod = rkb_arg_list(argc, argv, "--producers", "1,4", prods, MAX_LIST);
    int nact = rkb_arg_list(argc, argv, "--actors", "1,8", acts, MAX_LIST);
    double cfg_s = rkb_arg_f64(argc, argv, "--config-seconds", 1.0);
    uint64_t interval_ns = rkb_arg_u64(argc, argv, "--interval-ms", 100) * 1000000ull;
    uint64_t warmup_ns = rkb_arg_u64(argc, argv, "--warmup-ms", 250) * 1000000ull;
    double sus_s = rkb_arg_f64(argc, argv, "--seconds", 10);
    unsigned sus_len = (unsigned)rkb_arg_u64(argc, argv, "--sustained-payload", 64);
    unsigned sus_p = (unsigned)rkb_arg_u64(argc, argv, "--sustained-producers", 4);
    unsigned sus_a = (unsigned)rkb_arg_u64(argc, argv, "--sustained-actors", 8);
    uint32_t inbox = (uint32_t)rkb_arg_u64(argc, argv, "--inbox", 1024);
    g_batch = (unsigned)rkb_arg_u64(argc, argv, "--batch", 32);
    g_sus_batch = (unsigned)rkb_arg_u64(argc, argv, "--sustained-batch", 0);
    g_pin = (unsigned)rkb_arg_u64(argc, argv, "--pin", 0);
    int env_buffer = getenv("RK_CUDA_MSG_BUFFER") != NULL;
    unsigned max_a = sus_a, max_p = sus_p;
    char summary[512] = "", best_line[256] = "";
    double best = 0;
    rkb b;

    if (rkb_init(&b, "bench_gpu_throughput", argc, argv) != 0)
        return RKB_SKIP;
    for (int i = 0; i < nact; i++)
        max_a = acts[i] > max_a ? acts[i] : max_a;
    for (int i = 0; i < nprod; i++)
        max_p = prods[i] > max_p ? prods[i] : max_p;
    for (int i = 0; i <= np; i++) {
        unsigned len = i < np ? payloads[i] : sus_len;
        if (len < 8 || len > MAX_PAYLOAD) {
            fprintf(stderr, "payload %u: between 8 and %u bytes\n", len, (unsigned)MAX_PAYLOAD);
            return 2;
        }
    }
    if (max_a > MAX_ACTORS || max_p > MAX_PRODUCERS || interval_ns == 0 || (inbox & (inbox - 1)) || inbox < 64 ||
        g_batch > MAX_BATCH || g_sus_batch > MAX_BATCH) {
        fprintf(stderr,
                "at most %d actors, %d producers; --interval-ms > 0; --inbox a power of two >= 64; --batch <= %d\n",
                MAX_ACTORS, MAX_PRODUCERS, MAX_BATCH);
        return 2;
    }
    rkb_param_str(&b, "payloads", rkb_arg_str(argc, argv, "--payloads", "64,256,1024,4096"));
    rkb_param_str(&b, "producers", rkb_arg_str(argc, argv, "--producers", "1,4"));
    rkb_param_str(&b, "actors", rkb_arg_str(argc, argv, "--actors", "1,8"));
    rkb_param_num(&b, "config_seconds", cfg_s);
    rkb_param_num(&b, "interval_ms", (double)interval_ns / 1e6);
    rkb_param_num(&b, "warmup_ms", (double)warmup_ns / 1e6);
    rkb_param_num(&b, "sustained_seconds", sus_s);
    rkb_param_num(&b, "sustained_payload", sus_len);
    rkb_param_num(&b, "sustained_producers", sus_p);
    rkb_param_num(&b, "sustained_actors", sus_a);
    rkb_param_num(&b, "inbox_capacity", inbox);
    rkb_param_num(&b, "batch", g_batch);
    rkb_param_num(&b, "sustained_batch", g_sus_batch);
    rkb_param_num(&b, "pin", g_pin);

    printf("baseline: bare mapped-memory rings (before the runtime starts)\n");
    for (int i = 0; i < np; i++)
        for (int j = 0; j < nprod; j++)
            raw_baseline(&b, payloads[i], prods[j], inbox, cfg_s, interval_ns, warmup_ns);

    for (int i = 0; i < np; i++) {
        uint32_t len = payloads[i], slot = round16(RK_MSG_HEADER_SIZE + len);
        uint32_t buffer = env_buffer ? 0u : msg_buffer_for(slot);
        actors a;
        char key[48];
        snprintf(key, sizeof key, "msg_buffer_%uB", len);
        if (buffer)
            rkb_param_num(&b, key, buffer);
        printf("ringkernel: %uB payloads (slot %u B, RK_CUDA_MSG_BUFFER %s)\n", len, slot,
               env_buffer ? "from the environment"
               : buffer   ? "raised to 8 slots"
                          : "default");
        /* Inboxes in pinned memory up to INBOX_BYTES_MAX: a configuration
         * with more actors than fit is skipped, and says so. */
        const unsigned fit = (unsigned)(INBOX_BYTES_MAX / ((uint64_t)inbox * slot));
        actors_start(&a, len, max_a < fit ? max_a : fit, inbox, buffer);
        for (int j = 0; j < nprod; j++) {
            for (int k = 0; k < 2 * nact; k++) {
                const unsigned batch = k < nact ? 0u : g_batch, A = acts[k % nact];
                char name[64], vname[96], what[160];
                run_result r;
                rkb_series *s;
                if (k >= nact && g_batch == 0)
                    break; /* --batch 0: rk_send only */
                if (A > fit) {
                    printf("  %uB %up %ua%s: skipped (%u inboxes of %u x %u B would pass %llu MiB)\n", len, prods[j], A,
                           batch ? " batch" : "", A, inbox, slot, (unsigned long long)(INBOX_BYTES_MAX >> 20));
                    continue;
                }
                if (batch == 0)
                    snprintf(name, sizeof name, "throughput %uB %up %ua", len, prods[j], A);
                else
                    snprintf(name, sizeof name, "throughput %uB %up %ua batch%u", len, prods[j], A, batch);
                snprintf(what, sizeof what,
                         "%s by P host threads to A counting GPU actors; messages counted on the GPU per sampling "
                         "interval",
                         batch ? "rk_send_batch of --batch messages" : "rk_send");
                r = run(&a, prods[j], A, batch, cfg_s, interval_ns, warmup_ns, NULL, NULL);
                s = rkb_samples(&b, name, "msgs/s", r.rate, r.n, what);
                snprintf(vname, sizeof vname, "%s efull per message", name);
                rkb_value_add(&b, vname, "ratio", r.sent ? (double)r.efull / (double)r.sent : 0.0,
                              "RK_EFULL returns per message sent: > 0 means the actors' queues were full (GPU side "
                              "the bound), 0 means the host side was");
                if (s->st.median > best) {
                    best = s->st.median;
                    snprintf(best_line, sizeof best_line, "%s: median %.3f M msgs/s", name, best / 1e6);
                }
                free(r.rate);
            }
            {
                char ours[96], base[96], ours_id[96], base_id[96], desc[128];
                unsigned most = 0; /* the most actors that fitted */
                for (int k = 0; k < nact; k++)
                    most = acts[k] <= fit && acts[k] > most ? acts[k] : most;
                snprintf(ours, sizeof ours, "throughput %uB %up %ua", len, prods[j], most);
                snprintf(base, sizeof base, "raw ring %uB %up", len, prods[j]);
                rkb_slug(ours_id, sizeof ours_id, ours);
                rkb_slug(base_id, sizeof base_id, base);
                snprintf(desc, sizeof desc, "runtime / bare ring, %uB, %u host threads", len, prods[j]);
                rkb_compare(&b, ours_id, base_id, desc);
            }
        }
        if (len == sus_len && sus_s >= 1)
            sustained(&b, &a, sus_p, sus_a, sus_s, summary, sizeof summary);
        actors_stop(&a);
    }
    if (sus_s >= 1 && !summary[0]) {
        /* The sustained payload was not among --payloads: a runtime of its own. */
        actors a;
        actors_start(&a, sus_len, max_a, inbox,
                     env_buffer ? 0u : msg_buffer_for(round16(RK_MSG_HEADER_SIZE + sus_len)));
        sustained(&b, &a, sus_p, sus_a, sus_s, summary, sizeof summary);
        actors_stop(&a);
    }
    {
        int rc = rkb_finish(&b);
        printf("\nsummary bench_gpu_throughput: best of the matrix %s\n", best_line);
        if (summary[0])
            printf("%s\n", summary);
        return rc;
    }
}
