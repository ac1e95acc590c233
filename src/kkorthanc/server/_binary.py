"""Where an Orthanc executable is, on the host or inside a chroot, and what it sees.

:class:`OrthancBinary` finds the program (a name on ``PATH`` and in the sbin/bin folders, or a
path), builds the command line that runs it (``chroot DIR PROGRAM`` for a chroot), asks its
version, and translates paths between the host and the chroot. Standard library only.

Example:
    >>> OrthancBinary().plugin_path("libOrthancPython.so")
    '/usr/share/orthanc/plugins/libOrthancPython.so'
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChrootPathError, LauncherError, OrthancNotInstalledError

__all__ = ["INSTALL_HINT", "PLUGINS_DIR", "PYTHON_PLUGIN", "OrthancBinary"]

INSTALL_HINT = (
    "Install Orthanc with `sudo bash scripts/install-servers.sh` (from a KkOrthanc checkout; it "
    "also builds a Debian 13 chroot with Orthanc 1.12) or `sudo apt-get install orthanc "
    "orthanc-python`, or point the tests at a running server with KKORTHANC_TEST_URL (plus "
    "KKORTHANC_TEST_USERNAME and KKORTHANC_TEST_PASSWORD)."
)
PLUGINS_DIR = "/usr/share/orthanc/plugins"
PYTHON_PLUGIN = "libOrthancPython.so"
_SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")


@dataclass(frozen=True)
class OrthancBinary:
    """An Orthanc executable, on the host or inside a chroot (a Debian root built by debootstrap).

    Args:
        executable: The program name (searched on PATH, then in the sbin/bin directories) or an
            absolute path; for a chroot, a name or path as seen inside the chroot.
        chroot: The chroot directory, or None to run on the host. Running in a chroot needs root.

    Example:
        >>> OrthancBinary(chroot=Path("/var/cache/kkorthanc/trixie")).inner_path(
        ...     Path("/var/cache/kkorthanc/trixie/tmp/x"))
        '/tmp/x'
    """

    executable: str = "Orthanc"
    chroot: Path | None = None

    @property
    def root(self) -> Path:
        """The directory Orthanc sees as ``/``: the chroot, or the host's root."""
        return self.chroot if self.chroot is not None else Path("/")

    def command(self) -> list[str]:
        """The command line that runs this Orthanc (without arguments).

        Raises:
            OrthancNotInstalledError: The executable (or the ``chroot`` program) is missing.
        """
        inner = self._resolve_inner()
        if self.chroot is None:
            return [inner]
        chroot_program = shutil.which("chroot") or "/usr/sbin/chroot"
        if not Path(chroot_program).is_file():
            raise OrthancNotInstalledError("the `chroot` program is missing (package coreutils)")
        return [chroot_program, str(self.chroot), inner]

    def _resolve_inner(self) -> str:
        if self.chroot is None and "/" not in self.executable:
            found = shutil.which(self.executable)
            if found:
                return found
        candidates = (
            [self.executable]
            if self.executable.startswith("/")
            else [f"{d}/{self.executable}" for d in _SEARCH_DIRS]
        )
        for candidate in candidates:
            if (self.root / candidate.lstrip("/")).is_file():
                return candidate
        where = f"inside the chroot {self.chroot}" if self.chroot else "on this machine"
        raise OrthancNotInstalledError(
            f"Orthanc executable {self.executable!r} not found {where}. {INSTALL_HINT}"
        )

    def version(self) -> str:
        """The Orthanc version, from ``Orthanc --version`` (e.g. ``"1.10.1"``).

        Raises:
            OrthancNotInstalledError: The executable is missing.
            LauncherError: It does not run or prints something unexpected.

        Example:
            >>> OrthancBinary().version()  # doctest: +SKIP
            '1.10.1'
        """
        return _version_of(tuple(self.command()))

    def plugins_dir(self) -> Path:
        """The host path of the Debian plugins directory of this Orthanc (``/usr/share/...``)."""
        return self.root / PLUGINS_DIR.lstrip("/")

    def inner_path(self, path: Path) -> str:
        """Translate a host path into the path this Orthanc sees.

        Args:
            path: A host path; for a chroot binary it must lie inside the chroot.

        Returns:
            The absolute path as seen by Orthanc.

        Raises:
            ChrootPathError: The path is outside the chroot.
        """
        absolute = Path(os.path.abspath(path))
        if self.chroot is None:
            return str(absolute)
        root = Path(os.path.abspath(self.chroot))
        try:
            relative = absolute.relative_to(root)
        except ValueError:
            raise ChrootPathError(
                f"{absolute} is outside the chroot {root}: an Orthanc running in a chroot only "
                f"sees files under it; use a directory such as {root / 'tmp'}"
            ) from None
        return "/" + relative.as_posix() if relative.parts else "/"

    def host_path(self, inner: str) -> Path:
        """Translate a path as seen by this Orthanc into the host's path.

        Example:
            >>> OrthancBinary(chroot=Path("/srv/root")).host_path("/tmp/a")
            PosixPath('/srv/root/tmp/a')
        """
        return self.root / inner.lstrip("/")

    def plugin_path(self, name: str) -> str:
        """The path, as seen by Orthanc, of a plugin given by file name or by host path.

        Example:
            >>> OrthancBinary().plugin_path("libOrthancPython.so")
            '/usr/share/orthanc/plugins/libOrthancPython.so'
        """
        if "/" in name:
            return self.inner_path(Path(name))
        return f"{PLUGINS_DIR}/{name}"


_VERSIONS: dict[tuple[str, ...], str] = {}


def _version_of(command: tuple[str, ...]) -> str:
    if command not in _VERSIONS:
        try:
            done = subprocess.run(
                [*command, "--version"], capture_output=True, text=True, timeout=30, check=False
            )
        except OSError as error:
            raise LauncherError(f"cannot run {' '.join(command)}: {error}") from error
        words = done.stdout.split("\n", 1)[0].split()
        if done.returncode != 0 or len(words) < 2:
            raise LauncherError(
                f"`{' '.join(command)} --version` failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )
        _VERSIONS[command] = words[-1]
    return _VERSIONS[command]
