/* ringkernel: the per-actor control block.
 *
 * 256 bytes per actor, the same layout on host and device. The backend that
 * runs the actor writes it (the CPU worker, or the GPU block and supervisor);
 * the host reads snapshots of it for introspection (rk_actor_control). The
 * first line holds what the supervisor writes, the second what the actor
 * writes as it runs, so the two do not share a 128-byte line. */
#ifndef RINGKERNEL_CONTROL_H
#define RINGKERNEL_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_control {
    /* line 0: identity and lifecycle, written by the supervisor */
    uint32_t state;      /* rk_lifecycle_state */
    uint32_t generation; /* starts at 1; + 1 per restart */
    uint32_t id;         /* actor id */
    uint32_t tenant;
    uint32_t type;       /* index of the actor type */
    uint32_t parent;     /* supervising actor, or RK_ACTOR_NONE */
    int32_t last_error;  /* rk_status of the last failure */
    uint32_t flags;      /* RK_CONTROL_F_* */
    uint64_t restarts;
    uint64_t last_error_hlc; /* when last_error was set */
    uint64_t command_seq;    /* last lifecycle command applied */
    uint32_t block;          /* CUDA: the block serving it (0: none; with clusters of n blocks its
                                cluster is block / n), filled in by rk_actor_control; CPU: 0 */
    uint32_t pad_;
    unsigned char pad0_[128 - 64];
    /* line 1: counters, written by the actor as it runs */
    uint64_t msgs_in;      /* handled by the actor's handler */
    uint64_t msgs_out;     /* sent by the actor (replies and K2K) */
    uint64_t errors;       /* handler errors and refused sends */
    uint64_t dead_letters; /* messages to or from it that were dead-lettered */
    uint64_t heartbeat;    /* ns (CPU) or globaltimer ns (GPU) of the last loop */
    uint64_t inbox_head;   /* consumer position of the inbox */
    uint64_t inbox_tail;   /* producer position of the inbox, at last look */
    uint64_t busy_ns;      /* time spent in the handler */
    uint64_t k2k_cluster_in;  /* CUDA: messages it handled from its cluster-tier ring (not those a
                                 checkpoint's hold moved to its K2K queue) */
    uint64_t k2k_cluster_out; /* CUDA: K2K sends that went into cluster-tier rings (DSMEM), also those
                                 refused there for naming an old generation (RK_ESTALE) */
    unsigned char pad1_[128 - 80];
} rk_control;

/* rk_control.flags: the backend is restarting the actor after a failure,
 * as its supervisor's policy allows (the CUDA backend's blocks do that
 * themselves, supervisor.h); set before the Failed state is written. */
#define RK_CONTROL_F_RESTARTING 1u

RK_STATIC_ASSERT(sizeof(rk_control) == 256, "control block is 256 bytes");
RK_STATIC_ASSERT(offsetof(rk_control, state) == 0, "control layout");
RK_STATIC_ASSERT(offsetof(rk_control, generation) == 4, "control layout");
RK_STATIC_ASSERT(offsetof(rk_control, last_error) == 24, "control layout");
RK_STATIC_ASSERT(offsetof(rk_control, restarts) == 32, "control layout");
RK_STATIC_ASSERT(offsetof(rk_control, command_seq) == 48, "control layout");
RK_STATIC_ASSERT(offsetof(rk_control, msgs_in) == 128, "counters start the second line");
RK_STATIC_ASSERT(offsetof(rk_control, heartbeat) == 160, "control layout");
RK_STATIC_ASSERT(offsetof(rk_control, busy_ns) == 184, "control layout");

#ifdef __cplusplus
}
#endif

#endif
