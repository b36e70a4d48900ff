/* ringkernel: actor types and the handler's context (host/CPU side).
 *
 * A CPU actor is a handler function plus a state block that the runtime
 * allocates, initialises from the actor's initial state, and resets on
 * restart. The handler runs on one worker thread at a time for a given
 * actor, so it needs no locking for its own state. */
#ifndef RINGKERNEL_ACTOR_H
#define RINGKERNEL_ACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/msg.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_ctx rk_ctx;

/* Handles one message. Any status but RK_OK marks the actor Failed (its
 * last_error records the status) and reports an asynchronous error. */
typedef rk_status (*rk_handler_fn)(rk_ctx *ctx, void *state, const rk_msg *msg);

/* Optional: runs after the state is copied from the initial state, on launch
 * and on every restart, before the first message. */
typedef rk_status (*rk_init_fn)(rk_ctx *ctx, void *state);

typedef struct rk_actor_type {
    const char *name;     /* for logs and introspection */
    rk_handler_fn handle; /* CPU backend: required */
    rk_init_fn init;      /* may be NULL */
    uint32_t gpu_type;    /* CUDA backend: index in the GPU program's type list */
} rk_actor_type;

/* ---- inside a handler ------------------------------------------------------ */

RK_API rk_actor_id rk_self(const rk_ctx *ctx);
RK_API uint32_t rk_generation(const rk_ctx *ctx);
RK_API uint32_t rk_tenant(const rk_ctx *ctx);

/* Sends to another actor of the runtime (K2K) or to RK_ACTOR_HOST. The
 * payload is copied before return. Returns RK_EFULL if the receiver's queue
 * is full (the caller decides whether to retry), RK_ENOACTOR, RK_ETENANT,
 * RK_ESTATE (receiver not accepting), RK_E2BIG. Never blocks. */
RK_API rk_status rk_ctx_send(rk_ctx *ctx, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len);

/* Replies to the request being handled: the reply carries its corr and goes
 * to its sender. RK_EINVAL if the current message is not a request. */
RK_API rk_status rk_reply(rk_ctx *ctx, uint32_t type, const void *payload, uint32_t len);

#ifdef __cplusplus
}
#endif

#endif
