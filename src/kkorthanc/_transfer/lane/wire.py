"""A minimal HTTP/1.1 client connection for the transfer fast lane (:mod:`._lane`).

Only what the lane needs: one request at a time on a kept-alive connection, a request head built
once per lane, and answers framed by ``Content-Length``, chunked encoding, or the end of the
connection. ``http.client`` parses every answer's head with the ``email`` package, which is a
large part of a small file's CPU; this reads it with a few byte operations. Failures raise what
``http.client`` raises (``OSError``, ``http.client.HTTPException`` subclasses), so the lane maps
them the same way.
"""

from __future__ import annotations

import http.client
import socket

__all__ = ["ConnectTimeoutError", "WireAnswer", "WireConnection"]

_MAX_LINE = 65536
_MAX_HEADERS = 100


class ConnectTimeoutError(OSError):
    """The connection could not be established in time."""


class WireConnection:
    """One kept-alive TCP connection to the server."""

    def __init__(
        self, host: str, port: int, connect_timeout: float | None, io_timeout: float | None
    ) -> None:
        try:
            self.sock: socket.socket | None = socket.create_connection(
                (host, port), timeout=connect_timeout
            )
        except TimeoutError as error:
            raise ConnectTimeoutError(str(error) or "timed out") from None
        self.sock.settimeout(io_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = self.sock.makefile("rb", buffering=256 * 1024)

    def request(self, head: bytes, body: bytes | None) -> WireAnswer:
        """Send a request (its head already ends with the blank line) and read the answer's
        head; the caller reads the body from the answer before the next request."""
        if self.sock is None:
            raise http.client.NotConnected("the connection was closed")
        if body is None:
            self.sock.sendall(head)
        elif len(body) <= 64 * 1024:
            self.sock.sendall(head + body)  # one segment for small files
        else:
            self.sock.sendall(head)
            self.sock.sendall(body)
        return WireAnswer(self)

    def close(self) -> None:
        """Close the connection (an answer being read fails)."""
        sock, self.sock = self.sock, None
        self._reader.close()
        if sock is not None:
            sock.close()

    def readline(self) -> bytes:
        """One line of the answer's head (with its line end), at most 64 KiB."""
        line = self._reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        return line

    def read(self, amount: int) -> bytes:
        """Up to ``amount`` bytes of the body (fewer only at the end of the connection)."""
        data: bytes = self._reader.read(amount)
        return data


class WireAnswer:
    """An answer: ``status``, ``headers``, and a body read with :meth:`read`."""

    def __init__(self, connection: WireConnection) -> None:
        self._connection = connection
        while True:  # informational answers (1xx) come before the real one
            version, self.status = _status_line(connection.readline())
            self.headers = _header_lines(connection)
            if not 100 <= self.status < 200:
                break
        fields = {name.lower(): value for name, value in self.headers}
        keep = fields.get("connection", "").lower()
        self.will_close = "close" in keep or (version == "HTTP/1.0" and "keep-alive" not in keep)
        self._chunked = "chunked" in fields.get("transfer-encoding", "").lower()
        self._chunk_left = 0
        self.length: int | None = None
        if self.status in (204, 304):
            self.length = 0
        elif not self._chunked and "content-length" in fields:
            self.length = _length(fields["content-length"])
        elif not self._chunked:
            self.will_close = True  # the body ends with the connection
        self._done = self.length == 0
        self._finish_if_done()

    def getheaders(self) -> list[tuple[str, str]]:
        """The header fields, in order."""
        return self.headers

    def read(self, amount: int | None = None) -> bytes:
        """Up to ``amount`` bytes of the body (all of it when None); b"" at its end.

        Raises:
            http.client.IncompleteRead: The connection ended before the body did.
        """
        if self._done:
            return b""
        if amount is None:
            return b"".join(iter(lambda: self.read(256 * 1024), b""))
        if self._chunked:
            data = self._read_chunked(amount)
        elif self.length is not None:
            data = self._connection.read(min(amount, self.length))
            if not data:
                raise http.client.IncompleteRead(b"", self.length)
            self.length -= len(data)
            self._done = self.length == 0
        else:
            data = self._connection.read(amount)
            self._done = not data
        self._finish_if_done()
        return data

    def _read_chunked(self, amount: int) -> bytes:
        if self._chunk_left == 0:
            line = self._connection.readline()
            if not line:
                raise http.client.IncompleteRead(b"")
            self._chunk_left = _length(line.split(b";")[0].decode("latin-1"), base=16)
            if self._chunk_left == 0:
                _header_lines(self._connection)  # trailers, up to the blank line
                self._done = True
                return b""
        data = self._connection.read(min(amount, self._chunk_left))
        if not data:
            raise http.client.IncompleteRead(b"", self._chunk_left)
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and self._connection.readline() not in (b"\r\n", b"\n"):
            raise http.client.IncompleteRead(b"")
        return data

    def _finish_if_done(self) -> None:
        if self._done and self.will_close:
            self._connection.close()


def _status_line(line: bytes) -> tuple[str, int]:
    if not line:
        raise http.client.RemoteDisconnected("the server closed the connection without answering")
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise http.client.BadStatusLine(line.decode("latin-1", "replace").strip())
    return parts[0], int(parts[1])


def _header_lines(connection: WireConnection) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        line = connection.readline()
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise http.client.IncompleteRead(b"")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or len(headers) >= _MAX_HEADERS:
            raise http.client.HTTPException(f"bad header line {line[:100]!r}")
        headers.append((name.strip(), value.strip()))


def _length(text: str, base: int = 10) -> int:
    try:
        value = int(text.strip(), base)
    except ValueError:
        raise http.client.HTTPException(f"bad length {text[:40]!r}") from None
    if value < 0:
        raise http.client.HTTPException(f"bad length {text[:40]!r}")
    return value
