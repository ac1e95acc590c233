"""Downloading resources and exporting folder trees from a real server."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from _transfer_data import make_dataset, md5, write_instances

from kkorthanc import TransferOutcome, TransferProgress
from kkorthanc._dicom.ids import orthanc_ids
from kkorthanc._transfer import TransferTargetError
from kkorthanc.errors import NotFoundError, OrthancInputError, UnauthorizedError

DOWNLOADED = TransferOutcome.DOWNLOADED
CONFLICT = TransferOutcome.CONFLICT
SKIPPED = TransferOutcome.SKIPPED_EXISTING


def _upload(client: Any, tmp_path: Path, count: int = 4, patients: int = 2) -> list[Path]:
    paths = write_instances(tmp_path / "src", count, patients=patients)
    assert client.upload(paths).counts == {"stored": count}
    return paths


def test_instance_file_and_study_archive(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 3, 1)
    ids = orthanc_ids(paths[0])
    report = client.download(("Instance", ids.instance), tmp_path / "one.dcm")
    assert [r.outcome for r in report] == [DOWNLOADED]
    assert md5(tmp_path / "one.dcm") == md5(paths[0])
    (tmp_path / "out").mkdir()
    report = client.download(ids.study, tmp_path / "out", level="Study")
    archive = tmp_path / "out" / f"{ids.study}.zip"
    assert report.records[0].path == str(archive)
    with zipfile.ZipFile(archive) as opened:
        dicoms = [name for name in opened.namelist() if not name.endswith("/")]
        assert len(dicoms) == 3
    assert [p.name for p in (tmp_path / "out").iterdir()] == [archive.name]  # no temp file left


def test_media_archive_has_a_dicomdir(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 2, 1)
    patient = orthanc_ids(paths[0]).patient
    client.download(("Patient", patient), tmp_path / "media.zip", media=True)
    with zipfile.ZipFile(tmp_path / "media.zip") as opened:
        assert "DICOMDIR" in [Path(name).name for name in opened.namelist()]


def test_skip_existing_complete_file(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 1, 1)
    instance = orthanc_ids(paths[0]).instance
    client.download(("Instance", instance), tmp_path / "a.dcm")
    again = client.download(("Instance", instance), tmp_path / "a.dcm")
    assert again.records[0].outcome is TransferOutcome.SKIPPED_EXISTING
    assert again.records[0].md5 == md5(paths[0])
    (tmp_path / "a.dcm").write_bytes(b"half")
    third = client.download(("Instance", instance), tmp_path / "a.dcm")
    assert third.records[0].outcome is CONFLICT and not third.ok
    assert (tmp_path / "a.dcm").read_bytes() == b"half"
    fourth = client.download(("Instance", instance), tmp_path / "a.dcm", overwrite=True)
    assert fourth.records[0].outcome is DOWNLOADED
    assert md5(tmp_path / "a.dcm") == md5(paths[0])


def test_missing_resource_writes_nothing(client: Any, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        client.download(("Study", "0" * 8), tmp_path / "x.zip")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OrthancInputError):
        client.download("abc", tmp_path / "x.zip")


def test_export_tree_flat_and_template(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 6, 2)
    patients = sorted({orthanc_ids(p).patient for p in paths})
    resources = [("Patient", patient) for patient in patients]
    seen: list[TransferProgress] = []
    report = client.export(resources, tmp_path / "tree", progress=seen.append)
    assert report.counts == {"downloaded": 6}
    assert seen[-1].files_done == seen[-1].files_total == 6
    files = sorted(p for p in (tmp_path / "tree").rglob("*.dcm") if p.is_file())
    assert len(files) == 6
    assert {f.relative_to(tmp_path / "tree").parts[0] for f in files} == {
        "P0 CompressedSamples CT1",
        "P1 CompressedSamples CT1",
    }
    assert sorted(md5(f) for f in files) == sorted(md5(p) for p in paths)
    flat = client.export(resources, tmp_path / "flat", layout="flat")
    assert sorted(Path(r.path).parent for r in flat) == [tmp_path / "flat"] * 6
    custom = client.export(
        resources, tmp_path / "c", layout="{PatientID}/{Modality}/{SOPInstanceUID}.dcm"
    )
    assert all(Path(r.path).parent.name == "CT" for r in custom)


def test_export_resumes_and_skips_complete_files(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 4, 1)
    study = ("Study", orthanc_ids(paths[0]).study)
    first = client.export([study], tmp_path / "out", layout="flat")
    Path(first.records[0].path).unlink()
    Path(first.records[1].path).write_bytes(b"truncated")
    second = client.export([study], tmp_path / "out", layout="flat")
    assert second.counts == {"downloaded": 1, "skipped_existing": 2, "conflict": 1}
    (conflict,) = second.with_outcome(CONFLICT)
    assert conflict.path == first.records[1].path and "overwrite" in str(conflict.detail)
    third = client.export([study], tmp_path / "out", layout="flat", overwrite=True)
    assert third.counts == {"downloaded": 1, "skipped_existing": 3}
    assert sorted(md5(Path(r.path)) for r in third) == sorted(md5(p) for p in paths)


def test_patient_id_with_dot_dot_stays_inside(client: Any, tmp_path: Path) -> None:
    evil = [
        make_dataset("../x"),
        make_dataset("a/../../y"),
        make_dataset("CON"),
        make_dataset(".."),
    ]
    client.upload(evil)
    resources = [("Instance", orthanc_ids(d).instance) for d in evil]
    report = client.export(resources, tmp_path / "out", layout="{PatientID}/{SOPInstanceUID}.dcm")
    root = (tmp_path / "out").resolve()
    tops = set()
    for record in report:
        path = Path(record.path).resolve()
        assert path.is_relative_to(root) and path.is_file()
        tops.add(path.relative_to(root).parts[0])
    assert not any(part in (".", "..", "CON") or "/" in part or "\\" in part for part in tops)
    assert len(tops) == 4
    assert list(tmp_path.iterdir()) == [tmp_path / "out"]


def test_name_collisions_are_resolved_deterministically(client: Any, tmp_path: Path) -> None:
    datasets = [make_dataset("A/B"), make_dataset("A_B"), make_dataset("a_b")]
    client.upload(datasets)
    resources = [("Instance", orthanc_ids(d).instance) for d in datasets]
    layout = "{PatientID}/{SOPInstanceUID}.dcm"
    first = sorted(r.path for r in client.export(resources, tmp_path / "one", layout=layout))
    second = sorted(r.path for r in client.export(resources[::-1], tmp_path / "two", layout=layout))
    tops = sorted(Path(p).relative_to(tmp_path / "one").parts[0] for p in first)
    assert tops == ["A_B", "A_B_2", "A_B_3"] or sorted(t.lower() for t in tops) == [
        "a_b",
        "a_b_2",
        "a_b_3",
    ]
    assert [p.replace("/two/", "/one/") for p in second] == first


def test_export_into_unwritable_target_raises(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 1, 1)
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    resource = [("Instance", orthanc_ids(paths[0]).instance)]
    with pytest.raises(TransferTargetError) as info:
        client.export(resource, blocker / "out")
    assert info.value.path == str(blocker / "out")


def test_export_with_wrong_credentials_stops(
    make_client: Any, orthanc: Any, client: Any, tmp_path: Path
) -> None:
    paths = _upload(client, tmp_path, 1, 1)
    intruder = make_client(orthanc.url, auth=("nobody", "wrong"))
    with pytest.raises(UnauthorizedError):
        intruder.export([("Instance", orthanc_ids(paths[0]).instance)], tmp_path / "o")
    assert not any((tmp_path / "o").rglob("*.dcm"))


# ---- issue 11: "complete" is decided from content; what an export writes is private ------------


def _forge_same_size(path: Path) -> None:
    """Change one byte in the middle (the pixel data) of a file, keeping its size."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("level", ["Study", "Series"])
def test_archive_target_is_judged_by_its_instances(client: Any, tmp_path: Path, level: str) -> None:
    paths = _upload(client, tmp_path, 4, 2)
    mine, other = orthanc_ids(paths[0]), orthanc_ids(paths[1])
    mine_id = mine.study if level == "Study" else mine.series
    other_id = other.study if level == "Study" else other.series
    target = tmp_path / "archive.zip"
    for planted in (b"", None):  # a 0-byte file, then an archive of another resource
        if planted is None:
            client.download((level, other_id), target, overwrite=True)
        else:
            target.write_bytes(planted)
        before = md5(target)
        report = client.download((level, mine_id), target)
        assert [r.outcome for r in report] == [CONFLICT] and not report.ok
        assert "overwrite" in str(report.records[0].detail)
        assert md5(target) == before  # left as it is
    replaced = client.download((level, mine_id), target, overwrite=True)
    assert [r.outcome for r in replaced] == [DOWNLOADED]
    with zipfile.ZipFile(target) as opened:
        members = [opened.open(info) for info in opened.infolist() if not info.is_dir()]
        assert sorted(orthanc_ids(m).instance for m in members) == sorted(
            orthanc_ids(p).instance for p in paths[::2]
        )
    again = client.download((level, mine_id), target)
    assert [r.outcome for r in again] == [SKIPPED] and again.ok


def test_media_archive_is_skipped_only_when_genuine(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 2, 1)
    patient = ("Patient", orthanc_ids(paths[0]).patient)
    target = tmp_path / "media.zip"
    client.download(patient, target, media=True)
    assert client.download(patient, target, media=True).records[0].outcome is SKIPPED
    with zipfile.ZipFile(target, "a") as opened:
        opened.writestr("EXTRA/IM9", paths[0].read_bytes())
    assert client.download(patient, target, media=True).records[0].outcome is CONFLICT


def test_same_size_different_instance_file_is_a_conflict(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 3, 1)
    study = ("Study", orthanc_ids(paths[0]).study)
    first = client.export([study], tmp_path / "out", layout="flat")
    assert first.counts == {"downloaded": 3}
    forged, touched = Path(first.records[0].path), Path(first.records[1].path)
    size, stamp = forged.stat().st_size, forged.stat()
    _forge_same_size(forged)
    os.utime(forged, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same size, same mtime
    os.utime(touched)  # only touched: same content, so still skipped (after hashing)
    assert forged.stat().st_size == size
    second = client.export([study], tmp_path / "out", layout="flat")
    assert second.counts == {"conflict": 1, "skipped_existing": 2}
    assert second.with_outcome(CONFLICT)[0].path == str(forged)
    third = client.export([study], tmp_path / "out", layout="flat", overwrite=True)
    assert third.counts == {"downloaded": 1, "skipped_existing": 2}
    assert sorted(md5(Path(r.path)) for r in third) == sorted(md5(p) for p in paths)
    one = ("Instance", first.records[2].resource)
    single = tmp_path / "single.dcm"
    single.write_bytes(Path(first.records[2].path).read_bytes())
    _forge_same_size(single)
    assert client.download(one, single).records[0].outcome is CONFLICT


def test_export_rerun_without_manifest_verifies_every_file(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 3, 1)
    study = ("Study", orthanc_ids(paths[0]).study)
    client.export([study], tmp_path / "out", layout="flat")
    manifest = tmp_path / "out" / ".kkorthanc-export.json"
    assert manifest.is_file() and stat.S_IMODE(manifest.stat().st_mode) == 0o600
    manifest.unlink()
    again = client.export([study], tmp_path / "out", layout="flat")
    assert again.counts == {"skipped_existing": 3}
    assert sorted(str(r.md5) for r in again) == sorted(md5(p) for p in paths)
    assert manifest.is_file()  # rebuilt from the verified files
    manifest.write_text('{"version": 1, "files": "forged"}')
    assert client.export([study], tmp_path / "out", layout="flat").counts == {"skipped_existing": 3}


def _nobody_can_read(path: Path) -> bool:
    command = ["runuser", "-u", "nobody", "--", "head", "-c", "1", str(path)]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A 0755 folder that every local user can walk into (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="kk-open-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_exported_files_are_private_from_creation(
    client: Any, tmp_path: Path, open_parent: Path
) -> None:
    paths = _upload(client, tmp_path, 2, 1)
    study = ("Study", orthanc_ids(paths[0]).study)
    parent = open_parent
    report = client.export([study], parent / "export" / "tree")
    client.download(study, f"{parent / 'zips'}{os.sep}")
    written = [Path(r.path) for r in report] + list((parent / "zips").iterdir())
    written.append(parent / "export" / "tree" / ".kkorthanc-export.json")
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert not _nobody_can_read(path)
    for folder in [p for p in parent.rglob("*") if p.is_dir()]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    # the attack: a file made readable by the owner is readable by nobody (the check is real)
    probe = parent / "probe"
    probe.write_bytes(b"x")
    probe.chmod(0o644)
    assert _nobody_can_read(probe)


def _archive_instances(path: Path) -> list[str]:
    """The Orthanc IDs of the instances in a ZIP (its DICOMDIR left out)."""
    with zipfile.ZipFile(path) as opened:
        members = [i for i in opened.infolist() if not i.is_dir() and "DICOMDIR" not in i.filename]
        return sorted(orthanc_ids(opened.open(info)).instance for info in members)


def test_zip_and_media_archives_of_one_resource_share_a_folder(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 2, 1)
    study = ("Study", orthanc_ids(paths[0]).study)
    folder = f"{tmp_path / 'out'}{os.sep}"
    plain = client.download(study, folder).records[0]
    media = client.download(study, folder, media=True).records[0]
    assert (plain.outcome, media.outcome) == (DOWNLOADED, DOWNLOADED)  # not skipped_existing
    assert Path(plain.path).name == f"{study[1]}.zip"
    assert Path(media.path).name == f"{study[1]}.media.zip"
    with zipfile.ZipFile(media.path) as opened:
        assert "DICOMDIR" in [Path(name).name for name in opened.namelist()]
    with zipfile.ZipFile(plain.path) as opened:
        assert "DICOMDIR" not in [Path(name).name for name in opened.namelist()]
    assert client.download(study, folder).records[0].outcome is SKIPPED
    assert client.download(study, folder, media=True).records[0].outcome is SKIPPED


@pytest.mark.parametrize("first_media", [False, True])
def test_an_archive_of_the_other_kind_is_not_taken_as_complete(
    client: Any, tmp_path: Path, first_media: bool
) -> None:
    paths = _upload(client, tmp_path, 2, 1)
    study = ("Study", orthanc_ids(paths[0]).study)
    target = tmp_path / "study.zip"  # one name given for both kinds
    client.download(study, target, media=first_media)
    before = md5(target)
    second = client.download(study, target, media=not first_media).records[0]
    assert second.outcome is CONFLICT and md5(target) == before
    replaced = client.download(study, target, media=not first_media, overwrite=True).records[0]
    assert replaced.outcome is DOWNLOADED
    with zipfile.ZipFile(target) as opened:
        has_dicomdir = "DICOMDIR" in [Path(name).name for name in opened.namelist()]
    assert has_dicomdir is not first_media


@pytest.mark.parametrize("media", [False, True])
def test_archive_of_a_study_that_gained_instances_is_replaced(
    client: Any, tmp_path: Path, media: bool
) -> None:
    paths = _upload(client, tmp_path, 2, 1)
    ids = orthanc_ids(paths[0])
    study, folder = ("Study", ids.study), f"{tmp_path / 'out'}{os.sep}"
    old = Path(client.download(study, folder, media=media).records[0].path)
    assert len(_archive_instances(old)) == 2
    first = pydicom.dcmread(paths[0])
    gained = make_dataset(first.PatientID, first.StudyInstanceUID, first.SeriesInstanceUID)
    assert client.upload(gained).counts == {"stored": 1}
    report = client.download(study, folder, media=media)
    (record,) = report.records
    assert record.outcome is DOWNLOADED and report.ok and "older archive" in str(record.detail)
    current = sorted(i["ID"] for i in client.get(("studies", ids.study, "instances")))
    assert _archive_instances(old) == current and len(current) == 3
    # an archive holding an instance the server no longer has is not an older copy: conflict
    client.delete(("instances", ids.instance))
    before = md5(old)
    after_delete = client.download(study, folder, media=media).records[0]
    assert after_delete.outcome is CONFLICT and md5(old) == before


def test_export_accepts_a_single_resource(client: Any, tmp_path: Path) -> None:
    paths = _upload(client, tmp_path, 2, 1)
    ids = orthanc_ids(paths[0])
    study = client.studies.get(ids.study)
    one = client.export(study, tmp_path / "a", layout="flat")  # a resource object, not a list
    assert one.counts == {"downloaded": 2}
    pair = client.export(("Study", ids.study), tmp_path / "b", layout="flat")
    assert pair.counts == {"downloaded": 2}
    both = client.export([("Instance", ids.instance), study], tmp_path / "c", layout="flat")
    assert both.counts == {"downloaded": 2}
    with pytest.raises(OrthancInputError, match="level"):
        client.export(ids.study, tmp_path / "d")  # a bare ID: which level?
    with pytest.raises(OrthancInputError):
        client.export(42, tmp_path / "e")
