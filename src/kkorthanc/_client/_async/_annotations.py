"""Metadata, attachments, labels, statistics and the protected flag. Mixins of the resource classes.

Revisions: Orthanc gives every metadata value and attachment an ETag (``"<revision>-<md5>"``).
A write that carries it in ``If-Match`` fails with 409 when the value changed meanwhile; Orthanc
1.10.1 and 1.12.7 check a given ``If-Match`` whatever ``CheckRevisions`` says. With
``CheckRevisions: true`` the server also refuses to overwrite or delete without one (409), so
when the caller gives no ``if_match=``, these methods read the current ETag and send it back.
For real optimistic locking, read the ETag first (:meth:`AsyncAnnotated.metadata_etag`), then
pass it as ``if_match=``: a concurrent change then raises :class:`~kkorthanc.ConflictError`.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import re
from typing import Any

from ..._core.levels import Level
from ..._core.models.annotations import AttachmentInfo, ResourceStatistics
from ..._view.display import html_table
from ...errors import NotFoundError, OrthancInputError, UnexpectedContentError
from ._resource import AsyncResource

__all__ = ["AsyncAnnotated"]

_LABEL = re.compile(r"[A-Za-z0-9_-]{1,64}")


class AsyncAnnotated(AsyncResource):
    """What users attach to a resource: metadata, attachments, labels; its statistics.

    The same methods exist at every level (patients, studies, series, instances), with one
    verb set for the three kinds: ``list_*`` (all of a kind), ``get_*`` (one), ``set_*``
    (create or replace) and ``delete_*``; each sends a request. Names are Orthanc's: metadata
    and attachments by name or index (user ones are >= 1024 or declared in
    ``UserMetadata``/``UserContentType``); system ones are read-only (403, ForbiddenError).

    Example:
        >>> study = await client.studies.get(study_id)  # doctest: +SKIP
        >>> await study.set_metadata(1025, "reviewed")  # doctest: +SKIP
        >>> (await study.statistics()).disk_size  # doctest: +SKIP
        1132700
    """

    # -- metadata -------------------------------------------------------------------------

    async def list_metadata(self) -> dict[str, str]:
        """Every metadata value of the resource, by name (``GET .../metadata?expand``).

        Raises:
            NotFoundError: The resource does not exist.

        Example:
            >>> (await instance.list_metadata())["Origin"]  # doctest: +SKIP
            'RestApi'
        """
        value = await self.get("metadata", params={"expand": True})
        if not isinstance(value, dict):
            raise UnexpectedContentError(f"expected metadata as an object, got {value!r:.200}")
        return {str(key): str(item) for key, item in value.items()}

    async def get_metadata(self, name: str | int) -> str:
        """One metadata value, as text (empty when set to the empty string).

        Args:
            name: Its name (``"RemoteAET"``, a declared user name) or index (``1025``).

        Raises:
            NotFoundError: The resource or this metadata does not exist.
            OrthancInputError: An empty name.

        Example:
            >>> await series.get_metadata(1025)  # doctest: +SKIP
            'reviewed'
        """
        data = await self.client.get_bytes(self.path("metadata", _name(name)))
        return data.decode("utf-8")

    async def metadata_etag(self, name: str | int) -> str:
        """The current ETag of a metadata value, to pass later as ``if_match=``.

        Raises:
            NotFoundError: The resource or this metadata does not exist.
            UnexpectedContentError: The server gave no ETag.

        Example:
            >>> etag = await study.metadata_etag(1025)  # doctest: +SKIP
            >>> await study.set_metadata(1025, "done", if_match=etag)  # doctest: +SKIP
        """
        return await self._etag(self.path("metadata", _name(name)))

    async def set_metadata(
        self, name: str | int, value: str, *, if_match: str | None = None
    ) -> None:
        """Create or replace a user metadata value.

        Args:
            name: A user metadata name or index (>= 1024).
            value: The text to store.
            if_match: The ETag the change is based on; a stale one raises ConflictError. By
                default, on servers with ``CheckRevisions``, the current ETag is read and sent.

        Raises:
            ForbiddenError: A system metadata (index < 1024), which is read-only.
            ConflictError: ``if_match`` is stale (the value changed meanwhile).
            BadRequestError: An unknown metadata name (not declared in ``UserMetadata``).
            OrthancInputError: An empty name or a value that is not text.

        Example:
            >>> await instance.set_metadata(1025, "reviewed")  # doctest: +SKIP
        """
        if not isinstance(value, str):
            raise OrthancInputError(f"a metadata value must be text, got {type(value).__name__}")
        route = self.path("metadata", _name(name))
        headers = await self._revision(route, if_match)
        await self.client.put(route, data=value, headers=headers)

    async def delete_metadata(self, name: str | int, *, if_match: str | None = None) -> None:
        """Delete a user metadata value.

        Args:
            name: A user metadata name or index.
            if_match: The ETag the deletion is based on; read for you when left out and the
                server has ``CheckRevisions``.

        Raises:
            NotFoundError: The resource or this metadata does not exist.
            ForbiddenError: A system metadata.
            ConflictError: ``if_match`` is stale.

        Example:
            >>> await instance.delete_metadata(1025)  # doctest: +SKIP
        """
        route = self.path("metadata", _name(name))
        headers = await self._revision(route, if_match)
        await self.client.delete(route, headers=headers)

    # -- attachments ----------------------------------------------------------------------

    async def list_attachments(self) -> list[str]:
        """The names of the resource's attachments (``"dicom"`` for an instance's file).

        Raises:
            NotFoundError: The resource does not exist.

        Example:
            >>> await instance.list_attachments()  # doctest: +SKIP
            ['dicom', '1025']
        """
        value = await self.get("attachments")
        if not isinstance(value, list):
            raise UnexpectedContentError(f"expected a list of attachments, got {value!r:.200}")
        return [str(item) for item in value]

    async def get_attachment(self, name: str | int) -> bytes:
        """The content of an attachment (``.../attachments/{name}/data``), uncompressed.

        Raises:
            NotFoundError: The resource or the attachment does not exist.

        Example:
            >>> report = await study.get_attachment(1025)  # doctest: +SKIP
        """
        return await self.client.get_bytes(self.path("attachments", _name(name), "data"))

    async def attachment_info(self, name: str | int) -> AttachmentInfo:
        """Sizes, MD5s, content type and ETag of an attachment (Orthanc 1.10 and later).

        Raises:
            NotFoundError: The resource or the attachment does not exist.
            UnsupportedFeatureError: The server is older than Orthanc 1.10.

        Example:
            >>> (await instance.attachment_info("dicom")).uncompressed_size  # doctest: +SKIP
            39206
        """
        (await self.client.capabilities()).require("attachment_info", "attachment_info()")
        text = _name(name)
        response = await self.client.request("GET", self.path("attachments", text, "info"))
        return AttachmentInfo.from_json(text, response.json(), etag=response.headers.get("ETag"))

    async def attachment_etag(self, name: str | int) -> str:
        """The current ETag of an attachment, to pass later as ``if_match=``.

        Raises:
            NotFoundError: The resource or the attachment does not exist.
            UnexpectedContentError: The server gave no ETag.

        Example:
            >>> etag = await study.attachment_etag(1025)  # doctest: +SKIP
        """
        return await self._etag(self.path("attachments", _name(name)))

    async def set_attachment(
        self, name: str | int, data: bytes, *, if_match: str | None = None
    ) -> None:
        """Create or replace a user attachment.

        Args:
            name: A user attachment name or index (>= 1024).
            data: Its content.
            if_match: The ETag the change is based on; read for you when left out and the
                server has ``CheckRevisions``.

        Raises:
            ForbiddenError: A system attachment (``dicom``, index < 1024).
            ConflictError: ``if_match`` is stale.
            OrthancInputError: An empty name, or data that is not bytes.

        Example:
            >>> await study.set_attachment(1025, pdf_bytes)  # doctest: +SKIP
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise OrthancInputError(f"attachment data must be bytes, got {type(data).__name__}")
        route = self.path("attachments", _name(name))
        headers = await self._revision(route, if_match)
        await self.client.put(route, data=bytes(data), headers=headers)

    async def delete_attachment(self, name: str | int, *, if_match: str | None = None) -> None:
        """Delete a user attachment.

        Raises:
            NotFoundError: The resource or the attachment does not exist.
            ForbiddenError: A system attachment.
            ConflictError: ``if_match`` is stale.

        Example:
            >>> await study.delete_attachment(1025)  # doctest: +SKIP
        """
        route = self.path("attachments", _name(name))
        headers = await self._revision(route, if_match)
        await self.client.delete(route, headers=headers)

    # -- labels ---------------------------------------------------------------------------

    async def list_labels(self) -> list[str]:
        """The resource's labels, asked from the server (Orthanc 1.12 and later).

        The ``fetched_labels`` property, where the resource class has one, is the snapshot
        given with the resource's data (no request); this method asks again.

        Raises:
            UnsupportedFeatureError: The server has no labels (before 1.12, some databases).

        Example:
            >>> await study.list_labels()  # doctest: +SKIP
            ['reviewed']
        """
        (await self.client.capabilities()).require("labels", "list_labels()")
        value = await self.get("labels")
        if not isinstance(value, list):
            raise UnexpectedContentError(f"expected a list of labels, got {value!r:.200}")
        return [str(item) for item in value]

    async def set_label(self, label: str) -> None:
        """Add a label (nothing happens if the resource has it already).

        Args:
            label: 1 to 64 letters, digits, ``_`` or ``-``.

        Raises:
            OrthancInputError: A label the server would refuse.
            UnsupportedFeatureError: The server has no labels.

        Example:
            >>> await study.set_label("reviewed")  # doctest: +SKIP
        """
        route = self.path("labels", _label(label))
        (await self.client.capabilities()).require("labels", "set_label()")
        await self.client.put(route, data=b"")

    async def delete_label(self, label: str) -> None:
        """Remove a label (nothing happens if the resource does not have it).

        Raises:
            OrthancInputError: A label the server would refuse.
            UnsupportedFeatureError: The server has no labels.

        Example:
            >>> await study.delete_label("reviewed")  # doctest: +SKIP
        """
        route = self.path("labels", _label(label))
        (await self.client.capabilities()).require("labels", "delete_label()")
        await self.client.delete(route)

    # -- statistics and protection --------------------------------------------------------

    async def statistics(self) -> ResourceStatistics:
        """Disk usage and counts of the resource (``GET .../statistics``), sizes as ints.

        Raises:
            NotFoundError: The resource does not exist.

        Example:
            >>> (await study.statistics()).disk_size  # doctest: +SKIP
            1132700
        """
        return ResourceStatistics.from_json(await self.get("statistics"))

    async def is_protected(self) -> bool:
        """Whether the patient is protected from automatic recycling (patients only).

        Raises:
            OrthancInputError: Not a patient (Orthanc protects patients only).
            NotFoundError: The patient does not exist.

        Example:
            >>> await patient.is_protected()  # doctest: +SKIP
            False
        """
        self._require_patient("is_protected()")
        data = await self.client.get_bytes(self.path("protected"))
        return data.strip() == b"1"

    async def set_protected(self, protected: bool = True) -> None:
        """Protect the patient from automatic recycling, or (False) unprotect it.

        Raises:
            OrthancInputError: Not a patient, or ``protected`` not a bool.
            NotFoundError: The patient does not exist.

        Example:
            >>> await patient.set_protected(True)  # doctest: +SKIP
        """
        self._require_patient("set_protected()")
        if not isinstance(protected, bool):
            raise OrthancInputError(f"protected must be True or False, got {protected!r}")
        await self.client.put(self.path("protected"), data="1" if protected else "0")

    def _repr_html_(self) -> str:
        """Jupyter's view: the main tags already fetched, as a small table (no network)."""
        return html_table(self.level.value, self.id, self.raw)

    # -- helpers --------------------------------------------------------------------------

    def _require_patient(self, purpose: str) -> None:
        if self.level is not Level.PATIENT:
            raise OrthancInputError(
                f"{purpose} applies to patients only, not to a {self.level.value.lower()}"
            )

    async def _etag(self, route: tuple[str, ...]) -> str:
        response = await self.client.request("GET", route)
        etag = response.headers.get("ETag")
        if not etag:
            raise UnexpectedContentError(f"GET {'/'.join(route)} answered without an ETag")
        return str(etag)

    async def _revision(self, route: tuple[str, ...], if_match: str | None) -> dict[str, str]:
        if if_match is not None:
            if not isinstance(if_match, str) or not if_match:
                raise OrthancInputError(f"if_match must be an ETag string, got {if_match!r}")
            return {"If-Match": if_match}
        if not (await self.client.capabilities()).system.check_revisions:
            return {}
        try:
            return {"If-Match": await self._etag(route)}
        except NotFoundError:  # not there yet: a first write needs no revision
            return {}


def _name(name: Any) -> str:
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise OrthancInputError(f"a name must be text or an index, got {name!r}")
    text = str(name)
    if not text.strip():
        raise OrthancInputError("a metadata or attachment name must not be empty")
    return text


def _label(label: Any) -> str:
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise OrthancInputError(f"a label is 1 to 64 letters, digits, '_' or '-', got {label!r}")
    return label
