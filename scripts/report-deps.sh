#!/usr/bin/env bash
# Installs what bench/report.py needs beyond the standard library: matplotlib
# from Debian (python3-matplotlib). Safe to re-run: it does nothing when the
# package is already there.
set -euo pipefail

pkgs=(python3 python3-matplotlib)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "report-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
