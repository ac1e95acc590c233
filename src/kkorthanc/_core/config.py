"""Client settings: timeouts, retries, credentials, TLS, and where they come from."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

import httpx

from ..errors import OrthancInputError
from .retry import Retry, RetryTypes, as_retry
from .urls import BaseURL

__all__ = [
    "ClientConfig",
    "Timeout",
    "read_secret_file",
    "resolve_config",
    "secret_from_environment",
]

DEFAULT_URL = "http://localhost:8042"
USER_AGENT = "KkOrthanc"


@dataclass(frozen=True)
class Timeout:
    """How long a request may wait, in seconds, split by phase. ``None`` means no limit.

    Args:
        connect: To establish the connection.
        read: Between two pieces of the answer (not the whole answer), so long streams work.
        write: Between two pieces of the request body.
        pool: To get a connection from the pool when all are busy.

    Example:
        >>> Timeout(connect=2, read=600).read
        600
    """

    connect: float | None = 5.0
    read: float | None = 120.0
    write: float | None = 120.0
    pool: float | None = 60.0

    def to_httpx(self) -> httpx.Timeout:
        """Return the same limits as an ``httpx.Timeout``."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


TimeoutTypes = Union[Timeout, float, int, None, tuple[float, float]]


def as_timeout(value: TimeoutTypes) -> Timeout:
    """Normalise a timeout argument: a ``Timeout``, one number, ``(connect, read)`` or ``None``."""
    if isinstance(value, Timeout):
        return value
    if value is None:
        return Timeout(None, None, None, None)
    if isinstance(value, tuple):
        if len(value) != 2:
            raise OrthancInputError(f"timeout tuple must be (connect, read), got {value!r}")
        return Timeout(connect=value[0], read=value[1])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise OrthancInputError(f"timeout must be a positive number of seconds, got {value!r}")
    return Timeout(float(value), float(value), float(value), float(value))


AuthTypes = Union[tuple[str, str], httpx.Auth, None]
VerifyTypes = Union[bool, str, os.PathLike[str], ssl.SSLContext]
CertTypes = Union[str, os.PathLike[str], tuple[str, str], None]


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs to talk to one server; shared by the sync and async clients."""

    base_url: BaseURL
    auth: httpx.Auth | None
    headers: Mapping[str, str]
    timeout: Timeout
    retry: Retry
    verify: ssl.SSLContext | bool
    auth_kind: str
    proxy: str | None = None
    trust_env: bool = False

    def describe(self) -> str:
        """A short, credential-free description for ``repr``."""
        return f"{self.base_url}" + (f", auth={self.auth_kind}" if self.auth_kind else "")


def resolve_config(
    url: str | None,
    *,
    auth: AuthTypes,
    token: str | None,
    headers: Mapping[str, str] | None,
    timeout: TimeoutTypes,
    verify: VerifyTypes,
    cert: CertTypes,
    retries: RetryTypes,
    proxy: str | None = None,
    trust_env: bool = False,
) -> ClientConfig:
    """Build a :class:`ClientConfig` from constructor arguments and, when ``url`` is None, from
    ``ORTHANC_URL``, ``ORTHANC_USERNAME``, ``ORTHANC_PASSWORD`` and ``ORTHANC_TOKEN`` (or
    ``ORTHANC_PASSWORD_FILE`` and ``ORTHANC_TOKEN_FILE``, files holding them).

    ``trust_env`` (default False) lets httpx read ``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``; ``proxy`` names one
    proxy for every request and wins over the proxy variables."""
    if url is None:
        url = os.environ.get("ORTHANC_URL") or DEFAULT_URL
        auth, token = _auth_from_environment(auth, token)
    base_url, url_auth = BaseURL.parse(url)
    if url_auth is not None:
        if auth is not None or token is not None:
            raise OrthancInputError("credentials given both in the URL and as auth= or token=")
        auth = url_auth
    http_auth, kind = _build_auth(auth, token)
    merged = {"User-Agent": USER_AGENT, **(headers or {})}
    if token is not None:
        merged["Authorization"] = f"Bearer {token}"
    return ClientConfig(
        base_url=base_url,
        auth=http_auth,
        headers=merged,
        timeout=as_timeout(timeout),
        retry=as_retry(retries),
        verify=_build_verify(verify, cert, trust_env=_as_flag(trust_env, "trust_env")),
        auth_kind=kind,
        proxy=_check_proxy(proxy),
        trust_env=trust_env,
    )


def _as_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise OrthancInputError(f"{name} must be True or False, not {value!r}")
    return value


def _check_proxy(proxy: str | None) -> str | None:
    """A proxy URL (``http://host:3128``, ``https://...``, ``socks5://...`` with httpx[socks]),
    credentials allowed in it; checked here so a typo fails before the first request."""
    if proxy is None:
        return None
    if not isinstance(proxy, str):
        raise OrthancInputError(f"proxy must be a URL string, not {type(proxy).__name__}")
    try:
        url = httpx.URL(proxy)
    except httpx.InvalidURL as error:
        raise OrthancInputError(f"proxy= is not a URL: {error}") from error
    if url.scheme not in ("http", "https", "socks5", "socks5h") or not url.host:
        raise OrthancInputError(
            "proxy= must be a URL such as http://proxy.example:3128 (http, https or socks5)"
        )
    return proxy


def _auth_from_environment(auth: AuthTypes, token: str | None) -> tuple[AuthTypes, str | None]:
    if auth is not None or token is not None:
        return auth, token
    user = os.environ.get("ORTHANC_USERNAME")
    env_token = secret_from_environment("ORTHANC_TOKEN") or None
    if user:
        return (user, secret_from_environment("ORTHANC_PASSWORD") or ""), env_token
    return None, env_token


def secret_from_environment(name: str) -> str | None:
    """The secret in variable ``name``, else in the file named by ``name + "_FILE"``
    (``ORTHANC_PASSWORD_FILE``: its first line), else None.

    Raises:
        OrthancInputError: The file cannot be read, or its first line is empty.

    Example:
        >>> os.environ["EXAMPLE_SECRET"] = "s3cret"
        >>> secret_from_environment("EXAMPLE_SECRET")
        's3cret'
    """
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    return read_secret_file(path, f"{name}_FILE") if path else None


def read_secret_file(path: str | os.PathLike[str], origin: str) -> str:
    """The first line of file ``path`` (a password or a token), without its line end; ``origin``
    names where the path came from, for the error message.

    Raises:
        OrthancInputError: The file cannot be read, or its first line is empty.

    Example:
        >>> read_secret_file("/run/secrets/orthanc", "--password-file")  # doctest: +SKIP
        's3cret'
    """
    try:
        with open(path, encoding="utf-8") as stream:
            line = stream.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise OrthancInputError(f"cannot read {origin} {os.fspath(path)}: {error}") from error
    if not line:
        raise OrthancInputError(f"{origin} {os.fspath(path)}: the first line is empty")
    return line


def _build_auth(auth: AuthTypes, token: str | None) -> tuple[httpx.Auth | None, str]:
    if auth is not None and token is not None:
        raise OrthancInputError("give either auth= or token=, not both")
    if token is not None:
        if not token:
            raise OrthancInputError("token= must not be empty")
        return None, "token"
    if auth is None:
        return None, ""
    if isinstance(auth, httpx.Auth):
        return auth, "custom"
    if isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(p, str) for p in auth):
        return httpx.BasicAuth(auth[0], auth[1]), "basic"
    raise OrthancInputError("auth= must be a (username, password) tuple or an httpx.Auth")


def _build_verify(
    verify: VerifyTypes, cert: CertTypes, *, trust_env: bool = False
) -> ssl.SSLContext | bool:
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is False:
        if cert is not None:
            raise OrthancInputError(
                "cert= needs certificate verification (verify must not be False)"
            )
        return False
    elif verify is True:
        if cert is None:
            return True  # httpx builds the same context as below
        context = httpx.create_ssl_context(verify=True, trust_env=trust_env)
    else:
        context = _context_from_ca(os.fspath(verify))
    if cert is not None:
        _load_cert(context, cert)
    return context


def _context_from_ca(path: str) -> ssl.SSLContext:
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as error:
        raise OrthancInputError(f"cannot load CA certificates from {path!r}: {error}") from error


def _load_cert(context: ssl.SSLContext, cert: str | os.PathLike[str] | tuple[str, str]) -> None:
    certfile, keyfile = (cert[0], cert[1]) if isinstance(cert, tuple) else (os.fspath(cert), None)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as error:
        raise OrthancInputError(f"cannot load client certificate {certfile!r}: {error}") from error
