"""Upload outcomes decided from server answers, with httpx.MockTransport (no server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom.data import get_testdata_file

from kkorthanc import AsyncOrthanc, Orthanc, TransferOutcome
from kkorthanc.errors import ServerError, UnauthorizedError

CT = Path(str(get_testdata_file("CT_small.dcm", download=False)))


def _client(answer: httpx.Response) -> Orthanc:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/tools/find":
            return httpx.Response(200, json=[])
        return answer

    return Orthanc("http://orthanc.test", transport=httpx.MockTransport(handle), retries=0)


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"ID": "x", "Status": "Success"}, TransferOutcome.STORED),
        (200, {"ID": "x", "Status": "AlreadyStored"}, TransferOutcome.ALREADY_STORED),
        (409, {}, TransferOutcome.ALREADY_STORED),
        (404, {"OrthancStatus": 21, "Message": "Inexistent tag"}, TransferOutcome.REJECTED),
        (400, {"OrthancStatus": 15, "Message": "Bad file format"}, TransferOutcome.REJECTED),
    ],
)
def test_outcome_from_answer(
    status: int, body: dict[str, object], outcome: TransferOutcome
) -> None:
    with _client(httpx.Response(status, content=json.dumps(body).encode())) as client:
        report = client.upload(CT)
    assert [record.outcome for record in report] == [outcome]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(401, {}, UnauthorizedError), (500, {"OrthancStatus": 19, "Message": "full"}, ServerError)],
)
def test_fatal_answers_stop_with_the_partial_report(
    status: int, body: dict[str, object], error: type[Exception]
) -> None:
    with _client(httpx.Response(status, content=json.dumps(body).encode())) as client:
        with pytest.raises(error) as info:
            client.upload([CT, CT], skip_existing=False, concurrency=1)
    assert len(info.value.report) == 0  # type: ignore[attr-defined]


_CANNOT_WRITE = {
    "OrthancStatus": 2001,
    "Message": "Unable to create a subdirectory or a file in the file storage",
}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_storage_hiccup_is_sent_once_more(kind: str) -> None:
    """Orthanc can fail one of two uploads creating the same storage folder at once."""
    answers = [httpx.Response(500, json=_CANNOT_WRITE), httpx.Response(200, json=_STORED)]
    posts: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/tools/find":
            return httpx.Response(200, json=[])
        posts.append(1)
        return answers.pop(0)

    report = _upload(kind, handle, CT)
    assert [record.outcome for record in report] == [TransferOutcome.STORED]
    assert len(posts) == 2


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_storage_that_cannot_write_twice_stops_the_upload(kind: str) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/tools/find":
            return httpx.Response(200, json=[])
        return httpx.Response(500, json=_CANNOT_WRITE)

    with pytest.raises(ServerError) as info:
        _upload(kind, handle, CT)
    assert info.value.orthanc_status == 2001


_STORED = {"ID": "x", "Status": "Success"}


def _upload(kind: str, handle: Any, *sources: Any) -> Any:
    transport_options = {"retries": 0}
    if kind == "sync":
        with Orthanc(
            "http://orthanc.test", transport=httpx.MockTransport(handle), **transport_options
        ) as client:
            return client.upload(*sources, concurrency=1)

    async def run() -> Any:
        async with AsyncOrthanc(
            "http://orthanc.test", transport=httpx.MockTransport(handle), **transport_options
        ) as client:
            return await client.upload(*sources, concurrency=1)

    return asyncio.run(run())
