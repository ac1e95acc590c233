"""Export names, exit statuses and progress lines that cannot mislead (issue 11)."""

from __future__ import annotations

import io

import pytest

from kkorthanc._transfer.plan.naming import sanitize
from kkorthanc.cli._app import explain
from kkorthanc.cli._command import EXIT_FILE
from kkorthanc.cli._progress import Progress
from kkorthanc.errors import TransferTargetError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("CONIN$", "_CONIN$"),
        ("conout$.dcm", "_conout$.dcm"),
        ("CLOCK$", "_CLOCK$"),
        ("COM\u00b9", "_COM\u00b9"),
        ("com\u00b2.txt", "_com\u00b2.txt"),
        ("LPT\u00b3", "_LPT\u00b3"),
        ("COM1 .dcm", "_COM1 .dcm"),
        ("COMMON", "COMMON"),
        ("COM10", "COM10"),
    ],
)
def test_windows_device_names_are_rewritten(value: str, expected: str) -> None:
    assert sanitize(value) == expected


@pytest.mark.parametrize(
    "control",
    [
        "\u202e",
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200e",
        "\u200f",
        "\u061c",
        "\x85",
        "\x9b",
    ],
)
def test_bidirectional_and_c1_controls_are_rewritten(control: str) -> None:
    name = sanitize(f"Smith{control}gpj.exe")
    assert name == "Smith_gpj.exe"


def test_a_read_only_target_exits_with_the_file_status() -> None:
    status, message = explain(TransferTargetError("cannot write into /ro", path="/ro"))
    assert status == EXIT_FILE == 8
    assert "/ro" in message


def test_progress_never_shows_negative_time_when_an_archive_holds_more_files() -> None:
    stream = io.StringIO()
    bar = Progress("upload", 2, stream, enabled=True, tty=True)
    bar.update(7, 2, 7 * 1024, 0)  # two archives counted, seven members found so far
    line = bar.line()
    assert "-" not in line and "left" not in line
    assert line.startswith("upload: 7 files")
    bar.finish()
    assert "-" not in stream.getvalue().replace("\r", "")


def test_progress_plain_mode_past_the_total() -> None:
    stream = io.StringIO()
    bar = Progress("download", 1, stream, enabled=True, tty=False)
    for _ in range(3):
        bar.advance(nbytes=10)
    bar.finish()
    assert "left" not in stream.getvalue().splitlines()[-1]
    assert "-" not in stream.getvalue()
