"""Checking an anonymized dataset against the DICOM basic confidentiality profile. Pure: no I/O.

The profile's attribute list (PS3.15 2024e Annex E, Table E.1-1: every row that names one attribute;
the repeating-group and private-attribute rows are not covered yet) ships with the package as
data (``_deid_profile.json``): tag, keyword and the standard's action code (``X`` remove,
``Z`` zero-length or dummy, ``D`` dummy, ``U`` new UID, or combinations such as ``X/Z/D``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Union

from ._lazy import is_dataset
from .errors import OrthancInputError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["Finding", "ProfileAttribute", "check_anonymized", "confidentiality_profile"]

TagsSource = Union["Dataset", Mapping[str, Any]]


@dataclass(frozen=True)
class ProfileAttribute:
    """One attribute of the basic confidentiality profile.

    Attributes:
        tag: ``"GGGG,EEEE"`` in upper-case hexadecimal.
        keyword: The DICOM keyword, e.g. ``"PatientName"``.
        action: The standard's action code: ``X``, ``Z``, ``D``, ``U`` or a combination.

    Example:
        >>> [a for a in confidentiality_profile() if a.keyword == "PatientName"][0].action
        'Z'
    """

    tag: str
    keyword: str
    action: str

    @property
    def must_be_removed(self) -> bool:
        """Whether the only allowed action is removal (``X``)."""
        return self.action == "X"


@dataclass(frozen=True)
class Finding:
    """An identifying attribute that survived anonymization.

    Attributes:
        tag: ``"GGGG,EEEE"``.
        keyword: The DICOM keyword.
        action: What the profile asks for (``X``, ``Z``, ``D``, ``U``...).
        value: The value found, as text.
        reason: ``"kept its original value"`` or ``"should have been removed"``.
        instance_id: The Orthanc ID of the instance it was found in, when checked on a server.

    Example:
        >>> check_anonymized({"PatientAddress": "1 Main St"})[0].reason
        'should have been removed'
    """

    tag: str
    keyword: str
    action: str
    value: str
    reason: str
    instance_id: str | None = None


@functools.lru_cache(maxsize=1)
def confidentiality_profile() -> tuple[ProfileAttribute, ...]:
    """The attributes of the basic confidentiality profile shipped with KkOrthanc.

    Example:
        >>> len(confidentiality_profile()) > 200
        True
    """
    text = resources.files("kkorthanc").joinpath("_deid_profile.json").read_text("utf-8")
    rows = json.loads(text)["attributes"]
    return tuple(ProfileAttribute(row["tag"], row["keyword"], row["action"]) for row in rows)


def check_anonymized(
    tags: TagsSource,
    *,
    original: TagsSource | None = None,
    keep: Iterable[str] = (),
    instance_id: str | None = None,
) -> list[Finding]:
    """List the identifying attributes of ``tags`` that survived anonymization.

    Without ``original``, only attributes the profile says to remove (``X``) and still present
    with a value are reported. With ``original`` (the dataset before anonymization), every
    profile attribute that still has its original, non-empty value is reported too (names, IDs,
    dates, UIDs...).

    Args:
        tags: The anonymized dataset: a pydicom ``Dataset``, or a mapping keyed by keyword
            (Orthanc's ``?simplify``) or by ``"gggg,eeee"`` (Orthanc's ``?short``).
        original: The same instance before anonymization, in any of these forms.
        keep: Keywords or tags deliberately kept (not reported).
        instance_id: Copied into the findings.

    Raises:
        OrthancInputError: A key that is neither a keyword nor a ``gggg,eeee`` tag.

    Example:
        >>> findings = check_anonymized({"PatientName": "DOE^JOHN"},
        ...                             original={"PatientName": "DOE^JOHN"})
        >>> [(f.keyword, f.reason) for f in findings]
        [('PatientName', 'kept its original value')]
    """
    found = _normalise(tags)
    before = _normalise(original) if original is not None else None
    skipped = {_tag_key(name) for name in keep}
    findings = []
    for attribute in confidentiality_profile():
        value = found.get(attribute.tag, "")
        if not value or attribute.tag in skipped:
            continue
        if before is not None and before.get(attribute.tag) == value:
            reason = "kept its original value"
        elif attribute.must_be_removed:
            reason = "should have been removed"
        else:
            continue
        findings.append(
            Finding(attribute.tag, attribute.keyword, attribute.action, value, reason, instance_id)
        )
    return findings


def _normalise(source: TagsSource) -> dict[str, str]:
    if is_dataset(source):
        elements = [*source, *(getattr(source, "file_meta", None) or [])]
        return {f"{e.tag.group:04X},{e.tag.element:04X}": _text(e.value) for e in elements}
    if not isinstance(source, Mapping):
        raise OrthancInputError(f"expected a pydicom Dataset or a mapping of tags, got {source!r}")
    # Names unknown to pydicom (private tags, Orthanc's "Unknown Tag & Data") are not in the
    # profile: they cannot match, so they are left out.
    keys = {name: _tag_key(name, strict=False) for name in source}
    return {key: _text(_value(source[name])) for name, key in keys.items() if key}


def _value(value: Any) -> Any:
    if isinstance(value, Mapping) and "Value" in value:  # Orthanc's full ``/tags`` format
        return value["Value"]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        parts = [_text(item) for item in value]
        return "\\".join(parts) if any(parts) else ""
    return str(value).strip(" \x00")


def _tag_key(name: str, *, strict: bool = True) -> str:
    text = str(name).strip()
    compact = text.replace(",", "").replace("(", "").replace(")", "").replace(" ", "")
    if len(compact) == 8 and all(c in "0123456789abcdefABCDEF" for c in compact):
        return f"{compact[:4]},{compact[4:]}".upper()
    from pydicom.datadict import keyword_for_tag, tag_for_keyword

    tag = tag_for_keyword(text)
    if tag is None or keyword_for_tag(tag) != text:
        if not strict:
            return ""
        raise OrthancInputError(f"{name!r} is neither a DICOM keyword nor a 'gggg,eeee' tag")
    return f"{tag >> 16:04X},{tag & 0xFFFF:04X}"
