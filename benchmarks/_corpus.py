"""Benchmark corpora generated from pydicom's CT_small.dcm (nothing downloaded), cached on disk.

small:  1000 instances of about 39 KB (CT_small as it is, new UIDs)
medium: 1000 instances of about 130 KB (256 x 256 x 16-bit pixel data)
big:    one multi-frame instance of about 200 MB (400 frames of 512 x 512 x 16 bits)
"""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

ROOT = Path(os.environ.get("KK_BENCH_CORPUS", "/tmp/kkorthanc-bench-corpus"))
CORPORA = ("small", "medium", "big")


def _base() -> Dataset:
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    return pydicom.dcmread(path)


def _renamed(dataset: Dataset, patient: str, study: str, series: str) -> Dataset:
    dataset.PatientID = patient
    dataset.StudyInstanceUID = study
    dataset.SeriesInstanceUID = series
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return dataset


def _pixels(dataset: Dataset, rows: int, columns: int, frames: int) -> None:
    dataset.Rows, dataset.Columns = rows, columns
    dataset.NumberOfFrames = frames
    pattern = bytes(range(256)) * (rows * columns * 2 // 256)
    dataset.PixelData = pattern * frames


def build(name: str, count: int = 1000) -> Path:
    """Write the corpus ``name`` once (kept between runs) and return its folder."""
    folder = ROOT / name
    marker = folder / ".complete"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    dataset = _base()
    if name == "medium":
        _pixels(dataset, 256, 256, 1)
    if name == "big":
        _pixels(dataset, 512, 512, 400)
        count = 1
    for number in range(count):
        patient = f"BENCH{number % 10}"
        uids = (generate_uid(prefix=None), generate_uid())
        _renamed(dataset, patient, *uids) if number < 10 else None
        if number >= 10:  # ten patients, one study and series each
            dataset = _renamed(dataset, patient, *_study_of[number % 10])
        _study_of[number % 10] = (dataset.StudyInstanceUID, dataset.SeriesInstanceUID)
        dataset.save_as(folder / f"{name}{number:04d}.dcm", enforce_file_format=True)
    marker.touch()
    return folder


_study_of: dict[int, tuple[str, str]] = {}


def size_of(folder: Path) -> int:
    """Bytes of the corpus."""
    return sum(path.stat().st_size for path in folder.glob("*.dcm"))
