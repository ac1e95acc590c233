"""DICOM networking through Orthanc, against a second real Orthanc and dcmtk's tools."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _ops_data import ct_bytes, upload

from kkorthanc.errors import (
    DicomNetworkError,
    NotFoundError,
    OrthancInputError,
    UnsupportedFeatureError,
)
from kkorthanc.server._launcher import free_ports


@pytest.fixture
def remote(orthanc: Any, orthanc_factory: Any, client: Any) -> Any:
    """A second Orthanc ("PEER") that knows the test server as a modality, and vice versa."""
    peer = orthanc_factory(aet="PEER")
    with peer.client() as http:
        config = {"AET": orthanc.aet, "Host": "127.0.0.1", "Port": orthanc.dicom_port}
        http.put("/modalities/main", json=config).raise_for_status()
    client.modalities.configure("remote", aet="PEER", host="127.0.0.1", port=peer.dicom_port)
    return peer


def _store_on(server: Any, data: bytes) -> dict[str, Any]:
    with server.client() as http:
        response = http.post("/instances", content=data)
        response.raise_for_status()
        return dict(response.json())


def test_crud_and_echo(client: Any, remote: Any) -> None:
    modality = client.modalities.get("remote")
    assert (modality.aet, modality.config.port) == ("PEER", remote.dicom_port)
    assert [m.name for m in client.modalities.list()] == ["remote"]
    modality.c_echo()
    client.modalities.delete("remote")
    with pytest.raises(NotFoundError):
        client.modalities.get("remote")


def test_unknown_modality_and_bad_names(client: Any) -> None:
    with pytest.raises(NotFoundError):
        client.modalities.get("nothere")
    with pytest.raises(NotFoundError):
        client.modalities.delete("nothere")
    with pytest.raises(OrthancInputError):
        client.modalities.configure("bad name", aet="X", host="127.0.0.1", port=104)
    with pytest.raises(OrthancInputError):
        client.modalities.configure("ok", aet="X" * 17, host="127.0.0.1", port=104)


def test_echo_to_a_closed_port_raises_with_orthancs_details(client: Any) -> None:
    (port,) = free_ports(1)
    modality = client.modalities.configure("closed", aet="NOBODY", host="127.0.0.1", port=port)
    with pytest.raises(DicomNetworkError) as caught:
        modality.c_echo()
    assert caught.value.status_code == 500 and caught.value.orthanc_status == 9
    assert "refused" in (caught.value.details or "").lower()


def test_echo_to_a_silent_peer_times_out_as_an_error(client: Any) -> None:
    with socket.socket() as silent:  # accepts TCP connections, never answers an association
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        modality = client.modalities.configure("silent", aet="SILENT", host="127.0.0.1", port=port)
        with pytest.raises(DicomNetworkError) as caught:
            modality.c_echo(timeout=1)
    assert caught.value.orthanc_status == 9


@pytest.fixture
def storescp() -> Iterator[int]:
    """dcmtk's storescp listening on a free port (a real, independent DICOM peer)."""
    (port,) = free_ports(1)
    process = subprocess.Popen(["storescp", "--aetitle", "DCMTK", str(port)])
    try:
        while True:  # wait until it listens (or fail if it died)
            assert process.poll() is None, "storescp exited"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait()


def test_echo_to_dcmtk_storescp(client: Any, storescp: int) -> None:
    client.modalities.configure("dcmtk", aet="DCMTK", host="127.0.0.1", port=storescp).c_echo()


def test_find_studies_then_series_of_an_answer(client: Any, remote: Any) -> None:
    stored = _store_on(remote, ct_bytes(PatientID="FIND1", StudyDescription="remote study"))
    _store_on(remote, ct_bytes(PatientID="OTHER"))
    modality = client.modalities.get("remote")
    answers = modality.c_find_studies(PatientID="FIND1", StudyDescription="")
    assert len(answers) == 1
    assert answers[0].patient_id == "FIND1"
    assert answers[0].tags["StudyDescription"] == "remote study"
    series = answers[0].c_find_series()
    with remote.client() as http:
        uid = http.get(f"/series/{stored['ParentSeries']}").json()["MainDicomTags"]
    assert [s.series_instance_uid for s in series] == [uid["SeriesInstanceUID"]]
    assert len(modality.c_find_patients(PatientID="*")) == 2


def test_retrieve_moves_answers_into_this_server(client: Any, remote: Any) -> None:
    stored = _store_on(remote, ct_bytes(PatientID="MOVE1"))
    query = client.modalities.get("remote").c_find("Study", {"PatientID": "MOVE1"})
    assert len(query.answers()) == 1
    query.retrieve(target_aet=client.system().dicom_aet)
    assert client.get("instances") == [stored["ID"]]


def test_retrieve_job_and_move_by_uid(client: Any, remote: Any) -> None:
    stored = _store_on(remote, ct_bytes(PatientID="MOVE2"))
    query = client.modalities.get("remote").c_find("Patient", {"PatientID": "MOVE2"})
    job = query.retrieve_job().wait(timeout=120)
    assert job.state.value == "Success"
    assert client.get("instances") == [stored["ID"]]
    client.delete(("instances", stored["ID"]))
    with remote.client() as http:
        uid = http.get(f"/studies/{stored['ParentStudy']}").json()["MainDicomTags"]
    client.modalities.get("remote").c_move("Study", [uid])  # to this server
    assert client.get("instances") == [stored["ID"]]


def test_move_to_an_unknown_aet_raises(client: Any, remote: Any) -> None:
    _store_on(remote, ct_bytes(PatientID="MOVE3"))
    query = client.modalities.get("remote").c_find("Study", {"PatientID": "MOVE3"})
    with pytest.raises(DicomNetworkError) as caught:
        query.retrieve(target_aet="UNKNOWNAET")
    assert caught.value.status_code in (422, 500)


def test_c_get_where_supported(client: Any, remote: Any) -> None:
    stored = _store_on(remote, ct_bytes(PatientID="GET1"))
    with remote.client() as http:
        uid = http.get(f"/studies/{stored['ParentStudy']}").json()["MainDicomTags"]
    modality = client.modalities.get("remote")
    if not client.capabilities().supports("dicom_get"):
        with pytest.raises(UnsupportedFeatureError):
            modality.c_get("Study", [uid])
        return
    modality.c_get("Study", [uid])
    assert client.get("instances") == [stored["ID"]]


def test_c_store_report_and_c_store_job(client: Any, remote: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="STORE1"))
    modality = client.modalities.get("remote")
    report = modality.c_store([answer["ParentStudy"]])
    assert report["InstancesCount"] == 1 and report["FailedInstancesCount"] == 0
    with remote.client() as http:
        assert http.get("/instances").json() == [answer["ID"]]
    job = modality.c_store_job(answer["ID"]).wait(timeout=120)
    assert job.content["InstancesCount"] == 1


def test_store_to_a_closed_port_fails_typed(client: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="STORE2"))
    (port,) = free_ports(1)
    modality = client.modalities.configure("closed", aet="NOBODY", host="127.0.0.1", port=port)
    with pytest.raises(DicomNetworkError):
        modality.c_store([answer["ID"]])


def test_dcmtk_storescu_and_findscu_talk_to_the_server(
    orthanc: Any, client: Any, tmp_path: Path
) -> None:
    file = tmp_path / "ct.dcm"
    file.write_bytes(ct_bytes(PatientID="DCMTK1"))
    port = str(orthanc.dicom_port)
    subprocess.run(["storescu", "-aec", orthanc.aet, "127.0.0.1", port, str(file)], check=True)
    changes = list(client.iter_changes(types={"NewInstance"}))
    assert len(changes) == 1
    assert client.get(changes[0].path.lstrip("/"))["ID"] == changes[0].id
    found = subprocess.run(
        [
            "findscu",
            "-S",
            "-aec",
            orthanc.aet,
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "PatientID=DCMTK1",
            "127.0.0.1",
            port,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "DCMTK1" in found.stderr + found.stdout
