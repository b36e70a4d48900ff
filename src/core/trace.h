/* ringkernel internals: NVTX ranges around host-side runtime operations, so
 * that Nsight Systems shows them on the timeline (domain "ringkernel").
 *
 * A range is pushed and popped on the same thread, and every push has its
 * pop on every path: a public function with early returns is a wrapper that
 * pushes, calls its body and pops. The hot path (rk_send and friends) has no
 * range: one would cost more than the send.
 *
 * Built without NVTX (not found, or RK_NVTX=OFF) the calls compile to
 * nothing. Built with it but run without a tool attached, a push is a call
 * through NVTX's no-op pointer. */
#ifndef RK_TRACE_H
#define RK_TRACE_H

/* The ranges and the names a profiler shows: the public operation's. */
#define RK__TRACE_RANGES(X)                                                     \
    X(RUNTIME_CREATE, "rk_runtime_create")                                      \
    X(RUNTIME_SHUTDOWN, "rk_runtime_shutdown")                                  \
    X(RUNTIME_DESTROY, "rk_runtime_destroy")                                    \
    X(LAUNCH, "rk_launch")                                                      \
    X(ACTIVATE, "rk_activate")                                                  \
    X(DEACTIVATE, "rk_deactivate")                                              \
    X(TERMINATE, "rk_terminate")                                                \
    X(RESTART, "rk_restart")                                                    \
    X(CALL, "rk_call")                                                          \
    X(CHECKPOINT, "rk_actor_checkpoint")                                        \
    X(CHECKPOINT_FILE, "rk_actor_checkpoint_file")                              \
    X(RESTORE, "rk_actor_restore")                                              \
    X(RESTORE_FILE, "rk_actor_restore_file")                                    \
    X(GROUP_CREATE, "rk_group_create")                                          \
    X(GROUP_DESTROY, "rk_group_destroy")                                        \
    X(GROUP_MIGRATE, "rk_group_migrate")

typedef enum rk__trace_range {
#define RK__TRACE_ENUM(id, name) RK__TRACE_##id,
    RK__TRACE_RANGES(RK__TRACE_ENUM)
#undef RK__TRACE_ENUM
    RK__TRACE_COUNT
} rk__trace_range;

#ifdef RK_HAVE_NVTX
/* Opens range `r` on the calling thread (the domain is made on first use). */
void rk__trace_push(rk__trace_range r);
/* Closes the calling thread's innermost range. */
void rk__trace_pop(void);
#else
static inline void rk__trace_push(rk__trace_range r)
{
    (void)r;
}
static inline void rk__trace_pop(void)
{
}
#endif

#endif
