#!/usr/bin/env bash
# Runs every benchmark; each prints a Markdown section to paste into BENCHMARKS.md
# (outputs also land in bench/out/). A missing or failing script stops the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for script in api.sh labels-latency.sh labeler.sh operator-reconcile.sh tui.sh aws-calls.sh abuse.sh abuse-instructions.sh; do
    [ -x "./$script" ] || { echo "bench: $script is missing or not executable" >&2; exit 1; }
    "./$script"
done
