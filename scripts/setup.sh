#!/usr/bin/env bash
# Set up everything KkOrthanc needs on Debian 12, idempotently:
#   1. system packages and the two Orthanc servers (scripts/install-servers.sh, as root);
#   2. a virtual environment in .venv with KkOrthanc installed editable, with its extras
#      (numpy, pillow, pandas) and the development tools (pytest, mypy, ruff, build).
#
#   bash scripts/setup.sh          (as root, or as a user with sudo)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        say "error: root is needed to install system packages: run this script as root"
        exit 2
    fi
}

as_root bash scripts/install-servers.sh

PYTHON="${KKORTHANC_PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    say "error: KkOrthanc needs Python 3.10 or newer; $PYTHON is $("$PYTHON" --version 2>&1)"
    exit 2
fi
if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[all,dev-tools]"
say "ready: .venv/bin/kkorthanc, .venv/bin/pytest"
