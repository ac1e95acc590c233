"""The parser, and the one place that turns exceptions into exit statuses.

It imports every command module (``commands.COMMANDS``); they build on ``_command.py``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import select
import sys
import traceback
from collections.abc import Sequence
from urllib.parse import urlsplit

from .. import errors
from .._core.protocol import speaks_plain_http
from ._command import (
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_FILE,
    EXIT_INTERRUPTED,
    EXIT_LOCAL_SERVER,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_SERVER,
    EXIT_USAGE,
    global_options,
)
from ._context import Context
from .commands import COMMANDS

__all__ = ["build_parser", "explain", "main"]

PROG = "kkorthanc"

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


def build_parser() -> argparse.ArgumentParser:
    """The whole parser: global options and every command of :data:`commands.COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Drive an Orthanc DICOM server from the terminal.",
        epilog=EPILOG,
        parents=[global_options(defaults=True)],
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
    status, message = explain(
        error,
        base_url=context.server_url or "",
        wrong_base=isinstance(error, errors.NotFoundError) and not _answers_system(context),
        unused_credentials=_unused_credentials(context),
    )
    if context.option("debug"):
        traceback.print_exception(type(error), error, error.__traceback__, file=context.stderr)
    context.stderr.write(f"kkorthanc: {message}\n")
    return status


def _answers_system(context: Context) -> bool:
    """Whether the base URL answers ``GET system`` as every Orthanc does (asked after a 404, to
    tell a wrong path prefix from an unknown ID or name)."""
    if context.server_url is None:
        return True
    try:
        context.client().get("system")
    except errors.NotFoundError:
        return False
    except errors.OrthancError:
        return True  # another failure says nothing about the prefix: keep the route's hint
    return True


_ENV_CREDENTIALS = ("ORTHANC_USERNAME", "ORTHANC_TOKEN", "ORTHANC_TOKEN_FILE")


def _unused_credentials(context: Context) -> str:
    """The credential variables that are set but were not used because ``--url`` was given
    (credentials from the environment go only to the server of ORTHANC_URL)."""
    own = ("user", "token", "token_file", "password_stdin", "password_file")
    if not context.option("url") or any(context.option(name) for name in own):
        return ""
    return "/".join(name for name in _ENV_CREDENTIALS if os.environ.get(name))


def explain(
    error: BaseException,
    *,
    base_url: str = "",
    wrong_base: bool = False,
    unused_credentials: str = "",
) -> tuple[int, str]:
    """The exit status and the one-line message (cause and fix) of an exception.

    Args:
        error: What went wrong.
        base_url: The server's base URL, to read a 404's route relative to it.
        wrong_base: The base URL does not answer ``GET system``: a 404 means a wrong prefix.
        unused_credentials: Credential variables set but not used (``--url`` was given).

    Example:
        >>> explain(errors.OrthancInputError("bad level"))
        (2, 'bad level')
    """
    if isinstance(error, errors.OrthancHTTPError):
        return _explain_http(error, base_url, wrong_base, unused_credentials)
    if isinstance(error, errors.OrthancTLSError):
        return EXIT_CONNECTION, _explain_tls(error)
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
    if isinstance(error, errors.LauncherError):
        return EXIT_LOCAL_SERVER, str(error)
    if isinstance(error, OSError):
        return EXIT_FILE, f"{error.strerror or error}: {error.filename or ''}".rstrip(": ")
    return EXIT_SERVER, str(error)


def _explain_tls(error: errors.OrthancTLSError) -> str:
    """The TLS failure with the command line's fix (the library's names ``verify=``)."""
    cause = error.__cause__ or error
    where = f"{error.method} {error.url}"
    if speaks_plain_http(cause):
        return (
            f"{where}: the server answers plain HTTP at this address, not HTTPS ({cause}); "
            f"use an http:// URL (--url, ORTHANC_URL or the profile)"
        )
    return (
        f"{where} failed the TLS handshake ({cause}); trust the server's CA with --ca FILE "
        f"(or, for a throw-away test server, --insecure)"
    )


def _explain_http(
    error: errors.OrthancHTTPError, base_url: str, wrong_base: bool, unused_credentials: str
) -> tuple[int, str]:
    if isinstance(error, errors.UnauthorizedError):
        cause = str(error).replace(f". {error.hint}", "") if error.hint else str(error)
        if unused_credentials:
            return EXIT_AUTH, (
                f"{cause}; {unused_credentials} is set but was not used: credentials from the "
                f"environment go only to the server of ORTHANC_URL, and --url named this one. "
                f"Give them with --user and --password-stdin/--password-file (or --token-file), "
                f"or set ORTHANC_URL instead of --url"
            )
        return EXIT_AUTH, (
            f"{cause}; give credentials with --user and --password-stdin, "
            f"ORTHANC_USERNAME/ORTHANC_PASSWORD, or --profile"
        )
    if isinstance(error, errors.ForbiddenError):
        return EXIT_AUTH, f"{error}; the server's configuration forbids this"
    if isinstance(error, errors.NotFoundError):
        hint = (
            _WRONG_BASE.format(url=base_url, route="GET system")
            if wrong_base
            else _not_found_hint(error.url, base_url)
        )
        return EXIT_NOT_FOUND, f"{error}; {hint}"
    return EXIT_SERVER, str(error)


_RESOURCES = frozenset({"patients", "studies", "series", "instances"})
# Routes every Orthanc answers: a 404 on one of them means the URL is not Orthanc's base URL.
_ALWAYS_THERE = frozenset(
    {"system", "statistics", "tools", "changes", "plugins", "exports", "queries", *_RESOURCES}
)
_WRONG_BASE = (
    "{url} does not answer {route} as every Orthanc does, so it is not the server's base URL: "
    "check its path prefix (--url, ORTHANC_URL or the profile), e.g. http://host:8042/ or "
    "https://host/orthanc/"
)


def _not_found_hint(url: str, base_url: str) -> str:
    """What a 404 on ``url`` most likely means, from the route (relative to ``base_url``)."""
    path = urlsplit(url).path
    prefix = urlsplit(base_url).path if base_url else "/"
    segments = [part for part in path[len(prefix) :].split("/") if part]
    first = segments[0] if segments and path.startswith(prefix) else ""
    if first == "modalities":
        return "check the name: `kkorthanc modality ls` lists the modalities the server knows"
    if first == "peers":
        return "check the name: `kkorthanc peer ls` lists the peers the server knows"
    if first == "jobs":
        return "check the ID: `kkorthanc jobs` lists the jobs the server still keeps"
    if first in _RESOURCES and len(segments) > 1:
        return "check the ID (`kkorthanc lookup` finds DICOM UIDs)"
    if first in _ALWAYS_THERE or not first:
        return _WRONG_BASE.format(url=base_url or "the URL", route="this route")
    return (
        "the server has no such route (when every command answers 404, check the URL's path "
        "prefix: --url, ORTHANC_URL or the profile)"
    )
