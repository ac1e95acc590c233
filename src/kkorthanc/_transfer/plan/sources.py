"""Turning what the caller gives to ``upload`` into DICOM candidates: walking, sniffing, archives.

Pure local I/O, no network. Files are recognised by content (the ``DICM`` mark after the 128-byte
preamble, or a preamble-less dataset pydicom reads), never by extension. A preamble-less dataset
is sent as it is, byte for byte: :func:`rewritten` makes a copy with a file meta header only for
a server that refused the original. pydicom's warnings about a file go to its item
(:mod:`._caught`). Folders are walked by
:mod:`._localfiles` (links not followed, special files never read), archives read as streams by
:mod:`._archives`, within :class:`~._limits.ArchiveLimits`.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from ..._dicom.caught import caught_warnings
from ..._dicom.fastids import fast_identifiers
from ..._dicom.ids import ResourceIds, orthanc_id, orthanc_ids, read_header, read_identifiers
from ..._util.lazy import is_dataset
from ...errors import OrthancInputError
from .archives import ARCHIVE_KINDS, Reading, archive_items, not_dicom, spool
from .items import CHUNK, HEAD, SMALL_FILE, Item, failed, sniff
from .limits import ArchiveLimits
from .localfiles import walk
from .report import TransferOutcome

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "CHUNK",
    "SMALL_FILE",
    "Item",
    "SourceOptions",
    "UploadSource",
    "iter_items",
    "rewritten",
    "scan_totals",
    "sniff",
]

UploadSource = Any  # str | PathLike | bytes | IO[bytes] | Dataset | list of these


@dataclass(frozen=True)
class SourceOptions:
    """How sources are read: hidden files, links, archive limits."""

    include_hidden: bool = False
    follow_links: bool = False
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)


def iter_items(sources: Any, options: SourceOptions | None = None) -> Iterator[Item]:
    """Yield one :class:`Item` per file found in ``sources`` (recursively, archives expanded).

    Raises:
        OrthancInputError: A source of a type that cannot be uploaded, or a path that does not
            exist (given directly: files that vanish during a walk become ``failed`` items).
    """
    options = options or SourceOptions()
    counter = _Counter()
    for source in _flatten(sources):
        yield from _items_of(source, counter, options)


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


def _items_of(source: Any, counter: _Counter, options: SourceOptions) -> Iterator[Item]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists() and not path.is_symlink():
            raise OrthancInputError(f"nothing to upload at {str(path)!r}: no such file or folder")
        yield from walk(
            path,
            include_hidden=options.include_hidden,
            follow_links=options.follow_links,
            on_file=lambda label, found, stream, info: _from_file(
                label, found, stream, info, options
            ),
        )
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield from _from_stream(counter.label("bytes"), io.BytesIO(bytes(source)), options, None)
    elif is_dataset(source):
        yield from _from_dataset(source, counter.label("dataset"))
    elif hasattr(source, "read"):
        label = str(getattr(source, "name", "") or counter.label("stream"))
        yield from _from_stream(label, spool(b"", source), options, None)
    else:
        raise OrthancInputError(
            f"cannot upload a {type(source).__name__}: give paths, bytes, binary file objects, "
            "pydicom datasets, or a list of these"
        )


def _from_dataset(dataset: Dataset, label: str) -> Iterator[Item]:
    import pydicom

    buffer = io.BytesIO()
    found: list[str] = []
    try:
        with caught_warnings(label, found):
            pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    except (ValueError, AttributeError, TypeError) as error:
        detail = f"cannot encode: {error}"
        yield Item(label, problem=TransferOutcome.NOT_DICOM, detail=detail, warnings=found)
        return
    data = buffer.getvalue()
    yield _identified(Item(label, size=len(data), data=data, warnings=found), io.BytesIO(data))


def _from_file(
    label: str, path: Path, stream: BinaryIO, info: os.stat_result, options: SourceOptions
) -> Iterator[Item]:
    """The items of one regular file of a walk, open at offset 0."""
    try:
        head = stream.read(HEAD)
        kind = sniff(head)
        stream.seek(0)
        item = Item(label, size=info.st_size, path=path, identity=(info.st_dev, info.st_ino))
        if kind == "dicom":
            yield _identified(item, stream, head)
        elif kind in ARCHIVE_KINDS:
            yield from _archive(kind, label, stream, options, None)
        else:
            yield (_headerless(item, stream) if kind == "raw" else None) or not_dicom(label, head)
    except OSError as error:
        yield failed(label, error)


def _archive(
    kind: str, label: str, stream: IO[bytes], options: SourceOptions, reading: Reading | None
) -> Iterator[Item]:
    def emit(name: str, body: IO[bytes], inner: Reading) -> Iterator[Item]:
        return _from_stream(name, body, options, inner)

    yield from archive_items(kind, label, stream, limits=options.limits, reading=reading, emit=emit)


def _from_stream(
    label: str, stream: IO[bytes], options: SourceOptions, reading: Reading | None
) -> Iterator[Item]:
    """Sniff a seekable stream; the item takes ownership of it when it is a DICOM file."""
    try:
        head = stream.read(HEAD)
        kind = sniff(head)
        stream.seek(0)
        if kind == "dicom":
            yield _in_memory_or_spooled(label, stream)
            return
        raw = _headerless(Item(label), stream) if kind == "raw" else None
        if raw is not None:
            yield _holding(raw, stream)
            return
        with stream:  # closed even when an archive limit ends the walk of this archive
            if kind in ARCHIVE_KINDS:
                yield from _archive(kind, label, stream, options, reading)
            else:
                yield not_dicom(label, head)
    except OSError as error:
        yield failed(label, error)


def _in_memory_or_spooled(label: str, stream: IO[bytes]) -> Item:
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return _holding(_identified(Item(label, size=size), stream, stream.read(HEAD)), stream)


def _holding(item: Item, stream: IO[bytes]) -> Item:
    """The item takes the stream's bytes: read whole when small, else the stream itself."""
    item.size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if item.size <= SMALL_FILE:
        item.data = stream.read()
        stream.close()
    else:
        item.spool = stream
    return item


def _headerless(item: Item, stream: IO[bytes]) -> Item | None:
    """The item of a dataset without preamble and file meta header, with its IDs, to be sent
    as it is; None when pydicom reads no instance (SOP Class and Instance UIDs) from it."""
    import pydicom

    stream.seek(0)
    try:
        with caught_warnings(item.source, item.warnings):
            dataset = pydicom.dcmread(stream, force=True, stop_before_pixels=True)
            if "SOPInstanceUID" not in dataset or "SOPClassUID" not in dataset:
                return None
            _set_ids(item, dataset)
    except (ValueError, KeyError, TypeError, AttributeError, EOFError, NotImplementedError):
        return None
    finally:
        stream.seek(0)
    item.headerless = True
    return item


def rewritten(item: Item) -> Item | None:
    """A copy of a headerless item with the file meta group a DICOM file needs, for a server
    that refused the original; None when pydicom cannot make one.

    The copy has the item's source, IDs and warnings (pydicom's warnings while rewriting are
    added to them); its body is in memory.

    Example:
        >>> copy = rewritten(item)  # doctest: +SKIP
        >>> copy.data[128:132]  # doctest: +SKIP
        b'DICM'
    """
    import pydicom

    buffer = io.BytesIO()
    try:
        original = io.BytesIO(item.read_small())
        with caught_warnings(item.source, item.warnings):
            dataset = pydicom.dcmread(original, force=True)
            _add_file_meta(dataset)
            pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        EOFError,
        NotImplementedError,
    ):
        return None
    data = buffer.getvalue()
    return Item(
        item.source,
        size=len(data),
        data=data,
        ids=item.ids,
        series_instance_uid=item.series_instance_uid,
        warnings=item.warnings,
    )


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
                orthanc_id(patient),
                orthanc_id(patient, uids[0]),
                orthanc_id(patient, *uids[:2]),
                orthanc_id(patient, *uids),
            )
            item.series_instance_uid = uids[1]
            return item
    from pydicom.errors import InvalidDicomError

    try:  # the identifiers as the server stores them (a UN value keeps its trailing spaces)
        with caught_warnings(item.source, item.warnings):
            dataset = read_header(source)
            item.ids = orthanc_ids(dataset)
            item.series_instance_uid = read_identifiers(dataset)[2]
            _convert_identifiers(dataset)
    except (OrthancInputError, InvalidDicomError, EOFError, ValueError, KeyError, TypeError):
        item.ids = None
    except OSError:  # unreadable now: sending will tell
        item.ids = None
    return item


def _convert_identifiers(dataset: Dataset) -> None:
    """Let pydicom convert the identifiers, so that what it warns about them (an invalid UID)
    reaches the item's warnings: read_header leaves them raw and silent."""
    for keyword in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        dataset.get(keyword)


def _set_ids(item: Item, dataset: Dataset) -> None:
    """The item's Orthanc IDs from a dataset read by pydicom (None when it lacks a UID)."""
    try:
        item.ids = orthanc_ids(dataset)
        item.series_instance_uid = read_identifiers(dataset)[2]
    except OrthancInputError:
        item.ids = None


def scan_totals(sources: Any, options: SourceOptions | None = None) -> tuple[int, int] | None:
    """Count the files and bytes of path sources, without reading them (for progress totals).

    Links below the paths given are counted only when followed.

    Returns:
        ``(files, bytes)``, or None when some source is not a path (a count would be a guess).
    """
    options = options or SourceOptions()
    files = size = 0
    for source in _flatten(sources):
        if not isinstance(source, (str, os.PathLike)):
            return None
        for root, dirs, names in os.walk(os.fspath(source), followlinks=options.follow_links):
            if not options.include_hidden:
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                names = [n for n in names if not n.startswith(".")]
            for name in names:
                files, size = _counted(os.path.join(root, name), options, files, size)
        if os.path.isfile(source):
            files, size = files + 1, size + os.path.getsize(source)
    return files, size


def _counted(path: str, options: SourceOptions, files: int, size: int) -> tuple[int, int]:
    try:
        info = os.stat(path) if options.follow_links else os.lstat(path)
    except OSError:
        return files + 1, size
    return files + 1, size + (info.st_size if stat.S_ISREG(info.st_mode) else 0)
