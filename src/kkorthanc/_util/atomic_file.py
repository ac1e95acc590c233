"""Files that appear complete or not at all, readable by their owner only.

:class:`AtomicFile` is the library's one atomic writer: downloads and exports, reports,
manifests, CLI profiles and a server's data folder all write through it. Everything written is
private from its creation: folders 0700, files 0600 (the mode is given to ``open``, so there is
no moment when another local user could open the file).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = [
    "PRIVATE_FILE",
    "PRIVATE_FOLDER",
    "AtomicFile",
    "create_private",
    "private_folder",
    "target_file",
]

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
_ATTEMPTS = 8  # fresh random names to try when one is taken (as mkstemp does)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


def target_file(path: str | os.PathLike[str], default_name: str) -> Path:
    """The file to write: ``path`` itself, or ``default_name`` inside it when it is a folder.

    Example:
        >>> target_file("/tmp", "x.dcm")
        PosixPath('/tmp/x.dcm')
    """
    target = Path(path)
    return target / default_name if target.is_dir() else target


def private_folder(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each 0700 (existing ones are left as they are).

    Raises:
        OSError: A folder cannot be created (or a file is in the way).

    Example:
        >>> private_folder(Path("export/P1/S1"))  # doctest: +SKIP
    """
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for one in reversed(missing):
        try:
            one.mkdir(mode=PRIVATE_FOLDER)
        except FileExistsError:
            if not one.is_dir():
                raise


def create_private(path: Path, mode: int = PRIVATE_FILE) -> IO[bytes]:
    """Create a new file with ``mode`` (0600) from the start, never through a symbolic link.

    Raises:
        OSError: The file exists already, or cannot be created.

    Example:
        >>> with create_private(Path(".x.part")) as stream:  # doctest: +SKIP
        ...     stream.write(b"...")
    """
    return os.fdopen(os.open(path, _CREATE, mode), "wb")


class AtomicFile:
    """The one atomic writer: a fresh temporary beside the target, renamed over it on success.

    The temporary (``.NAME.<random>.part``) is created with ``O_EXCL | O_NOFOLLOW`` and
    ``mode`` (0600 unless told: secrets and patient data are private), so no planted file or
    link is ever opened; the rename replaces a link at the target instead of writing through
    it, and a reader sees the old file or the new one, never half of it. On an exception the
    temporary is removed and the target is left as it was.

    Use it as a context manager (``with AtomicFile(path) as stream``), or call :meth:`open`,
    :meth:`commit` and :meth:`discard` yourself (a download commits only after checking the
    HTTP status).

    Args:
        target: The file to replace.
        mode: The new file's permission bits.
        fsync: Flush the bytes to the disk before the rename (settings that must survive a
            crash).

    Example:
        >>> with AtomicFile(Path("out.dcm")) as sink:  # doctest: +SKIP
        ...     sink.write(data)
    """

    def __init__(
        self, target: str | os.PathLike[str], *, mode: int = PRIVATE_FILE, fsync: bool = False
    ) -> None:
        self.target = Path(target)
        self.temporary: Path | None = None  # named by open()
        self.mode = mode
        self.fsync = fsync
        self._stream: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        """Create the temporary file and return it, open for writing bytes.

        Raises:
            OSError: The folder cannot be written (a name taken by chance is tried again).
        """
        for _ in range(_ATTEMPTS):
            name = self.target.with_name(f".{self.target.name}.{secrets.token_hex(4)}.part")
            try:
                self._stream = create_private(name, self.mode)
            except FileExistsError:
                continue
            self.temporary = name
            return self._stream
        raise FileExistsError(f"no free temporary name beside {self.target}")

    def commit(self) -> os.stat_result:
        """Flush (and fsync), rename over the target, close; the stamp of what was written.

        Raises:
            OSError: The bytes cannot be written or the target replaced (the temporary is then
                removed).
        """
        assert self._stream is not None, "commit() before open()"
        assert self.temporary is not None
        try:
            self._stream.flush()
            if self.fsync:
                os.fsync(self._stream.fileno())
            os.replace(self.temporary, self.target)
            status = os.fstat(self._stream.fileno())
        except BaseException:
            self.discard()
            raise
        self._stream.close()
        self.temporary = None  # it is the target now
        return status

    def discard(self) -> None:
        """Close and remove the temporary file; the target is left as it was."""
        if self._stream is not None:
            self._stream.close()
        if self.temporary is not None:  # never the target: nothing was created before open()
            self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> IO[bytes]:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
