"""The seam of a client: what the code below it may ask. The asynchronous seam is the source;
``scripts/unasync.py`` generates the synchronous one from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import httpx

from ..config import TimeoutTypes
from ..models.system import Capabilities, Statistics, SystemInfo
from ..request import ParamTypes, RequestData
from ..urls import PathTypes
from .settings import LaneSettings

__all__ = ["AsyncSeam"]


class AsyncSeam(Protocol):
    """What the code below :class:`~kkorthanc.AsyncOrthanc` asks of its client.

    Each member behaves as the client's method of the same name (see there for ``Raises:``).

    Example:
        >>> async def study_count(client: AsyncSeam) -> int:
        ...     return len(await client.get("studies"))
    """

    @property
    def url(self) -> str:
        """The server's base URL, always ending with ``/``, without credentials."""
        ...

    @property
    def use_kk_plugin(self) -> bool | None:
        """The client's ``use_kk_plugin`` option: None (when the server runs it), True, False."""
        ...

    async def get(
        self,
        path: PathTypes,
        *,
        params: ParamTypes | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
        retry: bool | None = ...,
    ) -> Any:
        """``GET path``, decoded."""
        ...

    async def post(
        self,
        path: PathTypes,
        *,
        json: Any = ...,
        data: RequestData | None = ...,
        params: ParamTypes | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
        retry: bool | None = ...,
    ) -> Any:
        """``POST path`` with a JSON body or raw data, decoded."""
        ...

    async def put(
        self,
        path: PathTypes,
        *,
        json: Any = ...,
        data: RequestData | None = ...,
        params: ParamTypes | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
        retry: bool | None = ...,
    ) -> Any:
        """``PUT path`` with a JSON body or raw data, decoded."""
        ...

    async def delete(
        self,
        path: PathTypes,
        *,
        params: ParamTypes | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
        retry: bool | None = ...,
    ) -> Any:
        """``DELETE path``, decoded."""
        ...

    async def get_bytes(
        self,
        path: PathTypes,
        *,
        params: ParamTypes | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
        retry: bool | None = ...,
    ) -> bytes:
        """``GET path``, the body as bytes."""
        ...

    def stream(
        self,
        method: str,
        path: PathTypes,
        *,
        params: ParamTypes | None = ...,
        json: Any = ...,
        data: RequestData | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """A request whose checked response is entered before its body is read."""
        ...

    async def request(
        self,
        method: str,
        path: PathTypes,
        *,
        params: ParamTypes | None = ...,
        json: Any = ...,
        data: RequestData | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
        retry: bool | None = ...,
    ) -> httpx.Response:
        """Any request; the read, checked ``httpx.Response``."""
        ...

    async def system(self) -> SystemInfo:
        """``GET /system``."""
        ...

    async def statistics(self) -> Statistics:
        """``GET /statistics``."""
        ...

    async def capabilities(self, *, refresh: bool = ...) -> Capabilities:
        """What the server supports, asked once and then remembered."""
        ...

    def lane_settings(self) -> LaneSettings | None:
        """The fast lane's settings, or None when this client must send through httpx."""
        ...
