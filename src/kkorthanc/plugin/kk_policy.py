"""KkOrthanc plugin: the routes never do more than Orthanc's own routes would let the caller do.

Orthanc applies its HTTP access rules (a Lua ``IncomingHttpRequestFilter``, an authorization
plugin keyed on its URIs) to the URI a client sends. The plugin works through in-process calls,
which those rules never see. So:

- **Changes** (``DELETE``, ``POST``, ``PUT``) are never made through the plugin: they answer 400
  and point to Orthanc's own route. (An identifier in a path is ambiguous anyway: Orthanc
  rewrites the decoded path before the plugin sees it, and a change request's query string does
  not reach a Python plugin; so identifiers travel only as ``?id=`` and only reads take them.)
- **One resource** (``GET``) is a 307 redirect to Orthanc's own route, which applies its rules.
- **In-server reads** (the lookup of a study/series/instance UID, ``uids``, ``tree``,
  ``tools/find``) read in-process. They run only when the server has no access rule that the
  plugin cannot apply: ``"KkOrthanc": {"InServerReads": "auto"}`` (default) allows them unless
  ``LuaScripts`` is set, ``ExecuteLuaEnabled`` is true or a plugin outside :data:`SAFE_PLUGINS` is
  loaded; ``true`` allows them (every user may read everything); ``false`` never.

Example:
    >>> policy_reasons({"LuaScripts": ["filter.lua"]}, ["python"])
    ['LuaScripts is set']
"""

from __future__ import annotations

import json
import re
from typing import Any

try:  # inside the kkorthanc package (tests, type checking)
    from . import kk_common as common
    from . import kk_lookup as lookup
except ImportError:  # inside Orthanc: the script's folder is on sys.path
    import kk_common as common  # type: ignore[import-not-found,no-redef]
    import kk_lookup as lookup  # type: ignore[import-not-found,no-redef]

# Plugins (names in ``GET /plugins``; ``explorer.js`` is Orthanc Explorer's own entry) known not to
# filter or authorize HTTP requests.
SAFE_PLUGINS = frozenset(
    {
        "explorer.js",
        "python",
        "dicom-web",
        "gdcm",
        "postgresql-index",
        "postgresql-storage",
        "mysql-index",
        "mysql-storage",
        "odbc-index",
        "odbc-storage",
        "web-viewer",
        "stone-webviewer",
        "serve-folders",
        "worklists",
        "transfers",
        "wsi",
        "ohif",
        "volview",
    }
)
_CHANGE_SUFFIX = re.compile(r"/(anonymize|modify|metadata/[A-Za-z0-9_-]{1,64})$")


def read_setting(configuration: str) -> bool | None:
    """``KkOrthanc.InServerReads`` from Orthanc's configuration JSON: True, False or None (auto).

    Raises:
        ValueError: Another value (the script then refuses to load; the server log says why).
    """
    section = json.loads(configuration or "{}").get("KkOrthanc") or {}
    value = section.get("InServerReads", "auto") if isinstance(section, dict) else "auto"
    if value != "auto" and not isinstance(value, bool):  # not 1 or 0, which equal True/False
        raise ValueError(f'KkOrthanc.InServerReads must be "auto", true or false, not {value!r}')
    return None if value == "auto" else bool(value)


def policy_reasons(configuration: dict[str, Any], plugins: list[str]) -> list[str]:
    """Why this server may have access rules that the plugin's in-process reads would bypass."""
    reasons = []
    if configuration.get("LuaScripts"):
        reasons.append("LuaScripts is set")
    if configuration.get("ExecuteLuaEnabled"):
        reasons.append("ExecuteLuaEnabled is true")
    others = sorted(set(plugins) - SAFE_PLUGINS)
    if others:
        reasons.append(f"the plugin(s) {', '.join(others)} may filter HTTP requests")
    return reasons


class Policy:
    """The server's ``InServerReads`` decision, worked out at the first request that needs it."""

    def __init__(self, configuration: str) -> None:
        self.setting = read_setting(configuration)
        self.configuration = json.loads(configuration or "{}")
        self._reasons: list[str] | None = None

    def reasons(self, api: Any) -> list[str]:
        """Why in-server reads are off (empty when they are on); asks ``/plugins`` once."""
        if self.setting is not None:
            return [] if self.setting else ["KkOrthanc.InServerReads is false"]
        if self._reasons is None:
            plugins = lookup.get_json(api, "/plugins")
            self._reasons = policy_reasons(self.configuration, [str(p) for p in plugins])
        return self._reasons

    def require_reads(self, api: Any, what: str) -> None:
        """Raise KkError (403) when in-server reads are off, saying why and what to use."""
        reasons = self.reasons(api)
        if reasons:
            raise common.KkError(
                403,
                f"{what} reads inside the server, where Orthanc's access rules do not apply, and "
                f"this server may have such rules ({'; '.join(reasons)}): use Orthanc's own "
                'routes, or set "KkOrthanc": {"InServerReads": true} if every user may read '
                "everything",
            )


def refuse_change(prefix: str, method: str, rest: str) -> common.KkError:
    """The 400 answer to a change (``rest``: the path below the prefix): where to send it instead.

    Nothing of the path is trusted, not even to name the resource in the message: Orthanc
    rewrites it before the plugin sees it, and a change request's query string never reaches a
    Python plugin. Only a known sub-route at its end is named, to say where the change goes.
    """
    route = rest.lstrip("/").partition("/")[0]
    match = _CHANGE_SUFFIX.search(rest)
    below = match.group(0) if match else ""
    return common.KkError(
        400,
        f"{prefix} makes no changes: Orthanc's access rules apply only to its own routes, and "
        f"Orthanc rewrites a path before the plugin sees it ({common.REWRITES}), so an "
        f"identifier in the path may name another resource. GET {prefix}/{route}?id=<identifier> "
        f"answers 307 with the resource's own route (/{route}/<Orthanc ID>): send the {method} "
        f"to {'its ' + below if below else 'it'}",
    )
