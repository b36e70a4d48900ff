/* Throughput of the checkpoint codec (checkpoint.h) on one host thread.
 *
 * What one timed run measures: one call, on a state of --size MiB (16) of
 * random bytes and no messages, with every buffer allocated and touched
 * beforehand:
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
 * Each: one warm-up call, then --runs timed calls (11); reported: median,
 * min and max time, and the median as GB/s of state (10^9 bytes/s), i.e.
 * state size / time whatever the bytes actually touched.
 *
 *   bench_checkpoint [--runs N] [--size MiB] [--changed PERCENT]
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringkernel/checkpoint.h"
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
    OP_COUNT
} op;

static const char *const op_names[OP_COUNT] = {
    "crc32c",       "memcpy",       "full encode",  "full decode",
    "full restore", "delta encode", "delta decode", "delta restore",
};

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
static size_t change_blocks(unsigned char *p, size_t size, double percent)
{
    size_t blocks = (size + RK_CHECKPOINT_BLOCK_SIZE - 1) / RK_CHECKPOINT_BLOCK_SIZE;
    size_t want = (size_t)((double)blocks * percent / 100.0 + 0.5), done = 0;
    unsigned char *hit = xmalloc(blocks);
    uint64_t s = 0x9E3779B97F4A7C15ull;
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
    *changed = change_blocks(b->cur, size, percent);

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
    default:
        break;
    }
}

static rk_stats measure(bench *b, op o, int runs)
{
    static double t[MAX_RUNS];
    for (int r = -1; r < runs; r++) {
        double t0;
        reset_target(b);
        t0 = now_s();
        run_op(b, o);
        if (r >= 0)
            t[r] = now_s() - t0;
    }
    return rk_stats_of(t, (size_t)runs);
}

int main(int argc, char **argv)
{
    int runs = 11;
    double mib = 16, percent = 1;
    size_t changed;
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
    printf("full checkpoint %zu bytes, delta %zu bytes\n\n", b.full_len, b.delta_len);
    printf("%-14s %10s %10s %10s %10s\n", "operation", "median ms", "min ms", "max ms", "GB/s");
    for (int o = 0; o < OP_COUNT; o++) {
        rk_stats s = measure(&b, (op)o, runs);
        printf("%-14s %10.3f %10.3f %10.3f %10.2f\n", op_names[o], s.median * 1e3, s.min * 1e3, s.max * 1e3,
               (double)b.size / s.median / 1e9);
    }
    free(b.base);
    free(b.cur);
    free(b.target);
    free(b.full);
    free(b.delta);
    return 0;
}
