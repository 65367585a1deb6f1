#!/bin/sh
# Regenerates fixtures/golden (PyTorch generator) and fixtures/external (numpy tool, then the
# independent torch dino_train_steps tool) into a temp folder with Debian's /usr/bin/python3 and
# compares them with what is committed (reference-tests/compare_fixtures.py). Run from anywhere;
# CI runs it. Usage: check-fixtures.sh [COMMITTED]  (default fixtures/, relative to the repo root
# or absolute: the folder holding golden/ and external/; reference-tests/test_check_fixtures.py
# passes tampered copies).
#
# The rule (reference-tests/README.md, "check-fixtures.sh: what may differ"): everything equal
# byte for byte -- the set of files, in.* inputs, tensor names, dtypes, shapes, every
# __metadata__ key (params, tolerance, producer, ...), F64 and integer outputs -- except the last
# bits of what OpenBLAS computes, which depend on the gemm kernel it picks for the processor
# (OPENBLAS_CORETYPE): F32 outputs of the ops with matrix products (matmul, attention,
# interpolate_pos_encoding, vit_forward, vit_backward, dino_head, dino_train_steps) may differ by
# at most 0.25 * (atol + rtol |committed|) with the case's own tolerance; for dino_train_steps,
# whose tolerance is MEASURED from float32 runs, the tolerance atol values may differ by a factor
# of at most 4 and the loss (float32 values stored as F64) follows the F32 rule; MANIFEST.json
# sha256/bytes may differ only for those files. One line per failing file, a final status, exit 1
# on failure.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
cd "$ROOT"
COMMITTED=${1:-fixtures}
[ -d "$COMMITTED" ] || { echo "check-fixtures: no folder $COMMITTED" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PY" reference-tests/generate/generate.py --out "$TMP/golden" >/dev/null
"$PY" reference-tests/external/numpy_cases.py --out "$TMP/external" >/dev/null
"$PY" reference-tests/external/torch_train_steps.py --out "$TMP/external" >/dev/null
if ! "$PY" reference-tests/compare_fixtures.py "$COMMITTED" "$TMP"; then
  echo "HINT: if the generator changed on purpose, regenerate with:" \
       "$PY reference-tests/generate/generate.py --out fixtures/golden &&" \
       "$PY reference-tests/external/numpy_cases.py --out fixtures/external &&" \
       "$PY reference-tests/external/torch_train_steps.py --out fixtures/external" >&2
  exit 1
fi
