"""Uploading files, folders, archives, bytes and datasets to a real server."""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pydicom
import pytest
from _transfer_data import make_dataset, md5, write_instances

from kkorthanc import TransferOutcome, TransferProgress, UploadRecord, UploadReport
from kkorthanc._dicom.ids import orthanc_ids
from kkorthanc.errors import OrthancInputError
from kkorthanc.testing import sample_files

STORED = TransferOutcome.STORED


def outcomes(report: UploadReport) -> dict[str, str]:
    return {Path(record.source).name: record.outcome.value for record in report}


def test_folder_by_content_with_junk_then_skip_existing(client: Any, tmp_path: Path) -> None:
    paths = write_instances(tmp_path / "in" / "deep", 5)
    (tmp_path / "in" / "notes.txt").write_text("not dicom")
    (tmp_path / "in" / "empty.dcm").write_bytes(b"")
    (tmp_path / "in" / ".hidden").write_bytes(paths[0].read_bytes())
    report = client.upload(tmp_path / "in")
    assert len(report) == 7
    assert report.counts == {"stored": 5, "not_dicom": 2}
    assert outcomes(report)["notes.txt"] == "not_dicom"
    assert sorted(client.get("instances")) == sorted(orthanc_ids(p).instance for p in paths)
    again = client.upload(tmp_path / "in")
    assert again.counts == {"skipped_existing": 5, "not_dicom": 2}
    without_skip = client.upload(tmp_path / "in", skip_existing=False)
    assert without_skip.counts == {"already_stored": 5, "not_dicom": 2}


def test_sample_files_and_every_record_has_an_id(client: Any) -> None:
    report = client.upload(sample_files())
    assert report.counts == {"stored": len(sample_files())}
    assert sorted(report.instance_ids) == sorted(client.get("instances"))


def _archives(folder: Path, files: list[Path]) -> None:
    with zipfile.ZipFile(folder / "a.zip", "w") as archive:
        archive.write(files[0], "x/one.dcm")
        archive.writestr("readme.txt", "hello")
    for name, mode in [
        ("b.tar", "w"),
        ("c.tar.gz", "w:gz"),
        ("d.tgz", "w:gz"),
        ("e.tar.bz2", "w:bz2"),
        ("f.tar.xz", "w:xz"),
    ]:
        with tarfile.open(folder / name, mode) as archive:
            archive.add(files[1], "sub/two")
    (folder / "g.dcm.gz").write_bytes(gzip.compress(files[2].read_bytes()))
    (folder / "h.bz2").write_bytes(bz2.compress(files[3].read_bytes()))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.write(files[4], "inner.dcm")
    with zipfile.ZipFile(folder / "nested.zip", "w") as archive:
        archive.writestr("level1/inner.zip", inner.getvalue())


def test_archives_are_read_as_streams(client: Any, tmp_path: Path) -> None:
    files = write_instances(tmp_path / "src", 5)
    (tmp_path / "arch").mkdir()
    _archives(tmp_path / "arch", files)
    report = client.upload(tmp_path / "arch")
    by_source = {record.source.split("/arch/")[1]: record.outcome.value for record in report}
    assert by_source["a.zip!x/one.dcm"] == "stored"
    assert by_source["a.zip!readme.txt"] == "not_dicom"
    assert by_source["nested.zip!level1/inner.zip!inner.dcm"] == "stored"
    assert by_source["g.dcm.gz"] == "stored"
    assert by_source["h.bz2"] == "stored"
    tars = [by_source[f"{name}!sub/two"] for name in ("b.tar", "c.tar.gz", "d.tgz")]
    tars += [by_source[f"{name}!sub/two"] for name in ("e.tar.bz2", "f.tar.xz")]
    assert tars.count("stored") == 1  # one file in five tar flavours: stored once
    assert set(tars) <= {"stored", "already_stored", "skipped_existing"}
    assert len(report) == 10
    assert report.ok
    assert sorted(client.get("instances")) == sorted(orthanc_ids(p).instance for p in files)


def test_bytes_file_objects_datasets_and_lists(client: Any, tmp_path: Path) -> None:
    datasets = [make_dataset(f"Q{number}") for number in range(4)]
    buffer = io.BytesIO()
    datasets[1].save_as(buffer, enforce_file_format=True)
    stream = io.BytesIO()
    datasets[2].save_as(stream, enforce_file_format=True)
    stream.seek(0)
    report = client.upload([datasets[0], buffer.getvalue()], stream, [[datasets[3]]])
    assert report.counts == {"stored": 4}
    assert [r.source.split(" ")[0] for r in report][:1] in (["<dataset"], ["<bytes"], ["<stream"])
    assert len(client.get("instances")) == 4


def test_missing_uids_and_truncated_files_are_rejected_and_the_batch_goes_on(
    client: Any, tmp_path: Path
) -> None:
    good = write_instances(tmp_path / "in", 2)
    no_uid = make_dataset("NOUID")
    del no_uid.SeriesInstanceUID
    no_uid.save_as(tmp_path / "in" / "no_series", enforce_file_format=True)
    data = good[0].read_bytes()
    (tmp_path / "in" / "truncated").write_bytes(data[: len(data) // 3])
    report = client.upload(tmp_path / "in")
    got = {Path(r.source).name: r for r in report}
    assert got["no_series"].outcome is TransferOutcome.REJECTED
    assert got["no_series"].status_code == 404
    assert got["truncated"].outcome is TransferOutcome.REJECTED
    assert got["truncated"].status_code is not None and got["truncated"].detail
    assert got["img0000"].outcome is STORED and got["img0001"].outcome is STORED
    assert not report.ok
    assert len(client.get("instances")) == 2


def test_corrupt_archive_fails_alone(client: Any, tmp_path: Path) -> None:
    good = write_instances(tmp_path / "in", 1)
    (tmp_path / "in" / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as archive:
        archive.add(good[0], "x")
    (tmp_path / "in" / "cut.tgz").write_bytes(tar.getvalue()[: len(tar.getvalue()) // 2])
    report = client.upload(tmp_path / "in")
    got = {Path(r.source.split("!")[0]).name: r.outcome for r in report}
    assert got["broken.zip"] is TransferOutcome.FAILED
    assert got["img0000"] is STORED
    assert got["cut.tgz"] is TransferOutcome.FAILED
    assert len(report) == 3


def test_preamble_less_dataset_is_uploaded(client: Any, tmp_path: Path) -> None:
    dataset = make_dataset("RAW")
    full = io.BytesIO()
    dataset.save_as(full, enforce_file_format=True)
    meta_end = (
        132
        + 12
        + pydicom.dcmread(io.BytesIO(full.getvalue()))
        .file_meta["FileMetaInformationGroupLength"]
        .value
    )
    raw = full.getvalue()[meta_end:]  # no preamble, no DICM, no file meta
    assert raw[:2] == b"\x08\x00"
    (tmp_path / "raw").write_bytes(raw)
    report = client.upload(tmp_path / "raw")
    assert report.counts == {"stored": 1}
    assert client.get("instances") == [orthanc_ids(dataset).instance]


def test_report_jsonl_round_trip_and_resume_checks_the_server(client: Any, tmp_path: Path) -> None:
    write_instances(tmp_path / "in", 4)
    (tmp_path / "in" / "junk").write_text("x")
    first = client.upload(tmp_path / "in")
    first.write_jsonl(tmp_path / "report.jsonl")
    loaded = UploadReport.read_jsonl(tmp_path / "report.jsonl")
    assert loaded.records == first.records
    client.delete(("instances", first.instance_ids[0]))  # the report now lies about one file
    resumed = client.upload(tmp_path / "in", resume=tmp_path / "report.jsonl")
    assert resumed.counts == {"stored": 4, "not_dicom": 1}
    assert len(client.get("instances")) == 4  # the missing one was sent again


def test_forged_resume_report_does_not_skip_files(client: Any, tmp_path: Path) -> None:
    paths = write_instances(tmp_path / "in", 3)
    forged = UploadReport([UploadRecord(str(p), STORED) for p in paths])
    forged.write_jsonl(tmp_path / "forged.jsonl")
    report = client.upload(tmp_path / "in", resume=tmp_path / "forged.jsonl")
    assert report.counts == {"stored": 3}
    assert sorted(client.get("instances")) == sorted(orthanc_ids(p).instance for p in paths)


def test_verify_compares_the_server_md5(client: Any, tmp_path: Path) -> None:
    paths = write_instances(tmp_path / "in", 3)
    report = client.upload(tmp_path / "in", verify=True)
    assert [record.verified for record in report] == [True, True, True]
    assert sorted(r.md5 for r in report) == sorted(md5(p) for p in paths)


def test_progress_counts_files_and_bytes(client: Any, tmp_path: Path) -> None:
    paths = write_instances(tmp_path / "in", 6)
    seen: list[TransferProgress] = []
    client.upload(tmp_path / "in", progress=seen.append, concurrency=2)
    assert [p.files_done for p in seen] == [1, 2, 3, 4, 5, 6]
    assert seen[-1].files_total == 6
    assert seen[-1].bytes_done == seen[-1].bytes_total == sum(p.stat().st_size for p in paths)
    assert seen[-1].counts == {"stored": 6}


def test_bad_arguments_raise_before_any_request(client: Any, tmp_path: Path) -> None:
    with pytest.raises(OrthancInputError):
        client.upload(tmp_path / "missing")
    with pytest.raises(OrthancInputError):
        client.upload(12)
    with pytest.raises(OrthancInputError):
        client.upload(tmp_path, concurrency=0)
