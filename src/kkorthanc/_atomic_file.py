"""Files that appear complete or not at all, readable by their owner only.

Everything a download writes is private from its creation: folders 0700, files 0600 (the mode is
given to ``open``, so there is no moment when another local user could open the file).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["AtomicFile", "PRIVATE_FILE", "PRIVATE_FOLDER", "create_private", "private_folder",
           "target_file"]  # fmt: skip

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
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


def create_private(path: Path) -> IO[bytes]:
    """Create a new file, 0600 from the start, never through a symbolic link.

    Raises:
        OSError: The file exists already, or cannot be created.

    Example:
        >>> with create_private(Path(".x.part")) as stream:  # doctest: +SKIP
        ...     stream.write(b"...")
    """
    return os.fdopen(os.open(path, _CREATE, PRIVATE_FILE), "wb")


class AtomicFile:
    """A temporary file in the target's folder, renamed over the target only on success.

    On an exception the temporary file is removed and the target is left as it was. The file
    is 0600 (``tempfile.mkstemp``).

    Example:
        >>> with AtomicFile(Path("out.dcm")) as sink:  # doctest: +SKIP
        ...     sink.write(data)
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self._handle: IO[bytes] | None = None
        self._temporary = ""

    def __enter__(self) -> IO[bytes]:
        descriptor, self._temporary = tempfile.mkstemp(
            prefix=f".{self.target.name}.", suffix=".part", dir=self.target.parent
        )
        self._handle = os.fdopen(descriptor, "wb")
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._handle is not None
        try:
            self._handle.close()
            if exc_type is None:
                os.replace(self._temporary, self.target)
        finally:
            if os.path.exists(self._temporary):
                os.unlink(self._temporary)
