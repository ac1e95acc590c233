"""The parser, the global options, and the one place that turns exceptions into exit statuses."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import select
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from .. import errors
from .._launcher import LauncherError
from ._context import Context
from ._output import FORMATS

__all__ = [
    "EXIT_AUTH",
    "EXIT_CONNECTION",
    "EXIT_FILE",
    "EXIT_INTERRUPTED",
    "EXIT_LOCAL_SERVER",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_SERVER",
    "EXIT_USAGE",
    "Handler",
    "add_command",
    "build_parser",
    "main",
]

EXIT_OK = 0  # success
EXIT_PARTIAL = 1  # some items failed; the output or report says which
EXIT_USAGE = 2  # bad arguments or options, refused confirmation
EXIT_CONNECTION = 3  # the server could not be reached (refused, TLS, timeout)
EXIT_AUTH = 4  # the server refused the credentials (401) or the action (403)
EXIT_NOT_FOUND = 5  # an unknown resource, route or job (404)
EXIT_SERVER = 6  # any other error answer, an unexpected answer, a missing server feature
EXIT_LOCAL_SERVER = 7  # `kkorthanc server`: Orthanc missing, failed to start or to stop
EXIT_FILE = 8  # a local file could not be read or written
EXIT_INTERRUPTED = 130  # Ctrl-C

Handler = Callable[[Context], int]
PROG = "kkorthanc"


def _global_options(defaults: bool, connects: bool = True) -> argparse.ArgumentParser:
    """The global options, accepted before and after the command name (only the output ones
    for commands that do not connect to a server)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    group = parser.add_argument_group("global options")
    keep: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    if connects:
        _connection_options(group, keep)
    group.add_argument(
        "-o", "--output", choices=FORMATS, help="result format (default table)", **keep
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="no messages, no progress", **keep
    )
    group.add_argument("--debug", action="store_true", help="tracebacks and HTTP logs", **keep)
    return parser


def _connection_options(group: Any, keep: dict[str, Any]) -> None:
    group.add_argument("--url", help="server URL (env ORTHANC_URL; default localhost:8042)", **keep)
    group.add_argument("--user", help="user name (password: --password-stdin/env)", **keep)
    group.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin", **keep
    )
    group.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the password from the first line of FILE (env ORTHANC_PASSWORD_FILE)",
        **keep,
    )
    group.add_argument(
        "--token", help="bearer token (visible in ps: prefer --token-file or env)", **keep
    )
    group.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the bearer token from the first line of FILE (env ORTHANC_TOKEN_FILE)",
        **keep,
    )
    group.add_argument("--insecure", action="store_true", help="skip TLS verification", **keep)
    group.add_argument("--ca", metavar="FILE", help="trust this CA bundle", **keep)
    group.add_argument("--timeout", type=float, metavar="SECONDS", help="request timeout", **keep)
    group.add_argument("--profile", help="a profile of the config file (KKORTHANC_CONFIG)", **keep)


_COMMON = _global_options(defaults=False)
_COMMON_LOCAL = _global_options(defaults=False, connects=False)

EPILOG = """\
exit status:
  0 success                    1 some items failed (see the report)
  2 usage error                3 server unreachable (connection, TLS, timeout)
  4 credentials or permission refused (401/403)
  5 not found (404)            6 other server error or missing server feature
  7 local server (kkorthanc server) failed    8 local file error    130 interrupted

examples:
  kkorthanc server start --data ./pacs
  kkorthanc upload ~/scans --report upload.jsonl
  kkorthanc tree
  kkorthanc --output json find --level study PatientName='Doe*'
"""


def add_command(
    subparsers: Any,
    name: str,
    handler: Handler | None,
    summary: str,
    example: str,
    *,
    connects: bool = True,
) -> argparse.ArgumentParser:
    """Add a command (or a command group when ``handler`` is None) with the global options,
    a one-line summary and an example epilog. Command modules call this in ``register``.

    Args:
        subparsers: The ``add_subparsers()`` object to add to.
        name: The command's name.
        handler: ``def run(ctx: Context) -> int``, or None for a group.
        summary: One line, shown by ``--help``.
        example: A command line shown as the example in ``--help``.
        connects: False for commands that talk to no server (only the output options then).

    Returns:
        The command's parser, to add its own arguments to.

    Example:
        >>> parser = add_command(subparsers, "stats", run_stats, "counts and disk usage",
        ...                      "kkorthanc stats")  # doctest: +SKIP
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n  {example}",
        parents=[_COMMON if connects else _COMMON_LOCAL],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # a new option must never turn a working abbreviation ambiguous
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole parser: global options and every command of :data:`commands.COMMANDS`."""
    from .commands import COMMANDS

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Drive an Orthanc DICOM server from the terminal.",
        epilog=EPILOG,
        parents=[_global_options(defaults=True)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("kkorthanc")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kkorthanc`` command line and return its exit status.

    Args:
        argv: The arguments, without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status (see ``kkorthanc --help``).

    Raises:
        SystemExit: Only for ``--help`` and ``--version`` (status 0).

    Example:
        >>> main(["--output", "json", "system"])  # doctest: +SKIP
        0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if getattr(args, "debug", False):
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    context = Context(args)
    try:
        return int(args.handler(context))
    except KeyboardInterrupt:
        context.stderr.write("\nkkorthanc: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError as error:
        if not _output_closed():
            return _fail(context, error)  # a socket or a file of ours, not our reader
        _drop_stdout()  # `kkorthanc ls | head -1`: the reader has what it wanted
        return EXIT_OK
    except (errors.OrthancError, OSError) as error:
        return _fail(context, error)
    finally:
        context.close()


def _output_closed() -> bool:
    """Whether the reader of stdout or stderr went away (a pipe without reader polls POLLERR)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            descriptor = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        if not hasattr(select, "poll"):  # pragma: no cover - Windows
            return True
        poller = select.poll()
        poller.register(descriptor, 0)  # POLLERR and POLLHUP are always reported
        if any(events & select.POLLERR for _, events in poller.poll(0)):
            return True
    return False


def _drop_stdout() -> None:
    """The reader of our output is gone: end quietly, as Unix tools do. Later writes (Python's
    own flush at exit included) go to the null device instead of failing again."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's capture): nothing is flushed at exit
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)


def _fail(context: Context, error: BaseException) -> int:
    status, message = explain(error)
    if context.option("debug"):
        traceback.print_exception(type(error), error, error.__traceback__, file=context.stderr)
    context.stderr.write(f"kkorthanc: {message}\n")
    return status


def explain(error: BaseException) -> tuple[int, str]:
    """The exit status and the one-line message (cause and fix) of an exception.

    Example:
        >>> explain(errors.OrthancInputError("bad level"))
        (2, 'bad level')
    """
    if isinstance(error, errors.OrthancHTTPError):
        return _explain_http(error)
    if isinstance(error, errors.OrthancTLSError):
        return EXIT_CONNECTION, f"{error}; trust its certificate with --ca FILE (or --insecure)"
    if isinstance(error, errors.OrthancTimeoutError):
        return EXIT_CONNECTION, f"{error}; allow more time with --timeout SECONDS"
    if isinstance(error, errors.OrthancConnectionError):
        return EXIT_CONNECTION, (
            f"{error} Start one with `kkorthanc server start`, or point to it with --url, "
            f"ORTHANC_URL or --profile"
        )
    if isinstance(error, errors.OrthancInputError):
        return EXIT_USAGE, str(error)
    if isinstance(error, errors.TransferTargetError):
        return EXIT_FILE, str(error)
    if isinstance(error, LauncherError):
        return EXIT_LOCAL_SERVER, str(error)
    if isinstance(error, OSError):
        return EXIT_FILE, f"{error.strerror or error}: {error.filename or ''}".rstrip(": ")
    return EXIT_SERVER, str(error)


def _explain_http(error: errors.OrthancHTTPError) -> tuple[int, str]:
    if isinstance(error, errors.UnauthorizedError):
        cause = str(error).replace(f". {error.hint}", "") if error.hint else str(error)
        return EXIT_AUTH, (
            f"{cause}; give credentials with --user and --password-stdin, "
            f"ORTHANC_USERNAME/ORTHANC_PASSWORD, or --profile"
        )
    if isinstance(error, errors.ForbiddenError):
        return EXIT_AUTH, f"{error}; the server's configuration forbids this"
    if isinstance(error, errors.NotFoundError):
        return EXIT_NOT_FOUND, f"{error}; check the ID (`kkorthanc lookup` finds DICOM UIDs)"
    return EXIT_SERVER, str(error)
