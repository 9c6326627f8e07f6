"""The Python half of scripts/test-operator.sh: lints the postagram-operator chart with the
real Helm library (helm-sdkpy), renders its templates offline with Helm's engine
(helm-python-sdk), validates strictly every rendered manifest, every manifest the operator
generates for the examples and the chart's CRD against the Kubernetes JSON schemas
(kubernetes-validate), validates Postagram resources against the CRD's own schema, and
checks that the images the chart, the CRD and the generated manifests name are the ones
`make images` builds.

Usage: check_operator.py ROOT CHART K8S_VERSION WORKDIR IMAGES_LIST MANIFESTS...
(the script prepares WORKDIR, IMAGES_LIST and the MANIFESTS files). Exits 1 on any failure.
"""
import asyncio, copy, glob, json, os, shutil, sys

import jsonschema
import kubernetes_validate
import yaml
import helm_python
import helm_sdkpy

root, chart, k8s_version, work, images_list, *manifests = sys.argv[1:]
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
    # Every optional block of the Deployment and ServiceAccount templates, and the overrides.
    "scheduling+pull-secrets+overrides": {
        "podAnnotations": {"prometheus.io/scrape": "true"}, "imagePullSecrets": [{"name": "regcred"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ops"}},
        "image": {"repository": "localhost:5000/postagram-operator", "tag": "dev", "pullPolicy": "Never"},
        "fullnameOverride": "ops"},
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

# --- the CRD's own schema, for Postagram resources -----------------------------------
crd_path = os.path.join(root, chart, "crds", "postagrams.postagram.dev.yaml")
crd = yaml.safe_load(open(crd_path))
schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
def k8s_to_jsonschema(s):
    # openAPIV3Schema -> JSON Schema: drop Kubernetes extensions, map nullable and
    # int-or-string, and reject unknown fields as the API server's strict field validation
    # does (kubectl's default), except where the schema preserves them.
    if isinstance(s, list):
        return [k8s_to_jsonschema(v) for v in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k.startswith("x-kubernetes"):
            continue
        if k == "properties":
            out[k] = {name: k8s_to_jsonschema(sub) for name, sub in v.items()}
        elif k in ("default", "example", "enum"):
            out[k] = v
        else:
            out[k] = k8s_to_jsonschema(v)
    if s.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in s and "additionalProperties" not in s and not s.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out
js = k8s_to_jsonschema(schema)
# The API server adds the object's type and metadata fields to every CRD's root schema.
js["properties"].setdefault("apiVersion", {"type": "string"})
js["properties"].setdefault("kind", {"type": "string"})
js["properties"].setdefault("metadata", {"type": "object"})
CR_API_VERSION = f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}"
CR_KIND = crd["spec"]["names"]["kind"]

# --- strict schema validation ---------------------------------------------------------
def validate_doc(doc, source):
    """Kubernetes kinds against the 1.35 schemas (strict: unknown fields fail, a kind
    without a schema fails); Postagram resources against the CRD's schema."""
    what = f"{source}: {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
    if doc.get("apiVersion") == CR_API_VERSION and doc.get("kind") == CR_KIND:
        try:
            jsonschema.validate(doc, js)
        except jsonschema.ValidationError as e:
            fail(f"{what}: {e.message} at {list(e.path)} (CRD schema)")
        else:
            print(f"  ok {what} (CRD schema)")
        return
    try:
        kubernetes_validate.validate(doc, k8s_version, strict=True)
    except kubernetes_validate.utils.SchemaNotFoundError as e:
        fail(f"{what}: no schema ({e})")
    except kubernetes_validate.utils.ValidationError as e:
        fail(f"{what}: {e.message} at {list(e.path)}")
    else:
        print(f"  ok {what} (kubernetes {k8s_version}, strict)")

def validate_docs(path):
    n = 0
    for doc in yaml.safe_load_all(open(path)):
        if not doc:
            continue
        n += 1
        validate_doc(doc, os.path.basename(path))
    return n

generated = {}
for m in manifests:
    generated[m] = [d for d in yaml.safe_load_all(open(m)) if d]
count = sum(validate_docs(m) for m in manifests)
count += validate_docs(crd_path)

# The validator is strict for real: an unknown container field must be rejected.
probe = copy.deepcopy(next(d for ds in generated.values() for d in ds if d.get("kind") == "Deployment"))
probe["spec"]["template"]["spec"]["containers"][0]["imageTag"] = "latest"
try:
    kubernetes_validate.validate(probe, k8s_version, strict=True)
    fail("kubernetes-validate accepted an unknown container field (strict mode not in effect)")
except kubernetes_validate.utils.ValidationError:
    print("  ok strict validation rejects an unknown container field")

# --- the chart's templates, rendered by Helm's engine and validated ---------------------
# helm-sdkpy's Install needs a reachable cluster (no dry-run/client-only in its shim), so
# templates are rendered with helm-python-sdk's Chart.render: Helm's engine.Render over the
# chart's values coalesced with the overrides (values.schema.json enforced), default
# capabilities, no cluster. As `helm template` does, NOTES.txt and partials (_*) are not
# manifests; every other template's output is split into YAML documents.
RELEASE, NAMESPACE = "postagram-operator", "postagram-system"
def render(override):
    with helm_python.Chart.load(os.path.join(root, chart)) as c:
        out = c.render(override, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path, text in sorted(out.items()):
        base = os.path.basename(path)
        if base == "NOTES.txt" or base.startswith("_"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                fail(f"{path}: rendered a document that is not a Kubernetes object: {doc!r:.80}")
                continue
            docs.append((path, doc))
    return docs

# Kinds each value set must render (so a template that ignores its values fails too).
always = {"ClusterRole", "ClusterRoleBinding", "Deployment"}
expect_kinds = {
    "defaults": always | {"ServiceAccount", "Service", "Role", "RoleBinding"},
    "example+no-leader-election+text-logs": always | {"ServiceAccount", "Service", "Postagram"},
    "no-serviceaccount+no-metrics-service": always | {"Role", "RoleBinding"},
    "scheduling+pull-secrets+overrides": always | {"ServiceAccount", "Service", "Role", "RoleBinding"},
}
rendered = {}
for label, override in variants.items():
    try:
        docs = render(override)
    except helm_python.HelmError as e:
        fail(f"helm render {label}: {e}")
        continue
    rendered[label] = docs
    if not docs:
        fail(f"helm render {label}: rendered zero documents")
        continue
    with open(os.path.join(work, "rendered-" + label.replace("+", "_") + ".yaml"), "w") as f:
        yaml.safe_dump_all([d for _, d in docs], f)
    kinds = {d["kind"] for _, d in docs}
    if kinds != expect_kinds[label]:
        fail(f"helm render {label}: kinds {sorted(kinds)}, expected {sorted(expect_kinds[label])}")
    print(f"  ok helm render {label}: {len(docs)} document(s)")
    for path, doc in docs:
        validate_doc(doc, f"render {label} {os.path.basename(path)}")
        count += 1
    dep = next((d for _, d in docs if d["kind"] == "Deployment"), None)
    if dep and label.startswith("no-serviceaccount"):
        sa = dep["spec"]["template"]["spec"].get("serviceAccountName")
        if sa != "ops":
            fail(f"helm render {label}: serviceAccountName {sa!r}, expected 'ops'")
    if dep and label.startswith("scheduling"):
        pod = dep["spec"]["template"]["spec"]
        got = (dep["metadata"]["name"], pod["containers"][0]["image"], pod["containers"][0]["imagePullPolicy"],
               sorted(k for k in ("imagePullSecrets", "nodeSelector", "tolerations", "affinity") if pod.get(k)))
        want = ("ops", "localhost:5000/postagram-operator:dev", "Never",
                ["affinity", "imagePullSecrets", "nodeSelector", "tolerations"])
        if got != want:
            fail(f"helm render {label}: Deployment (name, image, pullPolicy, blocks) {got}, expected {want}")
try:
    render({"logFormat": "xml", "replicaCount": 0})
    fail("helm render accepted logFormat=xml replicaCount=0")
except helm_python.HelmValuesError:
    print("  ok helm render rejects invalid values (values.schema.json)")

# --- example Postagrams against the CRD's own schema ---------------------------------
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
for what, bad_spec in [("an unknown detector", {"labeler": {"detector": "crystal-ball"}}),
                       ("an unknown field", {"replicas": 3})]:
    bad = {"apiVersion": "postagram.dev/v1alpha1", "kind": "Postagram", "metadata": {"name": "x"}, "spec": bad_spec}
    try:
        jsonschema.validate(bad, js)
        fail(f"CRD schema accepted {what}: {bad_spec}")
    except jsonschema.ValidationError:
        print(f"  ok CRD schema rejects {what}")

# --- images: what the chart, the CRD and the operator name is what `make images` builds --
built = dict(line.split() for line in open(images_list) if line.strip())
if sorted(built) != ["api", "labeler", "operator"]:
    fail(f"build-images.sh --list: components {sorted(built)}")
tags = {img.rsplit(":", 1)[1] for img in built.values()}
chart_meta = yaml.safe_load(open(os.path.join(root, chart, "Chart.yaml")))
if tags != {str(chart_meta["appVersion"])}:
    fail(f"Chart.yaml appVersion {chart_meta['appVersion']!r} is not the workspace version "
         f"(Cargo.toml) that `make images` tags with: {sorted(tags)}")
else:
    print(f"  ok Chart.yaml appVersion {chart_meta['appVersion']} = workspace version in Cargo.toml")
spec_props = schema["properties"]["spec"]["properties"]
for comp in ("api", "labeler"):
    for where, got in [("default", spec_props[comp]["default"].get("image")),
                       ("image default", spec_props[comp]["properties"]["image"].get("default"))]:
        if got != built.get(comp):
            fail(f"CRD spec.{comp} {where} is {got!r}, `make images` builds {built.get(comp)!r}")
        else:
            print(f"  ok CRD spec.{comp} {where} {got} is built by `make images`")
def images_of(docs):
    for d in docs:
        if d.get("kind") == "Deployment":
            for c in d["spec"]["template"]["spec"]["containers"]:
                yield d["metadata"]["name"], c["image"]
if "defaults" in rendered:
    chart_images = list(images_of(d for _, d in rendered["defaults"]))
    if [img for _, img in chart_images] != [built.get("operator")]:
        fail(f"chart default operator image {chart_images}, `make images` builds {built.get('operator')!r}")
    else:
        print(f"  ok chart default operator image {built.get('operator')} is built by `make images`")
for m, docs in generated.items():
    for name, img in images_of(docs):
        if img not in built.values():
            fail(f"{os.path.basename(m)}: Deployment {name} uses {img}, which `make images` does not build")
        else:
            print(f"  ok {os.path.basename(m)}: Deployment {name} image {img} is built by `make images`")

if failures:
    print(f"{count - len(failures)} passed, {len(failures)} failed", file=sys.stderr)
    sys.exit(1)
print(f"test-operator: {count} manifests valid, chart lints clean")
