"""Navigation between levels against a mock transport: one request per call, the right route."""

from __future__ import annotations

import asyncio
import json

import httpx

import kkorthanc

SERIES = {"ID": "s1", "Type": "Series", "ParentStudy": "st1", "MainDicomTags": {"Modality": "CT"}}
INSTANCE = {"ID": "i1", "Type": "Instance", "ParentSeries": "s1", "MainDicomTags": {}}
ANSWERS = {"/patients/p1/series": [SERIES], "/patients/p1/instances": [INSTANCE]}


def _served(seen: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.path}?{request.url.query.decode()}")
        body = json.dumps(ANSWERS[request.url.path]).encode()
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handler)


def test_a_patient_lists_its_series_and_instances_in_one_request_each() -> None:
    seen: list[str] = []
    with kkorthanc.Orthanc("http://orthanc.test", transport=_served(seen)) as client:
        patient = kkorthanc.Patient(client, "p1")
        series = patient.series()
        instances = patient.instances()
    assert seen == ["/patients/p1/series?expand=true", "/patients/p1/instances?expand=true"]
    assert [type(s) for s in series] == [kkorthanc.Series] and series[0].modality == "CT"
    assert [type(i) for i in instances] == [kkorthanc.Instance] and instances[0].parent_id == "s1"


def test_the_async_patient_does_the_same() -> None:
    seen: list[str] = []

    async def navigate() -> tuple[list[kkorthanc.AsyncSeries], list[kkorthanc.AsyncInstance]]:
        async with kkorthanc.AsyncOrthanc("http://orthanc.test", transport=_served(seen)) as client:
            patient = kkorthanc.AsyncPatient(client, "p1")
            return await patient.series(), await patient.instances()

    series, instances = asyncio.run(navigate())
    assert (
        len(seen) == 2 and [s.id for s in series] == ["s1"] and [i.id for i in instances] == ["i1"]
    )
