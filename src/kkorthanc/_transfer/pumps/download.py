"""The download and export pumps: threads over ``Orthanc``, tasks over ``AsyncOrthanc``.

What to fetch and what it means is decided by the flows of :mod:`..plan.flows`, carried out by
:mod:`.carry`; only the pumping (a thread pool, or tasks under a semaphore) differs here.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from pathlib import Path
from typing import Any

from ..._core.seam import AsyncSeam, Seam
from ...errors import OrthancError
from ..lane.connections import FastLane, ThreadedLane
from ..plan.download import (
    ExportItem,
    ExportRun,
    ResourceRef,
    ResourceRefs,
    abort_export,
    export_root,
    new_report,
)
from ..plan.flows import arun, check_concurrency, download_flow, export_items, fetch_flow, run
from ..plan.report import DownloadRecord, DownloadReport, ProgressCallback, Tracker
from ..plan.verify import ExportManifest
from .carry import async_carry, sync_carry

__all__ = ["async_download", "async_export", "sync_download", "sync_export"]


def _export_root(target: str | os.PathLike[str], concurrency: int) -> Path:
    check_concurrency(concurrency)
    return export_root(target)


def _export_tracker(items: list[ExportItem], progress: ProgressCallback | None) -> Tracker:
    return Tracker(progress, len(items), sum(item.size or 0 for item in items))


# ---- threads ------------------------------------------------------------------------------


def sync_download(
    client: Seam, resource: ResourceRef, target: str | os.PathLike[str], **options: Any
) -> DownloadReport:
    """Download one resource to a file (see ``Orthanc.download``)."""
    return run(download_flow(resource, target, **options), partial(sync_carry, client, None))


def sync_export(
    client: Seam,
    resources: ResourceRef | ResourceRefs,
    target: str | os.PathLike[str],
    *,
    layout: str = "tree",
    concurrency: int = 4,
    skip_existing: bool = True,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Export the instances of many resources into a folder tree (see ``Orthanc.export``)."""
    root = _export_root(target, concurrency)
    items = run(export_items(resources, root, layout), partial(sync_carry, client, None))
    tracker = _export_tracker(items, progress)
    export_run = ExportRun(skip_existing, overwrite, ExportManifest(root))
    lane = FastLane.for_client(client)
    carry = partial(sync_carry, client, lane)
    with ThreadPoolExecutor(concurrency, thread_name_prefix="kkorthanc-export") as pool:
        futures = [pool.submit(run, fetch_flow(item, export_run), carry) for item in items]
        try:
            for future in as_completed(futures):
                tracker.add(future.result())
        except OrthancError as error:
            pool.shutdown(wait=True, cancel_futures=True)
            raise abort_export(error, tracker) from error.__cause__
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if lane is not None:
                lane.close()
            export_run.save()
    return new_report(tracker)


# ---- asyncio ------------------------------------------------------------------------------


async def async_download(
    client: AsyncSeam, resource: ResourceRef, target: str | os.PathLike[str], **options: Any
) -> DownloadReport:
    """Download one resource to a file (see ``AsyncOrthanc.download``)."""
    flow = download_flow(resource, target, **options)
    return await arun(flow, partial(async_carry, client, None))


async def async_export(
    client: AsyncSeam,
    resources: ResourceRef | ResourceRefs,
    target: str | os.PathLike[str],
    *,
    layout: str = "tree",
    concurrency: int = 4,
    skip_existing: bool = True,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Export the instances of many resources into a folder tree (see ``AsyncOrthanc.export``)."""
    root = _export_root(target, concurrency)
    items = await arun(export_items(resources, root, layout), partial(async_carry, client, None))
    tracker = _export_tracker(items, progress)
    export_run = ExportRun(skip_existing, overwrite, ExportManifest(root))
    gate = asyncio.Semaphore(concurrency)
    lane = ThreadedLane.for_client(client, concurrency)
    fetch = partial(_async_fetch, client, export_run=export_run, gate=gate, lane=lane)
    tasks = [asyncio.create_task(fetch(item)) for item in items]
    try:
        for next_done in asyncio.as_completed(tasks):
            tracker.add(await next_done)
    except OrthancError as error:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise abort_export(error, tracker) from error.__cause__
    finally:
        if lane is not None:
            lane.close()
        export_run.save()
    return new_report(tracker)


async def _async_fetch(
    client: AsyncSeam,
    item: ExportItem,
    *,
    export_run: ExportRun,
    gate: asyncio.Semaphore,
    lane: ThreadedLane | None,
) -> DownloadRecord:
    """Export one instance in this task, with at most ``concurrency`` under way."""
    async with gate:
        return await arun(fetch_flow(item, export_run), partial(async_carry, client, lane))
