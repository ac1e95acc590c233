"""The files of a server's data folder, by name, and reading them back.

``orthanc.json`` (the effective configuration), ``kkorthanc-server.json`` (what the launcher
keeps between starts: PostgreSQL, executable, chroot, TLS), ``orthanc.pid``, ``orthanc.log`` and
``kkorthanc-password``. Readers never fail on a missing file: a folder never started reads as
empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import LauncherError
from ._options import CONFIG_NAME

__all__ = [
    "CONFIG_NAME",
    "LOG_NAME",
    "PASSWORD_NAME",
    "PID_NAME",
    "STATE_NAME",
    "config_auth",
    "read_config",
    "read_log",
    "read_state",
]

PID_NAME = "orthanc.pid"
LOG_NAME = "orthanc.log"
STATE_NAME = "kkorthanc-server.json"
PASSWORD_NAME = "kkorthanc-password"


def read_config(data_dir: Path) -> dict[str, Any]:
    """The configuration written by the last start (empty if never started).

    Raises:
        LauncherError: The file exists but is not valid JSON.

    Example:
        >>> read_config(Path("orthanc-data"))["HttpPort"]  # doctest: +SKIP
        8042
    """
    path = Path(data_dir) / CONFIG_NAME
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise LauncherError(f"{path} is not valid JSON: {error}") from error
    return value if isinstance(value, dict) else {}


def read_log(data_dir: Path) -> str:
    """Everything Orthanc wrote to ``DATA/orthanc.log`` (empty when there is no log yet).

    Raises:
        OSError: The log exists but cannot be read.

    Example:
        >>> "HTTP server listening" in read_log(Path("orthanc-data"))  # doctest: +SKIP
        True
    """
    try:
        return (Path(data_dir) / LOG_NAME).read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def read_state(data_dir: Path) -> dict[str, Any]:
    """What the last start kept in ``kkorthanc-server.json`` (empty if missing or corrupt).

    Raises:
        Nothing.

    Example:
        >>> read_state(Path("/nonexistent"))
        {}
    """
    try:
        value = json.loads((data_dir / STATE_NAME).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def config_auth(config: dict[str, Any]) -> tuple[str, str] | None:
    """The first registered user and password, None when authentication is off.

    Raises:
        Nothing.

    Example:
        >>> config_auth({"AuthenticationEnabled": True, "RegisteredUsers": {"alice": "pw"}})
        ('alice', 'pw')
    """
    users: dict[str, str] = config.get("RegisteredUsers") or {}
    if not config.get("AuthenticationEnabled") or not users:
        return None
    return next(iter(users.items()))
