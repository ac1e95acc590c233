"""Building ``POST /tools/find`` bodies: tag names, values, options and the features they need.

No I/O: the collections send what these functions build.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any, Union

from ..errors import OrthancInputError
from .levels import Level

__all__ = [
    "QueryTypes",
    "QueryValue",
    "check_orthanc_id",
    "find_body",
    "normalize_query",
    "required_features",
    "tag_level",
]

Scalar = Union[str, int, datetime.date, datetime.time]
QueryValue = Union[Scalar, Sequence[Scalar], tuple[Union[datetime.date, None], ...]]
"""A query value: text (wildcards ``*`` ``?``, ranges ``A-B``, lists ``CT\\MR``), an int, a
:class:`datetime.date` or :class:`datetime.time`, a list of values (any one matches), or a
``(start, end)`` tuple of dates where either end may be None (a range)."""
QueryTypes = Mapping[str, QueryValue]

_ORTHANC_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{8}){4}$")
_HEX_TAG = re.compile(r"^\(?([0-9A-Fa-f]{4})[,-]?([0-9A-Fa-f]{4})\)?$")
_VIRTUAL_TAGS = {"ModalitiesInStudy", "NumberOfStudyRelatedInstances"}

# Orthanc's main DICOM tags per level (levels above Instance); any other tag is instance data.
_LEVEL_TAGS: dict[Level, frozenset[str]] = {
    Level.PATIENT: frozenset(
        {"PatientName", "PatientID", "PatientBirthDate", "PatientSex", "OtherPatientIDs"}
    ),
    Level.STUDY: frozenset(
        {
            "StudyDate",
            "StudyTime",
            "StudyID",
            "StudyDescription",
            "AccessionNumber",
            "StudyInstanceUID",
            "RequestedProcedureDescription",
            "InstitutionName",
            "RequestingPhysician",
            "ReferringPhysicianName",
            "ModalitiesInStudy",
            "TimezoneOffsetFromUTC",
        }
    ),
    Level.SERIES: frozenset(
        {
            "SeriesDate",
            "SeriesTime",
            "Modality",
            "Manufacturer",
            "StationName",
            "SeriesDescription",
            "BodyPartExamined",
            "SequenceName",
            "ProtocolName",
            "SeriesNumber",
            "CardiacNumberOfImages",
            "ImagesInAcquisition",
            "NumberOfTemporalPositions",
            "NumberOfSlices",
            "NumberOfTimeSlices",
            "SeriesInstanceUID",
            "ImageOrientationPatient",
            "SeriesType",
            "OperatorsName",
            "PerformedProcedureStepDescription",
            "AcquisitionDeviceProcessingDescription",
            "ContrastBolusAgent",
        }
    ),
}


def check_orthanc_id(value: object, level: Level) -> str:
    """Return ``value`` if it has the shape of an Orthanc ID, else raise.

    Raises:
        OrthancInputError: Not five groups of eight lower-case hexadecimal digits.

    Example:
        >>> check_orthanc_id("bdaf1eca-33d4619e-80e8ca68-9a1b74a4-febbbb29", Level.PATIENT)
        'bdaf1eca-33d4619e-80e8ca68-9a1b74a4-febbbb29'
    """
    if not isinstance(value, str) or not _ORTHANC_ID.match(value):
        raise OrthancInputError(
            f"{value!r} is not an Orthanc {level.value.lower()} ID: Orthanc IDs are five groups "
            "of 8 lower-case hexadecimal digits joined by '-' (to find a resource by a DICOM "
            "identifier, use lookup())"
        )
    return value


def tag_key(key: str) -> str:
    """Normalise a tag name: a DICOM keyword stays, ``0010,0010`` / ``(0010,0010)`` / ``00100010``
    become ``0010,0010``.

    Raises:
        OrthancInputError: Neither a known DICOM keyword nor a tag number.

    Example:
        >>> tag_key("(0010,0010)"), tag_key("PatientName")
        ('0010,0010', 'PatientName')
    """
    if not isinstance(key, str) or not key.strip():
        raise OrthancInputError(f"a tag must be a keyword or 'gggg,eeee', got {key!r}")
    match = _HEX_TAG.match(key.strip())
    if match:
        return f"{match.group(1)},{match.group(2)}".upper()
    from pydicom.datadict import tag_for_keyword

    if key in _VIRTUAL_TAGS or tag_for_keyword(key) is not None:
        return key
    raise OrthancInputError(
        f"unknown DICOM tag {key!r}: use a DICOM keyword (e.g. 'PatientName', case matters) "
        "or a tag number such as '0010,0010'"
    )


def _keyword(key: str) -> str:
    """The keyword of a normalised key (tag numbers of known tags become keywords)."""
    if "," not in key:
        return key
    from pydicom.datadict import keyword_for_tag

    group, element = key.split(",")
    return keyword_for_tag(int(group + element, 16)) or key


def tag_level(key: str) -> Level:
    """The level a tag belongs to in Orthanc's index (unknown tags: Instance).

    Example:
        >>> tag_level("0010,0010"), tag_level("Modality"), tag_level("Rows")
        (<Level.PATIENT: 'Patient'>, <Level.SERIES: 'Series'>, <Level.INSTANCE: 'Instance'>)
    """
    keyword = _keyword(tag_key(key))
    for level, tags in _LEVEL_TAGS.items():
        if keyword in tags:
            return level
    return Level.INSTANCE


def _scalar(key: str, value: object) -> str:
    if isinstance(value, bool):
        raise OrthancInputError(f"{key}: a boolean is not a DICOM value")
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y%m%d%H%M%S")
    if isinstance(value, datetime.date):
        return value.strftime("%Y%m%d")
    if isinstance(value, datetime.time):
        return value.strftime("%H%M%S")
    if isinstance(value, (str, int)):
        return str(value)
    raise OrthancInputError(f"{key}: cannot use {type(value).__name__} {value!r} in a query")


def _is_range(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(item is None or isinstance(item, datetime.date) for item in value)
        and any(item is not None for item in value)
    )


def query_value(key: str, value: object) -> str:
    """Write one query value as Orthanc reads it.

    Raises:
        OrthancInputError: An empty list, or a value of an unusable type.

    Example:
        >>> query_value("StudyDate", (datetime.date(2021, 1, 1), None))
        '20210101-'
        >>> query_value("Modality", ["CT", "MR"])
        'CT\\\\MR'
    """
    if _is_range(value):
        start, end = (("" if item is None else _scalar(key, item)) for item in value)  # type: ignore[attr-defined]
        return f"{start}-{end}"
    if isinstance(value, (list, tuple, set, frozenset)):
        if not value:
            raise OrthancInputError(f"{key}: an empty list of values matches nothing")
        return "\\".join(_scalar(key, item) for item in value)
    return _scalar(key, value)


def normalize_query(query: Mapping[str, Any] | None, tags: Mapping[str, Any]) -> dict[str, str]:
    """Merge a mapping query and keyword arguments into Orthanc's ``Query`` object.

    Raises:
        OrthancInputError: An unknown tag, a tag given twice, or a bad value.

    Example:
        >>> normalize_query({"0010,0010": "Doe*"}, {"StudyDate": datetime.date(2021, 1, 1)})
        {'0010,0010': 'Doe*', 'StudyDate': '20210101'}
    """
    if query is not None and not isinstance(query, Mapping):
        raise OrthancInputError(f"a query must be a mapping of tags to values, got {query!r}")
    result: dict[str, str] = {}
    for key, value in [*(query or {}).items(), *tags.items()]:
        name = tag_key(key)
        if name in result:
            raise OrthancInputError(f"the tag {key!r} is given twice")
        result[name] = query_value(name, value)
    return result


def find_body(
    level: Level,
    query: Mapping[str, str],
    *,
    case_sensitive: bool | None = None,
    labels: Sequence[str] = (),
    labels_constraint: str = "All",
    requested_tags: Sequence[str] = (),
    since: int = 0,
    limit: int | None = None,
    expand: bool = True,
) -> dict[str, Any]:
    """The JSON body of ``POST /tools/find``.

    Raises:
        OrthancInputError: A negative ``since``, a ``limit`` below 1, or a bad constraint.

    Example:
        >>> find_body(Level.STUDY, {"PatientID": "P1"}, limit=10)
        {'Level': 'Study', 'Query': {'PatientID': 'P1'}, 'Expand': True, 'Limit': 10}
    """
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise OrthancInputError(f"since must be an integer >= 0, got {since!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise OrthancInputError(f"limit must be an integer >= 1 or None (all), got {limit!r}")
    body: dict[str, Any] = {"Level": level.value, "Query": dict(query), "Expand": expand}
    if case_sensitive is not None:
        body["CaseSensitive"] = bool(case_sensitive)
    if labels:
        body.update(_labels(labels, labels_constraint))
    if requested_tags:
        body["RequestedTags"] = [tag_key(tag) for tag in requested_tags]
    if since:
        body["Since"] = since
    if limit is not None:
        body["Limit"] = limit
    return body


def _labels(labels: Sequence[str], constraint: str) -> dict[str, Any]:
    if isinstance(labels, str):
        labels = [labels]
    if constraint not in ("All", "Any", "None"):
        raise OrthancInputError(f"labels_constraint must be All, Any or None, not {constraint!r}")
    return {"Labels": list(labels), "LabelsConstraint": constraint}


def required_features(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The server features a find body needs, as ``(feature, purpose)`` for ``require``.

    Example:
        >>> required_features({"Labels": ["a"], "LabelsConstraint": "All"})
        [('labels', 'a label filter in find()')]
    """
    needed = []
    if body.get("Labels"):
        needed.append(("labels", "a label filter in find()"))
    if body.get("RequestedTags"):
        needed.append(("requested_tags", "requested_tags in find()"))
    return needed
