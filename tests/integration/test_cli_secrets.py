"""Secrets never shown and never in argv; disabled TLS verification never silent.

Against real Orthanc servers: the TLS tests put a TLS relay (a self-signed certificate) in front
of the test server, because the Debian builds of Orthanc crash at their first HTTPS connection.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _certs import self_signed

import kkorthanc
from kkorthanc import errors
from kkorthanc.cli import main

INSECURE_LINE = "warning: TLS certificate verification is off"


class _TLSRelay:
    """Accepts TLS on a loopback port and relays the plain bytes to a backend port."""

    def __init__(self, backend: tuple[str, int], cert: Path, key: Path) -> None:
        self.backend = backend
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()  # a client that refused our certificate
            return
        backend = socket.create_connection(self.backend)
        threading.Thread(target=_pump, args=(backend, client), daemon=True).start()
        _pump(client, backend)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=30)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass  # the other direction closed the sockets
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def https_orthanc(orthanc: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The test server behind TLS: its https:// URL and the certificate to trust."""
    cert, key = self_signed(tmp_path)
    port = int(orthanc.url.rsplit(":", 1)[1])
    relay = _TLSRelay(("127.0.0.1", port), cert, key)
    try:
        yield f"https://127.0.0.1:{relay.port}", cert
    finally:
        relay.close()


@pytest.fixture
def cli_env(orthanc: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ORTHANC_* variables, an empty configuration file (returned)."""
    for name in (
        "ORTHANC_URL",
        "ORTHANC_USERNAME",
        "ORTHANC_PASSWORD",
        "ORTHANC_TOKEN",
        "ORTHANC_PASSWORD_FILE",
        "ORTHANC_TOKEN_FILE",
        "KKORTHANC_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("KKORTHANC_CONFIG", str(config))
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", _Stdin(stdin))
        status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


class _Stdin:
    """A stdin that is not a terminal."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)

    def readline(self) -> str:
        return self.lines.pop(0) if self.lines else ""

    def read(self) -> str:
        text, self.lines = "".join(self.lines), []
        return text

    def isatty(self) -> bool:
        return False


def _auth_argv(orthanc: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    if orthanc.username is None:
        return []
    monkeypatch.setenv("ORTHANC_PASSWORD", orthanc.password or "")
    return ["--user", orthanc.username]


def test_the_library_warns_when_verification_is_off(
    https_orthanc: tuple[str, Path], orthanc: Any
) -> None:
    url, cert = https_orthanc
    auth = (orthanc.username, orthanc.password) if orthanc.username else None
    with pytest.warns(errors.InsecureTransportWarning, match="verification is off") as caught:
        client = kkorthanc.Orthanc(url, auth=auth, verify=False)
    assert len(caught) == 1
    assert caught[0].filename == __file__  # points at the caller's line
    with client:
        assert client.system().version
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verified TLS, and plain HTTP, stay quiet
        with kkorthanc.Orthanc(url, auth=auth, verify=str(cert)) as verified:
            assert verified.system().version
        kkorthanc.Orthanc(orthanc.url, verify=False).close()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with pytest.warns(errors.InsecureTransportWarning):
        kkorthanc.AsyncOrthanc(url, verify=context)


@pytest.mark.parametrize("where", ["option", "profile"])
def test_the_cli_says_once_that_verification_is_off(
    where: str,
    https_orthanc: tuple[str, Path],
    orthanc: Any,
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, cert = https_orthanc
    auth = _auth_argv(orthanc, monkeypatch)
    if where == "option":
        argv = ["--url", url, *auth, "--insecure"]
    else:
        cli_env.parent.mkdir()
        cli_env.write_text(f'[profiles.tls]\nurl = "{url}"\ninsecure = true\n')
        argv = ["--profile", "tls", *auth]
    status, out, err = run(capsys, *argv, "-q", "-o", "json", "system")
    assert status == 0, err
    assert '"Version"' in out
    assert err.count(INSECURE_LINE) == 1
    assert "--ca FILE" in err
    status, _, err = run(capsys, "--url", url, *auth, "--ca", str(cert), "system")
    assert status == 0, err
    assert INSECURE_LINE not in err
