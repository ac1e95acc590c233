"""The core client against a mock transport: requests built, answers decoded, errors mapped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import kkorthanc
from kkorthanc import errors

Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, url: str = "http://orthanc.test/", **kwargs: Any) -> kkorthanc.Orthanc:
    return kkorthanc.Orthanc(url, transport=httpx.MockTransport(handler), **kwargs)


def json_answer(value: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(value).encode(),
        headers={"Content-Type": "application/json", **headers},
    )


ORTHANC_404 = {
    "HttpError": "Not Found",
    "HttpStatus": 404,
    "Message": "Unknown resource",
    "Method": "GET",
    "OrthancError": "Unknown resource",
    "OrthancStatus": 17,
    "Uri": "/studies/x",
}


def test_get_decodes_json_text_and_empty_bodies() -> None:
    answers = {
        "/system": json_answer({"Version": "1.12.7"}),
        "/instances/i/metadata/Origin": httpx.Response(
            200, content=b"RestApi", headers={"Content-Type": "text/plain"}
        ),
        "/empty": httpx.Response(200),
    }
    with make(lambda request: answers[request.url.path]) as client:
        assert client.get("system") == {"Version": "1.12.7"}
        assert client.get("instances/i/metadata/Origin") == "RestApi"
        assert client.get("empty") is None


def test_get_refuses_binary_and_get_bytes_returns_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"DICM", headers={"Content-Type": "application/dicom"})

    with make(handler) as client:
        with pytest.raises(errors.UnexpectedContentError, match="get_bytes"):
            client.get(("instances", "x", "file"))
        assert client.get_bytes(("instances", "x", "file")) == b"DICM"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.UnauthorizedError),
        (403, errors.ForbiddenError),
        (404, errors.NotFoundError),
        (405, errors.MethodNotAllowedError),
        (409, errors.ConflictError),
        (415, errors.UnsupportedMediaTypeError),
        (418, errors.BadRequestError),
        (422, errors.UnprocessableEntityError),
        (500, errors.ServerError),
    ],
)
def test_each_status_maps_to_its_class(status: int, cls: type[errors.OrthancHTTPError]) -> None:
    with make(lambda request: httpx.Response(status), retries=0) as client:
        with pytest.raises(cls) as caught:
            client.get("anything")
    assert caught.value.status_code == status
    assert caught.value.method == "GET"
    assert caught.value.url == "http://orthanc.test/anything"
    assert isinstance(caught.value, errors.OrthancHTTPError)


def test_orthanc_error_body_is_kept_even_without_content_type() -> None:
    body = json.dumps({**ORTHANC_404, "Details": "no such study"}).encode()
    with make(lambda request: httpx.Response(404, content=body)) as client:
        with pytest.raises(errors.NotFoundError) as caught:
            client.get(("studies", "x"))
    error = caught.value
    assert (error.orthanc_status, error.orthanc_error) == (17, "Unknown resource")
    assert error.message == "Unknown resource"
    assert error.details == "no such study"
    assert isinstance(error.body, dict)
    assert error.body["Uri"] == "/studies/x"
    assert "no such study" in str(error)


def test_405_keeps_allowed_methods() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(405, headers={"Allow": "GET,DELETE"})

    with make(handler) as client:
        with pytest.raises(errors.MethodNotAllowedError) as caught:
            client.put("system", json={})
    assert caught.value.allow == ("GET", "DELETE")
    assert "allowed methods: GET, DELETE" in str(caught.value)


def test_401_message_says_what_to_do_and_hides_the_password() -> None:
    with make(lambda request: httpx.Response(401), auth=("alice", "s3cret")) as client:
        with pytest.raises(errors.UnauthorizedError) as caught:
            client.get("system")
        assert "s3cret" not in repr(client)
    assert "credentials are missing or wrong" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_credentials_in_the_url_become_basic_auth_and_leave_the_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_answer({})

    with make(handler, url="http://bob:pa%3Ass@orthanc.test:8042/orthanc") as client:
        client.get("system")
        assert client.url == "http://orthanc.test:8042/orthanc/"
        assert "pa" not in repr(client)
    assert seen[0].headers["Authorization"] == httpx.BasicAuth("bob", "pa:ss")._auth_header
    assert str(seen[0].url) == "http://orthanc.test:8042/orthanc/system"


def test_token_is_sent_as_bearer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_answer([])

    with make(handler, token="abc") as client:
        client.get("patients")
    assert seen[0].headers["Authorization"] == "Bearer abc"


def test_path_prefix_segments_and_params() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return json_answer([])

    with make(handler, url="https://proxy.test/orthanc/") as client:
        client.get(("patients", "A/B #1"), params={"expand": True, "short": False, "limit": 5})
        client.get("/studies/", params={"since": 0})
    assert seen == [
        "https://proxy.test/orthanc/patients/A%2FB%20%231?expand=true&limit=5",
        "https://proxy.test/orthanc/studies/?since=0",
    ]


def test_post_json_and_data_are_exclusive() -> None:
    with make(lambda request: json_answer({})) as client:
        with pytest.raises(errors.OrthancInputError) as caught:
            client.post("tools/find", json={}, data=b"x")
    assert isinstance(caught.value, ValueError)


def test_post_sends_bytes_and_json() -> None:
    bodies: list[tuple[str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.headers.get("Content-Type", ""), request.content))
        return json_answer({"Status": "Success"})

    with make(handler) as client:
        assert client.post("instances", data=b"DICM") == {"Status": "Success"}
        client.post("tools/find", json={"Level": "Study"})
    assert bodies[0][1] == b"DICM"
    assert bodies[1][0] == "application/json"  # httpx 0.28 made the body compact: parse it
    assert json.loads(bodies[1][1]) == {"Level": "Study"}


@pytest.mark.parametrize(
    "url", ["localhost:8042", "ftp://host/", "http://", "", "http://host/?x=1", "http://h:99999"]
)
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(errors.InvalidURLError) as caught:
        kkorthanc.Orthanc(url)
    assert isinstance(caught.value, ValueError)


def test_password_never_appears_in_url_errors() -> None:
    with pytest.raises(errors.InvalidURLError) as caught:
        kkorthanc.Orthanc("http://user:topsecret@host/?x")
    assert "topsecret" not in str(caught.value)


def test_environment_supplies_url_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORTHANC_URL", "http://env.test:9000")
    monkeypatch.setenv("ORTHANC_USERNAME", "carol")
    monkeypatch.setenv("ORTHANC_PASSWORD", "pw")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_answer({})

    with kkorthanc.Orthanc(transport=httpx.MockTransport(handler)) as client:
        client.get("system")
    assert str(seen[0].url) == "http://env.test:9000/system"
    assert seen[0].headers["Authorization"] == httpx.BasicAuth("carol", "pw")._auth_header


def test_default_url_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ORTHANC_URL", "ORTHANC_USERNAME", "ORTHANC_PASSWORD", "ORTHANC_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert kkorthanc.Orthanc().url == "http://localhost:8042/"


def test_auth_and_token_together_are_refused() -> None:
    with pytest.raises(errors.OrthancInputError, match="not both"):
        kkorthanc.Orthanc("http://h", auth=("a", "b"), token="t")


@pytest.mark.parametrize("timeout", [0, -1, "5", (1, 2, 3)])
def test_bad_timeouts_are_refused(timeout: Any) -> None:
    with pytest.raises(errors.OrthancInputError, match="timeout"):
        kkorthanc.Orthanc("http://h", timeout=timeout)


def test_timeouts_reach_the_transport() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return json_answer({})

    with make(handler, timeout=kkorthanc.Timeout(connect=2, read=30)) as client:
        client.get("system")
        client.get("system", timeout=(1, 600))
    assert seen[0]["connect"] == 2 and seen[0]["read"] == 30
    assert seen[1]["connect"] == 1 and seen[1]["read"] == 600


def counting(statuses: list[int]) -> tuple[list[str], Handler]:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(statuses[min(len(calls), len(statuses)) - 1])

    return calls, handler


FAST = kkorthanc.Retry(total=3, backoff=0.001)


def test_idempotent_requests_are_retried_on_503() -> None:
    calls, handler = counting([503, 502, 200])
    with make(handler, retries=FAST) as client:
        assert client.get("system") is None
    assert calls == ["GET", "GET", "GET"]


def test_post_is_not_retried_on_503_unless_asked() -> None:
    calls, handler = counting([503, 503, 200])
    with make(handler, retries=FAST) as client:
        with pytest.raises(errors.ServerError):
            client.post("tools/find", json={})
        assert calls == ["POST"]
        client.post("tools/find", json={}, retry=True)
    assert calls == ["POST", "POST", "POST"]


def test_retries_stop_after_the_budget() -> None:
    calls, handler = counting([503])
    with make(handler, retries=FAST) as client:
        with pytest.raises(errors.ServerError):
            client.get("system")
    assert len(calls) == 4


def test_connection_failures_are_retried_even_for_post_then_raised() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("Connection refused", request=request)

    with make(handler, retries=FAST) as client:
        with pytest.raises(errors.OrthancConnectionError) as caught:
            client.post("instances", data=b"x")
    assert len(calls) == 4
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "is Orthanc running" in str(caught.value)


def test_read_timeout_is_typed_and_not_retried_for_post() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ReadTimeout("timed out", request=request)

    with make(handler, retries=FAST) as client:
        with pytest.raises(errors.OrthancTimeoutError, match="timed out"):
            client.post("studies/x/anonymize", json={})
    assert calls == ["POST"]


def test_streamed_bodies_are_never_resent() -> None:
    calls, handler = counting([503, 200])
    with make(handler, retries=FAST) as client:
        with pytest.raises(errors.ServerError):
            client.put("x", data=iter([b"a", b"b"]))
    assert calls == ["PUT"]


def test_stream_checks_the_status_before_yielding() -> None:
    body = json.dumps(ORTHANC_404).encode()
    with make(lambda request: httpx.Response(404, content=body)) as client:
        with pytest.raises(errors.NotFoundError), client.stream("GET", "studies/x/archive"):
            pytest.fail("an error answer must not be yielded")


def test_stream_yields_chunks() -> None:
    with make(lambda request: httpx.Response(200, content=b"x" * 10000)) as client:
        with client.stream("GET", "studies/x/archive") as response:
            data = b"".join(response.iter_bytes())
    assert len(data) == 10000


def test_system_statistics_and_capabilities_are_typed() -> None:
    answers = {
        "/system": json_answer(
            {
                "Name": "N",
                "Version": "1.12.7",
                "ApiVersion": 27,
                "DicomAet": "ORTHANC",
                "DicomPort": 4242,
                "HttpPort": 8042,
                "HasLabels": True,
                "Capabilities": {"HasExtendedFind": False},
            }
        ),
        "/statistics": json_answer(
            {
                "CountPatients": 1,
                "CountStudies": 2,
                "CountSeries": 3,
                "CountInstances": 4,
                "TotalDiskSize": "1132700",
                "TotalUncompressedSize": "1132800",
                "TotalDiskSizeMB": 1,
                "TotalUncompressedSizeMB": 1,
            }
        ),
        "/plugins": json_answer(["python", "dicom-web"]),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.get(request.url.path) or httpx.Response(404)

    with make(handler) as client:
        stats = client.statistics()
        caps = client.capabilities()
    assert stats.total_disk_size == 1132700
    assert stats.count_instances == 4
    assert caps.version == (1, 12, 7)
    assert caps.supports("labels") and not caps.supports("extended_find")
    assert caps.supports("dicom_get") and caps.has_plugin("python")


def test_capabilities_refuse_what_an_old_server_lacks() -> None:
    info = kkorthanc.SystemInfo.from_json({"Version": "1.10.1", "ApiVersion": 16})
    caps = kkorthanc.Capabilities(info, ())
    with pytest.raises(errors.UnsupportedFeatureError, match=r"1\.10\.1"):
        caps.require("labels", "a label filter")
    with pytest.raises(errors.OrthancInputError):
        caps.supports("teleportation")


def test_malformed_system_answer_is_reported() -> None:
    with make(lambda request: json_answer({"Name": "x"})) as client:
        with pytest.raises(errors.UnexpectedContentError, match="Version"):
            client.system()


def test_async_client_behaves_the_same() -> None:
    body = json.dumps(ORTHANC_404).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/system":
            return json_answer({"Version": "1.10.1", "ApiVersion": 16})
        return httpx.Response(404, content=body)

    async def scenario() -> tuple[str, int | None]:
        transport = httpx.MockTransport(handler)
        async with kkorthanc.AsyncOrthanc("http://h", transport=transport) as client:
            info = await client.system()
            try:
                await client.get(("studies", "x"))
            except errors.NotFoundError as error:
                return info.version, error.orthanc_status
        return "", None

    assert asyncio.run(scenario()) == ("1.10.1", 17)


def test_http_errors_survive_pickling() -> None:
    import pickle

    error = errors.NotFoundError(404, "GET", "http://h/x", "Unknown resource", orthanc_status=17)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.NotFoundError
    assert (copy.status_code, copy.orthanc_status, str(copy)) == (404, 17, str(error))


@pytest.mark.parametrize("proxy", ["proxy.example:3128", "ftp://proxy.example", "http://", 3128])
def test_unusable_proxies_are_refused_before_any_request(proxy: Any) -> None:
    with pytest.raises(errors.OrthancInputError, match="proxy"):
        kkorthanc.Orthanc("http://localhost:8042", proxy=proxy)


def test_trust_env_must_be_a_bool() -> None:
    with pytest.raises(errors.OrthancInputError, match="trust_env"):
        kkorthanc.Orthanc("http://localhost:8042", trust_env="yes")  # type: ignore[arg-type]


def test_the_proxy_password_stays_out_of_repr() -> None:
    with kkorthanc.Orthanc("http://localhost:8042", proxy="http://u:s3cret@proxy:3128") as client:
        assert "s3cret" not in repr(client)
