"""Transfer logic without a server: names, sniffing, archives, fast identifiers, reports."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from kkorthanc import TransferOutcome, UploadRecord, UploadReport
from kkorthanc._dicom.fastids import fast_identifiers
from kkorthanc._dicom.ids import orthanc_ids
from kkorthanc._transfer.plan.naming import PathAssigner, layout_template, sanitize
from kkorthanc._transfer.plan.report import open_report, record_line
from kkorthanc._transfer.plan.sources import SourceOptions, iter_items, sniff
from kkorthanc.errors import OrthancInputError, TransferTargetError

CT = Path(str(get_testdata_file("CT_small.dcm", download=False)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("../x", "_x"),
        ("..", "_"),
        (".", "_"),
        ("A/B\\C", "A_B_C"),
        ("con", "_con"),
        ("LPT1.txt", "_LPT1.txt"),
        ("Doe^John", "Doe John"),
        ("a\x00b", "a_b"),
        ("", "_"),
    ],
)
def test_sanitize(value: str, expected: str) -> None:
    assert sanitize(value) == expected


def test_sanitize_limits_length_in_utf8_bytes() -> None:
    name = sanitize("患者" * 100)
    assert len(name.encode("utf-8")) <= 120 and name.startswith("患者")


def test_collisions_get_numbered_and_same_owner_same_name() -> None:
    assigner = PathAssigner("{PatientID}/{SOPInstanceUID}.dcm")
    first = assigner.assign(
        {"Patient": "p1", "Instance": "i1"}, {"PatientID": "A/B", "SOPInstanceUID": "1"}
    )
    second = assigner.assign(
        {"Patient": "p2", "Instance": "i2"}, {"PatientID": "A_B", "SOPInstanceUID": "1"}
    )
    again = assigner.assign(
        {"Patient": "p1", "Instance": "i3"}, {"PatientID": "A/B", "SOPInstanceUID": "2"}
    )
    assert [p.as_posix() for p in (first, second, again)] == [
        "A_B/1.dcm",
        "A_B_2/1.dcm",
        "A_B/2.dcm",
    ]


def test_bad_layouts_are_refused() -> None:
    with pytest.raises(OrthancInputError):
        layout_template("{NotAKeyword}/x")
    with pytest.raises(OrthancInputError):
        layout_template("/abs/{PatientID}")
    assert layout_template("tree")[0] == "{PatientID} {PatientName}"


def test_sniff() -> None:
    assert sniff(CT.read_bytes()[:200]) == "dicom"
    assert sniff(b"PK\x03\x04rest") == "zip"
    assert sniff(b"\x1f\x8b\x08") == "gzip"
    assert sniff(b"hello world") == "other"


def test_fast_identifiers_match_pydicom() -> None:
    fast = fast_identifiers(CT.read_bytes()[:16384])
    assert fast is not None
    dataset = pydicom.dcmread(CT)
    assert fast["SOPInstanceUID"] == dataset.SOPInstanceUID
    assert fast["PatientID"] == dataset.PatientID


def _bundled_files() -> list[Path]:
    from pydicom.data import get_testdata_files

    return sorted(Path(name) for name in get_testdata_files() if Path(name).is_file())


def test_fast_identifiers_agree_with_pydicom_on_every_bundled_file() -> None:
    """The fast path either declines (None) or reads exactly what pydicom reads."""
    answered = 0
    for path in _bundled_files():
        fast = fast_identifiers(path.read_bytes()[:16384])
        if fast is None:
            continue
        answered += 1
        dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        for keyword, value in fast.items():
            expected = str(dataset.get(keyword, "") or "")
            expected = expected.rstrip(" \0") if keyword == "PatientID" else expected.strip(" \0")
            assert value == expected, (path.name, keyword)
    assert answered >= 50  # the fast path is taken for most of them, not skipped


def test_fast_identifiers_decline_what_they_cannot_read_exactly() -> None:
    head = CT.read_bytes()[:16384]
    assert fast_identifiers(head[:400]) is None  # cut before the identifiers
    big_endian = head.replace(b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.1.2.2\0")
    assert fast_identifiers(big_endian) is None
    bad_vr = bytearray(head)
    bad_vr[136:138] = b"zz"  # the VR of the first meta element
    assert fast_identifiers(bytes(bad_vr)) is None


def test_zip_members_and_junk_in_memory() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(CT, "a/ct.dcm")
        archive.writestr("b.txt", "x")
    items = list(iter_items(buffer.getvalue()))
    assert [item.source for item in items] == ["<bytes 1>!a/ct.dcm", "<bytes 1>!b.txt"]
    assert items[0].ids == orthanc_ids(CT)
    assert items[1].problem is TransferOutcome.NOT_DICOM


def test_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ct").write_bytes(CT.read_bytes())
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    followed = iter_items(tmp_path, SourceOptions(follow_links=True))
    assert [Path(item.source).name for item in followed] == ["ct"]
    by_default = {Path(item.source).name: item.problem for item in iter_items(tmp_path)}
    assert by_default == {"ct": None, "loop": TransferOutcome.SKIPPED}


def test_report_jsonl_round_trip(tmp_path: Path) -> None:
    report = UploadReport(
        [
            UploadRecord("a", TransferOutcome.STORED, 3, "id", "md5"),
            UploadRecord("b", TransferOutcome.REJECTED, 4, status_code=404, detail="no tag"),
        ]
    )
    report.write_jsonl(tmp_path / "r.jsonl")
    assert UploadReport.read_jsonl(tmp_path / "r.jsonl").records == report.records
    assert report.counts == {"stored": 1, "rejected": 1} and not report.ok
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(OrthancInputError):
        UploadReport.read_jsonl(tmp_path / "bad.jsonl")


def test_report_lines_keep_what_is_known_and_leave_out_defaults(tmp_path: Path) -> None:
    record = UploadRecord(
        "a",
        TransferOutcome.STORED,
        3,
        "id",
        "md5",
        verified=False,
        rewritten=True,
        rewrite_reason="refused",
        carried_over=True,
        warnings=("Invalid value for VR UI",),
    )
    plain = UploadRecord("b", TransferOutcome.STORED, 4)
    assert record_line(plain) == '{"source": "b", "outcome": "stored", "size": 4}\n'
    assert '"verified": false' in record_line(record)  # a failed check is not a default
    UploadReport([record, plain]).write_jsonl(tmp_path / "r.jsonl")
    assert UploadReport.read_jsonl(tmp_path / "r.jsonl").records == [record, plain]


def test_reports_are_never_written_through_a_link_or_into_a_fifo(tmp_path: Path) -> None:
    """Issue 11: a planted link at a report path (or at the old ``NAME.part``) is not followed."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    report = UploadReport([UploadRecord("a", TransferOutcome.STORED)])
    (tmp_path / "r.jsonl").symlink_to(victim)
    with pytest.raises(TransferTargetError, match="symbolic link"):
        report.write_jsonl(tmp_path / "r.jsonl")
    with pytest.raises(TransferTargetError, match="symbolic link"):
        open_report(tmp_path / "r.jsonl")
    (tmp_path / "s.jsonl.part").symlink_to(victim)  # the temporary name the report used
    report.write_jsonl(tmp_path / "s.jsonl")
    assert victim.read_text() == "keep me\n"
    assert stat.S_IMODE((tmp_path / "s.jsonl").stat().st_mode) == 0o600
    os.mkfifo(tmp_path / "fifo")  # opening it for writing would wait for a reader forever
    with pytest.raises(TransferTargetError, match="not a regular file"):
        open_report(tmp_path / "fifo")
    with open_report(tmp_path / "new.jsonl") as stream:
        stream.write("{}\n")
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o600


def test_batches_start_small_then_grow() -> None:
    """The first uploads start after 16 headers are read, not 256; later batches ask less often."""
    from kkorthanc._transfer.plan.decide import UploadPlan

    plan = UploadPlan()
    sizes = []
    for _ in range(7):
        sizes.append(plan.batch_size)
        plan.batch_started()
    assert sizes == [16, 32, 64, 128, 256, 256, 256]


def test_inside_follows_links_out_of_the_export_folder(tmp_path: Path) -> None:
    from kkorthanc._transfer.plan.naming import inside

    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (root / "p").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "away").symlink_to(elsewhere)
    (root / "p" / "file.dcm").symlink_to(elsewhere / "x.dcm")
    cache: dict[Path, Path] = {}
    assert inside(root, Path("p/new.dcm"), cache) == root.resolve() / "p" / "new.dcm"
    assert inside(root, Path("p/other.dcm"), cache) == root.resolve() / "p" / "other.dcm"
    for escaping in ("away/a.dcm", "p/file.dcm", "../x.dcm"):
        with pytest.raises(OrthancInputError):
            inside(root, Path(escaping), cache)
