"""The command line without a server: help, output formats, progress, profiles, error mapping."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from kkorthanc import errors
from kkorthanc.cli import main
from kkorthanc.cli._app import build_parser, explain
from kkorthanc.cli._context import Context
from kkorthanc.cli._output import render_record, render_rows
from kkorthanc.cli._profiles import load_profile, save_profile
from kkorthanc.cli._progress import Progress, format_bytes
from kkorthanc.server._launcher import OrthancNotInstalledError


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[Any]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((" ".join((*prefix, name)), sub))
                found.extend(_commands(sub, (*prefix, name)))
    return found


_COMMANDS = {
    "upload",
    "download",
    "ls",
    "tree",
    "show",
    "find",
    "lookup",
    "delete",
    "preview",
    "stats",
    "system",
    "get",
    "post",
    "server start",
    "server status",
    "server stop",
    "server logs",
    "server config",
    "server compose",
}


def test_every_command_has_help_with_an_example() -> None:
    commands = dict(_commands(build_parser()))
    assert set(commands) >= _COMMANDS
    for name, parser in commands.items():
        assert "example:" in parser.format_help(), name
        assert parser.description, name


def test_help_exits_0_and_documents_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "exit status" in out
    assert main(["server", "start", "--help"]) == 0
    assert "--postgres" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--limit", "many"]) == 2
    assert "invalid int value" in capsys.readouterr().err
    assert main(["nosuchcommand"]) == 2


def test_table_json_csv() -> None:
    rows = [{"orthanc_id": "a", "PatientName": "Doe^J", "n": 1, "flag": True, "x": None}]
    table = io.StringIO()
    render_rows(rows, ["orthanc_id", "PatientName", "flag", "x"], "table", table)
    assert table.getvalue().splitlines() == [
        "ORTHANC_ID  PATIENTNAME  FLAG  X",
        "a           Doe^J        yes",
    ]
    as_json = io.StringIO()
    render_rows(rows, ["orthanc_id"], "json", as_json)
    assert json.loads(as_json.getvalue()) == rows  # JSON keeps every key
    as_csv = io.StringIO()
    render_rows(rows, ["orthanc_id", "n", "x"], "csv", as_csv)
    assert as_csv.getvalue() == "orthanc_id,n,x\na,1,\n"
    record = io.StringIO()
    render_record({"name": "王^小東"}, "json", record)
    assert "王^小東" in record.getvalue()


def test_table_fits_a_terminal_but_keeps_orthanc_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("COLUMNS", "60")
    orthanc_id = "8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d"
    stream = Terminal()
    render_rows([{"orthanc_id": orthanc_id, "d": "x" * 80}], ["orthanc_id", "d"], "table", stream)
    lines = stream.getvalue().splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert orthanc_id in lines[1]
    assert lines[1].endswith("…")


def test_progress_plain_lines_and_terminal_bar() -> None:
    plain = io.StringIO()
    progress = Progress("upload", 20, plain, enabled=True, tty=False)
    for _ in range(20):
        progress.advance(nbytes=1024)
    progress.finish()
    lines = plain.getvalue().splitlines()
    assert 2 <= len(lines) <= 11  # one line per tenth, not one per file
    assert lines[-1].startswith("upload: 20/20 files, 20.0 KB")
    bar = io.StringIO()
    tty = Progress("download", 4, bar, enabled=True, tty=True)
    tty.update(2, 4, 2048, 1)
    tty.finish()
    assert "\r[" in bar.getvalue()
    assert "1 failed" in bar.getvalue()
    quiet = io.StringIO()
    Progress("x", 1, quiet, enabled=False, tty=False).advance()
    assert quiet.getvalue() == ""
    assert format_bytes(3 * 1024 * 1024) == "3.0 MB"


def test_profiles_toml_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "config.toml"))
    assert load_profile(None) == {}
    path = save_profile("lab", {"url": "http://pacs:8042", "user": "alice", "password": 'p"w'})
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_profile("lab")["password"] == 'p"w'
    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "config.json"))
    (tmp_path / "config.json").write_text(
        json.dumps({"default": "x", "profiles": {"x": {"url": "u"}}})
    )
    assert load_profile(None) == {"url": "u"}
    (tmp_path / "config.json").write_text(json.dumps({"profiles": {"x": {"colour": "red"}}}))
    with pytest.raises(errors.OrthancInputError, match="unknown keys"):
        load_profile("x")


def _context(**options: Any) -> Context:
    defaults = {
        "url": None,
        "user": None,
        "password_stdin": False,
        "token": None,
        "insecure": False,
        "ca": None,
        "timeout": None,
        "profile": None,
    }
    return Context(argparse.Namespace(**{**defaults, **options}))


def test_client_options_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "c.toml"))
    monkeypatch.delenv("ORTHANC_URL", raising=False)
    (tmp_path / "c.toml").write_text(
        'default = "lab"\n[profiles.lab]\nurl = "http://lab:8042"\ntoken = "t"\ninsecure = true\n'
        '[profiles.other]\nurl = "http://other:8042"\nuser = "bob"\npassword = "pw"\ntimeout = 9\n'
    )
    assert _context().client_options() == {"url": "http://lab:8042", "token": "t", "verify": False}
    other = _context(profile="other", url="http://flag:1").client_options()
    assert other == {"url": "http://flag:1", "auth": ("bob", "pw"), "verify": True, "timeout": 9.0}
    monkeypatch.setenv("ORTHANC_URL", "http://env:8042")
    assert _context().client_options()["url"] is None  # the library reads ORTHANC_* itself
    assert _context(ca="/etc/ca.pem").client_options()["verify"] == "/etc/ca.pem"


_STATISTICS = {
    "CountPatients": 1,
    "CountStudies": 2,
    "CountSeries": 3,
    "CountInstances": 4,
    "TotalDiskSize": "2048",
    "TotalUncompressedSize": "4096",
}


def test_stats_through_a_mock_transport(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "none.toml"))
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=_STATISTICS)

    original = Context.client_options
    monkeypatch.setattr(
        Context,
        "client_options",
        lambda self: {**original(self), "transport": httpx.MockTransport(handler)},
    )
    assert main(["--url", "http://mock:8042", "-o", "json", "stats"]) == 0
    assert json.loads(capsys.readouterr().out)["disk_size"] == 2048
    assert seen == ["/statistics"]


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (errors.UnauthorizedError(401, "GET", "u", "Unauthorized"), 4, "--user"),
        (errors.ForbiddenError(403, "GET", "u", "Forbidden"), 4, "forbids"),
        (errors.NotFoundError(404, "GET", "http://h/studies/1", "Unknown"), 5, "lookup"),
        (errors.NotFoundError(404, "GET", "http://h/modalities/x", "Unknown"), 5, "modality ls"),
        (errors.NotFoundError(404, "GET", "http://h/system", "Unknown"), 5, "path prefix"),
        (errors.ServerError(500, "POST", "u", "Internal error"), 6, "500"),
        (errors.OrthancConnectionError("refused"), 3, "server start"),
        (errors.OrthancTLSError("bad certificate"), 3, "--ca"),
        (errors.OrthancTimeoutError("slow"), 3, "--timeout"),
        (errors.UnsupportedFeatureError("labels need 1.12"), 6, "labels"),
        (errors.OrthancInputError("bad"), 2, "bad"),
        (OrthancNotInstalledError("no Orthanc"), 7, "no Orthanc"),
        (FileNotFoundError(2, "No such file or directory", "x.dcm"), 8, "x.dcm"),
    ],
)
def test_exit_statuses(error: BaseException, status: int, words: str) -> None:
    got_status, message = explain(error)
    assert got_status == status
    assert words in message
    assert "\n" not in message


def test_help_lists_the_modality_actions_and_the_concurrency_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "ls (default), add, rm, echo" in " ".join(build_parser().format_help().split())
    assert main(["upload", "--help"]) == 0
    upload = " ".join(capsys.readouterr().out.split())
    assert "--concurrency N files sent at the same time (default 4" in upload
