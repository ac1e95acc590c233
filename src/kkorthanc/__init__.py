"""KkOrthanc: a Python toolkit for the Orthanc DICOM server.

Public names are imported on first use: ``import kkorthanc`` (which the pytest plugin of every
KkOrthanc user loads in each pytest run) imports neither httpx nor asyncio nor pydicom until a name
that needs them is used.

Example:
    >>> import kkorthanc
    >>> with kkorthanc.Orthanc("http://localhost:8042", auth=("orthanc", "orthanc")) as client:
    ...     print(client.system().version)  # doctest: +SKIP
    1.12.7
"""

from __future__ import annotations

import importlib
import logging
import typing

if typing.TYPE_CHECKING:
    from ._client._async._changes import AsyncWatch
    from ._client._async._client import AsyncOrthanc
    from ._client._async._jobs import AsyncJob
    from ._client._async._modalities import AsyncModality, AsyncQuery, AsyncQueryAnswer
    from ._client._async._peers import AsyncPeer
    from ._client._async._resources import (
        AsyncInstance,
        AsyncPatient,
        AsyncSeries,
        AsyncStudy,
    )
    from ._client._async._tree import AsyncTree
    from ._client._sync._changes import Watch
    from ._client._sync._client import Orthanc
    from ._client._sync._jobs import Job
    from ._client._sync._modalities import Modality, Query, QueryAnswer
    from ._client._sync._peers import Peer
    from ._client._sync._resources import Instance, Patient, Series, Study
    from ._client._sync._tree import Tree
    from ._core.config import Timeout
    from ._core.levels import Level
    from ._core.models.annotations import AttachmentInfo, ResourceStatistics
    from ._core.models.operations import Change, JobInfo, JobState, ModalityConfig, PeerConfig
    from ._core.models.system import Capabilities, Statistics, SystemInfo
    from ._core.retry import Retry
    from ._core.uids import InstanceUids, PatientUids, SeriesUids, StudyUids
    from ._dicom.deid import Finding, check_anonymized, confidentiality_profile
    from ._dicom.ids import ResourceIds, orthanc_id, orthanc_ids
    from ._transfer import (
        ArchiveLimits,
        DownloadRecord,
        DownloadReport,
        TransferOutcome,
        TransferProgress,
        UploadRecord,
        UploadReport,
    )
    from .errors import (
        BadRequestError,
        ChrootPathError,
        ClientClosedError,
        ConflictError,
        DicomNetworkError,
        ForbiddenError,
        ForceRequiredError,
        InsecureTransportWarning,
        InvalidURLError,
        JobFailedError,
        LauncherError,
        MethodNotAllowedError,
        MissingDependencyError,
        NotFoundError,
        OrthancConnectionError,
        OrthancError,
        OrthancHTTPError,
        OrthancInputError,
        OrthancNotInstalledError,
        OrthancStartError,
        OrthancTimeoutError,
        OrthancTLSError,
        OrthancTransportError,
        ServerError,
        TransferTargetError,
        UnauthorizedError,
        UnexpectedContentError,
        UnprocessableEntityError,
        UnsafePathError,
        UnsupportedFeatureError,
        UnsupportedMediaTypeError,
    )

__version__ = "0.2.0.dev0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ArchiveLimits",
    "AsyncInstance",
    "AsyncJob",
    "AsyncModality",
    "AsyncOrthanc",
    "AsyncPatient",
    "AsyncPeer",
    "AsyncQuery",
    "AsyncQueryAnswer",
    "AsyncSeries",
    "AsyncStudy",
    "AsyncTree",
    "AsyncWatch",
    "AttachmentInfo",
    "BadRequestError",
    "Capabilities",
    "Change",
    "ChrootPathError",
    "ClientClosedError",
    "ConflictError",
    "DicomNetworkError",
    "DownloadRecord",
    "DownloadReport",
    "Finding",
    "ForbiddenError",
    "ForceRequiredError",
    "InsecureTransportWarning",
    "Instance",
    "InstanceUids",
    "InvalidURLError",
    "Job",
    "JobFailedError",
    "JobInfo",
    "JobState",
    "LauncherError",
    "Level",
    "MethodNotAllowedError",
    "MissingDependencyError",
    "Modality",
    "ModalityConfig",
    "NotFoundError",
    "Orthanc",
    "OrthancConnectionError",
    "OrthancError",
    "OrthancHTTPError",
    "OrthancInputError",
    "OrthancNotInstalledError",
    "OrthancStartError",
    "OrthancTLSError",
    "OrthancTimeoutError",
    "OrthancTransportError",
    "Patient",
    "PatientUids",
    "Peer",
    "PeerConfig",
    "Query",
    "QueryAnswer",
    "ResourceIds",
    "ResourceStatistics",
    "Retry",
    "Series",
    "SeriesUids",
    "ServerError",
    "Statistics",
    "Study",
    "StudyUids",
    "SystemInfo",
    "Timeout",
    "TransferOutcome",
    "TransferProgress",
    "TransferTargetError",
    "Tree",
    "UnauthorizedError",
    "UnexpectedContentError",
    "UnprocessableEntityError",
    "UnsafePathError",
    "UnsupportedFeatureError",
    "UnsupportedMediaTypeError",
    "UploadRecord",
    "UploadReport",
    "Watch",
    "check_anonymized",
    "confidentiality_profile",
    "orthanc_id",
    "orthanc_ids",
    "__version__",
]

# Where each public name is defined (a test checks this against the imports above).
_ORIGINS: dict[str, str] = {
    "ArchiveLimits": "._transfer",
    "AsyncInstance": "._client._async._resources",
    "AsyncJob": "._client._async._jobs",
    "AsyncModality": "._client._async._modalities",
    "AsyncOrthanc": "._client._async._client",
    "AsyncPatient": "._client._async._resources",
    "AsyncPeer": "._client._async._peers",
    "AsyncQuery": "._client._async._modalities",
    "AsyncQueryAnswer": "._client._async._modalities",
    "AsyncSeries": "._client._async._resources",
    "AsyncStudy": "._client._async._resources",
    "AsyncTree": "._client._async._tree",
    "AsyncWatch": "._client._async._changes",
    "AttachmentInfo": "._core.models.annotations",
    "BadRequestError": ".errors",
    "Capabilities": "._core.models.system",
    "Change": "._core.models.operations",
    "ChrootPathError": ".errors",
    "ClientClosedError": ".errors",
    "ConflictError": ".errors",
    "DicomNetworkError": ".errors",
    "DownloadRecord": "._transfer",
    "DownloadReport": "._transfer",
    "Finding": "._dicom.deid",
    "ForbiddenError": ".errors",
    "ForceRequiredError": ".errors",
    "InsecureTransportWarning": ".errors",
    "Instance": "._client._sync._resources",
    "InstanceUids": "._core.uids",
    "InvalidURLError": ".errors",
    "Job": "._client._sync._jobs",
    "JobFailedError": ".errors",
    "JobInfo": "._core.models.operations",
    "JobState": "._core.models.operations",
    "LauncherError": ".errors",
    "Level": "._core.levels",
    "MethodNotAllowedError": ".errors",
    "MissingDependencyError": ".errors",
    "Modality": "._client._sync._modalities",
    "ModalityConfig": "._core.models.operations",
    "NotFoundError": ".errors",
    "Orthanc": "._client._sync._client",
    "OrthancConnectionError": ".errors",
    "OrthancError": ".errors",
    "OrthancHTTPError": ".errors",
    "OrthancInputError": ".errors",
    "OrthancNotInstalledError": ".errors",
    "OrthancStartError": ".errors",
    "OrthancTLSError": ".errors",
    "OrthancTimeoutError": ".errors",
    "OrthancTransportError": ".errors",
    "Patient": "._client._sync._resources",
    "PatientUids": "._core.uids",
    "Peer": "._client._sync._peers",
    "PeerConfig": "._core.models.operations",
    "Query": "._client._sync._modalities",
    "QueryAnswer": "._client._sync._modalities",
    "ResourceIds": "._dicom.ids",
    "ResourceStatistics": "._core.models.annotations",
    "Retry": "._core.retry",
    "Series": "._client._sync._resources",
    "SeriesUids": "._core.uids",
    "ServerError": ".errors",
    "Statistics": "._core.models.system",
    "Study": "._client._sync._resources",
    "StudyUids": "._core.uids",
    "SystemInfo": "._core.models.system",
    "Timeout": "._core.config",
    "TransferOutcome": "._transfer",
    "TransferProgress": "._transfer",
    "TransferTargetError": ".errors",
    "Tree": "._client._sync._tree",
    "UnauthorizedError": ".errors",
    "UnexpectedContentError": ".errors",
    "UnprocessableEntityError": ".errors",
    "UnsafePathError": ".errors",
    "UnsupportedFeatureError": ".errors",
    "UnsupportedMediaTypeError": ".errors",
    "UploadRecord": "._transfer",
    "UploadReport": "._transfer",
    "Watch": "._client._sync._changes",
    "check_anonymized": "._dicom.deid",
    "confidentiality_profile": "._dicom.deid",
    "orthanc_id": "._dicom.ids",
    "orthanc_ids": "._dicom.ids",
}


def __getattr__(name: str) -> typing.Any:
    """Import a public name from its module on first use, then keep it here."""
    origin = _ORIGINS.get(name)
    if origin is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(origin, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
