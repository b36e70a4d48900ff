/* Throughput of rk_ring between host threads.
 *
 * What one timed run measures: `count` messages go from the producer
 * thread(s) through one ring to one consumer thread. A producer claims a batch
 * of slots, writes each 64-byte rk_msg header and copies the payload in, and
 * publishes the batch; the consumer waits for each slot, checks its header,
 * copies the payload out and frees the slots once per batch (batch 1: once
 * per message). The clock starts when all threads leave a barrier and stops
 * when the consumer has read the last message. Thread creation is not timed.
 *
 * Configurations: SPSC (1 producer) and MPSC (2 producers), payloads of
 * 0, 64, 256, 1024 and 4096 bytes (slot = header + payload, rounded up to 16),
 * batches of 1 and 32, ring capacity 1024. Each: one warm-up run of a quarter
 * of the count, then --runs timed runs (7); reported: median, min and max
 * messages/s, and the median in GB/s where a message counts its header and
 * payload bytes. Beside them, so that a reader can tell a disturbed result:
 * the round trip of one cache line between the consumer's and the producer's
 * CPU, taken before the configuration, and the share of CPU time that other
 * processes (or the hypervisor) took during its timed runs.
 *
 *   bench_ring [--quick] [--runs N] [--json FILE]
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ringkernel/msg.h"
#include "ringkernel/ring.h"

#define CAPACITY 1024u
#define MAX_PRODUCERS 2
#define MAX_RUNS 101
#define BENCH_TYPE 1u

typedef struct config {
    const char *mode_name;
    enum rk_ring_mode mode;
    uint32_t producers;
    uint32_t payload;
    uint32_t batch;
} config;

typedef struct result {
    config cfg;
    uint32_t slot_size;
    uint64_t count;
    uint32_t runs;
    double median, min, max; /* messages per second */
    double gbps;             /* median, header + payload bytes */
    double line_rt_ns;       /* cache-line round trip consumer CPU <-> producer CPU */
    double other_pct;        /* CPU time taken by others during the timed runs, or -1 */
} result;

/* CPUs this process may run on, in order; threads are pinned round-robin. */
typedef struct cpu_set_info {
    int cpus[CPU_SETSIZE];
    int n;
} cpu_set_info;

static cpu_set_info g_cpus;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spins a little, then yields: with more threads than cores (MPSC here) a
 * thread that only spins would hold the core its peer needs. */
static void backoff(unsigned *spins)
{
    if (++*spins < 64)
        cpu_relax();
    else
        sched_yield();
}

static void find_cpus(void)
{
    cpu_set_t set;
    int i;
    g_cpus.n = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            g_cpus.cpus[g_cpus.n++] = i;
}

/* Pins the calling thread to the `k`-th usable CPU. Returns the CPU or -1. */
static int pin_self(int k)
{
    cpu_set_t set;
    int cpu;
    if (g_cpus.n < 2)
        return -1;
    cpu = g_cpus.cpus[k % g_cpus.n];
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0 ? cpu : -1;
}

/* ---- interference: CPU time that others took while we measured ------------- */

typedef struct cpu_sample {
    uint64_t busy_ticks; /* all CPUs, from /proc/stat, including hypervisor steal */
    uint64_t self_us;    /* this process, user + system */
    uint64_t wall_ns;
    int ok;
} cpu_sample;

static void sample_cpu(cpu_sample *s)
{
    unsigned long long v[8] = {0};
    struct rusage ru;
    FILE *f = fopen("/proc/stat", "r");
    memset(&ru, 0, sizeof ru);
    s->ok = f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                        &v[3], &v[4], &v[5], &v[6], &v[7]) == 8
            && getrusage(RUSAGE_SELF, &ru) == 0;
    if (f)
        fclose(f);
    /* user nice system [idle iowait] irq softirq steal */
    s->busy_ticks = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    s->self_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u
                 + (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    s->wall_ns = now_ns();
}

/* Percent of all online CPUs' time between two samples that went to anything
 * but this process: other processes (this VM may be shared), the kernel on
 * their behalf, and time the hypervisor gave to other guests. -1 if unknown. */
static double other_pct(const cpu_sample *a, const cpu_sample *b)
{
    const double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
    const double all_us = (double)(b->wall_ns - a->wall_ns) / 1e3 * (double)sysconf(_SC_NPROCESSORS_ONLN);
    double other_us;
    if (!a->ok || !b->ok || all_us <= 0)
        return -1;
    other_us = (double)(b->busy_ticks - a->busy_ticks) * tick_us - (double)(b->self_us - a->self_us);
    return other_us > 0 ? 100.0 * other_us / all_us : 0.0;
}

/* ---- the platform floor: one cache line bouncing between the two CPUs ------- */

#define PING_ROUNDS 200000u

typedef struct ping {
    _Alignas(RK_RING_LINE) uint64_t flag;
    pthread_barrier_t start;
    uint64_t ns;
} ping;

/* Thread k (0: the consumer's CPU, 1: the first producer's) waits for the
 * flag to reach its turn and bumps it: each round is two line transfers. */
static void ping_side(ping *p, uint64_t k)
{
    uint64_t i, t0 = 0;
    pin_self((int)k);
    pthread_barrier_wait(&p->start);
    if (k == 0)
        t0 = now_ns();
    for (i = k; i < 2u * PING_ROUNDS; i += 2) {
        while (__atomic_load_n(&p->flag, __ATOMIC_ACQUIRE) != i)
            cpu_relax();
        __atomic_store_n(&p->flag, i + 1, __ATOMIC_RELEASE);
    }
    if (k == 0) {
        while (__atomic_load_n(&p->flag, __ATOMIC_ACQUIRE) != 2u * PING_ROUNDS)
            cpu_relax();
        p->ns = now_ns() - t0;
    }
}

static void *ping_consumer_cpu(void *arg)
{
    ping_side(arg, 0);
    return NULL;
}

static void *ping_producer_cpu(void *arg)
{
    ping_side(arg, 1);
    return NULL;
}

/* Nanoseconds per round trip of one cache line between the CPUs the
 * consumer and the first producer are pinned to (the least any ring can pay
 * for a message that the consumer waits for); 0 when not pinned. Varies with
 * where the host places this VM's vCPUs, so it is taken per configuration. */
static double line_round_trip_ns(void)
{
    ping *p;
    pthread_t a, b;
    double ns = 0;
    if (g_cpus.n < 2 || posix_memalign((void **)&p, RK_RING_LINE, sizeof *p) != 0)
        return 0;
    memset(p, 0, sizeof *p);
    pthread_barrier_init(&p->start, NULL, 2);
    if (pthread_create(&a, NULL, ping_consumer_cpu, p) == 0) {
        if (pthread_create(&b, NULL, ping_producer_cpu, p) != 0) {
            fprintf(stderr, "bench_ring: pthread_create failed\n");
            exit(1); /* the first thread waits on the barrier forever */
        }
        pthread_join(b, NULL);
        pthread_join(a, NULL);
        ns = (double)p->ns / PING_ROUNDS;
    }
    pthread_barrier_destroy(&p->start);
    free(p);
    return ns;
}

/* ---- one run ----------------------------------------------------------------- */

typedef struct bench_run {
    rk_ring ring;
    const config *cfg;
    uint64_t count;
    uint64_t per_producer[MAX_PRODUCERS];
    pthread_barrier_t start;
    const unsigned char *src; /* payload the producers copy in */
    uint64_t t0, t1;
    uint64_t corr_sum; /* what the consumer saw, to catch loss or duplication */
    int bad;
    int pinned[MAX_PRODUCERS + 1];
} bench_run;

typedef struct producer_arg {
    bench_run *b;
    uint32_t id;
} producer_arg;

/* The consumer runs on the first CPU, producer i on CPU i+1 (mod the CPUs
 * available): SPSC puts its two threads on different cores; MPSC on two
 * cores puts the second producer on the consumer's core. */
static void *producer_main(void *p)
{
    producer_arg *a = p;
    bench_run *b = a->b;
    const uint32_t payload = b->cfg->payload;
    const uint64_t count = b->per_producer[a->id];
    uint64_t sent = 0;
    b->pinned[a->id + 1] = pin_self((int)a->id + 1);
    pthread_barrier_wait(&b->start);
    while (sent < count) {
        uint32_t n = b->cfg->batch, i;
        uint64_t pos;
        unsigned spins = 0;
        if (n > count - sent)
            n = (uint32_t)(count - sent);
        while (rk_ring_claim(&b->ring, n, &pos) != RK_OK)
            backoff(&spins);
        for (i = 0; i < n; i++) {
            rk_msg *m = rk_ring_slot(&b->ring, pos + i);
            m->type = BENCH_TYPE;
            m->flags = 0;
            m->src = a->id;
            m->dst = 0;
            m->tenant = 0;
            m->dst_gen = 0;
            m->corr = sent + i + 1;
            m->hlc = 0;
            m->len = payload;
            m->src_gen = 0;
            m->ref = 0;
            memcpy(m + 1, b->src, payload);
        }
        rk_ring_publish(&b->ring, pos, n);
        sent += n;
    }
    return NULL;
}

static void consume_all(bench_run *b, unsigned char *sink)
{
    const uint32_t batch = b->cfg->batch;
    uint64_t head = rk_ring_head(&b->ring), end = head + b->count, sum = 0;
    int bad = 0;
    b->pinned[0] = pin_self(0);
    pthread_barrier_wait(&b->start);
    b->t0 = now_ns();
    while (head < end) {
        uint32_t k = 0;
        unsigned spins = 0;
        const rk_msg *m;
        while ((m = rk_ring_ready(&b->ring, head)) == NULL)
            backoff(&spins);
        do {
            bad |= m->type != BENCH_TYPE || m->len != b->cfg->payload;
            sum += m->corr;
            memcpy(sink, m + 1, b->cfg->payload);
            head++;
            k++;
        } while (k < batch && head < end && (m = rk_ring_ready(&b->ring, head)) != NULL);
        rk_ring_consume(&b->ring, head);
    }
    b->t1 = now_ns();
    b->corr_sum = sum;
    b->bad = bad;
}

typedef struct consumer_arg {
    bench_run *b;
    unsigned char *sink;
} consumer_arg;

static void *consumer_main(void *p)
{
    consumer_arg *a = p;
    consume_all(a->b, a->sink);
    return NULL;
}

/* One run of `count` messages. Returns messages per second, or -1 on error. */
static double run_once(const config *cfg, uint32_t slot_size, uint64_t count, void *mem,
                       const unsigned char *src, unsigned char *sink, int *pinned)
{
    bench_run b;
    pthread_t prod[MAX_PRODUCERS], cons;
    producer_arg pa[MAX_PRODUCERS];
    consumer_arg ca;
    uint64_t expect = 0;
    uint32_t i;
    memset(&b, 0, sizeof b);
    b.cfg = cfg;
    b.count = count;
    b.src = src;
    if (rk_ring_init(&b.ring, mem, CAPACITY, slot_size, cfg->mode, RK_RING_SCOPE_SYSTEM) != RK_OK)
        return -1;
    for (i = 0; i < cfg->producers; i++) {
        b.per_producer[i] = count / cfg->producers + (i < count % cfg->producers ? 1 : 0);
        expect += b.per_producer[i] * (b.per_producer[i] + 1) / 2;
    }
    if (pthread_barrier_init(&b.start, NULL, cfg->producers + 1) != 0)
        return -1;
    ca.b = &b;
    ca.sink = sink;
    if (pthread_create(&cons, NULL, consumer_main, &ca) != 0)
        return -1;
    for (i = 0; i < cfg->producers; i++) {
        pa[i].b = &b;
        pa[i].id = i;
        if (pthread_create(&prod[i], NULL, producer_main, &pa[i]) != 0) {
            fprintf(stderr, "bench_ring: pthread_create failed\n");
            exit(1); /* the started threads wait on the barrier forever */
        }
    }
    for (i = 0; i < cfg->producers; i++)
        pthread_join(prod[i], NULL);
    pthread_join(cons, NULL);
    pthread_barrier_destroy(&b.start);
    memcpy(pinned, b.pinned, sizeof b.pinned);
    if (b.bad || b.corr_sum != expect) {
        fprintf(stderr, "bench_ring: %s payload %u batch %u: messages lost or corrupted\n",
                cfg->mode_name, cfg->payload, cfg->batch);
        return -1;
    }
    return (double)count * 1e9 / (double)(b.t1 - b.t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Messages per run: about 1 GiB of message traffic (32 MiB with --quick),
 * within limits, so that every configuration runs for a similar time. */
static uint64_t count_for(uint32_t payload, int quick)
{
    uint64_t bytes = quick ? (32ull << 20) : (1ull << 30);
    uint64_t n = bytes / (RK_MSG_HEADER_SIZE + payload);
    uint64_t lo = quick ? 10000 : 200000, hi = quick ? 500000 : 10000000;
    return n < lo ? lo : n > hi ? hi : n;
}

static int bench_config(const config *cfg, int quick, uint32_t runs, result *res)
{
    const uint32_t slot_size = (RK_MSG_HEADER_SIZE + cfg->payload + 15u) / 16u * 16u;
    const size_t bytes = (rk_ring_bytes(CAPACITY, slot_size) + RK_RING_LINE - 1) / RK_RING_LINE
                         * RK_RING_LINE;
    const uint64_t count = count_for(cfg->payload, quick);
    double rates[MAX_RUNS];
    int pinned[MAX_PRODUCERS + 1];
    cpu_sample before, after;
    void *mem = aligned_alloc(RK_RING_LINE, bytes);
    unsigned char *src = malloc(cfg->payload + 1);
    unsigned char *sink = malloc(cfg->payload + 1);
    uint32_t i;
    int ok = mem && src && sink;
    res->line_rt_ns = line_round_trip_ns();
    if (ok) {
        memset(mem, 0, bytes); /* fault the pages in before timing */
        memset(src, 0x5C, cfg->payload + 1);
        ok = run_once(cfg, slot_size, count / 4 + 1, mem, src, sink, pinned) > 0;
    }
    sample_cpu(&before);
    for (i = 0; ok && i < runs; i++) {
        rates[i] = run_once(cfg, slot_size, count, mem, src, sink, pinned);
        ok = rates[i] > 0;
    }
    sample_cpu(&after);
    res->other_pct = other_pct(&before, &after);
    free(sink);
    free(src);
    free(mem);
    if (!ok)
        return 0;
    qsort(rates, runs, sizeof rates[0], cmp_double);
    res->cfg = *cfg;
    res->slot_size = slot_size;
    res->count = count;
    res->runs = runs;
    res->median = runs % 2 ? rates[runs / 2] : (rates[runs / 2 - 1] + rates[runs / 2]) / 2;
    res->min = rates[0];
    res->max = rates[runs - 1];
    res->gbps = res->median * (RK_MSG_HEADER_SIZE + cfg->payload) / 1e9;
    printf("%-5s %2u  %7u %5u %5u %9" PRIu64 "  %8.2f %8.2f %8.2f  %7.2f  %6.1f %6.0f   pinned:",
           cfg->mode_name, cfg->producers, cfg->payload, slot_size, cfg->batch, count,
           res->median / 1e6, res->min / 1e6, res->max / 1e6, res->gbps, res->line_rt_ns,
           res->other_pct);
    for (i = 0; i <= cfg->producers; i++)
        printf(" %s%d", i == 0 ? "C@" : "P@", pinned[i]);
    printf("\n");
    fflush(stdout);
    return 1;
}

/* ---- reporting ------------------------------------------------------------- */

static void cpu_model(char *out, size_t len)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(out, len, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += 2;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, len, "%s", colon);
            break;
        }
    }
    fclose(f);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static int write_json(const char *path, const result *res, size_t n, int quick)
{
    char model[256];
    size_t i;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_ring: cannot write %s: %s\n", path, strerror(errno));
        return 0;
    }
    cpu_model(model, sizeof model);
    fprintf(f, "{\n  \"benchmark\": \"bench_ring\",\n  \"cpu_model\": ");
    json_string(f, model);
    fprintf(f, ",\n  \"online_cpus\": %ld,\n  \"usable_cpus\": %d,\n  \"capacity\": %u,\n"
               "  \"quick\": %s,\n  \"results\": [\n",
            sysconf(_SC_NPROCESSORS_ONLN), g_cpus.n, CAPACITY, quick ? "true" : "false");
    for (i = 0; i < n; i++) {
        const result *r = &res[i];
        fprintf(f,
                "    {\"mode\": \"%s\", \"producers\": %u, \"payload_bytes\": %u, "
                "\"slot_bytes\": %u, \"batch\": %u, \"messages_per_run\": %" PRIu64
                ", \"runs\": %u, \"msgs_per_s_median\": %.0f, \"msgs_per_s_min\": %.0f, "
                "\"msgs_per_s_max\": %.0f, \"gb_per_s_median\": %.3f, \"line_rt_ns\": %.1f, "
                "\"other_cpu_pct\": %.1f}%s\n",
                r->cfg.mode_name, r->cfg.producers, r->cfg.payload, r->slot_size, r->cfg.batch,
                r->count, r->runs, r->median, r->min, r->max, r->gbps, r->line_rt_ns,
                r->other_pct, i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_ring [--quick] [--runs N] [--json FILE]\n"
               "  --quick      small message counts (a smoke run, not a measurement)\n"
               "  --runs N     timed runs per configuration (default 7, at most %d)\n"
               "  --json FILE  also write the results as JSON\n",
            MAX_RUNS);
}

int main(int argc, char **argv)
{
    static const uint32_t payloads[] = {0, 64, 256, 1024, 4096};
    static const uint32_t batches[] = {1, 32};
    static const config modes[] = {
        {"spsc", RK_RING_SPSC, 1, 0, 0},
        {"mpsc", RK_RING_MPSC, 2, 0, 0},
    };
    result res[sizeof modes / sizeof modes[0] * 5 * 2];
    size_t nres = 0, m, p, bi;
    const char *json = NULL;
    uint32_t runs = 7;
    int quick = 0, i;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    char model[256];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], NULL, 10);
            if (v < 1 || v > MAX_RUNS) {
                usage(stderr);
                return 2;
            }
            runs = (uint32_t)v;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    find_cpus();
    cpu_model(model, sizeof model);
    printf("bench_ring: %s, %ld online CPU(s), %d usable; ring capacity %u; %u timed run(s) "
           "after 1 warm-up%s\n",
           model, online, g_cpus.n, CAPACITY, runs, quick ? "; --quick: counts too small to quote" : "");
    if (g_cpus.n < 2)
        printf("note: fewer than 2 usable CPUs: threads are not pinned and share one core\n");
    if (g_cpus.n < 3)
        printf("note: MPSC runs 2 producers + 1 consumer = 3 threads on %d CPU(s): oversubscribed, "
               "one producer shares the consumer's core\n",
               g_cpus.n);
    printf("rt ns: round trip of one cache line between the consumer's and the first "
           "producer's CPU, taken before each configuration\n"
           "other%%: share of all CPUs' time used by anything but this benchmark during the "
           "timed runs (other processes, hypervisor steal); results with a large share are "
           "disturbed\n");
    printf("mode  P  payload  slot batch  msgs/run  Mmsg/s med      min      max  GB/s med  "
           "rt ns other%%\n");

    for (m = 0; m < sizeof modes / sizeof modes[0]; m++)
        for (p = 0; p < sizeof payloads / sizeof payloads[0]; p++)
            for (bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
                config cfg = modes[m];
                cfg.payload = payloads[p];
                cfg.batch = batches[bi];
                if (!bench_config(&cfg, quick, runs, &res[nres]))
                    return 1;
                nres++;
            }
    if (json && !write_json(json, res, nres, quick))
        return 1;
    return 0;
}
