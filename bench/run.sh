#!/usr/bin/env bash
# Runs every benchmark; each prints a Markdown section to paste into BENCHMARKS.md
# (outputs also land in bench/out/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./api.sh
./labels-latency.sh
./labeler.sh
[ -x ./operator-reconcile.sh ] && ./operator-reconcile.sh
[ -x ./tui.sh ] && ./tui.sh
