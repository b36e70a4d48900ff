/* Light actors' scheduler (include/ringkernel/light.cuh) on the GPU: each home is a
 * persistent block running rk_light_block; sender blocks play other actors.
 * The same cases as tests/test_light.c, at GPU sizes:
 *   bad_input   a send to a bad id, and to a full inbox, from the device
 *   leftovers   inboxes filled by one launch before the homes' launch runs
 *               them, batch 1
 *   senders     sender blocks to many actors, each message once and in
 *               order per sender: 1 home with 64 actors, 4 homes with
 *               batch 1, and 64 homes x 256 actors with 4-slot inboxes
 *   forwarding  tokens passed from actor to actor over 64 homes: through
 *               inboxes, with the hand-off, with the local queue, and with
 *               the local queue and clusters of 8 (all three tiers)
 *   stealing    sender blocks to actors of home 0 only, on 64 homes with
 *               stealing on: other homes run them, each once and in order
 *   cluster_stealing stealing in clusters of 8: sender blocks to the actors
 *               of the first cluster, each message forwarded to a partner
 *               through a cluster ring; ring messages whose receiver runs
 *               elsewhere move into its inbox; every message once and in
 *               order per source, no actor run by two homes at once
 *   cluster_drain tokens that move only within their cluster of 8 homes,
 *               the stop word set before the launch: every hop runs
 *   cluster_refused a world with clusters launched without them: every home
 *               returns at once with RK_EINVAL in its error word
 * Every wait is bounded: past its limit the host sets the stop word, and
 * the test prints where messages wait (rk_light_world_report) and fails.
 * RK_STRESS_MESSAGES sets the messages per case (default 1 000 000).
 * Exits 77 without a CUDA device. */
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "light_cases.h"

#define TL_FAIL()                                                                                    \
    do {                                                                                             \
        fflush(NULL);                                                                                \
        _exit(1);                                                                                    \
    } while (0)
#define TL_CHECK(cond)                                                                               \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                 \
            TL_FAIL();                                                                               \
        }                                                                                            \
    } while (0)
#define TL_CUDA(call)                                                                                \
    do {                                                                                             \
        cudaError_t e_ = (call);                                                                     \
        if (e_ != cudaSuccess) {                                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));   \
            TL_FAIL();                                                                               \
        }                                                                                            \
    } while (0)

static uint64_t tl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t tl_env(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;
    if (!s || !*s)
        return dflt;
    v = strtoull(s, &end, 10);
    return (*end == '\0' && v > 0) ? (uint64_t)v : dflt;
}

/* What the handlers count, in device memory. */
struct tl_counts {
    unsigned long long ok, bad, full, tokens_done, taken;
    unsigned long long status[4]; /* bad_input: the statuses the device saw */
};

/* A case on the device. */
struct tl_case {
    rk_light_world *w;        /* in device memory */
    uint64_t *next;           /* [actors * sources] expected numbers */
    uint64_t *sent;           /* [sources * actors] numbers sent */
    tl_counts *counts;
    volatile uint32_t *stop;  /* device memory: the last handler sets it, or the host on a timeout */
    uint64_t expect;          /* messages the handlers take in all */
    uint64_t sources, per_sender, hops;
    uint32_t skew; /* 1: senders send to actors of home 0 only; 2: to those of the first cluster's homes */
    uint32_t *inside; /* cluster_stealing: [actors], 1 while a handler of the actor runs */
    uint64_t *fwd;    /* cluster_stealing: [actors], messages each forwarded to its partner */
};

/* A sink: every thread checks the checksum, thread 0 the order. */
struct tl_sink {
    tl_case k;
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        __shared__ int bad;
        if (threadIdx.x == 0)
            bad = 0;
        __syncthreads();
        if (m->w[2] != lc_sum(m->w[0], m->w[1]))
            atomicOr(&bad, 1);
        __syncthreads();
        if (threadIdx.x == 0) {
            int r = bad ? 2 : lc_take(m, &k.next[(size_t)c->self * k.sources], k.sources);
            atomicAdd(r ? &k.counts->bad : &k.counts->ok, 1ull);
            /* The last message's handler stops the homes. */
            if (atomicAdd(&k.counts->taken, 1ull) + 1 == k.expect)
                *k.stop = 1;
        }
    }
};

/* cluster_stealing: a message from a sender block is checked, then sent
 * on to the actor's partner, the actor of the same rank on the next home
 * of its cluster (through that home's cluster ring), as source
 * `sources - 1` numbered per forwarder; the partner checks it in order
 * too. No two homes may run one actor at once (`inside`). A forward the
 * ring refuses (RK_EFULL) is counted in `full`. Each sender's message
 * settles two counts: its own run, and its forward's run or refusal. */
struct tl_pair {
    tl_case k;
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        if (threadIdx.x != 0)
            return;
        const uint64_t fwd_src = k.sources - 1;
        const int direct = m->w[0] != fwd_src;
        int r = atomicExch(&k.inside[c->self], 1u) != 0 ? 4 : 0, forwarded = 0;
        if (lc_take(m, &k.next[(size_t)c->self * k.sources], k.sources) != 0)
            r = 3;
        if (r == 0 && direct) {
            const uint32_t homes = c->w->cfg.homes, cl = c->w->cfg.cluster, h = c->self % homes;
            const uint32_t first = h - h % cl, partner = c->self - h + first + (h - first + 1) % cl;
            uint64_t words[RK_LIGHT_WORDS];
            lc_words(words, fwd_src, k.fwd[c->self]);
            forwarded = rk_light_ctx_send(c, partner, 0, words) == RK_OK;
            if (forwarded)
                k.fwd[c->self]++;
            else
                atomicAdd(&k.counts->full, 1ull);
        }
        atomicExch(&k.inside[c->self], 0u);
        atomicAdd(r ? &k.counts->bad : &k.counts->ok, 1ull);
        const unsigned long long settled = direct && !forwarded ? 2 : 1;
        if (atomicAdd(&k.counts->taken, settled) + settled == k.expect)
            *k.stop = 1;
    }
};

/* A token of cluster_drain: it moves on (lc_cluster_next) until k.hops. */
struct tl_cluster_token {
    tl_case k;
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        if (threadIdx.x != 0)
            return;
        uint64_t tok = m->w[0], hops = m->w[1], words[RK_LIGHT_WORDS];
        if (m->w[2] != lc_sum(tok, hops)) {
            atomicAdd(&k.counts->bad, 1ull);
            return;
        }
        atomicAdd(&k.counts->ok, 1ull);
        if (hops == k.hops) {
            atomicAdd(&k.counts->tokens_done, 1ull);
            return;
        }
        lc_words(words, tok, hops + 1);
        if (rk_light_ctx_send(c, lc_cluster_next(c, hops), 0, words) != RK_OK)
            atomicAdd(&k.counts->full, 1ull);
    }
};

/* A token: w[0] its number, w[1] its hops. It moves to an actor of the
 * same home two hops of three (the block tier's hand-off or local queue,
 * when on), else to the next actor (on another home: of the same cluster
 * but at a cluster's last home, when clusters are on). */
struct tl_forward {
    tl_case k;
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        if (threadIdx.x != 0)
            return;
        uint64_t tok = m->w[0], hops = m->w[1], words[RK_LIGHT_WORDS];
        uint32_t n = c->w->cfg.actors, h = c->w->cfg.homes;
        if (m->w[2] != lc_sum(tok, hops)) {
            atomicAdd(&k.counts->bad, 1ull);
            *k.stop = 1;
            return;
        }
        atomicAdd(&k.counts->ok, 1ull);
        if (hops == k.hops) {
            if (atomicAdd(&k.counts->tokens_done, 1ull) + 1 == k.sources)
                *k.stop = 1;
            return;
        }
        lc_words(words, tok, hops + 1);
        uint32_t dst = hops % 3 ? (c->self + h) % n : (c->self + 1) % n;
        if (rk_light_ctx_send(c, dst, 0, words) != RK_OK)
            atomicAdd(&k.counts->full, 1ull);
    }
};

/* Sender block s (thread 0): per_sender messages to actors of its own
 * generator, numbered per receiver; it waits (naps) while an inbox is full. */
static __device__ void tl_send_all(const tl_case &k, uint32_t s)
{
    rk_light_world *w = k.w;
    uint64_t x = 0x2545f4914f6cdd1dull * (s + 1), words[RK_LIGHT_WORDS];
    uint64_t *sent = &k.sent[(size_t)s * w->cfg.actors];
    for (uint64_t i = 0; i < k.per_sender; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t dst = (uint32_t)(x % w->cfg.actors);
        if (k.skew == 1)
            dst -= dst % w->cfg.homes; /* an actor of home 0 */
        else if (k.skew == 2)
            dst -= dst % w->cfg.homes - dst % w->cfg.homes % w->cfg.cluster; /* of the first cluster */
        lc_words(words, s, sent[dst]++);
        while (rk_light_send(w, s, dst, 0, words) == RK_EFULL) {
            if (*k.stop)
                return;
            __nanosleep(200);
        }
    }
}

template <class H> __global__ void tl_kernel(tl_case k, H fn)
{
    uint32_t homes = k.w->cfg.homes;
    if (blockIdx.x < homes) {
        rk_light_block(k.w, blockIdx.x, fn);
    } else if (threadIdx.x == 0) {
        tl_send_all(k, blockIdx.x - homes);
    }
}

/* Fills every inbox with `per` messages from source 0 (leftovers), then
 * tries one more to actor 0 and a bad id (bad_input). One thread. */
__global__ void tl_fill(tl_case k, uint32_t per)
{
    uint64_t words[RK_LIGHT_WORDS];
    for (uint32_t n = 0; n < per; n++)
        for (uint32_t a = 0; a < k.w->cfg.actors; a++) {
            lc_words(words, 0, n);
            k.counts->status[0] |= rk_light_send(k.w, 0, a, 0, words) != RK_OK;
        }
    lc_words(words, 0, per);
    k.counts->status[1] = rk_light_send(k.w, 0, 0, 0, words);
    k.counts->status[2] = rk_light_send(k.w, 0, k.w->cfg.actors, 0, words);
    k.counts->status[3] = rk_light_send(NULL, 0, 0, 0, words);
}

/* Starts tokens [0, sources) at actors 4t (one thread). */
__global__ void tl_tokens(tl_case k)
{
    uint64_t words[RK_LIGHT_WORDS];
    for (uint64_t t = 0; t < k.sources; t++) {
        lc_words(words, t, 0);
        k.counts->status[0] |= rk_light_send(k.w, RK_LIGHT_NONE, (uint32_t)(t * 4 % k.w->cfg.actors), 0, words) != RK_OK;
    }
}

/* Starts cluster_drain's tokens: token t at an actor of the first home of
 * cluster t % 8 (one thread). */
__global__ void tl_drain_start(tl_case k, uint32_t tokens)
{
    uint64_t words[RK_LIGHT_WORDS];
    for (uint32_t t = 0; t < tokens; t++) {
        uint32_t homes = k.w->cfg.homes, first = (t % (homes / k.w->cfg.cluster)) * k.w->cfg.cluster;
        lc_words(words, t, 0);
        k.counts->status[0] |= rk_light_send(k.w, RK_LIGHT_NONE, first + homes * (t / 8), 0, words) != RK_OK;
    }
}

/* An echo to the host: what came through the port goes back through the
 * home's ring to the host, naming the actor that ran it (w[5]). A full
 * ring is waited out (the host reads meanwhile). */
struct tl_echo {
    tl_case k;
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        if (threadIdx.x != 0)
            return;
        uint64_t words[RK_LIGHT_WORDS];
        rk_status st;
        for (int i = 0; i < RK_LIGHT_WORDS; i++)
            words[i] = m->w[i];
        words[5] = c->self;
        if (m->src != RK_LIGHT_HOST) {
            atomicAdd(&k.counts->bad, 1ull);
            return;
        }
        while ((st = rk_light_ctx_send(c, RK_LIGHT_HOST, m->type, words)) == RK_EFULL) {
            atomicAdd(&k.counts->full, 1ull);
            if (*k.stop)
                return;
            __nanosleep(500);
        }
        atomicAdd(st == RK_OK ? &k.counts->ok : &k.counts->bad, 1ull);
    }
};

/* The homes, and after them one block whose thread 0 forwards the port. */
__global__ void tl_port_kernel(tl_case k, tl_echo fn)
{
    if (blockIdx.x < k.w->cfg.homes)
        rk_light_block(k.w, blockIdx.x, fn);
    else
        rk_light_ingress(k.w);
}

/* ---- host side ------------------------------------------------------------------------- */

struct tl_world {
    tl_case k;
    void *image;
    size_t bytes;
};

static void tl_create(tl_world *t, const rk_light_config *c, uint64_t sources)
{
    rk_light_layout l = rk_light_world_layout(c);
    void *base;
    memset(t, 0, sizeof *t);
    TL_CHECK(l.bytes > 0);
    t->bytes = l.bytes;
    uint32_t *stop_dev;
    TL_CUDA(cudaMalloc((void **)&stop_dev, sizeof(uint32_t)));
    TL_CUDA(cudaMemset(stop_dev, 0, sizeof(uint32_t)));
    TL_CUDA(cudaMalloc(&base, l.bytes));
    t->image = malloc(l.bytes);
    TL_CHECK(t->image != NULL);
    TL_CHECK(rk_light_world_init(t->image, base, c, stop_dev) == RK_OK);
    TL_CUDA(cudaMemcpy(base, t->image, l.bytes, cudaMemcpyHostToDevice));
    t->k.w = (rk_light_world *)base;
    t->k.stop = stop_dev;
    t->k.sources = sources;
    TL_CUDA(cudaMalloc(&t->k.next, (size_t)c->actors * sources * sizeof(uint64_t)));
    TL_CUDA(cudaMemset(t->k.next, 0, (size_t)c->actors * sources * sizeof(uint64_t)));
    TL_CUDA(cudaMalloc(&t->k.sent, (size_t)c->actors * sources * sizeof(uint64_t)));
    TL_CUDA(cudaMemset(t->k.sent, 0, (size_t)c->actors * sources * sizeof(uint64_t)));
    TL_CUDA(cudaMalloc(&t->k.counts, sizeof(tl_counts)));
    TL_CUDA(cudaMemset(t->k.counts, 0, sizeof(tl_counts)));
}

static void tl_destroy(tl_world *t)
{
    cudaFree(t->k.w);
    cudaFree(t->k.next);
    cudaFree(t->k.sent);
    cudaFree(t->k.counts);
    cudaFree((void *)t->k.stop);
    free(t->image);
}

/* Nonzero: a world with clusters is launched without them (cluster_refused). */
static int tl_plain_launch;

/* The launch: as clusters of cfg.cluster blocks when the world has them
 * (the homes are the first blocks, so each cluster holds homes only). All
 * blocks must be resident at once (homes wait for senders). */
template <class H>
static void tl_launch(tl_world *t, uint32_t blocks, uint32_t threads, cudaStream_t st, H fn)
{
    rk_light_config c = ((rk_light_world *)t->image)->cfg;
    cudaLaunchConfig_t lc;
    cudaLaunchAttribute at[1];
    if (tl_plain_launch)
        c.cluster = 0;
    TL_CHECK(rk_light_launch_config(&lc, at, &c, (const void *)tl_kernel<H>, blocks, threads, st) == RK_OK);
    TL_CUDA(cudaLaunchKernelEx(&lc, tl_kernel<H>, t->k, fn));
}

/* Runs the kernel to the end, or to limit_ns: then sets the stop word, and
 * fails with the report of where messages wait. Returns the counts. */
template <class H>
static tl_counts tl_run(tl_world *t, uint32_t senders, H fn, uint64_t limit_ns, const char *name)
{
    uint32_t homes = ((rk_light_world *)t->image)->cfg.homes, threads = 128;
    cudaStream_t st;
    tl_counts got;
    uint64_t t0 = tl_now_ns();
    int timed_out = 0;
    TL_CUDA(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    tl_launch(t, homes + senders, threads, st, fn);
    TL_CUDA(cudaGetLastError());
    while (cudaStreamQuery(st) == cudaErrorNotReady) {
        if (!timed_out && tl_now_ns() - t0 > limit_ns) {
            static const uint32_t one = 1;
            cudaStream_t s2;
            timed_out = 1;
            TL_CUDA(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
            TL_CUDA(cudaMemcpyAsync((void *)t->k.stop, &one, sizeof one, cudaMemcpyHostToDevice, s2));
            TL_CUDA(cudaStreamSynchronize(s2));
            TL_CUDA(cudaStreamDestroy(s2));
        }
        if (timed_out && tl_now_ns() - t0 > limit_ns + 10000000000ull) {
            fprintf(stderr, "%s: the kernel did not stop 10 s after the stop word\n", name);
            TL_FAIL();
        }
        usleep(1000);
    }
    TL_CUDA(cudaStreamSynchronize(st));
    TL_CUDA(cudaStreamDestroy(st));
    TL_CUDA(cudaMemcpy(&got, t->k.counts, sizeof got, cudaMemcpyDeviceToHost));
    TL_CUDA(cudaMemcpy(t->image, t->k.w, t->bytes, cudaMemcpyDeviceToHost));
    printf("%s: %llu messages in %.1f ms\n", name, got.ok + got.bad, (tl_now_ns() - t0) / 1e6);
    /* A refused send settles its message too (tl_pair). */
    if (timed_out || got.ok + got.bad + got.full < t->k.expect) {
        fprintf(stderr, "%s: stalled, %llu of %llu messages taken after %.0f s\n", name, got.ok + got.bad,
                (unsigned long long)t->k.expect, limit_ns / 1e9);
        rk_light_world_report(t->image, t->k.w, stderr, 16);
        TL_FAIL();
    }
    return got;
}

/* After a run: every token IDLE, every inbox and run queue empty. */
static void tl_check_quiet(tl_world *t)
{
    rk_light_world *w = (rk_light_world *)t->image;
    rk_light_actor *act = (rk_light_actor *)rk_light_in_image(t->image, t->k.w, w->actor);
    rk_light_home *home = (rk_light_home *)rk_light_in_image(t->image, t->k.w, w->home);
    for (uint32_t a = 0; a < w->cfg.actors; a++)
        TL_CHECK(act[a].sched == RK_LIGHT_IDLE && act[a].tail == act[a].head);
    for (uint32_t h = 0; h < w->cfg.homes; h++)
        TL_CHECK(home[h].tail == home[h].head);
}

/* A counter of rk_light_home (its offset), summed over the homes. */
static uint64_t tl_homes_sum(tl_world *t, size_t field)
{
    rk_light_world *w = (rk_light_world *)t->image;
    unsigned char *home = (unsigned char *)rk_light_in_image(t->image, t->k.w, w->home);
    uint64_t n = 0;
    for (uint32_t h = 0; h < w->cfg.homes; h++)
        n += *(uint64_t *)(home + h * sizeof(rk_light_home) + field);
    return n;
}

static const uint64_t tl_limit = 60ull * 1000000000ull;

static void leftovers_and_bad_input(void)
{
    rk_light_config c = {256, 4, 8, 1, 0, 0, 0};
    tl_world t;
    tl_counts got;
    tl_create(&t, &c, 1);
    t.k.expect = 8ull * c.actors;
    tl_fill<<<1, 1>>>(t.k, 8);
    TL_CUDA(cudaDeviceSynchronize());
    TL_CUDA(cudaMemcpy(&got, t.k.counts, sizeof got, cudaMemcpyDeviceToHost));
    TL_CHECK(got.status[0] == 0);
    TL_CHECK(got.status[1] == RK_EFULL);
    TL_CHECK(got.status[2] == RK_EINVAL);
    TL_CHECK(got.status[3] == RK_EINVAL);
    got = tl_run(&t, 0, tl_sink{t.k}, tl_limit, "leftovers");
    TL_CHECK(got.bad == 0 && got.ok == t.k.expect);
    uint64_t *next = (uint64_t *)malloc(c.actors * sizeof(uint64_t));
    TL_CHECK(next != NULL);
    TL_CUDA(cudaMemcpy(next, t.k.next, c.actors * sizeof(uint64_t), cudaMemcpyDeviceToHost));
    for (uint32_t a = 0; a < c.actors; a++)
        TL_CHECK(next[a] == 8);
    free(next);
    tl_check_quiet(&t);
    tl_destroy(&t);
    printf("PASS leftovers and bad input\n");
}

static void senders(const rk_light_config *c, uint32_t senders, uint64_t total, const char *name, uint32_t skew = 0)
{
    tl_world t;
    tl_create(&t, c, senders);
    t.k.skew = skew;
    t.k.per_sender = total / senders;
    t.k.expect = t.k.per_sender * senders;
    tl_counts got = tl_run(&t, senders, tl_sink{t.k}, tl_limit, name);
    TL_CHECK(got.bad == 0 && got.ok == t.k.expect);
    /* Every receiver expects next what each sender sent it: none lost. */
    size_t n = (size_t)c->actors * senders;
    uint64_t *next = (uint64_t *)malloc(n * sizeof(uint64_t)), *sent = (uint64_t *)malloc(n * sizeof(uint64_t));
    TL_CHECK(next && sent);
    TL_CUDA(cudaMemcpy(next, t.k.next, n * sizeof(uint64_t), cudaMemcpyDeviceToHost));
    TL_CUDA(cudaMemcpy(sent, t.k.sent, n * sizeof(uint64_t), cudaMemcpyDeviceToHost));
    for (uint32_t s = 0; s < senders; s++)
        for (uint32_t a = 0; a < c->actors; a++)
            TL_CHECK(next[(size_t)a * senders + s] == sent[(size_t)s * c->actors + a]);
    free(next);
    free(sent);
    if (c->steal) {
        printf("  %llu runs stolen\n", (unsigned long long)tl_homes_sum(&t, offsetof(rk_light_home, steals)));
        TL_CHECK(!skew || tl_homes_sum(&t, offsetof(rk_light_home, steals)) > 0);
    } else {
        TL_CHECK(tl_homes_sum(&t, offsetof(rk_light_home, steals)) == 0);
    }
    tl_check_quiet(&t);
    tl_destroy(&t);
    printf("PASS %s\n", name);
}

static const char *tl_tier(uint32_t handoff)
{
    return handoff == RK_LIGHT_LOCAL ? "local queue" : handoff == RK_LIGHT_TOKEN ? "hand-off" : "inboxes";
}

static void forwarding(uint32_t handoff, uint64_t total, uint32_t cluster = 0)
{
    char name[96];
    /* As many inbox slots as tokens: no inbox is ever full. */
    rk_light_config c = {64 * 256, 64, 64, 4, handoff, 0, cluster};
    tl_world t;
    tl_create(&t, &c, 64); /* 64 tokens */
    t.k.hops = total / 64;
    t.k.expect = 64 * (t.k.hops + 1);
    tl_tokens<<<1, 1>>>(t.k);
    TL_CUDA(cudaDeviceSynchronize());
    snprintf(name, sizeof name, "forwarding, %s%s", tl_tier(handoff), cluster ? ", clusters of 8" : "");
    tl_counts got = tl_run(&t, 0, tl_forward{t.k}, tl_limit, name);
    TL_CHECK(got.status[0] == 0 && got.bad == 0 && got.full == 0);
    TL_CHECK(got.tokens_done == 64 && got.ok == t.k.expect);
    uint64_t handed = tl_homes_sum(&t, offsetof(rk_light_home, handoffs));
    uint64_t locals = tl_homes_sum(&t, offsetof(rk_light_home, locals));
    uint64_t clustered = tl_homes_sum(&t, offsetof(rk_light_home, clustered));
    printf("  %llu hops, %llu handed over, %llu local, %llu through cluster rings\n", got.ok,
           (unsigned long long)handed, (unsigned long long)locals, (unsigned long long)clustered);
    TL_CHECK(handoff == RK_LIGHT_TOKEN ? handed > 0 : handed == 0);
    /* Two hops of three stay on their home: all of them local. */
    TL_CHECK(handoff == RK_LIGHT_LOCAL ? locals >= 64 * t.k.hops / 2 : locals == 0);
    /* The others go to the next home: 7 of 8 times within the cluster. */
    TL_CHECK(cluster ? clustered > 0 : clustered == 0);
    tl_check_quiet(&t);
    tl_destroy(&t);
    printf("PASS %s\n", name);
}

/* Stealing in clusters of 8 on 64 homes: 16 sender blocks send to the
 * actors of the first cluster's homes; each forwards what it gets to its
 * partner on the next home of the cluster (tl_pair). Homes of that cluster
 * steal from each other; a cluster-ring message whose receiver runs
 * elsewhere, or has messages waiting, moves into its inbox. Every message
 * once and in order per source, no actor run by two homes at once, and
 * every forward either run from a ring or moved. */
static void cluster_stealing(uint64_t total)
{
    const char *name = "stealing in clusters of 8: 16 blocks to the actors of the first cluster, each forwarded "
                       "through a cluster ring";
    rk_light_config c = {64 * 256, 64, 16, 4, 0, 1, 8};
    const uint32_t senders = 16;
    tl_world t;
    tl_create(&t, &c, senders + 1);
    t.k.skew = 2;
    t.k.per_sender = total / senders;
    t.k.expect = 2 * t.k.per_sender * senders;
    TL_CUDA(cudaMalloc(&t.k.inside, c.actors * sizeof(uint32_t)));
    TL_CUDA(cudaMemset(t.k.inside, 0, c.actors * sizeof(uint32_t)));
    TL_CUDA(cudaMalloc(&t.k.fwd, c.actors * sizeof(uint64_t)));
    TL_CUDA(cudaMemset(t.k.fwd, 0, c.actors * sizeof(uint64_t)));
    tl_counts got = tl_run(&t, senders, tl_pair{t.k}, tl_limit, name);
    TL_CHECK(got.bad == 0);
    size_t n = (size_t)c.actors * (senders + 1);
    uint64_t *next = (uint64_t *)malloc(n * sizeof(uint64_t)), *sent = (uint64_t *)malloc(n * sizeof(uint64_t));
    uint64_t *fwd = (uint64_t *)malloc(c.actors * sizeof(uint64_t)), forwards = 0;
    TL_CHECK(next && sent && fwd);
    TL_CUDA(cudaMemcpy(next, t.k.next, n * sizeof(uint64_t), cudaMemcpyDeviceToHost));
    TL_CUDA(cudaMemcpy(sent, t.k.sent, n * sizeof(uint64_t), cudaMemcpyDeviceToHost));
    TL_CUDA(cudaMemcpy(fwd, t.k.fwd, c.actors * sizeof(uint64_t), cudaMemcpyDeviceToHost));
    for (uint32_t a = 0; a < c.actors; a++) {
        const uint32_t h = a % c.homes, first = h - h % c.cluster;
        const uint32_t partner = a - h + first + (h - first + 1) % c.cluster;
        for (uint32_t s = 0; s < senders; s++)
            TL_CHECK(next[(size_t)a * (senders + 1) + s] == sent[(size_t)s * c.actors + a]);
        TL_CHECK(next[(size_t)partner * (senders + 1) + senders] == fwd[a]);
        forwards += fwd[a];
    }
    TL_CHECK(got.ok == t.k.per_sender * senders + forwards && forwards + got.full == t.k.per_sender * senders);
    const uint64_t steals = tl_homes_sum(&t, offsetof(rk_light_home, steals));
    const uint64_t clustered = tl_homes_sum(&t, offsetof(rk_light_home, clustered));
    const uint64_t moved = tl_homes_sum(&t, offsetof(rk_light_home, moved));
    printf("  %llu forwarded (%llu refused full): %llu run from cluster rings, %llu moved to inboxes; %llu runs "
           "stolen\n",
           (unsigned long long)forwards, got.full, (unsigned long long)clustered, (unsigned long long)moved,
           (unsigned long long)steals);
    TL_CHECK(clustered + moved == forwards && steals > 0);
    /* Stealing stays within the cluster: the other homes ran nothing. */
    {
        rk_light_world *w = (rk_light_world *)t.image;
        rk_light_home *home = (rk_light_home *)rk_light_in_image(t.image, t.k.w, w->home);
        for (uint32_t h = c.cluster; h < c.homes; h++)
            TL_CHECK(home[h].runs == 0 && home[h].clustered == 0);
    }
    free(next);
    free(sent);
    free(fwd);
    tl_check_quiet(&t);
    cudaFree(t.k.inside);
    cudaFree(t.k.fwd);
    tl_destroy(&t);
    printf("PASS %s\n", name);
}

static void cluster_drain(uint64_t total)
{
    /* 64 homes in clusters of 8; tokens start on the first home of each
     * cluster, so the others begin with nothing (and the stop word set). */
    rk_light_config c = {64 * 64, 64, 16, 4, RK_LIGHT_LOCAL, 0, 8};
    const uint32_t tokens = 64;
    const uint32_t one = 1;
    tl_world t;
    tl_create(&t, &c, tokens);
    t.k.hops = total / tokens;
    t.k.expect = tokens * (t.k.hops + 1);
    tl_drain_start<<<1, 1>>>(t.k, tokens);
    TL_CUDA(cudaMemcpy((void *)t.k.stop, &one, sizeof one, cudaMemcpyHostToDevice));
    TL_CUDA(cudaDeviceSynchronize());
    tl_counts got = tl_run(&t, 0, tl_cluster_token{t.k}, tl_limit, "cluster_drain, stop word set before the launch");
    uint64_t clustered = tl_homes_sum(&t, offsetof(rk_light_home, clustered));
    printf("  %llu hops, %llu through cluster rings\n", got.ok, (unsigned long long)clustered);
    TL_CHECK(got.status[0] == 0 && got.bad == 0 && got.full == 0);
    TL_CHECK(got.tokens_done == tokens && got.ok == t.k.expect);
    TL_CHECK(clustered > 0);
    tl_check_quiet(&t);
    tl_destroy(&t);
    printf("PASS cluster_drain\n");
}

static void cluster_refused(void)
{
    rk_light_config c = {64 * 16, 64, 4, 4, 0, 0, 8};
    tl_world t;
    tl_create(&t, &c, 1);
    tl_plain_launch = 1;
    t.k.expect = 0;
    tl_run(&t, 0, tl_sink{t.k}, tl_limit, "cluster_refused, launched without clusters");
    tl_plain_launch = 0;
    TL_CHECK(tl_homes_sum(&t, offsetof(rk_light_home, error)) == 64ull * RK_EINVAL);
    TL_CHECK(tl_homes_sum(&t, offsetof(rk_light_home, runs)) == 0);
    tl_destroy(&t);
    printf("PASS cluster_refused\n");
}

/* The host's port: this thread sends `total` messages through it to
 * actors in turn and takes the echoes as they come, then times `trips`
 * round trips of one message (host -> forwarder -> actor -> host). Every
 * echo once, intact, from the actor it was sent to, in order per actor. */
static void port(uint64_t total, uint64_t trips)
{
    const rk_light_config c = {1024, 8, 16, 4, 0, 0, 0};
    const size_t bytes = rk_light_port_bytes(c.homes);
    uint64_t sent = 0, got = 0, bad = 0, full = 0, *last = (uint64_t *)calloc(c.actors, sizeof(uint64_t));
    uint64_t t0 = tl_now_ns(), rt_ns = 0;
    rk_light_port *p, *dp;
    cudaLaunchConfig_t lc;
    cudaLaunchAttribute at[1];
    cudaStream_t st;
    rk_light_msg m;
    tl_world t;
    TL_CHECK(last != NULL);
    tl_create(&t, &c, 1);
    TL_CUDA(cudaHostAlloc((void **)&p, bytes, cudaHostAllocMapped));
    TL_CUDA(cudaHostGetDevicePointer((void **)&dp, p, 0));
    TL_CHECK(rk_light_port_init(p, &c) == RK_OK);
    rk_light_world_set_port(t.image, dp);
    TL_CUDA(cudaMemcpy(t.k.w, t.image, sizeof(rk_light_world), cudaMemcpyHostToDevice));
    TL_CUDA(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    TL_CHECK(rk_light_launch_config(&lc, at, &c, (const void *)tl_port_kernel, c.homes + 1, 128, st) == RK_OK);
    TL_CUDA(cudaLaunchKernelEx(&lc, tl_port_kernel, t.k, tl_echo{t.k}));
    TL_CUDA(cudaGetLastError());
    while (got < total && tl_now_ns() - t0 < tl_limit) {
        if (sent < total) {
            const uint32_t dst = (uint32_t)(sent * 7 % c.actors);
            const uint64_t words[RK_LIGHT_WORDS] = {sent, dst, lc_sum(sent, dst), 0, 0, 0};
            rk_status s2 = rk_light_port_send(p, dst, 1, words);
            if (s2 == RK_OK)
                sent++;
            else if (s2 == RK_EFULL)
                full++;
            else
                bad++;
        }
        while (rk_light_port_recv(p, &m) == RK_OK) {
            const uint64_t k = m.w[0], dst = m.w[1];
            got++;
            if (m.type != 1 || dst != m.src || m.w[5] != m.src || m.w[2] != lc_sum(k, dst) || k >= total ||
                last[dst] > k)
                bad++;
            else
                last[dst] = k + 1;
        }
    }
    /* Round trips of one message at a time, to actor 5. */
    for (uint64_t i = 0; i < trips && got == total && !bad; i++) {
        const uint64_t words[RK_LIGHT_WORDS] = {i, 5, lc_sum(i, 5), 0, 0, 0};
        const uint64_t a = tl_now_ns();
        TL_CHECK(rk_light_port_send(p, 5, 2, words) == RK_OK);
        while (rk_light_port_recv(p, &m) != RK_OK)
            if (tl_now_ns() - a > 5000000000ull) {
                fprintf(stderr, "port: no echo after 5 s\n");
                TL_FAIL();
            }
        rt_ns += tl_now_ns() - a;
        bad += m.type != 2 || m.w[0] != i || m.src != 5;
    }
    while (rk_light_port_pending(p) && tl_now_ns() - t0 < tl_limit + 5000000000ull)
        usleep(100);
    {
        static const uint32_t one = 1;
        cudaStream_t s2;
        TL_CUDA(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
        TL_CUDA(cudaMemcpyAsync((void *)t.k.stop, &one, sizeof one, cudaMemcpyHostToDevice, s2));
        TL_CUDA(cudaStreamSynchronize(s2));
        TL_CUDA(cudaStreamDestroy(s2));
    }
    TL_CUDA(cudaStreamSynchronize(st));
    TL_CUDA(cudaStreamDestroy(st));
    printf("port: %llu echoes of %llu sent in %.1f ms (port full %llu times), %llu bad; round trip host -> "
           "light actor -> host %.2f us (mean of %llu)\n",
           (unsigned long long)got, (unsigned long long)sent, (tl_now_ns() - t0) / 1e6, (unsigned long long)full,
           (unsigned long long)bad, trips ? rt_ns / 1e3 / trips : 0.0, (unsigned long long)trips);
    TL_CHECK(got == total && bad == 0);
    TL_CHECK(rk_light_port_pending(p) == 0 && p->refused == 0 && p->forwarded == total + trips);
    TL_CHECK(rk_light_port_recv(p, &m) == RK_EEMPTY);
    TL_CUDA(cudaMemcpy(t.image, t.k.w, t.bytes, cudaMemcpyDeviceToHost));
    tl_check_quiet(&t);
    cudaFreeHost(p);
    free(last);
    tl_destroy(&t);
    printf("PASS port\n");
}

int main(void)
{
    int n = 0;
    setvbuf(stdout, NULL, _IOLBF, 0); /* a step killed at its time limit keeps what was printed */
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    uint64_t total = tl_env("RK_STRESS_MESSAGES", 1000000);
    leftovers_and_bad_input();
    rk_light_config one = {64, 1, 16, 4, 0, 0, 0}, four = {256, 4, 8, 1, 0, 0, 0}, wide = {64 * 256, 64, 4, 8, 0, 0, 0};
    senders(&one, 8, total, "senders: 8 blocks to 64 actors on 1 home");
    senders(&four, 8, total, "senders: 8 blocks to 256 actors on 4 homes, batch 1");
    senders(&wide, 16, total, "senders: 16 blocks to 16384 actors on 64 homes, 4-slot inboxes");
    forwarding(0, total);
    forwarding(RK_LIGHT_TOKEN, total);
    forwarding(RK_LIGHT_LOCAL, total);
    /* racecheck reports the cluster rings' release/acquire pairs on DSMEM
     * as hazards (light.cuh, the cluster ring's words): gpu.sh runs it
     * without the cluster cases; memcheck runs them all. */
    int clusters = tl_env("RK_LIGHT_RACECHECK", 0) == 0;
    if (clusters)
        forwarding(RK_LIGHT_LOCAL, total, 8);
    rk_light_config steal = {64 * 256, 64, 16, 8, 0, 1, 0};
    senders(&steal, 16, total, "stealing: 16 blocks to the 256 actors of home 0, 64 homes", 1);
    senders(&steal, 16, total, "stealing on, senders to all 16384 actors");
    if (clusters) {
        cluster_stealing(total);
        cluster_drain(total);
        cluster_refused();
    } else {
        printf("SKIP the cluster cases (RK_LIGHT_RACECHECK)\n");
    }
    port(total / 10 ? total / 10 : 1, 10000);
    printf("PASS test_gpu_light\n");
    return 0;
}
