"""Safe export paths built from DICOM values: sanitized, length-limited, collision-free.

A value from a DICOM file is never trusted as a path: separators, control characters, names that
mean something to a file system (``.``, ``..``, ``CON``, ``NUL``...) and over-long names are
rewritten, and every path is checked to stay inside the export folder.
"""

from __future__ import annotations

import functools
import os
import re
import string
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Union

from ...errors import OrthancInputError

__all__ = ["LAYOUTS", "ExportLayout", "PathAssigner", "inside", "layout_template", "sanitize"]

ExportLayout = Union[Literal["flat", "tree"], str]
"""``"flat"``, ``"tree"`` (patient/study/series), or a template of DICOM keywords such as
``"{PatientID}/{StudyDate}_{StudyDescription}/{SeriesNumber}/{SOPInstanceUID}.dcm"``."""

LAYOUTS = {
    "flat": "{SOPInstanceUID}.dcm",
    "tree": "{PatientID} {PatientName}/{StudyDate} {StudyDescription}/"
    "{Modality} {SeriesNumber} {SeriesDescription}/{InstanceNumber} {SOPInstanceUID}.dcm",
}
MAX_NAME_BYTES = 120
# Windows device names, also with an extension: COM and LPT take the digits 0-9 and the
# superscripts 1-3, which Windows treats as the same digits.
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"} | {
    f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789\u00b9\u00b2\u00b3"
}
# Separators, ASCII control and reserved characters, C1 controls, and the Unicode bidirectional
# controls (which make "gpj.exe" look like "exe.jpg").
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]')

LEVEL_KEYWORDS = {
    "Patient": ("PatientID", "PatientName", "PatientBirthDate", "PatientSex"),
    "Study": (
        "StudyDate",
        "StudyTime",
        "StudyDescription",
        "AccessionNumber",
        "StudyID",
        "StudyInstanceUID",
    ),
    "Series": ("Modality", "SeriesNumber", "SeriesDescription", "SeriesInstanceUID"),
    "Instance": ("InstanceNumber", "SOPInstanceUID"),
}
_LEVEL_OF = {keyword: level for level, words in LEVEL_KEYWORDS.items() for keyword in words}
_DEPTH = {"Patient": 0, "Study": 1, "Series": 2, "Instance": 3}


@functools.lru_cache(maxsize=4096)  # an export repeats its patients', studies' and series' values
def sanitize(value: str, *, fallback: str = "_") -> str:
    """Turn one DICOM value into one safe file or folder name.

    Separators, control characters (bidirectional controls such as U+202E included) and
    reserved characters become ``_``; leading and trailing dots and spaces are removed; ``.``,
    ``..`` and Windows device names (``CON``, ``CONIN$``, ``COM1``, ``COM\u00b9``...) are
    changed; the name is cut to 120 UTF-8 bytes.

    Example:
        >>> sanitize("../x"), sanitize("A/B"), sanitize("con.txt"), sanitize("")
        ('_x', 'A_B', '_con.txt', '_')
    """
    text = unicodedata.normalize("NFC", value.replace("^", " ").strip())
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    text = re.sub(r"_+", "_", text)
    if text.split(".")[0].rstrip(" ").upper() in _RESERVED:
        text = "_" + text
    encoded = text.encode("utf-8")[:MAX_NAME_BYTES]
    text = encoded.decode("utf-8", errors="ignore").strip(" .")
    return text or fallback


def layout_template(layout: str) -> list[str]:
    """The template's segments (one per path level), after checking every field.

    Raises:
        OrthancInputError: An unknown layout name or keyword, or an absolute template.

    Example:
        >>> layout_template("flat")
        ['{SOPInstanceUID}.dcm']
    """
    template = LAYOUTS.get(layout, layout)
    if template.startswith("/") or "{" not in template:
        raise OrthancInputError(
            f"layout {layout!r}: use 'flat', 'tree' or a relative template of DICOM keywords "
            "such as '{PatientID}/{StudyInstanceUID}/{SOPInstanceUID}.dcm'"
        )
    segments = [segment for segment in template.split("/") if segment.strip()]
    for segment in segments:
        for _, field, _, _ in string.Formatter().parse(segment):
            if field is not None and field not in _LEVEL_OF:
                raise OrthancInputError(
                    f"layout {layout!r}: unknown keyword {{{field}}}; known: {sorted(_LEVEL_OF)}"
                )
    return segments


def _segment_level(segment: str, last: bool) -> str:
    if last:
        return "Instance"
    levels = [_LEVEL_OF[f] for _, f, _, _ in string.Formatter().parse(segment) if f]
    return max(levels, key=_DEPTH.__getitem__) if levels else "Patient"


class PathAssigner:
    """Gives every instance a unique relative path, deterministically.

    Each path segment belongs to a level (the deepest level its keywords come from; the last
    segment to the instance). Two different resources that would get the same name under the
    same parent get ``name``, ``name_2``, ``name_3``... in the order they are assigned: assign in
    a stable order (e.g. sorted by Orthanc IDs) for stable names.

    Example:
        >>> assigner = PathAssigner("{PatientID}/{SOPInstanceUID}.dcm")
        >>> tags = {"PatientID": "../x", "SOPInstanceUID": "1.2"}
        >>> assigner.assign({"Patient": "p", "Instance": "i"}, tags).as_posix()
        '_x/1.2.dcm'
    """

    def __init__(self, layout: str) -> None:
        self.segments = layout_template(layout)
        last = len(self.segments) - 1
        self._parsed = [
            (_segment_level(segment, index == last), _parse(segment))
            for index, segment in enumerate(self.segments)
        ]
        self._owners: dict[tuple[str, str], str] = {}
        self._names: dict[tuple[str, str], str] = {}

    def assign(self, owners: Mapping[str, str], tags: Mapping[str, str]) -> Path:
        """The relative path of one instance.

        Args:
            owners: The Orthanc ID of the instance and of its parents, by level name.
            tags: DICOM values by keyword (missing ones count as empty).
        """
        return Path(self.assign_text(owners, tags))

    def assign_text(self, owners: Mapping[str, str], tags: Mapping[str, str]) -> str:
        """:meth:`assign`, as text with ``/`` separators."""
        parent = ""
        for level, parsed in self._parsed:
            name = self._unique(parent, _render(parsed, tags), owners.get(level, ""))
            parent = f"{parent}/{name}" if parent else name
        return parent

    def _unique(self, parent: str, name: str, owner: str) -> str:
        known = self._names.get((parent, owner))
        if known is not None:
            return known
        candidate, number = name, 1
        while (parent, candidate.lower()) in self._owners:
            number += 1
            stem, dot, suffix = name.rpartition(".")
            candidate = f"{stem}_{number}.{suffix}" if dot and stem else f"{name}_{number}"
        self._owners[(parent, candidate.lower())] = owner
        self._names[(parent, owner)] = candidate
        return candidate


def _parse(segment: str) -> list[tuple[str, str | None]]:
    return [(literal, field or None) for literal, field, _, _ in string.Formatter().parse(segment)]


def _render(parsed: list[tuple[str, str | None]], tags: Mapping[str, str]) -> str:
    parts = []
    for literal, field in parsed:
        parts.append(literal)
        if field:
            parts.append(sanitize(str(tags.get(field) or ""), fallback=""))
    return sanitize("".join(parts))


def inside(root: Path, relative: Path | str, folders: dict[str, Path] | None = None) -> Path:
    """``root / relative``, checked to stay inside ``root`` (symbolic links followed).

    Args:
        root: The export folder.
        relative: A path made of sanitized names.
        folders: A cache of checked folders, for many files in few folders.

    Raises:
        OrthancInputError: The path would leave ``root`` (never with sanitized names).
    """
    folders = {} if folders is None else folders
    parent, name = os.path.split(str(relative))
    folder = folders.get(parent)
    if folder is None:
        folder = folders[parent] = _checked(root, (root / parent).resolve(), relative)
    target = folder / name
    if name in ("", ".", "..") or target.is_symlink():
        target = _checked(root, target.resolve(), relative)
    return target


def _checked(root: Path, resolved: Path, relative: Path | str) -> Path:
    if not resolved.is_relative_to(root.resolve()):
        raise OrthancInputError(f"export path {relative} leaves the folder {root}")
    return resolved
