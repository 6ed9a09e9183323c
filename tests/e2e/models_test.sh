#!/usr/bin/env bash
# End-to-end tests of models brought from outside. A TorchScript model written by
# Python trains in C++ and improves, survives its checkpoint, and exports back.
# State dicts of TorchScript and built-in models load in Python with the model's
# names, and give the outputs that C++ computes. Needs Debian's python3-torch.
# Usage: models_test.sh PATH_TO_TRAINER PATH_TO_CHECKPOINT_FORWARD PATH_TO_EXPORT_SCRIPT
set -uo pipefail

TRAINER=${1:?usage: models_test.sh TRAINER CHECKPOINT_FORWARD EXPORT_SCRIPT}
FORWARD=${2:?usage: models_test.sh TRAINER CHECKPOINT_FORWARD EXPORT_SCRIPT}
EXPORT_SCRIPT=${3:?usage: models_test.sh TRAINER CHECKPOINT_FORWARD EXPORT_SCRIPT}
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGS=$(cd "$HERE/../../configs" && pwd)
PYTHON=/usr/bin/python3  # Debian's python3-torch; a python3 earlier on PATH may lack torch
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=warn

if ! "$PYTHON" -c "import torch" 2> /dev/null; then
  echo "skip models_e2e: $PYTHON cannot import torch (apt-get install python3-torch)"
  exit 77  # CTest reports the test as skipped (SKIP_RETURN_CODE)
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

source "$HERE/harness.sh"

# metric FILE COLUMN first|last: the first or last non-empty value of COLUMN in a CSV.
metric() {
  awk -F, -v column="$2" -v which="$3" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next }
    c && $c != "" { if (!seen) first = $c; seen = 1; last = $c }
    END { print (which == "first" ? first : last) }' "$1"
}
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
expect_error() {  # expect_error CODE MESSAGE COMMAND...: exits CODE and prints MESSAGE on stderr
  local code=$1 message=$2
  shift 2
  "$@" > /dev/null 2> "$WORK/error.txt"
  local status=$?
  [[ $status -eq $code ]] && grep -qF -- "$message" "$WORK/error.txt"
}
# python_check NAME SCRIPT ARGS...: runs a Python check that prints its measurements and exits 0 on success.
python_check() {
  local name=$1 script=$2
  shift 2
  check "$name" "$PYTHON" -c "$script" "$@"
}

# ---- a TorchScript model from Python, trained in C++ ----
"$PYTHON" "$EXPORT_SCRIPT" "$WORK/example.pt" > /dev/null
check "export script writes a TorchScript file" test -s "$WORK/example.pt"

TS=(--config "$CONFIGS/fashion_mnist_torchscript.yaml" --model.init_args.path="$WORK/example.pt"
    --trainer.default_root_dir="$WORK/runs" --trainer.limit_val_batches=5)
# Learning rate 0: the validation accuracy of the untrained module, as a baseline.
"$TRAINER" fit "${TS[@]}" --trainer.run_name=untrained --trainer.max_epochs=1 --trainer.limit_train_batches=1 \
  --optimizer.init_args.lr=0 > "$WORK/untrained.out" 2>&1
untrained_acc=$(metric "$(tail -n 1 "$WORK/untrained.out")/metrics.csv" val/acc last)

"$TRAINER" fit "${TS[@]}" --trainer.max_epochs=2 --trainer.limit_train_batches=30 > "$WORK/fit.out" 2> "$WORK/fit.err"
check "torchscript fit exits 0" equal "$?" 0
RUN=$(tail -n 1 "$WORK/fit.out")
first_loss=$(metric "$RUN/metrics.csv" train/loss first)
last_loss=$(metric "$RUN/metrics.csv" train/loss last)
val_acc=$(metric "$RUN/metrics.csv" val/acc last)
echo "     train/loss epoch 0 = $first_loss, epoch 1 = $last_loss; val/acc untrained = $untrained_acc, trained = $val_acc"
# 2 x 30 batches take the epoch-mean loss from about 1.3 to about 0.7, and accuracy from about 0.1 to about 0.75.
check "torchscript train loss falls by at least 30%" less_than "$last_loss" "$(awk -v l="$first_loss" 'BEGIN { print 0.7 * l }')"
check "torchscript val accuracy rises by at least 0.4" less_than "$(awk -v a="$untrained_acc" 'BEGIN { print a + 0.4 }')" "$val_acc"

"$TRAINER" validate --config "$RUN/config.yaml" --ckpt_path "$RUN/checkpoints/last.ckpt" > "$WORK/val.out" 2>&1
check "torchscript checkpoint reproduces val/acc" equal "$(metric "$(tail -n 1 "$WORK/val.out")/metrics.csv" val/acc last)" "$val_acc"

# ---- exports of the TorchScript model, read by Python ----
"$TRAINER" export --ckpt_path "$RUN/checkpoints/last.ckpt" --format torchscript > "$WORK/export_ts.out" 2>&1
check "export torchscript writes model.pt" equal "$(tail -n 1 "$WORK/export_ts.out")" "$RUN/checkpoints/model.pt"
"$TRAINER" export --config "$RUN/config.yaml" --ckpt_path last --format state_dict --output "$WORK/ts_state.pt" \
  > "$WORK/export_sd.out" 2>&1
check "export state_dict writes --output" equal "$(tail -n 1 "$WORK/export_sd.out")" "$WORK/ts_state.pt"

# The same fixed input through the C++ model and through both exports in Python.
"$PYTHON" -c "import sys, torch; torch.manual_seed(0); torch.randn(4, 1, 28, 28).numpy().tofile(sys.argv[1])" "$WORK/x.f32"
"$FORWARD" "$RUN/checkpoints/last.ckpt" float32 "$WORK/x.f32" "$WORK/cpp_ts.f32" 4 1 28 28 > /dev/null
python_check "python outputs of both exports match C++" '
import importlib.util, sys
import numpy as np, torch
script, model_pt, state_pt, initial_pt, x_path, cpp_path = sys.argv[1:]
spec = importlib.util.spec_from_file_location("export_example_model", script)
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)

x = torch.from_numpy(np.fromfile(x_path, dtype=np.float32).reshape(4, 1, 28, 28))
cpp = torch.from_numpy(np.fromfile(cpp_path, dtype=np.float32).reshape(4, 10))
scripted = torch.jit.load(model_pt)
state = torch.load(state_pt)
names = [name for name, _ in scripted.named_parameters()] + [name for name, _ in scripted.named_buffers()]
assert isinstance(state, dict), type(state)
assert list(state) == names, (list(state), names)
for name, tensor in scripted.state_dict().items():
    assert state[name].shape == tensor.shape, name
assert not scripted.training, "model.pt must be saved in eval mode"

python_model = example.SmallCnn(10)
python_model.load_state_dict(state)  # strict: every name and shape must match
python_model.eval()
initial = torch.jit.load(initial_pt)
with torch.no_grad():
    from_script, from_state = scripted(x), python_model(x)
    untrained = initial.eval()(x)
print(f"     max |python - C++|: model.pt {(from_script - cpp).abs().max():.2e}, state_dict {(from_state - cpp).abs().max():.2e}")
assert torch.allclose(from_script, cpp, atol=1e-4), "model.pt outputs differ from C++"
assert torch.allclose(from_state, cpp, atol=1e-4), "state_dict outputs differ from C++"
assert not torch.allclose(untrained, cpp, atol=1e-2), "the export holds the untrained weights"
' "$EXPORT_SCRIPT" "$RUN/checkpoints/model.pt" "$WORK/ts_state.pt" "$WORK/example.pt" "$WORK/x.f32" "$WORK/cpp_ts.f32"

# ---- a built-in model's state dict, read by Python ----
"$TRAINER" fit --config "$CONFIGS/fashion_mnist_mlp.yaml" --trainer.default_root_dir="$WORK/runs" \
  --model.init_args.hidden_sizes='[32]' --model.init_args.batch_norm=true --trainer.max_epochs=1 \
  --trainer.limit_train_batches=5 --trainer.limit_val_batches=1 > "$WORK/mlp.out" 2>&1
MLP_RUN=$(tail -n 1 "$WORK/mlp.out")
"$TRAINER" export --ckpt_path "$MLP_RUN/checkpoints/last.ckpt" > /dev/null 2>&1
check "export of a built-in model defaults to state_dict.pt" test -s "$MLP_RUN/checkpoints/state_dict.pt"
before=$(cksum < "$MLP_RUN/checkpoints/last.ckpt")
"$TRAINER" export --ckpt_path "$MLP_RUN/checkpoints/last.ckpt" --output "$MLP_RUN/checkpoints/../checkpoints/last.ckpt" \
  > /dev/null 2>&1
check "export onto its own checkpoint exits 2" equal "$?" 2
check "export onto its own checkpoint leaves it unchanged" equal "$(cksum < "$MLP_RUN/checkpoints/last.ckpt")" "$before"
"$FORWARD" "$MLP_RUN/checkpoints/last.ckpt" float32 "$WORK/x.f32" "$WORK/cpp_mlp.f32" 4 1 28 28 > /dev/null
python_check "python mlp with the exported state_dict matches C++" '
import sys
import numpy as np, torch
from torch import nn
state_pt, x_path, cpp_path = sys.argv[1:]

class Mlp(nn.Module):  # the layout of trainer'"'"'s mlp: hidden_sizes [32], batch_norm true
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    def forward(self, x):
        return self.layers(x.flatten(1))

model = Mlp()
model.load_state_dict(torch.load(state_pt))
model.eval()
x = torch.from_numpy(np.fromfile(x_path, dtype=np.float32).reshape(4, 1, 28, 28))
cpp = torch.from_numpy(np.fromfile(cpp_path, dtype=np.float32).reshape(4, 10))
with torch.no_grad():
    difference = (model(x) - cpp).abs().max()
print(f"     max |python - C++|: mlp {difference:.2e}")
assert difference < 1e-4
' "$MLP_RUN/checkpoints/state_dict.pt" "$WORK/x.f32" "$WORK/cpp_mlp.f32"

check "torchscript export of a built-in model exits 2" expect_error 2 \
  "exporting model 'mlp' as TorchScript: cannot write" \
  "$TRAINER" export --ckpt_path "$MLP_RUN/checkpoints/last.ckpt" --format torchscript
check "export without a checkpoint path exits 2" expect_error 2 "--ckpt_path is required" "$TRAINER" export
check "missing TorchScript file exits 2" expect_error 2 "model.init_args.path: TorchScript file '$WORK/none.pt' not found" \
  "$TRAINER" fit "${TS[@]}" --model.init_args.path="$WORK/none.pt"

finish
