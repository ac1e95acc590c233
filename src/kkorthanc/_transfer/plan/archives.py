"""Reading upload archives as streams, within :class:`~._limits.ArchiveLimits`.

Zip, tar, gzip, bzip2 and xz (and their tar combinations) are read member by member; no member
is ever extracted by name. A member's first bytes tell its kind: one that is neither DICOM, nor a
preamble-less dataset, nor an archive is reported ``not_dicom`` without reading the rest. The
others are spooled (a small buffer that spills to a temporary file) and handed back to the
caller's ``emit``, which may open them as nested archives. Every byte read out of an archive is
counted in the :class:`~._limits.Expansion` of the archive given to ``upload``; declared sizes
(zip members, tar headers) are checked before reading, so bombs are refused from their headers.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from .items import CHUNK, HEAD, Item, failed, sniff
from .limits import ArchiveLimitError, ArchiveLimits, Expansion
from .report import TransferOutcome

__all__ = ["ARCHIVE_KINDS", "Reading", "archive_items", "new_spool", "not_dicom", "spool"]

ARCHIVE_KINDS = frozenset({"zip", "tar", "gzip", "bzip2", "xz"})
_SPOOL_IN_MEMORY = 1024 * 1024
_READ_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, lzma.LZMAError)
_NOTHING: tuple[type[BaseException], ...] = ()


@dataclass(frozen=True)
class Reading:
    """Where a member is read: the account of the archive given to ``upload``, and how many
    archives deep (1: a member of that archive)."""

    expansion: Expansion
    depth: int


Emit = Callable[[str, IO[bytes], Reading], Iterator[Item]]


def archive_items(
    kind: str,
    label: str,
    stream: IO[bytes],
    *,
    limits: ArchiveLimits,
    reading: Reading | None,
    emit: Emit,
) -> Iterator[Item]:
    """The items of an archive: its members, or one ``rejected`` item when it crosses a limit.

    Args:
        kind: What :func:`~._items.sniff` said (``"zip"``, ``"tar"``, ``"gzip"``...).
        label: The archive's source label.
        stream: The archive, seekable.
        limits: The limits of an archive given to ``upload``.
        reading: The account of the enclosing archive, or None for an archive given to upload.
        emit: Turns a spooled member into items (may call back here for nested archives).
    """
    if reading is not None:
        yield from _open(kind, label, stream, reading, emit)
        return
    size = stream.seek(0, 2)
    stream.seek(0)
    try:
        yield from _open(kind, label, stream, Reading(Expansion(limits, size), 0), emit)
    except ArchiveLimitError as error:
        detail = f"archive refused: it {error}; the rest of it is not read"
        yield Item(label, problem=TransferOutcome.REJECTED, detail=detail)


def _open(kind: str, label: str, stream: IO[bytes], reading: Reading, emit: Emit) -> Iterator[Item]:
    inner = Reading(reading.expansion, reading.depth + 1)
    reading.expansion.enter(inner.depth, label)
    if kind == "zip":
        yield from _zip_items(label, stream, inner, emit)
    elif kind == "tar":
        yield from _tar_items(label, stream, inner, emit)
    else:
        yield from _compressed_items(label, stream, inner, emit)


class _Counted:
    """A readable stream whose bytes are counted in an archive's expansion as they are read."""

    def __init__(self, stream: Any, expansion: Expansion, where: str) -> None:
        self._stream = stream
        self._expansion = expansion
        self._where = where

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        self._expansion.add_bytes(len(data), self._where)
        return data

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def new_spool() -> IO[bytes]:
    """A temporary file that stays in memory up to 1 MiB."""
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)


def spool(head: bytes, stream: Any) -> IO[bytes]:
    """``head`` and the rest of ``stream``, copied to a new spool (rewound)."""
    target = new_spool()
    try:
        target.write(head)
        while chunk := stream.read(CHUNK):
            target.write(chunk)
    except BaseException:
        target.close()
        raise
    target.seek(0)
    return target


def not_dicom(label: str, head: bytes) -> Item:
    """The item of content that is not DICOM, told from its first bytes."""
    detail = "no DICOM header (DICM)" if head else "empty file"
    return Item(
        label, size=0 if not head else None, problem=TransferOutcome.NOT_DICOM, detail=detail
    )


def _member(
    name: str,
    stream: Any,
    reading: Reading,
    emit: Emit,
    errors: tuple[type[BaseException], ...] = _READ_ERRORS,
) -> Iterator[Item]:
    """One member: ``not_dicom`` from its first bytes, or spooled and emitted. Read errors in
    ``errors`` make a ``failed`` item; others go to the archive's reader."""
    try:
        with stream:
            head = stream.read(HEAD)
            body = None if sniff(head) == "other" else spool(head, stream)
    except errors as error:
        yield failed(name, error)
        return
    if body is None:
        yield not_dicom(name, head)
    else:
        yield from emit(name, body, reading)


def _zip_items(label: str, stream: IO[bytes], reading: Reading, emit: Emit) -> Iterator[Item]:
    try:
        archive = zipfile.ZipFile(stream)
        everything = archive.infolist()
    except _READ_ERRORS as error:
        yield failed(label, error)
        return
    with archive:
        members = [info for info in everything if not info.is_dir()]
        reading.expansion.add_members(len(everything), label)
        reading.expansion.ahead(sum(info.file_size for info in members), label)
        for info in members:
            name = f"{label}!{info.filename}"
            try:
                member = archive.open(info)
            except (*_READ_ERRORS, NotImplementedError, RuntimeError) as error:
                yield failed(name, error)
                continue
            yield from _member(name, _Counted(member, reading.expansion, name), reading, emit)


def _tar_items(label: str, stream: Any, reading: Reading, emit: Emit) -> Iterator[Item]:
    """A tar stream (already decompressed): every byte tarfile reads is counted, headers too
    (a huge pax header is read into memory), and a sparse member counts its full size."""
    expansion = reading.expansion
    try:
        counted = cast("IO[bytes]", _Counted(stream, expansion, label))
        with tarfile.open(fileobj=counted, mode="r|") as archive:
            while (member := archive.next()) is not None:
                archive.members.clear()  # type: ignore[attr-defined]  # it keeps every header
                name = f"{label}!{member.name}"
                expansion.add_members(1, name)
                if not member.isfile():
                    continue
                if member.issparse():  # its holes are never read from the stream
                    expansion.add_bytes(member.size, name)
                else:
                    expansion.ahead(member.size, name)
                extracted = archive.extractfile(member)
                if extracted is not None:
                    yield from _member(name, extracted, reading, emit, _NOTHING)
    except (tarfile.TarError, *_READ_ERRORS) as error:
        yield failed(label, error)


def _compressed_items(
    label: str, stream: IO[bytes], reading: Reading, emit: Emit
) -> Iterator[Item]:
    """A gzip, bzip2 or xz stream: a compressed tar, or one compressed file."""
    tar = _is_compressed_tar(stream)
    try:
        decompressed = _decompressor(stream)
    except _READ_ERRORS as error:
        yield failed(label, error)
        return
    if tar:
        with decompressed:
            yield from _tar_items(label, decompressed, reading, emit)
    else:
        counted = _Counted(decompressed, reading.expansion, label)
        yield from _member(label, counted, reading, emit)


def _is_compressed_tar(stream: IO[bytes]) -> bool:
    try:
        with _decompressor(stream) as decompressed:
            head = decompressed.read(512)
    except _READ_ERRORS:
        return False
    finally:
        stream.seek(0)
    return len(head) >= 262 and head[257:262] == b"ustar"


def _decompressor(stream: IO[bytes]) -> Any:
    head = stream.read(6)
    stream.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(stream, mode="rb")
    return lzma.LZMAFile(stream, mode="rb")
