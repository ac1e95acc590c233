"""Start and stop real Orthanc processes.

The private engine behind :mod:`kkorthanc.testing`: write an Orthanc's JSON configuration, run
it, wait until its REST API answers, and stop it again by its own pid. Standard library and httpx
only. The executable is an :class:`OrthancBinary` (``_binary.py``: on the host or inside a
chroot); it and the exception classes below are importable from here too, where
:mod:`kkorthanc.testing` and the tests import them.

Exceptions: :class:`LauncherError`, :class:`OrthancNotInstalledError`,
:class:`OrthancStartError` and :class:`ChrootPathError`; where each sits in the tree:
:mod:`kkorthanc.errors`.

Example:
    >>> binary = OrthancBinary()  # doctest: +SKIP
    >>> http_port, dicom_port = free_ports(2)  # doctest: +SKIP
    >>> config = build_config(data, http_port=http_port, dicom_port=dicom_port)  # doctest: +SKIP
    >>> with OrthancProcess.start(binary, data, config, data / "log") as proc:  # doctest: +SKIP
    ...     httpx.get(f"{proc.url}/system").json()["Version"]
    '1.10.1'
"""

from __future__ import annotations

import atexit
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn

import httpx

from kkorthanc.errors import (
    ChrootPathError,
    LauncherError,
    OrthancNotInstalledError,
    OrthancStartError,
)

from ._binary import INSTALL_HINT, PYTHON_PLUGIN, OrthancBinary

__all__ = [
    "INSTALL_HINT",
    "ChrootPathError",
    "LauncherError",
    "OrthancBinary",
    "OrthancNotInstalledError",
    "OrthancProcess",
    "OrthancStartError",
    "build_config",
    "dicom_access",
    "free_port",
    "free_ports",
]

_PORT_IN_USE = "privileged or already in use"
_START_TRIES = 3
DICOM_ACCEPT = ("known", "any")
_LOG_TAIL_LINES = 40


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ask the kernel for ``count`` distinct TCP ports that are free right now.

    Another process may take a port before Orthanc binds it: :meth:`OrthancProcess.start` retries.

    Example:
        >>> http_port, dicom_port = free_ports(2)
        >>> http_port != dicom_port
        True
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port(host: str = "127.0.0.1") -> int:
    """One TCP port free right now on ``host`` (see :func:`free_ports`).

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    return free_ports(1, host)[0]


def build_config(
    data_dir: Path,
    *,
    http_port: int,
    dicom_port: int,
    aet: str = "ORTHANC",
    name: str = "KkOrthanc",
    users: Mapping[str, str] | None = None,
    remote_access: bool = False,
    plugins: Sequence[str] = (),
    python_script: Path | None = None,
    stable_age: int = 2,
    binary: OrthancBinary | None = None,
    extra: Mapping[str, Any] | None = None,
    dicom_accept: str = "any",
) -> dict[str, Any]:
    """Build an Orthanc JSON configuration for a server whose files all live in ``data_dir``.

    The DICOM port listens on every interface (Orthanc cannot bind it to one); these throw-away
    servers keep Orthanc's open default unless ``dicom_accept="known"`` (see
    :func:`dicom_access`; ``kkorthanc server start`` closes it).

    Args:
        data_dir: Host directory for the index and storage (inside the chroot for chroot binaries).
        http_port: The REST API port.
        dicom_port: The DICOM port.
        aet: The server's own AE title.
        name: The server's ``Name``.
        users: ``{username: password}``; enables HTTP basic authentication when not empty.
        remote_access: Let non-loopback clients in (Orthanc always listens on every interface).
        plugins: Plugin file names (looked up in the Debian plugins directory) or host paths.
        python_script: A Python plugin script (host path); loads ``libOrthancPython.so``.
        stable_age: Seconds without new instances before a resource becomes stable.
        binary: The Orthanc that will read this configuration (translates paths for a chroot).
        extra: Options merged last, overriding everything above.
        dicom_accept: ``"known"`` (only registered modalities) or ``"any"`` (Orthanc's own
            default: C-ECHO and C-STORE from any AE title on any host).

    Returns:
        The configuration, ready for :meth:`OrthancProcess.start`.

    Raises:
        ChrootPathError: ``data_dir`` or ``python_script`` is outside the binary's chroot.
        ValueError: An unknown ``dicom_accept``.

    Example:
        >>> build_config(Path("/tmp/o"), http_port=8042, dicom_port=4242)["StorageDirectory"]
        '/tmp/o/db'
    """
    binary = binary or OrthancBinary()
    plugin_paths = [binary.plugin_path(p) for p in plugins]
    config: dict[str, Any] = {
        "Name": name,
        "StorageDirectory": binary.inner_path(data_dir / "db"),
        "IndexDirectory": binary.inner_path(data_dir / "db"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": aet,
        "RemoteAccessAllowed": remote_access,
        "AuthenticationEnabled": bool(users),
        "RegisteredUsers": dict(users or {}),
        "StableAge": stable_age,
        "HttpTimeout": 60,
        "DicomScuTimeout": 10,
        "DicomModalities": {},
        "OrthancPeers": {},
        "ConcurrentJobs": 2,
        "SaveJobs": False,
        **dicom_access(dicom_accept),
    }
    if python_script is not None:
        config["PythonScript"] = binary.inner_path(python_script)
        if not any(p.endswith(PYTHON_PLUGIN) for p in plugin_paths):
            plugin_paths.append(binary.plugin_path(PYTHON_PLUGIN))
    config["Plugins"] = plugin_paths
    config.update(extra or {})
    return config


def dicom_access(accept: str) -> dict[str, bool]:
    """The Orthanc options deciding who may associate with the DICOM port.

    ``"known"``: only the modalities in ``DicomModalities`` (or added through ``/modalities``),
    checked by calling AE title and by host (``DicomCheckModalityHost``: the registered
    ``Host`` must be the peer's IP address as written, e.g. ``127.0.0.1``, not ``localhost``),
    and only when they call this server's own AE title (``DicomCheckCalledAet``).
    ``"any"``: Orthanc's defaults, C-ECHO and C-STORE from any AE title on any host.
    C-FIND, C-MOVE and C-GET from unknown peers stay refused in both.

    Raises:
        ValueError: ``accept`` is neither ``"known"`` nor ``"any"``.

    Example:
        >>> dicom_access("known")["DicomAlwaysAllowStore"]
        False
    """
    if accept not in DICOM_ACCEPT:
        raise ValueError(f"DICOM access must be one of {', '.join(DICOM_ACCEPT)}, not {accept!r}")
    anyone = accept == "any"
    return {
        "DicomAlwaysAllowEcho": anyone,
        "DicomAlwaysAllowStore": anyone,
        "DicomAlwaysAllowFind": False,
        "DicomAlwaysAllowFindWorklist": False,
        "DicomAlwaysAllowGet": False,
        "DicomAlwaysAllowMove": False,
        "DicomCheckModalityHost": not anyone,
        "DicomCheckCalledAet": not anyone,
    }


_LIVE: set[OrthancProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Last line of defence: never leave an Orthanc behind when the interpreter exits."""
    for process in list(_LIVE):
        process.stop(timeout=5)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM if this Python process dies


def describe_exit(returncode: int | None) -> str:
    """Words for a process's exit: its status, or the signal that killed it.

    Example:
        >>> describe_exit(-11), describe_exit(3), describe_exit(None)
        ('killed by SIGSEGV (signal 11)', 'exited with status 3', 'is running')
    """
    if returncode is None:
        return "is running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"killed by {name} (signal {-returncode})"
    return f"exited with status {returncode}"


class OrthancProcess:
    """A running Orthanc process that this Python process started (and must stop).

    Use :meth:`start` to create one; use it as a context manager, or call :meth:`stop`.

    Attributes:
        binary: The Orthanc that runs.
        data_dir: The host directory holding ``orthanc.json`` and the database.
        config: The configuration it runs with (ports may differ from the requested ones after a
            port collision).
        log_path: The file receiving Orthanc's stdout and stderr.
        system: The ``GET /system`` answer read at start-up (empty if credentials were refused).

    Example:
        >>> with OrthancProcess.start(binary, data_dir, config, log_path) as proc:  # doctest: +SKIP
        ...     proc.url
        'http://127.0.0.1:40123'
    """

    def __init__(
        self,
        binary: OrthancBinary,
        data_dir: Path,
        config: dict[str, Any],
        log_path: Path,
        popen: subprocess.Popen[bytes],
        log_file: IO[bytes],
    ) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.config = config
        self.log_path = log_path
        self.system: dict[str, Any] = {}
        self._popen = popen
        self._log_file: IO[bytes] | None = log_file
        _LIVE.add(self)

    @classmethod
    def start(
        cls,
        binary: OrthancBinary,
        data_dir: Path,
        config: Mapping[str, Any],
        log_path: Path,
        *,
        timeout: float = 30,
        verbose: bool = False,
        die_with_parent: bool = True,
    ) -> OrthancProcess:
        """Write ``data_dir/orthanc.json``, run Orthanc, and wait until its REST API answers.

        On a port collision new ports are picked and the start is retried (3 tries in all).

        Args:
            binary: The Orthanc to run.
            data_dir: Host directory for ``orthanc.json`` (inside the chroot for chroot binaries).
            config: The configuration, e.g. from :func:`build_config`.
            log_path: Host file receiving Orthanc's output (appended to).
            timeout: Seconds to wait for the REST API.
            verbose: Pass ``--verbose`` to Orthanc.
            die_with_parent: On Linux, have the kernel stop Orthanc if this process dies.

        Returns:
            The running process.

        Raises:
            OrthancNotInstalledError: The executable is missing.
            ChrootPathError: ``data_dir`` is outside the binary's chroot.
            OrthancStartError: Orthanc exited early or did not answer in time.
        """
        current = dict(config)
        for attempt in range(1, _START_TRIES + 1):
            try:
                return cls._start_once(
                    binary, data_dir, current, log_path, timeout, verbose, die_with_parent
                )
            except OrthancStartError as error:
                if not error.port_in_use or attempt == _START_TRIES:
                    raise
                current["HttpPort"], current["DicomPort"] = free_ports(2)
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _start_once(
        cls,
        binary: OrthancBinary,
        data_dir: Path,
        config: dict[str, Any],
        log_path: Path,
        timeout: float,
        verbose: bool,
        die_with_parent: bool,
    ) -> OrthancProcess:
        config_path = data_dir / "orthanc.json"
        command = [*binary.command(), binary.inner_path(config_path)]
        data_dir.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        if verbose:
            command.insert(-1, "--verbose")
        log_start = log_path.stat().st_size if log_path.exists() else 0
        log_file = log_path.open("ab")
        preexec = _die_with_parent if die_with_parent and sys.platform == "linux" else None
        try:
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec,
            )
        except OSError as error:
            log_file.close()
            raise OrthancStartError(f"cannot run {' '.join(command)}: {error}") from error
        process = cls(binary, data_dir, dict(config), log_path, popen, log_file)
        process._wait_until_up(log_start, timeout)
        return process

    @property
    def pid(self) -> int:
        """The process id (with a chroot, ``chroot`` execs Orthanc, so it is Orthanc's)."""
        return self._popen.pid

    @property
    def url(self) -> str:
        """The REST API's base URL on the loopback interface, e.g. ``http://127.0.0.1:8042``
        (``https://`` when the configuration enables TLS with ``SslEnabled``)."""
        scheme = "https" if self.config.get("SslEnabled") else "http"
        return f"{scheme}://127.0.0.1:{self.config['HttpPort']}"

    @property
    def auth(self) -> tuple[str, str] | None:
        """The first registered ``(username, password)`` when authentication is on, else None."""
        users: dict[str, str] = self.config.get("RegisteredUsers") or {}
        if not self.config.get("AuthenticationEnabled") or not users:
            return None
        return next(iter(users.items()))

    def is_running(self) -> bool:
        """Whether the process is still alive."""
        return self._popen.poll() is None

    def exit_description(self) -> str:
        """How the process ended: ``"exited with status 1"``, ``"killed by SIGSEGV (signal
        11)"``, or ``"is running"``.

        Example:
            >>> proc.exit_description()  # doctest: +SKIP
            'killed by SIGSEGV (signal 11)'
        """
        return describe_exit(self._popen.poll())

    def log_offset(self) -> int:
        """The current size of the log file: pass it to :meth:`log_text` later."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self, since_offset: int = 0) -> str:
        """What Orthanc wrote to its log since byte ``since_offset``.

        Example:
            >>> "HTTP server listening" in proc.log_text()  # doctest: +SKIP
            True
        """
        try:
            with self.log_path.open("rb") as log:
                log.seek(since_offset)
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self, since_offset: int) -> str:
        lines = self.log_text(since_offset).splitlines()
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def _wait_until_up(self, log_start: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        # The server is ours (checked by its Name below), so its certificate need not be.
        with httpx.Client(auth=self.auth, timeout=2.0, trust_env=False, verify=False) as client:
            while time.monotonic() < deadline:
                if not self.is_running():
                    self._fail(log_start, f"Orthanc {self.exit_description()}")
                if self._answers(client):
                    return
                time.sleep(0.1)
        self._fail(log_start, f"Orthanc did not answer on {self.url} within {timeout:g} s")

    def _answers(self, client: httpx.Client) -> bool:
        try:
            response = client.get(f"{self.url}/system")
        except httpx.TransportError:
            return False
        if response.status_code == 200:
            system: dict[str, Any] = response.json()
            # Another server may hold the port: ours has the Name we configured.
            if "Name" in self.config and system.get("Name") != self.config["Name"]:
                return False
            self.system = system
            return True
        # A 401 proves the server is up only when we hold no credentials to check it with.
        return response.status_code == 401 and self.auth is None

    def _fail(self, log_start: int, reason: str) -> NoReturn:
        self.stop()
        tail = self._log_tail(log_start)
        command = " ".join(str(arg) for arg in self._popen.args)  # type: ignore[union-attr]
        raise OrthancStartError(
            f"{reason} ({command}); log {self.log_path}, last lines:\n{tail}",
            log_tail=tail,
            port_in_use=_PORT_IN_USE in tail,
        )

    def stop(self, timeout: float = 10) -> int | None:
        """Stop Orthanc: SIGTERM, then SIGKILL after ``timeout`` seconds. Safe to call twice.

        Returns:
            The exit code (negative for a signal), or None if it could not be reaped.

        Raises:
            LauncherError: The process survived SIGKILL.
        """
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                try:
                    self._popen.wait(5)
                except subprocess.TimeoutExpired as error:
                    raise LauncherError(f"Orthanc pid {self.pid} survived SIGKILL") from error
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        _LIVE.discard(self)
        return self._popen.returncode

    def __enter__(self) -> OrthancProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<OrthancProcess pid={self.pid} {self.url} {state}>"
