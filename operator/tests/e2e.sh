#!/usr/bin/env bash
# End-to-end check of postagram-operator on a real cluster, for maintainers (it cannot run
# in the sandboxed CI: it needs Docker and kind or k3d).
#
#   operator/tests/e2e.sh                 # creates a kind cluster "postagram-e2e"
#   CLUSTER=k3d operator/tests/e2e.sh     # or a k3d one
#   KEEP=1 operator/tests/e2e.sh          # keep the cluster afterwards
#
# It builds the three images, loads them into the cluster, installs the chart, applies an
# embedded Postagram, waits for Ready, deletes a child Deployment and waits for it to come
# back, changes the spec and checks the ConfigMap follows, applies an invalid spec and
# checks it is rejected by the CRD's CEL rule, then uninstalls.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CLUSTER="${CLUSTER:-kind}"
NAME="${NAME:-postagram-e2e}"
NS="${NS:-postagram-e2e}"
TAG="${TAG:-e2e}"
say() { echo "e2e: $*"; }
die() { echo "e2e: FAIL: $*" >&2; exit 1; }
for tool in docker kubectl helm "$CLUSTER"; do command -v "$tool" >/dev/null || die "$tool not found"; done

cleanup() {
  if [[ -z "${KEEP:-}" ]]; then
    say "deleting cluster $NAME"
    if [[ "$CLUSTER" == kind ]]; then kind delete cluster --name "$NAME"; else k3d cluster delete "$NAME"; fi
  fi
}
trap cleanup EXIT

say "creating $CLUSTER cluster $NAME"
if [[ "$CLUSTER" == kind ]]; then kind create cluster --name "$NAME" --wait 120s; else k3d cluster create "$NAME" --wait; fi

for c in api labeler operator; do
  img="ghcr.io/postagram/postagram-$c:$TAG"
  say "building $img"
  docker build -f "docker/$c.Dockerfile" -t "$img" .
  if [[ "$CLUSTER" == kind ]]; then kind load docker-image "$img" --name "$NAME"; else k3d image import "$img" -c "$NAME"; fi
done

say "installing the chart"
helm install postagram-operator charts/postagram-operator --namespace "$NS" --create-namespace \
  --set image.tag="$TAG" --set image.pullPolicy=Never --wait --timeout 180s
kubectl -n "$NS" rollout status deploy/postagram-operator --timeout=120s

say "applying an embedded Postagram"
kubectl -n "$NS" apply -f - <<YAML
apiVersion: postagram.dev/v1alpha1
kind: Postagram
metadata: {name: demo}
spec:
  api: {image: ghcr.io/postagram/postagram-api:$TAG}
  labeler: {image: ghcr.io/postagram/postagram-labeler:$TAG}
  storage: {embedded: {size: 1Gi}}
YAML
kubectl -n "$NS" wait pgram/demo --for=condition=Ready --timeout=300s || {
  kubectl -n "$NS" describe pgram/demo; kubectl -n "$NS" get all,pvc,events; die "not Ready"; }
kubectl -n "$NS" get pgram demo

say "deleting the API Deployment: the operator must recreate it"
kubectl -n "$NS" delete deploy demo-api --wait=true
for _ in $(seq 60); do kubectl -n "$NS" get deploy demo-api >/dev/null 2>&1 && break; sleep 2; done
kubectl -n "$NS" get deploy demo-api >/dev/null || die "demo-api not recreated"
kubectl -n "$NS" wait pgram/demo --for=condition=Ready --timeout=300s || die "not Ready after heal"

say "changing the spec: the ConfigMap must follow"
kubectl -n "$NS" patch pgram demo --type=merge -p '{"spec":{"labeler":{"maxLabels":3}}}'
for _ in $(seq 60); do
  [[ "$(kubectl -n "$NS" get cm demo-config -o jsonpath='{.data.POSTAGRAM_MAX_LABELS}')" == 3 ]] && break; sleep 2
done
[[ "$(kubectl -n "$NS" get cm demo-config -o jsonpath='{.data.POSTAGRAM_MAX_LABELS}')" == 3 ]] || die "config did not follow"

say "an invalid spec must be rejected by the CRD (CEL min <= max)"
if kubectl -n "$NS" patch pgram demo --type=merge -p '{"spec":{"api":{"replicas":{"min":5,"max":2}}}}' 2>/tmp/e2e-cel.txt; then
  die "min > max was accepted"
fi
grep -q "replicas.min must not exceed replicas.max" /tmp/e2e-cel.txt || die "unexpected rejection: $(cat /tmp/e2e-cel.txt)"

say "operator metrics"
kubectl -n "$NS" port-forward deploy/postagram-operator 18080:8080 >/dev/null 2>&1 &
pf=$!; sleep 3
curl -fsS localhost:18080/metrics | grep postagram_operator_reconciles_total || die "no metrics"
kill "$pf"

say "uninstalling"
kubectl -n "$NS" delete pgram demo --wait=true
helm uninstall postagram-operator -n "$NS"
say "OK"
