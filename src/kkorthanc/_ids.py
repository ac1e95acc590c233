"""Orthanc identifiers computed offline, exactly as the server computes them."""

from __future__ import annotations

import hashlib
import os
from typing import IO, TYPE_CHECKING, NamedTuple, Union

from ._lazy import is_dataset
from .errors import OrthancInputError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["ResourceIds", "orthanc_id", "orthanc_ids"]

_ID_TAGS = [
    "SpecificCharacterSet",
    "PatientID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
]

DicomSource = Union["Dataset", str, os.PathLike[str], IO[bytes]]


def _clean(value: str) -> str:
    return value.rstrip(" \x00")


def orthanc_id(
    patient_id: str,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> str:
    """Compute the Orthanc ID of a patient, study, series or instance from its DICOM identifiers.

    The level is given by how many identifiers are passed: a PatientID alone gives the patient's
    ID, adding the StudyInstanceUID gives the study's, and so on. Values are the decoded text;
    trailing spaces and NULs are removed, leading and inner spaces kept, as Orthanc does.

    Args:
        patient_id: The PatientID (the empty string when the file has none).
        study_instance_uid: The StudyInstanceUID, for a study or anything below.
        series_instance_uid: The SeriesInstanceUID, for a series or an instance.
        sop_instance_uid: The SOPInstanceUID, for an instance.

    Raises:
        OrthancInputError: A lower-level identifier given without the ones above it.

    Example:
        >>> orthanc_id("P1")
        'bdaf1eca-33d4619e-80e8ca68-9a1b74a4-febbbb29'
    """
    parts = [patient_id, study_instance_uid, series_instance_uid, sop_instance_uid]
    while parts and parts[-1] is None:
        parts.pop()
    if any(part is None for part in parts):
        raise OrthancInputError(
            "orthanc_id() needs every identifier above the level asked for "
            "(PatientID, then StudyInstanceUID, then SeriesInstanceUID, then SOPInstanceUID)"
        )
    text = "|".join(_clean(str(part)) for part in parts)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


class ResourceIds(NamedTuple):
    """The Orthanc IDs of an instance and of its parents.

    Example:
        >>> ids = orthanc_ids(pydicom.examples.ct)  # doctest: +SKIP
        >>> ids.study  # doctest: +SKIP
        '8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d'
    """

    patient: str
    study: str
    series: str
    instance: str


def orthanc_ids(source: DicomSource) -> ResourceIds:
    """Compute the Orthanc IDs of one DICOM instance and its parents, reading only its header.

    Args:
        source: A pydicom ``Dataset``, a file path, or a binary file object.

    Raises:
        OrthancInputError: The source is not DICOM, or lacks a Study, Series or SOP Instance UID.

    Example:
        >>> orthanc_ids("CT_small.dcm").instance  # doctest: +SKIP
        'f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af'
    """
    dataset = source if is_dataset(source) else _read_header(source)
    patient, study, series, sop = (_text(dataset, keyword) for keyword in _ID_TAGS[1:])
    if not (study and series and sop):
        raise OrthancInputError(
            "a DICOM instance needs StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID "
            "to be stored by Orthanc"
        )
    return ResourceIds(
        orthanc_id(patient),
        orthanc_id(patient, study),
        orthanc_id(patient, study, series),
        orthanc_id(patient, study, series, sop),
    )


def _text(dataset: Dataset, keyword: str) -> str:
    """The value as Orthanc reads it: a multi-valued one (``A\\B``) joined back with ``\\``."""
    value = dataset.get(keyword, "")
    if value is None:
        return ""
    from pydicom.multival import MultiValue

    if isinstance(value, MultiValue):
        return "\\".join(str(part) for part in value)
    return str(value)


def _read_header(source: str | os.PathLike[str] | IO[bytes]) -> Dataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(source, stop_before_pixels=True, specific_tags=_ID_TAGS)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError) as error:
        raise OrthancInputError(f"not a readable DICOM file: {source!r}: {error}") from error
