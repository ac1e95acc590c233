"""A private PostgreSQL cluster inside a server's data directory, reached by a unix socket only.

Only its owner may reach it: the socket's folder and the socket are 0700, authentication is
``peer`` (the kernel tells who connects) with a map that admits two local accounts only (the
cluster's owner as its superuser, the account running Orthanc as the ``orthanc`` role), and the
``orthanc`` role is no superuser: it owns the ``orthanc`` database and nothing else.

When root runs Orthanc as an unprivileged account, the cluster runs as that same account: one
account owns the folder, the cluster and the socket. PostgreSQL's programs drop to it the way
Orthanc does (:func:`~kkorthanc.server._account.drop_arguments`). Root's launcher writes the
cluster's access files without following links the account could plant.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from ..errors import LauncherError, OrthancNotInstalledError
from ._account import Account, drop_arguments, lookup_account
from ._binary import OrthancBinary
from ._private import fix_dir, read_private, write_private

__all__ = ["LocalPostgres"]

PG_BIN_DIRS = (
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)
DATABASE = "orthanc"
ROLE = "orthanc"
MAP = "kkorthanc"
_SETTINGS_MARK = "# kkorthanc: private cluster, unix socket only, for its owner only"
PORT = 5432  # only names the socket file: the cluster listens on no TCP port
_RUN_AS_ROOT = "postgres"
_SUPERUSER_IF_ROLE = "kkorthanc"  # the superuser's name when the owner account is ``orthanc``


class LocalPostgres:
    """A PostgreSQL cluster in ``data_dir/postgres``, listening on a socket in that directory.

    PostgreSQL refuses to run as root: as root, its programs run as ``account`` (the account
    Orthanc runs as), else as the account owning an existing cluster, else as the
    ``postgres`` user, which must be able to reach ``data_dir``.

    Args:
        data_dir: The server's data directory.
        account: The account that runs both Orthanc and the cluster (root only).

    Raises:
        OrthancNotInstalledError: From :meth:`start`, when PostgreSQL is not installed.

    Example:
        >>> pg = LocalPostgres(Path("/tmp/o"))  # doctest: +SKIP
        >>> pg.start()  # doctest: +SKIP
        >>> pg.uri  # doctest: +SKIP
        'postgresql:///orthanc?host=%2Ftmp%2Fo%2Fpostgres%2Frun&port=5432&user=orthanc'
    """

    def __init__(self, data_dir: Path, *, account: str | None = None) -> None:
        self.account = account
        self.root = Path(os.path.abspath(data_dir)) / "postgres"
        self.cluster = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log_path = self.root / "postgres.log"

    @property
    def uri(self) -> str:
        """The libpq connection URI of the Orthanc database (a unix socket in the data dir).

        Raises:
            Nothing: it is computed from the directory.

        Example:
            >>> LocalPostgres(Path("/srv/pacs")).uri
            'postgresql:///orthanc?host=%2Fsrv%2Fpacs%2Fpostgres%2Frun&port=5432&user=orthanc'
        """
        return self.uri_for(None)

    def uri_for(self, binary: OrthancBinary | None) -> str:
        """The connection URI as that Orthanc sees it: in a chroot, the socket's path inside it.

        Raises:
            ChrootPathError: The data directory is outside the binary's chroot.

        Example:
            >>> LocalPostgres(Path("/srv/root/tmp/pacs")).uri_for(
            ...     OrthancBinary(chroot=Path("/srv/root")))
            'postgresql:///orthanc?host=%2Ftmp%2Fpacs%2Fpostgres%2Frun&port=5432&user=orthanc'
        """
        socket = str(self.socket_dir)
        if binary is not None and binary.chroot is not None:
            socket = binary.inner_path(self.socket_dir)
        return f"postgresql:///{DATABASE}?host={quote(socket, safe='')}&port={PORT}&user={ROLE}"

    def exists(self) -> bool:
        """Whether the cluster was initialised.

        Raises:
            Nothing: a missing directory answers False.

        Example:
            >>> LocalPostgres(Path("/nonexistent")).exists()
            False
        """
        return (self.cluster / "PG_VERSION").is_file()

    def is_running(self) -> bool:
        """Whether the cluster's postmaster runs (``pg_ctl status``).

        Raises:
            OrthancNotInstalledError: ``pg_ctl`` is missing (only asked for an existing cluster).

        Example:
            >>> LocalPostgres(Path("/nonexistent")).is_running()
            False
        """
        if not self.exists():
            return False
        done = self._run(["pg_ctl", "-D", str(self.cluster), "status"], check=False)
        return done.returncode == 0

    def start(self) -> None:
        """Initialise the cluster on first use, then start it and wait until it accepts requests.

        Raises:
            OrthancNotInstalledError: PostgreSQL's programs are not installed.
            LauncherError: A PostgreSQL program failed (the message has its output).

        Example:
            >>> LocalPostgres(Path("pacs")).start()  # doctest: +SKIP
        """
        first = not self.exists()
        if first:
            self._init()
        self._lock_down()
        if self.is_running():
            self._run(["pg_ctl", "-D", str(self.cluster), "reload"])
        else:
            self._run(["pg_ctl", "-D", str(self.cluster), "-l", str(self.log_path), "-w", "start"])
        if first:
            self._create_database()

    def stop(self) -> bool:
        """Stop the cluster (fast shutdown). Returns False when it was not running.

        Raises:
            LauncherError: ``pg_ctl stop`` failed.

        Example:
            >>> LocalPostgres(Path("pacs")).stop()  # doctest: +SKIP
            True
        """
        if not self.is_running():
            return False
        self._run(["pg_ctl", "-D", str(self.cluster), "-m", "fast", "-w", "stop"])
        return True

    def _init(self) -> None:
        self._make_dirs()
        user = self._user()
        if user is not None:
            self._check_reachable(user)
        self._run(
            [
                "initdb",
                "-D",
                str(self.cluster),
                "-U",
                self._superuser(),
                "-E",
                "UTF8",
                "--auth-local=peer",
                "--auth-host=reject",
            ]
        )

    def _make_dirs(self) -> None:
        """``postgres/`` and its socket folder: 0700, the cluster owner's, never via a link."""
        account = self._run_as()
        owner = account.owner if account is not None else None
        for path in (self.root, self.socket_dir):
            fix_dir(path, 0o700, owner)

    def _lock_down(self) -> None:
        """Owner-only access, on a new cluster and on one an earlier version left open."""
        self._make_dirs()
        client = self.account or pwd.getpwuid(os.geteuid()).pw_name  # who runs Orthanc
        owner, superuser = self._owner(), self._superuser()
        self._write(
            "pg_hba.conf",
            "# kkorthanc: unix socket only, the kernel says who connects, the map says as whom\n"
            f"local all all peer map={MAP}\n",
        )
        self._write(
            "pg_ident.conf",
            f"# kkorthanc: MAPNAME SYSTEM-USER PG-USER\n{MAP} {owner} {superuser}\n"
            f"{MAP} {client} {ROLE}\n{MAP} {client} {superuser}\n",
        )
        conf = read_private(self.cluster / "postgresql.conf")
        if _SETTINGS_MARK not in conf:
            self._write(
                "postgresql.conf",
                f"{conf}\n{_SETTINGS_MARK}\nlisten_addresses = ''\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                f"unix_socket_permissions = 0700\nport = {PORT}\n",
            )

    def _write(self, name: str, text: str) -> None:
        """Replace a file of the cluster (0600, its owner's), never writing through a link."""
        path = self.cluster / name
        write_private(path, text)
        account = self._run_as()
        if account is not None:
            os.chown(path, *account.owner, follow_symlinks=False)

    def _create_database(self) -> None:
        """A login role without any power beyond owning Orthanc's database."""
        statements = [
            f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION",
            f"CREATE DATABASE {DATABASE} OWNER {ROLE} ENCODING 'UTF8'",
            f"REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC",
            f"GRANT CONNECT, TEMPORARY ON DATABASE {DATABASE} TO {ROLE}",
        ]
        for statement in statements:
            self.psql("postgres", statement)

    def psql(self, database: str, statement: str) -> str:
        """Run one SQL statement as the cluster's owner (its superuser); return what it printed.

        Raises:
            LauncherError: psql failed (the message has PostgreSQL's answer).

        Example:
            >>> LocalPostgres(Path("pacs")).psql("orthanc", "SELECT 1")  # doctest: +SKIP
            '1'
        """
        command = [
            "psql",
            "-h",
            str(self.socket_dir),
            "-p",
            str(PORT),
            "-U",
            self._superuser(),
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-AXtqc",
            statement,
        ]
        return self._run(command).stdout.strip()

    def _owner(self) -> str:
        """The account that runs the cluster (and is its superuser)."""
        return self._user() or pwd.getpwuid(os.geteuid()).pw_name

    def _superuser(self) -> str:
        """The cluster's superuser role: named after its owner, unless that is ``orthanc``."""
        owner = self._owner()
        return _SUPERUSER_IF_ROLE if owner == ROLE else owner

    def _check_reachable(self, user: str) -> None:
        done = subprocess.run(
            ["test", "-w", str(self.root)], check=False, cwd="/", **drop_arguments(self._run_as())
        )
        if done.returncode != 0:
            raise LauncherError(
                f"PostgreSQL runs as the user {user!r}, who cannot write {self.root}: make its "
                f"parent directories traversable (chmod o+x) or use a data directory elsewhere"
            )

    def _user(self) -> str | None:
        """The account PostgreSQL's programs run as (root only; None: as this process)."""
        if os.geteuid() != 0:
            return None
        if self.account is not None:
            return self.account
        return self._existing_owner() or _RUN_AS_ROOT

    def _run_as(self) -> Account | None:
        """:meth:`_user` with its ids, for :func:`drop_arguments` and ``chown``."""
        user = self._user()
        return None if user is None else lookup_account(user)

    def _existing_owner(self) -> str | None:
        """The (non-root) account owning an existing ``postgres/`` folder."""
        try:
            uid = self.root.lstat().st_uid
            return pwd.getpwuid(uid).pw_name if uid != 0 else None
        except (FileNotFoundError, KeyError):
            return None

    def _run(
        self, command: Sequence[str], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        program = _find_program(command[0])
        full = [program, *command[1:]]
        drop = drop_arguments(self._run_as())
        done = subprocess.run(full, capture_output=True, text=True, check=False, cwd="/", **drop)
        if check and done.returncode != 0:
            raise LauncherError(
                f"`{' '.join(command)}` failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-800:]}"
            )
        return done


def _find_program(name: str) -> str:
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise OrthancNotInstalledError(
        f"PostgreSQL's {name} was not found: install the Debian packages postgresql and "
        f"orthanc-postgresql (apt-get install postgresql orthanc-postgresql), or give "
        f"--postgres with the URI of an existing database"
    )
