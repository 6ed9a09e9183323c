#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through CTest.
# This is the project's test command; .ci/run calls it as it is.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}

"$ROOT/scripts/install_deps.sh"
BUILD_DIR=$BUILD_DIR "$ROOT/scripts/build.sh"
# Passive OpenMP waiting keeps concurrent test processes from starving each other of the cores.
export OMP_WAIT_POLICY=PASSIVE
ctest --test-dir "$BUILD_DIR" --output-on-failure "$@"
