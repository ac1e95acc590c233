"""The changes feed: every page of ``/changes``, and a stoppable, resumable follower.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import os
import threading
import time
from asyncio import sleep
from collections.abc import AsyncIterator, Collection, Mapping
from pathlib import Path

from ..._core.models.operations import Change
from ..._core.seam import AsyncSeam
from ..._util.atomic_file import AtomicFile
from ...errors import OrthancInputError, OrthancTimeoutError, UnexpectedContentError

__all__ = ["AsyncWatch", "iter_changes", "read_cursor", "write_cursor"]

PAGE_SIZE = 100
_SLEEP_STEP = 0.1


def read_cursor(path: Path) -> int | None:
    """The sequence number stored in a cursor file, or None when there is no file.

    Raises:
        OrthancInputError: The file does not hold a number.
    """
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        raise OrthancInputError(f"cursor file {path} holds {text!r}, not a sequence number")
    return int(text)


def write_cursor(path: Path, seq: int) -> None:
    """Store ``seq`` in the cursor file atomically (a temporary file renamed over it)."""
    with AtomicFile(path) as sink:
        sink.write(f"{seq}\n".encode("ascii"))


async def _page(client: AsyncSeam, since: int, limit: int) -> tuple[list[Change], bool, int]:
    answer = await client.get("changes", params={"since": since, "limit": limit})
    if not isinstance(answer, Mapping) or not isinstance(answer.get("Changes"), list):
        raise UnexpectedContentError(f"GET /changes answered {answer!r}")
    changes = [Change.from_json(entry) for entry in answer["Changes"]]
    last = int(answer.get("Last", changes[-1].seq if changes else since))
    return changes, bool(answer.get("Done", True)), max(last, since)


async def _last_seq(client: AsyncSeam) -> int:
    answer = await client.get("changes", params={"last": True})
    if not isinstance(answer, Mapping):
        raise UnexpectedContentError(f"GET /changes?last answered {answer!r}")
    return int(answer.get("Last", 0))


async def iter_changes(
    client: AsyncSeam,
    *,
    since: int = 0,
    types: Collection[str] | None = None,
    limit: int | None = None,
) -> AsyncIterator[Change]:
    """Yield the changes after ``since`` (exclusive), page after page, until the feed's end.

    Raises:
        OrthancInputError: A negative ``since`` or ``limit``.
    """
    if since < 0 or (limit is not None and limit < 0):
        raise OrthancInputError("since and limit must not be negative")
    wanted = set(types) if types else None
    count = 0
    while limit is None or count < limit:
        changes, done, since = await _page(client, since, PAGE_SIZE)
        for change in changes:
            if wanted is None or change.change_type in wanted:
                yield change
                count += 1
                if limit is not None and count >= limit:
                    return
        if done or not changes:
            return


class AsyncWatch:
    """Follows the changes feed: iterate it to get each new :class:`Change`, as it happens.

    With a ``cursor_file``, the sequence number of each change is written there (atomically)
    once the change is handled, that is when the loop asks for the next one, and a new watch
    resumes after it: no change is lost or handled twice across restarts (a change whose
    handling raised is handed out again). Stop it with :meth:`stop`, from the loop's body (the
    current change then counts as handled once the body ends) or from another thread, or
    with a ``timeout``. Leaving the loop with ``break`` leaves the current change unhandled:
    a resumed watch hands it out again.

    Args:
        client: The client to poll through.
        types: Keep only these change types, e.g. ``{"StableStudy"}``.
        since: Start after this sequence number; default: the cursor file's, else the
            current end of the feed (only new changes).
        cursor_file: Where to persist the last handled sequence number.
        interval: Seconds between two polls when the feed has nothing new.
        timeout: Stop after this many seconds in all, raising OrthancTimeoutError, whether
            waiting for new changes or still catching up on old ones (the change due when it
            passes is not handed out, nor stored in the cursor file).
    """

    def __init__(
        self,
        client: AsyncSeam,
        *,
        types: Collection[str] | None = None,
        since: int | None = None,
        cursor_file: str | os.PathLike[str] | None = None,
        interval: float = 1.0,
        timeout: float | None = None,
    ) -> None:
        if not 0 < interval <= 3600 or (timeout is not None and timeout <= 0):
            raise OrthancInputError("interval must be in (0, 3600] s and timeout positive")
        self._client = client
        self._types = set(types) if types else None
        self._cursor = Path(cursor_file) if cursor_file is not None else None
        self._since = since if since is not None else self._stored()
        self._interval = interval
        self._timeout = timeout
        self._stopped = threading.Event()

    @property
    def last_seq(self) -> int | None:
        """The sequence number of the last handled change (None before the first poll)."""
        return self._since

    def stop(self) -> None:
        """End the iteration at the next change or poll (safe from another thread)."""
        self._stopped.set()

    def _stored(self) -> int | None:
        return read_cursor(self._cursor) if self._cursor is not None else None

    def _handled(self, seq: int) -> None:
        self._since = seq
        if self._cursor is not None:
            write_cursor(self._cursor, seq)

    def __aiter__(self) -> AsyncIterator[Change]:
        return self._follow()

    async def _follow(self) -> AsyncIterator[Change]:
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        if self._since is None:
            self._since = await _last_seq(self._client)
        while not self._stopped.is_set():
            self._expire(deadline)
            changes, done, last = await _page(self._client, self._since, PAGE_SIZE)
            for change in changes:
                self._expire(deadline)  # also while catching up on a backlog
                if self._types is None or change.change_type in self._types:
                    yield change
                self._handled(change.seq)
                if self._stopped.is_set():
                    return
            if last > self._since:
                self._handled(last)
            if done:
                await self._pause(deadline)

    def _expire(self, deadline: float | None) -> None:
        """Raise once the timeout has passed (the next change is then left unhandled)."""
        if deadline is not None and time.monotonic() >= deadline:
            raise OrthancTimeoutError(
                f"the watch's timeout of {self._timeout} s passed (last handled change: "
                f"{self._since})"
            )

    async def _pause(self, deadline: float | None) -> None:
        end = time.monotonic() + self._interval
        while not self._stopped.is_set() and time.monotonic() < end:
            self._expire(deadline)
            await sleep(min(_SLEEP_STEP, max(end - time.monotonic(), 0)))

    def __repr__(self) -> str:
        return f"AsyncWatch(since={self._since}, types={self._types})"
