"""Checking an anonymized dataset against the DICOM basic confidentiality profile. Pure: no I/O.

The profile (PS3.15 2024e Annex E, Table E.1-1, checked row by row) ships with the package as
data (``deid_profile.json``): tag, keyword and the standard's action code (``X`` remove,
``Z`` zero-length or dummy, ``D`` dummy, ``U`` new UID, or combinations such as ``X/Z/D``). Its
repeating-group rows are masks: Curve Data ``50xx,xxxx`` and Overlay Data and Comments
``60xx,3000`` and ``60xx,4000``, where ``xx`` stands for the 16 even groups 5000-501E and
6000-601E. Three rows are KkOrthanc's additions, marked in the file: Modifying Device Manufacturer
(from earlier editions), Overlay Description ``60xx,0022`` and Overlay Label ``60xx,1500`` (free
text that can name the patient). The table's last row, private attributes (odd groups), is applied
in code.

:func:`profile_removals` is what :meth:`~kkorthanc.Study.anonymize` adds to Orthanc's ``Remove``
list: Orthanc 1.10 and 1.12 keep curves and overlays, and 1.10 keeps about a hundred rows the
table removes. :func:`check_anonymized` reports what survived.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, Union

from .._util.lazy import is_dataset
from ..errors import OrthancInputError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "Finding",
    "FindingKind",
    "ProfileAttribute",
    "check_anonymized",
    "confidentiality_profile",
    "profile_removals",
]

TagsSource = Union["Dataset", Mapping[str, Any]]
FindingKind = Literal["profile", "private", "burned_in"]
"""What a :class:`Finding` is about: a profile attribute, a private attribute, burned-in text."""

# Groups a repeating-group mask stands for (PS3.5 section 7.6): 16 even groups each.
_GROUPS = {"50xx": range(0x5000, 0x5020, 2), "60xx": range(0x6000, 0x6020, 2)}
_REMOVED_ACTIONS = frozenset({"X", "X/D", "X/Z", "X/Z/D"})
_BURNED_IN_ANNOTATION = "0028,0301"
_KEPT = "kept its original value"
_REMOVE = "should have been removed"
_BINARY = "still present; its binary value is not shown, so it could not be compared: check it"
_BURNED_IN = (
    "BurnedInAnnotation is YES: the pixels may show identifying text, which no attribute "
    "removal cleans; review the images (or leave them out)"
)


@dataclass(frozen=True)
class ProfileAttribute:
    """One attribute (one row) of the basic confidentiality profile.

    Attributes:
        tag: ``"GGGG,EEEE"`` in upper-case hexadecimal, or a repeating-group mask:
            ``"50xx,xxxx"``, ``"60xx,3000"``...
        keyword: The DICOM keyword, e.g. ``"PatientName"``.
        action: The standard's action code: ``X``, ``Z``, ``D``, ``U`` or a combination.

    Example:
        >>> [a for a in confidentiality_profile() if a.keyword == "PatientName"][0].action
        'Z'
        >>> [a for a in confidentiality_profile() if a.keyword == "OverlayComments"][0].tag
        '60xx,4000'
    """

    tag: str
    keyword: str
    action: str

    @property
    def must_be_removed(self) -> bool:
        """Whether the only allowed action is removal (``X``)."""
        return self.action == "X"

    @property
    def is_repeating(self) -> bool:
        """Whether :attr:`tag` is a repeating-group mask (``50xx``, ``60xx``)."""
        return self.tag[:4] in _GROUPS

    def matches(self, tag: str) -> bool:
        """Whether ``tag`` (a keyword or ``"gggg,eeee"``) is this attribute.

        Raises:
            OrthancInputError: Neither a keyword nor a ``gggg,eeee`` tag.

        Example:
            >>> row = [a for a in confidentiality_profile() if a.tag == "60xx,4000"][0]
            >>> row.matches("601E,4000"), row.matches("6001,4000"), row.matches("6020,4000")
            (True, False, False)
        """
        key = _tag_key(tag)
        if not self.is_repeating:
            return key == self.tag
        return int(key[:4], 16) in _GROUPS[self.tag[:4]] and self.tag[5:] in ("xxxx", key[5:])


@dataclass(frozen=True)
class Finding:
    """An identifying attribute that survived anonymization, or pixels to review.

    Attributes:
        tag: ``"GGGG,EEEE"``.
        keyword: The DICOM keyword (``"PrivateAttribute"`` for a private one).
        action: What the profile asks for (``X``, ``Z``, ``D``, ``U``...; ``C``, clean, for
            burned-in annotation).
        value: The value found, as text (empty for a binary value, which Orthanc does not show).
        reason: Why it is reported, e.g. ``"kept its original value"`` or ``"should have been
            removed"``.
        instance_id: The Orthanc ID of the instance it was found in, when checked on a server.
        kind: ``"profile"`` (a row of the profile), ``"private"`` (a private attribute; the
            profile removes them all) or ``"burned_in"`` (``BurnedInAnnotation`` is ``YES``: no
            attribute is wrong, but the images must be reviewed by a person).

    Example:
        >>> check_anonymized({"PatientAddress": "1 Main St"})[0].reason
        'should have been removed'
        >>> check_anonymized({"BurnedInAnnotation": "YES"})[0].kind
        'burned_in'
    """

    tag: str
    keyword: str
    action: str
    value: str
    reason: str
    instance_id: str | None = None
    kind: FindingKind = "profile"


@functools.lru_cache(maxsize=1)
def _profile_data() -> dict[str, Any]:
    text = resources.files("kkorthanc._dicom").joinpath("deid_profile.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@functools.lru_cache(maxsize=1)
def confidentiality_profile() -> tuple[ProfileAttribute, ...]:
    """The attributes of the basic confidentiality profile shipped with KkOrthanc.

    Example:
        >>> len(confidentiality_profile()) > 600
        True
    """
    rows = _profile_data()["attributes"]
    return tuple(ProfileAttribute(row["tag"], row["keyword"], row["action"]) for row in rows)


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, ProfileAttribute], dict[tuple[str, str], ProfileAttribute]]:
    exact: dict[str, ProfileAttribute] = {}
    masks: dict[tuple[str, str], ProfileAttribute] = {}
    for row in confidentiality_profile():
        if row.is_repeating:
            masks[(row.tag[:4], row.tag[5:])] = row
        else:
            exact[row.tag] = row
    return exact, masks


def _profile_row(tag: str) -> ProfileAttribute | None:
    exact, masks = _index()
    if tag in exact:
        return exact[tag]
    group = int(tag[:4], 16)
    for prefix, groups in _GROUPS.items():
        if group in groups:
            return masks.get((prefix, tag[5:])) or masks.get((prefix, "xxxx"))
    return None


def profile_removals(
    *,
    keep: Iterable[str] = (),
    replace: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> list[str]:
    """The tags to add to Orthanc's ``Remove`` list so that an anonymization removes what the
    profile removes. Pure.

    These are every row whose action starts with removal (``X``, ``X/D``, ``X/Z``, ``X/Z/D``:
    Orthanc 1.12 removes them all, 1.10 keeps about a hundred), every curve (all of a 50xx group)
    and every overlay (all of a 60xx group: without its data an overlay's rows, columns and origin
    would describe nothing). Tags the caller keeps, replaces or already removes are left out; an
    overlay or curve group of which the caller keeps or replaces an element loses only its profile
    rows. Absent tags are fine: Orthanc removes what exists.

    Args:
        keep: Tags the caller keeps (keywords or ``"gggg,eeee"``).
        replace: Tags the caller replaces.
        remove: Tags the caller removes already.

    Example:
        >>> removals = profile_removals(keep=["InstanceCreationDate"])
        >>> "6000,4000" in removals, "0010,1040" in removals, "0008,0012" in removals
        (True, True, False)
    """
    spared = {_tag_key(name, strict=False) for name in [*keep, *replace, *remove]} - {""}
    tags = [
        row.tag
        for row in confidentiality_profile()
        if row.action in _REMOVED_ACTIONS and not row.is_repeating
    ]
    for prefix, groups in _GROUPS.items():
        for group in groups:
            tags += _group_removals(prefix, group, spared)
    return [tag for tag in tags if tag not in spared]


def _group_removals(prefix: str, group: int, spared: set[str]) -> list[str]:
    elements: list[str] = _profile_data()["repeating_group_elements"][prefix]
    tags = [f"{group:04X},{element}" for element in elements]
    if not spared.intersection(tags):
        return tags
    _, masks = _index()
    return [tag for tag in tags if (prefix, tag[5:]) in masks or (prefix, "xxxx") in masks]


def check_anonymized(
    tags: TagsSource,
    *,
    original: TagsSource | None = None,
    keep: Iterable[str] = (),
    instance_id: str | None = None,
) -> list[Finding]:
    """List the identifying attributes of ``tags`` that survived anonymization.

    Reported, in tag order (presence counts: a binary value Orthanc shows as ``null`` is
    reported too):

    - profile attributes whose only action is removal (``X``), curves (``50xx,xxxx``) and
      overlay data, comments, description and label (``60xx,...``) in any of the 16 groups;
    - with ``original`` (the dataset before anonymization), every profile attribute that still
      has its original, non-empty value (names, IDs, dates, UIDs...), or a binary value that
      could not be compared;
    - every private attribute (odd group; private creators ``gggg,00xx`` are not reported
      themselves): the profile removes them all, so a ``keep_private_tags`` anonymization is
      reported;
    - ``BurnedInAnnotation`` ``YES``, as a finding of kind ``"burned_in"``: the pixels may
      show names, which a person must review.

    Attributes inside sequences are not examined one by one.

    Args:
        tags: The anonymized dataset: a pydicom ``Dataset``, or a mapping keyed by keyword or
            by ``"gggg,eeee"`` (Orthanc's ``?short`` or full ``/tags``; its ``?simplify`` form
            names private tags ``"Unknown Tag & Data"``, so they cannot be checked).
        original: The same instance before anonymization, in any of these forms.
        keep: Keywords or tags deliberately kept (not reported); a mask such as
            ``"60xx,4000"`` keeps that attribute in every group.
        instance_id: Copied into the findings.

    Raises:
        OrthancInputError: A ``keep`` entry that is neither a keyword, a ``gggg,eeee`` tag nor
            a profile mask.

    Example:
        >>> findings = check_anonymized({"PatientName": "DOE^JOHN", "6000,4000": "Jane"},
        ...                             original={"PatientName": "DOE^JOHN"})
        >>> [f"{f.keyword}: {f.reason}" for f in findings]  # doctest: +NORMALIZE_WHITESPACE
        ['PatientName: kept its original value',
         'OverlayComments: should have been removed']
    """
    found = _normalise(tags)
    before = _normalise(original) if original is not None else None
    skipped = {_keep_key(name) for name in keep}
    findings = []
    for tag in sorted(found):
        finding = _finding(tag, found, before, skipped)
        if finding is not None:
            findings.append(dataclasses.replace(finding, instance_id=instance_id))
    return findings


def _finding(
    tag: str, found: dict[str, str | None], before: dict[str, str | None] | None, skipped: set[str]
) -> Finding | None:
    value = found[tag]
    if value == "" or tag in skipped:
        return None
    if tag == _BURNED_IN_ANNOTATION:
        if str(value).upper() != "YES":
            return None
        return Finding(tag, "BurnedInAnnotation", "C", "YES", _BURNED_IN, kind="burned_in")
    row = _profile_row(tag)
    if row is not None:
        return None if row.tag in skipped else _profile_finding(row, tag, value, before)
    if _is_private(tag):
        return Finding(
            tag, "PrivateAttribute", "X", value or "", _private_reason(tag, found), kind="private"
        )
    return None


def _profile_finding(
    row: ProfileAttribute, tag: str, value: str | None, before: dict[str, str | None] | None
) -> Finding | None:
    original = before.get(tag, "") if before is not None else ""
    if value is not None and value == original:
        reason = _KEPT
    elif row.must_be_removed:
        reason = _REMOVE
    elif value is None and original is None:
        reason = _BINARY
    else:
        return None
    return Finding(tag, row.keyword, row.action, value or "", reason)


def _is_private(tag: str) -> bool:
    element = int(tag[5:], 16)
    return int(tag[:4], 16) % 2 == 1 and not (element == 0 or 0x10 <= element <= 0xFF)


def _private_reason(tag: str, found: Mapping[str, str | None]) -> str:
    creator = found.get(f"{tag[:4]},00{tag[5:7]}") if int(tag[5:], 16) >= 0x1000 else None
    owner = f" of {creator!r}" if creator else ""
    return f"private attribute{owner}: the profile removes private attributes"


def _keep_key(name: str) -> str:
    text = str(name).strip()
    if any(row.tag == text.lower() for row in confidentiality_profile() if row.is_repeating):
        return text.lower()
    return _tag_key(text)


def _normalise(source: TagsSource) -> dict[str, str | None]:
    """Tag to value as text; None for a value that is present but not shown (binary)."""
    if is_dataset(source):
        elements = [*source, *(getattr(source, "file_meta", None) or [])]
        return {f"{e.tag.group:04X},{e.tag.element:04X}": _text(e.value) for e in elements}
    if not isinstance(source, Mapping):
        raise OrthancInputError(f"expected a pydicom Dataset or a mapping of tags, got {source!r}")
    # Names that are neither keywords nor tags (Orthanc's "Unknown Tag & Data") are left out.
    keys = {name: _tag_key(name, strict=False) for name in source}
    return {key: _text(_value(source[name])) for name, key in keys.items() if key}


def _value(value: Any) -> Any:
    if isinstance(value, Mapping) and "Value" in value:  # Orthanc's full ``/tags`` format
        return value["Value"]
    return value


def _text(value: Any) -> str | None:
    if value is None:  # Orthanc's ``null``: a binary value it does not show
        return None
    if isinstance(value, (bytes, bytearray)):
        return None if value else ""
    if isinstance(value, Sequence) and not isinstance(value, str):
        parts = [_text(item) or "" for item in value]
        return "\\".join(parts) if any(parts) else ""
    return str(value).strip(" \x00")


def _tag_key(name: str, *, strict: bool = True) -> str:
    text = str(name).strip()
    compact = text.replace(",", "").replace("(", "").replace(")", "").replace(" ", "")
    if len(compact) == 8 and all(c in "0123456789abcdefABCDEF" for c in compact):
        return f"{compact[:4]},{compact[4:]}".upper()
    from pydicom.datadict import keyword_for_tag, repeater_has_keyword, tag_for_keyword

    tag = tag_for_keyword(text)
    if tag is not None and keyword_for_tag(tag) == text:
        return f"{tag >> 16:04X},{tag & 0xFFFF:04X}"
    if repeater_has_keyword(text):
        return _repeater_tag(text)
    if not strict:
        return ""
    raise OrthancInputError(f"{name!r} is neither a DICOM keyword nor a 'gggg,eeee' tag")


def _repeater_tag(keyword: str) -> str:
    """A repeating group's keyword means its first group (6000, 5000), as for pydicom."""
    from pydicom.datadict import keyword_for_tag

    for prefix, elements in _profile_data()["repeating_group_elements"].items():
        if prefix in _GROUPS:
            for element in elements:
                tag = f"{prefix[:2]}00,{element}"
                if keyword_for_tag(int(tag.replace(",", ""), 16)) == keyword:
                    return tag
    raise OrthancInputError(f"{keyword!r}: a repeating-group keyword KkOrthanc does not know")
