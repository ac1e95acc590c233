"""Turning what the caller gives to ``upload`` into DICOM candidates: walking, sniffing, archives.

Pure local I/O, no network. Files are recognised by content (the ``DICM`` mark after the 128-byte
preamble, or a preamble-less dataset pydicom reads), never by extension. Archives (zip, tar,
gzip, bzip2, xz and their tar combinations) are read as streams: each member is spooled through a
small buffer that spills to a temporary file, so memory does not grow with archive or member size.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .._ids import ResourceIds, orthanc_id, orthanc_ids
from .._lazy import is_dataset
from ..errors import OrthancInputError
from ._fastids import fast_identifiers
from ._report import TransferOutcome

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["SMALL_FILE", "Item", "UploadSource", "iter_items", "scan_totals"]

SMALL_FILE = 512 * 1024  # read whole; larger bodies are streamed in chunks
CHUNK = 256 * 1024
_SPOOL_IN_MEMORY = 1024 * 1024
_HEAD = 64 * 1024

UploadSource = Any  # str | PathLike | bytes | IO[bytes] | Dataset | list of these


@dataclass
class Item:
    """One file to upload (or to report without sending, when ``problem`` is set).

    Exactly one of ``path`` (streamed from disk), ``data`` (in memory) and ``spool`` (a
    spooled temporary file owned by the item) holds the body, unless ``problem`` is set.
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

    def read_small(self) -> bytes:
        """The whole body, for bodies up to :data:`SMALL_FILE` (or in memory already)."""
        if self.data is not None:
            return self.data
        if self.spool is not None:
            self.spool.seek(0)
            return self.spool.read()
        assert self.path is not None
        with self.path.open("rb") as stream:
            return stream.read()

    def is_small(self) -> bool:
        """Whether the body is read whole rather than streamed."""
        return self.data is not None or (self.size is not None and self.size <= SMALL_FILE)

    def close(self) -> None:
        """Release the spooled body, if any."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None
        self.data = None


def iter_items(sources: Any, *, include_hidden: bool = False) -> Iterator[Item]:
    """Yield one :class:`Item` per file found in ``sources`` (recursively, archives expanded).

    Raises:
        OrthancInputError: A source of a type that cannot be uploaded, or a path that does not
            exist (given directly: files that vanish during a walk become ``failed`` items).
    """
    counter = _Counter()
    for source in _flatten(sources):
        yield from _items_of(source, counter, include_hidden)


class _Counter:
    def __init__(self) -> None:
        self.value = 0

    def label(self, kind: str) -> str:
        self.value += 1
        return f"<{kind} {self.value}>"


def _flatten(sources: Any) -> Iterator[Any]:
    if isinstance(sources, (list, tuple)):
        for source in sources:
            yield from _flatten(source)
    else:
        yield sources


def _items_of(source: Any, counter: _Counter, include_hidden: bool) -> Iterator[Item]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists() and not path.is_symlink():
            raise OrthancInputError(f"nothing to upload at {str(path)!r}: no such file or folder")
        yield from _walk(path, include_hidden, set())
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield from _from_stream(counter.label("bytes"), io.BytesIO(bytes(source)))
    elif is_dataset(source):
        yield from _from_dataset(source, counter.label("dataset"))
    elif hasattr(source, "read"):
        label = str(getattr(source, "name", "") or counter.label("stream"))
        yield from _from_stream(label, _spool_from(source))
    else:
        raise OrthancInputError(
            f"cannot upload a {type(source).__name__}: give paths, bytes, binary file objects, "
            "pydicom datasets, or a list of these"
        )


def _from_dataset(dataset: Dataset, label: str) -> Iterator[Item]:
    import pydicom

    buffer = io.BytesIO()
    try:
        pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    except (ValueError, AttributeError, TypeError) as error:
        yield Item(label, problem=TransferOutcome.NOT_DICOM, detail=f"cannot encode: {error}")
        return
    data = buffer.getvalue()
    yield _identified(Item(label, size=len(data), data=data), io.BytesIO(data))


def _walk(path: Path, include_hidden: bool, seen: set[tuple[int, int]]) -> Iterator[Item]:
    try:
        info = path.stat()
    except OSError as error:
        yield _failed(str(path), error)
        return
    if stat.S_ISDIR(info.st_mode):
        key = (info.st_dev, info.st_ino)
        if key in seen:  # a symlink loop, or the same folder reached twice
            return
        seen.add(key)
        yield from _walk_dir(path, include_hidden, seen)
    elif stat.S_ISREG(info.st_mode):
        yield from _from_file(path, info.st_size)
    else:
        kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        yield Item(str(path), problem=TransferOutcome.NOT_DICOM, detail=kind)


def _walk_dir(path: Path, include_hidden: bool, seen: set[tuple[int, int]]) -> Iterator[Item]:
    try:
        with os.scandir(path) as scan:
            names = sorted(entry.name for entry in scan)
    except OSError as error:  # vanished, or not readable
        yield _failed(str(path), error)
        return
    for name in names:
        if include_hidden or not name.startswith("."):
            yield from _walk(path / name, include_hidden, seen)


def _failed(source: str, error: BaseException) -> Item:
    detail = f"cannot read: {type(error).__name__}: {error}"
    return Item(source, problem=TransferOutcome.FAILED, detail=detail)


def _from_file(path: Path, size: int) -> Iterator[Item]:
    label = str(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(_HEAD)
            kind = sniff(head)
            if kind == "dicom":
                yield _identified(Item(label, size=size, path=path), path, head)
            elif kind in _ARCHIVES:
                stream.seek(0)
                yield from _ARCHIVES[kind](label, stream)
            else:
                yield _not_dicom_or_raw(label, head, stream)
    except OSError as error:
        yield _failed(label, error)


def _from_stream(label: str, stream: IO[bytes]) -> Iterator[Item]:
    """Sniff a seekable stream; the item takes ownership of it when it is a DICOM file."""
    try:
        head = stream.read(_HEAD)
        kind = sniff(head)
        stream.seek(0)
        if kind == "dicom":
            yield _in_memory_or_spooled(label, stream)
            return
        if kind in _ARCHIVES:
            yield from _ARCHIVES[kind](label, stream)
        else:
            yield _not_dicom_or_raw(label, head, stream)
        stream.close()
    except OSError as error:
        yield _failed(label, error)


def _in_memory_or_spooled(label: str, stream: IO[bytes]) -> Item:
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    item = _identified(Item(label, size=size), stream, stream.read(_HEAD))
    stream.seek(0)
    if size <= SMALL_FILE:
        item.data = stream.read()
        stream.close()
    else:
        item.spool = stream
    return item


def sniff(head: bytes) -> str:
    """Name the kind of content from its first bytes.

    Returns:
        ``"dicom"``, ``"zip"``, ``"tar"``, ``"gzip"``, ``"bzip2"``, ``"xz"``, ``"raw"`` (maybe
        a DICOM dataset without preamble) or ``"other"``.

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


def _not_dicom_or_raw(label: str, head: bytes, stream: IO[bytes]) -> Item:
    """A preamble-less dataset is rewritten as a DICOM file; anything else is not DICOM."""
    if not head:
        return Item(label, size=0, problem=TransferOutcome.NOT_DICOM, detail="empty file")
    if sniff(head) == "raw":
        stream.seek(0)
        item = _rewrite_raw(label, stream)
        if item is not None:
            return item
    return Item(label, problem=TransferOutcome.NOT_DICOM, detail="no DICOM header (DICM)")


def _rewrite_raw(label: str, stream: IO[bytes]) -> Item | None:
    import pydicom

    try:
        dataset = pydicom.dcmread(stream, force=True)
        if "SOPInstanceUID" not in dataset or "SOPClassUID" not in dataset:
            return None
        _add_file_meta(dataset)
        buffer = io.BytesIO()
        pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    except (ValueError, KeyError, TypeError, AttributeError, EOFError, NotImplementedError):
        return None
    data = buffer.getvalue()
    return _identified(Item(label, size=len(data), data=data), io.BytesIO(data))


def _add_file_meta(dataset: Dataset) -> None:
    """Give a dataset read without a header the file meta group a DICOM file needs."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    implicit, little = dataset.original_encoding
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    dataset.file_meta = meta


def _identified(item: Item, source: Path | IO[bytes], head: bytes = b"") -> Item:
    """Fill the item's Orthanc IDs from its header; leave None when the header lacks them (the
    server decides what such a file gets)."""
    fast = fast_identifiers(head) if head else None
    if fast is not None:
        uids = (fast["StudyInstanceUID"], fast["SeriesInstanceUID"], fast["SOPInstanceUID"])
        if all(uids):
            patient = fast["PatientID"]
            item.ids = ResourceIds(
                orthanc_id(patient), orthanc_id(patient, uids[0]),
                orthanc_id(patient, *uids[:2]), orthanc_id(patient, *uids),
            )  # fmt: skip
            item.series_instance_uid = uids[1]
            return item
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(source, stop_before_pixels=True, specific_tags=_ID_TAGS)
        item.ids = orthanc_ids(dataset)
        item.series_instance_uid = str(dataset.get("SeriesInstanceUID", "")).rstrip(" \x00")
    except (OrthancInputError, InvalidDicomError, EOFError, ValueError, KeyError, TypeError):
        item.ids = None
    except OSError:  # unreadable now: sending will tell
        item.ids = None
    return item


_ID_TAGS = ["SpecificCharacterSet", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
            "SOPInstanceUID"]  # fmt: skip


def _spool_from(stream: IO[bytes]) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        while chunk := stream.read(CHUNK):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _zip_items(label: str, stream: IO[bytes]) -> Iterator[Item]:
    try:
        archive = zipfile.ZipFile(stream)
        members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        yield _failed(label, error)
        return
    with archive:
        for info in members:
            name = f"{label}!{info.filename}"
            try:
                with archive.open(info) as member:
                    spool = _spool_from(member)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
                yield _failed(name, error)
                continue
            yield from _from_stream(name, spool)


def _tar_items(label: str, stream: IO[bytes]) -> Iterator[Item]:
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for member in archive:
                if member.isfile():
                    name = f"{label}!{member.name}"
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        yield from _from_stream(name, _spool_from(extracted))
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as error:
        yield _failed(label, error)


def _compressed_items(label: str, stream: IO[bytes]) -> Iterator[Item]:
    """A gzip, bzip2 or xz stream: a compressed tar, or one compressed file."""
    if _is_compressed_tar(stream):
        yield from _tar_items(label, stream)
        return
    stream.seek(0)
    try:
        spool = _spool_from(_decompressor(stream))
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as error:
        yield _failed(label, error)
        return
    yield from _from_stream(label, spool)


def _is_compressed_tar(stream: IO[bytes]) -> bool:
    try:
        with _decompressor(stream) as decompressed:
            head = decompressed.read(512)
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
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


_ARCHIVES = {
    "zip": _zip_items,
    "tar": _tar_items,
    "gzip": _compressed_items,
    "bzip2": _compressed_items,
    "xz": _compressed_items,
}


def scan_totals(sources: Any, *, include_hidden: bool = False) -> tuple[int, int] | None:
    """Count the files and bytes of path sources, without reading them (for progress totals).

    Returns None when some source is not a path (a count would be a guess).
    """
    files = size = 0
    for source in _flatten(sources):
        if not isinstance(source, (str, os.PathLike)):
            return None
        source = str(source)
        for root, dirs, names in os.walk(os.fspath(source)):
            if not include_hidden:
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                names = [n for n in names if not n.startswith(".")]
            for name in names:
                try:
                    size += os.stat(os.path.join(root, name)).st_size
                    files += 1
                except OSError:
                    files += 1
        if os.path.isfile(source):
            files, size = files + 1, size + os.path.getsize(source)
    return files, size
