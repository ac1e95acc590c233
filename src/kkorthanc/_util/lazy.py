"""Checks that need pydicom only when pydicom is already in use.

pydicom (with its data dictionary and numpy) takes longer to import than the rest of KkOrthanc;
it is imported where DICOM is really parsed, not when the package is.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["is_dataset"]


def is_dataset(value: Any) -> TypeGuard[Dataset]:
    """Whether ``value`` is a pydicom ``Dataset``; a value can only be one when pydicom is loaded.

    Example:
        >>> is_dataset(b"DICM")
        False
    """
    module = sys.modules.get("pydicom.dataset")
    return module is not None and isinstance(value, module.Dataset)
