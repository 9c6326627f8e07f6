#!/usr/bin/env bash
# End-to-end test of the `postagram` terminal client on a real terminal.
#
# Starts the `postagram-api` binary on a free port with a temporary data dir, runs
# `postagram` inside tmux (120x40, its own tmux server socket, a temporary XDG_CONFIG_HOME)
# and drives it with send-keys / capture-pane: sign up, write a post, attach a real photo,
# watch the upload finish, (wait for labels), search, edit, delete, quit — then checks that the
# terminal was restored (alternate screen left, stty settings back, mouse released).
#
# Environment:
#   SKIP_BUILD=1          use the binaries already built
#   CARGO_TARGET_DIR      where the binaries are (default: <repo>/target)
#   E2E_LABELS            require (default when models/efficientnet-lite0.safetensors exists):
#                         fail when labels do not come within LABEL_TIMEOUT s;
#                         auto (default otherwise): wait, and skip that step if none come;
#                         skip: do not wait
#   LABEL_TIMEOUT=90      seconds to wait for labels
#   KEEP=1                keep the temporary folder (logs, screen dumps)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
MODEL="$ROOT/models/efficientnet-lite0.safetensors"
# The API labels pictures in-process with the local model: require labels when it is there.
if [[ -f "$MODEL" ]]; then E2E_LABELS="${E2E_LABELS:-require}"; else E2E_LABELS="${E2E_LABELS:-auto}"; fi
LABEL_TIMEOUT="${LABEL_TIMEOUT:-90}"

for tool in tmux curl python3; do
  command -v "$tool" >/dev/null || { echo "test-tui: $tool is required" >&2; exit 2; }
done

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && cargo build -q -p postagram-api -p postagram-tui)
fi
API="$TARGET/debug/postagram-api"
TUI="$TARGET/debug/postagram"
[[ -x "$API" && -x "$TUI" ]] || { echo "test-tui: binaries missing in $TARGET/debug" >&2; exit 2; }

WORK="$(mktemp -d -t postagram-e2e.XXXXXX)"
SOCK="postagram-e2e-$$"
API_PID=""
PASSED=0
FAILED=0

cleanup() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  if [[ -n "$API_PID" ]]; then kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; fi
  if [[ "${KEEP:-0}" == 1 || $FAILED -gt 0 ]]; then
    echo "test-tui: logs and screens kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); echo "  ok   $*"; }
fail() {
  FAILED=$((FAILED + 1))
  echo "  FAIL $*"
  screen > "$WORK/screen-at-failure.txt" 2>/dev/null || true
  echo "----- screen -----"; cat "$WORK/screen-at-failure.txt" || true
  echo "----- api log (tail) -----"; tail -20 "$WORK/api.log" || true
  echo "$PASSED passed, $FAILED failed"
  exit 1
}

screen() { tmux -L "$SOCK" capture-pane -p -t e2e; }
keys() { tmux -L "$SOCK" send-keys -t e2e "$@"; }
text() { tmux -L "$SOCK" send-keys -t e2e -l "$1"; }

# wait_for TEXT [SECONDS] — until the screen shows TEXT (fixed string).
wait_for() {
  local want="$1" secs="${2:-15}" i
  for ((i = 0; i < secs * 10; i++)); do
    if screen | grep -qF -- "$want"; then return 0; fi
    sleep 0.1
  done
  return 1
}
# wait_re REGEX [SECONDS]
wait_re() {
  local want="$1" secs="${2:-15}" i
  for ((i = 0; i < secs * 10; i++)); do
    if screen | grep -qE -- "$want"; then return 0; fi
    sleep 0.1
  done
  return 1
}
step() { local what="$1"; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

# --- server -------------------------------------------------------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SERVER="http://127.0.0.1:$PORT"
(
  cd "$WORK"
  export POSTAGRAM_DATA_DIR="$WORK/data" POSTAGRAM_ADDR="127.0.0.1:$PORT" RUST_LOG=info
  [[ -f "$MODEL" ]] && export POSTAGRAM_MODEL_PATH="$MODEL"
  exec "$API"
) > "$WORK/api.log" 2>&1 &
API_PID=$!
for ((i = 0; i < 100; i++)); do
  curl -fs "$SERVER/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$SERVER/healthz" >/dev/null || { FAILED=1; cat "$WORK/api.log"; echo "0 passed, 1 failed"; exit 1; }
echo "test-tui: api on $SERVER (pid $API_PID), work dir $WORK"

# --- a real photo --------------------------------------------------------------------------
PHOTO_DIR="$WORK/photos"
mkdir -p "$PHOTO_DIR"
SRC=""
for f in "$ROOT"/labeler/testdata/photos/*.jpg "$ROOT"/labeler/testdata/photos/*.png; do
  [[ -f "$f" ]] && { SRC="$f"; break; }
done
if [[ -n "$SRC" ]]; then
  cp "$SRC" "$PHOTO_DIR/harbour-shot.${SRC##*.}"
else
  # No fetched photos: draw a 256x256 PNG with the standard library.
  python3 - "$PHOTO_DIR/harbour-shot.png" <<'EOF'
import struct, sys, zlib
w = h = 256
rows = b"".join(b"\x00" + bytes(v for x in range(w) for v in (x, y, (x * y) % 256)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
EOF
fi
PHOTO="$(ls "$PHOTO_DIR"/harbour-shot.*)"
echo "test-tui: photo $PHOTO ($(stat -c %s "$PHOTO") bytes)"

# --- the client in tmux --------------------------------------------------------------------
XDG="$WORK/xdg"
mkdir -p "$XDG"
# HISTFILE=/dev/null: bash writes its history into $HOME (= $WORK) when tmux kills it, which
# raced cleanup's rm -rf and failed a CI run ("Directory not empty").
tmux -L "$SOCK" -f /dev/null new-session -d -s e2e -x 120 -y 40 \
  "env -i HOME='$WORK' PATH='$PATH' TERM=xterm-256color LANG=C.UTF-8 XDG_CONFIG_HOME='$XDG' PS1='e2e$ ' HISTFILE=/dev/null bash --norc --noprofile"
tmux -L "$SOCK" set-option -t e2e status off >/dev/null
sleep 0.3
text "stty -g > '$WORK/stty.before'; '$TUI' --server '$SERVER'; echo EXIT=\$?; stty -g > '$WORK/stty.after'"
keys Enter

step "feed opens without an account" wait_for "No posts yet." 20
step "hint bar comes from the keymap" wait_for " q  quit" 2

keys n
step "n asks to log in" wait_for "Log in or sign up to post."
keys C-t
step "switch to sign up" wait_for "[Sign up]"
text "e2e_user"; keys Tab; text "correct horse battery"; keys Enter
step "signed up, back to the draft" wait_for "Signed in as e2e_user."
step "compose screen" wait_for "New post"

text "Sunny harbour"; keys Enter
text "Taken during the end-to-end test."
keys Tab
text "$PHOTO_DIR/harbour-s"
keys Tab
step "tab completes the path" wait_for "$(basename "$PHOTO")"
step "preview shows the photo size" wait_re "[0-9]+×[0-9]+ · [0-9.]+ [KM]?B"
keys C-s
step "post created and upload complete" wait_for "Posted “Sunny harbour”" 30
# Only derived sizes are served, and the labeler makes them with the labels: the pending
# marker comes first, the picture once the labelling is done.
step "labels pending marker" wait_for "labelling" 5
step "picture shown in the detail pane (half-blocks)" wait_re "▀|▄" "$LABEL_TIMEOUT"
screen > "$WORK/screen-posted.txt"

case "$E2E_LABELS" in
  skip) echo "  skip labels (E2E_LABELS=skip)" ;;
  *)
    if wait_re "[█░]+ +[0-9]+%" "$LABEL_TIMEOUT"; then
      ok "labels arrive with confidences"
      screen > "$WORK/screen-labelled.txt"
    elif [[ "$E2E_LABELS" == require ]]; then
      fail "labels arrive with confidences (waited ${LABEL_TIMEOUT}s)"
    else
      echo "  skip labels: still pending after ${LABEL_TIMEOUT}s (this postagram-api does not label pictures yet)"
    fi
    ;;
esac

keys /
step "search prompt" wait_for "Search"
text "harbour"; keys Enter
step "search tab with the post" wait_for "[/harbour]"
step "search finds it" wait_for "Posts (1)"

keys e
step "e opens your post for editing" wait_for "Edit post"
text " at noon"
keys C-s
step "edit saved" wait_for "Saved “Sunny harbour at noon”" 15
step "the search tab shows the edited post" wait_for "Sunny harbour at noon"
curl -fs "$SERVER/posts?q=noon" | grep -qF '"title":"Sunny harbour at noon"' \
  && ok "server finds the edit by its new words" || fail "server finds the edit by its new words"

keys d
step "delete asks for confirmation" wait_for "and its picture?"
keys y
step "post deleted" wait_for "Post deleted." 15
step "search is empty now" wait_for "Nothing matches"
[[ "$(curl -fs "$SERVER/posts")" == "[]" ]] && ok "server has no posts" || fail "server has no posts"

keys q
step "quits with status 0" wait_for "EXIT=0" 10
sleep 0.3
[[ "$(tmux -L "$SOCK" display-message -p -t e2e '#{alternate_on}')" == 0 ]] \
  && ok "alternate screen left" || fail "alternate screen left"
[[ "$(tmux -L "$SOCK" display-message -p -t e2e '#{mouse_any_flag}#{mouse_button_flag}#{mouse_sgr_flag}')" == 000 ]] \
  && ok "mouse released" || fail "mouse released"
[[ "$(tmux -L "$SOCK" display-message -p -t e2e '#{cursor_flag}')" == 1 ]] \
  && ok "cursor visible" || fail "cursor visible"
cmp -s "$WORK/stty.before" "$WORK/stty.after" && ok "tty settings restored" || fail "tty settings restored"

CFG="$XDG/postagram/config.toml"
[[ "$(stat -c %a "$CFG")" == 600 ]] && ok "config file is 0600" || fail "config file is 0600"
grep -q 'username = "e2e_user"' "$CFG" && ok "session kept in the config" || fail "session kept in the config"

text "clear; '$TUI' logout"; keys Enter
step "postagram logout" wait_for "Logged out e2e_user"
grep -q 'token' "$CFG" && fail "token removed by logout" || ok "token removed by logout"

echo "$PASSED passed, $FAILED failed"
