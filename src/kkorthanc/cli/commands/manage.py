"""``delete`` (with confirmation) and ``preview`` (a PNG, or a montage of a series)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..._dicom.images import undecodable_frames
from ...errors import NotFoundError, OrthancHTTPError, OrthancInputError
from .._command import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, add_command
from .._context import Context
from .browse import detect

__all__ = ["register"]

MONTAGE_TILE = 256
MONTAGE_MAX = 64


def register(subparsers: Any) -> None:
    """Add ``delete`` and ``preview``.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import manage
        >>> manage.register(parser.add_subparsers())  # doctest: +SKIP
    """
    delete = add_command(
        subparsers,
        "delete",
        _run_delete,
        "delete resources (asks first)",
        "kkorthanc delete STUDY_ID SERIES_ID --yes",
    )
    delete.add_argument("ids", nargs="+", metavar="ID", help="Orthanc IDs, any level")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask")
    preview = add_command(
        subparsers,
        "preview",
        _run_preview,
        "an instance's PNG preview, or a montage of a series",
        "kkorthanc preview SERIES_ID --out series.png",
    )
    preview.add_argument("orthanc_id", metavar="ID", help="an instance or a series")
    preview.add_argument("--out", type=Path, required=True, metavar="FILE.png")


def _run_delete(ctx: Context) -> int:
    """Delete each resource; rows say ``deleted`` or ``not_found``; exit 1 if any failed."""
    client = ctx.client()
    found, rows = [], []
    for orthanc_id in ctx.args.ids:
        try:
            found.append(detect(client, orthanc_id))
        except NotFoundError:
            rows.append({"orthanc_id": orthanc_id, "level": None, "outcome": "not_found"})
    if found:
        names = ", ".join(f"{r.level.value.lower()} {r.id}" for r in found)
        if not ctx.confirm(f"Delete {names} and everything under them?"):
            ctx.info("nothing deleted")
            return EXIT_USAGE
    for resource in found:
        row = {"orthanc_id": resource.id, "level": resource.level.value, "outcome": "deleted"}
        try:
            resource.delete()
        except OrthancHTTPError as error:
            row.update(outcome="failed", detail=str(error))
        rows.append(row)
    ctx.rows(rows, ["orthanc_id", "level", "outcome"])
    return EXIT_OK if all(row["outcome"] == "deleted" for row in rows) else EXIT_PARTIAL


def _run_preview(ctx: Context) -> int:
    """Write the preview PNG of an instance, or a grid of a series' previews."""
    client = ctx.client()
    resource = detect(client, ctx.args.orthanc_id)
    level = resource.level.value
    if level == "Instance":
        png = resource.preview()  # a 415 names the transfer syntax and the fix
    elif level == "Series":
        png = resource.montage(size=MONTAGE_TILE, max_frames=MONTAGE_MAX)  # frames, near-square
        for line in undecodable_frames(png):
            ctx.info(f"placeholder for instance {line}")
    else:
        raise OrthancInputError(f"preview takes an instance or a series, not a {level.lower()}")
    ctx.args.out.parent.mkdir(parents=True, exist_ok=True)
    ctx.args.out.write_bytes(png)
    ctx.info(f"wrote {ctx.args.out} ({len(png)} bytes)")
    return EXIT_OK
