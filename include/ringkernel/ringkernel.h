/* ringkernel: persistent actors on the GPU and on host threads.
 *
 * The umbrella header. A runtime runs actors on one backend: CPU worker
 * threads, or the blocks of one persistent CUDA kernel. The host sends them
 * messages, receives what they send to RK_ACTOR_HOST, and drives their
 * lifecycle. Every call that waits takes a timeout. */
#ifndef RINGKERNEL_H
#define RINGKERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/actor.h"
#include "ringkernel/checkpoint.h"
#include "ringkernel/control.h"
#include "ringkernel/device_caps.h"
#include "ringkernel/events.h"
#include "ringkernel/export.h"
#include "ringkernel/flow.h"
#include "ringkernel/hlc.h"
#include "ringkernel/lifecycle.h"
#include "ringkernel/light.h"
#include "ringkernel/msg.h"
#include "ringkernel/registry.h"
#include "ringkernel/ring.h"
#include "ringkernel/snapshot.h"
#include "ringkernel/status.h"
#include "ringkernel/tenant.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RK_VERSION_MAJOR 0
#define RK_VERSION_MINOR 1
#define RK_VERSION_PATCH 0

#define RK_FOREVER UINT64_MAX /* a timeout that never expires */

typedef struct rk_runtime rk_runtime;

typedef enum rk_backend {
    RK_BACKEND_AUTO = 0, /* CUDA when built and a device is present, else CPU */
    RK_BACKEND_CPU = 1,
    RK_BACKEND_CUDA = 2,
} rk_backend;

typedef struct rk_runtime_options {
    rk_backend backend;
    uint32_t max_actors;          /* actor slots; default 64 */
    uint32_t workers;             /* CPU: worker threads; 0 = one per core, at most 8. An actor's
                                     home worker is its id % workers; a worker with nothing to do
                                     runs actors with waiting messages of a worker busy with
                                     another actor (work stealing; RK_CPU_STEAL=0 turns it off) */
    uint32_t host_queue_capacity; /* slots of the queue to the host; default 4096 */
    uint32_t host_slot_size;      /* bytes per slot of that queue; default 256 */
    uint32_t max_payload;         /* largest payload, by reference; default 1 MiB */
    uint32_t dead_letter_capacity;/* default 1024 */
    uint64_t drain_timeout_ns;    /* shutdown's drain limit; default 1 s */
    int device;                   /* CUDA device ordinal; default 0 */
    const void *gpu_program;      /* CUDA: the program from RK_GPU_PROGRAM (device.cuh) */
    uint32_t cluster_size;        /* CUDA: blocks per thread-block cluster (9.0+; device_caps.h);
                                     0 or 1 = no clusters (default). The CPU backend ignores it,
                                     except that light actors' homes form clusters there too
                                     (light.h) */
    int cluster_nonportable;      /* CUDA: allow a cluster_size above the portable 8; default 0 */
    rk_light_options light;       /* light actors (light.h); all zero: none */
} rk_runtime_options;

/* Fills `o` with the defaults above. */
RK_API void rk_runtime_options_init(rk_runtime_options *o);

/* Creates a runtime and starts its backend (threads, or the persistent
 * kernel). `o` may be NULL for defaults. Returns RK_EINVAL for bad options,
 * RK_ENOBACKEND if the backend was not built, RK_ENODEV if CUDA finds no
 * device, RK_ENOMEM. RK_ENOTSUP on CUDA for a device that cannot run the
 * kernel, or a cluster_size it cannot launch: refused before the launch
 * (rk_device_check_cluster in device_caps.h says why; RK_CUDA_DEBUG=1
 * logs it). */
RK_API rk_status rk_runtime_create(rk_runtime **out, const rk_runtime_options *o);

/* What happened to messages still in flight at shutdown. */
typedef struct rk_shutdown_report {
    uint64_t drained;       /* queued messages handled during the drain */
    uint64_t dead_lettered; /* undelivered: left in queues when the drain timed out */
    uint64_t host_unread;   /* messages to the host that nobody received */
    uint32_t actors_failed; /* actors in Failed at the end */
    int timed_out;          /* the drain hit drain_timeout_ns */
} rk_shutdown_report;

/* Stops intake, lets every actor handle its queued messages (up to the drain
 * timeout), stops the backend and reports what was in flight. `report` may
 * be NULL. The runtime must still be destroyed. Blocks up to the timeout.
 * Only the host's sends are refused (RK_ESHUTDOWN) once it has begun:
 * what handlers send during the drain goes through, on both backends - to
 * actors, block or light, which handle it before the drain ends, and to
 * the host, counted in host_unread. Actors that never stop sending to each
 * other keep the drain going until its timeout (timed_out). */
RK_API rk_status rk_runtime_shutdown(rk_runtime *rt, rk_shutdown_report *report);

/* Shuts down if needed and frees everything. NULL is a no-op. */
RK_API void rk_runtime_destroy(rk_runtime *rt);

RK_API rk_backend rk_runtime_backend(const rk_runtime *rt);
RK_API const char *rk_backend_name(rk_backend b);

/* An error that happened asynchronously (a handler failed, the device
 * faulted). Pops the oldest into *out; RK_EEMPTY when there is none. The
 * queue keeps the latest 256; rk_runtime_errors_lost counts the others,
 * and those a device could not report because its event queue to the host
 * was full. */
typedef struct rk_async_error {
    rk_actor_id actor;
    uint32_t generation;
    rk_status status;
    uint64_t hlc;
} rk_async_error;
RK_API rk_status rk_runtime_error(rk_runtime *rt, rk_async_error *out);
RK_API uint64_t rk_runtime_errors_lost(rk_runtime *rt);

/* ---- actors ----------------------------------------------------------------- */

typedef struct rk_actor_options {
    const char *name;            /* required: a registry name (registry.h), < 64 bytes, unique
                                    among actors not terminated */
    const rk_actor_type *type;   /* required */
    const void *initial_state;   /* copied; NULL = zeroed */
    uint32_t state_size;         /* bytes of state */
    uint32_t inbox_capacity;     /* slots, power of two; default 1024 */
    uint32_t slot_size;          /* bytes per slot, header included; default 256 */
    uint32_t block_size;         /* CUDA: threads of the actor's block; default 128 */
    uint32_t tenant;             /* default 0 */
    rk_actor_id near;            /* placement: CUDA with thread-block clusters serves the actor from
                                    a block of the cluster of actor `near` (a local id) when one is
                                    free, so that K2K between the two can go through distributed
                                    shared memory (RK_CUDA_CLUSTER_K2K_CAPACITY); any block otherwise (also beside a terminated
                                    actor). RK_ACTOR_NONE (set by rk_actor_options_init; options
                                    made otherwise must set it): anywhere. An id not yet given to
                                    any actor: RK_ENOACTOR. The CPU backend checks it and places
                                    nothing. */
} rk_actor_options;

RK_API void rk_actor_options_init(rk_actor_options *o);

/* Creates an actor and makes it Active (Dormant -> Initializing -> Active).
 * On the CUDA backend this claims a slot of the running kernel: no launch.
 * Returns RK_EEXIST for a taken name, RK_ENOMEM when no slot is free,
 * RK_EINVAL for bad options, RK_ETIMEDOUT if the backend does not confirm,
 * RK_EQUOTA over the tenant's quota (tenant.h), RK_EPRESSURE above the
 * memory high-water mark (flow.h). */
RK_API rk_status rk_launch(rk_runtime *rt, const rk_actor_options *o, rk_actor_id *id);

/* Lifecycle commands; each returns once the backend has applied it, or
 * RK_ETIMEDOUT. RK_ETRANSITION for a move the lifecycle does not allow,
 * RK_ENOACTOR for an unknown id. Terminate lets the actor handle what is
 * queued first; restart gives fresh state and a new generation. A command
 * that timed out may still be applied; a terminate that timed out stays in
 * force (activate and deactivate answer RK_ESTATE until it completes). */
RK_API rk_status rk_activate(rk_runtime *rt, rk_actor_id id);
RK_API rk_status rk_deactivate(rk_runtime *rt, rk_actor_id id);
RK_API rk_status rk_terminate(rk_runtime *rt, rk_actor_id id);
RK_API rk_status rk_restart(rk_runtime *rt, rk_actor_id id);

/* The actor bound to `name` (its launch name, a registry name: see
 * registry.h). Termination releases the name; a restart keeps it, bound to
 * the new generation. RK_OK, RK_ENOACTOR if nothing is bound, RK_EINVAL
 * (NULL, or a string that is not a valid name). Does not block on
 * lifecycle commands. */
RK_API rk_status rk_lookup(rk_runtime *rt, const char *name, rk_actor_id *id);

/* The actors whose names match `pattern` ('*' within a segment, '**'
 * across segments: registry.h), sorted by name, into out[0..cap): name, id
 * and the generation the name is bound to (the newest, after a restart).
 * *total gets how many match; RK_E2BIG if more than cap (out holds the
 * first cap). out may be NULL when cap is 0. RK_EINVAL for a bad pattern or
 * NULL rt/total. Does not block on lifecycle commands. */
RK_API rk_status rk_lookup_all(rk_runtime *rt, const char *pattern, rk_registry_entry *out, size_t cap,
                               size_t *total);
RK_API rk_status rk_actor_state(rk_runtime *rt, rk_actor_id id, rk_lifecycle_state *state);

/* A snapshot of the actor's control block (counters, generation, errors). */
RK_API rk_status rk_actor_control(rk_runtime *rt, rk_actor_id id, rk_control *out);

typedef struct rk_actor_metrics {
    uint64_t msgs_in;
    uint64_t msgs_out;
    uint64_t errors;
    uint64_t dead_letters;
    uint64_t queue_depth;
    uint64_t restarts;
    uint32_t generation;
    rk_lifecycle_state state;
} rk_actor_metrics;
RK_API rk_status rk_actor_metrics_get(rk_runtime *rt, rk_actor_id id, rk_actor_metrics *out);

/* ---- messages from the host ------------------------------------------------- */

/* Sends `len` bytes to actor `dst`. Inline when the payload fits the slot,
 * otherwise copied into a runtime buffer and sent by reference. Returns
 * RK_ENOACTOR, RK_ESTATE (not accepting), RK_E2BIG (over max_payload),
 * RK_EFULL (queue full; nothing was sent: see rk_send_wait and rk_credits
 * in flow.h), RK_ERATE (over the tenant's rate quota), RK_EPRESSURE (a
 * by-reference payload above the memory high-water mark), RK_ESHUTDOWN,
 * RK_EDEVICE (the backend can run nothing any more: on CUDA, once the
 * runtime has seen the kernel gone - a fault ends it - or, on a full queue,
 * after checking). The host sends as the receiver's tenant; rk_send_msg sends as the
 * header's, and RK_ETENANT refuses one that is not the receiver's. Never
 * blocks. */
RK_API rk_status rk_send(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len);

/* Sends with a caller-built header (tenant, flags, corr, dst_gen are taken
 * from it; src, hlc, seq and ref are set by the runtime). */
RK_API rk_status rk_send_msg(rk_runtime *rt, const rk_msg *hdr, const void *payload);

/* Sends n messages of one type to one actor, in order: message i's payload
 * is the `len` bytes at payloads + i * len. Each message is checked,
 * charged to the tenant's quota and time-stamped as rk_send does it. Stops
 * at the first message refused: *sent (may be NULL) gets how many were
 * sent, and the return is that refusal - RK_EFULL when the queue filled
 * (send the rest later), or any status rk_send returns - or RK_OK when all
 * n were sent. On the CUDA backend the messages that fit share one claim of
 * inbox slots and one publication, so a batch costs the host less per
 * message than rk_send. n == 0 sends nothing and returns RK_OK. */
RK_API rk_status rk_send_batch(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payloads, uint32_t len,
                               uint32_t n, uint32_t *sent);

/* A message received by the host: its header and payload copied out. */
typedef struct rk_msgbuf {
    rk_msg hdr;
    void *data;        /* caller's buffer for the payload */
    uint32_t capacity; /* its size */
} rk_msgbuf;

/* Receives the next message an actor sent to RK_ACTOR_HOST (not replies to
 * pending rk_call's), waiting up to timeout_ns (0 = poll). Returns
 * RK_ETIMEDOUT, or RK_E2BIG if the payload does not fit (the message stays
 * queued; hdr.len says how much room it needs), or RK_EDEVICE at once when
 * nothing is queued and the backend can run nothing any more (the CUDA
 * kernel is gone; rk_runtime_error() says so too). Thread-safe. Each actor's
 * messages come in the order it sent them; those of different actors may
 * not (on CUDA a busy actor's unpublished ones do not hold up the others'). */
RK_API rk_status rk_recv(rk_runtime *rt, rk_msgbuf *out, uint64_t timeout_ns);

/* Request/reply: sends a request with a fresh correlation id and waits for
 * the reply carrying it. The reply is copied into *reply. A reply arriving
 * after the timeout is dead-lettered, not confused with a later call.
 * RK_EDEVICE at once, not at the timeout, when the backend can run nothing
 * any more (as rk_recv). */
RK_API rk_status rk_call(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len,
                         rk_msgbuf *reply, uint64_t timeout_ns);

/* ---- dead letters ------------------------------------------------------------ */

typedef struct rk_dead_letter {
    rk_msg hdr;        /* the message's header */
    rk_status reason;  /* why it was not delivered */
} rk_dead_letter;

/* Pops the oldest dead letter; RK_EEMPTY when none. `dropped` (may be NULL)
 * gets how many dead letters were discarded because the queue was full, or
 * never reached it because a device's event queue to the host was full
 * (those count in rk_dead_letter_count too). Both calls first collect what
 * a GPU has dead-lettered and reported (CUDA: a driver query as well). */
RK_API rk_status rk_dead_letter_pop(rk_runtime *rt, rk_dead_letter *out, uint64_t *dropped);
RK_API uint64_t rk_dead_letter_count(rk_runtime *rt);

#ifdef __cplusplus
}
#endif

/* Built on the declarations above; each also includes this header. */
#include "ringkernel/pubsub.h"
#include "ringkernel/supervisor.h"

#endif
