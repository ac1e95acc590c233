"""Start, inspect and stop a detached Orthanc whose files all live in one data directory.

The top of the launcher: it prepares the folder and the configuration, then builds on
``_process`` (start, watch and stop a detached process), ``_folder`` (the folder's files) and
``_tls_launch`` (the TLS relay in front of Orthanc), none of which imports this module.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from ..errors import (
    OrthancInputError,
    OrthancNotInstalledError,
    OrthancStartError,
    UnsafePathError,
)
from . import _tls_launch as tls
from ._account import Account, check_reachable, chroot_userspec, drop_arguments, run_as_account
from ._binary import INSTALL_HINT
from ._folder import (
    CONFIG_NAME,
    LOG_NAME,
    PASSWORD_NAME,
    PID_NAME,
    STATE_NAME,
    config_auth,
    read_config,
    read_log,
    read_state,
)
from ._launcher import describe_exit
from ._options import ServerOptions, effective_config, redact_uri
from ._postgres import LocalPostgres
from ._private import check_trusted, hand_over, make_private_dir, write_private
from ._process import exit_status, interrupt, is_alive, is_ours, spawn, terminate

__all__ = ["ServerStatus", "server_status", "start_server", "stop_server"]

GENERATED_USER = "kkorthanc"
SERVER_INSTALL_HINT = (
    "Install Orthanc with `sudo apt-get install orthanc` (Debian/Ubuntu; add orthanc-python, "
    "orthanc-dicomweb or orthanc-postgresql for plugins), or "
    "`sudo bash scripts/install-servers.sh` from a KkOrthanc checkout, or run it in docker: "
    "`kkorthanc server compose DIR` writes a "
    "docker-compose.yml for the official orthancteam/orthanc image"
)


@dataclass(frozen=True)
class ServerStatus:
    """What is known about the server of one data directory.

    Attributes:
        data_dir: The data directory.
        running: Whether its Orthanc process is alive.
        pid: The process id (None when not running).
        url: The loopback URL from the configuration (None before the first start).
        version: The version the server reports (None when it does not answer).
        username: The first registered user, when authentication is on.
        postgres: ``"local"``, a connection URI with its password shown as ``***``, or None
            (SQLite).
        password_file: The 0600 file holding ``username``'s password (for
            ``ORTHANC_PASSWORD_FILE``), None when authentication is off.
        relay_pid: With TLS (``url`` is ``https``), the pid of the TLS relay in front of
            Orthanc; ``running`` needs both.
        ca_file: With a self-signed certificate, the file clients must trust (``--ca FILE``,
            ``verify=FILE``); None otherwise.

    Raises:
        Nothing: it is plain data (see :func:`server_status`).

    Example:
        >>> server_status(Path("/tmp/never-started")).running  # doctest: +SKIP
        False
    """

    data_dir: Path
    running: bool
    pid: int | None
    url: str | None
    version: str | None
    username: str | None
    postgres: str | None
    password_file: Path | None = None
    relay_pid: int | None = None
    ca_file: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict with stable keys (``data_dir``, ``running``, ``pid``, ...).

        Raises:
            Nothing.

        Example:
            >>> server_status(Path("pacs")).to_json()["running"]  # doctest: +SKIP
            True
        """
        return {
            "data_dir": str(self.data_dir),
            "running": self.running,
            "pid": self.pid,
            "url": self.url,
            "version": self.version,
            "username": self.username,
            "postgres": self.postgres,
            "password_file": str(self.password_file) if self.password_file else None,
            "relay_pid": self.relay_pid,
            "ca_file": str(self.ca_file) if self.ca_file else None,
        }


def start_server(options: ServerOptions, *, timeout: float = 60) -> ServerStatus:
    """Write the effective configuration into the data directory and start Orthanc detached.

    Orthanc runs in a new session (it outlives the calling process), writes to
    ``DATA/orthanc.log``, and its pid goes to ``DATA/orthanc.pid``. With ``postgres="local"`` a
    private PostgreSQL cluster is started first. With ``tls_cert``/``tls_key`` Orthanc listens
    on an internal loopback-only port and a TLS relay (as the same account) serves the public
    one. Returns once the REST API answers (through the relay with TLS). Started
    by root, Orthanc runs as ``options.run_as`` (default: the ``orthanc`` account) unless
    ``options.allow_root``; the data folder and its files then belong to that account.

    Args:
        options: What to run.
        timeout: Seconds to wait for the REST API.

    Returns:
        The running server's status.

    Raises:
        OrthancInputError: Contradictory options, a server already runs from this directory,
            or root has no account to run Orthanc as (see ``run_as``, ``allow_root``).
        OrthancNotInstalledError: Orthanc, a plugin or PostgreSQL is missing (the message says
            how to install it).
        OrthancStartError: Orthanc exited or did not answer (the message has the log's tail).

    Example:
        >>> status = start_server(ServerOptions(Path("orthanc-data")))  # doctest: +SKIP
        >>> status.url  # doctest: +SKIP
        'http://127.0.0.1:8042'
    """
    data_dir = Path(os.path.abspath(options.data_dir))
    current = server_status(data_dir, ask_version=False)
    if current.pid is not None:
        raise OrthancInputError(
            f"an Orthanc (pid {current.pid}) already runs from {data_dir}: "
            f"`kkorthanc server stop --data {data_dir}` first"
        )
    config = prepare(options)
    account = run_as_account(options)
    command = _command(options, data_dir, account)
    pid = spawn(command, data_dir / LOG_NAME, account if options.chroot is None else None)
    _write_pid(data_dir, pid, account)
    _wait_until_up(pid, config, data_dir, timeout)
    try:
        tls.start_relay(data_dir, config, account, timeout)
    except OrthancStartError:
        stop_server(data_dir, timeout=10)
        raise
    return server_status(data_dir)


def prepare(options: ServerOptions) -> dict[str, Any]:
    """Start the local PostgreSQL if asked, then write ``orthanc.json`` and the state file.

    Raises:
        OrthancInputError: Contradictory options.
        OrthancNotInstalledError: A plugin or PostgreSQL is missing.
        LauncherError: PostgreSQL failed to start.

    Example:
        >>> config = prepare(ServerOptions(Path("orthanc-data")))  # doctest: +SKIP
    """
    data_dir = Path(os.path.abspath(options.data_dir))
    account = run_as_account(options)
    options = replace(options, run_as=account.name if account else None)
    _check_folder(data_dir, options, account)
    options = _with_previous(options, data_dir)
    options.validate()
    options, plan = tls.tls_options(options, data_dir, read_state(data_dir))
    options = _with_generated_user(options)
    tls.check_auth(
        effective_config(options, postgres_uri="check" if options.postgres else None), plan
    )
    _make_data_dir(data_dir, options, account)
    uri = options.postgres
    if uri == "local":
        local = LocalPostgres(data_dir, account=account.name if account else None)
        local.start()
        uri = local.uri_for(options.binary)
    config = effective_config(options, postgres_uri=uri)
    _check_scripts(config, options, account)
    write_private(data_dir / CONFIG_NAME, json.dumps(config, indent=2))
    _write_password_file(data_dir, config)
    state: dict[str, Any] = {"postgres": options.postgres, "executable": options.executable}
    state["chroot"] = str(options.chroot) if options.chroot else None
    state["tls"] = tls.install(plan, data_dir)
    write_private(data_dir / STATE_NAME, json.dumps(state, indent=2))
    if account is not None:  # Orthanc reads its configuration (and the kk script copy)
        hand_over(data_dir, account.owner)
    return config


def _make_data_dir(data_dir: Path, options: ServerOptions, account: Account | None) -> None:
    """The folder, private to whoever runs Orthanc; one root made earlier changes hands."""
    if account is None:
        make_private_dir(data_dir, _folder_mode(options))
        return
    check_reachable(account, options, data_dir)
    from_root = data_dir.exists() and data_dir.lstat().st_uid == 0
    make_private_dir(data_dir, 0o700, owner=account.owner)
    if from_root:
        hand_over(data_dir, account.owner, recursive=True)


def _write_pid(data_dir: Path, pid: int, account: Account | None) -> None:
    write_private(data_dir / PID_NAME, f"{pid}\n")
    if account is not None:
        hand_over(data_dir, account.owner)  # the pid file and the log


def _with_generated_user(options: ServerOptions) -> ServerOptions:
    """No user given, no choice kept from an earlier start or --config, no ``no_auth``: one."""
    if options.users or options.no_auth or "AuthenticationEnabled" in options.file_config():
        return options
    return replace(options, users={GENERATED_USER: secrets.token_urlsafe(24)})


def _write_password_file(data_dir: Path, config: dict[str, Any]) -> None:
    auth = config_auth(config)
    path = data_dir / PASSWORD_NAME
    if auth is None:
        path.unlink(missing_ok=True)
    else:
        write_private(path, auth[1] + "\n")


def _check_folder(data_dir: Path, options: ServerOptions, account: Account | None) -> None:
    """Refuse a folder, configuration or state another account could have planted.

    Root running Orthanc as ``account`` also trusts what that account owns: it is the
    account's own folder, and whatever it names runs as the account, never as root.
    """
    also = account.uid if account else None
    check_trusted(data_dir, "data folder", also=also)
    for name, what in ((CONFIG_NAME, "configuration"), (STATE_NAME, "server state file")):
        if (data_dir / name).is_symlink():  # the launcher never makes one: someone planted it
            raise UnsafePathError(
                f"the {what} {data_dir / name} is a symbolic link: remove it",
                path=str(data_dir / name),
            )
        check_trusted(data_dir / name, what, also=also)
    if options.config_file is not None:
        check_trusted(Path(options.config_file), "--config file", also=also)


def _check_scripts(config: dict[str, Any], options: ServerOptions, account: Account | None) -> None:
    """The scripts Orthanc will run must be its account's (or root's)."""
    scripts = list(config.get("LuaScripts") or [])
    if config.get("PythonScript"):
        scripts.append(config["PythonScript"])
    for script in scripts:
        path = Path(str(script))
        if options.chroot is not None and path.is_absolute():
            path = Path(options.chroot) / path.relative_to("/")
        check_trusted(path, "script", also=account.uid if account else None)


def _folder_mode(options: ServerOptions) -> int:
    """0700; 0711 when root itself runs Orthanc and a local PostgreSQL (as ``postgres``)."""
    return 0o711 if os.geteuid() == 0 and options.postgres == "local" else 0o700


def _with_previous(options: ServerOptions, data_dir: Path) -> ServerOptions:
    """A restart keeps the last configuration (ports, users, settings) as its base."""
    previous = data_dir / CONFIG_NAME
    if options.config_file is not None or not previous.is_file():
        return options
    postgres = options.postgres or read_state(data_dir).get("postgres")
    return replace(options, config_file=previous, postgres=postgres)


def _command(options: ServerOptions, data_dir: Path, account: Account | None) -> list[str]:
    """Orthanc's command line; a chroot binary drops to ``account`` by ``chroot --userspec``."""
    try:
        command = options.binary.command()
    except OrthancNotInstalledError as error:
        raise OrthancNotInstalledError(
            str(error).replace(INSTALL_HINT, SERVER_INSTALL_HINT)
        ) from error
    if options.chroot is not None and account is not None:
        command[1:1] = chroot_userspec(account)
    return [*command, options.binary.inner_path(data_dir / CONFIG_NAME)]


def _wait_until_up(pid: int, config: dict[str, Any], data_dir: Path, timeout: float) -> None:
    log_path = data_dir / LOG_NAME
    log_start = log_path.stat().st_size if log_path.exists() else 0
    url = f"http://127.0.0.1:{config['HttpPort']}/system"
    deadline = time.monotonic() + timeout
    with httpx.Client(auth=config_auth(config), timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not is_alive(pid):
                code = exit_status(pid)
                how = "exited" if code is None else describe_exit(code)
                _failed(data_dir, f"Orthanc {how} during start-up", 0)
            try:
                answer = client.get(url)
            except httpx.TransportError:
                answer = None
            ok = answer is not None and answer.status_code == 200
            if ok and answer is not None and answer.json().get("Name") == config.get("Name"):
                return
            time.sleep(0.2)
    terminate(pid, 5)
    _failed(data_dir, f"Orthanc did not answer on {url} within {timeout:g} s", log_start)


def _failed(data_dir: Path, reason: str, log_start: int) -> None:
    (data_dir / PID_NAME).unlink(missing_ok=True)
    _stop_postgres(data_dir)
    text = read_log(data_dir)
    tail = "\n".join(text.splitlines()[-30:])
    in_use = "privileged or already in use" in tail
    hint = " (a port is taken: choose others with --http-port/--dicom-port)" if in_use else ""
    raise OrthancStartError(
        f"{reason}{hint}; log {data_dir / LOG_NAME}, last lines:\n{tail}",
        log_tail=tail,
        port_in_use=in_use,
    )


def server_status(data_dir: Path, *, ask_version: bool = True) -> ServerStatus:
    """Whether the server of ``data_dir`` runs, with its pid, URL and version.

    Raises:
        LauncherError: The configuration file is corrupt.

    Example:
        >>> server_status(Path("orthanc-data")).running  # doctest: +SKIP
        True
    """
    data_dir = Path(os.path.abspath(data_dir))
    config = read_config(data_dir)
    pid = _live_pid(data_dir)
    url = f"http://127.0.0.1:{config['HttpPort']}" if "HttpPort" in config else None
    auth = config_auth(config)
    version = _version(url, auth) if pid is not None and url and ask_version else None
    state = read_state(data_dir)
    entry = state.get("tls") if isinstance(state.get("tls"), dict) else None
    relay = tls.relay_pid(data_dir) if entry else None
    return ServerStatus(
        data_dir=data_dir,
        running=pid is not None and (entry is None or relay is not None),
        pid=pid,
        url=str(entry.get("url") or f"https://127.0.0.1:{entry['port']}") if entry else url,
        version=version,
        username=auth[0] if auth else None,
        postgres=redact_uri(state["postgres"]) if state.get("postgres") else None,
        password_file=data_dir / PASSWORD_NAME if auth else None,
        relay_pid=relay,
        ca_file=Path(entry["trust"]) if entry and entry.get("self_signed") else None,
    )


def _version(url: str, auth: tuple[str, str] | None) -> str | None:
    try:
        answer = httpx.get(f"{url}/system", auth=auth, timeout=5.0, trust_env=False)
    except httpx.TransportError:
        return None
    return str(answer.json().get("Version")) if answer.status_code == 200 else None


def _live_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / PID_NAME).read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        return None
    if not is_alive(pid) or not is_ours(pid, data_dir, CONFIG_NAME):
        return None
    return pid


def stop_server(data_dir: Path, *, timeout: float = 30) -> bool:
    """Stop the server of ``data_dir``: SIGTERM, then SIGKILL after ``timeout`` seconds.

    Its TLS relay, and a local PostgreSQL cluster started with it, are stopped too.

    Returns:
        True when a running Orthanc (or TLS relay) was stopped, False when none was running.

    Raises:
        OrthancInputError: ``data_dir`` was never a server's data directory (a typo would
            otherwise read as "was not running").
        LauncherError: The process survived SIGKILL, or PostgreSQL failed to stop.

    Example:
        >>> stop_server(Path("orthanc-data"))  # doctest: +SKIP
        True
    """
    data_dir = Path(os.path.abspath(data_dir))
    if not (data_dir / CONFIG_NAME).is_file() and not (data_dir / PID_NAME).is_file():
        raise OrthancInputError(
            f"{data_dir} is not the data directory of a server started by kkorthanc "
            f"(it has no {CONFIG_NAME}): check --data"
        )
    relay = tls.stop_relay(data_dir, timeout)
    pid = _live_pid(data_dir)
    if pid is not None:
        terminate(pid, timeout)
    (data_dir / PID_NAME).unlink(missing_ok=True)
    _stop_postgres(data_dir)
    return pid is not None or relay


def _stop_postgres(data_dir: Path) -> None:
    local = LocalPostgres(data_dir)
    if local.exists():
        local.stop()


def run_foreground(options: ServerOptions) -> int:
    """Run Orthanc attached to this terminal until it exits or Ctrl-C; return its exit code
    (128 + N when a signal N ended it, 130 after Ctrl-C).

    Raises:
        OrthancInputError: Contradictory options, TLS (its relay runs detached only), or a
            server already runs from this directory.
        OrthancNotInstalledError: Orthanc, a plugin or PostgreSQL is missing.

    Example:
        >>> run_foreground(ServerOptions(Path("orthanc-data")))  # doctest: +SKIP
        0
    """
    data_dir = Path(os.path.abspath(options.data_dir))
    if server_status(data_dir, ask_version=False).pid is not None:
        raise OrthancInputError(f"an Orthanc already runs from {data_dir}")
    if options.tls_cert is not None or isinstance(read_state(data_dir).get("tls"), dict):
        raise OrthancInputError("--foreground cannot run the TLS relay: start it in the background")
    prepare(options)
    account = run_as_account(options)
    process = subprocess.Popen(
        _command(options, data_dir, account),
        stdin=subprocess.DEVNULL,
        umask=0o077,
        **drop_arguments(account if options.chroot is None else None),
    )
    _write_pid(data_dir, process.pid, account)
    try:
        code = process.wait()
        return 128 - code if code < 0 else code  # killed by a signal: the shell's 128 + N
    except KeyboardInterrupt:
        interrupt(process)
        return 130  # Ctrl-C, as a shell reports it, however Orthanc then ended
    finally:
        (data_dir / PID_NAME).unlink(missing_ok=True)
        _stop_postgres(data_dir)
