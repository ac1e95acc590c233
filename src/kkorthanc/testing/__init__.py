"""Test harness for code that talks to Orthanc: real servers started on demand."""

from __future__ import annotations

__all__: list[str] = []
