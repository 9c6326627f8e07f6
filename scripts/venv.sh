#!/usr/bin/env bash
# Creates the test virtualenv and installs the pinned Python tools the tests use.
# Prints nothing but errors when it is already up to date.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POSTAGRAM_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
REQ=("$ROOT"/scripts/requirements*.txt)
STAMP="$VENV/.requirements.sha256"
want="$(cat "${REQ[@]}" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || { echo "venv: cannot create $VENV" >&2; exit 1; }
for r in "${REQ[@]}"; do
    extra=()
    # helm-sdkpy declares Python >= 3.12 but works on 3.11.
    if grep -q '^helm-sdkpy' "$r"; then extra=(--ignore-requires-python); fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${extra[@]}" -r "$r" \
        || { echo "venv: pip install -r $r failed" >&2; exit 1; }
done
echo "$want" > "$STAMP"
