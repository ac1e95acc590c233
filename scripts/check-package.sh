#!/usr/bin/env bash
# Build the sdist and the wheel, install the wheel in a fresh virtual environment, and check
# that the package imports and its command runs there.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
ls "$work"/dist/*.tar.gz "$work"/dist/*.whl >/dev/null
.venv/bin/python -m venv "$work/env"
"$work/env/bin/python" -m pip install --quiet --disable-pip-version-check "$work"/dist/*.whl
"$work/env/bin/python" -c 'import kkorthanc, kkorthanc.errors, kkorthanc.testing; print("kkorthanc", kkorthanc.__version__, "installs and imports")'
if [[ -e src/kkorthanc/cli ]]; then "$work/env/bin/kkorthanc" --help >/dev/null; fi
