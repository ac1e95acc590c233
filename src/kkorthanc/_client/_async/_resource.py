"""The small base every Orthanc resource (patient, study, series, instance) stands on.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..._core.config import TimeoutTypes
from ..._core.levels import Level
from ..._core.request import UNSET, ParamTypes, RequestData
from ..._core.seam import AsyncSeam
from ...errors import OrthancInputError, UnexpectedContentError

__all__ = ["AsyncResource"]


class AsyncResource:
    """One resource on the server, known by its Orthanc ID, with the JSON the server last gave.

    Network access happens only in methods; :attr:`raw` is the answer fetched once (or given by
    a listing) and renewed by :meth:`refresh`. Two resources are equal when they have the same
    level and Orthanc ID.

    Args:
        client: The client it was obtained from.
        orthanc_id: Its Orthanc ID.
        raw: The JSON the server gave for it (``GET /{level}/{id}``), when already known.
    """

    level: ClassVar[Level]

    def __init__(
        self, client: AsyncSeam, orthanc_id: str, raw: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(orthanc_id, str) or not orthanc_id:
            raise OrthancInputError(f"an Orthanc ID must be a non-empty string, got {orthanc_id!r}")
        self._client = client
        self._id = orthanc_id
        self._raw: dict[str, Any] = dict(raw) if raw is not None else {}

    @property
    def id(self) -> str:
        """The Orthanc ID."""
        return self._id

    @property
    def client(self) -> AsyncSeam:
        """The client this resource talks through: the :class:`~kkorthanc.AsyncOrthanc` it came
        from, typed as what resources ask of a client (``kkorthanc._core.seam.AsyncSeam``: the
        request verbs, ``system()``, ``statistics()``, ``capabilities()``).

        Example:
            >>> await study.client.get(("studies", study.id, "statistics"))  # doctest: +SKIP
        """
        return self._client

    @property
    def raw(self) -> dict[str, Any]:
        """The JSON the server last gave for this resource (empty until fetched)."""
        return self._raw

    def path(self, *rest: str) -> tuple[str, ...]:
        """The route of this resource, or of a route under it, as path segments.

        Example:
            >>> study.path("archive")  # doctest: +SKIP
            ('studies', '8a8cf898-...', 'archive')
        """
        return (self.level.route, self._id, *rest)

    async def refresh(self) -> AsyncResource:
        """Fetch this resource's JSON again and return ``self``.

        Raises:
            NotFoundError: The resource no longer exists.
        """
        value = await self._client.get(self.path())
        if not isinstance(value, dict):
            raise UnexpectedContentError(f"GET {'/'.join(self.path())} answered {value!r}")
        self._raw = value
        return self

    async def get(
        self,
        route: str = "",
        *,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
    ) -> Any:
        """``GET`` a route under this resource (the resource itself when ``route`` is empty).

        Example:
            >>> await study.get("statistics")  # doctest: +SKIP
        """
        return await self._client.get(
            self._route(route), params=params, headers=headers, timeout=timeout
        )

    async def post(
        self,
        route: str,
        *,
        json: Any = None,
        data: RequestData | None = None,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
    ) -> Any:
        """``POST`` to a route under this resource.

        Example:
            >>> await study.post("anonymize", json={"Keep": ["StudyDescription"]})  # doctest: +SKIP
        """
        return await self._client.post(
            self._route(route),
            json=json,
            data=data,
            params=params,
            headers=headers,
            timeout=timeout,
        )

    async def put(
        self,
        route: str,
        *,
        json: Any = None,
        data: RequestData | None = None,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
    ) -> Any:
        """``PUT`` to a route under this resource.

        Example:
            >>> await series.put("metadata/1025", data="reviewed")  # doctest: +SKIP
        """
        return await self._client.put(
            self._route(route),
            json=json,
            data=data,
            params=params,
            headers=headers,
            timeout=timeout,
        )

    async def delete(
        self,
        route: str = "",
        *,
        params: ParamTypes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
    ) -> Any:
        """``DELETE`` this resource (no ``route``) or a route under it.

        Example:
            >>> await instance.delete("metadata/1025")  # doctest: +SKIP
            >>> await instance.delete()  # doctest: +SKIP
        """
        return await self._client.delete(
            self._route(route), params=params, headers=headers, timeout=timeout
        )

    def _route(self, route: str) -> tuple[str, ...]:
        parts = [part for part in route.split("/") if part]
        return self.path(*parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AsyncResource):
            return NotImplemented
        return type(self) is type(other) and self._id == other._id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._id))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._id!r})"
