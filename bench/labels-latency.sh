#!/usr/bin/env bash
# Upload → labels visible latency through the API (embedded store, release build, idle
# server): for N real photos, the time from the end of the PUT to the first GET
# /posts/{id} that shows label_status=done (polled every 5 ms). Prints p50 and p95.
#
# Usage: bench/labels-latency.sh [N]   (default 40)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-40}"
cd "$ROOT"
scripts/fetch-model.sh >/dev/null
scripts/fetch-test-photos.sh >/dev/null
cargo build --release --quiet -p postagram-api --bin postagram-api
T="${CARGO_TARGET_DIR:-$ROOT/target}/release"
DATA="$(mktemp -d)"; PORT=18183; B="http://127.0.0.1:$PORT"
trap 'kill $API_PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
POSTAGRAM_DATA_DIR="$DATA" POSTAGRAM_ADDR=127.0.0.1:$PORT RUST_LOG=warn POSTAGRAM_POST_RATE_PER_MINUTE=0 POSTAGRAM_UPLOAD_RATE_PER_MINUTE=0 "$T/postagram-api" & API_PID=$!
until curl -sf "$B/readyz" >/dev/null; do sleep 0.01; done
curl -sf -X POST "$B/auth/signup" -H 'content-type: application/json' -d '{"username":"bench","password":"benchmark"}' >/dev/null
TOKEN=$(curl -sf -X POST "$B/auth/login" -H 'content-type: application/json' -d '{"username":"bench","password":"benchmark"}' | jq -r .token)
PHOTOS=(labeler/testdata/photos/{chelsea.png,coffee.png,astronaut.png,motorcycle_left.png,camera.png,horse.png})
samples=()
for i in $(seq "$N"); do
    photo="${PHOTOS[$(( i % ${#PHOTOS[@]} ))]}"
    id=$(curl -sf -X POST "$B/posts" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
        -d "{\"title\":\"latency $i\",\"body\":\"b\"}" | jq -r .id)
    enc=$(jq -rn --arg id "$id" '$id|@uri')
    url=$(curl -sf -G "$B/signedUrlPut" -H "authorization: Bearer $TOKEN" --data-urlencode "postId=$id" \
        -d filename=p.png -d filetype=image/png | jq -r .uploadURL)
    curl -sf -X PUT "$url" -H 'content-type: image/png' --data-binary @"$photo" >/dev/null
    t0=$(date +%s%N)
    until [ "$(curl -sf "$B/posts/$enc" | jq -r .label_status)" = "done" ]; do sleep 0.005; done
    samples+=($(( ($(date +%s%N) - t0) / 1000000 )))
    sleep 0.2   # idle server between pictures
done
printf '%s\n' "${samples[@]}" | sort -n | awk '{a[NR]=$1} END {
    p50=a[int((NR+1)*0.5)]; p95=a[int(NR*0.95+0.999)];
    printf "upload -> labels visible over %d real photos: p50 %d ms, p95 %d ms (min %d, max %d)\n", NR, p50, p95, a[1], a[NR] }'
