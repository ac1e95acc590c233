"""Uploads that meet broken files, vanishing folders, refused credentials and a dying server."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from _transfer_data import make_dataset, md5, write_instances

from kkorthanc import TransferOutcome, TransferProgress
from kkorthanc._dicom.ids import orthanc_ids
from kkorthanc.errors import OrthancConnectionError, ServerError, UnauthorizedError
from kkorthanc.server._launcher import OrthancProcess

FAILED = TransferOutcome.FAILED


def by_name(report: Any) -> dict[str, Any]:
    return {Path(record.source).name: record for record in report}


def test_unreadable_file_and_fifo_do_not_stop_the_batch(client: Any, tmp_path: Path) -> None:
    write_instances(tmp_path / "in", 2)
    # Root reads any file whatever its mode: /proc/self/mem is a regular file that answers EIO.
    os.symlink("/proc/self/mem", tmp_path / "in" / "unreadable")
    os.mkfifo(tmp_path / "in" / "fifo")  # no writer: opening it for reading would block
    report = by_name(client.upload(tmp_path / "in"))
    assert report["unreadable"].outcome is TransferOutcome.SKIPPED  # a link out of the tree
    assert "symbolic link to '/proc/self/mem'" in report["unreadable"].detail
    assert report["fifo"].outcome is TransferOutcome.SKIPPED
    assert "FIFO" in report["fifo"].detail
    assert report["img0000"].outcome is TransferOutcome.STORED
    assert len(client.get("instances")) == 2


def test_links_out_of_the_tree_and_special_files_are_skipped(client: Any, tmp_path: Path) -> None:
    outside = write_instances(tmp_path / "outside", 2)
    write_instances(tmp_path / "in", 1)
    os.symlink(tmp_path / "outside", tmp_path / "in" / "to_outside")
    os.symlink(outside[0], tmp_path / "in" / "one_outside")
    os.symlink("/proc/kmsg", tmp_path / "in" / "kmsg")
    os.mkfifo(tmp_path / "in" / "fifo")
    report = by_name(client.upload(tmp_path / "in"))
    for name in ("to_outside", "one_outside", "kmsg"):
        assert report[name].outcome is TransferOutcome.SKIPPED
    assert report["fifo"].outcome is TransferOutcome.SKIPPED
    assert len(client.get("instances")) == 1  # nothing from outside the tree
    followed = by_name(client.upload(tmp_path / "in", follow_links=True))
    assert followed["kmsg"].outcome is TransferOutcome.NOT_DICOM  # size 0: never read
    assert len(client.get("instances")) == 3


def test_folder_vanishing_mid_walk(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so the walk reaches z only after the first uploads are reported.
    monkeypatch.setattr("kkorthanc._transfer.plan.decide._MAX_BATCH", 8)
    write_instances(tmp_path / "in" / "a", 20)
    write_instances(tmp_path / "in" / "z", 2)

    def remove_z(progress: TransferProgress) -> None:
        shutil.rmtree(tmp_path / "in" / "z", ignore_errors=True)

    report = client.upload(tmp_path / "in", concurrency=2, progress=remove_z)
    failed = report.with_outcome(FAILED)
    assert [Path(r.source).name for r in failed] == ["z"]
    assert "FileNotFoundError" in (failed[0].detail or "")
    assert report.counts["stored"] == 20


def test_files_that_change_while_read_are_not_stored(client: Any, tmp_path: Path) -> None:
    write_instances(tmp_path / "in", 4)
    big = make_dataset("BIG")
    big.private_block(0x0009, "KKORTHANC", create=True).add_new(0x10, "OB", b"\1" * 700_000)
    big.save_as(tmp_path / "in" / "img0005", enforce_file_format=True)
    make_dataset("SMALL").save_as(tmp_path / "in" / "img0004", enforce_file_format=True)
    grown: list[str] = []

    def grow(progress: TransferProgress) -> None:
        if not grown:  # the first upload is done; 4 and 5 were listed but not read yet
            for name in ("img0004", "img0005"):
                with (tmp_path / "in" / name).open("ab") as stream:
                    stream.write(b"\0" * 1000)
                grown.append(name)

    report = by_name(client.upload(tmp_path / "in", concurrency=1, progress=grow))
    for name in ("img0004", "img0005"):
        assert report[name].outcome is FAILED
        assert "changed size" in report[name].detail
    stored = set(client.get("instances"))
    assert orthanc_ids(big).instance not in stored
    assert len(stored) == 4


def test_refused_credentials_stop_at_once(make_client: Any, orthanc: Any, tmp_path: Path) -> None:
    write_instances(tmp_path / "in", 40)
    intruder = make_client(orthanc.url, auth=("nobody", "wrong"))
    with pytest.raises(UnauthorizedError) as info:
        intruder.upload(tmp_path / "in", skip_existing=False, concurrency=2)
    assert len(info.value.report) < 40
    with pytest.raises(UnauthorizedError) as info:
        intruder.upload(tmp_path / "in")
    assert len(info.value.report) == 0


def test_server_stopped_mid_upload_then_resumed(
    orthanc_factory: Any, make_client: Any, tmp_path: Path
) -> None:
    server = orthanc_factory()
    paths = write_instances(tmp_path / "in", 30, patients=3)
    process = server.process

    def stop_after_five(progress: TransferProgress) -> None:
        if progress.files_done == 5:
            process.stop()

    client = make_client(server.url, auth=server.auth, retries=0)
    with pytest.raises(OrthancConnectionError) as info:
        client.upload(tmp_path / "in", concurrency=2, retry_for=0.5, progress=stop_after_five)
    partial = info.value.report
    assert 5 <= len(partial) < 30 and partial.ok
    partial.write_jsonl(tmp_path / "partial.jsonl")

    server.process = OrthancProcess.start(
        process.binary, process.data_dir, process.config, process.log_path
    )
    resumed = client.upload(tmp_path / "in", resume=tmp_path / "partial.jsonl")
    assert len(resumed) == 30 and resumed.ok
    assert "already_stored" not in resumed.counts  # nothing was sent twice
    stored = sorted(client.get("instances"))
    assert stored == sorted(orthanc_ids(p).instance for p in paths)
    for path in paths:
        data = client.get_bytes(("instances", orthanc_ids(path).instance, "file"))
        assert hashlib.md5(data).hexdigest() == md5(path)


def test_full_storage_stops_the_batch_with_a_partial_report(
    orthanc_factory: Any, make_client: Any, tmp_path: Path
) -> None:
    server = orthanc_factory(extra={"MaximumStorageSize": 1, "MaximumStorageMode": "Reject"})
    if tuple(int(part) for part in server.version.split(".")[:3]) < (1, 11, 2):
        pytest.skip("before 1.11.2 a full storage recycles old patients instead of refusing")
    write_instances(tmp_path / "in", 60, patients=60)  # about 2.3 MB: over the 1 MB limit
    client = make_client(server.url, auth=server.auth)
    with pytest.raises(ServerError) as info:
        client.upload(tmp_path / "in", concurrency=2)
    assert info.value.status_code == 507
    report = info.value.report
    stored = report.with_outcome(TransferOutcome.STORED)
    assert 0 < len(stored) < 60
    assert len(client.get("instances")) == len(stored)
