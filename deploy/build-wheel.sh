#!/usr/bin/env bash
# Build the processor's wheel without writing into the checkout: setuptools puts build/ and
# processor.egg-info/ beside pyproject.toml, so the build runs on a copy in a temporary folder.
#   deploy/build-wheel.sh [OUTDIR]     (default: dist/) ; PYTHON picks the interpreter
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$here/dist}" && cd "${1:-$here/dist}" && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# what the wheel is made of, and nothing else (no .venv, caches, models or local data)
tar -C "$here" --exclude='__pycache__' --exclude='*.pyc' -cf - pyproject.toml README.md processor | tar -C "$work" -xf -
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$out" "$work"
ls "$out"/processor-*.whl
