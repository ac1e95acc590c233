"""The command line's server-side operations on real servers: anonymize, modify, jobs, changes,
watch (DICOM networking is in test_cli_ops_network.py)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _ops_data import ct_bytes

import kkorthanc
from kkorthanc.cli import main
from kkorthanc.server._launcher import free_ports

KKORTHANC = Path(sys.executable).parent / "kkorthanc"
TAGS = {"PatientName": "DOE^JANE", "InstitutionName": "General Hospital"}
CLEAN = ["--remove", "InstanceCreationDate", "--remove", "InstanceCreationTime"]


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


Cli = Callable[..., Result]


@pytest.fixture
def env(orthanc: Any, tmp_path: Path) -> dict[str, str]:
    """The environment that points ``kkorthanc`` at the clean test server."""
    return {
        "ORTHANC_URL": orthanc.url,
        "ORTHANC_USERNAME": orthanc.username or "",
        "ORTHANC_PASSWORD": orthanc.password or "",
        "KKORTHANC_CONFIG": str(tmp_path / "config.toml"),
    }


@pytest.fixture
def cli(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """Run ``kkorthanc`` in-process against the clean test server."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KKORTHANC_PROFILE", raising=False)
    monkeypatch.delenv("ORTHANC_PEER_PASSWORD", raising=False)

    def run(*argv: str) -> Result:
        capsys.readouterr()
        status = main(list(argv))
        out, err = capsys.readouterr()
        return Result(status, out, err)

    return run


@pytest.fixture
def direct(orthanc: Any) -> Iterator[kkorthanc.Orthanc]:
    """A client of the test server, to set up and check what the commands did."""
    auth = (orthanc.username, orthanc.password) if orthanc.username else None
    with kkorthanc.Orthanc(orthanc.url, auth=auth) as client:
        yield client


def store(client: kkorthanc.Orthanc, **tags: Any) -> dict[str, Any]:
    """Upload CT_small.dcm under new UIDs with these tags; Orthanc's answer."""
    answer = client.post("instances", data=ct_bytes(**tags))
    assert answer["Status"] == "Success"
    return dict(answer)


def last_seq(client: kkorthanc.Orthanc) -> int:
    """The current end of the changes feed (it survives the fixture's wipe)."""
    return int(client.get("changes", params={"last": True})["Last"])


def simplified(client: kkorthanc.Orthanc, level: str, orthanc_id: str) -> dict[str, Any]:
    """The tags of the first instance of a resource."""
    instances = client.get((level, orthanc_id, "instances")) if level != "instances" else None
    instance = instances[0]["ID"] if instances else orthanc_id
    return dict(client.get(("instances", instance, "simplified-tags")))


# ---- anonymize ----


def test_anonymize_prints_the_new_ids_and_verify_passes(cli: Cli, direct: Any) -> None:
    answer = store(direct, PatientID="CLIANON1", StudyDescription="Head CT", **TAGS)
    result = cli(
        "anonymize",
        answer["ParentStudy"],
        "--keep",
        "StudyDescription",
        *CLEAN,
        "--verify",
        "-o",
        "json",
    )
    assert result.status == 0, result.err
    (row,) = result.json()
    assert row["orthanc_id"] == answer["ParentStudy"] and row["level"] == "Study"
    assert row["outcome"] == "anonymized" and row["surviving"] == "" and row["findings"] == []
    tags = simplified(direct, "studies", row["new_id"])
    assert tags["PatientID"] != "CLIANON1" and tags["PatientName"] != "DOE^JANE"
    assert tags["StudyDescription"] == "Head CT" and "InstitutionName" not in tags
    assert answer["ParentStudy"] in direct.get("studies")  # the original is kept


def test_anonymize_verify_lists_surviving_tags_and_exits_1(cli: Cli, direct: Any) -> None:
    answer = store(direct, PatientID="CLIANON2", **TAGS)
    same = "InstitutionName=General Hospital"  # an identifying value put back: it survives
    result = cli("anonymize", answer["ParentSeries"], "--replace", same, *CLEAN, "--verify")
    assert result.status == 1
    assert result.out.splitlines()[1].endswith("anonymized  InstitutionName")
    assert "'General Hospital': kept its original value" in result.err
    kept = cli("-o", "csv", "anonymize", answer["ParentSeries"], "--keep", "InstitutionName")
    header, line = kept.out.splitlines()
    assert header == "orthanc_id,level,new_id,outcome" and kept.status == 0
    assert line.startswith(f"{answer['ParentSeries']},Series,") and line.endswith(",anonymized")
    deliberate = cli(
        "anonymize", answer["ParentSeries"], "--keep", "InstitutionName", *CLEAN, "--verify"
    )
    assert deliberate.status == 0, deliberate.err  # kept on purpose: not reported


def test_anonymize_instances_and_series_as_jobs_deleting_the_originals(
    cli: Cli, direct: Any
) -> None:
    first = store(direct, PatientID="CLIANON3", **TAGS)
    second = store(direct, PatientID="CLIANON4", **TAGS)
    result = cli(
        "-o",
        "json",
        "anonymize",
        first["ID"],
        second["ParentSeries"],
        "--async",
        "--delete-original",
        *CLEAN,
        "--verify",
    )
    assert result.status == 0, result.err
    rows = {row["level"]: row for row in result.json()}
    assert set(rows) == {"Instance", "Series"}
    assert direct.get(("instances", rows["Instance"]["new_id"]))["Type"] == "Instance"
    assert direct.get(("series", rows["Series"]["new_id"]))["Type"] == "Series"
    remaining = set(direct.get("instances"))
    assert first["ID"] not in remaining and second["ID"] not in remaining
    assert len(remaining) == 2


def test_anonymize_refuses_unknown_and_malformed_ids_before_changing_anything(
    cli: Cli, direct: Any
) -> None:
    answer = store(direct, PatientID="CLIANON5")
    missing = "0" * 8 + "-00000000" * 4
    result = cli("anonymize", answer["ParentStudy"], missing)
    assert result.status == 5 and result.err.count("\n") == 1
    assert missing in result.err
    assert direct.get("studies") == [answer["ParentStudy"]]  # nothing was anonymized
    assert cli("anonymize", "not-an-id").status == 2
    assert cli("anonymize", answer["ID"], "--replace", "PatientName").status == 2


# ---- modify ----


def test_modify_replaces_and_removes_tags_at_any_level(cli: Cli, direct: Any) -> None:
    answer = store(direct, PatientID="CLIMOD1", **TAGS)
    result = cli(
        "-o",
        "json",
        "modify",
        answer["ParentStudy"],
        answer["ID"],
        "--replace",
        "StudyDescription=reviewed",
        "--remove",
        "InstitutionName",
    )
    assert result.status == 0, result.err
    study, instance = result.json()
    assert study["level"] == "Study" and instance["level"] == "Instance"
    for level, row in (("studies", study), ("instances", instance)):
        tags = simplified(direct, level, row["new_id"])
        assert tags["StudyDescription"] == "reviewed" and "InstitutionName" not in tags
        assert tags["PatientID"] == "CLIMOD1"


def test_modify_of_identifiers_needs_force(cli: Cli, direct: Any) -> None:
    answer = store(direct, PatientID="CLIMOD2")
    refused = cli("modify", answer["ParentPatient"], "--replace", "PatientID=CLIMOD3")
    assert refused.status == 6 and "force" in refused.err.lower()
    assert refused.err.count("\n") == 1
    done = cli(
        "-o", "json", "modify", answer["ParentPatient"], "--replace", "PatientID=CLIMOD3", "--force"
    )
    assert done.status == 0, done.err
    assert simplified(direct, "patients", done.json()[0]["new_id"])["PatientID"] == "CLIMOD3"
    assert cli("modify", answer["ParentStudy"]).status == 2  # nothing to change
    assert cli("modify", answer["ParentPatient"], "--replace", "PatientName=X").status == 2


# ---- jobs ----


def _archive_job(client: kkorthanc.Orthanc, resource: str) -> str:
    answer = client.post(
        ("tools", "create-archive"), json={"Resources": [resource], "Asynchronous": True}
    )
    return str(answer["ID"])


def test_jobs_ls_show_wait_and_control(cli: Cli, direct: Any) -> None:
    job_id = _archive_job(direct, store(direct, PatientID="CLIJOB1")["ParentStudy"])
    waited = cli("-o", "json", "jobs", "wait", job_id, "--timeout", "120")
    assert waited.status == 0, waited.err
    assert waited.json()["state"] == "Success" and waited.json()["progress"] == 100
    listed = cli("-o", "json", "jobs")
    assert job_id in [row["id"] for row in listed.json()]
    assert [row["id"] for row in cli("-o", "json", "jobs", "ls", "--state", "success").json()]
    assert cli("jobs", "ls", "--state", "sleeping").status == 2
    shown = cli("-o", "json", "jobs", "show", job_id).json()
    assert shown["type"] == "Archive" and shown["raw"]["ID"] == job_id
    assert cli("jobs", "pause", job_id).status == 0  # Orthanc ignores pausing a finished job
    refused = cli("jobs", "resume", job_id)
    assert refused.status == 6 and "is Success; only a paused job can be resumed" in refused.err
    assert cli("jobs", "show", "no-such-job").status == 5


def test_jobs_wait_redraws_progress_on_a_terminal_only(
    cli: Cli, direct: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    job_id = _archive_job(direct, store(direct, PatientID="CLIJOB4")["ParentStudy"])
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["jobs", "wait", job_id]) == 0
    assert f"\rjob {job_id}: Success 100%" in terminal.getvalue()
    assert terminal.getvalue().endswith("\n")
    assert cli("jobs", "wait", job_id).err == ""  # not a terminal: no progress lines


def test_a_failing_job_exits_6_with_orthancs_details_and_can_be_resubmitted(
    cli: Cli, direct: Any
) -> None:
    answer = store(direct, PatientID="CLIJOB2")
    (port,) = free_ports(1)
    modality = direct.modalities.configure("closed", aet="NOBODY", host="127.0.0.1", port=port)
    job = modality.c_store_job([answer["ID"]])
    failed = cli("jobs", "wait", job.id)
    assert failed.status == 6 and failed.err.count("\n") == 1
    assert job.id in failed.err and "refused" in failed.err.lower()
    row = cli("-o", "json", "jobs", "show", job.id).json()
    assert row["state"] == "Failure" and "refused" in row["error"].lower()
    assert cli("jobs", "resubmit", job.id).status == 0
    assert cli("jobs", "wait", job.id).status == 6


def test_cancel_a_job_stuck_on_a_silent_modality(cli: Cli, direct: Any) -> None:
    answer = store(direct, PatientID="CLIJOB3")
    with socket.socket() as silent:  # accepts TCP connections, never answers an association
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        modality = direct.modalities.configure("silent", aet="SILENT", host="127.0.0.1", port=port)
        job = modality.c_store_job([answer["ID"]])
        assert cli("jobs", "cancel", job.id).status == 0
        assert cli("jobs", "wait", job.id).status == 6  # a cancelled job ends in Failure
    assert cli("-o", "json", "jobs", "show", job.id).json()["state"] == "Failure"


# ---- changes and watch ----


def test_changes_lists_filters_and_pages(cli: Cli, direct: Any) -> None:
    base = str(last_seq(direct))
    first = store(direct, PatientID="CLICH1")
    store(direct, PatientID="CLICH2")
    everything = cli("-o", "json", "changes", "--since", base).json()
    assert [row["seq"] for row in everything] == list(range(int(base) + 1, int(base) + 9))
    studies = cli("-o", "json", "changes", "--since", base, "--type", "newstudy").json()
    assert [row["change_type"] for row in studies] == ["NewStudy", "NewStudy"]
    assert studies[0]["orthanc_id"] == first["ParentStudy"]
    page = cli("-o", "json", "changes", "--since", base, "--limit", "1")
    assert len(page.json()) == 1 and f"--since {page.json()[0]['seq']}" in page.err
    later = cli("-o", "json", "changes", "--since", str(everything[0]["seq"])).json()
    assert later == everything[1:]
    table = cli("changes", "--since", base, "--type", "NewPatient")
    assert table.out.splitlines()[0].split() == [
        "SEQ",
        "CHANGE_TYPE",
        "RESOURCE_TYPE",
        "ORTHANC_ID",
        "DATE",
    ]
    assert cli("changes", "--type", "NewThing").status == 2


def test_changes_limit_0_prints_every_change_of_many_pages(cli: Cli, direct: Any) -> None:
    """``--limit 0`` streams the whole feed (issue 11: it was held in memory); nothing is lost
    across pages of 100."""
    base = last_seq(direct)
    answers = [store(direct, PatientID=f"CLICHALL{i}") for i in range(30)]  # 4 changes each
    end = last_seq(direct)
    everything = cli("-o", "json", "changes", "--since", str(base), "--limit", "0")
    assert everything.status == 0 and "continue with" not in everything.err
    seqs = [row["seq"] for row in everything.json()]
    assert seqs[: end - base] == list(range(base + 1, end + 1)) and end - base >= 120
    table = cli("changes", "--since", str(base), "--limit", "0", "--type", "NewInstance")
    ids = [line.split()[3] for line in table.out.splitlines()[1:]]
    assert ids == [answer["ID"] for answer in answers]


def test_watch_prints_runs_exec_and_resumes_from_the_cursor(
    cli: Cli, direct: Any, tmp_path: Path
) -> None:
    base = last_seq(direct)
    answer = store(direct, PatientID="CLIW1")
    cursor, log = tmp_path / "cursor.txt", tmp_path / "log.txt"
    command = f'echo "$KK_CHANGE_SEQ $KK_CHANGE_TYPE $KK_ORTHANC_ID" >> {log}'
    first = cli(
        "-o",
        "json",
        "watch",
        "--since",
        str(base),
        "--count",
        "2",
        "--cursor",
        str(cursor),
        "--exec",
        command,
        "--interval",
        "0.1",
    )
    assert first.status == 0, first.err
    rows = first.lines()
    assert [row["seq"] for row in rows] == [base + 1, base + 2]
    assert rows[0]["orthanc_id"] == answer["ID"]
    assert log.read_text().splitlines()[0] == f"{base + 1} NewInstance {answer['ID']}"
    assert cursor.read_text().strip() == str(base + 2)
    second = cli("-o", "json", "watch", "--count", "2", "--cursor", str(cursor))
    assert [row["seq"] for row in second.lines()] == [base + 3, base + 4]
    assert [int(line.split()[0]) for line in log.read_text().splitlines()] == [base + 1, base + 2]
    studies = cli(
        "-o",
        "csv",
        "watch",
        "--since",
        str(base),
        "--type",
        "StableStudy",
        "--type",
        "NewStudy",
        "--count",
        "1",
    )
    header, line = studies.out.splitlines()
    assert (
        header.startswith("seq,change_type") and f",NewStudy,Study,{answer['ParentStudy']}" in line
    )


def test_watch_stops_when_the_command_fails_and_retries_that_change(
    cli: Cli, direct: Any, tmp_path: Path
) -> None:
    base = last_seq(direct) + 1
    store(direct, PatientID="CLIW2")
    cursor = tmp_path / "cursor.txt"
    failed = cli("watch", "--since", str(base), "--cursor", str(cursor), "--exec", "exit 3")
    assert failed.status == 1
    assert f"status 3 on change {base + 1}" in failed.err
    assert not cursor.exists()  # the failed change is not recorded as handled
    retried = cli(
        "-o",
        "json",
        "watch",
        "--cursor",
        str(cursor),
        "--since",
        str(base),
        "--count",
        "1",
        "--exec",
        "true",
    )
    assert [row["seq"] for row in retried.lines()] == [base + 1]
    assert cursor.read_text().strip() == str(base + 1)


def test_watch_follows_new_changes_until_ctrl_c(
    env: dict[str, str], direct: Any, tmp_path: Path
) -> None:
    last = direct.get("changes", params={"last": True})["Last"]
    cursor = tmp_path / "cursor.txt"
    argv = [
        str(KKORTHANC),
        "-o",
        "json",
        "watch",
        "--since",
        str(last),
        "--cursor",
        str(cursor),
        "--interval",
        "0.1",
        "--type",
        "NewInstance",
    ]
    process = subprocess.Popen(
        argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        answer = store(direct, PatientID="CLIW3")
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())  # blocks until the change is printed
        assert line["orthanc_id"] == answer["ID"] and line["change_type"] == "NewInstance"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "watch stopped after change" in err and "Traceback" not in err
    assert int(cursor.read_text()) >= line["seq"]
