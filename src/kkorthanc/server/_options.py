"""What a local Orthanc server is asked to be, and the effective JSON configuration it gets."""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OrthancInputError, OrthancNotInstalledError
from ._binary import OrthancBinary
from ._launcher import DICOM_ACCEPT, build_config, dicom_access

__all__ = [
    "CONFIG_NAME",
    "PLUGINS",
    "ServerOptions",
    "dicom_summary",
    "effective_config",
    "parse_setting",
    "parse_user",
    "redact_config",
    "redact_uri",
]

CONFIG_NAME = "orthanc.json"
KK_SCRIPT_NAME = "kkorthanc_plugin.py"
DEFAULT_HTTP_PORT = 8042
DEFAULT_DICOM_PORT = 4242
DEFAULT_AET = "ORTHANC"

# --plugin NAME -> (shared library, Debian package providing it)
PLUGINS: dict[str, tuple[str, str]] = {
    "python": ("libOrthancPython.so", "orthanc-python"),
    "dicomweb": ("libOrthancDicomWeb.so", "orthanc-dicomweb"),
    "postgresql": ("libOrthancPostgreSQLIndex.so", "orthanc-postgresql"),
    "kk": ("libOrthancPython.so", "orthanc-python"),
}
# Keys the options own: a --config file cannot move storage out of the data directory.
_OWNED_KEYS = frozenset(
    {"StorageDirectory", "IndexDirectory", "HttpPort", "DicomPort", "DicomAet", "Plugins"}
)
# Merged with the options' users above, never applied over them afterwards.
_USER_KEYS = frozenset({"RegisteredUsers", "AuthenticationEnabled"})
# Defaults for a long-lived server (the launcher's own defaults suit throw-away test servers).
_SERVER_DEFAULTS: dict[str, Any] = {"StableAge": 60, "SaveJobs": True, "HttpTimeout": 600}


@dataclass(frozen=True)
class ServerOptions:
    """How to run a local Orthanc whose configuration, database and logs live in one directory.

    Options left as None take the value of the ``config_file``, else Orthanc's usual default.

    Attributes:
        data_dir: The directory holding ``orthanc.json``, the storage (``db/``), the log and the
            pid file. For a chroot binary it must lie inside the chroot.
        http_port: The REST API port (default 8042).
        dicom_port: The DICOM port (default 4242).
        aet: The server's AE title (default ``ORTHANC``).
        users: ``{name: password}``; authentication is on when not empty.
        settings: Orthanc options applied last (``--set Key=Value``).
        config_file: A JSON configuration to start from.
        plugins: Plugin names from :data:`PLUGINS`: ``python``, ``dicomweb``, ``postgresql``,
            ``kk`` (KkOrthanc's own plugin script).
        executable: The Orthanc program (name or path).
        chroot: Run the Orthanc installed in this chroot (needs root).
        remote: Let other machines in; needs ``users``.
        postgres: A PostgreSQL connection URI for the index, or ``"local"`` for a private
            cluster inside ``data_dir``; None keeps SQLite.
        name: The server's ``Name``.
        dicom_accept: Who may associate with the DICOM port: ``"known"`` (only the registered
            modalities, from their registered host, calling this server's AE title) or
            ``"any"`` (any AE title from any host: Orthanc's own default). None keeps the
            ``config_file``'s choice, else ``"known"``.
        no_auth: Turn authentication off (a throw-away server every local user may use).
            Without it and without ``users``, the first start generates a user ``kkorthanc``
            with a random password, kept in ``data_dir/kkorthanc-password`` (0600).
        run_as: Started as root, run Orthanc as this account (default: the ``orthanc``
            system account when it exists); the data folder then belongs to it. Give it on
            every start: a folder owned by another account is refused.
        allow_root: Started as root, keep Orthanc (its plugins, Lua and Python scripts) root.
        tls_cert: A PEM certificate (chain): serve HTTPS on the public port through a TLS
            relay, Orthanc itself on an internal loopback-only port. Needs ``tls_key``; both
            are copied into ``data_dir`` (0600) and kept for later starts.
        tls_key: The certificate's private key (PEM, not encrypted).

    Raises:
        OrthancInputError: From :meth:`validate` (and :func:`effective_config`) for
            contradictory options; building the object checks nothing.

    Example:
        >>> ServerOptions(Path("/tmp/o"), users={"alice": "s3cret"}).url
        'http://127.0.0.1:8042'
    """

    data_dir: Path
    http_port: int | None = None
    dicom_port: int | None = None
    aet: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    config_file: Path | None = None
    plugins: tuple[str, ...] = ()
    executable: str = "Orthanc"
    chroot: Path | None = None
    remote: bool = False
    postgres: str | None = None
    name: str = "KkOrthanc"
    dicom_accept: str | None = None
    no_auth: bool = False
    run_as: str | None = None
    allow_root: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def binary(self) -> OrthancBinary:
        """The Orthanc executable these options run.

        Raises:
            Nothing: the executable is looked up only when the server starts.

        Example:
            >>> ServerOptions(Path("d"), chroot=Path("/srv/trixie")).binary.chroot
            PosixPath('/srv/trixie')
        """
        return OrthancBinary(self.executable, self.chroot)

    @property
    def url(self) -> str:
        """The loopback URL the server will answer on (``https`` with ``tls_cert``).

        Raises:
            OrthancInputError: The ``config_file`` cannot be read.

        Example:
            >>> ServerOptions(Path("d"), http_port=8043).url
            'http://127.0.0.1:8043'
        """
        port = self.http_port or self.file_config().get("HttpPort") or DEFAULT_HTTP_PORT
        return f"{'https' if self.tls_cert else 'http'}://127.0.0.1:{port}"

    def file_config(self) -> dict[str, Any]:
        """The content of :attr:`config_file` (empty without one). The data folder's own
        ``orthanc.json`` is read without following a link.

        Raises:
            OrthancInputError: The file is missing, not a JSON object, or the data folder's
                ``orthanc.json`` is a link.

        Example:
            >>> ServerOptions(Path("d")).file_config()
            {}
        """
        if self.config_file is None:
            return {}
        path = Path(self.config_file)
        # The data folder's own orthanc.json (a restart) is never read through a link: the folder
        # may belong to the account Orthanc runs as, which could swap one in after the check.
        own = os.path.abspath(path) == os.path.abspath(Path(self.data_dir) / CONFIG_NAME)
        flags = os.O_RDONLY | (os.O_NOFOLLOW if own else 0)
        try:
            with os.fdopen(os.open(path, flags), encoding="utf-8") as stream:
                value = json.loads(stream.read())
        except (OSError, ValueError) as error:
            raise OrthancInputError(f"cannot read --config {self.config_file}: {error}") from error
        if not isinstance(value, dict):
            raise OrthancInputError(f"--config {self.config_file} must hold a JSON object")
        return value

    def validate(self) -> None:
        """Refuse contradictory options before anything is written or started.

        Raises:
            OrthancInputError: An unknown plugin, a bad port, ``remote`` without users, the
                ``postgresql`` plugin without a ``postgres`` connection, or ``tls_cert``
                without ``tls_key`` (or the reverse).

        Example:
            >>> ServerOptions(Path("d"), remote=True).validate()
            Traceback (most recent call last):
            ...
            kkorthanc.errors.OrthancInputError: --remote opens the server to other machines: \
give --user NAME:PASSWORD too
        """
        unknown = [name for name in self.plugins if name not in PLUGINS]
        if unknown:
            raise OrthancInputError(
                f"unknown plugin {', '.join(unknown)}; choose from {', '.join(sorted(PLUGINS))}"
            )
        if self.dicom_accept is not None and self.dicom_accept not in DICOM_ACCEPT:
            raise OrthancInputError(
                f"--dicom-accept must be one of {', '.join(DICOM_ACCEPT)}, "
                f"not {self.dicom_accept!r}"
            )
        for port in (self.http_port, self.dicom_port):
            if port is not None and not 0 < port < 65536:
                raise OrthancInputError(f"port {port} is not between 1 and 65535")
        if "postgresql" in self.plugins and not self.postgres:
            raise OrthancInputError("the postgresql plugin needs --postgres DSN (or local)")
        if self.remote and not self.users:
            raise OrthancInputError(
                "--remote opens the server to other machines: give --user NAME:PASSWORD too"
            )
        if self.run_as and self.allow_root:
            raise OrthancInputError("--run-as contradicts --allow-root")
        if self.no_auth and (self.users or self.remote):
            what = "--remote" if self.remote else "--user"
            raise OrthancInputError(f"--no-auth contradicts {what}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise OrthancInputError("give --tls-cert and --tls-key together")


def parse_setting(text: str) -> tuple[str, Any]:
    """Parse ``Key=Value``: the value as JSON when it parses, else as a string.

    Raises:
        OrthancInputError: No ``=`` or an empty key.

    Example:
        >>> parse_setting("StableAge=5"), parse_setting("Name=My PACS")
        (('StableAge', 5), ('Name', 'My PACS'))
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise OrthancInputError(f"expected Key=Value, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def parse_user(text: str) -> tuple[str, str]:
    """Parse ``NAME:PASSWORD``.

    Raises:
        OrthancInputError: No ``:``, or an empty name or password.

    Example:
        >>> parse_user("alice:s3:cret")
        ('alice', 's3:cret')
    """
    name, sep, password = text.partition(":")
    if not sep or not name or not password:
        raise OrthancInputError(f"expected NAME:PASSWORD, got {text.split(':')[0]!r}...")
    return name, password


def effective_config(
    options: ServerOptions, *, postgres_uri: str | None = None, check_plugins: bool = True
) -> dict[str, Any]:
    """The JSON configuration Orthanc runs with, built from ``options``.

    Args:
        options: The server's options.
        postgres_uri: The connection URI of the index database (when ``options.postgres``).
        check_plugins: Check that the plugin libraries are installed.

    Raises:
        OrthancInputError: Contradictory options, or remote access without authentication.
        OrthancNotInstalledError: A requested plugin is not installed.

    Example:
        >>> effective_config(ServerOptions(Path("/tmp/o")), check_plugins=False)["HttpPort"]
        8042
    """
    options.validate()
    file_config = options.file_config()
    libraries = _plugin_libraries(options, check_plugins)
    users = {**(file_config.get("RegisteredUsers") or {}), **options.users}
    extra = {**_SERVER_DEFAULTS}
    extra.update({k: v for k, v in file_config.items() if k not in _OWNED_KEYS | _USER_KEYS})
    if options.no_auth:
        users = {}
        extra.update(AuthenticationEnabled=False, RegisteredUsers={})
    extra.update(dicom_access(options.dicom_accept) if options.dicom_accept else {})
    extra.update(_postgres_section(postgres_uri))
    extra.update(options.settings)
    config = build_config(
        options.data_dir,
        http_port=options.http_port or file_config.get("HttpPort") or DEFAULT_HTTP_PORT,
        dicom_port=options.dicom_port or file_config.get("DicomPort") or DEFAULT_DICOM_PORT,
        aet=options.aet or file_config.get("DicomAet") or DEFAULT_AET,
        name=str(file_config.get("Name") or options.name),
        users=users,
        remote_access=options.remote or bool(file_config.get("RemoteAccessAllowed")),
        plugins=libraries,
        python_script=_kk_script(options) if "kk" in options.plugins else None,
        binary=options.binary,
        extra=extra,
        dicom_accept=options.dicom_accept or "known",
    )
    plugins = [*config["Plugins"], *(file_config.get("Plugins") or [])]
    config["Plugins"] = list(dict.fromkeys(plugins))
    _check_remote(config)
    return config


def dicom_summary(config: Mapping[str, Any]) -> str:
    """One sentence saying who may associate with the DICOM port of ``config``.

    Raises:
        Nothing.

    Example:
        >>> dicom_summary({"DicomPort": 4242, "DicomAet": "ORTHANC", "DicomModalities": {},
        ...     "DicomCheckModalityHost": True, "DicomCheckCalledAet": True})
        'DICOM port 4242 (AET ORTHANC) accepts only registered modalities (none yet: \
`kkorthanc modality add`), from their registered host, calling AET ORTHANC'
    """
    port, aet = config.get("DicomPort", DEFAULT_DICOM_PORT), config.get("DicomAet", DEFAULT_AET)
    head = f"DICOM port {port} (AET {aet})"
    if config.get("DicomServerEnabled") is False:
        return f"{head} is disabled"
    if config.get("DicomAlwaysAllowStore", True) or config.get("DicomAlwaysAllowEcho", True):
        return f"{head} accepts C-ECHO and C-STORE from ANY AE title on ANY host"
    count = len(config.get("DicomModalities") or {})
    known = f"{count} in DicomModalities" if count else "none yet: `kkorthanc modality add`"
    checks = [" from their registered host"] if config.get("DicomCheckModalityHost") else []
    if config.get("DicomCheckCalledAet"):
        checks.append(f" calling AET {aet}")
    return f"{head} accepts only registered modalities ({known})," + ",".join(checks)


def redact_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` to show: passwords of users and of connection URIs as ``***``.

    Raises:
        Nothing.

    Example:
        >>> redact_config({"RegisteredUsers": {"alice": "s3cret"}, "HttpPort": 8042})
        {'RegisteredUsers': {'alice': '***'}, 'HttpPort': 8042}
    """
    shown = dict(config)
    if isinstance(shown.get("RegisteredUsers"), dict):
        shown["RegisteredUsers"] = dict.fromkeys(shown["RegisteredUsers"], "***")
    for section in ("PostgreSQL", "MySQL", "Odbc"):
        value = shown.get(section)
        if isinstance(value, dict):
            value = dict(value)
            for key in ("ConnectionUri", "ConnectionString"):
                if isinstance(value.get(key), str):
                    value[key] = redact_uri(value[key])
            if "Password" in value:
                value["Password"] = "***"
            shown[section] = value
    for key in ("DicomWeb", "OrthancPeers", "DicomModalities"):
        if isinstance(shown.get(key), dict):
            shown[key] = _redact_nested(shown[key])
    if isinstance(shown.get("OrthancPeers"), dict):  # [url, user, password] lists
        shown["OrthancPeers"] = {
            name: [*peer[:2], "***", *peer[3:]]
            if isinstance(peer, list) and len(peer) >= 3
            else peer
            for name, peer in shown["OrthancPeers"].items()
        }
    return shown


def redact_uri(uri: str) -> str:
    """``uri`` with its password (``user:PASSWORD@`` or ``password=...``) shown as ``***``.

    Raises:
        Nothing.

    Example:
        >>> redact_uri("postgresql://orthanc:s3cret@db:5432/orthanc")
        'postgresql://orthanc:***@db:5432/orthanc'
        >>> redact_uri("host=db password=s3cret dbname=orthanc")
        'host=db password=*** dbname=orthanc'
    """
    uri = re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", uri)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", uri)


def _redact_nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "***" if key.lower() in {"password", "token"} else _redact_nested(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_nested(item) for item in value]
    return value


def _plugin_libraries(options: ServerOptions, check: bool) -> list[str]:
    wanted = [name for name in options.plugins if name != "kk"]
    if options.postgres and "postgresql" not in wanted:
        wanted.append("postgresql")
    libraries: list[str] = []
    for name in wanted:
        library, package = PLUGINS[name]
        if check and not (options.binary.plugins_dir() / library).is_file():
            where = f" inside the chroot {options.chroot}" if options.chroot else ""
            raise OrthancNotInstalledError(
                f"the {name} plugin ({library}) is not installed{where}: "
                f"install the Debian package {package} (apt-get install {package})"
            )
        if library not in libraries:
            libraries.append(library)
    return libraries


def _kk_script(options: ServerOptions) -> Path:
    try:
        plugin = importlib.import_module("kkorthanc.plugin")
    except (ImportError, AttributeError) as error:
        raise OrthancNotInstalledError(
            "the KkOrthanc Orthanc plugin (kkorthanc.plugin) is not part of this installation"
        ) from error
    source = Path(plugin.script_path())
    if options.chroot is None and options.run_as is None:
        return source
    # A chroot does not see the package, another account may not read it: give Orthanc a copy
    # (the script imports its companion modules from its own folder: copy them with it)
    return Path(plugin.install_script(Path(options.data_dir), KK_SCRIPT_NAME))


def _postgres_section(uri: str | None) -> dict[str, Any]:
    if uri is None:
        return {}
    return {
        "PostgreSQL": {
            "EnableIndex": True,
            "EnableStorage": False,
            "ConnectionUri": uri,
            "Lock": False,
        }
    }


def _check_remote(config: Mapping[str, Any]) -> None:
    if config.get("RemoteAccessAllowed") and not (
        config.get("AuthenticationEnabled") and config.get("RegisteredUsers")
    ):
        raise OrthancInputError(
            "remote access without authentication would open the server to anyone: "
            "add --user NAME:PASSWORD"
        )
