"""Modify and anonymize. Mixins of the resource classes.

Patients, studies and series give a new resource, stored on the server; instances give the new
DICOM file and store nothing, as Orthanc does. Large resources run as server-side jobs, so no
HTTP timeout cuts them. The original is kept unless the caller asks for it to be deleted.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..._core.config import Timeout, TimeoutTypes
from ..._core.levels import Level
from ..._core.models.operations import as_force_error
from ..._core.request import UNSET
from ..._dicom.deid import Finding, check_anonymized, profile_removals
from ...errors import NotFoundError, OrthancHTTPError, OrthancInputError, UnexpectedContentError
from ._jobs import AsyncJobs
from ._resource import AsyncResource

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["AUTO_JOB_INSTANCES", "AsyncModifiable", "modification_body"]

AUTO_JOB_INSTANCES = 50
"""From this many instances on, ``asynchronous=None`` runs a modification as a job."""

Replace = Mapping[str, Any]
_FILE_METHODS = {"modify": "modified_file", "anonymize": "anonymized_file"}
_M = TypeVar("_M", bound="AsyncModifiable")


def modification_body(
    *,
    anonymize: bool,
    replace: Replace | None = None,
    remove: Sequence[str] = (),
    keep: Sequence[str] = (),
    force: bool = False,
    private_tags: bool = False,
    dicom_version: str | None = None,
    delete_original: bool = False,
) -> dict[str, Any]:
    """The JSON body of a modify or anonymize request. Pure.

    ``private_tags`` is ``KeepPrivateTags`` for an anonymization, ``RemovePrivateTags`` for a
    modification. An anonymization's ``Remove`` list also names what the basic confidentiality
    profile removes and Orthanc keeps (curves, overlays, and on 1.10 about a hundred more rows;
    see :func:`~kkorthanc._dicom.deid.profile_removals`), except the tags kept, replaced or removed
    by the caller.

    Raises:
        OrthancInputError: A tag given as something other than text, or both kept and removed.

    Example:
        >>> modification_body(anonymize=False, replace={"StudyDescription": "x"})
        {'Replace': {'StudyDescription': 'x'}}
        >>> body = modification_body(anonymize=True, keep=["6000,4000"])
        >>> "6002,4000" in body["Remove"], "6000,4000" in body["Remove"]
        (True, False)
    """
    for name in [*remove, *keep, *(replace or {})]:
        if not isinstance(name, str) or not name:
            raise OrthancInputError(f"tags are named by keyword or 'gggg,eeee', got {name!r}")
    both = set(keep) & (set(remove) | set(replace or {}))
    if both:
        raise OrthancInputError(f"tags both kept and removed or replaced: {sorted(both)}")
    body: dict[str, Any] = {}
    if replace:
        body["Replace"] = dict(replace)
    if anonymize:
        remove = [*remove, *profile_removals(keep=keep, replace=replace or {}, remove=remove)]
    if remove:
        body["Remove"] = list(remove)
    if keep:
        body["Keep"] = list(keep)
    if force:
        body["Force"] = True
    if private_tags:
        body["KeepPrivateTags" if anonymize else "RemovePrivateTags"] = True
    if dicom_version:
        body["DicomVersion"] = dicom_version
    if delete_original:
        body["KeepSource"] = False
    return body


class _AsyncModificationBase(AsyncResource):
    async def _post_modification(
        self, action: str, body: dict[str, Any], *, timeout: TimeoutTypes = UNSET
    ) -> Any:
        try:
            return await self._client.post(self.path(action), json=body, timeout=timeout)
        except OrthancHTTPError as error:
            raise as_force_error(error) from error

    async def _modified_bytes(self, action: str, body: dict[str, Any]) -> bytes:
        if self.level is not Level.INSTANCE:
            raise OrthancInputError(f"{action}_file() is for instances; use {action}() instead")
        try:
            response = await self._client.request("POST", self.path(action), json=body)
        except OrthancHTTPError as error:
            raise as_force_error(error) from error
        return response.content


class AsyncModifiable(_AsyncModificationBase):
    """Modify and anonymize. Mixed into the resource classes.

    A patient, study or series gives a new resource, stored on the server (:meth:`modify`,
    :meth:`anonymize`); an instance gives a new DICOM file and the server stores nothing
    (:meth:`modified_file`, :meth:`anonymized_file`, and their ``*_dataset`` twins).
    """

    _anonymized_keep: tuple[str, ...] = ()

    @property
    def anonymized_keep(self) -> tuple[str, ...]:
        """The ``keep`` given to the :meth:`anonymize` that returned this object (``()`` for
        any other object, even of the same resource: it is not stored on the server).
        :meth:`verify_anonymized` does not report these tags.

        Example:
            >>> (await study.anonymize(keep=["StudyDescription"])).anonymized_keep
            ... # doctest: +SKIP
            ('StudyDescription',)
        """
        return self._anonymized_keep

    async def modify(
        self: _M,
        *,
        replace: Replace | None = None,
        remove: Sequence[str] = (),
        keep: Sequence[str] = (),
        remove_private_tags: bool = False,
        force: bool = False,
        asynchronous: bool | None = None,
        delete_original: bool = False,
        timeout: float | None = None,
    ) -> _M:
        """Write a modified copy of this resource and return it (same class, new ID, fetched).

        Orthanc gives the modified level and those below new UIDs, unless listed in ``keep``.

        Args:
            replace: Tags to set, by keyword or ``"gggg,eeee"``, e.g. ``{"StudyDescription": "x"}``.
            remove: Tags to remove.
            keep: UIDs to keep (``StudyInstanceUID``, ``SeriesInstanceUID``, ``SOPInstanceUID``).
            remove_private_tags: Remove every private tag.
            force: Allow changing PatientID or UIDs (Orthanc refuses it otherwise). A patient's
                modification must replace its PatientID, so it always needs ``force=True``.
            asynchronous: Run as a server-side job and wait for it; None decides by size (from
                :data:`AUTO_JOB_INSTANCES` instances on).
            delete_original: Delete this resource once the copy is written.
            timeout: Seconds to wait for the job (None: no limit).

        Raises:
            ForceRequiredError: A PatientID or UID change without ``force=True``.
            NotFoundError: This resource does not exist.
            JobFailedError: The modification job failed.
            OrthancTimeoutError: The job did not end within ``timeout``.
            OrthancInputError: Malformed arguments, a patient modification that keeps the
                PatientID, or called on an instance.

        Example:
            >>> new = await study.modify(replace={"StudyDescription": "reviewed"})  # doctest: +SKIP
        """
        if self.level is Level.PATIENT and "PatientID" not in (replace or {}):
            raise OrthancInputError(
                "modifying a patient must replace its PatientID (Orthanc's rule)"
            )
        body = modification_body(
            anonymize=False,
            replace=replace,
            remove=remove,
            keep=keep,
            force=force,
            private_tags=remove_private_tags,
            delete_original=delete_original,
        )
        return await self._run("modify", body, asynchronous, timeout)

    async def anonymize(
        self: _M,
        *,
        keep: Sequence[str] = (),
        replace: Replace | None = None,
        remove: Sequence[str] = (),
        keep_private_tags: bool = False,
        dicom_version: str | None = None,
        force: bool = False,
        asynchronous: bool | None = None,
        delete_original: bool = False,
        timeout: float | None = None,
    ) -> _M:
        """Write an anonymized copy of this resource and return it (same class, new ID, fetched).

        Orthanc applies the DICOM basic confidentiality profile (PS3.15 Annex E), gives new
        UIDs and a random PatientID and PatientName. Orthanc (1.10 and 1.12) keeps curves and
        overlays, whose comments and labels can name the patient, and 1.10 keeps about a
        hundred more attributes the 2024e profile removes: they are added to the request's
        ``Remove`` list (every curve and overlay group is removed whole), except the tags given
        in ``keep``, ``replace`` or ``remove``. Pixels are not cleaned: a ``BurnedInAnnotation``
        of ``YES`` survives, and :meth:`verify_anonymized` reports it for review. Check the
        result with :meth:`verify_anonymized`: the object returned remembers ``keep``
        (:attr:`anonymized_keep`), so those tags are not reported.

        Args:
            keep: Tags whose value survives, e.g. ``["StudyDescription", "SeriesDescription"]``.
            replace: Tags to set, e.g. ``{"PatientName": "Case 7"}``.
            remove: More tags to remove.
            keep_private_tags: Keep private tags (removed by default); the profile removes
                them, so :meth:`verify_anonymized` reports those that survive.
            dicom_version: The profile's edition, e.g. ``"2017c"`` (the server's default if None).
            force: Allow replacing PatientID or UIDs.
            asynchronous: Run as a job and wait; None decides by size.
            delete_original: Delete this resource once the copy is written.
            timeout: Seconds to wait for the job (None: no limit).

        Raises:
            ForceRequiredError: Replacing PatientID or a UID without ``force=True``.
            NotFoundError: This resource does not exist.
            JobFailedError: The anonymization job failed.
            OrthancTimeoutError: The job did not end within ``timeout``.
            OrthancInputError: Malformed arguments, or called on an instance.

        Example:
            >>> anonymous = await study.anonymize(keep=["StudyDescription"])  # doctest: +SKIP
        """
        body = modification_body(
            anonymize=True,
            replace=replace,
            remove=remove,
            keep=keep,
            force=force,
            private_tags=keep_private_tags,
            dicom_version=dicom_version,
            delete_original=delete_original,
        )
        anonymous = await self._run("anonymize", body, asynchronous, timeout)
        anonymous._anonymized_keep = tuple(keep)
        return anonymous

    async def verify_anonymized(
        self, *, keep: Sequence[str] | None = None, all_instances: bool = False
    ) -> list[Finding]:
        """Check this anonymized resource against the basic confidentiality profile.

        Reads one instance per series (every instance with ``all_instances``) and, when the
        server still has it, the instance it was anonymized from (Orthanc's ``AnonymizedFrom``
        metadata), and lists what survived: attributes still holding their original value,
        attributes the profile says to remove (curves and overlays in any group included),
        private attributes (``kind="private"``), and a ``BurnedInAnnotation`` of ``YES``
        (``kind="burned_in"``: the images need a person's review). An empty list means none
        of these. See :func:`check_anonymized`.

        Args:
            keep: Keywords or tags deliberately kept; they are not reported. None (the
                default): :attr:`anonymized_keep`, the ``keep`` given to the
                :meth:`anonymize` that returned this object (nothing for a resource fetched
                by ID: pass the same ``keep`` again). ``()`` reports kept tags too.
            all_instances: Check every instance, not one per series.

        Raises:
            NotFoundError: This resource does not exist.

        Example:
            >>> anonymous = await study.anonymize(keep=["StudyDescription"])  # doctest: +SKIP
            >>> assert not await anonymous.verify_anonymized()  # doctest: +SKIP
            >>> again = await client.studies.get(anonymous.id)  # doctest: +SKIP
            >>> assert not await again.verify_anonymized(keep=["StudyDescription"])
            ... # doctest: +SKIP
        """
        if keep is None:
            keep = self._anonymized_keep
        findings: list[Finding] = []
        for instance_id in await self._instances_to_check(all_instances):
            tags = await self._client.get(
                ("instances", instance_id, "tags"), params={"short": True}
            )
            original = await self._original_tags(instance_id)
            findings += check_anonymized(
                tags, original=original, keep=keep, instance_id=instance_id
            )
        return findings

    async def _instances_to_check(self, all_instances: bool) -> list[str]:
        instances = await self.get("instances")
        if not isinstance(instances, list):
            raise UnexpectedContentError(f"instances of {self!r}: {instances!r}")
        chosen: dict[str, str] = {}
        for instance in instances:
            key = instance["ID"] if all_instances else instance.get("ParentSeries", "")
            chosen.setdefault(key, instance["ID"])
        return list(chosen.values())

    async def _original_tags(self, instance_id: str) -> Any:
        try:
            source = await self._client.get(
                ("instances", instance_id, "metadata", "AnonymizedFrom")
            )
            return await self._client.get(
                ("instances", str(source), "tags"), params={"short": True}
            )
        except NotFoundError:  # not anonymized by Orthanc, or the original was deleted
            return None

    async def _run(
        self: _M,
        action: str,
        body: dict[str, Any],
        asynchronous: bool | None,
        timeout: float | None,
    ) -> _M:
        if self.level is Level.INSTANCE:
            raise OrthancInputError(
                f"an instance's {action} gives a file, not a stored resource: "
                f"use {_FILE_METHODS[action]}()"
            )
        if asynchronous is None:
            asynchronous = await self._instance_count() >= AUTO_JOB_INSTANCES
        if asynchronous:
            answer = await self._post_modification(action, {**body, "Asynchronous": True})
            job = await AsyncJobs(self._client).from_answer(answer)
            content: Any = (await job.wait(timeout=timeout)).content
        else:
            content = await self._post_modification(action, body, timeout=Timeout(read=timeout))
        return await self._new_resource(content)

    async def _instance_count(self) -> int:
        statistics = await self.get("statistics")
        if not isinstance(statistics, Mapping):
            raise UnexpectedContentError(f"statistics of {self!r}: {statistics!r}")
        return int(statistics.get("CountInstances", 0))

    async def _new_resource(self: _M, content: Any) -> _M:
        if not isinstance(content, Mapping) or not isinstance(content.get("ID"), str):
            raise UnexpectedContentError(f"no new resource ID in {content!r}")
        resource = type(self)(self._client, content["ID"])
        await resource.refresh()
        return resource

    async def modified_file(
        self,
        *,
        replace: Replace | None = None,
        remove: Sequence[str] = (),
        keep: Sequence[str] = (),
        remove_private_tags: bool = False,
        force: bool = False,
    ) -> bytes:
        """Return this instance's DICOM file with tags changed; the server stores nothing.

        Args:
            replace: Tags to set, by keyword or ``"gggg,eeee"``.
            remove: Tags to remove.
            keep: UIDs to keep.
            remove_private_tags: Remove every private tag.
            force: Allow changing PatientID or UIDs.

        Raises:
            ForceRequiredError: A PatientID or UID change without ``force=True``.
            NotFoundError: This instance does not exist.
            OrthancInputError: Malformed arguments.

        Example:
            >>> data = await instance.modified_file(replace={"PatientName": "X"})  # doctest: +SKIP
        """
        body = modification_body(
            anonymize=False,
            replace=replace,
            remove=remove,
            keep=keep,
            force=force,
            private_tags=remove_private_tags,
        )
        return await self._modified_bytes("modify", body)

    async def anonymized_file(
        self,
        *,
        keep: Sequence[str] = (),
        replace: Replace | None = None,
        remove: Sequence[str] = (),
        keep_private_tags: bool = False,
        dicom_version: str | None = None,
        force: bool = False,
    ) -> bytes:
        """Return an anonymized copy of this instance's DICOM file; the server stores nothing.

        The request is :meth:`anonymize`'s: curves, overlays and what else the profile removes
        and Orthanc keeps are in its ``Remove`` list. Check the result with
        :func:`check_anonymized`.

        Args:
            keep: Tags whose value survives.
            replace: Tags to set.
            remove: More tags to remove.
            keep_private_tags: Keep private tags (the profile removes them).
            dicom_version: The profile's edition (the server's default if None).
            force: Allow replacing PatientID or UIDs.

        Raises:
            ForceRequiredError: Replacing PatientID or a UID without ``force=True``.
            NotFoundError: This instance does not exist.
            OrthancInputError: Malformed arguments.

        Example:
            >>> data = await instance.anonymized_file(keep=["StudyDescription"])  # doctest: +SKIP
        """
        body = modification_body(
            anonymize=True,
            replace=replace,
            remove=remove,
            keep=keep,
            force=force,
            private_tags=keep_private_tags,
            dicom_version=dicom_version,
        )
        return await self._modified_bytes("anonymize", body)

    async def modified_dataset(self, **options: Any) -> Dataset:
        """:meth:`modified_file` read as a pydicom ``Dataset`` (same arguments).

        Raises:
            ForceRequiredError: A PatientID or UID change without ``force=True``.
            NotFoundError: This instance does not exist.

        Example:
            >>> (await instance.modified_dataset(replace={"PatientName": "X"})).PatientName
            ... # doctest: +SKIP
        """
        import pydicom

        return pydicom.dcmread(io.BytesIO(await self.modified_file(**options)))

    async def anonymized_dataset(self, **options: Any) -> Dataset:
        """:meth:`anonymized_file` read as a pydicom ``Dataset`` (same arguments).

        Raises:
            ForceRequiredError: Replacing PatientID or a UID without ``force=True``.
            NotFoundError: This instance does not exist.

        Example:
            >>> (await instance.anonymized_dataset()).PatientID  # doctest: +SKIP
        """
        import pydicom

        return pydicom.dcmread(io.BytesIO(await self.anonymized_file(**options)))
