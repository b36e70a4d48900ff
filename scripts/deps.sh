#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, or the ones
# named as arguments. Safe to re-run: it does nothing when everything is
# already there.
set -euo pipefail

pkgs=(cmake gcc make pkg-config libcmocka-dev spin)
[ $# -gt 0 ] && pkgs=("$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "$(basename "$0"): installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
