#!/usr/bin/env bash
# The cost of the hostile-traffic limits (issue 10) in instructions instead of requests/s:
# the server's user-space instructions per `GET /posts?limit=20`, counted by callgrind, for
# the minimal axum handler (ceiling), the tree before the limits (BASE_REV) and this tree.
# bench/abuse.sh asks the same question with wrk, whose numbers move ±10 % with whatever
# else the machine does; callgrind's count is the same on a busy and an idle machine, so
# this settles what those runs cannot. Not counted: the kernel's share of each request
# (the same socket calls on both sides) and time spent waiting.
#
# Each server: 10 000 seeded posts (as in bench/abuse.sh), started under callgrind with the
# local labeler off, 300 warm-up requests, counters zeroed, exactly N requests over 4
# keep-alive connections (bench/abuse.py load), counters dumped.
#
# Usage: bench/abuse-instructions.sh [RUNS] [N] [BASE_REV]   (defaults: 3 runs, 3000, 2020426)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-3}"
N="${2:-3000}"
BASE_REV="${3:-2020426}"
cd "$ROOT"
command -v valgrind >/dev/null || { (apt-get update -qq && apt-get install -y -qq valgrind) >/dev/null || { echo "abuse-instructions: cannot install valgrind" >&2; exit 1; }; }
[ -f models/efficientnet-lite0.safetensors ] || scripts/fetch-model.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/bench/out"; BIN="$OUT/abuse-bin"; CG="$OUT/callgrind"; mkdir -p "$BIN" "$CG"

. "$ROOT/bench/abuse-builds.sh"

PORT=18283; URL="http://127.0.0.1:$PORT"
PID=; SEED_BASE="$(mktemp -d)"; SEED_CUR="$(mktemp -d)"
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$SEED_BASE" "$SEED_CUR"; }
trap cleanup EXIT
"$BIN/base-seed" "$SEED_BASE" 10000 >/dev/null
"$BIN/cur-seed" "$SEED_CUR" 10000 >/dev/null

# measure NAME PATH READY_PATH DATA_DIR CMD... : prints the instructions per request.
measure() {
    local name=$1 path=$2 ready=$3 DATA=$4; shift 4
    rm -f "$CG/$name".*
    env POSTAGRAM_DATA_DIR="$DATA" POSTAGRAM_ADDR="127.0.0.1:$PORT" RUST_LOG=error POSTAGRAM_LABELER_WORKERS=0 \
        valgrind --tool=callgrind --callgrind-out-file="$CG/$name.out" "$@" >"$CG/$name.log" 2>&1 &
    PID=$!
    for _ in $(seq 1200); do curl -sf "$URL$ready" >/dev/null && break; sleep 0.1; done
    curl -sf "$URL$ready" >/dev/null || { echo "abuse-instructions: $name did not start (see $CG/$name.log)" >&2; exit 1; }
    python3 bench/abuse.py load "$URL" "$path" 300 4 >/dev/null
    callgrind_control -z "$PID" >/dev/null
    local seen; seen=$(python3 bench/abuse.py load "$URL" "$path" "$N" 4)
    [ "$seen" = "attack=load statuses=200:$N" ] || { echo "abuse-instructions: $name answered $seen" >&2; exit 1; }
    callgrind_control -d "$PID" >/dev/null
    local dump; dump=$(ls -t "$CG/$name.out".* | head -1)
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
    awk -v n="$N" '/^(summary|totals):/{t=$2} END{printf "%.0f\n", t/n}' "$dump"
}
declare -A IR
for i in $(seq "$RUNS"); do
    IR[ceiling]+="$(measure ceiling /posts /posts "$SEED_CUR" "$BIN/ceiling" "127.0.0.1:$PORT") "
    IR[base]+="$(measure base '/posts?limit=20' /readyz "$SEED_BASE" "$BIN/base-api") "
    IR[cur]+="$(measure cur '/posts?limit=20' /readyz "$SEED_CUR" "$BIN/cur-api") "
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
c=$(echo "${IR[ceiling]}" | median); b=$(echo "${IR[base]}" | median); a=$(echo "${IR[cur]}" | median)
{
    echo "## The limits' cost in instructions (\`bench/abuse-instructions.sh $RUNS $N $BASE_REV\`, $(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cores, $(uname -sr), $(valgrind --version); release builds of this tree (after) and of \`$BASE_REV\` (before); embedded store, 10 000 posts, labeler off; $N requests over 4 keep-alive connections after 300 warm-up ones; user-space instructions of the server process (all threads) per request, median of $RUNS runs (all runs: ceiling ${IR[ceiling]% }; before ${IR[base]% }; after ${IR[cur]% })."
    echo
    echo "| GET /posts?limit=20 | instructions per request | ceiling / server |"
    echo "|---|---|---|"
    awk -v c="$c" -v b="$b" -v a="$a" 'BEGIN{
        printf "| ceiling: minimal axum JSON handler | %d | 100 %% |\n", c;
        printf "| before (%s) | %d | %.1f %% |\n", "'"$BASE_REV"'", b, 100*c/b;
        printf "| after (this tree) | %d | %.1f %% |\n", a, 100*c/a;
        printf "\nCost of the limits: %+.1f %% instructions per request against before.\n", 100*(a-b)/b }'
} | tee "$OUT/abuse-instructions.md"
