#!/usr/bin/env bash
# Hostile-traffic benchmark (issue 10). For each attack of bench/abuse.py, a fresh embedded
# server (release build) is attacked once and its peak RSS (VmHWM) is put next to the bound
# its settings allow; the same attack runs against the server as it was before the limits
# (BASE_REV, built from a detached worktree in bench/out/) for comparison. Then
# GET /posts?limit=20 throughput (wrk -t2 -c64, median of 2 × RUNS) of both servers as a
# ratio of the minimal axum handler, all three interleaved in the same run: the limits
# must not cost more than 5 % of that ratio.
#
# Usage: bench/abuse.sh [RUNS] [DURATION] [BASE_REV]     (defaults: 3 runs of 10s, 2020426 =
#        main before the hostile-traffic work)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-3}"
DUR="${2:-10s}"
BASE_REV="${3:-2020426}"
cd "$ROOT"
command -v wrk >/dev/null || { (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null || { echo "abuse: cannot install wrk" >&2; exit 1; }; }
[ -f models/efficientnet-lite0.safetensors ] || scripts/fetch-model.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/bench/out"; BIN="$OUT/abuse-bin"; mkdir -p "$BIN"

. "$ROOT/bench/abuse-builds.sh"

PORT=18281; CPORT=18282; URL="http://127.0.0.1:$PORT"
API_PID=; CEIL_PID=; DATA=
cleanup() { kill $API_PID $CEIL_PID 2>/dev/null || true; wait 2>/dev/null || true; if [ -n "$DATA" ]; then rm -rf "$DATA"; fi; }
trap cleanup EXIT

# The documented settings every attack runs with (the defaults, written out so the bound
# column is computed from the same numbers).
LIST_CACHE_BYTES=$((64 * 1024 * 1024))
HASH_CONCURRENCY=$(nproc)
ARGON2_KIB=19456           # argon2 crate's default m_cost, which the API uses
DECODE_BUDGET_MIB=512
HEADER_TIMEOUT=10

start() { # start PREFIX [ENV=VALUE...]; fresh data dir unless DATA_KEEP=1
    local prefix=$1; shift
    [ "${DATA_KEEP:-0}" = 1 ] || { [ -n "$DATA" ] && rm -rf "$DATA"; DATA="$(mktemp -d)"; }
    env POSTAGRAM_DATA_DIR="$DATA" POSTAGRAM_ADDR="127.0.0.1:$PORT" RUST_LOG=error \
        POSTAGRAM_LIST_CACHE_BYTES=$LIST_CACHE_BYTES POSTAGRAM_PASSWORD_HASH_CONCURRENCY=$HASH_CONCURRENCY \
        POSTAGRAM_DECODE_BUDGET_MIB=$DECODE_BUDGET_MIB POSTAGRAM_HEADER_READ_TIMEOUT_SECS=$HEADER_TIMEOUT \
        "$@" "$BIN/$prefix-api" >"$OUT/abuse-$prefix-server.log" 2>&1 &
    API_PID=$!
    for _ in $(seq 2000); do curl -sf "$URL/readyz" >/dev/null && return 0; sleep 0.01; done
    echo "abuse: $prefix server did not become ready (see $OUT/abuse-$prefix-server.log)" >&2; exit 1
}
stop() { kill $API_PID 2>/dev/null || true; wait $API_PID 2>/dev/null || true; API_PID=; }
rss_mb() { awk -v k="$1" '$1==k":"{printf "%.0f", $2/1024}' "/proc/$API_PID/status"; }

# attack NAME PREFIX SETUP ATTACK... : one fresh server, idle RSS after SETUP, peak after ATTACK.
ROWS=()
attack() {
    local name=$1 prefix=$2 setup=$3; shift 3
    start "$prefix" POSTAGRAM_POST_RATE_PER_MINUTE=0 POSTAGRAM_SIGNUP_RATE_PER_MINUTE=0
    [ -n "$setup" ] && python3 bench/abuse.py $setup >/dev/null
    local idle; idle=$(rss_mb VmRSS)
    local seen; seen=$(python3 bench/abuse.py "$@")
    local peak; peak=$(rss_mb VmHWM)
    local alive=down; curl -sf "$URL/readyz" >/dev/null && alive=up
    stop
    echo "$name $prefix idle=${idle} peak=${peak} server=$alive $seen" >&2
    ROWS+=("$name|$prefix|$idle|$peak|$alive|${seen#attack=* }")
}

JUNK_N=600; JUNK_PAR=16
for p in base cur; do
    attack junk "$p" "seed $URL 100" junk "$URL" $JUNK_N $JUNK_PAR
    attack signups "$p" "" signups "$URL" 200
    attack halfopen "$p" "" halfopen 127.0.0.1 $PORT 500 $((HEADER_TIMEOUT + 3))
    attack png8000 "$p" "" pngs "$URL" 8000 2
    attack png6000 "$p" "" pngs "$URL" 6000 2
done

bound() { # the bound of each attack in MB above idle, from the settings above
    case $1 in
        junk) echo "cache $((LIST_CACHE_BYTES / 1048576)) + in flight $JUNK_PAR × 4 = $((LIST_CACHE_BYTES / 1048576 + JUNK_PAR * 4))" ;;
        signups) echo "$HASH_CONCURRENCY hashes × $((ARGON2_KIB / 1024)) = $((HASH_CONCURRENCY * ARGON2_KIB / 1024)), + the buffers of 200 open requests" ;;
        halfopen) echo "closed after ${HEADER_TIMEOUT} s" ;;
        png*) echo "decode budget $DECODE_BUDGET_MIB" ;;
    esac
}

# Throughput: 10 000 seeded posts per server, ceiling / before / after interleaved.
SEED_BASE="$(mktemp -d)"; SEED_CUR="$(mktemp -d)"
trap 'cleanup; rm -rf "$SEED_BASE" "$SEED_CUR"' EXIT
"$BIN/base-seed" "$SEED_BASE" 10000 >/dev/null
"$BIN/cur-seed" "$SEED_CUR" 10000 >/dev/null
"$BIN/ceiling" 127.0.0.1:$CPORT & CEIL_PID=$!
until curl -sf "http://127.0.0.1:$CPORT/posts" >/dev/null; do sleep 0.01; done
wrk_rps() { wrk -t2 -c64 -d"$DUR" "$1" | awk '/Requests\/sec/{print $2}'; }
declare -A RPS
# Each round runs ceiling, before, after, after, before (ABBA): on this noisy machine
# whatever runs later in a round tends to be slower, which a fixed order would charge to
# one side.
for i in $(seq "$RUNS"); do
    RPS[ceiling]+="$(wrk_rps "http://127.0.0.1:$CPORT/posts") "
    for p in base cur cur base; do
        seed=SEED_BASE; [ $p = cur ] && seed=SEED_CUR
        DATA="${!seed}" DATA_KEEP=1 start $p
        RPS[$p]+="$(wrk_rps "$URL/posts?limit=20") "
        stop
    done
done
DATA=
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
c=$(echo "${RPS[ceiling]}" | median); b=$(echo "${RPS[base]}" | median); a=$(echo "${RPS[cur]}" | median)

{
    echo "## Hostile traffic: memory under attack and the cost of the limits (\`bench/abuse.sh $RUNS $DUR $BASE_REV\`, $(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); release builds of this tree (after) and of \`$BASE_REV\` (before, main without the limits); embedded store; a fresh server per attack; RSS from /proc (VmRSS before the attack, VmHWM after)."
    echo
    echo "| attack | server | idle RSS MB | peak RSS MB | bound above idle, MB (settings) | server after | what the attacker saw |"
    echo "|---|---|---|---|---|---|---|"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r name p idle peak alive seen <<<"$r"
        label=after; [ "$p" = base ] && label=before
        echo "| $name | $label | $idle | $peak | $(bound "$name") | $alive | \`$seen\` |"
    done
    echo
    echo "Attacks (bench/abuse.py): **junk** = $JUNK_N × \`GET /posts?limit=100&x=<i>\` ($JUNK_PAR at a time) over 100 posts of 40 KB; **signups** = 200 sign-ups at once; **halfopen** = 500 connections that never finish their headers, held $((HEADER_TIMEOUT + 3)) s; **png8000/png6000** = two 16-bit RGB PNGs of that side uploaded at once (0.5 MB / 0.3 MB on disk; 576 MB / 324 MB to decode)."
    echo
    echo "| GET /posts?limit=20 (wrk -t2 -c64 -d$DUR; median of $RUNS for the ceiling, $((2 * RUNS)) for each server, ABBA order) | requests/s | of ceiling |"
    echo "|---|---|---|"
    awk -v c="$c" -v b="$b" -v a="$a" 'BEGIN{
        printf "| ceiling: minimal axum JSON handler | %.0f | 100 %% |\n", c;
        printf "| before (%s) | %.0f | %.1f %% |\n", "'"$BASE_REV"'", b, 100*b/c;
        printf "| after (this tree) | %.0f | %.1f %% |\n", a, 100*a/c;
        printf "\nCost of the limits: %.1f %% of the before ratio (target: at most 5 %%).\n", 100*(b-a)/b }'
} | tee "$OUT/abuse.md"
