/* Throughput of checkpoints: the codec (checkpoint.h) on one host thread,
 * and whole actor checkpoints through a runtime (snapshot.h).
 *
 * Codec, what one timed run measures: one call, on a state of --size MiB
 * (16) of random bytes and no messages, with every buffer allocated and
 * touched beforehand:
 *   crc32c          rk_crc32c over the state (the codec's checksum alone)
 *   memcpy          memcpy of the state (the memory floor, for scale)
 *   full encode     rk_checkpoint_encode, full
 *   full decode     rk_checkpoint_decode of it (validation only)
 *   full restore    rk_checkpoint_apply of it to a target buffer
 *   delta encode    rk_checkpoint_encode against the previous state, where
 *                   --changed percent (1) of the 4 KiB blocks differ by a byte
 *   delta decode    rk_checkpoint_decode of that delta
 *   delta restore   rk_checkpoint_apply of it to a target that holds the base
 *                   (reset to the base, untimed, before each run)
 *
 * Runtime: a CPU-backend runtime with one worker and one idle actor whose
 * state is --size MiB of random bytes; one timed run is one call, from the
 * caller's side, into a buffer allocated beforehand:
 *   actor checkpoint full    rk_actor_checkpoint, full: pause the actor, copy
 *                            its state, resume, encode, keep the copy as base
 *   actor checkpoint delta   the same as a delta; before each run (untimed) a
 *                            request has the actor change one byte in
 *                            --changed percent of its 4 KiB blocks
 *   actor restore full       rk_actor_restore of a full checkpoint: validate
 *                            and stage it, pause, copy the state in, resume
 *   actor restore delta      rk_actor_restore of a delta with --changed
 *                            percent of the blocks; before each run
 *                            (untimed) the full checkpoint it is based on is
 *                            restored, so that it is the actor's base
 *
 * Each: one warm-up call, then --runs timed calls (11), taken round robin
 * (one run of every row, then the next) so that a change in the machine's
 * load touches all rows alike; reported: median,
 * min and max time, the 95% confidence interval of the median (bootstrap,
 * stats.h), and the median as GB/s of state (10^9 bytes/s), i.e. state
 * size / time whatever the bytes actually touched.
 *
 *   bench_checkpoint [--runs N] [--size MiB] [--changed PERCENT]
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringkernel/ringkernel.h"
#include "stats.h"

#define MAX_RUNS 1001

typedef enum op {
    OP_CRC,
    OP_MEMCPY,
    OP_FULL_ENCODE,
    OP_FULL_DECODE,
    OP_FULL_RESTORE,
    OP_DELTA_ENCODE,
    OP_DELTA_DECODE,
    OP_DELTA_RESTORE,
    OP_CODEC_COUNT,
    OP_RT_CKPT_FULL = OP_CODEC_COUNT,
    OP_RT_CKPT_DELTA,
    OP_RT_RESTORE_FULL,
    OP_RT_RESTORE_DELTA,
    OP_COUNT
} op;

static const char *const op_names[OP_COUNT] = {
    "crc32c",       "memcpy",       "full encode",  "full decode",
    "full restore", "delta encode", "delta decode", "delta restore",
    "actor checkpoint full", "actor checkpoint delta", "actor restore full", "actor restore delta",
};

enum { MSG_CHANGE = 1 }; /* request: change_blocks() on the actor's state */

typedef struct change_req {
    uint64_t size;
    uint64_t seed;
    double percent;
} change_req;

typedef struct bench {
    size_t size;
    unsigned char *base, *cur, *target;
    unsigned char *full, *delta; /* encoded checkpoints */
    size_t full_cap, delta_cap, full_len, delta_len;
    rk_checkpoint_src src_full, src_delta;
    rk_checkpoint_base base_ref;
    rk_checkpoint_target tgt;
    uint32_t base_crc;
    volatile uint32_t sink; /* keeps the CRC loop from being optimised away */
    /* the runtime's part */
    rk_runtime *rt;
    rk_actor_id actor;
    double percent;
    uint64_t seed;
    unsigned char *rt_buf, *rt_full, *rt_delta; /* scratch; a full one; a delta against rt_full */
    size_t rt_cap, rt_full_len, rt_delta_len;
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_checkpoint: out of memory\n");
        exit(1);
    }
    memset(p, 0, n); /* touch every page before timing */
    return p;
}

static void check(rk_status st, const char *what)
{
    if (st != RK_OK) {
        fprintf(stderr, "bench_checkpoint: %s: %s\n", what, rk_status_name(st));
        exit(1);
    }
}

static void fill_random(unsigned char *p, size_t n, uint64_t s)
{
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p[i] = (unsigned char)s;
    }
}

/* Changes one byte in `percent` of the blocks, chosen at random. */
static size_t change_blocks(unsigned char *p, size_t size, double percent, uint64_t seed)
{
    size_t blocks = (size + RK_CHECKPOINT_BLOCK_SIZE - 1) / RK_CHECKPOINT_BLOCK_SIZE;
    size_t want = (size_t)((double)blocks * percent / 100.0 + 0.5), done = 0;
    unsigned char *hit = xmalloc(blocks);
    uint64_t s = seed | 1;
    while (done < want && done < blocks) {
        size_t b, off, blen;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        b = (size_t)(s % blocks);
        if (hit[b])
            continue;
        hit[b] = 1;
        off = b * RK_CHECKPOINT_BLOCK_SIZE;
        blen = size - off < RK_CHECKPOINT_BLOCK_SIZE ? size - off : RK_CHECKPOINT_BLOCK_SIZE;
        p[off + (size_t)(s >> 40) % blen] ^= 0xFF;
        done++;
    }
    free(hit);
    return done;
}

static void setup(bench *b, size_t size, double percent, size_t *changed)
{
    rk_checkpoint_info info;
    memset(b, 0, sizeof *b);
    b->size = size;
    b->base = xmalloc(size);
    b->cur = xmalloc(size);
    b->target = xmalloc(size);
    fill_random(b->base, size, 88172645463325252ull);
    memcpy(b->cur, b->base, size);
    *changed = change_blocks(b->cur, size, percent, 0x9E3779B97F4A7C15ull);

    b->src_full =
        (rk_checkpoint_src){.actor = 1, .generation = 1, .seq = 1, .state = b->base, .state_size = size};
    check(rk_checkpoint_size(&b->src_full, NULL, &b->full_cap), "size");
    b->full = xmalloc(b->full_cap);
    check(rk_checkpoint_encode(&b->src_full, NULL, b->full, b->full_cap, &b->full_len, &info), "encode");
    b->base_crc = info.state_crc;

    b->src_delta = b->src_full;
    b->src_delta.seq = 2;
    b->src_delta.state = b->cur;
    b->base_ref = (rk_checkpoint_base){.state = b->base, .size = size, .seq = 1, .crc = b->base_crc};
    check(rk_checkpoint_size(&b->src_delta, &b->base_ref, &b->delta_cap), "size");
    b->delta = xmalloc(b->delta_cap);
    check(rk_checkpoint_encode(&b->src_delta, &b->base_ref, b->delta, b->delta_cap, &b->delta_len, NULL),
          "encode");
}

/* Puts the target back to the base, for a delta restore. */
static void reset_target(bench *b)
{
    memcpy(b->target, b->base, b->size);
    b->tgt = (rk_checkpoint_target){
        .state = b->target, .cap = b->size, .len = b->size, .seq = 1, .crc = b->base_crc};
}

/* ---- the runtime's part ---------------------------------------------------------- */

static rk_status actor_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    change_req r;
    if (m->type != MSG_CHANGE || m->len != sizeof r)
        return RK_OK;
    memcpy(&r, rk_msg_payload(m), sizeof r);
    change_blocks(state, (size_t)r.size, r.percent, r.seed);
    return rk_reply(ctx, MSG_CHANGE, NULL, 0);
}

static const rk_actor_type actor_type = {"bench", actor_handle, NULL, 0};

/* Has the actor change --changed percent of its blocks (new ones each time)
 * and waits until it has. */
static void actor_change(bench *b)
{
    change_req r = {b->size, b->seed += 0x9E3779B97F4A7C15ull, b->percent};
    rk_msgbuf reply = {.data = NULL, .capacity = 0};
    check(rk_call(b->rt, b->actor, MSG_CHANGE, &r, sizeof r, &reply, 10000000000ull), "change request");
}

static void setup_runtime(bench *b, double percent)
{
    rk_runtime_options ro;
    rk_actor_options ao;
    rk_checkpoint_info info;
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CPU;
    ro.workers = 1;
    check(rk_runtime_create(&b->rt, &ro), "runtime");
    rk_actor_options_init(&ao);
    ao.name = "bench";
    ao.type = &actor_type;
    ao.initial_state = b->base; /* random bytes */
    ao.state_size = (uint32_t)b->size;
    check(rk_launch(b->rt, &ao, &b->actor), "launch");
    b->percent = percent;
    b->seed = 0x2545F4914F6CDD1Dull;
    /* No messages are queued when a checkpoint runs: header and padding. */
    b->rt_cap = b->size + b->size / RK_CHECKPOINT_BLOCK_SIZE / 8 + 4096;
    b->rt_buf = xmalloc(b->rt_cap);
    b->rt_full = xmalloc(b->rt_cap);
    b->rt_delta = xmalloc(b->rt_cap);
    check(rk_actor_checkpoint(b->rt, b->actor, RK_ACTOR_CHECKPOINT_FULL, b->rt_full, b->rt_cap, &b->rt_full_len,
                              &info),
          "actor checkpoint");
    actor_change(b);
    check(rk_actor_checkpoint(b->rt, b->actor, RK_ACTOR_CHECKPOINT_DELTA, b->rt_delta, b->rt_cap, &b->rt_delta_len,
                              &info),
          "actor checkpoint");
}

static void teardown_runtime(bench *b)
{
    rk_runtime_destroy(b->rt);
    free(b->rt_buf);
    free(b->rt_full);
    free(b->rt_delta);
}

/* What a run needs beforehand, untimed. */
static void prepare_op(bench *b, op o)
{
    if (o < OP_CODEC_COUNT)
        reset_target(b);
    else if (o == OP_RT_CKPT_DELTA)
        actor_change(b);
    else if (o == OP_RT_RESTORE_DELTA)
        check(rk_actor_restore(b->rt, b->actor, 0, b->rt_full, b->rt_full_len, NULL), "actor restore (base)");
}

static void run_op(bench *b, op o)
{
    size_t len;
    switch (o) {
    case OP_CRC:
        b->sink = rk_crc32c(0, b->base, b->size);
        break;
    case OP_MEMCPY:
        memcpy(b->target, b->base, b->size);
        break;
    case OP_FULL_ENCODE:
        check(rk_checkpoint_encode(&b->src_full, NULL, b->full, b->full_cap, &len, NULL), "full encode");
        break;
    case OP_FULL_DECODE:
        check(rk_checkpoint_decode(b->full, b->full_len, NULL), "full decode");
        break;
    case OP_FULL_RESTORE:
        check(rk_checkpoint_apply(b->full, b->full_len, &b->tgt, NULL), "full restore");
        break;
    case OP_DELTA_ENCODE:
        check(rk_checkpoint_encode(&b->src_delta, &b->base_ref, b->delta, b->delta_cap, &len, NULL),
              "delta encode");
        break;
    case OP_DELTA_DECODE:
        check(rk_checkpoint_decode(b->delta, b->delta_len, NULL), "delta decode");
        break;
    case OP_DELTA_RESTORE:
        check(rk_checkpoint_apply(b->delta, b->delta_len, &b->tgt, NULL), "delta restore");
        break;
    case OP_RT_CKPT_FULL:
        check(rk_actor_checkpoint(b->rt, b->actor, RK_ACTOR_CHECKPOINT_FULL, b->rt_buf, b->rt_cap, &len, NULL),
              "actor checkpoint full");
        break;
    case OP_RT_CKPT_DELTA:
        check(rk_actor_checkpoint(b->rt, b->actor, RK_ACTOR_CHECKPOINT_DELTA, b->rt_buf, b->rt_cap, &len, NULL),
              "actor checkpoint delta");
        break;
    case OP_RT_RESTORE_FULL:
        check(rk_actor_restore(b->rt, b->actor, 0, b->rt_full, b->rt_full_len, NULL), "actor restore full");
        break;
    case OP_RT_RESTORE_DELTA:
        check(rk_actor_restore(b->rt, b->actor, 0, b->rt_delta, b->rt_delta_len, NULL), "actor restore delta");
        break;
    default:
        break;
    }
}

/* Times one run of o after its untimed preparation. */
static double time_op(bench *b, op o)
{
    double t0;
    prepare_op(b, o);
    t0 = now_s();
    run_op(b, o);
    return now_s() - t0;
}

/* Round robin: run r of every operation, then run r + 1, so that a change
 * of machine load during the measurement touches every row alike. */
static void measure_all(bench *b, int n_ops, int runs, rk_stats *out)
{
    static double t[OP_COUNT][MAX_RUNS];
    for (int o = 0; o < n_ops; o++)
        (void)time_op(b, (op)o); /* warm-up */
    for (int r = 0; r < runs; r++)
        for (int o = 0; o < n_ops; o++)
            t[o][r] = time_op(b, (op)o);
    for (int o = 0; o < n_ops; o++)
        out[o] = rk_stats_of(t[o], (size_t)runs);
}

int main(int argc, char **argv)
{
    int runs = 11;
    double mib = 16, percent = 1;
    size_t changed;
    int rt_ops;
    rk_stats stats[OP_COUNT];
    bench b;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            mib = atof(argv[++i]);
        else if (!strcmp(argv[i], "--changed") && i + 1 < argc)
            percent = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_checkpoint [--runs N] [--size MiB] [--changed PERCENT]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || mib <= 0 || percent < 0 || percent > 100) {
        fprintf(stderr, "bench_checkpoint: runs 1..%d, size > 0, changed 0..100\n", MAX_RUNS);
        return 2;
    }

    setup(&b, (size_t)(mib * 1024 * 1024), percent, &changed);
    printf("state %.0f MiB, %zu of %zu blocks of %u B changed (%.1f%%), %d runs per row\n", mib, changed,
           (b.size + RK_CHECKPOINT_BLOCK_SIZE - 1) / RK_CHECKPOINT_BLOCK_SIZE, RK_CHECKPOINT_BLOCK_SIZE,
           percent, runs);
    printf("full checkpoint %zu bytes, delta %zu bytes\n", b.full_len, b.delta_len);
    rt_ops = b.size <= ((size_t)64 << 20); /* an actor's state is at most 64 MiB */
    if (rt_ops) {
        setup_runtime(&b, percent);
        printf("actor (CPU backend, 1 worker): full checkpoint %zu bytes, delta %zu bytes\n", b.rt_full_len,
               b.rt_delta_len);
    } else {
        printf("actor rows skipped: an actor's state is at most 64 MiB\n");
    }
    printf("\n%-22s %10s %10s %10s %21s %8s\n", "operation", "median ms", "min ms", "max ms", "95% CI of median ms",
           "GB/s");
    measure_all(&b, rt_ops ? OP_COUNT : OP_CODEC_COUNT, runs, stats);
    for (int o = 0; o < (rt_ops ? OP_COUNT : OP_CODEC_COUNT); o++) {
        rk_stats s = stats[o];
        printf("%-22s %10.3f %10.3f %10.3f %10.3f..%-9.3f %8.2f\n", op_names[o], s.median * 1e3, s.min * 1e3,
               s.max * 1e3, s.ci_lo * 1e3, s.ci_hi * 1e3, (double)b.size / s.median / 1e9);
    }
    if (rt_ops)
        teardown_runtime(&b);
    free(b.base);
    free(b.cur);
    free(b.target);
    free(b.full);
    free(b.delta);
    return 0;
}
