/* ringkernel: supervisor trees, after Erlang/OTP.
 *
 * A supervisor owns children - actors it started, and other supervisors -
 * kept in start order. When a child fails (its handler or init returned an
 * error, or the device faulted it), the supervisor applies its strategy:
 *
 *   one-for-one   restart the failed child only;
 *   one-for-all   terminate the other children (last started first), then
 *                 restart every child in start order;
 *   rest-for-one  terminate the children started after the failed one (last
 *                 first), then restart it and them in start order.
 *
 * Each child has a restart type: permanent children are restarted after a
 * failure and after any termination their supervisor did not order
 * (rk_terminate); transient ones only after a failure; temporary ones never
 * (a temporary child that stops is removed from its supervisor). A group
 * restart (one-for-all, rest-for-one) also restarts transient children that
 * had ended normally, as OTP does.
 *
 * Restart intensity: a supervisor makes at most `max_restarts` restart
 * decisions within any `window_ns`. One more and it gives up: it terminates
 * its children (last started first), enters Failed and escalates. Its parent
 * treats the whole subtree as one failed child and applies its own strategy
 * and intensity to it; restarting a child supervisor restarts its subtree
 * with a fresh restart history and generation + 1. A root supervisor that
 * gives up reports an asynchronous error (rk_runtime_error: actor = the
 * supervisor's id, status RK_EFAILED) and leaves its subtree stopped: active
 * actors are terminated (a failed one stays Failed, the lifecycle has no
 * edge out of it but restart) and their names and subscriptions are
 * released. Restart events (RK_EVENT_RESTART) and escalations
 * (RK_EVENT_ESCALATE) go to the event stream.
 *
 * Restarted actors get fresh state and a new generation; messages addressed
 * to an older generation (rk_msg.dst_gen) are refused with RK_ESTALE when
 * sent, or dead-lettered with RK_ESTALE if already queued - never handed to
 * the new generation. Terminations the supervisor orders on the way to a
 * restart keep the children's names and subscriptions.
 *
 * Supervision runs on one thread per runtime, started with the first
 * supervisor: failures wake it (no polling by the program), and it issues
 * the lifecycle commands. On a CUDA runtime a supervisor with
 * max_restarts <= 32 (of 64 per runtime) also keeps its restart policy on
 * the GPU: under one-for-one a child's failure is answered by the child's
 * own block, which restarts it in the running kernel as the intensity
 * allows, without the host (rk_control.flags has RK_CONTROL_F_RESTARTING
 * meanwhile); under one-for-all and rest-for-one, with at most 32
 * permanent or transient children, the supervisor block restarts the
 * group in start order. The names and RK_EVENT_RESTART follow within the
 * host's next poll (about 1 ms).
 * Restarts the thread orders count against the same intensity, and a
 * failure one too many leaves the child Failed for the thread to give up
 * on, as above. Temporary children, child supervisors and children that
 * migrated are supervised by the thread alone. The CPU backend keeps the
 * same records, its workers restarting their actors, when the environment
 * has RK_CPU_RESTART_RECORDS=1 at runtime creation (off by default: there
 * the thread answers in microseconds anyway). Supervisor ids share the type of actor ids but not
 * their range (rk_is_supervisor); actor calls given a supervisor id answer
 * RK_ENOACTOR. The calls below may block while a lifecycle command runs
 * (each bounded by the runtime's command timeout) and must not be called
 * from inside a handler.
 *
 * In a group (group.h), a child actor may migrate to another member; its
 * supervisor stays here and supervises it there, as above: its state is
 * watched, and it is restarted and terminated, where it lives now. Such a
 * child is named by its gid (rk_supervisor_children). Supervisors do not
 * migrate. */
#ifndef RINGKERNEL_SUPERVISOR_H
#define RINGKERNEL_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/ringkernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Supervisor ids are RK_SUPERVISOR_ID_BASE + n; actor ids stay below. */
#define RK_SUPERVISOR_ID_BASE 0x80000000u
#define RK_SUPERVISOR_NAME_MAX 63 /* bytes of a supervisor's name, without the NUL */

/* Whether `id` names a supervisor (rather than an actor or the host). */
static inline int rk_is_supervisor(rk_actor_id id)
{
    return id >= RK_SUPERVISOR_ID_BASE && id < RK_ACTOR_NONE;
}

typedef enum rk_restart_strategy {
    RK_ONE_FOR_ONE = 0,
    RK_ONE_FOR_ALL = 1,
    RK_REST_FOR_ONE = 2,
} rk_restart_strategy;

typedef enum rk_child_restart {
    RK_CHILD_PERMANENT = 0,
    RK_CHILD_TRANSIENT = 1,
    RK_CHILD_TEMPORARY = 2,
} rk_child_restart;

typedef struct rk_supervisor_options {
    const char *name;             /* unique among the runtime's supervisors; required */
    rk_restart_strategy strategy; /* default RK_ONE_FOR_ONE */
    uint32_t max_restarts;        /* restarts allowed per window, 0..65536; default 3 */
    uint64_t window_ns;           /* the intensity window, > 0; default 5 s */
    rk_actor_id parent;           /* parent supervisor; RK_ACTOR_NONE (default) for a root */
    rk_child_restart restart;     /* restart type under the parent; default permanent */
} rk_supervisor_options;

/* Fills `o` with the defaults above. */
RK_API void rk_supervisor_options_init(rk_supervisor_options *o);

/* Creates a supervisor with no children, Active, generation 1; a child of
 * o->parent when that is not RK_ACTOR_NONE. Returns RK_EINVAL for bad
 * options or a parent that is not a supervisor, RK_ENOACTOR for an unknown
 * parent, RK_ESTATE if the parent is not Active, RK_EEXIST for a taken
 * name, RK_ENOMEM, RK_ESHUTDOWN. The first supervisor starts the runtime's
 * supervision thread. */
RK_API rk_status rk_supervisor_create(rk_runtime *rt, const rk_supervisor_options *o, rk_actor_id *id);

/* Launches an actor (as rk_launch, same statuses) as the newest child of
 * supervisor `sup`, with restart type `restart`. Also RK_ENOACTOR for an
 * unknown supervisor, RK_EINVAL for a bad restart type, RK_ESTATE if the
 * supervisor is not Active. Nothing is launched when it fails. */
RK_API rk_status rk_supervisor_start_child(rk_runtime *rt, rk_actor_id sup, const rk_actor_options *o,
                                           rk_child_restart restart, rk_actor_id *id);

/* Restarts a supervisor's whole subtree by hand: every child is terminated
 * (last started first, if it runs) and restarted in start order, and the
 * supervisor becomes Active with generation + 1 and a fresh restart
 * history - typically to revive a root that gave up. Returns RK_ENOACTOR,
 * RK_ESTATE for a supervisor stopped by rk_kill_tree, RK_ESHUTDOWN, or the
 * first lifecycle status that was not RK_OK (a child that failed again is
 * then handled by its supervisor as usual). */
RK_API rk_status rk_supervisor_restart(rk_runtime *rt, rk_actor_id sup);

/* Terminates `root` - an actor or a supervisor - and all its descendants,
 * children before parents (a supervisor's children last started first),
 * and detaches it from its own supervisor, which will not restart it.
 * Actors are terminated (draining what is queued, as rk_terminate; failed
 * ones stay Failed) and lose their names and subscriptions; supervisors end
 * Terminated for good. In a group, children that migrated are stopped
 * where they live, and `root` may also be a gid (or an old id that forwards
 * since the actor migrated): the actor is stopped where it lives and
 * detached from its supervisor in whichever member that is. `order` (may be
 * NULL) gets the ids stopped, as rk_supervisor_children names them, in the
 * order they were stopped, up to `cap`; `count` (may be NULL) gets how many
 * there were. Returns RK_OK, RK_EINVAL, RK_ENOACTOR, RK_ESHUTDOWN, or the
 * first failed termination's status (the rest of the tree is still
 * stopped). */
RK_API rk_status rk_kill_tree(rk_runtime *rt, rk_actor_id root, rk_actor_id *order, size_t cap, size_t *count);

/* The supervisor called `name`. RK_OK, RK_ENOACTOR, RK_EINVAL. */
RK_API rk_status rk_supervisor_lookup(rk_runtime *rt, const char *name, rk_actor_id *id);

/* A snapshot of a supervisor. */
typedef struct rk_supervisor_info {
    char name[RK_SUPERVISOR_NAME_MAX + 1];
    rk_actor_id id;
    rk_actor_id parent;           /* RK_ACTOR_NONE for a root (or once killed) */
    rk_lifecycle_state state;     /* Active, Failed (gave up) or Terminated (killed) */
    rk_restart_strategy strategy;
    rk_child_restart restart;     /* its type under the parent */
    uint32_t generation;          /* 1, + 1 each time its subtree is restarted */
    uint32_t max_restarts;
    uint64_t window_ns;
    uint64_t restarts;            /* restart decisions over its whole life */
    uint32_t recent_restarts;     /* those inside the current window */
    uint32_t children;            /* children now */
    uint64_t escalations;         /* times it gave up */
} rk_supervisor_info;

/* Fills *out. RK_OK, RK_EINVAL, RK_ENOACTOR. Never blocks on a lifecycle
 * command. */
RK_API rk_status rk_supervisor_info_get(rk_runtime *rt, rk_actor_id sup, rk_supervisor_info *out);

/* One child of a supervisor. */
typedef struct rk_supervisor_child {
    rk_actor_id id;            /* an actor, or a supervisor (rk_is_supervisor); in a group, an
                                  actor that migrated away is named by the gid of where it lives
                                  now (one that came back, by its new local id) */
    rk_child_restart restart;
    rk_lifecycle_state state;  /* the actor's state (where it lives), or the child supervisor's */
    uint32_t generation;
} rk_supervisor_child;

/* Copies the children of `sup`, in start order, into out[0..cap); *total
 * gets how many there are, RK_E2BIG if more than cap (out then holds the
 * first cap). out may be NULL when cap is 0. RK_EINVAL, RK_ENOACTOR. Never
 * blocks on a lifecycle command. */
RK_API rk_status rk_supervisor_children(rk_runtime *rt, rk_actor_id sup, rk_supervisor_child *out, size_t cap,
                                        size_t *total);

#ifdef __cplusplus
}
#endif

#endif
