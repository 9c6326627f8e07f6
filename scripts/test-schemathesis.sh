#!/usr/bin/env bash
# Property-based tests of the API against its own OpenAPI document: builds and starts the
# real `postagram-api` binary on 127.0.0.1 with a temporary data dir, reads the document
# from the running server (/openapi.json) and runs the pinned schemathesis 4
# (scripts/requirements-schemathesis.txt) with every check — server errors, status codes,
# content types, headers, response schemas, negative data rejected, positive data
# accepted ("rejected a request the schema allows"), unsupported methods, auth ignored,
# use after free, resource availability — twice: without a token, and with the token of
# a user signed up for the run (`Authorization: Bearer …`). Fails on any failure.
#
# Rate limits are turned off for the run (0 = off): schemathesis sends far more sign-ups,
# logins and posts per minute than a person, and a 429 (declared in the document, so not
# a failure) would only hide the handlers behind it. Labelling is off (no model needed).
#
# Bounded: SCHEMATHESIS_MAX_EXAMPLES cases per operation and phase (default 100), a fixed
# SCHEMATHESIS_SEED (default 1; any other value explores other inputs), and a hard
# SCHEMATHESIS_TIMEOUT per run (default 300 s). Takes about two minutes on 2 cores.
# Environment: BIN_DIR — a prebuilt debug binary (default: cargo build); POSTAGRAM_VENV.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

fail() { echo "test-schemathesis: $*" >&2; exit 1; }

scripts/venv.sh
VENV="${POSTAGRAM_VENV:-$ROOT/.venv}"
ST="$VENV/bin/st"
[ -x "$ST" ] || fail "$ST is missing (scripts/venv.sh installs scripts/requirements-schemathesis.txt)"
want="$(sed -n 's/^schemathesis==//p' scripts/requirements-schemathesis.txt)"
have="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))')"
[ "$have" = "$want" ] || fail "schemathesis $have in $VENV, the pinned one is $want"

if [ -z "${BIN_DIR:-}" ]; then
    cargo build --quiet -p postagram-api
    BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
fi
[ -x "$BIN_DIR/postagram-api" ] || fail "$BIN_DIR/postagram-api is missing"

work="$(mktemp -d /tmp/postagram-schemathesis.XXXXXX)"
# A private copy: another build into the same target dir must not swap it mid-run.
cp "$BIN_DIR/postagram-api" "$work/postagram-api"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    if [ "${keep:-0}" = 1 ]; then echo "test-schemathesis: logs in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

port="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
B="http://127.0.0.1:$port"
mkdir "$work/data"
POSTAGRAM_ADDR="127.0.0.1:$port" \
POSTAGRAM_DATA_DIR="$work/data" \
POSTAGRAM_LABELER_WORKERS=0 \
POSTAGRAM_SIGNUP_RATE_PER_MINUTE=0 \
POSTAGRAM_LOGIN_RATE_PER_MINUTE=0 \
POSTAGRAM_LOGIN_ADDRESS_FAILURES_PER_MINUTE=0 \
POSTAGRAM_LOGIN_ACCOUNT_FAILURES_PER_HOUR=0 \
POSTAGRAM_POST_RATE_PER_MINUTE=0 \
POSTAGRAM_UPLOAD_RATE_PER_MINUTE=0 \
RUST_LOG="${RUST_LOG:-warn}" \
    "$work/postagram-api" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fs "$B/readyz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { keep=1; cat "$work/server.log" >&2; fail "the server exited at start"; }
    sleep 0.1
done
curl -fs "$B/readyz" >/dev/null || { keep=1; fail "the server did not become ready on $B"; }

user="schemathesis"
password="schemathesis-password"
body="{\"username\":\"$user\",\"password\":\"$password\"}"
curl -fsS -X POST "$B/auth/signup" -H 'content-type: application/json' -d "$body" >/dev/null \
    || fail "cannot sign up $user"
token="$(curl -fsS -X POST "$B/auth/login" -H 'content-type: application/json' -d "$body" \
    | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])')" \
    || fail "cannot log in $user"

run() {
    local name="$1"; shift
    echo "== schemathesis $want, $name (seed ${SCHEMATHESIS_SEED:-1}, ${SCHEMATHESIS_MAX_EXAMPLES:-100} examples)"
    local rc=0
    timeout --signal=TERM --kill-after=10 "${SCHEMATHESIS_TIMEOUT:-300}" \
        "$ST" --no-color --config-file scripts/schemathesis.toml run "$B/openapi.json" \
        --checks all \
        --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
        --seed "${SCHEMATHESIS_SEED:-1}" \
        --workers 1 \
        --request-timeout 10 \
        --report junit --report-junit-path "$work/$name.xml" \
        "$@" || rc=$?
    [ "$rc" = 124 ] && echo "test-schemathesis: $name timed out after ${SCHEMATHESIS_TIMEOUT:-300} s" >&2
    return "$rc"
}

status=0
run anonymous || status=1
run token -H "Authorization: Bearer $token" || status=1
kill -0 "$server" 2>/dev/null || { status=1; echo "test-schemathesis: the server died" >&2; }
if [ "$status" != 0 ]; then
    keep=1
    fail "FAILED (server log and JUnit reports in $work)"
fi
echo "test-schemathesis: OK (0 failures without and with a token)"
