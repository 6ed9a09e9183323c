#!/usr/bin/env bash
# End-to-end tests of strategy 'ddp' on one machine (loopback only) with real Fashion-MNIST:
# accuracy against one process, validate/test/predict on 2 ranks against one process, a
# validation set smaller than the world, gradient averaging against a doubled batch, a
# failing rank, a forwarded SIGTERM, bf16-mixed on the CPU, and the loss scaler of 16-mixed.
# Usage: ddp_test.sh PATH_TO_TRAINER PATH_TO_CHECKPOINT_DIFF
set -uo pipefail

TRAINER=${1:?usage: ddp_test.sh PATH_TO_TRAINER PATH_TO_CHECKPOINT_DIFF}
DIFF=${2:?usage: ddp_test.sh PATH_TO_TRAINER PATH_TO_CHECKPOINT_DIFF}
TRAINER=$(realpath "$TRAINER")
DIFF=$(realpath "$DIFF")
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGS=$(cd "$HERE/../../configs" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=info

source "$HERE/harness.sh"
metric() { grep -o "result $2=[0-9.e-]*" "$1" | tail -n 1 | cut -d= -f2; }
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }' || { echo "     $1 is not below $2"; return 1; }; }
DDP=(--trainer.devices=2 --trainer.strategy=ddp)

# ---- accuracy: 2 ranks reach about the accuracy of 1 process ----
BASE=(--config "$CONFIGS/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" --trainer.max_epochs=2
      --trainer.limit_train_batches=100 --trainer.log_every_n_steps=1000)
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=single --trainer.num_threads=1 >/dev/null 2>"$WORK/single.log"
check "single-process fit exits 0" equal "$?" 0
RUN=$("$TRAINER" fit "${BASE[@]}" --trainer.run_name=ddp "${DDP[@]}" 2>"$WORK/ddp.log" | tail -n 1)
check "ddp fit exits 0" equal "$?" 0
single_acc=$(metric "$WORK/single.log" val/acc)
ddp_acc=$(metric "$WORK/ddp.log" val/acc)
echo "     val/acc: 1 process $single_acc, 2 ranks $ddp_acc"
check "ddp val/acc is within 0.03 of one process" awk -v a="$single_acc" -v b="$ddp_acc" \
  'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0.7 && d < 0.03) }'
check "ddp writes one run directory" equal "$(ls "$WORK/runs/ddp")" "version_0"
check "ddp rank 0 writes the checkpoint" test -f "$RUN/checkpoints/last.ckpt"
check "ddp rank 0 writes metrics.csv" test -f "$RUN/metrics.csv"
check "ddp logs each result once" equal "$(grep -c 'result val/acc' "$WORK/ddp.log")" 1
# Each rank validates half of the 5000 samples; the reduced val/acc must equal one process's
# validation of the same checkpoint on all of them.
"$TRAINER" validate "${BASE[@]}" --trainer.run_name=check --ckpt_path "$RUN/checkpoints/last.ckpt" \
  >/dev/null 2>"$WORK/validate.log"
check "ddp val/acc equals one process validating its checkpoint" equal "$(metric "$WORK/validate.log" val/acc)" \
  "$ddp_acc"

# ---- validate, test and predict on 2 ranks give one process's results ----
# Each rank evaluates its half. The counts are integers, so the accuracies agree exactly.
"$TRAINER" validate "${BASE[@]}" --trainer.run_name=check2 --ckpt_path "$RUN/checkpoints/last.ckpt" "${DDP[@]}" \
  >/dev/null 2>"$WORK/validate2.log"
check "ddp validate exits 0" equal "$?" 0
check "ddp validate logs val/acc once" equal "$(grep -c 'result val/acc' "$WORK/validate2.log")" 1
check "ddp validate val/acc equals one process's" equal "$(metric "$WORK/validate2.log" val/acc)" "$ddp_acc"
"$TRAINER" test "${BASE[@]}" --trainer.run_name=test1 --ckpt_path "$RUN/checkpoints/last.ckpt" >/dev/null \
  2>"$WORK/test1.log"
"$TRAINER" test "${BASE[@]}" --trainer.run_name=test2 --ckpt_path "$RUN/checkpoints/last.ckpt" "${DDP[@]}" \
  >/dev/null 2>"$WORK/test2.log"
test_acc=$(metric "$WORK/test1.log" test/acc)
echo "     test/acc: 1 process $test_acc, 2 ranks $(metric "$WORK/test2.log" test/acc)"
check "ddp test/acc equals one process's" equal "$(metric "$WORK/test2.log" test/acc)" "$test_acc"
P1=$("$TRAINER" predict "${BASE[@]}" --trainer.run_name=predict1 --ckpt_path "$RUN/checkpoints/last.ckpt" \
     2>/dev/null | tail -n 1)
P2=$("$TRAINER" predict "${BASE[@]}" --trainer.run_name=predict2 --ckpt_path "$RUN/checkpoints/last.ckpt" "${DDP[@]}" \
     2>/dev/null | tail -n 1)
check "ddp predict writes one run directory" equal "$(ls "$WORK/runs/predict2")" "version_0"
check "ddp predict writes 10000 rows and a header" equal "$(wc -l < "$P2/predictions.csv")" 10001
# Index, target and predicted class must match row for row; probabilities to 1e-5.
same_predictions() {
  paste -d, "$1" "$2" | awk -F, -v half=$(( $(head -n 1 "$1" | tr -cd , | wc -c) + 1 )) '
    NR > 1 { for (i = 1; i <= half; i++) { d = $i - $(i + half); if (d < 0) d = -d
             if ((i <= 3 && $i != $(i + half)) || d > 1e-5) { print "     row " NR - 1 " differs: " $0; exit 1 } } }'
}
check "ddp predictions equal one process's, in sample order" same_predictions "$P1/predictions.csv" \
  "$P2/predictions.csv"

# ---- a validation set smaller than the world: rank 1 gets no sample and still validates ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=tiny_val --trainer.max_epochs=1 --trainer.limit_train_batches=5 \
  --data.init_args.val_size=1 --trainer.process_group_timeout=30 "${DDP[@]}" >/dev/null 2>"$WORK/tiny_val.log"
check "ddp fit with 1 validation sample exits 0" equal "$?" 0
check "ddp fit with 1 validation sample logs val/acc" grep -q "result val/acc=" "$WORK/tiny_val.log"

# ---- bad settings are reported once, before any rank starts ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=bad_precision --trainer.precision=16-mixed "${DDP[@]}" >/dev/null \
  2>"$WORK/bad_precision.log"
check "16-mixed on 2 CPU ranks exits 5" equal "$?" 5
check "16-mixed on 2 CPU ranks starts no rank and prints one error" \
  equal "$(grep -c launching "$WORK/bad_precision.log"):$(grep -c "needs a CUDA device" "$WORK/bad_precision.log")" "0:1"
"$TRAINER" predict "${BASE[@]}" --trainer.run_name=bad_format --ckpt_path "$RUN/checkpoints/last.ckpt" \
  --output_format parquet "${DDP[@]}" >/dev/null 2>"$WORK/bad_format.log"
check "a bad --output_format on 2 ranks exits 2 with one error" \
  equal "$?:$(grep -c "output_format must be" "$WORK/bad_format.log")" "2:1"

# ---- splits smaller than the world: 3 ranks, one validation sample; no validation set ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=tiny_val3 --trainer.max_epochs=1 --trainer.limit_train_batches=5 \
  --data.init_args.val_size=1 --trainer.devices=3 --trainer.strategy=ddp >/dev/null 2>"$WORK/tiny_val3.log"
check "3 ranks with 1 validation sample exit 0" equal "$?" 0
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=no_val --trainer.max_epochs=1 --trainer.limit_train_batches=5 \
  --data.init_args.val_size=0 "${DDP[@]}" >/dev/null 2>"$WORK/no_val.log"
check "2 ranks without a validation set exit 0" equal "$?" 0

# ---- predict: a limit of 0 batches is a usage error; fast_dev_run writes no file ----
for ranks in 1 2; do
  "$TRAINER" predict "${BASE[@]}" --trainer.run_name=predict0 --ckpt_path "$RUN/checkpoints/last.ckpt" \
    --trainer.limit_predict_batches=0 --trainer.devices=$ranks --trainer.strategy=ddp >/dev/null 2>"$WORK/predict0.log"
  check "predict with 0 batches on $ranks rank(s) exits 2" equal "$?" 2
done
mkdir -p "$WORK/tmp"
TMPDIR="$WORK/tmp" "$TRAINER" predict "${BASE[@]}" --trainer.run_name=predict_dev --trainer.fast_dev_run=true \
  --ckpt_path "$RUN/checkpoints/last.ckpt" >/dev/null 2>&1
check "predict with fast_dev_run exits 0" equal "$?" 0
check "predict with fast_dev_run writes no file" equal "$(ls "$WORK/tmp" | grep -c predictions)" 0

# ---- a ddp run stopped inside an epoch and resumed logs that epoch's full train/loss ----
# 30 batches an epoch per rank; max_steps=45 stops in the middle of epoch 1.
PARTIAL=(--config "$CONFIGS/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" --trainer.max_epochs=2
         --trainer.limit_train_batches=30 --trainer.limit_val_batches=2 "${DDP[@]}")
WHOLE=$("$TRAINER" fit "${PARTIAL[@]}" --trainer.run_name=partial_whole 2>/dev/null | tail -n 1)
"$TRAINER" fit "${PARTIAL[@]}" --trainer.run_name=partial --trainer.max_steps=45 >/dev/null 2>&1
RESUMED=$("$TRAINER" fit "${PARTIAL[@]}" --trainer.run_name=partial --ckpt_path last 2>/dev/null | tail -n 1)
echo "     ddp epoch 1 train/loss: uninterrupted $(last_train_loss "$WHOLE"), resumed $(last_train_loss "$RESUMED")"
check "a resumed ddp epoch's train/loss equals the uninterrupted one (1e-9)" awk -v a="$(last_train_loss "$WHOLE")" \
  -v b="$(last_train_loss "$RESUMED")" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d < 1e-9 * a) }'

# ---- model_checkpoint: rank 0 keeps the newest; rank 1 touches no file ----
# Without a monitor, save_top_k 1 evicts epoch=0.ckpt at epoch 1. Rank 1 has no checkpoint
# folder, so an eviction there would hit the decoy in the working folder.
mkdir -p "$WORK/cwd" && touch "$WORK/cwd/epoch=0.ckpt"
CKPT=$(cd "$WORK/cwd" && "$TRAINER" fit "${BASE[@]}" --trainer.run_name=ckpt "${DDP[@]}" \
  --trainer.callbacks='[{class_path: model_checkpoint, init_args: {save_top_k: 1, filename: "epoch={epoch}"}}]' \
  2>/dev/null | tail -n 1)
check "ddp model_checkpoint keeps epoch=1.ckpt" test -f "$CKPT/checkpoints/epoch=1.ckpt"
check "ddp model_checkpoint evicts epoch=0.ckpt" test ! -e "$CKPT/checkpoints/epoch=0.ckpt"
check "ddp rank 1 deletes nothing in the working folder" test -f "$WORK/cwd/epoch=0.ckpt"

# ---- equivalence: plain SGD, 2 ranks x batch 32 == 1 process x batch 64 ----
# Unshuffled, rank r reads samples r, r + 2, ...; so the ranks' k-th batches together are
# exactly the single process's k-th batch of 64, and the mean gradients agree.
SGD=(--config "$CONFIGS/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" --trainer.max_steps=30
     --trainer.limit_val_batches=0 --trainer.num_threads=1 --optimizer='{class_path: sgd, init_args: {lr: 0.1}}'
     --data.init_args.shuffle=false)
ONE=$("$TRAINER" fit "${SGD[@]}" --trainer.run_name=sgd1 --data.init_args.batch_size=64 2>/dev/null | tail -n 1)
TWO=$("$TRAINER" fit "${SGD[@]}" --trainer.run_name=sgd2 --data.init_args.batch_size=32 "${DDP[@]}" 2>/dev/null |
      tail -n 1)
difference=$("$DIFF" "$ONE/checkpoints/last.ckpt" "$TWO/checkpoints/last.ckpt")
echo "     weights after 30 steps: $difference"
check "2 ranks x 32 match 1 process x 64 (max abs diff < 1e-5)" \
  less_than "$(echo "$difference" | sed -n 's/.*max_abs_diff=\([^ ]*\).*/\1/p')" 1e-5
# Buckets of 0.05 MB split the MLP's 0.8 MB of gradients into about 16 all-reduces, most of
# them started while backward still runs. The weights must not change.
BUCKETS=$("$TRAINER" fit "${SGD[@]}" --trainer.run_name=sgd2_buckets --data.init_args.batch_size=32 "${DDP[@]}" \
          --trainer.bucket_cap_mb=0.05 --trainer.accumulate_grad_batches=2 2>/dev/null | tail -n 1)
ONE_ACC=$("$TRAINER" fit "${SGD[@]}" --trainer.run_name=sgd1_acc --data.init_args.batch_size=64 \
          --trainer.accumulate_grad_batches=2 2>/dev/null | tail -n 1)
difference=$("$DIFF" "$ONE_ACC/checkpoints/last.ckpt" "$BUCKETS/checkpoints/last.ckpt")
echo "     small buckets and accumulation of 2, against 1 process: $difference"
check "small overlapping buckets keep the weights (max abs diff < 1e-5)" \
  less_than "$(echo "$difference" | sed -n 's/.*max_abs_diff=\([^ ]*\).*/\1/p')" 1e-5

# ---- a failing rank ends the run, names the rank, and stops the others ----
start=$(date +%s.%N)
TRAINER_TEST_FAIL_RANK=1 TRAINER_TEST_FAIL_STEP=3 timeout 60 "$TRAINER" fit "${BASE[@]}" --trainer.run_name=fail \
  "${DDP[@]}" >/dev/null 2>"$WORK/fail.log"
code=$?
seconds=$(echo "$(date +%s.%N) - $start" | bc)
echo "     failing run ended with code $code after ${seconds}s"
check "a failing rank ends the ddp run non-zero" test "$code" -ne 0 -a "$code" -ne 124
check "the launcher names the failing rank" grep -q "ddp run failed: rank 1 failed first (exit code 1)" "$WORK/fail.log"
check "the failing run ends within 20 s" less_than "$seconds" 20

# ---- SIGTERM to the launcher reaches every rank; all stop at one step with 143 ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=term --trainer.max_epochs=50 "${DDP[@]}" >"$WORK/term.out" \
  2>"$WORK/term.log" &
launcher=$!
for _ in $(seq 100); do grep -q "epoch=0 step=" "$WORK/term.log" && break; sleep 0.1; done
kill -TERM "$launcher"
wait "$launcher"
check "SIGTERM stops a ddp run with 143" equal "$?" 143
check "a SIGTERM stop is not reported as a failure" test -z "$(grep 'ddp run failed' "$WORK/term.log")"
check "SIGTERM leaves a resumable checkpoint" test -f "$WORK/runs/term/version_0/checkpoints/last.ckpt"

# ---- SIGTERM to one rank only: the stop flag is all-reduced, so every rank stops ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=term_one --trainer.max_epochs=50 "${DDP[@]}" >/dev/null \
  2>"$WORK/term_one.log" &
launcher=$!
for _ in $(seq 100); do grep -q "epoch=0 step=" "$WORK/term_one.log" && break; sleep 0.1; done
rank1=""
for pid in $(pgrep -P "$launcher"); do
  tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "RANK=1" && rank1=$pid
done
check "rank 1 is found among the launcher's children" test -n "$rank1"
[[ -n $rank1 ]] && kill -TERM "$rank1"
timeout 60 tail --pid="$launcher" -f /dev/null
wait "$launcher"
check "SIGTERM to one rank stops the ddp run with 143" equal "$?" 143
check "SIGTERM to one rank leaves a resumable checkpoint" \
  test -f "$WORK/runs/term_one/version_0/checkpoints/last.ckpt"

# ---- SIGKILL to one rank: the launcher names it and exits with its code ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=kill_one --trainer.max_epochs=50 "${DDP[@]}" >/dev/null \
  2>"$WORK/kill_one.log" &
launcher=$!
for _ in $(seq 100); do grep -q "epoch=0 step=" "$WORK/kill_one.log" && break; sleep 0.1; done
for pid in $(pgrep -P "$launcher"); do
  tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "RANK=1" && kill -KILL "$pid"
done
timeout 60 tail --pid="$launcher" -f /dev/null
wait "$launcher"
check "SIGKILL to rank 1 ends the ddp run with 137" equal "$?" 137
check "the launcher blames the killed rank" grep -q "rank 1 failed first (exit code 137): killed by signal 9" \
  "$WORK/kill_one.log"

# ---- SIGKILL to the launcher: the ranks get SIGTERM from the kernel and stop ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=kill_launcher --trainer.max_epochs=50 "${DDP[@]}" >/dev/null \
  2>"$WORK/kill_launcher.log" &
launcher=$!
for _ in $(seq 100); do grep -q "epoch=0 step=" "$WORK/kill_launcher.log" && break; sleep 0.1; done
ranks=$(pgrep -P "$launcher" | tr '\n' ' ')
kill -KILL "$launcher"
wait "$launcher" 2>/dev/null
for _ in $(seq 100); do
  alive=0
  for pid in $ranks; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [[ $alive == 0 ]] && break
  sleep 0.1
done
check "ranks stop within 10 s of the launcher's death" equal "$alive" 0
check "the orphaned ranks save a checkpoint" test -f "$WORK/runs/kill_launcher/version_0/checkpoints/last.ckpt"

# ---- bf16-mixed on the CPU: the training loss falls ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=bf16 --trainer.precision=bf16-mixed >/dev/null 2>"$WORK/bf16.log"
check "bf16-mixed fit exits 0" equal "$?" 0
loss0=$(grep -o "epoch=0 step=[0-9]* .*train/loss=[0-9.]*" "$WORK/bf16.log" | grep -o "train/loss=[0-9.]*" | cut -d= -f2)
loss1=$(grep -o "epoch=1 step=[0-9]* .*train/loss=[0-9.]*" "$WORK/bf16.log" | grep -o "train/loss=[0-9.]*" | cut -d= -f2)
echo "     bf16-mixed train/loss: epoch 0 $loss0, epoch 1 $loss1"
check "bf16-mixed train/loss falls" less_than "$loss1" "$loss0"

# ---- precisions: bf16-true on 2 ranks; checkpoints read under another precision ----
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=bf16_true --trainer.max_epochs=2 --trainer.precision=bf16-true \
  "${DDP[@]}" >/dev/null 2>"$WORK/bf16_true.log"
check "bf16-true on 2 ranks exits 0" equal "$?" 0
loss0=$(grep -o "epoch=0 step=[0-9]* .*train/loss=[0-9.]*" "$WORK/bf16_true.log" | grep -o "train/loss=[0-9.]*" | cut -d= -f2)
loss1=$(grep -o "epoch=1 step=[0-9]* .*train/loss=[0-9.]*" "$WORK/bf16_true.log" | grep -o "train/loss=[0-9.]*" | cut -d= -f2)
echo "     bf16-true on 2 ranks, train/loss: epoch 0 $loss0, epoch 1 $loss1"
check "bf16-true on 2 ranks: train/loss falls" less_than "$loss1" "$loss0"
# The float32 checkpoint of the first run, validated as float64 and as bfloat16: the values
# are converted, so the accuracy stays near the float32 one instead of dropping to chance.
for precision in 64 bf16-true; do
  "$TRAINER" validate "${BASE[@]}" --trainer.run_name=convert --ckpt_path "$RUN/checkpoints/last.ckpt" \
    --trainer.precision=$precision >/dev/null 2>"$WORK/convert.log"
  converted=$(metric "$WORK/convert.log" val/acc)
  echo "     float32 checkpoint validated at precision $precision: val/acc $converted (float32: $ddp_acc)"
  check "a float32 checkpoint validates at precision $precision" awk -v a="$converted" -v b="$ddp_acc" \
    'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 0.01) }'
done
"$TRAINER" fit "${BASE[@]}" --trainer.run_name=resume_other --trainer.max_epochs=3 --trainer.precision=64 \
  --ckpt_path "$RUN/checkpoints/last.ckpt" >/dev/null 2>"$WORK/resume_other.log"
check "resuming under another precision exits 4" equal "$?" 4
check "resuming under another precision names both dtypes" grep -q "stores float32 parameters but the model is float64" \
  "$WORK/resume_other.log"

# ---- loss scaling: 16-mixed's GradScaler, turned on at float32 by a test hook ----
# A first scale of 1e39 is beyond float32, so the first steps' gradients are inf. Those steps
# skip their update and halve the scale until it fits (2.5e38 for this model).
SCALED=(--config "$CONFIGS/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" --trainer.limit_val_batches=0
        --trainer.num_threads=1 --trainer.log_every_n_steps=1)
export TRAINER_TEST_GRAD_SCALER=1e39
FULL=$("$TRAINER" fit "${SCALED[@]}" --trainer.run_name=scaled --trainer.max_steps=40 2>"$WORK/scaled.log" | tail -n 1)
check "fit with loss scaling exits 0" equal "$?" 0
scales=$(grep -o "train/loss_scale=[0-9.e+]*" "$WORK/scaled.log" | cut -d= -f2)
echo "     loss scale after steps 1-4: $(echo "$scales" | head -n 4 | tr '\n' ' ')"
check "an overflowing first scale is lowered" less_than "$(echo "$scales" | head -n 1)" 1e39
check "the scale settles below float32's maximum" less_than "$(echo "$scales" | tail -n 1)" 3.4e38
loss_first=$(grep -o "train/loss_step=[0-9.]*" "$WORK/scaled.log" | head -n 1 | cut -d= -f2)
loss_last=$(grep -o "train/loss_step=[0-9.]*" "$WORK/scaled.log" | tail -n 1 | cut -d= -f2)
echo "     train/loss_step with loss scaling: step 1 $loss_first, step 40 $loss_last"
check "train/loss_step falls by a third with loss scaling" less_than "$loss_last" "$(echo "$loss_first * 2 / 3" | bc -l)"
# Stopped at step 20 and resumed: the restored scale gives the uninterrupted run's weights.
"$TRAINER" fit "${SCALED[@]}" --trainer.run_name=scaled_resume --trainer.max_steps=20 >/dev/null 2>&1
RESUMED=$("$TRAINER" fit "${SCALED[@]}" --trainer.run_name=scaled_resume --trainer.max_steps=40 --ckpt_path last \
          2>/dev/null | tail -n 1)
difference=$("$DIFF" "$FULL/checkpoints/last.ckpt" "$RESUMED/checkpoints/last.ckpt")
echo "     uninterrupted against resumed at step 20: $difference"
check "a resumed run with loss scaling ends with the same weights" \
  equal "$(echo "$difference" | sed -n 's/.*max_abs_diff=\([^ ]*\).*/\1/p')" 0
unset TRAINER_TEST_GRAD_SCALER

finish
