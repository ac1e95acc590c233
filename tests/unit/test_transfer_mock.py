"""Upload outcomes decided from server answers, with httpx.MockTransport (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydicom.data import get_testdata_file

from kkorthanc import Orthanc, TransferOutcome
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
