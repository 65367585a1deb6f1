#!/bin/sh
# Regenerates fixtures/golden (PyTorch generator) and fixtures/external (numpy tool, then the
# independent torch dino_train_steps tool) into a temp
# folder with Debian's /usr/bin/python3 and fails, naming the files, if anything differs from what
# is committed. Run from anywhere; CI runs it.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"
"$PY" reference-tests/generate/generate.py --out "$TMP/golden" >/dev/null
"$PY" reference-tests/external/numpy_cases.py --out "$TMP/external" >/dev/null
"$PY" reference-tests/external/torch_train_steps.py --out "$TMP/external" >/dev/null
status=0
for set in golden external; do
  if ! diff -rq "fixtures/$set" "$TMP/$set" >"$TMP/$set.diff" 2>&1; then
    echo "fixtures/$set differs from a fresh regeneration:" >&2
    sed "s#$TMP/#<regenerated>/#g" "$TMP/$set.diff" >&2
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "HINT: regenerate with: $PY reference-tests/generate/generate.py --out fixtures/golden &&" \
       "$PY reference-tests/external/numpy_cases.py --out fixtures/external &&" \
       "$PY reference-tests/external/torch_train_steps.py --out fixtures/external" >&2
  exit 1
fi
echo "fixtures/golden and fixtures/external match a fresh regeneration"
