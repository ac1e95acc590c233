"""Whether a file already at a download's target holds what the server has, decided from content.

A file at the target is never trusted for existing: an instance file must have the server's MD5,
an archive must hold exactly the resource's instances (Orthanc IDs read from the members' headers,
sizes from the ZIP directory) and be of the kind asked for (a media archive has a ``DICOMDIR``, a
plain one has none). An archive of the same kind holding only some of the resource's instances
(nothing else) is an older download of it, made before the resource gained instances: it is
replaced, as nothing in it is lost. Anything else is a conflict the caller reports, not a skip.

An export keeps a small manifest (``.kkorthanc-export.json`` in its folder, 0600): for every file
it wrote or verified, the instance, the server's attachment (``FileUuid``), the MD5 and the file's
stamp (size, inode, modification and change times in nanoseconds). A re-run skips a file whose
stamp is unchanged without reading it; any write, rename or ``touch`` changes the change time,
which no user can set, so a forged file of the same size is hashed and compared again.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import stat
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..._dicom.ids import orthanc_ids
from ..._util.atomic_file import AtomicFile
from ...errors import OrthancInputError

__all__ = [
    "MANIFEST_NAME",
    "Action",
    "ExportManifest",
    "Verdict",
    "absent",
    "archive_verdict",
    "compare_md5",
    "conflict_detail",
    "decide",
    "expected_sizes",
    "export_verdict",
    "hash_file",
    "local_verdict",
    "settle",
]

MANIFEST_NAME = ".kkorthanc-export.json"
_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1024 * 1024


class Verdict(enum.Enum):
    """What is at a target: nothing, the server's content, an older archive of the resource,
    something else, or not known yet."""

    ABSENT = "absent"
    SAME = "same"
    STALE = "stale"  # an archive of some of the resource's instances, nothing else: replace it
    DIFFERENT = "different"
    UNKNOWN = "unknown"  # a regular file of the right size: compare MD5s


class Action(enum.Enum):
    """What a download does with its target."""

    DOWNLOAD = "download"
    SKIP = "skip"
    CONFLICT = "conflict"


def decide(verdict: Verdict, *, skip_existing: bool, overwrite: bool) -> Action:
    """The action for a target once its verdict is known (never ``UNKNOWN``).

    Example:
        >>> decide(Verdict.DIFFERENT, skip_existing=True, overwrite=False)
        <Action.CONFLICT: 'conflict'>
        >>> decide(Verdict.STALE, skip_existing=True, overwrite=False)
        <Action.DOWNLOAD: 'download'>
    """
    if verdict in (Verdict.ABSENT, Verdict.STALE):
        return Action.DOWNLOAD
    if verdict is Verdict.SAME:
        return Action.SKIP if skip_existing else Action.DOWNLOAD
    return Action.DOWNLOAD if overwrite else Action.CONFLICT


def conflict_detail(path: Path, what: str) -> str:
    """The detail of a conflict record."""
    return (
        f"{path} already exists and is not {what}; it was left as it is "
        "(overwrite=True or --overwrite replaces it)"
    )


def absent(path: Path) -> bool:
    """Whether nothing at all (not even a dangling link) is at ``path``."""
    return not os.path.lexists(path)


def _open_regular(path: Path) -> tuple[IO[bytes], os.stat_result] | None:
    """Open an existing regular file without following links or blocking; None if not one."""
    try:
        descriptor = os.open(path, _READ)
    except OSError:
        return None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        return None
    return os.fdopen(descriptor, "rb"), status


def hash_file(path: Path) -> tuple[str, os.stat_result] | None:
    """The MD5 (hex) and the stamp of a regular file, or None when it is not one.

    Example:
        >>> hash_file(Path("a.dcm"))  # doctest: +SKIP
        ('ccf71ca6735bc1c52fbe33e29eb42886', os.stat_result(...))
    """
    opened = _open_regular(path)
    if opened is None:
        return None
    stream, status = opened
    digest = hashlib.md5(usedforsecurity=False)
    with stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), status


def _stamp(status: os.stat_result) -> list[int]:
    return [status.st_size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns]


def local_verdict(path: Path, size: int | None) -> tuple[Verdict, os.stat_result | None]:
    """What a look at the file tells, without reading it: ABSENT, DIFFERENT (not a regular
    file, or not the server's size), else UNKNOWN (compare MD5s)."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return Verdict.ABSENT, None
    except OSError:
        return Verdict.DIFFERENT, None
    if not stat.S_ISREG(status.st_mode):
        return Verdict.DIFFERENT, status
    if size is not None and status.st_size != size:
        return Verdict.DIFFERENT, status
    return Verdict.UNKNOWN, status


def compare_md5(path: Path, server_md5: str) -> tuple[Verdict, str | None, os.stat_result | None]:
    """Hash the file at ``path`` and compare with the server's MD5: the verdict, the MD5 when
    the same, and the stamp of the file hashed."""
    hashed = hash_file(path)
    if hashed is None:
        return Verdict.DIFFERENT, None, None
    md5, status = hashed
    if md5.lower() != server_md5.strip().lower():
        return Verdict.DIFFERENT, None, status
    return Verdict.SAME, md5, status


def expected_sizes(instances: list[Mapping[str, Any]]) -> dict[str, int | None]:
    """Orthanc ID to file size, from instance objects as the server lists them."""
    return {
        str(one["ID"]): one["FileSize"] if isinstance(one.get("FileSize"), int) else None
        for one in instances
    }


@dataclass(frozen=True)
class ManifestKey:
    """What a manifest entry is about: the file, its instance and the server's attachment."""

    relative: str
    orthanc_id: str
    file_uuid: str | None


class ExportManifest:
    """The MD5s and stamps of the files an export wrote or verified (thread-safe).

    Example:
        >>> manifest = ExportManifest(Path("out"))  # doctest: +SKIP
        >>> manifest.save()  # doctest: +SKIP
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / MANIFEST_NAME
        self._entries = _load(self.path)
        self._lock = threading.Lock()
        self._changed = False

    def key(self, path: Path, orthanc_id: str, file_uuid: str | None) -> ManifestKey:
        """The key of one exported file."""
        return ManifestKey(os.path.relpath(path, self.root), orthanc_id, file_uuid)

    def md5(self, key: ManifestKey, status: os.stat_result | None) -> str | None:
        """The MD5 recorded for this file, if the entry matches the file as it is now."""
        entry = self._entries.get(key.relative)
        if status is None or not isinstance(entry, dict) or key.file_uuid is None:
            return None
        if [entry.get("id"), entry.get("uuid"), entry.get("stamp")] != [
            key.orthanc_id,
            key.file_uuid,
            _stamp(status),
        ]:
            return None
        md5 = entry.get("md5")
        return md5 if isinstance(md5, str) else None

    def note(self, key: ManifestKey, md5: str, status: os.stat_result) -> None:
        """Record a file written (or verified) with this MD5 and stamp."""
        entry = {"id": key.orthanc_id, "uuid": key.file_uuid, "md5": md5, "stamp": _stamp(status)}
        with self._lock:
            self._entries[key.relative] = entry
            self._changed = True

    def save(self) -> None:
        """Write the manifest (0600, atomically) if anything changed.

        Raises:
            OSError: It cannot be written.
        """
        with self._lock:
            if not self._changed:
                return
            text = json.dumps({"version": 1, "files": self._entries}, separators=(",", ":"))
            with AtomicFile(self.path) as stream:
                stream.write(text.encode("utf-8"))
            self._changed = False


def _load(path: Path) -> dict[str, Any]:
    """The entries of a manifest; none when it is missing, not a regular file or not ours (it
    is only a shortcut: without it every existing file is hashed and compared)."""
    opened = _open_regular(path)
    if opened is None:
        return {}
    stream, _ = opened
    with stream:
        try:
            raw = json.loads(stream.read().decode("utf-8"))
        except ValueError:
            return {}
    files = raw.get("files") if isinstance(raw, dict) and raw.get("version") == 1 else None
    return dict(files) if isinstance(files, dict) else {}


def archive_verdict(path: Path, expected: Mapping[str, int | None], media: bool) -> Verdict:
    """Whether the ZIP at ``path`` holds exactly the instances ``expected`` (Orthanc ID to file
    size) in an archive of the kind asked for: SAME; only some of them and nothing else: STALE
    (an older archive of the resource); anything else: DIFFERENT. Sizes are checked from the
    ZIP directory before any member is read, then the IDs computed from each member's header.

    Example:
        >>> archive_verdict(Path("study.zip"), {"f689ddd2-...": 39206}, False)  # doctest: +SKIP
        <Verdict.SAME: 'same'>
    """
    opened = _open_regular(path) if os.path.lexists(path) else None
    if opened is None:
        return Verdict.DIFFERENT if os.path.lexists(path) else Verdict.ABSENT
    stream, _ = opened
    with stream:
        try:
            with zipfile.ZipFile(stream) as archive:
                found = _archive_instances(archive, expected, media)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
            return Verdict.DIFFERENT
    if not found:
        return Verdict.DIFFERENT
    return Verdict.SAME if len(found) == len(expected) else Verdict.STALE


def _is_dicomdir(info: zipfile.ZipInfo) -> bool:
    return os.path.basename(info.filename) == "DICOMDIR"


def _archive_instances(
    archive: zipfile.ZipFile, expected: Mapping[str, int | None], media: bool
) -> dict[str, int] | None:
    """The instances of the archive (ID to size), or None unless every member is one of the
    ``expected`` instances with its size, each once, and the archive is of the kind asked for
    (one ``DICOMDIR`` in a media archive, none in a plain one)."""
    members = [info for info in archive.infolist() if not info.is_dir()]
    if sum(map(_is_dicomdir, members)) != (1 if media else 0):
        return None  # the other kind of archive (or not one the server made)
    members = [info for info in members if not _is_dicomdir(info)]
    sizes = set(expected.values())
    if len(members) > len(expected) or any(info.file_size not in sizes for info in members):
        return None  # checked before any member is read: bounded by what the server holds
    found: dict[str, int] = {}
    for info in members:
        try:
            with archive.open(info) as member:
                instance = orthanc_ids(member).instance
        except OrthancInputError:
            return None
        if instance in found or expected.get(instance) != info.file_size:
            return None
        found[instance] = info.file_size
    return found


def export_verdict(
    manifest: ExportManifest, key: ManifestKey, size: int | None, path: Path
) -> tuple[Verdict, str | None]:
    """The verdict on an exported file without asking the server: SAME (with its MD5) only when
    the manifest has an entry for this instance, attachment and unchanged stamp."""
    verdict, status = local_verdict(path, size)
    if verdict is Verdict.UNKNOWN:
        md5 = manifest.md5(key, status)
        if md5 is not None:
            return Verdict.SAME, md5
    return verdict, None


def settle(
    manifest: ExportManifest, key: ManifestKey, path: Path, server_md5: str
) -> tuple[Verdict, str | None]:
    """Compare an exported file with the server's MD5; a match goes into the manifest."""
    verdict, md5, status = compare_md5(path, server_md5)
    if md5 is not None and status is not None:
        manifest.note(key, md5, status)
    return verdict, md5
