#!/usr/bin/env bash
# From a fresh Debian 12 machine to a trained Fashion-MNIST CNN: installs what is
# missing, builds in Release, trains configs/fashion_mnist_cnn.yaml, then tests the
# checkpoint on the 10,000 test images. Extra arguments are passed to `trainer fit`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
TRAINER=$BUILD_DIR/app/trainer

"$ROOT/scripts/install_deps.sh"
BUILD_DIR=$BUILD_DIR "$ROOT/scripts/build.sh"

cd "$ROOT"
run_dir=$("$TRAINER" fit --config configs/fashion_mnist_cnn.yaml "$@" | tail -n 1)
test_dir=$("$TRAINER" test --config "$run_dir/config.yaml" --ckpt_path "$run_dir/checkpoints/last.ckpt" | tail -n 1)
test_acc=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "test/acc") c = i; next } END { print $c }' \
  "$test_dir/metrics.csv")

echo "test/acc=$test_acc (checkpoint $run_dir/checkpoints/last.ckpt)"
echo "run directory:"
echo "$run_dir"
