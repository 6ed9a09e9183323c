#!/usr/bin/env bash
# Configures and builds trainer in Release into BUILD_DIR (default: build/).
# Usage: scripts/build.sh [extra cmake arguments]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}

cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
cmake --build "$BUILD_DIR"
