/* ringkernel: flow control - queue credits and memory pressure.
 *
 * Every queue is bounded, so a sender always learns when it must slow down:
 *   - credits: the free slots of a receiver's queue (rk_credits);
 *   - a full queue refuses at once with RK_EFULL (rk_send, rk_ctx_send);
 *   - rk_send_wait waits, up to a timeout, for a slot to free. It parks on
 *     the backend's wake-up when there is one (the CPU backend wakes waiting
 *     senders when a worker frees slots) and otherwise backs off by sleeping,
 *     so a waiting sender never spins a core. Senders waiting for one
 *     actor get its freed slots first come, first served (rk_send_wait).
 *
 * The memory-pressure monitor counts the host memory the runtime holds for
 * work: by-reference payload buffers, queues, actor state; and, from the
 * backend, its device pool. Above a configurable high-water mark it refuses
 * new work - launches, and sends whose payload travels by reference - with
 * RK_EPRESSURE; inline sends use queue slots already held and go on. An
 * alarm (RK_EVENT_PRESSURE) is raised when work is refused and cleared
 * (RK_EVENT_PRESSURE_CLEAR) once use falls below the low-water mark. */
#ifndef RINGKERNEL_FLOW_H
#define RINGKERNEL_FLOW_H

#include <stdint.h>

#include "ringkernel/actor.h"
#include "ringkernel/export.h"
#include "ringkernel/msg.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_runtime rk_runtime;

/* ---- credits ---------------------------------------------------------------- */

/* Free slots of `dst`'s queue now (RK_ACTOR_HOST: the queue to the host):
 * that many sends may follow without RK_EFULL unless others send too. A
 * snapshot; never blocks. RK_ENOACTOR, RK_ESHUTDOWN, RK_ENOTSUP when the
 * backend cannot tell (the host queue on some backends). */
RK_API rk_status rk_credits(rk_runtime *rt, rk_actor_id dst, uint32_t *credits);

/* rk_credits from inside a handler. */
RK_API rk_status rk_ctx_credits(rk_ctx *ctx, rk_actor_id dst, uint32_t *credits);

/* rk_send, but when the queue is full waits up to timeout_ns for a free slot
 * and retries. Returns RK_ETIMEDOUT if none freed in time (nothing was sent),
 * else what rk_send returns (RK_ERATE and other refusals at once: only a full
 * queue is waited for). Blocks up to the timeout; RK_ESHUTDOWN if shutdown
 * begins while it waits; RK_EDEVICE once the actor's backend can run
 * nothing any more (the CUDA kernel is gone: its inbox will not drain).
 * Host threads only (not from handlers).
 *
 * First come, first served among waiting senders: the calls waiting for one
 * actor's inbox stand in line, and only the one at the head retries (the
 * others sleep until their turn), so freed slots go out in the order the
 * calls began to wait. A call that finds others already waiting goes to the
 * back of the line without trying first: a thread sending in a loop cannot
 * overtake them. A call that leaves early (timeout, shutdown, a refusal)
 * holds up nobody behind it. When the actor migrates (group.h) its waiters
 * follow it, to the back of the line at its new home.
 *
 * Sends that do not wait - rk_send, sends from handlers (and from the
 * device), this call with timeout_ns 0 - do not stand in line: they take a
 * slot they find free, ahead of the waiters, who then wait for the next.
 * They cannot wait their turn, and holding them back would put a look at
 * the line into every send; a call that finds room and nobody waiting pays
 * one relaxed load for the line. */
RK_API rk_status rk_send_wait(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len,
                              uint64_t timeout_ns);

/* rk_send_msg with the waiting of rk_send_wait. */
RK_API rk_status rk_send_msg_wait(rk_runtime *rt, const rk_msg *hdr, const void *payload, uint64_t timeout_ns);

/* ---- memory pressure -------------------------------------------------------------- */

typedef struct rk_memory_limits {
    uint64_t host_high_water;   /* bytes; above it new work is refused; 0 = no limit */
    uint64_t host_low_water;    /* the alarm clears below it; 0 = 7/8 of the high mark */
    uint64_t device_high_water; /* bytes of the backend's device pool; 0 = no limit */
} rk_memory_limits;

/* Sets the marks (all zero: no limit, the default). Work already admitted is
 * not undone. RK_EINVAL if the low mark is above the high one. */
RK_API rk_status rk_memory_set_limits(rk_runtime *rt, const rk_memory_limits *limits);

typedef struct rk_memory_usage {
    uint64_t payload_bytes;     /* by-reference payload buffers alive */
    uint64_t queue_bytes;       /* actor inboxes and the queue to the host */
    uint64_t state_bytes;       /* actor state (and the runtime's copy of the initial state) */
    uint64_t host_bytes;        /* the sum of the three */
    uint64_t host_high_water;   /* the marks in force */
    uint64_t host_low_water;
    uint64_t device_used;       /* backend's device memory in use; 0 without one. CUDA: the
                                   runtime's own structures (directory, queues between blocks,
                                   rings between group members) and the state of its actors */
    uint64_t device_total;      /* CUDA: those structures and every state chunk allocated */
    uint64_t device_high_water;
    uint64_t refused;           /* launches and sends refused with RK_EPRESSURE */
    int alarm;                  /* refused since use was last below the low mark */
} rk_memory_usage;

/* A snapshot of the monitor. Never blocks on the backend's work. */
RK_API rk_status rk_memory_usage_get(rk_runtime *rt, rk_memory_usage *out);

#ifdef __cplusplus
}
#endif

#endif
