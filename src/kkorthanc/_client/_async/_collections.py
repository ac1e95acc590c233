"""The four collections of a client: ``client.patients``, ``.studies``, ``.series``, ``.instances``.

Each gets a resource by Orthanc ID, lists and pages through all of them, counts them, looks one
up by its DICOM identifier (exact match), and finds them with ``POST /tools/find`` (expanded: one
request per page, no refetch).

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ..._core.find import check_orthanc_id, find_body, normalize_query, required_features
from ..._core.levels import Level
from ..._core.seam import AsyncSeam
from ..._dicom.ids import orthanc_id as compute_orthanc_id
from ...errors import ConflictError, NotFoundError, OrthancInputError, UnexpectedContentError
from ._kk import kk_candidates, kk_lookup, plugin_accepts, use_plugin
from ._resources import (
    AsyncInstance,
    AsyncPatient,
    AsyncSeries,
    AsyncStudy,
    _Tagged,
    make_resource,
    resources_from_json,
)

__all__ = [
    "AsyncCollection",
    "AsyncInstances",
    "AsyncPatients",
    "AsyncSeriesCollection",
    "AsyncStudies",
]

R = TypeVar("R", bound=_Tagged)

_IDENTIFIER = {
    Level.PATIENT: "PatientID",
    Level.STUDY: "StudyInstanceUID",
    Level.SERIES: "SeriesInstanceUID",
    Level.INSTANCE: "SOPInstanceUID",
}
_DEFAULT_PAGE = 1000


class AsyncCollection(Generic[R]):
    """All the resources of one level on the server.

    Args:
        client: The client to talk through.
        resource_class: The class of the resources (e.g. :class:`AsyncStudy`).
    """

    def __init__(self, client: AsyncSeam, resource_class: type[R]) -> None:
        self._client = client
        self._class = resource_class

    @property
    def level(self) -> Level:
        """The level of the collection's resources."""
        return self._class.level

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

    async def get(self, orthanc_id: str) -> R:
        """The resource with this Orthanc ID, fetched in one request.

        Args:
            orthanc_id: An Orthanc ID of this level.

        Raises:
            OrthancInputError: ``orthanc_id`` does not have the shape of an Orthanc ID.
            NotFoundError: No resource of this level has that ID; when it is the ID of
                another level, the message says which.

        Example:
            >>> study = await client.studies.get("8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d")
            ... # doctest: +SKIP
        """
        check_orthanc_id(orthanc_id, self.level)
        try:
            value = await self._client.get((self.level.route, orthanc_id))
        except NotFoundError as error:
            raise await self._not_found(orthanc_id, error) from error
        return make_resource(self._client, self._class, value)

    async def _not_found(self, orthanc_id: str, error: NotFoundError) -> NotFoundError:
        hint = f"no {self.level.value.lower()} has the Orthanc ID {orthanc_id}"
        for level in Level:
            if level is not self.level and await self._exists(level, orthanc_id):
                hint += f": it is the ID of a {level.value.lower()}; use client.{level.route}.get()"
                break
        return NotFoundError(
            error.status_code,
            error.method,
            error.url,
            error.message,
            orthanc_status=error.orthanc_status,
            orthanc_error=error.orthanc_error,
            details=error.details,
            body=error.body,
            hint=hint,
        )

    async def _exists(self, level: Level, orthanc_id: str) -> bool:
        try:
            await self._client.get((level.route, orthanc_id))
        except NotFoundError:
            return False
        return True

    async def list(self, *, since: int = 0, limit: int | None = None) -> builtins.list[R]:
        """Every resource of this level (or a slice of them), with their data.

        Without arguments this is one request; ``since``/``limit`` select a slice in the server's
        order (pages of :meth:`iter` are the better way through a large server).

        Args:
            since: How many resources to skip.
            limit: The most to return (None for all; 0 is refused, as servers disagree on it).

        Raises:
            OrthancInputError: A negative ``since`` or a ``limit`` below 1.

        Example:
            >>> [patient.patient_id for patient in await client.patients.list()]  # doctest: +SKIP
        """
        find_body(self.level, {}, since=since, limit=limit)  # validates the arguments
        if limit is None and not since:
            value = await self._client.get(self.level.route, params={"expand": True})
            return resources_from_json(self._client, self._class, value)
        result: builtins.list[R] = []
        async for resource in self._pages(since, limit, _DEFAULT_PAGE):
            result.append(resource)
        return result

    async def iter(self, *, page_size: int = _DEFAULT_PAGE) -> AsyncIterator[R]:
        """Iterate over every resource of this level, fetching ``page_size`` at a time.

        Resources added or deleted while iterating may be missed or seen twice.

        Raises:
            OrthancInputError: ``page_size`` below 1.

        Example:
            >>> async for study in client.studies.iter(page_size=500):  # doctest: +SKIP
            ...     print(study.date)
        """
        find_body(self.level, {}, limit=page_size)
        async for resource in self._pages(0, None, page_size):
            yield resource

    async def _pages(self, since: int, limit: int | None, page_size: int) -> AsyncIterator[R]:
        remaining = limit
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            # Orthanc 1.10 needs "since" with "limit"; limit=0 would mean "all" or "none".
            params = {"expand": True, "since": since, "limit": size}
            page = resources_from_json(
                self._client, self._class, await self._client.get(self.level.route, params=params)
            )
            for resource in page:
                yield resource
            if len(page) < size:
                return
            since += len(page)
            remaining = None if remaining is None else remaining - len(page)

    async def count(self, query: Mapping[str, Any] | None = None, /, **tags: Any) -> int:
        """How many resources of this level there are, or match a query.

        Without a query this reads ``/statistics`` (one cheap request). With one, it uses
        ``/tools/count-resources`` on Orthanc 1.12.5+, else a find that returns IDs only.

        Args:
            query: Tags (keywords or ``"gggg,eeee"``) to values, as in :meth:`find`.
            **tags: More tags to values.

        Raises:
            OrthancInputError: An unknown tag or a bad value.

        Example:
            >>> await client.studies.count(StudyDate="20210101-")  # doctest: +SKIP
            12
        """
        if not query and not tags:
            statistics = await self._client.statistics()
            return int(getattr(statistics, f"count_{self.level.route}"))
        body = find_body(self.level, normalize_query(query, tags), expand=False)
        if (await self._client.capabilities()).supports("count_resources"):
            del body["Expand"]
            answer = await self._client.post("tools/count-resources", json=body)
            if not isinstance(answer, dict) or not isinstance(answer.get("Count"), int):
                raise UnexpectedContentError(f"count-resources answered {answer!r:.200}")
            return int(answer["Count"])
        ids = await self._client.post("tools/find", json=body)
        if not isinstance(ids, builtins.list):
            raise UnexpectedContentError(f"tools/find answered {ids!r:.200}")
        return len(ids)

    async def find(
        self,
        query: Mapping[str, Any] | None = None,
        /,
        *,
        case_sensitive: bool | None = None,
        limit: int | None = None,
        labels: Sequence[str] = (),
        labels_constraint: str = "All",
        requested_tags: Sequence[str] = (),
        **tags: Any,
    ) -> builtins.list[R]:
        """Find the resources of this level whose tags match, with their data, in one request.

        Values may use DICOM matching: wildcards (``"Doe*"``), ranges (``"20210101-"``), lists
        (``"CT\\\\MR"`` or ``["CT", "MR"]``); :class:`datetime.date` values and ``(start, end)``
        date tuples are accepted. Tags of the levels above may be used (e.g. ``PatientName`` to
        find series); ``ModalitiesInStudy`` is for studies.

        Args:
            query: Tags as DICOM keywords or ``"gggg,eeee"``, mapped to values.
            case_sensitive: Whether person names match case-sensitively (None: the server's
                ``CaseSensitivePN`` setting, false by default).
            limit: The most results to return (None for all).
            labels: Only resources with these labels (Orthanc 1.12+).
            labels_constraint: ``"All"``, ``"Any"`` or ``"None"`` of the labels.
            requested_tags: Extra tags the server should add to each answer (Orthanc 1.11+),
                found in ``raw["RequestedTags"]``.
            **tags: More tags to values, as keyword arguments.

        Raises:
            OrthancInputError: An unknown tag, a bad value, a bad limit.
            UnsupportedFeatureError: Labels or requested tags on a server that would ignore them.

        Example:
            >>> await client.studies.find(PatientName="Doe*", StudyDate="20210101-",
            ...     ModalitiesInStudy=["CT", "MR"])  # doctest: +SKIP
        """
        body = find_body(
            self.level,
            normalize_query(query, tags),
            case_sensitive=case_sensitive,
            limit=limit,
            labels=labels,
            labels_constraint=labels_constraint,
            requested_tags=requested_tags,
        )
        return await self._find(body)

    async def _find(self, body: dict[str, Any]) -> builtins.list[R]:
        for feature, purpose in required_features(body):
            (await self._client.capabilities()).require(feature, purpose)
        answer = await self._client.post("tools/find", json=body)
        return resources_from_json(self._client, self._class, answer)

    async def iter_find(
        self,
        query: Mapping[str, Any] | None = None,
        /,
        *,
        page_size: int = _DEFAULT_PAGE,
        case_sensitive: bool | None = None,
        labels: Sequence[str] = (),
        labels_constraint: str = "All",
        requested_tags: Sequence[str] = (),
        **tags: Any,
    ) -> AsyncIterator[R]:
        """Like :meth:`find`, fetching the results ``page_size`` at a time as you iterate.

        Raises:
            OrthancInputError: An unknown tag, a bad value, ``page_size`` below 1.
            UnsupportedFeatureError: Labels or requested tags on a server that would ignore them.

        Example:
            >>> async for study in client.studies.iter_find(StudyDate="2021-", page_size=100):
            ...     print(study.study_instance_uid)  # doctest: +SKIP
        """
        body = find_body(
            self.level,
            normalize_query(query, tags),
            case_sensitive=case_sensitive,
            limit=page_size,
            labels=labels,
            labels_constraint=labels_constraint,
            requested_tags=requested_tags,
        )
        since = 0
        while True:
            page = await self._find({**body, "Since": since} if since else body)
            for resource in page:
                yield resource
            if len(page) < page_size:
                return
            since += len(page)

    async def lookup(self, identifier: str) -> R | None:
        """The resource whose DICOM identifier is exactly ``identifier``, or None.

        The identifier is the PatientID for patients, else the Study/Series/SOP Instance UID.
        Matching is exact, as Orthanc's own find matches (on 1.10 and 1.12): case and spaces
        count, trailing spaces too. Orthanc removes the padding of an identifier stored with its
        own VR (``"P1 "`` as LO is ``"P1"``), but keeps the trailing spaces of one encoded as UN
        (pydicom-data's ``explicit_VR-UN.dcm`` has the PatientID ``"PANCREAS_0001 "``): pass
        the value as the server shows it (``patient.patient_id``). One UID may belong to
        several resources when two patients share a study: then this raises, and
        :meth:`lookup_all` returns them all.

        One request: a GET of the computed route for a patient, else one expanded find (with
        ``use_kk_plugin=True``, the KkOrthanc plugin's 307 and the resource's route). Both
        paths give the same results and errors.

        Raises:
            OrthancInputError: Not a string (or an empty UID, or one with wildcards).
            UnexpectedContentError: Several resources have this identifier (their Orthanc IDs,
                sorted, are in the message).

        Example:
            >>> await client.studies.lookup("1.2.840.113619.2.1.2411")  # doctest: +SKIP
            AsyncStudy('8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d')
        """
        self._check_identifier(identifier)
        if self.level is not Level.PATIENT and await self._plugin_takes(identifier):
            resource, ids = await self._kk_lookup(identifier)
        else:
            found = await self._lookup_all(identifier)
            resource, ids = (found[0] if found else None), [item.id for item in found]
        if len(ids) > 1:
            raise self._ambiguous(identifier, ids)
        return resource

    def _ambiguous(self, identifier: str, ids: builtins.list[str]) -> UnexpectedContentError:
        return UnexpectedContentError(
            f"{len(ids)} {self.level.route} have the {_IDENTIFIER[self.level]} {identifier!r} "
            f"(in different patients): {', '.join(sorted(ids))}; use lookup_all()"
        )

    async def _plugin_takes(self, identifier: str) -> bool:
        """Only when asked (``use_kk_plugin=True``): the plugin answers a lookup with a 307 to
        the resource's own route, two requests where one expanded find is enough."""
        if self._client.use_kk_plugin is not True or not plugin_accepts(identifier):
            return False
        return await use_plugin(self._client)

    async def _kk_lookup(self, identifier: str) -> tuple[R | None, builtins.list[str]]:
        """The plugin's one match, or (None, the sorted IDs of every match) when ambiguous."""
        try:
            value = await kk_lookup(self._client, self.level, identifier)
        except ConflictError as error:
            ids = kk_candidates(error)
            if ids is None:
                raise
            return None, ids
        if value is None:
            return None, []
        resource = make_resource(self._client, self._class, value)
        return resource, [resource.id]

    async def lookup_all(self, identifier: str) -> builtins.list[R]:
        """Every resource whose DICOM identifier is exactly ``identifier`` (often one, or none),
        sorted by Orthanc ID.

        One find (with ``use_kk_plugin=True``: one plugin request, plus one per resource).

        Raises:
            OrthancInputError: Not a string, an empty UID, or a UID with wildcards.

        Example:
            >>> len(await client.studies.lookup_all("1.2.3"))  # doctest: +SKIP
            2
        """
        self._check_identifier(identifier)
        if self.level is Level.PATIENT or not await self._plugin_takes(identifier):
            return await self._lookup_all(identifier)
        resource, ids = await self._kk_lookup(identifier)
        if resource is not None:
            return [resource]
        return [await self.get(orthanc_id) for orthanc_id in ids]

    def _check_identifier(self, identifier: str) -> None:
        if not isinstance(identifier, str):
            raise OrthancInputError(f"an identifier must be a string, got {identifier!r}")
        if self.level is not Level.PATIENT and not identifier.strip():
            raise OrthancInputError(f"an empty {_IDENTIFIER[self.level]} identifies nothing")
        if self.level is not Level.PATIENT and any(char in identifier for char in "*?\\"):
            raise OrthancInputError(
                f"{identifier!r} is not a {_IDENTIFIER[self.level]}: a UID has no '*', '?' or "
                "'\\'; use find() for wildcard matching"
            )

    async def _lookup_all(self, identifier: str) -> builtins.list[R]:
        if self.level is Level.PATIENT:
            try:  # one request: not get(), which asks the other levels to explain a 404
                value = await self._client.get((self.level.route, compute_orthanc_id(identifier)))
            except NotFoundError:
                return []
            return [make_resource(self._client, self._class, value)]
        key = _IDENTIFIER[self.level]
        body = find_body(self.level, {key: identifier})
        found = [item for item in await self._find(body) if item.main_tags.get(key) == identifier]
        return sorted(found, key=lambda resource: resource.id)


class AsyncPatients(AsyncCollection[AsyncPatient]):
    """``client.patients``: every patient on the server.

    Example:
        >>> await client.patients.lookup("#00385")  # doctest: +SKIP
        AsyncPatient('...')
    """

    def __init__(self, client: AsyncSeam) -> None:
        super().__init__(client, AsyncPatient)


class AsyncStudies(AsyncCollection[AsyncStudy]):
    """``client.studies``: every study on the server.

    Example:
        >>> await client.studies.find(StudyDate="20210101-20211231")  # doctest: +SKIP
    """

    def __init__(self, client: AsyncSeam) -> None:
        super().__init__(client, AsyncStudy)


class AsyncSeriesCollection(AsyncCollection[AsyncSeries]):
    """``client.series``: every series on the server.

    Example:
        >>> await client.series.find(Modality="CT")  # doctest: +SKIP
    """

    def __init__(self, client: AsyncSeam) -> None:
        super().__init__(client, AsyncSeries)


class AsyncInstances(AsyncCollection[AsyncInstance]):
    """``client.instances``: every instance on the server.

    Example:
        >>> await client.instances.lookup("1.2.3.4.5")  # doctest: +SKIP
    """

    def __init__(self, client: AsyncSeam) -> None:
        super().__init__(client, AsyncInstance)
