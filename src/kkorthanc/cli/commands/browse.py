"""``ls``, ``tree``, ``show``, ``find`` and ``lookup``: browse what the server holds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import kkorthanc

from ...errors import NotFoundError, OrthancInputError
from .._command import EXIT_NOT_FOUND, EXIT_OK, add_command
from .._context import Context
from .._output import to_json

__all__ = ["LEVELS", "collection", "detect", "parse_level", "register", "resource_row"]

LEVELS = ("patients", "studies", "series", "instances")
_ALIASES = {
    "patient": "patients",
    "patients": "patients",
    "study": "studies",
    "studies": "studies",
    "series": "series",
    "instance": "instances",
    "instances": "instances",
}
# Columns of the table output, per level (JSON and CSV rows carry every main tag).
COLUMNS = {
    "patients": ["orthanc_id", "PatientID", "PatientName", "PatientBirthDate", "PatientSex"],
    "studies": [
        "orthanc_id",
        "PatientID",
        "PatientName",
        "StudyDate",
        "StudyDescription",
        "AccessionNumber",
    ],
    "series": ["orthanc_id", "Modality", "SeriesNumber", "SeriesDescription", "instances"],
    "instances": ["orthanc_id", "InstanceNumber", "SOPInstanceUID"],
}
_ORTHANC_ID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{8}){4}")
_DEPTHS = {"patients": "Patient", "studies": "Study", "series": "Series", "instances": "Instance"}


def register(subparsers: Any) -> None:
    """Add ``ls``, ``tree``, ``show``, ``find`` and ``lookup``.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import browse
        >>> browse.register(parser.add_subparsers())  # doctest: +SKIP
    """
    ls = add_command(
        subparsers,
        "ls",
        _run_ls,
        "list the patients, studies, series or instances",
        "kkorthanc ls studies --output csv",
    )
    ls.add_argument("level", nargs="?", default="patients", help=f"one of {', '.join(LEVELS)}")
    ls.add_argument("--limit", type=int, help="at most this many")
    tree = add_command(
        subparsers,
        "tree",
        _run_tree,
        "patients > studies > series > instances",
        "kkorthanc tree --depth series Modality=CT",
    )
    tree.add_argument("filters", nargs="*", metavar="TAG=VALUE", help="DICOM matching filters")
    tree.add_argument("--depth", default="instances", help="lowest level shown")
    tree.add_argument("--all-tags", action="store_true", help="every main tag")
    show = add_command(
        subparsers,
        "show",
        _run_show,
        "one resource of any level, by Orthanc ID",
        "kkorthanc show 8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d",
    )
    show.add_argument("orthanc_id", metavar="ID")
    find = add_command(
        subparsers,
        "find",
        _run_find,
        "find resources by DICOM tags",
        "kkorthanc find --level study PatientName='Doe*' StudyDate=20210101-",
    )
    find.add_argument(
        "filters",
        nargs="+",
        metavar="TAG=VALUE",
        help="keywords or gggg,eeee; wildcards * ?, ranges A-B, lists A\\B",
    )
    find.add_argument("--level", default="studies", help="what to find (default studies)")
    find.add_argument("--limit", type=int, help="at most this many")
    find.add_argument("--case-sensitive", action="store_true", help="exact case for names")
    lookup = add_command(
        subparsers,
        "lookup",
        _run_lookup,
        "exact PatientID / Study, Series or SOP Instance UID -> Orthanc IDs",
        "kkorthanc lookup 1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
    )
    lookup.add_argument("identifier")
    lookup.add_argument("--level", help="only this level")


def parse_level(text: str) -> str:
    """``study`` or ``studies`` -> ``"studies"`` (the collection's name).

    Raises:
        OrthancInputError: Not a level.
    """
    try:
        return _ALIASES[text.strip().lower()]
    except KeyError:
        raise OrthancInputError(f"unknown level {text!r}; use one of {', '.join(LEVELS)}") from None


def collection(client: kkorthanc.Orthanc, level: str) -> Any:
    """``client.patients`` ... ``client.instances`` by collection name."""
    return getattr(client, parse_level(level))


def parse_filters(pairs: Sequence[str]) -> dict[str, str]:
    """``["PatientName=Doe*"]`` -> ``{"PatientName": "Doe*"}``.

    Raises:
        OrthancInputError: A filter without ``=``.
    """
    query: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise OrthancInputError(
                f"a filter is TAG=VALUE (e.g. PatientName='Doe*'), got {pair!r}"
            )
        query[key.strip()] = value
    return query


def resource_row(resource: Any) -> dict[str, Any]:
    """A flat row: ``level``, ``orthanc_id``, the main tags (patient's too for a study), ``parent``,
    and ``instances`` for a series."""
    raw: Mapping[str, Any] = resource.raw
    row: dict[str, Any] = {"level": resource.level.value, "orthanc_id": resource.id}
    row.update(raw.get("PatientMainDicomTags") or {})
    row.update(raw.get("MainDicomTags") or {})
    parent = next(
        (raw[key] for key in ("ParentPatient", "ParentStudy", "ParentSeries") if key in raw), None
    )
    row["parent"] = parent
    if "Instances" in raw and resource.level.value == "Series":
        row["instances"] = len(raw["Instances"])
    return row


def _emit(ctx: Context, level: str, resources: Sequence[Any]) -> None:
    rows = [resource_row(resource) for resource in resources]
    if ctx.output == "table":
        ctx.rows(rows, COLUMNS[level])
        return
    columns = list(dict.fromkeys(key for row in rows for key in row)) or COLUMNS[level]
    ctx.rows(rows, columns)


def _run_ls(ctx: Context) -> int:
    """List one level."""
    level = parse_level(ctx.args.level)
    _emit(ctx, level, collection(ctx.client(), level).list(limit=ctx.args.limit))
    return EXIT_OK


def _run_find(ctx: Context) -> int:
    """Find by tags at one level."""
    level = parse_level(ctx.args.level)
    found = collection(ctx.client(), level).find(
        parse_filters(ctx.args.filters),
        limit=ctx.args.limit,
        case_sensitive=True if ctx.args.case_sensitive else None,
    )
    _emit(ctx, level, found)
    return EXIT_OK


def _run_tree(ctx: Context) -> int:
    """Print the tree: indented text, nested JSON, or flat CSV rows of the lowest level."""
    depth = _DEPTHS[parse_level(ctx.args.depth)]
    tree = ctx.client().tree(parse_filters(ctx.args.filters), depth=depth)
    if ctx.output == "json":
        ctx.stdout.write(to_json([_node_json(node) for node in tree.nodes()]) + "\n")
    elif ctx.output == "csv":
        records = tree.to_records(depth, typed=False)
        ctx.rows(records, list(dict.fromkeys(key for row in records for key in row)))
    else:
        ctx.stdout.write(tree.format(all_tags=ctx.args.all_tags) + "\n")
    return EXIT_OK


def _node_json(node: Any) -> dict[str, Any]:
    return {
        "level": node.level.value,
        "orthanc_id": node.orthanc_id,
        "tags": dict(node.tags),
        "children": [_node_json(child) for child in node.children],
    }


def detect(client: kkorthanc.Orthanc, orthanc_id: str) -> Any:
    """The resource with this Orthanc ID, whatever its level (one request per level tried).

    Raises:
        OrthancInputError: Not the shape of an Orthanc ID.
        NotFoundError: No patient, study, series or instance has this ID.
    """
    if not _ORTHANC_ID.fullmatch(orthanc_id):
        raise OrthancInputError(
            f"{orthanc_id!r} is not an Orthanc ID (five groups of 8 hex digits joined by '-'); "
            f"`kkorthanc lookup IDENTIFIER` finds the Orthanc IDs of a PatientID or DICOM UID"
        )
    for level in LEVELS:
        try:
            return collection(client, level).get(orthanc_id)
        except NotFoundError:
            continue
    raise NotFoundError(
        404,
        "GET",
        f"{client.url}{{patients,studies,series,instances}}/{orthanc_id}",
        f"no patient, study, series or instance has the Orthanc ID {orthanc_id!r}",
    )


def _run_show(ctx: Context) -> int:
    """Show one resource, whatever its level."""
    resource = detect(ctx.client(), ctx.args.orthanc_id)
    row = resource_row(resource)
    ctx.record(row if ctx.output != "json" else {**row, "raw": resource.raw})
    return EXIT_OK


def _run_lookup(ctx: Context) -> int:
    """Exact lookup at every level (or one); exit 5 when nothing matches."""
    client = ctx.client()
    levels = [parse_level(ctx.args.level)] if ctx.args.level else list(LEVELS)
    rows: list[dict[str, Any]] = []
    for level in levels:
        uid_like = ctx.args.identifier.strip() and not set("*?\\") & set(ctx.args.identifier)
        if level != "patients" and not uid_like:
            continue
        for resource in collection(client, level).lookup_all(ctx.args.identifier):
            rows.append({"level": resource.level.value, "orthanc_id": resource.id})
    ctx.rows(rows, ["level", "orthanc_id"])
    if not rows:
        ctx.info(f"nothing has the identifier {ctx.args.identifier!r}")
        return EXIT_NOT_FOUND
    return EXIT_OK
