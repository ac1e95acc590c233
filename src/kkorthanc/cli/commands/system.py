"""``system``, ``stats``, and raw ``get``/``post`` on any route."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ...errors import OrthancInputError
from .._command import EXIT_OK, add_command
from .._context import Context
from .._output import to_json
from .._progress import format_bytes

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``system``, ``stats``, ``get`` and ``post``.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import system
        >>> system.register(parser.add_subparsers())  # doctest: +SKIP
    """
    add_command(
        subparsers,
        "system",
        _run_system,
        "the server's identity and settings",
        "kkorthanc system --output json",
    )
    add_command(
        subparsers, "stats", _run_stats, "counts of resources and disk usage", "kkorthanc stats"
    )
    get = add_command(
        subparsers,
        "get",
        _run_get,
        "GET any route and print the JSON answer",
        "kkorthanc get /studies --param expand=true",
    )
    get.add_argument("route", help="the route, e.g. /system or patients")
    get.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a query value (repeatable)",
    )
    post = add_command(
        subparsers,
        "post",
        _run_post,
        "POST a JSON body to any route",
        'kkorthanc post /tools/find --json \'{"Level": "Study", "Query": {}}\'',
    )
    post.add_argument("route", help="the route, e.g. /tools/find")
    body = post.add_mutually_exclusive_group()
    body.add_argument("--json", dest="body", metavar="JSON", help="the JSON body")
    body.add_argument("--data", metavar="FILE", help="send this file's bytes ('-' for stdin)")


def _run_system(ctx: Context) -> int:
    """Print ``GET /system`` (every key the server sent)."""
    info = ctx.client().system()
    ctx.record(dict(info.raw))
    return EXIT_OK


def _run_stats(ctx: Context) -> int:
    """Print counts and sizes; JSON keys: ``patients``, ``studies``, ``series``, ``instances``,
    ``disk_size``, ``uncompressed_size`` (bytes, integers)."""
    stats = ctx.client().statistics()
    record: dict[str, Any] = {
        "patients": stats.count_patients,
        "studies": stats.count_studies,
        "series": stats.count_series,
        "instances": stats.count_instances,
        "disk_size": stats.total_disk_size,
        "uncompressed_size": stats.total_uncompressed_size,
    }
    if ctx.output == "table":
        record["disk_size"] = format_bytes(stats.total_disk_size)
        record["uncompressed_size"] = format_bytes(stats.total_uncompressed_size)
    ctx.record(record)
    return EXIT_OK


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OrthancInputError(f"--param expects KEY=VALUE, got {pair!r}")
        params[key] = value
    return params


def _run_get(ctx: Context) -> int:
    """GET a route; JSON answers are printed as JSON, text as is."""
    value = ctx.client().get(ctx.args.route.lstrip("/"), params=_params(ctx.args.param))
    _print_raw(ctx, value)
    return EXIT_OK


def _run_post(ctx: Context) -> int:
    """POST a JSON body or a file's bytes to a route."""
    route = ctx.args.route.lstrip("/")
    if ctx.args.data is not None:
        data = sys.stdin.buffer.read() if ctx.args.data == "-" else Path(ctx.args.data).read_bytes()
        value = ctx.client().post(route, data=data)
    else:
        try:
            body = json.loads(ctx.args.body) if ctx.args.body is not None else None
        except ValueError as error:
            raise OrthancInputError(f"--json is not valid JSON: {error}") from error
        value = ctx.client().post(route, json=body if body is not None else {})
    _print_raw(ctx, value)
    return EXIT_OK


def _print_raw(ctx: Context, value: Any) -> None:
    if isinstance(value, str):
        ctx.stdout.write(value + ("" if value.endswith("\n") else "\n"))
    elif value is not None:
        ctx.stdout.write(to_json(value) + "\n")
