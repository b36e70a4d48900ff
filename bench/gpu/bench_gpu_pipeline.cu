/* A four-stage event pipeline on GPU actors, fed from the host through the
 * public API:
 *
 *     host --rk_send--> parse --K2K--> enrich --K2K--> score --K2K--> sink
 *
 *   parse   reads a 64-byte text event ("u=..;i=..;a=..;h=..;") into fields
 *   enrich  looks the user up in a 1024-entry segment table and the item in a
 *           category table (actor state, filled by the type's init)
 *   score   one warp: 32 features times 32 weights, summed with shuffles
 *   sink    counts, sums the scores, and posts its count to mapped host memory
 *
 * A lane is one actor per stage; lanes run side by side (a stream split by
 * key), fed by up to --feeders host threads, each sending to its lanes in
 * turn - up to --batch events at a time with rk_send_batch (rk_send when
 * 1, and when paced) - and moving on when a lane's queue is full (events of a
 * lane stay in order end to end, so "the sink's count passed k" means
 * "event k arrived"). Measured, in one process:
 *
 *   latency 4 stages     closed loop on lane 0: send one event, spin on the
 *                        sink's count in host memory; host enqueue to sink count
 *   latency 1 stage      the same straight to the sink (a scored event): what
 *                        the host <-> GPU legs cost without the three K2K hops
 *   events/s, L lanes    the feeders send as fast as they can for --seconds;
 *                        events counted by the sinks per interval
 *   latency under load   every --probe-every'th event of each lane, timed from
 *                        just before its rk_send to the host seeing the sink's
 *                        count pass it; at full rate this is mostly queueing
 *   paced                the widest configuration again at --paced-fraction of
 *                        the rate it reached, for latency under a lighter load
 *
 * The best-known peer publishes 610K events/s for its pipeline; that figure
 * is quoted as text only - it was not measured here.
 *
 * Usage: bench_gpu_pipeline [--lanes 1,8,32,64] [--feeders 8] [--batch 16] [--seconds 3] [--latency-events 20000]
 *          [--probe-every 1024] [--paced-fraction 0.5] [--interval-ms 100] [--json PATH] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_gpu.h"
#include "ringkernel/device.cuh"
#include "ringkernel/ringkernel.h"

enum { E_RAW = 1, E_PARSED = 2, E_ENRICHED = 3, E_SCORED = 4 };
enum { MAX_LANES = 64, MAX_LIST = 8, PROBE_RING = 1u << 14, LINE_WORDS = 16, FEED_EVENTS = 4096, MAX_BATCH = 64 };
#define SEND_TIMEOUT_NS 10000000000ull /* a stage waits this long at most for room downstream */
#define PEER_EVENTS_PER_S 610000.0

/* ---- events ------------------------------------------------------------------------------- */

typedef struct raw_event {
    uint64_t seq;
    char text[56]; /* "u=<user>;i=<item>;a=<cents>;h=<hour>;" padded with NULs */
} raw_event;

typedef struct parsed_event {
    uint64_t seq;
    uint32_t user, item, cents, hour;
} parsed_event;

typedef struct enriched_event {
    parsed_event p;
    uint32_t segment, category;
} enriched_event;

typedef struct scored_event {
    uint64_t seq;
    float score;
    uint32_t flags;
} scored_event;

/* ---- the four actor types ----------------------------------------------------------------- */

typedef struct stage_state {
    rk_actor_id next;
    uint32_t pad_[3];
} stage_state;

typedef struct enrich_state {
    rk_actor_id next;
    uint32_t pad_[3];
    uint32_t segment[1024];
    uint32_t category[256];
} enrich_state;

typedef struct score_state {
    rk_actor_id next;
    uint32_t pad_[3];
    float weight[32][32]; /* [segment % 32][feature] */
} score_state;

typedef struct sink_state {
    unsigned long long *mirror; /* mapped host memory: events that arrived */
    unsigned long long count;
    double score_sum;
    uint64_t pad_;
} sink_state;

static __device__ uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    return x ^ (x >> 16);
}

/* Reads "<key>=<digits>;" fields; unknown keys are skipped. */
static __device__ parsed_event parse_text(const raw_event *e)
{
    parsed_event p = {e->seq, 0, 0, 0, 0};
    uint32_t *field = NULL, v = 0;
    for (int i = 0; i < (int)sizeof e->text && e->text[i]; i++) {
        char ch = e->text[i];
        if (i + 1 < (int)sizeof e->text && e->text[i + 1] == '=') {
            field = ch == 'u' ? &p.user : ch == 'i' ? &p.item : ch == 'a' ? &p.cents : ch == 'h' ? &p.hour : NULL;
            v = 0;
            i++;
        } else if (ch >= '0' && ch <= '9') {
            v = v * 10u + (uint32_t)(ch - '0');
        } else if (ch == ';' && field) {
            *field = v;
            field = NULL;
        }
    }
    return p;
}

static __device__ rk_status parse_handle(rk_dctx *c, stage_state *s, const rk_msg *m)
{
    __shared__ parsed_event out;
    if (m->type != E_RAW || m->len != sizeof(raw_event))
        return RK_EBADMSG;
    if (threadIdx.x == 0)
        out = parse_text((const raw_event *)rk_msg_payload(m));
    return rk_dsend_wait(c, s->next, E_PARSED, &out, sizeof out, SEND_TIMEOUT_NS);
}

static __device__ rk_status enrich_init(rk_dctx *c, enrich_state *s)
{
    (void)c;
    for (uint32_t i = threadIdx.x; i < 1024; i += blockDim.x)
        s->segment[i] = hash32(i) % 97u;
    for (uint32_t i = threadIdx.x; i < 256; i += blockDim.x)
        s->category[i] = hash32(i + 7919u) % 16u;
    return RK_OK;
}

static __device__ rk_status enrich_handle(rk_dctx *c, enrich_state *s, const rk_msg *m)
{
    __shared__ enriched_event out;
    if (m->type != E_PARSED || m->len != sizeof(parsed_event))
        return RK_EBADMSG;
    if (threadIdx.x == 0) {
        out.p = *(const parsed_event *)rk_msg_payload(m);
        out.segment = s->segment[out.p.user % 1024u];
        out.category = s->category[out.p.item % 256u];
    }
    return rk_dsend_wait(c, s->next, E_ENRICHED, &out, sizeof out, SEND_TIMEOUT_NS);
}

static __device__ rk_status score_init(rk_dctx *c, score_state *s)
{
    (void)c;
    for (uint32_t i = threadIdx.x; i < 32 * 32; i += blockDim.x)
        s->weight[i / 32][i % 32] = (float)(hash32(i) % 2001u) / 1000.0f - 1.0f;
    return RK_OK;
}

static __device__ rk_status score_handle(rk_dctx *c, score_state *s, const rk_msg *m)
{
    __shared__ scored_event out;
    const enriched_event *e = (const enriched_event *)rk_msg_payload(m);
    if (m->type != E_ENRICHED || m->len != sizeof(enriched_event))
        return RK_EBADMSG;
    if (threadIdx.x < 32) {
        const uint32_t f = threadIdx.x;
        /* feature f: a hashed mix of the event's fields, in [0, 1) */
        float x = (float)(hash32(e->p.cents * 31u + e->p.hour * 131u + e->category * 1031u + f) % 1000u) / 1000.0f;
        float v = x * s->weight[e->segment % 32u][f];
        for (int off = 16; off > 0; off /= 2)
            v += __shfl_down_sync(0xffffffffu, v, off);
        if (f == 0) {
            out.seq = e->p.seq;
            out.score = v;
            out.flags = v > 4.0f ? 1u : 0u;
        }
    }
    return rk_dsend_wait(c, s->next, E_SCORED, &out, sizeof out, SEND_TIMEOUT_NS);
}

static __device__ rk_status sink_handle(rk_dctx *c, sink_state *s, const rk_msg *m)
{
    (void)c;
    if (m->type != E_SCORED || m->len != sizeof(scored_event))
        return RK_EBADMSG;
    if (threadIdx.x == 0) {
        s->score_sum += ((const scored_event *)rk_msg_payload(m))->score;
        s->count++;
        /* A posted write over PCIe: nothing on the GPU waits for it. */
        *(volatile unsigned long long *)s->mirror = s->count;
    }
    return RK_OK;
}

RK_GPU_ACTOR(parse_actor, stage_state, parse_handle);
RK_GPU_ACTOR_INIT(enrich_actor, enrich_state, enrich_handle, enrich_init);
RK_GPU_ACTOR_INIT(score_actor, score_state, score_handle, score_init);
RK_GPU_ACTOR(sink_actor, sink_state, sink_handle);
RK_GPU_PROGRAM(pipeline_program, parse_actor, enrich_actor, score_actor, sink_actor);

/* ---- host side ------------------------------------------------------------------------------ */

static const rk_actor_type stage_types[4] = {
    {"parse", NULL, NULL, 0}, {"enrich", NULL, NULL, 1}, {"score", NULL, NULL, 2}, {"sink", NULL, NULL, 3}};

typedef struct pipeline {
    rk_runtime *rt;
    rk_actor_id parse[MAX_LANES], sink[MAX_LANES];
    unsigned long long *mirror, *dmirror; /* [MAX_LANES * LINE_WORDS] */
    unsigned lanes;
} pipeline;

static rk_actor_id launch(rk_runtime *rt, const char *kind, unsigned lane, int type, const void *init, uint32_t size)
{
    rk_actor_options o;
    rk_actor_id id;
    char name[32];
    snprintf(name, sizeof name, "%s%u", kind, lane);
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &stage_types[type];
    o.initial_state = init;
    o.state_size = size;
    o.slot_size = 128; /* 64-byte header + the 64-byte raw event */
    RKB_RK(rk_launch(rt, &o, &id));
    return id;
}

static void pipeline_start(pipeline *p, unsigned lanes)
{
    rk_runtime_options ro;
    memset(p, 0, sizeof *p);
    p->lanes = lanes;
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA;
    ro.max_actors = 4 * lanes + 4;
    ro.gpu_program = &pipeline_program;
    RKB_RK(rk_runtime_create(&p->rt, &ro));
    RKB_CUDA(
        cudaHostAlloc((void **)&p->mirror, MAX_LANES * LINE_WORDS * 8, cudaHostAllocMapped | cudaHostAllocPortable));
    memset(p->mirror, 0, MAX_LANES * LINE_WORDS * 8);
    RKB_CUDA(cudaHostGetDevicePointer((void **)&p->dmirror, p->mirror, 0));
    for (unsigned l = 0; l < lanes; l++) {
        /* Built back to front: each stage's initial state names the next. */
        sink_state sk = {p->dmirror + l * LINE_WORDS, 0, 0, 0};
        stage_state st = {0, {0, 0, 0}};
        p->sink[l] = launch(p->rt, "sink", l, 3, &sk, sizeof sk);
        st.next = p->sink[l];
        st.next = launch(p->rt, "score", l, 2, &st, sizeof st);
        st.next = launch(p->rt, "enrich", l, 1, &st, sizeof st);
        p->parse[l] = launch(p->rt, "parse", l, 0, &st, sizeof st);
    }
}

static void pipeline_check(pipeline *p)
{
    rk_async_error e;
    if (rk_runtime_error(p->rt, &e) == RK_OK) {
        fprintf(stderr, "actor %u failed: %s\n", e.actor, rk_status_name(e.status));
        exit(1);
    }
}

static uint64_t arrived(const pipeline *p, unsigned lane)
{
    return __atomic_load_n(&p->mirror[lane * LINE_WORDS], __ATOMIC_ACQUIRE);
}

static void make_event(raw_event *e, uint64_t seq, unsigned lane)
{
    memset(e, 0, sizeof *e);
    e->seq = seq;
    snprintf(e->text, sizeof e->text, "u=%llu;i=%llu;a=%llu;h=%llu;",
             (unsigned long long)(seq * 2654435761u % 1000003u), (unsigned long long)((seq + lane) % 5003u),
             (unsigned long long)(seq % 100000u), (unsigned long long)(seq % 24u));
}

/* Sends, retrying while the parse actor's queue is full (at most 10 s). */
static void send_event(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *ev, uint32_t len)
{
    uint64_t deadline = 0;
    for (;;) {
        rk_status st = rk_send(rt, dst, type, ev, len);
        if (st == RK_OK)
            return;
        if (st != RK_EFULL) {
            fprintf(stderr, "rk_send: %s\n", rk_status_name(st));
            exit(1);
        }
        if (!deadline)
            deadline = rkb_now_ns() + 10000000000ull;
        else if (rkb_now_ns() > deadline) {
            fprintf(stderr, "rk_send: queue full for 10 s\n");
            exit(1);
        }
    }
}

/* Closed loop: one event at a time into `dst` of lane 0, timed until the
 * sink's count moves. `stages`: 4 (raw event to parse) or 1 (scored event
 * straight to the sink). */
static void closed_loop(rkb *b, pipeline *p, int stages, unsigned n, unsigned warm)
{
    double *us = (double *)malloc(n * sizeof *us);
    rk_actor_id dst = stages == 4 ? p->parse[0] : p->sink[0];
    char name[48];
    for (unsigned i = 0; i < warm + n; i++) {
        raw_event raw;
        scored_event sc = {i, 1.0f, 0};
        uint64_t want = arrived(p, 0) + 1, t0, t1, spins = 0;
        make_event(&raw, i, 0);
        t0 = rkb_now_ns();
        if (stages == 4)
            send_event(p->rt, dst, E_RAW, &raw, sizeof raw);
        else
            send_event(p->rt, dst, E_SCORED, &sc, sizeof sc);
        while (arrived(p, 0) < want) {
            if (++spins % 65536 == 0 && rkb_now_ns() - t0 > 1000000000ull) {
                pipeline_check(p);
                fprintf(stderr, "closed loop: event %u did not arrive within 1 s\n", i);
                exit(1);
            }
        }
        t1 = rkb_now_ns();
        if (i >= warm)
            us[i - warm] = (double)(t1 - t0) / 1e3;
    }
    snprintf(name, sizeof name, "latency %d stage%s", stages, stages > 1 ? "s" : "");
    rkb_samples(b, name, "us", us, n,
                stages == 4 ? "closed loop, one event in flight: rk_send of a 64-byte event to parse until the host "
                              "sees the sink's count move (parse, enrich, score, sink; 3 K2K hops)"
                            : "closed loop, one event in flight: rk_send of a scored event straight to the sink until "
                              "the host sees its count move");
    free(us);
}

typedef struct feeder {
    rk_runtime *rt;
    rk_actor_id dst;
    unsigned lane;
    volatile int *stop;
    double period_ns; /* 0: as fast as possible */
    unsigned probe_every;
    uint64_t *probe_t; /* [PROBE_RING]: send time of probe j at j % PROBE_RING */
    uint64_t sent;
    unsigned batch;      /* events per rk_send_batch (1: rk_send) */
    uint64_t t_next;     /* paced: the next event's time */
    uint64_t full_since; /* when its queue was first found full, 0 if it was not */
    raw_event *pre;      /* FEED_EVENTS events made up front: formatting text is not measured */
    unsigned char pad_[128];
} feeder;

/* One host thread: lanes first, first + step, ... of `f`. */
typedef struct feed_thread {
    feeder *f;
    unsigned first, step, lanes;
    volatile int *stop;
} feed_thread;

/* Offers lane f its next events if they are due: up to f->batch of them
 * in one rk_send_batch (one at a time when paced). Returns how many went;
 * a lane's queue may stay full for 10 s at most. */
static unsigned feed_one(feeder *f)
{
    raw_event e[MAX_BATCH];
    const unsigned n = f->period_ns > 0 ? 1u : f->batch;
    uint32_t sent = 0;
    rk_status st;
    if (f->period_ns > 0 && rkb_now_ns() < f->t_next)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        const uint64_t seq = f->sent + i;
        e[i] = f->pre[seq % FEED_EVENTS];
        e[i].seq = seq;
        if (seq % f->probe_every == 0)
            __atomic_store_n(&f->probe_t[(seq / f->probe_every) % PROBE_RING], rkb_now_ns(), __ATOMIC_RELEASE);
    }
    st = n == 1 ? rk_send(f->rt, f->dst, E_RAW, &e[0], sizeof e[0])
                : rk_send_batch(f->rt, f->dst, E_RAW, e, sizeof e[0], n, &sent);
    if (n == 1 && st == RK_OK)
        sent = 1;
    if (st != RK_OK && st != RK_EFULL) {
        fprintf(stderr, "rk_send: %s\n", rk_status_name(st));
        exit(1);
    }
    if (sent == 0) {
        uint64_t now = rkb_now_ns();
        if (!f->full_since)
            f->full_since = now;
        else if (now - f->full_since > 10000000000ull) {
            fprintf(stderr, "rk_send: lane %u's queue full for 10 s\n", f->lane);
            exit(1);
        }
        return 0;
    }
    f->full_since = 0;
    f->t_next += (uint64_t)f->period_ns;
    __atomic_store_n(&f->sent, f->sent + sent, __ATOMIC_RELEASE);
    return sent;
}

static void *feed(void *arg)
{
    feed_thread *t = (feed_thread *)arg;
    while (!*t->stop)
        for (unsigned l = t->first; l < t->lanes; l += t->step)
            (void)feed_one(&t->f[l]);
    return NULL;
}

typedef struct load_result {
    double rate_mean;
} load_result;

/* `lanes` feeders for `seconds` (after a warm-up of a quarter of it, at
 * most 0.5 s); this thread spins on the sinks' counts, timing probes and
 * sampling the rate every interval. */
static load_result load(rkb *b, pipeline *p, unsigned lanes, unsigned feeders, unsigned batch, double seconds,
                        uint64_t interval_ns, unsigned probe_every, double rate_per_lane, const char *tag)
{
    feeder *f = (feeder *)calloc(lanes, sizeof *f);
    const unsigned nth = lanes < feeders ? lanes : feeders;
    feed_thread ft[MAX_LANES];
    pthread_t th[MAX_LANES];
    volatile int stop = 0;
    uint64_t base[MAX_LANES], next_probe[MAX_LANES], warm_ns = (uint64_t)(seconds * 1e9 / 4);
    size_t cap = (size_t)(seconds * 1e9 / (double)interval_ns) + 2, nrate = 0, nlat = 0, lat_cap = 1 << 20;
    double *rate = (double *)malloc(cap * sizeof *rate), *lat = (double *)malloc(lat_cap * sizeof *lat);
    uint64_t t_measure, t_end, t_mark, n_mark = 0, deadline;
    int marked = 0;
    char name[64], desc[256];
    load_result r = {0};
    if (warm_ns > 500000000ull)
        warm_ns = 500000000ull;
    for (unsigned l = 0; l < lanes; l++) {
        base[l] = arrived(p, l);
        next_probe[l] = 0;
        f[l].rt = p->rt;
        f[l].dst = p->parse[l];
        f[l].lane = l;
        f[l].stop = &stop;
        f[l].period_ns = rate_per_lane > 0 ? 1e9 / rate_per_lane : 0;
        f[l].probe_every = probe_every;
        f[l].probe_t = (uint64_t *)calloc(PROBE_RING, sizeof(uint64_t));
        f[l].t_next = rkb_now_ns();
        f[l].batch = batch;
        f[l].pre = (raw_event *)malloc(FEED_EVENTS * sizeof(raw_event));
        for (unsigned i = 0; i < FEED_EVENTS; i++)
            make_event(&f[l].pre[i], i, l);
    }
    for (unsigned t = 0; t < nth; t++) {
        ft[t].f = f;
        ft[t].first = t;
        ft[t].step = nth;
        ft[t].lanes = lanes;
        ft[t].stop = &stop;
        pthread_create(&th[t], NULL, feed, &ft[t]);
    }
    t_measure = rkb_now_ns() + warm_ns;
    t_mark = t_measure;
    t_end = t_measure + (uint64_t)(seconds * 1e9);
    for (;;) {
        uint64_t now = rkb_now_ns();
        for (unsigned l = 0; l < lanes; l++) {
            uint64_t got = arrived(p, l) - base[l];
            /* Event k of the lane arrived once the sink counted k + 1. The
             * feeder stored its send time (release) before sending it. */
            while (got > next_probe[l]) {
                uint64_t t0 =
                    __atomic_load_n(&f[l].probe_t[(next_probe[l] / probe_every) % PROBE_RING], __ATOMIC_ACQUIRE);
                if (now >= t_measure && nlat < lat_cap && t0 != 0)
                    lat[nlat++] = (double)(now - t0) / 1e3;
                next_probe[l] += probe_every;
            }
        }
        if (now >= t_mark + interval_ns || (!marked && now >= t_mark)) {
            uint64_t n = 0;
            for (unsigned l = 0; l < lanes; l++)
                n += arrived(p, l) - base[l];
            if (marked && nrate < cap)
                rate[nrate++] = (double)(n - n_mark) * 1e9 / (double)(now - t_mark);
            marked = 1;
            n_mark = n;
            t_mark = now;
            if (now >= t_end)
                break;
        }
    }
    stop = 1;
    deadline = rkb_now_ns() + 10000000000ull;
    for (unsigned t = 0; t < nth; t++)
        pthread_join(th[t], NULL);
    for (unsigned l = 0; l < lanes; l++) {
        while (arrived(p, l) - base[l] != f[l].sent) {
            if (rkb_now_ns() > deadline) {
                pipeline_check(p);
                fprintf(stderr, "lane %u: %llu of %llu events arrived after 10 s\n", l,
                        (unsigned long long)(arrived(p, l) - base[l]), (unsigned long long)f[l].sent);
                exit(1);
            }
        }
        free(f[l].probe_t);
        free(f[l].pre);
    }
    pipeline_check(p);
    snprintf(name, sizeof name, "events/s %u lane%s%s", lanes, lanes > 1 ? "s" : "", tag);
    snprintf(desc, sizeof desc,
             "events arriving at the sinks per interval, %u lanes of parse->enrich->score->sink, %u host threads "
             "sending to their lanes in turn with %s%s",
             lanes, nth, rate_per_lane > 0 || batch == 1 ? "rk_send" : "rk_send_batch of up to --batch events",
             rate_per_lane > 0 ? " at a fixed pace" : " as fast as they can");
    if (nrate > 0) {
        double var;
        rkb_samples(b, name, "events/s", rate, nrate, desc);
        rk_stats_mean_var(rate, nrate, &r.rate_mean, &var);
    }
    snprintf(name, sizeof name, "latency under load %u lane%s%s", lanes, lanes > 1 ? "s" : "", tag);
    snprintf(desc, sizeof desc,
             "every %u-th event of each lane: host time from just before its rk_send until the host saw the sink's "
             "count pass it, during the events/s run (queueing included)",
             probe_every);
    if (nlat > 0)
        rkb_samples(b, name, "us", lat, nlat, desc);
    free(rate);
    free(lat);
    free(f);
    return r;
}

int main(int argc, char **argv)
{
    unsigned lanes[MAX_LIST];
    int nl = rkb_arg_list(argc, argv, "--lanes", "1,8,32,64", lanes, MAX_LIST);
    unsigned feeders = (unsigned)rkb_arg_u64(argc, argv, "--feeders", 8);
    unsigned batch = (unsigned)rkb_arg_u64(argc, argv, "--batch", 16);
    double seconds = rkb_arg_f64(argc, argv, "--seconds", 3);
    unsigned nlat = (unsigned)rkb_arg_u64(argc, argv, "--latency-events", 20000);
    unsigned probe_every = (unsigned)rkb_arg_u64(argc, argv, "--probe-every", 1024);
    double paced = rkb_arg_f64(argc, argv, "--paced-fraction", 0.5);
    uint64_t interval_ns = rkb_arg_u64(argc, argv, "--interval-ms", 100) * 1000000ull;
    unsigned max_l = 1, widest = 0;
    double best = 0, widest_rate = 0;
    pipeline p;
    rkb b;

    for (int i = 0; i < nl; i++)
        max_l = lanes[i] > max_l ? lanes[i] : max_l;
    if (max_l > MAX_LANES || seconds <= 0 || nlat < 2 || probe_every == 0 || interval_ns == 0 || feeders == 0 ||
        batch == 0 || batch > MAX_BATCH) {
        fprintf(stderr,
                "at most %d lanes; --seconds > 0, --latency-events >= 2, --probe-every > 0, --feeders > 0, "
                "--batch 1..%d\n",
                MAX_LANES, MAX_BATCH);
        return 2;
    }
    if (rkb_init(&b, "bench_gpu_pipeline", argc, argv) != 0)
        return RKB_SKIP;
    rkb_param_str(&b, "lanes", rkb_arg_str(argc, argv, "--lanes", "1,8,32,64"));
    rkb_param_num(&b, "feeders", feeders);
    rkb_param_num(&b, "batch", batch);
    rkb_param_num(&b, "seconds", seconds);
    rkb_param_num(&b, "latency_events", nlat);
    rkb_param_num(&b, "probe_every", probe_every);
    rkb_param_num(&b, "paced_fraction", paced);
    rkb_param_num(&b, "interval_ms", (double)interval_ns / 1e6);
    rkb_param_num(&b, "peer_events_per_s_published", PEER_EVENTS_PER_S);

    pipeline_start(&p, max_l);
    printf("closed loop (one event in flight, lane 0):\n");
    closed_loop(&b, &p, 1, nlat, nlat / 10 + 1);
    closed_loop(&b, &p, 4, nlat, nlat / 10 + 1);
    rkb_compare(&b, "latency_4_stages", "latency_1_stage", "4-stage pipeline / host -> sink alone");
    printf("open loop (up to %u host threads send to their lanes as fast as they can):\n", feeders);
    for (int i = 0; i < nl; i++) {
        load_result r = load(&b, &p, lanes[i], feeders, batch, seconds, interval_ns, probe_every, 0, "");
        char id[48];
        snprintf(id, sizeof id, "events_s_%u_lane%s", lanes[i], lanes[i] > 1 ? "s" : "");
        if (rkb_find(&b, id) && rkb_find(&b, id)->st.median > best)
            best = rkb_find(&b, id)->st.median;
        if (lanes[i] >= widest) {
            widest = lanes[i];
            widest_rate = r.rate_mean;
        }
    }
    if (paced > 0 && paced < 1 && widest_rate > 0) {
        printf("paced (%.0f%% of the rate %u lanes reached):\n", 100 * paced, widest);
        load(&b, &p, widest, feeders, batch, seconds, interval_ns, probe_every, paced * widest_rate / widest, " paced");
    }
    rkb_value_add(&b, "best events/s", "events/s", best, "highest median events/s over the lane counts");
    rk_runtime_destroy(p.rt);
    RKB_CUDA(cudaFreeHost(p.mirror));
    {
        double l4 = rkb_find(&b, "latency_4_stages")->st.median, l1 = rkb_find(&b, "latency_1_stage")->st.median;
        int rc = rkb_finish(&b);
        printf("\nsummary bench_gpu_pipeline: best %.3f M events/s (host enqueue to sink count); closed-loop latency "
               "4 stages %.2f us, 1 stage %.2f us; peer's published 610K events/s quoted, not measured here\n",
               best / 1e6, l4, l1);
        return rc;
    }
}
