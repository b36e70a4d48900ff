/* ringkernel CUDA backend: the driver API, loaded at run time.
 *
 * The library links no CUDA library: libcuda.so.1 belongs to the driver and
 * is absent on machines without a GPU, where the library must still load
 * (and fall back to the CPU backend). Each runtime loads its own table, so
 * there is no global state; dlopen reference-counts the library. The
 * function names come from cuda.h's own version macros (cuMemAlloc is
 * cuMemAlloc_v2), so each entry point is the one the headers mean. */
#ifndef RK_CU_API_H
#define RK_CU_API_H

#include <cuda.h>

#include "ringkernel/status.h"

#define RK__CU_FUNCS(X)                                                                              \
    X(cuInit)                                                                                        \
    X(cuDriverGetVersion)                                                                            \
    X(cuDeviceGet)                                                                                   \
    X(cuDeviceGetCount)                                                                              \
    X(cuDeviceGetAttribute)                                                                          \
    X(cuDeviceGetName)                                                                               \
    X(cuDeviceTotalMem)                                                                              \
    X(cuDevicePrimaryCtxRetain)                                                                      \
    X(cuDevicePrimaryCtxRelease)                                                                     \
    X(cuCtxPushCurrent)                                                                              \
    X(cuCtxPopCurrent)                                                                               \
    X(cuMemAlloc)                                                                                    \
    X(cuMemFree)                                                                                     \
    X(cuMemHostAlloc)                                                                                \
    X(cuMemFreeHost)                                                                                 \
    X(cuMemHostGetDevicePointer)                                                                     \
    X(cuMemcpyHtoDAsync)                                                                             \
    X(cuMemcpyDtoHAsync)                                                                             \
    X(cuMemsetD8Async)                                                                               \
    X(cuStreamCreate)                                                                                \
    X(cuStreamDestroy)                                                                               \
    X(cuStreamQuery)                                                                                 \
    X(cuStreamSynchronize)                                                                           \
    X(cuModuleLoadData)                                                                              \
    X(cuModuleUnload)                                                                                \
    X(cuModuleGetFunction)                                                                           \
    X(cuModuleGetGlobal)                                                                             \
    X(cuOccupancyMaxActiveBlocksPerMultiprocessor)                                                   \
    X(cuFuncSetAttribute)                                                                            \
    X(cuFuncGetAttribute)                                                                            \
    X(cuLaunchCooperativeKernel)                                                                     \
    X(cuGetErrorName)

/* Entry points of newer drivers (CUDA 12.0+: thread-block clusters; 11.2+:
 * stream-ordered memory pools): NULL when the driver lacks them, which only
 * refuses what needs them (without the pool functions, actor states come
 * from chunks: cuda_mem.c). */
#define RK__CU_OPTIONAL_FUNCS(X)                                                                     \
    X(cuLaunchKernelEx)                                                                              \
    X(cuDeviceCanAccessPeer)                                                                         \
    X(cuDeviceGetP2PAttribute)                                                                       \
    X(cuCtxEnablePeerAccess)                                                                         \
    X(cuMemcpyPeerAsync)                                                                             \
    X(cuMemcpyDtoDAsync)                                                                             \
    X(cuOccupancyMaxActiveClusters)                                                                  \
    X(cuMemPoolCreate)                                                                               \
    X(cuMemPoolDestroy)                                                                              \
    X(cuMemPoolSetAttribute)                                                                         \
    X(cuMemPoolGetAttribute)                                                                         \
    X(cuMemPoolTrimTo)                                                                               \
    X(cuMemAllocFromPoolAsync)                                                                       \
    X(cuMemFreeAsync)

typedef struct rk__cu {
    void *lib;
#define RK__CU_FIELD(fn) __typeof__(&fn) fn;
    RK__CU_FUNCS(RK__CU_FIELD)
    RK__CU_OPTIONAL_FUNCS(RK__CU_FIELD)
#undef RK__CU_FIELD
} rk__cu;

/* Loads libcuda.so.1 and every entry point above (the optional ones when
 * present), and initialises the driver. RK_ENODEV when there is no driver,
 * a required entry point is missing or the driver fails to initialise. */
rk_status rk__cu_load(rk__cu *cu);

/* Unloads; a table that failed to load or is zeroed is fine. */
void rk__cu_unload(rk__cu *cu);

/* The rk_status for a driver error: RK_ENOMEM for allocation failures,
 * RK_ENODEV for a missing device, RK_EDEVICE otherwise. */
rk_status rk__cu_status(CUresult r);

/* "CUDA_ERROR_..." for logs. */
const char *rk__cu_name(const rk__cu *cu, CUresult r);

#endif
