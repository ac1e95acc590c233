"""What is stored is what the user gave: headerless datasets byte for byte, a rewritten copy only
after a refusal (and said so), pydicom's warnings kept in the records."""

from __future__ import annotations

import hashlib
import io
import shutil
import warnings
from pathlib import Path
from typing import Any

import pydicom
from _transfer_data import BAD_UID, bad_uid_file, make_dataset
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from kkorthanc import TransferOutcome
from kkorthanc._dicom.ids import orthanc_ids

STORED = TransferOutcome.STORED


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def headerless(dataset: Dataset) -> bytes:
    """The dataset as a file without preamble, ``DICM`` or file meta group."""
    full = io.BytesIO()
    dataset.save_as(full, enforce_file_format=True)
    meta = pydicom.dcmread(io.BytesIO(full.getvalue())).file_meta
    raw = full.getvalue()[132 + 12 + meta["FileMetaInformationGroupLength"].value :]
    assert raw[:2] == b"\x08\x00"
    return raw


def stored_md5(client: Any, instance_id: str) -> str:
    return str(client.get(("instances", instance_id, "attachments", "dicom", "md5"))).strip()


def test_headerless_files_are_stored_byte_for_byte(client: Any, tmp_path: Path) -> None:
    rtstruct = tmp_path / "rtstruct.dcm"  # pydicom's own: no preamble, no file meta
    shutil.copyfile(str(get_testdata_file("rtstruct.dcm", download=False)), rtstruct)
    generated = tmp_path / "generated"
    generated.write_bytes(headerless(make_dataset("HEADERLESS")))
    in_memory = headerless(make_dataset("HEADERLESS"))
    sources = {str(rtstruct): rtstruct.read_bytes(), str(generated): generated.read_bytes()}
    report = client.upload(rtstruct, generated, in_memory, verify=True)
    sources[next(r.source for r in report if r.source.startswith("<bytes"))] = in_memory
    assert report.counts == {"stored": 3}
    for record in report:
        source = sources[record.source]
        assert (record.size, record.md5, record.verified) == (len(source), _md5(source), True)
        assert not record.rewritten and record.rewrite_reason is None
        dataset = pydicom.dcmread(io.BytesIO(source), force=True)
        assert record.instance_id == orthanc_ids(dataset).instance
        assert stored_md5(client, record.instance_id) == _md5(source)


def test_refused_headerless_file_is_rewritten_and_the_record_says_so(
    client: Any, tmp_path: Path
) -> None:
    dataset = make_dataset("REFUSED")
    source = headerless(dataset) + b"\x01"  # a stray byte at the end: Orthanc refuses it (400)
    (tmp_path / "odd").write_bytes(source)
    report = client.upload(tmp_path / "odd", verify=True)
    (record,) = report
    assert (record.outcome, record.rewritten, record.verified) == (STORED, True, True)
    reason = str(record.rewrite_reason)
    assert "refused the file as it is" in reason and "Bad file format" in reason
    assert record.instance_id == orthanc_ids(dataset).instance
    assert record.md5 == stored_md5(client, record.instance_id) != _md5(source)  # the copy's
    assert record.size is not None and record.size != len(source)


def test_records_keep_pydicom_warnings_instead_of_printing_them(
    client: Any, tmp_path: Path
) -> None:
    path = bad_uid_file(tmp_path / "bad-uid.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escapes the upload fails the test
        report = client.upload(path)
    (record,) = report
    assert record.outcome is STORED
    assert len(record.warnings) == 1 and BAD_UID in record.warnings[0]
