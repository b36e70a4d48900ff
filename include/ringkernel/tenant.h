/* ringkernel: tenants - isolation, quotas and per-tenant metrics.
 *
 * Every actor belongs to a tenant (rk_actor_options.tenant) and every
 * message carries one. A message is delivered only inside its tenant: a send
 * across tenants is refused with RK_ETENANT, counted for both tenants and for
 * the runtime, and reported as an RK_EVENT_TENANT event. The host may act
 * for any tenant (rk_send_msg with the header's tenant).
 *
 * A tenant may be given quotas:
 *   - max_actors and max_queue_bytes (inbox slots: capacity x slot_size of
 *     its actors) are checked when an actor is launched: RK_EQUOTA;
 *   - max_msgs_per_s limits the messages carrying the tenant (host sends to
 *     its actors, and what its actors send) with a token bucket of `burst`
 *     messages: an over-rate send is refused with RK_ERATE. On the CUDA
 *     backend actors send from the GPU (rk_dsend & co. return RK_ERATE;
 *     rk_dsend_wait does not wait for a token): the bucket also fills an
 *     allowance there every millisecond, up to the larger of `burst` and two
 *     milliseconds at the rate, which the GPU's sends take from. Host and
 *     GPU sends share the rate; at most bucket plus allowance go at once.
 *     Whenever the allowance has room it takes what the bucket holds: right
 *     after the quota is set it takes the fresh bucket, and GPU senders that
 *     keep it busy leave host senders little. The GPU reaches the rate only
 *     with a burst of at least a millisecond's worth (the default is). Its
 *     refusals are counted for the tenant every millisecond, each count
 *     reported as one RK_EVENT_QUOTA naming no actor. A runtime limits at
 *     most 64 tenants on the GPU at once (a lifted quota's slot is reused
 *     once every actor of the tenant let go of it); beyond that
 *     rk_tenant_set_quota returns RK_ENOMEM and the quota stays as it was.
 *     On CUDA it also waits for each of the tenant's actors to take the
 *     change (between two of its messages, up to 100 ms each) and may
 *     return a device status.
 * Quota refusals are counted and reported as RK_EVENT_QUOTA events. A tenant
 * without quotas costs one load per message on the send path.
 *
 * A runtime knows at most max_actors + RK_TENANT_EXTRA tenants: those of its
 * actors, and those given quotas before they had any. */
#ifndef RINGKERNEL_TENANT_H
#define RINGKERNEL_TENANT_H

#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_runtime rk_runtime;

#define RK_TENANT_EXTRA 256u /* tenants a runtime can know beyond one per actor slot */

typedef struct rk_tenant_quota {
    uint32_t max_actors;      /* actors the tenant may hold; 0 = no limit */
    uint32_t burst;           /* messages accepted at once above the rate; 0 = max(1, rate / 10) */
    uint64_t max_queue_bytes; /* inbox slot bytes over its actors; 0 = no limit */
    uint64_t max_msgs_per_s;  /* sustained message rate; 0 = no limit */
} rk_tenant_quota;

/* Fills `q` with "no limits". */
RK_API void rk_tenant_quota_init(rk_tenant_quota *q);

/* Sets the quotas of `tenant` (known or not yet). Takes effect at once for
 * later launches and sends; actors already launched stay, even if the new
 * limits are below what the tenant holds. Resets the rate's token bucket to
 * full. Returns RK_EINVAL, or RK_ENOMEM when the runtime knows
 * max_actors + RK_TENANT_EXTRA tenants already. Does not block sends. */
RK_API rk_status rk_tenant_set_quota(rk_runtime *rt, uint32_t tenant, const rk_tenant_quota *q);

/* The quotas of `tenant`; RK_ENOTFOUND for a tenant the runtime does not know. */
RK_API rk_status rk_tenant_get_quota(rk_runtime *rt, uint32_t tenant, rk_tenant_quota *q);

typedef struct rk_tenant_metrics {
    uint32_t tenant;
    uint32_t actors;          /* actors launched in the tenant */
    uint64_t queue_bytes;     /* inbox slot bytes of its actors */
    uint64_t queue_depth;     /* messages queued for its actors now */
    uint64_t msgs_in;         /* messages its actors handled */
    uint64_t msgs_out;        /* messages its actors sent */
    uint64_t refused_cross_out; /* sends by the tenant to another tenant's actor */
    uint64_t refused_cross_in;  /* sends by another tenant to one of its actors */
    uint64_t refused_rate;    /* sends refused with RK_ERATE */
    uint64_t refused_quota;   /* launches refused with RK_EQUOTA */
    uint64_t refused_pressure;/* launches refused with RK_EPRESSURE */
    uint64_t refused_full;    /* sends to its actors refused with RK_EFULL */
} rk_tenant_metrics;

/* A snapshot of one tenant's counters (the actor-based ones summed from the
 * control blocks). RK_ENOTFOUND for an unknown tenant, RK_ESHUTDOWN once the
 * runtime is shut down. */
RK_API rk_status rk_tenant_metrics_get(rk_runtime *rt, uint32_t tenant, rk_tenant_metrics *out);

/* Copies up to `cap` known tenant ids into `ids` (any order); *total gets
 * how many there are (RK_E2BIG if more than cap). */
RK_API rk_status rk_tenant_list(rk_runtime *rt, uint32_t *ids, uint32_t cap, uint32_t *total);

typedef struct rk_tenant_stats {
    uint64_t cross_refused;       /* every send refused with RK_ETENANT */
    uint64_t cross_unattributed;  /* of those, host sends as a tenant the runtime does not know */
    uint64_t rate_refused;        /* every send refused with RK_ERATE */
    uint64_t quota_refused;       /* every launch refused with RK_EQUOTA */
    uint32_t tenants;             /* tenants known */
    uint32_t pad_;
    uint64_t cross_lost;          /* of cross_refused, actor-to-actor sends refused on a device
                                     whose report never reached the host (its event queue was
                                     full) or named no actor the host knows: counted here, for
                                     no tenant */
} rk_tenant_stats;

/* Runtime-wide isolation and quota counters. The per-tenant counters add up
 * to these: the sum of refused_cross_in is cross_refused - cross_lost, the
 * sum of refused_cross_out is cross_refused - cross_unattributed -
 * cross_lost. Sends refused on a GPU (actor to actor) are counted once the
 * host has read the device's report: this call and rk_tenant_metrics_get
 * collect those first. */
RK_API rk_status rk_tenant_stats_get(rk_runtime *rt, rk_tenant_stats *out);

#ifdef __cplusplus
}
#endif

#endif
