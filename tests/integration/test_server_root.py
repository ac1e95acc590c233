"""`kkorthanc server start` run by root: Orthanc (and its Lua, plugins, PostgreSQL) must not be.

Issue 11: started as root, Orthanc stayed root, so every Lua or Python script and plugin its
configuration named ran as root. Now it drops to ``--run-as USER`` (default: Debian's
``orthanc`` account), or refuses unless ``--allow-root`` says so.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _server_dirs import server_folder

from kkorthanc.cli import main
from kkorthanc.server import LocalPostgres, server_status, stop_server
from kkorthanc.server._launcher import free_ports
from kkorthanc.testing import ServerSpec, sample_files


def _account(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


ORTHANC_ACCOUNT = _account("orthanc")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or ORTHANC_ACCOUNT is None,
    reason="needs root and the 'orthanc' system account (apt-get install orthanc)",
)


@pytest.fixture
def base(orthanc_spec: ServerSpec) -> Iterator[Path]:
    """A folder others may traverse but not list, for this spec's Orthanc (in its chroot)."""
    with server_folder(orthanc_spec, "kk-root-", 0o711) as root:
        yield root


def inner(path: Path, orthanc_spec: ServerSpec) -> str:
    """``path`` as the spec's Orthanc sees it."""
    assert orthanc_spec.binary is not None
    return orthanc_spec.binary.inner_path(path)


def start(
    capsys: pytest.CaptureFixture[str], data: Path, where: list[str], *more: str
) -> tuple[int, str]:
    http_port, dicom_port = free_ports(2)
    argv = ["server", "start", "--data", str(data), *where, "--http-port", str(http_port)]
    status = main([*argv, "--dicom-port", str(dicom_port), "--no-auth", *more])
    return status, capsys.readouterr().err


def uids(pid: int) -> tuple[list[int], list[int], list[int]]:
    """Real, effective, saved and file-system uids, the same for gids, and the groups."""
    lines = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (
        [int(value) for value in lines["Uid"].split()],
        [int(value) for value in lines["Gid"].split()],
        [int(value) for value in lines["Groups"].split()],
    )


def test_root_start_runs_orthanc_and_its_lua_as_the_orthanc_account(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str], orthanc_spec: ServerSpec
) -> None:
    assert ORTHANC_ACCOUNT is not None
    data = base / "data"
    script = base / "probe.lua"
    script.write_text(f'os.execute("id -u > {inner(data, orthanc_spec)}/lua-id")\n')
    script.chmod(0o644)
    lua = json.dumps([inner(script, orthanc_spec)])
    status, err = start(capsys, data, where, "--set", f"LuaScripts={lua}")
    assert status == 0, err
    pid = server_status(data).pid
    assert pid is not None
    uid, gid, groups = uids(pid)
    assert uid == [ORTHANC_ACCOUNT.pw_uid] * 4
    assert gid == [ORTHANC_ACCOUNT.pw_gid] * 4
    assert set(groups) <= {ORTHANC_ACCOUNT.pw_gid}  # root's supplementary groups are gone
    assert (data / "lua-id").read_text().strip() == str(ORTHANC_ACCOUNT.pw_uid)
    info = data.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (ORTHANC_ACCOUNT.pw_uid, 0o700)
    for path in data.rglob("*"):
        info = path.lstat()
        assert info.st_uid == ORTHANC_ACCOUNT.pw_uid, path
        assert stat.S_IMODE(info.st_mode) & 0o077 == 0, path
    url = server_status(data).url
    upload = httpx.post(f"{url}/instances", content=sample_files()[0].read_bytes())
    assert upload.status_code == 200  # Orthanc writes its storage as the account


def test_allow_root_keeps_orthanc_root(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str]
) -> None:
    data = base / "data"
    status, err = start(capsys, data, where, "--allow-root")
    assert status == 0, err
    pid = server_status(data).pid
    assert pid is not None
    assert uids(pid)[0] == [0, 0, 0, 0]
    assert data.stat().st_uid == 0


def test_missing_account_is_refused(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str]
) -> None:
    data = base / "data"
    status, err = start(capsys, data, where, "--run-as", "nosuchuser")
    assert status == 2
    assert "nosuchuser" in err and "--allow-root" in err
    assert not (data / "orthanc.json").exists()
    status, err = start(capsys, data, where, "--run-as", "root")
    assert status == 2
    assert "--allow-root" in err
    status, err = start(capsys, data, where, "--run-as", "orthanc", "--allow-root")
    assert status == 2
    assert "contradicts" in err


def test_unreachable_data_folder_is_refused(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str]
) -> None:
    closed = base / "closed"
    closed.mkdir(mode=0o700)
    status, err = start(capsys, closed / "data", where)
    assert status == 2
    assert "cannot reach" in err and "'orthanc'" in err


def test_folder_root_made_changes_hands_and_keeps_its_data(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str]
) -> None:
    assert ORTHANC_ACCOUNT is not None
    data = base / "data"
    status, err = start(capsys, data, where, "--allow-root")
    assert status == 0, err
    url = server_status(data).url
    assert httpx.post(f"{url}/instances", content=sample_files()[0].read_bytes()).is_success
    assert stop_server(data)
    assert main(["server", "start", "--data", str(data), *where]) == 0, capsys.readouterr().err
    assert all(path.lstat().st_uid == ORTHANC_ACCOUNT.pw_uid for path in data.rglob("*"))
    assert httpx.get(f"{url}/statistics").json()["CountInstances"] == 1


def test_allow_root_refuses_a_folder_the_account_could_have_changed(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str]
) -> None:
    """The account owns its configuration: root must not run what it may have written."""
    data = base / "data"
    assert start(capsys, data, where)[0] == 0
    assert stop_server(data)
    status = main(["server", "start", "--data", str(data), *where, "--allow-root"])
    assert status != 0
    assert "belongs to another account" in capsys.readouterr().err


def test_kk_plugin_is_a_copy_the_account_reads(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str]
) -> None:
    data = base / "data"
    status, err = start(capsys, data, where, "--plugin", "kk")
    assert status == 0, err
    config = json.loads((data / "orthanc.json").read_text())
    assert config["PythonScript"].endswith("/data/kkorthanc_plugin.py")
    answer = httpx.get(f"{server_status(data).url}/kk")
    assert answer.status_code == 200, answer.text


def test_local_postgres_runs_as_the_same_account(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str], orthanc_spec: ServerSpec
) -> None:
    assert ORTHANC_ACCOUNT is not None and orthanc_spec.binary is not None
    if not (orthanc_spec.binary.plugins_dir() / "libOrthancPostgreSQLIndex.so").exists():
        pytest.skip("orthanc-postgresql is not installed for this Orthanc")
    data = base / "data"
    status, err = start(capsys, data, where, "--postgres", "local")
    assert status == 0, err
    postmaster = int((data / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
    assert uids(postmaster)[0] == [ORTHANC_ACCOUNT.pw_uid] * 4
    assert stat.S_IMODE(data.stat().st_mode) == 0o700  # no other account needs to reach it
    socket = data / "postgres" / "run"
    assert (socket.stat().st_uid, stat.S_IMODE(socket.stat().st_mode)) == (
        ORTHANC_ACCOUNT.pw_uid,
        0o700,
    )
    flags = LocalPostgres(data).psql(
        "postgres", "SELECT rolsuper FROM pg_roles WHERE rolname='orthanc'"
    )
    assert flags == "f"  # the account is its superuser under another name; Orthanc's role is not
    url = server_status(data).url
    assert httpx.post(f"{url}/instances", content=sample_files()[1].read_bytes()).is_success
    assert stop_server(data)
    assert not LocalPostgres(data).is_running()


def test_foreground_drops_too(base: Path, where: list[str]) -> None:
    assert ORTHANC_ACCOUNT is not None
    data = base / "data"
    http_port, dicom_port = free_ports(2)
    argv = ["server", "start", "--foreground", "--data", str(data), *where, "--no-auth"]
    argv += ["--http-port", str(http_port), "--dicom-port", str(dicom_port)]
    code = "import sys; from kkorthanc.cli import main; sys.exit(main())"
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        pid = _wait_for_pid(data, process)
        assert uids(pid)[0] == [ORTHANC_ACCOUNT.pw_uid] * 4
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert not server_status(data).running


def _wait_for_pid(data: Path, process: subprocess.Popen[bytes]) -> int:
    for _ in range(600):
        status = server_status(data)
        if status.running and status.version and status.pid:
            return status.pid
        assert process.poll() is None, "kkorthanc server start --foreground exited"
        try:
            process.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError("the foreground server never answered")


def test_stop_never_kills_a_root_process_the_account_names(
    capsys: pytest.CaptureFixture[str], base: Path, where: list[str]
) -> None:
    """The account writes orthanc.pid: a root process named there must survive `server stop`."""
    data = base / "data"
    assert start(capsys, data, where)[0] == 0
    assert stop_server(data)
    decoy = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()", f"{data}/orthanc.json"],
        stdin=subprocess.PIPE,
    )
    try:
        planted = subprocess.run(
            [
                "runuser",
                "-u",
                "orthanc",
                "--",
                "sh",
                "-c",
                f"echo {decoy.pid} > {data}/orthanc.pid",
            ],
            check=False,
        )
        assert planted.returncode == 0
        assert not server_status(data).running
        assert main(["server", "stop", "--data", str(data)]) == 0
        assert decoy.poll() is None
    finally:
        decoy.kill()
        decoy.wait()
        assert decoy.stdin is not None
        decoy.stdin.close()
