"""Instance data (file, dataset, numpy, pictures) and series montages: resource mixins.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from ._resource import AsyncResource

__all__ = ["AsyncInstanceData", "AsyncSeriesImages"]


class AsyncInstanceData(AsyncResource):
    """Mixed into the resource classes (to be filled)."""


class AsyncSeriesImages(AsyncResource):
    """Mixed into the resource classes (to be filled)."""
