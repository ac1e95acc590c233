"""The changes feed and the resumable watch, on real servers."""

from __future__ import annotations

import threading
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from _ops_data import ct_bytes, upload

from kkorthanc.errors import OrthancInputError, OrthancTimeoutError


def test_changes_iterates_over_every_page(client: Any) -> None:
    answers = [upload(client, ct_bytes(PatientID=f"CHG{i}")) for i in range(30)]
    changes = list(client.iter_changes())  # 4 changes per upload: more than one page of 100
    seqs = [change.seq for change in changes]
    assert len(changes) >= 120 and seqs == sorted(set(seqs))
    new_instances = [c.id for c in changes if c.change_type == "NewInstance"]
    assert new_instances == [a["ID"] for a in answers]
    assert [c.id for c in client.iter_changes(types={"NewPatient"}, limit=2)] == [
        answers[0]["ParentPatient"],
        answers[1]["ParentPatient"],
    ]
    after = list(client.iter_changes(since=seqs[-2]))
    assert [c.seq for c in after] == [seqs[-1]]  # since is exclusive
    assert changes[0].date is not None and changes[0].path.startswith("/")


def test_watch_sees_stable_study_and_resumes_from_the_cursor(client: Any, tmp_path: Path) -> None:
    cursor = tmp_path / "cursor.txt"
    watch = client.watch(
        types={"StableStudy"}, since=0, cursor_file=cursor, interval=0.2, timeout=60
    )
    first = upload(client, ct_bytes(PatientID="WATCH1"))
    for change in watch:
        assert change.id == first["ParentStudy"]
        watch.stop()  # the change counts as handled
    handled = int(cursor.read_text())
    assert handled >= 1
    second = upload(client, ct_bytes(PatientID="WATCH2"))
    resumed = client.watch(types={"StableStudy"}, cursor_file=cursor, interval=0.2, timeout=60)
    for change in resumed:  # resumes after the first: sees the second only
        assert change.id == second["ParentStudy"]
        assert change.seq > handled
        resumed.stop()
    assert int(cursor.read_text()) > handled


def test_break_leaves_the_change_to_be_handed_out_again(client: Any, tmp_path: Path) -> None:
    cursor = tmp_path / "cursor.txt"
    answer = upload(client, ct_bytes(PatientID="WATCH3"))
    watch = client.watch(types={"NewStudy"}, since=0, cursor_file=cursor, timeout=60)
    for _change in watch:
        break
    again = client.watch(types={"NewStudy"}, cursor_file=cursor, timeout=60)
    for change in again:
        assert change.id == answer["ParentStudy"]
        again.stop()


def test_watch_stops_from_another_thread_and_times_out(client: Any) -> None:
    watch = client.watch(interval=0.1)
    stopper = threading.Timer(0.3, watch.stop)
    stopper.start()
    assert list(watch) == []
    stopper.join()
    with pytest.raises(OrthancTimeoutError):
        list(client.watch(interval=0.1, timeout=0.3))


def test_timeout_applies_while_catching_up(client: Any, tmp_path: Path) -> None:
    """Issue 11: the timeout was checked only once the feed's end was reached, so a watch
    behind a long backlog handed out every old change past its timeout."""
    base = int(client.get("changes", params={"last": True})["Last"])
    for i in range(30):  # 120 changes: a backlog of more than one page
        upload(client, ct_bytes(PatientID=f"BACKLOG{i}"))
    cursor = tmp_path / "cursor.txt"
    watch = client.watch(since=base, cursor_file=cursor, timeout=1e-6)  # passed at once
    seen: list[int] = []
    with pytest.raises(OrthancTimeoutError, match="timeout"):
        seen.extend(change.seq for change in watch)
    assert seen == []  # stopped by the timeout, not after the 120 changes of the backlog
    assert not cursor.exists() and watch.last_seq == base
    caught_up = client.watch(since=base, timeout=60)
    assert [change.seq for change in islice(caught_up, 120)] == list(range(base + 1, base + 121))


def test_bad_arguments(client: Any, tmp_path: Path) -> None:
    with pytest.raises(OrthancInputError):
        client.watch(interval=0)
    bad = tmp_path / "cursor.txt"
    bad.write_text("not a number")
    with pytest.raises(OrthancInputError):
        client.watch(cursor_file=bad)
    with pytest.raises(OrthancInputError):
        list(client.iter_changes(since=-1))
