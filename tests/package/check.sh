#!/usr/bin/env bash
# Installs the build into a scratch prefix, then builds a consumer with
# find_package(ringkernel) and another with pkg-config, and runs both.
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src" -B "$work/cm" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cm" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64" "$work/cm/consumer"
pc=$(ls -d "$work"/prefix/lib*/pkgconfig)
cc -std=c11 "$src/consumer.c" -o "$work/pc-consumer" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs ringkernel)
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64" "$work/pc-consumer"
