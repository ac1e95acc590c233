"""Fixtures shared by the integration tests.

``client`` is the heart of it: every test that takes it runs twice per server version, once with
:class:`kkorthanc.Orthanc` and once with :class:`kkorthanc.AsyncOrthanc` driven through
:class:`Blocking` (``_blocking.py``, hidden from tracebacks), so one test body checks that the two
clients behave the same.

``data_dir`` and ``where`` serve the tests that start servers through ``kkorthanc server start``:
a fresh data folder the spec's Orthanc can see, and the arguments choosing its binary
(``_server_dirs.py``, also used by the local-user and root tests for their own folders).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _blocking import Blocking
from _server_dirs import server_folder, where_args

import kkorthanc
from kkorthanc.testing import ServerSpec


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


@pytest.fixture
def data_dir(orthanc_spec: ServerSpec, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh server data folder (not yet created) that the spec's Orthanc can see.

    Its parent is reachable by other accounts (0o711): as root, Orthanc runs as the ``orthanc``
    account and PostgreSQL as its own user. A server left running in it is stopped afterwards.
    """
    prefix = "kk-" + request.path.stem.removeprefix("test_") + "-"
    with server_folder(orthanc_spec, prefix, 0o711) as root:
        yield root / "data"


@pytest.fixture
def where(orthanc_spec: ServerSpec) -> list[str]:
    """The ``--orthanc``/``--chroot`` arguments that select the spec's binary."""
    return where_args(orthanc_spec)
