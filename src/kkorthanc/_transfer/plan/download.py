"""Downloads and exports: one resource to a file, many instances to a folder tree.

Shared decisions (targets, names, skip-existing, outcomes) are plain functions; the thread and
asyncio pumps only differ in how they wait. A file appears only when complete: bytes go to a
temporary file in the same folder, renamed at the end, after the HTTP status was checked.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Union

from ..._core.levels import Level
from ..._util.atomic_file import AtomicFile, private_folder
from ...errors import (
    ForbiddenError,
    OrthancError,
    OrthancHTTPError,
    OrthancInputError,
    OrthancTransportError,
    TransferTargetError,
    UnauthorizedError,
)
from .naming import PathAssigner, inside
from .report import DownloadRecord, DownloadReport, Tracker, TransferOutcome
from .verify import (
    Action,
    ExportManifest,
    Verdict,
    conflict_detail,
    decide,
    export_verdict,
    settle,
)

__all__ = [
    "ExportItem",
    "ExportRun",
    "PartFile",
    "ResourceRef",
    "ResourceRefs",
    "TransferTargetError",
    "archive_route",
    "download_target",
    "export_failure",
    "export_root",
    "plan_paths",
    "resolve",
    "resolve_many",
    "single_record",
]

ResourceRef = Union[str, tuple[Union[str, Level], str], Any]
"""A resource object (anything with ``level`` and ``id``), ``(level, orthanc_id)``, or an
Orthanc ID string together with ``level=``."""
ResourceRefs = Iterable[ResourceRef]


def resolve(resource: ResourceRef, level: Level | str | None = None) -> tuple[Level, str]:
    """The level and Orthanc ID of a resource reference.

    Raises:
        OrthancInputError: A bare ID without ``level``, or something that is not a resource.
    """
    if isinstance(resource, tuple) and len(resource) == 2:
        return Level.parse(resource[0]), str(resource[1])
    if isinstance(resource, str):
        if level is None:
            raise OrthancInputError(
                f"give level= with the Orthanc ID {resource!r} (or pass a resource object)"
            )
        return Level.parse(level), resource
    found_level, found_id = getattr(resource, "level", None), getattr(resource, "id", None)
    if found_level is None or not isinstance(found_id, str):
        raise OrthancInputError(f"not a resource: {resource!r}")
    return Level.parse(found_level), found_id


def resolve_many(resources: ResourceRef | ResourceRefs) -> list[tuple[Level, str]]:
    """The levels and Orthanc IDs of one resource reference or an iterable of them.

    One resource object, or one ``(level, orthanc_id)`` pair whose first item is a level, is
    taken as a single resource; anything else must be an iterable of references.

    Raises:
        OrthancInputError: A bare ID (an export has no ``level=``), something that is neither a
            resource nor an iterable of resources.

    Example:
        >>> resolve_many(("Study", "8a8cf898-..."))
        [(<Level.STUDY: 'Study'>, '8a8cf898-...')]
    """
    if _single(resources):
        return [resolve(resources)]
    if isinstance(resources, (str, bytes)):
        raise OrthancInputError(
            f"give (level, orthanc_id) pairs or resource objects, not the bare ID {resources!r}"
        )
    try:
        references = list(resources)
    except TypeError:
        raise OrthancInputError(
            f"not a resource nor an iterable of resources: {resources!r}"
        ) from None
    return [resolve(reference) for reference in references]


def _single(reference: Any) -> bool:
    """Whether ``reference`` names one resource (an object with a level, or a level pair)."""
    if isinstance(reference, tuple):
        if len(reference) != 2 or not isinstance(reference[1], str):
            return False
        try:
            Level.parse(reference[0])
        except OrthancInputError:
            return False
        return True
    return getattr(reference, "level", None) is not None and isinstance(
        getattr(reference, "id", None), str
    )


def archive_route(level: Level, orthanc_id: str, media: bool) -> tuple[str, ...]:
    """The route of a resource's file: the DICOM file of an instance, else a ZIP."""
    if level is Level.INSTANCE and not media:
        return ("instances", orthanc_id, "file")
    return (level.route, orthanc_id, "media" if media else "archive")


def download_target(
    target: str | os.PathLike[str], level: Level, orthanc_id: str, media: bool
) -> Path:
    """The file to write: ``target``, or a file named after the ID inside a folder ``target``:
    ``<id>.dcm`` (an instance's file), ``<id>.zip`` (an archive) or ``<id>.media.zip`` (a media
    archive, with a DICOMDIR), so the two kinds of archive of one resource never share a name.

    Example:
        >>> download_target("out/", Level.STUDY, "8a8cf898-...", media=True).name
        '8a8cf898-....media.zip'
    """
    path = Path(target)
    if path.is_dir() or str(target).endswith(("/", os.sep)):
        return path / f"{orthanc_id}{_SUFFIXES[media or level is not Level.INSTANCE, media]}"
    return path


# (archive, media): the suffix of a file named after its resource's ID.
_SUFFIXES = {(False, False): ".dcm", (True, False): ".zip", (True, True): ".media.zip"}


class PartFile:
    """A download's file: an :class:`AtomicFile` that also counts and hashes what it writes.

    The file is 0600 and new folders 0700 from their creation. The MD5 of the bytes is computed
    as they are written; after the rename, ``status`` is the file's stamp (taken from the open
    file, so it is the stamp of what was written). Errors are :class:`TransferTargetError`.

    As a context manager it commits when the block ends normally and discards on an error.
    """

    def __init__(self, target: Path, made: set[Path] | None = None) -> None:
        self.target = target
        self.size = 0
        self.status: os.stat_result | None = None
        self._file = AtomicFile(target)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._stream: IO[bytes] | None = None
        self._made = made  # folders already created, shared by the files of an export

    @property
    def md5(self) -> str:
        """The MD5 (hex) of the bytes written so far."""
        return self._md5.hexdigest()

    def open(self) -> PartFile:
        """Create the folder (0700) and the temporary file (0600).

        Raises:
            TransferTargetError: The folder or the file cannot be created.
        """
        try:
            folder = self.target.parent
            if self._made is None or folder not in self._made:
                private_folder(folder)
                if self._made is not None:
                    self._made.add(folder)
            self._stream = self._file.open()
        except OSError as error:
            raise _target_error(self.target, error) from error
        return self

    def write(self, chunk: bytes) -> None:
        """Append a chunk.

        Raises:
            TransferTargetError: The disk is full, or the file cannot be written.
        """
        assert self._stream is not None
        try:
            self._stream.write(chunk)
        except OSError as error:
            raise _target_error(self.target, error) from error
        self._md5.update(chunk)
        self.size += len(chunk)

    def __enter__(self) -> PartFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Rename over the target when the block ended normally, else delete."""
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def commit(self) -> None:
        """Rename over the target and close.

        Raises:
            TransferTargetError: The target cannot be replaced (e.g. a folder is in the way).
        """
        try:
            self.status = self._file.commit()
        except OSError as error:
            raise _target_error(self.target, error) from error

    def discard(self) -> None:
        """Close and delete the temporary file (after a failure)."""
        self._file.discard()


def _target_error(target: Path, error: OSError) -> TransferTargetError:
    return TransferTargetError(
        f"cannot write {target}: {error.strerror or error}", path=str(target)
    )


@dataclass(frozen=True)
class ExportItem:
    """One instance of an export: its ID, size and attachment on the server, and its file."""

    orthanc_id: str
    size: int | None
    path: Path
    file_uuid: str | None = None

    def record(self, outcome: TransferOutcome, **more: Any) -> DownloadRecord:
        """A record for this instance."""
        size = more.pop("size", self.size)
        return DownloadRecord(self.orthanc_id, "Instance", str(self.path), outcome, size, **more)

    def conflict(self) -> DownloadRecord:
        """The record of a different file found at this instance's path."""
        detail = conflict_detail(self.path, "this instance (its MD5 differs from the server's)")
        return self.record(TransferOutcome.CONFLICT, detail=detail)


@dataclass
class ExportRun:
    """What the files of one export share: the options, the manifest, the folders made."""

    skip_existing: bool
    overwrite: bool
    manifest: ExportManifest
    made: set[Path] = field(default_factory=set)

    def look(self, item: ExportItem) -> tuple[Verdict, str | None]:
        """The verdict on the item's file without asking the server (UNKNOWN: ask it)."""
        if self.overwrite and not self.skip_existing:
            return Verdict.DIFFERENT, None  # replaced whatever it is: nothing to compare
        key = self.manifest.key(item.path, item.orthanc_id, item.file_uuid)
        return export_verdict(self.manifest, key, item.size, item.path)

    def compare(self, item: ExportItem, server_md5: str) -> tuple[Verdict, str | None]:
        """The verdict once the server's MD5 is known."""
        key = self.manifest.key(item.path, item.orthanc_id, item.file_uuid)
        return settle(self.manifest, key, item.path, server_md5)

    def settled(self, item: ExportItem, verdict: Verdict, md5: str | None) -> DownloadRecord | None:
        """The record of a file left in place (skipped or in conflict), or None: download it."""
        action = decide(verdict, skip_existing=self.skip_existing, overwrite=self.overwrite)
        if action is Action.SKIP:
            return item.record(TransferOutcome.SKIPPED_EXISTING, md5=md5)
        if action is Action.CONFLICT:
            return item.conflict()
        return None

    def downloaded(self, item: ExportItem, part: PartFile) -> DownloadRecord:
        """The record of a file written (remembered in the manifest)."""
        if part.status is not None:
            key = self.manifest.key(item.path, item.orthanc_id, item.file_uuid)
            self.manifest.note(key, part.md5, part.status)
        return item.record(TransferOutcome.DOWNLOADED, size=part.size, md5=part.md5)

    def save(self) -> None:
        """Write the manifest.

        Raises:
            TransferTargetError: It cannot be written.
        """
        try:
            self.manifest.save()
        except OSError as error:
            raise _target_error(self.manifest.path, error) from error


def export_root(target: str | os.PathLike[str]) -> Path:
    """The export folder, created 0700 if missing, checked to be writable (resolved).

    Raises:
        TransferTargetError: It cannot be created or written.
    """
    root = Path(target)
    try:
        private_folder(root)
    except OSError as error:
        raise TransferTargetError(f"cannot create {root}: {error}", path=str(root)) from error
    if not os.access(root, os.W_OK):
        raise TransferTargetError(f"cannot write into {root}", path=str(root))
    return root.resolve()


def single_record(
    level: Level,
    orthanc_id: str,
    path: Path,
    action: Action,
    part: PartFile | None,
    *,
    archive: bool,
    md5: str | None = None,
    replaced_stale: bool = False,
) -> DownloadRecord:
    """The record of a one-resource download: written (``part``), skipped or in conflict.
    ``replaced_stale``: the file written replaced an older archive of the resource."""
    if action is Action.CONFLICT:
        what = "an archive of exactly this resource's instances" if archive else "this instance"
        return DownloadRecord(
            orthanc_id,
            level.value,
            str(path),
            TransferOutcome.CONFLICT,
            detail=conflict_detail(path, what),
        )
    if part is None:
        return DownloadRecord(
            orthanc_id,
            level.value,
            str(path),
            TransferOutcome.SKIPPED_EXISTING,
            path.stat().st_size,
            md5=md5,
        )
    detail = STALE_DETAIL if replaced_stale else None
    return DownloadRecord(
        orthanc_id,
        level.value,
        str(path),
        TransferOutcome.DOWNLOADED,
        part.size,
        detail=detail,
        md5=None if archive else part.md5,
    )


STALE_DETAIL = (
    "replaced an older archive of this resource: it held some of its instances, and the "
    "server has more now"
)


def plan_paths(
    root: Path,
    layout: str,
    instances: Iterable[Mapping[str, Any]],
    series: Mapping[str, Mapping[str, Any]],
    studies: Mapping[str, Mapping[str, Any]],
) -> list[ExportItem]:
    """Give every instance its file under ``root``, deterministically (sorted by Orthanc IDs).

    Args:
        root: The export folder.
        layout: ``"flat"``, ``"tree"`` or a template.
        instances: Instance objects as the server lists them (``ID``, ``FileSize``,
            ``MainDicomTags``, ``ParentSeries``).
        series: Series objects by ID; studies: study objects by ID.

    Raises:
        OrthancInputError: A bad layout.
    """
    assigner = PathAssigner(layout)
    rows = []
    for instance in instances:
        one_series = series[instance["ParentSeries"]]
        study = studies[one_series["ParentStudy"]]
        owners = {
            "Patient": str(study.get("ParentPatient", "")),
            "Study": str(one_series["ParentStudy"]),
            "Series": str(instance["ParentSeries"]),
            "Instance": str(instance["ID"]),
        }
        tags = {
            **study.get("PatientMainDicomTags", {}),
            **study.get("MainDicomTags", {}),
            **one_series.get("MainDicomTags", {}),
            **instance.get("MainDicomTags", {}),
        }
        rows.append((tuple(owners.values()), owners, tags, instance))
    items = []
    folders: dict[str, Path] = {}
    for _, owners, tags, instance in sorted(rows, key=lambda row: row[0]):
        relative = assigner.assign_text(owners, tags)
        size, uuid = instance.get("FileSize"), instance.get("FileUuid")
        items.append(
            ExportItem(
                instance["ID"],
                size if isinstance(size, int) else None,
                inside(root, relative, folders),
                uuid if isinstance(uuid, str) else None,
            )
        )
    return items


def export_failure(item: ExportItem, error: Exception) -> DownloadRecord:
    """The record of one instance that could not be exported, unless the error is fatal.

    Raises:
        OrthancHTTPError: Credentials refused or access forbidden: every instance would fail.
        TransferTargetError: The target cannot be written.
    """
    if isinstance(error, (UnauthorizedError, ForbiddenError, TransferTargetError)):
        raise error
    status = error.status_code if isinstance(error, OrthancHTTPError) else None
    if not isinstance(error, (OrthancHTTPError, OrthancTransportError)):
        raise error
    return item.record(TransferOutcome.FAILED, size=None, status_code=status, detail=str(error))


def abort_export(error: OrthancError, tracker: Tracker) -> OrthancError:
    """Attach the partial report to a fatal error (``error.report``) and return it."""
    error.report = DownloadReport(list(tracker.records))
    return error


def new_report(tracker: Tracker) -> DownloadReport:
    """The final report."""
    return DownloadReport(list(tracker.records))
