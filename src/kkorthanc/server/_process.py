"""The detached processes of a data folder (Orthanc, its TLS relay): start, watch, stop.

Both run in their own session with their output appended to a log in the data folder. Started
by root, Orthanc runs as its account (:func:`~kkorthanc.server._account.drop_arguments`); the
relay starts as root and drops itself once its port is bound. A pid read back from a pid file
is signalled only when :func:`is_ours` says the process is still the one we started (a pid can
be recycled, or a pid file planted).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

from ..errors import LauncherError, OrthancStartError
from ._account import Account, drop_arguments

__all__ = [
    "exit_status",
    "interrupt",
    "is_alive",
    "is_ours",
    "spawn",
    "terminate",
    "wait_gone",
]

# Detached servers this process started: polled (so reaped) by is_alive(), never collected.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def spawn(command: list[str], log_path: Path, account: Account | None) -> int:
    """Run ``command`` in its own session, output to the log, as ``account`` when given.

    Returns:
        The child's pid (the child is kept, so :func:`is_alive` reaps it).

    Raises:
        OrthancStartError: The command cannot be run, or the log is not a regular file.

    Example:
        >>> spawn(["sleep", "60"], Path("orthanc-data/orthanc.log"), None)  # doctest: +SKIP
        4242
    """
    log_fd = _open_log(log_path)
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            umask=0o077,  # Orthanc's own files (storage, index) for its owner only
            **drop_arguments(account),
        )
    except OSError as error:
        raise OrthancStartError(f"cannot run {' '.join(command)}: {error}") from error
    finally:
        os.close(log_fd)
    _CHILDREN[process.pid] = process
    return process.pid


def _open_log(log_path: Path) -> int:
    """The log, opened for appending: never through a link, never a FIFO or a device."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK
    log_fd = os.open(log_path, flags, 0o600)
    if not stat.S_ISREG(os.fstat(log_fd).st_mode):
        os.close(log_fd)
        raise OrthancStartError(f"{log_path} is not a regular file: remove it")
    os.set_blocking(log_fd, True)
    os.fchmod(log_fd, 0o600)
    return log_fd


_EXITS: dict[int, int] = {}  # exit codes of children reaped by is_alive (negative: signal)


def exit_status(pid: int) -> int | None:
    """The exit code of a child :func:`is_alive` reaped (negative: the signal), once; else None.

    Raises:
        Nothing.

    Example:
        >>> exit_status(os.getpid()) is None
        True
    """
    return _EXITS.pop(pid, None)


def is_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (reaping it if it is our child).

    Raises:
        Nothing: a process we may not signal counts as alive.

    Example:
        >>> is_alive(os.getpid())
        True
    """
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        _EXITS[pid] = child.returncode
        return False
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            _EXITS[pid] = os.waitstatus_to_exitcode(status)
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def is_ours(pid: int, data_dir: Path, marker: str) -> bool:
    """Whether ``pid`` is still the process we started for ``data_dir``: a recycled (or
    planted) pid must not be killed.

    The command line must name ``marker`` (our configuration, or the relay's script) and the
    folder, and the process must run as the folder's owner (who always runs its Orthanc): the
    account root runs Orthanc as writes the pid file, and must not make root's
    ``server stop`` kill another account's process.

    Raises:
        Nothing: a process whose ``/proc`` entry cannot be read counts as ours.

    Example:
        >>> is_ours(4242, Path("orthanc-data"), "orthanc.json")  # doctest: +SKIP
        True
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", errors="replace")
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
        owner = data_dir.stat().st_uid
    except OSError:
        return True
    uids = [line.split()[1:2] for line in status.splitlines() if line.startswith("Uid:")]
    if uids and uids[0] != [str(owner)]:
        return False
    return marker in cmdline and data_dir.name in cmdline


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL when ``pid`` is still there after ``timeout`` seconds.

    Raises:
        LauncherError: The process survived SIGKILL.

    Example:
        >>> terminate(4242, 30)  # doctest: +SKIP
    """
    os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return
    os.kill(pid, signal.SIGKILL)
    if not wait_gone(pid, 10):
        raise LauncherError(f"Orthanc pid {pid} survived SIGKILL")


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end; whether it did.

    Raises:
        Nothing.

    Example:
        >>> wait_gone(4242, 5)  # doctest: +SKIP
        True
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    return not is_alive(pid)


def interrupt(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Orthanc's clean shutdown), then SIGKILL if it is still there after 30 s.

    Raises:
        Nothing.

    Example:
        >>> interrupt(subprocess.Popen(["sleep", "60"]))  # doctest: +SKIP
    """
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
