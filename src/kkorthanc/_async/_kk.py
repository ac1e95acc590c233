"""The client side of the KkOrthanc server plugin (``kkorthanc/plugin/kk_routes.py``).

Each function asks the plugin's routes for what the plain REST path computes with several
requests: an exact lookup by DICOM identifier, the nested UIDs under a resource, the tree of a
find. Identifiers always travel as the query value ``id``, so ``/``, ``#`` and suffixes such as
``/uids`` in them are never mistaken for routes.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._levels import Level
from ..errors import NotFoundError, OrthancInputError, UnexpectedContentError

if TYPE_CHECKING:
    from ._client import AsyncOrthanc

__all__ = ["kk_available", "kk_lookup", "kk_tree", "kk_uids"]

DEFAULT_PREFIX = "kk"
_AVAILABLE: weakref.WeakKeyDictionary[Any, dict[str, bool]] = weakref.WeakKeyDictionary()


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


async def kk_available(
    client: AsyncOrthanc, *, prefix: str = DEFAULT_PREFIX, refresh: bool = False
) -> bool:
    """Whether the server runs the KkOrthanc plugin under ``prefix`` (asked once per client).

    Args:
        client: The client.
        prefix: The plugin's route prefix (``"KkOrthanc": {"Prefix": ...}`` on the server).
        refresh: Ask the server again.

    Returns:
        True when ``GET /{prefix}`` answers the plugin's description, False on a 404.

    Raises:
        OrthancHTTPError: Another error status (401, 500...).
        OrthancTransportError: No answer.

    Example:
        >>> await kk_available(client)  # doctest: +SKIP
        True
    """
    known = _AVAILABLE.setdefault(client, {})
    if refresh or prefix not in known:
        try:
            answer = await client.get(_segments(prefix))
        except NotFoundError:
            answer = None
        known[prefix] = isinstance(answer, dict) and "KkOrthancPlugin" in answer
    return known[prefix]


async def kk_lookup(
    client: AsyncOrthanc,
    level: Level | str,
    identifier: str,
    *,
    patient_id: str | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> dict[str, Any] | None:
    """Orthanc's JSON of the resource with exactly this DICOM identifier, in one request.

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
    path = _segments(prefix, Level.parse(level).route)
    try:
        answer = await client.get(path, params=params)
    except NotFoundError as error:
        if isinstance(error.body, dict) and error.body.get("OrthancStatus") == 17:
            return None
        raise
    return _object(answer, path)


async def kk_uids(
    client: AsyncOrthanc,
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
    client: AsyncOrthanc,
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


def _object(answer: Any, path: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise UnexpectedContentError(f"GET /{'/'.join(path)} answered {type(answer).__name__}")
    return answer
