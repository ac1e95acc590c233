"""Modify and anonymize. Mixins of the resource classes.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from ._resource import AsyncResource

__all__ = ["AsyncModifiable"]


class AsyncModifiable(AsyncResource):
    """Mixed into the resource classes (to be filled)."""
