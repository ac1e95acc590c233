"""KkOrthanc routes for Orthanc: address resources by PatientID and DICOM UIDs.

This file is loaded by Orthanc's Python plugin as its ``"PythonScript"``; it uses only the standard
library and the ``orthanc`` module that the plugin provides, so it is self-contained: copy it
anywhere the server can read it. See ``docs/plugin.md`` for the route reference.

Routes live under one prefix (``/kk``; ``"KkOrthanc": {"Prefix": "/other"}`` changes it):
``GET /kk/`` describes them; ``/kk/{patients|studies|series|instances}/{identifier}`` with
``/uids``, ``/anonymize``, ``/modify``, ``/metadata/{name}``; ``GET /kk/tree?Level=Study&...``.
Orthanc decodes ``%2F`` in paths, so sub-routes are matched from the right end of the path; an
identifier ending with such a suffix goes in ``?id=`` (the path then names only the sub-route).

Example:
    Orthanc configuration::

        {"Plugins": ["/usr/share/orthanc/plugins/libOrthancPython.so"],
         "PythonScript": "/etc/orthanc/kk_routes.py",
         "KkOrthanc": {"Prefix": "/kk"}}
"""

from __future__ import annotations

import hashlib
import json
import re
import traceback
from collections.abc import Callable
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
ALLOW = {"": "GET,DELETE", "uids": "GET", "anonymize": "POST", "modify": "POST"}
ALLOW_METADATA = "GET,PUT,DELETE"
MAX_FINDS = 16
_STUDY_ONLY = frozenset({"ModalitiesInStudy", "0008,0061"})
MAX_IDENTIFIER = 1024
_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
_METADATA_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TAG_RE = re.compile(r"^([A-Z][A-Za-z0-9]*|[0-9A-Fa-f]{4},[0-9A-Fa-f]{4})$")
_SUFFIX_RE = re.compile(
    r"^(?P<ident>.*?)/(?P<action>uids|anonymize|modify|metadata/(?P<name>[^/]*))$"
)

# Orthanc error codes (``Orthanc --errors``) -> HTTP status, as Orthanc's own REST API maps them.
HTTP_STATUS_OF_CODE = {
    2: 501, 3: 400, 5: 400, 6: 400, 7: 404, 8: 400, 12: 400, 13: 404, 15: 400, 16: 504,
    17: 404, 21: 404, 22: 403, 27: 404, 28: 400, 29: 401, 33: 400, 34: 406, 41: 416, 43: 409,
    2000: 403,
}  # fmt: skip
REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict",
    416: "Requested Range Not Satisfiable", 500: "Internal Server Error",
    501: "Not Implemented", 504: "Gateway Timeout",
}  # fmt: skip
ORTHANC_ERRORS = {1: "Error encountered within the plugin engine", 8: "Bad request",
                  17: "Unknown resource", -1: "Internal error"}  # fmt: skip


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
    return {400: 8, 404: 17, 409: 8}.get(status, -1)


class Reply:
    """What a handler answers: a status, a body and its MIME type, or the ``Allow`` of a 405."""

    def __init__(
        self, status: int = 200, body: bytes = b"", mime: str = "application/json", allow: str = ""
    ) -> None:
        self.status = status
        self.body = body
        self.mime = mime
        self.allow = allow

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Reply:
        """A JSON answer (ASCII only, so its length in characters is its length in bytes)."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
        return cls(status, text.encode("ascii"))


class Target(NamedTuple):
    """A parsed request: level route, identifier, action (``""``, ``uids``, ...), metadata name."""

    route: str
    identifier: str
    action: str
    name: str = ""


# ---------------------------------------------------------------------------------------------
# Pure logic: plain data in, plain data out (unit tested without Orthanc)


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
    """Normalise an identifier as Orthanc stores it: trailing spaces and NULs removed.

    Raises KkError (400) for an empty, over-long or control-character identifier.
    """
    cleaned = value.rstrip(" \x00")
    if not cleaned:
        raise KkError(400, "the identifier is empty")
    if len(cleaned) > MAX_IDENTIFIER or any(ord(c) < 32 and c != "\x1b" for c in cleaned):
        raise KkError(400, "the identifier is too long or contains control characters")
    return cleaned


def parse_target(rest: str, query: dict[str, str]) -> Target:
    """Parse the path below the prefix (``/studies/1.2.3/uids``) and the decoded query.

    With ``id`` in the query, the path holds only the level and the sub-route. Without it, the
    sub-route is matched from the right end of the path, and what is left is the identifier.
    """
    route, _, tail = rest.lstrip("/").partition("/")
    if route not in LEVELS:
        raise KkError(404, f"unknown KkOrthanc route {rest!r}")
    if "id" in query:
        identifier, path_action = query["id"], tail
    else:
        match = _SUFFIX_RE.match("/" + tail) if tail else None
        identifier = match.group("ident")[1:] if match else tail
        path_action = tail[len(identifier) + 1 :] if match else ""
        if not identifier:
            raise KkError(400, f"no identifier: use /{route}/{{identifier}} or ?id=")
    action, _, name = path_action.partition("/")
    if action not in ALLOW and action != "metadata":
        raise KkError(404, f"unknown sub-route {path_action!r} (with ?id=, the path names only it)")
    if action == "metadata" and not _METADATA_RE.match(name):
        raise KkError(400, f"bad metadata name {name!r}: letters, digits, '-' and '_' only")
    return Target(route, clean_identifier(identifier), action, name)


def allowed_methods(target: Target) -> str:
    """The methods a target accepts, as for an ``Allow`` header."""
    return ALLOW_METADATA if target.action == "metadata" else ALLOW[target.action]


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


def find_filters(query: dict[str, str]) -> tuple[str, str, bool, dict[str, str]]:
    """Read ``/tree``'s query: Level (Patient or Study), Depth, CaseSensitive and tag filters."""
    params = dict(query)
    level = params.pop("Level", "Study").capitalize()
    depth = params.pop("Depth", "Instance").capitalize()
    sensitive = params.pop("CaseSensitive", "false").lower()
    if level not in ("Patient", "Study"):
        raise KkError(400, f"Level must be Patient or Study, not {level!r}")
    if depth not in ORDER or ORDER.index(depth) < ORDER.index(level):
        raise KkError(400, f"Depth must be a level at or below {level}, not {depth!r}")
    if sensitive not in ("true", "false", "1", "0"):
        raise KkError(400, f"CaseSensitive must be true or false, not {sensitive!r}")
    for key in params:
        if not _TAG_RE.match(key):
            raise KkError(
                400, f"unknown parameter {key!r}: filters are DICOM keywords or gggg,eeee"
            )
    return level, depth, sensitive in ("true", "1"), params


def _node(resource: dict[str, Any], level: str, depth: str) -> dict[str, Any]:
    """Orthanc's JSON of the resource, its child-ID list moved to ``ChildIDs`` and replaced by
    the nested child nodes (an empty list to fill) when the tree goes deeper."""
    node = dict(resource)
    node["Type"] = level
    node.setdefault("MainDicomTags", {})
    key = CHILDREN_KEY.get(level)
    if key is not None:
        node["ChildIDs"] = node.pop(key, [])
        if ORDER.index(level) < ORDER.index(depth):
            node[key] = []
    return node


def build_tree(
    found: dict[str, list[dict[str, Any]]], depth: str = "Instance"
) -> list[dict[str, Any]]:
    """Nest resources found per level (Orthanc's expanded JSON) into patients > studies > ...

    Patients may be missing from ``found``: they are built from the studies'
    ``PatientMainDicomTags``. Children whose parent is absent are dropped; nodes at ``depth`` have
    no children key. Nodes are sorted by ID.
    """
    patients = {p["ID"]: _node(p, "Patient", depth) for p in found.get("Patient", [])}
    for study in [] if "Patient" in found else found.get("Study", []):
        tags = study.get("PatientMainDicomTags", {})
        patient = {"ID": study["ParentPatient"], "MainDicomTags": tags}
        patients.setdefault(study["ParentPatient"], _node(patient, "Patient", depth))
    nodes = {"Patient": patients}
    for level in ORDER[1:]:
        parent_level = ORDER[ORDER.index(level) - 1]
        nodes[level] = {}
        for resource in sorted(found.get(level, []), key=lambda r: str(r["ID"])):
            parent = nodes[parent_level].get(resource.get("Parent" + parent_level, ""))
            if parent is not None and CHILDREN_KEY[parent_level] in parent:
                nodes[level][resource["ID"]] = _node(resource, level, depth)
                parent[CHILDREN_KEY[parent_level]].append(nodes[level][resource["ID"]])
    return [patients[key] for key in sorted(patients)]


def build_uids(level: str, chain: dict[str, Any], below: dict[str, list[Any]]) -> dict[str, Any]:
    """The nested DICOM identifiers of a resource.

    Args:
        level: The resource's level.
        chain: The resource's own identifiers and its parents' (``PatientID``, ...), and ``ID``.
        below: Orthanc's JSON of every resource under it, per level.
    """
    answer = {"Type": level, **chain}
    children: dict[str, list[dict[str, Any]]] = {}
    for child_level in reversed(ORDER[ORDER.index(level) + 1 :]):
        tag = LEVELS[ROUTE_OF[child_level]][1]
        parent_key = "Parent" + ORDER[ORDER.index(child_level) - 1]
        for resource in sorted(below.get(child_level, []), key=lambda r: str(r["ID"])):
            item = {"ID": resource["ID"], tag: resource["MainDicomTags"].get(tag, "")}
            if child_level in CHILDREN_KEY:
                item[CHILDREN_KEY[child_level]] = children.get(resource["ID"], [])
            children.setdefault(resource[parent_key], []).append(item)
    if level in CHILDREN_KEY:
        answer[CHILDREN_KEY[level]] = children.get(chain["ID"], [])
    return answer


# ---------------------------------------------------------------------------------------------
# Talking to Orthanc: ``api`` is the ``orthanc`` module (or a fake with the same functions)


def call(api: Any, function: str, *args: Any) -> Any:
    """Call ``api.RestApiGet/Post/Put/Delete`` and turn Orthanc's exception into a KkError."""
    try:
        return getattr(api, function)(*args)
    except api.OrthancException as error:
        first = str(error.args[0]) if error.args else ""
        code = int(first) if first.lstrip("-").isdigit() else -1
        message = str(error.args[1]) if len(error.args) > 1 else str(error)
        raise KkError(
            status_of_code(code), message, orthanc_status=code, orthanc_error=message
        ) from None


def get_json(api: Any, uri: str) -> Any:
    """``GET`` an internal route and decode its JSON."""
    return json.loads(call(api, "RestApiGet", uri))


def find(api: Any, level: str, query: dict[str, str], sensitive: bool = True) -> list[Any]:
    """Run ``/tools/find`` with ``Expand`` inside the server."""
    body = {"Level": level, "Query": query, "Expand": True, "CaseSensitive": sensitive}
    found: list[Any] = json.loads(call(api, "RestApiPost", "/tools/find", json.dumps(body)))
    return found


def find_many(api: Any, body: bytes) -> Reply:
    """``POST /tools/find``: several ``/tools/find`` bodies in one request, their answers in order.

    The answers are Orthanc's own bytes, joined into one JSON array without being decoded, so
    the server does exactly the work of the separate finds and the client saves the round trips.
    """
    try:
        bodies = json.loads(body or b"null")
    except ValueError as error:
        raise KkError(400, f"the body is not JSON: {error}") from None
    if not isinstance(bodies, list) or not bodies or len(bodies) > MAX_FINDS:
        raise KkError(400, f"the body must be a JSON array of 1 to {MAX_FINDS} /tools/find bodies")
    if not all(isinstance(item, dict) for item in bodies):
        raise KkError(400, "each item must be a /tools/find body (a JSON object)")
    answers = [bytes(call(api, "RestApiPost", "/tools/find", json.dumps(item))) for item in bodies]
    return Reply(200, b"[" + b",".join(answers) + b"]")


def resolve(api: Any, route: str, identifier: str, patient_id: str | None) -> dict[str, Any]:
    """Orthanc's JSON of the one resource with this exact identifier.

    Raises KkError: 404 when there is none, 409 when several match (see :func:`ambiguous`).
    """
    level, tag = LEVELS[route]
    if route == "patients":
        candidates = [_get_or_none(api, f"/patients/{orthanc_id(identifier)}")]
    else:
        hits = json.loads(call(api, "RestApiPost", "/tools/lookup", identifier))
        ids = sorted({hit["ID"] for hit in hits if hit.get("Type") == level})
        candidates = [_get_or_none(api, f"/{route}/{i}") for i in ids]
    found = exact_matches([c for c in candidates if c is not None], tag, identifier)
    if route != "patients" and (patient_id is not None or len(found) > 1):
        found = _with_patient_ids(api, route, found, patient_id)
    if not found:
        raise KkError(404, f"no {level} with {tag} {identifier!r}")
    if len(found) > 1:
        raise ambiguous(level, identifier, found)
    resource: dict[str, Any] = found[0]
    return resource


def _get_or_none(api: Any, uri: str) -> Any:
    try:
        return get_json(api, uri)
    except KkError as error:
        if error.status == 404:
            return None
        raise


def _with_patient_ids(api: Any, route: str, found: list[Any], patient_id: str | None) -> list[Any]:
    for resource in found:
        patient = get_json(api, f"/{route}/{resource['ID']}/patient")
        resource["_PatientID"] = patient["MainDicomTags"].get("PatientID", "")
    kept = [r for r in found if patient_id is None or r["_PatientID"] == patient_id]
    if patient_id is not None:
        for resource in kept:
            resource.pop("_PatientID")
    return kept


def identifier_chain(api: Any, route: str, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource's ID and the DICOM identifiers of it and of its parents."""
    level, tag = LEVELS[route]
    chain = {"ID": resource["ID"]}
    if level in ("Series", "Instance"):
        study = get_json(api, f"/{route}/{resource['ID']}/study")
        chain["PatientID"] = study["PatientMainDicomTags"].get("PatientID", "")
        chain["StudyInstanceUID"] = study["MainDicomTags"].get("StudyInstanceUID", "")
    elif level == "Study":
        chain["PatientID"] = resource["PatientMainDicomTags"].get("PatientID", "")
    if level == "Instance":
        series = get_json(api, f"/instances/{resource['ID']}/series")
        chain["SeriesInstanceUID"] = series["MainDicomTags"].get("SeriesInstanceUID", "")
    chain[tag] = resource["MainDicomTags"].get(tag, "")
    return chain


def uids_of(api: Any, route: str, resource: dict[str, Any]) -> dict[str, Any]:
    """``GET .../uids``: one in-server call per level below the resource, plus its parents."""
    level = LEVELS[route][0]
    below = {
        child: get_json(api, f"/{route}/{resource['ID']}/{ROUTE_OF[child]}")
        for child in ORDER[ORDER.index(level) + 1 :]
    }
    return build_uids(level, identifier_chain(api, route, resource), below)


def tree_of(api: Any, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /tree``: one expanded find per level, each with the filters that level accepts.

    Resources whose parent was not found are dropped when the tree is built, so lower levels
    need no lists of parent UIDs (which Orthanc matches slowly).
    """
    level, depth, sensitive, filters = find_filters(query)
    below_study = {key: value for key, value in filters.items() if key not in _STUDY_ONLY}
    found: dict[str, list[Any]] = {}
    for current in ORDER[ORDER.index(level) : ORDER.index(depth) + 1]:
        here = filters if current in ("Patient", "Study") else below_study
        found[current] = find(api, current, here, sensitive)
    if level == "Study":  # the studies' patients, as Orthanc gives them
        parents = sorted({study["ParentPatient"] for study in found["Study"]})
        found["Patient"] = [get_json(api, f"/patients/{parent}") for parent in parents]
    return build_tree(found, depth)


def describe(prefix: str) -> dict[str, Any]:
    """The answer of ``GET {prefix}/``: the plugin's version and an OpenAPI fragment."""
    item = f"{prefix}/{{level}}/{{identifier}}"
    text = (
        "Address a resource by its DICOM identifier (level: patients, studies, series, "
        "instances). Exact match. Orthanc decodes %2F in paths, so sub-routes are matched from "
        "the right end; an identifier ending in /uids, /anonymize, /modify or /metadata/{name} "
        "goes in ?id= (then the path holds only the level and the sub-route). A study UID "
        "under several PatientIDs answers 409 with Candidates; ?PatientID= chooses."
    )
    paths = {
        prefix + "/": {"get": {"summary": "This description"}},
        item: {"get": {"summary": "The resource", "description": text},
               "delete": {"summary": "Delete the resource"}},
        item + "/uids": {"get": {"summary": "Every DICOM identifier under it, nested"}},
        item + "/anonymize": {"post": {"summary": "Forwarded to Orthanc's anonymize"}},
        item + "/modify": {"post": {"summary": "Forwarded to Orthanc's modify"}},
        item + "/metadata/{name}": {"get": {"summary": "Metadata value"},
                                    "put": {"summary": "Set it"}, "delete": {"summary": "Delete"}},
        prefix + "/tools/find": {"post": {"summary": "Several /tools/find in one request",
                                          "description": "Body: a JSON array of /tools/find "
                                          "bodies; answer: the array of their answers."}},
        prefix + "/tree": {"get": {"summary": "Nested tree with main tags",
                                   "description": "Query: Level (Patient|Study), Depth, "
                                   "CaseSensitive, and DICOM tag filters as in /tools/find."}},
    }  # fmt: skip
    return {
        "KkOrthancPlugin": {"Version": __version__, "Prefix": prefix},
        "openapi": "3.0.3",
        "info": {"title": "KkOrthanc routes", "version": __version__},
        "paths": paths,
    }


# ---------------------------------------------------------------------------------------------
# Dispatch


def handle(api: Any, prefix: str, method: str, rest: str, request: dict[str, Any]) -> Reply:
    """Answer one request below the prefix (``rest`` is the path after it, already decoded)."""
    query = decode_query(request.get("get") or {})
    if rest in ("", "/"):
        return _only(method, "GET") or Reply.json(describe(prefix))
    if rest.rstrip("/") == "/tree":
        return _only(method, "GET") or Reply.json(tree_of(api, query))
    if rest.rstrip("/") == "/tools/find":
        return _only(method, "POST") or find_many(api, request.get("body") or b"")
    target = parse_target(rest, query)
    refused = _only(method, allowed_methods(target))
    if refused:
        return refused
    resource = resolve(api, target.route, target.identifier, query.get("PatientID"))
    return ACTIONS[target.action](api, method, target, resource, request.get("body") or b"")


def _only(method: str, allow: str) -> Reply | None:
    return None if method in allow.split(",") else Reply(405, allow=allow)


def _path(target: Target, resource: dict[str, Any]) -> str:
    return f"/{target.route}/{resource['ID']}"


def _resource(api: Any, method: str, target: Target, resource: Any, body: bytes) -> Reply:
    if method == "GET":
        return Reply.json(resource)
    call(api, "RestApiDelete", _path(target, resource))
    return Reply.json({"ID": resource["ID"], "Path": _path(target, resource), "Deleted": True})


def _uids(api: Any, method: str, target: Target, resource: Any, body: bytes) -> Reply:
    return Reply.json(uids_of(api, target.route, resource))


def _forward_post(api: Any, method: str, target: Target, resource: Any, body: bytes) -> Reply:
    answer = call(api, "RestApiPost", f"{_path(target, resource)}/{target.action}", body)
    mime = "application/dicom" if target.route == "instances" else "application/json"
    return Reply(200, bytes(answer), mime)


def _metadata(api: Any, method: str, target: Target, resource: Any, body: bytes) -> Reply:
    uri = f"{_path(target, resource)}/metadata/{target.name}"
    if method == "GET":
        return Reply(200, bytes(call(api, "RestApiGet", uri)), "text/plain")
    if method == "PUT":
        call(api, "RestApiPut", uri, body)
    else:
        call(api, "RestApiDelete", uri)
    return Reply.json({})


ACTIONS: dict[str, Callable[[Any, str, Target, Any, bytes], Reply]] = {
    "": _resource,
    "uids": _uids,
    "anonymize": _forward_post,
    "modify": _forward_post,
    "metadata": _metadata,
}


def safe_handle(api: Any, prefix: str, uri: str, request: dict[str, Any]) -> Reply:
    """:func:`handle`, with every failure turned into a JSON error answer (never a traceback).

    Unexpected exceptions are logged with their traceback through ``api.LogError`` and answered
    as a 500 whose body says only that the detail is in the server's log.
    """
    method = str(request.get("method", "GET"))
    groups = request.get("groups") or [uri[len(prefix) :]]
    try:
        return handle(api, prefix, method, groups[0] or "", request)
    except KkError as error:
        return Reply.json(error_body(error, method, uri), error.status)
    except Exception as error:  # the plugin's last line: log it, answer 500
        api.LogError(f"KkOrthanc: {method} {uri} failed:\n{traceback.format_exc()}")
        name = type(error).__name__
        message = f"internal error in the KkOrthanc plugin ({name}); the server log has the details"
        failure = KkError(500, message, orthanc_status=1)
        return Reply.json(error_body(failure, method, uri), 500)


def send(output: Any, reply: Reply, json_header: bool) -> None:
    """Send a reply through the plugin's ``output`` object (plugin 4.0 and 5.0)."""
    if reply.status == 405:
        output.SendMethodNotAllowed(reply.allow)
    elif reply.status == 200:
        output.AnswerBuffer(reply.body, reply.mime)
    else:
        if json_header:  # Orthanc < 1.12.2 sends error bodies without a Content-Type
            output.SetHttpHeader("Content-Type", reply.mime)
        try:  # plugin 5.0: (status, body)
            output.SendHttpStatus(reply.status, reply.body)
        except TypeError:  # plugin 4.0: (status, text, size)
            text = reply.body.decode("ascii")
            output.SendHttpStatus(reply.status, text, len(text))


def register(api: Any) -> str:
    """Register the routes with Orthanc (called when Orthanc loads this file); return the prefix."""
    prefix = read_prefix(api.GetConfiguration())
    json_header = not _at_least(api, 1, 12, 2)

    def callback(output: Any, uri: str, **request: Any) -> None:
        send(output, safe_handle(api, prefix, uri, request), json_header)

    api.RegisterRestCallback(route_regex(prefix), callback)
    api.LogWarning(f"KkOrthanc routes {__version__} registered under {prefix}/")
    return prefix


def _at_least(api: Any, major: int, minor: int, revision: int) -> bool:
    check = getattr(api, "CheckVersionAdvanced", None)
    return bool(check(major, minor, revision)) if check is not None else False


def _orthanc_module() -> Any:
    try:
        import orthanc  # type: ignore[import-not-found]  # only inside Orthanc's Python plugin
    except ImportError:
        return None
    return orthanc if hasattr(orthanc, "RegisterRestCallback") else None


if _orthanc_module() is not None:
    register(_orthanc_module())
