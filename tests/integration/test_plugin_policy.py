"""The plugin never lets a caller do what Orthanc's own routes would refuse (issue 11).

Orthanc's access rules (here a Lua ``IncomingHttpRequestFilter``) apply to the URI a client sends;
the plugin's in-process calls never meet them. The server of these tests has two users: the
administrator, and ``bob``, whom the Lua filter allows no change on Orthanc's resource routes and
no access at all to the patient ``HIDDEN``. Before the fix, ``DELETE /kk/patients/VICTIM`` as bob
deleted the patient, and bob read ``HIDDEN`` through ``/kk/.../uids``, ``/kk/tree`` and
``/kk/tools/find``.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _resource_data import ct_bytes, upload

from kkorthanc._dicom.ids import orthanc_id
from kkorthanc.plugin import script_path
from kkorthanc.testing import OrthancServer, ServerSpec

HIDDEN_STUDY = "1.2.826.0.1.3680043.8.498.91"
VICTIM_STUDY = "1.2.826.0.1.3680043.8.498.92"
HIDDEN_IDS = [
    orthanc_id("HIDDEN"),
    orthanc_id("HIDDEN", HIDDEN_STUDY),
    orthanc_id("HIDDEN", HIDDEN_STUDY, f"{HIDDEN_STUDY}.1"),
    orthanc_id("HIDDEN", HIDDEN_STUDY, f"{HIDDEN_STUDY}.1", f"{HIDDEN_STUDY}.1.1"),
]
LUA_FILTER = """
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  if username ~= 'bob' then
    return true
  end
  for _, hidden in ipairs({%s}) do
    if string.find(uri, hidden, 1, true) then
      return false
    end
  end
  if method ~= 'GET' then
    for _, root in ipairs({'/patients', '/studies', '/series', '/instances', '/tools'}) do
      if string.sub(uri, 1, string.len(root)) == root then
        return false
      end
    end
  end
  return true
end
"""


def make_dicom(patient_id: str, study_uid: str) -> bytes:
    """One instance of ``patient_id`` with UIDs derived from ``study_uid``."""
    series_uid = f"{study_uid}.1"
    return ct_bytes(
        PatientID=patient_id,
        StudyInstanceUID=study_uid,
        SeriesInstanceUID=series_uid,
        SOPInstanceUID=f"{series_uid}.1",
    )


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """An Orthanc-style JSON error body with this status."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["HttpStatus"] == status and "Message" in body and "Traceback" not in body
    return body


def lua_server(spec: ServerSpec, folder: Path, settings: dict[str, Any]) -> OrthancServer:
    """A server with the administrator, bob, and the Lua filter (written into ``folder``)."""
    script = folder / "bob-read-only.lua"
    script.write_text(LUA_FILTER % ", ".join(f"'{i}'" for i in HIDDEN_IDS))
    admin = ("admin", secrets.token_hex(8))
    extra = {
        "RegisteredUsers": {admin[0]: admin[1], "bob": "bob-password"},
        "LuaScripts": [spec.binary.inner_path(script) if spec.binary else str(script)],
        "KkOrthanc": settings,
    }
    return OrthancServer.start(spec.binary, auth=admin, python_script=script_path(), extra=extra)


@pytest.fixture(scope="module")
def lua_folder(orthanc_spec: ServerSpec) -> Iterator[Path]:
    """A folder the server can read (inside the chroot for a chroot binary)."""
    parent = orthanc_spec.binary.root / "tmp" if orthanc_spec.binary else None
    folder = Path(tempfile.mkdtemp(prefix="kkorthanc-lua-", dir=parent))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def guarded(orthanc_spec: ServerSpec, lua_folder: Path) -> Iterator[OrthancServer]:
    """The Lua-filtered server with InServerReads left to "auto", holding VICTIM and HIDDEN."""
    with lua_server(orthanc_spec, lua_folder, {}) as server:
        with server.client() as http:
            upload(http, make_dicom("VICTIM", VICTIM_STUDY))
            upload(http, make_dicom("HIDDEN", HIDDEN_STUDY))
        yield server


@pytest.fixture
def bob(guarded: OrthancServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=guarded.url, auth=("bob", "bob-password"), trust_env=False) as http:
        yield http


def patients(server: OrthancServer) -> list[str]:
    with server.client() as http:
        return sorted(http.get("/patients").json())


def test_the_filter_makes_bob_read_only_on_orthancs_routes(
    guarded: OrthancServer, bob: httpx.Client
) -> None:
    victim = orthanc_id("VICTIM")
    assert bob.get(f"/patients/{victim}").status_code == 200
    assert bob.delete(f"/patients/{victim}").status_code == 403
    assert bob.get(f"/patients/{orthanc_id('HIDDEN')}").status_code == 403
    assert bob.post("/tools/find", json={"Level": "Patient", "Query": {}}).status_code == 403
    assert victim in patients(guarded)


def test_bob_cannot_change_anything_through_the_plugin(
    guarded: OrthancServer, bob: httpx.Client
) -> None:
    before = patients(guarded)
    for method, path in [
        ("DELETE", "/kk/patients/VICTIM"),
        ("DELETE", "/kk/patients?id=VICTIM"),
        ("DELETE", f"/kk/studies/{VICTIM_STUDY}"),
        ("POST", f"/kk/studies/{VICTIM_STUDY}/anonymize"),
        ("POST", f"/kk/studies/modify?id={VICTIM_STUDY}"),
        ("PUT", f"/kk/studies/{VICTIM_STUDY}/metadata/Reviewed"),
    ]:
        message = assert_error(bob.request(method, path, json={}), 400)["Message"]
        assert "makes no changes" in message and "?id=" in message
    assert patients(guarded) == before
    # The way the answer points to leads to Orthanc's own route, where the filter applies.
    moved = bob.get("/kk/patients", params={"id": "VICTIM"})
    assert moved.status_code == 307
    target = httpx.URL(str(moved.request.url)).join(moved.headers["location"])
    assert bob.delete(target).status_code == 403
    assert patients(guarded) == before


def test_reads_orthanc_would_refuse_are_not_served_under_auto(
    guarded: OrthancServer, bob: httpx.Client
) -> None:
    for method, path, params in [
        ("GET", "/kk/patients/uids", {"id": "HIDDEN"}),
        ("GET", "/kk/studies", {"id": HIDDEN_STUDY}),
        ("GET", "/kk/studies/uids", {"id": HIDDEN_STUDY}),
        ("GET", "/kk/series/metadata/Reviewed", {"id": f"{HIDDEN_STUDY}.1"}),
        ("GET", "/kk/tree", {"PatientID": "HIDDEN"}),
    ]:
        body = assert_error(bob.request(method, path, params=params), 403)
        assert "InServerReads" in body["Message"] and "LuaScripts is set" in body["Message"]
    bodies = [{"Level": "Patient", "Query": {"PatientID": "HIDDEN"}, "Expand": True}]
    assert_error(bob.post("/kk/tools/find", json=bodies), 403)
    assert "HIDDEN" not in bob.post("/kk/tools/find", json=bodies).text
    # A patient's redirect reads nothing; following it meets the filter.
    hidden = bob.get("/kk/patients", params={"id": "HIDDEN"}, follow_redirects=True)
    assert (hidden.url.path, hidden.status_code) == (f"/patients/{orthanc_id('HIDDEN')}", 403)
    victim = bob.get("/kk/patients", params={"id": "VICTIM"}, follow_redirects=True)
    assert victim.json()["MainDicomTags"]["PatientID"] == "VICTIM"
    assert bob.get("/kk/").json()["KkOrthancPlugin"]["InServerReads"] is False


def test_the_client_uses_the_rest_api_where_reads_are_off(guarded: OrthancServer) -> None:
    from kkorthanc import Orthanc
    from kkorthanc.errors import ForbiddenError

    with Orthanc(guarded.url, auth=("bob", "bob-password")) as client:
        assert client.capabilities().kk_plugin is None  # so lookups, uids, tree: REST only
        victim = client.patients.lookup("VICTIM")
        assert victim is not None and victim.patient_id == "VICTIM"
        with pytest.raises(ForbiddenError):
            client.patients.lookup("HIDDEN")
        with pytest.raises(ForbiddenError):  # bob may not POST /tools/find: nor /kk's
            client.studies.lookup(HIDDEN_STUDY)


@pytest.mark.parametrize(("setting", "reads"), [(True, True), (False, False)])
def test_in_server_reads_follow_the_setting(
    orthanc_spec: ServerSpec, lua_folder: Path, setting: bool, reads: bool
) -> None:
    """``true`` is the administrator's word that every user may read everything."""
    with lua_server(orthanc_spec, lua_folder, {"InServerReads": setting}) as server:
        with server.client() as http:
            upload(http, make_dicom("HIDDEN", HIDDEN_STUDY))
        auth = ("bob", "bob-password")
        with httpx.Client(base_url=server.url, auth=auth, trust_env=False) as bob:
            response = bob.get("/kk/patients/uids", params={"id": "HIDDEN"})
            assert response.status_code == (200 if reads else 403), response.text
            assert bob.delete("/kk/patients/HIDDEN").status_code == 400
            assert bob.get("/kk/").json()["KkOrthancPlugin"]["InServerReads"] is reads
        assert patients(server) == [orthanc_id("HIDDEN")]
