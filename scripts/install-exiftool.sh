#!/usr/bin/env bash
# Installs ExifTool (Debian's libimage-exiftool-perl) for the privacy tests, which write
# GPS/camera/date tags into real photos and check that no URL a viewer gets carries them.
# Pinned to the version Debian bookworm ships; when that version is gone from the archive
# (a point release), the newest one is taken if it is at least 12. Fails loudly otherwise.
set -euo pipefail
PIN="12.57+dfsg-1"
die() { echo "install-exiftool: ERROR: $*" >&2; exit 1; }

if ! command -v exiftool >/dev/null; then
    command -v apt-get >/dev/null || die "exiftool is missing and apt-get is not available: install libimage-exiftool-perl"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq || die "apt-get update failed"
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "libimage-exiftool-perl=$PIN" >/dev/null; then
        echo "install-exiftool: $PIN is not available, installing Debian's current version" >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libimage-exiftool-perl >/dev/null \
            || die "apt-get install libimage-exiftool-perl failed"
    fi
fi
VER="$(exiftool -ver)" || die "exiftool does not run"
[ "${VER%%.*}" -ge 12 ] || die "exiftool $VER is too old (12 or newer needed)"
echo "install-exiftool: exiftool $VER"
