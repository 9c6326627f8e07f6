#!/usr/bin/env bash
# AWS calls per API request on the DynamoDB/S3 store (counted by an SDK interceptor) with a
# table of POSTS posts (default 10 000) on moto_server. Prints the BENCHMARKS.md table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/venv.sh
POSTAGRAM_BENCH_POSTS="${POSTS:-10000}" cargo test -p postagram-api --features aws \
    --test aws_calls -- --nocapture 2>&1 | sed -n '/^AWS calls per API request/,/^test /p'
