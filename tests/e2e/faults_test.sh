#!/usr/bin/env bash
# End-to-end fault tolerance. A run stopped by SIGTERM and resumed ends with the
# weights of an uninterrupted run, bitwise. SIGKILL during checkpoint writes leaves a
# valid last.ckpt. SIGINT, the requeue signal and SIGTERM to PID 1 stop cleanly with
# their codes. Corrupted checkpoints and bad inputs each give a message and an exit code.
# Usage: faults_test.sh PATH_TO_TRAINER (env FAULTS_KILLS: SIGKILL rounds, default 12)
set -uo pipefail

TRAINER=${1:?usage: faults_test.sh PATH_TO_TRAINER}
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGS=$(cd "$HERE/../../configs" && pwd)
IRIS=/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv
PY=/usr/bin/python3
KILLS=${FAULTS_KILLS:-12}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=warn

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }

if [[ ! -f "$IRIS" ]]; then
  echo "skip all (install python3-sklearn for iris.csv)"
  exit 0
fi

# A long deterministic iris run: 6 steps per epoch, thousands of steps, about 2-4 s.
LONG=(--config "$CONFIGS/iris_mlp.yaml" --trainer.max_epochs=400 --trainer.deterministic=true
      --trainer.num_threads=1 --trainer.log_every_n_steps=1)

# expect_exit NAME CODE MESSAGE COMMAND...: COMMAND exits with CODE and prints MESSAGE on stderr.
expect_exit() {
  local name=$1 code=$2 message=$3
  shift 3
  "$@" > /dev/null 2> "$WORK/err"
  local actual=$?
  if [[ $actual -eq $code ]] && { [[ -z "$message" ]] || grep -qF -- "$message" "$WORK/err"; }; then
    ok "$name"
  else
    fail "$name (exit $actual, expected $code and '$message'):"
    sed 's/^/     /' "$WORK/err" | head -n 5
  fi
}

# wait_for_steps RUN_GROUP N: waits until some metrics.csv under RUN_GROUP has N rows.
wait_for_steps() {
  for _ in $(seq 400); do
    local rows
    rows=$(cat "$1"/version_*/metrics.csv 2> /dev/null | wc -l)
    [[ $rows -ge $2 ]] && return 0
    sleep 0.01
  done
  return 1
}

# same_weights A B: the model tensors of two checkpoints are bitwise equal.
same_weights() {
  "$PY" - "$1" "$2" << 'PYEOF'
import sys, torch
a, b = (torch.jit.load(p) for p in sys.argv[1:3])
pa = dict(a.model.named_parameters()); pb = dict(b.model.named_parameters())
sys.exit(0 if pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa) else 1)
PYEOF
}

# ---- SIGTERM at a random step, then resume: the same final weights ----
"$TRAINER" fit "${LONG[@]}" --trainer.default_root_dir="$WORK/whole" > /dev/null 2>&1
"$TRAINER" fit "${LONG[@]}" --trainer.default_root_dir="$WORK/stop" > /dev/null 2> "$WORK/term.err" &
pid=$!
wait_for_steps "$WORK/stop/iris_mlp" $((20 + RANDOM % 200))
kill -TERM "$pid"
wait "$pid"
code=$?
check "SIGTERM exits 143" test "$code" -eq 143
check "SIGTERM message names the checkpoint" grep -q "stopped: SIGTERM received; saved '.*last.ckpt' at epoch=" "$WORK/term.err"
step=$(grep -o 'step=[0-9]*' "$WORK/term.err" | tail -n 1)
"$TRAINER" fit "${LONG[@]}" --trainer.default_root_dir="$WORK/stop" --ckpt_path last > /dev/null 2> "$WORK/resume.err"
check "resume after SIGTERM at $step exits 0" test $? -eq 0
whole=$(ls "$WORK"/whole/iris_mlp/version_0/checkpoints/last.ckpt)
resumed=$(ls "$WORK"/stop/iris_mlp/version_1/checkpoints/last.ckpt)
if "$PY" -c "import torch" 2> /dev/null; then
  check "resumed weights equal uninterrupted ones" same_weights "$whole" "$resumed"
else
  echo "skip weights comparison (no torch for $PY)"
fi

# ---- SIGINT, the requeue signal, a second SIGINT ----
run_and_signal() {  # run_and_signal ROOT SIGNAL...: starts fit, sends each signal, prints the exit code
  local root=$1
  shift
  "$TRAINER" fit "${LONG[@]}" --trainer.default_root_dir="$root" > /dev/null 2> "$root.err" &
  local pid=$!
  wait_for_steps "$root/iris_mlp" 20
  for signal in "$@"; do kill "-$signal" "$pid"; done
  wait "$pid"
  echo $?
}
check "SIGINT exits 130" test "$(run_and_signal "$WORK/int" INT)" -eq 130
check "SIGINT saves last.ckpt" test -s "$WORK/int/iris_mlp/version_0/checkpoints/last.ckpt"
check "SIGUSR1 exits 75 (requeue)" test "$(run_and_signal "$WORK/usr1" USR1)" -eq 75
check "requeue saves last.ckpt" test -s "$WORK/usr1/iris_mlp/version_0/checkpoints/last.ckpt"
check "two SIGINTs exit 130" test "$(run_and_signal "$WORK/int2" INT INT)" -eq 130
check "no half-written checkpoint after two SIGINTs" \
  bash -c "! ls '$WORK'/int2/iris_mlp/version_0/checkpoints/*.ckpt 2> /dev/null | xargs -r -n1 test ! -s"

# ---- PID 1 in a new PID namespace: the kernel ignores default-action signals there ----
if unshare --pid --fork --mount-proc true 2> /dev/null; then
  unshare --pid --fork --mount-proc "$TRAINER" fit "${LONG[@]}" --trainer.default_root_dir="$WORK/pid1" \
    > /dev/null 2> "$WORK/pid1.err" &
  outer=$!
  wait_for_steps "$WORK/pid1/iris_mlp" 20
  inner=$(pgrep -P "$outer" | head -n 1)
  kill -TERM "$inner"
  wait "$outer"
  check "SIGTERM to PID 1 exits 143" test $? -eq 143
else
  echo "skip PID 1 test (unshare --pid needs root)"
fi

# ---- SIGKILL at random points while checkpoints are written every step ----
every_step=(--trainer.callbacks='[{class_path: model_checkpoint, init_args: {every_n_train_steps: 1, save_top_k: 2, save_last: true}}]')
bad=0
for round in $(seq "$KILLS"); do
  root=$WORK/kill
  "$TRAINER" fit "${LONG[@]}" "${every_step[@]}" --trainer.default_root_dir="$root" > /dev/null 2>&1 &
  pid=$!
  ckpt=$root/iris_mlp/version_$((round - 1))/checkpoints/last.ckpt
  for _ in $(seq 300); do [[ -f "$ckpt" ]] && break; sleep 0.01; done
  sleep "0.$((RANDOM % 40))"
  kill -KILL "$pid"
  wait "$pid" 2> /dev/null
  # The trailer's length and CRC-32 must match, and the zip archive must be complete.
  if ! "$PY" - "$ckpt" << 'PYEOF'
import struct, sys, zipfile, zlib
data = open(sys.argv[1], 'rb').read()
magic, length, crc, _ = struct.unpack('<8sQII', data[-24:])
assert magic == b'TRNRCKPT', magic
assert length == len(data) - 24, (length, len(data))
assert zlib.crc32(data[:length]) == crc
zipfile.ZipFile(sys.argv[1]).testzip()
PYEOF
  then
    bad=$((bad + 1))
    echo "     round $round: '$ckpt' is not a complete checkpoint"
  fi
done
check "last.ckpt complete after $KILLS random SIGKILLs" test "$bad" -eq 0
expect_exit "newest killed run's last.ckpt loads" 0 "" \
  "$TRAINER" validate "${LONG[@]}" --trainer.default_root_dir="$root" --ckpt_path last

# ---- corrupted checkpoints ----
ckpt=$WORK/stop/iris_mlp/version_1/checkpoints/last.ckpt
cp "$ckpt" "$WORK/flipped.ckpt"
printf '\xff' | dd of="$WORK/flipped.ckpt" bs=1 seek=2000 conv=notrunc 2> /dev/null
expect_exit "flipped byte is rejected" 4 "is corrupted: the CRC-32" \
  "$TRAINER" validate "${LONG[@]}" --ckpt_path "$WORK/flipped.ckpt"
head -c 3000 "$ckpt" > "$WORK/truncated.ckpt"
expect_exit "truncated file is rejected" 4 "truncated.ckpt' is not a readable checkpoint" \
  "$TRAINER" validate "${LONG[@]}" --ckpt_path "$WORK/truncated.ckpt"
cp "$IRIS" "$WORK/foreign.ckpt"
expect_exit "foreign file is rejected" 4 "foreign.ckpt' is not a readable checkpoint" \
  "$TRAINER" validate "${LONG[@]}" --ckpt_path "$WORK/foreign.ckpt"
head -c 3000 "$ckpt" > "$ckpt.cut" && mv "$ckpt.cut" "$ckpt"
expect_exit "last falls back past a truncated last.ckpt" 0 "falling back to '" \
  "$TRAINER" validate "${LONG[@]}" --trainer.default_root_dir="$WORK/stop" --ckpt_path last

# ---- bad input: one line, its exit code ----
QUICK=(--config "$CONFIGS/iris_mlp.yaml" --trainer.default_root_dir="$WORK/bad" --trainer.max_epochs=1)
printf 'trainer:\n  max_epochs: [1\n' > "$WORK/malformed.yaml"
expect_exit "malformed YAML" 2 "malformed.yaml" "$TRAINER" fit --config "$WORK/malformed.yaml"
expect_exit "wrong type" 2 "max_epochs" "$TRAINER" fit "${QUICK[@]}" --trainer.max_epochs=many
expect_exit "huge number" 2 "max_epochs" "$TRAINER" fit "${QUICK[@]}" --trainer.max_epochs=99999999999999999999
expect_exit "negative batch size" 2 "batch_size" "$TRAINER" fit "${QUICK[@]}" --data.init_args.batch_size=-4
printf 'a,b,label\n' > "$WORK/empty.csv"
expect_exit "empty CSV dataset" 3 "empty.csv" \
  "$TRAINER" fit "${QUICK[@]}" --data.init_args.path="$WORK/empty.csv" --data.init_args.header=names
printf 'a,b,label\n1,2,0\nnan,3,1\n4,5,0\n6,7,1\n' > "$WORK/nan.csv"
expect_exit "NaN in a CSV feature" 3 "'nan' is not a finite number" \
  "$TRAINER" fit "${QUICK[@]}" --data.init_args.path="$WORK/nan.csv" --data.init_args.header=names
expect_exit "batch size larger than the dataset" 2 "set data.init_args.batch_size to at most" \
  "$TRAINER" fit "${QUICK[@]}" --data.init_args.batch_size=1000 --data.init_args.drop_last=true
if "$PY" -c "import numpy" 2> /dev/null; then
  "$PY" -c "
import numpy as np
x = np.ones((20, 3), dtype='<f4'); x[7, 1] = np.inf
np.save('$WORK/x.npy', x); np.save('$WORK/y.npy', np.zeros(20, dtype='<i8'))"
  expect_exit "inf in an npy feature" 3 "x.npy' contains NaN or infinite values, first in sample 7" \
    "$TRAINER" fit "${QUICK[@]}" --data=npy --data.init_args.inputs="$WORK/x.npy" --data.init_args.targets="$WORK/y.npy"
fi
if "$PY" -c "import torch" 2> /dev/null; then
  "$PY" -c "
import torch
torch.jit.script(torch.nn.Linear(5, 3)).save('$WORK/wide.pt')
torch.jit.script(torch.nn.Linear(4, 2)).save('$WORK/two_classes.pt')"
  expect_exit "input shape that does not fit the model" 2 "wide.pt': forward failed" \
    "$TRAINER" fit "${QUICK[@]}" --model=torchscript --model.init_args.path="$WORK/wide.pt"
  expect_exit "label out of the model's range" 3 "a label is outside the model's classes" \
    "$TRAINER" fit "${QUICK[@]}" --model=torchscript --model.init_args.path="$WORK/two_classes.pt"
fi
expect_exit "unwritable run directory" 4 "is not a folder" \
  "$TRAINER" fit "${QUICK[@]}" --trainer.default_root_dir="$IRIS/runs"

echo "faults_test: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
