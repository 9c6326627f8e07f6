#!/usr/bin/env bash
# Every test of the project. Fetches what the tests need (pinned model weights, real
# photos, Python tools) first and fails loudly when anything is missing — nothing is
# skipped silently.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { echo; echo "== $*"; }

command -v cargo-nextest >/dev/null || { echo "test: cargo-nextest is required (cargo install cargo-nextest)" >&2; exit 1; }

# The script suites run after the Rust tests. Every one listed here runs: a missing or
# non-executable one fails the run now, before anything is built.
SUITES=(scripts/test-aws.sh scripts/test-operator.sh scripts/test-deploy.sh scripts/test-tui.sh scripts/test-schemathesis.sh)
for extra in "${SUITES[@]}"; do
    [ -f "$extra" ] || { echo "test: $extra is listed but missing" >&2; exit 1; }
    [ -x "$extra" ] || { echo "test: $extra is not executable (chmod +x $extra)" >&2; exit 1; }
done

step "model weights and test photos"
scripts/fetch-model.sh
scripts/fetch-test-photos.sh

step "python tools for tests (pinned, in ${POSTAGRAM_VENV:-.venv})"
scripts/venv.sh

step "exiftool for the privacy tests (Debian's libimage-exiftool-perl)"
scripts/install-exiftool.sh

step "rust tests (cargo nextest)"
cargo nextest run --workspace --no-fail-fast

step "weight converter unit tests"
scripts/test-tools.sh

step "OpenAPI document validates as OpenAPI 3.1"
scripts/test-openapi.sh

for extra in "${SUITES[@]}"; do
    step "$extra"
    "$extra"
done
echo
echo "test: all suites passed"
