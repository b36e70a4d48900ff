#!/usr/bin/env bash
# Installs what bench/report.py needs beyond the standard library: matplotlib
# from Debian (python3-matplotlib). Safe to re-run.
exec "$(dirname "$0")/deps.sh" python3 python3-matplotlib
