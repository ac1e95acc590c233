"""KkOrthanc plugin, shared part: constants, errors, answers and request parsing.

Pure logic (plain data in, plain data out), loaded by ``kk_routes.py`` inside Orthanc's Python
plugin (standard library only) and unit tested without Orthanc. See ``docs/plugin.md``.

Example:
    >>> parse_target("/studies/uids", {"id": "1.2.3"}).action
    'uids'
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

__version__ = "0.2.0.dev0"

DEFAULT_PREFIX = "/kk"
LEVELS = {  # route -> (Orthanc level, identifier tag)
    "patients": ("Patient", "PatientID"),
    "studies": ("Study", "StudyInstanceUID"),
    "series": ("Series", "SeriesInstanceUID"),
    "instances": ("Instance", "SOPInstanceUID"),
}
ROUTE_OF = {level: route for route, (level, _) in LEVELS.items()}
ORDER = ["Patient", "Study", "Series", "Instance"]
CHILDREN_KEY = {"Patient": "Studies", "Study": "Series", "Series": "Instances"}
# sub-route -> the methods it answers: GET reads (or redirects); DELETE, POST and PUT on any level
# route answer 400 (see kk_policy), before this table is used.
ALLOW = {"": "GET", "uids": "GET", "metadata": "GET", "anonymize": "POST", "modify": "POST"}
CHANGES = frozenset({"DELETE", "POST", "PUT"})  # never made through the plugin (see kk_policy)
MAX_FINDS = 16
STUDY_ONLY = frozenset({"ModalitiesInStudy", "0008,0061"})
MAX_IDENTIFIER = 1024
_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
_METADATA_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TAG_RE = re.compile(r"^([A-Z][A-Za-z0-9]*|[0-9A-Fa-f]{4},[0-9A-Fa-f]{4})$")
REWRITES = (
    "'//' and '\\' become '/', '.' and '..' segments are resolved, a trailing '/' or '.' and "
    "what follows a NUL are dropped"
)

# Orthanc error codes (``Orthanc --errors``) -> HTTP status, as Orthanc's own REST API maps them.
HTTP_STATUS_OF_CODE = {
    2: 501,
    3: 400,
    5: 400,
    6: 400,
    7: 404,
    8: 400,
    12: 400,
    13: 404,
    15: 400,
    16: 504,
    17: 404,
    21: 404,
    22: 403,
    27: 404,
    28: 400,
    29: 401,
    33: 400,
    34: 406,
    41: 416,
    43: 409,
    2000: 403,
}
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    416: "Requested Range Not Satisfiable",
    500: "Internal Server Error",
    501: "Not Implemented",
    504: "Gateway Timeout",
}
ORTHANC_ERRORS = {
    1: "Error encountered within the plugin engine",
    8: "Bad request",
    17: "Unknown resource",
    -1: "Internal error",
}


class KkError(Exception):
    """An error answer: HTTP status, message, Orthanc's status code and optional extra fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        orthanc_status: int | None = None,
        orthanc_error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.orthanc_status = orthanc_status if orthanc_status is not None else _code_of(status)
        self.orthanc_error = orthanc_error or ORTHANC_ERRORS.get(self.orthanc_status, message)
        self.extra = dict(extra or {})


def _code_of(status: int) -> int:
    return {400: 8, 403: 8, 404: 17, 409: 8}.get(status, -1)


class Reply:
    """What a handler answers: a status, a body and its MIME type, the ``Allow`` of a 405 or the
    ``Location`` of a 307."""

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        mime: str = "application/json",
        allow: str = "",
        location: str = "",
    ) -> None:
        self.status = status
        self.body = body
        self.mime = mime
        self.allow = allow
        self.location = location

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Reply:
        """A JSON answer (ASCII only, so its length in characters is its length in bytes)."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
        return cls(status, text.encode("ascii"))

    @classmethod
    def redirect(cls, level: str, resource_id: str, path: str, request_path: str) -> Reply:
        """A 307 to Orthanc's own route ``path`` of a resource, with ``{"ID", "Path", "Type"}``
        as body for clients that do not follow it.

        ``Location`` is relative to ``request_path`` (``../patients/{id}`` from ``/kk/patients``),
        as Orthanc's own redirects are, so it stays right behind a proxy that serves Orthanc
        under a path (``/orthanc/kk/patients`` leads to ``/orthanc/patients/{id}``).
        """
        reply = cls.json({"ID": resource_id, "Path": path, "Type": level}, 307)
        reply.location = relative_location(request_path, path)
        return reply


class Target(NamedTuple):
    """A parsed request: level route, identifier, action (``""``, ``uids``, ...), metadata name."""

    route: str
    identifier: str
    action: str
    name: str = ""


def relative_location(request_path: str, path: str) -> str:
    """``path`` (absolute on the server) written relative to the folder of ``request_path``.

    >>> relative_location("/kk/series/metadata/Reviewed", "/series/x/metadata/Reviewed")
    '../../../series/x/metadata/Reviewed'
    """
    depth = request_path.count("/") - 1  # the folders between the root and the request's file
    return "../" * depth + path.lstrip("/")


def read_prefix(configuration: str) -> str:
    """The route prefix from Orthanc's configuration JSON (``"KkOrthanc": {"Prefix": ...}``)."""
    section = json.loads(configuration or "{}").get("KkOrthanc") or {}
    prefix = section.get("Prefix", DEFAULT_PREFIX) if isinstance(section, dict) else None
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix.rstrip("/") or "/"):
        raise ValueError(
            f"KkOrthanc.Prefix must look like /kk (letters, digits, ._-), not {prefix!r}"
        )
    prefix = prefix.rstrip("/")
    if prefix.split("/")[1] in ("app", "patients", "studies", "series", "instances", "tools"):
        raise ValueError(f"KkOrthanc.Prefix {prefix!r} would hide Orthanc's own routes")
    return prefix


def route_regex(prefix: str) -> str:
    """The regular expression Orthanc matches URIs against: the prefix and anything below it."""
    return re.escape(prefix).replace("\\/", "/") + "(/.*)?"


def decode_query(get: dict[str, str]) -> dict[str, str]:
    """Decode query values, which reach the plugin still percent-encoded (``+`` is a space)."""
    return {key: unquote_plus(value) for key, value in get.items()}


def clean_identifier(value: str) -> str:
    """Check an identifier, kept exactly as given: Orthanc keeps the trailing spaces of a
    value encoded as UN, and its find matches them, so they are never removed here.

    Raises KkError (400) for an empty, over-long or control-character identifier.
    """
    cleaned = value.rstrip(" \x00")
    if not cleaned:
        raise KkError(400, "the identifier is empty")
    if len(value) > MAX_IDENTIFIER or any(ord(c) < 32 and c != "\x1b" for c in cleaned):
        raise KkError(400, "the identifier is too long or contains control characters")
    return value


def parse_target(rest: str, query: dict[str, str], prefix: str = "") -> Target:
    """Parse the path below the prefix (``/studies/uids``) and the decoded query (``id``).

    The identifier comes only from ``?id=``: Orthanc rewrites a decoded path before the plugin
    sees it (:data:`REWRITES`), so an identifier taken from the path may name another resource.
    The path names the level and the sub-route only.
    """
    route, _, tail = rest.lstrip("/").partition("/")
    if route not in LEVELS:
        raise KkError(404, f"unknown KkOrthanc route {rest!r}")
    action, _, name = tail.partition("/")
    known = action in ALLOW and (action == "metadata") == bool(name or "/" in tail)
    if "id" not in query:
        sub_route = "/" + tail if known else ""
        raise KkError(
            400,
            f"the identifier goes in the query, never in the path: "
            f"GET {prefix}/{route}{sub_route}?id=<identifier> (Orthanc rewrites a decoded path "
            f"before the plugin sees it: {REWRITES})",
        )
    if not known:
        raise KkError(404, f"unknown sub-route {tail!r} (the identifier goes in ?id=)")
    if action == "metadata" and not _METADATA_RE.match(name):
        raise KkError(400, f"bad metadata name {name!r}: letters, digits, '-' and '_' only")
    return Target(route, clean_identifier(query["id"]), action, name)


def target_path(prefix: str, target: Target) -> str:
    """The plugin's own path of a target (``/kk/series/metadata/Reviewed``), without the query."""
    below = f"/metadata/{target.name}" if target.action == "metadata" else f"/{target.action}"
    return f"{prefix}/{target.route}" + (below if target.action else "")


def allowed_methods(target: Target) -> str:
    """The methods a target accepts, as for an ``Allow`` header."""
    return ALLOW[target.action]


def orthanc_id(*parts: str) -> str:
    """Orthanc's ID of a resource from its identifiers (PatientID, then the UIDs below it)."""
    digest = hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


def status_of_code(code: int) -> int:
    """The HTTP status Orthanc gives to one of its error codes."""
    return HTTP_STATUS_OF_CODE.get(code, 500)


def error_body(error: KkError, method: str, uri: str) -> dict[str, Any]:
    """An Orthanc-style JSON error body."""
    body: dict[str, Any] = {
        "HttpError": REASONS.get(error.status, "Error"),
        "HttpStatus": error.status,
        "Message": error.message,
        "Method": method,
        "OrthancError": error.orthanc_error,
        "OrthancStatus": error.orthanc_status,
        "Uri": uri,
    }
    body.update(error.extra)
    return body


def exact_matches(candidates: list[dict[str, Any]], tag: str, identifier: str) -> list[Any]:
    """Keep the resources whose identifier tag equals ``identifier`` exactly."""
    return [c for c in candidates if (c.get("MainDicomTags") or {}).get(tag) == identifier]


def ambiguous(level: str, identifier: str, found: list[dict[str, Any]]) -> KkError:
    """The 409 answer for an identifier shared by several resources (e.g. one study UID under
    two PatientIDs): it lists the candidates; ``?PatientID=`` chooses one."""
    candidates = [
        {"ID": c["ID"], "Path": f"/{ROUTE_OF[level]}/{c['ID']}", "PatientID": c.get("_PatientID")}
        for c in found
    ]
    return KkError(
        409,
        f"{len(found)} {level} resources have the identifier {identifier!r}; "
        "add ?PatientID= to choose one",
        extra={"Candidates": candidates},
    )
