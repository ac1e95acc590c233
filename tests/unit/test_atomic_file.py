"""The one atomic writer (issue 13): private, never through a link, all or nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kkorthanc._transfer.plan.download import PartFile
from kkorthanc._util.atomic_file import AtomicFile
from kkorthanc.cli._profiles import write_private_file
from kkorthanc.errors import TransferTargetError
from kkorthanc.server._private import write_private


def test_the_file_is_private_unless_told_and_replaces_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    target.chmod(0o644)
    with AtomicFile(target) as stream:
        stream.write(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with AtomicFile(tmp_path / "b.txt", mode=0o640) as stream:
        stream.write(b"b")
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o640 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_a_link_at_the_target_is_replaced_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for write in (_atomic, write_private, write_private_file, _part):
        link = tmp_path / "link"
        link.unlink(missing_ok=True)
        link.symlink_to(victim)
        write(link, "secret")
        assert victim.read_text() == "keep me"
        assert not link.is_symlink()
        assert link.read_text() == "secret"
        assert stat.S_IMODE(link.stat().st_mode) == 0o600


def test_a_failure_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        _broken(AtomicFile(target))
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert target.read_bytes() == b"old"
    (tmp_path / "folder").mkdir()
    with pytest.raises(TransferTargetError):
        _part(tmp_path / "folder", "x")  # the rename fails: a folder is in the way
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "folder"]
    with pytest.raises(RuntimeError):
        _fails_before_open(PartFile(target))
    assert target.read_bytes() == b"old"


def test_a_taken_or_planted_temporary_name_is_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    names = iter(["planted", "planted", "free"])
    monkeypatch.setattr("kkorthanc._util.atomic_file.secrets.token_hex", lambda _: next(names))
    (tmp_path / ".a.txt.planted.part").symlink_to(victim)
    with AtomicFile(tmp_path / "a.txt") as stream:
        stream.write(b"a")
    assert victim.read_text() == "keep me"
    assert (tmp_path / "a.txt").read_bytes() == b"a"


def test_fsync_is_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr("kkorthanc._util.atomic_file.os.fsync", synced.append)
    with AtomicFile(tmp_path / "a") as stream:
        stream.write(b"a")
    assert synced == []
    write_private_file(tmp_path / "profiles.toml", "x")
    assert len(synced) == 1


def _broken(writer: AtomicFile) -> None:
    with writer as stream:
        stream.write(b"half")
        raise RuntimeError("broken")


def _fails_before_open(part: PartFile) -> None:
    with part:
        raise RuntimeError("the server answered an error before the file was opened")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, text: str) -> None:
    with AtomicFile(path) as stream:
        stream.write(text.encode())


def _part(path: Path, text: str) -> None:
    with PartFile(path) as part:
        part.open().write(text.encode())
