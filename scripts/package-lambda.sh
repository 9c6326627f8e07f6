#!/usr/bin/env bash
# Builds the Lambda deployment package of the labeller for the `provided.al2023` runtime:
# target/lambda/postagram-labeler-lambda.zip holding `bootstrap` (the release build of
# `postagram-labeler-lambda`, stripped) and, for the local detector, the model weights at
# models/efficientnet-lite0.safetensors (the binary's default POSTAGRAM_MODEL_PATH,
# relative to /var/task, where Lambda starts bootstrap).
#
#   scripts/package-lambda.sh                 # local detector: bootstrap + model
#   DETECTOR=rekognition scripts/package-lambda.sh   # bootstrap only
#   LAMBDA_TARGET=x86_64-unknown-linux-musl scripts/package-lambda.sh  # if that target is installed
#
# Without LAMBDA_TARGET it builds for the host (x86_64-unknown-linux-gnu → Lambda
# architecture x86_64, aarch64-unknown-linux-gnu → arm64) and checks that the binary needs
# no glibc symbol newer than Amazon Linux 2023's glibc 2.34, so a build on a newer distro
# fails here instead of at the function's first cold start. No toolchain is downloaded.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DETECTOR="${DETECTOR:-local}"
AL2023_GLIBC="2.34"
MODEL="models/efficientnet-lite0.safetensors"
OUT_DIR="$ROOT/target/lambda"
ZIP="$OUT_DIR/postagram-labeler-lambda.zip"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

die() { echo "package-lambda: ERROR: $*" >&2; exit 1; }

case "$DETECTOR" in
    local) scripts/fetch-model.sh ;;
    rekognition) ;;
    *) die "DETECTOR must be local or rekognition, not '$DETECTOR'" ;;
esac
command -v zip >/dev/null || die "zip is required (apt-get install zip)"

host="$(rustc -vV | sed -n 's/^host: //p')"
target="${LAMBDA_TARGET:-$host}"
case "$target" in
    x86_64-*-linux-*) arch=x86_64 ;;
    aarch64-*-linux-*) arch=arm64 ;;
    *) die "target $target is not a Lambda architecture (x86_64 or aarch64 Linux)" ;;
esac

build=(cargo build --release -p postagram-labeler --features lambda --bin postagram-labeler-lambda)
if [ -n "${LAMBDA_TARGET:-}" ]; then
    rustup target list --installed 2>/dev/null | grep -qx "$target" \
        || die "Rust target $target is not installed (this script downloads no toolchain)"
    build+=(--target "$target")
    bin="$TARGET_DIR/$target/release/postagram-labeler-lambda"
else
    bin="$TARGET_DIR/release/postagram-labeler-lambda"
fi
echo "package-lambda: ${build[*]}"
"${build[@]}"
[ -x "$bin" ] || die "the build did not produce $bin"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/bootstrap"
strip "$stage/bootstrap" 2>/dev/null || echo "package-lambda: strip not available; bootstrap keeps its symbols"
chmod 755 "$stage/bootstrap"

if [[ "$target" == *-gnu ]]; then
    # Newest versioned glibc symbol the binary needs; al2023 ships glibc 2.34.
    need="$(objdump -T "$stage/bootstrap" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
    [ -n "$need" ] || die "cannot read the glibc symbol versions of bootstrap (objdump from binutils?)"
    newest="$(printf '%s\n%s\n' "$need" "$AL2023_GLIBC" | sort -V | tail -1)"
    [ "$newest" = "$AL2023_GLIBC" ] \
        || die "bootstrap needs glibc $need, newer than Amazon Linux 2023's $AL2023_GLIBC: build on an older distro or with LAMBDA_TARGET=x86_64-unknown-linux-musl"
    echo "package-lambda: bootstrap needs glibc >= $need (al2023 has $AL2023_GLIBC): compatible"
fi

if [ "$DETECTOR" = local ]; then
    [ -f "$MODEL" ] || die "$MODEL is missing (scripts/fetch-model.sh)"
    mkdir -p "$stage/models"
    cp "$MODEL" "$stage/$MODEL"
fi

mkdir -p "$OUT_DIR"
rm -f "$ZIP"
# Fixed times and no extra attributes: the same inputs give the same zip.
find "$stage" -exec touch -h -d '2026-01-01T00:00:00Z' {} +
(cd "$stage" && zip -q -X -r "$ZIP" bootstrap $( [ "$DETECTOR" = local ] && echo models ))
unzip -l "$ZIP"
zipped=$(stat -c %s "$ZIP")
unzipped=$(du -sb "$stage" | cut -f1)
echo "package-lambda: $ZIP: $((zipped / 1024 / 1024)) MiB zipped, $((unzipped / 1024 / 1024)) MiB unzipped" \
     "(Lambda limits: 50 MB zipped for a direct upload, 250 MB unzipped); architecture $arch; detector $DETECTOR"
