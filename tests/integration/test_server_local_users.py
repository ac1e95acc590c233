"""`kkorthanc server start` against another local user (played by ``nobody``, as issue 11 did).

Each test replays an attack that worked on KkOrthanc 0.2: the other account must now fail.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _server_dirs import server_folder

from kkorthanc.cli import main
from kkorthanc.server import LocalPostgres, server_status, stop_server
from kkorthanc.server._launcher import free_ports
from kkorthanc.testing import ServerSpec, sample_files

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="playing another local user needs root and runuser",
)
NOBODY = "nobody"


@pytest.fixture
def base(orthanc_spec: ServerSpec) -> Iterator[Path]:
    """A folder everyone may traverse (as /srv or a home folder is), for this spec's Orthanc."""
    with server_folder(orthanc_spec, "kk-users-", 0o755) as root:
        yield root


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", NOBODY, "--", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )


def start(data: Path, where: list[str], *more: str) -> int:
    http_port, dicom_port = free_ports(2)
    argv = ["server", "start", "--data", str(data), *where, "--http-port", str(http_port)]
    argv += ["--dicom-port", str(dicom_port), *more]
    return main([*argv, *([] if "--user" in more else ["--no-auth"])])


def http_status_as_nobody(url: str) -> int:
    """What a plain GET of ``url`` answers to another local user (no credentials)."""
    code = (
        "import sys, urllib.request, urllib.error\n"
        "try:\n    print(urllib.request.urlopen(sys.argv[1], timeout=30).status)\n"
        "except urllib.error.HTTPError as error:\n    print(error.code)\n"
    )
    done = as_nobody("/usr/bin/python3", "-c", code, url)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_local_postgres_admits_no_other_account(
    base: Path, where: list[str], orthanc_spec: ServerSpec
) -> None:
    binary = orthanc_spec.binary
    assert binary is not None
    if not (binary.plugins_dir() / "libOrthancPostgreSQLIndex.so").exists():
        pytest.skip("orthanc-postgresql is not installed for this Orthanc")
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    data = base / "data"
    assert start(data, where, "--postgres", "local") == 0
    socket = data / "postgres" / "run"
    attack = f"postgresql:///orthanc?host={socket}&port=5432&user=orthanc"
    stolen = as_nobody(psql, attack, "-c", "COPY (select 1) TO PROGRAM 'id'")
    assert stolen.returncode != 0, stolen.stdout
    assert "uid=" not in stolen.stdout
    as_itself = as_nobody(psql, f"postgresql:///postgres?host={socket}&port=5432", "-c", "select 1")
    assert as_itself.returncode != 0
    assert stat.S_IMODE(socket.stat().st_mode) == 0o700
    local = LocalPostgres(data)
    flags = local.psql(
        "postgres", "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname='orthanc'"
    )
    assert flags == "f|f"  # the role Orthanc logs in with has no power beyond its database
    owner = local.psql(
        "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname='orthanc'"
    )
    assert owner == "orthanc"
    url = server_status(data).url
    assert httpx.post(f"{url}/instances", content=sample_files()[0].read_bytes()).status_code == 200


def test_local_postgres_left_open_by_0_2_is_closed_on_start(
    base: Path, where: list[str], orthanc_spec: ServerSpec
) -> None:
    """A cluster made by 0.2 (trust, socket 0777) is locked down when the server next starts."""
    binary = orthanc_spec.binary
    assert binary is not None
    if not (binary.plugins_dir() / "libOrthancPostgreSQLIndex.so").exists():
        pytest.skip("orthanc-postgresql is not installed for this Orthanc")
    data = base / "data"
    assert start(data, where, "--postgres", "local") == 0
    assert stop_server(data)
    cluster = data / "postgres" / "data"
    (cluster / "pg_hba.conf").write_text("local all all trust\n")
    with (cluster / "postgresql.conf").open("a") as conf:
        conf.write("unix_socket_permissions = 0777\n")
    (data / "postgres" / "run").chmod(0o755)
    assert main(["server", "start", "--data", str(data), *where]) == 0
    stolen = as_nobody(
        "psql", f"postgresql:///orthanc?host={data}/postgres/run&user=orthanc", "-c", "select 1"
    )
    assert stolen.returncode != 0


def test_data_folder_and_files_are_private(base: Path, where: list[str]) -> None:
    data = base / "data"
    assert start(data, where, "--user", "alice:s3cret-pw") == 0
    url = server_status(data).url
    upload = httpx.post(
        f"{url}/instances", content=sample_files()[0].read_bytes(), auth=("alice", "s3cret-pw")
    )
    assert upload.status_code == 200
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {mode:04o}"  # Orthanc's own files too
    for name in ("orthanc.json", "kkorthanc-server.json", "orthanc.log"):
        read = as_nobody("cat", str(data / name))
        assert read.returncode != 0 and "s3cret" not in read.stdout
    listing = as_nobody("ls", "-R", str(data))
    assert listing.returncode != 0


def test_folder_left_open_by_0_2_is_closed_on_start(base: Path, where: list[str]) -> None:
    data = base / "data"
    assert start(data, where) == 0
    assert stop_server(data)
    data.chmod(0o755)
    (data / "orthanc.json").chmod(0o644)
    assert main(["server", "start", "--data", str(data), *where]) == 0
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "orthanc.json").stat().st_mode) == 0o600


def test_planted_configuration_is_refused(
    base: Path, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`nobody` plants a data folder with a Lua script in a world-writable folder: never run."""
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    data = shared / "orthanc-data"
    marker = base / "pwned"
    script = f'os.execute("touch {marker}")\n'
    planted = as_nobody(
        "sh",
        "-c",
        f"mkdir {data} && printf '%s' '{script}' > {data}/evil.lua && "
        f'printf \'{{"LuaScripts": ["{data}/evil.lua"], "HttpPort": 8042}}\' > {data}/orthanc.json',
    )
    assert planted.returncode == 0, planted.stderr
    status = main(["server", "start", "--data", str(data), *where])
    err = capsys.readouterr().err
    assert status != 0
    assert "belongs to another account" in err
    assert not marker.exists()
    assert not (data / "orthanc.pid").exists()


def test_configuration_writable_by_others_is_refused(
    base: Path, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = base / "data"
    assert start(data, where) == 0
    assert stop_server(data)
    (data / "orthanc.json").chmod(0o666)
    assert main(["server", "start", "--data", str(data), *where]) != 0
    assert "writable by others" in capsys.readouterr().err
    config = json.loads((data / "orthanc.json").read_text())
    assert config["HttpPort"] > 0  # left as it was, for its owner to look at


def test_default_start_has_a_generated_password_no_one_else_reads(
    base: Path, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """0.2 gave every local user full REST access unless --user was given."""
    data = base / "data"
    http_port, dicom_port = free_ports(2)
    argv = ["server", "start", "--data", str(data), *where, "--http-port", str(http_port)]
    assert main([*argv, "--dicom-port", str(dicom_port)]) == 0
    out, err = capsys.readouterr()
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    password_file = Path(env["ORTHANC_PASSWORD_FILE"])
    password = password_file.read_text().strip()
    assert len(password) >= 24 and password not in out + err
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    url = env["ORTHANC_URL"]
    assert http_status_as_nobody(f"{url}/patients") == 401
    assert httpx.get(f"{url}/patients", auth=(env["ORTHANC_USERNAME"], password)).json() == []
    assert as_nobody("cat", str(password_file)).returncode != 0
    config = main(["server", "config", "--data", str(data)])
    shown = capsys.readouterr().out
    assert config == 0 and password not in shown and '"***"' in shown


def test_no_auth_is_explicit(base: Path, where: list[str]) -> None:
    data = base / "data"
    assert start(data, where) == 0  # start() adds --no-auth
    url = server_status(data).url
    assert url is not None and http_status_as_nobody(f"{url}/patients") == 200
    assert not (data / "kkorthanc-password").exists()
    assert main(["server", "start", "--data", str(data), "--no-auth", "--user", "a:b"]) != 0
