"""``upload`` and ``download``: bulk transfer with progress and machine-readable reports."""

from __future__ import annotations

import argparse
import os
import shlex
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

import kkorthanc

from ..._transfer.plan.report import check_report_path, open_report, record_line
from .._command import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, add_command
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
    """Appends one report line per finished file as the upload runs (its whole record, as
    ``--report`` writes it), so an interrupted upload leaves a full report for ``--resume``.

    Records of the resumed report that this run has not reached yet are added when it closes,
    so a run interrupted again still lists every file stored so far.
    """

    def __init__(self, path: Path | None, resumed: kkorthanc.UploadReport | None) -> None:
        self._stream: TextIO | None = None
        self._written: set[str] = set()
        self._resumed = [
            record
            for record in resumed or ()
            if record.outcome.ok and record.outcome.value != "not_dicom"
        ]
        self.finished = 0
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open_report(path)  # never through a planted link

    def _write(self, record: kkorthanc.UploadRecord) -> None:
        if self._stream is not None and record.source not in self._written:
            self._written.add(record.source)
            self._stream.write(record_line(record))
            self._stream.flush()

    def note(self, snapshot: kkorthanc.TransferProgress) -> None:
        """Write the record of the file that just finished."""
        self.finished += 1
        if isinstance(snapshot.record, kkorthanc.UploadRecord):
            self._write(snapshot.record)

    def close(self) -> None:
        if self._stream is not None:
            for record in self._resumed:  # not reached by this run: kept for the next one
                self._write(record)
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
    """Upload, then print a summary; exit 1 when some files were rejected or failed.

    An interrupted upload (Ctrl-C) leaves its report (``--report``: one full record per file
    finished) and says how to resume; it exits 130.
    """
    args = ctx.args
    resumed = kkorthanc.UploadReport.read_jsonl(args.resume) if args.resume else None
    journal = _Journal(args.report, resumed)
    try:
        report = _upload(ctx, journal, resumed)
    except KeyboardInterrupt:
        ctx.stderr.write(_how_to_resume(args, journal.finished))
        ctx.stderr.flush()
        return EXIT_INTERRUPTED
    if args.report is not None:
        report.write_jsonl(args.report)
    return _upload_summary(ctx, report)


def _upload(
    ctx: Context, journal: _Journal, resumed: kkorthanc.UploadReport | None
) -> kkorthanc.UploadReport:
    """The upload itself; the journal holds every finished file, whatever stops it."""
    args = ctx.args
    progress = ctx.progress("upload", None)
    try:
        return ctx.client().upload(
            *[Path(path) for path in args.paths],
            concurrency=args.concurrency,
            skip_existing=args.skip_existing,
            resume=resumed,
            verify=args.verify,
            include_hidden=args.include_hidden,
            follow_links=args.follow_links,
            archive_limits=_archive_limits(args),
            progress=_callback(progress, journal),
        )
    finally:
        journal.close()
        progress.finish()


def _how_to_resume(args: Any, finished: int) -> str:
    """What Ctrl-C prints: how many files finished, and the command that resumes."""
    done = f"\nkkorthanc: interrupted after {finished} file{'s' if finished != 1 else ''}"
    if args.report is None:
        return (
            f"{done}. Run the same command again: files the server already has are skipped "
            "(add --report FILE to keep a record of each file, to --resume from)\n"
        )
    command = [
        "kkorthanc",
        "upload",
        *args.paths,
        "--resume",
        str(args.report),
        "--report",
        str(args.report),
    ]
    return (
        f"{done}; {args.report} lists them. To resume (with this run's other options):\n"
        f"  {shlex.join(command)}\n"
    )


def _upload_summary(ctx: Context, report: kkorthanc.UploadReport) -> int:
    """The summary of an upload: files carried over from ``--resume`` counted apart from the
    outcomes of this run; rewritten files and pydicom's warnings said on stderr."""
    now = Counter(record.outcome.value for record in report if not record.carried_over)
    noted = {
        "carried_over": sum(record.carried_over for record in report),
        "rewritten": sum(record.rewritten for record in report),
        "warnings": sum(len(record.warnings) for record in report),
    }
    counts = {**now, **{key: value for key, value in noted.items() if value}}
    for record in [record for record in report if record.rewritten][:50]:
        ctx.info(f"rewritten: {record.source}: {record.rewrite_reason}")
    if noted["warnings"]:
        warned = sum(bool(record.warnings) for record in report)
        ctx.info(
            f"pydicom warned {noted['warnings']} time(s) about {warned} file(s) (invalid "
            "values): see the report's 'warnings', or --debug"
        )
    items = [(r.source, r.outcome.value, r.detail) for r in report]
    return _summary(ctx, report, items, counts)


def _summary(
    ctx: Context,
    report: Any,
    items: list[tuple[str, str, str | None]],
    counts: dict[str, int] | None = None,
) -> int:
    """The counts on stdout (``counts``, else the report's); on stderr the files not
    transferred and why (50 of each kind at most): not ok (exit 1), then ``skipped`` ones
    (not read: links, FIFOs, devices)."""
    ctx.record(
        {"files": len(items), **(report.counts if counts is None else counts), "ok": report.ok}
    )
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
