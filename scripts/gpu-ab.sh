#!/usr/bin/env bash
# A/B on the GPU machine: builds several source trees at once, then runs
# gpu.sh on each in turn, interleaved (a b c, a b c, ...), each run its own
# process, so that every comparison comes from one call and one machine.
# scripts/gpu-snap.sh makes the trees from git revisions beforehand, and
# builds their programs there (build-pre/): a tree that brings them is not
# built here (gpu.sh checks they were built from it and load here).
#
#   scripts/gpu-ab.sh TREE...
#   RK_AB_REPS=2        runs of each tree
#   RK_AB_BUDGET=550    seconds for all of it: the builds first, then each
#                       run gets an equal share of what they left
#   RK_GPU_TESTS, RK_GPU_BENCHES, ... pass on to every run (gpu.sh); name
#   tests and benchmarks every tree has.
#
# Writes $OUT/ab.tar.gz (NAME-REP/ holds one run's gpu.sh output; build-NAME/
# each build's) and prints each run's rows and benchmark summary lines last.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$PWD/out/ab}
REPS=${RK_AB_REPS:-2}
BUDGET=${RK_AB_BUDGET:-550}
[ $# -gt 0 ] || { sed -n '2,16p' "$0"; exit 2; }
mkdir -p "$OUT"
R=$(mktemp -d /tmp/rk-ab.XXXXXX)
names=()
trees=()
for t in "$@"; do
    [ -f "$t/CMakeLists.txt" ] || { echo "not a source tree: $t" >&2; exit 2; }
    trees+=("$(cd "$t" && pwd)")
    names+=("$(basename "$t")")
done
set -- "${trees[@]}"

# The builds, all at once (the machine's cores are shared among them).
# The compute-sanitizer and cluster runs are left to gpu.sh's own settings.
i=0
for t in "$@"; do
    n=${names[$i]}
    mkdir -p "$R/build-$n"
    RK_GPU_SRC=$t RK_GPU_BUILD=/tmp/rk-ab-$n RK_GPU_BUILD_ONLY=1 RK_GPU_BUDGET=$BUDGET OUT=$R/build-$n \
        timeout "$BUDGET" bash "$HERE/gpu.sh" >"$R/build-$n/stdout.txt" 2>&1 &
    i=$((i + 1))
done
wait
echo "builds: $SECONDS s"
for n in "${names[@]}"; do
    printf '%s: ' "$n"
    grep -h "^build (" "$R/build-$n/summary.txt" 2>/dev/null || echo "no summary"
done

runs=$((REPS * $#))
ran=()
for rep in $(seq 1 "$REPS"); do
    i=0
    for t in "$@"; do
        n=${names[$i]}
        i=$((i + 1))
        share=$(((BUDGET - SECONDS) / runs))
        runs=$((runs - 1))
        if [ "$share" -lt 30 ]; then
            echo "== $n-$rep: skipped, ${share} s left for it"
            continue
        fi
        mkdir -p "$R/$n-$rep"
        ran+=("$n-$rep")
        RK_GPU_SRC=$t RK_GPU_BUILD=/tmp/rk-ab-$n RK_GPU_KEEP_BUILD=1 RK_GPU_BUDGET=$share OUT=$R/$n-$rep \
            timeout $((share + 10)) bash "$HERE/gpu.sh" >"$R/$n-$rep/stdout.txt" 2>&1
    done
done

rm -f "$R"/*/bench-json.tar.gz
tar -czf "$OUT/ab.tar.gz" -C "$R" .
for r in "${ran[@]}"; do
    echo "== $r"
    cat "$R/$r/summary.txt" 2>/dev/null
    grep -h "^summary" "$R/$r/bench.txt" 2>/dev/null
done
