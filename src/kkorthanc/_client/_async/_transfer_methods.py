"""Bulk upload, download and export: methods of the client, engines in ``kkorthanc._transfer``.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import os

from ..._core.seam import AsyncSeam
from ..._transfer import (
    ArchiveLimits,
    DownloadReport,
    ExportLayout,
    ProgressCallback,
    ResourceRef,
    ResourceRefs,
    UploadReport,
    UploadSource,
    async_download,
    async_export,
    async_upload,
)

__all__ = ["AsyncTransferMethods"]


class AsyncTransferMethods:
    """The client's bulk transfer methods (a mixin of :class:`~kkorthanc.AsyncOrthanc`)."""

    async def upload(
        self: AsyncSeam,
        *sources: UploadSource,
        concurrency: int = 4,
        skip_existing: bool = True,
        resume: UploadReport | str | os.PathLike[str] | None = None,
        verify: bool = False,
        retry_for: float = 30.0,
        include_hidden: bool = False,
        follow_links: bool = False,
        archive_limits: ArchiveLimits | None = None,
        progress: ProgressCallback | None = None,
    ) -> UploadReport:
        """Upload DICOM files, folders, archives, bytes, file objects or pydicom datasets.

        Files are recognised by content, not by name: folders are walked recursively (hidden
        files skipped unless ``include_hidden``; symbolic links below the paths given are
        ``skipped`` unless ``follow_links``; FIFOs, devices and sockets are ``skipped`` and
        never read), ZIP, tar, gzip, bzip2 and xz archives are read as streams, nested in
        folders or in each other, within ``archive_limits``: an archive that expands too much
        (a zip bomb) is ``rejected`` with the limit it crossed. ``concurrency`` requests run at once
        over one connection pool, and bodies are streamed, so memory stays flat. Every file ends
        with exactly one :class:`~kkorthanc.TransferOutcome` in the report; a bad file never
        stops the batch.

        Files are sent byte for byte, a dataset without preamble or file meta header too (the
        server stores it as it is). Only if the server refuses such a dataset as malformed
        (400) is a copy with a file meta header sent; its record says ``rewritten=True`` with
        the ``rewrite_reason``, and its ``size`` and ``md5`` are the copy's. pydicom's warnings
        about a file (an invalid UID...) are not printed: they go to its record's ``warnings``
        and to the ``kkorthanc`` logger.

        Args:
            *sources: Paths (files or folders), bytes, binary file objects, pydicom
                datasets, or lists of these.
            concurrency: How many uploads run at once.
            skip_existing: Ask the server (one ``/tools/find`` per batch of files) which
                instances it has, by Orthanc IDs computed from each file's header, and send
                only the others.
            resume: The report of an interrupted upload (or its JSON-lines path): files it
                lists as stored are not sent again, once the server confirms it has each one
                (the instance computed from the file's header, asked with the same batched
                ``/tools/find`` as ``skip_existing``); their records are carried over, marked
                ``carried_over=True``. A file the server lacks, or whose header gives no
                identifiers, is sent.
            verify: Compare the server's MD5 of every stored file with the MD5 of the bytes
                sent, which are the source's unless ``rewritten`` (Orthanc 1.10.0+); a
                difference makes the outcome ``failed``.
            retry_for: Seconds a file may keep failing with transport errors before giving up;
                when the server stays unreachable that long, the whole upload stops.
            include_hidden: Also upload files and folders whose names start with ``.``.
            follow_links: Follow symbolic links below the paths given, wherever they point
                (loops are walked once). A path given is always followed.
            archive_limits: What one archive may expand to (default: ``ArchiveLimits()``).
            progress: Called with a :class:`~kkorthanc.TransferProgress` after each file
                (from the calling thread); its ``record`` is the file's record, so a report
                can be journaled as the upload runs and survive an interruption.

        Returns:
            The :class:`~kkorthanc.UploadReport`: one record per file found.

        Raises:
            OrthancInputError: A source that does not exist or cannot be uploaded, bad options
                (``archive_limits`` not an :class:`~kkorthanc.ArchiveLimits`).
            UnauthorizedError: Credentials refused: raised at once; ``error.report`` holds the
                partial report (so do the two errors below).
            ForbiddenError: The server refuses uploads.
            ServerError: The server cannot store anything (storage full, not writable).
            OrthancConnectionError: The server stayed unreachable longer than ``retry_for``.
            UnsupportedFeatureError: ``verify=True`` on a server older than 1.10.0.

        Example:
            >>> report = await client.upload("incoming/", "more.zip", verify=True)  # doctest: +SKIP
            >>> report.counts  # doctest: +SKIP
            {'stored': 120, 'skipped_existing': 3, 'not_dicom': 1}
            >>> report.write_jsonl("upload.jsonl")  # doctest: +SKIP
        """
        return await async_upload(
            self,
            *sources,
            concurrency=concurrency,
            skip_existing=skip_existing,
            resume=resume,
            verify=verify,
            retry_for=retry_for,
            include_hidden=include_hidden,
            follow_links=follow_links,
            archive_limits=archive_limits,
            progress=progress,
        )

    async def download(
        self: AsyncSeam,
        resource: ResourceRef,
        target: str | os.PathLike[str],
        *,
        level: str | None = None,
        media: bool = False,
        skip_existing: bool = True,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> DownloadReport:
        """Download one resource, streamed to disk: an instance's DICOM file, or a ZIP archive
        (``media=True``: with a DICOMDIR) of a patient, study or series.

        The HTTP status is checked before anything is written, and the bytes go to a temporary
        file in the target's folder (0600 from its creation; a missing folder is made 0700),
        renamed once complete: ``target`` never holds an error page or half a file.

        A file already at the target is judged by its content: an instance file with the
        server's MD5, or an archive of the kind asked for holding exactly the resource's
        instances (read from its members' headers), is the same. An archive of the same kind
        holding only some of them and nothing else is an older download of the resource (made
        before it gained instances): it is replaced, and the record's ``detail`` says so.
        Anything else (an empty file, another archive, a plain archive where a media archive is
        asked for, another instance of the same size) is a ``conflict``: left as it is and
        reported, unless ``overwrite``.

        Args:
            resource: A resource object, ``(level, orthanc_id)``, or an Orthanc ID with ``level``.
            target: The file to write, or a folder: an existing one, or a path ending with a
                separator (the file is then named after the Orthanc ID: ``<id>.dcm`` for an
                instance's file, ``<id>.zip`` for an archive, ``<id>.media.zip`` for a media
                archive, so both kinds can share a folder).
            level: The level of a bare Orthanc ID.
            media: Download the DICOMDIR media archive (``/media``) instead of ``/archive``.
            skip_existing: Leave a file with the server's content in place (``False``
                downloads it again).
            overwrite: Replace a file with other content instead of reporting a ``conflict``.
            progress: Called with a :class:`~kkorthanc.TransferProgress` when done.

        Returns:
            A :class:`~kkorthanc.DownloadReport` with one record.

        Raises:
            OrthancInputError: A bare Orthanc ID without ``level``.
            NotFoundError: No such resource (nothing is written).
            OrthancHTTPError: Another error answer.
            OrthancTransportError: No answer, or the connection broke (the partial file is
                deleted).
            TransferTargetError: The target cannot be written.

        Example:
            >>> await client.download(("Study", study_id), "study.zip")  # doctest: +SKIP
        """
        return await async_download(
            self,
            resource,
            target,
            level=level,
            media=media,
            skip_existing=skip_existing,
            overwrite=overwrite,
            progress=progress,
        )

    async def export(
        self: AsyncSeam,
        resources: ResourceRef | ResourceRefs,
        target: str | os.PathLike[str],
        *,
        layout: ExportLayout = "tree",
        concurrency: int = 4,
        skip_existing: bool = True,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> DownloadReport:
        """Export every instance of some resources into a folder, one DICOM file each.

        Paths follow ``layout``: ``"flat"`` (``SOPInstanceUID.dcm``), ``"tree"`` (patient /
        study / series folders named from DICOM values), or a template of DICOM keywords
        (``"{PatientID}/{StudyDate}/{SeriesNumber}/{SOPInstanceUID}.dcm"``). Values are
        sanitized (no separators, no ``..``, no reserved names, 120 bytes at most): a PatientID
        of ``../x`` stays inside ``target``. Names that collide get ``_2``, ``_3``... in the
        order of Orthanc IDs, so a re-run gives the same paths. Files are 0600 and the folders
        the export creates 0700, from their creation.

        A file already at an instance's path is skipped only when it has the server's MD5:
        the export keeps a manifest (``.kkorthanc-export.json``, 0600) of the MD5 and stamp
        (size, inode, modification and change times) of every file it wrote, so the re-run
        of an unchanged export reads no file and asks nothing per instance; a file whose stamp
        changed is hashed and compared with the server's MD5. A file with other content is a
        ``conflict`` (left as it is) unless ``overwrite``. An interrupted export resumes.

        Args:
            resources: Resource objects, or ``(level, orthanc_id)`` pairs, at any level; or
                one of them alone.
            target: The export folder (created if needed).
            layout: ``"flat"``, ``"tree"``, or a template.
            concurrency: How many files are downloaded at once.
            skip_existing: Leave files with the server's content in place.
            overwrite: Replace files with other content instead of reporting conflicts.
            progress: Called with a :class:`~kkorthanc.TransferProgress` after each file.

        Returns:
            A :class:`~kkorthanc.DownloadReport`: one record per instance.

        Raises:
            OrthancInputError: A bad layout, resource or concurrency (a bare Orthanc ID: give
                ``(level, orthanc_id)``).
            TransferTargetError: The target cannot be written (``error.report`` holds the
                partial report, as for the two errors below).
            UnauthorizedError: Credentials refused.
            ForbiddenError: Access refused.
            NotFoundError: A resource given does not exist (raised while planning).

        Example:
            >>> report = await client.export([("Patient", patient_id)], "out/", layout="flat")
            ... # doctest: +SKIP
        """
        return await async_export(
            self,
            resources,
            target,
            layout=layout,
            concurrency=concurrency,
            skip_existing=skip_existing,
            overwrite=overwrite,
            progress=progress,
        )
