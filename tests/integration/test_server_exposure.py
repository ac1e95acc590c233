"""What a server started by `kkorthanc server start` (or the test harness) exposes to others.

The attacks are real: a DICOM peer connecting from 127.0.0.2 plays another machine (dcmtk has no
source-address option, so its tools go through a small relay whose outgoing socket is bound to
127.0.0.2), and other local users are played by ``nobody`` through ``runuser``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kkorthanc.cli import main
from kkorthanc.server._launcher import free_ports
from kkorthanc.testing import sample_files

STRANGER_HOST = "127.0.0.2"
DCMTK = shutil.which("storescu") and shutil.which("echoscu")
needs_dcmtk = pytest.mark.skipif(not DCMTK, reason="dcmtk (storescu, echoscu) is not installed")


class SourceRelay:
    """Forwards TCP connections made to 127.0.0.1:``port`` to ``target``, from ``source``.

    Orthanc then sees the peer's address as ``source``: the same as a connection from another
    machine, as far as its access checks go.
    """

    def __init__(self, target: tuple[str, int], source: str = STRANGER_HOST) -> None:
        self.target, self.source = target, source
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                inbound, _ = self._listener.accept()
                outbound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._sockets += [inbound, outbound]  # closed by close(), whatever happens next
                try:
                    outbound.bind((self.source, 0))
                    outbound.connect(self.target)
                except OSError:  # the server is gone: drop this connection, keep accepting
                    inbound.close()
                    outbound.close()
                    continue
                for a, b in ((inbound, outbound), (outbound, inbound)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def relay_to() -> Iterator[Any]:
    relays: list[SourceRelay] = []

    def make(port: int) -> SourceRelay:
        relays.append(SourceRelay(("127.0.0.1", port)))
        return relays[-1]

    yield make
    for relay in relays:
        relay.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def start(capsys: pytest.CaptureFixture[str], data: Path, where: list[str], *argv: str) -> Any:
    """``server start`` on free ports; returns (url, dicom port, stderr)."""
    http_port, dicom_port = free_ports(2)
    ports = ["--http-port", str(http_port), "--dicom-port", str(dicom_port)]
    status, _, err = run(capsys, "server", "start", "--data", str(data), *where, *ports, *argv)
    assert status == 0, err
    return f"http://127.0.0.1:{http_port}", dicom_port, err


def dcmtk(tool: str, port: int, *, aet: str, called: str = "ORTHANC") -> bool:
    """Run echoscu (no file) or storescu (one CT file) against 127.0.0.1:port; True if it
    succeeded."""
    files = [str(sample_files()[0])] if tool == "storescu" else []
    done = subprocess.run(
        [tool, "-aet", aet, "-aec", called, "127.0.0.1", str(port), *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0


def patients(url: str, auth: tuple[str, str] | None) -> list[str]:
    answer = httpx.get(f"{url}/patients", auth=auth)
    answer.raise_for_status()
    return list(answer.json())


# --- the DICOM port ----------------------------------------------------------------------------


@needs_dcmtk
def test_dicom_port_admits_only_registered_modalities_from_their_host(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], relay_to: Any
) -> None:
    auth = ("alice", "s3cret")
    url, dicom_port, err = start(capsys, data_dir, where, "--user", "alice:s3cret")
    assert f"DICOM port {dicom_port} (AET ORTHANC) accepts only registered modalities" in err
    scanner = {"AET": "SCANNER", "Host": "127.0.0.1", "Port": 104}
    httpx.put(f"{url}/modalities/scanner", json=scanner, auth=auth).raise_for_status()
    stranger = relay_to(dicom_port).port  # connections that come from 127.0.0.2
    assert not dcmtk("echoscu", stranger, aet="STRANGER")
    assert not dcmtk("storescu", stranger, aet="STRANGER")
    assert not dcmtk("storescu", stranger, aet="SCANNER")  # a known AE title, from another host
    assert not dcmtk("storescu", dicom_port, aet="STRANGER")  # unknown AE title on loopback
    assert not dcmtk("storescu", dicom_port, aet="SCANNER", called="OTHER")  # not our AE title
    assert patients(url, auth) == []
    assert dcmtk("echoscu", dicom_port, aet="SCANNER")
    assert dcmtk("storescu", dicom_port, aet="SCANNER")
    assert len(patients(url, auth)) == 1


@needs_dcmtk
def test_dicom_accept_any_is_orthancs_open_default(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], relay_to: Any
) -> None:
    """What every server did before: a stranger on another host stores a new patient."""
    auth = ("alice", "s3cret")
    url, dicom_port, err = start(
        capsys, data_dir, where, "--user", "alice:s3cret", "--dicom-accept", "any"
    )
    assert "from ANY AE title on ANY host" in err
    assert dcmtk("storescu", relay_to(dicom_port).port, aet="STRANGER")
    assert len(patients(url, auth)) == 1
    config = json.loads(run(capsys, "server", "config", "--data", str(data_dir))[1])
    assert config["DicomAlwaysAllowStore"] is True


@needs_dcmtk
def test_dicom_policy_survives_a_restart_and_can_be_closed_again(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], relay_to: Any
) -> None:
    url, dicom_port, _ = start(
        capsys, data_dir, where, "--user", "alice:s3cret", "--dicom-accept", "any"
    )
    assert run(capsys, "server", "stop", "--data", str(data_dir))[0] == 0
    status, _, err = run(
        capsys, "server", "start", "--data", str(data_dir), *where, "--dicom-accept", "known"
    )
    assert status == 0, err
    assert not dcmtk("storescu", relay_to(dicom_port).port, aet="STRANGER")
    assert patients(url, ("alice", "s3cret")) == []
