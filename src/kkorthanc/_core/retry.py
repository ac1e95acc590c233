"""The one retry policy: how often, how long, and with which pauses something is tried again.

:class:`Retry` is used by the clients (each request, :meth:`BaseOrthanc._retry_delay
<kkorthanc._core.request.BaseOrthanc._retry_delay>` decides *what* may be resent) and by the
transfer engines (an upload file failing with transport errors, ``retry_for=``; a storage that
could not write a file). :class:`Retrying` follows one request, or one file, through a policy.
No I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Union

from ..errors import OrthancInputError

__all__ = ["Retry", "RetryTypes", "Retrying", "as_retry"]


@dataclass(frozen=True)
class Retry:
    """When and how often a failed request is sent again.

    Connection failures (nothing reached the server) are retried for every method. Answers
    ``502/503/504`` and read timeouts are retried only for idempotent methods (GET, HEAD, PUT,
    DELETE, OPTIONS), and for a POST only when the call says it is safe (``retry=True``).

    A retry is allowed while both budgets last: ``total`` retries, and ``deadline`` seconds
    counted from the first failure. The pause before retry number ``n`` starts at ``backoff``
    and doubles at each retry up to ``max_backoff``; it never runs past the deadline.

    Args:
        total: How many times a request may be sent again (0 disables retries; None: no limit
            but the deadline).
        deadline: How long, in seconds from the first failure, retries may go on (None: no
            limit but ``total``).
        backoff: The first pause, in seconds; it doubles at each attempt.
        max_backoff: The longest pause.
        statuses: The HTTP statuses worth another try.

    Raises:
        OrthancInputError: Neither a total nor a deadline, or a negative number.

    Example:
        >>> Retry(total=5).delay(3)
        2.0
        >>> Retry(total=None, deadline=30, backoff=0.1, max_backoff=2).pause(4, elapsed=29.5)
        0.5
    """

    total: int | None = 3
    deadline: float | None = None
    backoff: float = 0.5
    max_backoff: float = 10.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({502, 503, 504}))

    def __post_init__(self) -> None:
        if self.total is None and self.deadline is None:
            raise OrthancInputError("a Retry needs a total, a deadline, or both (not neither)")
        for name in ("total", "deadline", "backoff", "max_backoff"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 0):
                raise OrthancInputError(f"Retry({name}=...) must be >= 0, got {value!r}")

    def allows(self, attempt: int, elapsed: float = 0.0) -> bool:
        """Whether retry number ``attempt`` (1 for the first) may be made, ``elapsed`` seconds
        after the first failure.

        Example:
            >>> Retry(total=3).allows(4)
            False
        """
        if self.total is not None and attempt > self.total:
            return False
        return self.deadline is None or elapsed < self.deadline

    def delay(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (1 for the first retry), by the backoff
        rule alone.

        Example:
            >>> Retry(backoff=0.5).delay(1)
            0.5
        """
        return float(min(self.max_backoff, self.backoff * (2 ** (attempt - 1))))

    def pause(self, attempt: int, elapsed: float = 0.0) -> float | None:
        """The pause before retry number ``attempt``, ``elapsed`` seconds after the first
        failure, cut so as not to run past the deadline; None when the budget is spent.

        Example:
            >>> Retry(total=1).pause(2) is None
            True
        """
        if not self.allows(attempt, elapsed):
            return None
        delay = self.delay(attempt)
        return delay if self.deadline is None else min(delay, self.deadline - elapsed)


class Retrying:
    """One request's (or one file's) course through a :class:`Retry` policy: it counts the
    failures and the time since the first one.

    Example:
        >>> course = Retrying(Retry(total=1, backoff=0.2))
        >>> course.failed(), course.failed()
        (0.2, None)
    """

    def __init__(self, policy: Retry, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.attempt = 0
        self._clock = clock
        self._since: float | None = None

    def failed(self) -> float | None:
        """Count one failure; return the pause before trying again, or None when the policy's
        budget is spent."""
        now = self._clock()
        if self._since is None:
            self._since = now
        self.attempt += 1
        return self.policy.pause(self.attempt, now - self._since)


RetryTypes = Union[Retry, int, None]


def as_retry(value: RetryTypes) -> Retry:
    """Normalise a retries argument: a ``Retry``, a count, or ``None`` (no retries).

    Raises:
        OrthancInputError: Not a ``Retry``, a whole number >= 0, or None.

    Example:
        >>> as_retry(2).total
        2
    """
    if isinstance(value, Retry):
        return value
    if value is None:
        return Retry(total=0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OrthancInputError(f"retries must be a non-negative whole number, got {value!r}")
    return Retry(total=value)
