"""The public surface: what `import kkorthanc` offers is deliberate, sorted and documented."""

from __future__ import annotations

import inspect
import types
from pathlib import Path

import kkorthanc
import kkorthanc.errors


def test_all_is_sorted_and_unique() -> None:
    names = [name for name in kkorthanc.__all__ if name != "__version__"]
    assert names == sorted(names)
    assert len(set(kkorthanc.__all__)) == len(kkorthanc.__all__)


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in kkorthanc.__all__:
        value = getattr(kkorthanc, name)
        if name == "__version__":
            assert isinstance(value, str)
            continue
        assert inspect.getdoc(value), f"kkorthanc.{name} has no docstring"


def test_public_names_do_not_leak_private_modules() -> None:
    public = {
        name
        for name, value in vars(kkorthanc).items()
        if name.isidentifier()
        and not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__
    }
    assert public <= set(kkorthanc.__all__)


def test_sync_and_async_clients_offer_the_same_methods() -> None:
    def methods(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_")}

    assert methods(kkorthanc.Orthanc) - {"close"} == methods(kkorthanc.AsyncOrthanc) - {"aclose"}


def test_every_error_descends_from_the_root() -> None:
    for name in kkorthanc.errors.__all__:
        cls = getattr(kkorthanc.errors, name)
        root = Warning if name.endswith("Warning") else kkorthanc.errors.OrthancError
        assert issubclass(cls, root), name
        assert name in (kkorthanc.errors.__doc__ or ""), f"{name} missing from the tree drawing"


def test_every_error_is_exported_at_the_top_level() -> None:
    """Issue 13: ``Raises:`` sections name these classes; each is ``kkorthanc.<Name>`` too."""
    for name in kkorthanc.errors.__all__:
        assert name in kkorthanc.__all__, f"kkorthanc.errors.{name} is not exported by kkorthanc"
        assert getattr(kkorthanc, name) is getattr(kkorthanc.errors, name)


def test_the_error_tree_is_drawn_once() -> None:
    """Issue 13: only :mod:`kkorthanc.errors` draws the tree; the others point to it."""
    source = Path(kkorthanc.__file__).parent
    drawings = [
        str(path.relative_to(source))
        for path in sorted(source.rglob("*.py"))
        if "── OrthancInputError" in path.read_text(encoding="utf-8")
    ]
    assert drawings == ["errors.py"]


def test_input_errors_are_value_errors() -> None:
    assert issubclass(kkorthanc.errors.OrthancInputError, ValueError)
    assert issubclass(kkorthanc.errors.InvalidURLError, ValueError)
