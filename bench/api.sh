#!/usr/bin/env bash
# API benchmark (issue: foundation). Seeds 10 000 posts, then measures with wrk
# (64 connections, 20 s, best-of-N median) GET /posts?limit=20, GET /posts?label=dog,
# authenticated POST /posts and the label filter again while another client keeps
# posting (~30 posts/s, measured), plus the minimal axum JSON handler as the ceiling, in
# the same run. Reports requests/s, p50, p99, each as a ratio of the ceiling, the API's
# peak and idle RSS, and the time from start to ready.
#
# Usage: bench/api.sh [RUNS] [DURATION]     (defaults: 3 runs of 20s)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-3}"
DUR="${2:-20s}"
CONNS=64
cd "$ROOT"
if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk from Debian's packages"
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null || { echo "bench: cannot install wrk" >&2; exit 1; }
fi
cargo build --release --quiet -p postagram-api --bin postagram-api --example bench_seed --example bench_ceiling
T="${CARGO_TARGET_DIR:-$ROOT/target}/release"
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
DATA="$(mktemp -d)"
WRITER_PID=
trap 'kill $API_PID $CEIL_PID $WRITER_PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
"$T/examples/bench_seed" "$DATA" 10000

PORT=18181; CPORT=18182
start_ns=$(date +%s%N)
# The write benchmarks post from one user as fast as wrk can: no per-user post limit.
POSTAGRAM_DATA_DIR="$DATA" POSTAGRAM_ADDR=127.0.0.1:$PORT RUST_LOG=warn POSTAGRAM_POST_RATE_PER_MINUTE=0 \
    "$T/postagram-api" & API_PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.005; done
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
idle_rss_kb=$(awk '/VmRSS/{print $2}' /proc/$API_PID/status)
"$T/examples/bench_ceiling" 127.0.0.1:$CPORT & CEIL_PID=$!
until curl -sf "http://127.0.0.1:$CPORT/posts" >/dev/null; do sleep 0.01; done

TOKEN=$(curl -sf -X POST "http://127.0.0.1:$PORT/auth/login" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"benchmark"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
export TOKEN

# run NAME URL [script]: prints "rps p50_ms p99_ms" (median run by requests/s)
run() {
    local name=$1 url=$2 script=${3:-}
    local results=()
    for i in $(seq "$RUNS"); do
        local args=(-t2 -c"$CONNS" -d"$DUR" --latency)
        [ -n "$script" ] && args+=(-s "$script")
        wrk "${args[@]}" "$url" > "$OUT/wrk-$name-$i.txt"
        local rps p50 p99
        rps=$(awk '/Requests\/sec/{print $2}' "$OUT/wrk-$name-$i.txt")
        p50=$(awk '$1=="50%"{print $2}' "$OUT/wrk-$name-$i.txt")
        p99=$(awk '$1=="99%"{print $2}' "$OUT/wrk-$name-$i.txt")
        results+=("$rps $(to_ms "$p50") $(to_ms "$p99")")
    done
    printf '%s\n' "${results[@]}" | sort -n | awk -v n="$RUNS" 'NR==int((n+1)/2)'
}
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v); print v+0} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000} else print v }'; }

ceiling=$(run ceiling "http://127.0.0.1:$CPORT/posts")
list=$(run list "http://127.0.0.1:$PORT/posts?limit=20")
label=$(run label "http://127.0.0.1:$PORT/posts?label=dog&limit=20")
create=$(run create "http://127.0.0.1:$PORT/posts" "$ROOT/bench/post.lua")
# Reads while someone writes: every new post invalidates the cached answers.
writer() {
    while :; do
        curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/posts" -H "authorization: Bearer $TOKEN" \
            -H 'content-type: application/json' -d '{"title":"while reading","body":"a write"}'
        sleep 0.02
    done
}
posts_now() { sqlite3 "$DATA/postagram.db" 'SELECT count(*) FROM posts'; }
w_before=$(posts_now); w_start=$(date +%s%N)
writer & WRITER_PID=$!
label_w=$(run label-writes "http://127.0.0.1:$PORT/posts?label=dog&limit=20")
kill $WRITER_PID; wait $WRITER_PID 2>/dev/null || true
write_rate=$(awk -v n=$(( $(posts_now) - w_before )) -v ns=$(( $(date +%s%N) - w_start )) 'BEGIN{printf "%.0f", n / (ns / 1e9)}')
peak_rss_kb=$(awk '/VmHWM/{print $2}' /proc/$API_PID/status)

c_rps=$(echo "$ceiling" | cut -d' ' -f1)
row() { echo "$2" | awk -v name="$1" -v c="$c_rps" '{printf "| %s | %.0f | %.2f | %.2f | %.0f %% |\n", name, $1, $2, $3, 100*$1/c}'; }
{
    echo "### API (\`bench/api.sh $RUNS $DUR\`, $(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); release build; wrk -t2 -c$CONNS -d$DUR; median of $RUNS runs; 10 000 seeded posts."
    echo
    echo "| endpoint | requests/s | p50 ms | p99 ms | of ceiling |"
    echo "|---|---|---|---|---|"
    row "ceiling: minimal axum JSON handler" "$ceiling"
    row "GET /posts?limit=20" "$list"
    row "GET /posts?label=dog&limit=20" "$label"
    row "POST /posts (authenticated)" "$create"
    row "GET /posts?label=dog&limit=20 while another client posts ($write_rate/s)" "$label_w"
    echo
    echo "API process: ready ${ready_ms} ms after start; idle RSS $((idle_rss_kb / 1024)) MB; peak RSS $((peak_rss_kb / 1024)) MB."
} | tee "$OUT/api.md"
