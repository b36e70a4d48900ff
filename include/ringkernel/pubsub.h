/* ringkernel: publish/subscribe over the runtime's queues.
 *
 * Actors subscribe to topic patterns (the syntax of ringkernel/registry.h:
 * '*' within a segment, '**' across segments). Publishing to a concrete
 * topic sends one copy of the message to each subscriber whose patterns
 * match it - each subscriber once, in ascending id order - through the
 * ordinary send path: every copy is checked like a direct send (tenant,
 * receiver state, size, full queue), and a copy that is refused is
 * dead-lettered with the reason, never dropped silently. The payload
 * arrives unchanged; the message type tells the subscriber what it is.
 *
 * Subscriptions belong to the actor until it terminates: termination drops
 * them (and its names), a restart from Failed keeps them. An actor restarted
 * from Terminated subscribes again, typically in its init. */
#ifndef RINGKERNEL_PUBSUB_H
#define RINGKERNEL_PUBSUB_H

#include <stdint.h>

#include "ringkernel/ringkernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What one publish did. subscribers = delivered + refused. */
typedef struct rk_publish_report {
    uint32_t subscribers;   /* subscribers the topic matched */
    uint32_t delivered;     /* copies queued for them */
    uint32_t refused;       /* copies refused, each dead-lettered with its reason */
    rk_status first_refusal;/* the first refusal's status; RK_OK when none */
} rk_publish_report;

/* Subscribes actor `id` to the topics matching `pattern` (copied). Returns
 * RK_OK, RK_EEXIST if it holds this very pattern already, RK_EINVAL (bad
 * pattern, NULL), RK_ENOACTOR, RK_ESTATE for a terminated actor, RK_ENOMEM,
 * RK_ESHUTDOWN. May block while a lifecycle command runs. */
RK_API rk_status rk_subscribe(rk_runtime *rt, rk_actor_id id, const char *pattern);

/* Drops the subscription of `id` to exactly `pattern` (compared as text).
 * RK_OK, RK_ENOTFOUND, RK_EINVAL, RK_ENOACTOR. Never blocks for long. */
RK_API rk_status rk_unsubscribe(rk_runtime *rt, rk_actor_id id, const char *pattern);

/* Publishes from the host to the concrete `topic`. The host speaks for
 * every tenant, as rk_send does: each copy carries its subscriber's tenant.
 * `rep` (may be NULL) gets the counts. Returns RK_OK when every subscriber
 * got a copy (no subscriber at all included), else the first refusal's
 * status (RK_EFULL, RK_ESTATE, RK_EFAILED, ...) - the others still got
 * theirs; RK_EINVAL for a bad topic or arguments, RK_E2BIG over
 * max_payload, RK_ENOMEM, RK_ESHUTDOWN (nothing sent then). Never waits
 * for queue room (a full queue is a refusal); it may wait briefly for the
 * registry's lock. The payload is copied before return. */
RK_API rk_status rk_publish(rk_runtime *rt, const char *topic, uint32_t type, const void *payload, uint32_t len,
                            rk_publish_report *rep);

/* As rk_publish, with a caller-built header: type, tenant and len are taken
 * from it, so the tenant check applies (a subscriber of another tenant is
 * refused with RK_ETENANT). flags must be 0: a publish is not a request. */
RK_API rk_status rk_publish_msg(rk_runtime *rt, const char *topic, const rk_msg *hdr, const void *payload,
                                rk_publish_report *rep);

/* ---- inside a CPU handler --------------------------------------------------- */

/* Subscribes the running actor itself. Statuses as rk_subscribe; never
 * blocks on a lifecycle command, so it is safe in a handler or init. */
RK_API rk_status rk_ctx_subscribe(rk_ctx *ctx, const char *pattern);

/* Drops the running actor's subscription to exactly `pattern`. */
RK_API rk_status rk_ctx_unsubscribe(rk_ctx *ctx, const char *pattern);

/* Publishes from the running actor: copies carry its id, generation and
 * tenant (subscribers of other tenants are refused with RK_ETENANT). The
 * actor's own subscription, if it matches, is served like any other.
 * Statuses and waiting as rk_publish. */
RK_API rk_status rk_ctx_publish(rk_ctx *ctx, const char *topic, uint32_t type, const void *payload, uint32_t len,
                                rk_publish_report *rep);

#ifdef __cplusplus
}
#endif

#endif
