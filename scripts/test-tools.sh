#!/usr/bin/env bash
# Runs the Python unit tests of tools/ (weight converter). Standard library only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "${PYTHON:-python3}" -m unittest discover -s "$ROOT/tools" -p 'test_*.py' -v
