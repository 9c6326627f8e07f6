#!/usr/bin/env bash
# Extracts real photographs from a pinned scikit-image wheel (its data folder)
# into labeler/testdata/photos/ for the labeler's accuracy test and benchmark.
# The photos are not committed (gitignored). Fails loudly on any problem.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VERSION="0.25.2"
WHEEL_FILE="scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
WHEEL_SHA256="24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641"
PHOTOS=(chelsea.png coffee.png astronaut.png rocket.jpg motorcycle_left.png motorcycle_right.png
        camera.png clock_motion.png horse.png no_time_for_that_tiny.gif)

CACHE="$ROOT/models/.cache"
DEST="$ROOT/labeler/testdata/photos"

die() { echo "fetch-test-photos: ERROR: $*" >&2; exit 1; }
sha256_of() { "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

mkdir -p "$CACHE" "$DEST"
if [ ! -f "$CACHE/$WHEEL_FILE" ] || [ "$(sha256_of "$CACHE/$WHEEL_FILE")" != "$WHEEL_SHA256" ]; then
    rm -f "$CACHE/$WHEEL_FILE"
    echo "fetch-test-photos: downloading scikit-image==$VERSION (wheel, no dependencies)"
    # The data files are the same in every platform's wheel: pin one so the checksum is stable.
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_17_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
        --dest "$CACHE" "scikit-image==$VERSION" || die "pip download of scikit-image==$VERSION failed"
fi
[ -f "$CACHE/$WHEEL_FILE" ] || die "pip did not produce $CACHE/$WHEEL_FILE"
GOT="$(sha256_of "$CACHE/$WHEEL_FILE")"
[ "$GOT" = "$WHEEL_SHA256" ] || die "wheel checksum mismatch: got $GOT, expected $WHEEL_SHA256"

"$PYTHON" - "$CACHE/$WHEEL_FILE" "$DEST" "${PHOTOS[@]}" <<'PY' || die "extracting photos failed"
import os, shutil, sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as zf:
    for name in names:
        with zf.open("skimage/data/" + name) as src, open(os.path.join(dest, name), "wb") as out:
            shutil.copyfileobj(src, out)
print(f"fetch-test-photos: {len(names)} photos in {dest}")
PY
