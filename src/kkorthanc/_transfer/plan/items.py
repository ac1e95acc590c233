"""One upload candidate (:class:`Item`), how its kind is told from its first bytes, and how a
local file is opened without ever blocking or following a swapped-in file."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from ..._dicom.ids import ResourceIds
from .report import TransferOutcome, UploadRecord

__all__ = [
    "CHUNK",
    "HEAD",
    "SMALL_FILE",
    "FileChangedError",
    "Item",
    "NotRegularFileError",
    "failed",
    "open_regular",
    "sniff",
]

SMALL_FILE = 512 * 1024  # read whole; larger bodies are streamed in chunks
CHUNK = 256 * 1024
HEAD = 64 * 1024  # what is read to tell a file's kind and its identifiers

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO or device swapped in never blocks the open
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FileChangedError(OSError):
    """A local file changed (size, or which file a path names) while it was being sent."""


class NotRegularFileError(OSError):
    """A path names a FIFO, a device, a socket or a folder where a regular file was expected."""


@dataclass
class Item:
    """One file to upload (or to report without sending, when ``problem`` is set).

    Exactly one of ``path`` (streamed from disk), ``data`` (in memory) and ``spool`` (a
    spooled temporary file owned by the item) holds the body, unless ``problem`` is set. A
    file from disk keeps its ``identity`` (device, inode) as seen when it was found: it is
    opened again only if the path still names that same regular file. ``resumed`` is the
    record a resume report gives it, skipped only once the server confirms the instance.
    ``headerless`` marks a dataset without preamble and file meta header, sent as it is (a
    copy with a header is made only if the server refuses it); ``warnings`` holds what
    pydicom warned about while reading it.
    """

    source: str
    size: int | None = None
    path: Path | None = None
    data: bytes | None = None
    spool: IO[bytes] | None = None
    ids: ResourceIds | None = None
    series_instance_uid: str = ""
    problem: TransferOutcome | None = None
    detail: str | None = None
    identity: tuple[int, int] | None = None
    resumed: UploadRecord | None = None
    headerless: bool = False
    warnings: list[str] = field(default_factory=list)

    def read_small(self) -> bytes:
        """The whole body, for bodies up to :data:`SMALL_FILE` (or in memory already)."""
        if self.data is not None:
            return self.data
        if self.spool is not None:
            self.spool.seek(0)
            return self.spool.read()
        with self.open_file() as stream:
            return stream.read()

    def open_file(self) -> BinaryIO:
        """Open the item's file again, checking it is still the file found by the walk.

        Raises:
            FileChangedError: The path names another file now.
            OSError: The file cannot be opened.
        """
        assert self.path is not None
        stream, _ = open_regular(self.path, identity=self.identity)
        return stream

    def is_small(self) -> bool:
        """Whether the body is read whole rather than streamed."""
        return self.data is not None or (self.size is not None and self.size <= SMALL_FILE)

    def close(self) -> None:
        """Release the spooled body, if any."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None
        self.data = None


def open_regular(
    path: str | os.PathLike[str],
    *,
    follow: bool = True,
    dir_fd: int | None = None,
    identity: tuple[int, int] | None = None,
) -> tuple[BinaryIO, os.stat_result]:
    """Open a regular file for reading, never blocking: FIFOs and devices are refused after a
    non-blocking open, before any read.

    Args:
        path: The file (relative to ``dir_fd`` when given).
        follow: Follow a symbolic link in the last component (False: refuse it, ``ELOOP``).
        dir_fd: A folder's descriptor ``path`` is relative to.
        identity: The (device, inode) the file must still have.

    Returns:
        The open binary stream and its ``fstat``.

    Raises:
        NotRegularFileError: Not a regular file (a FIFO, device, socket, folder).
        FileChangedError: Not the file of ``identity``.
        OSError: It cannot be opened (``ELOOP`` for a refused link).

    Example:
        >>> stream, info = open_regular("scan.dcm")  # doctest: +SKIP
    """
    flags = _OPEN_FLAGS | (0 if follow else _NOFOLLOW)
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(f"{_kind(info.st_mode)}, not a regular file: not read")
        if identity is not None and (info.st_dev, info.st_ino) != identity:
            raise FileChangedError(f"{os.fspath(path)} was replaced by another file")
        return os.fdopen(fd, "rb"), info
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a folder" if stat.S_ISDIR(mode) else "a special file"


def failed(source: str, error: BaseException) -> Item:
    """The item of a file (or archive) that could not be read."""
    detail = f"cannot read: {type(error).__name__}: {error}"
    return Item(source, problem=TransferOutcome.FAILED, detail=detail)


def sniff(head: bytes) -> str:
    """Name the kind of content from its first bytes.

    Returns:
        ``"dicom"``, ``"zip"``, ``"tar"``, ``"gzip"``, ``"bzip2"``, ``"xz"``, ``"raw"`` (maybe
        a DICOM dataset without preamble: an implicit or explicit VR little-endian start in
        group 0002 or 0008) or ``"other"``.

    Example:
        >>> sniff(b"\\0" * 128 + b"DICM")
        'dicom'
    """
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00") and head[2:4] < b"\x20\x00":
        return "raw"
    return "other"


_MAGIC = [
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
]
