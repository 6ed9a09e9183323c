#!/usr/bin/env bash
# End-to-end tests of the trainer binary on real Fashion-MNIST: a short fit whose
# loss must fall, evaluation from its checkpoint, and every documented input error.
# Usage: cli_test.sh PATH_TO_TRAINER
set -uo pipefail

TRAINER=${1:?usage: cli_test.sh PATH_TO_TRAINER}
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGS=$(cd "$HERE/../../configs" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=warn

source "$HERE/harness.sh"

# metric FILE COLUMN first|last: the first or last non-empty value of COLUMN in a CSV.
metric() {
  awk -F, -v column="$2" -v which="$3" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next }
    c && $c != "" { if (!seen) first = $c; seen = 1; last = $c }
    END { print (which == "first" ? first : last) }' "$1"
}
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
count_runs() { find "$WORK/runs" -mindepth 2 -maxdepth 2 -name 'version_*' 2>/dev/null | wc -l; }

# ---- a short fit on real data: 3 epochs of 30 batches ----
SMALL=(--trainer.default_root_dir="$WORK/runs" --trainer.max_epochs=3 --trainer.limit_train_batches=30
       --trainer.limit_val_batches=8 --trainer.log_every_n_steps=10)
"$TRAINER" fit --config "$CONFIGS/fashion_mnist_mlp.yaml" "${SMALL[@]}" > "$WORK/fit.out" 2> "$WORK/fit.err"
check "fit exits 0" equal "$?" 0
RUN=$(tail -n 1 "$WORK/fit.out")
check "fit prints the run directory last" test -d "$RUN"
check "run directory is versioned" equal "$RUN" "$WORK/runs/fashion_mnist_mlp/version_0"
check "run directory holds config, metrics, checkpoint" \
  test -s "$RUN/config.yaml" -a -s "$RUN/metrics.csv" -a -s "$RUN/checkpoints/last.ckpt"
first_loss=$(metric "$RUN/metrics.csv" train/loss first)
last_loss=$(metric "$RUN/metrics.csv" train/loss last)
val_acc=$(metric "$RUN/metrics.csv" val/acc last)
echo "     train/loss epoch 0 = $first_loss, epoch 2 = $last_loss; val/acc = $val_acc"
# 3 x 30 batches of an MLP take the epoch-mean loss from about 1.0 to about 0.55.
check "train loss falls by at least 25%" less_than "$last_loss" "$(awk -v l="$first_loss" 'BEGIN { print 0.75 * l }')"
check "val accuracy above 70%" less_than 0.70 "$val_acc"
check "step metrics are logged every 10 steps" equal "$(metric "$RUN/metrics.csv" train/loss_step first)" \
  "$(awk -F, 'NR == 2 { print $3 }' "$RUN/metrics.csv")"

# ---- evaluation from the checkpoint ----
"$TRAINER" validate --config "$RUN/config.yaml" --ckpt_path "$RUN/checkpoints/last.ckpt" > "$WORK/val.out" 2>&1
VAL_RUN=$(tail -n 1 "$WORK/val.out")
check "validate reproduces the final val/acc exactly" equal "$(metric "$VAL_RUN/metrics.csv" val/acc last)" "$val_acc"

"$TRAINER" test --config "$RUN/config.yaml" --ckpt_path last > "$WORK/test1.out" 2>&1
"$TRAINER" test --config "$RUN/config.yaml" --ckpt_path "$RUN/checkpoints/last.ckpt" > "$WORK/test2.out" 2>&1
TEST1=$(metric "$(tail -n 1 "$WORK/test1.out")/metrics.csv" test/acc last)
TEST2=$(metric "$(tail -n 1 "$WORK/test2.out")/metrics.csv" test/acc last)
echo "     test/acc = $TEST1"
check "test accuracy above 70%" less_than 0.70 "$TEST1"
check "test from 'last' and from the path agree" equal "$TEST1" "$TEST2"

# ---- configs ----
"$TRAINER" fit --config "$RUN/config.yaml" --trainer.max_epochs=1 --trainer.limit_train_batches=2 > "$WORK/refit.out" 2>&1
check "fit runs from a saved config.yaml" equal "$?" 0
"$TRAINER" fit --log-level warn --config "$RUN/config.yaml" --trainer.fast_dev_run=true > "$WORK/quiet.out" 2>&1
check "--log-level after the subcommand works" equal "$?:$(grep -c 'info\]' "$WORK/quiet.out")" "0:0"
"$TRAINER" fit --config "$CONFIGS/fashion_mnist_cnn.yaml" --print_config > "$WORK/printed.yaml"
"$TRAINER" fit --config "$WORK/printed.yaml" --print_config > "$WORK/reprinted.yaml"
check "print_config output reloads unchanged" cmp -s "$WORK/printed.yaml" "$WORK/reprinted.yaml"
check "both override spellings work" equal \
  "$("$TRAINER" fit --config "$CONFIGS/fashion_mnist_cnn.yaml" --trainer.max_epochs 7 --print_config | grep max_epochs)" \
  "  max_epochs: 7"

# ---- bad input: one line, documented exit code, nothing created ----
runs_before=$(count_runs)
expect_error() {  # expect_error CODE TEXT ARGS...: exit code CODE, one stderr line containing TEXT
  local code=$1 text=$2
  shift 2
  "$TRAINER" "$@" > "$WORK/err.out" 2> "$WORK/err.txt"
  local status=$?
  [[ $status -eq $code ]] || { echo "     exit code $status, expected $code: $(cat "$WORK/err.txt")"; return 1; }
  [[ $(wc -l < "$WORK/err.txt") -eq 1 ]] || { echo "     expected one line:"; cat "$WORK/err.txt"; return 1; }
  grep -qF -- "$text" "$WORK/err.txt" || { echo "     missing '$text' in: $(cat "$WORK/err.txt")"; return 1; }
}
CNN=(fit --config "$CONFIGS/fashion_mnist_cnn.yaml" --trainer.default_root_dir="$WORK/runs")
check "missing config file exits 2" expect_error 2 "missing.yaml: cannot open config file" \
  fit --config "$WORK/missing.yaml"
check "missing dataset folder exits 3" expect_error 3 "dataset folder '/nonexistent/data' not found" \
  "${CNN[@]}" --data.init_args.root=/nonexistent/data
check "unknown model exits 2" expect_error 2 "unknown model 'cnnn'; choose one of 'cnn', 'gpt', 'mlp', 'resnet', 'torchscript'; did you mean 'cnn'?" \
  "${CNN[@]}" --model=cnnn
check "unknown key names the source" expect_error 2 \
  "command line (--trainer.max_epoch): trainer.max_epoch: unknown key; did you mean 'trainer.max_epochs'?" \
  "${CNN[@]}" --trainer.max_epoch=2
check "cuda without a gpu exits 5" expect_error 5 "sees 0 CUDA devices" "${CNN[@]}" --trainer.accelerator=cuda
check "evaluation without a checkpoint exits 2" expect_error 2 "--ckpt_path is required" \
  test --config "$CONFIGS/fashion_mnist_cnn.yaml"
check "missing checkpoint exits 4" expect_error 4 "checkpoint '/nonexistent.ckpt' not found" \
  test --config "$CONFIGS/fashion_mnist_cnn.yaml" --ckpt_path /nonexistent.ckpt
check "a checkpoint of another model exits 4" expect_error 4 "does not match the configured model" \
  test --config "$RUN/config.yaml" --model.init_args.hidden_sizes=[32] --ckpt_path "$RUN/checkpoints/last.ckpt"
check "bad input creates no run directory" equal "$(count_runs)" "$runs_before"

check "--version prints the version" equal "$("$TRAINER" --version)" "trainer 0.1.0"
check "fit --help lists --config" grep -q -- "--config" <("$TRAINER" fit --help)

finish
