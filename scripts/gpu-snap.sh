#!/usr/bin/env bash
# Makes source trees of git revisions for scripts/gpu-ab.sh, here, before a
# device call: build-snap/NAME holds `git archive REV` but docs/;
# build-snap/ gets a copy of build-deps/ (the Debian packages gpu.sh unpacks
# where cmocka is missing; fetched with apt-get download first if this
# checkout lacks them) beside build-snap/scripts/. Each tree's programs
# are built here too (scripts/gpu-prebuild.sh: build-snap/NAME/build-pre/,
# 6-8 MB packed), so that the device call does not build them;
# RK_SNAP_PREBUILD=0 leaves that to the device machine.
#
#   scripts/gpu-snap.sh NAME=REV...     e.g. base=main new=HEAD
#
# Then one device call, with carry ["build-snap"]:
#   bash build-snap/scripts/gpu-ab.sh build-snap/base build-snap/new
# build-snap/scripts/ is this checkout's scripts/ (the A/B driver and gpu.sh
# that run every tree).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { sed -n '2,15p' "$0"; exit 2; }
rm -rf build-snap
mkdir -p build-snap
cp -r scripts build-snap/
# The device machine has no cmocka: without the packages every build there fails.
if ! ls build-deps/*.deb >/dev/null 2>&1; then
    mkdir -p build-deps
    (cd build-deps && apt-get download libcmocka-dev libcmocka0 pkgconf pkgconf-bin libpkgconf3) ||
        { echo "gpu-snap.sh: could not fetch build-deps/ (cmocka's Debian packages)" >&2; exit 1; }
fi
cp -r build-deps build-snap/
for arg in "$@"; do
    name=${arg%%=*}
    rev=${arg#*=}
    case $name in '' | *[!A-Za-z0-9_.-]* | scripts | build-deps) echo "bad name: $name" >&2; exit 2 ;; esac
    mkdir "build-snap/$name"
    # Not docs/ (5 MB of benchmark records a tree): the call carries 64 MiB at most.
    git archive "$rev" -- . ':(exclude)docs' | tar -xf - -C "build-snap/$name"
    echo "build-snap/$name: $(git rev-parse --short "$rev") $(git log -1 --format=%s "$rev" | cut -c1-70)"
    if [ "${RK_SNAP_PREBUILD:-1}" != 0 ]; then
        bash scripts/gpu-prebuild.sh "build-snap/$name" >"build-snap/$name.prebuild.log" 2>&1 ||
            { tail -n 20 "build-snap/$name.prebuild.log" >&2; exit 1; }
        tail -n 1 "build-snap/$name.prebuild.log"
    fi
done
size=$(du -sm --apparent-size build-snap | cut -f1)
echo "build-snap/: $size MiB"
[ "$size" -le 52 ] || echo "gpu-snap.sh: with the checkout, build-snap/ may pass the 64 MiB a device call carries" >&2
