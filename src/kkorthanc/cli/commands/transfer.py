"""``upload`` and ``download``: bulk transfer with progress and machine-readable reports."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO

import kkorthanc

from ..._transfer._report import check_report_path, open_report
from .._app import EXIT_OK, EXIT_PARTIAL, add_command
from .._context import Context
from .._progress import Progress
from .browse import detect

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``upload`` and ``download``.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import transfer
        >>> transfer.register(parser.add_subparsers())  # doctest: +SKIP
    """
    upload = add_command(
        subparsers,
        "upload",
        _run_upload,
        "upload DICOM files, folders and archives (zip, tar, gz...)",
        "kkorthanc upload ~/scans incoming.zip --report upload.jsonl",
    )
    upload.add_argument("paths", nargs="+", metavar="PATH")
    upload.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="write one JSON line per file (kept consistent if interrupted)",
    )
    upload.add_argument(
        "--resume",
        type=Path,
        metavar="FILE",
        help="a report of an earlier run: files it lists as stored are skipped",
    )
    upload.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="N",
        help="files sent at the same time (default 4; the server's ingest rate is the limit)",
    )
    upload.add_argument(
        "--no-skip-existing",
        dest="skip_existing",
        action="store_false",
        help="send files even when the server already has them",
    )
    upload.add_argument("--verify", action="store_true", help="compare MD5s after storing")
    upload.add_argument("--include-hidden", action="store_true", help="also files named .*")
    upload.add_argument(
        "--follow-links",
        action="store_true",
        help="follow symbolic links below the paths given (default: 'skipped')",
    )
    _archive_limit_options(upload)
    download = add_command(
        subparsers,
        "download",
        _run_download,
        "download resources as DICOM files (or ZIP / DICOMDIR archives)",
        "kkorthanc download STUDY_ID --out ./export --layout flat",
    )
    download.add_argument("ids", nargs="+", metavar="ID", help="Orthanc IDs, any level")
    download.add_argument("--out", type=Path, required=True, metavar="DIR")
    kind = download.add_mutually_exclusive_group()
    kind.add_argument("--zip", action="store_true", help="one ZIP archive per resource")
    kind.add_argument("--media", action="store_true", help="one ZIP with DICOMDIR per resource")
    download.add_argument(
        "--layout",
        default="tree",
        help="flat, tree, or a template like '{PatientID}/{SOPInstanceUID}.dcm'",
    )
    download.add_argument("--report", type=Path, metavar="FILE", help="one JSON line per file")
    download.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="N",
        help="files fetched at the same time (default 4)",
    )
    download.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files whose content differs from the server's (else: conflict, exit 1)",
    )


# --max-archive-NAME: (the ArchiveLimits field, metavar, help).
_LIMITS = {
    "size": ("max_size", "SIZE", "bytes one archive may expand to, e.g. 20G (default 256G)"),
    "ratio": ("max_ratio", "R", "expanded bytes per archive byte past 256 MiB (default 200)"),
    "members": ("max_members", "N", "members in one archive, nested ones too (default 1000000)"),
    "depth": ("max_depth", "N", "archives nested in each other (default 10)"),
}
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _archive_limit_options(parser: Any) -> None:
    group = parser.add_argument_group("archive limits (an archive past one is 'rejected')")
    kinds = {"size": _size, "ratio": _ratio, "members": _count, "depth": _count}
    for name, (field, metavar, text) in _LIMITS.items():
        group.add_argument(
            f"--max-archive-{name}", dest=field, type=kinds[name], metavar=metavar, help=text
        )


def _size(text: str) -> int:
    """A byte count, with an optional binary unit: ``1000``, ``512M``, ``20G``, ``1TiB``."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in _UNITS else ""
    number = value[: len(value) - len(unit)]
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 1000, 512M or 20G")
    return int(number) * _UNITS[unit]


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value >= 1 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 1")
    return value


def _archive_limits(args: Any) -> kkorthanc.ArchiveLimits | None:
    """The limits the options give (the defaults for the others), or None without any."""
    given = {field: getattr(args, field) for field, _, _ in _LIMITS.values()}
    given = {field: value for field, value in given.items() if value is not None}
    return kkorthanc.ArchiveLimits(**given) if given else None


class _Journal:
    """Appends one report line per finished file as the upload runs, so an interrupted upload
    leaves a valid report for ``--resume`` (lines hold ``source`` and ``outcome``)."""

    def __init__(self, path: Path | None, resumed: kkorthanc.UploadReport | None) -> None:
        self._stream: TextIO | None = None
        self._counts: dict[str, int] = {}
        self._written: set[str] = set()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open_report(path)  # never through a planted link
        for record in resumed or ():
            if record.outcome.ok and record.outcome.value != "not_dicom":
                self._line(record.source, record.outcome.value)

    def _line(self, source: str, outcome: str) -> None:
        if self._stream is not None and source not in self._written:
            self._written.add(source)
            self._stream.write(json.dumps({"source": source, "outcome": outcome}) + "\n")
            self._stream.flush()

    def note(self, snapshot: kkorthanc.TransferProgress) -> None:
        """Write the file that just finished; its outcome is the count that grew."""
        grown = [k for k, v in snapshot.counts.items() if v > self._counts.get(k, 0)]
        self._counts = dict(snapshot.counts)
        if grown:
            self._line(snapshot.last, grown[0])

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


_BAD = ("failed", "rejected", "conflict")  # outcomes that are not ``ok``: exit 1


def _callback(progress: Progress, journal: _Journal | None = None) -> Any:
    def show(snapshot: kkorthanc.TransferProgress) -> None:
        if journal is not None:
            journal.note(snapshot)
        failed = sum(snapshot.counts.get(key, 0) for key in _BAD)
        progress.update(snapshot.files_done, snapshot.files_total, snapshot.bytes_done, failed)

    return show


def _run_upload(ctx: Context) -> int:
    """Upload, then print a summary; exit 1 when some files were rejected or failed."""
    args = ctx.args
    resumed = kkorthanc.UploadReport.read_jsonl(args.resume) if args.resume else None
    journal = _Journal(args.report, resumed)
    progress = ctx.progress("upload", None)
    try:
        report = ctx.client().upload(
            *[Path(path) for path in args.paths], concurrency=args.concurrency,
            skip_existing=args.skip_existing, resume=resumed, verify=args.verify,
            include_hidden=args.include_hidden, follow_links=args.follow_links,
            archive_limits=_archive_limits(args), progress=_callback(progress, journal),
        )  # fmt: skip
    except kkorthanc.OrthancError as error:
        partial = getattr(error, "report", None)
        journal.close()
        if args.report is not None and isinstance(partial, kkorthanc.UploadReport):
            partial.write_jsonl(args.report)
        raise
    finally:
        journal.close()
        progress.finish()
    if args.report is not None:
        report.write_jsonl(args.report)
    return _summary(ctx, report, [(r.source, r.outcome.value, r.detail) for r in report])


def _summary(ctx: Context, report: Any, items: list[tuple[str, str, str | None]]) -> int:
    """The counts on stdout; on stderr the files not transferred and why (50 of each kind at
    most): not ok (exit 1), then ``skipped`` ones (not read: links, FIFOs, devices)."""
    ctx.record({"files": len(items), **report.counts, "ok": report.ok})
    for kinds in (_BAD, ("skipped",)):
        listed = [item for item in items if item[1] in kinds]
        for source, outcome, detail in listed[:50]:
            ctx.info(f"{outcome}: {source}: {detail or ''}".rstrip(": "))
        if len(listed) > 50:
            ctx.info(f"... and {len(listed) - 50} more {'/'.join(kinds)} (see --report)")
    return EXIT_OK if report.ok else EXIT_PARTIAL


def _run_download(ctx: Context) -> int:
    """Download or export; exit 1 when some files failed or conflict with files there."""
    args = ctx.args
    if args.report is not None:
        check_report_path(args.report)  # a planted link stops the download before it starts
    client = ctx.client()
    resources = [detect(client, orthanc_id) for orthanc_id in args.ids]
    progress = ctx.progress("download", len(resources) if args.zip or args.media else None)
    try:
        if args.zip or args.media:
            folder = f"{args.out}{os.sep}"  # a folder: created 0700 if missing
            records: list[Any] = []
            for resource in resources:
                one = client.download(resource, folder, media=args.media, overwrite=args.overwrite)
                records.extend(one)
                progress.advance(nbytes=sum(r.size or 0 for r in one), failed=not one.ok)
            report = kkorthanc.DownloadReport(records)
        else:
            report = client.export(
                resources,
                args.out,
                layout=args.layout,
                concurrency=args.concurrency,
                overwrite=args.overwrite,
                progress=_callback(progress),
            )
    finally:
        progress.finish()
    if args.report is not None:
        report.write_jsonl(args.report)
    return _summary(ctx, report, [(r.path, r.outcome.value, r.detail) for r in report])
