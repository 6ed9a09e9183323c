#!/usr/bin/env bash
# End-to-end tests of the config commands: print-config, explain, schema, merging
# several files, and the JSON Schema checked by an independent validator.
# Usage: config_test.sh PATH_TO_TRAINER
set -uo pipefail

TRAINER=${1:?usage: config_test.sh PATH_TO_TRAINER}
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGS=$(cd "$HERE/../../configs" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export TRAINER_LOG_LEVEL=warn

source "$HERE/harness.sh"

CNN=$CONFIGS/fashion_mnist_cnn.yaml
check "print-config matches fit --print_config" equal \
  "$("$TRAINER" print-config --config "$CNN")" "$("$TRAINER" fit --config "$CNN" --print_config)"

cat > "$WORK/short.yaml" <<'YAML'
trainer:
  max_epochs: 2
model:
  class_path: mlp
YAML
check "later --config files override earlier ones" equal \
  "$("$TRAINER" print-config --config "$CNN" --config "$WORK/short.yaml" | grep -E 'max_epochs|class_path: mlp')" \
  "$(printf '  max_epochs: 2\n  class_path: mlp')"
check "class_path switch drops the old init_args" equal \
  "$("$TRAINER" print-config --config "$CNN" --config "$WORK/short.yaml" | grep -c channels)" "0"

check "explain names the file, line and what was replaced" equal \
  "$("$TRAINER" explain trainer.max_epochs --config "$CNN" --config "$WORK/short.yaml")" \
  "$(printf 'trainer.max_epochs: 2\n  from     %s:2:15\n  replaced 15 from %s:5:15' "$WORK/short.yaml" "$CNN")"
check "explain reports defaults" equal \
  "$("$TRAINER" explain trainer.precision --config "$CNN")" "$(printf 'trainer.precision: 32\n  from     the built-in default')"

"$TRAINER" schema > "$WORK/schema.json"
check "schema is valid JSON" /usr/bin/python3 -m json.tool "$WORK/schema.json" /dev/null

# An independent validator (python3-jsonschema) checks that the shipped configs and a
# resolved config satisfy the schema, and that a broken one does not.
if /usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null; then
  validate() {
    /usr/bin/python3 - "$WORK/schema.json" "$1" <<'PY'
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.validate(yaml.safe_load(open(sys.argv[2])) or {}, schema)
PY
  }
  for config in "$CONFIGS"/*.yaml; do
    check "schema accepts configs/$(basename "$config")" validate "$config"
  done
  "$TRAINER" print-config --config "$CNN" > "$WORK/resolved.yaml"
  check "schema accepts a resolved config" validate "$WORK/resolved.yaml"
  # Unquoted numbers and a list of device ids, which the reader accepts as their text.
  printf 'trainer:\n  devices: [0, 1]\n  precision: 32\n  version: 3\n' > "$WORK/numbers.yaml"
  check "schema accepts numbers and id lists in text fields" validate "$WORK/numbers.yaml"
  "$TRAINER" print-config --config "$CNN" --config "$WORK/numbers.yaml" --trainer.accelerator=cuda > /dev/null 2>&1
  check "the reader accepts the same values" equal "$?" 0
  printf 'model:\n  class_path: cnn\n  init_args:\n    chanels: [8]\n' > "$WORK/bad.yaml"
  rejects() { ! validate "$1" 2> /dev/null; }
  check "schema rejects an unknown init_args key" rejects "$WORK/bad.yaml"
else
  skip "schema validation" "python3-jsonschema or python3-yaml is not installed"
fi

finish
