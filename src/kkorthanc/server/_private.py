"""A server's data folder is its owner's alone: checked before use, private from creation.

Orthanc runs what its configuration names (Lua and Python scripts, plugins) as the account that
starts it, and the folder holds passwords and patient data. So a data folder, or a file in it,
that another local user owns or may write is refused rather than adopted, and everything the
launcher writes is created readable by its owner only.

When root starts the server, Orthanc runs as an unprivileged account (see ``_account``): the
folder and what it holds then belong to that account, which root's launcher must treat as
untrusted while it works inside it: it never follows a link there, never opens something that
is not a regular file, and hands files over with ``lchown``/``fchown``.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .._util.atomic_file import AtomicFile
from ..errors import UnsafePathError

__all__ = [
    "check_trusted",
    "fix_dir",
    "hand_over",
    "make_private_dir",
    "read_private",
    "write_private",
]

Owner = tuple[int, int]
"""A (uid, gid) pair to hand files over to."""


def check_trusted(path: Path, what: str, *, also: int | None = None) -> None:
    """Refuse ``path`` if someone other than this account (or root) owns it or may write it.

    A missing path passes: the launcher creates it. A symbolic link is judged by its target and
    must itself belong to this account or root. ``also`` trusts one more uid: the account root
    runs Orthanc as, whose own folder it is (trusting it gives that account nothing it does not
    have: what the folder names runs as that account).

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
    trusted = {os.geteuid(), 0} | ({also} if also is not None else set())
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


def make_private_dir(path: Path, mode: int = 0o700, *, owner: Owner | None = None) -> None:
    """Create ``path`` (and missing parents) or tighten it to ``mode``, after checking it.

    Args:
        path: The folder.
        mode: Its permission bits.
        owner: Hand it to this (uid, gid) (root running Orthanc as another account).

    Raises:
        UnsafePathError: It exists and is not this account's (see :func:`check_trusted`).
        OSError: It cannot be created, or it is a symbolic link.

    Example:
        >>> make_private_dir(Path("orthanc-data"))  # doctest: +SKIP
    """
    also = owner[0] if owner else None
    check_trusted(path, "data folder", also=also)
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    check_trusted(path, "data folder", also=also)  # someone may have created it first
    fix_dir(path, mode, owner)


def fix_dir(path: Path, mode: int, owner: Owner | None = None) -> None:
    """Create ``path`` if missing, then set its mode (and owner) through a descriptor.

    The descriptor is opened without following a link, so a link planted at ``path`` by the
    folder's account is refused instead of giving its target away.

    Raises:
        OSError: ``path`` is a link or not a directory, or cannot be created.

    Example:
        >>> fix_dir(Path("orthanc-data/postgres"), 0o700)  # doctest: +SKIP
    """
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=mode)
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if owner is not None:
            os.fchown(descriptor, *owner)
        os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)


def hand_over(folder: Path, owner: Owner, *, recursive: bool = False) -> None:
    """Give what root wrote in ``folder`` to ``owner``, never following a link.

    Without ``recursive`` only the folder's root-owned entries change hands (what the launcher
    just wrote); with it, everything below ``folder`` does (a folder an earlier root-run server
    made).

    Raises:
        OSError: An entry cannot be changed.

    Example:
        >>> hand_over(Path("orthanc-data"), (103, 106))  # doctest: +SKIP
    """
    if not recursive:
        for entry in os.scandir(folder):
            if entry.stat(follow_symlinks=False).st_uid == 0:
                os.chown(entry.path, *owner, follow_symlinks=False)
        return
    for top, directories, files in os.walk(folder):
        for name in directories + files:
            os.chown(os.path.join(top, name), *owner, follow_symlinks=False)
    os.chown(folder, *owner, follow_symlinks=False)


def read_private(path: Path) -> str:
    """The text of the regular file ``path``, never read through a link (nor from a FIFO).

    Raises:
        OSError: ``path`` is missing, a link, or not a regular file.

    Example:
        >>> read_private(Path("orthanc-data/postgres/data/postgresql.conf"))  # doctest: +SKIP
        '# ...'
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path} is not a regular file")
        return stream.read().decode("utf-8")


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in a file readable by its owner only, never via a link.

    A thin wrapper over the one atomic writer (:class:`kkorthanc._util.atomic_file.AtomicFile`): the
    new content goes to a fresh 0600 file beside it (``O_EXCL | O_NOFOLLOW``) that then takes
    its name, so a reader sees the old file or the new one, and a link planted at ``path`` is
    replaced, not followed.

    Raises:
        OSError: The folder cannot be written.

    Example:
        >>> write_private(Path("orthanc-data/orthanc.json"), "{}")  # doctest: +SKIP
    """
    with AtomicFile(path) as stream:
        stream.write(text.encode("utf-8"))
