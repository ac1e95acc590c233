"""Test harness: real Orthanc servers for your tests, started on demand and always stopped.

Installing KkOrthanc registers a pytest plugin (:mod:`kkorthanc.testing.plugin`) with these
fixtures; it starts nothing unless a test asks for one of them:

``orthanc_server``
    Session-scoped :class:`OrthancServer`. Every test using it runs once per selected server, with
    ids such as ``[orthanc-1.10.1]`` and ``[orthanc-1.12.7]``. Authentication is on (a generated
    user and password), remote access is off, no plugin is loaded.
``orthanc``
    The same server, wiped before the test: every patient deleted, modalities and peers created by
    tests deleted, unfinished jobs cancelled.
``orthanc_factory``
    An :class:`OrthancFactory` starting extra servers (another AET, no authentication, the Python
    plugin with your script, a second server to act as a DICOM peer); they stop after the test.
``orthanc_spec``
    The :class:`ServerSpec` of the current parametrisation (what the other three are built on).

When a test fails, the lines each of its servers logged during the test are added to the report.

Server selection, first match wins:

1. ``pytest --orthanc SPEC`` (repeatable, or comma separated);
2. ``KKORTHANC_TEST_URL`` (with ``KKORTHANC_TEST_USERNAME`` and ``KKORTHANC_TEST_PASSWORD``): one
   existing server, nothing is started. Its data is wiped by the ``orthanc`` fixture!
3. ``KKORTHANC_TEST_SERVERS=SPEC,SPEC``;
4. by default ``system``, plus ``chroot:/var/cache/kkorthanc/trixie`` when that chroot is complete
   and the tests run as root.

A SPEC is ``system`` (the Orthanc on PATH or in /usr/sbin), ``chroot:DIR`` (the Orthanc inside a
chroot, needs root), ``path:EXECUTABLE``, or ``url:URL``, optionally named for the test ids with a
``NAME=`` prefix: ``--orthanc old=system --orthanc new=chroot:/srv/trixie``.

Install the servers with ``sudo bash scripts/install-servers.sh`` (Debian 12).

Example:
    >>> def test_upload(orthanc):  # doctest: +SKIP
    ...     with orthanc.client() as http:
    ...         for path in sample_files():
    ...             http.post("/instances", content=path.read_bytes()).raise_for_status()
    ...         assert len(http.get("/patients").json()) == len(sample_files())
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kkorthanc.testing._specs import (
    DEFAULT_CHROOT,
    ServerSpec,
    parse_server_spec,
    select_server_specs,
)

if TYPE_CHECKING:  # imported where used: the pytest plugin imports this package in every run
    import httpx

    from kkorthanc.server._launcher import OrthancBinary, OrthancProcess

__all__ = [
    "DEFAULT_CHROOT",
    "OrthancFactory",
    "OrthancServer",
    "ServerSpec",
    "parse_server_spec",
    "sample_files",
    "select_server_specs",
]

SAMPLE_FILE_NAMES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "rtstruct.dcm",
    "JPEG2000.dcm",
    "waveform_ecg.dcm",
    "chrX1.dcm",
    "chrH31.dcm",
    "chrRuss.dcm",
)
_UNFINISHED_JOBS = ("Pending", "Running", "Paused", "Retry")
_DEAD_LOG_LINES = 40


def sample_files() -> list[Path]:
    """Real DICOM files from pydicom's bundled test data that Orthanc 1.10 and 1.12 store.

    Ten instances of ten patients (ten studies, ten series): CT, MR, RT plan/dose/structure set,
    NM (JPEG 2000), ECG waveform, and Chinese (UTF-8), Japanese and Russian patient names.
    Nothing is downloaded.

    Raises:
        FileNotFoundError: The installed pydicom lacks one of the files.

    Example:
        >>> [path.name for path in sample_files()][:3]
        ['CT_small.dcm', 'MR_small.dcm', 'rtplan.dcm']
    """
    from pydicom import data

    paths = []
    for name in SAMPLE_FILE_NAMES:
        found = data.get_testdata_file(name, download=False) or next(
            iter(data.get_charset_files(name)), None
        )
        if not isinstance(found, str):
            raise FileNotFoundError(f"pydicom's bundled test data has no {name}")
        paths.append(Path(found))
    return paths


class OrthancServer:
    """An Orthanc server for tests: one this process started, or an existing one.

    Create one with :meth:`start` or :meth:`connect` (the fixtures do it for you).

    Attributes:
        url: Base URL of the REST API.
        username: The user name, or None without authentication.
        password: The password, or None.
        system: The ``GET /system`` answer read at start.
        version: ``system["Version"]``, e.g. ``"1.12.7"``.
        api_version: ``system["ApiVersion"]``, e.g. ``27``.
        aet: The server's AE title.
        dicom_port: Its DICOM port.
        data_dir: Host directory of its database, config and log, or None for an existing server.
        binary: The Orthanc that runs, or None for an existing server.
        label: A short name for reports, e.g. ``orthanc-1.12.7``.

    Example:
        >>> with OrthancServer.start(aet="PEER") as peer:  # doctest: +SKIP
        ...     peer.version
        '1.10.1'
    """

    def __init__(
        self,
        url: str,
        system: Mapping[str, Any],
        *,
        auth: tuple[str, str] | None = None,
        dicom_port: int = 4242,
        process: OrthancProcess | None = None,
        label: str = "",
    ) -> None:
        self.url = url.rstrip("/")
        self.system = dict(system)
        self.username: str | None = auth[0] if auth else None
        self.password: str | None = auth[1] if auth else None
        self.version: str = str(system.get("Version", ""))
        self.api_version: int = int(system.get("ApiVersion", 0))
        self.aet: str = str(system.get("DicomAet", ""))
        self.dicom_port = int(system.get("DicomPort", dicom_port))
        self.process = process
        self.data_dir: Path | None = process.data_dir if process else None
        self.binary: OrthancBinary | None = process.binary if process else None
        self.label = label or f"orthanc-{self.version}"
        self._baseline = self._names("modalities", "peers")
        self._start_options: dict[str, Any] | None = None

    @classmethod
    def start(
        cls,
        binary: OrthancBinary | None = None,
        *,
        aet: str = "ORTHANC",
        auth: bool | tuple[str, str] = True,
        python_script: Path | None = None,
        plugins: Sequence[str] = (),
        remote_access: bool = False,
        stable_age: int = 2,
        extra: Mapping[str, Any] | None = None,
        base_dir: Path | None = None,
        timeout: float = 30,
        verbose: bool = False,
        label: str = "",
    ) -> OrthancServer:
        """Start a new Orthanc with an empty database in a fresh directory.

        Args:
            binary: The Orthanc to run (default: the system's).
            aet: Its AE title.
            auth: True for a generated user and password, False for none, or ``(user, password)``.
            python_script: A Python plugin script to load (copied into the data directory).
            plugins: More plugins, by file name or path.
            remote_access: Let non-loopback clients in.
            stable_age: Seconds before resources become stable.
            extra: More Orthanc options, applied last.
            base_dir: Where to create the data directory (default: the temporary directory, or
                the chroot's ``/tmp``); it is deleted by :meth:`stop`.
            timeout: Seconds to wait for the REST API.
            verbose: Run Orthanc with ``--verbose``.
            label: Name in reports (default ``orthanc-<version>``).

        Raises:
            OrthancNotInstalledError: Orthanc is not installed (the message says how to).
            ChrootPathError: ``base_dir`` is outside the binary's chroot.
            OrthancStartError: Orthanc failed to start (the message has its log).
        """
        from kkorthanc.server._launcher import (
            OrthancBinary,
            OrthancProcess,
            build_config,
            free_ports,
        )

        binary = binary or OrthancBinary()
        script_source = python_script
        binary.command()  # fail early, with the install hint, before creating anything
        users = _users(auth)
        parent = base_dir or (binary.root / "tmp" if binary.chroot else Path(tempfile.gettempdir()))
        binary.inner_path(parent)
        data_dir = Path(tempfile.mkdtemp(prefix="kkorthanc-", dir=parent))
        try:
            http_port, dicom_port = free_ports(2)
            if python_script is not None:  # a copy the chroot can see, kept with the data
                python_script = _copy_script(python_script, data_dir)
            config = build_config(
                data_dir,
                http_port=http_port,
                dicom_port=dicom_port,
                aet=aet,
                name=f"kkorthanc-{secrets.token_hex(4)}",
                users=users,
                remote_access=remote_access,
                plugins=plugins,
                python_script=python_script,
                stable_age=stable_age,
                binary=binary,
                extra=extra,
            )
            process = OrthancProcess.start(
                binary, data_dir, config, data_dir / "orthanc.log", timeout=timeout, verbose=verbose
            )
        except BaseException:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
        server = cls._from_process(process, label)
        server._start_options = {
            "aet": aet,
            "auth": next(iter(users.items())) if users else False,
            "python_script": script_source,
            "plugins": plugins,
            "remote_access": remote_access,
            "stable_age": stable_age,
            "extra": extra,
            "base_dir": base_dir,
            "timeout": timeout,
            "verbose": verbose,
            "label": label,
        }
        return server

    @classmethod
    def _from_process(cls, process: OrthancProcess, label: str) -> OrthancServer:
        system = process.system or {"DicomAet": process.config["DicomAet"]}
        try:
            return cls(process.url, system, auth=process.auth, process=process, label=label)
        except BaseException:
            process.stop()
            shutil.rmtree(process.data_dir, ignore_errors=True)
            raise

    @classmethod
    def connect(
        cls, url: str, *, username: str | None = None, password: str | None = None, label: str = ""
    ) -> OrthancServer:
        """Use an existing server (nothing is started; :meth:`wipe` still deletes its data).

        Raises:
            httpx.HTTPError: The server does not answer ``GET /system`` successfully.

        Example:
            >>> OrthancServer.connect("http://localhost:8042", username="u", password="p")
            ... # doctest: +SKIP
        """
        import httpx

        auth = (username, password or "") if username else None
        with httpx.Client(auth=auth, timeout=10) as http:
            response = http.get(f"{url.rstrip('/')}/system")
            response.raise_for_status()
        return cls(url, response.json(), auth=auth, label=label)

    @property
    def auth(self) -> tuple[str, str] | None:
        """``(username, password)`` for HTTP basic authentication, or None."""
        if self.username is None:
            return None
        return (self.username, self.password or "")

    def client(self, **options: Any) -> httpx.Client:
        """A plain :class:`httpx.Client` for this server (base URL and credentials set).

        Example:
            >>> with orthanc.client() as http:  # doctest: +SKIP
            ...     http.get("/system").json()["Version"]
            '1.12.7'
        """
        import httpx

        options.setdefault("timeout", 60)
        options.setdefault("trust_env", self.process is None)
        return httpx.Client(base_url=self.url, auth=self.auth, **options)

    def log_offset(self) -> int:
        """The current end of the server's log (0 for an existing server)."""
        return self.process.log_offset() if self.process else 0

    def log_text(self, since_offset: int = 0) -> str:
        """What the server logged since ``since_offset`` ("" for an existing server).

        Example:
            >>> start = orthanc.log_offset()  # doctest: +SKIP
            >>> "No such file" in orthanc.log_text(start)  # doctest: +SKIP
        """
        return self.process.log_text(since_offset) if self.process else ""

    def _names(self, *collections: str) -> dict[str, set[str]]:
        with self.client() as http:
            return {name: set(_get_json(http, f"/{name}")) for name in collections}

    def wipe(self) -> None:
        """Cancel unfinished jobs, delete every patient, and the modalities and peers added since
        the server started (or since :meth:`connect`).

        Raises:
            httpx.HTTPStatusError: The server refused a deletion.
        """
        with self.client() as http:
            for job in _get_json(http, "/jobs?expand"):
                if job.get("State") in _UNFINISHED_JOBS:
                    _delete_or_post(http, "POST", f"/jobs/{job['ID']}/cancel")
            for patient in _get_json(http, "/patients"):
                _delete_or_post(http, "DELETE", f"/patients/{patient}")
            for collection, baseline in self._baseline.items():
                for name in set(_get_json(http, f"/{collection}")) - baseline:
                    _delete_or_post(http, "DELETE", f"/{collection}/{quote(name, safe='')}")

    def health(self, timeout: float = 30) -> str | None:
        """None when the server answers ``GET /system``; else why not: the process's exit status
        or signal, or that it stopped answering (waited for up to ``timeout`` seconds).

        Example:
            >>> orthanc.health()  # doctest: +SKIP
            'the process was killed by SIGSEGV (signal 11)'
        """
        import httpx

        deadline = time.monotonic() + timeout
        with self.client(timeout=min(10.0, timeout)) as http:
            while True:
                if self.process is not None and not self.process.is_running():
                    return f"the process {self.process.exit_description()}"
                try:
                    if http.get("/system").status_code == 200:
                        return None
                    problem = "GET /system did not answer 200"
                except httpx.TransportError as error:
                    problem = f"GET /system failed: {type(error).__name__}: {error}"
                if time.monotonic() >= deadline:
                    return f"it stopped answering ({problem})"
                time.sleep(0.5)

    def replace_dead(self) -> str:
        """Stop what is left of a server this process started and start a fresh one in its
        place (new data directory and ports, same options); returns the old log's last lines.

        Raises:
            UnsupportedFeatureError: The server was not started by :meth:`start`.
            OrthancStartError: The fresh server failed to start.

        Example:
            >>> if orthanc_server.health():  # doctest: +SKIP
            ...     tail = orthanc_server.replace_dead()
        """
        from kkorthanc.errors import UnsupportedFeatureError

        if self.process is None or self._start_options is None:
            raise UnsupportedFeatureError(f"{self.label} was not started here: cannot restart it")
        tail = "\n".join(self.process.log_text().splitlines()[-_DEAD_LOG_LINES:])
        try:
            self.process.stop(timeout=5)
        finally:
            shutil.rmtree(self.process.data_dir, ignore_errors=True)
        fresh = OrthancServer.start(self.binary, **self._start_options)
        options = fresh._start_options
        self.__dict__.update(fresh.__dict__)
        self._start_options = options
        return tail

    def stop(self) -> None:
        """Stop the server if this process started it, and delete its data directory."""
        if self.process is not None:
            self.process.stop()
            if self.process.data_dir.exists():
                shutil.rmtree(self.process.data_dir)

    def __enter__(self) -> OrthancServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<OrthancServer {self.label} {self.url} aet={self.aet}>"


def _copy_script(python_script: Path, data_dir: Path) -> Path:
    """Copy a Python plugin script into the data folder; the KkOrthanc script (any file named
    ``kk_routes.py``) comes with its companion modules."""
    if python_script.name != "kk_routes.py":
        return Path(shutil.copy(python_script, data_dir))
    from kkorthanc.plugin import COMPANIONS

    for name in (*COMPANIONS, python_script.name):
        shutil.copy(python_script.parent / name, data_dir)
    return data_dir / python_script.name


def _users(auth: bool | tuple[str, str]) -> dict[str, str]:
    if auth is True:
        return {"kkorthanc": secrets.token_urlsafe(12)}
    if auth is False:
        return {}
    return {auth[0]: auth[1]}


def _get_json(http: httpx.Client, path: str) -> Any:
    response = http.get(path)
    response.raise_for_status()
    return response.json()


def _delete_or_post(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path)
    if response.status_code != 404:  # already gone: what we wanted
        response.raise_for_status()


class OrthancFactory:
    """Starts extra Orthanc servers for one test and stops them all afterwards.

    Attributes:
        default_binary: The Orthanc started when the call names none (the one the test's
            ``orthanc_spec`` selects, or the system's for a URL spec).
        servers: The servers started so far, still running.

    Example:
        >>> def test_peer(orthanc, orthanc_factory):  # doctest: +SKIP
        ...     peer = orthanc_factory(aet="PEER", auth=False)
        ...     assert peer.aet == "PEER"
    """

    def __init__(self, default_binary: OrthancBinary | None = None) -> None:
        from kkorthanc.server._launcher import OrthancBinary

        self.default_binary = default_binary or OrthancBinary()
        self.servers: list[OrthancServer] = []

    def __call__(self, binary: OrthancBinary | None = None, **options: Any) -> OrthancServer:
        """Start a server: same keyword options as :meth:`OrthancServer.start`.

        Raises:
            OrthancNotInstalledError: Orthanc is not installed.
            OrthancStartError: It did not start.
        """
        server = OrthancServer.start(binary or self.default_binary, **options)
        self.servers.append(server)
        return server

    def close(self) -> None:
        """Stop every server started by this factory (the first error is raised at the end)."""
        errors: list[BaseException] = []
        while self.servers:
            try:
                self.servers.pop().stop()
            except Exception as error:  # keep stopping the others, then report
                errors.append(error)
        if errors:
            raise errors[0]
