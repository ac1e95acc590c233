"""The transfer fast lane (``_transfer/lane/connections.py``) against small local HTTP endpoints.

Real sockets, no Orthanc: what Orthanc itself answers through the lane is checked by the
integration tests, which upload and export through it on both server versions.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest

import kkorthanc
from kkorthanc._transfer.lane import connections as _lane
from kkorthanc._transfer.lane.connections import FastLane
from kkorthanc.errors import (
    BadRequestError,
    NotFoundError,
    OrthancConnectionError,
    OrthancTimeoutError,
    UnexpectedContentError,
)

_ORTHANC_ERROR = json.dumps(
    {
        "HttpError": "Bad Request",
        "Message": "Bad file format",
        "OrthancStatus": 15,
        "OrthancError": "Bad file format",
    }
).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Orthanc does
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "slow":  # answers after the client gave up
            time.sleep(0.6)
            self._answer(200, b'{"ID": "late", "Status": "Success"}')
        elif mode == "error":
            self._answer(400, _ORTHANC_ERROR)
        elif mode == "garbage":
            self._answer(200, b"{not json")
        else:
            self._answer(200, json.dumps({"ID": "abc", "Status": "Success"}).encode())
        if mode == "close":  # drop the connection without saying so, as an idle timeout does
            self.close_connection = True

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, "headers": dict(self.headers), "body": b""})
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "error":
            self._answer(404, b'{"Message": "Unknown resource"}')
            return
        content = bytes(range(256)) * 4000  # about 1 MB: several chunks
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if mode == "cut":  # half the body, then the connection drops
            self.wfile.write(content[: len(content) // 2])
            self.close_connection = True
            return
        self.wfile.write(content)

    def _answer(self, status: int, content: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def endpoint() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.mode = "ok"  # type: ignore[attr-defined]
    server.daemon_threads = True
    _Handler.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: Any) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/orthanc"


def test_lane_sends_the_clients_headers_to_the_clients_route(endpoint: Any) -> None:
    client = kkorthanc.Orthanc(_url(endpoint), auth=("alice", "s3cret"), headers={"X-Site": "a"})
    poster = FastLane.for_client(client)
    assert poster is not None
    assert poster.post(b"DICM body") == {"ID": "abc", "Status": "Success"}
    poster.close()
    sent = _Handler.seen[0]
    assert sent["path"] == "/orthanc/instances"
    assert sent["body"] == b"DICM body"
    headers = {key.lower(): value for key, value in sent["headers"].items()}
    assert headers["authorization"] == httpx.BasicAuth("alice", "s3cret")._auth_header
    assert headers["content-type"] == "application/dicom"
    assert headers["x-site"] == "a"
    assert headers["user-agent"].startswith("KkOrthanc")


def test_lane_keeps_a_token(endpoint: Any) -> None:
    poster = FastLane.for_client(kkorthanc.Orthanc(_url(endpoint), token="t0k"))
    assert poster is not None
    poster.post(b"x")
    poster.close()
    assert _Handler.seen[0]["headers"]["Authorization"] == "Bearer t0k"


def test_lane_is_not_used_where_httpx_must_be() -> None:
    def hook(request: httpx.Request) -> None:
        return None

    class Custom(httpx.Auth):
        pass

    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    assert FastLane.for_client(kkorthanc.Orthanc("https://o:8042")) is None
    assert FastLane.for_client(kkorthanc.Orthanc("http://o", transport=transport)) is None
    hooked = kkorthanc.Orthanc("http://o", event_hooks={"request": [hook]})
    assert FastLane.for_client(hooked) is None
    assert FastLane.for_client(kkorthanc.Orthanc("http://o", auth=Custom())) is None
    assert FastLane.for_client(kkorthanc.AsyncOrthanc("http://o")) is not None


def test_lane_settings_say_what_the_client_would_send() -> None:
    """The clients hand the lane their settings through the seam, never their private state."""
    client = kkorthanc.Orthanc("http://o/orthanc", auth=("alice", "s3cret"), timeout=7)
    settings = client.lane_settings()
    assert settings is not None
    assert settings.base_url.join("instances") == "http://o/orthanc/instances"
    assert (
        dict(settings.headers)["Authorization"] == httpx.BasicAuth("alice", "s3cret")._auth_header
    )
    assert settings.timeout == kkorthanc.Timeout(7, 7, 7, 7)
    for kwargs in (
        {"proxy": "http://p:3128"},
        {"trust_env": True},
        {"headers": {"Accept-Encoding": "gzip"}},
    ):
        assert kkorthanc.Orthanc("http://o", **kwargs).lane_settings() is None
    client.close()
    assert client.lane_settings() is None  # a closed client sends nothing, not even by the lane


def test_error_answers_are_the_clients_errors(endpoint: Any) -> None:
    endpoint.mode = "error"
    poster = FastLane.for_client(kkorthanc.Orthanc(_url(endpoint)))
    assert poster is not None
    with pytest.raises(BadRequestError) as info:
        poster.post(b"x")
    assert info.value.status_code == 400
    assert info.value.message == "Bad file format"
    assert info.value.orthanc_status == 15
    endpoint.mode = "garbage"
    with pytest.raises(UnexpectedContentError):
        poster.post(b"x")
    poster.close()


def test_a_connection_the_server_dropped_is_replaced(
    endpoint: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint.mode = "close"
    poster = FastLane.for_client(kkorthanc.Orthanc(_url(endpoint)))
    assert poster is not None
    assert poster.post(b"1")["Status"] == "Success"
    assert poster.post(b"2")["Status"] == "Success"  # the check before reuse saw it closed
    # The server closing the connection just after the check: sent again on a new one.
    monkeypatch.setattr(_lane, "_usable", lambda sock: True)
    assert poster.post(b"3")["Status"] == "Success"
    poster.close()
    assert [sent["body"] for sent in _Handler.seen] == [b"1", b"2", b"3"]


def test_unreachable_and_silent_servers_give_transport_errors() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    poster = FastLane.for_client(kkorthanc.Orthanc(f"http://127.0.0.1:{port}"))
    assert poster is not None
    with pytest.raises(OrthancConnectionError) as refused:
        poster.post(b"x")
    # The upload engine takes an OSError cause for a local read error: it must not see one.
    assert not isinstance(refused.value.__cause__, OSError)
    assert not isinstance(refused.value.__context__, OSError)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = kkorthanc.Orthanc(url, timeout=kkorthanc.Timeout(read=0.3, write=0.3))
        poster = FastLane.for_client(client)
        assert poster is not None
        with pytest.raises(OrthancTimeoutError):
            poster.post(b"x")
        poster.close()


def test_fetch_pours_the_body_into_the_writer_it_opens(endpoint: Any) -> None:
    lane = FastLane.for_client(kkorthanc.Orthanc(_url(endpoint), token="t"))
    assert lane is not None
    received: list[bytes] = []
    lane.fetch(("instances", "a b", "file"), lambda: received.append)
    lane.fetch(("instances", "c", "file"), lambda: received.append)  # the same connection
    lane.close()
    assert b"".join(received) == (bytes(range(256)) * 4000) * 2
    assert len(received) > 2
    assert [seen["path"] for seen in _Handler.seen] == [
        "/orthanc/instances/a%20b/file",
        "/orthanc/instances/c/file",
    ]
    assert _Handler.seen[0]["headers"]["Authorization"] == "Bearer t"
    assert "Content-Type" not in _Handler.seen[0]["headers"]


def test_fetch_errors_open_nothing(endpoint: Any) -> None:
    lane = FastLane.for_client(kkorthanc.Orthanc(_url(endpoint)))
    assert lane is not None
    opened: list[bool] = []

    def opener() -> Any:
        opened.append(True)
        return lambda chunk: None

    endpoint.mode = "error"
    with pytest.raises(NotFoundError) as info:
        lane.fetch(("instances", "x", "file"), opener)
    assert info.value.message == "Unknown resource"
    assert opened == []
    endpoint.mode = "cut"
    with pytest.raises(OrthancConnectionError) as cut:
        lane.fetch(("instances", "x", "file"), opener)
    assert not isinstance(cut.value.__context__, OSError)
    assert opened == [True]  # the caller discards what was written
    endpoint.mode = "ok"
    received: list[bytes] = []
    lane.fetch(("instances", "y", "file"), lambda: received.append)  # a new connection
    assert len(b"".join(received)) == 1024000
    lane.close()


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            b"hello world",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", b"until the end"),
    ],
)
def test_wire_reads_every_framing(answer: bytes, body: bytes) -> None:
    with _canned(answer) as connection:
        reply = connection.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None)
        assert reply.status == 200
        assert reply.read() == body
        assert reply.read() == b""


def test_wire_refuses_garbage() -> None:
    import http.client

    with _canned(b"SSH-2.0-OpenSSH\r\n\r\n") as connection:
        with pytest.raises(http.client.BadStatusLine):
            connection.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None)


@contextlib.contextmanager
def _canned(answer: bytes) -> Iterator[Any]:
    """A WireConnection to a peer that reads one request and sends ``answer``."""
    from kkorthanc._transfer.lane.wire import WireConnection

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve() -> None:
            peer, _ = listener.accept()
            with peer:
                peer.recv(65536)
                peer.sendall(answer)

        thread = threading.Thread(target=serve)
        thread.start()
        connection = WireConnection("127.0.0.1", listener.getsockname()[1], 5, 5)
        try:
            yield connection
        finally:
            thread.join()
            connection.close()


def test_a_late_answer_is_never_taken_for_the_next_one(endpoint: Any) -> None:
    """After a timeout the connection is dropped: its late answer must not answer the next
    request."""
    client = kkorthanc.Orthanc(_url(endpoint), timeout=kkorthanc.Timeout(read=0.2, write=0.2))
    lane = FastLane.for_client(client)
    assert lane is not None
    endpoint.mode = "slow"
    with pytest.raises(OrthancTimeoutError):
        lane.post(b"1")
    endpoint.mode = "ok"  # sent at once: the old connection's answer is still to come
    assert lane.post(b"2") == {"ID": "abc", "Status": "Success"}
    lane.close()
