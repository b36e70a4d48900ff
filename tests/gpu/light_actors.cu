/* The light actor types of test_gpu_light_runtime (light_actors.h). */
#include "light_actors.h"
#include "ringkernel/device.cuh"

typedef struct rkl_none {
    uint32_t unused;
} rkl_none;

/* A slow handler: every thread waits `ns` nanoseconds (BOUNCE). */
static __device__ void rkl_hold(uint64_t ns)
{
    const uint64_t t0 = rk_dclock_ns();
    while (ns && rk_dclock_ns() - t0 < ns)
        ;
}

static __device__ rk_status rkl_block_echo(rk_dctx *c, rkl_none *s, const rk_msg *m)
{
    (void)s;
    return rk_dreply(c, m->type, rk_msg_payload(m), m->len);
}

static __device__ rk_status rkl_echo(rk_ldctx *c, rkl_echo_state *s, const rk_lmsg *m)
{
    uint64_t out[6] = {0, 0, 0, 0, 0, 0};
    const uint64_t before = s->count;
    __syncthreads(); /* every thread read the count before thread 0 adds to it */
    if (threadIdx.x == 0)
        s->count = before + 1;
    if (m->type == RKL_MSG_COUNT) {
        out[0] = before;
        return rk_ldsend(c, RK_ACTOR_HOST, m->type, out, sizeof out);
    }
    if (m->type == RKL_MSG_VIA) {
        /* Hundreds of light actors send to one block actor at once: its
         * queue fills when it falls behind (under a sanitizer it does). It
         * empties on its own - the block actor waits for nothing of ours -
         * so waiting here ends. The count of tries (at least a second in
         * all) is the same in every thread, as rk_ldsend's barriers need;
         * a clock read per thread might not be. */
        rk_status st = RK_EFULL;
        for (uint32_t tries = 0; tries < 1000000u && st == RK_EFULL; tries++) {
            if (tries)
                __nanosleep(1000);
            st = rk_ldsend(c, (rk_actor_id)m->data[0], RKL_MSG_WHO, &m->data[1], 8);
        }
        out[0] = (uint64_t)st;
        return st == RK_OK ? RK_OK : rk_ldsend(c, RK_ACTOR_HOST, RKL_MSG_LOST, out, 8);
    }
    if (m->type == RKL_MSG_WHO) {
        out[0] = m->src;
        out[1] = m->data[0];
        return rk_ldsend(c, RK_ACTOR_HOST, m->type, out, sizeof out);
    }
    if (m->type == RKL_MSG_BOUNCE) {
        /* The block actor's queue may be full for a moment: the same
         * counted retries as VIA's. */
        rk_status st = RK_EFULL;
        out[0] = m->data[0];
        out[1] = m->data[1] - 1;
        out[2] = m->data[2];
        out[3] = m->data[3];
        if (m->data[1] == 0)
            return rk_ldsend(c, RK_ACTOR_HOST, m->type, m->data, 16);
        rkl_hold(m->data[3]); /* the light actor's own hold before it sends on */
        for (uint32_t tries = 0; tries < 1000000u && st == RK_EFULL; tries++) {
            if (tries)
                __nanosleep(1000);
            st = rk_ldsend(c, (rk_actor_id)m->data[0], m->type, out, m->data[3] ? 32 : m->data[2] ? 24 : 16);
        }
        return st;
    }
    if (m->type == RKL_MSG_STATE) {
        out[0] = s->tag[0];
        out[1] = s->tag[1];
        return rk_ldsend(c, RK_ACTOR_HOST, m->type, out, sizeof out);
    }
    return rk_ldsend(c, RK_ACTOR_HOST, m->type, m->data, RK_LIGHT_PAYLOAD);
}

/* The next relay: a hash of the message and the hop, so that messages
 * spread over every home and some meet at one actor. */
static __device__ uint32_t rkl_next(const rkl_hop *h, rk_actor_id self)
{
    uint64_t x = h->seq * 0x9E3779B97F4A7C15ull + (uint64_t)h->sender * 0xBF58476D1CE4E5B9ull + self + h->hops;
    x ^= x >> 31;
    return h->first + (uint32_t)(x % h->n);
}

static __device__ rk_status rkl_relay(rk_ldctx *c, rkl_none *s, const rk_lmsg *m)
{
    rkl_hop h;
    rk_status st;
    (void)s;
    if (m->type != RKL_MSG_HOP)
        return RK_EBADMSG;
    memcpy(&h, m->data, sizeof h);
    h.path += rk_ldself(c) - h.first;
    if (h.hops == 0)
        return rk_ldsend(c, RK_ACTOR_HOST, RKL_MSG_HOP, &h, sizeof h);
    h.hops--;
    st = rk_ldsend(c, rkl_next(&h, rk_ldself(c)), RKL_MSG_HOP, &h, sizeof h);
    if (st != RK_OK) {
        /* Never expected (the test keeps few messages in flight): tell the
         * host, which fails the test instead of waiting for ever. */
        uint64_t why = (uint64_t)st;
        (void)rk_ldsend(c, RK_ACTOR_HOST, RKL_MSG_LOST, &why, sizeof why);
    }
    return RK_OK;
}

static __device__ rk_status rkl_failer(rk_ldctx *c, rkl_none *s, const rk_lmsg *m)
{
    (void)s;
    if (m->type == RKL_MSG_FAIL)
        return RK_EHANDLER;
    return rk_ldsend(c, RK_ACTOR_HOST, m->type, m->data, RK_LIGHT_PAYLOAD);
}

static __device__ rk_status rkl_storm(rk_ldctx *c, rkl_none *s, const rk_lmsg *m)
{
    /* data[0]: the first storm's id, data[1]: how many; the second send
     * goes to the next storm (the next home, of the cluster with clusters). */
    const rk_actor_id first = (rk_actor_id)m->data[0], n = (uint32_t)m->data[1];
    (void)s;
    (void)rk_ldsend(c, rk_ldself(c), m->type, m->data, RK_LIGHT_PAYLOAD);
    (void)rk_ldsend(c, n ? first + (rk_ldself(c) - first + 1) % n : rk_ldself(c), m->type, m->data,
                    RK_LIGHT_PAYLOAD);
    return RK_OK;
}

/* A block actor's sends to light actors (rk_dsend to light ids). */
static __device__ rk_status rkl_block_fan(rk_dctx *c, rkl_none *s, const rk_msg *m)
{
    rkl_fan f;
    int32_t r[3] = {0, 0, 0};
    uint8_t big[RK_LIGHT_PAYLOAD + 1];
    (void)s;
    memcpy(&f, rk_msg_payload(m), sizeof f);
    for (uint32_t i = 0; i < f.n; i++) {
        uint64_t v = i;
        rk_status st = rk_dsend_wait(c, f.first + i, RKL_MSG_WHO, &v, sizeof v, 1000000000ull);
        if (st != RK_OK)
            r[0] = st;
    }
    memset(big, 0, sizeof big);
    r[1] = rk_dsend(c, f.first, RKL_MSG_WHO, big, sizeof big);
    r[2] = rk_dsend(c, f.beyond, RKL_MSG_WHO, NULL, 0);
    return rk_dsend(c, RK_ACTOR_HOST, RKL_MSG_FAN, r, sizeof r);
}

static __device__ rk_status rkl_block_back(rk_dctx *c, rkl_none *s, const rk_msg *m)
{
    uint64_t p[4] = {0, 0, 0, 0}; /* BOUNCE: block, n, how long to hold each bounce here and in the
                                   * light actor (ns) */
    (void)s;
    if (m->type != RKL_MSG_BOUNCE || m->len < 16 || m->len > sizeof p)
        return rk_dsend(c, m->src, m->type, rk_msg_payload(m), m->len);
    memcpy(p, rk_msg_payload(m), m->len);
    rkl_hold(p[2]);
    if (p[1] == 0)
        return rk_dsend_wait(c, RK_ACTOR_HOST, m->type, p, m->len, 1000000000ull);
    p[1]--;
    return rk_dsend_wait(c, m->src, m->type, p, m->len, 1000000000ull);
}

RK_GPU_ACTOR(rkl_block_echo_actor, rkl_none, rkl_block_echo);
RK_GPU_ACTOR(rkl_block_back_actor, rkl_none, rkl_block_back);
RK_GPU_ACTOR(rkl_block_fan_actor, rkl_none, rkl_block_fan);
RK_GPU_LIGHT(rkl_echo_actor, rkl_echo_state, rkl_echo);
RK_GPU_LIGHT(rkl_relay_actor, rkl_none, rkl_relay);
RK_GPU_LIGHT(rkl_failer_actor, rkl_none, rkl_failer);
RK_GPU_LIGHT(rkl_storm_actor, rkl_none, rkl_storm);

RK_GPU_PROGRAM(rkl_program, rkl_block_echo_actor, rkl_echo_actor, rkl_relay_actor, rkl_failer_actor,
               rkl_storm_actor, rkl_block_fan_actor, rkl_block_back_actor);
