/* Groups of two runtimes (group.h) on the CUDA backend: what it costs to
 * cross from one member to the other, held against CUDA alone on the same
 * link in the same run. Two groups, one after the other:
 *
 *   "2 GPUs"        members on devices 0 and 1 (when there are two and each
 *                   can map the other's memory); RK_CUDA_BLOCKS unset
 *   "GPU 0 shared"  both members on device 0 (always), RK_CUDA_BLOCKS=32
 *                   each, so that both persistent kernels are resident
 *
 * RK_CUDA_K2K_SLOT_SIZE=1024 for both, so the ring between members has its
 * largest slots (RK__GPU_BRIDGE_SLOT): 960 payload bytes. For each group:
 *
 *   round trip across members   relay A on member 0 and relay B on member 1
 *                   pass a token back and forth. A sample is the time
 *                   between two arrivals of the token at A: one actor ->
 *                   actor -> actor round trip, both handlers included, timed
 *                   by A alone (clock64 of its SM, converted to ns at the
 *                   mean rate measured against %globaltimer over the run;
 *                   the two GPUs' clocks are never compared). Every
 *                   --sample-every'th round trip after --warmup round trips;
 *                   A keeps them in its state and the host reads them back
 *                   with rk_call.
 *   hop across members (mean)   A's %globaltimer from the first measured
 *                   arrival to the last, over the --hops hops between them
 *   round trip / hop within member 0   the same with both relays on member
 *                   0: the baseline (K2K rings only, no bridge)
 *   stream S=n      n streamer actors on member 0, each with its own sink
 *                   on member 1; each streamer sends M messages of --payload
 *                   bytes with rk_dsend_wait (all through the one ring 0 -> 1
 *                   and member 1's bridge thread); each sink checks every
 *                   payload word and tells the host when it has all M. Host
 *                   clock from before the first START to the last sink's
 *                   DONE; M is sized for about --seconds. Also the sinks'
 *                   own span (member 1's %globaltimer, first message to
 *                   last), and with two GPUs the rate as a fraction of:
 *   put P=n         n putter actors on member 0, each with its own sink on
 *                   member 1: each putter copies --put-kb chunks into member
 *                   1's symmetric region with rk_dput (its whole block) and
 *                   announces each with a message; the sink checks the
 *                   chunk's first and last words, in order, and credits it
 *                   back (--put-slots parts of the region per pair). Host
 *                   clock from the first START to the last DONE, and the
 *                   sinks' own span; as a fraction of:
 *   peer copy 0->1 256 MiB (2 GPUs)   one cudaMemcpyPeerAsync, events around
 *                   it on a stream of device 0, while the group runs: the
 *                   link's peak as CUDA's copy engines reach it (for the
 *                   shared group "device copy 0->0", within device 0)
 *   migrate 16 MiB  rk_group_migrate of an actor with --state-mb of state,
 *                   back and forth: rk_migrate_report's transfer, total and
 *                   phases, --migrations times by the device path, --staged
 *                   times with RK_MIGRATE_HOST_STAGED
 *   copy 16 MiB 0->1 (host-timed)   the floor: cudaMemcpyPeerAsync of the same
 *                   bytes from member 0's device to member 1's (within device
 *                   0 for the shared group), host clock around it and the
 *                   wait for its stream, as the runtime's transfer does it
 *
 * Every wait of the host is bounded (--timeout-s; a broken protocol ends
 * the program, not hangs it). A status other than RK_OK, a failed actor or
 * a corrupt message prints what happened and exits 1; no device exits 77.
 *
 * Usage: bench_gpu_group [--hops 200000] [--warmup 1000] [--sample-every 4]
 *          [--seconds 3] [--streamers 1,8] [--payload 960] [--chunk 64]
 *          [--puts 1,8,16] [--put-kb 1024] [--put-slots 4]
 *          [--migrations 20] [--staged 5] [--state-mb 16] [--floor-trials 200]
 *          [--copy-trials 20] [--timeout-s 30] [--json PATH] */
#define BENCH_NAME "bench_gpu_group"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_gpu.h"
#include "ringkernel/device.cuh"
#include "ringkernel/group.h"
#include "ringkernel/ringkernel.h"

/* ---- the actors ------------------------------------------------------------------------ */

enum {
    M_SETUP = 1,     /* relay: relay_setup; reply empty */
    M_TOKEN = 2,     /* relay: token */
    M_DONE = 3,      /* relay -> host: relay_done */
    M_SAMPLES = 4,   /* relay: uint64_t first index; reply: up to SAMPLES_PER_REPLY cycle counts */
    M_START = 5,     /* streamer: stream_start */
    M_MORE = 6,      /* streamer -> itself: the next chunk */
    M_DATA = 7,      /* streamer -> sink: payload words data_word(seq, i) */
    M_RESET = 8,     /* sink: uint64_t messages to expect; reply sink_report */
    M_SINK_DONE = 9, /* sink -> host: sink_report */
    M_SINK_GET = 10, /* sink: reply sink_report (diagnostics) */
    M_INC = 11,      /* holder: reply the count after + 1 */
    M_GET = 12,      /* holder: reply the count */
    M_PUT_START = 13,  /* putter: put_start */
    M_PUT_CHUNK = 14,  /* putter -> put sink: put_chunk */
    M_PUT_CREDIT = 15, /* put sink -> putter: a part of the region free again */
    M_PUT_DONE = 16,   /* put sink -> host: sink_report */
};

enum { T_RELAY = 0, T_STREAMER = 1, T_SINK = 2, T_HOLDER = 3, T_PUTTER = 4, T_PUTSINK = 5 };

#define SEND_TIMEOUT_NS 10000000000ull /* a device send gives up (the actor fails) after 10 s */
#define HOST_SLOT 256u                 /* the host queue's slot: set explicitly below */
#define SAMPLES_PER_REPLY ((HOST_SLOT - RK_MSG_HEADER_SIZE) / 8u)
#define MAX_PAYLOAD (RK__GPU_BRIDGE_SLOT - RK_MSG_HEADER_SIZE) /* 960 */
#define K2K_SLOT "1024"

typedef struct relay_state {
    uint32_t next;   /* gid the token goes on to */
    uint32_t record; /* 1: this relay times the round trips */
    uint32_t every;
    uint32_t pad_;
    uint64_t cap;       /* sample slots after this header */
    uint64_t warm_hops; /* timing starts when the token arrives with this many hops */
    uint64_t laps, nsamples, last_clk, t0_ns, t0_clk;
    uint64_t pad2_;
} relay_state;
static_assert(sizeof(relay_state) % 16 == 0, "the samples after the header stay 16-byte aligned");

typedef struct relay_setup {
    uint32_t next, record, every, pad_;
    uint64_t cap, warm_hops;
} relay_setup;

typedef struct token {
    uint64_t hops, target, check, pad_;
} token;

typedef struct relay_done {
    uint64_t hops;   /* measured: from the first timed arrival to the last */
    uint64_t ns;     /* %globaltimer over them */
    uint64_t cycles; /* clock64 over them (the same SM) */
    uint64_t laps, nsamples;
} relay_done;

typedef struct streamer_state {
    uint32_t sink, len, chunk, pad_;
    uint64_t left, seq;
} streamer_state;

typedef struct stream_start {
    uint32_t sink, len, chunk, pad_;
    uint64_t count;
} stream_start;

typedef struct sink_state {
    uint64_t target, got, bytes, bad, first_ns, last_ns;
} sink_state;

typedef sink_state sink_report;

typedef struct holder_state {
    uint64_t count, pad_;
} holder_state;

/* A putter's job: `count` chunks of `chunk` bytes from its own member's
 * region at src_off into `member`'s region at dst_off + (k % slots) *
 * chunk, each announced to `sink`, at most `slots` not yet credited. */
typedef struct put_start {
    uint32_t sink, member;
    uint64_t src_off, dst_off;
    uint32_t chunk, slots;
    uint64_t count;
} put_start;

typedef struct put_chunk {
    uint64_t seq, off, count;
    uint32_t len, pad_;
} put_chunk;

typedef struct putter_state {
    put_start job;
    uint64_t sent, credited;
} putter_state;

static_assert(sizeof(relay_done) + RK_MSG_HEADER_SIZE <= HOST_SLOT, "fits a host slot");
static_assert(sizeof(sink_report) + RK_MSG_HEADER_SIZE <= HOST_SLOT, "fits a host slot");

__host__ __device__ static inline uint64_t token_check(uint64_t hops)
{
    return (hops * 0x9E3779B97F4A7C15ull) ^ 0x5bd1e995ull;
}

/* Word i of message seq: every word differs between messages and within one. */
__host__ __device__ static inline uint64_t data_word(uint64_t seq, uint32_t i)
{
    return seq * 0x9E3779B97F4A7C15ull + i * 0xC2B2AE3D27D4EB4Full + 1u;
}

/* SETUP, SAMPLES, TOKEN. The recorder reads clock64 and %globaltimer first
 * thing in the token's handler: the time between two such readings is one
 * round trip through the other relay (both handlers and both sends). */
static __device__ rk_status relay_handle(rk_dctx *c, relay_state *s, const rk_msg *m)
{
    __shared__ token t;
    __shared__ relay_done d;
    __shared__ int finished, bad;
    __shared__ uint64_t first, count;
    uint64_t *samples = (uint64_t *)(s + 1);
    if (m->type == M_SETUP && m->len == sizeof(relay_setup)) {
        __syncthreads();
        if (threadIdx.x == 0) {
            const relay_setup *p = (const relay_setup *)rk_msg_payload(m);
            s->next = p->next;
            s->record = p->record;
            s->every = p->every ? p->every : 1u;
            s->cap = p->cap;
            s->warm_hops = p->warm_hops;
            s->laps = s->nsamples = 0;
        }
        __syncthreads();
        return rk_dreply(c, M_SETUP, NULL, 0);
    }
    if (m->type == M_SAMPLES && m->len == sizeof(uint64_t)) {
        __syncthreads();
        if (threadIdx.x == 0) {
            first = *(const uint64_t *)rk_msg_payload(m);
            count = first < s->nsamples ? s->nsamples - first : 0;
            count = count < SAMPLES_PER_REPLY ? count : SAMPLES_PER_REPLY;
        }
        __syncthreads();
        return rk_dreply(c, M_SAMPLES, samples + (count ? first : 0), (uint32_t)(count * 8u));
    }
    if (m->type != M_TOKEN || m->len != sizeof(token))
        return RK_EBADMSG;
    __syncthreads();
    if (threadIdx.x == 0) {
        uint64_t clk = (uint64_t)clock64(), now = rk_dclock_ns();
        t = *(const token *)rk_msg_payload(m);
        bad = t.check != token_check(t.hops);
        if (s->record && t.hops == s->warm_hops) {
            s->t0_ns = now;
            s->t0_clk = clk;
        } else if (s->record && t.hops > s->warm_hops) {
            if (++s->laps % s->every == 0 && s->nsamples < s->cap)
                samples[s->nsamples++] = clk - s->last_clk;
        }
        s->last_clk = clk;
        finished = t.hops >= t.target;
        if (finished) {
            /* Only the recorder has the start; elsewhere ns stays 0 and the host says so. */
            d.hops = t.hops - s->warm_hops;
            d.ns = s->record ? now - s->t0_ns : 0;
            d.cycles = s->record ? clk - s->t0_clk : 0;
            d.laps = s->laps;
            d.nsamples = s->nsamples;
        }
        t.hops++;
        t.check = token_check(t.hops);
    }
    __syncthreads();
    if (bad)
        return RK_EBADMSG;
    if (finished)
        return rk_dsend_wait(c, RK_ACTOR_HOST, M_DONE, &d, sizeof d, SEND_TIMEOUT_NS);
    return rk_dsend_wait(c, s->next, M_TOKEN, &t, sizeof t, SEND_TIMEOUT_NS);
}

/* START, MORE: sends up to `chunk` messages, then a MORE to itself, so that
 * the handler returns between chunks (lifecycle commands get their turn).
 * The block writes each payload into shared memory; the send copies it out. */
static __device__ rk_status streamer_handle(rk_dctx *c, streamer_state *s, const rk_msg *m)
{
    __shared__ uint4 buf[MAX_PAYLOAD / 16];
    __shared__ uint32_t n, len;
    __shared__ uint64_t seq0;
    __shared__ int more;
    uint64_t *w = (uint64_t *)buf;
    if (m->type != M_START && m->type != M_MORE)
        return RK_EBADMSG;
    __syncthreads();
    if (threadIdx.x == 0) {
        if (m->type == M_START) {
            const stream_start *p = (const stream_start *)rk_msg_payload(m);
            s->sink = p->sink;
            s->len = p->len <= MAX_PAYLOAD ? p->len & ~15u : MAX_PAYLOAD;
            s->chunk = p->chunk ? p->chunk : 1u;
            s->left = m->len == sizeof(stream_start) ? p->count : 0;
            s->seq = 0;
        }
        n = (uint32_t)(s->left < s->chunk ? s->left : s->chunk);
        len = s->len;
        seq0 = s->seq;
    }
    __syncthreads();
    for (uint32_t k = 0; k < n; k++) {
        rk_status st;
        for (uint32_t i = threadIdx.x; i < len / 8u; i += blockDim.x)
            w[i] = data_word(seq0 + k, i);
        /* rk_dsend_wait starts with __syncthreads: the payload is complete. */
        st = rk_dsend_wait(c, s->sink, M_DATA, buf, len, SEND_TIMEOUT_NS);
        if (st != RK_OK)
            return st;
    }
    if (threadIdx.x == 0) {
        s->seq += n;
        s->left -= n;
        more = s->left > 0;
    }
    __syncthreads();
    if (more)
        return rk_dsend_wait(c, rk_dself(c), M_MORE, NULL, 0, SEND_TIMEOUT_NS);
    return RK_OK;
}

/* RESET, DATA, SINK_GET. Every payload word is read and checked (by the
 * whole block, as a consumer of the bytes would read them), in order per
 * streamer: the ring between members and the bridge keep a sender's order. */
static __device__ rk_status sink_handle(rk_dctx *c, sink_state *s, const rk_msg *m)
{
    __shared__ sink_report r;
    __shared__ uint64_t expect;
    __shared__ int done;
    const uint64_t *p = (const uint64_t *)rk_msg_payload(m);
    int wrong = 0;
    __syncthreads();
    if (threadIdx.x == 0)
        expect = s->got;
    __syncthreads();
    if (m->type == M_DATA)
        for (uint32_t i = threadIdx.x; i < m->len / 8u; i += blockDim.x)
            wrong |= p[i] != data_word(expect, i);
    wrong = __syncthreads_or(wrong || (m->type == M_DATA && (m->len < 16u || m->len % 16u)));
    if (threadIdx.x == 0) {
        done = 0;
        if (m->type == M_RESET) {
            uint64_t target = m->len == sizeof(uint64_t) ? *p : 0;
            memset(s, 0, sizeof *s);
            s->target = target;
        } else if (m->type == M_DATA) {
            uint64_t now = rk_dclock_ns();
            if (s->got == 0)
                s->first_ns = now;
            s->last_ns = now;
            s->got++;
            s->bytes += m->len;
            s->bad += wrong != 0;
            done = s->got == s->target;
        }
        r = *s;
    }
    __syncthreads();
    if (m->type == M_RESET || m->type == M_SINK_GET)
        return rk_dreply(c, m->type, &r, sizeof r);
    if (m->type != M_DATA)
        return RK_EBADMSG;
    if (done)
        return rk_dsend_wait(c, RK_ACTOR_HOST, M_SINK_DONE, &r, sizeof r, SEND_TIMEOUT_NS);
    return RK_OK;
}

/* INC, GET. Its state is --state-mb (the launch's state_size); only the
 * first words are its own, the rest is what a migration has to move. */
static __device__ rk_status holder_handle(rk_dctx *c, holder_state *s, const rk_msg *m)
{
    __shared__ uint64_t count;
    __syncthreads();
    if (threadIdx.x == 0) {
        if (m->type == M_INC)
            s->count++;
        count = s->count;
    }
    __syncthreads();
    if (m->type != M_INC && m->type != M_GET)
        return RK_EBADMSG;
    return rk_dreply(c, m->type, &count, sizeof count);
}

/* START, CREDIT: puts chunks while the sink has room for them. Chunk k's
 * first and last words are stamped data_word(k, i) in the source (thread
 * 0; the rest of the source is left as it is: the sink checks only those
 * two), then the block copies it with rk_dput and announces it. */
static __device__ __noinline__ rk_status putter_handle(rk_dctx *c, putter_state *s, const rk_msg *m)
{
    __shared__ int more;
    __shared__ put_chunk ch;
    const put_start *j = &s->job;
    uint64_t *src;
    if (m->type == M_PUT_START && m->len == sizeof(put_start)) {
        __syncthreads();
        if (threadIdx.x == 0) {
            s->job = *(const put_start *)rk_msg_payload(m);
            s->sent = s->credited = 0;
        }
    } else if (m->type == M_PUT_CREDIT) {
        __syncthreads();
        if (threadIdx.x == 0)
            s->credited++;
    } else {
        return RK_EBADMSG;
    }
    __syncthreads();
    src = (uint64_t *)rk_dsym(c, rk_dmember(c), j->src_off, j->chunk);
    if (!src || j->chunk < 16u || j->chunk % 16u || j->slots == 0)
        return RK_EINVAL;
    for (;;) {
        rk_status st;
        if (threadIdx.x == 0) {
            const uint64_t k = s->sent, n = j->chunk / 8u;
            more = k < j->count && k - s->credited < j->slots;
            ch.seq = k;
            ch.off = j->dst_off + (k % j->slots) * j->chunk;
            ch.count = j->count;
            ch.len = j->chunk;
            if (more) {
                src[0] = data_word(k, 0);
                src[n - 1] = data_word(k, (uint32_t)(n - 1));
            }
        }
        __syncthreads();
        if (!more)
            return RK_OK;
        st = rk_dput(c, j->member, ch.off, src, j->chunk);
        if (st == RK_OK)
            st = rk_dsend_wait(c, j->sink, M_PUT_CHUNK, &ch, sizeof ch, SEND_TIMEOUT_NS);
        if (st != RK_OK)
            return st;
        if (threadIdx.x == 0)
            s->sent++;
        __syncthreads();
    }
}

/* PUT_CHUNK: checks the chunk's two stamped words where it was put (in
 * this member's region) and its order, credits it back, and after the
 * last tells the host. A chunk numbered 0 starts a new run. */
static __device__ __noinline__ rk_status putsink_handle(rk_dctx *c, sink_state *s, const rk_msg *m)
{
    __shared__ put_chunk ch;
    __shared__ sink_report r;
    __shared__ int done;
    if (m->type != M_PUT_CHUNK || m->len != sizeof(put_chunk))
        return RK_EBADMSG;
    __syncthreads();
    if (threadIdx.x == 0) {
        const uint64_t *p;
        uint64_t n, now = rk_dclock_ns();
        ch = *(const put_chunk *)rk_msg_payload(m);
        n = ch.len / 8u;
        p = (const uint64_t *)rk_dsym(c, rk_dmember(c), ch.off, ch.len);
        if (ch.seq == 0) {
            memset(s, 0, sizeof *s);
            s->target = ch.count;
            s->first_ns = now;
        }
        s->last_ns = now;
        s->bad += !p || n < 2 || ch.seq != s->got || p[0] != data_word(ch.seq, 0) ||
                  p[n - 1] != data_word(ch.seq, (uint32_t)(n - 1));
        s->got++;
        s->bytes += ch.len;
        done = s->got == s->target;
        r = *s;
    }
    __syncthreads();
    rk_status st = rk_dsend_wait(c, m->src, M_PUT_CREDIT, NULL, 0, SEND_TIMEOUT_NS);
    if (st == RK_OK && done)
        st = rk_dsend_wait(c, RK_ACTOR_HOST, M_PUT_DONE, &r, sizeof r, SEND_TIMEOUT_NS);
    return st;
}

RK_GPU_ACTOR(relay_actor, relay_state, relay_handle);
RK_GPU_ACTOR(streamer_actor, streamer_state, streamer_handle);
RK_GPU_ACTOR(sink_actor, sink_state, sink_handle);
RK_GPU_ACTOR(holder_actor, holder_state, holder_handle);
RK_GPU_ACTOR(putter_actor, putter_state, putter_handle);
RK_GPU_ACTOR(putsink_actor, sink_state, putsink_handle);
RK_GPU_PROGRAM(bench_group_program, relay_actor, streamer_actor, sink_actor, holder_actor, putter_actor,
               putsink_actor);

static const rk_actor_type types[] = {
    {"relay", NULL, NULL, T_RELAY},
    {"streamer", NULL, NULL, T_STREAMER},
    {"sink", NULL, NULL, T_SINK},
    {"holder", NULL, NULL, T_HOLDER},
    {"putter", NULL, NULL, T_PUTTER},
    {"putsink", NULL, NULL, T_PUTSINK},
};

/* ---- options, names, the summary ------------------------------------------------------------ */

enum { MAX_STREAM_CONFIGS = 8, MAX_STREAMERS = 16 };

typedef struct opts {
    uint64_t hops, warm, every;
    double seconds, timeout_s;
    unsigned streamers[MAX_STREAM_CONFIGS];
    int nstreamers;
    unsigned smax;
    unsigned puts[MAX_STREAM_CONFIGS];
    int nputs;
    unsigned pmax;
    uint64_t put_chunk;
    uint32_t put_slots;
    uint32_t payload, chunk;
    unsigned migrations, staged, floor_trials, copy_trials;
    size_t state_bytes;
} opts;

/* One group's run. */
typedef struct grp {
    rkb *b;
    const opts *o;
    rk_group *g;
    const char *label; /* prefix of every name */
    int two;           /* members on devices 0 and 1 */
    int dev1;          /* member 1's device */
    double peer_peak;  /* GB/s, 2 GPUs */
    char *line;
    size_t cap, *k;
} grp;

/* Appends to the summary line, which stops growing when full. */
static void append(grp *gr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rkb_vappend(gr->line, gr->cap, gr->k, fmt, ap);
    va_end(ap);
}

static void name_of(const grp *gr, char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t k = (size_t)snprintf(out, cap, "%s: ", gr->label);
    va_start(ap, fmt);
    if (k < cap)
        vsnprintf(out + k, cap - k, fmt, ap);
    va_end(ap);
}

static rkb_series *samples(grp *gr, const char *what, const double *v, size_t n, const char *desc)
{
    char name[96];
    name_of(gr, name, sizeof name, "%s", what);
    return rkb_samples(gr->b, name, "us", v, n, desc);
}

static void value(grp *gr, const char *what, const char *unit, double v, const char *desc)
{
    char name[96];
    name_of(gr, name, sizeof name, "%s", what);
    rkb_value_add(gr->b, name, unit, v, desc);
}

/* Compares two of this group's measurements, named as given to samples(). */
static void compare(grp *gr, const char *ours, const char *base, const char *desc)
{
    char n1[96], n2[96], id1[96], id2[96];
    name_of(gr, n1, sizeof n1, "%s", ours);
    name_of(gr, n2, sizeof n2, "%s", base);
    rkb_slug(id1, sizeof id1, n1);
    rkb_slug(id2, sizeof id2, n2);
    rkb_compare(gr->b, id1, id2, desc);
}

/* ---- failing loudly, waiting boundedly ------------------------------------------------------- */

/* Prints what failed, and every asynchronous error of the members (a
 * failed actor, a device fault), then ends the program. */
static void die(rk_group *g, const char *what, rk_status st)
{
    rk_async_error e;
    fprintf(stderr, "%s: %s\n", what, rk_status_name(st));
    for (uint32_t m = 0; g && m < rk_group_size(g); m++)
        while (rk_runtime_error(rk_group_member(g, m), &e) == RK_OK)
            fprintf(stderr, "  member %u: actor %u (generation %u): %s\n", m, e.actor, e.generation,
                    rk_status_name(e.status));
    exit(1);
}

#define GRP_RK(gr, call)                                                                                               \
    do {                                                                                                               \
        rk_status s_ = (call);                                                                                         \
        if (s_ != RK_OK)                                                                                               \
            die((gr)->g, #call, s_);                                                                                   \
    } while (0)

/* An asynchronous error on any member ends the run at once, not at the timeout. */
static void check_async(grp *gr, const char *what)
{
    rk_async_error e;
    for (uint32_t m = 0; m < rk_group_size(gr->g); m++)
        if (rk_runtime_error(rk_group_member(gr->g, m), &e) == RK_OK) {
            fprintf(stderr, "%s: member %u: actor %u (generation %u) failed: %s\n", what, m, e.actor, e.generation,
                    rk_status_name(e.status));
            die(gr->g, what, e.status);
        }
}

/* The next message to member m's host queue, of type `type`, within timeout_ns. */
static void wait_msg(grp *gr, uint32_t m, uint32_t type, rk_msgbuf *mb, uint64_t timeout_ns, const char *what)
{
    const uint64_t end = rkb_now_ns() + timeout_ns;
    for (;;) {
        rk_status st = rk_recv(rk_group_member(gr->g, m), mb, 100000000ull);
        if (st == RK_OK) {
            if (mb->hdr.type != type) {
                fprintf(stderr, "%s: message of type %u, want %u\n", what, mb->hdr.type, type);
                exit(1);
            }
            return;
        }
        if (st != RK_ETIMEDOUT && st != RK_EEMPTY)
            die(gr->g, what, st);
        check_async(gr, what);
        if (rkb_now_ns() > end)
            die(gr->g, what, RK_ETIMEDOUT);
    }
}

static uint64_t timeout_ns(const opts *o)
{
    return (uint64_t)(o->timeout_s * 1e9);
}

static rk_actor_id launch(grp *gr, uint32_t member, const char *name, uint32_t type, size_t state_size)
{
    rk_actor_options o;
    rk_placement p = {RK_PLACE_MEMBER, member, 0};
    rk_actor_id gid = RK_ACTOR_NONE;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &types[type];
    o.state_size = (uint32_t)state_size;
    GRP_RK(gr, rk_group_launch(gr->g, &o, &p, &gid));
    return gid;
}

/* rk_call through the member the actor was launched on (it forwards if the actor moved). */
static void call(grp *gr, rk_actor_id gid, uint32_t type, const void *req, uint32_t len, void *rep, uint32_t cap,
                 uint32_t *got)
{
    rk_msgbuf mb;
    mb.data = rep;
    mb.capacity = cap;
    GRP_RK(gr, rk_call(rk_group_member(gr->g, (uint32_t)rk_gid_member(gid)), gid, type, req, len, &mb,
                       timeout_ns(gr->o)));
    if (got)
        *got = mb.hdr.len;
}

/* ---- 1. round trips and hops between relays ----------------------------------------------------- */

typedef struct trip_result {
    double median_us, p99_us, hop_us;
} trip_result;

/* Relay A (the recorder) on member 0, relay B on member `pong`: the token
 * goes A -> B -> A for --warmup round trips, then --hops hops are timed. */
static trip_result round_trips(grp *gr, uint32_t pong, const char *tag)
{
    const opts *o = gr->o;
    const uint64_t warm_hops = 2 * o->warm, target = warm_hops + o->hops;
    const uint64_t cap = o->hops / 2 / o->every + 1;
    const size_t state = (sizeof(relay_state) + cap * 8u + 15u) & ~(size_t)15u;
    char na[32], nb[32], what[64], desc[240];
    relay_setup su;
    relay_done d;
    token t;
    rk_msgbuf mb;
    rk_actor_id a, b;
    uint64_t *cyc = (uint64_t *)malloc(cap * sizeof *cyc), got = 0;
    double *us = (double *)malloc(cap * sizeof *us), ns_per_cycle;
    trip_result r;
    rkb_series *s;
    if (!cyc || !us) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    snprintf(na, sizeof na, "bench/ping-%s", tag);
    snprintf(nb, sizeof nb, "bench/pong-%s", tag);
    a = launch(gr, 0, na, T_RELAY, state);
    b = launch(gr, pong, nb, T_RELAY, 0);
    memset(&su, 0, sizeof su);
    su.next = b;
    su.record = 1;
    su.every = (uint32_t)o->every;
    su.cap = cap;
    su.warm_hops = warm_hops;
    call(gr, a, M_SETUP, &su, sizeof su, NULL, 0, NULL);
    su.next = a;
    su.record = 0;
    call(gr, b, M_SETUP, &su, sizeof su, NULL, 0, NULL);

    memset(&t, 0, sizeof t);
    t.target = target;
    t.check = token_check(0);
    GRP_RK(gr, rk_send(rk_group_member(gr->g, 0), a, M_TOKEN, &t, sizeof t));
    mb.data = &d;
    mb.capacity = sizeof d;
    /* Generous: 50 us a hop on top of the timeout. */
    wait_msg(gr, 0, M_DONE, &mb, timeout_ns(o) + target * 50000ull, "token");
    if (mb.hdr.len != sizeof d || d.ns == 0 || d.cycles == 0 || d.hops != o->hops) {
        fprintf(stderr, "token: the recorder reported %llu hops in %llu ns (want %llu hops)\n",
                (unsigned long long)d.hops, (unsigned long long)d.ns, (unsigned long long)o->hops);
        exit(1);
    }
    while (got < d.nsamples) {
        uint32_t len = 0;
        call(gr, a, M_SAMPLES, &got, sizeof got, cyc + got, (uint32_t)((cap - got) * 8u), &len);
        if (len == 0 || len % 8u) {
            fprintf(stderr, "samples: a reply of %u bytes at %llu of %llu\n", len, (unsigned long long)got,
                    (unsigned long long)d.nsamples);
            exit(1);
        }
        got += len / 8u;
    }
    ns_per_cycle = (double)d.ns / (double)d.cycles;
    for (uint64_t i = 0; i < got; i++)
        us[i] = (double)cyc[i] * ns_per_cycle / 1e3;

    snprintf(what, sizeof what, "round trip %s", pong ? "across members" : "within member 0");
    snprintf(desc, sizeof desc,
             "relay on member 0 -> relay on member %u -> back: time between two arrivals of the token at the first "
             "(clock64 of its SM at the run's mean clock), every %llu-th round trip after %llu",
             pong, (unsigned long long)o->every, (unsigned long long)o->warm);
    s = samples(gr, what, us, (size_t)got, desc);
    r.median_us = s->st.median;
    r.p99_us = s->st.p99;
    r.hop_us = (double)d.ns / 1e3 / (double)d.hops;
    snprintf(what, sizeof what, "hop %s (mean)", pong ? "across members" : "within member 0");
    value(gr, what, "us", r.hop_us,
          "%globaltimer of the member-0 relay from the first timed arrival of the token to the last, over the hops "
          "between them (each hop: a handler and one rk_dsend_wait)");
    snprintf(what, sizeof what, "SM clock of the %s recorder", pong ? "across-members" : "within-member");
    value(gr, what, "MHz", 1e3 / ns_per_cycle,
          "clock64 cycles / %globaltimer ns over the timed hops: converts the samples");
    free(cyc);
    free(us);
    return r;
}

static void latency(grp *gr)
{
    trip_result x, l;
    printf("%s: K2K round trips (us):\n", gr->label);
    x = round_trips(gr, 1, "x");
    l = round_trips(gr, 0, "l");
    compare(gr, "round trip across members", "round trip within member 0",
            "actor round trip through the other member (peer ring and its bridge) / the same within member 0");
    append(gr, "; round trip across members median %.2f us (p99 %.2f), within member 0 %.2f us (p99 %.2f); "
               "hop across %.2f us",
           x.median_us, x.p99_us, l.median_us, l.p99_us, x.hop_us);
}

/* ---- 2. streaming between members ------------------------------------------------------------------ */

typedef struct stream_result {
    double host_s;            /* host clock, first START to last DONE */
    uint64_t first_ns, last_ns; /* over all sinks, member 1's %globaltimer */
} stream_result;

/* Diagnostics when the sinks do not finish: what each has. */
static void sinks_report(grp *gr, const rk_actor_id *snk, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        sink_report r;
        rk_msgbuf mb;
        mb.data = &r;
        mb.capacity = sizeof r;
        if (rk_call(rk_group_member(gr->g, 1), snk[i], M_SINK_GET, NULL, 0, &mb, 1000000000ull) == RK_OK)
            fprintf(stderr, "  sink %u: %llu of %llu messages, %llu bad\n", i, (unsigned long long)r.got,
                    (unsigned long long)r.target, (unsigned long long)r.bad);
    }
}

/* What sets one kind of sink apart for the host; both report a sink_report. */
typedef struct sink_kind {
    const char *what;  /* "stream" or "put": starts every line about a failure */
    const char *unit;  /* what a sink counts, in those lines */
    const char *bad;   /* what a bad one is, in those lines */
    uint32_t done;     /* the type of the sink's message to the host when it has all M */
    uint64_t slack_ns; /* on top of the timeout, per message or chunk, for very slow links */
    int answers_get;   /* answers M_SINK_GET: a timeout can say what each sink has */
} sink_kind;

/* At least 10 us a message on top of the timeout. */
static const sink_kind stream_sinks = {"stream", "messages", "corrupt", M_SINK_DONE, 10000ull, 1};
/* At least 1 ms a chunk on top of the timeout. The put sink takes only
 * PUT_CHUNK (anything else fails it), so a timeout cannot ask it. */
static const sink_kind put_sinks = {"put", "chunks", "wrong", M_PUT_DONE, 1000000ull, 0};

/* Waits for the DONE of each of n sinks, bounded from t0 (before the first
 * START), and checks that each got all M messages of `each` bytes, none bad.
 * A failure prints what happened and ends the program. */
static stream_result wait_sinks(grp *gr, const sink_kind *k, const rk_actor_id *snk, unsigned n, uint64_t M,
                                uint64_t each, uint64_t t0)
{
    const uint64_t deadline = timeout_ns(gr->o) + (uint64_t)n * M * k->slack_ns;
    char late[64];
    stream_result res;
    sink_report r;
    rk_msgbuf mb;
    res.first_ns = UINT64_MAX;
    res.last_ns = 0;
    mb.data = &r;
    mb.capacity = sizeof r;
    for (unsigned i = 0; i < n; i++) {
        uint64_t spent = rkb_now_ns() - t0;
        if (spent >= deadline) {
            if (k->answers_get)
                sinks_report(gr, snk, n);
            snprintf(late, sizeof late, "%s: the sinks did not finish", k->what);
            die(gr->g, late, RK_ETIMEDOUT);
        }
        wait_msg(gr, 1, k->done, &mb, deadline - spent, k->what);
        if (r.got != M || r.bad != 0 || r.bytes != M * each) {
            fprintf(stderr, "%s: a sink got %llu of %llu %s, %llu bytes, %llu %s or out of order\n", k->what,
                    (unsigned long long)r.got, (unsigned long long)M, k->unit, (unsigned long long)r.bytes,
                    (unsigned long long)r.bad, k->bad);
            exit(1);
        }
        res.first_ns = r.first_ns < res.first_ns ? r.first_ns : res.first_ns;
        res.last_ns = r.last_ns > res.last_ns ? r.last_ns : res.last_ns;
    }
    res.host_s = (double)(rkb_now_ns() - t0) / 1e9;
    return res;
}

/* One run: n senders (from[i] to snk[i]), M messages or chunks each. */
typedef stream_result (*run_fn)(grp *gr, const rk_actor_id *from, const rk_actor_id *snk, unsigned n, uint64_t M);

/* Sizes M, messages or chunks per sender, from the first guess *M with
 * short runs (about 0.25 s), then makes the run that counts (about
 * --seconds) and returns it; *M is then that run's M. */
static stream_result sized_run(grp *gr, run_fn run, const rk_actor_id *from, const rk_actor_id *snk, unsigned n,
                               uint64_t *M)
{
    stream_result r = run(gr, from, snk, n, *M);
    while (r.host_s < 0.2 && *M < (1ull << 32)) {
        double f = 0.3 / (r.host_s > 1e-6 ? r.host_s : 1e-6);
        *M = (uint64_t)((double)*M * (f > 2 ? (f < 100 ? f : 100) : 2));
        r = run(gr, from, snk, n, *M);
    }
    *M = (uint64_t)((double)*M * gr->o->seconds / r.host_s);
    *M = *M ? *M : 1;
    return run(gr, from, snk, n, *M);
}

/* One run: S streamers, M messages each; returns when every sink is done. */
static stream_result stream_once(grp *gr, const rk_actor_id *str, const rk_actor_id *snk, unsigned S, uint64_t M)
{
    const opts *o = gr->o;
    sink_report r;
    uint64_t t0;
    for (unsigned i = 0; i < S; i++)
        call(gr, snk[i], M_RESET, &M, sizeof M, &r, sizeof r, NULL);
    t0 = rkb_now_ns();
    for (unsigned i = 0; i < S; i++) {
        stream_start st = {snk[i], o->payload, o->chunk, 0, M};
        GRP_RK(gr, rk_send(rk_group_member(gr->g, 0), str[i], M_START, &st, sizeof st));
    }
    return wait_sinks(gr, &stream_sinks, snk, S, M, o->payload, t0);
}

/* The run that counts for S streamers, printed and recorded. */
static void stream_config(grp *gr, const rk_actor_id *str, const rk_actor_id *snk, unsigned S)
{
    const opts *o = gr->o;
    uint64_t M = 1000, total;
    stream_result r = sized_run(gr, stream_once, str, snk, S, &M);
    char what[64], desc[240];
    double rate, gbps, dev_gbps;
    total = (uint64_t)S * M;
    rate = (double)total / r.host_s;
    gbps = rate * o->payload / 1e9;
    dev_gbps = r.last_ns > r.first_ns ? (double)total * o->payload / (double)(r.last_ns - r.first_ns) : 0;
    printf("  S=%u: %llu messages of %u B in %.3f s\n", S, (unsigned long long)total, o->payload, r.host_s);
    snprintf(desc, sizeof desc,
             "%u streamers on member 0 -> %u sinks on member 1, %llu messages of %u B each, rk_dsend_wait; host clock "
             "from the first START to the last sink's DONE",
             S, S, (unsigned long long)M, o->payload);
    snprintf(what, sizeof what, "stream S=%u msgs/s", S);
    value(gr, what, "msgs/s", rate, desc);
    snprintf(what, sizeof what, "stream S=%u GBps", S);
    value(gr, what, "GB/s", gbps, "payload bytes (1e9 per GB) over the same host-timed span");
    snprintf(what, sizeof what, "stream S=%u GBps (sink clock)", S);
    value(gr, what, "GB/s", dev_gbps,
          "payload bytes over member 1's %globaltimer from the first message any sink got to the last");
    append(gr, "%s S=%u %.2f GB/s (%.2f M msgs/s)", S == o->streamers[0] ? "; stream" : ",", S, gbps, rate / 1e6);
    if (gr->two && gr->peer_peak > 0) {
        snprintf(what, sizeof what, "stream S=%u fraction of peer peak", S);
        value(gr, what, "", gbps / gr->peer_peak,
              "stream GB/s (host-timed) / peer copy 0->1 256 MiB GB/s measured in this run");
        append(gr, " = %.4f of peer peak", gbps / gr->peer_peak);
    }
}

static void streaming(grp *gr)
{
    const opts *o = gr->o;
    rk_actor_id str[MAX_STREAMERS], snk[MAX_STREAMERS];
    char name[32];
    printf("%s: streaming member 0 -> member 1, %u-byte payloads:\n", gr->label, o->payload);
    for (unsigned i = 0; i < o->smax; i++) {
        snprintf(name, sizeof name, "bench/streamer%u", i);
        str[i] = launch(gr, 0, name, T_STREAMER, 0);
        snprintf(name, sizeof name, "bench/sink%u", i);
        snk[i] = launch(gr, 1, name, T_SINK, 0);
    }
    for (int c = 0; c < o->nstreamers; c++)
        stream_config(gr, str, snk, o->streamers[c]);
}

/* ---- 2b. bulk data: rk_dput into the other member's symmetric region ------------------------------ */

/* One run: P putters, M chunks each; returns when every sink is done. */
static stream_result put_once(grp *gr, const rk_actor_id *put, const rk_actor_id *snk, unsigned P, uint64_t M)
{
    const opts *o = gr->o;
    uint64_t t0 = rkb_now_ns();
    for (unsigned i = 0; i < P; i++) {
        put_start st = {snk[i], 1, i * o->put_chunk, (o->pmax + (uint64_t)i * o->put_slots) * o->put_chunk,
                        (uint32_t)o->put_chunk, o->put_slots, M};
        GRP_RK(gr, rk_send(rk_group_member(gr->g, 0), put[i], M_PUT_START, &st, sizeof st));
    }
    return wait_sinks(gr, &put_sinks, snk, P, M, o->put_chunk, t0);
}

/* The run that counts for P putters, printed and recorded. */
static void put_config(grp *gr, const rk_actor_id *put, const rk_actor_id *snk, unsigned P)
{
    const opts *o = gr->o;
    uint64_t M = 16, total;
    stream_result r = sized_run(gr, put_once, put, snk, P, &M);
    char what[64], desc[400];
    double gbps, dev_gbps;
    total = (uint64_t)P * M * o->put_chunk;
    gbps = (double)total / r.host_s / 1e9;
    dev_gbps = r.last_ns > r.first_ns ? (double)total / (double)(r.last_ns - r.first_ns) : 0;
    printf("  P=%u: %llu chunks of %llu KiB in %.3f s\n", P, (unsigned long long)(P * M),
           (unsigned long long)(o->put_chunk >> 10), r.host_s);
    snprintf(desc, sizeof desc,
             "%u putters on member 0 -> %u sinks on member 1, %llu chunks of %llu KiB each: rk_dput into member 1's "
             "symmetric region, then a message; the sink checks the chunk's first and last words and credits it "
             "back (%u parts of the region per pair); host clock from the first START to the last sink's DONE",
             P, P, (unsigned long long)M, (unsigned long long)(o->put_chunk >> 10), o->put_slots);
    snprintf(what, sizeof what, "put P=%u GBps", P);
    value(gr, what, "GB/s", gbps, desc);
    snprintf(what, sizeof what, "put P=%u GBps (sink clock)", P);
    value(gr, what, "GB/s", dev_gbps,
          "chunk bytes over member 1's %globaltimer from the first chunk any sink checked to the last");
    append(gr, "%s P=%u %.1f GB/s", P == o->puts[0] ? "; put" : ",", P, gbps);
    if (gr->peer_peak > 0) {
        snprintf(what, sizeof what, "put P=%u fraction of copy peak", P);
        value(gr, what, "", gbps / gr->peer_peak,
              gr->two ? "put GB/s (host-timed) / peer copy 0->1 256 MiB GB/s measured in this run"
                      : "put GB/s (host-timed) / device copy 0->0 256 MiB GB/s measured in this run");
        append(gr, " = %.3f of copy peak", gbps / gr->peer_peak);
    }
}

static void putting(grp *gr)
{
    const opts *o = gr->o;
    rk_actor_id put[MAX_STREAMERS], snk[MAX_STREAMERS];
    char name[32];
    printf("%s: rk_dput member 0 -> member 1, %llu KiB chunks:\n", gr->label,
           (unsigned long long)(o->put_chunk >> 10));
    for (unsigned i = 0; i < o->pmax; i++) {
        snprintf(name, sizeof name, "bench/putter%u", i);
        put[i] = launch(gr, 0, name, T_PUTTER, 0);
        snprintf(name, sizeof name, "bench/putsink%u", i);
        snk[i] = launch(gr, 1, name, T_PUTSINK, 0);
    }
    for (int c = 0; c < o->nputs; c++)
        put_config(gr, put, snk, o->puts[c]);
    for (unsigned i = 0; i < o->pmax; i++) {
        GRP_RK(gr, rk_terminate(rk_group_member(gr->g, 0), rk_gid_local(put[i])));
        GRP_RK(gr, rk_terminate(rk_group_member(gr->g, 1), rk_gid_local(snk[i])));
    }
}

/* ---- floors: CUDA copies in the same run ----------------------------------------------------------- */

/* Buffers and a stream for the copies, made before the group (nothing is
 * allocated or freed while a persistent kernel holds the device: cudaFree
 * would wait for it) and freed after it. */
typedef struct floors {
    void *src, *dst; /* src on device 0, dst on member 1's device */
    size_t bytes;
    cudaStream_t s;  /* device 0, non-blocking: never ordered after the persistent kernel */
    cudaEvent_t start, stop;
} floors;

static const size_t PEAK_BYTES = 256u << 20;

static void floors_open(floors *f, int dev1, size_t bytes)
{
    memset(f, 0, sizeof *f);
    f->bytes = bytes;
    RKB_CUDA(cudaSetDevice(dev1));
    RKB_CUDA(cudaMalloc(&f->dst, bytes));
    RKB_CUDA(cudaMemset(f->dst, 0, bytes));
    RKB_CUDA(cudaDeviceSynchronize());
    RKB_CUDA(cudaSetDevice(0));
    RKB_CUDA(cudaMalloc(&f->src, bytes));
    RKB_CUDA(cudaMemset(f->src, 0x5a, bytes));
    RKB_CUDA(cudaDeviceSynchronize()); /* the non-blocking stream does not wait for the memsets */
    RKB_CUDA(cudaStreamCreateWithFlags(&f->s, cudaStreamNonBlocking));
    RKB_CUDA(cudaEventCreate(&f->start));
    RKB_CUDA(cudaEventCreate(&f->stop));
}

static void floors_close(floors *f, int dev1)
{
    RKB_CUDA(cudaSetDevice(0));
    RKB_CUDA(cudaEventDestroy(f->start));
    RKB_CUDA(cudaEventDestroy(f->stop));
    RKB_CUDA(cudaStreamDestroy(f->s));
    RKB_CUDA(cudaFree(f->src));
    RKB_CUDA(cudaSetDevice(dev1));
    RKB_CUDA(cudaFree(f->dst));
    RKB_CUDA(cudaSetDevice(0));
}

/* Spins on the stream until it is done, at most timeout_s: bounded like
 * rkb_wait_stream, without its 50 us naps, which would be part of a copy's
 * time. */
static void spin_stream(cudaStream_t s, double timeout_s, const char *what)
{
    const uint64_t deadline = rkb_now_ns() + (uint64_t)(timeout_s * 1e9);
    cudaError_t e;
    while ((e = cudaStreamQuery(s)) == cudaErrorNotReady)
        if (rkb_now_ns() > deadline) {
            fprintf(stderr, "%s: not finished after %.0f s\n", what, timeout_s);
            exit(1);
        }
    RKB_CUDA(e);
}

/* The link's peak: one 256 MiB cudaMemcpyPeerAsync 0 -> 1 a trial, timed by
 * events on device 0's stream (3 untimed first); for the shared group the
 * same copy within device 0. */
static void peer_peak(grp *gr, floors *f)
{
    const opts *o = gr->o;
    double *us = (double *)malloc(o->copy_trials * sizeof *us);
    rkb_series *s;
    RKB_CUDA(cudaSetDevice(0)); /* the stream's and the events' device */
    for (unsigned i = 0; i < 3 + o->copy_trials; i++) {
        float ms;
        RKB_CUDA(cudaEventRecord(f->start, f->s));
        RKB_CUDA(cudaMemcpyPeerAsync(f->dst, gr->dev1, f->src, 0, PEAK_BYTES, f->s));
        RKB_CUDA(cudaEventRecord(f->stop, f->s));
        rkb_wait_stream(f->s, gr->o->timeout_s, "peer copy");
        RKB_CUDA(cudaEventElapsedTime(&ms, f->start, f->stop));
        if (i >= 3)
            us[i - 3] = ms * 1e3;
    }
    printf("%s: the link's peak, while the group runs:\n", gr->label);
    if (gr->two) {
        s = samples(gr, "peer copy 0->1 256 MiB", us, o->copy_trials,
                    "one cudaMemcpyPeerAsync of 256 MiB from device 0 to device 1 (peer access on), events around it "
                    "on a non-blocking stream of device 0, while the group's kernels run");
        gr->peer_peak = (double)PEAK_BYTES / s->st.median / 1e3;
        value(gr, "peer peak GBps", "GB/s", gr->peer_peak, "256 MiB (1e9 bytes per GB) over the median peer copy time");
        append(gr, "; peer peak 0->1 %.1f GB/s", gr->peer_peak);
    } else {
        s = samples(gr, "device copy 0->0 256 MiB", us, o->copy_trials,
                    "one cudaMemcpyPeerAsync of 256 MiB within device 0 (a device-to-device copy), events around it "
                    "on a non-blocking stream of device 0, while the group's kernels run");
        gr->peer_peak = (double)PEAK_BYTES / s->st.median / 1e3;
        value(gr, "device copy peak GBps", "GB/s", gr->peer_peak,
              "256 MiB (1e9 bytes per GB) over the median device copy time");
        append(gr, "; copy peak 0->0 %.1f GB/s", gr->peer_peak);
    }
    free(us);
}

/* The migration's floor: the state's bytes from member 0's device to member
 * 1's, host clock around the copy and the wait for it (as the runtime's
 * transfer copies on a stream and synchronises it). A tenth untimed first. */
static rkb_series *copy_floor(grp *gr, floors *f, const char *what)
{
    const opts *o = gr->o;
    const unsigned warm = o->floor_trials / 10 + 1;
    double *us = (double *)malloc(o->floor_trials * sizeof *us);
    char desc[240];
    rkb_series *s;
    RKB_CUDA(cudaSetDevice(0)); /* the stream's device */
    for (unsigned i = 0; i < warm + o->floor_trials; i++) {
        uint64_t t0 = rkb_now_ns();
        RKB_CUDA(cudaMemcpyPeerAsync(f->dst, gr->dev1, f->src, 0, o->state_bytes, f->s));
        spin_stream(f->s, o->timeout_s, what);
        if (i >= warm)
            us[i - warm] = (double)(rkb_now_ns() - t0) / 1e3;
    }
    snprintf(desc, sizeof desc,
             "cudaMemcpyPeerAsync of %zu MiB from device 0 to device %d%s, then a spin until its stream is done; host "
             "clock around both, while the group's kernels run",
             o->state_bytes >> 20, gr->dev1, gr->two ? " (peer access on)" : " (within the device)");
    s = samples(gr, what, us, o->floor_trials, desc);
    free(us);
    return s;
}

/* ---- 3. migration ------------------------------------------------------------------------------------ */

static uint64_t holder_count(grp *gr, rk_actor_id h)
{
    uint64_t count = 0;
    call(gr, h, M_GET, NULL, 0, &count, sizeof count, NULL);
    return count;
}

static const char *path_name(rk_migrate_path p)
{
    return p == RK_MIGRATE_PEER ? "peer" : p == RK_MIGRATE_DEVICE ? "device" : p == RK_MIGRATE_HOST ? "host" : "?";
}

/* Moves the holder to the other member; checks what the report says. */
static void migrate(grp *gr, rk_actor_id h, uint32_t flags, rk_migrate_path want, rk_migrate_report *rep)
{
    rk_actor_id now;
    uint32_t to;
    GRP_RK(gr, rk_group_resolve(gr->g, h, &now));
    to = rk_gid_member(now) == 0 ? 1u : 0u;
    GRP_RK(gr, rk_group_migrate(gr->g, h, to, flags, timeout_ns(gr->o), rep));
    if (rep->path != want || rep->state_bytes != gr->o->state_bytes || rk_gid_member(rep->to) != (int)to ||
        ((flags & RK_MIGRATE_VERIFY) && rep->crc_before != rep->crc_after)) {
        fprintf(stderr, "migrate: path %s (want %s), %llu bytes, to member %d, crc %08x -> %08x\n",
                path_name(rep->path), path_name(want), (unsigned long long)rep->state_bytes, rk_gid_member(rep->to),
                rep->crc_before, rep->crc_after);
        exit(1);
    }
}

enum { PH_TRANSFER, PH_TOTAL, PH_QUIESCE, PH_LAUNCH, PH_SWAP, PH_N };

static void migrations(grp *gr, floors *f)
{
    const opts *o = gr->o;
    const rk_migrate_path dev_path = gr->two ? RK_MIGRATE_PEER : RK_MIGRATE_DEVICE;
    const unsigned n = o->migrations, k = o->staged;
    double *ph[PH_N], *st_transfer = (double *)malloc(k * sizeof(double));
    double *st_total = (double *)malloc(k * sizeof(double));
    char floor_name[64], desc[240];
    rk_migrate_report rep;
    rkb_series *tr, *tot, *fl, *str, *stt;
    rk_actor_id h;
    const unsigned mib = (unsigned)(o->state_bytes >> 20);
    for (int p = 0; p < PH_N; p++)
        ph[p] = (double *)malloc(n * sizeof(double));

    h = launch(gr, 0, "bench/holder", T_HOLDER, o->state_bytes);
    for (int i = 0; i < 5; i++) {
        uint64_t c = 0;
        call(gr, h, M_INC, NULL, 0, &c, sizeof c, NULL);
    }
    /* There and back with checksums, untimed: the paths' first use is set up here. */
    migrate(gr, h, RK_MIGRATE_VERIFY, dev_path, &rep);
    migrate(gr, h, RK_MIGRATE_VERIFY, dev_path, &rep);
    if (holder_count(gr, h) != 5) {
        fprintf(stderr, "migrate: the count did not survive\n");
        exit(1);
    }
    printf("%s: migration of %u MiB of state (us):\n", gr->label, mib);
    snprintf(floor_name, sizeof floor_name, "copy %u MiB 0->%d (host-timed)", mib, gr->dev1);
    fl = copy_floor(gr, f, floor_name);
    for (unsigned i = 0; i < n; i++) {
        migrate(gr, h, 0, dev_path, &rep);
        ph[PH_TRANSFER][i] = rep.transfer_ns / 1e3;
        ph[PH_TOTAL][i] = rep.total_ns / 1e3;
        ph[PH_QUIESCE][i] = rep.quiesce_ns / 1e3;
        ph[PH_LAUNCH][i] = rep.launch_ns / 1e3;
        ph[PH_SWAP][i] = rep.swap_ns / 1e3;
    }
    for (unsigned i = 0; i < k; i++) {
        migrate(gr, h, RK_MIGRATE_HOST_STAGED, RK_MIGRATE_HOST, &rep);
        st_transfer[i] = rep.transfer_ns / 1e3;
        st_total[i] = rep.total_ns / 1e3;
    }
    if (holder_count(gr, h) != 5) {
        fprintf(stderr, "migrate: the count did not survive the timed migrations\n");
        exit(1);
    }

    snprintf(desc, sizeof desc,
             "rk_migrate_report.transfer_ns: the state copied %s while both ends are held still, back and forth "
             "between the members",
             gr->two ? "device to device over the peer mapping" : "within device 0");
    tr = samples(gr, "migrate transfer", ph[PH_TRANSFER], n, desc);
    tot = samples(gr, "migrate total", ph[PH_TOTAL], n,
                  "rk_migrate_report.total_ns: rk_group_migrate from the new home's launch to the old id forwarding "
                  "and the old actor terminated");
    samples(gr, "migrate quiesce", ph[PH_QUIESCE], n,
            "rk_migrate_report.quiesce_ns: intake closed, queued messages handled, the actor held");
    samples(gr, "migrate launch", ph[PH_LAUNCH], n,
            "rk_migrate_report.launch_ns: the new home created (its state allocated) and held still");
    samples(gr, "migrate swap", ph[PH_SWAP], n,
            "rk_migrate_report.swap_ns: the new home running, the old id forwarding, the old actor terminated");
    str = samples(gr, "migrate transfer host-staged", st_transfer, k,
                  "rk_migrate_report.transfer_ns with RK_MIGRATE_HOST_STAGED: the state read to the host and "
                  "restored at the new home");
    stt = samples(gr, "migrate total host-staged", st_total, k,
                  "rk_migrate_report.total_ns with RK_MIGRATE_HOST_STAGED");
    compare(gr, "migrate transfer", floor_name,
            "migration's transfer / a bare CUDA copy of the same bytes, both host-timed");
    compare(gr, "migrate total", floor_name, "whole migration / a bare CUDA copy of the same bytes");
    compare(gr, "migrate transfer host-staged", "migrate transfer", "host-staged transfer / device-path transfer");
    compare(gr, "migrate total host-staged", "migrate total", "host-staged migration / device-path migration");
    append(gr,
           "; migrate %u MiB (%s) transfer %.1f us (p99 %.1f; floor %.1f), total %.1f us (p99 %.1f); host-staged "
           "transfer %.1f us, total %.1f us",
           mib, path_name(dev_path), tr->st.median, tr->st.p99, fl->st.median, tot->st.median, tot->st.p99,
           str->st.median, stt->st.median);
    for (int p = 0; p < PH_N; p++)
        free(ph[p]);
    free(st_transfer);
    free(st_total);
}

/* ---- a group ---------------------------------------------------------------------------------------- */


static void run_group(rkb *b, const opts *o, int two, char *line, size_t cap, size_t *k)
{
    grp gr;
    floors f;
    rk_group_options go;
    rk_link_info link;
    rk_shutdown_report rep;
    rk_status st;
    memset(&gr, 0, sizeof gr);
    gr.b = b;
    gr.o = o;
    gr.label = two ? "2 GPUs" : "GPU 0 shared";
    gr.two = two;
    gr.dev1 = two ? 1 : 0;
    gr.line = line;
    gr.cap = cap;
    gr.k = k;
    if (two) {
        /* As the group will; rkb_enable_peer leaves device 1 current. */
        rkb_enable_peer(0, 1);
        rkb_enable_peer(1, 0);
        RKB_CUDA(cudaSetDevice(0));
    }
    floors_open(&f, gr.dev1, o->state_bytes < PEAK_BYTES ? PEAK_BYTES : o->state_bytes);

    /* Two kernels on one GPU must both be resident: a part of the SMs each. */
    if ((two ? unsetenv("RK_CUDA_BLOCKS") : setenv("RK_CUDA_BLOCKS", "32", 1)) != 0) {
        perror("RK_CUDA_BLOCKS");
        exit(1);
    }
    rk_group_options_init(&go);
    rk_runtime_options_init(&go.runtime);
    go.runtime.backend = RK_BACKEND_CUDA;
    go.runtime.gpu_program = &bench_group_program;
    go.runtime.host_slot_size = HOST_SLOT;
    go.runtime.drain_timeout_ns = 2000000000ull;
    /* Every migration takes an id at its new home; ids are not reused. */
    go.runtime.max_actors = 16 + o->smax + 2 * o->pmax + o->migrations + o->staged + 2;
    go.runtime.max_actors = go.runtime.max_actors < 64 ? 64 : go.runtime.max_actors;
    go.members = 2;
    /* Each putter's source, then its parts of the destination. */
    go.symmetric_bytes = (uint64_t)o->pmax * (1u + o->put_slots) * o->put_chunk;
    go.devices[0] = 0;
    go.devices[1] = gr.dev1;
    st = rk_group_create(&gr.g, &go);
    if (st != RK_OK)
        die(NULL, "rk_group_create", st);
    GRP_RK(&gr, rk_group_link(gr.g, 0, 1, &link));
    printf("\ngroup %s: members on devices 0 and %d, link %s (access %d, native atomics %d, rank %d)%s\n", gr.label,
           gr.dev1, rk_link_kind_name(link.kind), link.access, link.native_atomics, link.perf_rank,
           two ? "" : ", RK_CUDA_BLOCKS=32 each");
    append(&gr, " | %s (%s link)", gr.label, rk_link_kind_name(link.kind));
    rkb_param_str(b, two ? "link_2_gpus" : "link_gpu_0_shared", rk_link_kind_name(link.kind));

    latency(&gr);
    peer_peak(&gr, &f);
    streaming(&gr);
    putting(&gr);
    migrations(&gr, &f);

    rk_group_destroy(gr.g, &rep);
    printf("%s: shutdown: drained %llu, dead-lettered %llu, host unread %llu, failed %u\n", gr.label,
           (unsigned long long)rep.drained, (unsigned long long)rep.dead_lettered,
           (unsigned long long)rep.host_unread, rep.actors_failed);
    if (rep.actors_failed) {
        fprintf(stderr, "%s: %u actors failed\n", gr.label, rep.actors_failed);
        exit(1);
    }
    floors_close(&f, gr.dev1);
}

/* ---- main ------------------------------------------------------------------------------------------- */

static int parse(opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->hops = rkb_arg_u64(argc, argv, "--hops", 200000);
    o->hops += o->hops % 2; /* even: the last arrival is at the recorder */
    o->warm = rkb_arg_u64(argc, argv, "--warmup", 1000);
    o->every = rkb_arg_u64(argc, argv, "--sample-every", 4);
    o->seconds = rkb_arg_f64(argc, argv, "--seconds", 3);
    o->nstreamers = rkb_arg_list(argc, argv, "--streamers", "1,8", o->streamers, MAX_STREAM_CONFIGS);
    o->payload = (uint32_t)rkb_arg_u64(argc, argv, "--payload", MAX_PAYLOAD);
    o->chunk = (uint32_t)rkb_arg_u64(argc, argv, "--chunk", 64);
    o->nputs = rkb_arg_list(argc, argv, "--puts", "1,8,16", o->puts, MAX_STREAM_CONFIGS);
    o->put_chunk = rkb_arg_u64(argc, argv, "--put-kb", 1024) << 10;
    o->put_slots = (uint32_t)rkb_arg_u64(argc, argv, "--put-slots", 4);
    o->migrations = (unsigned)rkb_arg_u64(argc, argv, "--migrations", 20);
    o->staged = (unsigned)rkb_arg_u64(argc, argv, "--staged", 5);
    o->state_bytes = (size_t)rkb_arg_u64(argc, argv, "--state-mb", 16) << 20;
    o->floor_trials = (unsigned)rkb_arg_u64(argc, argv, "--floor-trials", 200);
    o->copy_trials = (unsigned)rkb_arg_u64(argc, argv, "--copy-trials", 20);
    o->timeout_s = rkb_arg_f64(argc, argv, "--timeout-s", 30);
    for (int i = 0; i < o->nstreamers; i++)
        o->smax = o->streamers[i] > o->smax ? o->streamers[i] : o->smax;
    for (int i = 0; i < o->nputs; i++)
        o->pmax = o->puts[i] > o->pmax ? o->puts[i] : o->pmax;
    if (o->hops < 2 || o->every < 1 || o->hops / 2 / o->every < 2 || o->seconds <= 0 || o->nstreamers < 1 ||
        o->smax > MAX_STREAMERS || o->payload < 16 || o->payload > MAX_PAYLOAD || o->payload % 16 || o->chunk < 1 ||
        o->migrations < 2 || o->staged < 2 || o->state_bytes < (1u << 20) || o->state_bytes > (1024u << 20) ||
        o->floor_trials < 2 || o->copy_trials < 2 || o->timeout_s <= 0 || o->nputs < 1 || o->pmax > MAX_STREAMERS ||
        o->put_chunk < 1024 || o->put_chunk > (64u << 20) || o->put_slots < 1 || o->put_slots > 64) {
        fprintf(stderr, "need --hops >= 2, --sample-every >= 1 with at least 2 samples, --seconds > 0, --streamers "
                        "1..%d (a list), --payload a multiple of 16 in 16..%u, --chunk >= 1, --migrations >= 2, "
                        "--staged >= 2, --state-mb 1..1024, --floor-trials >= 2, --copy-trials >= 2, --timeout-s > 0, "
                        "--puts 1..%d (a list), --put-kb 1..65536, --put-slots 1..64\n",
                MAX_STREAMERS, (unsigned)MAX_PAYLOAD, MAX_STREAMERS);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    rkb b;
    char line[2048], list[96], skipped[200] = "";
    size_t k = 0, kl = 0;
    int ndev = 0, two = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (parse(&o, argc, argv) != 0)
        return 2;
    if (rkb_init(&b, BENCH_NAME, argc, argv) != 0)
        return RKB_SKIP;
    for (int i = 0; i < o.nstreamers && kl < sizeof list; i++)
        kl += (size_t)snprintf(list + kl, sizeof list - kl, "%s%u", i ? "," : "", o.streamers[i]);
    rkb_param_num(&b, "hops", (double)o.hops);
    rkb_param_num(&b, "warmup_round_trips", (double)o.warm);
    rkb_param_num(&b, "sample_every", (double)o.every);
    rkb_param_num(&b, "seconds", o.seconds);
    rkb_param_str(&b, "streamers", list);
    rkb_param_num(&b, "payload", o.payload);
    rkb_param_num(&b, "chunk", o.chunk);
    rkb_param_num(&b, "put_kb", (double)(o.put_chunk >> 10));
    rkb_param_num(&b, "put_slots", o.put_slots);
    rkb_param_num(&b, "migrations", o.migrations);
    rkb_param_num(&b, "staged", o.staged);
    rkb_param_num(&b, "state_mb", (double)(o.state_bytes >> 20));
    rkb_param_num(&b, "floor_trials", o.floor_trials);
    rkb_param_num(&b, "copy_trials", o.copy_trials);
    rkb_param_num(&b, "timeout_s", o.timeout_s);
    rkb_param_str(&b, "RK_CUDA_K2K_SLOT_SIZE", K2K_SLOT);

    /* The ring between members takes min(K2K slot, 1024) bytes a slot: 1024
     * gives the largest payload a message between members can carry. */
    if (setenv("RK_CUDA_K2K_SLOT_SIZE", K2K_SLOT, 1) != 0) {
        perror("RK_CUDA_K2K_SLOT_SIZE");
        return 1;
    }
    RKB_CUDA(cudaGetDeviceCount(&ndev));
    rkb_param_num(&b, "devices", ndev);
    if (ndev > 1) {
        int c01 = 0, c10 = 0;
        rkb_gpu g1;
        RKB_CUDA(rkb_gpu_query(&g1, 1));
        rkb_param_str(&b, "device_1", g1.name);
        RKB_CUDA(cudaDeviceCanAccessPeer(&c01, 0, 1));
        RKB_CUDA(cudaDeviceCanAccessPeer(&c10, 1, 0));
        two = c01 && c10;
        if (!two)
            snprintf(skipped, sizeof skipped, "devices 0 and 1 cannot both map each other's memory");
    } else {
        snprintf(skipped, sizeof skipped, "1 device");
    }
    if (!two)
        printf("group on 2 GPUs skipped: %s\n", skipped);
    rkb_param_str(&b, "two_gpu_group_skipped", skipped);
    snprintf(line, sizeof line, "summary " BENCH_NAME ": %d device%s%s%s", ndev, ndev == 1 ? "" : "s",
             two ? "" : ", 2-GPU group skipped: ", skipped);
    k = strlen(line);
    if (two)
        run_group(&b, &o, 1, line, sizeof line, &k);
    run_group(&b, &o, 0, line, sizeof line, &k);
    {
        int rc = rkb_finish(&b);
        printf("\n%s\n", line);
        return rc;
    }
}
