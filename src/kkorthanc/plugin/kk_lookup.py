"""KkOrthanc plugin: calls into Orthanc, resolving an identifier to its resource, ``uids``.

``api`` is Orthanc's ``orthanc`` module (or a fake with the same functions). Every call is
in-process (``orthanc.RestApiGet/Post``): Orthanc's HTTP access rules do not see them, so the
routes that use them for more than resolving an identifier are gated by :mod:`kk_policy`.

Example:
    >>> resolve(orthanc, "studies", "1.2.3", None)["ID"]  # doctest: +SKIP
    '8a8c...'
"""

from __future__ import annotations

import json
from typing import Any

try:  # inside the kkorthanc package (tests, type checking)
    from . import kk_common as common
except ImportError:  # inside Orthanc: the script's folder is on sys.path
    import kk_common as common  # type: ignore[import-not-found,no-redef]

KkError = common.KkError
LEVELS, ORDER, ROUTE_OF = common.LEVELS, common.ORDER, common.ROUTE_OF


def call(api: Any, function: str, *args: Any) -> Any:
    """Call ``api.RestApiGet/Post/Put/Delete`` and turn Orthanc's exception into a KkError."""
    try:
        return getattr(api, function)(*args)
    except api.OrthancException as error:
        first = str(error.args[0]) if error.args else ""
        code = int(first) if first.lstrip("-").isdigit() else -1
        message = str(error.args[1]) if len(error.args) > 1 else str(error)
        raise KkError(
            common.status_of_code(code), message, orthanc_status=code, orthanc_error=message
        ) from None


def get_json(api: Any, uri: str) -> Any:
    """``GET`` an internal route and decode its JSON."""
    return json.loads(call(api, "RestApiGet", uri))


def find(api: Any, level: str, query: dict[str, str], sensitive: bool = True) -> list[Any]:
    """Run ``/tools/find`` with ``Expand`` inside the server."""
    body = {"Level": level, "Query": query, "Expand": True, "CaseSensitive": sensitive}
    found: list[Any] = json.loads(call(api, "RestApiPost", "/tools/find", json.dumps(body)))
    return found


def resolve(api: Any, route: str, identifier: str, patient_id: str | None) -> dict[str, Any]:
    """Orthanc's JSON of the one resource with this exact identifier.

    Raises KkError: 404 when there is none, 409 when several match (see :func:`ambiguous`).
    """
    level, tag = LEVELS[route]
    if route == "patients":
        candidates = [_get_or_none(api, f"/patients/{common.orthanc_id(identifier)}")]
    else:
        hits = json.loads(call(api, "RestApiPost", "/tools/lookup", identifier))
        ids = sorted({hit["ID"] for hit in hits if hit.get("Type") == level})
        candidates = [_get_or_none(api, f"/{route}/{i}") for i in ids]
    found = common.exact_matches([c for c in candidates if c is not None], tag, identifier)
    if route != "patients" and (patient_id is not None or len(found) > 1):
        found = _with_patient_ids(api, route, found, patient_id)
    if not found:
        raise KkError(404, f"no {level} with {tag} {identifier!r}")
    if len(found) > 1:
        raise common.ambiguous(level, identifier, found)
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
