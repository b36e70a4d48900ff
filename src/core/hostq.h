/* ringkernel internals: the host's side of messaging - sends, the queue
 * actors use to reach the host, and request/reply matching. */
#ifndef RK_HOSTQ_H
#define RK_HOSTQ_H

#include "core/runtime_internal.h"

rk_status rk__hostq_init(rk_runtime *rt);
void rk__hostq_destroy(rk_runtime *rt);

/* For the backend's start: the host ring it set up (rt->host_ring) has
 * flag-per-word slots (ring.h, LL) holding messages of up to `bytes`
 * bytes. RK_ENOMEM if the host's copy of a message cannot be allocated. */
rk_status rk__hostq_ll(rk_runtime *rt, uint32_t bytes);

/* Dead-letters everything no one received (ring and held messages) with
 * RK_ESHUTDOWN and returns how many there were. */
uint64_t rk__hostq_discard(rk_runtime *rt);

/* Whether the host's queue may hold something its last look did not
 * find: the head moved or its slot is published, a marked slot that look
 * listed is published, or the slot where it stopped changed (published, or
 * marked where nobody had marked it; ring.h). For a backend's wait: any
 * thread, no lock. */
int rk__hostq_moved(rk_runtime *rt);

/* Fills *m with the header of a plain host send of `len` bytes of `type` to
 * `dst`, in dst's tenant (the host speaks for every tenant). RK_EINVAL for
 * a NULL runtime, RK_ENOACTOR for an unknown id. */
rk_status rk__host_header(rk_runtime *rt, rk_actor_id dst, uint32_t type, uint32_t len, rk_msg *m);

#endif
