"""KkOrthanc routes for Orthanc: address resources by PatientID and DICOM UIDs.

This file is the script Orthanc's Python plugin loads (``"PythonScript"``); it imports its
companion modules (``kk_common``, ``kk_lookup``, ``kk_policy``, ``kk_tree``) from its own folder,
and uses only the standard library and the ``orthanc`` module the plugin provides. Copy the
whole set with ``kkorthanc.plugin.install_script(folder)``. See ``docs/plugin.md``.

Routes live under one prefix (``/kk``; ``"KkOrthanc": {"Prefix": "/other"}`` changes it):
``GET /kk/`` describes them; ``GET /kk/{patients|studies|series|instances}?id={identifier}``
(and ``.../metadata/{name}?id=``) answer 307 with Orthanc's own route of the resource; ``/uids``,
``GET /kk/tree`` and ``POST /kk/tools/find`` read inside the server when :mod:`kk_policy` allows.
The plugin never changes anything: ``DELETE``, ``POST`` and ``PUT`` on a resource answer 400 and
say which Orthanc route to use, so Orthanc's own access rules always apply.

Example:
    Orthanc configuration::

        {"Plugins": ["/usr/share/orthanc/plugins/libOrthancPython.so"],
         "PythonScript": "/etc/orthanc/kk/kk_routes.py",
         "KkOrthanc": {"Prefix": "/kk", "InServerReads": "auto"}}
"""

from __future__ import annotations

import traceback
from typing import Any

try:  # inside the kkorthanc package (tests, type checking)
    from . import kk_common as common
    from . import kk_lookup as lookup
    from . import kk_policy as policies
    from . import kk_tree as trees
except ImportError:  # inside Orthanc: the script's folder is on sys.path
    import kk_common as common  # type: ignore[import-not-found,no-redef]
    import kk_lookup as lookup  # type: ignore[import-not-found,no-redef]
    import kk_policy as policies  # type: ignore[import-not-found,no-redef]
    import kk_tree as trees  # type: ignore[import-not-found,no-redef]

__version__ = common.__version__
KkError = common.KkError
Reply = common.Reply
Target = common.Target


def describe(prefix: str, in_server_reads: bool) -> dict[str, Any]:
    """The answer of ``GET {prefix}/``: the plugin's version, its settings, an OpenAPI fragment."""
    item = f"{prefix}/{{level}}"
    text = (
        "Level: patients, studies, series, instances; ?id= is the identifier (PatientID or UID, "
        "exact match; never in the path, which Orthanc rewrites). Answers 307 to Orthanc's own "
        "route of the resource. A UID under several PatientIDs answers 409 with Candidates; "
        "?PatientID= chooses. The plugin makes no changes: DELETE, POST and PUT answer 400; "
        "send them to Orthanc's own route."
    )
    reads = "in-server read (403 when InServerReads is off)"
    paths = {
        prefix + "/": {"get": {"summary": "This description"}},
        item: {"get": {"summary": "307 to the resource's route", "description": text}},
        item + "/uids": {"get": {"summary": f"Every DICOM identifier under it, nested; {reads}"}},
        item + "/metadata/{name}": {"get": {"summary": "307 to the metadata's route"}},
        prefix + "/tools/find": {
            "post": {
                "summary": f"Several /tools/find in one request; {reads}",
                "description": "Body: a JSON array of /tools/find "
                "bodies; answer: the array of their answers.",
            }
        },
        prefix + "/tree": {
            "get": {
                "summary": f"Nested tree with main tags; {reads}",
                "description": "Query: Level (Patient|Study), Depth, "
                "CaseSensitive, and DICOM tag filters as in /tools/find.",
            }
        },
    }
    return {
        "KkOrthancPlugin": {
            "Version": __version__,
            "Prefix": prefix,
            "InServerReads": in_server_reads,
        },
        "openapi": "3.0.3",
        "info": {"title": "KkOrthanc routes", "version": __version__},
        "paths": paths,
    }


# ---------------------------------------------------------------------------------------------
# Dispatch


def handle(
    api: Any, prefix: str, policy: policies.Policy, method: str, rest: str, request: dict[str, Any]
) -> Reply:
    """Answer one request below the prefix (``rest`` is the path after it, already rewritten)."""
    query = common.decode_query(request.get("get") or {})
    if rest in ("", "/"):
        return _only(method, "GET") or Reply.json(describe(prefix, not policy.reasons(api)))
    if rest.rstrip("/") == "/tree":
        if not (refused := _only(method, "GET")):
            policy.require_reads(api, f"GET {prefix}/tree")
        return refused or Reply.json(trees.tree_of(api, query))
    if rest.rstrip("/") == "/tools/find":
        if not (refused := _only(method, "POST")):
            policy.require_reads(api, f"POST {prefix}/tools/find")
        return refused or trees.find_many(api, request.get("body") or b"")
    if method in common.CHANGES and rest.lstrip("/").partition("/")[0] in common.LEVELS:
        raise policies.refuse_change(prefix, method, rest)  # before anything of the path is read
    target = common.parse_target(rest, query, prefix)
    return _only(method, common.allowed_methods(target)) or read(
        api, prefix, policy, target, query.get("PatientID")
    )


def read(
    api: Any, prefix: str, policy: policies.Policy, target: Target, patient_id: str | None
) -> Reply:
    """A GET on a resource: its ``uids``, or a 307 to Orthanc's own route of it.

    A patient's route is computed from its PatientID (nothing is read); other levels need a
    lookup inside the server, and ``uids`` reads every level below the resource.
    """
    level = common.LEVELS[target.route][0]
    if target.route != "patients" or target.action == "uids":
        what = f"GET {prefix}/{target.route}" + ("/uids" if target.action == "uids" else "")
        policy.require_reads(api, what)
    if target.action == "uids":
        resource = lookup.resolve(api, target.route, target.identifier, patient_id)
        return Reply.json(trees.uids_of(api, target.route, resource))
    if target.route == "patients":
        resource_id = common.orthanc_id(target.identifier)
    else:
        resource_id = lookup.resolve(api, target.route, target.identifier, patient_id)["ID"]
    path = f"/{target.route}/{resource_id}"
    if target.action == "metadata":
        path += f"/metadata/{target.name}"
    return Reply.redirect(level, resource_id, path, common.target_path(prefix, target))


def _only(method: str, allow: str) -> Reply | None:
    return None if method in allow.split(",") else Reply(405, allow=allow)


def safe_handle(
    api: Any, prefix: str, policy: policies.Policy, uri: str, request: dict[str, Any]
) -> Reply:
    """:func:`handle`, with every failure turned into a JSON error answer (never a traceback).

    Unexpected exceptions are logged with their traceback through ``api.LogError`` and answered
    as a 500 whose body says only that the detail is in the server's log.
    """
    method = str(request.get("method", "GET"))
    groups = request.get("groups") or [uri[len(prefix) :]]
    try:
        return handle(api, prefix, policy, method, groups[0] or "", request)
    except KkError as error:
        return Reply.json(common.error_body(error, method, uri), error.status)
    except Exception as error:  # the plugin's last line: log it, answer 500
        api.LogError(f"KkOrthanc: {method} {uri} failed:\n{traceback.format_exc()}")
        name = type(error).__name__
        message = f"internal error in the KkOrthanc plugin ({name}); the server log has the details"
        failure = KkError(500, message, orthanc_status=1)
        return Reply.json(common.error_body(failure, method, uri), 500)


def send(output: Any, reply: Reply, json_header: bool) -> None:
    """Send a reply through the plugin's ``output`` object (plugin 4.0 and 5.0)."""
    if reply.status == 405:
        output.SendMethodNotAllowed(reply.allow)
    elif reply.status == 200:
        output.AnswerBuffer(reply.body, reply.mime)
    else:
        if reply.location:
            output.SetHttpHeader("Location", reply.location)
        if json_header:  # Orthanc < 1.12.2 sends error bodies without a Content-Type
            output.SetHttpHeader("Content-Type", reply.mime)
        try:  # plugin 5.0: (status, body)
            output.SendHttpStatus(reply.status, reply.body)
        except TypeError:  # plugin 4.0: (status, text, size)
            text = reply.body.decode("ascii")
            output.SendHttpStatus(reply.status, text, len(text))


def register(api: Any) -> str:
    """Register the routes with Orthanc (called when Orthanc loads this file); return the prefix.

    Raises:
        ValueError: A bad ``KkOrthanc`` section (the server log says why).
    """
    configuration = api.GetConfiguration()
    prefix = common.read_prefix(configuration)
    policy = policies.Policy(configuration)
    json_header = not _at_least(api, 1, 12, 2)

    def callback(output: Any, uri: str, **request: Any) -> None:
        send(output, safe_handle(api, prefix, policy, uri, request), json_header)

    api.RegisterRestCallback(common.route_regex(prefix), callback)
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
