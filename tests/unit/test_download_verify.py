"""Judging a file already at a download's target, without a server (issue 11)."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from kkorthanc import TransferOutcome
from kkorthanc._dicom.ids import orthanc_ids
from kkorthanc._transfer.plan.verify import (
    Action,
    ExportManifest,
    Verdict,
    archive_verdict,
    decide,
    export_verdict,
    hash_file,
    settle,
)
from kkorthanc._util.atomic_file import create_private, private_folder

CT = Path(str(get_testdata_file("CT_small.dcm", download=False)))


@pytest.mark.parametrize(
    ("verdict", "skip", "overwrite", "action"),
    [
        (Verdict.ABSENT, True, False, Action.DOWNLOAD),
        (Verdict.SAME, True, False, Action.SKIP),
        (Verdict.SAME, False, False, Action.DOWNLOAD),
        (Verdict.DIFFERENT, True, False, Action.CONFLICT),
        (Verdict.DIFFERENT, False, False, Action.CONFLICT),
        (Verdict.DIFFERENT, True, True, Action.DOWNLOAD),
    ],
)
def test_decide(verdict: Verdict, skip: bool, overwrite: bool, action: Action) -> None:
    assert decide(verdict, skip_existing=skip, overwrite=overwrite) is action


def test_conflict_is_not_ok() -> None:
    assert not TransferOutcome.CONFLICT.ok
    assert TransferOutcome("conflict") is TransferOutcome.CONFLICT


def test_archive_verdict(tmp_path: Path) -> None:
    data = CT.read_bytes()
    expected = {orthanc_ids(CT).instance: len(data)}
    target = tmp_path / "a.zip"
    assert archive_verdict(target, expected, False) is Verdict.ABSENT
    target.write_bytes(b"")
    assert archive_verdict(target, expected, False) is Verdict.DIFFERENT
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("P/S/IM1", data)
    assert archive_verdict(target, expected, False) is Verdict.SAME
    other = {"0" * 8: len(data)}
    assert archive_verdict(target, other, False) is Verdict.DIFFERENT
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("DICOMDIR", b"not counted in a media archive")
    assert archive_verdict(target, expected, True) is Verdict.SAME
    assert archive_verdict(target, expected, False) is Verdict.DIFFERENT


def test_a_fifo_or_a_link_is_never_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.zip"
    os.mkfifo(fifo)
    assert hash_file(fifo) is None  # would block forever if opened for reading
    assert archive_verdict(fifo, {}, False) is Verdict.DIFFERENT
    link = tmp_path / "link.dcm"
    link.symlink_to(CT)
    assert hash_file(link) is None


def test_manifest_vouches_only_for_the_unchanged_file(tmp_path: Path) -> None:
    target = tmp_path / "a.dcm"
    target.write_bytes(CT.read_bytes())
    server_md5 = str(hash_file(CT)[0])  # type: ignore[index]
    manifest = ExportManifest(tmp_path)
    key = manifest.key(target, "id", "uuid")
    size = CT.stat().st_size
    assert export_verdict(manifest, key, size, target) == (Verdict.UNKNOWN, None)
    assert settle(manifest, key, target, server_md5) == (Verdict.SAME, server_md5)
    manifest.save()
    again = ExportManifest(tmp_path)
    assert export_verdict(again, key, size, target) == (Verdict.SAME, server_md5)
    other_uuid = again.key(target, "id", "new-attachment")
    assert export_verdict(again, other_uuid, size, target)[0] is Verdict.UNKNOWN
    data = bytearray(target.read_bytes())
    data[size // 2] ^= 1
    stamp = target.stat()
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert export_verdict(again, key, size, target)[0] is Verdict.UNKNOWN
    assert settle(again, key, target, server_md5) == (Verdict.DIFFERENT, None)
    assert export_verdict(again, key, size - 1, target)[0] is Verdict.DIFFERENT


def test_private_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    private_folder(folder)
    private_folder(folder)  # existing: fine
    for one in (tmp_path / "a", folder):
        assert stat.S_IMODE(one.stat().st_mode) == 0o700
    with create_private(folder / "f") as stream:
        assert isinstance(stream, io.BufferedWriter)
        stream.write(b"x")
    assert stat.S_IMODE((folder / "f").stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        create_private(folder / "f")
    (folder / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError):
        create_private(folder / "link")
    assert not (tmp_path / "elsewhere").exists()
