"""Real DICOM data for the resource tests: pydicom's CT_small.dcm under new identifiers.

Only the identifiers and a few main tags change; the pixel data and the rest are the real file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pydicom
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

__all__ = ["charset_file", "ct_bytes", "dataset_bytes", "grid", "upload", "upload_grid"]


def _ct() -> Dataset:
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    return pydicom.dcmread(path)


def dataset_bytes(dataset: Dataset) -> bytes:
    """The dataset written as a DICOM file."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_bytes(**tags: Any) -> bytes:
    """CT_small.dcm with these tags set (keywords to values) and, unless given, new UIDs."""
    dataset = _ct()
    tags.setdefault("StudyInstanceUID", generate_uid())
    tags.setdefault("SeriesInstanceUID", generate_uid())
    tags.setdefault("SOPInstanceUID", generate_uid())
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return dataset_bytes(dataset)


def charset_file(name: str) -> bytes:
    """A file of pydicom's charset set (chrX1.dcm: UTF-8, chrX2.dcm: GB18030) as bytes."""
    with open(get_charset_files(name)[0], "rb") as handle:
        return handle.read()


def grid(
    patients: int, studies: int, series: int, instances: int, prefix: str = "P"
) -> Iterator[dict[str, Any]]:
    """The tags of a generated tree: per patient, per study, per series, per instance."""
    for p in range(patients):
        for s in range(studies):
            study_uid = generate_uid()
            for r in range(series):
                series_uid = generate_uid()
                for i in range(instances):
                    yield {
                        "PatientID": f"{prefix}{p}",
                        "PatientName": f"Doe^Patient{p}",
                        "StudyInstanceUID": study_uid,
                        "StudyDate": f"2021{s + 1:02d}01",
                        "StudyDescription": f"study {s}",
                        "SeriesInstanceUID": series_uid,
                        "SeriesNumber": r + 1,
                        "Modality": "CT" if r % 2 == 0 else "MR",
                        "SOPInstanceUID": generate_uid(),
                        "InstanceNumber": i + 1,
                    }


def upload(http: Any, data: bytes) -> dict[str, Any]:
    """POST one file with a plain httpx client; return Orthanc's answer."""
    response = http.post("/instances", content=data)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def upload_grid(server: Any, patients: int, studies: int, series: int, instances: int) -> int:
    """Upload a generated tree to ``server`` (an OrthancServer); return the instance count."""
    count = 0
    with server.client() as http:
        for tags in grid(patients, studies, series, instances):
            upload(http, ct_bytes(**tags))
            count += 1
    return count
