"""What the sync and async clients share: settings, request building, retry decisions. No I/O."""

from __future__ import annotations

import logging
import ssl
import warnings
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from typing import Any, Union

import httpx

from ..errors import ClientClosedError, InsecureTransportWarning, OrthancInputError
from .config import (
    AuthTypes,
    CertTypes,
    ClientConfig,
    Timeout,
    TimeoutTypes,
    VerifyTypes,
    as_timeout,
    resolve_config,
)
from .retry import Retrying, RetryTypes
from .urls import PathTypes

__all__ = ["BaseOrthanc", "ParamTypes", "RequestData", "is_streamed", "verifies_certificates"]

logger = logging.getLogger("kkorthanc")

ParamValue = Union[str, int, float, bool, None]
ParamTypes = Mapping[str, ParamValue]
RequestData = Union[bytes, str, Iterable[bytes], AsyncIterable[bytes]]
EventHooks = Mapping[str, Sequence[Callable[..., Any]]]
"""httpx's event hooks: ``{"request": [...], "response": [...]}`` (async functions for the async
client)."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _Unset:
    """Marks an argument left out, where ``None`` has a meaning of its own."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class BaseOrthanc:
    """Settings and every piece of request logic that does no I/O.

    Not used directly: :class:`kkorthanc.Orthanc` and :class:`kkorthanc.AsyncOrthanc` build on it.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        auth: AuthTypes = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        retries: RetryTypes = 3,
        proxy: str | None = None,
        trust_env: bool = False,
        event_hooks: EventHooks | None = None,
        use_kk_plugin: bool | None = None,
    ) -> None:
        if use_kk_plugin is not None and not isinstance(use_kk_plugin, bool):
            raise OrthancInputError(
                f"use_kk_plugin must be None, True or False, not {use_kk_plugin!r}"
            )
        hooks = {key: list(value) for key, value in (event_hooks or {}).items()}
        if set(hooks) - {"request", "response"}:
            raise OrthancInputError(
                f"event_hooks keys are 'request' and 'response', not {set(hooks)}"
            )
        self._event_hooks = hooks
        self._use_kk_plugin: bool | None = use_kk_plugin
        self._config: ClientConfig = resolve_config(
            url,
            auth=auth,
            token=token,
            headers=headers,
            timeout=Timeout() if timeout is UNSET else timeout,
            verify=verify,
            cert=cert,
            retries=retries,
            proxy=proxy,
            trust_env=trust_env,
        )
        if not verifies_certificates(self._config):
            warnings.warn(
                f"TLS certificate verification is off for {self._config.base_url}: anyone on "
                f"the network path can read and change this traffic (credentials and patient "
                f"data included); trust the server's CA with verify='ca.pem' instead",
                InsecureTransportWarning,
                stacklevel=3,
            )

    @property
    def url(self) -> str:
        """The server's base URL, always ending with ``/``, without credentials."""
        return str(self._config.base_url)

    @property
    def timeout(self) -> Timeout:
        """The default :class:`~kkorthanc.Timeout` of this client's requests."""
        return self._config.timeout

    @property
    def use_kk_plugin(self) -> bool | None:
        """The ``use_kk_plugin`` option: None (the plugin is used when the server runs it),
        True (always) or False (never).

        Example:
            >>> Orthanc("http://localhost:8042", use_kk_plugin=False).use_kk_plugin
            False
        """
        return self._use_kk_plugin

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config.describe()})"

    def _client_options(self) -> dict[str, Any]:
        config = self._config
        return {
            "auth": config.auth,
            "headers": dict(config.headers),
            "timeout": config.timeout.to_httpx(),
            "verify": config.verify,
            "follow_redirects": False,
            "trust_env": config.trust_env,
            **({"proxy": config.proxy} if config.proxy is not None else {}),
            "event_hooks": {key: list(value) for key, value in self._event_hooks.items()},
        }

    def _closed_error(self, request: httpx.Request) -> ClientClosedError:
        """The error for a request on a closed client (httpx would raise a bare RuntimeError)."""
        closer = "aclose()" if type(self).__name__.startswith("Async") else "close()"
        return ClientClosedError(
            f"this {type(self).__name__} client of {self.url} is closed ({closer} was called, "
            f"or its with block ended): create a new client",
            method=request.method,
            url=str(request.url),
        )

    def _build_request(
        self,
        method: str,
        path: PathTypes,
        *,
        params: ParamTypes | None = None,
        json: Any = None,
        data: RequestData | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = UNSET,
    ) -> httpx.Request:
        if json is not None and data is not None:
            raise OrthancInputError("give either json= or data=, not both")
        extensions: dict[str, Any] = {}
        if timeout is not UNSET:
            extensions["timeout"] = as_timeout(timeout).to_httpx().as_dict()
        return httpx.Request(
            method.upper(),
            self._config.base_url.join(path),
            params=_query(params),
            json=json,
            content=data.encode("utf-8") if isinstance(data, str) else data,
            headers={**self._config.headers, **(headers or {})},
            extensions=extensions,
        )

    def _retrying(self) -> Retrying:
        """A new course through this client's :class:`~kkorthanc.Retry`, for one request."""
        return Retrying(self._config.retry)

    def _retry_delay(
        self,
        request: httpx.Request,
        course: Retrying,
        *,
        streamed: bool,
        status: int | None = None,
        error: Exception | None = None,
        retry: bool | None = None,
    ) -> float | None:
        """The pause before sending ``request`` again, or None when it must not be resent.

        ``course`` counts this request's retries and the time since its first failure.
        ``streamed`` says the body is an iterator (never resent). ``retry`` is the caller's
        word: True allows retrying a POST, False forbids any retry.
        """
        policy = course.policy
        if retry is False or streamed:
            return None
        unsent = error is not None and isinstance(error, _UNSENT_ERRORS)
        safe = retry is True or request.method in IDEMPOTENT_METHODS
        if not (unsent or (safe and (error is not None or status in policy.statuses))):
            return None
        delay = course.failed()
        if delay is not None:
            logger.debug(
                "retrying %s %s in %.2fs (attempt %d): %s",
                request.method,
                request.url,
                delay,
                course.attempt,
                error or status,
            )
        return delay


def verifies_certificates(config: ClientConfig) -> bool:
    """False when an ``https://`` server's certificate goes unchecked (``verify=False``, or an
    ``ssl.SSLContext`` with ``CERT_NONE``); True otherwise, plain ``http://`` included."""
    if config.base_url.scheme != "https":
        return True
    verify = config.verify
    if isinstance(verify, ssl.SSLContext):
        return verify.verify_mode != ssl.CERT_NONE
    return verify is not False


def _query(params: ParamTypes | None) -> dict[str, str]:
    """Encode query values: True as "true", False and None left out (Orthanc 1.10 reads a flag's
    presence, not its value), numbers as text."""
    query: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None or value is False:
            continue
        query[key] = "true" if value is True else str(value)
    return query


def is_streamed(request: httpx.Request) -> bool:
    """Whether the request's body is an iterator, which cannot be sent twice."""
    return not isinstance(request.stream, httpx.ByteStream)
