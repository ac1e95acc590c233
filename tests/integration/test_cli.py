"""The ``kkorthanc`` command line against real servers: browsing, raw routes, settings, errors."""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import kkorthanc
from kkorthanc.cli import main
from kkorthanc.server._launcher import free_port
from kkorthanc.testing import sample_files

KKORTHANC = Path(sys.executable).parent / "kkorthanc"
CT_STUDY_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Result]


@pytest.fixture
def cli(
    orthanc: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Cli:
    """Run ``kkorthanc`` in-process against the clean test server (credentials in ORTHANC_*)."""
    monkeypatch.setenv("ORTHANC_URL", orthanc.url)
    monkeypatch.setenv("ORTHANC_USERNAME", orthanc.username or "")
    monkeypatch.setenv("ORTHANC_PASSWORD", orthanc.password or "")
    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("KKORTHANC_PROFILE", raising=False)

    def run(*argv: str) -> Result:
        capsys.readouterr()
        status = main(list(argv))
        out, err = capsys.readouterr()
        return Result(status, out, err)

    return run


@pytest.fixture
def loaded(orthanc: Any) -> dict[str, str]:
    """The sample files uploaded; returns {file name: instance Orthanc ID}."""
    auth = (orthanc.username, orthanc.password) if orthanc.username else None
    with kkorthanc.Orthanc(orthanc.url, auth=auth) as client:
        report = client.upload(*sample_files())
    assert report.ok
    return {Path(record.source).name: str(record.instance_id) for record in report}


def test_system_prints_the_server_identity(cli: Cli, orthanc: Any) -> None:
    result = cli("system", "--output", "json")
    assert result.status == 0
    assert result.json()["Version"] == orthanc.version
    table = cli("system")
    assert "Version" in table.out and orthanc.version in table.out


def test_stats_counts_in_json_and_csv(cli: Cli, loaded: dict[str, str]) -> None:
    stats = cli("-o", "json", "stats").json()
    assert (stats["patients"], stats["instances"]) == (10, 10)
    assert isinstance(stats["disk_size"], int) and stats["disk_size"] > 0
    csv_lines = cli("stats", "-o", "csv").out.splitlines()
    assert csv_lines[0].split(",")[:4] == ["patients", "studies", "series", "instances"]
    assert csv_lines[1].split(",")[3] == "10"


def test_ls_every_level(cli: Cli, loaded: dict[str, str]) -> None:
    patients = cli("ls", "-o", "json").json()
    assert {row["PatientID"] for row in patients} >= {"1CT1", "4MR1", "X1EXAMPLE"}
    assert all(row["level"] == "Patient" for row in patients)
    studies = cli("ls", "studies", "-o", "csv").out.splitlines()
    assert studies[0].startswith("level,orthanc_id,")
    assert len(studies) == 11
    instances = cli("ls", "instance", "-o", "json").json()
    assert {row["orthanc_id"] for row in instances} == set(loaded.values())
    series = cli("ls", "series")
    assert series.out.splitlines()[0].split()[:2] == ["ORTHANC_ID", "MODALITY"]
    assert len(cli("ls", "studies", "--limit", "3", "-o", "json").json()) == 3


def test_ls_unknown_level_is_a_usage_error(cli: Cli) -> None:
    result = cli("ls", "visits")
    assert result.status == 2
    assert "unknown level 'visits'" in result.err


def test_tree_text_json_csv(cli: Cli, loaded: dict[str, str]) -> None:
    text = cli("tree").out
    assert "Patient PatientID=1CT1" in text
    assert f"[{loaded['CT_small.dcm']}]" in text
    nested = cli("tree", "-o", "json").json()
    assert len(nested) == 10
    assert nested[0]["children"][0]["children"][0]["children"][0]["level"] == "Instance"
    rows = cli("tree", "--depth", "series", "Modality=CT", "-o", "csv").out.splitlines()
    assert len(rows) == 2
    assert "CT" in rows[1].split(",")


def test_find_with_wildcards_and_levels(cli: Cli, loaded: dict[str, str]) -> None:
    found = cli("find", "--level", "study", "PatientName=CompressedSamples*", "-o", "json").json()
    assert sorted(row["PatientID"] for row in found) == ["1CT1", "4MR1", "8NM1"]
    series = cli("find", "--level", "series", "Modality=MR", "-o", "json").json()
    assert [row["Modality"] for row in series] == ["MR"]
    dated = cli("find", "StudyDate=20040101-20041231", "-o", "json").json()
    assert {row["StudyDate"][:4] for row in dated} == {"2004"}


def test_find_rejects_a_filter_without_value(cli: Cli) -> None:
    result = cli("find", "PatientName")
    assert result.status == 2
    assert "TAG=VALUE" in result.err


def test_lookup_is_exact(cli: Cli, loaded: dict[str, str]) -> None:
    study_id = kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)
    rows = cli("lookup", CT_STUDY_UID, "-o", "json").json()
    assert rows == [{"level": "Study", "orthanc_id": study_id}]
    near = cli("lookup", CT_STUDY_UID[:-1])
    assert near.status == 5
    assert "nothing has the identifier" in near.err
    patient = cli("lookup", "1CT1", "--level", "patient", "-o", "json").json()
    assert patient[0]["orthanc_id"] == kkorthanc.orthanc_id("1CT1")


def test_show_detects_the_level(cli: Cli, loaded: dict[str, str]) -> None:
    study = cli("show", kkorthanc.orthanc_id("1CT1", CT_STUDY_UID), "-o", "json").json()
    assert study["level"] == "Study"
    assert study["StudyInstanceUID"] == CT_STUDY_UID
    assert study["raw"]["ParentPatient"] == kkorthanc.orthanc_id("1CT1")
    instance = cli("show", loaded["MR_small.dcm"])
    assert instance.out.startswith("level")
    assert "Instance" in instance.out.splitlines()[0]


def test_show_unknown_and_malformed_ids(cli: Cli) -> None:
    missing = cli("show", "00000000-00000000-00000000-00000000-00000000")
    assert missing.status == 5
    assert "no patient, study, series or instance" in missing.err
    malformed = cli("show", "1CT1")
    assert malformed.status == 2
    assert "kkorthanc lookup" in malformed.err


def test_raw_get_and_post(cli: Cli, loaded: dict[str, str]) -> None:
    patients = cli("get", "/patients").json()
    assert len(patients) == 10
    one = cli("get", "patients", "--param", "limit=2", "--param", "since=0").json()
    assert len(one) == 2
    body = json.dumps({"Level": "Study", "Query": {"PatientID": "1CT1"}})
    found = cli("post", "/tools/find", "--json", body).json()
    assert found == [kkorthanc.orthanc_id("1CT1", CT_STUDY_UID)]
    bad = cli("post", "/tools/find", "--json", "{not json")
    assert bad.status == 2


def test_wrong_password_exits_4_with_a_fix(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORTHANC_PASSWORD", "wrong")
    result = cli("stats")
    assert result.status == 4
    assert "--user" in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_unreachable_server_exits_3(cli: Cli) -> None:
    result = cli("--url", f"http://127.0.0.1:{free_port()}", "stats")
    assert result.status == 3
    assert "kkorthanc server start" in result.err


def test_debug_adds_the_traceback(cli: Cli) -> None:
    result = cli("--debug", "--url", f"http://127.0.0.1:{free_port()}", "stats")
    assert result.status == 3
    assert "Traceback" in result.err


def test_password_from_stdin(
    cli: Cli, orthanc: Any, monkeypatch: pytest.MonkeyPatch, loaded: dict[str, str]
) -> None:
    monkeypatch.delenv("ORTHANC_PASSWORD")
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{orthanc.password}\n"))
    result = cli("--user", orthanc.username, "--password-stdin", "-o", "json", "stats")
    assert result.status == 0
    assert result.json()["instances"] == 10


def test_user_without_password_source_is_refused(
    cli: Cli, orthanc: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORTHANC_PASSWORD")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    result = cli("--user", orthanc.username, "stats")
    assert result.status == 2
    assert "--password-stdin" in result.err


def test_profiles_from_the_config_file(
    cli: Cli, orthanc: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("ORTHANC_URL", "ORTHANC_USERNAME", "ORTHANC_PASSWORD"):
        monkeypatch.delenv(name)
    (tmp_path / "config.toml").write_text(
        f'default = "lab"\n[profiles.lab]\nurl = "{orthanc.url}"\nuser = "{orthanc.username}"\n'
        f'password = "{orthanc.password}"\n[profiles.broken]\nurl = "{orthanc.url}"\n'
    )
    assert cli("--profile", "lab", "-o", "json", "system").json()["Version"] == orthanc.version
    assert cli("-o", "json", "system").status == 0  # the default profile
    assert cli("--profile", "broken", "system").status == 4  # no credentials in that profile
    unknown = cli("--profile", "nope", "system")
    assert unknown.status == 2
    assert "no profile 'nope'" in unknown.err


def test_options_after_the_command_name(cli: Cli, orthanc: Any) -> None:
    # with --url, credentials come from --user (and ORTHANC_PASSWORD), never from ORTHANC_USERNAME
    result = cli("system", "--output", "json", "--url", orthanc.url, "--user", orthanc.username)
    assert result.json()["Version"] == orthanc.version


def test_no_command_prints_help_and_exits_2(cli: Cli) -> None:
    result = cli()
    assert result.status == 2
    assert "commands" in result.err


def _console_script(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    command = [str(KKORTHANC), *argv]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_console_script_end_to_end(orthanc: Any, tmp_path: Path) -> None:
    env = {
        "ORTHANC_URL": orthanc.url,
        "ORTHANC_USERNAME": orthanc.username or "",
        "ORTHANC_PASSWORD": orthanc.password or "",
        "KKORTHANC_CONFIG": str(tmp_path / "none.toml"),
        "PATH": "/usr/bin:/bin",
    }

    run = functools.partial(_console_script, env)
    upload = run("upload", *map(str, sample_files()[:2]))
    assert upload.returncode == 0, upload.stderr
    assert "upload: 2/2 files" in upload.stderr  # plain progress lines: stderr is no terminal
    tree = run("tree", "--depth", "study")
    assert "Patient PatientID=1CT1" in tree.stdout
    missing = run("show", "00000000-00000000-00000000-00000000-00000000")
    assert missing.returncode == 5
    assert missing.stderr.startswith("kkorthanc: ")
    assert "Traceback" not in missing.stderr
    helped = run("--help")
    assert helped.returncode == 0
    assert "exit status" in helped.stdout
