/* Device capabilities: the scalar-type table, the cluster rules and the
 * parts of a device description that follow from its compute capability.
 * Nothing here touches a driver; rk_device_query hands over to the CUDA
 * backend when it is built. */
#include <stdio.h>
#include <string.h>

#include "core/device_caps.h"

/* ---- scalar types ----------------------------------------------------------- */

/* The lowest compute capability (10 x major + minor) with native support,
 * from NVIDIA's documentation and headers:
 *   FP64 since 1.3; half arithmetic since 5.3 (cuda_fp16.hpp guards its
 *   arithmetic with __CUDA_ARCH__ >= 530); BF16 arithmetic and TF32 MMA
 *   since 8.0 (cuda_bf16.hpp: >= 800; mma .tf32 targets sm_80);
 *   FP8 conversions and MMA since 8.9 - Ada has them, not only Hopper
 *   (cuda_fp8.hpp uses the cvt .e4m3x2/.e5m2x2 instructions for
 *   __CUDA_ARCH__ >= 890; Transformer Engine's support matrix lists FP8 for
 *   8.9); FP6 and FP4 conversions and MMA since 10.0 (cuda_fp8.h relies on
 *   the PTX cvt for them only on the 10.x, 11.x and 12.x families, built for
 *   an arch- or family-specific target such as sm_100a/sm_100f). */
static const struct rk__scalar_row {
    const char *name;
    int min_cc;
} rk__scalars[] = {
    [RK_SCALAR_FP32] = {"fp32", 10},      [RK_SCALAR_FP64] = {"fp64", 13},
    [RK_SCALAR_FP16] = {"fp16", 53},      [RK_SCALAR_BF16] = {"bf16", 80},
    [RK_SCALAR_TF32] = {"tf32", 80},      [RK_SCALAR_FP8_E4M3] = {"fp8_e4m3", 89},
    [RK_SCALAR_FP8_E5M2] = {"fp8_e5m2", 89}, [RK_SCALAR_FP6_E3M2] = {"fp6_e3m2", 100},
    [RK_SCALAR_FP6_E2M3] = {"fp6_e2m3", 100}, [RK_SCALAR_FP4_E2M1] = {"fp4_e2m1", 100},
};
_Static_assert(sizeof rk__scalars / sizeof rk__scalars[0] == RK_SCALAR_COUNT_, "one row per scalar type");

static int rk__scalar_valid(rk_scalar_type t)
{
    return (unsigned)t < (unsigned)RK_SCALAR_COUNT_;
}

const char *rk_scalar_name(rk_scalar_type t)
{
    return rk__scalar_valid(t) ? rk__scalars[t].name : "unknown";
}

int rk_scalar_min_cc(rk_scalar_type t)
{
    return rk__scalar_valid(t) ? rk__scalars[t].min_cc : -1;
}

static int rk__cc(const rk_device_info *dev)
{
    return dev->cc_major * 10 + dev->cc_minor;
}

int rk_scalar_supported(const rk_device_info *dev, rk_scalar_type t)
{
    return dev && rk__scalar_valid(t) && rk__cc(dev) >= rk__scalars[t].min_cc;
}

/* ---- clusters ------------------------------------------------------------------ */

static const char *const rk__refusal_names[] = {
#define RK__REFUSAL_NAME(name, msg) "RK_CLUSTER_" #name,
    RK_CLUSTER_REFUSAL_MAP(RK__REFUSAL_NAME)
#undef RK__REFUSAL_NAME
};

static const char *const rk__refusal_msgs[] = {
#define RK__REFUSAL_MSG(name, msg) msg,
    RK_CLUSTER_REFUSAL_MAP(RK__REFUSAL_MSG)
#undef RK__REFUSAL_MSG
};

static int rk__refusal_valid(rk_cluster_refusal r)
{
    return (unsigned)r < (unsigned)RK_CLUSTER_REFUSAL_COUNT_;
}

const char *rk_cluster_refusal_name(rk_cluster_refusal r)
{
    return rk__refusal_valid(r) ? rk__refusal_names[r] : "RK_CLUSTER_UNKNOWN";
}

const char *rk_cluster_refusal_str(rk_cluster_refusal r)
{
    return rk__refusal_valid(r) ? rk__refusal_msgs[r] : "unknown cluster refusal";
}

static rk_cluster_refusal rk__cluster_rule(const rk_device_info *dev, uint32_t size, uint32_t grid,
                                           int allow_nonportable)
{
    uint32_t largest = dev->cluster_max_nonportable > dev->cluster_max_portable ? dev->cluster_max_nonportable
                                                                                 : dev->cluster_max_portable;
    if (size <= 1)
        return RK_CLUSTER_OK;
    if (rk__cc(dev) < 90)
        return RK_CLUSTER_NEEDS_SM90;
    if (!dev->cluster_launch)
        return RK_CLUSTER_NO_LAUNCH;
    /* Before the portability rule: no opt-in makes a size above the
     * device's largest run. */
    if (size > largest)
        return RK_CLUSTER_TOO_LARGE;
    if (size > dev->cluster_max_portable && !allow_nonportable)
        return RK_CLUSTER_NOT_PORTABLE;
    /* The driver wants each cluster dimension to divide the grid's. */
    if (grid != 0 && grid % size != 0)
        return RK_CLUSTER_GRID;
    return RK_CLUSTER_OK;
}

rk_status rk_device_check_cluster(const rk_device_info *dev, uint32_t cluster_size, uint32_t grid_blocks,
                                  int allow_nonportable, rk_cluster_refusal *why)
{
    rk_cluster_refusal r;
    if (!dev)
        return RK_EINVAL;
    r = rk__cluster_rule(dev, cluster_size, grid_blocks, allow_nonportable);
    if (why)
        *why = r;
    return r == RK_CLUSTER_OK ? RK_OK : RK_ENOTSUP;
}

int rk_device_supports_clusters(const rk_device_info *dev)
{
    return rk_device_supports_cluster_size(dev, 2);
}

int rk_device_supports_cluster_size(const rk_device_info *dev, uint32_t cluster_size)
{
    return dev && cluster_size > 1 && rk__cluster_rule(dev, cluster_size, 0, 1) == RK_CLUSTER_OK;
}

int rk_device_supports_cooperative(const rk_device_info *dev)
{
    return dev && dev->cooperative_launch;
}

uint64_t rk_device_dsmem_bytes(const rk_device_info *dev, uint32_t cluster_size)
{
    if (!rk_device_supports_cluster_size(dev, cluster_size))
        return 0;
    return (uint64_t)cluster_size * dev->shared_per_block_optin;
}

/* ---- what a compute capability implies ------------------------------------------ */

int rk__device_parse_cc(const char *s, int *major, int *minor)
{
    int maj = 0, digits = 0;
    if (!s || !*s)
        return 0;
    while (*s >= '0' && *s <= '9' && digits < 3) {
        maj = maj * 10 + (*s++ - '0');
        digits++;
    }
    if (digits == 0 || digits > 2 || maj == 0 || s[0] != '.' || s[1] < '0' || s[1] > '9' || s[2] != '\0')
        return -1;
    *major = maj;
    *minor = s[1] - '0';
    return 1;
}

void rk__device_cluster_limits(rk_device_info *info, int launch_ok)
{
    int clusters = info->cc_major >= 9 && launch_ok;
    info->cluster_launch = clusters;
    info->cluster_max_portable = clusters ? RK_CLUSTER_PORTABLE_MAX : 0;
    /* 16 is documented for 9.0 (the Hopper tuning guide); for later
     * architectures only the portable size is promised here. */
    info->cluster_max_nonportable = !clusters ? 0 : info->cc_major == 9 ? RK_CLUSTER_SM90_MAX : RK_CLUSTER_PORTABLE_MAX;
}

void rk__device_force_cc(rk_device_info *info, int major, int minor, int launch_ok)
{
    info->cc_major = major;
    info->cc_minor = minor;
    info->forced = 1;
    rk__device_cluster_limits(info, launch_ok);
}

void rk__device_simulated(int major, int minor, rk_device_info *out)
{
    memset(out, 0, sizeof *out);
    out->ordinal = 0;
    snprintf(out->name, sizeof out->name, "simulated sm_%d%d", major, minor);
    out->cooperative_launch = 1;
    out->simulated = 1;
    rk__device_force_cc(out, major, minor, 1);
}

/* ---- queries ------------------------------------------------------------------------- */

rk_status rk_device_query(int device, rk_device_info *out)
{
    if (!out || device < 0)
        return RK_EINVAL;
#ifdef RK_HAVE_CUDA
    return rk__cuda_device_query(device, out);
#else
    return RK_ENOBACKEND;
#endif
}

rk_status rk_device_count(int *count)
{
    if (!count)
        return RK_EINVAL;
#ifdef RK_HAVE_CUDA
    return rk__cuda_device_count(count);
#else
    return RK_ENOBACKEND;
#endif
}
