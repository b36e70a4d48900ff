/* ringkernel internals: emitting runtime events (see ringkernel/events.h).
 *
 * Any part of the runtime - core, backends, supervisors - reports what
 * happened with rk__event_emit(). It never blocks on a subscriber and never
 * fails: an event no subscriber has room for is counted as dropped. With no
 * subscriber it costs one relaxed load. */
#ifndef RK_EVENTS_H
#define RK_EVENTS_H

#include <pthread.h>
#include <stdint.h>

#include "ringkernel/events.h"
#include "ringkernel/msg.h"

typedef struct rk__events {
    pthread_rwlock_t lock; /* emitters read the subscriber list, (un)subscribe write it */
    rk_event_sub *subs;    /* under lock */
    uint32_t n_subs;       /* atomic: emission's fast exit */
    uint64_t seq;          /* atomic: last seq handed out */
} rk__events;

rk_status rk__events_init(rk__events *ev);

/* Frees subscriptions the program left open. */
void rk__events_destroy(rk__events *ev);

/* Reports an event to every subscriber that wants `kind`. Thread-safe,
 * callable from any runtime thread (worker, host, supervisor), never blocks
 * on a subscriber. Use RK_ACTOR_NONE / 0 for fields that do not apply. */
void rk__event_emit(rk_runtime *rt, rk_event_kind kind, rk_actor_id actor, uint32_t generation, uint32_t tenant,
                    int64_t value);

#endif
