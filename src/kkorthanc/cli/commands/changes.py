"""``changes`` (the changes feed, page by page) and ``watch`` (follow it, run a command per
change, resume from a cursor file)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kkorthanc

from ...errors import OrthancInputError
from .._command import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, add_command
from .._context import Context
from .._output import to_json

__all__ = ["CHANGE_TYPES", "change_environment", "change_row", "register"]

# Orthanc's change types (the ``ChangeType`` of ``/changes``).
CHANGE_TYPES = (
    "AnonymizedPatient",
    "AnonymizedSeries",
    "AnonymizedStudy",
    "CompletedSeries",
    "Deleted",
    "ModifiedPatient",
    "ModifiedSeries",
    "ModifiedStudy",
    "NewChildInstance",
    "NewInstance",
    "NewPatient",
    "NewSeries",
    "NewStudy",
    "StablePatient",
    "StableSeries",
    "StableStudy",
    "UpdatedAttachment",
    "UpdatedMetadata",
    "UpdatedModalities",
    "UpdatedPeers",
)
COLUMNS = ["seq", "change_type", "resource_type", "orthanc_id", "date"]
DEFAULT_LIMIT = 100


def register(subparsers: Any) -> None:
    """Add ``changes`` and ``watch``.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import changes
        >>> changes.register(parser.add_subparsers())  # doctest: +SKIP
    """
    changes = add_command(
        subparsers,
        "changes",
        _run_changes,
        "the server's changes feed (new, stable, modified, deleted resources)",
        "kkorthanc changes --since 120 --type NewStudy --type StableStudy",
    )
    changes.add_argument(
        "--since", type=int, default=0, metavar="SEQ", help="after this sequence number (default 0)"
    )
    _types_option(changes)
    changes.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"at most this many (default {DEFAULT_LIMIT}; 0: all)",
    )
    watch = add_command(
        subparsers,
        "watch",
        _run_watch,
        "follow new changes: one line (or JSON object) each, a command per change; Ctrl-C stops",
        "kkorthanc watch --type StableStudy --cursor seen.txt --exec 'echo $KK_ORTHANC_ID'",
    )
    _types_option(watch)
    watch.add_argument(
        "--cursor",
        type=Path,
        metavar="FILE",
        help="resume after the change stored here; store each handled one",
    )
    watch.add_argument(
        "--exec",
        dest="command",
        metavar="CMD",
        help="shell command run per change, with KK_* variables set",
    )
    watch.add_argument(
        "--since",
        type=int,
        metavar="SEQ",
        help="start after this sequence number (default: cursor, else now)",
    )
    watch.add_argument("--count", type=int, metavar="N", help="stop after N changes")
    watch.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="pause between polls when nothing is new (default 1)",
    )


def _types_option(parser: Any) -> None:
    parser.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        metavar="TYPE",
        help="only this change type (repeatable), e.g. StableStudy",
    )


def _types(names: Sequence[str]) -> set[str] | None:
    """Orthanc's spelling of each type, case-insensitively.

    Raises:
        OrthancInputError: An unknown change type.
    """
    known = {name.lower(): name for name in CHANGE_TYPES}
    unknown = [name for name in names if name.lower() not in known]
    if unknown:
        raise OrthancInputError(
            f"unknown change type(s) {', '.join(unknown)}; use {', '.join(CHANGE_TYPES)}"
        )
    return {known[name.lower()] for name in names} or None


def change_row(change: kkorthanc.Change) -> dict[str, Any]:
    """A flat row of a change: ``seq``, ``change_type``, ``resource_type``, ``orthanc_id``,
    ``path``, ``date`` (ISO 8601).

    Example:
        >>> change_row(next(iter(client.iter_changes())))["seq"]  # doctest: +SKIP
        1
    """
    return {
        "seq": change.seq,
        "change_type": change.change_type,
        "resource_type": change.resource_type,
        "orthanc_id": change.id,
        "path": change.path,
        "date": change.date.isoformat() if change.date else None,
    }


def change_environment(change: kkorthanc.Change, url: str) -> dict[str, str]:
    """The variables ``watch --exec`` adds to the command's environment for one change.

    Example:
        >>> sorted(change_environment(change, "http://localhost:8042/"))  # doctest: +SKIP
        ['KK_CHANGE_DATE', 'KK_CHANGE_JSON', 'KK_CHANGE_PATH', 'KK_CHANGE_SEQ', ...]
    """
    row = change_row(change)
    return {
        "KK_CHANGE_SEQ": str(change.seq),
        "KK_CHANGE_TYPE": change.change_type,
        "KK_RESOURCE_TYPE": change.resource_type,
        "KK_ORTHANC_ID": change.id,
        "KK_CHANGE_PATH": change.path,
        "KK_CHANGE_DATE": row["date"] or "",
        "KK_CHANGE_JSON": json.dumps(row, ensure_ascii=False),
        "KK_ORTHANC_URL": url,
    }


def _run_changes(ctx: Context) -> int:
    """Print the feed row by row as its pages come (memory stays flat with ``--limit 0``); say
    where to continue when the limit was reached."""
    if ctx.args.limit < 0 or ctx.args.since < 0:
        raise OrthancInputError("--since and --limit must not be negative")
    limit = ctx.args.limit or None
    found = ctx.client().iter_changes(
        since=ctx.args.since, types=_types(ctx.args.types), limit=limit
    )
    printer = _Printer(ctx, header=True, array=True)
    for change in found:
        printer(change_row(change))
    printer.close()
    if limit is not None and printer.count == limit:
        ctx.info(f"{limit} changes shown; continue with --since {printer.last_seq}")
    return EXIT_OK


# The aligned text of a change: (column, width; negative: right-aligned).
_WIDTHS = (("seq", -6), ("change_type", 17), ("resource_type", 13), ("orthanc_id", 44))


class _Printer:
    """Writes one change per row as it comes: aligned text, JSON, or a CSV row.

    Columns have fixed widths, so nothing waits for the last row. JSON is one object per line
    (JSON Lines), or with ``array`` the same indented array that ``-o json`` prints elsewhere,
    written element by element (``close`` ends it).
    """

    def __init__(self, ctx: Context, *, header: bool = False, array: bool = False) -> None:
        self._ctx = ctx
        self._array = array and ctx.output == "json"
        self._csv = csv.writer(ctx.stdout, lineterminator="\n") if ctx.output == "csv" else None
        self.count = 0
        self.last_seq: int | None = None
        if self._csv is not None:
            self._csv.writerow(COLUMNS)
        elif header and ctx.output == "table":
            self._text({column: column.upper() for column in COLUMNS})

    def __call__(self, row: dict[str, Any]) -> None:
        if self._array:
            item = "\n".join("  " + line for line in to_json(row).split("\n"))
            self._ctx.stdout.write(("[\n" if self.count == 0 else ",\n") + item)
        elif self._ctx.output == "json":
            self._ctx.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif self._csv is not None:
            self._csv.writerow(["" if row[key] is None else row[key] for key in COLUMNS])
        else:
            self._text(row)
        self._ctx.stdout.flush()
        self.count += 1
        self.last_seq = row["seq"]

    def _text(self, row: dict[str, Any]) -> None:
        cells = [
            f"{row[key]!s:>{-width}}" if width < 0 else f"{row[key]!s:<{width}}"
            for key, width in _WIDTHS
        ]
        self._ctx.stdout.write("  ".join([*cells, str(row["date"] or "")]).rstrip() + "\n")

    def close(self) -> None:
        """End the JSON array (``[]`` when there was no row)."""
        if self._array:
            self._ctx.stdout.write("[]\n" if self.count == 0 else "\n]\n")
            self._ctx.stdout.flush()


def _run_watch(ctx: Context) -> int:
    """Follow the feed until --count, a failed --exec command (exit 1) or Ctrl-C (exit 130)."""
    args = ctx.args
    if args.count is not None and args.count <= 0:
        raise OrthancInputError("--count must be positive")
    client = ctx.client()
    watch = client.watch(
        types=_types(args.types), since=args.since, cursor_file=args.cursor, interval=args.interval
    )
    printer, seen = _Printer(ctx), 0
    with _Interrupts(watch) as interrupts:
        try:
            for change in watch:
                printer(change_row(change))
                status = _execute(args.command, change, client.url) if args.command else 0
                if status != 0:  # this change stays unhandled: a resumed watch retries it
                    return _stopped(ctx, interrupts.requested, change, status)
                seen += 1
                if args.count is not None and seen >= args.count:
                    watch.stop()
        except KeyboardInterrupt:  # a second Ctrl-C: stop at once
            interrupts.requested = True
    if interrupts.requested:
        ctx.info(f"kkorthanc: watch stopped after change {watch.last_seq}{_resume(args)}")
        return EXIT_INTERRUPTED
    return EXIT_OK


class _Interrupts:
    """Turns the first Ctrl-C into ``watch.stop()``, so the watch ends between two changes with
    its cursor written; a second Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self, watch: kkorthanc.Watch) -> None:
        self.watch = watch
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        self.watch.stop()
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _resume(args: Any) -> str:
    return f"; `--cursor {args.cursor}` resumes after it" if args.cursor else ""


def _stopped(ctx: Context, interrupted: bool, change: kkorthanc.Change, status: int) -> int:
    where = f"change {change.seq} ({change.change_type} {change.id})"
    if interrupted:
        ctx.info(f"kkorthanc: watch interrupted during --exec on {where}; it will be retried")
        return EXIT_INTERRUPTED
    ctx.stderr.write(
        f"kkorthanc: --exec exited with status {status} on {where}; stopped, and a watch "
        f"resumed with the same --cursor/--since retries it\n"
    )
    return EXIT_PARTIAL


def _execute(command: str, change: kkorthanc.Change, url: str) -> int:
    """Run the --exec command for one change (through the shell); its exit status."""
    environment = {**os.environ, **change_environment(change, url)}
    return subprocess.run(command, shell=True, env=environment, check=False).returncode
