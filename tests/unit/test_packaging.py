"""What installing KkOrthanc gives: a light pytest plugin, lazy names, `python -m kkorthanc`."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kkorthanc

# What `import kkorthanc.testing.plugin` may add to a pytest run, besides the standard library.
PLUGIN_MODULES = {
    "kkorthanc",
    "kkorthanc.errors",
    "kkorthanc.testing",
    "kkorthanc.testing._specs",
    "kkorthanc.testing.plugin",
}
HEAVY = ("httpx", "httpcore", "anyio", "pydicom", "numpy", "PIL", "pandas", "asyncio", "ssl")

_NEW_MODULES = """
import json, sys
import pytest
before = set(sys.modules)
import kkorthanc.testing.plugin
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    """Run this Python in a fresh process that sees the same kkorthanc as the tests."""
    env = dict(os.environ)
    package_parent = str(Path(kkorthanc.__file__).parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=False
    )


def test_the_pytest_plugin_imports_only_pytest_and_the_standard_library() -> None:
    result = run_python("-c", _NEW_MODULES)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    heavy = sorted(name for name in loaded if name.split(".")[0] in HEAVY)
    assert heavy == [], f"importing the plugin loads {heavy}"
    ours = {name for name in loaded if name.split(".")[0] == "kkorthanc"}
    assert ours == PLUGIN_MODULES
    others = {name.split(".")[0] for name in loaded - ours}
    assert others <= set(sys.stdlib_module_names), others - set(sys.stdlib_module_names)


def test_every_public_name_is_imported_from_where_type_checkers_see_it() -> None:
    tree = ast.parse(Path(kkorthanc.__file__).read_text(encoding="utf-8"))
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    seen = {
        alias.name: "." * node.level + (node.module or "")
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == kkorthanc._ORIGINS
    assert set(seen) == set(kkorthanc.__all__) - {"__version__"}


def test_public_names_resolve_lazily_and_unknown_ones_raise_attribute_error() -> None:
    assert kkorthanc.Orthanc.__name__ == "Orthanc"
    assert "AsyncOrthanc" in dir(kkorthanc)
    with pytest.raises(AttributeError, match="NoSuchName"):
        getattr(kkorthanc, "NoSuchName")  # noqa: B009


def test_python_dash_m_kkorthanc_runs_the_command_line() -> None:
    result = run_python("-m", "kkorthanc", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"kkorthanc {kkorthanc.__version__}")
