#!/usr/bin/env bash
# Lints the postagram-operator Helm chart with the real Helm library (helm-sdkpy) and
# validates, strictly and offline, every manifest the operator generates for the examples
# plus the chart's static CRD against the Kubernetes JSON schemas (kubernetes-validate).
# Example Postagrams are validated against the CRD's own openAPIV3Schema.
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

"$PY" - "$ROOT" "$CHART" "$K8S_VERSION" "$work" "${manifests[@]}" <<'PYEOF'
import asyncio, copy, glob, json, os, shutil, sys

import jsonschema
import kubernetes_validate
import yaml
import helm_sdkpy

root, chart, k8s_version, work, *manifests = sys.argv[1:]
failures = []

def fail(msg):
    failures.append(msg)
    print(f"  FAIL {msg}", file=sys.stderr)

# --- helm lint (real Helm library), default values and variants --------------------
SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
def lint(path, label):
    result = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration()).run(path))
    bad = [m for m in (result.get("Messages") or []) if m.get("Severity", 0) >= 2]
    if result.get("Errors") or bad:
        fail(f"helm lint {label}: errors={result.get('Errors')} messages={bad}")
    elif result.get("TotalChartsLinted") != 1:
        fail(f"helm lint {label}: linted {result.get('TotalChartsLinted')} charts")
    else:
        print(f"  ok helm lint {label} ({len(result.get('Messages') or [])} info message(s))")

values = yaml.safe_load(open(os.path.join(root, chart, "values.yaml")))
variants = {
    "defaults": {},
    "example+no-leader-election+text-logs": {"example": {"enabled": True}, "leaderElection": {"enabled": False}, "logFormat": "text", "replicaCount": 2},
    "no-serviceaccount+no-metrics-service": {"serviceAccount": {"create": False, "name": "ops"}, "metrics": {"service": {"enabled": False}}},
}
def merge(a, b):
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
for label, override in variants.items():
    dst = os.path.join(work, "chart-" + label.replace("+", "_"), "postagram-operator")
    shutil.copytree(os.path.join(root, chart), dst)
    with open(os.path.join(dst, "values.yaml"), "w") as f:
        yaml.safe_dump(merge(values, override), f)
    lint(dst, label)

# The values schema must reject nonsense (Helm lint validates values against it).
dst = os.path.join(work, "chart-bad", "postagram-operator")
shutil.copytree(os.path.join(root, chart), dst)
with open(os.path.join(dst, "values.yaml"), "w") as f:
    yaml.safe_dump(merge(values, {"logFormat": "xml", "replicaCount": 0}), f)
try:
    r = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration()).run(dst))
    rejected = bool(r.get("Errors")) or any(m.get("Severity", 0) >= 3 for m in (r.get("Messages") or []))
except helm_sdkpy.HelmError:
    rejected = True
if rejected:
    print("  ok helm lint rejects invalid values (values.schema.json)")
else:
    fail("helm lint accepted logFormat=xml replicaCount=0")

# --- strict schema validation of generated and static manifests ----------------------
def validate_docs(path):
    n = 0
    for doc in yaml.safe_load_all(open(path)):
        if not doc:
            continue
        n += 1
        what = f"{os.path.basename(path)}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
        except kubernetes_validate.utils.SchemaNotFoundError as e:
            fail(f"{what}: no schema ({e})")
        except kubernetes_validate.utils.ValidationError as e:
            fail(f"{what}: {e.message} at {list(e.path)}")
        else:
            print(f"  ok {what} (kubernetes {k8s_version}, strict)")
    return n

count = sum(validate_docs(m) for m in manifests)
crd_path = os.path.join(root, chart, "crds", "postagrams.postagram.dev.yaml")
count += validate_docs(crd_path)

# --- example Postagrams against the CRD's own schema ---------------------------------
crd = yaml.safe_load(open(crd_path))
schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
def k8s_to_jsonschema(s):
    # openAPIV3Schema -> JSON Schema: drop Kubernetes extensions, map nullable.
    if isinstance(s, dict):
        out = {k: k8s_to_jsonschema(v) for k, v in s.items() if not k.startswith("x-kubernetes")}
        if s.get("x-kubernetes-int-or-string"):
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(s, list):
        return [k8s_to_jsonschema(v) for v in s]
    return s
js = k8s_to_jsonschema(schema)
examples = sorted(glob.glob(os.path.join(root, "operator/examples/*.yaml")))
chart_example = {"apiVersion": "postagram.dev/v1alpha1", "kind": "Postagram",
                 "metadata": {"name": values["example"]["name"]}, "spec": values["example"]["spec"]}
for label, doc in [(os.path.basename(p), yaml.safe_load(open(p))) for p in examples] + [("chart values example", chart_example)]:
    try:
        jsonschema.validate(doc, js)
        print(f"  ok {label} against the CRD schema")
    except jsonschema.ValidationError as e:
        fail(f"{label}: {e.message}")
    count += 1
bad = {"apiVersion": "postagram.dev/v1alpha1", "kind": "Postagram", "metadata": {"name": "x"},
       "spec": {"labeler": {"detector": "crystal-ball"}}}
try:
    jsonschema.validate(bad, js)
    fail("CRD schema accepted detector=crystal-ball")
except jsonschema.ValidationError:
    print("  ok CRD schema rejects an unknown detector")

if failures:
    print(f"{count - len(failures)} passed, {len(failures)} failed", file=sys.stderr)
    sys.exit(1)
print(f"test-operator: {count} manifests valid, chart lints clean")
PYEOF
echo "test-operator: OK"
