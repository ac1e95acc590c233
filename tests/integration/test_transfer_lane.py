"""The transfer fast lane against real servers: kept-alive connections Orthanc closes, exact
bytes both ways, and the httpx path kept wherever the caller's settings need it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from _transfer_data import make_dataset, md5, write_instances

import kkorthanc
from kkorthanc._transfer.lane.connections import FastLane
from kkorthanc._transfer.plan.verify import MANIFEST_NAME as MANIFEST


def _auth(orthanc: Any) -> tuple[str, str] | None:
    return (orthanc.username, orthanc.password) if orthanc.username else None


def test_lane_outlives_orthancs_keep_alive_timeout(orthanc: Any, tmp_path: Path) -> None:
    paths = write_instances(tmp_path, 2)
    with kkorthanc.Orthanc(orthanc.url, auth=_auth(orthanc)) as client:
        poster = FastLane.for_client(client)
        assert poster is not None
        try:
            assert poster.post(paths[0].read_bytes())["Status"] == "Success"
            time.sleep(2)  # Orthanc closes idle kept-alive connections after about a second
            assert poster.post(paths[1].read_bytes())["Status"] == "Success"
            assert poster.post(paths[1].read_bytes())["Status"] == "AlreadyStored"
        finally:
            poster.close()
        assert len(client.get("instances")) == 2


def test_lane_stores_the_exact_bytes(client: Any, tmp_path: Path) -> None:
    write_instances(tmp_path, 3)
    report = client.upload(tmp_path)
    assert report.counts == {"stored": 3}
    for record in report:
        route = ("instances", record.instance_id, "attachments", "dicom", "md5")
        assert client.get(route) == md5(Path(record.source))


def test_event_hooks_see_every_upload_request(
    make_client: Any, orthanc: Any, client_kind: str, tmp_path: Path
) -> None:
    write_instances(tmp_path, 3)
    make_dataset("OTHER").save_as(tmp_path / "other", enforce_file_format=True)
    seen: list[str] = []

    def note(request: httpx.Request) -> None:
        seen.append(f"{request.method} {request.url.path}")

    async def anote(request: httpx.Request) -> None:
        note(request)

    hook = note if client_kind == "sync" else anote
    client = make_client(orthanc.url, auth=_auth(orthanc), event_hooks={"request": [hook]})
    assert client.upload(tmp_path).counts == {"stored": 4}
    assert seen.count("POST /instances") == 4


def test_export_through_the_lane_and_through_httpx(
    make_client: Any, orthanc: Any, client_kind: str, tmp_path: Path
) -> None:
    sources = write_instances(tmp_path / "in", 5, patients=2)
    seen: list[str] = []

    def note(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async def anote(request: httpx.Request) -> None:
        note(request)

    hook = note if client_kind == "sync" else anote
    lane_client = make_client(orthanc.url, auth=_auth(orthanc))
    hooked = make_client(orthanc.url, auth=_auth(orthanc), event_hooks={"request": [hook]})
    lane_client.upload(tmp_path / "in")
    patients = [("Patient", patient) for patient in lane_client.get("patients")]
    expected = sorted(md5(path) for path in sources)
    for name, client in (("lane", lane_client), ("httpx", hooked)):
        report = client.export(patients, tmp_path / name, layout="flat")
        assert report.counts == {"downloaded": 5}
        exported = [path for path in (tmp_path / name).iterdir() if path.name != MANIFEST]
        assert sorted(md5(path) for path in exported) == expected
        assert (tmp_path / name / MANIFEST).is_file()  # what makes a re-run cheap
    assert len([path for path in seen if path.endswith("/file")]) == 5
