"""Fixtures shared by the integration tests.

``client`` is the heart of it: every test that takes it runs twice per server version, once with
:class:`kkorthanc.Orthanc` and once with :class:`kkorthanc.AsyncOrthanc` driven through
:class:`Blocking` (``_blocking.py``, hidden from tracebacks), so one test body checks that the two
clients behave the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from _blocking import Blocking

import kkorthanc


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
