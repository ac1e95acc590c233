"""The command line's manners against real servers: a closed pipe ends quietly, and each error's
hint names the real cause (a modality name, a URL prefix, plain HTTP, our AE title, credentials
from the environment that were not used)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _resource_data import ct_bytes, upload
from test_server_command import ports

from kkorthanc.cli import main

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux; Python 3.10+ names it


@dataclass
class Result:
    status: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def environment(orthanc: Any, tmp_path: Path) -> dict[str, str]:
    """ORTHANC_* pointing at the clean test server, no profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORTHANC_", "KKORTHANC_"))}
    env.update(
        ORTHANC_URL=orthanc.url,
        ORTHANC_USERNAME=orthanc.username or "",
        ORTHANC_PASSWORD=orthanc.password or "",
        KKORTHANC_CONFIG=str(tmp_path / "config.toml"),
    )
    return env


@pytest.fixture
def cli(
    environment: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    """Run ``kkorthanc`` in-process with :func:`environment`."""
    for name in list(os.environ):
        if name.startswith(("ORTHANC_", "KKORTHANC_")):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        if name.startswith(("ORTHANC_", "KKORTHANC_")):
            monkeypatch.setenv(name, value)

    def run(*argv: str) -> Result:
        capsys.readouterr()
        status = main(list(argv))
        out, err = capsys.readouterr()
        return Result(status, out, err)

    return run


def kkorthanc(*argv: str) -> list[str]:
    return [sys.executable, "-m", "kkorthanc.cli", *argv]


def test_a_reader_that_stops_early_ends_the_listing_quietly(
    orthanc: Any, environment: dict[str, str]
) -> None:
    """``kkorthanc ls patients | head -1``: status 0, nothing on stderr."""
    with orthanc.client() as http:
        for number in range(150):
            upload(http, ct_bytes(PatientID=f"PIPE{number:04d}", PatientName=f"Doe^{number}"))
    whole = subprocess.run(kkorthanc("ls", "patients"), env=environment, capture_output=True)
    assert whole.returncode == 0, whole.stderr
    assert len(whole.stdout) > 3 * 4096  # three times the pipe below
    reader, writer = os.pipe()
    fcntl.fcntl(writer, F_SETPIPE_SZ, 4096)  # the smallest pipe: the rest cannot fit in it
    process = subprocess.Popen(
        kkorthanc("ls", "patients"), env=environment, stdout=writer, stderr=subprocess.PIPE
    )
    os.close(writer)
    first = b""
    while not first.endswith(b"\n"):  # exactly one line, as `head -1` takes it
        byte = os.read(reader, 1)
        assert byte, "the listing ended before its first line"
        first += byte
    os.close(reader)  # the reader is gone; more than the pipe holds is still to be written
    _, err = process.communicate()
    assert first.split()[0] in whole.stdout
    assert (process.returncode, err.decode()) == (0, "")


def test_an_unknown_modality_points_to_modality_ls(cli: Cli) -> None:
    for argv in (("modality", "echo", "nope"), ("query", "nope", "PatientID=*")):
        result = cli(*argv)
        assert result.status == 5, result.err
        assert "`kkorthanc modality ls`" in result.err and "lookup" not in result.err


def test_a_wrong_url_prefix_is_named_as_such(
    cli: Cli, orthanc: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORTHANC_URL", orthanc.url.rstrip("/") + "/orthanc/")
    some_id = "0" * 8 + "-00000000" * 4
    for argv in (("ls",), ("show", some_id), ("modality", "echo", "pacs")):
        result = cli(*argv)
        assert result.status == 5, result.err
        assert "/orthanc/ does not answer GET system" in result.err, result.err
        assert "path prefix" in result.err and "lookup" not in result.err


def test_an_https_url_for_a_plain_http_server_says_use_http(
    cli: Cli, orthanc: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORTHANC_URL", orthanc.url.replace("http://", "https://", 1))
    result = cli("system")
    assert result.status == 3, result.err
    assert "answers plain HTTP" in result.err and "use an http:// URL" in result.err
    assert "verify=" not in result.err and "--insecure" not in result.err


def test_a_refused_c_find_names_the_ae_title_the_remote_must_know(
    cli: Cli, orthanc: Any, orthanc_factory: Any
) -> None:
    stranger = orthanc_factory(aet="STRANGER")  # knows no modality: refuses our C-FIND
    added = cli(
        "modality",
        "add",
        "pacs",
        "--aet",
        "STRANGER",
        "--host",
        "127.0.0.1",
        "--port",
        str(stranger.dicom_port),
    )
    assert added.status == 0, added.err
    result = cli("query", "pacs", "PatientID=*")
    assert result.status == 6, result.err
    assert "Peer aborted Association" in result.err  # Orthanc's words, kept
    assert f"must list {orthanc.aet!r} (this Orthanc's DicomAet)" in result.err, result.err


def test_a_401_after_url_says_the_environment_credentials_were_not_used(
    cli: Cli, orthanc: Any
) -> None:
    assert orthanc.username, "the test server has authentication on"
    result = cli("--url", orthanc.url, "system")  # ORTHANC_USERNAME/PASSWORD are set
    assert result.status == 4, result.err
    assert "ORTHANC_USERNAME is set but was not used" in result.err
    assert "go only to the server of ORTHANC_URL" in result.err
    assert cli("system").status == 0  # the same credentials, through ORTHANC_URL


def test_a_running_server_gets_its_profile_saved(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    where: list[str],
    tmp_path: Path,
) -> None:
    """`--save-profile` cannot be added to a running server: `server profile NAME` saves it."""
    for name in list(os.environ):
        if name.startswith(("ORTHANC_", "KKORTHANC_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "config.toml"))
    data = ["--data", str(data_dir)]
    assert main(["server", "start", *data, *where, *ports(), "--user", "alice"]) == 0
    capsys.readouterr()
    again = main(["server", "start", *data, *where, "--save-profile", "pacs"])
    assert again == 2
    assert "`kkorthanc server profile pacs --data" in capsys.readouterr().err
    assert main(["server", "profile", "pacs", *data]) == 0
    assert "Saved as profile 'pacs'" in capsys.readouterr().err
    assert main(["--profile", "pacs", "-o", "json", "system"]) == 0  # URL and alice's password
    assert '"Version"' in capsys.readouterr().out
    assert main(["server", "profile", "other", "--data", str(tmp_path / "never")]) == 2
    assert "start it first" in capsys.readouterr().err
