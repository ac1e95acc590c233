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


# Issue 13, item 5 ("one name for one idea"): the library is 0.x, so the old names went
# without aliases. Each row: the class (sync name), the old name, the new one.
RENAMED = [
    ("Modality", "echo", "c_echo"),
    ("Modality", "query", "c_find"),
    ("Modality", "find_patients", "c_find_patients"),
    ("Modality", "find_studies", "c_find_studies"),
    ("Modality", "find_series", "c_find_series"),
    ("Modality", "find_instances", "c_find_instances"),
    ("Modality", "move", "c_move"),
    ("Modality", "get", "c_get"),
    ("Modality", "store", "c_store"),
    ("Modality", "store_job", "c_store_job"),
    ("QueryAnswer", "find_studies", "c_find_studies"),
    ("QueryAnswer", "find_series", "c_find_series"),
    ("QueryAnswer", "find_instances", "c_find_instances"),
    ("Peer", "store", "send"),
    ("Peer", "store_job", "send_job"),
    ("Study", "tag", "main_tag"),
    ("Study", "labels", "fetched_labels"),
    ("Study", "get_labels", "list_labels"),
    ("Study", "add_label", "set_label"),
    ("Study", "remove_label", "delete_label"),
    ("Study", "metadata", "list_metadata"),
    ("Study", "put_attachment", "set_attachment"),
    ("Instance", "tags", "get_tags"),
    ("Instance", "simplified_tags", "get_simplified_tags"),
    ("Orthanc", "changes", "iter_changes"),
]


def _twins(name: str) -> list[type]:
    return [getattr(kkorthanc, name), getattr(kkorthanc, f"Async{name}")]


def test_renamed_methods_have_only_their_new_name() -> None:
    for name, old, new in RENAMED:
        for cls in _twins(name):
            assert not hasattr(cls, old), f"{cls.__name__}.{old} should be {new}"
            assert inspect.getdoc(getattr(cls, new)), f"{cls.__name__}.{new} has no docstring"


def test_collections_of_modalities_and_peers_have_no_route_verbs() -> None:
    from kkorthanc._client._async._modalities import AsyncModalities
    from kkorthanc._client._async._peers import AsyncPeers
    from kkorthanc._client._sync._modalities import Modalities
    from kkorthanc._client._sync._peers import Peers

    for cls in (Modalities, AsyncModalities, Peers, AsyncPeers):
        assert not hasattr(cls, "put") and hasattr(cls, "configure"), cls.__name__


def test_one_verb_set_for_metadata_attachments_and_labels() -> None:
    verbs = {
        f"{verb}_{kind}" for verb in ("get", "set", "delete") for kind in ("metadata", "attachment")
    }
    verbs |= {"list_metadata", "list_attachments", "list_labels", "set_label", "delete_label"}
    for name in ("Patient", "Study", "Series", "Instance"):
        for cls in _twins(name):
            assert verbs <= set(dir(cls)), cls.__name__


def _public_classes() -> list[type]:
    from kkorthanc._client._async import _collections as async_collections
    from kkorthanc._client._async import _jobs as async_jobs
    from kkorthanc._client._sync import _collections as sync_collections
    from kkorthanc._client._sync import _jobs as sync_jobs

    exported = [getattr(kkorthanc, name) for name in kkorthanc.__all__ if name != "__version__"]
    modules = (async_collections, async_jobs, sync_collections, sync_jobs)
    more = [value for module in modules for value in vars(module).values()]
    classes = [cls for cls in [*exported, *more] if inspect.isclass(cls)]
    return [cls for cls in classes if cls.__module__.startswith("kkorthanc")]


def test_lazy_iterators_are_named_iter() -> None:
    """A public method that gives an iterator (lazily, page by page) is ``iter`` or ``iter_*``."""
    for cls in _public_classes():
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") or hasattr(member, "__wrapped__"):  # context managers
                continue
            returns = str(inspect.signature(member).return_annotation)
            lazy = inspect.isgeneratorfunction(member) or inspect.isasyncgenfunction(member)
            if lazy or returns.startswith(("Iterator[", "AsyncIterator[")):
                assert name == "iter" or name.startswith("iter_"), f"{cls.__name__}.{name}"


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
