#!/usr/bin/env bash
# End-to-end tests of the data formats through the trainer binary: the csv configs on
# scikit-learn's bundled CSVs must beat stated test accuracies, a broken CSV must
# exit with code 3, and .npy files written by NumPy must train.
# Usage: data_test.sh PATH_TO_TRAINER
set -uo pipefail

TRAINER=${1:?usage: data_test.sh PATH_TO_TRAINER}
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGS=$(cd "$HERE/../../configs" && pwd)
SKLEARN=/usr/lib/python3/dist-packages/sklearn/datasets/data
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TRAINER_LOG_LEVEL=warn

source "$HERE/harness.sh"
skip() { echo "skip $1"; }

# last_metric FILE COLUMN: the last non-empty value of COLUMN in a metrics CSV.
last_metric() {
  awk -F, -v column="$2" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next }
    c && $c != "" { last = $c }
    END { print last }' "$1"
}
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

# fit_and_test CONFIG ARGS...: fits, tests the checkpoint, prints the test accuracy.
fit_and_test() {
  local config=$1
  shift
  local run test_run
  run=$("$TRAINER" fit --config "$config" --trainer.default_root_dir="$WORK/runs" "$@" 2> "$WORK/fit.err" | tail -n 1)
  [[ -s "$run/checkpoints/last.ckpt" ]] || { cat "$WORK/fit.err" >&2; return 1; }
  test_run=$("$TRAINER" test --config "$run/config.yaml" --ckpt_path "$run/checkpoints/last.ckpt" 2> "$WORK/test.err" |
             tail -n 1)
  [[ -s "$test_run/metrics.csv" ]] || { cat "$WORK/test.err" >&2; return 1; }
  last_metric "$test_run/metrics.csv" test/acc
}

# ---- scikit-learn's CSVs: 30 test samples (iris), 35 (wine), 113 (breast cancer) ----
# Thresholds sit below the test accuracies measured with the configs as they are
# (seed 42, 2-core CPU): iris 1.0, wine 0.97, breast cancer 0.96. One test sample is
# 3% of iris and 3% of wine, so the margins allow a few samples to flip.
declare -A THRESHOLD=([iris]=0.90 [wine]=0.90 [breast_cancer]=0.92)
for name in iris wine breast_cancer; do
  if [[ ! -d "$SKLEARN" ]]; then
    skip "$name csv (install python3-sklearn)"
    continue
  fi
  acc=$(fit_and_test "$CONFIGS/${name}_mlp.yaml")
  echo "     $name test/acc = $acc"
  check "$name test accuracy at least ${THRESHOLD[$name]}" at_least "${acc:-0}" "${THRESHOLD[$name]}"
done

# ---- a broken file: exit code 3, one line naming the file and line ----
head -c 300 "$SKLEARN/iris.csv" > "$WORK/cut.csv" 2>/dev/null || printf '150,4,a,b,c\n1,2,3,4,0\n' > "$WORK/cut.csv"
"$TRAINER" fit --config "$CONFIGS/iris_mlp.yaml" --data.init_args.path="$WORK/cut.csv" \
  --trainer.default_root_dir="$WORK/runs" > /dev/null 2> "$WORK/err.txt"
status=$?
check "truncated sklearn csv exits 3" test "$status" -eq 3
check "truncated sklearn csv is one line naming the file" \
  test "$(wc -l < "$WORK/err.txt")" -eq 1 -a -n "$(grep -F "$WORK/cut.csv" "$WORK/err.txt")"
"$TRAINER" fit --config "$CONFIGS/iris_mlp.yaml" --data.init_args.target=specis \
  --trainer.default_root_dir="$WORK/runs" > /dev/null 2> "$WORK/err.txt"
check "unknown target column exits 3" test "$?" -eq 3

# ---- .npy files written by NumPy (Debian's python3-numpy) ----
NUMPY=/usr/bin/python3
if "$NUMPY" -c "import numpy" 2> /dev/null && [[ -f "$SKLEARN/iris.csv" ]]; then
  "$NUMPY" - "$SKLEARN/iris.csv" "$WORK" <<'PY'
import sys
import numpy as np
table = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
np.save(sys.argv[2] + "/x.npy", table[:, :4])                   # float64
np.save(sys.argv[2] + "/y.npy", table[:, 4].astype(np.int64))
np.save(sys.argv[2] + "/x32.npy", table[:, :4].astype(np.float32))
PY
  acc=$(fit_and_test "$CONFIGS/iris_mlp.yaml" --data=npy --data.init_args.inputs="$WORK/x.npy" \
          --data.init_args.targets="$WORK/y.npy" --data.init_args.standardize=true \
          --data.init_args.batch_size=16 --data.init_args.val_size=0.2 --data.init_args.test_size=0.2)
  echo "     iris from npy test/acc = $acc"
  check "npy from numpy trains to at least 0.90" at_least "${acc:-0}" 0.90
  "$TRAINER" fit --config "$CONFIGS/iris_mlp.yaml" --data=npy --data.init_args.inputs="$WORK/x32.npy" \
    --data.init_args.targets="$WORK/x.npy" --trainer.default_root_dir="$WORK/runs" > /dev/null 2> "$WORK/err.txt"
  check "npy float targets for classification exit 3" test "$?" -eq 3
else
  skip "npy from numpy (/usr/bin/python3 has no numpy)"
fi

finish
