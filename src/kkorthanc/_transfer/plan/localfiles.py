"""Walking the folders given to ``upload`` without leaving them and without ever blocking.

The walk goes folder by folder through descriptors (``openat``): each entry is opened relative
to its folder's descriptor, with ``O_NOFOLLOW`` unless links are followed, so a folder swapped
for a link during the walk is not entered. Symbolic links below a given path are not followed
by default (a link may point anywhere: ``/etc``, another user's files); they are reported
``skipped`` with their target. Files are opened non-blocking and checked with ``fstat`` before
any read: FIFOs, devices and sockets are ``skipped``, empty files (which is what files of
``/proc`` say they are) are ``not_dicom`` without a read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .items import Item, NotRegularFileError, failed, open_regular
from .report import TransferOutcome

__all__ = ["OnFile", "walk"]

OnFile = Callable[[str, Path, BinaryIO, os.stat_result], Iterator[Item]]

_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def walk(
    root: Path, *, include_hidden: bool, follow_links: bool, on_file: OnFile
) -> Iterator[Item]:
    """The items of a path given to ``upload``: a file, or a folder walked recursively.

    The path itself is followed if it is a link (the caller named it); what is below it is not,
    unless ``follow_links``. ``on_file`` turns each regular, non-empty file (open, at offset 0)
    into items.

    Example:
        >>> items = list(walk(Path("scans"), include_hidden=False, follow_links=False,
        ...                   on_file=handler))  # doctest: +SKIP
    """
    walker = _Walker(include_hidden, follow_links, on_file)
    try:
        info = os.stat(root)
    except OSError as error:
        yield failed(str(root), error)
        return
    if stat.S_ISDIR(info.st_mode):
        yield from walker.folder(root, str(root), None)
    else:
        yield from walker.file(root, str(root), None)


class _Walker:
    def __init__(self, include_hidden: bool, follow_links: bool, on_file: OnFile) -> None:
        self.include_hidden = include_hidden
        self.follow = follow_links
        self.on_file = on_file
        self.seen: set[tuple[int, int]] = set()

    def folder(self, path: Path, name: str, dir_fd: int | None) -> Iterator[Item]:
        """The items below a folder, opened relative to ``dir_fd`` (None: the given path)."""
        flags = _FOLDER_FLAGS | (0 if self.follow or dir_fd is None else _NOFOLLOW)
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError as error:  # vanished, not readable, or swapped for a link
            yield failed(str(path), error)
            return
        try:
            entries = self._entries(fd)
            if entries is None:  # a link loop, or a folder reached twice
                return
            for entry, is_link, is_dir in entries:
                yield from self._entry(path / entry, entry, fd, is_link, is_dir)
        except OSError as error:
            yield failed(str(path), error)
        finally:
            os.close(fd)

    def _entries(self, fd: int) -> list[tuple[str, bool, bool]] | None:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) in self.seen:
            return None
        self.seen.add((info.st_dev, info.st_ino))
        with os.scandir(fd) as scan:
            found = [
                (entry.name, entry.is_symlink(), entry.is_dir(follow_symlinks=self.follow))
                for entry in scan
                if self.include_hidden or not entry.name.startswith(".")
            ]
        return sorted(found)

    def _entry(
        self, path: Path, name: str, dir_fd: int, is_link: bool, is_dir: bool
    ) -> Iterator[Item]:
        if is_link and not self.follow:
            yield _link(path, name, dir_fd)
        elif is_dir:
            yield from self.folder(path, name, dir_fd)
        else:
            yield from self.file(path, name, dir_fd)

    def file(self, path: Path, name: str, dir_fd: int | None) -> Iterator[Item]:
        """The items of one file: skipped unless regular, ``not_dicom`` when empty."""
        try:
            stream, info = open_regular(name, follow=self.follow or dir_fd is None, dir_fd=dir_fd)
        except NotRegularFileError as error:
            yield Item(str(path), problem=TransferOutcome.SKIPPED, detail=str(error))
            return
        except OSError as error:
            yield failed(str(path), error)
            return
        with stream:
            if info.st_size == 0:
                detail = "empty file (size 0: not read)"
                yield Item(str(path), size=0, problem=TransferOutcome.NOT_DICOM, detail=detail)
            else:
                yield from self.on_file(str(path), path, stream, info)


def _link(path: Path, name: str, dir_fd: int) -> Item:
    try:
        target = repr(os.readlink(name, dir_fd=dir_fd))
    except OSError as error:
        target = f"an unreadable target ({error.strerror})"
    detail = (
        f"a symbolic link to {target}: not followed (links below the paths given are followed "
        "only with follow_links=True, --follow-links)"
    )
    return Item(str(path), problem=TransferOutcome.SKIPPED, detail=detail)
