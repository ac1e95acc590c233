"""The one retry policy: its budgets (total, deadline), its pauses, and its users."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom.data import get_testdata_file

import kkorthanc
from kkorthanc import AsyncOrthanc, Orthanc, Retry, TransferOutcome
from kkorthanc._core.retry import Retrying
from kkorthanc._transfer.plan.decide import STORAGE_RETRY, transport_retry
from kkorthanc.errors import OrthancConnectionError

CT = Path(str(get_testdata_file("CT_small.dcm", download=False)))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_public_retry_is_the_one_policy() -> None:
    assert kkorthanc.Retry is Retry
    assert Retry.__module__ == "kkorthanc._core.retry"


def test_total_counts_retries_and_the_pause_doubles_up_to_the_cap() -> None:
    policy = Retry(total=5, backoff=0.5, max_backoff=2.0)
    assert [policy.pause(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 2.0, 2.0, None]


def test_the_deadline_counts_from_the_first_failure_and_cuts_the_last_pause() -> None:
    clock = Clock()
    course = Retrying(Retry(total=None, deadline=1.0, backoff=0.1, max_backoff=2.0), clock)
    pauses = []
    while (pause := course.failed()) is not None:
        pauses.append(pause)
        clock.now += pause
    assert pauses == pytest.approx([0.1, 0.2, 0.4, 0.3])
    assert course.attempt == 5


def test_the_upload_and_storage_policies() -> None:
    assert transport_retry(30.0) == Retry(total=None, deadline=30.0, backoff=0.1, max_backoff=2.0)
    assert transport_retry(0).pause(1) is None  # retry_for=0: the first failure gives up
    course = Retrying(STORAGE_RETRY)
    assert (course.failed(), course.failed()) == (0.2, None)


def test_a_policy_without_any_budget_is_refused() -> None:
    with pytest.raises(kkorthanc.OrthancInputError, match="total, a deadline"):
        Retry(total=None)
    with pytest.raises(kkorthanc.OrthancInputError, match="deadline"):
        Retry(deadline=-1)


def test_the_client_honours_a_deadline() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503)

    transport = httpx.MockTransport(handler)
    policy = Retry(total=5, deadline=0, backoff=0.001)
    with Orthanc("http://h", transport=transport, retries=policy) as client:
        with pytest.raises(kkorthanc.ServerError):
            client.get("system")
    assert calls == ["GET"]


def _flaky(failures: int) -> tuple[list[int], Any]:
    """A server that refuses the first ``failures`` uploads' connections, then stores."""
    posts: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/tools/find":
            return httpx.Response(200, json=[])
        posts.append(1)
        if len(posts) <= failures:
            raise httpx.ConnectError("Connection refused", request=request)
        return httpx.Response(200, json={"ID": "x", "Status": "Success"})

    return posts, handle


def _upload(kind: str, handle: Any, **options: Any) -> Any:
    transport = httpx.MockTransport(handle)
    if kind == "sync":
        with Orthanc("http://orthanc.test", transport=transport, retries=0) as client:
            return client.upload(CT, concurrency=1, **options)

    async def run() -> Any:
        async with AsyncOrthanc("http://orthanc.test", transport=transport, retries=0) as client:
            return await client.upload(CT, concurrency=1, **options)

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_upload_retries_transport_failures_within_retry_for(kind: str) -> None:
    posts, handle = _flaky(1)
    report = _upload(kind, handle, retry_for=30.0)
    assert [record.outcome for record in report] == [TransferOutcome.STORED]
    assert len(posts) == 2


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_unreachable_server_stops_the_upload_after_retry_for(kind: str) -> None:
    posts, handle = _flaky(10)
    with pytest.raises(OrthancConnectionError) as info:
        _upload(kind, handle, retry_for=0)
    assert len(posts) == 1
    assert len(info.value.report) == 0  # type: ignore[attr-defined]
