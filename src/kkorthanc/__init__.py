"""KkOrthanc: a Python toolkit for the Orthanc DICOM server."""

from __future__ import annotations

import logging

__version__ = "0.2.0.dev0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
