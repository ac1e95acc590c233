#!/usr/bin/env bash
# Build the sdist and the wheel, check the wheel's metadata (what the package index shows),
# install the wheel in a fresh virtual environment, and check that the package imports and its
# command runs there, as `kkorthanc` and as `python -m kkorthanc`.
#
#   bash scripts/check-package.sh [DIST]    (DIST: keep the sdist and wheel there; default: a
#                                            temporary folder, deleted at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dist=${1:-$work/dist}
.venv/bin/python -m build --outdir "$dist" . >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
ls "$dist"/*.tar.gz "$dist"/*.whl >/dev/null
.venv/bin/python scripts/check-metadata.py "$dist"/*.whl
.venv/bin/python -m venv "$work/env"
"$work/env/bin/python" -m pip install --quiet --disable-pip-version-check "$dist"/*.whl
"$work/env/bin/python" -c 'import kkorthanc, kkorthanc.errors, kkorthanc.testing; print("kkorthanc", kkorthanc.__version__, "installs and imports")'
"$work/env/bin/kkorthanc" --help >/dev/null
"$work/env/bin/python" -m kkorthanc --help >/dev/null
