"""DICOM networking through Orthanc: modalities, C-ECHO, C-FIND, C-MOVE, C-GET and C-STORE.

Every failed DICOM operation raises :class:`~kkorthanc.errors.DicomNetworkError` with Orthanc's
details (a refused association, a timeout, a rejected C-MOVE); nothing returns False.

The five DICOM operations on a modality are named after their DIMSE services, so that no
name is confused with an HTTP verb or a local search: ``c_echo``, ``c_find`` (and the
``c_find_<level>`` shortcuts), ``c_move``, ``c_get``, ``c_store``. A query's ``retrieve`` is
Orthanc's retrieve of its answers (a C-MOVE).

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

from ..._core.levels import Level
from ..._core.models.operations import (
    ModalityConfig,
    as_network_error,
    check_name,
    ended_by_remote,
    unknown_name,
    with_calling_aet_hint,
)
from ..._core.seam import AsyncSeam
from ..._core.urls import PathTypes
from ...errors import OrthancError, OrthancHTTPError, OrthancInputError, UnexpectedContentError
from ._jobs import AsyncJob, AsyncJobs
from ._resource import AsyncResource

__all__ = ["AsyncModalities", "AsyncModality", "AsyncQuery", "AsyncQueryAnswer", "resource_ids"]

Resources = Union[str, AsyncResource, Sequence[Union[str, AsyncResource]]]


def resource_ids(resources: Resources) -> list[str]:
    """Orthanc IDs of resources given as IDs or resource objects, one or many.

    Raises:
        OrthancInputError: Nothing given, or something that is neither.

    Example:
        >>> resource_ids(["a", "b"])
        ['a', 'b']
    """
    items = [resources] if isinstance(resources, (str, AsyncResource)) else list(resources)
    ids = [item.id if isinstance(item, AsyncResource) else item for item in items]
    if not ids or not all(isinstance(item, str) and item for item in ids):
        raise OrthancInputError(f"expected Orthanc IDs or resources, got {resources!r}")
    return ids


async def _network_post(client: AsyncSeam, path: PathTypes, body: Any, what: str) -> Any:
    try:
        return await client.post(path, json=body)
    except OrthancHTTPError as error:
        failure = as_network_error(error, what)
        if ended_by_remote(failure):
            failure = with_calling_aet_hint(failure, what, await _our_aet(client))
        raise failure from error


async def _our_aet(client: AsyncSeam) -> str:
    """The server's own AE title for an error's hint; empty when it cannot be asked."""
    try:
        return (await client.system()).dicom_aet
    except OrthancError:
        return ""


class AsyncQueryAnswer:
    """One answer of a C-FIND, with its tags by keyword, and the sub-queries and retrieve.

    Attributes:
        query: The query it answers.
        index: Its index among the answers.
        tags: The answer's tags, keyword to value (Orthanc's ``simplify`` form).
    """

    def __init__(self, query: AsyncQuery, index: int, tags: Mapping[str, Any]) -> None:
        self.query = query
        self.index = index
        self.tags = dict(tags)

    @property
    def level(self) -> Level:
        """The level of the query."""
        return self.query.level

    @property
    def patient_id(self) -> str | None:
        """``PatientID``, when the answer has it."""
        return self.tags.get("PatientID")

    @property
    def study_instance_uid(self) -> str | None:
        """``StudyInstanceUID``, when the answer has it."""
        return self.tags.get("StudyInstanceUID")

    @property
    def series_instance_uid(self) -> str | None:
        """``SeriesInstanceUID``, when the answer has it."""
        return self.tags.get("SeriesInstanceUID")

    @property
    def sop_instance_uid(self) -> str | None:
        """``SOPInstanceUID``, when the answer has it."""
        return self.tags.get("SOPInstanceUID")

    async def c_find_studies(self, **query: str) -> list[AsyncQueryAnswer]:
        """C-FIND the studies of this patient answer on the same modality.

        Raises:
            DicomNetworkError: The remote modality failed.

        Example:
            >>> studies = await patient_answer.c_find_studies()  # doctest: +SKIP
        """
        return await self._sub_query("query-studies", query)

    async def c_find_series(self, **query: str) -> list[AsyncQueryAnswer]:
        """C-FIND the series of this study answer on the same modality.

        Raises:
            DicomNetworkError: The remote modality failed.

        Example:
            >>> series = await study_answer.c_find_series(Modality="CT")  # doctest: +SKIP
        """
        return await self._sub_query("query-series", query)

    async def c_find_instances(self, **query: str) -> list[AsyncQueryAnswer]:
        """C-FIND the instances of this series answer on the same modality.

        Raises:
            DicomNetworkError: The remote modality failed.

        Example:
            >>> instances = await series_answer.c_find_instances()  # doctest: +SKIP
        """
        return await self._sub_query("query-instances", query)

    async def _sub_query(self, route: str, query: Mapping[str, str]) -> list[AsyncQueryAnswer]:
        client = self.query.client
        path = ("queries", self.query.id, "answers", str(self.index), route)
        answer = await _network_post(client, path, {"Query": dict(query)}, "the C-FIND")
        return await (await AsyncQuery.from_answer(self.query.modality, answer)).answers()

    async def retrieve(self, *, target_aet: str | None = None) -> dict[str, Any]:
        """C-MOVE this answer's resource to ``target_aet`` (this server by default); wait.

        Raises:
            DicomNetworkError: The C-MOVE failed (e.g. the remote does not know the target AET).

        Example:
            >>> await answer.retrieve()  # doctest: +SKIP
        """
        path = ("queries", self.query.id, "answers", str(self.index), "retrieve")
        body = {"Synchronous": True, **({"TargetAet": target_aet} if target_aet else {})}
        return dict(await _network_post(self.query.client, path, body, "the C-MOVE") or {})

    def __repr__(self) -> str:
        return f"AsyncQueryAnswer({self.query.id!r}, {self.index}, {self.tags!r})"


class AsyncQuery:
    """A C-FIND run by Orthanc on a modality; its answers stay on the server for retrieval.

    Attributes:
        modality: The modality queried.
        id: The query's ID on the server.
        level: The query's level.
    """

    def __init__(self, modality: AsyncModality, query_id: str, level: Level) -> None:
        self.modality = modality
        self.id = query_id
        self.level = level

    @property
    def client(self) -> AsyncSeam:
        """The client the query was made through."""
        return self.modality.client

    @classmethod
    async def from_answer(cls, modality: AsyncModality, answer: Any) -> AsyncQuery:
        """The query of a ``{"ID": ..., "Path": "/queries/..."}`` answer (its level is asked).

        Raises:
            UnexpectedContentError: The answer names no query.
        """
        if not isinstance(answer, Mapping) or not isinstance(answer.get("ID"), str):
            raise UnexpectedContentError(f"expected a query's ID, got {answer!r}")
        level = await modality.client.get(("queries", answer["ID"], "level"))
        return cls(modality, answer["ID"], Level.parse(str(level)))

    async def answers(self) -> list[AsyncQueryAnswer]:
        """All answers, with their tags, in one request (``answers?expand&simplify``).

        Raises:
            NotFoundError: The server dropped the query.

        Example:
            >>> [answer.study_instance_uid for answer in await query.answers()]  # doctest: +SKIP
        """
        params = {"expand": True, "simplify": True}
        answers = await self.client.get(("queries", self.id, "answers"), params=params)
        if not isinstance(answers, list):
            raise UnexpectedContentError(f"answers of query {self.id}: {answers!r}")
        return [AsyncQueryAnswer(self, index, tags) for index, tags in enumerate(answers)]

    async def retrieve(self, *, target_aet: str | None = None) -> dict[str, Any]:
        """C-MOVE every answer to ``target_aet`` (this server by default) and wait.

        Returns:
            Orthanc's report of the move.

        Raises:
            DicomNetworkError: The C-MOVE failed.

        Example:
            >>> await query.retrieve()  # doctest: +SKIP
        """
        body = {"Synchronous": True, **({"TargetAet": target_aet} if target_aet else {})}
        path = ("queries", self.id, "retrieve")
        return dict(await _network_post(self.client, path, body, "the C-MOVE") or {})

    async def retrieve_job(self, *, target_aet: str | None = None) -> AsyncJob:
        """Start the C-MOVE of every answer as a job; wait with ``job.wait()``.

        Raises:
            DicomNetworkError: The C-MOVE could not start.

        Example:
            >>> await (await query.retrieve_job()).wait(timeout=600)  # doctest: +SKIP
        """
        body = {"Asynchronous": True, **({"TargetAet": target_aet} if target_aet else {})}
        path = ("queries", self.id, "retrieve")
        answer = await _network_post(self.client, path, body, "the C-MOVE")
        return await AsyncJobs(self.client).from_answer(answer)

    def __repr__(self) -> str:
        return f"AsyncQuery({self.id!r}, {self.level.value}, {self.modality.name!r})"


class AsyncModality:
    """A DICOM modality the server knows, and what Orthanc can do with it.

    Attributes:
        client: The client it was obtained from.
        config: Its configuration (:class:`ModalityConfig`).
    """

    def __init__(self, client: AsyncSeam, config: ModalityConfig) -> None:
        self.client = client
        self.config = config

    @property
    def name(self) -> str:
        """The symbolic name used in routes."""
        return self.config.name

    @property
    def aet(self) -> str:
        """The remote AE title."""
        return self.config.aet

    def _path(self, *rest: str) -> tuple[str, ...]:
        return ("modalities", self.name, *rest)

    async def c_echo(self, *, timeout: int | None = None) -> None:
        """C-ECHO the modality; return only if it answered.

        Args:
            timeout: Seconds for the association (the server's ``DicomScuTimeout`` if None).

        Raises:
            DicomNetworkError: Refused association, closed port, timeout, with Orthanc's details.
            NotFoundError: The server knows no modality of that name.

        Example:
            >>> await (await client.modalities.get("pacs")).c_echo()  # doctest: +SKIP
        """
        body = {"Timeout": timeout} if timeout else {}
        await _network_post(self.client, self._path("echo"), body, f"C-ECHO of {self.name}")

    async def c_find(
        self, level: Level | str, query: Mapping[str, str], *, timeout: int | None = None
    ) -> AsyncQuery:
        """Run a C-FIND at ``level`` and return the query (its answers are fetched on demand).

        Raises:
            DicomNetworkError: The association or the C-FIND failed.
            NotFoundError: Unknown modality.
            OrthancInputError: An unknown level.

        Example:
            >>> query = await pacs.c_find("Study", {"PatientID": "P1"})  # doctest: +SKIP
        """
        body: dict[str, Any] = {"Level": Level.parse(level).value, "Query": dict(query)}
        if timeout:
            body["Timeout"] = timeout
        answer = await _network_post(self.client, self._path("query"), body, "the C-FIND")
        return await AsyncQuery.from_answer(self, answer)

    async def c_find_patients(self, **query: str) -> list[AsyncQueryAnswer]:
        """C-FIND patients, e.g. ``c_find_patients(PatientName="DOE*")``; answers in one request.

        Raises:
            DicomNetworkError: The association or the C-FIND failed.

        Example:
            >>> await pacs.c_find_patients(PatientID="P*")  # doctest: +SKIP
        """
        return await (await self.c_find(Level.PATIENT, query)).answers()

    async def c_find_studies(self, **query: str) -> list[AsyncQueryAnswer]:
        """C-FIND studies, e.g. ``c_find_studies(PatientID="P1", StudyDate="20200101-")``.

        Raises:
            DicomNetworkError: The association or the C-FIND failed.

        Example:
            >>> await pacs.c_find_studies(StudyDate="20240101-")  # doctest: +SKIP
        """
        return await (await self.c_find(Level.STUDY, query)).answers()

    async def c_find_series(self, **query: str) -> list[AsyncQueryAnswer]:
        """C-FIND series; give ``StudyInstanceUID`` (most modalities require it).

        Raises:
            DicomNetworkError: The association or the C-FIND failed.

        Example:
            >>> await pacs.c_find_series(StudyInstanceUID="1.2.3")  # doctest: +SKIP
        """
        return await (await self.c_find(Level.SERIES, query)).answers()

    async def c_find_instances(self, **query: str) -> list[AsyncQueryAnswer]:
        """C-FIND instances; give ``StudyInstanceUID`` and ``SeriesInstanceUID``.

        Raises:
            DicomNetworkError: The association or the C-FIND failed.

        Example:
            >>> await pacs.c_find_instances(StudyInstanceUID="1.2", SeriesInstanceUID="1.2.3")
            ... # doctest: +SKIP
        """
        return await (await self.c_find(Level.INSTANCE, query)).answers()

    async def c_move(
        self,
        level: Level | str,
        identifiers: Sequence[Mapping[str, str]],
        *,
        target_aet: str | None = None,
        timeout: int | None = None,
    ) -> None:
        """C-MOVE resources known by their DICOM identifiers to ``target_aet`` (default: this
        server), synchronously.

        Args:
            level: The level of the identifiers.
            identifiers: E.g. ``[{"StudyInstanceUID": "1.2.3"}]``.
            target_aet: The AE title to send to; the remote must know it.
            timeout: Seconds for the association.

        Raises:
            DicomNetworkError: The C-MOVE failed (unknown target AET, refused association...).
            OrthancInputError: No identifiers.

        Example:
            >>> await pacs.c_move("Study", [{"StudyInstanceUID": "1.2.3"}])  # doctest: +SKIP
        """
        body = self._retrieve_body(level, identifiers, timeout)
        if target_aet:
            body["TargetAet"] = target_aet
        await _network_post(self.client, self._path("move"), body, "the C-MOVE")

    async def c_get(
        self,
        level: Level | str,
        identifiers: Sequence[Mapping[str, str]],
        *,
        timeout: int | None = None,
    ) -> None:
        """C-GET resources into this server (Orthanc 1.12.6 and later), synchronously.

        Raises:
            UnsupportedFeatureError: The server is older than 1.12.6 (use :meth:`c_move`).
            DicomNetworkError: The C-GET failed.

        Example:
            >>> await pacs.c_get("Study", [{"StudyInstanceUID": "1.2.3"}])  # doctest: +SKIP
        """
        (await self.client.capabilities()).require("dicom_get", "C-GET (modality.c_get())")
        body = {**self._retrieve_body(level, identifiers, timeout), "Synchronous": True}
        await _network_post(self.client, self._path("get"), body, "the C-GET")

    @staticmethod
    def _retrieve_body(
        level: Level | str, identifiers: Sequence[Mapping[str, str]], timeout: int | None
    ) -> dict[str, Any]:
        if not identifiers or isinstance(identifiers, Mapping):
            raise OrthancInputError("give a list of identifiers, e.g. [{'StudyInstanceUID': ...}]")
        body: dict[str, Any] = {"Level": Level.parse(level).value, "Resources": list(identifiers)}
        if timeout:
            body["Timeout"] = timeout
        return body

    async def c_store(self, resources: Resources, *, timeout: int | None = None) -> dict[str, Any]:
        """C-STORE resources of this server to the modality and wait; return Orthanc's report.

        Raises:
            DicomNetworkError: The association or a C-STORE failed.
            OrthancInputError: No resources.

        Example:
            >>> report = await pacs.c_store([study])  # doctest: +SKIP
            >>> report["InstancesCount"]  # doctest: +SKIP
            12
        """
        body: dict[str, Any] = {"Resources": resource_ids(resources), "Synchronous": True}
        if timeout:
            body["Timeout"] = timeout
        return dict(await _network_post(self.client, self._path("store"), body, "the C-STORE"))

    async def c_store_job(self, resources: Resources) -> AsyncJob:
        """Start a C-STORE of resources to the modality as a job; wait with ``job.wait()``.

        Raises:
            OrthancInputError: No resources.
            NotFoundError: Unknown modality.

        Example:
            >>> await (await pacs.c_store_job([study])).wait(timeout=600)  # doctest: +SKIP
        """
        body = {"Resources": resource_ids(resources), "Asynchronous": True}
        answer = await _network_post(self.client, self._path("store"), body, "the C-STORE")
        return await AsyncJobs(self.client).from_answer(answer)

    def __repr__(self) -> str:
        config = self.config
        return f"AsyncModality({self.name!r}, aet={config.aet!r}, {config.host}:{config.port})"


class AsyncModalities:
    """The DICOM modalities the server knows: ``client.modalities``.

    Example:
        >>> [modality.name for modality in await client.modalities.list()]  # doctest: +SKIP
    """

    def __init__(self, client: AsyncSeam) -> None:
        self._client = client

    async def list(self) -> list[AsyncModality]:
        """Every modality with its configuration, in one request.

        Raises:
            OrthancHTTPError: The server answered an error status.

        Example:
            >>> await client.modalities.list()  # doctest: +SKIP
        """
        answer = await self._client.get("modalities", params={"expand": True})
        if not isinstance(answer, Mapping):
            raise UnexpectedContentError(f"GET /modalities?expand answered {answer!r}")
        return [
            AsyncModality(self._client, ModalityConfig.from_json(name, raw))
            for name, raw in sorted(answer.items())
        ]

    async def get(self, name: str) -> AsyncModality:
        """The modality of that name.

        Raises:
            NotFoundError: Unknown modality.
            OrthancInputError: A malformed name.

        Example:
            >>> pacs = await client.modalities.get("pacs")  # doctest: +SKIP
        """
        check_name(name, "modality")
        for modality in await self.list():
            if modality.name == name:
                return modality
        raise unknown_name(self._client.url, "modalities", name)

    async def configure(
        self, name: str, *, aet: str, host: str, port: int, **options: Any
    ) -> AsyncModality:
        """Create or replace a modality and return it.

        Args:
            name: The symbolic name: letters, digits, ``-`` and ``_``.
            aet: Its AE title.
            host: Its host name or address.
            port: Its DICOM port.
            **options: More of Orthanc's settings, e.g. ``Manufacturer="GE"``, ``AllowGet=True``.

        Raises:
            OrthancInputError: A malformed name, AET or port.
            BadRequestError: The server refused the configuration.

        Example:
            >>> await client.modalities.configure("pacs", aet="PACS", host="10.0.0.5", port=104)
            ... # doctest: +SKIP
        """
        check_name(name, "modality")
        if not aet or len(aet) > 16 or not isinstance(port, int) or not 0 < port < 65536:
            raise OrthancInputError(f"bad AET {aet!r} (1-16 characters) or port {port!r}")
        config = {"AET": aet, "Host": host, "Port": port, **options}
        await self._client.put(("modalities", name), json=config)
        return await self.get(name)

    async def delete(self, name: str) -> None:
        """Forget the modality of that name.

        Raises:
            NotFoundError: Unknown modality.
            OrthancInputError: A malformed name.

        Example:
            >>> await client.modalities.delete("pacs")  # doctest: +SKIP
        """
        check_name(name, "modality")
        await self.get(name)  # Orthanc 1.10 answers 200 for an unknown name
        await self._client.delete(("modalities", name))
