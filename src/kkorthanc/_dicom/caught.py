"""pydicom's warnings about a user's file, caught while the file is read, kept for its record.

pydicom warns (``UserWarning``) about invalid values it reads, such as a malformed UID. During
an upload such warnings describe one file: printed by Python's default handler they land among
the progress lines of the command line, once per value, whatever ``--quiet`` says. They are
caught here instead, logged on the ``kkorthanc`` logger (WARNING, with the file's name) and
kept for the file's :class:`~kkorthanc.UploadRecord`. Warnings of other kinds go on as they came.

``warnings.catch_warnings`` changes process-wide state: the lock keeps the blocks of the
transfer engine (one reading thread, and rare rewrites in worker threads) from interleaving.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["caught_warnings"]

logger = logging.getLogger("kkorthanc")

_LOCK = threading.RLock()


@contextmanager
def caught_warnings(source: str, into: list[str]) -> Iterator[None]:
    """Catch the ``UserWarning``s raised in the block: log each one, append its text to ``into``
    (once per text). Other warnings are raised again after the block.

    Example:
        >>> found: list[str] = []
        >>> with caught_warnings("a.dcm", found):
        ...     warnings.warn("Invalid value for VR UI: '1.02'")
        >>> found
        ["Invalid value for VR UI: '1.02'"]
    """
    others: list[warnings.WarningMessage] = []
    with _LOCK:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    yield
                finally:
                    others = _kept(source, caught, into)
        finally:
            for warning in others:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )


def _kept(
    source: str, caught: list[warnings.WarningMessage], into: list[str]
) -> list[warnings.WarningMessage]:
    """Keep and log the user warnings; answer the others."""
    others = []
    for warning in caught:
        if not issubclass(warning.category, UserWarning):
            others.append(warning)
            continue
        text = str(warning.message)
        if text not in into:
            into.append(text)
            logger.warning("%s: %s", source, text)
    return others
