"""Progress on stderr: a redrawn bar on a terminal, a few plain lines otherwise."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

__all__ = ["Progress", "format_bytes"]

_PLAIN_STEPS = 10  # plain mode: one line per tenth of the work


def format_bytes(count: float) -> str:
    """``1536`` -> ``'1.5 KB'``.

    Example:
        >>> format_bytes(1536)
        '1.5 KB'
    """
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"  # pragma: no cover


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts files and bytes and shows them with rate and time left.

    Args:
        label: What is being done, e.g. ``"upload"``.
        total: The number of items, when known.
        stream: Where to draw (stderr).
        enabled: False draws nothing (``--quiet`` or a JSON consumer).
        tty: Redraw one line in place (a terminal) instead of printing plain lines.

    Raises:
        Nothing: drawing errors of the stream propagate as ``OSError``.

    Example:
        >>> import io
        >>> bar = Progress("upload", 2, io.StringIO(), enabled=True, tty=False)
        >>> bar.advance(nbytes=2048)
        >>> bar.line().startswith("upload: 1/2 files, 2.0 KB")
        True
    """

    def __init__(
        self, label: str, total: int | None, stream: TextIO, *, enabled: bool, tty: bool
    ) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.enabled, self.tty = enabled, tty
        self.done = 0
        self.failed = 0
        self.nbytes = 0
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._last_step = -1
        self._last_done = -1

    def advance(self, *, nbytes: int = 0, failed: bool = False) -> None:
        """Count one finished item."""
        self.done += 1
        self.failed += int(failed)
        self.nbytes += nbytes
        self._draw(final=False)

    def update(self, done: int, total: int | None, nbytes: int, failed: int) -> None:
        """Take a snapshot of absolute numbers (from a library progress callback)."""
        self.done, self.total, self.nbytes, self.failed = done, total, nbytes, failed
        self._draw(final=False)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self._draw(final=True)
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def line(self) -> str:
        """The current state as one line of text.

        The total and the time left are shown only while the count is within the total: an
        archive can hold more files than were counted before it was opened.
        """
        elapsed = max(time.monotonic() - self._start, 1e-6)
        total = self._known_total()
        count = f"{self.done}/{total}" if total else f"{self.done}"
        parts = [f"{self.label}: {count} files", format_bytes(self.nbytes)]
        parts.append(f"{format_bytes(self.nbytes / elapsed)}/s")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if total and self.done:
            left = elapsed / self.done * (total - self.done)
            parts.append(f"{_duration(left)} left")
        return ", ".join(parts)

    def _known_total(self) -> int | None:
        """The total, unless the count already passed it (then it was not the total)."""
        return self.total if self.total and self.done <= self.total else None

    def _draw(self, *, final: bool) -> None:
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if final or now - self._last_draw >= 0.1:
                self._last_draw = now
                width = shutil.get_terminal_size((80, 24)).columns - 1
                self.stream.write("\r" + (self._bar() + self.line())[:width].ljust(width))
                self.stream.flush()
            return
        total = self._known_total()
        step = self.done * _PLAIN_STEPS // total if total else self.done // 100
        if step != self._last_step or (final and self.done != self._last_done):
            self._last_step, self._last_done = step, self.done
            self.stream.write(self.line() + "\n")

    def _bar(self) -> str:
        total = self._known_total()
        if not total:
            return ""
        filled = int(20 * self.done / total)
        return "[" + "#" * filled + "." * (20 - filled) + "] "
