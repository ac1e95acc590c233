"""The upload fast lane: ``POST /instances`` of in-memory bodies over plain keep-alive
connections, one per worker thread, without httpx.

On a machine where the client and Orthanc share the CPUs, the client's CPU per request is taken
from the server. httpx spends about 0.9 ms of CPU per request (1.2 ms with asyncio); Python's
``http.client`` about 0.3 ms. Uploads of small files are made of nothing but such requests, so
this lane uploads them markedly faster (see ``benchmarks/upload.py``).

It is used only where it behaves exactly as the client would: plain HTTP, no custom transport,
no event hooks, and no authentication other than a token or a username and password. Answers
go through the client's own decoding (:mod:`kkorthanc._protocol`), so statuses, messages and
errors are the same; transport failures become the same typed errors. Large files and
everything else go through httpx.
"""

from __future__ import annotations

import http.client
import json
import logging
import select
import socket
import threading
from typing import Any

import httpx

from .._protocol import decode_body, error_from_response, transport_error
from ..errors import OrthancTransportError

__all__ = ["InstancePoster"]

logger = logging.getLogger("kkorthanc")

_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


class InstancePoster:
    """Sends DICOM bodies to ``POST /instances`` with one keep-alive connection per thread.

    Build it with :meth:`for_client`, which answers None when the client's settings need httpx.
    Thread-safe; :meth:`close` closes every connection it opened.
    """

    def __init__(self, request: httpx.Request, auth_header: str | None, timeout: Any) -> None:
        self._request = request
        url = request.url
        self._host, self._port = url.host, url.port or 80
        self._target = url.raw_path.decode("ascii")
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in request.headers.raw
            if name.lower() != b"content-length"
        }
        if auth_header is not None:
            headers["Authorization"] = auth_header
        self._headers = headers
        self._connect_timeout = timeout.connect
        self._io_timeout = _longest(timeout.read, timeout.write)
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    @classmethod
    def for_client(cls, client: Any) -> InstancePoster | None:
        """The fast lane for ``client`` (sync or async), or None when it must use httpx."""
        config = client._config
        if config.base_url.scheme != "http" or client._transport_given:
            return None
        if any(client._event_hooks.values()) or config.auth_kind not in ("", "token", "basic"):
            return None
        request = client._build_request(
            "POST", "instances", headers={"Content-Type": "application/dicom"}
        )
        auth_header = None
        if config.auth_kind == "basic":
            auth_header = next(config.auth.sync_auth_flow(request)).headers["Authorization"]
        return cls(request, auth_header, config.timeout)

    def post(self, body: bytes) -> Any:
        """Send one body; return the decoded answer (``{"ID": ..., "Status": ...}``).

        Raises:
            OrthancHTTPError: An error status, as the client raises it.
            OrthancTransportError: The server could not be reached, or did not answer in time.
        """
        failure: httpx.TransportError | None = None
        try:
            status, headers, content = self._exchange(body)
        except (OSError, http.client.HTTPException) as error:
            failure = _as_httpx(error, self._request)
        if failure is not None:  # raised here, so the socket error is not taken as the context
            raise _mapped(failure, self._request)
        logger.debug("POST %s -> %d", self._request.url, status)
        if status == 200 and content[:1] == b"{" and _is_json(headers):
            try:  # Orthanc's usual answer, decoded without the detour through httpx
                return json.loads(content)
            except ValueError:
                pass  # decode_body raises the client's error for it
        response = httpx.Response(status, headers=headers, content=content, request=self._request)
        if response.is_success:
            return decode_body(response)
        raise error_from_response(response)

    def close(self) -> None:
        """Close every connection opened (connections in use fail their request)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _exchange(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection, fresh = self._connection()
        try:
            return _round_trip(connection, self._target, body, self._headers)
        except _STALE:
            connection.close()
            if fresh:
                raise
        # A kept-alive connection the server had closed: once more on a new one.
        connection, _ = self._connection()
        try:
            return _round_trip(connection, self._target, body, self._headers)
        except BaseException:
            connection.close()
            raise

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and connection.sock is not None and _usable(connection.sock):
            return connection, False
        if connection is not None:
            connection.close()
        connection = http.client.HTTPConnection(
            self._host, self._port, timeout=self._connect_timeout
        )
        try:
            connection.connect()
        except TimeoutError as error:
            raise _ConnectTimeoutError(str(error) or "timed out") from None
        assert connection.sock is not None
        connection.sock.settimeout(self._io_timeout)
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._local.connection = connection
        with self._lock:
            self._opened.append(connection)
        return connection, True


def _round_trip(
    connection: http.client.HTTPConnection, target: str, body: bytes, headers: dict[str, str]
) -> tuple[int, list[tuple[str, str]], bytes]:
    connection.request("POST", target, body=body, headers=headers)
    answer = connection.getresponse()
    content = answer.read()
    if answer.will_close:
        connection.close()
    return answer.status, answer.getheaders(), content


def _is_json(headers: list[tuple[str, str]]) -> bool:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower() == "application/json"
    return False


class _ConnectTimeoutError(OSError):
    """The connection could not be established in time."""


def _usable(sock: socket.socket) -> bool:
    """An idle keep-alive socket is usable when nothing can be read from it: a readable one
    was closed by the server (or holds stray bytes)."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _longest(*values: float | None) -> float | None:
    known = [value for value in values if value is not None]
    return None if len(known) < len(values) else max(known)


def _as_httpx(error: Exception, request: httpx.Request) -> httpx.TransportError:
    """The httpx error this failure would have been, so the client's mapping applies."""
    text = str(error) or type(error).__name__
    if isinstance(error, _ConnectTimeoutError):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(error, TimeoutError):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(error, (ConnectionRefusedError, socket.gaierror)):
        return httpx.ConnectError(text, request=request)
    if isinstance(error, http.client.HTTPException):
        return httpx.RemoteProtocolError(text, request=request)
    return httpx.NetworkError(text, request=request)


def _mapped(failure: httpx.TransportError, request: httpx.Request) -> OrthancTransportError:
    error = transport_error(failure, request.method, str(request.url))
    error.__cause__ = failure
    return error
