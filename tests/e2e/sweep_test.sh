#!/usr/bin/env bash
# End-to-end test of scripts/sweep.sh. A 2x2 grid on a tiny Fashion-MNIST config is
# killed midway and re-run, which must run only the unfinished combinations. It also
# checks results.json for completed, diverged, failed and interrupted runs.
# Usage: sweep_test.sh PATH_TO_TRAINER
set -uo pipefail

TRAINER=${1:?usage: sweep_test.sh PATH_TO_TRAINER}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=warn

source "$HERE/harness.sh"
field() { sed -n "s/^  \"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1"; }

SWEEP=("$ROOT/scripts/sweep.sh" --trainer "$TRAINER" --config "$ROOT/configs/fashion_mnist_mlp.yaml"
       --root "$WORK/runs" --name grid --grid trainer.max_epochs=1,2 --grid optimizer.init_args.lr=0.001,0.003
       --metric val/acc --mode max --
       --trainer.limit_train_batches=20 --trainer.limit_val_batches=4 --data.init_args.val_size=512)

# ---- first attempt, killed after the first run completes ----
setsid "${SWEEP[@]}" > "$WORK/first.out" 2>&1 &
sweep_pid=$!
for _ in $(seq 600); do
  grep -qs '"status": "completed"' "$WORK"/runs/grid/version_*/results.json && break
  sleep 0.1
done
kill -TERM -- "-$sweep_pid" 2> /dev/null
wait "$sweep_pid" 2> /dev/null
completed_before=$(grep -ls '"status": "completed"' "$WORK"/runs/grid/version_*/results.json | wc -l)
check "the first attempt completed some but not all runs" test "$completed_before" -ge 1 -a "$completed_before" -lt 4

# ---- the re-run skips what completed and finishes the rest ----
"${SWEEP[@]}" > "$WORK/second.out" 2>&1
check "the re-run exits 0" equal "$?" 0
check "the re-run skips the completed runs" equal "$(grep -c '^skip ' "$WORK/second.out")" "$completed_before"
check "the re-run runs only the others" equal "$(grep -c '^run  ' "$WORK/second.out")" "$((4 - completed_before))"
CSV=$WORK/runs/grid/sweep.csv
check "the table has four completed rows" equal "$(grep -c ',completed,' "$CSV")" 4
check "every row has the metric" equal "$(awk -F, 'NR > 1 && $3 != ""' "$CSV" | wc -l)" 4
check "rows are sorted by val/acc, best first" equal "$(awk -F, 'NR > 1 { print $3 }' "$CSV")" \
  "$(awk -F, 'NR > 1 { print $3 }' "$CSV" | sort -gr)"

# ---- results.json of a completed run ----
RESULTS=$(ls "$WORK"/runs/grid/version_*/results.json | head -n 1)
check "results.json: completed, exit 0" equal "$(field "$RESULTS" status) $(field "$RESULTS" exit_code)" "completed 0"
check "results.json: config hash" grep -q '"config_hash": "fnv1a64:[0-9a-f]\{16\}"' "$RESULTS"
check "results.json: overrides recorded" grep -q '"overrides": \[.*"--trainer.limit_train_batches=20"' "$RESULTS"
check "results.json: final and best val/acc" test "$(grep -c '"val/acc": ' "$RESULTS")" -eq 2
check "results.json parses as JSON" /usr/bin/python3 -m json.tool "$RESULTS" /dev/null

# ---- results.json of a diverged and a failed run ----
"$TRAINER" fit --config "$ROOT/configs/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" \
  --run_name bad --version diverged --trainer.limit_train_batches=5 --optimizer.init_args.lr=1e30 \
  > "$WORK/diverged.out" 2> /dev/null
check "a diverged run exits 6" equal "$?" 6
check "a diverged run prints its run directory last on stdout" equal "$(tail -n 1 "$WORK/diverged.out")" \
  "$WORK/runs/bad/version_diverged"
check "results.json: diverged" equal "$(field "$WORK/runs/bad/version_diverged/results.json" status)" diverged
"$TRAINER" fit --config "$ROOT/configs/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" \
  --run_name bad --version diverged > /dev/null 2> "$WORK/exists.err"
check "an existing --version is a usage error" equal "$?" 2
check "the message says how to fix it" grep -q "exists; choose another trainer.version or remove it" "$WORK/exists.err"


# ---- results.json of a failed and an interrupted run ----
"$TRAINER" fit --config "$ROOT/configs/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" \
  --run_name bad --version failed --trainer.limit_train_batches=2 --trainer.limit_val_batches=1 \
  --trainer.callbacks='[{class_path: early_stopping, init_args: {monitor: val/missing}}]' > /dev/null 2>&1
check "a run that fails after starting exits 2" equal "$?" 2
check "results.json: failed" equal "$(field "$WORK/runs/bad/version_failed/results.json" status)" failed
check "results.json: the error message" grep -q "\"error\": \"early_stopping monitors 'val/missing'" \
  "$WORK/runs/bad/version_failed/results.json"

"$TRAINER" fit --config "$ROOT/configs/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" \
  --run_name bad --version interrupted --trainer.max_epochs=1000 --trainer.log_every_n_steps=1 \
  > /dev/null 2>&1 &
fit_pid=$!
for _ in $(seq 300); do
  [[ -s $WORK/runs/bad/version_interrupted/metrics.csv ]] && break
  sleep 0.1
done
kill -TERM "$fit_pid"
wait "$fit_pid"
check "SIGTERM ends the run with exit code 143" equal "$?" 143
check "results.json: interrupted" equal "$(field "$WORK/runs/bad/version_interrupted/results.json" status)" \
  interrupted

# ---- a changed extra argument runs every combination again ----
CHANGED=("${SWEEP[@]}")
CHANGED[${#CHANGED[@]}-1]=--data.init_args.val_size=256
"${CHANGED[@]}" --trainer.limit_val_batches=2 > "$WORK/third.out" 2>&1
check "a sweep with other arguments reuses no run" equal "$(grep -c '^skip ' "$WORK/third.out"):$(grep -c '^run  ' "$WORK/third.out")" "0:4"

# ---- SIGTERM to the script alone reaches its runs ----
"${SWEEP[@]}" --trainer.max_epochs=50 --trainer.limit_train_batches=400 > "$WORK/fourth.out" 2>&1 &
sweep_pid=$!
for _ in $(seq 300); do [[ $(grep -c '^run  ' "$WORK/fourth.out") -ge 1 ]] && break; sleep 0.1; done
sleep 1
kill -TERM "$sweep_pid"
wait "$sweep_pid"
check "SIGTERM to the sweep exits 143" equal "$?" 143
check "SIGTERM to the sweep leaves no run behind" test -z "$(pgrep -f -- "--run_name grid --version" || true)"

finish
