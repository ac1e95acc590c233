"""The command line's DICOM networking on real servers: ``modality``, ``query``, ``retrieve``,
``send`` and ``peer``, with a second Orthanc as the remote modality and peer."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import test_cli_ops
from _ops_data import ct_bytes
from test_cli_ops import Cli, store

from kkorthanc.server._launcher import free_ports

# The fixtures of test_cli_ops.py: ``env``, ``cli`` (kkorthanc in-process), ``direct`` (a client).
env, cli, direct = test_cli_ops.env, test_cli_ops.cli, test_cli_ops.direct


@pytest.fixture
def remote(orthanc: Any, orthanc_factory: Any, direct: Any) -> Any:
    """A second Orthanc (AET "PEER") that knows the test server as modality ``main``; the test
    server knows it as modality ``remote``."""
    peer = orthanc_factory(aet="PEER")
    with peer.client() as http:
        config = {"AET": orthanc.aet, "Host": "127.0.0.1", "Port": orthanc.dicom_port}
        http.put("/modalities/main", json=config).raise_for_status()
    direct.modalities.configure("remote", aet="PEER", host="127.0.0.1", port=peer.dicom_port)
    return peer


def _store_on(server: Any, **tags: Any) -> dict[str, Any]:
    with server.client() as http:
        response = http.post("/instances", content=ct_bytes(**tags))
        response.raise_for_status()
        answer = dict(response.json())
        study = http.get(f"/studies/{answer['ParentStudy']}").json()
    return {**answer, **study["MainDicomTags"]}


def _instances_on(server: Any) -> list[str]:
    with server.client() as http:
        return list(http.get("/instances").json())


def test_modality_add_ls_echo_rm(cli: Cli, orthanc_factory: Any) -> None:
    peer = orthanc_factory(aet="PEER")
    added = cli(
        "-o",
        "json",
        "modality",
        "add",
        "pacs",
        "--aet",
        "PEER",
        "--host",
        "127.0.0.1",
        "--port",
        str(peer.dicom_port),
    )
    assert added.status == 0, added.err
    assert added.json()["aet"] == "PEER" and added.json()["port"] == peer.dicom_port
    listed = cli("-o", "json", "modality")
    assert [row["name"] for row in listed.json()] == ["pacs"]
    assert (
        cli("-o", "csv", "modality", "ls").out.splitlines()[0] == "name,aet,host,port,manufacturer"
    )
    echo = cli("-o", "json", "modality", "echo", "pacs")
    assert echo.status == 0 and echo.json()["echo"] == "ok"
    assert cli("modality", "rm", "pacs").status == 0
    assert cli("-o", "json", "modality", "ls").json() == []
    unknown = cli("modality", "echo", "pacs")
    assert unknown.status == 5 and "no modality named 'pacs'" in unknown.err
    assert cli("modality", "rm", "pacs").status == 5
    assert (
        cli("modality", "add", "bad name", "--aet", "X", "--host", "h", "--port", "1").status == 2
    )


def test_echo_of_a_refused_association_is_a_fatal_one_line_error(cli: Cli) -> None:
    (port,) = free_ports(1)
    cli("modality", "add", "closed", "--aet", "NOBODY", "--host", "127.0.0.1", "--port", str(port))
    result = cli("modality", "echo", "closed")
    assert result.status == 6 and result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("kkorthanc: ")
    assert "C-ECHO of closed failed" in result.err and "refused" in result.err.lower()


def test_query_prints_one_row_per_answer(cli: Cli, remote: Any) -> None:
    stored = _store_on(remote, PatientID="CLIQ1", StudyDescription="remote study")
    _store_on(remote, PatientID="CLIQ2")
    studies = cli("-o", "json", "query", "remote", "--level", "study", "PatientID=CLIQ1")
    assert studies.status == 0, studies.err
    (row,) = studies.json()
    assert row["PatientID"] == "CLIQ1" and row["StudyDescription"] == "remote study"
    assert row["StudyInstanceUID"] == stored["StudyInstanceUID"]
    table = cli("query", "remote", "PatientID=CLIQ*")
    assert table.out.splitlines()[0].split()[:2] == ["PATIENTID", "PATIENTNAME"]
    assert len(table.out.splitlines()) == 3 and "2 answer(s) from remote" in table.err
    series = cli(
        "-o",
        "json",
        "query",
        "remote",
        "--level",
        "series",
        f"StudyInstanceUID={stored['StudyInstanceUID']}",
    )
    assert [row["Modality"] for row in series.json()] == ["CT"]
    assert cli("query", "remote", "--level", "galaxy").status == 2
    assert cli("query", "nothere", "PatientID=X").status == 5


def test_retrieve_moves_studies_into_the_server(cli: Cli, direct: Any, remote: Any) -> None:
    stored = _store_on(remote, PatientID="CLIR1")
    result = cli("-o", "json", "retrieve", "remote", "--level", "study", stored["StudyInstanceUID"])
    assert result.status == 0, result.err
    assert result.json() == [
        {
            "level": "Study",
            "uid": stored["StudyInstanceUID"],
            "operation": "C-MOVE",
            "target": "server",
        }
    ]
    assert direct.get("instances") == [stored["ID"]]
    refused = cli("retrieve", "remote", stored["StudyInstanceUID"], "--target", "UNKNOWNAET")
    assert refused.status == 6 and "C-MOVE failed" in refused.err


def test_retrieve_with_c_get_where_the_server_supports_it(
    cli: Cli, direct: Any, remote: Any
) -> None:
    stored = _store_on(remote, PatientID="CLIG1")
    result = cli("retrieve", "remote", "--get", "--level", "patient", "CLIG1")
    if direct.capabilities().supports("dicom_get"):
        assert result.status == 0, result.err
        assert direct.get("instances") == [stored["ID"]]
    else:
        assert result.status == 6 and "1.12.6" in result.err
        assert direct.get("instances") == []
    assert cli("retrieve", "remote", "--get", "--target", "X", "1.2.3").status == 2


def test_send_to_a_modality_and_its_failures(cli: Cli, direct: Any, remote: Any) -> None:
    answer = store(direct, PatientID="CLIS1")
    sent = cli("-o", "json", "send", answer["ParentStudy"], "--to", "remote")
    assert sent.status == 0, sent.err
    record = sent.json()
    assert record["destination"] == "remote" and record["instances"] == 1
    assert record["failed_instances"] == 0 and record["content"]["InstancesCount"] == 1
    assert _instances_on(remote) == [answer["ID"]]
    missing = cli("send", "0" * 8 + "-00000000" * 4, "--to", "remote")
    assert missing.status == 5
    assert cli("send", answer["ID"], "--to", "nothere").status == 5
    assert cli("send", answer["ID"]).status == 2  # --to or --to-peer is required
    (port,) = free_ports(1)
    direct.modalities.configure("closed", aet="NOBODY", host="127.0.0.1", port=port)
    failed = cli("send", answer["ID"], "--to", "closed")
    assert failed.status == 6 and failed.err.count("\n") == 1
    assert "DicomModalityStore" in failed.err and "refused" in failed.err.lower()


def test_peer_add_ls_send_rm(
    cli: Cli, direct: Any, orthanc_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = orthanc_factory(aet="SITE2")  # with credentials
    answer = store(direct, PatientID="CLIP1")
    no_password = cli("peer", "add", "site2", site.url, "--peer-user", site.username)
    assert no_password.status == 2 and "ORTHANC_PEER_PASSWORD" in no_password.err
    monkeypatch.setenv("ORTHANC_PEER_PASSWORD", site.password)
    added = cli("-o", "json", "peer", "add", "site2", site.url, "--peer-user", site.username)
    assert added.status == 0, added.err
    assert added.json()["url"].rstrip("/") == site.url
    assert added.json()["user"] == site.username
    assert [row["name"] for row in cli("-o", "json", "peer").json()] == ["site2"]
    sent = cli("-o", "json", "send", answer["ParentPatient"], "--to-peer", "site2")
    assert sent.status == 0, sent.err
    assert _instances_on(site) == [answer["ID"]]
    assert cli("peer", "rm", "site2").status == 0
    assert cli("-o", "json", "peer", "ls").json() == []
    assert cli("peer", "rm", "site2").status == 5
    assert cli("send", answer["ID"], "--to-peer", "site2").status == 5
    assert cli("peer", "add", "x", "ftp://host/").status == 2


def test_send_to_an_unreachable_peer_fails_the_job(cli: Cli, direct: Any) -> None:
    answer = store(direct, PatientID="CLIP2")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        assert cli("peer", "add", "gone", f"http://127.0.0.1:{port}/").status == 0
        failed = cli("send", answer["ID"], "--to-peer", "gone")
    assert failed.status == 6 and "OrthancPeerStore" in failed.err
