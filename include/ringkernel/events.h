/* ringkernel: the runtime's event stream (introspection).
 *
 * A program subscribes to what happens inside a runtime: actors changing
 * lifecycle state, restarts and escalations, asynchronous errors, refusals
 * by tenant quotas and isolation, memory-pressure alarms, and (on request)
 * periodic samples of queue depths and message rates.
 *
 * Each subscriber has its own bounded queue. The runtime never waits for a
 * subscriber: an event that finds the queue full is dropped for that
 * subscriber and counted (rk_event_dropped), so a slow reader loses events,
 * never slows the actors. With no subscriber, emitting costs one load.
 *
 * Events emitted by one thread arrive in the order it emitted them; `seq`
 * numbers every event of the runtime, so a reader can order events from
 * different threads. */
#ifndef RINGKERNEL_EVENTS_H
#define RINGKERNEL_EVENTS_H

#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/msg.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_runtime rk_runtime;

/* What an event reports; the meaning of `value` depends on it. Append only. */
typedef enum rk_event_kind {
    RK_EVENT_STATE = 0,          /* actor entered lifecycle state `value` (rk_lifecycle_state) */
    RK_EVENT_RESTART = 1,        /* actor restarted; value = its new generation */
    RK_EVENT_ESCALATE = 2,       /* a supervisor ran out of restarts for `actor`; value = the
                                    supervisor's id (RK_ACTOR_NONE for the top level) */
    RK_EVENT_ERROR = 3,          /* asynchronous error of `actor`; value = rk_status */
    RK_EVENT_QUEUE_DEPTH = 4,    /* sample: value = messages queued for `actor` */
    RK_EVENT_RATE = 5,           /* sample: value = messages/s `actor` handled since the last sample */
    RK_EVENT_QUOTA = 6,          /* a tenant quota refused work; value = RK_EQUOTA or RK_ERATE;
                                    actor = the receiver (RK_ACTOR_NONE for a launch) */
    RK_EVENT_TENANT = 7,         /* a send across tenants was refused; tenant = the sender's,
                                    actor = the receiver, value = the receiver's tenant */
    RK_EVENT_PRESSURE = 8,       /* host memory passed the high-water mark; value = bytes in use */
    RK_EVENT_PRESSURE_CLEAR = 9, /* host memory fell below the low-water mark; value = bytes in use */
    RK_EVENT_KIND_COUNT_
} rk_event_kind;

#define RK_EVENT_MASK(kind) (1u << (unsigned)(kind))
#define RK_EVENT_ALL ((1u << RK_EVENT_KIND_COUNT_) - 1u)

typedef struct rk_event {
    uint64_t seq;        /* runtime-wide emission number, from 1 */
    uint64_t time_ns;    /* CLOCK_MONOTONIC at emission */
    uint32_t kind;       /* rk_event_kind */
    rk_actor_id actor;   /* RK_ACTOR_NONE when the event is not about one actor */
    uint32_t generation; /* the actor's generation, 0 when unknown */
    uint32_t tenant;     /* the tenant concerned */
    int64_t value;       /* see rk_event_kind */
} rk_event;

typedef struct rk_event_sub rk_event_sub;

typedef struct rk_event_sub_options {
    uint32_t capacity;         /* events the queue holds, a power of two >= 2; default 1024 */
    uint32_t kinds;            /* RK_EVENT_MASK bits to receive; default RK_EVENT_ALL */
    uint64_t sample_period_ns; /* queue-depth and rate samples this often; 0 (default) = none */
} rk_event_sub_options;

/* Fills `o` with the defaults above. */
RK_API void rk_event_sub_options_init(rk_event_sub_options *o);

/* Subscribes to the runtime's events from now on. `o` may be NULL for the
 * defaults. The subscription belongs to the caller: end it with
 * rk_event_unsubscribe (rk_runtime_destroy ends any left). Returns RK_EINVAL
 * for bad options, RK_ENOMEM. Does not block. */
RK_API rk_status rk_event_subscribe(rk_runtime *rt, const rk_event_sub_options *o, rk_event_sub **out);

/* Takes the oldest queued event into *out, waiting up to timeout_ns for one
 * (0 = poll). Samples are taken here, by the polling thread, when their
 * period has passed. Returns RK_ETIMEDOUT when none came. One thread polls a
 * subscription at a time; different subscriptions are independent. */
RK_API rk_status rk_event_poll(rk_event_sub *sub, rk_event *out, uint64_t timeout_ns);

/* Events this subscriber lost because its queue was full. */
RK_API uint64_t rk_event_dropped(const rk_event_sub *sub);

/* Ends a subscription and frees it; queued events are discarded. NULL is a
 * no-op. Must not race with rk_event_poll on the same subscription. */
RK_API void rk_event_unsubscribe(rk_event_sub *sub);

/* "state" for RK_EVENT_STATE; "unknown" outside the enum. */
RK_API const char *rk_event_kind_name(rk_event_kind kind);

#ifdef __cplusplus
}
#endif

#endif
