#!/usr/bin/env bash
# End-to-end check of postagram-operator on a real cluster, for maintainers (it cannot run
# in the sandboxed CI: it needs a container engine and kind or k3d, and pulls moto and a
# Python image from Docker Hub).
#
#   operator/tests/e2e.sh                 # creates a kind cluster "postagram-e2e"
#   CLUSTER=k3d operator/tests/e2e.sh     # or a k3d one
#   KEEP=1 operator/tests/e2e.sh          # keep the cluster afterwards
#   ONLY=embedded|aws operator/tests/e2e.sh   # one storage mode only
#
# It builds the three images with scripts/build-images.sh (docker or podman; tag $TAG),
# loads them into the cluster and installs the chart. Embedded mode: applies an embedded
# Postagram, waits for Ready, deletes a child Deployment and waits for it to come back,
# changes the spec and checks the ConfigMap follows, applies an invalid spec and checks it
# is rejected by the CRD's CEL rule. AWS mode: runs moto (the version pinned in
# scripts/requirements-aws.txt) in the cluster, provisions the table, bucket and queues
# with a Job running `postagram-api admin init-aws`, applies operator/examples/aws.yaml
# with its endpoint pointed at moto and a credentials Secret, waits until the API and the
# labeler are Ready, then a client Job in the cluster signs up, posts, uploads a real photo
# to the presigned S3 URL and waits for the labeler's labels (moto's Rekognition answers
# canned labels), finds the post by label and deletes it. Then uninstalls.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CLUSTER="${CLUSTER:-kind}"
NAME="${NAME:-postagram-e2e}"
NS="${NS:-postagram-e2e}"
TAG="${TAG:-e2e}"
ONLY="${ONLY:-}"
# moto's image tag is the moto version the local AWS tests pin.
MOTO_VERSION="$(sed -n 's/^moto\[server\]==//p' scripts/requirements-aws.txt)"
MOTO_IMAGE="motoserver/moto:$MOTO_VERSION"
# The image the in-cluster client runs (the same base the Dockerfiles' model stage uses).
CLIENT_IMAGE="python:3.12-slim-bookworm"
PHOTO="labeler/testdata/photos/chelsea.png"
say() { echo "e2e: $*"; }
die() { echo "e2e: FAIL: $*" >&2; exit 1; }

[[ -n "$MOTO_VERSION" ]] || die "no moto[server]== pin in scripts/requirements-aws.txt"
case "$CLUSTER" in kind|k3d) ;; *) die "CLUSTER must be kind or k3d, not $CLUSTER" ;; esac
case "$ONLY" in ""|embedded|aws) ;; *) die "ONLY must be embedded or aws, not $ONLY" ;; esac
for tool in kubectl helm curl "$CLUSTER"; do command -v "$tool" >/dev/null || die "$tool not found"; done
if [[ -z "${ENGINE:-}" ]]; then
  if command -v docker >/dev/null; then ENGINE=docker
  elif command -v podman >/dev/null; then ENGINE=podman
  else die "neither docker nor podman is installed"
  fi
fi
export ENGINE
if [[ "$ENGINE" == podman && "$CLUSTER" == kind ]]; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi

tmp="$(mktemp -d)"
cleanup() {
  rm -rf "$tmp"
  if [[ -z "${KEEP:-}" ]]; then
    say "deleting cluster $NAME"
    if [[ "$CLUSTER" == kind ]]; then kind delete cluster --name "$NAME"; else k3d cluster delete "$NAME"; fi
  fi
}
trap cleanup EXIT

k() { kubectl -n "$NS" "$@"; }
# What happened in the namespace, for a failure message.
dump() {
  k get all,pvc,jobs,events || true
  for d in $(k get deploy -o name 2>/dev/null); do echo "--- logs $d"; k logs "$d" --all-containers --tail=50 || true; done
}
# Loads an image built on this machine into the cluster's nodes.
load_image() {
  if [[ "$CLUSTER" == k3d ]]; then
    k3d image import "$1" -c "$NAME"
  elif [[ "$ENGINE" == podman ]]; then
    podman save "$1" -o "$tmp/image.tar" && kind load image-archive "$tmp/image.tar" --name "$NAME"
  else
    kind load docker-image "$1" --name "$NAME"
  fi
}
# Runs a Job until it completes; prints its logs; fails with them otherwise.
run_job() {
  local job="$1" timeout="$2"
  if ! k wait "job/$job" --for=condition=complete --timeout="$timeout"; then
    k logs "job/$job" --all-containers || true; dump; die "job $job did not complete"
  fi
  k logs "job/$job"
}

say "creating $CLUSTER cluster $NAME"
if [[ "$CLUSTER" == kind ]]; then kind create cluster --name "$NAME" --wait 120s; else k3d cluster create "$NAME" --wait; fi

say "building the images (tag $TAG, $ENGINE)"
TAG="$TAG" scripts/build-images.sh
images=()
while read -r _ img; do images+=("$img"); done < <(TAG="$TAG" scripts/build-images.sh --list)
for img in "${images[@]}"; do load_image "$img"; done
API_IMAGE="$(TAG="$TAG" scripts/build-images.sh --list | awk '$1 == "api" { print $2 }')"
LABELER_IMAGE="$(TAG="$TAG" scripts/build-images.sh --list | awk '$1 == "labeler" { print $2 }')"

say "installing the chart"
helm install postagram-operator charts/postagram-operator --namespace "$NS" --create-namespace \
  --set image.tag="$TAG" --set image.pullPolicy=Never --wait --timeout 180s
k rollout status deploy/postagram-operator --timeout=120s

if [[ "$ONLY" != aws ]]; then
  say "embedded: applying an embedded Postagram"
  k apply -f - <<YAML
apiVersion: postagram.dev/v1alpha1
kind: Postagram
metadata: {name: demo}
spec:
  api: {image: $API_IMAGE}
  labeler: {image: $LABELER_IMAGE}
  storage: {embedded: {size: 1Gi}}
YAML
  k wait pgram/demo --for=condition=Ready --timeout=300s || { k describe pgram/demo; dump; die "demo not Ready"; }
  k get pgram demo

  say "embedded: deleting the API Deployment: the operator must recreate it"
  k delete deploy demo-api --wait=true
  for _ in $(seq 60); do k get deploy demo-api >/dev/null 2>&1 && break; sleep 2; done
  k get deploy demo-api >/dev/null || die "demo-api not recreated"
  k wait pgram/demo --for=condition=Ready --timeout=300s || die "not Ready after heal"

  say "embedded: changing the spec: the ConfigMap must follow"
  k patch pgram demo --type=merge -p '{"spec":{"labeler":{"maxLabels":3}}}'
  for _ in $(seq 60); do
    [[ "$(k get cm demo-config -o jsonpath='{.data.POSTAGRAM_MAX_LABELS}')" == 3 ]] && break; sleep 2
  done
  [[ "$(k get cm demo-config -o jsonpath='{.data.POSTAGRAM_MAX_LABELS}')" == 3 ]] || die "config did not follow"

  say "embedded: an invalid spec must be rejected by the CRD (CEL min <= max)"
  if k patch pgram demo --type=merge -p '{"spec":{"api":{"replicas":{"min":5,"max":2}}}}' 2>"$tmp/cel.txt"; then
    die "min > max was accepted"
  fi
  grep -q "replicas.min must not exceed replicas.max" "$tmp/cel.txt" || die "unexpected rejection: $(cat "$tmp/cel.txt")"
  k delete pgram demo --wait=true
fi

if [[ "$ONLY" != embedded ]]; then
  AWS_EXAMPLE="operator/examples/aws.yaml"
  aws_field() { kubectl patch --local -f "$AWS_EXAMPLE" --type=merge -p '{}' -o jsonpath="{.spec.storage.aws.$1}"; }
  TABLE="$(aws_field table)"; BUCKET="$(aws_field bucket)"; REGION="$(aws_field region)"
  QUEUE_NAME="$(aws_field queueUrl)"; QUEUE_NAME="${QUEUE_NAME##*/}"
  PG="$(kubectl patch --local -f "$AWS_EXAMPLE" --type=merge -p '{}' -o jsonpath='{.metadata.name}')"
  MOTO_URL="http://moto.$NS.svc.cluster.local:5000"

  say "aws: moto $MOTO_VERSION in the cluster"
  k apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: moto, labels: {app: moto}}
spec:
  replicas: 1
  selector: {matchLabels: {app: moto}}
  template:
    metadata: {labels: {app: moto}}
    spec:
      containers:
        - name: moto
          image: $MOTO_IMAGE
          ports: [{name: http, containerPort: 5000}]
          readinessProbe: {tcpSocket: {port: http}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: moto}
spec:
  selector: {app: moto}
  ports: [{name: http, port: 5000, targetPort: http}]
YAML
  k rollout status deploy/moto --timeout=300s || { dump; die "moto did not start"; }
  k create secret generic moto-credentials \
    --from-literal=AWS_ACCESS_KEY_ID=testing --from-literal=AWS_SECRET_ACCESS_KEY=testing \
    --dry-run=client -o yaml | k apply -f -

  say "aws: provisioning $TABLE, $BUCKET and $QUEUE_NAME with postagram-api admin init-aws"
  k apply -f - <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: init-aws}
spec:
  backoffLimit: 3
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: init-aws
          image: $API_IMAGE
          imagePullPolicy: Never
          args: [admin, init-aws, --queue-name, $QUEUE_NAME]
          envFrom: [{secretRef: {name: moto-credentials}}]
          env:
            - {name: AWS_REGION, value: $REGION}
            - {name: POSTAGRAM_TABLE, value: $TABLE}
            - {name: POSTAGRAM_BUCKET, value: $BUCKET}
            - {name: POSTAGRAM_AWS_ENDPOINT_URL, value: "$MOTO_URL"}
YAML
  run_job init-aws 180s | tee "$tmp/init-aws.txt"
  QUEUE_URL="$(sed -n 's/^POSTAGRAM_QUEUE_URL=//p' "$tmp/init-aws.txt" | tail -1)"
  [[ -n "$QUEUE_URL" ]] || die "init-aws printed no POSTAGRAM_QUEUE_URL"

  say "aws: applying $AWS_EXAMPLE (endpoint $MOTO_URL, credentials Secret, queue $QUEUE_URL)"
  kubectl patch --local -f "$AWS_EXAMPLE" --type=merge -o yaml -p "$(cat <<JSON
{"metadata": {"namespace": "$NS"},
 "spec": {"api": {"image": "$API_IMAGE"}, "labeler": {"image": "$LABELER_IMAGE"},
          "storage": {"aws": {"endpointUrl": "$MOTO_URL", "credentialsSecret": "moto-credentials",
                              "queueUrl": "$QUEUE_URL"}}}}
JSON
)" | k apply -f -
  k wait "pgram/$PG" --for=condition=Ready --timeout=420s || { k describe "pgram/$PG"; dump; die "$PG not Ready"; }
  k rollout status "deploy/$PG-api" --timeout=120s
  k rollout status "deploy/$PG-labeler" --timeout=120s
  k get pgram "$PG"

  say "aws: a client in the cluster posts a photo and waits for its labels"
  [[ -f "$PHOTO" ]] || scripts/fetch-test-photos.sh
  cat > "$tmp/client.py" <<'PY'
# Talks to the API through its Service and to S3 (moto) through the presigned URL.
import json, os, sys, time, urllib.error, urllib.parse, urllib.request
API = os.environ["API"]
def call(method, url, body=None, token=None, ctype="application/json"):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", ctype)
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw and r.headers.get_content_type() == "application/json" else raw)
    except urllib.error.HTTPError as e:
        sys.exit(f"client: {method} {url} -> {e.code} {e.read()[:300]!r}")
for _ in range(60):
    try:
        urllib.request.urlopen(f"{API}/readyz", timeout=5); break
    except Exception:
        time.sleep(2)
else:
    sys.exit("client: API /readyz never answered 200")
creds = {"username": "e2e_user", "password": "correct horse battery"}
call("POST", f"{API}/auth/signup", creds)
_, login = call("POST", f"{API}/auth/login", creds)
token = login["token"]
status, post = call("POST", f"{API}/posts", {"title": "e2e", "body": "a cat, from the e2e test"}, token)
assert status == 201, status
pid = urllib.parse.quote(post["id"], safe="")
q = urllib.parse.urlencode({"postId": post["id"], "filename": "chelsea.png", "filetype": "image/png"})
_, up = call("GET", f"{API}/signedUrlPut?{q}", token=token)
status, _ = call("PUT", up["uploadURL"], open("/client/photo.png", "rb").read(), ctype="image/png")
assert status in (200, 204), status
print("client: uploaded to", urllib.parse.urlsplit(up["uploadURL"]).netloc, flush=True)
deadline = time.time() + 180
while time.time() < deadline:
    _, got = call("GET", f"{API}/posts/{pid}")
    if got.get("label_status") in ("done", "failed"):
        break
    time.sleep(2)
print("client: post", json.dumps({k: got.get(k) for k in ("label_status", "labels", "label_error")}), flush=True)
if got.get("label_status") != "done" or not got.get("labels"):
    sys.exit("client: the picture was not labelled")
label = got["labels"][0]
_, found = call("GET", f"{API}/posts?" + urllib.parse.urlencode({"label": label}))
if post["id"] not in [p["id"] for p in found]:
    sys.exit(f"client: ?label={label} does not find the post")
status, _ = call("DELETE", f"{API}/posts/{pid}", token=token)
assert status == 204, status
print("client: OK")
PY
  k create configmap e2e-client --from-file=client.py="$tmp/client.py" --from-file=photo.png="$PHOTO" \
    --dry-run=client -o yaml | k apply -f -
  k apply -f - <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: e2e-client}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: client
          image: $CLIENT_IMAGE
          command: [python3, /client/client.py]
          env: [{name: API, value: "http://$PG-api.$NS.svc.cluster.local:8080"}]
          volumeMounts: [{name: client, mountPath: /client}]
      volumes: [{name: client, configMap: {name: e2e-client}}]
YAML
  run_job e2e-client 300s | tee "$tmp/client.txt"
  grep -q "^client: OK" "$tmp/client.txt" || die "client did not finish"
  k delete pgram "$PG" --wait=true
fi

say "operator metrics"
k port-forward deploy/postagram-operator 18080:8080 >/dev/null 2>&1 &
pf=$!; sleep 3
curl -fsS localhost:18080/metrics | grep postagram_operator_reconciles_total || die "no metrics"
kill "$pf" 2>/dev/null || true

say "uninstalling"
helm uninstall postagram-operator -n "$NS"
say "OK"
