#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (AddressSanitizer and
# UndefinedBehaviorSanitizer) and runs each for a bounded time. Exits non-zero when
# a target crashes; the crashing input is kept under $BUILD/findings/ and should
# become a regression test in tests/unit/faults_test.cpp.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (default 60; env FUZZ_BUILD_DIR, FUZZ_TARGETS)
set -euo pipefail

SECONDS_PER_TARGET=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
TARGETS=${FUZZ_TARGETS:-config_fuzz idx_fuzz csv_fuzz npy_fuzz}

if ! command -v clang++ > /dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a > /dev/null 2>&1; then
  echo "installing clang and libFuzzer (Debian: clang, libclang-rt-dev)"
  apt-get install -y --no-install-recommends clang libclang-rt-dev > /dev/null
fi

CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DTRAINER_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
# shellcheck disable=SC2086
ninja -C "$BUILD" $TARGETS > /dev/null

status=0
for target in $TARGETS; do
  corpus=$BUILD/corpus/$target
  findings=$BUILD/findings/$target
  mkdir -p "$corpus" "$findings"
  seeds=()
  [[ -d "$ROOT/fuzz/seeds/$target" ]] && seeds=("$ROOT/fuzz/seeds/$target")
  log=$BUILD/$target.log
  if "$BUILD/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -rss_limit_mb=2048 \
       -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" "${seeds[@]}" > "$log" 2>&1; then
    result=clean
  else
    result="CRASH (inputs in $findings)"
    status=1
  fi
  execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  echo "$target: $result, ${execs:-?} execs in ${SECONDS_PER_TARGET}s, coverage ${coverage:-?} edges, corpus $(ls "$corpus" | wc -l) inputs"
done
exit $status
