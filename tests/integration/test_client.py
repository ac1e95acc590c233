"""The core client against real Orthanc servers, sync and async, on every selected version."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _certs import self_signed

from kkorthanc import errors
from kkorthanc.server._launcher import free_ports
from kkorthanc.testing import OrthancServer, sample_files

CT_SMALL = next(path for path in sample_files() if path.name == "CT_small.dcm")


def upload(client: Any, path: Path = CT_SMALL) -> dict[str, Any]:
    answer = client.post("instances", data=path.read_bytes())
    assert isinstance(answer, dict)
    return answer


def test_system_statistics_and_capabilities(client: Any, orthanc: OrthancServer) -> None:
    info = client.system()
    assert info.version == orthanc.version
    assert info.api_version == orthanc.api_version
    assert info.dicom_aet == orthanc.aet
    upload(client)
    stats = client.statistics()
    assert (stats.count_patients, stats.count_instances) == (1, 1)
    assert stats.total_disk_size == CT_SMALL.stat().st_size
    caps = client.capabilities()
    assert caps.version == info.version_tuple
    assert caps.supports("labels") is (caps.version >= (1, 12, 0))
    assert caps.supports("numpy")


def test_the_four_verbs_and_bytes(client: Any) -> None:
    stored = upload(client)
    assert stored["Status"] == "Success"
    assert upload(client)["Status"] == "AlreadyStored"
    instance = stored["ID"]
    assert client.get("instances") == [instance]
    assert client.get(("instances", instance, "metadata", "Origin")) == "RestApi"
    client.put(("instances", instance, "metadata", "1024"), data="reviewed")
    assert client.get(("instances", instance, "metadata", "1024")) == "reviewed"
    client.delete(("instances", instance, "metadata", "1024"))
    assert client.get_bytes(("instances", instance, "file")) == CT_SMALL.read_bytes()
    found = client.post("tools/find", json={"Level": "Instance", "Query": {}})
    assert found == [instance]
    client.delete(("instances", instance))
    assert client.get("instances") == []


def test_stream_reads_a_body_in_chunks(client: Any) -> None:
    instance = upload(client)["ID"]
    with client.stream("GET", ("instances", instance, "file")) as response:
        data = b"".join(response.iter_bytes())
    assert data == CT_SMALL.read_bytes()


def test_stream_raises_before_yielding_an_error_page(client: Any) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        with client.stream("GET", ("studies", "0000", "archive")):
            pytest.fail("an error answer must not be yielded")
    assert caught.value.status_code == 404


def test_unknown_resource_with_an_empty_error_body(client: Any) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        client.get(("studies", "ffffffff-ffffffff-ffffffff-ffffffff-ffffffff"))
    assert caught.value.status_code == 404
    assert caught.value.method == "GET"
    assert caught.value.url.endswith("/studies/ffffffff-ffffffff-ffffffff-ffffffff-ffffffff")


def test_unknown_route_keeps_orthancs_json_error(client: Any) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        client.get("no/such/route")
    assert caught.value.orthanc_status == 17
    assert caught.value.message == "Unknown resource"


def test_bad_file_keeps_orthancs_status_and_details(client: Any) -> None:
    with pytest.raises(errors.BadRequestError) as caught:
        client.post("instances", data=b"this is not DICOM")
    assert caught.value.orthanc_status == 15
    assert caught.value.orthanc_error == "Bad file format"


def test_405_lists_the_allowed_methods(client: Any) -> None:
    with pytest.raises(errors.MethodNotAllowedError) as caught:
        client.put("system", json={})
    assert caught.value.allow == ("GET",)


def test_system_metadata_is_forbidden(client: Any) -> None:
    instance = upload(client)["ID"]
    with pytest.raises(errors.ForbiddenError) as caught:
        client.put(("instances", instance, "metadata", "Origin"), data="x")
    assert caught.value.status_code == 403


def test_wrong_credentials(orthanc: OrthancServer, make_client: Any) -> None:
    bad = make_client(orthanc.url, auth=(orthanc.username or "user", "wrong-password"))
    with pytest.raises(errors.UnauthorizedError) as caught:
        bad.system()
    assert "credentials are missing or wrong" in str(caught.value)
    assert "wrong-password" not in str(caught.value)
    with pytest.raises(errors.UnauthorizedError):
        make_client(orthanc.url).get("patients")


def test_unreachable_server(make_client: Any) -> None:
    (port,) = free_ports(1)
    unreachable = make_client(f"http://127.0.0.1:{port}", retries=1)
    with pytest.raises(errors.OrthancConnectionError) as caught:
        unreachable.system()
    assert caught.value.url == f"http://127.0.0.1:{port}/system"
    assert caught.value.__cause__ is not None


def test_url_without_scheme_is_refused_before_any_request(make_client: Any) -> None:
    with pytest.raises(errors.InvalidURLError, match="http://"):
        make_client("localhost:8042")


PLUGIN_SCRIPT = """
import time
import orthanc

def broken(output, uri, **request):
    raise RuntimeError("plugin failure for the test")

def slow(output, uri, **request):
    time.sleep(3)
    output.AnswerBuffer(b"{}", "application/json")

orthanc.RegisterRestCallback('/kk-test/broken', broken)
orthanc.RegisterRestCallback('/kk-test/slow', slow)
"""


@pytest.fixture
def plugged(orthanc_factory: Any, tmp_path: Path) -> OrthancServer:
    """A server with a Python plugin whose routes fail or answer slowly."""
    script = tmp_path / "test_routes.py"
    script.write_text(PLUGIN_SCRIPT)
    server: OrthancServer = orthanc_factory(python_script=script)
    return server


def test_500_from_a_python_plugin(plugged: OrthancServer, make_client: Any) -> None:
    client = make_client(plugged.url, auth=plugged.auth)
    with pytest.raises(errors.ServerError) as caught:
        client.get("kk-test/broken")
    assert caught.value.status_code == 500
    assert "python" in client.capabilities().plugins


def test_read_timeout_is_typed_and_names_the_fix(plugged: OrthancServer, make_client: Any) -> None:
    client = make_client(plugged.url, auth=plugged.auth, retries=0)
    with pytest.raises(errors.OrthancTimeoutError, match="timeout=") as caught:
        client.get("kk-test/slow", timeout=(5, 0.5))
    assert caught.value.url.endswith("/kk-test/slow")
    assert client.get("kk-test/slow", timeout=10) == {}


class _SystemHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"Version": "1.12.7", "ApiVersion": 27}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTPS endpoint with a self-signed certificate, answering ``/system``.

    Orthanc itself cannot serve here: the Debian builds of 1.10.1 and 1.12.7 crash in a
    civetweb worker (segfault) at the first HTTPS connection.
    """
    cert, key = self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SystemHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_tls_failure_and_a_trusted_ca(tls_server: tuple[str, Path], make_client: Any) -> None:
    url, cert = tls_server
    with pytest.raises(errors.OrthancTLSError, match="verify=") as caught:
        make_client(url, retries=0).system()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert make_client(url, verify=str(cert)).system().version == "1.12.7"
    with pytest.warns(errors.InsecureTransportWarning, match="verification is off"):
        insecure = make_client(url, verify=False)
    assert insecure.system().api_version == 27
