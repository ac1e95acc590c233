"""`kkorthanc server`: real Orthanc processes started, inspected and stopped by the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from kkorthanc.cli import main
from kkorthanc.server import LocalPostgres, server_status
from kkorthanc.server._launcher import free_ports
from kkorthanc.testing import ServerSpec, sample_files

KKORTHANC = Path(sys.executable).parent / "kkorthanc"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def ports() -> list[str]:
    http_port, dicom_port = free_ports(2)
    return ["--http-port", str(http_port), "--dicom-port", str(dicom_port)]


def test_start_upload_restart_keeps_data(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str]
) -> None:
    status, out, err = run(
        capsys,
        "server",
        "start",
        "--data",
        str(data_dir),
        *where,
        *ports(),
        "--user",
        "alice:s3cret",
    )
    assert status == 0, err
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    assert env["ORTHANC_USERNAME"] == "alice"
    assert "s3cret" not in out + err  # the password is in a 0600 file, never printed
    assert Path(env["ORTHANC_PASSWORD_FILE"]).read_text() == "s3cret\n"
    url = env["ORTHANC_URL"]
    assert f"runs at {url}" in err
    upload = httpx.post(
        f"{url}/instances", content=sample_files()[0].read_bytes(), auth=("alice", "s3cret")
    )
    assert upload.status_code == 200
    assert httpx.get(f"{url}/system").status_code == 401  # authentication is on
    assert run(capsys, "server", "stop", "--data", str(data_dir))[0] == 0
    assert not server_status(data_dir).running
    assert run(capsys, "server", "start", "--data", str(data_dir), *where)[0] == 0
    stats = httpx.get(f"{url}/statistics", auth=("alice", "s3cret")).json()
    assert stats["CountInstances"] == 1  # storage and index survived the restart


def test_status_and_config_report_the_running_server(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], orthanc_spec: ServerSpec
) -> None:
    argv = [
        "server",
        "start",
        "--data",
        str(data_dir),
        *where,
        *ports(),
        "--no-auth",
        "--aet",
        "KKTEST",
        "--set",
        "StableAge=7",
        "--set",
        "Name=Lab PACS",
        "--set",
        "DicomModalities={}",
    ]
    assert run(capsys, *argv)[0] == 0
    status, out, _ = run(capsys, "server", "status", "--data", str(data_dir), "-o", "json")
    record = json.loads(out)
    assert status == 0
    assert record["running"] is True
    assert record["version"] == orthanc_spec.binary.version()  # type: ignore[union-attr]
    assert record["pid"] > 0
    status, out, _ = run(capsys, "server", "config", "--data", str(data_dir))
    config = json.loads(out)
    assert (config["DicomAet"], config["StableAge"], config["Name"]) == ("KKTEST", 7, "Lab PACS")
    system = httpx.get(f"{record['url']}/system").json()
    assert (system["DicomAet"], system["Name"]) == ("KKTEST", "Lab PACS")


def test_config_file_is_the_base_and_options_win(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], tmp_path: Path
) -> None:
    base = tmp_path / "base.json"
    base.write_text(
        json.dumps(
            {
                "DicomAet": "FROMFILE",
                "StableAge": 3,
                "MaximumStorageSize": 5,
                "StorageDirectory": "/elsewhere",
            }
        )
    )
    argv = [
        "server",
        "start",
        "--data",
        str(data_dir),
        *where,
        *ports(),
        "--no-auth",
        "--config",
        str(base),
        "--set",
        "StableAge=9",
    ]
    assert run(capsys, *argv)[0] == 0
    config = json.loads(run(capsys, "server", "config", "--data", str(data_dir))[1])
    assert config["DicomAet"] == "FROMFILE"
    assert config["MaximumStorageSize"] == 5
    assert config["StableAge"] == 9
    assert config["StorageDirectory"].endswith("/data/db")  # storage stays in the data dir


def test_status_of_a_stopped_server_exits_3(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    status, out, _ = run(capsys, "server", "status", "--data", str(data_dir))
    assert status == 3
    assert re.search(r"^running +no$", out, re.MULTILINE)


def test_stop_of_a_folder_that_was_never_a_servers_is_an_error(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    """A typo in --data used to say "was not running" and exit 0."""
    data_dir.mkdir(parents=True)
    status, _, err = run(capsys, "server", "stop", "--data", str(data_dir / "typo"))
    assert status == 2 and "not the data directory" in err
    status, _, err = run(capsys, "server", "stop", "--data", str(data_dir))
    assert status == 2 and "has no orthanc.json" in err


def test_second_start_is_refused(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str]
) -> None:
    assert (
        run(capsys, "server", "start", "--data", str(data_dir), *where, *ports(), "--no-auth")[0]
        == 0
    )
    status, _, err = run(
        capsys, "server", "start", "--data", str(data_dir), *where, *ports(), "--no-auth"
    )
    assert status == 2
    assert "already runs" in err
    assert "server stop" in err


def test_remote_without_user_is_refused(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str]
) -> None:
    status, _, err = run(capsys, "server", "start", "--data", str(data_dir), *where, "--remote")
    assert status == 2
    assert "--user" in err
    assert not (data_dir / "orthanc.json").exists()


def test_missing_binary_says_how_to_install(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    status, _, err = run(
        capsys,
        "server",
        "start",
        "--data",
        str(data_dir),
        "--orthanc",
        "/nonexistent/Orthanc",
        *ports(),
        "--no-auth",
    )
    assert status == 7
    assert "apt-get install orthanc" in err
    assert "server compose" in err
    assert "Traceback" not in err


def test_port_in_use_fails_with_the_log_tail(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], orthanc: Any
) -> None:
    taken = str(httpx.URL(orthanc.url).port)
    status, _, err = run(
        capsys,
        "server",
        "start",
        "--data",
        str(data_dir),
        *where,
        "--http-port",
        taken,
        "--dicom-port",
        str(free_ports(1)[0]),
        "--wait",
        "20",
    )
    assert status == 7
    assert "--http-port" in err
    assert not server_status(data_dir).running


def test_python_plugin_is_loaded(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str]
) -> None:
    assert (
        run(
            capsys,
            "server",
            "start",
            "--data",
            str(data_dir),
            *where,
            *ports(),
            "--no-auth",
            "--plugin",
            "python",
        )[0]
        == 0
    )
    url = server_status(data_dir).url
    assert "python" in httpx.get(f"{url}/plugins").json()


def test_missing_plugin_names_its_package(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], orthanc_spec: ServerSpec
) -> None:
    binary = orthanc_spec.binary
    assert binary is not None
    if (binary.plugins_dir() / "libOrthancDicomWeb.so").exists():
        pytest.skip("the DICOMweb plugin is installed here")
    status, _, err = run(
        capsys,
        "server",
        "start",
        "--data",
        str(data_dir),
        *where,
        *ports(),
        "--no-auth",
        "--plugin",
        "dicomweb",
    )
    assert status == 7
    assert "orthanc-dicomweb" in err


def test_logs_prints_orthanc_output(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str]
) -> None:
    assert (
        run(capsys, "server", "start", "--data", str(data_dir), *where, *ports(), "--no-auth")[0]
        == 0
    )
    status, out, _ = run(capsys, "server", "logs", "--data", str(data_dir))
    assert status == 0
    assert "HTTP server listening" in out
    _, last, _ = run(capsys, "server", "logs", "--data", str(data_dir), "-n", "1")
    assert len(last.splitlines()) == 1


def test_detached_server_outlives_the_command_and_logs_follow(
    data_dir: Path, where: list[str]
) -> None:
    started = subprocess.run(
        [str(KKORTHANC), "server", "start", "--data", str(data_dir), *where, *ports(), "--no-auth"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    status = server_status(data_dir)
    assert status.running  # the CLI process has exited; Orthanc is in its own session
    assert os.getsid(status.pid or 0) != os.getsid(0)
    follower = subprocess.Popen(
        [str(KKORTHANC), "server", "logs", "-f", "--data", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        seen = [follower.stdout.readline() for _ in range(2)]
        assert all(seen)
        httpx.get(f"{status.url}/nonexistent-route")  # any activity; following must not end
        assert follower.poll() is None
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=30) == 130
        follower.stdout.close()  # type: ignore[union-attr]
    stopped = subprocess.run(
        [str(KKORTHANC), "server", "stop", "--data", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stopped.returncode == 0
    assert "stopped" in stopped.stderr
    assert not server_status(data_dir).running


def test_foreground_runs_until_interrupted(data_dir: Path, where: list[str]) -> None:
    process = subprocess.Popen(
        [
            str(KKORTHANC),
            "server",
            "start",
            "--foreground",
            "--data",
            str(data_dir),
            *where,
            *ports(),
            "--no-auth",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _wait_for_url(data_dir, process)
        assert httpx.get(f"{url}/system").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        process.stderr.close()  # type: ignore[union-attr]
    assert code == 130  # as a shell reports Ctrl-C, however Orthanc then ended
    assert not server_status(data_dir).running


def _wait_for_url(data_dir: Path, process: subprocess.Popen[str]) -> str:
    for _ in range(600):
        status = server_status(data_dir)
        if status.running and status.version:
            return str(status.url)
        assert process.poll() is None, "kkorthanc server start --foreground exited"
        try:
            process.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError("the foreground server never answered")


def test_local_postgres_index(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], orthanc_spec: ServerSpec
) -> None:
    binary = orthanc_spec.binary
    assert binary is not None
    if not (binary.plugins_dir() / "libOrthancPostgreSQLIndex.so").exists():
        pytest.skip("orthanc-postgresql is not installed for this Orthanc")
    argv = [
        "server",
        "start",
        "--data",
        str(data_dir),
        *where,
        *ports(),
        "--no-auth",
        "--postgres",
        "local",
    ]
    status, _, err = run(capsys, *argv)
    assert status == 0, err
    url = server_status(data_dir).url
    system = httpx.get(f"{url}/system").json()
    assert "PostgreSQL" in system["DatabaseBackendPlugin"]
    assert httpx.post(f"{url}/instances", content=sample_files()[1].read_bytes()).status_code == 200
    assert LocalPostgres(data_dir).is_running()
    assert run(capsys, "server", "stop", "--data", str(data_dir))[0] == 0
    assert not LocalPostgres(data_dir).is_running()  # stopped with Orthanc
    assert run(capsys, "server", "start", "--data", str(data_dir), *where)[0] == 0
    assert httpx.get(f"{url}/statistics").json()["CountInstances"] == 1
    record = json.loads(run(capsys, "server", "status", "--data", str(data_dir), "-o", "json")[1])
    assert record["postgres"] == "local"


def test_kk_plugin_serves_its_routes(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str], orthanc_spec: ServerSpec
) -> None:
    argv = ["server", "start", "--data", str(data_dir), *where, *ports(), "--no-auth"]
    status, _, err = run(capsys, *argv, "--plugin", "kk")
    assert status == 0, err
    config = json.loads(run(capsys, "server", "config", "--data", str(data_dir))[1])
    if orthanc_spec.binary is not None and orthanc_spec.binary.chroot is not None:
        assert (data_dir / "kkorthanc_plugin.py").is_file()  # copied where the chroot sees it
        assert config["PythonScript"].endswith("/data/kkorthanc_plugin.py")
    url = server_status(data_dir).url
    answer = httpx.get(f"{url}/kk")
    assert answer.status_code == 200, answer.text
    assert answer.json()["info"]["title"] == "KkOrthanc routes"


def test_readme_demo_start_upload_tree(data_dir: Path, where: list[str], tmp_path: Path) -> None:
    """The README's demo: `server start`, then `upload` and `tree` with the printed exports."""
    env = {"PATH": "/usr/bin:/bin", "KKORTHANC_CONFIG": str(tmp_path / "none.toml")}

    def kk(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KKORTHANC), *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    started = kk("server", "start", "--data", str(data_dir), *where, *ports())
    assert "demo" not in started.stdout and "PASSWORD=" not in started.stdout
    assert started.returncode == 0, started.stderr
    for line in started.stdout.splitlines():  # what `eval "$(kkorthanc server start ...)"` does
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = value
    uploaded = kk("upload", *map(str, sample_files()))
    assert uploaded.returncode == 0, uploaded.stderr
    tree = kk("tree")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.count("Patient PatientID=") == 10
    assert kk("server", "stop", "--data", str(data_dir)).returncode == 0


def test_a_server_that_dies_at_start_says_how_it_ended(
    capsys: pytest.CaptureFixture[str], data_dir: Path, where: list[str]
) -> None:
    argv = ["server", "start", "--data", str(data_dir), *where, *ports(), "--no-auth"]
    status, _, err = run(capsys, *argv, "--set", 'LuaScripts=["/nonexistent/kk.lua"]')
    assert status == 7
    assert re.search(r"Orthanc (exited with status \d+|killed by SIG\w+ \(signal \d+\))", err)
