#!/usr/bin/env bash
# Print the path of a Python X.Y interpreter: pyenv's (as on the project's Debian machines),
# else pythonX.Y on PATH. Fails, saying how to get one, when there is none.
#
#   bash scripts/find-python.sh 3.10
set -euo pipefail
version=${1:?usage: find-python.sh X.Y}
root=${PYENV_ROOT:-$HOME/.pyenv}
for candidate in $(ls -d "$root"/versions/"$version".*/bin/python"$version" 2>/dev/null | sort -V -r) \
    "$(command -v "python$version" || true)"; do
    if [[ -n $candidate && -x $candidate ]] \
        && "$candidate" -c "import sys, venv; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" 2>/dev/null; then
        printf '%s\n' "$candidate"
        exit 0
    fi
done
cat >&2 <<MESSAGE
find-python.sh: no Python $version: looked in $root/versions/$version.*/bin and for python$version on PATH.
  The project's machines come with pyenv's 3.10, 3.11, 3.12 and 3.13. Elsewhere install it
  ("pyenv install $version" downloads it from python.org, which the project's machines cannot
  reach), or choose the versions to test with KKORTHANC_PYTHONS (default "3.10 3.12 3.13").
MESSAGE
exit 1
