"""``jobs``: list, show, wait for, cancel, pause, resume and resubmit server-side jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kkorthanc

from ...errors import BadRequestError, OrthancInputError
from .._command import EXIT_OK, add_command
from .._context import Context

__all__ = ["JobDisplay", "job_row", "register", "wait_job"]

COLUMNS = ["id", "type", "state", "progress", "created", "error"]
_RULES = {
    "cancel": "only an unfinished job can be cancelled",
    "pause": "only an unfinished job can be paused",
    "resume": "only a paused job can be resumed",
    "resubmit": "only a failed or cancelled job can be resubmitted",
}
_CONTROLS = tuple(_RULES)


def register(subparsers: Any) -> None:
    """Add ``jobs`` and its sub-commands ``ls``, ``show``, ``wait``, ``cancel``, ``pause``,
    ``resume`` and ``resubmit``.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import jobs
        >>> jobs.register(parser.add_subparsers())  # doctest: +SKIP
    """
    group = add_command(
        subparsers, "jobs", _run_ls, "server-side jobs (default: ls)", "kkorthanc jobs ls"
    )
    commands = group.add_subparsers(title="job commands", metavar="ACTION")
    ls = add_command(commands, "ls", _run_ls, "list the jobs", "kkorthanc jobs ls --state Failure")
    ls.add_argument("--state", help="only jobs in this state (e.g. Running, Failure)")
    show = add_command(commands, "show", _run_show, "one job", "kkorthanc jobs show JOB_ID")
    show.add_argument("job_id", metavar="ID")
    wait = add_command(
        commands,
        "wait",
        _run_wait,
        "wait until a job ends; exit 6 if it fails (--timeout bounds the wait too)",
        "kkorthanc jobs wait JOB_ID --timeout 600",
    )
    wait.add_argument("job_id", metavar="ID")
    for action in _CONTROLS:
        control = add_command(
            commands,
            action,
            _run_control,
            f"{action} a job",
            f"kkorthanc jobs {action} JOB_ID",
        )
        control.add_argument("job_id", metavar="ID")
        control.set_defaults(action=action)


def job_row(job: Any) -> dict[str, Any]:
    """A flat row of a job: ``id``, ``type``, ``state``, ``progress``, ``created``, ``completed``,
    ``error`` (Orthanc's description and details of a failure, else empty).

    Example:
        >>> job_row(client.jobs.get(job_id))["state"]  # doctest: +SKIP
        'Success'
    """
    failed = job.state is kkorthanc.JobState.FAILURE
    error = job.error_description if failed else ""
    if failed and job.error_details:
        error = f"{error}: {job.error_details}"
    return {
        "id": job.id,
        "type": job.type,
        "state": job.state.value,
        "progress": job.progress,
        "created": job.creation_time.isoformat() if job.creation_time else None,
        "completed": job.completion_time.isoformat() if job.completion_time else None,
        "error": error,
    }


class JobDisplay:
    """Shows a job's progress on stderr while it is waited for: a line redrawn in place on a
    terminal; nothing otherwise (logs stay clean) or with ``--quiet``.

    Args:
        ctx: The command's context.
        label: What the job does, e.g. ``"C-STORE"``.

    Raises:
        OSError: stderr cannot be written.

    Example:
        >>> display = JobDisplay(ctx, "anonymize")  # doctest: +SKIP
        >>> job.wait(progress=display)  # doctest: +SKIP
        >>> display.finish()  # doctest: +SKIP
    """

    def __init__(self, ctx: Context, label: str) -> None:
        self._stream = ctx.stderr
        self._label = label
        tty = bool(getattr(ctx.stderr, "isatty", lambda: False)())
        self._enabled = tty and not ctx.quiet
        self._drawn = False

    def __call__(self, info: kkorthanc.JobInfo) -> None:
        """Show the job's state and percentage."""
        if self._enabled:
            self._stream.write(f"\r{self._label}: {info.state.value} {info.progress}%".ljust(40))
            self._stream.flush()
            self._drawn = True

    def finish(self) -> None:
        """End the redrawn line (on a terminal)."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def wait_job(ctx: Context, job: Any, label: str, timeout: float | None = None) -> Any:
    """Wait for ``job`` with a :class:`JobDisplay`; return it once it succeeded.

    Raises:
        JobFailedError: The job failed.
        OrthancTimeoutError: It did not end within ``timeout``.

    Example:
        >>> wait_job(ctx, modality.c_store_job(ids), "C-STORE")  # doctest: +SKIP
    """
    display = JobDisplay(ctx, label)
    try:
        return job.wait(timeout=timeout, progress=display)
    finally:
        display.finish()


def _emit(ctx: Context, job: Any) -> None:
    row = job_row(job)
    if ctx.output == "json":
        row = {**row, "content": dict(job.content), "raw": dict(job.raw)}
    ctx.record(row)


def _state(ctx: Context) -> str | None:
    state = ctx.option("state")
    return str(state) if state else None


def _run_ls(ctx: Context) -> int:
    """List the jobs the server keeps, newest first."""
    jobs = ctx.client().jobs.list(state=_state(ctx))
    rows = sorted((job_row(job) for job in jobs), key=lambda row: row["created"] or "")
    ctx.rows(rows[::-1], COLUMNS)
    return EXIT_OK


def _run_show(ctx: Context) -> int:
    """Show one job (JSON adds its content and raw description)."""
    _emit(ctx, ctx.client().jobs.get(ctx.args.job_id))
    return EXIT_OK


def _run_wait(ctx: Context) -> int:
    """Wait for a job; a failure raises JobFailedError (exit 6 with Orthanc's details)."""
    timeout = ctx.option("timeout")
    if timeout is not None and timeout <= 0:
        raise OrthancInputError("--timeout must be positive")
    job = ctx.client().jobs.get(ctx.args.job_id)
    _emit(ctx, wait_job(ctx, job, f"job {job.id}", timeout))
    return EXIT_OK


def _run_control(ctx: Context) -> int:
    """Cancel, pause, resume or resubmit a job, then show it; a refusal says the job's state."""
    job = ctx.client().jobs.get(ctx.args.job_id)
    control: Callable[[], Any] = getattr(job, ctx.args.action)
    try:
        _emit(ctx, control())
    except BadRequestError as error:
        state = job.refresh().state.value
        raise BadRequestError(
            error.status_code,
            error.method,
            error.url,
            error.message,
            orthanc_status=error.orthanc_status,
            details=error.details,
            hint=f"job {job.id} is {state}; {_RULES[ctx.args.action]}",
        ) from error
    return EXIT_OK
