#!/usr/bin/env bash
# Lints the postagram-operator Helm chart with the real Helm library (helm-sdkpy), renders
# its templates offline with Helm's own template engine (helm-python-sdk: Chart.render,
# Helm's engine.Render with default capabilities, as `helm template` does), and validates,
# strictly and offline, every rendered manifest, every manifest the operator generates for
# the examples and the chart's static CRD against the Kubernetes JSON schemas
# (kubernetes-validate). Postagram resources (examples, the chart's values and the one the
# chart renders with example.enabled) are validated against the CRD's own openAPIV3Schema.
# Also checks that the image names the chart, the CRD and the generated manifests use are
# exactly those `make images` (scripts/build-images.sh) builds, and that the chart's
# appVersion is the workspace version. This script builds the inputs (the CRD diff, the
# generated manifests, the image list); the Python checks are in scripts/deploy/check_operator.py.
#
# Environment: POSTAGRAM_VENV (default .venv) — the virtualenv it creates/uses;
#              K8S_VERSION (default 1.35.0) — schema version to validate against;
#              OPERATOR_BIN — a built postagram-operator (default: cargo run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${POSTAGRAM_VENV:-.venv}"
K8S_VERSION="${K8S_VERSION:-1.35.0}"
CHART="charts/postagram-operator"
REQ="scripts/requirements-operator.txt"

fail() { echo "test-operator: FAIL: $*" >&2; exit 1; }

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "test-operator: creating virtualenv $VENV"
  python3 -m venv "$VENV" || fail "cannot create virtualenv $VENV"
fi
PY="$VENV/bin/python"
# Install only when the pinned set is not there yet (keeps repeated runs offline and fast).
stamp="$VENV/.postagram-operator-req.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "test-operator: installing $REQ into $VENV"
  "$PY" -m pip install --quiet --disable-pip-version-check --ignore-requires-python -r "$REQ" \
    || fail "pip install of $REQ failed"
  echo "$want" > "$stamp"
fi

if [[ -n "${OPERATOR_BIN:-}" ]]; then
  operator() { "$OPERATOR_BIN" "$@"; }
else
  operator() { cargo run --quiet -p postagram-operator -- "$@"; }
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "test-operator: CRD in the chart matches \`postagram-operator crd\`"
operator crd > "$work/crd.yaml" || fail "postagram-operator crd failed"
diff -u "$CHART/crds/postagrams.postagram.dev.yaml" "$work/crd.yaml" \
  || fail "chart CRD is stale: run \`cargo run -p postagram-operator -- crd > $CHART/crds/postagrams.postagram.dev.yaml\`"

echo "test-operator: generating the operator's manifests for operator/examples/*.yaml"
manifests=()
for ex in operator/examples/*.yaml; do
  out="$work/manifests-$(basename "$ex")"
  operator manifests "$ex" > "$out" || fail "postagram-operator manifests $ex failed"
  [[ -s "$out" ]] || fail "no manifests generated for $ex"
  manifests+=("$out")
done

echo "test-operator: images \`make images\` builds (scripts/build-images.sh --list)"
env -u REGISTRY -u TAG scripts/build-images.sh --list > "$work/images.txt" \
  || fail "scripts/build-images.sh --list failed"
[[ -s "$work/images.txt" ]] || fail "scripts/build-images.sh --list printed nothing"

"$PY" scripts/deploy/check_operator.py "$ROOT" "$CHART" "$K8S_VERSION" "$work" "$work/images.txt" "${manifests[@]}"
echo "test-operator: OK"
