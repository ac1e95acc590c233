#!/usr/bin/env bash
# Install the built wheel in a fresh virtual environment of another Python and run the tests
# against that installation (not against src/):
#
#   bash scripts/test-wheel.sh 3.12 DIST            unit tests and the integration smoke
#   bash scripts/test-wheel.sh --floors 3.10 DIST   unit tests, every dependency at its floor
#
# DIST holds the wheel (scripts/check-package.sh builds it). --floors pins each dependency to
# the lowest version pyproject.toml declares (scripts/floors.py), so a floor the code outgrew fails.
set -euo pipefail
cd "$(dirname "$0")/.."

floors=false
if [[ ${1:-} == --floors ]]; then floors=true; shift; fi
version=${1:?usage: test-wheel.sh [--floors] X.Y DIST}
dist=${2:?usage: test-wheel.sh [--floors] X.Y DIST}
python=$(bash scripts/find-python.sh "$version")
wheel=$(ls "$dist"/*.whl)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip=(--quiet --disable-pip-version-check)

"$python" -m venv "$work/env"
constraints=()
if $floors; then
    .venv/bin/python scripts/floors.py >"$work/floors.txt"
    constraints=(--constraint "$work/floors.txt")
fi
"$work/env/bin/python" -m pip install "${pip[@]}" "${constraints[@]}" "$wheel[all]" \
    pytest pytest-asyncio pyyaml
if $floors; then  # the constraints pinned them; show what ran
    "$work/env/bin/python" -m pip freeze --disable-pip-version-check \
        | grep -i -x -f <(sed 's/==.*//; s/.*/&==.*/' "$work/floors.txt") | tr '\n' ' ' >&2
    echo >&2
fi
# The tests must import the installed package: run from the tree, without src/ on the path.
found=$(cd "$work" && env -u PYTHONPATH "$work/env/bin/python" -c 'import kkorthanc; print(kkorthanc.__file__)')
[[ $found == "$work/env/"* ]] || { echo "test-wheel.sh: kkorthanc imported from $found" >&2; exit 1; }

tests=(tests/unit)
if ! $floors; then  # the smoke's commands run where only the wheel is installed, as for a user
    "$python" -m venv "$work/user"
    "$work/user/bin/python" -m pip install "${pip[@]}" "$wheel"
    export KKORTHANC_SMOKE_PYTHON=$work/user/bin/python
    tests+=(tests/integration/test_smoke.py)
fi
env -u PYTHONPATH "$work/env/bin/python" -m pytest -p no:cacheprovider -q "${tests[@]}"
