"""The command groups of ``kkorthanc``, registered in this order (see the package docstring)."""

from __future__ import annotations

from types import ModuleType

from . import server as server
from . import system as system

__all__ = ["COMMANDS"]

COMMANDS: list[ModuleType] = [server, system]
