/* ringkernel internals: memory accounting and by-reference payloads
 * (see ringkernel/flow.h).
 *
 * The counters are atomics; admission adds first and takes back what it
 * may not keep, so concurrent admissions never push use past the mark. */
#ifndef RK_FLOW_H
#define RK_FLOW_H

#include <stdint.h>

#include "ringkernel/ringkernel.h"

typedef struct rk__mem {
    uint64_t payload_bytes; /* atomic */
    uint64_t queue_bytes;   /* atomic */
    uint64_t state_bytes;   /* atomic */
    uint64_t high, low;     /* atomic: host marks; 0 = no limit */
    uint64_t device_high;   /* atomic */
    uint64_t refused;       /* atomic */
    uint32_t alarm;         /* atomic: 1 from a refusal until use falls below low */
} rk__mem;

/* Accounts the queue to the host; call once the options are known. */
void rk__mem_init(rk_runtime *rt);

/* Admits an actor's inbox and state bytes: RK_EPRESSURE above a mark
 * (raising the alarm), else charges them. */
rk_status rk__mem_admit_actor(rk_runtime *rt, uint64_t queue_bytes, uint64_t state_bytes);

/* Gives back what rk__mem_admit_actor charged. */
void rk__mem_release_actor(rk_runtime *rt, uint64_t queue_bytes, uint64_t state_bytes);

/* A runtime-owned buffer for a by-reference payload of `len` bytes, with
 * the bytes copied in: RK_EPRESSURE above the high mark, RK_ENOMEM. */
rk_status rk__payload_alloc(rk_runtime *rt, const void *payload, uint32_t len, void **out);

/* Frees the by-reference payload of `m`, if it has one. */
void rk__payload_free(rk_runtime *rt, const rk_msg *m);

/* Free slots of `dst`'s queue (RK_ACTOR_HOST: the queue to the host), for
 * callers already inside the running runtime (rk__enter, or a handler). */
rk_status rk__credits(rk_runtime *rt, rk_actor_id dst, uint32_t *credits);

#endif
