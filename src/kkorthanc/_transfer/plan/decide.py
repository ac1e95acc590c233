"""Upload decisions shared by the thread and asyncio engines: only the pumps differ.

What to send (resume, skip-existing), how to read a body (with its MD5 and a check that the file
did not change), what an answer or an exception means (one outcome, or a fatal error that stops
the batch), when to retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..._core.retry import Retry, Retrying
from ...errors import (
    ForbiddenError,
    OrthancConnectionError,
    OrthancError,
    OrthancHTTPError,
    OrthancInputError,
    OrthancTransportError,
    UnauthorizedError,
)
from .items import CHUNK, FileChangedError, Item
from .report import DONE_OUTCOMES, Tracker, TransferOutcome, UploadRecord, UploadReport

__all__ = ["Body", "FileChangedError", "UploadPlan", "abort"]

# Orthanc statuses that doom every later file: cannot write, storage full, storage plugin,
# cannot create a file in the storage.
_FATAL_ORTHANC_STATUSES = frozenset({14, 19, 32, 2001})
_FATAL_HTTP_STATUSES = frozenset({401, 403, 507})
_STORAGE_WRITE_STATUSES = frozenset({14, 2001})  # cannot write a file; cannot create it
STORAGE_RETRY = Retry(total=1, backoff=0.2)
"""A file the storage could not write is sent once more, after 0.2 s."""
_MAX_BATCH = 256
_FIRST_BATCH = 16


def abort(error: OrthancError, records: list[UploadRecord]) -> OrthancError:
    """Attach the partial report to a fatal error, as ``error.report``, and return it."""
    error.report = UploadReport(list(records))
    return error


@dataclass
class UploadPlan:
    """The options of one upload and everything decided without I/O."""

    concurrency: int = 4
    skip_existing: bool = True
    verify: bool = False
    retry: Retry = field(default_factory=lambda: transport_retry(30.0))
    resume: dict[str, UploadRecord] = field(default_factory=dict)
    tracker: Tracker = field(default_factory=lambda: Tracker(None))
    _asked_series: set[str] = field(default_factory=set)
    _known_instances: set[str] = field(default_factory=set)
    _batches: int = 0

    @classmethod
    def build(
        cls, *, resume: Any, concurrency: int, retry_for: float, **options: Any
    ) -> UploadPlan:
        """Check the options and load the report to resume from.

        Raises:
            OrthancInputError: A bad concurrency or retry_for, or an unreadable resume report.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise OrthancInputError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
        if retry_for < 0:
            raise OrthancInputError(f"retry_for must be >= 0 seconds, got {retry_for!r}")
        retry = transport_retry(retry_for)
        return cls(concurrency=concurrency, retry=retry, resume=_load_resume(resume), **options)

    @property
    def batch_size(self) -> int:
        """How many candidates are checked against the server in the next request: 16 at
        first, so the first uploads start at once, then twice as many each batch, up to 256."""
        return min(_MAX_BATCH, _FIRST_BATCH << min(self._batches, 8))

    def batch_started(self) -> None:
        """Count a batch, so the next one may be larger."""
        self._batches += 1

    def triage(self, item: Item) -> bool:
        """Record what needs no request (problems); True when the item must go on.

        A file a resume report lists as stored is not trusted on the report's word: it goes on,
        marked ``resumed``, and :meth:`skip_known` carries its record over only if the server
        has the instance computed from the file's header (and the same as the report says).
        """
        if item.problem is not None:
            self.tracker.add(_record(item, item.problem, detail=item.detail))
            return False
        previous = self.resume.get(item.source)
        if (
            previous is not None
            and item.ids is not None
            and previous.instance_id in (None, item.ids.instance)
        ):
            item.resumed = previous
        return True

    def _asks(self, item: Item) -> bool:
        return item.ids is not None and (self.skip_existing or item.resumed is not None)

    def find_query(self, batch: list[Item]) -> dict[str, Any] | None:
        """The ``/tools/find`` body that tells which of ``batch`` the server already has, or
        None when nothing new needs asking.

        It asks for the batch's series not asked before, expanded: each lists its instances'
        Orthanc IDs, compared with the IDs computed locally. A few series UIDs are much cheaper
        for the server to match than one SOPInstanceUID per file. Without ``skip_existing``,
        only the series of resumed files are asked, to check them.
        """
        asked = self._asked_series
        uids = {
            item.series_instance_uid for item in batch if self._asks(item) and _unasked(item, asked)
        } - {""}
        if not uids:
            return None
        query = {"SeriesInstanceUID": "\\".join(sorted(uids))}
        return {"Level": "Series", "Query": query, "Expand": True}

    def skip_known(self, batch: list[Item], answer: Any) -> list[Item]:
        """Record the items the server has (from ``answer`` to :meth:`find_query`, or None, and
        what earlier batches learnt); return the rest."""
        self._asked_series.update(
            item.ids.series for item in batch if item.ids is not None and self._asks(item)
        )
        for series in answer if isinstance(answer, list) else []:
            if isinstance(series, dict) and isinstance(series.get("Instances"), list):
                self._known_instances.update(series["Instances"])
        remaining = []
        for item in batch:
            record = self._known_record(item)
            if record is None:
                remaining.append(item)
            else:
                self.tracker.add(record)
                item.close()
        return remaining

    def _known_record(self, item: Item) -> UploadRecord | None:
        """The record of an item the server has (resumed, or skipped), else None."""
        if item.ids is None or item.ids.instance not in self._known_instances:
            return None
        if item.resumed is not None:
            return _carried_over(item.resumed, item)
        if not self.skip_existing:
            return None
        return _record(item, TransferOutcome.SKIPPED_EXISTING)

    def stored(self, item: Item, answer: Any, md5: str | None) -> UploadRecord:
        """The record of a 200 answer to ``POST /instances``."""
        status = answer.get("Status") if isinstance(answer, dict) else None
        instance = answer.get("ID") if isinstance(answer, dict) else None
        outcome = (
            TransferOutcome.ALREADY_STORED if status == "AlreadyStored" else TransferOutcome.STORED
        )
        if status not in ("Success", "AlreadyStored"):
            detail = f"unexpected answer to POST /instances: {answer!r}"[:500]
            return _record(item, TransferOutcome.FAILED, detail=detail)
        return _record(item, outcome, instance_id=instance, md5=md5)

    def refused(self, item: Item, error: OrthancHTTPError) -> UploadRecord:
        """The record of an error answer, unless the error dooms every file (then raise it).

        Raises:
            OrthancHTTPError: Wrong credentials, forbidden, or the server cannot store anything.
        """
        if (
            isinstance(error, (UnauthorizedError, ForbiddenError))
            or error.status_code in _FATAL_HTTP_STATUSES
            or error.orthanc_status in _FATAL_ORTHANC_STATUSES
        ):
            raise error
        if error.status_code == 409:  # two uploads of one instance raced
            return _record(item, TransferOutcome.ALREADY_STORED)
        detail = error.message + (f" ({error.details})" if error.details else "")
        if error.orthanc_error and error.orthanc_error not in detail:
            detail += f" [{error.orthanc_error}]"
        return _record(item, TransferOutcome.REJECTED, status_code=error.status_code, detail=detail)

    @staticmethod
    def may_rewrite(item: Item, record: UploadRecord) -> bool:
        """Whether to send a copy with a file meta header: only for a dataset without one that
        the server refused as malformed (400); a missing tag (404) is not the header's fault."""
        return (
            item.headerless
            and record.outcome is TransferOutcome.REJECTED
            and record.status_code == 400
        )

    @staticmethod
    def after_rewrite(refusal: UploadRecord, record: UploadRecord) -> UploadRecord:
        """The record of a file sent again as a rewritten copy, after ``refusal``: the copy's
        record, marked ``rewritten`` with the reason; when the copy fared no better, the
        original refusal, which says the copy was tried."""
        if record.outcome.ok:
            reason = (
                f"the server refused the file as it is ({refusal.detail}); a copy with a file "
                "meta header added was stored: size and md5 are the copy's"
            )
            return _replace(record, rewritten=True, rewrite_reason=reason)
        detail = f"{refusal.detail}; a copy with a file meta header added was refused too: "
        return _replace(refusal, detail=detail + str(record.detail))

    def storage_pause(self, error: OrthancHTTPError, course: Retrying) -> float | None:
        """The pause before sending once more a file the server could not write, or None.

        Orthanc's file storage checks a folder's existence before creating it, so two uploads
        creating the same folder of a young storage at once can fail one of them ("Unable to
        create a subdirectory or a file in the file storage"). Such a failure is retried once
        (``course`` follows :data:`STORAGE_RETRY`); only a second one counts as the storage
        being unwritable, which stops the upload.
        """
        if error.orthanc_status not in _STORAGE_WRITE_STATUSES:
            return None
        return course.failed()

    def gave_up(self, item: Item, error: OrthancTransportError) -> UploadRecord:
        """The record of a file whose transport errors outlasted the budget.

        Raises:
            OrthancConnectionError: The server cannot be reached at all: every file would fail.
        """
        if isinstance(error, OrthancConnectionError):
            raise error
        return _record(item, TransferOutcome.FAILED, detail=str(error))

    def unreadable(self, item: Item, error: OSError) -> UploadRecord:
        """The record of a file that could not be read (or changed) while being sent."""
        detail = f"cannot read: {type(error).__name__}: {error}"
        return _record(item, TransferOutcome.FAILED, detail=detail)

    def checked(self, record: UploadRecord, server_md5: Any) -> UploadRecord:
        """The record after comparing the server's MD5 with the MD5 of the bytes sent."""
        if record.md5 is None or record.outcome != TransferOutcome.STORED:
            return record
        if isinstance(server_md5, str) and server_md5.strip() == record.md5:
            return _replace(record, verified=True)
        detail = f"the server's MD5 {server_md5!r} differs from the MD5 sent {record.md5}"
        return _replace(record, outcome=TransferOutcome.FAILED, verified=False, detail=detail)


def transport_retry(retry_for: float) -> Retry:
    """The policy of a file failing with transport errors: tried again for ``retry_for``
    seconds from its first failure, after pauses from 0.1 s doubling up to 2 s.

    Example:
        >>> transport_retry(30).deadline
        30
    """
    return Retry(total=None, deadline=retry_for, backoff=0.1, max_backoff=2.0)


def _record(item: Item, outcome: TransferOutcome, **known: Any) -> UploadRecord:
    """A record with everything the item tells (size, the Orthanc ID computed from its header,
    pydicom's warnings), and what ``known`` adds or overrides."""
    known.setdefault("instance_id", item.ids.instance if item.ids else None)
    return UploadRecord(item.source, outcome, item.size, warnings=tuple(item.warnings), **known)


def _carried_over(previous: UploadRecord, item: Item) -> UploadRecord:
    """The record of a file a resume report lists as stored, confirmed by the server: its
    earlier record (completed with what the item tells), marked ``carried_over``."""
    return _replace(
        previous,
        instance_id=item.ids.instance if item.ids else previous.instance_id,
        size=previous.size if previous.size is not None else item.size,
        warnings=previous.warnings or tuple(item.warnings),
        carried_over=True,
    )


def _replace(record: UploadRecord, **changes: Any) -> UploadRecord:
    from dataclasses import replace

    return replace(record, **changes)


def _unasked(item: Item, asked: set[str]) -> bool:
    return item.ids is not None and item.ids.series not in asked


def _load_resume(resume: Any) -> dict[str, UploadRecord]:
    if resume is None:
        return {}
    if isinstance(resume, (str, os.PathLike)):
        try:
            resume = UploadReport.read_jsonl(resume)
        except OSError as error:
            raise OrthancInputError(f"cannot read the report to resume from: {error}") from error
    if not isinstance(resume, UploadReport):
        raise OrthancInputError(
            f"resume= takes an UploadReport or the path of one, got {type(resume).__name__}"
        )
    return {record.source: record for record in resume if record.outcome in DONE_OUTCOMES}


class Body:
    """The bytes of one item as the request body, hashed on the way, checked against its size."""

    def __init__(self, item: Item, *, hashed: bool = True) -> None:
        self.item = item
        self.hashed = hashed
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.data: bytes | None = None

    def load_small(self) -> bool:
        """Read a small body whole (True), or leave a big one to be streamed (False)."""
        if not self.item.is_small():
            return False
        self.data = self.item.read_small()
        if self.item.size is not None and len(self.data) != self.item.size:
            raise FileChangedError(f"{self.item.source} changed size while being read")
        if self.hashed:
            self._md5.update(self.data)
        return True

    @property
    def md5(self) -> str | None:
        """The MD5 of the bytes sent (once the request is done), or None when not hashed."""
        return self._md5.hexdigest() if self.hashed else None

    def headers(self) -> dict[str, str]:
        """Headers of the upload request: the exact length, so the body is not chunked."""
        size = len(self.data) if self.data is not None else self.item.size
        return {"Content-Type": "application/dicom", "Content-Length": str(size)}

    def restart(self) -> None:
        """Forget what a failed attempt hashed."""
        self._md5 = hashlib.md5(usedforsecurity=False)
        if self.data is not None and self.hashed:
            self._md5.update(self.data)

    def chunks(self) -> Iterator[bytes]:
        """The body in chunks, read from disk or from the spool (thread engine)."""
        with self._open() as stream:
            remaining = self.item.size or 0
            while remaining > 0:
                chunk = stream.read(min(CHUNK, remaining))
                yield self._checked(chunk, remaining, stream)
                remaining -= len(chunk)

    async def achunks(self) -> AsyncIterator[bytes]:
        """The body in chunks, each read in a worker thread (asyncio engine)."""
        stream = await asyncio.to_thread(self._open)
        try:
            remaining = self.item.size or 0
            while remaining > 0:
                chunk = await asyncio.to_thread(stream.read, min(CHUNK, remaining))
                yield await asyncio.to_thread(self._checked, chunk, remaining, stream)
                remaining -= len(chunk)
        finally:
            if stream is not self.item.spool:
                stream.close()

    def _open(self) -> Any:
        if self.item.spool is not None:
            self.item.spool.seek(0)
            return _Unclosing(self.item.spool)
        return self.item.open_file()

    def _checked(self, chunk: bytes, remaining: int, stream: Any) -> bytes:
        last = len(chunk) >= remaining
        if not chunk or (last and stream.read(1)):
            raise FileChangedError(f"{self.item.source} changed size while being read")
        if self.hashed:
            self._md5.update(chunk)
        return chunk


class _Unclosing:
    """A spool seen as a context manager that does not close it (retries read it again)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __enter__(self) -> Any:
        return self.stream

    def __exit__(self, *args: object) -> None:
        return None

    def read(self, size: int) -> bytes:
        data: bytes = self.stream.read(size)
        return data

    def close(self) -> None:
        return None
