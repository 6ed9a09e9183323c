#!/usr/bin/env bash
# End-to-end tests of the loop features from the command line on real Fashion-MNIST:
# callbacks and schedulers from overrides, resume, predict, fast_dev_run, max_time.
# Usage: loop_test.sh PATH_TO_TRAINER
set -uo pipefail

TRAINER=${1:?usage: loop_test.sh PATH_TO_TRAINER}
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGS=$(cd "$HERE/../../configs" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=warn

source "$HERE/harness.sh"
column_has_values() { awk -F, -v column="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next }
                                              c && $c != "" { found = 1 } END { exit !found }' "$1"; }

BASE=(--config "$CONFIGS/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs"
      --trainer.limit_train_batches=20 --trainer.limit_val_batches=5 --trainer.limit_test_batches=2)

# ---- fast_dev_run: runs, prints no run directory, writes nothing ----
out=$("$TRAINER" fit "${BASE[@]}" --trainer.fast_dev_run=true)
check "fast_dev_run exits 0" equal "$?" 0
check "fast_dev_run prints no run directory" equal "$out" ""
check "fast_dev_run writes nothing" test ! -e "$WORK/runs"

# ---- callbacks and a scheduler from command-line YAML ----
CALLBACKS='[{class_path: model_checkpoint, init_args: {monitor: val/acc, mode: max, save_top_k: 2,
  filename: "epoch={epoch}-acc={val/acc:.3f}"}}, {class_path: early_stopping, init_args: {monitor: val/loss,
  patience: 5}}, {class_path: lr_monitor}]'
RUN=$("$TRAINER" fit "${BASE[@]}" --trainer.max_epochs=3 --trainer.callbacks="$CALLBACKS" \
  --lr_scheduler='{class_path: cosine, init_args: {t_max: 3}}' | tail -n 1)
check "fit with callbacks prints its run directory" test -d "$RUN"
check "model_checkpoint keeps two ranked checkpoints and last" equal \
  "$(find "$RUN/checkpoints" -name '*.ckpt' | wc -l)" 3
check "ranked checkpoint names carry the metric" bash -c "ls '$RUN/checkpoints' | grep -qE '^epoch=[0-9]-acc=0\.[0-9]{3}\.ckpt$'"
check "lr_monitor logs lr/pg0" column_has_values "$RUN/metrics.csv" lr/pg0

# ---- resume: 'last' continues from the end of epoch 3 ----
RESUMED=$("$TRAINER" fit "${BASE[@]}" --trainer.max_epochs=4 --trainer.callbacks="$CALLBACKS" \
  --lr_scheduler="{class_path: cosine, init_args: {t_max: 3}}" --ckpt_path last 2> /dev/null | tail -n 1)
check "resume writes a new version" equal "$(basename "$RESUMED")" version_1
check "resume trains only the missing epoch" equal \
  "$(awk -F, 'NR > 1 && $4 != "" { print $1 }' "$RESUMED/metrics.csv" | sort -u | tr '\n' ' ')" "3 "
"$TRAINER" fit "${BASE[@]}" --trainer.max_epochs=4 --model.init_args.hidden_sizes='[32]' --ckpt_path last \
  > /dev/null 2> "$WORK/changed.err"
check "resume with another model exits 4" equal "$?" 4
check "the error names the changed key" grep -q "model.init_args.hidden_sizes" "$WORK/changed.err"

# ---- predict ----
PREDICT=$("$TRAINER" predict "${BASE[@]}" --trainer.limit_predict_batches=2 --ckpt_path "$RUN/checkpoints/last.ckpt" | tail -n 1)
check "predict writes one row per sample of 2 test batches" equal "$(($(wc -l < "$PREDICT/predictions.csv") - 1))" 256
check "predict rows hold index, target, prediction and 10 probabilities" equal \
  "$(head -n 1 "$PREDICT/predictions.csv" | tr ',' '\n' | wc -l)" 13

# ---- max_time ----
"$TRAINER" fit "${BASE[@]}" --trainer.max_epochs=1000 --trainer.limit_train_batches=1.0 --trainer.max_time=2 \
  > "$WORK/time.out" 2> "$WORK/time.err"
check "max_time ends fit cleanly" equal "$?" 0
check "max_time leaves a resumable checkpoint" test -s "$(tail -n 1 "$WORK/time.out")/checkpoints/last.ckpt"

# ---- a resumed epoch's train/loss covers the batches before the resume too ----
# Stopped by max_steps at step 30, inside epoch 1 (20 batches an epoch), then resumed.
FULL=$("$TRAINER" fit "${BASE[@]}" --trainer.run_name=epoch_full --trainer.max_epochs=2 2>/dev/null | tail -n 1)
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=epoch_resume --trainer.max_epochs=2 --trainer.max_steps=30 >/dev/null 2>&1
RESUMED=$("$TRAINER" fit "${BASE[@]}" --trainer.run_name=epoch_resume --trainer.max_epochs=2 --ckpt_path last \
          2>/dev/null | tail -n 1)
echo "     epoch 1 train/loss: uninterrupted $(last_train_loss "$FULL"), resumed $(last_train_loss "$RESUMED")"
check "a resumed epoch's train/loss equals the uninterrupted one" equal "$(last_train_loss "$RESUMED")" \
  "$(last_train_loss "$FULL")"

finish
