"""Streamed response bodies saved to files, all or nothing.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from ..._util.atomic_file import AtomicFile

__all__ = ["save_body"]


async def save_body(response: httpx.Response, target: Path) -> Path:
    """Write the body of a streamed ``response`` to ``target`` atomically and return ``target``.

    The file appears complete or not at all (see ``AtomicFile``).

    Example:
        >>> async with client.stream("GET", ("instances", instance_id, "file")) as response:
        ...     await save_body(response, Path("ct.dcm"))  # doctest: +SKIP
        PosixPath('ct.dcm')
    """
    with AtomicFile(target) as sink:
        async for chunk in response.aiter_bytes():
            sink.write(chunk)
    return target
