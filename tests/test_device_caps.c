/* device_caps.h: the scalar-type table, the cluster rules, RK_CUDA_FORCE_CC
 * and the refusal of a cluster request at runtime creation - all without a
 * GPU. A simulated device (RK_CUDA_FORCE_CC where there is no device)
 * stands in for 8.0, 8.9, 9.0, 10.0 and 12.0 hardware. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/device_caps.h"
#include "ringkernel/device.cuh"
#include "ringkernel/ringkernel.h"

static rk_device_info sim(int major, int minor)
{
    rk_device_info d;
    rk__device_simulated(major, minor, &d);
    return d;
}

/* ---- scalar types ---------------------------------------------------------- */

static void test_scalar_table(void **state)
{
    (void)state;
    assert_string_equal(rk_scalar_name(RK_SCALAR_FP32), "fp32");
    assert_string_equal(rk_scalar_name(RK_SCALAR_BF16), "bf16");
    assert_string_equal(rk_scalar_name(RK_SCALAR_FP8_E4M3), "fp8_e4m3");
    assert_string_equal(rk_scalar_name(RK_SCALAR_FP8_E5M2), "fp8_e5m2");
    assert_string_equal(rk_scalar_name(RK_SCALAR_FP6_E3M2), "fp6_e3m2");
    assert_string_equal(rk_scalar_name(RK_SCALAR_FP6_E2M3), "fp6_e2m3");
    assert_string_equal(rk_scalar_name(RK_SCALAR_FP4_E2M1), "fp4_e2m1");
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_FP32), 10);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_FP64), 13);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_FP16), 53);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_BF16), 80);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_TF32), 80);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_FP8_E4M3), 89);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_FP8_E5M2), 89);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_FP6_E3M2), 100);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_FP6_E2M3), 100);
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_FP4_E2M1), 100);
    /* Every row is filled, with a distinct name. */
    for (int i = 0; i < RK_SCALAR_COUNT_; i++) {
        assert_true(rk_scalar_min_cc((rk_scalar_type)i) >= 10);
        assert_string_not_equal(rk_scalar_name((rk_scalar_type)i), "unknown");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(rk_scalar_name((rk_scalar_type)i), rk_scalar_name((rk_scalar_type)j));
    }
}

static void test_scalar_out_of_range(void **state)
{
    rk_device_info d = sim(10, 0);
    (void)state;
    assert_string_equal(rk_scalar_name(RK_SCALAR_COUNT_), "unknown");
    assert_string_equal(rk_scalar_name((rk_scalar_type)-1), "unknown");
    assert_int_equal(rk_scalar_min_cc(RK_SCALAR_COUNT_), -1);
    assert_int_equal(rk_scalar_min_cc((rk_scalar_type)1000), -1);
    assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_COUNT_), 0);
    assert_int_equal(rk_scalar_supported(&d, (rk_scalar_type)-7), 0);
    assert_int_equal(rk_scalar_supported(NULL, RK_SCALAR_FP32), 0);
}

/* What each architecture answers, one row per simulated device. */
static void test_scalar_gating_by_arch(void **state)
{
    static const struct {
        int major, minor;
        int bf16, fp8, fp6, fp4;
    } rows[] = {
        {7, 0, 0, 0, 0, 0},  {8, 0, 1, 0, 0, 0},  {8, 6, 1, 0, 0, 0}, {8, 9, 1, 1, 0, 0},
        {9, 0, 1, 1, 0, 0},  {10, 0, 1, 1, 1, 1}, {12, 0, 1, 1, 1, 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        rk_device_info d = sim(rows[i].major, rows[i].minor);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP32), 1);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP64), 1);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP16), 1);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_BF16), rows[i].bf16);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_TF32), rows[i].bf16);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP8_E4M3), rows[i].fp8);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP8_E5M2), rows[i].fp8);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP6_E3M2), rows[i].fp6);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP6_E2M3), rows[i].fp6);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP4_E2M1), rows[i].fp4);
    }
}

/* ---- cluster rules ----------------------------------------------------------- */

static void test_refusal_names(void **state)
{
    (void)state;
#define CHECK_REFUSAL(name, msg)                                                                     \
    assert_string_equal(rk_cluster_refusal_name(RK_CLUSTER_##name), "RK_CLUSTER_" #name);          \
    assert_string_equal(rk_cluster_refusal_str(RK_CLUSTER_##name), msg);
    RK_CLUSTER_REFUSAL_MAP(CHECK_REFUSAL)
#undef CHECK_REFUSAL
    assert_int_equal(RK_CLUSTER_OK, 0);
    assert_string_equal(rk_cluster_refusal_name(RK_CLUSTER_REFUSAL_COUNT_), "RK_CLUSTER_UNKNOWN");
    assert_string_equal(rk_cluster_refusal_name((rk_cluster_refusal)-1), "RK_CLUSTER_UNKNOWN");
    assert_non_null(rk_cluster_refusal_str((rk_cluster_refusal)99));
}

/* rk_device_check_cluster's status and reason in one go. */
static rk_cluster_refusal check(const rk_device_info *d, uint32_t size, uint32_t grid, int nonportable)
{
    rk_cluster_refusal why = (rk_cluster_refusal)-1;
    rk_status st = rk_device_check_cluster(d, size, grid, nonportable, &why);
    assert_int_equal(st, why == RK_CLUSTER_OK ? RK_OK : RK_ENOTSUP);
    return why;
}

static void test_cluster_no_request(void **state)
{
    rk_device_info d = sim(7, 0);
    (void)state;
    /* 0 and 1 are no cluster: fine anywhere, whatever the grid. */
    assert_int_equal(check(&d, 0, 0, 0), RK_CLUSTER_OK);
    assert_int_equal(check(&d, 1, 0, 0), RK_CLUSTER_OK);
    assert_int_equal(check(&d, 1, 7, 0), RK_CLUSTER_OK);
    assert_int_equal(rk_device_check_cluster(&d, 1, 0, 0, NULL), RK_OK);
    assert_int_equal(rk_device_check_cluster(NULL, 2, 0, 0, NULL), RK_EINVAL);
    assert_int_equal(rk_device_check_cluster(NULL, 0, 0, 0, NULL), RK_EINVAL);
}

static void test_cluster_pre_hopper(void **state)
{
    static const int ccs[][2] = {{7, 0}, {7, 5}, {8, 0}, {8, 6}, {8, 9}};
    (void)state;
    for (size_t i = 0; i < sizeof ccs / sizeof ccs[0]; i++) {
        rk_device_info d = sim(ccs[i][0], ccs[i][1]);
        assert_int_equal(d.cluster_launch, 0);
        assert_int_equal(d.cluster_max_portable, 0);
        assert_int_equal(d.cluster_max_nonportable, 0);
        assert_int_equal(check(&d, 2, 0, 0), RK_CLUSTER_NEEDS_SM90);
        assert_int_equal(check(&d, 8, 16, 1), RK_CLUSTER_NEEDS_SM90);
        assert_int_equal(rk_device_supports_clusters(&d), 0);
        assert_int_equal(rk_device_supports_cluster_size(&d, 2), 0);
        assert_int_equal(rk_device_supports_cooperative(&d), 1);
    }
}

static void test_cluster_hopper(void **state)
{
    rk_device_info d = sim(9, 0);
    (void)state;
    assert_int_equal(d.cluster_launch, 1);
    assert_int_equal(d.cluster_max_portable, 8);
    assert_int_equal(d.cluster_max_nonportable, 16);
    for (uint32_t s = 2; s <= 8; s++) {
        assert_int_equal(check(&d, s, 0, 0), RK_CLUSTER_OK);
        assert_int_equal(check(&d, s, s * 5, 0), RK_CLUSTER_OK);
    }
    for (uint32_t s = 9; s <= 16; s++) {
        assert_int_equal(check(&d, s, 0, 0), RK_CLUSTER_NOT_PORTABLE);
        assert_int_equal(check(&d, s, 0, 1), RK_CLUSTER_OK);
        assert_int_equal(rk_device_supports_cluster_size(&d, s), 1);
    }
    /* Beyond 16 no opt-in helps, and the size is named before portability. */
    assert_int_equal(check(&d, 17, 0, 1), RK_CLUSTER_TOO_LARGE);
    assert_int_equal(check(&d, 17, 0, 0), RK_CLUSTER_TOO_LARGE);
    assert_int_equal(check(&d, 32, 64, 1), RK_CLUSTER_TOO_LARGE);
    assert_int_equal(check(&d, UINT32_MAX, 0, 1), RK_CLUSTER_TOO_LARGE);
    assert_int_equal(rk_device_supports_cluster_size(&d, 17), 0);
    assert_int_equal(rk_device_supports_cluster_size(&d, 1), 0);
    assert_int_equal(rk_device_supports_clusters(&d), 1);
    assert_int_equal(rk_device_supports_clusters(NULL), 0);
    assert_int_equal(rk_device_supports_cooperative(NULL), 0);
}

static void test_cluster_grid_divisor(void **state)
{
    rk_device_info d = sim(9, 0);
    (void)state;
    assert_int_equal(check(&d, 2, 18, 0), RK_CLUSTER_OK);
    assert_int_equal(check(&d, 2, 17, 0), RK_CLUSTER_GRID);
    assert_int_equal(check(&d, 4, 2, 0), RK_CLUSTER_GRID);
    assert_int_equal(check(&d, 3, 9, 0), RK_CLUSTER_OK);
    assert_int_equal(check(&d, 8, 132, 0), RK_CLUSTER_GRID);
    assert_int_equal(check(&d, 16, 128, 1), RK_CLUSTER_OK);
    assert_int_equal(check(&d, 16, 136, 1), RK_CLUSTER_GRID);
    /* Device rules come first: a bad grid on a pre-Hopper device is NEEDS_SM90. */
    d = sim(8, 0);
    assert_int_equal(check(&d, 2, 17, 0), RK_CLUSTER_NEEDS_SM90);
}

static void test_cluster_no_launch(void **state)
{
    rk_device_info d = sim(9, 0);
    (void)state;
    /* A 9.0 device whose driver cannot launch clusters (CUDA < 12). */
    rk__device_cluster_limits(&d, 0);
    assert_int_equal(d.cluster_launch, 0);
    assert_int_equal(check(&d, 2, 0, 0), RK_CLUSTER_NO_LAUNCH);
    assert_int_equal(rk_device_supports_clusters(&d), 0);
    /* A hand-filled description that claims launches but no sizes. */
    d = sim(9, 0);
    d.cluster_max_portable = 0;
    d.cluster_max_nonportable = 0;
    assert_int_equal(check(&d, 2, 0, 1), RK_CLUSTER_TOO_LARGE);
}

static void test_cluster_newer_archs(void **state)
{
    static const int ccs[][2] = {{10, 0}, {10, 3}, {12, 0}};
    (void)state;
    for (size_t i = 0; i < sizeof ccs / sizeof ccs[0]; i++) {
        rk_device_info d = sim(ccs[i][0], ccs[i][1]);
        assert_int_equal(d.cluster_launch, 1);
        assert_int_equal(d.cluster_max_portable, 8);
        /* Only the portable size is promised beyond 9.x. */
        assert_int_equal(d.cluster_max_nonportable, 8);
        assert_int_equal(check(&d, 8, 0, 0), RK_CLUSTER_OK);
        assert_int_equal(check(&d, 16, 0, 1), RK_CLUSTER_TOO_LARGE);
    }
}

static void test_dsmem_bytes(void **state)
{
    rk_device_info d = sim(9, 0);
    (void)state;
    d.shared_per_block_optin = 232448; /* 227 KiB, as an H100 reports */
    assert_true(rk_device_dsmem_bytes(&d, 2) == 2ull * 232448);
    assert_true(rk_device_dsmem_bytes(&d, 16) == 16ull * 232448);
    assert_true(rk_device_dsmem_bytes(&d, 17) == 0);
    assert_true(rk_device_dsmem_bytes(&d, 1) == 0);
    assert_true(rk_device_dsmem_bytes(NULL, 2) == 0);
    d = sim(8, 0);
    d.shared_per_block_optin = 166912;
    assert_true(rk_device_dsmem_bytes(&d, 2) == 0);
}

/* ---- RK_CUDA_FORCE_CC ----------------------------------------------------------- */

static void test_parse_cc(void **state)
{
    static const char *const bad[] = {"9", "9.", ".0", "9.10", "a.0", "0.5", "100.0", "9.0x", " 9.0", "-9.0",
                                      "9,0", "sm_90", "9.0 "};
    int major = -1, minor = -1;
    (void)state;
    assert_int_equal(rk__device_parse_cc(NULL, &major, &minor), 0);
    assert_int_equal(rk__device_parse_cc("", &major, &minor), 0);
    assert_int_equal(rk__device_parse_cc("8.0", &major, &minor), 1);
    assert_int_equal(major, 8);
    assert_int_equal(minor, 0);
    assert_int_equal(rk__device_parse_cc("8.9", &major, &minor), 1);
    assert_int_equal(minor, 9);
    assert_int_equal(rk__device_parse_cc("10.0", &major, &minor), 1);
    assert_int_equal(major, 10);
    assert_int_equal(rk__device_parse_cc("12.1", &major, &minor), 1);
    assert_int_equal(major, 12);
    assert_int_equal(minor, 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rk__device_parse_cc(bad[i], &major, &minor), -1);
}

static void test_simulated_device(void **state)
{
    rk_device_info d = sim(9, 0);
    (void)state;
    assert_string_equal(d.name, "simulated sm_90");
    assert_int_equal(d.ordinal, 0);
    assert_int_equal(d.cc_major, 9);
    assert_int_equal(d.cc_minor, 0);
    assert_int_equal(d.simulated, 1);
    assert_int_equal(d.forced, 1);
    assert_int_equal(d.cooperative_launch, 1);
    assert_int_equal(d.sm_count, 0);
    assert_true(d.total_memory == 0);
    assert_int_equal(d.driver_version, 0);
}

/* Forcing a real device's capability re-derives the cluster fields. */
static void test_force_real_device(void **state)
{
    rk_device_info d;
    (void)state;
    memset(&d, 0, sizeof d);
    strcpy(d.name, "some H100");
    d.cc_major = 9;
    d.sm_count = 132;
    d.cooperative_launch = 1;
    rk__device_cluster_limits(&d, 1);
    assert_int_equal(check(&d, 4, 0, 0), RK_CLUSTER_OK);
    rk__device_force_cc(&d, 8, 0, 1);
    assert_int_equal(d.forced, 1);
    assert_int_equal(d.simulated, 0);
    assert_int_equal(d.sm_count, 132);
    assert_int_equal(d.cluster_launch, 0);
    assert_int_equal(check(&d, 4, 0, 0), RK_CLUSTER_NEEDS_SM90);
    assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP8_E4M3), 0);
    assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_BF16), 1);
}

/* Sets RK_CUDA_FORCE_CC for one test (NULL unsets it). */
static void force_env(const char *cc)
{
    if (cc)
        assert_int_equal(setenv(RK__FORCE_CC_ENV, cc, 1), 0);
    else
        assert_int_equal(unsetenv(RK__FORCE_CC_ENV), 0);
}

static int restore_env(void **state)
{
    (void)state;
    return unsetenv(RK__FORCE_CC_ENV);
}

/* The CUDA backend is built and this machine has no device, so a forced
 * capability yields the simulated device 0. Returns 0 (and checks the
 * refusals it can) where that is not so. */
static int simulated_here(void)
{
    rk_device_info d;
    rk_status st;
    force_env("9.0");
    st = rk_device_query(0, &d);
    if (st == RK_ENOBACKEND)
        return 0;
    assert_int_equal(st, RK_OK);
    return d.simulated;
}

static void test_query_arguments(void **state)
{
    rk_device_info d;
    int n = -1;
    rk_status st;
    (void)state;
    assert_int_equal(rk_device_query(0, NULL), RK_EINVAL);
    assert_int_equal(rk_device_query(-1, &d), RK_EINVAL);
    assert_int_equal(rk_device_count(NULL), RK_EINVAL);
    force_env(NULL);
    st = rk_device_query(0, &d);
#ifdef RK_HAVE_CUDA
    assert_true(st == RK_OK || st == RK_ENODEV);
    st = rk_device_count(&n);
    assert_true((st == RK_OK && n > 0) || (st == RK_ENODEV && n == 0));
#else
    assert_int_equal(st, RK_ENOBACKEND);
    assert_int_equal(rk_device_count(&n), RK_ENOBACKEND);
#endif
}

static void test_query_forced(void **state)
{
    static const int ccs[][2] = {{8, 0}, {8, 9}, {9, 0}, {10, 0}};
    rk_device_info d;
    int n = 0;
    (void)state;
    if (!simulated_here()) {
        /* A real device: the forced capability is still what is reported. */
        force_env("8.0");
        if (rk_device_query(0, &d) == RK_OK) {
            assert_int_equal(d.cc_major, 8);
            assert_int_equal(d.forced, 1);
            assert_int_equal(d.cluster_launch, 0);
        }
        skip();
    }
    for (size_t i = 0; i < sizeof ccs / sizeof ccs[0]; i++) {
        char cc[8];
        snprintf(cc, sizeof cc, "%d.%d", ccs[i][0], ccs[i][1]);
        force_env(cc);
        memset(&d, 0xab, sizeof d);
        assert_int_equal(rk_device_query(0, &d), RK_OK);
        assert_int_equal(d.cc_major, ccs[i][0]);
        assert_int_equal(d.cc_minor, ccs[i][1]);
        assert_int_equal(d.simulated, 1);
        assert_int_equal(d.forced, 1);
        assert_int_equal(d.cluster_launch, ccs[i][0] >= 9);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP8_E5M2), ccs[i][0] * 10 + ccs[i][1] >= 89);
        assert_int_equal(rk_scalar_supported(&d, RK_SCALAR_FP4_E2M1), ccs[i][0] >= 10);
    }
    /* Only device 0 is simulated. */
    assert_int_equal(rk_device_query(1, &d), RK_ENODEV);
    assert_int_equal(rk_device_count(&n), RK_OK);
    assert_int_equal(n, 1);
    /* A malformed value is an error, not silently ignored. */
    force_env("nine");
    assert_int_equal(rk_device_query(0, &d), RK_EINVAL);
    assert_int_equal(rk_device_count(&n), RK_EINVAL);
    force_env(NULL);
    assert_int_equal(rk_device_query(0, &d), RK_ENODEV);
    assert_int_equal(rk_device_count(&n), RK_ENODEV);
}

/* ---- refusal at runtime creation ------------------------------------------------ */

static int no_kernel(int device, void **function)
{
    (void)device;
    (void)function;
    return -1;
}

static const uint32_t one_state[1] = {16};
static const struct rk_gpu_program fake_program = {
    RK_GPU_PROGRAM_MAGIC, RK_GPU_ABI, 1, 128, "fake", no_kernel, one_state, NULL, 0,
};

static rk_status create_cuda(uint32_t cluster, int nonportable)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_status st;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CUDA;
    o.max_actors = 4;
    o.gpu_program = &fake_program;
    o.cluster_size = cluster;
    o.cluster_nonportable = nonportable;
    st = rk_runtime_create(&rt, &o);
    assert_int_not_equal(st, RK_OK); /* the program has no kernel: never starts */
    assert_null(rt);
    return st;
}

static void test_options_default_no_cluster(void **state)
{
    rk_runtime_options o;
    (void)state;
    memset(&o, 0xff, sizeof o);
    rk_runtime_options_init(&o);
    assert_int_equal(o.cluster_size, 0);
    assert_int_equal(o.cluster_nonportable, 0);
}

/* A cluster request a simulated pre-Hopper device cannot run is refused
 * with RK_ENOTSUP before the driver is asked for anything; one it can run
 * gets past that check (and then finds no device here: RK_ENODEV). */
static void test_create_refuses_cluster(void **state)
{
    int simulated = simulated_here();
    (void)state;
#ifndef RK_HAVE_CUDA
    assert_int_equal(create_cuda(2, 0), RK_ENOBACKEND);
    skip();
#endif
    force_env("8.0");
    assert_int_equal(create_cuda(2, 0), RK_ENOTSUP);
    assert_int_equal(create_cuda(8, 1), RK_ENOTSUP);
    force_env("8.9");
    assert_int_equal(create_cuda(2, 0), RK_ENOTSUP);
    force_env("9.0");
    assert_int_equal(create_cuda(9, 0), RK_ENOTSUP);  /* not portable without the opt-in */
    assert_int_equal(create_cuda(17, 1), RK_ENOTSUP); /* too large for 9.0 */
    force_env("10.0");
    assert_int_equal(create_cuda(16, 1), RK_ENOTSUP); /* only the portable 8 promised */
    /* A malformed RK_CUDA_FORCE_CC refuses a cluster request as bad input. */
    force_env("x");
    assert_int_equal(create_cuda(2, 0), RK_EINVAL);
    if (!simulated)
        skip(); /* a real device: accepted requests go on to the (fake) program */
    force_env("9.0");
    assert_int_equal(create_cuda(2, 0), RK_ENODEV);
    assert_int_equal(create_cuda(8, 0), RK_ENODEV);
    assert_int_equal(create_cuda(16, 1), RK_ENODEV);
    /* No cluster: the forced capability plays no part. */
    force_env("8.0");
    assert_int_equal(create_cuda(0, 0), RK_ENODEV);
    assert_int_equal(create_cuda(1, 0), RK_ENODEV);
}

/* The CPU backend has no clusters and ignores the option. */
static void test_cpu_ignores_cluster(void **state)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    (void)state;
    force_env("8.0");
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 1;
    o.cluster_size = 4;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    assert_int_equal(rk_runtime_backend(rt), RK_BACKEND_CPU);
    assert_int_equal(rk_runtime_shutdown(rt, NULL), RK_OK);
    rk_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar_table),
        cmocka_unit_test(test_scalar_out_of_range),
        cmocka_unit_test(test_scalar_gating_by_arch),
        cmocka_unit_test(test_refusal_names),
        cmocka_unit_test(test_cluster_no_request),
        cmocka_unit_test(test_cluster_pre_hopper),
        cmocka_unit_test(test_cluster_hopper),
        cmocka_unit_test(test_cluster_grid_divisor),
        cmocka_unit_test(test_cluster_no_launch),
        cmocka_unit_test(test_cluster_newer_archs),
        cmocka_unit_test(test_dsmem_bytes),
        cmocka_unit_test(test_parse_cc),
        cmocka_unit_test(test_simulated_device),
        cmocka_unit_test(test_force_real_device),
        cmocka_unit_test_teardown(test_query_arguments, restore_env),
        cmocka_unit_test_teardown(test_query_forced, restore_env),
        cmocka_unit_test(test_options_default_no_cluster),
        cmocka_unit_test_teardown(test_create_refuses_cluster, restore_env),
        cmocka_unit_test_teardown(test_cpu_ignores_cluster, restore_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
