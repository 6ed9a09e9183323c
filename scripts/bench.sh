#!/usr/bin/env bash
# Builds trainer and the benchmark programs in Release, runs the benchmark suite with
# a fixed seed, and writes docs/BENCHMARKS.md and bench/results.json.
# Takes about 5 minutes on 2 cores. Run it on an otherwise idle machine: other work
# on the cores lowers every number, although the ratios within one repeat hold up better.
# Usage: scripts/bench.sh [options of bench/run_bench.py, for example --repeats 5 or --sections loader]
# Environment: BUILD_DIR (default build/), TORCH_PYTHON (default /usr/bin/python3, an
# interpreter with torch for the Python rows), PYTHON (runs the suite itself, default python3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
PYTHON=${PYTHON:-python3}

[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is missing; install the Debian package 'time'" >&2; exit 2; }
BUILD_DIR=$BUILD_DIR "$ROOT/scripts/build.sh"

# Passive OpenMP waiting: busy-waiting threads would steal the cores from the process being timed.
export OMP_WAIT_POLICY=PASSIVE
export BENCH_INVOCATION="scripts/bench.sh${*:+ $*}"
cd "$ROOT"
"$PYTHON" "$ROOT/bench/run_bench.py" --repo "$ROOT" --build-dir "$BUILD_DIR" --torch-python "$TORCH_PYTHON" \
  --json "$ROOT/bench/results.json" --markdown "$ROOT/docs/BENCHMARKS.md" \
  --profile-notes "$ROOT/bench/profile_notes.md" "$@"
