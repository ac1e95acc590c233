"""``kkorthanc changes`` and ``watch`` through a mock transport: rows stream out page by page."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import kkorthanc
from kkorthanc._client._sync._changes import write_cursor
from kkorthanc.cli import main
from kkorthanc.cli._context import Context
from kkorthanc.cli._output import to_json

PAGES = 3  # pages of 100 changes: the feed's end is at 300
ID = "0" * 8 + "-" + "-".join(["1" * 8] * 4)


def change(seq: int) -> dict[str, Any]:
    return {
        "ChangeType": "NewInstance",
        "Date": "20240102T030405",
        "ID": ID,
        "Path": f"/instances/{ID}",
        "ResourceType": "Instance",
        "Seq": seq,
    }


class Feed:
    """A changes feed of PAGES pages that notes, for each page asked, what stdout held then."""

    def __init__(self, stdout: io.StringIO) -> None:
        self.stdout = stdout
        self.seen: list[tuple[int, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        since = int(request.url.params["since"])
        self.seen.append((since, self.stdout.getvalue()))
        seqs = range(since + 1, min(since + 100, 100 * PAGES) + 1)
        body = {
            "Changes": [change(seq) for seq in seqs],
            "Done": since + 100 >= 100 * PAGES,
            "Last": max(since, seqs.stop - 1),
        }
        return httpx.Response(200, json=body)


@pytest.fixture
def feed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Feed:
    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "none.toml"))
    served = Feed(io.StringIO())
    original_init, original = Context.__init__, Context.client_options

    def init(self: Context, args: Any) -> None:
        original_init(self, args)
        self.stdout = served.stdout

    monkeypatch.setattr(Context, "__init__", init)
    monkeypatch.setattr(
        Context,
        "client_options",
        lambda self: {**original(self), "transport": httpx.MockTransport(served)},
    )
    return served


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_changes_limit_0_writes_rows_before_the_last_page_is_fetched(feed: Feed, fmt: str) -> None:
    """Issue 11: `changes --limit 0` kept every row in memory until the feed's end."""
    assert main(["--url", "http://mock:8042", "-o", fmt, "changes", "--limit", "0"]) == 0
    assert [since for since, _ in feed.seen] == [0, 100, 200]
    before_last = feed.seen[-1][1]
    assert "100" in before_last and ID in before_last  # page 2 was out before page 3 came
    out = feed.stdout.getvalue()
    if fmt == "json":
        rows = json.loads(out)
        assert [row["seq"] for row in rows] == list(range(1, 301))
        assert out == to_json(rows) + "\n"  # the same array as every other -o json list
    else:
        lines = out.splitlines()
        assert len(lines) == 301 and lines[0].replace(",", " ").split()[0].lower() == "seq"
        assert lines[-1].replace(",", " ").split()[:4] == ["300", "NewInstance", "Instance", ID]


def test_changes_with_no_rows_and_with_a_limit(feed: Feed, capsys: Any) -> None:
    assert main(["--url", "http://mock:8042", "-o", "json", "changes", "--since", "300"]) == 0
    assert json.loads(feed.stdout.getvalue()) == []
    feed.stdout.seek(0)
    feed.stdout.truncate()
    assert main(["--url", "http://mock:8042", "-o", "json", "changes", "--limit", "150"]) == 0
    assert len(json.loads(feed.stdout.getvalue())) == 150
    assert "continue with --since 150" in capsys.readouterr().err


def test_the_library_fetches_pages_lazily(feed: Feed) -> None:
    with kkorthanc.Orthanc("http://mock:8042", transport=httpx.MockTransport(feed)) as client:
        changes = client.iter_changes()
        assert next(iter(changes)).seq == 1
        assert [since for since, _ in feed.seen] == [0]


def test_watch_cursor_never_writes_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    cursor = tmp_path / "cursor.txt"
    cursor.symlink_to(victim)
    write_cursor(cursor, 12)  # renamed over the link: the link goes, its target stays
    assert victim.read_text() == "precious\n"
    assert not cursor.is_symlink() and cursor.read_text() == "12\n"
