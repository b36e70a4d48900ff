/* The K2K ping-pong actor that bench_gpu_roundtrip's "k2k actor<->actor"
 * and bench/diag/diag_k2k time: two of them, on two blocks. START {peer,
 * n} makes one ping its peer n times (PING -> PONG is one round trip) and
 * then send DONE {n, ns} to the host, timed with the device clock. Include
 * after ringkernel/device.cuh (a program that defines timing probes defines
 * them before that). */
#ifndef RK_BENCH_K2K_PINGER_CUH
#define RK_BENCH_K2K_PINGER_CUH

#include "ringkernel/device.cuh"

enum { PINGER_START = 2, PINGER_PING = 3, PINGER_PONG = 4, PINGER_DONE = 5 };

typedef struct pinger_state {
    uint32_t peer, pad_;
    uint64_t remaining, n, t0;
} pinger_state;

typedef struct pinger_start {
    uint32_t peer, pad_;
    uint64_t n;
} pinger_start;

typedef struct pinger_done {
    uint64_t n, ns;
} pinger_done;

static __device__ rk_status pinger_handle(rk_dctx *c, pinger_state *s, const rk_msg *m)
{
    __shared__ int finished;
    __shared__ pinger_done d;
    if (m->type == PINGER_PING)
        return rk_dsend_wait(c, m->src, PINGER_PONG, NULL, 0, 10000000000ull);
    __syncthreads();
    if (threadIdx.x == 0) {
        finished = 0;
        if (m->type == PINGER_START) {
            const pinger_start *p = (const pinger_start *)rk_msg_payload(m);
            s->peer = p->peer;
            s->remaining = s->n = p->n;
            s->t0 = rk_dclock_ns();
        } else if (--s->remaining == 0) {
            finished = 1;
            d.n = s->n;
            d.ns = rk_dclock_ns() - s->t0;
        }
    }
    __syncthreads();
    if (finished)
        return rk_dsend_wait(c, RK_ACTOR_HOST, PINGER_DONE, &d, sizeof d, 10000000000ull);
    return rk_dsend_wait(c, s->peer, PINGER_PING, NULL, 0, 10000000000ull);
}

RK_GPU_ACTOR(pinger_actor, pinger_state, pinger_handle);

#endif
