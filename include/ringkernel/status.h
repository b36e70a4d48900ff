/* ringkernel: one status table for the whole library.
 *
 * Every function that can fail returns an rk_status. RK_OK is zero; every
 * failure has its own code so that a caller can tell a full queue from an
 * unknown actor from a tenant mismatch without parsing strings.
 *
 * This header compiles as C11 and as CUDA C (device handlers return it too). */
#ifndef RINGKERNEL_STATUS_H
#define RINGKERNEL_STATUS_H

#include "ringkernel/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, message): the order fixes the numeric values; append only. */
#define RK_STATUS_MAP(X)                                                        \
    X(OK, "success")                                                            \
    X(EINVAL, "invalid argument")                                               \
    X(ENOMEM, "out of memory")                                                  \
    X(EFULL, "queue is full")                                                   \
    X(EEMPTY, "queue is empty")                                                 \
    X(ETIMEDOUT, "timed out")                                                   \
    X(E2BIG, "payload larger than the queue slot or the configured limit")      \
    X(ENOACTOR, "no such actor")                                                \
    X(ETENANT, "sender and receiver belong to different tenants")               \
    X(ESTATE, "operation not allowed in the actor's current state")             \
    X(ETRANSITION, "illegal lifecycle transition")                              \
    X(ESTALE, "message addressed to an earlier generation of the actor")        \
    X(EBADMSG, "malformed message header")                                      \
    X(EEXIST, "name already in use")                                            \
    X(ESHUTDOWN, "runtime is shutting down")                                    \
    X(ENOBACKEND, "backend not built into this library")                        \
    X(ENODEV, "no usable device")                                               \
    X(EDEVICE, "device runtime error")                                          \
    X(ENOTSUP, "not supported by this backend or device")                       \
    X(EHANDLER, "actor handler reported an error")                              \
    X(EFAILED, "actor has failed")                                              \
    X(EDRIFT, "remote clock is beyond the allowed drift")                       \
    X(ENOTFOUND, "nothing matched")                                             \
    X(EINTERNAL, "internal invariant violated")                                \
    X(EQUOTA, "tenant quota exceeded")                                          \
    X(ERATE, "tenant message rate exceeded")                                    \
    X(EPRESSURE, "memory use above the high-water mark")

typedef enum rk_status {
#define RK__STATUS_ENUM(name, msg) RK_##name,
    RK_STATUS_MAP(RK__STATUS_ENUM)
#undef RK__STATUS_ENUM
    RK_STATUS_COUNT_
} rk_status;

/* "RK_EFULL" for RK_EFULL; "RK_UNKNOWN" for a value outside the table. */
RK_API const char *rk_status_name(rk_status s);

/* A short human-readable sentence; never NULL. */
RK_API const char *rk_strerror(rk_status s);

#ifdef __cplusplus
}
#endif

#endif
