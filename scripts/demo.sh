#!/usr/bin/env bash
# Builds the library and runs the quick-start demo: on the GPU when a CUDA
# device and nvcc are present, otherwise on the CPU backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

mkdir -p build; cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >build/configure.log 2>&1 ||
    { mkdir -p build; cat build/configure.log; exit 1; }
cmake --build build/release -j"$(nproc)" --target quickstart $( [ -f examples/gpu_quickstart.cu ] && echo gpu_quickstart )

if [ -x build/release/examples/gpu_quickstart ] && nvidia-smi -L >/dev/null 2>&1; then
    exec build/release/examples/gpu_quickstart
fi
exec build/release/examples/quickstart
