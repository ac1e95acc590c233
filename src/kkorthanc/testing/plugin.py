"""Pytest plugin of KkOrthanc (registered as the ``kkorthanc`` pytest11 entry point)."""

from __future__ import annotations
