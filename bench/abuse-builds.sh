# Sourced by bench/abuse.sh and bench/abuse-instructions.sh: release builds of this tree
# ("cur") and of BASE_REV ("base", from a detached worktree in bench/out/base-src) with the
# seeding and ceiling examples, copied into $BIN as <prefix>-api, <prefix>-seed and ceiling.
# Expects ROOT, OUT, BIN, BASE_REV and CARGO_TARGET_DIR to be set.

# Each tree builds in its own target dir: cargo names a workspace crate's artifacts by its
# path inside the workspace, so two checkouts sharing one dir would reuse each other's
# artifacts (the older tree's sources look "fresh").
build() { # build SRC PREFIX TARGET_DIR
    (cd "$1" && CARGO_TARGET_DIR="$3" cargo build --release --quiet -p postagram-api --bin postagram-api --example bench_seed --example bench_ceiling)
    cp "$3/release/postagram-api" "$BIN/$2-api"
    cp "$3/release/examples/bench_seed" "$BIN/$2-seed"
    cp "$3/release/examples/bench_ceiling" "$BIN/ceiling"
}
BASE_SRC="$OUT/base-src"
if [ "$(git -C "$BASE_SRC" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$BASE_REV^{commit}")" ]; then
    git worktree remove --force "$BASE_SRC" 2>/dev/null || rm -rf "$BASE_SRC"
    git worktree add --detach "$BASE_SRC" "$BASE_REV" >/dev/null
fi
build "$BASE_SRC" base "$OUT/base-target"
build "$ROOT" cur "$CARGO_TARGET_DIR"
