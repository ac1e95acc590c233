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
    from ._annotation_models import AttachmentInfo, ResourceStatistics
    from ._async._changes import AsyncWatch
    from ._async._client import AsyncOrthanc
    from ._async._jobs import AsyncJob
    from ._async._modalities import AsyncModality, AsyncQuery, AsyncQueryAnswer
    from ._async._peers import AsyncPeer
    from ._async._resources import (
        AsyncInstance,
        AsyncPatient,
        AsyncSeries,
        AsyncStudy,
    )
    from ._async._tree import AsyncTree
    from ._config import Retry, Timeout
    from ._deid import Finding, check_anonymized, confidentiality_profile
    from ._ids import ResourceIds, orthanc_id, orthanc_ids
    from ._levels import Level
    from ._models import Capabilities, Statistics, SystemInfo
    from ._ops_models import Change, JobInfo, JobState, ModalityConfig, PeerConfig
    from ._sync._changes import Watch
    from ._sync._client import Orthanc
    from ._sync._jobs import Job
    from ._sync._modalities import Modality, Query, QueryAnswer
    from ._sync._peers import Peer
    from ._sync._resources import Instance, Patient, Series, Study
    from ._sync._tree import Tree
    from ._transfer import (
        ArchiveLimits,
        DownloadRecord,
        DownloadReport,
        TransferOutcome,
        TransferProgress,
        UploadRecord,
        UploadReport,
    )
    from ._uids import InstanceUids, PatientUids, SeriesUids, StudyUids
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
    "AsyncInstance": "._async._resources",
    "AsyncJob": "._async._jobs",
    "AsyncModality": "._async._modalities",
    "AsyncOrthanc": "._async._client",
    "AsyncPatient": "._async._resources",
    "AsyncPeer": "._async._peers",
    "AsyncQuery": "._async._modalities",
    "AsyncQueryAnswer": "._async._modalities",
    "AsyncSeries": "._async._resources",
    "AsyncStudy": "._async._resources",
    "AsyncTree": "._async._tree",
    "AsyncWatch": "._async._changes",
    "AttachmentInfo": "._annotation_models",
    "BadRequestError": ".errors",
    "Capabilities": "._models",
    "Change": "._ops_models",
    "ChrootPathError": ".errors",
    "ClientClosedError": ".errors",
    "ConflictError": ".errors",
    "DicomNetworkError": ".errors",
    "DownloadRecord": "._transfer",
    "DownloadReport": "._transfer",
    "Finding": "._deid",
    "ForbiddenError": ".errors",
    "ForceRequiredError": ".errors",
    "InsecureTransportWarning": ".errors",
    "Instance": "._sync._resources",
    "InstanceUids": "._uids",
    "InvalidURLError": ".errors",
    "Job": "._sync._jobs",
    "JobFailedError": ".errors",
    "JobInfo": "._ops_models",
    "JobState": "._ops_models",
    "LauncherError": ".errors",
    "Level": "._levels",
    "MethodNotAllowedError": ".errors",
    "MissingDependencyError": ".errors",
    "Modality": "._sync._modalities",
    "ModalityConfig": "._ops_models",
    "NotFoundError": ".errors",
    "Orthanc": "._sync._client",
    "OrthancConnectionError": ".errors",
    "OrthancError": ".errors",
    "OrthancHTTPError": ".errors",
    "OrthancInputError": ".errors",
    "OrthancNotInstalledError": ".errors",
    "OrthancStartError": ".errors",
    "OrthancTLSError": ".errors",
    "OrthancTimeoutError": ".errors",
    "OrthancTransportError": ".errors",
    "Patient": "._sync._resources",
    "PatientUids": "._uids",
    "Peer": "._sync._peers",
    "PeerConfig": "._ops_models",
    "Query": "._sync._modalities",
    "QueryAnswer": "._sync._modalities",
    "ResourceIds": "._ids",
    "ResourceStatistics": "._annotation_models",
    "Retry": "._config",
    "Series": "._sync._resources",
    "SeriesUids": "._uids",
    "ServerError": ".errors",
    "Statistics": "._models",
    "Study": "._sync._resources",
    "StudyUids": "._uids",
    "SystemInfo": "._models",
    "Timeout": "._config",
    "TransferOutcome": "._transfer",
    "TransferProgress": "._transfer",
    "TransferTargetError": ".errors",
    "Tree": "._sync._tree",
    "UnauthorizedError": ".errors",
    "UnexpectedContentError": ".errors",
    "UnprocessableEntityError": ".errors",
    "UnsafePathError": ".errors",
    "UnsupportedFeatureError": ".errors",
    "UnsupportedMediaTypeError": ".errors",
    "UploadRecord": "._transfer",
    "UploadReport": "._transfer",
    "Watch": "._sync._changes",
    "check_anonymized": "._deid",
    "confidentiality_profile": "._deid",
    "orthanc_id": "._ids",
    "orthanc_ids": "._ids",
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
