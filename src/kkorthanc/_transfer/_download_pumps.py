"""The download and export pumps: threads over ``Orthanc``, tasks over ``AsyncOrthanc``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._levels import Level
from ..errors import OrthancError, OrthancHTTPError, OrthancInputError, OrthancTransportError
from ._download import (
    ExportItem,
    PartFile,
    ResourceRef,
    TransferTargetError,
    abort_export,
    archive_route,
    download_target,
    export_failure,
    new_report,
    plan_paths,
    resolve,
)
from ._lane import FastLane, ThreadedLane
from ._report import DownloadRecord, DownloadReport, ProgressCallback, Tracker, TransferOutcome

if TYPE_CHECKING:
    from .._async._client import AsyncOrthanc
    from .._sync._client import Orthanc

__all__ = ["async_download", "async_export", "sync_download", "sync_export"]

CHUNK = 256 * 1024


def _root(target: str | os.PathLike[str]) -> Path:
    root = Path(target)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TransferTargetError(f"cannot create {root}: {error}", path=str(root)) from error
    if not os.access(root, os.W_OK):
        raise TransferTargetError(f"cannot write into {root}", path=str(root))
    return root


def _size_of(path: Path) -> int:
    return path.stat().st_size


def _check_concurrency(concurrency: int) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise OrthancInputError(f"concurrency must be a whole number >= 1, got {concurrency!r}")


def _parents(instances: Iterable[dict[str, Any]]) -> set[str]:
    return {str(instance["ParentSeries"]) for instance in instances}


# ---- threads ------------------------------------------------------------------------------


def sync_download(
    client: Orthanc,
    resource: ResourceRef,
    target: str | os.PathLike[str],
    *,
    level: Level | str | None = None,
    media: bool = False,
    skip_existing: bool = True,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Download one resource to a file (see ``Orthanc.download``)."""
    found_level, orthanc_id = resolve(resource, level)
    path = download_target(target, found_level, orthanc_id, media)
    tracker = Tracker(progress, 1)
    if skip_existing and path.is_file() and _sync_complete(client, found_level, orthanc_id, path):
        size = path.stat().st_size
        outcome = TransferOutcome.SKIPPED_EXISTING
    else:
        size = _sync_stream_to(client, archive_route(found_level, orthanc_id, media), path)
        outcome = TransferOutcome.DOWNLOADED
    tracker.add(DownloadRecord(orthanc_id, found_level.value, str(path), outcome, size))
    return new_report(tracker)


def _sync_complete(client: Orthanc, level: Level, orthanc_id: str, path: Path) -> bool:
    if level is not Level.INSTANCE:
        return True  # archives appear only once complete
    return bool(client.get(("instances", orthanc_id)).get("FileSize") == _size_of(path))


def _sync_stream_to(
    client: Orthanc, route: tuple[str, ...], path: Path, made: set[Path] | None = None
) -> int:
    with PartFile(path, made) as part, client.stream("GET", route) as response:
        part.open()
        for chunk in response.iter_bytes(CHUNK):
            part.write(chunk)
    return part.size


def sync_export(
    client: Orthanc,
    resources: Iterable[ResourceRef],
    target: str | os.PathLike[str],
    *,
    layout: str = "tree",
    concurrency: int = 4,
    skip_existing: bool = True,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Export the instances of many resources into a folder tree (see ``Orthanc.export``)."""
    _check_concurrency(concurrency)
    root = _root(target)
    items = _sync_plan(client, resources, root, layout)
    tracker = Tracker(progress, len(items), sum(item.size or 0 for item in items))
    lane = FastLane.for_client(client)
    with ThreadPoolExecutor(concurrency, thread_name_prefix="kkorthanc-export") as pool:
        made: set[Path] = set()
        futures = [
            pool.submit(_sync_fetch, client, item, skip_existing, lane, made) for item in items
        ]
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
    return new_report(tracker)


def _sync_plan(
    client: Orthanc, resources: Iterable[ResourceRef], root: Path, layout: str
) -> list[ExportItem]:
    instances: dict[str, dict[str, Any]] = {}
    for level, orthanc_id in [resolve(resource) for resource in resources]:
        if level is Level.INSTANCE:
            found = [client.get(("instances", orthanc_id))]
        else:
            found = client.get((level.route, orthanc_id, "instances"))
        instances.update((instance["ID"], instance) for instance in found)
    series = {key: client.get(("series", key)) for key in sorted(_parents(instances.values()))}
    study_ids = sorted({str(one["ParentStudy"]) for one in series.values()})
    studies = {key: client.get(("studies", key)) for key in study_ids}
    return plan_paths(root, layout, instances.values(), series, studies)


def _sync_fetch(
    client: Orthanc,
    item: ExportItem,
    skip_existing: bool,
    lane: FastLane | None,
    made: set[Path],
) -> DownloadRecord:
    if skip_existing and item.is_complete():
        return item.record(TransferOutcome.SKIPPED_EXISTING)
    route = ("instances", item.orthanc_id, "file")
    try:
        if lane is not None:
            size = _sync_lane_to(lane, route, item.path, made)
        else:
            size = _sync_stream_to(client, route, item.path, made)
    except (OrthancHTTPError, OrthancTransportError) as error:
        return export_failure(item, error)
    return item.record(TransferOutcome.DOWNLOADED, size=size)


def _sync_lane_to(
    lane: FastLane, route: tuple[str, ...], path: Path, made: set[Path] | None = None
) -> int:
    """Like :func:`_sync_stream_to`, through the fast lane."""
    with PartFile(path, made) as part:
        lane.fetch(route, lambda: part.open().write)
    return part.size


# ---- asyncio ------------------------------------------------------------------------------


async def async_download(
    client: AsyncOrthanc,
    resource: ResourceRef,
    target: str | os.PathLike[str],
    *,
    level: Level | str | None = None,
    media: bool = False,
    skip_existing: bool = True,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Download one resource to a file (see ``AsyncOrthanc.download``)."""
    found_level, orthanc_id = resolve(resource, level)
    path = download_target(target, found_level, orthanc_id, media)
    tracker = Tracker(progress, 1)
    complete = path.is_file() and await _async_complete(client, found_level, orthanc_id, path)
    if skip_existing and complete:
        size = path.stat().st_size
        outcome = TransferOutcome.SKIPPED_EXISTING
    else:
        route = archive_route(found_level, orthanc_id, media)
        size = await _async_stream_to(client, route, path)
        outcome = TransferOutcome.DOWNLOADED
    tracker.add(DownloadRecord(orthanc_id, found_level.value, str(path), outcome, size))
    return new_report(tracker)


async def _async_complete(client: AsyncOrthanc, level: Level, orthanc_id: str, path: Path) -> bool:
    if level is not Level.INSTANCE:
        return True
    answer = await client.get(("instances", orthanc_id))
    return bool(answer.get("FileSize") == _size_of(path))


async def _async_stream_to(
    client: AsyncOrthanc, route: tuple[str, ...], path: Path, made: set[Path] | None = None
) -> int:
    with PartFile(path, made) as part:
        async with client.stream("GET", route) as response:
            part.open()
            async for chunk in response.aiter_bytes(CHUNK):
                part.write(chunk)
    return part.size


async def async_export(
    client: AsyncOrthanc,
    resources: Iterable[ResourceRef],
    target: str | os.PathLike[str],
    *,
    layout: str = "tree",
    concurrency: int = 4,
    skip_existing: bool = True,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Export the instances of many resources into a folder tree (see ``AsyncOrthanc.export``)."""
    _check_concurrency(concurrency)
    root = _root(target)
    items = await _async_plan(client, resources, root, layout)
    tracker = Tracker(progress, len(items), sum(item.size or 0 for item in items))
    gate = asyncio.Semaphore(concurrency)
    lane = ThreadedLane.for_client(client, concurrency)
    made: set[Path] = set()
    tasks = [
        asyncio.create_task(_async_fetch(client, item, skip_existing, gate, lane, made))
        for item in items
    ]
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
    return new_report(tracker)


async def _async_plan(
    client: AsyncOrthanc, resources: Iterable[ResourceRef], root: Path, layout: str
) -> list[ExportItem]:
    instances: dict[str, dict[str, Any]] = {}
    for level, orthanc_id in [resolve(resource) for resource in resources]:
        if level is Level.INSTANCE:
            found = [await client.get(("instances", orthanc_id))]
        else:
            found = await client.get((level.route, orthanc_id, "instances"))
        instances.update((instance["ID"], instance) for instance in found)
    series = {
        key: await client.get(("series", key)) for key in sorted(_parents(instances.values()))
    }
    study_ids = sorted({str(one["ParentStudy"]) for one in series.values()})
    studies = {key: await client.get(("studies", key)) for key in study_ids}
    return plan_paths(root, layout, instances.values(), series, studies)


async def _async_fetch(
    client: AsyncOrthanc,
    item: ExportItem,
    skip_existing: bool,
    gate: asyncio.Semaphore,
    lane: ThreadedLane | None,
    made: set[Path],
) -> DownloadRecord:
    if skip_existing and item.is_complete():
        return item.record(TransferOutcome.SKIPPED_EXISTING)
    route = ("instances", item.orthanc_id, "file")
    async with gate:
        try:
            if lane is not None:
                size = await _async_lane_to(lane, route, item.path, made)
            else:
                size = await _async_stream_to(client, route, item.path, made)
        except (OrthancHTTPError, OrthancTransportError) as error:
            return export_failure(item, error)
    return item.record(TransferOutcome.DOWNLOADED, size=size)


async def _async_lane_to(
    lane: ThreadedLane, route: tuple[str, ...], path: Path, made: set[Path] | None = None
) -> int:
    """Like :func:`_async_stream_to`, through the fast lane (the file is written in its thread)."""
    with PartFile(path, made) as part:
        await lane.fetch(route, lambda: part.open().write)
    return part.size
