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
#include "ringkernel/ringkernel.h"

#define RK__NAME_MAX 64
#define RK__ASYNC_ERRORS 256 /* bounded; older errors are counted as dropped */

typedef struct rk__actor {
    rk_actor_id id;
    int in_use;                /* published with release once the slot is set up */
    char name[RK__NAME_MAX];
    const rk_actor_type *type;
    void *initial_state;       /* core-owned copy, state_size bytes (may be NULL) */
    uint32_t state_size;
    uint32_t tenant;
    uint32_t inbox_capacity;
    uint32_t slot_size;
    uint32_t block_size;
    void *backend;             /* the backend's per-actor data */
} rk__actor;

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

    /* A snapshot of the control block, inbox_head/inbox_tail included. */
    rk_status (*actor_control)(rk_runtime *rt, rk__actor *a, rk_control *out);

    /* Host -> actor. `hdr` is complete (validated, stamped) except seq and
     * ref; the backend puts the payload inline or by reference. RK_EFULL
     * when the inbox is full (nothing sent), RK_ENOMEM if a by-reference
     * buffer cannot be had. Called concurrently from many host threads. */
    rk_status (*send)(rk_runtime *rt, rk__actor *a, rk_msg *hdr, const void *payload);

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
    rk_shutdown_report report;

    rk_hlc hlc;
    uint64_t next_corr;  /* atomic */

    /* The queue to the host: set up by the backend's start. */
    rk_ring host_ring;
    pthread_mutex_t host_lock;     /* one host consumer at a time */
    uint64_t host_head;            /* consumer position, under host_lock */
    rk__pending_call *calls;       /* rk_call's waiting for replies */
    rk__host_item *mail_head;      /* popped by a caller, waiting for rk_recv */
    rk__host_item *mail_tail;
    uint32_t mail_count;

    rk__deadletters dead;

    pthread_mutex_t err_lock;
    rk_async_error errors[RK__ASYNC_ERRORS];
    uint32_t err_head, err_count;
    uint64_t err_dropped;
};

extern const struct rk_backend_ops rk__cpu_ops;
#ifdef RK_HAVE_CUDA
extern const struct rk_backend_ops rk__cuda_ops;
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

/* Records an asynchronous error (bounded queue). Thread-safe. */
void rk__async_error(rk_runtime *rt, rk_actor_id actor, uint32_t generation, rk_status st);

#endif
