#!/usr/bin/env bash
# Builds and runs the whole test suite three times: a normal build (with the
# CUDA code compiled when nvcc is present; GPU tests report "Not Run" without
# a GPU), under ASan+UBSan, and the concurrency tests under TSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

jobs=$(nproc)
build() {
    local dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log"; exit 1; }
    cmake --build "$dir" -j"$jobs"
}
mkdir -p build

echo "== normal build =="
build build/release
ctest --test-dir build/release --output-on-failure -j"$jobs"

echo "== ASan + UBSan =="
build build/asan -DRK_SANITIZE=address -DRK_WITH_CUDA=OFF -DRK_BUILD_BENCH=OFF -DRK_BUILD_EXAMPLES=OFF
RK_STRESS_MESSAGES=1000000 ctest --test-dir build/asan --output-on-failure

echo "== TSan (concurrency tests) =="
build build/tsan -DRK_SANITIZE=thread -DRK_WITH_CUDA=OFF -DRK_BUILD_BENCH=OFF -DRK_BUILD_EXAMPLES=OFF
RK_STRESS_MESSAGES=200000 TSAN_OPTIONS="halt_on_error=1" \
    ctest --test-dir build/tsan --output-on-failure -L concurrency
