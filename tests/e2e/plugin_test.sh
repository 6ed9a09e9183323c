#!/usr/bin/env bash
# End-to-end test of a C++ model plug-in: builds examples/plugin_model against this
# build's exported CMake package, trains the plug-in model for a few batches on
# Fashion-MNIST, and exports its checkpoint.
# Usage: plugin_test.sh TRAINER_BUILD_DIR PATH_TO_STOCK_TRAINER
set -uo pipefail

BUILD_DIR=${1:?usage: plugin_test.sh TRAINER_BUILD_DIR PATH_TO_STOCK_TRAINER}
STOCK_TRAINER=${2:?usage: plugin_test.sh TRAINER_BUILD_DIR PATH_TO_STOCK_TRAINER}
HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=$(cd "$HERE/../../examples/plugin_model" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=warn

source "$HERE/harness.sh"
metric() {  # metric FILE COLUMN first|last: the first or last non-empty value of COLUMN in a CSV
  awk -F, -v column="$2" -v which="$3" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next }
    c && $c != "" { if (!seen) first = $c; seen = 1; last = $c }
    END { print (which == "first" ? first : last) }' "$1"
}
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

start=$(date +%s)
cmake -S "$EXAMPLE" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -Dtrainer_BUILD_DIR="$BUILD_DIR" \
  > "$WORK/build.log" 2>&1 && cmake --build "$WORK/build" >> "$WORK/build.log" 2>&1
status=$?
echo "     plug-in build took $(( $(date +%s) - start )) s"
[[ $status -eq 0 ]] || tail -n 30 "$WORK/build.log"
check "plug-in example builds" test "$status" -eq 0
MY_TRAINER="$WORK/build/my_trainer"

"$MY_TRAINER" fit --config "$EXAMPLE/config.yaml" --trainer.default_root_dir="$WORK/runs" --trainer.max_epochs=2 \
  --trainer.limit_train_batches=20 --trainer.limit_val_batches=5 > "$WORK/fit.out" 2> "$WORK/fit.err"
check "plug-in model trains" test "$?" -eq 0
RUN=$(tail -n 1 "$WORK/fit.out")
first_loss=$(metric "$RUN/metrics.csv" train/loss first)
last_loss=$(metric "$RUN/metrics.csv" train/loss last)
val_acc=$(metric "$RUN/metrics.csv" val/acc last)
echo "     train/loss epoch 0 = $first_loss, epoch 1 = $last_loss; val/acc = $val_acc"
# 2 x 20 batches take the loss from about 1.2 to about 0.6 and the accuracy to about 0.78.
check "plug-in train loss falls by at least 30%" less_than "$last_loss" "$(awk -v l="$first_loss" 'BEGIN { print 0.7 * l }')"
check "plug-in val accuracy above 70%" less_than 0.70 "$val_acc"

"$MY_TRAINER" export --ckpt_path "$RUN/checkpoints/last.ckpt" > /dev/null 2>&1
check "plug-in checkpoint exports" test -s "$RUN/checkpoints/state_dict.pt"
check "the stock trainer lacks the plug-in" grep -qF "unknown model 'gated_mlp'" \
  <("$STOCK_TRAINER" fit --config "$EXAMPLE/config.yaml" --print_config 2>&1)

finish
