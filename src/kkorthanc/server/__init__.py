"""Run a real Orthanc on this machine, with every file it owns in one data directory.

The data directory holds the effective configuration (``orthanc.json``), the storage and the
SQLite index (``db/``), the log (``orthanc.log``), the pid file (``orthanc.pid``) and, with
``postgres="local"``, a private PostgreSQL cluster (``postgres/``). Data survives restarts, like
the docker setup with a mounted configuration and storage folder that :func:`write_compose`
writes for machines with docker.

Orthanc listens on every interface but, unless ``remote=True``, refuses clients other than the
loopback; remote access requires authentication. Authentication is on by default (a generated
password kept in ``kkorthanc-password``, 0600, unless ``users`` or ``no_auth`` say otherwise),
the folder is its owner's alone (0700, files 0600, Orthanc runs with umask 077), a folder or
configuration another account could have written is refused (:class:`UnsafePathError`), and
the DICOM port admits registered modalities only. Started by root, Orthanc runs as an
unprivileged account (``ServerOptions.run_as``, default ``orthanc``), which then owns the data
directory, or root refuses unless ``allow_root``. With ``tls_cert``/``tls_key`` Orthanc moves
to an internal loopback-only port and a TLS relay, run as the same account, serves HTTPS on the
public one (Orthanc's own ``SslEnabled`` crashes the Debian builds). See ``docs/security.md``.

Exceptions: :class:`LauncherError`, :class:`OrthancNotInstalledError`,
:class:`OrthancStartError`, :class:`UnsafePathError` and, for contradictory options,
:class:`~kkorthanc.errors.OrthancInputError`; where each sits in the tree: :mod:`kkorthanc.errors`.

Example:
    >>> from pathlib import Path
    >>> from kkorthanc.server import ServerOptions, start_server, stop_server
    >>> options = ServerOptions(Path("pacs"), users={"alice": "s3cret"})
    >>> status = start_server(options)  # doctest: +SKIP
    >>> status.url  # doctest: +SKIP
    'http://127.0.0.1:8042'
    >>> stop_server(Path("pacs"))  # doctest: +SKIP
    True
"""

from __future__ import annotations

from ..errors import (
    LauncherError,
    OrthancNotInstalledError,
    OrthancStartError,
    UnsafePathError,
)
from ._compose import compose_files, write_compose
from ._folder import read_config, read_log
from ._local import (
    SERVER_INSTALL_HINT,
    ServerStatus,
    run_foreground,
    server_status,
    start_server,
    stop_server,
)
from ._options import (
    PLUGINS,
    ServerOptions,
    dicom_summary,
    effective_config,
    parse_setting,
    parse_user,
    redact_config,
    redact_uri,
)
from ._postgres import LocalPostgres
from ._process import is_alive

__all__ = [
    "PLUGINS",
    "SERVER_INSTALL_HINT",
    "LauncherError",
    "LocalPostgres",
    "OrthancNotInstalledError",
    "OrthancStartError",
    "ServerOptions",
    "ServerStatus",
    "UnsafePathError",
    "compose_files",
    "dicom_summary",
    "effective_config",
    "is_alive",
    "parse_setting",
    "parse_user",
    "read_config",
    "read_log",
    "redact_config",
    "redact_uri",
    "run_foreground",
    "server_status",
    "start_server",
    "stop_server",
    "write_compose",
]
