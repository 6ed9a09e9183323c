#!/usr/bin/env bash
# End-to-end tests of the metric files and the console on real Fashion-MNIST: metrics.csv,
# metrics.jsonl and TensorBoard event files decoded by an independent reader, steps that
# never decrease (with accumulation and across a resume), and plain stderr off a terminal.
# Usage: logging_test.sh PATH_TO_TRAINER
set -uo pipefail

TRAINER=${1:?usage: logging_test.sh PATH_TO_TRAINER}
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGS=$(cd "$HERE/../../configs" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=info
# Debian's interpreter: its python3-protobuf is what decodes the event file.
PYTHON=/usr/bin/python3

source "$HERE/harness.sh"
# Prints the values of COLUMN in a CSV file, one per line, skipping empty cells.
column_values() { awk -F, -v column="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next }
                                           c && $c != "" { print $c }' "$1"; }
non_decreasing() { awk 'NR > 1 && $1 < last { bad = 1 } { last = $1 } END { exit bad }'; }

# 20 batches with accumulate_grad_batches=3 are 7 optimizer steps per epoch; step
# metrics are due every 5 optimizer steps.
BASE=(--config "$CONFIGS/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs"
      --trainer.limit_train_batches=20 --trainer.limit_val_batches=5 --trainer.accumulate_grad_batches=3
      --trainer.log_every_n_steps=5 --trainer.logger='[csv, tensorboard, jsonl]')

# ---- a two-epoch fit with every logger; stderr is a file, not a terminal ----
RUN=$("$TRAINER" fit "${BASE[@]}" --trainer.max_epochs=2 2>"$WORK/fit.err" | tail -n 1)
check "fit with three loggers exits 0" test -d "$RUN"
check "stderr has no control characters" bash -c "! LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]' '$WORK/fit.err'"
check "stderr has plain progress lines" grep -qE '^\[[0-9:]+ info\] epoch=0 batch=15/20 step=5 it/s=[0-9.]+ eta=[0-9.]+s train/loss_step=' "$WORK/fit.err"
check "stderr has the model summary" grep -q 'model summary: .* total params' "$WORK/fit.err"
check "stderr has the final summary" grep -qE 'fit done status=finished epoch=2 step=14 time=[0-9.]+s train_samples/s=[0-9]+' "$WORK/fit.err"
[[ -d "$RUN" ]] || { cat "$WORK/fit.err"; echo "logging e2e: $passed passed, $((failed + 1)) failed"; exit 1; }

CSV="$RUN/metrics.csv"
check "csv header has late columns" equal "$(head -n 1 "$CSV")" "epoch,step,train/loss_step,val/loss,val/acc,train/loss"
check "csv step rows at every 5th optimizer step" equal "$(column_values "$CSV" train/loss_step | wc -l)" 2
check "csv epoch rows at each epoch's last step" equal "$(awk -F, 'NR > 1 && $6 != "" { print $1 ":" $2 }' "$CSV" | tr '\n' ' ')" "0:7 1:14 "
check "csv first row keeps empty cells for later columns" equal "$(sed -n 2p "$CSV" | cut -d, -f1,2,4,5,6)" "0,5,,,"
check "csv steps never decrease" non_decreasing < <(column_values "$CSV" step)
check "hparams.yaml is the resolved config" cmp -s "$RUN/hparams.yaml" "$RUN/config.yaml"

JSONL="$RUN/metrics.jsonl"
check "every jsonl line parses" "$PYTHON" -c '
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
kinds = [event["event"] for event in events]
assert kinds[0] == "hparams", kinds
assert kinds[-1] == "end", kinds
assert kinds.count("epoch") == 4, kinds
assert kinds.count("step") == 2, kinds
steps = [event["step"] for event in events if "step" in event]
assert steps == sorted(steps), steps
assert events[-1]["status"] == "finished"
assert "val/acc" in events[-1]["metrics"]
assert events[0]["hparams"]["trainer.max_epochs"] == "2"
' "$JSONL"

# ---- the TensorBoard event file, decoded with protoc-generated classes ----
EVENTS=$(ls "$RUN"/events.out.tfevents.* 2>/dev/null | head -n 1)
check "one tensorboard event file" test -f "$EVENTS"
if [[ -x /usr/bin/protoc ]] && "$PYTHON" -c 'import google.protobuf' 2>/dev/null; then
  mkdir -p "$WORK/proto"
  protoc --proto_path="$HERE/tensorboard" --python_out="$WORK/proto" "$HERE/tensorboard/events.proto"
  "$PYTHON" "$HERE/tensorboard/read_events.py" "$EVENTS" "$WORK/proto" >"$WORK/events.json"
  check "event file decodes with valid CRCs" test -s "$WORK/events.json"
  check "event file content" "$PYTHON" -c '
import json, sys
events = json.load(open(sys.argv[1]))
config = open(sys.argv[2]).read()
assert events["file_version"] == "brain.Event:2", events["file_version"]
assert [step for step, _ in events["scalars"]["train/loss"]] == [7, 14], events["scalars"]["train/loss"]
assert [step for step, _ in events["scalars"]["train/loss_step"]] == [5, 10]
assert len(events["scalars"]["val/acc"]) == 2
assert events["steps"] == sorted(events["steps"]), events["steps"]
assert events["texts"]["config"] == "```yaml\n" + config + "```"
assert events["hparams"]["trainer.max_epochs"] == 2.0, events["hparams"]
assert events["hparams"]["model.class_path"] == "mlp"
assert "val/acc" in events["metric_infos"], events["metric_infos"]
assert events["end_status"] == 1
' "$WORK/events.json" "$RUN/config.yaml"
  csv_loss=$(column_values "$CSV" train/loss | tail -n 1)
  check "tensorboard and csv agree on train/loss" "$PYTHON" -c '
import json, sys
value = json.load(open(sys.argv[1]))["scalars"]["train/loss"][-1][1]
assert abs(value - float(sys.argv[2])) < 1e-6 * max(1, abs(value)), (value, sys.argv[2])
' "$WORK/events.json" "$csv_loss"
else
  skip "tensorboard decoding" "install protobuf-compiler and python3-protobuf (scripts/install_deps.sh)"
fi

# ---- resume: a new version directory whose steps continue after the checkpoint's ----
RESUMED=$("$TRAINER" fit "${BASE[@]}" --trainer.max_epochs=3 --ckpt_path="$RUN/checkpoints/last.ckpt" \
          2>"$WORK/resume.err" | tail -n 1)
check "resumed fit writes a new version" test -f "$RESUMED/metrics.csv" -a "$RESUMED" != "$RUN"
check "resumed steps continue after step 14" equal "$(column_values "$RESUMED/metrics.csv" step | tr '\n' ' ')" "15 20 21 21 "
check "steps across both runs never decrease" non_decreasing < <(column_values "$CSV" step; column_values "$RESUMED/metrics.csv" step)

# ---- logger: false writes no metric files ----
NONE=$("$TRAINER" fit "${BASE[@]}" --trainer.max_epochs=1 --trainer.logger=false 2>/dev/null | tail -n 1)
check "logger false keeps config.yaml" test -f "$NONE/config.yaml"
check "logger false writes no metric files" equal "$(ls "$NONE" | grep -E '^(metrics|hparams|events)' | wc -l)" 0

finish
