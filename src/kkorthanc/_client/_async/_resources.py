"""Patients, studies, series and instances: typed main tags, parents, children, identifiers.

Every resource the library returns is built from an expanded answer of the server, so its
:attr:`~AsyncResource.raw` is filled and its properties never touch the network. Methods do.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from ..._core.levels import Level
from ..._core.seam import AsyncSeam
from ..._core.tags import TagValue, convert
from ..._core.uids import PatientUids, SeriesUids, StudyUids
from ...errors import OrthancInputError, UnexpectedContentError
from ._annotations import AsyncAnnotated
from ._instance_data import AsyncInstanceData, AsyncSeriesImages
from ._modification import AsyncModifiable
from ._resource import AsyncResource
from ._uid_requests import patient_uids, series_uids, study_uids

__all__ = [
    "AsyncInstance",
    "AsyncPatient",
    "AsyncSeries",
    "AsyncStudy",
    "make_resource",
    "resources_from_json",
]

R = TypeVar("R", bound="_Tagged")


class _Tagged(AsyncResource):
    """Main tags and server bookkeeping read from :attr:`raw`; shared by the four levels."""

    @property
    def main_tags(self) -> Mapping[str, str]:
        """The resource's ``MainDicomTags`` as the server wrote them (keyword to text).

        Raises:
            OrthancInputError: The resource was built without data: call ``refresh()`` first.

        Example:
            >>> study.main_tags["StudyDate"]  # doctest: +SKIP
            '20040826'
        """
        tags = self._fetched().get("MainDicomTags")
        if not isinstance(tags, dict):
            raise UnexpectedContentError(f"{self!r}: the server's answer has no MainDicomTags")
        return tags

    def main_tag(self, keyword: str) -> TagValue:
        """The Python value of one main tag (date, time, int, floats or text), None if absent.

        Read from :attr:`main_tags`, without a request; an instance's
        ``get_tags()`` asks the server for every tag of the file.

        Raises:
            OrthancInputError: No data yet (call ``refresh()``).
            UnexpectedContentError: The server's text does not parse as the tag's type.

        Example:
            >>> series.main_tag("SeriesNumber")  # doctest: +SKIP
            3
        """
        return convert(self.main_tags, keyword)

    def _identifier(self, keyword: str) -> str:
        return str(self.main_tags.get(keyword, ""))

    def _text(self, keyword: str) -> str | None:
        value = self.main_tag(keyword)
        return None if value is None else str(value)

    def _int(self, keyword: str) -> int | None:
        value = self.main_tag(keyword)
        return value if isinstance(value, int) else None

    def _date(self, keyword: str) -> datetime.date | None:
        value = self.main_tag(keyword)
        return value if isinstance(value, datetime.date) else None

    def _time(self, keyword: str) -> datetime.time | None:
        value = self.main_tag(keyword)
        return value if isinstance(value, datetime.time) else None

    @property
    def is_stable(self) -> bool:
        """Whether the server considers the resource complete (no new instance for a while).

        Raises:
            OrthancInputError: No data yet (call ``refresh()``).
        """
        return bool(self._fetched().get("IsStable", False))

    @property
    def fetched_labels(self) -> tuple[str, ...]:
        """The labels the server gave with this resource's data (always empty before 1.12).

        A snapshot, without a request: ``list_labels()`` asks the server again.

        Raises:
            OrthancInputError: No data yet (call ``refresh()``).

        Example:
            >>> "reviewed" in study.fetched_labels  # doctest: +SKIP
            True
        """
        return tuple(str(label) for label in self._fetched().get("Labels", []))

    @property
    def parent_id(self) -> str | None:
        """The Orthanc ID of the parent resource (None for a patient)."""
        return None

    def _fetched(self) -> dict[str, Any]:
        if not self.raw:
            raise OrthancInputError(
                f"{self!r} was created without the server's data: call `await resource.refresh()` "
                "(or get it from client.<level>.get()) before reading its tags"
            )
        return self.raw

    def _parent_id(self, key: str) -> str:
        value = self._fetched().get(key)
        if not isinstance(value, str):
            raise UnexpectedContentError(f"{self!r}: the server's answer has no {key}")
        return value

    def _child_ids(self, key: str) -> tuple[str, ...]:
        return tuple(str(item) for item in self._fetched().get(key, []))

    async def _related(self, route: str, cls: type[R]) -> R:
        value = await self.client.get(self.path(route))
        return make_resource(self.client, cls, value)

    async def _children(self, route: str, cls: type[R]) -> list[R]:
        value = await self.client.get(self.path(route), params={"expand": True})
        return resources_from_json(self.client, cls, value)

    async def refresh(self: R) -> R:
        """Fetch this resource's data again and return ``self``.

        Raises:
            NotFoundError: The resource no longer exists.
        """
        await AsyncResource.refresh(self)
        return self


def make_resource(client: AsyncSeam, cls: type[R], value: Any) -> R:
    """Build a resource of ``cls`` from the server's JSON object for it.

    Raises:
        UnexpectedContentError: Not an object with an ``ID``, or of another level.
    """
    if not isinstance(value, dict) or not isinstance(value.get("ID"), str):
        raise UnexpectedContentError(f"expected a {cls.level.value} object, got {value!r:.200}")
    kind = value.get("Type")
    if kind is not None and kind != cls.level.value:
        raise UnexpectedContentError(f"expected a {cls.level.value}, the server sent a {kind}")
    return cls(client, value["ID"], value)


def resources_from_json(client: AsyncSeam, cls: type[R], value: Any) -> list[R]:
    """Build resources from an expanded list answer.

    Raises:
        UnexpectedContentError: Not a list of objects of the right level.
    """
    if not isinstance(value, list):
        raise UnexpectedContentError(f"expected a list of {cls.level.route}, got {value!r:.200}")
    return [make_resource(client, cls, item) for item in value]


class AsyncPatient(AsyncAnnotated, AsyncModifiable, _Tagged):
    """A patient: typed main tags, its studies, series and instances, its identifiers.

    Example:
        >>> patient = await client.patients.lookup("P1")  # doctest: +SKIP
        >>> patient.patient_name, [s.date for s in await patient.studies()]  # doctest: +SKIP
        ('Doe^John', [datetime.date(2021, 1, 1)])
    """

    level = Level.PATIENT

    @property
    def patient_id(self) -> str:
        """The PatientID ("" when the files have none)."""
        return self._identifier("PatientID")

    @property
    def patient_name(self) -> str | None:
        """The PatientName, as text (``Family^Given``, possibly with ``=`` ideographic parts)."""
        return self._text("PatientName")

    @property
    def birth_date(self) -> datetime.date | None:
        """The PatientBirthDate."""
        return self._date("PatientBirthDate")

    @property
    def sex(self) -> str | None:
        """The PatientSex (``M``, ``F``, ``O``), None when empty."""
        return self._text("PatientSex")

    @property
    def study_ids(self) -> tuple[str, ...]:
        """The Orthanc IDs of the patient's studies, as of the last fetch."""
        return self._child_ids("Studies")

    async def studies(self) -> list[AsyncStudy]:
        """The patient's studies, in one request.

        Raises:
            NotFoundError: The patient no longer exists.

        Example:
            >>> [study.description for study in await patient.studies()]  # doctest: +SKIP
        """
        return await self._children("studies", AsyncStudy)

    async def series(self) -> list[AsyncSeries]:
        """All the patient's series, of every study, in one request.

        Raises:
            NotFoundError: The patient no longer exists.

        Example:
            >>> sorted({series.modality for series in await patient.series()})  # doctest: +SKIP
            ['CT', 'MR']
        """
        return await self._children("series", AsyncSeries)

    async def instances(self) -> list[AsyncInstance]:
        """All the patient's instances, of every study and series, in one request.

        Raises:
            NotFoundError: The patient no longer exists.

        Example:
            >>> len(await patient.instances())  # doctest: +SKIP
            12
        """
        return await self._children("instances", AsyncInstance)

    async def uids(self) -> PatientUids:
        """All DICOM identifiers of the patient and below: 1 request with the kk plugin, else 3.

        Raises:
            NotFoundError: The patient no longer exists.

        Example:
            >>> (await patient.uids()).studies[0].study_instance_uid  # doctest: +SKIP
        """
        return await patient_uids(self, self.patient_id)


class AsyncStudy(AsyncAnnotated, AsyncModifiable, _Tagged):
    """A study: typed main tags, its patient, its series, its identifiers.

    Example:
        >>> study = await client.studies.lookup("1.2.3")  # doctest: +SKIP
        >>> study.date, study.description  # doctest: +SKIP
        (datetime.date(2004, 8, 26), 'CT head')
    """

    level = Level.STUDY

    @property
    def study_instance_uid(self) -> str:
        """The StudyInstanceUID."""
        return self._identifier("StudyInstanceUID")

    @property
    def description(self) -> str | None:
        """The StudyDescription."""
        return self._text("StudyDescription")

    @property
    def accession_number(self) -> str | None:
        """The AccessionNumber."""
        return self._text("AccessionNumber")

    @property
    def study_id(self) -> str | None:
        """The DICOM StudyID (a short text, not the Orthanc ID)."""
        return self._text("StudyID")

    @property
    def date(self) -> datetime.date | None:
        """The StudyDate."""
        return self._date("StudyDate")

    @property
    def time(self) -> datetime.time | None:
        """The StudyTime."""
        return self._time("StudyTime")

    @property
    def referring_physician_name(self) -> str | None:
        """The ReferringPhysicianName."""
        return self._text("ReferringPhysicianName")

    @property
    def patient_main_tags(self) -> Mapping[str, str]:
        """The patient's main tags, as the server sends them with each study."""
        tags = self._fetched().get("PatientMainDicomTags", {})
        return tags if isinstance(tags, dict) else {}

    @property
    def patient_id(self) -> str:
        """The PatientID of the study's patient."""
        return str(self.patient_main_tags.get("PatientID", ""))

    @property
    def patient_name(self) -> str | None:
        """The PatientName of the study's patient."""
        value = convert(self.patient_main_tags, "PatientName")
        return None if value is None else str(value)

    @property
    def parent_id(self) -> str:
        """The Orthanc ID of the patient."""
        return self._parent_id("ParentPatient")

    @property
    def series_ids(self) -> tuple[str, ...]:
        """The Orthanc IDs of the study's series, as of the last fetch."""
        return self._child_ids("Series")

    async def patient(self) -> AsyncPatient:
        """The study's patient, in one request.

        Raises:
            NotFoundError: The study no longer exists.

        Example:
            >>> (await study.patient()).patient_id  # doctest: +SKIP
        """
        return await self._related("patient", AsyncPatient)

    async def series(self) -> list[AsyncSeries]:
        """The study's series, in one request.

        Raises:
            NotFoundError: The study no longer exists.

        Example:
            >>> [series.modality for series in await study.series()]  # doctest: +SKIP
        """
        return await self._children("series", AsyncSeries)

    async def instances(self) -> list[AsyncInstance]:
        """All the study's instances, in one request.

        Raises:
            NotFoundError: The study no longer exists.

        Example:
            >>> len(await study.instances())  # doctest: +SKIP
        """
        return await self._children("instances", AsyncInstance)

    async def uids(self) -> StudyUids:
        """All DICOM identifiers of the study and below: 1 request with the kk plugin, else 2.

        Raises:
            NotFoundError: The study no longer exists.

        Example:
            >>> [s.series_instance_uid for s in (await study.uids()).series]  # doctest: +SKIP
        """
        return await study_uids(self, self.study_instance_uid, self.patient_id)


class AsyncSeries(AsyncSeriesImages, AsyncAnnotated, AsyncModifiable, _Tagged):
    """A series: typed main tags, its study and patient, its instances, its identifiers.

    Example:
        >>> series = await client.series.lookup("1.2.3.4")  # doctest: +SKIP
        >>> series.modality, series.number  # doctest: +SKIP
        ('CT', 3)
    """

    level = Level.SERIES

    @property
    def series_instance_uid(self) -> str:
        """The SeriesInstanceUID."""
        return self._identifier("SeriesInstanceUID")

    @property
    def modality(self) -> str | None:
        """The Modality (``CT``, ``MR``...)."""
        return self._text("Modality")

    @property
    def number(self) -> int | None:
        """The SeriesNumber.

        Raises:
            UnexpectedContentError: The stored value is not an integer.
        """
        return self._int("SeriesNumber")

    @property
    def description(self) -> str | None:
        """The SeriesDescription."""
        return self._text("SeriesDescription")

    @property
    def body_part(self) -> str | None:
        """The BodyPartExamined."""
        return self._text("BodyPartExamined")

    @property
    def date(self) -> datetime.date | None:
        """The SeriesDate."""
        return self._date("SeriesDate")

    @property
    def time(self) -> datetime.time | None:
        """The SeriesTime."""
        return self._time("SeriesTime")

    @property
    def manufacturer(self) -> str | None:
        """The Manufacturer."""
        return self._text("Manufacturer")

    @property
    def protocol_name(self) -> str | None:
        """The ProtocolName."""
        return self._text("ProtocolName")

    @property
    def expected_instances(self) -> int | None:
        """How many instances the series should have, when the files say so, else None."""
        value = self._fetched().get("ExpectedNumberOfInstances")
        return value if isinstance(value, int) else None

    @property
    def parent_id(self) -> str:
        """The Orthanc ID of the study."""
        return self._parent_id("ParentStudy")

    @property
    def instance_ids(self) -> tuple[str, ...]:
        """The Orthanc IDs of the series' instances, as of the last fetch."""
        return self._child_ids("Instances")

    async def study(self) -> AsyncStudy:
        """The series' study, in one request.

        Raises:
            NotFoundError: The series no longer exists.

        Example:
            >>> (await series.study()).study_instance_uid  # doctest: +SKIP
        """
        return await self._related("study", AsyncStudy)

    async def patient(self) -> AsyncPatient:
        """The series' patient, in one request.

        Raises:
            NotFoundError: The series no longer exists.

        Example:
            >>> (await series.patient()).patient_id  # doctest: +SKIP
        """
        return await self._related("patient", AsyncPatient)

    async def instances(self) -> list[AsyncInstance]:
        """The series' instances, in one request.

        Raises:
            NotFoundError: The series no longer exists.

        Example:
            >>> sorted(i.number for i in await series.instances())  # doctest: +SKIP
        """
        return await self._children("instances", AsyncInstance)

    async def uids(self) -> SeriesUids:
        """The DICOM identifiers of the series and its instances, in one request.

        Raises:
            NotFoundError: The series no longer exists.

        Example:
            >>> len((await series.uids()).instances)  # doctest: +SKIP
        """
        return await series_uids(self, self.series_instance_uid)


class AsyncInstance(AsyncInstanceData, AsyncAnnotated, AsyncModifiable, _Tagged):
    """An instance (one DICOM file): typed main tags, its series, study and patient.

    Example:
        >>> instance = await client.instances.lookup("1.2.3.4.5")  # doctest: +SKIP
        >>> instance.number, (await instance.series()).modality  # doctest: +SKIP
        (1, 'CT')
    """

    level = Level.INSTANCE

    @property
    def sop_instance_uid(self) -> str:
        """The SOPInstanceUID."""
        return self._identifier("SOPInstanceUID")

    @property
    def number(self) -> int | None:
        """The InstanceNumber.

        Raises:
            UnexpectedContentError: The stored value is not an integer.
        """
        return self._int("InstanceNumber")

    @property
    def acquisition_number(self) -> int | None:
        """The AcquisitionNumber."""
        return self._int("AcquisitionNumber")

    @property
    def creation_date(self) -> datetime.date | None:
        """The InstanceCreationDate."""
        return self._date("InstanceCreationDate")

    @property
    def image_position(self) -> tuple[float, ...] | None:
        """The ImagePositionPatient, in mm."""
        value = self.main_tag("ImagePositionPatient")
        return value if isinstance(value, tuple) else None

    @property
    def index_in_series(self) -> int | None:
        """Orthanc's ``IndexInSeries`` (the order of arrival), when the server gives one."""
        value = self._fetched().get("IndexInSeries")
        return value if isinstance(value, int) else None

    @property
    def file_size(self) -> int | None:
        """The stored file's size in bytes."""
        value = self._fetched().get("FileSize")
        return value if isinstance(value, int) else None

    @property
    def parent_id(self) -> str:
        """The Orthanc ID of the series."""
        return self._parent_id("ParentSeries")

    async def series(self) -> AsyncSeries:
        """The instance's series, in one request.

        Raises:
            NotFoundError: The instance no longer exists.

        Example:
            >>> (await instance.series()).series_instance_uid  # doctest: +SKIP
        """
        return await self._related("series", AsyncSeries)

    async def study(self) -> AsyncStudy:
        """The instance's study, in one request.

        Raises:
            NotFoundError: The instance no longer exists.

        Example:
            >>> (await instance.study()).date  # doctest: +SKIP
        """
        return await self._related("study", AsyncStudy)

    async def patient(self) -> AsyncPatient:
        """The instance's patient, in one request.

        Raises:
            NotFoundError: The instance no longer exists.

        Example:
            >>> (await instance.patient()).patient_name  # doctest: +SKIP
        """
        return await self._related("patient", AsyncPatient)
