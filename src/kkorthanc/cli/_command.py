"""What every command module builds on: the exit statuses, the handler type, ``add_command``.

Command modules (``commands/*.py``) import from here, and ``_app.py`` imports them: the
parser is built from the bottom up, never through an import back into ``_app``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

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
    "global_options",
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


def global_options(defaults: bool, connects: bool = True) -> argparse.ArgumentParser:
    """The global options, accepted before and after the command name (only the output ones
    for commands that do not connect to a server).

    Args:
        defaults: True for the top-level parser (it sets the defaults); False for a command's
            copy, which leaves an option unset so that a value given before the command stays.
        connects: False for commands that talk to no server.

    Raises:
        Nothing.

    Example:
        >>> global_options(defaults=True).parse_args(["-q"]).quiet
        True
    """
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


_COMMON = global_options(defaults=False)
_COMMON_LOCAL = global_options(defaults=False, connects=False)


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
