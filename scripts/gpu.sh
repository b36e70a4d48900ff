#!/usr/bin/env bash
# The one script run on the GPU machine: builds the project in Release for
# sm_90, runs the GPU tests, runs the GPU benchmarks (round trip, then
# throughput, sync and pipeline), then the GPU tests again under
# compute-sanitizer memcheck and racecheck with smaller counts. Logs and
# results go to $OUT (default ./out/gpu); a summary table is printed last.
# Every step runs under `timeout`, within an overall budget (RK_GPU_BUDGET
# seconds, default 560) so that a 10-minute slot returns everything it did.
# Every step of every test no longer fits one budget (on the H200 in session
# 27 the sanitizer runs used it up before the benchmarks): a full run is two
# calls, one with RK_GPU_SKIP_SANITIZERS=1, one with a short RK_GPU_BENCHES.
#
# Each benchmark writes JSON (--json); they are packed into one file,
# $OUT/bench-json.tar.gz (so that $OUT holds 7 files), for
#   /usr/bin/python3 bench/report.py out/gpu/bench-json.tar.gz --command "bash scripts/gpu.sh"
#
#   scripts/gpu.sh                     all steps
#   RK_GPU_TESTS="a b"                 only these GPU tests (default: all)
#   RK_GPU_SANITIZE_TESTS="a b"        only these under compute-sanitizer (default: RK_GPU_TESTS)
#   RK_GPU_CLUSTER_TESTS="a b"         these again with RKT_CLUSTER=8 (clusters of 8 blocks)
#   RK_GPU_BENCHES="a b"               only these benchmarks (default: all; set but empty: none)
#   RK_GPU_SKIP_SANITIZERS=1           skip the compute-sanitizer runs
#   RK_GPU_SANITIZE_LIMIT=100          seconds for each sanitizer run (test_gpu_group: 240)
#   RK_GPU_CPU_BENCH=1                 also bench_actor (CPU backend), stealing off and on, twice
#   RK_BENCH_TRIALS=100000             round-trip trials
#   RK_BENCH_SECONDS=10                the round-trip benchmark's throughput run
#   RK_BENCH_K2K_ONLY=1                the round-trip benchmark's K2K rows only (floors, tiers)
#   RK_BENCH_SUSTAINED_SECONDS=60      bench_gpu_throughput's sustained run (the issue asks 60)
#   RK_BENCH_CONFIG_SECONDS=1          each throughput configuration
#   RK_BENCH_PIPELINE_SECONDS=3        each pipeline lane count
#   RK_GPU_SRC=DIR                     build the source tree DIR (default: this script's tree)
#   RK_GPU_BUILD=DIR                   build directory (default /tmp/rk-gpu-build)
#   RK_GPU_BUILD_ONLY=1                stop once everything is built
#   RK_GPU_KEEP_BUILD=1                build into the existing build directory
#                                      (scripts/gpu-ab.sh builds once, then runs)
#   RK_GPU_PREBUILT=DIR                programs built beforehand by scripts/gpu-prebuild.sh
#                                      (default: the tree's build-pre/, if there);
#                                      taken only when built from this very tree
#                                      and they load here; "" to build here anyway
set -uo pipefail
# RK_GPU_SRC as the caller means it: relative to the caller's directory.
SRC=$(cd "${RK_GPU_SRC:-$(dirname "$0")/..}" && pwd) || exit 1
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
. "$ROOT/scripts/gpu-targets.sh"
OUT=${OUT:-$SRC/out/gpu}
BUILD=${RK_GPU_BUILD:-/tmp/rk-gpu-build}
BUDGET=${RK_GPU_BUDGET:-560}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"

say() { echo "[gpu.sh +${SECONDS}s] $*"; }
row() { printf '%-34s %-8s %s\n' "$1" "$2" "$3" | tee -a "$SUMMARY"; }
left() { echo $((BUDGET - SECONDS)); }

# Runs "$@" under timeout: at most $1 seconds and what is left of the budget.
# Appends output to $LOG; records a summary row named $NAME.
step() {
    local limit=$1
    shift
    local rest
    rest=$(($(left) - 15))
    if [ "$rest" -lt 10 ]; then
        row "$NAME" "SKIP" "no time left in the budget"
        return 0
    fi
    [ "$limit" -gt "$rest" ] && limit=$rest
    local t0=$SECONDS rc
    echo "===== $NAME: $* (limit ${limit}s) =====" >>"$LOG"
    timeout --kill-after=10 "$limit" "$@" >>"$LOG" 2>&1
    rc=$?
    local status=PASS
    case $rc in
    0) status=PASS ;;
    77) status=SKIP ;;
    124 | 137) status=TIMEOUT ;;
    *) status="FAIL($rc)" ;;
    esac
    echo "===== $NAME: rc=$rc in $((SECONDS - t0)) s =====" >>"$LOG"
    row "$NAME" "$status" "$((SECONDS - t0)) s; $(tail -n 3 "$LOG" | grep -v '=====' | tail -n 1 | cut -c1-110)"
    return 0
}

# ---- what ran where ---------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command: $0 $*"
    echo "host: $(hostname) $(uname -srm)"
    nvidia-smi --query-gpu=name,driver_version,pci.bus_id,clocks.sm,clocks.max.sm,clocks.mem,persistence_mode,power.draw,power.limit,temperature.gpu --format=csv 2>&1
    nvidia-smi -q -d CLOCK,PERFORMANCE 2>&1 | head -60
    nvcc --version 2>&1 | tail -2
    ldd --version 2>&1 | head -1
    grep -h PRETTY_NAME /etc/os-release 2>/dev/null
    cmake --version 2>&1 | head -1
    command -v compute-sanitizer || echo "compute-sanitizer: not found"
    nproc
} >"$OUT/env.txt"
say "$(head -n 4 "$OUT/env.txt" | tail -n 1)"

# ---- build dependencies missing on the machine (carried as Debian packages) --
# build-deps/ is ignored by git; make it here before the device call with
#   mkdir -p build-deps && (cd build-deps && apt-get download libcmocka-dev libcmocka0 pkgconf pkgconf-bin libpkgconf3)
# and name it in the call's carry.
if ! pkg-config --exists cmocka 2>/dev/null; then
    if ! ls "$ROOT"/build-deps/*.deb >/dev/null 2>&1; then
        echo "gpu.sh: cmocka is missing here and build-deps/ holds no packages: make it before the call (above) and carry it" >&2
        exit 1
    fi
    DEPS=$BUILD.deps # one per build: gpu-ab.sh builds several at once
    mkdir -p "$DEPS"
    for deb in "$ROOT"/build-deps/*.deb; do
        [ -f "$deb" ] && dpkg-deb -x "$deb" "$DEPS"
    done
    export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export PKG_CONFIG="$DEPS/usr/bin/pkgconf"
    command -v pkg-config >/dev/null && PKG_CONFIG=$(command -v pkg-config)
    export PKG_CONFIG_PATH="$DEPS/usr/lib/x86_64-linux-gnu/pkgconfig"
    export PKG_CONFIG_SYSROOT_DIR="$DEPS"
    say "cmocka from build-deps/ ($("$PKG_CONFIG" --modversion cmocka 2>&1))"
fi

# ---- build ------------------------------------------------------------------
LOG=$OUT/build.log
: >"$LOG"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
read -r -a TESTS <<<"${RK_GPU_TESTS:-$RK_ALL_GPU_TESTS}"
read -r -a BENCHES <<<"${RK_GPU_BENCHES-$RK_ALL_GPU_BENCHES}"
# Only what runs here: the library, the GPU tests and the example; the
# benchmarks after them, apart, so that one that does not build costs only itself.
configure_and_build() {
    [ -n "${RK_GPU_KEEP_BUILD:-}" ] || rm -rf "$BUILD"
    cmake -S "$1" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >>"$LOG" 2>&1 &&
        cmake --build "$BUILD" -j"$(nproc)" --target ringkernel_static "${TESTS[@]}" gpu_quickstart >>"$LOG" 2>&1
}

# Programs built beforehand (scripts/gpu-prebuild.sh): unpacked into
# /tmp/rk-pre-HASH and used instead of a build, if built from this tree (the
# same source hash) and if they load on this machine (another C library
# could refuse them: then this machine builds, as it would without them).
# The handler source that test_gpu_nvrtc compiles at run time includes
# device.cuh from the tree, and gpu_quickstart loads libringkernel.so from
# the pack (the programs name the other machine's paths).
prebuilt() {
    local pre=$1 want have dir tmp bad
    [ -n "$pre" ] && [ -f "$pre/STAMP" ] && [ -f "$pre/bin.tar.xz" ] || return 1
    want=$(sed -n 's/^hash=//p' "$pre/STAMP")
    have=$(rk_src_hash "$SRC")
    if [ "$want" != "$have" ]; then
        row "prebuilt programs" "SKIP" "built from another tree ($want; this one: $have): building here"
        return 1
    fi
    # Unpacked once per tree and machine (gpu-ab.sh runs each tree several
    # times), beside and then moved into place: two trees of the same source
    # unpacking at once each finish their own.
    dir=/tmp/rk-pre-$have
    if [ ! -f "$dir/.unpacked" ]; then
        tmp=$(mktemp -d "$dir.XXXXXX") || return 1
        if ! { xz -dc "$pre/bin.tar.xz" | tar -xf - -C "$tmp"; } >>"$LOG" 2>&1 &&
            ! python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$pre/bin.tar.xz" "$tmp" >>"$LOG" 2>&1; then
            rm -rf "$tmp"
            row "prebuilt programs" "SKIP" "could not unpack $pre/bin.tar.xz (build.log): building here"
            return 1
        fi
        touch "$tmp/.unpacked"
        [ -f "$dir/.unpacked" ] || rm -rf "$dir" # what an interrupted run left
        mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
        [ -f "$dir/.unpacked" ] || return 1
    fi
    bad=$(LD_LIBRARY_PATH="$dir/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" find "$dir" -type f -perm -u+x -exec ldd {} + 2>&1 |
        grep -E "not found|version .* not found" | sort -u | head -n 3)
    if [ -n "$bad" ]; then
        echo "$bad" >>"$LOG"
        row "prebuilt programs" "SKIP" "they do not load here ($(echo "$bad" | head -n 1 | tr -s ' \t' ' ' | cut -c1-60)): building here"
        return 1
    fi
    BUILD=$dir
    export RK_INCLUDE_DIR=$SRC/include
    export LD_LIBRARY_PATH="$dir/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    row "build (prebuilt, sm_90)" "PASS" "0 s; built $(sed -n 's/^built=//p' "$pre/STAMP" | cut -c1-50); source hash $have"
}

t0=$SECONDS
PREBUILT=
if prebuilt "${RK_GPU_PREBUILT-$SRC/build-pre}"; then
    PREBUILT=1
elif ! configure_and_build "$SRC"; then
    row "build (Release, sm_90)" "FAIL" "$((SECONDS - t0)) s; see build.log"
    tail -n 40 "$LOG"
    cat "$SUMMARY"
    exit 1
else
    row "build (Release, sm_90)" "PASS" "$((SECONDS - t0)) s"
fi

t0=$SECONDS
BUILT=()
if [ -n "$PREBUILT" ]; then
    for b in "${BENCHES[@]}"; do
        [ -x "$BUILD/bench/gpu/$b" ] || [ -x "$BUILD/bench/diag/$b" ] && BUILT+=("$b")
    done
elif [ ${#BENCHES[@]} -eq 0 ]; then
    : # RK_GPU_BENCHES="": none
elif cmake --build "$BUILD" -j"$(nproc)" --target "${BENCHES[@]}" >>"$LOG" 2>&1; then
    BUILT=("${BENCHES[@]}")
else
    for b in "${BENCHES[@]}"; do
        cmake --build "$BUILD" -j"$(nproc)" --target "$b" >>"$LOG" 2>&1 && BUILT+=("$b")
    done
fi
status=PASS
[ ${#BUILT[@]} -eq ${#BENCHES[@]} ] || status=FAIL
row "build benchmarks" "$status" "$((SECONDS - t0)) s; ${#BUILT[@]} of ${#BENCHES[@]} built; see build.log"
[ -n "${RK_GPU_BUILD_ONLY:-}" ] && exit 0

T=$BUILD/tests/gpu
declare -A LIMIT=([test_gpu_roundtrip]=150 [test_gpu_calls]=120 [test_gpu_k2k]=90 [test_gpu_cluster_k2k]=120 [test_gpu_lifecycle]=150 [test_gpu_faults]=120
    [test_gpu_nvrtc]=60 [test_gpu_checkpoint]=120 [test_gpu_device_caps]=90 [test_gpu_supervisor]=90 [test_gpu_state_pool]=300 [test_gpu_group]=240
    [test_gpu_light]=120 [test_gpu_light_runtime]=120 [test_gpu_kernel_gone]=90)

# ---- GPU tests, full counts -------------------------------------------------
LOG=$OUT/tests.log
: >"$LOG"
for t in "${TESTS[@]}"; do
    NAME=$t
    step "${LIMIT[$t]}" "$T/$t"
done

# The same tests again in a kernel launched as clusters of 8 blocks, where
# actors of one cluster send K2K through shared memory (the cluster tier,
# turned on for them):
# RK_GPU_CLUSTER_TESTS picks them (default: those that send K2K or hold
# blocks; "" for none).
read -r -a CLUSTER_TESTS <<<"${RK_GPU_CLUSTER_TESTS-test_gpu_k2k test_gpu_checkpoint test_gpu_lifecycle test_gpu_faults}"
for t in "${CLUSTER_TESTS[@]}"; do
    [[ " ${TESTS[*]} " == *" $t "* ]] || continue
    NAME="$t (clusters of 8)"
    step "${LIMIT[$t]}" env RKT_CLUSTER=8 RK_CUDA_CLUSTER_K2K_CAPACITY=32 "$T/$t"
done

# The host queue's plain slots (RK_CUDA_HOST_LL=0: one publication fence
# per batch of replies) stay a choice: the round-trip test runs with them too.
if [[ " ${TESTS[*]} " == *" test_gpu_roundtrip "* ]]; then
    NAME="test_gpu_roundtrip (plain host queue slots)"
    step "${LIMIT[test_gpu_roundtrip]}" env RK_CUDA_HOST_LL=0 "$T/test_gpu_roundtrip"
fi

NAME=gpu_quickstart
step 60 "$BUILD/examples/gpu_quickstart"

# ---- the NVTX ranges as Nsight Systems records them (README: Profiling) -----
NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -n 1)
NAME="nsys: NVTX ranges of gpu_quickstart"
if [ -n "$NSYS" ]; then
    step 120 bash -c "'$NSYS' profile --trace=nvtx,cuda --force-overwrite true -o /tmp/rk-nsys '$BUILD/examples/gpu_quickstart' >/dev/null &&
        '$NSYS' stats --report nvtx_sum --format csv /tmp/rk-nsys.nsys-rep >'$OUT/nsys-nvtx.csv' 2>&1;
        cat '$OUT/nsys-nvtx.csv'; echo \"ranges named rk_*: \$(grep -o 'rk_[a-z_]*' '$OUT/nsys-nvtx.csv' | sort -u | tr '\n' ' ')\""
else
    row "$NAME" "SKIP" "nsys not found on this machine"
fi

# ---- the GPU tests under compute-sanitizer, smaller counts -------------------
# Before the benchmarks: a short slot checks correctness first. Tests in SLOW
# (two kernels, about a minute under racecheck) run after the benchmarks, so
# they cannot starve them of the budget.
# RK_GPU_SANITIZE_TESTS picks the tests (default: all), in that order.
SLOW=" test_gpu_group "
# sanitize LIST: memcheck and racecheck of each test in LIST.
sanitize() {
    [ -z "${RK_GPU_SKIP_SANITIZERS:-}" ] && command -v compute-sanitizer >/dev/null || return 0
    (
        # The pool: memory the kernel uses is allocated before it starts (the
        # sanitizer only knows the allocations a kernel was launched with).
        export RKT_UNDER_TOOL=1 RK_STRESS_MESSAGES=2000 RK_STRESS_CYCLES=20 RK_STRESS_HOPS=50 RK_GROUP_MIGRATIONS=2 RK_GROUP_STATE_MB=1 RK_GROUP_LOAD_ROUNDS=2 RK_SKIP_FAULT_LOOP=1 RK_CUDA_START_TIMEOUT_MS=120000 RKT_RESTARTS=20
        export RK_CUDA_PINNED_POOL=268435456 RK_CUDA_STATE_ARENA=67108864
        for t in "$@"; do
            for tool in memcheck racecheck; do
                NAME="$tool $t"
                limit=${RK_GPU_SANITIZE_LIMIT:-100}
                [[ "$SLOW" == *" $t "* ]] && limit=240
                # racecheck does not see synchronisation through DSMEM: it
                # reports the light actors' cluster rings (light.cuh), so
                # test_gpu_light leaves those cases out under it.
                step "$limit" env RK_LIGHT_RACECHECK=$([ "$tool" = racecheck ] && echo 1 || echo 0) \
                    compute-sanitizer --tool "$tool" --error-exitcode 99 "$T/$t"
            done
        done
    )
}
# test_gpu_state_pool is left out: memcheck reports the kernel's accesses to
# pool states (allocated after the launch) as out of bounds. So is
# test_gpu_kernel_gone, whose handler traps on purpose.
DEFAULT_SANITIZE=" ${TESTS[*]} "
DEFAULT_SANITIZE=${DEFAULT_SANITIZE/ test_gpu_state_pool / }
DEFAULT_SANITIZE=${DEFAULT_SANITIZE/ test_gpu_kernel_gone / }
read -r -a SANITIZE <<<"${RK_GPU_SANITIZE_TESTS:-$DEFAULT_SANITIZE}"
FAST=()
LATE=()
for t in "${SANITIZE[@]}"; do
    if [[ "$SLOW" == *" $t "* ]]; then LATE+=("$t"); else FAST+=("$t"); fi
done
LOG=$OUT/sanitizer.log
: >"$LOG"
sanitize "${FAST[@]}"

# ---- benchmarks -------------------------------------------------------------
LOG=$OUT/bench.txt
: >"$LOG"
JSON=/tmp/rk-bench-json
rm -rf "$JSON"
mkdir -p "$JSON"
SUSTAINED=${RK_BENCH_SUSTAINED_SECONDS:-60}
# bench NAME LIMIT ARGS...: runs bench/gpu/NAME with ARGS and --json, if it built.
bench() {
    NAME=$1
    local limit=$2
    shift 2
    if [[ " ${BENCHES[*]} " != *" $NAME "* ]]; then
        return 0 # not selected (RK_GPU_BENCHES)
    fi
    if [[ " ${BUILT[*]} " != *" $NAME "* ]]; then
        row "$NAME" "SKIP" "did not build (build.log)"
        return 0
    fi
    step "$limit" "$BUILD/bench/gpu/$NAME" "$@" --json "$JSON/$NAME.json"
}
bench bench_gpu_roundtrip 170 --trials "${RK_BENCH_TRIALS:-100000}" --seconds "${RK_BENCH_SECONDS:-10}" --k2k "${RK_BENCH_K2K_ONLY:-0}"
# The matrix (every payload, 1 and 8 producers, 1, 8 and 128 actors; rk_send
# and batches of 64), then the issue's sustained run: 64 B from 8 producers
# in batches of 64 to 128 actors.
bench bench_gpu_throughput $((SUSTAINED + 150)) --seconds "$SUSTAINED" --config-seconds "${RK_BENCH_CONFIG_SECONDS:-1}" \
    --producers 1,8 --actors 1,8,128 --batch 64 --sustained-producers 8 --sustained-actors 128 --sustained-batch 64
bench bench_gpu_sync 60
bench bench_gpu_pipeline 90 --seconds "${RK_BENCH_PIPELINE_SECONDS:-3}"
bench bench_gpu_peer 120
bench bench_gpu_group 150
bench bench_gpu_light 60
NAME=diag_roundtrip
if [[ " ${BUILT[*]} " == *" diag_roundtrip "* ]]; then
    step 60 "$BUILD/bench/diag/diag_roundtrip" --trials 20000
fi
NAME=diag_k2k
if [[ " ${BUILT[*]} " == *" diag_k2k "* ]]; then
    step 60 "$BUILD/bench/diag/diag_k2k" --trips 100000
    for cs in 2 8; do
        NAME="diag_k2k, clusters of $cs"
        step 60 "$BUILD/bench/diag/diag_k2k" --trips 100000 --cluster "$cs"
    done
fi
NAME=diag_tenant
if [[ " ${BUILT[*]} " == *" diag_tenant "* ]]; then
    step 60 "$BUILD/bench/diag/diag_tenant" --batches 4000 --json "$JSON/diag_tenant.json"
fi
NAME=diag_lifecycle
if [[ " ${BUILT[*]} " == *" diag_lifecycle "* ]]; then
    step 60 "$BUILD/bench/diag/diag_lifecycle" --trials 2000 --json "$JSON/diag_lifecycle.json"
fi
NAME=diag_lifecycle_probed
if [[ " ${BUILT[*]} " == *" diag_lifecycle_probed "* ]]; then
    step 60 "$BUILD/bench/diag/diag_lifecycle_probed" --probed 1000
fi
NAME=diag_light
if [[ " ${BUILT[*]} " == *" diag_light "* ]]; then
    step 200 "$BUILD/bench/diag/diag_light" --trips 100000 --messages 1000000
fi
NAME=diag_sysload
if [[ " ${BUILT[*]} " == *" diag_sysload "* ]]; then
    step 30 "$BUILD/bench/diag/diag_sysload" --reps 2000
fi
# The CPU backend's benchmark on this host (more cores than the development
# machine): work stealing off, then on, twice (RK_GPU_CPU_BENCH=1).
if [ -n "${RK_GPU_CPU_BENCH:-}" ]; then
    if [ -n "$PREBUILT" ] || cmake --build "$BUILD" -j"$(nproc)" --target bench_actor >>"$OUT/build.log" 2>&1; then
        for r in 1 2; do
            NAME="bench_actor, RK_CPU_STEAL=0 ($r)"
            step 120 env RK_CPU_STEAL=0 "$BUILD/bench/bench_actor"
            NAME="bench_actor ($r)"
            step 120 "$BUILD/bench/bench_actor"
        done
    else
        row "bench_actor" "FAIL" "did not build (build.log)"
    fi
fi
if ls "$JSON"/*.json >/dev/null 2>&1; then
    tar -czf "$OUT/bench-json.tar.gz" -C "$JSON" .
fi

# ---- the slow sanitizer runs, last ------------------------------------------
LOG=$OUT/sanitizer.log
sanitize "${LATE[@]}"

echo
echo "==== summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(head -n 1 "$OUT/env.txt" | cut -d' ' -f2)) ===="
grep -E "^(NVIDIA|name)" "$OUT/env.txt" | head -n 2
# The round trip's rows (from its part of the log), then the other benchmarks' summary lines.
sed -n '/^===== bench_gpu_roundtrip: /,/^===== bench_gpu_roundtrip: rc=/p' "$OUT/bench.txt" |
    grep -E "^  (pingpong|launch|graph|rk_|backend|injection|k2k|lifecycle|throughput)|^summary|^ratio" | head -n 48
grep -E "^summary (bench_gpu_|diag_tenant)" "$OUT/bench.txt"
cat "$SUMMARY"
