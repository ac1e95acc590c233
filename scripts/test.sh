#!/usr/bin/env bash
# Set everything up, then run every check KkOrthanc is held to, and the whole test suite
# against real Orthanc servers (1.10.1 on the host, 1.12.7 in a Debian 13 chroot).
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

step "mypy --strict src"
.venv/bin/mypy --strict src || fail "mypy"

step "package builds and installs in a fresh environment"
bash scripts/check-package.sh || fail "package build"

step "pytest"
.venv/bin/pytest "$@"
status=$?
case $status in
    0) ;;
    5) fail "pytest collected no tests" 5 ;;
    *) fail "pytest (exit $status)" "$status" ;;
esac
printf '\ntest.sh: all checks and tests passed\n' >&2
