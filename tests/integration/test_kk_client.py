"""The client side of the KkOrthanc plugin on real Orthanc 1.10 and 1.12 servers.

One server per Orthanc version runs the plugin and holds awkward data (PatientIDs ``#00385``,
``A/B``, ``X/uids``, spaces, CJK, a study UID shared by two patients, pydicom's chrX1/chrX2
charset files, a small generated grid). Two clients of the same kind talk to it: one forced to
the plain REST API (``use_kk_plugin=False``), one using the plugin (the default, detected). Every
lookup, ``uids()`` and ``tree()`` must give the same values, order and errors both ways; ``uids()``
and ``tree()`` through the plugin take one request, a UID lookup two (the plugin's 307, then
Orthanc's own route of the resource).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _resource_data import charset_file, ct_bytes, grid, upload

from kkorthanc.errors import UnexpectedContentError, UnsupportedFeatureError
from kkorthanc.plugin import script_path
from kkorthanc.testing import OrthancServer, ServerSpec

SPECIAL_IDS = ["#00385", "A/B", "X/uids", "ID WITH SPACES", " lead space", "患者/1 #"]
SHARED_STUDY = "1.2.826.0.1.3680043.8.498.77001"
PLUGIN_VERSION = "0.2.0.dev0"


def _files() -> Iterator[bytes]:
    for number, patient_id in enumerate(SPECIAL_IDS):
        yield ct_bytes(
            PatientID=patient_id, PatientName=f"Kk^{number}", SpecificCharacterSet="ISO_IR 192"
        )
    for patient_id in ("AMB1", "AMB2"):
        yield ct_bytes(PatientID=patient_id, PatientName="Amb^X", StudyInstanceUID=SHARED_STUDY)
    yield charset_file("chrX1.dcm")
    yield charset_file("chrX2.dcm")
    for tags in grid(2, 2, 2, 2, prefix="G"):
        yield ct_bytes(**tags)


@pytest.fixture(scope="module")
def kk_server(orthanc_spec: ServerSpec) -> Iterator[OrthancServer]:
    """An authenticated server of the test's Orthanc version, running the plugin, with data."""
    with OrthancServer.start(orthanc_spec.binary, python_script=script_path()) as server:
        with server.client() as http:
            for data in _files():
                upload(http, data)
        yield server


class Counter:
    """Counts the requests a client sends (its ``event_hooks``), by path."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def reset(self) -> None:
        self.paths.clear()

    def hooks(self, kind: str) -> dict[str, list[Callable[..., Any]]]:
        def record(request: httpx.Request) -> None:
            self.paths.append(request.url.path)

        async def record_async(request: httpx.Request) -> None:
            record(request)

        return {"request": [record if kind == "sync" else record_async]}


@pytest.fixture
def pair(kk_server: OrthancServer, make_client: Any, client_kind: str) -> tuple[Any, Any, Counter]:
    """(REST client, plugin client, counter of the plugin client's requests), capabilities read."""
    counter = Counter()
    rest = make_client(kk_server.url, auth=kk_server.auth, use_kk_plugin=False)
    kk = make_client(
        kk_server.url,
        auth=kk_server.auth,
        event_hooks=counter.hooks(client_kind),
        use_kk_plugin=True,
    )
    assert kk.capabilities().kk_plugin == PLUGIN_VERSION
    counter.reset()
    return rest, kk, counter


TAGS = {
    "Patient": "PatientID",
    "Study": "StudyInstanceUID",
    "Series": "SeriesInstanceUID",
    "Instance": "SOPInstanceUID",
}


def _identifiers(kk_server: OrthancServer) -> dict[str, list[str]]:
    """Every identifier on the server, per level, as Orthanc stores it."""
    found = {}
    with kk_server.client() as http:
        for level, tag in TAGS.items():
            body = {"Level": level, "Query": {}, "Expand": True}
            answer = http.post("/tools/find", json=body).json()
            found[level] = sorted({item["MainDicomTags"][tag] for item in answer})
    return found


COLLECTIONS = {
    "Patient": "patients",
    "Study": "studies",
    "Series": "series",
    "Instance": "instances",
}


def test_capabilities_detect_the_plugin(
    pair: tuple[Any, Any, Counter], orthanc: Any, make_client: Any
) -> None:
    rest, kk, _ = pair
    capabilities = kk.capabilities()
    assert capabilities.supports("kk_routes") and capabilities.has_plugin("python")
    assert rest.capabilities().kk_plugin == PLUGIN_VERSION  # detected even when not used
    plain = make_client(orthanc.url, auth=(orthanc.username, orthanc.password))
    assert plain.capabilities().kk_plugin is None
    assert not plain.capabilities().supports("kk_routes")
    forced = make_client(orthanc.url, auth=(orthanc.username, orthanc.password), use_kk_plugin=True)
    with pytest.raises(UnsupportedFeatureError, match="KkOrthanc server plugin"):
        forced.studies.lookup("1.2.3")


def test_plugin_detection_follows_refresh(kk_server: OrthancServer, make_client: Any) -> None:
    client = make_client(kk_server.url, auth=kk_server.auth)
    first = client.capabilities()
    assert client.capabilities() is first
    assert client.capabilities(refresh=True).kk_plugin == PLUGIN_VERSION


def test_lookups_are_identical_and_read_orthancs_own_route(
    pair: tuple[Any, Any, Counter], kk_server: OrthancServer
) -> None:
    """A UID lookup asks the plugin, which answers 307, then reads the resource's own route
    (where Orthanc's access rules apply); a patient's is one GET of its computed route."""
    rest, kk, counter = pair
    identifiers = _identifiers(kk_server)
    assert set(SPECIAL_IDS) | {"X1EXAMPLE", "X2EXAMPLE"} <= set(identifiers["Patient"])
    for level, values in identifiers.items():
        for value in values:
            if value == SHARED_STUDY:
                continue
            expected = getattr(rest, COLLECTIONS[level]).lookup(value)
            counter.reset()
            found = getattr(kk, COLLECTIONS[level]).lookup(value)
            assert found is not None and found.id == expected.id
            route = COLLECTIONS[level]
            through_plugin = [f"/kk/{route}"] if level != "Patient" else []
            assert counter.paths == [*through_plugin, f"/{route}/{found.id}"], (level, value)
            assert _kind(found) is _kind(expected)
            assert dict(found.main_tags) == dict(expected.main_tags)
            assert found.raw == expected.raw, (level, value)
            assert kk_id_list(kk, level, value) == kk_id_list(rest, level, value) == [found.id]


def test_an_automatic_client_looks_up_with_one_find(
    kk_server: OrthancServer, make_client: Any, client_kind: str
) -> None:
    """Where the plugin would take two requests (its 307, then the route), one find is enough."""
    counter = Counter()
    auto = make_client(kk_server.url, auth=kk_server.auth, event_hooks=counter.hooks(client_kind))
    assert auto.capabilities().kk_plugin == PLUGIN_VERSION
    uid = next(uid for uid in _identifiers(kk_server)["Study"] if uid != SHARED_STUDY)
    counter.reset()
    study = auto.studies.lookup(uid)
    assert study is not None and counter.paths == ["/tools/find"]


def _kind(resource: Any) -> type:
    return type(getattr(resource, "_target", resource))  # the async client's Blocking proxy


def kk_id_list(client: Any, level: str, value: str) -> list[str]:
    return [item.id for item in getattr(client, COLLECTIONS[level]).lookup_all(value)]


def test_absent_identifiers_are_none_both_ways(pair: tuple[Any, Any, Counter]) -> None:
    rest, kk, counter = pair
    for collection, value in [
        ("patients", "NOPE"),
        ("patients", "a/b"),
        ("studies", "1.2.3"),
        ("series", SHARED_STUDY),
        ("instances", "9.9.9"),
        ("studies", SHARED_STUDY + ".1"),
    ]:
        assert getattr(rest, collection).lookup(value) is None
        counter.reset()
        assert getattr(kk, collection).lookup(value) is None
        assert getattr(kk, collection).lookup_all(value) == []
        assert getattr(rest, collection).lookup_all(value) == []
        assert len(counter.paths) == 2


def test_ambiguous_uid_raises_the_same_error(pair: tuple[Any, Any, Counter]) -> None:
    rest, kk, counter = pair
    with pytest.raises(UnexpectedContentError) as from_rest:
        rest.studies.lookup(SHARED_STUDY)
    counter.reset()
    with pytest.raises(UnexpectedContentError) as from_kk:
        kk.studies.lookup(SHARED_STUDY)
    assert len(counter.paths) == 1
    assert str(from_kk.value) == str(from_rest.value)
    assert "2 studies have the StudyInstanceUID" in str(from_kk.value)
    assert "use lookup_all()" in str(from_kk.value)
    both = kk.studies.lookup_all(SHARED_STUDY)
    assert [study.id for study in both] == [
        study.id for study in rest.studies.lookup_all(SHARED_STUDY)
    ]
    assert sorted(study.patient_id for study in both) == ["AMB1", "AMB2"]
    assert [study.raw for study in both] == [
        study.raw for study in rest.studies.lookup_all(SHARED_STUDY)
    ]


def test_uids_are_identical_and_take_one_request(
    pair: tuple[Any, Any, Counter], kk_server: OrthancServer
) -> None:
    rest, kk, counter = pair
    for patient_id in _identifiers(kk_server)["Patient"]:
        patient = kk.patients.lookup(patient_id)
        counter.reset()
        from_kk = patient.uids()
        assert counter.paths == ["/kk/patients/uids"], counter.paths
        assert from_kk == rest.patients.lookup(patient_id).uids()
        for study_uids in from_kk.studies:
            study = kk.studies.get(study_uids.orthanc_id)
            counter.reset()
            assert study.uids() == study_uids == rest.studies.get(study.id).uids()
            assert counter.paths == ["/kk/studies/uids"]
    grid_patient = rest.patients.lookup("G0").uids()
    assert len(grid_patient.studies) == 2 and len(grid_patient.studies[0].series[0].instances) == 2


def test_uids_of_a_shared_study_stay_in_its_patient(pair: tuple[Any, Any, Counter]) -> None:
    rest, kk, _ = pair
    for study in kk.studies.lookup_all(SHARED_STUDY):
        uids = study.uids()
        assert uids.orthanc_id == study.id and uids.patient_id == study.patient_id
        assert uids == rest.studies.get(study.id).uids()


def _settled(raw: dict[str, Any]) -> dict[str, Any]:
    """The raw JSON without what changes on its own as resources age (stability)."""
    return {key: value for key, value in raw.items() if key not in ("IsStable", "LastUpdate")}


def _tree_view(tree: Any) -> tuple[Any, ...]:
    levels = (tree.patients, tree.studies, tree.series, tree.instances)
    ids = tuple(tuple(item.id for item in level) for level in levels)
    parents = tuple(tuple(item.parent_id for item in level) for level in levels[1:])
    tags = tuple(tuple(dict(item.main_tags) for item in level) for level in levels)
    raws = tuple(tuple(_settled(item.raw) for item in level) for level in levels)
    records = tree.to_records(tree.depth, typed=False)
    return ids, parents, tags, raws, tree.format(all_tags=True), records


TREE_QUERIES: list[tuple[dict[str, Any], str, int]] = [
    ({}, "Instance", 1),
    ({}, "Patient", 1),
    ({}, "Series", 1),
    ({"PatientID": "#00385"}, "Instance", 1),
    ({"PatientID": "A/B"}, "Study", 1),
    ({"PatientName": "kk*", "case_sensitive": False}, "Instance", 1),
    ({"PatientName": "kk*", "case_sensitive": True}, "Instance", 1),
    ({"StudyInstanceUID": SHARED_STUDY}, "Instance", 1),
    ({"StudyDate": "20210201-"}, "Series", 1),
    ({"PatientID": "G*", "StudyDescription": "study 1"}, "Instance", 1),
    ({"Modality": "MR"}, "Instance", 1),
    ({"PatientName": "Kk*"}, "Study", 1),
    ({"StudyDate": "20210101"}, "Patient", 1),
    ({"InstanceNumber": "1"}, "Series", 1),
]


@pytest.mark.parametrize(("query", "depth", "requests"), TREE_QUERIES)
def test_tree_is_identical_both_ways(
    pair: tuple[Any, Any, Counter], query: dict[str, Any], depth: str, requests: int
) -> None:
    rest, kk, counter = pair
    options = dict(query)
    case_sensitive = options.pop("case_sensitive", None)
    expected = rest.tree(options, depth=depth, case_sensitive=case_sensitive)
    found = kk.tree(options, depth=depth, case_sensitive=case_sensitive)
    assert len(counter.paths) == requests, counter.paths
    assert counter.paths == ["/kk/tools/find"]
    assert _tree_view(found) == _tree_view(expected)
    assert len(found.patients) > 0 or query.get("case_sensitive") is True


def test_tree_of_everything_has_every_resource(pair: tuple[Any, Any, Counter]) -> None:
    _, kk, _ = pair
    tree = kk.tree()
    assert len(tree.patients) == len(SPECIAL_IDS) + 2 + 2 + 2
    assert len(tree.instances) == len(SPECIAL_IDS) + 2 + 2 + 16
    for patient in tree.patients:  # unfiltered: the child IDs are complete, as with REST
        assert {study.id for study in tree.studies_of(patient)} == set(patient.study_ids)


def test_forced_rest_never_asks_the_plugin(
    kk_server: OrthancServer, make_client: Any, client_kind: str
) -> None:
    counter = Counter()
    rest = make_client(
        kk_server.url,
        auth=kk_server.auth,
        use_kk_plugin=False,
        event_hooks=counter.hooks(client_kind),
    )
    rest.tree()
    rest.studies.lookup(SHARED_STUDY + ".1")
    rest.patients.lookup("A/B").uids()
    assert counter.paths and not any(path.startswith("/kk") for path in counter.paths)
    assert "/system" not in counter.paths  # the REST path needs no capabilities
