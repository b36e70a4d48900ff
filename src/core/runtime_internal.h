/* ringkernel internals: the runtime object and the backend method table.
 *
 * The core (src/core) owns the actor table, input validation, lifecycle
 * legality, the host side of the queue to the host, request/reply matching,
 * dead letters and asynchronous errors. A backend (src/cpu, src/cuda) owns
 * where actors run: their inboxes, state, control blocks and the execution
 * of lifecycle commands. The core never includes CUDA headers. */
#ifndef RK_RUNTIME_INTERNAL_H
#define RK_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/deadletter.h"
#include "core/events.h"
#include "core/flow.h"
#include "core/tenant.h"
#include "ringkernel/group.h"
#include "ringkernel/ringkernel.h"

#define RK__NAME_MAX 64
#define RK__ASYNC_ERRORS 256 /* bounded; older errors are counted as dropped */
#define RK__HOST_MARKS 16   /* owners of marked host-queue slots a look keeps apart (hostq.c) */

typedef struct rk__actor {
    rk_actor_id id;
    int in_use;                /* published with release once the slot is set up */
    char name[RK__NAME_MAX];
    const rk_actor_type *type;
    void *initial_state;       /* core-owned copy, state_size bytes (may be NULL) */
    int moved_in;              /* a migration's new home: its create keeps the state as it is
                                  and runs no init (the state comes by the transfer) */
    uint32_t state_size;
    uint32_t tenant;
    uint32_t inbox_capacity;
    uint32_t slot_size;
    uint32_t block_size;
    rk_actor_id near;          /* placement hint (rk_actor_options.near) */
    rk__tenant *tenant_rec;    /* its tenant's record (core/tenant.h), set at launch */
    void *backend;             /* the backend's per-actor data */
    struct rk__snap *snap;     /* checkpoint bookkeeping, lazily (core/snapshot.c; atomic) */
    rk_actor_id sup_parent;    /* its supervisor, RK_ACTOR_NONE if none (atomic; core/supervisor.c) */
    struct rk_runtime *sup_rt; /* the runtime that supervisor lives in (atomic, stored before
                                  sup_parent): this one, or in a group the member the actor was
                                  started in, when it has migrated since (core/group.c) */
    /* Groups (core/group.c), atomics: where messages for it go instead (a
     * gid once it migrated, RK__FWD_MOVING while it moves, 0 = here), and
     * the senders between reading `forward` and handing their message over. */
    rk_actor_id forward;
    uint32_t senders;
    /* rk_send_wait callers waiting for a slot of its inbox, first come,
     * first served (core/flow.c): their nodes, on their own stacks, in a
     * list under line_lock, a spin lock that only they take, for a few
     * pointer moves. line_head (atomic) is the one whose turn it is;
     * line_len (atomic) how many wait, which a sender reads once to see
     * whether it must queue behind them. */
    uint32_t line_lock;
    uint32_t line_len;
    struct rk__send_waiter *line_head, *line_tail;
} rk__actor;

#define RK__FWD_MOVING 0xFFFFFFFDu /* rk__actor.forward while the actor migrates */

/* An actor held still for a checkpoint or restore (core/snapshot.c). */
typedef struct rk__paused {
    rk__actor *a;
    size_t state_size;   /* bytes of state, as rk__snapshot_ops.state_size */
    uint32_t prior;      /* the rk_lifecycle_state it had when paused */
    uint32_t resume;     /* the backend's note of what resume must undo */
} rk__paused;

/* Receives one queued message: header and payload in host memory, valid
 * during the call only. */
typedef rk_status (*rk__msg_fn)(void *arg, const rk_msg *m, const void *payload);

/* Checkpoints through a backend. The core calls pause, then any of
 * read_state, read_msgs and restore, then resume, on one thread, holding
 * rt->lock throughout (no lifecycle command runs in between). */
struct rk__snapshot_ops {
    /* Bytes of state a checkpoint of `a` holds; fixed for its life. */
    size_t (*state_size)(rk_runtime *rt, rk__actor *a);

    /* Quiesces `a`: on RK_OK no handler of it runs, none starts until
     * resume, and its state is what the last handler left. Waits until the
     * deadline (RK_ETIMEDOUT: the actor runs on as before). Messages sent
     * meanwhile are the backend's to document; none may vanish silently. */
    rk_status (*pause)(rk_runtime *rt, rk__actor *a, uint64_t deadline_ns, rk__paused *p);

    /* Copies the state into dst[0..p->state_size), host memory. */
    rk_status (*read_state)(rk_runtime *rt, rk__paused *p, void *dst);

    /* Calls fn for each message queued for the actor, oldest first; stops
     * at, and returns, the first status other than RK_OK. */
    rk_status (*read_msgs)(rk_runtime *rt, rk__paused *p, rk__msg_fn fn, void *arg);

    /* All or nothing: makes state[0..p->state_size) the actor's state (a
     * NULL state leaves it as it is: a migration copied it device to device)
     * and queues hdrs[0..n) (validated, addressed to it) with their payloads
     * behind what is queued; with `replace`, what is queued is dead-lettered
     * (RK_ESTALE) first. RK_EFULL if they do not fit, RK_ENOMEM, RK_EDEVICE:
     * the state is then untouched and nothing was queued. */
    rk_status (*restore)(rk_runtime *rt, rk__paused *p, const void *state, const rk_msg *hdrs,
                         const void *const *payloads, size_t n, int replace);

    /* Lets the actor run again, in the lifecycle state it had. Always
     * ends the pause; a status other than RK_OK says the actor could not be
     * put back in that state (RK_ETIMEDOUT, RK_EDEVICE). */
    rk_status (*resume)(rk_runtime *rt, rk__paused *p);

    /* Optional (NULL: migration is RK_ENOTSUP): ends the pause without
     * letting the actor take messages again. What is still queued is
     * dropped uncounted (the caller moved it elsewhere); the caller then
     * terminates the actor, which handles nothing more. */
    rk_status (*retire)(rk_runtime *rt, rk__paused *p);
};

/* How a group's members reach each other (core/group.c); optional in a
 * backend (NULL: members share the host's memory, as on the CPU). */
struct rk__group_ops {
    /* Starts a member created with defer_launch, after every member is
     * connected (so each kernel is launched with every allocation it will
     * touch already made: what compute-sanitizer tracks). */
    rk_status (*launch)(rk_runtime *rt);
    /* Links between the members' devices (before connect). */
    rk_status (*link)(rk_runtime *a, rk_runtime *b, rk_link_info *out);
    /* Tells `rt` it is member `member` of a group of `n`. */
    rk_status (*join)(rk_runtime *rt, uint32_t member, uint32_t n);
    /* Sets up the ring from `src` to `dst` (both joined, not launched yet):
     * after it returns, src's actors reach dst's without the host. */
    rk_status (*connect)(rk_runtime *src, rk_runtime *dst, uint32_t capacity);
    /* Optional (NULL: the core takes host memory): this member's symmetric
     * region of `bytes` (group.h), zeroed, made before the launch and kept
     * until release; *addr is what rk_group_symmetric reports. */
    rk_status (*sym_alloc)(rk_runtime *rt, uint64_t bytes, uint64_t *addr);
    /* Optional: tells `rt` (not launched yet) where every member's region
     * is: base[0..n), each `bytes` long. */
    rk_status (*sym_set)(rk_runtime *rt, const uint64_t *base, uint32_t n, uint64_t bytes);
    /* Mirrors `forward` of actors ids[0..n) (each already set to `fwd` in
     * the core) where the backend's own senders look (the device). */
    rk_status (*set_forward)(rk_runtime *rt, const rk_actor_id *ids, uint32_t n, rk_actor_id fwd);
    /* Copies the state of paused `ps` (of src) into paused `pd` (of dst)
     * without the host; RK_ENOTSUP: the caller stages it through the host. */
    rk_status (*copy_state)(rk_runtime *src, rk__paused *ps, rk_runtime *dst, rk__paused *pd, rk_migrate_path *path);
    /* Optional: frees what `a` held once it migrated away and was
     * terminated (its device state); it never runs again. */
    void (*release_moved)(rk_runtime *rt, rk__actor *a);
    /* After every member stopped: dead-letters what is left in the rings
     * into `rt`, counting it in rep->dead_lettered. */
    void (*peer_dead_letter)(rk_runtime *rt, rk_shutdown_report *rep);
};

/* Restart policies applied where the actors run (supervisor.h): the
 * backend restarts a failed child itself, as its record allows, and marks
 * it RK_CONTROL_F_RESTARTING meanwhile; the core's supervision thread
 * leaves such a child alone and escalates when the record gives up. With a
 * group strategy (one-for-all, rest-for-one) the backend restarts the
 * failed child's siblings too, in start order, each in place. Optional in
 * a backend (NULL: the thread decides every restart). Calls may block on
 * the device until the runtime's command timeout. */
#define RK__RESTART_NONE UINT32_MAX /* attach: no record */

enum rk__restart_op {
    RK__RESTART_ON = 1,     /* on, with an empty history */
    RK__RESTART_OFF = 2,    /* no more restarts */
    RK__RESTART_CHARGE = 3, /* the core restarts a child itself: RK_OK if the record allows
                               it (counted), RK_EFAILED if not (the record gives up) */
};

struct rk__restart_ops {
    /* A record for `strategy` allowing max_restarts restarts per window_ns,
     * off until RK__RESTART_ON. RK_ENOTSUP when the backend cannot keep one
     * (all taken, more restarts than it remembers, a strategy it does not
     * apply): the core then decides. */
    rk_status (*open)(rk_runtime *rt, rk_restart_strategy strategy, uint32_t max_restarts, uint64_t window_ns,
                      uint32_t *rec);
    rk_status (*control)(rk_runtime *rt, uint32_t rec, enum rk__restart_op op);
    /* Failures of `a` (an actor of rt) go to record rec from now on;
     * RK__RESTART_NONE: to nobody. A group strategy's record also learns
     * that `a` is child `pos` of `n` in start order (a re-attach moves it). */
    rk_status (*attach)(rk_runtime *rt, rk__actor *a, uint32_t rec, uint32_t pos, uint32_t n);
    /* Restart decisions the record has made in all, and those within its
     * window ending now. */
    void (*stats)(rk_runtime *rt, uint32_t rec, uint64_t *restarts, uint32_t *recent);
};

/* Light actors (ringkernel/light.h). The core checks the arguments, hands
 * out the ids and keeps host threads out once shutdown begins; the backend
 * runs the actors. Its drain runs what the light actors have queued (until
 * the deadline), and its stop counts what is left: messages still in
 * inboxes in rep->dead_lettered (each also as a dead letter; those a halted
 * home held in its own memory are counted only), messages to the host
 * nobody read in rep->host_unread. */
struct rk__light_ops {
    /* Actors first .. first + n - 1 (indices) get type t and a copy of
     * `initial` each (t->state_size bytes; NULL: zeroed); nothing has been
     * sent to them yet. Under rt->lock. */
    rk_status (*spawn)(rk_runtime *rt, const rk_light_type *t, uint32_t first, uint32_t n, const void *initial);
    /* A host thread's message to actor `index`: 48 bytes in `words`.
     * RK_EFULL when it cannot be taken now. */
    rk_status (*post)(rk_runtime *rt, uint32_t index, uint32_t type, const uint64_t *words);
    /* The port whose rings to the host the homes write (light.cuh); the
     * core reads them, one caller at a time (rt->light_lock). */
    struct rk_light_port *(*port)(rk_runtime *rt);
};

/* A light message's checks and payload (core/light.c), for every sender:
 * RK_EINVAL for a system type or a NULL payload with len > 0, RK_E2BIG
 * above RK_LIGHT_PAYLOAD; else RK_OK and the payload in words, zero-padded. */
rk_status rk__light_pack(uint32_t type, const void *payload, uint32_t len, uint64_t words[RK_LIGHT_PAYLOAD / 8]);

struct rk_backend_ops {
    const char *name;

    /* Starts execution (worker threads, or the persistent kernel) and sets up
     * rt->host_ring, the queue actors use to reach the host: the core reads
     * only its slots and consumer line. */
    rk_status (*start)(rk_runtime *rt);

    /* Lets actors handle what is queued until every inbox is empty or the
     * deadline passes; counts into the report what was handled. Sends are
     * already refused when this runs. */
    rk_status (*drain)(rk_runtime *rt, uint64_t deadline_ns, rk_shutdown_report *rep);

    /* Stops execution; every message still in an inbox goes to the dead
     * letters (rk__dead_letter(&rt->dead, m, RK_ESHUTDOWN)) and is counted in
     * rep->dead_lettered. Memory stays valid (the core then empties the host
     * ring) until release. Never fails. */
    void (*stop)(rk_runtime *rt, rk_shutdown_report *rep);

    /* Optional (may be NULL): after drain, tells execution to stop and
     * returns without waiting; stop follows and waits. A group tells every
     * member before it waits for any. */
    void (*stop_begin)(rk_runtime *rt);

    /* Frees everything the backend allocated, rt->host_ring included. */
    void (*release)(rk_runtime *rt);

    /* Gives a new actor its inbox, state and control block, and takes it
     * Dormant -> Initializing -> Active (running the type's init). Waits for
     * the backend's acknowledgement until the deadline. */
    rk_status (*actor_create)(rk_runtime *rt, rk__actor *a, uint64_t deadline_ns);

    /* Applies a lifecycle event (the core has checked the table against the
     * state it saw; the backend checks again against the real state) and
     * waits for the acknowledgement until the deadline. RK_EV_TERMINATE from
     * Active drains the inbox before Terminated. */
    rk_status (*actor_command)(rk_runtime *rt, rk__actor *a, rk_lifecycle_event ev, uint64_t deadline_ns);

    /* The actor's lifecycle state now (cheap: no device round trip). */
    rk_lifecycle_state (*actor_state)(rk_runtime *rt, rk__actor *a);

    /* A snapshot of the control block, inbox_head/inbox_tail included,
     * each word loaded with acquire (in order: core/actor.c's
     * rk__actor_restarting relies on it). */
    rk_status (*actor_control)(rk_runtime *rt, rk__actor *a, rk_control *out);

    /* Host -> actor. `hdr` is complete (validated, stamped) except seq and
     * ref; the backend puts the payload inline or by reference. RK_EFULL
     * when the inbox is full (nothing sent), RK_ENOMEM if a by-reference
     * buffer cannot be had. Called concurrently from many host threads. */
    rk_status (*send)(rk_runtime *rt, rk__actor *a, rk_msg *hdr, const void *payload);

    /* Optional (may be NULL): n messages to `a`, headers complete as for
     * send, payloads of `len` bytes back to back. Sends the first ones in
     * order, as many as it can; *sent gets how many. RK_OK when all n were
     * sent, else why the next was not (RK_EFULL: the inbox is full). */
    rk_status (*send_batch)(rk_runtime *rt, rk__actor *a, rk_msg *hdrs, const void *payloads, uint32_t len,
                            uint32_t n, uint32_t *sent);

    /* Host waits, in three steps so that no wake-up is lost: the core takes
     * host_epoch() before it looks at the queue, finds nothing, then calls
     * host_wait() with that epoch, which returns at once if host_wake() ran
     * (or an actor produced for the host) since the epoch was taken, else
     * blocks until then or a backoff step or the deadline. */
    uint64_t (*host_epoch)(rk_runtime *rt);
    void (*host_wait)(rk_runtime *rt, uint64_t epoch, uint64_t deadline_ns);

    /* Wakes every host thread in host_wait (the core calls it after handing
     * a reply popped by one thread to another). */
    void (*host_wake)(rk_runtime *rt);

    /* Releases a by-reference payload of a message that reached the host,
     * once its bytes have been copied out. */
    void (*host_release)(rk_runtime *rt, const rk_msg *m);

    /* Optional (may be NULL): collects asynchronous errors the backend has
     * not reported yet (rk__async_error for each). */
    void (*poll_errors)(rk_runtime *rt);

    /* Optional (may be NULL: always RK_OK): RK_OK while the backend runs
     * actors; once it cannot any more (the CUDA kernel is gone) the status
     * that says so, RK_EDEVICE, for good. Everything the backend wrote
     * before is then in place for the host to read; nothing comes after.
     * With check 0 it only reports what the backend found last (one load:
     * host waits ask it on every look, and their host_wait runs the
     * backend's checks); with check 1 it may look first (the CUDA backend
     * queries its stream at most once a millisecond), for waits that call
     * nothing else of the backend's. A backend with it also returns from
     * host_wait soon (a backoff step) after it goes. */
    rk_status (*health)(rk_runtime *rt, int check);

    /* Optional (may be NULL: checkpoints are RK_ENOTSUP): actor checkpoints.
     * The core frees its bookkeeping (rk__snapshot_release) with the runtime. */
    const struct rk__snapshot_ops *snapshot;

    /* Optional (may be NULL): messages queued now in `a`'s inbox, or in the
     * queue to the host when `a` is NULL (a snapshot, for credits). RK_ENOTSUP
     * if the backend cannot tell. NULL: the core uses actor_control for an
     * actor and answers RK_ENOTSUP for the host queue. */
    rk_status (*queue_depth)(rk_runtime *rt, rk__actor *a, uint64_t *depth);

    /* Optional (may be NULL): a host thread whose send found `a`'s inbox
     * full waits until a slot may have freed or the deadline passes; returns
     * at once if a slot is free now. May return early. NULL: the core backs
     * off by sleeping. */
    void (*credit_wait)(rk_runtime *rt, rk__actor *a, uint64_t deadline_ns);

    /* Optional (may be NULL): the backend's device memory pool, bytes in use
     * and in all, for the memory-pressure monitor. */
    rk_status (*device_memory)(rk_runtime *rt, uint64_t *used, uint64_t *total);

    /* Optional (may be NULL): groups of runtimes (group.h). */
    const struct rk__group_ops *group;

    /* Optional (may be NULL): restart records (above). */
    const struct rk__restart_ops *restarts;
    /* Optional: `tenant` got (on) or lost a rate quota (tenant.h). The
     * backend charges the sends its actors make without the host (the
     * CUDA backend: on the GPU) to the tenant's bucket from now on, or
     * stops. RK_ENOMEM when it cannot keep one more; the quota then stays
     * as it was. Called with rt->tenants.rate_lock held, no other lock. */
    rk_status (*tenant_rate)(rk_runtime *rt, uint32_t tenant, int on);

    /* Optional (NULL: the runtime refuses light options with RK_ENOTSUP). */
    const struct rk__light_ops *light;
};

typedef struct rk__pending_call rk__pending_call;
typedef struct rk__host_item rk__host_item;

struct rk_runtime {
    rk_runtime_options opt;
    const struct rk_backend_ops *ops;
    rk_backend backend;
    void *backend_data;

    rk__actor *actors;   /* opt.max_actors slots; ids are indices */
    uint32_t n_actors;   /* slots handed out (atomic; published with release) */
    pthread_mutex_t lock;/* serialises launch and lifecycle commands */

    int accepting;       /* 0 once shutdown starts (atomic) */
    uint32_t inflight;   /* host threads inside send/recv/call (atomic) */
    int shut_down;       /* shutdown finished (atomic) */
    int drained;         /* the drain ran (under lock): sends refused since */
    rk_status drain_status; /* what it returned, RK_ETIMEDOUT as RK_OK (report.timed_out says) */
    int stopped;         /* the backend was stopped (under lock); release is still to come */
    rk_shutdown_report report;

    rk_hlc hlc;
    uint64_t next_corr;  /* atomic */

    /* The queue to the host: set up by the backend's start. */
    rk_ring host_ring;
    /* Its slots are flag-per-word (ring.h, LL) when host_stage is set: the
     * host reads each message into host_stage (host_ll_bytes, the largest
     * message) before looking at it. Set by the backend (rk__hostq_ll). */
    unsigned char *host_stage;
    uint32_t host_ll_bytes;
    pthread_mutex_t host_lock;     /* one host consumer at a time */
    uint64_t host_head;            /* consumer position, under host_lock */
    /* Out of order (ring.h, owner marks), under host_lock: the position of
     * the message rk__peek returned, and which slots past host_head were
     * taken already ([capacity], allocated at the first look; without it
     * the host reads in order only). host_watch (atomic) is where the last
     * look stopped, with RK_RING_MARK_BIT when at a marked slot: a waiting
     * backend watches it besides the head's (rk__hostq_moved). */
    uint64_t host_peek;
    unsigned char *host_taken;
    uint32_t host_taken_cap;
    uint64_t host_watch;
    uint64_t host_watch_head;                  /* atomic: the head then */
    uint32_t host_watch_n;                     /* atomic: the marked slots listed then */
    uint64_t host_watch_mark[RK__HOST_MARKS];  /* atomic each */
    /* Where the next look goes on (hostq.c, rk__peek): every slot from the
     * head up to it is taken, one of the marked slots listed, or a message
     * of their owners. */
    uint64_t host_scan;
    uint32_t host_n_marks;
    uint64_t host_mark_pos[RK__HOST_MARKS];
    uint32_t host_mark_owner[RK__HOST_MARKS];
    rk__pending_call *calls;       /* rk_call's waiting for replies */
    rk__host_item *mail_head;      /* popped by a caller, waiting for rk_recv */
    rk__host_item *mail_tail;
    uint32_t mail_count;

    rk__deadletters dead;
    rk_registry *registry;             /* actor names and topic subscriptions */
    struct rk__supervision *supervision; /* supervisor trees (core/supervisor.c) */
    rk__events events;   /* subscriptions to the event stream (core/events.h) */
    rk__tenants tenants; /* tenant records, quotas, isolation counters (core/tenant.h) */
    rk__mem mem;         /* memory-pressure accounting (core/flow.h) */

    int defer_launch;       /* a group's member: the backend's start leaves the launch to
                               rk__group_ops.launch */
    struct rk_group *group; /* set once by rk_group_create before any actor exists */
    uint32_t member;        /* its index in the group */

    /* Light actors (core/light.c): ids handed out so far (atomic; stored
     * with release once they are set up), and one host receiver at a time. */
    uint32_t light_spawned;
    pthread_mutex_t light_lock;

    pthread_mutex_t err_lock;
    rk_async_error errors[RK__ASYNC_ERRORS];
    uint32_t err_head, err_count;
    uint64_t err_dropped;
};

extern const struct rk_backend_ops rk__cpu_ops;
#ifdef RK_HAVE_CUDA
extern const struct rk_backend_ops rk__cuda_ops;
extern const struct rk__snapshot_ops rk__cuda_snapshot_ops; /* cuda_actor.c */
/* Whether a CUDA device can be used (for RK_BACKEND_AUTO). */
int rk__cuda_available(int device);
#endif

/* The actor with this id, or NULL if there is none (safe from any thread). */
rk__actor *rk__actor_get(rk_runtime *rt, rk_actor_id id);

/* Actor slots handed out so far (acquire: their contents are visible). */
uint32_t rk__actor_count(rk_runtime *rt);

/* Validates and stamps a message from `src` (an actor, or RK_ACTOR_HOST)
 * for delivery to `dst`: header checks, destination exists, tenant, the
 * destination accepts, generation. On success *dst_out is the receiver
 * (NULL when dst is the host). Used by every send path, host and K2K. */
rk_status rk__route(rk_runtime *rt, rk_msg *m, rk__actor **dst_out);
/* rk__route without the timestamp: the caller stamps (rk__hlc_now_n for a
 * batch, one reservation for all its messages). */
rk_status rk__route_check(rk_runtime *rt, rk_msg *m, rk__actor **dst_out);

/* n consecutive timestamps from one move of the clock (hlc.c): *first,
 * *first + 1, ... *first + n - 1, each later than every stamp issued
 * before. RK_EDRIFT when the clock has not that many left. */
rk_status rk__hlc_now_n(rk_hlc *hlc, uint32_t n, uint64_t *first);

/* Hands a routed message to a local actor (dst) or the host (dst NULL);
 * reports its own refusals (rk__send_refused). */
typedef rk_status (*rk__deliver_fn)(rk_runtime *rt, rk__actor *dst, rk_msg *m, const void *payload);

/* Every send path: rk__route, then `deliver` - or, in a group, to the
 * member a gid names, or where a migrated actor forwards (core/group.c). */
rk_status rk__dispatch(rk_runtime *rt, rk_msg *m, const void *payload, rk__deliver_fn deliver);

/* The host's deliver function: rt->ops->send. */
rk_status rk__deliver_host(rk_runtime *rt, rk__actor *dst, rk_msg *m, const void *payload);

/* The runtime and local id a host call to `id` goes to: a gid's member,
 * following forwards of migrated actors. Returns `rt` and `id` unchanged
 * outside groups. */
rk_runtime *rk__group_target(rk_runtime *rt, rk_actor_id id, rk_actor_id *local);

/* The actor a host send to `id` reaches now, and its runtime in *t
 * (rk__group_target); NULL if there is none. */
rk__actor *rk__group_actor(rk_runtime *rt, rk_actor_id id, rk_runtime **t);

/* Takes rt->lock for a thread inside rk__enter: RK_ESHUTDOWN once shutdown
 * has begun (it holds the lock while it waits for such threads), or
 * RK_ETIMEDOUT at the deadline. A try-lock loop, so it may be taken while
 * another runtime's lock is held (group.c) without ordering the two. */
rk_status rk__lock_runtime(rk_runtime *rt, uint64_t deadline);

/* rk_launch; with RK__LAUNCH_NO_INIT (a migration's new home: group.c
 * sets it) the actor keeps no initial state, and its create neither writes
 * fresh state nor runs the type's init: the state is moved in before it
 * handles anything. A later restart there starts fresh, as anywhere. */
#define RK__LAUNCH_NO_INIT 1u
rk_status rk__launch(rk_runtime *rt, const rk_actor_options *o, rk_actor_id *id, unsigned flags);

/* rk_runtime_create; with defer_launch, a backend with a group launch op
 * (rk__group_ops) prepares everything but does not start executing. */
rk_status rk__runtime_create(rk_runtime **out, const rk_runtime_options *o, int defer_launch);

/* Shutdown in two steps, for groups: stop (intake, drain, backend stop)
 * and finish (host queue, release). rk_runtime_shutdown does both. */
/* Stopping in steps, for a group: drain every member, tell every member to
 * stop, then stop each (which waits). rk__runtime_stop alone does all. */
void rk__runtime_drain(rk_runtime *rt);
void rk__runtime_stop_begin(rk_runtime *rt);
rk_status rk__runtime_stop(rk_runtime *rt);
void rk__runtime_finish(rk_runtime *rt);

/* Host threads enter before they touch the backend in send/recv/call and
 * leave after; shutdown waits for none to be inside before it stops the
 * backend. Seq-cst on both sides: either shutdown sees our increment and
 * waits, or we see `accepting` cleared and back out. */
static inline rk_status rk__enter(rk_runtime *rt)
{
    __atomic_fetch_add(&rt->inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&rt->accepting, __ATOMIC_SEQ_CST))
        return RK_OK;
    __atomic_fetch_sub(&rt->inflight, 1, __ATOMIC_SEQ_CST);
    return RK_ESHUTDOWN;
}

static inline void rk__leave(rk_runtime *rt)
{
    __atomic_fetch_sub(&rt->inflight, 1, __ATOMIC_RELEASE);
}

static inline int rk__is_shut_down(rk_runtime *rt)
{
    return __atomic_load_n(&rt->shut_down, __ATOMIC_ACQUIRE);
}

/* Collects what a backend that reports only when asked (CUDA: the device's
 * event queue) has reported: errors, dead letters, refusals. Before every
 * query of them, so that the caller sees what already happened. */
static inline void rk__collect(rk_runtime *rt)
{
    if (rt->ops->poll_errors && !rk__is_shut_down(rt))
        rt->ops->poll_errors(rt);
}

/* CPU handlers (src/cpu): the context's runtime, and a send from the
 * running actor with a caller-built header (src, src_gen and tenant are set
 * from the actor; the path and statuses of rk_ctx_send). */
rk_runtime *rk__ctx_runtime(const rk_ctx *ctx);
rk_status rk__ctx_emit(rk_ctx *ctx, rk_msg *m, const void *payload);

/* Frees an actor's checkpoint bookkeeping (core/snapshot.c); runtime.c
 * calls it when it frees the runtime, once no checkpoint can run. */
void rk__snapshot_release(rk__actor *a);

/* Records an asynchronous error (bounded queue). Thread-safe. */
void rk__async_error(rk_runtime *rt, rk_actor_id actor, uint32_t generation, rk_status st);
/* n asynchronous errors a backend could not report (rk_runtime_errors_lost). */
void rk__async_errors_lost(rk_runtime *rt, uint64_t n);

#endif
