"""Real DICOM files for the transfer tests: pydicom's CT_small.dcm with new identifiers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid


def ct_small() -> Dataset:
    """A fresh copy of pydicom's CT_small.dcm."""
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    return pydicom.dcmread(path)


def make_dataset(patient: str = "P1", study: str = "", series: str = "") -> Dataset:
    """CT_small with a given PatientID and new (or given) UIDs."""
    dataset = ct_small()
    dataset.PatientID = patient
    dataset.StudyInstanceUID = study or generate_uid()
    dataset.SeriesInstanceUID = series or generate_uid()
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return dataset


def write_instances(folder: Path, count: int, *, patients: int = 1) -> list[Path]:
    """Write ``count`` instances spread over ``patients`` patients (one study and series each)."""
    folder.mkdir(parents=True, exist_ok=True)
    uids = [(generate_uid(), generate_uid()) for _ in range(patients)]
    paths = []
    for number in range(count):
        study, series = uids[number % patients]
        dataset = make_dataset(f"P{number % patients}", study, series)
        path = folder / f"img{number:04d}"
        dataset.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def md5(path: Path) -> str:
    """The MD5 of a file."""
    return hashlib.md5(path.read_bytes()).hexdigest()


BAD_UID = "1.2.826.0.1.3680043.8.498.0123"  # a component with a leading zero: invalid


def bad_uid_file(path: Path, patient: str = "WARNED") -> Path:
    """A file whose SOPInstanceUID is invalid (pydicom warns when it reads it) and whose
    identifiers follow a sequence of undefined length (so pydicom, not the fast path, reads
    them), as real files often are."""
    import warnings

    from pydicom.sequence import Sequence

    dataset = make_dataset(patient)
    reference = Dataset()
    reference.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    reference.ReferencedSOPInstanceUID = "1.2.3"
    dataset.ReferencedStudySequence = Sequence([reference])
    dataset["ReferencedStudySequence"].is_undefined_length = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset.SOPInstanceUID = BAD_UID
        dataset.file_meta.MediaStorageSOPInstanceUID = BAD_UID
        dataset.save_as(path, enforce_file_format=True)
    return path
