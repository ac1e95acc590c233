"""`kkorthanc server start --tls-cert/--tls-key`: HTTPS through a relay, Orthanc on loopback only.

Issue 11 (Defaults): `--remote` sent credentials and patient data in clear text and the launcher
could not start Orthanc with TLS (Orthanc's own ``SslEnabled`` crashes the Debian builds at the
first HTTPS request). Now a TLS start keeps Orthanc on an internal port that refuses other hosts
and serves HTTPS on the public port through a relay. Another machine is played by 127.0.0.2.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from _certs import self_signed

from kkorthanc.cli import main
from kkorthanc.server import is_alive, read_config
from kkorthanc.server._launcher import free_ports
from kkorthanc.testing import sample_files

STRANGER_HOST = "127.0.0.2"
needs_openssl = pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl CLI")
pytestmark = needs_openssl


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    names = f"IP:127.0.0.1,IP:{STRANGER_HOST},DNS:localhost"
    return self_signed(folder, name, common_name="localhost", alt_names=names)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate for 127.0.0.1 and 127.0.0.2, its key, and another key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = _self_signed(folder, "server")
    _, other_key = _self_signed(folder, "other")
    return {"cert": cert, "key": key, "other_key": other_key}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def start_tls(
    capsys: pytest.CaptureFixture[str],
    data: Path,
    where: list[str],
    certs: dict[str, Path],
    *more: str,
    key: str = "key",
) -> tuple[int, int, str, str]:
    """``server start --tls-cert --tls-key`` on free ports: (status, public port, out, err)."""
    http_port, dicom_port = free_ports(2)
    argv = ["server", "start", "--data", str(data), *where, "--http-port", str(http_port)]
    argv += ["--dicom-port", str(dicom_port), "--tls-cert", str(certs["cert"])]
    status, out, err = run(capsys, *argv, "--tls-key", str(certs[key]), *more)
    return status, http_port, out, err


def test_tls_start_serves_https_and_keeps_orthanc_on_the_loopback(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], certs: dict[str, Path]
) -> None:
    status, port, out, err = start_tls(capsys, data_dir, where, certs, "--user", "alice:s3cret")
    assert status == 0, err
    assert f"export ORTHANC_URL=https://127.0.0.1:{port}\n" in out
    assert f"--ca {certs['cert']}" in err  # self-signed: how to trust it
    assert "clear text" not in err
    url = f"https://127.0.0.1:{port}"
    with httpx.Client(verify=_trust(certs["cert"]), auth=("alice", "s3cret")) as client:
        stored = client.post(f"{url}/instances", content=sample_files()[0].read_bytes())
        assert stored.status_code == 200, stored.text
        assert client.get(f"{url}/patients").json() == [stored.json()["ParentPatient"]]
        assert client.get(f"{url}/system").status_code == 200
    with pytest.raises(httpx.TransportError):  # no clear text on the public port
        httpx.get(f"http://127.0.0.1:{port}/system", auth=("alice", "s3cret"))
    with pytest.raises(httpx.ConnectError):  # the relay listens on the loopback only
        _from_stranger(f"https://{STRANGER_HOST}:{port}/system", certs["cert"])
    config = read_config(data_dir)
    internal = config["HttpPort"]
    assert internal != port
    assert config["RemoteAccessAllowed"] is False
    assert config["SslEnabled"] is False
    loopback = httpx.get(f"http://127.0.0.1:{internal}/system", auth=("alice", "s3cret"))
    assert loopback.status_code == 200  # bound; the same credentials from another host:
    stranger = _from_stranger(f"http://{STRANGER_HOST}:{internal}/system", None)
    assert stranger.status_code == 401  # Orthanc's RemoteAccessAllowed false refuses them
    for name in ("tls-cert.pem", "tls-key.pem"):
        info = (data_dir / name).stat()
        assert (info.st_mode & 0o777, info.st_uid) == (0o600, data_dir.stat().st_uid)


def _trust(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _from_stranger(url: str, cert: Path | None) -> httpx.Response:
    """A GET as another machine would make it (source address 127.0.0.2)."""
    verify = _trust(cert) if cert else True
    transport = httpx.HTTPTransport(local_address=STRANGER_HOST, verify=verify)
    with httpx.Client(transport=transport, auth=("alice", "s3cret")) as client:
        return client.get(url)


def test_status_client_and_stop_go_through_the_relay(
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    where: list[str],
    certs: dict[str, Path],
    tmp_path: Path,
) -> None:
    status, port, _, err = start_tls(capsys, data_dir, where, certs, "--user", "alice:s3cret")
    assert status == 0, err
    code, out, _ = run(capsys, "server", "status", "--data", str(data_dir), "-o", "json")
    record: dict[str, Any] = json.loads(out)
    assert code == 0
    assert record["url"] == f"https://127.0.0.1:{port}"
    assert record["ca_file"] == str(certs["cert"])
    orthanc_pid, relay_pid = record["pid"], record["relay_pid"]
    assert is_alive(orthanc_pid) and is_alive(relay_pid)
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    client = ["--url", record["url"], "--user", "alice", "--password-file", str(password)]
    code, out, err = run(capsys, *client, "--ca", str(certs["cert"]), "ls", "patients")
    assert code == 0, err
    assert "PATIENTID" in out
    code, _, err = run(capsys, *client, "ls", "patients")
    assert code != 0  # an untrusted self-signed certificate is refused, with the way out
    assert "--ca FILE" in err
    code, _, err = run(capsys, "server", "stop", "--data", str(data_dir))
    assert code == 0, err
    assert not is_alive(orthanc_pid)
    assert not is_alive(relay_pid)
    code, out, _ = run(capsys, "server", "status", "--data", str(data_dir), "-o", "json")
    assert code == 3
    assert json.loads(out)["relay_pid"] is None
    code, out, err = run(capsys, "server", "start", "--data", str(data_dir), *where)
    assert code == 0, err  # a restart keeps TLS, its public port and the certificate's copies
    assert f"export ORTHANC_URL=https://127.0.0.1:{port}\n" in out


def test_remote_tls_serves_other_hosts_over_https_only(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], certs: dict[str, Path]
) -> None:
    status, port, _, err = start_tls(
        capsys, data_dir, where, certs, "--remote", "--user", "alice:s3cret"
    )
    assert status == 0, err
    assert "clear text" not in err  # the warning is for --remote without TLS
    answer = _from_stranger(f"https://{STRANGER_HOST}:{port}/system", certs["cert"])
    assert answer.status_code == 200
    with pytest.raises(httpx.TransportError):
        _from_stranger(f"http://{STRANGER_HOST}:{port}/system", None)
    internal = read_config(data_dir)["HttpPort"]
    assert _from_stranger(f"http://{STRANGER_HOST}:{internal}/system", None).status_code == 401
    anonymous = httpx.get(f"https://127.0.0.1:{port}/system", verify=_trust(certs["cert"]))
    assert anonymous.status_code == 401


def test_a_key_of_another_certificate_fails_the_start_clearly(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], certs: dict[str, Path]
) -> None:
    status, _, _, err = start_tls(capsys, data_dir, where, certs, key="other_key")
    assert status == 2
    assert "is not the private key of --tls-cert" in err
    assert not (data_dir / "orthanc.pid").exists()
    assert not (data_dir / "tls-relay.pid").exists()


def test_a_taken_public_port_fails_the_start_and_stops_orthanc(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], certs: dict[str, Path]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        status, _, _, err = start_tls(capsys, data_dir, where, certs, "--http-port", str(port))
    assert status == 7
    assert "the TLS relay exited during start-up (the port is taken" in err
    assert not (data_dir / "orthanc.pid").exists()
    assert not (data_dir / "tls-relay.pid").exists()
    code, _, _ = run(capsys, "server", "status", "--data", str(data_dir))
    assert code == 3


@pytest.mark.parametrize(
    ("more", "message"),
    [
        (["--no-auth"], "--remote opens the server to other machines"),
        (
            ["--user", "alice:s3cret", "--set", "AuthenticationEnabled=false"],
            "needs authentication",
        ),
    ],
)
def test_remote_tls_without_authentication_is_refused(
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    where: list[str],
    certs: dict[str, Path],
    more: list[str],
    message: str,
) -> None:
    """Through the relay every client comes from 127.0.0.1: Orthanc's remote check is moot."""
    status, _, _, err = start_tls(capsys, data_dir, where, certs, "--remote", *more)
    assert status == 2
    assert message in err
    assert not (data_dir / "orthanc.pid").exists()


def test_remote_without_tls_still_warns_about_clear_text(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str]
) -> None:
    http_port, dicom_port = free_ports(2)
    argv = ["server", "start", "--data", str(data_dir), *where, "--http-port", str(http_port)]
    argv += ["--dicom-port", str(dicom_port), "--remote", "--user", "alice:s3cret"]
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert "clear text" in err
    assert "--tls-cert" in err
    assert f"export ORTHANC_URL=http://127.0.0.1:{http_port}\n" in out
