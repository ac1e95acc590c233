"""Print a pip constraints file pinning every declared dependency to its floor.

Reads ``pyproject.toml``: the dependencies and every extra except ``dev-tools``. Each must have a
``>=`` floor, and a package named in several places must have the same floor everywhere.

    python scripts/floors.py > floors.txt
    pip install --constraint floors.txt "dist/KkOrthanc-*.whl[all]"
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # a development environment on Python 3.10 has tomli
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
NOT_SHIPPED = {"dev-tools"}


def declared(project: dict[str, Any]) -> list[Requirement]:
    """Every requirement users can get: the dependencies and the extras."""
    texts = list(project.get("dependencies", []))
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    for name, requirements in extras.items():
        if name not in NOT_SHIPPED:
            texts.extend(requirements)
    return [Requirement(text) for text in texts]


def floors(requirements: list[Requirement]) -> dict[str, str]:
    """``{name: floor}``; raises SystemExit when a floor is missing or inconsistent."""
    found: dict[str, str] = {}
    for requirement in requirements:
        lows = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(lows) != 1:
            raise SystemExit(f"floors.py: {requirement} needs exactly one >= floor")
        name = canonicalize_name(requirement.name)
        if found.setdefault(name, lows[0]) != lows[0]:
            raise SystemExit(f"floors.py: {name} has two floors, {found[name]} and {lows[0]}")
    return found


def main() -> int:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    for name, version in sorted(floors(declared(project)).items()):
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
