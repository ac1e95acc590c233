"""The server-side plugin (``kkorthanc/plugin/kk_routes.py``) on real Orthanc 1.10 and 1.12 servers.

One authenticated server per Orthanc version runs the plugin for the read-only tests; tests that
try to change data upload their own patients. Every answer is checked against what Orthanc's own
routes say about the same resources. A resource GET answers 307 to Orthanc's own route; the
plugin changes nothing (DELETE, POST and PUT answer 400); identifiers travel only as ``?id=``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from pydicom import data as pydicom_data

from kkorthanc._dicom.ids import orthanc_id
from kkorthanc.plugin import install_script, script_path
from kkorthanc.testing import OrthancServer, ServerSpec

CT_SMALL = pydicom_data.get_testdata_file("CT_small.dcm")
SPECIAL_IDS = ["#00385", "A/B", "ID WITH SPACES", "患者/1 #", "X/uids"]
REWRITTEN_IDS = ["a/b", "abc", "back/slash"]  # what Orthanc makes of a//b, abc/, back\slash
SHARED_STUDY = "1.2.826.0.1.3680043.8.498.77001"
REQUIRED_KEYS = {"HttpError", "HttpStatus", "Message", "Method", "OrthancError", "OrthancStatus"}


def make_dicom(
    patient_id: str, tag: str, *, study_uid: str | None = None, series: int = 1
) -> bytes:
    """A copy of CT_small.dcm with this PatientID and UIDs derived from ``tag``."""
    dataset = pydicom.dcmread(CT_SMALL)
    dataset.SpecificCharacterSet = "ISO_IR 192"
    dataset.PatientID = patient_id
    dataset.PatientName = f"Kk^{tag}"
    dataset.StudyInstanceUID = study_uid or f"1.2.826.0.1.3680043.8.498.{tag}"
    dataset.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.{tag}.{series}"
    dataset.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{tag}.{series}.1"
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue()


def upload(http: httpx.Client, content: bytes) -> dict[str, Any]:
    response = http.post("/instances", content=content)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def charset_file(name: str) -> bytes:
    return Path(pydicom_data.get_charset_files(name)[0]).read_bytes()


@pytest.fixture(scope="module")
def kk_server(orthanc_spec: ServerSpec) -> Iterator[OrthancServer]:
    """An authenticated server of the test's Orthanc version running the plugin, with data."""
    extra = {"UserMetadata": {"Reviewed": 1024}}
    with OrthancServer.start(
        orthanc_spec.binary, python_script=script_path(), extra=extra
    ) as server:
        with server.client() as http:
            for number, patient_id in enumerate(SPECIAL_IDS):
                upload(http, make_dicom(patient_id, f"1{number}"))
            for number, patient_id in enumerate(REWRITTEN_IDS):
                upload(http, make_dicom(patient_id, f"7{number}"))
            upload(http, make_dicom("AMB1", "21", study_uid=SHARED_STUDY))
            upload(http, make_dicom("AMB2", "22", study_uid=SHARED_STUDY))
            upload(http, make_dicom("TWO", "30", series=1))
            upload(http, make_dicom("TWO", "30", series=2))
            upload(http, charset_file("chrX1.dcm"))
            upload(http, charset_file("chrX2.dcm"))
        yield server


@pytest.fixture
def kk(kk_server: OrthancServer) -> Iterator[httpx.Client]:
    with kk_server.client() as http:
        yield http


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()  # JSON whatever the Content-Type says
    assert set(body) >= REQUIRED_KEYS
    assert body["HttpStatus"] == status
    assert "Traceback" not in response.text
    return body


def assert_refused_change(response: httpx.Response, route: str) -> None:
    """A change answered 400, pointing to ``GET /kk/{route}?id=`` and its 307."""
    message = assert_error(response, 400)["Message"]
    assert f"GET /kk/{route}?id=<identifier>" in message and "307" in message, message


def read(http: httpx.Client, route: str, identifier: str, **params: str) -> dict[str, Any]:
    """``GET /kk/{route}?id=``: check the 307 names Orthanc's own route, then follow it."""
    response = http.get(f"/kk/{route}", params={"id": identifier, **params})
    assert response.status_code == 307, response.text
    moved = response.json()
    assert moved["Path"] == f"/{route}/{moved['ID']}"
    assert response.headers["location"] == f"..{moved['Path']}"
    followed = http.get(f"/kk/{route}", params={"id": identifier, **params}, follow_redirects=True)
    assert followed.url.path == moved["Path"]
    answer: dict[str, Any] = followed.json()
    assert answer["ID"] == moved["ID"]
    return answer


def test_description_names_routes_and_version(kk: httpx.Client) -> None:
    for path in ("/kk", "/kk/"):
        answer = kk.get(path).json()
        described = answer["KkOrthancPlugin"]
        assert described == {"Version": "0.2.0.dev0", "Prefix": "/kk", "InServerReads": True}
        assert "/kk/tree" in answer["paths"]
        text = answer["paths"]["/kk/{level}"]["get"]["description"]
        assert "?id=" in text and "307" in text and "400" in text


def test_routes_need_the_servers_credentials(kk_server: OrthancServer) -> None:
    with httpx.Client(base_url=kk_server.url, trust_env=False) as anonymous:
        for method, path in [
            ("GET", "/kk/"),
            ("GET", "/kk/patients?id=%2300385"),
            ("GET", "/kk/patients/uids?id=%2300385"),
            ("DELETE", "/kk/patients/%2300385"),
            ("POST", "/kk/studies/anonymize"),
            ("POST", "/kk/tools/find"),
        ]:
            assert anonymous.request(method, path).status_code == 401
    with httpx.Client(base_url=kk_server.url, auth=("kkorthanc", "wrong"), trust_env=False) as bad:
        assert bad.get("/kk/patients", params={"id": "#00385"}).status_code == 401


@pytest.mark.parametrize("patient_id", SPECIAL_IDS)
def test_patient_by_special_patient_id_redirects_to_its_route(
    kk: httpx.Client, patient_id: str
) -> None:
    answer = read(kk, "patients", patient_id)
    assert answer["ID"] == orthanc_id(patient_id)
    assert answer["MainDicomTags"]["PatientID"] == patient_id
    assert answer == kk.get(f"/patients/{answer['ID']}").json()


def test_identifiers_in_the_path_are_refused(kk: httpx.Client) -> None:
    for path in [
        "/kk/patients/TWO",
        "/kk/patients/A%2FB",
        "/kk/patients/X/uids",
        "/kk/studies/1.2.826.0.1.3680043.8.498.30/uids",
        "/kk/patients",
    ]:
        message = assert_error(kk.get(path), 400)["Message"]
        assert "?id=" in message and "rewrites" in message, message
    uids = kk.get("/kk/patients/uids", params={"id": "X/uids"}).json()
    assert uids["PatientID"] == "X/uids"
    assert uids["Studies"][0]["StudyInstanceUID"] == "1.2.826.0.1.3680043.8.498.14"


def test_study_series_instance_by_uid_redirect_to_orthancs_json(kk: httpx.Client) -> None:
    tag = "1.2.826.0.1.3680043.8.498.10"
    pairs = [("studies", tag), ("series", f"{tag}.1"), ("instances", f"{tag}.1.1")]
    for level, uid in pairs:
        answer = read(kk, level, uid)
        assert answer == kk.get(f"/{level}/{answer['ID']}").json()
    ids = [orthanc_id("#00385", tag), orthanc_id("#00385", tag, f"{tag}.1")]
    assert [read(kk, level, uid)["ID"] for level, uid in pairs[:2]] == ids


def test_uids_are_nested_at_every_level(kk: httpx.Client) -> None:
    study = "1.2.826.0.1.3680043.8.498.30"
    patient = kk.get("/kk/patients/uids", params={"id": "TWO"}).json()
    assert [s["StudyInstanceUID"] for s in patient["Studies"]] == [study]
    series = sorted(s["SeriesInstanceUID"] for s in patient["Studies"][0]["Series"])
    assert series == [f"{study}.1", f"{study}.2"]
    instance = kk.get("/kk/instances/uids", params={"id": f"{study}.2.1"}).json()
    assert instance == {
        "Type": "Instance",
        "ID": orthanc_id("TWO", study, f"{study}.2", f"{study}.2.1"),
        "PatientID": "TWO",
        "StudyInstanceUID": study,
        "SeriesInstanceUID": f"{study}.2",
        "SOPInstanceUID": f"{study}.2.1",
    }
    series_uids = kk.get("/kk/series/uids", params={"id": f"{study}.1"}).json()
    assert [i["SOPInstanceUID"] for i in series_uids["Instances"]] == [f"{study}.1.1"]


def test_tree_matches_the_plain_rest_walk(kk: httpx.Client) -> None:
    tree = kk.get("/kk/tree", params={"PatientID": "TWO"}).json()
    assert [p["MainDicomTags"]["PatientID"] for p in tree] == ["TWO"]
    study = tree[0]["Studies"][0]
    plain = kk.get(f"/studies/{study['ID']}/series").json()
    assert sorted(s["ID"] for s in study["Series"]) == sorted(s["ID"] for s in plain)
    for series in study["Series"]:
        instances = kk.get(f"/series/{series['ID']}/instances").json()
        assert [i["MainDicomTags"] for i in series["Instances"]] == [
            i["MainDicomTags"] for i in instances
        ]


@pytest.mark.parametrize(
    ("params", "named"),
    [({"Foo": "1"}, "'Foo'"), ({"PatientID": "TWO", "NotAKeyword": "x"}, "'NotAKeyword'")],
)
def test_tree_answers_400_for_an_unknown_parameter(
    kk: httpx.Client, params: dict[str, str], named: str
) -> None:
    """docs/plugin.md: "Any other parameter is a 400" (Orthanc's own answer would be a 404)."""
    body = assert_error(kk.get("/kk/tree", params=params), 400)
    assert f"unknown parameter {named}" in body["Message"], body


def test_tree_levels_depth_and_non_ascii_names(kk: httpx.Client) -> None:
    by_patient = kk.get("/kk/tree", params={"Level": "Patient", "PatientName": "Wang*"}).json()
    names = {p["MainDicomTags"]["PatientID"]: p["MainDicomTags"]["PatientName"] for p in by_patient}
    assert names["X1EXAMPLE"].startswith("Wang^XiaoDong=王^小東")  # UTF-8 file
    assert names["X2EXAMPLE"].startswith("Wang^XiaoDong=王^小东")  # GB18030 file
    for patient in by_patient:
        assert (
            patient["MainDicomTags"] == kk.get(f"/patients/{patient['ID']}").json()["MainDicomTags"]
        )
    shallow = kk.get("/kk/tree", params={"PatientID": "AMB*", "Depth": "Study"}).json()
    assert sorted(p["MainDicomTags"]["PatientID"] for p in shallow) == ["AMB1", "AMB2"]
    assert all("Series" not in s for p in shallow for s in p["Studies"])
    assert kk.get("/kk/tree", params={"PatientID": "nobody"}).json() == []


def test_several_finds_in_one_request(kk: httpx.Client) -> None:
    bodies = [
        {"Level": "Patient", "Query": {"PatientID": "AMB*"}, "Expand": True},
        {"Level": "Study", "Query": {"PatientID": "TWO"}},
        {"Level": "Instance", "Query": {"PatientID": "nobody"}, "Expand": True},
    ]
    answers = kk.post("/kk/tools/find", json=bodies).json()
    assert answers == [kk.post("/tools/find", json=body).json() for body in bodies]
    assert sorted(p["MainDicomTags"]["PatientID"] for p in answers[0]) == ["AMB1", "AMB2"]
    assert answers[2] == []
    for bad in [{}, [], ["x"], [bodies[0]] * 17]:
        assert_error(kk.post("/kk/tools/find", json=bad), 400)
    assert_error(kk.post("/kk/tools/find", json=[{"Level": "Nowhere", "Query": {}}]), 400)
    response = kk.get("/kk/tools/find")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")


def test_study_uid_under_two_patients_is_a_conflict(kk: httpx.Client) -> None:
    body = assert_error(kk.get("/kk/studies", params={"id": SHARED_STUDY}), 409)
    assert sorted(c["PatientID"] for c in body["Candidates"]) == ["AMB1", "AMB2"]
    assert {c["Path"] for c in body["Candidates"]} == {
        f"/studies/{orthanc_id(p, SHARED_STUDY)}" for p in ("AMB1", "AMB2")
    }
    chosen = read(kk, "studies", SHARED_STUDY, PatientID="AMB2")
    assert chosen["ID"] == orthanc_id("AMB2", SHARED_STUDY)
    missing = kk.get("/kk/studies", params={"id": SHARED_STUDY, "PatientID": "AMB3"})
    assert_error(missing, 404)
    assert_error(kk.get("/kk/studies/uids", params={"id": SHARED_STUDY}), 409)


def test_unknown_resources_and_routes_are_404(kk: httpx.Client) -> None:
    for path, identifier in [
        ("/kk/studies", "1.2.3.4"),
        ("/kk/instances/uids", "1.2.3"),
        ("/kk/patients/uids", "nobody"),
        ("/kk/patients/other", "TWO"),
        ("/kk/unknown/x", "TWO"),
    ]:
        body = assert_error(kk.get(path, params={"id": identifier}), 404)
        assert body["Uri"].startswith("/kk/")
    body = assert_error(kk.get("/kk/studies", params={"id": "1.2.3.4"}), 404)
    assert body["OrthancStatus"] == 17
    # A patient's route is computed, not read: the redirect leads to Orthanc's own 404.
    response = kk.get("/kk/patients", params={"id": "nobody"}, follow_redirects=True)
    assert (response.url.path, response.status_code) == (f"/patients/{orthanc_id('nobody')}", 404)


def test_other_methods_are_405_with_allow(kk: httpx.Client) -> None:
    cases = [
        ("GET", "/kk/studies/anonymize?id=1.2.826.0.1.3680043.8.498.30", "POST"),
        ("POST", "/kk/tree", "GET"),
        ("DELETE", "/kk/", "GET"),
        ("GET", "/kk/tools/find", "POST"),
    ]
    for method, path, allow in cases:
        response = kk.request(method, path)
        assert (response.status_code, response.headers["allow"]) == (405, allow)


def test_malformed_input_is_400(kk: httpx.Client) -> None:
    for path, params in [
        ("/kk/patients", {"id": ""}),
        ("/kk/patients", {"id": "a\nb"}),
        ("/kk/patients", {"id": "x" * 1025}),
        ("/kk/patients/", {}),
        ("/kk/tree", {"Level": "Series"}),
        ("/kk/tree", {"expand": "1"}),
        ("/kk/patients/metadata/a.b", {"id": "TWO"}),
    ]:
        assert_error(kk.get(path, params=params), 400)


def test_changes_are_refused_and_point_to_orthancs_route(kk: httpx.Client) -> None:
    study_uid = "1.2.826.0.1.3680043.8.498.40"
    upload(kk, make_dicom("DEL/1", "40"))
    before = sorted(kk.get("/patients").json())
    series_uid = f"{study_uid}.1"
    for method, path, route in [
        ("DELETE", "/kk/patients/DEL%2F1", "patients"),
        ("DELETE", "/kk/patients?id=DEL%2F1", "patients"),  # a change never sees its query
        ("POST", f"/kk/studies/{study_uid}/anonymize", "studies"),
        ("POST", f"/kk/studies/anonymize?id={study_uid}", "studies"),
        ("POST", f"/kk/instances/modify?id={study_uid}.1.1", "instances"),
        ("PUT", f"/kk/series/metadata/Reviewed?id={series_uid}", "series"),
        ("DELETE", f"/kk/series/{series_uid}/metadata/Reviewed", "series"),
        ("PUT", "/kk/patients?id=DEL%2F1", "patients"),
    ]:
        assert_refused_change(kk.request(method, path, json={}), route)
    assert sorted(kk.get("/patients").json()) == before  # nothing deleted, nothing created
    series_id = orthanc_id("DEL/1", study_uid, series_uid)
    assert kk.get(f"/series/{series_id}/metadata/Reviewed").status_code == 404
    # What the answer says to do: GET ?id=, then the change on the route of the 307.
    moved = kk.get("/kk/series/metadata/Reviewed", params={"id": series_uid})
    assert moved.status_code == 307
    target = httpx.URL(str(moved.request.url)).join(moved.headers["location"])
    assert target.path == f"/series/{series_id}/metadata/Reviewed"
    assert kk.put(target, content=b"yes").status_code == 200
    metadata = kk.get(
        "/kk/series/metadata/Reviewed", params={"id": series_uid}, follow_redirects=True
    )
    assert metadata.text == "yes"
    patient = kk.get("/kk/patients", params={"id": "DEL/1"})
    deleted = kk.delete(httpx.URL(str(patient.request.url)).join(patient.headers["location"]))
    assert deleted.status_code == 200, deleted.text
    assert kk.get(f"/patients/{orthanc_id('DEL/1')}").status_code == 404
    assert sorted(kk.get("/patients").json()) == sorted(set(before) - {orthanc_id("DEL/1")})


@pytest.mark.parametrize(
    ("raw_path", "rewritten_to"),
    [
        ("a%2F%2Fb", "a/b"),
        ("abc%2F", "abc"),
        ("back%5Cslash", "back/slash"),
        ("a%2F.%2Fb", "a/b"),
        ("a%2Fx%2F..%2Fb", "a/b"),
        ("abc%2E", "abc"),
        ("abc%00more", "abc"),
    ],
)
def test_rewritten_paths_never_reach_another_patient(
    kk: httpx.Client, raw_path: str, rewritten_to: str
) -> None:
    """Issue 11: ``DELETE /kk/patients/a%2F%2Fb`` deleted patient ``a/b`` (Orthanc rewrites the
    decoded path); the plugin must neither delete nor read the patient the rewrite names."""
    patients = {orthanc_id(p) for p in REWRITTEN_IDS}
    assert patients <= set(kk.get("/patients").json())
    for method in ("DELETE", "GET"):
        response = kk.request(method, f"/kk/patients/{raw_path}")
        body = assert_error(response, 400)
        assert body["Uri"] == f"/kk/patients/{rewritten_to}"  # what Orthanc made of the path
        assert "?id=" in body["Message"]
    for suffix in ("/anonymize", "/modify"):
        response = kk.post(f"/kk/studies/{raw_path}{suffix}", json={})
        assert_refused_change(response, "studies")
    assert patients <= set(kk.get("/patients").json())
    assert len(kk.get("/patients").json()) == len(set(kk.get("/patients").json()))


def test_custom_prefix_and_handler_errors_are_json_500(
    orthanc_spec: ServerSpec, tmp_path: Path
) -> None:
    script = install_script(tmp_path / "kk")
    broken = "\n\ndef _boom(*args: object) -> None:\n    raise KeyError('secret detail')\n\n"
    script.write_text(script.read_text() + broken + "trees.uids_of = _boom\n")
    extra = {"KkOrthanc": {"Prefix": "/ids/v1"}}
    with OrthancServer.start(orthanc_spec.binary, python_script=script, extra=extra) as server:
        with server.client() as http:
            upload(http, make_dicom("E1", "60"))
            assert http.get("/ids/v1/").json()["KkOrthancPlugin"]["Prefix"] == "/ids/v1"
            assert http.get("/kk/").status_code == 404
            moved = http.get("/ids/v1/patients", params={"id": "E1"})
            assert moved.headers["location"] == f"../../patients/{orthanc_id('E1')}"
            followed = http.get("/ids/v1/patients", params={"id": "E1"}, follow_redirects=True)
            assert followed.json()["ID"] == orthanc_id("E1")
            message = assert_error(http.delete("/ids/v1/patients/E1"), 400)["Message"]
            assert "GET /ids/v1/patients?id=<identifier>" in message
            failure = assert_error(http.get("/ids/v1/patients/uids", params={"id": "E1"}), 500)
            assert "secret detail" not in str(failure) and "KeyError" in failure["Message"]
        assert "secret detail" in server.log_text()


def test_client_functions_use_the_plugin(kk_server: OrthancServer) -> None:
    from kkorthanc import Orthanc
    from kkorthanc._client._sync._kk import (
        kk_available,
        kk_lookup,
        kk_tree,
        kk_uids,
        plugin_version,
    )
    from kkorthanc.errors import ConflictError

    with Orthanc(kk_server.url, auth=kk_server.auth) as client:
        assert kk_available(client) and not kk_available(client, prefix="nothing")
        assert plugin_version(client) == "0.2.0.dev0"
        assert kk_lookup(client, "patients", "X/uids")["ID"] == orthanc_id("X/uids")
        assert kk_lookup(client, "patients", "nobody") is None
        assert kk_lookup(client, "Study", "1.2.3.4.5") is None
        with pytest.raises(ConflictError):
            kk_lookup(client, "studies", SHARED_STUDY)
        chosen = kk_lookup(client, "studies", SHARED_STUDY, patient_id="AMB1")
        assert chosen is not None and chosen["ID"] == orthanc_id("AMB1", SHARED_STUDY)
        with kk_server.client() as http:
            assert chosen == http.get(f"/studies/{chosen['ID']}").json()
        assert kk_uids(client, "Patient", "A/B")["PatientID"] == "A/B"
        tree = kk_tree(client, {"PatientID": "#00385"}, depth="Series")
        assert [p["ID"] for p in tree] == [orthanc_id("#00385")]
        assert "Instances" not in tree[0]["Studies"][0]["Series"][0]
