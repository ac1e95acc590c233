"""The course of one upload, download or export file as a generator of steps.

A flow (httpx's ``Auth.auth_flow`` pattern) yields what it needs done: send a body
(:class:`Post`), read a JSON answer (:class:`Get`), hash (:class:`Digest`) or save
(:class:`Save`) a server file, pause (:class:`Pause`), or run local work that the asyncio engine
takes off its loop (:class:`Offload`). It receives each step's result, or its exception thrown
into it. Every decision (what an answer means, what is tried again and when, what goes into the
record) is made here, once; the thread and asyncio pumps only carry the steps out, with
:func:`run` and :func:`arun`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, Union

from ..._core.levels import Level
from ..._core.retry import Retrying
from ...errors import (
    ForbiddenError,
    NotFoundError,
    OrthancHTTPError,
    OrthancInputError,
    OrthancTransportError,
    UnauthorizedError,
)
from .decide import STORAGE_RETRY, Body, UploadPlan
from .download import (
    ExportItem,
    ExportRun,
    PartFile,
    ResourceRef,
    ResourceRefs,
    archive_route,
    download_target,
    export_failure,
    new_report,
    plan_paths,
    resolve,
    resolve_many,
    single_record,
)
from .items import Item
from .report import DownloadRecord, DownloadReport, ProgressCallback, Tracker, UploadRecord
from .sources import rewritten
from .verify import (
    Action,
    Verdict,
    absent,
    archive_verdict,
    compare_md5,
    decide,
    expected_sizes,
    local_verdict,
)

__all__ = [
    "Digest",
    "Find",
    "Flow",
    "Get",
    "Offload",
    "Pause",
    "Post",
    "Save",
    "Step",
    "arun",
    "check_concurrency",
    "download_flow",
    "export_items",
    "fetch_flow",
    "run",
    "unknown_flow",
    "upload_flow",
    "verdict_flow",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Post:
    """Send ``body`` with ``POST /instances``, never retried by the client (the flow retries);
    through the fast lane when one is open and the body is in memory. Result: the answer."""

    body: Body


@dataclass(frozen=True)
class Find:
    """``POST /tools/find`` with ``query`` (safe to retry). Result: the answer."""

    query: dict[str, Any]


@dataclass(frozen=True)
class Get:
    """``GET route`` (retried by the client as it retries a GET). Result: the decoded answer."""

    route: tuple[str, ...]


@dataclass(frozen=True)
class Digest:
    """Stream the file at ``route``. Result: the MD5 (hex) of its bytes."""

    route: tuple[str, ...]


@dataclass(frozen=True)
class Save:
    """Stream the file at ``route`` into ``path`` through a :class:`PartFile` (the fast lane
    when one is open). Result: the committed :class:`PartFile`."""

    route: tuple[str, ...]
    path: Path
    made: set[Path] | None = None


@dataclass(frozen=True)
class Pause:
    """Wait ``seconds``. Result: None."""

    seconds: float


@dataclass(frozen=True)
class Offload:
    """Local work (reading, rewriting a file): run in a worker thread by the asyncio pump.
    Result: what ``call`` returns."""

    call: Callable[[], Any]


Step = Union[Post, Find, Get, Digest, Save, Pause, Offload]
Flow = Generator[Step, Any, T]


def run(flow: Flow[T], carry: Callable[[Step], Any]) -> T:
    """Carry out ``flow`` in this thread: each step with ``carry``, its result or exception
    handed back to the flow; return what the flow returns.

    Example:
        >>> def flow():
        ...     answer = yield Get(("system",))
        ...     return answer["Version"]
        >>> run(flow(), lambda step: {"Version": "1.12.7"})
        '1.12.7'
    """
    result: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = flow.send(result) if failure is None else flow.throw(failure)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, failure = None, None
        try:
            result = carry(step)
        except BaseException as error:  # the flow decides; it raises what it does not handle
            failure = error


async def arun(flow: Flow[T], carry: Callable[[Step], Awaitable[Any]]) -> T:
    """Like :func:`run`, with ``carry`` a coroutine function (the asyncio pump).

    Example:
        >>> async def carry(step):
        ...     return {"Version": "1.12.7"}
        >>> def flow():
        ...     return (yield Get(("system",)))["Version"]
        >>> import asyncio
        >>> asyncio.run(arun(flow(), carry))
        '1.12.7'
    """
    result: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = flow.send(result) if failure is None else flow.throw(failure)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, failure = None, None
        try:
            result = await carry(step)
        except BaseException as error:  # the flow decides; it raises what it does not handle
            failure = error


# ---- uploads ------------------------------------------------------------------------------


def unknown_flow(plan: UploadPlan, batch: list[Item]) -> Flow[list[Item]]:
    """Record the items of ``batch`` that the server has (one ``/tools/find`` when something
    new needs asking); return the others."""
    query = plan.find_query(batch)
    answer = None if query is None else (yield Find(query))
    return plan.skip_known(batch, answer)


def upload_flow(plan: UploadPlan, item: Item) -> Flow[UploadRecord]:
    """Send one file as it is; a refused headerless dataset once more as a rewritten copy; then
    compare the server's MD5 when the plan verifies.

    Raises:
        OrthancError: A fatal answer (see :meth:`UploadPlan.refused` and
            :meth:`UploadPlan.gave_up`).
    """
    try:
        record = yield from _attempt(plan, item)
        copy = (yield Offload(lambda: rewritten(item))) if plan.may_rewrite(item, record) else None
        if copy is not None:
            record = plan.after_rewrite(record, (yield from _attempt(plan, copy)))
        if plan.verify and record.instance_id and record.md5:
            path = ("instances", record.instance_id, "attachments", "dicom", "md5")
            record = plan.checked(record, (yield Get(path)))
        return record
    finally:
        item.close()


def _attempt(plan: UploadPlan, item: Item) -> Flow[UploadRecord]:
    body = Body(item, hashed=plan.verify)
    try:
        # A small body (<= 512 KiB) is read at once, even by the asyncio engine: cheaper
        # than a thread hop; a bigger one is streamed by the pump.
        body.load_small()
    except OSError as error:
        return plan.unreadable(item, error)
    return (yield from _post(plan, item, body))


def _post(plan: UploadPlan, item: Item, body: Body) -> Flow[UploadRecord]:
    """Send one body, retrying transport failures within the plan's :class:`Retry` and a
    storage that could not write once (:data:`STORAGE_RETRY`)."""
    transport, storage = Retrying(plan.retry), Retrying(STORAGE_RETRY)
    while True:
        body.restart()
        try:
            answer = yield Post(body)
            return plan.stored(item, answer, body.md5)
        except OrthancHTTPError as error:
            pause = plan.storage_pause(error, storage)
            if pause is None:
                return plan.refused(item, error)
        except OrthancTransportError as error:
            if isinstance(error.__cause__, OSError) or isinstance(error.__context__, OSError):
                return plan.unreadable(item, OSError(str(error)))
            pause = transport.failed()
            if pause is None:
                return plan.gave_up(item, error)
        except OSError as error:
            return plan.unreadable(item, error)
        yield Pause(pause)


# ---- downloads and exports ----------------------------------------------------------------


def check_concurrency(concurrency: int) -> None:
    """Refuse a concurrency that is not a whole number >= 1.

    Raises:
        OrthancInputError: A bad concurrency.

    Example:
        >>> check_concurrency(4)
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise OrthancInputError(f"concurrency must be a whole number >= 1, got {concurrency!r}")


def _md5_route(orthanc_id: str) -> tuple[str, ...]:
    return ("instances", orthanc_id, "attachments", "dicom", "md5")


def _listing_route(level: Level, orthanc_id: str) -> tuple[str, ...]:
    if level is Level.INSTANCE:
        return ("instances", orthanc_id)
    return (level.route, orthanc_id, "instances")


def _as_list(answer: Any) -> list[Any]:
    return answer if isinstance(answer, list) else [answer]


def _md5_fallback(error: OrthancHTTPError) -> bool:
    """Whether to hash the server's file because it gave no MD5 (``StoreMD5ForAttachments``
    false): not for errors that the file request would repeat."""
    return not isinstance(error, (UnauthorizedError, ForbiddenError, NotFoundError))


def _server_md5(orthanc_id: str) -> Flow[str]:
    try:
        return str((yield Get(_md5_route(orthanc_id))))
    except OrthancHTTPError as error:
        if not _md5_fallback(error):
            raise
    digest: str = yield Digest(("instances", orthanc_id, "file"))
    return digest


def verdict_flow(
    level: Level, orthanc_id: str, path: Path, archive: bool, media: bool
) -> Flow[tuple[Verdict, str | None]]:
    """What is at ``path`` compared with the server's resource, and the local MD5 when known.

    Raises:
        OrthancHTTPError: The server refused a request the comparison needs.
    """
    if archive:
        if absent(path):
            return Verdict.ABSENT, None
        listing = yield Get(_listing_route(level, orthanc_id))
        return archive_verdict(path, expected_sizes(_as_list(listing)), media), None
    verdict, _ = local_verdict(path, None)
    if verdict is not Verdict.UNKNOWN:
        return verdict, None
    verdict, md5, _ = compare_md5(path, (yield from _server_md5(orthanc_id)))
    return verdict, md5


def _parents(instances: Iterable[dict[str, Any]]) -> set[str]:
    return {str(instance["ParentSeries"]) for instance in instances}


def download_flow(
    resource: ResourceRef,
    target: str | os.PathLike[str],
    *,
    level: Level | str | None = None,
    media: bool = False,
    skip_existing: bool = True,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Flow[DownloadReport]:
    """Download one resource to a file, unless the file there is the same.

    Raises:
        OrthancInputError: A bad resource, level or target.
        OrthancHTTPError: The server refused a request.
    """
    found_level, orthanc_id = resolve(resource, level)
    path = download_target(target, found_level, orthanc_id, media)
    archive = media or found_level is not Level.INSTANCE
    tracker = Tracker(progress, 1)
    verdict, md5 = (
        (Verdict.DIFFERENT, None)
        if overwrite and not skip_existing
        else (yield from verdict_flow(found_level, orthanc_id, path, archive, media))
    )
    action = decide(verdict, skip_existing=skip_existing, overwrite=overwrite)
    part = None
    if action is Action.DOWNLOAD:
        part = yield Save(archive_route(found_level, orthanc_id, media), path)
    stale = verdict is Verdict.STALE
    record = single_record(
        found_level, orthanc_id, path, action, part, archive=archive, md5=md5, replaced_stale=stale
    )
    tracker.add(record)
    return new_report(tracker)


def export_items(resources: Any | ResourceRefs, root: Path, layout: str) -> Flow[list[ExportItem]]:
    """The instances of ``resources`` with the path each goes to below ``root``.

    Raises:
        OrthancHTTPError: A resource is missing, or the server refused a listing.
    """
    instances: dict[str, dict[str, Any]] = {}
    for level, orthanc_id in resolve_many(resources):
        if level is Level.INSTANCE:
            found = [(yield Get(("instances", orthanc_id)))]
        else:
            found = yield Get((level.route, orthanc_id, "instances"))
        instances.update((instance["ID"], instance) for instance in found)
    series = {}
    for key in sorted(_parents(instances.values())):
        series[key] = yield Get(("series", key))
    studies = {}
    for key in sorted({str(one["ParentStudy"]) for one in series.values()}):
        studies[key] = yield Get(("studies", key))
    return plan_paths(root, layout, instances.values(), series, studies)


def fetch_flow(item: ExportItem, run: ExportRun) -> Flow[DownloadRecord]:
    """Export one instance: left alone when the file there is the same, else saved; a
    failure of this file is its record, not an error."""
    verdict, md5 = run.look(item)
    route = ("instances", item.orthanc_id, "file")
    try:
        if verdict is Verdict.UNKNOWN:
            verdict, md5 = run.compare(item, (yield from _server_md5(item.orthanc_id)))
        left = run.settled(item, verdict, md5)
        if left is not None:
            return left
        part: PartFile = yield Save(route, item.path, run.made)
    except (OrthancHTTPError, OrthancTransportError) as error:
        return export_failure(item, error)
    return run.downloaded(item, part)
