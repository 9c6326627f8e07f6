#!/usr/bin/env bash
# Runs what the operator deploys. For operator/examples/embedded.yaml and aws.yaml it takes
# exactly what `postagram-operator manifests <example>` prints and acts as the kubelet and
# kube-proxy would on this machine (scripts/deploy/node.py says how): every Deployment's
# container becomes a process of its image's ENTRYPOINT (read from docker/*.Dockerfile)
# with the container's command/args and the environment resolved from the manifest, in
# its own network namespace (one per pod) and mount namespace (read-only root, writable
# mounts), waits on readinessProbes, checks livenessProbes (and restarts on failure, like
# the kubelet), and serves each Service through its selector and targetPort. Then it signs
# up, posts, uploads a real photo through the API Service, waits for labels, finds the post
# by label and deletes it (checking SQLite rows and files, or DynamoDB items and S3
# objects). Static checks: HPA targets and CPU requests, PDB/Service selectors, Ingress
# backend, owner references.
#
# aws.yaml runs against the pinned moto server (scripts/requirements-aws.txt) through an
# overlay applied in the test, not in the example: spec.storage.aws.endpointUrl = the
# emulator, credentialsSecret = a Secret the test creates (AWS_ACCESS_KEY_ID/SECRET =
# testing), queueUrl = the emulator's URL of the example's queue; init-aws runs with the
# API container's environment. Then moto is stopped (every pod's /readyz must answer 503
# JSON, the API 503 JSON, the pods go NotReady) and started again (init-aws re-run): every
# pod must be Ready again, with no restart.
#
# Needs root (network and mount namespaces), iproute2, util-linux. Bounded: each example
# gets ${DEPLOY_TIMEOUT:-250} s (embedded takes ~20 s, aws ~2-3 min). Cleans up namespaces and processes on exit.
# Environment: BIN_DIR — prebuilt debug binaries (default: cargo build into
# $CARGO_TARGET_DIR or target); POSTAGRAM_VENV; DEPLOY_EXAMPLES (default both).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

fail() { echo "test-deploy: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (network and mount namespaces)"
for t in ip unshare nsenter setpriv chroot timeout; do
    command -v "$t" >/dev/null || fail "$t is required (iproute2, util-linux, coreutils)"
done

scripts/fetch-model.sh
scripts/fetch-test-photos.sh
scripts/venv.sh
export POSTAGRAM_VENV="${POSTAGRAM_VENV:-$ROOT/.venv}"
PY="$POSTAGRAM_VENV/bin/python"
export PYTHONDONTWRITEBYTECODE=1
[ -x "$POSTAGRAM_VENV/bin/moto_server" ] || fail "$POSTAGRAM_VENV/bin/moto_server is missing (scripts/venv.sh)"

if [ -z "${BIN_DIR:-}" ]; then
    # the features the images build with (docker/*.Dockerfile: --features aws)
    cargo build --quiet -p postagram-operator -p postagram-api -p postagram-labeler \
        --features postagram-api/aws,postagram-labeler/aws
    BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
fi
# Private copies: another build into a shared target dir must not swap them mid-run.
bins="$(mktemp -d /tmp/postagram-deploy-bin.XXXXXX)"
trap 'rm -rf "$bins"' EXIT
for b in postagram-operator postagram-api postagram-labeler; do
    [ -x "$BIN_DIR/$b" ] || fail "$BIN_DIR/$b is missing"
    cp "$BIN_DIR/$b" "$bins/$b"
done
BIN_DIR="$bins"

status=0
for ex in ${DEPLOY_EXAMPLES:-operator/examples/embedded.yaml operator/examples/aws.yaml}; do
    work="$(mktemp -d /tmp/postagram-deploy.XXXXXX)"
    # The run lives in a network namespace of its own (the "node"): its bridge, moto and
    # Service proxies vanish with it. Pod namespaces are named pgdt<pid>-N.
    timeout --signal=TERM --kill-after=15 "${DEPLOY_TIMEOUT:-250}" \
        unshare -n "$PY" scripts/deploy/run.py "$ROOT" "$BIN_DIR" "$ex" "$work" &
    pid=$!
    rc=0; wait "$pid" || rc=$?
    [ "$rc" = 124 ] && echo "test-deploy: $ex: timed out after ${DEPLOY_TIMEOUT:-250} s" >&2
    # a run killed hard leaves named namespaces behind: remove those of this run
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^pgdt' || true); do
        owner="${n#pgdt}"; owner="${owner%%-*}"
        kill -0 "$owner" 2>/dev/null || ip netns del "$n" 2>/dev/null || true
    done
    if [ "$rc" != 0 ]; then
        status=1
        echo "test-deploy: $ex: FAILED (logs in $work)" >&2
    else
        rm -rf "$work"
    fi
done
[ "$status" = 0 ] && echo "test-deploy: OK"
exit "$status"
