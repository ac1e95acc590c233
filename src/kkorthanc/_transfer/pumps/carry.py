"""The steps of a flow (:mod:`..plan.flows`) carried out: in the calling thread over the sync
client, or as a task over the async one. The only I/O of the transfer engines besides the lane.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from ..._core.seam import AsyncSeam, Seam
from ..lane.connections import FastLane, ThreadedLane
from ..plan.download import PartFile
from ..plan.flows import Digest, Find, Get, Offload, Pause, Post, Save, Step

__all__ = ["async_carry", "sync_carry"]

CHUNK = 256 * 1024


def sync_carry(client: Seam, lane: FastLane | None, step: Step) -> Any:
    """Carry out one step in this thread; return its result (see :mod:`..plan.flows`)."""
    if isinstance(step, Post):
        body = step.body
        if lane is not None and body.data is not None:
            return lane.post(body.data)
        data = body.data if body.data is not None else body.chunks()
        return client.post("instances", data=data, headers=body.headers(), retry=False)
    if isinstance(step, Find):
        return client.post("tools/find", json=step.query, retry=True)
    if isinstance(step, Get):
        return client.get(step.route)
    if isinstance(step, Pause):
        time.sleep(step.seconds)
        return None
    if isinstance(step, Offload):
        return step.call()
    if isinstance(step, Digest):
        return _sync_digest(client, step)
    return _sync_save(client, lane, step)


def _sync_digest(client: Seam, step: Digest) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with client.stream("GET", step.route) as response:
        for chunk in response.iter_bytes(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sync_save(client: Seam, lane: FastLane | None, step: Save) -> PartFile:
    with PartFile(step.path, step.made) as part:
        if lane is not None:
            lane.fetch(step.route, lambda: part.open().write)
            return part
        with client.stream("GET", step.route) as response:
            part.open()
            for chunk in response.iter_bytes(CHUNK):
                part.write(chunk)
    return part


async def async_carry(client: AsyncSeam, lane: ThreadedLane | None, step: Step) -> Any:
    """Carry out one step in this task (local work in a worker thread); return its result."""
    if isinstance(step, Post):
        body = step.body
        if lane is not None and body.data is not None:
            return await lane.post(body.data)
        data = body.data if body.data is not None else body.achunks()
        return await client.post("instances", data=data, headers=body.headers(), retry=False)
    if isinstance(step, Find):
        return await client.post("tools/find", json=step.query, retry=True)
    if isinstance(step, Get):
        return await client.get(step.route)
    if isinstance(step, Pause):
        await asyncio.sleep(step.seconds)
        return None
    if isinstance(step, Offload):
        return await asyncio.to_thread(step.call)
    if isinstance(step, Digest):
        return await _async_digest(client, step)
    return await _async_save(client, lane, step)


async def _async_digest(client: AsyncSeam, step: Digest) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    async with client.stream("GET", step.route) as response:
        async for chunk in response.aiter_bytes(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def _async_save(client: AsyncSeam, lane: ThreadedLane | None, step: Save) -> PartFile:
    """Like :func:`_sync_save`; through the lane, the file is written in the lane's thread."""
    with PartFile(step.path, step.made) as part:
        if lane is not None:
            await lane.fetch(step.route, lambda: part.open().write)
            return part
        async with client.stream("GET", step.route) as response:
            part.open()
            async for chunk in response.aiter_bytes(CHUNK):
                part.write(chunk)
    return part
