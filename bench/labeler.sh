#!/usr/bin/env bash
# Benchmarks the local labeler (release build): latency of one detection on one
# core (median of >= 50 runs) and pictures/s with every core busy.
#
# Usage: bench/labeler.sh [RUNS]     (default 50)
# Fetches the model and the test photos first if they are missing (PyPI).
# Writes its output to bench/out/labeler.txt too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-50}"
CORES="$(nproc)"
cd "$ROOT"

scripts/fetch-model.sh >/dev/null
scripts/fetch-test-photos.sh >/dev/null

cargo build --release --quiet -p postagram-labeler
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/postagram-labeler"
[ -x "$BIN" ] || { echo "bench: $BIN not built" >&2; exit 1; }

PHOTOS=(labeler/testdata/photos/{chelsea.png,coffee.png,astronaut.png,rocket.jpg,motorcycle_left.png,camera.png})
mkdir -p bench/out
OUT=bench/out/labeler.txt
{
    echo "# postagram-labeler bench, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $CORES cores"
    echo "# pictures: ${PHOTOS[*]##*/}"
    echo "## one core (taskset -c 0, RAYON_NUM_THREADS=1): per-picture latency"
    RAYON_NUM_THREADS=1 taskset -c 0 "$BIN" bench --runs "$RUNS" --workers 0 "${PHOTOS[@]}"
    echo "## all $CORES cores: $CORES single-threaded workers in parallel"
    RAYON_NUM_THREADS=1 "$BIN" bench --runs "$RUNS" --workers "$CORES" --pictures $((RUNS * 4)) "${PHOTOS[@]}"
    echo "## all $CORES cores inside one detection (RAYON_NUM_THREADS=$CORES): latency"
    RAYON_NUM_THREADS="$CORES" "$BIN" bench --runs "$RUNS" --workers 0 "${PHOTOS[@]}"
} | tee "$OUT"
