"""Bulk transfer: concurrent uploads and downloads, below the clients.

The clients' ``upload``/``download``/``export`` methods call the engines here: a thread pool for
:class:`~kkorthanc.Orthanc`, asyncio tasks for :class:`~kkorthanc.AsyncOrthanc`, sharing every
decision (what to send, what an answer means, what goes into the report). :mod:`.plan` decides,
:mod:`.pumps` runs, :mod:`.lane` is the fast connection. The engines talk to a client only through
:mod:`kkorthanc._core.seam`; they never name a client class.

May import: :mod:`kkorthanc._dicom`, :mod:`kkorthanc._core`, :mod:`kkorthanc._util`,
:mod:`kkorthanc.errors`.
"""

from __future__ import annotations

from .plan.download import ResourceRef, ResourceRefs, TransferTargetError
from .plan.limits import ArchiveLimits
from .plan.naming import ExportLayout, sanitize
from .plan.report import (
    DownloadRecord,
    DownloadReport,
    ProgressCallback,
    TransferOutcome,
    TransferProgress,
    UploadRecord,
    UploadReport,
)
from .plan.sources import UploadSource
from .pumps.download import async_download, async_export, sync_download, sync_export
from .pumps.upload import async_upload, sync_upload

__all__ = [
    "ArchiveLimits",
    "DownloadRecord",
    "DownloadReport",
    "ExportLayout",
    "ProgressCallback",
    "ResourceRef",
    "ResourceRefs",
    "TransferOutcome",
    "TransferProgress",
    "TransferTargetError",
    "UploadRecord",
    "UploadReport",
    "UploadSource",
    "async_download",
    "async_export",
    "async_upload",
    "sanitize",
    "sync_download",
    "sync_export",
    "sync_upload",
]
