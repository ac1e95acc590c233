"""Turning a resource tree into text, flat records and a pandas DataFrame. No I/O.

The tree is given as :class:`Node` objects (level, Orthanc ID, main tags, children), so these
functions work the same for the sync and async clients.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._core.levels import Level
from .._core.tags import parse_value
from ..errors import MissingDependencyError, OrthancInputError

__all__ = ["Node", "format_tree", "to_dataframe", "to_records"]

_SHOWN: dict[Level, tuple[str, ...]] = {
    Level.PATIENT: ("PatientID", "PatientName", "PatientBirthDate", "PatientSex"),
    Level.STUDY: (
        "StudyDate",
        "StudyTime",
        "StudyDescription",
        "AccessionNumber",
        "StudyInstanceUID",
    ),
    Level.SERIES: (
        "SeriesNumber",
        "Modality",
        "SeriesDescription",
        "BodyPartExamined",
        "SeriesInstanceUID",
    ),
    Level.INSTANCE: ("InstanceNumber", "SOPInstanceUID"),
}


@dataclass(frozen=True)
class Node:
    """One resource of a tree, as plain data.

    Example:
        >>> Node(Level.SERIES, "93034833-...", {"Modality": "CT"}).level.value
        'Series'
    """

    level: Level
    orthanc_id: str
    tags: Mapping[str, str]
    children: tuple[Node, ...] = field(default=())


def _line(node: Node, all_tags: bool) -> str:
    keys = sorted(node.tags) if all_tags else _SHOWN[node.level]
    shown = [f"{key}={node.tags[key]}" for key in keys if str(node.tags.get(key, "")).strip()]
    return " ".join([node.level.value, *shown, f"[{node.orthanc_id}]"])


def format_tree(roots: Sequence[Node], *, all_tags: bool = False, indent: str = "  ") -> str:
    """An indented text tree, one line per resource with its main tags and its Orthanc ID.

    Args:
        roots: The top nodes (patients).
        all_tags: Show every main tag, not only the usual ones of each level.
        indent: The indentation of one level.

    Raises:
        OrthancInputError: Never for valid nodes; listed for interface symmetry.

    Example:
        >>> print(format_tree([Node(Level.PATIENT, "p", {"PatientID": "P1"})]))
        Patient PatientID=P1 [p]
    """
    lines: list[str] = []

    def walk(node: Node, depth: int) -> None:
        lines.append(indent * depth + _line(node, all_tags))
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines) if lines else "(empty)"


def _leaves(
    node: Node, level: Level, above: dict[str, Any], typed: bool
) -> Iterator[dict[str, Any]]:
    row = {**above, f"{node.level.value.lower()}_orthanc_id": node.orthanc_id}
    for key, text in node.tags.items():
        row[key] = parse_value(key, str(text)) if typed else text
    if node.level is level:
        yield row
        return
    for child in node.children:
        yield from _leaves(child, level, row, typed)


def to_records(
    roots: Sequence[Node], level: Level | str = Level.INSTANCE, *, typed: bool = True
) -> list[dict[str, Any]]:
    """Flat rows, one per resource of ``level``, with the main tags of it and of its parents.

    Columns are ``patient_orthanc_id`` (``study_orthanc_id``... down to ``level``) and the main
    tags by keyword. A keyword found at two levels (e.g. ``TimezoneOffsetFromUTC``) keeps the
    lower level's value.

    Args:
        roots: The top nodes (patients).
        level: One row per resource of this level (default: one per instance).
        typed: Dates, times and numbers as Python values (default), else the server's text.

    Raises:
        OrthancInputError: An unknown level.
        UnexpectedContentError: ``typed`` and a stored value that does not parse.

    Example:
        >>> to_records([Node(Level.PATIENT, "p", {"PatientBirthDate": "20000101"})], "Patient")
        [{'patient_orthanc_id': 'p', 'PatientBirthDate': datetime.date(2000, 1, 1)}]
    """
    wanted = Level.parse(level)
    return [row for root in roots for row in _leaves(root, wanted, {}, typed)]


def to_dataframe(
    roots: Sequence[Node], level: Level | str = Level.INSTANCE, *, typed: bool = True
) -> Any:
    """The records of :func:`to_records` as a ``pandas.DataFrame`` (pandas must be installed).

    Raises:
        MissingDependencyError: pandas is not installed (install ``kkorthanc[pandas]``).
        OrthancInputError: An unknown level.

    Example:
        >>> to_dataframe([Node(Level.PATIENT, "p", {"PatientID": "P1"})], "Patient").shape
        (1, 2)
    """
    try:
        import pandas
    except ImportError as error:
        raise MissingDependencyError(
            "to_dataframe() needs pandas, which is not installed: "
            "pip install 'kkorthanc[pandas]' (or pip install pandas)"
        ) from error
    records = to_records(roots, level, typed=typed)
    if not records:
        return pandas.DataFrame(columns=[f"{Level.parse(level).value.lower()}_orthanc_id"])
    return pandas.DataFrame.from_records(records)


def check_level(value: Level | str) -> Level:
    """Parse a level argument.

    Raises:
        OrthancInputError: Not a level.

    Example:
        >>> check_level("series")
        <Level.SERIES: 'Series'>
    """
    if not isinstance(value, (str, Level)):
        raise OrthancInputError(f"a level must be a Level or its name, got {value!r}")
    return Level.parse(value)
