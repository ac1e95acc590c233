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
from kkorthanc._dicom.ids import orthanc_id
from kkorthanc.plugin import COMPANIONS, install_script, script_path


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
        self.calls: list[tuple[str, str]] = []

    def GetConfiguration(self) -> str:
        return json.dumps(self.config)

    def RegisterRestCallback(self, regex: str, callback: Any) -> None:
        self.callbacks[regex] = callback

    def RestApiGet(self, uri: str) -> bytes:
        self.calls.append(("GET", uri))
        if uri not in self.routes:
            raise FakeOrthancError(17, "Unknown resource")
        return json.dumps(self.routes[uri]).encode()

    def RestApiPost(self, uri: str, body: str) -> bytes:
        self.calls.append(("POST", uri))
        return b"[]"

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
    """Execute the script as a module named like Orthanc's plugin names it, with its folder on
    ``sys.path`` as the plugin puts it (the companion modules are imported from there)."""
    saved = sys.modules.pop("orthanc", None)
    if fake is not None:
        sys.modules["orthanc"] = fake
    folder = str(script_path().parent)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location("kk_routes", script_path())
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(folder)
        for name in COMPANIONS:
            sys.modules.pop(name.removesuffix(".py"), None)
        sys.modules.pop("orthanc", None)
        if saved is not None:
            sys.modules["orthanc"] = saved


@pytest.fixture(scope="module")
def kk() -> Any:
    """The script and its companions' names in one namespace."""
    module = load(None)
    parts = (module.common, module.lookup, module.policies, module.trees, module)
    return types.SimpleNamespace(**{k: v for part in parts for k, v in vars(part).items()})


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
        ("/patients", {"id": "A/B"}, ("patients", "A/B", "", "")),
        ("/patients", {"id": "患者 #1  "}, ("patients", "患者 #1  ", "", "")),
        ("/patients", {"id": "X/uids"}, ("patients", "X/uids", "", "")),
        ("/patients/uids", {"id": "X/uids"}, ("patients", "X/uids", "uids", "")),
        ("/studies/metadata/Reviewed", {"id": "1.2"}, ("studies", "1.2", "metadata", "Reviewed")),
        ("/instances/modify", {"id": "1.2"}, ("instances", "1.2", "modify", "")),
    ],
)
def test_targets_take_the_identifier_from_the_query_only(
    kk: Any, rest: str, query: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert tuple(kk.parse_target(rest, query)) == expected


@pytest.mark.parametrize(
    ("rest", "query", "status"),
    [
        ("/nothing/x", {}, 404),
        ("/patients", {}, 400),
        ("/patients/uids", {}, 400),
        ("/patients/A/B", {}, 400),  # the path form: Orthanc may have rewritten it
        ("/patients/abc", {}, 400),
        ("/studies/1.2/uids", {}, 400),
        ("/patients", {"id": "  "}, 400),
        ("/patients", {"id": "a\nb"}, 400),
        ("/patients/other", {"id": "x"}, 404),
        ("/patients/uids/x", {"id": "x"}, 404),
        ("/patients/metadata", {"id": "x"}, 404),
        ("/patients/metadata/..", {"id": "x"}, 400),
        ("/patients/metadata/", {"id": "x"}, 400),
        ("/patients/metadata/a/b", {"id": "x"}, 400),
    ],
)
def test_bad_targets(kk: Any, rest: str, query: dict[str, str], status: int) -> None:
    with pytest.raises(kk.KkError) as caught:
        kk.parse_target(rest, query)
    assert caught.value.status == status
    if status == 400 and "id" not in query:
        assert "?id=" in caught.value.message and "rewrites" in caught.value.message


def test_redirects_are_relative_to_the_request(kk: Any) -> None:
    assert kk.relative_location("/kk/patients", "/patients/x") == "../patients/x"
    assert kk.relative_location("/ids/v1/studies", "/studies/y") == "../../studies/y"
    reply = kk.Reply.redirect("Series", "s", "/series/s/metadata/R", "/kk/series/metadata/R")
    assert (reply.status, reply.location) == (307, "../../../series/s/metadata/R")
    assert json.loads(reply.body) == {"ID": "s", "Path": "/series/s/metadata/R", "Type": "Series"}


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


def registered(routes: dict[str, Any], **config: Any) -> tuple[FakeOrthanc, Any]:
    fake = FakeOrthanc(
        {"KkOrthanc": {"Prefix": "/kk"}, **config}, {"/plugins": ["python"], **routes}
    )
    load(fake)
    ((regex, callback),) = fake.callbacks.items()
    assert regex == "/kk(/.*)?"
    return fake, callback


def test_registered_callback_redirects_to_a_patients_route_without_reading() -> None:
    fake, callback = registered({})
    output = FakeOutput()
    callback(output, "/kk/patients", method="GET", groups=["/patients"], get={"id": "A%2FB"})
    path = f"/patients/{orthanc_id('A/B')}"
    assert output.sent[0] == ("header", "Location", ".." + path)
    kind, status, body = output.sent[-1]
    assert (kind, status) == ("status", 307)
    assert json.loads(body) == {"ID": orthanc_id("A/B"), "Path": path, "Type": "Patient"}
    assert fake.calls == []


@pytest.mark.parametrize(
    ("method", "rest", "get", "suffix"),
    [
        ("DELETE", "/patients/abc", None, "send the DELETE to it"),
        ("DELETE", "/patients/a/b", None, "send the DELETE to it"),  # sent as a%2F%2Fb or a%5Cb
        ("DELETE", "/patients", None, "send the DELETE to it"),  # ?id= never reaches a change
        ("DELETE", "/patients", {"id": "abc"}, "send the DELETE to it"),
        ("POST", "/studies/1.2/anonymize", None, "to its /anonymize"),
        ("POST", "/instances/modify", None, "to its /modify"),
        ("PUT", "/series/1.2/metadata/Reviewed", None, "to its /metadata/Reviewed"),
        ("DELETE", "/series/1.2/metadata/Reviewed", None, "to its /metadata/Reviewed"),
        ("PUT", "/patients/uids", None, "send the PUT to it"),
        ("POST", "/patients/x/metadata/..", None, "send the POST to it"),
    ],
)
def test_changes_are_refused_and_point_to_orthancs_route(
    method: str, rest: str, get: dict[str, str] | None, suffix: str
) -> None:
    fake, callback = registered({})
    output = FakeOutput()
    request: dict[str, Any] = {"method": method, "groups": [rest], "body": b"{}"}
    if get is not None:
        request["get"] = get
    callback(output, "/kk" + rest, **request)
    kind, status, body = output.sent[-1]
    assert (kind, status) == ("status", 400)
    message = json.loads(body)["Message"]
    assert "?id=" in message and "307" in message and "rewrites" in message
    assert message.endswith(suffix)
    route = rest.split("/")[1]
    assert f"GET /kk/{route}?id=<identifier>" in message
    assert fake.calls == []


def test_registered_callback_405_and_404() -> None:
    _, callback = registered({})
    output = FakeOutput()
    callback(
        output,
        "/kk/studies/anonymize",
        method="GET",
        groups=["/studies/anonymize"],
        get={"id": "1.2"},
    )
    callback(output, "/kk/", method="DELETE", groups=["/"])
    callback(output, "/kk/studies", method="GET", groups=["/studies"], get={"id": "x"})
    assert output.sent[:2] == [("405", "POST"), ("405", "GET")]
    kind, status, body = output.sent[-1]
    assert (kind, status, json.loads(body)["OrthancStatus"]) == ("status", 404, 17)


def test_policy_reasons_and_setting(kk: Any) -> None:
    assert kk.policy_reasons({}, ["python", "dicom-web"]) == []
    assert kk.policy_reasons(
        {"LuaScripts": ["f.lua"], "ExecuteLuaEnabled": True}, ["python", "authorization"]
    ) == [
        "LuaScripts is set",
        "ExecuteLuaEnabled is true",
        "the plugin(s) authorization may filter HTTP requests",
    ]
    settings = [{}, {"InServerReads": "auto"}, {"InServerReads": True}, {"InServerReads": False}]
    assert [kk.read_setting(json.dumps({"KkOrthanc": c})) for c in settings] == [
        None,
        None,
        True,
        False,
    ]
    for bad in ("yes", "true", 1, 0, None):
        with pytest.raises(ValueError, match="InServerReads"):
            kk.read_setting(json.dumps({"KkOrthanc": {"InServerReads": bad}}))


@pytest.mark.parametrize(
    ("config", "plugins"),
    [
        ({"LuaScripts": ["filter.lua"]}, ["python"]),
        ({}, ["python", "authorization"]),
        ({"KkOrthanc": {"InServerReads": False}}, ["python"]),
    ],
)
def test_in_server_reads_are_refused_where_access_rules_may_exist(
    config: dict[str, Any], plugins: list[str]
) -> None:
    fake, callback = registered({"/plugins": plugins}, **config)
    if "KkOrthanc" in config:
        fake.config = config
        load(fake)
        callback = fake.callbacks["/kk(/.*)?"]
    for rest, method in [
        ("/studies", "GET"),
        ("/patients/uids", "GET"),
        ("/tree", "GET"),
        ("/tools/find", "POST"),
    ]:
        output = FakeOutput()
        get = {"id": "1.2"} if method == "GET" else None
        callback(output, "/kk" + rest, method=method, groups=[rest], get=get, body=b"[{}]")
        kind, status, body = output.sent[-1]
        assert (kind, status) == ("status", 403), rest
        assert "InServerReads" in json.loads(body)["Message"]
    assert [uri for _, uri in fake.calls] == ["/plugins"] * (0 if "KkOrthanc" in config else 1)
    output = FakeOutput()
    callback(output, "/kk/", method="GET", groups=["/"], get={})
    assert json.loads(output.sent[-1][1])["KkOrthancPlugin"]["InServerReads"] is False
    callback(output, "/kk/patients", method="GET", groups=["/patients"], get={"id": "P"})
    assert output.sent[-1][:2] == ("status", 307)  # a patient's route needs no read


def test_unexpected_errors_are_logged_not_leaked() -> None:
    fake, callback = registered({"/patients/" + orthanc_id("P"): {"ID": "x"}})  # no MainDicomTags
    output = FakeOutput()
    fake.RestApiGet = None  # type: ignore[assignment,method-assign]  # calling it: TypeError
    callback(output, "/kk/patients/uids", method="GET", groups=["/patients/uids"], get={"id": "P"})
    kind, status, body = output.sent[-1]
    assert (kind, status) == ("status", 500)
    assert "Traceback" not in body.decode() and "TypeError" in json.loads(body)["Message"]
    assert "Traceback" in fake.errors[0]


def test_install_script_copies_the_companions_owner_only(tmp_path: Any) -> None:
    script = install_script(tmp_path / "kk", "kkorthanc_plugin.py")
    names = sorted(p.name for p in script.parent.iterdir())
    assert names == sorted([*COMPANIONS, "kkorthanc_plugin.py"])
    assert {p.stat().st_mode & 0o777 for p in script.parent.iterdir()} == {0o600}
    done = subprocess.run(  # run as Orthanc runs it: its folder on sys.path, no package
        [sys.executable, "-s", "-E", str(script)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
