"""The plugin script's pure logic, loaded by path as Orthanc does, with a fake `orthanc`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from typing import Any

import pytest

import kkorthanc
from kkorthanc._ids import orthanc_id
from kkorthanc.plugin import script_path


class FakeOrthancError(Exception):
    """Stands for ``orthanc.OrthancException(code, message)``."""


class FakeOrthanc(types.ModuleType):
    """The few functions of Orthanc's ``orthanc`` module the script uses."""

    OrthancException = FakeOrthancError

    def __init__(self, config: dict[str, Any], routes: dict[str, Any]) -> None:
        super().__init__("orthanc")
        self.config = config
        self.routes = routes
        self.callbacks: dict[str, Any] = {}
        self.errors: list[str] = []

    def GetConfiguration(self) -> str:
        return json.dumps(self.config)

    def RegisterRestCallback(self, regex: str, callback: Any) -> None:
        self.callbacks[regex] = callback

    def RestApiGet(self, uri: str) -> bytes:
        if uri not in self.routes:
            raise FakeOrthancError(17, "Unknown resource")
        return json.dumps(self.routes[uri]).encode()

    def LogError(self, text: str) -> None:
        self.errors.append(text)

    def LogWarning(self, text: str) -> None:
        pass


class FakeOutput:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def AnswerBuffer(self, body: bytes, mime: str) -> None:
        self.sent.append(("answer", body, mime))

    def SendHttpStatus(self, status: int, body: bytes) -> None:
        self.sent.append(("status", status, body))

    def SendMethodNotAllowed(self, allow: str) -> None:
        self.sent.append(("405", allow))

    def SetHttpHeader(self, key: str, value: str) -> None:
        self.sent.append(("header", key, value))


def load(fake: types.ModuleType | None) -> Any:
    """Execute the script as a module named like Orthanc's plugin names it."""
    saved = sys.modules.pop("orthanc", None)
    if fake is not None:
        sys.modules["orthanc"] = fake
    try:
        spec = importlib.util.spec_from_file_location("kk_routes", script_path())
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.modules.pop("orthanc", None)
        if saved is not None:
            sys.modules["orthanc"] = saved


@pytest.fixture(scope="module")
def kk() -> Any:
    return load(None)


def test_script_path_and_command_line() -> None:
    assert script_path().name == "kk_routes.py" and script_path().is_absolute()
    done = subprocess.run(
        [sys.executable, "-m", "kkorthanc.plugin", "--path"], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout.strip()) == (0, str(script_path()))


def test_versions_agree(kk: Any) -> None:
    assert kk.__version__ == kkorthanc.__version__


def test_loading_outside_orthanc_registers_nothing(kk: Any) -> None:
    assert kk._orthanc_module() is None


@pytest.mark.parametrize(
    ("config", "prefix"),
    [({}, "/kk"), ({"KkOrthanc": {"Prefix": "/ids/v1/"}}, "/ids/v1"), ({"KkOrthanc": {}}, "/kk")],
)
def test_prefix_from_configuration(kk: Any, config: dict[str, Any], prefix: str) -> None:
    assert kk.read_prefix(json.dumps(config)) == prefix


@pytest.mark.parametrize("bad", ["kk", "/", "/a b", "/studies", "/tools/x", 3])
def test_bad_prefixes_are_refused(kk: Any, bad: object) -> None:
    with pytest.raises(ValueError, match="Prefix"):
        kk.read_prefix(json.dumps({"KkOrthanc": {"Prefix": bad}}))


@pytest.mark.parametrize(
    ("rest", "query", "expected"),
    [
        ("/patients/A/B", {}, ("patients", "A/B", "", "")),
        ("/patients/A/B/uids", {}, ("patients", "A/B", "uids", "")),
        ("/patients/患者 #1  ", {}, ("patients", "患者 #1", "", "")),
        ("/studies/1.2/metadata/Reviewed", {}, ("studies", "1.2", "metadata", "Reviewed")),
        ("/series/1.2/anonymize", {}, ("series", "1.2", "anonymize", "")),
        ("/patients/X/uids/uids", {}, ("patients", "X/uids", "uids", "")),
        ("/patients", {"id": "X/uids"}, ("patients", "X/uids", "", "")),
        ("/patients/uids", {"id": "X/uids"}, ("patients", "X/uids", "uids", "")),
        ("/instances/modify", {"id": "1.2"}, ("instances", "1.2", "modify", "")),
    ],
)
def test_targets_match_sub_routes_from_the_right(
    kk: Any, rest: str, query: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert tuple(kk.parse_target(rest, query)) == expected


@pytest.mark.parametrize(
    ("rest", "query", "status"),
    [
        ("/nothing/x", {}, 404),
        ("/patients", {}, 400),
        ("/patients/uids", {}, 400),
        ("/patients", {"id": "  "}, 400),
        ("/patients", {"id": "a\nb"}, 400),
        ("/patients/other", {"id": "x"}, 404),
        ("/patients/x/metadata/..", {}, 400),
        ("/patients/x/metadata/", {}, 400),
    ],
)
def test_bad_targets(kk: Any, rest: str, query: dict[str, str], status: int) -> None:
    with pytest.raises(kk.KkError) as caught:
        kk.parse_target(rest, query)
    assert caught.value.status == status


def test_query_values_are_form_decoded(kk: Any) -> None:
    assert kk.decode_query({"id": "A%2FB+%23%E6%82%A3", "x": "%2B"}) == {"id": "A/B #患", "x": "+"}


def test_orthanc_ids_match_the_client(kk: Any) -> None:
    assert kk.orthanc_id("#00385") == orthanc_id("#00385")
    assert kk.orthanc_id("A/B", "1.2", "1.2.3") == orthanc_id("A/B", "1.2", "1.2.3")


def test_error_body_is_orthanc_style(kk: Any) -> None:
    body = kk.error_body(kk.KkError(404, "no such study"), "GET", "/kk/studies/x")
    assert body == {
        "HttpError": "Not Found",
        "HttpStatus": 404,
        "Message": "no such study",
        "Method": "GET",
        "OrthancError": "Unknown resource",
        "OrthancStatus": 17,
        "Uri": "/kk/studies/x",
    }
    assert [kk.status_of_code(c) for c in (17, 43, 8, 999)] == [404, 409, 400, 500]


def test_tree_filters(kk: Any) -> None:
    assert kk.find_filters({"PatientName": "Doe*", "0008,0020": "2021-"}) == (
        "Study",
        "Instance",
        False,
        {"PatientName": "Doe*", "0008,0020": "2021-"},
    )
    for bad in ({"Level": "Series"}, {"Depth": "Patient"}, {"CaseSensitive": "maybe"}, {"x": "1"}):
        with pytest.raises(kk.KkError):
            kk.find_filters(bad)


def resource(level: str, rid: str, parent: str = "", **tags: str) -> dict[str, Any]:
    parent_key = {"Study": "ParentPatient", "Series": "ParentStudy", "Instance": "ParentSeries"}
    value: dict[str, Any] = {"ID": rid, "Type": level, "MainDicomTags": tags}
    if level in parent_key:
        value[parent_key[level]] = parent
    return value


def test_build_tree_nests_and_drops_orphans(kk: Any) -> None:
    study = resource("Study", "s1", "p1", StudyInstanceUID="1.1")
    study["PatientMainDicomTags"] = {"PatientID": "P"}
    found = {
        "Study": [study],
        "Series": [resource("Series", "e2", "s1"), resource("Series", "e1", "s1")],
        "Instance": [resource("Instance", "i1", "e1"), resource("Instance", "i9", "gone")],
    }
    tree = kk.build_tree(found)
    assert [p["MainDicomTags"] for p in tree] == [{"PatientID": "P"}]
    series = tree[0]["Studies"][0]["Series"]
    assert [s["ID"] for s in series] == ["e1", "e2"]
    assert [i["ID"] for i in series[0]["Instances"]] == ["i1"]
    assert "Series" not in kk.build_tree(found, "Study")[0]["Studies"][0]


def test_build_uids(kk: Any) -> None:
    below = {
        "Series": [resource("Series", "e1", "s1", SeriesInstanceUID="1.1.1")],
        "Instance": [resource("Instance", "i1", "e1", SOPInstanceUID="1.1.1.1")],
    }
    chain = {"ID": "s1", "PatientID": "P", "StudyInstanceUID": "1.1"}
    assert kk.build_uids("Study", chain, below) == {
        "Type": "Study",
        **chain,
        "Series": [
            {
                "ID": "e1",
                "SeriesInstanceUID": "1.1.1",
                "Instances": [{"ID": "i1", "SOPInstanceUID": "1.1.1.1"}],
            }
        ],
    }


def registered(routes: dict[str, Any]) -> tuple[FakeOrthanc, Any]:
    fake = FakeOrthanc({"KkOrthanc": {"Prefix": "/kk"}}, routes)
    load(fake)
    ((regex, callback),) = fake.callbacks.items()
    assert regex == "/kk(/.*)?"
    return fake, callback


def test_registered_callback_answers_a_patient() -> None:
    patient = {"ID": orthanc_id("A/B"), "MainDicomTags": {"PatientID": "A/B"}, "Type": "Patient"}
    _, callback = registered({f"/patients/{orthanc_id('A/B')}": patient})
    output = FakeOutput()
    callback(output, "/kk/patients/A/B", method="GET", groups=["/patients/A/B"], get={})
    ((kind, body, mime),) = output.sent
    assert (kind, json.loads(body), mime) == ("answer", patient, "application/json")


def test_registered_callback_405_and_404() -> None:
    _, callback = registered({})
    output = FakeOutput()
    callback(output, "/kk/patients/x", method="PUT", groups=["/patients/x"], get={})
    callback(output, "/kk/patients/x", method="GET", groups=["/patients/x"], get={})
    assert output.sent[0] == ("405", "GET,DELETE")
    kind, status, body = output.sent[-1]
    assert (kind, status, json.loads(body)["OrthancStatus"]) == ("status", 404, 17)


def test_unexpected_errors_are_logged_not_leaked() -> None:
    fake, callback = registered({"/patients/" + orthanc_id("P"): {"ID": "x"}})  # no MainDicomTags
    output = FakeOutput()
    fake.RestApiGet = None  # type: ignore[assignment,method-assign]  # calling it: TypeError
    callback(output, "/kk/patients/P", method="GET", groups=["/patients/P"], get={})
    kind, status, body = output.sent[-1]
    assert (kind, status) == ("status", 500)
    assert "Traceback" not in body.decode() and "TypeError" in json.loads(body)["Message"]
    assert "Traceback" in fake.errors[0]
