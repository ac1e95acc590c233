"""Files that appear complete or not at all: written beside the target, then renamed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["AtomicFile", "target_file"]


def target_file(path: str | os.PathLike[str], default_name: str) -> Path:
    """The file to write: ``path`` itself, or ``default_name`` inside it when it is a folder.

    Example:
        >>> target_file("/tmp", "x.dcm")
        PosixPath('/tmp/x.dcm')
    """
    target = Path(path)
    return target / default_name if target.is_dir() else target


class AtomicFile:
    """A temporary file in the target's folder, renamed over the target only on success.

    On an exception the temporary file is removed and the target is left as it was.

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
