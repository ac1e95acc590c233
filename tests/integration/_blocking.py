"""Drive an async KkOrthanc object from synchronous test code, invisibly in tracebacks.

The ``client`` fixture (``conftest.py``) hands a test either :class:`kkorthanc.Orthanc` or
``Blocking(AsyncOrthanc(...))``, so one test body checks that the two clients behave the same.
The proxy stays out of a failing test's report: its frames carry ``__tracebackhide__`` (pytest
drops them), an error raised in the async code is re-raised without the event loop's frames,
and a method reached through it is a real bound method named like the async one, so pytest's
assertion message reads ``where ... = capabilities()`` for both clients.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

__all__ = ["Blocking"]

T = TypeVar("T")


def run(loop: asyncio.AbstractEventLoop, awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion on ``loop``; an error keeps only the async code's frames."""
    __tracebackhide__ = True
    try:
        return loop.run_until_complete(_await(awaitable))
    except BaseException as error:  # re-raised below, outside the handler: no chained context
        failure = error
    raise failure.with_traceback(_without_loop(failure.__traceback__))


def _without_loop(tb: types.TracebackType | None) -> types.TracebackType | None:
    """``tb`` from the first frame that is neither asyncio's nor a hidden one of this module."""
    while tb is not None and _hidden(tb.tb_frame):
        tb = tb.tb_next
    return tb


def _hidden(frame: types.FrameType) -> bool:
    module = str(frame.f_globals.get("__name__", ""))
    return module.split(".")[0] == "asyncio" or "__tracebackhide__" in frame.f_locals


async def _await(awaitable: Awaitable[T]) -> T:
    __tracebackhide__ = True
    return await awaitable


class Blocking:
    """An async KkOrthanc object used with the sync client's calls.

    Every coroutine a method returns is run to completion on one event loop; async iterators
    become iterators, async context managers become context managers, and KkOrthanc objects
    returned are wrapped in turn. So ``Blocking(AsyncOrthanc(...)).patients.list()`` behaves
    like ``Orthanc(...).patients.list()``.
    """

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_loop", loop)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not isinstance(value, type):
            return types.MethodType(_blocking_method(name, value), self)
        return self._wrap(value)

    def _wrap(self, value: Any) -> Any:
        __tracebackhide__ = True
        if inspect.isawaitable(value):
            value = run(self._loop, value)
        if isinstance(value, AbstractAsyncContextManager):
            return _BlockingContext(value, self._loop)
        if hasattr(value, "__anext__"):
            return self._iterate(value)
        if isinstance(value, list):
            return [self._wrap(item) for item in value]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(self._wrap(item) for item in value)
        if isinstance(value, dict):
            return {key: self._wrap(item) for key, item in value.items()}
        if type(value).__module__.startswith("kkorthanc._client._async"):
            return Blocking(value, self._loop)
        return value

    def _iterate(self, iterator: AsyncIterator[Any]) -> Iterator[Any]:
        __tracebackhide__ = True
        while True:
            try:
                item = run(self._loop, iterator.__anext__())
            except StopAsyncIteration:
                return
            yield self._wrap(item)

    def __eq__(self, other: object) -> bool:
        other_target = other._target if isinstance(other, Blocking) else other
        return bool(self._target == other_target)

    def __hash__(self) -> int:
        return hash(self._target)

    def __repr__(self) -> str:
        return repr(self._target)

    def __str__(self) -> str:
        return str(self._target)

    def __iter__(self) -> Iterator[Any]:
        if hasattr(self._target, "__aiter__"):
            return self._iterate(self._target.__aiter__())
        return iter(self._target)

    def __len__(self) -> int:
        return len(self._target)

    def __getitem__(self, key: Any) -> Any:
        return self._wrap(self._target[key])


def _blocking_method(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """A function that calls ``method`` and unwraps its answer, named like it (for pytest)."""

    def call(self: Blocking, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return self._wrap(method(*args, **kwargs))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = method.__doc__
    return call


class _BlockingContext:
    """An async context manager used with ``with``; a response it yields reads synchronously."""

    def __init__(self, manager: AbstractAsyncContextManager[Any], loop: asyncio.AbstractEventLoop):
        self._manager = manager
        self._loop = loop

    def __enter__(self) -> Any:
        __tracebackhide__ = True
        entered = run(self._loop, self._manager.__aenter__())
        if hasattr(entered, "aiter_bytes"):
            return _BlockingResponse(entered, self._loop)
        return entered

    def __exit__(self, *exc_info: Any) -> bool:
        __tracebackhide__ = True
        return bool(run(self._loop, self._manager.__aexit__(*exc_info)))


class _BlockingResponse:
    """An httpx response from an async stream, read with the sync method names."""

    def __init__(self, response: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._response = response
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        __tracebackhide__ = True
        iterator = self._response.aiter_bytes(chunk_size).__aiter__()
        while True:
            try:
                yield run(self._loop, iterator.__anext__())
            except StopAsyncIteration:
                return
