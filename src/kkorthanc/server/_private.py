"""A server's data folder is its owner's alone: checked before use, private from creation.

Orthanc runs what its configuration names (Lua and Python scripts, plugins) as the account that
starts it, and the folder holds passwords and patient data. So a data folder, or a file in it,
that another local user owns or may write is refused rather than adopted, and everything the
launcher writes is created readable by its owner only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import UnsafePathError

__all__ = ["check_trusted", "make_private_dir", "write_private"]


def check_trusted(path: Path, what: str) -> None:
    """Refuse ``path`` if someone other than this account (or root) owns it or may write it.

    A missing path passes: the launcher creates it. A symbolic link is judged by its target and
    must itself belong to this account or root.

    Raises:
        UnsafePathError: Owned by another account, or writable by its group or by others.

    Example:
        >>> check_trusted(Path("/nonexistent/orthanc.json"), "configuration")
        >>> check_trusted(Path("/tmp"), "data folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        kkorthanc.errors.UnsafePathError: the data folder /tmp is writable by others (mode 1777)...
    """
    try:
        link = os.lstat(path)
        info = os.stat(path)
    except FileNotFoundError:
        return
    trusted = {os.geteuid(), 0}
    for owner, where in ((link.st_uid, path), (info.st_uid, os.path.realpath(path))):
        if owner not in trusted:
            raise UnsafePathError(
                f"the {what} {where} belongs to another account (uid {owner}): Orthanc would "
                f"run what it names as you; use a folder of your own, or chown it",
                path=str(path),
            )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        whom = "others" if mode & 0o002 else "its group"
        raise UnsafePathError(
            f"the {what} {path} is writable by {whom} (mode {mode:04o}): someone else could "
            f"plant a configuration or script that Orthanc runs as you; "
            f"`chmod go-w {path}` or use another folder",
            path=str(path),
        )


def make_private_dir(path: Path, mode: int = 0o700) -> None:
    """Create ``path`` (and missing parents) or tighten it to ``mode``, after checking it.

    Raises:
        UnsafePathError: It exists and is not this account's (see :func:`check_trusted`).
        OSError: It cannot be created.

    Example:
        >>> make_private_dir(Path("orthanc-data"))  # doctest: +SKIP
    """
    check_trusted(path, "data folder")
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    check_trusted(path, "data folder")  # someone may have created it first
    path.chmod(mode)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in a file readable by its owner only, never via a link.

    The new content goes to a fresh 0600 file beside it that then takes its name, so a reader
    sees the old file or the new one, and a link planted at ``path`` is replaced, not followed.

    Raises:
        OSError: The folder cannot be written.

    Example:
        >>> write_private(Path("orthanc-data/orthanc.json"), "{}")  # doctest: +SKIP
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
