/* device_caps.h on a real device:
 *   - rk_device_query agrees with the CUDA runtime's cudaDeviceGetAttribute
 *     and cudaGetDeviceProperties for every device;
 *   - RK_CUDA_FORCE_CC=8.0 on a real device: reported as 8.0, a cluster
 *     request refused with RK_ENOTSUP before any launch, a runtime without
 *     clusters still works;
 *   - on a device with clusters (9.0+): the cluster launch (cuLaunchKernelEx,
 *     cluster dimension + cooperative) of sizes 2 and 8 runs actors that
 *     answer, and K2K relays pass a token across clusters; 16 with the
 *     non-portable opt-in runs or is refused for residency; what the rules
 *     forbid is refused;
 *   - on a device without clusters: a cluster request is refused.
 * Exits 77 without a device. */
#include <cuda_runtime_api.h>

#include "gpu_test.h"
#include "ringkernel/device_caps.h"

#define RELAYS 6

static int rt_attr(enum cudaDeviceAttr a, int dev)
{
    int v = -1;
    RKT_CHECK(cudaDeviceGetAttribute(&v, a, dev) == cudaSuccess);
    return v;
}

/* One device's description against the CUDA runtime's. */
static void check_device(int dev, int driver)
{
    rk_device_info d;
    struct cudaDeviceProp p;
    RKT_CHECK_ST(rk_device_query(dev, &d), RK_OK);
    RKT_CHECK(cudaGetDeviceProperties(&p, dev) == cudaSuccess);
    RKT_CHECK(d.ordinal == dev && !d.simulated && !d.forced);
    RKT_CHECK(strncmp(d.name, p.name, sizeof d.name - 1) == 0);
    RKT_CHECK(d.cc_major == rt_attr(cudaDevAttrComputeCapabilityMajor, dev));
    RKT_CHECK(d.cc_minor == rt_attr(cudaDevAttrComputeCapabilityMinor, dev));
    RKT_CHECK((int)d.sm_count == rt_attr(cudaDevAttrMultiProcessorCount, dev));
    RKT_CHECK((int)d.max_threads_per_block == rt_attr(cudaDevAttrMaxThreadsPerBlock, dev));
    RKT_CHECK((int)d.shared_per_block == rt_attr(cudaDevAttrMaxSharedMemoryPerBlock, dev));
    RKT_CHECK((int)d.shared_per_block_optin == rt_attr(cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    RKT_CHECK((int)d.shared_per_sm == rt_attr(cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev));
    RKT_CHECK(d.cooperative_launch == (rt_attr(cudaDevAttrCooperativeLaunch, dev) != 0));
    RKT_CHECK(d.total_memory == (uint64_t)p.totalGlobalMem);
    RKT_CHECK(d.driver_version == driver);
    RKT_CHECK(d.host_native_atomics == (rt_attr(cudaDevAttrHostNativeAtomicSupported, dev) != 0));
    /* Clusters: the device attribute, with a driver that has cuLaunchKernelEx. */
    RKT_CHECK(d.cluster_launch == (driver >= 12000 && rt_attr(cudaDevAttrClusterLaunch, dev) != 0));
    RKT_CHECK(d.cluster_launch == (d.cc_major >= 9 && driver >= 12000));
    RKT_CHECK(d.cluster_max_portable == (d.cluster_launch ? 8u : 0u));
    RKT_CHECK(d.cluster_max_nonportable == (!d.cluster_launch ? 0u : d.cc_major == 9 ? 16u : 8u));
    RKT_CHECK(rk_scalar_supported(&d, RK_SCALAR_FP8_E4M3) == (d.cc_major * 10 + d.cc_minor >= 89));
    RKT_CHECK(rk_scalar_supported(&d, RK_SCALAR_FP4_E2M1) == (d.cc_major >= 10));
    printf("device %d: %s, sm_%d%d, %u SMs, %.1f GiB, smem %u/%u (opt-in)/%u per SM, coop %d, clusters %d "
           "(max %u portable, %u non-portable), host-native atomics %d, driver %d\n",
           dev, d.name, d.cc_major, d.cc_minor, d.sm_count, (double)d.total_memory / (1u << 30), d.shared_per_block,
           d.shared_per_block_optin, d.shared_per_sm, d.cooperative_launch, d.cluster_launch, d.cluster_max_portable,
           d.cluster_max_nonportable, d.host_native_atomics, d.driver_version);
    printf("  scalar types:");
    for (int t = 0; t < RK_SCALAR_COUNT_; t++)
        if (rk_scalar_supported(&d, (rk_scalar_type)t))
            printf(" %s", rk_scalar_name((rk_scalar_type)t));
    printf("\n");
}

static rk_status create(uint32_t cluster, int nonportable, rk_runtime **rt)
{
    rk_runtime_options o;
    rkt_options(&o, 16, &rkt_program);
    o.cluster_size = cluster;
    o.cluster_nonportable = nonportable;
    *rt = NULL;
    return rk_runtime_create(rt, &o);
}

/* Echo actors on several blocks answer, and relays pass a token around a
 * ring of blocks that spans clusters. */
static void exercise(rk_runtime *rt, const char *what)
{
    rk_actor_id echo[4], relay[RELAYS];
    rk_async_error err;
    char name[32];
    /* Smaller under compute-sanitizer, where each K2K hop takes milliseconds. */
    uint64_t v, hops = rkt_env("RK_STRESS_HOPS", 1000), echoes = hops < 400 ? hops : 400;
    uint32_t i;
    for (i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "echo%u", i);
        echo[i] = rkt_launch(rt, name, RKT_ECHO);
    }
    for (i = 0; i < RELAYS; i++) {
        snprintf(name, sizeof name, "relay%u", i);
        relay[i] = rkt_launch(rt, name, RKT_RELAY);
    }
    for (v = 0; v < echoes; v++) {
        uint64_t out = 0;
        rk_msgbuf r = {.data = &out, .capacity = sizeof out};
        RKT_CHECK_ST(rk_call(rt, echo[v % 4], RKT_MSG_ECHO, &v, sizeof v, &r, 5 * RKT_SEC), RK_OK);
        RKT_CHECK(out == v);
    }
    rkt_ring_setup(rt, relay, RELAYS);
    (void)rkt_ring_pass(rt, relay[0], hops, 60 * RKT_SEC, NULL);
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_EEMPTY);
    printf("%s: %llu echoes on 4 actors and %llu K2K hops on %d relays: ok\n", what, (unsigned long long)echoes,
           (unsigned long long)hops, RELAYS);
}

static void forced_pre_hopper(void)
{
    rk_device_info d;
    rk_runtime *rt;
    RKT_CHECK(setenv("RK_CUDA_FORCE_CC", "8.0", 1) == 0);
    RKT_CHECK_ST(rk_device_query(0, &d), RK_OK);
    RKT_CHECK(d.cc_major == 8 && d.cc_minor == 0 && d.forced && !d.simulated && d.sm_count > 0);
    RKT_CHECK(!d.cluster_launch && !rk_device_supports_clusters(&d));
    RKT_CHECK_ST(create(2, 0, &rt), RK_ENOTSUP);
    RKT_CHECK(rt == NULL);
    /* Without clusters the forced capability plays no part. */
    RKT_CHECK_ST(create(0, 0, &rt), RK_OK);
    exercise(rt, "forced 8.0, no clusters");
    rk_runtime_destroy(rt);
    RKT_CHECK(unsetenv("RK_CUDA_FORCE_CC") == 0);
    printf("forced 8.0: cluster request refused before launch: ok\n");
}

static void clusters(const rk_device_info *d)
{
    static const uint32_t sizes[] = {2, 8};
    rk_runtime *rt;
    rk_status st;
    char what[64];
    if (!rk_device_supports_clusters(d)) {
        RKT_CHECK_ST(create(2, 0, &rt), RK_ENOTSUP);
        printf("no clusters on this device: a request is refused: ok\n");
        return;
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        RKT_CHECK_ST(create(sizes[i], 0, &rt), RK_OK);
        snprintf(what, sizeof what, "clusters of %u", sizes[i]);
        exercise(rt, what);
        rk_runtime_destroy(rt);
    }
    /* 16 needs the opt-in and may not fit this kernel's resources. */
    st = create(16, 1, &rt);
    RKT_CHECK(st == RK_OK || st == RK_ENOTSUP);
    if (st == RK_OK) {
        exercise(rt, "clusters of 16 (non-portable)");
        rk_runtime_destroy(rt);
    } else {
        printf("clusters of 16 (non-portable): refused (%s)\n", rk_status_name(st));
    }
    RKT_CHECK_ST(create(9, 0, &rt), RK_ENOTSUP);
    RKT_CHECK_ST(create(17, 1, &rt), RK_ENOTSUP);
    /* A grid pinned to 9 blocks cannot be cut into clusters of 2. */
    RKT_CHECK(setenv("RK_CUDA_BLOCKS", "9", 1) == 0);
    RKT_CHECK_ST(create(2, 0, &rt), RK_ENOTSUP);
    RKT_CHECK(setenv("RK_CUDA_BLOCKS", "10", 1) == 0);
    RKT_CHECK_ST(create(2, 0, &rt), RK_OK);
    rk_runtime_destroy(rt);
    RKT_CHECK(unsetenv("RK_CUDA_BLOCKS") == 0);
    printf("cluster refusals: ok\n");
}

int main(void)
{
    rk_device_info d;
    int n = 0, rn = 0, driver = 0;
    rk_status st;
    RKT_CHECK(unsetenv("RK_CUDA_FORCE_CC") == 0);
    st = rk_device_query(0, &d);
    if (st == RK_ENODEV || st == RK_ENOBACKEND) {
        printf("SKIP: no usable CUDA device (%s)\n", rk_status_name(st));
        return RK_TEST_SKIP;
    }
    RKT_CHECK_ST(st, RK_OK);
    RKT_CHECK_ST(rk_device_count(&n), RK_OK);
    RKT_CHECK(cudaGetDeviceCount(&rn) == cudaSuccess && rn == n);
    RKT_CHECK(cudaDriverGetVersion(&driver) == cudaSuccess);
    for (int dev = 0; dev < n; dev++)
        check_device(dev, driver);
    RKT_CHECK_ST(rk_device_query(n, &d), RK_ENODEV);
    RKT_CHECK_ST(rk_device_query(0, &d), RK_OK);
    forced_pre_hopper();
    clusters(&d);
    return 0;
}
