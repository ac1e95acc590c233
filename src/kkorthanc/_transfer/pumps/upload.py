"""The two upload pumps: a thread pool over :class:`~kkorthanc.Orthanc`, tasks over
:class:`~kkorthanc.AsyncOrthanc`. Each file's course is one flow (:func:`..plan.flows.upload_flow`)
carried out by :mod:`.carry`; only the pumping (pool and futures, or tasks) differs here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from ..._core.seam import AsyncSeam, Seam
from ...errors import OrthancError, OrthancInputError
from ..lane.connections import FastLane, ThreadedLane
from ..plan.decide import UploadPlan, abort
from ..plan.flows import arun, run, unknown_flow, upload_flow
from ..plan.limits import ArchiveLimits
from ..plan.report import ProgressCallback, Tracker, UploadRecord, UploadReport
from ..plan.sources import Item, SourceOptions, iter_items, scan_totals
from .carry import async_carry, sync_carry

__all__ = ["async_upload", "sync_upload"]

_BATCH_MEMORY = 16 * 1024 * 1024


def _plan(
    sources: tuple[Any, ...],
    *,
    concurrency: int,
    skip_existing: bool,
    resume: Any,
    verify: bool,
    retry_for: float,
    progress: ProgressCallback | None,
    include_hidden: bool,
    follow_links: bool = False,
    archive_limits: ArchiveLimits | None = None,
) -> tuple[UploadPlan, Iterator[Item]]:
    if archive_limits is not None and not isinstance(archive_limits, ArchiveLimits):
        raise OrthancInputError(
            f"archive_limits takes an ArchiveLimits, got {type(archive_limits).__name__}"
        )
    options = SourceOptions(include_hidden, follow_links, archive_limits or ArchiveLimits())
    plan = UploadPlan.build(
        resume=resume,
        concurrency=concurrency,
        retry_for=retry_for,
        skip_existing=skip_existing,
        verify=verify,
    )
    totals = scan_totals(sources, options) if progress else None
    plan.tracker = Tracker(progress, *(totals or (None, None)))
    return plan, iter_items(list(sources), options)


def _next_batch(plan: UploadPlan, items: Iterator[Item]) -> list[Item] | None:
    """The next candidates to send (triaged), or None at the end of the sources.

    A batch ends at ``plan.batch_size`` items or when the bodies it holds in memory (archive
    members, bytes) reach ``_BATCH_MEMORY``, so memory stays bounded whatever the sources.
    """
    batch: list[Item] = []
    held, size = 0, plan.batch_size
    plan.batch_started()
    for item in items:
        if plan.triage(item):
            batch.append(item)
            held += len(item.data or b"") + (item.size or 0 if item.spool else 0)
        if len(batch) >= size or held >= _BATCH_MEMORY:
            return batch
    return batch or None


# ---- threads ------------------------------------------------------------------------------


def sync_upload(client: Seam, *sources: Any, **options: Any) -> UploadReport:
    """Upload with a thread pool over one ``Orthanc`` client (see ``Orthanc.upload``)."""
    plan, items = _plan(sources, **options)
    if plan.verify:
        client.capabilities().require("attachment_info", "upload(verify=True)")
    lane = FastLane.for_client(client)
    carry = partial(sync_carry, client, lane)
    pending: set[Future[UploadRecord]] = set()
    with ThreadPoolExecutor(plan.concurrency, thread_name_prefix="kkorthanc-upload") as pool:
        try:
            while (batch := _next_batch(plan, items)) is not None:
                for item in run(unknown_flow(plan, batch), carry):
                    while len(pending) >= plan.concurrency * 2:
                        _sync_collect(plan, pending, FIRST_COMPLETED)
                    pending.add(pool.submit(run, upload_flow(plan, item), carry))
            _sync_collect(plan, pending, ALL_COMPLETED)
        except OrthancError as error:
            pool.shutdown(wait=True, cancel_futures=True)
            _sync_drain(plan, pending)
            raise abort(error, plan.tracker.records) from error.__cause__
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if lane is not None:
                lane.close()
    return UploadReport(plan.tracker.records)


def _sync_collect(plan: UploadPlan, pending: set[Future[UploadRecord]], when: str) -> None:
    """Wait for some (or all) uploads; record the finished ones, then raise a fatal error."""
    done, _ = wait(pending, return_when=when)
    pending.difference_update(done)
    _record_then_raise(plan, [(f.exception(), f) for f in done])


def _record_then_raise(plan: UploadPlan, finished: list[tuple[BaseException | None, Any]]) -> None:
    errors = [error for error, _ in finished if error is not None]
    for error, future in finished:
        if error is None:
            plan.tracker.add(future.result())
    if errors:
        raise errors[0]


def _sync_drain(plan: UploadPlan, pending: set[Future[UploadRecord]]) -> None:
    """After a fatal error: keep the outcomes of the uploads that finished."""
    for future in pending:
        if future.done() and not future.cancelled() and future.exception() is None:
            plan.tracker.add(future.result())


# ---- asyncio ------------------------------------------------------------------------------


async def async_upload(client: AsyncSeam, *sources: Any, **options: Any) -> UploadReport:
    """Upload with asyncio tasks over one ``AsyncOrthanc`` client (see ``AsyncOrthanc.upload``)."""
    plan, items = _plan(sources, **options)
    if plan.verify:
        (await client.capabilities()).require("attachment_info", "upload(verify=True)")
    lane = ThreadedLane.for_client(client, plan.concurrency)
    carry = partial(async_carry, client, lane)
    pending: set[asyncio.Task[UploadRecord]] = set()
    try:
        while (batch := await asyncio.to_thread(_next_batch, plan, items)) is not None:
            for item in await arun(unknown_flow(plan, batch), carry):
                while len(pending) >= plan.concurrency:
                    await _async_collect(plan, pending, asyncio.FIRST_COMPLETED)
                pending.add(asyncio.create_task(arun(upload_flow(plan, item), carry)))
        await _async_collect(plan, pending, asyncio.ALL_COMPLETED)
    except OrthancError as error:
        await _async_drain(plan, pending)
        raise abort(error, plan.tracker.records) from error.__cause__
    except BaseException:
        await _async_drain(plan, pending, cancel=True)
        raise
    finally:
        if lane is not None:
            lane.close()
    return UploadReport(plan.tracker.records)


async def _async_collect(
    plan: UploadPlan, pending: set[asyncio.Task[UploadRecord]], when: str
) -> None:
    """Wait for some (or all) uploads; record the finished ones, then raise a fatal error."""
    if not pending:
        return
    done, _ = await asyncio.wait(pending, return_when=when)
    pending.difference_update(done)
    _record_then_raise(plan, [(task.exception(), task) for task in done])


async def _async_drain(
    plan: UploadPlan, pending: set[asyncio.Task[UploadRecord]], *, cancel: bool = False
) -> None:
    """After a fatal error: let the uploads under way end (at most ``concurrency``, as the
    thread engine does), or cancel them when interrupted; keep the outcomes of those that
    finished, so the report says what the server has."""
    if cancel:
        for task in pending:
            task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in pending:
        if not task.cancelled() and task.exception() is None:
            plan.tracker.add(task.result())
