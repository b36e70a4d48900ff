/* ringkernel: what a CUDA device can do, asked before anything is launched.
 *
 * rk_device_query reads a device's compute capability, SM count, memory,
 * shared memory limits, cooperative-launch and thread-block-cluster support
 * through the driver (loaded at run time: without a driver it answers
 * RK_ENODEV, never crashes). The predicates and checks below are pure
 * functions of an rk_device_info, so a program can decide - and a test can
 * show - what a device of a given architecture would accept without having
 * one.
 *
 * Thread-block clusters (compute capability 9.0+): the blocks of a cluster
 * run at once on one GPC and reach each other's shared memory (distributed
 * shared memory, DSMEM). A cluster of up to 8 blocks is portable; 9.0
 * devices run up to 16 when the kernel opts in to non-portable sizes. A
 * runtime asks for clusters with rk_runtime_options.cluster_size; the CUDA
 * backend refuses, before the launch, a request the device cannot run
 * (RK_ENOTSUP; rk_device_check_cluster tells why).
 *
 * Testing aid: RK_CUDA_FORCE_CC=M.m (e.g. 8.0, 9.0, 10.0) makes
 * rk_device_query report that compute capability and what follows from it
 * (cluster support and sizes); where there is no device at all, device 0 is
 * then a simulated one (rk_device_info.simulated). It is read at each query,
 * and runtime creation uses it for its cluster check only: forcing a
 * capability the hardware lacks cannot make it run. */
#ifndef RINGKERNEL_DEVICE_CAPS_H
#define RINGKERNEL_DEVICE_CAPS_H

#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RK_DEVICE_NAME_MAX 128

/* The portable cluster size (every device with clusters runs it) and the
 * largest non-portable one on compute capability 9.0. */
#define RK_CLUSTER_PORTABLE_MAX 8u
#define RK_CLUSTER_SM90_MAX 16u

typedef struct rk_device_info {
    int ordinal;                      /* the CUDA device ordinal asked for */
    char name[RK_DEVICE_NAME_MAX];    /* "NVIDIA H200", or "simulated sm_90" */
    int cc_major, cc_minor;           /* compute capability */
    uint32_t sm_count;                /* streaming multiprocessors */
    uint32_t max_threads_per_block;
    uint64_t total_memory;            /* bytes of device memory */
    uint32_t shared_per_block;        /* bytes of shared memory a block gets without opting in */
    uint32_t shared_per_block_optin;  /* the most a block can opt in to (its share of a cluster's DSMEM) */
    uint32_t shared_per_sm;           /* bytes of shared memory per SM */
    int cooperative_launch;           /* grid-wide co-residency launches (the persistent kernel needs it) */
    int cluster_launch;               /* thread-block cluster launches (9.0+, with a CUDA 12 driver) */
    uint32_t cluster_max_portable;    /* RK_CLUSTER_PORTABLE_MAX with clusters, else 0 */
    uint32_t cluster_max_nonportable; /* the largest size with the non-portable opt-in, else 0 */
    int host_native_atomics;          /* the host's atomics and the device's system-scope atomics on one
                                       * word of mapped host memory are atomic to each other (the
                                       * link supports it); 0 when simulated */
    int driver_version;               /* cuDriverGetVersion, e.g. 12080 for 12.8; 0 when simulated */
    int forced;                       /* RK_CUDA_FORCE_CC set the compute capability */
    int simulated;                    /* no device: fields other than the capability-derived ones are 0 */
} rk_device_info;

/* Fills *out with device `device`'s capabilities. Returns RK_OK,
 * RK_ENODEV (no driver, or no such device), RK_ENOBACKEND (the CUDA backend
 * was not built into this library), RK_EINVAL (NULL out, a negative
 * ordinal, or RK_CUDA_FORCE_CC set to something other than M.m), RK_EDEVICE
 * (the driver failed to answer). Creates no context; may block while the
 * driver initialises (first call in a process: up to seconds). Thread-safe. */
RK_API rk_status rk_device_query(int device, rk_device_info *out);

/* The number of CUDA devices into *count (1 when only a simulated device
 * exists). RK_ENODEV when there is none (or no driver), RK_ENOBACKEND,
 * RK_EINVAL for NULL or a malformed RK_CUDA_FORCE_CC. Blocks like
 * rk_device_query. */
RK_API rk_status rk_device_count(int *count);

/* ---- clusters ----------------------------------------------------------------- */

/* Why a cluster request is refused. X(NAME, message); append only. */
#define RK_CLUSTER_REFUSAL_MAP(X)                                                                   \
    X(OK, "the device can run this cluster request")                                                \
    X(NEEDS_SM90, "thread-block clusters need compute capability 9.0 or newer")                     \
    X(NO_LAUNCH, "the device or driver does not support cluster launches (CUDA 12+ driver)")        \
    X(NOT_PORTABLE, "cluster size above the portable maximum of 8 without the non-portable opt-in") \
    X(TOO_LARGE, "cluster size above the device's maximum")                                         \
    X(GRID, "the grid is not a multiple of the cluster size")                                       \
    X(RESIDENCY, "the kernel cannot keep one cluster of this size resident")

typedef enum rk_cluster_refusal {
#define RK__CLUSTER_ENUM(name, msg) RK_CLUSTER_##name,
    RK_CLUSTER_REFUSAL_MAP(RK__CLUSTER_ENUM)
#undef RK__CLUSTER_ENUM
    RK_CLUSTER_REFUSAL_COUNT_
} rk_cluster_refusal;

/* "RK_CLUSTER_TOO_LARGE" for RK_CLUSTER_TOO_LARGE; "RK_CLUSTER_UNKNOWN"
 * outside the table. Never NULL. */
RK_API const char *rk_cluster_refusal_name(rk_cluster_refusal r);

/* A sentence saying why; never NULL. */
RK_API const char *rk_cluster_refusal_str(rk_cluster_refusal r);

/* Whether `dev` can launch clusters of `cluster_size` blocks (1-D) over a
 * grid of `grid_blocks` (0: the grid is not known yet, so not checked), with
 * sizes above RK_CLUSTER_PORTABLE_MAX allowed only if `allow_nonportable`.
 * A cluster_size of 0 or 1 is no cluster: always RK_OK. Returns RK_OK,
 * RK_ENOTSUP (the request cannot run; *why says which rule refused it) or
 * RK_EINVAL (NULL dev). `why` may be NULL; it gets RK_CLUSTER_OK on RK_OK.
 * This is the check rk_runtime_create makes before launching; it does not
 * know the kernel, so a launch can still be refused later for residency
 * (RK_CLUSTER_RESIDENCY). Pure; never blocks. */
RK_API rk_status rk_device_check_cluster(const rk_device_info *dev, uint32_t cluster_size, uint32_t grid_blocks,
                                         int allow_nonportable, rk_cluster_refusal *why);

/* 1 when `dev` launches thread-block clusters at all, else 0 (also for NULL). */
RK_API int rk_device_supports_clusters(const rk_device_info *dev);

/* 1 when `dev` can launch clusters of `cluster_size` blocks, non-portable
 * sizes included (rk_device_check_cluster with no grid and the opt-in);
 * 0 otherwise, for NULL, and for sizes 0 and 1 (no cluster). */
RK_API int rk_device_supports_cluster_size(const rk_device_info *dev, uint32_t cluster_size);

/* 1 when `dev` supports cooperative launches, else 0 (also for NULL). */
RK_API int rk_device_supports_cooperative(const rk_device_info *dev);

/* Bytes of distributed shared memory a cluster of `cluster_size` blocks can
 * hold: cluster_size x shared_per_block_optin; 0 when `dev` cannot run that
 * cluster size or is NULL. */
RK_API uint64_t rk_device_dsmem_bytes(const rk_device_info *dev, uint32_t cluster_size);

/* ---- scalar types ------------------------------------------------------------- */

/* Scalar types whose native support depends on the architecture. A type is
 * supported when the device has instructions for it (arithmetic or
 * hardware conversion; the tensor-core formats TF32, FP8, FP6 and FP4 in
 * MMA). Append only. */
typedef enum rk_scalar_type {
    RK_SCALAR_FP32 = 0,
    RK_SCALAR_FP64 = 1,
    RK_SCALAR_FP16 = 2,     /* native half arithmetic: 5.3 */
    RK_SCALAR_BF16 = 3,     /* 8.0 */
    RK_SCALAR_TF32 = 4,     /* tensor cores: 8.0 */
    RK_SCALAR_FP8_E4M3 = 5, /* 8.9 (Ada) and 9.0+ */
    RK_SCALAR_FP8_E5M2 = 6, /* 8.9 (Ada) and 9.0+ */
    RK_SCALAR_FP6_E3M2 = 7, /* 10.0+ (Blackwell) */
    RK_SCALAR_FP6_E2M3 = 8, /* 10.0+ */
    RK_SCALAR_FP4_E2M1 = 9, /* 10.0+ */
    RK_SCALAR_COUNT_
} rk_scalar_type;

/* "fp8_e4m3" for RK_SCALAR_FP8_E4M3; "unknown" outside the table. */
RK_API const char *rk_scalar_name(rk_scalar_type t);

/* The lowest compute capability with native support, as 10 x major + minor
 * (89 for 8.9, 100 for 10.0); -1 for a value outside the table. */
RK_API int rk_scalar_min_cc(rk_scalar_type t);

/* 1 when `dev`'s compute capability reaches rk_scalar_min_cc(t), else 0
 * (also for NULL and unknown types). */
RK_API int rk_scalar_supported(const rk_device_info *dev, rk_scalar_type t);

#ifdef __cplusplus
}
#endif

#endif
