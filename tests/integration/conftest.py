"""Fixtures shared by the integration tests.

``client`` is the heart of it: every test that takes it runs twice per server version, once with
:class:`kkorthanc.Orthanc` and once with :class:`kkorthanc.AsyncOrthanc` driven through
:class:`Blocking`, so one test body checks that the two clients behave the same.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any

import pytest

import kkorthanc


class Blocking:
    """Drives an async KkOrthanc object from synchronous test code.

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
            return lambda *args, **kwargs: self._wrap(value(*args, **kwargs))
        return self._wrap(value)

    def _wrap(self, value: Any) -> Any:
        if inspect.isawaitable(value):
            value = self._loop.run_until_complete(_await(value))
        if isinstance(value, AbstractAsyncContextManager):
            return self._context(value)
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

    @contextmanager
    def _context(self, manager: AbstractAsyncContextManager[Any]) -> Iterator[Any]:
        entered = self._loop.run_until_complete(_await(manager.__aenter__()))
        try:
            yield self._wrap_stream(entered)
        except BaseException as error:
            handled = self._loop.run_until_complete(
                _await(manager.__aexit__(type(error), error, error.__traceback__))
            )
            if not handled:
                raise
        else:
            self._loop.run_until_complete(_await(manager.__aexit__(None, None, None)))

    def _wrap_stream(self, value: Any) -> Any:
        return _BlockingResponse(value, self._loop) if hasattr(value, "aiter_bytes") else value

    def _iterate(self, iterator: AsyncIterator[Any]) -> Iterator[Any]:
        while True:
            try:
                item = self._loop.run_until_complete(_await(iterator.__anext__()))
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


class _BlockingResponse:
    """An httpx response from an async stream, read with the sync method names."""

    def __init__(self, response: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._response = response
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        iterator = self._response.aiter_bytes(chunk_size).__aiter__()
        while True:
            try:
                yield self._loop.run_until_complete(_await(iterator.__anext__()))
            except StopAsyncIteration:
                return


async def _await(awaitable: Any) -> Any:
    return await awaitable


@pytest.fixture(params=["sync", "async"])
def client_kind(request: pytest.FixtureRequest) -> str:
    """Which client a ``client`` test runs with."""
    return str(request.param)


@pytest.fixture
def client(orthanc: Any, client_kind: str) -> Iterator[Any]:
    """A client of the clean test server: ``Orthanc``, or ``AsyncOrthanc`` behind :class:`Blocking`.

    Use it exactly like a :class:`kkorthanc.Orthanc`.
    """
    auth = (orthanc.username, orthanc.password) if orthanc.username else None
    if client_kind == "sync":
        with kkorthanc.Orthanc(orthanc.url, auth=auth) as sync_client:
            yield sync_client
        return
    loop = asyncio.new_event_loop()
    async_client = kkorthanc.AsyncOrthanc(orthanc.url, auth=auth)
    try:
        yield Blocking(async_client, loop)
    finally:
        loop.run_until_complete(async_client.aclose())
        loop.close()


@pytest.fixture
def make_client(client_kind: str) -> Iterator[Any]:
    """A factory of clients of the same kind as ``client``, for other URLs or credentials.

    Call it with the constructor's arguments: ``make_client(url, auth=None)``.
    """
    loop = asyncio.new_event_loop()
    made: list[Any] = []

    def make(*args: Any, **kwargs: Any) -> Any:
        if client_kind == "sync":
            made.append(kkorthanc.Orthanc(*args, **kwargs))
            return made[-1]
        made.append(kkorthanc.AsyncOrthanc(*args, **kwargs))
        return Blocking(made[-1], loop)

    yield make
    for item in made:
        if isinstance(item, kkorthanc.AsyncOrthanc):
            loop.run_until_complete(item.aclose())
        else:
            item.close()
    loop.close()
