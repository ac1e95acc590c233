"""KkOrthanc: a Python toolkit for the Orthanc DICOM server.

Example:
    >>> import kkorthanc
    >>> with kkorthanc.Orthanc("http://localhost:8042", auth=("orthanc", "orthanc")) as client:
    ...     print(client.system().version)  # doctest: +SKIP
    1.12.7
"""

from __future__ import annotations

import logging

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
    TransferTargetError,
    UploadRecord,
    UploadReport,
)
from ._uids import InstanceUids, PatientUids, SeriesUids, StudyUids
from .errors import (
    ConflictError,
    DicomNetworkError,
    ForbiddenError,
    ForceRequiredError,
    JobFailedError,
    NotFoundError,
    OrthancError,
    OrthancHTTPError,
    OrthancInputError,
    UnauthorizedError,
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
    "Capabilities",
    "Change",
    "ConflictError",
    "DicomNetworkError",
    "DownloadRecord",
    "DownloadReport",
    "Finding",
    "ForbiddenError",
    "ForceRequiredError",
    "Instance",
    "InstanceUids",
    "Job",
    "JobFailedError",
    "JobInfo",
    "JobState",
    "Level",
    "Modality",
    "ModalityConfig",
    "NotFoundError",
    "Orthanc",
    "OrthancError",
    "OrthancHTTPError",
    "OrthancInputError",
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
    "UploadRecord",
    "UploadReport",
    "Watch",
    "check_anonymized",
    "confidentiality_profile",
    "orthanc_id",
    "orthanc_ids",
    "__version__",
]
