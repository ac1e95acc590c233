"""Bulk transfer: concurrent uploads and downloads, outside the generated client layer.

The clients' ``upload``/``download``/``export`` methods call the engines here: a thread pool for
:class:`~kkorthanc.Orthanc`, asyncio tasks for :class:`~kkorthanc.AsyncOrthanc`, sharing every
decision (what to send, what an answer means, what goes into the report).
"""

from __future__ import annotations

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
    "DownloadRecord",
    "DownloadReport",
    "ProgressCallback",
    "TransferOutcome",
    "TransferProgress",
    "UploadRecord",
    "UploadReport",
    "UploadSource",
    "async_upload",
    "sync_upload",
]
