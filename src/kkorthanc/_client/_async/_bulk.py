"""Bulk modify, anonymize and delete: one server-side operation over many resources.

``/tools/bulk-modify``, ``/tools/bulk-anonymize`` and ``/tools/bulk-delete`` exist in every
supported Orthanc (1.10.1 and later), so no per-resource fallback is needed.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core.config import Timeout
from ..._core.levels import Level
from ..._core.models.operations import as_force_error
from ..._core.seam import AsyncSeam
from ...errors import OrthancHTTPError, UnexpectedContentError
from ._jobs import AsyncJobs
from ._modalities import Resources, resource_ids

__all__ = ["bulk_delete", "bulk_run", "new_resources"]


def new_resources(content: Any) -> dict[str, list[str]]:
    """The new resources of a bulk answer, by level name (``{"Study": [...], ...}``).

    Raises:
        UnexpectedContentError: The answer lists no resources.
    """
    if not isinstance(content, Mapping) or not isinstance(content.get("Resources"), list):
        raise UnexpectedContentError(f"no Resources in the bulk answer {content!r}")
    found: dict[str, list[str]] = {level.value: [] for level in Level}
    for item in content["Resources"]:
        found.setdefault(str(item.get("Type")), []).append(str(item.get("ID")))
    return found


async def bulk_run(
    client: AsyncSeam,
    action: str,
    resources: Resources,
    body: dict[str, Any],
    *,
    asynchronous: bool,
    timeout: float | None,
) -> dict[str, list[str]]:
    """POST ``/tools/bulk-{action}`` over ``resources``, as a job when asked, and return the new
    resources by level.

    Raises:
        ForceRequiredError: An identifier change without ``force=True``.
        JobFailedError: The job failed.
    """
    body = {**body, "Resources": resource_ids(resources)}
    path = ("tools", f"bulk-{action}")
    try:
        if not asynchronous:
            return new_resources(await client.post(path, json=body, timeout=Timeout(read=timeout)))
        answer = await client.post(path, json={**body, "Asynchronous": True})
    except OrthancHTTPError as error:
        raise as_force_error(error) from error
    job = await AsyncJobs(client).from_answer(answer)
    return new_resources((await job.wait(timeout=timeout)).content)


async def bulk_delete(client: AsyncSeam, resources: Resources) -> None:
    """POST ``/tools/bulk-delete`` (unknown IDs are ignored by the server)."""
    await client.post(("tools", "bulk-delete"), json={"Resources": resource_ids(resources)})
