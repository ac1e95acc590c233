"""The one URL builder: a base URL with its path prefix, and quoted path segments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..errors import InvalidURLError, OrthancInputError

__all__ = ["BaseURL", "PathTypes", "segment"]

PathTypes = Union[str, Sequence[str]]
"""A route: a string such as ``"studies/123/archive"`` (used as written, with characters that are
not allowed in a URL path percent-encoded), or a sequence of segments, each quoted whole, so that an
identifier containing ``/``, ``#``, ``?`` or spaces stays one segment."""

# Characters kept as they are in a path given as a string: RFC 3986 pchar plus "/" and "%".
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def segment(value: str) -> str:
    """Quote one path segment completely (``/`` included).

    Example:
        >>> segment("A/B #1")
        'A%2FB%20%231'
    """
    if not isinstance(value, str):
        raise OrthancInputError(f"a path segment must be a string, got {type(value).__name__}")
    if value in ("", ".", ".."):
        raise OrthancInputError(f"{value!r} cannot be used as a path segment")
    return quote(value, safe="")


@dataclass(frozen=True)
class BaseURL:
    """A server's base URL: scheme, host and port, and a path prefix that always ends with ``/``.

    Example:
        >>> base, auth = BaseURL.parse("https://pacs.example.org/orthanc")
        >>> base.join("studies/1")
        'https://pacs.example.org/orthanc/studies/1'
        >>> base.join(["patients", "A/B"])
        'https://pacs.example.org/orthanc/patients/A%2FB'
    """

    scheme: str
    netloc: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> tuple[BaseURL, tuple[str, str] | None]:
        """Parse ``url``; return the base URL and the credentials it carried, if any.

        Raises:
            InvalidURLError: No scheme, a scheme other than http/https, no host, or a query.
        """
        if not isinstance(url, str) or not url.strip():
            raise InvalidURLError(f"the server URL must be a non-empty string, got {url!r}")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https"):
            raise InvalidURLError(
                f"the server URL {_redact(url)!r} needs a scheme: http:// or https:// "
                "(for example http://localhost:8042)"
            )
        if not parts.hostname:
            raise InvalidURLError(f"the server URL {_redact(url)!r} has no host")
        if parts.query or parts.fragment:
            raise InvalidURLError(f"the server URL {_redact(url)!r} must not have a query")
        auth = None
        if parts.username is not None:
            auth = (unquote(parts.username), unquote(parts.password or ""))
        try:
            port = parts.port
        except ValueError as error:
            raise InvalidURLError(f"the server URL {_redact(url)!r} has a bad port") from error
        netloc = _netloc(parts.hostname, port)
        prefix = "/" + parts.path.strip("/") + "/" if parts.path.strip("/") else "/"
        return cls(parts.scheme, netloc, prefix), auth

    def join(self, path: PathTypes) -> str:
        """Return the absolute URL of ``path`` under this base.

        Raises:
            OrthancInputError: A segment that is empty, ``.`` or ``..``, or not a string.
        """
        if isinstance(path, str):
            relative = quote(path.lstrip("/"), safe=_PATH_SAFE)
            if "?" in path or "#" in path:
                raise OrthancInputError(
                    f"path {path!r} contains '?' or '#': pass query values as params=, "
                    "and identifiers as a sequence of segments"
                )
        else:
            relative = "/".join(segment(part) for part in path)
        return urlunsplit((self.scheme, self.netloc, self.prefix + relative, "", ""))

    def __str__(self) -> str:
        return urlunsplit((self.scheme, self.netloc, self.prefix, "", ""))


def _netloc(host: str, port: int | None) -> str:
    if ":" in host:
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
