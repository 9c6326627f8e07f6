#!/usr/bin/env bash
# Benchmark of postagram-operator's reconcile against the loopback test API server:
# latency p50/p99 of first and no-op reconciles for 1, 100 and 1000 Postagrams, and API
# requests per no-op reconcile (target: zero writes). Runs the bench RUNS times (default 5)
# and prints the median of each number, as a Markdown table.
#
#   bench/operator-reconcile.sh            # release build (bench profile)
#   RUNS=3 BENCH_OBJECTS=1,100 bench/operator-reconcile.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${WORKSPACE:-$ROOT}"  # WORKSPACE: run from another checkout of the workspace
RUNS="${RUNS:-5}"
export BENCH_OBJECTS="${BENCH_OBJECTS:-1,100,1000}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

cargo bench --quiet -p postagram-operator --bench reconcile --no-run
for i in $(seq 1 "$RUNS"); do
  echo "run $i/$RUNS" >&2
  cargo bench --quiet -p postagram-operator --bench reconcile 2>/dev/null | grep '^{' >> "$out"
done

python3 - "$out" "$RUNS" <<'PY'
import json, statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    rows[r["objects"]].append(r)
keys = ["first_p50_ms", "first_p99_ms", "noop_p50_ms", "noop_p99_ms",
        "noop_requests_per_reconcile", "noop_writes_per_reconcile"]
print(f"median of {sys.argv[2]} runs")
print("| objects | first p50 ms | first p99 ms | no-op p50 ms | no-op p99 ms | requests / no-op | writes / no-op |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for n in sorted(rows):
    med = [statistics.median(r[k] for r in rows[n]) for k in keys]
    print(f"| {n} | " + " | ".join(f"{v:.3f}" if i < 4 else f"{v:g}" for i, v in enumerate(med)) + " |")
PY
