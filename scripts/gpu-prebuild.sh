#!/usr/bin/env bash
# Builds, here and before a device call, what scripts/gpu.sh would build on
# the GPU machine (Release, sm_90: the GPU tests, the GPU benchmarks, the GPU
# quick start and bench_actor), so that the call spends its minutes running
# instead of compiling (about 150 s of each call in sessions 29-31).
#
#   scripts/gpu-prebuild.sh [TREE]     default: this checkout
#
# Writes TREE/build-pre/bin.tar.xz (the programs, packed: each GPU test
# carries the same 7 MB of device code, which xz's window folds into one)
# and TREE/build-pre/STAMP (the tree's source hash, the compiler, the C
# library the programs need). build-pre/ is ignored by git: name it in the
# call's carry (or carry build-snap/, which holds it for gpu-snap.sh's trees).
# On the GPU machine gpu.sh takes the programs only if the hash matches the
# tree it was given and they load there (ldd); otherwise it builds, as before.
# The object files stay in /tmp/rk-prebuild/ for the next, incremental, build.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/gpu-targets.sh"
SRC=$(cd "${1:-$HERE/..}" && pwd)
[ -f "$SRC/CMakeLists.txt" ] || { echo "gpu-prebuild.sh: not a source tree: $SRC" >&2; exit 2; }
OBJ=/tmp/rk-prebuild/$(echo "$SRC" | sha256sum | cut -c1-12)
PRE=$SRC/build-pre
hash=$(rk_src_hash "$SRC")
read -r -a targets <<<"$RK_ALL_GPU_TESTS $RK_ALL_GPU_BENCHES $RK_GPU_OTHER_TARGETS"

echo "gpu-prebuild.sh: $SRC (source hash $hash) in $OBJ"
t0=$SECONDS
cmake -S "$SRC" -B "$OBJ" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$OBJ" -j"$(nproc)" --target "${targets[@]}"
[ "$(rk_src_hash "$SRC")" = "$hash" ] ||
    { echo "gpu-prebuild.sh: the tree changed during the build; run it again" >&2; exit 1; }

# The programs, at the paths gpu.sh runs them from (relative to a build directory).
rm -rf "$PRE"
mkdir -p "$PRE"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for t in "${targets[@]}"; do
    f=$(cd "$OBJ" && find tests bench examples -type f -name "$t" -perm -u+x | head -n 1)
    [ -n "$f" ] || { echo "gpu-prebuild.sh: $t was not built" >&2; exit 1; }
    mkdir -p "$stage/$(dirname "$f")"
    cp "$OBJ/$f" "$stage/$f"
done
# gpu_quickstart links the shared library; its RUNPATH names this machine's
# build directory, so gpu.sh points LD_LIBRARY_PATH at this copy.
mkdir -p "$stage/src"
cp -P "$OBJ"/src/libringkernel.so* "$stage/src/"
tar -C "$stage" -cf - . | xz -9e -T"$(nproc)" >"$PRE/bin.tar.xz"
# The newest symbol version of the C library the programs ask for: the
# machine that runs them needs at least that one.
glibc=$(find "$stage" -type f -exec objdump -T {} + 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
{
    echo "hash=$hash"
    echo "built=$(date -u +%Y-%m-%dT%H:%MZ) on $(uname -m), glibc $(ldd --version | head -n 1 | awk '{print $NF}')"
    echo "nvcc=$(nvcc --version | tail -n 1)"
    echo "needs=$glibc"
    echo "targets=${targets[*]}"
} >"$PRE/STAMP"
echo "gpu-prebuild.sh: $PRE: $(du -h "$PRE/bin.tar.xz" | cut -f1) packed, needs $glibc, $((SECONDS - t0)) s"
