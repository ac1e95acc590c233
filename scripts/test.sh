#!/usr/bin/env bash
# Set everything up, then run every check KkOrthanc is held to, and the whole test suite
# against real Orthanc servers (1.10.1 on the host, 1.12.7 in a Debian 13 chroot). The built
# wheel is also tested on the other Pythons (KKORTHANC_PYTHONS, default "3.10 3.12 3.13": unit
# tests and an integration smoke) and with every dependency at its floor (scripts/test-wheel.sh).
#
#   bash scripts/test.sh [pytest arguments...]
#
# Exit status: 0 when every check and every test passed; otherwise the first failure's status
# (pytest's own codes: 1 tests failed, 2 interrupted, 3 internal error, 4 usage error,
# 5 no tests collected, which counts as a failure here).
set -uo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }
fail() { printf 'test.sh: FAILED: %s\n' "$1" >&2; exit "${2:-1}"; }

step "setup"
bash scripts/setup.sh || fail "setup" $?

step "generated sync code is current"
.venv/bin/python scripts/unasync.py --check || fail "run: python scripts/unasync.py"

step "ruff"
.venv/bin/ruff check . || fail "ruff check"
.venv/bin/ruff format --check . || fail "ruff format --check"

step "import-linter: the layer contracts; no import cycles"
PYTHONPATH=src .venv/bin/lint-imports --no-cache || fail "lint-imports (see [tool.importlinter] in pyproject.toml)"
PYTHONPATH=src .venv/bin/python scripts/import_cycles.py || fail "import cycles"

step "mypy --strict src"
.venv/bin/mypy --strict src || fail "mypy"

dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
step "package builds and installs in a fresh environment"
bash scripts/check-package.sh "$dist" || fail "package build"

step "unit tests with every dependency at its declared floor (Python ${KKORTHANC_FLOORS_PYTHON:-3.10})"
bash scripts/test-wheel.sh --floors "${KKORTHANC_FLOORS_PYTHON:-3.10}" "$dist" \
    || fail "dependency floors: raise the floor in pyproject.toml, or make the code work with it"

for version in ${KKORTHANC_PYTHONS-3.10 3.12 3.13}; do
    step "the wheel on Python $version: unit tests and the integration smoke"
    bash scripts/test-wheel.sh "$version" "$dist" || fail "Python $version"
done

step "pytest"
.venv/bin/pytest "$@"
status=$?
case $status in
    0) ;;
    5) fail "pytest collected no tests" 5 ;;
    *) fail "pytest (exit $status)" "$status" ;;
esac
printf '\ntest.sh: all checks and tests passed\n' >&2
