# shellcheck shell=bash disable=SC2034
# Sourced by gpu.sh and gpu-prebuild.sh: what the GPU machine builds and
# runs, and how a source tree is told apart from another (its hash).

# Every GPU test and GPU benchmark, in the order gpu.sh runs them.
RK_ALL_GPU_TESTS="test_gpu_roundtrip test_gpu_calls test_gpu_k2k test_gpu_cluster_k2k test_gpu_lifecycle test_gpu_faults test_gpu_nvrtc test_gpu_checkpoint test_gpu_device_caps test_gpu_supervisor test_gpu_state_pool test_gpu_group test_gpu_light test_gpu_light_runtime test_gpu_kernel_gone"
RK_ALL_GPU_BENCHES="bench_gpu_roundtrip bench_gpu_throughput bench_gpu_sync bench_gpu_pipeline bench_gpu_peer bench_gpu_group bench_gpu_light diag_roundtrip diag_k2k diag_tenant diag_lifecycle diag_lifecycle_probed diag_light diag_sysload"
# Also run there: the GPU quick start, and the CPU backend's benchmark (RK_GPU_CPU_BENCH).
RK_GPU_OTHER_TARGETS="gpu_quickstart bench_actor"

# rk_src_hash DIR: a hash of every file of DIR that goes into a build
# (CMakeLists.txt, cmake/, include/, src/, tests/, bench/, examples/),
# their paths and contents; files git ignores there are left out.
rk_src_hash() {
    (
        cd "$1" || exit 1
        find CMakeLists.txt cmake include src tests bench examples \
            \( -name __pycache__ -o -name '*.swp' \) -prune -o -type f -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
    )
}
