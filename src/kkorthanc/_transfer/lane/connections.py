"""The transfer fast lane: ``POST /instances`` of in-memory bodies and ``GET`` of instance files
over plain keep-alive connections, one per worker thread, without httpx.

On a machine where the client and Orthanc share the CPUs, the client's CPU per request is taken
from the server. httpx spends about 0.9 ms of CPU per request (1.2 ms with asyncio); the lane,
with request heads built once and answers read by :mod:`._wire`, a small fraction of that. Bulk
uploads and exports are made of nothing but such requests, so the lane moves many small files
markedly faster (see ``benchmarks/``).

It is used only where it behaves exactly as the client would: plain HTTP, an open client, no
custom transport, no proxy (neither ``proxy=`` nor ``trust_env=True``), no event hooks, no
``Accept-Encoding`` header, and no authentication other than a token or a username and password.
Answers go through the client's own decoding (:mod:`kkorthanc._core.protocol`), so statuses,
messages and errors are the same; transport failures become the same typed errors. Files over
512 KiB are uploaded through httpx, which streams them from disk.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import select
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from ..._core.protocol import decode_body, error_from_response, transport_error
from ..._core.seam import AsyncSeam, LaneSettings, Seam
from ...errors import OrthancTransportError
from .wire import ConnectTimeoutError, WireAnswer, WireConnection

__all__ = ["FastLane", "ThreadedLane"]

logger = logging.getLogger("kkorthanc")

_CHUNK = 256 * 1024
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


class FastLane:
    """Sends uploads and file downloads with one keep-alive connection per thread.

    Build it with :meth:`for_client`, which answers None when the client's settings need httpx.
    Thread-safe; :meth:`close` closes every connection it opened.
    """

    def __init__(self, settings: LaneSettings) -> None:
        self._base_url = settings.base_url
        self._post = httpx.Request(
            "POST",
            settings.base_url.join("instances"),
            headers={**dict(settings.headers), "Content-Type": "application/dicom"},
        )
        url = self._post.url
        self._host, self._port = url.host, url.port or 80
        self._origin = len(f"{url.scheme}://{url.netloc.decode('ascii')}")
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in self._post.headers.raw
            if name.lower() != b"content-length"
        }
        self._post_head = b"POST %s HTTP/1.1\r\n%s" % (url.raw_path, _header_block(headers))
        self._get_block = _header_block(
            {k: v for k, v in headers.items() if k.lower() != "content-type"}
        )
        self._connect_timeout = settings.timeout.connect
        self._io_timeout = _longest(settings.timeout.read, settings.timeout.write)
        self._local = threading.local()
        self._opened: list[WireConnection] = []
        self._lock = threading.Lock()

    @classmethod
    def for_client(cls, client: Seam | AsyncSeam) -> FastLane | None:
        """The fast lane for ``client`` (sync or async), or None when it must use httpx."""
        settings = client.lane_settings()
        return None if settings is None else cls(settings)

    def post(self, body: bytes) -> Any:
        """Send one DICOM file to ``POST /instances``; return the decoded answer
        (``{"ID": ..., "Status": ...}``).

        Raises:
            OrthancHTTPError: An error status, as the client raises it.
            OrthancTransportError: The server could not be reached, or did not answer in time.
        """
        request = self._post
        failure: httpx.TransportError | None = None
        try:
            head = self._post_head + b"Content-Length: %d\r\n\r\n" % len(body)
            answer = self._start(head, body)
            status, headers, content = answer.status, answer.getheaders(), answer.read()
        except (OSError, http.client.HTTPException) as error:
            self._forget()  # a late answer on it would be taken for the next request's
            failure = _as_httpx(error, request)
        except BaseException:
            self._forget()
            raise
        if failure is not None:  # raised here, so the socket error is not taken as the context
            raise _mapped(failure, request)
        logger.debug("POST %s -> %d", request.url, status)
        if status == 200 and content[:1] == b"{" and _is_json(headers):
            try:  # Orthanc's usual answer, decoded without the detour through httpx
                return json.loads(content)
            except ValueError:
                pass  # decode_body raises the client's error for it
        return _decoded(status, headers, content, request)

    def fetch(self, route: tuple[str, ...], opened: Callable[[], Callable[[bytes], None]]) -> None:
        """``GET route`` and pass its body, in chunks, to the writer ``opened()`` returns, which
        is called only once the status is known to be a success.

        Raises:
            OrthancHTTPError: An error status, as the client raises it (nothing is opened).
            OrthancTransportError: No answer, or the answer broke off.
        """
        url = self._base_url.join(route)
        failure: httpx.TransportError | None = None
        try:
            head = b"GET %s HTTP/1.1\r\n%s\r\n" % (
                url[self._origin :].encode("ascii"),
                self._get_block,
            )
            answer = self._start(head, None)
            if 200 <= answer.status < 300:
                self._pour(answer, opened())
                logger.debug("GET %s -> %d", url, answer.status)
                return
            status, headers, content = answer.status, answer.getheaders(), answer.read()
        except (OSError, http.client.HTTPException) as error:
            self._forget()
            failure = _as_httpx(error, httpx.Request("GET", url))
        except BaseException:
            self._forget()
            raise
        if failure is not None:  # raised here, so the socket error is not taken as the context
            raise _mapped(failure, failure.request)
        _decoded(status, headers, content, httpx.Request("GET", url))  # an error: it raises

    def _pour(self, answer: WireAnswer, write: Callable[[bytes], None]) -> None:
        """Pass the body on; on any failure (the file, or the connection) forget the
        connection, whose answer was not read to the end."""
        try:
            while chunk := answer.read(_CHUNK):
                write(chunk)
        except BaseException:
            self._forget()
            raise

    def close(self) -> None:
        """Close every connection opened (connections in use fail their request)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _start(self, head: bytes, body: bytes | None) -> WireAnswer:
        """Send a request and read the answer's head, on this thread's connection: once more
        on a new connection when a kept-alive one turns out closed by the server."""
        connection, fresh = self._connection()
        try:
            return connection.request(head, body)
        except _STALE:
            connection.close()
            if fresh:
                raise
        connection, _ = self._connection()
        try:
            return connection.request(head, body)
        except BaseException:
            connection.close()
            raise

    def _forget(self) -> None:
        """Close this thread's connection (its state is unknown after a failure)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()

    def _connection(self) -> tuple[WireConnection, bool]:
        connection: WireConnection | None = getattr(self._local, "connection", None)
        if connection is not None and connection.sock is not None and _usable(connection.sock):
            return connection, False
        if connection is not None:
            connection.close()
        connection = WireConnection(self._host, self._port, self._connect_timeout, self._io_timeout)
        self._local.connection = connection
        with self._lock:
            self._opened.append(connection)
        return connection, True


class ThreadedLane:
    """The fast lane for asyncio: its blocking requests in a few threads of its own, which
    cost the client less CPU per request than httpx's asyncio stack. The event loop stays free.
    """

    def __init__(self, lane: FastLane, concurrency: int) -> None:
        self.lane = lane
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="kkorthanc-lane")

    @classmethod
    def for_client(cls, client: AsyncSeam, concurrency: int) -> ThreadedLane | None:
        """The lane for an ``AsyncOrthanc``, or None when it must use httpx."""
        lane = FastLane.for_client(client)
        return None if lane is None else cls(lane, concurrency)

    async def post(self, body: bytes) -> Any:
        """:meth:`FastLane.post`, awaited."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.lane.post, body)

    async def fetch(
        self, route: tuple[str, ...], opened: Callable[[], Callable[[bytes], None]]
    ) -> None:
        """:meth:`FastLane.fetch`, awaited (``opened`` and the writer run in the thread)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self.lane.fetch, route, opened)

    def close(self) -> None:
        """Stop the threads (a request under way ends on its own) and close the connections."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.lane.close()


def _header_block(headers: dict[str, str]) -> bytes:
    """Header lines, each ending with CRLF (the blank line is added per request)."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")


def _decoded(
    status: int, headers: list[tuple[str, str]], content: bytes, request: httpx.Request
) -> Any:
    """The answer as the client decodes it, or the client's error for an error status."""
    response = httpx.Response(status, headers=headers, content=content, request=request)
    if response.is_success:
        return decode_body(response)
    raise error_from_response(response)


def _is_json(headers: list[tuple[str, str]]) -> bool:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower() == "application/json"
    return False


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
    if isinstance(error, ConnectTimeoutError):
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
