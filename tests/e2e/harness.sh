# Shared by the end-to-end scripts: counts checks and prints CTest-readable totals.
# Source it after setting `set -uo pipefail`; call `finish` as the script's last line.

passed=0
failed=0
skipped=0

check() {  # check NAME COMMAND...: runs COMMAND and counts the result
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
  fi
}

skip() {  # skip NAME REASON: counts a check that cannot run here, visibly
  skipped=$((skipped + 1))
  echo "skip $1: $2"
}

equal() {  # equal ACTUAL EXPECTED: string equality that shows both values when they differ
  [[ "$1" == "$2" ]] || { echo "     got:      $1"; echo "     expected: $2"; return 1; }
}

finish() {  # prints "N passed, N failed, N skipped" and exits non-zero on any failure
  echo "$passed passed, $failed failed, $skipped skipped"
  [[ $failed -eq 0 ]]
}

last_train_loss() {  # last_train_loss RUN_DIR: the newest epoch train/loss in RUN_DIR/metrics.csv
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train/loss") c = i; next }
           $c != "" { value = $c } END { print value }' "$1/metrics.csv"
}
