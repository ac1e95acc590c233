"""``kkorthanc upload``, ``download``, ``delete`` and ``preview`` against real servers."""

from __future__ import annotations

import io
import json
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pydicom
import pytest
from _transfer_data import BAD_UID, bad_uid_file

import kkorthanc
from kkorthanc.cli import main
from kkorthanc.cli._progress import Progress
from kkorthanc.testing import sample_files

CT_STUDY_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Run:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        status = main(list(argv))
        out, err = self.capsys.readouterr()
        return status, out, err


@pytest.fixture
def run(
    orthanc: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Run:
    monkeypatch.setenv("ORTHANC_URL", orthanc.url)
    monkeypatch.setenv("ORTHANC_USERNAME", orthanc.username or "")
    monkeypatch.setenv("ORTHANC_PASSWORD", orthanc.password or "")
    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal
    return Run(capsys)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _series(tmp_path: Path, count: int) -> list[Path]:
    """``count`` instances of one new CT series, made from CT_small.dcm."""
    paths = []
    template = pydicom.dcmread(sample_files()[0])
    series_uid = pydicom.uid.generate_uid()
    for number in range(1, count + 1):
        template.SeriesInstanceUID = series_uid
        template.SOPInstanceUID = pydicom.uid.generate_uid()
        template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
        template.InstanceNumber = number
        paths.append(tmp_path / f"slice{number}")  # no extension: sniffed by content
        template.save_as(paths[-1])
    return paths


def test_upload_reports_every_file(run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for path in sample_files()[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "notes.txt").write_text("not DICOM")
    report = tmp_path / "report.jsonl"
    status, out, err = run("upload", str(folder), "--report", str(report), "-o", "json")
    assert status == 0
    summary = json.loads(out)
    assert summary["files"] == 4
    assert (summary["stored"], summary["not_dicom"], summary["ok"]) == (3, 1, True)
    assert "upload: 4 files" in err or "upload: 4/" in err
    assert sorted(line["outcome"] for line in _lines(report)) == ["not_dicom", *["stored"] * 3]
    again = json.loads(run("upload", str(folder), "-o", "json")[1])
    assert again["skipped_existing"] == 3


def test_rejected_file_exits_1_and_is_named(run: Run, tmp_path: Path) -> None:
    broken = pydicom.dcmread(sample_files()[0])
    del broken.StudyInstanceUID
    bad = tmp_path / "no-study-uid.dcm"
    broken.save_as(bad)
    good = sample_files()[1]
    status, _, err = run("upload", str(bad), str(good), "--report", str(tmp_path / "r.jsonl"))
    assert status == 1
    assert "no-study-uid.dcm" in err
    outcomes = {Path(line["source"]).name: line["outcome"] for line in _lines(tmp_path / "r.jsonl")}
    assert outcomes == {"no-study-uid.dcm": "rejected", good.name: "stored"}


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, files: int) -> None:
    """Ctrl-C once ``files`` files have finished (raised from the progress display)."""

    def interrupting(self: Progress, done: int, *args: Any) -> None:
        _UPDATE(self, done, *args)
        if done == files:
            raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "update", interrupting)


_UPDATE = Progress.update


def _complete(line: dict[str, Any]) -> bool:
    """A record of a file the server holds, with its instance ID and size (a file sent when
    Ctrl-C came is on the server but not in the report: the next run skips it)."""
    held = line["outcome"] in ("stored", "skipped_existing")
    return held and bool(line.get("instance_id")) and line["size"] > 0


def test_interrupted_upload_leaves_a_report_to_resume(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _series(tmp_path, 8)
    report = tmp_path / "report.jsonl"
    _interrupt_after(monkeypatch, 3)
    status, _, err = run("upload", *map(str, files), "--report", str(report), "--concurrency", "1")
    assert status == 130
    assert "interrupted after 3 files" in err
    assert f"--resume {report} --report {report}" in err  # how to resume
    partial = _lines(report)
    assert len(partial) == 3 and all(_complete(line) for line in partial)
    _interrupt_after(monkeypatch, 5)  # resumed into the same report, and interrupted again
    status, _, err = run(
        "upload",
        *map(str, files),
        "--resume",
        str(report),
        "--report",
        str(report),
        "--concurrency",
        "1",
    )
    assert status == 130, err
    again = _lines(report)
    assert len(again) == 5 and all(_complete(line) for line in again)
    assert sum(bool(line.get("carried_over")) for line in again) == 3
    monkeypatch.setattr(Progress, "update", _UPDATE)
    final = tmp_path / "final.jsonl"
    status, out, _ = run(
        "upload", *map(str, files), "--resume", str(report), "--report", str(final), "-o", "json"
    )
    assert status == 0
    summary = json.loads(out)
    assert (summary["files"], summary["carried_over"], summary["ok"]) == (8, 5, True)
    assert summary.get("stored", 0) + summary.get("skipped_existing", 0) == 3
    lines = _lines(final)
    assert {line["source"] for line in lines} == {str(path) for path in files}
    assert all(_complete(line) for line in lines)
    assert json.loads(run("-o", "json", "stats")[1])["instances"] == 8


def test_interrupted_upload_without_report_says_to_run_it_again(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _series(tmp_path, 3)
    _interrupt_after(monkeypatch, 1)
    status, _, err = run("upload", *map(str, files), "--concurrency", "1")
    assert status == 130
    assert "interrupted after 1 file." in err and "--report FILE" in err


def test_pydicom_warnings_go_to_the_report_not_among_progress_lines(
    run: Run, tmp_path: Path
) -> None:
    path = bad_uid_file(tmp_path / "bad-uid.dcm")
    report = tmp_path / "report.jsonl"
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # Python's default outside pytest: printed once
        status, out, err = run("upload", str(path), "-q", "--report", str(report), "-o", "json")
    assert (status, err) == (0, "")
    assert json.loads(out) == {"files": 1, "stored": 1, "warnings": 1, "ok": True}
    (line,) = _lines(report)
    assert len(line["warnings"]) == 1 and BAD_UID in line["warnings"][0]
    other = bad_uid_file(tmp_path / "other.dcm", patient="WARNED2")
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        status, _, err = run("upload", str(other), "--no-skip-existing")
    assert status == 0
    assert "pydicom warned 1 time(s) about 1 file(s)" in err and "UserWarning" not in err


def test_resume_into_the_same_report_file(run: Run, tmp_path: Path) -> None:
    files = _series(tmp_path, 3)
    report = tmp_path / "report.jsonl"
    assert run("upload", *map(str, files[:2]), "--report", str(report))[0] == 0
    status, _, _ = run(
        "upload", *map(str, files), "--resume", str(report), "--report", str(report), "-o", "json"
    )
    assert status == 0
    assert {line["source"] for line in _lines(report)} == {str(path) for path in files}


def test_upload_of_a_missing_path_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    status, _, err = run("upload", str(tmp_path / "nowhere"))
    assert status == 2
    assert "nowhere" in err


@pytest.fixture
def loaded(orthanc: Any) -> dict[str, str]:
    auth = (orthanc.username, orthanc.password) if orthanc.username else None
    with kkorthanc.Orthanc(orthanc.url, auth=auth) as client:
        report = client.upload(*sample_files())
    return {Path(record.source).name: str(record.instance_id) for record in report}


def test_download_exports_dicom_files(run: Run, tmp_path: Path, loaded: dict[str, str]) -> None:
    study = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    patient = kkorthanc.orthanc_id("4MR1")
    out = tmp_path / "export"
    report = tmp_path / "dl.jsonl"
    status, _, _ = run(
        "download", study, patient, "--out", str(out), "--layout", "flat", "--report", str(report)
    )
    assert status == 0
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 2
    uids = {pydicom.dcmread(path).StudyInstanceUID for path in files}
    assert CT_STUDY_UID in uids
    assert {line["outcome"] for line in _lines(report)} == {"downloaded"}


def test_download_zip_and_media(run: Run, tmp_path: Path, loaded: dict[str, str]) -> None:
    study = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    out = tmp_path / "z"
    assert run("download", study, "--zip", "--out", str(out))[0] == 0
    (archive,) = out.iterdir()
    assert archive.name == f"{study}.zip" and zipfile.is_zipfile(archive)
    status, text, _ = run("-o", "json", "download", study, "--media", "--out", str(out))
    assert status == 0 and json.loads(text)["downloaded"] == 1  # into the same folder
    media = out / f"{study}.media.zip"
    assert sorted(out.iterdir()) == sorted([archive, media])
    with zipfile.ZipFile(media) as opened:
        assert any(name.endswith("DICOMDIR") for name in opened.namelist())


def test_download_unknown_id_exits_5(run: Run, tmp_path: Path) -> None:
    status, _, err = run(
        "download", "00000000-00000000-00000000-00000000-00000000", "--out", str(tmp_path)
    )
    assert status == 5
    assert "no patient, study, series or instance" in err


def test_delete_needs_confirmation_without_a_terminal(run: Run, loaded: dict[str, str]) -> None:
    study = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    status, _, err = run("delete", study)
    assert status == 2
    assert "--yes" in err
    assert len(json.loads(run("ls", "studies", "-o", "json")[1])) == 10  # nothing deleted


def test_delete_with_yes(run: Run, loaded: dict[str, str]) -> None:
    study = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    instance = loaded["MR_small.dcm"]
    status, out, _ = run("delete", study, instance, "--yes", "-o", "json")
    assert status == 0
    assert [row["outcome"] for row in json.loads(out)] == ["deleted", "deleted"]
    assert json.loads(run("-o", "json", "stats")[1])["instances"] == 8
    missing = run("delete", study, "--yes", "-o", "json")
    assert missing[0] == 1
    assert json.loads(missing[1]) == [{"orthanc_id": study, "level": None, "outcome": "not_found"}]


def test_delete_asks_on_a_terminal(
    run: Run, loaded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    study = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    status, _, err = run("delete", study)
    assert status == 2
    assert "[y/N]" in err
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    assert run("delete", study)[0] == 0
    assert len(json.loads(run("ls", "studies", "-o", "json")[1])) == 9


def test_preview_of_an_instance_and_a_series_montage(
    run: Run, tmp_path: Path, loaded: dict[str, str]
) -> None:
    instance = loaded["CT_small.dcm"]
    assert run("preview", instance, "--out", str(tmp_path / "one.png"))[0] == 0
    assert (tmp_path / "one.png").read_bytes().startswith(PNG_MAGIC)
    files = _series(tmp_path, 5)
    assert run("upload", *map(str, files))[0] == 0
    series_uid = pydicom.dcmread(files[0]).SeriesInstanceUID
    series = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID, series_uid)
    assert run("preview", series, "--out", str(tmp_path / "grid.png"))[0] == 0
    from PIL import Image

    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (3 * 256, 2 * 256)  # 5 tiles in a 3 x 2 grid


def test_preview_of_one_multi_frame_instance_is_a_near_square_grid_of_frames(
    run: Run, tmp_path: Path
) -> None:
    dataset = pydicom.dcmread(sample_files()[0])  # CT_small.dcm, 128 x 128
    dataset.SeriesInstanceUID = pydicom.uid.generate_uid()
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = (
        pydicom.uid.generate_uid()
    )
    dataset.NumberOfFrames = 120
    dataset.PixelData = dataset.PixelData * 120
    dataset.save_as(tmp_path / "cine.dcm")
    assert run("upload", str(tmp_path / "cine.dcm"))[0] == 0
    series = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID, dataset.SeriesInstanceUID)
    assert run("preview", series, "--out", str(tmp_path / "grid.png"))[0] == 0
    from PIL import Image

    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (8 * 256, 8 * 256)  # 64 of the 120 frames, not one column


def test_preview_of_an_undecodable_instance_names_the_syntax_and_the_fix(
    run: Run, tmp_path: Path, loaded: dict[str, str]
) -> None:
    status, _, err = run("preview", loaded["JPEG2000.dcm"], "--out", str(tmp_path / "x.png"))
    if status == 0:
        pytest.skip("this server decodes JPEG 2000 (GDCM plugin)")
    assert "1.2.840.10008.1.2.4.91" in err and "orthanc-gdcm" in err
    assert not (tmp_path / "x.png").exists()
    files = _series(tmp_path, 2)
    j2k_file = next(path for path in sample_files() if path.name == "JPEG2000.dcm")
    jpeg2000 = pydicom.dcmread(j2k_file)  # moved into the CT series
    jpeg2000.PatientID, jpeg2000.StudyInstanceUID = "1CT1", CT_STUDY_UID
    jpeg2000.SeriesInstanceUID = pydicom.dcmread(files[0]).SeriesInstanceUID
    jpeg2000.save_as(tmp_path / "j2k.dcm")
    assert run("upload", *map(str, files), str(tmp_path / "j2k.dcm"))[0] == 0
    series = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID, jpeg2000.SeriesInstanceUID)
    instance = kkorthanc.orthanc_id(
        "1CT1", CT_STUDY_UID, jpeg2000.SeriesInstanceUID, jpeg2000.SOPInstanceUID
    )
    status, _, err = run("preview", series, "--out", str(tmp_path / "grid.png"))
    assert status == 0 and f"placeholder for instance {instance} frame 0: " in err
    assert (tmp_path / "grid.png").read_bytes().startswith(PNG_MAGIC)


def test_preview_of_a_study_is_refused(run: Run, tmp_path: Path, loaded: dict[str, str]) -> None:
    study = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    status, _, err = run("preview", study, "--out", str(tmp_path / "x.png"))
    assert status == 2
    assert "instance or a series" in err
    assert not (tmp_path / "x.png").exists()


@pytest.fixture
def immutable_folder(tmp_path: Path) -> Any:
    """An existing folder that even root cannot write into (``chattr +i``)."""
    import subprocess

    folder = tmp_path / "read-only"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_download_into_a_read_only_folder_exits_8(
    run: Run, loaded: dict[str, str], immutable_folder: Path
) -> None:
    study = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    for mode in ((), ("--zip",)):
        status, _, err = run("download", study, *mode, "--out", str(immutable_folder))
        assert status == 8, err
        assert str(immutable_folder) in err
    assert list(immutable_folder.iterdir()) == []


def test_download_conflicts_exit_1_until_overwrite(
    run: Run, tmp_path: Path, loaded: dict[str, str]
) -> None:
    study = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    out = tmp_path / "z"
    out.mkdir()
    (out / f"{study}.zip").write_bytes(b"")  # a 0-byte file where the archive goes
    status, _, err = run("download", study, "--zip", "--out", str(out))
    assert status == 1 and "conflict" in err and "--overwrite" in err
    assert (out / f"{study}.zip").read_bytes() == b""
    assert run("download", study, "--zip", "--out", str(out), "--overwrite")[0] == 0
    assert zipfile.is_zipfile(out / f"{study}.zip")
    status, out_text, _ = run("-o", "json", "download", study, "--zip", "--out", str(out))
    assert status == 0 and "skipped_existing" in out_text


def _planted(tmp_path: Path) -> tuple[Path, Path]:
    """A report path that is a link to another file (the victim), as another user could plant."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "report.jsonl"
    link.symlink_to(victim)
    return link, victim


def test_upload_report_through_a_planted_link_is_refused(run: Run, tmp_path: Path) -> None:
    """Issue 11: ``--report F`` followed a planted link and overwrote its target."""
    link, victim = _planted(tmp_path)
    status, _, err = run("upload", str(sample_files()[0]), "--report", str(link))
    assert status == 8, err
    assert "symbolic link" in err and str(link) in err
    assert victim.read_text() == "precious\n" and link.is_symlink()
    assert json.loads(run("-o", "json", "stats")[1])["instances"] == 0  # refused before sending


def test_download_report_through_a_planted_link_is_refused(
    run: Run, tmp_path: Path, loaded: dict[str, str]
) -> None:
    link, victim = _planted(tmp_path)
    out = tmp_path / "export"
    status, _, err = run(
        "download", loaded["CT_small.dcm"], "--out", str(out), "--report", str(link)
    )
    assert status == 8, err
    assert "symbolic link" in err
    assert victim.read_text() == "precious\n" and link.is_symlink()
    assert not out.exists()  # refused before downloading


def test_upload_skips_links_unless_follow_links(run: Run, tmp_path: Path) -> None:
    (target,) = _series(tmp_path, 1)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "link.dcm").symlink_to(target)  # a link out of the tree given
    status, out, err = run("upload", str(folder), "-o", "json")
    assert status == 0, err  # skipped is not an error
    assert json.loads(out) == {"files": 1, "skipped": 1, "ok": True}
    assert "skipped: " in err and "link.dcm" in err and "--follow-links" in err
    assert json.loads(run("-o", "json", "stats")[1])["instances"] == 0
    status, out, _ = run("upload", str(folder), "--follow-links", "-o", "json")
    assert status == 0 and json.loads(out)["stored"] == 1


def _zip(path: Path, members: list[Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            archive.write(member, member.name)
    return path


@pytest.mark.parametrize(
    ("option", "value", "limit"),
    [
        ("--max-archive-members", "2", "max_members"),
        ("--max-archive-size", "1K", "max_size"),
        ("--max-archive-depth", "1", "max_depth"),
    ],
)
def test_upload_archive_limit_options(
    run: Run, tmp_path: Path, option: str, value: str, limit: str
) -> None:
    three = _zip(tmp_path / "three.zip", _series(tmp_path, 3))
    source = _zip(tmp_path / "nested.zip", [three]) if limit == "max_depth" else three
    status, out, err = run("upload", str(source), option, value, "-o", "json")
    assert status == 1, err
    assert json.loads(out)["rejected"] == 1
    assert f"rejected: {source}" in err and limit in err
    assert json.loads(run("-o", "json", "stats")[1])["instances"] == 0
    status, out, err = run("upload", str(source), option, "5", "-o", "json")  # 5 bytes for size
    assert (status, json.loads(out).get("stored")) == ((1, None) if limit == "max_size" else (0, 3))


def test_upload_archive_ratio_option(run: Run, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"  # 300 MiB of zeros in about 300 KB: a ratio near 1 000
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.dcm", "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(bytes(1024 * 1024))
    status, out, err = run("upload", str(bomb), "-o", "json")
    assert status == 1 and "max_ratio" in err
    status, out, err = run("upload", str(bomb), "--max-archive-ratio", "5000", "-o", "json")
    assert status == 0, err
    assert json.loads(out) == {"files": 1, "not_dicom": 1, "ok": True}


@pytest.mark.parametrize(
    "option",
    [
        ("--max-archive-size", "lots"),
        ("--max-archive-size", "0"),
        ("--max-archive-ratio", "0.5"),
        ("--max-archive-ratio", "nan"),
        ("--max-archive-members", "-1"),
        ("--max-archive-depth", "0"),
    ],
)
def test_bad_archive_limits_are_usage_errors(
    run: Run, tmp_path: Path, option: tuple[str, str]
) -> None:
    status, _, err = run("upload", str(tmp_path), *option)
    assert status == 2
    assert option[0] in err
