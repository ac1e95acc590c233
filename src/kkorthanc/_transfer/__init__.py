"""Bulk transfer: concurrent uploads and downloads, outside the generated client layer.

The clients' ``upload``/``download``/``export`` methods call the engines here: a thread pool for
:class:`~kkorthanc.Orthanc`, asyncio tasks for :class:`~kkorthanc.AsyncOrthanc`, sharing every
decision (what to send, what an answer means, what goes into the report).
"""

from __future__ import annotations

from ._download import ResourceRef, ResourceRefs, TransferTargetError
from ._download_pumps import async_download, async_export, sync_download, sync_export
from ._limits import ArchiveLimits
from ._naming import ExportLayout, sanitize
from ._report import (
    DownloadRecord,
    DownloadReport,
    ProgressCallback,
    TransferOutcome,
    TransferProgress,
    UploadRecord,
    UploadReport,
)
from ._sources import UploadSource
from ._upload import async_upload, sync_upload

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
