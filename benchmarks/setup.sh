#!/usr/bin/env bash
# The benchmarks' own environment: KkOrthanc (editable) plus the peers it is compared with.
# Peers are installed here only, never in the project's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv benchmarks/.env
benchmarks/.env/bin/pip install --quiet --upgrade pip
benchmarks/.env/bin/pip install --quiet pyorthanc -e .
# Upload/export benchmarks (benchmarks/upload.py, export.py) also compare with orthanc-api-client.
benchmarks/.env/bin/pip install --quiet orthanc-api-client
