"""``client.tree()``: patients, studies, series and instances with their main tags, in one
expanded find per level, whatever the number of resources.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ..._core.find import find_body, normalize_query, tag_level
from ..._core.levels import Level
from ..._core.seam import AsyncSeam
from ..._view.tree_format import Node, check_level, format_tree, to_dataframe, to_records
from ...errors import OrthancInputError
from ._kk import kk_find_many, use_plugin
from ._resources import (
    AsyncInstance,
    AsyncPatient,
    AsyncSeries,
    AsyncStudy,
    _Tagged,
    resources_from_json,
)

__all__ = ["AsyncTree", "fetch_tree"]

R = TypeVar("R", bound=_Tagged)
_ORDER = list(Level)
_CLASSES: dict[Level, type[_Tagged]] = {
    Level.PATIENT: AsyncPatient,
    Level.STUDY: AsyncStudy,
    Level.SERIES: AsyncSeries,
    Level.INSTANCE: AsyncInstance,
}
_STUDY_ONLY = {"ModalitiesInStudy"}


def _sort_key(resource: _Tagged) -> tuple[Any, ...]:
    tags = resource.main_tags
    if isinstance(resource, AsyncPatient):
        return (tags.get("PatientName", ""), tags.get("PatientID", ""), resource.id)
    if isinstance(resource, AsyncStudy):
        return (tags.get("StudyDate", ""), tags.get("StudyTime", ""), resource.id)
    keyword = "SeriesNumber" if isinstance(resource, AsyncSeries) else "InstanceNumber"
    text = str(tags.get(keyword, "")).strip()
    number = int(text) if text.lstrip("-").isdigit() else 1 << 62
    return (number, text, resource.id)


class AsyncTree:
    """Patients with their studies, series and instances, as fetched by ``client.tree()``.

    Each level is sorted: patients by name, studies by date, series and instances by number.
    ``str(tree)`` is an indented text tree; :meth:`to_records` and :meth:`to_dataframe` give
    flat tables.

    Attributes:
        patients: The patients, each a full resource with its data.
        studies: Every study in the tree.
        series: Every series in the tree.
        instances: Every instance (empty when the tree stops above instances).
        depth: The lowest level fetched.

    Example:
        >>> tree = await client.tree(PatientName="Doe*")  # doctest: +SKIP
        >>> print(tree)  # doctest: +SKIP
        Patient PatientID=P1 PatientName=Doe^John [bdaf1eca-...]
          Study StudyDate=20210101 ...
    """

    def __init__(
        self,
        patients: Sequence[AsyncPatient],
        studies: Sequence[AsyncStudy],
        series: Sequence[AsyncSeries],
        instances: Sequence[AsyncInstance],
        *,
        depth: Level = Level.INSTANCE,
    ) -> None:
        self.patients = tuple(sorted(patients, key=_sort_key))
        self.studies = tuple(sorted(studies, key=_sort_key))
        self.series = tuple(sorted(series, key=_sort_key))
        self.instances = tuple(sorted(instances, key=_sort_key))
        self.depth = depth
        self._children: dict[str, list[_Tagged]] = {}
        for level in (self.studies, self.series, self.instances):
            for item in level:
                self._children.setdefault(item.parent_id or "", []).append(item)

    def studies_of(self, patient: AsyncPatient) -> list[AsyncStudy]:
        """The patient's studies in this tree.

        Raises:
            OrthancInputError: Not a patient.

        Example:
            >>> [s.date for s in tree.studies_of(tree.patients[0])]  # doctest: +SKIP
        """
        return self._typed(patient, AsyncPatient, AsyncStudy)

    def series_of(self, study: AsyncStudy) -> list[AsyncSeries]:
        """The study's series in this tree.

        Raises:
            OrthancInputError: Not a study.

        Example:
            >>> [s.modality for s in tree.series_of(study)]  # doctest: +SKIP
        """
        return self._typed(study, AsyncStudy, AsyncSeries)

    def instances_of(self, series: AsyncSeries) -> list[AsyncInstance]:
        """The series' instances in this tree.

        Raises:
            OrthancInputError: Not a series.

        Example:
            >>> [i.number for i in tree.instances_of(series)]  # doctest: +SKIP
        """
        return self._typed(series, AsyncSeries, AsyncInstance)

    def _typed(self, parent: _Tagged, kind: type[_Tagged], child: type[R]) -> list[R]:
        if getattr(parent, "level", None) is not kind.level:
            raise OrthancInputError(f"expected a {kind.level.value.lower()}, got {parent!r}")
        return [item for item in self._children.get(parent.id, []) if isinstance(item, child)]

    def nodes(self) -> list[Node]:
        """The tree as plain :class:`Node` data (level, ID, main tags, children).

        Example:
            >>> tree.nodes()[0].children[0].level  # doctest: +SKIP
            <Level.STUDY: 'Study'>
        """
        return [self._node(patient) for patient in self.patients]

    def _node(self, resource: _Tagged) -> Node:
        tags = dict(resource.main_tags)
        children = tuple(self._node(child) for child in self._children.get(resource.id, []))
        return Node(resource.level, resource.id, tags, children)

    def format(self, *, all_tags: bool = False) -> str:
        """An indented text tree, one line per resource with its main tags and Orthanc ID.

        Args:
            all_tags: Every main tag, not only the usual ones of each level.

        Example:
            >>> print(tree.format())  # doctest: +SKIP
        """
        return format_tree(self.nodes(), all_tags=all_tags)

    def to_records(
        self, level: Level | str = Level.INSTANCE, *, typed: bool = True
    ) -> list[dict[str, Any]]:
        """Flat rows, one per resource of ``level`` (default: one per instance), with the main
        tags of it and of its parents, and the Orthanc IDs as ``patient_orthanc_id``...

        Raises:
            OrthancInputError: A level below the tree's depth, or not a level.
            UnexpectedContentError: ``typed`` and a stored value that does not parse.

        Example:
            >>> tree.to_records("series")[0]["Modality"]  # doctest: +SKIP
            'CT'
        """
        return to_records(self.nodes(), self._level(level), typed=typed)

    def to_dataframe(self, level: Level | str = Level.INSTANCE, *, typed: bool = True) -> Any:
        """The records of :meth:`to_records` as a ``pandas.DataFrame``.

        Raises:
            ImportError: pandas is not installed (``pip install 'kkorthanc[pandas]'``).
            OrthancInputError: A level below the tree's depth, or not a level.

        Example:
            >>> tree.to_dataframe("study").groupby("PatientID").size()  # doctest: +SKIP
        """
        return to_dataframe(self.nodes(), self._level(level), typed=typed)

    def _level(self, level: Level | str) -> Level:
        wanted = check_level(level)
        if _ORDER.index(wanted) > _ORDER.index(self.depth):
            raise OrthancInputError(f"this tree stops at {self.depth.value}: no {wanted.value}")
        return wanted

    def __iter__(self) -> Iterator[AsyncPatient]:
        return iter(self.patients)

    def __len__(self) -> int:
        return len(self.patients)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        counts = (len(self.patients), len(self.studies), len(self.series), len(self.instances))
        return "<{} {} patients, {} studies, {} series, {} instances>".format(
            type(self).__name__, *counts
        )


def _sent_at(key: str, level: Level) -> bool:
    if key in _STUDY_ONLY:
        return level is Level.STUDY
    return _ORDER.index(tag_level(key)) <= _ORDER.index(level)


async def fetch_tree(
    client: AsyncSeam,
    query: Mapping[str, Any] | None,
    tags: Mapping[str, Any],
    *,
    depth: Level | str = Level.INSTANCE,
    case_sensitive: bool | None = None,
) -> AsyncTree:
    """Build the tree: one expanded find per level, matched by ID; with the KkOrthanc plugin,
    the same finds sent in one request (``POST /kk/tools/find``), so both give the same tree.

    Raises:
        OrthancInputError: An unknown tag, a bad value or a bad depth.
        UnsupportedFeatureError: ``use_kk_plugin=True`` on a server without the plugin.
    """
    wanted = check_level(depth)
    normalized = normalize_query(query, tags)
    deepest = max([_ORDER.index(tag_level(key)) for key in normalized] + [0])
    levels = _ORDER[: max(deepest, _ORDER.index(wanted)) + 1]
    found = await _fetch_levels(client, normalized, levels, case_sensitive)
    _prune(found, levels, deepest)
    upto = _ORDER.index(wanted)
    return AsyncTree(
        _of(found, Level.PATIENT, AsyncPatient, upto),
        _of(found, Level.STUDY, AsyncStudy, upto),
        _of(found, Level.SERIES, AsyncSeries, upto),
        _of(found, Level.INSTANCE, AsyncInstance, upto),
        depth=wanted,
    )


def _of(found: dict[Level, list[_Tagged]], level: Level, cls: type[R], upto: int) -> list[R]:
    if _ORDER.index(level) > upto:
        return []
    return [item for item in found.get(level, []) if isinstance(item, cls)]


async def _fetch_levels(
    client: AsyncSeam,
    query: Mapping[str, str],
    levels: Sequence[Level],
    case_sensitive: bool | None,
) -> dict[Level, list[_Tagged]]:
    bodies = []
    for level in levels:
        sent = {key: value for key, value in query.items() if _sent_at(key, level)}
        bodies.append(find_body(level, sent, case_sensitive=case_sensitive))
    if await use_plugin(client):
        answers = await kk_find_many(client, bodies)
    else:
        answers = [await client.post("tools/find", json=body) for body in bodies]
    return {
        level: list(resources_from_json(client, _CLASSES[level], answer))
        for level, answer in zip(levels, answers, strict=True)
    }


def _prune(found: dict[Level, list[_Tagged]], levels: Sequence[Level], deepest: int) -> None:
    """Keep parents that have a matching descendant, and children whose parent is kept."""
    for index in range(deepest - 1, -1, -1):
        below = {item.parent_id for item in found[levels[index + 1]]}
        found[levels[index]] = [item for item in found[levels[index]] if item.id in below]
    for index in range(1, len(levels)):
        above = {item.id for item in found[levels[index - 1]]}
        found[levels[index]] = [item for item in found[levels[index]] if item.parent_id in above]
