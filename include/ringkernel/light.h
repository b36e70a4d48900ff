/* light.h - light actors: many small actors per persistent block.
 *
 * A block actor (rk_launch) has a whole thread block of the persistent
 * kernel to itself, so a GPU holds a few thousand of them. A light actor is
 * an inbox and a run token (docs/many-actors.md): up to 2^22 of them share
 * the runtime's "homes" - extra blocks of the same kernel on CUDA, host
 * threads on the CPU backend - and a home runs whichever of its actors have
 * messages, one at a time per actor, all threads of the block in the
 * handler. An idle home can run the queued actors of a busy one
 * (rk_light_options.steal).
 *
 * What they trade for it:
 * - messages carry a 32-bit type and 48 bytes, no more;
 * - a light actor has no name, no lifecycle commands (it runs from its
 *   spawn to the runtime's shutdown), no checkpoints and no supervisor; a
 *   handler's error is reported (rk_runtime_error) and the actor goes on;
 * - between light and block actors messages go both ways (rk_dsend or
 *   rk_ctx_send to a light id; rk_ldsend or rk_lctx_send to a block id,
 *   as from tenant 0), at most RK_LIGHT_PAYLOAD bytes either way;
 * - on CUDA, not in NVRTC programs (RK_GPU_LIGHT needs nvcc).
 *
 * With thread-block clusters (rk_runtime_options.cluster_size, CUDA on
 * sm_90 or later), the homes form clusters of their own: a handler's send
 * to an actor of another home of its cluster goes through that home's
 * shared memory (DSMEM), and stealing stays within the cluster. The
 * homes must then be whole clusters (RK_EINVAL otherwise; by default the
 * SMs or the actors, whichever is fewer, rounded down to a multiple), and
 * the kernel's PTX must be for compute_90 or later (RK_ENOTSUP). The CPU
 * backend's homes (threads) form the same clusters, their rings in host
 * memory, with the same rules and refusals (default: one cluster), so a
 * program behaves alike on both.
 *
 * Ask for them when creating the runtime (rk_runtime_options.light), give
 * them a type with rk_light_spawn, and talk to them with rk_light_post and
 * rk_light_recv. */
#ifndef RINGKERNEL_LIGHT_H
#define RINGKERNEL_LIGHT_H

#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/msg.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_runtime rk_runtime;

/* Light actor ids: RK_LIGHT_ID_BASE + index, the index below
 * rk_light_options.actors. They lie above every block actor's id (< 2^20)
 * and are never group ids. */
#define RK_LIGHT_ID_BASE 0x00800000u
#define RK_LIGHT_ACTORS_MAX (1u << 22)
#define RK_LIGHT_PAYLOAD 48u /* bytes of a light message's payload */

/* In rk_runtime_options.light; all zero (the default) means no light
 * actors. */
typedef struct rk_light_options {
    uint32_t actors; /* light actors the runtime can hold, at most RK_LIGHT_ACTORS_MAX */
    uint32_t homes;  /* CUDA: blocks that run them (default: one per SM), beside the block
                        actors' blocks, a multiple of the cluster size with clusters; CPU:
                        threads of their own (default 2). At most `actors`. Actor i lives on
                        home i % homes */
    uint32_t inbox;  /* slots of each inbox, a power of two >= 2; default 16 */
    uint32_t batch;  /* messages an actor runs before its home turns to the next; default 8 */
    uint32_t steal;  /* nonzero: a home with nothing of its own runs queued actors of the others */
} rk_light_options;

/* A message as a light handler and rk_light_recv see it. */
typedef struct rk_lmsg {
    rk_actor_id src; /* the sending light actor, or RK_ACTOR_HOST */
    uint32_t type;   /* the sender's type, < RK_MSG_TYPE_SYSTEM */
    uint64_t data[RK_LIGHT_PAYLOAD / 8]; /* the payload; bytes past what was sent are zero */
} rk_lmsg;

/* What a CPU light handler gets to send with (rk_lctx_send). */
typedef struct rk_lctx rk_lctx;

/* A light handler on the CPU backend. An error is reported as an
 * asynchronous error of the actor (generation 1); the actor goes on. */
typedef rk_status (*rk_light_fn)(rk_lctx *ctx, void *state, const rk_lmsg *m);

typedef struct rk_light_type {
    const char *name;    /* for logs */
    rk_light_fn handle;  /* CPU backend: required */
    uint32_t gpu_type;   /* CUDA backend: index of an RK_GPU_LIGHT type in the program's list */
    uint32_t state_size; /* bytes of each actor's state; on CUDA it must equal the GPU type's */
} rk_light_type;

RK_HD rk_actor_id rk_light_id(uint32_t index) { return RK_LIGHT_ID_BASE + index; }

RK_HD int rk_is_light(rk_actor_id id)
{
    return id >= RK_LIGHT_ID_BASE && id - RK_LIGHT_ID_BASE < RK_LIGHT_ACTORS_MAX;
}

/* Gives the next n light ids the type t, each actor a copy of
 * `initial_state` (t->state_size bytes; NULL: zeroed), and *first the first
 * of them. Ids are handed out in order and never twice. RK_ENOTSUP when the
 * runtime has no light actors; RK_ENOMEM when fewer than n ids are left, or
 * host memory for the states ran out (no id is handed out then); RK_EINVAL
 * for bad arguments or, on CUDA, a type that is not a light type of the
 * program or whose state size differs from the GPU type's. On CUDA each
 * actor's state takes the program's largest light state rounded up to 128
 * bytes, allocated for every actor at the runtime's creation. */
RK_API rk_status rk_light_spawn(rk_runtime *rt, const rk_light_type *t, uint32_t n, const void *initial_state,
                                rk_actor_id *first);

/* Sends `len` bytes (<= RK_LIGHT_PAYLOAD) to the spawned light actor dst.
 * Messages of one host thread to one actor arrive in the order sent. Does
 * not wait: RK_EFULL when the way in is full (try again); RK_ENOACTOR for
 * an id not spawned; RK_E2BIG for a longer payload; RK_EINVAL for a type
 * >= RK_MSG_TYPE_SYSTEM or a NULL payload with len > 0; RK_ESHUTDOWN once
 * the runtime shuts down; RK_EDEVICE once the CUDA kernel is known gone (as
 * rk_send). */
RK_API rk_status rk_light_post(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len);

/* Takes a message a light handler sent to the host (rk_lctx_send or
 * rk_ldsend to RK_ACTOR_HOST), waiting up to timeout_ns (0: just look).
 * The messages of one actor come in the order sent unless stealing moved
 * it between homes. RK_ETIMEDOUT when none came. Each home has a ring of
 * 32 messages to the host: while the host does not read, a handler's send
 * to the host gets RK_EFULL (it may retry: the host empties the ring on its
 * own). Messages still unread at the shutdown's stop are counted in the
 * report's host_unread. At the stop, messages still in light actors'
 * inboxes are dead letters (rk_dead_letter_pop) and counted in
 * dead_lettered; so are messages a home held outside the inboxes when a
 * drain that timed out halted it, but those are counted only (their
 * contents were in the home's own memory). */
RK_API rk_status rk_light_recv(rk_runtime *rt, rk_lmsg *out, uint64_t timeout_ns);

/* CPU light handlers: the actor being run, and a send to another light
 * actor, a block actor (as a handler's rk_ctx_send, from tenant 0) or
 * RK_ACTOR_HOST. A send never waits: RK_EFULL when the receiver's queue (or
 * the way to the host) is full, RK_ENOACTOR for a light id not spawned or
 * no such block actor, a block actor's refusals as for rk_ctx_send,
 * RK_E2BIG / RK_EINVAL as for rk_light_post. */
RK_API rk_actor_id rk_lctx_self(const rk_lctx *ctx);
RK_API rk_status rk_lctx_send(rk_lctx *ctx, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len);

#ifdef __cplusplus
}
#endif

#endif
