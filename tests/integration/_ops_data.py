"""Helpers of the server-side operation tests: real DICOM data and resource objects.

The data is pydicom's CT_small.dcm under new identifiers.
"""

from __future__ import annotations

import io
from typing import Any

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from kkorthanc._core.levels import Level

__all__ = ["class_name", "ct_bytes", "resource", "upload"]


def ct_bytes(**tags: Any) -> bytes:
    """CT_small.dcm with these tags set (keywords to values) and, unless given, new UIDs."""
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    dataset = pydicom.dcmread(path)
    tags.setdefault("StudyInstanceUID", generate_uid())
    tags.setdefault("SeriesInstanceUID", generate_uid())
    tags.setdefault("SOPInstanceUID", generate_uid())
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def upload(client: Any, data: bytes) -> dict[str, Any]:
    """Store one file through the client under test; return Orthanc's answer."""
    answer = client.post("instances", data=data)
    assert answer["Status"] in ("Success", "AlreadyStored")
    return dict(answer)


_COLLECTIONS = {
    Level.PATIENT: "patients",
    Level.STUDY: "studies",
    Level.SERIES: "series",
    Level.INSTANCE: "instances",
}


def resource(client: Any, level: Level, orthanc_id: str) -> Any:
    """The resource object of ``level`` (``client.studies.get(...)`` and so on), fetched."""
    return getattr(client, _COLLECTIONS[level]).get(orthanc_id)


def class_name(value: Any) -> str:
    """The class name of a resource object, seen through the Blocking proxy."""
    return repr(value).split("(")[0]
