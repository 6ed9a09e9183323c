#!/usr/bin/env bash
# Checks the Dockerfile statically, for machines without a Docker engine.
# Usage: scripts/check_dockerfile.sh [DOCKERFILE]   (default: the repository's Dockerfile)
# Rules, each printed as "ok: ...", "FAIL: ..." or "skip: ...":
#   1. hadolint reports no warning or error apart from DL3008 (unpinned apt versions).
#      Skipped if hadolint is not installed.
#   2. The file is multi-stage and has the runtime targets `cuda` and `cpu`.
#   3. Each runtime target has an exec-form ENTRYPOINT (a JSON array) that ends in trainer.
#   4. Each runtime target's last USER is neither root nor uid 0.
#   5. Every RUN with `apt-get install` runs `apt-get update` first, passes
#      --no-install-recommends to each install and removes /var/lib/apt/lists.
#   6. No ADD fetches a remote URL.
#   7. The LibTorch version is an ARG with a default, and every download.pytorch.org URL uses it.
#   8. Every package installed in the cpu stages (`cpu`, `cpu-*`) is in this machine's apt
#      cache. Skipped without apt-cache, or unless the machine runs Debian 12 like those stages.
#   9. The stage that builds the `cuda` target's trainer configures CMake with
#      -DTRAINER_NCCL=ON, so that the image cannot build without ddp support on CUDA devices.
# Exits 1 if a rule fails, 2 if the Dockerfile is missing. Heredoc RUNs are not understood.
set -euo pipefail

dockerfile=${1:-"$(cd "$(dirname "$0")/.." && pwd)/Dockerfile"}
[[ -f $dockerfile ]] || { echo "error: Dockerfile not found: $dockerfile" >&2; exit 2; }
runtime_stages=(cuda cpu)
passed=0 failed=0 skipped=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
skip() { echo "skip: $1"; skipped=$((skipped + 1)); }
report() { if [[ -z $1 ]]; then ok "$2"; else fail "$3"; fi; }  # report PROBLEMS OK_TEXT FAIL_TEXT

# One line per instruction, "STAGE<TAB>KEYWORD<TAB>ARGUMENTS": continuation lines joined, comment
# lines dropped (as Docker does) and whitespace squeezed. Stage "global" precedes the first FROM.
instructions=$(awk '
  function emit(text,   keyword, fields, count, i) {
    gsub(/[[:space:]]+/, " ", text); sub(/^ /, "", text)
    keyword = toupper(text); sub(/[[:space:]].*/, "", keyword)
    sub(/^[^[:space:]]+[[:space:]]*/, "", text)
    if (keyword == "FROM") {
      stage = "stage" ++stages
      count = split(text, fields, /[[:space:]]+/)
      for (i = 1; i < count; i++) if (tolower(fields[i]) == "as") stage = fields[i + 1]
    }
    printf "%s\t%s\t%s\n", stage, keyword, text
  }
  BEGIN { stage = "global" }
  /^[[:space:]]*#/ { next }
  { line = $0
    if (sub(/\\[[:space:]]*$/, "", line)) { buffer = buffer line " "; next }
    buffer = buffer line
    if (buffer ~ /[^[:space:]]/) emit(buffer)
    buffer = "" }
  END { if (buffer ~ /[^[:space:]]/) emit(buffer) }' "$dockerfile")
# Prints the arguments of each KEYWORD instruction in STAGE, or in every stage for "*".
arguments() { awk -F'\t' -v stage="$1" -v keyword="$2" '($1 == stage || stage == "*") && $2 == keyword { print $3 }' <<<"$instructions"; }

# 1. hadolint
if ! command -v hadolint >/dev/null; then skip "hadolint is not installed (Debian 12 does not package it)"
elif hadolint --failure-threshold warning --ignore DL3008 "$dockerfile"; then ok "hadolint"
else fail "hadolint reported the problems above"; fi

# 2. Stages
stage_names=$(awk -F"\t" '$2 == "FROM" { print $1 }' <<<"$instructions")
stages=$(grep -c . <<<"$stage_names" || true) missing=""
for stage in "${runtime_stages[@]}"; do grep -qx "$stage" <<<"$stage_names" || missing+=" $stage"; done
if ((stages < 2)); then fail "multi-stage: found $stages FROM instruction(s), expected at least 2"
elif [[ -n $missing ]]; then fail "multi-stage: no stage named${missing} (expected FROM IMAGE AS NAME)"
else ok "multi-stage: $stages stages, with the targets ${runtime_stages[*]}"; fi

# 3. ENTRYPOINT and 4. USER, in each runtime stage
entry_problems="" user_problems=""
for stage in "${runtime_stages[@]}"; do
  entrypoint=$(arguments "$stage" ENTRYPOINT | tail -n 1)
  [[ $entrypoint =~ ^\[.*\"([^\"]*/)?trainer\"[[:space:]]*\]$ ]] || entry_problems+=" $stage: '${entrypoint:-none}';"
  user=$(arguments "$stage" USER | tail -n 1)
  if [[ -z $user || $user =~ ^(root|0)(:.*)?$ ]]; then user_problems+=" $stage: '${user:-none}';"; fi
done
report "$entry_problems" "ENTRYPOINT is an exec-form array ending in trainer" \
  "ENTRYPOINT must be a JSON array ending in \"trainer\", got${entry_problems}"
report "$user_problems" "USER is not root in the runtime stages" \
  "USER must name a non-root user in each runtime stage, got${user_problems}"

# 5. apt-get usage
apt_problems=""
while IFS= read -r run; do
  [[ $run == *"apt-get install"* ]] || continue
  short="'${run:0:50}...'"
  [[ ${run%%apt-get install*} == *"apt-get update"* ]] || apt_problems+=" no apt-get update before the install in $short;"
  counts=$(awk '{ all = gsub(/apt-get install/, "&"); flagged = gsub(/apt-get install[^&;|]*--no-install-recommends/, "&"); print all, flagged }' <<<"$run")
  [[ ${counts% *} == "${counts#* }" ]] || apt_problems+=" an install without --no-install-recommends in $short;"
  [[ $run == *"rm -rf /var/lib/apt/lists"* ]] || apt_problems+=" no rm -rf /var/lib/apt/lists/* in $short;"
done < <(arguments "*" RUN)
report "$apt_problems" "apt-get: update, install --no-install-recommends and list cleanup in one RUN" \
  "apt-get:${apt_problems}"

# 6. Remote ADD
remote_adds=$(arguments "*" ADD | grep -E '(https?|ftp|git)://|git@' || true)
report "$remote_adds" "no ADD of a remote URL" \
  "ADD fetches a remote URL (download it in a RUN and verify it instead): ${remote_adds//$'\n'/; }"

# 7. LibTorch version ARG
urls=$(awk -F'\t' '/download\.pytorch\.org/ { print $3 }' <<<"$instructions")
hard_coded=$(grep -v 'LIBTORCH_VERSION' <<<"$urls" || true)
if ! grep -qE '^LIBTORCH_VERSION=[^[:space:]]+' <<<"$(arguments "*" ARG)"; then fail "LibTorch version: no 'ARG LIBTORCH_VERSION=<default>'"
elif [[ -z $urls ]]; then fail "LibTorch version: no download.pytorch.org URL found"
elif [[ -n $hard_coded ]]; then fail "LibTorch version: a download.pytorch.org URL does not use LIBTORCH_VERSION: $hard_coded"
else ok "LibTorch version is ARG LIBTORCH_VERSION and the download URL uses it"; fi

# 8. cpu packages in the apt cache
packages=$(awk -F'\t' '$2 == "RUN" && ($1 == "cpu" || $1 ~ /^cpu-/) {
  count = split($3, parts, /apt-get install/)
  for (i = 2; i <= count; i++) {
    segment = parts[i]; sub(/(&&|;|\|).*/, "", segment)
    words = split(segment, word, /[[:space:]]+/)
    for (j = 1; j <= words; j++) if (word[j] != "" && word[j] !~ /^-/) print word[j]
  } }' <<<"$instructions" | sort -u)
if ! command -v apt-cache >/dev/null; then skip "cpu packages: apt-cache is not available"
elif ! { grep -qx 'ID=debian' /etc/os-release && grep -qx 'VERSION_ID="12"' /etc/os-release; } 2>/dev/null; then
  skip "cpu packages: this machine is not Debian 12, so its apt cache says nothing about debian:12"
elif [[ -z $packages ]]; then fail "cpu packages: no apt-get install found in the cpu stages"
else
  not_found=""
  for package in $packages; do apt-cache show "$package" >/dev/null 2>&1 || not_found+=" $package"; done
  if [[ -z $not_found ]]; then ok "cpu packages: all $(wc -w <<<"$packages") are in the apt cache"
  else fail "cpu packages not in the apt cache (run apt-get update if the cache is empty):$not_found"; fi
fi

# 9. NCCL in the cuda build: find the stage the cuda target copies trainer from
cuda_builder=$(arguments cuda COPY | sed -nE 's|^--from=([^ ]+) [^ ]*/trainer .*|\1|p' | tail -n 1)
cuda_cmake=$(arguments "${cuda_builder:-none}" RUN | grep -E 'cmake -S' || true)
if [[ -z $cuda_builder ]]; then fail "cuda NCCL: the cuda stage copies trainer from no build stage (COPY --from=STAGE .../trainer)"
elif [[ -z $cuda_cmake ]]; then fail "cuda NCCL: stage $cuda_builder runs no 'cmake -S'"
elif grep -q -- '-DTRAINER_NCCL=ON' <<<"$cuda_cmake"; then ok "cuda NCCL: stage $cuda_builder configures with -DTRAINER_NCCL=ON"
else fail "cuda NCCL: stage $cuda_builder configures without -DTRAINER_NCCL=ON, so ddp on CUDA devices may be left out"; fi

echo "check_dockerfile: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
