"""The download and export pumps: threads over ``Orthanc``, tasks over ``AsyncOrthanc``."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._core.levels import Level
from ...errors import (
    ForbiddenError,
    NotFoundError,
    OrthancError,
    OrthancHTTPError,
    OrthancInputError,
    OrthancTransportError,
    UnauthorizedError,
)
from ..lane.connections import FastLane, ThreadedLane
from ..plan.download import (
    ExportItem,
    ExportRun,
    PartFile,
    ResourceRef,
    ResourceRefs,
    abort_export,
    archive_route,
    download_target,
    export_failure,
    export_root,
    new_report,
    plan_paths,
    resolve,
    resolve_many,
    single_record,
)
from ..plan.report import DownloadRecord, DownloadReport, ProgressCallback, Tracker
from ..plan.verify import (
    Action,
    ExportManifest,
    Verdict,
    absent,
    archive_verdict,
    compare_md5,
    decide,
    expected_sizes,
    local_verdict,
)

if TYPE_CHECKING:
    from ..._client._async._client import AsyncOrthanc
    from ..._client._sync._client import Orthanc

__all__ = ["async_download", "async_export", "sync_download", "sync_export"]

CHUNK = 256 * 1024


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
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Download one resource to a file (see ``Orthanc.download``)."""
    found_level, orthanc_id = resolve(resource, level)
    path = download_target(target, found_level, orthanc_id, media)
    archive = media or found_level is not Level.INSTANCE
    tracker = Tracker(progress, 1)
    verdict, md5 = (
        (Verdict.DIFFERENT, None)
        if overwrite and not skip_existing
        else _sync_verdict(client, found_level, orthanc_id, path, archive, media)
    )
    action = decide(verdict, skip_existing=skip_existing, overwrite=overwrite)
    part = None
    if action is Action.DOWNLOAD:
        part = _sync_stream_to(client, archive_route(found_level, orthanc_id, media), path)
    record = single_record(
        found_level,
        orthanc_id,
        path,
        action,
        part,
        archive=archive,
        md5=md5,
        replaced_stale=verdict is Verdict.STALE,
    )
    tracker.add(record)
    return new_report(tracker)


def _sync_verdict(
    client: Orthanc, level: Level, orthanc_id: str, path: Path, archive: bool, media: bool
) -> tuple[Verdict, str | None]:
    if archive:
        if absent(path):
            return Verdict.ABSENT, None
        expected = expected_sizes(_as_list(client.get(_listing_route(level, orthanc_id))))
        return archive_verdict(path, expected, media), None
    verdict, _ = local_verdict(path, None)
    if verdict is not Verdict.UNKNOWN:
        return verdict, None
    verdict, md5, _ = compare_md5(path, _sync_server_md5(client, orthanc_id))
    return verdict, md5


def _sync_server_md5(client: Orthanc, orthanc_id: str) -> str:
    try:
        return str(client.get(_md5_route(orthanc_id)))
    except OrthancHTTPError as error:
        if not _md5_fallback(error):
            raise
    digest = hashlib.md5(usedforsecurity=False)
    with client.stream("GET", ("instances", orthanc_id, "file")) as response:
        for chunk in response.iter_bytes(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sync_stream_to(
    client: Orthanc, route: tuple[str, ...], path: Path, made: set[Path] | None = None
) -> PartFile:
    with PartFile(path, made) as part, client.stream("GET", route) as response:
        part.open()
        for chunk in response.iter_bytes(CHUNK):
            part.write(chunk)
    return part


def sync_export(
    client: Orthanc,
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
    _check_concurrency(concurrency)
    root = export_root(target)
    items = _sync_plan(client, resources, root, layout)
    tracker = Tracker(progress, len(items), sum(item.size or 0 for item in items))
    run = ExportRun(skip_existing, overwrite, ExportManifest(root))
    lane = FastLane.for_client(client)
    with ThreadPoolExecutor(concurrency, thread_name_prefix="kkorthanc-export") as pool:
        futures = [pool.submit(_sync_fetch, client, item, run, lane) for item in items]
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
            run.save()
    return new_report(tracker)


def _sync_plan(
    client: Orthanc, resources: ResourceRef | ResourceRefs, root: Path, layout: str
) -> list[ExportItem]:
    instances: dict[str, dict[str, Any]] = {}
    for level, orthanc_id in resolve_many(resources):
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
    client: Orthanc, item: ExportItem, run: ExportRun, lane: FastLane | None
) -> DownloadRecord:
    route = ("instances", item.orthanc_id, "file")
    try:
        verdict, md5 = run.look(item)
        if verdict is Verdict.UNKNOWN:
            verdict, md5 = run.compare(item, _sync_server_md5(client, item.orthanc_id))
        left = run.settled(item, verdict, md5)
        if left is not None:
            return left
        if lane is not None:
            part = _sync_lane_to(lane, route, item.path, run.made)
        else:
            part = _sync_stream_to(client, route, item.path, run.made)
    except (OrthancHTTPError, OrthancTransportError) as error:
        return export_failure(item, error)
    return run.downloaded(item, part)


def _sync_lane_to(
    lane: FastLane, route: tuple[str, ...], path: Path, made: set[Path] | None = None
) -> PartFile:
    """Like :func:`_sync_stream_to`, through the fast lane."""
    with PartFile(path, made) as part:
        lane.fetch(route, lambda: part.open().write)
    return part


# ---- asyncio ------------------------------------------------------------------------------


async def async_download(
    client: AsyncOrthanc,
    resource: ResourceRef,
    target: str | os.PathLike[str],
    *,
    level: Level | str | None = None,
    media: bool = False,
    skip_existing: bool = True,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Download one resource to a file (see ``AsyncOrthanc.download``)."""
    found_level, orthanc_id = resolve(resource, level)
    path = download_target(target, found_level, orthanc_id, media)
    archive = media or found_level is not Level.INSTANCE
    tracker = Tracker(progress, 1)
    verdict, md5 = (
        (Verdict.DIFFERENT, None)
        if overwrite and not skip_existing
        else await _async_verdict(client, found_level, orthanc_id, path, archive, media)
    )
    action = decide(verdict, skip_existing=skip_existing, overwrite=overwrite)
    part = None
    if action is Action.DOWNLOAD:
        part = await _async_stream_to(client, archive_route(found_level, orthanc_id, media), path)
    record = single_record(
        found_level,
        orthanc_id,
        path,
        action,
        part,
        archive=archive,
        md5=md5,
        replaced_stale=verdict is Verdict.STALE,
    )
    tracker.add(record)
    return new_report(tracker)


async def _async_verdict(
    client: AsyncOrthanc, level: Level, orthanc_id: str, path: Path, archive: bool, media: bool
) -> tuple[Verdict, str | None]:
    if archive:
        if absent(path):
            return Verdict.ABSENT, None
        listing = await client.get(_listing_route(level, orthanc_id))
        return archive_verdict(path, expected_sizes(_as_list(listing)), media), None
    verdict, _ = local_verdict(path, None)
    if verdict is not Verdict.UNKNOWN:
        return verdict, None
    verdict, md5, _ = compare_md5(path, await _async_server_md5(client, orthanc_id))
    return verdict, md5


async def _async_server_md5(client: AsyncOrthanc, orthanc_id: str) -> str:
    try:
        return str(await client.get(_md5_route(orthanc_id)))
    except OrthancHTTPError as error:
        if not _md5_fallback(error):
            raise
    digest = hashlib.md5(usedforsecurity=False)
    async with client.stream("GET", ("instances", orthanc_id, "file")) as response:
        async for chunk in response.aiter_bytes(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def _async_stream_to(
    client: AsyncOrthanc, route: tuple[str, ...], path: Path, made: set[Path] | None = None
) -> PartFile:
    with PartFile(path, made) as part:
        async with client.stream("GET", route) as response:
            part.open()
            async for chunk in response.aiter_bytes(CHUNK):
                part.write(chunk)
    return part


async def async_export(
    client: AsyncOrthanc,
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
    _check_concurrency(concurrency)
    root = export_root(target)
    items = await _async_plan(client, resources, root, layout)
    tracker = Tracker(progress, len(items), sum(item.size or 0 for item in items))
    run = ExportRun(skip_existing, overwrite, ExportManifest(root))
    gate = asyncio.Semaphore(concurrency)
    lane = ThreadedLane.for_client(client, concurrency)
    tasks = [asyncio.create_task(_async_fetch(client, item, run, gate, lane)) for item in items]
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
        run.save()
    return new_report(tracker)


async def _async_plan(
    client: AsyncOrthanc, resources: ResourceRef | ResourceRefs, root: Path, layout: str
) -> list[ExportItem]:
    instances: dict[str, dict[str, Any]] = {}
    for level, orthanc_id in resolve_many(resources):
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
    run: ExportRun,
    gate: asyncio.Semaphore,
    lane: ThreadedLane | None,
) -> DownloadRecord:
    verdict, md5 = run.look(item)
    route = ("instances", item.orthanc_id, "file")
    async with gate:
        try:
            if verdict is Verdict.UNKNOWN:
                server_md5 = await _async_server_md5(client, item.orthanc_id)
                verdict, md5 = run.compare(item, server_md5)
            left = run.settled(item, verdict, md5)
            if left is not None:
                return left
            if lane is not None:
                part = await _async_lane_to(lane, route, item.path, run.made)
            else:
                part = await _async_stream_to(client, route, item.path, run.made)
        except (OrthancHTTPError, OrthancTransportError) as error:
            return export_failure(item, error)
    return run.downloaded(item, part)


async def _async_lane_to(
    lane: ThreadedLane, route: tuple[str, ...], path: Path, made: set[Path] | None = None
) -> PartFile:
    """Like :func:`_async_stream_to`, through the fast lane (the file is written in its thread)."""
    with PartFile(path, made) as part:
        await lane.fetch(route, lambda: part.open().write)
    return part
