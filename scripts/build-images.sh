#!/usr/bin/env bash
# Builds the three container images (API, labeler, operator) from docker/*.Dockerfile with
# the names the chart and the CRD default to, so `helm install` and a Postagram resource
# without `image:` find them once they are loaded into the cluster (see README, operator
# install). Uses docker (BuildKit) or podman, whichever is installed.
#
#   scripts/build-images.sh           # build ghcr.io/postagram/postagram-{api,labeler,operator}:<version>
#   scripts/build-images.sh --list    # print "<component> <image>" per image and build nothing
#
# The tag is the workspace version in Cargo.toml, the one place it is kept;
# scripts/test-operator.sh checks that the chart's appVersion and the CRD's default images
# agree with what this script builds.
#
# Environment: REGISTRY (default ghcr.io/postagram) — image name prefix;
#              TAG (default: the workspace version) — image tag;
#              ENGINE (docker or podman; default: docker if installed, else podman).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
die() { echo "build-images: ERROR: $*" >&2; exit 1; }

COMPONENTS=(api labeler operator)

# version = "x.y.z" of [workspace.package] in Cargo.toml.
workspace_version() {
  awk '/^\[/ { section = $0 } section == "[workspace.package]" && /^version *=/ {
         gsub(/^version *= *"|".*$/, ""); print; exit }' Cargo.toml
}

VERSION="$(workspace_version)"
[[ -n "$VERSION" ]] || die "no version in [workspace.package] of Cargo.toml"
REGISTRY="${REGISTRY:-ghcr.io/postagram}"
TAG="${TAG:-$VERSION}"
image_of() { echo "$REGISTRY/postagram-$1:$TAG"; }

case "${1:-}" in
  --list)
    for c in "${COMPONENTS[@]}"; do echo "$c $(image_of "$c")"; done
    exit 0 ;;
  "") ;;
  *) die "unknown argument '$1' (usage: scripts/build-images.sh [--list])" ;;
esac

if [[ -z "${ENGINE:-}" ]]; then
  if command -v docker >/dev/null; then ENGINE=docker
  elif command -v podman >/dev/null; then ENGINE=podman
  else die "neither docker nor podman is installed: install one of them (or set ENGINE) to build the images"
  fi
fi
command -v "$ENGINE" >/dev/null || die "ENGINE=$ENGINE is not installed"
"$ENGINE" info >/dev/null 2>&1 \
  || die "$ENGINE is installed but its engine does not answer (\`$ENGINE info\` fails): start the daemon / machine first"

for c in "${COMPONENTS[@]}"; do
  file="docker/$c.Dockerfile"
  [[ -f "$file" ]] || die "$file is missing"
  img="$(image_of "$c")"
  echo "build-images: $img (from $file, with $ENGINE)"
  case "$ENGINE" in
    # The Dockerfiles use BuildKit cache mounts; each has its own <Dockerfile>.dockerignore.
    docker) DOCKER_BUILDKIT=1 docker build -f "$file" -t "$img" . ;;
    podman) podman build -f "$file" --ignorefile "$file.dockerignore" -t "$img" . ;;
    *) die "ENGINE must be docker or podman, not $ENGINE" ;;
  esac || die "building $img failed"
done
echo "build-images: built $(for c in "${COMPONENTS[@]}"; do printf '%s ' "$(image_of "$c")"; done)"
