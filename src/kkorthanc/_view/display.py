"""What resources show in Jupyter: a table of main tags (no network) and a picture (sync only).

No I/O of its own: :func:`png_or_none` calls the method it is given, and only when that
method is synchronous, because Jupyter calls ``_repr_png_`` synchronously and the async
classes' pictures are coroutines.
"""

from __future__ import annotations

import html
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["html_table", "png_or_none"]

logger = logging.getLogger("kkorthanc")

_MAX_ROWS = 12


def html_table(title: str, orthanc_id: str, raw: Mapping[str, Any]) -> str:
    """A small HTML table of a resource's main tags, from the JSON already fetched.

    Example:
        >>> "PatientID" in html_table("Patient", "abc", {"MainDicomTags": {"PatientID": "P1"}})
        True
    """
    rows = [("Orthanc ID", orthanc_id)]
    for key in ("PatientMainDicomTags", "MainDicomTags"):
        tags = raw.get(key)
        if isinstance(tags, Mapping):
            rows.extend((str(name), str(value)) for name, value in tags.items())
    labels = raw.get("Labels")
    if isinstance(labels, list) and labels:
        rows.append(("Labels", ", ".join(str(label) for label in labels)))
    hidden = len(rows) - _MAX_ROWS
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
        for name, value in rows[:_MAX_ROWS]
    )
    more = f"<tr><td colspan='2'>… {hidden} more</td></tr>" if hidden > 0 else ""
    return f"<table><caption>{html.escape(title)}</caption>{body}{more}</table>"


def png_or_none(method: Callable[..., Any], **options: Any) -> bytes | None:
    """Call a picture method for Jupyter: its PNG, or None when it is async or fails.

    A ``_repr_*`` method must never raise (Jupyter would show a traceback instead of the
    object), so a failure is logged at debug level and None tells Jupyter to show the
    object another way. Everywhere else, errors are raised.
    """
    if inspect.iscoroutinefunction(method):
        return None
    try:
        value = method(**options)
    except Exception:  # a display hook must not raise; the cause is logged
        logger.debug("no picture for display", exc_info=True)
        return None
    return value if isinstance(value, bytes) else None
