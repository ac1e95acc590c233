"""The changes feed and bulk modification: methods of the client.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any

from ..._core.levels import Level
from ..._core.models.operations import Change
from ..._core.seam import AsyncSeam
from ._bulk import bulk_delete, bulk_run
from ._changes import AsyncWatch, iter_changes
from ._modalities import Resources
from ._modification import modification_body

__all__ = ["AsyncOperationMethods"]


class AsyncOperationMethods:
    """The client's changes-feed and bulk methods (a mixin of :class:`~kkorthanc.AsyncOrthanc`)."""

    def iter_changes(
        self: AsyncSeam,
        *,
        since: int = 0,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Change]:
        """Iterate over the changes feed after ``since`` (exclusive), fetching pages lazily.

        Args:
            since: The sequence number to start after (0: from the beginning).
            types: Keep only these change types, e.g. ``{"NewStudy", "StableStudy"}``.
            limit: Stop after this many changes.

        Raises:
            OrthancInputError: A negative ``since`` or ``limit``.
            OrthancHTTPError: The server answered an error status.

        Example:
            >>> async for change in client.iter_changes(types={"NewStudy"}):  # doctest: +SKIP
            ...     print(change.seq, change.id)
        """
        return iter_changes(self, since=since, types=types, limit=limit)

    def watch(
        self: AsyncSeam,
        *,
        types: Collection[str] | None = None,
        since: int | None = None,
        cursor_file: str | os.PathLike[str] | None = None,
        interval: float = 1.0,
        timeout: float | None = None,
    ) -> AsyncWatch:
        """Follow new changes as they happen; see :class:`~kkorthanc.AsyncWatch`.

        Raises:
            OrthancInputError: A bad interval or timeout, or an unreadable cursor file.

        Example:
            >>> watch = client.watch(types={"StableStudy"}, cursor_file="cursor.txt")
            >>> async for change in watch:  # doctest: +SKIP
            ...     await handle(change.id)
        """
        return AsyncWatch(
            self,
            types=types,
            since=since,
            cursor_file=cursor_file,
            interval=interval,
            timeout=timeout,
        )

    async def bulk_modify(
        self: AsyncSeam,
        resources: Resources,
        *,
        level: str = "Study",
        replace: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
        keep: Sequence[str] = (),
        force: bool = False,
        delete_original: bool = False,
        asynchronous: bool = True,
        timeout: float | None = None,
    ) -> dict[str, list[str]]:
        """Modify many resources of one ``level`` in one server-side operation.

        Returns:
            The new resources' IDs by level name, e.g. ``{"Study": [...], "Series": [...]}``.

        Raises:
            ForceRequiredError: A PatientID or UID change without ``force=True``.
            JobFailedError: The job failed.
            OrthancTimeoutError: The job did not end within ``timeout``.

        Example:
            >>> await client.bulk_modify(ids, replace={"InstitutionName": "X"})  # doctest: +SKIP
        """
        body = modification_body(
            anonymize=False,
            replace=replace,
            remove=remove,
            keep=keep,
            force=force,
            delete_original=delete_original,
        )
        body["Level"] = Level.parse(level).value
        return await bulk_run(
            self, "modify", resources, body, asynchronous=asynchronous, timeout=timeout
        )

    async def bulk_anonymize(
        self: AsyncSeam,
        resources: Resources,
        *,
        keep: Sequence[str] = (),
        replace: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
        keep_private_tags: bool = False,
        force: bool = False,
        delete_original: bool = False,
        asynchronous: bool = True,
        timeout: float | None = None,
    ) -> dict[str, list[str]]:
        """Anonymize many resources in one server-side operation.

        Returns:
            The new resources' IDs by level name.

        Raises:
            ForceRequiredError: Replacing PatientID or a UID without ``force=True``.
            JobFailedError: The job failed.
            OrthancTimeoutError: The job did not end within ``timeout``.

        Example:
            >>> new = await client.bulk_anonymize(study_ids)  # doctest: +SKIP
            >>> new["Study"]  # doctest: +SKIP
        """
        body = modification_body(
            anonymize=True,
            replace=replace,
            remove=remove,
            keep=keep,
            force=force,
            private_tags=keep_private_tags,
            delete_original=delete_original,
        )
        return await bulk_run(
            self,
            "anonymize",
            resources,
            body,
            asynchronous=asynchronous,
            timeout=timeout,
        )

    async def bulk_delete(self: AsyncSeam, resources: Resources) -> None:
        """Delete many resources (any levels) in one request; unknown IDs are ignored.

        Raises:
            OrthancInputError: No resources.
            OrthancHTTPError: The server answered an error status.

        Example:
            >>> await client.bulk_delete([study, "0b3e..."])  # doctest: +SKIP
        """
        await bulk_delete(self, resources)
