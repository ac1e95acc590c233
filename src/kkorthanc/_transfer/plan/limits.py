"""Limits on what one uploaded archive may expand to: size, ratio, members, nesting.

An archive is read as a stream and each member is spooled to a temporary file, so without limits a
few kilobytes (a zip bomb, a sparse tar member, archives nested in archives) can fill ``$TMPDIR``
and keep the upload busy for hours. :class:`ArchiveLimits` bounds every archive given to
``upload`` (with everything nested in it), and :class:`Expansion` keeps the account while it is
read. Sizes declared in the archive (a zip member's size, a tar header's size) are counted before
anything is read, so a bomb is usually refused from its headers alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import OrthancInputError

__all__ = ["ArchiveLimitError", "ArchiveLimits", "Expansion"]

_MIB = 1024 * 1024
_GIB = 1024 * _MIB


@dataclass(frozen=True)
class ArchiveLimits:
    """What one uploaded archive (with the archives nested in it) may expand to.

    An archive that crosses a limit is reported as ``rejected``, with a detail naming the limit;
    the members read before it keep their records, the rest of that archive is not read, and
    the other sources of the upload go on. The defaults are far beyond real DICOM archives
    (a CT study compresses 2 to 10 times; a study is a few GiB) but stop bombs early.

    Attributes:
        max_size: Bytes the archive may expand to, every member at every nesting level counted
            (default 256 GiB).
        max_ratio: Expanded bytes per byte of the archive (default 200), checked once more than
            ``ratio_threshold`` bytes have expanded.
        ratio_threshold: Bytes an archive may always expand to, whatever its ratio
            (default 256 MiB): small archives of blank images may compress very well.
        max_members: Members (files, folders, links) in the archive, nested ones included
            (default 1 000 000).
        max_depth: Archives nested in each other (default 10): a ``.tar.gz`` is one level,
            a zip inside it two.

    Raises:
        OrthancInputError: A limit that is not a positive number.

    Example:
        >>> limits = ArchiveLimits(max_size=10 * 1024**3, max_depth=3)
        >>> limits.max_ratio
        200.0
    """

    max_size: int = 256 * _GIB
    max_ratio: float = 200.0
    ratio_threshold: int = 256 * _MIB
    max_members: int = 1_000_000
    max_depth: int = 10

    def __post_init__(self) -> None:
        for name in ("max_size", "ratio_threshold", "max_members", "max_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OrthancInputError(f"{name} must be a whole number >= 1, got {value!r}")
        ratio = self.max_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio >= 1:
            raise OrthancInputError(f"max_ratio must be a number >= 1, got {ratio!r}")
        object.__setattr__(self, "max_ratio", float(ratio))


class ArchiveLimitError(Exception):
    """An archive crossed one of its :class:`ArchiveLimits` (internal: becomes a record).

    Attributes:
        limit: The name of the limit (``max_size``, ``max_ratio``...).
    """

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class Expansion:
    """The account of one archive given to ``upload``, shared by everything nested in it.

    Args:
        limits: The limits to enforce.
        archive_size: The size of the archive as given (compressed), for the ratio.
    """

    def __init__(self, limits: ArchiveLimits, archive_size: int) -> None:
        self.limits = limits
        self.archive_size = max(archive_size, 1)
        self.expanded = 0
        self.members = 0

    @property
    def allowed(self) -> int:
        """Bytes the archive may expand to in all: the size limit, or less for the ratio."""
        by_ratio = max(self.limits.ratio_threshold, int(self.limits.max_ratio * self.archive_size))
        return min(self.limits.max_size, by_ratio)

    def add_bytes(self, count: int, where: str) -> None:
        """Count ``count`` more expanded bytes (read from a member or a stream).

        Raises:
            ArchiveLimitError: The archive expands past ``max_size`` or ``max_ratio``.
        """
        self.expanded += count
        self._check(self.expanded, where)

    def ahead(self, count: int, where: str) -> None:
        """Check, before reading it, that a member declaring ``count`` bytes fits.

        Raises:
            ArchiveLimitError: Reading it would expand the archive past a limit.
        """
        self._check(self.expanded + count, where)

    def _check(self, total: int, where: str) -> None:
        if total <= self.allowed:
            return
        if total > self.limits.max_size:
            raise ArchiveLimitError(
                "max_size",
                f"expands to more than {self.limits.max_size} bytes (max_size), at {where}",
            )
        raise ArchiveLimitError(
            "max_ratio",
            f"expands to more than {self.limits.max_ratio:g} times its {self.archive_size} "
            f"bytes (max_ratio, beyond ratio_threshold={self.limits.ratio_threshold}), at {where}",
        )

    def add_members(self, count: int, where: str) -> None:
        """Count ``count`` more members.

        Raises:
            ArchiveLimitError: More than ``max_members`` members in all.
        """
        self.members += count
        if self.members > self.limits.max_members:
            raise ArchiveLimitError(
                "max_members",
                f"holds more than {self.limits.max_members} members (max_members), at {where}",
            )

    def enter(self, depth: int, where: str) -> None:
        """Check that an archive at nesting level ``depth`` (1: the archive given) may be opened.

        Raises:
            ArchiveLimitError: More than ``max_depth`` archives nested in each other.
        """
        if depth > self.limits.max_depth:
            raise ArchiveLimitError(
                "max_depth",
                f"nests archives more than {self.limits.max_depth} deep (max_depth), at {where}",
            )
