#!/usr/bin/env bash
# Benchmark of the `postagram` terminal client (release build) against a local server:
#   - time to first frame (process start → first frame drawn; and → first frame with posts)
#   - frame render time with 1 000 posts loaded (terminal.draw, incl. writing to the pty)
#   - peak RSS (VmHWM) after browsing the picture posts and scrolling through the whole feed
# The client runs in tmux (120x40); it writes its own timings to POSTAGRAM_TUI_BENCH_OUT.
#
#   bench/tui.sh            # RUNS=5 POSTS=1000
#   SKIP_BUILD=1 bench/tui.sh
#   API_BIN=target/debug/postagram-api SKIP_BUILD=1 bench/tui.sh
#   TUI_BIN=/path/to/another/postagram SKIP_BUILD=1 bench/tui.sh   # an older client, same run conditions
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
RUNS="${RUNS:-5}"
POSTS="${POSTS:-1000}"
# The newest posts carry real photos (labeler/testdata/photos): browsing them exercises
# download, decoding, encoding and the picture cache before the long scroll.
PICTURES="${PICTURES:-20}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && cargo build -q --release -p postagram-api -p postagram-tui)
fi
# The client is what is measured; API_BIN may point at another build of the server.
API="${API_BIN:-$TARGET/release/postagram-api}"
TUI="${TUI_BIN:-$TARGET/release/postagram}"

WORK="$(mktemp -d -t postagram-bench.XXXXXX)"
SOCK="postagram-bench-$$"
API_PID=""
cleanup() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  [[ -n "$API_PID" ]] && { kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SERVER="http://127.0.0.1:$PORT"
# Seeding 1 000 posts and 20 uploads as one user is over the per-user rate limits.
POSTAGRAM_DATA_DIR="$WORK/data" POSTAGRAM_ADDR="127.0.0.1:$PORT" POSTAGRAM_LABELER_WORKERS=0 \
  POSTAGRAM_POST_RATE_PER_MINUTE=0 POSTAGRAM_UPLOAD_RATE_PER_MINUTE=0 \
  "$API" > "$WORK/api.log" 2>&1 &
API_PID=$!
for ((i = 0; i < 100; i++)); do curl -fs "$SERVER/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# Seed the feed.
python3 - "$SERVER" "$POSTS" "$PICTURES" "$ROOT/labeler/testdata/photos" <<'EOF'
import glob, json, os, sys, urllib.parse, urllib.request
server, n, npics, photo_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def call(method, path, body, token=None):
    req = urllib.request.Request(server + path, data=json.dumps(body).encode(), method=method,
                                 headers={"content-type": "application/json"})
    if token: req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r: return json.loads(r.read() or b"null")
creds = {"username": "bench", "password": "benchmark-password"}
call("POST", "/auth/signup", creds)
token = call("POST", "/auth/login", creds)["token"]
for i in range(n - npics):
    call("POST", "/posts", {"title": f"Benchmark post number {i} with a reasonably long title",
                            "body": "Lorem ipsum dolor sit amet. " * 8}, token)
photos = sorted(glob.glob(os.path.join(photo_dir, "*.jpg")) + glob.glob(os.path.join(photo_dir, "*.png")))
if npics and not photos:
    sys.exit("bench: no photos in labeler/testdata/photos (run scripts/fetch-test-photos.sh)")
for i in range(npics):
    path = photos[i % len(photos)]
    ctype = "image/jpeg" if path.endswith(".jpg") else "image/png"
    post = call("POST", "/posts", {"title": f"Picture post {i}", "body": os.path.basename(path)}, token)
    q = urllib.parse.urlencode({"filename": os.path.basename(path), "filetype": ctype, "postId": post["id"]})
    req = urllib.request.Request(server + "/signedUrlPut?" + q, headers={"authorization": "Bearer " + token})
    with urllib.request.urlopen(req) as r: url = json.loads(r.read())["uploadURL"]
    put = urllib.request.Request(url, data=open(path, "rb").read(), method="PUT", headers={"content-type": ctype})
    urllib.request.urlopen(put).read()
EOF

screen() { tmux -L "$SOCK" capture-pane -p -t bench; }
wait_for() {
  local want="$1" secs="${2:-30}" i
  for ((i = 0; i < secs * 20; i++)); do screen | grep -qF -- "$want" && return 0; sleep 0.05; done
  echo "bench: timed out waiting for '$want'" >&2; screen >&2; return 1
}

for ((run = 1; run <= RUNS; run++)); do
  OUT="$WORK/run$run.txt"
  tmux -L "$SOCK" -f /dev/null new-session -d -s bench -x 120 -y 40 \
    "env HOME='$WORK' XDG_CONFIG_HOME='$WORK/xdg' TERM=xterm-256color POSTAGRAM_PICTURES=halfblocks POSTAGRAM_TUI_BENCH_OUT='$OUT' '$TUI' --server '$SERVER'; sleep 30"
  tmux -L "$SOCK" set-option -t bench status off >/dev/null
  wait_for "Posts (50+)"
  # Browse the picture posts: each is downloaded, decoded and encoded for the pane.
  for ((i = 0; i < PICTURES; i++)); do
    tmux -L "$SOCK" send-keys -t bench j; sleep 0.4
  done
  # Scroll to the end of the whole feed: G jumps to the last loaded post, pages follow.
  for ((i = 0; i < 200; i++)); do
    screen | grep -qF "Posts ($POSTS)" && break
    tmux -L "$SOCK" send-keys -t bench G
    sleep 0.1
  done
  wait_for "Posts ($POSTS)"
  # Frames with every post loaded: move around the end and the top of the list.
  for ((i = 0; i < 60; i++)); do
    tmux -L "$SOCK" send-keys -t bench k; sleep 0.02
  done
  tmux -L "$SOCK" send-keys -t bench g; sleep 0.1
  for ((i = 0; i < 60; i++)); do
    tmux -L "$SOCK" send-keys -t bench j; sleep 0.02
  done
  sleep 0.3
  tmux -L "$SOCK" send-keys -t bench q
  for ((i = 0; i < 100; i++)); do [[ -s "$OUT" ]] && break; sleep 0.05; done
  tmux -L "$SOCK" kill-session -t bench 2>/dev/null || true
  echo "run $run: $(tr '\n' ' ' < "$OUT")"
done

python3 - "$WORK" "$RUNS" <<'EOF'
import statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
vals = {}
for r in range(1, runs + 1):
    for line in open(f"{work}/run{r}.txt"):
        k, v = line.strip().split("=")
        vals.setdefault(k, []).append(float(v))
m = lambda k: statistics.median(vals[k])
print(f"median of {runs} runs:")
print(f"  time to first frame        {m('first_frame_ms'):8.1f} ms")
print(f"  time to first posts frame  {m('first_posts_ms'):8.1f} ms")
print(f"  posts loaded               {m('posts_loaded'):8.0f}")
print(f"  render, {int(m('posts_loaded'))} posts, median {m('render_median_ms'):8.3f} ms (p95 {m('render_p95_ms'):.3f} ms, {int(m('frames_at_max'))} frames/run)")
print(f"  peak RSS after full scroll {m('peak_rss_kb') / 1024:8.1f} MB")
EOF
