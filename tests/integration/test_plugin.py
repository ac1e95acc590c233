"""The server-side plugin (``kkorthanc/plugin/kk_routes.py``) on real Orthanc 1.10 and 1.12 servers.

One authenticated server per Orthanc version runs the plugin for the read-only tests; tests that
change data upload their own patients. Every answer is checked against what Orthanc's own routes
say about the same resources.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pydicom
import pytest
from pydicom import data as pydicom_data

from kkorthanc._ids import orthanc_id
from kkorthanc.plugin import script_path
from kkorthanc.testing import OrthancServer, ServerSpec

CT_SMALL = pydicom_data.get_testdata_file("CT_small.dcm")
SPECIAL_IDS = ["#00385", "A/B", "ID WITH SPACES", "患者/1 #", "X/uids"]
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


def kk_path(level: str, identifier: str, *rest: str) -> str:
    return "/".join(["/kk", level, quote(identifier, safe=""), *rest])


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()  # JSON whatever the Content-Type says
    assert set(body) >= REQUIRED_KEYS
    assert body["HttpStatus"] == status
    assert "Traceback" not in response.text
    return body


def test_description_names_routes_and_version(kk: httpx.Client) -> None:
    for path in ("/kk", "/kk/"):
        answer = kk.get(path).json()
        assert answer["KkOrthancPlugin"]["Prefix"] == "/kk"
        assert answer["KkOrthancPlugin"]["Version"] == "0.2.0.dev0"
        assert "/kk/tree" in answer["paths"]
        assert "?id=" in answer["paths"]["/kk/{level}/{identifier}"]["get"]["description"]


def test_routes_need_the_servers_credentials(kk_server: OrthancServer) -> None:
    with httpx.Client(base_url=kk_server.url, trust_env=False) as anonymous:
        for method, path in [
            ("GET", "/kk/"),
            ("GET", kk_path("patients", "#00385")),
            ("DELETE", kk_path("patients", "#00385")),
            ("POST", kk_path("studies", SHARED_STUDY, "anonymize")),
        ]:
            assert anonymous.request(method, path).status_code == 401
    with httpx.Client(base_url=kk_server.url, auth=("kkorthanc", "wrong"), trust_env=False) as bad:
        assert bad.get(kk_path("patients", "#00385")).status_code == 401


@pytest.mark.parametrize("patient_id", SPECIAL_IDS[:4])
def test_patient_by_special_patient_id(kk: httpx.Client, patient_id: str) -> None:
    answer = kk.get(kk_path("patients", patient_id)).json()
    assert answer["ID"] == orthanc_id(patient_id)
    assert answer["MainDicomTags"]["PatientID"] == patient_id
    assert answer == kk.get(f"/patients/{answer['ID']}").json()


def test_identifier_ending_in_a_sub_route_goes_in_the_query(kk: httpx.Client) -> None:
    assert_error(kk.get(kk_path("patients", "X/uids")), 404)  # read as /uids of patient "X"
    answer = kk.get("/kk/patients", params={"id": "X/uids"}).json()
    assert answer["MainDicomTags"]["PatientID"] == "X/uids"
    uids = kk.get("/kk/patients/uids", params={"id": "X/uids"}).json()
    assert uids["PatientID"] == "X/uids"
    assert uids["Studies"][0]["StudyInstanceUID"] == "1.2.826.0.1.3680043.8.498.14"


def test_study_series_instance_by_uid_equal_orthancs_json(kk: httpx.Client) -> None:
    tag = "1.2.826.0.1.3680043.8.498.10"
    pairs = [("studies", tag), ("series", f"{tag}.1"), ("instances", f"{tag}.1.1")]
    for level, uid in pairs:
        answer = kk.get(kk_path(level, uid)).json()
        assert answer == kk.get(f"/{level}/{answer['ID']}").json()
    ids = [orthanc_id("#00385", tag), orthanc_id("#00385", tag, f"{tag}.1")]
    assert [kk.get(kk_path(level, uid)).json()["ID"] for level, uid in pairs[:2]] == ids


def test_uids_are_nested_at_every_level(kk: httpx.Client) -> None:
    study = "1.2.826.0.1.3680043.8.498.30"
    patient = kk.get(kk_path("patients", "TWO", "uids")).json()
    assert [s["StudyInstanceUID"] for s in patient["Studies"]] == [study]
    series = sorted(s["SeriesInstanceUID"] for s in patient["Studies"][0]["Series"])
    assert series == [f"{study}.1", f"{study}.2"]
    instance = kk.get(kk_path("instances", f"{study}.2.1", "uids")).json()
    assert instance == {
        "Type": "Instance",
        "ID": orthanc_id("TWO", study, f"{study}.2", f"{study}.2.1"),
        "PatientID": "TWO",
        "StudyInstanceUID": study,
        "SeriesInstanceUID": f"{study}.2",
        "SOPInstanceUID": f"{study}.2.1",
    }
    series_uids = kk.get(kk_path("series", f"{study}.1", "uids")).json()
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
    body = assert_error(kk.get(kk_path("studies", SHARED_STUDY)), 409)
    assert sorted(c["PatientID"] for c in body["Candidates"]) == ["AMB1", "AMB2"]
    chosen = kk.get(kk_path("studies", SHARED_STUDY), params={"PatientID": "AMB2"}).json()
    assert chosen["ID"] == orthanc_id("AMB2", SHARED_STUDY)
    assert_error(kk.get(kk_path("studies", SHARED_STUDY), params={"PatientID": "AMB3"}), 404)


def test_unknown_resources_and_routes_are_404(kk: httpx.Client) -> None:
    for path in [
        kk_path("patients", "nobody"),
        kk_path("studies", "1.2.3.4"),
        kk_path("instances", "1.2.3", "uids"),
        "/kk/unknown/x",
    ]:
        body = assert_error(kk.get(path), 404)
        assert body["Uri"].startswith("/kk/")
    assert assert_error(kk.get(kk_path("patients", "nobody")), 404)["OrthancStatus"] == 17


def test_other_methods_are_405_with_allow(kk: httpx.Client) -> None:
    cases = [
        ("PUT", kk_path("patients", "TWO"), "GET,DELETE"),
        ("GET", kk_path("patients", "TWO", "anonymize"), "POST"),
        ("POST", "/kk/tree", "GET"),
        ("DELETE", "/kk/", "GET"),
        ("POST", kk_path("patients", "TWO", "metadata", "Reviewed"), "GET,PUT,DELETE"),
    ]
    for method, path, allow in cases:
        response = kk.request(method, path)
        assert (response.status_code, response.headers["allow"]) == (405, allow)


def test_malformed_input_is_400(kk: httpx.Client) -> None:
    for path, params in [
        ("/kk/patients", {"id": ""}),
        ("/kk/patients/", {}),
        ("/kk/tree", {"Level": "Series"}),
        ("/kk/tree", {"expand": "1"}),
        (kk_path("patients", "TWO", "metadata", "a.b"), {}),
    ]:
        assert_error(kk.get(path, params=params), 400)


def test_delete_by_patient_id(kk: httpx.Client) -> None:
    upload(kk, make_dicom("DEL/1", "40"))
    answer = kk.delete(kk_path("patients", "DEL/1")).json()
    assert answer["ID"] == orthanc_id("DEL/1")
    assert kk.get(f"/patients/{orthanc_id('DEL/1')}").status_code == 404
    assert_error(kk.delete(kk_path("patients", "DEL/1")), 404)


def test_anonymize_and_modify_are_forwarded(kk: httpx.Client) -> None:
    study_uid = "1.2.826.0.1.3680043.8.498.50"
    upload(kk, make_dicom("MOD 1", "50"))
    anonymized = kk.post(kk_path("studies", study_uid, "anonymize"), json={}).json()
    assert kk.get(f"/studies/{anonymized['ID']}").json()["PatientMainDicomTags"]["PatientID"]
    body = {"Replace": {"StudyDescription": "kk"}}
    modified = kk.post(kk_path("studies", study_uid, "modify"), json=body).json()
    assert kk.get(f"/studies/{modified['ID']}").json()["MainDicomTags"]["StudyDescription"] == "kk"
    dicom = kk.post(kk_path("instances", f"{study_uid}.1.1", "modify"), json=body)
    assert dicom.headers["content-type"] == "application/dicom"
    assert pydicom.dcmread(io.BytesIO(dicom.content)).StudyDescription == "kk"
    for patient in kk.get("/patients").json():
        if patient not in {orthanc_id(p) for p in ["AMB1", "AMB2", "TWO", *SPECIAL_IDS]}:
            kk.delete(f"/patients/{patient}")  # leave the module's data as it was


def test_metadata_is_forwarded(kk: httpx.Client) -> None:
    path = kk_path("series", "1.2.826.0.1.3680043.8.498.11.1", "metadata", "Reviewed")
    assert kk.put(path, content=b"yes").status_code == 200
    assert kk.get(path).text == "yes"
    series_id = orthanc_id("A/B", "1.2.826.0.1.3680043.8.498.11", "1.2.826.0.1.3680043.8.498.11.1")
    assert kk.get(f"/series/{series_id}/metadata/Reviewed").text == "yes"
    assert kk.delete(path).status_code == 200
    assert_error(kk.get(path), 404)


def test_custom_prefix_and_handler_errors_are_json_500(
    orthanc_spec: ServerSpec, tmp_path: Path
) -> None:
    script = tmp_path / "kk_routes.py"
    broken = "\n\ndef _boom(*args: object) -> None:\n    raise KeyError('secret detail')\n\n"
    script.write_text(script_path().read_text() + broken + 'ACTIONS["uids"] = _boom\n')
    extra = {"KkOrthanc": {"Prefix": "/ids/v1"}}
    with OrthancServer.start(orthanc_spec.binary, python_script=script, extra=extra) as server:
        with server.client() as http:
            upload(http, make_dicom("E1", "60"))
            assert http.get("/ids/v1/").json()["KkOrthancPlugin"]["Prefix"] == "/ids/v1"
            assert http.get("/kk/").status_code == 404
            assert http.get("/ids/v1/patients/E1").json()["ID"] == orthanc_id("E1")
            failure = assert_error(http.get("/ids/v1/patients/E1/uids"), 500)
            assert "secret detail" not in str(failure) and "KeyError" in failure["Message"]
        assert "secret detail" in server.log_text()


def test_client_functions_use_the_plugin(kk_server: OrthancServer) -> None:
    from kkorthanc import Orthanc
    from kkorthanc._sync._kk import kk_available, kk_lookup, kk_tree, kk_uids
    from kkorthanc.errors import ConflictError

    with Orthanc(kk_server.url, auth=kk_server.auth) as client:
        assert kk_available(client) and not kk_available(client, prefix="nothing")
        assert kk_lookup(client, "patients", "X/uids")["ID"] == orthanc_id("X/uids")
        assert kk_lookup(client, "Study", "1.2.3.4.5") is None
        with pytest.raises(ConflictError):
            kk_lookup(client, "studies", SHARED_STUDY)
        chosen = kk_lookup(client, "studies", SHARED_STUDY, patient_id="AMB1")
        assert chosen is not None and chosen["ID"] == orthanc_id("AMB1", SHARED_STUDY)
        assert kk_uids(client, "Patient", "A/B")["PatientID"] == "A/B"
        tree = kk_tree(client, {"PatientID": "#00385"}, depth="Series")
        assert [p["ID"] for p in tree] == [orthanc_id("#00385")]
        assert "Instances" not in tree[0]["Studies"][0]["Series"][0]
