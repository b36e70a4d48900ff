/* ringkernel internals: the host's side of messaging - sends, the queue
 * actors use to reach the host, and request/reply matching. */
#ifndef RK_HOSTQ_H
#define RK_HOSTQ_H

#include "core/runtime_internal.h"

rk_status rk__hostq_init(rk_runtime *rt);
void rk__hostq_destroy(rk_runtime *rt);

/* Dead-letters everything no one received (ring and held messages) with
 * RK_ESHUTDOWN and returns how many there were. */
uint64_t rk__hostq_discard(rk_runtime *rt);

/* Fills *m with the header of a plain host send of `len` bytes of `type` to
 * `dst`, in dst's tenant (the host speaks for every tenant). RK_EINVAL for
 * a NULL runtime, RK_ENOACTOR for an unknown id. */
/* Where the host's last look at its queue stopped (a slot neither
 * published nor marked; the head when it stopped there). A backend's wait
 * ends when that slot or the head's changes (any thread, no lock). */
uint64_t rk__hostq_watch(rk_runtime *rt);

rk_status rk__host_header(rk_runtime *rt, rk_actor_id dst, uint32_t type, uint32_t len, rk_msg *m);

#endif
