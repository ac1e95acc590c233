"""Render command results as a table that fits the terminal, JSON, or CSV."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

__all__ = ["FORMATS", "render_record", "render_rows"]

FORMATS = ("table", "json", "csv")
_MIN_WIDTH = 6
_ELLIPSIS = "…"


def render_rows(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str, stream: TextIO
) -> None:
    """Write ``rows`` (dicts) in ``fmt``; JSON keeps every key, table and CSV the ``columns``."""
    if fmt == "json":
        stream.write(to_json(list(rows)) + "\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(row.get(column)) for column in columns] for row in rows])
    else:
        _table(rows, columns, stream)


def render_record(record: Mapping[str, Any], fmt: str, stream: TextIO) -> None:
    """Write one object: JSON object, one-row CSV, or a two-column ``key  value`` table."""
    if fmt == "json":
        stream.write(to_json(dict(record)) + "\n")
    elif fmt == "csv":
        render_rows([record], list(record), fmt, stream)
    else:
        rows = [{"key": key, "value": value} for key, value in record.items()]
        _table(rows, ["key", "value"], stream, header=False)


def to_json(value: Any) -> str:
    """Stable JSON: indented, UTF-8 characters kept, unknown objects as strings."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], stream: TextIO, header: bool = True
) -> None:
    cells = [[_cell(row.get(column)).replace("\n", " ") for column in columns] for row in rows]
    if header:
        cells.insert(0, [column.upper() for column in columns])
    if not cells:
        return
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    if getattr(stream, "isatty", lambda: False)():
        widths = _fit(widths, [column == "orthanc_id" for column in columns])
    for row in cells:
        parts = [_clip(text, width) for text, width in zip(row, widths, strict=True)]
        stream.write(
            "  ".join(part.ljust(width) for part, width in zip(parts, widths, strict=True)).rstrip()
        )
        stream.write("\n")


def _fit(widths: list[int], keep: list[bool]) -> list[int]:
    """Shrink the widest columns (never the ``keep`` ones, e.g. Orthanc IDs) until the table
    fits the terminal's width."""
    available = shutil.get_terminal_size((120, 24)).columns - 2 * (len(widths) - 1)
    widths = list(widths)
    while sum(widths) > available:
        widest = max(range(len(widths)), key=lambda i: -1 if keep[i] else widths[i])
        if keep[widest] or widths[widest] <= _MIN_WIDTH:
            break
        widths[widest] -= 1
    return widths


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + _ELLIPSIS
