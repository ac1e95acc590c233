"""The DICOM identifiers of a resource and of everything below it, as typed, nested values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UnexpectedContentError

__all__ = [
    "InstanceUids",
    "PatientUids",
    "SeriesUids",
    "StudyUids",
    "patient_uids_from_json",
    "series_uids_from_json",
    "study_uids_from_json",
]


@dataclass(frozen=True)
class InstanceUids:
    """The identifiers of one instance.

    Example:
        >>> InstanceUids("f689ddd2-...", "1.2.3.4").sop_instance_uid
        '1.2.3.4'
    """

    orthanc_id: str
    sop_instance_uid: str


@dataclass(frozen=True)
class SeriesUids:
    """The identifiers of a series and of its instances.

    Example:
        >>> SeriesUids("93034833-...", "1.2.3", ()).series_instance_uid
        '1.2.3'
    """

    orthanc_id: str
    series_instance_uid: str
    instances: tuple[InstanceUids, ...] = field(default=())


@dataclass(frozen=True)
class StudyUids:
    """The identifiers of a study and of everything below it.

    Example:
        >>> StudyUids("8a8cf898-...", "P1", "1.2", ()).patient_id
        'P1'
    """

    orthanc_id: str
    patient_id: str
    study_instance_uid: str
    series: tuple[SeriesUids, ...] = field(default=())


@dataclass(frozen=True)
class PatientUids:
    """The identifiers of a patient and of everything below it.

    Example:
        >>> PatientUids("bdaf1eca-...", "P1", ()).patient_id
        'P1'
    """

    orthanc_id: str
    patient_id: str
    studies: tuple[StudyUids, ...] = field(default=())


# Converters of the KkOrthanc plugin's ``GET /kk/{level}/uids`` answers. Children are sorted
# as the plain REST path sorts them (by UID, then Orthanc ID), so both paths give equal values.


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise UnexpectedContentError(f"the plugin's uids answer has {key}={value!r}, not text")
    return value


def _items(raw: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = raw.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise UnexpectedContentError(f"the plugin's uids answer has {key}={items!r:.200}")
    return items


def series_uids_from_json(raw: Mapping[str, Any]) -> SeriesUids:
    """:class:`SeriesUids` from a series node of the plugin's ``uids`` answer.

    Raises:
        UnexpectedContentError: A node without its ``ID`` or identifier.

    Example:
        >>> series_uids_from_json({"ID": "s", "SeriesInstanceUID": "1.2",
        ...     "Instances": [{"ID": "i", "SOPInstanceUID": "1.2.1"}]}).instances[0].orthanc_id
        'i'
    """
    instances = [
        InstanceUids(_text(item, "ID"), _text(item, "SOPInstanceUID"))
        for item in _items(raw, "Instances")
    ]
    instances.sort(key=lambda uids: (uids.sop_instance_uid, uids.orthanc_id))
    return SeriesUids(_text(raw, "ID"), _text(raw, "SeriesInstanceUID"), tuple(instances))


def study_uids_from_json(raw: Mapping[str, Any], patient_id: str | None = None) -> StudyUids:
    """:class:`StudyUids` from a study node (its ``PatientID``, or ``patient_id`` when nested).

    Raises:
        UnexpectedContentError: A node without its ``ID`` or identifier.

    Example:
        >>> study_uids_from_json({"ID": "s", "StudyInstanceUID": "1.2"}, "P1").patient_id
        'P1'
    """
    series = sorted(
        (series_uids_from_json(item) for item in _items(raw, "Series")),
        key=lambda uids: (uids.series_instance_uid, uids.orthanc_id),
    )
    owner = _text(raw, "PatientID") if patient_id is None else patient_id
    return StudyUids(_text(raw, "ID"), owner, _text(raw, "StudyInstanceUID"), tuple(series))


def patient_uids_from_json(raw: Mapping[str, Any]) -> PatientUids:
    """:class:`PatientUids` from the plugin's answer for a patient.

    Raises:
        UnexpectedContentError: A node without its ``ID`` or identifier.

    Example:
        >>> patient_uids_from_json({"ID": "p", "PatientID": "P1", "Studies": []}).patient_id
        'P1'
    """
    patient_id = _text(raw, "PatientID")
    studies = sorted(
        (study_uids_from_json(item, patient_id) for item in _items(raw, "Studies")),
        key=lambda uids: (uids.study_instance_uid, uids.orthanc_id),
    )
    return PatientUids(_text(raw, "ID"), patient_id, tuple(studies))


# level -> (children key, child level, child identifier tag, the child's parent key)
_CHILDREN = {
    "Patient": ("Studies", "Study", "StudyInstanceUID", "ParentPatient"),
    "Study": ("Series", "Series", "SeriesInstanceUID", "ParentStudy"),
    "Series": ("Instances", "Instance", "SOPInstanceUID", "ParentSeries"),
}


def nest_rest_answers(
    level: str, top: Mapping[str, str], below: Mapping[str, Any]
) -> dict[str, Any]:
    """Nest the plain REST API's expanded lists (``/patients/{id}/studies?expand``...) into the
    shape of the plugin's ``uids`` answer, so one converter serves both paths.

    Args:
        level: The top resource's level (``"Patient"``, ``"Study"`` or ``"Series"``).
        top: Its ``ID`` and identifiers (``PatientID``, ``StudyInstanceUID``...).
        below: For each level below it, the server's expanded JSON list.

    Raises:
        UnexpectedContentError: A list that is not one of resource objects.

    Example:
        >>> nest_rest_answers("Series", {"ID": "s", "SeriesInstanceUID": "1.2"}, {"Instance": [
        ...     {"ID": "i", "ParentSeries": "s", "MainDicomTags": {"SOPInstanceUID": "1.2.1"}}]})
        ... # doctest: +NORMALIZE_WHITESPACE
        {'ID': 's', 'SeriesInstanceUID': '1.2',
         'Instances': [{'ID': 'i', 'SOPInstanceUID': '1.2.1'}]}
    """
    answer: dict[str, Any] = dict(top)
    nodes = {top["ID"]: answer}
    while level in _CHILDREN:
        key, level, tag, parent_key = _CHILDREN[level]
        for node in nodes.values():
            node[key] = []
        found: dict[str, dict[str, Any]] = {}
        for item in _resources(below.get(level, []), level):
            parent = nodes.get(str(item.get(parent_key)))
            if parent is not None:
                found[item["ID"]] = {"ID": item["ID"], tag: item["MainDicomTags"].get(tag, "")}
                parent[key].append(found[item["ID"]])
        nodes = found
    return answer


def _resources(value: Any, level: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("ID"), str)
        and isinstance(item.get("MainDicomTags"), dict)
        for item in value
    ):
        raise UnexpectedContentError(f"expected a list of {level} objects, got {value!r:.200}")
    return value


def check_uids_of(uids: PatientUids | StudyUids | SeriesUids, orthanc_id: str) -> None:
    """Check that an answer describes the resource asked about.

    Raises:
        UnexpectedContentError: It is about another resource.

    Example:
        >>> check_uids_of(PatientUids("p", "P1"), "p")
    """
    if uids.orthanc_id != orthanc_id:
        raise UnexpectedContentError(
            f"asked for the identifiers of {orthanc_id}, the server answered {uids.orthanc_id}"
        )
