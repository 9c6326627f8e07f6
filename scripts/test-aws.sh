#!/usr/bin/env bash
# Cloud backends (DynamoDB + S3 + SQS) against a real AWS API emulator: moto_server,
# pinned in scripts/requirements-aws.txt and installed into the test venv, started by the
# tests themselves on 127.0.0.1 on a free port. No AWS account, no SDK mocks. If the
# emulator cannot start, the tests fail and say why — nothing is skipped.
#
# Runs: the PostStore conformance suite on DynamoDB (the same suite runs on SQLite in the
# default `cargo nextest run`), S3 presigning/deletion and init-aws idempotency, the
# end-to-end upload → S3 → SQS → worker → labels flow through the API, an emulator
# outage (503 + /readyz, recovery without restart), a poison message ending in the DLQ, and
# the Lambda binary under a Lambda Runtime API served by its test (labeler/tests/lambda_runtime.rs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/fetch-model.sh
scripts/fetch-test-photos.sh
scripts/venv.sh
export POSTAGRAM_VENV="${POSTAGRAM_VENV:-$ROOT/.venv}"
if [ ! -x "$POSTAGRAM_VENV/bin/moto_server" ]; then
    echo "test-aws: $POSTAGRAM_VENV/bin/moto_server is missing (scripts/venv.sh should install scripts/requirements-aws.txt)" >&2
    exit 1
fi
command -v cargo-nextest >/dev/null || { echo "test-aws: cargo-nextest is required (cargo install cargo-nextest)" >&2; exit 1; }

cargo nextest run --no-fail-fast \
    -p postagram-core -p postagram-api -p postagram-labeler \
    --features postagram-core/aws,postagram-api/aws,postagram-labeler/lambda \
    -E 'binary(store_dynamo) | binary(aws_backends) | binary(aws) | binary(aws_calls) | binary(lambda_runtime) | (package(postagram-core) & test(/^aws::/)) | (package(postagram-labeler) & test(/^(cloud|events)::/))'
