"""``anonymize`` and ``modify``: server-side copies of resources of any level, with new IDs."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any

import kkorthanc

from ...errors import (
    ForbiddenError,
    ForceRequiredError,
    JobFailedError,
    NotFoundError,
    OrthancHTTPError,
    OrthancInputError,
    UnauthorizedError,
)
from .._command import EXIT_OK, EXIT_PARTIAL, add_command
from .._context import Context
from .browse import detect

__all__ = ["parse_assignments", "register", "resolve"]

COLUMNS = ["orthanc_id", "level", "new_id", "outcome"]
_DONE = {"anonymize": "anonymized", "modify": "modified"}
_FATAL = (ForceRequiredError, UnauthorizedError, ForbiddenError)


def register(subparsers: Any) -> None:
    """Add ``anonymize`` and ``modify``.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import operations
        >>> operations.register(parser.add_subparsers())  # doctest: +SKIP
    """
    anonymize = add_command(
        subparsers,
        "anonymize",
        _run_anonymize,
        "anonymized copies (DICOM basic profile), printed with their new IDs",
        "kkorthanc anonymize STUDY_ID --keep StudyDescription --verify",
    )
    _common(anonymize)
    anonymize.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="TAG",
        help="keep this tag's value (repeatable)",
    )
    anonymize.add_argument("--keep-private-tags", action="store_true", help="keep private tags")
    anonymize.add_argument(
        "--verify",
        action="store_true",
        help="list identifying tags that survived; exit 1 if any",
    )
    modify = add_command(
        subparsers,
        "modify",
        _run_modify,
        "modified copies with tags replaced or removed, printed with their new IDs",
        "kkorthanc modify STUDY_ID --replace StudyDescription=reviewed --remove InstitutionName",
    )
    _common(modify)
    modify.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="TAG",
        help="keep this UID (e.g. StudyInstanceUID; repeatable)",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="+", metavar="ID", help="Orthanc IDs, any level")
    parser.add_argument(
        "--replace",
        action="append",
        default=[],
        metavar="TAG=VALUE",
        help="set this tag (repeatable)",
    )
    parser.add_argument(
        "--remove", action="append", default=[], metavar="TAG", help="remove this tag (repeatable)"
    )
    parser.add_argument("--force", action="store_true", help="allow changing PatientID or UIDs")
    parser.add_argument(
        "--async",
        dest="asynchronous",
        action="store_true",
        help="run as server-side jobs (no HTTP timeout) and wait",
    )
    parser.add_argument(
        "--delete-original", action="store_true", help="delete each original once copied"
    )


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """``["StudyDescription=x"]`` -> ``{"StudyDescription": "x"}`` (an empty value is allowed).

    Raises:
        OrthancInputError: A pair without ``=`` or without a tag name.

    Example:
        >>> parse_assignments(["PatientName=Case 7"])
        {'PatientName': 'Case 7'}
    """
    values: dict[str, str] = {}
    for pair in pairs:
        tag, sep, value = pair.partition("=")
        if not sep or not tag.strip():
            raise OrthancInputError(f"--replace takes TAG=VALUE (e.g. PatientName=X), got {pair!r}")
        values[tag.strip()] = value
    return values


def resolve(client: kkorthanc.Orthanc, ids: Sequence[str]) -> list[Any]:
    """The resources of these Orthanc IDs, levels detected, all checked before anything changes.

    Raises:
        NotFoundError: One of the IDs is unknown (nothing was done).
        OrthancInputError: One is not shaped like an Orthanc ID.

    Example:
        >>> [r.level.value for r in resolve(client, [study_id])]  # doctest: +SKIP
        ['Study']
    """
    return [detect(client, orthanc_id) for orthanc_id in dict.fromkeys(ids)]


def _options(ctx: Context) -> dict[str, Any]:
    return {
        "replace": parse_assignments(ctx.args.replace),
        "remove": list(ctx.args.remove),
        "keep": list(ctx.args.keep),
        "force": ctx.args.force,
        "delete_original": ctx.args.delete_original,
    }


def _run_anonymize(ctx: Context) -> int:
    """Anonymize each resource; with --verify, exit 1 if identifying tags survived."""
    options = {**_options(ctx), "keep_private_tags": ctx.args.keep_private_tags}
    rows = _each(ctx, "anonymize", lambda resource: _anonymize(ctx, resource, options))
    if ctx.args.verify:
        for row in rows:
            if row["outcome"] == "anonymized":
                _verify(ctx, row, options["keep"])
    return _report(ctx, rows, extra=["surviving"] if ctx.args.verify else [])


def _run_modify(ctx: Context) -> int:
    """Modify each resource."""
    options = _options(ctx)
    if not options["replace"] and not options["remove"]:
        raise OrthancInputError("modify needs at least one --replace TAG=VALUE or --remove TAG")
    rows = _each(ctx, "modify", lambda resource: _modify(ctx, resource, options))
    return _report(ctx, rows)


def _each(ctx: Context, action: str, run: Any) -> list[dict[str, Any]]:
    """Run ``run(resource) -> new_id`` over the IDs; a failed item becomes a ``failed`` row."""
    resources = resolve(ctx.client(), ctx.args.ids)
    bar = ctx.progress(action, len(resources)) if len(resources) > 1 else None
    rows: list[dict[str, Any]] = []
    for resource in resources:
        row: dict[str, Any] = {"orthanc_id": resource.id, "level": resource.level.value}
        try:
            row.update(new_id=run(resource), outcome=_DONE[action])
        except _FATAL:
            raise
        except (OrthancHTTPError, JobFailedError) as error:
            row.update(new_id=None, outcome="failed", detail=str(error))
            ctx.info(f"kkorthanc: {action} {resource.id}: {error}")
        rows.append(row)
        if bar is not None:
            bar.advance(failed=row["outcome"] == "failed")
    if bar is not None:
        bar.finish()
    return rows


def _anonymize(ctx: Context, resource: Any, options: dict[str, Any]) -> str:
    client = ctx.client()
    if resource.level is kkorthanc.Level.INSTANCE:
        new = client.bulk_anonymize([resource.id], asynchronous=ctx.args.asynchronous, **options)
        return new["Instance"][0]
    asynchronous = True if ctx.args.asynchronous else None
    return str(resource.anonymize(asynchronous=asynchronous, **options).id)


def _modify(ctx: Context, resource: Any, options: dict[str, Any]) -> str:
    client = ctx.client()
    if resource.level is kkorthanc.Level.INSTANCE:
        new = client.bulk_modify(
            [resource.id], level="Instance", asynchronous=ctx.args.asynchronous, **options
        )
        return new["Instance"][0]
    asynchronous = True if ctx.args.asynchronous else None
    return str(resource.modify(asynchronous=asynchronous, **options).id)


def _verify(ctx: Context, row: dict[str, Any], keep: Sequence[str]) -> None:
    """Add ``surviving`` (keywords) and ``findings`` (details) to an anonymized row."""
    client = ctx.client()
    if row["level"] == "Instance":
        findings = _verify_instance(client, row["orthanc_id"], row["new_id"], keep)
    else:
        new = getattr(client, kkorthanc.Level(row["level"]).route).get(row["new_id"])
        findings = new.verify_anonymized(keep=keep)
    row["surviving"] = ",".join(sorted({finding.keyword for finding in findings}))
    row["findings"] = [dataclasses.asdict(finding) for finding in findings]
    for finding in findings:
        ctx.info(
            f"{row['new_id']}: {finding.keyword} ({finding.tag}) = {finding.value!r}: "
            f"{finding.reason}"
        )


def _verify_instance(
    client: kkorthanc.Orthanc, original_id: str, new_id: str, keep: Sequence[str]
) -> list[Any]:
    tags = client.get(("instances", new_id, "tags"), params={"short": True})
    try:
        original = client.get(("instances", original_id, "tags"), params={"short": True})
    except NotFoundError:  # --delete-original: only the profile's removals can be checked
        original = None
    return kkorthanc.check_anonymized(tags, original=original, keep=keep, instance_id=new_id)


def _report(ctx: Context, rows: list[dict[str, Any]], extra: Sequence[str] = ()) -> int:
    ctx.rows(rows, [*COLUMNS, *extra])
    failed = any(row["outcome"] == "failed" or row.get("surviving") for row in rows)
    return EXIT_PARTIAL if failed else EXIT_OK
