/* Device capabilities from the CUDA driver (rk_device_query).
 *
 * Each query loads its own driver table (dlopen reference-counts the
 * library, cuInit is idempotent) and reads device attributes, which need no
 * context. RK_CUDA_FORCE_CC is applied last (core/device_caps.h). */
#include <stdlib.h>
#include <string.h>

#include "core/device_caps.h"
#include "cuda/cu_api.h"

/* Cluster launches need both entry points of CUDA 12.0+ drivers. */
static int rk__cuda_cluster_entry_points(const rk__cu *cu)
{
    return cu->cuLaunchKernelEx != NULL && cu->cuOccupancyMaxActiveClusters != NULL;
}

static rk_status rk__cuda_attr(const rk__cu *cu, CUdevice dev, CUdevice_attribute a, int *v)
{
    CUresult r = cu->cuDeviceGetAttribute(v, a, dev);
    if (r != CUDA_SUCCESS) {
        *v = 0;
        return rk__cu_status(r);
    }
    return RK_OK;
}

static uint32_t rk__u32(int v)
{
    return v > 0 ? (uint32_t)v : 0u;
}

static rk_status rk__cuda_caps_read(const rk__cu *cu, int ordinal, rk_device_info *out)
{
    static const CUdevice_attribute attrs[] = {
        CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
        CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
        CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
        CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
        CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK,
        CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
        CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR,
        CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH,
    };
    int v[sizeof attrs / sizeof attrs[0]], cluster = 0, version = 0, host_atomics = 0;
    size_t i, bytes = 0;
    CUdevice dev;
    CUresult r;
    rk_status st;
    memset(out, 0, sizeof *out);
    out->ordinal = ordinal;
    r = cu->cuDeviceGet(&dev, ordinal);
    if (r != CUDA_SUCCESS)
        return r == CUDA_ERROR_INVALID_DEVICE ? RK_ENODEV : rk__cu_status(r);
    for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        st = rk__cuda_attr(cu, dev, attrs[i], &v[i]);
        if (st != RK_OK)
            return st;
    }
    /* Unknown to drivers older than CUDA 11.8: no clusters then. */
    (void)rk__cuda_attr(cu, dev, CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH, &cluster);
    /* A failed answer reads as "not supported", the safe side. */
    (void)rk__cuda_attr(cu, dev, CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED, &host_atomics);
    r = cu->cuDeviceTotalMem(&bytes, dev);
    if (r != CUDA_SUCCESS)
        return rk__cu_status(r);
    if (cu->cuDriverGetVersion(&version) != CUDA_SUCCESS)
        version = 0;
    if (cu->cuDeviceGetName(out->name, (int)sizeof out->name, dev) != CUDA_SUCCESS)
        strcpy(out->name, "?");
    out->name[sizeof out->name - 1] = '\0';
    out->cc_major = v[0];
    out->cc_minor = v[1];
    out->sm_count = rk__u32(v[2]);
    out->max_threads_per_block = rk__u32(v[3]);
    out->shared_per_block = rk__u32(v[4]);
    out->shared_per_block_optin = rk__u32(v[5]);
    out->shared_per_sm = rk__u32(v[6]);
    out->cooperative_launch = v[7] != 0;
    out->total_memory = (uint64_t)bytes;
    out->driver_version = version;
    out->host_native_atomics = host_atomics != 0;
    rk__device_cluster_limits(out, cluster != 0 && rk__cuda_cluster_entry_points(cu));
    return RK_OK;
}

/* RK_CUDA_FORCE_CC: 1 forced (major, minor set), 0 not set, -1 malformed. */
static int rk__cuda_forced(int *major, int *minor)
{
    return rk__device_parse_cc(getenv(RK__FORCE_CC_ENV), major, minor);
}

rk_status rk__cuda_device_query(int device, rk_device_info *out)
{
    rk__cu cu;
    int fmaj = 0, fmin = 0, n = 0, forced = rk__cuda_forced(&fmaj, &fmin);
    rk_status st;
    if (!out || device < 0 || forced < 0)
        return RK_EINVAL;
    if (rk__cu_load(&cu) == RK_OK) {
        if (cu.cuDeviceGetCount(&n) != CUDA_SUCCESS)
            n = 0;
        if (n > 0) {
            st = device < n ? rk__cuda_caps_read(&cu, device, out) : RK_ENODEV;
            if (st == RK_OK && forced)
                rk__device_force_cc(out, fmaj, fmin, rk__cuda_cluster_entry_points(&cu));
            rk__cu_unload(&cu);
            return st;
        }
        rk__cu_unload(&cu);
    }
    /* No device at all: a forced capability stands in for device 0. */
    if (forced && device == 0) {
        rk__device_simulated(fmaj, fmin, out);
        return RK_OK;
    }
    return RK_ENODEV;
}

rk_status rk__cuda_device_count(int *count)
{
    rk__cu cu;
    int fmaj, fmin, n = 0, forced = rk__cuda_forced(&fmaj, &fmin);
    if (!count || forced < 0)
        return RK_EINVAL;
    *count = 0;
    if (rk__cu_load(&cu) == RK_OK) {
        if (cu.cuDeviceGetCount(&n) != CUDA_SUCCESS)
            n = 0;
        rk__cu_unload(&cu);
    }
    if (n == 0 && forced)
        n = 1;
    *count = n;
    return n > 0 ? RK_OK : RK_ENODEV;
}
