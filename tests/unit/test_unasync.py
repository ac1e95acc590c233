"""scripts/unasync.py: stale rules fail, docstring prose is kept, differing lines are reported."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "unasync.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and the like look modules up here
    spec.loader.exec_module(module)
    return module


unasync = _load()

MODULE = '''\
"""Runs async functions; await the result of :class:`AsyncOrthanc` calls.

Example:
    >>> async with AsyncOrthanc() as client:
    ...     (await client.system()).version
    AsyncStudy('1')

Prose again: ``await client.system()`` is one call.
"""


async def system(client: AsyncOrthanc) -> str:
    """Await the system of ``client``, an ``AsyncOrthanc``.

    Example:
        >>> await system(client)
    """
    return repr(f(await client.get("system")), (await client.system()).version, "AsyncStudy")
'''


def _identity(text: str, path: Path) -> str:
    return text


def _matching_rules() -> unasync.Unasync:
    """A generator with only the rules that MODULE uses (the others would be stale here)."""
    probe = unasync.Unasync()
    probe.module(MODULE)
    return unasync.Unasync([rule for index, rule in enumerate(probe.rules) if index in probe.used])


def _tree(tmp_path: Path, text: str) -> tuple[Path, Path]:
    source, target = tmp_path / "_async", tmp_path / "_sync"
    source.mkdir()
    (source / "_m.py").write_text(text, encoding="utf-8")
    return source, target


def test_a_rule_that_matches_nothing_fails(tmp_path: Path) -> None:
    source, target = _tree(tmp_path, "async def f() -> None: ...\n")
    rules = [(r"\basync def\b", "def"), (r"\bnever_written\b", "written")]
    with pytest.raises(unasync.StaleRuleError, match="never_written"):
        unasync.generate(source, target, unasync.Unasync(rules), _identity)


def test_every_rule_of_the_generator_matches_in_the_async_tree() -> None:
    used = unasync.Unasync()
    for path in unasync.sources():
        used.module(path.read_text(encoding="utf-8"))
    assert used.unused() == []


def test_docstring_prose_is_kept_and_its_code_rewritten() -> None:
    lines = unasync.Unasync().module(MODULE).splitlines()[1:]  # after the header
    assert lines[0] == '"""Runs async functions; await the result of :class:`Orthanc` calls.'
    assert lines[3:6] == [
        "    >>> with Orthanc() as client:",
        "    ...     client.system().version",
        "    Study('1')",
    ]
    assert lines[7] == "Prose again: ``client.system()`` is one call."
    assert lines[11] == "def system(client: Orthanc) -> str:"
    assert lines[12] == '    """Await the system of ``client``, an ``Orthanc``.'
    assert lines[15] == "        >>> system(client)"
    assert lines[17] == (
        '    return repr(f(client.get("system")), client.system().version, "Study")'
    )


def test_a_changed_line_is_reported_with_its_number(tmp_path: Path) -> None:
    source, target = _tree(tmp_path, MODULE)
    wanted = unasync.generate(source, target, _matching_rules(), _identity)
    unasync.write(wanted, target)
    assert unasync.differences(wanted, target) == []
    generated = target / "_m.py"
    lines = generated.read_text(encoding="utf-8").splitlines()
    lines[12] = "async def system(client: AsyncOrthanc) -> str:"
    generated.write_text("\n".join([*lines, "extra = 1"]) + "\n", encoding="utf-8")
    report = unasync.differences(wanted, target)
    assert len(report) == 2
    assert report[0].startswith(f"{generated}:13: expected 'def system(client: Orthanc) -> str:'")
    assert report[0].endswith("found    'async def system(client: AsyncOrthanc) -> str:'")
    assert report[1] == f"{generated}:{len(lines) + 1}: extra line 'extra = 1'"


def test_missing_and_extra_files_are_reported(tmp_path: Path) -> None:
    source, target = _tree(tmp_path, MODULE)
    wanted = unasync.generate(source, target, _matching_rules(), _identity)
    target.mkdir()
    (target / "_gone.py").write_text("", encoding="utf-8")
    assert unasync.differences(wanted, target) == [
        f"{target / '_gone.py'}: not generated from any source file",
        f"{target / '_m.py'}: missing",
    ]


def test_ruff_sorts_renamed_imports_and_turns_yield_loops_into_yield_from() -> None:
    pytest.importorskip("ruff")
    text = unasync.Unasync().module(
        "from collections.abc import AsyncIterator, Collection\n\n\n"
        "async def f(pages: AsyncIterator[Collection[int]]) -> AsyncIterator[int]:\n"
        "    async for page in pages:\n"
        "        for item in page:\n"
        "            yield item\n"
    )
    formatted = unasync.ruff_format(text, unasync.TARGET / "_example.py")
    assert "from collections.abc import Collection, Iterator\n" in formatted
    assert "    for page in pages:\n        yield from page\n" in formatted
