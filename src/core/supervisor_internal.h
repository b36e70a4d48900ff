/* ringkernel internals: what the runtime and the actor code tell the
 * supervision subsystem (src/core/supervisor.c), and the lifecycle entry
 * point supervision uses (src/core/actor.c). */
#ifndef RK_SUPERVISOR_INTERNAL_H
#define RK_SUPERVISOR_INTERNAL_H

#include "core/runtime_internal.h"
#include "ringkernel/supervisor.h"

typedef struct rk__supervision rk__supervision;

/* Allocates rt->supervision (no thread yet). RK_ENOMEM. */
rk_status rk__supervision_init(rk_runtime *rt);

/* Stops the supervision thread, if one runs, and waits for it to finish the
 * step it is in. Called first thing by shutdown, without rt->lock held;
 * supervisor calls after it answer RK_ESHUTDOWN. Idempotent. */
void rk__supervision_stop(rk_runtime *rt);

/* Frees every supervisor. The thread must be stopped. NULL-safe. */
void rk__supervision_destroy(rk_runtime *rt);

/* Something may need a supervisor's attention: an actor failed or was
 * terminated. Wakes the supervision thread; never blocks for long (one
 * short mutex), callable from any thread, worker threads included. */
void rk__supervision_notify(rk_runtime *rt);

/* How rk__lifecycle treats an actor beyond applying the event. */
enum {
    RK__LC_RETIRE = 1u << 0, /* a terminate is final: drop the actor's names and subscriptions */
    RK__LC_NOTIFY = 1u << 1, /* wake supervision afterwards (someone else stopped its child) */
};

/* Applies a lifecycle event to actor `id` as rk_activate & co. do (under
 * rt->lock, checked against the lifecycle table, waiting for the backend's
 * acknowledgement up to the command timeout). A restart re-registers the
 * actor's name with its new generation and emits RK_EVENT_RESTART, whatever
 * it returns once the generation moved. */
rk_status rk__lifecycle(rk_runtime *rt, rk_actor_id id, rk_lifecycle_event ev, unsigned flags);

/* Drops the actor's names and subscriptions (termination for good). */
void rk__actor_retire(rk_runtime *rt, rk__actor *a);

/* The actor's state, or RK_TERMINATED once the runtime is shut down (the
 * backend's state is gone then). Never blocks. */
rk_lifecycle_state rk__actor_state_now(rk_runtime *rt, rk__actor *a);

/* The actor's generation now (0 once the runtime is shut down). */
uint32_t rk__actor_generation(rk_runtime *rt, rk__actor *a);

/* For a caller that has just seen the actor Failed: whether that is not
 * final, because its backend restarts it as its restart record allowed
 * (runtime_internal.h: rk__restart_ops) - RK_CONTROL_F_RESTARTING, or no
 * longer Failed in the same generation. Never blocks. */
int rk__actor_restarting(rk_runtime *rt, rk__actor *a);

/* rk__actor_state_now once such a restart is over (or the deadline came). */
rk_lifecycle_state rk__actor_state_settled(rk_runtime *rt, rk__actor *a, uint64_t deadline);

/* The backend restarted actor `id` itself (a restart record's decision):
 * its name is bound to the new generation and RK_EVENT_RESTART and
 * RK_EVENT_STATE go out, as after rk_restart. Called from the backend's
 * event poll: takes no runtime lock. */
void rk__actor_restarted(rk_runtime *rt, rk_actor_id id, uint32_t generation);

/* Binds every actor's name to its generation now, where it is bound to an
 * older one (after the backend lost restart events). No runtime lock. */
void rk__actors_rebind(rk_runtime *rt);

/* Supervision of actors that migrate (group.h).
 *
 * Wakes rt's supervision, and that of a->sup_rt when `a` (may be NULL) is
 * watched from another member: an actor of rt failed or was terminated. */
void rk__supervision_notify_actor(rk_runtime *rt, rk__actor *a);
/* Takes the supervision lock of `rt` (the one its supervision thread holds
 * while it reacts; taken before any runtime's lock), so that no supervisor
 * of rt looks at or acts on its children until rk__supervision_unlock. A
 * try-lock loop: RK_ETIMEDOUT at the deadline. */
rk_status rk__supervision_lock(rk_runtime *rt, uint64_t deadline);
void rk__supervision_unlock(rk_runtime *rt);
/* Under rk__supervision_lock, before a child of supervisor `sup` of rt is
 * paused to move: a group strategy's restart record cannot restart a child
 * on another runtime, so it is dropped now (the supervision thread decides
 * from then on, also if the move is undone). Now, not after the move: the
 * backend's record commands take the lock the pause holds (CUDA: b->lock). */
void rk__supervision_moving(rk_runtime *rt, rk_actor_id sup);
/* Under rk__supervision_lock: the child of supervisor `sup` of rt that was
 * gid `from` has migrated and is gid `to` now. */
void rk__supervision_moved(rk_runtime *rt, rk_actor_id sup, rk_actor_id from, rk_actor_id to);

#endif
