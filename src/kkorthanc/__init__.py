"""KkOrthanc: a Python toolkit for the Orthanc DICOM server.

Example:
    >>> import kkorthanc
    >>> with kkorthanc.Orthanc("http://localhost:8042", auth=("orthanc", "orthanc")) as client:
    ...     print(client.system().version)  # doctest: +SKIP
    1.12.7
"""

from __future__ import annotations

import logging

from ._async._client import AsyncOrthanc
from ._config import Retry, Timeout
from ._models import Capabilities, Statistics, SystemInfo
from ._sync._client import Orthanc
from .errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    OrthancError,
    OrthancHTTPError,
    OrthancInputError,
    UnauthorizedError,
)

__version__ = "0.2.0.dev0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AsyncOrthanc",
    "Capabilities",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "Orthanc",
    "OrthancError",
    "OrthancHTTPError",
    "OrthancInputError",
    "Retry",
    "Statistics",
    "SystemInfo",
    "Timeout",
    "UnauthorizedError",
    "__version__",
]
