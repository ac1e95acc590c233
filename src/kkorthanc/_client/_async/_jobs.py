"""Server-side jobs: list, inspect, wait for, control, and fetch their outputs.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import os
import time
from asyncio import sleep
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..._core.models.operations import JobInfo, JobState
from ..._core.seam import AsyncSeam
from ...errors import JobFailedError, OrthancInputError, OrthancTimeoutError, UnexpectedContentError
from ._save import save_body

__all__ = ["AsyncJob", "AsyncJobs"]

ProgressCallback = Callable[[JobInfo], None]
_MAX_POLL = 2.0


class AsyncJob:
    """One server-side job, with what the server last said about it (:attr:`info`).

    Properties read :attr:`info` only; :meth:`refresh` asks the server again.

    Args:
        client: The client it was obtained from.
        info: The job's description.

    Example:
        >>> job = await client.jobs.get(job_id)  # doctest: +SKIP
        >>> await job.wait(timeout=600)  # doctest: +SKIP
    """

    def __init__(self, client: AsyncSeam, info: JobInfo) -> None:
        self._client = client
        self._info = info

    @property
    def info(self) -> JobInfo:
        """The job's description, as last fetched."""
        return self._info

    @property
    def id(self) -> str:
        """The job's ID."""
        return self._info.id

    @property
    def type(self) -> str:
        """The job's type, e.g. ``"ResourceModification"``."""
        return self._info.type

    @property
    def state(self) -> JobState:
        """The job's state, as last fetched."""
        return self._info.state

    @property
    def progress(self) -> int:
        """Percent done, as last fetched."""
        return self._info.progress

    @property
    def error_code(self) -> int:
        """Orthanc's error code (0 unless the job failed)."""
        return self._info.error_code

    @property
    def error_description(self) -> str:
        """Orthanc's description of :attr:`error_code`."""
        return self._info.error_description

    @property
    def error_details(self) -> str:
        """Details of a failure, or ``""``."""
        return self._info.error_details

    @property
    def content(self) -> Mapping[str, Any]:
        """What the job did or produced, e.g. the new resource's ``ID`` after a modification."""
        return self._info.content

    @property
    def creation_time(self) -> datetime | None:
        """When the job was submitted."""
        return self._info.creation_time

    @property
    def completion_time(self) -> datetime | None:
        """When it finished, or None."""
        return self._info.completion_time

    @property
    def raw(self) -> Mapping[str, Any]:
        """The JSON the server last gave."""
        return self._info.raw

    async def refresh(self) -> AsyncJob:
        """Fetch the job's description again and return ``self``.

        Raises:
            NotFoundError: The server forgot the job (only the last ``JobsHistorySize`` are kept).

        Example:
            >>> (await job.refresh()).progress  # doctest: +SKIP
            40
        """
        self._info = JobInfo.from_json(await self._client.get(("jobs", self.id)))
        return self

    async def wait(
        self,
        *,
        timeout: float | None = None,
        poll: float = 0.1,
        progress: ProgressCallback | None = None,
        fail_on_pause: bool = False,
    ) -> AsyncJob:
        """Poll the job until it succeeds, and return ``self``.

        The pause between polls starts at ``poll`` and doubles up to 2 s. A job in ``Retry``
        is waited for (Orthanc will run it again); a ``Paused`` job too (someone may resume it),
        unless ``fail_on_pause``.

        Args:
            timeout: Seconds to wait at most, or None for no limit.
            poll: First pause between two polls, in seconds.
            progress: Called with the :class:`JobInfo` after each poll.
            fail_on_pause: Raise :class:`JobFailedError` if the job is paused.

        Raises:
            JobFailedError: The job failed (with Orthanc's code, description and details), or
                was paused with ``fail_on_pause``.
            OrthancTimeoutError: The job did not end within ``timeout`` (it keeps running).
            NotFoundError: The server does not know the job.

        Example:
            >>> await job.wait(timeout=600, progress=lambda info: print(info.progress))
            ... # doctest: +SKIP
        """
        if poll <= 0 or (timeout is not None and timeout < 0):
            raise OrthancInputError("poll must be positive and timeout not negative")
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = poll
        while True:
            await self.refresh()
            if progress is not None:
                progress(self._info)
            self._check_failed(fail_on_pause)
            if self.state is JobState.SUCCESS:
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise OrthancTimeoutError(
                    f"job {self.id} ({self.type}) still {self.state.value} at "
                    f"{self.progress}% after {timeout} s; it keeps running on the server"
                )
            pause = delay if deadline is None else min(delay, max(deadline - time.monotonic(), 0))
            await sleep(pause)
            delay = min(delay * 2, _MAX_POLL)

    def _check_failed(self, fail_on_pause: bool) -> None:
        info = self._info
        if info.state is JobState.FAILURE or (fail_on_pause and info.state is JobState.PAUSED):
            description = info.error_description
            if info.state is JobState.PAUSED:
                description = f"paused ({description})"
            raise JobFailedError(
                info.id,
                info.type,
                info.error_code,
                description,
                info.error_details,
                content=dict(info.content),
            )

    async def cancel(self) -> AsyncJob:
        """Cancel the job (it ends in ``Failure``) and return ``self``, refreshed.

        Raises:
            NotFoundError: Unknown job.
            BadRequestError: The job already finished.

        Example:
            >>> await job.cancel()  # doctest: +SKIP
        """
        return await self._control("cancel")

    async def pause(self) -> AsyncJob:
        """Pause the job and return ``self``, refreshed.

        Raises:
            NotFoundError: Unknown job.

        Example:
            >>> (await job.pause()).state  # doctest: +SKIP
            <JobState.PAUSED: 'Paused'>
        """
        return await self._control("pause")

    async def resume(self) -> AsyncJob:
        """Resume a paused job and return ``self``, refreshed.

        Raises:
            NotFoundError: Unknown job.

        Example:
            >>> await job.resume()  # doctest: +SKIP
        """
        return await self._control("resume")

    async def resubmit(self) -> AsyncJob:
        """Submit a failed or cancelled job again and return ``self``, refreshed.

        Raises:
            NotFoundError: Unknown job.
            BadRequestError: The job did not fail.

        Example:
            >>> await (await job.resubmit()).wait(timeout=60)  # doctest: +SKIP
        """
        return await self._control("resubmit")

    async def _control(self, action: str) -> AsyncJob:
        await self._client.post(("jobs", self.id, action), json={})
        return await self.refresh()

    async def output(self, key: str = "archive") -> bytes:
        """Return one output of a finished job in memory (``GET /jobs/{id}/{key}``).

        Orthanc keeps only the last outputs (``MediaArchiveSize``, 1 by default): fetch them as
        soon as the job ends. Use :meth:`download` for large archives.

        Raises:
            NotFoundError: No such output (or it was dropped).

        Example:
            >>> zip_bytes = await job.output("archive")  # doctest: +SKIP
        """
        return await self._client.get_bytes(("jobs", self.id, key))

    async def download(self, path: str | os.PathLike[str], *, key: str = "archive") -> Path:
        """Stream one output of a finished job to ``path`` and return the path.

        The data goes to a temporary file next to ``path``, renamed once complete: a failure
        never leaves a partial file behind.

        Raises:
            NotFoundError: No such output (or it was dropped: fetch it right after the job).
            OrthancTransportError: The connection broke while reading.

        Example:
            >>> await (await job.wait()).download("study.zip")  # doctest: +SKIP
        """
        async with self._client.stream("GET", ("jobs", self.id, key)) as response:
            return await save_body(response, Path(path))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AsyncJob):
            return NotImplemented
        return self.id == other.id

    def __hash__(self) -> int:
        return hash(("job", self.id))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, {self.type}, {self.state.value})"


class AsyncJobs:
    """The server's jobs: ``client.jobs``.

    Example:
        >>> [job.state for job in await client.jobs.list()]  # doctest: +SKIP
    """

    def __init__(self, client: AsyncSeam) -> None:
        self._client = client

    async def list(self, *, state: JobState | str | None = None) -> list[AsyncJob]:
        """Return the jobs the server knows (running ones and the last finished ones).

        Args:
            state: Keep only jobs in this state.

        Raises:
            OrthancInputError: An unknown state.
            OrthancHTTPError: The server answered an error status.

        Example:
            >>> await client.jobs.list(state="Running")  # doctest: +SKIP
        """
        wanted = _state(state)
        answer = await self._client.get("jobs", params={"expand": True})
        if not isinstance(answer, list):
            raise UnexpectedContentError(f"GET /jobs answered {answer!r}, not a list")
        jobs = [AsyncJob(self._client, JobInfo.from_json(item)) for item in answer]
        return [job for job in jobs if wanted is None or job.state is wanted]

    async def get(self, job_id: str) -> AsyncJob:
        """Return the job with this ID.

        Raises:
            NotFoundError: Unknown job (or one the server forgot).
            OrthancInputError: An empty ID.

        Example:
            >>> job = await client.jobs.get("8f3a...")  # doctest: +SKIP
        """
        if not isinstance(job_id, str) or not job_id:
            raise OrthancInputError(f"a job ID must be a non-empty string, got {job_id!r}")
        return AsyncJob(self._client, JobInfo.from_json(await self._client.get(("jobs", job_id))))

    async def from_answer(self, answer: object) -> AsyncJob:
        """Return the job of an asynchronous call's answer (``{"ID": ..., "Path": "/jobs/..."}``).

        Raises:
            UnexpectedContentError: The answer names no job.

        Example:
            >>> body = {"Asynchronous": True}
            >>> answer = await client.post(("studies", sid, "anonymize"), json=body)
            >>> job = await client.jobs.from_answer(answer)  # doctest: +SKIP
        """
        if not isinstance(answer, Mapping) or not isinstance(answer.get("ID"), str):
            raise UnexpectedContentError(f"expected a job's ID in the answer, got {answer!r}")
        return await self.get(answer["ID"])


def _state(state: JobState | str | None) -> JobState | None:
    if state is None or isinstance(state, JobState):
        return state
    for member in JobState:
        if str(state).lower() == member.value.lower():
            return member
    raise OrthancInputError(
        f"unknown job state {state!r}: use one of {[s.value for s in JobState]}"
    )
