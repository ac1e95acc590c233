"""The seam: what the code below the concrete clients may ask of a client.

Resources, collections, jobs, the modalities and peers, the transfer engines and the fast lane
talk to a client only through :class:`AsyncSeam` (asynchronous code) or :class:`Seam` (its
synchronous twin), as httpx's lower layers see a transport protocol and never the client.
:class:`~kkorthanc.AsyncOrthanc` and :class:`~kkorthanc.Orthanc` satisfy them structurally;
nothing here names a client class, so nothing below the clients imports one.

The members, the same in both:

- the request verbs ``get``, ``post``, ``put``, ``delete`` (decoded answers), ``get_bytes``
  (raw bytes), ``stream`` (a response before its body is read) and ``request`` (a read
  ``httpx.Response``);
- what the server is: ``system()``, ``statistics()``, ``capabilities()`` (asked once, then
  remembered);
- what the client was told: ``url`` (its base URL) and ``use_kk_plugin``;
- ``lane_settings()``: what the transfer fast lane needs to send requests exactly as the client
  would (a :class:`LaneSettings`), or None where the client's settings need httpx.

The synchronous twin is written here by hand: ``scripts/unasync.py`` turns every ``AsyncSeam``
of the client code into ``Seam``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from .config import ClientConfig, Timeout, TimeoutTypes
from .models.system import Capabilities, Statistics, SystemInfo
from .request import ParamTypes, RequestData
from .urls import BaseURL, PathTypes

__all__ = ["AsyncSeam", "LaneSettings", "Seam"]

_LANE_AUTH = ("", "token", "basic")


@dataclass(frozen=True)
class LaneSettings:
    """What the transfer fast lane needs to send requests as the client would send them.

    A client gives these only where the lane is indistinguishable from httpx: plain HTTP, no
    custom transport, no proxy (neither ``proxy=`` nor ``trust_env=True``), no event hooks, no
    ``Accept-Encoding`` header, and no authentication but a token or a username and password.

    Attributes:
        base_url: The server's base URL (``http://``), its path prefix included.
        headers: The headers of every request of the client, in order, ``Authorization``
            included (a token's, or basic authentication's).
        timeout: The client's default timeout.

    Example:
        >>> settings = client.lane_settings()  # doctest: +SKIP
        >>> settings.base_url.join("instances")  # doctest: +SKIP
        'http://localhost:8042/instances'
    """

    base_url: BaseURL
    headers: tuple[tuple[str, str], ...]
    timeout: Timeout

    @classmethod
    def from_config(cls, config: ClientConfig) -> LaneSettings | None:
        """The settings of a client configured so, or None when its configuration needs httpx
        (https, a proxy, the environment's settings, a custom authentication, compressed
        answers). The client itself still checks what is not configuration (its transport,
        its event hooks, whether it is closed).

        Example:
            >>> from kkorthanc._core.config import resolve_config
            >>> config = resolve_config("http://o:8042", auth=None, token="t", headers=None,
            ...                         timeout=5, verify=True, cert=None, retries=0)
            >>> dict(LaneSettings.from_config(config).headers)["Authorization"]
            'Bearer t'
        """
        if config.base_url.scheme != "http" or config.auth_kind not in _LANE_AUTH:
            return None
        if config.proxy is not None or config.trust_env:
            return None  # a proxy (given or from the environment) is httpx's business
        if any(name.lower() == "accept-encoding" for name in config.headers):
            return None  # compressed answers: httpx decodes them, the lane does not
        headers = dict(config.headers)
        if config.auth_kind == "basic" and config.auth is not None:
            probe = httpx.Request("GET", str(config.base_url))
            headers["Authorization"] = next(config.auth.sync_auth_flow(probe)).headers[
                "Authorization"
            ]
        return cls(config.base_url, tuple(headers.items()), config.timeout)


class AsyncSeam(Protocol):
    """What the asynchronous code below :class:`~kkorthanc.AsyncOrthanc` asks of its client.

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


class Seam(Protocol):
    """What the synchronous code below :class:`~kkorthanc.Orthanc` asks of its client: the
    twin of :class:`AsyncSeam`, member for member.

    Example:
        >>> def study_count(client: Seam) -> int:
        ...     return len(client.get("studies"))
    """

    @property
    def url(self) -> str:
        """The server's base URL, always ending with ``/``, without credentials."""
        ...

    @property
    def use_kk_plugin(self) -> bool | None:
        """The client's ``use_kk_plugin`` option: None (when the server runs it), True, False."""
        ...

    def get(
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

    def post(
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

    def put(
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

    def delete(
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

    def get_bytes(
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
    ) -> AbstractContextManager[httpx.Response]:
        """A request whose checked response is entered before its body is read."""
        ...

    def request(
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

    def system(self) -> SystemInfo:
        """``GET /system``."""
        ...

    def statistics(self) -> Statistics:
        """``GET /statistics``."""
        ...

    def capabilities(self, *, refresh: bool = ...) -> Capabilities:
        """What the server supports, asked once and then remembered."""
        ...

    def lane_settings(self) -> LaneSettings | None:
        """The fast lane's settings, or None when this client must send through httpx."""
        ...
