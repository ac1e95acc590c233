"""The settings the transfer fast lane takes from a client (:meth:`AsyncSeam.lane_settings`)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ..config import ClientConfig, Timeout
from ..urls import BaseURL

__all__ = ["LaneSettings"]

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
