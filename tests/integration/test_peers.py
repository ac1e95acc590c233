"""Orthanc peers: CRUD and sending, against a second real Orthanc."""

from __future__ import annotations

from typing import Any

import pytest
from _ops_data import ct_bytes, upload

from kkorthanc.errors import DicomNetworkError, NotFoundError, OrthancInputError
from kkorthanc.server._launcher import free_ports


def test_crud_and_store(client: Any, orthanc_factory: Any) -> None:
    site = orthanc_factory(aet="SITE2")
    username, password = site.auth
    peer = client.peers.configure("site2", url=site.url + "/", username=username, password=password)
    assert peer.name == "site2" and peer.url.rstrip("/") == site.url
    assert peer.config.username == username
    assert [p.name for p in client.peers.list()] == ["site2"]
    assert peer.system()["Version"] == site.version
    answer = upload(client, ct_bytes(PatientID="PEER1"))
    peer.send([answer["ParentStudy"]])
    with site.client() as http:
        assert http.get("/instances").json() == [answer["ID"]]
    job = peer.send_job(answer["ID"]).wait(timeout=120)
    assert job.type == "OrthancPeerStore"
    client.peers.delete("site2")
    with pytest.raises(NotFoundError):
        client.peers.get("site2")


def test_unreachable_peer_and_wrong_credentials_raise(client: Any, orthanc_factory: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="PEER2"))
    (port,) = free_ports(1)
    dead = client.peers.configure("dead", url=f"http://127.0.0.1:{port}/")
    with pytest.raises(DicomNetworkError):
        dead.send([answer["ID"]])
    site = orthanc_factory(aet="SITE3")
    wrong = client.peers.configure(
        "wrong", url=site.url + "/", username="nobody", password="nothing"
    )
    with pytest.raises(DicomNetworkError):
        wrong.send([answer["ID"]])


def test_bad_input(client: Any) -> None:
    with pytest.raises(OrthancInputError):
        client.peers.configure("x y", url="http://127.0.0.1:1/")
    with pytest.raises(OrthancInputError):
        client.peers.configure("ok", url="ftp://127.0.0.1/")
    with pytest.raises(NotFoundError):
        client.peers.delete("nothere")
