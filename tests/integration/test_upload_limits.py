"""Archive bombs: each limit of ArchiveLimits, against a real server (issue 11)."""

from __future__ import annotations

import gzip
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from _transfer_data import write_instances

from kkorthanc import ArchiveLimits, TransferOutcome


def by_name(report: Any) -> dict[str, Any]:
    return {Path(record.source).name: record for record in report}


def test_bombs_are_rejected_with_default_limits_and_the_rest_is_stored(
    client: Any, tmp_path: Path
) -> None:
    good = write_instances(tmp_path / "in", 1)
    with (tmp_path / "big").open("wb") as sparse:  # 1.5 GiB of holes: a few bytes on disk
        sparse.truncate(1536 * 1024 * 1024)
    subprocess.run(
        ["tar", "-czSf", str(tmp_path / "in" / "sparse.tgz"), "-C", str(tmp_path), "big"],
        check=True,
    )
    with zipfile.ZipFile(tmp_path / "in" / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.dcm", "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(bytes(1024 * 1024))
    data = good[0].read_bytes()
    for _ in range(1500):  # 1 500 levels of gzip in gzip: refused, no RecursionError
        data = gzip.compress(data, compresslevel=1)
    (tmp_path / "in" / "deep.gz").write_bytes(data)
    report = by_name(client.upload(tmp_path / "in"))
    for name, limit in [
        ("sparse.tgz", "max_ratio"),
        ("bomb.zip", "max_ratio"),
        ("deep.gz", "max_depth"),
    ]:
        assert report[name].outcome is TransferOutcome.REJECTED, name
        assert limit in report[name].detail
    assert report["img0000"].outcome is TransferOutcome.STORED
    assert len(client.get("instances")) == 1


def test_each_limit_can_be_set(client: Any, tmp_path: Path) -> None:
    files = write_instances(tmp_path / "src", 3)
    with zipfile.ZipFile(tmp_path / "three.zip", "w") as archive:
        for path in files:
            archive.write(path, path.name)
    few = client.upload(tmp_path / "three.zip", archive_limits=ArchiveLimits(max_members=2))
    assert [r.outcome for r in few] == [TransferOutcome.REJECTED]
    assert "max_members" in (few.records[0].detail or "")
    small = client.upload(tmp_path / "three.zip", archive_limits=ArchiveLimits(max_size=1000))
    assert "max_size" in (small.records[0].detail or "")
    fine = client.upload(tmp_path / "three.zip")
    assert fine.counts == {"stored": 3}


def test_small_ratio_and_depth_limits(client: Any, tmp_path: Path) -> None:
    """max_ratio and max_depth set low: an ordinary archive crosses them, and a little more
    room lets the same archive through."""
    files = write_instances(tmp_path / "src", 3)
    three = tmp_path / "three.zip"  # CT_small deflates about 1.6 times
    with zipfile.ZipFile(three, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.name)
    tight = ArchiveLimits(max_ratio=1, ratio_threshold=1)
    (ratio,) = client.upload(three, archive_limits=tight)
    assert ratio.outcome is TransferOutcome.REJECTED and "max_ratio" in (ratio.detail or "")
    nested = tmp_path / "nested.zip"  # depth 2: a zip in a zip
    with zipfile.ZipFile(nested, "w") as archive:
        archive.write(three, three.name)
    (deep,) = client.upload(nested, archive_limits=ArchiveLimits(max_depth=1))
    assert deep.outcome is TransferOutcome.REJECTED and "max_depth" in (deep.detail or "")
    assert client.get("instances") == []
    tarball = tmp_path / "three.tar.gz"  # a .tar.gz is one level
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(tmp_path / "src"), "."], check=True)
    assert client.upload(tarball, archive_limits=ArchiveLimits(max_depth=1)).counts == {"stored": 3}
    roomy = ArchiveLimits(max_ratio=2, ratio_threshold=1)  # inflating 1.6 times is fine
    assert client.upload(three, archive_limits=roomy).counts == {"skipped_existing": 3}
    nested_ok = client.upload(nested, archive_limits=ArchiveLimits(max_depth=2))
    assert nested_ok.counts == {"skipped_existing": 3}
