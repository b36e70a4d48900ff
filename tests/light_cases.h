/* What tests/test_light.c (host threads) and tests/gpu/test_gpu_light.cu
 * (blocks) both check about light actors: numbered messages whose payload
 * carries a checksum, and per (receiver, source) order. */
#ifndef RK_LIGHT_CASES_H
#define RK_LIGHT_CASES_H

#include "ringkernel/light.cuh"

/* The payload of message `n` from source `src`: w[0] source, w[1] number,
 * w[2] a checksum of both, w[3..] free for the case. */
RK_LF uint64_t lc_sum(uint64_t src, uint64_t n) { return (src * 0x9e3779b97f4a7c15ull) ^ (n * 0xc2b2ae3d27d4eb4full) ^ 0x5bd1e995ull; }

RK_LF void lc_words(uint64_t *w, uint64_t src, uint64_t n)
{
    for (int i = 0; i < RK_LIGHT_WORDS; i++)
        w[i] = 0;
    w[0] = src;
    w[1] = n;
    w[2] = lc_sum(src, n);
}

/* Checks m against `next`, the number expected next from m's source (a row
 * of `sources` counters of the receiving actor, written only by whoever
 * holds its token). Returns 0 when the message is intact and in order
 * (then counts it), else a nonzero code: 1 bad source, 2 bad checksum,
 * 3 out of order or twice. */
RK_LF int lc_take(const rk_light_msg *m, uint64_t *next, uint64_t sources)
{
    uint64_t src = m->w[0], n = m->w[1];
    if (src >= sources)
        return 1;
    if (m->w[2] != lc_sum(src, n))
        return 2;
    if (n != next[src])
        return 3;
    next[src] = n + 1;
    return 0;
}

/* cluster_drain's next actor for a token at c->self after `hops` hops: an
 * actor of its own home every third hop, else one of the next home of its
 * cluster, so the token never leaves its cluster. */
RK_LF uint32_t lc_cluster_next(const rk_light_ctx *c, uint64_t hops)
{
    const rk_light_config *cfg = &c->w->cfg;
    uint32_t home = c->home, first = home - home % cfg->cluster;
    if (hops % 3 == 2)
        return (c->self + cfg->homes) % cfg->actors;
    return c->self - home + first + (home - first + 1) % cfg->cluster;
}

#endif
