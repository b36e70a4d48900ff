/* The host ring read without the core (its consumer lock, routing and
 * waiting policy), for the programs that time the backend alone: spin for
 * the message at the head, in either slot format (ring.h: plain, or
 * flag-per-word when rt->host_stage is set), copy its payload out and free
 * its slot. Single-threaded: nothing else may consume meanwhile. */
#ifndef RK_BENCH_HOST_SPIN_H
#define RK_BENCH_HOST_SPIN_H

#include <string.h>

#include "core/runtime_internal.h"

/* The message at the head once complete, or NULL after `spins` looks. In
 * an LL ring it is copied into rt->host_stage. */
static const rk_msg *rkb_host_next(rk_runtime *rt, uint64_t spins)
{
    rk_ring *r = &rt->host_ring;
    const uint64_t pos = rt->host_head;
    rk_msg *s = (rk_msg *)rt->host_stage;
    uint32_t owner;
    for (uint64_t i = 0; i < spins; i++) {
        if (!s) {
            const rk_msg *m = (const rk_msg *)rk_ring_ready(r, pos);
            if (m)
                return m;
        } else if (rk_ring_ll_look(r, pos, &owner) > 0 && rk_ring_ll_read(r, pos, s, 8, RK_MSG_HEADER_SIZE) &&
                   s->len <= rt->host_ll_bytes - RK_MSG_HEADER_SIZE &&
                   rk_ring_ll_read(r, pos, s, RK_MSG_HEADER_SIZE, RK_MSG_HEADER_SIZE + s->len)) {
            return s;
        }
    }
    return NULL;
}

/* Frees the head's slot, as the core does (ring.h: an LL slot is retired first). */
static void rkb_host_pop(rk_runtime *rt)
{
    if (rt->host_stage)
        rk_ring_ll_retire(&rt->host_ring, rt->host_head);
    rt->host_head++;
    rk_ring_consume(&rt->host_ring, rt->host_head);
}

#endif
