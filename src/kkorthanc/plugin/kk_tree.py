"""KkOrthanc plugin: the tree of a find and the nested UIDs, built from Orthanc's answers.

The builders are pure; :func:`tree_of` and :func:`find_many` run ``/tools/find`` in-process.

Example:
    >>> build_tree({"Patient": [{"ID": "p", "MainDicomTags": {}}]})[0]["ID"]
    'p'
"""

from __future__ import annotations

import json
from typing import Any

try:  # inside the kkorthanc package (tests, type checking)
    from . import kk_common as common
    from . import kk_lookup as lookup
except ImportError:  # inside Orthanc: the script's folder is on sys.path
    import kk_common as common  # type: ignore[import-not-found,no-redef]
    import kk_lookup as lookup  # type: ignore[import-not-found,no-redef]

KkError = common.KkError
UNKNOWN_DICOM_TAG = 27  # Orthanc's ErrorCode_UnknownDicomTag
Reply = common.Reply
CHILDREN_KEY, LEVELS, ORDER, ROUTE_OF = (
    common.CHILDREN_KEY,
    common.LEVELS,
    common.ORDER,
    common.ROUTE_OF,
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
        if not common.TAG_RE.match(key):
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


def find_many(api: Any, body: bytes) -> Reply:
    """``POST /tools/find``: several ``/tools/find`` bodies in one request, their answers in order.

    The answers are Orthanc's own bytes, joined into one JSON array without being decoded, so
    the server does exactly the work of the separate finds and the client saves the round trips.
    """
    try:
        bodies = json.loads(body or b"null")
    except ValueError as error:
        raise KkError(400, f"the body is not JSON: {error}") from None
    if not isinstance(bodies, list) or not bodies or len(bodies) > common.MAX_FINDS:
        raise KkError(
            400, f"the body must be a JSON array of 1 to {common.MAX_FINDS} /tools/find bodies"
        )
    if not all(isinstance(item, dict) for item in bodies):
        raise KkError(400, "each item must be a /tools/find body (a JSON object)")
    answers = [
        bytes(lookup.call(api, "RestApiPost", "/tools/find", json.dumps(item))) for item in bodies
    ]
    return Reply(200, b"[" + b",".join(answers) + b"]")


def _unknown_tag(api: Any, level: str, filters: dict[str, str]) -> KkError:
    """The 400 for a find that Orthanc refused with "Unknown DICOM tag" (a 404 from the plugin,
    a 500 from ``/tools/find``), naming the filter: each is tried alone, only on this error."""
    for key in filters:
        body = {"Level": level, "Query": {key: "x"}, "Limit": 1}
        try:
            lookup.call(api, "RestApiPost", "/tools/find", json.dumps(body))
        except KkError as error:
            if error.orthanc_status == UNKNOWN_DICOM_TAG:
                return KkError(
                    400, f"unknown parameter {key!r}: filters are DICOM keywords or gggg,eeee"
                )
    return KkError(400, f"unknown parameter among {sorted(filters)}: not in Orthanc's dictionary")


def tree_of(api: Any, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /tree``: one expanded find per level, each with the filters that level accepts.

    Resources whose parent was not found are dropped when the tree is built, so lower levels
    need no lists of parent UIDs (which Orthanc matches slowly).
    """
    level, depth, sensitive, filters = find_filters(query)
    below_study = {key: value for key, value in filters.items() if key not in common.STUDY_ONLY}
    found: dict[str, list[Any]] = {}
    for current in ORDER[ORDER.index(level) : ORDER.index(depth) + 1]:
        here = filters if current in ("Patient", "Study") else below_study
        try:
            found[current] = lookup.find(api, current, here, sensitive)
        except KkError as error:
            if error.orthanc_status != UNKNOWN_DICOM_TAG:
                raise
            raise _unknown_tag(api, current, here) from None
    if level == "Study":  # the studies' patients, as Orthanc gives them
        parents = sorted({study["ParentPatient"] for study in found["Study"]})
        found["Patient"] = [lookup.get_json(api, f"/patients/{parent}") for parent in parents]
    return build_tree(found, depth)


def uids_of(api: Any, route: str, resource: dict[str, Any]) -> dict[str, Any]:
    """``GET .../uids``: one in-server call per level below the resource, plus its parents."""
    level = LEVELS[route][0]
    below = {
        child: lookup.get_json(api, f"/{route}/{resource['ID']}/{ROUTE_OF[child]}")
        for child in ORDER[ORDER.index(level) + 1 :]
    }
    return build_uids(level, lookup.identifier_chain(api, route, resource), below)
