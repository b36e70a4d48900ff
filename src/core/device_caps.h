/* ringkernel internals: device capabilities (see ringkernel/device_caps.h).
 *
 * What follows from a compute capability alone (cluster limits, a simulated
 * device, RK_CUDA_FORCE_CC) is backend-neutral and lives in
 * core/device_caps.c; reading a real device is the CUDA backend's
 * (cuda/cuda_caps.c), which the core reaches through the functions below
 * without including CUDA headers. */
#ifndef RK_DEVICE_CAPS_INTERNAL_H
#define RK_DEVICE_CAPS_INTERNAL_H

#include "ringkernel/device_caps.h"

/* The environment variable that forces the reported compute capability. */
#define RK__FORCE_CC_ENV "RK_CUDA_FORCE_CC"

/* Parses "M.m" (major 1..99, minor one digit). 1 with *major and *minor
 * set; 0 for NULL or "" (not forced); -1 for anything else. */
int rk__device_parse_cc(const char *s, int *major, int *minor);

/* Sets cluster_launch and the cluster size limits from the compute
 * capability: clusters from 9.0 when `launch_ok` (the driver can launch
 * them), 8 blocks portable, 16 non-portable on 9.x; newer architectures get
 * the portable 8 only until a larger size is confirmed for them. */
void rk__device_cluster_limits(rk_device_info *info, int launch_ok);

/* Forces the compute capability of a queried device and re-derives what
 * depends on it; marks it forced. */
void rk__device_force_cc(rk_device_info *info, int major, int minor, int launch_ok);

/* Fills *out as simulated device 0 of compute capability major.minor:
 * cooperative launch, the capability-derived fields, zeros elsewhere. */
void rk__device_simulated(int major, int minor, rk_device_info *out);

#ifdef RK_HAVE_CUDA
/* cuda/cuda_caps.c: rk_device_query and rk_device_count for CUDA, with
 * RK_CUDA_FORCE_CC applied. */
rk_status rk__cuda_device_query(int device, rk_device_info *out);
rk_status rk__cuda_device_count(int *count);
#endif

#endif
