/* ringkernel: symbol visibility and the host/device qualifiers shared by the
 * headers that compile both as C11 and as CUDA C. */
#ifndef RINGKERNEL_EXPORT_H
#define RINGKERNEL_EXPORT_H

/* The shared library is built with -fvisibility=hidden; only RK_API names
 * are exported. */
#if defined(RK_BUILDING_LIBRARY) && defined(__GNUC__)
#define RK_API __attribute__((visibility("default")))
#else
#define RK_API
#endif

#if defined(__CUDACC__)
#define RK_HD __host__ __device__ __forceinline__
#else
#define RK_HD static inline
#endif

#if defined(__cplusplus)
#define RK_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define RK_ALIGNAS(n) alignas(n)
#else
#define RK_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define RK_ALIGNAS(n) _Alignas(n)
#endif

#endif
