"""What a transfer did to every file: outcomes, records, reports (JSON lines), progress."""

from __future__ import annotations

import enum
import errno
import json
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar, Union

from ..._util.atomic_file import PRIVATE_FILE, AtomicFile
from ...errors import OrthancInputError, TransferTargetError

__all__ = [
    "DownloadRecord",
    "DownloadReport",
    "ProgressCallback",
    "TransferOutcome",
    "TransferProgress",
    "UploadRecord",
    "UploadReport",
    "check_report_path",
    "open_report",
    "record_line",
]

# Opening a report: never through a link, never blocking on a FIFO with no reader (ENXIO).
_OPEN_REPORT = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_TRUNC
    | os.O_CLOEXEC
    | os.O_NONBLOCK
    | getattr(os, "O_NOFOLLOW", 0)
)


def _not_a_file(path: Path, what: str) -> TransferTargetError:
    return TransferTargetError(
        f"report file {path} is {what}: a report is written only to a regular file or a new "
        f"one, never through a link (it could point to any file); remove it or name another",
        path=str(path),
    )


def check_report_path(path: str | os.PathLike[str]) -> None:
    """Refuse a report path that is a symbolic link or anything but a regular file.

    A missing path is fine (the report will create it). Called before a transfer starts, so a
    planted link stops it before anything is sent or written.

    Raises:
        TransferTargetError: ``path`` is a symbolic link, a folder, a FIFO or a device.

    Example:
        >>> check_report_path("/tmp/new-report.jsonl")
    """
    target = Path(path)
    try:
        status = os.lstat(target)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode):
        raise _not_a_file(target, "a symbolic link")
    if not stat.S_ISREG(status.st_mode):
        raise _not_a_file(target, "not a regular file")


def open_report(path: str | os.PathLike[str]) -> TextIO:
    """Open a report file to write it line by line: emptied (or created 0600), UTF-8, and
    never through a symbolic link (``O_NOFOLLOW``), a FIFO or a device.

    Raises:
        TransferTargetError: ``path`` is a symbolic link or not a regular file.
        OSError: It cannot be opened for another reason.

    Example:
        >>> with open_report("/tmp/upload.jsonl") as stream:  # doctest: +SKIP
        ...     stream.write("{}\n")
    """
    target = Path(path)
    check_report_path(target)
    try:
        descriptor = os.open(target, _OPEN_REPORT, PRIVATE_FILE)
    except OSError as error:  # ELOOP (EMLINK on BSD): a link planted since the check
        if error.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO):  # ENXIO: a FIFO
            raise _not_a_file(target, "a symbolic link or not a regular file") from error
        raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise _not_a_file(target, "not a regular file")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "w", encoding="utf-8")


class TransferOutcome(str, enum.Enum):
    """What happened to one file of an upload, or one resource of a download.

    Upload outcomes: ``STORED``, ``ALREADY_STORED`` (sent, the server had it),
    ``SKIPPED_EXISTING`` (not sent: the server had it), ``NOT_DICOM``, ``REJECTED`` (the server
    refused it, or an archive crossed its :class:`~kkorthanc.ArchiveLimits`), ``FAILED`` (a
    transport or local error after retries), ``SKIPPED`` (not read: a symbolic link not
    followed, a FIFO, a device; the detail says why). Download outcomes:
    ``DOWNLOADED``, ``SKIPPED_EXISTING`` (the file there already had the server's content: same
    MD5, or for an archive the same instances), ``CONFLICT`` (another file is there: left as it
    is, not ``ok``; ``overwrite=True`` replaces it), ``FAILED``.

    Example:
        >>> TransferOutcome("stored") is TransferOutcome.STORED
        True
    """

    STORED = "stored"
    ALREADY_STORED = "already_stored"
    SKIPPED_EXISTING = "skipped_existing"
    NOT_DICOM = "not_dicom"
    REJECTED = "rejected"
    FAILED = "failed"
    SKIPPED = "skipped"
    DOWNLOADED = "downloaded"
    CONFLICT = "conflict"

    @property
    def ok(self) -> bool:
        """Whether the file or resource is where it should be now."""
        return self not in (
            TransferOutcome.REJECTED,
            TransferOutcome.FAILED,
            TransferOutcome.CONFLICT,
        )


# Upload outcomes after which the server holds the instance: a resumed upload skips them.
DONE_OUTCOMES = frozenset(
    {TransferOutcome.STORED, TransferOutcome.ALREADY_STORED, TransferOutcome.SKIPPED_EXISTING}
)


@dataclass(frozen=True)
class UploadRecord:
    """The outcome of one input file (or archive member) of an upload.

    Attributes:
        source: Where the file came from: a path, ``archive.zip!member.dcm``, ``<bytes 3>``...
        outcome: The :class:`TransferOutcome`.
        size: Its size in bytes, when known.
        instance_id: Its Orthanc ID (computed locally, or given by the server), when known.
        md5: The MD5 of the bytes sent, when sent with ``verify=True``.
        status_code: The HTTP status of a rejection.
        detail: Why it was rejected, failed or not DICOM.
        verified: True when the server's MD5 was checked and equal; None when not checked.
        rewritten: True when the server refused the file as it is (a dataset without preamble
            or file meta header) and a copy with a file meta header was sent instead: ``size``
            and ``md5`` then describe the copy, which is what the server holds.
        rewrite_reason: Why the copy was sent (the server's refusal of the original).
        carried_over: True when the record comes from the report given as ``resume=``: this
            run did not send the file, the server confirmed it has the instance.
        warnings: What pydicom warned about while reading the file (invalid values such as a
            malformed UID), in order; they are also logged on the ``kkorthanc`` logger.

    Example:
        >>> UploadRecord("a.dcm", TransferOutcome.STORED).outcome.ok
        True
    """

    source: str
    outcome: TransferOutcome
    size: int | None = None
    instance_id: str | None = None
    md5: str | None = None
    status_code: int | None = None
    detail: str | None = None
    verified: bool | None = None
    rewritten: bool = False
    rewrite_reason: str | None = None
    carried_over: bool = False
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.warnings, tuple):  # a list read back from a JSON line
            object.__setattr__(self, "warnings", tuple(self.warnings))


@dataclass(frozen=True)
class DownloadRecord:
    """The outcome of one resource of a download or export.

    Attributes:
        resource: The Orthanc ID of the resource downloaded.
        level: Its level (``"Instance"``, ``"Study"``...).
        path: The file written (or found complete), as a string.
        outcome: The :class:`TransferOutcome`.
        size: Bytes written or found.
        status_code: The HTTP status of a failure, when it came from the server.
        detail: Why it failed, or what the conflict is.
        md5: The MD5 of the instance file written or found identical (exports and instance
            downloads), when known.

    Example:
        >>> DownloadRecord("f689...", "Instance", "a.dcm", TransferOutcome.DOWNLOADED).outcome
        <TransferOutcome.DOWNLOADED: 'downloaded'>
    """

    resource: str
    level: str
    path: str
    outcome: TransferOutcome
    size: int | None = None
    status_code: int | None = None
    detail: str | None = None
    md5: str | None = None


RecordT = TypeVar("RecordT", UploadRecord, DownloadRecord)


def record_line(record: UploadRecord | DownloadRecord) -> str:
    """One line of a JSON-lines report (ending with a newline): the record's fields, without
    those that have their default value (None, False, nothing).

    Example:
        >>> record_line(UploadRecord("a.dcm", TransferOutcome.STORED, 12))
        '{"source": "a.dcm", "outcome": "stored", "size": 12}\\n'
    """
    defaults = {item.name: item.default for item in fields(record)}
    line = {key: value for key, value in asdict(record).items() if value != defaults[key]}
    line["outcome"] = record.outcome.value
    return json.dumps(line, ensure_ascii=False) + "\n"


@dataclass
class _Report(Generic[RecordT]):
    records: list[RecordT] = field(default_factory=list)

    def __iter__(self) -> Iterator[RecordT]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def counts(self) -> dict[str, int]:
        """How many records have each outcome, by outcome value (outcomes absent are left out)."""
        return dict(Counter(record.outcome.value for record in self.records))

    @property
    def ok(self) -> bool:
        """True when no record is ``rejected``, ``failed`` or ``conflict``."""
        return all(record.outcome.ok for record in self.records)

    def with_outcome(self, *outcomes: TransferOutcome | str) -> list[RecordT]:
        """The records whose outcome is one of ``outcomes``."""
        wanted = {TransferOutcome(outcome) for outcome in outcomes}
        return [record for record in self.records if record.outcome in wanted]

    def write_jsonl(self, path: str | os.PathLike[str]) -> None:
        """Write one JSON object per record, one per line (UTF-8), replacing ``path``.

        The lines go to a new private temporary file (0600) renamed over ``path``, so a
        reader never sees half a report; a symbolic link at ``path`` is refused, never
        followed.

        Raises:
            TransferTargetError: ``path`` is a symbolic link or not a regular file.
            OSError: The file cannot be written.

        Example:
            >>> report.write_jsonl("upload.jsonl")  # doctest: +SKIP
        """
        target = Path(path)
        check_report_path(target)
        with AtomicFile(target) as stream:
            for record in self.records:
                stream.write(record_line(record).encode("utf-8"))

    @classmethod
    def _read(cls, path: str | os.PathLike[str], record_type: type[RecordT]) -> list[RecordT]:
        names = {item.name for item in fields(record_type)}
        records = []
        with Path(path).open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                    raw["outcome"] = TransferOutcome(raw["outcome"])
                    records.append(record_type(**{k: v for k, v in raw.items() if k in names}))
                except (ValueError, KeyError, TypeError) as error:
                    message = f"{path}:{number}: not an upload report line: {error}"
                    raise OrthancInputError(message) from error
        return records


@dataclass
class UploadReport(_Report[UploadRecord]):
    """One :class:`UploadRecord` per input file, in the order they finished.

    Example:
        >>> report = client.upload("dicom_folder/")  # doctest: +SKIP
        >>> report.counts  # doctest: +SKIP
        {'stored': 120, 'not_dicom': 2}
        >>> report.write_jsonl("upload.jsonl")  # doctest: +SKIP
    """

    @classmethod
    def read_jsonl(cls, path: str | os.PathLike[str]) -> UploadReport:
        """Read a report written by :meth:`write_jsonl`, e.g. to resume an upload.

        Raises:
            OSError: The file cannot be read.
            OrthancInputError: A line is not a record.

        Example:
            >>> client.upload("dicom_folder/", resume=UploadReport.read_jsonl("u.jsonl"))
            ... # doctest: +SKIP
        """
        return cls(cls._read(path, UploadRecord))

    @property
    def instance_ids(self) -> list[str]:
        """The Orthanc IDs of the instances the server holds after this upload."""
        return [
            record.instance_id
            for record in self.records
            if record.outcome in DONE_OUTCOMES and record.instance_id
        ]


@dataclass
class DownloadReport(_Report[DownloadRecord]):
    """One :class:`DownloadRecord` per resource downloaded or exported.

    Example:
        >>> report = client.export([study], "out/")  # doctest: +SKIP
        >>> report.counts  # doctest: +SKIP
        {'downloaded': 36}
    """

    @classmethod
    def read_jsonl(cls, path: str | os.PathLike[str]) -> DownloadReport:
        """Read a report written by :meth:`write_jsonl`.

        Raises:
            OSError: The file cannot be read.
            OrthancInputError: A line is not a record.

        Example:
            >>> DownloadReport.read_jsonl("export.jsonl").counts  # doctest: +SKIP
        """
        return cls(cls._read(path, DownloadRecord))


@dataclass(frozen=True)
class TransferProgress:
    """A snapshot of a running transfer, given to the progress callback after every file.

    Attributes:
        files_done: Files (or resources) finished, whatever their outcome.
        files_total: How many there will be, when known in advance (else None).
        bytes_done: Bytes of the finished files.
        bytes_total: The total, when known in advance (else None).
        counts: Finished files by outcome value.
        last: The source (upload) or path (download) finished last.
        record: The record of that file (an :class:`UploadRecord` or a
            :class:`DownloadRecord`), e.g. to journal a report line by line.

    Example:
        >>> def show(progress: TransferProgress) -> None:
        ...     print(f"{progress.files_done}/{progress.files_total}")
        >>> client.upload("folder/", progress=show)  # doctest: +SKIP
    """

    files_done: int
    files_total: int | None
    bytes_done: int
    bytes_total: int | None
    counts: dict[str, int]
    last: str = ""
    record: UploadRecord | DownloadRecord | None = None


ProgressCallback = Callable[[TransferProgress], None]

AnyRecord = Union[UploadRecord, DownloadRecord]


class Tracker:
    """Collects records and tells the progress callback (called from the caller's thread only)."""

    def __init__(
        self,
        progress: ProgressCallback | None,
        files_total: int | None = None,
        bytes_total: int | None = None,
    ) -> None:
        self.progress = progress
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.bytes_done = 0
        self.counts: Counter[str] = Counter()
        self.records: list[Any] = []

    def add(self, record: AnyRecord) -> None:
        """Record one outcome and report progress."""
        self.records.append(record)
        self.counts[record.outcome.value] += 1
        self.bytes_done += record.size or 0
        if self.progress is not None:
            last = record.source if isinstance(record, UploadRecord) else record.path
            self.progress(
                TransferProgress(
                    len(self.records),
                    self.files_total,
                    self.bytes_done,
                    self.bytes_total,
                    dict(self.counts),
                    last,
                    record,
                )
            )

    def unknown_totals(self) -> None:
        """Forget the totals (e.g. an archive adds files nobody counted)."""
        self.files_total = None
        self.bytes_total = None
