#!/usr/bin/env bash
# Runs `trainer fit` over a grid (or random samples) of dotted overrides, N at a time.
# Each combination gets its own run directory named by the hash of its overrides, so a
# re-run skips combinations that completed and retries the ones that failed or were
# interrupted. At the end it prints a table sorted by a metric and writes it as CSV.
# Plain bash and coreutils plus the trainer binary; no Python.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/sweep.sh --config FILE [--config FILE ...] [options] [-- extra trainer arguments]

Combinations (at least one --grid or --range):
  --grid KEY=V1,V2,...     try each value of KEY; several --grid options form a grid
  --range KEY=LOW:HIGH[:log|:int]
                           with --samples N: draw N random combinations from these ranges
  --samples N              number of random combinations (with --range)
  --seed S                 seed of the random draws (default 0)

Options:
  --name NAME              sweep name: runs go to ROOT/NAME/version_<hash> (default: sweep)
  --root DIR               trainer.default_root_dir for every run (default: runs)
  --parallel N             runs at a time (default 1)
  --metric NAME            metric that sorts the table, e.g. val/acc (default: val/loss)
  --mode min|max           whether lower or higher is better (default: min)
  --trainer PATH           trainer binary (default: build/app/trainer, or trainer on PATH)

Exit code: 0 when every run completed, 1 when any failed or was interrupted, 2 on a usage error.
TXT
}

fail_usage() {
  echo "sweep: $1" >&2
  echo "run 'scripts/sweep.sh --help' for usage" >&2
  exit 2
}

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
configs=() grids=() ranges=() extra=()
samples=0 seed=0 name=sweep root=runs parallel=1 metric=val/loss mode=min trainer=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) configs+=("$2"); shift 2 ;;
    --grid) grids+=("$2"); shift 2 ;;
    --range) ranges+=("$2"); shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --metric) metric=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --trainer) trainer=$2; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) fail_usage "unknown option '$1'" ;;
  esac
done

[[ ${#configs[@]} -gt 0 ]] || fail_usage "--config is required"
[[ ${#grids[@]} -gt 0 || ${#ranges[@]} -gt 0 ]] || fail_usage "give at least one --grid or --range"
[[ ${#ranges[@]} -eq 0 || $samples -gt 0 ]] || fail_usage "--range needs --samples N"
[[ $mode == min || $mode == max ]] || fail_usage "--mode must be min or max, got '$mode'"
[[ $parallel =~ ^[1-9][0-9]*$ ]] || fail_usage "--parallel must be a positive integer, got '$parallel'"
if [[ -z $trainer ]]; then
  if [[ -x $ROOT_DIR/build/app/trainer ]]; then trainer=$ROOT_DIR/build/app/trainer; else trainer=$(command -v trainer || true); fi
fi
[[ -n $trainer && -x $trainer ]] || fail_usage "no trainer binary found; build it or pass --trainer PATH"

# ---- the combinations: one line each, overrides separated by tabs ----
combinations=("")
for grid in "${grids[@]}"; do
  key=${grid%%=*}
  [[ $grid == *=* && -n $key ]] || fail_usage "--grid expects KEY=V1,V2, got '$grid'"
  IFS=, read -r -a values <<< "${grid#*=}"
  next=()
  for combination in "${combinations[@]}"; do
    for value in "${values[@]}"; do next+=("${combination:+$combination$'\t'}--$key=$value"); done
  done
  combinations=("${next[@]}")
done
if [[ ${#ranges[@]} -gt 0 ]]; then
  grid_part=("${combinations[@]}")
  combinations=()
  # awk's rand() with a fixed seed makes the draws repeatable, so a re-run finds the same runs.
  mapfile -t draws < <(printf '%s\n' "${ranges[@]}" | awk -v n="$samples" -v seed="$seed" '
    { spec[NR] = $0 }
    END {
      srand(seed)
      for (s = 1; s <= n; s++) {
        line = ""
        for (r = 1; r <= NR; r++) {
          split(spec[r], kv, "="); split(kv[2], parts, ":")
          low = parts[1] + 0; high = parts[2] + 0; kind = parts[3]
          if (kind == "log") value = sprintf("%.4g", exp(log(low) + rand() * (log(high) - log(low))))
          else if (kind == "int") value = sprintf("%d", low + int(rand() * (high - low + 1)))
          else value = sprintf("%.4g", low + rand() * (high - low))
          line = line (r > 1 ? "\t" : "") "--" kv[1] "=" value
        }
        print line
      }
    }')
  for base in "${grid_part[@]}"; do
    for draw in "${draws[@]}"; do combinations+=("${base:+$base$'\t'}$draw"); done
  done
fi

sweep_dir=$root/$name
mkdir -p "$sweep_dir/logs"
config_args=()
for config in "${configs[@]}"; do config_args+=(--config "$config"); done

run_id() { printf '%s' "$1" | sha1sum | cut -c1-12; }
results_field() {  # results_field FILE KEY: a top-level string or number of results.json
  sed -n "s/^  \"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1" 2> /dev/null
}
metric_value() {  # metric_value FILE: the sort metric, best value if logged, else the final one
  local line
  for section in best_metrics final_metrics; do
    line=$(grep "^  \"$section\":" "$1" 2> /dev/null | grep -o "\"$metric\": [^,}]*" || true)
    if [[ -n $line ]]; then echo "${line#*: }"; return; fi
  done
}

# A signal to this script (a scheduler's SIGTERM, timeout, kill -INT) reaches the runs
# too: each saves and stops, and running the sweep again starts them over.
stop_runs() {
  trap - INT TERM
  local pids
  pids=$(jobs -rp)
  [[ -n $pids ]] && kill -"$1" $pids 2> /dev/null
  wait
  exit "$2"
}
trap 'stop_runs INT 130' INT
trap 'stop_runs TERM 143' TERM

# What a run was started with: the config files' contents, then every argument. A completed
# run is reused only when this matches, so a changed config or extra argument runs again.
config_digest=$(cat "${configs[@]}" | cksum)
echo "sweep: ${#combinations[@]} runs in $sweep_dir, $parallel at a time"
for combination in "${combinations[@]}"; do
  id=$(run_id "$combination")
  run_dir=$sweep_dir/version_$id
  IFS=$'\t' read -r -a overrides <<< "$combination"
  started_with="$config_digest $(printf '%q ' "${overrides[@]}" "${extra[@]}")"
  if [[ $(results_field "$run_dir/results.json" status) == completed &&
        $(cat "$sweep_dir/logs/$id.args" 2> /dev/null) == "$started_with" ]]; then
    echo "skip $id (completed)"
    continue
  fi
  rm -rf "$run_dir"  # a failed or interrupted attempt starts over
  while [[ $(jobs -rp | wc -l) -ge $parallel ]]; do wait -n || true; done
  echo "run  $id ${overrides[*]}"
  printf '%s' "$started_with" > "$sweep_dir/logs/$id.args"
  "$trainer" fit "${config_args[@]}" --trainer.default_root_dir="$root" --run_name "$name" --version "$id" \
    "${overrides[@]}" "${extra[@]}" > "$sweep_dir/logs/$id.log" 2>&1 &
done
wait || true

# ---- the table, sorted by the metric ----
csv=$sweep_dir/sweep.csv
{
  echo "id,status,$metric,overrides"
  for combination in "${combinations[@]}"; do
    id=$(run_id "$combination")
    file=$sweep_dir/version_$id/results.json
    status=$(results_field "$file" status)
    echo "$id,${status:-missing},$(metric_value "$file"),\"${combination//$'\t'/ }\""
  done | sort -t, -k3,3g$([[ $mode == max ]] && echo r)
} > "$csv.tmp"
mv "$csv.tmp" "$csv"
column -t -s, < "$csv"
echo "sweep: table written to $csv"
! grep -qv -e ',completed,' -e '^id,' "$csv"
