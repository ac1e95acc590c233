"""The client side of the KkOrthanc server plugin (``kkorthanc/plugin/kk_routes.py``).

Each function asks the plugin's routes for what the plain REST path computes with several
requests: an exact lookup by DICOM identifier, the nested UIDs under a resource, the tree of a
find. Identifiers always travel as the query value ``id``, so ``/``, ``#`` and suffixes such as
``/uids`` in them are never mistaken for routes (Orthanc rewrites decoded paths). The plugin
answers a lookup with a 307 to Orthanc's own route of the resource, which is then read there,
so Orthanc's access rules apply; it never changes anything.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..._core.levels import Level
from ..._core.seam import AsyncSeam
from ...errors import (
    ConflictError,
    NotFoundError,
    OrthancHTTPError,
    OrthancInputError,
    UnexpectedContentError,
)

__all__ = [
    "kk_available",
    "kk_candidates",
    "kk_lookup",
    "kk_tree",
    "kk_uids",
    "plugin_accepts",
    "plugin_version",
    "use_plugin",
]

_MAX_FINDS = 16
DEFAULT_PREFIX = "kk"
_MAX_IDENTIFIER = 1024  # the plugin refuses longer identifiers (400)
_ORTHANC_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{8}){4}$")


def _segments(prefix: str, *rest: str) -> tuple[str, ...]:
    parts = tuple(part for part in prefix.split("/") if part)
    if not parts:
        raise OrthancInputError(f"the plugin prefix {prefix!r} is empty")
    return (*parts, *rest)


def _identifier(identifier: str) -> str:
    if not isinstance(identifier, str) or not identifier.rstrip(" \x00"):
        raise OrthancInputError(
            f"a DICOM identifier must be a non-empty string, not {identifier!r}"
        )
    return identifier


def plugin_accepts(identifier: str) -> bool:
    """Whether the plugin can look ``identifier`` up: it refuses (400) an identifier that is
    empty once trailing spaces and NULs are removed, longer than 1024 characters, or with
    control characters (ESC aside), which the plain REST path still handles. One with trailing
    spaces also goes the plain way: plugins before 0.2 removed them before matching.

    Example:
        >>> plugin_accepts("#00385"), plugin_accepts("  "), plugin_accepts("P1 ")
        (True, False, False)
    """
    cleaned = identifier.rstrip(" \x00")
    if not cleaned or cleaned != identifier or len(cleaned) > _MAX_IDENTIFIER:
        return False
    return all(ord(char) >= 32 or char == "\x1b" for char in cleaned)


async def plugin_version(client: AsyncSeam, *, prefix: str = DEFAULT_PREFIX) -> str | None:
    """The version of the KkOrthanc plugin answering ``GET /{prefix}/``, or None (one request).

    None also when the plugin does not read inside the server (its ``InServerReads`` is off
    because the server has access rules it cannot apply): the client then uses the plain REST
    API, whose answers Orthanc's rules filter.

    Raises:
        OrthancHTTPError: An error status other than 404 (401, 500...).
        OrthancTransportError: No answer.

    Example:
        >>> await plugin_version(client)  # doctest: +SKIP
        '0.2.0.dev0'
    """
    try:
        answer = await client.get(_segments(prefix))
    except NotFoundError:
        return None
    described = answer.get("KkOrthancPlugin") if isinstance(answer, dict) else None
    if not isinstance(described, dict) or described.get("InServerReads") is False:
        return None
    return str(described.get("Version", ""))


async def kk_available(
    client: AsyncSeam, *, prefix: str = DEFAULT_PREFIX, refresh: bool = False
) -> bool:
    """Whether the server runs the KkOrthanc plugin under ``prefix``, with in-server reads on.

    A plugin whose ``InServerReads`` is off (the server has access rules it cannot apply, such
    as a Lua filter) counts as absent: the client then uses Orthanc's own routes only.

    For the default prefix this is ``client.capabilities().supports("kk_routes")`` (asked once
    per client, renewed by ``refresh``); another prefix is asked each time.

    Args:
        client: The client.
        prefix: The plugin's route prefix (``"KkOrthanc": {"Prefix": ...}`` on the server).
        refresh: Ask the server again.

    Returns:
        True when ``GET /{prefix}`` answers the plugin's description with in-server reads on,
        False otherwise (a 404 included).

    Raises:
        OrthancHTTPError: Another error status (401, 500...).
        OrthancTransportError: No answer.

    Example:
        >>> await kk_available(client)  # doctest: +SKIP
        True
    """
    if _segments(prefix) == (DEFAULT_PREFIX,):
        return (await client.capabilities(refresh=refresh)).supports("kk_routes")
    return await plugin_version(client, prefix=prefix) is not None


async def use_plugin(client: AsyncSeam) -> bool:
    """Whether lookups, ``uids()`` and ``tree()`` of this client go through the plugin.

    Follows the client's ``use_kk_plugin``: False never, None when the server runs it (detected
    once, with the client's capabilities), True always.

    Raises:
        UnsupportedFeatureError: ``use_kk_plugin=True`` and the server does not run the plugin.

    Example:
        >>> await use_plugin(client)  # doctest: +SKIP
        True
    """
    wanted = client.use_kk_plugin
    if wanted is False:
        return False
    capabilities = await client.capabilities()
    if wanted:
        capabilities.require("kk_routes", "use_kk_plugin=True")
    return capabilities.supports("kk_routes")


def kk_candidates(error: ConflictError) -> list[str] | None:
    """The Orthanc IDs the plugin's 409 lists for an identifier shared by several resources,
    sorted; None when the conflict is of another kind.

    Example:
        >>> kk_candidates(conflict)  # doctest: +SKIP
        ['2f0a...', 'c1e4...']
    """
    body = error.body if isinstance(error.body, dict) else {}
    candidates = body.get("Candidates")
    if not isinstance(candidates, list):
        return None
    return sorted(str(item.get("ID")) for item in candidates if isinstance(item, dict))


async def kk_lookup(
    client: AsyncSeam,
    level: Level | str,
    identifier: str,
    *,
    patient_id: str | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> dict[str, Any] | None:
    """Orthanc's JSON of the resource with exactly this DICOM identifier, in two requests.

    The plugin resolves the identifier and answers 307 with the resource's own route, which is
    then read (so Orthanc's access rules apply to what is read).

    Args:
        client: The client.
        level: The level (``"Study"``, ``"studies"``, :class:`Level`).
        identifier: PatientID, or the Study/Series/SOP Instance UID.
        patient_id: Chooses among resources sharing a UID under several PatientIDs.
        prefix: The plugin's route prefix.

    Returns:
        The resource's JSON (as ``GET /studies/{id}`` gives it), or None when none matches.

    Raises:
        OrthancInputError: An unknown level or an empty identifier.
        ConflictError: Several resources have the identifier (its ``body`` lists them).
        OrthancHTTPError: Another error status, e.g. 404 when the plugin is not loaded.

    Example:
        >>> (await kk_lookup(client, "patients", "A/B"))["ID"]  # doctest: +SKIP
        '...'
    """
    params = {"id": _identifier(identifier), "PatientID": patient_id}
    route = Level.parse(level).route
    path = _segments(prefix, route)
    try:
        answer = await client.get(path, params=params)
    except NotFoundError as error:
        if isinstance(error.body, dict) and error.body.get("OrthancStatus") == 17:
            return None
        raise
    except OrthancHTTPError as error:
        target = _redirected(error, route)
        if target is None:
            raise
        try:  # Orthanc's own route: its access rules apply
            answer = await client.get(target)
        except NotFoundError:
            return None
        path = target
    return _object(answer, path)


def _redirected(error: OrthancHTTPError, route: str) -> tuple[str, str] | None:
    """The route of the plugin's 307 answer (``{"ID", "Path", "Type"}``), checked to be a
    resource of the expected level; None for any other error."""
    body = error.body if isinstance(error.body, dict) else {}
    resource_id = body.get("ID")
    if error.status_code != 307 or not isinstance(resource_id, str):
        return None
    if not _ORTHANC_ID.match(resource_id) or body.get("Path") != f"/{route}/{resource_id}":
        raise UnexpectedContentError(f"the plugin redirected a {route} lookup to {body!r:.200}")
    return (route, resource_id)


async def kk_uids(
    client: AsyncSeam,
    level: Level | str,
    identifier: str,
    *,
    patient_id: str | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> dict[str, Any]:
    """Every DICOM identifier under a resource, nested, and the identifiers of its parents.

    Returns:
        ``{"Type", "ID", "PatientID", ..., "Studies"|"Series"|"Instances": [...]}``, children
        sorted by Orthanc ID, each with its ``ID`` and identifier.

    Raises:
        OrthancInputError: An unknown level or an empty identifier.
        NotFoundError: No such resource (or the plugin is not loaded).
        ConflictError: Several resources have the identifier.

    Example:
        >>> uids = await kk_uids(client, "Study", "1.2.3")  # doctest: +SKIP
        >>> [s["SeriesInstanceUID"] for s in uids["Series"]]  # doctest: +SKIP
    """
    params = {"id": _identifier(identifier), "PatientID": patient_id}
    path = _segments(prefix, Level.parse(level).route, "uids")
    return _object(await client.get(path, params=params), path)


async def kk_tree(
    client: AsyncSeam,
    filters: Mapping[str, str] | None = None,
    *,
    level: Level | str = Level.STUDY,
    depth: Level | str = Level.INSTANCE,
    case_sensitive: bool = False,
    prefix: str = DEFAULT_PREFIX,
) -> list[dict[str, Any]]:
    """The patients > studies > series > instances tree of a find, built by the server.

    Args:
        client: The client.
        filters: ``/tools/find`` filters by DICOM keyword: ``{"PatientName": "Doe*"}``.
        level: Where the filters match: Patient or Study.
        depth: The lowest level in the answer.
        case_sensitive: Match person names case-sensitively.
        prefix: The plugin's route prefix.

    Returns:
        Patient nodes ``{"Type", "ID", "MainDicomTags", "Studies": [...]}``, nested down to
        ``depth``, sorted by Orthanc ID.

    Raises:
        OrthancInputError: A level other than Patient/Study, or a filter named like a parameter.
        BadRequestError: The server refused a filter.

    Example:
        >>> tree = await kk_tree(client, {"StudyDate": "2021-"})  # doctest: +SKIP
    """
    wanted = Level.parse(level)
    if wanted not in (Level.PATIENT, Level.STUDY):
        raise OrthancInputError(f"the tree matches at Patient or Study level, not {wanted.value}")
    params: dict[str, str] = {"Level": wanted.value, "Depth": Level.parse(depth).value}
    for key, value in (filters or {}).items():
        if key in params or key == "CaseSensitive":
            raise OrthancInputError(f"{key!r} is a parameter of kk_tree, not a filter")
        params[key] = str(value)
    params["CaseSensitive"] = "true" if case_sensitive else "false"
    path = _segments(prefix, "tree")
    answer = await client.get(path, params=params)
    if not isinstance(answer, list):
        raise UnexpectedContentError(f"GET /{'/'.join(path)} answered {type(answer).__name__}")
    return answer


async def kk_find_many(
    client: AsyncSeam, bodies: Sequence[Mapping[str, Any]], *, prefix: str = DEFAULT_PREFIX
) -> list[Any]:
    """Several ``/tools/find`` in one request: their answers, in order.

    The server runs the finds one after the other and joins Orthanc's own answers, so the result
    is exactly that of the separate finds, for one round trip.

    Raises:
        OrthancInputError: No bodies, or more than the plugin takes (16).
        BadRequestError: The server refused one of the finds.

    Example:
        >>> studies, series = await kk_find_many(client, [  # doctest: +SKIP
        ...     {"Level": "Study", "Query": {}, "Expand": True},
        ...     {"Level": "Series", "Query": {}, "Expand": True}])
    """
    if not 0 < len(bodies) <= _MAX_FINDS:
        raise OrthancInputError(f"kk_find_many() takes 1 to {_MAX_FINDS} bodies")
    path = _segments(prefix, "tools", "find")
    answer = await client.post(path, json=list(bodies), retry=True)
    if not isinstance(answer, list) or len(answer) != len(bodies):
        raise UnexpectedContentError(f"POST /{'/'.join(path)} answered {answer!r:.200}")
    return answer


def _object(answer: Any, path: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise UnexpectedContentError(f"GET /{'/'.join(path)} answered {type(answer).__name__}")
    return answer
