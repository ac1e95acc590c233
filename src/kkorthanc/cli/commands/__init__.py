"""The command groups of ``kkorthanc``, registered in this order (see the package docstring)."""

from __future__ import annotations

from types import ModuleType

from . import browse as browse
from . import changes as changes
from . import jobs as jobs
from . import manage as manage
from . import network as network
from . import operations as operations
from . import server as server
from . import system as system
from . import transfer as transfer

__all__ = ["COMMANDS"]

COMMANDS: list[ModuleType] = [server, transfer, browse, manage, system]
COMMANDS += [operations, jobs, network, changes]
